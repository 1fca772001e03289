//! The tape's text as one JavaScript string, handed to V8 without a copy when it can be.
//!
//! Node 18.18/20.4 and later export `node_api_create_external_string_latin1` and
//! `..._utf16`: V8 then reads the string from our buffer, which it frees through a
//! finalizer when the last string sliced from it is collected. That saves copying (and
//! page-faulting) megabytes of text on every `loads`. The functions are looked up at run
//! time, so older Node versions (and platforms without `dlsym`) get a copy instead. Not
//! for building the text (see [`crate::tape`]).

use std::ffi::{c_char, c_void};
use std::sync::OnceLock;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::tape::TextParts;

/// `node_api_create_external_string_latin1` and `_utf16` share this shape, but for
/// the unit type of `str` (`char` for Latin-1, passed here as `u8`: same ABI).
type CreateExternal<T> = unsafe extern "C" fn(
    env: sys::napi_env,
    str: *const T,
    length: isize,
    finalize: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void)>,
    hint: *mut c_void,
    result: *mut sys::napi_value,
    copied: *mut bool,
) -> sys::napi_status;

struct Externals {
    latin1: Option<CreateExternal<u8>>,
    utf16: Option<CreateExternal<u16>>,
}

/// Below this many units a copy is as cheap as the bookkeeping of an external string.
const MIN_EXTERNAL: usize = 4096;

fn externals() -> &'static Externals {
    static EXTERNALS: OnceLock<Externals> = OnceLock::new();
    EXTERNALS.get_or_init(|| Externals {
        // SAFETY: both symbols, when Node exports them, have exactly these signatures
        // (node_api.h); a missing symbol gives a null pointer, i.e. `None`.
        latin1: unsafe {
            std::mem::transmute::<*mut c_void, Option<CreateExternal<u8>>>(lookup(
                c"node_api_create_external_string_latin1",
            ))
        },
        // SAFETY: as above.
        utf16: unsafe {
            std::mem::transmute::<*mut c_void, Option<CreateExternal<u16>>>(lookup(
                c"node_api_create_external_string_utf16",
            ))
        },
    })
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn lookup(name: &std::ffi::CStr) -> *mut c_void {
    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }
    // RTLD_DEFAULT: search every object loaded in the process (Node itself included).
    #[cfg(target_os = "linux")]
    let default = std::ptr::null_mut();
    #[cfg(target_os = "macos")]
    let default = -2isize as *mut c_void;
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT is a valid handle.
    unsafe { dlsym(default, name.as_ptr()) }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn lookup(_name: &std::ffi::CStr) -> *mut c_void {
    std::ptr::null_mut()
}

/// Frees a `Vec<T>` boxed by [`external`] once V8 no longer needs its text.
unsafe extern "C" fn free_vec<T>(_env: *mut c_void, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the `Box<Vec<T>>` leaked by `external`, finalized once.
    drop(unsafe { Box::from_raw(hint.cast::<Vec<T>>()) });
}

/// Moves `units` into an external string with `create`; `None` when Node refused (the
/// buffer is then leaked rather than risk freeing it twice: Node does not say whether
/// it ran the finalizer on failure).
fn external<T>(env: &Env, create: CreateExternal<T>, units: Vec<T>) -> Option<sys::napi_value> {
    let len = units.len() as isize;
    let boxed = Box::into_raw(Box::new(units));
    // SAFETY: `boxed` is a live Box just leaked.
    let data = unsafe { (*boxed).as_ptr() };
    let mut out = std::ptr::null_mut();
    let mut copied = false;
    // SAFETY: `data` holds `len` units that stay alive until `free_vec` runs (Node calls
    // it when V8 drops the string, or at once when it copied).
    let status = unsafe {
        create(
            env.raw(),
            data,
            len,
            Some(free_vec::<T>),
            boxed.cast(),
            &mut out,
            &mut copied,
        )
    };
    (status == sys::Status::napi_ok).then_some(out)
}

/// The tape's text as one JS string. A text lent from the graph's `source` (see
/// [`crate::tape::Text`]) is moved into V8 with it when long, else copied from it, and
/// `source` is then left as it was, for reuse.
pub fn js_string<'e>(env: &'e Env, text: TextParts, source: &mut String) -> Result<Unknown<'e>> {
    let ext = externals();
    let raw = match text {
        TextParts::Lent(n) => match ext.latin1 {
            Some(create) if n >= MIN_EXTERNAL => {
                let mut units = std::mem::take(source).into_bytes();
                units.truncate(n);
                external(env, create, units)
            }
            _ => Some(env.create_string_latin1(&source.as_bytes()[..n])?.raw()),
        },
        TextParts::Latin1(latin1) => match ext.latin1 {
            Some(create) if latin1.len() >= MIN_EXTERNAL => external(env, create, latin1),
            _ => Some(env.create_string_latin1(&latin1)?.raw()),
        },
        TextParts::Utf16(utf16) => match ext.utf16 {
            Some(create) if utf16.len() >= MIN_EXTERNAL => external(env, create, utf16),
            _ => Some(env.create_string_utf16(&utf16)?.raw()),
        },
    };
    let raw = raw.ok_or_else(|| Error::from_reason("cannot create the text string"))?;
    // SAFETY: `raw` is a string value of this env.
    unsafe { Unknown::from_napi_value(env.raw(), raw) }
}
