//! Memory that crosses the boundary: byte buffers and strings the library allocates
//! and the caller frees with the matching `brinery_*_free`, and reading the caller's
//! (pointer, length) arguments as slices. Not for the value tree (see `value`).

use std::ffi::{c_char, CString};

use crate::error::{brinery_status::*, Error};

/// Bytes allocated by libbrinery (a pickle). Free with `brinery_bytes_free`; `data` is
/// NULL when the call that returned it failed.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct brinery_bytes {
    /// The bytes, or NULL.
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl brinery_bytes {
    pub const NULL: brinery_bytes = brinery_bytes {
        data: std::ptr::null_mut(),
        len: 0,
    };

    pub fn from_vec(v: Vec<u8>) -> Self {
        let boxed = v.into_boxed_slice();
        let len = boxed.len();
        brinery_bytes {
            data: Box::into_raw(boxed).cast(),
            len,
        }
    }
}

/// Frees bytes returned by libbrinery. Passing a `brinery_bytes` whose `data` is NULL
/// does nothing.
///
/// # Safety
/// `bytes` is exactly as a libbrinery call returned it (`len` unchanged) and is freed
/// once.
#[no_mangle]
pub unsafe extern "C" fn brinery_bytes_free(bytes: brinery_bytes) {
    if bytes.data.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        let slice = std::ptr::slice_from_raw_parts_mut(bytes.data, bytes.len);
        // SAFETY: `data`/`len` came from `brinery_bytes::from_vec` (a boxed slice), and
        // the caller frees each buffer once.
        drop(unsafe { Box::from_raw(slice) });
    });
}

/// A NUL-terminated string for C; text holding a NUL is an internal error.
pub fn to_c_string(text: String) -> Result<*mut c_char, Error> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Error::new(BRINERY_INTERNAL, "text holds a NUL byte"))
}

/// Frees a string returned by libbrinery (JSON and disassembly text). NULL does nothing.
///
/// # Safety
/// `s` is NULL or a string a libbrinery call returned, freed once.
#[no_mangle]
pub unsafe extern "C" fn brinery_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `s` came from `to_c_string` (`CString::into_raw`), freed once.
        drop(unsafe { CString::from_raw(s) });
    });
}

/// The caller's `(data, len)` as a slice: NULL is allowed only with `len == 0`.
///
/// # Safety
/// `data` must point to `len` readable bytes that stay valid for `'a`.
pub unsafe fn input<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if data.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::null(what));
    }
    // SAFETY: guaranteed by the caller.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// The caller's `(utf8, len)` as a `&str`.
///
/// # Safety
/// As [`input`].
pub unsafe fn input_str<'a>(data: *const c_char, len: usize, what: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded.
    let bytes = unsafe { input(data.cast(), len, what)? };
    std::str::from_utf8(bytes).map_err(|e| Error {
        code: BRINERY_INVALID_UTF8,
        offset: Some(e.valid_up_to()),
        message: format!("`{what}` is not valid utf-8"),
    })
}
