//! `dumps`: walks JavaScript values and drives the core [`Encoder`] directly, in the order
//! CPython's C pickler writes the equivalent Python objects (memo, batches of 1000 for
//! `APPENDS`/`SETITEMS`/`ADDITEMS`, frame boundaries after each value).
//!
//! `null`/`undefined` → None, booleans, numbers (integral and safe → int, else float),
//! BigInt → int, strings → str (lone surrogates kept), `Uint8Array`/`Buffer` → bytes,
//! `Date` → an aware UTC `datetime.datetime`, arrays → list, `Map` → dict, `Set` → set,
//! other objects → dict of their own enumerable string keys. A JS object reached twice
//! is written once and fetched from the memo after, so shared and cyclic structures
//! survive. Not for decoding (see [`crate::decode`]).

use std::collections::HashMap;

use brinery_core::Encoder;
use napi::bindgen_prelude::*;
use napi::sys::napi_value;
use napi_derive::napi;

use crate::error::{Code, Failure, Fallible};
use crate::js::{Js, Kind};

/// Items per `APPENDS`/`SETITEMS`/`ADDITEMS`, as `_pickle.c`'s `BATCHSIZE`.
const BATCH: usize = 1000;
/// Deepest nesting `dumps` follows before failing (CPython's recursion limit is 1000).
const MAX_DEPTH: usize = 1000;

/// Encodes `value` at `protocol` (default 4) into a new `Buffer`.
#[napi(js_name = "dumpsNative")]
pub fn dumps_native(env: &Env, value: Unknown<'_>, protocol: Option<u32>) -> Result<Buffer> {
    let js = Js { env: env.raw() };
    let protocol = protocol.unwrap_or(brinery_core::DEFAULT_PROTOCOL as u32);
    let result = (|| {
        let protocol = u8::try_from(protocol)
            .map_err(|_| Failure::from(brinery_core::EncodeError::UnsupportedProtocol(255)))?;
        let mut dumper = Dumper::new(js, protocol)?;
        dumper.enc.begin();
        dumper.save(value.raw())?;
        Ok::<_, Failure>(dumper.enc.finish())
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

struct Dumper {
    js: Js,
    enc: Encoder,
    /// `new Map()` from JS object to memo index, with its `get` and `set`.
    memo: napi_value,
    memo_get: napi_value,
    memo_set: napi_value,
    map_ctor: napi_value,
    set_ctor: napi_value,
    array_from: napi_value,
    array_ctor: napi_value,
    /// Strings already written, by value (JS strings have no identity).
    strings: HashMap<Vec<u16>, u32>,
    /// Globals and the UTC tzinfo already written.
    globals: HashMap<&'static str, u32>,
    scratch: Vec<u16>,
    depth: usize,
}

impl Dumper {
    fn new(js: Js, protocol: u8) -> Fallible<Self> {
        let enc = Encoder::new(protocol)?;
        let global = js.global()?;
        let map_ctor = js.named(global, c"Map")?;
        let set_ctor = js.named(global, c"Set")?;
        let array_ctor = js.named(global, c"Array")?;
        let array_from = js.named(array_ctor, c"from")?;
        let memo = js.construct(map_ctor)?;
        let memo_get = js.named(memo, c"get")?;
        let memo_set = js.named(memo, c"set")?;
        Ok(Dumper {
            js,
            enc,
            memo,
            memo_get,
            memo_set,
            map_ctor,
            set_ctor,
            array_from,
            array_ctor,
            strings: HashMap::new(),
            globals: HashMap::new(),
            scratch: Vec::new(),
            depth: 0,
        })
    }

    fn save(&mut self, v: napi_value) -> Fallible<()> {
        let js = self.js;
        match js.kind(v)? {
            Kind::Undefined | Kind::Null => self.enc.none(),
            Kind::Boolean => self.enc.bool(js.bool(v)?),
            Kind::Number => {
                let f = js.number(v)?;
                const SAFE: f64 = 9_007_199_254_740_991.0;
                if f.fract() == 0.0 && f.abs() <= SAFE && !(f == 0.0 && f.is_sign_negative()) {
                    self.enc.int(f as i64);
                } else {
                    self.enc.float(f);
                }
            }
            Kind::BigInt => {
                let (negative, words) = js.bigint(v)?;
                self.enc.big_int(&twos_complement(negative, &words));
            }
            Kind::String => self.string(v)?,
            Kind::Object => self.object(v)?,
            Kind::Symbol | Kind::Function | Kind::External => {
                return Err(Failure::new(
                    Code::UnsupportedType,
                    "functions, symbols and externals cannot be pickled",
                ))
            }
        }
        self.enc.boundary();
        Ok(())
    }

    fn string(&mut self, v: napi_value) -> Fallible<()> {
        let mut units = std::mem::take(&mut self.scratch);
        self.js.utf16(v, &mut units)?;
        if let Some(&idx) = self.strings.get(&units) {
            self.enc.get(idx);
        } else {
            self.enc.str_utf8(&wtf8(&units));
            let idx = self.enc.memoize();
            self.strings.insert(units.clone(), idx);
        }
        self.scratch = units;
        Ok(())
    }

    fn memo_lookup(&mut self, v: napi_value) -> Fallible<Option<u32>> {
        let found = self.js.call(self.memo, self.memo_get, &[v])?;
        match self.js.kind(found)? {
            Kind::Number => Ok(Some(self.js.number(found)? as u32)),
            _ => Ok(None),
        }
    }

    fn memoize(&mut self, v: napi_value) -> Fallible<()> {
        let idx = self.enc.memoize();
        let key = self.js.double(f64::from(idx))?;
        self.js.call(self.memo, self.memo_set, &[v, key])?;
        Ok(())
    }

    fn object(&mut self, v: napi_value) -> Fallible<()> {
        if let Some(idx) = self.memo_lookup(v)? {
            self.enc.get(idx);
            return Ok(());
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Failure::new(
                Code::TooDeep,
                format!("nesting deeper than the limit of {MAX_DEPTH}"),
            ));
        }
        let js = self.js;
        if js.is_array(v)? {
            self.list(v)?;
        } else if let Some(bytes) = js.uint8_bytes(v)? {
            self.enc.bytes(bytes);
            self.memoize(v)?;
        } else if js.is_date(v)? {
            self.date(v)?;
        } else if js.instance_of(v, self.map_ctor)? {
            self.map(v)?;
        } else if js.instance_of(v, self.set_ctor)? {
            self.set(v)?;
        } else {
            self.plain(v)?;
        }
        self.depth -= 1;
        Ok(())
    }

    fn list(&mut self, v: napi_value) -> Fallible<()> {
        self.enc.empty_list();
        self.memoize(v)?;
        let n = self.js.array_len(v)? as usize;
        self.appends(v, n)
    }

    /// `APPEND`/`APPENDS` of the elements of the JS array `arr`, as `batch_list`.
    fn appends(&mut self, arr: napi_value, n: usize) -> Fallible<()> {
        let js = self.js;
        if self.enc.protocol() == 0 {
            for i in 0..n {
                self.save(js.element(arr, i as u32)?)?;
                self.enc.append();
            }
            return Ok(());
        }
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            if end - start == 1 {
                self.save(js.element(arr, start as u32)?)?;
                self.enc.append();
            } else {
                self.enc.mark();
                for i in start..end {
                    self.save(js.element(arr, i as u32)?)?;
                }
                self.enc.appends();
            }
            start = end;
        }
        Ok(())
    }

    /// `SETITEM`/`SETITEMS` of `n` entries, `entry(i)` giving key and value.
    fn setitems(
        &mut self,
        n: usize,
        mut entry: impl FnMut(&mut Self, usize) -> Fallible<(napi_value, napi_value)>,
    ) -> Fallible<()> {
        if self.enc.protocol() == 0 {
            for i in 0..n {
                let (k, val) = entry(self, i)?;
                self.save(k)?;
                self.save(val)?;
                self.enc.setitem();
            }
            return Ok(());
        }
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            if end - start == 1 {
                let (k, val) = entry(self, start)?;
                self.save(k)?;
                self.save(val)?;
                self.enc.setitem();
            } else {
                self.enc.mark();
                for i in start..end {
                    let (k, val) = entry(self, i)?;
                    self.save(k)?;
                    self.save(val)?;
                }
                self.enc.setitems();
            }
            start = end;
        }
        Ok(())
    }

    fn map(&mut self, v: napi_value) -> Fallible<()> {
        self.enc.empty_dict();
        self.memoize(v)?;
        let js = self.js;
        let pairs = js.call(self.array_ctor, self.array_from, &[v])?;
        let n = js.array_len(pairs)? as usize;
        self.setitems(n, |d, i| {
            let pair = d.js.element(pairs, i as u32)?;
            Ok((d.js.element(pair, 0)?, d.js.element(pair, 1)?))
        })
    }

    fn plain(&mut self, v: napi_value) -> Fallible<()> {
        self.enc.empty_dict();
        self.memoize(v)?;
        let js = self.js;
        let keys = js.own_keys(v)?;
        let n = js.array_len(keys)? as usize;
        self.setitems(n, |d, i| {
            let k = d.js.element(keys, i as u32)?;
            Ok((k, d.js.property(v, k)?))
        })
    }

    fn set(&mut self, v: napi_value) -> Fallible<()> {
        let js = self.js;
        let items = js.call(self.array_ctor, self.array_from, &[v])?;
        let n = js.array_len(items)? as usize;
        if self.enc.protocol() < 4 {
            // `set([items])`, as `save_set` writes below protocol 4.
            self.global("builtins", "set");
            self.enc.tuple_begin(1);
            self.enc.empty_list();
            self.enc.memoize();
            self.appends(items, n)?;
            self.enc.boundary();
            self.enc.tuple_end(1);
            self.enc.memoize();
            self.enc.reduce();
            self.memoize(v)?;
            return Ok(());
        }
        self.enc.empty_set()?;
        self.memoize(v)?;
        let mut start = 0;
        while start < n {
            let end = (start + BATCH).min(n);
            self.enc.mark();
            for i in start..end {
                self.save(js.element(items, i as u32)?)?;
            }
            self.enc.additems();
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
    fn date(&mut self, v: napi_value) -> Fallible<()> {
        let ms = self.js.date(v)?;
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
        self.memoize(v)
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

/// Generalized UTF-8 of UTF-16 code units: lone surrogates kept (`surrogatepass`).
fn wtf8(units: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(units.len() + units.len() / 2);
    let mut i = 0;
    while i < units.len() {
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
    out
}
