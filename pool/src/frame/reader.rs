//! The reading end of a frame stream: [`FrameReader`] reassembles frames from a stream
//! socket (and the descriptors that came with them), and waits for them without being
//! woken by what the peer does with the frames this end sent.

use std::time::{Duration, Instant};

use super::*;

/// Reassembles frames from a stream socket, keeping descriptors that arrived ahead of
/// the frame they belong to.
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    fds: VecDeque<OwnedFd>,
    cbuf: Vec<u64>,
    /// Where received lent segments give their tokens back when dropped.
    pub returns: Returns,
    /// [`FrameReader::recv`] polls without sleeping, for up to [`SPIN`], before it
    /// sleeps: the last input came within [`SPIN`] of the wait for it starting.
    quick: bool,
    /// Reads that found nothing (for the tests of how it waits).
    #[cfg(test)]
    pub(super) empty_reads: u64,
}

impl FrameReader {
    pub fn new() -> FrameReader {
        FrameReader {
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            fds: VecDeque::new(),
            cbuf: vec![0u64; cmsg_space(MAX_FDS).div_ceil(8)],
            returns: Returns::default(),
            quick: false,
            #[cfg(test)]
            empty_reads: 0,
        }
    }

    /// Whether part of a frame is buffered.
    pub fn has_partial(&self) -> bool {
        self.end > self.start
    }

    /// Reads once from `sock`; returns the byte count (0 at end of stream). With
    /// `nonblocking`, an empty socket gives `WouldBlock`.
    pub fn fill(&mut self, sock: BorrowedFd<'_>, nonblocking: bool) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 4096 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < 4096 {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let mut iov = libc::iovec {
            iov_base: self.buf[self.end..].as_mut_ptr().cast(),
            iov_len: self.buf.len() - self.end,
        };
        let cbuf = &mut self.cbuf;
        // SAFETY: zeroed msghdr is valid; we fill the pointers below.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = (cbuf.len() * 8) as _;
        let flags = libc::MSG_CMSG_CLOEXEC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
        let n = loop {
            // SAFETY: msg points at live buffers for the duration of the call.
            let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, flags) };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        };
        // SAFETY: walking the control messages the kernel wrote into `cbuf`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c) as *const RawFd;
                    let count =
                        ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                    for i in 0..count {
                        let fd = std::ptr::read_unaligned(data.add(i));
                        self.fds.push_back(OwnedFd::from_raw_fd(fd));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        self.end += n;
        Ok(n)
    }

    /// The next complete frame in the buffer, if any.
    pub fn parse(&mut self) -> Result<Option<Frame>, &'static str> {
        let avail = &self.buf[self.start..self.end];
        if avail.len() < HEADER {
            return Ok(None);
        }
        let u32_at = |o: usize| u32::from_ne_bytes(avail[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_ne_bytes(avail[o..o + 8].try_into().unwrap());
        let (kind, nfds, nbuf, nshm, id) = (
            u32_at(0),
            u32_at(4) as usize,
            u32_at(8) as usize,
            u32_at(12) as usize,
            u64_at(16),
        );
        if nbuf > 1 << 20 {
            return Err("too many buffers");
        }
        let table = HEADER + nbuf * PER_BUFFER;
        if avail.len() < table {
            return Ok(None);
        }
        let mut total = table;
        for i in 0..nbuf {
            if u64_at(HEADER + i * PER_BUFFER + 8) == 0 {
                total += u64_at(HEADER + i * PER_BUFFER) as usize;
            }
        }
        if avail.len() < total {
            return Ok(None);
        }
        if self.fds.len() < nfds + nshm {
            return Err("descriptors missing");
        }
        let fds: Vec<SharedFd> = self.fds.drain(..nfds).map(SharedFd::from).collect();
        let mut buffers = Vec::with_capacity(nbuf);
        let mut at = table;
        for i in 0..nbuf {
            let len = u64_at(HEADER + i * PER_BUFFER) as usize;
            let placement = u64_at(HEADER + i * PER_BUFFER + 8);
            if placement == 0 {
                buffers.push(Buffer::Inline(avail[at..at + len].to_vec()));
                at += len;
            } else {
                let fd = self.fds.pop_front().ok_or("descriptors missing")?;
                let map = Mapping::new(fd.as_fd(), len, false).map_err(|_| "cannot map buffer")?;
                buffers.push(if placement >= FIRST_TOKEN {
                    Buffer::Lent(LentMapping::new(map, placement, self.returns.clone()))
                } else {
                    Buffer::Shared(map)
                });
            }
        }
        self.start += total;
        Ok(Some(Frame {
            kind,
            id,
            msg: Message { buffers, fds },
        }))
    }

    /// Blocks until a whole frame arrives; `None` at a clean end of stream.
    ///
    /// It waits in `poll` for input, not in a blocking read: a thread asleep in `recvmsg`
    /// on a Unix stream socket is woken, for nothing, each time the peer reads what this
    /// end sent (freeing send buffer space wakes every sleeper on the socket), and such a
    /// wake costs two context switches per round trip; a poll for input sleeps until
    /// input comes. It reads first and polls only when nothing is there (a syscall fewer
    /// a frame while input comes faster than it is read), and while input has been
    /// coming within [`SPIN`] of each wait starting, it keeps reading without sleeping
    /// for that long before it polls.
    pub fn recv(&mut self, sock: BorrowedFd<'_>) -> io::Result<Option<Frame>> {
        // When this end started waiting for input, and until when it polls without sleeping.
        let mut idle: Option<(Instant, Instant)> = None;
        loop {
            match self.parse() {
                Ok(Some(f)) => return Ok(Some(f)),
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let n = loop {
                if let Some((since, spin_end)) = idle {
                    let now = Instant::now();
                    if now >= spin_end {
                        wait_readable(sock)?;
                        self.quick = since.elapsed() < SPIN;
                        break self.fill(sock, false)?;
                    }
                    // SAFETY: a plain syscall (the peer, if it shares this CPU, runs now).
                    unsafe { libc::sched_yield() };
                }
                match self.fill(sock, true) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        #[cfg(test)]
                        {
                            self.empty_reads += 1;
                        }
                        if idle.is_none() {
                            let now = Instant::now();
                            let spin = if self.quick { SPIN } else { Duration::ZERO };
                            idle = Some((now, now + spin));
                        }
                    }
                    r => {
                        if let Some((since, _)) = idle {
                            self.quick = since.elapsed() < SPIN;
                        }
                        break r?;
                    }
                }
            };
            if n == 0 {
                if self.has_partial() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside a frame",
                    ));
                }
                return Ok(None);
            }
        }
    }
}

/// How long a waiter on either end polls without sleeping before it sleeps: the parent
/// waiting for a short task's reply (`SharedPool::collect`), and [`FrameReader::recv`]
/// once input has been coming within this long of each wait starting (a peer answering
/// at once, as a pool does with short tasks). On a VM, a sleeper on one vCPU woken from
/// another takes 10-30 µs to run, longer than the whole exchange; a wait that outlasts
/// this sleeps, and the reader's next one does not spin until input comes this quickly
/// again.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Sleeps until `sock` has input, or its peer hung up or failed (the read that follows
/// tells which).
fn wait_readable(sock: BorrowedFd<'_>) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: `p` is one live pollfd.
        if unsafe { libc::poll(&mut p, 1, -1) } >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
