#![cfg(not(target_arch = "wasm32"))]
//! The wire check: every constant of `src/wire.rs` has the same value in the
//! `// wire:begin` … `// wire:end` block of `js/manager.js`, and that block
//! defines nothing else.

use std::collections::BTreeMap;

/// `NAME -> value` of the block's `const NAME = value;` lines.
fn js_wire() -> BTreeMap<String, f64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/js/manager.js");
    let text = std::fs::read_to_string(path).expect("js/manager.js");
    let start = text.find("// wire:begin").expect("a `// wire:begin` line");
    let end = text.find("// wire:end").expect("a `// wire:end` line");
    let mut js = BTreeMap::new();
    for line in text[start..end].lines().skip(1) {
        let rest = line
            .strip_prefix("const ")
            .unwrap_or_else(|| panic!("not `const NAME = value;`: {line}"));
        let (name, value) = rest.split_once(" = ").expect("`const NAME = value;`");
        let value: f64 = value.trim_end_matches(';').parse().expect("a number");
        assert!(js.insert(name.to_owned(), value).is_none(), "{name} twice");
    }
    js
}

#[test]
fn js_wire_matches_the_rust_wire() {
    let js = js_wire();
    let rust: BTreeMap<String, f64> = execman::wire::ALL
        .iter()
        .map(|&(n, v)| (n.to_owned(), v))
        .collect();
    for (name, value) in &rust {
        assert_eq!(js.get(name), Some(value), "js/manager.js {name}");
    }
    for name in js.keys() {
        assert!(
            rust.contains_key(name),
            "js/manager.js defines {name}, src/wire.rs does not"
        );
    }
}
