//! Buffers `loads` and `dumps` keep from one call to the next on the same thread,
//! emptied but with their capacity: the tape's ops, the numbers of the longest list, the
//! graph's str text and item and entry pools, and the walker's per-node marks; for
//! `dumps`, the memo and shape tables, the objects' fingerprints and the tables of
//! strings written (up to sizes of their own, see
//! [`Strings::recycle`]).
//!
//! A fresh buffer of a few megabytes costs a page fault per 4 KiB page the first time
//! it is written, and the kernel's zeroing of that page: on a list of a million ints
//! that was about as much time as decoding it. A kept buffer is written again without
//! either. Each buffer is kept only up to [`KEEP_MAX_BYTES`], so one huge stream does
//! not pin its memory for the life of the thread. Not for the tape that crosses to JS:
//! JS keeps its own scratch array (`index.js`), which the ops and numbers are copied to.

use std::cell::Cell;

use crate::dumptext::Strings;
use crate::encode::Tables;
use crate::graph::H;

/// Largest buffer kept (each), in bytes.
pub const KEEP_MAX_BYTES: usize = 16 << 20;

/// The kept buffers, all empty.
#[derive(Default)]
pub struct Spare {
    pub ops: Vec<f64>,
    pub nums: Vec<f64>,
    pub text: String,
    pub items: Vec<H>,
    pub entries: Vec<(H, H)>,
    pub seen: Vec<u64>,
    pub strs: Strings,
    pub prints: Vec<u64>,
    pub dump: Tables,
}

thread_local! {
    static SPARE: Cell<Spare> = Cell::new(Spare::default());
}

/// The buffers kept by the last call on this thread (empty ones on the first call, or
/// while another call holds them).
pub fn take() -> Spare {
    SPARE.with(Cell::take)
}

/// Keeps `spare`'s buffers for the next call, emptied; drops those over the size cap.
pub fn give(mut spare: Spare) {
    keep(&mut spare.ops);
    keep(&mut spare.nums);
    keep(&mut spare.seen);
    keep(&mut spare.items);
    keep(&mut spare.entries);
    keep(&mut spare.prints);
    spare.strs.recycle();
    spare.dump.recycle();
    if spare.text.capacity() > KEEP_MAX_BYTES {
        spare.text = String::new();
    }
    spare.text.clear();
    SPARE.with(|s| s.set(spare));
}

/// Empties `v` for the next call, dropping it when it is over [`KEEP_MAX_BYTES`].
pub fn keep<T>(v: &mut Vec<T>) {
    if v.capacity() * size_of::<T>() > KEEP_MAX_BYTES {
        *v = Vec::new();
    }
    v.clear();
}
