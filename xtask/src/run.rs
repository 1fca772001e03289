//! Process plumbing for xtask: run a command echoing it, fail with its status, and find
//! the workspace root. Nothing brinery-specific lives here.

use std::path::{Path, PathBuf};
use std::process::Command;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` when set, else `target/` at the root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}

/// A command to run from `dir`, echoed before it runs.
pub fn cmd(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args).current_dir(root());
    c
}

/// Runs `c` to completion, inheriting stdio; an error names the command and its status.
pub fn status(c: &mut Command) -> Result {
    eprintln!("$ {}", show(c));
    let st = c
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(c)))?;
    if !st.success() {
        return Err(format!("`{}` failed with {st}", show(c)).into());
    }
    Ok(())
}

/// Runs `c` and returns its stdout as text.
pub fn output(c: &mut Command) -> Result<String> {
    let out = c
        .output()
        .map_err(|e| format!("cannot start `{}`: {e}", show(c)))?;
    if !out.status.success() {
        return Err(format!(
            "`{}` failed with {}:\n{}",
            show(c),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn show(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cargo` with `args` in the workspace.
pub fn cargo(args: &[&str]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    status(&mut cmd(cargo, args))
}

/// True when the workspace has this member folder with a manifest.
pub fn has_crate(dir: &str) -> bool {
    root().join(dir).join("Cargo.toml").exists()
}

/// The version in `[workspace.package]` of the root `Cargo.toml`: the one place every
/// artifact's version comes from.
pub fn workspace_version() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))?;
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .ok_or("no [workspace.package]")?;
    let line = section
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find(|l| l.trim_start().starts_with("version"))
        .ok_or("no version in [workspace.package]")?;
    Ok(line
        .split('"')
        .nth(1)
        .ok_or("version is not a string")?
        .to_owned())
}

/// A fresh, empty directory `brinery-<name>-<pid>` under the system temp dir (emptied if
/// a previous run left it behind).
pub fn scratch_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("brinery-{name}-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
