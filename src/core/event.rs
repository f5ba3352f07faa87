//! Change events queued while the manager mutates, delivered afterwards.

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

/// One change, with the execution's snapshot as it was right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What changed.
    pub kind: EventKind,
    /// The execution's creation sequence.
    pub seq: u64,
    /// The snapshot (JSON text) right after the change.
    pub snapshot: String,
}
