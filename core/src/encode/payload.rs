//! Appending a large str/bytes payload to the output buffer (or handing it out in the
//! same pieces, for a payload spliced into a host's output).
//!
//! A plain `extend_from_slice` of a few KiB or more ends up in glibc's `rep movsb` copy,
//! whose speed depends on where the source and destination fall relative to each other:
//! measured here, 32 KiB copies ran at 17-21 GB/s or 35-37 GB/s depending only on the
//! address difference, so the same dump took 131 µs or 193 µs depending on how an earlier
//! allocation happened to shift the heap. Copying in 2 KiB pieces keeps to the vector-loop
//! copy, which runs at 29-37 GB/s whatever the alignment. Above a few MiB the plain copy
//! is kept: glibc switches to non-temporal stores there, which chunking would defeat.

/// Payloads at least this long are copied in pieces.
const CHUNKED_MIN: usize = 4 * 1024;
/// Payloads at least this long are copied in one piece again.
const CHUNKED_MAX: usize = 4 * 1024 * 1024;
/// The piece size: under glibc's `rep movsb` threshold (4 KiB with AVX2).
const PIECE: usize = 2 * 1024;

/// Appends `data` to `buf`.
#[inline]
pub(super) fn extend<O: super::Output>(buf: &mut O, data: &[u8]) {
    if data.len() < CHUNKED_MIN || data.len() >= CHUNKED_MAX {
        buf.extend_from_slice(data);
        return;
    }
    buf.reserve(data.len());
    for piece in data.chunks(PIECE) {
        buf.extend_from_slice(piece);
    }
}

/// Hands `data` to `f` in the pieces [`extend`] would copy it in, for a host that
/// copies a payload into its own output.
#[inline]
pub(super) fn for_each_piece(data: &[u8], f: &mut impl FnMut(&[u8])) {
    if data.len() < CHUNKED_MIN || data.len() >= CHUNKED_MAX {
        f(data);
        return;
    }
    for piece in data.chunks(PIECE) {
        f(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn appends_every_byte_in_order_around_the_thresholds() {
        for len in [
            0,
            1,
            PIECE - 1,
            PIECE,
            PIECE + 1,
            CHUNKED_MIN - 1,
            CHUNKED_MIN,
            10_007,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let mut buf = alloc::vec![0xAB, 0xCD];
            extend(&mut buf, &data);
            assert_eq!(buf.len(), len + 2, "len {len}");
            assert_eq!(&buf[..2], &[0xAB, 0xCD]);
            assert_eq!(&buf[2..], &data[..], "len {len}");
            let mut pieces = Vec::new();
            for_each_piece(&data, &mut |p| pieces.extend_from_slice(p));
            assert_eq!(pieces, data, "pieces, len {len}");
        }
    }
}
