//! The execution manager in plain Rust: statuses and their transitions, the
//! store and its indexes, validation, errors, and the clock and id source
//! behind small traits. Nothing here depends on wasm-bindgen, so
//! `cargo test` exercises all of it natively.

mod clock;
pub mod durable;
mod error;
mod event;
mod index;
mod json;
mod json_reader;
mod manager;
mod progress;
mod query;
mod record;
pub mod request;
pub mod rest;
pub mod retry;
mod schedule;
mod status;
mod store;

pub use clock::{
    Clock, IdSource, ManualClock, Random, SequentialIds, SplitMix, SystemClock, UuidIds,
};
pub use error::{Error, Result};
pub use event::{Event, EventKind};
pub use json::{check_depth, number, write_f64, MAX_DEPTH};
pub use manager::{
    Counts, ListPage, Manager, NewExecution, Options, Started, DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FINISHED, MAX_BYTES_LIMIT,
};
pub use progress::Progress;
pub use query::{Cursor, ListQuery, Order, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use record::{units, Driver, Failure, Numbers, Outcome, Record, EXECUTION_COST, MAX_DETAIL};
pub use status::Status;
