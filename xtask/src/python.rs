//! The Python binding's steps: build `brinery` (release) into the repo's `.venv` with
//! maturin, then run its pytest suite. The venv itself is [`crate::venv`]'s job.

use crate::run::{self, Result};
use crate::venv;

/// Builds the extension in release mode and installs it, editable, into `.venv`.
pub fn develop() -> Result {
    let python = venv::ensure()?;
    let venv_dir = python
        .parent()
        .and_then(|p| p.parent())
        .expect("venv layout");
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
    c.env("VIRTUAL_ENV", venv_dir)
        .env("CARGO_TARGET_DIR", run::target_dir());
    run::status(&mut c)
}

/// `develop`, then `pytest bindings-python/tests`.
pub fn test() -> Result {
    develop()?;
    let python = venv::ensure()?;
    run::status(&mut run::cmd(
        &python,
        &["-m", "pytest", "bindings-python/tests", "-q"],
    ))
}
