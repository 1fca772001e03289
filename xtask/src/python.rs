//! The Python binding's steps: build `brinery` (release) with maturin into the venv of
//! each supported interpreter ([`crate::interpreters`]), then run its pytest suite there.
//! `develop` builds for the default interpreter only; `test` for every one found.

use crate::interpreters::{self, Interpreter};
use crate::run::{self, Result};
use crate::venv;
use std::path::PathBuf;

/// Builds the extension in release mode for `interp` and installs it, editable, into its
/// venv; returns the venv's python. Each interpreter's extension carries its own ABI tag
/// (`_brinery.cpython-312-...so`), so the builds sit side by side in the source tree.
pub fn develop_for(interp: &Interpreter) -> Result<PathBuf> {
    let python = venv::ensure_for(interp)?;
    let venv_dir = interp.venv_dir();
    let maturin = venv_dir.join("bin/maturin");
    let mut c = run::cmd(
        &maturin,
        &[
            "develop",
            "--release",
            "--quiet",
            "-m",
            "bindings-python/Cargo.toml",
        ],
    );
    c.env("VIRTUAL_ENV", &venv_dir)
        .env("CARGO_TARGET_DIR", interp.target_dir());
    run::status(&mut c)?;
    Ok(python)
}

/// Builds the extension for the default interpreter into `.venv`.
pub fn develop() -> Result {
    develop_for(&interpreters::default()?).map(|_| ())
}

/// For every supported interpreter on the machine: `develop_for` (all builds first, so
/// that each suite can run the others' builds), then `pytest bindings-python/tests` with
/// `BRINERY_TEST_PYTHONS` naming every venv python (the cross-version tests use it).
/// Every suite runs; the step fails naming each version that failed.
pub fn test() -> Result {
    let all = interpreters::all()?;
    let names: Vec<&str> = all.iter().map(|i| i.minor.as_str()).collect();
    eprintln!("xtask: Python tests on {}", names.join(", "));
    let mut pythons = Vec::new();
    for interp in &all {
        eprintln!("xtask: -- building for Python {} --", interp.minor);
        pythons.push(develop_for(interp)?);
    }
    let listed = std::env::join_paths(&pythons)?;
    let mut failed = Vec::new();
    for (interp, python) in all.iter().zip(&pythons) {
        eprintln!("xtask: -- Python {} --", interp.minor);
        let mut c = run::cmd(python, &["-m", "pytest", "bindings-python/tests", "-q"]);
        c.env("BRINERY_TEST_PYTHONS", &listed);
        if let Err(e) = run::status(&mut c) {
            eprintln!("xtask: Python {} FAILED: {e}", interp.minor);
            failed.push(interp.minor.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("Python tests failed on {}", failed.join(", ")).into())
    }
}

/// `mypy --strict` over `bindings-python/tests/typing/usage.py`, with the package's
/// source folder on `MYPYPATH`: every public name is reached through its `.pyi` stub
/// (checked too), and no build is needed.
pub fn typecheck() -> Result {
    stub_coverage()?;
    let python = venv::ensure()?;
    let mut c = run::cmd(
        &python,
        &[
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "bindings-python/tests/typing/usage.py",
        ],
    );
    c.env("MYPYPATH", run::root().join("bindings-python/python"));
    run::status(&mut c)
}

/// Every public module of the package (`__init__.py` and the modules not named with a
/// leading underscore) has a `.pyi` stub that defines every name of its `__all__`.
fn stub_coverage() -> Result {
    let dir = run::root().join("bindings-python/python/brinery");
    let mut missing = Vec::new();
    let mut modules: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    modules.sort();
    for py in modules {
        let name = py
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let public = name == "__init__.py" || !name.starts_with('_');
        if !public || !name.ends_with(".py") {
            continue;
        }
        let exported = dunder_all(&std::fs::read_to_string(&py)?);
        if exported.is_empty() {
            continue;
        }
        let stub = std::fs::read_to_string(py.with_extension("pyi")).unwrap_or_default();
        let defined = stub_names(&stub);
        for n in exported {
            if !defined.contains(&n) {
                missing.push(format!("brinery/{name}: {n}"));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!("public names without a stub: {}", missing.join(", ")).into())
}

/// The strings of a module's `__all__ = [...]`.
fn dunder_all(source: &str) -> Vec<String> {
    let Some(rest) = source.split("\n__all__ = [").nth(1) else {
        return Vec::new();
    };
    let list = rest.split(']').next().unwrap_or("");
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The names a stub defines: `def`, `class`, annotated or assigned names, `as` imports.
fn stub_names(stub: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for line in stub.lines() {
        let l = line.trim_start_matches("async ");
        if let Some(rest) = l.strip_prefix("def ").or_else(|| l.strip_prefix("class ")) {
            names.push(ident(rest));
        } else if let Some((_, alias)) = l.rsplit_once(" as ") {
            names.push(ident(alias.trim()));
        } else if !l.starts_with(' ') {
            names.push(ident(l));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_name_has_a_stub() {
        stub_coverage().unwrap();
    }

    #[test]
    fn reads_all_and_stub_names() {
        let src = "import x\n__all__ = [\n    \"A\",\n    \"b\",\n]\n";
        assert_eq!(dunder_all(src), ["A", "b"]);
        let stub = "from .m import A as A\nb: int\nclass C(D):\n    def m(self) -> None: ...\n";
        let names = stub_names(stub);
        assert!(names.iter().any(|n| n == "A") && names.iter().any(|n| n == "b"));
        assert!(names.iter().any(|n| n == "C") && !names.iter().any(|n| n == "m"));
    }
}
