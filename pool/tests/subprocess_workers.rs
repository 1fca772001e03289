//! The pool against real worker processes (`brinery-pool-test-worker`): results, crashes by
//! exit code and signal, hangs past the timeout, fd passing, shared-memory buffers,
//! retirement, cancellation, shutdown, and no zombies left behind.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use brinery_pool::{Config, Death, Message, Pool, Spawn, TaskError};

mod common;
use common::{cmd, collect, err, pool, pool_with, spawn, text};

/// Whether `pid` still exists in any state (a zombie counts).
fn exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn echo_roundtrip_in_subprocess() {
    let mut p = pool(2);
    let ids: Vec<_> = (0..200).map(|_| p.submit(cmd("echo"))).collect();
    let got = collect(&mut p, &ids);
    assert!(ids.iter().all(|id| text(&got[id]) == "echo"));
}

#[test]
fn crash_fails_only_its_task_in_subprocess() {
    let mut p = pool(2);
    let before = p.submit(cmd("pid"));
    let exit = p.submit(cmd("exit 7"));
    let segv = p.submit(cmd("segv"));
    let abort = p.submit(cmd("abort"));
    let after: Vec<_> = (0..20).map(|_| p.submit(cmd("echo"))).collect();
    let mut ids = vec![before, exit, segv, abort];
    ids.extend(&after);
    let got = collect(&mut p, &ids);
    text(&got[&before]);
    match err(&got[&exit]) {
        TaskError::WorkerDied { death, stage, .. } => {
            assert_eq!(*death, Death::Exited(7));
            assert_eq!(stage, "running the task");
        }
        e => panic!("unexpected {e}"),
    }
    assert!(
        err(&got[&segv]).to_string().contains("SIGSEGV"),
        "{}",
        err(&got[&segv])
    );
    assert!(err(&got[&abort]).to_string().contains("SIGABRT"));
    assert!(after.iter().all(|id| text(&got[id]) == "echo"));
    assert_eq!(p.worker_pids().len(), 2, "crashed workers are replaced");
}

#[test]
fn stage_reported_before_death_names_the_stage_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        stage_names: ["idle", "receiving", "running", "pickling the result"]
            .map(String::from)
            .to_vec(),
        ..Config::default()
    });
    let id = p.submit(cmd("stage 3 exit 4"));
    let got = collect(&mut p, &[id]);
    let msg = err(&got[&id]).to_string();
    assert!(
        msg.contains("exited with code 4 while pickling the result"),
        "{msg}"
    );
}

#[test]
fn sigkill_of_a_worker_fails_its_task_in_subprocess() {
    let mut p = pool(1);
    let pid: i32 = {
        let id = p.submit(cmd("pid"));
        text(&collect(&mut p, &[id])[&id]).parse().unwrap()
    };
    let hang = p.submit(cmd("sleep 10000"));
    let next = p.submit(cmd("echo"));
    // Let the worker pick the task up, then kill it from outside.
    assert!(p.wait(Some(Duration::from_millis(200))).unwrap().is_empty());
    // SAFETY: pid is our pool's worker.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let t = Instant::now();
    let got = collect(&mut p, &[hang, next]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(err(&got[&hang]).to_string().contains("SIGKILL"));
    assert_eq!(text(&got[&next]), "echo");
}

#[test]
fn timeout_kills_and_replaces_the_worker_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        task_timeout: Some(Duration::from_millis(300)),
        ..Config::default()
    });
    let t = Instant::now();
    let hang = p.submit(cmd("hang"));
    let next = p.submit(cmd("echo"));
    let got = collect(&mut p, &[hang, next]);
    assert!(matches!(err(&got[&hang]), TaskError::Timeout { .. }));
    assert_eq!(text(&got[&next]), "echo");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn fds_travel_both_ways_in_subprocess() {
    let mut p = pool(1);
    let (mut r, w) = std::io::pipe().unwrap();
    let id = p.submit(Message::new(vec![b"echo".to_vec()], vec![OwnedFd::from(w)]));
    let mut got = collect(&mut p, &[id]);
    let mut msg = got.remove(&id).unwrap().result.unwrap();
    assert_eq!(msg.fds.len(), 1);
    let mut back = std::fs::File::from(msg.take_fds().unwrap().remove(0));
    back.write_all(b"through two processes").unwrap();
    drop(back);
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "through two processes");
}

#[test]
fn large_buffers_go_through_shared_memory_in_subprocess() {
    let mut p = pool(1);
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = big.iter().map(|&x| u64::from(x)).sum();
    let id = p.submit(Message::new(vec![b"sum".to_vec(), big.clone()], vec![]));
    let echo = p.submit(Message::new(vec![b"echo".to_vec(), big.clone()], vec![]));
    let mut got = collect(&mut p, &[id, echo]);
    assert_eq!(text(&got[&id]), format!("5000000 {sum}"));
    let back = got.remove(&echo).unwrap().result.unwrap();
    assert!(matches!(back.buffers[1], brinery_pool::Buffer::Shared(_)));
    assert!(back.buffers[1][..] == big[..]);
}

#[test]
fn max_tasks_per_child_retires_workers_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        max_tasks_per_child: Some(2),
        ..Config::default()
    });
    let ids: Vec<_> = (0..6).map(|_| p.submit(cmd("pid"))).collect();
    let got = collect(&mut p, &ids);
    let pids: Vec<String> = ids.iter().map(|id| text(&got[id])).collect();
    assert_eq!(pids[0], pids[1]);
    assert_ne!(pids[1], pids[2]);
    assert_eq!(pids[2], pids[3]);
    assert_ne!(pids[3], pids[4]);
}

#[test]
fn cancel_pending_tasks_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        prefetch: 0,
        ..Config::default()
    });
    let slow = p.submit(cmd("sleep 200"));
    let queued = p.submit(cmd("echo"));
    assert!(p.cancel(queued));
    let got = collect(&mut p, &[slow, queued]);
    assert_eq!(text(&got[&slow]), "slept");
    assert_eq!(err(&got[&queued]), &TaskError::Cancelled);
}

#[test]
fn cancel_from_another_thread_reports_only_queued_tasks_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        prefetch: 0,
        ..Config::default()
    });
    let s = p.submitter();
    let running = s.submit(cmd("hang"));
    let queued = s.submit(cmd("echo"));
    // One turn of the loop hands `running` to the worker; `queued` waits behind it.
    assert!(p.wait(Some(Duration::from_millis(50))).unwrap().is_empty());
    let asker = std::thread::spawn(move || s.request_cancel(vec![running, queued]).recv());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while !asker.is_finished() && Instant::now() < deadline {
        got.extend(p.wait(Some(Duration::from_millis(20))).unwrap());
    }
    assert_eq!(
        asker.join().unwrap().unwrap(),
        vec![queued],
        "not the running one"
    );
    got.extend(p.wait(Some(Duration::from_millis(20))).unwrap());
    let ids: Vec<_> = got.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![queued]);
    assert_eq!(err(&got[0]), &TaskError::Cancelled);

    let s = p.submitter();
    p.shutdown(true).unwrap();
    assert!(
        s.request_cancel(vec![running]).recv().is_err(),
        "a pool that has shut down answers at once"
    );
}

#[test]
fn submitter_from_another_thread_wakes_the_loop_in_subprocess() {
    let mut p = pool(1);
    let s = p.submitter();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        s.submit(cmd("echo"))
    });
    let start = Instant::now();
    let mut out = Vec::new();
    while out.is_empty() && start.elapsed() < Duration::from_secs(10) {
        out = p.wait(Some(Duration::from_secs(10))).unwrap();
    }
    let id = t.join().unwrap();
    assert_eq!(out[0].id, id);
}

#[test]
fn worker_that_cannot_start_fails_tasks_instead_of_looping_in_subprocess() {
    let mut p = Pool::new(
        Config::default(),
        Spawn::new("/bin/sh").arg("-c").arg("exit 3"),
    )
    .unwrap();
    let id = p.submit(cmd("echo"));
    let got = collect(&mut p, &[id]);
    assert!(matches!(
        err(&got[&id]),
        TaskError::WorkersCannotStart(Death::Exited(3))
    ));
}

#[test]
fn graceful_shutdown_finishes_tasks_and_reaps_in_subprocess() {
    let mut p = pool(2);
    let pids = p.worker_pids();
    let ids: Vec<_> = (0..10).map(|_| p.submit(cmd("sleep 10"))).collect();
    let out = p.shutdown(false).unwrap();
    assert_eq!(out.len(), ids.len());
    assert!(out.iter().all(|o| text(o) == "slept"));
    assert!(pids.iter().all(|&pid| !exists(pid)), "no zombie left");
}

#[test]
fn immediate_shutdown_and_drop_reap_in_subprocess() {
    let mut p = pool(2);
    let pids = p.worker_pids();
    let running = p.submit(cmd("hang"));
    let queued: Vec<_> = (0..5).map(|_| p.submit(cmd("echo"))).collect();
    let mut out = p.wait(Some(Duration::from_millis(100))).unwrap();
    out.extend(p.shutdown(true).unwrap());
    assert!(out
        .iter()
        .any(|o| o.id == running && o.result.as_ref().err() == Some(&TaskError::Shutdown)));
    assert_eq!(out.len(), 1 + queued.len());
    assert!(pids.iter().all(|&pid| !exists(pid)));

    let p = pool(2);
    let pids = p.worker_pids();
    drop(p);
    assert!(pids.iter().all(|&pid| !exists(pid)));
}

#[test]
fn closure_launcher_starts_workers_in_subprocess() {
    let launch = |fds: &brinery_pool::WorkerFds, parent_only: &[i32]| {
        assert!(!parent_only.is_empty());
        spawn().launch(fds, parent_only)
    };
    use brinery_pool::Launcher;
    let mut p = Pool::new(Config::default(), launch).unwrap();
    let id = p.submit(cmd("echo"));
    assert_eq!(text(&collect(&mut p, &[id])[&id]), "echo");
}

#[test]
fn definitions_reach_each_worker_once_in_subprocess() {
    let mut p = pool_with(Config {
        workers: 1,
        max_tasks_per_child: Some(2),
        ..Config::default()
    });
    p.define(7, b"seven".to_vec());
    let s = p.submitter();
    s.define(8, b"eight".to_vec());
    let mut ids: Vec<_> = (0..4)
        .map(|_| p.submit_needing(cmd("def 7"), vec![7]))
        .collect();
    ids.push(s.submit_needing(cmd("def 8"), vec![8]));
    ids.push(p.submit(cmd("def 9")));
    let got = collect(&mut p, &ids);
    let texts: Vec<String> = ids.iter().map(|id| text(&got[id])).collect();
    // Workers are replaced every 2 tasks; each replacement gets the definition again.
    assert_eq!(&texts[..4], ["seven"; 4]);
    assert_eq!(texts[4], "eight");
    assert_eq!(texts[5], "missing");
}

#[test]
fn memfd_buffers_are_sent_without_copy_in_subprocess() {
    let mut p = pool(1);
    let big = vec![3u8; 1 << 20];
    let msg = Message {
        buffers: vec![
            brinery_pool::Buffer::Inline(b"sum".to_vec()),
            brinery_pool::Buffer::shared_copy(&big).unwrap(),
        ],
        fds: vec![],
    };
    let id = p.submit(msg);
    let got = collect(&mut p, &[id]);
    assert_eq!(text(&got[&id]), format!("{} {}", 1 << 20, 3 << 20));
}

#[test]
fn full_sockets_both_ways_do_not_deadlock_in_subprocess() {
    // Many tasks queued at the worker, each with a large inline buffer the worker echoes
    // back: both directions fill their socket buffers at once. The pool must keep reading
    // results while tasks wait to be sent.
    let mut p = pool_with(Config {
        workers: 1,
        prefetch: 64,
        ..Config::default()
    });
    let payload = vec![7u8; 60_000];
    let ids: Vec<_> = (0..300)
        .map(|_| {
            p.submit(Message::new(
                vec![b"echo".to_vec(), payload.clone()],
                vec![],
            ))
        })
        .collect();
    let got = collect(&mut p, &ids);
    for id in &ids {
        let msg = got[id].result.as_ref().unwrap();
        assert!(msg.buffers[1][..] == payload[..]);
    }
}
