//! The walk that turns a decoded [`Graph`] into a [`Tape`]: one pass, finding shared
//! nodes as it goes (a second visit patches the first op's slot and writes `REF`),
//! deciding what each Python value becomes in JavaScript (number or BigInt, object or
//! Map, which globals are allowed). Not for standard types' calls (see
//! [`crate::stdtypes`]) or for decoding the stream (see [`crate::decode`]).

use super::{DictMode, Settings};
use crate::error::{Code, Failure, Fallible};
use crate::graph::{number, Graph, Node, NodeRef, H};
use crate::reuse;
use crate::shapes::Shapes;
use crate::stdtypes;
use crate::tape::{self, Tape, NO_SLOT};

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
