//! The JavaScript face of the core: the [`Engine`] that `js/manager.js`
//! wraps into the `ExecutionManager` users get, and the conversions of JS
//! arguments into the core's types. (The package's TypeScript declarations
//! are `js/types.d.ts`, beside the class they describe.)
//!
//! Nothing here runs a handler, holds an `AbortController`, arms a timer or
//! calls a listener: those are JS things and live in `js/manager.js`.

mod alloc;
mod args;
mod clock;
mod convert;
mod engine;
pub(crate) mod ffi;
mod keys;
mod rest;
mod signal;

pub use engine::Engine;
