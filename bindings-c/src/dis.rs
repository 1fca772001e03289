//! `brinery_dis`: the core's disassembler for C. Not for annotations beyond what the
//! core prints.

use std::ffi::c_char;

use crate::error::{brinery_error, guard_value};
use crate::memory::{input, to_c_string};

/// Disassembles the pickle in `data[0..len]`, one opcode a line with its offset, as
/// `pickletools.dis` prints it.
///
/// Returns a NUL-terminated string owned by the caller, freed with
/// `brinery_string_free`, or NULL on failure with `*err` filled in (the
/// `BRINERY_DECODE_*` codes with the byte offset where the stream stopped making sense).
///
/// # Safety
/// `data` points to `len` readable bytes (or is NULL with `len == 0`); `err` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_dis(
    data: *const u8,
    len: usize,
    err: *mut brinery_error,
) -> *mut c_char {
    guard_value(err, std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let data = unsafe { input(data, len, "data") }?;
        to_c_string(brinery_core::dis(data)?)
    })
}
