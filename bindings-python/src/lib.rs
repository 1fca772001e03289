//! The private native module `brinery._brinery`: a pickler that walks Python objects in
//! Rust and writes through the `brinery-core` encoder. The public API is Python code in
//! `python/brinery/`; this module only exposes what that code needs. Each submodule
//! registers itself with one line below.

use pyo3::prelude::*;

mod decode;
mod dis;
mod encode;
mod error;
mod memo;
mod output;
mod pickler;
mod pool;
mod scan;
mod walker;

/// The reducers' old paths, which `walker.rs` and `pickler.rs` use until they move under
/// `encode/` too (issue 21).
mod function {
    pub use crate::encode::function::*;
    pub use crate::encode::namespace::SavedGlobals;
}
mod reduce {
    pub use crate::encode::global::save_global;
    pub use crate::encode::reduce::*;
}
use encode::{class, instance, path, stdlib, weak_proxy};

#[pymodule]
fn _brinery(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("HIGHEST_PROTOCOL", brinery_core::HIGHEST_PROTOCOL)?;
    m.add("DEFAULT_PROTOCOL", brinery_core::DEFAULT_PROTOCOL)?;
    m.add_class::<pickler::Pickler>()?;
    m.add_function(wrap_pyfunction!(pickler::dumps, m)?)?;
    m.add_function(wrap_pyfunction!(pickler::dump, m)?)?;
    pool::register(m)?;
    decode::register(m)?;
    dis::register(m)?;
    scan::register(m)?;
    Ok(())
}
