//! Forking a pool worker while other threads run this module's native code, safely.
//!
//! PyO3 initializes its lazy statics (interned names, type objects, imported modules:
//! `PyOnceLock`) by marking the cell "running", detaching from the interpreter and
//! attaching again to run the initializer. A thread can sit in that state waiting for the
//! GIL while the pool's driver thread, holding it, forks a worker: the child inherits the
//! cell marked "running" by a thread it does not have, and the first call there that
//! needs the cell waits forever (seen as a worker stuck in `brinery.dumps`).
//!
//! Every native entry point that runs with the GIL held enters the gate ([`enter`]) for
//! its duration; [`fork`] forks only when no other thread is inside one: with the GIL
//! held, after CPython's own pre-fork steps, so that no thread can enter between the
//! check and `fork()`. A thread that stays inside longer than [`PATIENCE`] (a reducer
//! waiting on the pool itself) is not waited for any more: the fork goes ahead.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Native calls in progress, on all threads. Changed only with the GIL held (entering
/// and leaving happen in code that holds it), which orders every change: a plain load
/// and store, no read-modify-write, whose locked instruction cost a few percent of a
/// `dumps(None)`.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// How long a fork waits for other threads to leave native code before it goes ahead.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// A native call in progress; leaves the gate when dropped (with the GIL still held).
pub struct Inside(());

/// Enters the gate for the caller's scope, with the GIL held:
/// `let _inside = fork_gate::enter();`.
#[inline]
pub fn enter() -> Inside {
    INSIDE.store(INSIDE.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    Inside(())
}

impl Drop for Inside {
    #[inline]
    fn drop(&mut self) {
        INSIDE.store(INSIDE.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    }
}

/// Whether a thread is inside native code (read with the GIL held). The forking
/// thread itself is not (it forks from the pool's event loop, outside every entry
/// point); if it were, the fork would wait out [`PATIENCE`] and go ahead.
fn others_inside() -> bool {
    INSIDE.load(Ordering::Relaxed) > 0
}

/// `os.fork()` at a moment when no other thread is inside this module's native code
/// (see the module docs): CPython's at-fork hooks run as for `os.fork()`. Returns 0 in
/// the child and the child's pid in the parent.
#[pyfunction]
pub fn fork(py: Python<'_>) -> PyResult<i32> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    loop {
        let patient = start.elapsed() < PATIENCE;
        if !others_inside() || !patient {
            // SAFETY: called with the GIL held, as the C API requires; every path below
            // calls the matching `PyOS_AfterFork_*`.
            unsafe { pyo3::ffi::PyOS_BeforeFork() };
            // (The before-fork hooks run Python code: another thread may have entered.)
            if !others_inside() || !patient {
                // SAFETY: plain fork(2); the child only runs the after-fork steps below
                // before returning to Python.
                let pid = unsafe { libc::fork() };
                let err = std::io::Error::last_os_error();
                if pid == 0 {
                    // SAFETY: in the child, with the GIL, right after fork.
                    unsafe { pyo3::ffi::PyOS_AfterFork_Child() };
                    return Ok(0);
                }
                // SAFETY: in the parent, after PyOS_BeforeFork.
                unsafe { pyo3::ffi::PyOS_AfterFork_Parent() };
                if pid < 0 {
                    return Err(err.into());
                }
                return Ok(pid);
            }
            // SAFETY: undoes the PyOS_BeforeFork above; no fork happened.
            unsafe { pyo3::ffi::PyOS_AfterFork_Parent() };
        }
        py.detach(|| std::thread::sleep(pause));
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Adds `fork` to `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fork, m)?)
}
