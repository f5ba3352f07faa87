//! Helpers shared by the native test files (`#[path]`-included: a folder with a `mod.rs` is not
//! a test crate of its own). Each file takes what it needs, so the rest is dead code there.
#![allow(dead_code)]

pub mod image;
pub mod rest;

use execman::core::retry::{Backoff, BackoffKind, Retry};
use execman::core::{Manager, ManualClock, Options, SequentialIds};
use serde_json::Value;

/// The ids of a `Page`'s items, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The manager's counts as `[pending, running, completed, failed, cancelled, total]`.
pub fn counts(m: &Manager) -> [usize; 6] {
    m.counts().to_array()
}

/// A retry policy from its parts as strategies draw them: `(attempts,
/// exponential, delayMs, maxDelayMs, jitter)`, `exponential` picking the kind.
pub fn retry(
    (attempts, exponential, delay_ms, max_delay_ms, jitter): (u32, bool, f64, Option<f64>, f64),
) -> Retry {
    Retry {
        attempts,
        backoff: Backoff {
            kind: if exponential {
                BackoffKind::Exponential
            } else {
                BackoffKind::Fixed
            },
            delay_ms,
            max_delay_ms,
            jitter,
        },
    }
}

/// A manager with `options`, a `ManualClock` set to `now` (returned with it) and
/// `SequentialIds`; no target registered.
pub fn manager_at(options: Options, now: f64) -> (Manager, ManualClock) {
    let clock = ManualClock::default();
    clock.set(now);
    let m = Manager::new(
        options,
        Box::new(clock.clone()),
        Box::new(SequentialIds::default()),
    );
    (m, clock)
}

/// JSON equality with numbers compared as f64, equal when they differ by at
/// most `relative × max(|x|, |y|, floor)`, and an expected `message` of `null`
/// matching any string.
pub fn approx_within(expected: &Value, actual: &Value, relative: f64, floor: f64) -> bool {
    match (expected, actual) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= relative * x.abs().max(y.abs()).max(floor)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(a, b)| approx_within(a, b, relative, floor))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.get(k).is_some_and(|w| {
                        approx_within(v, w, relative, floor)
                            || (k == "message" && v.is_null() && w.is_string())
                    })
                })
        }
        _ => expected == actual,
    }
}
