//! The stage page: one shared-memory page per worker where the worker records which task
//! it is on and how far it got (received, decoding, running, encoding...). Writing it is
//! a plain store, not a message, so it costs nothing on the hot path; the parent only reads
//! it after the worker has died, to say which task failed and in which stage.
//!
//! The page also holds when the task started (`CLOCK_MONOTONIC`, which both processes
//! share), so `task_timeout` counts from the worker's start on the task, not from when
//! the parent queued it: a worker still starting up, or running its initializer, is not
//! running the task. A task received during such set-up has no start yet ([`Clock::Setup`])
//! until the worker calls [`StagePage::start_clock`].

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::shm::{memfd, Mapping};

/// Stage 0: between tasks.
pub const IDLE: u32 = 0;
/// Stage 1: the task's frame has been read; set by [`crate::Endpoint::recv`].
pub const RECEIVED: u32 = 1;

const PAGE: usize = 4096;

/// Where a task's clock stands, as the stage page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The worker is not on this task (not yet, or no longer).
    Elsewhere,
    /// The worker has the task but is still setting up; the task has not started.
    Setup,
    /// The task started at this `CLOCK_MONOTONIC` time, in nanoseconds.
    Since(u64),
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (the same clock in every process).
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A view of one worker's stage page.
#[derive(Debug)]
pub struct StagePage {
    map: Mapping,
}

impl StagePage {
    /// A new page and its memfd, to hand to the worker.
    pub fn create() -> io::Result<(StagePage, OwnedFd)> {
        let fd = memfd(c"brinery-stage", PAGE)?;
        let page = StagePage::open(&fd)?;
        Ok((page, fd))
    }

    /// Maps a page created by [`StagePage::create`] (in the worker).
    pub fn open(fd: &impl AsFd) -> io::Result<StagePage> {
        Ok(StagePage {
            map: Mapping::new(fd.as_fd(), PAGE, true)?,
        })
    }

    fn task(&self) -> &AtomicU64 {
        // SAFETY: the page is 4096 bytes, page-aligned, and lives as long as `self`.
        unsafe { &*(self.map.as_ptr() as *const AtomicU64) }
    }

    fn stage(&self) -> &AtomicU32 {
        // SAFETY: as above; offset 8 is 4-byte aligned and inside the page.
        unsafe { &*(self.map.as_ptr().add(8) as *const AtomicU32) }
    }

    fn started(&self) -> &AtomicU64 {
        // SAFETY: as above; offset 16 is 8-byte aligned and inside the page.
        unsafe { &*(self.map.as_ptr().add(16) as *const AtomicU64) }
    }

    /// Records that the worker is on `task`, in `stage`, and started it now.
    pub fn set(&self, task: u64, stage: u32) {
        self.begin(task, stage, monotonic_ns());
    }

    /// Records that the worker has `task`, in `stage`, but is still setting up: the task
    /// has not started until [`StagePage::start_clock`].
    pub fn set_setup(&self, task: u64, stage: u32) {
        self.begin(task, stage, 0);
    }

    fn begin(&self, task: u64, stage: u32, started: u64) {
        // The start is written before the task id, so a reader that sees the id sees it.
        self.stage().store(IDLE, Ordering::Release);
        self.started().store(started, Ordering::Release);
        self.task().store(task, Ordering::Release);
        self.stage().store(stage, Ordering::Release);
    }

    /// The current task starts now (its set-up is over).
    pub fn start_clock(&self) {
        self.started().store(monotonic_ns(), Ordering::Release);
    }

    /// Where `task`'s clock stands.
    pub fn clock(&self, task: u64) -> Clock {
        if self.task().load(Ordering::Acquire) != task {
            return Clock::Elsewhere;
        }
        match self.started().load(Ordering::Acquire) {
            0 => Clock::Setup,
            t => Clock::Since(t),
        }
    }

    /// Moves the current task to `stage`.
    pub fn set_stage(&self, stage: u32) {
        self.stage().store(stage, Ordering::Release);
    }

    /// The task and stage last recorded.
    pub fn get(&self) -> (u64, u32) {
        let stage = self.stage().load(Ordering::Acquire);
        (self.task().load(Ordering::Acquire), stage)
    }
}
