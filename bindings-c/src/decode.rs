//! Decoding from C: `brinery_loads` and its options (`brinery_decode_options`): the
//! decoder limits, how Python 2 strings are read, and the globals allowlist. Not for the
//! decoder itself or the allowlist rule (both the core's: `brinery_core::Allowlist`).

use std::ffi::{c_char, CStr};

use brinery_core::decode::decode_prefix;
use brinery_core::{Allowlist, DecodeOptions, Limits, Py2Strings, Tree};

use crate::error::{brinery_error, brinery_status::*, guard_value, Error};
use crate::memory::input;
use crate::value::brinery_value;

/// How Python 2 `str` opcodes are decoded, as `pickle.loads(encoding=...)`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum brinery_py2_strings {
    /// ASCII; other bytes are an error (`pickle`'s default).
    BRINERY_PY2_ASCII = 0,
    /// Latin-1: every byte is a code point.
    BRINERY_PY2_LATIN1 = 1,
    /// Keep as `bytes`.
    BRINERY_PY2_BYTES = 2,
}

/// Options for `brinery_loads` and `brinery_pickle_to_json`. Start from
/// `brinery_decode_options_default()` and change fields; passing NULL instead of
/// options means those defaults.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct brinery_decode_options {
    /// Deepest container nesting accepted; 0 means the default (10,000). A recursive
    /// walk of the result (skipping visited nodes) stays within this many levels.
    pub max_depth: usize,
    /// Most memo entries a stream may create; 0 means the default: the stream's length
    /// in bytes, 16 at least (as every brinery binding).
    pub max_memo: usize,
    /// Most bytes the decoder may allocate for values; 0 means the default: 1 MiB + 64
    /// bytes per byte of the stream (as every brinery binding). `SIZE_MAX` lifts it.
    pub max_alloc: usize,
    /// A `brinery_py2_strings` value (an int so that any value is safe to pass; others
    /// are `BRINERY_INVALID_ARGUMENT`).
    pub py2_strings: u32,
    /// Map Python 2 module names to Python 3 ones (`fix_imports`); default true.
    pub fix_imports: bool,
    /// Keep the reductions CPython writes for plain data (`_codecs.encode` for bytes
    /// below protocol 3, `set([...])` below 4, ...) as object nodes instead of turning
    /// them into bytes, sets and so on. Default false.
    pub keep_reductions: bool,
    /// Number of out-of-band buffers the caller will supply (protocol 5); a stream
    /// asking for more is an error. Default 0.
    pub buffers: usize,
    /// When true, only globals in `allowed_globals` may appear in the stream; any other
    /// global (or a copyreg extension code) fails the call with
    /// `BRINERY_FORBIDDEN_GLOBAL`, a message naming it and the byte offset of the opcode
    /// that names it. Default false: globals become inert nodes, nothing is run.
    pub restrict_globals: bool,
    /// `allowed_globals_len` NUL-terminated UTF-8 strings `"module.name"`, or
    /// `"module.*"` for a module's own public top-level names (no dot, no leading
    /// underscore: `"uuid.*"` admits `uuid.UUID`, not `uuid.os.system`). The same rule
    /// as every brinery binding. Read during the call only.
    pub allowed_globals: *const *const c_char,
    /// Number of strings in `allowed_globals`.
    pub allowed_globals_len: usize,
}

/// The default options: default limits (the limits every brinery binding derives from
/// the stream's length), ASCII Python 2 strings, `fix_imports` on, no buffers, globals
/// unrestricted.
#[no_mangle]
pub extern "C" fn brinery_decode_options_default() -> brinery_decode_options {
    brinery_decode_options {
        max_depth: 0,
        max_memo: 0,
        max_alloc: 0,
        py2_strings: brinery_py2_strings::BRINERY_PY2_ASCII as u32,
        fix_imports: true,
        keep_reductions: false,
        buffers: 0,
        restrict_globals: false,
        allowed_globals: std::ptr::null(),
        allowed_globals_len: 0,
    }
}

/// Decodes with C options (NULL for the defaults), then applies the allowlist.
///
/// # Safety
/// `opts` is NULL or valid, with `allowed_globals_len` readable C strings.
pub unsafe fn decode_with(data: &[u8], opts: *const brinery_decode_options) -> Result<Tree, Error> {
    // SAFETY: per the contract.
    let core_opts = unsafe { core_options(data, opts) }?;
    let (tree, used) = decode_prefix(data, &core_opts)?;
    check_decoded(&tree, &core_opts, used)?;
    Ok(tree)
}

/// The core's options for C options `opts` (NULL for the defaults) and a stream of
/// `data.len()` bytes.
///
/// # Safety
/// As [`decode_with`].
pub unsafe fn core_options(
    data: &[u8],
    opts: *const brinery_decode_options,
) -> Result<DecodeOptions, Error> {
    let defaults = brinery_decode_options_default();
    // SAFETY: per the contract.
    let opts = unsafe { opts.as_ref() }.unwrap_or(&defaults);
    let base = Limits::for_input(data.len());
    let pick = |v: usize, d: usize| if v == 0 { d } else { v };
    let mut core_opts = DecodeOptions::new();
    core_opts.limits = Limits {
        max_depth: pick(opts.max_depth, base.max_depth),
        max_memo: pick(opts.max_memo, base.max_memo),
        max_alloc: pick(opts.max_alloc, base.max_alloc),
    };
    core_opts.py2_strings = match opts.py2_strings {
        0 => Py2Strings::Ascii,
        1 => Py2Strings::Latin1,
        2 => Py2Strings::Bytes,
        n => {
            return Err(Error::new(
                BRINERY_INVALID_ARGUMENT,
                format!("py2_strings {n} is not a brinery_py2_strings"),
            ))
        }
    };
    core_opts.buffers = (opts.buffers > 0).then_some(opts.buffers);
    core_opts.fix_imports = opts.fix_imports;
    core_opts.keep_reductions = opts.keep_reductions;
    if opts.restrict_globals {
        // SAFETY: per the contract.
        core_opts.allow = Some(unsafe { allowlist(opts) }?);
    }
    Ok(core_opts)
}

/// The checks a decoded tree passes before a caller sees it: nesting within the depth
/// limit, and every global and extension admitted by the allowlist (if any) of
/// `core_opts`. `used` is the stream's length up to `STOP`, which errors point at.
pub fn check_decoded(tree: &Tree, core_opts: &DecodeOptions, used: usize) -> Result<(), Error> {
    let max_depth = core_opts.limits.max_depth;
    if tree.nests_deeper_than(max_depth) {
        return Err(Error::new(
            BRINERY_DECODE_TOO_DEEP,
            format!("nesting deeper than the limit of {max_depth}"),
        ));
    }
    if let Some(allow) = &core_opts.allow {
        allow.check_tree(tree, used - 1)?;
    }
    Ok(())
}

/// The allocation limit `opts` sets for a stream of `len` bytes (its `max_alloc`, or
/// the default for 0 or NULL options), which also bounds what is made from the decoded
/// value (JSON text).
pub fn alloc_limit(opts: Option<&brinery_decode_options>, len: usize) -> usize {
    match opts {
        Some(o) if o.max_alloc != 0 => o.max_alloc,
        _ => Limits::for_input(len).max_alloc,
    }
}

/// # Safety
/// As [`decode_with`].
unsafe fn allowlist(opts: &brinery_decode_options) -> Result<Allowlist, Error> {
    if opts.allowed_globals_len == 0 {
        return Ok(Allowlist::default());
    }
    if opts.allowed_globals.is_null() {
        return Err(Error::null("allowed_globals"));
    }
    // SAFETY: the caller gives `allowed_globals_len` pointers.
    let ptrs =
        unsafe { std::slice::from_raw_parts(opts.allowed_globals, opts.allowed_globals_len) };
    let mut names = Vec::with_capacity(ptrs.len());
    for (i, &p) in ptrs.iter().enumerate() {
        if p.is_null() {
            return Err(Error::null(&format!("allowed_globals[{i}]")));
        }
        // SAFETY: each entry is a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
            Error::new(
                BRINERY_INVALID_UTF8,
                format!("allowed_globals[{i}] is not utf-8"),
            )
        })?;
        names.push(name);
    }
    Ok(Allowlist::new(names))
}

/// Decodes the pickle in `data[0..len]` into a new value tree. Bytes after `STOP` are
/// ignored, as `pickle.loads` ignores them. Nothing in the stream is executed.
///
/// Returns the tree, owned by the caller and freed with `brinery_value_free`, or NULL
/// on failure with `*err` filled in: the `BRINERY_DECODE_*` codes carry the byte offset
/// where the stream went wrong (except `BRINERY_DECODE_TOO_DEEP` found in the finished
/// tree); `BRINERY_FORBIDDEN_GLOBAL` names the global and carries the offset of the
/// opcode that names it;
/// `BRINERY_INVALID_ARGUMENT` for a `py2_strings` out of range; `BRINERY_NULL_ARGUMENT`
/// when `data` is NULL and `len` is not 0, or an allowlist pointer is NULL.
///
/// # Safety
/// `data` points to `len` readable bytes (or is NULL with `len == 0`); `opts` is NULL
/// or valid for the call; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_loads(
    data: *const u8,
    len: usize,
    opts: *const brinery_decode_options,
    err: *mut brinery_error,
) -> *mut brinery_value {
    guard_value(err, std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        let data = unsafe { input(data, len, "data") }?;
        // SAFETY: per the contract.
        let tree = unsafe { decode_with(data, opts) }?;
        Ok(Box::into_raw(Box::new(brinery_value { tree })))
    })
}
