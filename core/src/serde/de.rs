//! The serde `Deserializer` over a decoded [`Tree`]: plain values map to serde's data
//! model (ints of up to 128 bits, floats, strs, bytes, sequences, maps, `None`); enums
//! are `"Variant"` or `{"Variant": value}`. Shared references are read once per place
//! they appear; a cycle, or nesting deeper than [`MAX_DEPTH`], is an error rather than
//! unbounded recursion.

use alloc::format;

use ::serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use super::Error;
use crate::value::{NodeId, Tree, ValueRef};

/// Deepest nesting [`TreeDeserializer`] follows; serde deserializes recursively.
pub const MAX_DEPTH: usize = 256;

/// Deserializes the node `id` of a tree.
#[derive(Clone, Copy)]
pub struct TreeDeserializer<'t> {
    tree: &'t Tree,
    id: NodeId,
    depth: usize,
}

impl<'t> TreeDeserializer<'t> {
    pub fn new(tree: &'t Tree, id: NodeId) -> Self {
        TreeDeserializer { tree, id, depth: 0 }
    }

    fn child(&self, id: NodeId) -> Result<Self, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(Error::Message(format!(
                "nesting deeper than {MAX_DEPTH} (or a cycle)"
            )));
        }
        Ok(TreeDeserializer {
            tree: self.tree,
            id,
            depth: self.depth + 1,
        })
    }

    fn value(&self) -> ValueRef<'t> {
        self.tree.get(self.id)
    }

    fn unsupported(&self) -> Error {
        let what = match self.value() {
            ValueRef::SurrogateStr(_) => "a str with lone surrogates",
            ValueRef::Global { .. } => "a global",
            ValueRef::Object(_) => "an object",
            ValueRef::PersistentId(_) => "a persistent id",
            ValueRef::Extension(_) => "an extension code",
            ValueRef::Buffer { .. } => "an out-of-band buffer",
            _ => "this value",
        };
        Error::Message(format!("{what} has no serde representation"))
    }
}

/// A big int as `i128`, when it fits.
fn big_to_i128(le: &[u8]) -> Option<i128> {
    if le.len() > 16 {
        return None;
    }
    let fill = if le.last().is_some_and(|b| b & 0x80 != 0) {
        0xff
    } else {
        0
    };
    let mut b = [fill; 16];
    b[..le.len()].copy_from_slice(le);
    Some(i128::from_le_bytes(b))
}

/// A big int as `u128`, when it is non-negative and fits.
fn big_to_u128(le: &[u8]) -> Option<u128> {
    if le.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let le = match le {
        [rest @ .., 0] if le.len() == 17 => rest,
        _ => le,
    };
    if le.len() > 16 {
        return None;
    }
    let mut b = [0u8; 16];
    b[..le.len()].copy_from_slice(le);
    Some(u128::from_le_bytes(b))
}

impl<'de> de::Deserializer<'de> for TreeDeserializer<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            ValueRef::None => visitor.visit_unit(),
            ValueRef::Bool(b) => visitor.visit_bool(b),
            ValueRef::Int(i) => visitor.visit_i64(i),
            ValueRef::BigInt(le) => {
                if let Some(u) = big_to_u128(le) {
                    match u64::try_from(u) {
                        Ok(u) => visitor.visit_u64(u),
                        Err(_) => visitor.visit_u128(u),
                    }
                } else if let Some(i) = big_to_i128(le) {
                    visitor.visit_i128(i)
                } else {
                    Err(Error::Message("int beyond 128 bits".into()))
                }
            }
            ValueRef::Float(f) => visitor.visit_f64(f),
            ValueRef::Str(s) => visitor.visit_str(s),
            ValueRef::Bytes(b) | ValueRef::ByteArray(b) => visitor.visit_bytes(b),
            ValueRef::List(items)
            | ValueRef::Tuple(items)
            | ValueRef::Set(items)
            | ValueRef::FrozenSet(items) => visitor.visit_seq(Seq {
                parent: self,
                items: items.iter(),
            }),
            ValueRef::Dict(entries) => visitor.visit_map(Map {
                parent: self,
                entries: entries.iter(),
                value: None,
            }),
            _ => Err(self.unsupported()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value() {
            ValueRef::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value() {
            ValueRef::Str(s) => visitor.visit_enum(s.into_deserializer()),
            ValueRef::Dict(entries) if entries.len() == 1 => {
                let (k, v) = entries[0];
                visitor.visit_enum(Enum {
                    key: self.child(k)?,
                    value: self.child(v)?,
                })
            }
            _ => Err(Error::Message(
                "an enum is a str or a dict with one entry".into(),
            )),
        }
    }

    ::serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Seq<'a, 't> {
    parent: TreeDeserializer<'t>,
    items: core::slice::Iter<'a, NodeId>,
}

impl<'de> SeqAccess<'de> for Seq<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(&id) => seed.deserialize(self.parent.child(id)?).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a, 't> {
    parent: TreeDeserializer<'t>,
    entries: core::slice::Iter<'a, (NodeId, NodeId)>,
    value: Option<NodeId>,
}

impl<'de> MapAccess<'de> for Map<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some(&(k, v)) => {
                self.value = Some(v);
                seed.deserialize(self.parent.child(k)?).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let v = self
            .value
            .take()
            .ok_or_else(|| Error::Message("value without a key".into()))?;
        seed.deserialize(self.parent.child(v)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Enum<'t> {
    key: TreeDeserializer<'t>,
    value: TreeDeserializer<'t>,
}

impl<'de, 't> EnumAccess<'de> for Enum<'t> {
    type Error = Error;
    type Variant = TreeDeserializer<'t>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        Ok((seed.deserialize(self.key)?, self.value))
    }
}

impl<'de> VariantAccess<'de> for TreeDeserializer<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
