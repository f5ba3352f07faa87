//! Retry policies: their shape, read from JSON (a `create` request's
//! `retry`, a target's default from `register`), and the backoff arithmetic,
//! in one place.
//!
//! `retry = { attempts, backoff? }`, `backoff = { type?, delayMs?,
//! maxDelayMs?, jitter? }`. The delay after the n-th failed attempt is
//! `delayMs` (fixed) or `delayMs × 2^(n−1)` (exponential), capped by
//! `maxDelayMs`, then with jitter `j` a uniformly random value in
//! `[(1 − j) × delay, delay]`.

use serde_json::{Map, Value};

use super::error::Error;
use super::json::describe;

/// The most attempts a policy may allow.
pub const MAX_ATTEMPTS: u32 = 1000;

/// The longest delay a backoff gives, in ms: the span of JS `Date`s
/// (100,000,000 days), so that `runAt` stays a finite time even when an
/// exponential backoff without a cap would overflow.
pub const MAX_BACKOFF_MS: f64 = 8.64e15;

/// How the delay grows from one failed attempt to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackoffKind {
    /// The same delay after every failed attempt.
    #[default]
    Fixed,
    /// The delay doubles after every failed attempt.
    Exponential,
}

impl BackoffKind {
    /// The contract's spelling (`"fixed"`, `"exponential"`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackoffKind::Fixed => "fixed",
            BackoffKind::Exponential => "exponential",
        }
    }
}

/// The delays between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Backoff {
    /// Fixed or exponential.
    pub kind: BackoffKind,
    /// The first delay, ms (finite, ≥ 0).
    pub delay_ms: f64,
    /// The cap, ms (finite, ≥ 0), if any.
    pub max_delay_ms: Option<f64>,
    /// In `[0, 1]`: how much of the delay may be taken off at random.
    pub jitter: f64,
}

/// A retry policy: how many attempts in all, and the delays between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts in all, 1..=[`MAX_ATTEMPTS`] (1: no retry).
    pub attempts: u32,
    /// The delays between attempts.
    pub backoff: Backoff,
}

impl Retry {
    /// The delay (ms) after the `failed`-th attempt failed (1-based), with
    /// `unit` a uniform random number in `[0, 1)` for the jitter.
    ///
    /// ```
    /// use execman::core::retry::{Backoff, BackoffKind, Retry};
    ///
    /// let retry = Retry {
    ///     attempts: 5,
    ///     backoff: Backoff { kind: BackoffKind::Exponential, delay_ms: 100.0, max_delay_ms: Some(300.0), jitter: 0.0 },
    /// };
    /// assert_eq!([1, 2, 3, 4].map(|n| retry.delay(n, 0.5)), [100.0, 200.0, 300.0, 300.0]);
    /// ```
    pub fn delay(&self, failed: u32, unit: f64) -> f64 {
        let b = &self.backoff;
        let mut delay = match b.kind {
            BackoffKind::Fixed => b.delay_ms,
            BackoffKind::Exponential => {
                // 2^(n−1) for n ≤ 1000 is a finite f64; the product may not be.
                let exponent = i32::try_from(failed.saturating_sub(1)).unwrap_or(i32::MAX);
                b.delay_ms * 2f64.powi(exponent.min(1000))
            }
        };
        if let Some(cap) = b.max_delay_ms {
            delay = delay.min(cap);
        }
        delay = delay.min(MAX_BACKOFF_MS);
        if b.jitter > 0.0 {
            delay *= 1.0 - b.jitter * unit.clamp(0.0, 1.0);
        }
        if delay.is_finite() && delay > 0.0 {
            delay
        } else {
            0.0
        }
    }

    /// Reads a policy from JSON; `field` names it in errors
    /// (`request.retry`, `options.retry`). Unknown keys are ignored, as in
    /// the rest of a request.
    ///
    /// ```
    /// use execman::core::retry::Retry;
    /// use serde_json::json;
    ///
    /// let retry = Retry::from_json(&json!({ "attempts": 3, "backoff": { "type": "exponential", "delayMs": 100 } }), "request.retry")?;
    /// assert_eq!(retry.attempts, 3);
    /// let error = Retry::from_json(&json!({ "attempts": 3, "backoff": { "delayMs": -1 } }), "request.retry").unwrap_err();
    /// assert_eq!(error.to_string(), "invalid argument `request.retry.backoff.delayMs`: must be a finite number ≥ 0, got -1");
    /// # Ok::<(), execman::core::Error>(())
    /// ```
    pub fn from_json(value: &Value, field: &str) -> Result<Retry, Error> {
        let Value::Object(map) = value else {
            return Err(Error::invalid(
                field,
                format!(
                    "must be an object {{ attempts, backoff? }}, got {}",
                    describe(value)
                ),
            ));
        };
        let attempts = match map.get("attempts") {
            None => {
                return Err(Error::invalid(
                    format!("{field}.attempts"),
                    format!("is missing (an integer from 1 to {MAX_ATTEMPTS})"),
                ))
            }
            Some(v) => match v.as_f64() {
                Some(n) if n.fract() == 0.0 && (1.0..=f64::from(MAX_ATTEMPTS)).contains(&n) => {
                    n as u32
                }
                _ => {
                    return Err(Error::invalid(
                        format!("{field}.attempts"),
                        format!(
                            "must be an integer from 1 to {MAX_ATTEMPTS}, got {}",
                            describe(v)
                        ),
                    ))
                }
            },
        };
        let backoff = match map.get("backoff") {
            None => Backoff::default(),
            Some(v) => backoff(v, &format!("{field}.backoff"))?,
        };
        Ok(Retry { attempts, backoff })
    }

    /// The policy as JSON (what [`Retry::from_json`] reads back).
    pub fn to_json(&self) -> Value {
        let b = &self.backoff;
        let mut backoff = Map::new();
        backoff.insert("type".into(), Value::from(b.kind.as_str()));
        backoff.insert("delayMs".into(), Value::from(b.delay_ms));
        if let Some(cap) = b.max_delay_ms {
            backoff.insert("maxDelayMs".into(), Value::from(cap));
        }
        backoff.insert("jitter".into(), Value::from(b.jitter));
        let mut out = Map::new();
        out.insert("attempts".into(), Value::from(self.attempts));
        out.insert("backoff".into(), Value::Object(backoff));
        Value::Object(out)
    }
}

fn backoff(value: &Value, field: &str) -> Result<Backoff, Error> {
    let Value::Object(map) = value else {
        return Err(Error::invalid(
            field,
            format!(
                "must be an object {{ type?, delayMs?, maxDelayMs?, jitter? }}, got {}",
                describe(value)
            ),
        ));
    };
    let kind = match map.get("type") {
        None => BackoffKind::Fixed,
        Some(Value::String(s)) if s == "fixed" => BackoffKind::Fixed,
        Some(Value::String(s)) if s == "exponential" => BackoffKind::Exponential,
        Some(v) => {
            return Err(Error::invalid(
                format!("{field}.type"),
                format!("must be \"fixed\" or \"exponential\", got {}", describe(v)),
            ))
        }
    };
    let ms = |key: &str| -> Result<Option<f64>, Error> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
                _ => Err(Error::invalid(
                    format!("{field}.{key}"),
                    format!("must be a finite number ≥ 0, got {}", describe(v)),
                )),
            },
        }
    };
    let delay_ms = ms("delayMs")?.unwrap_or(0.0);
    let max_delay_ms = ms("maxDelayMs")?;
    let jitter = match map.get("jitter") {
        None => 0.0,
        Some(v) => match v.as_f64() {
            Some(j) if (0.0..=1.0).contains(&j) => j,
            _ => {
                return Err(Error::invalid(
                    format!("{field}.jitter"),
                    format!("must be a number from 0 to 1, got {}", describe(v)),
                ))
            }
        },
    };
    Ok(Backoff {
        kind,
        delay_ms,
        max_delay_ms,
        jitter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(kind: BackoffKind, delay_ms: f64, cap: Option<f64>, jitter: f64) -> Retry {
        Retry {
            attempts: 10,
            backoff: Backoff {
                kind,
                delay_ms,
                max_delay_ms: cap,
                jitter,
            },
        }
    }

    #[test]
    fn fixed_and_exponential_delays() {
        let fixed = policy(BackoffKind::Fixed, 50.0, None, 0.0);
        assert_eq!([1, 2, 9].map(|n| fixed.delay(n, 0.3)), [50.0; 3]);
        let exp = policy(BackoffKind::Exponential, 10.0, None, 0.0);
        assert_eq!(
            [1, 2, 3, 4].map(|n| exp.delay(n, 0.9)),
            [10.0, 20.0, 40.0, 80.0]
        );
        let capped = policy(BackoffKind::Exponential, 10.0, Some(25.0), 0.0);
        assert_eq!([1, 2, 3].map(|n| capped.delay(n, 0.0)), [10.0, 20.0, 25.0]);
        // 2^999 × a large delay overflows: the result is still a finite, bounded delay.
        let huge = policy(BackoffKind::Exponential, 1e300, None, 0.0);
        assert_eq!(huge.delay(1000, 0.0), MAX_BACKOFF_MS);
        assert_eq!(
            policy(BackoffKind::Exponential, 0.0, None, 0.0).delay(1000, 0.0),
            0.0
        );
    }

    #[test]
    fn jitter_takes_off_at_most_its_share() {
        let p = policy(BackoffKind::Fixed, 100.0, None, 0.25);
        assert_eq!(p.delay(1, 0.0), 100.0);
        assert_eq!(p.delay(1, 0.5), 87.5);
        assert!(p.delay(1, 0.999_999) > 75.0);
        let full = policy(BackoffKind::Fixed, 100.0, None, 1.0);
        assert!(full.delay(1, 0.999_999) >= 0.0);
    }

    #[test]
    fn shapes_are_checked_naming_the_field() {
        let err = |v: Value| {
            Retry::from_json(&v, "request.retry")
                .unwrap_err()
                .to_string()
        };
        assert!(err(json!(3)).contains("`request.retry`"));
        assert!(err(json!({})).contains("`request.retry.attempts`: is missing"));
        assert!(err(json!({ "attempts": 0 })).contains("`request.retry.attempts`"));
        assert!(err(json!({ "attempts": 1001 })).contains("`request.retry.attempts`"));
        assert!(err(json!({ "attempts": 1.5 })).contains("`request.retry.attempts`"));
        assert!(err(json!({ "attempts": 2, "backoff": [] })).contains("`request.retry.backoff`"));
        assert!(
            err(json!({ "attempts": 2, "backoff": { "type": "linear" } }))
                .contains("`request.retry.backoff.type`")
        );
        assert!(err(json!({ "attempts": 2, "backoff": { "delayMs": "1" } }))
            .contains("`request.retry.backoff.delayMs`"));
        assert!(
            err(json!({ "attempts": 2, "backoff": { "maxDelayMs": -1 } }))
                .contains("`request.retry.backoff.maxDelayMs`")
        );
        assert!(err(json!({ "attempts": 2, "backoff": { "jitter": 1.5 } }))
            .contains("`request.retry.backoff.jitter`"));
        let ok = Retry::from_json(
            &json!({ "attempts": 1000, "backoff": { "type": "exponential", "delayMs": 5, "maxDelayMs": 0, "jitter": 1 } }),
            "options.retry",
        )
        .unwrap();
        assert_eq!(Retry::from_json(&ok.to_json(), "x").unwrap(), ok);
    }
}
