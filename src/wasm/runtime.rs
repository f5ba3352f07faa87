//! The JS side of a manager: handlers, AbortControllers, timers, waiters and
//! listeners around the core, with the re-entrancy rules of STYLE.md.
//!
//! Every method borrows the state, asks the core, and drops the borrow before
//! calling into JS (a handler, a listener, `AbortController.abort()`, a
//! promise's `resolve`). What the core queued meanwhile — terminal
//! executions, change events — is then acted on by [`Runtime::flush`].

use std::cell::{Cell, RefCell, RefMut};
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};

use js_sys::{Function, Object, Reflect};
use rustc_hash::{FxHashMap, FxHashSet};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use super::convert::{self, json, parse};
use super::ffi;
use super::keys::key;
use crate::core::{
    Clock, Event, Failure, IdSource, Manager, Numbers, Options, Outcome, Status, UuidIds,
};

/// `Date.now()` as the core's clock.
struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        ffi::date_now()
    }
}

/// UUID v4 ids from `crypto.getRandomValues`, fetched 4 KiB at a time (one
/// call per 256 ids instead of one per id).
struct RandomIds {
    pool: Vec<u8>,
    used: usize,
}

impl RandomIds {
    const POOL: usize = 4096;

    fn new() -> RandomIds {
        RandomIds {
            pool: Vec::new(),
            used: 0,
        }
    }

    fn refill(&mut self) -> bool {
        let array = js_sys::Uint8Array::new_with_length(Self::POOL as u32);
        if ffi::get_random_values(&array).is_err() {
            return false;
        }
        self.pool.resize(Self::POOL, 0);
        array.copy_to(&mut self.pool);
        self.used = 0;
        true
    }
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        if self.used + 16 > self.pool.len() && !self.refill() {
            return UuidIds.next_id();
        }
        let mut bytes = [0u8; 16];
        if let Some(chunk) = self.pool.get(self.used..self.used + 16) {
            bytes.copy_from_slice(chunk);
        }
        self.used += 16;
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

struct Listener {
    id: u32,
    callback: Function,
    active: Rc<Cell<bool>>,
}

/// Everything behind the one `RefCell`.
pub struct State {
    /// The plain-Rust manager.
    pub core: Manager,
    handlers: HashMap<String, Function>,
    controllers: FxHashMap<u64, AbortController>,
    timers: FxHashMap<u64, JsValue>,
    waiters: FxHashMap<u64, Vec<Function>>,
    listeners: Vec<Listener>,
    next_listener: u32,
    delivering: bool,
    pending: VecDeque<Event>,
    pump_scheduled: bool,
    /// Numbers the JS layer reads straight from wasm memory (see `fast.rs`).
    pub scratch: Box<[f64; super::fast::SCRATCH_LEN]>,
    /// The `nextCursor` of the last `__list` page.
    pub last_cursor: Option<String>,
    /// The JS layer's callbacks (`__hooks`), once it set them.
    pub hooks: Option<Rc<Hooks>>,
    /// Executions whose end the JS layer is told of (it waits for them, or it
    /// runs their handler and owns their `AbortController`).
    pub notify: FxHashSet<u64>,
}

/// Callbacks of the JS layer (`js/manager.mjs`); with them set, handlers are
/// called and waiters resolved in JS, and events reach JS as numbers.
pub struct Hooks {
    /// `event(kind, texts, fixed)`, the event's numbers in the scratch array.
    pub event: Function,
    /// `run(seq, handler)`: call the handler of a started execution.
    pub run: Function,
    /// `finished(seq, texts)`: a notified execution became terminal, its
    /// numbers in the scratch array.
    pub finished: Function,
}

/// The longest delay `setTimeout` honours (longer ones fire at once).
const MAX_TIMER_DELAY: f64 = 2_147_483_647.0;

type ProgressFn = dyn Fn(f64, JsValue, JsValue, JsValue) -> Result<(), JsValue>;

/// A manager's shared state and the three callbacks JS holds on to.
pub struct Runtime {
    state: RefCell<State>,
    progress_fn: Closure<ProgressFn>,
    timeout_fn: Closure<dyn Fn(f64)>,
    unsubscribe_fn: Closure<dyn Fn(f64)>,
}

/// What to do in JS for an execution that became terminal.
struct Finished {
    seq: u64,
    /// Its numbers and texts, when the JS layer is to be told.
    notify: Option<(Numbers, Option<String>)>,
    timer: Option<JsValue>,
    abort: Option<(AbortController, Option<JsValue>)>,
    waiters: Vec<Function>,
    snapshot: Option<String>,
}

fn busy() -> JsValue {
    super::error::to_js(&crate::core::Error::invalid(
        "this",
        "the manager is busy in another call on this stack",
    ))
}

impl Runtime {
    /// A runtime around a new core manager.
    pub fn new(options: Options) -> Rc<Runtime> {
        Rc::new_cyclic(|weak: &Weak<Runtime>| {
            let w = weak.clone();
            let progress_fn =
                Closure::<ProgressFn>::new(move |seq: f64, current, total, message| {
                    match w.upgrade() {
                        Some(rt) => rt.handler_progress(seq as u64, current, total, message),
                        None => Ok(()),
                    }
                });
            let w = weak.clone();
            let timeout_fn = Closure::<dyn Fn(f64)>::new(move |seq: f64| {
                if let Some(rt) = w.upgrade() {
                    rt.timed_out(seq as u64);
                }
            });
            let w = weak.clone();
            let unsubscribe_fn = Closure::<dyn Fn(f64)>::new(move |id: f64| {
                if let Some(rt) = w.upgrade() {
                    rt.unsubscribe(id as u32);
                }
            });
            Runtime {
                state: RefCell::new(State {
                    core: Manager::new(options, Box::new(JsClock), Box::new(RandomIds::new())),
                    handlers: HashMap::new(),
                    controllers: FxHashMap::default(),
                    timers: FxHashMap::default(),
                    waiters: FxHashMap::default(),
                    listeners: Vec::new(),
                    next_listener: 0,
                    delivering: false,
                    pending: VecDeque::new(),
                    pump_scheduled: false,
                    scratch: Box::new([0.0; super::fast::SCRATCH_LEN]),
                    last_cursor: None,
                    hooks: None,
                    notify: FxHashSet::default(),
                }),
                progress_fn,
                timeout_fn,
                unsubscribe_fn,
            }
        })
    }

    /// Borrows the state; fails (instead of panicking) if it is borrowed,
    /// which the rules above make impossible.
    pub fn state(&self) -> Result<RefMut<'_, State>, JsValue> {
        self.state.try_borrow_mut().map_err(|_| busy())
    }

    /// Registers a handler.
    pub fn register(
        &self,
        target_id: String,
        kind: Option<String>,
        handler: Function,
    ) -> Result<(), crate::core::Error> {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Err(crate::core::Error::invalid("this", "the manager is busy"));
        };
        st.core.register(&target_id, kind.as_deref())?;
        st.handlers.insert(target_id, handler);
        Ok(())
    }

    /// Starts a timer for a running execution with `timeoutMs`. Delays past
    /// what timers can hold (2^31-1 ms) are re-armed when the timer fires.
    pub fn arm_timeout(&self, st: &mut State, seq: u64, ms: Option<f64>) {
        if let Some(ms) = ms {
            let handle = ffi::set_timeout(
                self.timeout_fn.as_ref().unchecked_ref(),
                ms.min(MAX_TIMER_DELAY),
                seq as f64,
            );
            st.timers.insert(seq, handle);
        }
    }

    /// Acts on what the core queued: terminal executions (timers, aborts,
    /// waiters), then change events (unless already delivering them).
    pub fn flush(self: &Rc<Self>) {
        loop {
            let (work, hooks) = match self.state.try_borrow_mut() {
                Ok(mut st) => (st.take_finished(), st.hooks.clone()),
                Err(_) => return,
            };
            if work.is_empty() {
                break;
            }
            for item in work {
                if let Some(timer) = item.timer {
                    ffi::clear_timeout(&timer);
                }
                if let Some((controller, reason)) = item.abort {
                    match reason {
                        Some(reason) => controller.abort_with_reason(&reason),
                        None => controller.abort(),
                    }
                }
                if let Some(snapshot) = item.snapshot {
                    for resolve in item.waiters {
                        let _ = resolve.call1(&JsValue::UNDEFINED, &parse(&snapshot));
                    }
                }
                if let (Some((numbers, texts)), Some(hooks)) = (item.notify, &hooks) {
                    if let Ok(mut st) = self.state.try_borrow_mut() {
                        super::fast::write_numbers(&mut st, &numbers, item.seq);
                    }
                    let texts = texts.map_or(JsValue::UNDEFINED, JsValue::from);
                    // The layer catches what it calls; a throw here is ignored.
                    let _ = hooks.finished.call2(
                        &JsValue::UNDEFINED,
                        &(item.seq as f64).into(),
                        &texts,
                    );
                }
            }
        }
        self.deliver();
    }

    fn deliver(self: &Rc<Self>) {
        match self.state.try_borrow_mut() {
            Ok(mut st) if !st.delivering => st.delivering = true,
            _ => return,
        }
        loop {
            let next = match self.state.try_borrow_mut() {
                Ok(mut st) => {
                    let fresh = st.core.drain_events();
                    st.pending.extend(fresh);
                    st.pending.pop_front().map(|event| {
                        let listeners: Vec<(Function, Rc<Cell<bool>>)> = st
                            .listeners
                            .iter()
                            .map(|l| (l.callback.clone(), l.active.clone()))
                            .collect();
                        let hook = match (&event.numbers, &st.hooks) {
                            (Some(numbers), Some(hooks)) => {
                                let hook = hooks.event.clone();
                                super::fast::write_numbers(&mut st, numbers, event.seq);
                                Some(hook)
                            }
                            _ => None,
                        };
                        (event, listeners, hook)
                    })
                }
                Err(_) => None,
            };
            let Some((event, listeners, hook)) = next else {
                break;
            };
            if let Some(hook) = hook {
                let opt = |s: Option<String>| s.map_or(JsValue::UNDEFINED, JsValue::from);
                // The layer isolates its listeners itself; a throw here is ignored.
                let _ = hook.call3(
                    &JsValue::UNDEFINED,
                    &JsValue::from(event.kind as u32),
                    &opt(event.texts),
                    &opt(event.fixed),
                );
            }
            if listeners.is_empty() {
                continue;
            }
            let object = Object::new();
            let _ = Reflect::set(&object, &key("type"), &event.kind.as_str().into());
            let _ = Reflect::set(&object, &key("execution"), &parse(&event.snapshot));
            for (callback, active) in listeners {
                if !active.get() {
                    continue;
                }
                if let Err(error) = callback.call1(&JsValue::UNDEFINED, &object) {
                    // Reported, never rethrown: a throwing console.error is ignored too.
                    let _ = ffi::console_error(
                        "execman: a subscribe() listener threw; other listeners still ran:",
                        &error,
                    );
                }
            }
        }
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.delivering = false;
        }
    }

    /// Starts queued handler-driven executions in a later microtask.
    pub fn schedule_pump(self: &Rc<Self>) {
        match self.state.try_borrow_mut() {
            Ok(mut st) if !st.pump_scheduled && st.core.has_queued() => st.pump_scheduled = true,
            _ => return,
        }
        let rt = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            rt.pump();
        });
    }

    fn pump(self: &Rc<Self>) {
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.pump_scheduled = false;
        }
        loop {
            let job = match self.state.try_borrow_mut() {
                Ok(mut st) => st.next_job(self),
                Err(_) => None,
            };
            let Some(job) = job else {
                break;
            };
            // Listeners see `running` before the handler runs; one of them may
            // cancel it, and then the handler is not called at all.
            self.flush();
            let still_running = self
                .state
                .try_borrow()
                .map(|st| {
                    st.core
                        .record(job.seq)
                        .is_some_and(|r| r.status == Status::Running)
                })
                .unwrap_or(false);
            if still_running {
                self.call_handler(job);
            } else {
                self.release(job.seq);
            }
        }
    }

    fn call_handler(self: &Rc<Self>, job: Job) {
        if let Some(hooks) = job.hooks {
            // The layer builds ctx, calls the handler and settles with `__settle`.
            if let Err(thrown) =
                hooks
                    .run
                    .call2(&JsValue::UNDEFINED, &(job.seq as f64).into(), &job.handler)
            {
                self.settle(job.seq, Err(thrown));
            }
            return;
        }
        let ctx = Object::new();
        let _ = Reflect::set(&ctx, &key("id"), &JsValue::from_str(&job.id));
        let _ = Reflect::set(&ctx, &key("signal"), &job.signal);
        let _ = Reflect::set(&ctx, &key("config"), &parse(&job.config));
        let progress = ffi::bind(self.progress_fn.as_ref(), job.seq as f64);
        let _ = Reflect::set(&ctx, &key("progress"), &progress);
        let seq = job.seq;
        let returned = job
            .handler
            .call2(&JsValue::UNDEFINED, &parse(&job.inputs), &ctx)
            .and_then(|value| ffi::promise_resolve(&value));
        match returned {
            Ok(promise) => {
                let rt = self.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let settled = JsFuture::from(promise).await;
                    rt.settle(seq, settled);
                });
            }
            Err(thrown) => self.settle(seq, Err(thrown)),
        }
    }

    /// Frees the slot of a handler that is not called after all.
    fn release(self: &Rc<Self>, seq: u64) {
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.core.settle(seq, Ok(serde_json::Value::Null));
        }
        self.flush();
    }

    /// A handler's promise settled (or its call threw).
    pub fn settle(self: &Rc<Self>, seq: u64, settled: Result<JsValue, JsValue>) {
        let running = self
            .state
            .try_borrow()
            .map(|st| {
                st.core
                    .record(seq)
                    .is_some_and(|r| r.status == Status::Running)
            })
            .unwrap_or(false);
        // A late result is not even converted: it changes nothing.
        let outcome = if !running {
            Ok(serde_json::Value::Null)
        } else {
            match settled {
                Ok(value) if value.is_undefined() => Ok(serde_json::Value::Null),
                Ok(value) => json(&value, "result")
                    .map_err(|e| Failure::new("INVALID_RESULT", "TypeError", e.to_string())),
                Err(thrown) => Err(convert::thrown(&thrown)),
            }
        };
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.core.settle(seq, outcome);
        }
        self.flush();
        self.schedule_pump();
    }

    /// `ctx.progress(current, total, message)`, arguments as given.
    pub fn handler_progress(
        self: &Rc<Self>,
        seq: u64,
        current: JsValue,
        total: JsValue,
        message: JsValue,
    ) -> Result<(), JsValue> {
        let current = super::error::js(convert::number_arg(&current, "current"))?;
        let total = super::error::js(convert::opt_number(Some(total), "total"))?;
        let message = super::error::js(convert::opt_string(Some(message), "message"))?;
        self.handler_report(seq, current, total, message)
    }

    /// `ctx.progress` with its arguments converted (the JS layer calls this
    /// directly with numbers); acts in JS only if the report changed something.
    pub fn handler_report(
        self: &Rc<Self>,
        seq: u64,
        current: f64,
        total: Option<f64>,
        message: Option<String>,
    ) -> Result<(), JsValue> {
        let work = {
            let mut st = self.state()?;
            super::error::js(st.core.handler_progress(seq, current, total, message))?;
            st.core.has_work()
        };
        if work {
            self.flush();
        }
        Ok(())
    }

    fn timed_out(self: &Rc<Self>, seq: u64) {
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.timers.remove(&seq);
            let deadline = st
                .core
                .record(seq)
                .and_then(|r| Some(r.started_at? + r.timeout_ms?));
            let remaining = deadline.map_or(0.0, |d| d - ffi::date_now());
            if remaining > 1.0
                && st.core.record(seq).and_then(|r| r.timeout_ms) > Some(MAX_TIMER_DELAY)
            {
                self.arm_timeout(&mut st, seq, Some(remaining));
                return;
            }
            st.core.time_out(seq);
        }
        self.flush();
    }

    /// Adds a listener; returns its unsubscribe function.
    pub fn subscribe(&self, callback: Function) -> Result<Function, JsValue> {
        let mut st = self.state()?;
        st.next_listener = st.next_listener.wrapping_add(1);
        let id = st.next_listener;
        st.listeners.push(Listener {
            id,
            callback,
            active: Rc::new(Cell::new(true)),
        });
        st.core.set_record_events(true);
        Ok(ffi::bind(self.unsubscribe_fn.as_ref(), f64::from(id)))
    }

    fn unsubscribe(&self, id: u32) {
        if let Ok(mut st) = self.state.try_borrow_mut() {
            if let Some(pos) = st.listeners.iter().position(|l| l.id == id) {
                let listener = st.listeners.remove(pos);
                listener.active.set(false);
            }
            if st.listeners.is_empty() {
                st.core.set_record_events(false);
            }
        }
    }

    /// Registers a `wait` resolver for a non-terminal execution.
    pub fn add_waiter(&self, st: &mut State, seq: u64, resolve: Function) {
        st.waiters.entry(seq).or_default().push(resolve);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Timers hold the timeout callback, which is freed with the runtime.
        for (_, handle) in self.state.get_mut().timers.drain() {
            ffi::clear_timeout(&handle);
        }
    }
}

/// A handler call about to be made.
struct Job {
    seq: u64,
    /// Set when the JS layer calls the handler.
    hooks: Option<Rc<Hooks>>,
    id: Rc<str>,
    handler: Function,
    signal: JsValue,
    inputs: Box<str>,
    config: Box<str>,
}

impl State {
    fn next_job(&mut self, rt: &Runtime) -> Option<Job> {
        loop {
            let started = self.core.next_start()?;
            let Some(handler) = self.handlers.get(&*started.target_id).cloned() else {
                // Unreachable: `create` checks the target. Free the slot.
                self.core.settle(started.seq, Ok(serde_json::Value::Null));
                continue;
            };
            let hooks = self.hooks.clone();
            let signal = if hooks.is_some() {
                // The layer makes the AbortController when ctx.signal is read.
                self.notify.insert(started.seq);
                JsValue::UNDEFINED
            } else {
                match AbortController::new() {
                    Ok(controller) => {
                        let signal = controller.signal().into();
                        self.controllers.insert(started.seq, controller);
                        signal
                    }
                    Err(_) => JsValue::UNDEFINED,
                }
            };
            rt.arm_timeout(self, started.seq, started.timeout_ms);
            return Some(Job {
                seq: started.seq,
                hooks,
                id: started.id,
                handler,
                signal,
                inputs: started.inputs,
                config: started.config,
            });
        }
    }

    fn take_finished(&mut self) -> Vec<Finished> {
        let seqs = self.core.take_finished();
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let record = self.core.record(seq);
            let notify = if self.notify.remove(&seq) {
                record.map(|r| (r.numbers(), r.has_texts().then(|| r.texts_json())))
            } else {
                None
            };
            let reason = match record.map(|r| &r.outcome) {
                Some(Outcome::Cancelled(_)) => Some(None),
                Some(Outcome::Failed(f)) if f.code == "TIMEOUT" => {
                    let error = js_sys::Error::new(&f.message);
                    error.set_name("TimeoutError");
                    Some(Some(JsValue::from(error)))
                }
                _ => None,
            };
            let controller = self.controllers.remove(&seq);
            let waiters = self.waiters.remove(&seq).unwrap_or_default();
            let snapshot = if waiters.is_empty() {
                None
            } else {
                self.core.snapshot(seq)
            };
            out.push(Finished {
                seq,
                notify,
                timer: self.timers.remove(&seq),
                abort: match (controller, reason) {
                    (Some(c), Some(reason)) => Some((c, reason)),
                    _ => None,
                },
                waiters,
                snapshot,
            });
        }
        out
    }
}
