//! Deferred payloads (`Encoder::defer_payloads`): whatever the protocol, the mix of
//! items, the threshold and where a host takes committed frames, splicing the left-out
//! payloads back in gives exactly the bytes of the same dump without deferral, and only
//! immutable `str`/`bytes` payloads of at least the threshold are ever left out, inside
//! frames as well as outside them.

use brinery_core::encode::splice::MIN_DEFERRED;
use brinery_core::encode::{splice, Batch, Splice};
use brinery_core::opcode::FRAME_SIZE_TARGET;
use brinery_core::Encoder;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Item {
    Int(i64),
    Bytes(usize, u8),
    Str(usize, u8),
    ByteArray(usize, u8),
}

fn item() -> impl Strategy<Value = Item> {
    let len = prop_oneof![
        0usize..300,
        (MIN_DEFERRED - 2)..(MIN_DEFERRED + 2),
        (MIN_DEFERRED + 2)..FRAME_SIZE_TARGET,
        (FRAME_SIZE_TARGET - 2)..(FRAME_SIZE_TARGET + 2),
        (FRAME_SIZE_TARGET + 2)..(3 * FRAME_SIZE_TARGET),
    ];
    prop_oneof![
        any::<i64>().prop_map(Item::Int),
        (len.clone(), any::<u8>()).prop_map(|(n, b)| Item::Bytes(n, b)),
        (len.clone(), b'a'..=b'z').prop_map(|(n, b)| Item::Str(n, b)),
        (len, any::<u8>()).prop_map(|(n, b)| Item::ByteArray(n, b)),
    ]
}

fn payload(item: &Item) -> Option<Vec<u8>> {
    match *item {
        Item::Int(_) => None,
        Item::Bytes(n, b) | Item::Str(n, b) | Item::ByteArray(n, b) => Some(vec![b; n]),
    }
}

/// Writes `items` as a list. `take` is called at each item's boundary with the payloads
/// left out so far; `kept` receives the payload of every item the encoder left out.
fn dump(
    enc: &mut Encoder,
    items: &[Item],
    mut take: impl FnMut(&mut Encoder, usize, &[Vec<u8>]),
    kept: &mut Vec<Vec<u8>>,
) {
    enc.begin();
    enc.boundary();
    enc.empty_list();
    enc.memoize();
    let n = items.len();
    for (i, it) in items.iter().enumerate() {
        enc.batch_item_begin(Batch::List, i, n);
        enc.boundary();
        take(enc, i, kept);
        let before = enc.deferred_count();
        let data = payload(it);
        match (it, &data) {
            (Item::Int(v), _) => enc.int(*v),
            (Item::Bytes(..), Some(d)) => enc.bytes(d),
            (Item::Str(..), Some(d)) => enc.str_utf8(d),
            (Item::ByteArray(..), Some(d)) => enc.bytearray(d),
            _ => unreachable!(),
        }
        if !matches!(it, Item::Int(_)) {
            enc.memoize();
        }
        if enc.deferred_count() > before {
            assert_eq!(enc.deferred_count(), before + 1);
            assert!(
                !matches!(it, Item::ByteArray(..) | Item::Int(_)),
                "{it:?} left out"
            );
            kept.push(data.unwrap());
        }
        enc.batch_item_end(Batch::List, i, n);
    }
}

fn assembled(buf: &[u8], splices: &[Splice], kept: &[Vec<u8>]) -> Vec<u8> {
    let parts: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
    let out = splice::assemble(buf, splices, &parts).expect("the parts fit");
    assert_eq!(out.len(), splice::total_len(buf, splices));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn spliced_stream_equals_the_plain_one(
        proto in 0u8..=5,
        items in proptest::collection::vec(item(), 0..24),
        min in prop_oneof![Just(0usize), Just(MIN_DEFERRED + 1), Just(FRAME_SIZE_TARGET + 1), Just(2 * FRAME_SIZE_TARGET)],
        takes in proptest::collection::vec(any::<bool>(), 24),
    ) {
        let whole = {
            let mut enc = Encoder::new(proto).unwrap();
            dump(&mut enc, &items, |_, _, _| {}, &mut Vec::new());
            enc.finish()
        };

        // Deferred, all at once.
        let mut enc = Encoder::new(proto).unwrap();
        enc.defer_payloads(min);
        let mut kept = Vec::new();
        dump(&mut enc, &items, |_, _, _| {}, &mut kept);
        let (buf, splices) = enc.finish_parts();
        prop_assert_eq!(splices.len(), kept.len());
        for s in &splices {
            prop_assert!(s.len >= MIN_DEFERRED.max(min));
        }
        prop_assert_eq!(assembled(&buf, &splices, &kept), whole.clone());

        // Deferred and streamed: committed parts taken at some boundaries.
        let mut enc = Encoder::new(proto).unwrap();
        enc.defer_payloads(min);
        let mut kept = Vec::new();
        let mut parts: Vec<(Vec<u8>, Vec<Splice>)> = Vec::new();
        let take = |e: &mut Encoder, i: usize, _: &[Vec<u8>]| {
            let (b, s) = e.committed_parts();
            assert_eq!(e.committed_stream_len(), splice::total_len(b, s));
            if takes[i] {
                parts.push(e.take_committed_parts());
            }
        };
        dump(&mut enc, &items, take, &mut kept);
        parts.push(enc.finish_parts());
        let mut streamed = Vec::new();
        let mut next = 0;
        for (buf, splices) in &parts {
            let k = &kept[next..next + splices.len()];
            next += splices.len();
            streamed.extend(assembled(buf, splices, k));
        }
        prop_assert_eq!(next, kept.len());
        prop_assert_eq!(streamed, whole.clone());

        // Spliced in mid-stream (`Encoder::splice_in`), at the first boundary `takes`
        // picks: the payloads so far go back into the buffer, the open frame's start
        // moves past them, and nothing is left out after.
        let mut enc = Encoder::new(proto).unwrap();
        enc.defer_payloads(min);
        let mut kept = Vec::new();
        let mut done = false;
        let take = |e: &mut Encoder, i: usize, kept: &[Vec<u8>]| {
            if takes[i] && !done {
                done = true;
                let parts: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
                e.splice_in(|buf, splices| {
                    *buf = splice::assemble(buf, splices, &parts).ok_or(())?;
                    Ok::<(), ()>(())
                })
                .expect("the parts fit");
            }
        };
        dump(&mut enc, &items, take, &mut kept);
        let (buf, splices) = enc.finish_parts();
        let left = &kept[kept.len() - splices.len()..];
        prop_assert_eq!(assembled(&buf, &splices, left), whole);
    }
}

#[test]
fn assemble_refuses_parts_that_do_not_fit() {
    let buf = [1u8, 2, 3];
    let s = [Splice { at: 1, len: 2 }];
    assert_eq!(
        splice::assemble(&buf, &s, &[&[9, 9]]),
        Some(vec![1, 9, 9, 2, 3])
    );
    assert_eq!(splice::assemble(&buf, &s, &[&[9]]), None);
    assert_eq!(splice::assemble(&buf, &s, &[]), None);
    assert_eq!(
        splice::assemble(&buf, &[Splice { at: 4, len: 2 }], &[&[9, 9]]),
        None
    );
    let backwards = [Splice { at: 2, len: 1 }, Splice { at: 1, len: 1 }];
    assert_eq!(splice::assemble(&buf, &backwards, &[&[7], &[8]]), None);
    let mut called = false;
    assert!(!splice::for_each_piece(
        &buf,
        &backwards,
        &[&[7], &[8]],
        |_| called = true
    ));
    assert!(
        !called,
        "nothing is handed out before the parts are checked"
    );
}
