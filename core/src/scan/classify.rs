//! How dangerous importing one global is: the tables behind [`crate::scan`]'s severity
//! levels. A name is judged by what calling it (or reaching it) can do, not by whether a
//! particular stream uses it harmfully; a global absent from every table is
//! [`Severity::Unknown`]. The one [`Severity::Safe`] list is the core's
//! [`SAFE_GLOBALS`], which Python's `safe_loads` allows by default (with argument
//! checks); everything else here only words the report.

use super::Severity;
pub use crate::allow::SAFE_GLOBALS;

/// Builtins that evaluate code, reach arbitrary attributes, import or touch files.
static DANGEROUS_BUILTINS: &[&str] = &[
    "__import__",
    "breakpoint",
    "compile",
    "delattr",
    "eval",
    "exec",
    "exit",
    "getattr",
    "globals",
    "help",
    "input",
    "locals",
    "open",
    "print",
    "quit",
    "setattr",
    "vars",
];

/// Builtins that create classes or functions.
static CODE_BUILTINS: &[&str] = &[
    "__build_class__",
    "classmethod",
    "property",
    "staticmethod",
    "type",
];

/// Modules (and their submodules) every name of which is dangerous, with the reason.
static DANGEROUS_MODULES: &[(&str, &str)] = &[
    ("_io", "opens files"),
    ("_pyio", "opens files"),
    ("bdb", "runs code"),
    ("cProfile", "runs code"),
    ("doctest", "runs code"),
    ("imaplib", "runs commands and opens connections"),
    ("profile", "runs code"),
    ("pydoc", "runs commands and imports modules"),
    ("timeit", "runs code"),
    ("trace", "runs code"),
    ("zipfile", "opens files"),
    ("_posixsubprocess", "runs commands"),
    ("asyncio", "runs commands and opens connections"),
    ("code", "evaluates code"),
    ("codeop", "compiles code"),
    ("commands", "runs commands"),
    ("ctypes", "calls native code"),
    ("distutils", "runs commands"),
    ("ftplib", "opens connections"),
    ("gc", "reaches every live object"),
    ("http", "opens connections"),
    ("imp", "imports modules"),
    ("importlib", "imports modules"),
    ("inspect", "reaches frames and globals"),
    ("io", "opens files"),
    ("multiprocessing", "starts processes"),
    ("nt", "process, file and environment access"),
    ("os", "process, file and environment access"),
    ("pdb", "starts a debugger"),
    ("pip", "installs packages"),
    ("pkgutil", "imports modules"),
    ("platform", "runs commands"),
    ("posix", "process, file and environment access"),
    ("pty", "spawns a shell"),
    ("runpy", "runs modules"),
    ("shutil", "removes and copies files"),
    ("signal", "sends signals"),
    ("smtplib", "opens connections"),
    ("socket", "opens connections"),
    ("ssl", "opens connections"),
    ("subprocess", "runs commands"),
    ("sys", "reaches interpreter state"),
    ("telnetlib", "opens connections"),
    ("tempfile", "creates files"),
    ("threading", "starts threads"),
    ("urllib", "opens connections"),
    ("webbrowser", "runs a browser"),
    ("zipimport", "imports modules"),
];

/// Single globals outside the dangerous modules that run commands, evaluate code, open
/// files or reach attributes (found loading live payloads; the list words reports, it
/// does not decide them: anything not [`Severity::Safe`] fails a scan).
static DANGEROUS_NAMES: &[(&str, &str, &str)] = &[
    ("_operator", "attrgetter", "reaches arbitrary attributes"),
    ("_operator", "methodcaller", "reaches arbitrary attributes"),
    ("codecs", "open", "opens files"),
    ("logging", "FileHandler", "opens files"),
    ("pathlib", "Path", "touches files"),
    ("uuid", "_get_command_stdout", "runs commands"),
    ("yaml", "load", "evaluates code"),
    ("yaml", "unsafe_load", "evaluates code"),
    ("yaml", "full_load", "evaluates code"),
];

/// Modules whose `load`/`loads` run a nested pickle.
static NESTED_PICKLE_MODULES: &[&str] = &[
    "_pickle",
    "cPickle",
    "cloudpickle",
    "dill",
    "joblib",
    "numpy",
    "pickle",
    "torch",
];

/// Helpers that by-value picklers (cloudpickle, dill, brinery) call to rebuild functions,
/// classes and modules: their streams carry code by design.
static BY_VALUE_MODULES: &[&str] = &["brinery", "cloudpickle", "dill"];

/// Globals equivalent to `getattr` or `eval` inside otherwise by-value modules.
static DANGEROUS_IN_BY_VALUE: &[&str] = &["_eval_repr", "_get_attr", "load", "loads"];

/// Names in `types` and `marshal` that construct code.
static CODE_NAMES: &[(&str, &str)] = &[
    ("marshal", "load"),
    ("marshal", "loads"),
    ("types", "CellType"),
    ("types", "CodeType"),
    ("types", "FunctionType"),
    ("types", "LambdaType"),
    ("types", "MethodType"),
    ("types", "ModuleType"),
    ("types", "new_class"),
];

/// Severity of importing `module.name` (`name` may be a dotted qualified name), and why.
pub fn classify(module: &str, name: &str) -> (Severity, &'static str) {
    let top = module.split('.').next().unwrap_or(module);
    let first = name.split('.').next().unwrap_or(name);
    let last = name.rsplit('.').next().unwrap_or(name);
    if SAFE_GLOBALS.iter().any(|&(m, n)| m == module && n == name) {
        return (Severity::Safe, "plain data or a harmless standard type");
    }
    let mut parts = name.split('.');
    let head = parts.next().unwrap_or(name);
    if parts.any(|p| p.starts_with("__") && p != "__new__" && p != "__init__")
        || matches!(
            head,
            "__builtins__" | "__dict__" | "__loader__" | "__spec__" | "__globals__"
        )
    {
        return (Severity::Dangerous, "reaches a dunder attribute");
    }
    // Protocol 4 resolves a dotted name attribute by attribute, so `uuid` `os.system`
    // is the `os` module `uuid` imported: judge the name as if its head were a module.
    if let Some((head, rest)) = name.split_once('.') {
        let (sev, why) = classify(head, rest);
        if sev >= Severity::Code {
            return (sev, why);
        }
    }
    if module == "builtins" || module == "__builtin__" {
        if DANGEROUS_BUILTINS.contains(&first) {
            return (
                Severity::Dangerous,
                "evaluates code, reaches attributes or opens files",
            );
        }
        if CODE_BUILTINS.contains(&first) {
            return (Severity::Code, "creates classes or functions");
        }
        return (Severity::Unknown, "builtin outside the harmless set");
    }
    if (module == "operator") && matches!(first, "attrgetter" | "methodcaller") {
        return (Severity::Dangerous, "reaches arbitrary attributes");
    }
    if module == "copyreg" || module == "copy_reg" {
        return (Severity::Unknown, "copyreg helper");
    }
    if let Some(&(_, _, why)) = DANGEROUS_NAMES
        .iter()
        .find(|&&(m, n, _)| m == module && n == first)
    {
        return (Severity::Dangerous, why);
    }
    if module == "logging.config" {
        return (Severity::Dangerous, "runs code and opens files");
    }
    if NESTED_PICKLE_MODULES.contains(&top) && matches!(last, "load" | "loads" | "_load" | "_loads")
    {
        return (Severity::Dangerous, "loads a nested pickle");
    }
    if BY_VALUE_MODULES.contains(&top) {
        if DANGEROUS_IN_BY_VALUE.contains(&last) {
            return (Severity::Dangerous, "evaluates code or reaches attributes");
        }
        return (
            Severity::Code,
            "by-value helper: rebuilds functions, classes or modules",
        );
    }
    if let Some(&(_, why)) = DANGEROUS_MODULES.iter().find(|(m, _)| *m == top) {
        return (Severity::Dangerous, why);
    }
    if CODE_NAMES.iter().any(|&(m, n)| m == module && n == first) {
        return (Severity::Code, "constructs code objects or functions");
    }
    if module == "marshal" || module == "types" {
        return (Severity::Unknown, "code-related module");
    }
    (Severity::Unknown, "not a known harmless global")
}

/// Whether `module.name` is one of the harmless standard globals.
pub fn is_safe(module: &str, name: &str) -> bool {
    classify(module, name).0 == Severity::Safe
}

/// Every global classified [`Severity::Safe`], as `(module, name)`: exactly
/// [`SAFE_GLOBALS`].
pub fn safe_globals() -> impl Iterator<Item = (&'static str, &'static str)> {
    SAFE_GLOBALS.iter().copied()
}
