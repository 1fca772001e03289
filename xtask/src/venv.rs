//! The repo-local Python environment (`.venv/`): created on first use from the machine's
//! `python3`, with the packages listed in `bindings-python/requirements-dev.txt`
//! (maturin, pytest, the comparison libraries). Re-installs only when that file changes.

use crate::run::{self, Result};
use std::path::PathBuf;

/// Path of the venv's python, creating and provisioning the venv when needed.
pub fn ensure() -> Result<PathBuf> {
    let root = run::root();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let base = std::env::var("BRINERY_PYTHON").unwrap_or_else(|_| "python3".into());
        run::status(&mut run::cmd(
            &base,
            &["-m", "venv", venv.to_str().unwrap()],
        ))?;
    }
    let reqs = root.join("bindings-python/requirements-dev.txt");
    if reqs.exists() {
        let stamp = venv.join(".requirements-installed");
        let wanted = std::fs::read_to_string(&reqs)?;
        let have = std::fs::read_to_string(&stamp).unwrap_or_default();
        if wanted != have {
            run::status(&mut run::cmd(
                &python,
                &[
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "-r",
                    reqs.to_str().unwrap(),
                ],
            ))?;
            std::fs::write(&stamp, wanted)?;
        }
    }
    Ok(python)
}
