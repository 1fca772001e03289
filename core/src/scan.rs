//! The scanner: what a stream would import and call if `pickle.loads` ran it, found by
//! walking the opcodes, never by loading anything.
//!
//! It follows the pickle machine abstractly: the stack and memo hold only what is needed
//! to name globals (string literals, the globals themselves, small tuples, and for the
//! result of a call the worst severity that went into it), so `STACK_GLOBAL` names built
//! from memoized strings and `getattr(global, "name")` chains are resolved as far as
//! the bytes allow. Because it does not build values it also reports on streams the safe
//! decoder rejects, up to the first opcode that `pickle` itself could not execute; where
//! it stopped and why is in [`Scan::error`]. Each import and call gets a [`Severity`]
//! from [`classify()`]; it judges what a stream *can* do, not what data it carries, and is
//! not an allowlist for loading (see each binding's safe loader for that).

mod abs;
mod args;
mod calls;
mod classify;
mod frames;
mod limits;
mod machine;
mod report;
mod verdict;

pub use classify::{classify, is_safe, safe_globals};
pub use report::Scan;
pub use verdict::{Finding, Severity, Target};

use machine::Walker;

/// Scans the first pickle in `data`. Never fails: a malformed stream yields the findings
/// up to the malformed opcode, with [`Scan::error`] set.
pub fn scan(data: &[u8]) -> Scan {
    let mut w = Walker::new(data);
    if let Err(e) = w.run() {
        w.out.error = Some(e);
    }
    w.finish();
    w.limits();
    w.out
}
