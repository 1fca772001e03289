//! Well-known standard types: the calls a stream makes to rebuild `OrderedDict`,
//! `datetime`, `Decimal`, `complex`, `UUID`, `set`, `frozenset`, `bytearray` and `bytes`
//! (the `_codecs.encode` reduction of protocols 0-2), read from the decoded graph and
//! written to the tape as the plain JS values `index.d.ts` documents. The arguments are
//! read as data (the packed states by the core's `brinery_core::stdstate`, which every
//! binding shares); nothing is ever called.
//!
//! Also the generic path for every other call: a `CALL` the JS side resolves through the
//! `classes` option or turns into an inert `{ $global, args, state }` object. Not for
//! plain containers (see [`crate::decode`]).

use std::borrow::Cow;

use brinery_core::stdstate::{self, Date, DateTime, Time};
use brinery_core::ObjectKind;

use crate::decode::{DictMode, Walker};
use crate::error::{Code, Failure, Fallible};
use crate::graph::{Graph, NodeRef, Obj, H};
use crate::tape::{self, NO_SLOT};

/// Every global a standard type is written with (or refers to in its arguments and
/// state), which `loads` accepts without `classes` or `allowUnknown`.
pub const GLOBALS: &[&str] = &[
    "_codecs.encode",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.complex",
    "builtins.frozenset",
    "builtins.list",
    "builtins.object",
    "builtins.set",
    "builtins.tuple",
    "collections.OrderedDict",
    "copyreg._reconstructor",
    "datetime.date",
    "datetime.datetime",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
    "decimal.Decimal",
    "uuid.SafeUUID",
    "uuid.UUID",
];

/// Writes the value a call node becomes.
pub fn object(w: &mut Walker<'_>, obj: &Obj, id: usize) -> Fallible<()> {
    let g = w.graph;
    let Some((module, name, args)) = callable(g, obj) else {
        return Err(Failure::new(
            Code::Unsupported,
            "a call whose callable is not a global is not supported",
        ));
    };
    let full = format!("{module}.{name}");
    if !w.settings.classes.contains(&full) && standard(w, module, name, obj, args, id)? {
        return Ok(());
    }
    w.check_global(&full)?;
    call(w, &full, obj, args, id)
}

/// The global a call node calls and its positional arguments, seeing through
/// `copyreg._reconstructor(cls, object, None)` (how protocols 0 and 1 create instances).
fn callable<'t>(g: &'t Graph, obj: &Obj) -> Option<(&'t str, &'t str, &'t [H])> {
    if obj.kind == ObjectKind::Built {
        return None;
    }
    let Some(NodeRef::Global { module, name }) = g.node(obj.callable) else {
        return None;
    };
    let args = seq(g, obj.args)?;
    if (module, name) == ("copyreg", "_reconstructor") && args.len() == 3 {
        if let Some(NodeRef::Global { module, name }) = g.node(args[0]) {
            let base_is_object = matches!(g.node(args[1]),
                Some(NodeRef::Global { module, name }) if module == "builtins" && name == "object");
            if base_is_object && args[2] == H::None {
                return Some((module, name, &[]));
            }
        }
    }
    Some((module, name, args))
}

/// A `CALL`: name, args, kwargs, state, items, entries.
fn call(w: &mut Walker<'_>, full: &str, obj: &Obj, args: &[H], id: usize) -> Fallible<()> {
    w.tape.op2(tape::CALL, NO_SLOT);
    w.mark(id);
    w.tape.str_value(full);
    w.tape.op3(tape::LIST, args.len() as f64, NO_SLOT);
    for &a in args {
        w.value(a)?;
    }
    match obj.kwargs {
        Some(k) => w.value(k)?,
        None => w.tape.op(tape::NONE),
    }
    w.tape.op3(tape::LIST, obj.state.len() as f64, NO_SLOT);
    for &s in &obj.state {
        w.value(s)?;
    }
    w.tape.op3(tape::LIST, obj.items.len() as f64, NO_SLOT);
    for &i in &obj.items {
        w.value(i)?;
    }
    w.tape.op3(tape::LIST, obj.entries.len() as f64, NO_SLOT);
    for &(k, v) in &obj.entries {
        w.tape.op3(tape::LIST, 2.0, NO_SLOT);
        w.value(k)?;
        w.value(v)?;
    }
    Ok(())
}

fn bad(what: &str) -> Failure {
    Failure::new(
        Code::Unsupported,
        format!("{what} with arguments brinery does not understand"),
    )
}

/// Writes a standard type; `Ok(false)` when `module.name` is not one.
fn standard(
    w: &mut Walker<'_>,
    module: &str,
    name: &str,
    obj: &Obj,
    args: &[H],
    id: usize,
) -> Fallible<bool> {
    let g = w.graph;
    let plain = obj.state.is_empty() && obj.items.is_empty() && obj.entries.is_empty();
    match (module, name) {
        ("collections", "OrderedDict") => {
            if !obj.state.is_empty() || !obj.items.is_empty() {
                return Err(bad("collections.OrderedDict"));
            }
            let mut entries: Vec<(H, H)> = Vec::new();
            if let Some(&first) = args.first() {
                for &pair in seq(g, first).ok_or_else(|| bad("collections.OrderedDict"))? {
                    match seq(g, pair) {
                        Some(&[k, v]) => entries.push((k, v)),
                        _ => return Err(bad("collections.OrderedDict")),
                    }
                }
            }
            entries.extend_from_slice(&obj.entries);
            w.dict(&entries, Some(id))?;
        }
        // The core lowers these calls itself, except over a long list of numbers (kept
        // as numbers, which it cannot read back as items): a copy of that list.
        ("builtins", "set" | "frozenset" | "list" | "tuple")
            if plain && nums_arg(g, args).is_some() =>
        {
            let nums = nums_arg(g, args).unwrap_or_default();
            let op = match name {
                "set" | "frozenset" => tape::SET,
                "tuple" if w.settings.frozen_tuples => tape::TUPLE,
                _ => tape::NUMS,
            };
            w.tape.op3(op, nums.len() as f64, NO_SLOT);
            w.mark(id);
            for &f in nums {
                if op != tape::NUMS {
                    w.tape.op(tape::NUM);
                }
                w.tape.ops.push(f);
            }
        }
        ("builtins", "set") | ("builtins", "frozenset") if plain => {
            let items = match args {
                [] => &[][..],
                [items] => seq(g, *items).ok_or_else(|| bad(name))?,
                _ => return Err(bad(name)),
            };
            w.seq(tape::SET, items, Some(id))?;
        }
        ("builtins", "bytearray") | ("builtins", "bytes") | ("_codecs", "encode") if plain => {
            let b = call_bytes(g, module, name, args).ok_or_else(|| bad(name))?;
            w.tape.bytes(&b, NO_SLOT);
            w.mark(id);
        }
        ("datetime", "datetime") if plain => {
            let dt = args
                .first()
                .and_then(|&a| bytes_of(g, a))
                .and_then(|b| DateTime::from_state(&b))
                .ok_or_else(|| bad("datetime.datetime"))?;
            let offset_us = match args.get(1) {
                None => 0,
                Some(&tz) => utc_offset_us(g, tz).ok_or_else(|| {
                    bad("datetime.datetime (only datetime.timezone offsets are supported)")
                })?,
            };
            let total_us = dt.unix_micros() - offset_us;
            w.tape
                .op3(tape::DATE, total_us.div_euclid(1000) as f64, NO_SLOT);
            w.mark(id);
        }
        ("datetime", "date") if plain => {
            let days = args
                .first()
                .and_then(|&a| bytes_of(g, a))
                .and_then(|b| Date::from_state(&b))
                .ok_or_else(|| bad("datetime.date"))?
                .unix_days();
            w.tape.op3(tape::DATE, (days * 86_400_000) as f64, NO_SLOT);
            w.mark(id);
        }
        ("datetime", "time") if plain && args.len() == 1 => {
            let t = bytes_of(g, args[0])
                .and_then(|b| Time::from_state(&b))
                .ok_or_else(|| bad("datetime.time"))?;
            fields(
                w,
                id,
                &[
                    ("hour", t.hour),
                    ("minute", t.minute),
                    ("second", t.second),
                    ("microsecond", t.microsecond),
                ],
            );
        }
        ("datetime", "timedelta") if plain => {
            let [d, s, us] = ints::<3>(args).ok_or_else(|| bad("datetime.timedelta"))?;
            fields(w, id, &[("days", d), ("seconds", s), ("microseconds", us)]);
        }
        ("decimal", "Decimal") if plain => match args {
            [a] => match g.node(*a) {
                // Strings are values: a Decimal reached twice is simply written twice.
                Some(NodeRef::Str(s)) => {
                    w.tape.str_value(s);
                }
                _ => return Err(bad("decimal.Decimal")),
            },
            _ => return Err(bad("decimal.Decimal")),
        },
        ("builtins", "complex") if plain => {
            let parts: Vec<f64> = args.iter().filter_map(|&a| float_of(a)).collect();
            if parts.len() != args.len() || parts.len() > 2 {
                return Err(bad("complex"));
            }
            w.tape.op3(tape::OBJECT, 2.0, NO_SLOT);
            w.mark(id);
            w.tape.str_value("re");
            w.tape.op2(tape::NUM, parts.first().copied().unwrap_or(0.0));
            w.tape.str_value("im");
            w.tape.op2(tape::NUM, parts.get(1).copied().unwrap_or(0.0));
        }
        ("uuid", "UUID") if args.is_empty() && obj.state.len() == 1 => {
            let text = uuid_text(g, obj.state[0]).ok_or_else(|| bad("uuid.UUID"))?;
            w.tape.str_value(&text);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A plain object of integer fields.
fn fields(w: &mut Walker<'_>, id: usize, fields: &[(&str, i64)]) {
    let mode = w.settings.dict;
    let op = if mode == DictMode::Map {
        tape::MAP
    } else {
        tape::OBJECT
    };
    w.tape.op3(op, fields.len() as f64, NO_SLOT);
    w.mark(id);
    for &(k, v) in fields {
        w.tape.str_value(k);
        w.tape.int(v);
    }
}

/// The numbers of the one argument of a call, when it is a [`NodeRef::Nums`] list.
fn nums_arg<'g>(g: &'g Graph, args: &[H]) -> Option<&'g [f64]> {
    match args {
        [a] => match g.node(*a)? {
            NodeRef::Nums(v) => Some(v),
            _ => None,
        },
        _ => None,
    }
}

/// Items of a tuple or list node.
fn seq(g: &Graph, h: H) -> Option<&[H]> {
    match g.node(h)? {
        NodeRef::Tuple(items) | NodeRef::List(items) => Some(items),
        _ => None,
    }
}

fn int_of(h: H) -> Option<i64> {
    match h {
        H::Int(v) => Some(v),
        H::Bool(b) => Some(b as i64),
        _ => None,
    }
}

fn ints<const N: usize>(args: &[H]) -> Option<[i64; N]> {
    if args.len() > N {
        return None;
    }
    let mut out = [0; N];
    for (o, &a) in out.iter_mut().zip(args) {
        *o = int_of(a)?;
    }
    Some(out)
}

fn float_of(h: H) -> Option<f64> {
    match h {
        H::Float(v) => Some(v),
        H::Int(v) => Some(v as f64),
        _ => None,
    }
}

/// The bytes a node stands for: bytes, bytearray, a Latin-1 str (what Python 2 and
/// `encoding="latin1"` give), or a `_codecs.encode`/`bytes()` reduction.
///
/// `bytes(bytes(...))` nests as deep as the stream likes (44,000 levels in 176 KB): the
/// chain is followed in a loop, never by recursion.
fn bytes_of(g: &Graph, mut h: H) -> Option<Cow<'_, [u8]>> {
    loop {
        match g.node(h)? {
            NodeRef::Bytes(b) | NodeRef::ByteArray(b) => return Some(Cow::Borrowed(b)),
            NodeRef::Str(s) => return stdstate::latin1(s).map(Cow::Owned),
            NodeRef::Object(obj) if obj.state.is_empty() => {
                let (module, name, args) = callable(g, obj)?;
                match (module, name, args) {
                    ("builtins", "bytearray" | "bytes", [inner]) => h = *inner,
                    _ => return call_bytes(g, module, name, args).map(Cow::Owned),
                }
            }
            _ => return None,
        }
    }
}

/// The bytes made by `bytes(...)`, `bytearray(...)` or `_codecs.encode(str, "latin1")`.
fn call_bytes(g: &Graph, module: &str, name: &str, args: &[H]) -> Option<Vec<u8>> {
    match (module, name, args) {
        ("_codecs", "encode", [s, enc]) | ("builtins", "bytearray" | "bytes", [s, enc]) => {
            let (Some(s), Some(enc)) = (g.str_of(*s), g.str_of(*enc)) else {
                return None;
            };
            stdstate::is_latin1_name(enc).then_some(())?;
            stdstate::latin1(s)
        }
        ("builtins", "bytearray" | "bytes", []) => Some(Vec::new()),
        ("builtins", "bytearray" | "bytes", [b]) => bytes_of(g, *b).map(Cow::into_owned),
        _ => None,
    }
}

/// The offset of a `datetime.timezone(timedelta(...))` tzinfo, in microseconds.
fn utc_offset_us(g: &Graph, h: H) -> Option<i64> {
    let NodeRef::Object(tz) = g.node(h)? else {
        return None;
    };
    let ("datetime", "timezone", [delta, ..]) = callable(g, tz)? else {
        return None;
    };
    let NodeRef::Object(delta) = g.node(*delta)? else {
        return None;
    };
    let ("datetime", "timedelta", args) = callable(g, delta)? else {
        return None;
    };
    let [d, s, us] = ints::<3>(args)?;
    Some(stdstate::timedelta_micros(d, s, us))
}

/// The canonical text of a `uuid.UUID` from its state dict's `int`.
fn uuid_text(g: &Graph, state: H) -> Option<String> {
    let NodeRef::Dict(entries) = g.node(state)? else {
        return None;
    };
    let &(_, int) = entries.iter().find(|&&(k, _)| g.str_of(k) == Some("int"))?;
    let value: u128 = match (int, g.node(int)) {
        (H::Int(v), _) => u128::try_from(v).ok()?,
        (_, Some(NodeRef::BigInt(le))) => stdstate::uuid_int(le)?,
        _ => return None,
    };
    Some(stdstate::uuid_text(value))
}
