//! `io::load` reads exactly one pickle from a reader, like `pickle.load`: several
//! pickles back to back come out one at a time and the bytes after `STOP` stay unread.

mod common;

use std::io::{BufReader, Cursor, Read};

use brinery_core::io::{dump, load, load_buffered, Error};
use brinery_core::{decode, DecodeErrorKind, DecodeOptions};
use common::{case_streams, ctext};

#[test]
fn load_reads_each_vector_and_stops_at_its_stop() {
    let opts = DecodeOptions {
        buffers: Some(16),
        ..DecodeOptions::new()
    };
    for (name, p, data, _) in case_streams() {
        let mut input = data.clone();
        input.extend_from_slice(b"TRAILER");
        let want = ctext(&decode(&data, &opts).unwrap());

        let mut cursor = Cursor::new(&input);
        let tree = load(&mut cursor, &opts).unwrap_or_else(|e| panic!("{name}.p{p}: {e}"));
        assert_eq!(ctext(&tree), want, "{name}.p{p}");
        assert_eq!(cursor.position() as usize, data.len(), "{name}.p{p}");

        let mut reader = BufReader::with_capacity(7, Cursor::new(&input));
        let tree = load_buffered(&mut reader, &opts).unwrap();
        assert_eq!(ctext(&tree), want, "{name}.p{p} buffered");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "TRAILER", "{name}.p{p} buffered");
    }
}

#[test]
fn pickles_back_to_back_load_one_at_a_time() {
    let opts = DecodeOptions::new();
    let mut out = Vec::new();
    let mut expected = Vec::new();
    for (name, p, data, plain) in case_streams().into_iter().take(60) {
        if plain {
            let tree = decode(&data, &opts).unwrap();
            dump(&mut out, &tree, p).unwrap_or_else(|e| panic!("{name}.p{p}: {e}"));
            expected.push(ctext(&tree));
        }
    }
    let mut cursor = Cursor::new(&out);
    for want in &expected {
        assert_eq!(&ctext(&load(&mut cursor, &opts).unwrap()), want);
    }
    match load(&mut cursor, &opts) {
        Err(Error::Decode(e)) => assert_eq!((e.kind, e.offset), (DecodeErrorKind::NoStop, 0)),
        other => panic!("expected end of input, got {other:?}"),
    }
}

#[test]
fn hostile_lengths_fail_without_reading_or_allocating() {
    let opts = DecodeOptions::new();
    // 16 EiB frame and 4 GiB string from a 20-byte reader.
    for data in [
        &b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN."[..],
        b"\x80\x04\x8d\x00\x00\x00\x00\x01\x00\x00\x00abc.",
    ] {
        let err = load(&mut Cursor::new(data), &opts).unwrap_err();
        match err {
            Error::Decode(e) => {
                assert_eq!(e.offset, 2);
                assert!(
                    matches!(
                        e.kind,
                        DecodeErrorKind::AllocLimit(_)
                            | DecodeErrorKind::BadFrame
                            | DecodeErrorKind::Truncated
                    ),
                    "{e}"
                );
            }
            other => panic!("{other}"),
        }
    }
    // Truncated protocol 0 line.
    let err = load(&mut Cursor::new(b"I12"), &opts).unwrap_err();
    assert!(matches!(err, Error::Decode(e) if e.kind == DecodeErrorKind::Truncated));
}
