//! The event loop: [`Pool::wait`] polls the workers' sockets, their pidfds and the
//! inbox's eventfd, takes in commands from other threads, reads results, buries dead
//! workers (failing only the task their stage page names) and enforces `task_timeout`.
//! Not for choosing which worker gets a task (`dispatch`) nor for stopping (`shutdown`).

use super::*;

/// What the loop does after the top of a turn.
pub(super) enum Turn {
    Return(Vec<Outcome>),
    /// Poll for this many milliseconds (-1: no limit).
    Poll(i32),
}

/// `poll(2)`, returning 0 when interrupted by a signal.
pub(super) fn poll(pollfds: &mut [libc::pollfd], ms: i32) -> Result<i32, PoolError> {
    // SAFETY: pollfds is a live array of pollfd structs of the given length.
    let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as _, ms) };
    if n < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(PoolError::io("poll")(err));
        }
        return Ok(0);
    }
    Ok(n)
}

impl Pool {
    /// Runs the event loop until at least one task has an outcome, `timeout` passes, or a
    /// [`Submitter::wake`]; returns the outcomes gathered (possibly none).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<Outcome>, PoolError> {
        let until = timeout.map(|t| Instant::now() + t);
        let mut pollfds: Vec<libc::pollfd> = Vec::new();
        loop {
            let ms = match self.before_poll(until, &mut pollfds)? {
                Turn::Return(outcomes) => return Ok(outcomes),
                Turn::Poll(ms) => ms,
            };
            let n = poll(&mut pollfds, ms)?;
            if let Some(outcomes) = self.after_poll(until, &pollfds, n)? {
                return Ok(outcomes);
            }
        }
    }

    /// The top of one turn of the loop: takes in commands, dispatches, and either returns
    /// the outcomes gathered or fills `pollfds` for the poll and says for how long.
    pub(super) fn before_poll(
        &mut self,
        until: Option<Instant>,
        pollfds: &mut Vec<libc::pollfd>,
    ) -> Result<Turn, PoolError> {
        self.take_inbox();
        self.dispatch()?;
        self.answer_cancel_requests();
        let interrupted = self.inbox.interrupt.swap(false, Ordering::AcqRel);
        if !self.done.is_empty() || interrupted {
            return Ok(Turn::Return(std::mem::take(&mut self.done)));
        }
        let now = Instant::now();
        let mut next = until;
        for d in [self.next_timeout(now), self.ramp_until]
            .into_iter()
            .flatten()
        {
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        let ms = match next {
            None => -1,
            Some(d) => d.saturating_duration_since(now).as_micros().div_ceil(1000) as i32,
        };
        pollfds.clear();
        pollfds.push(pollfd(self.inbox.wake.as_fd()));
        for w in self.slots.iter_mut().flatten() {
            pollfds.push(pollfd(w.pidfd.as_fd()));
            // A claimed socket is the waiting thread's to poll and read (it wakes the loop
            // if it leaves work here when it lets go).
            w.unpolled = !w.sock_open || w.claimed || w.reserved_alone();
            if !w.unpolled {
                let mut p = pollfd(w.sock.as_fd());
                if w.out.waiting() > 0 {
                    p.events |= libc::POLLOUT;
                }
                pollfds.push(p);
            }
        }
        Ok(Turn::Poll(ms))
    }

    /// The rest of the turn, after `poll` returned `n`: reads what is ready, buries the
    /// dead, enforces timeouts; returns outcomes once `until` has passed.
    pub(super) fn after_poll(
        &mut self,
        until: Option<Instant>,
        pollfds: &[libc::pollfd],
        n: i32,
    ) -> Result<Option<Vec<Outcome>>, PoolError> {
        if n > 0 {
            self.handle_ready(pollfds)?;
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
            return Ok(Some(std::mem::take(&mut self.done)));
        }
        Ok(None)
    }

    pub(super) fn take_inbox(&mut self) {
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

    pub(super) fn handle_ready(&mut self, pollfds: &[libc::pollfd]) -> Result<(), PoolError> {
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
            // (A socket claimed since the poll began is the claiming thread's to read.)
            let readable = |w: &Worker| w.sock_open && !w.claimed;
            if self.slots[i].as_ref().is_some_and(readable) && sock & !libc::POLLOUT != 0 {
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
    pub(super) fn read_results(&mut self, i: usize) {
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
            let Some(finished) = w.inflight.remove(pos) else {
                continue;
            };
            w.fds_queued -= finished.task.msg.fds.len();
            if let Some(started) = finished.started {
                let took = started.elapsed();
                w.typical = Some(match w.typical {
                    None => took,
                    Some(avg) => (avg * 7 + took) / 8,
                });
            }
            if w.reserved == Some(f.id) {
                w.reserved = None;
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
    pub(super) fn sever(
        &mut self,
        i: usize,
        id: Option<TaskId>,
        stage: &'static str,
        reason: String,
    ) {
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
    pub(super) fn sever_sending(&mut self, i: usize, e: io::Error) {
        let failed = self.slots[i].as_mut().and_then(|w| w.out.take_failed());
        self.sever(i, failed, SENDING, e.to_string());
    }

    /// Worker `i` has exited: collect its last results, reap it, fail the task it was
    /// running, requeue the rest.
    pub(super) fn bury(&mut self, i: usize) -> Result<(), PoolError> {
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

    pub(super) fn stage_name(&self, stage: u32) -> String {
        match self.cfg.stage_names.get(stage as usize) {
            Some(name) => name.clone(),
            None => format!("in stage {stage}"),
        }
    }

    /// Kills workers whose task has run past `task_timeout` (by the start their stage
    /// page records).
    pub(super) fn enforce_timeouts(&mut self) {
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
    pub(super) fn next_timeout(&self, now: Instant) -> Option<Instant> {
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
}
