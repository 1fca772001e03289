//! The scanner's verdicts: the [`Severity`] of what a stream can do, the [`Target`] of
//! an import or call, and the [`Finding`] that pairs them with an offset and a reason.
//! Not for how they are judged (see [`super::calls`] and [`super::classify()`]).

use alloc::string::String;
use core::fmt;

use crate::error::DecodeErrorKind;

/// How much a stream can do when loaded with `pickle.loads`, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Plain data and the documented harmless standard types (`datetime`, `Decimal`,
    /// `OrderedDict`, `UUID`, `complex`, `Fraction`...).
    Safe,
    /// A global outside every list, typically a class of the application: loading
    /// imports its module (running its top-level code) and runs its constructor or
    /// `__setstate__`. Harmless exactly when that module is trusted.
    Unknown,
    /// Builds code objects, functions, classes or modules from the stream (`types.CodeType`,
    /// `marshal.loads`, the by-value helpers of cloudpickle, dill and brinery): the
    /// stream carries code that runs once the rebuilt objects are used.
    Code,
    /// Runs commands, evaluates code, opens files or connections, imports modules by
    /// name, reaches arbitrary attributes or loads a nested pickle, at load time.
    Dangerous,
}

impl Severity {
    /// The lowercase name printed by the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Safe => "safe",
            Severity::Unknown => "unknown",
            Severity::Code => "code",
            Severity::Dangerous => "dangerous",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an import or call refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `module.name` (`name` may be dotted), after Python 2 names are mapped to
    /// Python 3 as `pickle.loads(fix_imports=True)` does.
    Global { module: String, name: String },
    /// An entry of the copyreg extension registry (`EXT1`/`EXT2`/`EXT4`).
    Extension(i32),
    /// A `STACK_GLOBAL` whose module or name is not a string literal.
    Dynamic,
    /// A value the stream built: the result of a call, a persistent id, a literal.
    Built,
    /// The stream's framing: frame and opcode boundaries disagree, so the file
    /// unpickler reads other opcodes than this scan does.
    Frame,
    /// A decoding limit the safe loaders apply by default
    /// ([`Limits::for_input`](crate::Limits::for_input)) that the stream exceeds: every
    /// safe loader refuses it there, whatever it imports ([`Scan::limit`]); or a memo
    /// key past the memo limit, for which `pickle.loads` itself allocates.
    ///
    /// [`Scan::limit`]: super::Scan::limit
    Limit(DecodeErrorKind),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Global { module, name } => write!(f, "{module}.{name}"),
            Target::Extension(code) => write!(f, "extension code {code}"),
            Target::Dynamic => f.write_str("global with a computed name"),
            Target::Built => f.write_str("object built by the stream"),
            Target::Frame => f.write_str("frame boundary"),
            Target::Limit(kind) => write!(f, "{kind}"),
        }
    }
}

/// One global the stream imports, or one call it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Offset of the opcode.
    pub offset: usize,
    /// The opcode's `pickletools` name (`GLOBAL`, `REDUCE`...).
    pub opcode: &'static str,
    pub target: Target,
    pub severity: Severity,
    /// Why it has that severity.
    pub reason: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>8}: {:<12} {:<9} {} ({})",
            self.offset, self.opcode, self.severity, self.target, self.reason
        )
    }
}
