#![cfg(target_arch = "wasm32")]
// Test code fails by panicking; the crate-wide "no panics" lints are for code reachable from JS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! wasm-bindgen-test suite for the handler runtime of `execman::wasm::ExecutionManager`:
//! async and sync handlers, handler failures, cancellation, `timeoutMs`, the concurrency
//! limit with its FIFO queue, and the error paths of the contract.
//!
//! Runs in Node by default (`cargo test --target wasm32-unknown-unknown --test wasm_runtime`,
//! `wasm-pack test --node`); `tests/wasm_in_browser.rs` includes it again for the browser
//! (`wasm-pack test --headless --chrome`); nothing here is specific to either host.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

#[path = "wasm_support/mod.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

fn set(v: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(v, &s(key), value).unwrap();
}

fn get_f64(v: &JsValue, key: &str) -> Option<f64> {
    get(v, key).as_f64()
}

fn status_of(snapshot: &JsValue) -> String {
    get_str(snapshot, "status")
        .unwrap_or_else(|| panic!("not a snapshot (no string status): {}", canon(snapshot)))
}

/// Asserts that `actual` equals the JS expression `expected` structurally.
fn assert_js_eq(actual: &JsValue, expected: &str, what: &str) {
    assert_eq!(canon(actual), canon(&js(expected)), "{what}");
}

/// Asserts `res` is an error with `code`; returns the error.
fn expect_code<T>(res: Result<T, JsValue>, code: &str, what: &str) -> JsValue {
    match res {
        Ok(_) => panic!("{what}: expected an ExecutionError {code}, but the call succeeded"),
        Err(e) => {
            check_error(&e, code, what);
            e
        }
    }
}

/// Checks that `err` is the contract's error: an `Error` named "ExecutionError" with `code`.
fn check_error(err: &JsValue, code: &str, what: &str) {
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "{what}: thrown value is not an Error: {err:?}"
    );
    assert_eq!(
        get_str(err, "name").as_deref(),
        Some("ExecutionError"),
        "{what}: error name ({err:?})"
    );
    assert_eq!(
        get_str(err, "code").as_deref(),
        Some(code),
        "{what}: error code (message: {:?})",
        get_str(err, "message")
    );
    let message = get_str(err, "message").unwrap_or_default();
    assert!(!message.is_empty(), "{what}: empty error message");
}

/// The message of an error, for "names the offending id or field" checks.
fn message_of(err: &JsValue) -> String {
    get_str(err, "message").unwrap_or_default()
}

const PRELUDE: &str = "const sleep = (ms) => new Promise((r) => globalThis.setTimeout(r, ms));";

/// `async function (inputs, ctx) { body }` that sees `probe` (a JS object shared with the test).
fn async_handler(probe: &JsValue, body: &str) -> JsValue {
    Function::new_with_args(
        "probe",
        &format!("{PRELUDE} return async function (inputs, ctx) {{ {body} }};"),
    )
    .call1(&JsValue::NULL, probe)
    .unwrap()
}

/// `function (inputs, ctx) { body }` (not async) that sees `probe`.
fn sync_handler(probe: &JsValue, body: &str) -> JsValue {
    Function::new_with_args(
        "probe",
        &format!("{PRELUDE} return function (inputs, ctx) {{ {body} }};"),
    )
    .call1(&JsValue::NULL, probe)
    .unwrap()
}

fn manager(options: &str) -> ExecutionManager {
    ExecutionManager::new(Some(js(options)))
        .unwrap_or_else(|e| panic!("new ExecutionManager({options}) failed: {e:?}"))
}

/// Records every event of `m` as "type:id:status" into a JS array.
fn record_events(m: &ExecutionManager) -> Array {
    let log = Array::new();
    let listener = Function::new_with_args(
        "log",
        "return (ev) => { log.push(ev.type + ':' + ev.execution.id + ':' + ev.execution.status); };",
    )
    .call1(&JsValue::NULL, &log)
    .unwrap();
    m.subscribe(listener).unwrap();
    log
}

fn events_of(log: &Array, id: &str) -> Vec<String> {
    log.iter()
        .filter_map(|v| v.as_string())
        .filter(|line| line.split(':').nth(1) == Some(id))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// handler-driven executions
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn async_handler_completes_with_result_and_progress() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{ calls: 0 }");
    let handler = async_handler(
        &probe,
        r#"
        probe.calls++;
        probe.inputsSeen = JSON.stringify(inputs);
        probe.ctxId = ctx.id;
        probe.configSeen = ctx.config.k;
        probe.signalAborted = ctx.signal.aborted;
        inputs.n = 999;               // the handler's copy, not the manager's
        ctx.progress(1, 4, "one");
        await new Promise((r) => { probe.release = r; });
        ctx.progress(3, 4);
        return { doubled: 42, nested: [1, "two", null, true, { deep: 1.5 }] };
        "#,
    );
    m.register(s("double"), handler, Some(js(r#"{ type: "workflow" }"#)))
        .unwrap();

    let snap = m
        .create(js(
            r#"{ targetId: "double", id: "a1", inputs: { n: 21 }, config: { k: "v" } }"#,
        ))
        .unwrap();
    assert_eq!(status_of(&snap), "pending");
    assert_eq!(get_str(&snap, "id").as_deref(), Some("a1"));
    assert_eq!(get_str(&snap, "targetId").as_deref(), Some("double"));
    assert_eq!(
        get_str(&snap, "type").as_deref(),
        Some("workflow"),
        "type from register options"
    );
    assert_js_eq(&get(&snap, "inputs"), "{ n: 21 }", "inputs");
    assert_js_eq(&get(&snap, "config"), r#"{ k: "v" }"#, "config");
    assert!(get(&snap, "progress").is_null(), "no progress yet");
    assert!(
        get(&snap, "startedAt").is_null(),
        "startedAt null while pending"
    );
    assert!(
        get(&snap, "finishedAt").is_null(),
        "finishedAt null while pending"
    );
    assert!(
        get_f64(&snap, "createdAt").is_some(),
        "createdAt is a number"
    );
    assert!(
        get_f64(&snap, "updatedAt").is_some(),
        "updatedAt is a number"
    );
    assert!(get(&snap, "result").is_undefined());
    assert!(get(&snap, "error").is_undefined());
    assert_eq!(
        get_f64(&probe, "calls"),
        Some(0.0),
        "handler must not be called inside create"
    );
    assert_eq!(
        status_of(&ok(m.status(s("a1")))),
        "pending",
        "queryable at once"
    );
    assert_eq!(counts(&m), expected_counts(1, 0, 0, 0, 0));

    until("handler started", 1000.0, || {
        get(&probe, "release").is_function()
    })
    .await;
    let running = ok(m.status(s("a1")));
    assert_eq!(status_of(&running), "running");
    assert!(
        get_f64(&running, "startedAt").is_some(),
        "startedAt set when running"
    );
    assert_eq!(get(&probe, "signalAborted"), JsValue::FALSE);
    let progress = ok(m.progress(s("a1")));
    assert_js_eq(
        &pick(&progress, &["current", "total", "message", "percentage"]),
        r#"{ current: 1, total: 4, message: "one", percentage: 25 }"#,
        "progress while running",
    );
    assert!(
        get_f64(&progress, "updatedAt").is_some(),
        "progress.updatedAt"
    );
    assert_js_eq(
        &get(&running, "progress"),
        &canon(&progress),
        "snapshot.progress == progress(id)",
    );
    assert_js_eq(
        &get(&running, "inputs"),
        "{ n: 21 }",
        "handler mutated only its copy of inputs",
    );
    assert_eq!(counts(&m), expected_counts(0, 1, 0, 0, 0));

    Function::from(get(&probe, "release"))
        .call0(&JsValue::NULL)
        .unwrap();
    let done = wait_done(&m, "a1", 1000).await;
    assert_eq!(status_of(&done), "completed");
    assert_js_eq(
        &get(&done, "result"),
        r#"{ doubled: 42, nested: [1, "two", null, true, { deep: 1.5 }] }"#,
        "result",
    );
    assert!(get(&done, "error").is_undefined(), "no error on completed");
    let final_progress = get(&done, "progress");
    assert_eq!(
        get_f64(&final_progress, "current"),
        Some(4.0),
        "completed: current = total"
    );
    assert_eq!(get_f64(&final_progress, "total"), Some(4.0));
    assert_eq!(get_f64(&final_progress, "percentage"), Some(100.0));
    let created = get_f64(&done, "createdAt").unwrap();
    let started = get_f64(&done, "startedAt").unwrap();
    let finished = get_f64(&done, "finishedAt").unwrap();
    assert!(
        created <= started && started <= finished,
        "timestamps ordered"
    );
    assert_eq!(get_f64(&probe, "calls"), Some(1.0), "handler called once");
    assert_eq!(get_str(&probe, "ctxId").as_deref(), Some("a1"));
    assert_eq!(get_str(&probe, "configSeen").as_deref(), Some("v"));
    assert_eq!(
        get_str(&probe, "inputsSeen").as_deref(),
        Some(r#"{"n":21}"#)
    );
    assert_eq!(
        canon(&ok(m.status(s("a1")))),
        canon(&done),
        "status(id) == wait result"
    );
    assert_eq!(counts(&m), expected_counts(0, 0, 1, 0, 0));

    // Snapshots are copies.
    set(&get(&done, "result"), "doubled", &JsValue::from(0));
    set(&done, "status", &s("failed"));
    let again = ok(m.status(s("a1")));
    assert_eq!(
        status_of(&again),
        "completed",
        "mutating a snapshot must not change the manager"
    );
    assert_eq!(get_f64(&get(&again, "result"), "doubled"), Some(42.0));
}

/// A new object with only `keys` of `v` (for structural comparisons of some fields).
fn pick(v: &JsValue, keys: &[&str]) -> JsValue {
    let picked = js_sys::Object::new();
    for k in keys {
        set(&picked, k, &get(v, k));
    }
    picked.into()
}

#[wasm_bindgen_test]
async fn sync_and_void_handlers_complete_with_defaults() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{ sync: 0 }");
    m.register(
        s("sync"),
        sync_handler(&probe, "probe.sync++; return [inputs, 7];"),
        None,
    )
    .unwrap();
    m.register(s("void"), async_handler(&probe, "await sleep(1);"), None)
        .unwrap();

    let a = m.create(js(r#"{ targetId: "sync" }"#)).unwrap();
    let id_a = get_str(&a, "id").expect("default id is a string");
    let is_uuid = Function::new_with_args(
        "id",
        "return /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id);",
    );
    assert_eq!(
        is_uuid.call1(&JsValue::NULL, &s(&id_a)).unwrap(),
        JsValue::TRUE,
        "default id {id_a:?} is a UUID v4"
    );
    assert_eq!(get_str(&a, "type").as_deref(), Some("task"), "default type");
    assert_js_eq(&get(&a, "inputs"), "{}", "default inputs");
    assert_js_eq(&get(&a, "config"), "{}", "default config");

    let b = m
        .create(js(r#"{ targetId: "void", inputs: null }"#))
        .unwrap();
    let id_b = get_str(&b, "id").unwrap();
    assert_ne!(id_a, id_b, "default ids are unique");
    assert!(get(&b, "inputs").is_null(), "inputs null is kept as null");

    let done_a = wait_done(&m, &id_a, 1000).await;
    assert_eq!(status_of(&done_a), "completed");
    assert_js_eq(&get(&done_a, "result"), "[{}, 7]", "sync handler result");
    assert_eq!(get_f64(&probe, "sync"), Some(1.0));

    let done_b = wait_done(&m, &id_b, 1000).await;
    assert_eq!(status_of(&done_b), "completed");
    assert!(
        Reflect::has(&done_b, &s("result")).unwrap() && get(&done_b, "result").is_null(),
        "a handler resolving undefined completes with result null, got {}",
        canon(&done_b)
    );
    assert!(get(&done_b, "progress").is_null(), "no progress reported");
}

#[wasm_bindgen_test]
async fn handler_throwing_non_error_fails_with_handler_error() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{}");
    let cases: [(&str, JsValue, &str, &str); 6] = [
        ("throw42", sync_handler(&probe, "throw 42;"), "Error", "42"),
        (
            "rejectBoom",
            async_handler(&probe, r#"await sleep(1); throw "boom";"#),
            "Error",
            "boom",
        ),
        (
            "throwNull",
            sync_handler(&probe, "throw null;"),
            "Error",
            "null",
        ),
        (
            "rejectUndefined",
            sync_handler(&probe, "return Promise.reject(undefined);"),
            "Error",
            "undefined",
        ),
        (
            "throwObject",
            sync_handler(
                &probe,
                r#"throw { message: "not an Error", name: "Fake" };"#,
            ),
            "Error",
            "[object Object]",
        ),
        (
            "typeError",
            async_handler(&probe, r#"throw new TypeError("bad thing");"#),
            "TypeError",
            "bad thing",
        ),
    ];
    for (target, handler, _, _) in &cases {
        m.register(s(target), handler.clone(), None).unwrap();
        m.create(js(&format!(
            r#"{{ targetId: "{target}", id: "{target}" }}"#
        )))
        .unwrap();
    }
    for (target, _, name, message) in &cases {
        let done = wait_done(&m, target, 1000).await;
        assert_eq!(
            status_of(&done),
            "failed",
            "{target}: status ({})",
            canon(&done)
        );
        let error = get(&done, "error");
        assert_eq!(
            get_str(&error, "code").as_deref(),
            Some("HANDLER_ERROR"),
            "{target}: code"
        );
        assert_eq!(
            get_str(&error, "name").as_deref(),
            Some(*name),
            "{target}: name"
        );
        assert_eq!(
            get_str(&error, "message").as_deref(),
            Some(*message),
            "{target}: message"
        );
        let stack = get(&error, "stack");
        assert!(
            stack.is_undefined() || stack.is_string(),
            "{target}: stack is absent or a string"
        );
        assert!(
            get(&done, "result").is_undefined(),
            "{target}: no result on failed"
        );
        assert!(
            get_f64(&done, "finishedAt").is_some(),
            "{target}: finishedAt"
        );
    }
    assert_eq!(counts(&m), expected_counts(0, 0, 0, 6, 0));
}

#[wasm_bindgen_test]
async fn handler_result_that_is_not_json_fails_with_invalid_result() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{}");
    m.register(s("fn"), async_handler(&probe, "return { f() {} };"), None)
        .unwrap();
    m.register(s("nan"), sync_handler(&probe, "return [1, NaN];"), None)
        .unwrap();
    m.create(js(r#"{ targetId: "fn", id: "r1" }"#)).unwrap();
    m.create(js(r#"{ targetId: "nan", id: "r2" }"#)).unwrap();
    for id in ["r1", "r2"] {
        let done = wait_done(&m, id, 1000).await;
        assert_eq!(status_of(&done), "failed", "{id}");
        assert_eq!(
            get_str(&get(&done, "error"), "code").as_deref(),
            Some("INVALID_RESULT"),
            "{id}: {}",
            canon(&done)
        );
        assert!(get(&done, "result").is_undefined(), "{id}: no result");
    }
}

#[wasm_bindgen_test]
async fn ctx_progress_validates_and_is_ignored_after_the_end() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{ errors: [] }");
    let handler = async_handler(
        &probe,
        r#"
        const attempt = (...args) => {
          try { ctx.progress(...args); return "ok"; }
          catch (e) { return (e instanceof Error ? "Error" : typeof e) + "/" + e.name + "/" + e.code; }
        };
        probe.errors.push(attempt(-1));
        probe.errors.push(attempt(1, 0));
        probe.errors.push(attempt(NaN));
        probe.errors.push(attempt(1, 2, 3));
        probe.errors.push(attempt(2, 8, "quarter"));
        probe.ctx = ctx;
        return "fine";
        "#,
    );
    m.register(s("p"), handler, None).unwrap();
    m.create(js(r#"{ targetId: "p", id: "p1" }"#)).unwrap();
    let done = wait_done(&m, "p1", 1000).await;
    assert_eq!(
        status_of(&done),
        "completed",
        "bad ctx.progress calls do not fail the execution"
    );
    let bad = "Error/ExecutionError/INVALID_ARGUMENT";
    assert_eq!(
        strings(&get(&probe, "errors")),
        vec![bad, bad, bad, bad, "ok"]
    );
    let progress = get(&done, "progress");
    assert_eq!(
        get_f64(&progress, "current"),
        Some(8.0),
        "completed with total: current = total"
    );
    assert_eq!(get_f64(&progress, "percentage"), Some(100.0));
    assert_eq!(get_str(&progress, "message").as_deref(), Some("quarter"));

    // After the end, ctx.progress is silently ignored.
    let late = Function::new_with_args(
        "ctx",
        "try { ctx.progress(1, 8); return 'ignored'; } catch (e) { return 'threw ' + e; }",
    )
    .call1(&JsValue::NULL, &get(&probe, "ctx"))
    .unwrap();
    assert_eq!(late.as_string().as_deref(), Some("ignored"));
    assert_eq!(
        canon(&ok(m.status(s("p1")))),
        canon(&done),
        "late ctx.progress changes nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// cancellation
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn cancel_aborts_signal_before_returning_and_late_result_changes_nothing() {
    let m = ExecutionManager::new(None).unwrap();
    let log = record_events(&m);
    let probe = js("{ abortEvents: 0, started: false, lateResolved: false }");
    let handler = async_handler(
        &probe,
        r#"
        probe.signal = ctx.signal;
        ctx.signal.addEventListener("abort", () => { probe.abortEvents++; });
        probe.started = true;
        await sleep(30);                       // ignores the signal on purpose
        try { ctx.progress(5, 10, "late"); probe.lateProgress = "ignored"; }
        catch (e) { probe.lateProgress = "threw " + e; }
        probe.lateResolved = true;
        return { late: true };
        "#,
    );
    m.register(s("slow"), handler, None).unwrap();
    m.create(js(r#"{ targetId: "slow", id: "c1" }"#)).unwrap();
    let waiting = m.wait(s("c1"));

    until("handler started", 1000.0, || {
        get(&probe, "started").is_truthy()
    })
    .await;
    assert_eq!(status_of(&ok(m.status(s("c1")))), "running");
    let signal = get(&probe, "signal");
    assert_eq!(
        get(&signal, "aborted"),
        JsValue::FALSE,
        "not aborted before cancel"
    );

    let snap = m.cancel(s("c1"), Some(s("user asked"))).unwrap();
    // Synchronously after cancel returned: the signal is already aborted.
    assert_eq!(
        get(&signal, "aborted"),
        JsValue::TRUE,
        "signal aborted before cancel returns"
    );
    assert_eq!(
        get_f64(&probe, "abortEvents"),
        Some(1.0),
        "abort listener ran before cancel returned"
    );
    assert_eq!(
        get(&probe, "lateResolved"),
        JsValue::FALSE,
        "handler still running"
    );
    assert_eq!(status_of(&snap), "cancelled");
    assert_eq!(
        get_str(&snap, "cancelReason").as_deref(),
        Some("user asked")
    );
    assert!(get_f64(&snap, "finishedAt").is_some(), "finishedAt set");
    assert!(get(&snap, "result").is_undefined());
    assert_eq!(
        canon(&ok(m.status(s("c1")))),
        canon(&snap),
        "status(id) right after cancel"
    );

    let waited = settle(waiting, 1000, "wait(c1) issued before cancel")
        .await
        .expect("wait resolves on cancel");
    assert_eq!(status_of(&waited), "cancelled");

    until("late resolution of the ignored handler", 1000.0, || {
        get(&probe, "lateResolved").is_truthy()
    })
    .await;
    sleep(5).await.unwrap(); // let the manager observe the handler's promise
    assert_eq!(get_str(&probe, "lateProgress").as_deref(), Some("ignored"));
    let after = ok(m.status(s("c1")));
    assert_eq!(
        canon(&after),
        canon(&snap),
        "late result and progress change nothing"
    );
    assert!(
        get(&after, "result").is_undefined(),
        "no result after late resolution"
    );
    assert!(get(&after, "progress").is_null(), "late progress ignored");
    assert_eq!(
        events_of(&log, "c1"),
        vec![
            "created:c1:pending",
            "status:c1:running",
            "status:c1:cancelled"
        ],
        "no events after cancel"
    );
    assert_eq!(
        get_f64(&probe, "abortEvents"),
        Some(1.0),
        "abort fired once"
    );

    let second = expect_code(
        m.cancel(s("c1"), None),
        "INVALID_TRANSITION",
        "second cancel",
    );
    assert!(
        message_of(&second).contains("c1"),
        "message names the id: {}",
        message_of(&second)
    );
    assert_eq!(
        canon(&ok(m.status(s("c1")))),
        canon(&snap),
        "second cancel changes nothing"
    );
    assert_eq!(counts(&m), expected_counts(0, 0, 0, 0, 1));
}

#[wasm_bindgen_test]
async fn cancel_without_reason_and_late_rejection() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{ started: false, rejected: false }");
    let handler = async_handler(
        &probe,
        r#"
        probe.started = true;
        await sleep(20);
        probe.rejected = true;
        throw new Error("late failure");
        "#,
    );
    m.register(s("flaky"), handler, None).unwrap();
    m.create(js(r#"{ targetId: "flaky", id: "c2" }"#)).unwrap();
    until("handler started", 1000.0, || {
        get(&probe, "started").is_truthy()
    })
    .await;
    let snap = m.cancel(s("c2"), None).unwrap();
    assert_eq!(status_of(&snap), "cancelled");
    assert!(
        get(&snap, "cancelReason").is_undefined(),
        "no reason given: {}",
        canon(&snap)
    );
    until("late rejection", 1000.0, || {
        get(&probe, "rejected").is_truthy()
    })
    .await;
    sleep(5).await.unwrap();
    let after = ok(m.status(s("c2")));
    assert_eq!(
        canon(&after),
        canon(&snap),
        "late rejection changes nothing"
    );
    assert!(
        get(&after, "error").is_undefined(),
        "no error on a cancelled execution"
    );
}

// ---------------------------------------------------------------------------------------------
// timeoutMs
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn timeout_fails_a_running_handler_and_aborts_its_signal() {
    let m = ExecutionManager::new(None).unwrap();
    let log = record_events(&m);
    let probe = js("{ slowResolved: false }");
    // Never settles until aborted.
    let hang = sync_handler(
        &probe,
        r#"
        probe.signal = ctx.signal;
        return new Promise((resolve, reject) => {
          ctx.signal.addEventListener("abort", () => { reject(new Error("aborted by signal")); });
        });
        "#,
    );
    // Ignores its signal and resolves after the timeout.
    let slowpoke = async_handler(
        &probe,
        r#"
        probe.slowSignal = ctx.signal;
        await sleep(60);
        probe.slowResolved = true;
        return "too late";
        "#,
    );
    let quick = async_handler(&probe, "await sleep(2); return 'quick';");
    m.register(s("hang"), hang, None).unwrap();
    m.register(s("slowpoke"), slowpoke, None).unwrap();
    m.register(s("quick"), quick, None).unwrap();

    let t0 = js_sys::Date::now();
    m.create(js(
        r#"{ targetId: "hang", id: "t1", config: { timeoutMs: 30, label: "kept" } }"#,
    ))
    .unwrap();
    m.create(js(
        r#"{ targetId: "slowpoke", id: "t2", config: { timeoutMs: 20 } }"#,
    ))
    .unwrap();
    m.create(js(
        r#"{ targetId: "quick", id: "t3", config: { timeoutMs: 30 } }"#,
    ))
    .unwrap();

    let t1 = wait_done(&m, "t1", 1000).await;
    assert_eq!(status_of(&t1), "failed", "t1: {}", canon(&t1));
    assert_eq!(
        get_str(&get(&t1, "error"), "code").as_deref(),
        Some("TIMEOUT")
    );
    assert_eq!(
        get(&get(&probe, "signal"), "aborted"),
        JsValue::TRUE,
        "t1 signal aborted"
    );
    assert_js_eq(
        &get(&t1, "config"),
        r#"{ timeoutMs: 30, label: "kept" }"#,
        "config kept",
    );
    let ran = get_f64(&t1, "finishedAt").unwrap() - get_f64(&t1, "startedAt").unwrap();
    assert!(ran >= 25.0, "timed out after {ran} ms, before timeoutMs 30");
    assert!(js_sys::Date::now() - t0 < 1000.0, "timeout fired in time");

    let t2 = wait_done(&m, "t2", 1000).await;
    assert_eq!(status_of(&t2), "failed");
    assert_eq!(
        get_str(&get(&t2, "error"), "code").as_deref(),
        Some("TIMEOUT")
    );
    assert_eq!(
        get(&get(&probe, "slowSignal"), "aborted"),
        JsValue::TRUE,
        "t2 signal aborted"
    );

    let t3 = wait_done(&m, "t3", 1000).await;
    assert_eq!(
        status_of(&t3),
        "completed",
        "a handler finishing in time completes"
    );

    // Past every deadline and after the ignored handler resolved: nothing changes.
    until("slowpoke resolved", 1000.0, || {
        get(&probe, "slowResolved").is_truthy()
    })
    .await;
    sleep(15).await.unwrap();
    let t1_after = ok(m.status(s("t1")));
    assert_eq!(
        canon(&t1_after),
        canon(&t1),
        "the aborted handler's rejection changes nothing"
    );
    let t2_after = ok(m.status(s("t2")));
    assert_eq!(
        canon(&t2_after),
        canon(&t2),
        "a late result after TIMEOUT changes nothing"
    );
    assert!(get(&t2_after, "result").is_undefined());
    assert_eq!(
        canon(&ok(m.status(s("t3")))),
        canon(&t3),
        "no TIMEOUT after completion"
    );
    assert_eq!(
        events_of(&log, "t3"),
        vec![
            "created:t3:pending",
            "status:t3:running",
            "status:t3:completed"
        ]
    );
    assert_eq!(
        events_of(&log, "t1"),
        vec![
            "created:t1:pending",
            "status:t1:running",
            "status:t1:failed"
        ]
    );
    assert_eq!(counts(&m), expected_counts(0, 0, 1, 2, 0));
}

#[wasm_bindgen_test]
async fn timeout_applies_to_tracked_executions_from_start() {
    let m = ExecutionManager::new(None).unwrap();
    let snap = m
        .track(js(
            r#"{ targetId: "remote", id: "x1", config: { timeoutMs: 30 } }"#,
        ))
        .unwrap();
    assert_eq!(status_of(&snap), "pending");
    assert_eq!(get_str(&snap, "type").as_deref(), Some("task"));
    sleep(45).await.unwrap();
    assert_eq!(
        status_of(&ok(m.status(s("x1")))),
        "pending",
        "timeout counts from start, not track"
    );

    let started = m.start(s("x1")).unwrap();
    assert_eq!(status_of(&started), "running");
    m.report_progress(s("x1"), JsValue::from(1), Some(JsValue::from(2)), None)
        .unwrap();
    let done = wait_done(&m, "x1", 1000).await;
    assert_eq!(status_of(&done), "failed", "{}", canon(&done));
    assert_eq!(
        get_str(&get(&done, "error"), "code").as_deref(),
        Some("TIMEOUT")
    );
    let ran = get_f64(&done, "finishedAt").unwrap() - get_f64(&done, "startedAt").unwrap();
    assert!(ran >= 25.0, "timed out after {ran} ms, before timeoutMs 30");
    expect_code(
        m.complete(s("x1"), None),
        "INVALID_TRANSITION",
        "complete after timeout",
    );
    expect_code(
        m.report_progress(s("x1"), JsValue::from(2), None, None),
        "INVALID_TRANSITION",
        "progress after timeout",
    );
    assert_eq!(canon(&ok(m.status(s("x1")))), canon(&done));

    // Completed in time: the timer does nothing afterwards.
    m.track(js(
        r#"{ targetId: "remote", id: "x2", config: { timeoutMs: 30 } }"#,
    ))
    .unwrap();
    m.start(s("x2")).unwrap();
    sleep(5).await.unwrap();
    let completed = m.complete(s("x2"), Some(js("{ ok: true }"))).unwrap();
    assert_eq!(status_of(&completed), "completed");
    sleep(45).await.unwrap();
    let later = ok(m.status(s("x2")));
    assert_eq!(
        canon(&later),
        canon(&completed),
        "no TIMEOUT after complete"
    );
    assert_js_eq(&get(&later, "result"), "{ ok: true }", "result kept");
}

// ---------------------------------------------------------------------------------------------
// concurrency
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn concurrency_limit_is_never_exceeded_and_starts_are_fifo() {
    let m = Rc::new(manager("{ concurrency: 2 }"));
    let probe = js("{ inFlight: 0, max: 0, order: [] }");
    let handler_body = r#"
        probe.inFlight++;
        probe.max = Math.max(probe.max, probe.inFlight);
        probe.order.push(ctx.id);
        await sleep(inputs.ms);
        probe.inFlight--;
        return inputs.ms;
    "#;
    m.register(s("a"), async_handler(&probe, handler_body), None)
        .unwrap();
    m.register(s("b"), async_handler(&probe, handler_body), None)
        .unwrap();

    // Every event: the manager never reports more than 2 running.
    let max_running = Rc::new(Cell::new(0.0_f64));
    {
        let m2 = Rc::clone(&m);
        let max_running = Rc::clone(&max_running);
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |_ev: JsValue| {
            let running = get_f64(&ok(m2.counts()), "running").unwrap_or(f64::NAN);
            max_running.set(max_running.get().max(running));
        });
        m.subscribe(listener.into_js_value()).unwrap();
    }

    let durations = [15, 3, 9, 1, 12, 2, 6, 4];
    for (i, ms) in durations.iter().enumerate() {
        let target = if i % 2 == 0 { "a" } else { "b" };
        m.create(js(&format!(
            r#"{{ targetId: "{target}", id: "e{i}", inputs: {{ ms: {ms} }} }}"#
        )))
        .unwrap();
    }
    assert_eq!(
        counts(&m),
        expected_counts(8, 0, 0, 0, 0),
        "all pending right after create"
    );
    assert_eq!(
        Array::from(&get(&probe, "order")).length(),
        0,
        "no handler called inside create"
    );

    until("two handlers in flight", 1000.0, || {
        get_f64(&probe, "inFlight") == Some(2.0)
    })
    .await;
    assert_eq!(counts(&m), expected_counts(6, 2, 0, 0, 0));

    for (i, ms) in durations.iter().enumerate() {
        let done = wait_done(&m, &format!("e{i}"), 2000).await;
        assert_eq!(status_of(&done), "completed");
        assert_eq!(get(&done, "result").as_f64(), Some(f64::from(*ms)));
    }
    assert_eq!(get_f64(&probe, "max"), Some(2.0), "max handlers in flight");
    assert_eq!(max_running.get(), 2.0, "max running reported by counts()");
    let expected: Vec<String> = (0..8).map(|i| format!("e{i}")).collect();
    assert_eq!(strings(&get(&probe, "order")), expected, "FIFO start order");
    assert_eq!(counts(&m), expected_counts(0, 0, 8, 0, 0));
}

#[wasm_bindgen_test]
async fn cancelled_or_timed_out_handler_keeps_its_slot_until_it_settles() {
    let m = manager("{ concurrency: 1 }");
    let probe = js("{ started: [], settled: [], release: {} }");
    // Ignores its signal: settles only when the test releases it.
    let stubborn = async_handler(
        &probe,
        r#"
        probe.started.push(ctx.id);
        await new Promise((r) => { probe.release[ctx.id] = r; });
        probe.settled.push(ctx.id);
        return "done";
        "#,
    );
    m.register(s("stubborn"), stubborn, None).unwrap();
    let release = |id: &str| {
        Function::from(get(&get(&probe, "release"), id))
            .call0(&JsValue::NULL)
            .unwrap();
    };
    let started = || strings(&get(&probe, "started"));

    for id in ["s1", "s2", "s3"] {
        m.create(js(&format!(r#"{{ targetId: "stubborn", id: "{id}" }}"#)))
            .unwrap();
    }
    until("s1 started", 1000.0, || started() == ["s1"]).await;
    assert_eq!(status_of(&m.cancel(s("s1"), None).unwrap()), "cancelled");
    assert_eq!(
        status_of(&m.cancel(s("s2"), None).unwrap()),
        "cancelled",
        "pending cancel"
    );
    sleep(20).await.unwrap();
    assert_eq!(started(), ["s1"], "s1's handler still holds the only slot");
    assert_eq!(status_of(&ok(m.status(s("s3")))), "pending");
    assert_eq!(counts(&m), expected_counts(1, 0, 0, 0, 2));

    release("s1");
    until("s3 started after s1 settled", 1000.0, || {
        started() == ["s1", "s3"]
    })
    .await;
    assert_eq!(
        status_of(&ok(m.status(s("s1")))),
        "cancelled",
        "s1 stays cancelled"
    );
    assert!(get(&ok(m.status(s("s1"))), "result").is_undefined());
    release("s3");
    assert_eq!(status_of(&wait_done(&m, "s3", 1000).await), "completed");
    assert_eq!(
        started(),
        ["s1", "s3"],
        "the cancelled pending s2 never ran"
    );

    // Same with a timeout.
    m.create(js(
        r#"{ targetId: "stubborn", id: "s4", config: { timeoutMs: 20 } }"#,
    ))
    .unwrap();
    m.create(js(r#"{ targetId: "stubborn", id: "s5" }"#))
        .unwrap();
    let s4 = wait_done(&m, "s4", 1000).await;
    assert_eq!(status_of(&s4), "failed");
    assert_eq!(
        get_str(&get(&s4, "error"), "code").as_deref(),
        Some("TIMEOUT")
    );
    sleep(15).await.unwrap();
    assert_eq!(
        started(),
        ["s1", "s3", "s4"],
        "s4's handler still holds the slot after TIMEOUT"
    );
    assert_eq!(status_of(&ok(m.status(s("s5")))), "pending");
    release("s4");
    until("s5 started after s4 settled", 1000.0, || {
        started() == ["s1", "s3", "s4", "s5"]
    })
    .await;
    release("s5");
    assert_eq!(status_of(&wait_done(&m, "s5", 1000).await), "completed");
    assert_eq!(
        status_of(&ok(m.status(s("s4")))),
        "failed",
        "s4 stays failed"
    );
    assert_eq!(strings(&get(&probe, "settled")), ["s1", "s3", "s4", "s5"]);
    assert_eq!(counts(&m), expected_counts(0, 0, 2, 1, 2));
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
fn invalid_options_throw_invalid_argument() {
    for options in [
        "{ concurrency: 0 }",
        "{ concurrency: -1 }",
        "{ concurrency: 1.5 }",
        "{ concurrency: '2' }",
        "{ concurrency: null }",
        "{ concurrency: NaN }",
        "{ concurrency: -Infinity }",
        "{ maxFinished: 0 }",
        "{ maxFinished: 2.5 }",
        "{ maxFinished: true }",
        "5",
        "'fast'",
    ] {
        let err = expect_code(
            ExecutionManager::new(Some(js(options))),
            "INVALID_ARGUMENT",
            &format!("new ExecutionManager({options})"),
        );
        if options.contains("concurrency") {
            assert!(
                message_of(&err).contains("concurrency"),
                "message names the field: {}",
                message_of(&err)
            );
        }
    }
    for options in [
        "{}",
        "{ concurrency: Infinity, maxFinished: Infinity }",
        "{ concurrency: undefined, maxFinished: 3 }",
    ] {
        assert!(
            ExecutionManager::new(Some(js(options))).is_ok(),
            "new ExecutionManager({options}) is valid"
        );
    }
}

#[wasm_bindgen_test]
async fn unknown_ids_are_not_found() {
    let m = ExecutionManager::new(None).unwrap();
    m.track(js(r#"{ targetId: "remote", id: "42" }"#)).unwrap();
    assert!(
        ok(m.status(s("nope"))).is_undefined(),
        "status of unknown id is undefined"
    );
    assert!(
        ok(m.progress(s("nope"))).is_undefined(),
        "progress of unknown id is undefined"
    );
    assert!(
        ok(m.status(JsValue::from(42))).is_undefined(),
        "a number id is never coerced to \"42\""
    );
    assert!(ok(m.progress(JsValue::from(42))).is_undefined());
    assert!(
        ok(m.progress(s("42"))).is_null(),
        "existing id without progress gives null"
    );

    let err = expect_code(m.cancel(s("nope"), None), "NOT_FOUND", "cancel");
    assert!(
        message_of(&err).contains("nope"),
        "message names the id: {}",
        message_of(&err)
    );
    expect_code(
        m.cancel(JsValue::from(42), None),
        "NOT_FOUND",
        "cancel(42) is not coerced",
    );
    expect_code(m.start(s("nope")), "NOT_FOUND", "start");
    expect_code(m.complete(s("nope"), None), "NOT_FOUND", "complete");
    expect_code(m.fail(s("nope"), s("x")), "NOT_FOUND", "fail");
    expect_code(m.remove(s("nope")), "NOT_FOUND", "remove");
    expect_code(
        m.report_progress(s("nope"), JsValue::from(1), None, None),
        "NOT_FOUND",
        "reportProgress",
    );
    expect_code(m.start(JsValue::NULL), "NOT_FOUND", "start(null)");
    let rejected = settle(m.wait(s("nope")), 1000, "wait(nope)").await;
    expect_code(rejected, "NOT_FOUND", "wait rejects");
    let rejected = settle(m.wait(JsValue::from(42)), 1000, "wait(42)").await;
    expect_code(rejected, "NOT_FOUND", "wait(42) is not coerced");

    assert_eq!(
        status_of(&ok(m.status(s("42")))),
        "pending",
        "the tracked one is untouched"
    );
    assert_eq!(counts(&m), expected_counts(1, 0, 0, 0, 0));
}

#[wasm_bindgen_test]
async fn malformed_arguments_and_illegal_transitions_leave_the_manager_intact() {
    let m = ExecutionManager::new(None).unwrap();
    let probe = js("{ calls: 0 }");
    let echo = async_handler(&probe, "probe.calls++; return inputs;");

    // register
    expect_code(
        m.register(s(""), echo.clone(), None),
        "INVALID_ARGUMENT",
        "register empty id",
    );
    expect_code(
        m.register(JsValue::from(7), echo.clone(), None),
        "INVALID_ARGUMENT",
        "register number id",
    );
    expect_code(
        m.register(s("t"), js("{}"), None),
        "INVALID_ARGUMENT",
        "register non-function",
    );
    expect_code(
        m.register(s("t"), echo.clone(), Some(js(r#"{ type: "" }"#))),
        "INVALID_ARGUMENT",
        "register empty type",
    );
    m.register(s("t"), echo.clone(), None).unwrap();
    expect_code(
        m.register(s("t"), echo.clone(), None),
        "ALREADY_EXISTS",
        "register twice",
    );

    // create
    m.create(js(r#"{ targetId: "t", id: "keep", inputs: { v: 1 } }"#))
        .unwrap();
    let bad_creates = [
        ("42", "INVALID_ARGUMENT"),
        ("null", "INVALID_ARGUMENT"),
        (r#"{ targetId: "ghost", id: "bad" }"#, "UNKNOWN_TARGET"),
        (r#"{ targetId: "t", id: "" }"#, "INVALID_ARGUMENT"),
        (r#"{ targetId: "t", id: null }"#, "INVALID_ARGUMENT"),
        (r#"{ targetId: "t", id: 5 }"#, "INVALID_ARGUMENT"),
        (
            r#"{ targetId: "t", id: "bad", inputs: { f() {} } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", inputs: [1, undefined] }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", inputs: { n: Infinity } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", inputs: new Date(0) }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", inputs: (() => { const o = {}; o.self = o; return o; })() }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", config: [] }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", config: { timeoutMs: 0 } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", config: { timeoutMs: -5 } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", config: { timeoutMs: "30" } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "bad", config: { timeoutMs: Infinity } }"#,
            "INVALID_ARGUMENT",
        ),
        (
            r#"{ targetId: "t", id: "keep", inputs: { v: 2 } }"#,
            "ALREADY_EXISTS",
        ),
    ];
    for (request, code) in bad_creates {
        expect_code(m.create(js(request)), code, &format!("create({request})"));
    }
    assert!(
        ok(m.status(s("bad"))).is_undefined(),
        "a rejected create leaves no record"
    );
    assert_js_eq(
        &get(&ok(m.status(s("keep"))), "inputs"),
        "{ v: 1 }",
        "duplicate create left the original",
    );
    expect_code(
        m.track(js(r#"{ targetId: "", id: "bad" }"#)),
        "INVALID_ARGUMENT",
        "track empty targetId",
    );
    expect_code(
        m.track(js(r#"{ targetId: "r", id: "keep" }"#)),
        "ALREADY_EXISTS",
        "track taken id",
    );

    // external transitions
    m.track(js(r#"{ targetId: "remote", id: "x" }"#)).unwrap();
    expect_code(
        m.complete(s("x"), None),
        "INVALID_TRANSITION",
        "complete pending",
    );
    expect_code(
        m.fail(s("x"), s("nope")),
        "INVALID_TRANSITION",
        "fail pending",
    );
    expect_code(
        m.report_progress(s("x"), JsValue::from(1), None, None),
        "INVALID_TRANSITION",
        "reportProgress pending",
    );
    expect_code(m.remove(s("x")), "INVALID_TRANSITION", "remove pending");
    m.start(s("x")).unwrap();
    expect_code(m.start(s("x")), "INVALID_TRANSITION", "start twice");
    for (current, total, message) in [
        (js("-1"), None, None),
        (js("NaN"), None, None),
        (js("'1'"), None, None),
        (js("1"), Some(js("0")), None),
        (js("1"), Some(js("Infinity")), None),
        (js("1"), None, Some(js("5"))),
    ] {
        expect_code(
            m.report_progress(s("x"), current, total, message),
            "INVALID_ARGUMENT",
            "reportProgress bad values",
        );
    }
    expect_code(
        m.fail(s("x"), JsValue::from(42)),
        "INVALID_ARGUMENT",
        "fail(x, 42)",
    );
    expect_code(
        m.complete(s("x"), Some(js("{ f() {} }"))),
        "INVALID_ARGUMENT",
        "complete with a function",
    );
    assert_eq!(
        status_of(&ok(m.status(s("x")))),
        "running",
        "x unchanged by the bad calls"
    );
    assert!(
        ok(m.progress(s("x"))).is_null(),
        "no progress recorded by bad calls"
    );

    // handler-driven executions cannot be driven externally
    expect_code(
        m.start(s("keep")),
        "INVALID_TRANSITION",
        "start handler-driven",
    );

    // list / subscribe
    for query in [
        "{ pageSize: 0 }",
        "{ pageSize: 1001 }",
        "{ page: 0 }",
        "{ page: 1.5 }",
        "{ status: null }",
        "{ status: 'sleeping' }",
        "{ order: 'up' }",
        "{ cursor: '%%% not a cursor %%%' }",
        "42",
    ] {
        expect_code(
            m.list(Some(js(query))),
            "INVALID_ARGUMENT",
            &format!("list({query})"),
        );
    }
    expect_code(
        m.subscribe(JsValue::from(42)),
        "INVALID_ARGUMENT",
        "subscribe(42)",
    );

    // Still fully usable.
    m.report_progress(
        s("x"),
        JsValue::from(1),
        Some(JsValue::from(4)),
        Some(s("a quarter")),
    )
    .unwrap();
    assert_eq!(get_f64(&ok(m.progress(s("x"))), "percentage"), Some(25.0));
    let x = m.complete(s("x"), Some(js("[1, 2]"))).unwrap();
    assert_eq!(status_of(&x), "completed");
    assert_js_eq(&get(&x, "result"), "[1, 2]", "external result");
    m.track(js(r#"{ targetId: "remote", id: "y" }"#)).unwrap();
    m.start(s("y")).unwrap();
    let y = m.fail(s("y"), s("remote exploded")).unwrap();
    assert_eq!(status_of(&y), "failed");
    assert_js_eq(
        &pick(&get(&y, "error"), &["code", "name", "message"]),
        r#"{ code: "EXTERNAL_ERROR", name: "Error", message: "remote exploded" }"#,
        "fail(string) defaults",
    );
    let keep = wait_done(&m, "keep", 1000).await;
    assert_eq!(status_of(&keep), "completed");
    assert_js_eq(
        &get(&keep, "result"),
        "{ v: 1 }",
        "handler got the original inputs",
    );
    let page = m.list(Some(js("{ order: 'asc' }"))).unwrap();
    assert_eq!(get_f64(&page, "total"), Some(3.0), "keep, x, y");
    let ids: Vec<String> = Array::from(&get(&page, "items"))
        .iter()
        .map(|e| get_str(&e, "id").unwrap_or_default())
        .collect();
    assert_eq!(ids, ["keep", "x", "y"]);
    assert_eq!(status_of(&m.remove(s("x")).unwrap()), "completed");
    assert!(ok(m.status(s("x"))).is_undefined(), "removed");
    assert_eq!(ok(m.clear()), 2, "clear removes keep and y");
    m.track(js(r#"{ targetId: "remote", id: "x" }"#)).unwrap(); // id freed by remove
    assert_eq!(counts(&m), expected_counts(1, 0, 0, 0, 0));
    assert_eq!(
        get_f64(&probe, "calls"),
        Some(1.0),
        "only the valid create ran the handler"
    );
}

/// Inputs no JSON value looks like, deep nesting included: each is the contract's
/// `INVALID_ARGUMENT` (never a trap of the wasm instance, never a foreign exception), and
/// the manager is unchanged afterwards.
#[wasm_bindgen_test]
async fn hostile_inputs_never_trap_the_instance() {
    let m = ExecutionManager::new(None).unwrap();
    m.register(s("echo"), js("async (inputs) => inputs"), None)
        .unwrap();
    let nest = |n: u32| {
        format!("(() => {{ let v = 0; for (let i = 0; i < {n}; i++) v = [v]; return v; }})()")
    };
    let nest_obj = |n: u32| {
        format!(
            "(() => {{ let v = 0; for (let i = 0; i < {n}; i++) v = {{ k: v }}; return v; }})()"
        )
    };
    m.register(
        s("deep-result"),
        js(&format!("async () => {}", nest(200_000))),
        None,
    )
    .unwrap();
    m.register(
        s("deep-129"),
        js(&format!("async () => {}", nest_obj(129))),
        None,
    )
    .unwrap();

    // 128 levels are accepted, 129 are not.
    let d128 = m
        .create(js(&format!(
            r#"{{ targetId: "echo", id: "d128", inputs: {} }}"#,
            nest(128)
        )))
        .expect("128 levels of nesting are accepted");
    assert_eq!(status_of(&d128), "pending");
    let hostile = [
        format!(r#"{{ targetId: "echo", id: "h", inputs: {} }}"#, nest(129)),
        format!(r#"{{ targetId: "echo", id: "h", inputs: {} }}"#, nest_obj(129)),
        format!(r#"{{ targetId: "echo", id: "h", inputs: {} }}"#, nest(200_000)),
        format!(r#"{{ targetId: "echo", id: "h", config: {} }}"#, nest_obj(200_000)),
        r#"{ targetId: "echo", id: Symbol("h") }"#.into(),
        r#"{ targetId: "echo", id: "lone\uD800" }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: { s: "x\uDC00y" } }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: 10n }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: { b: [1n] } }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: { s: Symbol("s") } }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: new Map([[1, 2]]) }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: new Uint8Array(2) }"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: new (class Point { constructor() { this.x = 1; } })() }"#.into(),
        r#"{ targetId: "echo", id: "h", get inputs() { throw new Error("getter boom"); } }"#.into(),
        r#"(() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; })()"#.into(),
        r#"{ targetId: "echo", id: "h", inputs: (() => { const p = Proxy.revocable({}, {}); p.revoke(); return p.proxy; })() }"#.into(),
    ];
    for request in &hostile {
        let shown: String = request.chars().take(90).collect();
        expect_code(
            m.create(js(request)),
            "INVALID_ARGUMENT",
            &format!("create({shown})"),
        );
    }
    for request in [
        r#"{ targetId: "remote", id: "lone\uDBFF" }"#,
        r#"{ targetId: "remote\uDC00", id: "h" }"#,
    ] {
        expect_code(
            m.track(js(request)),
            "INVALID_ARGUMENT",
            &format!("track({request})"),
        );
    }
    assert!(
        ok(m.status(s("h"))).is_undefined(),
        "no record left by rejected requests"
    );

    // External calls with hostile values.
    m.track(js(r#"{ targetId: "remote", id: "x" }"#)).unwrap();
    m.start(s("x")).unwrap();
    expect_code(
        m.report_progress(s("x"), js("1n"), None, None),
        "INVALID_ARGUMENT",
        "reportProgress(BigInt)",
    );
    expect_code(
        m.report_progress(s("x"), js("1"), None, Some(js(r#""bad\uD800""#))),
        "INVALID_ARGUMENT",
        "reportProgress(lone surrogate message)",
    );
    expect_code(
        m.complete(s("x"), Some(js(&nest(200_000)))),
        "INVALID_ARGUMENT",
        "complete(deep)",
    );
    expect_code(
        m.cancel(s("x"), Some(js("42"))),
        "INVALID_ARGUMENT",
        "cancel(x, 42)",
    );
    assert_eq!(status_of(&ok(m.status(s("x")))), "running", "x unchanged");

    // "__proto__" is an ordinary key, in and out.
    let proto = m
        .create(js(
            r#"{ targetId: "echo", id: "proto", inputs: JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') }"#,
        ))
        .unwrap();
    let describe_proto = Function::new_with_args(
        "v",
        "return Object.keys(v).sort().join(',') + '|' + JSON.stringify(Object.getOwnPropertyDescriptor(v, '__proto__')?.value) + '|' + ({}).polluted;",
    );
    let expected_proto = r#"__proto__,a|{"polluted":true}|undefined"#;
    assert_eq!(
        describe_proto
            .call1(&JsValue::NULL, &get(&proto, "inputs"))
            .unwrap()
            .as_string()
            .as_deref(),
        Some(expected_proto),
        "snapshot inputs keep __proto__ as an own key"
    );

    // An empty status filter matches nothing (it is not an error).
    let empty = m.list(Some(js("{ status: [] }"))).unwrap();
    assert_eq!(
        get_f64(&empty, "total"),
        Some(0.0),
        "status: [] matches nothing"
    );

    // Results: 128 levels round-trip, deeper ones fail the execution with INVALID_RESULT.
    let d128 = wait_done(&m, "d128", 1000).await;
    assert_eq!(
        status_of(&d128),
        "completed",
        "{}",
        canon(&get(&d128, "error"))
    );
    let proto_done = wait_done(&m, "proto", 1000).await;
    assert_eq!(
        describe_proto
            .call1(&JsValue::NULL, &get(&proto_done, "result"))
            .unwrap()
            .as_string()
            .as_deref(),
        Some(expected_proto),
        "the handler got and returned __proto__ as an own key"
    );
    for target in ["deep-result", "deep-129"] {
        m.create(js(&format!(
            r#"{{ targetId: "{target}", id: "{target}" }}"#
        )))
        .unwrap();
        let done = wait_done(&m, target, 2000).await;
        assert_eq!(status_of(&done), "failed", "{target}");
        assert_eq!(
            get_str(&get(&done, "error"), "code").as_deref(),
            Some("INVALID_RESULT"),
            "{target}"
        );
    }

    // Still fully usable.
    m.complete(s("x"), Some(js(&nest(128))))
        .expect("128 levels accepted");
    assert_eq!(ok(m.clear()), 5, "d128, proto, deep-result, deep-129, x");
    assert_eq!(counts(&m), expected_counts(0, 0, 0, 0, 0));
}
