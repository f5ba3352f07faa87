//! The routes: the table of paths and their methods, matching a request to
//! one, and the handler of each.

use serde_json::Value;

use super::url::{decode, encode_segment};
use super::{body, list_query, stream_query, Body, Query, RestRequest, RestResponse, OPENAPI};
use crate::core::error::Error;
use crate::core::json::describe;
use crate::core::manager::{Manager, NewExecution};
use crate::core::request::{self, Field};

/// One path of the API (as the OpenAPI document writes it, `{id}` standing
/// for one percent-encoded segment) and the methods it answers, as its
/// `Allow` header lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    /// The path template, e.g. `/api/v1/executions/{id}/cancel`.
    pub path: &'static str,
    /// The methods, comma-separated (`GET, POST`): the `Allow` of a 405.
    pub allow: &'static str,
}

impl RouteInfo {
    /// The methods one by one.
    pub fn methods(&self) -> impl Iterator<Item = &'static str> {
        self.allow.split(", ")
    }

    /// The method of the request as one of this path's (compared
    /// case-insensitively), or `None` when the path does not answer it.
    fn method(&self, method: &str) -> Option<Method> {
        let allowed = self.methods().any(|m| m.eq_ignore_ascii_case(method));
        match allowed.then(|| method.to_ascii_uppercase()).as_deref() {
            Some("GET") => Some(Method::Get),
            Some("POST") => Some(Method::Post),
            Some("DELETE") => Some(Method::Delete),
            _ => None,
        }
    }
}

const COLLECTION: RouteInfo = RouteInfo {
    path: "/api/v1/executions",
    allow: "GET, POST",
};
const EXECUTION: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}",
    allow: "GET, DELETE",
};
const PROGRESS: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/progress",
    allow: "GET, POST",
};
const CANCEL: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/cancel",
    allow: "POST",
};
const START: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/start",
    allow: "POST",
};
const COMPLETE: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/complete",
    allow: "POST",
};
const FAIL: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/fail",
    allow: "POST",
};
const EXECUTION_EVENTS: RouteInfo = RouteInfo {
    path: "/api/v1/executions/{id}/events",
    allow: "GET",
};
const EVENTS: RouteInfo = RouteInfo {
    path: "/api/v1/events",
    allow: "GET",
};
const COUNTS: RouteInfo = RouteInfo {
    path: "/api/v1/counts",
    allow: "GET",
};
const OPENAPI_DOC: RouteInfo = RouteInfo {
    path: "/api/v1/openapi.json",
    allow: "GET",
};

/// Every path the router answers and its methods: the one table that
/// matching, the `Allow` headers and the OpenAPI document (`openapi.json`,
/// compared with it by `tests/core_openapi.rs`) agree on.
pub const ROUTES: [RouteInfo; 11] = [
    COLLECTION,
    EXECUTION,
    PROGRESS,
    CANCEL,
    START,
    COMPLETE,
    FAIL,
    EXECUTION_EVENTS,
    EVENTS,
    COUNTS,
    OPENAPI_DOC,
];

/// The methods any route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Delete,
}

/// What an execution's path names after its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Progress,
    Cancel,
    Start,
    Complete,
    Fail,
    Events,
}

/// A matched path, with the execution's id (decoded) where it has one.
enum Route {
    Collection,
    Execution(String),
    Action(String, Action),
    Events,
    Counts,
    OpenApi,
}

impl Route {
    fn info(&self) -> &'static RouteInfo {
        match self {
            Route::Collection => &COLLECTION,
            Route::Execution(_) => &EXECUTION,
            Route::Action(_, Action::Progress) => &PROGRESS,
            Route::Action(_, Action::Cancel) => &CANCEL,
            Route::Action(_, Action::Start) => &START,
            Route::Action(_, Action::Complete) => &COMPLETE,
            Route::Action(_, Action::Fail) => &FAIL,
            Route::Action(_, Action::Events) => &EXECUTION_EVENTS,
            Route::Events => &EVENTS,
            Route::Counts => &COUNTS,
            Route::OpenApi => &OPENAPI_DOC,
        }
    }
}

/// Matches the request to a route, checks the method and runs the route's
/// handler; every answer that is not a success comes back as `Err`.
pub(super) fn route(
    manager: &mut Manager,
    request: &RestRequest,
) -> Result<RestResponse, RestResponse> {
    let (path, path_query) = match request.path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.path.as_str(), None),
    };
    let query = match path_query {
        Some(text) if !text.is_empty() => {
            if !request.query.is_empty() {
                return Err(reply(Error::invalid(
                    "query",
                    "was given both in the path and separately; pass it once",
                )));
            }
            Query::Text(text.to_owned())
        }
        _ => request.query.clone(),
    };
    let route = match_path(path)?;
    let info = route.info();
    let Some(method) = info.method(&request.method) else {
        return Err(RestResponse::method_not_allowed(
            &request.method,
            path,
            info.allow,
        ));
    };
    // Only once the route and its method exist: an unknown path stays a
    // 404, a wrong method a 405.
    if let Body::Invalid(reason) = &request.body {
        return Err(reply(Error::invalid("body", reason.clone())));
    }
    let body = &request.body;
    match (route, method) {
        (Route::Collection, Method::Get) => list(manager, &query),
        (Route::Collection, Method::Post) => create(manager, body),
        (Route::Execution(id), Method::Get) => manager
            .status_json(&id)
            .map(|snapshot| RestResponse::json(200, snapshot))
            .ok_or_else(|| reply(Error::not_found(&id))),
        (Route::Execution(id), Method::Delete) => manager
            .remove(&id)
            .map(|snapshot| RestResponse::json(200, snapshot))
            .map_err(reply),
        (Route::Action(id, Action::Progress), Method::Get) => match manager.progress_json(&id) {
            None => Err(reply(Error::not_found(&id))),
            Some(None) => Ok(RestResponse::no_content()),
            Some(Some(progress)) => Ok(RestResponse::json(200, progress)),
        },
        (Route::Action(id, Action::Progress), Method::Post) => {
            let (current, total, message) = body::progress(body).map_err(reply)?;
            manager
                .report_progress(&id, current, total, message)
                .map_err(reply)?;
            Ok(RestResponse::no_content())
        }
        (Route::Action(id, Action::Cancel), Method::Post) => {
            let reason = body::cancel_reason(body).map_err(reply)?;
            let outcome = manager.cancel(&id, reason);
            changed(manager, outcome)
        }
        (Route::Action(id, Action::Start), Method::Post) => {
            let outcome = manager.start(&id);
            changed(manager, outcome)
        }
        (Route::Action(id, Action::Complete), Method::Post) => {
            let result = body::result(body).map_err(reply)?;
            let outcome = manager.complete(&id, result);
            changed(manager, outcome)
        }
        (Route::Action(id, Action::Fail), Method::Post) => {
            let failure = body::failure(body).map_err(reply)?;
            let outcome = manager.fail(&id, failure);
            changed(manager, outcome)
        }
        (Route::Action(id, Action::Events), Method::Get) => {
            let stream = stream_query(&query).map_err(reply)?;
            if manager.seq_of(&id).is_none() {
                return Err(reply(Error::not_found(&id)));
            }
            Err(RestResponse::stream(stream.of_execution(id)))
        }
        (Route::Events, Method::Get) => {
            let stream = stream_query(&query).map_err(reply)?;
            Err(RestResponse::stream(stream.of_all()))
        }
        (Route::Counts, Method::Get) => Ok(RestResponse::json(200, manager.counts_json())),
        (Route::OpenApi, Method::Get) => Ok(RestResponse::json(200, OPENAPI.to_owned())),
        // The table let through a method this match has no arm for: answered
        // as any other method the path does not take.
        (_, _) => Err(RestResponse::method_not_allowed(
            &request.method,
            path,
            info.allow,
        )),
    }
}

fn reply(error: Error) -> RestResponse {
    RestResponse::from_error(&error)
}

/// 200 with the execution a change returned (its creation sequence), or the
/// change's error.
fn changed(manager: &Manager, outcome: Result<u64, Error>) -> Result<RestResponse, RestResponse> {
    let seq = outcome.map_err(reply)?;
    Ok(RestResponse::json(
        200,
        manager.snapshot(seq).unwrap_or_default(),
    ))
}

/// Splits, decodes and matches the path.
fn match_path(path: &str) -> Result<Route, RestResponse> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(RestResponse::not_found(path));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let segment = decode(raw, false).map_err(|why| reply(Error::invalid("path", why)))?;
        segments.push(segment);
    }
    let mut it = segments.into_iter();
    if it.next().as_deref() != Some("api") || it.next().as_deref() != Some("v1") {
        return Err(RestResponse::not_found(path));
    }
    let (Some(first), id, action, None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(RestResponse::not_found(path));
    };
    let action = match action.as_deref() {
        None => None,
        Some("progress") => Some(Action::Progress),
        Some("cancel") => Some(Action::Cancel),
        Some("start") => Some(Action::Start),
        Some("complete") => Some(Action::Complete),
        Some("fail") => Some(Action::Fail),
        Some("events") => Some(Action::Events),
        Some(_) => return Err(RestResponse::not_found(path)),
    };
    match (first.as_str(), id, action) {
        ("executions", None, _) => Ok(Route::Collection),
        ("executions", Some(id), None) => Ok(Route::Execution(id)),
        ("executions", Some(id), Some(action)) => Ok(Route::Action(id, action)),
        ("events", None, _) => Ok(Route::Events),
        ("counts", None, _) => Ok(Route::Counts),
        ("openapi.json", None, _) => Ok(Route::OpenApi),
        _ => Err(RestResponse::not_found(path)),
    }
}

fn list(manager: &Manager, query: &Query) -> Result<RestResponse, RestResponse> {
    let q = list_query(query).map_err(reply)?;
    manager
        .list_json(&q)
        .map(|page| RestResponse::json(200, page))
        .map_err(reply)
}

/// Converts a create body into a [`NewExecution`]: the body must be a JSON
/// object, whose known fields then meet the rules of [`request::validate`],
/// the validator of the JS `create` too. Unknown fields are ignored.
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
    request::validate(|key| {
        Ok(map
            .get(key.name())
            .cloned()
            .map_or(Field::Missing, Field::Json))
    })
}

/// `POST /api/v1/executions`: `create`, or `track` with `"tracked": true`;
/// 201 with the execution and its `Location`.
fn create(manager: &mut Manager, body: &Body) -> Result<RestResponse, RestResponse> {
    let tracked = body::tracked(body).map_err(reply)?;
    let request = new_execution(body).map_err(reply)?;
    let seq = if tracked {
        manager.track(request)
    } else {
        manager.create(request)
    }
    .map_err(reply)?;
    let mut response = RestResponse::json(201, manager.snapshot(seq).unwrap_or_default());
    if let Some(record) = manager.record(seq) {
        response.location = Some(format!(
            "{}/{}",
            COLLECTION.path,
            encode_segment(record.id())
        ));
    }
    Ok(response)
}
