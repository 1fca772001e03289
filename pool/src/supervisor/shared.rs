//! [`SharedPool`]: one pool used from several threads. One thread (the loop's) runs
//! [`SharedPool::wait`], which holds the pool's lock only between polls, so that a
//! submitting thread can hand a task straight to an idle worker and a thread waiting for
//! one result can read it from the worker's socket itself ([`SharedPool::collect`]).
//! A round trip then costs what a socket ping-pong costs, without waking the loop's
//! thread and handing the result back to the waiter.
//!
//! What stays the loop's alone: starting workers (`PR_SET_PDEATHSIG` follows the thread
//! that forked), burying them, closing their descriptors, enforcing timeouts. Every other
//! thread only sends, reads and takes outcomes under the lock, then wakes the loop when it
//! leaves work for it (queued tasks, outcomes for others, a socket the loop must watch
//! again). A task [`SharedPool::submit`] sends straight to an idle worker may be
//! reserved for the thread that will collect it, and then costs the loop nothing at all;
//! whoever stops meaning to collect it hands it back ([`SharedPool::release`]). Not for
//! the loop's turn itself (`event_loop`).

use std::sync::{MutexGuard, TryLockError};

use super::event_loop::{poll, Turn};
use super::*;
use crate::frame::SPIN;

/// A thread waiting for a task that typically takes less than this (the worker's running
/// average) first polls without sleeping, for up to [`SPIN`]: on a VM, a reply that must
/// wake a thread whose virtual CPU has gone idle waits tens of µs for that CPU.
const SPIN_BELOW: Duration = Duration::from_micros(250);

/// A [`Pool`] shared among threads; see the module docs.
pub struct SharedPool {
    pool: Mutex<Pool>,
    inbox: Arc<Inbox>,
    /// Cleared by [`SharedPool::close`].
    reserving: AtomicBool,
}

/// What [`SharedPool::collect`] found.
#[derive(Debug)]
pub enum Collected {
    /// The task's outcome, now the caller's (the loop will not return it).
    Outcome(Outcome),
    /// The task is not at a worker (still queued, finished, unknown) or another thread
    /// reads that worker: its outcome comes from [`SharedPool::wait`].
    Elsewhere,
    /// The time given passed first; the task is still running.
    NotYet,
}

impl SharedPool {
    pub fn new(pool: Pool) -> SharedPool {
        SharedPool {
            inbox: pool.inbox.clone(),
            pool: Mutex::new(pool),
            reserving: AtomicBool::new(true),
        }
    }

    /// The pool itself, for calls that do not sleep.
    pub fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap()
    }

    /// The pool itself, if no other thread holds it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, Pool>> {
        match self.pool.try_lock() {
            Ok(pool) => Some(pool),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// [`Pool::wait`], holding the lock only between polls. Run from one thread only.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<Vec<Outcome>, PoolError> {
        let until = timeout.map(|t| Instant::now() + t);
        let mut pollfds: Vec<libc::pollfd> = Vec::new();
        let mut after: Option<i32> = None;
        loop {
            let ms = {
                let mut pool = self.lock();
                if let Some(n) = after.take() {
                    if let Some(outcomes) = pool.after_poll(until, &pollfds, n)? {
                        return Ok(outcomes);
                    }
                }
                match pool.before_poll(until, &mut pollfds)? {
                    Turn::Return(outcomes) => return Ok(outcomes),
                    Turn::Poll(ms) => ms,
                }
            };
            // Unlocked: the descriptors polled stay open, as only this thread closes them.
            after = Some(poll(&mut pollfds, ms)?);
        }
    }

    /// [`Pool::shutdown`]; a graceful one waits for the submitted tasks without holding
    /// the lock, so waiting threads go on collecting meanwhile. Run from the loop's thread.
    pub fn shutdown(&self, immediate: bool) -> Result<Vec<Outcome>, PoolError> {
        let mut out = Vec::new();
        if !immediate {
            loop {
                {
                    let mut pool = self.lock();
                    pool.closing = true;
                    pool.take_inbox();
                    if pool.unfinished() == 0 {
                        break;
                    }
                }
                out.extend(self.wait(None)?);
            }
        }
        out.extend(self.lock().shutdown(immediate)?);
        Ok(out)
    }

    /// Submits a task. When the lock is free, nothing is queued ahead and a worker is
    /// idle, the task goes straight to that worker from this thread; otherwise it goes
    /// through the inbox. With `reserve`, a task sent straight to a worker is kept for a
    /// thread that will [`collect`](SharedPool::collect) it: the loop is not woken, and
    /// leaves that worker's socket alone until the task is done or
    /// [`release`](SharedPool::release)d.
    pub fn submit(&self, msg: Message, needs: Vec<u64>, reserve: bool) -> TaskId {
        let id = self.inbox.next_id.fetch_add(1, Ordering::Relaxed);
        let task = Task { id, msg, needs };
        let mut pool = match self.pool.try_lock() {
            Ok(pool) => pool,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                Submitter(self.inbox.clone()).push(Command::Submit(task));
                return id;
            }
        };
        // The inbox first: definitions the task needs, and tasks submitted before it.
        pool.take_inbox();
        pool.pending.push_back(task);
        pool.dispatch_idle();
        pool.answer_cancel_requests();
        // The loop must look again if work is left for it, or to time the task.
        let mut wake =
            !pool.pending.is_empty() || !pool.done.is_empty() || pool.cfg.task_timeout.is_some();
        match pool.worker_running(id) {
            Some(i) => {
                let w = pool.slots[i].as_mut().expect("live worker");
                let reserve = reserve && self.reserving.load(Ordering::Relaxed);
                if reserve && w.inflight.len() == 1 && !w.claimed {
                    w.reserved = Some(id);
                } else {
                    // Its reply wakes the loop, unless the loop's poll leaves it out.
                    wake |= w.unpolled;
                }
            }
            None => wake = true,
        }
        drop(pool);
        if wake {
            self.nudge();
        }
        id
    }

    /// The pool is closing: it reserves nothing more and hands every reserved task back
    /// to the loop, which waits for them all; workers not running (not started yet, or
    /// dead) start only for tasks that wait for one.
    pub fn close(&self) {
        self.reserving.store(false, Ordering::Relaxed);
        let mut pool = self.lock();
        pool.closing = true;
        for w in pool.slots.iter_mut().flatten() {
            w.reserved = None;
        }
        drop(pool);
        self.nudge();
    }

    /// Hands task `id`, if reserved ([`SharedPool::submit`]), back to the loop: no thread
    /// is going to collect it.
    pub fn release(&self, id: TaskId) {
        let mut pool = self.lock();
        let wake = pool.slots.iter_mut().flatten().any(|w| {
            if w.reserved != Some(id) {
                return false;
            }
            w.reserved = None;
            w.unpolled && !w.claimed
        });
        drop(pool);
        if wake {
            self.nudge();
        }
    }

    /// Cancels those of `ids` no worker has yet and returns them (their outcomes are
    /// [`TaskError::Cancelled`]). Queued tasks an idle worker can take go to it first:
    /// they count as started, as when the loop does it.
    pub fn cancel_queued(&self, ids: &[TaskId]) -> Vec<TaskId> {
        let mut pool = self.lock();
        pool.take_inbox();
        pool.dispatch_idle();
        pool.answer_cancel_requests();
        let cancelled = pool.cancel_queued_now(ids);
        drop(pool);
        self.nudge();
        cancelled
    }

    /// Waits up to `timeout` for task `id`'s outcome by reading its worker's socket on
    /// this thread; see [`Collected`]. The loop leaves the socket alone meanwhile. A
    /// worker that dies or is killed (timeout, shutdown) ends the wait: its socket hangs
    /// up, and the outcome then comes from the loop (`Elsewhere`). It reads once before
    /// it polls, and if the worker's tasks are short (`SPIN_BELOW`) it polls without
    /// sleeping for up to `SPIN` before it sleeps.
    pub fn collect(&self, id: TaskId, timeout: Duration) -> Collected {
        let until = Instant::now() + timeout;
        // The worker claimed, by pid, and its socket (open while we poll it).
        let mut claim: Option<(libc::pid_t, Arc<OwnedFd>)> = None;
        let mut polled = false;
        // Read once before the first poll: the reply of a short task is often in already
        // (the worker ran while this thread was on its way here), and then no poll is due.
        let mut peeked = false;
        let mut spin = false;
        loop {
            let mut pool = self.lock();
            if polled || peeked {
                let i = claim.as_ref().and_then(|(pid, _)| pool.slot_of(*pid));
                if let Some(i) = i.filter(|&i| pool.slots[i].as_ref().is_some_and(|w| w.sock_open))
                {
                    pool.read_results(i);
                }
            }
            let found = if let Some(pos) = pool.done.iter().position(|o| o.id == id) {
                Some(Collected::Outcome(pool.done.remove(pos)))
            } else if Instant::now() >= until && polled {
                Some(Collected::NotYet)
            } else {
                match pool.worker_running(id) {
                    None => Some(Collected::Elsewhere),
                    Some(i) => {
                        let w = pool.slots[i].as_mut().expect("live worker");
                        let mine = claim.as_ref().is_some_and(|(pid, _)| *pid == w.pid);
                        if !w.sock_open || (w.claimed && !mine) {
                            Some(Collected::Elsewhere)
                        } else {
                            w.claimed = true;
                            // (A claim outlasts a reservation: let go, the loop reads.)
                            if w.reserved == Some(id) {
                                w.reserved = None;
                            }
                            if !mine {
                                claim = Some((w.pid, w.sock.clone()));
                                spin = w.typical.is_some_and(|t| t < SPIN_BELOW);
                            }
                            None
                        }
                    }
                }
            };
            if let Some(found) = found {
                let wake = pool.let_go(claim.as_ref().map(|c| c.0));
                drop(pool);
                if wake {
                    self.nudge();
                }
                return found;
            }
            drop(pool);
            if !peeked {
                peeked = true;
                continue;
            }
            let sock = &claim.as_ref().expect("claimed").1;
            let mut p = [pollfd(sock.as_fd())];
            if spin && !polled {
                spin_until_ready(&mut p, until.min(Instant::now() + SPIN));
            }
            let ms = until
                .saturating_duration_since(Instant::now())
                .as_micros()
                .div_ceil(1000) as i32;
            // (A failed poll is retried by the next turn, bounded by `until`.)
            let _ = poll(&mut p, ms);
            polled = true;
        }
    }

    /// Wakes the loop to look at the pool again.
    fn nudge(&self) {
        Submitter(self.inbox.clone()).nudge();
    }
}

/// Polls `p` without sleeping until it is ready or `end` passes, yielding the CPU to any
/// other thread runnable there between polls (the worker itself, when the two share it).
fn spin_until_ready(p: &mut [libc::pollfd], end: Instant) {
    while Instant::now() < end {
        if poll(p, 0).unwrap_or(0) > 0 {
            return;
        }
        // SAFETY: a plain syscall.
        unsafe { libc::sched_yield() };
    }
}

impl Pool {
    fn slot_of(&self, pid: libc::pid_t) -> Option<usize> {
        self.slots
            .iter()
            .position(|w| w.as_ref().is_some_and(|w| w.pid == pid))
    }

    /// The worker that has task `id`.
    fn worker_running(&self, id: TaskId) -> Option<usize> {
        self.slots.iter().position(|w| {
            w.as_ref()
                .is_some_and(|w| w.inflight.iter().any(|t| t.task.id == id))
        })
    }

    /// Releases a claim on worker `pid`; whether the loop must be woken: it has outcomes
    /// to return, queued tasks to hand to the worker just read from (which has room now),
    /// or that worker's socket has something for it and its poll leaves the socket out.
    fn let_go(&mut self, pid: Option<libc::pid_t>) -> bool {
        let mut wake = !self.done.is_empty() || !self.pending.is_empty();
        if let Some(i) = pid.and_then(|pid| self.slot_of(pid)) {
            let w = self.slots[i].as_mut().expect("live worker");
            w.claimed = false;
            let watch = !w.inflight.is_empty() || !w.lent.is_empty() || w.reader.has_partial();
            wake |= w.unpolled && watch;
        }
        wake
    }
}
