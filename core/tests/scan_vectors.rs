//! The scanner over the shared CPython vectors: every stream walks to `STOP`, plain data
//! and the standard types are [`Severity::Safe`], application classes are
//! [`Severity::Unknown`], and the two things CPython writes that the scanner cannot
//! judge statically (`getattr` below protocol 4, extension codes) are flagged.

mod common;

use brinery_core::scan::{scan, Severity, Target};

/// Cases whose streams use only the harmless standard types.
const STANDARD: &[&str] = &[
    "complex",
    "datetime",
    "decimal",
    "ordereddict",
    "range",
    "uuid",
    "inband_picklebuffer",
    "oob_buffers",
    "persid_str",
    "persid_tuple",
];

fn global(t: &Target) -> String {
    t.to_string()
}

#[test]
fn plain_and_standard_vectors_are_safe() {
    let mut seen = 0;
    for (name, p, data, plain) in common::case_streams() {
        if !(plain || STANDARD.contains(&name.as_str()) || name.starts_with("py2_")) {
            continue;
        }
        let s = scan(&data);
        assert_eq!(s.error, None, "{name} p{p}");
        assert_eq!(s.end, Some(data.len()), "{name} p{p}");
        assert_eq!(
            s.severity(),
            Severity::Safe,
            "{name} p{p}: {:?}",
            s.flagged(Severity::Unknown)
        );
        seen += 1;
    }
    assert!(seen > 500, "only {seen} streams");
}

#[test]
fn application_classes_are_unknown_at_every_protocol() {
    // Below protocol 4 CPython reaches nested classes and `cls.__new__` with
    // `getattr(global, "name")`; the scanner resolves those calls and judges the
    // `getattr` import by the attributes it reached.
    let mut getattrs = 0;
    for (name, p, data, _) in common::case_streams() {
        if !matches!(
            name.as_str(),
            "getstate"
                | "global_function"
                | "list_subclass_state"
                | "newobj_ex"
                | "same_module_classes"
        ) {
            continue;
        }
        let s = scan(&data);
        assert_eq!(s.error, None);
        assert_eq!(
            s.severity(),
            Severity::Unknown,
            "{name} p{p}: {:?}",
            s.flagged(Severity::Code)
        );
        assert!(s.imports.iter().any(|f| f.severity == Severity::Unknown));
        for f in &s.imports {
            if global(&f.target) == "builtins.getattr" {
                getattrs += 1;
                assert_eq!(
                    f.reason,
                    "getattr of named attributes of imported globals only"
                );
            }
        }
    }
    assert!(getattrs > 0);
}

#[test]
fn extension_codes_are_flagged_and_resolved_globals_are_unknown() {
    for (name, p, data, _) in common::case_streams() {
        if name != "extension" {
            continue;
        }
        let s = scan(&data);
        let has_ext = s
            .imports
            .iter()
            .any(|f| matches!(f.target, Target::Extension(66)));
        assert_eq!(has_ext, p >= 2, "p{p}");
        let want = if p >= 2 {
            Severity::Dangerous
        } else {
            Severity::Unknown
        };
        assert_eq!(s.severity(), want, "p{p}");
    }
}
