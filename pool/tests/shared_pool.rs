//! `SharedPool` against real worker processes (`brinery-pool-test-worker`): a task sent
//! straight to an idle worker and collected by the submitting thread while another thread
//! runs the loop (also when its reply is in before the thread comes for it, and a long
//! task after short ones), a reserved task handed back to the loop, a worker dying under
//! a collecting thread, and the ramp-up (one worker at first, more for waiting tasks).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use brinery_pool::{Collected, Config, Outcome, SharedPool, TaskError, TaskId};

mod common;
use common::{cmd, spawn, text};

const WAIT: Duration = Duration::from_secs(20);

/// A shared pool whose loop runs on its own thread; its outcomes arrive on the channel.
fn running(
    cfg: Config,
) -> (
    Arc<SharedPool>,
    std::sync::mpsc::Receiver<Outcome>,
    thread::JoinHandle<()>,
) {
    let pool = Arc::new(SharedPool::new(
        brinery_pool::Pool::new(cfg, spawn()).expect("pool starts"),
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    let p = pool.clone();
    let driver = thread::spawn(move || {
        while Arc::strong_count(&p) > 1 {
            for o in p.wait(Some(Duration::from_millis(20))).expect("wait") {
                let _ = tx.send(o);
            }
        }
        for o in p.shutdown(false).expect("shutdown") {
            let _ = tx.send(o);
        }
    });
    (pool, rx, driver)
}

/// Task `id`'s outcome, read on this thread; false if it came from the loop instead (the
/// submission found the pool busy and went through the inbox).
fn collected(
    pool: &SharedPool,
    rx: &std::sync::mpsc::Receiver<Outcome>,
    id: TaskId,
) -> (Outcome, bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        match pool.collect(id, Duration::from_millis(100)) {
            Collected::Outcome(o) => return (o, true),
            Collected::NotYet => assert!(Instant::now() < deadline, "no outcome"),
            Collected::Elsewhere => return (from_loop(rx, id), false),
        }
    }
}

/// Task `id`'s outcome from the loop (outcomes of other tasks are dropped).
fn from_loop(rx: &std::sync::mpsc::Receiver<Outcome>, id: TaskId) -> Outcome {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let o = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the loop never delivered task {id}"));
        if o.id == id {
            return o;
        }
    }
}

fn one_worker() -> Config {
    Config {
        workers: 1,
        ..Config::default()
    }
}

#[test]
fn reserved_tasks_are_collected_by_the_waiting_thread_in_subprocess() {
    let (pool, rx, driver) = running(one_worker());
    let mut direct = 0;
    for i in 0..200 {
        let id = pool.submit(cmd("echo"), Vec::new(), true);
        let (o, here) = collected(&pool, &rx, id);
        assert_eq!(text(&o), "echo", "round trip {i}");
        direct += usize::from(here);
    }
    // (Only a submission that found the loop holding the pool went through it.)
    assert!(direct > 150, "{direct} of 200 read by the waiting thread");
    assert!(rx.try_recv().is_err());
    drop(pool);
    driver.join().unwrap();
}

#[test]
fn a_reply_already_in_is_collected_at_once_in_subprocess() {
    let (pool, rx, driver) = running(one_worker());
    for i in 0..20 {
        let id = pool.submit(cmd("echo"), Vec::new(), true);
        if i % 2 == 0 {
            // (The reply is in before the thread comes for it: reserved, the loop
            // leaves it there.)
            thread::sleep(Duration::from_millis(20));
        }
        // (From the loop when the submission found it holding the pool.)
        assert_eq!(text(&collected(&pool, &rx, id).0), "echo", "round trip {i}");
    }
    assert!(rx.try_recv().is_err());
    drop(pool);
    driver.join().unwrap();
}

#[test]
fn a_thread_used_to_short_tasks_still_waits_for_a_long_one_in_subprocess() {
    let (pool, rx, driver) = running(one_worker());
    // (After short tasks the waiting thread polls without sleeping for a moment first.)
    for i in 0..20 {
        let id = pool.submit(cmd("echo"), Vec::new(), true);
        assert_eq!(text(&collected(&pool, &rx, id).0), "echo", "round trip {i}");
    }
    let id = pool.submit(cmd("sleep 100"), Vec::new(), true);
    assert_eq!(text(&collected(&pool, &rx, id).0), "slept");
    let id = pool.submit(cmd("echo"), Vec::new(), true);
    assert_eq!(text(&collected(&pool, &rx, id).0), "echo");
    let id = pool.submit(cmd("sleep 100"), Vec::new(), true);
    // Not done at once: still running (`NotYet`), or not yet at its worker when the
    // call looks (`Elsewhere`, a race with the loop's send); either way the loop
    // delivers it.
    assert!(matches!(
        pool.collect(id, Duration::ZERO),
        Collected::NotYet | Collected::Elsewhere
    ));
    assert_eq!(text(&from_loop(&rx, id)), "slept");
    drop(pool);
    driver.join().unwrap();
}

#[test]
fn a_released_or_unreserved_task_comes_from_the_loop_in_subprocess() {
    let (pool, rx, driver) = running(one_worker());
    let id = pool.submit(cmd("sleep 50"), Vec::new(), true);
    pool.release(id);
    assert_eq!(text(&from_loop(&rx, id)), "slept");
    let id = pool.submit(cmd("echo"), Vec::new(), false);
    assert_eq!(text(&from_loop(&rx, id)), "echo");
    // A collect that runs out of time lets the loop have it.
    let id = pool.submit(cmd("sleep 100"), Vec::new(), true);
    assert!(matches!(
        pool.collect(id, Duration::ZERO),
        Collected::NotYet
    ));
    from_loop(&rx, id);
    drop(pool);
    driver.join().unwrap();
}

#[test]
fn a_worker_dying_under_a_collecting_thread_fails_its_task_in_subprocess() {
    let (pool, rx, driver) = running(one_worker());
    let id = pool.submit(cmd("exit 3"), Vec::new(), true);
    let o = match pool.collect(id, WAIT) {
        Collected::Outcome(o) => o,
        // The worker hung up first: the loop buries it and fails the task.
        Collected::Elsewhere => from_loop(&rx, id),
        Collected::NotYet => panic!("no outcome"),
    };
    assert!(matches!(o.result, Err(TaskError::WorkerDied { .. })));
    let id = pool.submit(cmd("echo"), Vec::new(), true);
    let o = match pool.collect(id, WAIT) {
        Collected::Outcome(o) => o,
        _ => from_loop(&rx, id), // (queued until the replacement started)
    };
    assert_eq!(text(&o), "echo");
    drop(pool);
    driver.join().unwrap();
}

#[test]
fn ramp_up_starts_more_workers_only_for_waiting_tasks_in_subprocess() {
    let (pool, rx, driver) = running(Config {
        workers: 3,
        ramp_up: Some(Duration::from_secs(60)),
        ..Config::default()
    });
    assert_eq!(pool.lock().worker_pids().len(), 1);
    let id = pool.submit(cmd("echo"), Vec::new(), true);
    assert_eq!(text(&collected(&pool, &rx, id).0), "echo");
    assert_eq!(
        pool.lock().worker_pids().len(),
        1,
        "one task needs one worker"
    );
    let ids: Vec<_> = (0..3)
        .map(|_| pool.submit(cmd("sleep 300"), Vec::new(), false))
        .collect();
    let mut left: std::collections::HashSet<TaskId> = ids.into_iter().collect();
    while !left.is_empty() {
        let o = rx.recv_timeout(WAIT).expect("the loop delivers them");
        assert_eq!(text(&o), "slept");
        left.remove(&o.id);
    }
    assert_eq!(
        pool.lock().worker_pids().len(),
        3,
        "waiting tasks start the rest"
    );
    drop(pool);
    driver.join().unwrap();
}
