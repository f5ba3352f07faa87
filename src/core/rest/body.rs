//! What the `POST` routes read from their bodies, besides a create request
//! (which [`new_execution`](super::new_execution) reads): `tracked` on a
//! create, a cancel's `{ reason? }`, a progress report, a completion's
//! `{ result? }` and a failure's `{ error }`. Each reader answers
//! `INVALID_ARGUMENT` naming the field, as the JS methods do.

use serde_json::{Map, Value};

use super::Body;
use crate::core::error::Error;
use crate::core::json::describe;
use crate::core::progress::Progress;
use crate::core::record::{units, Failure, MAX_DETAIL};

/// The body's object, `None` for no body (absent or `null`), or 400 naming
/// what it should have been (`shape`, e.g. `{ reason? }`).
fn object<'b>(body: &'b Body, shape: &str) -> Result<Option<&'b Map<String, Value>>, Error> {
    match body {
        Body::Absent | Body::Json(Value::Null) => Ok(None),
        Body::Json(Value::Object(map)) => Ok(Some(map)),
        Body::Json(other) => Err(Error::invalid(
            "body",
            format!("must be an object {shape}, got {}", describe(other)),
        )),
        Body::Invalid(reason) => Err(Error::invalid("body", reason.clone())),
    }
}

/// A field that is absent or `null`: `None`.
fn given<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// `tracked` of a create body: absent is `false`; otherwise `true` or
/// `false`. (A body that is not an object is left to the create validator.)
pub fn tracked(body: &Body) -> Result<bool, Error> {
    let Body::Json(Value::Object(map)) = body else {
        return Ok(false);
    };
    match map.get("tracked") {
        None => Ok(false),
        Some(Value::Bool(tracked)) => Ok(*tracked),
        Some(other) => Err(Error::invalid(
            "request.tracked",
            format!("must be true or false, got {}", describe(other)),
        )),
    }
}

/// A cancel's body: none, or `{ reason? }` with a string (or `null`) reason.
pub fn cancel_reason(body: &Body) -> Result<Option<String>, Error> {
    let Some(map) = object(body, "{ reason? }")? else {
        return Ok(None);
    };
    match given(map, "reason") {
        None => Ok(None),
        Some(Value::String(reason)) => Ok(Some(reason.clone())),
        Some(other) => Err(Error::invalid(
            "reason",
            format!("must be a string, got {}", describe(other)),
        )),
    }
}

/// A progress report: `{ current, total?, message? }` (`null` for `total` or
/// `message` means absent), its ranges checked by the rules of every report
/// ([`Progress::new`]: `current` ≥ 0, `total` > 0).
pub fn progress(body: &Body) -> Result<(f64, Option<f64>, Option<String>), Error> {
    let shape = "{ current, total?, message? }";
    let map = object(body, shape)?
        .ok_or_else(|| Error::invalid("body", format!("is missing: it must be {shape}")))?;
    let number = |key: &str, value: &Value| {
        value.as_f64().ok_or_else(|| {
            Error::invalid(key, format!("must be a number, got {}", describe(value)))
        })
    };
    let current = match map.get("current") {
        None => return Err(Error::invalid("current", "is missing (a number ≥ 0)")),
        Some(value) => number("current", value)?,
    };
    let total = given(map, "total")
        .map(|value| number("total", value))
        .transpose()?;
    let message = match given(map, "message") {
        None => None,
        Some(Value::String(message)) => Some(message.clone()),
        Some(other) => {
            return Err(Error::invalid(
                "message",
                format!("must be a string, got {}", describe(other)),
            ))
        }
    };
    Progress::new(current, total, None, 0.0)?;
    Ok((current, total, message))
}

/// A completion's body: none, or `{ result? }`; the result defaults to `null`.
pub fn result(body: &Body) -> Result<Option<Value>, Error> {
    Ok(object(body, "{ result? }")?.and_then(|map| map.get("result").cloned()))
}

/// A failure's body: `{ error }`, `error` being what `fail(id, error)`
/// takes from JSON: a string (the message), or `{ message, code?, name?,
/// stack? }` with string fields. An empty `code` or `name` is the default
/// (`EXTERNAL_ERROR`, `"Error"`); each text is at most [`MAX_DETAIL`]
/// UTF-16 units.
pub fn failure(body: &Body) -> Result<Failure, Error> {
    let shape = "{ error }";
    let map = object(body, shape)?
        .ok_or_else(|| Error::invalid("body", format!("is missing: it must be {shape}")))?;
    let text = |field: &str, value: &str| {
        if units(value) > u64::from(MAX_DETAIL) {
            Err(Error::invalid(
                field,
                format!("is longer than {MAX_DETAIL} characters"),
            ))
        } else {
            Ok(value.to_owned())
        }
    };
    let details = match map.get("error") {
        None => {
            return Err(Error::invalid(
                "error",
                "is missing: a string or { message, code?, name?, stack? }",
            ))
        }
        Some(Value::String(message)) => {
            return Ok(Failure::new(
                "EXTERNAL_ERROR",
                "Error",
                text("error", message)?,
            ))
        }
        Some(Value::Object(details)) => details,
        Some(other) => {
            return Err(Error::invalid(
                "error",
                format!(
                    "must be a string or {{ message, code?, name?, stack? }}, got {}",
                    describe(other)
                ),
            ))
        }
    };
    let field = |key: &str| -> Result<Option<String>, Error> {
        let name = format!("error.{key}");
        match details.get(key) {
            None => Ok(None),
            Some(Value::String(value)) => text(&name, value).map(Some),
            Some(other) => Err(Error::invalid(
                name,
                format!("must be a string, got {}", describe(other)),
            )),
        }
    };
    let message = field("message")?
        .ok_or_else(|| Error::invalid("error.message", "is missing (a string)"))?;
    let code = field("code")?.filter(|c| !c.is_empty());
    let name = field("name")?.filter(|n| !n.is_empty());
    let stack = field("stack")?;
    Ok(Failure {
        code: code.unwrap_or_else(|| "EXTERNAL_ERROR".into()),
        name: name.unwrap_or_else(|| "Error".into()),
        message,
        stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json(value: Value) -> Body {
        Body::Json(value)
    }

    fn message(error: Error) -> String {
        error.to_string()
    }

    #[test]
    fn tracked_is_a_boolean() {
        assert_eq!(tracked(&Body::Absent), Ok(false));
        assert_eq!(tracked(&json(json!([1]))), Ok(false));
        assert_eq!(tracked(&json(json!({}))), Ok(false));
        assert_eq!(tracked(&json(json!({ "tracked": true }))), Ok(true));
        assert_eq!(tracked(&json(json!({ "tracked": false }))), Ok(false));
        assert_eq!(
            message(tracked(&json(json!({ "tracked": "yes" }))).unwrap_err()),
            "invalid argument `request.tracked`: must be true or false, got \"yes\""
        );
        assert!(tracked(&json(json!({ "tracked": null }))).is_err());
    }

    #[test]
    fn progress_bodies() {
        assert_eq!(
            progress(&json(
                json!({ "current": 2, "total": 4, "message": "half" })
            )),
            Ok((2.0, Some(4.0), Some("half".into())))
        );
        assert_eq!(
            progress(&json(
                json!({ "current": 0.5, "total": null, "message": null })
            )),
            Ok((0.5, None, None))
        );
        let cases = [
            (Body::Absent, "`body`: is missing"),
            (
                json(json!(3)),
                "`body`: must be an object { current, total?, message? }, got 3",
            ),
            (json(json!({})), "`current`: is missing"),
            (
                json(json!({ "current": null })),
                "`current`: must be a number, got null",
            ),
            (
                json(json!({ "current": "1" })),
                "`current`: must be a number, got \"1\"",
            ),
            (
                json(json!({ "current": 1, "total": "2" })),
                "`total`: must be a number",
            ),
            (
                json(json!({ "current": 1, "message": 5 })),
                "`message`: must be a string, got 5",
            ),
        ];
        for (body, expected) in cases {
            let got = message(progress(&body).unwrap_err());
            assert!(got.contains(expected), "{got} / {expected}");
        }
    }

    #[test]
    fn results() {
        assert_eq!(result(&Body::Absent), Ok(None));
        assert_eq!(result(&json(Value::Null)), Ok(None));
        assert_eq!(result(&json(json!({}))), Ok(None));
        assert_eq!(
            result(&json(json!({ "result": null }))),
            Ok(Some(Value::Null))
        );
        assert_eq!(
            result(&json(json!({ "result": [1] }))),
            Ok(Some(json!([1])))
        );
        assert!(message(result(&json(json!("x"))).unwrap_err()).contains("{ result? }"));
    }

    #[test]
    fn failures() {
        assert_eq!(
            failure(&json(json!({ "error": "disk full" }))),
            Ok(Failure::new("EXTERNAL_ERROR", "Error", "disk full"))
        );
        assert_eq!(
            failure(&json(
                json!({ "error": { "message": "m", "code": "", "name": "" } })
            )),
            Ok(Failure::new("EXTERNAL_ERROR", "Error", "m"))
        );
        let full = failure(&json(json!({
            "error": { "message": "m", "code": "E_IO", "name": "IOError", "stack": "at x" }
        })))
        .unwrap();
        assert_eq!(
            (
                full.code.as_str(),
                full.name.as_str(),
                full.stack.as_deref()
            ),
            ("E_IO", "IOError", Some("at x"))
        );
        let long = "x".repeat(MAX_DETAIL as usize + 1);
        let cases = [
            (Body::Absent, "`body`: is missing"),
            (json(json!({})), "`error`: is missing"),
            (json(json!({ "error": 1 })), "`error`: must be a string or"),
            (json(json!({ "error": {} })), "`error.message`: is missing"),
            (
                json(json!({ "error": { "message": null } })),
                "`error.message`: must be a string, got null",
            ),
            (
                json(json!({ "error": { "message": "m", "code": 7 } })),
                "`error.code`: must be a string",
            ),
            (
                json(json!({ "error": long.clone() })),
                "`error`: is longer than 65536",
            ),
            (
                json(json!({ "error": { "message": "m", "stack": long } })),
                "`error.stack`: is longer than 65536",
            ),
        ];
        for (body, expected) in cases {
            let got = message(failure(&body).unwrap_err());
            assert!(got.contains(expected), "{got} / {expected}");
        }
        // 65,536 UTF-16 units exactly is accepted (an astral character is two units).
        let at_limit = "😀".repeat(MAX_DETAIL as usize / 2);
        assert!(failure(&json(json!({ "error": at_limit }))).is_ok());
    }

    #[test]
    fn cancel_reasons() {
        assert_eq!(cancel_reason(&Body::Absent), Ok(None));
        assert_eq!(cancel_reason(&json(json!({ "reason": null }))), Ok(None));
        assert_eq!(
            cancel_reason(&json(json!({ "reason": "r" }))),
            Ok(Some("r".into()))
        );
        assert!(cancel_reason(&json(json!({ "reason": 1 }))).is_err());
        assert!(cancel_reason(&json(json!([]))).is_err());
    }
}
