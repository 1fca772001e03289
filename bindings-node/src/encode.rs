//! `dumps`: replays the tape `flatten.js` made of a JavaScript value through the core
//! [`Encoder`], in the order CPython's C pickler writes the equivalent Python objects
//! (memo, the core's batching runs for `APPENDS`/`SETITEMS`/`ADDITEMS`, a frame
//! boundary before each value).
//!
//! `null`/`undefined` → None, booleans, numbers (integral and safe → int, else float),
//! BigInt → int, strings → str (lone surrogates kept), `Uint8Array`/`Buffer` → bytes,
//! `Date` → an aware UTC `datetime.datetime`, arrays → list, `Map` → dict, `Set` → set,
//! other objects → dict of their own enumerable string keys. A JS object reached twice
//! is written once and fetched from the memo after, so shared and cyclic structures
//! survive. The walk, the type tests, the identity memo and the shapes (key lists sent
//! once) are done in JavaScript (`flatten.js`), where they cost no N-API call; this side
//! reads the tape with a few calls in all and makes none per value; the strings' text is
//! [`crate::dumptext`]'s. Not for decoding (see [`crate::decode`]).

use brinery_core::encode::Batch;
use brinery_core::encode::FallibleVec;
use brinery_core::Encoder;
use napi::bindgen_prelude::*;
use napi::sys::napi_value;
use napi_derive::napi;

use crate::dumptext::Text;
use crate::error::{Code, Failure, Fallible};
use crate::js::Js;
use crate::prints::{Mark, Prints};
pub use convert::negate;
use convert::{datetime_state, twos_complement};
use skip::Skips;

mod convert;
mod skip;

/// The ops of the tape, each followed by one number (see `flatten.js`).
mod op {
    pub const NONE: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT: u8 = 3;
    pub const FLOAT: u8 = 4;
    /// A string; the number is its length in UTF-16 units of the text.
    pub const STR: u8 = 5;
    /// The k-th `KEY` again.
    pub const KEY_AGAIN: u8 = 6;
    /// The k-th memoized object again.
    pub const OBJ_REF: u8 = 7;
    /// A list of n values.
    pub const LIST: u8 = 8;
    /// A dict of n key/value pairs.
    pub const DICT: u8 = 9;
    /// A set of n items, protocol 4 and up.
    pub const SET: u8 = 10;
    /// A set of n items as `set([...])`, memoized after its items (below protocol 4).
    pub const SET_OLD: u8 = 11;
    /// The Uint8Array at this index of the extras.
    pub const BYTES: u8 = 12;
    /// The BigInt at this index of the extras.
    pub const BIGINT: u8 = 13;
    /// A Date of this many milliseconds since the epoch (checked valid by the walk).
    pub const DATE: u8 = 14;
    /// An object key met for the first time: a `STR` that later `KEY_AGAIN`s name.
    pub const KEY: u8 = 15;
    /// A dict of n key/value pairs whose keys (each a `KEY` or `KEY_AGAIN`) define the
    /// next shape.
    pub const SHAPE_NEW: u8 = 16;
    /// A dict of the keys of the k-th shape: only its values follow.
    pub const SHAPE: u8 = 17;
    /// The next value is an object the walk knows to be reached again (by `OBJ_REF`).
    pub const SHARED: u8 = 18;
}

/// Encodes the tape `ops[..n]` with the first `text_len` bytes of `text` (`ascii`: all
/// of them ASCII) and its `extras` at `protocol` into a new `Buffer`. With `repeats` (a
/// tape written by a walk that trusted no object to repeat, see [`crate::prints`]), its
/// first number becomes the count of objects whose contents another object's equal,
/// and the next ones their memo order. With `skips` (the same tape again, and the
/// objects it reaches twice, see [`skip`]), later visits are fetched from the memo;
/// `null` when the tape cannot be written so.
#[napi(js_name = "dumpsTape")]
#[allow(clippy::too_many_arguments)]
pub fn dumps_tape(
    env: &Env,
    ops: Float64Array,
    n: u32,
    text: Unknown<'_>,
    text_len: u32,
    ascii: bool,
    extras: Unknown<'_>,
    protocol: u32,
    repeats: Option<Uint32Array>,
    skips: Option<Uint32Array>,
) -> Result<Option<Buffer>> {
    let mut repeats = repeats;
    let js = Js { env: env.raw() };
    let result = (|| {
        let protocol = u8::try_from(protocol)
            .map_err(|_| Failure::from(brinery_core::EncodeError::UnsupportedProtocol(255)))?;
        let ops = ops.get(..n as usize).ok_or_else(malformed)?;
        let bytes = js.uint8_bytes(text.raw())?.ok_or_else(malformed)?;
        let bytes = bytes.get(..text_len as usize).ok_or_else(malformed)?;
        // About the stream's size: the text, and a few bytes per op.
        // Written fallibly: memory refused for the stream is an error, not an abort.
        let out = FallibleVec::with_capacity(bytes.len() + ops.len() * 2 + 64);
        let enc = Encoder::with_buffer(protocol, out)?;
        let skips = skips.as_deref().map(Skips::new).transpose()?;
        let mut spare = crate::reuse::take();
        let mut dumper = Dumper {
            js,
            enc,
            ops,
            at: 0,
            text: Text::new(bytes, ascii, std::mem::take(&mut spare.strs)),
            extras: extras.raw(),
            tables: std::mem::take(&mut spare.dump),
            prints: repeats
                .is_some()
                .then(|| Prints::new(std::mem::take(&mut spare.prints))),
            last_key: 0,
            utc: None,
            depth: 0,
            skips,
            gave_up: false,
        };
        dumper.enc.begin();
        let mut done = dumper.save();
        if let (Some(prints), Some(out)) = (dumper.prints.take(), repeats.as_mut()) {
            // SAFETY: no JavaScript runs during this call (the tape's extras are plain
            // arrays of flatten.js), so nothing else reads or writes the array meanwhile.
            if done.is_ok() && !prints.repeats(unsafe { out.as_mut() }) {
                done = Err(malformed());
            }
            spare.prints = prints.into_buffer();
        }
        spare.strs = dumper.text.into_strings();
        spare.dump = std::mem::take(&mut dumper.tables);
        crate::reuse::give(spare);
        if dumper.gave_up {
            return Ok(None);
        }
        // A refused stream comes first: what failed after it may follow from it.
        let out = dumper.enc.finish().into_vec()?;
        done?;
        Ok::<_, Failure>(Some(out))
    })();
    match result {
        Ok(bytes) => Ok(bytes.map(Buffer::from)),
        Err(_) if js.exception_pending() => Err(Error::new(
            Status::PendingException,
            "exception while reading a value",
        )),
        Err(f) => Err(f.into_napi(env)),
    }
}

struct Dumper<'t> {
    js: Js,
    enc: Encoder<FallibleVec>,
    ops: &'t [f64],
    at: usize,
    text: Text<'t>,
    extras: napi_value,
    /// The memo and shape tables (kept from call to call).
    tables: Tables,
    /// The fingerprints of the objects, when the tape's walk trusted none to repeat.
    prints: Option<Prints>,
    /// Memo index of the key just written.
    last_key: u32,
    /// The UTC tzinfo, once written.
    utc: Option<u32>,
    /// Values being saved, one inside the other.
    depth: u32,
    /// Later visits to fetch from the memo, on a second replay (see [`skip`]).
    skips: Option<Skips>,
    /// That replay met what a later visit cannot hold.
    gave_up: bool,
}

fn malformed() -> Failure {
    Failure::new(Code::BadArgument, "malformed dumps tape")
}

impl Dumper<'_> {
    #[inline]
    fn next(&mut self) -> Fallible<(u8, f64)> {
        let (Some(&code), Some(&x)) = (self.ops.get(self.at), self.ops.get(self.at + 1)) else {
            return Err(malformed());
        };
        self.at += 2;
        Ok((code as u8, x))
    }

    fn memo_ref(table: &[u32], k: f64) -> Fallible<u32> {
        table.get(index(k)).copied().ok_or_else(malformed)
    }

    /// The next value of the tape, after its [`Encoder::boundary`]. The tape nests no
    /// deeper than [`MAX_DEPTH`] (flatten.js stops at 1,000): the walk here recurses.
    fn save(&mut self) -> Fallible<()> {
        self.nested(Self::save_value)
    }

    /// `f`, one level deeper in the tape: every walk of it recurses through here.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Fallible<()>) -> Fallible<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(malformed());
        }
        let done = f(self);
        self.depth -= 1;
        done
    }

    fn save_value(&mut self) -> Fallible<()> {
        self.enc.boundary();
        let (code, x) = self.next()?;
        if let Some(skips) = &self.skips {
            let object = matches!(
                code,
                op::LIST | op::DICT | op::SHAPE_NEW | op::SHAPE | op::SET | op::BYTES | op::DATE
            );
            if object && skips.next() == self.tables.objs.len() as u32 {
                return self.skip_visit(code, x);
            }
        }
        let n = index(x);
        let mark = self.mark();
        match code {
            op::NONE | op::FALSE | op::TRUE => {
                self.token(code, 0);
                match code {
                    op::NONE => self.enc.none(),
                    _ => self.enc.bool(code == op::TRUE),
                }
            }
            op::INT => {
                self.token(code, x as i64 as u64);
                self.enc.int(x as i64);
            }
            op::FLOAT => {
                self.token(code, x.to_bits());
                self.enc.float(x);
            }
            op::STR => {
                let idx = self.str(n)?;
                self.token(op::STR, idx.into());
            }
            op::KEY => {
                let idx = self.str(n)?;
                self.tables.keys.push(idx);
                self.last_key = idx;
                self.token(op::KEY, idx.into());
            }
            op::KEY_AGAIN => {
                let idx = Self::memo_ref(&self.tables.keys, x)?;
                self.enc.get(idx);
                self.last_key = idx;
                self.token(op::KEY, idx.into());
            }
            op::OBJ_REF => {
                let idx = Self::memo_ref(&self.tables.objs, x)?;
                if idx == SKIPPED {
                    return Err(malformed());
                }
                self.enc.get(idx);
                self.token(op::OBJ_REF, n as u64);
            }
            op::SHARED => {
                // Its memo order is the next: it is memoized before anything in it.
                let ord = self.tables.objs.len();
                self.save()?;
                if let Some(p) = &mut self.prints {
                    p.rewind(mark);
                    p.token(op::OBJ_REF, ord as u64);
                }
            }
            op::LIST => {
                self.token(code, n as u64);
                self.enc.empty_list();
                let ord = self.memoize();
                self.items(Batch::List, n)?;
                self.printed(ord, mark);
            }
            op::DICT => {
                self.token(code, n as u64);
                self.enc.empty_dict();
                let ord = self.memoize();
                self.entries(n, false)?;
                self.printed(ord, mark);
            }
            op::SHAPE_NEW => {
                // The shape is numbered before its values, which may define shapes of
                // their own (as flatten.js numbers them); its keys are kept together
                // once all are known, and it cannot be used before (flatten.js writes
                // an object of its keys among its values as a `DICT`). Printed, as
                // every dict of string keys is, as its keys' memo indexes and values.
                let id = self.tables.shapes.len();
                self.tables.shapes.push((0, OPEN_SHAPE));
                self.token(op::DICT, n as u64);
                self.enc.empty_dict();
                let ord = self.memoize();
                let base = self.tables.key_stack.len();
                self.entries(n, true)?;
                self.tables.shapes[id] = (self.tables.shape_keys.len() as u32, n as u32);
                let keys = self.tables.key_stack.get(base..).ok_or_else(malformed)?;
                self.tables.shape_keys.extend_from_slice(keys);
                self.tables.key_stack.truncate(base);
                self.printed(ord, mark);
            }
            op::SHAPE => {
                let &(start, len) = self.tables.shapes.get(n).ok_or_else(malformed)?;
                if len == OPEN_SHAPE {
                    return Err(malformed());
                }
                self.token(op::DICT, u64::from(len));
                self.enc.empty_dict();
                let ord = self.memoize();
                self.shaped(start as usize, len as usize)?;
                self.printed(ord, mark);
            }
            op::SET => {
                self.token(code, n as u64);
                self.enc.empty_set()?;
                let ord = self.memoize();
                self.items(Batch::Set, n)?;
                self.printed(ord, mark);
            }
            op::SET_OLD => {
                // `set([items])`, as `save_set` writes below protocol 4.
                self.token(code, n as u64);
                self.enc.set_reduce_begin(false);
                self.items(Batch::List, n)?;
                self.enc.set_reduce_end();
                let ord = self.memoize();
                self.printed(ord, mark);
            }
            op::BYTES => {
                let v = self.js.element(self.extras, n as u32)?;
                let bytes = self.js.uint8_bytes(v)?.ok_or_else(malformed)?;
                // The same Uint8Array is the same memory, whatever its index.
                self.token(code, bytes.as_ptr() as u64);
                self.token(code, bytes.len() as u64);
                self.enc.bytes(bytes);
                let ord = self.memoize();
                self.printed(ord, mark);
            }
            op::BIGINT => {
                let v = self.js.element(self.extras, n as u32)?;
                let (negative, words) = self.js.bigint(v)?;
                self.token(code, u64::from(negative));
                for &w in &words {
                    self.token(code, w);
                }
                self.enc.big_int(&twos_complement(negative, &words));
            }
            op::DATE => {
                self.token(code, x.to_bits());
                let ord = self.date(x)?;
                self.printed(ord, mark);
            }
            _ => return Err(malformed()),
        }
        Ok(())
    }

    #[inline]
    fn token(&mut self, kind: u8, x: u64) {
        if let Some(p) = &mut self.prints {
            p.token(kind, x);
        }
    }

    #[inline]
    fn mark(&self) -> Mark {
        self.prints.as_ref().map_or(Mark::default(), Prints::mark)
    }

    #[inline]
    fn printed(&mut self, ord: usize, mark: Mark) {
        if let Some(p) = &mut self.prints {
            p.object(ord, mark);
        }
    }

    /// The next string of the text, `n` UTF-16 units long: written and memoized the
    /// first time, fetched from the memo after. Returns its memo index.
    #[inline]
    fn str(&mut self, n: usize) -> Fallible<u32> {
        let at = self.text.next(n)?;
        let enc = &mut self.enc;
        let (idx, again) = self.text.memo(at, |utf8| {
            enc.str_utf8(utf8);
            enc.memoize()
        });
        if again {
            self.enc.get(idx);
        }
        Ok(idx)
    }

    /// [`Dumper::save`] with ints, floats and strings written inline: the items of a
    /// list or dict are mostly scalars, and the call per item (through the dispatch of
    /// every op) was a third of a list of ints' time.
    #[inline(always)]
    fn save_item(&mut self) -> Fallible<()> {
        if let (Some(&code), Some(&x)) = (self.ops.get(self.at), self.ops.get(self.at + 1)) {
            if code == f64::from(op::INT) {
                self.at += 2;
                self.enc.boundary();
                self.token(op::INT, x as i64 as u64);
                self.enc.int(x as i64);
                return Ok(());
            }
            if code == f64::from(op::STR) {
                self.at += 2;
                self.enc.boundary();
                let idx = self.str(index(x))?;
                self.token(op::STR, idx.into());
                return Ok(());
            }
            if code == f64::from(op::FLOAT) {
                self.at += 2;
                self.enc.boundary();
                self.token(op::FLOAT, x.to_bits());
                self.enc.float(x);
                return Ok(());
            }
        }
        self.save()
    }

    /// Memoizes the object just written; returns its place in memo order.
    #[inline]
    fn memoize(&mut self) -> usize {
        let idx = self.enc.memoize();
        self.tables.objs.push(idx);
        self.tables.objs.len() - 1
    }

    /// The next `n` values as the items of a list or set, batched as `batch`.
    fn items(&mut self, batch: Batch, n: usize) -> Fallible<()> {
        let mut i = 0;
        while i < n {
            let end = self.enc.batch_run_begin(batch, i, n);
            for _ in i..end {
                self.save_item()?;
            }
            self.enc.batch_run_end(batch, end, n);
            i = end;
        }
        Ok(())
    }

    /// The next `n` key/value pairs as a dict's entries; with `shape`, the keys' memo
    /// indexes go on `key_stack`.
    fn entries(&mut self, n: usize, shape: bool) -> Fallible<()> {
        let mut i = 0;
        while i < n {
            let end = self.enc.batch_run_begin(Batch::Dict, i, n);
            for _ in i..end {
                self.save_item()?;
                if shape {
                    self.tables.key_stack.push(self.last_key);
                }
                self.save_item()?;
            }
            self.enc.batch_run_end(Batch::Dict, end, n);
            i = end;
        }
        Ok(())
    }

    /// A dict of the keys whose memo indexes are `shape_keys[start..start + n]`, then
    /// the next `n` values.
    fn shaped(&mut self, start: usize, n: usize) -> Fallible<()> {
        if self.tables.shape_keys.len() < start + n {
            return Err(malformed());
        }
        let mut i = 0;
        while i < n {
            let end = self.enc.batch_run_begin(Batch::Dict, i, n);
            for j in i..end {
                self.enc.boundary();
                let key = self.tables.shape_keys[start + j];
                self.enc.get(key);
                self.token(op::KEY, key.into());
                self.save_item()?;
            }
            self.enc.batch_run_end(Batch::Dict, end, n);
            i = end;
        }
        Ok(())
    }

    /// `datetime.datetime(bytes, datetime.timezone(datetime.timedelta(0)))`; returns its
    /// place in memo order.
    fn date(&mut self, ms: f64) -> Fallible<usize> {
        let state = datetime_state(ms).ok_or_else(|| {
            Failure::new(
                Code::Encode,
                "only valid Dates in years 1 to 9999 can be pickled",
            )
        })?;
        self.enc.global_memoized("datetime", "datetime");
        self.enc.boundary();
        self.enc.tuple_begin(2);
        self.enc.boundary();
        self.enc.bytes(&state);
        self.enc.memoize();
        self.enc.boundary();
        if let Some(idx) = self.utc {
            self.enc.get(idx);
        } else {
            self.enc.global_memoized("datetime", "timezone");
            self.enc.boundary();
            self.enc.tuple_begin(1);
            self.enc.boundary();
            self.enc.global_memoized("datetime", "timedelta");
            self.enc.boundary();
            self.enc.tuple_begin(3);
            for _ in 0..3 {
                self.enc.boundary();
                self.enc.int(0);
            }
            self.enc.tuple_end(3);
            self.enc.memoize();
            self.enc.reduce();
            self.enc.memoize();
            self.enc.tuple_end(1);
            self.enc.memoize();
            self.enc.reduce();
            self.utc = Some(self.enc.memoize());
        }
        self.enc.tuple_end(2);
        self.enc.memoize();
        self.enc.reduce();
        Ok(self.memoize())
    }
}

/// The tables a `dumps` call fills, kept for the next call's (see [`crate::reuse`]).
#[derive(Default)]
pub struct Tables {
    /// Memo index of the k-th memoized object, and of the k-th object key.
    objs: Vec<u32>,
    keys: Vec<u32>,
    /// The k-th shape's keys: `shape_keys[start..start + len]`, their memo indexes.
    shapes: Vec<(u32, u32)>,
    shape_keys: Vec<u32>,
    /// The keys of the shapes being defined, one inside the other (each shape's keys
    /// are on top while its entries are written).
    key_stack: Vec<u32>,
}

impl Tables {
    /// Empties the tables for the next call (see [`crate::reuse::keep`]).
    pub fn recycle(&mut self) {
        use crate::reuse::keep;
        keep(&mut self.objs);
        keep(&mut self.keys);
        keep(&mut self.shapes);
        keep(&mut self.shape_keys);
        keep(&mut self.key_stack);
    }
}

/// The deepest tape nesting replayed (flatten.js nests up to 1,000 containers; a
/// `SHARED` before one adds a level).
const MAX_DEPTH: u32 = 2100;

/// The memo index of an object skipped (a later visit, or inside one).
const SKIPPED: u32 = u32::MAX;

/// The length of a shape whose first object is still being written.
const OPEN_SHAPE: u32 = u32::MAX;

/// A count or index of the tape as a `usize`, through `i64` (one instruction; `as usize`
/// takes a dozen): a negative one becomes huge and fails the bounds check it meets.
#[inline]
fn index(x: f64) -> usize {
    x as i64 as usize
}
