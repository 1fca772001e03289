//! Fuzzes the decoder: any input must decode or fail with an error whose offset lies in
//! the input, under tight limits so a slow or memory-hungry path shows up as a timeout
//! or an out-of-memory report. Also decodes with buffers supplied and Python 2 strings
//! as bytes, which take other paths.
#![no_main]

use brinery_core::{decode, DecodeOptions, Limits, Py2Strings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut opts = DecodeOptions::new();
    opts.limits = Limits {
        max_depth: 1000,
        max_memo: 100_000,
        max_alloc: 64 << 20,
    };
    if let Err(e) = decode(data, &opts) {
        assert!(
            e.offset <= data.len(),
            "offset {} past {}",
            e.offset,
            data.len()
        );
    }
    opts.buffers = Some(4);
    opts.py2_strings = Py2Strings::Bytes;
    opts.keep_reductions = true;
    if let Err(e) = decode(data, &opts) {
        assert!(e.offset <= data.len());
    }
});
