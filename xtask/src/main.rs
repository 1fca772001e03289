//! `cargo xtask`: the one entry point for building, testing, benchmarking and packaging
//! brinery in every language. Each subcommand lives in its own module; shared process
//! plumbing is in [`run`].

mod bench;
mod c;
mod codegen;
mod demo;
mod develop;
mod dist;
mod docs;
mod fuzz;
mod interpreters;
mod node;
mod python;
mod release;
mod run;
mod stubgen;
mod test;
mod tidy;
mod venv;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test      format, lint, and run every test (Rust, Python, C, Node);
            `test STEP...` runs only those steps (`test --help` lists them)
  develop   build everything in place (release)
  demo      build, then show brinery against pickle/cloudpickle/dill
  bench     run divan benches and the cross-library comparison
  dist      build and smoke-test the wheel, npm tarball and C tarball
  codegen   regenerate the committed generated files (`--check`: fail when stale)
  fuzz      `fuzz [TARGET] [--time SECS]`: run a cargo-fuzz target (default
            scan_cpython, the scanner against CPython) on nightly
  tidy      check module docs, file sizes and machine paths over the tracked files
  release   `release VERSION [--dry-run]`: bump, changelog, dist, commit, tag
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "test" => test::run(rest),
        "develop" => develop::run(rest),
        "demo" => demo::run(rest),
        "bench" => bench::run(rest),
        "dist" => dist::run(rest),
        "codegen" => codegen::run(rest),
        "tidy" => tidy::run(rest),
        "fuzz" => fuzz::run(rest),
        "release" => release::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
