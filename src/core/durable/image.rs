//! What a store holds of one execution and of its manager: plain data, with
//! no behaviour of the manager's. The manager converts its records to and
//! from these when it writes and when it opens a store.

use std::rc::Rc;

use crate::core::Status;

/// One held execution, whole: what a `put` record stores.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionImage {
    /// Creation sequence: unique for the manager's life, never reused.
    pub seq: u64,
    /// The caller-visible id.
    pub id: Rc<str>,
    /// The target it runs on.
    pub target_id: Rc<str>,
    /// Its type.
    pub kind: Rc<str>,
    /// Tracked (`track`: it runs elsewhere) rather than handler-driven.
    pub tracked: bool,
    /// `inputs` as JSON text.
    pub inputs: Box<str>,
    /// `config` as JSON text (an object).
    pub config: Box<str>,
    /// ms since epoch.
    pub created_at: f64,
    /// A safe integer; 0 unless given.
    pub priority: i64,
    /// The number of attempts it may have (≥ 1).
    pub max_attempts: u32,
    /// The retry policy, when it has one.
    pub retry: Option<RetryPolicy>,
    /// `config.timeoutMs` (per attempt), when set.
    pub timeout_ms: Option<f64>,
    /// Everything that changes after creation.
    pub state: ExecutionState,
}

/// The part of an execution that changes after its creation: what a
/// `status` record replaces whole.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionState {
    /// Its status.
    pub status: Status,
    /// Attempts started so far.
    pub attempt: u32,
    /// When a delayed or retried pending execution is (or was) due.
    pub run_at: Option<f64>,
    /// The latest progress report.
    pub progress: Option<ProgressImage>,
    /// The result as JSON text (completed only).
    pub result: Option<Box<str>>,
    /// The failure as JSON text, `{"code","name","message","stack"?}`
    /// (failed, or pending for a retry after a failed attempt).
    pub failure: Option<Box<str>>,
    /// The reason given to `cancel` (cancelled only).
    pub cancel_reason: Option<Box<str>>,
    /// ms since epoch: the start of the latest attempt.
    pub started_at: Option<f64>,
    /// ms since epoch, once terminal (and only then).
    pub finished_at: Option<f64>,
    /// ms since epoch of the last change.
    pub updated_at: f64,
    /// Its place in the order executions finished in (the `maxFinished`
    /// eviction order): ≥ 1 once terminal, 0 before.
    pub finish_order: u64,
}

/// A progress report.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressImage {
    /// Work done so far: finite, ≥ 0.
    pub current: f64,
    /// Total work, finite and > 0, when known.
    pub total: Option<f64>,
    /// A note, when given.
    pub message: Option<Box<str>>,
    /// ms since epoch.
    pub updated_at: f64,
}

/// How an execution is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The total number of attempts (≥ 1).
    pub attempts: u32,
    /// The delays between attempts.
    pub backoff: Backoff,
}

/// The delay before a retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Fixed or exponential.
    pub kind: BackoffKind,
    /// The base delay, ms, finite and ≥ 0.
    pub delay_ms: f64,
    /// A cap on the delay, ms, finite and ≥ 0, when set.
    pub max_delay_ms: Option<f64>,
    /// In [0, 1].
    pub jitter: f64,
}

/// How the delay grows with the attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffKind {
    /// The same delay every time.
    Fixed,
    /// `delay_ms × 2^(n−1)` after the n-th failed attempt.
    Exponential,
}

/// The manager's options, as the store keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Handler calls in flight at once (`u64::MAX`: no limit).
    pub concurrency: u64,
    /// Terminal executions kept.
    pub max_finished: u64,
    /// The budget of bytes held.
    pub max_bytes: u64,
}

/// One change a manager makes, as one record of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The start of an image: the state becomes this, with no executions;
    /// exactly `count` [`Change::Put`] follow.
    Image(ImageHead),
    /// The manager's options.
    Settings(Settings),
    /// An execution created, or replaced whole.
    Put(Box<ExecutionImage>),
    /// The changing part of an execution replaced whole (a status change
    /// and everything that goes with it).
    Status {
        /// Its creation sequence.
        seq: u64,
        /// Its new state.
        state: Box<ExecutionState>,
    },
    /// A progress report: also sets the execution's `updated_at` to the
    /// report's.
    Progress {
        /// Its creation sequence.
        seq: u64,
        /// The report.
        progress: ProgressImage,
    },
    /// An execution taken out (`remove`, `clear`, eviction).
    Remove {
        /// Its creation sequence.
        seq: u64,
    },
}

/// What an image starts with: the manager-level state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHead {
    /// The highest creation sequence given so far (0: none).
    pub last_seq: u64,
    /// The highest finish order given so far.
    pub last_finish: u64,
    /// The manager's options, if ever written.
    pub settings: Option<Settings>,
    /// How many `put` records follow.
    pub count: u64,
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

fn finite(v: f64, field: &'static str) -> Result<(), &'static str> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(field)
    }
}

fn at_least_zero(v: f64, field: &'static str) -> Result<(), &'static str> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(field)
    }
}

fn holds(rule: bool, field: &'static str) -> Result<(), &'static str> {
    if rule {
        Ok(())
    } else {
        Err(field)
    }
}

impl ExecutionImage {
    /// Whether every value is one a manager can hold; else the first field
    /// that is not. The encoder writes, and replay accepts, only images
    /// that pass.
    pub fn check(&self) -> Result<(), &'static str> {
        finite(self.created_at, "createdAt")?;
        holds((-MAX_SAFE..=MAX_SAFE).contains(&self.priority), "priority")?;
        holds(self.max_attempts >= 1, "maxAttempts")?;
        if let Some(retry) = &self.retry {
            retry.check()?;
        }
        if let Some(t) = self.timeout_ms {
            at_least_zero(t, "timeoutMs")?;
        }
        self.state.check()
    }
}

impl RetryPolicy {
    /// See [`ExecutionImage::check`].
    pub fn check(&self) -> Result<(), &'static str> {
        holds(self.attempts >= 1, "retry.attempts")?;
        at_least_zero(self.backoff.delay_ms, "retry.backoff.delayMs")?;
        if let Some(max) = self.backoff.max_delay_ms {
            at_least_zero(max, "retry.backoff.maxDelayMs")?;
        }
        holds(
            (0.0..=1.0).contains(&self.backoff.jitter),
            "retry.backoff.jitter",
        )
    }
}

impl ExecutionState {
    /// See [`ExecutionImage::check`]: besides finite numbers, a result only
    /// when completed, a cancel reason only when cancelled, a start time when
    /// running, a finish time and a finish order exactly when terminal.
    pub fn check(&self) -> Result<(), &'static str> {
        let terminal = self.status.is_terminal();
        if let Some(t) = self.run_at {
            finite(t, "runAt")?;
        }
        if let Some(p) = &self.progress {
            p.check()?;
        }
        holds(
            self.result.is_none() || self.status == Status::Completed,
            "result",
        )?;
        holds(
            self.cancel_reason.is_none() || self.status == Status::Cancelled,
            "cancelReason",
        )?;
        if let Some(t) = self.started_at {
            finite(t, "startedAt")?;
        }
        holds(
            self.status != Status::Running || self.started_at.is_some(),
            "startedAt",
        )?;
        if let Some(t) = self.finished_at {
            finite(t, "finishedAt")?;
        }
        holds(self.finished_at.is_some() == terminal, "finishedAt")?;
        finite(self.updated_at, "updatedAt")?;
        holds((self.finish_order != 0) == terminal, "finishOrder")
    }
}

impl ProgressImage {
    /// See [`ExecutionImage::check`]: `current` finite and ≥ 0, `total`
    /// finite and > 0.
    pub fn check(&self) -> Result<(), &'static str> {
        at_least_zero(self.current, "progress.current")?;
        if let Some(t) = self.total {
            holds(t.is_finite() && t > 0.0, "progress.total")?;
        }
        finite(self.updated_at, "progress.updatedAt")
    }
}

impl Change {
    /// Whether the change holds only values a manager can hold (see
    /// [`ExecutionImage::check`]); else the first field that does not.
    pub fn check(&self) -> Result<(), &'static str> {
        match self {
            Change::Put(image) => image.check(),
            Change::Status { state, .. } => state.check(),
            Change::Progress { progress, .. } => progress.check(),
            Change::Image(_) | Change::Settings(_) | Change::Remove { .. } => Ok(()),
        }
    }
}
