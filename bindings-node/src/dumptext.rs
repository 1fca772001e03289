//! The strings of a `dumps` tape: every string's text, one after the other, as
//! generalized UTF-8 (lone surrogates kept, `surrogatepass`) in one buffer that
//! `flatten.js` fills; the tape gives each string's length in UTF-16 units (what JS
//! knows for free), and [`Text::next`] finds its bytes. Strings are memoized by value
//! (JS strings have no identity), in two tables: strings of up to 16 bytes are kept in
//! their [`Short`] entry, so finding one again reads that table alone (comparing against
//! the earlier copy in the text was a second cache miss per repeated word); a longer one
//! is a [`Long`] entry naming a slice of the text. Apart, the short strings (the words
//! and keys that repeat most) fill a table small enough to stay in the cache, instead of
//! being spread among every long string of the call (on `records`, 5,000 words among
//! 46,000 strings: half of the lookups' time was the miss on the entry).
//!
//! Not for the walk or the opcodes (see [`crate::encode`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A string of up to [`INLINE`] bytes written: its bytes, zero-padded, then its length
/// and memo index.
#[derive(Clone, Copy)]
pub struct Short {
    head: [u64; 2],
    len: u32,
    idx: u32,
}

/// A longer string written: its start and length in the text, 32 bits of its hash (the
/// table's hash is made from them, so growing the table reads no text), its memo index.
#[derive(Clone, Copy)]
pub struct Long {
    start: u32,
    len: u32,
    hash: u32,
    idx: u32,
}

/// Strings up to this many bytes are [`Short`].
const INLINE: usize = 16;

/// Largest tables kept for the next call, in entries (see [`Strings::recycle`]).
const KEEP_MAX_SHORT: usize = 1 << 14;
const KEEP_MAX_LONG: usize = 1 << 16;
/// A table of more entries than this is kept only when the call filled a quarter of it.
const KEEP_ANY: usize = 1 << 10;

/// The tables of strings written, kept from one call to the next (see `crate::reuse`).
#[derive(Default)]
pub struct Strings {
    short: HashTable<Short>,
    long: HashTable<Long>,
}

impl Strings {
    /// Empties the tables for the next call. A table is dropped when it is larger than
    /// its cap (a thread keeps at most about 1.4 MB), or large and little used: the next
    /// call's strings may be far fewer, and spread over a table sized for another
    /// call's they miss the cache more often than a fresh table costs to grow, and
    /// emptying a large table costs a small call the clearing of all of it. The short
    /// strings' cap is the smaller: theirs is the table that must stay in the cache.
    pub fn recycle(&mut self) {
        recycle(&mut self.short, KEEP_MAX_SHORT);
        recycle(&mut self.long, KEEP_MAX_LONG);
    }
}

fn recycle<T>(table: &mut HashTable<T>, max: usize) {
    let capacity = table.capacity();
    if capacity > max || (capacity > KEEP_ANY && table.len() * 4 < capacity) {
        *table = HashTable::new();
    } else {
        table.clear();
    }
}

use crate::error::{Code, Failure, Fallible};

fn malformed() -> Failure {
    Failure::new(Code::BadArgument, "malformed dumps tape")
}

/// The text of one tape, read front to back.
pub struct Text<'t> {
    bytes: &'t [u8],
    at: usize,
    /// Every byte before this one is ASCII, so units and bytes count alike.
    ascii_end: usize,
    /// Strings written, by value.
    strings: Strings,
    hasher: foldhash::fast::RandomState,
    /// The seed of the hash of short strings.
    seed: [u64; 2],
}

impl<'t> Text<'t> {
    /// `ascii`: JS found every byte ASCII (else the first non-ASCII byte is looked for).
    pub fn new(bytes: &'t [u8], ascii: bool, strings: Strings) -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let seed = [hasher.hash_one(1u64), hasher.hash_one(2u64) | 1];
        let mut text = Text {
            bytes,
            at: 0,
            ascii_end: bytes.len(),
            strings,
            hasher,
            seed,
        };
        if !ascii {
            text.ascii_end = first_non_ascii(bytes, 0);
        }
        text
    }

    /// The tables of this text's strings, for [`Strings::recycle`].
    pub fn into_strings(self) -> Strings {
        self.strings
    }

    /// The next string of `units` UTF-16 units: its start and length in the text.
    #[inline]
    pub fn next(&mut self, units: usize) -> Fallible<(usize, usize)> {
        let start = self.at;
        let end = start.checked_add(units).ok_or_else(malformed)?;
        let end = if end <= self.ascii_end {
            end
        } else {
            self.walk(start, units)?
        };
        self.at = end;
        Ok((start, end - start))
    }

    /// The end of `units` UTF-16 units of UTF-8 from `start`: a 4-byte sequence is a
    /// surrogate pair (two units), a lone surrogate a 3-byte one.
    #[cold]
    fn walk(&mut self, start: usize, units: usize) -> Fallible<usize> {
        let b = self.bytes;
        let (mut i, mut n) = (start, 0);
        while n < units {
            let (len, u) = match *b.get(i).ok_or_else(malformed)? {
                0..=0x7f => (1, 1),
                0xc0..=0xdf => (2, 1),
                0xe0..=0xef => (3, 1),
                0xf0..=0xf7 => (4, 2),
                _ => return Err(malformed()),
            };
            i += len;
            n += u;
        }
        if n != units || i > b.len() {
            return Err(malformed());
        }
        if i > self.ascii_end {
            self.ascii_end = first_non_ascii(b, i);
        }
        Ok(i)
    }

    /// The memo index of the string at `start..start + len` if it was written before;
    /// else `memoize` writes it (given its bytes) and returns its index, kept for later.
    #[inline]
    pub fn memo(
        &mut self,
        (start, len): (usize, usize),
        memoize: impl FnOnce(&[u8]) -> u32,
    ) -> (u32, bool) {
        if len <= INLINE {
            self.memo_short(start, len, memoize)
        } else {
            self.memo_long(start, len, memoize)
        }
    }

    #[inline]
    fn memo_short(
        &mut self,
        start: usize,
        len: usize,
        memoize: impl FnOnce(&[u8]) -> u32,
    ) -> (u32, bool) {
        let head = short_head(self.bytes, start, len);
        let seed = self.seed;
        let hash = short_hash(seed, head, len);
        let table = &mut self.strings.short;
        if let Some(e) = table.find(hash, |e| e.head == head && e.len as usize == len) {
            return (e.idx, true);
        }
        let idx = memoize(&self.bytes[start..start + len]);
        let entry = Short {
            head,
            len: len as u32,
            idx,
        };
        table.insert_unique(hash, entry, |e| short_hash(seed, e.head, e.len as usize));
        (idx, false)
    }

    #[inline]
    fn memo_long(
        &mut self,
        start: usize,
        len: usize,
        memoize: impl FnOnce(&[u8]) -> u32,
    ) -> (u32, bool) {
        let bytes = self.bytes;
        let s = &bytes[start..start + len];
        let hash32 = (self.hasher.hash_one(s) >> 32) as u32;
        let hash = long_hash(hash32);
        let table = &mut self.strings.long;
        let found = table.find(hash, |e| {
            e.hash == hash32 && e.len as usize == len && {
                let a = e.start as usize;
                &bytes[a..a + len] == s
            }
        });
        if let Some(e) = found {
            return (e.idx, true);
        }
        let idx = memoize(s);
        // The text is at most `u32::MAX` bytes (its length crosses N-API as a u32).
        let entry = Long {
            start: start as u32,
            len: len as u32,
            hash: hash32,
            idx,
        };
        table.insert_unique(hash, entry, |e| long_hash(e.hash));
        (idx, false)
    }
}

/// The table's hash of a long string from 32 bits of its own: hashbrown takes the
/// bucket from the low bits and the tag from the top 7, and the multiply by an odd
/// constant spreads the 32 bits into both.
#[inline]
fn long_hash(hash32: u32) -> u64 {
    u64::from(hash32).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The hash of a string of up to [`INLINE`] bytes, from its zero-padded words: a folded
/// multiply, as foldhash's.
#[inline]
fn short_hash(seed: [u64; 2], head: [u64; 2], len: usize) -> u64 {
    let x = u128::from(head[0] ^ seed[0]) * u128::from(head[1] ^ seed[1] ^ len as u64);
    let h = (x as u64) ^ ((x >> 64) as u64);
    // hashbrown takes the bucket from the low bits and the tag from the top 7.
    h ^ h.rotate_left(29)
}

/// `LOW_BYTES[n]` keeps the low `n` bytes of a `u128` (a table: a shift of a `u128` by a
/// variable count is a dozen instructions).
static LOW_BYTES: [u128; INLINE + 1] = {
    let mut masks = [0u128; INLINE + 1];
    let mut n = 1;
    while n <= INLINE {
        masks[n] = (masks[n - 1] << 8) | 0xff;
        n += 1;
    }
    masks
};

/// The bytes `b[start..start + len]` (`len` at most [`INLINE`]) as two little-endian
/// words, zero-padded.
#[inline]
fn short_head(b: &[u8], start: usize, len: usize) -> [u64; 2] {
    let mut raw = [0u8; INLINE];
    if start + INLINE <= b.len() {
        raw.copy_from_slice(&b[start..start + INLINE]);
        let w = u128::from_le_bytes(raw) & LOW_BYTES[len];
        return [w as u64, (w >> 64) as u64];
    }
    raw[..len].copy_from_slice(&b[start..start + len]);
    let w = u128::from_le_bytes(raw);
    [w as u64, (w >> 64) as u64]
}

/// The index of the first byte of `b` from `from` on that is not ASCII, or its length.
fn first_non_ascii(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        if w & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && b[i] < 0x80 {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_find_their_bytes_in_mixed_text() {
        // "ab", "é€", "😀x" (a pair is two units), "\u{d800}" as WTF-8, "z".
        let bytes = "abé€😀x\u{ed}z".as_bytes().to_vec();
        let mut raw = bytes.clone();
        let lone = raw.len() - 3; // replace the 2-byte "í" by a 3-byte lone surrogate
        raw.splice(lone..lone + 2, [0xed, 0xa0, 0x80]);
        let mut t = Text::new(&raw, false, Strings::default());
        let cut = |t: &mut Text, n| {
            let (s, l) = t.next(n).unwrap();
            raw[s..s + l].to_vec()
        };
        assert_eq!(cut(&mut t, 2), b"ab");
        assert_eq!(cut(&mut t, 2), "é€".as_bytes());
        assert_eq!(cut(&mut t, 3), "😀x".as_bytes());
        assert_eq!(cut(&mut t, 1), [0xed, 0xa0, 0x80]);
        assert_eq!(cut(&mut t, 1), b"z");
        assert!(t.next(1).is_err());
    }

    #[test]
    fn a_pair_cut_in_half_is_malformed() {
        let raw = "😀".as_bytes();
        assert!(Text::new(raw, false, Strings::default()).next(1).is_err());
    }

    #[test]
    fn equal_strings_share_one_memo_entry() {
        let raw = b"keykeyother";
        let mut t = Text::new(raw, true, Strings::default());
        let mut next = 0;
        let mut memo = |t: &mut Text| {
            let s = t.next(3).unwrap();
            t.memo(s, |_| {
                next += 1;
                next - 1
            })
        };
        assert_eq!(memo(&mut t), (0, false));
        assert_eq!(memo(&mut t), (0, true));
        assert_eq!(t.next(5).unwrap(), (6, 5));
    }

    #[test]
    fn short_and_long_strings_are_told_apart_by_every_byte() {
        // Every length from 0 to 20 (16 is the last kept in an entry), each twice, then
        // the same with the last byte changed; the last string ends the text.
        let mut raw = Vec::new();
        let mut cuts = Vec::new();
        for last in [b'x', b'y'] {
            for _ in 0..2 {
                for n in 0..=20 {
                    let mut s = vec![b'q'; n];
                    if let Some(b) = s.last_mut() {
                        *b = last;
                    }
                    raw.extend_from_slice(&s);
                    cuts.push(n);
                }
            }
        }
        let mut t = Text::new(&raw, true, Strings::default());
        let mut next = 0;
        let mut got = Vec::new();
        for &n in &cuts {
            let at = t.next(n).unwrap();
            got.push(t.memo(at, |_| {
                next += 1;
                next - 1
            }));
        }
        // 0..=20 new, then again; then 1..=20 new with `y` (the empty string is the same).
        for (i, &(idx, again)) in got.iter().enumerate() {
            let (round, n) = (i / 21, i % 21);
            let first_idx = n as u32;
            match round {
                0 => assert_eq!((idx, again), (first_idx, false), "{i}"),
                1 => assert_eq!((idx, again), (first_idx, true), "{i}"),
                2 if n == 0 => assert_eq!((idx, again), (0, true), "{i}"),
                2 => assert_eq!((idx, again), (20 + n as u32, false), "{i}"),
                _ if n == 0 => assert_eq!((idx, again), (0, true), "{i}"),
                _ => assert_eq!((idx, again), (20 + n as u32, true), "{i}"),
            }
        }
    }
    #[test]
    fn a_table_is_kept_when_well_used_and_dropped_when_huge_or_barely_used() {
        // 3,000 distinct short strings, then the same number of long ones.
        let mut raw = Vec::new();
        for i in 0..3000 {
            raw.extend_from_slice(format!("{i:08}").as_bytes());
        }
        for i in 0..3000 {
            raw.extend_from_slice(format!("{i:020}").as_bytes());
        }
        let fill = |strings: Strings, cuts: &[(usize, usize)]| {
            let mut t = Text::new(&raw, true, strings);
            let mut next = 0;
            for &(n, count) in cuts {
                for _ in 0..count {
                    let at = t.next(n).unwrap();
                    t.memo(at, |_| {
                        next += 1;
                        next - 1
                    });
                }
            }
            let mut strings = t.into_strings();
            strings.recycle();
            strings
        };
        let kept = fill(Strings::default(), &[(8, 3000), (20, 3000)]);
        assert!(kept.short.capacity() >= 3000 && kept.long.capacity() >= 3000);
        assert!(kept.short.is_empty() && kept.long.is_empty());
        // The same tables, barely used by the next call: dropped, not cleared.
        let dropped = fill(kept, &[(8, 10)]);
        assert_eq!((dropped.short.capacity(), dropped.long.capacity()), (0, 0));
        // Past the cap, a full table is dropped too.
        let mut huge = Strings::default();
        huge.short.reserve(KEEP_MAX_SHORT + 1, |_| 0);
        huge.recycle();
        assert_eq!(huge.short.capacity(), 0);
    }
}
