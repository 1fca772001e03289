//! The JSON bridge for C: `brinery_pickle_to_json` and `brinery_json_to_pickle`. The
//! mapping itself (and the JSON form of what JSON lacks) is the core's
//! (`brinery_core::json`).

use std::ffi::c_char;

use brinery_core::encode_tree;

use crate::decode::{alloc_limit, brinery_decode_options, check_decoded, core_options};
use crate::error::{brinery_error, brinery_status::*, guard_value, Error};
use crate::memory::{brinery_bytes, input, to_c_string};
use brinery_core::json::{decode_for_json, from_json};

/// Decodes the pickle in `data[0..len]` (with `opts`, NULL for the defaults) and returns
/// it as compact JSON text in the form docs/c.md describes (bytes, big ints, tuples,
/// sets, globals, calls and shared references get `$`-tagged objects).
///
/// Returns a NUL-terminated UTF-8 string owned by the caller, freed with
/// `brinery_string_free`, or NULL on failure with `*err` filled in: decode errors as for
/// `brinery_loads`, `BRINERY_JSON_TOO_DEEP` past 12,000 levels,
/// `BRINERY_DECODE_ALLOC_LIMIT` when the text would be longer than `max_alloc` bytes,
/// `BRINERY_JSON_UNREPRESENTABLE` for an int of more than 4,096 bytes, a dict key or set
/// item Python cannot hash, or a global name holding a newline (JSON that
/// `brinery_json_to_pickle` could not read back). Shared containers, and shared strs,
/// bytes and big ints of 64 bytes or more, are written once and then referred to.
///
/// # Safety
/// As `brinery_loads`.
#[no_mangle]
pub unsafe extern "C" fn brinery_pickle_to_json(
    data: *const u8,
    len: usize,
    opts: *const brinery_decode_options,
    err: *mut brinery_error,
) -> *mut c_char {
    guard_value(err, std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let data = unsafe { input(data, len, "data") }?;
        // SAFETY: per the contract.
        let core_opts = unsafe { core_options(data, opts) }?;
        // Payloads stay in `data` until written: no copy of a big `bytes` in between.
        let (tree, used) = decode_for_json(data, &core_opts)?;
        check_decoded(tree.structure(), &core_opts, used)?;
        // SAFETY: per the contract.
        let limit = alloc_limit(unsafe { opts.as_ref() }, data.len());
        to_c_string(tree.to_json(limit)?)
    })
}

/// Reads `json[0..len]` (UTF-8 JSON text in the form docs/c.md describes, nesting at
/// most 128 levels) and encodes it as a pickle at `protocol` (0 to 5; 4 is what
/// `pickle.dumps` uses by default).
///
/// Returns bytes owned by the caller, freed with `brinery_bytes_free`; on failure their
/// `data` is NULL and `*err` says why: `BRINERY_JSON_SYNTAX` (with the byte offset),
/// `BRINERY_JSON_FORM`, `BRINERY_JSON_TOO_DEEP`, `BRINERY_ENCODE_*`,
/// `BRINERY_INVALID_ARGUMENT` for a protocol out of range.
///
/// # Safety
/// `json` points to `len` readable bytes (or is NULL with `len == 0`); `err` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_json_to_pickle(
    json: *const c_char,
    len: usize,
    protocol: i32,
    err: *mut brinery_error,
) -> brinery_bytes {
    guard_value(err, brinery_bytes::NULL, || {
        let protocol = check_protocol(protocol)?;
        // SAFETY: per the contract.
        let text = unsafe { input(json.cast(), len, "json") }?;
        let tree = from_json(text)?;
        Ok(brinery_bytes::from_vec(encode_tree(&tree, protocol)?))
    })
}

/// A protocol from C as the core's `u8`.
pub fn check_protocol(protocol: i32) -> Result<u8, Error> {
    u8::try_from(protocol)
        .ok()
        .filter(|p| *p <= brinery_core::HIGHEST_PROTOCOL)
        .ok_or_else(|| {
            Error::new(
                BRINERY_INVALID_ARGUMENT,
                format!("protocol {protocol} is not 0 to 5"),
            )
        })
}
