//! Taking the stream as it is written, open frame included (`Encoder::drained`): the
//! fixes a host is given for the frame headers it took. Any mix of items taken at any
//! boundaries is checked against the plain stream in `encode_splice.rs`.

use brinery_core::encode::FrameFix;
use brinery_core::opcode::{FRAME, FRAME_HEADER_SIZE};
use brinery_core::Encoder;

/// Appends what the encoder holds (no payload left out) to `out`, fixes first.
fn take(enc: &mut Encoder, out: &mut Vec<u8>) {
    let d = enc.drained();
    assert!(d.splices.is_empty());
    for f in d.fixes {
        assert!(f.apply(out), "{f:?} outside the {} bytes taken", out.len());
    }
    out.extend_from_slice(d.buf);
    enc.discard_drained();
}

/// A frame too short for a header (`_pickle.c` drops it) whose header was already
/// taken: the host is told to remove it, and the stream matches stock framing.
#[test]
fn a_short_last_frame_loses_the_header_the_host_took() {
    let mut enc = Encoder::new(5).unwrap();
    let mut out = Vec::new();
    enc.begin();
    enc.boundary();
    enc.none();
    assert_eq!(
        enc.drained().buf.len(),
        2 + FRAME_HEADER_SIZE + 1,
        "PROTO, the open frame, NONE"
    );
    take(&mut enc, &mut out);
    let (buf, splices) = enc.finish_parts_in_place();
    let fixes = enc.take_fixes();
    assert_eq!(fixes, [FrameFix::Remove { at: 2 }]);
    assert_eq!((buf.as_slice(), splices.len()), (&b"."[..], 0));
    assert!(fixes[0].apply(&mut out));
    out.extend(buf);
    assert_eq!(out, b"\x80\x05N.");
}

/// A frame taken in three pieces, a payload left out among them, gets its header
/// written where the first piece put it, with the length of all three.
#[test]
fn a_frame_taken_in_pieces_gets_its_whole_length() {
    let payload = vec![7u8; 1000];
    let write = |enc: &mut Encoder, step: usize| match step {
        0 => {
            enc.begin();
            enc.boundary();
            enc.empty_list();
            enc.memoize();
        }
        1 => {
            enc.boundary();
            enc.bytes(&payload);
        }
        _ => {
            enc.boundary();
            enc.int(5);
        }
    };
    let plain = {
        let mut e = Encoder::new(4).unwrap();
        (0..3).for_each(|step| write(&mut e, step));
        e.finish()
    };
    let mut enc = Encoder::new(4).unwrap();
    enc.defer_payloads(0);
    let mut out = Vec::new();
    write(&mut enc, 0);
    take(&mut enc, &mut out);
    write(&mut enc, 1);
    let d = enc.drained();
    assert_eq!(d.splices.len(), 1);
    out.extend_from_slice(d.buf);
    out.extend_from_slice(&payload);
    enc.discard_drained();
    write(&mut enc, 2);
    let (buf, _) = enc.finish_parts_in_place();
    let fixes = enc.take_fixes();
    assert!(matches!(fixes[..], [FrameFix::Write { at: 2, .. }]));
    assert!(fixes[0].apply(&mut out));
    out.extend(buf);
    assert_eq!(out, plain);
    assert_eq!(out[2], FRAME);
    let len = u64::from_le_bytes(out[3..11].try_into().unwrap()) as usize;
    assert_eq!(len, out.len() - 2 - FRAME_HEADER_SIZE);
}

#[test]
fn a_fix_outside_the_stream_is_refused() {
    let mut out = vec![1, 2, 3];
    assert!(!FrameFix::Remove { at: 0 }.apply(&mut out));
    let header = [0; FRAME_HEADER_SIZE];
    assert!(!FrameFix::Write { at: 0, header }.apply(&mut out));
    assert_eq!(out, [1, 2, 3]);
}
