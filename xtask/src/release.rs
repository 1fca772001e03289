//! `cargo xtask release VERSION [--dry-run]`: bumps the version everywhere it is
//! written (the root `Cargo.toml`'s `[workspace.package]` and the path dependencies
//! between workspace crates, `bindings-node/package.json` and `package-lock.json`, and
//! `bindings-python/pyproject.toml` when it names a version rather than taking Cargo's),
//! writes the `CHANGELOG.md` section from the commit subjects since the last tag (or
//! since the first commit), runs `cargo xtask dist`, commits, and tags `vVERSION`.
//! `--dry-run` prints every change and command and touches nothing. Not for publishing:
//! uploading the artifacts in `target/dist/` is left to a person.

use std::fs;

use crate::run::{self, Result};

/// One file's new text, with the lines that change, for printing.
#[derive(Debug)]
pub struct Edit {
    pub file: String,
    pub text: String,
    pub changes: Vec<(String, String)>,
}

/// Everything a release changes.
#[derive(Debug)]
pub struct Plan {
    pub old: String,
    pub new: String,
    pub edits: Vec<Edit>,
    pub changelog: String,
    pub tag: String,
}

pub fn run(args: &[String]) -> Result {
    let mut dry_run = false;
    let mut version = None;
    for arg in args {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            a if !a.starts_with('-') && version.is_none() => version = Some(a.to_owned()),
            a => return Err(format!("unknown argument {a:?}; {USAGE}").into()),
        }
    }
    let version = version.ok_or(USAGE)?;
    let plan = plan(&version)?;
    print(&plan);
    if dry_run {
        eprintln!("xtask: dry run: nothing was changed");
        return Ok(());
    }
    apply(&plan)
}

const USAGE: &str = "usage: cargo xtask release VERSION [--dry-run]";

/// True for `MAJOR.MINOR.PATCH` with an optional `-pre` suffix.
fn is_version(v: &str) -> bool {
    let (core, pre) = v.split_once('-').unwrap_or((v, "x"));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && !pre.is_empty()
        && pre
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Computes the release of `version` from the tree as it is, writing nothing.
pub fn plan(version: &str) -> Result<Plan> {
    if !is_version(version) {
        return Err(format!("{version:?} is not a version (MAJOR.MINOR.PATCH[-PRE])").into());
    }
    let old = run::workspace_version()?;
    if old == version {
        return Err(format!("the workspace is already at {version}").into());
    }
    let mut edits = Vec::new();
    let manifests = ["Cargo.toml"]
        .into_iter()
        .map(str::to_owned)
        .chain(members()?.into_iter().map(|m| format!("{m}/Cargo.toml")));
    for manifest in manifests {
        edits.extend(edit_lines(
            &manifest,
            |line, in_workspace_package| {
                let t = line.trim_start();
                let own = in_workspace_package && t.starts_with("version") && t.contains('"');
                let path_dep = t.starts_with("brinery") && t.contains("path =");
                own || path_dep
            },
            &old,
            version,
        )?);
    }
    if run::has_crate("bindings-node") {
        edits.extend(edit_json(
            "bindings-node/package.json",
            &old,
            version,
            &[""],
        )?);
        edits.extend(edit_json(
            "bindings-node/package-lock.json",
            &old,
            version,
            &["", "\"packages\": {\n    \"\": {"],
        )?);
    }
    let pyproject = "bindings-python/pyproject.toml";
    if let Ok(text) = fs::read_to_string(run::root().join(pyproject)) {
        if !text.contains("dynamic = [\"version\"]") {
            edits.extend(edit_lines(
                pyproject,
                |l, _| l.starts_with("version"),
                &old,
                version,
            )?);
        }
    }
    let tag = format!("v{version}");
    Ok(Plan {
        changelog: changelog_section(version)?,
        old,
        new: version.to_owned(),
        edits,
        tag,
    })
}

/// The workspace members' folders, from the root manifest.
fn members() -> Result<Vec<String>> {
    let manifest = fs::read_to_string(run::root().join("Cargo.toml"))?;
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .ok_or("no members in Cargo.toml")?;
    Ok(line
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect())
}

/// Rewrites `old` to `new` on the lines of `file` that `pick(line, in [workspace.package]
/// or [package])` selects.
fn edit_lines(
    file: &str,
    pick: impl Fn(&str, bool) -> bool,
    old: &str,
    new: &str,
) -> Result<Option<Edit>> {
    let text = fs::read_to_string(run::root().join(file))?;
    let quoted_old = format!("\"{old}\"");
    let mut section = String::new();
    let mut changes = Vec::new();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with('[') {
            section = line.trim().to_owned();
        }
        let own = section == "[workspace.package]" || section == "[project]";
        if pick(line, own) && line.contains(&quoted_old) {
            let changed = line.replace(&quoted_old, &format!("\"{new}\""));
            changes.push((line.trim().to_owned(), changed.trim().to_owned()));
            out.push_str(&changed);
        } else {
            out.push_str(line);
        }
    }
    Ok((!changes.is_empty()).then(|| Edit {
        file: file.to_owned(),
        text: out,
        changes,
    }))
}

/// Rewrites the first `"version": "old"` after each of `anchors` in a JSON file (`""`:
/// the top level). A missing one is an error: the file's layout changed.
fn edit_json(file: &str, old: &str, new: &str, anchors: &[&str]) -> Result<Option<Edit>> {
    let mut text = fs::read_to_string(run::root().join(file))?;
    let from = format!("\"version\": \"{old}\"");
    let to = format!("\"version\": \"{new}\"");
    let mut changes = Vec::new();
    for anchor in anchors {
        let start = text
            .find(anchor)
            .ok_or_else(|| format!("{file}: no {anchor:?}"))?
            + anchor.len();
        let at = text[start..]
            .find(&from)
            .ok_or_else(|| format!("{file}: no {from} after {anchor:?}"))?
            + start;
        text.replace_range(at..at + from.len(), &to);
        changes.push((from.clone(), to.clone()));
    }
    Ok(Some(Edit {
        file: file.to_owned(),
        text,
        changes,
    }))
}

/// The last tag reachable from `HEAD`, if any.
fn last_tag() -> Option<String> {
    let mut c = run::cmd("git", &["describe", "--tags", "--abbrev=0"]);
    c.stderr(std::process::Stdio::null());
    run::output(&mut c).ok().map(|t| t.trim().to_owned())
}

/// `## VERSION (DATE)` and one bullet per commit subject since the last tag (merges
/// left out: their branches' commits are listed).
fn changelog_section(version: &str) -> Result<String> {
    let range = last_tag().map(|t| format!("{t}..HEAD"));
    let mut args = vec!["log", "--no-merges", "--format=%s"];
    if let Some(r) = &range {
        args.push(r);
    }
    let log = run::output(&mut run::cmd("git", &args))?;
    let date = run::output(&mut run::cmd("date", &["-u", "+%Y-%m-%d"]))?;
    let mut out = format!("## {version} ({})\n\n", date.trim());
    let since = range.map_or("the first commit".to_owned(), |r| r.replace("..HEAD", ""));
    out.push_str(&format!("Changes since {since}:\n\n"));
    for subject in log.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("- {}\n", subject.trim()));
    }
    out.push('\n');
    Ok(out)
}

const CHANGELOG: &str = "CHANGELOG.md";
const CHANGELOG_HEAD: &str = "# Changelog\n\n";

fn print(plan: &Plan) {
    eprintln!("xtask: release {} -> {}", plan.old, plan.new);
    for edit in &plan.edits {
        for (from, to) in &edit.changes {
            eprintln!("  {}: {from}  =>  {to}", edit.file);
        }
    }
    let lines = plan.changelog.lines().count();
    eprintln!("  {CHANGELOG}: a new section of {lines} lines:");
    for line in plan.changelog.lines().take(12) {
        eprintln!("    | {line}");
    }
    if lines > 12 {
        eprintln!("    | ... ({} more)", lines - 12);
    }
    eprintln!("  then: cargo update --workspace; cargo xtask dist;");
    eprintln!(
        "        git commit -am 'release {}'; git tag -a {} -m 'brinery {}'",
        plan.new, plan.tag, plan.new
    );
}

fn apply(plan: &Plan) -> Result {
    let status = run::output(&mut run::cmd("git", &["status", "--porcelain"]))?;
    if !status.trim().is_empty() {
        return Err("the work tree has uncommitted changes; commit or stash them first".into());
    }
    let root = run::root();
    for edit in &plan.edits {
        fs::write(root.join(&edit.file), &edit.text)?;
    }
    let path = root.join(CHANGELOG);
    let existing = fs::read_to_string(&path).unwrap_or_default();
    let body = existing.strip_prefix(CHANGELOG_HEAD).unwrap_or(&existing);
    fs::write(&path, format!("{CHANGELOG_HEAD}{}{body}", plan.changelog))?;
    run::cargo(&["update", "--workspace"])?;
    crate::dist::run(&[])?;
    run::status(&mut run::cmd("git", &["add", "-u"]))?;
    run::status(&mut run::cmd("git", &["add", CHANGELOG]))?;
    let message = format!("release {}", plan.new);
    run::status(&mut run::cmd("git", &["commit", "-m", &message]))?;
    let note = format!("brinery {}", plan.new);
    run::status(&mut run::cmd("git", &["tag", "-a", &plan.tag, "-m", &note]))?;
    eprintln!(
        "xtask: tagged {}; push it with `git push --follow-tags`",
        plan.tag
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(files: &[&str]) -> Vec<Option<String>> {
        files
            .iter()
            .map(|f| fs::read_to_string(run::root().join(f)).ok())
            .collect()
    }

    /// The dry run finds every place the version lives and leaves the tree as it was.
    #[test]
    fn dry_run_plans_every_bump_and_writes_nothing() {
        let files = [
            "Cargo.toml",
            "bindings-python/Cargo.toml",
            "bindings-node/package.json",
            "bindings-node/package-lock.json",
            CHANGELOG,
        ];
        let before = snapshot(&files);
        run(&["97.5.3".into(), "--dry-run".into()]).unwrap();
        assert_eq!(snapshot(&files), before);

        let plan = plan("97.5.3").unwrap();
        let edited: Vec<&str> = plan.edits.iter().map(|e| e.file.as_str()).collect();
        for file in &files[..4] {
            assert!(edited.contains(file), "{file} not bumped: {edited:?}");
        }
        for edit in &plan.edits {
            assert!(edit.text.contains("97.5.3"), "{}", edit.file);
            assert!(!edit.changes.iter().any(|(_, to)| to.contains(&plan.old)));
        }
        // Cargo.toml: the workspace version and the brinery-core path dependency.
        assert_eq!(plan.edits[0].changes.len(), 2);
        // package-lock.json: the top level and the root package, not a dependency.
        let lock = &plan
            .edits
            .iter()
            .find(|e| e.file.ends_with("lock.json"))
            .unwrap();
        assert_eq!(lock.changes.len(), 2);
        assert!(plan.changelog.starts_with("## 97.5.3 ("));
        assert!(plan.changelog.contains("\n- "));
        assert_eq!(plan.tag, "v97.5.3");
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in ["1.2", "v1.2.3", "1.2.x", "1.2.3-", ""] {
            assert!(!is_version(bad), "{bad}");
        }
        for good in ["1.2.3", "0.10.0-rc.1"] {
            assert!(is_version(good), "{good}");
        }
        assert!(run(&["1.2".into(), "--dry-run".into()]).is_err());
    }
}
