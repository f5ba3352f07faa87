//! One held execution and its snapshot as JSON text.

use std::rc::Rc;

use super::json::{write_f64, write_key, write_opt_f64, write_str};
use super::progress::Progress;
use super::status::Status;

/// Who moves an execution along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// A registered handler runs it (`create`).
    Handler,
    /// It runs elsewhere and is reported here (`track`).
    External,
}

/// The failure details stored on a failed execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `HANDLER_ERROR`, `TIMEOUT`, `INVALID_RESULT` or an external code.
    pub code: String,
    /// The error's name, e.g. `TypeError`.
    pub name: String,
    /// The error's message.
    pub message: String,
    /// The error's stack, when there is one.
    pub stack: Option<String>,
}

impl Failure {
    /// A failure with no stack.
    pub fn new(code: &str, name: &str, message: impl Into<String>) -> Failure {
        Failure {
            code: code.to_owned(),
            name: name.to_owned(),
            message: message.into(),
            stack: None,
        }
    }

    fn write_json(&self, out: &mut String) {
        out.push('{');
        write_key(out, "code");
        write_str(out, &self.code);
        out.push(',');
        write_key(out, "name");
        write_str(out, &self.name);
        out.push(',');
        write_key(out, "message");
        write_str(out, &self.message);
        if let Some(stack) = &self.stack {
            out.push(',');
            write_key(out, "stack");
            write_str(out, stack);
        }
        out.push('}');
    }
}

/// How an execution ended, if it did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not finished.
    Open,
    /// Completed with this result (JSON text).
    Completed(Box<str>),
    /// Failed with these details.
    Failed(Box<Failure>),
    /// Cancelled, with the reason given if any.
    Cancelled(Option<Box<str>>),
}

/// An execution as the store holds it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Creation sequence number: unique for the manager's life, never reused.
    pub seq: u64,
    /// The caller-visible id.
    pub id: Rc<str>,
    /// The target it runs on.
    pub target_id: Rc<str>,
    /// Its type.
    pub kind: Rc<str>,
    /// Its status.
    pub status: Status,
    /// Handler-driven or externally driven.
    pub driver: Driver,
    /// `inputs` as JSON text.
    pub inputs: Box<str>,
    /// `config` as JSON text (an object).
    pub config: Box<str>,
    /// `config.timeoutMs`, when set.
    pub timeout_ms: Option<f64>,
    /// The latest progress report.
    pub progress: Option<Progress>,
    /// Result, failure or cancel reason.
    pub outcome: Outcome,
    /// ms since epoch.
    pub created_at: f64,
    /// ms since epoch, once started.
    pub started_at: Option<f64>,
    /// ms since epoch, once terminal.
    pub finished_at: Option<f64>,
    /// ms since epoch of the last change.
    pub updated_at: f64,
    /// Position in the finish order once terminal (eviction order); 0 before.
    pub finish_tick: u64,
}

impl Record {
    /// The contract's `Execution` object as JSON text.
    pub fn snapshot_json(&self) -> String {
        let mut out =
            String::with_capacity(160 + self.id.len() + self.inputs.len() + self.config.len());
        self.write_json(&mut out);
        out
    }

    /// Appends the contract's `Execution` object as JSON text.
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        write_key(out, "id");
        write_str(out, &self.id);
        out.push(',');
        write_key(out, "targetId");
        write_str(out, &self.target_id);
        out.push(',');
        write_key(out, "type");
        write_str(out, &self.kind);
        out.push(',');
        write_key(out, "status");
        write_str(out, self.status.as_str());
        out.push(',');
        write_key(out, "inputs");
        out.push_str(&self.inputs);
        out.push(',');
        write_key(out, "config");
        out.push_str(&self.config);
        out.push(',');
        write_key(out, "progress");
        match &self.progress {
            Some(p) => p.write_json(out),
            None => out.push_str("null"),
        }
        match &self.outcome {
            Outcome::Open | Outcome::Cancelled(None) => {}
            Outcome::Completed(result) => {
                out.push(',');
                write_key(out, "result");
                out.push_str(result);
            }
            Outcome::Failed(failure) => {
                out.push(',');
                write_key(out, "error");
                failure.write_json(out);
            }
            Outcome::Cancelled(Some(reason)) => {
                out.push(',');
                write_key(out, "cancelReason");
                write_str(out, reason);
            }
        }
        out.push(',');
        write_key(out, "createdAt");
        write_f64(out, self.created_at);
        out.push(',');
        write_key(out, "startedAt");
        write_opt_f64(out, self.started_at);
        out.push(',');
        write_key(out, "finishedAt");
        write_opt_f64(out, self.finished_at);
        out.push(',');
        write_key(out, "updatedAt");
        write_f64(out, self.updated_at);
        out.push('}');
    }
}
