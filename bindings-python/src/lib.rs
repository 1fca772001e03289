//! The private native module `brinery._brinery`: a pickler that walks Python objects in
//! Rust and writes through the `brinery-core` encoder. The public API is Python code in
//! `python/brinery/`; this module only exposes what that code needs. Each submodule
//! registers itself with one line below.

use pyo3::prelude::*;

mod decode;
mod dis;
mod encode;
mod error;
mod fork_gate;
mod pool;
mod scan;

#[pymodule]
fn _brinery(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("HIGHEST_PROTOCOL", brinery_core::HIGHEST_PROTOCOL)?;
    m.add("DEFAULT_PROTOCOL", brinery_core::DEFAULT_PROTOCOL)?;
    m.add_class::<encode::Pickler>()?;
    m.add_function(wrap_pyfunction!(encode::dumps, m)?)?;
    encode::fast_call::install(m)?;
    encode::dict_entries::register(m)?;
    m.add_function(wrap_pyfunction!(encode::dump, m)?)?;
    pool::register(m)?;
    fork_gate::register(m)?;
    decode::register(m)?;
    dis::register(m)?;
    scan::register(m)?;
    Ok(())
}
