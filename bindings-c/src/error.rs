//! Status codes, the `brinery_error` struct, and the one place where core, JSON and
//! builder errors become C errors. Also the guard every exported function runs its body
//! in, so that no Rust panic crosses into C.
//!
//! Ownership rule: a `brinery_error` owns nothing. Its message is a fixed-size,
//! NUL-terminated buffer inside the struct, so an error never needs freeing and an error
//! path cannot leak. Not for errors of the decoder itself: those live in the core.

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use brinery_core::build::BuildError;
use brinery_core::json::{JsonError, JsonErrorKind};
use brinery_core::{DecodeError, DecodeErrorKind, EncodeError};

/// Size of `brinery_error.message`, terminating NUL included.
pub const BRINERY_MESSAGE_SIZE: usize = 256;

/// What a call did. `BRINERY_OK` is 0; every other value is an error, and the values
/// are fixed (never renumbered) so programs may store them.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum brinery_status {
    /// Success.
    BRINERY_OK = 0,

    /// A required pointer argument was NULL.
    BRINERY_NULL_ARGUMENT = 1,
    /// An argument is out of its documented range (for example a protocol above 5).
    BRINERY_INVALID_ARGUMENT = 2,
    /// The node exists but is of another kind than the accessor reads.
    BRINERY_WRONG_KIND = 3,
    /// The node id is not a node of this value.
    BRINERY_BAD_NODE = 4,
    /// The item, entry or state index is past the end.
    BRINERY_INDEX_OUT_OF_RANGE = 5,
    /// Text handed to the library is not valid UTF-8.
    BRINERY_INVALID_UTF8 = 6,

    /// Decoding failed for a reason not listed below.
    BRINERY_DECODE_FAILED = 100,
    /// The stream ends in the middle of an opcode or a value.
    BRINERY_DECODE_TRUNCATED = 101,
    /// A byte that is not a pickle opcode.
    BRINERY_DECODE_UNKNOWN_OPCODE = 102,
    /// `PROTO` names a protocol above 5.
    BRINERY_DECODE_UNSUPPORTED_PROTOCOL = 103,
    /// An opcode needs more values than the stack holds.
    BRINERY_DECODE_STACK_UNDERFLOW = 104,
    /// An opcode needs a mark and there is none.
    BRINERY_DECODE_MISSING_MARK = 105,
    /// A mark where a value was expected.
    BRINERY_DECODE_UNEXPECTED_MARK = 106,
    /// A memo key that was never stored.
    BRINERY_DECODE_MEMO_KEY_MISSING = 107,
    /// A negative or impossible length (for example 4 GiB claimed by a short stream).
    BRINERY_DECODE_BAD_LENGTH = 108,
    /// A malformed opcode argument.
    BRINERY_DECODE_BAD_ARGUMENT = 109,
    /// A `str` that is not valid UTF-8.
    BRINERY_DECODE_BAD_UTF8 = 110,
    /// An opcode applied to a value of the wrong type.
    BRINERY_DECODE_WRONG_TYPE = 111,
    /// The stream refers to an out-of-band buffer that was not supplied.
    BRINERY_DECODE_MISSING_BUFFER = 112,
    /// The stream ends without `STOP`.
    BRINERY_DECODE_NO_STOP = 113,
    /// Values left on the stack at `STOP`.
    BRINERY_DECODE_TRAILING_STACK = 114,
    /// A frame longer than the stream.
    BRINERY_DECODE_BAD_FRAME = 115,
    /// Nesting deeper than `max_depth` (without an offset when found in the finished
    /// tree rather than while reading).
    BRINERY_DECODE_TOO_DEEP = 116,
    /// More memo entries than `max_memo`.
    BRINERY_DECODE_MEMO_LIMIT = 117,
    /// More bytes than `max_alloc`.
    BRINERY_DECODE_ALLOC_LIMIT = 118,
    /// A global (or extension code) that the allowlist does not admit; the message names it.
    BRINERY_FORBIDDEN_GLOBAL = 119,
    /// `SETITEMS` with a key and no value.
    BRINERY_DECODE_ODD_ITEMS = 120,
    /// A Python 2 `str` that is not ASCII (decode with `BRINERY_PY2_LATIN1` or
    /// `BRINERY_PY2_BYTES`).
    BRINERY_DECODE_NON_ASCII = 121,
    /// The stream refers to out-of-band buffers and none were supplied.
    BRINERY_DECODE_NO_BUFFERS = 122,
    /// The allocator refused memory for a value of the stream (a process near its
    /// memory cap): the call fails, the process goes on.
    BRINERY_DECODE_OUT_OF_MEMORY = 123,

    /// Encoding failed for a reason not listed below.
    BRINERY_ENCODE_FAILED = 200,
    /// A protocol above 5.
    BRINERY_ENCODE_UNSUPPORTED_PROTOCOL = 201,
    /// The value needs a higher protocol than the one asked for.
    BRINERY_ENCODE_NEEDS_PROTOCOL = 202,
    /// A value too large for the format.
    BRINERY_ENCODE_TOO_LARGE = 203,
    /// A value the encoder cannot write.
    BRINERY_ENCODE_INVALID = 204,
    /// The allocator refused memory for the stream being written.
    BRINERY_ENCODE_OUT_OF_MEMORY = 205,

    /// An `end` call that does not match the innermost open container.
    BRINERY_BUILDER_UNBALANCED = 300,
    /// `finish` with containers still open, or with no value pushed.
    BRINERY_BUILDER_INCOMPLETE = 301,
    /// A dict closed with a key that has no value.
    BRINERY_BUILDER_ODD_DICT = 302,
    /// A dict key or set item that Python cannot hash (a list, dict, set or bytearray,
    /// or a tuple holding one).
    BRINERY_BUILDER_UNHASHABLE = 303,
    /// A second top-level value: a pickle holds exactly one.
    BRINERY_BUILDER_SECOND_ROOT = 304,
    /// The encoder was already finished.
    BRINERY_BUILDER_FINISHED = 305,
    /// Containers nested deeper than the builder's limit of 10,000.
    BRINERY_BUILDER_TOO_DEEP = 306,

    /// The JSON text is not JSON.
    BRINERY_JSON_SYNTAX = 400,
    /// The JSON is valid but does not follow brinery's JSON form (docs/c.md).
    BRINERY_JSON_FORM = 401,
    /// Nesting deeper than the JSON bridge supports.
    BRINERY_JSON_TOO_DEEP = 402,
    /// The value holds something the JSON form cannot show (an int of more than 4,096
    /// bytes).
    BRINERY_JSON_UNREPRESENTABLE = 403,

    /// A bug in libbrinery (a caught panic); the message says where.
    BRINERY_INTERNAL = 900,
}

use brinery_status::*;

impl brinery_status {
    /// Every status, for the uniqueness test and `brinery_status_name`.
    pub const ALL: &'static [brinery_status] = &[
        BRINERY_OK,
        BRINERY_NULL_ARGUMENT,
        BRINERY_INVALID_ARGUMENT,
        BRINERY_WRONG_KIND,
        BRINERY_BAD_NODE,
        BRINERY_INDEX_OUT_OF_RANGE,
        BRINERY_INVALID_UTF8,
        BRINERY_DECODE_FAILED,
        BRINERY_DECODE_TRUNCATED,
        BRINERY_DECODE_UNKNOWN_OPCODE,
        BRINERY_DECODE_UNSUPPORTED_PROTOCOL,
        BRINERY_DECODE_STACK_UNDERFLOW,
        BRINERY_DECODE_MISSING_MARK,
        BRINERY_DECODE_UNEXPECTED_MARK,
        BRINERY_DECODE_MEMO_KEY_MISSING,
        BRINERY_DECODE_BAD_LENGTH,
        BRINERY_DECODE_BAD_ARGUMENT,
        BRINERY_DECODE_BAD_UTF8,
        BRINERY_DECODE_WRONG_TYPE,
        BRINERY_DECODE_MISSING_BUFFER,
        BRINERY_DECODE_NO_STOP,
        BRINERY_DECODE_TRAILING_STACK,
        BRINERY_DECODE_BAD_FRAME,
        BRINERY_DECODE_TOO_DEEP,
        BRINERY_DECODE_MEMO_LIMIT,
        BRINERY_DECODE_ALLOC_LIMIT,
        BRINERY_FORBIDDEN_GLOBAL,
        BRINERY_DECODE_ODD_ITEMS,
        BRINERY_DECODE_NON_ASCII,
        BRINERY_DECODE_NO_BUFFERS,
        BRINERY_DECODE_OUT_OF_MEMORY,
        BRINERY_ENCODE_FAILED,
        BRINERY_ENCODE_UNSUPPORTED_PROTOCOL,
        BRINERY_ENCODE_NEEDS_PROTOCOL,
        BRINERY_ENCODE_TOO_LARGE,
        BRINERY_ENCODE_INVALID,
        BRINERY_ENCODE_OUT_OF_MEMORY,
        BRINERY_BUILDER_UNBALANCED,
        BRINERY_BUILDER_INCOMPLETE,
        BRINERY_BUILDER_ODD_DICT,
        BRINERY_BUILDER_UNHASHABLE,
        BRINERY_BUILDER_SECOND_ROOT,
        BRINERY_BUILDER_FINISHED,
        BRINERY_BUILDER_TOO_DEEP,
        BRINERY_JSON_SYNTAX,
        BRINERY_JSON_FORM,
        BRINERY_JSON_TOO_DEEP,
        BRINERY_JSON_UNREPRESENTABLE,
        BRINERY_INTERNAL,
    ];

    /// The constant's name as a NUL-terminated string.
    pub fn name(self) -> &'static str {
        match self {
            BRINERY_OK => "BRINERY_OK\0",
            BRINERY_NULL_ARGUMENT => "BRINERY_NULL_ARGUMENT\0",
            BRINERY_INVALID_ARGUMENT => "BRINERY_INVALID_ARGUMENT\0",
            BRINERY_WRONG_KIND => "BRINERY_WRONG_KIND\0",
            BRINERY_BAD_NODE => "BRINERY_BAD_NODE\0",
            BRINERY_INDEX_OUT_OF_RANGE => "BRINERY_INDEX_OUT_OF_RANGE\0",
            BRINERY_INVALID_UTF8 => "BRINERY_INVALID_UTF8\0",
            BRINERY_DECODE_FAILED => "BRINERY_DECODE_FAILED\0",
            BRINERY_DECODE_TRUNCATED => "BRINERY_DECODE_TRUNCATED\0",
            BRINERY_DECODE_UNKNOWN_OPCODE => "BRINERY_DECODE_UNKNOWN_OPCODE\0",
            BRINERY_DECODE_UNSUPPORTED_PROTOCOL => "BRINERY_DECODE_UNSUPPORTED_PROTOCOL\0",
            BRINERY_DECODE_STACK_UNDERFLOW => "BRINERY_DECODE_STACK_UNDERFLOW\0",
            BRINERY_DECODE_MISSING_MARK => "BRINERY_DECODE_MISSING_MARK\0",
            BRINERY_DECODE_UNEXPECTED_MARK => "BRINERY_DECODE_UNEXPECTED_MARK\0",
            BRINERY_DECODE_MEMO_KEY_MISSING => "BRINERY_DECODE_MEMO_KEY_MISSING\0",
            BRINERY_DECODE_BAD_LENGTH => "BRINERY_DECODE_BAD_LENGTH\0",
            BRINERY_DECODE_BAD_ARGUMENT => "BRINERY_DECODE_BAD_ARGUMENT\0",
            BRINERY_DECODE_BAD_UTF8 => "BRINERY_DECODE_BAD_UTF8\0",
            BRINERY_DECODE_WRONG_TYPE => "BRINERY_DECODE_WRONG_TYPE\0",
            BRINERY_DECODE_MISSING_BUFFER => "BRINERY_DECODE_MISSING_BUFFER\0",
            BRINERY_DECODE_NO_STOP => "BRINERY_DECODE_NO_STOP\0",
            BRINERY_DECODE_TRAILING_STACK => "BRINERY_DECODE_TRAILING_STACK\0",
            BRINERY_DECODE_BAD_FRAME => "BRINERY_DECODE_BAD_FRAME\0",
            BRINERY_DECODE_TOO_DEEP => "BRINERY_DECODE_TOO_DEEP\0",
            BRINERY_DECODE_MEMO_LIMIT => "BRINERY_DECODE_MEMO_LIMIT\0",
            BRINERY_DECODE_ALLOC_LIMIT => "BRINERY_DECODE_ALLOC_LIMIT\0",
            BRINERY_FORBIDDEN_GLOBAL => "BRINERY_FORBIDDEN_GLOBAL\0",
            BRINERY_DECODE_ODD_ITEMS => "BRINERY_DECODE_ODD_ITEMS\0",
            BRINERY_DECODE_NON_ASCII => "BRINERY_DECODE_NON_ASCII\0",
            BRINERY_DECODE_NO_BUFFERS => "BRINERY_DECODE_NO_BUFFERS\0",
            BRINERY_DECODE_OUT_OF_MEMORY => "BRINERY_DECODE_OUT_OF_MEMORY\0",
            BRINERY_ENCODE_FAILED => "BRINERY_ENCODE_FAILED\0",
            BRINERY_ENCODE_UNSUPPORTED_PROTOCOL => "BRINERY_ENCODE_UNSUPPORTED_PROTOCOL\0",
            BRINERY_ENCODE_NEEDS_PROTOCOL => "BRINERY_ENCODE_NEEDS_PROTOCOL\0",
            BRINERY_ENCODE_TOO_LARGE => "BRINERY_ENCODE_TOO_LARGE\0",
            BRINERY_ENCODE_INVALID => "BRINERY_ENCODE_INVALID\0",
            BRINERY_ENCODE_OUT_OF_MEMORY => "BRINERY_ENCODE_OUT_OF_MEMORY\0",
            BRINERY_BUILDER_UNBALANCED => "BRINERY_BUILDER_UNBALANCED\0",
            BRINERY_BUILDER_INCOMPLETE => "BRINERY_BUILDER_INCOMPLETE\0",
            BRINERY_BUILDER_ODD_DICT => "BRINERY_BUILDER_ODD_DICT\0",
            BRINERY_BUILDER_UNHASHABLE => "BRINERY_BUILDER_UNHASHABLE\0",
            BRINERY_BUILDER_SECOND_ROOT => "BRINERY_BUILDER_SECOND_ROOT\0",
            BRINERY_BUILDER_FINISHED => "BRINERY_BUILDER_FINISHED\0",
            BRINERY_BUILDER_TOO_DEEP => "BRINERY_BUILDER_TOO_DEEP\0",
            BRINERY_JSON_SYNTAX => "BRINERY_JSON_SYNTAX\0",
            BRINERY_JSON_FORM => "BRINERY_JSON_FORM\0",
            BRINERY_JSON_TOO_DEEP => "BRINERY_JSON_TOO_DEEP\0",
            BRINERY_JSON_UNREPRESENTABLE => "BRINERY_JSON_UNREPRESENTABLE\0",
            BRINERY_INTERNAL => "BRINERY_INTERNAL\0",
        }
    }
}

/// Details of a failed call. Declare one with `brinery_error err = {0};` and pass its
/// address; calls that fail fill it in, calls that succeed set `code` to `BRINERY_OK`.
/// It owns no memory: nothing to free.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct brinery_error {
    /// The status the call returned.
    pub code: brinery_status,
    /// True when `offset` is meaningful.
    pub has_offset: bool,
    /// Byte offset in the input where the failure was detected (pickle or JSON bytes).
    pub offset: usize,
    /// A short lowercase description, NUL-terminated, cut at `BRINERY_MESSAGE_SIZE - 1`
    /// bytes on a UTF-8 boundary. For `BRINERY_FORBIDDEN_GLOBAL` it names the global.
    pub message: [c_char; BRINERY_MESSAGE_SIZE],
}

/// An error on its way to C: a status, an optional byte offset and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: brinery_status,
    pub offset: Option<usize>,
    pub message: String,
}

impl Error {
    pub fn new(code: brinery_status, message: impl Into<String>) -> Self {
        Error {
            code,
            offset: None,
            message: message.into(),
        }
    }

    pub fn null(arg: &str) -> Self {
        Error::new(BRINERY_NULL_ARGUMENT, format!("`{arg}` is null"))
    }

    /// Writes this error into `err` (when not null) and returns its code.
    pub fn report(&self, err: *mut brinery_error) -> brinery_status {
        write_error(err, self.code, self.offset, &self.message);
        self.code
    }
}

impl From<DecodeError> for Error {
    /// The status is the one whose value is the core's [`DecodeErrorKind::number`]: the
    /// core's table names every decode failure, C only gives it a type.
    fn from(e: DecodeError) -> Self {
        Error {
            code: brinery_status::of_decode(&e.kind),
            offset: Some(e.offset),
            message: e.kind.to_string(),
        }
    }
}

impl brinery_status {
    /// The status for a core decode failure (`BRINERY_DECODE_FAILED` for a number this
    /// library does not know, which a test rules out for today's kinds).
    pub fn of_decode(kind: &DecodeErrorKind) -> brinery_status {
        let number = i32::from(kind.number());
        brinery_status::ALL
            .iter()
            .copied()
            .find(|s| *s as i32 == number)
            .unwrap_or(BRINERY_DECODE_FAILED)
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        #[allow(unreachable_patterns)] // new core variants map to the generic code
        let code = match &e {
            EncodeError::UnsupportedProtocol(_) => BRINERY_ENCODE_UNSUPPORTED_PROTOCOL,
            EncodeError::NeedsProtocol(..) => BRINERY_ENCODE_NEEDS_PROTOCOL,
            EncodeError::TooLarge(_) => BRINERY_ENCODE_TOO_LARGE,
            EncodeError::Invalid(_) => BRINERY_ENCODE_INVALID,
            EncodeError::OutOfMemory(_) => BRINERY_ENCODE_OUT_OF_MEMORY,
            _ => BRINERY_ENCODE_FAILED,
        };
        Error::new(code, e.to_string())
    }
}

impl From<BuildError> for Error {
    fn from(e: BuildError) -> Self {
        let code = match e {
            BuildError::Unbalanced => BRINERY_BUILDER_UNBALANCED,
            BuildError::Incomplete => BRINERY_BUILDER_INCOMPLETE,
            BuildError::OddDict => BRINERY_BUILDER_ODD_DICT,
            BuildError::Unhashable => BRINERY_BUILDER_UNHASHABLE,
            BuildError::SecondRoot => BRINERY_BUILDER_SECOND_ROOT,
            BuildError::TooDeep => BRINERY_BUILDER_TOO_DEEP,
            // Memory for the value being added: the stream it was to go into.
            BuildError::OutOfMemory => BRINERY_ENCODE_OUT_OF_MEMORY,
        };
        Error::new(code, e.to_string())
    }
}

impl From<JsonError> for Error {
    fn from(e: JsonError) -> Self {
        let code = match e.kind {
            JsonErrorKind::Syntax(_) => BRINERY_JSON_SYNTAX,
            JsonErrorKind::Form(_) => BRINERY_JSON_FORM,
            JsonErrorKind::TooDeep(_) => BRINERY_JSON_TOO_DEEP,
            JsonErrorKind::Unrepresentable(_) => BRINERY_JSON_UNREPRESENTABLE,
            JsonErrorKind::TooLarge(_) => BRINERY_DECODE_ALLOC_LIMIT,
            JsonErrorKind::OutOfMemory => BRINERY_DECODE_OUT_OF_MEMORY,
            JsonErrorKind::Encode(inner) => return inner.into(),
        };
        Error {
            code,
            offset: e.offset,
            message: e.kind.to_string(),
        }
    }
}

fn write_error(err: *mut brinery_error, code: brinery_status, offset: Option<usize>, msg: &str) {
    // SAFETY: callers pass either null or a pointer to a writable brinery_error (the
    // documented contract of every function taking one).
    let Some(err) = (unsafe { err.as_mut() }) else {
        return;
    };
    err.code = code;
    err.has_offset = offset.is_some();
    err.offset = offset.unwrap_or(0);
    let mut n = msg.len().min(BRINERY_MESSAGE_SIZE - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    for (dst, &src) in err.message.iter_mut().zip(&msg.as_bytes()[..n]) {
        *dst = src as c_char;
    }
    err.message[n] = 0;
}

/// Runs the body of an exported function: catches any panic (reported as
/// `BRINERY_INTERNAL`), fills `err` and returns the status.
pub fn guard(err: *mut brinery_error, body: impl FnOnce() -> Result<(), Error>) -> brinery_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            write_error(err, BRINERY_OK, None, "");
            BRINERY_OK
        }
        Ok(Err(e)) => e.report(err),
        Err(panic) => Error::new(BRINERY_INTERNAL, panic_message(&*panic)).report(err),
    }
}

/// Like [`guard`] for functions that return a value (a pointer or a struct), giving
/// `failed` when the body fails or panics.
pub fn guard_value<T>(
    err: *mut brinery_error,
    failed: T,
    body: impl FnOnce() -> Result<T, Error>,
) -> T {
    let mut out = None;
    guard(err, || {
        out = Some(body()?);
        Ok(())
    });
    out.unwrap_or(failed)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let what = if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.as_str()
    } else {
        "unknown panic"
    };
    format!("internal error (please report): {what}")
}

/// The name of a status code, such as `"BRINERY_DECODE_TRUNCATED"`: a static string,
/// never freed. Unknown values give `"BRINERY_UNKNOWN_STATUS"`. Takes an `int` so any
/// value a program holds is safe to pass.
#[no_mangle]
pub extern "C" fn brinery_status_name(code: i32) -> *const c_char {
    let name = brinery_status::ALL
        .iter()
        .find(|s| **s as i32 == code)
        .map_or("BRINERY_UNKNOWN_STATUS\0", |s| s.name());
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn status_values_are_unique_and_named() {
        let values: BTreeSet<i32> = brinery_status::ALL.iter().map(|s| *s as i32).collect();
        assert_eq!(
            values.len(),
            brinery_status::ALL.len(),
            "duplicate status value"
        );
        let names: BTreeSet<&str> = brinery_status::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names.len(),
            brinery_status::ALL.len(),
            "duplicate status name"
        );
        for s in brinery_status::ALL {
            let name = s.name().trim_end_matches('\0');
            assert!(format!("{s:?}") == name, "{s:?} is named {name}");
        }
    }

    #[test]
    fn decode_statuses_are_named_by_the_core_table() {
        use DecodeErrorKind as K;
        let kinds = K::one_of_each();
        for kind in &kinds {
            let status = brinery_status::of_decode(kind);
            assert_ne!(status, BRINERY_DECODE_FAILED, "{kind:?} has no status");
            let name = status.name().trim_end_matches('\0');
            let want = match kind.code() {
                "FORBIDDEN_GLOBAL" => "BRINERY_FORBIDDEN_GLOBAL".to_string(),
                code => format!("BRINERY_DECODE_{code}"),
            };
            assert_eq!(name, want, "{kind:?}");
        }
        // Every decode status but the generic one stands for some kind.
        for s in brinery_status::ALL {
            let v = *s as i32;
            if (101..200).contains(&v) {
                assert!(
                    kinds.iter().any(|k| i32::from(k.number()) == v),
                    "{s:?} stands for no core kind"
                );
            }
        }
    }

    #[test]
    fn message_is_cut_on_a_char_boundary() {
        let mut err = std::mem::MaybeUninit::<brinery_error>::zeroed();
        let long = "é".repeat(300);
        write_error(err.as_mut_ptr(), BRINERY_INTERNAL, Some(3), &long);
        // SAFETY: zeroed is a valid brinery_error (code 0 is BRINERY_OK) and it was written.
        let err = unsafe { err.assume_init() };
        let bytes: Vec<u8> = err.message.iter().map(|&c| c as u8).collect();
        let end = bytes.iter().position(|&b| b == 0).unwrap();
        assert_eq!(end, 254);
        assert!(std::str::from_utf8(&bytes[..end]).is_ok());
        assert_eq!(err.offset, 3);
    }
}
