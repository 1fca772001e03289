//! `PoolCore`: the parent's handle on a `brinery_pool::SharedPool`. Tasks are submitted
//! from any thread (straight to an idle worker when the pool's lock is free, else through
//! its `Submitter`); the event loop (`wait`) and `shutdown` run on one driver thread with
//! the GIL released, taking it back only to fork a worker through the Python callable the
//! pool was given; a thread waiting for one result may read it itself (`collect`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;
use std::time::Duration;

use brinery_pool::{
    Collected, Config, FdShare, Message, Outcome, Pool, SharedPool, Spawn, Submitter, TaskError,
    WorkerFds,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use pyo3::IntoPyObjectExt;

use super::buffer::{dup, from_message, to_message};

#[pyclass(module = "brinery._brinery", frozen)]
pub struct PoolCore {
    pool: SharedPool,
    submitter: Submitter,
    shm_threshold: usize,
    pids: Mutex<Vec<i32>>,
    /// One duplicate per open file the queued tasks pass.
    fd_share: FdShare,
}

#[pymethods]
impl PoolCore {
    /// Starts `workers` workers (with `ramp_up` seconds, the first at once and the others
    /// as `brinery_pool::Config::ramp_up` says), by calling `fork(sock_fd, stage_fd, parent_only_fds) -> pid`
    /// or by exec'ing the `spawn` argv with extra `env` pairs.
    #[new]
    #[pyo3(signature = (workers, *, fork=None, spawn=None, env=Vec::new(), max_tasks_per_child=None,
        task_timeout=None, prefetch=1, shm_threshold=65536, stage_names=Vec::new(), ramp_up=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        workers: usize,
        fork: Option<Py<PyAny>>,
        spawn: Option<Vec<String>>,
        env: Vec<(String, String)>,
        max_tasks_per_child: Option<u64>,
        task_timeout: Option<f64>,
        prefetch: usize,
        shm_threshold: usize,
        stage_names: Vec<String>,
        ramp_up: Option<f64>,
    ) -> PyResult<PoolCore> {
        let mut cfg = Config {
            workers,
            max_tasks_per_child,
            task_timeout: task_timeout.map(Duration::from_secs_f64),
            prefetch,
            shm_threshold,
            ramp_up: ramp_up.map(Duration::from_secs_f64),
            ..Config::default()
        };
        if !stage_names.is_empty() {
            cfg.stage_names = stage_names;
        }
        let pool = match (fork, spawn) {
            (Some(fork), None) => {
                let launch = move |fds: &WorkerFds, parent_only: &[RawFd]| {
                    Python::attach(|py| {
                        let args = (
                            fds.socket.as_raw_fd(),
                            fds.stage.as_raw_fd(),
                            parent_only.to_vec(),
                        );
                        fork.call1(py, args)?.extract::<i32>(py)
                    })
                    .map_err(|e| io::Error::other(e.to_string()))
                };
                Pool::new(cfg, launch)
            }
            (None, Some(argv)) if !argv.is_empty() => {
                let mut s = Spawn::new(&argv[0]);
                s.args = argv[1..].iter().map(Into::into).collect();
                s.env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                Pool::new(cfg, s)
            }
            _ => {
                return Err(PyValueError::new_err(
                    "give exactly one of fork= and spawn=",
                ))
            }
        }
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(PoolCore {
            submitter: pool.submitter(),
            pids: Mutex::new(pool.worker_pids()),
            pool: SharedPool::new(pool),
            shm_threshold,
            fd_share: FdShare::new(),
        })
    }

    /// Queues a task: buffers (the first is the main stream), fds to pass (they stay the
    /// caller's; the pool holds one duplicate of each open file, shared by all the queued
    /// tasks that pass it) and definition ids it needs. Returns the task id. With
    /// `reserve`, a task that goes straight to an idle worker waits there for `collect`
    /// (or `release`): the caller promises one or the other.
    #[pyo3(signature = (buffers, fds=Vec::new(), needs=Vec::new(), reserve=false))]
    fn submit(
        &self,
        py: Python<'_>,
        buffers: Vec<Bound<'_, PyAny>>,
        fds: Vec<RawFd>,
        needs: Vec<u64>,
        reserve: bool,
    ) -> PyResult<u64> {
        let _inside = crate::fork_gate::enter();
        let mut msg = to_message(py, &buffers, self.shm_threshold, self.submitter.segments())?;
        msg.fds = fds
            .into_iter()
            // SAFETY: the caller vouches that each fd is open for the duration of the call.
            .map(|fd| self.fd_share.share(unsafe { BorrowedFd::borrow_raw(fd) }))
            .collect::<io::Result<_>>()?;
        Ok(self.pool.submit(msg, needs, reserve))
    }

    /// Queues one task per main stream in `mains` (no other buffers, no fds), all needing
    /// `needs`. Returns the first task id; the others follow it.
    fn submit_many(
        &self,
        py: Python<'_>,
        mains: Vec<Bound<'_, PyAny>>,
        needs: Vec<u64>,
    ) -> PyResult<u64> {
        let _inside = crate::fork_gate::enter();
        let msgs = mains
            .iter()
            .map(|m| {
                let one = std::slice::from_ref(m);
                to_message(py, one, self.shm_threshold, self.submitter.segments())
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(self.submitter.submit_all(msgs, &needs))
    }

    /// Registers definition `id` (sent to each worker once, before a task needing it),
    /// with fds each worker gets its own copies of (duplicated; they stay the caller's).
    #[pyo3(signature = (id, data, fds=Vec::new()))]
    fn define(&self, id: u64, data: &[u8], fds: Vec<RawFd>) -> PyResult<()> {
        let fds = fds.into_iter().map(dup).collect::<PyResult<Vec<_>>>()?;
        let msg = Message::new(vec![data.to_vec()], fds);
        self.submitter.define_message(id, msg);
        Ok(())
    }

    /// Cancels a task no worker has yet.
    fn cancel(&self, id: u64) {
        self.submitter.cancel(id);
    }

    /// Cancels those of `ids` no worker has yet and returns them (their outcomes are
    /// `cancelled`).
    fn cancel_queued(&self, py: Python<'_>, ids: Vec<u64>) -> Vec<u64> {
        // (GIL released: the loop may hold the pool while it forks through Python.)
        py.detach(|| self.pool.cancel_queued(&ids))
    }

    /// The pool is closing (see `brinery_pool::SharedPool::close`): no task stays reserved
    /// and no worker starts but for a waiting task.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.pool.close());
    }

    /// No thread will `collect` task `id` (submitted with `reserve`): the loop reads it.
    fn release(&self, py: Python<'_>, id: u64) {
        py.detach(|| self.pool.release(id));
    }

    /// Waits up to `timeout` seconds (GIL released) for task `id`'s outcome, reading its
    /// worker's reply on this thread. True: the outcome (as `wait` gives it) is appended
    /// to `got` and is the caller's to deliver; None: it will come from `wait` (the task
    /// is not at a worker, or another thread reads that worker); False: not yet.
    fn collect(
        &self,
        py: Python<'_>,
        id: u64,
        timeout: f64,
        got: &Bound<'_, PyList>,
    ) -> PyResult<Option<bool>> {
        let timeout = Duration::from_secs_f64(timeout.max(0.0));
        match py.detach(|| self.pool.collect(id, timeout)) {
            Collected::Outcome(o) => {
                let _inside = crate::fork_gate::enter();
                got.append(to_py(py, o)?)?;
                Ok(Some(true))
            }
            Collected::Elsewhere => Ok(None),
            Collected::NotYet => Ok(Some(false)),
        }
    }

    /// Makes a blocked `wait` return.
    fn wake(&self) {
        self.submitter.wake();
    }

    /// Runs the event loop (GIL released) until outcomes arrive, `timeout` passes or
    /// `wake` is called. Each outcome is `(id, True, main, extra)` (see `from_message`) or
    /// `(id, False, kind, message)` with kind one of `died`, `timeout`, `cancelled`,
    /// `shutdown`, `cannot_start`, or `transport` with `(stage, reason)` for message.
    #[pyo3(signature = (timeout=None))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let outcomes = py.detach(|| {
            let r = self.pool.wait(timeout.map(Duration::from_secs_f64));
            *self.pids.lock().unwrap() = self.pool.lock().worker_pids();
            r
        });
        let outcomes = outcomes.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        outcomes.into_iter().map(|o| to_py(py, o)).collect()
    }

    /// Stops the pool (see `brinery_pool::Pool::shutdown`) and returns the last outcomes.
    fn shutdown<'py>(
        &self,
        py: Python<'py>,
        immediate: bool,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let outcomes = py.detach(|| {
            let r = self.pool.shutdown(immediate);
            *self.pids.lock().unwrap() = self.pool.lock().worker_pids();
            r
        });
        let outcomes = outcomes.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        outcomes.into_iter().map(|o| to_py(py, o)).collect()
    }

    /// Shared-memory segments: `(lent to workers, cached for reuse, reuses so far)`.
    fn segment_stats(&self) -> (usize, usize, u64) {
        let s = self.submitter.segment_stats();
        (s.lent, s.cached, s.reused)
    }

    /// Pids of the live workers (as of the last turn of the event loop while the loop
    /// holds the pool).
    fn worker_pids(&self) -> Vec<i32> {
        let mut pids = self.pids.lock().unwrap();
        if let Some(pool) = self.pool.try_lock() {
            *pids = pool.worker_pids();
        }
        pids.clone()
    }
}

fn to_py(py: Python<'_>, o: Outcome) -> PyResult<Bound<'_, PyTuple>> {
    let id = o.id.into_py_any(py)?;
    match o.result {
        Ok(msg) => {
            let (main, extra) = from_message(py, msg)?;
            PyTuple::new(
                py,
                [id, true.into_py_any(py)?, main.unbind(), extra.unbind()],
            )
        }
        Err(e) => {
            let (kind, message) = match &e {
                TaskError::Transport { stage, reason } => {
                    ("transport", (*stage, reason.as_str()).into_py_any(py)?)
                }
                TaskError::WorkerDied { .. } => ("died", e.to_string().into_py_any(py)?),
                TaskError::Timeout { .. } => ("timeout", e.to_string().into_py_any(py)?),
                TaskError::Cancelled => ("cancelled", e.to_string().into_py_any(py)?),
                TaskError::Shutdown => ("shutdown", e.to_string().into_py_any(py)?),
                TaskError::WorkersCannotStart(_) => {
                    ("cannot_start", e.to_string().into_py_any(py)?)
                }
            };
            PyTuple::new(
                py,
                [id, false.into_py_any(py)?, kind.into_py_any(py)?, message],
            )
        }
    }
}
