//! The strings of a `dumps` tape: every string's text, one after the other, as
//! generalized UTF-8 (lone surrogates kept, `surrogatepass`) in one buffer that
//! `flatten.js` fills; the tape gives each string's length in UTF-16 units (what JS
//! knows for free), and [`Text::next`] finds its bytes. Strings are memoized by value
//! (JS strings have no identity), in a table of slices of the text.
//!
//! Not for the walk or the opcodes (see [`crate::encode`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;

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
    /// Strings written, by value: start and length in `bytes`, and memo index.
    table: HashTable<(u32, u32, u32)>,
    hasher: foldhash::fast::RandomState,
}

impl<'t> Text<'t> {
    /// `ascii`: JS found every byte ASCII (else the first non-ASCII byte is looked for).
    pub fn new(bytes: &'t [u8], ascii: bool, table: HashTable<(u32, u32, u32)>) -> Self {
        let mut text = Text {
            bytes,
            at: 0,
            ascii_end: bytes.len(),
            table,
            hasher: foldhash::fast::RandomState::default(),
        };
        if !ascii {
            text.ascii_end = first_non_ascii(bytes, 0);
        }
        text
    }

    /// The table, emptied of this text's strings, for the next call.
    pub fn into_table(self) -> HashTable<(u32, u32, u32)> {
        self.table
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
        let bytes = self.bytes;
        let s = &bytes[start..start + len];
        let hash = self.hasher.hash_one(s);
        let at = |&(a, l, _): &(u32, u32, u32)| &bytes[a as usize..(a + l) as usize];
        if let Some(&(_, _, idx)) = self.table.find(hash, |e| at(e) == s) {
            return (idx, true);
        }
        let idx = memoize(s);
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, (start as u32, len as u32, idx), |e| {
                hasher.hash_one(at(e))
            });
        (idx, false)
    }
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
        let mut t = Text::new(&raw, false, HashTable::new());
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
        assert!(Text::new(raw, false, HashTable::new()).next(1).is_err());
    }

    #[test]
    fn equal_strings_share_one_memo_entry() {
        let raw = b"keykeyother";
        let mut t = Text::new(raw, true, HashTable::new());
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
}
