//! The stage page: one shared-memory page per worker where the worker records which task
//! it is on and how far it got (received, decoding, running, encoding...). Writing it is
//! a plain store, not a message, so it costs nothing on the hot path; the parent only reads
//! it after the worker has died, to say which task failed and in which stage.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::shm::{memfd, Mapping};

/// Stage 0: between tasks.
pub const IDLE: u32 = 0;
/// Stage 1: the task's frame has been read; set by [`crate::Endpoint::recv`].
pub const RECEIVED: u32 = 1;

const PAGE: usize = 4096;

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

    /// Records that the worker is on `task`, in `stage`.
    pub fn set(&self, task: u64, stage: u32) {
        self.stage().store(IDLE, Ordering::Release);
        self.task().store(task, Ordering::Release);
        self.stage().store(stage, Ordering::Release);
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
