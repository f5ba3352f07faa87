//! execman: an execution manager for JavaScript apps, written in Rust and
//! compiled to WebAssembly.
//!
//! [`core`] is the manager in plain Rust (natively testable); `wasm` is the
//! engine that exposes it to JavaScript, addressed by creation sequence, and
//! wrapped by `js/manager.js` into the `ExecutionManager` users get (the
//! path of a call is in ARCHITECTURE.md). [`wire`] is what the two sides
//! agree on: the scratch layout, status codes, event kinds and work flags.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod core;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
pub mod wire;
