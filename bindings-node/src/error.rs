//! The one place core and binding errors become JavaScript `Error`s.
//!
//! Every error thrown by the addon is a plain `Error` with a stable `code`
//! (`ERR_BRINERY_*`, listed in `index.d.ts` and `docs/node.md`) and an `offset`
//! property: the byte offset in the stream where decoding failed (an unknown global
//! included: the core's allowlist refuses it at its opcode), or `undefined` when the
//! failure is about a decoded value rather than a position.
//! Not for errors raised by JavaScript callbacks (`classes` constructors): those
//! propagate untouched.

#[cfg(doc)]
use brinery_core::DecodeErrorKind;
use brinery_core::{DecodeError, EncodeError};
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
    /// Every code.
    pub const ALL: &'static [Code] = &[
        Code::Truncated,
        Code::UnknownOpcode,
        Code::Protocol,
        Code::Malformed,
        Code::Memo,
        Code::BadLength,
        Code::BadArgument,
        Code::BadUtf8,
        Code::Buffer,
        Code::TooDeep,
        Code::Limit,
        Code::UnknownGlobal,
        Code::Unsupported,
        Code::Encode,
        Code::UnsupportedType,
    ];

    /// The code `ERR_BRINERY_<group>` for a core [`DecodeErrorKind::group`]
    /// (`ERR_BRINERY_MALFORMED` for a group this addon does not know, which a test
    /// rules out for today's kinds).
    pub fn of_group(group: &str) -> Code {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().strip_prefix("ERR_BRINERY_") == Some(group))
            .unwrap_or(Code::Malformed)
    }

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
    /// The code is `ERR_BRINERY_` + the core's [`DecodeErrorKind::group`]: the core's
    /// table names every decode failure, Node only groups them as it always has.
    fn from(e: DecodeError) -> Self {
        Failure {
            code: Code::of_group(e.kind.group()),
            message: e.to_string(),
            offset: Some(e.offset),
        }
    }
}

impl From<EncodeError> for Failure {
    fn from(e: EncodeError) -> Self {
        let code = match e {
            EncodeError::UnsupportedProtocol(_) => Code::Protocol,
            // Memory refused for the stream: a limit, as the decoder's caps are.
            EncodeError::OutOfMemory(_) => Code::Limit,
            _ => Code::Encode,
        };
        Failure::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;
    use brinery_core::DecodeErrorKind as K;

    #[test]
    fn every_core_group_is_a_code() {
        let kinds = [
            K::Truncated,
            K::UnknownOpcode(0),
            K::UnsupportedProtocol(9),
            K::StackUnderflow,
            K::MemoKeyMissing(0),
            K::BadLength,
            K::BadArgument(String::new()),
            K::BadUtf8,
            K::MissingBuffer(0, 0),
            K::TooDeep(0),
            K::AllocLimit(0),
            K::Forbidden(String::new()),
            K::ForbiddenExtension(0),
            K::NonAscii,
        ];
        for kind in &kinds {
            let code = Code::of_group(kind.group());
            assert_eq!(
                code.as_str(),
                format!("ERR_BRINERY_{}", kind.group()),
                "{kind:?}"
            );
        }
    }
}
