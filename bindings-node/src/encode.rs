//! `dumps`: replays the tape `flatten.js` made of a JavaScript value through the core
//! [`Encoder`], in the order CPython's C pickler writes the equivalent Python objects
//! (memo, batches of 1000 for `APPENDS`/`SETITEMS`/`ADDITEMS`, frame boundaries after
//! each value).
//!
//! `null`/`undefined` → None, booleans, numbers (integral and safe → int, else float),
//! BigInt → int, strings → str (lone surrogates kept), `Uint8Array`/`Buffer` → bytes,
//! `Date` → an aware UTC `datetime.datetime`, arrays → list, `Map` → dict, `Set` → set,
//! other objects → dict of their own enumerable string keys. A JS object reached twice
//! is written once and fetched from the memo after, so shared and cyclic structures
//! survive. The walk, the type tests and the identity memo are done in JavaScript
//! (`flatten.js`), where they cost no N-API call; this side reads the tape with a few
//! calls in all and makes none per value. Not for decoding (see [`crate::decode`]).

use std::collections::HashMap;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use brinery_core::Encoder;
use napi::bindgen_prelude::*;
use napi::sys::napi_value;
use napi_derive::napi;

use crate::error::{Code, Failure, Fallible};
use crate::js::Js;

/// Items per `APPENDS`/`SETITEMS`/`ADDITEMS`, as `_pickle.c`'s `BATCHSIZE`.
const BATCH: usize = 1000;

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
}

/// Encodes the tape `ops[..n]` with its `text` and `extras` at `protocol` into a new
/// `Buffer`.
#[napi(js_name = "dumpsTape")]
pub fn dumps_tape(
    env: &Env,
    ops: Float64Array,
    n: u32,
    text: Unknown<'_>,
    extras: Unknown<'_>,
    protocol: u32,
) -> Result<Buffer> {
    let js = Js { env: env.raw() };
    let result = (|| {
        let protocol = u8::try_from(protocol)
            .map_err(|_| Failure::from(brinery_core::EncodeError::UnsupportedProtocol(255)))?;
        let enc = Encoder::new(protocol)?;
        let ops = ops.get(..n as usize).ok_or_else(|| {
            Failure::new(Code::BadArgument, "the tape is shorter than its length")
        })?;
        let mut spare = crate::reuse::take();
        let mut units = std::mem::take(&mut spare.units);
        let strs = std::mem::take(&mut spare.strs);
        if let Err(e) = js.utf16(text.raw(), &mut units) {
            crate::reuse::give(spare);
            return Err(e);
        }
        let mut dumper = Dumper {
            js,
            enc,
            ops,
            at: 0,
            text: &units,
            text_at: 0,
            extras: extras.raw(),
            strs,
            hasher: foldhash::fast::RandomState::default(),
            objs: Vec::new(),
            keys: Vec::new(),
            globals: HashMap::new(),
            utf8: Vec::new(),
        };
        dumper.enc.begin();
        let done = dumper.save();
        spare.strs = std::mem::take(&mut dumper.strs);
        let enc = dumper.enc;
        spare.units = units;
        crate::reuse::give(spare);
        done?;
        Ok::<_, Failure>(enc.finish())
    })();
    match result {
        Ok(bytes) => Ok(Buffer::from(bytes)),
        Err(_) if js.exception_pending() => Err(Error::new(
            Status::PendingException,
            "exception while reading a value",
        )),
        Err(f) => Err(f.into_napi(env)),
    }
}

struct Dumper<'t> {
    js: Js,
    enc: Encoder,
    ops: &'t [f64],
    at: usize,
    /// Every new string of the tape, one after the other, as UTF-16.
    text: &'t [u16],
    text_at: usize,
    extras: napi_value,
    /// Strings written, by value: start and length in `text`, and memo index.
    strs: HashTable<(u32, u32, u32)>,
    hasher: foldhash::fast::RandomState,
    /// Memo index of the k-th memoized object, and of the k-th object key.
    objs: Vec<u32>,
    keys: Vec<u32>,
    /// Globals and the UTC tzinfo already written.
    globals: HashMap<&'static str, u32>,
    utf8: Vec<u8>,
}

fn malformed() -> Failure {
    Failure::new(Code::BadArgument, "malformed dumps tape")
}

impl Dumper<'_> {
    fn next(&mut self) -> Fallible<(u8, f64)> {
        let (Some(&code), Some(&x)) = (self.ops.get(self.at), self.ops.get(self.at + 1)) else {
            return Err(malformed());
        };
        self.at += 2;
        Ok((code as u8, x))
    }

    fn memo_ref(table: &[u32], k: f64) -> Fallible<u32> {
        table.get(k as usize).copied().ok_or_else(malformed)
    }

    fn save(&mut self) -> Fallible<()> {
        let (code, x) = self.next()?;
        let n = x as usize;
        match code {
            op::NONE => self.enc.none(),
            op::FALSE => self.enc.bool(false),
            op::TRUE => self.enc.bool(true),
            op::INT => self.enc.int(x as i64),
            op::FLOAT => self.enc.float(x),
            op::STR | op::KEY => {
                let at = self.text_at;
                self.text_at += n;
                let idx = self.str(at, n)?;
                if code == op::KEY {
                    self.keys.push(idx);
                }
            }
            op::KEY_AGAIN => {
                let idx = Self::memo_ref(&self.keys, x)?;
                self.enc.get(idx);
            }
            op::OBJ_REF => {
                let idx = Self::memo_ref(&self.objs, x)?;
                self.enc.get(idx);
            }
            op::LIST => {
                self.enc.empty_list();
                self.memoize();
                self.appends(n)?;
            }
            op::DICT => {
                self.enc.empty_dict();
                self.memoize();
                self.setitems(n)?;
            }
            op::SET => {
                self.enc.empty_set()?;
                self.memoize();
                let mut start = 0;
                while start < n {
                    let end = (start + BATCH).min(n);
                    self.enc.mark();
                    for _ in start..end {
                        self.save_item()?;
                    }
                    self.enc.additems();
                    start = end;
                }
            }
            op::SET_OLD => {
                // `set([items])`, as `save_set` writes below protocol 4.
                self.global("builtins", "set");
                self.enc.tuple_begin(1);
                self.enc.empty_list();
                self.enc.memoize();
                self.appends(n)?;
                self.enc.boundary();
                self.enc.tuple_end(1);
                self.enc.memoize();
                self.enc.reduce();
                self.memoize();
            }
            op::BYTES => {
                let v = self.js.element(self.extras, n as u32)?;
                let bytes = self.js.uint8_bytes(v)?.ok_or_else(malformed)?;
                self.enc.bytes(bytes);
                self.memoize();
            }
            op::BIGINT => {
                let v = self.js.element(self.extras, n as u32)?;
                let (negative, words) = self.js.bigint(v)?;
                self.enc.big_int(&twos_complement(negative, &words));
            }
            op::DATE => self.date(x)?,
            _ => return Err(malformed()),
        }
        self.enc.boundary();
        Ok(())
    }

    /// The string at `text[at..at + n]`: written and memoized the first time, fetched
    /// from the memo after (strings have no identity in JS, so they are memoized by value).
    fn str(&mut self, at: usize, n: usize) -> Fallible<u32> {
        let text = self.text;
        let units = text.get(at..at + n).ok_or_else(malformed)?;
        let hash = self.hasher.hash_one(units);
        let found = self
            .strs
            .find(hash, |&(start, len, _)| {
                text[start as usize..(start + len) as usize] == *units
            })
            .map(|&(_, _, idx)| idx);
        if let Some(idx) = found {
            self.enc.get(idx);
            Ok(idx)
        } else {
            let mut utf8 = std::mem::take(&mut self.utf8);
            wtf8(units, &mut utf8);
            self.enc.str_utf8(&utf8);
            self.utf8 = utf8;
            let idx = self.enc.memoize();
            let hasher = &self.hasher;
            self.strs
                .insert_unique(hash, (at as u32, n as u32, idx), |&(s, l, _)| {
                    hasher.hash_one(&text[s as usize..(s + l) as usize])
                });
            Ok(idx)
        }
    }

    /// [`Dumper::save`] with ints written inline: the items of a list or dict are
    /// mostly scalars, and the call per item was a third of a list of ints' time.
    #[inline(always)]
    fn save_item(&mut self) -> Fallible<()> {
        if let (Some(&code), Some(&x)) = (self.ops.get(self.at), self.ops.get(self.at + 1)) {
            if code == f64::from(op::INT) {
                self.at += 2;
                self.enc.int(x as i64);
                self.enc.boundary();
                return Ok(());
            }
        }
        self.save()
    }

    fn memoize(&mut self) {
        let idx = self.enc.memoize();
        self.objs.push(idx);
    }

    /// `APPEND`/`APPENDS` of the next `n` values, as `batch_list`.
    fn appends(&mut self, n: usize) -> Fallible<()> {
        if self.enc.protocol() == 0 {
            for _ in 0..n {
                self.save_item()?;
                self.enc.append();
            }
            return Ok(());
        }
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            if end - start == 1 {
                self.save_item()?;
                self.enc.append();
            } else {
                self.enc.mark();
                for _ in start..end {
                    self.save_item()?;
                }
                self.enc.appends();
            }
            start = end;
        }
        Ok(())
    }

    /// `SETITEM`/`SETITEMS` of the next `n` key/value pairs, as `batch_dict`.
    fn setitems(&mut self, n: usize) -> Fallible<()> {
        if self.enc.protocol() == 0 {
            for _ in 0..n {
                self.save_item()?;
                self.save_item()?;
                self.enc.setitem();
            }
            return Ok(());
        }
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            if end - start == 1 {
                self.save_item()?;
                self.save_item()?;
                self.enc.setitem();
            } else {
                self.enc.mark();
                for _ in start..end {
                    self.save_item()?;
                    self.save_item()?;
                }
                self.enc.setitems();
            }
            start = end;
        }
        Ok(())
    }

    /// A global, memoized once per stream.
    fn global(&mut self, module: &'static str, name: &'static str) {
        let key = match (module, name) {
            ("builtins", "set") => "builtins.set",
            ("datetime", "datetime") => "datetime.datetime",
            ("datetime", "timezone") => "datetime.timezone",
            _ => "datetime.timedelta",
        };
        if let Some(&idx) = self.globals.get(key) {
            self.enc.get(idx);
        } else {
            self.enc.global(module, name);
            let idx = self.enc.memoize();
            self.globals.insert(key, idx);
        }
    }

    /// `datetime.datetime(bytes, datetime.timezone(datetime.timedelta(0)))`.
    fn date(&mut self, ms: f64) -> Fallible<()> {
        let state = datetime_state(ms).ok_or_else(|| {
            Failure::new(
                Code::Encode,
                "only valid Dates in years 1 to 9999 can be pickled",
            )
        })?;
        self.global("datetime", "datetime");
        self.enc.tuple_begin(2);
        self.enc.bytes(&state);
        self.enc.memoize();
        if let Some(&idx) = self.globals.get("utc") {
            self.enc.get(idx);
        } else {
            self.global("datetime", "timezone");
            self.enc.tuple_begin(1);
            self.global("datetime", "timedelta");
            self.enc.tuple_begin(3);
            for _ in 0..3 {
                self.enc.int(0);
            }
            self.enc.tuple_end(3);
            self.enc.memoize();
            self.enc.reduce();
            self.enc.memoize();
            self.enc.tuple_end(1);
            self.enc.memoize();
            self.enc.reduce();
            let idx = self.enc.memoize();
            self.globals.insert("utc", idx);
        }
        self.enc.tuple_end(2);
        self.enc.memoize();
        self.enc.reduce();
        self.memoize();
        Ok(())
    }
}

/// The 10-byte `datetime` state of a UTC instant in milliseconds since the epoch.
fn datetime_state(ms: f64) -> Option<[u8; 10]> {
    if !ms.is_finite() {
        return None;
    }
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    let us = (rest % 1000) * 1000;
    let secs = rest / 1000;
    Some([
        (y >> 8) as u8,
        y as u8,
        m as u8,
        d as u8,
        (secs / 3600) as u8,
        (secs / 60 % 60) as u8,
        (secs % 60) as u8,
        (us >> 16) as u8,
        (us >> 8) as u8,
        us as u8,
    ])
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Little-endian two's complement bytes of a BigInt given as sign and magnitude words.
fn twos_complement(negative: bool, words: &[u64]) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.push(0);
    if negative {
        let mut carry = true;
        for b in bytes.iter_mut() {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    bytes
}

/// Generalized UTF-8 of UTF-16 code units into `out` (cleared first): lone surrogates
/// kept (`surrogatepass`). Runs of ASCII are narrowed four units at a time.
fn wtf8(units: &[u16], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(units.len() + units.len() / 2);
    let mut i = 0;
    while i < units.len() {
        while i + 4 <= units.len() {
            let q = [units[i], units[i + 1], units[i + 2], units[i + 3]];
            if (q[0] | q[1] | q[2] | q[3]) >= 0x80 {
                break;
            }
            out.extend_from_slice(&[q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]);
            i += 4;
        }
        if i >= units.len() {
            break;
        }
        let u = u32::from(units[i]);
        i += 1;
        let cp = if (0xd800..0xdc00).contains(&u)
            && i < units.len()
            && (0xdc00..0xe000).contains(&units[i])
        {
            let lo = u32::from(units[i]);
            i += 1;
            0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
        } else {
            u
        };
        match cp {
            0..=0x7f => out.push(cp as u8),
            0x80..=0x7ff => {
                out.extend_from_slice(&[0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8])
            }
            0x800..=0xffff => out.extend_from_slice(&[
                0xe0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3f) as u8,
                0x80 | (cp & 0x3f) as u8,
            ]),
            _ => out.extend_from_slice(&[
                0xf0 | (cp >> 18) as u8,
                0x80 | ((cp >> 12) & 0x3f) as u8,
                0x80 | ((cp >> 6) & 0x3f) as u8,
                0x80 | (cp & 0x3f) as u8,
            ]),
        }
    }
}
