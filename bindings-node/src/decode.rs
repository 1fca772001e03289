//! `loads`, native half: decodes a stream with `brinery_core::decode_with` into a
//! [`Graph`] and walks it once, writing a [`Tape`] that `builder.js` turns into
//! JavaScript values.
//!
//! Every decision about what a Python value becomes (number or BigInt, object or Map,
//! which globals are allowed) is made here and in [`crate::stdtypes`]; the JS side only
//! materializes. Nothing is ever called while decoding: a global becomes a JS value only
//! through a constructor the caller mapped in `classes`. Not for encoding (see
//! [`crate::encode`]).

use std::collections::{HashMap, HashSet};

use brinery_core::{decode_with, Allowlist, DecodeOptions, Limits, Py2Strings};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{Code, Failure, Fallible};
use crate::graph::{number, Graph, Node, NodeRef, H};
use crate::jstext;
use crate::reuse::{self, Spare};
use crate::shapes::Shapes;
use crate::stdtypes;
use crate::tape::{self, Tape, TextParts, Written, NO_SLOT};

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

/// One pass over a decoded graph, writing its tape.
///
/// Sharing is found during the same pass: a node's first visit records where its op's
/// slot field is; a second visit gives it a slot, patches that field and writes `REF`.
/// The tape only reaches JS once complete, so the patch is always seen in time, cycles
/// included.
pub struct Walker<'t> {
    pub graph: &'t Graph,
    pub settings: &'t Settings,
    pub tape: Tape<'t>,
    shapes: Shapes,
    /// The list node whose numbers were moved to the tape's `nums`, how many, and
    /// whether all are int32s.
    pub moved: Option<(usize, usize, bool)>,
    /// Per node: 0 unseen; `(pos + 1) << 1` seen once with its slot field at `ops[pos]`;
    /// `slot << 1 | 1` given a slot; for a str, `index << 1 | 1`, its string table index.
    seen: Vec<u64>,
    depth: usize,
    /// Expanded sizes of the nodes measured as `dict: "object"` keys (see
    /// [`Graph::expanded_size`]).
    key_sizes: Vec<usize>,
}

impl<'t> Walker<'t> {
    /// A walker over `graph`, decoded from `input_len` bytes, writing its ops into
    /// `ops` and marking nodes in `seen` (both emptied, kept for their capacity).
    pub fn new(
        graph: &'t Graph,
        settings: &'t Settings,
        input_len: usize,
        mut ops: Vec<f64>,
        mut seen: Vec<u64>,
    ) -> Self {
        let nodes = &graph.nodes;
        // Scalars take no node: about one op per two stream bytes covers them (capped at
        // what `reuse` keeps, so the vector is kept: past that it grows as needed).
        ops.clear();
        let most = reuse::KEEP_MAX_BYTES / size_of::<f64>();
        ops.reserve((3 * nodes.len() + input_len / 2 + 16).min(most));
        seen.clear();
        seen.resize(nodes.len(), 0);
        Walker {
            graph,
            settings,
            tape: Tape {
                ops,
                text: tape::Text::lent_from(&graph.text, graph.ascii_text),
                ..Tape::default()
            },
            shapes: Shapes::new(),
            seen,
            depth: 0,
            key_sizes: Vec::new(),
            moved: None,
        }
    }

    /// Writes the tape of the value `root`; hands back the marks buffer for reuse.
    pub fn run(mut self, root: H) -> (Fallible<Tape<'t>>, Vec<u64>) {
        let done = self.value(root);
        (done.map(|()| self.tape), self.seen)
    }

    /// Writes `REF` and returns true when node `id` was written before.
    #[inline]
    pub fn seen(&mut self, id: usize) -> bool {
        let s = self.seen[id];
        if s == 0 {
            return false;
        }
        let slot = if s & 1 == 1 {
            s >> 1
        } else {
            let pos = (s >> 1) as usize - 1;
            let slot = u64::from(self.tape.slots);
            self.tape.slots += 1;
            self.tape.ops[pos] = slot as f64;
            self.seen[id] = slot << 1 | 1;
            slot
        };
        self.tape.op2(tape::REF, slot as f64);
        true
    }

    /// The string entry of str node `id` (see [`Tape::entry`]): its text is appended
    /// on the first visit, a table index is returned after. Callers pass only `Str` and
    /// `SurrogateStr` nodes; any other node is written as an empty string.
    #[inline]
    pub fn string(&mut self, id: usize) -> Fallible<f64> {
        let s = self.seen[id];
        if s != 0 {
            return Ok(Tape::entry((s >> 1) as u32));
        }
        let graph = self.graph;
        let len = match &graph.nodes[id] {
            Node::Str(r) => self.tape.text_str(&graph.text[r.clone()]),
            _ => match graph.get(id) {
                NodeRef::SurrogateStr(b) => self
                    .tape
                    .text_wtf8(b)
                    .ok_or_else(|| Failure::new(Code::BadUtf8, "malformed surrogate str"))?,
                _ => 0,
            },
        };
        let index = self.tape.next_string();
        self.mark_string(id, index);
        Ok(len as f64)
    }

    /// Records that node `id` became string table entry `index`.
    #[inline]
    pub fn mark_string(&mut self, id: usize, index: u32) {
        self.seen[id] = u64::from(index) << 1 | 1;
    }

    /// Records that node `id`'s op was just written, its last field being the slot.
    #[inline]
    pub fn mark(&mut self, id: usize) {
        self.seen[id] = (self.tape.ops.len() as u64) << 1;
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

    /// Writes a value.
    pub fn value(&mut self, h: H) -> Fallible<()> {
        match h {
            H::None => self.tape.op(tape::NONE),
            H::Bool(b) => self.tape.op(if b { tape::TRUE } else { tape::FALSE }),
            H::Int(v) => self.tape.int(v),
            H::Float(v) => self.tape.op2(tape::NUM, v),
            H::Node(id) => self.node(id)?,
        }
        Ok(())
    }

    /// Writes the value of node `id`.
    fn node(&mut self, id: usize) -> Fallible<()> {
        let graph = self.graph;
        if let Node::Str(_) | Node::SurrogateStr(_) = graph.nodes[id] {
            let e = self.string(id)?;
            if e < 0.0 {
                self.tape.op(tape::SREF);
                self.tape.push_entry(e);
            } else {
                self.tape.op2(tape::STR, e);
            }
            return Ok(());
        }
        match graph.get(id) {
            NodeRef::BigInt(le) => self.tape.big_int(le),
            NodeRef::Str(_) | NodeRef::SurrogateStr(_) => {}
            NodeRef::Bytes(b) | NodeRef::ByteArray(b) => {
                if !self.seen(id) {
                    self.tape.bytes(b, NO_SLOT);
                    self.mark(id);
                }
            }
            NodeRef::List(items) => {
                if !self.seen(id) {
                    self.seq(tape::LIST, items, Some(id))?;
                }
            }
            NodeRef::Nums(nums) => {
                if !self.seen(id) {
                    match self.moved {
                        Some((moved, len, ints)) if moved == id => {
                            let op = if ints { tape::INTX } else { tape::NUMX };
                            self.open(op, len, Some(id));
                        }
                        _ => {
                            let op = if tape::all_int32(nums) {
                                tape::INTS
                            } else {
                                tape::NUMS
                            };
                            self.open(op, nums.len(), Some(id));
                            self.tape.ops.extend_from_slice(nums);
                        }
                    }
                }
            }
            NodeRef::Tuple(items) => {
                if !self.seen(id) {
                    let op = if self.settings.frozen_tuples {
                        tape::TUPLE
                    } else {
                        tape::LIST
                    };
                    self.seq(op, items, Some(id))?;
                }
            }
            NodeRef::Dict(entries) => {
                if !self.seen(id) {
                    self.dict(entries, Some(id))?;
                }
            }
            NodeRef::Set(items) | NodeRef::FrozenSet(items) => {
                if !self.seen(id) {
                    self.seq(tape::SET, items, Some(id))?;
                }
            }
            NodeRef::Global { module, name } => {
                if !self.seen(id) {
                    let full = format!("{module}.{name}");
                    self.check_global(&full)?;
                    self.tape.op2(tape::GLOBAL, NO_SLOT);
                    self.mark(id);
                    self.tape.str_value(&full);
                }
            }
            NodeRef::Object(obj) => {
                if !self.seen(id) {
                    self.enter()?;
                    stdtypes::object(self, obj, id)?;
                    self.depth -= 1;
                }
            }
            NodeRef::PersistentId(pid) => {
                if !self.settings.persistent {
                    let pid = graph
                        .str_of(pid)
                        .map_or(String::new(), |s| format!(" {s:?}"));
                    return Err(Failure::new(
                        Code::Unsupported,
                        format!("persistent id{pid} needs the `persistentLoad` option"),
                    ));
                }
                if !self.seen(id) {
                    self.enter()?;
                    self.tape.op2(tape::PERSID, NO_SLOT);
                    self.mark(id);
                    self.value(pid)?;
                    self.depth -= 1;
                }
            }
            NodeRef::Extension(code) => {
                return Err(Failure::new(
                    Code::Unsupported,
                    format!(
                        "copyreg extension code {code} is not mapped in the `extensions` option"
                    ),
                ))
            }
            // The core has checked `index` against the number of buffers supplied; JS
            // hands out the caller's object itself (JS has no read-only views).
            NodeRef::Buffer { index, .. } => {
                if !self.seen(id) {
                    self.tape.op3(tape::OOB, index as f64, NO_SLOT);
                    self.mark(id);
                }
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

    /// Writes a container op `op n` whose node is `id` (none for synthesized values).
    #[inline]
    fn open(&mut self, op: f64, n: usize, id: Option<usize>) {
        self.tape.op3(op, n as f64, NO_SLOT);
        if let Some(id) = id {
            self.mark(id);
        }
    }

    /// A sequence container (`LIST`, `TUPLE`, `SET`) of `items`.
    pub fn seq(&mut self, op: f64, items: &[H], id: Option<usize>) -> Fallible<()> {
        let graph = self.graph;
        if op == tape::LIST && items.len() >= 2 {
            // Optimistically write a run of plain numbers; undo on the first other value.
            let start = self.tape.ops.len();
            self.open(tape::NUMS, items.len(), id);
            let mut all = true;
            let mut ints = true;
            for &i in items {
                match number(i) {
                    Some(f) => {
                        ints &= tape::is_int32(f);
                        self.tape.ops.push(f);
                    }
                    None => {
                        all = false;
                        break;
                    }
                }
            }
            if all {
                if ints {
                    self.tape.ops[start] = tape::INTS;
                }
                return Ok(());
            }
            self.tape.ops.truncate(start);
            if items.iter().all(|&i| graph.is_str(i)) {
                self.open(tape::STRS, items.len(), id);
                for &i in items {
                    if let H::Node(i) = i {
                        let e = self.string(i)?;
                        self.tape.push_entry(e);
                    }
                }
                return Ok(());
            }
        }
        self.enter()?;
        self.open(op, items.len(), id);
        for &i in items {
            self.value(i)?;
        }
        self.depth -= 1;
        Ok(())
    }

    /// A dict: a plain object or a `Map`, per the `dict` option. A dict of str keys
    /// names its shape (see [`crate::shapes`]); otherwise, in `"auto"` mode, the op is
    /// written as `OBJECT` and patched to `MAP` at the first key that is not a str.
    pub fn dict(&mut self, entries: &[(H, H)], id: Option<usize>) -> Fallible<()> {
        let graph = self.graph;
        let mode = self.settings.dict;
        self.enter()?;
        if mode != DictMode::Map {
            if let Some(found) = self.shapes.find(graph, entries) {
                if found.new {
                    self.tape.op2(tape::KEYS, entries.len() as f64);
                    for &(k, _) in entries {
                        if let H::Node(k) = k {
                            let e = self.string(k)?;
                            self.tape.push_entry(e);
                        }
                    }
                }
                self.open(tape::SHAPE, found.shape as usize, id);
                for &(_, v) in entries {
                    self.value(v)?;
                }
                self.depth -= 1;
                return Ok(());
            }
        }
        let at = self.tape.ops.len();
        let op = if mode == DictMode::Map {
            tape::MAP
        } else {
            tape::OBJECT
        };
        self.open(op, entries.len(), id);
        for &(k, v) in entries {
            let str_key = matches!(k, H::Node(k) if matches!(graph.nodes[k], Node::Str(_) | Node::SurrogateStr(_)));
            if mode == DictMode::Auto && !str_key {
                self.tape.ops[at] = tape::MAP;
            }
            if mode == DictMode::Object && !str_key {
                // JS names the property `String(key)`, which walks the key as a tree: a
                // DAG of tuples a few hundred bytes long would take 2**40 steps.
                let cap = self.settings.max_key_size;
                if graph.expanded_size(k, cap.saturating_add(1), &mut self.key_sizes) > cap {
                    return Err(Failure::new(
                        Code::Limit,
                        format!(
                            "a dict key expands to more than {cap} values as a string \
                             (dict: \"object\")"
                        ),
                    ));
                }
            }
            self.value(k)?;
            self.value(v)?;
        }
        self.depth -= 1;
        Ok(())
    }
}
