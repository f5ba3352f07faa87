//! Helpers shared by the wasm-bindgen-test suites (tests/wasm_runtime.rs, tests/wasm_events.rs,
//! and through them tests/wasm_in_browser.rs). Not a test target itself: it sits in a folder.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use execman::wasm::Engine;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

// The ExecutionManager users get: js/manager.js around this build's engine, so that these suites
// run the whole path of a call (JS method -> engine -> queued changes drained in JS) in Node and
// in Chromium. The engine alone is tested by tests/wasm_engine.rs.
#[wasm_bindgen(module = "/js/manager.js")]
extern "C" {
    fn wrap(engine: &JsValue) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// js/manager.js's `ExecutionManager`, with the methods these suites call.
    #[derive(Clone)]
    pub type ExecutionManager;

    #[wasm_bindgen(method, catch)]
    pub fn register(
        this: &ExecutionManager,
        target_id: JsValue,
        handler: JsValue,
        options: Option<JsValue>,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn create(this: &ExecutionManager, request: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn track(this: &ExecutionManager, request: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn start(this: &ExecutionManager, id: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = reportProgress)]
    pub fn report_progress(
        this: &ExecutionManager,
        id: JsValue,
        current: JsValue,
        total: Option<JsValue>,
        message: Option<JsValue>,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn complete(
        this: &ExecutionManager,
        id: JsValue,
        result: Option<JsValue>,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn fail(this: &ExecutionManager, id: JsValue, error: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn status(this: &ExecutionManager, id: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn progress(this: &ExecutionManager, id: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn list(this: &ExecutionManager, query: Option<JsValue>) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn counts(this: &ExecutionManager) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn cancel(
        this: &ExecutionManager,
        id: JsValue,
        reason: Option<JsValue>,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method)]
    pub fn wait(this: &ExecutionManager, id: JsValue) -> Promise;
    #[wasm_bindgen(method, catch)]
    pub fn remove(this: &ExecutionManager, id: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn clear(this: &ExecutionManager) -> Result<u32, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn subscribe(this: &ExecutionManager, listener: JsValue) -> Result<Function, JsValue>;
    #[wasm_bindgen(method)]
    pub fn handle(this: &ExecutionManager, request: JsValue) -> JsValue;
    #[wasm_bindgen(method)]
    pub fn fetch(this: &ExecutionManager, request: JsValue) -> Promise;
    #[wasm_bindgen(method)]
    pub fn free(this: &ExecutionManager);
}

thread_local! {
    static CLASS: JsValue = {
        let engine = JsValue::from(Engine::new(JsValue::UNDEFINED));
        wrap(&Reflect::get(&engine, &JsValue::from_str("constructor")).unwrap())
    };
}

impl ExecutionManager {
    /// `new ExecutionManager(options)`.
    pub fn new(options: Option<JsValue>) -> Result<ExecutionManager, JsValue> {
        let class: Function = CLASS.with(|c| c.clone()).unchecked_into();
        let args = Array::of1(&options.unwrap_or(JsValue::UNDEFINED));
        Reflect::construct(&class, &args).map(JsCast::unchecked_into)
    }
}

/// A JS string.
pub fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

/// Evaluates a JS expression (object literals with NaN, functions, ... included).
pub fn js(expr: &str) -> JsValue {
    Function::new_no_args(&format!("return ({expr});"))
        .call0(&JsValue::NULL)
        .unwrap_or_else(|e| panic!("test bug: cannot evaluate {expr}: {e:?}"))
}

/// The queries (`status`, `progress`, `counts`, `clear`) may return the value itself or a
/// `Result` (an error only if the manager could not be read); the tests accept both shapes.
pub trait Query<T> {
    fn value(self) -> T;
}

impl Query<JsValue> for JsValue {
    fn value(self) -> JsValue {
        self
    }
}

impl Query<u32> for u32 {
    fn value(self) -> u32 {
        self
    }
}

impl<T> Query<T> for Result<T, JsValue> {
    fn value(self) -> T {
        self.unwrap_or_else(|e| panic!("a query threw: {e:?}"))
    }
}

pub fn ok<T>(v: impl Query<T>) -> T {
    v.value()
}

pub fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &s(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn get_str(v: &JsValue, key: &str) -> Option<String> {
    get(v, key).as_string()
}

/// JSON with object keys sorted, `"undefined"` for undefined: compares values structurally.
pub fn canon(v: &JsValue) -> String {
    let f = Function::new_with_args(
        "v",
        "if (v === undefined) return 'undefined';
         const sortKeys = (k, x) => (x && typeof x === 'object' && !Array.isArray(x))
           ? Object.keys(x).sort().reduce((o, key) => { o[key] = x[key]; return o; }, {})
           : x;
         try { return JSON.stringify(v, sortKeys); } catch (e) { return 'unserializable: ' + String(e); }",
    );
    f.call1(&JsValue::NULL, v).unwrap().as_string().unwrap()
}

/// A promise resolved after `ms` milliseconds by `globalThis.setTimeout` (Node and browsers).
pub fn sleep(ms: u32) -> JsFuture {
    let promise = Promise::new(&mut |resolve, _reject| {
        let set_timeout: Function = get(&js_sys::global(), "setTimeout").unchecked_into();
        set_timeout
            .call2(&JsValue::UNDEFINED, &resolve, &JsValue::from(ms))
            .unwrap();
    });
    JsFuture::from(promise)
}

/// Awaits `promise`, failing the test if it has not settled after `ms` milliseconds.
pub async fn settle(promise: Promise, ms: u32, what: &str) -> Result<JsValue, JsValue> {
    let race = Function::new_with_args(
        "p, ms",
        "return Promise.race([
           Promise.resolve(p).then((ok) => ({ ok }), (err) => ({ err, rejected: true })),
           new Promise((r) => globalThis.setTimeout(() => r({ timedOut: true }), ms)),
         ]);",
    );
    let raced: Promise = race
        .call2(&JsValue::NULL, &promise, &JsValue::from(ms))
        .unwrap()
        .unchecked_into();
    let out = JsFuture::from(raced).await.unwrap();
    if get(&out, "timedOut").is_truthy() {
        panic!("{what}: promise did not settle within {ms} ms");
    }
    if get(&out, "rejected").is_truthy() {
        Err(get(&out, "err"))
    } else {
        Ok(get(&out, "ok"))
    }
}

/// `manager.wait(id)` that must resolve within `ms`.
pub async fn wait_done(m: &ExecutionManager, id: &str, ms: u32) -> JsValue {
    settle(m.wait(s(id)), ms, &format!("wait({id})"))
        .await
        .unwrap_or_else(|e| panic!("wait({id}) rejected: {e:?}"))
}

/// Polls `cond` every millisecond or so, failing the test after `ms` milliseconds.
pub async fn until(what: &str, ms: f64, mut cond: impl FnMut() -> bool) {
    let start = js_sys::Date::now();
    while !cond() {
        if js_sys::Date::now() - start > ms {
            panic!("timed out after {ms} ms waiting for: {what}");
        }
        sleep(1).await.unwrap();
    }
}

pub fn counts(m: &ExecutionManager) -> String {
    canon(&ok(m.counts()))
}

pub fn expected_counts(
    pending: u32,
    running: u32,
    completed: u32,
    failed: u32,
    cancelled: u32,
) -> String {
    let total = pending + running + completed + failed + cancelled;
    canon(&js(&format!(
        "{{ pending: {pending}, running: {running}, completed: {completed}, failed: {failed}, cancelled: {cancelled}, total: {total} }}"
    )))
}

pub fn strings(v: &JsValue) -> Vec<String> {
    Array::from(v)
        .iter()
        .map(|x| x.as_string().unwrap_or_default())
        .collect()
}
