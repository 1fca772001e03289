//! `brinery-core`: the pickle codec every brinery binding stands on.
//!
//! It knows bytes and opcodes, never host-language objects:
//! - [`encode`]: an opcode-level [`Encoder`] that writes protocols 0 to 5 exactly as
//!   CPython's C pickler does (framing, memo, shortest forms), driven by a host that walks
//!   its own objects, plus [`encode_tree`] for encoding a decoded [`Tree`].
//! - [`decode()`]: a safe pickle machine producing an inert [`Tree`]; no code is ever run,
//!   globals and calls become nodes the host resolves. [`decode_with`] runs it with the
//!   host's own [`Builder`] instead, so values arrive as they are decoded.
//! - [`dis()`]: a disassembler printing what `pickletools.dis` prints.
//! - The tree toolkit hosts share: [`build::TreeBuilder`] (a checked builder of trees
//!   and [`build::hashable`]), [`stdstate`] (the state of `datetime`, `uuid.UUID`...
//!   read as data), and with the `json` feature `json` (the JSON form of a tree).
//!
//! `no_std` with `alloc`; the `std` feature adds `io` adapters, `serde` adds
//! `to_vec`/`from_slice` for Rust types, `json` the JSON form.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod allow;
pub mod build;
pub mod compat;
mod compat_table;
mod cursor;
pub mod decode;
pub mod dis;
pub mod encode;
pub mod error;
#[cfg(feature = "std")]
pub mod io;
#[cfg(feature = "json")]
pub mod json;
pub mod limits;
pub mod numbers;
pub mod opcode;
pub mod opinfo;
pub mod pyfmt;
pub mod scan;
#[cfg(feature = "serde")]
pub mod serde;
pub mod stdstate;
mod tree_depth;
pub mod tree_encode;
mod tree_size;
pub mod try_alloc;
pub mod value;

pub use allow::Allowlist;
pub use decode::{decode, decode_with, Builder, DecodeOptions, Py2Strings, ValueKind};
pub use dis::dis;
pub use encode::Encoder;
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use limits::Limits;
pub use tree_encode::encode_tree;
pub use value::{NodeId, Object, ObjectKind, Tree, Value, ValueRef};

/// The highest protocol this crate reads and writes.
pub const HIGHEST_PROTOCOL: u8 = 5;
/// The protocol `pickle.dumps` uses when none is given (CPython 3.8+).
pub const DEFAULT_PROTOCOL: u8 = 4;
