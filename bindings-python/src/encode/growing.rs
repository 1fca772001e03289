//! The `bytes` object a big dump is written into as it goes: `_pickle.c`'s output
//! buffer. Past [`GROW_FROM`] bytes the walker moves the stream out of the encoder into
//! it: the encoder's buffer stays small and warm, the only big allocation is the
//! result, grown in place, and a payload the encoder left out is copied in right after
//! its object was read (see `brinery_core::encode::drain`), with its frame's header
//! fixed once the frame closes.

use std::os::raw::c_int;

use brinery_core::encode::{splice, Drained, FrameFix, Splice};
use brinery_core::opcode::FRAME_HEADER_SIZE;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::output::{mismatch, Payload};

/// A stream this long (payloads included) goes into its `bytes` object as it is
/// written, rather than all at once at the end: past the thread's cached buffer a big
/// encoder buffer was a fresh allocation on every call, faulted in and then copied once
/// more (dumps of 20 MB ran at 4x `pickle`'s time).
pub const GROW_FROM: usize = 256 * 1024;

/// Once a stream grows in its object, payloads left out that are shorter than this
/// (on average, of those waiting) are copied in at the start of the next object, while
/// the source just read is in cache and the copy follows the walk, as `_pickle.c`'s
/// does; longer ones wait for their frames, 256 KiB at a time. Against copying them
/// with their frames, in one process over the same objects (`docs/benchmarks.md`):
/// 10 MB of 256-byte payloads took 0.74-0.96x the time, 15 MB of 512-byte ones
/// 0.83-0.85x, but 20 MB of 1 KiB ones 1.06-1.23x when those were copied one by one.
pub const DRAIN_BELOW: usize = 1024;

extern "C" {
    // Part of CPython's C API on every version brinery supports (not the limited API);
    // pyo3-ffi declares it crate-private.
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> c_int;
    #[cfg(target_os = "linux")]
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: c_int) -> c_int;
}

/// A [`Growing`] buffer this big has its pages faulted in ahead (see [`Growing::populate`]).
const POPULATE_MIN: usize = 32 << 20;

/// How far past what is about to be written pages are faulted in at a time: one call
/// per payload of a few hundred bytes cost more than the faults it saved.
const POPULATE_AHEAD: usize = 1 << 20;

thread_local! {
    /// The length of the last stream [`Growing`] finished on this thread.
    static LAST_GROWN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A `bytes` object nobody else has seen yet, filled from the front and grown in place
/// (`_PyBytes_Resize`, a `realloc`, which for big sizes moves page mappings, not bytes),
/// then cut to its length.
pub struct Growing<'py> {
    py: Python<'py>,
    /// Owned; null only after a failed resize (which freed it).
    obj: *mut ffi::PyObject,
    /// Its contents, looked up again after every resize.
    data: *mut u8,
    len: usize,
    cap: usize,
    /// Bytes from the start whose pages are faulted in or need not be (see
    /// [`Growing::populate`]).
    populated: usize,
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
        let mut g = Growing {
            py,
            obj,
            data: std::ptr::null_mut(),
            len: 0,
            cap,
            populated: 0,
        };
        g.resized();
        Ok(g)
    }

    /// After the object was made or moved: where its contents are, and what of them
    /// needs faulting in.
    fn resized(&mut self) {
        // SAFETY: `obj` is a live bytes object we own.
        self.data = unsafe { ffi::PyBytes_AsString(self.obj) }.cast::<u8>();
        // Pages written so far moved with the object; below `POPULATE_MIN` nothing is
        // faulted in ahead.
        self.populated = if self.cap >= POPULATE_MIN {
            self.len
        } else {
            self.cap
        };
    }

    /// Faults in the pages up to `to` (and [`POPULATE_AHEAD`] past it) in one call, for
    /// a buffer big enough to be fresh memory (glibc maps requests of 32 MiB or more
    /// anew each time): on this VM a page fault per 4 KiB page made page faults most
    /// of a big dump's time, for `pickle` as much as for brinery, and one
    /// `MADV_POPULATE_WRITE` per megabyte takes a third off that. The spare capacity of
    /// a growth beyond that stays unmapped. Kernels before 5.14 refuse the advice, and
    /// the pages fault as usual.
    #[cold]
    fn populate(&mut self, to: usize) {
        let from = self.populated;
        let to = to.saturating_add(POPULATE_AHEAD).min(self.cap);
        self.populated = to;
        #[cfg(target_os = "linux")]
        {
            const MADV_POPULATE_WRITE: c_int = 23;
            const PAGE: usize = 4096;
            let data = self.data as usize;
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
    }

    #[cold]
    fn reserve(&mut self, extra: usize) -> PyResult<()> {
        let need = self.len.checked_add(extra).ok_or_else(mismatch)?;
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
        self.resized();
        Ok(())
    }

    /// Takes what the encoder gave (see `brinery_core::encode::Drained`): fixes its
    /// frame headers, then appends the rest, with `payloads` at its splices.
    #[inline]
    pub fn take(&mut self, d: Drained<'_>, payloads: &[Payload<'py>]) -> PyResult<()> {
        if !d.fixes.is_empty() {
            self.fix(d.fixes)?;
        }
        self.append(d.buf, d.splices, payloads)
    }

    /// Writes or removes frame headers already in the object, in order.
    #[cold]
    fn fix(&mut self, fixes: &[FrameFix]) -> PyResult<()> {
        const H: usize = FRAME_HEADER_SIZE;
        for f in fixes {
            let at = match *f {
                FrameFix::Write { at, .. } | FrameFix::Remove { at } => at,
            };
            if at >= self.len || self.len - at < H {
                return Err(mismatch());
            }
            // SAFETY: `[at, at + H)` lies inside the `len` bytes written (checked
            // above), in our object's contents.
            unsafe {
                match f {
                    FrameFix::Write { header, .. } => {
                        std::ptr::copy_nonoverlapping(header.as_ptr(), self.data.add(at), H)
                    }
                    FrameFix::Remove { .. } => {
                        let tail = self.len - at - H;
                        std::ptr::copy(self.data.add(at + H), self.data.add(at), tail);
                        self.len -= H;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends `buf` with `payloads` at `splices`. Called once per payload of a few
    /// hundred bytes, so the pieces around each (a few opcode bytes) are copied inline.
    #[inline]
    fn append(
        &mut self,
        buf: &[u8],
        splices: &[Splice],
        payloads: &[Payload<'py>],
    ) -> PyResult<()> {
        if splices.len() != payloads.len() {
            return Err(mismatch());
        }
        let mut total = buf.len();
        for s in splices {
            total = total.checked_add(s.len).ok_or_else(mismatch)?;
        }
        if total > self.cap - self.len {
            self.reserve(total)?;
        }
        if self.len + total > self.populated {
            self.populate(self.len + total);
        }
        let (data, start) = (self.data, self.len);
        let mut at = start;
        let mut from = 0;
        for (s, p) in splices.iter().zip(payloads) {
            let p = p.as_ref();
            // In order, inside `buf`, and of the length noted: then every piece fits in
            // the `total` bytes reserved.
            if s.at < from || s.at > buf.len() || p.len() != s.len {
                return Err(mismatch());
            }
            // SAFETY: `data + at` is the next unwritten byte and the pieces add up to
            // at most `total` (checked above); the sources are other allocations.
            unsafe {
                at += copy_small(&buf[from..s.at], data.add(at));
                splice::for_each_payload_piece(p, |piece| {
                    std::ptr::copy_nonoverlapping(piece.as_ptr(), data.add(at), piece.len());
                    at += piece.len();
                });
            }
            from = s.at;
        }
        // SAFETY: as above.
        at += unsafe { copy_small(&buf[from..], data.add(at)) };
        debug_assert_eq!(at, start + total);
        self.len = at;
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

/// Copies `src` to `dst` and returns its length; up to 16 bytes (the opcodes between two
/// payloads) without a call to `memcpy`, which cost more than such a copy.
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes and not overlap `src`.
#[inline(always)]
unsafe fn copy_small(src: &[u8], dst: *mut u8) -> usize {
    let n = src.len();
    let s = src.as_ptr();
    // SAFETY: every read lies in `src` and every write in `dst[..n]` (the caller's
    // contract); the two halves overlap when `n` is not twice the width.
    unsafe {
        match n {
            0 => {}
            1..=3 => {
                *dst = *s;
                *dst.add(n / 2) = *s.add(n / 2);
                *dst.add(n - 1) = *s.add(n - 1);
            }
            4..=7 => {
                let (a, b) = (
                    s.cast::<u32>().read_unaligned(),
                    s.add(n - 4).cast::<u32>().read_unaligned(),
                );
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            }
            8..=16 => {
                let (a, b) = (
                    s.cast::<u64>().read_unaligned(),
                    s.add(n - 8).cast::<u64>().read_unaligned(),
                );
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
    n
}
