//! The one conversion from the core's error to a JS `Error` named
//! `ExecutionError` with a string `code`.

use wasm_bindgen::prelude::*;

use crate::core::Error;

/// A JS `Error` with `name = "ExecutionError"` and the contract's `code`.
pub fn to_js(error: &Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("ExecutionError");
    // Setting a property on a fresh Error cannot throw.
    let _ = js_sys::Reflect::set(
        &js,
        &super::keys::key("code"),
        &JsValue::from_str(error.code()),
    );
    js.into()
}

/// Converts a core result for returning to JS.
pub fn js<T>(result: Result<T, Error>) -> Result<T, JsValue> {
    result.map_err(|e| to_js(&e))
}
