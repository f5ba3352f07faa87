//! JSON-compatible values: the depth rule, and small writers used to build
//! snapshots as JSON text without an intermediate tree.

use serde_json::Value;

use super::error::{Error, Result};

/// The deepest nesting accepted; the outermost object or array is level 1.
pub const MAX_DEPTH: usize = 128;

/// Checks the contract's depth rule (≤ 128 levels) for a parsed value.
pub fn check_depth(value: &Value, field: &str) -> Result<()> {
    fn depth_ok(value: &Value, level: usize) -> bool {
        match value {
            Value::Array(items) => {
                level <= MAX_DEPTH && items.iter().all(|v| depth_ok(v, level + 1))
            }
            Value::Object(map) => {
                level <= MAX_DEPTH && map.values().all(|v| depth_ok(v, level + 1))
            }
            _ => true,
        }
    }
    if depth_ok(value, 1) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("nesting deeper than {MAX_DEPTH} levels"),
        ))
    }
}

/// A JSON number for `v`: integers stay integers, NaN and ±Infinity are `None`.
pub fn number(v: f64) -> Option<Value> {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 && !(v == 0.0 && v.is_sign_negative())
    {
        Some(Value::from(v as i64))
    } else {
        serde_json::Number::from_f64(v).map(Value::Number)
    }
}

/// Appends `v` as JSON text (`null` for a non-finite value, which callers never store).
pub fn write_f64(out: &mut String, v: f64) {
    match number(v) {
        Some(Value::Number(n)) => out.push_str(&n.to_string()),
        _ => out.push_str("null"),
    }
}

/// Appends `s` as a JSON string literal (runs that need no escape are copied whole).
pub fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends `"key":` to an object being written.
pub fn write_key(out: &mut String, key: &str) {
    write_str(out, key);
    out.push(':');
}

/// Appends an optional string, `null` when absent.
pub fn write_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

/// Appends an optional number, `null` when absent.
pub fn write_opt_f64(out: &mut String, v: Option<f64>) {
    match v {
        Some(v) => write_f64(out, v),
        None => out.push_str("null"),
    }
}

/// A short description of a JSON value for error messages: `null`, `true`,
/// `3`, a quoted string, `an array` or `an object`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Serialises a value to JSON text, compact, as `serde_json::to_string`
/// writes it (the same bytes: this writer is here so that the `.wasm` needs
/// no serde serialiser).
pub fn to_text(value: &Value) -> Box<str> {
    let mut out = String::new();
    write_value(&mut out, value);
    out.into_boxed_str()
}

/// Appends a value as compact JSON text.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_key(out, key);
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn to_text_writes_what_serde_json_writes() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let value = json!({
            "b": [null, true, false, 0, -1, 1.5, -0.0, 1e300, 5e-324, u64::MAX, i64::MIN],
            "a": { "": "", "q\"\\/": controls, "é😀\u{7f}\u{2028}": [[], {}] },
        });
        assert_eq!(&*to_text(&value), serde_json::to_string(&value).unwrap());
        let mut s = String::new();
        write_str(&mut s, &controls);
        assert_eq!(s, serde_json::to_string(&controls).unwrap());
    }

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    }

    #[test]
    fn depth_128_is_accepted_and_129_is_not() {
        assert!(check_depth(&nested(128), "inputs").is_ok());
        let err = check_depth(&nested(129), "inputs").unwrap_err();
        assert!(err.to_string().contains("inputs"));
        assert!(check_depth(&json!("flat"), "inputs").is_ok());
    }

    #[test]
    fn numbers_keep_integers_integral() {
        let mut s = String::new();
        write_f64(&mut s, 3.0);
        s.push(' ');
        write_f64(&mut s, 0.5);
        s.push(' ');
        write_f64(&mut s, 1e300);
        assert_eq!(s, "3 0.5 1e+300");
        assert_eq!(number(f64::NAN), None);
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn written_strings_parse_back(s in proptest::prelude::any::<String>()) {
            let mut out = String::new();
            write_str(&mut out, &s);
            let back: String = serde_json::from_str(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é");
    }
}
