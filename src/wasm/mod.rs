//! The thin `#[wasm_bindgen]` layer: `ExecutionManager` for JavaScript.
//!
//! Each method converts its arguments (no borrow held: conversions may run
//! user getters), calls the core under one short borrow, drops it, then lets
//! the runtime act in JS (abort signals, resolve waiters, deliver events).

mod args;
mod convert;
mod error;
mod fast;
mod ffi;
mod keys;
mod rest;
mod runtime;

use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::core::Error;
use convert::{json, not_found, parse};
use error::{js, to_js};
use runtime::Runtime;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The status of an execution; the last three are terminal. */
export type Status = "pending" | "running" | "completed" | "failed" | "cancelled";

/** A JSON-compatible value: what `inputs`, `config`, results and failure details may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The latest progress report of an execution. */
export interface Progress {
  current: number;
  total: number | null;
  message: string | null;
  /** `min(100, current / total * 100)` when `total` is set, else `null`. */
  percentage: number | null;
  /** ms since epoch */
  updatedAt: number;
}

/** Failure details of a failed execution. */
export interface ExecutionFailure {
  /** `HANDLER_ERROR`, `TIMEOUT`, `INVALID_RESULT`, or an external code (default `EXTERNAL_ERROR`). */
  code: string;
  name: string;
  message: string;
  stack?: string;
}

/** A snapshot of an execution: a copy, mutating it never changes the manager. */
export interface Execution {
  id: string;
  targetId: string;
  type: string;
  status: Status;
  inputs: JsonValue;
  config: { [key: string]: JsonValue };
  progress: Progress | null;
  /** completed only */
  result?: JsonValue;
  /** failed only */
  error?: ExecutionFailure;
  /** cancelled with a reason only */
  cancelReason?: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** Options of `new ExecutionManager(options)`: positive integers or `Infinity`. */
export interface ManagerOptions {
  /** Handler calls in flight at once; default `Infinity`. */
  concurrency?: number;
  /** Terminal executions kept; default `10000`. */
  maxFinished?: number;
}

/** Options of `register`. */
export interface TargetOptions {
  /** Default `type` of the target's executions (default `"task"`). */
  type?: string;
}

/** `config` of a request: JSON-compatible; `timeoutMs` fails a running execution after that many ms. */
export interface ExecutionConfig {
  timeoutMs?: number;
  [key: string]: JsonValue | undefined;
}

/** A `create` or `track` request. */
export interface ExecutionRequest {
  targetId: string;
  inputs?: JsonValue;
  config?: ExecutionConfig;
  /** Default: a UUID v4. */
  id?: string;
  type?: string;
}

/** The second argument of a handler. */
export interface HandlerContext {
  id: string;
  /** Aborts when the execution is cancelled or times out. */
  signal: AbortSignal;
  config: { [key: string]: JsonValue };
  /** Reports progress; ignored once the execution is terminal. */
  progress(current: number, total?: number | null, message?: string | null): void;
}

/** A handler: sync or async; its (awaited) return value becomes the result. */
export type Handler = {
  bivarianceHack(inputs: JsonValue, ctx: HandlerContext): unknown;
}["bivarianceHack"];

/** What `fail` accepts. */
export type FailureInput = string | Error | { message: string; code?: string; name?: string; stack?: string };

/** A `list` query. */
export interface ListQuery {
  status?: Status | Status[];
  type?: string | string[];
  targetId?: string;
  /** 1-based; default 1. Not together with `cursor`. */
  page?: number;
  /** 1..1000; default 20. */
  pageSize?: number;
  /** By creation sequence; default `"desc"` (newest first). */
  order?: "asc" | "desc";
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** One page of `list`. */
export interface Page {
  items: Execution[];
  total: number;
  /** `null` when the page was read with a cursor. */
  page: number | null;
  pageSize: number;
  totalPages: number;
  hasNext: boolean;
  nextCursor: string | null;
}

/** `counts()`: executions held per status. */
export interface Counts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** A change delivered to `subscribe` listeners. */
export interface ExecutionEvent {
  type: "created" | "status" | "progress" | "removed";
  execution: Execution;
}

/** A `subscribe` listener. */
export type Listener = (event: ExecutionEvent) => void;

/** The `code` of an `ExecutionError`. */
export type ExecutionErrorCode = "NOT_FOUND" | "ALREADY_EXISTS" | "INVALID_ARGUMENT" | "INVALID_TRANSITION" | "UNKNOWN_TARGET";

/** Every error the API throws: an `Error` named `"ExecutionError"` with a `code`. */
export interface ExecutionError extends Error {
  name: "ExecutionError";
  code: ExecutionErrorCode;
}
"#;

/// Registry and runner of executions: create, track, query, cancel, wait.
///
/// @example
/// const manager = new ExecutionManager({ concurrency: 4 });
/// manager.register("upload", async (inputs, ctx) => {
///   ctx.progress(1, 2, "half way");
///   return { ok: true };
/// });
/// const exec = manager.create({ targetId: "upload", inputs: { file: "a.txt" } });
/// const done = await manager.wait(exec.id);
#[wasm_bindgen]
pub struct ExecutionManager {
    rt: Rc<Runtime>,
}

impl ExecutionManager {
    /// Makes one change under the state's borrow, then lets the runtime act
    /// in JS (start queued handlers, abort signals, resolve waiters, deliver
    /// events); returns the changed execution's snapshot.
    fn change(
        &self,
        op: impl FnOnce(&mut runtime::State) -> Result<u64, Error>,
    ) -> Result<JsValue, JsValue> {
        let snapshot = {
            let mut st = self.rt.state()?;
            let seq = js(op(&mut st))?;
            st.core.snapshot(seq).unwrap_or_default()
        };
        self.rt.schedule_pump();
        self.rt.flush();
        Ok(parse(&snapshot))
    }
}

/// An id argument that must name an execution: a non-string is unknown.
fn id_key(id: &JsValue) -> Result<String, JsValue> {
    js(convert::id(id))?.ok_or_else(|| to_js(&not_found(id)))
}

#[wasm_bindgen]
impl ExecutionManager {
    /// A new manager. `options.concurrency` (default `Infinity`) bounds handler
    /// calls in flight; `options.maxFinished` (default 10000) bounds terminal
    /// executions kept.
    ///
    /// @example
    /// const manager = new ExecutionManager({ concurrency: 2, maxFinished: 1000 });
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "ManagerOptions")] options: Option<JsValue>,
    ) -> Result<ExecutionManager, JsValue> {
        let options = js(args::options(options))?;
        Ok(ExecutionManager {
            rt: Runtime::new(options),
        })
    }

    /// Registers the handler of a target. Throws `ALREADY_EXISTS` if taken.
    ///
    /// @example
    /// manager.register("export", async (inputs, { signal, progress }) => {
    ///   progress(0, 10);
    ///   return "done";
    /// }, { type: "batch" });
    pub fn register(
        &self,
        #[wasm_bindgen(js_name = targetId, unchecked_param_type = "string")] target_id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Handler")] handler: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "TargetOptions")] options: Option<JsValue>,
    ) -> Result<(), JsValue> {
        let (target_id, kind) = js(args::target(&target_id, options))?;
        let Some(handler) = handler.dyn_ref::<Function>().cloned() else {
            return Err(to_js(&Error::invalid("handler", "must be a function")));
        };
        js(self.rt.register(target_id, kind, handler))
    }

    /// Creates an execution of a registered target; returns its `pending`
    /// snapshot. The handler starts in a later microtask, when a slot is free.
    ///
    /// @example
    /// const { id } = manager.create({ targetId: "export", inputs: { rows: 10 }, config: { timeoutMs: 5000 } });
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn create(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ExecutionRequest")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let request = js(args::request(&request))?;
        self.change(|st| st.core.create(request))
    }

    /// Tracks work that runs elsewhere; returns its `pending` snapshot.
    ///
    /// @example
    /// const job = manager.track({ targetId: "server-job" });
    /// manager.start(job.id);
    /// manager.reportProgress(job.id, 3, 10, "rows");
    /// manager.complete(job.id, { rows: 10 });
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn track(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ExecutionRequest")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let request = js(args::request(&request))?;
        self.change(|st| st.core.track(request))
    }

    /// Starts a tracked execution; returns its `running` snapshot.
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn start(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let key = id_key(&id)?;
        self.change(|st| {
            let seq = st.core.start(&key)?;
            let timeout = st.core.record(seq).and_then(|r| r.timeout_ms);
            self.rt.arm_timeout(st, seq, timeout);
            Ok(seq)
        })
    }

    /// Reports progress of a running tracked execution.
    #[wasm_bindgen(js_name = reportProgress)]
    pub fn report_progress(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number")] current: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] total: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "string | null")] message: Option<JsValue>,
    ) -> Result<(), JsValue> {
        let key = id_key(&id)?;
        let current = js(convert::number_arg(&current, "current"))?;
        let total = js(convert::opt_number(total, "total"))?;
        let message = js(convert::opt_string(message, "message"))?;
        {
            let mut st = self.rt.state()?;
            js(st.core.report_progress(&key, current, total, message))?;
        }
        self.rt.flush();
        Ok(())
    }

    /// Completes a running tracked execution with `result` (default `null`).
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn complete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "JsonValue")] result: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let key = id_key(&id)?;
        let result = match result {
            Some(v) => Some(js(json(&v, "result"))?),
            None => None,
        };
        self.change(|st| st.core.complete(&key, result))
    }

    /// Fails a running tracked execution.
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn fail(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "FailureInput")] error: JsValue,
    ) -> Result<JsValue, JsValue> {
        let key = id_key(&id)?;
        let failure = js(convert::failure(&error))?;
        self.change(|st| st.core.fail(&key, failure))
    }

    /// The snapshot of an execution, or `undefined` if no such id.
    #[wasm_bindgen(unchecked_return_type = "Execution | undefined")]
    pub fn status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let Some(key) = js(convert::id(&id))? else {
            return Ok(JsValue::UNDEFINED);
        };
        let st = self.rt.state()?;
        Ok(st
            .core
            .status_json(&key)
            .map_or(JsValue::UNDEFINED, |s| parse(&s)))
    }

    /// The progress of an execution: `null` if none reported, `undefined` if no such id.
    #[wasm_bindgen(unchecked_return_type = "Progress | null | undefined")]
    pub fn progress(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let Some(key) = js(convert::id(&id))? else {
            return Ok(JsValue::UNDEFINED);
        };
        let st = self.rt.state()?;
        Ok(match st.core.progress_json(&key) {
            None => JsValue::UNDEFINED,
            Some(None) => JsValue::NULL,
            Some(Some(s)) => parse(&s),
        })
    }

    /// One page of executions matching the query.
    ///
    /// @example
    /// let page = manager.list({ status: ["running", "pending"], pageSize: 50 });
    /// while (page.hasNext) page = manager.list({ status: ["running", "pending"], pageSize: 50, cursor: page.nextCursor });
    #[wasm_bindgen(unchecked_return_type = "Page")]
    pub fn list(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ListQuery")] query: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let query = js(args::query(query))?;
        let st = self.rt.state()?;
        let page = js(st.core.list_json(&query))?;
        Ok(parse(&page))
    }

    /// Executions held per status, and in all.
    #[wasm_bindgen(unchecked_return_type = "Counts")]
    pub fn counts(&self) -> Result<JsValue, JsValue> {
        let st = self.rt.state()?;
        Ok(parse(&st.core.counts_json()))
    }

    /// Cancels a pending or running execution; its signal aborts before this returns.
    ///
    /// @example
    /// manager.cancel(id, "user pressed stop");
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn cancel(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string")] reason: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        let key = id_key(&id)?;
        let reason = js(convert::opt_string(reason, "reason"))?;
        self.change(|st| st.core.cancel(&key, reason))
    }

    /// Resolves with the terminal snapshot (whatever the terminal status);
    /// rejects `NOT_FOUND` for an unknown id.
    ///
    /// @example
    /// const { status, result, error } = await manager.wait(id);
    #[wasm_bindgen(unchecked_return_type = "Promise<Execution>")]
    pub fn wait(&self, #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue) -> Promise {
        let key = match convert::id(&id) {
            Ok(Some(key)) => key,
            Ok(None) => return Promise::reject(&to_js(&not_found(&id))),
            Err(e) => return Promise::reject(&to_js(&e)),
        };
        let rt = self.rt.clone();
        let mut outcome: Result<Option<String>, JsValue> = Ok(None);
        let promise = Promise::new(&mut |resolve, _reject| {
            outcome = (|| {
                let mut st = rt.state()?;
                let seq = st
                    .core
                    .seq_of(&key)
                    .ok_or_else(|| to_js(&Error::not_found(&key)))?;
                let record = st
                    .core
                    .record(seq)
                    .ok_or_else(|| to_js(&Error::not_found(&key)))?;
                if record.status.is_terminal() {
                    return Ok(Some(record.snapshot_json()));
                }
                rt.add_waiter(&mut st, seq, resolve);
                Ok(None)
            })();
        });
        match outcome {
            Ok(None) => promise,
            Ok(Some(snapshot)) => Promise::resolve(&parse(&snapshot)),
            Err(e) => Promise::reject(&e),
        }
    }

    /// Removes a terminal execution; returns its snapshot.
    #[wasm_bindgen(unchecked_return_type = "Execution")]
    pub fn remove(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
    ) -> Result<JsValue, JsValue> {
        let key = id_key(&id)?;
        let snapshot = {
            let mut st = self.rt.state()?;
            js(st.core.remove(&key))?
        };
        self.rt.flush();
        Ok(parse(&snapshot))
    }

    /// Removes every terminal execution; returns how many.
    pub fn clear(&self) -> Result<u32, JsValue> {
        let n = {
            let mut st = self.rt.state()?;
            st.core.clear()
        };
        self.rt.flush();
        Ok(n as u32)
    }

    /// Calls `listener({ type, execution })` after each change; returns a
    /// function that unsubscribes it (calling it again does nothing).
    ///
    /// @example
    /// const off = manager.subscribe(({ type, execution }) => console.log(type, execution.status));
    /// off();
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Listener")] listener: JsValue,
    ) -> Result<Function, JsValue> {
        let Some(listener) = listener.dyn_ref::<Function>().cloned() else {
            return Err(to_js(&Error::invalid("listener", "must be a function")));
        };
        self.rt.subscribe(listener)
    }
}
