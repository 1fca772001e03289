//! The JSON text being written, grown fallibly: memory the allocator refuses for it
//! (the base64 of a big `bytes` near the process's memory cap) drops later writes and
//! fails the conversion with [`JsonErrorKind::OutOfMemory`] at the writer's next
//! length check, instead of aborting the host program.

use alloc::string::String;
use core::fmt;

use super::{JsonError, JsonErrorKind};

/// See the module docs. Has the few `String` methods the writer uses.
pub(super) struct TextOut {
    s: String,
    refused: bool,
}

impl TextOut {
    /// Empty, with room for `n` bytes when the allocator grants it (a hint).
    pub(super) fn with_capacity(n: usize) -> Self {
        let mut s = String::new();
        let _ = s.try_reserve_exact(n);
        TextOut { s, refused: false }
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.s.len()
    }

    /// Whether a write was dropped for want of memory.
    #[inline]
    pub(super) fn refused(&self) -> bool {
        self.refused
    }

    #[inline]
    pub(super) fn push(&mut self, c: char) {
        if self.room(c.len_utf8()) {
            self.s.push(c);
        }
    }

    #[inline]
    pub(super) fn push_str(&mut self, t: &str) {
        if self.room(t.len()) {
            self.s.push_str(t);
        }
    }

    #[inline]
    pub(super) fn reserve(&mut self, n: usize) {
        self.room(n);
    }

    /// The text, or the refusal.
    pub(super) fn into_string(self) -> Result<String, JsonError> {
        if self.refused {
            return Err(JsonErrorKind::OutOfMemory.into());
        }
        Ok(self.s)
    }

    #[inline(always)]
    fn room(&mut self, n: usize) -> bool {
        self.s.capacity() - self.s.len() >= n || self.grow(n)
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) -> bool {
        if !self.refused && self.s.try_reserve(n).is_ok() {
            return true;
        }
        self.refused = true;
        false
    }
}

impl fmt::Write for TextOut {
    fn write_str(&mut self, t: &str) -> fmt::Result {
        self.push_str(t);
        Ok(())
    }
}
