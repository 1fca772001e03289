//! How a worker process comes to exist. The pool hands a [`Launcher`] the worker's end of
//! the socket pair and its stage page; the launcher starts a process serving them and
//! returns its pid. [`Spawn`] execs a worker command; any `FnMut` with the right shape is
//! a launcher too, which is how a binding forks through its host (Python's `os.fork()`,
//! so that the interpreter's fork hooks run).

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// Environment variable through which a spawned worker learns its descriptors:
/// `"<socket fd>,<stage page fd>"`.
pub const FDS_ENV: &str = "BRINERY_POOL_FDS";

/// The child's ends of a new worker's channels.
#[derive(Debug)]
pub struct WorkerFds {
    pub socket: OwnedFd,
    pub stage: OwnedFd,
}

/// Starts worker processes.
pub trait Launcher: Send {
    /// Starts one worker serving `fds` and returns its pid. The process must be a child
    /// of the calling thread's process. `parent_only` lists descriptors (the other
    /// workers' parent ends) that a forked child should close.
    fn launch(&mut self, fds: &WorkerFds, parent_only: &[RawFd]) -> io::Result<libc::pid_t>;
}

impl<F> Launcher for F
where
    F: FnMut(&WorkerFds, &[RawFd]) -> io::Result<libc::pid_t> + Send,
{
    fn launch(&mut self, fds: &WorkerFds, parent_only: &[RawFd]) -> io::Result<libc::pid_t> {
        self(fds, parent_only)
    }
}

/// Execs `program args...` with [`FDS_ENV`] set; the worker dies with its parent.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

impl Spawn {
    pub fn new(program: impl Into<PathBuf>) -> Spawn {
        Spawn {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Spawn {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spawn {
        self.env.push((key.into(), value.into()));
        self
    }
}

impl Launcher for Spawn {
    fn launch(&mut self, fds: &WorkerFds, _parent_only: &[RawFd]) -> io::Result<libc::pid_t> {
        let (sock, stage) = (fds.socket.as_raw_fd(), fds.stage.as_raw_fd());
        // SAFETY: getpid is always safe.
        let parent = unsafe { libc::getpid() };
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(FDS_ENV, format!("{sock},{stage}"));
        // SAFETY: the closure runs between fork and exec and only makes
        // async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                for fd in [sock, stage] {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                die_with_parent(parent)
            });
        }
        let child = cmd.spawn()?;
        // `Child` has no Drop side effects; the pool reaps the pid itself.
        Ok(child.id() as libc::pid_t)
    }
}

/// In a new worker: ask for SIGKILL when the parent dies, and exit at once if it is
/// already gone (`parent` is the pid it had before the fork). Async-signal-safe.
pub fn die_with_parent(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: plain syscalls with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            libc::_exit(1);
        }
    }
    Ok(())
}
