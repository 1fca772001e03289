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
//! waiting on the pool itself) is not waited for any more: the fork goes ahead. Other
//! forks of the process (`os.fork()`, `multiprocessing`) wait a little too, through a
//! before-fork hook ([`before_fork`]).

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

/// How long any other fork (`os.fork()`, `multiprocessing`'s fork start method) waits:
/// its before-fork hook ([`before_fork`]) gives a thread inside this long to leave.
pub const HOOK_PATIENCE: Duration = Duration::from_millis(200);

thread_local! {
    /// This thread is in [`fork`], which has done its own waiting: the before-fork hook
    /// it runs through CPython does not wait again.
    static FORKING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Waits, the GIL released between looks, until no thread is inside native code; false
/// if `patience` ran out first.
fn wait_quiet(py: Python<'_>, patience: Duration) -> bool {
    let start = Instant::now();
    let mut pause = Duration::from_micros(20);
    while others_inside() {
        if start.elapsed() >= patience {
            return false;
        }
        py.detach(|| std::thread::sleep(pause));
        pause = (pause * 2).min(Duration::from_millis(1));
    }
    true
}

/// `os.fork()` at a moment when no other thread is inside this module's native code
/// (see the module docs): CPython's at-fork hooks run as for `os.fork()`. Returns 0 in
/// the child and the child's pid in the parent.
#[pyfunction]
pub fn fork(py: Python<'_>) -> PyResult<i32> {
    let start = Instant::now();
    loop {
        let quiet = wait_quiet(py, PATIENCE.saturating_sub(start.elapsed()));
        FORKING.with(|f| f.set(true));
        // SAFETY: called with the GIL held, as the C API requires; every path below
        // calls the matching `PyOS_AfterFork_*`.
        unsafe { pyo3::ffi::PyOS_BeforeFork() };
        FORKING.with(|f| f.set(false));
        // (The before-fork hooks run Python code: another thread may have entered.)
        if quiet && others_inside() {
            // SAFETY: undoes the PyOS_BeforeFork above; no fork happened.
            unsafe { pyo3::ffi::PyOS_AfterFork_Parent() };
            continue;
        }
        // SAFETY: plain fork(2); the child only runs the after-fork steps below before
        // returning to Python.
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
}

/// A before-fork hook (`os.register_at_fork(before=...)`, registered by `brinery`):
/// any fork of this process waits up to [`HOOK_PATIENCE`] for threads inside native code
/// to leave, so that the child does not inherit a half-initialized static. Hooks that
/// run after this one may let a thread in again; [`fork`] alone checks after them.
#[pyfunction]
pub fn before_fork(py: Python<'_>) {
    if !FORKING.with(std::cell::Cell::get) {
        wait_quiet(py, HOOK_PATIENCE);
    }
}

/// Adds `fork` and `before_fork` to `brinery._brinery`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fork, m)?)?;
    m.add_function(wrap_pyfunction!(before_fork, m)?)
}
