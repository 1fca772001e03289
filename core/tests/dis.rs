//! `dis` prints exactly what `pickletools.dis` printed for every shared vector, for
//! CPython's DATA0-DATA4, and fails where `pickletools.dis` failed.

mod common;

use brinery_core::dis;
use common::{manifest, vector};

fn check(data: &[u8], want: &[u8], what: &str, failures: &mut Vec<String>) {
    let want = String::from_utf8(want.to_vec()).unwrap();
    match dis(data) {
        Ok(got) if got == want => {}
        Ok(got) => {
            let line = got
                .lines()
                .zip(want.lines())
                .find(|(g, w)| g != w)
                .map(|(g, w)| format!("\n  got  {g}\n  want {w}"))
                .unwrap_or_else(|| "\n  (line count differs)".into());
            failures.push(format!("{what}:{line}"));
        }
        Err(e) => failures.push(format!("{what}: {e}")),
    }
}

#[test]
fn every_vector_disassembles_like_pickletools() {
    let m = manifest();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in m["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        for p in case["protocols"].as_array().unwrap() {
            let p = p.as_u64().unwrap();
            let data = vector(&format!("{name}.p{p}.pickle"));
            let want = vector(&format!("{name}.p{p}.dis"));
            check(&data, &want, &format!("{name}.p{p}"), &mut failures);
            checked += 1;
        }
    }
    for case in m["py2"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let data = vector(case["pickle"].as_str().unwrap());
        match case.get("dis") {
            Some(file) => check(&data, &vector(file.as_str().unwrap()), name, &mut failures),
            None => {
                if let Ok(text) = dis(&data) {
                    failures.push(format!(
                        "{name}: pickletools.dis fails, ours printed\n{text}"
                    ));
                }
            }
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 500);
}

#[test]
fn cpython_data0_to_data4_disassemble_like_pickletester_says() {
    let mut failures = Vec::new();
    for n in 0..5 {
        let data = vector(&format!("cpython/data{n}.pickle"));
        let want = vector(&format!("cpython/data{n}.dis"));
        check(&data, &want, &format!("DATA{n}"), &mut failures);
        // pickletester's own text is older than pickletools' "(as N)" MEMOIZE notes.
        let theirs =
            String::from_utf8(vector(&format!("cpython/data{n}.pickletester.dis"))).unwrap();
        let ours: String = dis(&data)
            .unwrap()
            .lines()
            .map(|l| match l.find("MEMOIZE    (as ") {
                Some(i) => format!("{}MEMOIZE\n", &l[..i]),
                None => format!("{l}\n"),
            })
            .collect();
        assert_eq!(ours, theirs, "DATA{n} against pickletester's DATA{n}_DIS");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dis_rejects_what_pickletools_rejects() {
    for (data, what) in [
        (&b"(N.N."[..], "a mark left on the stack"),
        (b"N0.", "a pop of the stack's last item before STOP"),
        (b"Nq\x00q\x00.", "a memo key defined twice"),
        (b"h\x00.", "a memo key never defined"),
        (b"Nt.", "no mark"),
        (b"NN.", "items left after STOP"),
        (b"N", "no STOP"),
        (b"\xff.", "unknown opcode"),
    ] {
        assert!(dis(data).is_err(), "{what}: {:?}", dis(data));
    }
}
