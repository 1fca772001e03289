//! `loads`, native half: decodes a stream with `brinery_core::decode_with` into a
//! [`Graph`] and walks it once, writing a [`Tape`] that `builder.js` turns into
//! JavaScript values.
//!
//! Every decision about what a Python value becomes (number or BigInt, object or Map,
//! which globals are allowed) is made here and in [`crate::stdtypes`]; the JS side only
//! materializes. Nothing is ever called while decoding: a global becomes a JS value only
//! through a constructor the caller mapped in `classes`. This file reads the options and
//! runs the decode; the walk over the graph is [`walker`]. Not for encoding (see
//! [`crate::encode`]).

mod walker;

pub use walker::Walker;

use std::collections::{HashMap, HashSet};

use brinery_core::{decode_with, Allowlist, DecodeOptions, Limits, Py2Strings};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{Code, Failure, Fallible};
use crate::graph::Graph;
use crate::jstext;
use crate::reuse::{self, Spare};
use crate::stdtypes;
use crate::tape::{self, TextParts, Written};

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
    /// Most memo entries accepted (default: the stream's length in bytes).
    pub max_memo: Option<f64>,
    /// Most bytes the decoder may allocate (default: 1 MiB + 64 x the stream's length).
    pub max_alloc: Option<f64>,
    /// The caller gave `persistentLoad`: persistent ids become `PERSID` ops.
    pub persistent: Option<bool>,
    /// Extension codes the caller mapped, with `extension_names` (`"module.Name"`).
    pub extension_codes: Option<Vec<i32>>,
    pub extension_names: Option<Vec<String>>,
    /// How many out-of-band buffers the caller gave (`buffers`).
    pub buffers: Option<u32>,
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
    pub persistent: bool,
    /// Most values a non-str dict key may expand to when `dict: "object"` turns it
    /// into a property name: the allocation limit, one byte per value.
    pub max_key_size: usize,
}

/// The default nesting limit: deep enough for real data, shallow enough that the
/// recursive walk stays far from the end of Node's stack.
pub const DEFAULT_MAX_DEPTH: usize = 1000;

/// Extension codes mapped to `(module, name)`.
type Extensions = HashMap<i32, (String, String)>;

fn settings(
    options: Option<NativeLoadsOptions>,
    input_len: usize,
) -> Fallible<(Settings, DecodeOptions, Extensions)> {
    let o = options.unwrap_or(NativeLoadsOptions {
        dict: None,
        frozen_tuples: None,
        classes: None,
        allow_unknown: None,
        encoding: None,
        max_depth: None,
        max_memo: None,
        max_alloc: None,
        persistent: None,
        extension_codes: None,
        extension_names: None,
        buffers: None,
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
    let bound = |v: Option<f64>, default: usize| match v {
        Some(v) if v.is_finite() && v >= 0.0 => v as usize,
        Some(_) => usize::MAX,
        None => default,
    };
    // The core's input-relative defaults; Node's depth is its own (the walk recurses).
    let defaults = Limits::for_input(input_len);
    core.limits = Limits {
        max_depth,
        max_memo: bound(o.max_memo, defaults.max_memo),
        max_alloc: bound(o.max_alloc, defaults.max_alloc),
    };
    core.buffers = o.buffers.map(|n| n as usize);
    let mut extensions = Extensions::new();
    let codes = o.extension_codes.unwrap_or_default();
    for (code, full) in codes.into_iter().zip(o.extension_names.unwrap_or_default()) {
        // `module.Name`: the module is everything before the last dot.
        let (module, name) = full.rsplit_once('.').unwrap_or(("", &full));
        extensions.insert(code, (module.to_string(), name.to_string()));
    }
    let classes: HashSet<String> = o.classes.unwrap_or_default().into_iter().collect();
    let allow_unknown = o.allow_unknown.unwrap_or(false);
    if !allow_unknown {
        // The core's rule, so a global nobody maps fails at the opcode that names it.
        let mut allow = Allowlist::new(stdtypes::GLOBALS.iter().copied());
        for c in &classes {
            allow.insert(c);
        }
        for (&code, (module, name)) in &extensions {
            allow.insert(&format!("{module}.{name}"));
            allow.register_extension(code, module, name);
        }
        core.allow = Some(allow);
    }
    let settings = Settings {
        dict,
        frozen_tuples: o.frozen_tuples.unwrap_or(false),
        classes,
        allow_unknown,
        max_key_size: core.limits.max_alloc,
        max_depth,
        persistent: o.persistent.unwrap_or(false),
    };
    Ok((settings, core, extensions))
}

/// Decodes `data` into a tape: `{ ops, numsAt, text, blob, slots, keep }`.
///
/// The ops, then the numbers of the longest list of numbers (from `numsAt` on), are
/// copied into `scratch` when they fit, and `ops` is then left out: JS reads them from
/// its own array. Otherwise `ops` is a new array, which JS may keep as its next scratch.
#[napi(js_name = "decodeTape")]
pub fn decode_tape<'e>(
    env: &'e Env,
    data: &[u8],
    options: Option<NativeLoadsOptions>,
    scratch: Option<&mut [f64]>,
) -> Result<Object<'e>> {
    let (settings, core, extensions) =
        settings(options, data.len()).map_err(|f| f.into_napi(env))?;
    let mut spare = reuse::take();
    let mut graph = Graph::with_buffers(data.len(), &mut spare);
    graph.extensions = extensions;
    // The text string is made while the graph's text, which it may take, is still here.
    let walked = walk(data, &core, &settings, &mut graph, &mut spare).map(|(mut tape, nums)| {
        let parts = std::mem::replace(&mut tape.text, TextParts::Lent(0));
        let text = jstext::js_string(env, parts, &mut graph.text);
        (tape, nums, text)
    });
    graph.give_back(&mut spare);
    drop_in_background(graph);
    let (tape, nums, text) = match walked {
        Ok(walked) => walked,
        Err(f) => {
            reuse::give(spare);
            return Err(f.into_napi(env));
        }
    };
    let mut out = Object::new(env)?;
    let total = tape.ops.len() + nums.len();
    match scratch {
        Some(s) if s.len() >= total => {
            s[..tape.ops.len()].copy_from_slice(&tape.ops);
            s[tape.ops.len()..total].copy_from_slice(&nums);
        }
        _ => {
            // Some room to spare, so the next, slightly longer tape fits too.
            let mut ops = Vec::with_capacity(total + total / 8);
            ops.extend_from_slice(&tape.ops);
            ops.extend_from_slice(&nums);
            ops.resize(total + total / 8, 0.0);
            out.set("ops", Float64Array::new(ops))?;
        }
    }
    out.set("numsAt", tape.ops.len() as f64)?;
    out.set("slots", tape.slots)?;
    out.set("keep", Float64Array::new(tape.keep))?;
    out.set("blob", Buffer::from(tape.blob))?;
    out.set("text", text?)?;
    spare.ops = tape.ops;
    if nums.capacity() > spare.nums.capacity() {
        spare.nums = nums;
    }
    reuse::give(spare);
    Ok(out)
}

/// Decodes into `graph` and walks it: the tape, and the numbers of the longest list
/// of numbers (moved out of the graph). Takes the walker's buffers from `spare` and
/// puts the per-node marks back.
fn walk(
    data: &[u8],
    core: &DecodeOptions,
    settings: &Settings,
    graph: &mut Graph,
    spare: &mut Spare,
) -> Fallible<(Written, Vec<f64>)> {
    let (root, _) = decode_with(data, core, graph)?;
    if graph.built_scalar {
        return Err(Failure::new(
            Code::Unsupported,
            "BUILD applied to a plain number, bool or None",
        ));
    }
    let moved = graph.take_largest_nums(MOVE_NUMS_MIN);
    let ops = std::mem::take(&mut spare.ops);
    let seen = std::mem::take(&mut spare.seen);
    let mut walker = Walker::new(graph, settings, data.len(), ops, seen);
    let nums = match moved {
        Some((id, nums)) => {
            walker.moved = Some((id, nums.len(), tape::all_int32(&nums)));
            nums
        }
        None => Vec::new(),
    };
    let (tape, seen) = walker.run(root);
    spare.seen = seen;
    Ok((tape?.finish(), nums))
}

/// A list of this many numbers or more crosses to JS after the ops, copied once from
/// the graph rather than through the ops (the largest such list only).
const MOVE_NUMS_MIN: usize = 1 << 16;

/// Graphs with more nodes than this are freed on a helper thread: freeing a large graph
/// (one allocation per list and dict) costs about as much as walking it, and nothing
/// waits for it.
const BACKGROUND_DROP_NODES: usize = 50_000;

fn drop_in_background(graph: Graph) {
    if graph.nodes.len() > BACKGROUND_DROP_NODES {
        // When no thread can be spawned, the closure and the graph are dropped here.
        let _ = std::thread::Builder::new()
            .name("brinery-drop".into())
            .spawn(move || drop(graph));
    }
}
