//! Safe wrappers over the few raw Node-API calls [`crate::encode`] makes while reading
//! the tape of a value: its text buffer, and the Uint8Arrays and BigInts beside it. Each wrapper
//! checks the status and turns a failure into a [`Failure`]; a JS exception thrown by a
//! getter or an iterator stays pending and is rethrown as is. Not for creating values
//! (the tape and napi-rs do that).

use napi::sys::{self, napi_env, napi_value};

use crate::error::{Code, Failure, Fallible};

/// A Node-API environment for the duration of one call.
#[derive(Clone, Copy)]
pub struct Js {
    pub env: napi_env,
}

fn check(status: sys::napi_status, what: &str) -> Fallible<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(Failure::new(
            Code::UnsupportedType,
            format!("cannot read {what} (napi status {status})"),
        ))
    }
}

impl Js {
    /// A BigInt as its sign and 64-bit words, least significant first.
    pub fn bigint(self, v: napi_value) -> Fallible<(bool, Vec<u64>)> {
        let mut sign = 0;
        let mut count = 0;
        // SAFETY: a null words pointer asks for the word count only.
        check(
            unsafe {
                sys::napi_get_value_bigint_words(
                    self.env,
                    v,
                    std::ptr::null_mut(),
                    &mut count,
                    std::ptr::null_mut(),
                )
            },
            "a BigInt",
        )?;
        let mut words = vec![0u64; count];
        // SAFETY: `words` has room for `count` words.
        check(
            unsafe {
                sys::napi_get_value_bigint_words(
                    self.env,
                    v,
                    &mut sign,
                    &mut count,
                    words.as_mut_ptr(),
                )
            },
            "a BigInt",
        )?;
        words.truncate(count);
        Ok((sign != 0, words))
    }

    /// The bytes of a `Uint8Array` (a `Buffer` is one), or `None` for anything else.
    /// The slice is valid while `v` is alive and not detached: use it at once.
    pub fn uint8_bytes<'a>(self, v: napi_value) -> Fallible<Option<&'a [u8]>> {
        let mut b = false;
        // SAFETY: as in `kind`.
        check(
            unsafe { sys::napi_is_typedarray(self.env, v, &mut b) },
            "a typed array",
        )?;
        if !b {
            return Ok(None);
        }
        let (mut ty, mut len, mut data) = (0, 0, std::ptr::null_mut());
        let mut ab = std::ptr::null_mut();
        let mut offset = 0;
        // SAFETY: `v` is a typed array; all out pointers are valid.
        check(
            unsafe {
                sys::napi_get_typedarray_info(
                    self.env,
                    v,
                    &mut ty,
                    &mut len,
                    &mut data,
                    &mut ab,
                    &mut offset,
                )
            },
            "a typed array",
        )?;
        use sys::TypedarrayType as T;
        if ty != T::uint8_array && ty != T::uint8_clamped_array {
            return Err(Failure::new(
                Code::UnsupportedType,
                "typed arrays other than Uint8Array cannot be pickled",
            ));
        }
        if len == 0 || data.is_null() {
            return Ok(Some(&[]));
        }
        // SAFETY: Node reports `len` bytes at `data`, alive as long as `v`.
        Ok(Some(unsafe {
            std::slice::from_raw_parts(data as *const u8, len)
        }))
    }

    pub fn element(self, v: napi_value, i: u32) -> Fallible<napi_value> {
        let mut out = std::ptr::null_mut();
        // SAFETY: as in `kind`.
        check(
            unsafe { sys::napi_get_element(self.env, v, i, &mut out) },
            "an element",
        )?;
        Ok(out)
    }

    /// True when a JS exception is pending (thrown by a getter or an iterator).
    pub fn exception_pending(self) -> bool {
        let mut b = false;
        // SAFETY: valid out pointer.
        unsafe { sys::napi_is_exception_pending(self.env, &mut b) };
        b
    }
}
