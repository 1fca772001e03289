//! Fuzzes the disassembler: any input must disassemble or fail with an error whose
//! offset lies in the input; whatever decodes must also disassemble or fail cleanly.
#![no_main]

use brinery_core::dis;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = dis(data) {
        assert!(
            e.offset <= data.len(),
            "offset {} past {}",
            e.offset,
            data.len()
        );
    }
});
