//! REST requests from JS for the core's router ([`crate::core::rest`]): a
//! `handle()` request object, or the one `fetch()` (in `js/manager.js`)
//! builds out of a `Request`, converted into a [`RestRequest`]. JS builds
//! the answer (`{ status, body }` or a `Response`) from what
//! `Engine::handle` returns.

use wasm_bindgen::prelude::*;

use super::convert::{describe, get, is_plain_object, json, string};
use super::ffi;
use crate::core::rest::{handle, Body, Query, RestRequest, RestResponse};
use crate::core::{Error, Manager};
use web_sys::Url;

/// A `handle()` request object.
pub fn request(value: &JsValue) -> Result<RestRequest, Error> {
    request_object(value)
}

/// A request that `fetch()` read: the head from [`head`], then the body
/// text (`undefined`: none) or why it could not be read.
pub fn fetched(
    method: String,
    path: String,
    search: String,
    text: &JsValue,
    body_error: Option<String>,
) -> Result<RestRequest, Error> {
    let body = match body_error {
        Some(reason) => Body::Invalid(reason),
        None if text.is_undefined() => Body::Absent,
        None => match string(text, "body") {
            Ok(Some(text)) => body_from_text(&text)?,
            Ok(None) => Body::Invalid("body could not be read as text".into()),
            Err(e) if super::convert::out_of_room() => return Err(e),
            Err(e) => Body::Invalid(e.to_string()),
        },
    };
    Ok(RestRequest::new(method, path)
        .with_query(Query::Text(search))
        .with_body(body))
}

/// Routes a request (or answers 400 for one that could not be read).
pub fn serve(manager: &mut Manager, request: Result<RestRequest, Error>) -> RestResponse {
    match request {
        Ok(request) => handle(manager, &request),
        Err(e) => RestResponse::from_error(&e),
    }
}

fn must_be_string(value: &JsValue, field: &str) -> Result<String, Error> {
    string(value, field)?
        .ok_or_else(|| Error::invalid(field, format!("must be a string, got {}", describe(value))))
}

/// A `handle()` request object.
fn request_object(value: &JsValue) -> Result<RestRequest, Error> {
    let is_array =
        ffi::is_array(value).map_err(|_| Error::invalid("request", "inspecting it threw"))?;
    if !value.is_object() || value.is_function() || is_array {
        return Err(Error::invalid(
            "request",
            format!(
                "must be an object {{ method, path, query?, body? }}, got {}",
                describe(value)
            ),
        ));
    }
    let method = must_be_string(&get(value, "method", "request.method")?, "request.method")?;
    let path = must_be_string(&get(value, "path", "request.path")?, "request.path")?;
    let query = query_value(&get(value, "query", "request.query")?)?;
    let body = body_value(&get(value, "body", "request.body")?)?;
    Ok(RestRequest {
        method,
        path,
        query,
        body,
    })
}

/// `body`: a JSON-compatible value. A plain object is copied one property
/// at a time, so that its values (a create request's `inputs` and `config`)
/// may nest the contract's 128 levels inside it; `undefined` properties are
/// left out, as `JSON.stringify` would.
fn body_value(value: &JsValue) -> Result<Body, Error> {
    if value.is_undefined() {
        return Ok(Body::Absent);
    }
    if !is_plain_object(value, "request.body")? {
        return Ok(Body::Json(json(value, "request.body")?));
    }
    let keys = ffi::object_keys(value)
        .map_err(|_| Error::invalid("request.body", "listing its keys threw"))?;
    let mut map = serde_json::Map::new();
    for key in keys.iter() {
        let name = must_be_string(&key, "request.body")?;
        let field = format!("request.body.{name}");
        let item = ffi::reflect_get(value, &key)
            .map_err(|_| Error::invalid(field.as_str(), "reading it threw"))?;
        if item.is_undefined() {
            continue;
        }
        map.insert(name, json(&item, &field)?);
    }
    Ok(Body::Json(serde_json::Value::Object(map)))
}

/// `query`: absent, a query string, or a plain object of strings.
fn query_value(value: &JsValue) -> Result<Query, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(Query::default());
    }
    if let Some(text) = string(value, "request.query")? {
        return Ok(Query::Text(text));
    }
    if !is_plain_object(value, "request.query")? {
        return Err(Error::invalid(
            "request.query",
            format!(
                "must be a query string or a plain object of strings (pass String(params) for a URLSearchParams), got {}",
                describe(value)
            ),
        ));
    }
    let keys = ffi::object_keys(value)
        .map_err(|_| Error::invalid("request.query", "listing its keys threw"))?;
    let mut pairs = Vec::with_capacity(keys.length().min(64) as usize);
    for key in keys.iter() {
        let name = must_be_string(&key, "request.query")?;
        let field = format!("request.query.{name}");
        let item = ffi::reflect_get(value, &key)
            .map_err(|_| Error::invalid(field.as_str(), "reading it threw"))?;
        if item.is_undefined() {
            continue;
        }
        let text = must_be_string(&item, &field)?;
        pairs.push((name, text));
    }
    Ok(Query::Pairs(pairs))
}

/// Request body text, parsed by the host's `JSON.parse` and then checked as
/// [`body_value`] checks a `handle()` body (the core's own reader,
/// [`Body::from_text`], would bring a second JSON parser and float parsing
/// into the `.wasm`). Empty or whitespace-only text is no body.
fn body_from_text(text: &str) -> Result<Body, Error> {
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Ok(Body::Absent);
    }
    let parsed = match ffi::json_parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let why = ffi::reflect_get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_default();
            return Ok(Body::Invalid(format!("body is not valid JSON: {why}")));
        }
    };
    match body_value(&parsed) {
        Ok(body) => Ok(body),
        // Refused for the budget: answered for what it is (503), not as a bad body.
        Err(e) if super::convert::out_of_room() => Err(e),
        Err(Error::InvalidArgument { field, reason }) => {
            Ok(Body::Invalid(format!("{field} {reason}")))
        }
        Err(other) => Ok(Body::Invalid(other.to_string())),
    }
}

/// The method, path and search of a fetch `Request` (read with `Reflect`, so
/// a foreign object gets a 400 instead of an exception).
pub fn head(request: &JsValue) -> Result<(String, String, String), Error> {
    if !request.is_object() {
        return Err(Error::invalid(
            "request",
            format!("must be a Request, got {}", describe(request)),
        ));
    }
    let method = must_be_string(&get(request, "method", "request.method")?, "request.method")?;
    let url = must_be_string(&get(request, "url", "request.url")?, "request.url")?;
    let url = Url::new(&url)
        .map_err(|_| Error::invalid("request.url", format!("{url:?} is not an absolute URL")))?;
    Ok((method, url.pathname(), url.search()))
}
