//! The owned value tree a decode returns (`brinery_value`) and its node accessors.
//!
//! A decoded pickle is an arena of nodes addressed by `size_t` ids; containers hold the
//! ids of their children. A value the stream shares (through the memo) is one node
//! reached from several places, and a cycle is a child id pointing back up, so a C
//! program walks shared and cyclic data without infinite loops by remembering the ids it
//! has visited. Pointers the accessors hand out point into the tree and stay valid until
//! `brinery_value_free`. Accessors return `BRINERY_WRONG_KIND` for a node of another kind
//! and `BRINERY_BAD_NODE` for an id that is not in the tree. Not for decoding itself
//! (see `decode`).

use std::ffi::c_char;

use brinery_core::{NodeId, ObjectKind, Tree, ValueRef};

use crate::error::brinery_status::{self, *};

/// An id that is not a node: returned for a missing `kwargs` and by
/// `brinery_value_root(NULL)`.
pub const BRINERY_NO_NODE: usize = usize::MAX;

/// A decoded pickle: the tree of nodes the stream produced. Created by `brinery_loads`,
/// freed with `brinery_value_free`. Immutable, so it may be read from several threads.
#[allow(non_camel_case_types)]
pub struct brinery_value {
    pub(crate) tree: Tree,
}

/// The kind of a node.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum brinery_kind {
    /// Not a node (a NULL value or an id out of range).
    BRINERY_KIND_INVALID = 0,
    /// `None`.
    BRINERY_KIND_NONE = 1,
    /// `True`/`False`: read with `brinery_value_bool`.
    BRINERY_KIND_BOOL = 2,
    /// An int in 64 bits: `brinery_value_int`.
    BRINERY_KIND_INT = 3,
    /// An int beyond 64 bits: `brinery_value_bigint`.
    BRINERY_KIND_BIGINT = 4,
    /// A float: `brinery_value_float`.
    BRINERY_KIND_FLOAT = 5,
    /// A `str`: `brinery_value_str` (UTF-8).
    BRINERY_KIND_STR = 6,
    /// A `str` with lone surrogates: `brinery_value_str` (generalized UTF-8).
    BRINERY_KIND_SURROGATE_STR = 7,
    /// `bytes`: `brinery_value_bytes`.
    BRINERY_KIND_BYTES = 8,
    /// `bytearray`: `brinery_value_bytes`.
    BRINERY_KIND_BYTEARRAY = 9,
    /// `list`: `brinery_value_items_len`, `brinery_value_item`.
    BRINERY_KIND_LIST = 10,
    /// `tuple`: as a list.
    BRINERY_KIND_TUPLE = 11,
    /// `dict`: `brinery_value_entries_len`, `brinery_value_entry`.
    BRINERY_KIND_DICT = 12,
    /// `set`: as a list.
    BRINERY_KIND_SET = 13,
    /// `frozenset`: as a list.
    BRINERY_KIND_FROZENSET = 14,
    /// A reference to `module.name`: `brinery_value_global`.
    BRINERY_KIND_GLOBAL = 15,
    /// A call the stream asks for (reduce, newobj, ...): `brinery_value_object`.
    BRINERY_KIND_OBJECT = 16,
    /// A persistent id: `brinery_value_persistent_id`.
    BRINERY_KIND_PERSISTENT_ID = 17,
    /// A copyreg extension code: `brinery_value_extension`.
    BRINERY_KIND_EXTENSION = 18,
    /// An out-of-band buffer: `brinery_value_buffer`.
    BRINERY_KIND_BUFFER = 19,
}

/// How an object node was created.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum brinery_object_kind {
    /// `callable(*args)` (`REDUCE`).
    BRINERY_OBJECT_REDUCE = 1,
    /// `cls.__new__(cls, *args)` (`NEWOBJ`).
    BRINERY_OBJECT_NEWOBJ = 2,
    /// `cls.__new__(cls, *args, **kwargs)` (`NEWOBJ_EX`).
    BRINERY_OBJECT_NEWOBJ_EX = 3,
    /// Protocol 0/1 class instantiation (`INST`/`OBJ`).
    BRINERY_OBJECT_INST = 4,
    /// `BUILD` applied to a value that was not an object: `callable` is that value.
    BRINERY_OBJECT_BUILT = 5,
}

/// An object node's parts; the lists (state, items, entries) are read with
/// `brinery_value_object_state`, `brinery_value_item` and `brinery_value_entry`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct brinery_object {
    pub kind: brinery_object_kind,
    /// The callable or class.
    pub callable: usize,
    /// The positional arguments (a tuple node).
    pub args: usize,
    /// Keyword arguments (a dict node, `NEWOBJ_EX`), or `BRINERY_NO_NODE`.
    pub kwargs: usize,
    /// Number of `BUILD` states applied.
    pub state_len: usize,
    /// Number of items appended (list subclasses).
    pub items_len: usize,
    /// Number of entries set (dict subclasses).
    pub entries_len: usize,
}

fn kind_of(v: ValueRef<'_>) -> brinery_kind {
    use brinery_kind::*;
    match v {
        ValueRef::None => BRINERY_KIND_NONE,
        ValueRef::Bool(_) => BRINERY_KIND_BOOL,
        ValueRef::Int(_) => BRINERY_KIND_INT,
        ValueRef::BigInt(_) => BRINERY_KIND_BIGINT,
        ValueRef::Float(_) => BRINERY_KIND_FLOAT,
        ValueRef::Str(_) => BRINERY_KIND_STR,
        ValueRef::SurrogateStr(_) => BRINERY_KIND_SURROGATE_STR,
        ValueRef::Bytes(_) => BRINERY_KIND_BYTES,
        ValueRef::ByteArray(_) => BRINERY_KIND_BYTEARRAY,
        ValueRef::List(_) => BRINERY_KIND_LIST,
        ValueRef::Tuple(_) => BRINERY_KIND_TUPLE,
        ValueRef::Dict(_) => BRINERY_KIND_DICT,
        ValueRef::Set(_) => BRINERY_KIND_SET,
        ValueRef::FrozenSet(_) => BRINERY_KIND_FROZENSET,
        ValueRef::Global { .. } => BRINERY_KIND_GLOBAL,
        ValueRef::Object(_) => BRINERY_KIND_OBJECT,
        ValueRef::PersistentId(_) => BRINERY_KIND_PERSISTENT_ID,
        ValueRef::Extension(_) => BRINERY_KIND_EXTENSION,
        ValueRef::Buffer { .. } => BRINERY_KIND_BUFFER,
    }
}

/// Runs an accessor: resolves `(value, node)`, checks the out pointers, catches panics.
fn access(
    value: *const brinery_value,
    node: usize,
    read: impl FnOnce(ValueRef<'_>) -> Result<(), brinery_status>,
) -> brinery_status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `value` is null or a live brinery_value (documented contract).
        let Some(value) = (unsafe { value.as_ref() }) else {
            return BRINERY_NULL_ARGUMENT;
        };
        let Some(v) = value.tree.try_get(node) else {
            return BRINERY_BAD_NODE;
        };
        match read(v) {
            Ok(()) => BRINERY_OK,
            Err(status) => status,
        }
    }))
    .unwrap_or(BRINERY_INTERNAL)
}

/// Writes `v` through `out`, or fails with `BRINERY_NULL_ARGUMENT`.
fn put<T>(out: *mut T, v: T) -> Result<(), brinery_status> {
    if out.is_null() {
        return Err(BRINERY_NULL_ARGUMENT);
    }
    // SAFETY: non-null out pointers point to writable storage (documented contract).
    unsafe { out.write(v) };
    Ok(())
}

fn check_out<T>(out: *mut T) -> Result<(), brinery_status> {
    if out.is_null() {
        Err(BRINERY_NULL_ARGUMENT)
    } else {
        Ok(())
    }
}

fn index<T: Copy>(list: &[T], i: usize) -> Result<T, brinery_status> {
    list.get(i).copied().ok_or(BRINERY_INDEX_OUT_OF_RANGE)
}

/// Frees a value returned by `brinery_loads` and every pointer its accessors returned.
/// NULL does nothing.
///
/// # Safety
/// `value` is NULL or a value from `brinery_loads` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_free(value: *mut brinery_value) {
    if value.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: created by Box::into_raw in brinery_loads; freed once per the contract.
        drop(unsafe { Box::from_raw(value) });
    });
}

/// The id of the value the stream produced (where a walk starts), or `BRINERY_NO_NODE`
/// when `value` is NULL.
///
/// # Safety
/// `value` is NULL or a live value.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_root(value: *const brinery_value) -> usize {
    // SAFETY: per the contract.
    unsafe { value.as_ref() }.map_or(BRINERY_NO_NODE, |v| v.tree.root())
}

/// Number of nodes in the tree; ids run from 0 to this minus one. 0 for NULL. Lets a
/// walker size a "visited" array for shared and cyclic references.
///
/// # Safety
/// `value` is NULL or a live value.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_node_count(value: *const brinery_value) -> usize {
    // SAFETY: per the contract.
    unsafe { value.as_ref() }.map_or(0, |v| v.tree.len())
}

/// The kind of node `node`, or `BRINERY_KIND_INVALID` when `value` is NULL or `node` is
/// not one of its ids.
///
/// # Safety
/// `value` is NULL or a live value.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_kind(
    value: *const brinery_value,
    node: usize,
) -> brinery_kind {
    // SAFETY: per the contract.
    unsafe { value.as_ref() }
        .and_then(|v| v.tree.try_get(node))
        .map_or(brinery_kind::BRINERY_KIND_INVALID, kind_of)
}

/// Reads a `BRINERY_KIND_BOOL` node into `*out`.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_bool(
    value: *const brinery_value,
    node: usize,
    out: *mut bool,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Bool(b) => put(out, b),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads a `BRINERY_KIND_INT` node into `*out`. A `BRINERY_KIND_BIGINT` node is
/// `BRINERY_WRONG_KIND`: read it with `brinery_value_bigint`.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_int(
    value: *const brinery_value,
    node: usize,
    out: *mut i64,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Int(i) => put(out, i),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads a `BRINERY_KIND_BIGINT` node: `*bytes` points to `*len` bytes of little-endian
/// two's complement (minimal length, as `LONG1`/`LONG4` hold them), owned by the tree.
///
/// # Safety
/// `value` is NULL or a live value; `bytes` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_bigint(
    value: *const brinery_value,
    node: usize,
    bytes: *mut *const u8,
    len: *mut usize,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::BigInt(le) => {
            check_out(len)?;
            put(bytes, le.as_ptr())?;
            put(len, le.len())
        }
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads a `BRINERY_KIND_FLOAT` node into `*out`.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_float(
    value: *const brinery_value,
    node: usize,
    out: *mut f64,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Float(f) => put(out, f),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads a `BRINERY_KIND_STR` node (UTF-8) or `BRINERY_KIND_SURROGATE_STR` node
/// (generalized UTF-8, lone surrogates encoded as 3 bytes): `*utf8` points to `*len`
/// bytes owned by the tree, NOT NUL-terminated (a str may contain NUL).
///
/// # Safety
/// `value` is NULL or a live value; `utf8` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_str(
    value: *const brinery_value,
    node: usize,
    utf8: *mut *const c_char,
    len: *mut usize,
) -> brinery_status {
    access(value, node, |v| {
        let b = match v {
            ValueRef::Str(s) => s.as_bytes(),
            ValueRef::SurrogateStr(b) => b,
            _ => return Err(BRINERY_WRONG_KIND),
        };
        check_out(len)?;
        put(utf8, b.as_ptr().cast())?;
        put(len, b.len())
    })
}

/// Reads a `BRINERY_KIND_BYTES` or `BRINERY_KIND_BYTEARRAY` node: `*data` points to
/// `*len` bytes owned by the tree.
///
/// # Safety
/// `value` is NULL or a live value; `data` and `len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_bytes(
    value: *const brinery_value,
    node: usize,
    data: *mut *const u8,
    len: *mut usize,
) -> brinery_status {
    access(value, node, |v| {
        let b = match v {
            ValueRef::Bytes(b) | ValueRef::ByteArray(b) => b,
            _ => return Err(BRINERY_WRONG_KIND),
        };
        check_out(len)?;
        put(data, b.as_ptr())?;
        put(len, b.len())
    })
}

fn items(v: ValueRef<'_>) -> Result<&[NodeId], brinery_status> {
    match v {
        ValueRef::List(i) | ValueRef::Tuple(i) | ValueRef::Set(i) | ValueRef::FrozenSet(i) => Ok(i),
        ValueRef::Object(o) => Ok(&o.items),
        _ => Err(BRINERY_WRONG_KIND),
    }
}

fn entries(v: ValueRef<'_>) -> Result<&[(NodeId, NodeId)], brinery_status> {
    match v {
        ValueRef::Dict(e) => Ok(e),
        ValueRef::Object(o) => Ok(&o.entries),
        _ => Err(BRINERY_WRONG_KIND),
    }
}

/// Number of items of a list, tuple, set or frozenset node (sets in stream order), or
/// of the items appended to an object node.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_items_len(
    value: *const brinery_value,
    node: usize,
    out: *mut usize,
) -> brinery_status {
    access(value, node, |v| put(out, items(v)?.len()))
}

/// The id of item `i` of a list, tuple, set, frozenset or object node;
/// `BRINERY_INDEX_OUT_OF_RANGE` past the end.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_item(
    value: *const brinery_value,
    node: usize,
    i: usize,
    out: *mut usize,
) -> brinery_status {
    access(value, node, |v| put(out, index(items(v)?, i)?))
}

/// Number of entries of a dict node (stream order), or of the entries set on an object.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_entries_len(
    value: *const brinery_value,
    node: usize,
    out: *mut usize,
) -> brinery_status {
    access(value, node, |v| put(out, entries(v)?.len()))
}

/// The key and value ids of entry `i` of a dict or object node.
///
/// # Safety
/// `value` is NULL or a live value; `key` and `val` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_entry(
    value: *const brinery_value,
    node: usize,
    i: usize,
    key: *mut usize,
    val: *mut usize,
) -> brinery_status {
    access(value, node, |v| {
        let (k, x) = index(entries(v)?, i)?;
        check_out(val)?;
        put(key, k)?;
        put(val, x)
    })
}

/// Reads a `BRINERY_KIND_GLOBAL` node: module and name as UTF-8 pointer and length,
/// owned by the tree, not NUL-terminated.
///
/// # Safety
/// `value` is NULL or a live value; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_global(
    value: *const brinery_value,
    node: usize,
    module: *mut *const c_char,
    module_len: *mut usize,
    name: *mut *const c_char,
    name_len: *mut usize,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Global { module: m, name: n } => {
            check_out(module_len)?;
            check_out(name)?;
            check_out(name_len)?;
            put(module, m.as_ptr().cast())?;
            put(module_len, m.len())?;
            put(name, n.as_ptr().cast())?;
            put(name_len, n.len())
        }
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads a `BRINERY_KIND_OBJECT` node's parts into `*out`.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_object(
    value: *const brinery_value,
    node: usize,
    out: *mut brinery_object,
) -> brinery_status {
    use brinery_object_kind::*;
    access(value, node, |v| match v {
        ValueRef::Object(o) => put(
            out,
            brinery_object {
                kind: match o.kind {
                    ObjectKind::Reduce => BRINERY_OBJECT_REDUCE,
                    ObjectKind::NewObj => BRINERY_OBJECT_NEWOBJ,
                    ObjectKind::NewObjEx => BRINERY_OBJECT_NEWOBJ_EX,
                    ObjectKind::Inst => BRINERY_OBJECT_INST,
                    ObjectKind::Built => BRINERY_OBJECT_BUILT,
                },
                callable: o.callable,
                args: o.args,
                kwargs: o.kwargs.unwrap_or(BRINERY_NO_NODE),
                state_len: o.state.len(),
                items_len: o.items.len(),
                entries_len: o.entries.len(),
            },
        ),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// The id of the `i`-th `BUILD` state applied to an object node.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_object_state(
    value: *const brinery_value,
    node: usize,
    i: usize,
    out: *mut usize,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Object(o) => put(out, index(&o.state, i)?),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// The id of a persistent id node's payload (a str for `PERSID`, any node for
/// `BINPERSID`).
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_persistent_id(
    value: *const brinery_value,
    node: usize,
    out: *mut usize,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::PersistentId(pid) => put(out, pid),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads an extension node's copyreg code.
///
/// # Safety
/// `value` is NULL or a live value; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_extension(
    value: *const brinery_value,
    node: usize,
    out: *mut i32,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Extension(code) => put(out, code),
        _ => Err(BRINERY_WRONG_KIND),
    })
}

/// Reads an out-of-band buffer node: which buffer (`*index`, counting from 0 in the
/// order the stream asks for them) and whether it is read-only.
///
/// # Safety
/// `value` is NULL or a live value; the out pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_value_buffer(
    value: *const brinery_value,
    node: usize,
    index: *mut usize,
    readonly: *mut bool,
) -> brinery_status {
    access(value, node, |v| match v {
        ValueRef::Buffer {
            index: i,
            readonly: r,
        } => {
            check_out(readonly)?;
            put(index, i)?;
            put(readonly, r)
        }
        _ => Err(BRINERY_WRONG_KIND),
    })
}
