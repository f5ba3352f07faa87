//! A JSON text reader (RFC 8259) with a nesting limit, for request bodies.
//!
//! serde_json's reader stops at 127 levels, one short of a create body
//! around 128-level `inputs`, and the wasm build has no other use for it;
//! this one is bounded by the caller's limit (so its recursion is bounded
//! too), rejects lone surrogates as the contract asks, and rounds numbers as
//! `JSON.parse` does.

use serde_json::{Map, Value};

/// Whether `text` is empty or only JSON whitespace (space, tab, line feed,
/// carriage return).
pub fn is_blank(text: &str) -> bool {
    text.trim_matches([' ', '\t', '\n', '\r']).is_empty()
}

/// Reads `text` as one JSON value nesting at most `max_depth` levels (the
/// outermost object or array is level 1). The error says what is wrong and
/// at which byte.
pub fn parse(text: &str, max_depth: usize) -> Result<Value, String> {
    read(text, max_depth, true)
}

/// Whether [`parse`] would read `text`, without building the value (no
/// allocation for texts without errors).
pub fn is_valid(text: &str, max_depth: usize) -> bool {
    read(text, max_depth, false).is_ok()
}

fn read(text: &str, max_depth: usize, build: bool) -> Result<Value, String> {
    let mut p = Reader {
        text,
        pos: 0,
        max_depth,
        build,
    };
    let value = p.value(1)?;
    p.skip_ws();
    if p.pos < text.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

/// The reader's state: the text, the byte it is at and the nesting limit.
struct Reader<'a> {
    text: &'a str,
    pos: usize,
    max_depth: usize,
    /// Whether values are built; when not, every container and string
    /// comes out empty (only whether the text reads matters).
    build: bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.container(depth, true),
            Some(b'[') => self.container(depth, false),
            Some(b'"') => self.string().map(Value::String),
            Some(_) => self.scalar(),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn container(&mut self, depth: usize, object: bool) -> Result<Value, String> {
        if depth > self.max_depth {
            let max = self.max_depth;
            return Err(self.error(&format!("nesting deeper than {max} levels")));
        }
        self.pos += 1;
        let (close, expected) = if object {
            (b'}', "expected ',' or '}'")
        } else {
            (b']', "expected ',' or ']'")
        };
        let mut map = Map::new();
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                if object {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a string key"));
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':'"));
                    }
                    self.pos += 1;
                    let value = self.value(depth + 1)?;
                    // As JSON.parse: a repeated key keeps its place, the last value wins.
                    if self.build {
                        map.insert(key, value);
                    }
                } else {
                    let value = self.value(depth + 1)?;
                    if self.build {
                        items.push(value);
                    }
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(c) if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error(expected)),
                }
            }
        }
        Ok(if object {
            Value::Object(map)
        } else {
            Value::Array(items)
        })
    }

    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character.
            let run_start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // Stops only at ASCII bytes, so both ends are char boundaries.
            if self.build {
                out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    if self.build {
                        out.push(c);
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(format!("unterminated string starting at byte {start}")),
            }
        }
    }

    /// The character of an escape, just after its backslash.
    fn escape(&mut self) -> Result<char, String> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.text.get(self.pos..self.pos + 2) != Some("\\u") {
                        return Err(self.error("lone leading surrogate in a \\u escape"));
                    }
                    self.pos += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err(self.error("lone leading surrogate in a \\u escape"));
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                return char::from_u32(code)
                    .ok_or_else(|| self.error("lone trailing surrogate in a \\u escape"));
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
        let code = u32::from_str_radix(digits, 16).map_err(|_| self.error("bad \\u escape"))?;
        self.pos += 4;
        Ok(code)
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, String> {
        if self.text.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `true`, `false`, `null` or a number (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`).
    /// Integers stay integers where they fit; other numbers are parsed
    /// correctly rounded, as `JSON.parse` does; out-of-range ones are an error.
    fn scalar(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b't') => return self.literal("true", Value::Bool(true)),
            Some(b'f') => return self.literal("false", Value::Bool(false)),
            Some(b'n') => return self.literal("null", Value::Null),
            _ => {}
        }
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        let leading_zero = self.text.as_bytes().get(int_start) == Some(&b'0');
        if int_digits == 0 || (leading_zero && int_digits > 1) {
            self.pos = start;
            return Err(self.error("expected a value"));
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integral = false;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            integral = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let token = self.text.get(start..self.pos).unwrap_or_default();
        if integral {
            if let Ok(n) = token.parse::<u64>() {
                return Ok(Value::from(n));
            }
            // `-0` stays a float, as the JS side keeps it.
            if let Ok(n) = token.parse::<i64>().map_err(drop).and_then(|n| match n {
                0 => Err(()),
                n => Ok(n),
            }) {
                return Ok(Value::from(n));
            }
        }
        token
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("number {token} out of range at byte {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_limits_and_errors() {
        assert_eq!(
            parse(" [[1, {\"a\": null}]] ", 3),
            Ok(json!([[1, { "a": null }]]))
        );
        assert_eq!(
            parse("[[1]]", 1),
            Err("nesting deeper than 1 levels at byte 1".into())
        );
        assert_eq!(parse("\"\\ud83d\\ude00\"", 1), Ok(json!("😀")));
        assert!(parse("\"\\ud800\"", 1).is_err());
        assert!(parse("\"\\udc00\"", 1).is_err());
        assert_eq!(parse("1 2", 1), Err("trailing characters at byte 2".into()));
        assert_eq!(parse("{\"a\":1,\"a\":2}", 1), Ok(json!({ "a": 2 })));
        assert!(parse("-0", 1).is_ok_and(|v| v.is_f64()));
        assert!(parse("01", 1).is_err());
        // Validation alone agrees with parsing.
        for text in [
            " [[1, {\"a\": \"x\\u00e9\"}]] ",
            "[[1]]",
            "\"\\ud800\"",
            "1 2",
            "01",
            "1e400",
            "-0",
            "{\"a\":1,\"a\":2}",
            "[1,]",
            "\"\u{1}\"",
        ] {
            for depth in [1, 3] {
                assert_eq!(is_valid(text, depth), parse(text, depth).is_ok(), "{text}");
            }
        }
        assert!(is_blank(" \t\r\n"));
        assert!(!is_blank("\u{a0}"));
    }
}
