//! The pool: a queue of tasks, a fixed number of worker slots, and one event loop that
//! feeds workers and watches them. The loop runs on the caller's thread inside
//! [`Pool::wait`] and sleeps only in `poll(2)` over the workers' sockets, their pidfds
//! and a wake-up eventfd, so a finished result, a dead worker or a submission from
//! another thread is seen at once. A dead worker fails only the task its stage page names
//! (other tasks queued at it go back to the queue), and a replacement starts.
//!
//! Nothing one task brings can stop the loop: an error queueing, sending or receiving a
//! task's message fails that task alone ([`TaskError::Transport`]); when it leaves the
//! worker's stream in doubt, the worker is killed and replaced ([`Pool::sever`]), as if
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

/// Identifies a submitted task; unique within a pool.
pub type TaskId = u64;

/// Workers that die this many times in a row before serving anything make the pool fail
/// its queued tasks instead of restarting them forever.
const EARLY_DEATHS_LIMIT: u32 = 3;

/// The most tasks queued at one worker, however short they are.
pub const MAX_QUEUED: usize = 1024;

/// No more tasks go to a worker while this many bytes wait to be sent to it.
const BACKLOG: usize = 256 * 1024;

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

enum Command {
    Submit(Task),
    Cancel(TaskId),
    /// Cancel those still queued and answer with their ids.
    CancelAndReport(Vec<TaskId>, mpsc::SyncSender<Vec<TaskId>>),
    Define(u64, Message),
}

/// The thread-safe side door into a pool: submissions and cancellations from other
/// threads, picked up by whichever thread runs [`Pool::wait`].
struct Inbox {
    commands: Mutex<Vec<Command>>,
    /// Set (under the `commands` lock) once the pool has shut down: commands are then
    /// dropped, so whoever waits for an answer hears the disconnect instead of hanging.
    closed: AtomicBool,
    wake: OwnedFd,
    /// Set by [`Submitter::wake`]: the running `wait` must return (not just look at the
    /// inbox). Checked after every look at the inbox, so a wake is never lost.
    interrupt: AtomicBool,
    next_id: AtomicU64,
    segments: Arc<SegmentCache>,
}

/// A cloneable, `Send` handle that submits to a pool from any thread.
#[derive(Clone)]
pub struct Submitter(Arc<Inbox>);

impl Submitter {
    pub fn submit(&self, msg: Message) -> TaskId {
        self.submit_needing(msg, Vec::new())
    }

    /// Submits a task that needs the given definitions (see [`Submitter::define`]).
    pub fn submit_needing(&self, msg: Message, needs: Vec<u64>) -> TaskId {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        self.push(Command::Submit(Task { id, msg, needs }));
        id
    }

    /// Submits tasks that all need the same definitions; their ids are consecutive,
    /// starting with the one returned.
    pub fn submit_all(&self, msgs: Vec<Message>, needs: &[u64]) -> TaskId {
        let first = self
            .0
            .next_id
            .fetch_add(msgs.len() as u64, Ordering::Relaxed);
        self.push_all(msgs.into_iter().zip(first..).map(|(msg, id)| {
            Command::Submit(Task {
                id,
                msg,
                needs: needs.to_vec(),
            })
        }));
        first
    }

    /// Registers definition `id`; workers receive it before their first task needing it.
    pub fn define(&self, id: u64, bytes: Vec<u8>) {
        self.define_message(id, Message::new(vec![bytes], Vec::new()));
    }

    /// Registers definition `id` as a message that may carry descriptors: each worker
    /// gets its own copies of them with the definition (they stay open here as long as
    /// the pool, for workers that start later).
    pub fn define_message(&self, id: u64, msg: Message) {
        self.push(Command::Define(id, msg));
    }

    /// Cancels `id` if no worker has it yet; its outcome is then [`TaskError::Cancelled`].
    pub fn cancel(&self, id: TaskId) {
        self.push(Command::Cancel(id));
    }

    /// Like [`Submitter::cancel`] for each of `ids`, but the event loop answers with the
    /// ids it did cancel (those no worker had yet) through the returned receiver, once
    /// it looks at its inbox; a pool that has shut down answers with a disconnect.
    pub fn request_cancel(&self, ids: Vec<TaskId>) -> mpsc::Receiver<Vec<TaskId>> {
        let (answer, receiver) = mpsc::sync_channel(1);
        self.push(Command::CancelAndReport(ids, answer));
        receiver
    }

    /// The pool's shared-memory segments, to put large task buffers in
    /// ([`SegmentCache::lend_copy`]).
    pub fn segments(&self) -> &SegmentCache {
        &self.0.segments
    }

    /// Where the pool's shared-memory segments are (as of the event loop's last turn).
    pub fn segment_stats(&self) -> SegmentStats {
        stats(&self.0.segments)
    }

    /// Makes a blocked [`Pool::wait`] return (or the next one return at once).
    pub fn wake(&self) {
        self.0.interrupt.store(true, Ordering::Release);
        self.nudge();
    }

    fn nudge(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a live buffer to our eventfd.
        unsafe { libc::write(self.0.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    }

    fn push(&self, c: Command) {
        self.push_all(std::iter::once(c));
    }

    /// Queues commands, waking the loop only if the inbox was empty: otherwise whoever
    /// filled it has woken the loop already, and it has not taken the inbox since (taking
    /// it empties it, under the same lock).
    fn push_all(&self, commands: impl IntoIterator<Item = Command>) {
        let was_empty = {
            let mut inbox = self.0.commands.lock().unwrap();
            if self.0.closed.load(Ordering::Relaxed) {
                return;
            }
            let was_empty = inbox.is_empty();
            inbox.extend(commands);
            was_empty
        };
        if was_empty {
            self.nudge();
        }
    }
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
    sock: OwnedFd,
    sock_open: bool,
    reader: FrameReader,
    stage: StagePage,
    inflight: VecDeque<InFlight>,
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
        };
        for i in 0..pool.slots.len() {
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

    /// Runs the event loop until at least one task has an outcome, `timeout` passes, or a
    /// [`Submitter::wake`]; returns the outcomes gathered (possibly none).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<Outcome>, PoolError> {
        let until = timeout.map(|t| Instant::now() + t);
        let mut pollfds: Vec<libc::pollfd> = Vec::new();
        loop {
            self.take_inbox();
            self.dispatch()?;
            self.answer_cancel_requests();
            let interrupted = self.inbox.interrupt.swap(false, Ordering::AcqRel);
            if !self.done.is_empty() || interrupted {
                return Ok(std::mem::take(&mut self.done));
            }
            let now = Instant::now();
            let mut next = until;
            if let Some(d) = self.next_timeout(now) {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
            let ms = match next {
                None => -1,
                Some(d) => d.saturating_duration_since(now).as_micros().div_ceil(1000) as i32,
            };
            pollfds.clear();
            pollfds.push(pollfd(self.inbox.wake.as_fd()));
            for w in self.slots.iter().flatten() {
                pollfds.push(pollfd(w.pidfd.as_fd()));
                if w.sock_open {
                    let mut p = pollfd(w.sock.as_fd());
                    if w.out.waiting() > 0 {
                        p.events |= libc::POLLOUT;
                    }
                    pollfds.push(p);
                }
            }
            // SAFETY: pollfds is a live array of pollfd structs of the given length.
            let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as _, ms) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(PoolError::io("poll")(err));
                }
            }
            if n > 0 {
                self.handle_ready(&pollfds)?;
            }
            self.enforce_timeouts();
            if n > 0 && pollfds[0].revents != 0 {
                // Reset before the next look at the inbox (at the top of the loop), so a
                // command pushed after that look wakes the next poll.
                let mut counter = [0u8; 8];
                // SAFETY: reading 8 bytes into a live buffer from our non-blocking eventfd.
                unsafe { libc::read(self.inbox.wake.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                self.take_inbox();
                return Ok(std::mem::take(&mut self.done));
            }
        }
    }

    fn take_inbox(&mut self) {
        let commands = std::mem::take(&mut *self.inbox.commands.lock().unwrap());
        for c in commands {
            match c {
                Command::Submit(t) => self.pending.push_back(t),
                Command::Cancel(id) => {
                    self.cancel(id);
                }
                Command::CancelAndReport(ids, answer) => {
                    self.cancel_requests.push((ids, answer));
                }
                Command::Define(id, msg) => {
                    self.definitions.insert(id, msg);
                }
            }
        }
    }

    fn handle_ready(&mut self, pollfds: &[libc::pollfd]) -> Result<(), PoolError> {
        let ready: Vec<(RawFd, i16)> = pollfds[1..]
            .iter()
            .filter(|p| p.revents != 0)
            .map(|p| (p.fd, p.revents))
            .collect();
        let events = |fd: RawFd| ready.iter().find(|r| r.0 == fd).map_or(0, |r| r.1);
        for i in 0..self.slots.len() {
            let Some(w) = self.slots[i].as_mut() else {
                continue;
            };
            let (sock, pidfd) = (events(w.sock.as_raw_fd()), events(w.pidfd.as_raw_fd()));
            if w.sock_open && sock & libc::POLLOUT != 0 {
                if let Err(e) = flush(w) {
                    self.sever_sending(i, e);
                }
            }
            if self.slots[i].as_ref().is_some_and(|w| w.sock_open) && sock & !libc::POLLOUT != 0 {
                self.read_results(i);
            }
            if pidfd != 0 {
                self.bury(i)?;
            }
        }
        Ok(())
    }

    /// Reads whatever worker `i` has sent without blocking. A read that fails or a
    /// malformed frame severs the worker (see [`Pool::sever`]).
    fn read_results(&mut self, i: usize) {
        let w = self.slots[i].as_mut().expect("live worker");
        // One read per readiness: poll is level-triggered, so anything left wakes us again.
        match w.reader.fill(w.sock.as_fd(), true) {
            Ok(0) => w.sock_open = false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => w.sock_open = false,
            Err(e) => return self.sever(i, None, RECEIVING, e.to_string()),
        }
        loop {
            let f = match w.reader.parse() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return self.sever(i, None, RECEIVING, format!("malformed frame: {e}")),
            };
            if f.kind == frame::RELEASE {
                for token in frame::released_tokens(&f.msg) {
                    self.inbox.segments.give_back_lent(&mut w.lent, token);
                }
                continue;
            }
            if f.kind != frame::RESULT {
                continue;
            }
            let Some(pos) = w.inflight.iter().position(|t| t.task.id == f.id) else {
                continue;
            };
            if let Some(started) = w.inflight.remove(pos).and_then(|t| t.started) {
                let took = started.elapsed();
                w.typical = Some(match w.typical {
                    None => took,
                    Some(avg) => (avg * 7 + took) / 8,
                });
            }
            w.completed += 1;
            self.early_deaths = 0;
            if let Some(next) = w.inflight.front_mut() {
                next.started.get_or_insert_with(Instant::now);
            }
            self.done.push(Outcome {
                id: f.id,
                result: Ok(f.msg),
            });
        }
        if let Some(max) = self.cfg.max_tasks_per_child {
            if w.completed >= max && w.inflight.is_empty() && !w.retiring && w.sock_open {
                w.retiring = true;
                let _ = w.out.send_shutdown(w.sock.as_fd(), true);
            }
        }
    }

    /// Worker `i`'s stream can no longer be trusted: kill the worker (it is buried, and
    /// replaced, like any dead worker). Task `id` (by default the one it runs) fails with
    /// a [`TaskError::Transport`] saying `stage` and `reason`; the others go back to the
    /// queue.
    fn sever(&mut self, i: usize, id: Option<TaskId>, stage: &'static str, reason: String) {
        let Some(w) = self.slots[i].as_mut() else {
            return;
        };
        w.sock_open = false;
        w.retiring = true;
        if w.blame.is_none() {
            let id = id
                .filter(|id| w.inflight.iter().any(|t| t.task.id == *id))
                .or_else(|| w.inflight.front().map(|t| t.task.id));
            if let Some(id) = id {
                w.blame = Some((id, TaskError::Transport { stage, reason }));
            }
        }
        kill(w.pid, libc::SIGKILL);
    }

    /// Sending to worker `i` failed: sever it, blaming the task whose frame was going out.
    fn sever_sending(&mut self, i: usize, e: io::Error) {
        let failed = self.slots[i].as_mut().and_then(|w| w.out.take_failed());
        self.sever(i, failed, SENDING, e.to_string());
    }

    /// Worker `i` has exited: collect its last results, reap it, fail the task it was
    /// running, requeue the rest.
    fn bury(&mut self, i: usize) -> Result<(), PoolError> {
        if self.slots[i].as_ref().is_some_and(|w| w.sock_open) {
            self.read_results(i);
        }
        let mut w = self.slots[i].take().expect("live worker");
        let death = reap(w.pid).map_err(PoolError::io("waitpid"))?;
        free_lent(&mut w.lent, &self.inbox.segments);
        let (task, stage) = w.stage.get();
        // A task the worker was still setting up for has not started: not its fault.
        let started = w.stage.clock(task) != Clock::Setup;
        let mut blamed = false;
        let mut requeue = Vec::new();
        for t in w.inflight {
            let result = if let Some((_, e)) = w.blame.as_ref().filter(|b| b.0 == t.task.id) {
                Err(e.clone())
            } else if w.blame.is_none() && t.task.id == task && stage != IDLE && started {
                Err(TaskError::WorkerDied {
                    pid: w.pid,
                    death,
                    stage: self.stage_name(stage),
                })
            } else {
                requeue.push(t.task);
                continue;
            };
            blamed = true;
            self.done.push(Outcome {
                id: t.task.id,
                result,
            });
        }
        for t in requeue.into_iter().rev() {
            self.pending.push_front(t);
        }
        let expected = w.retiring && death == Death::Exited(0);
        if !blamed && !expected && w.completed == 0 {
            self.early_deaths += 1;
            if self.early_deaths >= EARLY_DEATHS_LIMIT {
                for t in self.pending.drain(..) {
                    self.done.push(Outcome {
                        id: t.id,
                        result: Err(TaskError::WorkersCannotStart(death)),
                    });
                }
            }
        }
        Ok(())
    }

    fn stage_name(&self, stage: u32) -> String {
        match self.cfg.stage_names.get(stage as usize) {
            Some(name) => name.clone(),
            None => format!("in stage {stage}"),
        }
    }

    /// Kills workers whose task has run past `task_timeout` (by the start their stage
    /// page records).
    fn enforce_timeouts(&mut self) {
        let Some(limit) = self.cfg.task_timeout else {
            return;
        };
        let now = monotonic_ns();
        let limit_ns = limit.as_nanos() as u64;
        for w in self.slots.iter_mut().flatten() {
            let Some(head) = w.inflight.front() else {
                continue;
            };
            if w.blame.is_some() {
                continue;
            }
            if let Clock::Since(t) = w.stage.clock(head.task.id) {
                if now >= t.saturating_add(limit_ns) {
                    let timeout = TaskError::Timeout {
                        pid: w.pid,
                        timeout: limit,
                    };
                    w.blame = Some((head.task.id, timeout));
                    w.retiring = true;
                    kill(w.pid, libc::SIGKILL);
                }
            }
        }
    }

    /// When the loop must next look at the running tasks' clocks: when the first one runs
    /// out, or (for a task its worker has not started yet) one `task_timeout` from now,
    /// which is never too late: a task found started then started less than that ago.
    fn next_timeout(&self, now: Instant) -> Option<Instant> {
        let limit = self.cfg.task_timeout?;
        let clock_now = monotonic_ns();
        self.live()
            .filter(|w| w.blame.is_none())
            .filter_map(|w| {
                let head = w.inflight.front()?;
                Some(match w.stage.clock(head.task.id) {
                    Clock::Since(t) => {
                        let left = (t + limit.as_nanos() as u64).saturating_sub(clock_now);
                        now + Duration::from_nanos(left)
                    }
                    Clock::Setup | Clock::Elsewhere => now + limit,
                })
            })
            .min()
    }

    /// Starts replacements and hands queued tasks to workers with room.
    fn dispatch(&mut self) -> Result<(), PoolError> {
        // First every idle worker gets one task, then each its prefetch: tasks that wait
        // on each other (a consumer and a producer of one queue) run side by side rather
        // than queued behind one another at the first worker.
        for spread in [true, false] {
            self.dispatch_round(spread)?;
        }
        Ok(())
    }

    fn dispatch_round(&mut self, spread: bool) -> Result<(), PoolError> {
        for i in 0..self.slots.len() {
            if spread && self.slots[i].is_none() && (!self.closing || !self.pending.is_empty()) {
                if self.early_deaths >= EARLY_DEATHS_LIMIT && self.pending.is_empty() {
                    continue;
                }
                self.start_worker(i)?;
            }
            let Some(w) = self.slots[i].as_mut() else {
                continue;
            };
            let by_budget = match w.typical {
                Some(t) if !t.is_zero() => (self.cfg.queue_budget.as_nanos() / t.as_nanos())
                    .min(MAX_QUEUED as u128) as usize,
                _ => 0,
            };
            let depth = if spread {
                1
            } else {
                1 + self.cfg.prefetch.max(by_budget)
            };
            let threshold = self.cfg.shm_threshold;
            // Segments of this worker's results that nothing here maps any more.
            let tokens = w.reader.returns.take();
            if !tokens.is_empty() && w.sock_open {
                // (A frame of one small inline buffer: nothing in it can fail.)
                let _ = w.out.push_release(&tokens);
            }
            // Tasks go out together, and none while the socket is backed up (others may
            // take them).
            while !w.retiring
                && w.sock_open
                && w.inflight.len() < depth
                && w.out.waiting() < BACKLOG
            {
                if let Some(max) = self.cfg.max_tasks_per_child {
                    if w.completed + w.inflight.len() as u64 >= max {
                        break;
                    }
                }
                let Some(mut task) = self.pending.pop_front() else {
                    break;
                };
                let mut queued = Ok(());
                for need in &task.needs {
                    if queued.is_err() || w.defined.contains(need) {
                        continue;
                    }
                    if let Some(def) = self.definitions.get(need) {
                        let buffers: Vec<Chunk<'_>> =
                            def.buffers.iter().map(|b| b.chunk()).collect();
                        let fds: Vec<BorrowedFd<'_>> = def.fds.iter().map(|f| f.as_fd()).collect();
                        queued = w.out.push(frame::DEFINE, *need, &buffers, &fds, usize::MAX);
                        if queued.is_ok() {
                            w.defined.insert(*need);
                        }
                    }
                }
                let queued = queued
                    .and_then(|()| lend_large(&mut task.msg, &self.inbox.segments, threshold))
                    .and_then(|()| {
                        let buffers: Vec<Chunk<'_>> =
                            task.msg.buffers.iter().map(|b| b.chunk()).collect();
                        let fds: Vec<BorrowedFd<'_>> =
                            task.msg.fds.iter().map(|f| f.as_fd()).collect();
                        w.out.push(frame::TASK, task.id, &buffers, &fds, threshold)
                    });
                match queued {
                    Ok(()) => {
                        self.inbox.segments.lend_out(&mut w.lent, &task.msg);
                        let started = w.inflight.is_empty().then(Instant::now);
                        w.inflight.push_back(InFlight { task, started });
                    }
                    // Nothing of this task was queued (push queues all or nothing): it
                    // fails alone, and the worker goes on with the next.
                    Err(e) => self.done.push(Outcome {
                        id: task.id,
                        result: Err(TaskError::Transport {
                            stage: SENDING,
                            reason: e.to_string(),
                        }),
                    }),
                }
            }
            if let Err(e) = flush(w) {
                self.sever_sending(i, e);
            }
        }
        Ok(())
    }

    fn start_worker(&mut self, i: usize) -> Result<(), PoolError> {
        let (parent, child) = socketpair().map_err(PoolError::io("socketpair"))?;
        let (stage, stage_fd) = StagePage::create().map_err(PoolError::io("memfd"))?;
        let mut parent_only: Vec<RawFd> = vec![parent.as_raw_fd(), self.inbox.wake.as_raw_fd()];
        for w in self.live() {
            parent_only.extend([w.sock.as_raw_fd(), w.pidfd.as_raw_fd()]);
            parent_only.extend(w.lent.values().map(|s| s.raw_fd()));
        }
        // Segments must not stay alive in a forked worker (their mappings are not inherited).
        parent_only.extend(self.inbox.segments.fds());
        let queued = self
            .pending
            .iter()
            .chain(self.live().flat_map(|w| w.inflight.iter().map(|t| &t.task)));
        for t in queued {
            parent_only.extend(t.msg.buffers.iter().filter_map(|b| match b {
                Buffer::Segment(s) => Some(s.raw_fd()),
                _ => None,
            }));
        }
        let fds = WorkerFds {
            socket: child,
            stage: stage_fd,
        };
        let pid = self
            .launcher
            .launch(&fds, &parent_only)
            .map_err(PoolError::Launch)?;
        drop(fds);
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                kill(pid, libc::SIGKILL);
                let _ = reap(pid);
                return Err(PoolError::io("pidfd_open")(e));
            }
        };
        self.slots[i] = Some(Worker {
            pid,
            pidfd,
            sock: parent,
            sock_open: true,
            reader: FrameReader::new(),
            stage,
            inflight: VecDeque::new(),
            completed: 0,
            retiring: false,
            blame: None,
            defined: HashSet::new(),
            typical: None,
            lent: HashMap::new(),
            out: Outgoing::default(),
        });
        Ok(())
    }

    /// Stops the pool. Graceful: finish every submitted task, then let the workers exit.
    /// Immediate: cancel queued tasks, kill the workers (their tasks fail with
    /// [`TaskError::Shutdown`]). Either way every worker is reaped. Returns the outcomes
    /// not yet collected.
    pub fn shutdown(&mut self, immediate: bool) -> Result<Vec<Outcome>, PoolError> {
        self.closing = true;
        self.take_inbox();
        self.answer_cancel_requests();
        let mut out = std::mem::take(&mut self.done);
        if immediate {
            self.cancel_pending();
            out.append(&mut self.done);
        } else {
            while self.unfinished() > 0 {
                out.extend(self.wait(None)?);
            }
        }
        for slot in self.slots.iter_mut() {
            let Some(mut w) = slot.take() else { continue };
            if immediate {
                kill(w.pid, libc::SIGKILL);
            } else {
                let _ = w.out.send_shutdown(w.sock.as_fd(), true);
                drop(w.sock);
                let mut p = pollfd(w.pidfd.as_fd());
                // SAFETY: one live pollfd.
                let n = unsafe { libc::poll(&mut p, 1, EXIT_GRACE.as_millis() as i32) };
                if n != 1 {
                    kill(w.pid, libc::SIGKILL);
                }
            }
            let _ = reap(w.pid);
            free_lent(&mut w.lent, &self.inbox.segments);
            for t in w.inflight {
                out.push(Outcome {
                    id: t.task.id,
                    result: Err(TaskError::Shutdown),
                });
            }
        }
        self.inbox.segments.close();
        self.close_inbox();
        Ok(out)
    }

    /// Refuses further commands and drops those waiting (their answers disconnect).
    fn close_inbox(&mut self) {
        let stale = {
            let mut commands = self.inbox.commands.lock().unwrap();
            self.inbox.closed.store(true, Ordering::Relaxed);
            std::mem::take(&mut *commands)
        };
        drop(stale);
        self.cancel_requests.clear();
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if self.slots.iter().any(Option::is_some) {
            let _ = self.shutdown(true);
        }
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
