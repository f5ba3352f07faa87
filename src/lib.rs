//! execman: an execution manager for JavaScript apps, written in Rust and
//! compiled to WebAssembly.
//!
//! [`core`] is the manager in plain Rust (natively testable); `wasm` is the
//! thin `#[wasm_bindgen]` layer that exposes it to JavaScript as
//! `ExecutionManager` (see `../shared/API.md` for the contract).
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
