//! The run queue: which pending handler-driven execution starts next.
//!
//! Two ordered sets, each O(log n) per change:
//!
//! - **ready**: executions that are due, by priority (highest first), then
//!   the time they became due, then creation sequence. Without priorities
//!   or delays every key has priority 0 and the (never decreasing) time of
//!   its creation, so this is plain FIFO;
//! - **waiting**: executions whose `runAt` is still ahead (a delay, or the
//!   backoff before a retry), by that time, then creation sequence. The
//!   earliest one is what the host's one timer waits for; when it is due,
//!   [`Schedule::promote`] moves it to ready with its `runAt` as the time it
//!   became due.
//!
//! An execution is in at most one of the two, under the [`Slot`] its record
//! keeps, so a cancel takes it out directly (no tombstones, no scan).

use std::cmp::Reverse;
use std::collections::BTreeSet;

/// A time as a key that orders as the time does (any finite f64, negative
/// ones too: the sign bit flipped for positives, every bit for negatives).
pub fn time_key(t: f64) -> u64 {
    let bits = t.to_bits();
    if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    }
}

/// The inverse of [`time_key`].
pub fn key_time(key: u64) -> f64 {
    if key >> 63 == 1 {
        f64::from_bits(key & !(1 << 63))
    } else {
        f64::from_bits(!key)
    }
}

/// Where an execution sits in the run queue (with its priority, which its
/// record keeps, all of its key in the set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Due: waits for a concurrency slot; [`time_key`] of when it became due.
    Ready(u64),
    /// Waits for its `runAt`, as a [`time_key`].
    Waiting(u64),
}

/// The run queue (see the module docs).
#[derive(Debug, Default)]
pub struct Schedule {
    ready: BTreeSet<(Reverse<i64>, u64, u64)>,
    waiting: BTreeSet<(u64, u64)>,
    /// The latest time an execution became due at once: keys of those never
    /// go back, even when the wall clock does, so equal priorities stay FIFO.
    floor: f64,
}

impl Schedule {
    /// Queues `seq` with `priority`, due at `run_at` (`None`: at once).
    /// `now` is the time of the change. Returns its slot, for
    /// [`Schedule::remove`].
    pub fn insert(&mut self, seq: u64, priority: i64, run_at: Option<f64>, now: f64) -> Slot {
        match run_at {
            Some(at) if at > now => {
                let run_at = time_key(at);
                self.waiting.insert((run_at, seq));
                Slot::Waiting(run_at)
            }
            Some(at) => self.ready(seq, priority, at),
            None => {
                if now > self.floor {
                    self.floor = now;
                }
                let floor = self.floor;
                self.ready(seq, priority, floor)
            }
        }
    }

    fn ready(&mut self, seq: u64, priority: i64, due: f64) -> Slot {
        let due = time_key(due);
        self.ready.insert((Reverse(priority), due, seq));
        Slot::Ready(due)
    }

    /// Takes `seq` (of `priority`) out of the queue.
    pub fn remove(&mut self, seq: u64, priority: i64, slot: Slot) {
        match slot {
            Slot::Ready(due) => {
                self.ready.remove(&(Reverse(priority), due, seq));
            }
            Slot::Waiting(run_at) => {
                self.waiting.remove(&(run_at, seq));
            }
        }
    }

    /// The earliest waiting execution due at or before `now`, taken out of
    /// the waiting set: `(seq, its runAt key)`. The caller moves it to ready
    /// with [`Schedule::make_ready`] (it knows its priority).
    pub fn due(&mut self, now: f64) -> Option<(u64, u64)> {
        let &(run_at, seq) = self.waiting.first()?;
        if key_time(run_at) > now {
            return None;
        }
        self.waiting.remove(&(run_at, seq));
        Some((seq, run_at))
    }

    /// Puts a waiting execution that became due (see [`Schedule::due`])
    /// among the ready ones, as due at its `runAt`.
    pub fn make_ready(&mut self, seq: u64, priority: i64, run_at: u64) -> Slot {
        self.ready.insert((Reverse(priority), run_at, seq));
        Slot::Ready(run_at)
    }

    /// The next ready execution, taken out of the queue.
    pub fn pop_ready(&mut self) -> Option<u64> {
        self.ready.pop_first().map(|(_, _, seq)| seq)
    }

    /// Whether an execution is ready to start.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The earliest `runAt` of a waiting execution.
    pub fn next_run_at(&self) -> Option<f64> {
        self.waiting.first().map(|&(key, _)| key_time(key))
    }

    /// Ready and waiting executions.
    pub fn len(&self) -> (usize, usize) {
        (self.ready.len(), self.waiting.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_order_as_times() {
        let times = [-1e300, -5.5, -0.0, 0.0, 1e-300, 3.0, 1.7e12, 8.64e15, 1e300];
        for w in times.windows(2) {
            assert!(time_key(w[0]) <= time_key(w[1]), "{} {}", w[0], w[1]);
        }
        for t in times {
            assert_eq!(key_time(time_key(t)), t);
        }
    }

    #[test]
    fn priority_then_due_time_then_sequence() {
        let mut s = Schedule::default();
        s.insert(1, 0, None, 10.0);
        s.insert(2, 5, None, 11.0);
        s.insert(3, 0, None, 9.0); // the clock went back: still after 1
        s.insert(4, 5, Some(3.0), 12.0); // due in the past: became due at 3
        s.insert(5, 9, Some(50.0), 12.0); // waits
        assert_eq!(s.len(), (4, 1));
        let order: Vec<u64> = std::iter::from_fn(|| s.pop_ready()).collect();
        assert_eq!(order, [4, 2, 1, 3]);
        assert_eq!(s.next_run_at(), Some(50.0));
        assert_eq!(s.due(49.9), None);
        let (seq, at) = s.due(50.0).unwrap();
        assert_eq!(seq, 5);
        s.make_ready(seq, 9, at);
        assert_eq!(s.pop_ready(), Some(5));
    }

    #[test]
    fn removal_by_slot() {
        let mut s = Schedule::default();
        let a = s.insert(1, 0, None, 1.0);
        let b = s.insert(2, 0, Some(9.0), 1.0);
        s.remove(1, 0, a);
        s.remove(2, 0, b);
        assert_eq!(s.len(), (0, 0));
        assert_eq!(s.next_run_at(), None);
    }
}
