//! The core's clock and id source in a JS host: `Date.now()` and UUID v4
//! ids from `crypto.getRandomValues`.

use super::ffi;
use crate::core::{Clock, IdSource, UuidIds};

/// `Date.now()`.
pub fn now() -> f64 {
    ffi::date_now()
}

/// `Date.now()` as the core's clock.
pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        now()
    }
}

/// UUID v4 ids from `crypto.getRandomValues`, fetched 4 KiB at a time (one
/// call per 256 ids instead of one per id).
pub struct RandomIds {
    pool: Vec<u8>,
    used: usize,
}

impl RandomIds {
    const POOL: usize = 4096;

    /// An empty pool, filled at the first id.
    pub fn new() -> RandomIds {
        RandomIds {
            pool: Vec::new(),
            used: 0,
        }
    }

    fn refill(&mut self) -> bool {
        let array = js_sys::Uint8Array::new_with_length(Self::POOL as u32);
        if ffi::get_random_values(&array).is_err() {
            return false;
        }
        self.pool.resize(Self::POOL, 0);
        array.copy_to(&mut self.pool);
        self.used = 0;
        true
    }
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        if self.used + 16 > self.pool.len() && !self.refill() {
            return UuidIds.next_id();
        }
        let mut bytes = [0u8; 16];
        if let Some(chunk) = self.pool.get(self.used..self.used + 16) {
            bytes.copy_from_slice(chunk);
        }
        self.used += 16;
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}
