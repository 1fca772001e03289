//! JSON text to a tree: [`from_json`]. serde_json parses the text (its recursion limit,
//! 128, bounds the nesting); the reader then maps brinery's `$` forms to nodes,
//! resolving `$def`/`$ref` labels and refusing what Python could not hold (an
//! unhashable key, a `$ref` to a label not yet defined). Not for writing: see
//! [`super::write`].

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Number, Value as Json};

use super::base64::base64_decode;
use super::{JsonError, JsonErrorKind, MAX_INT_DIGITS};
use crate::build::hashable;
use crate::pyfmt;
use crate::value::{NodeId, Object, ObjectKind, Tree, Value, ValueRef};

/// Reads JSON text in brinery's form into a tree.
pub fn from_json(text: &[u8]) -> Result<Tree, JsonError> {
    let json: Json = serde_json::from_slice(text).map_err(|e| {
        let kind = if e.to_string().contains("recursion limit") {
            JsonErrorKind::TooDeep(128)
        } else {
            JsonErrorKind::Syntax(e.to_string())
        };
        JsonError {
            kind,
            offset: Some(byte_offset(text, e.line(), e.column())),
        }
    })?;
    let mut r = Reader {
        tree: Tree::new(),
        defs: BTreeMap::new(),
    };
    let root = r.value(&json);
    // A node the tree had no memory for was handed a stand-in id: the tree is not the
    // text's, whatever else the reading said.
    if r.tree.out_of_memory() {
        return Err(JsonErrorKind::OutOfMemory.into());
    }
    r.tree.set_root(root?);
    Ok(r.tree)
}

/// serde_json reports a 1-based line and column; the offset of that byte.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].iter().position(|&b| b == b'\n') {
            Some(p) => start += p + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(text.len())
}

struct Reader {
    tree: Tree,
    defs: BTreeMap<u64, NodeId>,
}

impl Reader {
    fn value(&mut self, json: &Json) -> Result<NodeId, JsonError> {
        let value = match json {
            Json::Null => Value::None,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => number(n)?,
            Json::String(s) => Value::Str(s.clone()),
            Json::Array(items) => {
                let node = self.tree.push(Value::None);
                let items = self.list(items)?;
                self.tree.set(node, Value::List(items));
                return Ok(node);
            }
            Json::Object(map) => return self.object(map),
        };
        Ok(self.tree.push(value))
    }

    fn list(&mut self, items: &[Json]) -> Result<Vec<NodeId>, JsonError> {
        items.iter().map(|j| self.value(j)).collect()
    }

    fn object(&mut self, map: &Map<String, Json>) -> Result<NodeId, JsonError> {
        let Some((tag, body)) = map.iter().next().filter(|(k, _)| k.starts_with('$')) else {
            let node = self.tree.push(Value::None);
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key = self.tree.push(Value::Str(k.clone()));
                entries.push((key, self.value(v)?));
            }
            self.tree.set(node, Value::Dict(entries));
            return Ok(node);
        };
        let only = |expected: &[&str]| -> Result<(), JsonError> {
            match map.keys().find(|k| !expected.contains(&k.as_str())) {
                Some(k) => Err(JsonError::form(format!("unexpected key {k:?} in {tag}"))),
                None => Ok(()),
            }
        };
        let value = match tag.as_str() {
            "$int" => {
                only(&["$int"])?;
                let text = body
                    .as_str()
                    .ok_or_else(|| JsonError::form("$int wants a string"))?;
                if text.len() > MAX_INT_DIGITS {
                    return Err(JsonError::form(format!(
                        "$int longer than {MAX_INT_DIGITS}"
                    )));
                }
                let le = pyfmt::decimal_to_le(text.as_bytes())
                    .ok_or_else(|| JsonError::form("$int wants decimal digits"))?;
                Value::BigInt(le)
            }
            "$float" => {
                only(&["$float"])?;
                match body.as_str() {
                    Some("nan") => Value::Float(f64::NAN),
                    Some("inf") => Value::Float(f64::INFINITY),
                    Some("-inf") => Value::Float(f64::NEG_INFINITY),
                    _ => return Err(JsonError::form("$float wants \"nan\", \"inf\" or \"-inf\"")),
                }
            }
            "$wtf8" => {
                only(&["$wtf8"])?;
                let data = body
                    .as_str()
                    .and_then(base64_decode)
                    .filter(|b| is_wtf8(b))
                    .ok_or_else(|| JsonError::form("$wtf8 wants base64 of generalized utf-8"))?;
                match String::from_utf8(data) {
                    Ok(s) => Value::Str(s),
                    Err(e) => Value::SurrogateStr(e.into_bytes()),
                }
            }
            "$bytes" | "$bytearray" => {
                only(&[tag])?;
                let data = body
                    .as_str()
                    .and_then(base64_decode)
                    .ok_or_else(|| JsonError::form(format!("{tag} wants base64 text")))?;
                if tag == "$bytes" {
                    Value::Bytes(data)
                } else {
                    let node = self.tree.push(Value::ByteArray(data));
                    return Ok(node);
                }
            }
            "$tuple" | "$set" | "$frozenset" => {
                only(&[tag])?;
                let items = body
                    .as_array()
                    .ok_or_else(|| JsonError::form(format!("{tag} wants an array")))?;
                let node = self.tree.push(Value::None);
                let items = self.list(items)?;
                let value = match tag.as_str() {
                    "$tuple" => Value::Tuple(items),
                    "$set" => Value::Set(items),
                    _ => Value::FrozenSet(items),
                };
                self.tree.set(node, value);
                if tag != "$tuple" {
                    self.check_hashable(node)?;
                }
                return Ok(node);
            }
            "$dict" => {
                only(&["$dict"])?;
                let node = self.tree.push(Value::None);
                let entries = self.pairs(body, "$dict")?;
                self.tree.set(node, Value::Dict(entries));
                self.check_hashable(node)?;
                return Ok(node);
            }
            "$global" => {
                only(&["$global"])?;
                match body.as_array().map(Vec::as_slice) {
                    Some([Json::String(m), Json::String(n)]) => Value::Global {
                        module: m.clone(),
                        name: n.clone(),
                    },
                    _ => return Err(JsonError::form("$global wants [module, name]")),
                }
            }
            "$object" => return self.call(map, body),
            "$persid" => {
                only(&["$persid"])?;
                let pid = self.value(body)?;
                Value::PersistentId(pid)
            }
            "$ext" => {
                only(&["$ext"])?;
                let code = body
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or_else(|| JsonError::form("$ext wants a 32-bit int"))?;
                Value::Extension(code)
            }
            "$buffer" => {
                only(&["$buffer", "readonly"])?;
                let index = body
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| JsonError::form("$buffer wants an index"))?;
                let readonly = map.get("readonly").and_then(Json::as_bool).unwrap_or(false);
                Value::Buffer { index, readonly }
            }
            "$def" => {
                only(&["$def", "value"])?;
                let id = body
                    .as_u64()
                    .ok_or_else(|| JsonError::form("$def wants an id"))?;
                let inner = map
                    .get("value")
                    .ok_or_else(|| JsonError::form("$def needs value"))?;
                if self.defs.contains_key(&id) {
                    return Err(JsonError::form(format!("$def {id} given twice")));
                }
                return self.definition(id, inner);
            }
            "$ref" => {
                only(&["$ref"])?;
                let id = body
                    .as_u64()
                    .ok_or_else(|| JsonError::form("$ref wants an id"))?;
                return self
                    .defs
                    .get(&id)
                    .copied()
                    .ok_or_else(|| JsonError::form(format!("$ref {id} before its $def")));
            }
            other => return Err(JsonError::form(format!("unknown tag {other:?}"))),
        };
        Ok(self.tree.push(value))
    }

    /// `{"$def": id, "value": ..}`: the id must be known before the value's children
    /// are read, so that a `$ref` inside (a cycle) finds it. Reads the value, then moves
    /// it into a node reserved first.
    fn definition(&mut self, id: u64, inner: &Json) -> Result<NodeId, JsonError> {
        if let Json::Object(m) = inner {
            if m.contains_key("$def") || m.contains_key("$ref") {
                return Err(JsonError::form("$def value cannot be a $def or $ref"));
            }
        }
        let node = self.tree.push(Value::None);
        self.defs.insert(id, node);
        let built = self.value(inner)?;
        let value = self.tree.take(built);
        self.tree.set(node, value);
        // `built` is left as an unreferenced None. Now that `node` holds the value, a set
        // or dict that contains itself through `$ref` is seen as unhashable.
        self.check_hashable(node)?;
        Ok(node)
    }

    fn call(&mut self, map: &Map<String, Json>, kind: &Json) -> Result<NodeId, JsonError> {
        if let Some(k) = map.keys().find(|k| {
            ![
                "$object", "callable", "args", "kwargs", "state", "items", "entries",
            ]
            .contains(&k.as_str())
        }) {
            return Err(JsonError::form(format!("unexpected key {k:?} in $object")));
        }
        let kind = match kind.as_str() {
            Some("reduce") => ObjectKind::Reduce,
            Some("newobj") => ObjectKind::NewObj,
            Some("newobj_ex") => ObjectKind::NewObjEx,
            Some("inst") => ObjectKind::Inst,
            Some("built") => ObjectKind::Built,
            _ => return Err(JsonError::form("unknown $object kind")),
        };
        let node = self.tree.push(Value::None);
        let field = |name: &str| {
            map.get(name)
                .ok_or_else(|| JsonError::form(format!("$object needs {name}")))
        };
        let callable = self.value(field("callable")?)?;
        let args = self.value(field("args")?)?;
        let kwargs = match map.get("kwargs") {
            Some(kw) => Some(self.value(kw)?),
            None => None,
        };
        let list_field = |r: &mut Self, name: &str| -> Result<Vec<NodeId>, JsonError> {
            match map.get(name) {
                None => Ok(Vec::new()),
                Some(Json::Array(items)) => r.list(items),
                Some(_) => Err(JsonError::form(format!("$object {name} wants an array"))),
            }
        };
        let state = list_field(self, "state")?;
        let items = list_field(self, "items")?;
        let entries = match map.get("entries") {
            None => Vec::new(),
            Some(e) => self.pairs(e, "entries")?,
        };
        let object = Object {
            kind,
            callable,
            args,
            kwargs,
            state,
            items,
            entries,
        };
        self.tree.set(node, Value::Object(Box::new(object)));
        Ok(node)
    }

    fn pairs(&mut self, json: &Json, what: &str) -> Result<Vec<(NodeId, NodeId)>, JsonError> {
        let bad = || JsonError::form(format!("{what} wants [[key, value], ...]"));
        let pairs = json.as_array().ok_or_else(bad)?;
        let mut out = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match pair.as_array().map(Vec::as_slice) {
                Some([k, v]) => {
                    let k = self.value(k)?;
                    out.push((k, self.value(v)?));
                }
                _ => return Err(bad()),
            }
        }
        Ok(out)
    }

    fn check_hashable(&self, node: NodeId) -> Result<(), JsonError> {
        let keys: Vec<NodeId> = match self.tree.get(node) {
            ValueRef::Dict(entries) => entries.iter().map(|&(k, _)| k).collect(),
            ValueRef::Set(items) | ValueRef::FrozenSet(items) => items.to_vec(),
            _ => return Ok(()),
        };
        for k in keys {
            if !hashable(&self.tree, k, node) {
                return Err(JsonError::form("unhashable dict key or set item"));
            }
        }
        Ok(())
    }
}

fn is_wtf8(mut b: &[u8]) -> bool {
    while !b.is_empty() {
        match pyfmt::decode_wtf8_char(b) {
            Some((_, len)) => b = &b[len..],
            None => return false,
        }
    }
    true
}

fn number(n: &Number) -> Result<Value, JsonError> {
    if let Some(i) = n.as_i64() {
        Ok(Value::Int(i))
    } else if let Some(u) = n.as_u64() {
        let mut le = u.to_le_bytes().to_vec();
        le.push(0);
        Ok(Value::BigInt(pyfmt::trim_le(&le).to_vec()))
    } else {
        n.as_f64()
            .map(Value::Float)
            .ok_or_else(|| JsonError::form("number out of range"))
    }
}
