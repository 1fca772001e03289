//! `loads`, native half: decodes a stream with `brinery_core::decode` and walks the
//! inert tree once, writing a [`Tape`] that `builder.js` turns into JavaScript values.
//!
//! Every decision about what a Python value becomes (number or BigInt, object or Map,
//! which globals are allowed) is made here and in [`crate::stdtypes`]; the JS side only
//! materializes. Nothing is ever called while decoding: a global becomes a JS value only
//! through a constructor the caller mapped in `classes`. Not for encoding (see
//! [`crate::encode`]).

use std::collections::HashSet;

use brinery_core::{decode, DecodeOptions, Limits, NodeId, Py2Strings, Tree, Value};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{Code, Failure, Fallible};
use crate::stdtypes;
use crate::tape::{self, Tape, NO_SLOT};

/// Options of `loads` as the native side receives them (`index.js` validates them).
#[napi(object)]
pub struct NativeLoadsOptions {
    /// `"auto"` (default), `"map"` or `"object"`.
    pub dict: Option<String>,
    /// Tuples become frozen arrays.
    pub frozen_tuples: Option<bool>,
    /// Names (`"module.Name"`) the caller maps to constructors.
    pub classes: Option<Vec<String>>,
    /// Unknown globals become inert `{ $global, args, state }` objects.
    pub allow_unknown: Option<bool>,
    /// How Python 2 `str` is read: `"ascii"` (default), `"latin1"` or `"bytes"`.
    pub encoding: Option<String>,
    /// Deepest nesting accepted (default 1000).
    pub max_depth: Option<u32>,
}

/// How dicts become JS values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictMode {
    /// A plain object when every key is a str, else a `Map`.
    Auto,
    Map,
    Object,
}

/// Options resolved once per call.
pub struct Settings {
    pub dict: DictMode,
    pub frozen_tuples: bool,
    pub classes: HashSet<String>,
    pub allow_unknown: bool,
    pub max_depth: usize,
}

/// The default nesting limit: deep enough for real data, shallow enough that the
/// recursive walk stays far from the end of Node's stack.
pub const DEFAULT_MAX_DEPTH: usize = 1000;

fn settings(options: Option<NativeLoadsOptions>) -> Fallible<(Settings, DecodeOptions)> {
    let o = options.unwrap_or(NativeLoadsOptions {
        dict: None,
        frozen_tuples: None,
        classes: None,
        allow_unknown: None,
        encoding: None,
        max_depth: None,
    });
    let dict = match o.dict.as_deref() {
        None | Some("auto") => DictMode::Auto,
        Some("map") => DictMode::Map,
        Some("object") => DictMode::Object,
        Some(other) => {
            return Err(Failure::new(
                Code::BadArgument,
                format!("dict must be \"auto\", \"map\" or \"object\", not {other:?}"),
            ))
        }
    };
    let py2_strings = match o.encoding.as_deref() {
        None | Some("ascii") | Some("ASCII") => Py2Strings::Ascii,
        Some("latin1") | Some("latin-1") => Py2Strings::Latin1,
        Some("bytes") => Py2Strings::Bytes,
        Some(other) => {
            return Err(Failure::new(
                Code::BadArgument,
                format!("encoding must be \"ascii\", \"latin1\" or \"bytes\", not {other:?}"),
            ))
        }
    };
    let max_depth = o.max_depth.map_or(DEFAULT_MAX_DEPTH, |d| d as usize);
    let mut core = DecodeOptions::new();
    core.py2_strings = py2_strings;
    core.limits = Limits {
        max_depth,
        ..Limits::default()
    };
    let settings = Settings {
        dict,
        frozen_tuples: o.frozen_tuples.unwrap_or(false),
        classes: o.classes.unwrap_or_default().into_iter().collect(),
        allow_unknown: o.allow_unknown.unwrap_or(false),
        max_depth,
    };
    Ok((settings, core))
}

/// Decodes `data` into a tape: `{ ops, text, blob, slots }`.
#[napi(js_name = "decodeTape")]
pub fn decode_tape<'e>(
    env: &'e Env,
    data: &[u8],
    options: Option<NativeLoadsOptions>,
) -> Result<Object<'e>> {
    let (settings, core) = settings(options).map_err(|f| f.into_napi(env))?;
    let tree = decode(data, &core).map_err(|e| Failure::from(e).into_napi(env))?;
    let tape = Walker::new(&tree, &settings)
        .run(tree.root())
        .map_err(|f| f.into_napi(env))?;
    let mut out = Object::new(env)?;
    out.set("ops", Float64Array::new(tape.ops))?;
    let text = if tape.wide {
        env.create_string_utf16(&tape.text)?
    } else {
        let narrow: Vec<u8> = tape.text.iter().map(|&u| u as u8).collect();
        env.create_string_latin1(&narrow)?
    };
    out.set("text", text)?;
    out.set("blob", Buffer::from(tape.blob))?;
    out.set("slots", tape.slots)?;
    Ok(out)
}

/// One pass over a decoded tree, writing its tape.
pub struct Walker<'t> {
    pub nodes: &'t [Value],
    pub settings: &'t Settings,
    pub tape: Tape,
    /// How often each node is referenced (saturating at 2: "shared").
    refs: Vec<u8>,
    /// The slot a shared node got at its first visit (`u32::MAX`: not visited yet).
    slot_of: Vec<u32>,
    depth: usize,
}

impl<'t> Walker<'t> {
    pub fn new(tree: &'t Tree, settings: &'t Settings) -> Self {
        let nodes = tree.nodes();
        let mut refs = vec![0u8; nodes.len()];
        let mut bump = |id: NodeId| {
            if let Some(r) = refs.get_mut(id) {
                *r = r.saturating_add(1).min(2);
            }
        };
        bump(tree.root());
        for node in nodes {
            for_each_child(node, &mut bump);
        }
        let ops = Vec::with_capacity(nodes.len() * 2 + 4);
        Walker {
            nodes,
            settings,
            tape: Tape {
                ops,
                ..Tape::default()
            },
            refs,
            slot_of: Vec::new(),
            depth: 0,
        }
    }

    pub fn run(mut self, root: NodeId) -> Fallible<Tape> {
        if root < self.nodes.len() {
            self.value(root)?;
        } else {
            self.tape.op(tape::NONE);
        }
        Ok(self.tape)
    }

    /// Starts the visit of a node that JS represents by identity: emits `REF` and
    /// returns `None` when it was visited before, else the slot to store it in.
    #[inline]
    pub fn begin(&mut self, id: NodeId) -> Option<f64> {
        if self.refs[id] < 2 {
            return Some(NO_SLOT);
        }
        if self.slot_of.is_empty() {
            self.slot_of = vec![u32::MAX; self.nodes.len()];
        }
        match self.slot_of[id] {
            u32::MAX => {
                let slot = self.tape.slots;
                self.tape.slots += 1;
                self.slot_of[id] = slot;
                Some(slot as f64)
            }
            slot => {
                self.tape.op2(tape::REF, slot as f64);
                None
            }
        }
    }

    fn enter(&mut self) -> Fallible<()> {
        self.depth += 1;
        if self.depth > self.settings.max_depth {
            return Err(Failure::new(
                Code::TooDeep,
                format!(
                    "nesting deeper than the limit of {}",
                    self.settings.max_depth
                ),
            ));
        }
        Ok(())
    }

    /// Writes the value of node `id`.
    pub fn value(&mut self, id: NodeId) -> Fallible<()> {
        let nodes = self.nodes;
        match &nodes[id] {
            Value::None => self.tape.op(tape::NONE),
            Value::Bool(b) => self.tape.op(if *b { tape::TRUE } else { tape::FALSE }),
            Value::Int(v) => self.tape.int(*v),
            Value::Float(v) => self.tape.op2(tape::NUM, *v),
            Value::BigInt(le) => {
                if let Some(slot) = self.begin(id) {
                    self.tape.big_int(le, slot);
                }
            }
            Value::Str(s) => {
                if let Some(slot) = self.begin(id) {
                    self.tape.str_value(s, slot);
                }
            }
            Value::SurrogateStr(b) => {
                if let Some(slot) = self.begin(id) {
                    let len = self
                        .tape
                        .text_wtf8(b)
                        .ok_or_else(|| Failure::new(Code::BadUtf8, "malformed surrogate str"))?;
                    self.tape.op3(tape::STR, len as f64, slot);
                }
            }
            Value::Bytes(b) | Value::ByteArray(b) => {
                if let Some(slot) = self.begin(id) {
                    self.tape.bytes(b, slot);
                }
            }
            Value::List(items) => {
                if let Some(slot) = self.begin(id) {
                    self.seq(tape::LIST, items, slot)?;
                }
            }
            Value::Tuple(items) => {
                if let Some(slot) = self.begin(id) {
                    let op = if self.settings.frozen_tuples {
                        tape::TUPLE
                    } else {
                        tape::LIST
                    };
                    self.seq(op, items, slot)?;
                }
            }
            Value::Dict(entries) => {
                if let Some(slot) = self.begin(id) {
                    self.dict(entries, slot)?;
                }
            }
            Value::Set(items) | Value::FrozenSet(items) => {
                if let Some(slot) = self.begin(id) {
                    self.seq(tape::SET, items, slot)?;
                }
            }
            Value::Global { module, name } => {
                if let Some(slot) = self.begin(id) {
                    let full = format!("{module}.{name}");
                    self.check_global(&full)?;
                    self.tape.op2(tape::GLOBAL, slot);
                    self.tape.str_value(&full, NO_SLOT);
                }
            }
            Value::Object(obj) => {
                if let Some(slot) = self.begin(id) {
                    self.enter()?;
                    stdtypes::object(self, obj, slot)?;
                    self.depth -= 1;
                }
            }
            Value::PersistentId(_) => {
                return Err(Failure::new(
                    Code::Unsupported,
                    "persistent ids are not supported",
                ))
            }
            Value::Extension(code) => {
                return Err(Failure::new(
                    Code::Unsupported,
                    format!("copyreg extension code {code} is not supported"),
                ))
            }
            Value::Buffer { index, .. } => {
                return Err(Failure::new(
                    Code::Unsupported,
                    format!("out-of-band buffer {index} is not supported"),
                ))
            }
        }
        Ok(())
    }

    /// Fails unless `full` may become a JS value: mapped in `classes`, or allowed inert.
    pub fn check_global(&self, full: &str) -> Fallible<()> {
        if self.settings.allow_unknown || self.settings.classes.contains(full) {
            return Ok(());
        }
        Err(Failure::new(
            Code::UnknownGlobal,
            format!(
                "global {full} is not allowed: map it in the `classes` option or pass `allowUnknown: true`"
            ),
        ))
    }

    /// A sequence container (`LIST`, `TUPLE`, `SET`) of `items`.
    pub fn seq(&mut self, op: f64, items: &[NodeId], slot: f64) -> Fallible<()> {
        let nodes = self.nodes;
        let n = items.len() as f64;
        if op == tape::LIST && items.len() >= 2 {
            if items.iter().all(|&i| number(&nodes[i]).is_some()) {
                self.tape.op3(tape::NUMS, n, slot);
                self.tape
                    .ops
                    .extend(items.iter().map(|&i| number(&nodes[i]).unwrap_or(0.0)));
                return Ok(());
            }
            if items
                .iter()
                .all(|&i| self.refs[i] < 2 && matches!(nodes[i], Value::Str(_)))
            {
                self.tape.op3(tape::STRS, n, slot);
                for &i in items {
                    if let Value::Str(s) = &nodes[i] {
                        let len = self.tape.text_str(s);
                        self.tape.ops.push(len as f64);
                    }
                }
                return Ok(());
            }
        }
        self.enter()?;
        self.tape.op3(op, n, slot);
        for &i in items {
            self.value(i)?;
        }
        self.depth -= 1;
        Ok(())
    }

    /// A dict: a plain object or a `Map`, per the `dict` option.
    pub fn dict(&mut self, entries: &[(NodeId, NodeId)], slot: f64) -> Fallible<()> {
        let nodes = self.nodes;
        let as_map = match self.settings.dict {
            DictMode::Map => true,
            DictMode::Object => false,
            DictMode::Auto => !entries
                .iter()
                .all(|&(k, _)| matches!(nodes[k], Value::Str(_) | Value::SurrogateStr(_))),
        };
        self.enter()?;
        let op = if as_map { tape::MAP } else { tape::OBJECT };
        self.tape.op3(op, entries.len() as f64, slot);
        for &(k, v) in entries {
            self.value(k)?;
            self.value(v)?;
        }
        self.depth -= 1;
        Ok(())
    }
}

/// The number a node becomes when it is a plain, safe number.
#[inline]
fn number(v: &Value) -> Option<f64> {
    const SAFE: i64 = (1 << 53) - 1;
    match v {
        Value::Int(i) if (-SAFE..=SAFE).contains(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn for_each_child(node: &Value, f: &mut impl FnMut(NodeId)) {
    match node {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().for_each(|&i| f(i))
        }
        Value::Dict(entries) => entries.iter().for_each(|&(k, v)| {
            f(k);
            f(v)
        }),
        Value::Object(obj) => {
            f(obj.callable);
            f(obj.args);
            if let Some(k) = obj.kwargs {
                f(k);
            }
            obj.state.iter().for_each(|&i| f(i));
            obj.items.iter().for_each(|&i| f(i));
            obj.entries.iter().for_each(|&(k, v)| {
                f(k);
                f(v)
            });
        }
        Value::PersistentId(i) => f(*i),
        _ => {}
    }
}
