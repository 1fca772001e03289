//! Stopping a pool: a graceful shutdown finishes every submitted task and lets the
//! workers exit (killing any that outstays the grace period), an immediate one cancels
//! what is queued and kills them; either way every worker is reaped and the inbox is
//! closed so that no caller waits on an answer that cannot come. Dropping a pool still
//! running stops it immediately.

use super::*;

impl Pool {
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
    pub(super) fn close_inbox(&mut self) {
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
