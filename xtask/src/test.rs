//! `cargo xtask test`: formatting, lints (rustdoc's among them), then every language's tests. Every step runs
//! even when an earlier one failed (so one run shows everything that is wrong, unless
//! `--fail-fast` is given), and the run fails at the end naming the failed steps. A
//! binding whose folder does not exist is skipped with a note, never faked. Naming steps
//! by their first word (`cargo xtask test c node`) runs only those.

use crate::run::{self, Result};

type Step = (&'static str, Option<&'static str>, fn() -> Result);

fn fmt() -> Result {
    run::cargo(&["fmt", "--all", "--check"])
}

fn clippy() -> Result {
    run::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // brinery-core must stay `no_std` (alloc only): lint it without `std`.
    run::cargo(&[
        "clippy",
        "-p",
        "brinery-core",
        "--no-default-features",
        "--features",
        "serde",
        "--",
        "-D",
        "warnings",
    ])?;
    // brinery-core's `serde` feature is off in the workspace run: lint it too.
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
    // The API docs: a broken or private link is an error, with the core's features on
    // (its `json` module is documented only then).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in [
        &["doc", "--workspace", "--no-deps"][..],
        &["doc", "-p", "brinery-core", "--no-deps", "--all-features"][..],
    ] {
        run::status(run::cmd(&cargo, args).env("RUSTDOCFLAGS", "-D warnings"))?;
    }
    Ok(())
}

fn tidy() -> Result {
    crate::tidy::run(&[])
}

fn rust() -> Result {
    run::cargo(&["test", "--workspace"])?;
    run::cargo(&[
        "test",
        "-p",
        "brinery-core",
        "--all-features",
        "--test",
        "decode_serde",
    ])
}

/// Each step, with the binding folder it needs (skipped, with a note, when absent).
const STEPS: &[Step] = &[
    ("fmt", None, fmt),
    ("versions", None, crate::dist::check_versions),
    ("codegen check", None, crate::codegen::check),
    ("tidy", None, tidy),
    ("clippy", None, clippy),
    ("rust tests", None, rust),
    ("python tests", Some("bindings-python"), crate::python::test),
    (
        "types python",
        Some("bindings-python"),
        crate::python::typecheck,
    ),
    ("c tests", Some("bindings-c"), crate::c::test),
    ("node tests", Some("bindings-node"), crate::node::test),
    ("doc examples", None, crate::docs::test),
];

/// The first word of a step's name: what `cargo xtask test <step>` selects it by.
fn key(name: &str) -> &str {
    name.split(' ').next().unwrap_or(name)
}

pub fn run(args: &[String]) -> Result {
    let keys: Vec<&str> = STEPS.iter().map(|(name, _, _)| key(name)).collect();
    let mut fail_fast = false;
    let mut only = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--fail-fast" => fail_fast = true,
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask test [--fail-fast] [STEP...]\nsteps: {}",
                    keys.join(", ")
                );
                return Ok(());
            }
            a if keys.contains(&a) => only.push(a),
            a => return Err(format!("unknown argument {a:?}; steps: {}", keys.join(", ")).into()),
        }
    }
    let mut failed = Vec::new();
    for (name, needs, step) in STEPS {
        if !only.is_empty() && !only.contains(&key(name)) {
            continue;
        }
        if let Some(dir) = needs {
            if !run::has_crate(dir) {
                eprintln!("xtask: {dir}/ does not exist; {name} skipped");
                continue;
            }
        }
        eprintln!("xtask: == {name} ==");
        if let Err(e) = step() {
            eprintln!("xtask: {name} FAILED: {e}");
            failed.push(*name);
            if fail_fast {
                break;
            }
        }
    }
    if failed.is_empty() {
        eprintln!("xtask: all steps passed");
        Ok(())
    } else {
        Err(format!("failed steps: {}", failed.join(", ")).into())
    }
}
