//! The scanner's report on one stream: its imports and calls in stream order, where
//! the walk stopped, and the first default limit of the safe loaders it exceeds, with
//! the questions a caller asks of them (the worst severity, what is flagged). Not for
//! how findings are made (see [`super::machine`]).

use alloc::vec::Vec;

use super::{Finding, Severity, Target};
use crate::error::DecodeError;

/// Everything [`scan`](super::scan) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Globals imported (`GLOBAL`, `STACK_GLOBAL`, `INST`, `EXT1`/`EXT2`/`EXT4`), in
    /// stream order.
    pub imports: Vec<Finding>,
    /// Calls made (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST`, `OBJ`, `BUILD` on an object
    /// that is not a plain container), in stream order.
    pub calls: Vec<Finding>,
    /// The protocol announced by `PROTO`, or 0.
    pub protocol: u8,
    /// Bytes up to and including `STOP`, when the stream got that far.
    pub end: Option<usize>,
    /// Where and why the walk stopped early (the stream would fail to load there).
    pub error: Option<DecodeError>,
    /// The first default limit of the safe loaders ([`Limits::for_input`](crate::Limits::for_input)) the stream
    /// exceeds, with the offset where they refuse it (also a finding of severity
    /// [`Severity::Unknown`] among [`Scan::calls`]).
    pub limit: Option<DecodeError>,
}

impl Scan {
    /// The worst severity of any import or call ([`Severity::Safe`] when there are none).
    pub fn severity(&self) -> Severity {
        self.imports
            .iter()
            .chain(&self.calls)
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Safe)
    }

    /// Imports and calls at or above `level`, in stream order.
    pub fn flagged(&self, level: Severity) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self
            .imports
            .iter()
            .chain(&self.calls)
            .filter(|f| f.severity >= level)
            .collect();
        v.sort_by_key(|f| f.offset);
        v
    }

    /// The offset of the first import of `module.name`, if the stream imports it.
    pub fn offset_of(&self, module: &str, name: &str) -> Option<usize> {
        self.imports.iter().find_map(|f| match &f.target {
            Target::Global { module: m, name: n } if m == module && n == name => Some(f.offset),
            _ => None,
        })
    }
}
