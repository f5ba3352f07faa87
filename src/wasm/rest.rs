//! `handle()` and `fetch()`: the REST routes of the contract for JS hosts.
//!
//! The router is [`crate::core::rest`]; this layer only converts a JS request
//! object or a fetch `Request` into a [`RestRequest`] and the answer back into
//! `{ status, body }` or a `Response`. After routing, the runtime acts on what
//! the core queued, as after `create` and `cancel`: a created execution's
//! handler is scheduled, a cancelled one's signal aborts before the call
//! returns (for `fetch`, before its promise resolves), listeners get events.

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Response, ResponseInit, Url};

use super::convert::{describe, get, is_plain_object, json, parse, string};
use super::ffi;
use super::runtime::Runtime;
use super::ExecutionManager;
use crate::core::rest::{handle, Body, Query, RestRequest, RestResponse};
use crate::core::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_REST: &'static str = r#"
/**
 * A request for `handle()`: one of the REST routes, without HTTP.
 * Routes: `POST /api/v1/executions`, `GET /api/v1/executions?…`,
 * `GET /api/v1/executions/{id}`, `GET /api/v1/executions/{id}/progress`,
 * `POST /api/v1/executions/{id}/cancel`.
 */
export interface RestRequest {
  /** `"GET"` or `"POST"` (compared case-insensitively); other methods on a known path answer 405. */
  method: string;
  /** The URL path, percent-encoded per segment (`/api/v1/executions/job%201`); may end with `?query`. */
  path: string;
  /**
   * A query string (a leading `?` allowed; `+` is a space) or an object of already-decoded
   * strings (`undefined` values are skipped). `status` and `type` are comma-separated lists.
   */
  query?: string | { [name: string]: string | undefined } | null;
  /** The parsed JSON body of a POST: a create request, or `{ reason? }` for a cancel. */
  body?: JsonValue;
}

/** The statuses the REST routes answer with. */
export type RestStatus = 200 | 201 | 204 | 400 | 404 | 405 | 409;

/** The body of an error answer. */
export interface RestErrorBody {
  error: { code: ExecutionErrorCode | "METHOD_NOT_ALLOWED"; message: string };
}

/**
 * What `handle()` answers: the status and the parsed JSON body (`null` for a 204),
 * discriminated by `status` (200 is an `Execution` for a get or a cancel, a `Page`
 * for a list, a `Progress` for a progress read).
 */
export type RestResponse =
  | { status: 200; body: Execution | Page | Progress }
  | { status: 201; body: Execution }
  | { status: 204; body: null }
  | { status: 400 | 404 | 405 | 409; body: RestErrorBody };
"#;

#[wasm_bindgen]
impl ExecutionManager {
    /// Answers one REST request synchronously; never throws. A malformed
    /// request object (not an object, `method`/`path` not strings, `query`
    /// neither a string nor an object of strings, `body` not JSON-compatible)
    /// is answered 400.
    ///
    /// @example
    /// const { status, body } = manager.handle({
    ///   method: "POST", path: "/api/v1/executions", body: { targetId: "export", inputs: { rows: 10 } },
    /// });
    /// const page = manager.handle({ method: "GET", path: "/api/v1/executions", query: "?status=running,pending&page_size=50" });
    #[wasm_bindgen(unchecked_return_type = "RestResponse")]
    pub fn handle(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RestRequest")] request: JsValue,
    ) -> JsValue {
        let response = match request_object(&request) {
            Ok(request) => serve(&self.rt, &request),
            Err(e) => RestResponse::from_error(&e),
        };
        let out = Object::new();
        // Setting properties on a fresh plain object cannot throw.
        let _ = Reflect::set(&out, &"status".into(), &response.status.into());
        let body = response.body.as_deref().map_or(JsValue::NULL, parse);
        let _ = Reflect::set(&out, &"body".into(), &body);
        out.into()
    }

    /// Answers a fetch `Request` with a `Response` (JSON bodies,
    /// `content-type: application/json`; a 204 has no body; a 405 has an
    /// `Allow` header). Request bodies are read as text and parsed as JSON
    /// (whatever the request's content-type); text that is not JSON, or not
    /// JSON-compatible (a lone surrogate), is answered 400. Rejects only if
    /// the host has no `Response` constructor.
    ///
    /// @example
    /// // In a Service Worker:
    /// self.addEventListener("fetch", (event) => {
    ///   if (new URL(event.request.url).pathname.startsWith("/api/v1/")) {
    ///     event.respondWith(manager.fetch(event.request));
    ///   }
    /// });
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn fetch(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Request")] request: JsValue,
    ) -> Promise {
        let rt = self.rt.clone();
        // Everything but the body is read now, before the caller can change it.
        let head = request_head(&request);
        let text = match &head {
            Ok((method, _, _)) if has_body(method) => Some(body_text(&request)),
            _ => None,
        };
        future_to_promise(async move {
            let response = match head {
                Err(e) => RestResponse::from_error(&e),
                Ok((method, path, search)) => {
                    let body = match text {
                        None => Body::Absent,
                        Some(Err(reason)) => Body::Invalid(reason),
                        Some(Ok(promise)) => match JsFuture::from(promise).await {
                            Ok(text) => match super::convert::string(&text, "body") {
                                Ok(Some(text)) => body_from_text(&text),
                                Ok(None) => Body::Invalid("body could not be read as text".into()),
                                Err(e) => Body::Invalid(e.to_string()),
                            },
                            Err(_) => Body::Invalid("body could not be read".into()),
                        },
                    };
                    let request = RestRequest::new(method, path)
                        .with_query(Query::Text(search))
                        .with_body(body);
                    serve(&rt, &request)
                }
            };
            to_response(&response)
        })
    }
}

/// Routes under one short borrow, then lets the runtime act: start handlers
/// of created executions, abort signals of cancelled ones, deliver events.
/// Both are cheap no-ops when nothing changed.
fn serve(rt: &Rc<Runtime>, request: &RestRequest) -> RestResponse {
    let response = match rt.state() {
        Ok(mut st) => handle(&mut st.core, request),
        Err(_) => RestResponse::from_error(&Error::invalid(
            "this",
            "the manager is busy in another call on this stack",
        )),
    };
    rt.schedule_pump();
    rt.flush();
    response
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

/// Request body text, parsed by the host's `JSON.parse` and then checked as
/// [`body_value`] checks a `handle()` body (the core's own reader,
/// [`Body::from_text`], would bring a second JSON parser and float parsing
/// into the `.wasm`). Empty or whitespace-only text is no body.
fn body_from_text(text: &str) -> Body {
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Body::Absent;
    }
    let parsed = match ffi::json_parse(text) {
        Ok(parsed) => parsed,
        Err(error) => {
            let why = ffi::reflect_get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_default();
            return Body::Invalid(format!("body is not valid JSON: {why}"));
        }
    };
    match body_value(&parsed) {
        Ok(body) => body,
        Err(Error::InvalidArgument { field, reason }) => Body::Invalid(format!("{field} {reason}")),
        Err(other) => Body::Invalid(other.to_string()),
    }
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

/// Whether a request with this method may carry a body (fetch forbids one
/// on GET and HEAD).
fn has_body(method: &str) -> bool {
    !method.eq_ignore_ascii_case("GET") && !method.eq_ignore_ascii_case("HEAD")
}

/// The method, path and search of a fetch `Request` (read with `Reflect`, so
/// a foreign object gets a 400 instead of an exception).
fn request_head(request: &JsValue) -> Result<(String, String, String), Error> {
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

/// Starts `request.text()`; `Err` says why it could not be started.
fn body_text(request: &JsValue) -> Result<Promise, String> {
    let text = ffi::reflect_get(request, &"text".into())
        .map_err(|_| "reading request.text threw".to_owned())?;
    let Some(text) = text.dyn_ref::<Function>() else {
        return Err("request has no text() method to read its body".to_owned());
    };
    let returned = text
        .call0(request)
        .map_err(|_| "request.text() threw".to_owned())?;
    ffi::promise_resolve(&returned)
        .map_err(|_| "request.text() did not return a promise".to_owned())
}

/// A fetch `Response` for the answer.
fn to_response(response: &RestResponse) -> Result<JsValue, JsValue> {
    let headers = Object::new();
    if response.body.is_some() {
        Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    }
    if let Some(allow) = response.allow {
        Reflect::set(&headers, &"allow".into(), &allow.into())?;
    }
    let init = ResponseInit::new();
    init.set_status(response.status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(response.body.as_deref(), &init).map(JsValue::from)
}
