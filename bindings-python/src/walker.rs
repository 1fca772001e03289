//! The object walker: CPython's `save()` in Rust. It dispatches on the exact type first
//! (atomic values, the memo, str/bytes, containers) without calling back into Python for
//! plain data, keeps the memo by object identity (objects stay alive for the dump, as in
//! `_pickle.c`), and calls the encoder's `boundary()` before every saved object so frames
//! split where CPython's do. Reductions, globals and by-value objects live in
//! [`crate::reduce`], [`crate::function`] and [`crate::class`].

use brinery_core::Encoder;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::error;
use crate::function::FunctionState;
use crate::memo::Memo;
use crate::output::{Growing, Payload, Stream, DEFER_MIN, GROW_FROM};
use crate::path::{Path, Seg};
use crate::stdlib::Stdlib;

/// How many items go between one `MARK` and its `APPENDS`/`SETITEMS`/`ADDITEMS`.
pub const BATCHSIZE: usize = 1000;

thread_local! {
    /// The output buffer of the last dump on this thread, handed back by
    /// [`recycle_output`] once its bytes are copied into a `bytes` object: a dump of
    /// 500 KB spent about a tenth of its time faulting in the pages of a fresh buffer.
    static OUT_CACHE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest output buffer kept for the next dump on this thread.
const OUT_CACHE_MAX: usize = 16 << 20;

/// Gives a finished dump's buffer back for the next dump on this thread (buffers above
/// 16 MiB are freed, so one huge dump does not pin its memory).
pub fn recycle_output(buf: Vec<u8>) {
    if buf.capacity() <= OUT_CACHE_MAX && buf.capacity() > 0 {
        OUT_CACHE.with(|c| {
            let old = c.take();
            c.set(if old.capacity() > buf.capacity() {
                old
            } else {
                buf
            });
        });
    }
}

/// A memo carried from one dump to the next, as `pickle.Pickler` keeps its memo between
/// `dump()` calls: the memo and the next index to hand out.
#[derive(Default)]
pub struct SavedMemo {
    pub memo: Memo,
    pub next: u32,
    /// The by-value functions' globals dicts already in the memo.
    pub globals: crate::function::SavedGlobals,
}

/// What a dump was asked to do, resolved once before walking.
pub struct Options<'py> {
    pub proto: u8,
    pub persistent_id: Option<Bound<'py, PyAny>>,
    pub reducer_override: Option<Bound<'py, PyAny>>,
    pub dispatch_table: Option<Bound<'py, PyAny>>,
    pub buffer_callback: Option<Bound<'py, PyAny>>,
    /// Module names whose functions and classes are stored by value.
    pub by_value: Vec<String>,
    /// Emit by-value module namespaces as persistent ids (see `brinery/_namespaces.py`).
    pub namespaces: bool,
    /// `pickle`'s `fix_imports`: Python 2 names for globals below protocol 3.
    pub fix_imports: bool,
    /// `pickle.Pickler.fast`: data is not memoized (see [`Walker::memoize_data`]).
    pub fast: bool,
    /// By-value code carries its source too, to load on other minor versions (see
    /// `brinery/_cross_version.py`).
    pub cross_version: bool,
}

/// One dump in progress.
pub struct Walker<'py> {
    pub py: Python<'py>,
    pub enc: Encoder,
    /// The payloads the encoder left out, in stream order (see [`crate::output`]).
    payloads: Vec<Payload<'py>>,
    memo: Memo,
    pub opts: Options<'py>,
    pub st: &'py Stdlib,
    pub path: Path<'py>,
    located: bool,
    pub fns: FunctionState<'py>,
    /// Receives committed frames when dumping to a file (see [`Walker::set_sink`]).
    sink: Option<Bound<'py, PyAny>>,
    /// Committed frames of a dump to `bytes` past [`GROW_FROM`].
    head: Option<Growing<'py>>,
    /// How much committed stream is moved out of the encoder at a time (`usize::MAX`
    /// keeps the rest in memory until the dump ends: [`crate::weak_proxy`]).
    pub flush_at: usize,
    /// Types (kept alive) with no dispatch-table entry that are not classes.
    pub plain_reduce_types: rustc_hash::FxHashSet<usize>,
    /// Types (kept alive) whose instances' `__dict__` their reduction leaves out (see
    /// [`crate::instance_dict`]), and those whose it keeps.
    pub dict_outside_reduction: rustc_hash::FxHashMap<usize, bool>,
    /// Which types' instances reduce the default way (see [`crate::instance`]).
    pub instances: crate::instance::Verdicts<'py>,
    /// Fast mode: lists and dicts being saved, and the addresses of those deeper than
    /// [`FAST_NESTING_LIMIT`] (where a cycle is looked for).
    fast_nesting: usize,
    fast_open: rustc_hash::FxHashSet<usize>,
    /// A `persistent_id` or fast mode: saves go through [`Walker::save_hooked`].
    hooked: bool,
    /// Containers being saved, and how many may nest (`sys.getrecursionlimit()` when
    /// the walk began): see [`Walker::save_nested`].
    depth: u32,
    depth_limit: u32,
    pub proxies: crate::weak_proxy::Proxies,
}

/// Stack left below which a nested save moves to a new stack segment, and the size of
/// each segment (see [`Walker::save_nested`]).
const STACK_RED_ZONE: usize = 512 * 1024;
const STACK_CHECK_EVERY: u32 = 16;
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

/// In fast mode, how deep lists and dicts nest before each is checked for a cycle
/// (CPython's pickler uses the same limit).
const FAST_NESTING_LIMIT: usize = 50;

#[inline]
fn is_type(obj: &Bound<'_, PyAny>, tp: *mut ffi::PyTypeObject) -> bool {
    obj.get_type_ptr() == tp
}

impl<'py> Walker<'py> {
    pub fn new(py: Python<'py>, st: &'py Stdlib, opts: Options<'py>) -> PyResult<Self> {
        let mut out = OUT_CACHE.with(std::cell::Cell::take);
        if out.capacity() == 0 {
            out.reserve(1024);
        }
        let mut enc = Encoder::with_buffer(opts.proto, out)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        enc.defer_payloads(DEFER_MIN);
        enc.set_fix_imports(opts.fix_imports);
        let hooked = opts.persistent_id.is_some() || opts.fast;
        Ok(Walker {
            py,
            enc,
            payloads: Vec::new(),
            memo: Memo::new(),
            opts,
            st,
            path: Path::default(),
            located: false,
            fns: FunctionState::default(),
            sink: None,
            head: None,
            flush_at: GROW_FROM,
            plain_reduce_types: Default::default(),
            dict_outside_reduction: Default::default(),
            instances: Default::default(),
            fast_nesting: 0,
            fast_open: Default::default(),
            hooked,
            depth: 0,
            // SAFETY: reads an interpreter setting; we hold the GIL.
            depth_limit: unsafe { ffi::Py_GetRecursionLimit() }.max(1) as u32,
            proxies: Default::default(),
        })
    }

    /// Writes the whole stream for `obj` and returns it (what is left of it when a sink
    /// took committed frames).
    pub fn dump(mut self, obj: &Bound<'py, PyAny>) -> PyResult<Stream<'py>> {
        self.enc.begin();
        let r = self.save(obj);
        std::mem::take(&mut self.memo).recycle();
        r?;
        Ok(self.finish())
    }

    /// Sends committed frames to `write` as the dump goes, rather than building the
    /// stream in memory.
    pub fn set_sink(&mut self, write: Option<Bound<'py, PyAny>>) {
        if write.is_some() {
            self.flush_at = 1 << 16;
        }
        self.sink = write;
    }

    fn finish(self) -> Stream<'py> {
        let (mut buf, splices) = self.enc.finish_parts();
        self.proxies.resolve(&mut buf);
        Stream {
            head: self.head,
            buf,
            splices,
            payloads: self.payloads,
        }
    }

    /// Like [`Walker::dump`], starting from `saved` and returning the memo as it is after
    /// the dump (also after an error, as `pickle.Pickler` keeps what it memoized).
    pub fn dump_with_memo(
        mut self,
        obj: &Bound<'py, PyAny>,
        saved: SavedMemo,
    ) -> (PyResult<Stream<'py>>, SavedMemo) {
        // A fresh pickler's empty memo gives way to the thread's recycled one (already
        // grown to a dump's size).
        if saved.memo.len() > 0 {
            std::mem::replace(&mut self.memo, saved.memo).recycle();
        }
        self.enc.resume_memo(saved.next);
        self.fns.put_globals(self.py, saved.globals);
        self.enc.begin();
        let r = self.save(obj);
        let after = SavedMemo {
            memo: std::mem::take(&mut self.memo),
            next: self.enc.memo_len(),
            globals: self.fns.take_globals(),
        };
        (r.map(|()| self.finish()), after)
    }

    // ---- memo ------------------------------------------------------------------------

    #[inline]
    pub fn memo_get(&self, obj: &Bound<'py, PyAny>) -> Option<u32> {
        self.memo.get(obj)
    }

    /// Memoizes the value on top of the stack as `obj`.
    #[inline]
    pub fn memoize(&mut self, obj: &Bound<'py, PyAny>) {
        let idx = self.enc.memoize();
        self.memo.insert(obj, idx);
    }

    /// Memoizes a data object (not a definition stored by value), unless in fast mode.
    ///
    /// `pickle.Pickler.fast` writes data with no memo, so shared objects are written
    /// again and cycles are an error; by-value functions, classes, code, cells and
    /// globals still go through [`Walker::memoize`], as their sharing (one globals dict
    /// per module) and their cycles (recursive closures) are what they mean.
    #[inline]
    pub fn memoize_data(&mut self, obj: &Bound<'py, PyAny>) {
        if !self.opts.fast {
            self.memoize(obj);
        }
    }

    /// After the opcode that made `obj`: memoizes it, or, when saving its arguments saved
    /// `obj` itself (it is reachable from them), drops what was made and fetches that.
    #[inline]
    pub fn memoize_made(&mut self, obj: &Bound<'py, PyAny>) {
        if let Some(idx) = self.memo_get(obj) {
            self.enc.pop();
            self.enc.get(idx);
        } else {
            self.memoize_data(obj);
        }
    }

    /// Records `obj` as the value already in the stream at memo index `idx`.
    pub fn memo_alias(&mut self, obj: &Bound<'py, PyAny>, idx: u32) {
        self.memo.insert(obj, idx);
    }

    /// Keeps `obj` alive until the dump ends (its id is used as a key).
    pub fn keep_alive(&mut self, obj: &Bound<'py, PyAny>) {
        self.memo.keep_alive(obj);
    }

    /// The items of a set in iteration order, or sorted while writing code constants
    /// (set order depends on the hash seed; code must give the same bytes everywhere).
    fn set_items(&self, obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let items: Vec<_> = obj.try_iter()?.collect::<PyResult<_>>()?;
        if !self.fns.sort_sets {
            return Ok(items);
        }
        let list = pyo3::types::PyList::new(self.py, items)?;
        let builtins = self.py.import("builtins")?;
        let kwargs = PyDict::new(self.py);
        kwargs.set_item(
            "key",
            builtins.getattr(pyo3::intern!(builtins.py(), "repr"))?,
        )?;
        let sorted = builtins
            .getattr(pyo3::intern!(builtins.py(), "sorted"))?
            .call((list,), Some(&kwargs))?;
        sorted.try_iter()?.collect()
    }

    /// Writes `GET` for `obj` if it is memoized.
    #[inline]
    pub fn try_get(&mut self, obj: &Bound<'py, PyAny>) -> bool {
        match self.memo_get(obj) {
            Some(idx) => {
                self.enc.get(idx);
                self.proxies.fetched(idx);
                true
            }
            None => false,
        }
    }

    // ---- save ------------------------------------------------------------------------

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

    #[inline(always)]
    fn boundary(&mut self) -> PyResult<()> {
        self.enc.boundary();
        if self.enc.committed_stream_len() >= self.flush_at {
            self.flush_committed()?;
        }
        Ok(())
    }

    #[cold]
    fn flush_committed(&mut self) -> PyResult<()> {
        let (buf, splices) = self.enc.committed_parts();
        if buf.is_empty() && splices.is_empty() {
            return Ok(());
        }
        let n = splices.len();
        if let Some(sink) = &self.sink {
            crate::output::write_parts(sink, buf, splices, &self.payloads[..n])?;
        } else {
            let head = match &mut self.head {
                Some(h) => h,
                None => self.head.insert(Growing::new(self.py, 4 * GROW_FROM)?),
            };
            head.append(buf, splices, &self.payloads[..n])?;
        }
        self.enc.discard_committed();
        self.payloads.drain(..n);
        Ok(())
    }

    /// The first (deepest) frame an error passes through gives it the path.
    fn locate(&mut self, e: PyErr) -> PyErr {
        if self.located {
            return e;
        }
        self.located = true;
        error::with_path(self.py, e, &self.path.render())
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
        if self.try_get(obj) {
            return Ok(true);
        }
        if is_type(obj, &raw mut ffi::PyBytes_Type) && self.enc.protocol() >= 3 {
            self.save_bytes(obj)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn dispatch(&mut self, obj: &Bound<'py, PyAny>, pers_save: bool) -> PyResult<()> {
        if !pers_save && self.opts.persistent_id.is_some() && crate::reduce::save_pers(self, obj)? {
            return Ok(());
        }
        let py = self.py;
        unsafe {
            if obj.is_none() {
                self.enc.none();
                return Ok(());
            }
            if is_type(obj, &raw mut ffi::PyBool_Type) {
                self.enc.bool(obj.as_ptr() == ffi::Py_True());
                return Ok(());
            }
            if is_type(obj, &raw mut ffi::PyLong_Type) {
                return self.save_long(obj);
            }
            if is_type(obj, &raw mut ffi::PyFloat_Type) {
                self.enc.float(ffi::PyFloat_AS_DOUBLE(obj.as_ptr()));
                return Ok(());
            }
        }
        if self.try_get(obj) {
            return Ok(());
        }
        {
            if is_type(obj, &raw mut ffi::PyBytes_Type) {
                return self.save_bytes(obj);
            }
            if is_type(obj, &raw mut ffi::PyUnicode_Type) {
                return self.save_str(obj);
            }
        }
        if let Some(ro) = &self.opts.reducer_override {
            let rv = ro.call1((obj,))?;
            if !rv.is(py.NotImplemented()) {
                return crate::reduce::save_reduce_value(self, obj, &rv);
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
                return crate::reduce::save_type(self, obj);
            }
            if is_type(obj, &raw mut ffi::PyFunction_Type) {
                return crate::reduce::save_global(self, obj, None);
            }
        }
        let tp = obj.get_type();
        if tp.is(self.st.pickle_buffer.bind(py)) {
            return crate::reduce::save_picklebuffer(self, obj);
        }
        if tp.is(self.st.code_type.bind(py)) {
            return crate::function::save_code(self, obj);
        }
        if tp.is(self.st.cell_type.bind(py)) {
            return crate::function::save_cell(self, obj);
        }
        if tp.is(self.st.module_type.bind(py)) {
            return crate::class::save_module(self, obj);
        }
        // SAFETY: a type check of a live object.
        if unsafe { ffi::PyWeakref_CheckProxy(obj.as_ptr()) } != 0 {
            return crate::weak_proxy::save(self, obj);
        }
        crate::reduce::save_by_reduce(self, obj)
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

    fn save_str(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        Self::write_str(&mut self.enc, &mut self.payloads, obj)?;
        self.memoize_data(obj);
        Ok(())
    }

    /// The opcode of an exact `str`, without memoizing it.
    #[inline]
    fn write_str(
        enc: &mut Encoder,
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
        crate::reduce::save_reduce(self, &rv, Some(obj))
    }

    /// The bytes opcode for `data`, the contents of `owner`, which the encoder may leave
    /// out for the output to take straight from `owner` (kept alive until then).
    pub fn write_bytes_of(&mut self, owner: &Bound<'py, PyBytes>, data: &[u8]) {
        let before = self.enc.deferred_count();
        self.enc.bytes(data);
        if self.enc.deferred_count() > before {
            // SAFETY: a bytes object's contents never change (subclasses included).
            self.payloads
                .push(unsafe { Payload::new(owner.as_any(), data) });
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
        crate::reduce::save_reduce(self, &rv, Some(obj))
    }

    fn save_tuple(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let t = obj.cast::<PyTuple>()?;
        let n = t.len();
        if n == 0 {
            self.enc.tuple_begin(0);
            self.enc.tuple_end(0);
            return Ok(());
        }
        self.enc.tuple_begin(n);
        self.path.push(Seg::Index(0));
        for i in 0..n {
            self.path.set_top_index(i);
            // SAFETY: i < len of an immutable tuple.
            let item = unsafe { t.get_borrowed_item_unchecked(i) };
            self.save(&item)?;
        }
        self.path.pop();
        if let Some(idx) = self.memo_get(obj) {
            self.enc.tuple_end_recursive(n, idx);
            return Ok(());
        }
        self.enc.tuple_end(n);
        self.memoize_data(obj);
        Ok(())
    }

    fn save_list(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.enc.empty_list();
        self.memoize_data(obj);
        let list = obj.cast::<pyo3::types::PyList>()?;
        if list.len() == 0 {
            return Ok(());
        }
        if self.enc.protocol() == 0 {
            return self.batch_list(&obj.try_iter()?.into_any());
        }
        self.path.push(Seg::Index(0));
        if list.len() == 1 {
            let item = list.get_item(0)?;
            self.save(&item)?;
            self.enc.append();
            self.path.pop();
            return Ok(());
        }
        let mut total = 0;
        loop {
            self.enc.mark();
            let mut this_batch = 0;
            while total < list.len() {
                self.path.set_top_index(total);
                // SAFETY: total < len, checked just above with the GIL held; the item is
                // owned (incref'd) before any Python code can run.
                let item = unsafe {
                    Bound::from_borrowed_ptr(
                        self.py,
                        ffi::PyList_GET_ITEM(list.as_ptr(), total as ffi::Py_ssize_t),
                    )
                };
                self.save(&item)?;
                total += 1;
                this_batch += 1;
                if this_batch == BATCHSIZE {
                    break;
                }
            }
            self.enc.appends();
            if total >= list.len() {
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    /// `batch_list`: items from an iterator, `APPEND` for a lone trailing item.
    pub fn batch_list(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        let next = || -> PyResult<Option<Bound<'py, PyAny>>> {
            // SAFETY: iter is an iterator; PyIter_Next returns a new reference or NULL.
            let p = unsafe { ffi::PyIter_Next(iter.as_ptr()) };
            if p.is_null() {
                match PyErr::take(iter.py()) {
                    Some(e) => Err(e),
                    None => Ok(None),
                }
            } else {
                Ok(Some(unsafe { Bound::from_owned_ptr(iter.py(), p) }))
            }
        };
        self.path.push(Seg::Index(0));
        let mut index = 0;
        if self.enc.protocol() == 0 {
            while let Some(item) = next()? {
                self.path.set_top_index(index);
                self.save(&item)?;
                self.enc.append();
                index += 1;
            }
            self.path.pop();
            return Ok(());
        }
        loop {
            let Some(first) = next()? else { break };
            let Some(mut item) = next()? else {
                self.path.set_top_index(index);
                self.save(&first)?;
                self.enc.append();
                break;
            };
            self.enc.mark();
            self.path.set_top_index(index);
            self.save(&first)?;
            index += 1;
            let mut n = 1;
            loop {
                self.path.set_top_index(index);
                self.save(&item)?;
                index += 1;
                n += 1;
                if n == BATCHSIZE {
                    break;
                }
                match next()? {
                    Some(i) => item = i,
                    None => break,
                }
            }
            self.enc.appends();
            if n != BATCHSIZE {
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    fn save_dict(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.enc.empty_dict();
        self.memoize_data(obj);
        let dict = obj.cast::<PyDict>()?;
        if dict.len() == 0 {
            return Ok(());
        }
        if self.enc.protocol() == 0 {
            let items = obj
                .call_method0(pyo3::intern!(obj.py(), "items"))?
                .try_iter()?
                .into_any();
            return self.batch_dict(&items);
        }
        self.batch_dict_exact(dict)
    }

    fn dict_entry(&mut self, k: &Bound<'py, PyAny>, v: &Bound<'py, PyAny>) -> PyResult<()> {
        self.save(k)?;
        self.path.push(Seg::Key(k.clone()));
        self.save(v)?;
        self.path.pop();
        Ok(())
    }

    /// Like [`Walker::dict_entry`], taking the key to avoid a reference-count round trip.
    fn dict_entry_owned(&mut self, k: Bound<'py, PyAny>, v: &Bound<'py, PyAny>) -> PyResult<()> {
        self.save(&k)?;
        self.path.push(Seg::Key(k));
        self.save(v)?;
        self.path.pop();
        Ok(())
    }

    fn batch_dict_exact(&mut self, dict: &Bound<'py, PyDict>) -> PyResult<()> {
        let size = dict.len();
        let mut pos: ffi::Py_ssize_t = 0;
        let next = |pos: &mut ffi::Py_ssize_t| -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
            let mut k = std::ptr::null_mut();
            let mut v = std::ptr::null_mut();
            // SAFETY: PyDict_Next yields borrowed refs we immediately own.
            if unsafe { ffi::PyDict_Next(dict.as_ptr(), pos, &mut k, &mut v) } == 0 {
                return None;
            }
            let py = dict.py();
            Some(unsafe {
                (
                    Bound::from_borrowed_ptr(py, k),
                    Bound::from_borrowed_ptr(py, v),
                )
            })
        };
        let changed = || PyRuntimeError::new_err("dictionary changed size during iteration");
        if size == 1 {
            if let Some((k, v)) = next(&mut pos) {
                self.dict_entry_owned(k, &v)?;
                self.enc.setitem();
            }
            if dict.len() != size {
                return Err(changed());
            }
            return Ok(());
        }
        loop {
            self.enc.mark();
            let mut i = 0;
            while let Some((k, v)) = next(&mut pos) {
                self.dict_entry_owned(k, &v)?;
                i += 1;
                if i == BATCHSIZE {
                    break;
                }
            }
            self.enc.setitems();
            if dict.len() != size {
                return Err(changed());
            }
            if i != BATCHSIZE {
                break;
            }
        }
        Ok(())
    }

    /// `batch_dict`: `(key, value)` pairs from an iterator.
    pub fn batch_dict(&mut self, iter: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        let next = || -> PyResult<Option<Bound<'py, PyAny>>> {
            let p = unsafe { ffi::PyIter_Next(iter.as_ptr()) };
            if p.is_null() {
                match PyErr::take(py) {
                    Some(e) => Err(e),
                    None => Ok(None),
                }
            } else {
                Ok(Some(unsafe { Bound::from_owned_ptr(py, p) }))
            }
        };
        let pair = |item: &Bound<'py, PyAny>| -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
            match item.cast::<PyTuple>() {
                Ok(t) if t.len() == 2 => Ok((t.get_item(0)?, t.get_item(1)?)),
                _ => Err(pyo3::exceptions::PyTypeError::new_err(
                    "dict items iterator must return 2-tuples",
                )),
            }
        };
        if self.enc.protocol() == 0 {
            while let Some(item) = next()? {
                let (k, v) = pair(&item)?;
                self.dict_entry(&k, &v)?;
                self.enc.setitem();
            }
            return Ok(());
        }
        loop {
            let Some(first) = next()? else { break };
            let Some(mut item) = next()? else {
                let (k, v) = pair(&first)?;
                self.dict_entry(&k, &v)?;
                self.enc.setitem();
                break;
            };
            self.enc.mark();
            let (k, v) = pair(&first)?;
            self.dict_entry(&k, &v)?;
            let mut n = 1;
            loop {
                let (k, v) = pair(&item)?;
                self.dict_entry(&k, &v)?;
                n += 1;
                if n == BATCHSIZE {
                    break;
                }
                match next()? {
                    Some(i) => item = i,
                    None => break,
                }
            }
            self.enc.setitems();
            if n != BATCHSIZE {
                break;
            }
        }
        Ok(())
    }

    fn save_set(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        if self.enc.protocol() < 4 {
            let items =
                pyo3::types::PyList::new(py, obj.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
            let args = PyTuple::new(py, [items.into_any()])?;
            let rv = PyTuple::new(py, [obj.get_type().into_any(), args.into_any()])?;
            return crate::reduce::save_reduce(self, &rv, Some(obj));
        }
        self.enc
            .empty_set()
            .map_err(|e| error::new_pickling_error(py, e.to_string()))?;
        self.memoize_data(obj);
        let size = obj.len()?;
        if size == 0 {
            return Ok(());
        }
        let mut iter = self
            .set_items(obj)?
            .into_iter()
            .map(Ok::<_, PyErr>)
            .peekable();
        self.path.push(Seg::Item("set item"));
        loop {
            self.enc.mark();
            let mut i = 0;
            for item in iter.by_ref() {
                self.save(&item?)?;
                i += 1;
                if i == BATCHSIZE {
                    break;
                }
            }
            self.enc.additems();
            if obj.len()? != size {
                return Err(PyRuntimeError::new_err("set changed size during iteration"));
            }
            if i != BATCHSIZE {
                break;
            }
            // CPython writes one more (possibly empty) batch after a full one.
            if iter.peek().is_none() {
                self.enc.mark();
                self.enc.additems();
                break;
            }
        }
        self.path.pop();
        Ok(())
    }

    fn save_frozenset(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = self.py;
        if self.enc.protocol() < 4 {
            let items =
                pyo3::types::PyList::new(py, obj.try_iter()?.collect::<PyResult<Vec<_>>>()?)?;
            let args = PyTuple::new(py, [items.into_any()])?;
            let rv = PyTuple::new(py, [obj.get_type().into_any(), args.into_any()])?;
            return crate::reduce::save_reduce(self, &rv, Some(obj));
        }
        self.enc.mark();
        self.path.push(Seg::Item("frozenset item"));
        for item in self.set_items(obj)? {
            self.save(&item)?;
        }
        self.path.pop();
        if let Some(idx) = self.memo_get(obj) {
            self.enc.frozenset_end_recursive(idx);
            return Ok(());
        }
        self.enc.frozenset();
        self.memoize_data(obj);
        Ok(())
    }
}
