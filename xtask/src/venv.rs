//! The repo-local Python environments: `.venv/` for the default interpreter and
//! `.venv-3.X/` for each other supported one ([`crate::interpreters`]), each created on
//! first use with the packages listed in `bindings-python/requirements-dev.txt`
//! (maturin, pytest, the comparison libraries). Re-installs only when that file changes.

use crate::interpreters::{self, Interpreter};
use crate::run::{self, Result};
use std::path::{Path, PathBuf};

/// Path of the default venv's python (`.venv/`), creating and provisioning it when
/// needed.
pub fn ensure() -> Result<PathBuf> {
    ensure_for(&interpreters::default()?)
}

/// Path of `interp`'s venv python, creating and provisioning the venv when needed.
pub fn ensure_for(interp: &Interpreter) -> Result<PathBuf> {
    let root = run::root();
    let venv = interp.venv_dir();
    let python = venv.join("bin/python");
    if !python.exists() {
        run::status(&mut run::cmd(
            &interp.executable,
            &["-m", "venv", venv.to_str().unwrap()],
        ))?;
    }
    let reqs = root.join("bindings-python/requirements-dev.txt");
    if reqs.exists() {
        let stamp = venv.join(".requirements-installed");
        let wanted = std::fs::read_to_string(&reqs)?;
        let have = std::fs::read_to_string(&stamp).unwrap_or_default();
        if wanted != have {
            install_requirements(&python, &reqs)?;
            std::fs::write(&stamp, wanted)?;
        }
    }
    Ok(python)
}

/// `python -m pip install -r reqs`.
pub fn install_requirements(python: &Path, reqs: &Path) -> Result {
    run::status(&mut run::cmd(
        python,
        &[
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            reqs.to_str().unwrap(),
        ],
    ))
}
