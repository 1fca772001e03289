//! The tape: how a decoded [`crate::graph::Graph`] crosses into JavaScript in a few
//! napi values instead of one napi call per Python object.
//!
//! The tape is a `Float64Array` of opcodes and their arguments in depth-first order; all
//! string text is one JS string (Latin-1 when every code unit fits, else UTF-16) that
//! `builder.js` slices in order; all bytes payloads are one `Buffer` it views in order;
//! the longest list of numbers, when long, follows the ops in the same array (`NUMX`);
//! lists of int32s say so (`INTS`, `INTX`), so JS builds them as small-integer arrays.
//! Objects reached more than once get a slot number, so shared and cyclic references
//! come back as one JS object. Every string cut from the text is numbered in order, and
//! those the tape fetches again go to a string table, so a str the stream reaches again
//! is fetched, not cut and allocated again. Dicts whose keys are all str name a key set (a shape) defined once, so records
//! repeat no keys. The opcode numbers here and in `builder.js` must agree.
//! Not for deciding what a Python value becomes: that is [`crate::decode`] and
//! [`crate::stdtypes`].

/// `null`.
pub const NONE: f64 = 0.0;
/// `false`.
pub const FALSE: f64 = 1.0;
/// `true`.
pub const TRUE: f64 = 2.0;
/// `NUM value`: a number.
pub const NUM: f64 = 3.0;
/// `STR len`: the next `len` UTF-16 units of the text, the next string.
pub const STR: f64 = 4.0;
/// `BIGINT negative len`: the next `len` text units are hex digits of the magnitude
/// (BigInts are values: no slot).
pub const BIGINT: f64 = 5.0;
/// `BYTES len slot`: the next `len` bytes of the blob, as a `Buffer`.
pub const BYTES: f64 = 6.0;
/// `LIST n slot`, then `n` values: an `Array`.
pub const LIST: f64 = 7.0;
/// `TUPLE n slot`, then `n` values: a frozen `Array`.
pub const TUPLE: f64 = 8.0;
/// `OBJECT n slot`, then `n` key/value pairs: a plain object.
pub const OBJECT: f64 = 9.0;
/// `MAP n slot`, then `n` key/value pairs: a `Map`.
pub const MAP: f64 = 10.0;
/// `SET n slot`, then `n` values: a `Set`.
pub const SET: f64 = 11.0;
/// `REF slot`: the object already stored in `slot`.
pub const REF: f64 = 12.0;
/// `DATE ms slot`: a `Date`.
pub const DATE: f64 = 13.0;
/// `NUMS n slot`, then `n` raw numbers: an `Array` of numbers.
pub const NUMS: f64 = 14.0;
/// `STRS n slot`, then `n` string entries (see [`Tape::entry`]): an `Array` of strings.
pub const STRS: f64 = 15.0;
/// `CALL slot`, then name, args, kwargs, state, items, entries: a mapped class or an
/// inert `{ $global, args, state }`.
pub const CALL: f64 = 16.0;
/// `GLOBAL slot`, then the name: a mapped class itself, or an inert `{ $global }`.
pub const GLOBAL: f64 = 17.0;
/// `SREF entry`: a string table entry, as [`Tape::entry`] writes it.
pub const SREF: f64 = 18.0;
/// `KEYS n`, then `n` string entries: defines the next shape (no value).
pub const KEYS: f64 = 19.0;
/// `SHAPE shape slot`, then one value per key of the shape: a plain object.
pub const SHAPE: f64 = 20.0;
/// `PERSID slot`, then the persistent id: what the caller's `persistentLoad` returns.
pub const PERSID: f64 = 21.0;
/// `OOB index slot`: the caller's out-of-band buffer `index`.
pub const OOB: f64 = 22.0;
/// `NUMX n slot`: an `Array` of the `n` numbers after the ops, from `numsAt` (one list
/// per tape, copied there straight from the graph, not through the ops).
pub const NUMX: f64 = 23.0;

/// `INTS n slot`, then `n` raw numbers, every one an int32 (and no `-0`): an `Array`
/// V8 keeps as small integers (stored as doubles, a list of ints takes twice the
/// memory and a conversion of the whole array on the first store).
pub const INTS: f64 = 24.0;
/// `INTX n slot`: as `NUMX`, every number an int32 (see [`INTS`]).
pub const INTX: f64 = 25.0;

/// No slot: the value is reached once.
pub const NO_SLOT: f64 = -1.0;

/// True when `f` reads back as the same JS value through `f | 0`: an int32, not `-0`.
#[inline]
pub fn is_int32(f: f64) -> bool {
    f == f64::from(f as i32) && (f != 0.0 || f.is_sign_positive())
}

/// True when every number of `nums` is an int32 (see [`is_int32`]).
pub fn all_int32(nums: &[f64]) -> bool {
    nums.iter().all(|&f| is_int32(f))
}

/// All string text of a tape. It starts lent from the graph's own text (see
/// [`Text::lent_from`]): while every str written is ASCII and is the next run of that
/// text, in order, with nothing else between, only its length is counted and nothing is
/// copied (then the graph's text itself becomes the JS string). Anything else copies
/// what was lent, and the text goes on as Latin-1 bytes while every code unit fits,
/// UTF-16 after.
#[derive(Default)]
pub struct Text<'g> {
    /// The graph's text, the text lent from.
    source: &'g str,
    /// `Some(n)`: the text is `source[..n]`, not copied.
    lent: Option<usize>,
    /// All of the source is known to be ASCII.
    ascii: bool,
    narrow: Vec<u8>,
    wide: Option<Vec<u16>>,
}

/// What a tape's text became: the units of one JS string, or a prefix of the graph's
/// text.
#[derive(Debug)]
pub enum TextParts {
    Latin1(Vec<u8>),
    Utf16(Vec<u16>),
    /// The first `n` bytes of the graph's text, all ASCII (so Latin-1 as they are).
    Lent(usize),
}

impl<'g> Text<'g> {
    /// An empty text that borrows from `source` while it can; `ascii` says all of
    /// `source` is known to be ASCII.
    pub fn lent_from(source: &'g str, ascii: bool) -> Self {
        Text {
            source,
            lent: Some(0),
            ascii,
            ..Text::default()
        }
    }

    /// Length in UTF-16 code units.
    #[inline]
    pub fn len(&self) -> usize {
        match (&self.wide, self.lent) {
            (_, Some(n)) => n,
            (Some(w), None) => w.len(),
            (None, None) => self.narrow.len(),
        }
    }

    /// Counts `s` as lent when it is ASCII and the next run of the source; false (and
    /// nothing done) otherwise.
    #[inline]
    fn push_lent(&mut self, s: &str) -> bool {
        let Some(n) = self.lent else {
            return false;
        };
        // `s` starts inside the source and ends within it: it is that part of it (a
        // live allocation cannot overlap the source's).
        let next = self.source.as_ptr() as usize + n;
        if s.as_ptr() as usize == next
            && n + s.len() <= self.source.len()
            && (self.ascii || s.is_ascii())
        {
            self.lent = Some(n + s.len());
            return true;
        }
        false
    }

    /// Copies what was lent, so the text can take anything.
    #[inline]
    fn own(&mut self) {
        if let Some(n) = self.lent.take() {
            self.copy_lent(n);
        }
    }

    #[cold]
    fn copy_lent(&mut self, n: usize) {
        // The rest is at most about as long as the source (shared strings are written
        // once).
        self.narrow.reserve(self.source.len().max(n) + 64);
        self.narrow.extend_from_slice(&self.source.as_bytes()[..n]);
    }

    #[inline]
    fn push_ascii(&mut self, b: &[u8]) {
        self.own();
        match &mut self.wide {
            Some(w) => w.extend(b.iter().map(|&c| u16::from(c))),
            None => self.narrow.extend_from_slice(b),
        }
    }

    #[inline]
    fn push_unit(&mut self, unit: u16) {
        self.own();
        if let Some(w) = &mut self.wide {
            w.push(unit);
        } else if unit <= 0xff {
            self.narrow.push(unit as u8);
        } else {
            let mut w: Vec<u16> = Vec::with_capacity(self.narrow.capacity().max(16) * 2);
            w.extend(self.narrow.iter().map(|&c| u16::from(c)));
            w.push(unit);
            self.narrow = Vec::new();
            self.wide = Some(w);
        }
    }

    /// The text as the units of one JS string, or the prefix of the source it is.
    pub fn into_parts(self) -> TextParts {
        match (self.lent, self.wide) {
            (Some(n), _) => TextParts::Lent(n),
            (None, Some(w)) => TextParts::Utf16(w),
            (None, None) => TextParts::Latin1(self.narrow),
        }
    }
}

/// The buffers a tape is made of, filled by [`crate::decode`] (the moved list of
/// numbers is handed over separately).
#[derive(Default)]
pub struct Tape<'g> {
    pub ops: Vec<f64>,
    pub text: Text<'g>,
    pub blob: Vec<u8>,
    pub slots: u32,
    /// Strings cut from the text so far: the number of the next.
    pub strings: u32,
    /// Where the ops hold a string table entry (patched by [`Tape::finish`]).
    pub refs: Vec<usize>,
}

/// A tape once written, its text no longer borrowing the graph.
pub struct Written {
    pub ops: Vec<f64>,
    pub text: TextParts,
    pub blob: Vec<u8>,
    pub slots: u32,
    /// The numbers of the strings the tape fetches again, ascending: only these go to
    /// the string table, entry `k` the `k`th of them.
    pub keep: Vec<f64>,
}

impl Tape<'_> {
    /// The tape's buffers, with its text as [`TextParts`], and the string table
    /// entries renumbered to count only the strings fetched again (JS then stores
    /// no other string in its table).
    pub fn finish(mut self) -> Written {
        let number = |e: f64| (-1.0 - e) as u32;
        let mut keep: Vec<u32> = self.refs.iter().map(|&p| number(self.ops[p])).collect();
        keep.sort_unstable();
        keep.dedup();
        for &p in &self.refs {
            let k = keep
                .binary_search(&number(self.ops[p]))
                .unwrap_or_else(|k| k);
            self.ops[p] = Tape::entry(k as u32);
        }
        Written {
            ops: self.ops,
            text: self.text.into_parts(),
            blob: self.blob,
            slots: self.slots,
            keep: keep.into_iter().map(f64::from).collect(),
        }
    }

    /// Appends a string entry (see [`Tape::entry`]), noting where a table entry is.
    #[inline]
    pub fn push_entry(&mut self, e: f64) {
        if e < 0.0 {
            self.refs.push(self.ops.len());
        }
        self.ops.push(e);
    }

    #[inline]
    pub fn op(&mut self, op: f64) {
        self.ops.push(op);
    }

    #[inline]
    pub fn op2(&mut self, op: f64, a: f64) {
        self.ops.extend_from_slice(&[op, a]);
    }

    #[inline]
    pub fn op3(&mut self, op: f64, a: f64, b: f64) {
        self.ops.extend_from_slice(&[op, a, b]);
    }

    /// Appends valid UTF-8 to the text and returns its length in UTF-16 units.
    #[inline]
    pub fn text_str(&mut self, s: &str) -> usize {
        if self.text.push_lent(s) {
            return s.len();
        }
        if s.is_ascii() {
            self.text.push_ascii(s.as_bytes());
            return s.len();
        }
        let start = self.text.len();
        for unit in s.encode_utf16() {
            self.text.push_unit(unit);
        }
        self.text.len() - start
    }

    /// Appends generalized UTF-8 (lone surrogates allowed) and returns its length in
    /// UTF-16 units, or `None` when the bytes are malformed.
    pub fn text_wtf8(&mut self, mut b: &[u8]) -> Option<usize> {
        let start = self.text.len();
        while !b.is_empty() {
            let (cp, len) = brinery_core::pyfmt::decode_wtf8_char(b)?;
            b = &b[len..];
            if cp >= 0x10000 {
                let c = cp - 0x10000;
                self.text.push_unit(0xd800 | (c >> 10) as u16);
                self.text.push_unit(0xdc00 | (c & 0x3ff) as u16);
            } else {
                self.text.push_unit(cp as u16);
            }
        }
        Some(self.text.len() - start)
    }

    /// Appends a `STR` op for `s` and returns its string table index.
    #[inline]
    pub fn str_value(&mut self, s: &str) -> u32 {
        let len = self.text_str(s);
        self.op2(STR, len as f64);
        self.next_string()
    }

    /// Numbers a string just cut from the text.
    #[inline]
    pub fn next_string(&mut self) -> u32 {
        self.strings += 1;
        self.strings - 1
    }

    /// The entry of a string in `STRS`, `KEYS` and `SREF`: its length when it is cut
    /// from the text (it takes the next number), `-1 - number` for one cut before (the
    /// number becomes its table index in [`Tape::finish`]).
    #[inline]
    pub fn entry(index: u32) -> f64 {
        -1.0 - f64::from(index)
    }

    /// Appends a `BIGINT` for a little-endian two's complement int of any size.
    pub fn big_int(&mut self, le: &[u8]) {
        let negative = le.last().is_some_and(|&b| b & 0x80 != 0);
        let mut mag: Vec<u8> = le.to_vec();
        if negative {
            crate::encode::negate(&mut mag);
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = Vec::with_capacity(mag.len() * 2);
        for &b in mag.iter().rev() {
            digits.push(HEX[(b >> 4) as usize]);
            digits.push(HEX[(b & 15) as usize]);
        }
        let zeros = digits.iter().take_while(|&&d| d == b'0').count();
        let digits = &digits[zeros.min(digits.len().saturating_sub(1))..];
        let digits: &[u8] = if digits.is_empty() { b"0" } else { digits };
        self.text.push_ascii(digits);
        self.ops
            .extend_from_slice(&[BIGINT, negative as u8 as f64, digits.len() as f64]);
    }

    /// Appends a number, or a `BIGINT` when it is beyond `Number.MAX_SAFE_INTEGER`.
    #[inline]
    pub fn int(&mut self, v: i64) {
        const SAFE: i64 = (1 << 53) - 1;
        if (-SAFE..=SAFE).contains(&v) {
            self.op2(NUM, v as f64);
        } else {
            self.big_int(&v.to_le_bytes());
        }
    }

    /// Appends a `BYTES` op with its payload.
    pub fn bytes(&mut self, b: &[u8], slot: f64) {
        self.blob.extend_from_slice(b);
        self.op3(BYTES, b.len() as f64, slot);
    }
}
