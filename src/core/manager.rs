//! The execution manager: creation, the run queue, transitions, queries.
//!
//! Plain Rust with no JavaScript in sight: the wasm layer calls these methods,
//! then runs handlers, timers and listeners once it holds no borrow.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use serde_json::{Map, Value};

use super::clock::{Clock, IdSource, Random, SplitMix};
use super::error::{Error, Result};
use super::event::{Event, EventKind};
use super::json::{check_depth, to_text, write_f64, write_key, write_str};
use super::progress::Progress;
use super::query::ListQuery;
use super::record::{Driver, Failure, NewRecord, Outcome, Record};
use super::retry::Retry;
use super::schedule::Schedule;
use super::status::Status;
use super::store::{IdHasher, Store};

mod persist;

/// The default `maxFinished`.
pub const DEFAULT_MAX_FINISHED: usize = 10_000;

/// The default `maxBytes`: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// The largest `maxBytes` in force (larger ones, `Infinity` included, mean
/// this): 1 GiB of counted text, so that what the allocator really holds,
/// plus one value being copied in, stays well inside the 4 GiB wasm heap.
pub const MAX_BYTES_LIMIT: u64 = 1 << 30;

/// How many events' room the queue of change events keeps between drains.
const KEPT_EVENT_ROOM: usize = 16;

/// Manager options; `usize::MAX` stands for `Infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Handler calls in flight at once.
    pub concurrency: usize,
    /// Terminal executions kept.
    pub max_finished: usize,
    /// The budget of bytes held (see [`Record::bytes`]), at most
    /// [`MAX_BYTES_LIMIT`].
    pub max_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: usize::MAX,
            max_finished: DEFAULT_MAX_FINISHED,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// A `create` or `track` request, already converted from JS or JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewExecution {
    /// The id to use; a UUID v4 when `None`.
    pub id: Option<String>,
    /// The target.
    pub target_id: String,
    /// The type; the target's default (or `"task"`) when `None`.
    pub kind: Option<String>,
    /// JSON-compatible inputs; `{}` when `None`.
    pub inputs: Option<Value>,
    /// A JSON object; `{}` when `None`.
    pub config: Option<Value>,
    /// A safe integer; 0 when `None` (`create` only).
    pub priority: Option<i64>,
    /// Waits this many ms before it is due (`create` only; not with `run_at`).
    pub delay_ms: Option<f64>,
    /// Waits until this time, ms since epoch (`create` only; not with `delay_ms`).
    pub run_at: Option<f64>,
    /// Its retry policy; the target's default when `None` (`create` only).
    pub retry: Option<Retry>,
}

/// A handler-driven execution that has just been moved to `running`.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// Its creation sequence.
    pub seq: u64,
    /// Its id.
    pub id: Rc<str>,
    /// Its target.
    pub target_id: Rc<str>,
    /// `inputs` as JSON text.
    pub inputs: Box<str>,
    /// `config` as JSON text.
    pub config: Box<str>,
    /// `config.timeoutMs`, when set.
    pub timeout_ms: Option<f64>,
    /// Which attempt this is (1-based): `ctx.attempt`.
    pub attempt: u32,
}

/// A registered target: the defaults of its executions.
struct Target {
    kind: Rc<str>,
    /// Shared by the records of its executions that take it.
    retry: Option<Rc<Retry>>,
    /// Its executions run on a queue's workers ([`Driver::Remote`]).
    remote: bool,
}

/// Per-status counts, as `counts()` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Pending executions.
    pub pending: usize,
    /// Running executions.
    pub running: usize,
    /// Completed executions.
    pub completed: usize,
    /// Failed executions.
    pub failed: usize,
    /// Cancelled executions.
    pub cancelled: usize,
    /// All held executions.
    pub total: usize,
}

impl Counts {
    /// `[pending, running, completed, failed, cancelled, total]`, the order
    /// the JS layer reads them in.
    pub fn to_array(self) -> [usize; 6] {
        [
            self.pending,
            self.running,
            self.completed,
            self.failed,
            self.cancelled,
            self.total,
        ]
    }
}

/// The execution manager.
///
/// ```
/// use execman::core::{Manager, NewExecution, Options, SystemClock, UuidIds};
///
/// let mut m = Manager::new(Options::default(), Box::new(SystemClock), Box::new(UuidIds));
/// let seq = m.track(NewExecution { target_id: "upload".into(), ..Default::default() })?;
/// let id = m.record(seq).map(|r| r.id().to_string()).unwrap_or_default();
/// m.start(&id)?;
/// m.report_progress(&id, 5.0, Some(10.0), None)?;
/// m.complete(&id, None)?;
/// assert_eq!(m.counts().completed, 1);
/// # Ok::<(), execman::core::Error>(())
/// ```
pub struct Manager {
    store: Store,
    options: Options,
    targets: HashMap<String, Target>,
    /// Pending handler-driven executions: ready by priority, or waiting for their `runAt`.
    schedule: Schedule,
    in_flight: usize,
    next_seq: u64,
    clock: Box<dyn Clock>,
    ids: Box<dyn IdSource>,
    /// The jitter of retry delays.
    random: Box<dyn Random>,
    record_events: bool,
    record_numbers: bool,
    events: Vec<Event>,
    finished: Vec<u64>,
    /// Remote executions created since the host last took them (it hands
    /// each to its queue).
    submitted: Vec<u64>,
    removed: Vec<u64>,
    removed_total: u64,
    track_removed: bool,
    default_kind: Rc<str>,
    /// Running attempts with a `timeoutMs`, by deadline (the f64's bits:
    /// deadlines are finite and ≥ 0, so the bits order as the numbers do).
    deadlines: BTreeSet<(u64, u64)>,
    /// What the clock said last.
    last_now: std::cell::Cell<f64>,
    /// Bytes held by every execution, and by the active ones (see [`Record::bytes`]).
    held_bytes: u64,
    active_bytes: u64,
    /// The budget in force now (`maxBytes`, or less when the host has less
    /// to give, see [`Manager::set_limits`]) and bytes the host holds for
    /// this manager outside the store (queued events).
    cap: u64,
    outside: u64,
    /// The changes to write, when the manager is durable.
    journal: Option<persist::Journal>,
    /// Handler-driven pending executions restored before their target was
    /// registered: queued when it is.
    parked: HashMap<Rc<str>, Vec<u64>>,
}

impl Manager {
    /// A manager with the given options, clock and id source.
    pub fn new(options: Options, clock: Box<dyn Clock>, ids: Box<dyn IdSource>) -> Manager {
        Manager {
            store: Store::default(),
            options,
            targets: HashMap::new(),
            schedule: Schedule::default(),
            in_flight: 0,
            next_seq: 0,
            clock,
            ids,
            random: Box::new(SplitMix(0x5EED_0FE8_EC00_u64)),
            record_events: false,
            record_numbers: false,
            events: Vec::new(),
            finished: Vec::new(),
            submitted: Vec::new(),
            removed: Vec::new(),
            removed_total: 0,
            track_removed: false,
            default_kind: Rc::from("task"),
            deadlines: BTreeSet::new(),
            last_now: std::cell::Cell::new(0.0),
            held_bytes: 0,
            active_bytes: 0,
            cap: u64::MAX,
            outside: 0,
            journal: None,
            parked: HashMap::new(),
        }
    }

    /// Replaces the source of the retry delays' jitter (a fixed-seed
    /// [`SplitMix`] until then; the wasm engine seeds one from
    /// `crypto.getRandomValues`, tests pass their own).
    pub fn set_random(&mut self, random: Box<dyn Random>) {
        self.random = random;
    }

    /// Keys the hash of the id lookup (SipHash) with two secret numbers: the
    /// wasm engine passes random bytes from `crypto.getRandomValues`, where
    /// std's own keys are the same in every process.
    pub fn set_id_keys(&mut self, k0: u64, k1: u64) {
        self.store.set_id_keys(k0, k1);
    }

    /// The id lookup's hash, for a replay's id map (see [`Store::id_hasher`]).
    pub fn id_hasher(&self) -> IdHasher {
        self.store.id_hasher()
    }

    /// The options in force.
    pub fn options(&self) -> Options {
        self.options
    }

    /// `maxBytes` in force.
    pub fn max_bytes(&self) -> u64 {
        self.options.max_bytes.min(MAX_BYTES_LIMIT)
    }

    /// Bytes held by every execution, and by the active ones alone.
    pub fn held_bytes(&self) -> (u64, u64) {
        (self.held_bytes, self.active_bytes)
    }

    /// Sets, for the changes to come, how much of `maxBytes` the host can
    /// give (`cap`: less when other managers share its memory) and how many
    /// bytes it holds for this manager outside the store (`outside`: queued
    /// events and their texts). Both count against the budget.
    pub fn set_limits(&mut self, cap: u64, outside: u64) {
        self.cap = cap;
        self.outside = outside;
    }

    /// The budget in force: `maxBytes`, or less when the host said so.
    fn budget(&self) -> u64 {
        self.max_bytes().min(self.cap)
    }

    /// Bytes a change may still add (finished executions would be evicted
    /// to make room): what a caller may copy in before asking.
    pub fn room(&self) -> u64 {
        self.budget()
            .saturating_sub(self.active_bytes.saturating_add(self.outside))
    }

    /// Makes room for `extra` more bytes: `RESOURCE_EXHAUSTED` (and nothing
    /// changed) when active executions alone leave less; else evicts
    /// finished executions, earliest finished first, until it fits.
    fn reserve(&mut self, extra: u64) -> Result<()> {
        let room = self.room();
        if extra > room {
            return Err(Error::ResourceExhausted {
                needed: extra,
                room,
                budget: self.budget(),
            });
        }
        self.evict_bytes(extra, 0);
        Ok(())
    }

    /// Evicts finished executions (never `keep`) while the bytes held plus
    /// `extra` are over the budget.
    fn evict_bytes(&mut self, extra: u64, keep: u64) {
        while self
            .held_bytes
            .saturating_add(self.outside)
            .saturating_add(extra)
            > self.budget()
        {
            match self.store.earliest_finished() {
                Some(oldest) if oldest != keep => {
                    self.take_out(oldest);
                }
                _ => break,
            }
        }
    }

    /// Whether change events are queued (only worth it with listeners).
    pub fn set_record_events(&mut self, on: bool) {
        self.record_events = on;
    }

    /// Whether change events carry [`Event::numbers`] (and texts): for a
    /// cache outside the core that builds snapshots itself.
    pub fn set_record_numbers(&mut self, on: bool) {
        self.record_numbers = on;
    }

    /// Takes the queued change events, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Moves the change events to the end of `out` (or drops them, for
    /// `None`), keeping the queue's allocation (up to [`KEPT_EVENT_ROOM`]
    /// events) for the next ones; the bytes `weigh` gives for the events
    /// moved, summed.
    pub fn drain_events_into(
        &mut self,
        out: Option<&mut std::collections::VecDeque<Event>>,
        weigh: impl Fn(&Event) -> u64,
    ) -> u64 {
        let bytes = match out {
            Some(out) => {
                let bytes = self.events.iter().map(weigh).sum();
                out.extend(self.events.drain(..));
                bytes
            }
            None => {
                self.events.clear();
                0
            }
        };
        // A burst (a clear of many) does not keep its room.
        self.events.shrink_to(KEPT_EVENT_ROOM);
        bytes
    }

    /// Whether change events or terminal executions wait for the wasm layer.
    pub fn has_work(&self) -> bool {
        !self.events.is_empty() || !self.finished.is_empty()
    }

    /// Whether change events are waiting to be drained.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Whether the creation sequences of removed executions are kept for
    /// [`Manager::take_removed`] (a cache outside the core turns it on).
    pub fn set_track_removed(&mut self, on: bool) {
        self.track_removed = on;
    }

    /// Takes the creation sequences of executions removed since the last call.
    pub fn take_removed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.removed)
    }

    /// How many removals [`Manager::take_removed`] would return.
    pub fn removed_len(&self) -> usize {
        self.removed.len()
    }

    /// How many executions were ever taken out: an epoch that a cache of
    /// held executions compares to know whether it must drop any.
    pub fn removed_total(&self) -> u64 {
        self.removed_total
    }

    /// The earliest deadline of a running attempt with `timeoutMs`.
    pub fn next_deadline(&self) -> Option<f64> {
        self.deadlines
            .first()
            .map(|&(bits, _)| f64::from_bits(bits))
    }

    /// The earliest time something is due: a running attempt's deadline or
    /// a waiting execution's `runAt`. The one timer the host arms calls
    /// [`Manager::expire`] (or [`Manager::expire_one`] and
    /// [`Manager::promote`]) then.
    pub fn next_wakeup(&self) -> Option<f64> {
        match (self.next_deadline(), self.schedule.next_run_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Times out every running attempt whose deadline is at or before `now`
    /// and makes ready every waiting execution whose `runAt` has come (by
    /// the clock, never by `now`: nothing starts before its `runAt`);
    /// returns how many attempts timed out.
    pub fn expire(&mut self, now: f64) -> usize {
        let mut n = 0;
        while let Some(timed_out) = self.expire_one(now) {
            n += usize::from(timed_out);
        }
        self.promote();
        n
    }

    /// Makes ready every waiting execution whose `runAt` has come by the
    /// clock; returns how many.
    pub fn promote(&mut self) -> usize {
        let now = self.now();
        let mut n = 0;
        while let Some((seq, run_at)) = self.schedule.due(now) {
            let priority = self.store.get(seq).map_or(0, Record::priority);
            let slot = self.schedule.make_ready(seq, priority, run_at);
            if let Some(record) = self.store.get_mut(seq) {
                record.set_slot(Some(slot));
            }
            n += 1;
        }
        n
    }

    /// Queues a pending handler-driven execution: ready at once, or
    /// waiting for its `runAt`.
    fn enqueue(&mut self, seq: u64, now: f64) {
        let Some(record) = self.store.get(seq) else {
            return;
        };
        if !self.targets.contains_key(&**record.target_id()) {
            // Restored before its target was registered: queued by `register`.
            let target = record.target_id().clone();
            self.parked.entry(target).or_default().push(seq);
            return;
        }
        let slot = self
            .schedule
            .insert(seq, record.priority(), record.run_at(), now);
        if let Some(record) = self.store.get_mut(seq) {
            record.set_slot(Some(slot));
        }
    }

    /// Takes an execution out of the run queue (it started or ended).
    fn unqueue(&mut self, seq: u64) {
        let Some(record) = self.store.get_mut(seq) else {
            return;
        };
        if let Some(slot) = record.slot() {
            record.set_slot(None);
            let priority = record.priority();
            self.schedule.remove(seq, priority, slot);
        }
    }

    /// Executions ready to start and executions waiting for their `runAt`.
    pub fn queued(&self) -> (usize, usize) {
        self.schedule.len()
    }

    /// Takes the earliest deadline at or before `due`, if any, and times its
    /// attempt out: `Some(true)` when that failed a running execution. One
    /// at a time, so that a caller can take each one's end (before a later
    /// end evicts it).
    pub fn expire_one(&mut self, due: f64) -> Option<bool> {
        let &(bits, seq) = self.deadlines.first()?;
        if f64::from_bits(bits) > due {
            return None;
        }
        self.deadlines.remove(&(bits, seq));
        Some(self.time_out(seq))
    }

    /// The clock's time, kept as [`Manager::last_now`].
    fn now(&self) -> f64 {
        let now = self.clock.now_ms();
        self.last_now.set(now);
        now
    }

    /// What the clock said at the last change that read it.
    pub fn last_now(&self) -> f64 {
        self.last_now.get()
    }

    fn arm(&mut self, seq: u64) {
        if let Some(deadline) = self.store.get(seq).and_then(Record::deadline) {
            self.deadlines.insert((deadline.max(0.0).to_bits(), seq));
        }
    }

    fn disarm(&mut self, seq: u64) {
        if let Some(deadline) = self.store.get(seq).and_then(Record::deadline) {
            self.deadlines.remove(&(deadline.max(0.0).to_bits(), seq));
        }
    }

    /// Takes the creation sequences of executions that became terminal, or
    /// whose running attempt ended in a wait for a retry (the host aborts
    /// that attempt's signal).
    pub fn take_finished(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.finished)
    }

    /// Takes the remote executions created since the last call, in creation
    /// order (the host hands each one still pending to its queue).
    pub fn take_submitted(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.submitted)
    }

    /// Whether remote executions wait to be taken by [`Manager::take_submitted`].
    pub fn has_submitted(&self) -> bool {
        !self.submitted.is_empty()
    }

    /// Registers a target (the wasm layer keeps its handler).
    pub fn register(&mut self, target_id: &str, kind: Option<&str>) -> Result<()> {
        self.register_with(target_id, kind, None)
    }

    /// Registers a target with the default `type` and retry policy of its
    /// executions (a request's own `retry` replaces the policy whole).
    pub fn register_with(
        &mut self,
        target_id: &str,
        kind: Option<&str>,
        retry: Option<Retry>,
    ) -> Result<()> {
        self.add_target(target_id, kind, retry, false)
    }

    /// Registers a remote target: its executions are created as any
    /// others (`create`, with priority, delay and retry policy) but run on
    /// a queue's workers elsewhere, not here: they take no concurrency slot,
    /// the host takes each new one ([`Manager::take_submitted`]) to enqueue
    /// it, and moves it along with the remote moves
    /// ([`Manager::start_as`] … with [`Driver::Remote`], [`Manager::retry_remote`]).
    pub fn register_remote(
        &mut self,
        target_id: &str,
        kind: Option<&str>,
        retry: Option<Retry>,
    ) -> Result<()> {
        self.add_target(target_id, kind, retry, true)
    }

    fn add_target(
        &mut self,
        target_id: &str,
        kind: Option<&str>,
        retry: Option<Retry>,
        remote: bool,
    ) -> Result<()> {
        if target_id.is_empty() {
            return Err(Error::invalid("targetId", "must be a non-empty string"));
        }
        if kind == Some("") {
            return Err(Error::invalid("options.type", "must be a non-empty string"));
        }
        if self.targets.contains_key(target_id) {
            return Err(Error::AlreadyExists {
                what: "target",
                id: target_id.to_owned(),
            });
        }
        let kind = kind
            .map(Rc::from)
            .unwrap_or_else(|| self.default_kind.clone());
        let retry = retry.map(Rc::new);
        self.targets.insert(
            target_id.to_owned(),
            Target {
                kind,
                retry,
                remote,
            },
        );
        // Restored pending executions of a handler's target wait for it (a remote target's run
        // on their queue: durable stores do not hold remote executions).
        if let Some(seqs) = (!remote).then(|| self.parked.remove(target_id)).flatten() {
            let now = self.now();
            for seq in seqs {
                let waiting = self
                    .store
                    .get(seq)
                    .is_some_and(|r| r.status() == Status::Pending && r.slot().is_none());
                if waiting {
                    self.enqueue(seq, now);
                }
            }
        }
        Ok(())
    }

    /// Whether a target has a handler.
    pub fn is_registered(&self, target_id: &str) -> bool {
        self.targets.contains_key(target_id)
    }

    /// Creates a handler-driven execution, queued to start when a slot is free.
    pub fn create(&mut self, request: NewExecution) -> Result<u64> {
        let mut prepared = self.prepare(request)?;
        let Some(target) = self.targets.get(prepared.target_id.as_str()) else {
            return Err(Error::UnknownTarget {
                target_id: prepared.target_id,
            });
        };
        let default_kind = target.kind.clone();
        let remote = target.remote;
        if prepared.retry.is_none() {
            prepared.retry = target.retry.clone();
        }
        if remote {
            let seq = self.insert(prepared, Driver::Remote, default_kind)?;
            self.submitted.push(seq);
            return Ok(seq);
        }
        let seq = self.insert(prepared, Driver::Handler, default_kind)?;
        self.enqueue(seq, self.last_now());
        Ok(seq)
    }

    /// Tracks an externally driven execution. Its request takes no
    /// `priority`, delay or `retry`: tracked work is scheduled elsewhere.
    pub fn track(&mut self, request: NewExecution) -> Result<u64> {
        let prepared = self.prepare(request)?;
        let scheduled = [
            ("request.priority", prepared.priority.is_some()),
            ("request.delayMs", prepared.delay_ms.is_some()),
            ("request.runAt", prepared.run_at.is_some()),
            ("request.retry", prepared.retry.is_some()),
        ];
        if let Some((field, _)) = scheduled.into_iter().find(|(_, given)| *given) {
            return Err(Error::invalid(
                field,
                "is not taken by track: tracked work is scheduled where it runs",
            ));
        }
        let kind = self.default_kind.clone();
        self.insert(prepared, Driver::External, kind)
    }

    fn prepare(&self, request: NewExecution) -> Result<Prepared> {
        // The one validator of create/track requests (the binding and REST ran it already on
        // what they read; a Rust caller's request meets the same rules here).
        let request = super::request::check(request)?;
        let inputs = request.inputs.unwrap_or_else(|| Value::Object(Map::new()));
        let config = request.config.unwrap_or_else(|| Value::Object(Map::new()));
        let timeout_ms = super::request::timeout_ms(&config)?;
        Ok(Prepared {
            id: request.id,
            target_id: request.target_id,
            kind: request.kind,
            inputs: to_text(&inputs),
            config: to_text(&config),
            timeout_ms,
            priority: request.priority,
            delay_ms: request.delay_ms,
            run_at: request.run_at,
            retry: request.retry.map(Rc::new),
        })
    }

    fn insert(&mut self, p: Prepared, driver: Driver, default_kind: Rc<str>) -> Result<u64> {
        let id = match p.id {
            Some(id) => {
                if self.store.contains_id(&id) {
                    return Err(Error::AlreadyExists {
                        what: "execution",
                        id,
                    });
                }
                id
            }
            None => loop {
                let id = self.ids.next_id();
                if !self.store.contains_id(&id) {
                    break id;
                }
            },
        };
        let bytes = Record::bytes_of(
            &id,
            &p.target_id,
            p.kind.as_deref().unwrap_or(&default_kind),
            &p.inputs,
            &p.config,
        );
        self.reserve(bytes)?;
        self.held_bytes += bytes;
        self.active_bytes += bytes;
        let now = self.now();
        let run_at = match (p.delay_ms, p.run_at) {
            // A finite time even for a delay near f64::MAX.
            (Some(delay), _) => Some((now + delay).min(f64::MAX)),
            (None, at) => at,
        };
        self.next_seq += 1;
        let seq = self.next_seq;
        self.store.insert(Record::new(NewRecord {
            seq,
            id: Rc::from(id),
            target_id: Rc::from(p.target_id),
            kind: p.kind.map(Rc::from).unwrap_or(default_kind),
            driver,
            inputs: p.inputs,
            config: p.config,
            timeout_ms: p.timeout_ms,
            now,
            priority: p.priority.unwrap_or(0),
            run_at,
            retry: p.retry,
        }));
        self.log_put(seq);
        self.emit(EventKind::Created, seq);
        Ok(seq)
    }

    /// Whether handler-driven executions are due and wait for a slot.
    pub fn has_queued(&self) -> bool {
        self.schedule.has_ready()
    }

    /// Handler calls in flight (slots taken).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Moves the next queued execution to `running` if a slot is free, taking
    /// the slot. Cancelled or removed queue entries are skipped.
    pub fn next_start(&mut self) -> Option<Started> {
        let seq = self.next_start_seq()?;
        let record = self.store.get(seq)?;
        Some(Started {
            seq,
            id: record.id().clone(),
            target_id: record.target_id().clone(),
            inputs: record.inputs().into(),
            config: record.config().into(),
            timeout_ms: record.timeout_ms(),
            attempt: record.attempt(),
        })
    }

    /// [`Manager::next_start`], returning only the creation sequence. The
    /// next one is the ready execution of highest priority, then earliest
    /// due, then earliest created; waiting ones whose `runAt` has come are
    /// made ready first.
    pub fn next_start_seq(&mut self) -> Option<u64> {
        if self.in_flight >= self.options.concurrency {
            return None;
        }
        self.promote();
        loop {
            let seq = self.schedule.pop_ready()?;
            let Some(to) = self.store.get_mut(seq).and_then(|r| {
                r.set_slot(None);
                r.status().to_running().ok()
            }) else {
                continue;
            };
            let now = self.now();
            self.rebyte(seq, |r| r.begin(now));
            self.store.set_status(seq, to);
            self.log_state(seq);
            self.arm(seq);
            self.in_flight += 1;
            self.emit(EventKind::Status, seq);
            return Some(seq);
        }
    }

    /// The handler of the current attempt settled (see
    /// [`Manager::settle_attempt`]; a thrown value counts as retryable).
    pub fn settle(&mut self, seq: u64, outcome: std::result::Result<Value, Failure>) {
        let attempt = self.store.get(seq).map_or(0, Record::attempt);
        self.settle_attempt(seq, attempt, outcome, true);
    }

    /// The handler of attempt `attempt` settled: frees its slot and, if that
    /// attempt is still running, completes the execution or fails the
    /// attempt, which retries it when the failure allows (`HANDLER_ERROR` or
    /// `TIMEOUT`, attempts left, and `retryable` true: false is a thrown
    /// value that said `retryable: false`). Late outcomes, and those of an earlier
    /// attempt, change nothing.
    pub fn settle_attempt(
        &mut self,
        seq: u64,
        attempt: u32,
        outcome: std::result::Result<Value, Failure>,
        retryable: bool,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Some(status) = self
            .store
            .get(seq)
            .filter(|r| r.driver() == Driver::Handler && r.attempt() == attempt)
            .map(Record::status)
        else {
            return;
        };
        if status != Status::Running {
            // A late outcome changes nothing (and makes no room for itself).
            return;
        }
        let outcome = match outcome {
            Ok(result) => match check_depth(&result, "result") {
                Ok(()) => Outcome::Completed(to_text(&result)),
                Err(e) => Outcome::Failed(Box::new(Failure::new(
                    "INVALID_RESULT",
                    "TypeError",
                    e.to_string(),
                ))),
            },
            Err(failure) => Outcome::Failed(Box::new(failure)),
        };
        // A result that does not fit the budget fails the execution; a failure is always kept
        // (a thrown value's texts were cut to their limits already).
        let outcome = match outcome {
            Outcome::Completed(result) if self.reserve(2 * super::record::units(&result)).is_err() => {
                Outcome::Failed(Box::new(Failure::new(
                    "INVALID_RESULT",
                    "RangeError",
                    format!(
                        "the result ({} bytes) does not fit the memory budget (maxBytes = {} bytes) next to the active executions",
                        2 * super::record::units(&result),
                        self.max_bytes()
                    ),
                )))
            }
            other => other,
        };
        match outcome {
            Outcome::Completed(_) => {
                if let Ok(to) = status.to_completed() {
                    self.finish(seq, to, outcome);
                }
            }
            Outcome::Failed(failure) => {
                self.fail_attempt(seq, *failure, retryable);
            }
            Outcome::Open | Outcome::Cancelled(_) => {}
        }
    }

    /// A running attempt failed with `failure`. With a retry policy that has
    /// attempts left, a failure the policy retries (`HANDLER_ERROR`,
    /// `TIMEOUT`, `INTERRUPTED`; not `INVALID_RESULT`, not a thrown value that
    /// said `retryable: false`) moves the execution `running → pending`: it keeps
    /// the failure until its next start, loses its progress, and waits
    /// until `runAt` = now + the backoff's delay. Any other failure moves it
    /// `running → failed`. Returns whether it was running.
    fn fail_attempt(&mut self, seq: u64, failure: Failure, retryable: bool) -> bool {
        let Some(record) = self.store.get(seq) else {
            return false;
        };
        let status = record.status();
        let retry = match record.retry() {
            Some(policy)
                if retryable
                    && retried(&failure.code)
                    && record.attempt() < record.max_attempts() =>
            {
                status
                    .to_retrying()
                    .ok()
                    .map(|to| (to, *policy, record.attempt()))
            }
            _ => None,
        };
        if let Some((to, policy, failed)) = retry {
            let delay = policy.delay(failed, self.random.unit());
            self.disarm(seq);
            let now = self.now();
            self.rebyte(seq, |r| r.wait_retry(failure, now + delay, now));
            self.store.set_status(seq, to);
            self.log_state(seq);
            // The host aborts the signal of the attempt that ended (a timed-out one may run on).
            self.finished.push(seq);
            self.enqueue(seq, now);
            self.emit(EventKind::Status, seq);
            // A failure kept past the budget makes room as a final one does.
            self.evict_bytes(0, seq);
            return true;
        }
        match status.to_failed() {
            Ok(to) => {
                self.finish(seq, to, Outcome::Failed(Box::new(failure)));
                true
            }
            Err(_) => false,
        }
    }

    /// Runs a change of an active record that may change its bytes, keeping
    /// the totals in step.
    fn rebyte(&mut self, seq: u64, change: impl FnOnce(&mut Record)) {
        if let Some(record) = self.store.get_mut(seq) {
            let before = record.bytes();
            change(record);
            let after = record.bytes();
            self.held_bytes = (self.held_bytes + after).saturating_sub(before);
            self.active_bytes = (self.active_bytes + after).saturating_sub(before);
        }
    }

    /// `ctx.progress` of the current attempt (see [`Manager::attempt_progress`]).
    pub fn handler_progress(
        &mut self,
        seq: u64,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> Result<()> {
        let attempt = self.store.get(seq).map_or(0, Record::attempt);
        self.attempt_progress(seq, attempt, current, total, message)
    }

    /// `ctx.progress` of attempt `attempt`: validated always, ignored once
    /// that attempt is not running (the execution ended, or waits for or
    /// runs a later attempt).
    pub fn attempt_progress(
        &mut self,
        seq: u64,
        attempt: u32,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> Result<()> {
        let progress = Progress::new(current, total, message, self.now())?;
        if self
            .store
            .get(seq)
            .is_some_and(|r| r.status() == Status::Running && r.attempt() == attempt)
        {
            self.set_progress(seq, progress)?;
        }
        Ok(())
    }

    /// Stores a report, within the budget (its message may take bytes).
    fn set_progress(&mut self, seq: u64, progress: Progress) -> Result<()> {
        let delta = self.store.get(seq).map_or(0, |r| r.report_bytes(&progress));
        // The event it will queue holds the message too, until the host delivers it (the host
        // counts queued events as held outside the store: see `set_limits`).
        let event = if self.record_events || self.record_numbers {
            128 + 2 * progress.message.as_deref().map_or(0, super::record::units)
        } else {
            0
        };
        let extra = delta.max(0).unsigned_abs() + event;
        if extra > 0 {
            self.reserve(extra)?;
        }
        if let Some(record) = self.store.get_mut(seq) {
            record.report(progress);
            self.held_bytes = self.held_bytes.saturating_add_signed(delta);
            self.active_bytes = self.active_bytes.saturating_add_signed(delta);
            self.log_progress(seq);
            self.emit(EventKind::Progress, seq);
        }
        Ok(())
    }

    /// The creation sequence of an id, or `NOT_FOUND`.
    pub fn lookup(&self, id: &str) -> Result<u64> {
        self.store.seq_of(id).ok_or_else(|| Error::not_found(id))
    }

    /// The status of a held execution that `by` moves along (a tracked one
    /// for the public moves, a remote one for the remote moves); `None` if
    /// `seq` is not held; `INVALID_TRANSITION` if something else moves it.
    fn driven(&self, seq: u64, action: &'static str, by: Driver) -> Result<Option<Status>> {
        let Some(record) = self.store.get(seq) else {
            return Ok(None);
        };
        let driver = record.driver();
        if driver != by {
            let why = match driver {
                Driver::Handler => "it is run by its handler",
                Driver::Remote => "it runs on its queue's workers",
                Driver::External => "it is tracked, not remote",
            };
            return Err(Error::InvalidTransition {
                id: record.id().to_string(),
                action,
                why: why.to_owned(),
            });
        }
        Ok(Some(record.status()))
    }

    /// `INVALID_TRANSITION` for `action` on the held execution `seq`, now `from`
    /// (its id is read only here, on the error path).
    fn illegal(&self, seq: u64, action: &'static str, from: Status) -> Error {
        let id = self.store.get(seq).map_or("", |r| &**r.id());
        Error::transition(id, action, from)
    }

    /// `start(id)` of a tracked execution.
    pub fn start(&mut self, id: &str) -> Result<u64> {
        let seq = self.lookup(id)?;
        self.start_seq(seq)?;
        Ok(seq)
    }

    /// `start` by creation sequence: `Ok(false)` if `seq` is not held.
    pub fn start_seq(&mut self, seq: u64) -> Result<bool> {
        self.start_as(seq, Driver::External)
    }

    /// `start` of an execution that `by` moves along: a tracked one
    /// ([`Driver::External`]: `start(id)`, its `timeoutMs` counted from now)
    /// or a remote one ([`Driver::Remote`]: its job became active on a
    /// worker, a new attempt; the worker keeps its `timeoutMs`).
    pub fn start_as(&mut self, seq: u64, by: Driver) -> Result<bool> {
        let Some(status) = self.driven(seq, "start", by)? else {
            return Ok(false);
        };
        let to = status
            .to_running()
            .map_err(|s| self.illegal(seq, "start", s))?;
        let now = self.now();
        if let Some(record) = self.store.get_mut(seq) {
            record.begin(now);
        }
        self.store.set_status(seq, to);
        self.log_state(seq);
        if by == Driver::External {
            self.arm(seq);
        }
        self.emit(EventKind::Status, seq);
        Ok(true)
    }

    /// `reportProgress(id, …)` of a running tracked execution.
    pub fn report_progress(
        &mut self,
        id: &str,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> Result<()> {
        let seq = self.lookup(id)?;
        self.report_progress_seq(seq, current, total, message)?;
        Ok(())
    }

    /// `reportProgress` by creation sequence: `Ok(false)` if `seq` is not held.
    pub fn report_progress_seq(
        &mut self,
        seq: u64,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> Result<bool> {
        self.report_progress_as(seq, current, total, message, Driver::External)
    }

    /// `reportProgress` of a running execution that `by` moves along.
    pub fn report_progress_as(
        &mut self,
        seq: u64,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
        by: Driver,
    ) -> Result<bool> {
        let Some(status) = self.driven(seq, "report progress for", by)? else {
            return Ok(false);
        };
        let progress = Progress::new(current, total, message, self.now())?;
        if status != Status::Running {
            return Err(self.illegal(seq, "report progress for", status));
        }
        self.set_progress(seq, progress)?;
        Ok(true)
    }

    /// `complete(id, result)` of a running tracked execution.
    pub fn complete(&mut self, id: &str, result: Option<Value>) -> Result<u64> {
        let seq = self.lookup(id)?;
        self.complete_seq(seq, result)?;
        Ok(seq)
    }

    /// `complete` by creation sequence: `Ok(false)` if `seq` is not held.
    pub fn complete_seq(&mut self, seq: u64, result: Option<Value>) -> Result<bool> {
        self.complete_as(seq, result, Driver::External)
    }

    /// `complete` of a running execution that `by` moves along.
    pub fn complete_as(&mut self, seq: u64, result: Option<Value>, by: Driver) -> Result<bool> {
        let Some(status) = self.driven(seq, "complete", by)? else {
            return Ok(false);
        };
        let result = result.unwrap_or(Value::Null);
        check_depth(&result, "result")?;
        let to = status
            .to_completed()
            .map_err(|s| self.illegal(seq, "complete", s))?;
        let outcome = Outcome::Completed(to_text(&result));
        self.reserve(outcome.bytes())?;
        self.finish(seq, to, outcome);
        Ok(true)
    }

    /// `fail(id, error)` of a running tracked execution.
    pub fn fail(&mut self, id: &str, failure: Failure) -> Result<u64> {
        let seq = self.lookup(id)?;
        self.fail_seq(seq, failure)?;
        Ok(seq)
    }

    /// `fail` by creation sequence: `Ok(false)` if `seq` is not held.
    pub fn fail_seq(&mut self, seq: u64, failure: Failure) -> Result<bool> {
        self.fail_as(seq, failure, Driver::External)
    }

    /// `fail` of a running execution that `by` moves along (for a remote one:
    /// its job failed for good).
    pub fn fail_as(&mut self, seq: u64, failure: Failure, by: Driver) -> Result<bool> {
        let Some(status) = self.driven(seq, "fail", by)? else {
            return Ok(false);
        };
        let to = status
            .to_failed()
            .map_err(|s| self.illegal(seq, "fail", s))?;
        let outcome = Outcome::Failed(Box::new(failure));
        self.reserve(outcome.bytes())?;
        self.finish(seq, to, outcome);
        Ok(true)
    }

    /// A remote execution's running attempt ended and its queue runs it
    /// again (a failure with attempts left, or a worker that stopped
    /// mid-job): `running → pending`, keeping `failure` until the next
    /// start, its progress gone, `runAt` the time the queue will run it
    /// (`None`: now). The queue decided; no retry policy is consulted here.
    /// `Ok(false)` if `seq` is not held.
    pub fn retry_remote(
        &mut self,
        seq: u64,
        failure: Failure,
        run_at: Option<f64>,
    ) -> Result<bool> {
        let Some(status) = self.driven(seq, "retry", Driver::Remote)? else {
            return Ok(false);
        };
        let to = status
            .to_retrying()
            .map_err(|s| self.illegal(seq, "retry", s))?;
        let extra = Outcome::Failed(Box::new(failure.clone())).bytes();
        self.reserve(extra)?;
        let now = self.now();
        let run_at = run_at.map_or(now, |at| at.max(0.0));
        self.rebyte(seq, |r| r.wait_retry(failure, run_at, now));
        self.store.set_status(seq, to);
        self.emit(EventKind::Status, seq);
        self.evict_bytes(0, seq);
        Ok(true)
    }

    /// A `timeoutMs` deadline passed: fails the running attempt, if there
    /// is one (with `TIMEOUT`, which a retry policy retries); whether there was.
    pub fn time_out(&mut self, seq: u64) -> bool {
        let Some(record) = self.store.get(seq) else {
            return false;
        };
        if record.status() != Status::Running {
            return false;
        }
        let message = {
            let mut ms = String::new();
            write_f64(&mut ms, record.timeout_ms().unwrap_or(0.0));
            format!("execution {:?} timed out after {ms} ms", &**record.id())
        };
        self.fail_attempt(seq, Failure::new("TIMEOUT", "TimeoutError", message), true)
    }

    /// `cancel(id, reason)`: a pending or running execution becomes cancelled.
    pub fn cancel(&mut self, id: &str, reason: Option<String>) -> Result<u64> {
        let seq = self.lookup(id)?;
        self.cancel_seq(seq, reason)?;
        Ok(seq)
    }

    /// `cancel` by creation sequence: `Ok(false)` if `seq` is not held.
    pub fn cancel_seq(&mut self, seq: u64, reason: Option<String>) -> Result<bool> {
        let Some(status) = self.store.get(seq).map(Record::status) else {
            return Ok(false);
        };
        let to = status
            .to_cancelled()
            .map_err(|s| self.illegal(seq, "cancel", s))?;
        let outcome = Outcome::Cancelled(reason.map(String::into_boxed_str));
        self.reserve(outcome.bytes())?;
        self.finish(seq, to, outcome);
        Ok(true)
    }

    fn finish(&mut self, seq: u64, to: Status, outcome: Outcome) {
        self.disarm(seq);
        self.unqueue(seq);
        let now = self.now();
        if let Some(record) = self.store.get_mut(seq) {
            let before = record.bytes();
            record.end(outcome, now);
            let after = record.bytes();
            self.held_bytes = (self.held_bytes + after).saturating_sub(before);
            self.active_bytes = self.active_bytes.saturating_sub(before);
        }
        self.store.set_status(seq, to);
        self.log_state(seq);
        self.finished.push(seq);
        self.emit(EventKind::Status, seq);
        while self.store.finished_len() > self.options.max_finished {
            let Some(oldest) = self.store.earliest_finished() else {
                break;
            };
            self.take_out(oldest);
        }
        // A failure kept past the budget (a handler's, a timeout) makes room with the finished
        // executions that ended before it.
        self.evict_bytes(0, seq);
    }

    fn take_out(&mut self, seq: u64) -> Option<Record> {
        self.disarm(seq);
        let record = self.store.remove(seq)?;
        self.log_remove(seq);
        self.held_bytes = self.held_bytes.saturating_sub(record.bytes());
        if !record.status().is_terminal() {
            self.active_bytes = self.active_bytes.saturating_sub(record.bytes());
        }
        self.removed_total += 1;
        if self.track_removed {
            self.removed.push(seq);
        }
        if self.record_events || self.record_numbers {
            let mut event = capture(
                &record,
                EventKind::Removed,
                self.record_events,
                self.record_numbers,
            );
            if self.record_numbers {
                event.fixed = Some(record.fixed_json());
            }
            self.events.push(event);
        }
        Some(record)
    }

    /// `remove(id)` of a terminal execution; returns its snapshot (JSON text).
    pub fn remove(&mut self, id: &str) -> Result<String> {
        let seq = self.lookup(id)?;
        self.remove_seq(seq)?
            .map(|r| r.snapshot_json())
            .ok_or_else(|| Error::not_found(id))
    }

    /// `remove` by creation sequence: the removed record, `Ok(None)` if
    /// `seq` is not held.
    pub fn remove_seq(&mut self, seq: u64) -> Result<Option<Record>> {
        let Some(status) = self.store.get(seq).map(Record::status) else {
            return Ok(None);
        };
        if !status.is_terminal() {
            return Err(self.illegal(seq, "remove", status));
        }
        Ok(self.take_out(seq))
    }

    /// `clear()`: removes every terminal execution; returns how many.
    pub fn clear(&mut self) -> usize {
        let seqs = self.store.finished_seqs();
        seqs.into_iter()
            .filter(|&seq| self.take_out(seq).is_some())
            .count()
    }

    fn emit(&mut self, kind: EventKind, seq: u64) {
        if !self.record_events && !self.record_numbers {
            return;
        }
        if let Some(record) = self.store.get(seq) {
            let event = capture(record, kind, self.record_events, self.record_numbers);
            self.events.push(event);
        }
    }

    /// The held execution with this creation sequence.
    pub fn record(&self, seq: u64) -> Option<&Record> {
        self.store.get(seq)
    }

    /// The creation sequence of the execution with this id.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        self.store.seq_of(id)
    }

    /// The snapshot (JSON text) of the execution with this creation sequence.
    pub fn snapshot(&self, seq: u64) -> Option<String> {
        self.store.get(seq).map(Record::snapshot_json)
    }

    /// `status(id)` as JSON text; `None` for an unknown id.
    pub fn status_json(&self, id: &str) -> Option<String> {
        self.store.seq_of(id).and_then(|seq| self.snapshot(seq))
    }

    /// `progress(id)` as JSON text: `None` unknown, `Some(None)` none reported.
    pub fn progress_json(&self, id: &str) -> Option<Option<String>> {
        let record = self.store.seq_of(id).and_then(|seq| self.store.get(seq))?;
        Some(record.progress().map(|p| {
            let mut out = String::with_capacity(96);
            p.write_json(&mut out);
            out
        }))
    }

    /// `list(query)`: the page's creation sequences and the `Page` fields.
    pub fn list_page(&self, query: &ListQuery) -> Result<ListPage> {
        let (start, size) = query.start()?;
        let page = self.store.page(
            query.statuses.as_deref(),
            query.types.as_deref(),
            query.target_id.as_deref(),
            query.order,
            start,
            size,
        );
        let next_cursor = match (page.has_next, page.seqs.last()) {
            (true, Some(&last)) => Some(
                super::query::Cursor {
                    order: query.order,
                    after: last,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ListPage {
            total: page.total,
            page: match query.cursor {
                Some(_) => None,
                None => Some(query.page.unwrap_or(1)),
            },
            page_size: size,
            total_pages: page.total.div_ceil(size as u64),
            has_next: page.has_next,
            next_cursor,
            seqs: page.seqs,
        })
    }

    /// `list(query)` as the contract's `Page`, in JSON text.
    pub fn list_json(&self, query: &ListQuery) -> Result<String> {
        let page = self.list_page(query)?;
        let mut out = String::with_capacity(64 + page.seqs.len() * 256);
        out.push('{');
        write_key(&mut out, "items");
        out.push('[');
        for (i, seq) in page.seqs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(record) = self.store.get(*seq) {
                record.write_json(&mut out);
            }
        }
        out.push_str("],");
        write_key(&mut out, "total");
        write_f64(&mut out, page.total as f64);
        out.push(',');
        write_key(&mut out, "page");
        match page.page {
            None => out.push_str("null"),
            Some(p) => write_f64(&mut out, p as f64),
        }
        out.push(',');
        write_key(&mut out, "pageSize");
        write_f64(&mut out, page.page_size as f64);
        out.push(',');
        write_key(&mut out, "totalPages");
        write_f64(&mut out, page.total_pages as f64);
        out.push(',');
        write_key(&mut out, "hasNext");
        out.push_str(if page.has_next { "true" } else { "false" });
        out.push(',');
        write_key(&mut out, "nextCursor");
        match &page.next_cursor {
            Some(cursor) => write_str(&mut out, cursor),
            None => out.push_str("null"),
        }
        out.push('}');
        Ok(out)
    }

    /// `counts()`.
    pub fn counts(&self) -> Counts {
        let [pending, running, completed, failed, cancelled] = self.store.counts();
        Counts {
            pending,
            running,
            completed,
            failed,
            cancelled,
            total: self.store.len(),
        }
    }

    /// `counts()` as JSON text.
    pub fn counts_json(&self) -> String {
        let c = self.counts();
        format!(
            "{{\"pending\":{},\"running\":{},\"completed\":{},\"failed\":{},\"cancelled\":{},\"total\":{}}}",
            c.pending, c.running, c.completed, c.failed, c.cancelled, c.total
        )
    }

    /// How many index sets exist (memory checks in tests).
    pub fn index_set_count(&self) -> usize {
        self.store.index_set_count()
    }
}

/// One page of `list`, as creation sequences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The items' creation sequences, in page order.
    pub seqs: Vec<u64>,
    /// How many executions match the filter.
    pub total: u64,
    /// The page number; `None` when read with a cursor.
    pub page: Option<u64>,
    /// Items per page.
    pub page_size: usize,
    /// `ceil(total / page_size)`.
    pub total_pages: u64,
    /// Whether more items follow this page.
    pub has_next: bool,
    /// The cursor of the next page, when `has_next`.
    pub next_cursor: Option<String>,
}

struct Prepared {
    id: Option<String>,
    target_id: String,
    kind: Option<String>,
    inputs: Box<str>,
    config: Box<str>,
    timeout_ms: Option<f64>,
    priority: Option<i64>,
    delay_ms: Option<f64>,
    run_at: Option<f64>,
    retry: Option<Rc<Retry>>,
}

/// Whether a failure of this code may be retried: a handler's error, a
/// timeout, or an attempt interrupted by a stop of its process (not
/// `INVALID_RESULT`, not an external failure).
fn retried(code: &str) -> bool {
    matches!(code, "HANDLER_ERROR" | "TIMEOUT" | "INTERRUPTED")
}

/// An event of `record` in the forms asked for.
fn capture(record: &Record, kind: EventKind, json: bool, numbers: bool) -> Event {
    Event {
        kind,
        seq: record.seq(),
        snapshot: if json {
            record.snapshot_json()
        } else {
            String::new()
        },
        numbers: numbers.then(|| record.numbers()),
        texts: (numbers && record.has_texts()).then(|| record.texts_json()),
        fixed: None,
    }
}
