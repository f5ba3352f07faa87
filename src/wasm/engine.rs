//! The engine: the core manager for JavaScript, addressed by creation
//! sequence. It holds every execution, status, index, progress number and
//! text; `js/manager.js` owns everything of JS (handlers and their ctx,
//! AbortControllers, the timer, listeners, waiters) and wraps it into the
//! `ExecutionManager` users get.
//!
//! The engine never calls into JS while its state is borrowed: a call reads
//! its JS arguments first, and `Date.now()` and random bytes for ids (see
//! `clock.rs`), then borrows the state for the change. What the change
//! caused is queued here and drained by JS once the call returned: change
//! events ([`Engine::next_event`]), watched executions that became terminal
//! ([`Engine::next_finished`]), handler-driven executions ready to start
//! ([`Engine::next_start`]), the earliest deadline or `runAt` to arm the one
//! timer for,
//! and removed executions to drop from the JS cache. Numbers cross through
//! the scratch array (layout in [`crate::wire`]); strings and JSON only
//! where they must: an execution's fixed parts once, its texts when their
//! version changed. A call that fails returns [`reply::ERROR`] (or nothing,
//! with `ERROR` in the status slot) and leaves its error for
//! [`Engine::error`]; JS builds every `ExecutionError` from that one place.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use serde_json::Value;
use wasm_bindgen::prelude::*;

use super::clock::{RandomIds, Time};
use super::convert::{self, describe, json};
use super::{args, rest, signal};
use crate::core::durable::{DurableState, Replayer};
use crate::core::rest::{RestRequest, Stream};
use crate::core::{
    Driver, Error, Event, EventKind, Failure, Manager, Numbers, Options, Record, SplitMix, Status,
};
use crate::wire::{reply, slot, status, work, SWEEP_AT};

/// The bytes all the managers of this wasm instance may hold together (as
/// `maxBytes` counts them): each one's budget is what its own `maxBytes`
/// and this leave. With UTF-8 text at most 1.5 bytes per counted byte, the
/// allocator's overhead and one value being copied in, the heap stays well
/// inside its 4 GiB whatever the managers and calls.
const INSTANCE_LIMIT: u64 = 3 << 29; // 1.5 GiB

thread_local! {
    /// What every engine of this instance last reported it holds.
    static INSTANCE_HELD: Cell<u64> = const { Cell::new(0) };
}

/// What a queued event holds outside the store, as the budget counts it.
fn event_bytes(e: &Event) -> u64 {
    let texts = e.texts.as_deref().map_or(0, str::len) + e.fixed.as_deref().map_or(0, str::len);
    128 + 2 * texts as u64
}

/// What a queued finished entry holds outside the store.
fn finished_bytes(f: &Finished) -> u64 {
    128 + 2 * f.texts.as_deref().map_or(0, str::len) as u64
}

/// Why JS watches an execution: it runs its handler, or waits for its end.
const RUN: u8 = 1;
const WAIT: u8 = 2;
/// A remote execution: JS tells its queue when it ends (a cancel, mostly).
const REMOTE: u8 = 4;

/// What [`Engine::stage`] converts ahead of the change that uses it.
const STAGE_RESULT: u32 = 0;
const STAGE_FAILURE: u32 = 1;
const STAGE_REASON: u32 = 2;

/// An argument converted ahead of its change (see [`Engine::stage`]).
enum Staged {
    Result(Value),
    Failure(Failure),
    Reason(Option<String>),
}

/// A watched execution that became terminal (or, for a running handler, whose
/// attempt ended in a wait for a retry): its numbers and texts then.
struct Finished {
    seq: u64,
    numbers: Numbers,
    texts: Option<String>,
}

/// The scratch array JS reads through a `Float64Array` (layout in
/// [`crate::wire::slot`]). It lives outside the state's `RefCell`, so a call
/// can still answer through it when the state is busy.
struct Scratch([Cell<f64>; slot::LEN]);

impl Scratch {
    fn set(&self, at: usize, value: f64) {
        if let Some(s) = self.0.get(at) {
            s.set(value);
        }
    }

    /// Writes `n` of `seq` to the execution slots; returns the status code.
    fn write(&self, n: &Numbers, seq: u64) -> i32 {
        let opt = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let (has, current, total, updated) = match n.progress {
            Some((current, total, updated)) => (1.0, current, opt(total), updated),
            None => (0.0, 0.0, f64::NAN, 0.0),
        };
        let code = n.status.index() as i32 + 1;
        let values = [
            n.created_at,
            opt(n.started_at),
            opt(n.finished_at),
            n.updated_at,
            has,
            current,
            total,
            updated,
            f64::from(n.text_version),
            if n.has_texts { 1.0 } else { 0.0 },
            f64::from(code),
            seq as f64,
            f64::from(n.attempt),
            opt(n.run_at),
        ];
        for (cell, value) in self.0.iter().zip(values) {
            cell.set(value);
        }
        code
    }

    /// The time JS wrote for this call ([`slot::NOW`]), taken: NaN is
    /// written back, so a later call that JS wrote none for reads the clock.
    fn take_now(&self) -> f64 {
        self.0
            .get(slot::NOW)
            .map_or(f64::NAN, |s| s.replace(f64::NAN))
    }

    fn reply(&self, code: i32) -> i32 {
        self.set(slot::STATUS, f64::from(code));
        code
    }
}

struct State {
    core: Manager,
    error: Option<Error>,
    staged: Option<Staged>,
    watched: FxHashMap<u64, u8>,
    finished: VecDeque<Finished>,
    /// Remote executions created and not yet handed to JS ([`Engine::next_submit`]).
    submits: VecDeque<u64>,
    events: VecDeque<Event>,
    /// The event or finished execution last handed out, for its texts.
    current: Option<Event>,
    current_finished: Option<Finished>,
    cursor: Option<String>,
    /// The headers of the last REST answer (`Allow` of a 405, `Location` of
    /// a 201), as name/value pairs.
    headers: Vec<String>,
    /// What the stream route of the last REST answer (its 501) asked to
    /// follow, for `fetch()` to serve.
    stream: Option<Box<Stream>>,
    /// The time the JS timer is armed for (see [`crate::wire::slot::WAKE`]).
    wake: Option<f64>,
    listening: bool,
    /// Bytes of the queued events and finished entries (see [`event_bytes`]).
    queued_bytes: u64,
    /// What this engine last reported to [`INSTANCE_HELD`].
    reported: u64,
    /// The store being read, while a durable manager opens.
    replayer: Option<Replayer>,
}

/// The engine behind one `ExecutionManager` (internal: users get the class
/// of `js/manager.js`, which wraps it).
#[wasm_bindgen(skip_typescript)] // internal to js/manager.js, which is what users see
pub struct Engine {
    state: RefCell<State>,
    scratch: Box<Scratch>,
    /// The state was borrowed when a call came (JS re-entered the engine
    /// from inside a call, which the engine itself never does).
    busy: Cell<bool>,
    time: Time,
    ids: RandomIds,
    /// The `AbortSignal` the last `create`/`track` or [`Engine::options_signal`]
    /// read, until JS takes it ([`Engine::take_signal`]) right after the call.
    signal: Cell<Option<JsValue>>,
}

/// An optional argument: `undefined` and `null` are absent (as
/// wasm-bindgen's `Option<JsValue>` reads them).
fn given(value: JsValue) -> Option<JsValue> {
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// Who moves an execution along for a call of JS: the remote driver
/// (`execman/bullmq`) or, for the public moves, the tracked one.
fn driver(remote: bool) -> Driver {
    if remote {
        Driver::Remote
    } else {
        Driver::External
    }
}

/// A creation sequence from JS (NaN and negatives become 0, which no
/// execution has).
fn seq(value: f64) -> u64 {
    value as u64
}

impl State {
    /// Records a failed call: its error for [`Engine::error`], the reply code.
    fn fail(&mut self, sc: &Scratch, error: Error) -> i32 {
        self.error = Some(error);
        sc.reply(reply::ERROR)
    }

    /// Fills the execution slots with `seq`'s numbers; its status code, or
    /// [`reply::GONE`].
    fn fill(&self, sc: &Scratch, seq: u64) -> i32 {
        match self.core.record(seq).map(Record::numbers) {
            Some(numbers) => sc.write(&numbers, seq),
            None => sc.reply(reply::GONE),
        }
    }

    /// Fills `seq` and returns its texts when it has some.
    fn fill_texts(&self, sc: &Scratch, seq: u64) -> Option<String> {
        if self.fill(sc, seq) == reply::GONE {
            return None;
        }
        self.core
            .record(seq)
            .filter(|r| r.has_texts())
            .map(Record::texts_json)
    }

    /// Takes what the core queued into the engine's queues: watched
    /// executions that ended (with their numbers and texts now, before a
    /// later change can evict them), running attempts that ended in a wait
    /// for a retry (JS aborts their signal; waiters keep waiting), and change
    /// events.
    fn collect(&mut self) {
        for seq in self.core.take_submitted() {
            *self.watched.entry(seq).or_default() |= REMOTE;
            self.submits.push_back(seq);
        }
        for seq in self.core.take_finished() {
            let Some(r) = self.core.record(seq) else {
                self.watched.remove(&seq);
                continue;
            };
            let watched = if r.status().is_terminal() {
                self.watched.remove(&seq).is_some()
            } else {
                // An attempt ended: only its handler's run is over.
                match self.watched.get_mut(&seq) {
                    Some(w) if *w & RUN != 0 => {
                        *w &= !RUN;
                        if *w == 0 {
                            self.watched.remove(&seq);
                        }
                        true
                    }
                    _ => false,
                }
            };
            if watched {
                let f = Finished {
                    seq,
                    numbers: r.numbers(),
                    texts: r.has_texts().then(|| r.texts_json()),
                };
                self.queued_bytes += finished_bytes(&f);
                self.finished.push_back(f);
            }
        }
        if self.core.has_events() {
            let queued = self.events.len();
            let to = self.listening.then_some(&mut self.events);
            self.queued_bytes += self.core.drain_events_into(to, event_bytes);
            if self.listening {
                self.attach_fixed(queued);
            }
        }
        self.report();
    }

    /// Tells the instance what this engine holds now.
    fn report(&mut self) {
        let (held, _) = self.core.held_bytes();
        let now = held + self.queued_bytes;
        INSTANCE_HELD.with(|h| h.set(h.get().saturating_sub(self.reported) + now));
        self.reported = now;
    }

    /// Before a change: the budget the instance can give this engine now,
    /// and what the engine holds outside the store.
    fn limits(&mut self) {
        let others = INSTANCE_HELD.with(Cell::get).saturating_sub(self.reported);
        self.core
            .set_limits(INSTANCE_LIMIT.saturating_sub(others), self.queued_bytes);
    }

    /// Events queued before an execution was removed carry the fixed parts
    /// its `removed` event captured: JS may not have them cached, and the
    /// engine no longer holds them. `fresh` is where this call's events
    /// start in the queue.
    fn attach_fixed(&mut self, fresh: usize) {
        let removed: FxHashMap<u64, String> = self
            .events
            .iter()
            .skip(fresh)
            .filter(|e| e.kind == EventKind::Removed)
            .filter_map(|e| Some((e.seq, e.fixed.clone()?)))
            .collect();
        if removed.is_empty() {
            return;
        }
        for event in self.events.iter_mut() {
            if event.fixed.is_none() && event.kind != EventKind::Removed {
                if let Some(fixed) = removed.get(&event.seq) {
                    self.queued_bytes += 2 * fixed.len() as u64;
                    event.fixed = Some(fixed.clone());
                }
            }
        }
    }

    /// After a change: [`State::collect`], then the work flags and the time
    /// the timer must fire in the scratch.
    fn settle(&mut self, sc: &Scratch) {
        self.collect();
        let mut flags = 0;
        if !self.events.is_empty() {
            flags |= work::EVENTS;
        }
        if !self.finished.is_empty() {
            flags |= work::FINISHED;
        }
        if !self.submits.is_empty() {
            flags |= work::SUBMITS;
        }
        if self.core.has_queued() && self.core.in_flight() < self.core.options().concurrency {
            flags |= work::STARTS;
        }
        let wake = self.core.next_wakeup();
        if wake != self.wake {
            self.wake = wake;
            let (due, delay) = match wake {
                // The delay from the time the change read (a start: its startedAt).
                Some(due) => (due, (due - self.core.last_now()).max(0.0)),
                None => (f64::NAN, f64::NAN),
            };
            sc.set(slot::WAKE, due);
            sc.set(slot::DELAY, delay);
            flags |= work::TIMER;
        }
        if self.core.removed_len() >= SWEEP_AT {
            flags |= work::REMOVED;
        }
        if self.core.batch_len() > 0 {
            flags |= work::STORE;
        }
        sc.set(slot::WORK, f64::from(flags));
    }

    /// [`State::settle`] after a change that can only have caused events.
    /// (`weighed`: the change may have changed the bytes held.)
    fn settle_events(&mut self, sc: &Scratch, weighed: bool) {
        if self.core.has_events() {
            let to = self.listening.then_some(&mut self.events);
            self.queued_bytes += self.core.drain_events_into(to, event_bytes);
        }
        if weighed {
            self.report();
        }
        let mut flags = 0;
        if !self.events.is_empty() {
            flags |= work::EVENTS;
        }
        if self.core.batch_len() > 0 {
            flags |= work::STORE;
        }
        sc.set(slot::WORK, f64::from(flags));
    }

    /// Runs a change by sequence (`op` returns `Ok(false)` when `seq` is not
    /// held), fills the scratch with `seq` afterwards and returns its texts
    /// when it has some.
    fn change(
        &mut self,
        sc: &Scratch,
        seq: u64,
        op: impl FnOnce(&mut Manager) -> Result<bool, Error>,
    ) -> Option<String> {
        let texts = match op(&mut self.core) {
            Ok(true) => self.fill_texts(sc, seq),
            Ok(false) => {
                sc.reply(reply::GONE);
                None
            }
            Err(e) => {
                self.fail(sc, e);
                None
            }
        };
        self.settle(sc);
        texts
    }

    /// The staged argument of a change, if JS staged one (`staged`); a
    /// value staged for an earlier call that never used it is dropped.
    fn take_staged(&mut self, staged: bool) -> Option<Staged> {
        let value = self.staged.take();
        if staged {
            value
        } else {
            None
        }
    }
}

impl Engine {
    /// Sets the time of the call about to start (see [`Time::tick`]).
    fn tick(&self) {
        self.time.tick(self.scratch.take_now());
    }

    /// The state for a call that reads it only.
    fn st(&self) -> Option<RefMut<'_, State>> {
        match self.state.try_borrow_mut() {
            Ok(st) => Some(st),
            Err(_) => {
                self.busy.set(true);
                self.scratch.reply(reply::ERROR);
                None
            }
        }
    }

    /// The state for a change: reads `Date.now()` first, and gives the
    /// core the budget in force.
    fn begin(&self) -> Option<RefMut<'_, State>> {
        self.tick();
        let mut st = self.st()?;
        st.limits();
        Some(st)
    }

    /// Runs an argument conversion within the room the budget leaves (see
    /// `convert::within`).
    fn within<T>(&self, convert: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let (room, budget) = self.state.try_borrow_mut().map_or((0, 0), |mut st| {
            st.limits();
            (st.core.room(), st.core.max_bytes())
        });
        convert::within(room, budget, convert)
    }

    fn insert(&self, request: JsValue, tracked: bool) -> Option<String> {
        self.signal.set(None);
        let request = self.within(|| args::request(&request));
        if !matches!(&request, Ok((r, _)) if r.id.is_some()) {
            self.ids.ensure();
        }
        let mut st = self.begin()?;
        let sc = &*self.scratch;
        let created = request.and_then(|(r, signal)| {
            self.signal.set(signal);
            if tracked {
                st.core.track(r)
            } else {
                st.core.create(r)
            }
        });
        let fixed = match created {
            Ok(seq) => {
                st.fill(sc, seq);
                st.core.record(seq).map(Record::fixed_json)
            }
            Err(e) => {
                self.signal.set(None);
                st.fail(sc, e);
                None
            }
        };
        st.settle(sc);
        fixed
    }

    /// The state for a change of `seq`; `None` with GONE in the status slot
    /// when `seq` is not held (a staged argument is kept for the retry by id).
    fn held(&self, seq: u64) -> Option<RefMut<'_, State>> {
        let st = self.begin()?;
        if st.core.record(seq).is_none() {
            self.scratch.reply(reply::GONE);
            return None;
        }
        Some(st)
    }

    fn answer(&self, request: Result<RestRequest, Error>) -> Option<String> {
        let mut st = self.begin()?;
        let sc = &*self.scratch;
        let response = rest::serve(&mut st.core, request);
        st.headers.clear();
        if let Some(allow) = response.allow {
            st.headers.extend(["allow".to_owned(), allow.to_owned()]);
        }
        if let Some(location) = response.location {
            st.headers.extend(["location".to_owned(), location]);
        }
        st.stream = response.stream;
        st.settle(sc);
        sc.reply(i32::from(response.status));
        response.body
    }
}

#[wasm_bindgen]
impl Engine {
    /// An engine with `options` (`{ concurrency?, maxFinished? }`); invalid
    /// options leave their error for [`Engine::error`] (and the defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Engine {
        let (options, error) = match convert::unbounded(|| args::options(given(options))) {
            Ok(options) => (options, None),
            Err(e) => (Options::default(), Some(e)),
        };
        let time = Time::default();
        let ids = RandomIds::new();
        let mut core = Manager::new(options, Box::new(time.clone()), Box::new(ids.clone()));
        core.set_random(Box::new(SplitMix(ids.seed())));
        // The id hash's secret keys; std's (fixed in this target) only when
        // crypto.getRandomValues gave no bytes.
        let (k0, k1) = (ids.seed(), ids.seed());
        if k0 != 0 || k1 != 0 {
            core.set_id_keys(k0, k1);
        }
        core.set_track_removed(true);
        let scratch = Box::new(Scratch(std::array::from_fn(|_| Cell::new(0.0))));
        scratch.set(slot::WAKE, f64::NAN);
        scratch.set(slot::DELAY, f64::NAN);
        scratch.set(slot::NOW, f64::NAN);
        Engine {
            state: RefCell::new(State {
                core,
                error,
                staged: None,
                watched: FxHashMap::default(),
                finished: VecDeque::new(),
                submits: VecDeque::new(),
                events: VecDeque::new(),
                current: None,
                current_finished: None,
                cursor: None,
                headers: Vec::new(),
                stream: None,
                wake: None,
                listening: false,
                queued_bytes: 0,
                reported: 0,
                replayer: None,
            }),
            scratch,
            busy: Cell::new(false),
            time,
            ids,
            signal: Cell::new(None),
        }
    }

    /// Starts reading a store into this engine, which must be new: the
    /// bytes follow in chunks ([`Engine::restore_feed`]), then
    /// [`Engine::restore_finish`]. 1 or [`reply::ERROR`].
    pub fn restore_begin(&self) -> i32 {
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        if st.core.is_durable() || st.core.counts().total > 0 {
            return st.fail(
                &self.scratch,
                Error::store("only a new manager can open a store"),
            );
        }
        st.replayer = Some(Replayer::new(DurableState::with_id_hasher(
            st.core.id_hasher(),
        )));
        1
    }

    /// The next bytes of the store, in order (chunks of any size). 1, or
    /// [`reply::ERROR`] with a `STORE_ERROR` naming the byte offset of the
    /// damage (every later call fails the same way).
    pub fn restore_feed(&self, chunk: &[u8]) -> i32 {
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        let fed = match st.replayer.as_mut() {
            Some(r) => r.feed(chunk).map_err(|e| Error::store(e.to_string())),
            None => Err(Error::store("no store is being read")),
        };
        match fed {
            Ok(()) => 1,
            Err(e) => st.fail(&self.scratch, e),
        }
    }

    /// Ends the reading: the executions the store held are restored (with
    /// the restart rules) and from now on every change is written to the
    /// batch. Returns where the last whole record ends: a writer cuts the
    /// store there (a torn last write) before appending; [`reply::ERROR`]
    /// with a `STORE_ERROR` for damage.
    pub fn restore_finish(&self) -> f64 {
        self.tick();
        let Some(mut st) = self.st() else {
            return f64::from(reply::ERROR);
        };
        let sc = &*self.scratch;
        let replayed = match st.replayer.take() {
            Some(r) => r.finish().map_err(|e| Error::store(e.to_string())),
            None => Err(Error::store("no store is being read")),
        };
        let restored =
            replayed.and_then(|r| st.core.restore(r.state, r.valid_len).map(|()| r.valid_len));
        match restored {
            Ok(len) => {
                st.settle(sc);
                len as f64
            }
            Err(e) => f64::from(st.fail(sc, e)),
        }
    }

    /// The records of every change made since the last call, to append to
    /// the store; nothing with a `STORE_ERROR` left when a change could not
    /// be encoded (then only an [`Engine::image`] brings the store up to
    /// date).
    pub fn take_batch(&self) -> Option<Vec<u8>> {
        let mut st = self.st()?;
        match st.core.take_batch() {
            Ok(batch) => Some(batch),
            Err(e) => {
                st.fail(&self.scratch, e);
                None
            }
        }
    }

    /// Whether the store should be replaced by an [`Engine::image`] now.
    pub fn should_compact(&self) -> bool {
        self.st().is_some_and(|st| st.core.should_compact())
    }

    /// A whole store holding the state now, to replace the store with
    /// atomically (the changes not yet taken are in it); nothing with a
    /// `STORE_ERROR` left.
    pub fn image(&self) -> Option<Vec<u8>> {
        let mut st = self.st()?;
        match st.core.image() {
            Ok(image) => Some(image),
            Err(e) => {
                st.fail(&self.scratch, e);
                None
            }
        }
    }

    /// The `WebAssembly.Memory` the scratch arrays live in.
    pub fn memory() -> JsValue {
        wasm_bindgen::memory()
    }

    /// The byte address of this engine's scratch array.
    pub fn scratch(&self) -> u32 {
        self.scratch.0.as_ptr() as usize as u32
    }

    /// The constants of [`crate::wire`] as `{ NAME: value }` JSON (the
    /// engine suite compares them with js/manager.js's).
    pub fn wire() -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in crate::wire::ALL.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
            crate::core::write_f64(&mut out, *value);
        }
        out.push('}');
        out
    }

    /// The last failed call's error as `"CODE\tmessage"`, and forgets it;
    /// empty when there is none.
    pub fn error(&self) -> String {
        if self.busy.replace(false) {
            let busy = Error::invalid("this", "the manager is busy in another call on this stack");
            return format!("{}\t{busy}", busy.code());
        }
        self.state
            .try_borrow_mut()
            .ok()
            .and_then(|mut st| st.error.take())
            .map(|e| format!("{}\t{e}", e.code()))
            .unwrap_or_default()
    }

    /// Leaves an `INVALID_ARGUMENT` error for an argument JS found to be of
    /// the wrong type: "`field` must be `what`, got …"; returns
    /// [`reply::ERROR`].
    pub fn invalid(&self, field: &str, what: &str, value: JsValue) -> i32 {
        let error = Error::invalid(field, format!("must be {what}, got {}", describe(&value)));
        self.st()
            .map_or(reply::ERROR, |mut st| st.fail(&self.scratch, error))
    }

    /// Leaves the `INVALID_ARGUMENT` error of an optional string argument
    /// that JS found not to be a well-formed string within the string limit,
    /// worded as the engine words every string argument; returns
    /// [`reply::ERROR`].
    pub fn invalid_string(&self, field: &str, value: JsValue) -> i32 {
        let error = match convert::unbounded(|| convert::opt_string(Some(value), field)) {
            Err(e) => e,
            Ok(_) => Error::invalid(field, "must be a string"),
        };
        self.st()
            .map_or(reply::ERROR, |mut st| st.fail(&self.scratch, error))
    }

    /// `register(targetId, handler, options)` (`options`: `{ type?, retry? }`);
    /// `is_function` tells whether
    /// the handler is a function (checked after the target and options, as
    /// the contract orders the messages); `remote`: the handler is a queue's
    /// (`execman/bullmq`'s `enqueue`), whose workers run the executions
    /// elsewhere. [`reply::ERROR`] or 1.
    pub fn register(
        &self,
        target_id: JsValue,
        options: JsValue,
        is_function: bool,
        remote: bool,
    ) -> i32 {
        let parsed = convert::unbounded(|| args::target(&target_id, given(options)));
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        let sc = &*self.scratch;
        let (target_id, kind, retry) = match parsed {
            Ok(t) => t,
            Err(e) => return st.fail(sc, e),
        };
        if !is_function {
            return st.fail(sc, Error::invalid("handler", "must be a function"));
        }
        let registered = if remote {
            st.core.register_remote(&target_id, kind.as_deref(), retry)
        } else {
            st.core.register_with(&target_id, kind.as_deref(), retry)
        };
        match registered {
            Ok(()) => {
                // Restored executions of this target may be due now.
                st.settle(sc);
                sc.reply(1)
            }
            Err(e) => st.fail(sc, e),
        }
    }

    /// `create(request)`: fills the scratch with the new execution and
    /// returns its fixed parts (`Record::fixed_json`); nothing on error.
    pub fn create(&self, request: JsValue) -> Option<String> {
        self.insert(request, false)
    }

    /// `track(request)`, as [`Engine::create`].
    pub fn track(&self, request: JsValue) -> Option<String> {
        self.insert(request, true)
    }

    /// The creation sequence of the execution with id `id` (any JS value: a
    /// non-string is unknown), its numbers in the scratch; 0 when unknown
    /// (with a `NOT_FOUND` error left when `must`); [`reply::ERROR`] for an
    /// id with a lone surrogate.
    pub fn find(&self, id: JsValue, must: bool) -> f64 {
        let key = convert::unbounded(|| convert::id(&id));
        let Some(mut st) = self.st() else {
            return f64::from(reply::ERROR);
        };
        let sc = &*self.scratch;
        let key = match key {
            Ok(key) => key,
            Err(e) => return f64::from(st.fail(sc, e)),
        };
        match key.and_then(|k| st.core.seq_of(&k)) {
            Some(seq) => {
                st.fill(sc, seq);
                seq as f64
            }
            None if must => f64::from(st.fail(sc, convert::unbounded(|| convert::not_found(&id)))),
            None => {
                sc.reply(reply::GONE);
                0.0
            }
        }
    }

    /// Fills the scratch with `seq`'s numbers; its status code or
    /// [`reply::GONE`].
    pub fn fill(&self, s: f64) -> i32 {
        self.st()
            .map_or(reply::ERROR, |st| st.fill(&self.scratch, seq(s)))
    }

    /// `[id, targetId, type, inputs, config]` of `seq` as JSON text.
    pub fn fixed(&self, s: f64) -> Option<String> {
        self.st()?.core.record(seq(s)).map(Record::fixed_json)
    }

    /// `[message, outcome]` of `seq` as JSON text (`Record::texts_json`).
    pub fn texts(&self, s: f64) -> Option<String> {
        self.st()?.core.record(seq(s)).map(Record::texts_json)
    }

    /// Converts the argument of the change JS is about to make, before it
    /// looks the execution up (so argument errors come before `NOT_FOUND`,
    /// and user getters run once): `kind` 0 a `complete` result, 1 a `fail`
    /// error, 2 a `cancel` reason. 1 or [`reply::ERROR`].
    pub fn stage(&self, kind: u32, value: JsValue) -> i32 {
        let staged = self.within(|| match kind {
            STAGE_RESULT => json(&value, "result").map(Staged::Result),
            STAGE_FAILURE => convert::failure(&value).map(Staged::Failure),
            STAGE_REASON => convert::opt_string(Some(value), "reason").map(Staged::Reason),
            _ => Err(Error::invalid("kind", "is not a staged argument")),
        });
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        match staged {
            Ok(staged) => {
                st.staged = Some(staged);
                1
            }
            Err(e) => st.fail(&self.scratch, e),
        }
    }

    /// `start` of a tracked execution (`remote`: of a remote one, whose job
    /// became active): fills the scratch, returns its texts.
    pub fn start(&self, s: f64, remote: bool) -> Option<String> {
        let seq = seq(s);
        let by = driver(remote);
        self.begin()?
            .change(&self.scratch, seq, |m| m.start_as(seq, by))
    }

    /// A progress report: `reportProgress` (`handler` false: a running
    /// tracked execution, else `INVALID_TRANSITION`) or `ctx.progress` of
    /// attempt `attempt` (`handler` true: ignored once that attempt is not
    /// running). JS has
    /// checked the types: `current` and `total` are numbers (`has_total`
    /// false: none), `message` a well-formed string within the string limit.
    /// Returns 1, [`reply::GONE`] or [`reply::ERROR`].
    #[allow(clippy::too_many_arguments)] // numbers cross one by one: no object to convert
    pub fn progress(
        &self,
        s: f64,
        current: f64,
        total: f64,
        has_total: bool,
        message: Option<String>,
        handler: bool,
        attempt: u32,
        remote: bool,
    ) -> i32 {
        self.tick();
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        // The budget matters only when the report can add bytes: a message, or an event.
        let weighs = message.is_some() || st.listening;
        if weighs {
            st.limits();
        }
        let sc = &*self.scratch;
        let seq = seq(s);
        let total = has_total.then_some(total);
        let result = if handler {
            st.core
                .attempt_progress(seq, attempt, current, total, message)
                .map(|()| true)
        } else {
            st.core
                .report_progress_as(seq, current, total, message, driver(remote))
        };
        let code = match result {
            Ok(true) => 1,
            Ok(false) => reply::GONE,
            Err(e) => st.fail(sc, e),
        };
        // A report can only cause events: nothing ends, starts, moves a deadline or is removed.
        st.settle_events(sc, weighs);
        code
    }

    /// `complete(id, result)` by sequence, with the result [`Engine::stage`]d
    /// (`staged` false: `null`); `remote`: of a remote execution.
    pub fn complete(&self, s: f64, staged: bool, remote: bool) -> Option<String> {
        let seq = seq(s);
        let mut st = self.held(seq)?;
        let result = match st.take_staged(staged) {
            Some(Staged::Result(value)) => Some(value),
            _ => None,
        };
        let by = driver(remote);
        st.change(&self.scratch, seq, |m| m.complete_as(seq, result, by))
    }

    /// `fail(id, error)` by sequence, with the error [`Engine::stage`]d;
    /// `remote`: of a remote execution.
    pub fn fail(&self, s: f64, remote: bool) -> Option<String> {
        let seq = seq(s);
        let mut st = self.held(seq)?;
        let Some(Staged::Failure(failure)) = st.take_staged(true) else {
            st.fail(&self.scratch, Error::invalid("error", "was not given"));
            return None;
        };
        let by = driver(remote);
        st.change(&self.scratch, seq, |m| m.fail_as(seq, failure, by))
    }

    /// A remote execution's attempt ended and its queue runs it again at
    /// `run_at` (NaN: now), with the attempt's failure [`Engine::stage`]d:
    /// `running → pending`.
    pub fn retry(&self, s: f64, run_at: f64) -> Option<String> {
        let seq = seq(s);
        let mut st = self.held(seq)?;
        let Some(Staged::Failure(failure)) = st.take_staged(true) else {
            st.fail(&self.scratch, Error::invalid("error", "was not given"));
            return None;
        };
        let run_at = run_at.is_finite().then_some(run_at);
        st.change(&self.scratch, seq, |m| m.retry_remote(seq, failure, run_at))
    }

    /// The retry policy of `seq` as JSON text (`Retry::to_json`), when it
    /// has one: what a remote execution's queue maps to its job's options.
    pub fn policy(&self, s: f64) -> Option<String> {
        let st = self.st()?;
        let retry = st.core.record(seq(s))?.retry()?;
        Some(crate::core::to_text(&retry.to_json()).into())
    }

    /// The next remote execution created and not yet handed to its queue:
    /// its sequence (0: none left), its numbers in the scratch (GONE when
    /// it was removed meanwhile: JS skips it).
    pub fn next_submit(&self) -> f64 {
        let Some(mut st) = self.st() else {
            return 0.0;
        };
        let Some(seq) = st.submits.pop_front() else {
            return 0.0;
        };
        st.fill(&self.scratch, seq);
        seq as f64
    }

    /// `cancel(id, reason)` by sequence, with the reason [`Engine::stage`]d
    /// (`staged` false: none).
    pub fn cancel(&self, s: f64, staged: bool) -> Option<String> {
        let seq = seq(s);
        let mut st = self.held(seq)?;
        let reason = match st.take_staged(staged) {
            Some(Staged::Reason(reason)) => reason,
            _ => None,
        };
        st.change(&self.scratch, seq, |m| m.cancel_seq(seq, reason))
    }

    /// `remove(id)` by sequence: fills the scratch with the execution as it
    /// was and returns its texts.
    pub fn remove(&self, s: f64) -> Option<String> {
        let seq = seq(s);
        let mut st = self.begin()?;
        let sc = &*self.scratch;
        let texts = st.fill_texts(sc, seq);
        let texts = match st.core.remove_seq(seq) {
            Ok(Some(_)) => texts,
            Ok(None) => {
                sc.reply(reply::GONE);
                None
            }
            Err(e) => {
                st.fail(sc, e);
                None
            }
        };
        st.settle(sc);
        texts
    }

    /// `clear()`: how many terminal executions it removed.
    pub fn clear(&self) -> f64 {
        let Some(mut st) = self.begin() else {
            return f64::from(reply::ERROR);
        };
        let n = st.core.clear();
        st.settle(&self.scratch);
        n as f64
    }

    /// `list(query)`: `[total, page (NaN: null), pageSize, totalPages,
    /// hasNext, ...creation sequences]`; the next cursor is kept for
    /// [`Engine::cursor`]. Empty on error.
    pub fn list(&self, query: JsValue) -> Vec<f64> {
        let query = self.within(|| args::query(given(query)));
        let Some(mut st) = self.st() else {
            return Vec::new();
        };
        let page = match query.and_then(|q| st.core.list_page(&q)) {
            Ok(page) => page,
            Err(e) => {
                st.fail(&self.scratch, e);
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(5 + page.seqs.len());
        out.extend([
            page.total as f64,
            page.page.map_or(f64::NAN, |p| p as f64),
            page.page_size as f64,
            page.total_pages as f64,
            if page.has_next { 1.0 } else { 0.0 },
        ]);
        out.extend(page.seqs.iter().map(|&s| s as f64));
        st.cursor = page.next_cursor;
        out
    }

    /// The `nextCursor` of the last [`Engine::list`] page.
    pub fn cursor(&self) -> Option<String> {
        self.st()?.cursor.take()
    }

    /// `counts()`: `[pending, running, completed, failed, cancelled, total]`.
    pub fn counts(&self) -> Vec<f64> {
        let Some(st) = self.st() else {
            return Vec::new();
        };
        st.core
            .counts()
            .to_array()
            .iter()
            .map(|&n| n as f64)
            .collect()
    }

    /// Whether change events are queued (JS has listeners).
    pub fn listen(&self, on: bool) {
        if let Some(mut st) = self.st() {
            st.listening = on;
            st.core.set_record_numbers(on);
            if !on {
                st.events.clear();
                st.queued_bytes = st.finished.iter().map(finished_bytes).sum();
            }
        }
    }

    /// Queues `seq` for [`Engine::next_finished`] when it becomes terminal
    /// (JS waits for it).
    pub fn watch(&self, s: f64) {
        if let Some(mut st) = self.st() {
            if st.core.record(seq(s)).is_some() {
                *st.watched.entry(seq(s)).or_default() |= WAIT;
            }
        }
    }

    /// [`Engine::fill`], then [`Engine::watch`] unless the execution is
    /// terminal (or not held): the one call of a `wait` without a signal.
    /// Its status code, or [`reply::GONE`].
    pub fn wait(&self, s: f64) -> i32 {
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        let seq = seq(s);
        let code = st.fill(&self.scratch, seq);
        if code != reply::GONE && code < status::COMPLETED {
            *st.watched.entry(seq).or_default() |= WAIT;
        }
        code
    }

    /// Reads the `signal` of `wait`/`watch` options (`undefined`/`null`
    /// options: none) and keeps it for [`Engine::take_signal`]: 1 when there
    /// is one, 0 when not, [`reply::ERROR`] when the options are malformed.
    pub fn options_signal(&self, options: JsValue) -> i32 {
        self.signal.set(None);
        let parsed = convert::unbounded(|| signal::option(options));
        let Some(mut st) = self.st() else {
            return reply::ERROR;
        };
        match parsed {
            Ok(Some(s)) => {
                self.signal.set(Some(s));
                1
            }
            Ok(None) => 0,
            Err(e) => st.fail(&self.scratch, e),
        }
    }

    /// The `AbortSignal` the last `create`, `track` or
    /// [`Engine::options_signal`] read (`undefined`: none); JS takes it right
    /// after that call, and the engine keeps nothing of it.
    pub fn take_signal(&self) -> JsValue {
        self.signal.take().unwrap_or(JsValue::UNDEFINED)
    }

    /// `subscribe` options as `[id, targetId, types, throttleMs]` (`null`
    /// for an absent filter, `NaN` for no throttle); `undefined` when they
    /// are malformed, with the error left.
    pub fn subscription(&self, options: JsValue) -> JsValue {
        let parsed = convert::unbounded(|| args::subscription(given(options)));
        let Some(mut st) = self.st() else {
            return JsValue::UNDEFINED;
        };
        match parsed {
            Ok(sub) => subscription_array(sub),
            Err(e) => {
                st.fail(&self.scratch, e);
                JsValue::UNDEFINED
            }
        }
    }

    /// How many change events are queued and not yet handed out by
    /// [`Engine::next_event`] (a watch started meanwhile skips them: they
    /// are older than the snapshot it starts with).
    pub fn queued_events(&self) -> u32 {
        self.st()
            .map_or(0, |st| u32::try_from(st.events.len()).unwrap_or(u32::MAX))
    }

    /// Moves the next queued handler-driven execution to `running` when a
    /// concurrency slot is free, taking the slot, and returns its sequence
    /// (0: none), its numbers in the scratch. JS calls its handler unless a
    /// listener of the `running` event ended it first, then
    /// [`Engine::release`]s the slot.
    pub fn next_start(&self) -> f64 {
        let Some(mut st) = self.begin() else {
            return 0.0;
        };
        let s = match st.core.next_start_seq() {
            Some(seq) => {
                *st.watched.entry(seq).or_default() |= RUN;
                st.fill(&self.scratch, seq);
                seq as f64
            }
            None => 0.0,
        };
        st.settle(&self.scratch);
        s
    }

    /// Frees the slot of a started execution whose handler is not called
    /// after all (it ended before).
    pub fn release(&self, s: f64) {
        if let Some(mut st) = self.begin() {
            let seq = seq(s);
            if let Some(w) = st.watched.get_mut(&seq) {
                *w &= !RUN;
            }
            st.core.settle(seq, Ok(Value::Null));
            st.settle(&self.scratch);
        }
    }

    /// The handler of attempt `attempt` settled with `value` (`threw`: it
    /// threw or rejected): frees its slot and, if that attempt is still
    /// running, completes the execution or fails the attempt (a retry when
    /// its policy allows; a thrown value with `retryable: false` is never
    /// retried). A late outcome is not even converted.
    pub fn settle(&self, s: f64, attempt: u32, value: JsValue, threw: bool) {
        let seq = seq(s);
        let running = self.st().is_some_and(|st| {
            st.core
                .record(seq)
                .is_some_and(|r| r.status() == Status::Running && r.attempt() == attempt)
        });
        let retryable = !(running && threw && convert::not_retryable(&value));
        let outcome = if !running {
            Ok(Value::Null)
        } else if threw {
            Err(convert::thrown(&value))
        } else if value.is_undefined() {
            Ok(Value::Null)
        } else {
            self.within(|| json(&value, "result")).map_err(|e| match e {
                Error::ResourceExhausted { .. } => {
                    Failure::new("INVALID_RESULT", "RangeError", e.to_string())
                }
                e => Failure::new("INVALID_RESULT", "TypeError", e.to_string()),
            })
        };
        if let Some(mut st) = self.begin() {
            // The run JS watches is the current attempt's (an earlier, timed-out one ended).
            let current = st.core.record(seq).map(Record::attempt) == Some(attempt);
            if current && st.watched.get(&seq) == Some(&RUN) {
                st.watched.remove(&seq);
            } else if let Some(w) = st.watched.get_mut(&seq).filter(|_| current) {
                *w &= !RUN;
            }
            st.core.settle_attempt(seq, attempt, outcome, retryable);
            st.settle(&self.scratch);
        }
    }

    /// The one timer, armed for `due`, fired: times out every running
    /// attempt whose deadline is at or before it, one at a time (so that
    /// each one's end is taken before a later end can evict it), then makes
    /// ready the waiting executions whose `runAt` has come by the clock.
    pub fn expire(&self, due: f64) {
        if let Some(mut st) = self.begin() {
            while st.core.expire_one(due).is_some() {
                st.collect();
            }
            st.core.promote();
            // The timer is re-armed from the wake slot in any case.
            st.wake = None;
            st.settle(&self.scratch);
        }
    }

    /// The next queued change event: its kind ([`crate::wire::event`]; 0:
    /// none left), the execution's numbers at the change in the scratch.
    pub fn next_event(&self) -> u32 {
        let Some(mut st) = self.st() else {
            return 0;
        };
        let Some(event) = st.events.pop_front() else {
            st.current = None;
            return 0;
        };
        st.queued_bytes = st.queued_bytes.saturating_sub(event_bytes(&event));
        if let Some(n) = &event.numbers {
            self.scratch.write(n, event.seq);
        }
        let kind = event.kind as u32 + 1;
        st.current = Some(event);
        kind
    }

    /// The texts of the last event of [`Engine::next_event`] at its change.
    pub fn event_texts(&self) -> Option<String> {
        self.st()?.current.as_mut()?.texts.take()
    }

    /// The fixed parts of the last event's execution, when it was removed
    /// (by that event or after it).
    pub fn event_fixed(&self) -> Option<String> {
        self.st()?.current.as_mut()?.fixed.take()
    }

    /// The next watched execution that became terminal: its sequence (0:
    /// none left), its numbers at the end in the scratch.
    pub fn next_finished(&self) -> f64 {
        let Some(mut st) = self.st() else {
            return 0.0;
        };
        let Some(f) = st.finished.pop_front() else {
            st.current_finished = None;
            return 0.0;
        };
        st.queued_bytes = st.queued_bytes.saturating_sub(finished_bytes(&f));
        self.scratch.write(&f.numbers, f.seq);
        let s = f.seq as f64;
        st.current_finished = Some(f);
        s
    }

    /// The texts of the last execution of [`Engine::next_finished`].
    pub fn finished_texts(&self) -> Option<String> {
        self.st()?.current_finished.as_mut()?.texts.take()
    }

    /// The creation sequences of executions removed since the last call.
    pub fn drain_removed(&self) -> Vec<f64> {
        self.st().map_or_else(Vec::new, |mut st| {
            st.core
                .take_removed()
                .into_iter()
                .map(|s| s as f64)
                .collect()
        })
    }

    /// `handle(request)`: the status goes in the status slot, the body's
    /// JSON text is returned, its headers are kept for [`Engine::headers`].
    pub fn handle(&self, request: JsValue) -> Option<String> {
        let request = self.within(|| rest::request(&request));
        self.answer(request)
    }

    /// The method, path and search of a fetch `Request`, read at once
    /// (before its caller can change it): `[method, path, search]`, or
    /// `[]` with the error left for [`Engine::answer_error`].
    pub fn head(&self, request: JsValue) -> Vec<String> {
        match convert::unbounded(|| rest::head(&request)) {
            Ok((method, path, search)) => vec![method, path, search],
            Err(e) => {
                if let Some(mut st) = self.st() {
                    st.error = Some(e);
                }
                Vec::new()
            }
        }
    }

    /// The 400 answer to a `Request` whose head could not be read.
    pub fn answer_error(&self) -> Option<String> {
        let error = self.st()?.error.take()?;
        self.answer(Err(error))
    }

    /// A fetched request: its head from [`Engine::head`], its body text
    /// (`undefined`: none) or why it could not be read; answered as
    /// [`Engine::handle`] answers.
    pub fn fetch(
        &self,
        method: String,
        path: String,
        search: String,
        text: JsValue,
        body_error: Option<String>,
    ) -> Option<String> {
        let request = self.within(|| rest::fetched(method, path, search, &text, body_error));
        self.answer(request)
    }

    /// What the stream route of the last [`Engine::fetch`] answer asked to
    /// follow (the router checked it, then answered 501), as the options of
    /// one subscription in the form of [`Engine::subscription`]: `[id, null,
    /// null, throttleMs]` for one execution's stream, `[null, targetId,
    /// types, throttleMs]` for `/api/v1/events`. `undefined` when the last
    /// answer was not a stream route's.
    pub fn stream(&self) -> JsValue {
        let Some(stream) = self.st().and_then(|mut st| st.stream.take()) else {
            return JsValue::UNDEFINED;
        };
        // A whole number of ms at most 2^53 − 1 (the router's bound): exact as an f64.
        let ms = |t: Option<u64>| t.map(|t| t as f64);
        subscription_array(match *stream {
            Stream::Execution { id, throttle_ms } => args::Subscription {
                id: Some(id),
                target_id: None,
                types: None,
                throttle_ms: ms(throttle_ms),
            },
            Stream::All {
                target_id,
                types,
                throttle_ms,
            } => args::Subscription {
                id: None,
                target_id,
                types,
                throttle_ms: ms(throttle_ms),
            },
        })
    }

    /// The headers of the last [`Engine::handle`] or [`Engine::fetch`]
    /// answer, as `[name, value, …]` (lowercase names): `allow` of a 405,
    /// `location` of a 201; none for the others.
    pub fn headers(&self) -> Vec<String> {
        self.st().map_or_else(Vec::new, |st| st.headers.clone())
    }
}

/// Subscription options as JS reads them: `[id, targetId, types,
/// throttleMs]`, `null` for an absent filter, `NaN` for no throttle.
fn subscription_array(sub: args::Subscription) -> JsValue {
    let text = |s: Option<String>| s.map_or(JsValue::NULL, |s| JsValue::from_str(&s));
    let types = sub.types.map_or(JsValue::NULL, |types| {
        types
            .iter()
            .map(|t| JsValue::from_str(t))
            .collect::<js_sys::Array>()
            .into()
    });
    let throttle = JsValue::from_f64(sub.throttle_ms.unwrap_or(f64::NAN));
    js_sys::Array::of4(&text(sub.id), &text(sub.target_id), &types, &throttle).into()
}

impl Drop for Engine {
    fn drop(&mut self) {
        // What this engine held is the instance's again.
        let reported = self.state.get_mut().reported;
        INSTANCE_HELD.with(|h| h.set(h.get().saturating_sub(reported)));
    }
}
