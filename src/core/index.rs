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
use rustc_hash::FxHashMap;

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

/// The filter combinations of one execution: the 4 with its status first
/// ([`status_keys`]), then the 4 without (made on the stack: every status
/// change makes some).
fn keys(status: Status, kind: &Rc<str>, target: &Rc<str>) -> [IndexKey; 8] {
    let [a, b, c, d] = status_keys(status, kind, target);
    let key = |k: bool, t: bool| IndexKey {
        status: None,
        kind: k.then(|| kind.clone()),
        target: t.then(|| target.clone()),
    };
    [
        a,
        b,
        c,
        d,
        key(true, true),
        key(true, false),
        key(false, true),
        key(false, false),
    ]
}

/// The filter combinations that name a status (the first 4 of [`keys`]).
fn status_keys(status: Status, kind: &Rc<str>, target: &Rc<str>) -> [IndexKey; 4] {
    let key = |k: bool, t: bool| IndexKey {
        status: Some(status),
        kind: k.then(|| kind.clone()),
        target: t.then(|| target.clone()),
    };
    [
        key(true, true),
        key(true, false),
        key(false, true),
        key(false, false),
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
    at: FxHashMap<IndexKey, usize>,
    /// The group of the last execution pushed (runs of executions usually
    /// share a triple, and their names the same `Rc`).
    last: Option<usize>,
}

impl IndexBuilder {
    /// Adds an execution; sequences must come in ascending order.
    pub fn push(&mut self, seq: u64, status: Status, kind: &Rc<str>, target: &Rc<str>) {
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
                }
                i
            }
        };
        self.last = Some(group);
        if let Some((_, seqs)) = self.groups.get_mut(group) {
            seqs.push(seq);
        }
    }

    /// The sets of every execution pushed.
    pub fn build(self) -> Indexes {
        // Which groups each set covers (the sets found through the same
        // kind of map as the groups).
        let mut set_at: FxHashMap<IndexKey, usize> = FxHashMap::default();
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
        let mut sets = FxHashMap::default();
        sets.reserve(covers.len());
        for (key, groups) in covers {
            let runs: Vec<&[u64]> = groups
                .iter()
                .filter_map(|&g| self.groups.get(g).map(|(_, seqs)| seqs.as_slice()))
                .collect();
            let set = match runs.as_slice() {
                [only] => Set::from_ascending(only.iter().copied()),
                _ => Set::from_ascending(merge_runs(&runs).into_iter()),
            };
            sets.insert(key, set);
        }
        Indexes {
            sets,
            spare: Vec::new(),
        }
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

/// All the sets (few keys, made from the executions' types and targets: a
/// fast hash is enough).
#[derive(Default)]
pub struct Indexes {
    sets: FxHashMap<IndexKey, Set>,
    /// Sets emptied lately, kept for the next new key: a status change often
    /// empties the sets of the status it leaves and refills them soon after
    /// (at most [`SPARE_SETS`]).
    spare: Vec<Set>,
}

/// How many emptied sets [`Indexes`] keeps for reuse.
const SPARE_SETS: usize = 8;

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
    /// Adds an execution to its 8 sets.
    pub fn insert(&mut self, seq: u64, status: Status, kind: &Rc<str>, target: &Rc<str>) {
        for key in keys(status, kind, target) {
            self.add_to(key, seq);
        }
    }

    /// Every execution, in creation order.
    pub fn all(&self) -> impl Iterator<Item = u64> + '_ {
        let key = IndexKey {
            status: None,
            kind: None,
            target: None,
        };
        self.sets
            .get(&key)
            .into_iter()
            .flat_map(|s| s.seqs.iter().copied())
    }

    /// Takes an execution out of its 8 sets.
    pub fn remove(&mut self, seq: u64, status: Status, kind: &Rc<str>, target: &Rc<str>) {
        for key in keys(status, kind, target) {
            self.remove_from(key, seq);
        }
    }

    /// Moves an execution between the status-keyed sets.
    pub fn move_status(
        &mut self,
        seq: u64,
        from: Status,
        to: Status,
        kind: &Rc<str>,
        target: &Rc<str>,
    ) {
        for key in status_keys(from, kind, target) {
            self.remove_from(key, seq);
        }
        for key in status_keys(to, kind, target) {
            self.add_to(key, seq);
        }
    }

    fn add_to(&mut self, key: IndexKey, seq: u64) {
        let spare = &mut self.spare;
        self.sets
            .entry(key)
            .or_insert_with(|| spare.pop().unwrap_or_else(Set::new))
            .insert(seq);
    }

    fn remove_from(&mut self, key: IndexKey, seq: u64) {
        if let Some(set) = self.sets.get_mut(&key) {
            set.seqs.remove(&seq);
            if set.seqs.is_empty() {
                // Kept only at the first node size: a set that grew keeps
                // its large node, which a new key may never need.
                if let Some(set) = self.sets.remove(&key) {
                    if self.spare.len() < SPARE_SETS && set.node_size == NODE_SIZE {
                        self.spare.push(set);
                    }
                }
            }
        }
    }

    /// How many sets exist (memory checks in tests).
    pub fn set_count(&self) -> usize {
        self.sets.len()
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
                if let Some(set) = self.sets.get(&key) {
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
        let set = &ix.sets[&IndexKey {
            status: None,
            kind: None,
            target: None,
        }];
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
        for seq in (1..=n).filter(|s| s % 2 == 0) {
            ix.remove(seq, Status::Pending, &k, &t);
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
        for (key, set) in &one_by_one.sets {
            let other = &built.sets[key];
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
        ix.insert(1, Status::Pending, &k, &t);
        assert_eq!(ix.set_count(), 8);
        ix.move_status(1, Status::Pending, Status::Running, &k, &t);
        assert_eq!(ix.set_count(), 8);
        ix.remove(1, Status::Running, &k, &t);
        assert_eq!(ix.set_count(), 0);
    }
}
