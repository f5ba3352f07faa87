//! JavaScript functions the binding calls, declared with `catch` wherever the
//! callee can run user code (getters, Proxy traps) and so can throw: an
//! exception must come back as an `Err`, never unwind through wasm.

use js_sys::{Array, JsString};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `Array.isArray(value)` (throws for a revoked Proxy).
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    pub fn is_array(value: &JsValue) -> Result<bool, JsValue>;

    /// `Object.getPrototypeOf(value)` (runs a Proxy trap).
    #[wasm_bindgen(catch, js_namespace = Object, js_name = getPrototypeOf)]
    pub fn get_prototype_of(value: &JsValue) -> Result<JsValue, JsValue>;

    /// `Object.keys(value)` (runs Proxy traps).
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    pub fn object_keys(value: &JsValue) -> Result<Array, JsValue>;

    /// `Reflect.get(target, key)` (runs getters and Proxy traps).
    #[wasm_bindgen(catch, js_namespace = Reflect, js_name = get)]
    pub fn reflect_get(target: &JsValue, key: &JsValue) -> Result<JsValue, JsValue>;

    /// `JSON.parse(text)`.
    #[wasm_bindgen(catch, js_namespace = JSON, js_name = parse)]
    pub fn json_parse(text: &str) -> Result<JsValue, JsValue>;

    /// `String(value)` (runs `toString`).
    #[wasm_bindgen(catch, js_name = String)]
    pub fn js_string(value: &JsValue) -> Result<JsString, JsValue>;

    /// `crypto.getRandomValues(array)`.
    #[wasm_bindgen(catch, js_namespace = ["globalThis", "crypto"], js_name = getRandomValues)]
    pub fn get_random_values(array: &js_sys::Uint8Array) -> Result<JsValue, JsValue>;

    /// `Number.parseFloat(text)`: a builtin, but a page may have replaced it.
    #[wasm_bindgen(catch, js_namespace = Number, js_name = parseFloat)]
    pub fn parse_float(text: &str) -> Result<f64, JsValue>;

    /// `Date.now()`.
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    pub fn date_now() -> f64;
}

/// Whether a JS string has no lone surrogates (`String.prototype.isWellFormed`,
/// in Node 20 and every current browser).
pub fn is_well_formed(s: &JsString) -> bool {
    s.is_well_formed()
}
