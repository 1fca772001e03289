//! Fuzzes `brinery_json_to_pickle`: any input is a pickle or an error (syntax errors
//! with an offset inside the input), and every pickle it writes decodes again with
//! `brinery_pickle_to_json`. The first byte picks the protocol.
#![no_main]

use brinery::error::{brinery_error, brinery_status};
use brinery::json::{brinery_json_to_pickle, brinery_pickle_to_json};
use brinery::memory::{brinery_bytes_free, brinery_string_free};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, json)) = data.split_first() else {
        return;
    };
    let protocol = i32::from(first % 6);
    // SAFETY: brinery_error is plain C data; all-zero is a valid "no error" value.
    let mut err: brinery_error = unsafe { std::mem::zeroed() };
    // SAFETY: json is readable for its length.
    let bytes =
        unsafe { brinery_json_to_pickle(json.as_ptr().cast(), json.len(), protocol, &mut err) };
    if bytes.data.is_null() {
        if err.code == brinery_status::BRINERY_JSON_SYNTAX && err.has_offset {
            assert!(err.offset <= json.len());
        }
        return;
    }
    // SAFETY: zeroed plain C data.
    let mut err2: brinery_error = unsafe { std::mem::zeroed() };
    // SAFETY: bytes.data is readable for bytes.len.
    let back =
        unsafe { brinery_pickle_to_json(bytes.data, bytes.len, std::ptr::null(), &mut err2) };
    assert!(
        !back.is_null(),
        "our own pickle does not decode: {:?} {}",
        err2.code,
        err2.offset
    );
    // SAFETY: each freed once.
    unsafe {
        brinery_string_free(back);
        brinery_bytes_free(bytes);
    }
});
