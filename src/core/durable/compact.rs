//! When to replace a log by an image of its state.

/// Decides when a log has outgrown the state it holds.
///
/// A log grows with every change; an image ([`image_bytes`](super::image_bytes))
/// is as large as the state. Compacting when the log is more than `factor`
/// times the image plus `floor` keeps the store within `factor + 1` times
/// the live data plus `floor` (plus one batch) at any moment, and the work
/// of compacting (writing an image) is paid for by the `factor` times as
/// many bytes of changes written since the last one: linear overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// How many times the image the log may grow to.
    pub factor: u64,
    /// Bytes a log may always grow to, so that small stores are not
    /// compacted at every batch.
    pub floor: u64,
}

impl Default for CompactionPolicy {
    /// `factor` 2, `floor` 64 KiB.
    fn default() -> Self {
        CompactionPolicy {
            factor: 2,
            floor: 64 << 10,
        }
    }
}

impl CompactionPolicy {
    /// Whether a log of `log_len` bytes holding a state whose image is
    /// `image_len` bytes ([`DurableState::image_len`](super::DurableState::image_len))
    /// should be compacted now.
    ///
    /// ```
    /// use execman::core::durable::CompactionPolicy;
    ///
    /// let policy = CompactionPolicy { factor: 2, floor: 1000 };
    /// assert!(!policy.should_compact(2999, 1000));
    /// assert!(policy.should_compact(3001, 1000));
    /// ```
    pub fn should_compact(&self, log_len: u64, image_len: u64) -> bool {
        log_len
            > image_len
                .saturating_mul(self.factor)
                .saturating_add(self.floor)
    }
}
