//! Buffers crossing between Python and `brinery-pool`: Python buffer objects become
//! message buffers (large ones copied once into a memfd), and received buffers become
//! `bytes` (small) or [`SharedBuffer`], which exposes a shared-memory mapping through the
//! buffer protocol without copying it.

use std::ffi::c_int;
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use brinery_pool::{Buffer, Message, SegmentCache};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use pyo3::{ffi, IntoPyObjectExt};

/// A received buffer living in shared memory (writable, copy-on-write: the sender never
/// sees changes).
#[pyclass(module = "brinery._brinery", frozen)]
pub struct SharedBuffer {
    buf: Buffer,
}

#[pymethods]
impl SharedBuffer {
    fn __len__(&self) -> usize {
        self.buf.len()
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let data: &[u8] = &slf.get().buf;
        let readonly = c_int::from(matches!(slf.get().buf, Buffer::Inline(_)));
        // SAFETY: `view` comes from the interpreter; the memory stays valid while the
        // view holds a reference to `slf`, which PyBuffer_FillInfo takes.
        let r = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                data.as_ptr() as *mut _,
                data.len() as ffi::Py_ssize_t,
                readonly,
                flags,
            )
        };
        if r != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }
}

/// Copies Python buffer objects into message buffers; those of `threshold` bytes or more
/// go straight into a shared-memory segment from `segments` (lent to the receiver, reused
/// once it gives the segment back).
pub fn to_message(
    py: Python<'_>,
    buffers: &[Bound<'_, PyAny>],
    threshold: usize,
    segments: &SegmentCache,
) -> PyResult<Message> {
    let mut out = Vec::with_capacity(buffers.len());
    for b in buffers {
        if let Ok(bytes) = b.cast::<PyBytes>() {
            let data = bytes.as_bytes();
            if data.len() < threshold {
                out.push(Buffer::Inline(data.to_vec()));
                continue;
            }
        }
        let pb = PyBuffer::<u8>::get(b)?;
        if !pb.is_c_contiguous() {
            return Err(PyValueError::new_err("buffers must be C-contiguous"));
        }
        // SAFETY: `pb` keeps the exporter's memory alive and unmoved until it is dropped.
        let data = unsafe { std::slice::from_raw_parts(pb.buf_ptr() as *const u8, pb.len_bytes()) };
        if data.len() < threshold {
            out.push(Buffer::Inline(data.to_vec()));
        } else {
            let addr = data.as_ptr() as usize;
            let len = data.len();
            let shared = py.detach(move || {
                // SAFETY: as above; `pb` outlives this call.
                let data = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
                segments.lend_copy(data)
            })?;
            out.push(shared);
        }
        drop(pb);
    }
    Ok(Message {
        buffers: out,
        fds: Vec::new(),
    })
}

/// A close-on-exec duplicate of `fd`, which stays the caller's.
pub fn dup(fd: RawFd) -> PyResult<OwnedFd> {
    // SAFETY: the caller vouches that `fd` is open for the duration of this call.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?)
}

/// `(main, extra)`: the first buffer as `bytes`, and `None` when that is all (the common
/// case, kept cheap) or `(buffers, fds)`: the other buffers (small ones as `bytes`, large
/// ones as [`SharedBuffer`]) and the fds as raw numbers, now owned by the caller.
pub fn from_message<'py>(
    py: Python<'py>,
    msg: Message,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let Message { buffers, fds } = msg;
    let mut buffers = buffers.into_iter();
    let main = match buffers.next() {
        Some(b) => PyBytes::new(py, &b),
        None => PyBytes::new(py, b""),
    };
    if buffers.len() == 0 && fds.is_empty() {
        return Ok((main.into_any(), py.None().into_bound(py)));
    }
    let list = PyList::empty(py);
    for b in buffers {
        match b {
            Buffer::Inline(v) => list.append(PyBytes::new(py, &v))?,
            b => list.append(SharedBuffer { buf: b }.into_py_any(py)?)?,
        }
    }
    let fds = fds
        .into_iter()
        .map(|fd| Ok(fd.into_owned()?.into_raw_fd()))
        .collect::<PyResult<Vec<RawFd>>>()?;
    let extra = (list, fds).into_pyobject(py)?.into_any();
    Ok((main.into_any(), extra))
}
