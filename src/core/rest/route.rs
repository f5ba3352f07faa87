//! The routes: matching a path to one, and the handler of each (list,
//! get, progress, create, cancel).

use serde_json::Value;

use super::url::decode;
use super::{list_query, Body, Query, RestRequest, RestResponse};
use crate::core::error::Error;
use crate::core::json::describe;
use crate::core::manager::{Manager, NewExecution};
use crate::core::request::{self, Field};

/// A matched path: the collection, or one execution (with its id, decoded)
/// and what of it.
enum Route {
    Collection,
    Execution(String),
    Progress(String),
    Cancel(String),
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
            return Err(reply(Error::invalid("body", reason.clone())));
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
        let segment = decode(raw, false).map_err(|why| reply(Error::invalid("path", why)))?;
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
                return Err(reply(Error::invalid(
                    "reason",
                    format!("must be a string, got {}", describe(other)),
                )))
            }
        },
        Body::Json(other) => {
            return Err(reply(Error::invalid(
                "body",
                format!("must be an object {{ reason? }}, got {}", describe(other)),
            )))
        }
        Body::Invalid(reason) => return Err(reply(Error::invalid("body", reason.clone()))),
    };
    let seq = manager.cancel(id, reason).map_err(reply)?;
    Ok(RestResponse::json(
        200,
        manager.snapshot(seq).unwrap_or_default(),
    ))
}
