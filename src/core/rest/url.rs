//! Percent-decoding of URL paths and query strings.

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
}
