//! What the scanner knows about a value on the pickle machine's stack or memo: only
//! what names a global, or what a call or a container may carry into a call (the worst
//! severity that went into it). Tuples are kept small and shallow so that no walk of an
//! [`Abs`] recurses far. Not for values a loader builds.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Severity, Target};

/// What the walker knows about one stack slot.
#[derive(Debug, Clone)]
pub(super) enum Abs {
    Str(Rc<str>),
    Global {
        module: Rc<str>,
        name: Rc<str>,
        severity: Severity,
        /// The index in [`Scan::imports`](super::Scan::imports) of the import it came from, if it was imported
        /// (not resolved through `getattr`).
        origin: Option<usize>,
    },
    Extension(i32),
    /// The result of a call, with the worst severity that went into it.
    Made(Severity),
    /// A tuple of at most [`MAX_TUPLE`] items (longer ones are `Plain`).
    Tuple(Rc<[Abs]>),
    /// A container holding an imported global as it is (not called), with the worst
    /// severity in it: as a `BUILD` state it plants the global in an object, where
    /// `pickle` may find it as `__setstate__` or `extend` and call it.
    Holder(Severity),
    /// An int literal: its value when it fits 64 bits.
    Int(Option<i64>),
    /// The result of `range(...)`, which a constructor given it would expand.
    Range,
    /// The result of a call of a safe-listed global that returns a process-wide
    /// singleton (`uuid.SafeUUID(0)` is `uuid.SafeUUID.safe`).
    Singleton,
    /// A list, dict, set or bytearray the stream built, holding only plain values: it
    /// cannot be a dict key or a set item (`pickle` raises `TypeError` there).
    Unhashable,
    /// Any other value: numbers, containers, persistent ids.
    Plain,
}

pub(super) const MAX_TUPLE: usize = 4;

/// Deepest tuple nesting kept; deeper tuples collapse, so no walk of an `Abs` (or its
/// drop) recurses more than this.
pub(super) const MAX_TUPLE_DEPTH: usize = 4;

/// A tuple of `items` as the walker keeps it: itself when small and shallow, else what
/// it may carry into a call.
pub(super) fn tuple(items: Vec<Abs>) -> Abs {
    let deep = items.iter().any(|i| i.depth() >= MAX_TUPLE_DEPTH);
    if items.len() <= MAX_TUPLE && !deep {
        return Abs::Tuple(Rc::from(items));
    }
    container(&items)
}

/// A container of `items` (other than a small tuple): what it may carry into a call.
pub(super) fn container(items: &[Abs]) -> Abs {
    match worst(items) {
        s if items.iter().any(Abs::holds_global) => Abs::Holder(s),
        Severity::Safe => Abs::Plain,
        s => Abs::Made(s),
    }
}

pub(super) fn worst(items: &[Abs]) -> Severity {
    items
        .iter()
        .map(Abs::severity)
        .max()
        .unwrap_or(Severity::Safe)
}

impl Abs {
    pub(super) fn severity(&self) -> Severity {
        match self {
            Abs::Global { severity, .. } | Abs::Made(severity) | Abs::Holder(severity) => *severity,
            Abs::Extension(_) => Severity::Dangerous,
            Abs::Tuple(items) => items
                .iter()
                .map(Abs::severity)
                .max()
                .unwrap_or(Severity::Safe),
            Abs::Str(_)
            | Abs::Int(_)
            | Abs::Range
            | Abs::Singleton
            | Abs::Unhashable
            | Abs::Plain => Severity::Safe,
        }
    }

    /// Whether the value is, or holds, an imported global as it is.
    pub(super) fn holds_global(&self) -> bool {
        match self {
            Abs::Global { .. } | Abs::Extension(_) | Abs::Holder(_) => true,
            Abs::Tuple(items) => items.iter().any(Abs::holds_global),
            _ => false,
        }
    }

    /// A value `pickle` could not hash: a built list, dict, set or bytearray, or a
    /// tuple holding one.
    pub(super) fn unhashable(&self) -> bool {
        match self {
            Abs::Unhashable => true,
            Abs::Tuple(items) => items.iter().any(Abs::unhashable),
            _ => false,
        }
    }

    pub(super) fn depth(&self) -> usize {
        match self {
            Abs::Tuple(items) => 1 + items.iter().map(Abs::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    pub(super) fn target(&self) -> Target {
        match self {
            Abs::Global { module, name, .. } => Target::Global {
                module: String::from(&**module),
                name: String::from(&**name),
            },
            Abs::Extension(code) => Target::Extension(*code),
            _ => Target::Built,
        }
    }
}
