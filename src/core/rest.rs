//! The REST routes of `../shared/API.md` over a [`Manager`], in plain Rust.
//!
//! [`handle`] takes a [`RestRequest`] (method, path, query, body) and answers
//! a [`RestResponse`] (status and JSON text); it never panics and only ever
//! answers 200, 201, 204, 400, 404, 405 or 409. The wasm layer converts a JS
//! request object or a fetch `Request` into a [`RestRequest`], calls
//! [`handle`] under its borrow, and afterwards lets its runtime act on what
//! the core queued (start handlers of a created execution, abort the signal
//! of a cancelled one), exactly as after the JS methods.
//!
//! | route | success | errors |
//! | --- | --- | --- |
//! | `POST /api/v1/executions` | 201 execution | 400, 404 `UNKNOWN_TARGET`, 409 `ALREADY_EXISTS` |
//! | `GET /api/v1/executions?…` | 200 page | 400 |
//! | `GET /api/v1/executions/{id}` | 200 execution | 404 |
//! | `GET /api/v1/executions/{id}/progress` | 200 progress, 204 none yet | 404 |
//! | `POST /api/v1/executions/{id}/cancel` | 200 execution | 400, 404, 409 `INVALID_TRANSITION` |
//!
//! Choices where the contract is silent:
//!
//! - **Path.** The path must start with `/`; it is split on `/`, then each
//!   segment is percent-decoded (so `%2F` inside an id is part of the id, and
//!   `+` is a literal plus). Malformed percent-encoding or bytes that are not
//!   UTF-8 are 400 `INVALID_ARGUMENT`. One trailing slash is ignored
//!   (`/api/v1/executions/` is the collection). A path may carry its query
//!   after a `?` (as Node's `req.url` does); giving a query both there and in
//!   [`RestRequest::query`] is 400.
//! - **Method.** Compared case-insensitively (fetch upper-cases the standard
//!   ones anyway). `HEAD`, `PUT`, `DELETE`, … on a known path are 405, with the
//!   allowed methods in [`RestResponse::allow`].
//! - **Query** (only the list route reads it; the others ignore it). A leading
//!   `?` is allowed; `&`-separated `key=value` pairs, empty pairs skipped, a key
//!   without `=` has an empty value. It is `application/x-www-form-urlencoded`,
//!   as `URLSearchParams` writes it: `+` is a space, a literal plus is `%2B`.
//!   Malformed percent-encoding anywhere in it is 400. `status` and `type` are
//!   decoded, then split on `,` (so `%2C`, as `URLSearchParams` writes a
//!   comma, separates items too, and a type containing a comma cannot be
//!   filtered on over REST); they
//!   may also be repeated (`status=running&status=pending`), which adds to the
//!   list. Every other parameter given twice is 400. **An empty value means the
//!   parameter is absent** (`status=` filters nothing out, `page=` is page 1),
//!   as HTML forms send empty fields; an empty item inside a non-empty list
//!   (`status=running,`) is 400. `page` and `page_size` (alias `pageSize`, as in
//!   `list()`) are plain decimal digits. Unknown parameters are ignored.
//! - **Body.** Only `POST` routes use it. A create body must be a JSON object
//!   (missing, `null` or any other value is 400); unknown fields are ignored.
//!   A cancel body is optional: absent, `null` or an object whose `reason` is a
//!   string, `null` or absent. Body text that is empty or only whitespace is no
//!   body; text that is not JSON is 400 on any route that exists (that is, on
//!   a known path with an allowed method: an unknown path stays 404, a wrong
//!   method 405). A body may nest 129 levels, so that a create body carries
//!   `inputs` and `config` as deep as the contract's 128 levels.

use serde_json::{Map, Value};

use super::error::Error;
use super::json::{write_str, MAX_DEPTH};
use super::manager::{Manager, NewExecution};
use super::query::{ListQuery, Order, MAX_PAGE_SIZE};
use super::status::Status;

/// The body of a request, as the host could read it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Body {
    /// No body (or an empty one).
    #[default]
    Absent,
    /// A parsed JSON value.
    Json(Value),
    /// A body that is not valid JSON (or not JSON-compatible); the text says why.
    Invalid(String),
}

impl Body {
    /// Parses body text: empty or whitespace-only text is [`Body::Absent`],
    /// text that is not JSON, or nests deeper than [`MAX_BODY_DEPTH`]
    /// levels, is [`Body::Invalid`].
    pub fn from_text(text: &str) -> Body {
        if text.trim_matches(JSON_WS).is_empty() {
            return Body::Absent;
        }
        match JsonText::parse(text) {
            Ok(value) => Body::Json(value),
            Err(e) => Body::Invalid(format!("body is not valid JSON: {e}")),
        }
    }
}

/// The deepest body accepted: a create request object (level 1) around
/// `inputs` or `config` nested as deep as the contract allows (128 levels).
pub const MAX_BODY_DEPTH: usize = MAX_DEPTH + 1;

const JSON_WS: [char; 4] = [' ', '\t', '\n', '\r'];

/// A JSON reader (RFC 8259) for request bodies. serde_json's reader stops at
/// 127 levels, one short of a create body around 128-level `inputs`, and the
/// wasm build has no other use for it; this one is bounded by
/// [`MAX_BODY_DEPTH`] (so its recursion is bounded too), rejects lone
/// surrogates as the contract asks, and rounds numbers as `JSON.parse` does.
struct JsonText<'a> {
    text: &'a str,
    pos: usize,
}

impl JsonText<'_> {
    fn parse(text: &str) -> Result<Value, String> {
        let mut p = JsonText { text, pos: 0 };
        let value = p.value(1)?;
        p.skip_ws();
        if p.pos < text.len() {
            return Err(p.error("trailing characters"));
        }
        Ok(value)
    }

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
        if depth > MAX_BODY_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_BODY_DEPTH} levels")));
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
                    map.insert(key, value);
                } else {
                    items.push(self.value(depth + 1)?);
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
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
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

/// The query of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// A URL query string (percent-encoded, `+` for space), with or without
    /// its leading `?`; empty for none.
    Text(String),
    /// Already-decoded `(name, value)` pairs, e.g. from a JS object of
    /// strings. Commas in `status` and `type` values still separate items.
    Pairs(Vec<(String, String)>),
}

impl Default for Query {
    fn default() -> Self {
        Query::Text(String::new())
    }
}

impl Query {
    fn is_empty(&self) -> bool {
        match self {
            Query::Text(text) => text.strip_prefix('?').unwrap_or(text).is_empty(),
            Query::Pairs(pairs) => pairs.is_empty(),
        }
    }
}

/// An HTTP-like request to route.
///
/// ```
/// use execman::core::rest::{handle, Body, RestRequest};
/// use execman::core::{Manager, Options, SystemClock, UuidIds};
/// use serde_json::json;
///
/// let mut m = Manager::new(Options::default(), Box::new(SystemClock), Box::new(UuidIds));
/// m.register("export", None)?;
/// let created = handle(
///     &mut m,
///     &RestRequest::new("POST", "/api/v1/executions")
///         .with_body(Body::Json(json!({ "targetId": "export", "id": "job 1" }))),
/// );
/// assert_eq!(created.status, 201);
/// let got = handle(&mut m, &RestRequest::new("GET", "/api/v1/executions/job%201"));
/// assert_eq!(got.status, 200);
/// let page = handle(&mut m, &RestRequest::new("GET", "/api/v1/executions?status=pending,running&page_size=5"));
/// assert_eq!(page.status, 200);
/// # Ok::<(), execman::core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestRequest {
    /// `GET`, `POST`, … (compared case-insensitively).
    pub method: String,
    /// The URL path, percent-encoded, optionally followed by `?query`.
    pub path: String,
    /// The query.
    pub query: Query,
    /// The body.
    pub body: Body,
}

impl RestRequest {
    /// A request with no query and no body.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> RestRequest {
        RestRequest {
            method: method.into(),
            path: path.into(),
            query: Query::default(),
            body: Body::Absent,
        }
    }

    /// The same request with this query.
    pub fn with_query(mut self, query: Query) -> RestRequest {
        self.query = query;
        self
    }

    /// The same request with this body.
    pub fn with_body(mut self, body: Body) -> RestRequest {
        self.body = body;
        self
    }
}

/// The answer to a [`RestRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestResponse {
    /// One of 200, 201, 204, 400, 404, 405, 409.
    pub status: u16,
    /// JSON text; `None` for 204.
    pub body: Option<String>,
    /// For a 405, the methods the path allows (the `Allow` header).
    pub allow: Option<&'static str>,
}

impl RestResponse {
    fn json(status: u16, body: String) -> RestResponse {
        RestResponse {
            status,
            body: Some(body),
            allow: None,
        }
    }

    /// An error response `{"error":{"code","message"}}`.
    pub fn error(status: u16, code: &str, message: &str) -> RestResponse {
        let mut out = String::with_capacity(40 + code.len() + message.len());
        out.push_str("{\"error\":{\"code\":");
        write_str(&mut out, code);
        out.push_str(",\"message\":");
        write_str(&mut out, message);
        out.push_str("}}");
        RestResponse::json(status, out)
    }

    /// The response for a core error: its code, with the status of its kind.
    pub fn from_error(error: &Error) -> RestResponse {
        RestResponse::error(status_of(error), error.code(), &error.to_string())
    }

    fn not_found(path: &str) -> RestResponse {
        RestResponse::error(404, "NOT_FOUND", &format!("no route matches {path:?}"))
    }

    fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> RestResponse {
        let mut r = RestResponse::error(
            405,
            "METHOD_NOT_ALLOWED",
            &format!("method {method:?} is not allowed on {path:?}; allowed: {allow}"),
        );
        r.allow = Some(allow);
        r
    }
}

/// The HTTP status of a core error.
pub fn status_of(error: &Error) -> u16 {
    match error {
        Error::InvalidArgument { .. } => 400,
        Error::NotFound { .. } | Error::UnknownTarget { .. } => 404,
        Error::AlreadyExists { .. } | Error::InvalidTransition { .. } => 409,
    }
}

/// Routes one request to the manager and answers it. Never panics; the
/// status is always one of 200, 201, 204, 400, 404, 405, 409.
///
/// A 201 from `POST /api/v1/executions` has queued a handler-driven
/// execution and a 200 from `…/cancel` has queued a terminal one: the caller
/// must then act on the manager's queues as after `create` and `cancel`.
pub fn handle(manager: &mut Manager, request: &RestRequest) -> RestResponse {
    match route(manager, request) {
        Ok(response) | Err(response) => response,
    }
}

enum Route {
    Collection,
    Execution(String),
    Progress(String),
    Cancel(String),
}

fn route(manager: &mut Manager, request: &RestRequest) -> Result<RestResponse, RestResponse> {
    let (path, path_query) = match request.path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.path.as_str(), None),
    };
    let query = match path_query {
        Some(text) if !text.is_empty() => {
            if !request.query.is_empty() {
                return Err(reply(invalid(
                    "query",
                    "was given both in the path and separately; pass it once",
                )));
            }
            Query::Text(text.to_owned())
        }
        _ => request.query.clone(),
    };
    let route = match_path(path)?;
    let method = request.method.as_str();
    let is = |m: &str| method.eq_ignore_ascii_case(m);
    if let Body::Invalid(reason) = &request.body {
        // Only once the route exists: an unknown path stays a 404.
        let allowed = match &route {
            Route::Collection => is("GET") || is("POST"),
            Route::Execution(_) | Route::Progress(_) => is("GET"),
            Route::Cancel(_) => is("POST"),
        };
        if allowed {
            return Err(reply(invalid("body", reason.clone())));
        }
    }
    match route {
        Route::Collection if is("GET") => list(manager, &query),
        Route::Collection if is("POST") => create(manager, &request.body),
        Route::Collection => Err(RestResponse::method_not_allowed(method, path, "GET, POST")),
        Route::Execution(id) if is("GET") => manager
            .status_json(&id)
            .map(|snapshot| RestResponse::json(200, snapshot))
            .ok_or_else(|| reply(Error::not_found(&id))),
        Route::Progress(id) if is("GET") => match manager.progress_json(&id) {
            None => Err(reply(Error::not_found(&id))),
            Some(None) => Ok(RestResponse {
                status: 204,
                body: None,
                allow: None,
            }),
            Some(Some(progress)) => Ok(RestResponse::json(200, progress)),
        },
        Route::Execution(_) | Route::Progress(_) => {
            Err(RestResponse::method_not_allowed(method, path, "GET"))
        }
        Route::Cancel(id) if is("POST") => cancel(manager, &id, &request.body),
        Route::Cancel(_) => Err(RestResponse::method_not_allowed(method, path, "POST")),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::invalid(field, reason)
}

fn reply(error: Error) -> RestResponse {
    RestResponse::from_error(&error)
}

/// Splits, decodes and matches the path.
fn match_path(path: &str) -> Result<Route, RestResponse> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(RestResponse::not_found(path));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let segment = decode(raw, false).map_err(|why| reply(invalid("path", why)))?;
        segments.push(segment);
    }
    let mut it = segments.into_iter();
    let prefix_ok = it.next().as_deref() == Some("api")
        && it.next().as_deref() == Some("v1")
        && it.next().as_deref() == Some("executions");
    if !prefix_ok {
        return Err(RestResponse::not_found(path));
    }
    let id = it.next();
    let action = it.next();
    if it.next().is_some() {
        return Err(RestResponse::not_found(path));
    }
    match (id, action.as_deref()) {
        (None, _) => Ok(Route::Collection),
        (Some(id), None) => Ok(Route::Execution(id)),
        (Some(id), Some("progress")) => Ok(Route::Progress(id)),
        (Some(id), Some("cancel")) => Ok(Route::Cancel(id)),
        (Some(_), Some(_)) => Err(RestResponse::not_found(path)),
    }
}

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

/// One query parameter: a decoded name and its value, still encoded when it
/// came from a query string.
struct Param {
    name: String,
    value: String,
    encoded: bool,
}

impl Param {
    fn decoded(&self) -> Result<String, Error> {
        if self.encoded {
            decode(&self.value, true).map_err(|why| invalid(&format!("query.{}", self.name), why))
        } else {
            Ok(self.value.clone())
        }
    }

    /// The comma-separated items: decoded first, then split on `,`, so a
    /// list built with `URLSearchParams` (which writes `,` as `%2C`) works.
    fn items(&self) -> Result<Vec<String>, Error> {
        let field = format!("query.{}", self.name);
        let value = self.decoded()?;
        value
            .split(',')
            .map(|item| {
                if item.is_empty() {
                    Err(invalid(
                        &field,
                        format!("{value:?} has an empty item in its comma list"),
                    ))
                } else {
                    Ok(item.to_owned())
                }
            })
            .collect()
    }
}

fn params(query: &Query) -> Result<Vec<Param>, Error> {
    match query {
        Query::Pairs(pairs) => Ok(pairs
            .iter()
            .map(|(name, value)| Param {
                name: name.clone(),
                value: value.clone(),
                encoded: false,
            })
            .collect()),
        Query::Text(text) => {
            let text = text.strip_prefix('?').unwrap_or(text);
            let mut out = Vec::new();
            for pair in text.split('&').filter(|p| !p.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = decode(name, true).map_err(|why| invalid("query", why))?;
                // Checked now so that malformed encoding is a 400 wherever it is.
                decode(value, true).map_err(|why| invalid(&format!("query.{name}"), why))?;
                out.push(Param {
                    name,
                    value: value.to_owned(),
                    encoded: true,
                });
            }
            Ok(out)
        }
    }
}

/// Parses the list route's query into a [`ListQuery`] (the rules are in the
/// module docs); every problem is `INVALID_ARGUMENT` naming the parameter.
pub fn list_query(query: &Query) -> Result<ListQuery, Error> {
    let mut q = ListQuery::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let params = params(query)?;
    for param in &params {
        if param.value.is_empty() {
            continue;
        }
        let name: &'static str = match param.name.as_str() {
            "status" => "status",
            "type" => "type",
            "targetId" => "targetId",
            "page" => "page",
            "page_size" | "pageSize" => "page_size",
            "order" => "order",
            "cursor" => "cursor",
            _ => continue,
        };
        let field = format!("query.{}", param.name);
        match name {
            "status" => {
                let mut statuses = q.statuses.take().unwrap_or_default();
                for item in param.items()? {
                    let status = Status::parse(&item).ok_or_else(|| {
                        invalid(
                            &field,
                            format!(
                                "{item:?} is not \"pending\", \"running\", \"completed\", \"failed\" or \"cancelled\""
                            ),
                        )
                    })?;
                    statuses.push(status);
                }
                q.statuses = Some(statuses);
                continue;
            }
            "type" => {
                let mut types = q.types.take().unwrap_or_default();
                types.extend(param.items()?);
                q.types = Some(types);
                continue;
            }
            _ => {}
        }
        if seen.contains(&name) {
            return Err(invalid(&field, "is given more than once"));
        }
        seen.push(name);
        let value = param.decoded()?;
        match name {
            "targetId" => q.target_id = Some(value),
            "page" => {
                q.page = Some(
                    digits(&value, 9_007_199_254_740_991)
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| {
                            invalid(&field, format!("must be an integer ≥ 1, got {value:?}"))
                        })?,
                );
            }
            "page_size" => {
                q.page_size = Some(
                    digits(&value, MAX_PAGE_SIZE as u64)
                        .filter(|&n| n >= 1)
                        .map(|n| n as usize)
                        .ok_or_else(|| {
                            invalid(
                                &field,
                                format!("must be an integer from 1 to 1000, got {value:?}"),
                            )
                        })?,
                );
            }
            "order" => {
                q.order = Order::parse(&value).map_err(|_| {
                    invalid(
                        &field,
                        format!("must be \"asc\" or \"desc\", got {value:?}"),
                    )
                })?;
            }
            _ => q.cursor = Some(value),
        }
    }
    Ok(q)
}

/// A decimal integer of ASCII digits only, at most `max`.
fn digits(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().filter(|&n| n <= max)
}

fn list(manager: &Manager, query: &Query) -> Result<RestResponse, RestResponse> {
    let q = list_query(query).map_err(reply)?;
    manager
        .list_json(&q)
        .map(|page| RestResponse::json(200, page))
        .map_err(reply)
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn non_empty(value: &Value, field: &str) -> Result<String, Error> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        other => Err(Error::invalid(
            field,
            format!("must be a non-empty string, got {}", describe(other)),
        )),
    }
}

/// Converts a create body into a [`NewExecution`], with the checks of the
/// JS `create`: `targetId` a non-empty string; `id` and `type` absent or
/// non-empty strings (`null` is rejected); `config` absent or an object;
/// `inputs` any JSON value (`null` kept). Unknown fields are ignored.
pub fn new_execution(body: &Body) -> Result<NewExecution, Error> {
    let map = match body {
        Body::Json(Value::Object(map)) => map,
        Body::Absent => {
            return Err(Error::invalid(
                "request",
                "is missing: the body must be a create request object",
            ))
        }
        Body::Json(other) => {
            return Err(Error::invalid(
                "request",
                format!("must be an object, got {}", describe(other)),
            ))
        }
        Body::Invalid(reason) => return Err(Error::invalid("body", reason.clone())),
    };
    let optional = |key: &str| -> Result<Option<String>, Error> {
        map.get(key)
            .map(|v| non_empty(v, &format!("request.{key}")))
            .transpose()
    };
    let id = optional("id")?;
    let target_id = non_empty(
        map.get("targetId").unwrap_or(&Value::Null),
        "request.targetId",
    )
    .map_err(|e| match map.get("targetId") {
        None => Error::invalid("request.targetId", "is missing (a non-empty string)"),
        Some(_) => e,
    })?;
    let kind = optional("type")?;
    let config = match map.get("config") {
        None => None,
        Some(config @ Value::Object(_)) => Some(config.clone()),
        Some(other) => {
            return Err(Error::invalid(
                "request.config",
                format!("must be a plain object, got {}", describe(other)),
            ))
        }
    };
    Ok(NewExecution {
        id,
        target_id,
        kind,
        inputs: map.get("inputs").cloned(),
        config,
    })
}

fn create(manager: &mut Manager, body: &Body) -> Result<RestResponse, RestResponse> {
    let request = new_execution(body).map_err(reply)?;
    let seq = manager.create(request).map_err(reply)?;
    Ok(RestResponse::json(
        201,
        manager.snapshot(seq).unwrap_or_default(),
    ))
}

fn cancel(manager: &mut Manager, id: &str, body: &Body) -> Result<RestResponse, RestResponse> {
    let reason = match body {
        Body::Absent | Body::Json(Value::Null) => None,
        Body::Json(Value::Object(map)) => match map.get("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(reason)) => Some(reason.clone()),
            Some(other) => {
                return Err(reply(invalid(
                    "reason",
                    format!("must be a string, got {}", describe(other)),
                )))
            }
        },
        Body::Json(other) => {
            return Err(reply(invalid(
                "body",
                format!("must be an object {{ reason? }}, got {}", describe(other)),
            )))
        }
        Body::Invalid(reason) => return Err(reply(invalid("body", reason.clone()))),
    };
    let seq = manager.cancel(id, reason).map_err(reply)?;
    Ok(RestResponse::json(
        200,
        manager.snapshot(seq).unwrap_or_default(),
    ))
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
