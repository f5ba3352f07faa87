#![cfg(not(target_arch = "wasm32"))]
//! The memory budget (`maxBytes`) of the core `Manager`: what each execution
//! counts, `RESOURCE_EXHAUSTED` that changes nothing, eviction of finished
//! executions first, handler results that do not fit, and a property test
//! that the accounting always equals the sum over the held executions.

use execman::core::{
    units, Error, Failure, Manager, ManualClock, NewExecution, Options, SequentialIds, Status,
    EXECUTION_COST,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn manager(max_bytes: u64, max_finished: usize) -> Manager {
    let clock = ManualClock::default();
    clock.set(1000.0);
    let mut m = Manager::new(
        Options {
            max_bytes,
            max_finished,
            ..Options::default()
        },
        Box::new(clock),
        Box::new(SequentialIds::default()),
    );
    m.register("t", None).unwrap();
    m
}

fn req(id: &str, inputs: Value) -> NewExecution {
    NewExecution {
        id: Some(id.to_owned()),
        target_id: "x".to_owned(),
        inputs: Some(inputs),
        ..Default::default()
    }
}

/// Creates a handler-driven execution of target `t` and starts it.
fn running_handler(m: &mut Manager, id: &str) -> u64 {
    let seq = m
        .create(NewExecution {
            id: Some(id.to_owned()),
            target_id: "t".into(),
            ..Default::default()
        })
        .unwrap();
    m.next_start().unwrap();
    seq
}

/// The bytes a tracked execution `id` with `inputs` counts (type `task`, config `{}`).
fn cost(id: &str, inputs: &Value) -> u64 {
    EXECUTION_COST + 2 * (units(id) + 1 + 4 + units(&inputs.to_string()) + 2)
}

/// Sums what the held executions count, total and active.
fn recount(m: &Manager) -> (u64, u64) {
    let page = m
        .list_page(&execman::core::ListQuery {
            page_size: Some(1000),
            ..Default::default()
        })
        .unwrap();
    let mut held = 0;
    let mut active = 0;
    for seq in page.seqs {
        let r = m.record(seq).unwrap();
        held += r.bytes();
        if !r.status().is_terminal() {
            active += r.bytes();
        }
    }
    (held, active)
}

fn exhausted<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::ResourceExhausted { .. }))
}

#[test]
fn an_execution_counts_its_texts_twice_plus_a_fixed_cost() {
    let mut m = manager(1 << 20, 100);
    let inputs = json!({ "name": "é" });
    let seq = m.track(req("a", inputs.clone())).unwrap();
    assert_eq!(m.record(seq).unwrap().bytes(), cost("a", &inputs));
    assert_eq!(m.held_bytes(), (cost("a", &inputs), cost("a", &inputs)));
    m.start("a").unwrap();
    m.report_progress("a", 1.0, None, Some("0123456789".into()))
        .unwrap();
    assert_eq!(m.record(seq).unwrap().bytes(), cost("a", &inputs) + 20);
    m.complete("a", Some(json!("ok"))).unwrap();
    let done = cost("a", &inputs) + 20 + 2 * 4; // "ok" with its quotes
    assert_eq!(
        m.held_bytes(),
        (done, 0),
        "a terminal execution is no longer active"
    );
}

#[test]
fn active_executions_past_the_budget_are_refused_and_nothing_changes() {
    let small = json!("x".repeat(1000));
    let each = cost("e0", &small);
    let mut m = manager(3 * each + 10, 100);
    for i in 0..3 {
        m.track(req(&format!("e{i}"), small.clone())).unwrap();
    }
    let before = (m.held_bytes(), m.counts());
    let err = m.track(req("e3", small.clone())).unwrap_err();
    assert_eq!(err.code(), "RESOURCE_EXHAUSTED");
    assert!(err.to_string().contains("maxBytes"), "{err}");
    assert_eq!((m.held_bytes(), m.counts()), before, "nothing changed");
    assert_eq!(m.seq_of("e3"), None);
}

#[test]
fn finished_executions_are_evicted_first_earliest_finished_first() {
    let small = json!("x".repeat(1000));
    let each = cost("e0", &small);
    let mut m = manager(3 * each + 100, 100);
    for i in 0..3 {
        let id = format!("e{i}");
        m.track(req(&id, small.clone())).unwrap();
    }
    m.cancel("e1", None).unwrap();
    m.cancel("e0", None).unwrap();
    m.track(req("e3", small.clone())).unwrap();
    assert_eq!(m.seq_of("e1"), None, "e1 finished first and was evicted");
    assert!(m.seq_of("e0").is_some());
    m.track(req("e4", small.clone())).unwrap();
    assert_eq!(m.seq_of("e0"), None);
    assert!(
        exhausted(m.track(req("e5", small))),
        "only active ones are left"
    );
    assert_eq!(recount(&m), m.held_bytes());
}

#[test]
fn growing_texts_of_active_executions_are_refused_too() {
    let mut m = manager(EXECUTION_COST * 2 + 200, 100);
    m.track(req("a", json!({}))).unwrap();
    m.start("a").unwrap();
    let big = "m".repeat(EXECUTION_COST as usize);
    assert!(exhausted(m.report_progress("a", 1.0, None, Some(big))));
    assert!(m.status_json("a").unwrap().contains("\"progress\":null"));
    assert!(exhausted(m.complete("a", Some(json!("r".repeat(2000))))));
    assert!(exhausted(
        m.fail("a", Failure::new("E", "Error", "f".repeat(2000)))
    ));
    assert!(exhausted(m.cancel("a", Some("c".repeat(2000)))));
    assert_eq!(m.counts().running, 1, "still running after every refusal");
    m.complete("a", Some(json!(1))).unwrap();
    assert_eq!(recount(&m), m.held_bytes());
}

#[test]
fn a_handler_result_that_does_not_fit_fails_with_invalid_result_and_a_failure_is_always_kept() {
    let mut m = manager(EXECUTION_COST * 2 + 100, 100);
    let seq = running_handler(&mut m, "h");
    m.settle(seq, Ok(json!("r".repeat(4000))));
    let snapshot: Value = serde_json::from_str(&m.status_json("h").unwrap()).unwrap();
    assert_eq!(snapshot["status"], "failed");
    assert_eq!(snapshot["error"]["code"], "INVALID_RESULT");
    assert!(snapshot["error"]["message"]
        .as_str()
        .unwrap()
        .contains("maxBytes"));

    let seq = running_handler(&mut m, "h2");
    m.settle(
        seq,
        Err(Failure::new("HANDLER_ERROR", "Error", "e".repeat(600))),
    );
    assert_eq!(m.record(seq).unwrap().status(), Status::Failed, "kept");
    assert_eq!(m.seq_of("h"), None, "the earlier failure made room");
    assert_eq!(recount(&m), m.held_bytes());
}

#[derive(Debug, Clone)]
enum Op {
    Track(usize, usize),
    Start(usize),
    Progress(usize, usize),
    Complete(usize, usize),
    Cancel(usize),
    Remove(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..12usize, 0..3000usize).prop_map(|(i, n)| Op::Track(i, n)),
        2 => (0..12usize).prop_map(Op::Start),
        2 => (0..12usize, 0..3000usize).prop_map(|(i, n)| Op::Progress(i, n)),
        2 => (0..12usize, 0..3000usize).prop_map(|(i, n)| Op::Complete(i, n)),
        1 => (0..12usize).prop_map(Op::Cancel),
        1 => (0..12usize).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever happens, the accounting is the sum over the held executions; active ones never
    /// pass the budget; and a RESOURCE_EXHAUSTED change leaves everything as it was.
    #[test]
    fn the_accounting_holds(max_bytes in 3_000u64..20_000, max_finished in 1usize..6, ops in prop::collection::vec(op(), 1..80)) {
        let mut m = manager(max_bytes, max_finished);
        for op in ops {
            let before = (m.held_bytes(), m.counts());
            let id = |i: usize| format!("e{i}");
            let result = match op {
                Op::Track(i, n) => m.track(req(&id(i), json!("x".repeat(n)))).map(drop),
                Op::Start(i) => m.start(&id(i)).map(drop),
                Op::Progress(i, n) => m.report_progress(&id(i), 1.0, None, Some("p".repeat(n))),
                Op::Complete(i, n) => m.complete(&id(i), Some(json!("r".repeat(n)))).map(drop),
                Op::Cancel(i) => m.cancel(&id(i), None).map(drop),
                Op::Remove(i) => m.remove(&id(i)).map(drop),
                Op::Clear => {
                    m.clear();
                    Ok(())
                }
            };
            if matches!(result, Err(Error::ResourceExhausted { .. })) {
                prop_assert_eq!((m.held_bytes(), m.counts()), before, "a refusal changes nothing");
            }
            let (held, active) = m.held_bytes();
            prop_assert_eq!((held, active), recount(&m));
            prop_assert!(active <= max_bytes, "active {} > {}", active, max_bytes);
        }
    }
}

#[test]
fn a_late_handler_result_changes_nothing_and_evicts_nothing() {
    let mut m = manager(EXECUTION_COST * 3, 100);
    m.track(req("done", json!({}))).unwrap();
    m.start("done").unwrap();
    m.complete("done", None).unwrap();
    let seq = running_handler(&mut m, "h");
    m.cancel("h", None).unwrap();
    let before = (m.held_bytes(), m.counts());
    m.settle(seq, Ok(json!("r".repeat(4000))));
    assert_eq!((m.held_bytes(), m.counts()), before);
    assert!(m.seq_of("done").is_some(), "no eviction for a late result");
}
