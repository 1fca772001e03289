//! The native half of `brinery.Pool`: thin PyO3 wrappers over `brinery-pool` for the
//! parent ([`supervisor::PoolCore`]) and the worker ([`worker::WorkerEndpoint`]), plus
//! [`buffer::SharedBuffer`], a zero-copy view of a buffer that arrived in shared memory,
//! [`columns::columns`], which turns a `starmap` chunk into columns, and
//! [`chunks::chunk_pickles`], which writes plain chunks straight from the caller's list.
//! Task encoding, futures and the worker loop are Python code in `brinery/pool.py` and
//! `brinery/_worker.py`; only `chunks` writes pickle opcodes (of plain scalars).

mod buffer;
mod chunks;
mod columns;
mod supervisor;
mod worker;

use pyo3::prelude::*;

/// Adds the pool classes to `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<buffer::SharedBuffer>()?;
    m.add_class::<supervisor::PoolCore>()?;
    m.add_class::<worker::WorkerEndpoint>()?;
    m.add_function(wrap_pyfunction!(columns::columns, m)?)?;
    m.add_function(wrap_pyfunction!(chunks::chunk_pickles, m)?)?;
    m.add_function(wrap_pyfunction!(chunks::place_results, m)?)?;
    m.add_function(wrap_pyfunction!(chunks::plain_results, m)?)?;
    Ok(())
}
