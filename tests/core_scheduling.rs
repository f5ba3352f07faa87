#![cfg(not(target_arch = "wasm32"))]
//! Scheduling against a small model written here: random sequences of
//! creates (random priority, delay or `runAt`, retry policy, `timeoutMs`, on
//! a target with or without a default policy), clock advances, the timer
//! firing, attempt outcomes (ok, error, error with `retryable: false`,
//! invalid result, timeouts through the timer, outcomes of earlier
//! attempts), progress of current and earlier attempts, cancels and slot
//! releases, under random concurrency. After every step: the order of
//! starts, every snapshot (status, attempt, maxAttempts, priority, runAt,
//! error, progress, times), every event, the counts, the slots in flight, the
//! time the one timer must fire, and the bytes the budget counts all match
//! the model.
//!
//! The model is the contract's text written plainly: the next start is the
//! due pending execution of highest priority, then earliest due time (its
//! `runAt`, or its creation), then creation sequence; the delay after the
//! n-th failure is `delayMs` or `delayMs × 2^(n−1)`, capped, then times
//! `1 − jitter × u` for the n-th draw `u` of the random source the test
//! controls.

use std::cell::Cell;
use std::rc::Rc;

use execman::core::retry::{Backoff, BackoffKind, Retry};
use execman::core::{
    units, EventKind, Failure, Manager, ManualClock, NewExecution, Options, Outcome, Random,
    Record, SequentialIds, Status,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

#[path = "core_support/mod.rs"]
mod support;

/// The n-th number the random source gives (both sides draw in the same order).
fn draw(n: u64) -> f64 {
    ((n as f64) * 0.618_033_988_749_895).fract()
}

/// The random source of the manager: [`draw`] in order, counted.
struct Draws(Rc<Cell<u64>>);

impl Random for Draws {
    fn unit(&mut self) -> f64 {
        let n = self.0.get() + 1;
        self.0.set(n);
        draw(n)
    }
}

/// The default policy of the target `retrying`.
fn target_policy() -> Retry {
    Retry {
        attempts: 3,
        backoff: Backoff {
            kind: BackoffKind::Exponential,
            delay_ms: 10.0,
            max_delay_ms: Some(25.0),
            jitter: 0.5,
        },
    }
}

const TARGETS: [&str; 2] = ["plain", "retrying"];

// ------------------------------------------------------------------ operations

#[derive(Debug, Clone, Copy)]
enum Delay {
    None,
    Ms(f64),
    /// `runAt` this far from now (negative: in the past).
    At(f64),
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Ok,
    Error,
    NotRetryable,
    InvalidResult,
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        target: usize,
        priority: Option<i64>,
        delay: Delay,
        retry: Option<Retry>,
        timeout: Option<f64>,
    },
    /// The clock moves on.
    Advance(f64),
    /// The one timer fires (`expire` at the clock's time).
    Fire,
    NextStart,
    /// A handler call (any: current or of an earlier attempt) settles.
    Settle {
        call: usize,
        ending: Ending,
    },
    /// A handler call reports progress.
    Progress {
        call: usize,
        current: f64,
    },
    Cancel(usize),
}

fn policy() -> impl Strategy<Value = Retry> {
    (
        1u32..5,
        any::<bool>(),
        prop_oneof![Just(0.0), Just(5.0), Just(10.0), Just(30.0)],
        prop::option::of(prop_oneof![Just(0.0), Just(15.0), Just(40.0)]),
        prop_oneof![Just(0.0), Just(0.25), Just(1.0)],
    )
        .prop_map(support::retry)
}

fn op() -> impl Strategy<Value = Op> {
    let delay = prop_oneof![
        4 => Just(Delay::None),
        2 => prop_oneof![Just(0.0), Just(7.0), Just(20.0), Just(55.5)].prop_map(Delay::Ms),
        2 => prop_oneof![Just(-30.0), Just(0.0), Just(12.0), Just(40.0)].prop_map(Delay::At),
    ];
    prop_oneof![
        6 => (
            0..TARGETS.len(),
            prop::option::weighted(0.6, -2i64..3),
            delay,
            prop::option::weighted(0.5, policy()),
            prop::option::weighted(0.3, prop_oneof![Just(5.0), Just(18.0), Just(40.0)]),
        )
            .prop_map(|(target, priority, delay, retry, timeout)| Op::Create {
                target,
                priority,
                delay,
                retry,
                timeout,
            }),
        3 => prop_oneof![Just(1.0), Just(5.0), Just(13.0), Just(30.0)].prop_map(Op::Advance),
        3 => Just(Op::Fire),
        6 => Just(Op::NextStart),
        5 => (
            0..8usize,
            prop_oneof![
                4 => Just(Ending::Ok),
                5 => Just(Ending::Error),
                1 => Just(Ending::NotRetryable),
                1 => Just(Ending::InvalidResult),
            ]
        )
            .prop_map(|(call, ending)| Op::Settle { call, ending }),
        1 => (0..8usize, 0u32..9).prop_map(|(call, c)| Op::Progress { call, current: f64::from(c) }),
        2 => (0..16usize).prop_map(Op::Cancel),
    ]
}

// ------------------------------------------------------------------ the model

#[derive(Debug, Clone)]
enum MOutcome {
    Open,
    Completed(Value),
    /// code, name, message (`None`: not compared).
    Failed(String, String, Option<String>),
    Cancelled,
}

#[derive(Debug, Clone)]
struct MExec {
    seq: u64,
    id: String,
    target: &'static str,
    status: Status,
    priority: i64,
    retry: Option<Retry>,
    timeout: Option<f64>,
    attempt: u32,
    run_at: Option<f64>,
    /// Whether it waits in the run queue (pending, not started).
    queued: bool,
    /// Queued with a `runAt` still ahead, not yet made ready: the timer
    /// fires for it; it is made ready when the timer fires or when a start
    /// is looked for with a slot free, once its `runAt` has come.
    waiting: bool,
    progress: Option<(f64, f64)>,
    outcome: MOutcome,
    created_at: f64,
    started_at: Option<f64>,
    finished_at: Option<f64>,
    updated_at: f64,
}

impl MExec {
    fn max_attempts(&self) -> u32 {
        self.retry.map_or(1, |r| r.attempts)
    }

    /// When it became (or becomes) due: its `runAt`, else its creation.
    fn due(&self) -> f64 {
        self.run_at.unwrap_or(self.created_at)
    }

    fn deadline(&self) -> Option<f64> {
        (self.status == Status::Running).then_some(self.started_at? + self.timeout?)
    }

    fn snapshot(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("targetId".into(), json!(self.target));
        o.insert("type".into(), json!("task"));
        o.insert("status".into(), json!(self.status.as_str()));
        o.insert("inputs".into(), json!({}));
        o.insert(
            "config".into(),
            match self.timeout {
                Some(t) => json!({ "timeoutMs": t }),
                None => json!({}),
            },
        );
        o.insert(
            "progress".into(),
            match self.progress {
                None => Value::Null,
                Some((current, at)) => json!({
                    "current": current, "total": null, "message": null,
                    "percentage": null, "updatedAt": at
                }),
            },
        );
        match &self.outcome {
            MOutcome::Open | MOutcome::Cancelled => {}
            MOutcome::Completed(v) => {
                o.insert("result".into(), v.clone());
            }
            MOutcome::Failed(code, name, message) => {
                o.insert(
                    "error".into(),
                    json!({ "code": code, "name": name, "message": message }),
                );
            }
        }
        o.insert("createdAt".into(), json!(self.created_at));
        o.insert("startedAt".into(), json!(self.started_at));
        o.insert("finishedAt".into(), json!(self.finished_at));
        o.insert("updatedAt".into(), json!(self.updated_at));
        o.insert("priority".into(), json!(self.priority));
        o.insert("attempt".into(), json!(self.attempt));
        o.insert("maxAttempts".into(), json!(self.max_attempts()));
        o.insert("runAt".into(), json!(self.run_at));
        Value::Object(o)
    }
}

/// A handler call: which execution, which attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Call {
    seq: u64,
    attempt: u32,
}

struct Model {
    execs: Vec<MExec>,
    calls: Vec<Call>,
    concurrency: usize,
    now: f64,
    draws: u64,
    events: Vec<(EventKind, u64, Value)>,
    starts: Vec<u64>,
}

/// The delay after the `n`-th failed attempt, as the contract says it.
fn backoff(policy: &Retry, n: u32, u: f64) -> f64 {
    let b = &policy.backoff;
    let mut delay = match b.kind {
        BackoffKind::Fixed => b.delay_ms,
        BackoffKind::Exponential => b.delay_ms * 2f64.powi(n as i32 - 1),
    };
    if let Some(cap) = b.max_delay_ms {
        delay = delay.min(cap);
    }
    delay * (1.0 - b.jitter * u)
}

impl Model {
    fn at(&self, seq: u64) -> usize {
        self.execs.iter().position(|e| e.seq == seq).unwrap()
    }

    fn emit(&mut self, kind: EventKind, i: usize) {
        let e = &self.execs[i];
        self.events.push((kind, e.seq, e.snapshot()));
    }

    fn finish(&mut self, i: usize, status: Status, outcome: MOutcome) {
        let now = self.now;
        let e = &mut self.execs[i];
        e.status = status;
        e.outcome = outcome;
        e.queued = false;
        e.waiting = false;
        e.finished_at = Some(now);
        e.updated_at = now;
        self.emit(EventKind::Status, i);
    }

    /// The running attempt of `execs[i]` failed.
    fn fail_attempt(
        &mut self,
        i: usize,
        code: &str,
        name: &str,
        message: Option<String>,
        retryable: bool,
    ) {
        let e = &self.execs[i];
        let retried = matches!(code, "HANDLER_ERROR" | "TIMEOUT");
        match e.retry {
            Some(policy) if retryable && retried && e.attempt < policy.attempts => {
                self.draws += 1;
                let delay = backoff(&policy, e.attempt, draw(self.draws));
                let now = self.now;
                let e = &mut self.execs[i];
                e.status = Status::Pending;
                e.outcome = MOutcome::Failed(code.into(), name.into(), message);
                e.progress = None;
                e.run_at = Some(now + delay);
                e.queued = true;
                e.waiting = delay > 0.0;
                e.updated_at = now;
                self.emit(EventKind::Status, i);
            }
            _ => self.finish(
                i,
                Status::Failed,
                MOutcome::Failed(code.into(), name.into(), message),
            ),
        }
    }

    fn create(&mut self, seq: u64, op: &Op) {
        let Op::Create {
            target,
            priority,
            delay,
            retry,
            timeout,
        } = *op
        else {
            return;
        };
        let run_at = match delay {
            Delay::None => None,
            Delay::Ms(ms) => Some(self.now + ms),
            Delay::At(offset) => Some(self.now + offset),
        };
        let retry = retry.or((TARGETS[target] == "retrying").then(target_policy));
        self.execs.push(MExec {
            seq,
            id: format!("exec-{seq}"),
            target: TARGETS[target],
            status: Status::Pending,
            priority: priority.unwrap_or(0),
            retry,
            timeout,
            attempt: 0,
            run_at,
            queued: true,
            waiting: run_at.is_some_and(|at| at > self.now),
            progress: None,
            outcome: MOutcome::Open,
            created_at: self.now,
            started_at: None,
            finished_at: None,
            updated_at: self.now,
        });
        let i = self.execs.len() - 1;
        self.emit(EventKind::Created, i);
    }

    /// The next start, if a slot is free: the due queued execution of highest
    /// priority, then earliest due time, then creation sequence.
    fn next_start(&mut self) -> Option<u64> {
        if self.calls.len() >= self.concurrency {
            return None;
        }
        self.promote();
        let now = self.now;
        let i = (0..self.execs.len())
            .filter(|&i| {
                let e = &self.execs[i];
                e.queued && e.run_at.is_none_or(|at| at <= now)
            })
            .min_by(|&a, &b| {
                let (a, b) = (&self.execs[a], &self.execs[b]);
                b.priority
                    .cmp(&a.priority)
                    .then(a.due().total_cmp(&b.due()))
                    .then(a.seq.cmp(&b.seq))
            })?;
        let e = &mut self.execs[i];
        e.queued = false;
        e.status = Status::Running;
        e.attempt += 1;
        e.run_at = None;
        e.started_at = Some(now);
        e.updated_at = now;
        if matches!(e.outcome, MOutcome::Failed(..)) {
            e.outcome = MOutcome::Open;
        }
        let call = Call {
            seq: e.seq,
            attempt: e.attempt,
        };
        self.calls.push(call);
        self.starts.push(call.seq);
        self.emit(EventKind::Status, i);
        Some(call.seq)
    }

    /// The timer fires at the clock's time: attempts past their deadline
    /// time out, earliest deadline first.
    fn fire(&mut self) {
        loop {
            let now = self.now;
            let next = (0..self.execs.len())
                .filter_map(|i| Some((self.execs[i].deadline()?, self.execs[i].seq, i)))
                .filter(|&(d, _, _)| d <= now)
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some((_, _, i)) = next else { break };
            self.fail_attempt(i, "TIMEOUT", "TimeoutError", None, true);
        }
        self.promote();
    }

    /// Waiting executions whose `runAt` has come are made ready.
    fn promote(&mut self) {
        let now = self.now;
        for e in &mut self.execs {
            if e.waiting && e.run_at.is_some_and(|at| at <= now) {
                e.waiting = false;
            }
        }
    }

    fn settle(&mut self, call: Call, ending: Ending) {
        let k = self.calls.iter().position(|c| *c == call).unwrap();
        self.calls.remove(k);
        let i = self.at(call.seq);
        let e = &self.execs[i];
        if e.status != Status::Running || e.attempt != call.attempt {
            return; // late, or an earlier attempt: only the slot is freed
        }
        match ending {
            Ending::Ok => {
                let result = json!({ "seq": call.seq, "attempt": call.attempt });
                self.finish(i, Status::Completed, MOutcome::Completed(result));
            }
            Ending::Error => {
                self.fail_attempt(i, "HANDLER_ERROR", "Error", Some(message(call)), true)
            }
            Ending::NotRetryable => {
                self.fail_attempt(i, "HANDLER_ERROR", "Error", Some(message(call)), false)
            }
            Ending::InvalidResult => self.fail_attempt(
                i,
                "INVALID_RESULT",
                "TypeError",
                Some("not json".into()),
                true,
            ),
        }
    }

    fn progress(&mut self, call: Call, current: f64) {
        let i = self.at(call.seq);
        let now = self.now;
        let e = &mut self.execs[i];
        if e.status == Status::Running && e.attempt == call.attempt {
            e.progress = Some((current, now));
            e.updated_at = now;
            self.emit(EventKind::Progress, i);
        }
    }

    fn cancel(&mut self, i: usize) -> bool {
        if self.execs[i].status.is_terminal() {
            return false;
        }
        self.finish(i, Status::Cancelled, MOutcome::Cancelled);
        true
    }

    /// When the one timer must fire: the earliest deadline of a running
    /// attempt or `runAt` of an execution still waiting for it.
    fn wakeup(&self) -> Option<f64> {
        self.execs
            .iter()
            .filter_map(|e| e.deadline().or(e.run_at.filter(|_| e.waiting)))
            .reduce(f64::min)
    }

    fn counts(&self) -> [usize; 6] {
        let mut c = [0usize; 6];
        for e in &self.execs {
            c[e.status.index()] += 1;
        }
        c[5] = self.execs.len();
        c
    }
}

fn message(call: Call) -> String {
    format!("attempt {} of {} failed", call.attempt, call.seq)
}

// ------------------------------------------------------------------ the real one

fn new_pair(concurrency: usize) -> (Manager, Model, ManualClock, Rc<Cell<u64>>) {
    let clock = ManualClock::default();
    clock.set(1000.0);
    let mut m = Manager::new(
        Options {
            concurrency,
            ..Options::default()
        },
        Box::new(clock.clone()),
        Box::new(SequentialIds::default()),
    );
    let drawn = Rc::new(Cell::new(0));
    m.set_random(Box::new(Draws(drawn.clone())));
    m.register("plain", None).unwrap();
    m.register_with("retrying", None, Some(target_policy()))
        .unwrap();
    m.set_record_events(true);
    let model = Model {
        execs: Vec::new(),
        calls: Vec::new(),
        concurrency,
        now: 1000.0,
        draws: 0,
        events: Vec::new(),
        starts: Vec::new(),
    };
    (m, model, clock, drawn)
}

/// JSON equality with numbers compared as f64 (to within rounding), and an
/// expected `message` of `null` matching any string.
fn approx(expected: &Value, actual: &Value) -> bool {
    support::approx_within(expected, actual, 1e-9, 1.0)
}

/// What a record counts against the budget, recomputed from its parts.
fn bytes_of(r: &Record) -> u64 {
    let message = r
        .progress()
        .and_then(|p| p.message.as_deref())
        .map_or(0, units);
    Record::bytes_of(r.id(), r.target_id(), r.kind(), r.inputs(), r.config())
        + 2 * message
        + r.outcome().bytes()
}

fn step(
    m: &mut Manager,
    model: &mut Model,
    clock: &ManualClock,
    drawn: &Cell<u64>,
    op: &Op,
) -> Result<(), TestCaseError> {
    match op {
        Op::Create {
            priority,
            delay,
            retry,
            timeout,
            target,
        } => {
            let (delay_ms, run_at) = match *delay {
                Delay::None => (None, None),
                Delay::Ms(ms) => (Some(ms), None),
                Delay::At(offset) => (None, Some(model.now + offset)),
            };
            let seq = m
                .create(NewExecution {
                    target_id: TARGETS[*target].into(),
                    config: timeout.map(|t| json!({ "timeoutMs": t })),
                    priority: *priority,
                    delay_ms,
                    run_at,
                    retry: *retry,
                    ..NewExecution::default()
                })
                .map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            model.create(seq, op);
        }
        Op::Advance(ms) => {
            model.now += ms;
            clock.set(model.now);
        }
        Op::Fire => {
            model.fire();
            m.expire(model.now);
        }
        Op::NextStart => {
            let want = model.next_start();
            let got = m.next_start();
            prop_assert_eq!(
                got.as_ref().map(|s| (s.seq, s.attempt)),
                want.map(|seq| (seq, model.execs[model.at(seq)].attempt)),
                "start order (starts so far {:?})",
                model.starts
            );
        }
        Op::Settle { call, ending } => {
            if model.calls.is_empty() {
                return Ok(());
            }
            let call = model.calls[call % model.calls.len()];
            model.settle(call, *ending);
            let (outcome, retryable) = match ending {
                Ending::Ok => (
                    Ok(json!({ "seq": call.seq, "attempt": call.attempt })),
                    true,
                ),
                Ending::Error => (
                    Err(Failure::new("HANDLER_ERROR", "Error", message(call))),
                    true,
                ),
                Ending::NotRetryable => (
                    Err(Failure::new("HANDLER_ERROR", "Error", message(call))),
                    false,
                ),
                Ending::InvalidResult => (
                    Err(Failure::new("INVALID_RESULT", "TypeError", "not json")),
                    true,
                ),
            };
            m.settle_attempt(call.seq, call.attempt, outcome, retryable);
        }
        Op::Progress { call, current } => {
            if model.calls.is_empty() {
                return Ok(());
            }
            let call = model.calls[call % model.calls.len()];
            model.progress(call, *current);
            m.attempt_progress(call.seq, call.attempt, *current, None, None)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        Op::Cancel(k) => {
            if model.execs.is_empty() {
                return Ok(());
            }
            let i = k % model.execs.len();
            let id = model.execs[i].id.clone();
            let ok = model.cancel(i);
            let got = m.cancel(&id, None);
            prop_assert_eq!(got.is_ok(), ok, "cancel {} ({:?})", id, got);
            if let Err(e) = got {
                prop_assert_eq!(e.code(), "INVALID_TRANSITION");
            }
        }
    }

    // events, in order, with their snapshots
    let events = m.drain_events();
    let want = std::mem::take(&mut model.events);
    prop_assert_eq!(events.len(), want.len(), "events of {:?}: {:?}", op, events);
    for (got, (kind, seq, snap)) in events.iter().zip(&want) {
        prop_assert_eq!(got.kind, *kind, "{:?}", op);
        prop_assert_eq!(got.seq, *seq);
        let v: Value = serde_json::from_str(&got.snapshot).unwrap();
        prop_assert!(
            approx(snap, &v),
            "{op:?} {kind:?} event\nexpected {snap}\n     got {v}"
        );
    }
    m.take_finished();

    // every snapshot
    for e in &model.execs {
        let got: Value = serde_json::from_str(&m.status_json(&e.id).unwrap()).unwrap();
        let want = e.snapshot();
        prop_assert!(
            approx(&want, &got),
            "{} after {op:?}\nexpected {want}\n     got {got}",
            e.id
        );
    }

    // counts, slots, the queue, the timer, the random draws
    prop_assert_eq!(support::counts(m), model.counts());
    prop_assert_eq!(m.in_flight(), model.calls.len());
    let (ready, waiting) = m.queued();
    let queued = model.execs.iter().filter(|e| e.queued).count();
    let model_waiting = model.execs.iter().filter(|e| e.waiting).count();
    prop_assert_eq!(
        (ready, waiting),
        (queued - model_waiting, model_waiting),
        "queued after {:?}",
        op
    );
    prop_assert_eq!(m.has_queued(), ready > 0);
    let wake = m.next_wakeup();
    let want_wake = model.wakeup();
    prop_assert!(
        match (wake, want_wake) {
            (None, None) => true,
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            _ => false,
        },
        "wakeup after {:?}: {:?} vs model {:?}",
        op,
        wake,
        want_wake
    );
    prop_assert_eq!(drawn.get(), model.draws, "random draws");

    // the budget's bookkeeping
    let (held, active) = m.held_bytes();
    let mut want_held = 0;
    let mut want_active = 0;
    for e in &model.execs {
        let r = m.record(e.seq).unwrap();
        let b = bytes_of(r);
        prop_assert_eq!(r.bytes(), b, "bytes of {}", e.id);
        want_held += b;
        if !e.status.is_terminal() {
            want_active += b;
        }
        if let Outcome::Failed(f) = r.outcome() {
            prop_assert!(e.status == Status::Failed || e.status == Status::Pending);
            prop_assert!(!f.code.is_empty());
        }
    }
    prop_assert_eq!((held, active), (want_held, want_active));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every step agrees with the model (see the module docs).
    #[test]
    fn scheduling_agrees_with_the_model(
        concurrency in prop_oneof![Just(1usize), Just(2), Just(3), Just(usize::MAX)],
        ops in prop::collection::vec(op(), 0..80),
    ) {
        let (mut m, mut model, clock, drawn) = new_pair(concurrency);
        for op in &ops {
            step(&mut m, &mut model, &clock, &drawn, op)?;
        }
    }
}

// ------------------------------------------------------------------ examples

/// A manager at time 1000 with the `plain` and `retrying` targets.
fn manager(concurrency: usize) -> (Manager, ManualClock) {
    let (m, _, clock, _) = new_pair(concurrency);
    (m, clock)
}

fn snap(m: &Manager, seq: u64) -> Value {
    serde_json::from_str(&m.snapshot(seq).unwrap()).unwrap()
}

#[test]
fn without_priorities_delays_or_retries_it_is_fifo() {
    let (mut m, clock) = manager(1);
    let seqs: Vec<u64> = (0..5)
        .map(|i| {
            clock.set(1000.0 - f64::from(i)); // even a clock that goes back keeps FIFO
            m.create(NewExecution {
                target_id: "plain".into(),
                ..NewExecution::default()
            })
            .unwrap()
        })
        .collect();
    let mut started = Vec::new();
    while let Some(s) = m.next_start() {
        started.push(s.seq);
        m.settle_attempt(s.seq, s.attempt, Ok(Value::Null), true);
    }
    assert_eq!(started, seqs);
}

#[test]
fn a_retry_waits_pending_with_the_failure_then_runs_again() {
    let (mut m, clock) = manager(usize::MAX);
    let seq = m
        .create(NewExecution {
            target_id: "plain".into(),
            retry: Some(Retry {
                attempts: 2,
                backoff: Backoff {
                    delay_ms: 100.0,
                    ..Backoff::default()
                },
            }),
            ..NewExecution::default()
        })
        .unwrap();
    let s = m.next_start().unwrap();
    m.attempt_progress(seq, 1, 3.0, None, Some("m".into()))
        .unwrap();
    clock.set(1010.0);
    m.settle_attempt(
        seq,
        s.attempt,
        Err(Failure::new("HANDLER_ERROR", "Error", "no")),
        true,
    );
    let x = snap(&m, seq);
    assert_eq!(x["status"], "pending");
    assert_eq!(x["error"]["message"], "no");
    assert_eq!(x["progress"], Value::Null);
    assert_eq!(x["runAt"], 1110);
    assert_eq!(x["startedAt"], 1000);
    assert_eq!(x["finishedAt"], Value::Null);
    assert_eq!(m.next_wakeup(), Some(1110.0));
    assert!(m.next_start().is_none(), "not before runAt");
    clock.set(1109.9);
    assert!(m.next_start().is_none(), "not before runAt");
    clock.set(1110.0);
    let s = m.next_start().unwrap();
    assert_eq!(s.attempt, 2);
    let x = snap(&m, seq);
    assert_eq!(
        (x["attempt"].clone(), x["runAt"].clone()),
        (json!(2), Value::Null)
    );
    assert!(
        x.get("error").is_none(),
        "the error is gone once it starts again"
    );
    // The last attempt's failure is final.
    m.settle_attempt(
        seq,
        2,
        Err(Failure::new("HANDLER_ERROR", "Error", "again")),
        true,
    );
    assert_eq!(snap(&m, seq)["status"], "failed");
    // An outcome of the first attempt, late, changes nothing.
    m.settle_attempt(seq, 1, Ok(json!(1)), true);
    assert_eq!(snap(&m, seq)["error"]["message"], "again");
}

#[test]
fn track_takes_no_scheduling_fields() {
    let (mut m, _) = manager(1);
    for (request, field) in [
        (
            NewExecution {
                priority: Some(1),
                ..NewExecution::default()
            },
            "request.priority",
        ),
        (
            NewExecution {
                delay_ms: Some(1.0),
                ..NewExecution::default()
            },
            "request.delayMs",
        ),
        (
            NewExecution {
                run_at: Some(1.0),
                ..NewExecution::default()
            },
            "request.runAt",
        ),
        (
            NewExecution {
                retry: Some(target_policy()),
                ..NewExecution::default()
            },
            "request.retry",
        ),
    ] {
        let e = m
            .track(NewExecution {
                target_id: "x".into(),
                ..request
            })
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains(field), "{e}");
    }
    assert_eq!(m.counts().total, 0);
}

#[test]
fn run_at_stays_finite() {
    let (mut m, clock) = manager(1);
    clock.set(1e300);
    let seq = m
        .create(NewExecution {
            target_id: "plain".into(),
            delay_ms: Some(f64::MAX),
            ..NewExecution::default()
        })
        .unwrap();
    assert_eq!(snap(&m, seq)["runAt"], json!(f64::MAX));
    assert_eq!(m.next_wakeup(), Some(f64::MAX));
}

#[test]
fn delay_and_run_at_together_are_refused() {
    let (mut m, _) = manager(1);
    let e = m
        .create(NewExecution {
            target_id: "plain".into(),
            delay_ms: Some(1.0),
            run_at: Some(5.0),
            ..NewExecution::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("request.runAt"), "{e}");
    let e = m
        .create(NewExecution {
            target_id: "plain".into(),
            priority: Some(1 << 53),
            ..NewExecution::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("request.priority"), "{e}");
    let e = m
        .create(NewExecution {
            target_id: "plain".into(),
            delay_ms: Some(f64::NAN),
            ..NewExecution::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument `request.delayMs`: must be a finite number ≥ 0, got NaN"
    );
}
