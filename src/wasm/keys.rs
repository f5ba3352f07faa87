//! Property names the binding reads and writes on every call, made into JS
//! strings once: passing a `&str` to JS costs an encode and an allocation
//! each time; a cached `JsValue` is lent to the call (see [`with_key`]).

use wasm_bindgen::JsValue;

macro_rules! keys {
    ($($name:literal),* $(,)?) => {
        const NAMES: &[&str] = &[$($name),*];
    };
}

// The fields of a create/track request first, in the order they are read (every
// create looks each one up).
keys![
    "id",
    "targetId",
    "type",
    "inputs",
    "config",
    "priority",
    "delayMs",
    "runAt",
    "retry",
    "signal",
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
    "attempts",
    "backoff",
    "retryable",
];

thread_local! {
    static CACHE: Vec<JsValue> = NAMES.iter().map(|n| JsValue::from_str(n)).collect();
}

/// Calls `f` with the JS string for a property name: the cached one for the
/// common names (lent, not cloned: a clone of a `JsValue` takes a slot of
/// the externref table and gives it back), a fresh one for the others.
pub fn with_key<T>(name: &str, f: impl FnOnce(&JsValue) -> T) -> T {
    match NAMES.iter().position(|n| *n == name) {
        // The cache never changes once made: a getter that re-enters here meanwhile is fine.
        Some(i) => CACHE.with(|c| match c.get(i) {
            Some(key) => f(key),
            None => f(&JsValue::from_str(name)),
        }),
        None => f(&JsValue::from_str(name)),
    }
}
