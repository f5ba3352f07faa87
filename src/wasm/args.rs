//! Parsing of the object arguments (`options`, `create`/`track` requests,
//! `list` queries) into the core's types.

use wasm_bindgen::prelude::*;

use serde_json::{Map, Value};

use super::convert::{describe, get, is_plain_object, json, string};
use super::{ffi, signal};
use crate::core::request::{self, Field, Key};
use crate::core::retry::Retry;
use crate::core::{number, Error, ListQuery, NewExecution, Options, Order, Status};

/// A positive integer or `Infinity` (`usize::MAX`); `None` for `undefined`.
fn limit(value: &JsValue, field: &str) -> Result<Option<usize>, Error> {
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n == f64::INFINITY => Ok(Some(usize::MAX)),
        Some(n) if n >= 1.0 && n.fract() == 0.0 && n.is_finite() => Ok(Some(n as usize)),
        _ => Err(Error::invalid(
            field,
            format!(
                "must be a positive integer or Infinity, got {}",
                describe(value)
            ),
        )),
    }
}

/// `new ExecutionManager(options?)`.
pub fn options(value: Option<JsValue>) -> Result<Options, Error> {
    let mut out = Options::default();
    let Some(value) = value else {
        return Ok(out);
    };
    if !is_plain_object(&value, "options")? {
        return Err(Error::invalid("options", "must be an object"));
    }
    if let Some(n) = limit(
        &get(&value, "concurrency", "options.concurrency")?,
        "options.concurrency",
    )? {
        out.concurrency = n;
    }
    if let Some(n) = limit(
        &get(&value, "maxFinished", "options.maxFinished")?,
        "options.maxFinished",
    )? {
        out.max_finished = n;
    }
    if let Some(n) = limit(
        &get(&value, "maxBytes", "options.maxBytes")?,
        "options.maxBytes",
    )? {
        out.max_bytes = u64::try_from(n).unwrap_or(u64::MAX);
    }
    Ok(out)
}

/// A registered target as `register(targetId, handler, options?)` gives
/// it: its id, default type and default retry policy.
pub type Target = (String, Option<String>, Option<Retry>);

/// `register(targetId, handler, options?)`.
pub fn target(target_id: &JsValue, options: Option<JsValue>) -> Result<Target, Error> {
    let id = non_empty(target_id, "targetId")?;
    let Some(options) = options else {
        return Ok((id, None, None));
    };
    if !is_plain_object(&options, "options")? {
        return Err(Error::invalid("options", "must be an object"));
    }
    let kind = get(&options, "type", "options.type")?;
    let kind = if kind.is_undefined() {
        None
    } else {
        Some(non_empty(&kind, "options.type")?)
    };
    let retry = request::retry(
        retry_field(&get(&options, "retry", "options.retry")?, "options.retry")?,
        "options.retry",
    )?;
    Ok((id, kind, retry))
}

/// A retry policy object as JSON for the core's validator: its known
/// fields only, those that are `undefined` left out (as absent), each
/// converted as a JSON value (so a NaN is refused naming its field).
fn retry_field(value: &JsValue, field: &str) -> Result<Field, Error> {
    if value.is_undefined() {
        return Ok(Field::Undefined);
    }
    if !is_plain_object(value, field)? {
        return Ok(Field::Other(describe(value)));
    }
    let mut out = Map::new();
    let attempts = get(value, "attempts", &format!("{field}.attempts"))?;
    if !attempts.is_undefined() {
        out.insert(
            "attempts".into(),
            json(&attempts, &format!("{field}.attempts"))?,
        );
    }
    let backoff_field = format!("{field}.backoff");
    let backoff = get(value, "backoff", &backoff_field)?;
    if !backoff.is_undefined() {
        let converted = if is_plain_object(&backoff, &backoff_field)? {
            let mut inner = Map::new();
            for key in ["type", "delayMs", "maxDelayMs", "jitter"] {
                let name = format!("{backoff_field}.{key}");
                let v = get(&backoff, key, &name)?;
                if !v.is_undefined() {
                    inner.insert(key.into(), json(&v, &name)?);
                }
            }
            Value::Object(inner)
        } else {
            json(&backoff, &backoff_field)?
        };
        out.insert("backoff".into(), converted);
    }
    Ok(Field::Json(Value::Object(out)))
}

/// A number field (`priority`, `delayMs`, `runAt`) as JSON; anything else,
/// and numbers JSON cannot hold, by its description.
fn number_field(value: &JsValue) -> Field {
    match value.as_f64().and_then(number) {
        Some(n) => Field::Json(n),
        None => Field::Other(describe(value)),
    }
}

fn non_empty(value: &JsValue, field: &str) -> Result<String, Error> {
    match string(value, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(Error::invalid(
            field,
            format!("must be a non-empty string, got {}", describe(value)),
        )),
    }
}

/// A `create`/`track` request object: its known fields are read one at a
/// time (a getter or Proxy trap runs only when the field is asked for, and
/// not at all once an earlier field is wrong) and checked by the core's
/// request validator, the one REST uses too; then its `signal` (a JS thing,
/// which REST has no form of), handed back as it is for JS to listen to.
pub fn request(value: &JsValue) -> Result<(NewExecution, Option<JsValue>), Error> {
    if !is_plain_object(value, "request")? {
        return Err(Error::invalid(
            "request",
            format!("must be an object, got {}", describe(value)),
        ));
    }
    let request = request::validate(|key| request_field(value, key))?;
    let signal = signal::signal(get(value, "signal", "request.signal")?, "request.signal")?;
    Ok((request, signal))
}

/// One field of a request object: a string field as a string (anything else
/// by its description), `inputs` as JSON, `config` as JSON if it is a plain
/// object (anything else by its description).
fn request_field(request: &JsValue, key: Key) -> Result<Field, Error> {
    let field = key.field();
    let value = get(request, key.name(), field)?;
    if value.is_undefined() {
        return Ok(Field::Undefined);
    }
    Ok(match key {
        Key::Id | Key::TargetId | Key::Type => match string(&value, field)? {
            Some(s) => Field::Json(Value::String(s)),
            None => Field::Other(describe(&value)),
        },
        Key::Inputs => Field::Json(json(&value, field)?),
        Key::Config if is_plain_object(&value, field)? => Field::Json(json(&value, field)?),
        Key::Config => Field::Other(describe(&value)),
        Key::Priority | Key::DelayMs | Key::RunAt => number_field(&value),
        Key::Retry => retry_field(&value, field)?,
    })
}

/// One value or an array of values, each parsed by `each`.
fn one_or_many<T>(
    value: &JsValue,
    field: &str,
    each: impl Fn(&JsValue) -> Result<T, Error>,
) -> Result<Option<Vec<T>>, Error> {
    if value.is_undefined() {
        return Ok(None);
    }
    let is_array =
        ffi::is_array(value).map_err(|_| Error::invalid(field, "inspecting it threw"))?;
    if !is_array {
        return Ok(Some(vec![each(value)?]));
    }
    let len = get(value, "length", field)?.as_f64().unwrap_or(0.0) as u32;
    let mut out = Vec::with_capacity(len.min(64) as usize);
    for i in 0..len {
        let item = ffi::reflect_get(value, &JsValue::from(i))
            .map_err(|_| Error::invalid(format!("{field}[{i}]"), "reading it threw"))?;
        out.push(each(&item)?);
    }
    Ok(Some(out))
}

fn integer(value: &JsValue, field: &str, min: u64, max: u64) -> Result<Option<f64>, Error> {
    if value.is_undefined() {
        return Ok(None);
    }
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(Some(n)),
        _ => Err(Error::invalid(
            field,
            format!(
                "must be an integer from {min} to {max}, got {}",
                describe(value)
            ),
        )),
    }
}

/// A `list` query.
pub fn query(value: Option<JsValue>) -> Result<ListQuery, Error> {
    let mut q = ListQuery::default();
    let Some(value) = value else {
        return Ok(q);
    };
    if !is_plain_object(&value, "query")? {
        return Err(Error::invalid(
            "query",
            format!("must be an object, got {}", describe(&value)),
        ));
    }
    q.statuses = one_or_many(
        &get(&value, "status", "query.status")?,
        "query.status",
        |v| {
            string(v, "query.status")?
            .and_then(|s| Status::parse(&s))
            .ok_or_else(|| {
                Error::invalid(
                    "query.status",
                    format!(
                        "must be \"pending\", \"running\", \"completed\", \"failed\" or \"cancelled\" (or an array of them), got {}",
                        describe(v)
                    ),
                )
            })
        },
    )?;
    q.types = one_or_many(&get(&value, "type", "query.type")?, "query.type", |v| {
        string(v, "query.type")?.ok_or_else(|| {
            Error::invalid(
                "query.type",
                format!(
                    "must be a string or an array of strings, got {}",
                    describe(v)
                ),
            )
        })
    })?;
    let target = get(&value, "targetId", "query.targetId")?;
    if !target.is_undefined() {
        q.target_id = Some(string(&target, "query.targetId")?.ok_or_else(|| {
            Error::invalid(
                "query.targetId",
                format!("must be a string, got {}", describe(&target)),
            )
        })?);
    }
    q.page = integer(
        &get(&value, "page", "query.page")?,
        "query.page",
        1,
        9_007_199_254_740_991,
    )?
    .map(|n| n as u64);
    q.page_size = integer(
        &get(&value, "pageSize", "query.pageSize")?,
        "query.pageSize",
        1,
        1000,
    )?
    .map(|n| n as usize);
    let order = get(&value, "order", "query.order")?;
    if !order.is_undefined() {
        let text = string(&order, "query.order")?.unwrap_or_default();
        q.order = Order::parse(&text)?;
    }
    let cursor = get(&value, "cursor", "query.cursor")?;
    if !cursor.is_undefined() {
        q.cursor = Some(string(&cursor, "query.cursor")?.ok_or_else(|| {
            Error::invalid(
                "query.cursor",
                format!("must be a string, got {}", describe(&cursor)),
            )
        })?);
    }
    Ok(q)
}

/// The options of `subscribe`: which executions' events a listener gets, and
/// how its `progress` events are throttled.
pub struct Subscription {
    /// Only the execution with this id.
    pub id: Option<String>,
    /// Only executions of this target.
    pub target_id: Option<String>,
    /// Only executions of one of these types (an empty list matches none).
    pub types: Option<Vec<String>>,
    /// At most one `progress` event per execution per this many ms.
    pub throttle_ms: Option<f64>,
}

/// One optional string field of `subscribe` options.
fn filter_string(options: &JsValue, name: &str, field: &str) -> Result<Option<String>, Error> {
    let value = get(options, name, field)?;
    if value.is_undefined() {
        return Ok(None);
    }
    string(&value, field)?
        .map(Some)
        .ok_or_else(|| Error::invalid(field, format!("must be a string, got {}", describe(&value))))
}

/// `subscribe(listener, options)` options (`undefined` and `null`: none),
/// read in the order `id`, `targetId`, `type`, `throttleMs`.
pub fn subscription(value: Option<JsValue>) -> Result<Subscription, Error> {
    let mut out = Subscription {
        id: None,
        target_id: None,
        types: None,
        throttle_ms: None,
    };
    let Some(value) = value else {
        return Ok(out);
    };
    if !is_plain_object(&value, "options")? {
        return Err(Error::invalid(
            "options",
            format!("must be an object, got {}", describe(&value)),
        ));
    }
    out.id = filter_string(&value, "id", "options.id")?;
    out.target_id = filter_string(&value, "targetId", "options.targetId")?;
    out.types = one_or_many(&get(&value, "type", "options.type")?, "options.type", |v| {
        string(v, "options.type")?.ok_or_else(|| {
            Error::invalid(
                "options.type",
                format!(
                    "must be a string or an array of strings, got {}",
                    describe(v)
                ),
            )
        })
    })?;
    let throttle = get(&value, "throttleMs", "options.throttleMs")?;
    if !throttle.is_undefined() {
        match throttle.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => out.throttle_ms = Some(n),
            _ => {
                return Err(Error::invalid(
                    "options.throttleMs",
                    format!(
                        "must be a finite number of ms, 0 or more, got {}",
                        describe(&throttle)
                    ),
                ))
            }
        }
    }
    Ok(out)
}
