//! The globals allowlist: which `module.name` references a decoded tree may contain.
//!
//! Decoding never runs code, but a program that later resolves globals wants to know
//! that a stream names only what it expects. An entry is `module.name` (matched against
//! the global's module and name joined by a dot, so dotted modules and qualified names
//! both work) or `module.*` for every name in a module. Extension codes (`EXT1/2/4`)
//! stand for globals registered with copyreg, so an allowlist refuses them. No C types
//! here: it belongs in the core's decoder once a second binding needs it (the decoder
//! could then report the byte offset of the offending opcode).

use std::collections::BTreeSet;

use brinery_core::{NodeId, Tree, ValueRef};

/// A global the allowlist does not admit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenGlobal {
    #[error("global {0} is not allowed")]
    Global(String),
    #[error("extension code {0} is not allowed")]
    Extension(i32),
}

/// A set of allowed globals.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    exact: BTreeSet<String>,
    modules: BTreeSet<String>,
}

impl Allowlist {
    /// An allowlist admitting these entries (`module.name` or `module.*`).
    pub fn new<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list = Allowlist::default();
        for e in entries {
            match e.strip_suffix(".*") {
                Some(module) => list.modules.insert(module.to_owned()),
                None => list.exact.insert(e.to_owned()),
            };
        }
        list
    }

    /// Whether `module.name` is admitted.
    pub fn allows(&self, module: &str, name: &str) -> bool {
        self.modules.contains(module) || self.exact.contains(&format!("{module}.{name}"))
    }

    /// The first node reachable from the root naming a global the list does not admit.
    /// Globals the decoder consumed (the `_codecs.encode` of a protocol 2 `bytes`,
    /// lowered to plain bytes) or the stream popped are not part of the value and are
    /// not checked.
    pub fn check(&self, tree: &Tree) -> Result<(), ForbiddenGlobal> {
        if tree.is_empty() {
            return Ok(());
        }
        let mut seen = vec![false; tree.len()];
        let mut todo = vec![tree.root()];
        while let Some(id) = todo.pop() {
            if std::mem::replace(&mut seen[id], true) {
                continue;
            }
            let node = tree.get(id);
            push_children(node, &mut todo);
            match node {
                ValueRef::Global { module, name } if !self.allows(module, name) => {
                    return Err(ForbiddenGlobal::Global(format!("{module}.{name}")));
                }
                ValueRef::Extension(code) => return Err(ForbiddenGlobal::Extension(code)),
                _ => {}
            }
        }
        Ok(())
    }
}

fn push_children(v: ValueRef<'_>, todo: &mut Vec<NodeId>) {
    match v {
        ValueRef::List(items)
        | ValueRef::Tuple(items)
        | ValueRef::Set(items)
        | ValueRef::FrozenSet(items) => todo.extend(items),
        ValueRef::Dict(entries) => todo.extend(entries.iter().flat_map(|&(k, v)| [k, v])),
        ValueRef::Object(o) => {
            todo.extend([o.callable, o.args]);
            todo.extend(o.kwargs);
            todo.extend(&o.state);
            todo.extend(&o.items);
            todo.extend(o.entries.iter().flat_map(|&(k, v)| [k, v]));
        }
        ValueRef::PersistentId(id) => todo.push(id),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brinery_core::Value;

    fn global(module: &str, name: &str) -> Tree {
        let mut tree = Tree::new();
        let id = tree.push(Value::Global {
            module: module.into(),
            name: name.into(),
        });
        tree.set_root(id);
        tree
    }

    #[test]
    fn admits_exact_names_and_whole_modules() {
        let list = Allowlist::new(["collections.OrderedDict", "datetime.*"]);
        assert!(list.check(&global("collections", "OrderedDict")).is_ok());
        assert!(list.check(&global("datetime", "date")).is_ok());
        assert!(list.check(&global("os.path", "join")).is_err());
        assert_eq!(
            list.check(&global("os", "system")),
            Err(ForbiddenGlobal::Global("os.system".into()))
        );
        let list = Allowlist::new(["a.b.c"]);
        assert!(list.allows("a.b", "c") && list.allows("a", "b.c"));
    }
}
