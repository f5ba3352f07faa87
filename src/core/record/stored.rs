//! A record as a durable store holds it: [`Record`] to and from
//! [`ExecutionImage`] (and its changing part, [`ExecutionState`]).
//!
//! Everything a snapshot shows is kept, and the finish order; the text
//! version and the run-queue slot are not (a restored manager starts its JS
//! cache empty and queues its pending executions again).

use std::rc::Rc;

use serde_json::Value;

use super::{units, Driver, Failure, Outcome, Record, SlotKind};
use crate::core::durable::{
    Backoff as StoredBackoff, BackoffKind as StoredKind, ExecutionImage, ExecutionState,
    ProgressImage, RetryPolicy,
};
use crate::core::json::MAX_DEPTH;
use crate::core::json_reader;
use crate::core::progress::Progress;
use crate::core::retry::{Backoff, BackoffKind, Retry};
use crate::core::status::Status;

impl Failure {
    /// The failure as the JSON text a store keeps: `{"code","name","message","stack"?}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            48 + self.code.len()
                + self.name.len()
                + self.message.len()
                + self.stack.as_deref().map_or(0, str::len),
        );
        self.write_json(&mut out);
        out
    }

    /// Reads [`Failure::to_json`] back; `None` when the text is not such an object.
    pub fn from_json(text: &str) -> Option<Failure> {
        let Ok(Value::Object(map)) = json_reader::parse(text, 2) else {
            return None;
        };
        let text = |key: &str| match map.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let stack = match map.get("stack") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return None,
        };
        Some(Failure {
            code: text("code")?,
            name: text("name")?,
            message: text("message")?,
            stack,
        })
    }
}

fn retry_image(r: &Retry) -> RetryPolicy {
    RetryPolicy {
        attempts: r.attempts,
        backoff: StoredBackoff {
            kind: match r.backoff.kind {
                BackoffKind::Fixed => StoredKind::Fixed,
                BackoffKind::Exponential => StoredKind::Exponential,
            },
            delay_ms: r.backoff.delay_ms,
            max_delay_ms: r.backoff.max_delay_ms,
            jitter: r.backoff.jitter,
        },
    }
}

fn retry_of(r: &RetryPolicy) -> Retry {
    Retry {
        attempts: r.attempts,
        backoff: Backoff {
            kind: match r.backoff.kind {
                StoredKind::Fixed => BackoffKind::Fixed,
                StoredKind::Exponential => BackoffKind::Exponential,
            },
            delay_ms: r.backoff.delay_ms,
            max_delay_ms: r.backoff.max_delay_ms,
            jitter: r.backoff.jitter,
        },
    }
}

/// Whether `text` is one JSON value within the nesting limit (what
/// `inputs`, `config` and results always are).
fn json_ok(text: &str) -> bool {
    json_reader::is_valid(text, MAX_DEPTH)
}

impl Record {
    /// The latest progress report as a store keeps it.
    pub fn progress_image(&self) -> Option<ProgressImage> {
        self.progress.as_ref().map(|p| ProgressImage {
            current: p.current,
            total: p.total,
            message: p.message.as_deref().map(Box::from),
            updated_at: p.updated_at,
        })
    }

    /// Everything that changes after creation, as a store keeps it.
    pub fn state_image(&self) -> ExecutionState {
        let (result, failure, cancel_reason) = match &self.outcome {
            Outcome::Open => (None, None, None),
            Outcome::Completed(result) => (Some(result.clone()), None, None),
            Outcome::Failed(f) => (None, Some(f.to_json().into_boxed_str()), None),
            Outcome::Cancelled(reason) => (None, None, reason.clone()),
        };
        ExecutionState {
            status: self.status,
            attempt: self.attempt(),
            run_at: self.run_at(),
            progress: self.progress_image(),
            result,
            failure,
            cancel_reason,
            started_at: self.started_at,
            finished_at: self.finished_at,
            updated_at: self.updated_at,
            finish_order: self.finish_tick,
        }
    }

    /// The whole execution as a store keeps it.
    pub fn image(&self) -> ExecutionImage {
        ExecutionImage {
            seq: self.seq,
            id: self.id.clone(),
            target_id: self.target_id.clone(),
            kind: self.kind.clone(),
            tracked: self.driver == Driver::External,
            inputs: self.inputs.clone(),
            config: self.config.clone(),
            created_at: self.created_at,
            priority: self.priority,
            max_attempts: self.max_attempts(),
            retry: self.retry.as_deref().map(retry_image),
            timeout_ms: self.timeout_ms,
            state: self.state_image(),
        }
    }

    /// A record from what a store kept, as it was; the first field that no
    /// manager would hold (JSON texts that are not JSON, a failure that is
    /// not a failure object, counts out of range) is refused by name.
    pub fn from_image(image: ExecutionImage) -> Result<Record, &'static str> {
        let ExecutionImage {
            seq,
            id,
            target_id,
            kind,
            tracked,
            inputs,
            config,
            created_at,
            priority,
            max_attempts,
            retry,
            timeout_ms,
            state,
        } = image;
        if !json_ok(&inputs) {
            return Err("inputs");
        }
        // One JSON value that starts with `{`: an object.
        let object = config
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{');
        if !object || !json_ok(&config) {
            return Err("config");
        }
        let max_attempts = u16::try_from(max_attempts).map_err(|_| "maxAttempts")?;
        let attempt = u16::try_from(state.attempt).map_err(|_| "attempt")?;
        let failure = |text: Option<Box<str>>| match text {
            Some(text) => Failure::from_json(&text)
                .map(|f| Some(Box::new(f)))
                .ok_or("failure"),
            None => Ok(None),
        };
        let outcome = match state.status {
            Status::Completed => {
                let result = state.result.unwrap_or_else(|| "null".into());
                if !json_ok(&result) {
                    return Err("result");
                }
                Outcome::Completed(result)
            }
            Status::Cancelled => Outcome::Cancelled(state.cancel_reason),
            Status::Failed => Outcome::Failed(failure(state.failure)?.ok_or("failure")?),
            Status::Pending | Status::Running => match failure(state.failure)? {
                Some(f) => Outcome::Failed(f),
                None => Outcome::Open,
            },
        };
        let progress = state.progress.map(|p| Progress {
            current: p.current,
            total: p.total,
            message: p.message.map(String::from),
            updated_at: p.updated_at,
        });
        let message = progress
            .as_ref()
            .and_then(|p| p.message.as_deref())
            .map_or(0, units);
        let bytes = Record::bytes_of(&id, &target_id, &kind, &inputs, &config)
            + outcome.bytes()
            + 2 * message;
        Ok(Record {
            seq,
            id,
            target_id,
            kind,
            status: state.status,
            driver: if tracked {
                Driver::External
            } else {
                Driver::Handler
            },
            inputs,
            config,
            timeout_ms,
            progress,
            outcome,
            created_at,
            started_at: state.started_at,
            finished_at: state.finished_at,
            updated_at: state.updated_at,
            finish_tick: state.finish_order,
            text_version: 0,
            bytes,
            priority,
            attempt,
            max_attempts,
            run_at: state.run_at.unwrap_or(f64::NAN),
            retry: retry.as_ref().map(|r| Rc::new(retry_of(r))),
            slot_key: 0,
            slot_kind: SlotKind::None,
            group: 0,
        })
    }
}
