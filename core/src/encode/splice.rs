//! Large payloads the encoder leaves out of its buffer for the host to splice in.
//!
//! A dump of big `bytes`/`str` objects would otherwise copy every payload twice: into the
//! encoder's buffer, then from there into the host's final output object. With
//! [`Encoder::defer_payloads`](super::Encoder::defer_payloads) on, a payload at least that
//! long is written as its opcode header only and noted as a [`Splice`]: the host, which
//! still holds the payload's owner, copies it straight into the final output (or hands it
//! to a file as is), once. A payload left out inside a frame still counts in that
//! frame's length, so the frames are the ones the copied payload would have given.
//! A host that moves its stream to where it will stay puts the payloads back in, once,
//! with [`Encoder::splice_in`].

use alloc::vec::Vec;

use super::{Encoder, Output};

/// The smallest payload ever left out: below this, the bookkeeping of a splice and the
/// extra piece to copy cost more than the copy they save, even for a host that would
/// otherwise copy the whole stream once more. A host that puts the stream together once
/// at the end, from a buffer still in cache, gains from deferring only payloads of a few
/// KiB (the Python binding asks for 2 KiB, until the stream moves into its `bytes`
/// object past 256 KiB and nothing is left out any more: [`Encoder::splice_in`]).
pub const MIN_DEFERRED: usize = 256;

/// One payload left out: it belongs at byte `at` of the encoder's buffer (before the
/// bytes written from there on) and is `len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub len: usize,
}

/// The length of the whole stream: `buf` plus every spliced payload.
pub fn total_len(buf: &[u8], splices: &[Splice]) -> usize {
    buf.len() + splices.iter().map(|s| s.len).sum::<usize>()
}

/// Hands the whole stream to `f` piece by piece, in order: `buf` with `payloads[i]` (the
/// i-th deferred payload, `splices[i].len` bytes) inserted at `splices[i].at`; the pieces
/// add up to [`total_len`]. Returns `false` without calling `f` when the parts do not fit
/// together (a host bug, reported rather than panicking).
#[must_use]
pub fn for_each_piece<P: AsRef<[u8]>>(
    buf: &[u8],
    splices: &[Splice],
    payloads: &[P],
    mut f: impl FnMut(&[u8]),
) -> bool {
    let mut from = 0;
    let fits = splices.len() == payloads.len()
        && splices.iter().zip(payloads).all(|(s, p)| {
            let ok = s.at >= from && s.at <= buf.len() && p.as_ref().len() == s.len;
            from = s.at;
            ok
        });
    if !fits {
        return false;
    }
    let mut from = 0;
    for (s, p) in splices.iter().zip(payloads) {
        if s.at > from {
            f(&buf[from..s.at]);
        }
        super::payload::for_each_piece(p.as_ref(), &mut f);
        from = s.at;
    }
    if from < buf.len() {
        f(&buf[from..]);
    }
    true
}

/// The whole stream in one vector (see [`for_each_piece`]); `None` when the parts do not
/// fit together.
pub fn assemble(buf: &[u8], splices: &[Splice], payloads: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(total_len(buf, splices));
    for_each_piece(buf, splices, payloads, |p| out.extend_from_slice(p)).then_some(out)
}

/// How many of `list` (in stream order) stand at or before `cut`: the splices of the
/// buffer's first `cut` bytes.
pub(super) fn count_at_or_before(list: &[Splice], cut: usize) -> usize {
    list.iter().position(|s| s.at > cut).unwrap_or(list.len())
}

impl<O: Output> Encoder<O> {
    /// Puts every payload left out back into the buffer and leaves none out from then
    /// on: for a host that moves its stream into a buffer it will hand out as it is (the
    /// Python binding's `bytes` object, once a stream is big). `fill` gets the buffer and
    /// the splices and must make the buffer the stream with their payloads spliced in
    /// ([`for_each_piece`]); the encoder then moves its own positions (the open frame's
    /// start) past them. When `fill` fails the encoder is left as it was.
    pub fn splice_in<E>(
        &mut self,
        fill: impl FnOnce(&mut O, &[Splice]) -> Result<(), E>,
    ) -> Result<(), E> {
        fill(&mut self.buf, &self.splices)?;
        if let Some(start) = self.frame_start.as_mut() {
            let before = count_at_or_before(&self.splices, *start);
            *start += self.splices[..before].iter().map(|s| s.len).sum::<usize>();
        }
        self.frame_deferred = 0;
        self.deferred_len = 0;
        self.splices.clear();
        self.defer_min = usize::MAX;
        Ok(())
    }
}
