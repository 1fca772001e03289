//! Helpers shared by the tests that run the pool against `brinery-pool-test-worker`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use brinery_pool::{Config, Message, Outcome, Pool, Spawn, TaskError, TaskId};

pub fn spawn() -> Spawn {
    Spawn::new(env!("CARGO_BIN_EXE_brinery-pool-test-worker"))
}

pub fn pool(workers: usize) -> Pool {
    pool_with(Config {
        workers,
        ..Config::default()
    })
}

pub fn pool_with(cfg: Config) -> Pool {
    Pool::new(cfg, spawn()).expect("pool starts")
}

pub fn cmd(s: &str) -> Message {
    Message::new(vec![s.as_bytes().to_vec()], vec![])
}

/// Runs the loop until every id has an outcome; fails the test after 20 s.
pub fn collect(pool: &mut Pool, ids: &[TaskId]) -> HashMap<TaskId, Outcome> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = HashMap::new();
    while ids.iter().any(|id| !got.contains_key(id)) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("tasks did not finish within 20 s");
        for o in pool.wait(Some(left)).expect("wait") {
            got.insert(o.id, o);
        }
    }
    got
}

pub fn text(o: &Outcome) -> String {
    match &o.result {
        Ok(m) => String::from_utf8_lossy(&m.buffers[0]).into_owned(),
        Err(e) => panic!("task {} failed: {e}", o.id),
    }
}

pub fn err(o: &Outcome) -> &TaskError {
    o.result.as_ref().expect_err("task should have failed")
}

pub const SIZE: usize = 512 * 1024;

/// A buffer of `SIZE` bytes, different for each `seed`.
pub fn data(seed: u8) -> Vec<u8> {
    (0..SIZE)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect()
}

pub fn len_sum(b: &[u8]) -> String {
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    format!("{} {}", b.len(), sum)
}

pub fn with_buffer(command: &str, buf: Vec<u8>) -> Message {
    Message::new(vec![command.as_bytes().to_vec(), buf], vec![])
}

/// Runs `command` with buffer `seed` to completion; returns the reply.
pub fn run(p: &mut Pool, command: &str, seed: u8) -> String {
    let id = p.submit(with_buffer(command, data(seed)));
    text(&collect(p, &[id])[&id])
}
