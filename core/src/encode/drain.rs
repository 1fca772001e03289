//! Taking the stream out as it is written, the open frame included, for a host whose
//! output it can still change until the dump ends (a buffer nobody has seen yet).
//!
//! [`Encoder::committed_parts`] gives only whole frames: a frame's header holds its
//! length, known when the frame closes, so the bytes of an open frame stay in the
//! encoder's buffer, with the payloads left out of it (see [`super::splice`]) waiting
//! to be copied, up to 64 KiB at a time. Copying each payload while its object is the
//! one just written (as `_pickle.c` does) instead of in a burst when the frame closes
//! ran 1.4-1.7x faster for payloads of a few hundred bytes: the source is read in one
//! stream, just after the walk touched its first line.
//!
//! [`Encoder::drained`] gives everything written so far; once the host has copied it,
//! [`Encoder::discard_drained`] empties the buffer. When the open frame's header was
//! taken, the encoder remembers where it went, and when that frame closes it leaves the
//! host a [`FrameFix`]: the header to write there, or, for a frame too short to carry
//! one (as `_pickle.c` drops it), the header's bytes to remove. The host applies the
//! fixes, in order, before it appends what it takes next; those of the last frame come
//! due when the stream ends ([`Encoder::take_fixes`]).

use alloc::vec::Vec;

use super::{Encoder, Splice};
use crate::opcode::{FRAME, FRAME_HEADER_SIZE, FRAME_SIZE_MIN};

/// What a host that took an open frame's header does once the frame closes. `at` is
/// the header's offset in the stream the host holds (fixes already applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFix {
    /// Overwrite the [`FRAME_HEADER_SIZE`] bytes at `at` with `header`.
    Write {
        at: usize,
        header: [u8; FRAME_HEADER_SIZE],
    },
    /// Remove the [`FRAME_HEADER_SIZE`] bytes at `at`, moving what follows them back.
    Remove { at: usize },
}

impl FrameFix {
    /// Applies the fix to `out`, the stream so far; `false` (and `out` untouched) when
    /// the header does not lie inside `out` (a host bug, reported rather than panicking).
    pub fn apply(&self, out: &mut Vec<u8>) -> bool {
        match *self {
            FrameFix::Write { at, header } => match out.get_mut(at..at + FRAME_HEADER_SIZE) {
                Some(dst) => {
                    dst.copy_from_slice(&header);
                    true
                }
                None => false,
            },
            FrameFix::Remove { at } => {
                if at + FRAME_HEADER_SIZE > out.len() {
                    return false;
                }
                out.drain(at..at + FRAME_HEADER_SIZE);
                true
            }
        }
    }
}

/// Everything the encoder holds that a host may take (see the module docs): apply
/// `fixes` in order, then append `buf` with the payloads of `splices` spliced in.
#[derive(Debug)]
pub struct Drained<'a> {
    pub fixes: &'a [FrameFix],
    pub buf: &'a [u8],
    pub splices: &'a [Splice],
}

/// The fix for a frame of `len` bytes whose header the host holds at `at`.
pub(super) fn fix(at: usize, len: usize) -> FrameFix {
    if len >= FRAME_SIZE_MIN {
        let mut header = [FRAME; FRAME_HEADER_SIZE];
        header[1..].copy_from_slice(&(len as u64).to_le_bytes());
        FrameFix::Write { at, header }
    } else {
        FrameFix::Remove { at }
    }
}

impl Encoder {
    /// Everything written and not yet taken, the open frame included, with the fixes
    /// due to headers taken earlier. Copy it all, then call
    /// [`Encoder::discard_drained`]. A host that streams to where bytes cannot be
    /// changed (a file) uses [`Encoder::committed_parts`] instead.
    pub fn drained(&self) -> Drained<'_> {
        Drained {
            fixes: &self.fixes,
            buf: &self.buf,
            splices: &self.splices,
        }
    }

    /// The fixes due so far, taken out: for a host that ends the stream with
    /// [`Encoder::finish_parts_in_place`] after taking parts of it with
    /// [`Encoder::drained`] (the last frame's fix comes due as the stream ends).
    pub fn take_fixes(&mut self) -> Vec<FrameFix> {
        core::mem::take(&mut self.fixes)
    }

    /// Drops what [`Encoder::drained`] returned, remembering where the open frame's
    /// header went if it was among it.
    pub fn discard_drained(&mut self) {
        if let Some(start) = self.frame_start {
            if self.frame_header_taken.is_none() {
                let before = super::splice::count_at_or_before(&self.splices, start);
                let deferred_before: usize = self.splices[..before].iter().map(|s| s.len).sum();
                self.frame_header_taken = Some(self.taken + start + deferred_before);
            }
            // The frame's length stays `buf.len() + frame_deferred + frame_taken - start
            // - FRAME_HEADER_SIZE` with the buffer emptied and the frame restarted at 0.
            self.frame_taken += self.buf.len() - start + self.frame_deferred;
            self.frame_deferred = 0;
            self.frame_start = Some(0);
        }
        self.taken += self.buf.len() + self.deferred_len;
        self.buf.clear();
        self.splices.clear();
        self.deferred_len = 0;
        self.fixes.clear();
    }
}
