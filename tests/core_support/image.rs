//! Execution images for the durable store's tests.

use std::rc::Rc;

use execman::core::durable::{ExecutionImage, ExecutionState};
use execman::core::Status;

/// The image of a pending handler-driven execution: target `render`, type
/// `task`, inputs `{"page":1}`, created (and last updated) at 1.7e12 ms.
pub fn pending(seq: u64, id: &str) -> ExecutionImage {
    ExecutionImage {
        seq,
        id: Rc::from(id),
        target_id: Rc::from("render"),
        kind: Rc::from("task"),
        tracked: false,
        inputs: "{\"page\":1}".into(),
        config: "{}".into(),
        created_at: 1_700_000_000_000.0,
        priority: 0,
        max_attempts: 1,
        retry: None,
        timeout_ms: None,
        state: ExecutionState {
            status: Status::Pending,
            attempt: 0,
            run_at: None,
            progress: None,
            result: None,
            failure: None,
            cancel_reason: None,
            started_at: None,
            finished_at: None,
            updated_at: 1_700_000_000_000.0,
            finish_order: 0,
        },
    }
}
