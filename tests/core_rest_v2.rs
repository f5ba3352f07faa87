#![cfg(not(target_arch = "wasm32"))]
//! The routes of the second round through the core's router: `tracked: true`
//! on create and its `Location`, `start`, progress reports, `complete`,
//! `fail`, `DELETE`, counts, the checks the two stream routes make before
//! their 501, and the document route; every answer checked for its shape
//! (status, error code, `Allow` iff 405, `Location` iff 201, a stream iff
//! 501).

use execman::core::rest::{handle, Body, Query, RestRequest, Stream, OPENAPI, ROUTES};
use execman::core::{Manager, ManualClock, NewExecution, Options, Status};
use serde_json::{json, Value};

#[path = "core_support/mod.rs"]
mod support;
use support::manager_at;
use support::rest::{check_shape, expect_error, BASE};

/// A manager at t = 1000 with the target `t` (type `workflow`) registered.
fn setup() -> (Manager, ManualClock) {
    let (mut m, clock) = manager_at(Options::default(), 1000.0);
    m.register("t", Some("workflow")).unwrap();
    (m, clock)
}

fn send(m: &mut Manager, request: RestRequest) -> (u16, Value) {
    let r = handle(m, &request);
    let body = check_shape(&r);
    (r.status, body)
}

fn post(m: &mut Manager, path: &str, body: Value) -> (u16, Value) {
    send(
        m,
        RestRequest::new("POST", path).with_body(Body::Json(body)),
    )
}

fn post_empty(m: &mut Manager, path: &str) -> (u16, Value) {
    send(m, RestRequest::new("POST", path))
}

fn get(m: &mut Manager, path: &str) -> (u16, Value) {
    send(m, RestRequest::new("GET", path))
}

fn delete(m: &mut Manager, path: &str) -> (u16, Value) {
    send(m, RestRequest::new("DELETE", path))
}

/// Creates a tracked execution over REST; returns its snapshot.
fn tracked(m: &mut Manager, id: &str) -> Value {
    let (status, body) = post(
        m,
        BASE,
        json!({ "targetId": "remote", "id": id, "tracked": true }),
    );
    assert_eq!(status, 201, "{body}");
    body
}

fn at(id: &str, action: &str) -> String {
    format!("{BASE}/{id}/{action}")
}

// ---------------------------------------------------------------- create tracked

#[test]
fn tracked_true_tracks_an_execution_of_any_target() {
    let (mut m, _) = setup();
    let r = handle(
        &mut m,
        &RestRequest::new("POST", BASE).with_body(Body::Json(json!({
            "targetId": "nobody-registered-this", "id": "job 1/é", "tracked": true,
            "type": "upload", "inputs": [1], "config": { "timeoutMs": 50 }
        }))),
    );
    let body = check_shape(&r);
    assert_eq!(r.status, 201);
    assert_eq!(
        r.location.as_deref(),
        Some("/api/v1/executions/job%201%2F%C3%A9")
    );
    assert_eq!(body["status"], "pending");
    assert_eq!(body["type"], "upload");
    assert_eq!(body["inputs"], json!([1]));
    assert_eq!(body.get("tracked"), None, "tracked is not stored");
    // Nothing runs it: no handler start is queued.
    assert_eq!(m.next_start(), None);
    // The Location is a path the router answers with the same execution.
    let location = r.location.unwrap();
    assert_eq!(get(&mut m, &location), (200, body));
}

#[test]
fn tracked_false_or_absent_is_create() {
    let (mut m, _) = setup();
    for body in [
        json!({ "targetId": "t", "id": "a", "tracked": false }),
        json!({ "targetId": "t", "id": "b" }),
    ] {
        let r = handle(
            &mut m,
            &RestRequest::new("POST", BASE).with_body(Body::Json(body)),
        );
        check_shape(&r);
        assert_eq!(r.status, 201);
    }
    // Handler-driven: both are queued to start, and the tracked routes refuse them.
    assert!(m.next_start().is_some());
    expect_error(
        post_empty(&mut m, &at("b", "start")),
        409,
        "INVALID_TRANSITION",
    );
    // Not tracked, so the target must be registered.
    expect_error(
        post(
            &mut m,
            BASE,
            json!({ "targetId": "remote", "tracked": false }),
        ),
        404,
        "UNKNOWN_TARGET",
    );
}

#[test]
fn a_bad_tracked_field_or_a_bad_tracked_request_is_400() {
    let (mut m, _) = setup();
    for value in [json!("true"), json!(1), json!(null), json!({})] {
        let msg = expect_error(
            post(&mut m, BASE, json!({ "targetId": "r", "tracked": value })),
            400,
            "INVALID_ARGUMENT",
        );
        assert!(msg.contains("request.tracked"), "{msg}");
    }
    let msg = expect_error(
        post(&mut m, BASE, json!({ "tracked": true })),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("request.targetId"), "{msg}");
    expect_error(
        post(
            &mut m,
            BASE,
            json!({ "targetId": "r", "id": "..", "tracked": true }),
        ),
        400,
        "INVALID_ARGUMENT",
    );
    tracked(&mut m, "dup");
    expect_error(
        post(
            &mut m,
            BASE,
            json!({ "targetId": "r", "id": "dup", "tracked": true }),
        ),
        409,
        "ALREADY_EXISTS",
    );
    assert_eq!(m.counts().total, 1, "failed creates changed nothing");
}

// ---------------------------------------------------------------- a tracked lifecycle

#[test]
fn start_progress_complete() {
    let (mut m, clock) = setup();
    tracked(&mut m, "job");
    clock.set(1500.0);
    let (status, started) = post_empty(&mut m, &at("job", "start"));
    assert_eq!(status, 200);
    assert_eq!(started["status"], "running");
    assert_eq!(started["startedAt"], 1500);
    expect_error(
        post_empty(&mut m, &at("job", "start")),
        409,
        "INVALID_TRANSITION",
    );

    clock.set(1600.0);
    let reported = post(
        &mut m,
        &at("job", "progress"),
        json!({ "current": 3, "total": 4, "message": "three of four" }),
    );
    assert_eq!(reported, (204, Value::Null));
    let (status, progress) = get(&mut m, &at("job", "progress"));
    assert_eq!(status, 200);
    assert_eq!(
        progress,
        json!({ "current": 3, "total": 4, "message": "three of four", "percentage": 75, "updatedAt": 1600 })
    );
    // null means absent; current may go down.
    assert_eq!(
        post(
            &mut m,
            &at("job", "progress"),
            json!({ "current": 1, "total": null, "message": null })
        )
        .0,
        204
    );
    assert_eq!(
        get(&mut m, &at("job", "progress")).1["percentage"],
        Value::Null
    );
    post(
        &mut m,
        &at("job", "progress"),
        json!({ "current": 2, "total": 4 }),
    );

    clock.set(1700.0);
    let (status, done) = post(
        &mut m,
        &at("job", "complete"),
        json!({ "result": { "rows": 12 } }),
    );
    assert_eq!(status, 200);
    assert_eq!(done["status"], "completed");
    assert_eq!(done["result"], json!({ "rows": 12 }));
    assert_eq!(done["finishedAt"], 1700);
    // With a total known, completion shows the whole of it.
    assert_eq!(done["progress"]["current"], 4);
    assert_eq!(done["progress"]["percentage"], 100);
    // Terminal: nothing more changes it.
    expect_error(
        post_empty(&mut m, &at("job", "complete")),
        409,
        "INVALID_TRANSITION",
    );
    expect_error(
        post(&mut m, &at("job", "progress"), json!({ "current": 1 })),
        409,
        "INVALID_TRANSITION",
    );
    expect_error(
        post(&mut m, &at("job", "fail"), json!({ "error": "late" })),
        409,
        "INVALID_TRANSITION",
    );
    assert_eq!(get(&mut m, &format!("{BASE}/job")).1, done);
}

#[test]
fn complete_without_a_result_is_null() {
    let (mut m, _) = setup();
    for (id, body) in [
        ("none", Body::Absent),
        ("null", Body::Json(Value::Null)),
        ("empty", Body::Json(json!({}))),
        ("blank", Body::from_text("  \n")),
    ] {
        tracked(&mut m, id);
        post_empty(&mut m, &at(id, "start"));
        let (status, done) = send(
            &mut m,
            RestRequest::new("POST", at(id, "complete")).with_body(body),
        );
        assert_eq!(status, 200, "{id}");
        assert_eq!(done["result"], Value::Null, "{id}");
    }
}

#[test]
fn complete_keeps_a_result_128_levels_deep_and_refuses_129() {
    let (mut m, _) = setup();
    let nest = |levels: usize| {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    };
    tracked(&mut m, "deep");
    post_empty(&mut m, &at("deep", "start"));
    // As body text (fetch): the reader stops at 129 levels of body.
    let text = format!("{{\"result\":{}}}", nest(129));
    expect_error(
        send(
            &mut m,
            RestRequest::new("POST", at("deep", "complete")).with_body(Body::from_text(&text)),
        ),
        400,
        "INVALID_ARGUMENT",
    );
    // As a value (handle()): the result's own depth is checked.
    let msg = expect_error(
        post(
            &mut m,
            &at("deep", "complete"),
            json!({ "result": nest(129) }),
        ),
        400,
        "INVALID_ARGUMENT",
    );
    assert!(msg.contains("result"), "{msg}");
    assert_eq!(m.counts().running, 1, "a refused result changes nothing");
    let text = format!("{{\"result\":{}}}", nest(128));
    let (status, _) = send(
        &mut m,
        RestRequest::new("POST", at("deep", "complete")).with_body(Body::from_text(&text)),
    );
    assert_eq!(status, 200);
}

#[test]
fn fail_takes_a_message_or_details() {
    let (mut m, _) = setup();
    tracked(&mut m, "a");
    post_empty(&mut m, &at("a", "start"));
    let (status, failed) = post(&mut m, &at("a", "fail"), json!({ "error": "disk full" }));
    assert_eq!(status, 200);
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({ "code": "EXTERNAL_ERROR", "name": "Error", "message": "disk full" })
    );

    tracked(&mut m, "b");
    post_empty(&mut m, &at("b", "start"));
    let details = json!({ "code": "E_QUOTA", "name": "QuotaError", "message": "over quota", "stack": "at upload()" });
    let (status, failed) = post(&mut m, &at("b", "fail"), json!({ "error": details }));
    assert_eq!(status, 200);
    assert_eq!(failed["error"], details);

    // A pending one cannot fail (it has not started), nor a handler-driven one.
    tracked(&mut m, "c");
    expect_error(
        post(&mut m, &at("c", "fail"), json!({ "error": "x" })),
        409,
        "INVALID_TRANSITION",
    );
    post(&mut m, BASE, json!({ "targetId": "t", "id": "h" }));
    expect_error(
        post(&mut m, &at("h", "fail"), json!({ "error": "x" })),
        409,
        "INVALID_TRANSITION",
    );
}

#[test]
fn bad_bodies_are_400_naming_the_field_and_come_before_the_lookup() {
    let (mut m, _) = setup();
    tracked(&mut m, "r");
    post_empty(&mut m, &at("r", "start"));
    let cases: Vec<(&str, Body, &str)> = vec![
        ("progress", Body::Absent, "`body`"),
        ("progress", Body::Json(json!([1])), "`body`"),
        ("progress", Body::Json(json!({})), "`current`"),
        (
            "progress",
            Body::Json(json!({ "current": "1" })),
            "`current`",
        ),
        (
            "progress",
            Body::Json(json!({ "current": -1 })),
            "`current`",
        ),
        (
            "progress",
            Body::Json(json!({ "current": 1, "total": 0 })),
            "`total`",
        ),
        (
            "progress",
            Body::Json(json!({ "current": 1, "total": "4" })),
            "`total`",
        ),
        (
            "progress",
            Body::Json(json!({ "current": 1, "message": 3 })),
            "`message`",
        ),
        ("progress", Body::from_text("{"), "`body`"),
        ("complete", Body::Json(json!("done")), "`body`"),
        ("complete", Body::from_text("nope"), "`body`"),
        ("fail", Body::Absent, "`body`"),
        ("fail", Body::Json(json!({})), "`error`"),
        ("fail", Body::Json(json!({ "error": 42 })), "`error`"),
        (
            "fail",
            Body::Json(json!({ "error": {} })),
            "`error.message`",
        ),
        (
            "fail",
            Body::Json(json!({ "error": { "message": "m", "name": false } })),
            "`error.name`",
        ),
        (
            "fail",
            Body::Json(json!({ "error": "x".repeat(65_537) })),
            "`error`",
        ),
        ("cancel", Body::Json(json!({ "reason": 1 })), "`reason`"),
        ("start", Body::from_text("[1,"), "`body`"),
    ];
    for (action, body, field) in cases {
        for id in ["r", "unknown-id"] {
            let msg = expect_error(
                send(
                    &mut m,
                    RestRequest::new("POST", at(id, action)).with_body(body.clone()),
                ),
                400,
                "INVALID_ARGUMENT",
            );
            assert!(msg.contains(field), "{action} {id}: {msg}");
        }
    }
    assert_eq!(
        m.status_json("r").map(|s| s.contains("\"running\"")),
        Some(true)
    );
    assert_eq!(
        m.progress_json("r"),
        Some(None),
        "no bad report got through"
    );
    // DELETE ignores a body, but one that is not JSON is still refused on a route that exists.
    expect_error(
        send(
            &mut m,
            RestRequest::new("DELETE", format!("{BASE}/r")).with_body(Body::from_text("{")),
        ),
        400,
        "INVALID_ARGUMENT",
    );
}

#[test]
fn unknown_ids_are_404_on_every_route_with_an_id() {
    let (mut m, _) = setup();
    for (method, path, body) in [
        ("POST", at("nope", "start"), Body::Absent),
        (
            "POST",
            at("nope", "progress"),
            Body::Json(json!({ "current": 1 })),
        ),
        ("POST", at("nope", "complete"), Body::Absent),
        (
            "POST",
            at("nope", "fail"),
            Body::Json(json!({ "error": "x" })),
        ),
        ("DELETE", format!("{BASE}/nope"), Body::Absent),
        ("GET", at("nope", "events"), Body::Absent),
    ] {
        let msg = expect_error(
            send(&mut m, RestRequest::new(method, &path).with_body(body)),
            404,
            "NOT_FOUND",
        );
        assert!(msg.contains("nope"), "{method} {path}: {msg}");
    }
}

#[test]
fn a_start_over_rest_arms_the_timeout() {
    let (mut m, clock) = setup();
    let (status, _) = post(
        &mut m,
        BASE,
        json!({ "targetId": "r", "id": "slow", "tracked": true, "config": { "timeoutMs": 100 } }),
    );
    assert_eq!(status, 201);
    assert_eq!(m.next_deadline(), None, "not counted before the start");
    clock.set(2000.0);
    post_empty(&mut m, &at("slow", "start"));
    assert_eq!(m.next_deadline(), Some(2100.0));
    m.expire(2100.0);
    let (_, snapshot) = get(&mut m, &format!("{BASE}/slow"));
    assert_eq!(snapshot["status"], "failed");
    assert_eq!(snapshot["error"]["code"], "TIMEOUT");
}

// ---------------------------------------------------------------- DELETE and counts

#[test]
fn delete_removes_a_terminal_execution_only() {
    let (mut m, _) = setup();
    tracked(&mut m, "p");
    tracked(&mut m, "a/b");
    post(
        &mut m,
        &at("a%2Fb", "cancel"),
        json!({ "reason": "not needed" }),
    );
    expect_error(
        delete(&mut m, &format!("{BASE}/p")),
        409,
        "INVALID_TRANSITION",
    );
    post_empty(&mut m, &at("p", "start"));
    expect_error(
        delete(&mut m, &format!("{BASE}/p")),
        409,
        "INVALID_TRANSITION",
    );

    let (status, removed) = delete(&mut m, &format!("{BASE}/a%2Fb"));
    assert_eq!(status, 200);
    assert_eq!(removed["id"], "a/b");
    assert_eq!(removed["status"], "cancelled");
    assert_eq!(removed["cancelReason"], "not needed");
    expect_error(delete(&mut m, &format!("{BASE}/a%2Fb")), 404, "NOT_FOUND");
    expect_error(get(&mut m, &format!("{BASE}/a%2Fb")), 404, "NOT_FOUND");
    assert_eq!(m.counts().total, 1);
    // The id is free again.
    tracked(&mut m, "a/b");
}

#[test]
fn counts_are_the_managers() {
    let (mut m, _) = setup();
    let zero = json!({ "pending": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0 });
    assert_eq!(get(&mut m, "/api/v1/counts"), (200, zero));
    for id in ["1", "2", "3", "4", "5"] {
        tracked(&mut m, id);
    }
    for id in ["2", "3", "4"] {
        post_empty(&mut m, &at(id, "start"));
    }
    post_empty(&mut m, &at("3", "complete"));
    post(&mut m, &at("4", "fail"), json!({ "error": "x" }));
    post_empty(&mut m, &at("5", "cancel"));
    post(&mut m, BASE, json!({ "targetId": "t" }));
    let (status, counts) = get(&mut m, "/api/v1/counts/");
    assert_eq!(status, 200);
    assert_eq!(
        counts,
        json!({ "pending": 2, "running": 1, "completed": 1, "failed": 1, "cancelled": 1, "total": 6 })
    );
    assert_eq!(support::counts(&m), [2, 1, 1, 1, 1, 6]);
    // The query is ignored.
    assert_eq!(get(&mut m, "/api/v1/counts?status=nonsense").0, 200);
}

// ---------------------------------------------------------------- streams and the document

fn stream_of(m: &mut Manager, path: &str) -> Stream {
    let r = handle(m, &RestRequest::new("GET", path));
    check_shape(&r);
    assert_eq!(r.status, 501, "{path}: {r:?}");
    *r.stream.unwrap()
}

#[test]
fn stream_routes_are_checked_then_answered_501_with_what_to_follow() {
    let (mut m, _) = setup();
    tracked(&mut m, "job 1");
    assert_eq!(
        stream_of(&mut m, &at("job%201", "events")),
        Stream::Execution {
            id: "job 1".into(),
            throttle_ms: None
        }
    );
    assert_eq!(
        stream_of(
            &mut m,
            &format!("{}?throttle_ms=250", at("job%201", "events"))
        ),
        Stream::Execution {
            id: "job 1".into(),
            throttle_ms: Some(250)
        }
    );
    assert_eq!(
        stream_of(&mut m, "/api/v1/events"),
        Stream::All {
            target_id: None,
            types: None,
            throttle_ms: None
        }
    );
    assert_eq!(
        stream_of(
            &mut m,
            "/api/v1/events?targetId=up+load&type=a,b&type=c&throttle_ms=&throttleMs=0&other=1"
        ),
        Stream::All {
            target_id: Some("up load".into()),
            types: Some(vec!["a".into(), "b".into(), "c".into()]),
            throttle_ms: Some(0)
        }
    );
    // An empty value is absent.
    assert_eq!(
        stream_of(&mut m, "/api/v1/events?throttle_ms=&targetId=&type="),
        Stream::All {
            target_id: None,
            types: None,
            throttle_ms: None
        }
    );
    for query in [
        "throttle_ms=-1",
        "throttle_ms=1.5",
        "throttle_ms=abc",
        "throttle_ms=1&throttleMs=2",
        "targetId=a&targetId=b",
        "type=a,,b",
        "throttle_ms=%zz",
    ] {
        let msg = expect_error(
            get(&mut m, &format!("/api/v1/events?{query}")),
            400,
            "INVALID_ARGUMENT",
        );
        assert!(msg.contains("query"), "{query}: {msg}");
        expect_error(
            get(&mut m, &format!("{}?{query}", at("job%201", "events"))),
            400,
            "INVALID_ARGUMENT",
        );
    }
    // The message says why, and where streams are served.
    let msg = expect_error(get(&mut m, "/api/v1/events"), 501, "NOT_IMPLEMENTED");
    assert!(msg.contains("fetch()"), "{msg}");
}

#[test]
fn the_document_route_serves_the_openapi_document() {
    let (mut m, _) = setup();
    let r = handle(&mut m, &RestRequest::new("GET", "/api/v1/openapi.json"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_deref(), Some(OPENAPI));
    let with_query = handle(
        &mut m,
        &RestRequest::new("GET", "/api/v1/openapi.json").with_query(Query::Text("?x=1".into())),
    );
    assert_eq!(with_query.status, 200);
}

#[test]
fn every_405_names_the_paths_methods_whatever_the_method() {
    let (mut m, _) = setup();
    tracked(&mut m, "x");
    for info in ROUTES {
        let path = info.path.replace("{id}", "x");
        for method in [
            "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
            "PROPFIND", "MKCOL", "M-SEARCH", "purge", "",
        ] {
            if info.methods().any(|m| m.eq_ignore_ascii_case(method)) {
                continue;
            }
            let r = handle(&mut m, &RestRequest::new(method, &path));
            check_shape(&r);
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.allow, Some(info.allow), "{method} {path}");
        }
    }
    assert_eq!(m.counts().total, 1);
    assert_eq!(
        m.record(m.seq_of("x").unwrap()).unwrap().status(),
        Status::Pending
    );
}

#[test]
fn a_tracked_request_built_in_rust_meets_the_same_rules() {
    // `track` through the router and through the manager give the same snapshot.
    let (mut m, _) = setup();
    let (_, over_rest) = post(
        &mut m,
        BASE,
        json!({ "targetId": "r", "id": "one", "tracked": true, "inputs": { "a": 1 } }),
    );
    let seq = m
        .track(NewExecution {
            id: Some("two".into()),
            target_id: "r".into(),
            inputs: Some(json!({ "a": 1 })),
            ..NewExecution::default()
        })
        .unwrap();
    let direct: Value = serde_json::from_str(&m.snapshot(seq).unwrap()).unwrap();
    let mut same = over_rest.clone();
    same["id"] = json!("two");
    assert_eq!(same, direct);
}
