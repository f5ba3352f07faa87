//! The state a store holds: what replaying its changes gives, and what an
//! image is made from.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::core::store::IdHasher;

use super::codec::{len_of, write_image_head, write_put, write_state};
use super::format::{ErrorKind, FRAME_LEN, HEADER_LEN};
use super::image::{Change, ExecutionImage, ExecutionState, ImageHead, Settings};

/// Something changes can be applied to in order: [`DurableState`], or
/// (later) a manager restoring itself straight from a store.
pub trait Apply {
    /// Applies one change, or refuses it (it is then damage: replay stops
    /// with the record's offset).
    fn apply(&mut self, change: Change) -> Result<(), ErrorKind>;
}

/// Every held execution by creation sequence, and the manager-level state.
///
/// The rules of each change (replaying them in order onto
/// [`DurableState::default`] gives the state exactly):
/// - `image`: the state becomes the image's head, with no executions;
/// - `settings`: the settings become these;
/// - `put`: the execution is inserted, or replaces the one with its
///   sequence; its id must not be another held execution's; `last_seq`
///   and `last_finish` rise to its sequence and finish order if higher;
/// - `status`: the execution's state is replaced (`last_finish` rises as
///   for `put`);
/// - `progress`: the execution's progress is replaced, and its
///   `updated_at` becomes the report's;
/// - `remove`: the execution is taken out.
///
/// `status`, `progress` and `remove` of a sequence that is not held are
/// refused ([`ErrorKind::UnknownExecution`]), and so is a change with an
/// impossible value (see [`Change::check`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurableState {
    last_seq: u64,
    last_finish: u64,
    settings: Option<Settings>,
    /// Boxed as the decoder made them: a put moves a pointer, and the
    /// map's nodes stay small.
    executions: BTreeMap<u64, Box<ExecutionImage>>,
    ids: HashMap<Rc<str>, u64, IdHasher>,
    /// Bytes of the `put` records of an image of this state (kept as the
    /// state changes, so [`DurableState::image_len`] costs nothing).
    puts_len: u64,
}

/// The most ids an image's count reserves room for ahead of its puts
/// (about 34 MB of table on wasm32).
const MAX_RESERVE: usize = 1 << 20;

/// Bytes of the `put` record of an execution.
pub(crate) fn put_len(e: &ExecutionImage) -> u64 {
    FRAME_LEN as u64 + len_of(|c| write_put(c, e))
}

fn state_len(s: &ExecutionState) -> u64 {
    len_of(|c| write_state(c, s))
}

impl DurableState {
    /// An empty state whose id map hashes with `hasher` (the store's, which
    /// then takes the map over as it is).
    pub fn with_id_hasher(hasher: IdHasher) -> DurableState {
        DurableState {
            ids: HashMap::with_hasher(hasher),
            ..DurableState::default()
        }
    }

    /// The highest creation sequence given so far (0: none).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The highest finish order given so far (0: none).
    pub fn last_finish(&self) -> u64 {
        self.last_finish
    }

    /// The manager's options, once written.
    pub fn settings(&self) -> Option<&Settings> {
        self.settings.as_ref()
    }

    /// The execution with this creation sequence.
    pub fn get(&self, seq: u64) -> Option<&ExecutionImage> {
        self.executions.get(&seq).map(|e| &**e)
    }

    /// The creation sequence of the execution with this id.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// Every held execution, in creation order.
    pub fn executions(&self) -> impl ExactSizeIterator<Item = &ExecutionImage> {
        self.executions.values().map(|e| &**e)
    }

    /// Takes the executions out, in creation order, with the map of their
    /// ids to their sequences (for a manager restoring itself).
    pub fn into_parts(
        self,
    ) -> (
        impl ExactSizeIterator<Item = ExecutionImage>,
        HashMap<Rc<str>, u64, IdHasher>,
    ) {
        (self.executions.into_values().map(|e| *e), self.ids)
    }

    /// How many executions are held.
    pub fn len(&self) -> usize {
        self.executions.len()
    }

    /// Whether no execution is held.
    pub fn is_empty(&self) -> bool {
        self.executions.is_empty()
    }

    /// The head of an image of this state.
    pub fn head(&self) -> ImageHead {
        ImageHead {
            last_seq: self.last_seq,
            last_finish: self.last_finish,
            settings: self.settings,
            count: self.executions.len() as u64,
        }
    }

    /// The exact length in bytes of [`image_bytes`](super::image_bytes) of
    /// this state: what a compaction would leave.
    pub fn image_len(&self) -> u64 {
        let head = self.head();
        (HEADER_LEN + FRAME_LEN) as u64 + len_of(|c| write_image_head(c, &head)) + self.puts_len
    }

    fn held(&mut self, seq: u64) -> Result<&mut ExecutionImage, ErrorKind> {
        self.executions
            .get_mut(&seq)
            .map(|e| &mut **e)
            .ok_or(ErrorKind::UnknownExecution { seq })
    }

    fn put(&mut self, image: Box<ExecutionImage>) -> Result<(), ErrorKind> {
        let seq = image.seq;
        match self.ids.entry(image.id.clone()) {
            Entry::Occupied(held) if *held.get() != seq => {
                return Err(ErrorKind::DuplicateId { seq: *held.get() })
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(free) => {
                free.insert(seq);
            }
        }
        self.last_seq = self.last_seq.max(seq);
        self.last_finish = self.last_finish.max(image.state.finish_order);
        self.puts_len += put_len(&image);
        let id = image.id.clone();
        if let Some(old) = self.executions.insert(seq, image) {
            self.puts_len -= put_len(&old);
            if old.id != id {
                self.ids.remove(&old.id);
            }
        }
        Ok(())
    }
}

impl Apply for DurableState {
    fn apply(&mut self, change: Change) -> Result<(), ErrorKind> {
        change
            .check()
            .map_err(|field| ErrorKind::Impossible { field })?;
        match change {
            Change::Image(head) => {
                *self = DurableState {
                    last_seq: head.last_seq,
                    last_finish: head.last_finish,
                    settings: head.settings,
                    ..DurableState::with_id_hasher(self.ids.hasher().clone())
                };
                // Room for the ids of the puts that follow, at once, rather
                // than rehashing every id (SipHash) at each doubling. A count
                // the puts do not bear out is damage, refused once they stop
                // coming; meanwhile it reserved at most MAX_RESERVE ids, and
                // a failed allocation only means no reservation.
                let count = usize::try_from(head.count).unwrap_or(usize::MAX);
                let _ = self.ids.try_reserve(count.min(MAX_RESERVE));
            }
            Change::Settings(settings) => self.settings = Some(settings),
            Change::Put(image) => self.put(image)?,
            Change::Status { seq, state } => {
                let finish = state.finish_order;
                let e = self.held(seq)?;
                let before = state_len(&e.state);
                e.state = *state;
                let after = state_len(&e.state);
                self.puts_len = self.puts_len - before + after;
                self.last_finish = self.last_finish.max(finish);
            }
            Change::Progress { seq, progress } => {
                let e = self.held(seq)?;
                let before = state_len(&e.state);
                e.state.updated_at = progress.updated_at;
                e.state.progress = Some(progress);
                let after = state_len(&e.state);
                self.puts_len = self.puts_len - before + after;
            }
            Change::Remove { seq } => {
                let Some(old) = self.executions.remove(&seq) else {
                    return Err(ErrorKind::UnknownExecution { seq });
                };
                self.ids.remove(&old.id);
                self.puts_len -= put_len(&old);
            }
        }
        Ok(())
    }
}
