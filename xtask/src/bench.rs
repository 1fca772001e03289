//! `cargo xtask bench`: the divan benches of the Rust crates, then every cross-library
//! comparison script, each printing ratios against its peer measured in the same run.
//! Figures worth keeping go to `docs/benchmarks.md` with this command.

use crate::run::{self, Result};

/// Comparison scripts run after the divan benches: (interpreter, path from the root).
const SCRIPTS: &[(&str, &str)] = &[
    ("python", "core/benches/compare_cpython.py"),
    ("python", "bindings-python/benches/compare.py"),
    ("python", "bindings-python/benches/pool_compare.py"),
    ("python", "bindings-python/benches/dask_compare.py"),
    ("node", "bindings-node/bench/compare.js"),
];

pub fn run(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    let mut bench = vec![
        "bench",
        "-p",
        "brinery-core",
        "--bench",
        "encode",
        "--bench",
        "decode",
    ];
    if quick {
        bench.extend(["--", "--sample-count", "10"]);
    }
    run::cargo(&bench)?;
    crate::develop::run(&[])?;
    let python = crate::venv::ensure()?;
    for (interp, script) in SCRIPTS {
        let path = run::root().join(script);
        if !path.exists() {
            eprintln!("xtask: {script} does not exist yet; skipped");
            continue;
        }
        let mut c = match *interp {
            "python" => run::cmd(&python, &[path.to_str().unwrap()]),
            _ => run::cmd(interp, &[path.to_str().unwrap()]),
        };
        if quick {
            c.env("BRINERY_BENCH_QUICK", "1");
        }
        run::status(&mut c)?;
    }
    Ok(())
}
