//! `brinery` for Node.js: the native half of the npm package.
//!
//! `index.js` is the public API; it calls three native functions: `decode::decode_tape`
//! (the decoded stream as a tape that `builder.js` turns into JS values),
//! `encode::dumps_tape` (replaying the tape `flatten.js` makes of a value) and
//! `dis::dis`. Each module mirrors its namesake in the Python binding; errors become JS
//! `Error`s in one place, `error`.

// Under `cargo test` napi-derive registers nothing, so the exported functions look unused.
#![cfg_attr(test, allow(dead_code))]

mod decode;
mod dis;
mod dumptext;
mod encode;
mod error;
mod graph;
mod js;
mod jstext;
mod prints;
mod reuse;
mod shapes;
mod stdtypes;
mod tape;

use napi_derive::napi;

/// The highest pickle protocol brinery reads and writes.
#[napi]
pub const HIGHEST_PROTOCOL: u32 = brinery_core::HIGHEST_PROTOCOL as u32;

/// The protocol `dumps` uses when none is given, as `pickle.dumps`.
#[napi]
pub const DEFAULT_PROTOCOL: u32 = brinery_core::DEFAULT_PROTOCOL as u32;
