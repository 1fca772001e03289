//! `cargo xtask fuzz [TARGET] [--time SECS]`: runs one of the cargo-fuzz targets on the
//! nightly toolchain, installing `cargo-fuzz` first when it is missing, with the
//! target's corpus seeded from the shared vectors (`core/tests/vectors`, the malicious
//! corpus and the hostile streams). Each fuzz crate is a workspace of its own, so
//! stable builds and `cargo xtask test` never build libfuzzer. Not part of `cargo xtask
//! test`: a clean machine needs minutes to install cargo-fuzz and build a target, so
//! the test suite keeps its seeded mutation runs instead.

use std::fs;
use std::path::Path;

use crate::interpreters;
use crate::run::{self, Result};

/// Every target: its name, its fuzz crate, and whether its inputs are pickles (else
/// the JSON form).
const TARGETS: &[(&str, &str, bool)] = &[
    ("scan_cpython", "fuzz", true),
    ("decode", "core/fuzz", true),
    ("dis", "core/fuzz", true),
    ("pickle_to_json", "bindings-c/fuzz", true),
    ("json_to_pickle", "bindings-c/fuzz", false),
];

const USAGE: &str = "\
usage: cargo xtask fuzz [TARGET] [--time SECS]

Runs a cargo-fuzz target (default scan_cpython) for SECS seconds (default 600) on the
nightly toolchain, with its corpus (in the fuzz crate's corpus/TARGET) seeded from the
shared vectors. Findings land in the fuzz crate's artifacts/TARGET.
targets: scan_cpython (fuzz/), decode and dis (core/fuzz/), pickle_to_json and
json_to_pickle (bindings-c/fuzz/).
";

/// Biggest input the fuzzer makes: room for every opcode and a frame, small enough
/// that CPython's unpickler runs in microseconds.
const MAX_LEN: &str = "4096";

pub fn run(args: &[String]) -> Result {
    let mut target = "scan_cpython".to_owned();
    let mut secs = "600".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "--time" => {
                secs = it.next().ok_or("--time needs a number of seconds")?.clone();
                secs.parse::<u64>()
                    .map_err(|_| format!("--time {secs}: not a number of seconds"))?;
            }
            t if !t.starts_with('-') => t.clone_into(&mut target),
            other => return Err(format!("unknown option `{other}`\n{USAGE}").into()),
        }
    }
    let &(name, dir, pickles) = TARGETS
        .iter()
        .find(|t| t.0 == target)
        .ok_or_else(|| format!("unknown fuzz target `{target}`\n{USAGE}"))?;
    ensure_cargo_fuzz()?;
    let crate_dir = run::root().join(dir);
    let corpus = crate_dir.join("corpus").join(name);
    seed(&corpus, pickles)?;
    let mut c = run::cmd(
        "cargo",
        &[
            "+nightly",
            "fuzz",
            "run",
            // The targets assert properties; Rust's own checks find memory errors, and
            // a sanitizer's malloc limit would report CPython's own large allocations.
            "--sanitizer",
            "none",
            "--release",
            name,
        ],
    );
    c.arg(&corpus)
        .args(["--", &format!("-max_total_time={secs}")])
        .args([
            &format!("-max_len={MAX_LEN}"),
            "-timeout=20",
            "-print_final_stats=1",
        ])
        .current_dir(&crate_dir)
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR");
    if name == "scan_cpython" {
        embed_python(&mut c)?;
    }
    run::status(&mut c)
}

/// Installs cargo-fuzz for the nightly toolchain unless `cargo +nightly fuzz` works.
fn ensure_cargo_fuzz() -> Result {
    let present = run::cmd("cargo", &["+nightly", "fuzz", "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        run::status(
            run::cmd("cargo", &["install", "cargo-fuzz", "--locked"])
                .env_remove("RUSTUP_TOOLCHAIN"),
        )?;
    }
    Ok(())
}

/// PyO3 builds against the default interpreter (`$BRINERY_PYTHON`, else `python3`),
/// which must be a shared-library build; its library directory goes on the loader
/// path so the fuzzer runs with that very libpython.
fn embed_python(c: &mut std::process::Command) -> Result {
    let py = interpreters::default()?;
    let libdir = run::output(&mut run::cmd(
        &py.executable,
        &[
            "-c",
            "import sysconfig as s; assert s.get_config_var('Py_ENABLE_SHARED'), \
             'PyO3 needs a shared libpython'; print(s.get_config_var('LIBDIR'))",
        ],
    ))?;
    let libdir = libdir.trim();
    let path = match std::env::var("LD_LIBRARY_PATH") {
        Ok(old) if !old.is_empty() => format!("{libdir}:{old}"),
        _ => libdir.to_owned(),
    };
    c.env("PYO3_PYTHON", &py.executable)
        .env("LD_LIBRARY_PATH", path);
    Ok(())
}

/// Copies the shared vectors into `corpus` (libFuzzer names its own additions by hash,
/// so seeds never collide with them): the pickles, the malicious corpus and the
/// hostile streams for pickle targets, the JSON forms for the others.
fn seed(corpus: &Path, pickles: bool) -> Result {
    fs::create_dir_all(corpus)?;
    let vectors = run::root().join("core/tests/vectors");
    let ext = if pickles { "pickle" } else { "json" };
    let mut n = 0;
    for dir in [vectors.clone(), vectors.join("malicious")] {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == ext) && fs::metadata(&path)?.len() <= 65536 {
                let name = path.file_name().ok_or("no file name")?.to_string_lossy();
                fs::copy(&path, corpus.join(format!("seed-{name}")))?;
                n += 1;
            }
        }
    }
    if pickles {
        // streams.json holds each stream as repeated hex parts; Python assembles them.
        let py = interpreters::default()?;
        let script = "import json, sys, os\n\
             n = 0\n\
             for c in json.load(open(sys.argv[1]))['cases']:\n\
             \x20   data = b''.join(bytes.fromhex(h) * k for h, k in c['parts'])\n\
             \x20   if len(data) <= 65536:\n\
             \x20       open(os.path.join(sys.argv[2], 'seed-hostile-' + c['name']), 'wb').write(data)\n\
             \x20       n += 1\n\
             print(n)";
        let hostile = vectors.join("hostile/streams.json");
        let out = run::output(&mut run::cmd(
            &py.executable,
            &[
                "-c",
                script,
                &hostile.to_string_lossy(),
                &corpus.to_string_lossy(),
            ],
        ))?;
        n += out.trim().parse::<usize>().unwrap_or(0);
    }
    eprintln!("fuzz: {n} seeds in {}", corpus.display());
    Ok(())
}
