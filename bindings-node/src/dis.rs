//! `dis`: the core disassembler's text for a stream, as `pickletools.dis` prints it.
//! Errors carry the offset where the stream stopped making sense.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::Failure;

/// Disassembles one pickle.
#[napi]
pub fn dis(env: &Env, data: &[u8]) -> Result<String> {
    brinery_core::dis(data).map_err(|e| Failure::from(e).into_napi(env))
}
