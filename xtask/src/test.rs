//! `cargo xtask test`: formatting, lints, then every language's tests. A binding whose
//! folder does not exist yet is skipped with a note, never faked.

use crate::run::{self, Result};

pub fn run(_args: &[String]) -> Result {
    run::cargo(&["fmt", "--all", "--check"])?;
    run::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    run::cargo(&["test", "--workspace", "--exclude", "xtask"])?;
    // brinery-core's `serde` feature is off in the workspace run: lint and test it too.
    run::cargo(&[
        "clippy",
        "-p",
        "brinery-core",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    run::cargo(&[
        "test",
        "-p",
        "brinery-core",
        "--all-features",
        "--test",
        "decode_serde",
    ])?;
    for (dir, what) in [
        ("bindings-python", "Python"),
        ("bindings-c", "C"),
        ("bindings-node", "Node"),
    ] {
        if !run::has_crate(dir) {
            eprintln!("xtask: {dir}/ does not exist yet; {what} tests skipped");
        } else if dir == "bindings-python" {
            crate::python::test()?;
        } else if dir == "bindings-c" {
            crate::c::test()?;
        } else if dir == "bindings-node" {
            crate::node::test()?;
        }
    }
    crate::docs::test()?;
    Ok(())
}
