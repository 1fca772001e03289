//! Dispatch: hands queued tasks to workers with room (every idle worker one task first,
//! then each its prefetch, within the queue budget, the socket backlog and the budget of
//! descriptors queued at workers), sends each worker the definitions a task needs before
//! the task, and starts (or restarts) workers.
//! Not for reading what workers send back (`event_loop`).

use super::*;

impl Pool {
    pub(super) fn dispatch(&mut self) -> Result<(), PoolError> {
        if self.ramp_until.is_some_and(|r| Instant::now() >= r) {
            self.ramp_until = None;
        }
        // First every idle worker gets one task, then each its prefetch: tasks that wait
        // on each other (a consumer and a producer of one queue) run side by side rather
        // than queued behind one another at the first worker.
        for spread in [true, false] {
            self.dispatch_round(spread, true)?;
        }
        Ok(())
    }

    /// Gives queued tasks to idle workers only, starting none: what a thread other than
    /// the loop's may do (workers are started from the loop's thread only).
    pub(super) fn dispatch_idle(&mut self) {
        // (Without starting workers nothing in a round can fail.)
        let _ = self.dispatch_round(true, false);
    }

    pub(super) fn dispatch_round(&mut self, spread: bool, start: bool) -> Result<(), PoolError> {
        let fds_budget = (FDS_QUEUED / self.slots.len()).max(MIN_FDS_PER_WORKER);
        for i in 0..self.slots.len() {
            // (While the pool ramps up, an empty slot is one never started: it starts for
            // a task that finds no idle worker. So does one whose start failed while no
            // task needed it.)
            let waiting = !self.pending.is_empty();
            if start
                && spread
                && self.slots[i].is_none()
                && (!self.closing || waiting)
                && (self.ramp_until.is_none() || waiting)
                && (!self.spare_failed || waiting)
            {
                if self.early_deaths >= EARLY_DEATHS_LIMIT && !waiting {
                    continue;
                }
                match self.start_worker(i) {
                    Ok(()) => self.spare_failed = false,
                    // A worker no task waits for (at interpreter exit, say, which may
                    // refuse to fork): not the pool's failure, nor any task's yet.
                    Err(_) if !waiting => self.spare_failed = true,
                    Err(e) => return Err(e),
                }
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
                let Some(next) = self.pending.front() else {
                    break;
                };
                let fds = next.msg.fds.len();
                if fds > 0 && !w.inflight.is_empty() && w.fds_queued + fds > fds_budget {
                    break;
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
                        w.fds_queued += fds;
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

    pub(super) fn start_worker(&mut self, i: usize) -> Result<(), PoolError> {
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
            sock: Arc::new(parent),
            sock_open: true,
            claimed: false,
            unpolled: false,
            reserved: None,
            reader: FrameReader::new(),
            stage,
            inflight: VecDeque::new(),
            fds_queued: 0,
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
}
