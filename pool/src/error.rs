//! Errors of the pool: [`PoolError`] for the pool itself (a syscall failed, a worker could
//! not be started) and [`TaskError`] for one task that did not produce a result. A task
//! error always says why: the worker's exit code or signal, the stage it was in, a
//! timeout, a cancellation or a shutdown.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::process::signal_name;

/// How a worker process ended, from `waitpid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// The worker called `exit(code)` (or returned from `main`).
    Exited(i32),
    /// The worker was killed by this signal.
    Signaled(i32),
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Death::Exited(code) => write!(f, "exited with code {code}"),
            Death::Signaled(sig) if sig == libc::SIGKILL => {
                write!(f, "was killed by SIGKILL (perhaps by the OOM killer)")
            }
            Death::Signaled(sig) => write!(f, "was killed by {}", signal_name(sig)),
        }
    }
}

/// Why one task produced no result.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TaskError {
    /// The worker running the task died.
    #[error("worker {pid} {death} while {stage}")]
    WorkerDied {
        pid: i32,
        death: Death,
        /// The name of the stage the worker had reported for this task.
        stage: String,
    },
    /// The task ran longer than the pool's `task_timeout`; its worker was killed.
    #[error("task timed out after {timeout:?} (worker {pid} killed)")]
    Timeout { pid: i32, timeout: Duration },
    /// The task was cancelled before a worker started it.
    #[error("task cancelled")]
    Cancelled,
    /// The pool shut down immediately before the task finished.
    #[error("pool shut down before the task finished")]
    Shutdown,
    /// The task's message could not be queued, sent or received (too many descriptors,
    /// no memory for a shared buffer, a malformed result frame); only this task fails.
    /// When the worker's channel broke, the worker was killed and replaced.
    #[error("error while {stage}: {reason}")]
    Transport { stage: &'static str, reason: String },
    /// Workers keep dying before they serve anything; the task was not attempted again.
    #[error("workers cannot start: the last one {0}")]
    WorkersCannotStart(Death),
}

/// A failure of the pool itself rather than of one task.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot start a worker: {0}")]
    Launch(#[source] io::Error),
    #[error("malformed frame from worker: {0}")]
    Frame(&'static str),
    #[error("pool is shut down")]
    Closed,
}

impl PoolError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> PoolError {
        move |source| PoolError::Io { what, source }
    }
}
