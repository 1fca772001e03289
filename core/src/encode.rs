//! The opcode-level pickle writer.
//!
//! A host walks its own objects and calls these methods in the order CPython's C pickler
//! (`Modules/_pickle.c`) would emit opcodes; the [`Encoder`] picks the shortest form for
//! the protocol, handles framing exactly like `_pickle.c` (frames of 64 KiB committed at
//! object boundaries, large payloads written outside frames) and writes memo opcodes.
//! Memo *policy* (which objects are the same object) belongs to the host:
//! [`Encoder::memoize`] hands out the next index and the host remembers it. The only
//! memo entries the encoder keeps itself are for objects it synthesises (the globals and
//! the `'latin1'` string of the reductions it writes for `bytes`, `bytearray`, `set` and
//! `frozenset` below the protocols that have opcodes for them, and the module and name
//! strings of `STACK_GLOBAL`), keyed by value because CPython's are interned objects.
//!
//! The calling convention that makes the output byte-identical to CPython's:
//! - call [`Encoder::boundary`] first whenever you start saving an object (see there);
//! - after writing a str, bytes, bytearray, list, dict, set, frozenset, non-empty tuple,
//!   global or reduced object, call [`Encoder::memoize`] (lists, dicts and sets right
//!   after their empty form, before their items, so that cycles find them);
//! - write an object you already memoized as [`Encoder::get`] instead.
//!
//! It is not a walker of values: [`crate::encode_tree`] walks a [`crate::Tree`] with it.
//!
//! This file holds the encoder's state, its output and framing; the opcodes are in
//! `scalars`, `containers`, `memo` and `globals`. It writes into a `Vec<u8>` or into a
//! host's own buffer (an [`Output`]); a host takes the stream as whole frames
//! ([`Encoder::committed_parts`]), with payloads left out of it ([`splice`]).

mod containers;
mod fallible_vec;
mod globals;
mod memo;
mod output;
mod payload;
mod scalars;
pub mod splice;

pub use containers::Batch;
pub use fallible_vec::FallibleVec;
pub use output::Output;
pub use splice::Splice;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::EncodeError;

/// `str` and `bytes` payloads shorter than this are copied by [`Encoder::write_short`].
const SHORT_PAYLOAD: usize = 32;
use crate::opcode::*;

/// Writes one pickle stream into `O`. See the module docs for the calling convention.
#[derive(Debug)]
pub struct Encoder<O: Output = Vec<u8>> {
    buf: O,
    proto: u8,
    framing: bool,
    frame_start: Option<usize>,
    /// Bytes of the open frame left out of `buf` as splices (they count in its length).
    frame_deferred: usize,
    memo_len: u32,
    /// Memo indexes of strings and globals the encoder synthesised itself (none in most
    /// streams: dropping an empty `BTreeMap` was a tenth of a small dump's clean-up).
    own_memo: Option<BTreeMap<OwnKey, u32>>,
    /// Payloads at least this long are left out (see [`Encoder::defer_payloads`]).
    defer_min: usize,
    /// The payloads left out so far, in stream order.
    splices: Vec<Splice>,
    /// Their total length.
    deferred_len: usize,
    /// Map Python 3 names of globals to Python 2 ones below protocol 3.
    fix_imports: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum OwnKey {
    /// A string constant of a reduction (`'latin1'`).
    Str(String),
    /// The module name of a `STACK_GLOBAL`.
    Module(String),
    Global(String, String),
}

impl Encoder<Vec<u8>> {
    /// A new stream at `protocol` (0 to 5). Call [`Encoder::begin`] before any value.
    pub fn new(protocol: u8) -> Result<Self, EncodeError> {
        Self::with_capacity(protocol, 256)
    }

    /// Like [`Encoder::new`], reserving `capacity` bytes of output.
    pub fn with_capacity(protocol: u8, capacity: usize) -> Result<Self, EncodeError> {
        Self::with_buffer(protocol, Vec::with_capacity(capacity))
    }
}

impl<O: Output> Encoder<O> {
    /// Like [`Encoder::new`], writing into `buf` (emptied first) so a host that dumps many
    /// streams can hand the same allocation back each time instead of faulting in fresh
    /// pages for every one, or write into a buffer of its own.
    pub fn with_buffer(protocol: u8, mut buf: O) -> Result<Self, EncodeError> {
        if protocol > crate::HIGHEST_PROTOCOL {
            return Err(EncodeError::UnsupportedProtocol(protocol));
        }
        buf.truncate(0);
        Ok(Encoder {
            buf,
            proto: protocol,
            framing: false,
            frame_start: None,
            frame_deferred: 0,
            deferred_len: 0,
            memo_len: 0,
            own_memo: None,
            defer_min: usize::MAX,
            splices: Vec::new(),
            fix_imports: true,
        })
    }

    /// `pickle`'s `fix_imports` (on by default): below protocol 3, globals are written
    /// under their Python 2 names (`builtins.set` as `__builtin__.set`). Off, they are
    /// written as given.
    pub fn set_fix_imports(&mut self, on: bool) {
        self.fix_imports = on;
    }

    /// From now on, leaves `str` and `bytes` payloads of at least `min` bytes (never
    /// less than [`splice::MIN_DEFERRED`]; a host may change `min` as the stream goes
    /// on) out of the buffer: only their opcode header is
    /// written and a [`Splice`] notes where the payload belongs (see [`splice`]); the
    /// frames around them still count their bytes. The host must
    /// keep each such payload unchanged until it has spliced it in, and must end the
    /// stream with [`Encoder::finish_parts`] / take it with
    /// [`Encoder::take_committed_parts`]. `bytearray` payloads are always copied: their
    /// owner can change while the dump goes on.
    pub fn defer_payloads(&mut self, min: usize) {
        self.defer_min = min.max(splice::MIN_DEFERRED);
    }

    /// How many payloads have been left out so far: a host compares it before and
    /// after writing a `str` or `bytes` to know whether it must keep that payload.
    #[inline]
    pub fn deferred_count(&self) -> usize {
        self.splices.len()
    }

    /// The protocol being written.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.proto
    }

    /// The buffer written into: for a host to look at (or keep an error of) its own
    /// [`Output`].
    pub fn output(&self) -> &O {
        &self.buf
    }

    /// The buffer written into, mutably: never to change what the encoder wrote.
    pub fn output_mut(&mut self) -> &mut O {
        &mut self.buf
    }

    /// Bytes written so far (frame headers included).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True before anything is written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Number of memo entries handed out so far.
    pub fn memo_len(&self) -> u32 {
        self.memo_len
    }

    /// Numbers new memo entries from `next` on: a pickler that keeps its memo between
    /// streams (as `pickle.Pickler` does between `dump()` calls) continues its numbering.
    pub fn resume_memo(&mut self, next: u32) {
        self.memo_len = next;
    }

    /// Writes `PROTO` (protocol 2+) and turns framing on (protocol 4+).
    pub fn begin(&mut self) {
        if self.proto >= 2 {
            self.write(&[PROTO, self.proto]);
            if self.proto >= 4 {
                self.framing = true;
            }
        }
    }

    /// Writes `PROTO` (protocol 2+) without turning framing on: for small messages a
    /// host writes by the thousand and may read back with [`crate::decode::flat`]
    /// (frames are optional; a frame costs a 9-byte header and a length to patch).
    pub fn begin_unframed(&mut self) {
        if self.proto >= 2 {
            self.write(&[PROTO, self.proto]);
        }
    }

    /// Writes `STOP`, commits the last frame and returns the stream. Without
    /// [`Encoder::defer_payloads`] only; with it use [`Encoder::finish_parts`].
    pub fn finish(self) -> O {
        debug_assert!(
            self.splices.is_empty(),
            "deferred payloads need finish_parts"
        );
        self.finish_parts().0
    }

    /// Like [`Encoder::finish`], also returning the payloads left out of the buffer
    /// (empty unless [`Encoder::defer_payloads`] is on).
    pub fn finish_parts(mut self) -> (O, Vec<Splice>) {
        self.finish_parts_in_place()
    }

    /// Like [`Encoder::finish_parts`], for a host that holds the encoder inside a bigger
    /// state it does not want to move: the buffer and splices are taken out, and the
    /// encoder must not be written to again.
    pub fn finish_parts_in_place(&mut self) -> (O, Vec<Splice>) {
        self.write(&[STOP]);
        self.commit_frame();
        (
            core::mem::take(&mut self.buf),
            core::mem::take(&mut self.splices),
        )
    }

    /// Takes the bytes of every frame already committed, leaving the open frame in
    /// place: lets a host stream a large dump to a file without holding all of it.
    /// Without [`Encoder::defer_payloads`] only; with it use
    /// [`Encoder::take_committed_parts`].
    pub fn take_committed(&mut self) -> Vec<u8> {
        debug_assert!(
            self.splices.is_empty(),
            "deferred payloads need the _parts form"
        );
        self.take_committed_parts().0
    }

    /// Like [`Encoder::take_committed`], also taking the payloads left out of those
    /// bytes; the splices of what stays are renumbered from its start.
    pub fn take_committed_parts(&mut self) -> (Vec<u8>, Vec<Splice>) {
        let (buf, splices) = self.committed_parts();
        let taken = (buf.to_vec(), splices.to_vec());
        self.discard_committed();
        taken
    }

    /// The bytes of every frame already committed and the splices of the payloads left
    /// out of them, borrowed: write them out, then call [`Encoder::discard_committed`].
    /// Unlike [`Encoder::take_committed_parts`] this copies nothing and the buffer keeps
    /// its capacity for the frames still to come.
    pub fn committed_parts(&self) -> (&[u8], &[Splice]) {
        let end = self.committed_len();
        let n = splice::count_at_or_before(&self.splices, end);
        (&self.buf.as_slice()[..end], &self.splices[..n])
    }

    /// Drops what [`Encoder::committed_parts`] returns, moving the open frame to the start
    /// of the buffer and renumbering its splices from there.
    pub fn discard_committed(&mut self) {
        let end = self.committed_len();
        self.buf.remove(0..end);
        if let Some(start) = self.frame_start.as_mut() {
            *start = 0;
        }
        let n = splice::count_at_or_before(&self.splices, end);
        self.deferred_len -= self.splices.drain(..n).map(|s| s.len).sum::<usize>();
        for s in &mut self.splices {
            s.at -= end;
        }
    }

    /// How many bytes of the buffer [`Encoder::committed_parts`] would give (every byte
    /// when frames are off): a cheap test of whether a write is worth it.
    #[inline]
    pub fn committed_len(&self) -> usize {
        self.frame_start.unwrap_or(self.buf.len())
    }

    /// The length of the stream [`Encoder::committed_parts`] would give, its deferred
    /// payloads included: what a host streaming to a file compares with its write size.
    #[inline]
    pub fn committed_stream_len(&self) -> usize {
        let open_frame_deferred = if self.frame_start.is_some() {
            self.frame_deferred
        } else {
            0
        };
        self.committed_len() + self.deferred_len - open_frame_deferred
    }

    /// Commits the current frame once it holds 64 KiB or more, as `_pickle.c`'s
    /// `_Pickler_OpcodeBoundary` does.
    ///
    /// The rule: call it at the **start** of saving every object, before anything else
    /// is written for it: before an atom (None, bool, int, float), before a [`get`] of an
    /// object already memoized, before a persistent id is asked for, and before each item,
    /// key, value, reduce argument or `BUILD` state of a container or object (each of
    /// those is a nested save). Never call it between an object's own opcodes, e.g.
    /// between its last item and `APPENDS`, `TUPLE`, `REDUCE` or a memo opcode. CPython's
    /// `save()` does it on entry, so frames end just before an object starts. The
    /// encoder makes the calls for the nested saves it synthesises itself (the reductions
    /// of [`bytes`], [`bytearray`], the set reductions and `STACK_GLOBAL`'s strings).
    ///
    /// [`get`]: Encoder::get
    /// [`bytes`]: Encoder::bytes
    /// [`bytearray`]: Encoder::bytearray
    #[inline]
    pub fn boundary(&mut self) {
        if let Some(start) = self.frame_start {
            if self.frame_len(start) >= FRAME_SIZE_TARGET {
                self.commit_frame();
            }
        }
    }

    #[inline]
    fn write(&mut self, data: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.open_frame();
        }
        self.buf.extend_from_slice(data);
    }

    /// Out of line: a frame opens once per 64 KiB, and keeping this out of [`write`]
    /// keeps the opcode methods small enough for hosts in other crates to inline, and a
    /// host's hot loop in the instruction cache.
    ///
    /// [`write`]: Encoder::write
    #[cold]
    #[inline(never)]
    fn open_frame(&mut self) {
        self.frame_start = Some(self.buf.len());
        self.frame_deferred = 0;
        self.buf.extend_from_slice(&[0xFE; FRAME_HEADER_SIZE]);
    }

    #[inline]
    fn op(&mut self, opcode: u8) {
        self.write(&[opcode]);
    }

    fn commit_frame(&mut self) {
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let frame_len = self.frame_len(start);
        if frame_len >= FRAME_SIZE_MIN {
            // Always there, but for a host's buffer that dropped writes it had no room
            // for (which fails its dump): skipped rather than a panic.
            if let Some(header) = self
                .buf
                .as_mut_slice()
                .get_mut(start..start + FRAME_HEADER_SIZE)
            {
                header[0] = FRAME;
                header[1..].copy_from_slice(&(frame_len as u64).to_le_bytes());
            }
        } else {
            self.buf.remove(start..start + FRAME_HEADER_SIZE);
        }
    }

    /// `opcode`, a one-byte length and `data`, shorter than [`SHORT_PAYLOAD`] (never
    /// deferred, always inside the frame). A call to `memcpy` for each short string or
    /// bytes cost more than the copy, and so did a copy in pieces of every size: the
    /// data is placed in a block of fixed size with two overlapping copies of fixed
    /// sizes, the whole block is written and the stream cut back to what it holds.
    #[inline]
    fn write_short(&mut self, opcode: u8, data: &[u8]) {
        debug_assert!(data.len() < SHORT_PAYLOAD);
        let n = data.len();
        let mut block = [0u8; 2 + SHORT_PAYLOAD];
        block[0] = opcode;
        block[1] = n as u8;
        let body = &mut block[2..];
        if n >= 16 {
            body[..16].copy_from_slice(&data[..16]);
            body[n - 16..n].copy_from_slice(&data[n - 16..]);
        } else if n >= 8 {
            body[..8].copy_from_slice(&data[..8]);
            body[n - 8..n].copy_from_slice(&data[n - 8..]);
        } else if n >= 4 {
            body[..4].copy_from_slice(&data[..4]);
            body[n - 4..n].copy_from_slice(&data[n - 4..]);
        } else if n > 0 {
            body[0] = data[0];
            body[n / 2] = data[n / 2];
            body[n - 1] = data[n - 1];
        }
        let before = self.buf.len();
        self.write(&block);
        let after = self.buf.len();
        // (An output that refused the block wrote none of it: nothing to cut.)
        if after >= before + block.len() {
            self.buf.truncate(after - (SHORT_PAYLOAD - n));
        }
    }

    /// Header then payload; a payload of 64 KiB or more goes outside any frame, as in
    /// `_Pickler_write_bytes`. `may_defer`: the payload's owner cannot change, so it
    /// may be left out (see [`Encoder::defer_payloads`]).
    fn write_payload(&mut self, header: &[u8], data: &[u8], may_defer: bool) {
        if data.len() >= FRAME_SIZE_TARGET {
            self.commit_frame();
            let framing = core::mem::replace(&mut self.framing, false);
            self.write(header);
            if may_defer && data.len() >= self.defer_min {
                self.splices.push(Splice {
                    at: self.buf.len(),
                    len: data.len(),
                });
                self.deferred_len += data.len();
            } else {
                payload::extend(&mut self.buf, data);
            }
            self.framing = framing;
        } else {
            self.write(header);
            if may_defer && data.len() >= self.defer_min {
                self.splices.push(Splice {
                    at: self.buf.len(),
                    len: data.len(),
                });
                self.deferred_len += data.len();
                if self.frame_start.is_some() {
                    self.frame_deferred += data.len();
                }
            } else {
                payload::extend(&mut self.buf, data);
            }
        }
    }

    /// The length of the frame opened at `start`, deferred payloads included
    /// (saturating: an output that refused memory may have dropped the header).
    #[inline]
    fn frame_len(&self, start: usize) -> usize {
        self.buf.len().saturating_sub(start + FRAME_HEADER_SIZE) + self.frame_deferred
    }
}
