//! Frames as CPython's file unpickler reads them. `pickle.load(file)` reads each
//! `FRAME` into a buffer and reads an opcode that runs past the frame's end from after
//! the frame, dropping the rest of the frame, so a stream whose frame and opcode
//! boundaries disagree runs opcodes this walk (and `pickle.loads`) never sees: such a
//! stream is `dangerous`, and the walk stops there. Not for the opcodes themselves
//! (see [`super::machine`]).

use super::machine::{Walker, R};
use super::{Finding, Severity, Target};
use crate::error::DecodeErrorKind as K;

impl Walker<'_> {
    /// At an opcode boundary: leaves the frame that ends here, and stops the walk when
    /// the last opcode ran past its frame's end.
    pub(super) fn frame_boundary(&mut self) -> R<()> {
        if self.frame_end != 0 && self.pos >= self.frame_end {
            if self.pos > self.frame_end {
                self.out.calls.push(Finding {
                    offset: self.op,
                    opcode: "FRAME",
                    target: Target::Frame,
                    severity: Severity::Dangerous,
                    reason: "an opcode runs across its frame's end: pickle.load(file) \
                             runs opcodes this scan does not see",
                });
                return Err(self.fail(K::FrameCrossed));
            }
            self.frame_end = 0;
        }
        Ok(())
    }

    /// `FRAME`: a frame inside another is `dangerous` (the file unpickler reads a
    /// different stream); a length past the stream's end is no frame at all, as
    /// `pickle.loads` reads it.
    pub(super) fn frame(&mut self) -> R<()> {
        let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap_or([0; 8]));
        if self.frame_end != 0 {
            self.out.calls.push(Finding {
                offset: self.op,
                opcode: "FRAME",
                target: Target::Frame,
                severity: Severity::Dangerous,
                reason: "a frame starts inside another: pickle.load(file) reads \
                         a different stream",
            });
            return Err(self.fail(K::FrameCrossed));
        }
        let left = (self.data.len() - self.pos) as u64;
        self.frame_end = if n == 0 || n > left {
            0
        } else {
            self.pos + n as usize
        };
        Ok(())
    }
}
