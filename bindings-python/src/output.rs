//! A finished stream: the encoder's buffer plus the large `str`/`bytes` payloads it left
//! out (see `brinery_core::encode::splice`), put together once, straight into the
//! `bytes` object `dumps` returns, or handed to a file piece by piece with big `bytes`
//! objects passed as they are, so a payload is copied at most once, as `pickle` does.

use brinery_core::encode::{splice, Splice};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::walker::recycle_output;

/// The smallest payload left out of the encoder's buffer.
pub const DEFER_MIN: usize = brinery_core::encode::splice::MIN_DEFERRED;

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
    pub buf: Vec<u8>,
    pub splices: Vec<Splice>,
    pub payloads: Vec<Payload<'py>>,
}

impl<'py> Stream<'py> {
    /// The whole stream as one `bytes` object; the buffer goes back to the thread's
    /// cache.
    pub fn into_bytes(self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let out = if self.splices.is_empty() {
            PyBytes::new(py, &self.buf)
        } else {
            let parts: Vec<&[u8]> = self.payloads.iter().map(Payload::data).collect();
            let total = splice::total_len(&self.buf, &self.splices);
            // Not `PyBytes::new_with`, which zeroes the whole object first: for a big
            // stream that is one more pass over memory than the copy itself.
            // SAFETY: a new bytes object of `total` bytes, not yet seen by anything else;
            // the pieces add up to `total` (checked on every copy), so it is filled
            // completely before it is returned, and dropped unseen otherwise.
            let out = unsafe {
                let ptr =
                    ffi::PyBytes_FromStringAndSize(std::ptr::null(), total as ffi::Py_ssize_t);
                Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked::<PyBytes>()
            };
            let dst = unsafe { ffi::PyBytes_AsString(out.as_ptr()) }.cast::<u8>();
            let mut filled = 0usize;
            let fits = splice::for_each_piece(&self.buf, &self.splices, &parts, |piece| {
                if piece.len() <= total - filled {
                    // SAFETY: in bounds (checked just above), and the source is a
                    // different allocation.
                    unsafe {
                        std::ptr::copy_nonoverlapping(piece.as_ptr(), dst.add(filled), piece.len())
                    };
                    filled += piece.len();
                }
            });
            if !fits || filled != total {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "brinery: the stream's deferred payloads do not match its splices",
                ));
            }
            out
        };
        recycle_output(self.buf);
        Ok(out)
    }

    /// Hands the stream to `write` in order: runs of the buffer as `bytes`, each payload
    /// as its own object.
    pub fn write_to(self, write: &Bound<'py, PyAny>) -> PyResult<()> {
        let py = write.py();
        let mut from = 0;
        for (s, p) in self.splices.iter().zip(&self.payloads) {
            if s.at > from {
                write.call1((PyBytes::new(py, &self.buf[from..s.at]),))?;
            }
            write.call1((p.to_object(),))?;
            from = s.at;
        }
        if from < self.buf.len() {
            write.call1((PyBytes::new(py, &self.buf[from..]),))?;
        }
        recycle_output(self.buf);
        Ok(())
    }
}
