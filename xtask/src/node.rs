//! The Node binding's steps: `npm ci` in `bindings-node/` when `node_modules` is missing
//! or older than `package-lock.json`, a release build of `brinery-node` copied to the
//! file name `index.js` loads, then `node --test` over `bindings-node/test/`.

use std::path::PathBuf;

use crate::run::{self, Result};

/// Installs the npm dev dependencies and builds the addon so that
/// `require('./bindings-node')` works from the repository root.
pub fn develop() -> Result {
    npm_ci()?;
    build()
}

/// `develop`, then the `node --test` suite.
pub fn test() -> Result {
    develop()?;
    let mut c = run::cmd("node", &["--test", "test/"]);
    c.current_dir(dir());
    run::status(&mut c)
}

fn dir() -> PathBuf {
    run::root().join("bindings-node")
}

/// Runs `npm ci` unless `node_modules` was installed from this very lock file.
fn npm_ci() -> Result {
    let lock = std::fs::read(dir().join("package-lock.json"))?;
    let stamp = dir().join("node_modules/.brinery-installed-lock");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return Ok(());
    }
    let mut c = run::cmd("npm", &["ci", "--no-audit", "--no-fund"]);
    c.current_dir(dir());
    run::status(&mut c)?;
    std::fs::write(stamp, lock)?;
    Ok(())
}

/// The addon's file name as `index.js` looks it up: `brinery.<platform>-<arch>[-gnu].node`.
fn addon_name() -> String {
    let platform = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        other => other,
    };
    let abi = if platform == "linux" { "-gnu" } else { "" };
    format!("brinery.{platform}-{arch}{abi}.node")
}

fn build() -> Result {
    run::cargo(&["build", "-p", "brinery-node", "--release"])?;
    let lib = format!(
        "{}brinery_node{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let built = run::target_dir().join("release").join(lib);
    let dest = dir().join(addon_name());
    std::fs::copy(&built, &dest)
        .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), dest.display()))?;
    Ok(())
}
