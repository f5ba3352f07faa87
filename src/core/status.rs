//! Execution statuses and the only legal moves between them.
//!
//! Every state change goes through one of the `to_*` functions below; each
//! returns the new status or the current one when the move is illegal. The
//! rule that a terminal status is never left lives here and nowhere else.

use std::fmt;

/// The status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Created, waiting to start.
    Pending,
    /// Started and not finished yet.
    Running,
    /// Finished with a result (terminal).
    Completed,
    /// Finished with an error (terminal).
    Failed,
    /// Cancelled before finishing (terminal).
    Cancelled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status as the contract spells it (`"pending"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses the contract's spelling of a status.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A dense index (0..5) for per-status tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the status is final: completed, failed or cancelled.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// `pending → running`.
    pub fn to_running(self) -> Result<Status, Status> {
        match self {
            Status::Pending => Ok(Status::Running),
            other => Err(other),
        }
    }

    /// `running → completed`.
    pub fn to_completed(self) -> Result<Status, Status> {
        match self {
            Status::Running => Ok(Status::Completed),
            other => Err(other),
        }
    }

    /// `running → failed`.
    pub fn to_failed(self) -> Result<Status, Status> {
        match self {
            Status::Running => Ok(Status::Failed),
            other => Err(other),
        }
    }

    /// `running → pending`: a handler-driven attempt failed and another one
    /// is scheduled (the execution waits for its retry).
    pub fn to_retrying(self) -> Result<Status, Status> {
        match self {
            Status::Running => Ok(Status::Pending),
            other => Err(other),
        }
    }

    /// `pending | running → cancelled`.
    pub fn to_cancelled(self) -> Result<Status, Status> {
        match self {
            Status::Pending | Status::Running => Ok(Status::Cancelled),
            other => Err(other),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn legal_moves() {
        assert_eq!(Pending.to_running(), Ok(Running));
        assert_eq!(Running.to_completed(), Ok(Completed));
        assert_eq!(Running.to_failed(), Ok(Failed));
        assert_eq!(Pending.to_cancelled(), Ok(Cancelled));
        assert_eq!(Running.to_cancelled(), Ok(Cancelled));
        assert_eq!(Running.to_retrying(), Ok(Pending));
    }

    #[test]
    fn illegal_moves_name_the_current_status() {
        assert_eq!(Running.to_running(), Err(Running));
        assert_eq!(Pending.to_completed(), Err(Pending));
        assert_eq!(Pending.to_failed(), Err(Pending));
        assert_eq!(Pending.to_retrying(), Err(Pending));
    }

    #[test]
    fn terminal_statuses_are_never_left() {
        for s in [Completed, Failed, Cancelled] {
            assert!(s.is_terminal());
            assert_eq!(s.to_running(), Err(s));
            assert_eq!(s.to_completed(), Err(s));
            assert_eq!(s.to_failed(), Err(s));
            assert_eq!(s.to_cancelled(), Err(s));
            assert_eq!(s.to_retrying(), Err(s));
        }
        assert!(!Pending.is_terminal() && !Running.is_terminal());
    }

    #[test]
    fn parse_round_trips() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(Status::ALL[s.index()], s);
        }
        assert_eq!(Status::parse("done"), None);
    }
}
