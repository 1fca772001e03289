//! The [`Builder`] trait: what the decode machine calls to make values, so a host can
//! receive a stream's values as they are decoded, in its own representation, instead of
//! walking a [`Tree`](crate::value::Tree) afterwards. The tree is one implementation
//! (`decode/tree_builder.rs`); [`decode_with`](crate::decode::decode_with) runs the
//! machine with any other.
//!
//! Not for validating input: the machine does every check (opcode arguments, stack and
//! mark discipline, kinds of operands, memo keys, every [`Limits`](crate::Limits) bound)
//! *before* it calls the builder, and reports failures itself as a
//! [`DecodeError`](crate::DecodeError) at the offset of the failing opcode. A builder
//! method is only ever called with handles the same builder returned during the same
//! decode, in a state the machine has checked, so builder methods are infallible.

/// What a value is, as far as the machine's checks are concerned. A builder reports it
/// for every handle it returned ([`Builder::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    None,
    Bool,
    Int,
    BigInt,
    Float,
    Str,
    SurrogateStr,
    Bytes,
    ByteArray,
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
    Global,
    Object,
    PersistentId,
    Extension,
    Buffer,
}

impl ValueKind {
    /// Kinds a stream may call (`REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `OBJ`): a global, an
    /// object, an extension or a persistent id; never a plain value.
    pub fn may_be_callable(self) -> bool {
        matches!(
            self,
            ValueKind::Global | ValueKind::Object | ValueKind::Extension | ValueKind::PersistentId
        )
    }
}

/// What a builder kept of a value, for the few opcodes whose meaning depends on it
/// ([`Builder::contents`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Contents<'a, H> {
    /// The text of a `Str` value.
    Str(&'a str),
    /// The payload of a `Bytes` value.
    Bytes(&'a [u8]),
    /// The names of a `Global` value.
    Global { module: &'a str, name: &'a str },
    /// The items of a `List`, `Tuple`, `Set` or `FrozenSet` value, in order.
    Items(&'a [H]),
    /// The entries of a `Dict` value, in order.
    Entries(&'a [(H, H)]),
    /// Nothing kept (or a kind the machine never asks about).
    Opaque,
}

/// Receives the values of a stream as the machine decodes them.
///
/// # Handles
/// Every constructor returns a [`Builder::Handle`], a cheap copyable name for the new
/// value (an index into the builder's arena, typically). The machine keeps handles on
/// its stack and in its memo and passes them back as operands: a container's items, a
/// call's callable and arguments, the target of `APPEND`, `SETITEM` or `BUILD`.
///
/// # Shared references and cycles
/// The memo (`PUT`/`GET` and friends) makes the machine hand the *same* handle to
/// several places: a value the stream references twice is one handle used twice, never
/// a copy, so the builder sees sharing exactly. Cycles arise because containers are
/// created empty and filled later: `EMPTY_LIST`, `PUT`, ..., `GET` of that list,
/// `APPENDS` into it makes a list that contains itself. A builder that walks its values
/// recursively must therefore remember what it visited. Scalars (`None`, bools, ints,
/// floats) may also be memoized and referenced twice; they are immutable, so a builder
/// may treat such handles as plain copies.
///
/// # Mutation after creation
/// Lists, sets, dicts and objects are filled by [`Builder::extend`] and
/// [`Builder::set_items`] after creation, possibly after they were already used as an
/// item of another container (or of themselves), and [`Builder::build`] applies `BUILD`
/// state to any value in place. A builder that emits values eagerly must account for
/// that: the value a handle names is only final at the end of the decode.
///
/// # Calls and reductions
/// No code is ever run. `REDUCE`, `NEWOBJ`, `NEWOBJ_EX`, `INST` and `OBJ` become
/// [`Builder::object`] values, except the pure reductions CPython writes for plain data
/// (`_codecs.encode(str, 'latin1')`, `bytes(...)`, `bytearray(...)`, `set(list)`,
/// `frozenset(list)`, Python 2's `copy_reg._reconstructor` and `list`/`tuple`/`dict`
/// through `INST`/`OBJ`), which the machine lowers to the plain value they produce
/// (calling [`Builder::bytes`], [`Builder::set`] and so on) unless
/// [`DecodeOptions::keep_reductions`](crate::DecodeOptions::keep_reductions) is set. To
/// recognise them it reads back [`Builder::contents`] of the callable and arguments; a
/// builder that answers [`Contents::Opaque`] for them gets the object instead.
///
/// # Limits and errors
/// The machine charges every value against
/// [`Limits::max_alloc`](crate::Limits::max_alloc) with a fixed cost model (payload
/// bytes, plus 48 bytes per value and 8 per container slot on 64-bit targets),
/// independent of what the
/// builder really allocates, and checks it before calling the builder; likewise
/// `max_depth` (open `MARK`s) and `max_memo`. So the same stream fails with the same
/// [`DecodeError`](crate::DecodeError) (kind and byte offset) whatever the builder, as
/// long as it answers [`Builder::contents`] fully (one that keeps less gets objects for
/// pure reductions, which the model charges differently). When
/// decoding fails, the builder has received part of the stream's values: discard them.
/// The machine never recurses, so 100,000-deep nesting reaches the builder as 100,000
/// flat calls; only the builder's own walks need a depth bound.
pub trait Builder {
    /// The builder's name for a value it made.
    type Handle: Copy;

    /// `None` (`NONE`).
    fn none(&mut self) -> Self::Handle;
    /// `True`/`False` (`NEWTRUE`, `NEWFALSE`, `INT` with `01`/`00`).
    fn bool(&mut self, v: bool) -> Self::Handle;
    /// An int that fits in 64 bits (`BININT*`, `INT`, `LONG`, `LONG1`, `LONG4`).
    fn int(&mut self, v: i64) -> Self::Handle;
    /// An int beyond 64 bits: little-endian two's complement, minimal length (more than
    /// 8 bytes), as `LONG1` holds it.
    fn big_int(&mut self, le: &[u8]) -> Self::Handle;
    /// A float (`BINFLOAT`, `FLOAT`).
    fn float(&mut self, v: f64) -> Self::Handle;
    /// A `str` (the `*UNICODE` opcodes, Python 2 str decoded as ASCII or Latin-1, and
    /// characters of `list("...")` lowered).
    fn str(&mut self, s: &str) -> Self::Handle;
    /// A `str` holding lone surrogates, as generalized UTF-8 (Python's `surrogatepass`).
    fn surrogate_str(&mut self, wtf8: &[u8]) -> Self::Handle;
    /// `bytes` (the `*BINBYTES*` opcodes, Python 2 str kept as bytes, lowered
    /// `_codecs.encode`/`bytes(...)`).
    fn bytes(&mut self, b: &[u8]) -> Self::Handle;
    /// `bytearray` (`BYTEARRAY8`, lowered `bytearray(...)`).
    fn byte_array(&mut self, b: &[u8]) -> Self::Handle;

    /// A `list` with these items: `[]` for `EMPTY_LIST`, the marked items for `LIST`.
    fn list(&mut self, items: &[Self::Handle]) -> Self::Handle;
    /// A `tuple` with these items (`EMPTY_TUPLE`, `TUPLE`, `TUPLE1`-`TUPLE3`, and the
    /// argument tuples of `INST`/`OBJ`). Tuples are never mutated afterwards.
    fn tuple(&mut self, items: &[Self::Handle]) -> Self::Handle;
    /// A `dict` with these entries, flattened as key, value, key, value (`EMPTY_DICT`,
    /// `DICT`). Keys are in stream order and may repeat; the last one wins in Python.
    fn dict(&mut self, pairs: &[Self::Handle]) -> Self::Handle;
    /// A `set` with these items (`EMPTY_SET`, lowered `set(...)`).
    fn set(&mut self, items: &[Self::Handle]) -> Self::Handle;
    /// A `frozenset` with these items (`FROZENSET`, lowered `frozenset(...)`).
    fn frozen_set(&mut self, items: &[Self::Handle]) -> Self::Handle;

    /// Appends items to `target` (`APPEND`, `APPENDS` on a list or an object; `ADDITEMS`
    /// on a set or an object). The machine has checked the kind: `target` is a `List` or
    /// an `Object` for `APPEND(S)`, a `Set` or an `Object` for `ADDITEMS`.
    fn extend(&mut self, target: Self::Handle, items: &[Self::Handle]);
    /// Adds entries, flattened as key, value, ..., to `target`, a `Dict` or an `Object`
    /// (`SETITEM`, `SETITEMS`).
    fn set_items(&mut self, target: Self::Handle, pairs: &[Self::Handle]);

    /// A reference to `module.name` (`GLOBAL`, `STACK_GLOBAL`, the class of `INST`),
    /// after `fix_imports` mapped Python 2 names.
    fn global(&mut self, module: &str, name: &str) -> Self::Handle;
    /// A call the stream asks for: `callable(*args)` (`REDUCE`, `INST`, `OBJ`),
    /// `callable.__new__(callable, *args)` (`NEWOBJ`) or with `**kwargs` (`NEWOBJ_EX`).
    /// `args` is a `Tuple`, `kwargs` a `Dict`, `callable` a kind for which
    /// [`ValueKind::may_be_callable`] holds.
    fn object(
        &mut self,
        kind: crate::value::ObjectKind,
        callable: Self::Handle,
        args: Self::Handle,
        kwargs: Option<Self::Handle>,
    ) -> Self::Handle;
    /// `BUILD`: applies `state` to `target`, which stays the same handle (memo
    /// references to it see the result). On an `Object` the state is recorded with the
    /// object; any other value becomes, in place, an object of kind
    /// [`ObjectKind::Built`](crate::ObjectKind::Built) whose callable is the old value.
    /// After this call `target`'s kind is `Object`.
    fn build(&mut self, target: Self::Handle, state: Self::Handle);
    /// `h` became an object at the opcode at `offset` (the call that made it, or the
    /// `BUILD` that turned a plain value into one). A host that reports errors about
    /// objects after decoding keeps it; by default it is forgotten.
    fn object_at(&mut self, _h: Self::Handle, _offset: usize) {}
    /// A persistent id for the host to resolve: `pid` is a `Str` for `PERSID`, any
    /// value for `BINPERSID`.
    fn persistent_id(&mut self, pid: Self::Handle) -> Self::Handle;
    /// A copyreg extension code, positive (`EXT1`, `EXT2`, `EXT4`).
    fn extension(&mut self, code: i32) -> Self::Handle;
    /// The `index`-th out-of-band buffer the host supplied (`NEXT_BUFFER`); the machine
    /// has checked `index` against [`DecodeOptions::buffers`](crate::DecodeOptions).
    fn buffer(&mut self, index: usize) -> Self::Handle;
    /// `READONLY_BUFFER` on a `Buffer` value: marks it read-only. (On bytes, bytearray,
    /// globals, objects, extensions and persistent ids the opcode is a no-op and the
    /// builder is not called.)
    fn readonly(&mut self, buffer: Self::Handle);

    /// The kind of a value this builder made. Must reflect [`Builder::build`].
    fn kind(&self, h: Self::Handle) -> ValueKind;
    /// What the builder kept of a value. The machine asks only about a `STACK_GLOBAL`'s
    /// operands (which must give [`Contents::Str`] for `Str` values, or the stream fails
    /// with a type error) and about the callable and arguments of a call it may lower
    /// (see above).
    fn contents(&self, h: Self::Handle) -> Contents<'_, Self::Handle>;

    /// True once the builder could not get memory for a value (it then hands out a
    /// stand-in handle): the machine checks after every opcode and fails the decode
    /// with `OUT_OF_MEMORY` at that opcode, whatever else the stand-in made it report.
    /// Builders that allocate infallibly keep the default.
    #[inline(always)]
    fn out_of_memory(&self) -> bool {
        false
    }
}
