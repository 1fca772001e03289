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

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Native calls in progress, on all threads.
static INSIDE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Native calls in progress on this thread (the forking thread's own do not count).
    static MINE: Cell<usize> = const { Cell::new(0) };
}

/// How long a fork waits for other threads to leave native code before it goes ahead.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// A native call in progress; leaves the gate when dropped.
pub struct Inside(());

/// Enters the gate for the caller's scope: `let _inside = fork_gate::enter();`.
#[inline]
pub fn enter() -> Inside {
    INSIDE.fetch_add(1, Ordering::AcqRel);
    MINE.with(|m| m.set(m.get() + 1));
    Inside(())
}

impl Drop for Inside {
    #[inline]
    fn drop(&mut self) {
        MINE.with(|m| m.set(m.get() - 1));
        INSIDE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether a thread other than this one is inside native code.
fn others_inside() -> bool {
    INSIDE.load(Ordering::Acquire) > MINE.with(Cell::get)
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
