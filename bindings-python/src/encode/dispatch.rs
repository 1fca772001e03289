//! The walker's dispatch: CPython's `save()` for one object. An opcode boundary first
//! (frames commit where CPython's do), then the exact type decides, without calling back
//! into Python for plain data: leaves (`None`, bools, ints, floats, memo hits, `str`,
//! `bytes`) are written here, containers by [`super::containers`], and everything else
//! goes to the reducers ([`super::reduce`], [`super::global`], [`super::function`],
//! [`super::class`], [`super::weak_proxy`]). Also the recursion bound (every depth up to
//! `sys.getrecursionlimit()`, on a grown stack when needed) and the hooked path for a
//! `persistent_id` or fast mode. Not for the walk's state: see [`super::walker`].

use brinery_core::Encoder;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use super::dump_buffer::DumpBuffer;
use super::output::Payload;
use super::walker::Walker;
use crate::error;

/// Stack left below which a nested save moves to a new stack segment, and the size of
/// each segment (see [`Walker::save_nested`]).
const STACK_RED_ZONE: usize = 512 * 1024;
const STACK_CHECK_EVERY: u32 = 16;
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

/// In fast mode, how deep lists and dicts nest before each is checked for a cycle
/// (CPython's pickler uses the same limit).
pub(super) const FAST_NESTING_LIMIT: usize = 50;

#[inline]
pub(super) fn is_type(obj: &Bound<'_, PyAny>, tp: *mut ffi::PyTypeObject) -> bool {
    obj.get_type_ptr() == tp
}

impl<'py> Walker<'py> {
    /// `save(obj)`: an opcode boundary, then one object, its errors given their path.
    pub fn save(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.save_with(obj, false)
    }

    pub fn save_with(&mut self, obj: &Bound<'py, PyAny>, pers_save: bool) -> PyResult<()> {
        // Frames are committed when the next object starts, as in CPython.
        self.boundary()?;
        if self.hooked {
            return self.save_hooked(obj, pers_save);
        }
        // Leaves cannot nest, so they skip the recursion guard (CPython's limit is still
        // enforced on every container).
        match self.save_leaf(obj) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(self.locate(e)),
        }
        self.save_nested(obj, pers_save)
    }

    /// [`Walker::dispatch`] one level deeper. The depth is bounded by
    /// `sys.getrecursionlimit()` on every interpreter (3.12 made CPython's own guard,
    /// `Py_EnterRecursiveCall`, count C levels against a fixed limit instead, which the
    /// user cannot raise), and past it the error is both `RecursionError` and
    /// `brinery.PicklingError`. Every depth up to the limit works whatever the thread's
    /// stack size: when little native stack is left, the walk goes on in a new segment.
    #[inline(always)]
    fn save_nested(&mut self, obj: &Bound<'py, PyAny>, pers_save: bool) -> PyResult<()> {
        if self.depth >= self.depth_limit {
            return Err(self.too_deep());
        }
        self.depth += 1;
        // The stack is looked at every `STACK_CHECK_EVERY` levels (the red zone is far
        // more than that many levels take), which keeps the check off flat data.
        let r = if self.depth % STACK_CHECK_EVERY == 0 {
            stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
                self.dispatch(obj, pers_save)
            })
        } else {
            self.dispatch(obj, pers_save)
        };
        self.depth -= 1;
        r.map_err(|e| self.locate(e))
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&mut self) -> PyErr {
        self.located = true;
        error::recursion_error(self.py, self.depth_limit)
    }

    /// [`Walker::save_with`] when a `persistent_id` or fast mode is on (kept out of the
    /// plain path): `persistent_id` sees leaves too, and in fast mode strings are not
    /// memoized and lists and dicts are watched for cycles, which through containers
    /// nested deeper than [`FAST_NESTING_LIMIT`] are a `ValueError` (CPython's message)
    /// instead of endless recursion.
    #[cold]
    #[inline(never)]
    fn save_hooked(&mut self, obj: &Bound<'py, PyAny>, pers_save: bool) -> PyResult<()> {
        if pers_save || self.opts.persistent_id.is_none() {
            if self.opts.fast && is_type(obj, &raw mut ffi::PyUnicode_Type) {
                return Self::write_str(&mut self.enc, &mut self.payloads, obj)
                    .map_err(|e| self.locate(e));
            }
            match self.save_leaf_outlined(obj) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(self.locate(e)),
            }
        }
        let watched = self.opts.fast
            && (is_type(obj, &raw mut ffi::PyList_Type) || is_type(obj, &raw mut ffi::PyDict_Type));
        if !watched {
            return self.save_nested(obj, pers_save);
        }
        let key = obj.as_ptr() as usize;
        let tracked = self.fast_nesting >= FAST_NESTING_LIMIT;
        if tracked && !self.fast_open.insert(key) {
            let e = pyo3::exceptions::PyValueError::new_err(format!(
                "fast mode: can't pickle cyclic objects including object type {} at {:#x}",
                obj.get_type().name()?,
                key
            ));
            return Err(self.locate(e));
        }
        self.fast_nesting += 1;
        let r = self.save_nested(obj, pers_save);
        self.fast_nesting -= 1;
        if tracked {
            self.fast_open.remove(&key);
        }
        r
    }

    /// The leaves of an object `persistent_id` declined (see [`Walker::save_hooked`]),
    /// strings unmemoized in fast mode.
    #[cold]
    #[inline(never)]
    fn save_leaf_after_pers(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
        if self.opts.fast && is_type(obj, &raw mut ffi::PyUnicode_Type) {
            Self::write_str(&mut self.enc, &mut self.payloads, obj)?;
            return Ok(true);
        }
        self.save_leaf(obj)
    }

    /// [`Walker::save_leaf`] kept out of line, for [`Walker::save_hooked`].
    #[inline(never)]
    fn save_leaf_outlined(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
        self.save_leaf(obj)
    }

    /// None, bools, ints, floats, memo hits, str and bytes: true when `obj` was one.
    #[inline(always)]
    fn save_leaf(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<bool> {
        unsafe {
            if obj.is_none() {
                self.enc.none();
                return Ok(true);
            }
            if is_type(obj, &raw mut ffi::PyBool_Type) {
                self.enc.bool(obj.as_ptr() == ffi::Py_True());
                return Ok(true);
            }
            if is_type(obj, &raw mut ffi::PyLong_Type) {
                self.save_long(obj)?;
                return Ok(true);
            }
            if is_type(obj, &raw mut ffi::PyFloat_Type) {
                self.enc.float(ffi::PyFloat_AS_DOUBLE(obj.as_ptr()));
                return Ok(true);
            }
        }
        if is_type(obj, &raw mut ffi::PyUnicode_Type) {
            // One hash lookup for both the memo hit and the insert.
            let hit = self.memo.get_or_write(obj, || {
                Self::write_str(&mut self.enc, &mut self.payloads, obj)?;
                Ok(self.enc.memoize())
            })?;
            if let Some(idx) = hit {
                self.enc.get(idx);
            }
            return Ok(true);
        }
        if is_type(obj, &raw mut ffi::PyBytes_Type) && self.enc.protocol() >= 3 {
            // SAFETY: an exact bytes object, whose contents live as long as it.
            let data = unsafe {
                std::slice::from_raw_parts(
                    ffi::PyBytes_AS_STRING(obj.as_ptr()) as *const u8,
                    ffi::Py_SIZE(obj.as_ptr()) as usize,
                )
            };
            if self.opts.fast {
                // (Written again each time; only what an earlier dump memoized is fetched.)
                if !self.try_get(obj) {
                    Self::write_bytes(&mut self.enc, &mut self.payloads, obj, data);
                }
                return Ok(true);
            }
            // As a str: one lookup for both (no weak proxy refers to bytes).
            let hit = self.memo.get_or_write(obj, || {
                Self::write_bytes(&mut self.enc, &mut self.payloads, obj, data);
                Ok(self.enc.memoize())
            })?;
            if let Some(idx) = hit {
                self.enc.get(idx);
            }
            return Ok(true);
        }
        Ok(self.try_get(obj))
    }

    /// Everything but the leaves, which [`Walker::save_leaf`] tried before (or, when a
    /// `persistent_id` declined `obj`, [`Walker::save_leaf_after_pers`] tries here):
    /// what is left of them is `bytes` below protocol 3, a reduction.
    fn dispatch(&mut self, obj: &Bound<'py, PyAny>, pers_save: bool) -> PyResult<()> {
        if !pers_save
            && self.opts.persistent_id.is_some()
            && (super::reduce::save_pers(self, obj)? || self.save_leaf_after_pers(obj)?)
        {
            return Ok(());
        }
        let py = self.py;
        if is_type(obj, &raw mut ffi::PyBytes_Type) {
            return self.save_bytes(obj);
        }
        if let Some(ro) = &self.opts.reducer_override {
            let rv = ro.call1((obj,))?;
            if !rv.is(py.NotImplemented()) {
                return super::reduce::save_reduce_value(self, obj, &rv);
            }
        }
        {
            if is_type(obj, &raw mut ffi::PyDict_Type) {
                return self.save_dict(obj);
            }
            if is_type(obj, &raw mut ffi::PyList_Type) {
                return self.save_list(obj);
            }
            if is_type(obj, &raw mut ffi::PyTuple_Type) {
                return self.save_tuple(obj);
            }
            if is_type(obj, &raw mut ffi::PySet_Type) {
                return self.save_set(obj);
            }
            if is_type(obj, &raw mut ffi::PyFrozenSet_Type) {
                return self.save_frozenset(obj);
            }
            if is_type(obj, &raw mut ffi::PyByteArray_Type) {
                return self.save_bytearray(obj);
            }
            if is_type(obj, &raw mut ffi::PyType_Type) {
                return super::reduce::save_type(self, obj);
            }
            if is_type(obj, &raw mut ffi::PyFunction_Type) {
                return super::global::save_global(self, obj, None);
            }
        }
        let tp = obj.get_type();
        if tp.is(self.st.pickle_buffer.bind(py)) {
            return super::reduce::save_picklebuffer(self, obj);
        }
        if tp.is(self.st.code_type.bind(py)) {
            return super::function::save_code(self, obj);
        }
        if tp.is(self.st.cell_type.bind(py)) {
            return super::function::save_cell(self, obj);
        }
        if tp.is(self.st.module_type.bind(py)) {
            return super::class::save_module(self, obj);
        }
        // SAFETY: a type check of a live object.
        if unsafe { ffi::PyWeakref_CheckProxy(obj.as_ptr()) } != 0 {
            return super::weak_proxy::save(self, obj);
        }
        super::reduce::save_by_reduce(self, obj)
    }

    // ---- plain data ------------------------------------------------------------------

    fn save_long(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let mut overflow = 0;
        // SAFETY: obj is an exact int.
        let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
        if overflow == 0 {
            if v == -1 && unsafe { !ffi::PyErr_Occurred().is_null() } {
                return Err(PyErr::fetch(self.py));
            }
            self.enc.int(v);
            return Ok(());
        }
        self.save_big_long(obj)
    }

    /// An int past 64 bits, out of line so that [`Walker::save_long`] stays small.
    #[cold]
    #[inline(never)]
    fn save_big_long(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let bits: usize = obj
            .call_method0(pyo3::intern!(obj.py(), "bit_length"))?
            .extract()?;
        let kwargs = PyDict::new(self.py);
        kwargs.set_item("signed", true)?;
        let le = obj.call_method(
            pyo3::intern!(obj.py(), "to_bytes"),
            (bits / 8 + 1, "little"),
            Some(&kwargs),
        )?;
        let le = le.cast::<PyBytes>()?;
        self.enc.big_int(le.as_bytes());
        Ok(())
    }

    /// The opcode of an exact `str`, without memoizing it.
    #[inline]
    fn write_str(
        enc: &mut Encoder<DumpBuffer>,
        payloads: &mut Vec<Payload<'py>>,
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<()> {
        let before = enc.deferred_count();
        let mut size: ffi::Py_ssize_t = 0;
        // SAFETY: obj is an exact str; the returned buffer lives as long as obj.
        let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(obj.as_ptr(), &mut size) };
        if data.is_null() {
            // Lone surrogates: CPython writes them with `surrogatepass`.
            let _ = PyErr::take(obj.py());
            let b = obj.call_method1(
                pyo3::intern!(obj.py(), "encode"),
                ("utf-8", "surrogatepass"),
            )?;
            let utf8 = b.cast::<PyBytes>()?.as_bytes();
            enc.str_utf8(utf8);
            if enc.deferred_count() > before {
                // SAFETY: a bytes object's contents never change.
                payloads.push(unsafe { Payload::new(&b, utf8) });
            }
        } else {
            let s = unsafe { std::slice::from_raw_parts(data as *const u8, size as usize) };
            enc.str_utf8(s);
            if enc.deferred_count() > before {
                // SAFETY: a str's cached UTF-8 lives, unchanged, as long as the str.
                payloads.push(unsafe { Payload::new(obj, s) });
            }
        }
        Ok(())
    }

    fn save_bytes(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let b = obj.cast::<PyBytes>()?.as_bytes();
        if self.enc.protocol() >= 3 {
            self.write_bytes_of(obj.cast::<PyBytes>()?, b);
            self.memoize_data(obj);
            return Ok(());
        }
        let py = self.py;
        let rv = if b.is_empty() {
            PyTuple::new(
                py,
                [
                    py.get_type::<PyBytes>().into_any(),
                    PyTuple::empty(py).into_any(),
                ],
            )?
        } else {
            let latin: String = b.iter().map(|&c| c as char).collect();
            let args = PyTuple::new(
                py,
                [
                    PyString::new(py, &latin).into_any(),
                    self.st.latin1.bind(py).clone().into_any(),
                ],
            )?;
            PyTuple::new(
                py,
                [self.st.codecs_encode.bind(py).clone(), args.into_any()],
            )?
        };
        super::reduce::save_reduce(self, &rv, Some(obj))
    }

    /// The bytes opcode for `data`, the contents of `owner`, which the encoder may leave
    /// out for the output to take straight from `owner` (kept alive until then).
    pub fn write_bytes_of(&mut self, owner: &Bound<'py, PyBytes>, data: &[u8]) {
        Self::write_bytes(&mut self.enc, &mut self.payloads, owner.as_any(), data)
    }

    /// [`Walker::write_bytes_of`] on the walker's parts (for a closure that borrows the
    /// memo meanwhile); `owner` must be a `bytes` object (of any subclass) holding `data`.
    #[inline(always)]
    fn write_bytes(
        enc: &mut Encoder<DumpBuffer>,
        payloads: &mut Vec<Payload<'py>>,
        owner: &Bound<'py, PyAny>,
        data: &[u8],
    ) {
        let before = enc.deferred_count();
        enc.bytes(data);
        if enc.deferred_count() > before {
            // SAFETY: a bytes object's contents never change (subclasses included).
            payloads.push(unsafe { Payload::new(owner, data) });
        }
    }

    fn save_bytearray(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        let ba = obj.cast::<pyo3::types::PyByteArray>()?;
        if self.enc.protocol() >= 5 {
            // SAFETY: no Python code runs while the slice is borrowed.
            self.enc.bytearray(unsafe { ba.as_bytes() });
            self.memoize_data(obj);
            return Ok(());
        }
        let tp = py.get_type::<pyo3::types::PyByteArray>().into_any();
        let args = if ba.len() == 0 {
            PyTuple::empty(py)
        } else {
            PyTuple::new(py, [PyBytes::new(py, &ba.to_vec()).into_any()])?
        };
        let rv = PyTuple::new(py, [tp, args.into_any()])?;
        super::reduce::save_reduce(self, &rv, Some(obj))
    }
}
