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
//! from [`classify`]; it judges what a stream *can* do, not what data it carries, and is
//! not an allowlist for loading (see each binding's safe loader for that).

mod classify;

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use classify::{classify, is_safe, safe_globals};

use crate::decode::text::{self, Text};
use crate::decode::DecodeOptions;
use crate::error::{DecodeError, DecodeErrorKind, DecodeErrorKind as K};
use crate::limits::Limits;
use crate::numbers::{number_text_ok, MAX_DIGITS};
use crate::opcode::*;
use crate::opinfo::{self, ArgKind};

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
    /// A decoding limit the safe loaders apply by default ([`Limits::for_input`]) that
    /// the stream exceeds: every safe loader refuses it there, whatever it imports.
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

/// Everything [`scan`] found.
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
    /// The first default limit of the safe loaders ([`Limits::for_input`]) the stream
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

/// Scans the first pickle in `data`. Never fails: a malformed stream yields the findings
/// up to the malformed opcode, with [`Scan::error`] set.
pub fn scan(data: &[u8]) -> Scan {
    let mut w = Walker {
        data,
        pos: 0,
        op: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: BTreeMap::new(),
        out: Scan::default(),
        getattr_static: Vec::new(),
        getattr_dynamic: Vec::new(),
        frame_end: 0,
    };
    if let Err(e) = w.run() {
        w.out.error = Some(e);
    }
    w.finish();
    w.limits();
    w.out
}

/// Why a call of the safe-listed `module.name` with these (literal) arguments is not
/// harmless, by the argument rules `safe_loads` applies: a range a constructor would
/// expand, an int size, a codec other than Latin-1/UTF-8/ASCII, a keyword argument to
/// a text conversion, a number of more than 4,300 digits or exponent, `_reconstructor`
/// state that its base would read as a size. Arguments the walk does not know (a
/// tuple longer than it keeps) are left to the other judgments.
fn hostile_args(
    module: &str,
    name: &str,
    args: Option<&Abs>,
    kwargs: Option<&Abs>,
) -> Option<&'static str> {
    let items: &[Abs] = match args {
        Some(Abs::Tuple(items)) => items,
        _ => &[],
    };
    if items.iter().any(|a| matches!(a, Abs::Range)) {
        return Some("a range argument, which the constructor expands");
    }
    let text = matches!(
        (module, name),
        ("builtins", "bytearray" | "bytes" | "str") | ("_codecs" | "codecs", "encode")
    );
    let number = matches!(
        (module, name),
        ("builtins", "int" | "float" | "complex")
            | ("decimal", "Decimal")
            | ("fractions", "Fraction")
    );
    if text {
        if kwargs.is_some() {
            return Some("keyword arguments to a text conversion");
        }
        if items.iter().any(|a| matches!(a, Abs::Int(_))) {
            return Some("an int size argument, which allocates that many bytes");
        }
        if let Some(enc) = items.get(1) {
            let ok = matches!(enc, Abs::Str(e) if {
                let e = e.to_ascii_lowercase().replace(['-', '_'], "");
                matches!(e.as_str(), "latin1" | "iso88591" | "utf8" | "ascii")
            });
            if !ok {
                return Some("an encoding other than Latin-1, UTF-8 or ASCII");
            }
        }
    }
    if number {
        for a in items {
            match a {
                Abs::Str(s) if !number_text_ok(s) => {
                    return Some("a number of more than 4,300 digits or exponent")
                }
                Abs::Str(s) if name == "Fraction" && s.contains(['e', 'E']) => {
                    return Some("a Fraction with an exponent")
                }
                Abs::Tuple(t) if t.len() == 3 => {
                    // `Decimal((sign, digits, exponent))`.
                    if let Abs::Int(e) = &t[2] {
                        if !e.is_some_and(|e| e.unsigned_abs() <= MAX_DIGITS as u64) {
                            return Some("a Decimal exponent beyond 4,300");
                        }
                    }
                }
                Abs::Int(None) => return Some("an int of more than 64 bits to a number type"),
                _ => {}
            }
        }
    }
    if (module, name) == ("copyreg", "_reconstructor") && items.len() == 3 {
        if let (
            Abs::Global {
                module: m, name: n, ..
            },
            Abs::Int(_),
        ) = (&items[1], &items[2])
        {
            if &**m == "builtins" && matches!(&**n, "bytearray" | "bytes" | "str") {
                return Some("an int size through _reconstructor");
            }
        }
    }
    None
}

/// What the walker knows about one stack slot.
#[derive(Debug, Clone)]
enum Abs {
    Str(Rc<str>),
    Global {
        module: Rc<str>,
        name: Rc<str>,
        severity: Severity,
        /// The index in [`Scan::imports`] of the import it came from, if it was imported
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

const MAX_TUPLE: usize = 4;

/// Deepest tuple nesting kept; deeper tuples collapse, so no walk of an `Abs` (or its
/// drop) recurses more than this.
const MAX_TUPLE_DEPTH: usize = 4;

/// A tuple of `items` as the walker keeps it: itself when small and shallow, else what
/// it may carry into a call.
fn tuple(items: Vec<Abs>) -> Abs {
    let deep = items.iter().any(|i| i.depth() >= MAX_TUPLE_DEPTH);
    if items.len() <= MAX_TUPLE && !deep {
        return Abs::Tuple(Rc::from(items));
    }
    container(&items)
}

/// A container of `items` (other than a small tuple): what it may carry into a call.
fn container(items: &[Abs]) -> Abs {
    match worst(items) {
        s if items.iter().any(Abs::holds_global) => Abs::Holder(s),
        Severity::Safe => Abs::Plain,
        s => Abs::Made(s),
    }
}

fn worst(items: &[Abs]) -> Severity {
    items
        .iter()
        .map(Abs::severity)
        .max()
        .unwrap_or(Severity::Safe)
}

impl Abs {
    fn severity(&self) -> Severity {
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
    fn holds_global(&self) -> bool {
        match self {
            Abs::Global { .. } | Abs::Extension(_) | Abs::Holder(_) => true,
            Abs::Tuple(items) => items.iter().any(Abs::holds_global),
            _ => false,
        }
    }

    /// A value `pickle` could not hash: a built list, dict, set or bytearray, or a
    /// tuple holding one.
    fn unhashable(&self) -> bool {
        match self {
            Abs::Unhashable => true,
            Abs::Tuple(items) => items.iter().any(Abs::unhashable),
            _ => false,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Abs::Tuple(items) => 1 + items.iter().map(Abs::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn target(&self) -> Target {
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

type R<T> = Result<T, DecodeError>;

/// Whether the decoder refused for a limit (rather than a malformed stream).
fn is_limit(kind: &DecodeErrorKind) -> bool {
    matches!(
        kind,
        K::TooDeep(_) | K::MemoLimit(_) | K::AllocLimit(_) | K::Expands(_)
    )
}

struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    op: usize,
    stack: Vec<Abs>,
    marks: Vec<usize>,
    memo: BTreeMap<u64, Abs>,
    out: Scan,
    /// Imports of `getattr` (by index) and the severity of each fixed attribute reached.
    getattr_static: Vec<(usize, Severity)>,
    /// Imports of `getattr` used any other way as a callable.
    getattr_dynamic: Vec<usize>,
    /// Where the current frame ends, or 0 outside frames (see [`Walker::run`]).
    frame_end: usize,
}

impl<'a> Walker<'a> {
    fn run(&mut self) -> R<()> {
        loop {
            // CPython's file unpickler reads an opcode that runs past its frame's end
            // from after the frame and drops the rest of the frame: `pickle.load(file)`
            // then runs opcodes this walk (and `pickle.loads`) never sees.
            if self.frame_end != 0 && self.pos >= self.frame_end {
                if self.pos > self.frame_end {
                    self.out.calls.push(Finding {
                        offset: self.op,
                        opcode: "FRAME",
                        target: Target::Frame,
                        severity: Severity::Dangerous,
                        reason: "an opcode runs across its frame's end: pickle.load(file) \
                                 runs opcodes this scan does not see",
                    });
                    return Err(self.fail(K::FrameCrossed));
                }
                self.frame_end = 0;
            }
            self.op = self.pos;
            let Some(&code) = self.data.get(self.pos) else {
                return Err(self.fail(K::NoStop));
            };
            self.pos += 1;
            let Some(info) = opinfo::lookup(code) else {
                return Err(self.fail(K::UnknownOpcode(code)));
            };
            if code == STOP {
                self.pop()?;
                self.out.end = Some(self.pos);
                return Ok(());
            }
            self.step(code, info)?;
        }
    }

    fn step(&mut self, code: u8, info: &'static opinfo::OpInfo) -> R<()> {
        match code {
            PROTO => {
                let p = self.take(1)?[0];
                if p > crate::HIGHEST_PROTOCOL {
                    return Err(self.fail(K::UnsupportedProtocol(p)));
                }
                self.out.protocol = p;
            }
            SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                let raw = self.arg(info.arg)?;
                match core::str::from_utf8(raw) {
                    Ok(s) => self.stack.push(Abs::Str(Rc::from(s))),
                    Err(_) if text::is_surrogatepass_utf8(raw) => self.stack.push(Abs::Plain),
                    Err(_) => return Err(self.fail(K::BadUtf8)),
                }
            }
            UNICODE => {
                let raw = self.arg(info.arg)?;
                match text::raw_unicode_escape(raw).map_err(|m| self.bad(m))? {
                    Text::Utf8(s) => self.stack.push(Abs::Str(Rc::from(s.as_str()))),
                    Text::Surrogates(_) => self.stack.push(Abs::Plain),
                }
            }
            SHORT_BINSTRING | BINSTRING | STRING => {
                let raw = self.arg(info.arg)?;
                let bytes = if code == STRING {
                    text::string_literal(raw).map_err(|m| self.bad(m))?
                } else {
                    raw.to_vec()
                };
                // `pickle.loads`' default encoding is ASCII; other bytes fail there.
                match core::str::from_utf8(&bytes) {
                    Ok(s) if s.is_ascii() => self.stack.push(Abs::Str(Rc::from(s))),
                    _ => self.stack.push(Abs::Plain),
                }
            }
            FRAME => {
                let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap_or([0; 8]));
                if self.frame_end != 0 {
                    self.out.calls.push(Finding {
                        offset: self.op,
                        opcode: "FRAME",
                        target: Target::Frame,
                        severity: Severity::Dangerous,
                        reason: "a frame starts inside another: pickle.load(file) reads \
                                 a different stream",
                    });
                    return Err(self.fail(K::FrameCrossed));
                }
                let left = (self.data.len() - self.pos) as u64;
                self.frame_end = if n == 0 || n > left {
                    0
                } else {
                    self.pos + n as usize
                };
            }
            BININT1 | BININT2 | BININT => {
                let raw = self.arg(info.arg)?;
                let v = match raw.len() {
                    1 => i64::from(raw[0]),
                    2 => i64::from(u16::from_le_bytes([raw[0], raw[1]])),
                    _ => i64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
                };
                self.stack.push(Abs::Int(Some(v)));
            }
            LONG1 | LONG4 => {
                let raw = self.arg(info.arg)?;
                let v = (raw.len() <= 8).then(|| crate::pyfmt::le_to_i64(raw));
                self.stack.push(Abs::Int(v));
            }
            INT | LONG => {
                let raw = self.arg(info.arg)?;
                let text = core::str::from_utf8(raw)
                    .unwrap_or("")
                    .trim_end_matches('L');
                self.stack.push(match text {
                    // `I01`/`I00` are Python 2 bools.
                    "01" | "00" => Abs::Plain,
                    t => Abs::Int(t.parse().ok()),
                });
            }
            MARK => {
                self.marks.push(self.stack.len());
            }
            POP => {
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            POP_MARK => {
                let k = self.pop_mark()?;
                self.stack.truncate(k);
            }
            DUP => {
                let top = self.top()?.clone();
                self.stack.push(top);
            }
            GET | BINGET | LONG_BINGET => {
                let key = self.memo_key(code, info.arg)?;
                let Some(v) = self.memo.get(&key) else {
                    return Err(self.fail(K::MemoKeyMissing(key)));
                };
                self.stack.push(v.clone());
            }
            PUT | BINPUT | LONG_BINPUT => {
                let key = self.memo_key(code, info.arg)?;
                let v = self.top()?.clone();
                self.memo.insert(key, v);
            }
            MEMOIZE => {
                let key = self.memo.len() as u64;
                let v = self.top()?.clone();
                self.memo.insert(key, v);
            }
            EMPTY_TUPLE => self.stack.push(Abs::Tuple(Rc::from([]))),
            TUPLE1 | TUPLE2 | TUPLE3 => {
                let n = (code - TUPLE1 + 1) as usize;
                let items = self.pop_n(n)?;
                self.stack.push(tuple(items));
            }
            TUPLE => {
                let k = self.pop_mark()?;
                let items = self.stack.split_off(k);
                self.stack.push(tuple(items));
            }
            GLOBAL => {
                let module = self.name_line()?;
                let name = self.name_line()?;
                let g = self.import("GLOBAL", module, name);
                self.stack.push(g);
            }
            STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                let g = match (module, name) {
                    (Abs::Str(m), Abs::Str(n)) => self.import("STACK_GLOBAL", &m, &n),
                    _ => {
                        self.record_import(
                            "STACK_GLOBAL",
                            Target::Dynamic,
                            Severity::Dangerous,
                            "module or name is not a string literal",
                        );
                        Abs::Made(Severity::Dangerous)
                    }
                };
                self.stack.push(g);
            }
            EXT1 | EXT2 | EXT4 => {
                let raw = self.arg(info.arg)?;
                let mut le = [0u8; 4];
                le[..raw.len()].copy_from_slice(raw);
                let code = i32::from_le_bytes(le);
                if code <= 0 {
                    return Err(self.bad("EXT specifies code <= 0"));
                }
                self.record_import(
                    info.name,
                    Target::Extension(code),
                    Severity::Dangerous,
                    "the copyreg extension registry can name any global",
                );
                self.stack.push(Abs::Extension(code));
            }
            REDUCE => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let result = self.call("REDUCE", &callable, Some(&args), None);
                self.stack.push(result);
            }
            NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let result = self.call("NEWOBJ", &cls, Some(&args), None);
                self.stack.push(result);
            }
            NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let result = self.call("NEWOBJ_EX", &cls, Some(&args), Some(&kwargs));
                self.stack.push(result);
            }
            INST => {
                let k = self.pop_mark()?;
                let args = tuple(self.stack.split_off(k));
                let module = self.name_line()?;
                let name = self.name_line()?;
                let cls = self.import("INST", module, name);
                let result = self.call("INST", &cls, Some(&args), None);
                self.stack.push(result);
            }
            OBJ => {
                let k = self.pop_mark()?;
                if self.stack.len() == k {
                    return Err(self.fail(K::StackUnderflow));
                }
                let cls = self.stack[k].clone();
                let args = tuple(self.stack.split_off(k + 1));
                self.stack.truncate(k);
                let result = self.call("OBJ", &cls, Some(&args), None);
                self.stack.push(result);
            }
            BUILD => {
                let state = self.pop()?;
                let target = self.top()?.clone();
                let built = self.build(&target, &state);
                if let Some(top) = self.stack.last_mut() {
                    *top = built;
                }
            }
            APPEND | SETITEM => {
                let n = if code == APPEND { 1 } else { 2 };
                let items = self.pop_n(n)?;
                self.top()?;
                if code == SETITEM {
                    self.hashable(info.name, &items[..1])?;
                }
                self.taint_top(&items);
            }
            APPENDS | SETITEMS | ADDITEMS => {
                let k = self.pop_mark()?;
                let items = self.stack.split_off(k);
                self.top()?;
                match code {
                    SETITEMS => self.hashable(info.name, items.iter().step_by(2))?,
                    ADDITEMS => self.hashable(info.name, &items)?,
                    _ => {}
                }
                self.taint_top(&items);
            }
            DICT | FROZENSET => {
                // Checked before `generic` takes the items off the stack.
                let k = self
                    .marks
                    .last()
                    .copied()
                    .unwrap_or(0)
                    .min(self.stack.len());
                let keys: Vec<Abs> = if code == DICT {
                    self.stack[k..].iter().step_by(2).cloned().collect()
                } else {
                    self.stack[k..].to_vec()
                };
                self.hashable(info.name, &keys)?;
                self.generic(info)?;
                self.mark_unhashable(code);
            }
            _ => {
                self.generic(info)?;
                self.mark_unhashable(code);
            }
        }
        Ok(())
    }

    /// Refuses, as `pickle` would with a `TypeError`, a dict key or set item that
    /// cannot be hashed (a list used as a key): the stream cannot load, whatever it
    /// imports, so the scan does not call it safe.
    fn hashable<'k>(&self, opcode: &'static str, keys: impl IntoIterator<Item = &'k Abs>) -> R<()> {
        if keys.into_iter().any(Abs::unhashable) {
            return Err(self.fail(K::WrongType(opcode, "hashable key")));
        }
        Ok(())
    }

    /// A list, dict, set or bytearray just built from plain values is unhashable.
    fn mark_unhashable(&mut self, code: u8) {
        if matches!(
            code,
            EMPTY_LIST | LIST | EMPTY_DICT | DICT | EMPTY_SET | BYTEARRAY8
        ) {
            if let Some(top @ Abs::Plain) = self.stack.last_mut() {
                *top = Abs::Unhashable;
            }
        }
    }

    /// Opcodes that only move plain values: read the argument, then pop and push
    /// as the opcode table says.
    fn generic(&mut self, info: &'static opinfo::OpInfo) -> R<()> {
        self.arg(info.arg)?;
        let mut taken = Vec::new();
        if info.mark {
            let k = self.pop_mark()?;
            taken = self.stack.split_off(k);
        }
        taken.extend(self.pop_n(info.pops)?);
        // A container holding a global is as bad as the global: it may reach a call.
        let pushed = container(&taken);
        for _ in 0..info.pushes {
            self.stack.push(pushed.clone());
        }
        Ok(())
    }

    /// Raises the severity of the top of the stack to at least `sev` (items were added
    /// to it).
    fn taint_top(&mut self, items: &[Abs]) {
        let sev = worst(items);
        let holds = items.iter().any(Abs::holds_global);
        if let Some(top) = self.stack.last_mut() {
            if holds && !top.holds_global() {
                *top = Abs::Holder(sev.max(top.severity()));
            } else if sev > top.severity() {
                *top = match top {
                    Abs::Holder(_) => Abs::Holder(sev),
                    _ => Abs::Made(sev),
                };
            }
        }
    }

    // ---- findings ----

    fn record_import(
        &mut self,
        opcode: &'static str,
        target: Target,
        sev: Severity,
        why: &'static str,
    ) {
        self.out.imports.push(Finding {
            offset: self.op,
            opcode,
            target,
            severity: sev,
            reason: why,
        });
    }

    /// Records the import of `module.name` (mapped to Python 3 names below protocol 3)
    /// and returns its stack value.
    fn import(&mut self, opcode: &'static str, module: &str, name: &str) -> Abs {
        let (module, name) = if self.out.protocol < 3 {
            crate::compat::to_python3(module, name)
        } else {
            (module, name)
        };
        let (severity, why) = classify(module, name);
        self.record_import(
            opcode,
            Target::Global {
                module: module.into(),
                name: name.into(),
            },
            severity,
            why,
        );
        Abs::Global {
            module: Rc::from(module),
            name: Rc::from(name),
            severity,
            origin: Some(self.out.imports.len() - 1),
        }
    }

    /// Records a call of `callee` and returns what the stack holds afterwards.
    fn call(
        &mut self,
        opcode: &'static str,
        callee: &Abs,
        args: Option<&Abs>,
        kwargs: Option<&Abs>,
    ) -> Abs {
        if kwargs.is_none() {
            if let Some(result) = self.static_getattr(opcode, callee, args) {
                return result;
            }
        }
        if let Abs::Global {
            module,
            name,
            severity: Severity::Safe,
            ..
        } = callee
        {
            if let Some(why) = hostile_args(module, name, args, kwargs) {
                self.out.calls.push(Finding {
                    offset: self.op,
                    opcode,
                    target: callee.target(),
                    severity: Severity::Unknown,
                    reason: why,
                });
                return Abs::Made(Severity::Unknown);
            }
            match (&**module, &**name) {
                ("builtins", "range") => {
                    self.record_safe_call(opcode, callee);
                    return Abs::Range;
                }
                ("uuid", "SafeUUID") => {
                    self.record_safe_call(opcode, callee);
                    return Abs::Singleton;
                }
                _ => {}
            }
        }
        // Keyword arguments count as arguments.
        let both;
        let args = match (args, kwargs) {
            (Some(a), Some(k)) => {
                both = tuple(alloc::vec![a.clone(), k.clone()]);
                Some(&both)
            }
            (a, _) => a,
        };
        let (severity, why) = match callee {
            Abs::Global { severity, .. } => (*severity, "calls an imported global"),
            Abs::Extension(_) => (Severity::Dangerous, "calls an extension registry entry"),
            // A computed callable is as bad as what went into computing it: a dangerous
            // global or a dynamic `getattr` taints it (CPython itself calls a
            // `functools.partial` of `cls.__new__` for `NEWOBJ_EX` below protocol 4).
            other => (
                other.severity().max(Severity::Unknown),
                "calls an object the stream built",
            ),
        };
        // Arguments that are themselves dangerous globals (`map(os.system, ...)`)
        // make the call as bad as they are.
        let arg_sev = args.map_or(Severity::Safe, Abs::severity);
        let (severity, why) = if arg_sev > severity {
            (arg_sev, "an argument is a global of this severity")
        } else {
            (severity, why)
        };
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: callee.target(),
            severity,
            reason: why,
        });
        Abs::Made(severity)
    }

    /// Checks the stream against the limits every safe loader applies by default
    /// ([`Limits::for_input`]), as they check them: the core decoder's marks, memo and
    /// allocation bounds, then the value's nesting depth and its size written out as a
    /// tree (a DAG whose levels each hold the level below twice is exponential there:
    /// `pickle.loads` hashes dict keys and `repr` prints that way). Nothing runs, and
    /// each check is linear. A stream over a limit is `unknown` at the offset where the
    /// safe loaders refuse it, whatever it imports.
    fn limits(&mut self) {
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

    /// Records a call of a safe-listed global with harmless arguments.
    fn record_safe_call(&mut self, opcode: &'static str, callee: &Abs) {
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: callee.target(),
            severity: Severity::Safe,
            reason: "calls an imported global",
        });
    }

    /// `getattr(module.name, "attr")` through `REDUCE`: judged as the global
    /// `module.name.attr`. Every other use of an imported `getattr` as a callable marks
    /// that import as dynamic, so it stays dangerous (see [`Walker::finish`]).
    fn static_getattr(
        &mut self,
        opcode: &'static str,
        callee: &Abs,
        args: Option<&Abs>,
    ) -> Option<Abs> {
        let Abs::Global {
            module,
            name,
            origin,
            ..
        } = callee
        else {
            return None;
        };
        if &**module != "builtins" || &**name != "getattr" {
            return None;
        }
        let resolved = match (opcode, args) {
            ("REDUCE", Some(Abs::Tuple(items))) => match &items[..] {
                [Abs::Global { module, name, .. }, Abs::Str(attr)] => {
                    Some(self.attribute(module, name, attr))
                }
                _ => None,
            },
            _ => None,
        };
        let Some(resolved) = resolved else {
            if let Some(i) = origin {
                self.getattr_dynamic.push(*i);
            }
            return None;
        };
        let severity = resolved.severity();
        if let Some(i) = origin {
            self.getattr_static.push((*i, severity));
        }
        self.out.calls.push(Finding {
            offset: self.op,
            opcode,
            target: resolved.target(),
            severity,
            reason: "getattr of a named attribute of an imported global",
        });
        Some(resolved)
    }

    /// Judges each imported `getattr` by its uses: when every call of it named a fixed
    /// attribute of an imported global, it is as bad as the worst attribute reached
    /// (CPython writes such calls for nested classes below protocol 4). Any other use
    /// already taints whatever it reaches, and the import stays dangerous.
    fn finish(&mut self) {
        for &(i, sev) in &self.getattr_static {
            if self.getattr_dynamic.contains(&i) {
                continue;
            }
            let worst = self
                .getattr_static
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|&(_, s)| s)
                .max()
                .unwrap_or(sev)
                .max(Severity::Unknown);
            if let Some(f) = self.out.imports.get_mut(i) {
                f.severity = worst;
                f.reason = "getattr of named attributes of imported globals only";
            }
        }
    }

    /// `getattr(module.name, attr)`: the global `module.name.attr`, judged on its own
    /// (`getattr(os, "system")` is `os.system`).
    fn attribute(&mut self, module: &str, name: &str, attr: &str) -> Abs {
        let qual = alloc::format!("{name}.{attr}");
        let (severity, _) = classify(module, &qual);
        let (parent, _) = classify(module, name);
        let severity = severity.max(parent).max(Severity::Unknown);
        Abs::Global {
            module: Rc::from(module),
            name: Rc::from(qual.as_str()),
            severity,
            origin: None,
        }
    }

    /// `BUILD` on `target`: a call of its `__setstate__` or attribute updates, unless the
    /// target is a plain value (where `pickle` fails).
    fn build(&mut self, target: &Abs, state_value: &Abs) -> Abs {
        let state = state_value.severity();
        let (severity, why) = match target {
            // A global planted in an object's `__dict__` is what `pickle` calls for a
            // later `BUILD` (`__setstate__`) or `APPENDS` (`extend`), with arguments
            // no constructor rule sees.
            _ if state_value.holds_global()
                && !matches!(target, Abs::Plain | Abs::Global { .. } | Abs::Extension(_)) =>
            {
                (
                    state.max(target.severity()).max(Severity::Unknown),
                    "the state plants a global in the object, which pickle may call",
                )
            }
            _ if state > target.severity().max(Severity::Unknown) => {
                (state, "the state holds a global of this severity")
            }
            Abs::Global { .. } | Abs::Extension(_) => {
                (Severity::Dangerous, "sets attributes of an imported global")
            }
            Abs::Singleton => (
                Severity::Dangerous,
                "sets attributes of a process-wide singleton",
            ),
            Abs::Made(s) => (*s, "calls __setstate__ or sets attributes"),
            _ if state > Severity::Safe => (state, "the state holds a global of this severity"),
            _ => return target.clone(),
        };
        self.out.calls.push(Finding {
            offset: self.op,
            opcode: "BUILD",
            target: target.target(),
            severity,
            reason: why,
        });
        Abs::Made(severity)
    }

    // ---- stack ----

    fn pop(&mut self) -> R<Abs> {
        let fence = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() > fence {
            if let Some(v) = self.stack.pop() {
                return Ok(v);
            }
        }
        Err(self.fail(K::StackUnderflow))
    }

    fn pop_n(&mut self, n: usize) -> R<Vec<Abs>> {
        let fence = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() < fence + n {
            return Err(self.fail(K::StackUnderflow));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn top(&self) -> R<&Abs> {
        let fence = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(v) if self.stack.len() > fence => Ok(v),
            _ => Err(self.fail(K::StackUnderflow)),
        }
    }

    fn pop_mark(&mut self) -> R<usize> {
        self.marks.pop().ok_or_else(|| self.fail(K::MissingMark))
    }

    // ---- arguments ----

    fn fail(&self, kind: K) -> DecodeError {
        DecodeError::new(kind, self.op)
    }

    fn bad(&self, msg: &str) -> DecodeError {
        self.fail(K::BadArgument(msg.into()))
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        crate::cursor::take(self.data, &mut self.pos, n).ok_or_else(|| self.fail(K::Truncated))
    }

    fn line(&mut self) -> R<&'a [u8]> {
        crate::cursor::line(self.data, &mut self.pos).ok_or_else(|| self.fail(K::Truncated))
    }

    fn name_line(&mut self) -> R<&'a str> {
        let line = self.line()?;
        core::str::from_utf8(line).map_err(|_| self.fail(K::BadUtf8))
    }

    /// The inline argument of an opcode as raw bytes (the payload for counted ones).
    fn arg(&mut self, kind: ArgKind) -> R<&'a [u8]> {
        match kind {
            ArgKind::None => Ok(&[]),
            ArgKind::Fixed(n) => self.take(n),
            ArgKind::Line => self.line(),
            ArgKind::TwoLines => {
                let start = self.pos;
                self.line()?;
                self.line()?;
                Ok(&self.data[start..self.pos])
            }
            ArgKind::Counted { width, signed } => {
                let raw = self.take(width)?;
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(raw);
                let n = u64::from_le_bytes(le);
                if signed && width == 4 && (n as u32 as i32) < 0 {
                    return Err(self.fail(K::BadLength));
                }
                let n = usize::try_from(n).map_err(|_| self.fail(K::Truncated))?;
                self.take(n)
            }
        }
    }

    fn memo_key(&mut self, code: u8, kind: ArgKind) -> R<u64> {
        let raw = self.arg(kind)?;
        Ok(match code {
            GET | PUT => text::memo_key(raw).map_err(|m| self.bad(m))?,
            _ => {
                let mut le = [0u8; 8];
                le[..raw.len()].copy_from_slice(raw);
                u64::from_le_bytes(le)
            }
        })
    }
}
