#![cfg(not(target_arch = "wasm32"))]
//! A durable manager and its store, natively: every change the manager makes
//! reaches the log (replaying the log gives exactly the manager's state, after
//! any sequence of calls, compactions and reopenings), a reopened manager holds
//! every execution as it was and applies the restart rules, and the store stays
//! proportional to what is held.

use std::rc::Rc;

use execman::core::durable::{
    header, replay, Change, CompactionPolicy, DurableState, Encoder, ExecutionImage, ExecutionState,
};
use execman::core::retry::{Backoff, BackoffKind, Retry};
use execman::core::{
    Failure, ListQuery, Manager, ManualClock, NewExecution, Options, Order, SequentialIds, Status,
};
use proptest::prelude::*;
use serde_json::{json, Value};

#[path = "core_support/mod.rs"]
mod support;
use support::image::pending;

/// A store as the host keeps it: the bytes of a file.
#[derive(Default)]
struct Disk {
    bytes: Vec<u8>,
}

impl Disk {
    /// Writes what the manager has for the store: its batch, or an image
    /// when the policy asks for one (`force`: always an image).
    fn write(&mut self, m: &mut Manager, force: bool) {
        if force || m.should_compact() || self.bytes.is_empty() {
            self.bytes = m.image().unwrap();
        } else {
            let batch = m.take_batch().unwrap();
            self.bytes.extend(batch);
        }
    }

    fn state(&self) -> DurableState {
        let replayed = replay(&self.bytes).unwrap();
        assert!(!replayed.torn_tail);
        replayed.state
    }
}

fn options(concurrency: usize, max_finished: usize) -> Options {
    Options {
        concurrency,
        max_finished,
        ..Options::default()
    }
}

fn new_manager(o: Options, clock: &ManualClock) -> Manager {
    Manager::new(o, Box::new(clock.clone()), Box::new(SequentialIds(0)))
}

/// A manager restored from `disk` (the targets registered again when `register`).
fn reopen(disk: &Disk, o: Options, clock: &ManualClock, register: bool) -> Manager {
    let mut m = new_manager(o, clock);
    if register {
        register_targets(&mut m);
    }
    m.restore(disk.state(), disk.bytes.len() as u64).unwrap();
    m
}

fn retry(attempts: u32) -> Retry {
    Retry {
        attempts,
        backoff: Backoff {
            kind: BackoffKind::Fixed,
            delay_ms: 50.0,
            max_delay_ms: None,
            jitter: 0.0,
        },
    }
}

fn register_targets(m: &mut Manager) {
    m.register("plain", None).unwrap();
    m.register_with("retrying", Some("job"), Some(retry(3)))
        .unwrap();
}

/// The manager's executions as a store holds them.
fn images(m: &Manager) -> Vec<ExecutionImage> {
    let page = m
        .list_page(&ListQuery {
            page_size: Some(1000),
            ..ListQuery::default()
        })
        .unwrap();
    let mut seqs = page.seqs;
    seqs.sort_unstable();
    seqs.iter().map(|&s| m.record(s).unwrap().image()).collect()
}

/// The log holds exactly the manager's state.
fn assert_stored(m: &Manager, disk: &Disk) {
    let state = disk.state();
    let stored: Vec<ExecutionImage> = state.executions().cloned().collect();
    assert_eq!(stored, images(m));
}

fn snapshot(m: &Manager, seq: u64) -> Value {
    serde_json::from_str(&m.snapshot(seq).unwrap()).unwrap()
}

// ------------------------------------------------------------------ random sequences

#[derive(Debug, Clone)]
enum Op {
    Create {
        retrying: bool,
        priority: i64,
        delay: Option<f64>,
        timeout: Option<f64>,
    },
    Track {
        timeout: Option<f64>,
    },
    Start,
    Settle {
        pick: usize,
        ok: bool,
    },
    HandlerProgress {
        pick: usize,
        message: bool,
    },
    TrackStart(usize),
    TrackProgress(usize),
    TrackEnd {
        pick: usize,
        ok: bool,
    },
    Cancel {
        pick: usize,
        reason: bool,
    },
    Remove(usize),
    Clear,
    Advance(f64),
    Write,
    Compact,
    Reopen {
        register: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), -2i64..3, proptest::option::of(0.0..100.0f64), proptest::option::of(1.0..200.0f64))
            .prop_map(|(retrying, priority, delay, timeout)| Op::Create { retrying, priority, delay, timeout }),
        2 => proptest::option::of(1.0..200.0f64).prop_map(|timeout| Op::Track { timeout }),
        3 => Just(Op::Start),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Op::Settle { pick, ok }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, message)| Op::HandlerProgress { pick, message }),
        2 => any::<usize>().prop_map(Op::TrackStart),
        2 => any::<usize>().prop_map(Op::TrackProgress),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Op::TrackEnd { pick, ok }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, reason)| Op::Cancel { pick, reason }),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => Just(Op::Clear),
        2 => (1.0..120.0f64).prop_map(Op::Advance),
        3 => Just(Op::Write),
        1 => Just(Op::Compact),
        1 => any::<bool>().prop_map(|register| Op::Reopen { register }),
    ]
}

/// The held executions in `status` (handler-driven or tracked), by sequence.
fn held(m: &Manager, status: Status, tracked: bool) -> Vec<u64> {
    images(m)
        .into_iter()
        .filter(|e| e.state.status == status && e.tracked == tracked)
        .map(|e| e.seq)
        .collect()
}

fn pick(seqs: &[u64], n: usize) -> Option<u64> {
    (!seqs.is_empty()).then(|| seqs[n % seqs.len()])
}

/// What a restart must have made of the execution `before`, now `after`.
fn check_restored(before: &ExecutionImage, after: Option<&ExecutionImage>, now: f64) {
    let s = &before.state;
    let terminal = s.status.is_terminal();
    let Some(after) = after else {
        // Only finished ones are evicted (maxFinished is the same).
        assert!(
            !(before.tracked && s.status == Status::Pending),
            "{before:?} lost"
        );
        return;
    };
    assert_eq!(after.id, before.id);
    assert_eq!(after.inputs, before.inputs);
    assert_eq!(after.created_at, before.created_at);
    match (before.tracked, s.status) {
        (_, _) if terminal => assert_eq!(after, before),
        (true, Status::Pending) | (false, Status::Pending) => assert_eq!(after, before),
        (true, Status::Running) => {
            let deadline = before.timeout_ms.map(|t| s.started_at.unwrap() + t);
            if deadline.is_some_and(|d| d <= now) {
                assert_eq!(after.state.status, Status::Failed);
                assert!(after.state.failure.as_deref().unwrap().contains("TIMEOUT"));
            } else {
                assert_eq!(after, before);
            }
        }
        (false, Status::Running) => {
            let failure = after.state.failure.as_deref().unwrap();
            assert!(failure.contains("\"INTERRUPTED\""), "{failure}");
            let retried = before.retry.is_some() && s.attempt < before.max_attempts;
            if retried {
                assert_eq!(after.state.status, Status::Pending);
                assert_eq!(after.state.run_at, Some(now + 50.0));
                assert_eq!(after.state.progress, None);
            } else {
                assert_eq!(after.state.status, Status::Failed);
                assert_eq!(after.state.finished_at, Some(now));
            }
            assert_eq!(after.state.attempt, s.attempt);
        }
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_log_holds_every_change_across_compactions_and_reopenings(
        ops in proptest::collection::vec(op(), 1..120),
        concurrency in 1usize..4,
    ) {
        let clock = ManualClock(Rc::new(std::cell::Cell::new(1_000.0)));
        let o = options(concurrency, 6);
        let mut disk = Disk::default();
        let mut m = new_manager(o, &clock);
        register_targets(&mut m);
        m.restore(DurableState::default(), 0).unwrap();
        m.set_compaction(CompactionPolicy { factor: 2, floor: 2_000 });
        // The handler-driven executions whose attempt runs here (reset by a reopen).
        let mut running: Vec<(u64, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Create { retrying, priority, delay, timeout } => {
                    let config = timeout.map_or(json!({}), |t| json!({ "timeoutMs": t }));
                    let _ = m.create(NewExecution {
                        target_id: if retrying { "retrying" } else { "plain" }.into(),
                        inputs: Some(json!({ "n": priority })),
                        config: Some(config),
                        priority: Some(priority),
                        delay_ms: delay,
                        ..NewExecution::default()
                    });
                }
                Op::Track { timeout } => {
                    let config = timeout.map_or(json!({}), |t| json!({ "timeoutMs": t }));
                    m.track(NewExecution { target_id: "remote".into(), config: Some(config), ..NewExecution::default() }).unwrap();
                }
                Op::Start => {
                    if let Some(seq) = m.next_start_seq() {
                        running.push((seq, m.record(seq).unwrap().attempt()));
                    }
                }
                Op::Settle { pick: n, ok } => {
                    if !running.is_empty() {
                        let (seq, attempt) = running.remove(n % running.len());
                        let outcome = if ok { Ok(json!({ "done": seq })) } else { Err(Failure::new("HANDLER_ERROR", "Error", "boom")) };
                        m.settle_attempt(seq, attempt, outcome, true);
                    }
                }
                Op::HandlerProgress { pick: n, message } => {
                    if let Some(&(seq, attempt)) = running.get(n % running.len().max(1)) {
                        let msg = message.then(|| format!("step of {seq}"));
                        m.attempt_progress(seq, attempt, 1.0, Some(4.0), msg).unwrap();
                    }
                }
                Op::TrackStart(n) => {
                    if let Some(seq) = pick(&held(&m, Status::Pending, true), n) {
                        m.start_seq(seq).unwrap();
                    }
                }
                Op::TrackProgress(n) => {
                    if let Some(seq) = pick(&held(&m, Status::Running, true), n) {
                        m.report_progress_seq(seq, 2.0, None, Some("half".into())).unwrap();
                    }
                }
                Op::TrackEnd { pick: n, ok } => {
                    if let Some(seq) = pick(&held(&m, Status::Running, true), n) {
                        if ok {
                            m.complete_seq(seq, Some(json!([1, "two"]))).unwrap();
                        } else {
                            m.fail_seq(seq, Failure::new("EXTERNAL_ERROR", "Error", "remote failure")).unwrap();
                        }
                    }
                }
                Op::Cancel { pick: n, reason } => {
                    let mut active = held(&m, Status::Pending, false);
                    active.extend(held(&m, Status::Running, false));
                    active.extend(held(&m, Status::Running, true));
                    if let Some(seq) = pick(&active, n) {
                        m.cancel_seq(seq, reason.then(|| "stop".to_owned())).unwrap();
                    }
                }
                Op::Remove(n) => {
                    let done: Vec<u64> = images(&m).iter().filter(|e| e.state.status.is_terminal()).map(|e| e.seq).collect();
                    if let Some(seq) = pick(&done, n) {
                        m.remove_seq(seq).unwrap();
                    }
                }
                Op::Clear => {
                    m.clear();
                }
                Op::Advance(ms) => {
                    clock.set(clock.0.get() + ms);
                    m.expire(clock.0.get());
                }
                Op::Write => disk.write(&mut m, false),
                Op::Compact => disk.write(&mut m, true),
                Op::Reopen { register } => {
                    disk.write(&mut m, false);
                    let before = images(&m);
                    m = reopen(&disk, o, &clock, register);
                    m.set_compaction(CompactionPolicy { factor: 2, floor: 2_000 });
                    running.clear();
                    let now = clock.0.get();
                    let after = images(&m);
                    for b in &before {
                        check_restored(b, after.iter().find(|a| a.seq == b.seq), now);
                    }
                    // Nothing new, and the same creation order.
                    prop_assert!(after.iter().all(|a| before.iter().any(|b| b.seq == a.seq)));
                    if !register {
                        // Handler-driven pending ones wait for their target.
                        prop_assert_eq!(m.next_start_seq(), None);
                        register_targets(&mut m);
                    }
                    prop_assert_eq!(m.take_finished(), Vec::<u64>::new());
                    prop_assert!(m.drain_events().is_empty());
                }
            }
        }
        disk.write(&mut m, false);
        assert_stored(&m, &disk);
        // A store that is replayed and restored again holds the same thing (tracked running
        // ones included, their deadline not passed: the clock did not move).
        let again = reopen(&disk, o, &clock, true);
        let after = images(&again);
        for b in images(&m) {
            check_restored(&b, after.iter().find(|a| a.seq == b.seq), clock.0.get());
        }
    }
}

// ------------------------------------------------------------------ the restart rules, one by one

fn setup() -> (Manager, ManualClock, Disk) {
    let clock = ManualClock(Rc::new(std::cell::Cell::new(10_000.0)));
    let mut m = new_manager(options(usize::MAX, 100), &clock);
    register_targets(&mut m);
    m.restore(DurableState::default(), 0).unwrap();
    (m, clock, Disk::default())
}

fn create(m: &mut Manager, target: &str, id: &str, priority: i64) -> u64 {
    m.create(NewExecution {
        id: Some(id.into()),
        target_id: target.into(),
        priority: Some(priority),
        ..NewExecution::default()
    })
    .unwrap()
}

#[test]
fn handler_running_ones_are_interrupted_or_retried() {
    let (mut m, clock, mut disk) = setup();
    let once = create(&mut m, "plain", "once", 0);
    let again = create(&mut m, "retrying", "again", 0);
    assert_eq!(m.next_start_seq(), Some(once));
    assert_eq!(m.next_start_seq(), Some(again));
    m.handler_progress(again, 1.0, Some(2.0), Some("half".into()))
        .unwrap();
    disk.write(&mut m, false);
    clock.set(20_000.0);
    let mut m = reopen(&disk, options(usize::MAX, 100), &clock, false);

    let x = snapshot(&m, once);
    assert_eq!(x["status"], "failed");
    assert_eq!(x["error"]["code"], "INTERRUPTED");
    assert_eq!(x["error"]["name"], "InterruptedError");
    assert_eq!(x["finishedAt"], 20_000.0);
    assert_eq!(x["attempt"], 1);

    let y = snapshot(&m, again);
    assert_eq!(y["status"], "pending");
    assert_eq!(y["error"]["code"], "INTERRUPTED");
    assert_eq!(y["progress"], Value::Null);
    assert_eq!(y["runAt"], 20_050.0);
    assert_eq!(y["attempt"], 1);
    assert_eq!(y["maxAttempts"], 3);

    // It waits for its target, then for its runAt, then runs its second attempt.
    assert_eq!(m.next_start_seq(), None);
    register_targets(&mut m);
    assert_eq!(m.next_start_seq(), None);
    clock.set(20_050.0);
    assert_eq!(m.next_start_seq(), Some(again));
    assert_eq!(m.record(again).unwrap().attempt(), 2);
    // The restart's changes are in the store too.
    disk.write(&mut m, false);
    assert_stored(&m, &disk);
}

#[test]
fn tracked_ones_stay_and_an_expired_deadline_times_out() {
    let (mut m, clock, mut disk) = setup();
    let track = |m: &mut Manager, id: &str, timeout: Option<f64>| {
        m.track(NewExecution {
            id: Some(id.into()),
            target_id: "remote".into(),
            config: timeout.map(|t| json!({ "timeoutMs": t })),
            ..NewExecution::default()
        })
        .unwrap()
    };
    let pending = track(&mut m, "p", None);
    let slow = track(&mut m, "slow", Some(60_000.0));
    let quick = track(&mut m, "quick", Some(500.0));
    let open = track(&mut m, "open", None);
    for id in ["slow", "quick", "open"] {
        m.start(id).unwrap();
    }
    m.report_progress("open", 3.0, Some(9.0), Some("a third".into()))
        .unwrap();
    disk.write(&mut m, false);
    let before: Vec<Value> = [pending, slow, open]
        .iter()
        .map(|&s| snapshot(&m, s))
        .collect();
    clock.set(11_000.0);
    let mut m = reopen(&disk, options(usize::MAX, 100), &clock, true);
    for (i, &seq) in [pending, slow, open].iter().enumerate() {
        assert_eq!(snapshot(&m, seq), before[i]);
    }
    let q = snapshot(&m, quick);
    assert_eq!(q["status"], "failed");
    assert_eq!(q["error"]["code"], "TIMEOUT");
    // The deadline of the slow one is armed again.
    assert_eq!(m.next_wakeup(), Some(10_000.0 + 60_000.0));
    clock.set(70_000.0);
    m.expire(70_000.0);
    assert_eq!(snapshot(&m, slow)["error"]["code"], "TIMEOUT");
    // Still reportable.
    m.complete("open", Some(json!("ok"))).unwrap();
}

#[test]
fn pending_ones_start_by_priority_once_their_target_is_registered() {
    let (mut m, clock, mut disk) = setup();
    let low = create(&mut m, "plain", "low", 0);
    let high = create(&mut m, "plain", "high", 5);
    let delayed = m
        .create(NewExecution {
            id: Some("later".into()),
            target_id: "plain".into(),
            priority: Some(9),
            delay_ms: Some(1_000.0),
            ..NewExecution::default()
        })
        .unwrap();
    let other = create(&mut m, "retrying", "other", 1);
    disk.write(&mut m, false);
    let mut m = reopen(&disk, options(usize::MAX, 100), &clock, false);
    for seq in [low, high, delayed, other] {
        assert_eq!(m.record(seq).unwrap().status(), Status::Pending);
    }
    assert_eq!(m.next_start_seq(), None);
    m.register("plain", None).unwrap();
    assert_eq!(m.next_start_seq(), Some(high));
    assert_eq!(m.next_start_seq(), Some(low));
    assert_eq!(m.next_start_seq(), None);
    m.register("retrying", None).unwrap();
    assert_eq!(m.next_start_seq(), Some(other));
    // Its own policy, kept from before.
    assert_eq!(m.record(other).unwrap().max_attempts(), 3);
    clock.set(11_000.0);
    assert_eq!(m.next_start_seq(), Some(delayed));
    // A pending one cancelled before its target came back never starts.
    let (mut m2, clock2, mut disk2) = setup();
    let gone = create(&mut m2, "plain", "gone", 0);
    disk2.write(&mut m2, false);
    let mut m2 = reopen(&disk2, options(usize::MAX, 100), &clock2, false);
    m2.cancel("gone", None).unwrap();
    m2.register("plain", None).unwrap();
    assert_eq!(m2.next_start_seq(), None);
    assert_eq!(m2.record(gone).unwrap().status(), Status::Cancelled);
}

#[test]
fn order_cursors_counts_and_the_eviction_order_are_kept() {
    let clock = ManualClock(Rc::new(std::cell::Cell::new(10_000.0)));
    let o = options(usize::MAX, 5);
    let mut m = new_manager(o, &clock);
    register_targets(&mut m);
    m.restore(DurableState::default(), 0).unwrap();
    let mut disk = Disk::default();
    for i in 0..12 {
        m.track(NewExecution {
            id: Some(format!("t{i}")),
            target_id: "remote".into(),
            ..NewExecution::default()
        })
        .unwrap();
    }
    // Finish in an order other than creation: t7, t2, t9, t4.
    for id in ["t7", "t2", "t9", "t4"] {
        m.start(id).unwrap();
        m.complete(id, None).unwrap();
    }
    disk.write(&mut m, false);
    let query = ListQuery {
        page_size: Some(4),
        order: Order::Desc,
        ..ListQuery::default()
    };
    let first = m.list_page(&query).unwrap();
    let cursor = first.next_cursor.clone().unwrap();
    let with_cursor = ListQuery {
        cursor: Some(cursor),
        ..query.clone()
    };
    let second = m.list_page(&with_cursor).unwrap();
    let counts = m.counts();

    let mut m = reopen(&disk, o, &clock, true);
    assert_eq!(m.list_page(&query).unwrap(), first);
    assert_eq!(m.list_page(&with_cursor).unwrap(), second);
    assert_eq!(m.counts(), counts);
    // Two more finish: with maxFinished 5, the earliest finished go first (t7, then t2).
    for id in ["t0", "t1"] {
        m.start(id).unwrap();
        m.complete(id, None).unwrap();
    }
    assert!(m.seq_of("t7").is_none());
    assert!(m.seq_of("t2").is_some());
    // New executions continue the sequence.
    let next = m
        .track(NewExecution {
            target_id: "remote".into(),
            ..NewExecution::default()
        })
        .unwrap();
    assert_eq!(next, 13);
}

#[test]
fn the_store_stays_proportional_to_what_is_held() {
    let clock = ManualClock(Rc::new(std::cell::Cell::new(10_000.0)));
    let mut m = new_manager(options(usize::MAX, 100), &clock);
    register_targets(&mut m);
    m.restore(DurableState::default(), 0).unwrap();
    let mut disk = Disk::default();
    let mut largest = 0;
    for i in 0..50_000u32 {
        let seq = m
            .track(NewExecution {
                target_id: "remote".into(),
                inputs: Some(json!({ "i": i })),
                ..NewExecution::default()
            })
            .unwrap();
        m.start_seq(seq).unwrap();
        m.report_progress_seq(seq, 1.0, Some(2.0), None).unwrap();
        m.complete_seq(seq, Some(json!(i))).unwrap();
        if i % 10 == 0 {
            disk.write(&mut m, false);
            largest = largest.max(disk.bytes.len());
        }
    }
    disk.write(&mut m, false);
    let image = m.image().unwrap().len();
    // 100 held executions: the image is about 100 puts, and the log never went past
    // 3 images plus the floor (64 KiB) plus a batch.
    assert!(image < 100 * 200, "image of {image} bytes");
    assert!(
        largest < 3 * image + (64 << 10) + 4096,
        "largest store {largest} bytes, image {image}"
    );
    assert_stored(&m, &disk);
}

#[test]
fn impossible_texts_in_a_well_framed_store_are_refused() {
    // A pending tracked execution of `remote`, created at t = 1.
    let base = pending(1, "x");
    let good = ExecutionImage {
        target_id: Rc::from("remote"),
        tracked: true,
        inputs: "{}".into(),
        created_at: 1.0,
        state: ExecutionState {
            updated_at: 1.0,
            ..base.state
        },
        ..base
    };
    let mut inputs = good.clone();
    inputs.inputs = "{\"a\":".into();
    let mut config = good.clone();
    config.config = "[]".into();
    let mut failure = good.clone();
    failure.state.failure = Some("{\"code\":1}".into());
    for (image, field) in [(inputs, "inputs"), (config, "config"), (failure, "failure")] {
        let mut encoder = Encoder::new();
        encoder.push(&Change::Put(Box::new(image))).unwrap();
        let mut log = header().to_vec();
        log.extend(encoder.take_batch());
        let state = replay(&log).unwrap().state;
        let clock = ManualClock(Rc::new(std::cell::Cell::new(0.0)));
        let mut m = new_manager(Options::default(), &clock);
        let e = m.restore(state, log.len() as u64).unwrap_err();
        assert_eq!(e.code(), "STORE_ERROR");
        assert!(e.to_string().contains(field), "{e}");
    }
}

#[test]
fn a_restored_execution_counts_its_bytes() {
    let (mut m, clock, mut disk) = setup();
    let seq = m
        .track(NewExecution {
            id: Some("b".into()),
            target_id: "remote".into(),
            inputs: Some(json!({ "text": "é".repeat(100) })),
            ..NewExecution::default()
        })
        .unwrap();
    m.start_seq(seq).unwrap();
    m.report_progress_seq(seq, 1.0, None, Some("msg".into()))
        .unwrap();
    m.fail_seq(seq, Failure::new("E", "Error", "failed here"))
        .unwrap();
    disk.write(&mut m, false);
    let restored = reopen(&disk, options(usize::MAX, 100), &clock, true);
    assert_eq!(restored.held_bytes(), m.held_bytes());
    assert_eq!(
        restored.record(seq).unwrap().bytes(),
        m.record(seq).unwrap().bytes()
    );
}
