//! The private native module `brinery._brinery`: a pickler that walks Python objects in
//! Rust and writes through the `brinery-core` encoder. The public API is Python code in
//! `python/brinery/`; this module only exposes what that code needs. Each submodule
//! registers itself with one line below.

use pyo3::prelude::*;

mod bytecode;
mod class;
mod error;
mod function;
mod init_subclass;
mod instance;
mod instance_dict;
mod memo;
mod output;
mod path;
mod pickler;
mod pool;
mod reduce;
mod safe;
mod stdlib;
mod submodules;
mod walker;
mod weak_proxy;

#[pymodule]
fn _brinery(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("HIGHEST_PROTOCOL", brinery_core::HIGHEST_PROTOCOL)?;
    m.add("DEFAULT_PROTOCOL", brinery_core::DEFAULT_PROTOCOL)?;
    m.add_class::<pickler::Pickler>()?;
    m.add_function(wrap_pyfunction!(pickler::dumps, m)?)?;
    m.add_function(wrap_pyfunction!(pickler::dump, m)?)?;
    pool::register(m)?;
    safe::register(m)?;
    Ok(())
}
