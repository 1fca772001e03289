//! The safe loaders' default limits, applied to the scanned stream: a stream one of
//! them refuses for a limit is not safe, whatever it imports. The limits are the core's
//! [`Limits::for_input`], the one source every safe loader takes its defaults from, and
//! they are checked the way the loaders check them. And a memo key past that memo limit,
//! for which `pickle.loads` itself allocates: CPython grows its memo array to the key.
//! Not for malformed streams: the walk reports those ([`super::Scan::error`]).

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
    /// `PUT`, `BINPUT`, `LONG_BINPUT` of `key`: a key at or past the memo limit of the
    /// safe loaders (one entry per input byte) is `unknown`. CPython's pickler numbers
    /// memo entries from 0 and writes at least a byte for each, so no stream it writes
    /// has such a key; `pickle.loads` grows its memo array to twice the key (16 bytes a
    /// slot: `LONG_BINPUT` 74,545,522 costs it 1.2 GB and 5 s). The safe loaders keep
    /// the memo sparse, and accept it.
    pub(super) fn memo_key_bound(&mut self, opcode: &'static str, key: u64) {
        let max = Limits::for_input(self.data.len()).max_memo;
        if self.far_memo_key || key < max as u64 {
            return;
        }
        self.far_memo_key = true;
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: Target::Limit(K::MemoLimit(max)),
            severity: Severity::Unknown,
            reason: "a memo key past the stream's length: pickle.loads grows its memo \
                     to twice the key, 16 bytes a slot",
        });
    }

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
