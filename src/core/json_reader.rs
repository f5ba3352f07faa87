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
        float(token)
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("number {token} out of range at byte {start}"))
    }
}

/// A number token (already checked against the grammar) as the nearest
/// double, `None` or an infinity when it is out of range.
fn float(token: &str) -> Option<f64> {
    fast_float(token).or_else(|| slow_float(token))
}

/// Powers of ten that doubles hold exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path: a token whose digits, without the point, make an
/// integer `w` < 2^53 and whose decimal exponent `e` is within ±22 is
/// exactly `w × 10^e` or `w / 10^−e`, one correctly rounded operation on two
/// exact doubles. `None` for any other token (most of what JSON carries is
/// not one).
fn fast_float(token: &str) -> Option<f64> {
    let (negative, rest) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (digits, exp) = match rest.find(['e', 'E']) {
        Some(at) => (rest.get(..at)?, rest.get(at + 1..)?.parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    // trailing zeros of the fraction change nothing (leading zeros are skipped below)
    let frac = frac.trim_end_matches('0');
    let mut w: u64 = 0;
    let mut count = 0usize;
    for b in int.bytes().chain(frac.bytes()) {
        if w == 0 && b == b'0' {
            continue; // leading zeros, as in "0.000123"
        }
        count += 1;
        if count > 15 {
            return None;
        }
        w = w * 10 + u64::from(b - b'0');
    }
    let frac_len = i32::try_from(frac.len()).ok()?;
    let e = exp.checked_sub(frac_len)?;
    let w = w as f64; // exact: at most 15 digits
    let v = match usize::try_from(e) {
        _ if w == 0.0 => 0.0,
        Ok(up) => w * POW10.get(up)?,
        Err(_) => w / POW10.get(usize::try_from(e.checked_neg()?).ok()?)?,
    };
    Some(if negative { -v } else { v })
}

/// Any other token. In the `.wasm`, JavaScript's own conversion (the one
/// `JSON.parse` uses): Rust's correctly rounded one needs 10 KiB of tables.
/// It is the one call into JS made while the engine's state is borrowed: a
/// builtin that runs no user code unless a page replaced it, and then an
/// exception comes back as "not a number" and a call of that code into the
/// manager fails as busy.
#[cfg(not(target_arch = "wasm32"))]
fn slow_float(token: &str) -> Option<f64> {
    token.parse().ok()
}

#[cfg(target_arch = "wasm32")]
fn slow_float(token: &str) -> Option<f64> {
    crate::wasm::ffi::parse_float(token).ok()
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

    /// The fast path gives exactly what the correctly rounded conversion
    /// gives, whenever it answers, and answers for the short tokens.
    #[test]
    fn fast_float_is_correctly_rounded() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut answered = 0;
        for _ in 0..200_000 {
            let digits: String = (0..1 + next(20))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let cut = next(digits.len() as u64 + 1) as usize;
            let mut token = String::new();
            if next(2) == 0 {
                token.push('-');
            }
            let (int, frac) = digits.split_at(cut);
            token.push_str(if int.is_empty() { "0" } else { int });
            if !frac.is_empty() {
                token.push('.');
                token.push_str(frac);
            }
            if next(2) == 0 {
                let e = next(70) as i64 - 35;
                token.push_str(&format!(
                    "e{}{e}",
                    if next(2) == 0 && e >= 0 { "+" } else { "" }
                ));
            }
            let exact: f64 = token.parse().unwrap();
            if let Some(v) = fast_float(&token) {
                answered += 1;
                assert_eq!(v.to_bits(), exact.to_bits(), "{token}");
            }
            assert_eq!(
                float(&token).map(f64::to_bits),
                Some(exact.to_bits()),
                "{token}"
            );
        }
        assert!(answered > 50_000, "{answered}");
        for (token, v) in [
            ("0.1", 0.1),
            ("-0.0", -0.0),
            ("1e22", 1e22),
            ("123456789012345e-22", 1.23456789012345e-8),
        ] {
            assert_eq!(
                fast_float(token).map(f64::to_bits),
                Some(f64::to_bits(v)),
                "{token}"
            );
        }
        assert_eq!(fast_float("1e23"), None);
        assert_eq!(fast_float("1234567890123456"), None);
        assert_eq!(
            parse("1e400", 1),
            Err("number 1e400 out of range at byte 0".into())
        );
    }
}
