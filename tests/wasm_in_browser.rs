#![cfg(target_arch = "wasm32")]
//! The wasm-bindgen-test suites again, configured to run in a browser, so that a plain
//! `wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver` runs them in
//! Chromium (the other binaries run in Node unless `WASM_BINDGEN_USE_BROWSER=1` is set).

// Both suites bring tests/wasm_support/mod.rs along; here that makes two copies of it.
#![allow(clippy::duplicate_mod)]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "wasm_engine.rs"]
mod engine;
#[path = "wasm_events.rs"]
mod events;
#[path = "wasm_runtime.rs"]
mod runtime;
