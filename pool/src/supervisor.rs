//! The pool: a queue of tasks, a fixed number of worker slots, and one event loop that
//! feeds workers and watches them. The loop runs on the caller's thread inside
//! [`Pool::wait`] and sleeps only in `poll(2)` over the workers' sockets, their pidfds
//! and a wake-up eventfd, so a finished result, a dead worker or a submission from
//! another thread is seen at once. A dead worker fails only the task its stage page names
//! (other tasks queued at it go back to the queue), and a replacement starts.
//!
//! Nothing one task brings can stop the loop: an error queueing, sending or receiving a
//! task's message fails that task alone ([`TaskError::Transport`]); when it leaves the
//! worker's stream in doubt, the worker is killed and replaced (`Pool::sever`), as if
//! it had died. `task_timeout` counts from the start the worker records on its stage page
//! (see [`crate::stage`]), not from when the task was queued at it.
//!
//! Large task buffers go out in lent shared-memory segments (see [`crate::segment`]):
//! each worker's record of the segments it holds turns them back into cache entries when
//! it gives them back, and frees them when it dies.
//!
//! Definitions are blobs a task may need (a binding's by-value functions): the pool sends
//! each one to a worker once, just before the first task that needs it, and again to a
//! replacement worker, so tasks themselves can refer to them by id.
//!
//! The loop's parts: `inbox` (the [`Submitter`] and its commands), `event_loop`
//! ([`Pool::wait`]), `dispatch` (tasks to workers, starting workers), `shutdown`, and
//! `shared` ([`SharedPool`]: one pool used from several threads, whose loop sleeps
//! without holding it, so a submitting thread can hand a task to an idle worker and a
//! waiting thread can read its result itself).

mod dispatch;
mod event_loop;
mod inbox;
mod shared;
mod shutdown;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Death, PoolError, TaskError};
use crate::frame::{self, socketpair, Buffer, Chunk, FrameReader, Message, Outgoing};
use crate::launch::{Launcher, WorkerFds};
use crate::process::{kill, pidfd_open, reap};
use crate::segment::{self, Segment, SegmentCache};
use crate::shm::DEFAULT_THRESHOLD;
use crate::stage::{monotonic_ns, Clock, StagePage, IDLE};

pub use inbox::Submitter;
use inbox::{Command, Inbox};
pub use shared::{Collected, SharedPool};

/// Identifies a submitted task; unique within a pool.
pub type TaskId = u64;

/// Workers that die this many times in a row before serving anything make the pool fail
/// its queued tasks instead of restarting them forever.
const EARLY_DEATHS_LIMIT: u32 = 3;

/// The most tasks queued at one worker, however short they are.
pub const MAX_QUEUED: usize = 1024;

/// No more tasks go to a worker while this many bytes wait to be sent to it.
const BACKLOG: usize = 256 * 1024;

/// Descriptors the tasks queued at workers may pass, all workers together (each worker's
/// share, at least [`MIN_FDS_PER_WORKER`]), beyond each worker's first task: a worker
/// holds those it has read, and the kernel counts those not read yet against the
/// sender's `RLIMIT_NOFILE`.
const FDS_QUEUED: usize = 256;
const MIN_FDS_PER_WORKER: usize = 16;

/// The stages of a [`TaskError::Transport`].
const SENDING: &str = "sending the task";
const RECEIVING: &str = "receiving the result";

/// How long a graceful shutdown waits for a worker to exit before killing it.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Pool settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub workers: usize,
    /// Retire a worker (and start a fresh one) after it has completed this many tasks.
    pub max_tasks_per_child: Option<u64>,
    /// Kill a worker whose current task has run longer than this.
    pub task_timeout: Option<Duration>,
    /// Tasks queued at a worker beyond the one it runs, to hide the round trip.
    pub prefetch: usize,
    /// More may be queued at a worker whose tasks are short: up to about this much
    /// work (by its recent task durations), so it keeps busy while the parent is slow
    /// to come back (a thread waiting for Python's GIL), capped at [`MAX_QUEUED`].
    pub queue_budget: Duration,
    /// Buffers of this many bytes or more travel through shared memory.
    pub shm_threshold: usize,
    /// Bytes of shared-memory segments kept for reuse once workers give them back (the
    /// latest one is kept whatever its size).
    pub segment_cache: usize,
    /// Names of the stages workers report, indexed by stage number, for error messages.
    pub stage_names: Vec<String>,
    /// Start only the first worker at once, and the others when a task is waiting for a
    /// worker, or this long after the pool started, whichever comes first: the first
    /// result then does not wait for (nor share the CPUs with) workers it does not need.
    /// `None`: all at once.
    pub ramp_up: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: 1,
            max_tasks_per_child: None,
            task_timeout: None,
            prefetch: 1,
            queue_budget: Duration::from_millis(5),
            shm_threshold: DEFAULT_THRESHOLD,
            segment_cache: 256 << 20,
            stage_names: ["idle", "receiving the task", "running the task"]
                .map(String::from)
                .to_vec(),
            ramp_up: None,
        }
    }
}

/// The end of one task.
#[derive(Debug)]
pub struct Outcome {
    pub id: TaskId,
    pub result: Result<Message, TaskError>,
}

struct Task {
    id: TaskId,
    msg: Message,
    needs: Vec<u64>,
}

struct InFlight {
    task: Task,
    /// When the parent saw it start (once the tasks ahead of it were done): for the
    /// queue budget's typical durations only; timeouts use the stage page's clock.
    started: Option<Instant>,
}

struct Worker {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    /// Shared with a thread that waits on it for a result ([`SharedPool::collect`]), so
    /// it stays open while that thread polls it.
    sock: Arc<OwnedFd>,
    sock_open: bool,
    /// A thread polls this socket for a result and reads it: the loop neither polls nor
    /// reads it meanwhile.
    claimed: bool,
    /// The loop's current poll leaves this socket out.
    unpolled: bool,
    /// The one task here went to it straight from [`SharedPool::submit`] for a thread
    /// that will collect it: the loop leaves the socket alone until that task is done or
    /// [`SharedPool::release`]d.
    reserved: Option<TaskId>,
    reader: FrameReader,
    stage: StagePage,
    inflight: VecDeque<InFlight>,
    /// Descriptors the tasks in `inflight` pass.
    fds_queued: usize,
    completed: u64,
    retiring: bool,
    /// The task this worker was killed for, and the error that task gets.
    blame: Option<(TaskId, TaskError)>,
    defined: HashSet<u64>,
    /// Recent task duration (moving average), for the queue budget.
    typical: Option<Duration>,
    /// Segments sent to this worker and not given back yet, by token.
    lent: HashMap<u64, Arc<Segment>>,
    /// Frames for this worker not sent yet (its socket was full).
    out: Outgoing,
}

impl Worker {
    /// Whether the only task here is reserved for a collecting thread.
    fn reserved_alone(&self) -> bool {
        self.reserved.is_some() && self.inflight.len() == 1
    }
}

/// Shared-memory segments: lent to workers, cached for reuse, and reuses so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStats {
    pub lent: usize,
    pub cached: usize,
    pub reused: u64,
}

/// A process pool. See the module docs.
pub struct Pool {
    cfg: Config,
    launcher: Box<dyn Launcher>,
    slots: Vec<Option<Worker>>,
    pending: VecDeque<Task>,
    inbox: Arc<Inbox>,
    done: Vec<Outcome>,
    early_deaths: u32,
    closing: bool,
    /// Until when workers beyond the first start only for a waiting task ([`Config::ramp_up`]).
    ramp_until: Option<Instant>,
    /// A worker that no task was waiting for failed to start: empty slots now start only
    /// for a waiting task.
    spare_failed: bool,
    definitions: HashMap<u64, Message>,
    /// Cancellations that want an answer, held until queued tasks have gone to idle
    /// workers (a task an idle worker can take at once counts as started, as in
    /// `concurrent.futures`).
    cancel_requests: Vec<(Vec<TaskId>, mpsc::SyncSender<Vec<TaskId>>)>,
}

impl Pool {
    /// Starts `cfg.workers` workers with `launcher`.
    pub fn new(cfg: Config, launcher: impl Launcher + 'static) -> Result<Pool, PoolError> {
        // SAFETY: plain syscall; a non-negative result is a new fd we own.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if wake < 0 {
            return Err(PoolError::io("eventfd")(io::Error::last_os_error()));
        }
        let segments = SegmentCache::new(cfg.segment_cache);
        let mut pool = Pool {
            slots: (0..cfg.workers.max(1)).map(|_| None).collect(),
            cfg,
            launcher: Box::new(launcher),
            pending: VecDeque::new(),
            inbox: Arc::new(Inbox {
                commands: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                // SAFETY: the kernel just gave us this descriptor.
                wake: unsafe { OwnedFd::from_raw_fd(wake) },
                interrupt: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                segments,
            }),
            done: Vec::new(),
            early_deaths: 0,
            closing: false,
            definitions: HashMap::new(),
            cancel_requests: Vec::new(),
            ramp_until: None,
            spare_failed: false,
        };
        let now = if let Some(ramp) = pool.cfg.ramp_up {
            pool.ramp_until = Some(Instant::now() + ramp);
            1
        } else {
            pool.slots.len()
        };
        for i in 0..now {
            pool.start_worker(i)?;
        }
        Ok(pool)
    }

    pub fn submitter(&self) -> Submitter {
        Submitter(self.inbox.clone())
    }

    /// Queues a task (from the thread that owns the pool; no lock taken).
    pub fn submit(&mut self, msg: Message) -> TaskId {
        self.submit_needing(msg, Vec::new())
    }

    /// Queues a task that needs the given definitions.
    pub fn submit_needing(&mut self, msg: Message, needs: Vec<u64>) -> TaskId {
        let id = self.inbox.next_id.fetch_add(1, Ordering::Relaxed);
        self.pending.push_back(Task { id, msg, needs });
        id
    }

    /// Registers definition `id` (from the owning thread).
    pub fn define(&mut self, id: u64, bytes: Vec<u8>) {
        self.definitions
            .insert(id, Message::new(vec![bytes], Vec::new()));
    }

    /// Cancels `id` if it is still queued; returns whether it was.
    pub fn cancel(&mut self, id: TaskId) -> bool {
        match self.pending.iter().position(|t| t.id == id) {
            Some(i) => {
                self.pending.remove(i);
                self.done.push(Outcome {
                    id,
                    result: Err(TaskError::Cancelled),
                });
                true
            }
            None => false,
        }
    }

    /// Cancels those of `ids` still queued (submitted from any thread, no worker has
    /// them yet); returns them. Their outcomes are [`TaskError::Cancelled`].
    pub fn cancel_queued(&mut self, ids: &[TaskId]) -> Vec<TaskId> {
        self.take_inbox();
        self.answer_cancel_requests();
        self.cancel_queued_now(ids)
    }

    fn answer_cancel_requests(&mut self) {
        for (ids, answer) in std::mem::take(&mut self.cancel_requests) {
            let _ = answer.send(self.cancel_queued_now(&ids));
        }
    }

    fn cancel_queued_now(&mut self, ids: &[TaskId]) -> Vec<TaskId> {
        let wanted: HashSet<TaskId> = ids.iter().copied().collect();
        let mut cancelled = Vec::new();
        self.pending.retain(|t| {
            let hit = wanted.contains(&t.id);
            if hit {
                cancelled.push(t.id);
            }
            !hit
        });
        self.done.extend(cancelled.iter().map(|&id| Outcome {
            id,
            result: Err(TaskError::Cancelled),
        }));
        cancelled
    }

    /// Cancels every queued task; returns how many.
    pub fn cancel_pending(&mut self) -> usize {
        let n = self.pending.len();
        for t in self.pending.drain(..) {
            self.done.push(Outcome {
                id: t.id,
                result: Err(TaskError::Cancelled),
            });
        }
        n
    }

    /// Tasks not finished yet: queued, at a worker, or waiting in the inbox.
    pub fn unfinished(&self) -> usize {
        let inbox = self
            .inbox
            .commands
            .lock()
            .unwrap()
            .iter()
            .filter(|c| matches!(c, Command::Submit(_)))
            .count();
        self.pending.len() + self.in_flight() + inbox + self.done.len()
    }

    fn in_flight(&self) -> usize {
        self.live().map(|w| w.inflight.len()).sum()
    }

    /// Pids of the live workers.
    pub fn worker_pids(&self) -> Vec<libc::pid_t> {
        self.live().map(|w| w.pid).collect()
    }

    /// Where the pool's shared-memory segments are.
    pub fn segment_stats(&self) -> SegmentStats {
        stats(&self.inbox.segments)
    }

    fn live(&self) -> impl Iterator<Item = &Worker> {
        self.slots.iter().flatten()
    }
}

fn stats(cache: &SegmentCache) -> SegmentStats {
    let (lent, cached, reused) = cache.stats();
    SegmentStats {
        lent,
        cached,
        reused,
    }
}

/// Sends what the worker's socket takes now. A worker that is gone (its pidfd will tell
/// the rest, and the tasks it never read go back to the queue) is not an error.
fn flush(w: &mut Worker) -> io::Result<()> {
    match w.out.flush(w.sock.as_fd(), true) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET)) => {
            w.sock_open = false;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Moves a task's large inline buffers into lent segments (once: a requeued task keeps
/// its segments).
fn lend_large(msg: &mut Message, cache: &SegmentCache, threshold: usize) -> io::Result<()> {
    for b in msg.buffers.iter_mut() {
        if let Buffer::Inline(v) = b {
            if v.len() >= threshold {
                *b = Buffer::Segment(Arc::new(cache.fill(v)?));
            }
        }
    }
    Ok(())
}

/// Frees the segments a gone worker held (its mappings died with it); those still part
/// of a task that goes back to the queue stay with the task.
fn free_lent(lent: &mut HashMap<u64, Arc<Segment>>, cache: &SegmentCache) {
    cache.lent_fewer(lent.len());
    let unused = lent
        .drain()
        .filter_map(|(_, seg)| Arc::try_unwrap(seg).ok());
    segment::free(unused.collect());
}

fn pollfd(fd: BorrowedFd<'_>) -> libc::pollfd {
    libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }
}
