//! The allowlist of `safe_loads`: which globals a stream may name, how each resolves to
//! a Python object, and which arguments a call of a default global may receive.
//!
//! The default entries are harmless when called with bounded arguments; the argument
//! rules exist because a few of them turn a short stream into a large allocation
//! (`bytearray(10**12)`, `list(range(10**12))`, `Fraction("1e999999999")`). Globals the
//! caller adds with `allow=` are trusted as the caller trusts them: no argument rules.
//! Not the scanner's classification (that is `brinery_core::scan`, which only judges).

use std::collections::HashMap;

use brinery_core::allow::SAFE_GLOBALS;
use brinery_core::Allowlist;
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
    /// As `Bounded`, and every number argument (text, int, `Decimal`, `Decimal` tuple,
    /// `Fraction`) within [`MAX_DIGITS`] digits and exponent: `int`, `float`,
    /// `complex`, `Decimal` (`int(Decimal("1e1000000"))` would take a minute).
    Number,
    /// `Fraction`: as `Number`, and text only `n` or `n/d` (no exponent, which
    /// `Fraction` would expand into a huge int).
    Fraction,
    /// `copyreg._reconstructor(cls, base, state)`: `cls` a subclass of `base`, `base`
    /// `object` or a builtin value type, `state` bounded.
    Reconstructor,
}

/// The argument rule of a default global ([`brinery_core::allow::SAFE_GLOBALS`], the
/// core's known-safe list), or `None` for a global not on it.
pub fn default_rule(module: &str, name: &str) -> Option<Rule> {
    if !SAFE_GLOBALS.contains(&(module, name)) {
        return None;
    }
    Some(match (module, name) {
        ("builtins", "bytearray" | "bytes" | "str") | ("_codecs" | "codecs", "encode") => {
            Rule::NoSize
        }
        ("builtins", "complex" | "float" | "int") | ("decimal", "Decimal") => Rule::Number,
        ("fractions", "Fraction") => Rule::Fraction,
        ("copyreg", "_reconstructor") => Rule::Reconstructor,
        _ => Rule::Bounded,
    })
}

/// The allowlist of one `safe_loads` call: the defaults plus the caller's additions.
pub struct Allow<'py> {
    /// The caller's additions alone (`module.name` or `module.*`), trusted.
    extra: Allowlist,
    /// `"module.name"` → the object the caller gave for it.
    objects: HashMap<String, Bound<'py, PyAny>>,
    /// Defaults and additions, with `copyreg`'s extension registry: the rule the
    /// decoder applies at each opcode naming a global.
    all: Allowlist,
}

impl<'py> Allow<'py> {
    /// `extra` maps `"module.name"` (or `"module.*"`) to an object or `None` (import
    /// by name).
    pub fn new(py: Python<'py>, extra: Option<&Bound<'py, PyDict>>) -> PyResult<Self> {
        let mut list = Allowlist::default();
        let mut objects = HashMap::new();
        if let Some(extra) = extra {
            for (k, v) in extra.iter() {
                let key: String = k.extract()?;
                list.insert(&key);
                if !v.is_none() {
                    objects.insert(key, v);
                }
            }
        }
        let mut all = list.clone();
        for (m, n) in SAFE_GLOBALS {
            all.insert(&format!("{m}.{n}"));
        }
        let registry = py.import("copyreg")?.getattr("_inverted_registry")?;
        for (code, pair) in registry.cast::<PyDict>()?.iter() {
            let code: i32 = code.extract()?;
            let (m, n): (String, String) = pair.extract()?;
            all.register_extension(code, &m, &n);
        }
        Ok(Allow {
            extra: list,
            objects,
            all,
        })
    }

    /// The core allowlist the decoder applies.
    pub fn decoder_list(&self) -> &Allowlist {
        &self.all
    }

    /// The rule for `module.name`, or `None` when it is not allowed.
    pub fn rule(&self, module: &str, name: &str) -> Option<Rule> {
        if self.extra.allows(module, name) {
            return Some(Rule::Trusted);
        }
        default_rule(module, name)
    }

    /// The global extension `code` stands for in `copyreg`'s registry.
    pub fn extension(&self, code: i32) -> Option<(&str, &str)> {
        self.all.extension(code)
    }

    /// The object `module.name` denotes: the caller's object, or the module attribute
    /// (dotted names walk attributes). Only called for allowed names.
    pub fn resolve(
        &self,
        py: Python<'py>,
        module: &str,
        name: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(obj) = self.objects.get(&format!("{module}.{name}")) {
            return Ok(obj.clone());
        }
        let mut obj = py.import(module)?.into_any();
        for part in name.split('.') {
            obj = obj.getattr(part)?;
        }
        Ok(obj)
    }
}

use brinery_core::numbers::number_text_ok;
pub use brinery_core::numbers::MAX_DIGITS;
/// Bits of an int with [`MAX_DIGITS`] decimal digits.
const MAX_INT_BITS: usize = 14_286;

/// Error handlers a text conversion may name: the builtin ones (a handler lookup of
/// any other name could reach code a module registered).
const ERROR_HANDLERS: &[&str] = &[
    "strict",
    "ignore",
    "replace",
    "surrogatepass",
    "surrogateescape",
    "backslashreplace",
];

/// Checks the arguments of a call of a global with `rule`; the message says what is
/// wrong. Keyword arguments (`NEWOBJ_EX`) are judged as positional ones: every value
/// gets the checks every positional argument gets, and a rule that reads an argument
/// by position (an encoding) reads it by name too.
pub fn check_args(
    rule: Rule,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> Result<(), String> {
    if rule == Rule::Trusted {
        return Ok(());
    }
    let mut all: Vec<Bound<'_, PyAny>> = args.iter().collect();
    if let Some(kw) = kwargs {
        all.extend(kw.values().iter());
    }
    let named = |name: &str, pos: usize| -> Option<Bound<'_, PyAny>> {
        args.get_item(pos)
            .ok()
            .or_else(|| kwargs.and_then(|k| k.get_item(name).ok().flatten()))
    };
    for a in &all {
        if a.is_instance_of::<PyRange>() {
            return Err("a range argument".into());
        }
    }
    match rule {
        Rule::NoSize => {
            if all.iter().any(|a| a.is_instance_of::<PyInt>()) {
                return Err("an int size argument".into());
            }
            if let Some(kw) = kwargs {
                for k in kw.keys() {
                    let k: String = k.extract().map_err(|_| "a non-str keyword".to_string())?;
                    if k != "encoding" && k != "errors" {
                        return Err(format!("keyword argument {k:?}"));
                    }
                }
            }
            if let Some(enc) = named("encoding", 1) {
                let enc: String = enc
                    .extract()
                    .map_err(|_| "a non-str encoding".to_string())?;
                let norm = enc.to_ascii_lowercase().replace(['-', '_'], "");
                if !matches!(norm.as_str(), "latin1" | "iso88591" | "utf8" | "ascii") {
                    return Err(format!("encoding {enc:?}"));
                }
            }
            if let Some(errors) = named("errors", 2) {
                let errors: String = errors
                    .extract()
                    .map_err(|_| "a non-str error handler".to_string())?;
                if !ERROR_HANDLERS.contains(&errors.as_str()) {
                    return Err(format!("error handler {errors:?}"));
                }
            }
            Ok(())
        }
        Rule::Number => all.iter().try_for_each(check_number),
        Rule::Fraction => {
            for a in &all {
                if let Ok(s) = a.cast::<PyString>() {
                    let s = s.to_str().map_err(|_| "a non-utf-8 str".to_string())?;
                    let t = s.trim();
                    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
                    let ok = t
                        .split_once('/')
                        .map_or(is_digits(t), |(n, d)| is_digits(n) && is_digits(d));
                    if !ok {
                        return Err(format!("{s:?} (only n or n/d)"));
                    }
                } else {
                    check_number(a)?;
                }
            }
            Ok(())
        }
        Rule::Reconstructor => {
            if args.len() != 3 || kwargs.is_some_and(|k| !k.is_empty()) {
                return Err("other than 3 arguments".into());
            }
            let cls = args.get_item(0).map_err(|e| e.to_string())?;
            let base = args.get_item(1).map_err(|e| e.to_string())?;
            let (Ok(cls), Ok(base)) = (cls.cast::<PyType>(), base.cast::<PyType>()) else {
                return Err("a class or base that is not a type".into());
            };
            let base_name = base.fully_qualified_name().map_err(|e| e.to_string())?;
            let base_name = base_name.to_str().unwrap_or("").to_owned();
            let base_ok = matches!(
                base_name.as_str(),
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
            // `base.__new__(cls, state)` and `base.__init__(obj, state)`: the state is
            // the argument of a call of `base`, with the same rule as a direct call.
            if base_name != "object" {
                let base_rule = default_rule("builtins", &base_name).unwrap_or(Rule::Bounded);
                let state = args.get_item(2).map_err(|e| e.to_string())?;
                if !state.is_none() {
                    let state = PyTuple::new(args.py(), [state]).map_err(|e| e.to_string())?;
                    check_args(base_rule, &state, None)?;
                }
            }
            Ok(())
        }
        Rule::Bounded | Rule::Trusted => Ok(()),
    }
}

/// An argument of a numeric constructor: no more than [`MAX_DIGITS`] digits and no
/// exponent beyond it, whether written as text, as a `Decimal`, as a `Decimal` tuple
/// `(sign, digits, exponent)`, as a `Fraction` or as an int.
fn check_number(a: &Bound<'_, PyAny>) -> Result<(), String> {
    let too_big = || Err(format!("a number beyond {MAX_DIGITS} digits"));
    let int_ok = |v: &Bound<'_, PyAny>| -> Result<bool, String> {
        let bits: usize = v
            .call_method0("bit_length")
            .and_then(|b| b.extract())
            .map_err(|e| e.to_string())?;
        Ok(bits <= MAX_INT_BITS)
    };
    if a.is_instance_of::<PyInt>() {
        return if int_ok(a)? { Ok(()) } else { too_big() };
    }
    if let Ok(s) = a.cast::<PyString>() {
        let s = s.to_str().map_err(|_| "a non-utf-8 str".to_string())?;
        return if number_text_ok(s) { Ok(()) } else { too_big() };
    }
    if let Ok(t) = a.cast::<PyTuple>() {
        // `Decimal((sign, digits, exponent))`.
        if t.len() == 3 {
            let digits = t.get_item(1).map_err(|e| e.to_string())?;
            let exp = t.get_item(2).map_err(|e| e.to_string())?;
            let n = digits.len().unwrap_or(0);
            let exp_ok = !exp.is_instance_of::<PyInt>()
                || exp
                    .extract::<i64>()
                    .is_ok_and(|e| e.unsigned_abs() <= MAX_DIGITS as u64);
            if n > MAX_DIGITS || !exp_ok {
                return too_big();
            }
        }
        return Ok(());
    }
    let type_name = a
        .get_type()
        .fully_qualified_name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    match type_name.as_str() {
        "decimal.Decimal" => {
            let t = a.call_method0("as_tuple").map_err(|e| e.to_string())?;
            let t = t.cast_into::<PyTuple>().map_err(|e| e.to_string())?;
            check_number(t.as_any())
        }
        "fractions.Fraction" => {
            for part in ["numerator", "denominator"] {
                let v = a.getattr(part).map_err(|e| e.to_string())?;
                if !int_ok(&v)? {
                    return too_big();
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
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
