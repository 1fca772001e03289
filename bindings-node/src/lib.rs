//! `brinery` for Node.js: the native half of the npm package.

use napi_derive::napi;

/// The highest pickle protocol brinery reads and writes.
#[napi]
pub const HIGHEST_PROTOCOL: u32 = brinery_core::HIGHEST_PROTOCOL as u32;
