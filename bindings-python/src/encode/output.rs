//! A finished stream: the encoder's buffer plus the large `str`/`bytes` payloads it left
//! out (see `brinery_core::encode::splice`), put together once, straight into the
//! `bytes` object `dumps` returns, or handed to a file piece by piece with big `bytes`
//! objects passed as they are, so a payload is copied at most once, as `pickle` does.
//! A stream past [`GROW_FROM`] bytes goes into its `bytes` object as frames are
//! committed ([`Growing`]), so the encoder's buffer stays small and warm and the only
//! big allocation is the result, grown in place as `pickle` grows its own.

use brinery_core::encode::{splice, Splice};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::walker::recycle_output;

/// The smallest payload left out of the encoder's buffer while the stream is short:
/// it is copied from the buffer, still in cache, into its `bytes` object once at the end.
pub const DEFER_MIN: usize = 2 * 1024;

/// The smallest payload left out once the stream goes into its `bytes` object as frames
/// commit ([`Growing`]): every byte of the buffer is then copied a second time, from a
/// buffer that is not the output, and payloads of a few hundred bytes are cheaper to
/// copy once from their own object (20 MB of 1 KiB `bytes` ran at 1.3x `pickle`'s
/// time with 2 KiB here, 10 MB of 256-byte ones 1.3x with 512, 0.95x with 192).
pub const DEFER_MIN_GROWING: usize = 192;

/// A payload left out, borrowed from `owner`, which the walker keeps alive and which
/// cannot change (an exact `bytes`, or a `str` with its cached UTF-8).
pub struct Payload<'py> {
    owner: Bound<'py, PyAny>,
    ptr: *const u8,
    len: usize,
}

impl<'py> Payload<'py> {
    /// # Safety
    /// `data` must stay valid and unchanged as long as `owner` is alive.
    pub unsafe fn new(owner: &Bound<'py, PyAny>, data: &[u8]) -> Self {
        Payload {
            owner: owner.clone(),
            ptr: data.as_ptr(),
            len: data.len(),
        }
    }

    fn data(&self) -> &[u8] {
        // SAFETY: `new`'s contract, and `self.owner` is alive.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// What to hand a file: the `bytes` owner itself when it is exactly the payload.
    fn to_object(&self) -> Bound<'py, PyAny> {
        if self.owner.is_exact_instance_of::<PyBytes>() {
            self.owner.clone()
        } else {
            PyBytes::new(self.owner.py(), self.data()).into_any()
        }
    }
}

/// The parts of a stream, or of the part of it already committed.
pub struct Stream<'py> {
    /// The stream's start, already in its `bytes` object (see [`Growing`]).
    pub head: Option<Growing<'py>>,
    pub buf: Vec<u8>,
    pub splices: Vec<Splice>,
    pub payloads: Vec<Payload<'py>>,
}

impl<'py> Stream<'py> {
    /// The whole stream as one `bytes` object; the buffer goes back to the thread's
    /// cache.
    pub fn into_bytes(self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = if let Some(mut head) = self.head {
            head.append(&self.buf, &self.splices, &self.payloads)?;
            head.finish()?
        } else if self.splices.is_empty() {
            PyBytes::new(py, &self.buf)
        } else {
            let parts: Vec<&[u8]> = self.payloads.iter().map(Payload::data).collect();
            let total = splice::total_len(&self.buf, &self.splices);
            let mut fill = Filler::new(py, total)?;
            let fits = splice::for_each_piece(&self.buf, &self.splices, &parts, |p| fill.push(p));
            fill.finish(fits)?
        };
        recycle_output(self.buf);
        Ok(out)
    }

    /// Hands the stream to `write` (see [`write_parts`]); the buffer goes back to the
    /// thread's cache.
    pub fn write_to(self, write: &Bound<'py, PyAny>) -> PyResult<()> {
        debug_assert!(self.head.is_none(), "a stream to a file is never grown");
        write_parts(write, &self.buf, &self.splices, &self.payloads)?;
        recycle_output(self.buf);
        Ok(())
    }
}

/// Payloads of this size or more go to the file as their own object (the `bytes` object
/// itself when it is exactly the payload); smaller ones are copied into the run of
/// stream around them, so a file gets few, large writes. The size is `pickle`'s: it
/// writes payloads of a frame's size outside the frame.
const WRITE_ALONE_MIN: usize = 64 * 1024;

/// Hands the parts of a stream (`buf` with `payloads` at `splices`) to `write` in order:
/// runs of the stream as `bytes` objects, and payloads of [`WRITE_ALONE_MIN`] or more
/// between them.
pub fn write_parts<'py>(
    write: &Bound<'py, PyAny>,
    buf: &[u8],
    splices: &[Splice],
    payloads: &[Payload<'py>],
) -> PyResult<()> {
    let py = write.py();
    let mut run: Vec<&[u8]> = Vec::new();
    let mut run_len = 0usize;
    let mut from = 0;
    let flush = |run: &mut Vec<&[u8]>, run_len: &mut usize| -> PyResult<()> {
        if *run_len > 0 {
            let mut fill = Filler::new(py, *run_len)?;
            run.iter().for_each(|p| fill.push(p));
            write.call1((fill.finish(true)?,))?;
        }
        run.clear();
        *run_len = 0;
        Ok(())
    };
    for (s, p) in splices.iter().zip(payloads) {
        let before = buf.get(from..s.at).ok_or_else(mismatch)?;
        run.push(before);
        run_len += before.len();
        if p.len >= WRITE_ALONE_MIN {
            flush(&mut run, &mut run_len)?;
            write.call1((p.to_object(),))?;
        } else {
            run.push(p.data());
            run_len += p.len;
        }
        from = s.at;
    }
    if splices.len() != payloads.len() {
        return Err(mismatch());
    }
    run.push(&buf[from..]);
    run_len += buf.len() - from;
    flush(&mut run, &mut run_len)
}

fn mismatch() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "brinery: the stream's deferred payloads do not match its splices",
    )
}

/// A new `bytes` object of a known size, filled piece by piece.
struct Filler<'py> {
    out: Bound<'py, PyBytes>,
    dst: *mut u8,
    total: usize,
    filled: usize,
}

impl<'py> Filler<'py> {
    fn new(py: Python<'py>, total: usize) -> PyResult<Self> {
        // Not `PyBytes::new_with`, which zeroes the whole object first: for a big stream
        // that is one more pass over memory than the copy itself.
        // SAFETY: a new bytes object of `total` bytes, not yet seen by anything else;
        // `finish` hands it out only once every byte was written.
        let out = unsafe {
            let ptr = ffi::PyBytes_FromStringAndSize(std::ptr::null(), total as ffi::Py_ssize_t);
            Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked::<PyBytes>()
        };
        let dst = unsafe { ffi::PyBytes_AsString(out.as_ptr()) }.cast::<u8>();
        Ok(Filler {
            out,
            dst,
            total,
            filled: 0,
        })
    }

    fn push(&mut self, piece: &[u8]) {
        if self.filled <= self.total && piece.len() <= self.total - self.filled {
            // SAFETY: in bounds (checked just above), and the source is a different
            // allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    piece.as_ptr(),
                    self.dst.add(self.filled),
                    piece.len(),
                )
            };
        }
        // Counted even when it did not fit, so `finish` sees the overflow.
        self.filled += piece.len();
    }

    /// The bytes object, when the pieces (which `fits` says matched their splices) filled
    /// it exactly; it is dropped unseen otherwise.
    fn finish(self, fits: bool) -> PyResult<Bound<'py, PyBytes>> {
        if !fits || self.filled != self.total {
            return Err(mismatch());
        }
        Ok(self.out)
    }
}

/// A stream this long (payloads included) goes into its `bytes` object as frames are
/// committed, rather than all at once at the end: past the thread's cached buffer a big
/// encoder buffer was a fresh allocation on every call, faulted in and then copied once
/// more (dumps of 20 MB ran at 4x `pickle`'s time).
pub const GROW_FROM: usize = 256 * 1024;

extern "C" {
    // Part of CPython's C API on every version brinery supports (not the limited API);
    // pyo3-ffi declares it crate-private.
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> c_int;
    #[cfg(target_os = "linux")]
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: c_int) -> c_int;
}

/// A [`Growing`] buffer this big has its pages faulted in ahead (see [`Growing::populate`]).
const POPULATE_MIN: usize = 32 << 20;
use std::os::raw::c_int;

thread_local! {
    /// The length of the last stream [`Growing`] finished on this thread.
    static LAST_GROWN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A `bytes` object nobody else has seen yet, filled from the front and grown in place
/// (`_PyBytes_Resize`, a `realloc`, which for big sizes moves page mappings, not bytes),
/// then cut to its length: `_pickle.c`'s output buffer.
pub struct Growing<'py> {
    py: Python<'py>,
    /// Owned; null only after a failed resize (which freed it).
    obj: *mut ffi::PyObject,
    len: usize,
    cap: usize,
}

impl<'py> Growing<'py> {
    /// Starts at the length of the last stream grown on this thread (at `cap` for the
    /// thread's first): a program dumping similar objects grows each once, and asks
    /// for no more than the block it gave back last. glibc maps anew any request at
    /// least as big as the last mapped block it freed, which is the last stream cut to
    /// its length; starting above that (at `cap` when the stream was shorter) mapped
    /// and faulted in a fresh object on every call (1 MB dumps at 5x `pickle`'s time).
    pub fn new(py: Python<'py>, cap: usize) -> PyResult<Self> {
        let cap = match LAST_GROWN.with(std::cell::Cell::get) {
            0 => cap,
            last => last,
        };
        // SAFETY: a new, uninitialised bytes object; only `len` bytes of it are ever
        // handed out, each written first.
        let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), cap as _) };
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(Growing {
            py,
            obj,
            len: 0,
            cap,
        })
    }

    /// Faults in the pages of `[from, to)` in one call when the buffer is big enough
    /// to be fresh memory (glibc maps requests of 32 MiB or more anew each time): on
    /// this VM a page fault per 4 KiB page made page faults most of a big dump's time,
    /// for `pickle` as much as for brinery, and one `MADV_POPULATE_WRITE` per append
    /// takes a third off that. Only what is about to be written: the spare capacity of
    /// a growth stays unmapped. Kernels before 5.14 refuse the advice, and the pages
    /// fault as usual.
    fn populate(&self, from: usize, to: usize) {
        #[cfg(target_os = "linux")]
        if self.cap >= POPULATE_MIN {
            const MADV_POPULATE_WRITE: c_int = 23;
            const PAGE: usize = 4096;
            // SAFETY: the range lies inside the object's `cap` bytes of contents
            // (rounded inward to whole pages), which are ours and not yet handed out;
            // populating writes nothing a reader could see.
            unsafe {
                let data = ffi::PyBytes_AsString(self.obj) as usize;
                let start = (data + from).next_multiple_of(PAGE);
                let end = (data + to.min(self.cap))
                    .next_multiple_of(PAGE)
                    .min((data + self.cap) & !(PAGE - 1));
                if end > start {
                    madvise(start as *mut _, end - start, MADV_POPULATE_WRITE);
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (from, to);
    }

    fn reserve(&mut self, extra: usize) -> PyResult<()> {
        let need = self.len.checked_add(extra).ok_or_else(mismatch)?;
        if need <= self.cap {
            return Ok(());
        }
        // 1.5x, as `_pickle.c` grows its buffer: doubling lands a 20 MB stream on
        // 32 MiB, glibc's largest heap request, so every call mapped fresh pages.
        let cap = need.max(self.cap.saturating_add(self.cap / 2));
        self.resize(cap)
    }

    fn resize(&mut self, cap: usize) -> PyResult<()> {
        // SAFETY: `obj` is ours alone (refcount 1, never shared), as `_PyBytes_Resize`
        // requires; on failure it frees the object and nulls the pointer.
        if unsafe { _PyBytes_Resize(&mut self.obj, cap as _) } < 0 {
            return Err(PyErr::fetch(self.py));
        }
        self.cap = cap;
        Ok(())
    }

    /// Copies `piece` to `dst`, the object's contents at `self.len` (the caller looks
    /// the contents up once per append, not per piece).
    ///
    /// # Safety
    /// `dst` must be `PyBytes_AsString(self.obj) + self.len`, with room for `piece`.
    #[inline(always)]
    unsafe fn push_at(&mut self, dst: *mut u8, piece: &[u8]) {
        debug_assert!(piece.len() <= self.cap - self.len);
        // SAFETY: the caller's contract; the source is a different allocation.
        unsafe { std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len()) };
        self.len += piece.len();
    }

    /// Appends `buf` with `payloads` at `splices`.
    pub fn append(
        &mut self,
        buf: &[u8],
        splices: &[Splice],
        payloads: &[Payload<'py>],
    ) -> PyResult<()> {
        if splices.len() != payloads.len() {
            return Err(mismatch());
        }
        let total = splice::total_len(buf, splices);
        self.reserve(total)?;
        self.populate(self.len, self.len + total);
        let start = self.len;
        let room = self.cap - self.len;
        let parts: Vec<&[u8]> = payloads.iter().map(Payload::data).collect();
        let mut pushed = 0usize;
        // SAFETY: our object's contents (`reserve` above; it does not move until the
        // next resize).
        let base = unsafe { ffi::PyBytes_AsString(self.obj) }.cast::<u8>();
        let fits = splice::for_each_piece(buf, splices, &parts, |p| {
            if pushed + p.len() <= room {
                // SAFETY: `base + self.len` is the next unwritten byte, and the piece
                // fits in what `reserve` made room for.
                unsafe { self.push_at(base.add(self.len), p) };
            }
            pushed += p.len();
        });
        if !fits || self.len - start != pushed {
            return Err(mismatch());
        }
        Ok(())
    }

    /// The `bytes` object, cut to what was written.
    pub fn finish(mut self) -> PyResult<Bound<'py, PyBytes>> {
        LAST_GROWN.with(|c| c.set(self.len));
        if self.len != self.cap {
            self.resize(self.len)?;
        }
        let obj = std::mem::replace(&mut self.obj, std::ptr::null_mut());
        // SAFETY: an owned reference to a bytes object whose every byte was written.
        Ok(unsafe { Bound::from_owned_ptr(self.py, obj).cast_into_unchecked::<PyBytes>() })
    }
}

impl Drop for Growing<'_> {
    fn drop(&mut self) {
        // SAFETY: an owned reference (or null); we hold the GIL for 'py.
        unsafe { ffi::Py_XDECREF(self.obj) };
    }
}
