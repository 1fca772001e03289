//! `cargo xtask dist`: the three release artifacts under `<target>/dist/`, each installed
//! and smoke-tested from a clean temporary directory with nothing from the repo on its
//! path: the Python wheel (into a new venv, round-tripping a lambda), the npm tarball
//! (into an empty project, `require('brinery')`), and the C tarball (built by
//! [`crate::c::dist`], compiled against with `pkg-config`). Every version comes from
//! `[workspace.package]` in the root `Cargo.toml`; a mismatch fails.

use crate::run::{self, Result};
use std::path::{Path, PathBuf};

pub fn run(_args: &[String]) -> Result {
    check_versions()?;
    let dist = run::target_dir().join("dist");
    std::fs::create_dir_all(&dist)?;
    let wheel = wheel(&dist)?;
    smoke_wheel(&wheel)?;
    let tarball = npm_tarball(&dist)?;
    smoke_npm(&tarball)?;
    let c = crate::c::dist()?;
    println!("dist: {}", wheel.display());
    println!("dist: {}", tarball.display());
    println!("dist: {}", c.display());
    Ok(())
}

/// The npm package must carry the workspace version (maturin reads it from Cargo).
pub fn check_versions() -> Result {
    let version = run::workspace_version()?;
    let package = std::fs::read_to_string(run::root().join("bindings-node/package.json"))?;
    let wanted = format!("\"version\": \"{version}\"");
    if !package.contains(&wanted) {
        return Err(format!("bindings-node/package.json must say {wanted}").into());
    }
    Ok(())
}

/// The newest file in `dir` whose name starts with `prefix` and ends with `suffix`.
fn newest(dir: &Path, prefix: &str, suffix: &str) -> Result<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("no {prefix}*{suffix} in {}", dir.display()).into())
}

fn wheel(dist: &Path) -> Result<PathBuf> {
    let python = crate::venv::ensure()?;
    let maturin = python.with_file_name("maturin");
    let mut c = run::cmd(
        &maturin,
        &[
            "build",
            "--release",
            "--quiet",
            "-m",
            "bindings-python/Cargo.toml",
            "-o",
            dist.to_str().unwrap(),
        ],
    );
    c.env("CARGO_TARGET_DIR", run::target_dir());
    run::status(&mut c)?;
    newest(
        dist,
        &format!("brinery-{}-", run::workspace_version()?),
        ".whl",
    )
}

fn smoke_wheel(wheel: &Path) -> Result {
    let dir = run::scratch_dir("dist-wheel")?;
    let venv = dir.join("venv");
    run::status(run::cmd("python3", &["-m", "venv", venv.to_str().unwrap()]).current_dir(&dir))?;
    let python = venv.join("bin/python");
    run::status(
        run::cmd(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                wheel.to_str().unwrap(),
            ],
        )
        .current_dir(&dir),
    )?;
    let check = "import brinery, pickle\n\
                 f = pickle.loads(brinery.dumps(lambda x: x * 6))\n\
                 assert f(7) == 42, f(7)\n\
                 assert brinery.__file__.startswith(__import__('sys').prefix), brinery.__file__\n\
                 print('wheel ok', brinery.__file__)";
    run::status(
        run::cmd(&python, &["-c", check])
            .current_dir(&dir)
            .env_remove("PYTHONPATH"),
    )?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn npm_tarball(dist: &Path) -> Result<PathBuf> {
    crate::node::develop()?;
    let mut c = run::cmd(
        "npm",
        &[
            "pack",
            "--silent",
            "--pack-destination",
            dist.to_str().unwrap(),
        ],
    );
    c.current_dir(run::root().join("bindings-node"));
    run::status(&mut c)?;
    newest(
        dist,
        &format!("brinery-{}", run::workspace_version()?),
        ".tgz",
    )
}

fn smoke_npm(tarball: &Path) -> Result {
    let dir = run::scratch_dir("dist-npm")?;
    std::fs::write(
        dir.join("package.json"),
        "{\"name\":\"smoke\",\"version\":\"1.0.0\",\"private\":true}\n",
    )?;
    run::status(
        run::cmd(
            "npm",
            &[
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                tarball.to_str().unwrap(),
            ],
        )
        .current_dir(&dir),
    )?;
    let check = "const b = require('brinery');\n\
                 const data = b.dumps({a: [1, 2n ** 70n, 'x']}, {protocol: 5});\n\
                 const v = b.loads(data);\n\
                 if (v.a[1] !== 2n ** 70n || v.a[2] !== 'x') throw new Error('round trip');\n\
                 if (!require.resolve('brinery').startsWith(process.cwd())) throw new Error('resolved outside');\n\
                 console.log('npm ok');";
    run::status(run::cmd("node", &["-e", check]).current_dir(&dir))?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
