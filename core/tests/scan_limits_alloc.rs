//! Allocation bounds, measured: a counting global allocator records the peak heap while
//! the decoder and the scanner read hostile 1 KB streams (the most objects per input
//! byte, self-appending lists, far memo keys, lengths claiming 4 GiB, deep nesting).
//! With default [`Limits`] the peak stays under 1 MiB; with `max_alloc` set lower it
//! stays within a small multiple of it. One test function, so no other test allocates
//! concurrently in this binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use brinery_core::scan::scan;
use brinery_core::{decode, DecodeOptions, Limits};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Peak bytes allocated by `f` beyond what was live before it.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed) - base
}

fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    let kb = 1024;
    let mut v = Vec::new();
    let mut sets = vec![0x80, 4, b']', b'('];
    sets.extend(vec![0x8f; kb - 7]);
    sets.extend(b"e.");
    v.push(("sets", sets));
    let mut dups = vec![0x80, 2, b']'];
    dups.extend(b"2a".repeat((kb - 4) / 2));
    dups.push(b'.');
    v.push(("dups", dups));
    let mut memo = vec![0x80, 2, b'N', b'r', 0xff, 0xff, 0xff, 0x7f, b'('];
    memo.extend(b"j\xff\xff\xff\x7f".repeat(200));
    memo.extend(b"l.");
    v.push(("memo", memo));
    let mut claim = vec![0x80, 4, 0x8e, 0, 0, 0, 0, 1, 0, 0, 0];
    claim.extend(vec![b'A'; kb - 12]);
    claim.push(b'.');
    v.push(("claim", claim));
    let mut deep = vec![0x80, 2];
    deep.extend(vec![b']'; 510]);
    deep.extend(vec![b'a'; 509]);
    deep.push(b'.');
    v.push(("deep", deep));
    let mut marks = vec![0x80, 2];
    marks.extend(vec![b'('; 1020]);
    marks.push(b'.');
    v.push(("marks", marks));
    let mut globals = vec![0x80, 4];
    globals.extend(b"\x8c\x01a\x94h\x00h\x00\x93".repeat(100));
    globals.push(b'.');
    v.push(("globals", globals));
    v
}

#[test]
fn one_kilobyte_streams_stay_within_the_bound() {
    for (name, data) in hostile() {
        assert!(data.len() <= 1100, "{name}: {} bytes", data.len());
        let default = DecodeOptions::new();
        let peak = peak_of(|| drop(decode(&data, &default)));
        assert!(peak < 1 << 20, "{name}: decode peaked at {peak} bytes");
        let tight = DecodeOptions {
            limits: Limits {
                max_alloc: 16 << 10,
                ..Limits::default()
            },
            ..DecodeOptions::new()
        };
        let peak = peak_of(|| drop(decode(&data, &tight)));
        assert!(
            peak < 64 << 10,
            "{name}: decode with a 16 KiB limit peaked at {peak} bytes"
        );
        let peak = peak_of(|| drop(scan(&data)));
        assert!(peak < 1 << 20, "{name}: scan peaked at {peak} bytes");
    }
}
