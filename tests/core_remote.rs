#![cfg(not(target_arch = "wasm32"))]
//! Remote targets (`execman/bullmq`'s `enqueue`): executions created as any
//! others, run by a queue's workers elsewhere, moved along by the host with
//! the remote moves. Checked here: nothing of them starts, takes a slot or
//! arms the timer; each new one is handed to the host once; the public moves
//! refuse them and the remote moves refuse everything else; the lifecycle
//! with retries decided by the queue (`running → pending`); and, over random
//! sequences of moves, a small model of statuses and attempts.

use std::cell::Cell;
use std::rc::Rc;

use execman::core::retry::{Backoff, BackoffKind, Retry};
use execman::core::{
    Driver, Error, Failure, Manager, ManualClock, NewExecution, Options, Outcome, SequentialIds,
    Status,
};
use proptest::prelude::*;
use serde_json::json;

fn manager(concurrency: usize) -> (Manager, ManualClock) {
    let clock = ManualClock(Rc::new(Cell::new(1_000.0)));
    let m = Manager::new(
        Options {
            concurrency,
            ..Options::default()
        },
        Box::new(clock.clone()),
        Box::new(SequentialIds(0)),
    );
    (m, clock)
}

fn policy(attempts: u32) -> Retry {
    Retry {
        attempts,
        backoff: Backoff {
            kind: BackoffKind::Fixed,
            delay_ms: 100.0,
            max_delay_ms: None,
            jitter: 0.0,
        },
    }
}

fn create(m: &mut Manager, target: &str) -> u64 {
    m.create(NewExecution {
        target_id: target.into(),
        ..Default::default()
    })
    .expect("create")
}

fn failure(code: &str, message: &str) -> Failure {
    Failure::new(code, "Error", message)
}

fn code(e: Error) -> &'static str {
    e.code()
}

#[test]
fn a_remote_execution_never_starts_here_nor_takes_a_slot() {
    let (mut m, _) = manager(1);
    m.register_remote("render", Some("video"), None).unwrap();
    m.register("local", None).unwrap();
    let r1 = create(&mut m, "render");
    let r2 = create(&mut m, "render");
    let l = create(&mut m, "local");
    // Each new remote execution is handed to the host once, in creation order.
    assert_eq!(m.take_submitted(), vec![r1, r2]);
    assert!(m.take_submitted().is_empty());
    let rec = m.record(r1).unwrap();
    assert_eq!(rec.driver(), Driver::Remote);
    assert_eq!(&**rec.kind(), "video");
    assert_eq!(rec.status(), Status::Pending);
    // Only the local one is queued; it takes the one slot.
    assert_eq!(m.queued(), (1, 0));
    assert_eq!(m.next_start_seq(), Some(l));
    assert_eq!(m.next_start_seq(), None);
    // A running remote execution takes no slot either.
    m.start_as(r1, Driver::Remote).unwrap();
    m.start_as(r2, Driver::Remote).unwrap();
    assert_eq!(m.in_flight(), 1);
    assert_eq!(m.counts().running, 3);
}

#[test]
fn scheduling_fields_are_kept_and_nothing_is_timed_here() {
    let (mut m, _) = manager(usize::MAX);
    m.register_remote("render", None, Some(policy(4))).unwrap();
    let seq = m
        .create(NewExecution {
            target_id: "render".into(),
            priority: Some(7),
            delay_ms: Some(5_000.0),
            config: Some(json!({ "timeoutMs": 50 })),
            ..Default::default()
        })
        .unwrap();
    let rec = m.record(seq).unwrap();
    assert_eq!(rec.priority(), 7);
    assert_eq!(rec.max_attempts(), 4);
    assert_eq!(rec.run_at(), Some(6_000.0));
    // Its runAt and its timeoutMs are the queue's and the worker's: no timer here.
    assert_eq!(m.next_wakeup(), None);
    m.start_as(seq, Driver::Remote).unwrap();
    assert_eq!(m.next_deadline(), None);
    assert_eq!(m.record(seq).unwrap().run_at(), None);
    assert_eq!(m.expire(f64::MAX), 0);
    assert_eq!(m.record(seq).unwrap().status(), Status::Running);
}

#[test]
fn public_moves_refuse_remote_executions_and_remote_moves_refuse_the_others() {
    let (mut m, _) = manager(usize::MAX);
    m.register_remote("render", None, None).unwrap();
    m.register("local", None).unwrap();
    let r = create(&mut m, "render");
    let l = create(&mut m, "local");
    let t = m
        .track(NewExecution {
            target_id: "elsewhere".into(),
            ..Default::default()
        })
        .unwrap();
    let e = m.start_seq(r).unwrap_err();
    assert_eq!(e.code(), "INVALID_TRANSITION");
    assert!(e.to_string().contains("queue's workers"), "{e}");
    m.start_as(r, Driver::Remote).unwrap();
    assert_eq!(
        code(m.complete_seq(r, None).unwrap_err()),
        "INVALID_TRANSITION"
    );
    assert_eq!(
        code(m.fail_seq(r, failure("X", "x")).unwrap_err()),
        "INVALID_TRANSITION"
    );
    assert_eq!(
        code(m.report_progress_seq(r, 1.0, None, None).unwrap_err()),
        "INVALID_TRANSITION"
    );
    for other in [l, t] {
        assert_eq!(
            code(m.start_as(other, Driver::Remote).unwrap_err()),
            "INVALID_TRANSITION"
        );
        assert_eq!(
            code(m.retry_remote(other, failure("X", "x"), None).unwrap_err()),
            "INVALID_TRANSITION"
        );
    }
    // The tracked one still takes its own moves; the remote one is unchanged by the refusals.
    m.start_seq(t).unwrap();
    assert_eq!(m.record(r).unwrap().status(), Status::Running);
    assert_eq!(m.record(r).unwrap().attempt(), 1);
}

#[test]
fn the_queue_retries_then_completes() {
    let (mut m, clock) = manager(usize::MAX);
    m.register_remote("render", None, Some(policy(3))).unwrap();
    let seq = create(&mut m, "render");
    m.start_as(seq, Driver::Remote).unwrap();
    m.report_progress_as(seq, 3.0, Some(10.0), Some("a".into()), Driver::Remote)
        .unwrap();
    clock.set(2_000.0);
    // The queue runs it again in 250 ms: running → pending with the attempt's failure.
    assert!(m
        .retry_remote(seq, failure("HANDLER_ERROR", "boom"), Some(2_250.0))
        .unwrap());
    let rec = m.record(seq).unwrap();
    assert_eq!(rec.status(), Status::Pending);
    assert_eq!(rec.attempt(), 1);
    assert_eq!(rec.run_at(), Some(2_250.0));
    assert!(rec.progress().is_none());
    assert!(matches!(rec.outcome(), Outcome::Failed(f) if f.message == "boom"));
    assert_eq!(rec.finished_at(), None);
    // Not queued here even so.
    assert_eq!(m.queued(), (0, 0));
    assert_eq!(m.next_wakeup(), None);
    // A second retry of a pending one is not legal.
    assert_eq!(
        code(m.retry_remote(seq, failure("X", "x"), None).unwrap_err()),
        "INVALID_TRANSITION"
    );
    clock.set(2_300.0);
    m.start_as(seq, Driver::Remote).unwrap();
    let rec = m.record(seq).unwrap();
    assert_eq!(rec.attempt(), 2);
    assert_eq!(rec.started_at(), Some(2_300.0));
    assert!(matches!(rec.outcome(), Outcome::Open));
    // A retry with no time given is due now.
    clock.set(2_400.0);
    m.retry_remote(seq, failure("INTERRUPTED", "the worker stopped"), None)
        .unwrap();
    assert_eq!(m.record(seq).unwrap().run_at(), Some(2_400.0));
    m.start_as(seq, Driver::Remote).unwrap();
    m.complete_as(seq, Some(json!({ "ok": true })), Driver::Remote)
        .unwrap();
    let rec = m.record(seq).unwrap();
    assert_eq!(rec.status(), Status::Completed);
    assert_eq!(rec.attempt(), 3);
    assert!(matches!(rec.outcome(), Outcome::Completed(r) if &**r == "{\"ok\":true}"));
    // Terminal: every move is refused.
    assert!(m.start_as(seq, Driver::Remote).is_err());
    assert!(m.retry_remote(seq, failure("X", "x"), None).is_err());
    assert!(m.cancel_seq(seq, None).is_err());
}

#[test]
fn a_cancel_ends_it_for_the_host_to_see() {
    let (mut m, _) = manager(usize::MAX);
    m.register_remote("render", None, None).unwrap();
    let pending = create(&mut m, "render");
    let running = create(&mut m, "render");
    m.start_as(running, Driver::Remote).unwrap();
    m.take_finished();
    m.cancel_seq(pending, Some("stop".into())).unwrap();
    m.cancel_seq(running, None).unwrap();
    assert_eq!(m.take_finished(), vec![pending, running]);
    assert_eq!(m.record(pending).unwrap().status(), Status::Cancelled);
    // The job's late outcome changes nothing.
    assert!(m.complete_as(running, None, Driver::Remote).is_err());
    assert!(m
        .report_progress_as(running, 1.0, None, None, Driver::Remote)
        .is_err());
    assert_eq!(m.record(running).unwrap().status(), Status::Cancelled);
}

#[derive(Debug, Clone)]
enum Move {
    Start,
    Progress(u8),
    Retry(bool),
    Complete,
    Fail,
    Cancel,
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(Move::Start),
            2 => (0u8..200).prop_map(Move::Progress),
            2 => any::<bool>().prop_map(Move::Retry),
            1 => Just(Move::Complete),
            1 => Just(Move::Fail),
            1 => Just(Move::Cancel),
        ],
        0..24,
    )
}

proptest! {
    /// Any sequence of remote moves against a model: `start` is legal only
    /// when pending and counts an attempt; `progress`, `retry`, `complete`
    /// and `fail` only when running; `cancel` when pending or running; a
    /// terminal execution never changes; nothing ever takes a slot or a
    /// timer; an illegal move changes nothing.
    #[test]
    fn remote_moves_follow_the_model(ms in moves()) {
        let (mut m, clock) = manager(1);
        m.register_remote("r", None, Some(policy(2))).unwrap();
        let seq = create(&mut m, "r");
        let mut status = Status::Pending;
        let mut attempt = 0u32;
        let mut now = 1_000.0;
        for mv in ms {
            now += 10.0;
            clock.set(now);
            let before = m.record(seq).unwrap().updated_at();
            let (ok, to) = match mv {
                Move::Start => (m.start_as(seq, Driver::Remote).is_ok(), Status::Running),
                Move::Progress(p) => (
                    m.report_progress_as(seq, f64::from(p), Some(200.0), None, Driver::Remote).is_ok(),
                    Status::Running,
                ),
                Move::Retry(delayed) => (
                    m.retry_remote(seq, failure("HANDLER_ERROR", "x"), delayed.then_some(now + 50.0)).is_ok(),
                    Status::Pending,
                ),
                Move::Complete => (m.complete_as(seq, None, Driver::Remote).is_ok(), Status::Completed),
                Move::Fail => (m.fail_as(seq, failure("HANDLER_ERROR", "x"), Driver::Remote).is_ok(), Status::Failed),
                Move::Cancel => (m.cancel_seq(seq, None).is_ok(), Status::Cancelled),
            };
            let legal = match mv {
                Move::Start => status == Status::Pending,
                Move::Cancel => !status.is_terminal(),
                _ => status == Status::Running,
            };
            prop_assert_eq!(ok, legal, "{:?} from {:?}", mv, status);
            let rec = m.record(seq).unwrap();
            if legal {
                if matches!(mv, Move::Start) {
                    attempt += 1;
                }
                status = to;
            } else {
                prop_assert_eq!(rec.updated_at(), before);
            }
            prop_assert_eq!(rec.status(), status);
            prop_assert_eq!(rec.attempt(), attempt);
            prop_assert_eq!(m.in_flight(), 0);
            prop_assert_eq!(m.next_wakeup(), None);
            prop_assert_eq!(m.queued(), (0, 0));
            if status == Status::Pending && attempt > 0 {
                prop_assert!(matches!(rec.outcome(), Outcome::Failed(_)));
                prop_assert!(rec.run_at().is_some());
            }
        }
    }
}
