//! The one validator of a `create`/`track` request, shared by the binding
//! (a JS object) and REST (a JSON body).
//!
//! Each caller reads the request's known fields its own way (the binding
//! through getters that may throw, REST from a parsed object) and hands them
//! over one at a time as a [`Field`]; [`validate`] asks for them in a fixed
//! order (`id`, `targetId`, `type`, `inputs`, `config`, `priority`,
//! `delayMs`, `runAt`, `retry`), checks each as soon as it is read and stops
//! at the first error, so a later field is never read once an earlier one is
//! wrong. The rules:
//!
//! - `targetId`: a non-empty string.
//! - `id` and `type`: absent, or non-empty strings (`null` is rejected).
//! - `inputs`: absent, or any JSON value (`null` kept).
//! - `config`: absent, or a plain object.
//! - `priority`: absent, or a safe integer.
//! - `delayMs`: absent, or a finite number ≥ 0; `runAt`: absent, or a finite
//!   number (ms since epoch); not both.
//! - `retry`: absent, or `{ attempts, backoff? }` as [`Retry::from_json`]
//!   reads it (errors name the field inside, `request.retry.backoff.delayMs`).
//!
//! (`track` takes none of the last four: `Manager::track` refuses them.)
//!
//! What stays with the callers: whether the request itself is an object, the
//! conversion of a value into JSON (and its errors), and the checks that
//! `Manager::create` makes on every request (nesting depth, `timeoutMs`).

use serde_json::Value;

use super::error::Error;
use super::json::{check_depth, describe};
use super::manager::NewExecution;
use super::retry::Retry;

/// The largest safe integer of JS (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A known field of a request, in the order [`validate`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `id`: the execution's id, optional.
    Id,
    /// `targetId`: the target, required.
    TargetId,
    /// `type`: the execution's type, optional.
    Type,
    /// `inputs`: any JSON value, optional.
    Inputs,
    /// `config`: a plain object, optional.
    Config,
    /// `priority`: a safe integer, optional.
    Priority,
    /// `delayMs`: a finite number ≥ 0, optional.
    DelayMs,
    /// `runAt`: a finite number, optional (not with `delayMs`).
    RunAt,
    /// `retry`: a retry policy object, optional.
    Retry,
}

impl Key {
    /// The property name, e.g. `targetId`.
    pub fn name(self) -> &'static str {
        match self {
            Key::Id => "id",
            Key::TargetId => "targetId",
            Key::Type => "type",
            Key::Inputs => "inputs",
            Key::Config => "config",
            Key::Priority => "priority",
            Key::DelayMs => "delayMs",
            Key::RunAt => "runAt",
            Key::Retry => "retry",
        }
    }

    /// The field named in errors, e.g. `request.targetId`.
    pub fn field(self) -> &'static str {
        match self {
            Key::Id => "request.id",
            Key::TargetId => "request.targetId",
            Key::Type => "request.type",
            Key::Inputs => "request.inputs",
            Key::Config => "request.config",
            Key::Priority => "request.priority",
            Key::DelayMs => "request.delayMs",
            Key::RunAt => "request.runAt",
            Key::Retry => "request.retry",
        }
    }
}

/// One field as its caller read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Not given: a key the JSON object does not have.
    Missing,
    /// JS `undefined` (given or not). Absent for an optional field; the
    /// required `targetId` reports it as a value, "got a value of type
    /// undefined", as the binding always has.
    Undefined,
    /// A value, as JSON.
    Json(Value),
    /// A value the caller kept out of JSON, by its description for messages:
    /// the binding passes a JS value that is not a string where one is
    /// expected, or not a plain object for `config`, this way (its own
    /// description of JS values says more than a JSON one could).
    Other(String),
}

/// Turns a request's fields into a [`NewExecution`], reading each with
/// `read` in the order `id`, `targetId`, `type`, `inputs`, `config` and
/// stopping at the first error (of `read` or of a rule). Every error is
/// `INVALID_ARGUMENT` naming the field (`request.targetId`, …). (No caller
/// passes [`Field::Other`] for `inputs`: the binding converts inputs itself,
/// naming the path inside them in its errors.)
///
/// ```
/// use execman::core::request::{validate, Field, Key};
/// use serde_json::json;
///
/// let body = json!({ "targetId": "export", "inputs": [1, 2] });
/// let request = validate(|key: Key| {
///     Ok(body.get(key.name()).cloned().map_or(Field::Missing, Field::Json))
/// })?;
/// assert_eq!(request.target_id, "export");
/// assert_eq!(request.inputs, Some(json!([1, 2])));
///
/// let error = validate(|key: Key| Ok(match key {
///     Key::TargetId => Field::Json(json!("")),
///     _ => Field::Missing,
/// }))
/// .unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "invalid argument `request.targetId`: must be a non-empty string, got \"\""
/// );
/// # Ok::<(), execman::core::Error>(())
/// ```
pub fn validate(mut read: impl FnMut(Key) -> Result<Field, Error>) -> Result<NewExecution, Error> {
    let id = optional_string(Key::Id, read(Key::Id)?)?;
    if matches!(id.as_deref(), Some("." | "..")) {
        return Err(Error::invalid(
            Key::Id.field(),
            "must not be \".\" or \"..\", which no URL can address",
        ));
    }
    let target_id = match read(Key::TargetId)? {
        Field::Missing => {
            return Err(Error::invalid(
                Key::TargetId.field(),
                "is missing (a non-empty string)",
            ))
        }
        Field::Undefined => return Err(not_a_string(Key::TargetId, "a value of type undefined")),
        field => string(Key::TargetId, field)?,
    };
    let kind = optional_string(Key::Type, read(Key::Type)?)?;
    let inputs = match read(Key::Inputs)? {
        Field::Missing | Field::Undefined => None,
        Field::Json(value) => Some(value),
        Field::Other(shown) => {
            return Err(Error::invalid(
                Key::Inputs.field(),
                format!("must be a JSON-compatible value, got {shown}"),
            ))
        }
    };
    if let Some(inputs) = &inputs {
        check_depth(inputs, Key::Inputs.field())?;
    }
    let config = match read(Key::Config)? {
        Field::Missing | Field::Undefined => None,
        Field::Json(config @ Value::Object(_)) => Some(config),
        Field::Json(other) => return Err(not_an_object(&describe(&other))),
        Field::Other(shown) => return Err(not_an_object(&shown)),
    };
    if let Some(config) = &config {
        check_depth(config, Key::Config.field())?;
        timeout_ms(config)?;
    }
    let priority = number(Key::Priority, read(Key::Priority)?, "a safe integer", |n| {
        n.fract() == 0.0 && n.abs() <= MAX_SAFE
    })?
    .map(|n| n as i64);
    let delay_ms = number(
        Key::DelayMs,
        read(Key::DelayMs)?,
        "a finite number ≥ 0",
        |n| n.is_finite() && n >= 0.0,
    )?;
    let run_at = number(
        Key::RunAt,
        read(Key::RunAt)?,
        "a finite number (ms since epoch)",
        f64::is_finite,
    )?;
    if delay_ms.is_some() && run_at.is_some() {
        return Err(Error::invalid(
            Key::RunAt.field(),
            "cannot be given with `request.delayMs`: give one of them",
        ));
    }
    let retry = retry(read(Key::Retry)?, Key::Retry.field())?;
    Ok(NewExecution {
        id,
        target_id,
        kind,
        inputs,
        config,
        priority,
        delay_ms,
        run_at,
        retry,
    })
}

/// An optional retry policy (a request's `retry`, `register`'s
/// `options.retry`), `name` naming it in errors.
pub fn retry(field: Field, name: &str) -> Result<Option<Retry>, Error> {
    match field {
        Field::Missing | Field::Undefined => Ok(None),
        Field::Json(value) => Retry::from_json(&value, name).map(Some),
        Field::Other(shown) => Err(Error::invalid(
            name,
            format!("must be an object {{ attempts, backoff? }}, got {shown}"),
        )),
    }
}

/// An optional number field: absent, or a number that `ok` accepts
/// (`what` describes those in the error).
/// (`ok` is a plain function, not a closure: one copy of this in the .wasm.)
fn number(key: Key, field: Field, what: &str, ok: fn(f64) -> bool) -> Result<Option<f64>, Error> {
    match field {
        Field::Missing | Field::Undefined => Ok(None),
        Field::Json(Value::Number(n)) if n.as_f64().is_some_and(ok) => Ok(n.as_f64()),
        Field::Json(other) => Err(Error::invalid(
            key.field(),
            format!("must be {what}, got {}", describe(&other)),
        )),
        Field::Other(shown) => Err(Error::invalid(
            key.field(),
            format!("must be {what}, got {shown}"),
        )),
    }
}

/// `config.timeoutMs` of a config object: absent (or `null`), or a finite
/// number greater than 0.
pub fn timeout_ms(config: &Value) -> Result<Option<f64>, Error> {
    match config.get("timeoutMs") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(ms) if ms.is_finite() && ms > 0.0 => Ok(Some(ms)),
            _ => Err(timeout_error()),
        },
        Some(_) => Err(timeout_error()),
    }
}

fn timeout_error() -> Error {
    Error::invalid(
        "request.config.timeoutMs",
        "must be a finite number greater than 0",
    )
}

/// Runs [`validate`] over a request that is already typed (as Rust callers
/// of `Manager::create` pass it), so that it meets the same rules. Its
/// messages name the value (`must be a non-empty string, got ""`), where the
/// checks `Manager::prepare` makes itself today do not.
pub fn check(request: NewExecution) -> Result<NewExecution, Error> {
    let NewExecution {
        mut id,
        target_id,
        mut kind,
        mut inputs,
        mut config,
        priority,
        delay_ms,
        run_at,
        retry,
    } = request;
    let mut target_id = Some(target_id);
    // A number that JSON cannot hold (NaN, ±Infinity) is named as it is.
    let float = |n: Option<f64>| {
        n.map(|n| match super::json::number(n) {
            Some(value) => Field::Json(value),
            None if n.is_nan() => Field::Other("NaN".into()),
            None if n > 0.0 => Field::Other("Infinity".into()),
            None => Field::Other("-Infinity".into()),
        })
    };
    validate(|key| {
        let value = match key {
            Key::Id => id.take().map(Value::String),
            Key::TargetId => target_id.take().map(Value::String),
            Key::Type => kind.take().map(Value::String),
            Key::Inputs => inputs.take(),
            Key::Config => config.take(),
            Key::Priority => priority.map(Value::from),
            Key::DelayMs => return Ok(float(delay_ms).unwrap_or(Field::Missing)),
            Key::RunAt => return Ok(float(run_at).unwrap_or(Field::Missing)),
            Key::Retry => retry.map(|r| r.to_json()),
        };
        Ok(value.map_or(Field::Missing, Field::Json))
    })
}

/// An optional string field: absent (missing or `undefined`) is `None`.
fn optional_string(key: Key, field: Field) -> Result<Option<String>, Error> {
    match field {
        Field::Missing | Field::Undefined => Ok(None),
        field => string(key, field).map(Some),
    }
}

/// A given string field: a non-empty string.
fn string(key: Key, field: Field) -> Result<String, Error> {
    match field {
        Field::Json(Value::String(s)) if !s.is_empty() => Ok(s),
        Field::Json(other) => Err(not_a_string(key, &describe(&other))),
        Field::Other(shown) => Err(not_a_string(key, &shown)),
        Field::Missing | Field::Undefined => Err(not_a_string(key, "a value of type undefined")),
    }
}

fn not_a_string(key: Key, shown: &str) -> Error {
    Error::invalid(
        key.field(),
        format!("must be a non-empty string, got {shown}"),
    )
}

fn not_an_object(shown: &str) -> Error {
    Error::invalid(
        Key::Config.field(),
        format!("must be a plain object, got {shown}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reads fields from a JSON object, recording the order asked.
    fn from(body: &Value, asked: &mut Vec<Key>) -> Result<NewExecution, Error> {
        validate(|key| {
            asked.push(key);
            Ok(body
                .get(key.name())
                .cloned()
                .map_or(Field::Missing, Field::Json))
        })
    }

    fn message(body: Value) -> String {
        from(&body, &mut Vec::new()).unwrap_err().to_string()
    }

    #[test]
    fn a_full_request_is_read_in_order() {
        let mut asked = Vec::new();
        let body = json!({
            "id": "a", "targetId": "t", "type": "k",
            "inputs": null, "config": { "timeoutMs": 5 }, "other": 1
        });
        let request = from(&body, &mut asked).unwrap();
        assert_eq!(
            request,
            NewExecution {
                id: Some("a".into()),
                target_id: "t".into(),
                kind: Some("k".into()),
                inputs: Some(Value::Null),
                config: Some(json!({ "timeoutMs": 5 })),
                ..NewExecution::default()
            }
        );
        assert_eq!(
            asked,
            [
                Key::Id,
                Key::TargetId,
                Key::Type,
                Key::Inputs,
                Key::Config,
                Key::Priority,
                Key::DelayMs,
                Key::RunAt,
                Key::Retry
            ]
        );
    }

    #[test]
    fn the_first_error_stops_the_reading() {
        let mut asked = Vec::new();
        assert!(from(&json!({ "id": 1 }), &mut asked).is_err());
        assert_eq!(asked, [Key::Id]);
    }

    #[test]
    fn messages() {
        assert_eq!(
            message(json!({})),
            "invalid argument `request.targetId`: is missing (a non-empty string)"
        );
        assert_eq!(
            message(json!({ "targetId": null })),
            "invalid argument `request.targetId`: must be a non-empty string, got null"
        );
        assert_eq!(
            message(json!({ "targetId": "t", "id": "" })),
            "invalid argument `request.id`: must be a non-empty string, got \"\""
        );
        assert_eq!(
            message(json!({ "targetId": "t", "type": [1] })),
            "invalid argument `request.type`: must be a non-empty string, got an array"
        );
        assert_eq!(
            message(json!({ "targetId": "t", "config": [] })),
            "invalid argument `request.config`: must be a plain object, got an array"
        );
        let undefined = validate(|key| {
            Ok(match key {
                Key::Config => Field::Other("a value of type function".into()),
                _ => Field::Undefined,
            })
        });
        assert_eq!(
            undefined.unwrap_err().to_string(),
            "invalid argument `request.targetId`: must be a non-empty string, got a value of type undefined"
        );
        let config = validate(|key| {
            Ok(match key {
                Key::TargetId => Field::Json(json!("t")),
                Key::Config => Field::Other("a value of type function".into()),
                _ => Field::Undefined,
            })
        });
        assert_eq!(
            config.unwrap_err().to_string(),
            "invalid argument `request.config`: must be a plain object, got a value of type function"
        );
    }

    #[test]
    fn typed_requests_meet_the_same_rules() {
        let ok = NewExecution {
            target_id: "t".into(),
            config: Some(json!({})),
            ..NewExecution::default()
        };
        assert_eq!(check(ok.clone()), Ok(ok));
        let empty_id = NewExecution {
            id: Some(String::new()),
            target_id: "t".into(),
            ..NewExecution::default()
        };
        assert_eq!(check(empty_id).unwrap_err().code(), "INVALID_ARGUMENT");
        let bad_config = NewExecution {
            target_id: "t".into(),
            config: Some(json!(3)),
            ..NewExecution::default()
        };
        assert!(check(bad_config)
            .unwrap_err()
            .to_string()
            .contains("request.config"));
    }
}
