//! A worker that dies holding lent segments leaks nothing: the pool frees them, leaving
//! only its cache open, and shutdown drops the cache. (Its own test binary: it counts the
//! process's open descriptors, which other tests running in parallel would disturb.)

use std::time::{Duration, Instant};

use brinery_pool::SegmentStats;

mod common;
use common::{cmd, collect, data, len_sum, pool, run};

/// The pool's segment memfds open in this process.
fn open_segments() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains("brinery-segment"))
        .count()
}

#[test]
fn a_dead_worker_s_segments_are_freed_in_subprocess() {
    let mut p = pool(1);
    let before = open_segments();
    assert_eq!(run(&mut p, "keep", 1), "kept");
    assert_eq!(run(&mut p, "keep", 2), "kept");
    assert_eq!(run(&mut p, "sum", 3), len_sum(&data(3)));
    assert_eq!(p.segment_stats().lent, 2);
    let exit = p.submit(cmd("exit 0"));
    assert!(collect(&mut p, &[exit])[&exit].result.is_err());
    let stats = p.segment_stats();
    assert_eq!(
        stats,
        SegmentStats {
            lent: 0,
            cached: 1,
            reused: 0
        }
    );
    // Large ones are closed on a helper thread: give it time.
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_segments() != before + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        open_segments(),
        before + 1,
        "only the cached segment is open"
    );
    assert_eq!(run(&mut p, "sum", 4), len_sum(&data(4)));
    p.shutdown(false).unwrap();
    assert_eq!(open_segments(), before, "shutdown drops the cache");
}
