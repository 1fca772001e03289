//! `cargo xtask dist`: the release artifacts under `<target>/dist/`, each installed and
//! smoke-tested from a clean temporary directory with nothing from the repo on its path:
//! a `manylinux2014` wheel per supported CPython on the machine (linked through zig,
//! checked with `auditwheel`) and the sdist, each installed into a new venv of its
//! interpreter (a lambda round trip, a spawn pool task, `safe_loads`), the npm tarball
//! (into an empty project, `require('brinery')`), and the C tarball (built by
//! [`crate::c::dist`], compiled against with `pkg-config`). Every version comes from
//! `[workspace.package]` in the root `Cargo.toml`; a mismatch fails.

use crate::interpreters::{self, Interpreter};
use crate::run::{self, Result};
use std::path::{Path, PathBuf};

pub fn run(_args: &[String]) -> Result {
    check_versions()?;
    let dist = run::target_dir().join("dist");
    std::fs::create_dir_all(&dist)?;
    let wheels = wheels(&dist)?;
    for (interp, wheel) in &wheels {
        smoke_python(&interp.executable, wheel, false)?;
    }
    let sdist = sdist(&dist)?;
    smoke_python(&wheels[0].0.executable, &sdist, true)?;
    let tarball = npm_tarball(&dist)?;
    smoke_npm(&tarball)?;
    let c = crate::c::dist()?;
    for (_, wheel) in &wheels {
        println!("dist: {}", wheel.display());
    }
    println!("dist: {}", sdist.display());
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

/// Tools only `dist` needs (zig for the manylinux2014 link, auditwheel to check it), in
/// the default venv.
fn dist_tools(python: &Path) -> Result {
    let reqs = run::root().join("bindings-python/requirements-dist.txt");
    crate::venv::install_requirements(python, &reqs)
}

/// `PATH` with the default venv's `bin/` first: maturin finds zig as `python3 -m
/// ziglang` there.
fn venv_path(python: &Path) -> Result<std::ffi::OsString> {
    let bin = python.parent().ok_or("venv python has no folder")?;
    let mut paths = vec![bin.to_path_buf()];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    Ok(std::env::join_paths(paths)?)
}

/// The glibc this wheel family targets: manylinux2014 (glibc 2.17, CentOS 7 and every
/// glibc Linux since).
const MANYLINUX: &str = "manylinux2014";
const MANYLINUX_TAG: &str = "manylinux_2_17_x86_64";

/// One wheel per supported interpreter on this machine, linked through zig against
/// glibc 2.17, each checked with `auditwheel show`; returns (interpreter, wheel).
fn wheels(dist: &Path) -> Result<Vec<(Interpreter, PathBuf)>> {
    let python = crate::venv::ensure()?;
    dist_tools(&python)?;
    let interps = interpreters::all()?;
    let version = run::workspace_version()?;
    let mut out = Vec::new();
    for interp in interps {
        let mut c = run::cmd(
            python.with_file_name("maturin"),
            &[
                "build",
                "--release",
                "--quiet",
                "--zig",
                "--compatibility",
                MANYLINUX,
                "-i",
                interp.executable.to_str().unwrap(),
                "-m",
                "bindings-python/Cargo.toml",
                "-o",
                dist.to_str().unwrap(),
            ],
        );
        c.env("PATH", venv_path(&python)?)
            .env("CARGO_TARGET_DIR", run::target_dir().join("dist-wheels"));
        run::status(&mut c)?;
        let tag = format!("cp{}", interp.minor.replace('.', ""));
        let wheel = newest(
            dist,
            &format!("brinery-{version}-{tag}-{tag}-"),
            &format!("{MANYLINUX_TAG}.whl"),
        )?;
        let shown = run::output(&mut run::cmd(
            python.with_file_name("auditwheel"),
            &["show", wheel.to_str().unwrap()],
        ))?;
        let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
        if !shown.contains(&format!("following platform tag: \"{MANYLINUX_TAG}\"")) {
            return Err(format!("{} is not {MANYLINUX_TAG}:\n{shown}", wheel.display()).into());
        }
        out.push((interp, wheel));
    }
    Ok(out)
}

/// The source distribution (builds wherever a Rust toolchain exists).
fn sdist(dist: &Path) -> Result<PathBuf> {
    let python = crate::venv::ensure()?;
    run::status(&mut run::cmd(
        python.with_file_name("maturin"),
        &[
            "sdist",
            "-m",
            "bindings-python/Cargo.toml",
            "-o",
            dist.to_str().unwrap(),
        ],
    ))?;
    newest(
        dist,
        &format!("brinery-{}", run::workspace_version()?),
        ".tar.gz",
    )
}

/// What every installed Python package must do: a lambda round trip through stock
/// pickle, a task on a spawn pool, and `safe_loads`, from brinery installed in the
/// venv (not the source tree).
const PYTHON_SMOKE: &str = "\
import pickle, sys, brinery
from brinery.pool import Pool
f = pickle.loads(brinery.dumps(lambda x: x * 6))
assert f(7) == 42, f(7)
assert brinery.__file__.startswith(sys.prefix), brinery.__file__
assert brinery.safe_loads(pickle.dumps({'a': [1, 2.5, None]})) == {'a': [1, 2.5, None]}
if __name__ == '__main__':
    with Pool(1, start_method='spawn') as p:
        assert p.submit(lambda: 6 * 7).result(timeout=120) == 42
    print('python', sys.version.split()[0], 'ok:', brinery.__file__)
";

/// Installs `package` (a wheel, or an sdist to build) into a new venv of `interpreter`
/// in a clean temporary directory and runs [`PYTHON_SMOKE`] there.
fn smoke_python(interpreter: &Path, package: &Path, from_source: bool) -> Result {
    let dir = run::scratch_dir("dist-python")?;
    let venv = dir.join("venv");
    run::status(run::cmd(interpreter, &["-m", "venv", venv.to_str().unwrap()]).current_dir(&dir))?;
    let python = venv.join("bin/python");
    let mut install = vec!["-m", "pip", "install", "-q", "--disable-pip-version-check"];
    if !from_source {
        install.push("--no-index");
    }
    install.push(package.to_str().unwrap());
    let mut c = run::cmd(&python, &install);
    c.current_dir(&dir);
    if from_source {
        // The build's own target directory, so it starts cold as on a user's machine.
        c.env("CARGO_TARGET_DIR", dir.join("target"));
    }
    run::status(&mut c)?;
    let script = dir.join("smoke.py");
    std::fs::write(&script, PYTHON_SMOKE)?;
    run::status(
        run::cmd(&python, &[script.to_str().unwrap()])
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
