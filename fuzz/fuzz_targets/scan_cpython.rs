//! Fuzzes the scanner against CPython: for any input, when the scan says `safe` (what
//! `python -m brinery scan` exits 0 for: every finding `safe`, the stream read to its
//! `STOP`, under every default limit), CPython's unpickler resolves only globals on the
//! known-safe list, whether it reads the stream as `pickle.loads(bytes)` or as
//! `pickle.load(file)` (which re-reads at frame ends). CPython is embedded through
//! PyO3 and traced by `oracle.py` with a `find_class` that records each global and
//! returns an inert stub: nothing is imported or run. CPython runs only on streams the
//! scan says are safe: the property says nothing of the others, and some of them cost
//! CPython itself exponential time (a dict key that is a DAG of tuples is hashed as a
//! tree), which the scan refuses by its limits. Not a check of the scan's wording or of
//! severities above `safe`.
#![no_main]

use brinery_core::scan::{self, is_safe, safe_globals, Severity};
use libfuzzer_sys::fuzz_target;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyModule};
use std::ffi::CString;
use std::sync::OnceLock;

/// `(module, name, mapped_module, mapped_name)`, as `oracle.trace` returns them.
type Global = (String, String, String, String);

static ORACLE: OnceLock<Py<PyModule>> = OnceLock::new();

fn oracle(py: Python<'_>) -> &Py<PyModule> {
    ORACLE.get_or_init(|| {
        let code = CString::new(include_str!("oracle.py")).unwrap();
        let m = PyModule::from_code(py, &code, c"oracle.py", c"oracle").unwrap();
        // A safe-listed name is never a Python 2 name the unpickler would map: so a
        // global is safe when its raw or its mapped name is on the list.
        for (module, name) in safe_globals() {
            let (m2, n2): (String, String) = m
                .call_method1("mapped", (module, name))
                .unwrap()
                .extract()
                .unwrap();
            assert_eq!((m2.as_str(), n2.as_str()), (module, name));
        }
        m.unbind()
    })
}

fn safe(g: &Global) -> bool {
    is_safe(&g.0, &g.1) || is_safe(&g.2, &g.3)
}

fuzz_target!(|data: &[u8]| {
    let s = scan::scan(data);
    let says_safe = s.severity() == Severity::Safe && s.error.is_none() && s.limit.is_none();
    if !says_safe {
        return;
    }
    let (loads, file, first) = Python::attach(|py| {
        let out = oracle(py)
            .bind(py)
            .call_method1("trace", (PyBytes::new(py, data),))
            .unwrap();
        out.extract::<(Vec<Global>, Vec<Global>, Option<(String, String)>)>()
            .unwrap()
    });
    // The whole-stream file reads as `pickle.loads` does: the same first global.
    assert_eq!(
        first,
        loads.first().map(|g| (g.0.clone(), g.1.clone())),
        "the loads trace disagrees with pickle.loads on {data:?}"
    );
    for (mode, seen) in [("pickle.loads", &loads), ("pickle.load(file)", &file)] {
        if let Some(g) = seen.iter().find(|g| !safe(g)) {
            panic!(
                "the scan says safe, but {mode} resolves {}.{} ({:?}); scan: {s:?}",
                g.0, g.1, seen
            );
        }
    }
});
