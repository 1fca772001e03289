//! The worker's side of the channel: receive a task, report progress on the stage page,
//! reply with the result, stop when the parent says so or goes away. Lent segments the
//! worker has finished with are given back with the next reply, or before it waits for
//! the next task; large results may go out in segments of the worker's own, which the
//! parent gives back the same way. A spawned worker
//! finds its descriptors in [`crate::launch::FDS_ENV`]; a forked one is handed them.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crate::frame::{self, Chunk, FrameReader, Message, Outgoing};
use crate::launch::{WorkerFds, FDS_ENV};
use crate::segment::{Segment, SegmentCache};
use crate::shm::DEFAULT_THRESHOLD;
use crate::stage::{StagePage, IDLE, RECEIVED};

/// A worker's connection to its pool.
pub struct Endpoint {
    sock: OwnedFd,
    reader: FrameReader,
    stage: StagePage,
    out: Outgoing,
    definitions: HashMap<u64, Message>,
    /// Result buffers of this many bytes or more go through shared memory.
    pub shm_threshold: usize,
    segments: Arc<SegmentCache>,
    /// Segments sent to the parent and not given back yet, by token.
    lent: HashMap<u64, Arc<Segment>>,
}

/// Bytes of result segments a worker keeps for reuse.
const SEGMENT_CACHE: usize = 256 << 20;

impl Endpoint {
    /// Takes over the descriptors named by [`FDS_ENV`] (a spawned worker).
    pub fn from_env() -> io::Result<Endpoint> {
        let bad = || io::Error::new(io::ErrorKind::InvalidInput, format!("{FDS_ENV} not set"));
        let value = std::env::var(FDS_ENV).map_err(|_| bad())?;
        let (a, b) = value.split_once(',').ok_or_else(bad)?;
        let parse = |s: &str| s.parse::<RawFd>().map_err(|_| bad());
        let (sock, stage) = (parse(a)?, parse(b)?);
        std::env::remove_var(FDS_ENV);
        // SAFETY: the launcher passed these descriptors to us and nobody else owns them.
        let fds = unsafe {
            WorkerFds {
                socket: OwnedFd::from_raw_fd(sock),
                stage: OwnedFd::from_raw_fd(stage),
            }
        };
        for fd in [&fds.socket, &fds.stage] {
            // Keep them out of processes this worker may itself start.
            // SAFETY: valid fd, plain syscall.
            unsafe {
                libc::fcntl(
                    std::os::fd::AsRawFd::as_raw_fd(fd),
                    libc::F_SETFD,
                    libc::FD_CLOEXEC,
                )
            };
        }
        Endpoint::new(fds)
    }

    /// Serves on the given descriptors (a forked worker).
    pub fn new(fds: WorkerFds) -> io::Result<Endpoint> {
        Ok(Endpoint {
            stage: StagePage::open(&fds.stage)?,
            sock: fds.socket,
            reader: FrameReader::new(),
            out: Outgoing::default(),
            definitions: HashMap::new(),
            shm_threshold: DEFAULT_THRESHOLD,
            segments: SegmentCache::new(SEGMENT_CACHE),
            lent: HashMap::new(),
        })
    }

    /// The next task, or `None` when the pool asks this worker to stop (or is gone).
    /// Marks the task [`RECEIVED`] on the stage page; its clock (for the pool's
    /// `task_timeout`) starts now.
    pub fn recv(&mut self) -> io::Result<Option<(u64, Message)>> {
        self.recv_marked(true)
    }

    /// Like [`Endpoint::recv`], but the worker has set-up to do before the task starts
    /// (an initializer run on its first task): the task's clock starts only at
    /// [`Endpoint::start_clock`], and if the worker dies before that, the task is not
    /// blamed (it goes back to the queue, and the death counts as a failure to start).
    pub fn recv_before_setup(&mut self) -> io::Result<Option<(u64, Message)>> {
        self.recv_marked(false)
    }

    /// The current task starts now: its set-up is over.
    pub fn start_clock(&self) {
        self.stage.start_clock();
    }

    fn recv_marked(&mut self, timed: bool) -> io::Result<Option<(u64, Message)>> {
        // A parent that is gone shows as the end of the stream just below.
        let _ = self.give_back();
        loop {
            match self.reader.recv(self.sock.as_fd())? {
                None => return Ok(None),
                Some(f) if f.kind == frame::SHUTDOWN => return Ok(None),
                Some(f) if f.kind == frame::DEFINE => {
                    self.definitions.insert(f.id, f.msg);
                }
                Some(f) if f.kind == frame::RELEASE => {
                    for token in frame::released_tokens(&f.msg) {
                        self.segments.give_back_lent(&mut self.lent, token);
                    }
                }
                Some(f) if f.kind == frame::TASK => {
                    if timed {
                        self.stage.set(f.id, RECEIVED);
                    } else {
                        self.stage.set_setup(f.id, RECEIVED);
                    }
                    return Ok(Some((f.id, f.msg)));
                }
                Some(_) => continue,
            }
        }
    }

    /// Definition `id`, received before the first task that needs it.
    pub fn definition(&self, id: u64) -> Option<&Message> {
        self.definitions.get(&id)
    }

    /// Records how far the current task got; the parent reads it only if this process dies.
    pub fn set_stage(&self, stage: u32) {
        self.stage.set_stage(stage);
    }

    /// This worker's segments, to put large results in ([`SegmentCache::lend_copy`]).
    pub fn segments(&self) -> &Arc<SegmentCache> {
        &self.segments
    }

    /// Sends `msg` as the result of task `id`, lending its segments to the parent.
    pub fn reply_message(
        &mut self,
        id: u64,
        msg: &Message,
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        self.segments.lend_out(&mut self.lent, msg);
        let chunks: Vec<Chunk<'_>> = msg.buffers.iter().map(|b| b.chunk()).collect();
        self.reply(id, &chunks, fds)
    }

    /// Sends the result of task `id` and marks the worker idle.
    pub fn reply(
        &mut self,
        id: u64,
        buffers: &[Chunk<'_>],
        fds: &[BorrowedFd<'_>],
    ) -> io::Result<()> {
        self.out
            .push(frame::RESULT, id, buffers, fds, self.shm_threshold)?;
        // After the result, so the parent has the task back before it sees the segments.
        let tokens = self.reader.returns.take();
        if !tokens.is_empty() {
            self.out.push_release(&tokens)?;
        }
        self.out.flush(self.sock.as_fd(), false)?;
        self.stage.set_stage(IDLE);
        Ok(())
    }

    /// Gives back the lent segments dropped since the last frame to the parent.
    fn give_back(&mut self) -> io::Result<()> {
        let tokens = self.reader.returns.take();
        if tokens.is_empty() {
            return Ok(());
        }
        self.out.push_release(&tokens)?;
        self.out.flush(self.sock.as_fd(), false).map(drop)
    }
}
