//! Frames: the unit both ends of a worker's Unix stream socket exchange. A frame is a
//! fixed header, a length per buffer, then the small buffers' bytes inline; file
//! descriptors (the caller's, plus one memfd per large buffer) ride on the same
//! `sendmsg` as `SCM_RIGHTS`, at most [`MAX_FDS`] to a call: a frame with more descriptors
//! than that goes out in several calls, each starting at a later byte of the frame, so the
//! limit on one task is about 250 descriptors per byte of frame rather than 250. What the
//! buffers mean is the caller's business.
//!
//! Header (native endian): kind u32, fd count u32, buffer count u32, memfd count u32,
//! task id u64; then per buffer: length u64, placement u64 (0 inline, 1 memfd the
//! receiver keeps, 2 and up: the token of a lent [`Segment`], given back in a `RELEASE`
//! frame whose one buffer lists tokens as u64s). Several frames may share one `sendmsg`;
//! a frame's descriptors may arrive ahead of it.

use std::collections::VecDeque;
use std::io;
use std::mem::size_of;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use std::sync::Arc;

use crate::fdshare::SharedFd;
use crate::segment::{LentMapping, Returns, Segment, FIRST_TOKEN};
use crate::shm::{memfd_with, Mapping};

pub(crate) const TASK: u32 = 1;
pub(crate) const RESULT: u32 = 2;
pub(crate) const SHUTDOWN: u32 = 3;
pub(crate) const DEFINE: u32 = 4;
pub(crate) const RELEASE: u32 = 5;

const HEADER: usize = 24;
const PER_BUFFER: usize = 16;
/// Descriptors passed by one `sendmsg` (the kernel takes at most 253).
pub const MAX_FDS: usize = 250;

/// One buffer of a message: bytes in memory, a received copy-on-write shared mapping,
/// a memfd the sender filled itself (sent as is, with no copy), a segment to lend (sent
/// as is, reused once the receiver gives it back), or a received lent segment.
#[derive(Debug)]
pub enum Buffer {
    Inline(Vec<u8>),
    Shared(Mapping),
    Memfd { fd: OwnedFd, map: Mapping },
    Segment(Arc<Segment>),
    Lent(LentMapping),
}

impl Buffer {
    /// A memfd-backed buffer holding a copy of `data` (the only copy it will need).
    pub fn shared_copy(data: &[u8]) -> io::Result<Buffer> {
        // write(2) fills the memfd in the kernel without a page fault per page; the
        // mapping is only for readers in this process and costs nothing until touched.
        let fd = memfd_with(c"brinery-buffer", data)?;
        let map = Mapping::new(fd.as_fd(), data.len(), true)?;
        Ok(Buffer::Memfd { fd, map })
    }

    /// How this buffer goes on the wire.
    pub fn chunk(&self) -> Chunk<'_> {
        match self {
            Buffer::Inline(v) => Chunk::Bytes(v),
            Buffer::Shared(m) => Chunk::Bytes(m.as_slice()),
            Buffer::Memfd { fd, map } => Chunk::Memfd(fd.as_fd(), map.len()),
            Buffer::Segment(s) => Chunk::Segment(s.fd(), s.len(), s.token()),
            Buffer::Lent(m) => Chunk::Bytes(m.as_slice()),
        }
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Inline(v) => v,
            Buffer::Shared(m) | Buffer::Memfd { map: m, .. } => m.as_slice(),
            Buffer::Segment(s) => s.as_slice(),
            Buffer::Lent(m) => m.as_slice(),
        }
    }
}

/// A buffer to send: bytes (moved to a memfd when large), a memfd of the given length,
/// or a lent segment's memfd, length and token.
#[derive(Debug, Clone, Copy)]
pub enum Chunk<'a> {
    Bytes(&'a [u8]),
    Memfd(BorrowedFd<'a>, usize),
    Segment(BorrowedFd<'a>, usize, u64),
}

impl<'a> From<&'a [u8]> for Chunk<'a> {
    fn from(b: &'a [u8]) -> Chunk<'a> {
        Chunk::Bytes(b)
    }
}

impl Chunk<'_> {
    fn len(&self) -> usize {
        match *self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Memfd(_, len) | Chunk::Segment(_, len, _) => len,
        }
    }

    /// The placement word of the buffer table.
    fn placement(&self, threshold: usize) -> u64 {
        match *self {
            Chunk::Segment(_, _, token) => token,
            Chunk::Memfd(..) => 1,
            Chunk::Bytes(b) => u64::from(b.len() >= threshold),
        }
    }
}

/// What travels in a frame: buffers and file descriptors (a sent message's may be
/// shared with other messages, see [`crate::fdshare`]; a received one's are its own).
#[derive(Debug, Default)]
pub struct Message {
    pub buffers: Vec<Buffer>,
    pub fds: Vec<SharedFd>,
}

impl Message {
    /// A message of inline buffers; they are moved to shared memory when sent if large.
    pub fn new(buffers: Vec<Vec<u8>>, fds: Vec<OwnedFd>) -> Message {
        Message {
            buffers: buffers.into_iter().map(Buffer::Inline).collect(),
            fds: fds.into_iter().map(SharedFd::from).collect(),
        }
    }

    /// The descriptors, each now the caller's alone (a received message's as they are).
    pub fn take_fds(&mut self) -> io::Result<Vec<OwnedFd>> {
        std::mem::take(&mut self.fds)
            .into_iter()
            .map(SharedFd::into_owned)
            .collect()
    }
}

pub(crate) struct Frame {
    pub kind: u32,
    pub id: u64,
    pub msg: Message,
}

/// Frames waiting to go out, sent together in as few `sendmsg` calls as the descriptor
/// limit allows. A nonblocking flush sends what the socket takes and keeps the rest for
/// later, so a sender that also has to read (the pool) never blocks on a full socket
/// while its peer blocks sending to it.
#[derive(Default)]
pub(crate) struct Outgoing {
    bytes: Vec<u8>,
    /// How much of `bytes` is sent.
    sent: usize,
    /// Descriptors to pass: each group with the first byte sent from its offset on
    /// (removed once sent).
    groups: VecDeque<(usize, Vec<RawFd>)>,
    /// memfds made for large byte buffers, open until sent.
    made: Vec<OwnedFd>,
    /// Where each frame waiting ends, with its task id.
    ends: VecDeque<(usize, u64)>,
    /// The task id of the frame a failed flush was sending.
    failed: Option<u64>,
}

impl Outgoing {
    /// Bytes waiting to be sent.
    pub fn waiting(&self) -> usize {
        self.bytes.len() - self.sent
    }

    /// Appends one frame. Byte buffers of `threshold` bytes or more go through a memfd.
    /// Descriptors must stay open until the frame is sent. Fails, queueing nothing, when
    /// the frame has more descriptors than it has bytes to carry them (see the module
    /// docs) or a memfd cannot be made.
    pub fn push(
        &mut self,
        kind: u32,
        id: u64,
        buffers: &[Chunk<'_>],
        fds: &[BorrowedFd<'_>],
        threshold: usize,
    ) -> io::Result<()> {
        let nshm = buffers
            .iter()
            .filter(|b| b.placement(threshold) != 0)
            .count();
        let inline: usize = buffers
            .iter()
            .filter(|b| b.placement(threshold) == 0)
            .map(Chunk::len)
            .sum();
        let frame_len = HEADER + buffers.len() * PER_BUFFER + inline;
        // Descriptors join the last unsent group while it has room (they may arrive ahead
        // of their frame: the reader queues them); the rest go MAX_FDS to a group, group k
        // sent with byte k of this frame.
        let room = match self.groups.back() {
            Some((_, group)) => MAX_FDS - group.len(),
            None => 0,
        };
        let total = fds.len() + nshm;
        if total.saturating_sub(room).div_ceil(MAX_FDS) > frame_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("too many file descriptors in one message ({total} in {frame_len} bytes)"),
            ));
        }
        let mut raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let start = self.bytes.len();
        let made = self.made.len();
        let put = |s: &mut Vec<u8>, v: &[u8]| s.extend_from_slice(v);
        let s = &mut self.bytes;
        put(s, &kind.to_ne_bytes());
        put(s, &(fds.len() as u32).to_ne_bytes());
        put(s, &(buffers.len() as u32).to_ne_bytes());
        put(s, &(nshm as u32).to_ne_bytes());
        put(s, &id.to_ne_bytes());
        for b in buffers {
            put(s, &(b.len() as u64).to_ne_bytes());
            put(s, &b.placement(threshold).to_ne_bytes());
        }
        for b in buffers {
            match *b {
                Chunk::Memfd(fd, _) | Chunk::Segment(fd, _, _) => raw.push(fd.as_raw_fd()),
                Chunk::Bytes(b) if b.len() >= threshold => {
                    let fd = match memfd_with(c"brinery-buffer", b) {
                        Ok(fd) => fd,
                        Err(e) => {
                            self.bytes.truncate(start);
                            self.made.truncate(made);
                            return Err(e);
                        }
                    };
                    raw.push(fd.as_raw_fd());
                    self.made.push(fd);
                }
                Chunk::Bytes(b) => put(&mut self.bytes, b),
            }
        }
        let mut rest = &raw[..];
        if let Some((_, group)) = self.groups.back_mut() {
            let (now, later) = rest.split_at(room.min(rest.len()));
            group.extend_from_slice(now);
            rest = later;
        }
        for (k, group) in rest.chunks(MAX_FDS).enumerate() {
            self.groups.push_back((start + k, group.to_vec()));
        }
        self.ends.push_back((self.bytes.len(), id));
        Ok(())
    }

    /// Appends a `RELEASE` frame giving back `tokens`.
    pub fn push_release(&mut self, tokens: &[u64]) -> io::Result<()> {
        let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_ne_bytes()).collect();
        self.push(RELEASE, 0, &[Chunk::Bytes(&bytes)], &[], usize::MAX)
    }

    /// Appends a `SHUTDOWN` frame and flushes.
    pub fn send_shutdown(&mut self, sock: BorrowedFd<'_>, nonblocking: bool) -> io::Result<bool> {
        self.push(SHUTDOWN, 0, &[], &[], usize::MAX)?;
        self.flush(sock, nonblocking)
    }

    /// Sends the waiting frames: `Ok(true)` once all are sent, `Ok(false)` when a
    /// nonblocking flush found the socket full (the rest waits for the next flush). On
    /// error the waiting frames are dropped (the peer is gone or broken).
    pub fn flush(&mut self, sock: BorrowedFd<'_>, nonblocking: bool) -> io::Result<bool> {
        while self.sent < self.bytes.len() {
            let (end, fds): (usize, &[RawFd]) = match self.groups.front() {
                Some((start, fds)) if *start == self.sent => {
                    let end = self.groups.get(1).map_or(self.bytes.len(), |g| g.0);
                    (end, fds)
                }
                Some((start, _)) => (*start, &[]),
                None => (self.bytes.len(), &[]),
            };
            let with_fds = !fds.is_empty();
            match sendmsg(sock, &self.bytes[self.sent..end], fds, nonblocking) {
                Ok(n) => {
                    if with_fds {
                        self.groups.pop_front();
                    }
                    self.sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => {
                    self.failed = self.ends.iter().find(|f| f.0 > self.sent).map(|f| f.1);
                    self.clear();
                    return Err(e);
                }
            }
        }
        self.clear();
        Ok(true)
    }

    /// The task id of the frame the last failed flush was sending.
    pub fn take_failed(&mut self) -> Option<u64> {
        self.failed.take()
    }

    fn clear(&mut self) {
        self.ends.clear();
        self.bytes.clear();
        self.sent = 0;
        self.groups.clear();
        self.made.clear();
    }
}

/// The tokens listed in a `RELEASE` frame.
pub(crate) fn released_tokens(msg: &Message) -> impl Iterator<Item = u64> + '_ {
    msg.buffers
        .iter()
        .flat_map(|b| b.chunks_exact(8))
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")))
}

fn sendmsg(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[RawFd],
    nonblocking: bool,
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut _,
        iov_len: bytes.len(),
    };
    let mut cbuf = if fds.is_empty() {
        Vec::new()
    } else {
        vec![0u64; cmsg_space(fds.len()).div_ceil(8)]
    };
    // SAFETY: msghdr is plain data; zeroed is a valid "no name, no control" header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = cmsg_space(fds.len()) as _;
        // SAFETY: the control buffer is large enough for one SCM_RIGHTS header with
        // `fds.len()` descriptors, as computed by CMSG_SPACE.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(c) as *mut RawFd,
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: msg points at live buffers for the duration of the call.
        let flags = libc::MSG_NOSIGNAL | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
        let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, flags) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn cmsg_space(nfds: usize) -> usize {
    // SAFETY: pure arithmetic macro.
    unsafe { libc::CMSG_SPACE((nfds * size_of::<RawFd>()) as u32) as usize }
}

/// A connected pair of close-on-exec Unix stream sockets.
pub fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us both descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

mod reader;
pub(crate) use reader::{FrameReader, SPIN};

#[cfg(test)]
mod wait_tests;
