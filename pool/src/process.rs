//! Worker processes as the parent sees them: a pidfd that becomes readable the moment the
//! process ends (no polling sleeps, no SIGCHLD handler), reaping into a [`Death`], and
//! signal names for error messages. Starting processes is [`crate::launch`]'s job.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::Death;

/// `pidfd_open(2)`: a descriptor that polls readable when `pid` exits.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; a non-negative result is a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits for `pid` (which must be our child) and says how it ended.
pub fn reap(pid: libc::pid_t) -> io::Result<Death> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if r < 0 && err.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(err);
    }
    Ok(if libc::WIFSIGNALED(status) {
        Death::Signaled(libc::WTERMSIG(status))
    } else {
        Death::Exited(libc::WEXITSTATUS(status))
    })
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub fn kill(pid: libc::pid_t, sig: i32) {
    // SAFETY: plain syscall; the pid is our unreaped child, so it cannot have been reused.
    unsafe { libc::kill(pid, sig) };
}

/// The conventional name of a signal number (`SIGSEGV`), or `signal N`.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}
