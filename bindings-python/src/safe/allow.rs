//! The allowlist of `safe_loads`: which globals a stream may name, how each resolves to
//! a Python object, and which arguments a call of a default global may receive.
//!
//! The default entries are harmless when called with bounded arguments; the argument
//! rules exist because a few of them turn a short stream into a large allocation
//! (`bytearray(10**12)`, `list(range(10**12))`, `Fraction("1e999999999")`). Globals the
//! caller adds with `allow=` are trusted as the caller trusts them: no argument rules.
//! Not the scanner's classification (that is `brinery_core::scan`, which only judges).

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyFrozenSet, PyInt, PyList, PyRange, PySet, PyString, PyTuple,
    PyType,
};

/// What a call of an allowed global may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Caller-allowed: anything.
    Trusted,
    /// No argument may be a `range` (a lazy iterable a constructor could expand).
    Bounded,
    /// As `Bounded`, no int argument (a size to allocate), and an encoding argument
    /// only among Latin-1, UTF-8 and ASCII (a codec lookup imports modules): `bytes`,
    /// `bytearray`, `str`, `codecs.encode`.
    NoSize,
    /// `Fraction`: an int, or a string of digits with an optional `/denominator` (no
    /// exponent, which `Fraction` would expand into a huge int).
    Fraction,
    /// `copyreg._reconstructor(cls, base, state)`: `cls` a subclass of `base`, `base`
    /// `object` or a builtin value type, `state` bounded.
    Reconstructor,
}

/// The default allowlist: `(module, name, rule)`. Every entry is classified
/// [`brinery_core::scan::Severity::Safe`] by the scanner (a test checks it).
pub static DEFAULT: &[(&str, &str, Rule)] = &[
    ("builtins", "bool", Rule::Bounded),
    ("builtins", "bytearray", Rule::NoSize),
    ("builtins", "bytes", Rule::NoSize),
    ("builtins", "complex", Rule::Bounded),
    ("builtins", "dict", Rule::Bounded),
    ("builtins", "Ellipsis", Rule::Bounded),
    ("builtins", "float", Rule::Bounded),
    ("builtins", "frozenset", Rule::Bounded),
    ("builtins", "int", Rule::Bounded),
    ("builtins", "list", Rule::Bounded),
    ("builtins", "NoneType", Rule::Bounded),
    ("builtins", "NotImplemented", Rule::Bounded),
    ("builtins", "object", Rule::Bounded),
    ("builtins", "range", Rule::Bounded),
    ("builtins", "set", Rule::Bounded),
    ("builtins", "slice", Rule::Bounded),
    ("builtins", "str", Rule::NoSize),
    ("builtins", "tuple", Rule::Bounded),
    ("_codecs", "encode", Rule::NoSize),
    ("codecs", "encode", Rule::NoSize),
    ("collections", "Counter", Rule::Bounded),
    ("collections", "OrderedDict", Rule::Bounded),
    ("collections", "defaultdict", Rule::Bounded),
    ("collections", "deque", Rule::Bounded),
    ("copyreg", "_reconstructor", Rule::Reconstructor),
    ("datetime", "date", Rule::Bounded),
    ("datetime", "datetime", Rule::Bounded),
    ("datetime", "time", Rule::Bounded),
    ("datetime", "timedelta", Rule::Bounded),
    ("datetime", "timezone", Rule::Bounded),
    ("decimal", "Decimal", Rule::Bounded),
    ("fractions", "Fraction", Rule::Fraction),
    ("uuid", "SafeUUID", Rule::Bounded),
    ("uuid", "UUID", Rule::Bounded),
];

/// The allowlist of one `safe_loads` call: the defaults plus the caller's additions.
pub struct Allow<'py> {
    /// `"module.name"` → the object to use (`None`: import it) and its rule.
    extra: HashMap<String, Option<Bound<'py, PyAny>>>,
}

impl<'py> Allow<'py> {
    /// `extra` maps `"module.name"` to an object or `None` (import by name).
    pub fn new(extra: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        let mut map = HashMap::new();
        if let Some(extra) = extra {
            for (k, v) in extra.iter() {
                let key: String = k.extract()?;
                map.insert(key, if v.is_none() { None } else { Some(v) });
            }
        }
        Ok(Allow { extra: map })
    }

    /// The rule for `module.name`, or `None` when it is not allowed.
    pub fn rule(&self, module: &str, name: &str) -> Option<Rule> {
        if self.extra.contains_key(&format!("{module}.{name}")) {
            return Some(Rule::Trusted);
        }
        DEFAULT
            .iter()
            .find(|(m, n, _)| *m == module && *n == name)
            .map(|&(_, _, r)| r)
    }

    /// The object `module.name` denotes: the caller's object, or the module attribute
    /// (dotted names walk attributes). Only called for allowed names.
    pub fn resolve(
        &self,
        py: Python<'py>,
        module: &str,
        name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(Some(obj)) = self.extra.get(&format!("{module}.{name}")) {
            return Ok(obj.clone());
        }
        let mut obj = py.import(module)?.into_any();
        for part in name.split('.') {
            obj = obj.getattr(part)?;
        }
        Ok(obj)
    }
}

/// Checks the arguments of a call of a global with `rule`; the message says what is
/// wrong.
pub fn check_args(rule: Rule, args: &Bound<'_, PyTuple>) -> Result<(), String> {
    if rule == Rule::Trusted {
        return Ok(());
    }
    for a in args.iter() {
        if a.is_instance_of::<PyRange>() {
            return Err("a range argument".into());
        }
    }
    match rule {
        Rule::NoSize => {
            if args.iter().any(|a| a.is_instance_of::<PyInt>()) {
                return Err("an int size argument".into());
            }
            if args.len() >= 2 {
                let enc: String = args
                    .get_item(1)
                    .and_then(|e| e.extract())
                    .map_err(|_| "a non-str encoding".to_string())?;
                let norm = enc.to_ascii_lowercase().replace(['-', '_'], "");
                if !matches!(norm.as_str(), "latin1" | "iso88591" | "utf8" | "ascii") {
                    return Err(format!("encoding {enc:?}"));
                }
            }
            Ok(())
        }
        Rule::Fraction => {
            for a in args.iter() {
                if a.is_instance_of::<PyInt>() {
                    continue;
                }
                let Ok(s) = a.cast::<PyString>() else {
                    return Err("a non-int, non-str argument".into());
                };
                let s = s.to_str().map_err(|_| "a non-utf-8 str".to_string())?;
                let s = s.strip_prefix('-').unwrap_or(s);
                let ok = s
                    .split_once('/')
                    .map_or(is_digits(s), |(n, d)| is_digits(n) && is_digits(d));
                if !ok {
                    return Err(format!("{s:?} (only n or n/d)"));
                }
            }
            Ok(())
        }
        Rule::Reconstructor => {
            if args.len() != 3 {
                return Err("other than 3 arguments".into());
            }
            let cls = args.get_item(0).map_err(|e| e.to_string())?;
            let base = args.get_item(1).map_err(|e| e.to_string())?;
            let (Ok(cls), Ok(base)) = (cls.cast::<PyType>(), base.cast::<PyType>()) else {
                return Err("a class or base that is not a type".into());
            };
            let base_name = base.fully_qualified_name().map_err(|e| e.to_string())?;
            let base_ok = matches!(
                base_name.to_str().unwrap_or(""),
                "object"
                    | "list"
                    | "dict"
                    | "set"
                    | "frozenset"
                    | "tuple"
                    | "int"
                    | "float"
                    | "str"
                    | "bytes"
                    | "complex"
                    | "bytearray"
            );
            if !base_ok || !cls.is_subclass(base).unwrap_or(false) {
                return Err(format!("base {base_name}"));
            }
            Ok(())
        }
        Rule::Bounded | Rule::Trusted => Ok(()),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4300 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `obj` is a plain value a loader may fill or set state on without reaching
/// into a class or module.
pub fn is_instance_target(obj: &Bound<'_, PyAny>) -> bool {
    !(obj.is_instance_of::<PyType>() || obj.is_instance_of::<pyo3::types::PyModule>())
}

/// Rough heap size of a built object, charged against the allocation limit.
pub fn cost(obj: &Bound<'_, PyAny>) -> usize {
    const BASE: usize = 64;
    if let Ok(b) = obj.cast::<PyBytes>() {
        BASE + b.as_bytes().len()
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        BASE + b.len()
    } else if let Ok(s) = obj.cast::<PyString>() {
        BASE + s.len().unwrap_or(0) * 4
    } else if let Ok(l) = obj.cast::<PyList>() {
        BASE + 8 * l.len()
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        BASE + 8 * t.len()
    } else if let Ok(d) = obj.cast::<PyDict>() {
        BASE + 48 * d.len()
    } else if let Ok(s) = obj.cast::<PySet>() {
        BASE + 160 + 32 * s.len()
    } else if let Ok(s) = obj.cast::<PyFrozenSet>() {
        BASE + 160 + 32 * s.len()
    } else {
        BASE
    }
}
