//! Rust types to and from pickles through serde (the `serde` feature): [`to_vec`] writes
//! any `Serialize` value as plain pickle data with the [`Encoder`](crate::Encoder)
//! (structs and maps become dicts, sequences lists, tuples tuples, enums `"Variant"` or
//! `{"Variant": value}`), and [`from_slice`] reads such data back through the decoder's
//! [`Tree`](crate::Tree). Not for pickles of arbitrary Python objects: globals, calls and
//! persistent ids have no serde meaning and are an error.

mod de;
mod ser;

use alloc::string::{String, ToString};

use crate::decode::{decode, DecodeOptions};
use crate::error::{DecodeError, EncodeError};

pub use de::TreeDeserializer;
pub use ser::Serializer;

/// Why [`to_vec`] or [`from_slice`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Message(String),
}

impl ::serde::ser::Error for Error {
    fn custom<T: core::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl ::serde::de::Error for Error {
    fn custom<T: core::fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

/// Pickles `value` at `protocol` (0 to 5).
pub fn to_vec<T: ::serde::Serialize + ?Sized>(
    value: &T,
    protocol: u8,
) -> Result<alloc::vec::Vec<u8>, Error> {
    let mut enc = crate::Encoder::new(protocol)?;
    enc.begin();
    value.serialize(Serializer::new(&mut enc))?;
    Ok(enc.finish())
}

/// Unpickles a `T` from `data` with `pickle.loads`' default options.
pub fn from_slice<T: ::serde::de::DeserializeOwned>(data: &[u8]) -> Result<T, Error> {
    from_slice_with(data, &DecodeOptions::new())
}

/// Unpickles a `T` from `data` with the given decode options.
pub fn from_slice_with<T: ::serde::de::DeserializeOwned>(
    data: &[u8],
    opts: &DecodeOptions,
) -> Result<T, Error> {
    let tree = decode(data, opts)?;
    T::deserialize(TreeDeserializer::new(&tree, tree.root()))
}
