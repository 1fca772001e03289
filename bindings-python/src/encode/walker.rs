//! The object walker: one dump in progress (its encoder, options, memo, object path and
//! per-dump caches), how it starts and ends (with or without a `Pickler`'s carried memo,
//! to `bytes` or to a file as frames commit), and the memo policy: objects are memoized by
//! identity (and stay alive for the dump, as in `_pickle.c`), data not at all in fast
//! mode. What it does with one object is [`super::dispatch`] (CPython's `save()`) and
//! [`super::containers`]; reductions, globals and by-value objects are the other files of
//! [`super`].

use brinery_core::encode::Output;
use brinery_core::Encoder;
use pyo3::ffi;
use pyo3::prelude::*;

use super::dump_buffer::{DumpBuffer, GROW_FROM, POPULATE_AHEAD};
use super::function::FunctionState;
use super::memo::Memo;
use super::output::{Payload, Stream, DEFER_MIN};
use super::path::Path;
use super::stdlib::Stdlib;
use crate::error;

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

/// Per-dump state most dumps never touch (the tables of by-value functions, of
/// reductions and instances, fast mode's open containers), made on first use: a dump of
/// plain data neither builds nor drops it, and the walker stays small enough that
/// setting one up is cheap next to `pickle.dumps(None)` (see `docs/benchmarks.md`,
/// "fixed cost, third pass").
pub struct Lazy<T>(std::cell::OnceCell<Box<T>>);

impl<T> Default for Lazy<T> {
    #[inline(always)]
    fn default() -> Self {
        Lazy(std::cell::OnceCell::new())
    }
}

impl<T> Lazy<T> {
    /// The state, when something made it.
    pub fn made(&mut self) -> Option<&mut T> {
        self.0.get_mut().map(|b| &mut **b)
    }
}

impl<T: Default> std::ops::Deref for Lazy<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.0.get_or_init(Box::default)
    }
}

impl<T: Default> std::ops::DerefMut for Lazy<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        if self.0.get().is_none() {
            let _ = self.0.set(Box::default());
        }
        self.0.get_mut().expect("made just above")
    }
}

/// A memo carried from one dump to the next, as `pickle.Pickler` keeps its memo between
/// `dump()` calls: the memo and the next index to hand out.
#[derive(Default)]
pub struct SavedMemo {
    pub memo: Memo,
    pub next: u32,
    /// The by-value functions' globals dicts already in the memo.
    pub globals: super::namespace::SavedGlobals,
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
    pub enc: Encoder<DumpBuffer>,
    /// The payloads the encoder left out, in stream order (see [`super::output`]).
    pub(super) payloads: Vec<Payload<'py>>,
    pub(super) memo: Memo,
    pub opts: Options<'py>,
    pub st: &'py Stdlib,
    pub path: Path<'py>,
    pub(super) located: bool,
    /// By-value functions' state: allocated by the first function a dump writes.
    pub fns: Lazy<FunctionState<'py>>,
    /// While true, sets and frozensets are written in sorted order (code constants).
    pub sort_sets: bool,
    /// Receives committed frames when dumping to a file (see [`Walker::set_sink`]).
    pub(super) sink: Option<Bound<'py, PyAny>>,
    /// When the committed stream is this long, [`Walker::flush_committed`] runs: it
    /// sends it to the sink, moves it into its `bytes` object past [`GROW_FROM`], or
    /// faults in the next pages of that object (`usize::MAX` keeps the stream as it is
    /// until the dump ends: [`super::weak_proxy`]).
    pub flush_at: usize,
    /// Types (kept alive) with no dispatch-table entry that are not classes.
    pub plain_reduce_types: Lazy<rustc_hash::FxHashSet<usize>>,
    /// Types (kept alive) whose instances' `__dict__` their reduction leaves out (see
    /// [`super::instance_dict`]), and those whose it keeps.
    pub dict_outside_reduction: Lazy<rustc_hash::FxHashMap<usize, bool>>,
    /// Which types' instances reduce the default way (see [`super::instance`]).
    pub instances: Lazy<super::instance::Verdicts<'py>>,
    /// Fast mode: lists and dicts being saved, and the addresses of those deeper than
    /// [`super::dispatch::FAST_NESTING_LIMIT`] (where a cycle is looked for).
    pub(super) fast_nesting: usize,
    pub(super) fast_open: Lazy<rustc_hash::FxHashSet<usize>>,
    /// A `persistent_id` or fast mode: saves go through [`Walker::save_hooked`].
    pub(super) hooked: bool,
    /// Containers being saved, and how many may nest (`sys.getrecursionlimit()` when
    /// the walk began): see [`Walker::save_nested`].
    pub(super) depth: u32,
    pub(super) depth_limit: u32,
    pub proxies: super::weak_proxy::Proxies,
}

impl<'py> Walker<'py> {
    /// A walker for `opts`, whose protocol the caller checked (`resolve_protocol`).
    /// Infallible, so that it is built where it lives: moving a result's walker out
    /// cost a copy of it on every call.
    pub fn new(py: Python<'py>, st: &'py Stdlib, opts: Options<'py>) -> Self {
        let mut out = OUT_CACHE.with(std::cell::Cell::take);
        if out.capacity() == 0 {
            out.reserve(1024);
        }
        let proto = opts.proto.min(brinery_core::HIGHEST_PROTOCOL);
        let Ok(mut enc) = Encoder::with_buffer(proto, DumpBuffer::from_vec(out)) else {
            unreachable!("a protocol of at most HIGHEST_PROTOCOL is always taken");
        };
        enc.defer_payloads(DEFER_MIN);
        enc.set_fix_imports(opts.fix_imports);
        let hooked = opts.persistent_id.is_some() || opts.fast;
        Walker {
            py,
            enc,
            payloads: Vec::new(),
            memo: Memo::new(),
            opts,
            st,
            path: Path::default(),
            located: false,
            fns: Lazy::default(),
            sort_sets: false,
            sink: None,
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
        }
    }

    /// Writes the whole stream for `obj` and returns it (what is left of it when a sink
    /// took committed frames).
    pub fn dump(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<Stream<'py>> {
        self.walk(obj)?;
        Ok(self.finish())
    }

    /// Like [`Walker::dump`], straight to the `bytes` object: the stream never passes
    /// through a `PyResult` (moving it out of one was a stall on every small dump).
    #[inline(always)]
    pub fn dump_to_bytes(
        &mut self,
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        self.walk(obj)?;
        self.finish().into_bytes(self.py)
    }

    /// The stream's opcodes for `obj`, `STOP` aside; the memo goes back to the thread.
    #[inline(always)]
    fn walk(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        self.enc.begin();
        let r = self.save_checked(obj);
        self.memo.recycle_in_place();
        r
    }

    /// The whole dump's walk: its error, or the memo's when that could not grow (which
    /// comes first: what failed after it may be its consequence).
    #[inline(always)]
    fn save_checked(&mut self, obj: &Bound<'py, PyAny>) -> PyResult<()> {
        let r = self.save(obj);
        match self.memo.take_error() {
            Some(e) => Err(e),
            None => r,
        }
    }

    /// Sends committed frames to `write` as the dump goes, rather than building the
    /// stream in memory.
    pub fn set_sink(&mut self, write: Option<Bound<'py, PyAny>>) {
        if write.is_some() {
            self.flush_at = 1 << 16;
        }
        self.sink = write;
    }

    /// The finished stream, taken out of the walker (which is done with).
    fn finish(&mut self) -> Stream<'py> {
        let (mut buf, splices) = self.enc.finish_parts_in_place();
        self.proxies.resolve(buf.as_mut_slice());
        Stream {
            buf,
            splices,
            payloads: std::mem::take(&mut self.payloads),
        }
    }

    /// Like [`Walker::dump`], starting from `saved` and returning the memo as it is after
    /// the dump (also after an error, as `pickle.Pickler` keeps what it memoized).
    pub fn dump_with_memo(
        &mut self,
        obj: &Bound<'py, PyAny>,
        saved: SavedMemo,
    ) -> (PyResult<Stream<'py>>, SavedMemo) {
        // A fresh pickler's empty memo gives way to the thread's recycled one (already
        // grown to a dump's size).
        if saved.memo.len() > 0 {
            std::mem::replace(&mut self.memo, saved.memo).recycle();
        }
        self.enc.resume_memo(saved.next);
        if !saved.globals.is_empty() {
            self.fns.put_globals(self.py, saved.globals);
        }
        self.enc.begin();
        let r = self.save_checked(obj);
        let after = SavedMemo {
            memo: std::mem::take(&mut self.memo),
            next: self.enc.memo_len(),
            globals: self
                .fns
                .made()
                .map(FunctionState::take_globals)
                .unwrap_or_default(),
        };
        (r.map(|()| self.finish()), after)
    }

    // ---- memo ------------------------------------------------------------------------

    #[inline]
    pub fn memo_get(&self, obj: &Bound<'py, PyAny>) -> Option<u32> {
        self.memo.get(obj)
    }

    /// The memo index of `obj`, which the caller memoized: an error rather than a panic
    /// when the memo could not grow to take it (the dump then fails with the memo's
    /// `MemoryError`, see [`Walker::save_checked`]).
    pub fn memo_index(&self, obj: &Bound<'py, PyAny>) -> PyResult<u32> {
        self.memo.get(obj).ok_or_else(|| {
            pyo3::exceptions::PyMemoryError::new_err("out of memory: the memo could not grow")
        })
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

    #[inline(always)]
    pub(super) fn boundary(&mut self) -> PyResult<()> {
        self.enc.boundary();
        if self.enc.committed_stream_len() >= self.flush_at {
            self.flush_committed()?;
        }
        Ok(())
    }

    #[cold]
    fn flush_committed(&mut self) -> PyResult<()> {
        // A buffer that could not grow dropped writes: nothing more of it goes out.
        self.enc.output_mut().check()?;
        if let Some(sink) = &self.sink {
            let (buf, splices) = self.enc.committed_parts();
            let n = splices.len();
            super::output::write_parts(sink, buf, splices, &self.payloads[..n])?;
            self.enc.discard_committed();
            self.payloads.drain(..n);
            return Ok(());
        }
        if !self.enc.output().is_bytes() {
            // Into the `bytes` object `dumps` returns, which nobody sees before the dump
            // ends: the payloads left out so far spliced in, and every byte after written
            // there directly.
            let (py, payloads) = (self.py, &self.payloads);
            self.enc
                .splice_in(|out, splices| out.move_to_bytes(py, splices, payloads))?;
            self.payloads.clear();
        }
        // Then every megabyte: fault in the next pages of the `bytes` object.
        let len = self.enc.len();
        self.enc.output_mut().populate(len + 2 * POPULATE_AHEAD);
        self.flush_at = self.enc.committed_stream_len() + POPULATE_AHEAD;
        Ok(())
    }

    /// The first (deepest) frame an error passes through gives it the path.
    pub(super) fn locate(&mut self, e: PyErr) -> PyErr {
        if self.located {
            return e;
        }
        self.located = true;
        error::with_path(self.py, e, &self.path.render())
    }
}
