//! A finished stream: the encoder's buffer plus the large `str`/`bytes` payloads it left
//! out (see `brinery_core::encode::splice`), put together once, straight into the
//! `bytes` object `dumps` returns, or handed to a file piece by piece with big `bytes`
//! objects passed as they are, so a payload is copied at most once, as `pickle` does.
//! A stream past [`GROW_FROM`](super::dump_buffer::GROW_FROM) bytes is written into its
//! `bytes` object directly ([`DumpBuffer`]).

use brinery_core::encode::{splice, Output, Splice};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::dump_buffer::DumpBuffer;
use super::walker::recycle_output;

/// The smallest payload left out of the encoder's buffer while the stream is short:
/// it is copied from the buffer, still in cache, into its `bytes` object once at the end.
pub const DEFER_MIN: usize = 2 * 1024;

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

impl AsRef<[u8]> for Payload<'_> {
    fn as_ref(&self) -> &[u8] {
        self.data()
    }
}

/// The parts of a stream, or of the part of it already committed.
pub struct Stream<'py> {
    /// The stream, or all of it but the payloads left out; already its `bytes` object
    /// when it grew big (see [`DumpBuffer`]).
    pub buf: DumpBuffer,
    pub splices: Vec<Splice>,
    pub payloads: Vec<Payload<'py>>,
}

impl<'py> Stream<'py> {
    /// The whole stream as one `bytes` object; the buffer goes back to the thread's
    /// cache.
    pub fn into_bytes(mut self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.buf.check()?;
        if self.buf.is_bytes() {
            if !self.splices.is_empty() {
                return Err(mismatch());
            }
            return self.buf.into_bytes(py);
        }
        let buf = self.buf.as_slice();
        let out = if self.splices.is_empty() {
            PyBytes::new(py, buf)
        } else {
            let total = splice::total_len(buf, &self.splices);
            let mut fill = Filler::new(py, total)?;
            let fits = splice::for_each_piece(buf, &self.splices, &self.payloads, |p| fill.push(p));
            fill.finish(fits)?
        };
        if let Some(v) = self.buf.into_vec() {
            recycle_output(v);
        }
        Ok(out)
    }

    /// Hands the stream to `write` (see [`write_parts`]); the buffer goes back to the
    /// thread's cache.
    pub fn write_to(mut self, write: &Bound<'py, PyAny>) -> PyResult<()> {
        self.buf.check()?;
        debug_assert!(
            !self.buf.is_bytes(),
            "a stream to a file never grows into bytes"
        );
        write_parts(write, self.buf.as_slice(), &self.splices, &self.payloads)?;
        if let Some(v) = self.buf.into_vec() {
            recycle_output(v);
        }
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

pub(super) fn mismatch() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "brinery: the stream's deferred payloads do not match its splices",
    )
}

/// A new `bytes` object of a known size, filled piece by piece.
pub(super) struct Filler<'py> {
    out: Bound<'py, PyBytes>,
    dst: *mut u8,
    total: usize,
    filled: usize,
}

impl<'py> Filler<'py> {
    fn new(py: Python<'py>, total: usize) -> PyResult<Self> {
        Self::with_room(py, total, total)
    }

    /// Like [`Filler::new`], the object `cap` bytes long (at least `total`), for a
    /// [`DumpBuffer`] that goes on writing after the `total` bytes filled and cuts the
    /// object to its length when the dump ends.
    pub(super) fn with_room(py: Python<'py>, total: usize, cap: usize) -> PyResult<Self> {
        let cap = cap.max(total);
        // Not `PyBytes::new_with`, which zeroes the whole object first: for a big stream
        // that is one more pass over memory than the copy itself.
        // SAFETY: a new bytes object of `cap` bytes, not yet seen by anything else;
        // `finish` hands it out only once its first `total` bytes were written (the rest
        // only to a `DumpBuffer`, which writes them before handing the object out).
        let out = unsafe {
            let ptr = ffi::PyBytes_FromStringAndSize(std::ptr::null(), cap as ffi::Py_ssize_t);
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

    pub(super) fn push(&mut self, piece: &[u8]) {
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
    pub(super) fn finish(self, fits: bool) -> PyResult<Bound<'py, PyBytes>> {
        if !fits || self.filled != self.total {
            return Err(mismatch());
        }
        Ok(self.out)
    }
}
