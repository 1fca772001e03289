//! The one place core and binding errors become JavaScript `Error`s.
//!
//! Every error thrown by the addon is a plain `Error` with a stable `code`
//! (`ERR_BRINERY_*`, listed in `index.d.ts` and `docs/node.md`) and an `offset`
//! property: the byte offset in the stream where decoding failed (an unknown global
//! included: the core's allowlist refuses it at its opcode), or `undefined` when the
//! failure is about a decoded value rather than a position.
//! Not for errors raised by JavaScript callbacks (`classes` constructors): those
//! propagate untouched.

use brinery_core::{DecodeError, DecodeErrorKind, EncodeError};
use napi::bindgen_prelude::*;
use napi::sys;

/// The stable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Truncated,
    UnknownOpcode,
    Protocol,
    Malformed,
    Memo,
    BadLength,
    BadArgument,
    BadUtf8,
    Buffer,
    TooDeep,
    Limit,
    UnknownGlobal,
    Unsupported,
    Encode,
    UnsupportedType,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Truncated => "ERR_BRINERY_TRUNCATED",
            Code::UnknownOpcode => "ERR_BRINERY_UNKNOWN_OPCODE",
            Code::Protocol => "ERR_BRINERY_PROTOCOL",
            Code::Malformed => "ERR_BRINERY_MALFORMED",
            Code::Memo => "ERR_BRINERY_MEMO",
            Code::BadLength => "ERR_BRINERY_BAD_LENGTH",
            Code::BadArgument => "ERR_BRINERY_BAD_ARGUMENT",
            Code::BadUtf8 => "ERR_BRINERY_BAD_UTF8",
            Code::Buffer => "ERR_BRINERY_BUFFER",
            Code::TooDeep => "ERR_BRINERY_TOO_DEEP",
            Code::Limit => "ERR_BRINERY_LIMIT",
            Code::UnknownGlobal => "ERR_BRINERY_UNKNOWN_GLOBAL",
            Code::Unsupported => "ERR_BRINERY_UNSUPPORTED",
            Code::Encode => "ERR_BRINERY_ENCODE",
            Code::UnsupportedType => "ERR_BRINERY_UNSUPPORTED_TYPE",
        }
    }
}

/// A result whose error is a [`Failure`].
pub type Fallible<T> = std::result::Result<T, Failure>;

/// A failure on the Rust side, before it becomes a JS `Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: Code,
    pub message: String,
    pub offset: Option<usize>,
}

impl Failure {
    /// A failure about a value, with no stream position.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            offset: None,
        }
    }

    /// The JS `Error` to throw: `code`, `offset`, and the message.
    pub fn into_napi(self, env: &Env) -> Error {
        match self.build(env) {
            Ok(e) | Err(e) => e,
        }
    }

    fn build(&self, env: &Env) -> Result<Error> {
        let code = env.create_string(self.code.as_str())?;
        let message = env.create_string(&self.message)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: both values are live strings of this env; `raw` receives a new object.
        let status =
            unsafe { sys::napi_create_error(env.raw(), code.raw(), message.raw(), &mut raw) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, self.message.clone()));
        }
        let mut obj = Object::from_raw(env.raw(), raw);
        match self.offset {
            Some(offset) => obj.set_named_property("offset", offset as f64)?,
            None => obj.set_named_property("offset", ())?,
        }
        Ok(Error::from(obj.to_unknown()))
    }
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Self {
        let code = match &e.kind {
            DecodeErrorKind::Truncated | DecodeErrorKind::NoStop => Code::Truncated,
            DecodeErrorKind::UnknownOpcode(_) => Code::UnknownOpcode,
            DecodeErrorKind::UnsupportedProtocol(_) => Code::Protocol,
            DecodeErrorKind::MemoKeyMissing(_) => Code::Memo,
            DecodeErrorKind::BadLength
            | DecodeErrorKind::BadFrame
            | DecodeErrorKind::FrameCrossed => Code::BadLength,
            DecodeErrorKind::BadArgument(_) => Code::BadArgument,
            DecodeErrorKind::BadUtf8 => Code::BadUtf8,
            DecodeErrorKind::MissingBuffer(..) | DecodeErrorKind::NoBuffers => Code::Buffer,
            DecodeErrorKind::TooDeep(_) => Code::TooDeep,
            DecodeErrorKind::MemoLimit(_)
            | DecodeErrorKind::AllocLimit(_)
            | DecodeErrorKind::Expands(_) => Code::Limit,
            // Refused by the core's allowlist: neither standard nor mapped in `classes`.
            DecodeErrorKind::Forbidden(_) => Code::UnknownGlobal,
            // Not in the `extensions` option.
            DecodeErrorKind::ForbiddenExtension(_) => Code::Unsupported,
            // Stack shape errors, and any kind the core adds later.
            _ => Code::Malformed,
        };
        Failure {
            code,
            message: e.to_string(),
            offset: Some(e.offset),
        }
    }
}

impl From<EncodeError> for Failure {
    fn from(e: EncodeError) -> Self {
        let code = match e {
            EncodeError::UnsupportedProtocol(_) => Code::Protocol,
            _ => Code::Encode,
        };
        Failure::new(code, e.to_string())
    }
}
