//! Deterministic stream mutations, and the streams they start from, shared by the
//! mutation tests and the CPython differential test: bit flips, interesting bytes,
//! insertions, deletions, duplicated chunks, splices from another stream, huge lengths
//! and truncation.

/// The shared vectors' streams of 2 KiB or less: what the mutation tests start from
/// (small enough that a few thousand mutated copies run in seconds).
pub fn seeds() -> Vec<Vec<u8>> {
    super::case_streams()
        .into_iter()
        .map(|(_, _, data, _)| data)
        .filter(|d| d.len() <= 2048)
        .collect()
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that make mutations interesting: opcodes, length bytes, limits.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, b'(', b'.', b'0', b'1', b'2', b'a', b'e', b's', b'u', b't', b'R',
    b'b', b'c', b'i', b'o', b'g', b'p', b'h', b'q', b'j', b'r', 0x81, 0x85, 0x8a, 0x8b, 0x8c, 0x8d,
    0x8e, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, b'\n',
];

pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                data.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(8.min(len - i));
                data.drain(i..i + n);
            }
            4 if len > 0 => {
                // Duplicate a chunk in place.
                let i = rng.below(len);
                let n = 1 + rng.below(16.min(len - i));
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            5 if !other.is_empty() => {
                // Splice in part of another stream.
                let i = rng.below(other.len());
                let n = 1 + rng.below(32.min(other.len() - i));
                let at = rng.below(len + 1);
                data.splice(at..at, other[i..i + n].iter().copied());
            }
            6 if len > 4 => {
                // Overwrite four bytes with a large little-endian length.
                let i = rng.below(len - 4);
                let v = [0xffff_ffffu32, 0x7fff_ffff, 0x8000_0000, 0x0001_0000][rng.below(4)];
                data[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ if len > 0 => data.truncate(rng.below(len)),
            _ => {}
        }
    }
}
