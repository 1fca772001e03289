//! Descriptors that many queued messages pass: one duplicate per open file, shared by
//! reference count between all the messages that carry it, so a `Queue` sent with each
//! of 10,000 tasks costs the sending process one descriptor per pipe end, not one per
//! task waiting to go out. The kernel makes each receiver's own copy when `SCM_RIGHTS`
//! sends it. Not for deciding what a descriptor means (the bindings) nor for sending it
//! (`frame`).
//!
//! [`FdShare`] recognises the caller's descriptor by its number, and checks that the
//! number still names the same open file description as the duplicate it holds (the
//! caller may have closed it and opened something else since): with `kcmp(2)` where the
//! kernel allows it, otherwise by device, inode and status flags.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, Weak};

/// A descriptor a message passes, possibly shared with other messages (cloning it
/// shares it; the descriptor closes with its last holder).
#[derive(Debug, Clone)]
pub struct SharedFd(Arc<OwnedFd>);

impl SharedFd {
    /// The descriptor itself when this is its only holder (always so for a received
    /// message), otherwise a close-on-exec duplicate.
    pub fn into_owned(self) -> io::Result<OwnedFd> {
        match Arc::try_unwrap(self.0) {
            Ok(fd) => Ok(fd),
            Err(shared) => shared.try_clone(),
        }
    }
}

impl From<OwnedFd> for SharedFd {
    fn from(fd: OwnedFd) -> SharedFd {
        SharedFd(Arc::new(fd))
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Above this many remembered numbers, those whose duplicate has closed are forgotten.
const PRUNE_AT: usize = 256;

/// Hands out shared duplicates of the caller's descriptors: the same open file gets the
/// same duplicate while any message still holds it. Thread-safe.
#[derive(Default)]
pub struct FdShare {
    by_number: Mutex<HashMap<RawFd, Weak<OwnedFd>>>,
}

impl FdShare {
    pub fn new() -> FdShare {
        FdShare::default()
    }

    /// A shared duplicate of `fd`, which stays the caller's.
    pub fn share(&self, fd: BorrowedFd<'_>) -> io::Result<SharedFd> {
        let number = fd.as_raw_fd();
        let mut by_number = self.by_number.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(held) = by_number.get(&number).and_then(Weak::upgrade) {
            if same_file(fd, held.as_fd()) {
                return Ok(SharedFd(held));
            }
        }
        let dup = Arc::new(fd.try_clone_to_owned()?);
        if by_number.len() >= PRUNE_AT {
            by_number.retain(|_, held| held.strong_count() > 0);
        }
        by_number.insert(number, Arc::downgrade(&dup));
        Ok(SharedFd(dup))
    }

    /// How many distinct duplicates are alive (held by some message).
    pub fn alive(&self) -> usize {
        let by_number = self.by_number.lock().unwrap_or_else(|p| p.into_inner());
        by_number.values().filter(|w| w.strong_count() > 0).count()
    }
}

/// Whether `a` and `b` name the same open file description.
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: a plain syscall on descriptors we hold; the result is only compared.
    let r = unsafe {
        let pid = libc::getpid();
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a.as_raw_fd(),
            b.as_raw_fd(),
        )
    };
    if r >= 0 {
        return r == 0;
    }
    // kcmp refused (a seccomp filter, a kernel without it): the same file, opened with
    // the same flags, is as near as the rest of the system lets us look.
    same_file_and_flags(a, b)
}

fn same_file_and_flags(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    // SAFETY: plain syscalls on descriptors we hold, into zeroed plain-data structs.
    unsafe {
        let mut sa: libc::stat = std::mem::zeroed();
        let mut sb: libc::stat = std::mem::zeroed();
        if libc::fstat(a.as_raw_fd(), &mut sa) != 0 || libc::fstat(b.as_raw_fd(), &mut sb) != 0 {
            return false;
        }
        let fa = libc::fcntl(a.as_raw_fd(), libc::F_GETFL);
        let fb = libc::fcntl(b.as_raw_fd(), libc::F_GETFL);
        sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && fa >= 0 && fa == fb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::socketpair;

    #[test]
    fn the_same_descriptor_is_shared_and_closes_with_its_last_holder() {
        let share = FdShare::new();
        let (a, b) = socketpair().unwrap();
        let one = share.share(a.as_fd()).unwrap();
        let two = share.share(a.as_fd()).unwrap();
        assert_eq!(one.as_raw_fd(), two.as_raw_fd());
        assert_ne!(one.as_raw_fd(), a.as_raw_fd());
        let other = share.share(b.as_fd()).unwrap();
        assert_ne!(other.as_raw_fd(), one.as_raw_fd());
        assert_eq!(share.alive(), 2);
        drop((one, two, other));
        assert_eq!(share.alive(), 0);
    }

    #[test]
    fn a_number_reused_for_another_file_gets_its_own_duplicate() {
        let share = FdShare::new();
        let (a, _peer) = socketpair().unwrap();
        let first = share.share(a.as_fd()).unwrap();
        // The caller's number now names another socket (as if closed and reopened).
        let (c, _d) = socketpair().unwrap();
        // SAFETY: both descriptors are ours; dup2 replaces `a`'s file in place.
        assert!(unsafe { libc::dup2(c.as_raw_fd(), a.as_raw_fd()) } >= 0);
        let second = share.share(a.as_fd()).unwrap();
        assert_ne!(first.as_raw_fd(), second.as_raw_fd());
        assert!(same_file(second.as_fd(), c.as_fd()));
        assert!(!same_file(first.as_fd(), c.as_fd()));
        // And where kcmp is refused, the fallback tells them apart too.
        assert!(same_file_and_flags(second.as_fd(), c.as_fd()));
        assert!(!same_file_and_flags(first.as_fd(), c.as_fd()));
    }

    #[test]
    fn into_owned_duplicates_only_when_shared() {
        let (a, _b) = socketpair().unwrap();
        let raw = a.as_raw_fd();
        let solo = SharedFd::from(a);
        assert_eq!(solo.into_owned().unwrap().as_raw_fd(), raw);
        let (c, _d) = socketpair().unwrap();
        let shared = SharedFd::from(c);
        let keep = shared.clone();
        let copy = shared.into_owned().unwrap();
        assert_ne!(copy.as_raw_fd(), keep.as_raw_fd());
        assert!(same_file(copy.as_fd(), keep.as_fd()));
    }
}
