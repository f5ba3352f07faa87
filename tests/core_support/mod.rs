//! Helpers shared by the native test files (`#[path]`-included: a folder with a `mod.rs` is not
//! a test crate of its own).

use serde_json::Value;

/// The ids of a `Page`'s items, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}
