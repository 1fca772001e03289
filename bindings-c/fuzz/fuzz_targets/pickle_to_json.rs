//! Fuzzes `brinery_pickle_to_json` under tight limits: any input gives JSON text or an
//! error whose offset lies in the input, and JSON the bridge wrote always reads back with
//! `brinery_json_to_pickle` (it may not encode, but it is never a syntax error), and a
//! pickle encoded from it decodes again.
#![no_main]

use std::ffi::CStr;

use brinery::decode::brinery_decode_options_default;
use brinery::error::{brinery_error, brinery_status};
use brinery::json::{brinery_json_to_pickle, brinery_pickle_to_json};
use brinery::memory::{brinery_bytes_free, brinery_string_free};
use libfuzzer_sys::fuzz_target;

fn empty_error() -> brinery_error {
    // SAFETY: brinery_error is plain C data; all-zero is a valid "no error" value.
    unsafe { std::mem::zeroed() }
}

fuzz_target!(|data: &[u8]| {
    let mut opts = brinery_decode_options_default();
    opts.max_depth = 1000;
    opts.max_memo = 100_000;
    opts.max_alloc = 64 << 20;
    let mut err = empty_error();
    // SAFETY: data is readable for its length; opts and err are valid.
    let json = unsafe { brinery_pickle_to_json(data.as_ptr(), data.len(), &opts, &mut err) };
    if json.is_null() {
        assert!(
            !err.has_offset || err.offset <= data.len(),
            "offset {} past {}",
            err.offset,
            data.len()
        );
        return;
    }
    // SAFETY: a non-NULL result is a NUL-terminated string owned by us.
    let text = unsafe { CStr::from_ptr(json) }.to_bytes().to_vec();
    // SAFETY: freed once, as documented.
    unsafe { brinery_string_free(json) };
    for protocol in [0, 2, 5] {
        let mut err = empty_error();
        // SAFETY: text is readable for its length.
        let bytes =
            unsafe { brinery_json_to_pickle(text.as_ptr().cast(), text.len(), protocol, &mut err) };
        assert!(
            err.code != brinery_status::BRINERY_JSON_SYNTAX,
            "the bridge's own JSON does not parse: {}",
            String::from_utf8_lossy(&text)
        );
        if !bytes.data.is_null() {
            let mut err2 = empty_error();
            // SAFETY: bytes.data is readable for bytes.len.
            let again = unsafe {
                brinery_pickle_to_json(bytes.data, bytes.len, std::ptr::null(), &mut err2)
            };
            assert!(
                !again.is_null(),
                "re-encoded pickle does not decode: {:?}",
                err2.code
            );
            // SAFETY: freed once.
            unsafe { brinery_string_free(again) };
        }
        // SAFETY: freed once (NULL data is allowed).
        unsafe { brinery_bytes_free(bytes) };
    }
});
