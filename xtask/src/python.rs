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
