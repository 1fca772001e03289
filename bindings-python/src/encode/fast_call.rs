//! `brinery.dumps` called as `dumps(obj)` or `dumps(obj, protocol)` without PyO3's
//! argument parsing: a plain `METH_FASTCALL | METH_KEYWORDS` C function. On a small
//! object PyO3's trampoline and keyword parser were a tenth of the call, more than
//! `pickle.dumps`'s Argument Clinic spends. Any other call (keywords, a protocol that is
//! not an exact `int`, the wrong number of arguments) is handed, as it came, to the PyO3
//! function, which stays the one that parses, checks and reports errors.

use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

use pyo3::exceptions::PySystemError;
use pyo3::ffi;
use pyo3::prelude::*;

use super::Truth;

/// The PyO3 `dumps` function object (a strong reference kept for the module's life),
/// which every call the fast path does not take goes to.
static FULL: AtomicPtr<ffi::PyObject> = AtomicPtr::new(null_mut());

/// The method definition the fast function object points at (it must outlive it).
struct Def(ffi::PyMethodDef);
// SAFETY: written once at module creation, before any thread can see the function,
// and only read by CPython afterwards.
unsafe impl Sync for Def {}

/// Replaces `m.dumps` (the PyO3 function) with the fast function, keeping the PyO3 one
/// for the calls it hands over, with the same name, signature and docstring.
pub fn install(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let full = m.getattr("dumps")?;
    let sig: String = full.getattr("__text_signature__")?.extract()?;
    let doc: String = full.getattr("__doc__")?.extract().unwrap_or_default();
    // `name(signature)\n--\n\n` is how CPython finds a builtin's signature in its doc.
    let ml_doc = CString::new(format!("dumps{sig}\n--\n\n{doc}"))
        .map_err(|_| PySystemError::new_err("dumps's docstring has a NUL"))?;
    let def: &'static mut Def = Box::leak(Box::new(Def(ffi::PyMethodDef {
        ml_name: c"dumps".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: dumps_fast,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: Box::leak(ml_doc.into_boxed_c_str()).as_ptr(),
    })));
    let module_name = m.name()?;
    // SAFETY: a definition that lives forever; the module's name as CPython expects it.
    let fast = unsafe { ffi::PyCFunction_NewEx(&mut def.0, null_mut(), module_name.as_ptr()) };
    if fast.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: a new reference we own.
    let fast = unsafe { Bound::from_owned_ptr(py, fast) };
    FULL.store(full.unbind().into_ptr(), Ordering::Release);
    m.setattr("dumps", fast)
}

/// The call, handed to the PyO3 `dumps` as it came.
///
/// # Safety
/// The vectorcall arguments CPython passed to [`dumps_fast`], with the GIL held.
unsafe fn full_call(
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let full = FULL.load(Ordering::Acquire);
    // SAFETY: `full` is a live callable (kept for the module's life); the arguments are
    // passed through untouched.
    unsafe { ffi::PyObject_Vectorcall(full, args, nargsf, kwnames) }
}

unsafe extern "C" fn dumps_fast(
    _module: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let nargsf = nargs as usize;
    if !kwnames.is_null() || !(1..=2).contains(&nargs) {
        // SAFETY: CPython's arguments, passed on.
        return unsafe { full_call(args, nargsf, kwnames) };
    }
    // SAFETY: `nargs` (1 or 2) arguments, borrowed for the call; the GIL is held.
    unsafe {
        let obj = *args;
        let protocol = if nargs == 2 {
            *args.add(1)
        } else {
            ffi::Py_None()
        };
        let protocol = if protocol == ffi::Py_None() {
            None
        } else if ffi::PyLong_CheckExact(protocol) != 0 {
            let mut overflow = 0;
            let p = ffi::PyLong_AsLongLongAndOverflow(protocol, &mut overflow);
            if overflow != 0 {
                return full_call(args, nargsf, kwnames);
            }
            Some(p)
        } else {
            return full_call(args, nargsf, kwnames);
        };
        let py = Python::assume_attached();
        let obj = Bound::from_borrowed_ptr(py, obj);
        let out = catch_unwind(AssertUnwindSafe(|| {
            super::dumps(py, &obj, protocol, Truth(true), None, None, Truth(false))
        }));
        match out {
            Ok(Ok(bytes)) => bytes.into_ptr(),
            Ok(Err(e)) => {
                e.restore(py);
                null_mut()
            }
            Err(_) => {
                pyo3::panic::PanicException::new_err("brinery.dumps panicked").restore(py);
                null_mut()
            }
        }
    }
}
