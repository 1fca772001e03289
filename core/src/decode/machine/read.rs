//! How the machine reads an opcode's argument (bytes, fixed-width ints, lengths checked
//! against the input, lines) and charges what it allocates to the allocation limit;
//! errors carry the offset of the opcode being executed. Not for what the opcodes do.

use super::{Builder, Machine, R};
use crate::error::{DecodeError, DecodeErrorKind as K};

impl<'a, B: Builder> Machine<'a, '_, B> {
    // ---- errors and accounting ----

    #[cold]
    pub(super) fn fail(&self, kind: K) -> DecodeError {
        DecodeError::new(kind, self.op)
    }

    #[cold]
    pub(super) fn bad(&self, msg: &str) -> DecodeError {
        self.fail(K::BadArgument(msg.into()))
    }

    #[inline]
    pub(super) fn charge(&mut self, bytes: usize) -> R<()> {
        self.charged = self.charged.saturating_add(bytes);
        if self.charged > self.opts.limits.max_alloc {
            return Err(self.fail(K::AllocLimit(bytes)));
        }
        Ok(())
    }

    // ---- reading arguments ----

    #[inline]
    pub(super) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        crate::cursor::take(self.data, &mut self.pos, n).ok_or_else(|| self.fail(K::Truncated))
    }

    #[inline]
    pub(super) fn byte(&mut self) -> R<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.fail(K::Truncated)),
        }
    }

    #[inline]
    pub(super) fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A 4-byte signed length (`BINSTRING`, `LONG4`): negative is an error.
    pub(super) fn signed_len(&mut self) -> R<u64> {
        let n = i32::from_le_bytes(self.array::<4>()?);
        u64::try_from(n).map_err(|_| self.fail(K::BadLength))
    }

    /// `n` payload bytes: checked against the input before anything is allocated, then
    /// charged to the allocation limit.
    #[inline]
    pub(super) fn counted(&mut self, n: u64) -> R<&'a [u8]> {
        if n > (self.data.len() - self.pos) as u64 {
            return Err(self.fail(K::Truncated));
        }
        let n = n as usize;
        self.charge(n)?;
        self.take(n)
    }

    /// The bytes up to the next newline, which is consumed but not returned.
    pub(super) fn line(&mut self) -> R<&'a [u8]> {
        crate::cursor::line(self.data, &mut self.pos).ok_or_else(|| self.fail(K::Truncated))
    }

    /// A module or global name line (`GLOBAL`, `INST`), UTF-8 as `_pickle.c` decodes it.
    pub(super) fn name_line(&mut self) -> R<&'a str> {
        let line = self.line()?;
        core::str::from_utf8(line).map_err(|_| self.fail(K::BadUtf8))
    }
}
