#![cfg(not(target_arch = "wasm32"))]
//! The REST router of `execman::core::rest` over every route of
//! the contract's REST table: success statuses, every error status and
//! code, method mismatches, unknown paths, bad JSON, path and query decoding
//! (percent-encoding, `+`, a leading `?`, comma lists, paging, order,
//! cursors, bad values), and a proptest that arbitrary requests never panic
//! and always answer one of 200, 201, 204, 400, 404, 405, 409, 501. The
//! routes of the second round (tracked create, start, progress reports,
//! complete, fail, DELETE, counts, the stream routes' checks and 501) are in
//! `core_rest_v2.rs`, the OpenAPI document in `core_openapi.rs`.

use execman::core::rest::{handle, Body, Query, RestRequest, RestResponse};
use execman::core::{Manager, NewExecution, Options};
use proptest::prelude::*;
use serde_json::{json, Value};

#[path = "core_support/mod.rs"]
mod support;
use support::rest::{self, expect_error, BASE};
use support::{ids, manager_at};

/// A manager at t = 1000 with targets `t` (type `workflow`) and `u` (type `task`).
fn setup() -> Manager {
    let (mut m, _clock) = manager_at(Options::default(), 1000.0);
    m.register("t", Some("workflow")).unwrap();
    m.register("u", None).unwrap();
    m
}

fn send(m: &mut Manager, request: RestRequest) -> (u16, Value) {
    let r = handle(m, &request);
    let body = check_shape(&r);
    (r.status, body)
}

fn get(m: &mut Manager, path: &str) -> (u16, Value) {
    send(m, RestRequest::new("GET", path))
}

fn post(m: &mut Manager, path: &str, body: Value) -> (u16, Value) {
    send(
        m,
        RestRequest::new("POST", path).with_body(Body::Json(body)),
    )
}

fn post_text(m: &mut Manager, path: &str, text: &str) -> (u16, Value) {
    send(
        m,
        RestRequest::new("POST", path).with_body(Body::from_text(text)),
    )
}

fn list(m: &mut Manager, query: &str) -> (u16, Value) {
    send(
        m,
        RestRequest::new("GET", BASE).with_query(Query::Text(query.to_owned())),
    )
}

/// The shape every answer must have ([`check_shape`](rest::check_shape)),
/// and an error body exactly `{"error":{"code","message"}}`.
fn check_shape(r: &RestResponse) -> Value {
    let v = rest::check_shape(r);
    if r.status >= 400 {
        let obj = v.as_object().expect("error body is an object");
        assert_eq!(obj.len(), 1, "{v}");
        let err = v["error"].as_object().expect("error object");
        assert_eq!(err.len(), 2, "{v}");
    }
    v
}

fn track(m: &mut Manager, id: &str, target: &str, kind: Option<&str>) {
    m.track(NewExecution {
        id: Some(id.into()),
        target_id: target.into(),
        kind: kind.map(str::to_owned),
        ..Default::default()
    })
    .unwrap();
}

// ---------------------------------------------------------------- create

#[test]
fn create_answers_201_with_the_pending_execution() {
    let mut m = setup();
    let (status, body) = post(
        &mut m,
        BASE,
        json!({
            "targetId": "t", "id": "job-1", "type": "report",
            "inputs": { "rows": [1, 2] }, "config": { "timeoutMs": 500, "x": "y" },
            "ignored": true
        }),
    );
    assert_eq!(status, 201);
    assert_eq!(body["id"], "job-1");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["type"], "report");
    assert_eq!(body["targetId"], "t");
    assert_eq!(body["inputs"], json!({ "rows": [1, 2] }));
    assert_eq!(body["config"], json!({ "timeoutMs": 500, "x": "y" }));
    assert_eq!(body["createdAt"], 1000);
    assert!(
        m.has_queued(),
        "the handler run is queued for the wasm layer"
    );
    let held: Value = serde_json::from_str(&m.status_json("job-1").unwrap()).unwrap();
    assert_eq!(body, held);

    // Defaults: generated id, the target's type, `{}` inputs and config; `null` inputs kept.
    let (status, body) = post(&mut m, BASE, json!({ "targetId": "t" }));
    assert_eq!(status, 201);
    assert_eq!(body["id"], "exec-1");
    assert_eq!(body["type"], "workflow");
    assert_eq!(body["inputs"], json!({}));
    assert_eq!(body["config"], json!({}));
    let (_, body) = post(&mut m, BASE, json!({ "targetId": "u", "inputs": null }));
    assert_eq!(body["type"], "task");
    assert_eq!(body["inputs"], Value::Null);
    // The same through body text, as fetch() passes it.
    let (status, body) = post_text(&mut m, BASE, r#" {"targetId":"t","id":"from-text"} "#);
    assert_eq!(status, 201);
    assert_eq!(body["id"], "from-text");
    assert_eq!(m.counts().pending, 4);
}

#[test]
fn create_errors() {
    let mut m = setup();
    post(&mut m, BASE, json!({ "targetId": "t", "id": "taken" }));
    let bad_bodies = [
        json!(null),
        json!([]),
        json!("t"),
        json!(3),
        json!(true),
        json!({}),
        json!({ "targetId": "" }),
        json!({ "targetId": 5 }),
        json!({ "targetId": null }),
        json!({ "targetId": "t", "id": null }),
        json!({ "targetId": "t", "id": "" }),
        json!({ "targetId": "t", "id": 7 }),
        json!({ "targetId": "t", "type": null }),
        json!({ "targetId": "t", "type": "" }),
        json!({ "targetId": "t", "type": ["a"] }),
        json!({ "targetId": "t", "config": null }),
        json!({ "targetId": "t", "config": [] }),
        json!({ "targetId": "t", "config": "x" }),
        json!({ "targetId": "t", "config": { "timeoutMs": 0 } }),
        json!({ "targetId": "t", "config": { "timeoutMs": "5" } }),
    ];
    for body in bad_bodies {
        let text = body.to_string();
        expect_error(post(&mut m, BASE, body), 400, "INVALID_ARGUMENT");
        expect_error(post_text(&mut m, BASE, &text), 400, "INVALID_ARGUMENT");
    }
    let msg = expect_error(
        post(&mut m, BASE, json!({ "targetId": "t", "id": null })),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("request.id"), "{msg}");
    let msg = expect_error(
        send(&mut m, RestRequest::new("POST", BASE)),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("missing"), "{msg}");
    for text in [
        "{",
        "{\"targetId\":",
        "nope",
        "{'targetId':'t'}",
        "[1,]",
        "\"\\ud800\"",
    ] {
        let msg = expect_error(post_text(&mut m, BASE, text), 400, "INVALID_ARGUMENT");
        assert!(msg.contains("JSON"), "{msg}");
    }
    let msg = expect_error(
        post(&mut m, BASE, json!({ "targetId": "nobody" })),
        404,
        "UNKNOWN_TARGET",
    );
    assert!(msg.contains("nobody"), "{msg}");
    let msg = expect_error(
        post(&mut m, BASE, json!({ "targetId": "t", "id": "taken" })),
        409,
        "ALREADY_EXISTS",
    );
    assert!(msg.contains("taken"), "{msg}");
    assert_eq!(m.counts().total, 1, "no error changed the manager");
}

#[test]
fn bodies_are_json_up_to_128_levels() {
    let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
    let body = |levels: usize| format!("{{\"targetId\":\"t\",\"inputs\":{}}}", nested(levels));
    let mut m = setup();
    // `inputs` may nest the contract's 128 levels inside the body object.
    let (status, created) = post_text(&mut m, BASE, &body(128));
    assert_eq!(status, 201);
    let mut depth = 0;
    let mut v = &created["inputs"];
    while let Some(inner) = v.as_array() {
        depth += 1;
        v = inner.first().unwrap_or(&Value::Null);
    }
    assert_eq!(depth, 128);
    let msg = expect_error(post_text(&mut m, BASE, &body(129)), 400, "INVALID_ARGUMENT");
    assert!(msg.contains("129"), "{msg}");
    // As a parsed body, 129 levels reach the core, which names the field.
    let mut deep = json!([]);
    for _ in 1..129 {
        deep = json!([deep]);
    }
    let msg = expect_error(
        post(&mut m, BASE, json!({ "targetId": "t", "inputs": deep })),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("request.inputs"), "{msg}");
    assert!(matches!(Body::from_text(&nested(129)), Body::Json(_)));
    assert!(matches!(Body::from_text(&nested(130)), Body::Invalid(_)));
    assert!(matches!(
        Body::from_text(&nested(100_000)),
        Body::Invalid(_)
    ));
    assert_eq!(Body::from_text(""), Body::Absent);
    assert_eq!(Body::from_text(" \n\t"), Body::Absent);
    assert_eq!(Body::from_text("null"), Body::Json(Value::Null));
    assert!(matches!(Body::from_text("1e999"), Body::Invalid(_)));
    assert!(matches!(Body::from_text("{} {}"), Body::Invalid(_)));
}

// ---------------------------------------------------------------- status and progress

#[test]
fn status_and_progress() {
    let mut m = setup();
    track(&mut m, "job", "remote", None);
    let (status, body) = get(&mut m, &format!("{BASE}/job"));
    assert_eq!(status, 200);
    assert_eq!(body["id"], "job");
    assert_eq!(body["status"], "pending");

    let (status, body) = get(&mut m, &format!("{BASE}/job/progress"));
    assert_eq!((status, body), (204, Value::Null));
    m.start("job").unwrap();
    assert_eq!(get(&mut m, &format!("{BASE}/job/progress")).0, 204);
    m.report_progress("job", 5.0, Some(20.0), Some("rows".into()))
        .unwrap();
    let (status, body) = get(&mut m, &format!("{BASE}/job/progress"));
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "current": 5, "total": 20, "message": "rows", "percentage": 25, "updatedAt": 1000 })
    );

    let msg = expect_error(get(&mut m, &format!("{BASE}/nope")), 404, "NOT_FOUND");
    assert!(msg.contains("nope"), "{msg}");
    let msg = expect_error(
        get(&mut m, &format!("{BASE}/nope/progress")),
        404,
        "NOT_FOUND",
    );
    assert!(msg.contains("nope"), "{msg}");
    // An empty id segment is simply an unknown id.
    expect_error(get(&mut m, &format!("{BASE}//progress")), 404, "NOT_FOUND");
}

// ---------------------------------------------------------------- cancel

#[test]
fn cancel_answers_200_then_409() {
    let mut m = setup();
    post(&mut m, BASE, json!({ "targetId": "t", "id": "a" }));
    let (status, body) = post(
        &mut m,
        &format!("{BASE}/a/cancel"),
        json!({ "reason": "stop" }),
    );
    assert_eq!(status, 200);
    assert_eq!(body["status"], "cancelled");
    assert_eq!(body["cancelReason"], "stop");
    assert_eq!(
        m.take_finished().len(),
        1,
        "queued for the wasm layer to abort"
    );
    let msg = expect_error(
        send(&mut m, RestRequest::new("POST", format!("{BASE}/a/cancel"))),
        409,
        "INVALID_TRANSITION",
    );
    assert!(msg.contains("cancelled"), "{msg}");
    expect_error(
        send(
            &mut m,
            RestRequest::new("POST", format!("{BASE}/zzz/cancel")),
        ),
        404,
        "NOT_FOUND",
    );

    // The body is optional: absent, empty text, null, {} or { reason: null } mean no reason.
    let no_reason = [
        Body::Absent,
        Body::from_text(""),
        Body::Json(Value::Null),
        Body::Json(json!({})),
        Body::Json(json!({ "reason": null, "other": 1 })),
    ];
    for (i, body) in no_reason.into_iter().enumerate() {
        let id = format!("n{i}");
        track(&mut m, &id, "remote", None);
        let (status, snap) = send(
            &mut m,
            RestRequest::new("POST", format!("{BASE}/{id}/cancel")).with_body(body),
        );
        assert_eq!(status, 200);
        assert_eq!(snap["status"], "cancelled");
        assert!(snap.get("cancelReason").is_none(), "{snap}");
    }

    track(&mut m, "b", "remote", None);
    for body in [
        Body::Json(json!({ "reason": 5 })),
        Body::Json(json!([])),
        Body::Json(json!("stop")),
        Body::from_text("{\"reason\":"),
    ] {
        expect_error(
            send(
                &mut m,
                RestRequest::new("POST", format!("{BASE}/b/cancel")).with_body(body),
            ),
            400,
            "INVALID_ARGUMENT",
        );
    }
    // A malformed body is a 400 even for an unknown id; nothing changed.
    expect_error(
        post_text(&mut m, &format!("{BASE}/zzz/cancel"), "nope"),
        400,
        "INVALID_ARGUMENT",
    );
    assert_eq!(get(&mut m, &format!("{BASE}/b")).1["status"], "pending");
}

// ---------------------------------------------------------------- methods and paths

#[test]
fn wrong_methods_are_405_with_allow() {
    let mut m = setup();
    track(&mut m, "x", "remote", None);
    let cases = [
        ("DELETE", BASE.to_owned(), "GET, POST"),
        ("PUT", BASE.to_owned(), "GET, POST"),
        ("HEAD", BASE.to_owned(), "GET, POST"),
        ("POST", format!("{BASE}/x"), "GET, DELETE"),
        ("PUT", format!("{BASE}/x"), "GET, DELETE"),
        ("PATCH", format!("{BASE}/x/progress"), "GET, POST"),
        ("DELETE", format!("{BASE}/x/progress"), "GET, POST"),
        ("GET", format!("{BASE}/x/cancel"), "POST"),
        ("", format!("{BASE}/x/cancel"), "POST"),
        ("TRACE", format!("{BASE}/x/start"), "POST"),
        ("GET", format!("{BASE}/x/complete"), "POST"),
        ("PROPFIND", format!("{BASE}/x/fail"), "POST"),
        ("POST", format!("{BASE}/x/events"), "GET"),
        ("POST", "/api/v1/events".to_owned(), "GET"),
        ("DELETE", "/api/v1/counts".to_owned(), "GET"),
        ("POST", "/api/v1/openapi.json".to_owned(), "GET"),
        ("OPTIONS", format!("{BASE}/unknown-id"), "GET, DELETE"),
    ];
    for (method, path, allow) in cases {
        let r = handle(&mut m, &RestRequest::new(method, path.clone()));
        check_shape(&r);
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.allow, Some(allow));
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
    }
    assert_eq!(get(&mut m, &format!("{BASE}/x/cancel")).0, 405);
    assert_eq!(m.counts().pending, 1, "a 405 changes nothing");
    // Methods are compared case-insensitively.
    assert_eq!(
        send(&mut m, RestRequest::new("get", format!("{BASE}/x"))).0,
        200
    );
    assert_eq!(
        send(&mut m, RestRequest::new("pOsT", format!("{BASE}/x/cancel"))).0,
        200
    );
}

#[test]
fn unknown_paths_are_404_not_found() {
    let mut m = setup();
    track(&mut m, "x", "remote", None);
    for path in [
        "",
        "/",
        "/api",
        "/api/v1",
        "/api/v1/",
        "/api/v2/executions",
        "/api/v1/execution",
        "/api/v1/executionsx",
        "/API/v1/executions",
        "api/v1/executions",
        "//api/v1/executions",
        "/api/v1/executions/x/y",
        "/api/v1/executions/x/progress/more",
        "/api/v1/executions/x/progress//",
        "/api/v1/executions/x/events/more",
        "/api/v1/counts/x",
        "/api/v1/events/x",
        "/api/v1/openapi.json/x",
        "/api/v1/openapi",
        "/api/v1/x/start",
        "http://localhost/api/v1/executions",
    ] {
        for method in ["GET", "POST", "DELETE"] {
            let msg = expect_error(
                send(&mut m, RestRequest::new(method, path)),
                404,
                "NOT_FOUND",
            );
            assert!(msg.contains("no route"), "{path}: {msg}");
        }
    }
    // A body that is not JSON does not turn an unknown path into a 400.
    expect_error(post_text(&mut m, "/api/v2/x", "{"), 404, "NOT_FOUND");
    // Nor a wrong method into a 400.
    expect_error(
        send(
            &mut m,
            RestRequest::new("DELETE", BASE).with_body(Body::from_text("{")),
        ),
        405,
        "METHOD_NOT_ALLOWED",
    );
}

#[test]
fn a_trailing_slash_is_tolerated() {
    let mut m = setup();
    track(&mut m, "x", "remote", None);
    assert_eq!(get(&mut m, &format!("{BASE}/")).0, 200);
    assert_eq!(
        get(&mut m, &format!("{BASE}/?status=pending")).1["total"],
        1
    );
    assert_eq!(get(&mut m, &format!("{BASE}/x/")).1["id"], "x");
    assert_eq!(get(&mut m, &format!("{BASE}/x/progress/")).0, 204);
    assert_eq!(
        post(&mut m, &format!("{BASE}/"), json!({ "targetId": "t" })).0,
        201
    );
    assert_eq!(
        send(
            &mut m,
            RestRequest::new("POST", format!("{BASE}/x/cancel/"))
        )
        .0,
        200
    );
}

#[test]
fn path_segments_are_percent_decoded_after_splitting() {
    let mut m = setup();
    let id = "jöb/1 ✓+€";
    assert_eq!(
        post(&mut m, BASE, json!({ "targetId": "t", "id": id })).0,
        201
    );
    let encoded = "j%C3%B6b%2F1%20%E2%9C%93%2B%e2%82%ac";
    let (status, body) = get(&mut m, &format!("{BASE}/{encoded}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(get(&mut m, &format!("{BASE}/{encoded}/progress")).0, 204);
    // Unescaped non-ASCII and a literal `+` in a path are taken as they are.
    assert_eq!(get(&mut m, &format!("{BASE}/jöb%2F1 ✓+€")).1["id"], id);
    // `/` unencoded splits: that id is not found through an unencoded slash.
    assert_eq!(
        get(
            &mut m,
            &format!("{BASE}/j%C3%B6b/1%20%E2%9C%93%2B%e2%82%ac")
        )
        .0,
        404
    );
    // Fixed segments match after decoding too.
    assert_eq!(get(&mut m, "/api/v1/%65xecutions").0, 200);
    let (status, body) = post(&mut m, &format!("{BASE}/{encoded}/cancel"), json!({}));
    assert_eq!((status, body["status"].as_str()), (200, Some("cancelled")));

    for bad in ["%", "%4", "%zz", "%C3", "%FF", "a%2", "%C3%28", "%ED%A0%80"] {
        for path in [
            format!("{BASE}/{bad}"),
            format!("{BASE}/{bad}/progress"),
            format!("/api/{bad}"),
        ] {
            let msg = expect_error(get(&mut m, &path), 400, "INVALID_ARGUMENT");
            assert!(msg.contains("path"), "{msg}");
        }
    }
}

// ---------------------------------------------------------------- list

/// Six executions: p1 p2 pending (types a, "b c"), r1 running (type "x,y"),
/// c1 completed, f1 failed (target `other`), k1 cancelled.
fn populated() -> Manager {
    let mut m = setup();
    track(&mut m, "p1", "remote", Some("a"));
    track(&mut m, "p2", "remote", Some("b c"));
    track(&mut m, "r1", "remote", Some("x,y"));
    track(&mut m, "c1", "remote", Some("a+b"));
    track(&mut m, "f1", "other", None);
    track(&mut m, "k1", "remote", None);
    m.start("r1").unwrap();
    m.start("c1").unwrap();
    m.complete("c1", None).unwrap();
    m.start("f1").unwrap();
    m.fail("f1", execman::core::Failure::new("E", "Error", "boom"))
        .unwrap();
    m.cancel("k1", None).unwrap();
    m
}

#[test]
fn list_defaults_and_leading_question_mark() {
    let mut m = populated();
    let (status, page) = list(&mut m, "");
    assert_eq!(status, 200);
    assert_eq!(ids(&page), ["k1", "f1", "c1", "r1", "p2", "p1"]);
    assert_eq!(page["total"], 6);
    assert_eq!(page["page"], 1);
    assert_eq!(page["pageSize"], 20);
    assert_eq!(page["totalPages"], 1);
    assert_eq!(page["hasNext"], false);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(list(&mut m, "?").1, page);
    assert_eq!(list(&mut m, "?&&").1, page);
    assert_eq!(
        list(&mut m, "?status=pending").1,
        list(&mut m, "status=pending").1
    );
    assert_eq!(ids(&list(&mut m, "?status=pending").1), ["p2", "p1"]);
    // The query may ride on the path, as in Node's `req.url`.
    assert_eq!(
        ids(&get(&mut m, &format!("{BASE}?status=pending&order=asc")).1),
        ["p1", "p2"]
    );
    assert_eq!(get(&mut m, &format!("{BASE}?")).1, page);
    let msg = expect_error(
        send(
            &mut m,
            RestRequest::new("GET", format!("{BASE}?page=1"))
                .with_query(Query::Text("page=2".into())),
        ),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("query"), "{msg}");
}

#[test]
fn list_filters() {
    let mut m = populated();
    let q = |m: &mut Manager, query: &str| {
        let (status, page) = list(m, query);
        assert_eq!(status, 200, "{query}: {page}");
        ids(&page)
    };
    assert_eq!(q(&mut m, "status=pending,running"), ["r1", "p2", "p1"]);
    assert_eq!(
        q(&mut m, "status=pending&status=running"),
        ["r1", "p2", "p1"]
    );
    assert_eq!(q(&mut m, "status=running,running"), ["r1"]);
    assert_eq!(
        q(&mut m, "status=completed,failed,cancelled"),
        ["k1", "f1", "c1"]
    );
    assert_eq!(q(&mut m, "type=a"), ["p1"]);
    assert_eq!(q(&mut m, "type=a,task"), ["k1", "f1", "p1"]);
    // `+` is a space; `%2B` a plus; `%2C` separates items like `,` does.
    assert_eq!(q(&mut m, "type=b+c"), ["p2"]);
    assert_eq!(q(&mut m, "type=b%20c"), ["p2"]);
    assert_eq!(q(&mut m, "type=a%2Bb"), ["c1"]);
    assert_eq!(q(&mut m, "type=a+b"), Vec::<String>::new());
    assert_eq!(q(&mut m, "type=x%2Cy"), Vec::<String>::new());
    assert_eq!(q(&mut m, "status=pending%2Crunning"), ["r1", "p2", "p1"]);
    assert_eq!(q(&mut m, "type=x,y"), Vec::<String>::new());
    assert_eq!(q(&mut m, "targetId=other"), ["f1"]);
    assert_eq!(q(&mut m, "targetId=remote&type=task"), ["k1"]);
    assert_eq!(q(&mut m, "targetId=nobody"), Vec::<String>::new());
    assert_eq!(q(&mut m, "status=pending&type=b+c&targetId=remote"), ["p2"]);
    // Empty values mean "not given"; unknown parameters are ignored.
    assert_eq!(
        q(
            &mut m,
            "status=&type=&targetId=&page=&page_size=&order=&cursor="
        )
        .len(),
        6
    );
    assert_eq!(q(&mut m, "status&type").len(), 6);
    assert_eq!(q(&mut m, "foo=bar&x=y&=z").len(), 6);
    assert_eq!(q(&mut m, "Status=nothing&limit=1").len(), 6);
    // Keys are decoded too.
    assert_eq!(q(&mut m, "st%61tus=running"), ["r1"]);
}

#[test]
fn list_paging_order_and_cursor() {
    let mut m = populated();
    let (_, page) = list(&mut m, "page_size=4");
    assert_eq!(ids(&page), ["k1", "f1", "c1", "r1"]);
    assert_eq!(
        (page["totalPages"].as_u64(), page["hasNext"].as_bool()),
        (Some(2), Some(true))
    );
    let (_, page2) = list(&mut m, "page_size=4&page=2");
    assert_eq!(ids(&page2), ["p2", "p1"]);
    assert_eq!(page2["page"], 2);
    assert_eq!(page2["hasNext"], false);
    let (_, past) = list(&mut m, "page_size=4&page=9");
    assert_eq!((ids(&past).len(), past["total"].as_u64()), (0, Some(6)));
    assert_eq!(ids(&list(&mut m, "pageSize=2&order=asc").1), ["p1", "p2"]);
    assert_eq!(
        ids(&list(&mut m, "page_size=0002&page=003").1),
        ["p2", "p1"]
    );
    assert_eq!(list(&mut m, "page_size=1000").1["pageSize"], 1000);
    assert_eq!(ids(&list(&mut m, "order=desc&page_size=1").1), ["k1"]);

    // Cursor paging in both orders visits every item once.
    for order in ["asc", "desc"] {
        let mut seen = Vec::new();
        let (_, mut page) = list(
            &mut m,
            &format!("order={order}&page_size=4&status=pending,running,completed,failed,cancelled"),
        );
        seen.extend(ids(&page));
        while page["hasNext"] == true {
            let cursor = page["nextCursor"].as_str().unwrap().to_owned();
            // A new execution created meanwhile does not shift the pages.
            track(
                &mut m,
                &format!("new-{order}-{}", seen.len()),
                "remote",
                None,
            );
            let (status, next) = list(
                &mut m,
                &format!("page_size=4&order={order}&cursor={cursor}&status=pending,running,completed,failed,cancelled"),
            );
            assert_eq!(status, 200);
            assert_eq!(next["page"], Value::Null);
            page = next;
            seen.extend(ids(&page));
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{seen:?}");
        assert!(seen.len() >= 6);
    }
    let (_, page) = list(&mut m, "page_size=1");
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    expect_error(
        list(&mut m, &format!("cursor={cursor}&page=1")),
        400,
        "INVALID_ARGUMENT",
    );
    expect_error(
        list(&mut m, &format!("cursor={cursor}&order=asc")),
        400,
        "INVALID_ARGUMENT",
    );
}

#[test]
fn list_rejects_bad_values_with_400() {
    let mut m = populated();
    let bad = [
        ("page=0", "query.page"),
        ("page=-1", "query.page"),
        ("page=1.5", "query.page"),
        ("page=1e2", "query.page"),
        ("page=abc", "query.page"),
        ("page=%2B1", "query.page"),
        ("page=+1", "query.page"),
        ("page=0x10", "query.page"),
        ("page=9007199254740992", "query.page"),
        ("page=99999999999999999999999", "query.page"),
        ("page=1&page=2", "query.page"),
        ("page_size=0", "query.page_size"),
        ("page_size=1001", "query.page_size"),
        ("page_size=10x", "query.page_size"),
        ("pageSize=-5", "query.pageSize"),
        ("page_size=5&pageSize=5", "query.pageSize"),
        ("order=ASC", "query.order"),
        ("order=up", "query.order"),
        ("order=asc&order=asc", "query.order"),
        ("status=bogus", "query.status"),
        ("status=Running", "query.status"),
        ("status=running,", "query.status"),
        ("status=,running", "query.status"),
        ("status=running,,pending", "query.status"),
        ("type=a,", "query.type"),
        ("targetId=a&targetId=b", "query.targetId"),
        ("cursor=zzz", "query.cursor"),
        ("cursor=a1&cursor=a2", "query.cursor"),
        ("status=%zz", "query.status"),
        ("type=%C3", "query.type"),
        ("unknown=%", "query.unknown"),
        ("%zz=1", "query"),
        ("page=%FF", "query.page"),
    ];
    for (query, field) in bad {
        let msg = expect_error(list(&mut m, query), 400, "INVALID_ARGUMENT");
        assert!(msg.contains(field), "{query}: {msg}");
    }
    // The other routes ignore the query.
    assert_eq!(
        send(
            &mut m,
            RestRequest::new("GET", format!("{BASE}/p1"))
                .with_query(Query::Text("page=%zz".into()))
        )
        .0,
        200
    );
    // A GET body that is not JSON is a 400 on a route that exists.
    expect_error(
        send(
            &mut m,
            RestRequest::new("GET", BASE).with_body(Body::from_text("{")),
        ),
        400,
        "INVALID_ARGUMENT",
    );
}

#[test]
fn list_with_decoded_pairs() {
    let mut m = populated();
    let pairs = |p: &[(&str, &str)]| {
        Query::Pairs(
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let q = |m: &mut Manager, query: Query| {
        let (status, page) = send(m, RestRequest::new("GET", BASE).with_query(query));
        assert_eq!(status, 200, "{page}");
        ids(&page)
    };
    assert_eq!(
        q(&mut m, pairs(&[("status", "pending,running")])),
        ["r1", "p2", "p1"]
    );
    // Pair values are already decoded: `+` and `%2B` are literal.
    assert_eq!(q(&mut m, pairs(&[("type", "a+b")])), ["c1"]);
    assert_eq!(q(&mut m, pairs(&[("type", "b c")])), ["p2"]);
    assert_eq!(q(&mut m, pairs(&[("type", "a%2Bb")])), Vec::<String>::new());
    assert_eq!(
        q(
            &mut m,
            pairs(&[("page_size", "2"), ("page", "2"), ("order", "asc")])
        ),
        ["r1", "c1"]
    );
    assert_eq!(q(&mut m, pairs(&[("status", "")])).len(), 6);
    assert_eq!(q(&mut m, pairs(&[])).len(), 6);
    expect_error(
        send(
            &mut m,
            RestRequest::new("GET", BASE).with_query(pairs(&[("page", "0")])),
        ),
        400,
        "INVALID_ARGUMENT",
    );
    // A query in the path and an empty pairs query do not conflict.
    assert_eq!(
        send(
            &mut m,
            RestRequest::new("GET", format!("{BASE}?type=a")).with_query(pairs(&[]))
        )
        .1["total"],
        1
    );
}

// ---------------------------------------------------------------- arbitrary requests

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "get", "post", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", ""]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "api",
            "v1",
            "executions",
            "progress",
            "cancel",
            "",
            "%",
            "%2",
            "%zz",
            "%2F",
            "%C3%A9",
            "%FF",
            "%ED%A0%80",
            "+",
            "a+b",
            "seed-0",
            "seed-1",
            "seed-2",
            "new",
            "..",
            ".",
            "?",
            "?status=running",
            "#",
            "%00",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9%+?&=#/ é-]{0,8}",
        any::<String>(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        // Mostly near the real routes, so the route handlers are reached.
        3 => (prop::collection::vec(segment(), 0..3), any::<bool>()).prop_map(|(tail, slash)| {
            let mut p = BASE.to_owned();
            for s in tail {
                p.push('/');
                p.push_str(&s);
            }
            if slash {
                p.push('/');
            }
            p
        }),
        1 => prop::collection::vec(segment(), 0..6).prop_map(|s| format!("/{}", s.join("/"))),
        1 => any::<String>(),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "status",
            "type",
            "targetId",
            "page",
            "page_size",
            "pageSize",
            "order",
            "cursor",
            "x",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z%+=&?]{0,6}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            "pending",
            "running,pending",
            "completed,,failed",
            "cancelled,",
            "a",
            "task",
            "1",
            "2",
            "0",
            "1000",
            "1001",
            "-1",
            "9007199254740991",
            "9007199254740992",
            "asc",
            "desc",
            "ASC",
            "a0",
            "d1",
            "d",
            "zz",
            "%",
            "%zz",
            "%2C",
            "+",
            "%FF",
            "é",
        ])
        .prop_map(str::to_owned),
        "[a-z0-9,%+&=?]{0,8}",
        any::<String>(),
    ];
    let pairs = prop::collection::vec((key, value), 0..6);
    prop_oneof![
        pairs.clone().prop_map(|p| {
            let text: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Query::Text(format!("?{}", text.join("&")))
        }),
        pairs.prop_map(Query::Pairs),
        any::<String>().prop_map(Query::Text),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec!["t", "u", "", "seed-0", "nobody", "x"]).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "targetId",
                        "id",
                        "type",
                        "inputs",
                        "config",
                        "reason",
                        "timeoutMs",
                        "x",
                    ])
                    .prop_map(str::to_owned),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::Absent),
        3 => json_value().prop_map(Body::Json),
        2 => (prop::sample::select(vec!["t", "u", "nobody", ""]), prop::option::of(prop::sample::select(vec!["seed-0", "seed-1", "n", ""])))
            .prop_map(|(target, id)| {
                let mut v = json!({ "targetId": target });
                if let Some(id) = id {
                    v["id"] = json!(id);
                }
                Body::Json(v)
            }),
        1 => any::<String>().prop_map(|t| Body::from_text(&t)),
        1 => "[\\[\\]{}\":,0-9a-z ]{0,16}".prop_map(|t| Body::from_text(&t)),
        1 => (1usize..200).prop_map(|n| Body::from_text(&("[".repeat(n) + &"]".repeat(n)))),
    ]
}

fn request() -> impl Strategy<Value = RestRequest> {
    (method(), path(), query(), body()).prop_map(|(method, path, query, body)| RestRequest {
        method,
        path,
        query,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_never_panic_and_answer_a_known_status(
        requests in prop::collection::vec(request(), 1..12)
    ) {
        let mut m = setup();
        for i in 0..3 {
            track(&mut m, &format!("seed-{i}"), "remote", None);
        }
        m.start("seed-1").unwrap();
        m.report_progress("seed-1", 1.0, None, None).unwrap();
        for request in &requests {
            let before = m.counts();
            let r = handle(&mut m, request);
            check_shape(&r);
            let after = m.counts();
            match r.status {
                201 => prop_assert_eq!(after.total, before.total + 1),
                200 if request.method.eq_ignore_ascii_case("POST") => {
                    prop_assert_eq!(after.cancelled, before.cancelled + 1)
                }
                _ => prop_assert_eq!(after, before, "{:?} changed the manager", request),
            }
        }
    }
}

#[test]
fn body_text_details() {
    let parsed = |text: &str| match Body::from_text(text) {
        Body::Json(v) => v,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(
        parsed(r#" { "a" : [ 1 , -2.5e3, true, false, null, "x\"\\\/\u00e9\ud83d\ude00\n" ] } "#),
        json!({ "a": [1, -2500.0, true, false, null, "x\"\\/é😀\n"] })
    );
    // A repeated key keeps its place and takes the last value, as JSON.parse does.
    assert_eq!(
        serde_json::to_string(&parsed(r#"{"a":1,"b":2,"a":3}"#)).unwrap(),
        r#"{"a":3,"b":2}"#
    );
    assert_eq!(
        parsed(r#"{"__proto__":{"x":1}}"#),
        json!({ "__proto__": { "x": 1 } })
    );
    for bad in [
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1,}",
        "\"abc",
        "\"\\",
        "\"\\x\"",
        "\"\\ud800\"",
        "\"\\udc00x\"",
        "tru",
        "True",
        "NaN",
        "Infinity",
        "-",
        "01",
        "1.",
        ".5",
        "+1",
        "1e",
        "1e999",
        "-1e999",
        "[1 2]",
        "\"a\" \"b\"",
        "\u{a0}1",
        "'a'",
        "\"\u{1}\"",
        "[\"\\u12\"]",
    ] {
        assert!(
            matches!(Body::from_text(bad), Body::Invalid(_)),
            "{bad:?} was accepted"
        );
        assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad:?}");
    }
}

/// JSON values equal up to float rounding: serde_json's default float
/// parsing may be one ulp off, the router's is correctly rounded.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && close(x, y))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn body_text_reads_back_what_serde_json_writes(v in json_value()) {
        prop_assert_eq!(Body::from_text(&v.to_string()), Body::Json(v.clone()));
        prop_assert_eq!(Body::from_text(&serde_json::to_string_pretty(&v).unwrap()), Body::Json(v));
    }

    #[test]
    fn body_text_agrees_with_serde_json(
        text in prop_oneof![
            "[\\[\\]{}\":,0-9a-z .\\\\eE+\\-\n]{0,24}",
            any::<String>(),
            // Strings with escapes: pairs, lone halves, short or bad \\u, controls.
            "\"([a-zé ]|\\\\[\"\\\\/bfnrtux]|\\\\u[dD][89abAB][0-9a-f]{2}|\\\\u[dD][c-fC-F][0-9a-f]{2}|\\\\u00[0-9a-f]{2}|\\\\u[0-9a-g]{0,3}|\u{1}|\t){0,6}\"?",
        ]
    ) {
        let theirs = serde_json::from_str::<Value>(&text);
        match Body::from_text(&text) {
            Body::Absent => prop_assert!(text.trim_matches([' ', '\t', '\n', '\r']).is_empty()),
            Body::Json(v) => {
                match theirs {
                    Ok(theirs) => prop_assert!(close(&theirs, &v), "{:?}", text),
                    Err(e) => prop_assert!(false, "{:?} accepted, serde_json says {}", text, e),
                }
            }
            Body::Invalid(_) => prop_assert!(theirs.is_err(), "{:?} rejected", text),
        }
    }

    #[test]
    fn numbers_are_read_as_json_parse_reads_them(
        text in "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?"
    ) {
        let ours = Body::from_text(&text);
        let exact = text.parse::<f64>().unwrap();
        match ours {
            Body::Json(Value::Number(n)) => {
                let ours = n.as_f64().unwrap();
                prop_assert_eq!(ours.to_bits(), exact.to_bits(), "{}", text);
                if let Some(i) = n.as_i64() {
                    prop_assert_eq!(text.parse::<i64>().ok(), Some(i));
                }
            }
            Body::Invalid(_) => prop_assert!(!exact.is_finite(), "{:?} rejected", text),
            other => prop_assert!(false, "{:?}: {:?}", text, other),
        }
    }
}
