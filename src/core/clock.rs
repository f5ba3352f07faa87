//! Time and id generation, behind small traits so tests control them.

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock {
    /// The current time, ms since epoch.
    fn now_ms(&self) -> f64;
}

/// A source of fresh execution ids.
pub trait IdSource {
    /// A new id, distinct from every id it returned before.
    fn next_id(&mut self) -> String;
}

/// The system clock (native builds; the wasm layer supplies `Date.now`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as f64)
            .unwrap_or(0.0)
    }
}

/// Random UUID v4 ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidIds;

impl IdSource for UuidIds {
    fn next_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default, Clone)]
pub struct ManualClock(pub std::rc::Rc<std::cell::Cell<f64>>);

impl ManualClock {
    /// Moves the clock to `ms`.
    pub fn set(&self, ms: f64) {
        self.0.set(ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> f64 {
        self.0.get()
    }
}

/// Ids `exec-1`, `exec-2`, … (tests).
#[derive(Debug, Default, Clone)]
pub struct SequentialIds(pub u64);

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        self.0 += 1;
        format!("exec-{}", self.0)
    }
}
