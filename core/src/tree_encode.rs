//! Encodes a [`Tree`] (decoded, or built by a host such as the C and Node bindings) with
//! the [`Encoder`], the way CPython's pickler would encode the equivalent objects: every
//! node CPython would memoize is memoized, a node met again is a `GET`, recursive tuples
//! and frozensets are popped and fetched from the memo, sets below protocol 4 become
//! `builtins.set([items])`, and frames are cut where `_pickle.c` cuts them. A tree
//! decoded from a stream of plain data therefore re-encodes to the same bytes at any
//! protocol.
//!
//! The walk is iterative (an explicit stack of pending steps), so nesting depth is
//! limited by memory, not by the call stack. It is not a general object walker: hosts
//! that pickle their own objects drive the [`Encoder`] directly.
//!
//! Nodes CPython has no single equivalent for are written so that `pickle.loads` gives
//! the same object: `NEWOBJ` below protocol 2 as `copyreg.__newobj__(cls, *args)`,
//! `NEWOBJ_EX` below protocol 4 as `copyreg.__newobj_ex__(cls, args, kwargs)`, and
//! [`ObjectKind::Inst`] as `MARK cls args... OBJ`.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::encode::{Batch, Encoder, FallibleVec, Output};
use crate::error::EncodeError;
use crate::value::{NodeId, Object, ObjectKind, Tree, ValueRef};

/// Encodes the tree's root at `protocol`. Memory the allocator refuses for the stream
/// or the walk is [`EncodeError::OutOfMemory`], never an abort.
pub fn encode_tree(tree: &Tree, protocol: u8) -> Result<Vec<u8>, EncodeError> {
    let out = FallibleVec::with_capacity(64 + tree.len() * 4);
    let mut enc = Encoder::with_buffer(protocol, out)?;
    enc.begin();
    let walked = encode_tree_into(&mut enc, tree, tree.root());
    // A refused stream is the error to report: what failed after it may follow from it.
    let out = enc.finish().into_vec()?;
    walked.map(|()| out)
}

/// Writes node `node` of `tree` (and everything it reaches) into a caller's encoder,
/// without `PROTO` or `STOP`: for hosts that embed a tree in a stream of their own. The
/// tree's memo entries are local to this call.
pub fn encode_tree_into<O: Output>(
    enc: &mut Encoder<O>,
    tree: &Tree,
    node: NodeId,
) -> Result<(), EncodeError> {
    TreeWriter::new(enc, tree)?.run(node)
}

const NOT_MEMOIZED: u32 = u32::MAX;
const MAX_LEN_BELOW_PROTO_4: usize = u32::MAX as usize;

/// One pending step of the walk.
#[derive(Debug, Clone, Copy)]
enum Step {
    Save(NodeId),
    BatchBegin(Batch, usize, usize),
    BatchEnd(Batch, usize, usize),
    /// Closes a non-empty tuple: `TUPLE*` and memoize, or pop and `GET` if recursive.
    TupleEnd(NodeId, usize),
    /// Closes a frozenset at protocol 4+.
    FrozenSetEnd(NodeId),
    /// Closes the `set(list)` reduction's argument tuple and writes `REDUCE`.
    SetReduceEnd,
    /// After `REDUCE`/`NEWOBJ`/`NEWOBJ_EX`/`OBJ`: memoize, or pop and `GET` if recursive.
    CallEnd(NodeId),
    /// Closes a tuple the walker synthesised (never recursive).
    SynthTupleEnd(usize),
    /// A memoized empty dict the walker synthesised (`NEWOBJ_EX` without kwargs).
    SynthEmptyDict,
    Reduce,
    NewObj,
    NewObjEx,
    Obj,
    Build,
    BinPersId,
    /// A `BUILD` on a plain value: later visits fetch that value.
    AliasMemo(NodeId, NodeId),
    /// A node memoized only after its contents is complete: restores its entry mark.
    Leave(NodeId, u32),
}

struct TreeWriter<'a, O: Output> {
    enc: &'a mut Encoder<O>,
    tree: &'a Tree,
    memo: Vec<u32>,
    /// For nodes being written that are memoized only after their contents (tuples,
    /// frozensets, objects, persistent ids): 1 + `memoized_nodes` when writing began.
    entered: Vec<u32>,
    /// How many nodes have a memo entry: the walk's measure of progress (the memo itself
    /// also grows with objects the encoder synthesises afresh each time).
    memoized_nodes: u32,
    stack: Vec<Step>,
    next_buffer: usize,
    /// References to each out-of-band buffer node, when the tree has any.
    buffer_refs: Option<Vec<u32>>,
}

impl<'a, O: Output> TreeWriter<'a, O> {
    fn new(enc: &'a mut Encoder<O>, tree: &'a Tree) -> Result<Self, EncodeError> {
        let refused = || EncodeError::OutOfMemory(tree.len().saturating_mul(8));
        Ok(TreeWriter {
            enc,
            tree,
            memo: crate::try_alloc::filled(tree.len(), NOT_MEMOIZED).ok_or_else(refused)?,
            entered: crate::try_alloc::filled(tree.len(), 0).ok_or_else(refused)?,
            memoized_nodes: 0,
            stack: Vec::new(),
            next_buffer: 0,
            buffer_refs: None,
        })
    }

    fn run(mut self, root: NodeId) -> Result<(), EncodeError> {
        self.stack.push(Step::Save(root));
        while let Some(step) = self.stack.pop() {
            self.step(step)?;
        }
        Ok(())
    }

    fn node(&self, id: NodeId) -> Result<ValueRef<'a>, EncodeError> {
        let tree: &'a Tree = self.tree;
        tree.try_get(id)
            .ok_or_else(|| EncodeError::Invalid(format!("node {id} is not in the tree")))
    }

    fn memoize(&mut self, id: NodeId) {
        let idx = self.enc.memoize();
        self.set_memo(id, idx);
    }

    fn set_memo(&mut self, id: NodeId, idx: u32) {
        if self.memo[id] == NOT_MEMOIZED && idx != NOT_MEMOIZED {
            self.memoized_nodes += 1;
        }
        self.memo[id] = idx;
    }

    /// Schedules `steps` to run next, in order.
    fn then(&mut self, steps: impl DoubleEndedIterator<Item = Step>) {
        self.stack.extend(steps.rev());
    }

    fn step(&mut self, step: Step) -> Result<(), EncodeError> {
        match step {
            Step::Save(id) => self.save(id)?,
            Step::BatchBegin(b, i, n) => self.enc.batch_item_begin(b, i, n),
            Step::BatchEnd(b, i, n) => self.enc.batch_item_end(b, i, n),
            Step::TupleEnd(id, len) => match self.memo[id] {
                NOT_MEMOIZED => {
                    self.enc.tuple_end(len);
                    self.memoize(id);
                }
                idx => self.enc.tuple_end_recursive(len, idx),
            },
            Step::FrozenSetEnd(id) => match self.memo[id] {
                NOT_MEMOIZED => {
                    self.enc.frozenset();
                    self.memoize(id);
                }
                idx => self.enc.frozenset_end_recursive(idx),
            },
            Step::SetReduceEnd => self.enc.set_reduce_end(),
            Step::CallEnd(id) => match self.memo[id] {
                NOT_MEMOIZED => self.memoize(id),
                idx => self.enc.reduce_end_recursive(idx),
            },
            Step::SynthTupleEnd(len) => {
                self.enc.tuple_end(len);
                self.enc.memoize();
            }
            Step::SynthEmptyDict => {
                self.enc.boundary();
                self.enc.empty_dict();
                self.enc.memoize();
            }
            Step::Reduce => self.enc.reduce(),
            Step::NewObj => self.enc.newobj(),
            Step::NewObjEx => self.enc.newobj_ex(),
            Step::Obj => self.enc.obj(),
            Step::Build => self.enc.build(),
            Step::BinPersId => self.enc.binpersid(),
            Step::AliasMemo(id, of) => {
                if self.memo[id] == NOT_MEMOIZED {
                    self.set_memo(id, self.memo[of]);
                }
            }
            Step::Leave(id, previous) => self.entered[id] = previous,
        }
        Ok(())
    }

    fn save(&mut self, id: NodeId) -> Result<(), EncodeError> {
        let value = self.node(id)?;
        self.enc.boundary();
        match value {
            ValueRef::None => self.enc.none(),
            ValueRef::Bool(b) => self.enc.bool(b),
            ValueRef::Int(v) => self.enc.int(v),
            ValueRef::BigInt(le) => self.enc.big_int(le),
            ValueRef::Float(v) => self.enc.float(v),
            _ => return self.save_memoized_kind(id, value),
        }
        Ok(())
    }

    /// Saves a node of a type CPython memoizes (or that is never shared).
    fn save_memoized_kind(&mut self, id: NodeId, value: ValueRef<'a>) -> Result<(), EncodeError> {
        let proto = self.enc.protocol();
        if self.memo[id] != NOT_MEMOIZED {
            self.enc.get(self.memo[id]);
            return Ok(());
        }
        if memoized_after_contents(value) {
            self.enter(id)?;
        }
        match value {
            ValueRef::Str(s) => {
                check_len(s.len(), proto)?;
                self.enc.str(s);
                self.memoize(id);
            }
            ValueRef::SurrogateStr(b) => {
                check_len(b.len(), proto)?;
                self.enc.str_utf8(b);
                self.memoize(id);
            }
            ValueRef::Bytes(b) => {
                check_len(b.len(), proto)?;
                self.enc.bytes(b);
                self.memoize(id);
            }
            ValueRef::ByteArray(b) => {
                check_len(b.len(), proto)?;
                self.enc.bytearray(b);
                self.memoize(id);
            }
            ValueRef::List(items) => {
                self.enc.empty_list();
                self.memoize(id);
                self.items(Batch::List, items);
            }
            ValueRef::Dict(entries) => {
                self.enc.empty_dict();
                self.memoize(id);
                self.entries(Batch::Dict, entries);
            }
            ValueRef::Set(items) | ValueRef::FrozenSet(items) if proto < 4 => {
                self.enc
                    .set_reduce_begin(matches!(value, ValueRef::FrozenSet(_)));
                self.then([Step::SetReduceEnd, Step::CallEnd(id)].into_iter());
                self.items(Batch::List, items);
            }
            ValueRef::Set(items) => {
                self.enc.empty_set()?;
                self.memoize(id);
                self.items(Batch::Set, items);
            }
            ValueRef::FrozenSet(items) => {
                self.enc.mark();
                self.stack.push(Step::FrozenSetEnd(id));
                self.then(items.iter().map(|&item| Step::Save(item)));
            }
            ValueRef::Tuple([]) => self.enc.tuple_end(0),
            ValueRef::Tuple(items) => {
                self.enc.tuple_begin(items.len());
                self.stack.push(Step::TupleEnd(id, items.len()));
                self.then(items.iter().map(|&item| Step::Save(item)));
            }
            ValueRef::Global { module, name } => {
                // GLOBAL's text lines are ASCII, except at protocol 3 (UTF-8), as in
                // `save_global`; STACK_GLOBAL's are strs.
                if proto != 3 && proto < 4 && !(module.is_ascii() && name.is_ascii()) {
                    return Err(invalid(id, "a non-ascii global needs protocol 3 or 4+"));
                }
                if [module, name].iter().any(|s| s.contains('\n')) {
                    return Err(invalid(id, "a global's module or name holds a newline"));
                }
                let idx = self.enc.global_memoized(module, name);
                self.set_memo(id, idx);
            }
            ValueRef::Object(obj) => self.object(id, obj)?,
            ValueRef::PersistentId(pid) => self.persistent_id(id, pid)?,
            ValueRef::Extension(code) => {
                if proto < 2 {
                    return Err(EncodeError::NeedsProtocol("extension codes", 2));
                }
                if code <= 0 {
                    return Err(invalid(id, "extension code must be positive"));
                }
                self.enc.ext(code as u32);
            }
            ValueRef::Buffer { index, readonly } => {
                if index != self.next_buffer {
                    return Err(invalid(
                        id,
                        &format!(
                            "out-of-band buffer {index} written where buffer {} comes next",
                            self.next_buffer
                        ),
                    ));
                }
                self.enc.next_buffer(readonly)?;
                self.next_buffer += 1;
                if self.buffer_references(id) > 1 {
                    self.memoize(id);
                }
            }
            ValueRef::None
            | ValueRef::Bool(_)
            | ValueRef::Int(_)
            | ValueRef::BigInt(_)
            | ValueRef::Float(_) => {
                unreachable!("atoms are written above")
            }
        }
        Ok(())
    }

    /// Marks `id` as being written. CPython writes such a node again when it meets it
    /// inside itself (a tuple reached through a list in it is written twice, the outer
    /// copy then popped); that ends once a memoized node closes the loop. If no node was
    /// memoized since the node was entered, nothing on the loop is memoized and CPython
    /// would recurse until `RecursionError`: refuse.
    fn enter(&mut self, id: NodeId) -> Result<(), EncodeError> {
        let now = self.memoized_nodes + 1;
        let previous = self.entered[id];
        if previous == now {
            return Err(invalid(
                id,
                "reaches itself only through tuples, frozensets, object arguments or \
                 persistent ids, which CPython cannot pickle either",
            ));
        }
        self.entered[id] = now;
        self.stack.push(Step::Leave(id, previous));
        Ok(())
    }

    /// Schedules the items of a list-like run.
    fn items(&mut self, batch: Batch, items: &[NodeId]) {
        let n = items.len();
        self.then(items.iter().enumerate().flat_map(|(i, &item)| {
            [
                Step::BatchBegin(batch, i, n),
                Step::Save(item),
                Step::BatchEnd(batch, i, n),
            ]
        }));
    }

    /// Schedules the entries of a dict-like run.
    fn entries(&mut self, batch: Batch, entries: &[(NodeId, NodeId)]) {
        let n = entries.len();
        self.then(entries.iter().enumerate().flat_map(|(i, &(k, v))| {
            [
                Step::BatchBegin(batch, i, n),
                Step::Save(k),
                Step::Save(v),
                Step::BatchEnd(batch, i, n),
            ]
        }));
    }

    fn object(&mut self, id: NodeId, obj: &Object) -> Result<(), EncodeError> {
        let proto = self.enc.protocol();
        // A `Built` node is a value that was `BUILD` first and then appended to (the
        // decoder cannot see another order), so its first state goes before its items;
        // a call's items come before its state, as `save_reduce` writes them.
        let (first_state, later_states) = match (obj.kind, obj.state.split_first()) {
            (ObjectKind::Built, Some((first, rest))) => (Some(*first), rest),
            _ => (None, &obj.state[..]),
        };
        // What follows the call, scheduled first so that it runs last.
        for &state in later_states.iter().rev() {
            self.then([Step::Save(state), Step::Build].into_iter());
        }
        self.entries(Batch::DictIter, &obj.entries);
        self.items(Batch::ListIter, &obj.items);
        if let Some(state) = first_state {
            self.then([Step::Save(state), Step::Build].into_iter());
        }
        match obj.kind {
            ObjectKind::Reduce => {
                self.then(
                    [
                        Step::Save(obj.callable),
                        Step::Save(obj.args),
                        Step::Reduce,
                        Step::CallEnd(id),
                    ]
                    .into_iter(),
                );
            }
            ObjectKind::NewObj if proto >= 2 => {
                self.then(
                    [
                        Step::Save(obj.callable),
                        Step::Save(obj.args),
                        Step::NewObj,
                        Step::CallEnd(id),
                    ]
                    .into_iter(),
                );
            }
            ObjectKind::NewObj => {
                // copyreg.__newobj__(cls, *args)
                let args = self.tuple_items(id, obj.args)?;
                self.stack.push(Step::CallEnd(id));
                self.stack.push(Step::Reduce);
                self.stack.push(Step::SynthTupleEnd(args.len() + 1));
                self.then(args.iter().map(|&a| Step::Save(a)));
                self.stack.push(Step::Save(obj.callable));
                self.enc.boundary();
                self.enc.global_memoized("copyreg", "__newobj__");
                self.enc.boundary();
                self.enc.tuple_begin(args.len() + 1);
            }
            ObjectKind::NewObjEx => {
                let kwargs = match obj.kwargs {
                    Some(k) => Step::Save(k),
                    None => Step::SynthEmptyDict,
                };
                if proto >= 4 {
                    self.then(
                        [
                            Step::Save(obj.callable),
                            Step::Save(obj.args),
                            kwargs,
                            Step::NewObjEx,
                            Step::CallEnd(id),
                        ]
                        .into_iter(),
                    );
                } else {
                    // copyreg.__newobj_ex__(cls, args, kwargs)
                    self.then(
                        [
                            Step::Save(obj.callable),
                            Step::Save(obj.args),
                            kwargs,
                            Step::SynthTupleEnd(3),
                            Step::Reduce,
                            Step::CallEnd(id),
                        ]
                        .into_iter(),
                    );
                    self.enc.boundary();
                    self.enc.global_memoized("copyreg", "__newobj_ex__");
                    self.enc.boundary();
                    self.enc.tuple_begin(3);
                }
            }
            ObjectKind::Inst => {
                let args = self.tuple_items(id, obj.args)?;
                self.stack.push(Step::CallEnd(id));
                self.stack.push(Step::Obj);
                self.then(args.iter().map(|&a| Step::Save(a)));
                self.stack.push(Step::Save(obj.callable));
                self.enc.mark();
            }
            ObjectKind::Built => {
                self.then(
                    [Step::Save(obj.callable), Step::AliasMemo(id, obj.callable)].into_iter(),
                );
            }
        }
        Ok(())
    }

    fn tuple_items(&self, id: NodeId, args: NodeId) -> Result<&'a [NodeId], EncodeError> {
        match self.node(args)? {
            ValueRef::Tuple(items) => Ok(items),
            _ => Err(invalid(id, "arguments must be a tuple")),
        }
    }

    fn persistent_id(&mut self, id: NodeId, pid: NodeId) -> Result<(), EncodeError> {
        if self.enc.protocol() == 0 {
            return match self.node(pid)? {
                ValueRef::Str(s) if s.is_ascii() && !s.contains('\n') => self.enc.persid_text(s),
                _ => Err(invalid(
                    id,
                    "a persistent id at protocol 0 must be an ascii str without newlines",
                )),
            };
        }
        self.then([Step::Save(pid), Step::BinPersId].into_iter());
        Ok(())
    }

    fn buffer_references(&mut self, id: NodeId) -> u32 {
        let tree = self.tree;
        let refs = self.buffer_refs.get_or_insert_with(|| {
            let mut refs = vec![0u32; tree.len()];
            let mut count = |child: NodeId| {
                if let Some(r) = refs.get_mut(child) {
                    *r = r.saturating_add(1);
                }
            };
            count(tree.root());
            for (_, value) in tree.iter() {
                value.for_each_child(&mut count);
            }
            refs
        });
        refs[id]
    }
}

/// Whether CPython memoizes the object only once its contents is written, so that a
/// loop through it alone never reaches a memo entry.
fn memoized_after_contents(value: ValueRef<'_>) -> bool {
    match value {
        ValueRef::Tuple(items) => !items.is_empty(),
        ValueRef::FrozenSet(_)
        | ValueRef::Set(_)
        | ValueRef::Object(_)
        | ValueRef::PersistentId(_) => true,
        _ => false,
    }
}

/// Payloads over 4 GiB need the 8-byte length opcodes of protocol 4.
fn check_len(len: usize, proto: u8) -> Result<(), EncodeError> {
    if len > MAX_LEN_BELOW_PROTO_4 && proto < 4 {
        return Err(EncodeError::NeedsProtocol("str or bytes over 4 GiB", 4));
    }
    Ok(())
}

fn invalid(id: NodeId, why: &str) -> EncodeError {
    EncodeError::Invalid(format!("node {id}: {why}"))
}
