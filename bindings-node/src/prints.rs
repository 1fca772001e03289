//! Content fingerprints of the objects of a `dumps` tape, the check that replaces a
//! JavaScript `Set` of every object.
//!
//! `flatten.js` first walks a value trusting that no object is reached twice: it lists
//! the objects it meets and writes each one out in full (see the top of `flatten.js`).
//! Whether the trust held is a question of identity, which only JavaScript can answer,
//! and a `Set` add per object cost a third of a call on `records`. So while the tape is
//! replayed, each object gets a fingerprint of its contents as the tape gives them: an
//! object reached twice, unchanged in between, is written twice the same way and gets
//! the same fingerprint both times. Afterwards [`Prints::repeats`] lists the objects
//! whose fingerprint some other object has too, and JavaScript checks the identity of
//! those alone (usually none: objects with equal contents are few).
//!
//! The fingerprint of an object is a polynomial hash, relative to the object's first
//! token, of the tokens of its span of the tape: its own op and everything nested in it.
//! One running sum covers the whole tape (`sum` = Σ mix(token i) · B^i), and an object's
//! fingerprint is `(sum at its end − sum at its start) · B^-start`, so each token is
//! hashed once however deep it is nested (`B^-start` is worked out once per object). A token is what stays the same when the same
//! object is written again: a string's memo index (not its place in the text), a key's
//! memo index (a key is `KEY` the first time and `KEY_AGAIN` after), every dict of string
//! keys as its keys and values (whether its keys are sent, as `DICT` and `SHAPE_NEW` do,
//! or come from its shape, as `SHAPE`'s), a `Uint8Array`'s memory (not its index among
//! the extras).
//!
//! An object that `flatten.js` already knows to be reached more than once (`SHARED`
//! before it, `OBJ_REF` after) counts, in the objects around it, as the one token of a
//! reference to it, however it is written: inline the first time, `OBJ_REF` after.
//!
//! An object whose contents a getter changes between two of its visits gets two
//! fingerprints, and is then written twice, each time as it was: this check trades the
//! sharing of such an object, never the contents written. Two different objects with the
//! same fingerprint only cost their identity check. Not for the walk or the opcodes (see
//! `flatten.js` and [`crate::encode`]).

use hashbrown::HashTable;

/// The base of the polynomial (odd, so invertible modulo 2^64).
const B: u64 = 0x9e37_79b9_7f4a_7c15;

/// `x` such that `b · x ≡ 1 (mod 2^64)`, for odd `b` (Newton's iteration doubles the
/// correct low bits each step: 3 → 6 → … → 96).
const fn inverse(b: u64) -> u64 {
    let mut x = b;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(b.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// Where an object's span starts: the running sum there, and `B^start`.
#[derive(Clone, Copy, Default)]
pub struct Mark {
    sum: u64,
    pow: u64,
}

/// The running hash of a tape and the fingerprints of its objects, by memo order.
pub struct Prints {
    sum: u64,
    pow: u64,
    prints: Vec<u64>,
}

impl Prints {
    /// An empty hash, keeping the capacity of `prints` (a buffer of an earlier call).
    pub fn new(mut prints: Vec<u64>) -> Self {
        prints.clear();
        Prints {
            sum: 0,
            pow: 1,
            prints,
        }
    }

    /// The fingerprints' buffer, for the next call.
    pub fn into_buffer(self) -> Vec<u64> {
        self.prints
    }

    /// Adds the token `(kind, x)` (`kind`: an op of the tape, or another small number).
    #[inline]
    pub fn token(&mut self, kind: u8, x: u64) {
        self.sum = self.sum.wrapping_add(mix(kind, x).wrapping_mul(self.pow));
        self.pow = self.pow.wrapping_mul(B);
    }

    /// Takes the tokens since `mark` back (an object known to be reached again, which the
    /// objects around it count as the one token of a reference to it).
    #[inline]
    pub fn rewind(&mut self, mark: Mark) {
        self.sum = mark.sum;
        self.pow = mark.pow;
    }

    /// Where the next object starts.
    #[inline]
    pub fn mark(&self) -> Mark {
        Mark {
            sum: self.sum,
            pow: self.pow,
        }
    }

    /// The object of memo order `ord`, started at `mark`, ends here.
    #[inline]
    pub fn object(&mut self, ord: usize, mark: Mark) {
        let print = self
            .sum
            .wrapping_sub(mark.sum)
            .wrapping_mul(inverse(mark.pow));
        if ord >= self.prints.len() {
            self.prints.resize(ord + 1, 0);
        }
        self.prints[ord] = print;
    }

    /// Writes into `out[1..]` the memo order of every object whose fingerprint another
    /// object has too, each once, and their count into `out[0]`. False when `out` is too
    /// short (it is given one slot per object listed, and one more).
    pub fn repeats(&self, out: &mut [u32]) -> bool {
        let prints = &self.prints;
        if out.len() <= prints.len() {
            return false;
        }
        let hash = |&ord: &u32| spread(prints[ord as usize]);
        let mut firsts: HashTable<u32> = HashTable::with_capacity(prints.len());
        // The first object of each fingerprint, once listed as a candidate, is marked
        // by setting the top bit of its entry.
        const LISTED: u32 = 1 << 31;
        let mut n = 0;
        for (ord, &print) in prints.iter().enumerate() {
            let ord = ord as u32;
            let h = spread(print);
            match firsts.find_mut(h, |&o| prints[(o & !LISTED) as usize] == print) {
                Some(first) => {
                    if *first & LISTED == 0 {
                        n += 1;
                        out[n] = *first;
                        *first |= LISTED;
                    }
                    n += 1;
                    out[n] = ord;
                }
                None => {
                    firsts.insert_unique(h, ord, |o| hash(&(o & !LISTED)));
                }
            }
        }
        out[0] = n as u32;
        true
    }
}

/// A token as 64 mixed bits: the sum's multiplies by `B^i` spread them further.
#[inline]
fn mix(kind: u8, x: u64) -> u64 {
    let v = (x ^ (u64::from(kind) << 57)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    v ^ (v >> 29)
}

/// A fingerprint as a table hash: its top bits (the tag) and low bits (the bucket) both
/// from all of it.
#[inline]
fn spread(print: u64) -> u64 {
    let m = u128::from(print) * u128::from(B);
    (m as u64) ^ ((m >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_inverts() {
        for b in [B, 1, 3, u64::MAX, B.wrapping_mul(B)] {
            assert_eq!(b.wrapping_mul(inverse(b)), 1);
        }
    }

    /// Tokens of `[[1, 2], x, [1, 2]]`-like tapes: an object's print does not depend on
    /// where it starts or what came before it.
    #[test]
    fn equal_spans_at_different_places_print_alike() {
        let mut p = Prints::new(Vec::new());
        let outer = p.mark();
        p.token(8, 3);
        let inner = |p: &mut Prints, ord: usize, a: u64, b: u64| {
            let m = p.mark();
            p.token(8, 2);
            p.token(3, a);
            p.token(3, b);
            p.object(ord, m);
        };
        inner(&mut p, 1, 1, 2);
        p.token(5, 7);
        inner(&mut p, 2, 1, 2);
        inner(&mut p, 3, 2, 1);
        p.object(0, outer);
        let prints = &p.prints;
        assert_eq!(prints[1], prints[2]);
        assert_ne!(prints[1], prints[3]);
        assert_ne!(prints[0], prints[1]);
        let mut out = [0u32; 5];
        assert!(p.repeats(&mut out));
        assert_eq!(&out[..3], &[2, 1, 2]);
        assert!(!p.repeats(&mut [0u32; 4]));
    }

    /// `[x, y]` where `x` is written in full and where it is a reference: alike.
    #[test]
    fn a_rewound_object_counts_as_its_reference() {
        let mut a = Prints::new(Vec::new());
        let outer = a.mark();
        a.token(8, 2);
        let inner = a.mark();
        a.token(8, 1);
        a.token(3, 5);
        a.object(1, inner);
        a.rewind(inner);
        a.token(7, 1);
        a.token(3, 6);
        a.object(0, outer);
        let mut b = Prints::new(Vec::new());
        let outer = b.mark();
        b.token(8, 2);
        b.token(7, 1);
        b.token(3, 6);
        b.object(0, outer);
        assert_eq!(a.prints[0], b.prints[0]);
    }

    #[test]
    fn every_member_of_a_group_is_listed_once() {
        // Prints a, b, a, a, b, c, alone and after 20 distinct ones.
        for lead in [0u64, 20] {
            let mut p = Prints::new(Vec::new());
            let xs = (100..100 + lead).chain([1, 2, 1, 1, 2, 3]);
            for (ord, x) in xs.enumerate() {
                let m = p.mark();
                p.token(3, x);
                p.object(ord, m);
            }
            let mut out = vec![0u32; lead as usize + 7];
            assert!(p.repeats(&mut out));
            let n = out[0] as usize;
            let mut got = out[1..=n].to_vec();
            got.sort_unstable();
            let l = lead as u32;
            assert_eq!(got, [l, l + 1, l + 2, l + 3, l + 4]);
        }
    }
}
