//! A durable manager: each change it makes is appended, as one record, to
//! the batch of its [`Journal`] (the host takes the batch and writes it to
//! the store); when the log has outgrown the state, the host replaces it by
//! an image of the state ([`Manager::image`]). Opening a store restores its
//! state into a new manager with the rules of a restart
//! ([`Manager::restore`]).

use super::{Manager, Options};
use crate::core::durable::{
    header, Change, CompactionPolicy, DurableState, EncodeError, Encoder, ImageHead, Settings,
};
use crate::core::error::{Error, Result};
use crate::core::record::{Driver, Failure, Record};
use crate::core::status::Status;

/// Image bytes per byte held (as [`Record::bytes`] counts them) until an
/// image measured it: about what an execution with short texts takes.
const DEFAULT_RATIO: f64 = 0.15;

/// The changes not yet taken by the host, and what the compaction policy
/// needs to know.
pub(super) struct Journal {
    encoder: Encoder,
    /// A change could not be encoded: the log misses it, so no batch is
    /// handed out until an image holds the whole state again.
    broken: Option<EncodeError>,
    /// Bytes of the store: the last image (or what was read at open), plus
    /// every batch taken since.
    log_len: u64,
    /// Image bytes per byte held, as the last image measured.
    ratio: f64,
    policy: CompactionPolicy,
}

impl Journal {
    fn push(&mut self, change: &Change) {
        if self.broken.is_none() {
            if let Err(e) = self.encoder.push(change) {
                self.broken = Some(e);
            }
        }
    }
}

/// The options as a store keeps them.
fn settings(o: Options) -> Settings {
    let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    Settings {
        concurrency: wide(o.concurrency),
        max_finished: wide(o.max_finished),
        max_bytes: o.max_bytes,
    }
}

/// The failure of a handler-driven attempt that was running when its
/// manager stopped.
fn interrupted(record: &Record) -> Failure {
    Failure::new(
        "INTERRUPTED",
        "InterruptedError",
        format!(
            "execution {:?} was running (attempt {}) when its manager stopped",
            &**record.id(),
            record.attempt()
        ),
    )
}

impl Manager {
    /// Whether the manager writes its changes to a store.
    pub fn is_durable(&self) -> bool {
        self.journal.is_some()
    }

    /// Restores a new manager from the state of its store (`store_len`
    /// bytes were read; an empty store is [`DurableState::default`]) and
    /// makes it durable from then on. Every execution comes back as it was
    /// (sequence, finish order, every field), then the rules of a restart
    /// apply, and are written as changes:
    /// - a tracked `running` execution whose `timeoutMs` ran out meanwhile
    ///   fails with `TIMEOUT` (else its deadline is armed again);
    /// - a handler-driven `running` one was interrupted: its attempt fails
    ///   with `INTERRUPTED`, which its retry policy retries when attempts are
    ///   left (it goes back to `pending`), else it is `failed`;
    /// - handler-driven `pending` ones wait until their target is
    ///   registered, then queue by priority and due time.
    ///
    /// `maxFinished` and `maxBytes` of this manager apply (finished
    /// executions past them are evicted). No event is queued.
    pub fn restore(&mut self, state: DurableState, store_len: u64) -> Result<()> {
        if self.store.len() > 0 || self.next_seq > 0 || self.journal.is_some() {
            return Err(Error::store("only a new manager can be restored"));
        }
        let image_len = state.image_len();
        let stored = state.settings().copied();
        self.next_seq = state.last_seq();
        self.store.set_last_tick(state.last_finish());
        let mut seqs = Vec::with_capacity(state.len());
        let (executions, ids) = state.into_parts();
        let mut restoring = self.store.restoring(ids, executions.len());
        let mut damage = None;
        for image in executions {
            let seq = image.seq;
            let id = image.id.clone();
            let record = match Record::from_image(image) {
                Ok(record) => record,
                Err(field) => {
                    damage = Some(Error::store(format!(
                        "damaged store: execution {:?} (#{seq}) holds an impossible `{field}`",
                        &*id
                    )));
                    break;
                }
            };
            let bytes = record.bytes();
            self.held_bytes += bytes;
            if !record.status().is_terminal() {
                self.active_bytes += bytes;
            }
            restoring.push(record);
            seqs.push(seq);
        }
        restoring.finish();
        if let Some(e) = damage {
            return Err(e);
        }
        let ratio = if self.held_bytes > 0 {
            image_len as f64 / self.held_bytes as f64
        } else {
            DEFAULT_RATIO
        };
        self.journal = Some(Journal {
            encoder: Encoder::new(),
            broken: None,
            log_len: store_len,
            ratio,
            policy: CompactionPolicy::default(),
        });
        let now_settings = settings(self.options);
        if stored != Some(now_settings) {
            self.log(&Change::Settings(now_settings));
        }
        let now = self.now();
        for seq in seqs {
            let Some(record) = self.store.get(seq) else {
                continue;
            };
            match (record.driver(), record.status()) {
                (Driver::External, Status::Running) => match record.deadline() {
                    Some(deadline) if deadline <= now => {
                        self.time_out(seq);
                    }
                    _ => self.arm(seq),
                },
                (Driver::Handler, Status::Running) => {
                    let failure = interrupted(record);
                    self.fail_attempt(seq, failure, true);
                }
                (Driver::Handler, Status::Pending) => self.enqueue(seq, now),
                _ => {}
            }
        }
        while self.store.finished_len() > self.options.max_finished {
            let Some(oldest) = self.store.earliest_finished() else {
                break;
            };
            self.take_out(oldest);
        }
        self.evict_bytes(0, 0);
        // Nothing is watched yet, and restored executions make no events.
        self.finished.clear();
        self.removed.clear();
        self.events.clear();
        Ok(())
    }

    /// Replaces the compaction policy (tests use small ones).
    pub fn set_compaction(&mut self, policy: CompactionPolicy) {
        if let Some(j) = &mut self.journal {
            j.policy = policy;
        }
    }

    /// Bytes of changes waiting to be taken.
    pub fn batch_len(&self) -> usize {
        self.journal.as_ref().map_or(0, |j| j.encoder.batch_len())
    }

    /// Takes the records of every change made since the last take, for the
    /// host to append to the store. `STORE_ERROR` when a change could not
    /// be encoded: then only an [`Manager::image`] brings the store up to
    /// date (and [`Manager::should_compact`] says so).
    pub fn take_batch(&mut self) -> Result<Vec<u8>> {
        let Some(j) = &mut self.journal else {
            return Ok(Vec::new());
        };
        if let Some(e) = &j.broken {
            return Err(Error::store(format!(
                "a change could not be written to the store: {e}"
            )));
        }
        let batch = j.encoder.take_batch();
        j.log_len += batch.len() as u64;
        Ok(batch)
    }

    /// Whether the store should be replaced by an image now: the log has
    /// outgrown the state (see [`CompactionPolicy`]), or a change could not
    /// be encoded.
    pub fn should_compact(&self) -> bool {
        let Some(j) = &self.journal else {
            return false;
        };
        let image = (self.held_bytes as f64 * j.ratio) as u64 + 64;
        j.broken.is_some() || j.policy.should_compact(j.log_len, image)
    }

    /// A whole store holding the state now (header, image record, one put
    /// per execution in creation order), to replace the store with. The
    /// changes not yet taken are in it, and dropped.
    pub fn image(&mut self) -> Result<Vec<u8>> {
        let head = ImageHead {
            last_seq: self.next_seq,
            last_finish: self.store.last_tick(),
            settings: Some(settings(self.options)),
            count: self.store.len() as u64,
        };
        let mut encoder = Encoder::new();
        let written = encoder.push(&Change::Image(head)).and_then(|()| {
            self.store
                .seqs()
                .filter_map(|seq| self.store.get(seq))
                .try_for_each(|r| encoder.push_put(&r.image()))
        });
        if let Err(e) = written {
            return Err(Error::store(format!(
                "the state could not be written to the store: {e}"
            )));
        }
        let batch = encoder.take_batch();
        let mut out = Vec::with_capacity(header().len() + batch.len());
        out.extend_from_slice(&header());
        out.extend_from_slice(&batch);
        if let Some(j) = &mut self.journal {
            j.encoder.clear();
            j.broken = None;
            j.log_len = out.len() as u64;
            if self.held_bytes > 0 {
                j.ratio = out.len() as f64 / self.held_bytes as f64;
            }
        }
        Ok(out)
    }

    fn log(&mut self, change: &Change) {
        if let Some(j) = &mut self.journal {
            j.push(change);
        }
    }

    /// Writes the creation of `seq` (when durable).
    pub(super) fn log_put(&mut self, seq: u64) {
        if let (Some(j), Some(r)) = (&mut self.journal, self.store.get(seq)) {
            if j.broken.is_none() {
                if let Err(e) = j.encoder.push_put(&r.image()) {
                    j.broken = Some(e);
                }
            }
        }
    }

    /// Writes the changing part of `seq` whole (a status change).
    pub(super) fn log_state(&mut self, seq: u64) {
        if let (Some(j), Some(r)) = (&mut self.journal, self.store.get(seq)) {
            j.push(&Change::Status {
                seq,
                state: Box::new(r.state_image()),
            });
        }
    }

    /// Writes the progress report of `seq`.
    pub(super) fn log_progress(&mut self, seq: u64) {
        // The journal first: a manager without a store makes no image at all.
        let Some(j) = &mut self.journal else {
            return;
        };
        if let Some(progress) = self.store.get(seq).and_then(Record::progress_image) {
            j.push(&Change::Progress { seq, progress });
        }
    }

    /// Writes the removal of `seq`.
    pub(super) fn log_remove(&mut self, seq: u64) {
        self.log(&Change::Remove { seq });
    }
}
