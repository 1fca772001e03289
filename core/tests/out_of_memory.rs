//! Memory the allocator refuses is an `OUT_OF_MEMORY` error of the decode or encode
//! call, never an abort of the process: this test binary installs an allocator that
//! refuses every request above a size while armed, then decodes and encodes values that
//! need more. An abort (Rust's default on a refused `Vec` growth) would kill the whole
//! binary and fail the test.
//!
//! One `#[test]` only: the refusing allocator is process-wide, and the harness runs the
//! tests of a binary on several threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use brinery_core::encode::FallibleVec;
use brinery_core::{decode, encode_tree, DecodeErrorKind, DecodeOptions, EncodeError, Encoder};
use brinery_core::{Tree, Value};

/// Requests above this many bytes are refused (`usize::MAX`: none are).
static REFUSE_ABOVE: AtomicUsize = AtomicUsize::new(usize::MAX);

struct Refusing;

// SAFETY: forwards to the system allocator, or returns null (allowed for `alloc`).
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_ABOVE.load(Ordering::Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_ABOVE.load(Ordering::Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > REFUSE_ABOVE.load(Ordering::Relaxed) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Refusing = Refusing;

const LIMIT: usize = 1 << 20;

/// Runs `f` with allocations above [`LIMIT`] refused (until `f` returns or panics).
fn refusing<T>(f: impl FnOnce() -> T) -> T {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            REFUSE_ABOVE.store(usize::MAX, Ordering::Relaxed);
        }
    }
    REFUSE_ABOVE.store(LIMIT, Ordering::Relaxed);
    let _disarm = Disarm;
    f()
}

/// `PROTO 4`, then `body`, then `STOP`.
fn stream(body: &[u8]) -> Vec<u8> {
    let mut s = vec![0x80, 4];
    s.extend_from_slice(body);
    s.push(b'.');
    s
}

/// `BINBYTES8` of `n` bytes of `fill`.
fn bytes8(n: usize, fill: u8) -> Vec<u8> {
    let mut s = vec![0x8e];
    s.extend_from_slice(&(n as u64).to_le_bytes());
    s.resize(s.len() + n, fill);
    s
}

/// `BINUNICODE8` of `n` ASCII bytes.
fn unicode8(n: usize) -> Vec<u8> {
    let mut s = vec![0x8d];
    s.extend_from_slice(&(n as u64).to_le_bytes());
    s.resize(s.len() + n, b'x');
    s
}

/// `MARK`, `n` small ints, then `closing` (`LIST`, `TUPLE`, `FROZENSET`...).
fn marked_ints(n: usize, closing: u8) -> Vec<u8> {
    let mut s = vec![b'('];
    for i in 0..n {
        s.push(b'J');
        s.extend_from_slice(&(i as i32).to_le_bytes());
    }
    s.push(closing);
    s
}

#[test]
fn refused_memory_fails_the_call_and_leaves_the_process_working() {
    let opts = DecodeOptions::new();
    let big = 4 * LIMIT;

    // Decoding. Each case needs an allocation above the limit; the error is at the
    // opcode that needed it, one of `at` (its opcode byte).
    let mut cases: Vec<(&str, Vec<u8>, &[u8])> = vec![
        // The payload copy, at the opcode itself (offset 2, after PROTO).
        ("bytes payload", stream(&bytes8(big, 7)), &[0x8e]),
        ("str payload", stream(&unicode8(big)), &[0x8d]),
        // The machine's stack of items, at the int that finds no room.
        ("list of ints", stream(&marked_ints(big / 8, b'l')), b"J"),
        ("tuple of ints", stream(&marked_ints(big / 8, b't')), b"J"),
    ];
    // A list filled by many short APPENDS: the list's own items outgrow the limit.
    let mut appends = vec![b']'];
    for _ in 0..(big / 8 / 1000) {
        appends.extend(marked_ints(1000, b'e'));
    }
    cases.push(("appends", stream(&appends), b"e"));
    // A dict filled by many short SETITEMS.
    let mut setitems = vec![b'}'];
    for batch in 0..(big / 16 / 1000) {
        setitems.push(b'(');
        for i in 0..1000 {
            setitems.push(b'J');
            setitems.extend_from_slice(&((batch * 1000 + i) as i32).to_le_bytes());
            setitems.push(b'N');
        }
        setitems.push(b'u');
    }
    cases.push(("setitems", stream(&setitems), b"u"));
    // Values memoized and popped: the memo (or the tree's arena) outgrows the limit.
    let memoized: Vec<u8> = (0..(big / 4)).flat_map(|_| [b'N', 0x94, b'0']).collect();
    let mut memo_stream = memoized;
    memo_stream.push(b'N');
    cases.push(("memo", stream(&memo_stream), b"N\x94"));

    for (name, data, at) in &cases {
        let got = refusing(|| decode(data, &opts).map(|_| ()));
        let err = got.expect_err(name);
        assert_eq!(err.kind, DecodeErrorKind::OutOfMemory, "{name}: {err}");
        assert_eq!(err.kind.code(), "OUT_OF_MEMORY");
        assert!(
            at.contains(&data[err.offset]),
            "{name}: {err}, opcode {:#x}",
            data[err.offset]
        );
        if at[0] >= 0x8d {
            assert_eq!(err.offset, 2, "{name}");
        }
        // The same stream decodes once memory is there again.
        decode(data, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    }

    // Encoding: a tree whose stream outgrows the limit.
    let mut tree = Tree::new();
    let payload = tree.push(Value::Bytes(vec![3; big]));
    let root = tree.push(Value::List(vec![payload]));
    tree.set_root(root);
    let got = refusing(|| encode_tree(&tree, 5));
    assert!(matches!(got, Err(EncodeError::OutOfMemory(_))), "{got:?}");
    let out = encode_tree(&tree, 5).unwrap();
    assert_eq!(decode(&out, &opts).unwrap().len(), 2);

    // The encoder over a fallible buffer, driven directly: the refusal surfaces once,
    // at the end, and what was written before it is not handed out.
    let refused = refusing(|| {
        let mut enc = Encoder::with_buffer(5, FallibleVec::default()).unwrap();
        enc.begin();
        enc.empty_list();
        for _ in 0..3 {
            enc.bytes(&vec![1; LIMIT / 2]);
            enc.append();
        }
        enc.finish().into_vec()
    });
    assert!(
        matches!(refused, Err(EncodeError::OutOfMemory(_))),
        "{refused:?}"
    );
}
