//! Durable stores: the byte format of a store and its logic, with no I/O.
//!
//! A manager that is durable writes each change it makes as one record
//! ([`Encoder`]); the JS side writes the batches to a file or an IndexedDB
//! database. Opening a store replays its records ([`replay`], or
//! [`Replayer`] fed in chunks) into a [`DurableState`]; a torn last write is
//! dropped and reported, any other damage refused with its byte offset.
//! When the log outgrows the state ([`CompactionPolicy`]), an image of the
//! state ([`image_bytes`]) replaces it.
//!
//! The layout, the record kinds, what a torn tail is and the version policy
//! are in [`format`](mod@format).
//!
//! ```
//! use std::rc::Rc;
//! use execman::core::durable::*;
//! use execman::core::Status;
//!
//! let created = ExecutionImage {
//!     seq: 1,
//!     id: Rc::from("job-1"),
//!     target_id: Rc::from("render"),
//!     kind: Rc::from("task"),
//!     tracked: false,
//!     inputs: "{\"page\":3}".into(),
//!     config: "{}".into(),
//!     created_at: 1000.0,
//!     priority: 0,
//!     max_attempts: 1,
//!     retry: None,
//!     timeout_ms: None,
//!     state: ExecutionState {
//!         status: Status::Pending,
//!         attempt: 0,
//!         run_at: None,
//!         progress: None,
//!         result: None,
//!         failure: None,
//!         cancel_reason: None,
//!         started_at: None,
//!         finished_at: None,
//!         updated_at: 1000.0,
//!         finish_order: 0,
//!     },
//! };
//! let mut encoder = Encoder::new();
//! encoder.push(&Change::Put(Box::new(created.clone()))).unwrap();
//! let progress = ProgressImage { current: 1.0, total: Some(4.0), message: None, updated_at: 1005.0 };
//! encoder.push(&Change::Progress { seq: 1, progress }).unwrap();
//!
//! let mut log = header().to_vec();
//! log.extend(encoder.take_batch());
//! let state = replay(&log).unwrap().state;
//! assert_eq!(state.get(1).unwrap().state.updated_at, 1005.0);
//!
//! // A compacted image holds the same state.
//! let image = image_bytes(&state).unwrap();
//! assert_eq!(image.len() as u64, state.image_len());
//! assert_eq!(replay(&image).unwrap().state, state);
//!
//! // A torn last write keeps every whole record before it.
//! let torn = replay(&log[..log.len() - 3]).unwrap();
//! assert!(torn.torn_tail);
//! assert_eq!(torn.state.get(1).unwrap(), &created);
//! ```

mod codec;
mod compact;
pub mod format;
mod image;
mod log;
mod state;

pub use compact::CompactionPolicy;
pub use format::{header, EncodeError, ErrorKind, FormatError, HEADER_LEN, VERSION};
pub use image::{
    Backoff, BackoffKind, Change, ExecutionImage, ExecutionState, ImageHead, ProgressImage,
    RetryPolicy, Settings,
};
pub use log::{image_bytes, replay, Encoder, Replayed, Replayer};
pub use state::{Apply, DurableState};
