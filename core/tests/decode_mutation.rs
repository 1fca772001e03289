//! Randomized mutation test on stable Rust (the cargo-fuzz target in `core/fuzz/` needs
//! nightly): many mutated, truncated and spliced copies of the shared vectors go through
//! `decode` and `dis`; each must succeed or fail with an error whose offset lies in the
//! input, never panic. Deterministic: the generator is seeded, so a failure reproduces.

mod common;

use brinery_core::{decode, dis, DecodeOptions, Limits, Py2Strings};
use common::mutate::{mutate, seeds, Rng};

#[test]
fn mutated_vectors_never_panic() {
    let streams = seeds();
    assert!(streams.len() > 300);
    let mut strict = DecodeOptions::new();
    strict.limits = Limits {
        max_depth: 64,
        max_memo: 1000,
        max_alloc: 1 << 20,
    };
    let mut loose = DecodeOptions::new();
    loose.buffers = Some(3);
    loose.py2_strings = Py2Strings::Bytes;
    loose.keep_reductions = true;
    loose.fix_imports = false;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut errors) = (0usize, 0usize);
    for round in 0..100_000 {
        let base = &streams[round % streams.len()];
        let other = &streams[rng.below(streams.len())];
        let mut data = base.clone();
        mutate(&mut rng, &mut data, other);
        for opts in [&strict, &loose] {
            match decode(&data, opts) {
                Ok(_) => ok += 1,
                Err(e) => {
                    errors += 1;
                    assert!(e.offset <= data.len(), "round {round}: {e} in {data:?}");
                }
            }
        }
        if let Err(e) = dis(&data) {
            assert!(e.offset <= data.len(), "round {round}: dis {e} in {data:?}");
        }
    }
    // The mutations must exercise both outcomes.
    assert!(ok > 1000 && errors > 1000, "ok {ok}, errors {errors}");
}
