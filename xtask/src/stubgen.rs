//! `_brinery.pyi`: the stub of the private native module `brinery._brinery`, read from
//! the PyO3 source of `bindings-python/src` rather than from a build, so that
//! `cargo xtask codegen --check` needs no compiler. What is exported is what the module
//! registers (`m.add_function(wrap_pyfunction!(f, m)?)`, `m.add_class::<T>()`,
//! `m.add("NAME", ..)`); each function's parameters come from its
//! `#[pyo3(signature = (..))]`, else from its Rust parameters. Parameters are typed
//! `Any` (the typed API is the hand-written `brinery/*.pyi` over this module); plain
//! Rust return types become their Python types. Not a general PyO3 stub generator: it
//! reads the few forms this crate uses, and fails loudly on a registered name it
//! cannot find.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::run::{self, Result};

const SRC: &str = "bindings-python/src";

/// One exported function or method: its Python name, parameters and return type.
#[derive(Debug, Default, PartialEq)]
struct Func {
    name: String,
    params: Vec<String>,
    returns: String,
    kind: Kind,
}

#[derive(Debug, Default, PartialEq, Clone, Copy)]
enum Kind {
    #[default]
    Plain,
    New,
    Getter,
    Static,
    Class,
}

/// What the source defines: `#[pyfunction]`s by Rust name, `#[pyclass]`es by Rust name
/// with their Python name and methods.
#[derive(Default)]
struct Defs {
    functions: BTreeMap<String, Func>,
    classes: BTreeMap<String, (String, Vec<Func>)>,
}

/// The text of `_brinery.pyi`.
pub fn stub() -> Result<String> {
    let mut files = Vec::new();
    rs_files(&run::root().join(SRC), &mut files)?;
    files.sort();
    let mut defs = Defs::default();
    let mut registered = Registered::default();
    for file in &files {
        let text = fs::read_to_string(file)?;
        parse(&text, &mut defs);
        registrations(&text, &mut registered);
    }
    render(&defs, &registered)
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rs_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// What the module init functions add, in source order.
#[derive(Default)]
struct Registered {
    constants: Vec<String>,
    functions: Vec<String>,
    classes: Vec<String>,
}

/// The last path segment of `s` up to `end`: `pickler::dumps` -> `dumps`.
fn last_segment(s: &str) -> String {
    s.rsplit("::").next().unwrap_or(s).trim().to_owned()
}

fn registrations(text: &str, out: &mut Registered) {
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.split("wrap_pyfunction!(").nth(1) {
            let path = rest.split(',').next().unwrap_or("");
            out.functions.push(last_segment(path));
        } else if let Some(rest) = line.split(".add_class::<").nth(1) {
            out.classes
                .push(last_segment(rest.split('>').next().unwrap_or("")));
        } else if let Some(rest) = line.split("m.add(\"").nth(1) {
            out.constants
                .push(rest.split('"').next().unwrap_or("").to_owned());
        }
    }
}

/// `name = "x"` inside an attribute's arguments.
fn name_arg(attr: &str) -> Option<String> {
    let rest = attr.split("name = \"").nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

/// The text from `start` (just after an opening paren) to its matching close paren.
fn balanced(text: &str) -> &str {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// Splits on commas outside brackets (and outside `<..>` generics).
fn split_top(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' | '[' | '{' | '<' => depth += 1,
            ')' | ']' | '}' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_owned());
    parts.retain(|p| !p.is_empty());
    parts
}

/// Stub parameters from a `signature = (..)` list.
fn signature_params(sig: &str) -> Vec<String> {
    split_top(sig)
        .into_iter()
        .map(|p| match p.split_once('=') {
            _ if p == "*" || p == "/" => p,
            _ if p.starts_with("**") => format!("{p}: Any"),
            _ if p.starts_with('*') => format!("{p}: Any"),
            Some((name, _)) => format!("{}: Any = ...", name.trim()),
            None => format!("{p}: Any"),
        })
        .collect()
}

/// Stub parameters from Rust parameters, leaving out the receiver and the GIL token.
fn rust_params(params: &str) -> Vec<String> {
    split_top(params)
        .into_iter()
        .filter_map(|p| {
            let (name, ty) = p.split_once(':')?;
            let name = name.trim().trim_start_matches("mut ").trim();
            let ty = ty.trim();
            if ty.starts_with("Python") || name == "slf" || name.contains("self") {
                return None;
            }
            Some(format!("{}: Any", name.trim_start_matches('_')))
        })
        .collect()
}

/// The Python type of a plain Rust return type, else `Any`.
fn py_type(rust: &str) -> String {
    let t = rust.trim();
    let t = t
        .strip_prefix("PyResult<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(t)
        .trim();
    match t {
        "" | "()" => "None".into(),
        "bool" => "bool".into(),
        "String" | "&str" => "str".into(),
        "f64" | "f32" => "float".into(),
        "Vec<u8>" => "bytes".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
        | "RawFd" => "int".into(),
        _ if t.starts_with("Vec<") && t.ends_with('>') => {
            format!("list[{}]", py_type(&t[4..t.len() - 1]))
        }
        _ if t.starts_with("Option<") && t.ends_with('>') => {
            format!("{} | None", py_type(&t[7..t.len() - 1]))
        }
        _ if t.contains("PyBytes>") => "bytes".into(),
        _ if t.contains("PyString>") => "str".into(),
        _ if t.contains("PyDict>") => "dict[str, Any]".into(),
        _ if t.contains("PyList>") => "list[Any]".into(),
        _ if t.contains("PyTuple>") => "tuple[Any, ...]".into(),
        _ if t.starts_with('(') && t.ends_with(')') => {
            let inner: Vec<String> = split_top(&t[1..t.len() - 1])
                .iter()
                .map(|p| py_type(p))
                .collect();
            format!("tuple[{}]", inner.join(", "))
        }
        _ => "Any".into(),
    }
}

/// Reads every `#[pyfunction]`, `#[pyclass]` and `#[pymethods]` item of one file.
fn parse(text: &str, defs: &mut Defs) {
    let mut attrs: Vec<String> = Vec::new();
    let mut methods_of: Option<String> = None;
    let mut impl_depth = 0i32;
    let mut depth = 0i32;
    let mut pending_methods = false;
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let line = rest[..line_end].trim();
        if line.starts_with("#[") {
            // An attribute may span lines: take it to its closing bracket.
            let body = balanced(&rest[rest.find("#[").unwrap() + 2..]);
            attrs.push(body.split_whitespace().collect::<Vec<_>>().join(" "));
            let consumed = rest.find("#[").unwrap() + 2 + body.len() + 1;
            rest = &rest[consumed.min(rest.len())..];
            continue;
        }
        if attrs.iter().any(|a| a == "pymethods") {
            pending_methods = true;
        }
        if pending_methods && line.starts_with("impl") {
            let ty = line
                .trim_start_matches("impl")
                .trim()
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("")
                .to_owned();
            methods_of = Some(ty);
            impl_depth = depth;
            pending_methods = false;
        }
        if let Some(a) = attrs.iter().find(|a| a.starts_with("pyclass")) {
            if let Some(pos) = line.find("struct ") {
                let ty = line[pos + 7..]
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let py = name_arg(a).unwrap_or_else(|| ty.clone());
                defs.classes.entry(ty).or_default().0 = py;
            }
        }
        let fn_at = line
            .strip_prefix("pub ")
            .unwrap_or(line)
            .strip_prefix("fn ")
            .is_some();
        if fn_at {
            let in_methods = methods_of.is_some() && depth == impl_depth + 1;
            let is_pyfunction = attrs.iter().any(|a| a.starts_with("pyfunction"));
            if in_methods || is_pyfunction {
                let start = rest.find("fn ").unwrap() + 3;
                let after = &rest[start..];
                let ident: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let open = after.find('(').unwrap_or(0) + 1;
                let params = balanced(&after[open..]);
                let tail = &after[open + params.len() + 1..];
                let ret = tail
                    .split('{')
                    .next()
                    .unwrap_or("")
                    .split("where")
                    .next()
                    .unwrap_or("")
                    .trim();
                let ret = ret.strip_prefix("->").unwrap_or("").trim();
                let sig = attrs.iter().find_map(|a| {
                    let s = a.split("signature = (").nth(1)?;
                    Some(balanced(s).to_owned())
                });
                let kind = if attrs.iter().any(|a| a == "new") {
                    Kind::New
                } else if attrs.iter().any(|a| a.starts_with("getter")) {
                    Kind::Getter
                } else if attrs.iter().any(|a| a == "staticmethod") {
                    Kind::Static
                } else if attrs.iter().any(|a| a == "classmethod") {
                    Kind::Class
                } else {
                    Kind::Plain
                };
                let name = attrs
                    .iter()
                    .filter(|a| a.starts_with("pyo3") || a.starts_with("pyfunction"))
                    .find_map(|a| name_arg(a))
                    .unwrap_or_else(|| ident.clone());
                let func = Func {
                    name,
                    params: match sig {
                        Some(s) => signature_params(&s),
                        None => rust_params(params),
                    },
                    returns: if name_is_len(&ident) {
                        "int".into()
                    } else {
                        py_type(ret)
                    },
                    kind,
                };
                match (&methods_of, in_methods) {
                    (Some(ty), true) => defs.classes.entry(ty.clone()).or_default().1.push(func),
                    _ => {
                        defs.functions.insert(ident, func);
                    }
                }
            }
        }
        if !line.starts_with("//") {
            for c in line.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if methods_of.is_some() && depth == impl_depth {
                            methods_of = None;
                        }
                    }
                    _ => {}
                }
            }
        }
        if !line.is_empty() && !line.starts_with("//") {
            attrs.clear();
        }
        rest = &rest[line_end..];
    }
}

fn name_is_len(ident: &str) -> bool {
    ident == "__len__" || ident == "__hash__"
}

fn def_line(f: &Func, indent: &str, method: bool) -> String {
    let mut params: Vec<String> = Vec::new();
    match f.kind {
        Kind::Static => {}
        Kind::Class => params.push("cls".into()),
        _ if method => params.push("self".into()),
        _ => {}
    }
    params.extend(f.params.iter().cloned());
    let mut out = String::new();
    let (name, returns) = match f.kind {
        Kind::New => ("__init__", "None".to_owned()),
        _ => (f.name.as_str(), f.returns.clone()),
    };
    match f.kind {
        Kind::Getter => out.push_str(&format!("{indent}@property\n")),
        Kind::Static => out.push_str(&format!("{indent}@staticmethod\n")),
        Kind::Class => out.push_str(&format!("{indent}@classmethod\n")),
        _ => {}
    }
    out.push_str(&format!(
        "{indent}def {name}({}) -> {returns}: ...\n",
        params.join(", ")
    ));
    out
}

fn render(defs: &Defs, reg: &Registered) -> Result<String> {
    let mut out = String::from(
        "# Generated by `cargo xtask codegen` from bindings-python/src; do not edit.\n\
         \"\"\"The private native module under `brinery`: what `bindings-python/src` registers.\n\
         \n\
         Parameters are untyped here; the public, typed API is `brinery/__init__.pyi`.\n\
         \"\"\"\n\nfrom typing import Any\n\n",
    );
    for name in &reg.constants {
        out.push_str(&format!("{name}: int\n"));
    }
    let mut functions: Vec<&Func> = Vec::new();
    for ident in &reg.functions {
        let f = defs
            .functions
            .get(ident)
            .ok_or_else(|| format!("{SRC}: registered function {ident} has no #[pyfunction]"))?;
        functions.push(f);
    }
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    for f in functions {
        out.push('\n');
        out.push_str(&def_line(f, "", false));
    }
    let mut classes: Vec<&(String, Vec<Func>)> = Vec::new();
    for ident in &reg.classes {
        let class = defs
            .classes
            .get(ident)
            .ok_or_else(|| format!("{SRC}: registered class {ident} has no #[pyclass]"))?;
        classes.push(class);
    }
    classes.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, methods) in classes {
        out.push_str(&format!("\nclass {name}:\n"));
        if methods.is_empty() {
            out.push_str("    ...\n");
        }
        for m in methods {
            out.push_str(&def_line(m, "    ", true));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_functions_classes_and_methods() {
        let src = r#"
#[pyfunction(name = "scan")]
fn scan_stream<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    todo!()
}
#[pyfunction]
#[pyo3(signature = (obj, protocol=None, *, flag=true))]
pub fn dumps(obj: X, protocol: Option<u8>, flag: bool) -> PyResult<usize> { 0 }

#[pyclass(module = "brinery._brinery", frozen)]
pub struct Core { x: u8 }

#[pymethods]
impl Core {
    #[new]
    fn new(workers: usize) -> Self { Core { x: 0 } }
    #[getter]
    fn pid(&self) -> i32 { 0 }
    fn __len__(&self) -> usize { 0 }
}

fn helper() {}
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("HIGHEST", 5)?;
    m.add_function(wrap_pyfunction!(scan_stream, m)?)?;
    m.add_function(wrap_pyfunction!(inner::dumps, m)?)?;
    m.add_class::<Core>()?;
    Ok(())
}
"#;
        let mut defs = Defs::default();
        let mut reg = Registered::default();
        parse(src, &mut defs);
        registrations(src, &mut reg);
        let text = render(&defs, &reg).unwrap();
        let body = text.split("from typing import Any\n\n").nth(1).unwrap();
        assert_eq!(
            body,
            "HIGHEST: int\n\n\
             def dumps(obj: Any, protocol: Any = ..., *, flag: Any = ...) -> int: ...\n\n\
             def scan(data: Any) -> dict[str, Any]: ...\n\n\
             class Core:\n    \
             def __init__(self, workers: Any) -> None: ...\n    \
             @property\n    def pid(self) -> int: ...\n    \
             def __len__(self) -> int: ...\n"
        );
    }
}
