//! Percent-decoding of URL paths and query strings, and percent-encoding
//! of one path segment (the id in a `Location`).

/// Percent-decodes `raw` (and `+` to a space when `plus_is_space`); the
/// result must be UTF-8.
pub fn decode(raw: &str, plus_is_space: bool) -> Result<String, String> {
    let escaped = raw.contains('%') || (plus_is_space && raw.contains('+'));
    if !escaped {
        return Ok(raw.to_owned());
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hi = it.next().and_then(hex);
                let lo = it.next().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => bytes.push((hi << 4) | lo),
                    _ => {
                        return Err(format!(
                            "{raw:?} is not valid percent-encoding (% must be followed by two hex digits)"
                        ))
                    }
                }
            }
            b'+' if plus_is_space => bytes.push(b' '),
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("{raw:?} does not decode to UTF-8"))
}

/// Percent-encodes `text` as one path segment: every byte of its UTF-8 but
/// the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`) becomes
/// `%XX`, so `/`, `?`, `#`, `%` and spaces inside an id stay inside it.
pub fn encode_segment(text: &str) -> String {
    let digit = |n: u8| char::from(if n < 10 { b'0' + n } else { b'A' + n - 10 });
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(digit(b >> 4));
            out.push(digit(b & 15));
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode("a%2Fb", false).unwrap(), "a/b");
        assert_eq!(decode("a+b", false).unwrap(), "a+b");
        assert_eq!(decode("a+b", true).unwrap(), "a b");
        assert_eq!(decode("%C3%A9", true).unwrap(), "é");
        assert!(decode("%", true).is_err());
        assert!(decode("%4", true).is_err());
        assert!(decode("%zz", true).is_err());
        assert!(decode("%C3", true).is_err());
        assert!(decode("%FF", true).is_err());
    }

    #[test]
    fn encoding_a_segment_round_trips() {
        assert_eq!(encode_segment("job-1.a_b~"), "job-1.a_b~");
        assert_eq!(encode_segment("a/b c%?#+"), "a%2Fb%20c%25%3F%23%2B");
        assert_eq!(encode_segment("é😀"), "%C3%A9%F0%9F%98%80");
        for text in ["résumé/€ 😀", "100%", "a+b", "..", ""] {
            assert_eq!(decode(&encode_segment(text), false).unwrap(), text);
        }
    }
}
