//! The REST routes of the contract over a [`Manager`], in plain Rust.
//!
//! [`handle`] takes a [`RestRequest`] (method, path, query, body) and answers
//! a [`RestResponse`] (status and JSON text); it never panics and only ever
//! answers 200, 201, 204, 400, 404, 405, 409, 501 or 503. The wasm layer
//! converts a JS request object or a fetch `Request` into a [`RestRequest`],
//! calls [`handle`] under its borrow, and afterwards lets its runtime act on
//! what the core queued (start handlers of a created execution, abort the
//! signal of a cancelled one, resolve waiters of a finished one, arm the
//! timer of a started one), exactly as after the JS methods.
//!
//! | route | success | errors |
//! | --- | --- | --- |
//! | `POST /api/v1/executions` (`"tracked": true`: `track`) | 201 execution, `Location` | 400, 404 `UNKNOWN_TARGET`, 409 `ALREADY_EXISTS` |
//! | `GET /api/v1/executions?…` | 200 page | 400 |
//! | `GET /api/v1/executions/{id}` | 200 execution | 404 |
//! | `DELETE /api/v1/executions/{id}` | 200 the removed execution | 404, 409 `INVALID_TRANSITION` (active) |
//! | `GET /api/v1/executions/{id}/progress` | 200 progress, 204 none yet | 404 |
//! | `POST /api/v1/executions/{id}/progress` `{ current, total?, message? }` | 204 | 400, 404, 409 |
//! | `POST /api/v1/executions/{id}/cancel` `{ reason? }` | 200 execution | 400, 404, 409 |
//! | `POST /api/v1/executions/{id}/start` | 200 execution | 404, 409 |
//! | `POST /api/v1/executions/{id}/complete` `{ result? }` | 200 execution | 400, 404, 409 |
//! | `POST /api/v1/executions/{id}/fail` `{ error }` | 200 execution | 400, 404, 409 |
//! | `GET /api/v1/executions/{id}/events?throttle_ms=` | a stream: 501 here | 400, 404 |
//! | `GET /api/v1/events?targetId=&type=&throttle_ms=` | a stream: 501 here | 400 |
//! | `GET /api/v1/counts` | 200 counts | – |
//! | `GET /api/v1/openapi.json` | 200 the OpenAPI document | – |
//!
//! [`ROUTES`] is that table as data: the paths, and the methods each answers
//! (a 405 carries them in [`RestResponse::allow`]). [`OPENAPI`], the OpenAPI
//! 3.1 document served by the last route, is kept beside the router
//! (`openapi.json`) and checked against [`ROUTES`] by `tests/core_openapi.rs`.
//!
//! The two stream routes are checked here like any other (the query, the
//! execution's existence) and then answered 501 `NOT_IMPLEMENTED`, with what
//! to follow in [`RestResponse::stream`]: [`handle`] is synchronous and
//! cannot stream, and a host that can (a `fetch`-style one) serves the
//! stream instead of that 501.
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
//!   ones anyway). Any method a path does not answer (`HEAD`, `PUT`,
//!   `TRACE`, …) is 405, with the path's methods in [`RestResponse::allow`].
//! - **Query** (the list and stream routes read it; the others ignore it). A
//!   leading `?` is allowed; `&`-separated `key=value` pairs, empty pairs
//!   skipped, a key without `=` has an empty value. It is
//!   `application/x-www-form-urlencoded`, as `URLSearchParams` writes it: `+`
//!   is a space, a literal plus is `%2B`. Malformed percent-encoding anywhere
//!   in it is 400. `status` and `type` are decoded, then split on `,` (so
//!   `%2C`, as `URLSearchParams` writes a comma, separates items too, and a
//!   type containing a comma cannot be filtered on over REST); they may also
//!   be repeated (`status=running&status=pending`), which adds to the list.
//!   Every other parameter given twice is 400. **An empty value means the
//!   parameter is absent** (`status=` filters nothing out, `page=` is page
//!   1), as HTML forms send empty fields; an empty item inside a non-empty
//!   list (`status=running,`) is 400. `page`, `page_size` (alias `pageSize`,
//!   as in `list()`) and `throttle_ms` (alias `throttleMs`) are plain decimal
//!   digits. Unknown parameters are ignored.
//! - **Body.** Only `POST` routes use it (`DELETE` and `GET` ignore one). A
//!   create body must be a JSON object (missing, `null` or any other value is
//!   400); unknown fields are ignored, and `tracked` is `true` or `false`;
//!   a create (not a tracked one) takes the scheduling fields too
//!   (`priority`, `delayMs`, `runAt`, `retry`), with the rules of `create`. A
//!   cancel body is optional: absent, `null` or an object whose `reason` is a
//!   string, `null` or absent; so is a complete body (`{ result? }`, the
//!   result `null` when absent) and a start body (ignored). A progress body
//!   is `{ current, total?, message? }` (`null` for `total` or `message`
//!   means absent), a fail body `{ error }` with `error` a string or
//!   `{ message, code?, name?, stack? }` of strings, each at most 65,536
//!   UTF-16 units. Body text that is empty or only whitespace is no body;
//!   text that is not JSON is 400 on any route that exists (that is, on a
//!   known path with an allowed method: an unknown path stays 404, a wrong
//!   method 405). A body may nest 129 levels, so that a create body carries
//!   `inputs` and `config` as deep as the contract's 128 levels.
//! - **Order of errors.** A route reads its body before it looks the
//!   execution up: a bad body is 400 even for an unknown id, as the JS
//!   methods check their arguments before the id.
//!
//! Here: the request and response types, [`handle`] and [`status_of`]. The
//! route table and the handlers are in `route.rs`, what the `POST` routes
//! read from their bodies in `body.rs`, query-string parsing in `query.rs`,
//! percent-decoding (and the encoding of a `Location`) in `url.rs`; the JSON
//! reader behind [`Body::from_text`] is the core's `json_reader.rs`, and a
//! create body is checked by the validator the binding uses too
//! ([`crate::core::request`]).

mod body;
mod openapi;
mod query;
mod route;
mod url;

use serde_json::Value;

use super::error::Error;
use super::json::{write_str, MAX_DEPTH};
use super::json_reader;
use super::manager::Manager;

pub use query::{list_query, stream_query, StreamQuery};
pub use route::{new_execution, RouteInfo, ROUTES};
pub use url::{decode, encode_segment};

pub use openapi::{OPENAPI, PRETTY as OPENAPI_PRETTY};

/// What a stream route asked to follow, once the router checked it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    /// `GET /api/v1/executions/{id}/events`: one execution, which exists.
    Execution {
        /// Its id.
        id: String,
        /// `throttle_ms`, as `subscribe`'s `throttleMs`.
        throttle_ms: Option<u64>,
    },
    /// `GET /api/v1/events`: every execution matching the filter.
    All {
        /// `targetId`.
        target_id: Option<String>,
        /// `type`: any of these.
        types: Option<Vec<String>>,
        /// `throttle_ms`, as `subscribe`'s `throttleMs`.
        throttle_ms: Option<u64>,
    },
}

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
        if json_reader::is_blank(text) {
            return Body::Absent;
        }
        match json_reader::parse(text, MAX_BODY_DEPTH) {
            Ok(value) => Body::Json(value),
            Err(e) => Body::Invalid(format!("body is not valid JSON: {e}")),
        }
    }
}

/// The deepest body accepted: a create request object (level 1) around
/// `inputs` or `config` nested as deep as the contract allows (128 levels).
pub const MAX_BODY_DEPTH: usize = MAX_DEPTH + 1;

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
    /// One of 200, 201, 204, 400, 404, 405, 409, 501, 503.
    pub status: u16,
    /// JSON text; `None` for 204.
    pub body: Option<String>,
    /// For a 405, the methods the path allows (the `Allow` header).
    pub allow: Option<&'static str>,
    /// For a 201, the path of the created execution (the `Location`
    /// header): `/api/v1/executions/{id}`, the id percent-encoded.
    pub location: Option<String>,
    /// For the 501 of a stream route, what it asked to follow.
    pub stream: Option<Box<Stream>>,
}

impl RestResponse {
    fn json(status: u16, body: String) -> RestResponse {
        RestResponse {
            status,
            body: Some(body),
            allow: None,
            location: None,
            stream: None,
        }
    }

    fn no_content() -> RestResponse {
        RestResponse {
            body: None,
            ..RestResponse::json(204, String::new())
        }
    }

    /// The 501 of a stream route, which [`handle`] cannot serve.
    fn stream(stream: Stream) -> RestResponse {
        let mut r = RestResponse::error(
            501,
            "NOT_IMPLEMENTED",
            "this route is a stream of Server-Sent Events, which a synchronous handle() cannot serve; \
             use fetch() or the Node server",
        );
        r.stream = Some(Box::new(stream));
        r
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
        Error::ResourceExhausted { .. } | Error::Store { .. } => 503,
    }
}

/// Routes one request to the manager and answers it. Never panics; the
/// status is always one of 200, 201, 204, 400, 404, 405, 409, 501, 503.
///
/// A 201 from `POST /api/v1/executions` may have queued a handler-driven
/// execution, a 200 from `…/cancel`, `…/complete` or `…/fail` a terminal
/// one, a `…/start` a deadline: the caller must then act on the manager's
/// queues as after the JS methods.
pub fn handle(manager: &mut Manager, request: &RestRequest) -> RestResponse {
    match route::route(manager, request) {
        Ok(response) | Err(response) => response,
    }
}
