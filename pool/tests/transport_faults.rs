//! Faults one task brings to the transport must fail that task alone and leave the event
//! loop running: frames with more descriptors than one `sendmsg` takes (they are split),
//! frames with more than a frame can carry at all, malformed result frames. And the task
//! clock: `task_timeout` counts from the worker's start on the task, not from its queueing
//! or the worker's set-up.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use brinery_pool::{Config, Death, Message, Pool, Spawn, TaskError};

mod common;
use common::{cmd, collect, err, pool, pool_with, spawn, text};

/// Many descriptors: duplicates of one end of a socket pair.
fn fds(n: usize) -> Vec<OwnedFd> {
    let (a, _b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    (0..n)
        .map(|_| a.as_fd().try_clone_to_owned().expect("dup"))
        .collect()
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[test]
fn more_than_250_buffers_and_fds_travel_both_ways_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        shm_threshold: 1,
        ..Config::default()
    });
    let slow = p.submit(cmd("sleep 100"));
    let mut bufs = vec![b"echo".to_vec()];
    bufs.extend((0..300u32).map(|i| i.to_ne_bytes().to_vec()));
    let many = p.submit(Message::new(bufs, fds(300)));
    let after = p.submit(cmd("pid"));
    let got = collect(&mut p, &[slow, many, after]);
    assert_eq!(text(&got[&slow]), "slept");
    let back = got[&many].result.as_ref().expect("echoed");
    assert_eq!(back.buffers.len(), 301);
    assert_eq!(back.fds.len(), 300);
    assert!((0..300u32).all(|i| back.buffers[1 + i as usize][..] == i.to_ne_bytes()));
    text(&got[&after]);
}

#[test]
fn a_task_with_more_descriptors_than_its_frame_carries_fails_alone_in_subprocess() {
    raise_fd_limit();
    let mut p = pool(1);
    let before = p.submit(cmd("pid"));
    // A frame of one 4-byte buffer is 44 bytes: 250 descriptors a byte is 11,000.
    let over = p.submit(Message::new(vec![b"echo".to_vec()], fds(11_001)));
    let after = p.submit(cmd("pid"));
    let got = collect(&mut p, &[before, over, after]);
    match err(&got[&over]) {
        TaskError::Transport { stage, reason } => {
            assert_eq!(*stage, "sending the task");
            assert!(reason.contains("too many file descriptors"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(text(&got[&before]), text(&got[&after]), "same worker");
}

#[test]
fn a_malformed_result_fails_its_task_and_the_worker_is_replaced_in_subprocess() {
    let mut p = pool(1);
    let before = p.submit(cmd("pid"));
    let bad = p.submit(cmd("garbage"));
    let after = p.submit(cmd("pid"));
    let got = collect(&mut p, &[before, bad, after]);
    match err(&got[&bad]) {
        TaskError::Transport { stage, reason } => {
            assert_eq!(*stage, "receiving the result");
            assert!(reason.contains("descriptors missing"), "{reason}");
        }
        e => panic!("unexpected {e}"),
    }
    assert_ne!(text(&got[&before]), text(&got[&after]), "replaced");
}

fn slow_worker(var: &str, ms: &str) -> Spawn {
    let mut s = spawn();
    s.env.push((var.into(), ms.into()));
    s
}

fn timed_pool(launcher: Spawn) -> Pool {
    let cfg = Config {
        workers: 1,
        task_timeout: Some(Duration::from_secs(2)),
        ..Config::default()
    };
    Pool::new(cfg, launcher).expect("pool starts")
}

#[test]
fn the_timeout_counts_from_the_worker_start_not_from_queueing_in_subprocess() {
    // Queued at t=0, picked up after the 1 s start-up, running 1.5 s: under 2 s of its own.
    let mut p = timed_pool(slow_worker("BRINERY_TEST_WORKER_STARTUP_MS", "1000"));
    let id = p.submit(cmd("sleep 1500"));
    assert_eq!(text(&collect(&mut p, &[id])[&id]), "slept");
}

#[test]
fn the_timeout_does_not_count_the_worker_set_up_in_subprocess() {
    let mut p = timed_pool(slow_worker("BRINERY_TEST_WORKER_SETUP_MS", "1000"));
    let id = p.submit(cmd("sleep 1500"));
    assert_eq!(text(&collect(&mut p, &[id])[&id]), "slept");
    // The clock still runs for a task that hangs.
    let hung = p.submit(cmd("hang"));
    assert!(matches!(
        err(&collect(&mut p, &[hung])[&hung]),
        TaskError::Timeout { .. }
    ));
}

#[test]
fn a_worker_dying_in_set_up_counts_as_failing_to_start_in_subprocess() {
    let mut s = slow_worker("BRINERY_TEST_WORKER_SETUP_MS", "0");
    s.env
        .push(("BRINERY_TEST_WORKER_SETUP_EXIT".into(), "3".into()));
    let mut p = Pool::new(Config::default(), s).expect("pool starts");
    let id = p.submit(cmd("echo"));
    assert!(matches!(
        err(&collect(&mut p, &[id])[&id]),
        TaskError::WorkersCannotStart(Death::Exited(3))
    ));
}
