//! Lent shared-memory segments against real worker processes: a segment the worker gave
//! back is reused, one it still holds never is (its contents stay as sent), and a task
//! sent back to the queue keeps its segment; the same for results the worker lends the
//! parent. (Freeing: `segment_freeing.rs`.)

use brinery_pool::Message;

mod common;
use common::{cmd, collect, data, len_sum, pool, run, text, with_buffer, SIZE};

#[test]
fn a_segment_given_back_is_reused_in_subprocess() {
    let mut p = pool(1);
    for seed in 1..=6 {
        assert_eq!(run(&mut p, "sum", seed), len_sum(&data(seed)));
    }
    let stats = p.segment_stats();
    assert_eq!(stats.lent, 0, "{stats:?}");
    assert_eq!(stats.cached, 1, "one segment serves every task: {stats:?}");
    assert_eq!(stats.reused, 5, "{stats:?}");
}

#[test]
fn a_segment_still_held_is_never_reused_in_subprocess() {
    let mut p = pool(1);
    assert_eq!(run(&mut p, "keep", 7), "kept");
    for seed in 8..20 {
        assert_eq!(run(&mut p, "sum", seed), len_sum(&data(seed)));
    }
    assert_eq!(run(&mut p, "keep", 20), "kept");
    for seed in 21..30 {
        assert_eq!(run(&mut p, "sum", seed), len_sum(&data(seed)));
    }
    let id = p.submit(cmd("kept"));
    let kept = text(&collect(&mut p, &[id])[&id]);
    assert_eq!(
        kept,
        format!("{};{}", len_sum(&data(7)), len_sum(&data(20)))
    );
    let stats = p.segment_stats();
    assert_eq!(stats.lent, 2, "{stats:?}");
    assert!(
        stats.reused >= 19,
        "the other tasks shared segments: {stats:?}"
    );
}

#[test]
fn a_requeued_task_keeps_its_segment_in_subprocess() {
    let mut p = pool(1);
    // Prefetched behind a task that kills the worker, it goes back to the queue with its
    // segment and runs in the replacement.
    let exit = p.submit(cmd("exit 3"));
    let sum = p.submit(with_buffer("sum", data(5)));
    let got = collect(&mut p, &[exit, sum]);
    assert!(got[&exit].result.is_err());
    assert_eq!(text(&got[&sum]), len_sum(&data(5)));
}

/// The result of a `big` task, checked against `data(seed)`.
fn big(p: &mut brinery_pool::Pool, seed: u8) -> Message {
    let id = p.submit(cmd(&format!("big {SIZE} {seed}")));
    let msg = collect(p, &[id]).remove(&id).unwrap().result.unwrap();
    assert!(msg.buffers[1][..] == data(seed)[..], "result {seed}");
    msg
}

#[test]
fn a_result_segment_given_back_is_reused_and_one_held_is_not_in_subprocess() {
    let mut p = pool(1);
    let held = big(&mut p, 1);
    for seed in 2..8 {
        drop(big(&mut p, seed));
    }
    assert!(
        held.buffers[1][..] == data(1)[..],
        "the held result kept its contents"
    );
    let id = p.submit(cmd("wstats"));
    let stats = text(&collect(&mut p, &[id])[&id]);
    // Result 2 needed a new segment (result 1 is still held); 3 to 7 reused it.
    assert_eq!(stats, "1 1 5", "lent cached reused");
}

#[test]
fn a_cache_keeps_a_bounded_number_of_segments() {
    let max = brinery_pool::segment::MAX_CACHED;
    let cache = brinery_pool::SegmentCache::new(usize::MAX);
    let held: Vec<_> = (0..max + 10)
        .map(|_| cache.fill(&[1u8; 100]).expect("segment"))
        .collect();
    held.into_iter().for_each(|s| cache.give_back(s));
    assert_eq!(cache.stats().1, max);
}
