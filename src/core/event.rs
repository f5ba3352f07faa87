//! Change events queued while the manager mutates, delivered afterwards.

use super::record::Numbers;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An execution was created or tracked.
    Created,
    /// An execution's status changed.
    Status,
    /// An execution reported progress.
    Progress,
    /// An execution was taken out (`remove`, `clear` or eviction).
    Removed,
}

impl EventKind {
    /// The contract's spelling (`"created"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Status => "status",
            EventKind::Progress => "progress",
            EventKind::Removed => "removed",
        }
    }
}

/// One change, with the execution as it was right after it, in the forms
/// asked for with `Manager::set_record_events` (JSON text) and
/// `Manager::set_record_numbers` (numbers and texts, for a JS-side cache).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What changed.
    pub kind: EventKind,
    /// The execution's creation sequence.
    pub seq: u64,
    /// The snapshot (JSON text) right after the change; empty unless JSON
    /// events are recorded.
    pub snapshot: String,
    /// The execution's numbers right after the change, when recorded.
    pub numbers: Option<Numbers>,
    /// `Record::texts_json` when recorded and the execution has texts.
    pub texts: Option<String>,
    /// `Record::fixed_json` of a removed execution, when numbers are recorded.
    pub fixed: Option<String>,
}
