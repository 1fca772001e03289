//! `cargo xtask tidy`: the checks of the tree that no compiler makes (rust-analyzer's
//! `tidy` habit). Over the files git tracks: every `.rs` file opens with a `//!`
//! paragraph; every Python module opens with a docstring; no hand-written source is
//! longer than [`MAX_LINES`] (a long file is split along its seams; there is no
//! list of exceptions); and no machine-specific absolute path appears anywhere. Each finding names
//! its file; the step fails when there is any. Not for formatting or lints: `rustfmt`
//! and `clippy` own those.

use std::fs;

use crate::run::{self, Result};

/// The ceiling for a hand-written source file.
const MAX_LINES: usize = 600;

/// Generated files, which may be as long as they need to be.
const GENERATED: &[&str] = &[
    "bindings-c/include/brinery.h",
    "bindings-python/python/brinery/_brinery.pyi",
    "core/src/compat_table.rs",
    "core/src/dis/printable.rs",
];

/// Extensions of hand-written source, for the size ceiling.
const SOURCE: &[&str] = &["rs", "py", "pyi", "js", "ts", "c", "cpp", "h"];

/// Prefixes of paths that exist only on one machine. Spelled in pieces so that this
/// file does not match itself.
fn machine_paths() -> [String; 4] {
    [
        format!("/{}/", "work"),
        format!("/{}/", "root"),
        format!("/{}/", "home"),
        format!("/tmp/{}", "pytest"),
    ]
}

pub fn run(_args: &[String]) -> Result {
    let files = run::output(&mut run::cmd("git", &["ls-files", "-z"]))?;
    let root = run::root();
    let paths = machine_paths();
    let mut problems = Vec::new();
    let mut files: Vec<&str> = files.split('\0').filter(|f| !f.is_empty()).collect();
    files.sort();
    for file in files {
        // Binary files (the vectors) and files deleted but not yet staged are skipped.
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            continue;
        };
        problems.extend(check_file(file, &text, &paths));
    }
    if problems.is_empty() {
        eprintln!("xtask: tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("xtask: tidy: {p}");
    }
    Err(format!("tidy found {} problem(s)", problems.len()).into())
}

/// The problems of one tracked file.
fn check_file(file: &str, text: &str, machine_paths: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
    if ext == "rs" && !text.trim_start().starts_with("//!") {
        problems.push(format!("{file}: does not open with a `//!` paragraph"));
    }
    if ext == "py" && !opens_with_docstring(text) {
        problems.push(format!("{file}: has no module docstring"));
    }
    let lines = text.lines().count();
    if SOURCE.contains(&ext) && lines > MAX_LINES && !GENERATED.contains(&file) {
        problems.push(format!(
            "{file}: {lines} lines, over the {MAX_LINES}-line ceiling; split it"
        ));
    }
    for (n, line) in text.lines().enumerate() {
        if let Some(p) = machine_paths.iter().find(|p| line.contains(p.as_str())) {
            problems.push(format!("{file}:{}: machine-specific path {p:?}", n + 1));
        }
    }
    problems
}

/// True when the first statement of a Python module is a string literal (comments,
/// blank lines, a shebang and `from __future__` come after it, so only comments and
/// blank lines may precede it).
fn opens_with_docstring(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        // An empty module (an `__init__.py` marker) has nothing to document.
        None => true,
        Some(l) => {
            let l = l.trim_start_matches(['r', 'R', 'u', 'U', 'b', 'B']);
            l.starts_with("\"\"\"") || l.starts_with("'''") || l.starts_with('"')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind_of_problem() {
        let paths = machine_paths();
        assert!(check_file("a.rs", "//! doc\nfn f() {}\n", &paths).is_empty());
        assert_eq!(check_file("a.rs", "fn f() {}\n", &paths).len(), 1);
        assert!(
            check_file("m.py", "#!/usr/bin/env python3\n\"\"\"Doc.\"\"\"\n", &paths).is_empty()
        );
        assert_eq!(check_file("m.py", "import os\n", &paths).len(), 1);
        let long = "//! doc\n".to_owned() + &"x\n".repeat(MAX_LINES);
        assert_eq!(check_file("new.rs", &long, &paths).len(), 1);
        assert!(check_file(GENERATED[0], &long, &paths).is_empty());
        let leak = format!("see {}x\n", paths[0]);
        assert_eq!(check_file("README.md", &leak, &paths).len(), 1);
    }
}
