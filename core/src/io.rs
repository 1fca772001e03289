//! Reading and writing pickles through `std::io` (the `std` feature): [`load`] reads
//! exactly one pickle from a reader and no byte past its `STOP`, as `pickle.load` does,
//! so several pickles written back to back (or a pickle followed by other data) can be
//! read one at a time; [`dump`] writes a [`Tree`] to a writer. Not for in-memory bytes:
//! use [`crate::decode()`] and [`crate::encode_tree`] directly.
//!
//! The reader walks the stream opcode by opcode using [`crate::opinfo`] to know how long
//! each argument is, reading whole frames at once; lengths are checked against
//! [`Limits::max_alloc`](crate::Limits) before anything is read, and bytes are read
//! incrementally, so a stream that announces 4 GiB fails without allocating it.

use std::io::{BufRead, Read, Write};
use std::vec::Vec;

use crate::decode::{decode, DecodeOptions};
use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::opinfo::{self, ArgKind};
use crate::value::Tree;

/// Why [`load`] or [`dump`] failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Reads one pickle from `reader` and decodes it. Reads byte by byte where the stream has
/// newline-terminated arguments (protocol 0); use [`load_buffered`] with a `BufRead`
/// for those.
pub fn load<R: Read>(reader: &mut R, opts: &DecodeOptions) -> Result<Tree, Error> {
    let data = read_pickle(&mut Unbuffered(reader), opts)?;
    Ok(decode(&data, opts)?)
}

/// Like [`load`] for a buffered reader: bytes it buffered past the pickle stay in it.
pub fn load_buffered<R: BufRead>(reader: &mut R, opts: &DecodeOptions) -> Result<Tree, Error> {
    let data = read_pickle(&mut Buffered(reader), opts)?;
    Ok(decode(&data, opts)?)
}

/// Encodes `tree` at `protocol` and writes it to `writer`.
pub fn dump<W: Write>(writer: &mut W, tree: &Tree, protocol: u8) -> Result<(), Error> {
    let data = crate::encode_tree(tree, protocol)?;
    writer.write_all(&data)?;
    Ok(())
}

/// Reads exactly one pickle's bytes (through `STOP`) without decoding it.
pub fn read_pickle_bytes<R: BufRead>(
    reader: &mut R,
    opts: &DecodeOptions,
) -> Result<Vec<u8>, Error> {
    read_pickle(&mut Buffered(reader), opts)
}

/// The two ways of reading a line without reading past it.
trait Source {
    fn read_exact_into(&mut self, buf: &mut Vec<u8>, n: u64) -> std::io::Result<u64>;
    fn read_line_into(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize>;
}

struct Unbuffered<'r, R>(&'r mut R);
struct Buffered<'r, R>(&'r mut R);

impl<R: Read> Source for Unbuffered<'_, R> {
    fn read_exact_into(&mut self, buf: &mut Vec<u8>, n: u64) -> std::io::Result<u64> {
        (&mut *self.0)
            .take(n)
            .read_to_end(buf)
            .map(|got| got as u64)
    }

    fn read_line_into(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let mut got = 0;
        let mut byte = [0u8];
        loop {
            match self.0.read(&mut byte) {
                Ok(0) => return Ok(got),
                Ok(_) => {
                    got += 1;
                    buf.push(byte[0]);
                    if byte[0] == b'\n' {
                        return Ok(got);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: BufRead> Source for Buffered<'_, R> {
    fn read_exact_into(&mut self, buf: &mut Vec<u8>, n: u64) -> std::io::Result<u64> {
        (&mut *self.0)
            .take(n)
            .read_to_end(buf)
            .map(|got| got as u64)
    }

    fn read_line_into(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        self.0.read_until(b'\n', buf)
    }
}

/// Scans opcodes, pulling bytes from `src` only as far as the current opcode needs.
fn read_pickle(src: &mut impl Source, opts: &DecodeOptions) -> Result<Vec<u8>, Error> {
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut pos = 0usize;
    let max = opts.limits.max_alloc as u64;
    let fail = |kind, at| Error::Decode(DecodeError::new(kind, at));
    // Makes `n` bytes available at `pos` (reading from `src` what the buffer lacks).
    let ensure = |src: &mut dyn Source, buf: &mut Vec<u8>, pos: usize, n: u64, at| {
        let have = (buf.len() - pos) as u64;
        if have >= n {
            return Ok(());
        }
        if (buf.len() as u64).saturating_add(n - have) > max {
            return Err(fail(DecodeErrorKind::AllocLimit(n as usize), at));
        }
        let got = src.read_exact_into(buf, n - have)?;
        if got < n - have {
            return Err(fail(DecodeErrorKind::Truncated, at));
        }
        Ok(())
    };
    loop {
        let at = pos;
        if buf.len() == pos && src.read_exact_into(&mut buf, 1)? == 0 {
            return Err(fail(DecodeErrorKind::NoStop, at));
        }
        let code = buf[pos];
        pos += 1;
        let info = opinfo::lookup(code).ok_or(fail(DecodeErrorKind::UnknownOpcode(code), at))?;
        match info.arg {
            ArgKind::None => {}
            ArgKind::Fixed(n) => {
                ensure(src, &mut buf, pos, n as u64, at)?;
                if info.name == "FRAME" {
                    // Read the whole frame now, as the unpickler does.
                    let mut len = [0u8; 8];
                    len.copy_from_slice(&buf[pos..pos + 8]);
                    let frame = u64::from_le_bytes(len);
                    pos += 8;
                    ensure(src, &mut buf, pos, frame, at).map_err(|e| match e {
                        Error::Decode(d) if d.kind == DecodeErrorKind::Truncated => {
                            fail(DecodeErrorKind::BadFrame, at)
                        }
                        e => e,
                    })?;
                    continue;
                }
                pos += n;
            }
            ArgKind::Counted { width, signed } => {
                ensure(src, &mut buf, pos, width as u64, at)?;
                let mut len = [0u8; 8];
                len[..width].copy_from_slice(&buf[pos..pos + width]);
                let mut n = u64::from_le_bytes(len);
                if signed && width == 4 && (n as u32 as i32) < 0 {
                    return Err(fail(DecodeErrorKind::BadLength, at));
                }
                pos += width;
                if signed && width == 4 {
                    n = n as u32 as u64;
                }
                ensure(src, &mut buf, pos, n, at)?;
                pos += n as usize;
            }
            ArgKind::Line | ArgKind::TwoLines => {
                let lines = if info.arg == ArgKind::Line { 1 } else { 2 };
                for _ in 0..lines {
                    match buf[pos..].iter().position(|&b| b == b'\n') {
                        Some(i) => pos += i + 1,
                        None => {
                            let got = src.read_line_into(&mut buf)?;
                            if buf.len() as u64 > max {
                                return Err(fail(DecodeErrorKind::AllocLimit(got), at));
                            }
                            if buf.last() != Some(&b'\n') {
                                return Err(fail(DecodeErrorKind::Truncated, at));
                            }
                            pos = buf.len();
                        }
                    }
                }
            }
        }
        if code == crate::opcode::STOP {
            buf.truncate(pos);
            return Ok(buf);
        }
    }
}
