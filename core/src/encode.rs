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

mod containers;
mod payload;
pub mod splice;

pub use containers::Batch;
pub use splice::Splice;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::EncodeError;
use crate::opcode::*;
use crate::pyfmt;

/// Writes one pickle stream. See the module docs for the calling convention.
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    proto: u8,
    framing: bool,
    frame_start: Option<usize>,
    /// Bytes of the open frame left out of `buf` as splices (they count in its length).
    frame_deferred: usize,
    memo_len: u32,
    /// Memo indexes of strings and globals the encoder synthesised itself.
    own_memo: BTreeMap<OwnKey, u32>,
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

impl Encoder {
    /// A new stream at `protocol` (0 to 5). Call [`Encoder::begin`] before any value.
    pub fn new(protocol: u8) -> Result<Self, EncodeError> {
        Self::with_capacity(protocol, 256)
    }

    /// Like [`Encoder::new`], reserving `capacity` bytes of output.
    pub fn with_capacity(protocol: u8, capacity: usize) -> Result<Self, EncodeError> {
        Self::with_buffer(protocol, Vec::with_capacity(capacity))
    }

    /// Like [`Encoder::new`], writing into `buf` (emptied first) so a host that dumps many
    /// streams can hand the same allocation back each time instead of faulting in fresh
    /// pages for every one.
    pub fn with_buffer(protocol: u8, mut buf: Vec<u8>) -> Result<Self, EncodeError> {
        if protocol > crate::HIGHEST_PROTOCOL {
            return Err(EncodeError::UnsupportedProtocol(protocol));
        }
        buf.clear();
        Ok(Encoder {
            buf,
            proto: protocol,
            framing: false,
            frame_start: None,
            frame_deferred: 0,
            deferred_len: 0,
            memo_len: 0,
            own_memo: BTreeMap::new(),
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
    /// less than [`splice::MIN_DEFERRED`]) out of the buffer: only their opcode header is
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

    /// Writes `STOP`, commits the last frame and returns the stream. Without
    /// [`Encoder::defer_payloads`] only; with it use [`Encoder::finish_parts`].
    pub fn finish(self) -> Vec<u8> {
        debug_assert!(
            self.splices.is_empty(),
            "deferred payloads need finish_parts"
        );
        self.finish_parts().0
    }

    /// Like [`Encoder::finish`], also returning the payloads left out of the buffer
    /// (empty unless [`Encoder::defer_payloads`] is on).
    pub fn finish_parts(mut self) -> (Vec<u8>, Vec<Splice>) {
        self.write(&[STOP]);
        self.commit_frame();
        (self.buf, self.splices)
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
        (&self.buf[..end], &self.splices[..n])
    }

    /// Drops what [`Encoder::committed_parts`] returns, moving the open frame to the start
    /// of the buffer and renumbering its splices from there.
    pub fn discard_committed(&mut self) {
        let end = self.committed_len();
        self.buf.drain(..end);
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
            self.frame_start = Some(self.buf.len());
            self.frame_deferred = 0;
            self.buf.extend_from_slice(&[0xFE; FRAME_HEADER_SIZE]);
        }
        self.buf.extend_from_slice(data);
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
            self.buf[start] = FRAME;
            self.buf[start + 1..start + FRAME_HEADER_SIZE]
                .copy_from_slice(&(frame_len as u64).to_le_bytes());
        } else {
            self.buf.drain(start..start + FRAME_HEADER_SIZE);
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

    /// The length of the frame opened at `start`, deferred payloads included.
    #[inline]
    fn frame_len(&self, start: usize) -> usize {
        self.buf.len() - start - FRAME_HEADER_SIZE + self.frame_deferred
    }

    // ---- scalars -------------------------------------------------------------------

    /// `None`.
    #[inline]
    pub fn none(&mut self) {
        self.op(NONE);
    }

    /// `True`/`False`: `NEWTRUE`/`NEWFALSE` from protocol 2, `I01`/`I00` before.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        if self.proto >= 2 {
            self.op(if v { NEWTRUE } else { NEWFALSE });
        } else {
            self.write(if v { TRUE_TEXT } else { FALSE_TEXT });
        }
    }

    /// An int in 64 bits, in the shortest form the protocol allows.
    #[inline]
    pub fn int(&mut self, v: i64) {
        if (-0x8000_0000..=0x7fff_ffff).contains(&v) {
            if self.proto >= 1 {
                // BININT1, BININT2 or BININT chosen without a branch: in a run of ints of
                // mixed sizes a branch on the size is mispredicted most of the time.
                let class = usize::from(v as u64 > 0xff) + usize::from(v as u64 > 0xffff);
                let b = (v as i32).to_le_bytes();
                self.write(&[[BININT1, BININT2, BININT][class], b[0], b[1], b[2], b[3]]);
                let unused = [3, 2, 0][class];
                self.buf.truncate(self.buf.len() - unused);
            } else {
                let mut line = Vec::with_capacity(24);
                line.push(INT);
                pyfmt::push_i64(&mut line, v);
                line.push(b'\n');
                self.write(&line);
            }
        } else {
            let bytes = pyfmt::i64_to_le_min(v);
            self.big_int(&bytes);
        }
    }

    /// An int of any size given as little-endian two's complement bytes (any length;
    /// redundant sign bytes are dropped). Below protocol 2 it is decimal text of any
    /// length, where CPython 3.11 refuses ints over 4300 digits (`int_max_str_digits`).
    pub fn big_int(&mut self, le: &[u8]) {
        let le = pyfmt::trim_le(le);
        if le.len() <= 8 {
            let v = pyfmt::le_to_i64(le);
            if (-0x8000_0000..=0x7fff_ffff).contains(&v) {
                return self.int(v);
            }
        }
        if self.proto >= 2 {
            // `save_long` writes through `_Pickler_Write`: even a huge int stays in frames.
            if le.len() < 256 {
                self.write(&[LONG1, le.len() as u8]);
            } else {
                let mut h = [LONG4, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(le.len() as u32).to_le_bytes());
                self.write(&h);
            }
            self.write(le);
        } else {
            let mut line = Vec::with_capacity(le.len() * 3 + 4);
            line.push(LONG);
            line.extend_from_slice(pyfmt::le_to_decimal(le).as_bytes());
            line.extend_from_slice(b"L\n");
            self.write(&line);
        }
    }

    /// A float: `BINFLOAT` from protocol 1, the `repr` text before.
    #[inline]
    pub fn float(&mut self, v: f64) {
        if self.proto >= 1 {
            let b = v.to_be_bytes();
            self.write(&[BINFLOAT, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        } else {
            let mut line = Vec::with_capacity(32);
            line.push(FLOAT);
            line.extend_from_slice(pyfmt::float_repr(v).as_bytes());
            line.push(b'\n');
            self.write(&line);
        }
    }

    /// A `str`. Only the opcode: the host memoizes it afterwards, as CPython does.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.str_utf8(s.as_bytes());
    }

    /// A `str` given as generalized UTF-8 (lone surrogates allowed, `surrogatepass`).
    /// Over 4 GiB of UTF-8 it needs protocol 4 (`BINUNICODE8`); check the length first
    /// below that, as CPython refuses such strs there ([`crate::encode_tree`] does).
    #[inline]
    pub fn str_utf8(&mut self, utf8: &[u8]) {
        self.str_utf8_of(utf8, true);
    }

    /// [`Encoder::str_utf8`]; `may_defer` is false for text the encoder made itself.
    fn str_utf8_of(&mut self, utf8: &[u8], may_defer: bool) {
        if self.proto == 0 {
            let mut line = Vec::with_capacity(utf8.len() + 2);
            line.push(UNICODE);
            pyfmt::push_raw_unicode_escape(&mut line, utf8);
            line.push(b'\n');
            self.write(&line);
            return;
        }
        let n = utf8.len();
        if self.proto >= 4 && n < 256 {
            self.write_payload(&[SHORT_BINUNICODE, n as u8], utf8, may_defer);
        } else if n > 0xffff_ffff && self.proto >= 4 {
            let mut h = [BINUNICODE8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u64).to_le_bytes());
            self.write_payload(&h, utf8, may_defer);
        } else {
            let mut h = [BINUNICODE, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(n as u32).to_le_bytes());
            self.write_payload(&h, utf8, may_defer);
        }
    }

    /// `bytes`. From protocol 3 a bytes opcode; before, the `_codecs.encode(str,
    /// 'latin1')` reduction (or `bytes()` when empty) exactly as CPython writes it. The
    /// host memoizes the result afterwards in both cases. Over 4 GiB it writes
    /// `BINBYTES8`, which needs protocol 4 (CPython refuses such bytes at protocol 3;
    /// check the length first if that matters).
    pub fn bytes(&mut self, b: &[u8]) {
        self.bytes_of(b, true);
    }

    /// [`Encoder::bytes`], always copying the payload even with
    /// [`Encoder::defer_payloads`] on: for data the host cannot keep unchanged until the
    /// stream is put together (a borrowed buffer, a temporary).
    pub fn bytes_copied(&mut self, b: &[u8]) {
        self.bytes_of(b, false);
    }

    /// [`Encoder::bytes`]; `may_defer` is false for the copy of a mutable owner.
    fn bytes_of(&mut self, b: &[u8], may_defer: bool) {
        if self.proto >= 3 {
            let n = b.len();
            if n < 256 {
                self.write_payload(&[SHORT_BINBYTES, n as u8], b, may_defer);
            } else if n <= 0xffff_ffff {
                let mut h = [BINBYTES, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(n as u32).to_le_bytes());
                self.write_payload(&h, b, may_defer);
            } else {
                let mut h = [BINBYTES8, 0, 0, 0, 0, 0, 0, 0, 0];
                h[1..].copy_from_slice(&(n as u64).to_le_bytes());
                self.write_payload(&h, b, may_defer);
            }
        } else if b.is_empty() {
            self.boundary();
            self.own_global("builtins", "bytes");
            self.boundary();
            self.tuple_end(0);
            self.op(REDUCE);
        } else {
            self.boundary();
            self.own_global("_codecs", "encode");
            self.boundary();
            self.tuple_begin(2);
            self.boundary();
            let latin1: String = b.iter().map(|&c| c as char).collect();
            self.str_utf8_of(latin1.as_bytes(), false);
            self.memoize();
            self.boundary();
            self.own_str(OwnKey::Str, "latin1");
            self.tuple_end(2);
            self.memoize();
            self.op(REDUCE);
        }
    }

    /// `bytearray`: `BYTEARRAY8` in protocol 5, the `bytearray(bytes)` reduction before
    /// (`bytearray()` when empty). The host memoizes the result afterwards.
    pub fn bytearray(&mut self, b: &[u8]) {
        if self.proto >= 5 {
            let mut h = [BYTEARRAY8, 0, 0, 0, 0, 0, 0, 0, 0];
            h[1..].copy_from_slice(&(b.len() as u64).to_le_bytes());
            self.write_payload(&h, b, false);
        } else if b.is_empty() {
            self.boundary();
            self.own_global("builtins", "bytearray");
            self.boundary();
            self.tuple_end(0);
            self.op(REDUCE);
        } else {
            self.boundary();
            self.own_global("builtins", "bytearray");
            self.boundary();
            self.tuple_begin(1);
            self.boundary();
            self.bytes_of(b, false);
            self.memoize();
            self.tuple_end(1);
            self.memoize();
            self.op(REDUCE);
        }
    }

    /// An out-of-band buffer (protocol 5): `NEXT_BUFFER`, plus `READONLY_BUFFER`.
    pub fn next_buffer(&mut self, readonly: bool) -> Result<(), EncodeError> {
        if self.proto < 5 {
            return Err(EncodeError::NeedsProtocol("out-of-band buffers", 5));
        }
        self.op(NEXT_BUFFER);
        if readonly {
            self.op(READONLY_BUFFER);
        }
        Ok(())
    }

    // ---- containers ----------------------------------------------------------------

    /// `MARK`.
    #[inline]
    pub fn mark(&mut self) {
        self.op(MARK);
    }

    /// An empty list: `EMPTY_LIST`, or `MARK LIST` in protocol 0.
    #[inline]
    pub fn empty_list(&mut self) {
        if self.proto >= 1 {
            self.op(EMPTY_LIST);
        } else {
            self.write(&[MARK, LIST]);
        }
    }

    /// An empty dict: `EMPTY_DICT`, or `MARK DICT` in protocol 0.
    #[inline]
    pub fn empty_dict(&mut self) {
        if self.proto >= 1 {
            self.op(EMPTY_DICT);
        } else {
            self.write(&[MARK, DICT]);
        }
    }

    /// `EMPTY_SET` (protocol 4+; below, hosts reduce sets to `set([items])`).
    pub fn empty_set(&mut self) -> Result<(), EncodeError> {
        if self.proto < 4 {
            return Err(EncodeError::NeedsProtocol("EMPTY_SET", 4));
        }
        self.op(EMPTY_SET);
        Ok(())
    }

    /// `APPEND`.
    #[inline]
    pub fn append(&mut self) {
        self.op(APPEND);
    }

    /// `APPENDS`.
    #[inline]
    pub fn appends(&mut self) {
        self.op(APPENDS);
    }

    /// `SETITEM`.
    #[inline]
    pub fn setitem(&mut self) {
        self.op(SETITEM);
    }

    /// `SETITEMS`.
    #[inline]
    pub fn setitems(&mut self) {
        self.op(SETITEMS);
    }

    /// `ADDITEMS`.
    pub fn additems(&mut self) {
        self.op(ADDITEMS);
    }

    /// `FROZENSET` (after `MARK` and the items).
    pub fn frozenset(&mut self) {
        self.op(FROZENSET);
    }

    /// Before the items of a tuple of `len`: writes `MARK` when the closing opcode needs
    /// one (protocol 0/1 with items, or more than 3 items).
    pub fn tuple_begin(&mut self, len: usize) {
        if len == 0 || (len <= 3 && self.proto >= 2) {
            return;
        }
        self.op(MARK);
    }

    /// After the items of a tuple of `len`: `EMPTY_TUPLE`, `TUPLE1..3` or `TUPLE`. The
    /// host memoizes non-empty tuples afterwards.
    pub fn tuple_end(&mut self, len: usize) {
        if len == 0 {
            if self.proto >= 1 {
                self.op(EMPTY_TUPLE);
            } else {
                self.write(&[MARK, TUPLE]);
            }
        } else if len <= 3 && self.proto >= 2 {
            self.op(TUPLE1 + (len as u8 - 1));
        } else {
            self.op(TUPLE);
        }
    }

    /// Closes a tuple of `len` that became memoized while its items were written (it
    /// is reachable from itself): pops the items and fetches it from the memo instead.
    pub fn tuple_end_recursive(&mut self, len: usize, memo_index: u32) {
        if len <= 3 && self.proto >= 2 {
            for _ in 0..len {
                self.op(POP);
            }
        } else if self.proto >= 1 {
            self.op(POP_MARK);
        } else {
            for _ in 0..=len {
                self.op(POP);
            }
        }
        self.get(memo_index);
    }

    /// Closes a frozenset that became memoized while its items were written.
    pub fn frozenset_end_recursive(&mut self, memo_index: u32) {
        self.op(POP_MARK);
        self.get(memo_index);
    }

    // ---- memo ----------------------------------------------------------------------

    /// Memoizes the value on top of the stack and returns its memo index.
    #[inline]
    pub fn memoize(&mut self) -> u32 {
        let idx = self.memo_len;
        self.memo_len += 1;
        if self.proto >= 4 {
            self.op(MEMOIZE);
        } else if self.proto >= 1 {
            if idx < 256 {
                self.write(&[BINPUT, idx as u8]);
            } else {
                let b = idx.to_le_bytes();
                self.write(&[LONG_BINPUT, b[0], b[1], b[2], b[3]]);
            }
        } else {
            let mut line = Vec::with_capacity(12);
            line.push(PUT);
            pyfmt::push_i64(&mut line, idx as i64);
            line.push(b'\n');
            self.write(&line);
        }
        idx
    }

    /// Pushes memo entry `idx` again (`GET`/`BINGET`/`LONG_BINGET`).
    #[inline]
    pub fn get(&mut self, idx: u32) {
        if self.proto >= 1 {
            if idx < 256 {
                self.write(&[BINGET, idx as u8]);
            } else {
                let b = idx.to_le_bytes();
                self.write(&[LONG_BINGET, b[0], b[1], b[2], b[3]]);
            }
        } else {
            let mut line = Vec::with_capacity(12);
            line.push(GET);
            pyfmt::push_i64(&mut line, idx as i64);
            line.push(b'\n');
            self.write(&line);
        }
    }

    // ---- globals and calls ---------------------------------------------------------

    /// A reference to `module.name`: `STACK_GLOBAL` (its strings memoized) from protocol
    /// 4, `GLOBAL` before, with Python 3 names mapped to Python 2 ones below protocol 3
    /// (`fix_imports`); a dotted (nested) name below protocol 4 becomes the
    /// `builtins.getattr(parent, name)` reduction. The host memoizes the global afterwards
    /// (or use [`Encoder::global_memoized`]).
    pub fn global(&mut self, module: &str, name: &str) {
        if self.proto >= 4 {
            self.boundary();
            // Classes of one module share their `__module__` object, so CPython fetches
            // a module name from the memo; a name string is a new object each time.
            self.own_str(OwnKey::Module, module);
            self.boundary();
            self.str(name);
            self.memoize();
            self.op(STACK_GLOBAL);
        } else if let Some((parent, last)) = name.rsplit_once('.') {
            // A nested name has no GLOBAL form: `getattr(parent, last)`, as `save_global`.
            self.boundary();
            self.own_global("builtins", "getattr");
            self.boundary();
            self.tuple_begin(2);
            self.boundary();
            self.own_global(module, parent);
            self.boundary();
            self.str(last);
            self.memoize();
            self.tuple_end(2);
            self.memoize();
            self.op(REDUCE);
        } else {
            let (module, name) = if self.proto < 3 && self.fix_imports {
                crate::compat::to_python2(module, name)
            } else {
                (module, name)
            };
            let mut line = Vec::with_capacity(module.len() + name.len() + 3);
            line.push(GLOBAL);
            line.extend_from_slice(module.as_bytes());
            line.push(b'\n');
            line.extend_from_slice(name.as_bytes());
            line.push(b'\n');
            self.write(&line);
        }
    }

    /// Like [`Encoder::global`], but memoized by value in the encoder's own memo: the
    /// first call writes the global and memoizes it, later calls write a `GET`. Returns
    /// the memo index. This is how CPython treats a class or function met twice (one
    /// object, one memo entry), and it shares entries with the globals the encoder
    /// synthesises (`builtins.set` of the set reduction, etc.).
    pub fn global_memoized(&mut self, module: &str, name: &str) -> u32 {
        self.own_global(module, name)
    }

    /// `REDUCE`: call the callable below the argument tuple.
    pub fn reduce(&mut self) {
        self.op(REDUCE);
    }

    /// `NEWOBJ` (protocol 2+).
    pub fn newobj(&mut self) {
        self.op(NEWOBJ);
    }

    /// `NEWOBJ_EX` (protocol 4+).
    pub fn newobj_ex(&mut self) {
        self.op(NEWOBJ_EX);
    }

    /// `OBJ`: call the class just above the last `MARK` with the items above it (the
    /// protocol 0/1 `INST`/`OBJ` instantiation; CPython reads it at any protocol).
    pub fn obj(&mut self) {
        self.op(OBJ);
    }

    /// `BUILD`.
    pub fn build(&mut self) {
        self.op(BUILD);
    }

    /// `POP`.
    pub fn pop(&mut self) {
        self.op(POP);
    }

    /// `POP_MARK`.
    pub fn pop_mark(&mut self) {
        self.op(POP_MARK);
    }

    /// `DUP`.
    pub fn dup(&mut self) {
        self.op(DUP);
    }

    /// A persistent id given as text (`PERSID`, protocol 0).
    pub fn persid_text(&mut self, pid: &str) -> Result<(), EncodeError> {
        if pid.contains('\n') || !pid.is_ascii() {
            return Err(EncodeError::Invalid(
                "persistent id text must be ascii without newlines".into(),
            ));
        }
        let mut line = Vec::with_capacity(pid.len() + 2);
        line.push(PERSID);
        line.extend_from_slice(pid.as_bytes());
        line.push(b'\n');
        self.write(&line);
        Ok(())
    }

    /// `BINPERSID`: the persistent id is the value on top of the stack.
    pub fn binpersid(&mut self) {
        self.op(BINPERSID);
    }

    /// An extension code from the copyreg registry (`EXT1`/`EXT2`/`EXT4`).
    pub fn ext(&mut self, code: u32) {
        if code <= 0xff {
            self.write(&[EXT1, code as u8]);
        } else if code <= 0xffff {
            let b = (code as u16).to_le_bytes();
            self.write(&[EXT2, b[0], b[1]]);
        } else {
            let b = code.to_le_bytes();
            self.write(&[EXT4, b[0], b[1], b[2], b[3]]);
        }
    }

    /// Raw bytes, for hosts that must splice already-encoded opcodes.
    pub fn raw(&mut self, data: &[u8]) {
        self.write(data);
    }

    // ---- objects the encoder synthesises --------------------------------------------

    fn own_str(&mut self, kind: fn(String) -> OwnKey, s: &str) -> u32 {
        let key = kind(s.into());
        if let Some(&idx) = self.own_memo.get(&key) {
            self.get(idx);
            return idx;
        }
        self.str(s);
        let idx = self.memoize();
        self.own_memo.insert(key, idx);
        idx
    }

    fn own_global(&mut self, module: &str, name: &str) -> u32 {
        let key = OwnKey::Global(module.into(), name.into());
        if let Some(&idx) = self.own_memo.get(&key) {
            self.get(idx);
            idx
        } else {
            self.global(module, name);
            let idx = self.memoize();
            self.own_memo.insert(key, idx);
            idx
        }
    }
}
