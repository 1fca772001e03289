//! `cargo xtask demo`: builds everything, installs the comparison libraries into the
//! repo's `.venv`, then runs the showcase (`xtask/assets/showcase.py`): each case that
//! breaks pickle, cloudpickle or dill, run for real against each, beside brinery; and ends
//! with the benchmark's ratios.

use crate::run::{self, Result};

pub fn run(_args: &[String]) -> Result {
    crate::develop::run(&[])?;
    let python = crate::venv::ensure()?;
    let showcase = run::root().join("xtask/assets/showcase.py");
    run::status(&mut run::cmd(&python, &[showcase.to_str().unwrap()]))?;
    let compare = run::root().join("bindings-python/benches/compare.py");
    if compare.exists() {
        println!("\nTiming ratios (bindings-python/benches/compare.py, quick run):");
        let mut c = run::cmd(&python, &[compare.to_str().unwrap()]);
        c.env("BRINERY_BENCH_QUICK", "1");
        run::status(&mut c)?;
    }
    Ok(())
}
