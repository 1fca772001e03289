//! Shapes: the key sets of dicts whose keys are all str, numbered in order of first use.
//!
//! A list of records repeats the same keys in every dict; the tape names the shape
//! instead (`SHAPE`), defines its keys once (`KEYS`), and `builder.js` creates every
//! object of a shape the same way, from one template. A dict is recognized by its key
//! nodes (CPython memoizes keys, so records share them) through a small direct-mapped
//! cache, else by the keys' text. Keys named `__proto__`, lone-surrogate keys, dicts of
//! more than [`MAX_KEYS`] keys and key sets beyond the first [`MAX_SHAPES`] get no
//! shape: they are written key by key. Not for deciding dict vs `Map` (see
//! [`crate::decode`]).

use std::collections::HashMap;
use std::hash::Hasher;

use crate::graph::{Graph, H};

/// Dicts with more keys than this are written key by key.
pub const MAX_KEYS: usize = 64;
/// Distinct key sets a stream may define; later ones are written key by key.
pub const MAX_SHAPES: u32 = 4096;
/// Entries of the cache by key nodes (a power of two).
const CACHE: usize = 256;

/// The shapes of one tape.
pub struct Shapes {
    /// By the hash of the key node ids: those ids and their shape.
    by_ids: Vec<(Vec<usize>, u32)>,
    /// By the keys' text, each key as its length (4 bytes) then its bytes (SipHash:
    /// the stream chooses these keys).
    by_text: HashMap<Vec<u8>, u32>,
    count: u32,
}

/// A dict's shape: its number, and whether this dict is its first use (its keys must be
/// written).
pub struct Found {
    pub shape: u32,
    pub new: bool,
}

impl Shapes {
    pub fn new() -> Self {
        Shapes {
            by_ids: Vec::new(),
            by_text: HashMap::default(),
            count: 0,
        }
    }

    /// The shape of a dict with these entries, when it gets one.
    pub fn find(&mut self, g: &Graph, entries: &[(H, H)]) -> Option<Found> {
        if entries.is_empty() || entries.len() > MAX_KEYS {
            return None;
        }
        let mut h = Fx::default();
        for &(k, _) in entries {
            let H::Node(k) = k else {
                return None;
            };
            h.write_usize(k);
        }
        let at = (h.finish() >> 56) as usize % CACHE;
        if let Some((ids, shape)) = self.by_ids.get(at) {
            if ids.len() == entries.len()
                && ids.iter().zip(entries).all(|(a, b)| H::Node(*a) == b.0)
            {
                return Some(Found {
                    shape: *shape,
                    new: false,
                });
            }
        }
        let mut text = Vec::new();
        for &(k, _) in entries {
            let s = g.str_of(k)?;
            if s == "__proto__" {
                return None;
            }
            text.extend_from_slice(&(s.len() as u32).to_le_bytes());
            text.extend_from_slice(s.as_bytes());
        }
        let found = match self.by_text.get(&text) {
            Some(&shape) => Found { shape, new: false },
            None if self.count < MAX_SHAPES => {
                let shape = self.count;
                self.count += 1;
                self.by_text.insert(text, shape);
                Found { shape, new: true }
            }
            None => return None,
        };
        if self.by_ids.is_empty() {
            self.by_ids = vec![(Vec::new(), 0); CACHE];
        }
        let ids = entries.iter().filter_map(|e| match e.0 {
            H::Node(id) => Some(id),
            _ => None,
        });
        self.by_ids[at] = (ids.collect(), found.shape);
        Some(found)
    }
}

/// A small multiplicative hasher (as rustc's FxHash) for the cache index: a collision
/// only evicts an entry, so a stream that forces them costs a slower lookup, no more.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
