//! Hidden exports for the JS layer (`js/manager.mjs`), which is what users
//! get as `ExecutionManager`: it keeps ids, targets, types, inputs and config
//! of the executions it has seen in a JS cache keyed by creation sequence, and
//! asks wasm only for numbers, so that hot calls pass no strings across the
//! boundary (a string costs ~150-250 ns to cross, a number ~10 ns).
//!
//! The numbers of one execution are written to a scratch array that JS reads
//! straight from wasm memory ([`SCRATCH_LEN`] `f64`s, layout below). Texts
//! that can change (progress message, result, failure, cancel reason) are
//! versioned by `Record::text_version`, so JS reads them only after they
//! changed. Every method here either acts by creation sequence or returns
//! one; a sequence that is no longer held gives `0` (JS then drops its cache
//! entry and falls back to the id-based method, whose errors are the
//! contract's). Errors of a held execution are thrown as usual.
//!
//! Scratch layout written by `__fill`: 0 createdAt, 1 startedAt (NaN: null),
//! 2 finishedAt (NaN: null), 3 updatedAt, 4 has progress (0/1), 5 current,
//! 6 total (NaN: null), 7 progress updatedAt, 8 text version, 9 has texts
//! (0/1), 10 removed executions not yet drained, 11 the status index + 1 (0:
//! not held; after `__progress`/`__report`: 1 done, 0 not held), 12 the
//! creation sequence.

use wasm_bindgen::prelude::*;

use super::convert::{self, json};
use super::error::js;
use super::{args, runtime, ExecutionManager};
use crate::core::{Error, Numbers, Record};

/// Length of the scratch array.
pub const SCRATCH_LEN: usize = 13;

/// A creation sequence from JS (NaN and negatives become 0, which no
/// execution has).
fn seq(value: f64) -> u64 {
    value as u64
}

fn opt(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
}

/// Writes the numbers of `seq` to the scratch array (slot 11: its status
/// index + 1, or 0 if not held); returns that code.
fn fill_into(st: &mut runtime::State, seq: u64) -> u32 {
    match st.core.record(seq).map(Record::numbers) {
        Some(numbers) => write_numbers(st, &numbers, seq),
        None => {
            *st.scratch = [0.0; SCRATCH_LEN];
            0
        }
    }
}

/// Writes `numbers` of `seq` to the scratch array; returns the status code.
pub fn write_numbers(st: &mut runtime::State, n: &Numbers, seq: u64) -> u32 {
    let (has, current, total, updated) = match n.progress {
        Some((current, total, updated)) => (1.0, current, opt(total), updated),
        None => (0.0, 0.0, f64::NAN, 0.0),
    };
    let code = n.status.index() as u32 + 1;
    *st.scratch = [
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
        st.core.removed_len() as f64,
        f64::from(code),
        seq as f64,
    ];
    code
}

/// Marks a change without a snapshot as done (slot 11 = 1).
fn done(scratch: &mut [f64; SCRATCH_LEN]) {
    *scratch = [0.0; SCRATCH_LEN];
    if let Some(code) = scratch.get_mut(CODE) {
        *code = 1.0;
    }
}

/// The scratch slot of the status code.
const CODE: usize = 11;

/// What a change by `ExecutionManager::mutate` puts in the scratch and returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Slot 11 only: 1 done (0 not held); returns nothing.
    Done,
    /// The numbers; returns the texts JSON when the execution has texts.
    Texts,
    /// The numbers; returns the `__fixed` JSON (a creation).
    Fixed,
}

impl ExecutionManager {
    /// Runs a change and fills the scratch as `reply` says, right after the
    /// change (as the id-based methods snapshot before acting in JS); lets
    /// the runtime act in JS, then puts the scratch back (a listener may have
    /// used it meanwhile). Slot 11 is 0 when `op` finds the sequence not held.
    fn mutate(
        &self,
        op: impl FnOnce(&mut runtime::State) -> Result<Option<u64>, Error>,
        reply: Reply,
    ) -> Result<Option<String>, JsValue> {
        let (saved, text, queued, work) = {
            let mut guard = self.rt.state()?;
            let st = &mut *guard;
            let Some(seq) = js(op(st))? else {
                *st.scratch = [0.0; SCRATCH_LEN];
                return Ok(None);
            };
            let text = if reply == Reply::Done {
                done(&mut st.scratch);
                None
            } else {
                fill_into(st, seq);
                st.core.record(seq).and_then(|r| match reply {
                    Reply::Fixed => Some(r.fixed_json()),
                    _ => r.has_texts().then(|| r.texts_json()),
                })
            };
            (*st.scratch, text, st.core.has_queued(), st.core.has_work())
        };
        if queued {
            self.rt.schedule_pump();
        }
        if work {
            self.rt.flush();
            *self.rt.state()?.scratch = saved;
        }
        Ok(text)
    }

    /// Whether `seq` is no longer held; if so, clears the scratch (slot 11: 0).
    fn gone(&self, seq: u64) -> Result<bool, JsValue> {
        let mut st = self.rt.state()?;
        let gone = st.core.record(seq).is_none();
        if gone {
            *st.scratch = [0.0; SCRATCH_LEN];
        }
        Ok(gone)
    }
}

#[wasm_bindgen]
impl ExecutionManager {
    /// The `WebAssembly.Memory` the scratch array lives in.
    #[wasm_bindgen(js_name = __memory, skip_typescript)] // internal to the JS layer
    pub fn memory() -> JsValue {
        wasm_bindgen::memory()
    }

    /// The byte address of this manager's scratch array; turns on the
    /// record of removed executions that `__drain` hands out.
    #[wasm_bindgen(js_name = __scratch, skip_typescript)] // internal to the JS layer
    pub fn scratch(&self) -> Result<u32, JsValue> {
        let mut st = self.rt.state()?;
        st.core.set_track_removed(true);
        Ok(st.scratch.as_ptr() as usize as u32)
    }

    /// Writes the numbers of an execution to the scratch array; returns its
    /// status index + 1, or 0 if it is not held.
    #[wasm_bindgen(js_name = __fill, skip_typescript)] // internal to the JS layer
    pub fn fill(&self, s: f64) -> Result<u32, JsValue> {
        let mut st = self.rt.state()?;
        Ok(fill_into(&mut st, seq(s)))
    }

    /// `[id, targetId, type, inputs, config]` as JSON text.
    #[wasm_bindgen(js_name = __fixed, skip_typescript)] // internal to the JS layer
    pub fn fixed(&self, s: f64) -> Result<Option<String>, JsValue> {
        let st = self.rt.state()?;
        Ok(st.core.record(seq(s)).map(|r| r.fixed_json()))
    }

    /// `[message, outcome]` as JSON text (see `Record::texts_json`).
    #[wasm_bindgen(js_name = __texts, skip_typescript)] // internal to the JS layer
    pub fn texts(&self, s: f64) -> Result<Option<String>, JsValue> {
        let st = self.rt.state()?;
        Ok(st.core.record(seq(s)).map(|r| r.texts_json()))
    }

    /// `create(request)`: fills the scratch (slot 11 set) and returns the
    /// `__fixed` JSON of the new execution.
    #[wasm_bindgen(js_name = __create, skip_typescript)] // internal to the JS layer
    pub fn create_seq(&self, request: JsValue) -> Result<Option<String>, JsValue> {
        let request = js(args::request(&request))?;
        self.mutate(|st| st.core.create(request).map(Some), Reply::Fixed)
    }

    /// `track(request)`, as `__create`.
    #[wasm_bindgen(js_name = __track, skip_typescript)] // internal to the JS layer
    pub fn track_seq(&self, request: JsValue) -> Result<Option<String>, JsValue> {
        let request = js(args::request(&request))?;
        self.mutate(|st| st.core.track(request).map(Some), Reply::Fixed)
    }

    /// `start` by creation sequence.
    #[wasm_bindgen(js_name = __start, skip_typescript)] // internal to the JS layer
    pub fn start_seq(&self, s: f64) -> Result<Option<String>, JsValue> {
        let seq = seq(s);
        self.mutate(
            |st| {
                if !st.core.start_seq(seq)? {
                    return Ok(None);
                }
                let timeout = st.core.record(seq).and_then(|r| r.timeout_ms);
                self.rt.arm_timeout(st, seq, timeout);
                Ok(Some(seq))
            },
            Reply::Texts,
        )
    }

    /// `reportProgress` by creation sequence with numbers only (`total` NaN:
    /// none, no message); JS sends anything else to `__report`.
    #[wasm_bindgen(js_name = __progress, skip_typescript)] // internal to the JS layer
    pub fn progress_seq(&self, s: f64, current: f64, total: f64) -> Result<(), JsValue> {
        let total = (!total.is_nan()).then_some(total);
        let seq = seq(s);
        self.mutate(
            |st| {
                Ok(st
                    .core
                    .report_progress_seq(seq, current, total, None)?
                    .then_some(seq))
            },
            Reply::Done,
        )?;
        Ok(())
    }

    /// `reportProgress` by creation sequence, arguments as given.
    #[wasm_bindgen(js_name = __report, skip_typescript)] // internal to the JS layer
    pub fn report_seq(
        &self,
        s: f64,
        current: JsValue,
        total: JsValue,
        message: JsValue,
    ) -> Result<(), JsValue> {
        let seq = seq(s);
        if self.gone(seq)? {
            // Not held: the id-based method says why, before any argument error.
            return Ok(());
        }
        let current = js(convert::number_arg(&current, "current"))?;
        let total = js(convert::opt_number(Some(total), "total"))?;
        let message = js(convert::opt_string(Some(message), "message"))?;
        self.mutate(
            |st| {
                Ok(st
                    .core
                    .report_progress_seq(seq, current, total, message)?
                    .then_some(seq))
            },
            Reply::Done,
        )?;
        Ok(())
    }

    /// `complete` by creation sequence (`result` undefined: `null`). Reading
    /// `result` runs user code: if that removed the execution, this acts as
    /// `complete(id, result)` would have (by id, on the converted result),
    /// returns that method's snapshot and sets slot 11 to -1.
    #[wasm_bindgen(js_name = __complete, skip_typescript)] // internal to the JS layer
    pub fn complete_seq(&self, s: f64, result: JsValue, id: JsValue) -> Result<JsValue, JsValue> {
        let seq = seq(s);
        if self.gone(seq)? {
            return Ok(JsValue::UNDEFINED);
        }
        let result = if result.is_undefined() {
            None
        } else {
            Some(js(json(&result, "result"))?)
        };
        if self.gone(seq)? {
            let key = super::id_key(&id)?;
            let snapshot = self.change(|st| st.core.complete(&key, result))?;
            if let Some(code) = self.rt.state()?.scratch.get_mut(CODE) {
                *code = -1.0;
            }
            return Ok(snapshot);
        }
        Ok(self
            .mutate(
                |st| Ok(st.core.complete_seq(seq, result)?.then_some(seq)),
                Reply::Texts,
            )?
            .map_or(JsValue::UNDEFINED, |t| JsValue::from_str(&t)))
    }

    /// `list(query)`: `[total, page (NaN: null), pageSize, totalPages,
    /// hasNext, ...creation sequences]`; the next cursor is kept for `__cursor`.
    #[wasm_bindgen(js_name = __list, skip_typescript)] // internal to the JS layer
    pub fn list_seqs(&self, query: Option<JsValue>) -> Result<Vec<f64>, JsValue> {
        let query = js(args::query(query))?;
        let mut st = self.rt.state()?;
        let page = js(st.core.list_page(&query))?;
        let mut out = Vec::with_capacity(5 + page.seqs.len());
        out.extend([
            page.total as f64,
            page.page.map_or(f64::NAN, |p| p as f64),
            page.page_size as f64,
            page.total_pages as f64,
            if page.has_next { 1.0 } else { 0.0 },
        ]);
        out.extend(page.seqs.iter().map(|&s| s as f64));
        st.last_cursor = page.next_cursor;
        Ok(out)
    }

    /// The `nextCursor` of the last `__list` page.
    #[wasm_bindgen(js_name = __cursor, skip_typescript)] // internal to the JS layer
    pub fn cursor(&self) -> Result<Option<String>, JsValue> {
        let mut st = self.rt.state()?;
        Ok(st.last_cursor.take())
    }

    /// The creation sequences of executions removed since the last call.
    #[wasm_bindgen(js_name = __drain, skip_typescript)] // internal to the JS layer
    pub fn drain(&self) -> Result<Vec<f64>, JsValue> {
        let mut st = self.rt.state()?;
        Ok(st
            .core
            .take_removed()
            .into_iter()
            .map(|s| s as f64)
            .collect())
    }

    /// Sets the JS layer's callbacks (see `runtime::Hooks`).
    #[wasm_bindgen(js_name = __hooks, skip_typescript)] // internal to the JS layer
    pub fn set_hooks(
        &self,
        event: js_sys::Function,
        run: js_sys::Function,
        finished: js_sys::Function,
    ) -> Result<(), JsValue> {
        let mut st = self.rt.state()?;
        st.hooks = Some(std::rc::Rc::new(runtime::Hooks {
            event,
            run,
            finished,
        }));
        Ok(())
    }

    /// Whether events reach the layer's `event` hook (it has listeners).
    #[wasm_bindgen(js_name = __listen, skip_typescript)] // internal to the JS layer
    pub fn listen(&self, on: bool) -> Result<(), JsValue> {
        self.rt.state()?.core.set_record_numbers(on);
        Ok(())
    }

    /// Tells the layer's `finished` hook when `seq` becomes terminal.
    #[wasm_bindgen(js_name = __watch, skip_typescript)] // internal to the JS layer
    pub fn watch(&self, s: f64) -> Result<(), JsValue> {
        self.rt.state()?.notify.insert(seq(s));
        Ok(())
    }

    /// A handler the layer called returned `value` or threw it.
    #[wasm_bindgen(js_name = __settle, skip_typescript)] // internal to the JS layer
    pub fn settle(&self, s: f64, value: JsValue, threw: bool) {
        self.rt
            .settle(seq(s), if threw { Err(value) } else { Ok(value) });
    }

    /// `ctx.progress(current, total)` with numbers (`total` NaN: none).
    #[wasm_bindgen(js_name = __hprogress, skip_typescript)] // internal to the JS layer
    pub fn handler_progress(&self, s: f64, current: f64, total: f64) -> Result<(), JsValue> {
        let total = (!total.is_nan()).then_some(total);
        self.rt.handler_report(seq(s), current, total, None)
    }

    /// `ctx.progress(current, total, message)`, arguments as given.
    #[wasm_bindgen(js_name = __hreport, skip_typescript)] // internal to the JS layer
    pub fn handler_report(
        &self,
        s: f64,
        current: JsValue,
        total: JsValue,
        message: JsValue,
    ) -> Result<(), JsValue> {
        self.rt.handler_progress(seq(s), current, total, message)
    }
}
