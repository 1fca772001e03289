//! The pool's side door: the [`Submitter`], a cloneable, `Send` handle through which
//! other threads submit tasks, register definitions, cancel and wake the loop, and the
//! inbox of commands it fills, which the thread running [`Pool::wait`] empties. Not for
//! anything the event loop does with the commands (see `event_loop`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

#[cfg(doc)]
use super::Pool;
use super::{stats, SegmentStats, Task, TaskId};
#[cfg(doc)]
use crate::error::TaskError;
use crate::frame::Message;
use crate::segment::SegmentCache;

pub(super) enum Command {
    Submit(Task),
    Cancel(TaskId),
    /// Cancel those still queued and answer with their ids.
    CancelAndReport(Vec<TaskId>, mpsc::SyncSender<Vec<TaskId>>),
    Define(u64, Message),
}

/// The thread-safe side door into a pool: submissions and cancellations from other
/// threads, picked up by whichever thread runs [`Pool::wait`].
pub(super) struct Inbox {
    pub(super) commands: Mutex<Vec<Command>>,
    /// Set (under the `commands` lock) once the pool has shut down: commands are then
    /// dropped, so whoever waits for an answer hears the disconnect instead of hanging.
    pub(super) closed: AtomicBool,
    pub(super) wake: OwnedFd,
    /// Set by [`Submitter::wake`]: the running `wait` must return (not just look at the
    /// inbox). Checked after every look at the inbox, so a wake is never lost.
    pub(super) interrupt: AtomicBool,
    pub(super) next_id: AtomicU64,
    pub(super) segments: Arc<SegmentCache>,
}

/// A cloneable, `Send` handle that submits to a pool from any thread.
#[derive(Clone)]
pub struct Submitter(pub(super) Arc<Inbox>);

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

    pub(super) fn nudge(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a live buffer to our eventfd.
        unsafe { libc::write(self.0.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
    }

    pub(super) fn push(&self, c: Command) {
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
