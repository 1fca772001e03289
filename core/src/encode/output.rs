//! Where the [`Encoder`](super::Encoder) writes: a `Vec<u8>` by default, or a buffer of
//! the host's own, such as the Python binding's, which becomes the `bytes` object
//! `dumps` returns once a stream is big, so that each byte is written once, in place,
//! as `_pickle.c` writes into its output object. The encoder only appends, patches
//! frame headers it wrote and cuts bytes off or out; a host's buffer must keep what was
//! written when it grows.

use alloc::vec::Vec;
use core::ops::Range;

/// A growable byte buffer the encoder writes a stream into.
pub trait Output: Default {
    /// Bytes written.
    fn len(&self) -> usize;

    /// True when nothing is written.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `data`, growing as needed.
    fn extend_from_slice(&mut self, data: &[u8]);

    /// Makes room for `additional` more bytes without growing again.
    fn reserve(&mut self, additional: usize);

    /// Keeps the first `len` bytes.
    fn truncate(&mut self, len: usize);

    /// Everything written.
    fn as_slice(&self) -> &[u8];

    /// Everything written, to patch in place.
    fn as_mut_slice(&mut self) -> &mut [u8];

    /// Removes the bytes of `range`, moving those after it back.
    fn remove(&mut self, range: Range<usize>);
}

impl Output for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }

    #[inline]
    fn extend_from_slice(&mut self, data: &[u8]) {
        Vec::extend_from_slice(self, data)
    }

    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len)
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        self
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        self
    }

    #[inline]
    fn remove(&mut self, range: Range<usize>) {
        self.drain(range);
    }
}
