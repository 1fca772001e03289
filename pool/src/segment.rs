//! Reusable shared-memory segments for large buffers. Filling a fresh memfd makes the
//! kernel allocate (and later free) every page, which costs more than copying the bytes,
//! so large buffers are *lent* rather than given away: the sender fills a [`Segment`] and
//! sends its descriptor with a token; the receiver maps it copy-on-write and gives the
//! token back ([`Returns`]) once nothing references its mapping any more. Only then does
//! the sender put the segment in its [`SegmentCache`], to be overwritten for a later
//! buffer. A segment the receiver keeps (a task stashed the array in a global) is never
//! given back, so it never changes under the receiver; it is freed when the receiver exits.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::frame::{Buffer, Message};
use crate::shm::{memfd_with, Mapping};

/// The name segments' memfds carry (shown in `/proc/<pid>/fd`).
pub const SEGMENT_NAME: &std::ffi::CStr = c"brinery-segment";

/// Tokens start here; smaller placement values in a frame mean "inline" and "memfd".
pub(crate) const FIRST_TOKEN: u64 = 2;

/// Segments a cache keeps at most, whatever their size: each holds a descriptor, and a
/// task of many small arrays would otherwise leave hundreds open in an idle process.
pub const MAX_CACHED: usize = 64;

/// Segments at least this large are freed on a short-lived thread, off the caller's path.
const FREE_ASIDE: usize = 1 << 20;

/// A memfd lent to a receiver: `len` bytes of data in a file of `capacity` bytes, with a
/// shared mapping the sender writes through when it reuses the segment.
#[derive(Debug)]
pub struct Segment {
    fd: OwnedFd,
    map: Mapping,
    len: usize,
    token: u64,
    populated: bool,
}

impl Segment {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Bytes of data (the receiver maps this many).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the underlying file.
    pub fn capacity(&self) -> usize {
        self.map.len()
    }

    /// What the receiver gives back when it is done with the segment.
    pub fn token(&self) -> u64 {
        self.token
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.map.as_slice()[..self.len]
    }

    fn fresh(data: &[u8], token: u64) -> io::Result<Segment> {
        // write(2) fills a new memfd without a page fault per page; the mapping is not
        // touched until the segment is reused.
        let fd = memfd_with(SEGMENT_NAME, data)?;
        let map = Mapping::new(fd.as_fd(), data.len(), true)?;
        map.dont_fork();
        Ok(Segment {
            fd,
            map,
            len: data.len(),
            token,
            populated: false,
        })
    }

    /// Overwrites the segment with `data` (no larger than the capacity).
    fn refill(&mut self, data: &[u8]) {
        if !self.populated {
            // Setting up the page table once in bulk beats a write fault per page; the
            // copies after that run at memory speed.
            self.map.populate_write();
            self.populated = true;
        }
        self.map.as_mut_slice()[..data.len()].copy_from_slice(data);
        self.len = data.len();
    }
}

/// Frees segments, on a helper thread when they are large (releasing their pages takes
/// milliseconds per hundred megabytes).
pub(crate) fn free(segs: Vec<Segment>) {
    if segs.iter().map(Segment::capacity).sum::<usize>() >= FREE_ASIDE {
        // If no thread can be started, the closure (and the segments) is dropped here.
        let _ = std::thread::Builder::new()
            .name("brinery-free".into())
            .spawn(move || drop(segs));
    }
}

/// Segments given back by receivers, ready for reuse, most recent first, bounded in
/// total bytes. Shared by the pool and every thread that submits to it.
#[derive(Debug)]
pub struct SegmentCache {
    inner: Mutex<Cached>,
    next_token: AtomicU64,
    budget: usize,
    /// Segments lent out and not given back, as counted by the pool.
    lent: AtomicUsize,
}

#[derive(Debug, Default)]
struct Cached {
    segments: Vec<Segment>,
    bytes: usize,
    reused: u64,
    closed: bool,
}

impl SegmentCache {
    /// A cache keeping at most `budget` bytes of segments (but always the latest one), and
    /// at most [`MAX_CACHED`] segments.
    pub fn new(budget: usize) -> Arc<SegmentCache> {
        Arc::new(SegmentCache {
            inner: Mutex::new(Cached::default()),
            next_token: AtomicU64::new(FIRST_TOKEN),
            budget,
            lent: AtomicUsize::new(0),
        })
    }

    /// A segment holding a copy of `data`: a cached one of a fitting size (at least the
    /// data, at most twice it) when there is one, otherwise a new one.
    pub fn fill(&self, data: &[u8]) -> io::Result<Segment> {
        let reused = {
            let mut c = self.inner.lock().unwrap();
            let fit = c
                .segments
                .iter()
                .enumerate()
                .filter(|(_, s)| s.capacity() >= data.len() && s.capacity() / 2 <= data.len())
                .min_by_key(|(_, s)| s.capacity())
                .map(|(i, _)| i);
            fit.map(|i| {
                let s = c.segments.remove(i);
                c.bytes -= s.capacity();
                c.reused += 1;
                s
            })
        };
        match reused {
            Some(mut s) => {
                s.refill(data);
                Ok(s)
            }
            None => Segment::fresh(data, self.next_token.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// A buffer holding a copy of `data` in a segment (see [`SegmentCache::fill`]), to
    /// send without a further copy.
    pub fn lend_copy(&self, data: &[u8]) -> io::Result<Buffer> {
        Ok(Buffer::Segment(Arc::new(self.fill(data)?)))
    }

    /// Takes a segment back from the receiver it was lent to (`token`), if it was lent
    /// in `lent` and no message still holds it.
    pub(crate) fn give_back_lent(&self, lent: &mut HashMap<u64, Arc<Segment>>, token: u64) {
        if let Some(seg) = lent.remove(&token) {
            self.lent_fewer(1);
            // Still held by a message (not expected): dropping that frees it.
            if let Ok(seg) = Arc::try_unwrap(seg) {
                self.give_back(seg);
            }
        }
    }

    /// Records the segments of `msg` as lent in `lent` (sent, not given back yet).
    pub(crate) fn lend_out(&self, lent: &mut HashMap<u64, Arc<Segment>>, msg: &Message) {
        for b in &msg.buffers {
            if let Buffer::Segment(s) = b {
                if lent.insert(s.token(), s.clone()).is_none() {
                    self.lent_more(1);
                }
            }
        }
    }

    /// Takes a segment no receiver maps any more; evicts the oldest beyond the budget.
    pub fn give_back(&self, seg: Segment) {
        let mut evicted = Vec::new();
        {
            let mut c = self.inner.lock().unwrap();
            if c.closed {
                evicted.push(seg);
            } else {
                c.bytes += seg.capacity();
                c.segments.insert(0, seg);
                while (c.bytes > self.budget && c.segments.len() > 1)
                    || c.segments.len() > MAX_CACHED
                {
                    let old = c.segments.pop().expect("non-empty");
                    c.bytes -= old.capacity();
                    evicted.push(old);
                }
            }
        }
        free(evicted);
    }

    /// Drops every cached segment; later ones given back are dropped at once.
    pub fn close(&self) {
        let mut c = self.inner.lock().unwrap();
        c.closed = true;
        c.bytes = 0;
        c.segments.clear();
    }

    /// `(segments lent out, segments cached, times a cached segment was reused)`.
    pub fn stats(&self) -> (usize, usize, u64) {
        let c = self.inner.lock().unwrap();
        (
            self.lent.load(Ordering::Relaxed),
            c.segments.len(),
            c.reused,
        )
    }

    fn lent_more(&self, n: usize) {
        self.lent.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` segments no longer lent.
    pub(crate) fn lent_fewer(&self, n: usize) {
        self.lent.fetch_sub(n, Ordering::Relaxed);
    }

    /// Descriptors of the cached segments (a forked worker must not keep them open).
    pub(crate) fn fds(&self) -> Vec<RawFd> {
        let c = self.inner.lock().unwrap();
        c.segments.iter().map(Segment::raw_fd).collect()
    }
}

/// The receiver's list of tokens to give back, filled as lent mappings are dropped and
/// drained into the next frame to the sender.
#[derive(Debug, Clone, Default)]
pub struct Returns(Arc<Mutex<Vec<u64>>>);

impl Returns {
    pub(crate) fn push(&self, token: u64) {
        self.0.lock().unwrap().push(token);
    }

    /// Takes the tokens gathered so far.
    pub(crate) fn take(&self) -> Vec<u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The receiver's copy-on-write mapping of a lent segment. Dropping it unmaps the segment
/// and gives its token back.
#[derive(Debug)]
pub struct LentMapping {
    map: Mapping,
    token: u64,
    returns: Returns,
}

impl LentMapping {
    pub(crate) fn new(map: Mapping, token: u64, returns: Returns) -> LentMapping {
        LentMapping {
            map,
            token,
            returns,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        self.map.as_slice()
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.map.as_mut_slice()
    }
}

impl Drop for LentMapping {
    fn drop(&mut self) {
        // Unmap first: once the token is out, the sender may overwrite the segment.
        drop(std::mem::replace(&mut self.map, Mapping::empty()));
        self.returns.push(self.token);
    }
}
