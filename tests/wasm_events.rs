#![cfg(target_arch = "wasm32")]
// Test code fails by panicking; the crate-wide "no panics" lints are for code reachable from JS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! wasm-bindgen-test suite for the events of `execman::wasm::ExecutionManager`: listeners
//! that re-enter the manager (from JS and from Rust, on synchronous and asynchronous paths,
//! including handlers and `AbortSignal` listeners), listeners that throw, unsubscribe and
//! `removed` events.
//!
//! Runs in Node by default (`cargo test --target wasm32-unknown-unknown --test wasm_events`,
//! `wasm-pack test --node`); `tests/wasm_in_browser.rs` includes it again for the browser
//! (`wasm-pack test --headless --chrome`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

#[path = "wasm_support/mod.rs"]
mod support;
use support::*;

// ---------------------------------------------------------------------------------------------
// helpers (kept in step with tests/wasm_runtime.rs)
// ---------------------------------------------------------------------------------------------

fn status_of(snapshot: &JsValue) -> String {
    get_str(snapshot, "status")
        .unwrap_or_else(|| panic!("not a snapshot (no string status): {snapshot:?}"))
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

fn check_error(err: &JsValue, code: &str, what: &str) {
    assert!(
        err.is_instance_of::<js_sys::Error>(),
        "{what}: thrown value is not an Error: {err:?}"
    );
    assert_eq!(
        get_str(err, "name").as_deref(),
        Some("ExecutionError"),
        "{what}: name"
    );
    assert_eq!(
        get_str(err, "code").as_deref(),
        Some(code),
        "{what}: code (message: {:?})",
        get_str(err, "message")
    );
}

/// "type:id:status" of an event object.
fn describe(ev: &JsValue) -> String {
    let execution = get(ev, "execution");
    format!(
        "{}:{}:{}",
        get_str(ev, "type").unwrap_or_else(|| "?".into()),
        get_str(&execution, "id").unwrap_or_else(|| "?".into()),
        get_str(&execution, "status").unwrap_or_else(|| "?".into())
    )
}

/// A shared log written by Rust listeners. Never borrowed across a call into the manager.
type Log = Rc<RefCell<Vec<String>>>;

fn push(log: &Log, line: String) {
    log.borrow_mut().push(line);
}

fn lines(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

/// A Rust listener that logs "<tag>:type:id:status".
fn recorder(log: &Log, tag: &'static str) -> JsValue {
    let log = Rc::clone(log);
    Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        push(&log, format!("{tag}:{}", describe(&ev)))
    })
    .into_js_value()
}

/// A JS handler resolving `value` after a microtask.
fn resolving_handler(value: &str) -> JsValue {
    js(&format!("async (inputs, ctx) => {value}"))
}

// ---------------------------------------------------------------------------------------------
// re-entrancy
// ---------------------------------------------------------------------------------------------

/// The manager lives in JS here: the listener re-enters through the exported JS methods
/// (exercising wasm-bindgen's borrow of the Rust object while the outer call is running).
#[wasm_bindgen_test]
async fn js_listener_reentering_during_created_is_delivered_after_the_current_event() {
    let m = ExecutionManager::new(None).unwrap();
    m.register(s("t"), resolving_handler("'ran'"), None)
        .unwrap();
    let manager: JsValue = m.into();
    let log = Array::new();
    let scenario = Function::new_with_args(
        "m, log",
        r#"
        m.subscribe((ev) => {
          log.push("A:" + ev.type + ":" + ev.execution.id + ":" + ev.execution.status);
          if (ev.type === "created" && ev.execution.id === "outer") {
            const inner = m.track({ targetId: "remote", id: "inner" });
            log.push("A:track returned " + inner.status);
            m.start("inner");
            const cancelled = m.cancel("inner", "nested");
            log.push("A:cancel returned " + cancelled.status + " " + cancelled.cancelReason);
            log.push("A:status(inner) " + m.status("inner").status);
            m.create({ targetId: "t", id: "inner2" });
            log.push("A:nested calls done");
          }
        });
        m.subscribe((ev) => {
          log.push("B:" + ev.type + ":" + ev.execution.id + ":" + ev.execution.status);
        });
        const outer = m.create({ targetId: "t", id: "outer" });
        log.push("create returned " + outer.id + " " + outer.status);
        "#,
    );
    scenario.call2(&JsValue::NULL, &manager, &log).unwrap();
    let expected = [
        "A:created:outer:pending",
        "A:track returned pending",
        "A:cancel returned cancelled nested",
        "A:status(inner) cancelled",
        "A:nested calls done",
        // the nested changes only after "created outer" reached every listener
        "B:created:outer:pending",
        "A:created:inner:pending",
        "B:created:inner:pending",
        "A:status:inner:running",
        "B:status:inner:running",
        "A:status:inner:cancelled",
        "B:status:inner:cancelled",
        "A:created:inner2:pending",
        "B:created:inner2:pending",
        // and all of them before the outer call returns
        "create returned outer pending",
    ];
    assert_eq!(strings(&log), expected);

    // Both handler-driven executions run afterwards, with their events in order.
    let wait_all = Function::new_with_args(
        "m",
        "return Promise.all([m.wait('outer'), m.wait('inner2')]);",
    )
    .call1(&JsValue::NULL, &manager)
    .unwrap();
    let both = settle(wait_all.unchecked_into(), 1000, "wait outer and inner2")
        .await
        .unwrap();
    let finals: Vec<String> = Array::from(&both).iter().map(|e| status_of(&e)).collect();
    assert_eq!(finals, ["completed", "completed"]);
    let later: Vec<String> = strings(&log).split_off(expected.len());
    for id in ["outer", "inner2"] {
        let mine: Vec<&String> = later
            .iter()
            .filter(|l| l.split(':').nth(2) == Some(id))
            .collect();
        assert_eq!(
            mine,
            [
                &format!("A:status:{id}:running"),
                &format!("B:status:{id}:running"),
                &format!("A:status:{id}:completed"),
                &format!("B:status:{id}:completed"),
            ],
            "events of {id} after the outer call"
        );
    }
}

/// Listeners re-entering on asynchronous paths (a handler settling) and handlers calling
/// the manager while being started.
#[wasm_bindgen_test]
async fn rust_listener_and_handler_reentering_from_async_paths() {
    let m = Rc::new(ExecutionManager::new(None).unwrap());
    let log: Log = Rc::default();
    let seen_by_handler: Log = Rc::default();

    let handler = {
        let m = Rc::clone(&m);
        let seen = Rc::clone(&seen_by_handler);
        Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(
            move |_inputs: JsValue, ctx: JsValue| {
                let id = get(&ctx, "id");
                let own = ok(m.status(id.clone()));
                let total = m.list(None).map(|page| get(&page, "total").as_f64());
                let running = get(&ok(m.counts()), "running").as_f64();
                push(
                    &seen,
                    format!(
                        "{}:{}:total={:?}:running={:?}",
                        id.as_string().unwrap_or_default(),
                        get_str(&own, "status").unwrap_or_default(),
                        total.ok().flatten(),
                        running
                    ),
                );
                Promise::resolve(&JsValue::from(1)).into()
            },
        )
        .into_js_value()
    };
    m.register(s("t"), handler, None).unwrap();

    let reentrant = {
        let m = Rc::clone(&m);
        let log = Rc::clone(&log);
        Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let line = describe(&ev);
            push(&log, format!("A:{line}"));
            if line == "status:h1:completed" {
                let removed = m.remove(s("h1")).map(|v| status_of(&v));
                let created = m
                    .create(js(r#"{ targetId: "t", id: "h2" }"#))
                    .map(|v| status_of(&v));
                let gone = ok(m.status(s("h1"))).is_undefined();
                push(
                    &log,
                    format!("A:reentered remove={removed:?} create={created:?} gone={gone}"),
                );
            }
        })
        .into_js_value()
    };
    m.subscribe(reentrant).unwrap();
    m.subscribe(recorder(&log, "B")).unwrap();

    m.create(js(r#"{ targetId: "t", id: "h1" }"#)).unwrap();
    assert_eq!(
        lines(&log),
        ["A:created:h1:pending", "B:created:h1:pending"]
    );

    until("h2 completed", 1000.0, || {
        lines(&log).iter().any(|l| l == "B:status:h2:completed")
    })
    .await;
    sleep(5).await.unwrap();
    assert_eq!(
        lines(&log),
        [
            "A:created:h1:pending",
            "B:created:h1:pending",
            "A:status:h1:running",
            "B:status:h1:running",
            "A:status:h1:completed",
            r#"A:reentered remove=Ok("completed") create=Ok("pending") gone=true"#,
            "B:status:h1:completed",
            "A:removed:h1:completed",
            "B:removed:h1:completed",
            "A:created:h2:pending",
            "B:created:h2:pending",
            "A:status:h2:running",
            "B:status:h2:running",
            "A:status:h2:completed",
            "B:status:h2:completed",
        ]
    );
    assert_eq!(
        lines(&seen_by_handler),
        [
            "h1:running:total=Some(1.0):running=Some(1.0)",
            "h2:running:total=Some(1.0):running=Some(1.0)",
        ],
        "handlers may query the manager while being started"
    );
    assert!(ok(m.status(s("h1"))).is_undefined());
    assert_eq!(counts(&m), expected_counts(0, 0, 1, 0, 0));
}

/// `cancel` aborts the signal synchronously; an abort listener that calls back into the
/// manager must not find it borrowed (that would trap the instance).
#[wasm_bindgen_test]
async fn abort_listener_may_reenter_the_manager_during_cancel() {
    let m = Rc::new(ExecutionManager::new(None).unwrap());
    let in_abort: Log = Rc::default();
    let started = Rc::new(Cell::new(false));

    let handler = {
        let m = Rc::clone(&m);
        let in_abort = Rc::clone(&in_abort);
        let started = Rc::clone(&started);
        Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(move |_inputs: JsValue, ctx: JsValue| {
            let signal = get(&ctx, "signal");
            let id = get(&ctx, "id");
            let (m, in_abort) = (Rc::clone(&m), Rc::clone(&in_abort));
            let on_abort = Closure::<dyn FnMut()>::new(move || {
                let status = get_str(&ok(m.status(id.clone())), "status").unwrap_or_default();
                let again = m.cancel(id.clone(), None).err().map(|e| get_str(&e, "code"));
                let tracked = m.track(js(r#"{ targetId: "remote", id: "from-abort" }"#)).is_ok();
                push(&in_abort, format!("status={status} cancelAgain={again:?} track={tracked}"));
            })
            .into_js_value();
            let add: Function = get(&signal, "addEventListener").unchecked_into();
            add.call2(&signal, &s("abort"), &on_abort).unwrap();
            started.set(true);
            // Settles when aborted, like a well-behaved handler.
            Function::new_with_args(
                "signal",
                "return new Promise((resolve) => signal.addEventListener('abort', () => resolve('stopped')));",
            )
            .call1(&JsValue::NULL, &signal)
            .unwrap()
        })
        .into_js_value()
    };
    m.register(s("w"), handler, None).unwrap();
    m.create(js(r#"{ targetId: "w", id: "w1" }"#)).unwrap();
    until("handler started", 1000.0, || started.get()).await;

    let snap = m.cancel(s("w1"), Some(s("stop"))).unwrap();
    assert_eq!(status_of(&snap), "cancelled");
    let seen = lines(&in_abort);
    assert_eq!(
        seen.len(),
        1,
        "abort listener ran once, before cancel returned: {seen:?}"
    );
    // The abort listener sees the execution already cancelled (a second cancel is illegal)
    // or, at the latest, still running (then its own cancel succeeds): either way no trap.
    assert!(
        seen[0] == r#"status=cancelled cancelAgain=Some(Some("INVALID_TRANSITION")) track=true"#
            || seen[0] == "status=running cancelAgain=None track=true",
        "abort listener view: {}",
        seen[0]
    );
    assert_eq!(
        status_of(&ok(m.status(s("from-abort")))),
        "pending",
        "change made in abort listener kept"
    );
    assert_eq!(status_of(&wait_done(&m, "w1", 1000).await), "cancelled");
    sleep(5).await.unwrap();
    assert_eq!(
        status_of(&ok(m.status(s("w1")))),
        "cancelled",
        "the 'stopped' result changes nothing"
    );
    assert_eq!(counts(&m), expected_counts(1, 0, 0, 0, 1));
}

// ---------------------------------------------------------------------------------------------
// throwing listeners
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
async fn throwing_listener_is_isolated() {
    let m = ExecutionManager::new(None).unwrap();
    m.register(s("t"), resolving_handler("({ ok: true })"), None)
        .unwrap();
    let probe = js("{ errorThrows: 0, stringThrows: 0 }");
    let thrower = Function::new_with_args(
        "probe",
        r#"return (ev) => { probe.errorThrows++; throw new Error("listener boom on " + ev.type); };"#,
    )
    .call1(&JsValue::NULL, &probe)
    .unwrap();
    let string_thrower = Function::new_with_args(
        "probe",
        r#"return (ev) => { probe.stringThrows++; throw "not even an Error"; };"#,
    )
    .call1(&JsValue::NULL, &probe)
    .unwrap();
    let log: Log = Rc::default();
    // A recorder between two throwers: it runs whatever its neighbours do.
    let unsub_thrower = m.subscribe(thrower).unwrap();
    m.subscribe(recorder(&log, "R")).unwrap();
    let unsub_string = m.subscribe(string_thrower).unwrap();

    // Synchronous (external) changes: every call returns normally, the change happens.
    let x = m.track(js(r#"{ targetId: "remote", id: "x" }"#)).unwrap();
    assert_eq!(status_of(&x), "pending");
    assert_eq!(
        status_of(&ok(m.status(s("x")))),
        "pending",
        "created despite the throwing listener"
    );
    assert_eq!(status_of(&m.start(s("x")).unwrap()), "running");
    m.report_progress(s("x"), JsValue::from(1), Some(JsValue::from(2)), None)
        .unwrap();
    let done = m.complete(s("x"), Some(js("'fine'"))).unwrap();
    assert_eq!(status_of(&done), "completed");
    assert_eq!(
        get_str(&ok(m.status(s("x"))), "result").as_deref(),
        Some("fine")
    );

    // Asynchronous (handler) changes: the execution still completes.
    m.create(js(r#"{ targetId: "t", id: "h" }"#)).unwrap();
    let h = wait_done(&m, "h", 1000).await;
    assert_eq!(status_of(&h), "completed");

    m.track(js(r#"{ targetId: "remote", id: "y" }"#)).unwrap();
    assert_eq!(status_of(&m.cancel(s("y"), None).unwrap()), "cancelled");
    assert_eq!(status_of(&m.remove(s("y")).unwrap()), "cancelled");

    let expected = [
        "R:created:x:pending",
        "R:status:x:running",
        "R:progress:x:running",
        "R:status:x:completed",
        "R:created:h:pending",
        "R:status:h:running",
        "R:status:h:completed",
        "R:created:y:pending",
        "R:status:y:cancelled",
        "R:removed:y:cancelled",
    ];
    assert_eq!(lines(&log), expected, "the recorder got every event");
    let n = expected.len() as f64;
    assert_eq!(
        get(&probe, "errorThrows").as_f64(),
        Some(n),
        "a throwing listener keeps being called"
    );
    assert_eq!(get(&probe, "stringThrows").as_f64(), Some(n));
    assert_eq!(counts(&m), expected_counts(0, 0, 2, 0, 0));

    // Unsubscribed listeners get nothing more; unsubscribing twice is harmless.
    unsub_thrower.call0(&JsValue::NULL).unwrap();
    unsub_string.call0(&JsValue::NULL).unwrap();
    unsub_string.call0(&JsValue::NULL).unwrap();
    m.track(js(r#"{ targetId: "remote", id: "z" }"#)).unwrap();
    assert_eq!(get(&probe, "errorThrows").as_f64(), Some(n), "unsubscribed");
    assert_eq!(
        get(&probe, "stringThrows").as_f64(),
        Some(n),
        "unsubscribed"
    );
    assert_eq!(
        lines(&log).last().map(String::as_str),
        Some("R:created:z:pending")
    );
}

#[wasm_bindgen_test]
async fn throwing_listener_during_reentrant_delivery() {
    let m = Rc::new(ExecutionManager::new(None).unwrap());
    let log: Log = Rc::default();
    let reentrant = {
        let m = Rc::clone(&m);
        let log = Rc::clone(&log);
        Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let line = describe(&ev);
            push(&log, format!("A:{line}"));
            if line == "created:p:pending" {
                let r = m.cancel(s("p"), Some(s("changed my mind")));
                push(&log, format!("A:cancel ok={}", r.is_ok()));
            }
        })
        .into_js_value()
    };
    m.subscribe(reentrant).unwrap();
    m.subscribe(js(r#"(ev) => { throw new Error("boom"); }"#))
        .unwrap();
    m.subscribe(recorder(&log, "B")).unwrap();
    let p = m.track(js(r#"{ targetId: "remote", id: "p" }"#));
    assert!(p.is_ok(), "track returns normally: {p:?}");
    assert_eq!(
        lines(&log),
        [
            "A:created:p:pending",
            "A:cancel ok=true",
            "B:created:p:pending",
            "A:status:p:cancelled",
            "B:status:p:cancelled",
        ]
    );
    let p = ok(m.status(s("p")));
    assert_eq!(status_of(&p), "cancelled");
    assert_eq!(
        get_str(&p, "cancelReason").as_deref(),
        Some("changed my mind")
    );
}

// ---------------------------------------------------------------------------------------------
// unsubscribe and removed events
// ---------------------------------------------------------------------------------------------

#[wasm_bindgen_test]
fn removed_events_for_remove_clear_and_eviction() {
    let m = ExecutionManager::new(Some(js("{ maxFinished: 2 }"))).unwrap();
    let log: Log = Rc::default();
    let unsubscribe = m.subscribe(recorder(&log, "R")).unwrap();
    for id in ["a", "b", "c"] {
        m.track(js(&format!(r#"{{ targetId: "remote", id: "{id}" }}"#)))
            .unwrap();
        m.start(s(id)).unwrap();
    }
    log.borrow_mut().clear();
    m.complete(s("a"), None).unwrap();
    m.complete(s("b"), None).unwrap();
    m.complete(s("c"), None).unwrap();
    assert_eq!(
        lines(&log),
        [
            "R:status:a:completed",
            "R:status:b:completed",
            "R:status:c:completed",
            "R:removed:a:completed",
        ],
        "the earliest finished is evicted beyond maxFinished"
    );
    assert!(ok(m.status(s("a"))).is_undefined(), "a evicted");
    expect_code(m.remove(s("a")), "NOT_FOUND", "remove evicted");
    m.track(js(r#"{ targetId: "remote", id: "a" }"#))
        .expect("an id freed by eviction may be used again");

    log.borrow_mut().clear();
    assert_eq!(status_of(&m.remove(s("b")).unwrap()), "completed");
    m.track(js(r#"{ targetId: "remote", id: "d" }"#)).unwrap();
    m.cancel(s("d"), None).unwrap();
    assert_eq!(ok(m.clear()), 2, "c and d");
    let mut removed: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| l.starts_with("R:removed:"))
        .collect();
    assert_eq!(removed.remove(0), "R:removed:b:completed");
    removed.sort();
    assert_eq!(
        removed,
        ["R:removed:c:completed", "R:removed:d:cancelled"],
        "one removed per cleared"
    );
    assert_eq!(
        counts(&m),
        expected_counts(1, 0, 0, 0, 0),
        "only the new a is held"
    );

    let before = lines(&log).len();
    unsubscribe.call0(&JsValue::NULL).unwrap();
    m.cancel(s("a"), None).unwrap();
    assert_eq!(lines(&log).len(), before, "no events after unsubscribe");
}

// ---------------------------------------------------------------------------------------------
// re-entrancy at awkward moments
// ---------------------------------------------------------------------------------------------

/// A waiter registered before completion still resolves when a listener removes the
/// execution inside its `completed` event.
#[wasm_bindgen_test]
async fn waiter_resolves_when_a_listener_removes_the_execution_on_completion() {
    let m = Rc::new(ExecutionManager::new(None).unwrap());
    m.register(s("t"), resolving_handler("'value'"), None)
        .unwrap();
    let log: Log = Rc::default();
    let late_wait: Rc<RefCell<Option<Promise>>> = Rc::default();
    let listener = {
        let m = Rc::clone(&m);
        let log = Rc::clone(&log);
        let late_wait = Rc::clone(&late_wait);
        Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let line = describe(&ev);
            if line == "status:w1:completed" {
                let removed = m.remove(s("w1")).map(|v| status_of(&v));
                push(&log, format!("removed w1: {removed:?}"));
            }
            if line == "status:w2:completed" {
                *late_wait.borrow_mut() = Some(m.wait(s("w2")));
            }
        })
        .into_js_value()
    };
    m.subscribe(listener).unwrap();
    m.create(js(r#"{ targetId: "t", id: "w1" }"#)).unwrap();
    m.create(js(r#"{ targetId: "t", id: "w2" }"#)).unwrap();
    let w1 = m.wait(s("w1"));
    let done = settle(w1, 1000, "wait(w1) while a listener removes w1")
        .await
        .unwrap_or_else(|e| panic!("wait(w1) rejected: {e:?}"));
    assert_eq!(status_of(&done), "completed");
    assert_eq!(get_str(&done, "result").as_deref(), Some("value"));
    assert_eq!(lines(&log), [r#"removed w1: Ok("completed")"#]);
    assert!(ok(m.status(s("w1"))).is_undefined(), "w1 removed");
    expect_code(
        settle(m.wait(s("w1")), 1000, "wait(w1) after removal").await,
        "NOT_FOUND",
        "wait after removal",
    );

    until("w2's listener called wait", 1000.0, || {
        late_wait.borrow().is_some()
    })
    .await;
    let promise = late_wait.borrow_mut().take().unwrap();
    let w2 = settle(promise, 1000, "wait(w2) from its completed event")
        .await
        .unwrap();
    assert_eq!(status_of(&w2), "completed");
}

/// A handler that cancels its own execution synchronously while being started: the
/// execution ends cancelled, the result is ignored, and the slot is freed when it settles.
#[wasm_bindgen_test]
async fn handler_cancelling_its_own_execution_while_starting() {
    let m = Rc::new(ExecutionManager::new(Some(js("{ concurrency: 1 }"))).unwrap());
    let seen: Log = Rc::default();
    let handler = {
        let m = Rc::clone(&m);
        let seen = Rc::clone(&seen);
        Closure::<dyn FnMut(JsValue, JsValue) -> JsValue>::new(
            move |_inputs: JsValue, ctx: JsValue| {
                let id = get(&ctx, "id");
                let signal = get(&ctx, "signal");
                if id.as_string().as_deref() == Some("self") {
                    let cancelled = m.cancel(id.clone(), Some(s("by itself")));
                    push(
                        &seen,
                        format!(
                            "cancel={:?} aborted={:?}",
                            cancelled.map(|v| status_of(&v)),
                            get(&signal, "aborted").as_bool()
                        ),
                    );
                }
                Promise::resolve(&s("result")).into()
            },
        )
        .into_js_value()
    };
    m.register(s("t"), handler, None).unwrap();
    let log: Log = Rc::default();
    m.subscribe(recorder(&log, "R")).unwrap();
    m.create(js(r#"{ targetId: "t", id: "self" }"#)).unwrap();
    m.create(js(r#"{ targetId: "t", id: "next" }"#)).unwrap();

    let next = wait_done(&m, "next", 1000).await;
    assert_eq!(status_of(&next), "completed", "the slot was freed");
    assert_eq!(
        lines(&seen),
        [r#"cancel=Ok("cancelled") aborted=Some(true)"#]
    );
    sleep(5).await.unwrap();
    let own = ok(m.status(s("self")));
    assert_eq!(status_of(&own), "cancelled");
    assert_eq!(get_str(&own, "cancelReason").as_deref(), Some("by itself"));
    assert!(
        get(&own, "result").is_undefined(),
        "the handler's result is ignored"
    );
    let mine: Vec<String> = lines(&log)
        .into_iter()
        .filter(|l| l.contains(":self:"))
        .collect();
    assert_eq!(
        mine,
        [
            "R:created:self:pending",
            "R:status:self:running",
            "R:status:self:cancelled"
        ]
    );
}

/// A listener cancels an execution in its `running` event, before or just after its handler
/// is called: it ends cancelled, a handler that does run sees an aborted signal, and the
/// concurrency slot is not leaked.
#[wasm_bindgen_test]
async fn listener_cancelling_on_the_running_event() {
    let m = Rc::new(ExecutionManager::new(Some(js("{ concurrency: 1 }"))).unwrap());
    let probe = js("{ calls: [] }");
    let handler = Function::new_with_args(
        "probe",
        "return async (inputs, ctx) => { probe.calls.push(ctx.id); probe[ctx.id] = ctx.signal; await null; return 'ran'; };",
    )
    .call1(&JsValue::NULL, &probe)
    .unwrap();
    m.register(s("t"), handler, None).unwrap();
    let listener = {
        let m = Rc::clone(&m);
        Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            if describe(&ev) == "status:r1:running" {
                m.cancel(s("r1"), Some(s("on running"))).unwrap();
            }
        })
        .into_js_value()
    };
    m.subscribe(listener).unwrap();
    m.create(js(r#"{ targetId: "t", id: "r1" }"#)).unwrap();
    m.create(js(r#"{ targetId: "t", id: "r2" }"#)).unwrap();

    let r1 = wait_done(&m, "r1", 1000).await;
    assert_eq!(status_of(&r1), "cancelled");
    let r2 = wait_done(&m, "r2", 1000).await;
    assert_eq!(status_of(&r2), "completed", "r2 ran: no slot leaked");
    sleep(5).await.unwrap();
    assert_eq!(status_of(&ok(m.status(s("r1")))), "cancelled");
    let calls = strings(&get(&probe, "calls"));
    assert!(
        calls == ["r1", "r2"] || calls == ["r2"],
        "handler calls: {calls:?}"
    );
    if calls.len() == 2 {
        assert_eq!(
            get(&get(&probe, "r1"), "aborted"),
            JsValue::TRUE,
            "a handler that ran for the cancelled r1 sees its signal aborted"
        );
    }
    assert_eq!(counts(&m), expected_counts(0, 0, 1, 0, 1));
}
