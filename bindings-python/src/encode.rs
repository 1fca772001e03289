//! Pickling for Python: how each kind of object CPython's pickler would hand to
//! `save_reduce`, `save_global` or a by-value rule is written, one file per concept under
//! `encode/`. The walker that dispatches on exact types and writes scalars and
//! containers itself is [`crate::walker`]; every opcode goes through
//! `brinery_core::Encoder`. A new reducer or by-value rule goes here, beside its
//! siblings. Mirrors the C and Node bindings' `encode.rs`.

pub mod bytecode;
pub mod class;
pub mod function;
pub mod global;
pub mod init_subclass;
pub mod instance;
pub mod instance_dict;
pub mod namespace;
pub mod path;
pub mod reduce;
pub mod stdlib;
pub mod submodules;
pub mod weak_proxy;
