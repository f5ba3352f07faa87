//! What counts as an `AbortSignal` argument (`request.signal`,
//! `options.signal` of `wait` and `watch`). The engine only checks it and
//! hands it to `js/manager.js` (see [`super::Engine::take_signal`]), which
//! listens to it; nothing of a signal is kept in wasm.

use std::cell::OnceCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::convert::{describe, get};
use crate::core::Error;

thread_local! {
    /// The `aborted` getter of `AbortSignal.prototype`, looked up once
    /// (`None` where the host has no `AbortSignal`).
    static ABORTED: OnceCell<Option<Function>> = const { OnceCell::new() };
}

fn aborted_getter() -> Option<Function> {
    let ctor = Reflect::get(&js_sys::global(), &JsValue::from_str("AbortSignal")).ok()?;
    let proto = Reflect::get(&ctor, &JsValue::from_str("prototype"))
        .ok()?
        .dyn_into::<Object>()
        .ok()?;
    let descriptor = Object::get_own_property_descriptor(&proto, &JsValue::from_str("aborted"));
    if !descriptor.is_object() {
        return None;
    }
    Reflect::get(&descriptor, &JsValue::from_str("get"))
        .ok()?
        .dyn_into::<Function>()
        .ok()
}

/// Whether `value` is an `AbortSignal`: the host's own `aborted` getter
/// accepts it (a brand check, as the platform's methods make; an object
/// that only looks like a signal, or inherits from its prototype, fails).
fn is_abort_signal(value: &JsValue) -> bool {
    if !value.is_object() {
        return false;
    }
    ABORTED.with(|cell| {
        cell.get_or_init(aborted_getter)
            .as_ref()
            .is_some_and(|getter| {
                getter
                    .call0(value)
                    .is_ok_and(|aborted| aborted.as_bool().is_some())
            })
    })
}

/// A signal argument: `undefined` is none; anything but an `AbortSignal` is
/// `INVALID_ARGUMENT` naming `field`.
pub fn signal(value: JsValue, field: &str) -> Result<Option<JsValue>, Error> {
    if value.is_undefined() {
        return Ok(None);
    }
    if is_abort_signal(&value) {
        Ok(Some(value))
    } else {
        Err(Error::invalid(
            field,
            format!("must be an AbortSignal, got {}", describe(&value)),
        ))
    }
}

/// The `signal` of an options object (`wait` and `watch`): `undefined` and
/// `null` options have none; other options must be a plain object.
pub fn option(options: JsValue) -> Result<Option<JsValue>, Error> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    if !super::convert::is_plain_object(&options, "options")? {
        return Err(Error::invalid(
            "options",
            format!("must be an object, got {}", describe(&options)),
        ));
    }
    signal(get(&options, "signal", "options.signal")?, "options.signal")
}
