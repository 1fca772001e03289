//! `weakref.proxy` objects. A proxy whose referent the stream also holds strongly comes
//! back as a proxy of the loaded referent, `weakref.proxy(referent)`; a live proxy whose
//! referent the stream does not otherwise hold is written as its referent (stock
//! `pickle`'s result, which CPython's own tests require); a dead proxy is refused.
//!
//! Whether the stream holds the referent strongly is known only at the end of the dump
//! (`[weakref.proxy(x), x]`), so a proxy met before its referent writes the referent in
//! place, memoized, under a callable fetched from the memo by a fixed-width `LONG_BINGET`:
//! `weakref.proxy(referent, None)`. Two memo entries are made for that the first time:
//! `weakref.proxy` and `typing.assert_type` (which returns its first argument). When the
//! dump ends, every such `GET` of a referent that no strong reference reached is
//! rewritten in place to fetch `typing.assert_type` instead: the proxy loads as its
//! referent. The output is held in memory from the first such proxy on (a dump to a file
//! writes it at the end), so that the bytes can still be rewritten.
//!
//! A strong reference is the referent written or fetched from the memo anywhere in the
//! stream outside the copy written for a proxy (outside every referent written in place
//! for a proxy whose fate is still open). A reference from inside such a copy does not
//! count, even where it would make the referent reachable through other strong paths; the
//! proxy then loads as its referent, which is always safe.
//!
//! Not for `weakref.ref` (refused, as by `pickle`) nor the weak containers (stored
//! strongly by `brinery/_reducers.py`).

use brinery_core::opcode::LONG_BINGET;
use pyo3::prelude::*;
use pyo3::types::{PyWeakrefMethods, PyWeakrefProxy};

use super::path::Seg;
use super::walker::Walker;
use crate::error::new_pickling_error;

/// The proxies of one dump whose referents were written in place.
#[derive(Default)]
pub struct Proxies {
    /// Referents written in place for a proxy, by memo index.
    pending: rustc_hash::FxHashMap<u32, Pending>,
    /// How many referents written in place enclose the object being saved.
    inside: u32,
    /// The memo indexes of `weakref.proxy` and `typing.assert_type`, once written.
    callables: Option<(u32, u32)>,
}

#[derive(Default)]
struct Pending {
    /// A strong reference to the referent was written.
    reached: bool,
    /// Where in the encoder's buffer each of its proxies' `LONG_BINGET`s starts.
    slots: Vec<usize>,
}

impl Proxies {
    /// The walker fetched memo entry `idx` as an ordinary value. Kept to one test on the
    /// walker's hot path: the lookup is out of line, for dumps with a proxy pending.
    #[inline(always)]
    pub fn fetched(&mut self, idx: u32) {
        if !self.pending.is_empty() {
            self.fetched_while_pending(idx);
        }
    }

    #[cold]
    #[inline(never)]
    fn fetched_while_pending(&mut self, idx: u32) {
        if self.inside == 0 {
            if let Some(p) = self.pending.get_mut(&idx) {
                p.reached = true;
            }
        }
    }

    /// Makes every proxy whose referent no strong reference reached load as its referent
    /// (`buf` is the finished stream's buffer: its offsets are the encoder's, as no frame
    /// was moved out once a proxy was pending).
    pub fn resolve(&self, buf: &mut [u8]) {
        let Some((_, identity)) = self.callables else {
            return;
        };
        for p in self.pending.values().filter(|p| !p.reached) {
            for &at in &p.slots {
                // Always in the buffer, but for one that could not grow (and dropped
                // writes: that dump fails): skipped rather than a panic.
                if let Some(slot) = buf.get_mut(at..at + 5) {
                    debug_assert_eq!(slot[0], LONG_BINGET);
                    slot[1..].copy_from_slice(&identity.to_le_bytes());
                }
            }
        }
    }
}

/// Saves the proxy `obj` (see the module docs).
pub fn save<'py>(w: &mut Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<()> {
    if has_table_entry(w, obj)? {
        return super::reduce::save_by_reduce(w, obj);
    }
    let proxy = obj.cast::<PyWeakrefProxy>()?;
    let Some(referent) = proxy.upgrade() else {
        return Err(new_pickling_error(
            w.py,
            "cannot pickle a dead weakref.proxy (its referent has been collected)",
        ));
    };
    // Fast mode memoizes nothing, and protocol 0's text `GET` has no fixed width: the
    // proxy is its referent there, as with `pickle`.
    if w.opts.fast || w.enc.protocol() < 1 {
        w.save(&referent)?;
        if let Some(idx) = w.memo_get(&referent) {
            w.memo_alias(obj, idx);
        }
        return Ok(());
    }
    let known = w.memo_get(&referent);
    let open = known.is_some_and(|idx| w.proxies.pending.contains_key(&idx));
    if let (Some(idx), false) = (known, open) {
        // Held strongly already: a plain `weakref.proxy(referent)`.
        w.enc.global_memoized("weakref", "proxy");
        w.enc.tuple_begin(1);
        w.enc.get(idx);
        w.enc.tuple_end(1);
        w.enc.reduce();
        w.memoize_made(obj);
        return Ok(());
    }
    let (call, _) = callables(w);
    let b = call.to_le_bytes();
    w.enc.raw(&[LONG_BINGET, b[0], b[1], b[2], b[3]]);
    // Taken after the write: a new frame's header may have gone in before it.
    let slot = w.enc.len() - 5;
    w.enc.tuple_begin(2);
    let idx = match known {
        Some(idx) => {
            w.enc.get(idx);
            idx
        }
        None => {
            w.proxies.inside += 1;
            w.path.push(Seg::Item("proxy referent"));
            let r = w.save(&referent);
            w.path.pop();
            w.proxies.inside -= 1;
            r?;
            match w.memo_get(&referent) {
                Some(idx) => idx,
                None => {
                    w.memoize(&referent);
                    w.memo_index(&referent)?
                }
            }
        }
    };
    w.proxies.pending.entry(idx).or_default().slots.push(slot);
    w.enc.none();
    w.enc.tuple_end(2);
    w.enc.reduce();
    w.memoize_made(obj);
    Ok(())
}

/// The memo indexes of `weakref.proxy` and `typing.assert_type`, written (and the
/// output held in memory) the first time.
fn callables(w: &mut Walker<'_>) -> (u32, u32) {
    if let Some(c) = w.proxies.callables {
        return c;
    }
    // The slots are rewritten when the dump ends: no frame leaves the encoder till then.
    w.flush_at = usize::MAX;
    let proxy = w.enc.global_memoized("weakref", "proxy");
    w.enc.pop();
    let identity = w.enc.global_memoized("typing", "assert_type");
    w.enc.pop();
    w.proxies.callables = Some((proxy, identity));
    (proxy, identity)
}

/// A `dispatch_table` (the pickler's, else `copyreg`'s) names a reduction for proxies:
/// it wins, as with `pickle`.
fn has_table_entry<'py>(w: &Walker<'py>, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
    let tp = obj.get_type();
    match &w.opts.dispatch_table {
        Some(table) => Ok(table.get_item(&tp).is_ok()),
        None => w.st.copyreg_dispatch.bind(w.py).contains(&tp),
    }
}
