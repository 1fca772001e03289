//! The globals allowlist: the one rule every binding uses to decide which `module.name`
//! references a stream may contain when decoding untrusted data.
//!
//! An entry is either an exact name, `module.name` (matched against the global's module
//! and name joined by a dot, so `a.b.c` admits both module `a.b` name `c` and module `a`
//! name `b.c`), or a wildcard `module.*`, which admits only that module's own public
//! top-level names: `name` has no dot and does not start with `_`. So `uuid.*` admits
//! `uuid.UUID` but neither `uuid.os.system` nor `uuid.UUID.__init__.__globals__` nor
//! `uuid._get_command_stdout`, and not the submodule `uuid.sub`'s names either.
//!
//! The decoder applies it as it reads each `GLOBAL`, `STACK_GLOBAL`, `INST` and
//! `EXT1/2/4`, so a refused global is a [`DecodeErrorKind::Forbidden`] carrying the byte
//! offset of the opcode that names it (see [`DecodeOptions::allow`]). Extension codes
//! are refused unless the host registers what they stand for (as `copyreg` does) with
//! [`Allowlist::register_extension`]; the registered global is then checked like any
//! other. Not a classification of globals (that is [`crate::scan`], which only judges)
//! and not an argument check (what a host calls with which arguments is the host's).
//!
//! [`DecodeErrorKind::Forbidden`]: crate::DecodeErrorKind::Forbidden
//! [`DecodeOptions::allow`]: crate::DecodeOptions::allow

use alloc::borrow::ToOwned;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::value::{Tree, ValueRef};

/// The known-safe globals: they only build plain data or harmless standard values.
/// Python's `safe_loads` allows exactly these by default (checking their arguments),
/// and the scanner judges exactly these [`Severity::Safe`](crate::scan::Severity), so a
/// scan passes only what the safe loader would load.
pub const SAFE_GLOBALS: &[(&str, &str)] = &[
    ("builtins", "bool"),
    ("builtins", "bytearray"),
    ("builtins", "bytes"),
    ("builtins", "complex"),
    ("builtins", "dict"),
    ("builtins", "Ellipsis"),
    ("builtins", "float"),
    ("builtins", "frozenset"),
    ("builtins", "int"),
    ("builtins", "list"),
    ("builtins", "NoneType"),
    ("builtins", "NotImplemented"),
    ("builtins", "object"),
    ("builtins", "range"),
    ("builtins", "set"),
    ("builtins", "slice"),
    ("builtins", "str"),
    ("builtins", "tuple"),
    ("_codecs", "encode"),
    ("codecs", "encode"),
    ("collections", "Counter"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("copyreg", "_reconstructor"),
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("fractions", "Fraction"),
    ("uuid", "SafeUUID"),
    ("uuid", "UUID"),
];

/// The globals the decoder lowers to plain values (`_codecs.encode(s, 'latin1')`,
/// `bytes(b)`, `set(list)`, ...; see the decoder's module docs) when it keeps no
/// reductions. Their reductions never reach the host, so an allowlist need not name
/// them; a bare reference that reaches the value is still checked by
/// [`Allowlist::check_tree`].
const LOWERED: &[(&str, &str)] = &[
    ("_codecs", "encode"),
    ("builtins", "bytearray"),
    ("builtins", "bytes"),
    ("builtins", "dict"),
    ("builtins", "frozenset"),
    ("builtins", "list"),
    ("builtins", "set"),
    ("builtins", "tuple"),
    ("copyreg", "_reconstructor"),
];

/// A set of allowed globals, plus the extension codes the host can resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    exact: BTreeSet<String>,
    modules: BTreeSet<String>,
    extensions: BTreeMap<i32, (String, String)>,
}

impl Allowlist {
    /// An allowlist admitting these entries (`module.name` or `module.*`).
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list = Allowlist::default();
        for e in entries {
            list.insert(e);
        }
        list
    }

    /// An allowlist of [`SAFE_GLOBALS`].
    pub fn safe_globals() -> Self {
        let mut list = Allowlist::default();
        for (m, n) in SAFE_GLOBALS {
            list.exact.insert(format!("{m}.{n}"));
        }
        list
    }

    /// Adds one entry (`module.name` or `module.*`).
    pub fn insert(&mut self, entry: &str) {
        match entry.strip_suffix(".*") {
            Some(module) => self.modules.insert(module.to_owned()),
            None => self.exact.insert(entry.to_owned()),
        };
    }

    /// Records that extension `code` stands for `module.name` (`copyreg.add_extension`).
    /// The decoder then checks that global when a stream uses the code; unregistered
    /// codes are refused.
    pub fn register_extension(&mut self, code: i32, module: &str, name: &str) {
        self.extensions
            .insert(code, (module.to_owned(), name.to_owned()));
    }

    /// The global extension `code` stands for, when the host registered it.
    pub fn extension(&self, code: i32) -> Option<(&str, &str)> {
        self.extensions
            .get(&code)
            .map(|(m, n)| (m.as_str(), n.as_str()))
    }

    /// Whether `module.name` is admitted: an exact entry, or a `module.*` entry and
    /// `name` is one of `module`'s own public top-level names.
    pub fn allows(&self, module: &str, name: &str) -> bool {
        let top_level = !name.is_empty() && !name.contains('.') && !name.starts_with('_');
        (top_level && self.modules.contains(module))
            || (!self.exact.is_empty() && self.exact.contains(&format!("{module}.{name}")))
    }

    /// Whether the decoder may let `module.name` through at the opcode that names it:
    /// admitted, or a global whose calls the decoder lowers to plain values (when
    /// `lowering` is on); such a global is checked again if it reaches the value.
    pub(crate) fn admits_while_decoding(&self, module: &str, name: &str, lowering: bool) -> bool {
        self.allows(module, name) || (lowering && LOWERED.contains(&(module, name)))
    }

    /// Why extension `code` is refused, or `None` when it stands for an allowed global.
    pub fn refuse_extension(&self, code: i32) -> Option<DecodeErrorKind> {
        match self.extension(code) {
            Some((m, n)) if self.allows(m, n) => None,
            Some((m, n)) => Some(DecodeErrorKind::Forbidden(format!("{m}.{n}"))),
            None => Some(DecodeErrorKind::ForbiddenExtension(code)),
        }
    }

    /// The first node reachable from the root of a decoded tree naming a global the
    /// list does not admit: the globals the decoder let through because their calls are
    /// lowered, used as values instead. The tree keeps no offsets, so the error carries
    /// `end`, the offset of the stream's `STOP`.
    pub fn check_tree(&self, tree: &Tree, end: usize) -> Result<(), DecodeError> {
        if tree.is_empty() {
            return Ok(());
        }
        let mut seen = vec![false; tree.len()];
        let mut todo = vec![tree.root()];
        while let Some(id) = todo.pop() {
            if core::mem::replace(&mut seen[id], true) {
                continue;
            }
            let node = tree.get(id);
            node.for_each_child(|c| todo.push(c));
            let refused = match node {
                ValueRef::Global { module, name } if !self.allows(module, name) => {
                    Some(DecodeErrorKind::Forbidden(format!("{module}.{name}")))
                }
                ValueRef::Extension(code) => self.refuse_extension(code),
                _ => None,
            };
            if let Some(kind) = refused {
                return Err(DecodeError::new(kind, end));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_join_module_and_name() {
        let list = Allowlist::new(["collections.OrderedDict", "a.b.c"]);
        assert!(list.allows("collections", "OrderedDict"));
        assert!(list.allows("a.b", "c") && list.allows("a", "b.c"));
        assert!(!list.allows("collections", "Counter"));
    }

    #[test]
    fn wildcards_admit_only_the_modules_own_public_top_level_names() {
        let list = Allowlist::new(["uuid.*"]);
        assert!(list.allows("uuid", "UUID"));
        assert!(!list.allows("uuid", "os.system"));
        assert!(!list.allows("uuid", "UUID.__init__.__globals__"));
        assert!(!list.allows("uuid", "_get_command_stdout"));
        assert!(!list.allows("uuid", "__builtins__"));
        assert!(!list.allows("uuid.sub", "x"));
        assert!(!list.allows("uuid", ""));
    }

    #[test]
    fn extensions_are_refused_unless_registered_and_allowed() {
        let mut list = Allowlist::new(["m.Point"]);
        assert_eq!(
            list.refuse_extension(66),
            Some(DecodeErrorKind::ForbiddenExtension(66))
        );
        list.register_extension(66, "m", "Point");
        list.register_extension(67, "os", "system");
        assert_eq!(list.refuse_extension(66), None);
        assert_eq!(
            list.refuse_extension(67),
            Some(DecodeErrorKind::Forbidden("os.system".into()))
        );
    }
}
