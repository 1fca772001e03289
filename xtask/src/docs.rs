//! Executes every code example in `README.md` and `docs/*.md`, so the docs cannot rot.
//!
//! A fenced block tagged `python`, `js` or `c` is run (Python with the repo's `.venv`, JS
//! with `node` resolving `require('brinery')` to `bindings-node/`, C compiled by gcc
//! against the built `libbrinery`); a block whose info string also says `no-run` is
//! skipped. Each example runs alone in a fresh temporary directory and must exit 0.

use crate::run::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One runnable example.
struct Example {
    file: PathBuf,
    line: usize,
    lang: Lang,
    code: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    Python,
    Js,
    C,
}

/// Extracts the runnable examples of one Markdown text.
fn examples(file: &Path, text: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let lang = match words.next() {
            Some("python") => Some(Lang::Python),
            Some("js" | "javascript") => Some(Lang::Js),
            Some("c") => Some(Lang::C),
            _ => None,
        };
        let skip = words.any(|w| w == "no-run");
        let mut code = String::new();
        for (_, body) in lines.by_ref() {
            if body.trim_start().starts_with("```") {
                break;
            }
            code.push_str(body);
            code.push('\n');
        }
        if let (Some(lang), false) = (lang, skip) {
            out.push(Example {
                file: file.to_path_buf(),
                line: n + 1,
                lang,
                code,
            });
        }
    }
    out
}

fn markdown_files() -> Result<Vec<PathBuf>> {
    let root = run::root();
    let mut files = vec![root.join("README.md")];
    let docs = root.join("docs");
    if docs.is_dir() {
        let mut md: Vec<PathBuf> = std::fs::read_dir(&docs)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        md.sort();
        files.extend(md);
    }
    Ok(files)
}

fn command_for(ex: &Example, dir: &Path, python: &Path) -> Result<Command> {
    let root = run::root();
    Ok(match ex.lang {
        Lang::Python => {
            let src = dir.join("example.py");
            std::fs::write(&src, &ex.code)?;
            let mut c = Command::new(python);
            c.arg(&src);
            c
        }
        Lang::Js => {
            let modules = dir.join("node_modules");
            std::fs::create_dir_all(&modules)?;
            std::os::unix::fs::symlink(root.join("bindings-node"), modules.join("brinery"))?;
            let src = dir.join("example.js");
            std::fs::write(&src, &ex.code)?;
            let mut c = Command::new("node");
            c.arg(&src);
            c
        }
        Lang::C => {
            let target = run::target_dir();
            let src = dir.join("example.c");
            let exe = dir.join("example");
            std::fs::write(&src, &ex.code)?;
            run::status(
                Command::new("gcc")
                    .args(["-Wall", "-Werror", "-o"])
                    .arg(&exe)
                    .arg(&src)
                    .arg(format!("-I{}", target.join("include").display()))
                    .arg(format!("-L{}", target.join("release").display()))
                    .arg("-lbrinery"),
            )?;
            let mut c = Command::new(&exe);
            c.env("LD_LIBRARY_PATH", target.join("release"));
            c
        }
    })
}

/// Whether the binding an example needs has been built in this run.
fn available(lang: Lang, python: &Path) -> bool {
    let root = run::root();
    match lang {
        Lang::Python => python.exists() && run::has_crate("bindings-python"),
        Lang::Js => run::has_crate("bindings-node") && root.join("bindings-node/index.js").exists(),
        Lang::C => run::target_dir().join("include/brinery.h").exists(),
    }
}

/// Runs every example; fails listing the ones that failed.
pub fn test() -> Result {
    let python = run::root().join(".venv/bin/python");
    let (mut passed, mut failed, mut skipped) = (0, Vec::new(), 0);
    let mut i = 0;
    for file in markdown_files()? {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for ex in examples(&file, &text) {
            i += 1;
            let place = format!(
                "{}:{}",
                ex.file
                    .strip_prefix(run::root())
                    .unwrap_or(&ex.file)
                    .display(),
                ex.line
            );
            if !available(ex.lang, &python) {
                eprintln!("docs: {place}: {:?} binding not built, skipped", ex.lang);
                skipped += 1;
                continue;
            }
            let dir = run::scratch_dir(&format!("docs-{i}"))?;
            let outcome =
                command_for(&ex, &dir, &python).and_then(|mut c| run::status(c.current_dir(&dir)));
            let _ = std::fs::remove_dir_all(&dir);
            match outcome {
                Ok(()) => passed += 1,
                Err(e) => {
                    eprintln!("docs: {place}: {e}");
                    failed.push(place);
                }
            }
        }
    }
    println!(
        "docs: {passed} passed, {} failed, {skipped} skipped",
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("doc examples failed: {}", failed.join(", ")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_runnable_blocks_only() {
        let md = "text\n```python\nprint(1)\n```\n```python no-run\nboom\n```\n```sh\nls\n```\n```c\nint main(){return 0;}\n```\n";
        let ex = examples(Path::new("x.md"), md);
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].lang, Lang::Python);
        assert_eq!(ex[0].code, "print(1)\n");
        assert_eq!(ex[0].line, 2);
        assert_eq!(ex[1].lang, Lang::C);
    }
}
