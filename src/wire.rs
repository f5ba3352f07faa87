//! The wire between the engine and `js/manager.js`: the layout of the
//! scratch array both sides read and write, the status codes, event kinds
//! and the flags of queued work. Defined here once; the `wire:begin` block of
//! `js/manager.js` holds the same numbers for JS, and `tests/wire.rs` fails
//! when the two differ.

/// Slots of the scratch array (`f64`s in wasm memory that JS reads through a
/// `Float64Array`). Slots `CREATED..=RUN_AT` hold one execution's numbers,
/// written by every call that names or returns an execution; `STATUS` is
/// also a call's reply code (see [`reply`]). `WORK` is written at the end of
/// every call that can change anything.
pub mod slot {
    /// `createdAt`.
    pub const CREATED: usize = 0;
    /// `startedAt` (NaN: null).
    pub const STARTED: usize = 1;
    /// `finishedAt` (NaN: null).
    pub const FINISHED: usize = 2;
    /// `updatedAt`.
    pub const UPDATED: usize = 3;
    /// 1 when the execution has reported progress, else 0.
    pub const HAS_PROGRESS: usize = 4;
    /// `progress.current`.
    pub const CURRENT: usize = 5;
    /// `progress.total` (NaN: null).
    pub const TOTAL: usize = 6;
    /// `progress.updatedAt`.
    pub const PROGRESS_UPDATED: usize = 7;
    /// The version of the execution's texts (`Record::text_version`).
    pub const TEXT_VERSION: usize = 8;
    /// 1 when the execution has texts (a message, a non-null result, a
    /// failure or a cancel reason), else 0: a reader needs none to build it.
    pub const HAS_TEXTS: usize = 9;
    /// The status code (see [`super::status`]) or the reply code.
    pub const STATUS: usize = 10;
    /// The creation sequence.
    pub const SEQ: usize = 11;
    /// `attempt`: attempts started so far.
    pub const ATTEMPT: usize = 12;
    /// `runAt` (NaN: null).
    pub const RUN_AT: usize = 13;
    /// Flags of the work the last call queued (see [`super::work`]).
    pub const WORK: usize = 14;
    /// When the one timer must fire: the earliest deadline of a running
    /// attempt or `runAt` of a waiting execution (NaN: none).
    pub const WAKE: usize = 15;
    /// The delay to arm the timer with for [`WAKE`], from the time the last
    /// change read (NaN: none).
    pub const DELAY: usize = 16;
    /// `Date.now()` as JS read it right before a call that reads the time
    /// first thing (NaN: not written). The engine takes it and writes NaN
    /// back; when it finds NaN it calls `Date.now()` itself. So a change
    /// costs no call from wasm into JS for the time.
    pub const NOW: usize = 17;
    /// How many slots there are.
    pub const LEN: usize = 18;
}

/// Status codes in [`slot::STATUS`]: the status's index in lifecycle order,
/// plus one (0 is a reply code).
pub mod status {
    /// `"pending"`.
    pub const PENDING: i32 = 1;
    /// `"running"`.
    pub const RUNNING: i32 = 2;
    /// `"completed"`.
    pub const COMPLETED: i32 = 3;
    /// `"failed"`.
    pub const FAILED: i32 = 4;
    /// `"cancelled"`.
    pub const CANCELLED: i32 = 5;
}

/// Reply codes in [`slot::STATUS`] of a call that did not fill an execution.
pub mod reply {
    /// The named creation sequence is not held (JS looks the id up again).
    pub const GONE: i32 = 0;
    /// The call failed: `Engine::error` has the code and message.
    pub const ERROR: i32 = -1;
}

/// Event kinds returned by `Engine::next_event`: `EventKind` in order, plus
/// one (0: no event left).
pub mod event {
    /// `"created"`.
    pub const CREATED: u32 = 1;
    /// `"status"`.
    pub const STATUS: u32 = 2;
    /// `"progress"`.
    pub const PROGRESS: u32 = 3;
    /// `"removed"`.
    pub const REMOVED: u32 = 4;
}

/// Flags in [`slot::WORK`]: what the last call left for JS to act on.
pub mod work {
    /// Change events wait for `Engine::next_event`.
    pub const EVENTS: u32 = 1;
    /// Watched executions that became terminal wait for `Engine::next_finished`.
    pub const FINISHED: u32 = 2;
    /// Handler-driven executions may start: call `Engine::next_start` in a
    /// later microtask.
    pub const STARTS: u32 = 4;
    /// The time the timer must fire ([`super::slot::WAKE`]) changed: re-arm
    /// the one timer.
    pub const TIMER: u32 = 8;
    /// Enough executions were removed that JS should drop them from its
    /// cache (`Engine::drain_removed`).
    pub const REMOVED: u32 = 16;
    /// Remote executions were created: JS hands each one to its queue
    /// (`Engine::next_submit`).
    pub const SUBMITS: u32 = 32;
    /// Changes of a durable manager wait to be written: take them with
    /// `Engine::take_batch` (at most `flushMs` later).
    pub const STORE: u32 = 64;
}

/// The longest string argument (UTF-16 units) JS hands to the engine
/// without asking it to check (`convert::MAX_STRING`): longer ones are
/// refused before they are copied into wasm.
pub const MAX_STRING: u32 = 32 << 20;

/// Removed executions that make JS sweep its cache ([`work::REMOVED`]).
pub const SWEEP_AT: usize = 64;

/// Every constant above as `(name, value)`, for the wire test and for
/// `Engine::wire`.
pub const ALL: &[(&str, f64)] = &[
    ("SLOT_CREATED", slot::CREATED as f64),
    ("SLOT_STARTED", slot::STARTED as f64),
    ("SLOT_FINISHED", slot::FINISHED as f64),
    ("SLOT_UPDATED", slot::UPDATED as f64),
    ("SLOT_HAS_PROGRESS", slot::HAS_PROGRESS as f64),
    ("SLOT_CURRENT", slot::CURRENT as f64),
    ("SLOT_TOTAL", slot::TOTAL as f64),
    ("SLOT_PROGRESS_UPDATED", slot::PROGRESS_UPDATED as f64),
    ("SLOT_TEXT_VERSION", slot::TEXT_VERSION as f64),
    ("SLOT_HAS_TEXTS", slot::HAS_TEXTS as f64),
    ("SLOT_STATUS", slot::STATUS as f64),
    ("SLOT_SEQ", slot::SEQ as f64),
    ("SLOT_ATTEMPT", slot::ATTEMPT as f64),
    ("SLOT_RUN_AT", slot::RUN_AT as f64),
    ("SLOT_WORK", slot::WORK as f64),
    ("SLOT_WAKE", slot::WAKE as f64),
    ("SLOT_DELAY", slot::DELAY as f64),
    ("SLOT_NOW", slot::NOW as f64),
    ("SLOTS", slot::LEN as f64),
    ("STATUS_PENDING", status::PENDING as f64),
    ("STATUS_RUNNING", status::RUNNING as f64),
    ("STATUS_COMPLETED", status::COMPLETED as f64),
    ("STATUS_FAILED", status::FAILED as f64),
    ("STATUS_CANCELLED", status::CANCELLED as f64),
    ("GONE", reply::GONE as f64),
    ("ERROR", reply::ERROR as f64),
    ("EVENT_CREATED", event::CREATED as f64),
    ("EVENT_STATUS", event::STATUS as f64),
    ("EVENT_PROGRESS", event::PROGRESS as f64),
    ("EVENT_REMOVED", event::REMOVED as f64),
    ("WORK_EVENTS", work::EVENTS as f64),
    ("WORK_FINISHED", work::FINISHED as f64),
    ("WORK_STARTS", work::STARTS as f64),
    ("WORK_TIMER", work::TIMER as f64),
    ("WORK_REMOVED", work::REMOVED as f64),
    ("WORK_SUBMITS", work::SUBMITS as f64),
    ("WORK_STORE", work::STORE as f64),
    ("MAX_STRING", MAX_STRING as f64),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{EventKind, Status};

    #[test]
    fn status_codes_are_the_lifecycle_index_plus_one() {
        let codes = [
            status::PENDING,
            status::RUNNING,
            status::COMPLETED,
            status::FAILED,
            status::CANCELLED,
        ];
        for (s, code) in Status::ALL.into_iter().zip(codes) {
            assert_eq!(code, s.index() as i32 + 1, "{s}");
        }
    }

    #[test]
    fn event_kinds_are_the_core_order_plus_one() {
        let kinds = [
            (EventKind::Created, event::CREATED),
            (EventKind::Status, event::STATUS),
            (EventKind::Progress, event::PROGRESS),
            (EventKind::Removed, event::REMOVED),
        ];
        for (kind, code) in kinds {
            assert_eq!(code, kind as u32 + 1, "{}", kind.as_str());
        }
    }

    #[test]
    fn slots_are_distinct_and_in_range() {
        let slots: Vec<f64> = ALL
            .iter()
            .filter(|(n, _)| n.starts_with("SLOT_"))
            .map(|&(_, v)| v)
            .collect();
        for (i, a) in slots.iter().enumerate() {
            assert!(*a < slot::LEN as f64);
            assert!(!slots[i + 1..].contains(a), "slot {a} used twice");
        }
    }
}
