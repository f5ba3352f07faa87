#![cfg(target_arch = "wasm32")]
// Test code fails by panicking; the crate-wide "no panics" lints are for code reachable from JS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! wasm-bindgen-test suite for the engine alone (`execman::wasm::Engine`), as js/manager.js
//! drives it: numbers through the scratch array, errors left for `error()`, and what a call
//! caused queued for the caller to drain (events, watched executions that ended, starts, the
//! earliest deadline, removals). Nothing here goes through js/manager.js; tests/wasm_runtime.rs
//! and tests/wasm_events.rs test the two together.
//!
//! Runs in Node (`wasm-pack test --node`) and, through tests/wasm_in_browser.rs, in Chromium.

use execman::wasm::Engine;
use execman::wire::{event, reply, slot, status, work, ALL};
use js_sys::{Float64Array, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

/// Evaluates a JS expression.
fn js(expr: &str) -> JsValue {
    js_sys::Function::new_no_args(&format!("return ({expr});"))
        .call0(&JsValue::NULL)
        .unwrap()
}

/// The engine's scratch array as JS reads it (a fresh view: the memory may have grown).
fn scratch(e: &Engine) -> Vec<f64> {
    let memory: js_sys::WebAssembly::Memory = Engine::memory().unchecked_into();
    Float64Array::new_with_byte_offset_and_length(&memory.buffer(), e.scratch(), slot::LEN as u32)
        .to_vec()
}

fn at(e: &Engine, s: usize) -> f64 {
    scratch(e)[s]
}

fn work_of(e: &Engine) -> u32 {
    at(e, slot::WORK) as u32
}

fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn engine(options: &str) -> Engine {
    let e = Engine::new(js(options));
    assert_eq!(e.error(), "", "options {options}");
    e
}

#[wasm_bindgen(module = "/js/manager.js")]
extern "C" {
    /// js/manager.js's copy of the wire.
    #[wasm_bindgen(thread_local_v2, js_name = WIRE)]
    static JS_WIRE: JsValue;
}

#[wasm_bindgen_test]
fn wire_lists_every_constant_and_js_has_the_same() {
    let wire = json(&Engine::wire());
    let js_wire = JS_WIRE.with(JsValue::clone);
    for (name, value) in ALL {
        assert_eq!(get(&wire, name).as_f64(), Some(*value), "{name}");
        assert_eq!(
            get(&js_wire, name).as_f64(),
            Some(*value),
            "js/manager.js {name}"
        );
    }
    let keys = js_sys::Object::keys(js_wire.unchecked_ref::<js_sys::Object>());
    assert_eq!(
        keys.length() as usize,
        ALL.len(),
        "js/manager.js has no other constant"
    );
}

#[wasm_bindgen_test]
fn errors_are_left_for_error_and_read_once() {
    let e = Engine::new(js("{ concurrency: 0 }"));
    let text = e.error();
    assert!(
        text.starts_with("INVALID_ARGUMENT\t") && text.contains("options.concurrency"),
        "{text}"
    );
    assert_eq!(e.error(), "", "an error is handed out once");

    let e = engine("undefined");
    assert_eq!(e.create(js("{ targetId: 'nope' }")), None);
    assert_eq!(at(&e, slot::STATUS), f64::from(reply::ERROR));
    let text = e.error();
    assert!(text.starts_with("UNKNOWN_TARGET\t"), "{text}");
    assert_eq!(
        e.find(JsValue::from_str("ghost"), true),
        f64::from(reply::ERROR)
    );
    assert!(e.error().starts_with("NOT_FOUND\t"));
    assert_eq!(e.find(JsValue::from_str("ghost"), false), 0.0);
    assert_eq!(e.error(), "", "an unknown id without `must` is no error");
    assert_eq!(e.find(js("'bad\\uD800'"), false), f64::from(reply::ERROR));
    assert!(e.error().starts_with("INVALID_ARGUMENT\t"));
    assert_eq!(
        e.find(JsValue::from(7), false),
        0.0,
        "a non-string id is unknown"
    );
}

#[wasm_bindgen_test]
fn create_fills_the_scratch_and_returns_the_fixed_parts_once() {
    let e = engine("{ concurrency: 1 }");
    assert_eq!(e.register(js("'t'"), JsValue::UNDEFINED, true, false), 1);
    let fixed = e
        .create(js("{ targetId: 't', id: 'a', inputs: { n: 1 } }"))
        .unwrap();
    assert_eq!(fixed, r#"["a","t","task",{"n":1},{},0,1]"#);
    let s = scratch(&e);
    let seq = s[slot::SEQ];
    assert!(seq > 0.0);
    assert_eq!(s[slot::STATUS], f64::from(status::PENDING));
    assert!(s[slot::STARTED].is_nan() && s[slot::FINISHED].is_nan());
    assert_eq!(s[slot::HAS_PROGRESS], 0.0);
    assert_eq!(s[slot::ATTEMPT], 0.0);
    assert!(s[slot::RUN_AT].is_nan());
    assert_eq!(
        work_of(&e) & work::STARTS,
        work::STARTS,
        "a slot is free: starts wait"
    );
    assert_eq!(e.find(JsValue::from_str("a"), true), seq);
    assert_eq!(e.fixed(seq).as_deref(), Some(fixed.as_str()));
    assert_eq!(e.fill(seq + 1.0), reply::GONE);
}

#[wasm_bindgen_test]
fn starts_are_handed_out_while_slots_are_free() {
    let e = engine("{ concurrency: 1 }");
    e.register(js("'t'"), JsValue::UNDEFINED, true, false);
    e.create(js("{ targetId: 't', id: 'a' }")).unwrap();
    let a = at(&e, slot::SEQ);
    e.create(js("{ targetId: 't', id: 'b' }")).unwrap();
    let b = at(&e, slot::SEQ);
    assert_eq!(e.next_start(), a);
    assert_eq!(e.fill(a), status::RUNNING);
    assert_eq!(e.next_start(), 0.0, "concurrency 1: b waits");
    assert_eq!(work_of(&e) & work::STARTS, 0);
    e.settle(a, 1, JsValue::from(5), false);
    assert_eq!(e.fill(a), status::COMPLETED);
    assert_eq!(work_of(&e) & work::STARTS, work::STARTS, "a's slot is free");
    assert_eq!(e.next_start(), b);
    // b was cancelled before its handler was called: the slot is released.
    e.cancel(b, false);
    assert_eq!(e.fill(b), status::CANCELLED);
    e.release(b);
    e.create(js("{ targetId: 't', id: 'c' }")).unwrap();
    let c = at(&e, slot::SEQ);
    assert_eq!(e.next_start(), c, "the released slot is free again");
}

#[wasm_bindgen_test]
fn events_are_queued_only_while_listening_with_their_numbers_at_the_change() {
    let e = engine("undefined");
    e.track(js("{ targetId: 'x', id: 'quiet' }")).unwrap();
    assert_eq!(work_of(&e) & work::EVENTS, 0, "no listener: no event");
    assert_eq!(e.next_event(), 0);

    e.listen(true);
    e.track(js("{ targetId: 'x', id: 'a' }")).unwrap();
    let a = at(&e, slot::SEQ);
    e.start(a, false);
    assert_eq!(
        e.progress(a, 3.0, 10.0, true, Some("three".into()), false, 0, false),
        1
    );
    assert_eq!(e.stage(0, JsValue::from(1)), 1);
    e.complete(a, true, false);
    assert_eq!(work_of(&e) & work::EVENTS, work::EVENTS);

    let mut kinds = Vec::new();
    loop {
        let kind = e.next_event();
        if kind == 0 {
            break;
        }
        let s = scratch(&e);
        assert_eq!(s[slot::SEQ], a);
        kinds.push((kind, s[slot::STATUS] as i32, s[slot::CURRENT]));
        if kind == event::PROGRESS {
            let texts = e.event_texts().unwrap();
            assert_eq!(texts, r#"["three",null]"#, "the texts at the change");
        }
    }
    assert_eq!(
        kinds,
        vec![
            (event::CREATED, status::PENDING, 0.0),
            (event::STATUS, status::RUNNING, 0.0),
            (event::PROGRESS, status::RUNNING, 3.0),
            (event::STATUS, status::COMPLETED, 10.0),
        ]
    );
    e.listen(false);
    e.track(js("{ targetId: 'x', id: 'after' }")).unwrap();
    assert_eq!(e.next_event(), 0);
}

#[wasm_bindgen_test]
fn watched_executions_that_end_are_queued_once() {
    let e = engine("undefined");
    e.track(js("{ targetId: 'x', id: 'w' }")).unwrap();
    let w = at(&e, slot::SEQ);
    e.track(js("{ targetId: 'x', id: 'u' }")).unwrap();
    let u = at(&e, slot::SEQ);
    e.watch(w);
    e.cancel(u, false);
    assert_eq!(work_of(&e) & work::FINISHED, 0, "u is not watched");
    assert_eq!(e.stage(2, JsValue::from_str("stop")), 1);
    e.cancel(w, true);
    assert_eq!(work_of(&e) & work::FINISHED, work::FINISHED);
    assert_eq!(e.next_finished(), w);
    assert_eq!(at(&e, slot::STATUS), f64::from(status::CANCELLED));
    assert_eq!(
        e.finished_texts().as_deref(),
        Some(r#"[null,{"cancelReason":"stop"}]"#)
    );
    assert_eq!(e.next_finished(), 0.0);
}

#[wasm_bindgen_test]
fn one_deadline_for_the_one_timer() {
    let e = engine("undefined");
    e.track(js(
        "{ targetId: 'x', id: 'slow', config: { timeoutMs: 500 } }",
    ))
    .unwrap();
    let slow = at(&e, slot::SEQ);
    e.track(js(
        "{ targetId: 'x', id: 'fast', config: { timeoutMs: 50 } }",
    ))
    .unwrap();
    let fast = at(&e, slot::SEQ);
    e.start(slow, false);
    assert_eq!(work_of(&e) & work::TIMER, work::TIMER);
    let started = at(&e, slot::STARTED);
    assert_eq!(at(&e, slot::WAKE), started + 500.0);
    assert_eq!(
        at(&e, slot::DELAY),
        500.0,
        "armed from the start's own time"
    );
    e.start(fast, false);
    let due = at(&e, slot::WAKE);
    assert_eq!(due, at(&e, slot::STARTED) + 50.0, "the earliest deadline");
    assert_eq!(work_of(&e) & work::TIMER, work::TIMER);
    e.progress(slow, 1.0, 0.0, false, None, false, 0, false);
    assert_eq!(
        work_of(&e) & work::TIMER,
        0,
        "unchanged deadline: no re-arm"
    );

    e.expire(due - 1.0);
    assert_eq!(e.fill(fast), status::RUNNING, "not due yet");
    e.expire(due);
    assert_eq!(e.fill(fast), status::FAILED);
    let texts = e.texts(fast).unwrap();
    assert!(texts.contains("\"code\":\"TIMEOUT\""), "{texts}");
    assert_eq!(
        at(&e, slot::WAKE),
        started + 500.0,
        "the next deadline is slow's"
    );
    e.complete(slow, false, false);
    assert!(at(&e, slot::WAKE).is_nan(), "no deadline left");
    assert_eq!(work_of(&e) & work::TIMER, work::TIMER);
}

#[wasm_bindgen_test]
fn removals_are_handed_out_in_batches() {
    let e = engine("{ maxFinished: 1 }");
    let mut seqs = Vec::new();
    let mut flagged = None;
    for i in 0..70 {
        e.track(js(&format!("{{ targetId: 'x', id: 'r{i}' }}")))
            .unwrap();
        let s = at(&e, slot::SEQ);
        seqs.push(s);
        e.start(s, false);
        e.complete(s, false, false);
        if flagged.is_none() && work_of(&e) & work::REMOVED != 0 {
            flagged = Some(i);
        }
    }
    assert_eq!(flagged, Some(64), "the 64th eviction asks for a sweep");
    let removed = e.drain_removed();
    assert_eq!(removed, seqs[..69].to_vec(), "every evicted one, in order");
    assert!(e.drain_removed().is_empty());
}

#[wasm_bindgen_test]
fn a_handler_outcome_that_is_not_json_fails_the_execution() {
    let e = engine("undefined");
    e.register(js("'t'"), JsValue::UNDEFINED, true, false);
    e.create(js("{ targetId: 't' }")).unwrap();
    let s = at(&e, slot::SEQ);
    assert_eq!(e.next_start(), s);
    e.settle(s, 1, js("new Map()"), false);
    assert_eq!(e.fill(s), status::FAILED);
    let texts = e.texts(s).unwrap();
    assert!(texts.contains("INVALID_RESULT"), "{texts}");
}

#[wasm_bindgen_test]
fn rest_answers_through_the_status_slot() {
    let e = engine("undefined");
    e.register(js("'t'"), JsValue::UNDEFINED, true, false);
    let body = e
        .handle(js(
            "{ method: 'POST', path: '/api/v1/executions', body: { targetId: 't', id: 'r' } }",
        ))
        .unwrap();
    assert_eq!(at(&e, slot::STATUS), 201.0);
    assert_eq!(get(&json(&body), "id").as_string().as_deref(), Some("r"));
    assert_eq!(e.headers(), ["location", "/api/v1/executions/r"]);
    assert_eq!(
        work_of(&e) & work::STARTS,
        work::STARTS,
        "the created one may start"
    );
    e.handle(js("{ method: 'DELETE', path: '/api/v1/executions' }"));
    assert_eq!(at(&e, slot::STATUS), 405.0);
    assert_eq!(e.headers(), ["allow", "GET, POST"]);
    e.handle(js("{ method: 'GET', path: '/api/v1/counts' }"));
    assert_eq!(at(&e, slot::STATUS), 200.0);
    assert!(e.headers().is_empty());
}

#[wasm_bindgen_test]
fn due_times_arm_the_one_timer_and_a_retried_attempt_ends_only_its_run() {
    let e = engine("undefined");
    e.register(js("'t'"), js("{ retry: { attempts: 3 } }"), true, false);
    // A runAt an hour ahead: pending, waiting; the timer is armed for it.
    e.create(js(
        "{ targetId: 't', id: 'later', runAt: Date.now() + 3600000 }",
    ))
    .unwrap();
    let later = at(&e, slot::SEQ);
    let run_at = at(&e, slot::RUN_AT);
    assert_eq!(work_of(&e) & work::TIMER, work::TIMER);
    assert_eq!(at(&e, slot::WAKE), run_at);
    assert_eq!(work_of(&e) & work::STARTS, 0, "nothing is due");
    e.expire(run_at - 1.0);
    assert_eq!(e.fill(later), status::PENDING);
    assert_eq!(at(&e, slot::WAKE), run_at, "re-armed for the same time");
    // A runAt in the past: due at once, and before a later-created one of the same priority.
    e.create(js("{ targetId: 't', id: 'now' }")).unwrap();
    let now = at(&e, slot::SEQ);
    e.create(js(
        "{ targetId: 't', id: 'past', runAt: 1, config: { timeoutMs: 1000 } }",
    ))
    .unwrap();
    let past = at(&e, slot::SEQ);
    assert_eq!(at(&e, slot::RUN_AT), 1.0);
    assert_eq!(e.next_start(), past, "due at its runAt, before `now`");
    let wake = at(&e, slot::WAKE);
    assert_eq!(e.fill(past), status::RUNNING);
    assert_eq!(at(&e, slot::ATTEMPT), 1.0);
    assert!(
        at(&e, slot::RUN_AT).is_nan(),
        "runAt is null once it starts"
    );
    let deadline = at(&e, slot::STARTED) + 1000.0;
    assert_eq!(wake, deadline, "the deadline comes before `later`");
    assert_eq!(e.next_start(), now);
    // `now` fails: back to pending for attempt 2; its run settled already: nothing to abort.
    e.settle(now, 1, js("new Error('no')"), true);
    assert_eq!(e.fill(now), status::PENDING);
    assert_eq!(at(&e, slot::ATTEMPT), 1.0);
    assert_eq!(e.next_finished(), 0.0, "a settled run needs no abort");
    // `past` times out: back to pending, and its run (still going) is handed out to abort.
    e.watch(past);
    e.expire(deadline);
    assert_eq!(e.fill(past), status::PENDING);
    assert_eq!(e.next_finished(), past, "attempt 1's run ends");
    assert_eq!(at(&e, slot::STATUS), f64::from(status::PENDING));
    assert!(e.finished_texts().unwrap().contains("TIMEOUT"));
    assert_eq!(e.next_finished(), 0.0);
    // attempt 2 runs; attempt 1's late outcome changes nothing, not even attempt 2's run
    let mut started = vec![e.next_start(), e.next_start()];
    started.sort_by(f64::total_cmp);
    assert_eq!(started, [now, past]);
    assert_eq!(e.fill(past), status::RUNNING);
    assert_eq!(at(&e, slot::ATTEMPT), 2.0);
    e.settle(past, 1, JsValue::from("late"), false);
    assert_eq!(e.fill(past), status::RUNNING, "attempt 1's outcome is late");
    e.cancel(past, false);
    assert_eq!(
        e.next_finished(),
        past,
        "attempt 2's run (and the waiter) hear of the end"
    );
    assert_eq!(at(&e, slot::STATUS), f64::from(status::CANCELLED));
    e.settle(now, 2, JsValue::from("two"), false);
    assert_eq!(e.fill(now), status::COMPLETED);
    e.cancel(later, false);
    assert!(at(&e, slot::WAKE).is_nan(), "nothing due: no timer");
}
