//! Conversions between JS values and the core's types, validating as the
//! contract says: only JSON-compatible values cross, nothing is coerced, and
//! a throwing getter or Proxy trap becomes `INVALID_ARGUMENT`.

use std::cell::{Cell, OnceCell};

use js_sys::{JsString, Object};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use super::ffi;
use crate::core::{number, Error, Failure, MAX_DEPTH};

thread_local! {
    static OBJECT_PROTOTYPE: OnceCell<JsValue> = const { OnceCell::new() };
    static ERROR_PROTOTYPE: OnceCell<JsValue> = const { OnceCell::new() };
    /// What the conversions of the engine call under way may still copy into
    /// wasm, in units (see [`within`]), and whether one was refused for it.
    /// Every engine call that converts arguments sets both on entry and puts
    /// back the outer call's on exit, so a nested call (a getter that calls
    /// another manager) has its own.
    static ROOM: Cell<usize> = const { Cell::new(usize::MAX) };
    static OUT_OF_ROOM: Cell<bool> = const { Cell::new(false) };
}

/// Runs `convert` with `room_bytes` (what the manager's `maxBytes` leaves)
/// as the limit on everything it copies into wasm, all values together: a
/// string counts its UTF-16 units, any other JSON value 16, so what is
/// copied in (as UTF-8 and as parsed values) stays within a small multiple
/// of the room. A value that would pass it is refused as it is read, before
/// the rest is copied, with `RESOURCE_EXHAUSTED` (`budget` is `maxBytes`,
/// for the message). The exact check of what will be held comes after.
pub fn within<T>(
    room_bytes: u64,
    budget: u64,
    convert: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let room = usize::try_from(room_bytes.min(MAX_CALL_UNITS)).unwrap_or(usize::MAX);
    let (result, out_of_room) = scoped(room, convert);
    result.map_err(|e| match e {
        Error::InvalidArgument { .. } if out_of_room => Error::ResourceExhausted {
            needed: 0,
            room: room_bytes,
            budget,
        },
        other => other,
    })
}

/// The most one call may copy in, whatever the room: with UTF-8 text and
/// parsed values a few bytes per unit, it keeps one call's transient copies
/// within a few hundred MiB.
const MAX_CALL_UNITS: u64 = 128 << 20;

/// Runs `convert` with no room limit (the fixed limits still apply): for an
/// engine call whose arguments the budget does not cover (ids to look up,
/// targets, options, a request's head).
pub fn unbounded<T>(convert: impl FnOnce() -> T) -> T {
    scoped(usize::MAX, convert).0
}

fn scoped<T>(room: usize, convert: impl FnOnce() -> T) -> (T, bool) {
    let outer_room = ROOM.with(|r| r.replace(room));
    let outer_flag = OUT_OF_ROOM.with(|o| o.replace(false));
    let result = convert();
    ROOM.with(|r| r.set(outer_room));
    let out_of_room = OUT_OF_ROOM.with(|o| o.replace(outer_flag));
    (result, out_of_room)
}

/// Whether the conversion under way was refused for the room (so a caller
/// that turns refusals into a bad-request answer passes this one on).
pub fn out_of_room() -> bool {
    OUT_OF_ROOM.with(Cell::get)
}

/// Takes `units` from the room of the call under way; false (and the call
/// marked as out of room) when they do not fit.
fn charge(units: usize) -> bool {
    ROOM.with(|r| match r.get().checked_sub(units) {
        Some(left) => {
            r.set(left);
            true
        }
        None => {
            OUT_OF_ROOM.with(|o| o.set(true));
            false
        }
    })
}

fn object_prototype() -> JsValue {
    OBJECT_PROTOTYPE.with(|cell| {
        cell.get_or_init(|| Object::get_prototype_of(&Object::new()).into())
            .clone()
    })
}

fn error_prototype() -> JsValue {
    ERROR_PROTOTYPE.with(|cell| {
        cell.get_or_init(|| Object::get_prototype_of(&js_sys::Error::new("")).into())
            .clone()
    })
}

/// The string in `value` if it is a well-formed string; `Err` for a string
/// with lone surrogates; `Ok(None)` for anything else.
pub fn string(value: &JsValue, field: &str) -> Result<Option<String>, Error> {
    match checked_string(value) {
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(bad)) => Err(Error::invalid(field, bad.reason())),
        None => Ok(None),
    }
}

/// The longest string accepted anywhere (UTF-16 units), and the budget of a
/// whole JSON value (string lengths plus 16 per other value): inputs far
/// past them would exhaust the 4 GiB wasm heap or V8's string limit on the
/// way back, so they are refused up front.
pub const MAX_STRING: u32 = crate::wire::MAX_STRING;
const MAX_JSON_UNITS: usize = 32 << 20;
const UNIT_COST: usize = 16;

/// Why a JS string is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadString {
    /// It has a lone UTF-16 surrogate.
    LoneSurrogate,
    /// It is longer than [`MAX_STRING`].
    TooLong,
}

impl BadString {
    fn reason(self) -> String {
        match self {
            BadString::LoneSurrogate => "contains a lone UTF-16 surrogate".into(),
            BadString::TooLong => format!("is longer than {MAX_STRING} characters"),
        }
    }
}

/// A JS string as a Rust string, `Err` if it has lone surrogates, `None` if
/// `value` is not a string. The UTF-8 conversion turns a lone surrogate into
/// U+FFFD, so JS is asked (`isWellFormed`) only when one shows up.
fn checked_string(value: &JsValue) -> Option<Result<String, BadString>> {
    if !value.is_string() {
        return None;
    }
    let js: &JsString = value.unchecked_ref();
    if js.length() > MAX_STRING || !charge(js.length() as usize) {
        return Some(Err(BadString::TooLong));
    }
    let s = value.as_string()?;
    if s.contains('\u{FFFD}') && !ffi::is_well_formed(js) {
        return Some(Err(BadString::LoneSurrogate));
    }
    Some(Ok(s))
}

/// An id argument: a well-formed string, or `None` (never coerced: unknown).
pub fn id(value: &JsValue) -> Result<Option<String>, Error> {
    match checked_string(value) {
        Some(Ok(s)) => Ok(Some(s)),
        // No id that long can exist: it is simply unknown.
        Some(Err(BadString::TooLong)) | None => Ok(None),
        Some(Err(bad)) => Err(Error::invalid("id", bad.reason())),
    }
}

/// A short printable form of a value for error messages.
pub fn describe(value: &JsValue) -> String {
    if value.is_string() {
        let js: &JsString = value.unchecked_ref();
        let shown = if js.length() > 64 {
            let head = js.slice(0, 60).as_string().unwrap_or_default();
            return format!("{head:?}… ({} characters)", js.length());
        } else {
            value.as_string().unwrap_or_default()
        };
        return format!("{shown:?}");
    }
    if let Some(n) = value.as_f64() {
        // Spelled out here: core::fmt's float formatting would add ~25 KB to the .wasm.
        if n.is_nan() {
            return "NaN".into();
        }
        if n.is_infinite() {
            return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
        }
        if n == 0.0 && n.is_sign_negative() {
            return "-0".into();
        }
        let mut out = String::new();
        crate::core::write_f64(&mut out, n);
        return out;
    }
    let kind = value.js_typeof().as_string().unwrap_or_default();
    if value.is_null() {
        "null".into()
    } else {
        format!("a value of type {kind}")
    }
}

/// `NOT_FOUND` for an id argument of any type.
pub fn not_found(value: &JsValue) -> Error {
    match checked_string(value) {
        Some(Ok(s)) => Error::not_found(&s),
        Some(Err(_)) => {
            // Too long to copy: name it by its start and length (quoted once, by the message).
            let js: &JsString = value.unchecked_ref();
            let head = js.slice(0, 60).as_string().unwrap_or_default();
            Error::NotFound {
                id: format!("{head}… ({} characters)", js.length()),
            }
        }
        None => Error::NotFound {
            id: describe(value),
        },
    }
}

/// Reads a property, turning a throwing getter or trap into `INVALID_ARGUMENT`.
pub fn get(object: &JsValue, name: &str, field: &str) -> Result<JsValue, Error> {
    super::keys::with_key(name, |key| ffi::reflect_get(object, key))
        .map_err(|_| Error::invalid(field, "reading it threw an exception"))
}

/// Whether `value` is an object (not an array, not a function) whose
/// prototype is `Object.prototype` or `null`.
pub fn is_plain_object(value: &JsValue, field: &str) -> Result<bool, Error> {
    if !value.is_object() || value.is_function() {
        return Ok(false);
    }
    if ffi::is_array(value).map_err(|_| Error::invalid(field, "inspecting it threw"))? {
        return Ok(false);
    }
    let proto = ffi::get_prototype_of(value)
        .map_err(|_| Error::invalid(field, "inspecting its prototype threw"))?;
    Ok(proto.is_null() || proto == object_prototype())
}

/// Whether `value` has `Error.prototype` on its prototype chain.
pub fn is_error(value: &JsValue) -> bool {
    if !value.is_object() {
        return false;
    }
    let target = error_prototype();
    let mut current = value.clone();
    for _ in 0..64 {
        match ffi::get_prototype_of(&current) {
            Ok(proto) if proto.is_null() => return false,
            Ok(proto) if proto == target => return true,
            Ok(proto) => current = proto,
            Err(_) => return false,
        }
    }
    false
}

/// Copies a JSON-compatible JS value into a JSON value.
pub fn json(value: &JsValue, field: &str) -> Result<Value, Error> {
    let mut path = Vec::new();
    let mut budget = MAX_JSON_UNITS;
    to_json(value, 1, &mut path, &mut budget).map_err(|reason| {
        // Segments were pushed innermost first; long paths keep both ends.
        let mut where_ = field.to_owned();
        let n = path.len();
        for (i, seg) in path.iter().rev().enumerate() {
            if n > 12 && i == 6 {
                where_.push_str(&format!("…({} levels)…", n - 10));
            }
            if n <= 12 || i < 6 || i >= n - 4 {
                where_.push_str(seg);
            }
        }
        Error::invalid(where_, reason)
    })
}

fn to_json(
    value: &JsValue,
    level: usize,
    path: &mut Vec<String>,
    budget: &mut usize,
) -> Result<Value, String> {
    *budget = budget.checked_sub(UNIT_COST).ok_or_else(too_big)?;
    if !charge(UNIT_COST) {
        return Err(too_big());
    }
    if let Some(n) = value.as_f64() {
        return number(n)
            .ok_or_else(|| "is NaN or infinite, which is not JSON-compatible".to_string());
    }
    match checked_string(value) {
        Some(Ok(s)) => {
            *budget = budget.checked_sub(utf16_len(&s)).ok_or_else(too_big)?;
            return Ok(Value::String(s));
        }
        Some(Err(bad)) => return Err(bad.reason()),
        None => {}
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if value.is_null() {
        return Ok(Value::Null);
    }
    if value.is_undefined() {
        return Err("is undefined, which is not JSON-compatible".into());
    }
    if !value.is_object() || value.is_function() {
        let kind = value.js_typeof().as_string().unwrap_or_default();
        return Err(format!("is a {kind}, which is not JSON-compatible"));
    }
    if level > MAX_DEPTH {
        return Err(format!(
            "nests deeper than {MAX_DEPTH} levels (or is a cycle)"
        ));
    }
    let array = ffi::is_array(value).map_err(|_| "inspecting it threw".to_string())?;
    if array {
        let len = super::keys::with_key("length", |key| ffi::reflect_get(value, key))
            .ok()
            .and_then(|l| l.as_f64())
            .ok_or_else(|| "reading its length threw".to_string())?;
        let len = len as u32;
        let mut items = Vec::with_capacity(len.min(1 << 16) as usize);
        for i in 0..len {
            let item = ffi::reflect_get(value, &JsValue::from(i)).map_err(|_| {
                path.push(format!("[{i}]"));
                "reading it threw".to_string()
            })?;
            let v = to_json(&item, level + 1, path, budget)
                .inspect_err(|_| path.push(format!("[{i}]")))?;
            items.push(v);
        }
        return Ok(Value::Array(items));
    }
    let proto =
        ffi::get_prototype_of(value).map_err(|_| "inspecting its prototype threw".to_string())?;
    if !(proto.is_null() || proto == object_prototype()) {
        return Err("is not a plain object or array (class instances, Dates, Maps, typed arrays… are not JSON-compatible)".into());
    }
    let keys = ffi::object_keys(value).map_err(|_| "listing its keys threw".to_string())?;
    let mut map = Map::new();
    for key in keys.iter() {
        let name = match checked_string(&key) {
            Some(Ok(name)) => {
                *budget = budget.checked_sub(utf16_len(&name)).ok_or_else(too_big)?;
                name
            }
            _ => {
                path.push(format!(".{}", key.as_string().unwrap_or_default()));
                return Err("key contains a lone UTF-16 surrogate".into());
            }
        };
        let item = ffi::reflect_get(value, &key).map_err(|_| {
            path.push(format!(".{name}"));
            "reading it threw".to_string()
        })?;
        let v = to_json(&item, level + 1, path, budget)
            .inspect_err(|_| path.push(format!(".{name}")))?;
        map.insert(name, v);
    }
    Ok(Value::Object(map))
}

/// A string's length in UTF-16 units, as JS counts it (and as the budget does).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

fn too_big() -> String {
    format!("is larger than {MAX_JSON_UNITS} units (string lengths plus {UNIT_COST} per value)")
}

/// An optional string argument: `None` for `undefined`/`null`.
pub fn opt_string(value: Option<JsValue>, field: &str) -> Result<Option<String>, Error> {
    match value {
        None => Ok(None),
        Some(v) if v.is_undefined() || v.is_null() => Ok(None),
        Some(v) => match string(&v, field)? {
            Some(s) => Ok(Some(s)),
            None => Err(Error::invalid(
                field,
                format!("must be a string, got {}", describe(&v)),
            )),
        },
    }
}

/// The longest text of a failure's details (the core's, shared with REST).
pub use crate::core::MAX_DETAIL;

/// A thrown value's text, cut to [`MAX_DETAIL`] units before it is copied
/// into wasm (lone surrogates become U+FFFD: a thrown value is never refused).
fn cut(value: &JsValue) -> Option<String> {
    let js = value.dyn_ref::<JsString>()?;
    if js.length() <= MAX_DETAIL {
        return js.as_string();
    }
    let mut head = js.slice(0, MAX_DETAIL - 1).as_string()?;
    head.push('…');
    Some(head)
}

/// The failure details of a thrown value: `HANDLER_ERROR` with its name,
/// message and stack (`"Error"` and `String(value)` for a non-Error), each
/// cut to [`MAX_DETAIL`] units.
pub fn thrown(value: &JsValue) -> Failure {
    if is_error(value) {
        let text = |key: &str| {
            super::keys::with_key(key, |k| ffi::reflect_get(value, k))
                .ok()
                .and_then(|v| cut(&v))
        };
        Failure {
            code: "HANDLER_ERROR".into(),
            name: text("name")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "Error".into()),
            message: text("message").unwrap_or_default(),
            stack: text("stack"),
        }
    } else {
        let message = ffi::js_string(value)
            .ok()
            .and_then(|s| cut(&s))
            .unwrap_or_else(|| "[a value that cannot be converted to a string]".into());
        Failure::new("HANDLER_ERROR", "Error", message)
    }
}

/// Whether a thrown value says it must not be retried: an object whose
/// `retryable` property is `false` (a getter that throws says nothing).
pub fn not_retryable(value: &JsValue) -> bool {
    value.is_object()
        && super::keys::with_key("retryable", |key| ffi::reflect_get(value, key))
            .is_ok_and(|v| v.as_bool() == Some(false))
}

/// The `error` argument of `fail`: a string, an `Error`, or
/// `{ message, code?, name?, stack? }`.
pub fn failure(value: &JsValue) -> Result<Failure, Error> {
    if value
        .dyn_ref::<JsString>()
        .is_some_and(|s| s.length() > MAX_DETAIL)
    {
        return Err(Error::invalid(
            "error",
            format!("is longer than {MAX_DETAIL} characters"),
        ));
    }
    if let Some(message) = string(value, "error")? {
        return Ok(Failure::new("EXTERNAL_ERROR", "Error", message));
    }
    let error_like = is_error(value);
    if !error_like && !is_plain_object(value, "error")? {
        return Err(Error::invalid(
            "error",
            format!(
                "must be a string, an Error or {{ message, code?, name?, stack? }}, got {}",
                describe(value)
            ),
        ));
    }
    let field = |key: &str, required: bool| -> Result<Option<String>, Error> {
        let name = format!("error.{key}");
        let v = get(value, key, &name)?;
        if v.is_undefined() || (error_like && !v.is_string()) {
            return if required && !error_like {
                Err(Error::invalid(name, "must be a string"))
            } else {
                Ok(None)
            };
        }
        if v.dyn_ref::<JsString>()
            .is_some_and(|s| s.length() > MAX_DETAIL)
        {
            return Err(Error::invalid(
                name,
                format!("is longer than {MAX_DETAIL} characters"),
            ));
        }
        match string(&v, &name)? {
            Some(s) => Ok(Some(s)),
            None => Err(Error::invalid(
                name,
                format!("must be a string, got {}", describe(&v)),
            )),
        }
    };
    let message = field("message", true)?.unwrap_or_default();
    let code = field("code", false)?.filter(|c| !c.is_empty());
    let name = field("name", false)?.filter(|n| !n.is_empty());
    let stack = field("stack", false)?;
    Ok(Failure {
        code: code.unwrap_or_else(|| "EXTERNAL_ERROR".into()),
        name: name.unwrap_or_else(|| "Error".into()),
        message,
        stack,
    })
}
