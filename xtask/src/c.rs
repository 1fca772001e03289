//! The C binding's steps: generate `brinery.h` with cbindgen (into
//! `<target>/include/brinery.h`, keeping the committed copy
//! `bindings-c/include/brinery.h` current), build `libbrinery.{so,a}`, write the
//! pkg-config file, build the example, and compile and run every `bindings-c/tests/*.c`
//! (with gcc) and `*.cpp` (with g++) under AddressSanitizer and
//! UndefinedBehaviorSanitizer, after checking that the header compiles as strict C99.
//! Not for the C API itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{self, Result};

const CRATE_DIR: &str = "bindings-c";
const COMMITTED_HEADER: &str = "bindings-c/include/brinery.h";
/// What a program linking `libbrinery.a` also needs (`rustc --print native-static-libs`
/// on Linux).
const LIBS_PRIVATE: &str = "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc";
/// Sanitizers and warnings for every test program; the language standard comes first.
const SANITIZE: &[&str] = &[
    "-g",
    "-O1",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=undefined",
];

/// `cargo xtask develop` for C: release build, header, pkg-config file.
pub fn develop() -> Result {
    build()?;
    header(false)?;
    let pc = pkg_config()?;
    eprintln!(
        "xtask: libbrinery in {}, header in {}, pkg-config file {}",
        release_dir().display(),
        include_dir().display(),
        pc.display()
    );
    Ok(())
}

/// `cargo xtask dist` for C: `<target>/dist/brinery-c-VERSION-linux-ARCH.tar.gz` holding
/// `include/brinery.h`, `lib/libbrinery.{so,a}`, a relocatable
/// `lib/pkgconfig/brinery.pc`, `share/doc/brinery/c.md` and the example; then a smoke
/// test: unpack it elsewhere, build the example with its pkg-config file, run it.
/// Returns the tarball.
pub fn dist() -> Result<PathBuf> {
    build()?;
    header(false)?;
    let root = run::root();
    let version = run::workspace_version()?;
    let name = format!("brinery-c-{version}-linux-{}", std::env::consts::ARCH);
    let dist = run::target_dir().join("dist");
    let stage = dist.join(&name);
    if stage.exists() {
        fs::remove_dir_all(&stage)?;
    }
    for dir in ["include", "lib/pkgconfig", "share/doc/brinery/examples"] {
        fs::create_dir_all(stage.join(dir))?;
    }
    fs::copy(
        include_dir().join("brinery.h"),
        stage.join("include/brinery.h"),
    )?;
    for lib in ["libbrinery.so", "libbrinery.a"] {
        fs::copy(release_dir().join(lib), stage.join("lib").join(lib))?;
    }
    let template = fs::read_to_string(root.join(CRATE_DIR).join("brinery.pc.in"))?;
    let pc = template
        .replace("@PREFIX@", "${pcfiledir}/../..")
        .replace("@LIBDIR@", "${prefix}/lib")
        .replace("@INCLUDEDIR@", "${prefix}/include")
        .replace("@VERSION@", &version)
        .replace("@LIBS_PRIVATE@", LIBS_PRIVATE);
    fs::write(stage.join("lib/pkgconfig/brinery.pc"), pc)?;
    fs::copy(root.join("docs/c.md"), stage.join("share/doc/brinery/c.md"))?;
    fs::copy(
        root.join(CRATE_DIR).join("examples/pickle2json.c"),
        stage.join("share/doc/brinery/examples/pickle2json.c"),
    )?;
    let tarball = dist.join(format!("{name}.tar.gz"));
    let mut tar = run::cmd("tar", &["-czf"]);
    tar.arg(&tarball).arg("-C").arg(&dist).arg(&name);
    run::status(&mut tar)?;
    smoke_test(&tarball, &name)?;
    eprintln!("xtask: {}", tarball.display());
    Ok(tarball)
}

/// Unpacks the tarball in a fresh folder and builds and runs the example from it alone.
fn smoke_test(tarball: &Path, name: &str) -> Result {
    let dir = run::target_dir().join("dist/smoke");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    let mut untar = run::cmd("tar", &["-xzf"]);
    untar.arg(tarball).arg("-C").arg(&dir);
    run::status(&mut untar)?;
    let prefix = dir.join(name);
    let mut pkg = run::cmd("pkg-config", &["--cflags", "--libs", "brinery"]);
    pkg.env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"));
    let flags = run::output(&mut pkg)?;
    let exe = dir.join("pickle2json");
    let mut gcc = run::cmd("gcc", &["-Wall", "-Werror"]);
    gcc.arg(prefix.join("share/doc/brinery/examples/pickle2json.c"))
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
    run::status(&mut gcc)?;
    let vector = run::root().join("core/tests/vectors/dict_mixed_keys.p4.pickle");
    let mut run_it = run::cmd(&exe, &[]);
    run_it.arg(vector).env_remove("LD_LIBRARY_PATH");
    let json = run::output(&mut run_it)?;
    if !json.starts_with("{\"$dict\"") {
        return Err(format!("the unpacked pickle2json printed {json:?}").into());
    }
    Ok(())
}

/// `cargo xtask test` for C: header check, build, example, every C test.
pub fn test() -> Result {
    header(true)?;
    build()?;
    let pc = pkg_config()?;
    let out = run::target_dir().join("c");
    fs::create_dir_all(&out)?;
    let pickle2json = example(&out, &pc)?;
    let mut tests: Vec<PathBuf> = fs::read_dir(run::root().join(CRATE_DIR).join("tests"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    tests.retain(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"));
    tests.sort();
    header_is_strict_c99(&out)?;
    let mut failed = Vec::new();
    for src in &tests {
        let name = src.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = out.join(&name);
        compile(src, &exe, SANITIZE)?;
        if let Err(e) = run_test(&exe, &pickle2json) {
            eprintln!("xtask: C test {name} failed: {e}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        return Err(format!("C tests failed: {}", failed.join(", ")).into());
    }
    eprintln!("xtask: {} C test programs passed", tests.len());
    Ok(())
}

fn release_dir() -> PathBuf {
    run::target_dir().join("release")
}

fn include_dir() -> PathBuf {
    run::target_dir().join("include")
}

fn build() -> Result {
    run::cargo(&["build", "-p", "brinery-c", "--release"])
}

/// Generates the header into `<target>/include/brinery.h`. With `check`, a committed
/// copy that differs is an error (the copy is rewritten so that committing fixes it);
/// without, the committed copy is simply updated.
pub fn header(check: bool) -> Result {
    let root = run::root();
    let crate_dir = root.join(CRATE_DIR);
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("bindings-c/cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    fs::create_dir_all(include_dir())?;
    fs::write(include_dir().join("brinery.h"), &text)?;
    let committed = root.join(COMMITTED_HEADER);
    if fs::read(&committed).ok().as_deref() != Some(text.as_slice()) {
        fs::write(&committed, &text)?;
        if check {
            return Err(format!(
                "{COMMITTED_HEADER} was stale (the C API changed); it has been regenerated, \
                 commit it"
            )
            .into());
        }
        eprintln!("xtask: updated {COMMITTED_HEADER}");
    }
    Ok(())
}

/// Writes `<target>/brinery.pc` from `bindings-c/brinery.pc.in`, pointing at the build.
fn pkg_config() -> Result<PathBuf> {
    let root = run::root();
    let template = fs::read_to_string(root.join(CRATE_DIR).join("brinery.pc.in"))?;
    let version = run::workspace_version()?;
    let text = template
        .replace("@PREFIX@", &run::target_dir().to_string_lossy())
        .replace("@LIBDIR@", &release_dir().to_string_lossy())
        .replace("@INCLUDEDIR@", &include_dir().to_string_lossy())
        .replace("@VERSION@", &version)
        .replace("@LIBS_PRIVATE@", LIBS_PRIVATE);
    let pc = run::target_dir().join("brinery.pc");
    fs::write(&pc, text)?;
    Ok(pc)
}

/// Builds `examples/pickle2json.c` three times: as docs/c.md says (flags from the
/// pkg-config file, so it is checked too), linked statically against `libbrinery.a`
/// with the pkg-config file's private libraries (and run once), then under the
/// sanitizers for the tests. Returns the sanitized binary.
fn example(out: &Path, pc: &Path) -> Result<PathBuf> {
    let src = run::root().join(CRATE_DIR).join("examples/pickle2json.c");
    let mut pkg = run::cmd("pkg-config", &["--cflags", "--libs", "brinery"]);
    pkg.env("PKG_CONFIG_PATH", pc.parent().unwrap());
    let flags = run::output(&mut pkg)?;
    let rpath = format!("-Wl,-rpath,{}", release_dir().display());
    let mut c = run::cmd("gcc", &["-Wall", "-Werror"]);
    c.arg(&src)
        .arg("-o")
        .arg(out.join("pickle2json"))
        .args(flags.split_whitespace())
        .arg(rpath);
    run::status(&mut c)?;

    let mut pkg = run::cmd("pkg-config", &["--libs-only-l", "--static", "brinery"]);
    pkg.env("PKG_CONFIG_PATH", pc.parent().unwrap());
    let libs = run::output(&mut pkg)?;
    let static_exe = out.join("pickle2json-static");
    let mut c = run::cmd("gcc", &["-Wall", "-Werror"]);
    c.arg(format!("-I{}", include_dir().display()))
        .arg(&src)
        .arg("-o")
        .arg(&static_exe)
        .arg(release_dir().join("libbrinery.a"))
        .args(libs.split_whitespace().filter(|l| *l != "-lbrinery"));
    run::status(&mut c)?;
    let vector = run::root().join("core/tests/vectors/nested.p4.pickle");
    let json = run::output(run::cmd(&static_exe, &[]).arg(vector))?;
    if !json.starts_with('{') && !json.starts_with('[') {
        return Err(format!("static pickle2json printed {json:?}").into());
    }
    let sanitized = out.join("pickle2json-asan");
    compile(&src, &sanitized, SANITIZE)?;
    Ok(sanitized)
}

/// A program that includes `brinery.h` and nothing else must compile as C99 with
/// `-pedantic -Werror` (the header promises no newer C than that).
fn header_is_strict_c99(out: &Path) -> Result {
    let src = out.join("header_c99.c");
    fs::write(
        &src,
        "#include \"brinery.h\"\nint main(void) { return 0; }\n",
    )?;
    let mut c = run::cmd(
        "gcc",
        &[
            "-std=c99",
            "-pedantic",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
        ],
    );
    c.arg(format!("-I{}", include_dir().display())).arg(&src);
    run::status(&mut c)
}

/// Compiles a test or example: C11 with gcc, or C++11 with g++ for a `.cpp` file.
fn compile(src: &Path, exe: &Path, flags: &[&str]) -> Result {
    let include = format!("-I{}", include_dir().display());
    let libdir = format!("-L{}", release_dir().display());
    let rpath = format!("-Wl,-rpath,{}", release_dir().display());
    let (compiler, std) = if src.extension().is_some_and(|e| e == "cpp") {
        ("g++", "-std=c++11")
    } else {
        ("gcc", "-std=c11")
    };
    let mut c = run::cmd(compiler, &[std, "-pedantic"]);
    c.args(flags);
    c.arg(&include).arg(src).arg("-o").arg(exe).args([
        libdir.as_str(),
        "-lbrinery",
        rpath.as_str(),
    ]);
    run::status(&mut c)
}

/// Runs one test program; it must exit 0 and end with `N passed, 0 failed`.
fn run_test(exe: &Path, pickle2json: &Path) -> Result {
    let mut c = Command::new(exe);
    c.current_dir(run::root())
        .env("BRINERY_VECTORS", run::root().join("core/tests/vectors"))
        .env("BRINERY_PICKLE2JSON", pickle2json)
        // `cargo run` points LD_LIBRARY_PATH at target/debug/deps, which may hold a
        // stale debug libbrinery.so that would win over the rpath.
        .env_remove("LD_LIBRARY_PATH")
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    eprintln!("$ {}", exe.display());
    let output = c.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!("exited with {}", output.status).into());
    }
    let summary = stdout
        .lines()
        .rev()
        .find_map(|l| {
            let (p, f) = l.split_once(" passed, ")?;
            Some((
                p.parse::<u32>().ok()?,
                f.strip_suffix(" failed")?.parse::<u32>().ok()?,
            ))
        })
        .ok_or("no `N passed, N failed` line")?;
    match summary {
        (0, _) => Err("no checks ran".into()),
        (_, 0) => Ok(()),
        (_, f) => Err(format!("{f} checks failed").into()),
    }
}
