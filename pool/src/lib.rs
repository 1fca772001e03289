//! `brinery-pool` starts, feeds and supervises worker processes for brinery's process
//! pool. It moves opaque messages (bytes buffers plus file descriptors) over Unix socket
//! pairs, puts large buffers in shared memory (reusing segments workers give back), and
//! notices at once when a worker exits or is killed, failing only the task that worker
//! was running. It knows nothing about
//! Python or pickles: the bindings decide what the bytes mean and how a worker is forked.

pub mod error;
pub mod fdshare;
pub mod frame;
pub mod launch;
pub mod process;
pub mod segment;
pub mod shm;
pub mod stage;
pub mod supervisor;
pub mod worker;

pub use error::{Death, PoolError, TaskError};
pub use fdshare::{FdShare, SharedFd};
pub use frame::{Buffer, Chunk, Message};
pub use launch::{Launcher, Spawn, WorkerFds};
pub use segment::{Segment, SegmentCache};
pub use stage::StagePage;
pub use supervisor::{
    Collected, Config, Outcome, Pool, SegmentStats, SharedPool, Submitter, TaskId,
};
pub use worker::Endpoint;
