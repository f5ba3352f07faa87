//! The core's clock and id source in a JS host: `Date.now()` and UUID v4
//! ids from `crypto.getRandomValues` (which also seeds the jitter of retry
//! delays). Both are read by the engine before it
//! borrows its state (`Time::tick`, `Pool::ensure`), so that the core, which
//! asks for them in the middle of a change, never calls into JS.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::ffi;
use crate::core::{Clock, IdSource, UuidIds};

/// The time of the current call: `Date.now()` read once at its start.
#[derive(Clone, Default)]
pub struct Time(Rc<Cell<f64>>);

impl Time {
    /// Sets the time of the call about to start: `written`, the
    /// `Date.now()` JS read right before the call (see
    /// [`crate::wire::slot::NOW`]), or, when JS wrote none (NaN), `Date.now()`
    /// read here.
    pub fn tick(&self, written: f64) {
        self.0.set(if written.is_finite() {
            written
        } else {
            ffi::date_now()
        });
    }
}

impl Clock for Time {
    fn now_ms(&self) -> f64 {
        self.0.get()
    }
}

/// UUID v4 ids from `crypto.getRandomValues`, fetched 4 KiB at a time (one
/// call per 256 ids instead of one per id).
#[derive(Clone)]
pub struct RandomIds(Rc<RefCell<Pool>>);

impl RandomIds {
    /// An empty pool, filled at the first id.
    pub fn new() -> RandomIds {
        RandomIds(Rc::new(RefCell::new(Pool {
            pool: Vec::new(),
            used: 0,
        })))
    }

    /// 64 random bits (to seed the jitter of retry delays), from the pool.
    pub fn seed(&self) -> u64 {
        self.ensure();
        let Ok(mut pool) = self.0.try_borrow_mut() else {
            return 0x5EED;
        };
        let mut bytes = [0u8; 8];
        if let Some(chunk) = pool.pool.get(pool.used..pool.used + 8) {
            bytes.copy_from_slice(chunk);
        }
        pool.used += 8;
        u64::from_le_bytes(bytes)
    }

    /// Makes sure two ids can be made without calling into JS.
    pub fn ensure(&self) {
        if let Ok(mut pool) = self.0.try_borrow_mut() {
            if pool.used + 32 > pool.pool.len() {
                pool.refill();
            }
        }
    }
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> String {
        match self.0.try_borrow_mut() {
            Ok(mut pool) => pool.next_id(),
            Err(_) => UuidIds.next_id(),
        }
    }
}

/// The random bytes not used yet.
struct Pool {
    pool: Vec<u8>,
    used: usize,
}

impl Pool {
    const SIZE: usize = 4096;

    fn refill(&mut self) -> bool {
        let array = js_sys::Uint8Array::new_with_length(Self::SIZE as u32);
        if ffi::get_random_values(&array).is_err() {
            return false;
        }
        self.pool.resize(Self::SIZE, 0);
        array.copy_to(&mut self.pool);
        self.used = 0;
        true
    }
}

impl Pool {
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
