//! An [`Output`] that never aborts the process: a `Vec<u8>` grown with `try_reserve`.
//! Once the allocator refuses it, later writes are dropped and [`FallibleVec::into_vec`]
//! fails with [`EncodeError::OutOfMemory`]; the encoder goes on to the end of the
//! value without writing (its positions and frame patches stay within what was kept).
//! [`crate::encode_tree`] writes into one, so C and Node programs get an error code
//! for a stream they have no memory for.

use alloc::vec::Vec;
use core::ops::Range;

use super::output::Output;
use crate::error::EncodeError;

/// See the module docs.
#[derive(Debug, Default)]
pub struct FallibleVec {
    buf: Vec<u8>,
    /// The size the stream had reached when growth was refused.
    refused_at: Option<usize>,
}

impl FallibleVec {
    /// An empty buffer with room for `capacity` bytes, or less when refused (the room
    /// is a hint).
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::new();
        let _ = buf.try_reserve_exact(capacity);
        FallibleVec {
            buf,
            refused_at: None,
        }
    }

    /// The stream, or the refusal.
    pub fn into_vec(self) -> Result<Vec<u8>, EncodeError> {
        match self.refused_at {
            None => Ok(self.buf),
            Some(n) => Err(EncodeError::OutOfMemory(n)),
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, additional: usize) -> bool {
        if self.refused_at.is_some() {
            return false;
        }
        if self.buf.try_reserve(additional).is_ok() {
            return true;
        }
        self.refused_at = Some(self.buf.len().saturating_add(additional));
        false
    }
}

impl Output for FallibleVec {
    #[inline]
    fn len(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    fn extend_from_slice(&mut self, data: &[u8]) {
        if self.buf.capacity() - self.buf.len() >= data.len() || self.grow(data.len()) {
            self.buf.extend_from_slice(data);
        }
    }

    #[inline]
    fn reserve(&mut self, additional: usize) {
        if self.buf.capacity() - self.buf.len() < additional {
            self.grow(additional);
        }
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        self.buf.truncate(len)
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    #[inline]
    fn remove(&mut self, range: Range<usize>) {
        // After a refusal the range may lie past what was kept.
        let end = range.end.min(self.buf.len());
        if range.start < end {
            self.buf.drain(range.start..end);
        }
    }
}
