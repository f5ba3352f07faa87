//! The one error type of the core, and its contract codes.

use super::status::Status;

/// Everything that can go wrong in a call, with the contract's `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No execution with this id is held.
    #[error("no execution with id {}", shown(id))]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The id (of an execution or a target) is taken.
    #[error("{what} {} already exists", shown(id))]
    AlreadyExists {
        /// `"execution"` or `"target"`.
        what: &'static str,
        /// The taken id.
        id: String,
    },
    /// An argument is malformed; `field` names it.
    #[error("invalid argument `{field}`: {reason}")]
    InvalidArgument {
        /// The offending field, e.g. `request.id` or `query.pageSize`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The move is not legal from the execution's current status.
    #[error("cannot {action} execution {}: {why}", shown(id))]
    InvalidTransition {
        /// The execution's id.
        id: String,
        /// The attempted move (`start`, `complete`, …).
        action: &'static str,
        /// Why not, e.g. `it is completed`.
        why: String,
    },
    /// The change would take the bytes held by active executions past the
    /// manager's budget (`maxBytes`); nothing was changed.
    #[error("{}", exhausted(*needed, *room, *budget))]
    ResourceExhausted {
        /// Bytes the change would add (0: the call's arguments were refused
        /// while they were copied in, before their size was known).
        needed: u64,
        /// Bytes active executions may still take.
        room: u64,
        /// `maxBytes`.
        budget: u64,
    },
    /// A durable manager's store failed or holds damaged data; `message`
    /// says what and where (a byte offset for damage).
    #[error("{message}")]
    Store {
        /// What went wrong, and where.
        message: String,
    },
    /// `create` named a target with no registered handler.
    #[error("unknown target {}: no handler is registered for it", shown(target_id))]
    UnknownTarget {
        /// The unregistered target.
        target_id: String,
    },
}

impl Error {
    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "NOT_FOUND",
            Error::AlreadyExists { .. } => "ALREADY_EXISTS",
            Error::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Error::InvalidTransition { .. } => "INVALID_TRANSITION",
            Error::UnknownTarget { .. } => "UNKNOWN_TARGET",
            Error::ResourceExhausted { .. } => "RESOURCE_EXHAUSTED",
            Error::Store { .. } => "STORE_ERROR",
        }
    }

    /// Shorthand for an [`Error::InvalidArgument`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::InvalidTransition`] from `status`.
    pub fn transition(id: &str, action: &'static str, status: Status) -> Error {
        Error::InvalidTransition {
            id: id.to_owned(),
            action,
            why: format!("it is {status}"),
        }
    }

    /// Shorthand for an [`Error::Store`].
    pub fn store(message: impl Into<String>) -> Error {
        Error::Store {
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::NotFound`].
    pub fn not_found(id: &str) -> Error {
        Error::NotFound { id: id.to_owned() }
    }
}

/// The message of [`Error::ResourceExhausted`].
fn exhausted(needed: u64, room: u64, budget: u64) -> String {
    if needed == 0 {
        format!("the call's arguments are larger than the {room} bytes the memory budget (maxBytes = {budget} bytes) leaves next to the active executions")
    } else {
        format!("the memory budget (maxBytes = {budget} bytes) is full of active executions: this change needs {needed} more bytes and only {room} are left")
    }
}

/// An id as error messages show it: quoted, and cut after 200 characters so
/// that a huge id cannot make a huge message.
fn shown(id: &str) -> String {
    match id.char_indices().nth(200) {
        Some((cut, _)) => format!(
            "{:?}… ({} bytes)",
            id.get(..cut).unwrap_or_default(),
            id.len()
        ),
        None => format!("{id:?}"),
    }
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages_name_the_culprit() {
        let e = Error::invalid("query.pageSize", "must be an integer from 1 to 1000");
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains("query.pageSize"));
        let e = Error::transition("job-1", "complete", Status::Pending);
        assert_eq!(e.code(), "INVALID_TRANSITION");
        assert_eq!(
            e.to_string(),
            "cannot complete execution \"job-1\": it is pending"
        );
        assert_eq!(Error::not_found("x").code(), "NOT_FOUND");
        assert_eq!(
            Error::UnknownTarget {
                target_id: "t".into()
            }
            .code(),
            "UNKNOWN_TARGET"
        );
        assert_eq!(
            Error::AlreadyExists {
                what: "target",
                id: "t".into()
            }
            .code(),
            "ALREADY_EXISTS"
        );
    }
}
