#![cfg(not(target_arch = "wasm32"))]
//! Unit tests of every transition of the core `Manager`, driven through its
//! public API with a `ManualClock` and `SequentialIds`, so timestamps and
//! generated ids are exact. The expectations are the ones of
//! the contract (statuses, errors, queue, eviction, progress, events,
//! list pages and counts).

use execman::core::{
    Error, Event, EventKind, Failure, ListQuery, Manager, ManualClock, NewExecution, Options,
    Order, SequentialIds, Status,
};
use serde_json::{json, Value};

#[path = "core_support/mod.rs"]
mod support;
use support::ids;

const INF: usize = usize::MAX;

/// A manager at t = 1000 ms with `t` registered as a `workflow` target and
/// `u` registered with the default type.
fn setup(concurrency: usize, max_finished: usize) -> (Manager, ManualClock) {
    let clock = ManualClock::default();
    clock.set(1000.0);
    let mut m = Manager::new(
        Options {
            concurrency,
            max_finished,
            ..Options::default()
        },
        Box::new(clock.clone()),
        Box::new(SequentialIds::default()),
    );
    m.register("t", Some("workflow")).unwrap();
    m.register("u", None).unwrap();
    (m, clock)
}

fn req(id: &str, target: &str) -> NewExecution {
    NewExecution {
        id: Some(id.to_owned()),
        target_id: target.to_owned(),
        ..Default::default()
    }
}

fn track(m: &mut Manager, id: &str) -> u64 {
    m.track(req(id, "remote")).unwrap()
}

fn create(m: &mut Manager, id: &str) -> u64 {
    m.create(req(id, "t")).unwrap()
}

fn snap(m: &Manager, id: &str) -> Value {
    serde_json::from_str(&m.status_json(id).unwrap_or_else(|| panic!("{id} not held"))).unwrap()
}

fn status(m: &Manager, id: &str) -> String {
    snap(m, id)["status"].as_str().unwrap().to_owned()
}

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    r.unwrap_err().code()
}

/// Everything observable about the manager, to check that an error changed nothing.
fn observe(m: &Manager) -> (String, String) {
    let all = ListQuery {
        page_size: Some(1000),
        ..Default::default()
    };
    (m.list_json(&all).unwrap(), m.counts_json())
}

fn list(m: &Manager, q: ListQuery) -> Value {
    serde_json::from_str(&m.list_json(&q).unwrap()).unwrap()
}

fn events(m: &mut Manager) -> Vec<(EventKind, String, String)> {
    m.drain_events()
        .into_iter()
        .map(|Event { kind, snapshot, .. }| {
            let v: Value = serde_json::from_str(&snapshot).unwrap();
            (
                kind,
                v["id"].as_str().unwrap().to_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ev(kind: EventKind, id: &str, status: &str) -> (EventKind, String, String) {
    (kind, id.to_owned(), status.to_owned())
}

// ---------------------------------------------------------------- creation

#[test]
fn track_returns_a_pending_snapshot_with_defaults() {
    let (mut m, _) = setup(INF, 100);
    let seq = m
        .track(NewExecution {
            target_id: "remote".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.seq_of("exec-1"), Some(seq));
    assert_eq!(
        snap(&m, "exec-1"),
        json!({
            "id": "exec-1", "targetId": "remote", "type": "task", "status": "pending",
            "inputs": {}, "config": {}, "progress": null,
            "createdAt": 1000, "startedAt": null, "finishedAt": null, "updatedAt": 1000,
            "priority": 0, "attempt": 0, "maxAttempts": 1, "runAt": null
        })
    );
    assert_eq!(m.snapshot(seq), m.status_json("exec-1"));
    assert_eq!(m.record(seq).unwrap().status(), Status::Pending);
    assert_eq!(m.progress_json("exec-1"), Some(None));
}

#[test]
fn track_keeps_the_given_fields() {
    let (mut m, _) = setup(INF, 100);
    m.track(NewExecution {
        id: Some("job".into()),
        target_id: "remote".into(),
        kind: Some("upload".into()),
        inputs: Some(Value::Null),
        config: Some(json!({"timeoutMs": 50, "retries": [1, 2], "__proto__": {"x": 1}})),
        ..NewExecution::default()
    })
    .unwrap();
    let s = snap(&m, "job");
    assert_eq!(s["type"], "upload");
    assert_eq!(s["inputs"], Value::Null);
    assert_eq!(
        s["config"],
        json!({"timeoutMs": 50, "retries": [1, 2], "__proto__": {"x": 1}})
    );
    assert_eq!(
        m.record(m.seq_of("job").unwrap()).unwrap().timeout_ms(),
        Some(50.0)
    );
}

#[test]
fn create_takes_the_type_of_its_target_unless_given() {
    let (mut m, _) = setup(INF, 100);
    create(&mut m, "a");
    m.create(req("b", "u")).unwrap();
    m.create(NewExecution {
        kind: Some("special".into()),
        ..req("c", "t")
    })
    .unwrap();
    assert_eq!(snap(&m, "a")["type"], "workflow");
    assert_eq!(snap(&m, "b")["type"], "task");
    assert_eq!(snap(&m, "c")["type"], "special");
    assert_eq!(status(&m, "a"), "pending");
    assert!(m.has_queued());
    // track never uses a registered target's type
    m.track(req("d", "t")).unwrap();
    assert_eq!(snap(&m, "d")["type"], "task");
}

#[test]
fn create_on_an_unknown_target_is_unknown_target_and_changes_nothing() {
    let (mut m, _) = setup(INF, 100);
    m.set_record_events(true);
    let before = observe(&m);
    let e = m.create(req("a", "nope")).unwrap_err();
    assert_eq!(e.code(), "UNKNOWN_TARGET");
    assert!(e.to_string().contains("nope"), "{e}");
    assert_eq!(observe(&m), before);
    assert!(!m.has_events());
    assert!(!m.has_queued());
    assert!(m.is_registered("t") && !m.is_registered("nope"));
}

#[test]
fn register_rejects_a_taken_or_empty_target() {
    let (mut m, _) = setup(INF, 100);
    let e = m.register("t", None).unwrap_err();
    assert_eq!(e.code(), "ALREADY_EXISTS");
    assert!(e.to_string().contains("\"t\""), "{e}");
    assert_eq!(code(m.register("", None)), "INVALID_ARGUMENT");
    assert_eq!(code(m.register("v", Some(""))), "INVALID_ARGUMENT");
    assert!(!m.is_registered("v"));
    // the first registration is intact
    create(&mut m, "a");
    assert_eq!(snap(&m, "a")["type"], "workflow");
}

#[test]
fn a_taken_execution_id_is_already_exists() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "a");
    create(&mut m, "b");
    m.set_record_events(true);
    let before = observe(&m);
    for r in [
        m.track(req("a", "remote")),
        m.track(req("b", "remote")),
        m.create(req("a", "t")),
        m.create(req("b", "u")),
    ] {
        let e = r.unwrap_err();
        assert_eq!(e.code(), "ALREADY_EXISTS");
        assert!(e.to_string().contains("execution"), "{e}");
    }
    assert_eq!(observe(&m), before);
    assert!(!m.has_events());
    // the queue holds only b
    assert_eq!(m.next_start().unwrap().id.as_ref(), "b");
    assert!(m.next_start().is_none());
}

#[test]
fn generated_ids_skip_taken_ones() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "exec-1");
    track(&mut m, "exec-3");
    let a = m
        .track(NewExecution {
            target_id: "r".into(),
            ..Default::default()
        })
        .unwrap();
    let b = m
        .track(NewExecution {
            target_id: "r".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.record(a).unwrap().id().as_ref(), "exec-2");
    assert_eq!(m.record(b).unwrap().id().as_ref(), "exec-4");
}

#[test]
fn malformed_requests_are_invalid_argument() {
    let (mut m, _) = setup(INF, 100);
    let deep = |levels: usize| {
        let mut v = json!(0);
        for _ in 0..levels {
            v = json!([v]);
        }
        v
    };
    let cases: Vec<(NewExecution, &str)> = vec![
        (req("", "remote"), "request.id"),
        (req("a", ""), "request.targetId"),
        (
            NewExecution {
                kind: Some(String::new()),
                ..req("a", "remote")
            },
            "request.type",
        ),
        (
            NewExecution {
                config: Some(json!([])),
                ..req("a", "remote")
            },
            "request.config",
        ),
        (
            NewExecution {
                config: Some(Value::Null),
                ..req("a", "remote")
            },
            "request.config",
        ),
        (
            NewExecution {
                config: Some(json!({"timeoutMs": 0})),
                ..req("a", "remote")
            },
            "timeoutMs",
        ),
        (
            NewExecution {
                config: Some(json!({"timeoutMs": -5})),
                ..req("a", "remote")
            },
            "timeoutMs",
        ),
        (
            NewExecution {
                config: Some(json!({"timeoutMs": "5"})),
                ..req("a", "remote")
            },
            "timeoutMs",
        ),
        (
            NewExecution {
                inputs: Some(deep(129)),
                ..req("a", "remote")
            },
            "request.inputs",
        ),
        (
            NewExecution {
                config: Some(json!({"x": deep(128)})),
                ..req("a", "remote")
            },
            "request.config",
        ),
    ];
    for (request, field) in cases {
        let e = m.track(request.clone()).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "{request:?}");
        assert!(e.to_string().contains(field), "{e} should name {field}");
        let e = m
            .create(NewExecution {
                target_id: if request.target_id.is_empty() {
                    String::new()
                } else {
                    "t".into()
                },
                ..request
            })
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
    }
    assert_eq!(m.counts().total, 0);
    // 128 levels are accepted
    m.track(NewExecution {
        inputs: Some(deep(128)),
        ..req("ok", "remote")
    })
    .unwrap();
    m.track(NewExecution {
        config: Some(json!({"timeoutMs": null})),
        ..req("ok2", "remote")
    })
    .unwrap();
    assert_eq!(m.counts().total, 2);
}

// ---------------------------------------------------------------- run queue

#[test]
fn next_start_honours_concurrency_and_fifo() {
    let (mut m, clock) = setup(2, 100);
    for id in ["a", "b", "c", "d"] {
        create(&mut m, id);
    }
    clock.set(2000.0);
    let a = m.next_start().unwrap();
    let b = m.next_start().unwrap();
    assert_eq!((a.id.as_ref(), b.id.as_ref()), ("a", "b"));
    assert_eq!(a.target_id.as_ref(), "t");
    assert_eq!(&*a.inputs, "{}");
    assert_eq!(&*a.config, "{}");
    assert_eq!(a.timeout_ms, None);
    assert!(m.next_start().is_none(), "only two slots");
    assert_eq!(m.in_flight(), 2);
    assert_eq!(status(&m, "a"), "running");
    assert_eq!(status(&m, "c"), "pending");
    assert_eq!(snap(&m, "a")["startedAt"], 2000);
    assert_eq!(snap(&m, "a")["updatedAt"], 2000);
    assert_eq!(snap(&m, "a")["createdAt"], 1000);

    clock.set(3000.0);
    m.settle(b.seq, Ok(json!(1)));
    assert_eq!(m.in_flight(), 1);
    let c = m.next_start().unwrap();
    assert_eq!(c.id.as_ref(), "c");
    assert!(m.next_start().is_none());
    m.settle(a.seq, Ok(json!(2)));
    m.settle(c.seq, Ok(json!(3)));
    assert_eq!(m.next_start().unwrap().id.as_ref(), "d");
    assert!(m.next_start().is_none());
    assert!(!m.has_queued());
}

#[test]
fn started_carries_inputs_config_and_timeout() {
    let (mut m, _) = setup(INF, 100);
    m.create(NewExecution {
        inputs: Some(json!({"n": 1})),
        config: Some(json!({"timeoutMs": 250.5, "k": "v"})),
        ..req("a", "t")
    })
    .unwrap();
    let s = m.next_start().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&s.inputs).unwrap(),
        json!({"n": 1})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&s.config).unwrap(),
        json!({"timeoutMs": 250.5, "k": "v"})
    );
    assert_eq!(s.timeout_ms, Some(250.5));
}

#[test]
fn tracked_executions_never_enter_the_queue() {
    let (mut m, _) = setup(1, 100);
    track(&mut m, "x");
    assert!(!m.has_queued());
    assert!(m.next_start().is_none());
    m.start("x").unwrap();
    assert_eq!(m.in_flight(), 0, "a tracked execution holds no slot");
    create(&mut m, "a");
    assert_eq!(m.next_start().unwrap().id.as_ref(), "a");
}

#[test]
fn a_slot_is_held_until_settle_even_after_cancel() {
    let (mut m, _) = setup(1, 100);
    create(&mut m, "a");
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    let cancelled = m.cancel("a", Some("stop".into())).unwrap();
    assert_eq!(cancelled, a.seq);
    assert_eq!(status(&m, "a"), "cancelled");
    assert!(m.next_start().is_none(), "a's handler still holds the slot");
    assert_eq!(m.in_flight(), 1);
    let before = m.status_json("a");
    m.settle(a.seq, Ok(json!("late")));
    assert_eq!(m.status_json("a"), before, "a late result changes nothing");
    assert_eq!(m.in_flight(), 0);
    assert_eq!(m.next_start().unwrap().id.as_ref(), "b");
}

#[test]
fn a_slot_is_held_until_settle_even_after_time_out() {
    let (mut m, clock) = setup(1, 100);
    m.create(NewExecution {
        config: Some(json!({"timeoutMs": 10})),
        ..req("a", "t")
    })
    .unwrap();
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    clock.set(1010.0);
    assert!(m.time_out(a.seq));
    assert_eq!(status(&m, "a"), "failed");
    assert!(m.next_start().is_none());
    let before = m.status_json("a");
    m.settle(a.seq, Err(Failure::new("HANDLER_ERROR", "Error", "late")));
    assert_eq!(m.status_json("a"), before);
    assert_eq!(m.next_start().unwrap().id.as_ref(), "b");
}

#[test]
fn cancelled_or_removed_queue_entries_are_skipped() {
    let (mut m, _) = setup(1, 100);
    for id in ["a", "b", "c"] {
        create(&mut m, id);
    }
    m.cancel("b", None).unwrap();
    m.remove("b").unwrap();
    // the id is free again: the new "b" queues behind c
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    assert_eq!(a.id.as_ref(), "a");
    m.settle(a.seq, Ok(Value::Null));
    let c = m.next_start().unwrap();
    assert_eq!(c.id.as_ref(), "c");
    m.settle(c.seq, Ok(Value::Null));
    let b = m.next_start().unwrap();
    assert_eq!(b.id.as_ref(), "b");
    assert_ne!(b.seq, 2, "a new creation sequence");
    assert!(m.next_start().is_none());
    m.settle(b.seq, Ok(Value::Null));
    assert!(m.next_start().is_none());
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn cancelling_a_pending_handler_execution_takes_no_slot() {
    let (mut m, _) = setup(1, 100);
    create(&mut m, "a");
    create(&mut m, "b");
    m.cancel("a", None).unwrap();
    assert_eq!(m.in_flight(), 0);
    assert_eq!(m.next_start().unwrap().id.as_ref(), "b");
    assert_eq!(snap(&m, "a")["startedAt"], Value::Null);
}

// ---------------------------------------------------------------- settle

#[test]
fn settle_ok_completes_with_the_result() {
    let (mut m, clock) = setup(INF, 100);
    create(&mut m, "a");
    let a = m.next_start().unwrap();
    clock.set(1500.0);
    m.settle(a.seq, Ok(json!({"answer": [42, "x"]})));
    let s = snap(&m, "a");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["result"], json!({"answer": [42, "x"]}));
    assert_eq!(s["finishedAt"], 1500);
    assert_eq!(s["updatedAt"], 1500);
    assert!(s.get("error").is_none() && s.get("cancelReason").is_none());
    assert_eq!(m.take_finished(), vec![a.seq]);
    assert!(m.take_finished().is_empty());
}

#[test]
fn settle_err_fails_with_the_failure() {
    let (mut m, clock) = setup(INF, 100);
    create(&mut m, "a");
    let a = m.next_start().unwrap();
    clock.set(1700.0);
    let mut failure = Failure::new("HANDLER_ERROR", "RangeError", "too big");
    failure.stack = Some("at f".into());
    m.settle(a.seq, Err(failure));
    let s = snap(&m, "a");
    assert_eq!(s["status"], "failed");
    assert_eq!(
        s["error"],
        json!({"code": "HANDLER_ERROR", "name": "RangeError", "message": "too big", "stack": "at f"})
    );
    assert!(s.get("result").is_none());
    assert_eq!(s["finishedAt"], 1700);
}

#[test]
fn settle_with_a_too_deep_result_fails_with_invalid_result() {
    let (mut m, _) = setup(INF, 100);
    create(&mut m, "a");
    let a = m.next_start().unwrap();
    let mut v = json!(0);
    for _ in 0..129 {
        v = json!({"k": v});
    }
    m.settle(a.seq, Ok(v));
    let s = snap(&m, "a");
    assert_eq!(s["status"], "failed");
    assert_eq!(s["error"]["code"], "INVALID_RESULT");
    assert!(s.get("result").is_none());
}

#[test]
fn a_late_settle_after_cancel_changes_nothing() {
    let (mut m, clock) = setup(INF, 100);
    create(&mut m, "a");
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    let b = m.next_start().unwrap();
    m.cancel("a", None).unwrap();
    m.cancel("b", Some("why".into())).unwrap();
    m.set_record_events(true);
    let (sa, sb) = (m.status_json("a"), m.status_json("b"));
    clock.set(9999.0);
    m.settle(a.seq, Ok(json!(1)));
    m.settle(b.seq, Err(Failure::new("HANDLER_ERROR", "Error", "boom")));
    assert_eq!(m.status_json("a"), sa);
    assert_eq!(m.status_json("b"), sb);
    assert!(!m.has_events());
    assert_eq!(m.counts().cancelled, 2);
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn a_settle_after_remove_only_frees_the_slot() {
    let (mut m, _) = setup(1, 100);
    create(&mut m, "a");
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    m.cancel("a", None).unwrap();
    m.remove("a").unwrap();
    // a new "a" is not affected by the old handler's result
    track(&mut m, "a");
    m.settle(a.seq, Ok(json!(1)));
    assert_eq!(status(&m, "a"), "pending");
    assert_eq!(m.next_start().unwrap().id.as_ref(), "b");
}

#[test]
fn handler_progress_is_validated_and_ignored_unless_running() {
    let (mut m, clock) = setup(INF, 100);
    create(&mut m, "a");
    let seq = m.seq_of("a").unwrap();
    m.handler_progress(seq, 1.0, Some(4.0), None).unwrap();
    assert_eq!(m.progress_json("a"), Some(None), "pending: ignored");
    m.next_start().unwrap();
    clock.set(1200.0);
    m.handler_progress(seq, 1.0, Some(4.0), Some("q".into()))
        .unwrap();
    let p: Value = serde_json::from_str(&m.progress_json("a").unwrap().unwrap()).unwrap();
    assert_eq!(
        p,
        json!({"current": 1, "total": 4, "message": "q", "percentage": 25, "updatedAt": 1200})
    );
    assert_eq!(snap(&m, "a")["progress"], p);
    assert_eq!(snap(&m, "a")["updatedAt"], 1200);
    assert_eq!(
        code(m.handler_progress(seq, -1.0, None, None)),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(m.handler_progress(seq, 1.0, Some(0.0), None)),
        "INVALID_ARGUMENT"
    );
    m.cancel("a", None).unwrap();
    let before = m.status_json("a");
    m.handler_progress(seq, 3.0, None, None).unwrap();
    assert_eq!(m.status_json("a"), before, "terminal: ignored");
    assert_eq!(
        code(m.handler_progress(seq, f64::NAN, None, None)),
        "INVALID_ARGUMENT"
    );
    // an unknown sequence is silently ignored
    m.handler_progress(999, 1.0, None, None).unwrap();
}

// ---------------------------------------------------------------- tracked

#[test]
fn tracked_lifecycle_start_progress_complete() {
    let (mut m, clock) = setup(INF, 100);
    let seq = track(&mut m, "x");
    clock.set(1100.0);
    assert_eq!(m.start("x").unwrap(), seq);
    let s = snap(&m, "x");
    assert_eq!(s["status"], "running");
    assert_eq!(s["startedAt"], 1100);
    assert_eq!(s["updatedAt"], 1100);
    clock.set(1200.0);
    m.report_progress("x", 3.0, None, Some("three".into()))
        .unwrap();
    assert_eq!(
        snap(&m, "x")["progress"],
        json!({"current": 3, "total": null, "message": "three", "percentage": null, "updatedAt": 1200})
    );
    // current may go down
    m.report_progress("x", 1.5, Some(3.0), None).unwrap();
    assert_eq!(snap(&m, "x")["progress"]["percentage"], 50);
    clock.set(1300.0);
    assert_eq!(m.complete("x", Some(json!([1, {"a": null}]))).unwrap(), seq);
    let s = snap(&m, "x");
    assert_eq!(s["status"], "completed");
    assert_eq!(s["result"], json!([1, {"a": null}]));
    assert_eq!(s["startedAt"], 1100);
    assert_eq!(s["finishedAt"], 1300);
    assert_eq!(s["updatedAt"], 1300);
}

#[test]
fn complete_defaults_the_result_to_null() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "x");
    m.start("x").unwrap();
    m.complete("x", None).unwrap();
    let s = snap(&m, "x");
    assert!(s.as_object().unwrap().contains_key("result"));
    assert_eq!(s["result"], Value::Null);
}

#[test]
fn fail_stores_the_failure() {
    let (mut m, clock) = setup(INF, 100);
    track(&mut m, "x");
    m.start("x").unwrap();
    clock.set(4000.0);
    m.fail("x", Failure::new("EXTERNAL_ERROR", "Error", "it broke"))
        .unwrap();
    let s = snap(&m, "x");
    assert_eq!(s["status"], "failed");
    assert_eq!(
        s["error"],
        json!({"code": "EXTERNAL_ERROR", "name": "Error", "message": "it broke"})
    );
    assert_eq!(s["finishedAt"], 4000);
    assert!(s.get("result").is_none());
}

#[test]
fn cancel_with_and_without_reason() {
    let (mut m, clock) = setup(INF, 100);
    track(&mut m, "p");
    track(&mut m, "r");
    m.start("r").unwrap();
    clock.set(5000.0);
    m.cancel("p", None).unwrap();
    m.cancel("r", Some("user asked".into())).unwrap();
    let p = snap(&m, "p");
    assert_eq!(p["status"], "cancelled");
    assert!(p.get("cancelReason").is_none());
    assert_eq!(p["startedAt"], Value::Null);
    assert_eq!(p["finishedAt"], 5000);
    let r = snap(&m, "r");
    assert_eq!(r["cancelReason"], "user asked");
    assert_eq!(r["startedAt"], 1000);
}

#[test]
fn invalid_progress_reports_are_invalid_argument_and_change_nothing() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "x");
    m.start("x").unwrap();
    m.report_progress("x", 1.0, Some(2.0), None).unwrap();
    let before = m.status_json("x");
    for (c, t) in [
        (-0.5, None),
        (f64::NAN, None),
        (f64::INFINITY, Some(1.0)),
        (1.0, Some(0.0)),
        (1.0, Some(-1.0)),
        (1.0, Some(f64::INFINITY)),
        (1.0, Some(f64::NAN)),
    ] {
        assert_eq!(
            code(m.report_progress("x", c, t, None)),
            "INVALID_ARGUMENT",
            "{c} {t:?}"
        );
    }
    assert_eq!(m.status_json("x"), before);
    // -0 is accepted and shown as 0
    m.report_progress("x", -0.0, None, None).unwrap();
    assert_eq!(snap(&m, "x")["progress"]["current"].to_string(), "0");
}

#[test]
fn a_too_deep_result_is_invalid_argument_for_complete() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "x");
    m.start("x").unwrap();
    let mut v = json!(0);
    for _ in 0..129 {
        v = json!([v]);
    }
    assert_eq!(code(m.complete("x", Some(v))), "INVALID_ARGUMENT");
    assert_eq!(status(&m, "x"), "running");
}

// ---------------------------------------------------------------- invalid transitions

fn assert_transition<T: std::fmt::Debug>(r: Result<T, Error>, id: &str, current: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), "INVALID_TRANSITION", "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("{id:?}")), "{text} should name {id}");
    assert!(text.contains(current), "{text} should name {current}");
}

#[test]
fn illegal_moves_of_tracked_executions_are_invalid_transition() {
    let (mut m, _) = setup(INF, 100);
    for id in ["p", "r", "c", "f", "x"] {
        track(&mut m, id);
    }
    for id in ["r", "c", "f", "x"] {
        m.start(id).unwrap();
    }
    m.complete("c", None).unwrap();
    m.fail("f", Failure::new("EXTERNAL_ERROR", "Error", "no"))
        .unwrap();
    m.cancel("x", None).unwrap();
    let before = observe(&m);
    m.set_record_events(true);

    // pending
    assert_transition(m.complete("p", None), "p", "pending");
    assert_transition(m.fail("p", Failure::new("E", "Error", "m")), "p", "pending");
    assert_transition(m.report_progress("p", 1.0, None, None), "p", "pending");
    assert_transition(m.remove("p"), "p", "pending");
    // running
    assert_transition(m.start("r"), "r", "running");
    assert_transition(m.remove("r"), "r", "running");
    // terminal
    for (id, st) in [("c", "completed"), ("f", "failed"), ("x", "cancelled")] {
        assert_transition(m.start(id), id, st);
        assert_transition(m.complete(id, None), id, st);
        assert_transition(m.fail(id, Failure::new("E", "Error", "m")), id, st);
        assert_transition(m.report_progress(id, 1.0, None, None), id, st);
        assert_transition(m.cancel(id, None), id, st);
        assert_transition(m.cancel(id, Some("again".into())), id, st);
    }
    assert_eq!(observe(&m), before);
    assert!(!m.has_events());
}

#[test]
fn external_operations_on_handler_driven_executions_are_invalid_transition() {
    let (mut m, _) = setup(1, 100);
    create(&mut m, "run");
    create(&mut m, "wait");
    m.next_start().unwrap();
    let before = observe(&m);
    for id in ["run", "wait"] {
        for r in [
            m.start(id).map(|_| ()),
            m.report_progress(id, 1.0, Some(2.0), None),
            m.complete(id, Some(json!(1))).map(|_| ()),
            m.fail(id, Failure::new("EXTERNAL_ERROR", "Error", "x"))
                .map(|_| ()),
        ] {
            let e = r.unwrap_err();
            assert_eq!(e.code(), "INVALID_TRANSITION");
            assert!(e.to_string().contains(id), "{e}");
            assert!(e.to_string().contains("handler"), "{e}");
        }
    }
    assert_eq!(observe(&m), before);
    // ... also once terminal
    let run = m.seq_of("run").unwrap();
    m.settle(run, Ok(json!(1)));
    assert_eq!(code(m.complete("run", None)), "INVALID_TRANSITION");
    assert_eq!(code(m.start("run")), "INVALID_TRANSITION");
    // cancel and remove are for every execution
    m.cancel("wait", None).unwrap();
    m.remove("wait").unwrap();
    m.remove("run").unwrap();
}

#[test]
fn unknown_ids_are_not_found() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "a");
    m.set_record_events(true);
    let before = observe(&m);
    let checks: Vec<Result<(), Error>> = vec![
        m.start("zz").map(|_| ()),
        m.report_progress("zz", 1.0, None, None),
        m.complete("zz", None).map(|_| ()),
        m.fail("zz", Failure::new("E", "Error", "m")).map(|_| ()),
        m.cancel("zz", None).map(|_| ()),
        m.remove("zz").map(|_| ()),
    ];
    for r in checks {
        let e = r.unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND");
        assert!(e.to_string().contains("\"zz\""), "{e}");
    }
    assert_eq!(m.status_json("zz"), None);
    assert_eq!(m.progress_json("zz"), None);
    assert_eq!(m.seq_of("zz"), None);
    assert!(!m.time_out(12345));
    assert_eq!(observe(&m), before);
    assert!(!m.has_events());
}

// ---------------------------------------------------------------- removal, reuse, eviction

#[test]
fn remove_returns_the_snapshot_and_frees_the_id() {
    let (mut m, clock) = setup(INF, 100);
    let old = track(&mut m, "a");
    m.cancel("a", Some("r".into())).unwrap();
    let snapshot = m.status_json("a").unwrap();
    assert_eq!(m.remove("a").unwrap(), snapshot);
    assert_eq!(m.status_json("a"), None);
    assert_eq!(m.counts().total, 0);
    assert_eq!(code(m.remove("a")), "NOT_FOUND");
    clock.set(2000.0);
    let new = track(&mut m, "a");
    assert!(new > old);
    let s = snap(&m, "a");
    assert_eq!(s["status"], "pending");
    assert_eq!(s["createdAt"], 2000);
    assert!(s.get("cancelReason").is_none());
}

#[test]
fn clear_removes_every_terminal_execution_and_frees_their_ids() {
    let (mut m, _) = setup(INF, 100);
    for id in ["p", "r", "c", "f", "x"] {
        track(&mut m, id);
    }
    for id in ["r", "c", "f"] {
        m.start(id).unwrap();
    }
    m.complete("c", None).unwrap();
    m.fail("f", Failure::new("E", "Error", "m")).unwrap();
    m.cancel("x", None).unwrap();
    m.set_record_events(true);
    assert_eq!(m.clear(), 3);
    assert_eq!(
        events(&mut m),
        vec![
            ev(EventKind::Removed, "c", "completed"),
            ev(EventKind::Removed, "f", "failed"),
            ev(EventKind::Removed, "x", "cancelled"),
        ]
    );
    assert_eq!(
        m.counts_json(),
        r#"{"pending":1,"running":1,"completed":0,"failed":0,"cancelled":0,"total":2}"#
    );
    assert_eq!(m.clear(), 0);
    for id in ["c", "f", "x"] {
        assert_eq!(m.status_json(id), None);
        track(&mut m, id);
    }
    assert_eq!(m.counts().pending, 4);
}

#[test]
fn max_finished_evicts_the_earliest_finished() {
    let (mut m, _) = setup(INF, 2);
    for id in ["a", "b", "c", "d"] {
        track(&mut m, id);
        m.start(id).unwrap();
    }
    m.set_record_events(true);
    // finish order b, d, a, c (not creation order)
    m.complete("b", None).unwrap();
    m.fail("d", Failure::new("E", "Error", "m")).unwrap();
    assert_eq!(m.counts().total, 4);
    m.cancel("a", None).unwrap();
    assert_eq!(m.status_json("b"), None, "b finished first");
    assert!(m.status_json("d").is_some() && m.status_json("a").is_some());
    m.complete("c", Some(json!(3))).unwrap();
    assert_eq!(m.status_json("d"), None);
    assert_eq!(
        events(&mut m),
        vec![
            ev(EventKind::Status, "b", "completed"),
            ev(EventKind::Status, "d", "failed"),
            ev(EventKind::Status, "a", "cancelled"),
            ev(EventKind::Removed, "b", "completed"),
            ev(EventKind::Status, "c", "completed"),
            ev(EventKind::Removed, "d", "failed"),
        ]
    );
    let c = m.counts();
    assert_eq!((c.completed, c.cancelled, c.failed, c.total), (1, 1, 0, 2));
    // evicted ids are free again
    track(&mut m, "b");
    track(&mut m, "d");
    assert_eq!(m.counts().pending, 2);
    // removing a held terminal one makes room without evicting
    m.remove("a").unwrap();
    m.cancel("b", None).unwrap();
    assert!(m.status_json("c").is_some());
    assert_eq!(m.counts().total, 3);
}

#[test]
fn max_finished_one_keeps_only_the_last() {
    let (mut m, _) = setup(INF, 1);
    create(&mut m, "a");
    create(&mut m, "b");
    let a = m.next_start().unwrap();
    let b = m.next_start().unwrap();
    m.settle(b.seq, Ok(json!(1)));
    m.settle(a.seq, Ok(json!(2)));
    assert_eq!(m.status_json("b"), None);
    assert_eq!(status(&m, "a"), "completed");
    assert_eq!(m.counts().total, 1);
    // a fresh execution with the evicted id
    create(&mut m, "b");
    assert_eq!(status(&m, "b"), "pending");
}

// ---------------------------------------------------------------- time out

#[test]
fn time_out_fails_a_running_execution_only() {
    let (mut m, clock) = setup(INF, 100);
    m.track(NewExecution {
        config: Some(json!({"timeoutMs": 75})),
        ..req("x", "remote")
    })
    .unwrap();
    let x = m.seq_of("x").unwrap();
    assert!(!m.time_out(x), "pending: nothing happens");
    assert_eq!(status(&m, "x"), "pending");
    m.start("x").unwrap();
    clock.set(1075.0);
    m.set_record_events(true);
    assert!(m.time_out(x));
    let s = snap(&m, "x");
    assert_eq!(s["status"], "failed");
    assert_eq!(s["error"]["code"], "TIMEOUT");
    assert_eq!(s["error"]["name"], "TimeoutError");
    let message = s["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("75") && message.contains("\"x\""),
        "{message}"
    );
    assert_eq!(s["finishedAt"], 1075);
    assert_eq!(events(&mut m), vec![ev(EventKind::Status, "x", "failed")]);
    let before = m.status_json("x");
    assert!(!m.time_out(x), "terminal: nothing happens");
    assert_eq!(m.status_json("x"), before);
    assert!(!m.has_events());
    assert_eq!(m.take_finished(), vec![x]);
}

// ---------------------------------------------------------------- progress on completion

#[test]
fn completion_with_a_known_total_sets_current_to_total() {
    let (mut m, clock) = setup(INF, 100);
    track(&mut m, "x");
    m.start("x").unwrap();
    clock.set(1100.0);
    m.report_progress("x", 2.0, Some(8.0), Some("m".into()))
        .unwrap();
    m.set_record_events(true);
    clock.set(1200.0);
    m.complete("x", None).unwrap();
    assert_eq!(
        snap(&m, "x")["progress"],
        json!({"current": 8, "total": 8, "message": "m", "percentage": 100, "updatedAt": 1200})
    );
    assert_eq!(
        events(&mut m),
        vec![ev(EventKind::Status, "x", "completed")],
        "no separate progress event"
    );

    // handler-driven too
    create(&mut m, "h");
    let h = m.next_start().unwrap();
    m.handler_progress(h.seq, 20.0, Some(10.0), None).unwrap();
    assert_eq!(snap(&m, "h")["progress"]["percentage"], 100);
    m.settle(h.seq, Ok(Value::Null));
    assert_eq!(snap(&m, "h")["progress"]["current"], 10);
}

#[test]
fn completion_without_total_or_failure_keeps_progress() {
    let (mut m, clock) = setup(INF, 100);
    for id in ["a", "b", "c"] {
        track(&mut m, id);
        m.start(id).unwrap();
    }
    m.report_progress("a", 2.0, None, None).unwrap();
    m.report_progress("b", 2.0, Some(8.0), None).unwrap();
    m.report_progress("c", 2.0, Some(8.0), None).unwrap();
    clock.set(3000.0);
    m.complete("a", None).unwrap();
    m.fail("b", Failure::new("E", "Error", "m")).unwrap();
    m.cancel("c", None).unwrap();
    for id in ["a", "b", "c"] {
        let p = &snap(&m, id)["progress"];
        assert_eq!(p["current"], 2, "{id}");
        assert_eq!(p["updatedAt"], 1000, "{id}");
    }
    assert_eq!(snap(&m, "a")["progress"]["percentage"], Value::Null);
    assert_eq!(snap(&m, "b")["progress"]["percentage"], 25);
    // no progress at all stays null
    track(&mut m, "d");
    m.start("d").unwrap();
    m.complete("d", None).unwrap();
    assert_eq!(snap(&m, "d")["progress"], Value::Null);
}

// ---------------------------------------------------------------- events

#[test]
fn events_arrive_in_order_with_snapshots() {
    let (mut m, clock) = setup(1, 100);
    track(&mut m, "a");
    assert!(!m.has_events(), "off by default");
    m.set_record_events(true);
    track(&mut m, "x");
    create(&mut m, "h");
    m.start("x").unwrap();
    clock.set(1100.0);
    m.report_progress("x", 1.0, Some(2.0), None).unwrap();
    let h = m.next_start().unwrap();
    m.handler_progress(h.seq, 5.0, None, None).unwrap();
    m.complete("x", Some(json!("ok"))).unwrap();
    m.settle(h.seq, Err(Failure::new("HANDLER_ERROR", "Error", "bad")));
    m.cancel("a", None).unwrap();
    m.remove("x").unwrap();
    assert!(m.has_events());
    let raw = m.drain_events();
    assert!(!m.has_events());
    let got: Vec<(EventKind, String, String)> = raw
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.snapshot).unwrap();
            (
                e.kind,
                v["id"].as_str().unwrap().to_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ev(EventKind::Created, "x", "pending"),
            ev(EventKind::Created, "h", "pending"),
            ev(EventKind::Status, "x", "running"),
            ev(EventKind::Progress, "x", "running"),
            ev(EventKind::Status, "h", "running"),
            ev(EventKind::Progress, "h", "running"),
            ev(EventKind::Status, "x", "completed"),
            ev(EventKind::Status, "h", "failed"),
            ev(EventKind::Status, "a", "cancelled"),
            ev(EventKind::Removed, "x", "completed"),
        ]
    );
    // sequences and snapshots are the ones of that moment
    assert_eq!(raw[0].seq, 2, "a is 1, x is 2");
    assert_eq!(raw[1].seq, 3);
    let progress: Value = serde_json::from_str(&raw[3].snapshot).unwrap();
    assert_eq!(progress["progress"]["current"], 1);
    assert_eq!(progress["updatedAt"], 1100);
    let done: Value = serde_json::from_str(&raw[6].snapshot).unwrap();
    assert_eq!(done["result"], "ok");
    assert_eq!(done["progress"]["current"], 2);
    let removed: Value = serde_json::from_str(&raw[9].snapshot).unwrap();
    assert_eq!(removed, done, "the removed snapshot is the last state");
    assert_eq!(EventKind::Created.as_str(), "created");
    assert_eq!(EventKind::Status.as_str(), "status");
    assert_eq!(EventKind::Progress.as_str(), "progress");
    assert_eq!(EventKind::Removed.as_str(), "removed");
    // turned off: nothing queued
    m.set_record_events(false);
    track(&mut m, "z");
    assert!(!m.has_events());
}

// ---------------------------------------------------------------- list and counts

#[test]
fn list_page_shape() {
    let (mut m, clock) = setup(INF, 100);
    for (i, id) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        clock.set(1000.0 + i as f64);
        track(&mut m, id);
    }
    m.start("b").unwrap();
    m.start("d").unwrap();
    m.complete("d", None).unwrap();

    let p = list(&m, ListQuery::default());
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "items",
            "total",
            "page",
            "pageSize",
            "totalPages",
            "hasNext",
            "nextCursor"
        ]
    );
    assert_eq!(
        ids(&p),
        ["e", "d", "c", "b", "a"],
        "newest first by default"
    );
    assert_eq!(p["total"], 5);
    assert_eq!(p["page"], 1);
    assert_eq!(p["pageSize"], 20);
    assert_eq!(p["totalPages"], 1);
    assert_eq!(p["hasNext"], false);
    assert_eq!(p["nextCursor"], Value::Null);
    assert_eq!(p["items"][1], snap(&m, "d"), "items are full snapshots");

    let q = ListQuery {
        page_size: Some(2),
        order: Order::Asc,
        ..Default::default()
    };
    let p = list(&m, q.clone());
    assert_eq!(ids(&p), ["a", "b"]);
    assert_eq!(
        (p["totalPages"].clone(), p["hasNext"].clone()),
        (json!(3), json!(true))
    );
    assert!(p["nextCursor"].is_string());
    let p3 = list(
        &m,
        ListQuery {
            page: Some(3),
            ..q.clone()
        },
    );
    assert_eq!(ids(&p3), ["e"]);
    assert_eq!(p3["page"], 3);
    assert_eq!(p3["hasNext"], false);
    assert_eq!(p3["nextCursor"], Value::Null);
    let past = list(
        &m,
        ListQuery {
            page: Some(9),
            ..q.clone()
        },
    );
    assert_eq!(ids(&past), Vec::<String>::new());
    assert_eq!(past["total"], 5);
    assert_eq!(past["page"], 9);
    assert_eq!(past["hasNext"], false);

    // cursor paging: page is null
    let next = list(
        &m,
        ListQuery {
            cursor: Some(p["nextCursor"].as_str().unwrap().into()),
            ..q.clone()
        },
    );
    assert_eq!(ids(&next), ["c", "d"]);
    assert_eq!(next["page"], Value::Null);
    assert_eq!(next["total"], 5);
    let last = list(
        &m,
        ListQuery {
            cursor: Some(next["nextCursor"].as_str().unwrap().into()),
            ..q.clone()
        },
    );
    assert_eq!(ids(&last), ["e"]);
    assert_eq!(last["hasNext"], false);
    assert_eq!(last["nextCursor"], Value::Null);

    // filters
    let f = |statuses: Option<Vec<Status>>, types: Option<Vec<&str>>, target: Option<&str>| {
        ids(&list(
            &m,
            ListQuery {
                statuses,
                types: types.map(|t| t.into_iter().map(String::from).collect()),
                target_id: target.map(String::from),
                order: Order::Asc,
                ..Default::default()
            },
        ))
    };
    assert_eq!(f(Some(vec![Status::Pending]), None, None), ["a", "c", "e"]);
    assert_eq!(
        f(Some(vec![Status::Running, Status::Completed]), None, None),
        ["b", "d"]
    );
    assert_eq!(f(Some(vec![]), None, None), Vec::<String>::new());
    assert_eq!(f(None, Some(vec![]), None), Vec::<String>::new());
    assert_eq!(f(None, Some(vec!["task"]), Some("remote")).len(), 5);
    assert_eq!(f(None, Some(vec!["nope"]), None), Vec::<String>::new());
    assert_eq!(f(None, None, Some("other")), Vec::<String>::new());
    let empty = list(
        &m,
        ListQuery {
            statuses: Some(vec![Status::Failed]),
            ..Default::default()
        },
    );
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["totalPages"], 0);
    assert_eq!(empty["hasNext"], false);
}

#[test]
fn list_query_paging_fields_are_checked() {
    let (mut m, _) = setup(INF, 100);
    track(&mut m, "a");
    track(&mut m, "b");
    let before = observe(&m);
    let bad = [
        ListQuery {
            page_size: Some(0),
            ..Default::default()
        },
        ListQuery {
            page_size: Some(1001),
            ..Default::default()
        },
        ListQuery {
            page: Some(0),
            ..Default::default()
        },
        ListQuery {
            page: Some(1),
            cursor: Some("d1".into()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some(String::new()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some("zz".into()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some("d".into()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some("d-1".into()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some("dXYZ".into()),
            ..Default::default()
        },
        ListQuery {
            cursor: Some("d12345678901234567".into()),
            ..Default::default()
        },
        // a cursor of the other order
        ListQuery {
            cursor: Some("a1".into()),
            order: Order::Desc,
            ..Default::default()
        },
        ListQuery {
            cursor: Some("d1".into()),
            order: Order::Asc,
            ..Default::default()
        },
    ];
    for q in bad {
        let e = m.list_json(&q).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT", "{q:?}");
        assert!(e.to_string().contains("query."), "{e}");
    }
    assert_eq!(observe(&m), before);
    // a real cursor works, and page size 1000 is allowed
    let p = list(
        &m,
        ListQuery {
            page_size: Some(1),
            ..Default::default()
        },
    );
    let c = p["nextCursor"].as_str().unwrap().to_owned();
    let p2 = list(
        &m,
        ListQuery {
            page_size: Some(1000),
            cursor: Some(c),
            ..Default::default()
        },
    );
    assert_eq!(ids(&p2), ["a"]);
    assert_eq!(p2["pageSize"], 1000);
}

#[test]
fn counts_follow_every_transition() {
    let (mut m, _) = setup(INF, 100);
    let zero = r#"{"pending":0,"running":0,"completed":0,"failed":0,"cancelled":0,"total":0}"#;
    assert_eq!(m.counts_json(), zero);
    for id in ["a", "b", "c", "d", "e"] {
        track(&mut m, id);
    }
    for id in ["b", "c", "d"] {
        m.start(id).unwrap();
    }
    m.complete("c", None).unwrap();
    m.fail("d", Failure::new("E", "Error", "m")).unwrap();
    m.cancel("e", None).unwrap();
    assert_eq!(support::counts(&m), [1, 1, 1, 1, 1, 5]);
    let v: Value = serde_json::from_str(&m.counts_json()).unwrap();
    assert_eq!(
        v,
        json!({"pending": 1, "running": 1, "completed": 1, "failed": 1, "cancelled": 1, "total": 5})
    );
    m.remove("c").unwrap();
    m.clear();
    let c = m.counts();
    assert_eq!((c.pending, c.running, c.total), (1, 1, 2));
}

#[test]
fn options_are_kept() {
    let (m, _) = setup(3, 7);
    assert_eq!(
        m.options(),
        Options {
            concurrency: 3,
            max_finished: 7,
            ..Options::default()
        }
    );
    assert_eq!(Options::default().concurrency, usize::MAX);
    assert_eq!(Options::default().max_finished, 10_000);
}

#[test]
fn id_lookups_survive_rekeying_the_id_hash() {
    let (mut m, _clock) = setup(INF, INF);
    let mut seqs = Vec::new();
    for i in 0..200 {
        seqs.push(track(&mut m, &format!("before-{i}")));
    }
    m.set_id_keys(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
    for i in 0..200 {
        seqs.push(track(&mut m, &format!("after-{i}")));
    }
    for (i, seq) in seqs.iter().enumerate() {
        let id = if i < 200 {
            format!("before-{i}")
        } else {
            format!("after-{}", i - 200)
        };
        assert_eq!(m.seq_of(&id), Some(*seq), "{id}");
        assert_eq!(status(&m, &id), "pending");
    }
    assert_eq!(m.seq_of("before-200"), None);
    let err = m.track(req("before-7", "remote")).unwrap_err();
    assert_eq!(err.code(), "ALREADY_EXISTS");
    m.set_id_keys(1, 2);
    assert_eq!(m.seq_of("after-199"), seqs.last().copied());
}
