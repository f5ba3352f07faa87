//! Ordered indexes over creation sequence numbers, one per combination of
//! filters, so that a page costs O(log n + page size) whatever is held.
//!
//! Every execution is in the 8 sets named by masking its
//! `(status, type, target)` triple (`None` = not filtered on). A query picks
//! the sets for its filter values; a query with several statuses or types
//! reads the union of a few sets. Each set is an order-statistic B-tree
//! (`indexset`), so "the k-th matching item" is a rank lookup, not a scan.
//!
//! `indexset` rebuilds a set's rank index (a Fenwick tree over its nodes)
//! whenever a node splits, which costs the number of nodes: with a fixed
//! node size, filling a set of n items costs O(n²/node²). So a set's node
//! size grows with it ([`node_size_for`]): small sets stay small in memory,
//! and a set of a million items splits a node once every few hundred
//! inserts, at a cost of about two thousand.

use std::rc::Rc;

use indexset::BTreeSet;
use std::collections::HashMap;

use super::store::IdHasher;

/// A map keyed by names callers choose (types, targets): hashed with the
/// store's secret keys, like the ids, so that crafted names cannot make
/// its lookups collide.
type Keyed<K, V> = HashMap<K, V, IdHasher>;

use super::query::{Order, Start};
use super::status::Status;

/// Node size of a new order-statistic set: small, since many sets stay small.
const NODE_SIZE: usize = 64;
/// The largest node size a set grows to.
const MAX_NODE_SIZE: usize = 4096;

/// The node size for a set of `len` items: the power of two at or above
/// √len, within [`NODE_SIZE`]..=[`MAX_NODE_SIZE`]. A set built of n items
/// then has at most about 2√n nodes (one grown by inserts, rebuilt when it
/// quadruples, at most about 4√n half-full ones), and a node splits once
/// every √n/4 inserts or more, so the rank index rebuilt at each split costs
/// O(1) per insert, amortized.
fn node_size_for(len: usize) -> usize {
    let mut size = NODE_SIZE;
    while size < MAX_NODE_SIZE && size.saturating_mul(size) < len {
        size *= 2;
    }
    size
}

/// One set of creation sequence numbers, whose node size grows with it.
struct Set {
    seqs: BTreeSet<u64>,
    node_size: usize,
}

impl Set {
    fn new() -> Set {
        Set {
            seqs: BTreeSet::with_maximum_node_size(NODE_SIZE),
            node_size: NODE_SIZE,
        }
    }

    /// A set of these numbers, given in ascending order.
    fn from_ascending(seqs: impl ExactSizeIterator<Item = u64>) -> Set {
        let node_size = node_size_for(seqs.len());
        let mut set = BTreeSet::with_maximum_node_size(node_size);
        for seq in seqs {
            set.insert(seq);
        }
        Set {
            seqs: set,
            node_size,
        }
    }

    fn insert(&mut self, seq: u64) {
        self.seqs.insert(seq);
        // Regrown when it holds four times what its node size is for: the
        // rebuild (O(n)) happens each time the set quadruples.
        let len = self.seqs.len();
        if self.node_size < MAX_NODE_SIZE && len / 4 > self.node_size * self.node_size {
            *self = Set::from_ascending(self.seqs.iter().copied().collect::<Vec<_>>().into_iter());
        }
    }
}

/// Which executions a set holds: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexKey {
    status: Option<Status>,
    kind: Option<Rc<str>>,
    target: Option<Rc<str>>,
}

/// The filter combinations of one execution: the 4 with its status first,
/// then the 4 without.
fn keys(status: Status, kind: &Rc<str>, target: &Rc<str>) -> [IndexKey; 8] {
    let key = |status: Option<Status>, k: bool, t: bool| IndexKey {
        status,
        kind: k.then(|| kind.clone()),
        target: t.then(|| target.clone()),
    };
    [
        key(Some(status), true, true),
        key(Some(status), true, false),
        key(Some(status), false, true),
        key(Some(status), false, false),
        key(None, true, true),
        key(None, true, false),
        key(None, false, true),
        key(None, false, false),
    ]
}

/// Builds the sets of many executions at once (a store being restored):
/// executions are grouped by their `(status, type, target)` triple as they
/// come, in ascending sequence order, and each set is then built once from
/// the sorted sequences of the groups it covers.
#[derive(Default)]
pub struct IndexBuilder {
    /// One group per triple: its key and its sequences, ascending.
    groups: Vec<(IndexKey, Vec<u64>)>,
    /// Where each triple's group is.
    at: Keyed<IndexKey, usize>,
    /// The group of the last execution pushed (runs of executions usually
    /// share a triple, and their names the same `Rc`).
    last: Option<usize>,
    /// The `(type, target)` pairs, numbered as the built [`Indexes`] number
    /// their groups, each with how many executions it has.
    pairs: Vec<(Rc<str>, Rc<str>, usize)>,
    /// Where each pair is.
    pair_at: Keyed<(Rc<str>, Rc<str>), u32>,
    /// The pair of each triple's group.
    pair_of: Vec<u32>,
}

impl IndexBuilder {
    /// An empty builder whose maps hash with `hasher` (the store's).
    pub fn with_hasher(hasher: IdHasher) -> IndexBuilder {
        IndexBuilder {
            at: HashMap::with_hasher(hasher.clone()),
            pair_at: HashMap::with_hasher(hasher),
            ..IndexBuilder::default()
        }
    }

    /// Adds an execution; sequences must come in ascending order. Returns
    /// the group the execution will be in (see [`Indexes::insert`]).
    pub fn push(&mut self, seq: u64, status: Status, kind: &Rc<str>, target: &Rc<str>) -> u32 {
        let same = |key: &IndexKey| {
            key.status == Some(status)
                && key
                    .kind
                    .as_ref()
                    .is_some_and(|k| Rc::ptr_eq(k, kind) || k == kind)
                && key
                    .target
                    .as_ref()
                    .is_some_and(|t| Rc::ptr_eq(t, target) || t == target)
        };
        let group = match self.last {
            Some(i) if self.groups.get(i).is_some_and(|(key, _)| same(key)) => i,
            _ => {
                let key = IndexKey {
                    status: Some(status),
                    kind: Some(kind.clone()),
                    target: Some(target.clone()),
                };
                let next = self.groups.len();
                let i = *self.at.entry(key.clone()).or_insert(next);
                if i == next {
                    self.groups.push((key, Vec::new()));
                    let pairs = &mut self.pairs;
                    let pair = *self
                        .pair_at
                        .entry((kind.clone(), target.clone()))
                        .or_insert_with(|| {
                            pairs.push((kind.clone(), target.clone(), 0));
                            u32::try_from(pairs.len() - 1).unwrap_or(u32::MAX)
                        });
                    self.pair_of.push(pair);
                }
                i
            }
        };
        self.last = Some(group);
        if let Some((_, seqs)) = self.groups.get_mut(group) {
            seqs.push(seq);
        }
        let pair = self.pair_of.get(group).copied().unwrap_or(u32::MAX);
        if let Some((_, _, len)) = self.pairs.get_mut(pair as usize) {
            *len += 1;
        }
        pair
    }

    /// The sets of every execution pushed.
    pub fn build(self) -> Indexes {
        // Which groups each set covers (the sets found through the same
        // kind of map as the groups).
        let mut set_at: Keyed<IndexKey, usize> = HashMap::with_hasher(self.at.hasher().clone());
        let mut covers: Vec<(IndexKey, Vec<usize>)> = Vec::new();
        for (i, (key, _)) in self.groups.iter().enumerate() {
            let (Some(status), Some(kind), Some(target)) = (key.status, &key.kind, &key.target)
            else {
                continue;
            };
            for set in keys(status, kind, target) {
                let next = covers.len();
                let at = *set_at.entry(set.clone()).or_insert(next);
                if at == next {
                    covers.push((set, Vec::new()));
                }
                if let Some((_, groups)) = covers.get_mut(at) {
                    groups.push(i);
                }
            }
        }
        // The groups first (numbered as `push` returned), then the sets
        // into the slots their groups named.
        let mut indexes = Indexes::with_hasher(self.at.hasher().clone());
        for (kind, target, len) in &self.pairs {
            let group = indexes.group_for(kind, target);
            if let Some(Some(g)) = indexes.groups.get_mut(group as usize) {
                g.len = *len;
            }
        }
        // Every pair pushed has executions.
        indexes.empty_groups = 0;
        for (key, groups) in covers {
            let runs: Vec<&[u64]> = groups
                .iter()
                .filter_map(|&g| self.groups.get(g).map(|(_, seqs)| seqs.as_slice()))
                .collect();
            let set = match runs.as_slice() {
                [only] => Set::from_ascending(only.iter().copied()),
                _ => Set::from_ascending(merge_runs(&runs).into_iter()),
            };
            if let Some(slot) = indexes
                .at
                .get(&key)
                .and_then(|&i| indexes.slots.get_mut(i as usize))
            {
                slot.set = Some(set);
                indexes.live += 1;
            }
        }
        indexes
    }
}

/// The items of ascending runs, in one ascending sequence: runs merged two
/// by two, so that each item is copied about log2(runs) times.
fn merge_runs(runs: &[&[u64]]) -> Vec<u64> {
    let mut merged: Vec<Vec<u64>> = runs
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => merge_two(a, b),
            [a] => a.to_vec(),
            _ => Vec::new(),
        })
        .collect();
    while merged.len() > 1 {
        let mut next = Vec::with_capacity(merged.len().div_ceil(2));
        let mut pairs = merged.into_iter();
        while let Some(a) = pairs.next() {
            next.push(match pairs.next() {
                Some(b) => merge_two(&a, &b),
                None => a,
            });
        }
        merged = next;
    }
    merged.pop().unwrap_or_default()
}

/// Two ascending runs merged into one.
fn merge_two(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
        if x <= y {
            out.push(x);
            a.next();
        } else {
            out.push(y);
            b.next();
        }
    }
    out.extend(a);
    out.extend(b);
    out
}

/// All the sets. Their maps are keyed by types and targets, which callers
/// choose, and so hashed with secret keys ([`Keyed`]); the changes of an
/// execution never hash (see below).
///
/// The sets sit in slots, one per key that some group names; a slot holds
/// a set only while it has items. Each execution is in one group, its
/// `(type, target)` pair, which names the slots of its 8 sets for every
/// status once: an insert, a removal or a status change then reaches the
/// sets through the group's list of slots, without making or hashing keys.
#[derive(Default)]
pub struct Indexes {
    /// Each named key's slot (the queries' way in).
    at: Keyed<IndexKey, u32>,
    slots: Vec<Slot>,
    /// Slots that no group names any more, for the next new key.
    free_slots: Vec<u32>,
    /// The groups, by number (`None`: a free number).
    groups: Vec<Option<Group>>,
    /// Each group's number, by its `(type, target)` pair.
    group_at: Keyed<(Rc<str>, Rc<str>), u32>,
    /// Free group numbers.
    free_groups: Vec<u32>,
    /// The group last found by its pair (executions created in a row
    /// usually share theirs).
    last_group: u32,
    /// How many groups have no executions (kept for a while: see
    /// [`Indexes::remove`]).
    empty_groups: usize,
    /// How many slots hold a set.
    live: usize,
    /// Sets emptied lately, kept for the next new key: a status change often
    /// empties the sets of the status it leaves and refills them soon after
    /// (at most [`SPARE_SETS`]).
    spare: Vec<Set>,
}

/// One key's place: its set while it has items, and how many groups name it.
struct Slot {
    key: IndexKey,
    groups: u32,
    set: Option<Set>,
}

/// The executions of one `(type, target)` pair.
struct Group {
    kind: Rc<str>,
    target: Rc<str>,
    /// How many executions are in it.
    len: usize,
    /// The slots of its sets: row [`Status::index`] for the sets of that
    /// status, the last row for those of any status; in each row the sets
    /// by type and target, by type, by target, by neither.
    slots: [[u32; 4]; 6],
}

/// The row of [`Group::slots`] for the sets of any status.
const ANY_STATUS: usize = 5;

/// How many emptied sets [`Indexes`] keeps for reuse.
const SPARE_SETS: usize = 8;

/// How many groups without executions [`Indexes`] keeps at least before it
/// frees them (more when more groups have executions).
const SPARE_GROUPS: usize = 8;

/// One page read from the indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSeqs {
    /// The page's creation sequence numbers, in order.
    pub seqs: Vec<u64>,
    /// How many executions match the filter.
    pub total: u64,
    /// Whether more matching items follow this page.
    pub has_next: bool,
}

impl Indexes {
    /// Empty indexes whose maps hash with `hasher` (the store's).
    pub fn with_hasher(hasher: IdHasher) -> Indexes {
        Indexes {
            at: HashMap::with_hasher(hasher.clone()),
            group_at: HashMap::with_hasher(hasher),
            ..Indexes::default()
        }
    }

    /// Hashes the maps with `hasher` from now on (their entries again).
    pub fn rekey(&mut self, hasher: &IdHasher) {
        let mut at = HashMap::with_capacity_and_hasher(self.at.len(), hasher.clone());
        at.extend(self.at.drain());
        self.at = at;
        let mut group_at = HashMap::with_capacity_and_hasher(self.group_at.len(), hasher.clone());
        group_at.extend(self.group_at.drain());
        self.group_at = group_at;
    }

    /// Adds an execution to its 8 sets; returns its group, which the other
    /// changes of this execution take.
    pub fn insert(&mut self, seq: u64, status: Status, kind: &Rc<str>, target: &Rc<str>) -> u32 {
        let group = self.group_for(kind, target);
        let Some(Some(g)) = self.groups.get_mut(group as usize) else {
            return group;
        };
        if g.len == 0 {
            self.empty_groups = self.empty_groups.saturating_sub(1);
        }
        g.len += 1;
        let rows = [status.index(), ANY_STATUS];
        let slots = rows.map(|r| g.slots.get(r).copied().unwrap_or_default());
        for row in slots {
            for slot in row {
                self.add_to(slot, seq);
            }
        }
        group
    }

    /// Every execution, in creation order.
    pub fn all(&self) -> impl Iterator<Item = u64> + '_ {
        let key = IndexKey {
            status: None,
            kind: None,
            target: None,
        };
        self.set(&key)
            .into_iter()
            .flat_map(|s| s.seqs.iter().copied())
    }

    /// Takes an execution (of this status, in this group) out of its 8 sets.
    /// A group left without executions is kept for a while (its pair often
    /// comes back soon); once more groups are empty than have executions
    /// (and more than [`SPARE_GROUPS`]), the empty ones are freed.
    pub fn remove(&mut self, seq: u64, status: Status, group: u32) {
        let Some(Some(g)) = self.groups.get_mut(group as usize) else {
            return;
        };
        g.len = g.len.saturating_sub(1);
        if g.len == 0 {
            self.empty_groups += 1;
        }
        let rows = [status.index(), ANY_STATUS];
        let slots = rows.map(|r| g.slots.get(r).copied().unwrap_or_default());
        for row in slots {
            for slot in row {
                self.remove_from(slot, seq);
            }
        }
        let held = self.groups.len() - self.free_groups.len();
        if self.empty_groups > SPARE_GROUPS && 2 * self.empty_groups > held {
            self.free_empty_groups();
        }
    }

    /// Moves an execution (of this group) between the status-keyed sets.
    pub fn move_status(&mut self, seq: u64, from: Status, to: Status, group: u32) {
        let Some(Some(g)) = self.groups.get(group as usize) else {
            return;
        };
        let from = g.slots.get(from.index()).copied().unwrap_or_default();
        let to = g.slots.get(to.index()).copied().unwrap_or_default();
        for slot in from {
            self.remove_from(slot, seq);
        }
        for slot in to {
            self.add_to(slot, seq);
        }
    }

    /// The group of a `(type, target)` pair, made (with the slots of its
    /// sets) if there is none.
    fn group_for(&mut self, kind: &Rc<str>, target: &Rc<str>) -> u32 {
        let same = |g: &Group| {
            (Rc::ptr_eq(&g.kind, kind) || g.kind == *kind)
                && (Rc::ptr_eq(&g.target, target) || g.target == *target)
        };
        if let Some(Some(g)) = self.groups.get(self.last_group as usize) {
            if same(g) {
                return self.last_group;
            }
        }
        let pair = (kind.clone(), target.clone());
        let group = match self.group_at.get(&pair) {
            Some(&group) => group,
            None => {
                let mut slots = [[0u32; 4]; 6];
                for (r, row) in slots.iter_mut().enumerate() {
                    let status = Status::ALL.get(r).copied();
                    for (c, slot) in row.iter_mut().enumerate() {
                        *slot = self.name_slot(IndexKey {
                            status,
                            kind: (c < 2).then(|| kind.clone()),
                            target: (c % 2 == 0).then(|| target.clone()),
                        });
                    }
                }
                let g = Group {
                    kind: kind.clone(),
                    target: target.clone(),
                    len: 0,
                    slots,
                };
                self.empty_groups += 1;
                let group = match self.free_groups.pop() {
                    Some(free) => {
                        if let Some(place) = self.groups.get_mut(free as usize) {
                            *place = Some(g);
                        }
                        free
                    }
                    None => {
                        self.groups.push(Some(g));
                        u32::try_from(self.groups.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                self.group_at.insert(pair, group);
                group
            }
        };
        self.last_group = group;
        group
    }

    /// The slot of a key, made if no group names it yet; one more group
    /// names it.
    fn name_slot(&mut self, key: IndexKey) -> u32 {
        if let Some(&slot) = self.at.get(&key) {
            if let Some(s) = self.slots.get_mut(slot as usize) {
                s.groups += 1;
            }
            return slot;
        }
        let made = Slot {
            key: key.clone(),
            groups: 1,
            set: None,
        };
        let slot = match self.free_slots.pop() {
            Some(free) => {
                if let Some(place) = self.slots.get_mut(free as usize) {
                    *place = made;
                }
                free
            }
            None => {
                self.slots.push(made);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.at.insert(key, slot);
        slot
    }

    /// Frees the groups without executions, and the slots only they named.
    fn free_empty_groups(&mut self) {
        for group in 0..self.groups.len() {
            let Some(place) = self.groups.get_mut(group) else {
                continue;
            };
            let Some(g) = place.take_if(|g| g.len == 0) else {
                continue;
            };
            self.group_at.remove(&(g.kind, g.target));
            self.free_groups
                .push(u32::try_from(group).unwrap_or(u32::MAX));
            for slot in g.slots.into_iter().flatten() {
                let Some(s) = self.slots.get_mut(slot as usize) else {
                    continue;
                };
                s.groups = s.groups.saturating_sub(1);
                if s.groups == 0 {
                    self.at.remove(&s.key);
                    s.set = None;
                    s.key = IndexKey {
                        status: None,
                        kind: None,
                        target: None,
                    };
                    self.free_slots.push(slot);
                }
            }
        }
        self.empty_groups = 0;
    }

    fn add_to(&mut self, slot: u32, seq: u64) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        let set = s.set.get_or_insert_with(|| {
            self.live += 1;
            self.spare.pop().unwrap_or_else(Set::new)
        });
        set.insert(seq);
    }

    fn remove_from(&mut self, slot: u32, seq: u64) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if let Some(set) = &mut s.set {
            set.seqs.remove(&seq);
            if set.seqs.is_empty() {
                // Kept only at the first node size: a set that grew keeps
                // its large node, which a new key may never need.
                if let Some(set) = s.set.take() {
                    self.live -= 1;
                    if self.spare.len() < SPARE_SETS && set.node_size == NODE_SIZE {
                        self.spare.push(set);
                    }
                }
            }
        }
    }

    /// The set of a key, if it has items.
    fn set(&self, key: &IndexKey) -> Option<&Set> {
        self.at
            .get(key)
            .and_then(|&slot| self.slots.get(slot as usize))
            .and_then(|s| s.set.as_ref())
    }

    /// How many sets exist (memory checks in tests).
    pub fn set_count(&self) -> usize {
        self.live
    }

    /// Reads one page of the executions matching the filter.
    ///
    /// `statuses`/`kinds` of `None` do not filter; `Some(&[])` matches nothing.
    pub fn page(
        &self,
        statuses: Option<&[Status]>,
        kinds: Option<&[String]>,
        target: Option<&str>,
        order: Order,
        start: Start,
        size: usize,
    ) -> PageSeqs {
        let sets = self.select(statuses, kinds, target);
        let total: u64 = sets.iter().map(|s| s.len() as u64).sum();
        let mut seqs = Vec::with_capacity(size.min(total as usize));
        let has_next = match start {
            Start::Offset(offset) => {
                if offset < total {
                    // Position of the first item in ascending order.
                    let rank = match order {
                        Order::Asc => offset,
                        Order::Desc => total - 1 - offset,
                    };
                    if let Some(first) = select_union(&sets, rank) {
                        merge(&sets, order, first, true, size, &mut seqs);
                    }
                }
                offset.saturating_add(seqs.len() as u64) < total
            }
            Start::After(after) => {
                merge(&sets, order, after, false, size + 1, &mut seqs);
                let more = seqs.len() > size;
                seqs.truncate(size);
                more
            }
        };
        PageSeqs {
            seqs,
            total,
            has_next,
        }
    }

    fn select(
        &self,
        statuses: Option<&[Status]>,
        kinds: Option<&[String]>,
        target: Option<&str>,
    ) -> Vec<&BTreeSet<u64>> {
        let status_keys: Vec<Option<Status>> = match statuses {
            None => vec![None],
            Some(list) => dedup(list.iter().copied().map(Some)),
        };
        let kind_keys: Vec<Option<Rc<str>>> = match kinds {
            None => vec![None],
            Some(list) => dedup(list.iter().map(|k| Some(Rc::from(k.as_str())))),
        };
        let target_key: Option<Rc<str>> = target.map(Rc::from);
        let mut sets = Vec::new();
        for s in &status_keys {
            for k in &kind_keys {
                let key = IndexKey {
                    status: *s,
                    kind: k.clone(),
                    target: target_key.clone(),
                };
                if let Some(set) = self.set(&key) {
                    sets.push(&set.seqs);
                }
            }
        }
        sets
    }
}

fn dedup<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The value at ascending position `rank` of the union of disjoint sets.
fn select_union(sets: &[&BTreeSet<u64>], rank: u64) -> Option<u64> {
    if let [only] = sets {
        return only.get_index(rank as usize).copied();
    }
    // Smallest v with #{x ≤ v} > rank: binary search over the value range.
    let mut lo = sets.iter().filter_map(|s| s.first().copied()).min()?;
    let mut hi = sets.iter().filter_map(|s| s.last().copied()).max()?;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at_most_mid: u64 = sets.iter().map(|s| s.rank(&(mid + 1)) as u64).sum();
        if at_most_mid > rank {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// Appends up to `limit` items of the union in `order`, starting at `from`
/// (included when `inclusive`).
fn merge(
    sets: &[&BTreeSet<u64>],
    order: Order,
    from: u64,
    inclusive: bool,
    limit: usize,
    out: &mut Vec<u64>,
) {
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let mut iters: Vec<std::iter::Peekable<Box<dyn Iterator<Item = u64> + '_>>> = sets
        .iter()
        .map(|set| {
            let it: Box<dyn Iterator<Item = u64> + '_> = match (order, inclusive) {
                (Order::Asc, true) => Box::new(set.range((Included(from), Unbounded)).copied()),
                (Order::Asc, false) => Box::new(set.range((Excluded(from), Unbounded)).copied()),
                (Order::Desc, true) => {
                    Box::new(set.range((Unbounded, Included(from))).rev().copied())
                }
                (Order::Desc, false) => {
                    Box::new(set.range((Unbounded, Excluded(from))).rev().copied())
                }
            };
            it.peekable()
        })
        .collect();
    while out.len() < limit {
        let mut best: Option<(usize, u64)> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(&v) = it.peek() {
                let better = match (best, order) {
                    (None, _) => true,
                    (Some((_, b)), Order::Asc) => v < b,
                    (Some((_, b)), Order::Desc) => v > b,
                };
                if better {
                    best = Some((i, v));
                }
            }
        }
        let Some((i, v)) = best else { break };
        out.push(v);
        if let Some(it) = iters.get_mut(i) {
            it.next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(s: &str) -> Rc<str> {
        Rc::from(s)
    }

    #[test]
    fn union_paging_matches_a_scan() {
        let mut ix = Indexes::default();
        let (a, b, t) = (rc("a"), rc("b"), rc("t"));
        let mut all = Vec::new();
        for seq in 1..=100u64 {
            let status = Status::ALL[(seq % 5) as usize];
            let kind = if seq % 3 == 0 { &a } else { &b };
            ix.insert(seq, status, kind, &t);
            all.push((seq, status, kind.clone()));
        }
        let statuses = [Status::Pending, Status::Failed];
        let expected: Vec<u64> = all
            .iter()
            .filter(|(_, s, _)| statuses.contains(s))
            .map(|(q, _, _)| *q)
            .collect();
        for size in [1, 3, 7, 50] {
            let mut got = Vec::new();
            let mut page = 0;
            loop {
                let p = ix.page(
                    Some(&statuses),
                    None,
                    None,
                    Order::Asc,
                    Start::Offset(page * size as u64),
                    size,
                );
                assert_eq!(p.total, expected.len() as u64);
                got.extend(p.seqs);
                page += 1;
                if !p.has_next {
                    break;
                }
            }
            assert_eq!(got, expected);
            let p = ix.page(
                Some(&statuses),
                None,
                None,
                Order::Desc,
                Start::Offset(0),
                size,
            );
            let mut rev = expected.clone();
            rev.reverse();
            assert_eq!(p.seqs, rev[..size.min(rev.len())].to_vec());
        }
    }

    #[test]
    fn node_sizes_grow_with_the_set() {
        assert_eq!(node_size_for(0), NODE_SIZE);
        assert_eq!(node_size_for(NODE_SIZE * NODE_SIZE), NODE_SIZE);
        assert_eq!(node_size_for(NODE_SIZE * NODE_SIZE + 1), 2 * NODE_SIZE);
        assert_eq!(node_size_for(1_000_000), 1024);
        assert_eq!(node_size_for(usize::MAX), MAX_NODE_SIZE);
    }

    #[test]
    fn a_set_that_regrows_keeps_its_items_in_order() {
        // Past 4 × 64² items the sets are rebuilt with larger nodes; every
        // third item is inserted late, so some inserts land inside nodes.
        let mut ix = Indexes::default();
        let (k, t) = (rc("k"), rc("t"));
        let n = 4 * NODE_SIZE as u64 * NODE_SIZE as u64 + 5000;
        let late = |seq: u64| seq.is_multiple_of(3);
        for seq in (1..=n).filter(|&s| !late(s)) {
            ix.insert(seq, Status::Pending, &k, &t);
        }
        for seq in (1..=n).filter(|&s| late(s)) {
            ix.insert(seq, Status::Pending, &k, &t);
        }
        let set = ix
            .set(&IndexKey {
                status: None,
                kind: None,
                target: None,
            })
            .unwrap();
        assert!(set.node_size > NODE_SIZE, "{}", set.node_size);
        assert!(ix.all().eq(1..=n));
        let p = ix.page(
            Some(&[Status::Pending]),
            None,
            None,
            Order::Desc,
            Start::Offset(1234),
            3,
        );
        assert_eq!(p.seqs, [n - 1234, n - 1235, n - 1236]);
        assert_eq!(p.total, n);
        let group = ix.insert(n + 1, Status::Pending, &k, &t);
        ix.remove(n + 1, Status::Pending, group);
        for seq in (1..=n).filter(|s| s % 2 == 0) {
            ix.remove(seq, Status::Pending, group);
        }
        assert!(ix.all().eq((1..=n).filter(|s| s % 2 == 1)));
    }

    #[test]
    fn sets_built_at_once_are_the_sets_built_one_by_one() {
        let names = [rc("a"), rc("b"), rc("c")];
        let mut one_by_one = Indexes::default();
        let mut builder = IndexBuilder::default();
        for seq in 1..=3000u64 {
            let status = Status::ALL[(seq / 7 % 5) as usize];
            // Runs of one name, the same name in another `Rc`, and a mix.
            let kind = rc(&names[(seq / 100 % 3) as usize]);
            let target = &names[(seq % 2) as usize];
            one_by_one.insert(seq, status, &kind, target);
            builder.push(seq, status, &kind, target);
        }
        let built = builder.build();
        assert_eq!(built.set_count(), one_by_one.set_count());
        for (key, &slot) in &one_by_one.at {
            let Some(set) = &one_by_one.slots[slot as usize].set else {
                continue;
            };
            let other = built.set(key).unwrap();
            assert!(set.seqs.iter().eq(other.seqs.iter()), "{key:?}");
        }
        assert!(IndexBuilder::default().build().all().next().is_none());
    }

    #[test]
    fn runs_merge_into_one_ascending_sequence() {
        for n in 0..7u64 {
            // n runs taking every n-th number, and one empty run.
            let runs: Vec<Vec<u64>> = (0..n)
                .map(|r| (0..20).map(|i| i * n + r).collect())
                .chain([Vec::new()])
                .collect();
            let slices: Vec<&[u64]> = runs.iter().map(Vec::as_slice).collect();
            let merged = merge_runs(&slices);
            assert!(merged.iter().copied().eq(0..20 * n), "{n}: {merged:?}");
        }
        assert!(merge_runs(&[]).is_empty());
    }

    #[test]
    fn empty_sets_are_dropped() {
        let mut ix = Indexes::default();
        let (k, t) = (rc("k"), rc("t"));
        let group = ix.insert(1, Status::Pending, &k, &t);
        assert_eq!(ix.set_count(), 8);
        ix.move_status(1, Status::Pending, Status::Running, group);
        assert_eq!(ix.set_count(), 8);
        ix.remove(1, Status::Running, group);
        assert_eq!(ix.set_count(), 0);
    }

    #[test]
    fn groups_without_executions_are_freed_and_their_numbers_reused() {
        // Many pairs, each with one execution that then goes: the groups
        // and slots kept stay bounded, and a freed number serves a new pair
        // whose sets are its own.
        let mut ix = Indexes::default();
        let t = rc("t");
        let keep = ix.insert(1, Status::Running, &rc("kept"), &t);
        for i in 0..200u64 {
            let kind = rc(&format!("k{i}"));
            let group = ix.insert(10 + i, Status::Pending, &kind, &t);
            ix.move_status(10 + i, Status::Pending, Status::Completed, group);
            ix.remove(10 + i, Status::Completed, group);
        }
        assert!(
            ix.groups.len() <= 2 * SPARE_GROUPS + 2,
            "{}",
            ix.groups.len()
        );
        assert!(ix.at.len() <= 24 * ix.groups.len(), "{}", ix.at.len());
        assert_eq!(ix.set_count(), 8);
        let kinds = [String::from("kept")];
        let p = ix.page(
            None,
            Some(&kinds),
            Some("t"),
            Order::Asc,
            Start::Offset(0),
            10,
        );
        assert_eq!((p.seqs, p.total), (vec![1], 1));
        let late = ix.insert(500, Status::Failed, &rc("late"), &t);
        ix.move_status(1, Status::Running, Status::Failed, keep);
        let kinds = [String::from("late")];
        let p = ix.page(
            Some(&[Status::Failed]),
            Some(&kinds),
            None,
            Order::Asc,
            Start::Offset(0),
            10,
        );
        assert_eq!((p.seqs, p.total), (vec![500], 1));
        let p = ix.page(
            Some(&[Status::Failed]),
            None,
            Some("t"),
            Order::Asc,
            Start::Offset(0),
            10,
        );
        assert_eq!((p.seqs, p.total), (vec![1, 500], 2));
        ix.remove(500, Status::Failed, late);
        ix.remove(1, Status::Failed, keep);
        assert_eq!(ix.set_count(), 0);
        assert!(ix.all().next().is_none());
    }
}
