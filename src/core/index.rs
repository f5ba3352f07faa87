//! Ordered indexes over creation sequence numbers, one per combination of
//! filters, so that a page costs O(log n + page size) whatever is held.
//!
//! Every execution is in the 8 sets named by masking its
//! `(status, type, target)` triple (`None` = not filtered on). A query picks
//! the sets for its filter values; a query with several statuses or types
//! reads the union of a few sets. Each set is an order-statistic B-tree
//! (`indexset`), so "the k-th matching item" is a rank lookup, not a scan.

use std::rc::Rc;

use indexset::BTreeSet;
use rustc_hash::FxHashMap;

use super::query::{Order, Start};
use super::status::Status;

/// Node size of the order-statistic sets: small, since many sets stay small.
const NODE_SIZE: usize = 64;

/// Which executions a set holds: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexKey {
    status: Option<Status>,
    kind: Option<Rc<str>>,
    target: Option<Rc<str>>,
}

/// The filter combinations of one execution: the 4 with its status first,
/// then the 4 without (made on the stack: every status change makes some).
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

/// All the sets (few keys, made from the executions' types and targets: a
/// fast hash is enough).
#[derive(Default)]
pub struct Indexes {
    sets: FxHashMap<IndexKey, BTreeSet<u64>>,
    /// Sets emptied lately, kept for the next new key: a status change often
    /// empties the sets of the status it leaves and refills them soon after
    /// (at most [`SPARE_SETS`]).
    spare: Vec<BTreeSet<u64>>,
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
            .flat_map(|s| s.iter().copied())
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
            .or_insert_with(|| {
                spare
                    .pop()
                    .unwrap_or_else(|| BTreeSet::with_maximum_node_size(NODE_SIZE))
            })
            .insert(seq);
    }

    fn remove_from(&mut self, key: IndexKey, seq: u64) {
        if let Some(set) = self.sets.get_mut(&key) {
            set.remove(&seq);
            if set.is_empty() {
                if let Some(set) = self.sets.remove(&key) {
                    if self.spare.len() < SPARE_SETS {
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
                    sets.push(set);
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
    fn emptied_sets_reused_for_new_keys_start_empty() {
        let mut ix = Indexes::default();
        let (k, t, other) = (rc("k"), rc("t"), rc("other"));
        let page = |ix: &Indexes, status: Status, kind: Option<&str>| {
            let kinds = kind.map(|k| vec![k.to_owned()]);
            let p = ix.page(
                Some(&[status]),
                kinds.as_deref(),
                None,
                Order::Asc,
                Start::Offset(0),
                10,
            );
            (p.seqs, p.total)
        };
        for seq in 1..=20u64 {
            ix.insert(seq, Status::Pending, &k, &t);
            ix.move_status(seq, Status::Pending, Status::Running, &k, &t);
            ix.move_status(seq, Status::Running, Status::Completed, &k, &t);
            // The emptied pending and running sets come back for other keys.
            ix.insert(100 + seq, Status::Pending, &other, &t);
            assert_eq!(
                page(&ix, Status::Pending, Some("other")),
                (vec![100 + seq], 1)
            );
            assert_eq!(page(&ix, Status::Pending, Some("k")), (vec![], 0));
            assert_eq!(page(&ix, Status::Running, None), (vec![], 0));
            ix.remove(100 + seq, Status::Pending, &other, &t);
            assert_eq!(page(&ix, Status::Completed, Some("k")).1, seq);
        }
        assert_eq!(ix.set_count(), 8);
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
