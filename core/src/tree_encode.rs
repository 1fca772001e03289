//! Encodes a [`Tree`] (decoded, or built by a host such as the C and Node bindings) with
//! the [`Encoder`], memoizing nodes the way CPython memoizes objects, so a tree decoded
//! from a stream of plain data re-encodes to the same bytes at any protocol.

use alloc::vec::Vec;

use crate::encode::Encoder;
use crate::error::EncodeError;
use crate::value::Tree;

/// Encodes the tree's root at `protocol`.
pub fn encode_tree(tree: &Tree, protocol: u8) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Encoder::new(protocol)?;
    enc.begin();
    let _ = tree;
    Err(EncodeError::Invalid(
        "tree encoder not implemented yet".into(),
    ))
}
