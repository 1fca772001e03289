//! The scanner on hand-made and mutated streams: names resolved through the memo and
//! `getattr`, calls of built objects, Python 2 names, and no panic on any mutation of
//! the shared vectors (every truncation and byte flip walks to a result).

mod common;

use brinery_core::scan::{classify, scan, Severity, Target};

fn names(data: &[u8], level: Severity) -> Vec<String> {
    scan(data)
        .flagged(level)
        .iter()
        .map(|f| format!("{}@{}:{}", f.opcode, f.offset, f.target))
        .collect()
}

#[test]
fn stack_global_resolves_memoized_strings() {
    // proto 4; 'os' MEMOIZE; 'system' MEMOIZE; POP POP; BINGET 0; BINGET 1; STACK_GLOBAL
    let data = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x9400h\x00h\x01\x93N\x85R.";
    let s = scan(data);
    assert_eq!(s.offset_of("os", "system"), Some(22));
    assert_eq!(s.severity(), Severity::Dangerous);
}

#[test]
fn stack_global_of_computed_names_is_dangerous() {
    // STACK_GLOBAL over two call results.
    let data = b"\x80\x04cbuiltins\nstr\n)Rcbuiltins\nstr\n)R\x93.";
    let s = scan(data);
    let f = s.imports.last().unwrap();
    assert_eq!(f.target, Target::Dynamic);
    assert_eq!(f.severity, Severity::Dangerous);
}

#[test]
fn getattr_on_a_global_is_judged_by_the_attribute() {
    // getattr(os.path, 'system')(None): the call is of `os.path.system`.
    let data = b"\x80\x02c__builtin__\ngetattr\ncos\npath\nU\x06system\x86RN\x85R.";
    let s = scan(data);
    let last = s.calls.last().unwrap();
    assert_eq!(last.target.to_string(), "os.path.system");
    assert_eq!(last.severity, Severity::Dangerous);
    assert_eq!(s.imports[0].target.to_string(), "builtins.getattr");
    assert_eq!(s.imports[0].severity, Severity::Dangerous);
}

#[test]
fn getattr_used_dynamically_stays_dangerous() {
    // getattr(getattr, ...) through a call result: no fixed global to judge.
    let data = b"\x80\x02c__builtin__\ngetattr\nq\x00h\x00cmymod\nK\n)R\x8c\x01x\x86R.";
    let s = scan(data);
    assert_eq!(s.imports[0].severity, Severity::Dangerous);
    // A fixed attribute of an application class: unknown, like the class.
    let data = b"\x80\x02c__builtin__\ngetattr\ncmymod\nOuter\nU\x05Inner\x86R.";
    let s = scan(data);
    assert_eq!(s.severity(), Severity::Unknown);
    assert_eq!(s.calls[0].target.to_string(), "mymod.Outer.Inner");
}

#[test]
fn dunder_attributes_in_dotted_names_are_dangerous() {
    let data = b"\x80\x04\x8c\x08builtins\x8c\x15object.__subclasses__\x93)R.";
    let s = scan(data);
    assert_eq!(s.imports[0].severity, Severity::Dangerous);
    assert_eq!(classify("mymod", "Outer.__new__").0, Severity::Unknown);
    assert_eq!(classify("mymod", "__builtins__").0, Severity::Dangerous);
}

#[test]
fn calls_of_built_objects_and_builds_are_reported() {
    // types.FunctionType(...)() and BUILD on the result.
    let data = b"\x80\x02ctypes\nFunctionType\nNN\x86R)R}b.";
    let s = scan(data);
    let ops: Vec<_> = s.calls.iter().map(|f| (f.opcode, f.severity)).collect();
    assert_eq!(
        ops,
        [
            ("REDUCE", Severity::Code),
            ("REDUCE", Severity::Code),
            ("BUILD", Severity::Code)
        ]
    );
    assert_eq!(s.calls[1].target, Target::Built);
}

#[test]
fn dangerous_globals_inside_containers_taint_the_call() {
    // functools.partial(*[os.system]) through a list and APPEND.
    let data = b"\x80\x02cfunctools\npartial\n]cos\nsystem\na\x85R.";
    let s = scan(data);
    assert_eq!(s.calls[0].severity, Severity::Dangerous);
}

#[test]
fn python2_names_are_mapped() {
    let s = scan(b"c__builtin__\neval\n(S'1'\ntR.");
    assert_eq!(s.imports[0].target.to_string(), "builtins.eval");
    assert_eq!(s.severity(), Severity::Dangerous);
}

#[test]
fn walk_stops_at_the_first_malformed_opcode() {
    let s = scan(b"\x80\x02cos\nsystem\n\xff.");
    assert_eq!(s.error.as_ref().map(|e| e.offset), Some(13));
    assert_eq!(
        names(b"\x80\x02cos\nsystem\n\xff.", Severity::Dangerous),
        ["GLOBAL@2:os.system"]
    );
    assert!(scan(b"\x80\x02)0").error.is_some());
    assert!(scan(b"\x80\x02h\x05.").error.is_some());
}

#[test]
fn classification_of_the_named_families() {
    for (m, n) in [
        ("os", "system"),
        ("os", "execvp"),
        ("posix", "popen"),
        ("nt", "system"),
        ("subprocess", "check_output"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "compile"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("builtins", "open"),
        ("builtins", "breakpoint"),
        ("importlib", "import_module"),
        ("pickle", "loads"),
        ("_pickle", "loads"),
        ("shutil", "rmtree"),
        ("socket", "socket"),
        ("ctypes", "CDLL"),
        ("runpy", "run_path"),
        ("pty", "spawn"),
        ("sys", "exit"),
        ("dill._dill", "_get_attr"),
    ] {
        assert_eq!(classify(m, n).0, Severity::Dangerous, "{m}.{n}");
    }
    for (m, n) in [
        ("types", "CodeType"),
        ("types", "FunctionType"),
        ("marshal", "loads"),
        ("cloudpickle.cloudpickle", "_make_function"),
        ("dill._dill", "_create_code"),
        ("builtins", "type"),
    ] {
        assert_eq!(classify(m, n).0, Severity::Code, "{m}.{n}");
    }
    for (m, n) in [
        ("datetime", "datetime"),
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
    ] {
        assert_eq!(classify(m, n).0, Severity::Safe, "{m}.{n}");
    }
    assert_eq!(classify("myapp.models", "User").0, Severity::Unknown);
}

#[test]
fn no_mutation_of_a_vector_panics() {
    let mut n = 0u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for (_, _, data, _) in common::case_streams() {
        if data.len() > 1024 {
            continue;
        }
        for cut in (0..data.len()).step_by(1 + data.len() / 128) {
            let _ = scan(&data[..cut]);
        }
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = data.clone();
            let i = (seed as usize) % m.len().max(1);
            if let Some(b) = m.get_mut(i) {
                *b = (seed >> 32) as u8;
            }
            let _ = scan(&m);
            n += 1;
        }
    }
    assert!(n > 1000);
}

#[test]
fn deeply_nested_tuples_neither_overflow_nor_hide_globals() {
    let mut data = b"\x80\x02cos\nsystem\n".to_vec();
    data.extend(vec![0x85u8; 200_000]);
    data.extend(b"N\x86)\x86.");
    let s = scan(&data);
    assert_eq!(s.error, None);
    let mut call = b"\x80\x02cfunctools\npartial\ncos\nsystem\n".to_vec();
    call.extend(vec![0x85u8; 1000]);
    call.extend(b"R.");
    assert_eq!(scan(&call).calls[0].severity, Severity::Dangerous);
}

#[test]
fn a_memo_key_past_the_stream_is_unknown() {
    // Found by the scan_cpython fuzz target: `LONG_BINPUT 74,545,522` (the bytes
    // `rryq\x04` after a str), for which `pickle.loads` grows its memo to 1.2 GB and
    // spends 5 s; every global is safe-listed and the safe loaders accept it.
    let data = b"\x80\x03cbuiltins\nset\nq\x00]q\x01(X\x04\x00\x00\x00dateq\x02X\x06\x00\x00\x00\
                 bananaq\x03X\x06\x00\x00\x00che\\\n.rryq\x04X\x05\x00\x00\x00appleq\x05e\x85q\x07.";
    let s = scan(data);
    assert_eq!(s.severity(), Severity::Unknown);
    assert_eq!(s.limit, None, "no safe loader refuses it");
    let far: Vec<_> = s
        .calls
        .iter()
        .filter(|f| matches!(f.target, Target::Limit(_)))
        .map(|f| (f.offset, f.opcode, f.target.to_string()))
        .collect();
    assert_eq!(
        far,
        [(
            57,
            "LONG_BINPUT",
            "memo larger than the limit of 79".to_owned()
        )]
    );
    // The same stream with the key cut to the stream's length is safe: the bound is
    // the memo limit of the safe loaders, one entry per input byte.
    let mut near = data.to_vec();
    near[58..62].copy_from_slice(&78u32.to_le_bytes());
    assert_eq!(scan(&near).severity(), Severity::Safe);
    near[58..62].copy_from_slice(&79u32.to_le_bytes());
    assert_eq!(scan(&near).severity(), Severity::Unknown);
}
