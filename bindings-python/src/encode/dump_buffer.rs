//! The buffer a dump is written into ([`DumpBuffer`], the encoder's
//! `brinery_core::encode::Output`): the thread's recycled `Vec` while the stream is
//! short, and past [`GROW_FROM`] bytes the `bytes` object `dumps` returns, written in
//! place from then on and grown in place, as `_pickle.c` writes into its own output
//! object. The payloads the encoder left out until then are spliced in once, at the
//! move (`Encoder::splice_in`); after it every byte of the stream is written once,
//! straight where it stays.

use std::mem::ManuallyDrop;
use std::ops::Range;
use std::os::raw::c_int;
use std::ptr::null_mut;

use brinery_core::encode::{splice, Output, Splice};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::output::{mismatch, Filler, Payload};
use super::walker::recycle_output;

/// A stream this long (payloads included) moves into its `bytes` object: past the
/// thread's cached buffer a big encoder buffer was a fresh allocation on every call,
/// faulted in and then copied once more (dumps of 20 MB ran at 4x `pickle`'s time).
pub const GROW_FROM: usize = 256 * 1024;

extern "C" {
    // Part of CPython's C API on every version brinery supports (not the limited API);
    // pyo3-ffi declares it crate-private.
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> c_int;
    #[cfg(target_os = "linux")]
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: c_int) -> c_int;
}

/// A `bytes` buffer this big has its pages faulted in ahead (see
/// [`DumpBuffer::populate`]).
const POPULATE_MIN: usize = 32 << 20;

/// How far ahead of the stream pages are faulted in at a time.
pub const POPULATE_AHEAD: usize = 1 << 20;

thread_local! {
    /// The length of the last stream this thread wrote into a `bytes` object.
    static LAST_GROWN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// See the module docs. `ptr`, `len` and `cap` describe the `Vec` (when `obj` is null)
/// or the contents of `obj`, a `bytes` object nobody else has seen, whose size is
/// `cap` until [`DumpBuffer::into_bytes`] cuts it to `len`.
pub struct DumpBuffer {
    ptr: *mut u8,
    len: usize,
    cap: usize,
    obj: *mut ffi::PyObject,
    /// Bytes from the start whose pages are faulted in or need not be.
    populated: usize,
    /// Why the buffer could not grow (a `MemoryError`, where `Vec` would abort the
    /// process): writes are dropped from then on and the dump fails with it.
    failed: Option<PyErr>,
}

impl Default for DumpBuffer {
    fn default() -> Self {
        DumpBuffer::from_vec(Vec::new())
    }
}

impl DumpBuffer {
    /// A buffer writing into `v` (its contents kept).
    pub fn from_vec(v: Vec<u8>) -> Self {
        let mut v = ManuallyDrop::new(v);
        DumpBuffer {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
            obj: null_mut(),
            populated: 0,
            failed: None,
        }
    }

    /// The `Vec` this buffer is, taken out (leaving an empty one).
    ///
    /// # Safety
    /// `obj` must be null (the buffer is a `Vec`).
    unsafe fn take_vec(&mut self) -> Vec<u8> {
        debug_assert!(self.obj.is_null());
        // SAFETY: `ptr`, `len` and `cap` came from a `Vec` (`from_vec`, `grow`) and
        // nothing else owns them; the buffer is reset to a fresh empty `Vec`.
        let v = unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) };
        self.become_empty();
        v
    }

    /// An empty `Vec` (allocating nothing), for a buffer whose `bytes` object is gone
    /// (handed out, or freed by a failed resize) and `obj` already null.
    fn become_empty(&mut self) {
        debug_assert!(self.obj.is_null());
        let mut empty = ManuallyDrop::new(Vec::<u8>::new());
        self.ptr = empty.as_mut_ptr();
        self.len = 0;
        self.cap = 0;
    }

    /// True once the stream is written into its `bytes` object.
    pub fn is_bytes(&self) -> bool {
        !self.obj.is_null()
    }

    /// The buffer, when it is still a `Vec`: handed back for the thread's next dump.
    pub fn into_vec(mut self) -> Option<Vec<u8>> {
        // SAFETY: checked that the buffer is a `Vec`.
        (!self.is_bytes()).then(|| unsafe { self.take_vec() })
    }

    /// Moves the stream into a new `bytes` object, with `payloads` spliced in at
    /// `splices` (the encoder's call, `Encoder::splice_in`). It starts at the length of
    /// the last stream this thread moved (at least the stream's): a program dumping
    /// similar objects grows each once, and asks for no more than the block it gave
    /// back last. glibc maps anew any request at least as big as the last mapped block
    /// it freed, which is the last stream cut to its length; starting above that mapped
    /// and faulted in a fresh object on every call (1 MB dumps at 5x `pickle`'s time).
    pub fn move_to_bytes(
        &mut self,
        py: Python<'_>,
        splices: &[Splice],
        payloads: &[Payload<'_>],
    ) -> PyResult<()> {
        if self.is_bytes() || splices.len() != payloads.len() {
            return Err(mismatch());
        }
        let total = splice::total_len(self.as_slice(), splices);
        let cap = match LAST_GROWN.with(std::cell::Cell::get) {
            0 => 4 * GROW_FROM,
            last => last,
        }
        .max(total + total / 8);
        let mut fill = Filler::with_room(py, total, cap)?;
        let fits = splice::for_each_piece(self.as_slice(), splices, payloads, |p| fill.push(p));
        let obj = fill.finish(fits)?.into_ptr();
        // SAFETY: the object's contents, `cap` bytes, the first `total` written.
        let data = unsafe { ffi::PyBytes_AsString(obj) }.cast::<u8>();
        // SAFETY: the buffer is still a `Vec` (checked above).
        recycle_output(unsafe { self.take_vec() });
        self.obj = obj;
        self.ptr = data;
        self.len = total;
        self.cap = cap;
        self.populated = if cap >= POPULATE_MIN { total } else { cap };
        Ok(())
    }

    /// Faults in the pages up to `to` in one call, for a `bytes` buffer big enough to
    /// be fresh memory (glibc maps requests of 32 MiB or more anew each time): on this
    /// VM a page fault per 4 KiB page made page faults most of a big dump's time, for
    /// `pickle` as much as for brinery, and one `MADV_POPULATE_WRITE` per megabyte
    /// takes a third off that. The walker calls it a megabyte ahead of the stream; the
    /// spare capacity of a growth beyond that stays unmapped. Kernels before 5.14
    /// refuse the advice, and the pages fault as usual.
    pub fn populate(&mut self, to: usize) {
        let to = to.min(self.cap);
        if !self.is_bytes() || to <= self.populated {
            return;
        }
        let from = std::mem::replace(&mut self.populated, to);
        #[cfg(target_os = "linux")]
        {
            const MADV_POPULATE_WRITE: c_int = 23;
            const PAGE: usize = 4096;
            let data = self.ptr as usize;
            // Rounded inward to whole pages of the object's contents.
            let start = (data + from).next_multiple_of(PAGE);
            let end = (data + to)
                .next_multiple_of(PAGE)
                .min((data + self.cap) & !(PAGE - 1));
            if end > start {
                // SAFETY: the range lies inside the object's `cap` bytes of contents,
                // which are ours and not yet handed out; populating writes nothing a
                // reader could see.
                unsafe { madvise(start as *mut _, end - start, MADV_POPULATE_WRITE) };
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = from;
    }

    /// The error the `bytes` object failed to grow with, if it did (the stream is lost).
    pub fn check(&mut self) -> PyResult<()> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Room for `additional` more bytes; false when a `bytes` object could not grow
    /// (the error is kept for the walker).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, additional: usize) -> bool {
        if self.failed.is_some() {
            return false;
        }
        if !self.is_bytes() {
            // SAFETY: the buffer is a `Vec`.
            let mut v = unsafe { self.take_vec() };
            // Fallible, unlike `Vec::reserve`, which aborts the process.
            let grown = v.try_reserve(additional).is_ok();
            if !grown {
                self.failed = Some(pyo3::exceptions::PyMemoryError::new_err(format!(
                    "out of memory growing a stream of {} bytes",
                    v.len()
                )));
            }
            let mut v = ManuallyDrop::new(v);
            self.ptr = v.as_mut_ptr();
            self.len = v.len();
            self.cap = v.capacity();
            return grown;
        }
        // 1.5x, as `_pickle.c` grows its buffer: doubling lands a 20 MB stream on
        // 32 MiB, glibc's largest heap request, so every call mapped fresh pages.
        let need = self.len.saturating_add(additional);
        let cap = need.max(self.cap.saturating_add(self.cap / 2));
        // SAFETY: `obj` is ours alone (refcount 1, never shared), as `_PyBytes_Resize`
        // requires; on failure it frees the object and nulls the pointer.
        if unsafe { _PyBytes_Resize(&mut self.obj, cap as _) } < 0 {
            // SAFETY: the GIL is held by every dump.
            self.failed = Some(PyErr::fetch(unsafe { Python::assume_attached() }));
            // The object is gone (`obj` is null): an empty `Vec` from now on, which
            // every later write that needs room leaves as it is.
            self.become_empty();
            return false;
        }
        // SAFETY: `obj` is the live, resized object.
        self.ptr = unsafe { ffi::PyBytes_AsString(self.obj) }.cast::<u8>();
        self.cap = cap;
        // The pages written so far moved with the object.
        self.populated = if cap >= POPULATE_MIN { self.len } else { cap };
        true
    }

    /// The `bytes` object, cut to what was written (the buffer must be one).
    pub fn into_bytes<'py>(mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.check()?;
        if !self.is_bytes() {
            return Err(mismatch());
        }
        LAST_GROWN.with(|c| c.set(self.len));
        let (len, cap) = (self.len, self.cap);
        let mut obj = std::mem::replace(&mut self.obj, null_mut());
        self.become_empty();
        // SAFETY: ours alone; on failure `_PyBytes_Resize` frees it and nulls `obj`.
        if len != cap && unsafe { _PyBytes_Resize(&mut obj, len as _) } < 0 {
            return Err(PyErr::fetch(py));
        }
        // SAFETY: an owned reference to a bytes object whose every byte was written.
        Ok(unsafe { Bound::from_owned_ptr(py, obj).cast_into_unchecked::<PyBytes>() })
    }
}

impl Output for DumpBuffer {
    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    fn extend_from_slice(&mut self, data: &[u8]) {
        if self.cap - self.len < data.len() && !self.grow(data.len()) {
            return;
        }
        // SAFETY: room for `data` after the `len` bytes written (checked above); the
        // source is another allocation.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(self.len), data.len()) };
        self.len += data.len();
    }

    #[inline]
    fn reserve(&mut self, additional: usize) {
        if self.cap - self.len < additional {
            self.grow(additional);
        }
    }

    #[inline]
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    #[inline(always)]
    fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` bytes written at `ptr` (dangling but aligned when empty).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    #[inline(always)]
    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as `as_slice`, and ours alone.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    fn remove(&mut self, range: Range<usize>) {
        // Outside what was written only once a `bytes` object failed to grow (writes
        // were dropped): the stream is lost and the dump fails at its end.
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        // SAFETY: both ranges lie inside the `len` bytes written.
        unsafe { std::ptr::copy(self.ptr.add(end), self.ptr.add(start), self.len - end) };
        self.len -= end - start;
    }
}

impl Drop for DumpBuffer {
    fn drop(&mut self) {
        if self.is_bytes() {
            // SAFETY: an owned reference; the GIL is held by every dump.
            unsafe { ffi::Py_DECREF(self.obj) };
        } else {
            // SAFETY: the buffer is a `Vec`.
            drop(unsafe { self.take_vec() });
        }
    }
}
