//! One held execution and its snapshot as JSON text.

use std::rc::Rc;

mod stored;

use super::json::{write_f64, write_key, write_opt_f64, write_opt_str, write_str};
use super::progress::Progress;
use super::retry::Retry;
use super::schedule::Slot;
use super::status::Status;

/// Who moves an execution along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// A registered handler runs it (`create`).
    Handler,
    /// It runs elsewhere and is reported here (`track`).
    External,
    /// It was created (`create`) for a remote target: a queue runs it on
    /// other machines, and the host that enqueued it moves it along with the
    /// remote moves of [`crate::core::Manager`] (`*_as(…, Driver::Remote)`,
    /// `retry_remote`). No slot of this manager is taken, no deadline armed.
    Remote,
}

/// The longest text of a failure's details, in UTF-16 units: a thrown
/// value's `message`, `stack` and `name` are cut to it (the last unit `…`),
/// `fail(id, error)` (from JS or over REST) refuses longer ones.
pub const MAX_DETAIL: u32 = 65_536;

/// The failure details stored on a failed execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `HANDLER_ERROR`, `TIMEOUT`, `INVALID_RESULT` or an external code.
    pub code: String,
    /// The error's name, e.g. `TypeError`.
    pub name: String,
    /// The error's message.
    pub message: String,
    /// The error's stack, when there is one.
    pub stack: Option<String>,
}

impl Failure {
    /// A failure with no stack.
    pub fn new(code: &str, name: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_owned(),
            name: name.to_owned(),
            message: message.into(),
            stack: None,
        }
    }

    fn write_json(&self, out: &mut String) {
        out.push('{');
        write_key(out, "code");
        write_str(out, &self.code);
        out.push(',');
        write_key(out, "name");
        write_str(out, &self.name);
        out.push(',');
        write_key(out, "message");
        write_str(out, &self.message);
        if let Some(stack) = &self.stack {
            out.push(',');
            write_key(out, "stack");
            write_str(out, stack);
        }
        out.push('}');
    }
}

/// How an execution ended, if it did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not finished.
    Open,
    /// Completed with this result (JSON text).
    Completed(Box<str>),
    /// Failed with these details.
    Failed(Box<Failure>),
    /// Cancelled, with the reason given if any.
    Cancelled(Option<Box<str>>),
}

/// An execution as the store holds it. Its fields are private: the store
/// and the manager change it only through the methods below, and its status
/// only through [`Record::set_status`] with a move from `status.rs`.
#[derive(Debug, Clone)]
pub struct Record {
    seq: u64,
    id: Rc<str>,
    target_id: Rc<str>,
    kind: Rc<str>,
    status: Status,
    driver: Driver,
    inputs: Box<str>,
    config: Box<str>,
    timeout_ms: Option<f64>,
    progress: Option<Progress>,
    outcome: Outcome,
    created_at: f64,
    started_at: Option<f64>,
    finished_at: Option<f64>,
    updated_at: f64,
    finish_tick: u64,
    text_version: u32,
    bytes: u64,
    priority: i64,
    // The scheduling fields are packed (records sit inline in the store's hash table, whose size
    // is what a manager's memory steps by): attempts fit a u16 (at most 1000), `run_at` is NaN
    // when absent, the queue slot is a key plus a one-byte kind.
    attempt: u16,
    max_attempts: u16,
    run_at: f64,
    /// Shared with the target's default, or the request's own (a pointer keeps records small).
    retry: Option<Rc<Retry>>,
    slot_key: u64,
    slot_kind: SlotKind,
    /// Its group in the store's indexes (its `(type, target)` pair's).
    group: u32,
}

/// Which set of the run queue a record's `slot_key` is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    None,
    Ready,
    Waiting,
}

/// What every execution counts against the manager's `maxBytes` besides its
/// texts: its numbers, its index entries and its share of the maps (about
/// what they take in wasm memory: ~685 bytes with the scheduling fields,
/// measured by the W6 benchmark).
pub const EXECUTION_COST: u64 = 704;

/// A text's length in UTF-16 units, as JS counts it (and as the budget does).
pub fn units(text: &str) -> u64 {
    if text.is_ascii() {
        text.len() as u64
    } else {
        text.encode_utf16().count() as u64
    }
}

/// The UTF-16 units of an outcome's texts.
fn outcome_units(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Open | Outcome::Cancelled(None) => 0,
        Outcome::Completed(result) => units(result),
        Outcome::Failed(f) => {
            units(&f.code)
                + units(&f.name)
                + units(&f.message)
                + f.stack.as_deref().map_or(0, units)
        }
        Outcome::Cancelled(Some(reason)) => units(reason),
    }
}

impl Outcome {
    /// The bytes this outcome adds to its execution against `maxBytes`.
    pub fn bytes(&self) -> u64 {
        2 * outcome_units(self)
    }
}

/// The parts of a new record that the caller chooses.
pub(super) struct NewRecord {
    pub seq: u64,
    pub id: Rc<str>,
    pub target_id: Rc<str>,
    pub kind: Rc<str>,
    pub driver: Driver,
    pub inputs: Box<str>,
    pub config: Box<str>,
    pub timeout_ms: Option<f64>,
    pub now: f64,
    pub priority: i64,
    pub run_at: Option<f64>,
    pub retry: Option<Rc<Retry>>,
}

impl Record {
    /// The bytes a new execution with these texts counts against `maxBytes`.
    pub fn bytes_of(id: &str, target_id: &str, kind: &str, inputs: &str, config: &str) -> u64 {
        EXECUTION_COST
            + 2 * (units(id) + units(target_id) + units(kind) + units(inputs) + units(config))
    }

    /// A `pending` record created at `now`.
    pub(super) fn new(n: NewRecord) -> Record {
        let bytes = Record::bytes_of(&n.id, &n.target_id, &n.kind, &n.inputs, &n.config);
        Record {
            seq: n.seq,
            id: n.id,
            target_id: n.target_id,
            kind: n.kind,
            status: Status::Pending,
            driver: n.driver,
            inputs: n.inputs,
            config: n.config,
            timeout_ms: n.timeout_ms,
            progress: None,
            outcome: Outcome::Open,
            created_at: n.now,
            started_at: None,
            finished_at: None,
            updated_at: n.now,
            finish_tick: 0,
            text_version: 0,
            bytes,
            priority: n.priority,
            attempt: 0,
            max_attempts: n
                .retry
                .as_ref()
                .map_or(1, |r| u16::try_from(r.attempts).unwrap_or(u16::MAX)),
            run_at: n.run_at.unwrap_or(f64::NAN),
            retry: n.retry,
            slot_key: 0,
            slot_kind: SlotKind::None,
            group: 0,
        }
    }

    /// What it counts against the manager's `maxBytes`: [`EXECUTION_COST`]
    /// plus 2 bytes per UTF-16 unit of its id, target, type, inputs, config,
    /// progress message and outcome (JSON text for the JSON values).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The bytes a progress report would add (or, negative, free).
    pub fn report_bytes(&self, progress: &Progress) -> i64 {
        let old = self
            .progress
            .as_ref()
            .and_then(|p| p.message.as_deref())
            .map_or(0, units);
        let new = progress.message.as_deref().map_or(0, units);
        2 * (new as i64 - old as i64)
    }

    /// Creation sequence number: unique for the manager's life, never reused.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Its group in the store's indexes (see [`super::index::Indexes`]).
    pub(super) fn group(&self) -> u32 {
        self.group
    }

    /// Sets its group (the store, as it indexes the record).
    pub(super) fn set_group(&mut self, group: u32) {
        self.group = group;
    }

    /// The caller-visible id.
    pub fn id(&self) -> &Rc<str> {
        &self.id
    }

    /// The target it runs on.
    pub fn target_id(&self) -> &Rc<str> {
        &self.target_id
    }

    /// Its type.
    pub fn kind(&self) -> &Rc<str> {
        &self.kind
    }

    /// Its status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Handler-driven, externally driven, or remote.
    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// `inputs` as JSON text.
    pub fn inputs(&self) -> &str {
        &self.inputs
    }

    /// `config` as JSON text (an object).
    pub fn config(&self) -> &str {
        &self.config
    }

    /// `config.timeoutMs`, when set.
    pub fn timeout_ms(&self) -> Option<f64> {
        self.timeout_ms
    }

    /// The latest progress report.
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// Result, failure or cancel reason.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// ms since epoch.
    pub fn created_at(&self) -> f64 {
        self.created_at
    }

    /// ms since epoch, once started.
    pub fn started_at(&self) -> Option<f64> {
        self.started_at
    }

    /// ms since epoch, once terminal.
    pub fn finished_at(&self) -> Option<f64> {
        self.finished_at
    }

    /// ms since epoch of the last change.
    pub fn updated_at(&self) -> f64 {
        self.updated_at
    }

    /// Position in the finish order once terminal (eviction order); 0 before.
    pub fn finish_tick(&self) -> u64 {
        self.finish_tick
    }

    /// Bumped whenever the progress message or the outcome changes, so a
    /// cache of those texts (the JS side's) knows when to read them again.
    pub fn text_version(&self) -> u32 {
        self.text_version
    }

    /// Its priority (0 unless given).
    pub fn priority(&self) -> i64 {
        self.priority
    }

    /// Attempts started so far (0 before the first start).
    pub fn attempt(&self) -> u32 {
        u32::from(self.attempt)
    }

    /// The attempts its retry policy allows in all (1 without one).
    pub fn max_attempts(&self) -> u32 {
        u32::from(self.max_attempts)
    }

    /// While pending after a delay or for a retry: when it is (or was) due.
    pub fn run_at(&self) -> Option<f64> {
        (!self.run_at.is_nan()).then_some(self.run_at)
    }

    /// Its retry policy, if any.
    pub fn retry(&self) -> Option<&Retry> {
        self.retry.as_deref()
    }

    /// Where it sits in the run queue, while it is queued.
    pub fn slot(&self) -> Option<Slot> {
        match self.slot_kind {
            SlotKind::None => None,
            SlotKind::Ready => Some(Slot::Ready(self.slot_key)),
            SlotKind::Waiting => Some(Slot::Waiting(self.slot_key)),
        }
    }

    /// Sets where it sits in the run queue (the manager, as it queues or
    /// takes it out).
    pub(super) fn set_slot(&mut self, slot: Option<Slot>) {
        (self.slot_kind, self.slot_key) = match slot {
            None => (SlotKind::None, 0),
            Some(Slot::Ready(key)) => (SlotKind::Ready, key),
            Some(Slot::Waiting(key)) => (SlotKind::Waiting, key),
        };
    }

    /// The deadline of a running attempt with `timeoutMs`.
    pub fn deadline(&self) -> Option<f64> {
        Some(self.started_at? + self.timeout_ms?)
    }

    /// Sets the status; only the store calls this, with a move checked by
    /// one of the `Status::to_*` functions.
    pub(super) fn set_status(&mut self, to: Status, finish_tick: u64) {
        self.status = to;
        if to.is_terminal() {
            self.finish_tick = finish_tick;
        }
    }

    /// Records the start of an attempt at `now`: the attempt count goes up,
    /// `runAt` and the previous attempt's failure are gone.
    pub(super) fn begin(&mut self, now: f64) {
        self.attempt = self.attempt.saturating_add(1);
        self.started_at = Some(now);
        self.updated_at = now;
        self.run_at = f64::NAN;
        if !matches!(self.outcome, Outcome::Open) {
            self.bytes -= self.outcome.bytes();
            self.outcome = Outcome::Open;
            self.text_version = self.text_version.wrapping_add(1);
        }
    }

    /// Records a failed attempt that will be retried at `run_at`: the
    /// failure is kept (until the next start), the progress is reset.
    pub(super) fn wait_retry(&mut self, failure: Failure, run_at: f64, now: f64) {
        let message = self
            .progress
            .take()
            .and_then(|p| p.message)
            .map_or(0, |m| units(&m));
        let outcome = Outcome::Failed(Box::new(failure));
        self.bytes = self.bytes + outcome.bytes() - self.outcome.bytes() - 2 * message;
        self.outcome = outcome;
        self.text_version = self.text_version.wrapping_add(1);
        self.run_at = run_at;
        self.updated_at = now;
    }

    /// Stores a progress report.
    pub(super) fn report(&mut self, progress: Progress) {
        self.bytes = self
            .bytes
            .saturating_add_signed(self.report_bytes(&progress));
        self.updated_at = progress.updated_at;
        let old = self.progress.as_ref().and_then(|p| p.message.as_deref());
        if old != progress.message.as_deref() {
            self.text_version = self.text_version.wrapping_add(1);
        }
        self.progress = Some(progress);
    }

    /// Stores how it ended at `now`; a completion with a known total brings
    /// the progress to that total.
    pub(super) fn end(&mut self, outcome: Outcome, now: f64) {
        let completed = matches!(outcome, Outcome::Completed(_));
        self.bytes = self.bytes + outcome.bytes() - self.outcome.bytes();
        self.outcome = outcome;
        self.text_version = self.text_version.wrapping_add(1);
        self.finished_at = Some(now);
        self.updated_at = now;
        if completed {
            if let Some(p) = &mut self.progress {
                if let Some(total) = p.total {
                    p.current = total;
                    p.updated_at = now;
                }
            }
        }
    }
}

/// The numeric state of an execution: with the texts of
/// [`Record::fixed_json`] and [`Record::texts_json`], all of its snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Numbers {
    /// Its status.
    pub status: Status,
    /// ms since epoch.
    pub created_at: f64,
    /// ms since epoch, once started.
    pub started_at: Option<f64>,
    /// ms since epoch, once terminal.
    pub finished_at: Option<f64>,
    /// ms since epoch of the last change.
    pub updated_at: f64,
    /// `(current, total, updatedAt)` of the latest progress report.
    pub progress: Option<(f64, Option<f64>, f64)>,
    /// [`Record::text_version`].
    pub text_version: u32,
    /// [`Record::has_texts`].
    pub has_texts: bool,
    /// Attempts started so far.
    pub attempt: u32,
    /// `runAt`.
    pub run_at: Option<f64>,
}

impl Record {
    /// The numeric state (see [`Numbers`]).
    pub fn numbers(&self) -> Numbers {
        Numbers {
            status: self.status,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            updated_at: self.updated_at,
            progress: self
                .progress
                .as_ref()
                .map(|p| (p.current, p.total, p.updated_at)),
            text_version: self.text_version,
            has_texts: self.has_texts(),
            attempt: self.attempt(),
            run_at: self.run_at(),
        }
    }

    /// The parts that never change, as a JSON array:
    /// `[id, targetId, type, inputs, config, priority, maxAttempts]`.
    pub fn fixed_json(&self) -> String {
        let mut out =
            String::with_capacity(32 + self.id.len() + self.inputs.len() + self.config.len());
        out.push('[');
        write_str(&mut out, &self.id);
        out.push(',');
        write_str(&mut out, &self.target_id);
        out.push(',');
        write_str(&mut out, &self.kind);
        out.push(',');
        out.push_str(&self.inputs);
        out.push(',');
        out.push_str(&self.config);
        out.push(',');
        write_f64(&mut out, self.priority as f64);
        out.push(',');
        write_f64(&mut out, f64::from(self.max_attempts));
        out.push(']');
        out
    }

    /// The texts that [`Record::text_version`] versions, as a JSON array:
    /// `[message, outcome]`, outcome `null` (open, or cancelled without a
    /// reason), `{"result":…}`, `{"error":…}` or `{"cancelReason":…}`.
    pub fn texts_json(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push('[');
        write_opt_str(
            &mut out,
            self.progress.as_ref().and_then(|p| p.message.as_deref()),
        );
        out.push(',');
        match &self.outcome {
            Outcome::Open | Outcome::Cancelled(None) => out.push_str("null"),
            Outcome::Completed(result) => {
                out.push('{');
                write_key(&mut out, "result");
                out.push_str(result);
                out.push('}');
            }
            Outcome::Failed(failure) => {
                out.push('{');
                write_key(&mut out, "error");
                failure.write_json(&mut out);
                out.push('}');
            }
            Outcome::Cancelled(Some(reason)) => {
                out.push('{');
                write_key(&mut out, "cancelReason");
                write_str(&mut out, reason);
                out.push('}');
            }
        }
        out.push(']');
        out
    }

    /// Whether [`Record::texts_json`] holds anything but `[null,null]` or a
    /// `null` result: when not, a reader needs no text to build a snapshot.
    pub fn has_texts(&self) -> bool {
        self.progress.as_ref().is_some_and(|p| p.message.is_some())
            || match &self.outcome {
                Outcome::Open | Outcome::Cancelled(None) => false,
                Outcome::Completed(result) => &**result != "null",
                Outcome::Failed(_) | Outcome::Cancelled(Some(_)) => true,
            }
    }

    /// The contract's `Execution` object as JSON text.
    pub fn snapshot_json(&self) -> String {
        let mut out =
            String::with_capacity(160 + self.id.len() + self.inputs.len() + self.config.len());
        self.write_json(&mut out);
        out
    }

    /// Appends the contract's `Execution` object as JSON text.
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        write_key(out, "id");
        write_str(out, &self.id);
        out.push(',');
        write_key(out, "targetId");
        write_str(out, &self.target_id);
        out.push(',');
        write_key(out, "type");
        write_str(out, &self.kind);
        out.push(',');
        write_key(out, "status");
        write_str(out, self.status.as_str());
        out.push(',');
        write_key(out, "inputs");
        out.push_str(&self.inputs);
        out.push(',');
        write_key(out, "config");
        out.push_str(&self.config);
        out.push(',');
        write_key(out, "progress");
        match &self.progress {
            Some(p) => p.write_json(out),
            None => out.push_str("null"),
        }
        match &self.outcome {
            Outcome::Open | Outcome::Cancelled(None) => {}
            Outcome::Completed(result) => {
                out.push(',');
                write_key(out, "result");
                out.push_str(result);
            }
            Outcome::Failed(failure) => {
                out.push(',');
                write_key(out, "error");
                failure.write_json(out);
            }
            Outcome::Cancelled(Some(reason)) => {
                out.push(',');
                write_key(out, "cancelReason");
                write_str(out, reason);
            }
        }
        out.push(',');
        write_key(out, "createdAt");
        write_f64(out, self.created_at);
        out.push(',');
        write_key(out, "startedAt");
        write_opt_f64(out, self.started_at);
        out.push(',');
        write_key(out, "finishedAt");
        write_opt_f64(out, self.finished_at);
        out.push(',');
        write_key(out, "updatedAt");
        write_f64(out, self.updated_at);
        out.push(',');
        write_key(out, "priority");
        write_f64(out, self.priority as f64);
        out.push(',');
        write_key(out, "attempt");
        write_f64(out, f64::from(self.attempt));
        out.push(',');
        write_key(out, "maxAttempts");
        write_f64(out, f64::from(self.max_attempts));
        out.push(',');
        write_key(out, "runAt");
        write_opt_f64(out, self.run_at());
        out.push('}');
    }
}
