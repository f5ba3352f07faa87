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

/// A source of uniform random numbers in `[0, 1)`: the jitter of retry
/// delays draws from it.
pub trait Random {
    /// The next number, uniform in `[0, 1)`.
    fn unit(&mut self) -> f64;
}

/// SplitMix64: a small, fast generator (not for secrets; jitter only needs
/// spread). Seeded by the host: the wasm engine seeds it from
/// `crypto.getRandomValues`, tests with a fixed number.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl Random for SplitMix {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits as a fraction: uniform in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}
