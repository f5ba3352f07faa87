#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the core `Manager` against a small model written here:
//! random operation sequences (on a small pool of ids, so errors happen too)
//! must give the same results, errors, snapshots, events and counts as the
//! model; terminal executions never change; list filtering and page and
//! cursor paging agree with the model for any page size and order, also with
//! creations and removals between cursor pages; `maxFinished` keeps exactly the
//! last-finished executions; percentages are `min(100, current / total * 100)`.

use std::collections::{HashMap, HashSet, VecDeque};

use execman::core::{
    Driver, EventKind, Failure, ListQuery, Manager, ManualClock, NewExecution, Options, Order,
    SequentialIds, Status,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

#[path = "core_support/mod.rs"]
mod support;

/// Explicit ids; `exec-1`/`exec-2` collide with generated ones on purpose.
const IDS: [&str; 7] = ["a", "b", "c", "d", "exec-1", "exec-2", "zz"];
/// Targets for `track` (none needs a handler).
const TRACK_TARGETS: [&str; 4] = ["t1", "t2", "x1", "x2"];
/// Targets for `create`: `t1` (type `workflow`) and `t2` are registered, `x1` is not.
const CREATE_TARGETS: [&str; 3] = ["t1", "t2", "x1"];
/// Types given in requests (`None`: the default).
const KINDS: [Option<&str>; 4] = [None, Some("task"), Some("workflow"), Some("report")];
/// Types used in list filters.
const FILTER_KINDS: [&str; 4] = ["task", "workflow", "report", "other"];
/// Targets used in list filters.
const FILTER_TARGETS: [&str; 5] = ["t1", "t2", "x1", "x2", "nope"];

// ------------------------------------------------------------------ operations

#[derive(Debug, Clone)]
enum Op {
    Track {
        id: Option<usize>,
        target: usize,
        kind: usize,
    },
    Create {
        id: Option<usize>,
        target: usize,
        kind: usize,
    },
    NextStart,
    Settle {
        slot: usize,
        ok: bool,
    },
    HandlerProgress {
        slot: usize,
        current: f64,
        total: Option<f64>,
    },
    Start(usize),
    Progress {
        id: usize,
        current: f64,
        total: Option<f64>,
        message: bool,
    },
    Complete {
        id: usize,
        with_result: bool,
    },
    Fail(usize),
    Cancel {
        id: usize,
        reason: bool,
    },
    Remove(usize),
    Clear,
    TimeOut(usize),
}

fn current() -> impl Strategy<Value = f64> {
    prop_oneof![(0u32..200).prop_map(f64::from), 0.0..500.0f64]
}

fn total() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(prop_oneof![
        (1u32..100).prop_map(f64::from),
        0.001..300.0f64
    ])
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..IDS.len();
    let opt_id = prop::option::weighted(0.7, 0..IDS.len());
    prop_oneof![
        5 => (opt_id.clone(), 0..TRACK_TARGETS.len(), 0..KINDS.len())
            .prop_map(|(id, target, kind)| Op::Track { id, target, kind }),
        5 => (opt_id, 0..CREATE_TARGETS.len(), 0..KINDS.len())
            .prop_map(|(id, target, kind)| Op::Create { id, target, kind }),
        4 => Just(Op::NextStart),
        3 => (0..4usize, any::<bool>()).prop_map(|(slot, ok)| Op::Settle { slot, ok }),
        1 => (0..4usize, current(), total())
            .prop_map(|(slot, current, total)| Op::HandlerProgress { slot, current, total }),
        4 => id.clone().prop_map(Op::Start),
        2 => (id.clone(), current(), total(), any::<bool>())
            .prop_map(|(id, current, total, message)| Op::Progress { id, current, total, message }),
        3 => (id.clone(), any::<bool>()).prop_map(|(id, with_result)| Op::Complete { id, with_result }),
        2 => id.clone().prop_map(Op::Fail),
        3 => (id.clone(), any::<bool>()).prop_map(|(id, reason)| Op::Cancel { id, reason }),
        2 => id.clone().prop_map(Op::Remove),
        1 => Just(Op::Clear),
        1 => id.prop_map(Op::TimeOut),
    ]
}

/// `concurrency` and `maxFinished`, small enough that limits and eviction happen.
fn options() -> impl Strategy<Value = Options> {
    (
        prop_oneof![Just(1usize), Just(2), Just(3), Just(usize::MAX)],
        prop_oneof![Just(1usize), Just(2), Just(3), Just(5), Just(10_000)],
    )
        .prop_map(|(concurrency, max_finished)| Options {
            concurrency,
            max_finished,
            ..Options::default()
        })
}

// ------------------------------------------------------------------ the model

#[derive(Debug, Clone)]
struct MProgress {
    current: f64,
    total: Option<f64>,
    message: Option<String>,
    updated_at: f64,
}

#[derive(Debug, Clone)]
enum MOutcome {
    Open,
    Completed(Value),
    /// code, name, message (`None`: not checked, e.g. the TIMEOUT text).
    Failed(String, String, Option<String>),
    Cancelled(Option<String>),
}

#[derive(Debug, Clone)]
struct MExec {
    seq: u64,
    id: String,
    target: String,
    kind: String,
    status: Status,
    driver: Driver,
    progress: Option<MProgress>,
    outcome: MOutcome,
    created_at: f64,
    started_at: Option<f64>,
    finished_at: Option<f64>,
    updated_at: f64,
}

/// What an operation returned, in a comparable form.
#[derive(Debug, Clone)]
enum Out {
    Unit,
    Seq(u64),
    Started(Option<(u64, String)>),
    Snapshot(Value),
    Bool(bool),
    Count(usize),
    Err(&'static str),
}

struct Model {
    execs: Vec<MExec>,
    queue: VecDeque<u64>,
    in_flight: Vec<u64>,
    options: Options,
    targets: HashMap<&'static str, &'static str>,
    next_seq: u64,
    generated: u64,
    finish_order: Vec<u64>,
    finished_log: Vec<u64>,
    events: Vec<(EventKind, u64, Value)>,
    now: f64,
}

impl Model {
    fn new(options: Options) -> Model {
        Model {
            execs: Vec::new(),
            queue: VecDeque::new(),
            in_flight: Vec::new(),
            options,
            targets: HashMap::from([("t1", "workflow"), ("t2", "task")]),
            next_seq: 0,
            generated: 0,
            finish_order: Vec::new(),
            finished_log: Vec::new(),
            events: Vec::new(),
            now: 0.0,
        }
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.execs.iter().position(|e| e.id == id)
    }

    fn at(&self, seq: u64) -> Option<usize> {
        self.execs.iter().position(|e| e.seq == seq)
    }

    fn snapshot(e: &MExec) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(e.id));
        o.insert("targetId".into(), json!(e.target));
        o.insert("type".into(), json!(e.kind));
        o.insert("status".into(), json!(e.status.as_str()));
        o.insert("inputs".into(), json!({}));
        o.insert("config".into(), json!({}));
        o.insert(
            "progress".into(),
            match &e.progress {
                None => Value::Null,
                Some(p) => json!({
                    "current": p.current,
                    "total": p.total,
                    "message": p.message,
                    "percentage": p.total.map(|t| (p.current / t * 100.0).min(100.0)),
                    "updatedAt": p.updated_at,
                }),
            },
        );
        match &e.outcome {
            MOutcome::Open | MOutcome::Cancelled(None) => {}
            MOutcome::Completed(v) => {
                o.insert("result".into(), v.clone());
            }
            MOutcome::Failed(code, name, message) => {
                let mut err = Map::new();
                err.insert("code".into(), json!(code));
                err.insert("name".into(), json!(name));
                // `null` marks "any message" for `approx`.
                err.insert("message".into(), json!(message));
                o.insert("error".into(), Value::Object(err));
            }
            MOutcome::Cancelled(Some(r)) => {
                o.insert("cancelReason".into(), json!(r));
            }
        }
        o.insert("createdAt".into(), json!(e.created_at));
        o.insert("startedAt".into(), json!(e.started_at));
        o.insert("finishedAt".into(), json!(e.finished_at));
        o.insert("updatedAt".into(), json!(e.updated_at));
        // No priority, delay or retry here (tests/core_scheduling.rs has them).
        o.insert("priority".into(), json!(0));
        o.insert("attempt".into(), json!(u32::from(e.started_at.is_some())));
        o.insert("maxAttempts".into(), json!(1));
        o.insert("runAt".into(), Value::Null);
        Value::Object(o)
    }

    fn emit(&mut self, kind: EventKind, i: usize) {
        let e = &self.execs[i];
        self.events.push((kind, e.seq, Model::snapshot(e)));
    }

    fn insert(
        &mut self,
        id: Option<usize>,
        target: &str,
        kind: Option<&str>,
        driver: Driver,
    ) -> Out {
        let default_kind = match driver {
            Driver::External => "task",
            Driver::Handler => match self.targets.get(target) {
                Some(k) => *k,
                None => return Out::Err("UNKNOWN_TARGET"),
            },
            // This model registers no remote target (tests/core_remote.rs covers them).
            Driver::Remote => return Out::Err("UNKNOWN_TARGET"),
        };
        let id = match id {
            Some(i) => {
                if self.find(IDS[i]).is_some() {
                    return Out::Err("ALREADY_EXISTS");
                }
                IDS[i].to_owned()
            }
            None => loop {
                self.generated += 1;
                let id = format!("exec-{}", self.generated);
                if self.find(&id).is_none() {
                    break id;
                }
            },
        };
        self.next_seq += 1;
        let seq = self.next_seq;
        self.execs.push(MExec {
            seq,
            id,
            target: target.to_owned(),
            kind: kind.unwrap_or(default_kind).to_owned(),
            status: Status::Pending,
            driver,
            progress: None,
            outcome: MOutcome::Open,
            created_at: self.now,
            started_at: None,
            finished_at: None,
            updated_at: self.now,
        });
        if driver == Driver::Handler {
            self.queue.push_back(seq);
        }
        let i = self.execs.len() - 1;
        self.emit(EventKind::Created, i);
        Out::Seq(seq)
    }

    fn run(&mut self, i: usize) {
        let now = self.now;
        let e = &mut self.execs[i];
        e.status = Status::Running;
        e.started_at = Some(now);
        e.updated_at = now;
        self.emit(EventKind::Status, i);
    }

    fn set_progress(
        &mut self,
        i: usize,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) {
        let now = self.now;
        let e = &mut self.execs[i];
        e.progress = Some(MProgress {
            current,
            total,
            message,
            updated_at: now,
        });
        e.updated_at = now;
        self.emit(EventKind::Progress, i);
    }

    fn finish(&mut self, i: usize, status: Status, outcome: MOutcome) {
        let now = self.now;
        let e = &mut self.execs[i];
        e.status = status;
        e.outcome = outcome;
        e.finished_at = Some(now);
        e.updated_at = now;
        if status == Status::Completed {
            if let Some(p) = &mut e.progress {
                if let Some(t) = p.total {
                    p.current = t;
                    p.updated_at = now;
                }
            }
        }
        let seq = e.seq;
        self.finish_order.push(seq);
        self.finished_log.push(seq);
        self.emit(EventKind::Status, i);
        while self.finish_order.len() > self.options.max_finished {
            let oldest = self.finish_order[0];
            self.take_out(oldest);
        }
    }

    fn take_out(&mut self, seq: u64) -> Value {
        let i = self.at(seq).unwrap();
        let e = self.execs.remove(i);
        self.finish_order.retain(|&s| s != seq);
        let snap = Model::snapshot(&e);
        self.events.push((EventKind::Removed, seq, snap.clone()));
        snap
    }

    /// The index of a tracked execution for an external operation.
    fn external(&self, id: &str) -> Result<usize, &'static str> {
        let i = self.find(id).ok_or("NOT_FOUND")?;
        if self.execs[i].driver == Driver::Handler {
            return Err("INVALID_TRANSITION");
        }
        Ok(i)
    }

    fn apply(&mut self, op: &Resolved) -> Out {
        match op {
            Resolved::Track { id, target, kind } => {
                self.insert(*id, TRACK_TARGETS[*target], KINDS[*kind], Driver::External)
            }
            Resolved::Create { id, target, kind } => {
                self.insert(*id, CREATE_TARGETS[*target], KINDS[*kind], Driver::Handler)
            }
            Resolved::NextStart => {
                while self.in_flight.len() < self.options.concurrency {
                    let Some(seq) = self.queue.pop_front() else {
                        break;
                    };
                    let Some(i) = self.at(seq) else { continue };
                    if self.execs[i].status != Status::Pending {
                        continue;
                    }
                    self.in_flight.push(seq);
                    self.run(i);
                    return Out::Started(Some((seq, self.execs[i].id.clone())));
                }
                Out::Started(None)
            }
            Resolved::Settle { seq, ok } => {
                self.in_flight.retain(|s| s != seq);
                if let Some(i) = self.at(*seq) {
                    if self.execs[i].status == Status::Running
                        && self.execs[i].driver == Driver::Handler
                    {
                        if *ok {
                            self.finish(
                                i,
                                Status::Completed,
                                MOutcome::Completed(json!({ "r": seq })),
                            );
                        } else {
                            self.finish(
                                i,
                                Status::Failed,
                                MOutcome::Failed(
                                    "HANDLER_ERROR".into(),
                                    "Error".into(),
                                    Some(format!("boom {seq}")),
                                ),
                            );
                        }
                    }
                }
                Out::Unit
            }
            Resolved::HandlerProgress {
                seq,
                current,
                total,
            } => {
                if let Some(i) = self.at(*seq) {
                    if self.execs[i].status == Status::Running {
                        self.set_progress(i, *current, *total, None);
                    }
                }
                Out::Unit
            }
            Resolved::Start(id) => match self.external(IDS[*id]) {
                Err(c) => Out::Err(c),
                Ok(i) if self.execs[i].status != Status::Pending => Out::Err("INVALID_TRANSITION"),
                Ok(i) => {
                    self.run(i);
                    Out::Seq(self.execs[i].seq)
                }
            },
            Resolved::Progress {
                id,
                current,
                total,
                message,
            } => match self.external(IDS[*id]) {
                Err(c) => Out::Err(c),
                Ok(i) if self.execs[i].status != Status::Running => Out::Err("INVALID_TRANSITION"),
                Ok(i) => {
                    self.set_progress(
                        i,
                        *current,
                        *total,
                        message.then(|| format!("at {current}")),
                    );
                    Out::Unit
                }
            },
            Resolved::Complete { id, with_result } => match self.external(IDS[*id]) {
                Err(c) => Out::Err(c),
                Ok(i) if self.execs[i].status != Status::Running => Out::Err("INVALID_TRANSITION"),
                Ok(i) => {
                    let seq = self.execs[i].seq;
                    let result = if *with_result {
                        json!({ "done": IDS[*id] })
                    } else {
                        Value::Null
                    };
                    self.finish(i, Status::Completed, MOutcome::Completed(result));
                    Out::Seq(seq)
                }
            },
            Resolved::Fail(id) => match self.external(IDS[*id]) {
                Err(c) => Out::Err(c),
                Ok(i) if self.execs[i].status != Status::Running => Out::Err("INVALID_TRANSITION"),
                Ok(i) => {
                    let seq = self.execs[i].seq;
                    self.finish(
                        i,
                        Status::Failed,
                        MOutcome::Failed(
                            "EXTERNAL_ERROR".into(),
                            "Error".into(),
                            Some("external".into()),
                        ),
                    );
                    Out::Seq(seq)
                }
            },
            Resolved::Cancel { id, reason } => match self.find(IDS[*id]) {
                None => Out::Err("NOT_FOUND"),
                Some(i) if self.execs[i].status.is_terminal() => Out::Err("INVALID_TRANSITION"),
                Some(i) => {
                    let seq = self.execs[i].seq;
                    self.finish(
                        i,
                        Status::Cancelled,
                        MOutcome::Cancelled(reason.then(|| "because".into())),
                    );
                    Out::Seq(seq)
                }
            },
            Resolved::Remove(id) => match self.find(IDS[*id]) {
                None => Out::Err("NOT_FOUND"),
                Some(i) if !self.execs[i].status.is_terminal() => Out::Err("INVALID_TRANSITION"),
                Some(i) => {
                    let seq = self.execs[i].seq;
                    Out::Snapshot(self.take_out(seq))
                }
            },
            Resolved::Clear => {
                let order = self.finish_order.clone();
                for seq in &order {
                    self.take_out(*seq);
                }
                Out::Count(order.len())
            }
            Resolved::TimeOut(seq) => match self.at(*seq) {
                Some(i) if self.execs[i].status == Status::Running => {
                    self.finish(
                        i,
                        Status::Failed,
                        MOutcome::Failed("TIMEOUT".into(), "TimeoutError".into(), None),
                    );
                    Out::Bool(true)
                }
                _ => Out::Bool(false),
            },
        }
    }

    fn counts(&self) -> [usize; 6] {
        let mut c = [0usize; 6];
        for e in &self.execs {
            c[e.status.index()] += 1;
        }
        c[5] = self.execs.len();
        c
    }

    fn matches(e: &MExec, q: &ListQuery) -> bool {
        q.statuses.as_ref().is_none_or(|s| s.contains(&e.status))
            && q.types.as_ref().is_none_or(|t| t.contains(&e.kind))
            && q.target_id.as_ref().is_none_or(|t| *t == e.target)
    }

    /// The matching executions in the query's order.
    fn filtered(&self, q: &ListQuery) -> Vec<&MExec> {
        let mut out: Vec<&MExec> = self.execs.iter().filter(|e| Model::matches(e, q)).collect();
        if q.order == Order::Desc {
            out.reverse();
        }
        out
    }
}

/// An operation with its random slot or id resolved against the model.
#[derive(Debug, Clone)]
enum Resolved {
    Track {
        id: Option<usize>,
        target: usize,
        kind: usize,
    },
    Create {
        id: Option<usize>,
        target: usize,
        kind: usize,
    },
    NextStart,
    Settle {
        seq: u64,
        ok: bool,
    },
    HandlerProgress {
        seq: u64,
        current: f64,
        total: Option<f64>,
    },
    Start(usize),
    Progress {
        id: usize,
        current: f64,
        total: Option<f64>,
        message: bool,
    },
    Complete {
        id: usize,
        with_result: bool,
    },
    Fail(usize),
    Cancel {
        id: usize,
        reason: bool,
    },
    Remove(usize),
    Clear,
    TimeOut(u64),
}

fn resolve(model: &Model, op: &Op) -> Option<Resolved> {
    let slot = |s: usize| -> Option<u64> {
        (!model.in_flight.is_empty()).then(|| model.in_flight[s % model.in_flight.len()])
    };
    Some(match *op {
        Op::Track { id, target, kind } => Resolved::Track { id, target, kind },
        Op::Create { id, target, kind } => Resolved::Create { id, target, kind },
        Op::NextStart => Resolved::NextStart,
        Op::Settle { slot: s, ok } => Resolved::Settle { seq: slot(s)?, ok },
        Op::HandlerProgress {
            slot: s,
            current,
            total,
        } => Resolved::HandlerProgress {
            seq: slot(s)?,
            current,
            total,
        },
        Op::Start(id) => Resolved::Start(id),
        Op::Progress {
            id,
            current,
            total,
            message,
        } => Resolved::Progress {
            id,
            current,
            total,
            message,
        },
        Op::Complete { id, with_result } => Resolved::Complete { id, with_result },
        Op::Fail(id) => Resolved::Fail(id),
        Op::Cancel { id, reason } => Resolved::Cancel { id, reason },
        Op::Remove(id) => Resolved::Remove(id),
        Op::Clear => Resolved::Clear,
        // an unknown id times out a sequence that was never used
        Op::TimeOut(id) => {
            Resolved::TimeOut(model.find(IDS[id]).map_or(1 << 40, |i| model.execs[i].seq))
        }
    })
}

fn apply_real(m: &mut Manager, op: &Resolved) -> Out {
    fn res<T>(r: Result<T, execman::core::Error>, f: impl FnOnce(T) -> Out) -> Out {
        match r {
            Ok(v) => f(v),
            Err(e) => Out::Err(e.code()),
        }
    }
    let request = |id: Option<usize>, target: &str, kind: usize| NewExecution {
        id: id.map(|i| IDS[i].to_owned()),
        target_id: target.to_owned(),
        kind: KINDS[kind].map(str::to_owned),
        inputs: None,
        config: None,
        ..NewExecution::default()
    };
    match op {
        Resolved::Track { id, target, kind } => res(
            m.track(request(*id, TRACK_TARGETS[*target], *kind)),
            Out::Seq,
        ),
        Resolved::Create { id, target, kind } => res(
            m.create(request(*id, CREATE_TARGETS[*target], *kind)),
            Out::Seq,
        ),
        Resolved::NextStart => Out::Started(m.next_start().map(|s| (s.seq, s.id.to_string()))),
        Resolved::Settle { seq, ok } => {
            let outcome = if *ok {
                Ok(json!({ "r": seq }))
            } else {
                Err(Failure::new(
                    "HANDLER_ERROR",
                    "Error",
                    format!("boom {seq}"),
                ))
            };
            m.settle(*seq, outcome);
            Out::Unit
        }
        Resolved::HandlerProgress {
            seq,
            current,
            total,
        } => res(m.handler_progress(*seq, *current, *total, None), |()| {
            Out::Unit
        }),
        Resolved::Start(id) => res(m.start(IDS[*id]), Out::Seq),
        Resolved::Progress {
            id,
            current,
            total,
            message,
        } => res(
            m.report_progress(
                IDS[*id],
                *current,
                *total,
                message.then(|| format!("at {current}")),
            ),
            |()| Out::Unit,
        ),
        Resolved::Complete { id, with_result } => {
            let result = with_result.then(|| json!({ "done": IDS[*id] }));
            res(m.complete(IDS[*id], result), Out::Seq)
        }
        Resolved::Fail(id) => res(
            m.fail(
                IDS[*id],
                Failure::new("EXTERNAL_ERROR", "Error", "external"),
            ),
            Out::Seq,
        ),
        Resolved::Cancel { id, reason } => res(
            m.cancel(IDS[*id], reason.then(|| "because".into())),
            Out::Seq,
        ),
        Resolved::Remove(id) => res(m.remove(IDS[*id]), |s| {
            Out::Snapshot(serde_json::from_str(&s).unwrap())
        }),
        Resolved::Clear => Out::Count(m.clear()),
        Resolved::TimeOut(seq) => Out::Bool(m.time_out(*seq)),
    }
}

/// JSON equality with numbers compared as f64 (to within parsing error),
/// and an expected `error.message` of `null` matching any message.
fn approx(expected: &Value, actual: &Value) -> bool {
    support::approx_within(expected, actual, 1e-12, 0.0)
}

fn same_out(expected: &Out, actual: &Out) -> bool {
    match (expected, actual) {
        (Out::Unit, Out::Unit) => true,
        (Out::Seq(a), Out::Seq(b)) => a == b,
        (Out::Started(a), Out::Started(b)) => a == b,
        (Out::Snapshot(a), Out::Snapshot(b)) => approx(a, b),
        (Out::Bool(a), Out::Bool(b)) => a == b,
        (Out::Count(a), Out::Count(b)) => a == b,
        (Out::Err(a), Out::Err(b)) => a == b,
        _ => false,
    }
}

/// A manager (events recorded) and its model, with t1/t2 registered.
fn pair(options: Options) -> (Manager, Model, ManualClock) {
    let clock = ManualClock::default();
    let mut m = Manager::new(
        options,
        Box::new(clock.clone()),
        Box::new(SequentialIds::default()),
    );
    m.register("t1", Some("workflow")).unwrap();
    m.register("t2", None).unwrap();
    m.set_record_events(true);
    (m, Model::new(options), clock)
}

/// Applies one operation to both and checks result, events and counts; with
/// `deep`, also every held snapshot and that terminal ones did not change.
fn step(
    m: &mut Manager,
    model: &mut Model,
    clock: &ManualClock,
    op: &Op,
    dt: u8,
    deep: bool,
) -> Result<(), TestCaseError> {
    model.now += f64::from(dt);
    clock.set(model.now);
    let Some(resolved) = resolve(model, op) else {
        return Ok(());
    };
    let terminal_before: Vec<(String, String)> = if deep {
        model
            .execs
            .iter()
            .filter(|e| e.status.is_terminal())
            .map(|e| (e.id.clone(), m.status_json(&e.id).unwrap()))
            .collect()
    } else {
        Vec::new()
    };

    let expected = model.apply(&resolved);
    let actual = apply_real(m, &resolved);
    prop_assert!(
        same_out(&expected, &actual),
        "{resolved:?}: expected {expected:?}, got {actual:?}"
    );

    // events, in order, with their snapshots
    let events = m.drain_events();
    let expected_events = std::mem::take(&mut model.events);
    prop_assert_eq!(
        events.len(),
        expected_events.len(),
        "events of {:?}: {:?}",
        resolved,
        events
    );
    for (got, (kind, seq, snap)) in events.iter().zip(&expected_events) {
        prop_assert_eq!(got.kind, *kind, "{:?}", resolved);
        prop_assert_eq!(got.seq, *seq);
        let v: Value = serde_json::from_str(&got.snapshot).unwrap();
        prop_assert!(
            approx(snap, &v),
            "{resolved:?} {kind:?} event\nexpected {snap}\n     got {v}"
        );
    }
    prop_assert_eq!(m.take_finished(), std::mem::take(&mut model.finished_log));

    // counts equal a recount
    prop_assert_eq!(support::counts(m), model.counts(), "after {:?}", resolved);
    let cj: Value = serde_json::from_str(&m.counts_json()).unwrap();
    let mc = model.counts();
    prop_assert_eq!(
        cj,
        json!({"pending": mc[0], "running": mc[1], "completed": mc[2], "failed": mc[3], "cancelled": mc[4], "total": mc[5]})
    );
    prop_assert_eq!(m.in_flight(), model.in_flight.len());
    // the model's queue keeps cancelled entries (skipped when popped); the manager's does not
    let queued = model.queue.iter().any(|&seq| {
        model
            .at(seq)
            .is_some_and(|i| model.execs[i].status == Status::Pending)
    });
    prop_assert_eq!(m.has_queued(), queued);

    if deep {
        for (id, before) in terminal_before {
            if let Some(now) = m.status_json(&id) {
                prop_assert_eq!(&now, &before, "terminal {} changed by {:?}", id, resolved);
            } else {
                prop_assert!(model.find(&id).is_none(), "{id} vanished");
            }
        }
        for e in &model.execs {
            let got = m.status_json(&e.id);
            prop_assert!(got.is_some(), "{} missing after {:?}", e.id, resolved);
            let got: Value = serde_json::from_str(&got.unwrap()).unwrap();
            let want = Model::snapshot(e);
            prop_assert!(
                approx(&want, &got),
                "{} after {resolved:?}\nexpected {want}\n     got {got}",
                e.id
            );
            prop_assert_eq!(m.seq_of(&e.id), Some(e.seq));
            let progress = m
                .progress_json(&e.id)
                .unwrap()
                .map(|p| serde_json::from_str::<Value>(&p).unwrap());
            prop_assert_eq!(progress.unwrap_or(Value::Null), got["progress"].clone());
        }
        for id in IDS {
            if model.find(id).is_none() {
                prop_assert_eq!(m.status_json(id), None);
                prop_assert_eq!(m.progress_json(id), None);
            }
        }
    }
    Ok(())
}

fn ops(max: usize) -> impl Strategy<Value = Vec<(Op, u8)>> {
    prop::collection::vec((op(), 0u8..3), 0..max)
}

// ------------------------------------------------------------------ list queries

fn query() -> impl Strategy<Value = ListQuery> {
    (
        prop::option::of(prop::collection::vec(0..5usize, 0..4)),
        prop::option::of(prop::collection::vec(0..FILTER_KINDS.len(), 0..3)),
        prop::option::weighted(0.4, 0..FILTER_TARGETS.len()),
        any::<bool>(),
        prop::option::weighted(
            0.9,
            prop_oneof![4 => 1..=7usize, 1 => Just(10usize), 1 => Just(20usize), 1 => Just(1000usize)],
        ),
    )
        .prop_map(|(statuses, types, target, asc, page_size)| ListQuery {
            statuses: statuses.map(|s| s.into_iter().map(|i| Status::ALL[i]).collect()),
            types: types.map(|t| t.into_iter().map(|i| FILTER_KINDS[i].to_owned()).collect()),
            target_id: target.map(|i| FILTER_TARGETS[i].to_owned()),
            order: if asc { Order::Asc } else { Order::Desc },
            page_size,
            page: None,
            cursor: None,
        })
}

fn page(m: &Manager, q: &ListQuery) -> Result<Value, TestCaseError> {
    let text = m
        .list_json(q)
        .map_err(|e| TestCaseError::fail(format!("{q:?}: {e}")))?;
    Ok(serde_json::from_str(&text).unwrap())
}

fn seqs_of(m: &Manager, page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| m.seq_of(e["id"].as_str().unwrap()).unwrap())
        .collect()
}

/// Checks the numbers of a page against the expected total and page size.
fn check_page_numbers(
    p: &Value,
    total: usize,
    size: usize,
    has_next: bool,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(p["total"].as_u64(), Some(total as u64), "{}", p);
    prop_assert_eq!(p["pageSize"].as_u64(), Some(size as u64));
    prop_assert_eq!(p["totalPages"].as_u64(), Some(total.div_ceil(size) as u64));
    prop_assert_eq!(p["hasNext"].as_bool(), Some(has_next), "{}", p);
    prop_assert_eq!(p["nextCursor"].is_string(), has_next, "{}", p);
    if !has_next {
        prop_assert!(p["nextCursor"].is_null());
    }
    Ok(())
}

/// Page paging and cursor paging both walk exactly the model's filtered list.
fn check_query(m: &Manager, model: &Model, q: &ListQuery) -> Result<(), TestCaseError> {
    let expected: Vec<&MExec> = model.filtered(q);
    let want: Vec<u64> = expected.iter().map(|e| e.seq).collect();
    let size = q.page_size.unwrap_or(20);
    let total = want.len();
    let pages = total.div_ceil(size);

    // page paging, one page past the end included
    let mut walked = Vec::new();
    for n in 1..=pages as u64 + 1 {
        let pq = ListQuery {
            page: Some(n),
            ..q.clone()
        };
        let p = page(m, &pq)?;
        let got = seqs_of(m, &p);
        let from = ((n as usize - 1) * size).min(total);
        let to = (from + size).min(total);
        prop_assert_eq!(&got, &want[from..to].to_vec(), "page {} of {:?}", n, q);
        prop_assert_eq!(p["page"].as_u64(), Some(n));
        check_page_numbers(&p, total, size, to < total)?;
        for (item, e) in p["items"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&expected[from..to])
        {
            let want_snap = Model::snapshot(e);
            prop_assert!(
                approx(&want_snap, item),
                "expected {want_snap}\n     got {item}"
            );
        }
        walked.extend(got);
    }
    prop_assert_eq!(&walked, &want);

    // cursor paging
    let mut walked = Vec::new();
    let mut p = page(m, q)?;
    prop_assert_eq!(p["page"].as_u64(), Some(1));
    loop {
        let got = seqs_of(m, &p);
        let from = walked.len();
        let to = (from + size).min(total);
        prop_assert_eq!(
            &got,
            &want[from..to].to_vec(),
            "cursor page after {} of {:?}",
            from,
            q
        );
        check_page_numbers(&p, total, size, to < total)?;
        walked.extend(got);
        let Some(cursor) = p["nextCursor"].as_str() else {
            break;
        };
        let cq = ListQuery {
            cursor: Some(cursor.to_owned()),
            ..q.clone()
        };
        p = page(m, &cq)?;
        prop_assert!(p["page"].is_null());
    }
    prop_assert_eq!(&walked, &want);
    Ok(())
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Every operation agrees with the model: results, error codes, events,
    /// snapshots and counts; terminal executions never change.
    #[test]
    fn operations_agree_with_the_model(options in options(), ops in ops(60)) {
        let (mut m, mut model, clock) = pair(options);
        for (op, dt) in &ops {
            step(&mut m, &mut model, &clock, op, *dt, true)?;
        }
    }

    /// list filtering and both pagings return exactly the model's filtered,
    /// ordered set for any page size and order.
    #[test]
    fn list_pages_and_cursors_walk_the_filtered_set(
        options in options(),
        ops in ops(80),
        queries in prop::collection::vec(query(), 1..6),
    ) {
        let (mut m, mut model, clock) = pair(options);
        for (op, dt) in &ops {
            step(&mut m, &mut model, &clock, op, *dt, false)?;
        }
        for q in &queries {
            check_query(&m, &model, q)?;
        }
    }

    /// A cursor walk with creations, removals and transitions between pages
    /// never skips an execution that matched throughout and was created
    /// before the walk, and never shows one twice; each page starts strictly
    /// after the last item returned.
    #[test]
    fn cursor_walks_survive_changes_between_pages(
        options in options(),
        setup in ops(60),
        q in query(),
        gaps in prop::collection::vec(ops(6), 0..12),
    ) {
        let (mut m, mut model, clock) = pair(options);
        for (op, dt) in &setup {
            step(&mut m, &mut model, &clock, op, *dt, false)?;
        }
        let size = q.page_size.unwrap_or(20);
        let before_walk = model.next_seq;
        // executions created before the walk that have matched so far
        let mut must_see: HashSet<u64> = model.filtered(&q).iter().map(|e| e.seq).collect();
        let mut seen: Vec<u64> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut gaps = gaps.into_iter();
        loop {
            let pq = ListQuery { cursor: cursor.clone(), ..q.clone() };
            let p = page(&m, &pq)?;
            let got = seqs_of(&m, &p);
            // exactly the model's matching items strictly after the last one returned
            let rest: Vec<u64> = model
                .filtered(&q)
                .iter()
                .map(|e| e.seq)
                .filter(|&s| match (seen.last(), q.order) {
                    (None, _) => true,
                    (Some(&last), Order::Asc) => s > last,
                    (Some(&last), Order::Desc) => s < last,
                })
                .collect();
            let to = rest.len().min(size);
            prop_assert_eq!(&got, &rest[..to].to_vec(), "page after {:?} of {:?}", seen.last(), q);
            check_page_numbers(&p, model.filtered(&q).len(), size, to < rest.len())?;
            for s in &got {
                prop_assert!(!seen.contains(s), "{s} shown twice");
            }
            seen.extend(&got);
            let Some(next) = p["nextCursor"].as_str() else { break };
            cursor = Some(next.to_owned());
            for (op, dt) in gaps.next().unwrap_or_default() {
                step(&mut m, &mut model, &clock, &op, dt, false)?;
                // an execution that stops matching (or is removed) may be skipped
                must_see.retain(|&s| model.at(s).is_some_and(|i| Model::matches(&model.execs[i], &q)));
            }
        }
        for s in &must_see {
            prop_assert!(*s <= before_walk);
            prop_assert!(seen.contains(s), "{s} matched throughout but was skipped; seen {seen:?}");
        }
        let mut sorted = seen.clone();
        match q.order {
            Order::Asc => sorted.sort_unstable(),
            Order::Desc => sorted.sort_unstable_by(|a, b| b.cmp(a)),
        }
        prop_assert_eq!(sorted, seen, "items are in order");
    }

    /// maxFinished keeps exactly the last-finished executions, evicting the
    /// earliest finished with one `removed` event each; freed ids are reusable.
    #[test]
    fn eviction_keeps_the_last_finished(
        max_finished in 1usize..6,
        finish in (1usize..14).prop_flat_map(|n| Just((0..n).collect::<Vec<usize>>()).prop_shuffle()),
        ends in prop::collection::vec(0..3u8, 14),
        removals in prop::collection::vec(any::<bool>(), 14),
    ) {
        let n = finish.len();
        let clock = ManualClock::default();
        let mut m = Manager::new(
            Options { concurrency: usize::MAX, max_finished, ..Options::default() },
            Box::new(clock),
            Box::new(SequentialIds::default()),
        );
        let ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let track = |m: &mut Manager, id: &str| {
            m.track(NewExecution { id: Some(id.to_owned()), target_id: "x".into(), ..Default::default() }).unwrap();
        };
        for id in &ids {
            track(&mut m, id);
            m.start(id).unwrap();
        }
        m.set_record_events(true);
        // terminal executions held, in finish order
        let mut held: Vec<usize> = Vec::new();
        // ends one execution and checks the eviction it causes
        let end = |m: &mut Manager, held: &mut Vec<usize>, i: usize, how: u8| -> Result<(), TestCaseError> {
            let id = ids[i].as_str();
            match how {
                0 => { m.complete(id, None).unwrap(); }
                1 => { m.fail(id, Failure::new("E", "Error", "m")).unwrap(); }
                _ => { m.cancel(id, None).unwrap(); }
            }
            held.push(i);
            let mut evicted = Vec::new();
            while held.len() > max_finished {
                evicted.push(held.remove(0));
            }
            let events = m.drain_events();
            prop_assert_eq!(events.len(), 1 + evicted.len());
            prop_assert_eq!(events[0].kind, EventKind::Status);
            for (ev, &i) in events[1..].iter().zip(&evicted) {
                prop_assert_eq!(ev.kind, EventKind::Removed);
                let v: Value = serde_json::from_str(&ev.snapshot).unwrap();
                prop_assert_eq!(v["id"].as_str(), Some(ids[i].as_str()));
            }
            Ok(())
        };
        for (k, &i) in finish.iter().enumerate() {
            end(&mut m, &mut held, i, ends[k])?;
            if removals[k] && held.len() > 1 {
                // remove one held terminal execution, then reuse its id and end it again
                let gone = held.remove(held.len() / 2);
                let snapshot = m.remove(&ids[gone]).unwrap();
                let events = m.drain_events();
                prop_assert_eq!(events.len(), 1);
                prop_assert_eq!(events[0].kind, EventKind::Removed);
                prop_assert_eq!(&events[0].snapshot, &snapshot);
                track(&mut m, &ids[gone]);
                prop_assert_eq!(m.drain_events()[0].kind, EventKind::Created);
                m.start(&ids[gone]).unwrap();
                m.drain_events();
                end(&mut m, &mut held, gone, ends[n - 1 - k])?;
            }
            for (j, id) in ids.iter().enumerate() {
                let s = m.status_json(id).map(|s| serde_json::from_str::<Value>(&s).unwrap());
                let status = s.as_ref().map(|v| v["status"].as_str().unwrap().to_owned());
                if held.contains(&j) {
                    prop_assert!(
                        matches!(status.as_deref(), Some("completed" | "failed" | "cancelled")),
                        "{} should be held: {:?}", id, status
                    );
                } else if finish[..=k].contains(&j) {
                    prop_assert_eq!(status, None, "{} should have been evicted", id);
                } else {
                    prop_assert_eq!(status.as_deref(), Some("running"));
                }
            }
            let c = m.counts();
            prop_assert_eq!(c.completed + c.failed + c.cancelled, held.len());
            prop_assert_eq!(c.running, n - k - 1);
            prop_assert!(held.len() <= max_finished);
        }
    }

    /// percentage = min(100, current / total * 100), null without a total, in
    /// the record, the progress JSON and the snapshot.
    #[test]
    fn percentage_is_capped_current_over_total(
        current in prop_oneof![
            Just(0.0f64),
            (0u32..10_000).prop_map(f64::from),
            0.0..1e6f64,
            (0.0..1.0f64).prop_map(|x| x * 1e-300),
            (1.0..10.0f64).prop_map(|x| x * 1e300),
            prop::num::f64::POSITIVE | prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        ],
        total in prop::option::weighted(0.85, prop_oneof![
            (1u32..10_000).prop_map(f64::from),
            1e-3..1e6f64,
            (1.0..10.0f64).prop_map(|x| x * 1e-310),
            (1.0..1.7f64).prop_map(|x| x * 1e308),
            prop::num::f64::POSITIVE | prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL,
        ]),
        handler in any::<bool>(),
    ) {
        let clock = ManualClock::default();
        let mut m = Manager::new(Options::default(), Box::new(clock), Box::new(SequentialIds::default()));
        m.register("h", None).unwrap();
        let seq = if handler {
            let seq = m.create(NewExecution { id: Some("x".into()), target_id: "h".into(), ..Default::default() }).unwrap();
            m.next_start().unwrap();
            m.handler_progress(seq, current, total, None).unwrap();
            seq
        } else {
            let seq = m.track(NewExecution { id: Some("x".into()), target_id: "r".into(), ..Default::default() }).unwrap();
            m.start("x").unwrap();
            m.report_progress("x", current, total, None).unwrap();
            seq
        };
        let want = total.map(|t| (current / t * 100.0).min(100.0));
        let got = m.record(seq).unwrap().progress().unwrap().percentage();
        prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{} / {:?}", current, total);
        if let Some(p) = want {
            prop_assert!((0.0..=100.0).contains(&p));
        }
        // the JSON text carries exactly that number
        let text = m.progress_json("x").unwrap().unwrap();
        let field = text.split("\"percentage\":").nth(1).unwrap();
        let field = &field[..field.find(',').unwrap()];
        match want {
            None => prop_assert_eq!(field, "null"),
            Some(p) => prop_assert_eq!(field.parse::<f64>().unwrap().to_bits(), p.to_bits(), "{}", text),
        }
        let cur = text.split("\"current\":").nth(1).unwrap();
        let cur = &cur[..cur.find(',').unwrap()];
        prop_assert_eq!(cur.parse::<f64>().unwrap(), current);
        let snap: Value = serde_json::from_str(&m.status_json("x").unwrap()).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&snap["progress"], &parsed);
    }
}
