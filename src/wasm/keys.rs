//! Property names the binding reads and writes on every call, made into JS
//! strings once: passing a `&str` to JS costs an encode and an allocation
//! each time, a cached `JsValue` costs a reference clone.

use wasm_bindgen::JsValue;

macro_rules! keys {
    ($($name:literal),* $(,)?) => {
        const NAMES: &[&str] = &[$($name),*];
    };
}

keys![
    "id",
    "targetId",
    "type",
    "inputs",
    "config",
    "status",
    "page",
    "pageSize",
    "order",
    "cursor",
    "concurrency",
    "maxFinished",
    "maxBytes",
    "message",
    "code",
    "name",
    "stack",
    "length",
    "signal",
    "progress",
    "execution",
    "reason",
    "method",
    "path",
    "query",
    "body",
    "text",
    "url",
    "headers",
    "priority",
    "delayMs",
    "runAt",
    "retry",
    "attempts",
    "backoff",
    "retryable",
];

thread_local! {
    static CACHE: Vec<JsValue> = NAMES.iter().map(|n| JsValue::from_str(n)).collect();
}

/// The JS string for a property name (cached for the common ones).
pub fn key(name: &str) -> JsValue {
    match NAMES.iter().position(|n| *n == name) {
        Some(i) => CACHE.with(|c| c.get(i).cloned().unwrap_or_else(|| JsValue::from_str(name))),
        None => JsValue::from_str(name),
    }
}
