//! Builds Python objects from a decoded [`Tree`] for `safe_loads`, in two passes.
//!
//! The first pass ([`check`]) visits every node and fails on any global outside the
//! allowlist, any call of something that is not an allowed global, and any persistent
//! id, so nothing is imported or called when a stream is refused. The second
//! ([`Builder::build`]) creates objects with an explicit work stack (no native
//! recursion, so nesting is bounded by `max_depth`, not by the C stack): a node is
//! *constructed* once what its construction needs is finished (a tuple's items, a call's
//! callable and arguments), then *filled* (a list's items, a dict's entries, an object's
//! `BUILD` state). Each node becomes one Python object, so shared references and cycles
//! come out as in `pickle.loads`; a container whose items are still under construction
//! (a list inside a tuple that contains the list) is filled after them. Not a general
//! unpickler: persistent ids are refused and only allowlisted globals are ever called.

use brinery_core::{NodeId, Object, ObjectKind, Tree, ValueRef};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFrozenSet, PyList, PySet, PyTuple, PyType,
};

use super::allow::{self, Allow, Rule};

/// Why a stream was refused before anything ran.
pub enum Refusal {
    /// `module.name` (or `extension code N`) is not allowed.
    Global(String),
    /// A call whose callable is not a global.
    Call,
    /// A persistent id, which `safe_loads` has no hook for.
    PersistentId,
}

/// Pass 1: finds the first node (in arena order) that makes the stream unsafe.
pub fn check(tree: &Tree, allow: &Allow<'_>) -> PyResult<Option<Refusal>> {
    for (_, v) in tree.iter() {
        match v {
            ValueRef::Global { module, name } if allow.rule(module, name).is_none() => {
                return Ok(Some(Refusal::Global(format!("{module}.{name}"))));
            }
            ValueRef::Extension(code) => {
                if let Some((m, n)) = allow.extension(code) {
                    if allow.rule(m, n).is_some() {
                        continue;
                    }
                    return Ok(Some(Refusal::Global(format!("{m}.{n}"))));
                }
                return Ok(Some(Refusal::Global(format!("extension code {code}"))));
            }
            ValueRef::PersistentId(_) => return Ok(Some(Refusal::PersistentId)),
            ValueRef::Object(o)
                if o.kind != ObjectKind::Built
                    && !matches!(
                        tree.get(o.callable),
                        ValueRef::Global { .. } | ValueRef::Extension(_)
                    ) =>
            {
                return Ok(Some(Refusal::Call));
            }
            _ => {}
        }
    }
    Ok(None)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Constructing,
    /// Constructed; filling is pending or in progress.
    Constructed,
    /// Constructed; filling waits until the end (an item was still under construction).
    Deferred,
    Done,
}

/// Pass 2 state.
pub struct Builder<'a, 'py> {
    py: Python<'py>,
    tree: &'a Tree,
    allow: &'a Allow<'py>,
    buffers: Vec<Bound<'py, PyAny>>,
    max_depth: usize,
    max_alloc: usize,
    charged: usize,
    objs: Vec<Option<Bound<'py, PyAny>>>,
    /// Whether the node's object is one this load created and nothing else holds: a
    /// container the builder made, or the result of a call that came back with no
    /// other reference (not a singleton, a cached or interned value, or a global).
    /// Only such objects may be filled or get a `BUILD` state.
    fresh: Vec<bool>,
    state: Vec<State>,
    active: usize,
}

/// A failure while building: `Err(PyErr)` from Python, or a limit/argument refusal.
pub enum Failure {
    Py(PyErr),
    /// A call of an allowed global with arguments its rule refuses.
    Args(String),
    Depth(usize),
    Alloc(usize),
    /// Another failure, while building the object the opcode at this offset made.
    At(Box<Failure>, usize),
}

impl Failure {
    /// Attaches the offset of the opcode that made node `id`, when it is an object.
    fn at(self, tree: &Tree, id: NodeId) -> Failure {
        match (self, tree.object_offset(id)) {
            (f @ Failure::At(..), _) | (f, None) => f,
            (f, Some(offset)) => Failure::At(Box::new(f), offset),
        }
    }
}

impl From<std::convert::Infallible> for Failure {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

type R<T> = Result<T, Failure>;

impl<'a, 'py> Builder<'a, 'py> {
    pub fn new(
        py: Python<'py>,
        tree: &'a Tree,
        allow: &'a Allow<'py>,
        buffers: Vec<Bound<'py, PyAny>>,
        max_depth: usize,
        max_alloc: usize,
    ) -> Self {
        Builder {
            py,
            tree,
            allow,
            buffers,
            max_depth,
            max_alloc,
            charged: 0,
            objs: vec![None; tree.len()],
            fresh: vec![false; tree.len()],
            state: vec![State::New; tree.len()],
            active: 0,
        }
    }

    /// Pushes the dependencies not started yet, so the first of them is built first.
    fn push_new(&self, deps: &[NodeId], work: &mut Vec<NodeId>) {
        work.extend(deps.iter().rev().filter(|&&d| self.state[d] == State::New));
    }

    /// Builds the root and everything it reaches.
    pub fn build(mut self) -> R<Bound<'py, PyAny>> {
        let root = self.tree.root();
        let mut work: Vec<NodeId> = vec![root];
        let mut deferred: Vec<NodeId> = Vec::new();
        let mut deps: Vec<NodeId> = Vec::new();
        while let Some(&id) = work.last() {
            match self.state[id] {
                State::New => {
                    self.state[id] = State::Constructing;
                    self.active += 1;
                    if self.active > self.max_depth {
                        return Err(Failure::Depth(self.max_depth).at(self.tree, id));
                    }
                    deps.clear();
                    construct_deps(self.tree, id, &mut deps);
                    self.push_new(&deps, &mut work);
                }
                State::Constructing => {
                    let obj = self.construct(id).map_err(|f| f.at(self.tree, id))?;
                    self.fresh[id] = match self.tree.get(id) {
                        ValueRef::List(_) | ValueRef::Dict(_) | ValueRef::Set(_) => true,
                        ValueRef::Object(o) if o.kind == ObjectKind::Built => {
                            self.fresh[o.callable]
                        }
                        // One reference: the one `construct` returned.
                        ValueRef::Object(_) => refcount(&obj) == 1,
                        _ => false,
                    };
                    self.charge(allow::cost(&obj))?;
                    self.objs[id] = Some(obj);
                    self.state[id] = State::Constructed;
                    deps.clear();
                    fill_deps(self.tree, id, &mut deps);
                    self.push_new(&deps, &mut work);
                }
                State::Constructed => {
                    deps.clear();
                    fill_deps(self.tree, id, &mut deps);
                    if deps.iter().any(|&d| self.objs[d].is_none()) {
                        self.state[id] = State::Deferred;
                        deferred.push(id);
                    } else {
                        self.fill(id).map_err(|f| f.at(self.tree, id))?;
                        self.state[id] = State::Done;
                    }
                    self.active -= 1;
                    work.pop();
                }
                State::Deferred | State::Done => {
                    work.pop();
                }
            }
        }
        for id in deferred {
            self.fill(id).map_err(|f| f.at(self.tree, id))?;
            self.state[id] = State::Done;
        }
        Ok(self.obj(root)?)
    }

    fn charge(&mut self, n: usize) -> R<()> {
        self.charged = self.charged.saturating_add(n);
        if self.charged > self.max_alloc {
            return Err(Failure::Alloc(self.max_alloc));
        }
        Ok(())
    }

    fn obj(&self, id: NodeId) -> PyResult<Bound<'py, PyAny>> {
        self.objs[id].clone().ok_or_else(|| {
            PyValueError::new_err("recursive reference to an object under construction")
        })
    }

    fn objs_of(&self, ids: &[NodeId]) -> PyResult<Vec<Bound<'py, PyAny>>> {
        ids.iter().map(|&i| self.obj(i)).collect()
    }

    fn construct(&mut self, id: NodeId) -> R<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match self.tree.get(id) {
            ValueRef::None => py.None().into_bound(py),
            ValueRef::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
            ValueRef::Int(i) => i.into_pyobject(py)?.into_any(),
            ValueRef::BigInt(le) => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("signed", true)?;
                py.get_type::<pyo3::types::PyInt>().call_method(
                    "from_bytes",
                    (PyBytes::new(py, le), "little"),
                    Some(&kwargs),
                )?
            }
            ValueRef::Float(f) => f.into_pyobject(py)?.into_any(),
            ValueRef::Str(s) => s.into_pyobject(py)?.into_any(),
            ValueRef::SurrogateStr(b) => {
                PyBytes::new(py, b).call_method1("decode", ("utf-8", "surrogatepass"))?
            }
            ValueRef::Bytes(b) => PyBytes::new(py, b).into_any(),
            ValueRef::ByteArray(b) => PyByteArray::new(py, b).into_any(),
            ValueRef::List(_) => PyList::empty(py).into_any(),
            ValueRef::Dict(_) => PyDict::new(py).into_any(),
            ValueRef::Set(_) => PySet::empty(py)?.into_any(),
            ValueRef::Tuple(items) => PyTuple::new(py, self.objs_of(items)?)?.into_any(),
            ValueRef::FrozenSet(items) => PyFrozenSet::new(py, &self.objs_of(items)?)?.into_any(),
            ValueRef::Global { module, name } => self.allow.resolve(py, module, name)?,
            ValueRef::Extension(code) => {
                let Some((m, n)) = self.allow.extension(code) else {
                    return Err(PyValueError::new_err(format!(
                        "unregistered extension code {code}"
                    ))
                    .into());
                };
                self.allow.resolve(py, m, n)?
            }
            ValueRef::Buffer { index, readonly } => {
                let buf = self.buffers[index].clone();
                if readonly {
                    let view = py
                        .import("builtins")?
                        .getattr("memoryview")?
                        .call1((&buf,))?;
                    if view.getattr("readonly")?.is_truthy()? {
                        buf
                    } else {
                        view.call_method0("toreadonly")?
                    }
                } else {
                    buf
                }
            }
            ValueRef::PersistentId(_) => {
                return Err(PyValueError::new_err("persistent ids are not supported").into())
            }
            ValueRef::Object(o) => self.call(o)?,
        })
    }

    /// The rule of the global a call names (extensions resolved through copyreg).
    fn rule_of(&self, callable: NodeId) -> PyResult<Rule> {
        let found = match self.tree.get(callable) {
            ValueRef::Global { module, name } => self.allow.rule(module, name),
            ValueRef::Extension(code) => match self.allow.extension(code) {
                Some((m, n)) => self.allow.rule(m, n),
                None => None,
            },
            _ => None,
        };
        // `check` refused every other callable before anything ran.
        found.ok_or_else(|| PyValueError::new_err("call of a global outside the allowlist"))
    }

    fn call(&mut self, o: &Object) -> R<Bound<'py, PyAny>> {
        let py = self.py;
        let callee = self.obj(o.callable)?;
        if o.kind == ObjectKind::Built {
            return Ok(callee);
        }
        let rule = self.rule_of(o.callable)?;
        let args = self
            .obj(o.args)?
            .cast_into::<PyTuple>()
            .map_err(PyErr::from)?;
        let kwargs = match o.kwargs {
            Some(k) => Some(self.obj(k)?.cast_into::<PyDict>().map_err(PyErr::from)?),
            None => None,
        };
        allow::check_args(rule, &args, kwargs.as_ref()).map_err(Failure::Args)?;
        Ok(match o.kind {
            ObjectKind::Reduce => callee.call1(args)?,
            ObjectKind::NewObj | ObjectKind::NewObjEx => {
                if !callee.is_instance_of::<PyType>() {
                    return Err(
                        PyValueError::new_err("NEWOBJ class argument isn't a type object").into(),
                    );
                }
                let mut full = vec![callee.clone()];
                full.extend(args.iter());
                callee
                    .getattr("__new__")?
                    .call(PyTuple::new(py, full)?, kwargs.as_ref())?
            }
            // `pickle._instantiate`.
            ObjectKind::Inst => {
                if !args.is_empty()
                    || !callee.is_instance_of::<PyType>()
                    || callee.hasattr("__getinitargs__")?
                {
                    callee.call1(args)?
                } else {
                    callee.call_method1("__new__", (&callee,))?
                }
            }
            ObjectKind::Built => unreachable!("handled above"),
        })
    }

    /// Adds items and entries and applies `BUILD` states, as `pickle.loads` does.
    fn fill(&mut self, id: NodeId) -> R<()> {
        let target = self.obj(id)?;
        match self.tree.get(id) {
            ValueRef::List(items) => {
                let list = target.cast::<PyList>().map_err(PyErr::from)?;
                for &i in items {
                    list.append(self.obj(i)?)?;
                }
                self.charge(8 * items.len())?;
            }
            ValueRef::Set(items) => {
                let set = target.cast::<PySet>().map_err(PyErr::from)?;
                for &i in items {
                    set.add(self.obj(i)?)?;
                }
                self.charge(32 * items.len())?;
            }
            ValueRef::Dict(entries) => {
                let dict = target.cast::<PyDict>().map_err(PyErr::from)?;
                for &(k, v) in entries {
                    dict.set_item(self.obj(k)?, self.obj(v)?)?;
                }
                self.charge(48 * entries.len())?;
            }
            ValueRef::Object(o) => {
                if (!o.items.is_empty() || !o.entries.is_empty() || !o.state.is_empty())
                    && (!self.fresh[id] || !allow::is_instance_target(&target))
                {
                    return Err(Failure::Args(
                        "items or state added to an object the stream did not create (a \
                         class or module, a global, a singleton or a cached value)"
                            .into(),
                    ));
                }
                if !o.items.is_empty() {
                    let items = self.objs_of(&o.items)?;
                    if let Ok(set) = target.cast::<PySet>() {
                        for i in items {
                            set.add(i)?;
                        }
                    } else if let Ok(extend) = target.get_type().getattr("extend") {
                        // Methods come from the class, never from the instance's
                        // `__dict__`, which an earlier `BUILD` may have written.
                        extend.call1((&target, PyList::new(self.py, items)?))?;
                    } else {
                        let append = target.get_type().getattr("append")?;
                        for i in items {
                            append.call1((&target, i))?;
                        }
                    }
                    self.charge(8 * o.items.len())?;
                }
                for &(k, v) in &o.entries {
                    target.set_item(self.obj(k)?, self.obj(v)?)?;
                }
                self.charge(48 * o.entries.len())?;
                for &s in &o.state {
                    build_state(self.py, &target, &self.obj(s)?)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn refcount(obj: &Bound<'_, PyAny>) -> isize {
    // SAFETY: `obj` is a live object and the GIL is held (we hold a `Bound`).
    unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) }
}

/// `pickle`'s `load_build`, except that `__setstate__` is looked up on the class only:
/// a method the stream planted in the instance's `__dict__` with an earlier `BUILD` is
/// never called (it would be a call with unchecked arguments).
fn build_state<'py>(
    py: Python<'py>,
    inst: &Bound<'py, PyAny>,
    state: &Bound<'py, PyAny>,
) -> PyResult<()> {
    if let Ok(setstate) = inst.get_type().getattr("__setstate__") {
        setstate.call1((inst, state))?;
        return Ok(());
    }
    let (mut state, mut slots) = (state.clone(), None);
    if let Ok(t) = state.cast::<PyTuple>() {
        if t.len() == 2 {
            slots = Some(t.get_item(1)?);
            state = t.get_item(0)?;
        }
    }
    if state.is_truthy()? {
        let inst_dict = inst.getattr("__dict__")?;
        let intern = py.import("sys")?.getattr("intern")?;
        let state = state.cast::<PyDict>()?;
        // Over copies: `__setattr__` and key comparisons may run code that changes them.
        for (k, v) in state.copy()?.iter() {
            if k.get_type().is(py.get_type::<pyo3::types::PyString>()) {
                inst_dict.set_item(intern.call1((k,))?, v)?;
            } else {
                inst_dict.set_item(k, v)?;
            }
        }
    }
    if let Some(slots) = slots {
        if slots.is_truthy()? {
            for (k, v) in slots.cast::<PyDict>()?.copy()?.iter() {
                let k = k.cast_into::<pyo3::types::PyString>()?;
                inst.setattr(k, v)?;
            }
        }
    }
    Ok(())
}

/// What must be finished before `id` can be created.
fn construct_deps(tree: &Tree, id: NodeId, out: &mut Vec<NodeId>) {
    match tree.get(id) {
        ValueRef::Tuple(items) | ValueRef::FrozenSet(items) => out.extend(items),
        ValueRef::Object(o) => {
            out.push(o.callable);
            if o.kind != ObjectKind::Built {
                out.push(o.args);
                out.extend(o.kwargs);
            }
        }
        _ => {}
    }
}

/// What is added to `id` after it exists.
fn fill_deps(tree: &Tree, id: NodeId, out: &mut Vec<NodeId>) {
    match tree.get(id) {
        ValueRef::List(items) | ValueRef::Set(items) => out.extend(items),
        ValueRef::Dict(entries) => out.extend(entries.iter().flat_map(|&(k, v)| [k, v])),
        ValueRef::Object(o) => {
            out.extend(&o.items);
            out.extend(o.entries.iter().flat_map(|&(k, v)| [k, v]));
            out.extend(&o.state);
        }
        _ => {}
    }
}
