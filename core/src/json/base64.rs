//! Standard base64 with padding, for the `$bytes`, `$bytearray` and `$wtf8` forms: a
//! table-driven encoder (six input bytes per step) and a plain decoder. Not a general
//! base64 library: no other alphabet, no line breaks.

use alloc::vec::Vec;

/// The standard base64 alphabet.
pub(super) const B64: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two base64 characters of each 12-bit group, so three input bytes take two
/// lookups and no branch.
static B64_PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [B64[i >> 6], B64[i & 63]];
        i += 1;
    }
    t
};

/// Bytes of base64 text made at a time: encoded into a buffer on the stack that stays
/// in the L1 cache, then appended, so the text is written to `out`'s memory once (a
/// whole-length scratch buffer cost a zeroing pass, a second pass over cold memory and
/// its page faults).
const CHUNK: usize = 4096;

/// Standard base64 with padding, appended to `out`.
pub(super) fn base64_encode(out: &mut super::text_out::TextOut, data: &[u8]) {
    out.reserve(data.len().div_ceil(3) * 4);
    let mut buf = [0u8; CHUNK];
    // Whole input groups per chunk: CHUNK / 4 groups of 3 bytes.
    for part in data.chunks(CHUNK / 4 * 3) {
        let n = encode_part(&mut buf, part);
        out.push_str(core::str::from_utf8(&buf[..n]).expect("base64 is ascii"));
    }
}

/// Encodes `data` (at most `dst.len() / 4 * 3` bytes) into the start of `dst`, padded,
/// and returns the length written.
fn encode_part(dst: &mut [u8], data: &[u8]) -> usize {
    let whole = data.len() / 3;
    // Six bytes (two groups of three) at a time from one 8-byte load, written as one
    // 8-byte store; the last few whole groups one at a time.
    let mut i = 0;
    let mut o = 0;
    while i + 8 <= data.len() {
        let w = u64::from_be_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        let pairs = [
            B64_PAIRS[(w >> 52) as usize & 0xfff],
            B64_PAIRS[(w >> 40) as usize & 0xfff],
            B64_PAIRS[(w >> 28) as usize & 0xfff],
            B64_PAIRS[(w >> 16) as usize & 0xfff],
        ];
        dst[o..o + 8].copy_from_slice(pairs.as_flattened());
        i += 6;
        o += 8;
    }
    for (src, dst) in data[i..whole * 3]
        .chunks_exact(3)
        .zip(dst[o..].chunks_exact_mut(4))
    {
        let n = (src[0] as usize) << 16 | (src[1] as usize) << 8 | src[2] as usize;
        let [a, b] = B64_PAIRS[n >> 12];
        let [c, d] = B64_PAIRS[n & 0xfff];
        dst.copy_from_slice(&[a, b, c, d]);
    }
    let tail = &data[whole * 3..];
    if tail.is_empty() {
        return whole * 4;
    }
    let b1 = tail.get(1).copied().unwrap_or(0);
    let n = (tail[0] as usize) << 16 | (b1 as usize) << 8;
    let dst = &mut dst[whole * 4..];
    dst[0] = B64[n >> 18];
    dst[1] = B64[n >> 12 & 63];
    dst[2] = if tail.len() == 2 {
        B64[n >> 6 & 63]
    } else {
        b'='
    };
    dst[3] = b'=';
    whole * 4 + 4
}

/// The bytes of standard padded base64 text, or `None` when it is not that.
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if t.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(t.len() / 4 * 3);
    for (ci, chunk) in t.chunks(4).enumerate() {
        let last = ci == t.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            let v = B64.iter().position(|&b| b == c)? as u32;
            n = n << 6 | v;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}
