//! `cargo xtask develop`: builds every binding in place, in release mode, so that
//! `.venv/bin/python -c "import brinery"` works, `libbrinery.{so,a}` and `brinery.h` are
//! under the target directory, and `require('./bindings-node')` works from the root.

use crate::run::{self, Result};

pub fn run(_args: &[String]) -> Result {
    if run::has_crate("bindings-python") {
        crate::python::develop()?;
    }
    if run::has_crate("bindings-c") {
        crate::c::develop()?;
    }
    if run::has_crate("bindings-node") {
        crate::node::develop()?;
    }
    Ok(())
}
