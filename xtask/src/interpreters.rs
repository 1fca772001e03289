//! The CPythons brinery supports ([`SUPPORTED`]) and where this machine has them: the
//! default one (`$BRINERY_PYTHON`, else `python3`) and every other supported minor
//! version that `pyenv` lists or that is on `PATH` as `python3.X`. Nothing here builds or
//! installs; [`crate::venv`] makes an environment for each.

use crate::run::{self, Result};
use std::path::PathBuf;

/// The minor versions brinery is built and tested for.
pub const SUPPORTED: &[&str] = &["3.11", "3.12", "3.13"];

/// One interpreter: its minor version (`"3.12"`), the executable, and whether it is the
/// default (whose venv is `.venv/` and whose build goes to the plain target directory).
#[derive(Clone, Debug)]
pub struct Interpreter {
    pub minor: String,
    pub executable: PathBuf,
    pub default: bool,
}

impl Interpreter {
    /// The repo-local venv of this interpreter: `.venv/` for the default, else
    /// `.venv-3.X/`.
    pub fn venv_dir(&self) -> PathBuf {
        if self.default {
            run::root().join(".venv")
        } else {
            run::root().join(format!(".venv-{}", self.minor))
        }
    }

    /// Cargo's target directory for this interpreter's build (PyO3 builds for one
    /// interpreter at a time; separate directories keep each build warm).
    pub fn target_dir(&self) -> PathBuf {
        if self.default {
            run::target_dir()
        } else {
            run::target_dir().join(format!("python-{}", self.minor))
        }
    }
}

/// `major.minor` of the interpreter `exe`.
fn minor_of(exe: &std::ffi::OsStr) -> Result<String> {
    let out = run::output(&mut run::cmd(
        exe,
        &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    ))?;
    Ok(out.trim().to_owned())
}

/// The default interpreter: `$BRINERY_PYTHON`, else `python3`.
pub fn default() -> Result<Interpreter> {
    let exe = std::env::var_os("BRINERY_PYTHON").unwrap_or_else(|| "python3".into());
    let minor = minor_of(&exe)?;
    Ok(Interpreter {
        minor,
        executable: PathBuf::from(exe),
        default: true,
    })
}

/// Versions `pyenv` lists, as (name, path of its `python3.X`), newest patch first.
fn pyenv_versions() -> Vec<(String, PathBuf)> {
    let Ok(root) = run::output(&mut run::cmd("pyenv", &["root"])) else {
        return Vec::new();
    };
    let Ok(list) = run::output(&mut run::cmd("pyenv", &["versions", "--bare"])) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u32>, String, PathBuf)> = list
        .lines()
        .map(str::trim)
        .filter_map(|name| {
            // Plain CPython releases only (`3.12.1`), not `3.12-dev`, pypy or envs.
            let parts: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            if parts.len() != 3 {
                return None;
            }
            let minor = format!("{}.{}", parts[0], parts[1]);
            let exe = PathBuf::from(root.trim())
                .join("versions")
                .join(name)
                .join("bin")
                .join(format!("python{minor}"));
            Some((parts, name.to_owned(), exe))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, n, p)| (n, p)).collect()
}

/// `python3.X` on `PATH`, if any.
fn on_path(minor: &str) -> Option<PathBuf> {
    let name = format!("python{minor}");
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file() && !p.to_string_lossy().contains("/.pyenv/shims/"))
}

/// Every supported interpreter on this machine, the default first. A version that
/// `pyenv` lists but that does not run is an error, never skipped.
pub fn all() -> Result<Vec<Interpreter>> {
    let first = default()?;
    if !SUPPORTED.contains(&first.minor.as_str()) {
        return Err(format!(
            "{} is Python {}; brinery supports {} (set BRINERY_PYTHON)",
            first.executable.display(),
            first.minor,
            SUPPORTED.join(", ")
        )
        .into());
    }
    let mut out = vec![first.clone()];
    let listed = pyenv_versions();
    for minor in SUPPORTED {
        if *minor == first.minor {
            continue;
        }
        let from_pyenv = listed
            .iter()
            .find(|(name, _)| name.starts_with(minor) && name[minor.len()..].starts_with('.'));
        let exe = match from_pyenv {
            Some((name, exe)) => {
                if !exe.is_file() {
                    return Err(format!(
                        "pyenv lists Python {name} but {} does not exist",
                        exe.display()
                    )
                    .into());
                }
                exe.clone()
            }
            None => match on_path(minor) {
                Some(exe) => exe,
                None => {
                    eprintln!("xtask: no Python {minor} on this machine; not tested there");
                    continue;
                }
            },
        };
        let got = minor_of(exe.as_os_str())?;
        if got != *minor {
            return Err(format!("{} is Python {got}, not {minor}", exe.display()).into());
        }
        out.push(Interpreter {
            minor: minor.to_string(),
            executable: exe,
            default: false,
        });
    }
    Ok(out)
}
