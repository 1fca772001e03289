//! `cargo xtask`: the one entry point for building, testing, benchmarking and packaging
//! brinery in every language. Each subcommand lives in its own module; shared process
//! plumbing is in [`run`].

mod bench;
mod c;
mod demo;
mod develop;
mod dist;
mod docs;
mod interpreters;
mod node;
mod python;
mod run;
mod test;
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
