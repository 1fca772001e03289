//! Encoding from C: a builder (`brinery_encoder`) that a program drives with pushes and
//! begin/end pairs, producing a pickle that stock `pickle.loads` reads. The calls build
//! a tree (the core's `build::TreeBuilder`), which `brinery_encoder_finish` encodes. Misuse
//! (an unbalanced end, a dict key without a value, an unhashable key, a second top-level
//! value, calls after finish) returns an error code and changes nothing; it never
//! crashes.

use std::ffi::c_char;

use brinery_core::{encode_tree, try_alloc, Value};

use crate::error::{brinery_error, brinery_status, brinery_status::*, guard_value, Error};
use crate::json::check_protocol;
use crate::memory::{brinery_bytes, input, input_str};
use brinery_core::build::{Container, TreeBuilder as Builder};

/// A pickle under construction. Created by `brinery_encoder_new`, freed with
/// `brinery_encoder_free` (also after `brinery_encoder_finish`). Not thread-safe: use
/// one encoder from one thread at a time.
#[allow(non_camel_case_types)]
pub struct brinery_encoder {
    protocol: u8,
    /// `None` once finished.
    builder: Option<Builder>,
}

/// A new encoder writing `protocol` (0 to 5; 4 is `pickle.dumps`' default; 5 adds
/// out-of-band buffers, which the builder does not write). Returns NULL for a protocol
/// out of range. The caller frees it with `brinery_encoder_free`.
#[no_mangle]
pub extern "C" fn brinery_encoder_new(protocol: i32) -> *mut brinery_encoder {
    match check_protocol(protocol) {
        Ok(protocol) => Box::into_raw(Box::new(brinery_encoder {
            protocol,
            builder: Some(Builder::new()),
        })),
        Err(_) => std::ptr::null_mut(),
    }
}

/// Frees an encoder, finished or not. NULL does nothing.
///
/// # Safety
/// `enc` is NULL or an encoder from `brinery_encoder_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_free(enc: *mut brinery_encoder) {
    if enc.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: from Box::into_raw in brinery_encoder_new, freed once per the contract.
        drop(unsafe { Box::from_raw(enc) });
    });
}

/// Runs a builder call with the checks every push shares.
fn with_builder(
    enc: *mut brinery_encoder,
    call: impl FnOnce(&mut Builder) -> Result<(), Error>,
) -> brinery_status {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `enc` is NULL or a live encoder used by one thread (documented).
        let Some(enc) = (unsafe { enc.as_mut() }) else {
            return BRINERY_NULL_ARGUMENT;
        };
        let Some(builder) = enc.builder.as_mut() else {
            return BRINERY_BUILDER_FINISHED;
        };
        match call(builder) {
            Ok(()) => BRINERY_OK,
            Err(e) => e.code,
        }
    }))
    .unwrap_or(BRINERY_INTERNAL)
}

fn push(enc: *mut brinery_encoder, value: Value) -> brinery_status {
    with_builder(enc, |b| b.push(value).map(drop).map_err(Error::from))
}

/// What a push returns when the copy of the caller's data gets no memory: the push
/// fails, the program goes on (see `brinery_core::try_alloc`).
const NO_MEMORY: brinery_status = BRINERY_ENCODE_OUT_OF_MEMORY;

/// Pushes `None`. Every push adds the next item of the innermost open container (for
/// a dict: key, value, key, value...), or the top-level value when none is open.
///
/// Returns `BRINERY_OK`, `BRINERY_NULL_ARGUMENT`, `BRINERY_BUILDER_SECOND_ROOT` when a
/// top-level value was already pushed, or `BRINERY_BUILDER_FINISHED`; a failed push
/// changes nothing. The other pushes return the same codes and their own.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_none(enc: *mut brinery_encoder) -> brinery_status {
    push(enc, Value::None)
}

/// Pushes `True` or `False`.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_bool(
    enc: *mut brinery_encoder,
    v: bool,
) -> brinery_status {
    push(enc, Value::Bool(v))
}

/// Pushes an int.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_int(
    enc: *mut brinery_encoder,
    v: i64,
) -> brinery_status {
    push(enc, Value::Int(v))
}

/// Pushes an int of any size given as `len` bytes of little-endian two's complement
/// (copied). `len == 0` is 0.
///
/// # Safety
/// `enc` is NULL or a live encoder; `le` points to `len` readable bytes (or is NULL
/// with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_bigint(
    enc: *mut brinery_encoder,
    le: *const u8,
    len: usize,
) -> brinery_status {
    // SAFETY: per the contract.
    match unsafe { input(le, len, "le") } {
        Ok(le) => {
            let le = brinery_core::pyfmt::trim_le(le);
            let value = if le.len() <= 8 {
                Value::Int(brinery_core::pyfmt::le_to_i64(le))
            } else {
                match try_alloc::copy(le) {
                    Some(le) => Value::BigInt(le),
                    None => return NO_MEMORY,
                }
            };
            push(enc, value)
        }
        Err(e) => e.code,
    }
}

/// Pushes a float.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_float(
    enc: *mut brinery_encoder,
    v: f64,
) -> brinery_status {
    push(enc, Value::Float(v))
}

/// Pushes a `str` from `len` bytes of UTF-8 (copied; may contain NUL). Invalid UTF-8
/// is `BRINERY_INVALID_UTF8`.
///
/// # Safety
/// `enc` is NULL or a live encoder; `utf8` points to `len` readable bytes (or is NULL
/// with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_str(
    enc: *mut brinery_encoder,
    utf8: *const c_char,
    len: usize,
) -> brinery_status {
    // SAFETY: per the contract.
    match unsafe { input_str(utf8, len, "utf8") } {
        Ok(s) => match try_alloc::string(s) {
            Some(s) => push(enc, Value::Str(s)),
            None => NO_MEMORY,
        },
        Err(e) => e.code,
    }
}

/// Pushes `bytes` (copied). Below protocol 3 they are written as CPython writes them
/// (`_codecs.encode(text, "latin1")`), which Python 3 loads back as `bytes`.
///
/// # Safety
/// `enc` is NULL or a live encoder; `data` points to `len` readable bytes (or is NULL
/// with `len == 0`).
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_bytes(
    enc: *mut brinery_encoder,
    data: *const u8,
    len: usize,
) -> brinery_status {
    // SAFETY: per the contract.
    match unsafe { input(data, len, "data") } {
        Ok(b) => match try_alloc::copy(b) {
            Some(b) => push(enc, Value::Bytes(b)),
            None => NO_MEMORY,
        },
        Err(e) => e.code,
    }
}

/// Pushes a reference to the global `module.name` (both UTF-8, copied), such as
/// `collections` / `OrderedDict`. Loading the pickle imports it.
///
/// # Safety
/// `enc` is NULL or a live encoder; each string points to its length in readable bytes.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_push_global(
    enc: *mut brinery_encoder,
    module: *const c_char,
    module_len: usize,
    name: *const c_char,
    name_len: usize,
) -> brinery_status {
    // SAFETY: per the contract.
    let parts = unsafe {
        (
            input_str(module, module_len, "module"),
            input_str(name, name_len, "name"),
        )
    };
    match parts {
        (Ok(m), Ok(n))
            if !(m.is_empty() || n.is_empty() || m.contains('\n') || n.contains('\n')) =>
        {
            push(
                enc,
                Value::Global {
                    module: m.to_owned(),
                    name: n.to_owned(),
                },
            )
        }
        (Err(e), _) | (_, Err(e)) => e.code,
        _ => BRINERY_INVALID_ARGUMENT,
    }
}

fn begin(enc: *mut brinery_encoder, kind: Container) -> brinery_status {
    with_builder(enc, |b| b.begin(kind).map(drop).map_err(Error::from))
}

fn end(enc: *mut brinery_encoder, kind: Container) -> brinery_status {
    with_builder(enc, |b| b.end(kind).map(drop).map_err(Error::from))
}

/// Opens a list; the pushes that follow are its items until `brinery_encoder_end_list`.
/// `BRINERY_BUILDER_TOO_DEEP` beyond 10,000 open containers.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_begin_list(enc: *mut brinery_encoder) -> brinery_status {
    begin(enc, Container::List)
}

/// Closes the innermost container, which must be a list (else
/// `BRINERY_BUILDER_UNBALANCED`, changing nothing).
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_end_list(enc: *mut brinery_encoder) -> brinery_status {
    end(enc, Container::List)
}

/// Opens a tuple.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_begin_tuple(enc: *mut brinery_encoder) -> brinery_status {
    begin(enc, Container::Tuple)
}

/// Closes the innermost container, which must be a tuple.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_end_tuple(enc: *mut brinery_encoder) -> brinery_status {
    end(enc, Container::Tuple)
}

/// Opens a dict; push key, value, key, value...
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_begin_dict(enc: *mut brinery_encoder) -> brinery_status {
    begin(enc, Container::Dict)
}

/// Closes the innermost container, which must be a dict with as many values as keys
/// (else `BRINERY_BUILDER_ODD_DICT`) and hashable keys (else
/// `BRINERY_BUILDER_UNHASHABLE`: a list, dict, set or bytearray key, or a tuple holding
/// one).
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_end_dict(enc: *mut brinery_encoder) -> brinery_status {
    end(enc, Container::Dict)
}

/// Opens a set.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_begin_set(enc: *mut brinery_encoder) -> brinery_status {
    begin(enc, Container::Set)
}

/// Closes the innermost container, which must be a set of hashable items.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_end_set(enc: *mut brinery_encoder) -> brinery_status {
    end(enc, Container::Set)
}

/// Opens a frozenset.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_begin_frozenset(
    enc: *mut brinery_encoder,
) -> brinery_status {
    begin(enc, Container::FrozenSet)
}

/// Closes the innermost container, which must be a frozenset of hashable items.
///
/// # Safety
/// `enc` is NULL or a live encoder.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_end_frozenset(
    enc: *mut brinery_encoder,
) -> brinery_status {
    end(enc, Container::FrozenSet)
}

/// Encodes what was pushed. Needs exactly one top-level value and every container
/// closed (else `BRINERY_BUILDER_INCOMPLETE`, and the encoder stays usable: close the
/// containers and call again). On success the encoder is spent: later calls return
/// `BRINERY_BUILDER_FINISHED`; free it with `brinery_encoder_free` either way.
///
/// Returns the pickle, owned by the caller and freed with `brinery_bytes_free`; on
/// failure `data` is NULL and `*err` says why (`BRINERY_ENCODE_*` from the encoder).
///
/// # Safety
/// `enc` is NULL or a live encoder; `err` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn brinery_encoder_finish(
    enc: *mut brinery_encoder,
    err: *mut brinery_error,
) -> brinery_bytes {
    guard_value(err, brinery_bytes::NULL, || {
        // SAFETY: per the contract.
        let enc = unsafe { enc.as_mut() }.ok_or_else(|| Error::null("enc"))?;
        let builder = enc
            .builder
            .as_ref()
            .ok_or_else(|| Error::new(BRINERY_BUILDER_FINISHED, "encoder already finished"))?;
        if builder.depth() > 0 {
            return Err(Error::new(
                BRINERY_BUILDER_INCOMPLETE,
                format!("{} containers still open", builder.depth()),
            ));
        }
        let tree = enc.builder.take().expect("checked above").finish();
        let tree = match tree {
            Ok(tree) => tree,
            Err(e) => {
                enc.builder = Some(Builder::new());
                return Err(e.into());
            }
        };
        Ok(brinery_bytes::from_vec(encode_tree(&tree, enc.protocol)?))
    })
}
