//! The held executions, their ordered indexes and maintained counts.
//!
//! Every status change goes through [`Store::set_status`], which keeps the
//! indexes, the per-status counts and the finish order in step.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
#[allow(deprecated)] // SipHash-2-4 with chosen keys: std's only keyed hasher
use std::hash::SipHasher;

use rustc_hash::FxHashMap;
use std::rc::Rc;

use super::index::{IndexBuilder, Indexes, PageSeqs};
use super::query::{Order, Start};
use super::record::Record;
use super::status::Status;

/// The hash of the id lookup: SipHash with secret keys, since ids can be
/// chosen by callers (over REST too) and so crafted to collide. Native
/// builds key it from std's random keys; std has no randomness in
/// `wasm32-unknown-unknown` (its keys are the same in every process), so the
/// engine keys it from `crypto.getRandomValues` ([`Store::set_id_keys`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdHasher {
    k0: u64,
    k1: u64,
}

impl Default for IdHasher {
    fn default() -> IdHasher {
        let random = RandomState::new();
        IdHasher {
            k0: random.hash_one(0u64),
            k1: random.hash_one(1u64),
        }
    }
}

impl BuildHasher for IdHasher {
    #[allow(deprecated)]
    type Hasher = SipHasher;

    #[allow(deprecated)]
    fn build_hasher(&self) -> SipHasher {
        SipHasher::new_with_keys(self.k0, self.k1)
    }
}

/// Executions by creation sequence, with indexes.
#[derive(Default)]
pub struct Store {
    /// By creation sequence (internal numbers: a fast hash is safe here).
    records: FxHashMap<u64, Record>,
    by_id: HashMap<Rc<str>, u64, IdHasher>,
    indexes: Indexes,
    counts: [usize; 5],
    /// Terminal executions as (finish order, sequence), by the order they
    /// finished in (eviction order). A set of pairs rather than a map: the
    /// scheduler's sets have this type, so the `.wasm` has one B-tree less.
    finished: BTreeSet<(u64, u64)>,
    next_tick: u64,
}

impl Store {
    /// The execution with this creation sequence.
    pub fn get(&self, seq: u64) -> Option<&Record> {
        self.records.get(&seq)
    }

    /// Mutable access for changes that do not touch the status (the
    /// record's own methods; the status goes through [`Store::set_status`]).
    pub(super) fn get_mut(&mut self, seq: u64) -> Option<&mut Record> {
        self.records.get_mut(&seq)
    }

    /// The id lookup's hash (for a replay that builds the id map the store
    /// then takes over, [`Store::restoring`]).
    pub fn id_hasher(&self) -> IdHasher {
        self.by_id.hasher().clone()
    }

    /// Keys the id lookup's hash (see [`IdHasher`]), and the index maps'
    /// (keyed by types and targets); what they hold is hashed again.
    pub fn set_id_keys(&mut self, k0: u64, k1: u64) {
        let mut by_id = HashMap::with_capacity_and_hasher(self.by_id.len(), IdHasher { k0, k1 });
        by_id.extend(self.by_id.drain());
        self.by_id = by_id;
        self.indexes.rekey(&IdHasher { k0, k1 });
    }

    /// The creation sequence of the execution with this id.
    pub fn seq_of(&self, id: &str) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    /// Whether an id is taken.
    pub fn contains_id(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Adds a new (non-terminal) execution.
    pub fn insert(&mut self, mut record: Record) {
        let seq = record.seq();
        let group = self
            .indexes
            .insert(seq, record.status(), record.kind(), record.target_id());
        record.set_group(group);
        if let Some(c) = self.counts.get_mut(record.status().index()) {
            *c += 1;
        }
        self.by_id.insert(record.id().clone(), seq);
        self.records.insert(seq, record);
    }

    /// Starts restoring the executions of a durable store into this empty
    /// store, in bulk: push them ([`Restoring::push`]) in creation order,
    /// each in whatever status it was, then [`Restoring::finish`].
    /// `by_id` maps the id of each execution to be pushed to its sequence
    /// (the map replay built, taken over as it is).
    pub fn restoring(
        &mut self,
        by_id: HashMap<Rc<str>, u64, IdHasher>,
        len: usize,
    ) -> Restoring<'_> {
        self.records.reserve(len);
        let indexes = IndexBuilder::with_hasher(self.id_hasher());
        Restoring {
            store: self,
            by_id,
            indexes,
        }
    }

    /// The last finish order given (a restored store's, so that later
    /// ends come after it).
    pub fn last_tick(&self) -> u64 {
        self.next_tick
    }

    /// Sets the last finish order given (see [`Store::last_tick`]).
    pub fn set_last_tick(&mut self, tick: u64) {
        self.next_tick = self.next_tick.max(tick);
    }

    /// Every held execution's sequence, in creation order.
    pub fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.indexes.all()
    }

    /// Changes the status of an execution, to one that a `Status::to_*`
    /// move returned (the manager calls it only with those).
    pub(super) fn set_status(&mut self, seq: u64, to: Status) {
        let Some(record) = self.records.get_mut(&seq) else {
            return;
        };
        let from = record.status();
        if from == to {
            return;
        }
        let tick = if to.is_terminal() {
            self.next_tick += 1;
            self.finished.insert((self.next_tick, seq));
            self.next_tick
        } else {
            0
        };
        record.set_status(to, tick);
        self.indexes.move_status(seq, from, to, record.group());
        if let Some(c) = self.counts.get_mut(from.index()) {
            *c = c.saturating_sub(1);
        }
        if let Some(c) = self.counts.get_mut(to.index()) {
            *c += 1;
        }
    }

    /// Takes an execution out.
    pub fn remove(&mut self, seq: u64) -> Option<Record> {
        let record = self.records.remove(&seq)?;
        self.indexes.remove(seq, record.status(), record.group());
        if let Some(c) = self.counts.get_mut(record.status().index()) {
            *c = c.saturating_sub(1);
        }
        self.by_id.remove(record.id());
        if record.finish_tick() != 0 {
            self.finished.remove(&(record.finish_tick(), seq));
        }
        Some(record)
    }

    /// The terminal execution that finished earliest.
    pub fn earliest_finished(&self) -> Option<u64> {
        self.finished.first().map(|&(_, seq)| seq)
    }

    /// Terminal executions, earliest finished first.
    pub fn finished_seqs(&self) -> Vec<u64> {
        self.finished.iter().map(|&(_, seq)| seq).collect()
    }

    /// How many terminal executions are held.
    pub fn finished_len(&self) -> usize {
        self.finished.len()
    }

    /// Held executions per status, indexed by [`Status::index`].
    pub fn counts(&self) -> [usize; 5] {
        self.counts
    }

    /// How many executions are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// One page of matching executions (see [`Indexes::page`]).
    pub fn page(
        &self,
        statuses: Option<&[Status]>,
        kinds: Option<&[String]>,
        target: Option<&str>,
        order: Order,
        start: Start,
        size: usize,
    ) -> PageSeqs {
        self.indexes
            .page(statuses, kinds, target, order, start, size)
    }

    /// How many index sets exist (memory checks in tests).
    pub fn index_set_count(&self) -> usize {
        self.indexes.set_count()
    }
}

/// A store being restored (see [`Store::restoring`]).
pub struct Restoring<'a> {
    store: &'a mut Store,
    by_id: HashMap<Rc<str>, u64, IdHasher>,
    indexes: IndexBuilder,
}

impl Restoring<'_> {
    /// Adds an execution (in creation order), keeping its place in the
    /// finish order.
    pub fn push(&mut self, mut record: Record) {
        let seq = record.seq();
        if record.status().is_terminal() {
            let tick = record.finish_tick();
            self.store.finished.insert((tick, seq));
            self.store.next_tick = self.store.next_tick.max(tick);
        }
        let group = self
            .indexes
            .push(seq, record.status(), record.kind(), record.target_id());
        record.set_group(group);
        if let Some(c) = self.store.counts.get_mut(record.status().index()) {
            *c += 1;
        }
        self.store.records.insert(seq, record);
    }

    /// Builds the indexes of every execution pushed.
    /// The ids of executions given to [`Store::restoring`] but not pushed
    /// (a restore that stopped at a damaged one) are dropped.
    /// The id map is taken over when replay hashed it with the store's keys
    /// (as the engine has it do), else rehashed with them.
    pub fn finish(self) {
        let Restoring {
            store,
            mut by_id,
            indexes,
        } = self;
        if by_id.len() != store.records.len() {
            by_id.retain(|_, seq| store.records.contains_key(seq));
        }
        if by_id.hasher() != store.by_id.hasher() {
            let mut ids = HashMap::with_capacity_and_hasher(by_id.len(), store.id_hasher());
            ids.extend(by_id);
            by_id = ids;
        }
        store.by_id = by_id;
        store.indexes = indexes.build();
    }
}
