//! `WorkerEndpoint`: the worker process's end of its channel, for `brinery/_worker.py`.
//! Receiving blocks with the GIL released; the stage page is written with plain stores so
//! the Python loop can mark every stage of a task at no syscall cost.

use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use brinery_pool::{launch, Chunk, Endpoint, SegmentCache, WorkerFds};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::buffer::{dup, from_message, to_message};

/// A received task: id, main stream, and `None` or `(other buffers, descriptors)` (the
/// descriptors now the caller's).
type Received<'py> = (u64, Bound<'py, PyAny>, Bound<'py, PyAny>);

#[pyclass(module = "brinery._brinery", frozen)]
pub struct WorkerEndpoint {
    ep: Mutex<Endpoint>,
    threshold: usize,
    segments: Arc<SegmentCache>,
}

#[pymethods]
impl WorkerEndpoint {
    /// Serves on `sock` and `stage` (a forked worker); takes ownership of both fds.
    #[new]
    fn new(sock: RawFd, stage: RawFd) -> PyResult<WorkerEndpoint> {
        // SAFETY: the caller hands these descriptors over to us.
        let fds = unsafe {
            WorkerFds {
                socket: OwnedFd::from_raw_fd(sock),
                stage: OwnedFd::from_raw_fd(stage),
            }
        };
        Self::wrap(Endpoint::new(fds)?)
    }

    /// Serves on the descriptors the spawning parent named in the environment.
    #[staticmethod]
    fn from_env() -> PyResult<WorkerEndpoint> {
        Self::wrap(Endpoint::from_env()?)
    }

    /// Asks for SIGKILL when the parent dies; exits at once if `parent` is already gone.
    #[staticmethod]
    fn die_with_parent(parent: i32) -> PyResult<()> {
        Ok(launch::die_with_parent(parent)?)
    }

    /// The next task as `(id, main, extra)`, or None when the pool says stop; the stage
    /// page then says `stage` for it. With `setup=True` the task's clock (for the pool's
    /// `task_timeout`) waits for `start_clock()`: the worker sets up first.
    #[pyo3(signature = (stage, setup=false))]
    fn recv<'py>(
        &self,
        py: Python<'py>,
        stage: u32,
        setup: bool,
    ) -> PyResult<Option<Received<'py>>> {
        let got = py.detach(|| {
            let mut ep = self.ep.lock().unwrap();
            let got = if setup {
                ep.recv_before_setup()
            } else {
                ep.recv()
            };
            if let Ok(Some(_)) = got {
                ep.set_stage(stage);
            }
            got
        })?;
        match got {
            None => Ok(None),
            Some((id, msg)) => {
                let (main, extra) = from_message(py, msg)?;
                Ok(Some((id, main, extra)))
            }
        }
    }

    /// Definition `id` as bytes, if the parent sent it.
    fn definition<'py>(&self, py: Python<'py>, id: u64) -> Option<Bound<'py, PyBytes>> {
        let ep = self.ep.lock().unwrap();
        ep.definition(id).map(|m| PyBytes::new(py, &m.buffers[0]))
    }

    /// Copies of the descriptors definition `id` came with, now the caller's.
    fn definition_fds(&self, id: u64) -> PyResult<Vec<RawFd>> {
        let ep = self.ep.lock().unwrap();
        let Some(m) = ep.definition(id) else {
            return Ok(Vec::new());
        };
        m.fds
            .iter()
            .map(|f| Ok(f.as_fd().try_clone_to_owned()?.into_raw_fd()))
            .collect()
    }

    /// The current task starts now, its set-up over (see `recv`).
    fn start_clock(&self) {
        self.ep.lock().unwrap().start_clock();
    }

    /// Records the current task's stage (read by the parent only if this process dies).
    fn set_stage(&self, stage: u32) {
        self.ep.lock().unwrap().set_stage(stage);
    }

    /// Sends the result of task `id` (main stream, other buffers, fds), with the stage
    /// page saying `stage` meanwhile.
    #[pyo3(signature = (id, stage, main, buffers=Vec::new(), fds=Vec::new()))]
    fn reply(
        &self,
        py: Python<'_>,
        id: u64,
        stage: u32,
        main: Bound<'_, PyAny>,
        buffers: Vec<Bound<'_, PyAny>>,
        fds: Vec<RawFd>,
    ) -> PyResult<()> {
        let sent = match main.cast::<PyBytes>() {
            // The common case, sent straight from the bytes object.
            Ok(b)
                if buffers.is_empty() && fds.is_empty() && b.as_bytes().len() < self.threshold =>
            {
                let mut ep = self.ep.lock().unwrap();
                ep.set_stage(stage);
                ep.reply(id, &[Chunk::Bytes(b.as_bytes())], &[])
            }
            _ => {
                let mut all = Vec::with_capacity(1 + buffers.len());
                all.push(main);
                all.extend(buffers);
                let msg = to_message(py, &all, self.threshold, &self.segments)?;
                let owned = fds
                    .iter()
                    .map(|&fd| dup(fd))
                    .collect::<PyResult<Vec<_>>>()?;
                let borrowed: Vec<_> = owned.iter().map(std::os::fd::AsFd::as_fd).collect();
                let mut ep = self.ep.lock().unwrap();
                ep.set_stage(stage);
                ep.reply_message(id, &msg, &borrowed)
            }
        };
        sent.map_err(|e| PyOSError::new_err(e.to_string()))
    }
}

impl WorkerEndpoint {
    fn wrap(ep: Endpoint) -> PyResult<WorkerEndpoint> {
        Ok(WorkerEndpoint {
            threshold: ep.shm_threshold,
            segments: ep.segments().clone(),
            ep: Mutex::new(ep),
        })
    }
}
