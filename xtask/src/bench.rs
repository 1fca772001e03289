//! `cargo xtask bench`: the divan benches of the Rust crates, then every cross-library
//! comparison script, each printing ratios against its peer measured in the same run.
//! Figures worth keeping go to `docs/benchmarks.md` with this command.

use crate::run::{self, Result};

/// Comparison scripts run after the divan benches: (interpreter, path from the root).
/// `"python"` is the default interpreter's venv; `"every python"` runs the script once
/// per supported CPython on the machine, each against its own build.
const SCRIPTS: &[(&str, &str)] = &[
    ("python", "core/benches/compare_cpython.py"),
    ("every python", "bindings-python/benches/compare.py"),
    ("every python", "bindings-python/benches/compare_sizes.py"),
    ("every python", "bindings-python/benches/steady_sizes.py"),
    ("python", "bindings-python/benches/pool_compare.py"),
    ("python", "bindings-python/benches/chunk_codec.py"),
    ("python", "bindings-python/benches/dask_compare.py"),
    ("node", "bindings-node/bench/compare.js"),
    ("node", "bindings-node/bench/dumps_shared.js"),
    ("python", "bindings-c/benches/compare_json.py"),
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
        "--bench",
        "json",
        "--features",
        "json",
    ];
    if quick {
        bench.extend(["--", "--sample-count", "10"]);
    }
    run::cargo(&bench)?;
    crate::develop::run(&[])?;
    let python = crate::venv::ensure()?;
    let mut every = Vec::new();
    for interp in crate::interpreters::all()? {
        // The default one was built by `develop` just above.
        let py = if interp.default {
            python.clone()
        } else {
            crate::python::develop_for(&interp)?
        };
        every.push((interp.minor.clone(), py));
    }
    for (interp, script) in SCRIPTS {
        let path = run::root().join(script);
        if !path.exists() {
            eprintln!("xtask: {script} does not exist yet; skipped");
            continue;
        }
        let path = path.to_str().unwrap();
        let mut commands = match *interp {
            "python" => vec![run::cmd(&python, &[path])],
            "every python" => every
                .iter()
                .map(|(minor, py)| {
                    eprintln!("xtask: {script} on Python {minor}");
                    run::cmd(py, &[path])
                })
                .collect(),
            _ => vec![run::cmd(interp, &[path])],
        };
        for c in &mut commands {
            if quick {
                c.env("BRINERY_BENCH_QUICK", "1");
            }
            run::status(c)?;
        }
    }
    Ok(())
}
