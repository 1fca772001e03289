//! The safe loaders' default limits, applied to the scanned stream: a stream one of
//! them refuses for a limit is not safe, whatever it imports. The limits are the core's
//! [`Limits::for_input`], the one source every safe loader takes its defaults from, and
//! they are checked the way the loaders check them. Not for malformed streams: the walk
//! reports those ([`super::Scan::error`]).

use super::machine::Walker;
use super::{Finding, Severity, Target};
use crate::decode::DecodeOptions;
use crate::error::{DecodeError, DecodeErrorKind, DecodeErrorKind as K};
use crate::limits::Limits;
use crate::opinfo;

/// Whether the decoder refused for a limit (rather than a malformed stream).
fn is_limit(kind: &DecodeErrorKind) -> bool {
    matches!(
        kind,
        K::TooDeep(_) | K::MemoLimit(_) | K::AllocLimit(_) | K::Expands(_)
    )
}

impl Walker<'_> {
    /// Checks the stream against the limits every safe loader applies by default
    /// ([`Limits::for_input`]), as they check them: the core decoder's marks, memo and
    /// allocation bounds, then the value's nesting depth and its size written out as a
    /// tree (a DAG whose levels each hold the level below twice is exponential there:
    /// `pickle.loads` hashes dict keys and `repr` prints that way). Nothing runs, and
    /// each check is linear. A stream over a limit is `unknown` at the offset where the
    /// safe loaders refuse it, whatever it imports.
    pub(super) fn limits(&mut self) {
        let mut opts = DecodeOptions::new();
        opts.limits = Limits::for_input(self.data.len());
        let Limits {
            max_depth,
            max_alloc,
            ..
        } = opts.limits;
        let over = match crate::decode::decode_prefix(self.data, &opts) {
            Ok((tree, used)) if tree.nests_deeper_than(max_depth) => {
                Some(DecodeError::new(K::TooDeep(max_depth), used - 1))
            }
            Ok((tree, used)) => tree.check_expanded(max_alloc, used - 1).err(),
            Err(e) if is_limit(&e.kind) => Some(e),
            // Malformed streams are the walk's business ([`Scan::error`]).
            Err(_) => None,
        };
        let Some(e) = over else {
            return;
        };
        let opcode = self
            .data
            .get(e.offset)
            .and_then(|&c| opinfo::lookup(c))
            .map_or("STOP", |info| info.name);
        self.out.calls.push(Finding {
            offset: e.offset,
            opcode,
            target: Target::Limit(e.kind.clone()),
            severity: Severity::Unknown,
            reason: "over a default limit of the safe loaders, which refuse the stream here",
        });
        self.out.limit = Some(e);
    }
}
