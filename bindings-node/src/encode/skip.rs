//! The second replay of a trusting walk's tape, once the objects reached twice are
//! known: each later visit of such an object is written as a fetch of its first one
//! from the memo, and its contents, written out in full on the tape, are skipped.
//!
//! A trusting walk (see `flatten.js`) writes every visit of an object in full. When the
//! fingerprints ([`crate::prints`]) and JavaScript's identity check find some objects
//! reached twice, JavaScript hands the same tape back with [`Skips`]: the pairs (memo
//! order of a later visit, memo order of the first). Replaying it so costs no second
//! walk in JavaScript. A later visit is written exactly as its first, so everything in
//! it was defined there: a key it sends for the first time (`KEY`) or a new shape
//! (`SHAPE_NEW`) means it was not, and the replay gives up ([`Dumper::gave_up`]), for a
//! walk that memoizes the objects found (JavaScript's next try). Not for tapes with sets
//! memoized after their items (below protocol 4: JavaScript walks again instead).

use super::{index, malformed, op, Dumper, SKIPPED};
use crate::error::Fallible;

/// Later visits to skip, in memo order: `(later, first)` pairs.
pub struct Skips {
    pairs: Vec<(u32, u32)>,
    at: usize,
}

impl Skips {
    /// From JavaScript's flat list `[later, first, later, first, ...]`, in increasing
    /// `later` order (checked).
    pub fn new(flat: &[u32]) -> Fallible<Skips> {
        if flat.len() % 2 != 0 {
            return Err(malformed());
        }
        let pairs: Vec<(u32, u32)> = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let ordered = pairs.windows(2).all(|w| w[0].0 < w[1].0);
        if !ordered || pairs.iter().any(|&(later, first)| first >= later) {
            return Err(malformed());
        }
        Ok(Skips { pairs, at: 0 })
    }

    /// The memo order of the next later visit (`u32::MAX` when none is left).
    #[inline]
    pub fn next(&self) -> u32 {
        self.pairs.get(self.at).map_or(u32::MAX, |p| p.0)
    }
}

impl Dumper<'_> {
    /// At an object op (already read) whose memo order is `ord` = [`Skips::next`]: writes
    /// the fetch of its first visit and skips the rest of it. False when it cannot.
    pub(super) fn skip_visit(&mut self, code: u8, x: f64) -> Fallible<()> {
        let skips = self.skips.as_mut().ok_or_else(malformed)?;
        let (_, first) = skips.pairs[skips.at];
        skips.at += 1;
        let idx = *self.tables.objs.get(first as usize).ok_or_else(malformed)?;
        if idx == SKIPPED {
            return self.give_up();
        }
        self.enc.get(idx);
        self.skip_body(code, x)?;
        // Later visits inside this one are skipped with it.
        let done = self.tables.objs.len() as u32;
        if let Some(skips) = self.skips.as_mut() {
            while skips.next() < done {
                skips.at += 1;
            }
        }
        Ok(())
    }

    fn give_up(&mut self) -> Fallible<()> {
        self.gave_up = true;
        Err(malformed())
    }

    fn skip_value(&mut self) -> Fallible<()> {
        self.nested(|d| {
            let (code, x) = d.next()?;
            d.skip_body(code, x)
        })
    }

    /// Reads past the rest of the value whose op `(code, x)` was read, numbering the
    /// objects in it (with no memo index).
    fn skip_body(&mut self, code: u8, x: f64) -> Fallible<()> {
        let n = index(x);
        match code {
            op::NONE
            | op::FALSE
            | op::TRUE
            | op::INT
            | op::FLOAT
            | op::KEY_AGAIN
            | op::OBJ_REF
            | op::BIGINT => {}
            op::STR => {
                self.text.next(n)?;
            }
            op::KEY | op::SHAPE_NEW | op::SET_OLD => return self.give_up(),
            op::LIST | op::SET => {
                self.tables.objs.push(SKIPPED);
                for _ in 0..n {
                    self.skip_value()?;
                }
            }
            op::DICT => {
                self.tables.objs.push(SKIPPED);
                for _ in 0..n {
                    self.skip_value()?;
                    self.skip_value()?;
                }
            }
            op::SHAPE => {
                let &(_, len) = self.tables.shapes.get(n).ok_or_else(malformed)?;
                if len == super::OPEN_SHAPE {
                    return Err(malformed());
                }
                self.tables.objs.push(SKIPPED);
                for _ in 0..len {
                    self.skip_value()?;
                }
            }
            op::BYTES | op::DATE => self.tables.objs.push(SKIPPED),
            op::SHARED => self.skip_value()?,
            _ => return Err(malformed()),
        }
        Ok(())
    }
}
