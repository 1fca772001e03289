//! The binary int opcodes' fast path (`BININT1`, `BININT2`, `BININT`): a run of them,
//! which is most of a list of ints, is decoded without going back through the opcode
//! dispatch; and the values of the text ints of protocol 0 (`INT`, `LONG`). Not for
//! `LONG1`/`LONG4` (see [`super::build`]).

use super::{Builder, Machine, NODE_COST, R};
use crate::opcode::*;
use crate::value::Value;

/// Argument length of each binary int opcode (`BININT1`, `BININT2`, `BININT`); 0 for
/// every other opcode.
pub(super) const INT_ARG_LEN: [u32; 256] = {
    let mut t = [0; 256];
    t[BININT1 as usize] = 1;
    t[BININT2 as usize] = 2;
    t[BININT as usize] = 4;
    t
};

impl<B: Builder> Machine<'_, '_, B> {
    /// After a binary int: [`Machine::int_run`] when another one follows.
    #[inline(always)]
    pub(super) fn more_ints(&mut self) -> R<()> {
        match self.data.get(self.pos) {
            Some(&code) if INT_ARG_LEN[code as usize] != 0 => self.int_run(),
            _ => Ok(()),
        }
    }

    /// Decodes the `BININT1`/`BININT2`/`BININT` opcodes that follow (a list of ints is
    /// little else) without going back through the dispatch, each read without a
    /// branch on its opcode. Stops before any other opcode, within 5 bytes of the end,
    /// before an opcode that would end past the current frame, and where the
    /// allocation limit would be reached: the general path then decodes
    /// (or rejects) what follows, so results and errors are those of one opcode at a
    /// time. Kept out of line: inlined at its three call sites, it slowed the whole
    /// opcode loop (register pressure) more than it saved.
    #[inline(never)]
    pub(super) fn int_run(&mut self) -> R<()> {
        // `charged` never exceeds `max_alloc`: `charge` stops the machine first.
        let budget = self.opts.limits.max_alloc.saturating_sub(self.charged) / NODE_COST;
        let data = self.data;
        // Inside a frame, stop before an opcode that would end past it: the opcode
        // loop ends the frame there, or refuses the opcode that crosses it.
        let frame_end = if self.frame_end == 0 {
            usize::MAX
        } else {
            self.frame_end
        };
        let mut pos = self.pos;
        let mut count = 0;
        let mut refused = false;
        while count < budget {
            let Some(&[code, a, b, c, d]) = data.get(pos..pos + 5) else {
                break;
            };
            let len = INT_ARG_LEN[code as usize];
            if len == 0 || pos + 1 + len as usize > frame_end {
                break;
            }
            // The argument's `len` bytes, little-endian; only BININT's 4 are signed.
            let v = u32::from_le_bytes([a, b, c, d]) & (u32::MAX >> (32 - 8 * len));
            if !crate::try_alloc::room(&mut self.stack, 1) {
                refused = true;
                break;
            }
            let h = self.b.int(v as i32 as i64);
            self.stack.push(h);
            pos += 1 + len as usize;
            count += 1;
        }
        self.pos = pos;
        self.charged += count * NODE_COST;
        if refused {
            // At the int that found no room, as the general path would report it.
            self.op = pos;
            return Err(self.fail(crate::error::DecodeErrorKind::OutOfMemory));
        }
        Ok(())
    }

    /// Pushes an `INT`/`LONG` line's value.
    pub(super) fn push_int(&mut self, v: Value) -> R<()> {
        match v {
            Value::Bool(b) => self.push(|t| t.bool(b)),
            Value::BigInt(le) => self.push(|t| t.big_int(&le)),
            Value::Int(i) => self.push(|t| t.int(i)),
            _ => Err(self.bad("not an int")),
        }
    }
}
