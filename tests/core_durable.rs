#![cfg(not(target_arch = "wasm32"))]
//! The durable store format (`execman::core::durable`) against a model
//! written here: random sequences of changes, encoded in random batches and
//! replayed (whole, and fed in random chunks), give the model's state;
//! every truncation of a log replays to the whole records before the cut,
//! with `torn_tail` exactly when the cut is inside a record; every single
//! changed byte, anywhere, is refused with an offset inside the damaged
//! header or record; damaged headers, impossible values and broken images
//! are refused; compaction keeps the state and keeps the store proportional
//! to what is held over many create/finish/evict cycles.

use std::collections::BTreeMap;
use std::ops::Range;
use std::rc::Rc;

use execman::core::durable::{
    header, image_bytes, replay, Apply, Backoff, BackoffKind, Change, CompactionPolicy,
    DurableState, EncodeError, Encoder, ErrorKind, ExecutionImage, ExecutionState, FormatError,
    ImageHead, ProgressImage, Replayer, RetryPolicy, Settings, HEADER_LEN, VERSION,
};
use execman::core::Status;
use proptest::prelude::*;
use proptest::sample::Index;

#[path = "core_support/mod.rs"]
mod support;
use support::image::pending;

const MAX_SAFE: i64 = (1 << 53) - 1;

// ------------------------------------------------------------------ the model

/// What the state must be: the rules of each change, written plainly.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    last_seq: u64,
    last_finish: u64,
    settings: Option<Settings>,
    execs: BTreeMap<u64, ExecutionImage>,
}

impl Model {
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Image(h) => {
                *self = Model {
                    last_seq: h.last_seq,
                    last_finish: h.last_finish,
                    settings: h.settings,
                    execs: BTreeMap::new(),
                }
            }
            Change::Settings(s) => self.settings = Some(*s),
            Change::Put(e) => {
                self.last_seq = self.last_seq.max(e.seq);
                self.last_finish = self.last_finish.max(e.state.finish_order);
                self.execs.insert(e.seq, (**e).clone());
            }
            Change::Status { seq, state } => {
                self.last_finish = self.last_finish.max(state.finish_order);
                self.execs.get_mut(seq).unwrap().state = (**state).clone();
            }
            Change::Progress { seq, progress } => {
                let e = self.execs.get_mut(seq).unwrap();
                e.state.updated_at = progress.updated_at;
                e.state.progress = Some(progress.clone());
            }
            Change::Remove { seq } => {
                self.execs.remove(seq).unwrap();
            }
        }
    }

    fn head(&self) -> ImageHead {
        ImageHead {
            last_seq: self.last_seq,
            last_finish: self.last_finish,
            settings: self.settings,
            count: self.execs.len() as u64,
        }
    }
}

/// Fails unless the replayed state is the model's, bit for bit (doubles
/// compared by their bits, so -0 and 0 differ), and its image length is
/// exact.
fn same(state: &DurableState, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.last_seq(), model.last_seq);
    prop_assert_eq!(state.last_finish(), model.last_finish);
    prop_assert_eq!(state.settings(), model.settings.as_ref());
    let got: Vec<String> = state.executions().map(|e| format!("{e:?}")).collect();
    let want: Vec<String> = model.execs.values().map(|e| format!("{e:?}")).collect();
    prop_assert_eq!(got, want);
    for e in model.execs.values() {
        let held = state.get(e.seq).unwrap();
        prop_assert_eq!(bits(held), bits(e));
        prop_assert_eq!(state.seq_of(&e.id), Some(e.seq));
    }
    prop_assert_eq!(state.image_len(), image_bytes(state).unwrap().len() as u64);
    Ok(())
}

/// Every double of an execution, as bits.
fn bits(e: &ExecutionImage) -> Vec<u64> {
    let s = &e.state;
    let mut out = vec![e.created_at.to_bits(), s.updated_at.to_bits()];
    out.extend(
        [e.timeout_ms, s.run_at, s.started_at, s.finished_at]
            .into_iter()
            .map(|v| v.map_or(1, f64::to_bits)),
    );
    if let Some(p) = &s.progress {
        out.extend([
            p.current.to_bits(),
            p.total.map_or(1, f64::to_bits),
            p.updated_at.to_bits(),
        ]);
    }
    if let Some(r) = &e.retry {
        out.extend([
            r.backoff.delay_ms.to_bits(),
            r.backoff.max_delay_ms.map_or(1, f64::to_bits),
            r.backoff.jitter.to_bits(),
        ]);
    }
    out
}

// ------------------------------------------------------------------ strategies

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9]{1,6}",
        "\\PC{0,10}",
        Just("日本語 🦀 é \u{0} \u{10FFFF}".to_owned()),
    ]
}

/// Any finite double (timestamps may be anything finite).
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        1.0e12..2.0e12,
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        Just(f64::MAX),
        Just(f64::MIN),
    ]
}

fn non_negative() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(-0.0), 0.0..1e9, Just(f64::MAX)]
}

fn positive() -> impl Strategy<Value = f64> {
    prop_oneof![Just(f64::MIN_POSITIVE), 1e-3..1e9, Just(f64::MAX)]
}

prop_compose! {
    fn progress()(
        current in non_negative(),
        total in prop::option::of(positive()),
        message in prop::option::of(text()),
        updated_at in number(),
    ) -> ProgressImage {
        ProgressImage { current, total, message: message.map(Into::into), updated_at }
    }
}

prop_compose! {
    fn retry()(
        attempts in prop_oneof![1..=1000u32, Just(u32::MAX)],
        exponential in any::<bool>(),
        delay_ms in non_negative(),
        max_delay_ms in prop::option::of(non_negative()),
        jitter in prop_oneof![Just(0.0), Just(1.0), 0.0..=1.0],
    ) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: Backoff {
                kind: if exponential { BackoffKind::Exponential } else { BackoffKind::Fixed },
                delay_ms,
                max_delay_ms,
                jitter,
            },
        }
    }
}

/// The parts of a state that a generator chooses; [`StateSeed::make`]
/// makes them consistent with the status.
#[derive(Debug, Clone)]
struct StateSeed {
    status: Status,
    attempt: u32,
    run_at: Option<f64>,
    progress: Option<ProgressImage>,
    result: String,
    failure: Option<String>,
    cancel_reason: Option<String>,
    started_at: Option<f64>,
    finished_at: f64,
    updated_at: f64,
}

prop_compose! {
    fn state_seed()(
        status in prop::sample::select(Status::ALL.to_vec()),
        attempt in prop_oneof![0..5u32, Just(u32::MAX)],
        run_at in prop::option::of(number()),
        progress in prop::option::of(progress()),
        result in text(),
        failure in prop::option::of(text()),
        cancel_reason in prop::option::of(text()),
        started_at in prop::option::of(number()),
        finished_at in number(),
        updated_at in number(),
    ) -> StateSeed {
        StateSeed {
            status, attempt, run_at, progress, result, failure, cancel_reason,
            started_at, finished_at, updated_at,
        }
    }
}

impl StateSeed {
    fn make(&self, model: &Model) -> ExecutionState {
        let terminal = self.status.is_terminal();
        ExecutionState {
            status: self.status,
            attempt: self.attempt,
            run_at: self.run_at,
            progress: self.progress.clone(),
            result: (self.status == Status::Completed).then(|| self.result.clone().into()),
            failure: self.failure.clone().map(Into::into),
            cancel_reason: self
                .cancel_reason
                .clone()
                .filter(|_| self.status == Status::Cancelled)
                .map(Into::into),
            started_at: match self.status {
                Status::Running => Some(self.started_at.unwrap_or(self.updated_at)),
                _ => self.started_at,
            },
            finished_at: terminal.then_some(self.finished_at),
            updated_at: self.updated_at,
            finish_order: if terminal { model.last_finish + 1 } else { 0 },
        }
    }
}

#[derive(Debug, Clone)]
struct ImageSeed {
    prefix: String,
    target_id: String,
    kind: String,
    tracked: bool,
    inputs: String,
    config: String,
    created_at: f64,
    priority: i64,
    max_attempts: u32,
    retry: Option<RetryPolicy>,
    timeout_ms: Option<f64>,
    state: StateSeed,
}

prop_compose! {
    fn image_seed()(
        (prefix, target_id, kind, tracked) in (text(), prop_oneof![Just("render".to_owned()), text()], text(), any::<bool>()),
        (inputs, config) in (text(), text()),
        created_at in number(),
        priority in prop_oneof![Just(0i64), Just(MAX_SAFE), Just(-MAX_SAFE), -MAX_SAFE..=MAX_SAFE],
        max_attempts in prop_oneof![Just(1u32), 1..=1000u32, Just(u32::MAX)],
        retry in prop::option::of(retry()),
        timeout_ms in prop::option::of(non_negative()),
        state in state_seed().boxed(),
    ) -> ImageSeed {
        ImageSeed {
            prefix, target_id, kind, tracked, inputs, config, created_at, priority,
            max_attempts, retry, timeout_ms, state,
        }
    }
}

impl ImageSeed {
    /// An execution with sequence `seq`; its id ends with `#seq`, so ids
    /// never collide.
    fn make(&self, seq: u64, model: &Model) -> ExecutionImage {
        ExecutionImage {
            seq,
            id: Rc::from(format!("{}#{seq}", self.prefix)),
            target_id: Rc::from(self.target_id.as_str()),
            kind: Rc::from(self.kind.as_str()),
            tracked: self.tracked,
            inputs: self.inputs.clone().into(),
            config: self.config.clone().into(),
            created_at: self.created_at,
            priority: self.priority,
            max_attempts: self.max_attempts,
            retry: self.retry,
            timeout_ms: self.timeout_ms,
            state: self.state.make(model),
        }
    }
}

#[derive(Debug, Clone)]
enum Seed {
    /// A new execution, `gap` sequences after the last one.
    Create(ImageSeed, u8),
    Replace(Index, ImageSeed),
    Status(Index, StateSeed),
    Progress(Index, ProgressImage),
    Remove(Index),
    Settings(Settings),
    /// An image of the model, in the middle of the log.
    Image,
}

/// Boxed (as are the seeds inside): the value trees of so many nested
/// strategies overflow a test thread's stack when kept inline.
fn seed() -> BoxedStrategy<Seed> {
    prop_oneof![
        4 => (image_seed().boxed(), prop_oneof![Just(0u8), Just(1), any::<u8>()]).prop_map(|(s, g)| Seed::Create(s, g)),
        1 => (any::<Index>(), image_seed().boxed()).prop_map(|(i, s)| Seed::Replace(i, s)),
        3 => (any::<Index>(), state_seed().boxed()).prop_map(|(i, s)| Seed::Status(i, s)),
        3 => (any::<Index>(), progress().boxed()).prop_map(|(i, p)| Seed::Progress(i, p)),
        2 => any::<Index>().prop_map(Seed::Remove),
        1 => (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(concurrency, max_finished, max_bytes)| {
            Seed::Settings(Settings { concurrency, max_finished, max_bytes })
        }),
        1 => Just(Seed::Image),
    ]
    .boxed()
}

/// The changes the seeds stand for, against the model as it goes.
fn changes(seeds: &[Seed]) -> Vec<Change> {
    let mut model = Model::default();
    let mut out = Vec::new();
    for s in seeds {
        let held: Vec<u64> = model.execs.keys().copied().collect();
        let pick = |i: &Index| (!held.is_empty()).then(|| *i.get(&held));
        let made: Vec<Change> = match s {
            Seed::Create(seed, gap) => {
                let seq = model.last_seq + 1 + u64::from(*gap);
                vec![Change::Put(Box::new(seed.make(seq, &model)))]
            }
            Seed::Replace(i, seed) => pick(i)
                .map(|seq| Change::Put(Box::new(seed.make(seq, &model))))
                .into_iter()
                .collect(),
            Seed::Status(i, seed) => pick(i)
                .map(|seq| Change::Status {
                    seq,
                    state: Box::new(seed.make(&model)),
                })
                .into_iter()
                .collect(),
            Seed::Progress(i, progress) => pick(i)
                .map(|seq| Change::Progress {
                    seq,
                    progress: progress.clone(),
                })
                .into_iter()
                .collect(),
            Seed::Remove(i) => pick(i)
                .map(|seq| Change::Remove { seq })
                .into_iter()
                .collect(),
            Seed::Settings(s) => vec![Change::Settings(*s)],
            Seed::Image => std::iter::once(Change::Image(model.head()))
                .chain(
                    model
                        .execs
                        .values()
                        .map(|e| Change::Put(Box::new(e.clone()))),
                )
                .collect(),
        };
        for c in made {
            model.apply(&c);
            out.push(c);
        }
    }
    out
}

/// A log of `changes` (taking the batch after the changes whose index is in
/// `cuts`), with the end offset of each change's record.
fn encode(changes: &[Change], cuts: &[usize]) -> (Vec<u8>, Vec<u64>) {
    let mut log = header().to_vec();
    let mut encoder = Encoder::new();
    let mut ends = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let pending = log.len() + encoder.batch_len();
        encoder.push(c).unwrap();
        assert!(encoder.batch_len() + log.len() > pending);
        ends.push((log.len() + encoder.batch_len()) as u64);
        if cuts.contains(&i) {
            log.extend(encoder.take_batch());
            assert_eq!(encoder.batch_len(), 0);
        }
    }
    log.extend(encoder.take_batch());
    (log, ends)
}

/// The models after each change (index 0: before any).
fn models(changes: &[Change]) -> Vec<Model> {
    let mut model = Model::default();
    let mut out = vec![model.clone()];
    for c in changes {
        model.apply(c);
        out.push(model.clone());
    }
    out
}

/// For each change, whether the log is inside an image right after it (an
/// image announced and not all of its puts written yet).
fn inside_image(changes: &[Change]) -> Vec<bool> {
    let mut left = 0u64;
    changes
        .iter()
        .map(|c| {
            if let Change::Image(h) = c {
                left = h.count;
            } else {
                left = left.saturating_sub(1);
            }
            left > 0
        })
        .collect()
}

/// Where each record starts and ends (the header as the first range).
fn ranges(ends: &[u64]) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ends.len() + 1);
    out.push(0..HEADER_LEN as u64);
    let mut start = HEADER_LEN as u64;
    for &end in ends {
        out.push(start..end);
        start = end;
    }
    out
}

fn damaged(log: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut bytes = log.to_vec();
    bytes[at] ^= mask;
    bytes
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Random changes, encoded in random batches, replay to the model; so do
    /// the same bytes fed in random chunks; and an image of the state
    /// replays to the same state.
    #[test]
    fn replay_gives_the_model(
        seeds in prop::collection::vec(seed(), 0..60),
        cuts in prop::collection::vec(0usize..80, 0..10),
        chunks in prop::collection::vec(1usize..64, 1..20),
    ) {
        let changes = changes(&seeds);
        let (log, ends) = encode(&changes, &cuts);
        let model = models(&changes).pop().unwrap();

        let whole = replay(&log).unwrap();
        prop_assert!(!whole.torn_tail);
        prop_assert_eq!(whole.valid_len, log.len() as u64);
        prop_assert_eq!(whole.valid_len, ends.last().copied().unwrap_or(HEADER_LEN as u64));
        same(&whole.state, &model)?;

        let mut replayer = Replayer::new(DurableState::default());
        let mut rest = &log[..];
        for size in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*size).min(rest.len()));
            replayer.feed(now).unwrap();
            rest = later;
        }
        let fed = replayer.finish().unwrap();
        prop_assert!(!fed.torn_tail);
        prop_assert_eq!(&fed.state, &whole.state);

        let image = image_bytes(&whole.state).unwrap();
        prop_assert_eq!(image.len() as u64, whole.state.image_len());
        let again = replay(&image).unwrap();
        same(&again.state, &model)?;
        prop_assert_eq!(image_bytes(&again.state).unwrap(), image);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Every cut of a log replays to the changes whose records end before
    /// it, torn exactly when the cut is inside a record; a cut inside an
    /// image is refused (an image is only ever written whole); appending
    /// after `valid_len` gives a log that replays the new change too.
    #[test]
    fn every_truncation_replays_a_prefix(
        seeds in prop::collection::vec(seed(), 0..14),
        cuts in prop::collection::vec(0usize..20, 0..4),
    ) {
        let changes = changes(&seeds);
        let (log, ends) = encode(&changes, &cuts);
        let models = models(&changes);
        let inside = inside_image(&changes);
        for cut in 0..=log.len() {
            let prefix = &log[..cut];
            let whole = ends.iter().take_while(|&&e| e <= cut as u64).count();
            let opened = if whole > 0 && inside[whole - 1] {
                let start = (0..whole).rev()
                    .find(|&i| matches!(changes[i], Change::Image(_)))
                    .map(|i| if i == 0 { HEADER_LEN as u64 } else { ends[i - 1] });
                let e = replay(prefix).unwrap_err();
                prop_assert!(matches!(e.kind, ErrorKind::IncompleteImage { .. }), "{}", e);
                prop_assert_eq!(Some(e.offset), start);
                continue;
            } else {
                replay(prefix).unwrap()
            };
            let boundary = if whole == 0 { if cut >= HEADER_LEN { HEADER_LEN as u64 } else { 0 } } else { ends[whole - 1] };
            prop_assert_eq!(opened.valid_len, boundary, "cut {}", cut);
            prop_assert_eq!(opened.torn_tail, cut as u64 != boundary, "cut {}", cut);
            same(&opened.state, &models[whole])?;

            // A writer cuts the torn tail off, then appends.
            if opened.torn_tail && cut >= HEADER_LEN && cut % 7 == 0 {
                let mut resumed = log[..boundary as usize].to_vec();
                let mut encoder = Encoder::new();
                let settings = Settings { concurrency: 1, max_finished: 2, max_bytes: 3 };
                encoder.push(&Change::Settings(settings)).unwrap();
                resumed.extend(encoder.take_batch());
                let after = replay(&resumed).unwrap();
                prop_assert!(!after.torn_tail);
                prop_assert_eq!(after.state.settings(), Some(&settings));
                prop_assert_eq!(after.state.len(), models[whole].execs.len());
            }
        }
    }

    /// Every single changed byte of a small log, wherever it is (the header,
    /// any record, the last one included), is refused with an offset inside
    /// the header or record it hit.
    #[test]
    fn every_changed_byte_of_a_small_log_is_refused_where_it_is(
        seeds in prop::collection::vec(seed(), 1..8),
        mask in prop_oneof![Just(0x01u8), Just(0x80), Just(0xff), 1..=255u8],
    ) {
        let changes = changes(&seeds);
        let (log, ends) = encode(&changes, &[]);
        let ranges = ranges(&ends);
        for at in 0..log.len() {
            let e = replay(&damaged(&log, at, mask)).unwrap_err();
            let hit = ranges.iter().find(|r| r.contains(&(at as u64))).unwrap();
            prop_assert!(hit.contains(&e.offset), "byte {} of {:?}: {}", at, hit, e);
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The same for larger logs, on sampled bytes, with the log fed in
    /// chunks as well.
    #[test]
    fn changed_bytes_of_larger_logs_are_refused_where_they_are(
        seeds in prop::collection::vec(seed(), 40..120),
        picks in prop::collection::vec((any::<Index>(), 1..=255u8), 64),
        chunk in 1usize..300,
    ) {
        let changes = changes(&seeds);
        let (log, ends) = encode(&changes, &[]);
        let ranges = ranges(&ends);
        for (i, mask) in picks {
            let at = i.index(log.len());
            let bytes = damaged(&log, at, mask);
            let hit = ranges.iter().find(|r| r.contains(&(at as u64))).unwrap();
            let e = replay(&bytes).unwrap_err();
            prop_assert!(hit.contains(&e.offset), "byte {} of {:?}: {}", at, hit, e);
            let mut replayer = Replayer::new(DurableState::default());
            let fed = bytes.chunks(chunk).try_for_each(|c| replayer.feed(c)).and_then(|()| replayer.finish().map(|_| ()));
            prop_assert_eq!(fed.unwrap_err(), e);
        }
    }
}

// ------------------------------------------------------------------ fixed cases

fn log_of(changes: &[Change]) -> Vec<u8> {
    encode(changes, &[]).0
}

/// A record around `payload`, with correct checks (for payloads no encoder
/// writes).
fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = len.to_vec();
    out.extend(crc32fast::hash(&len).to_le_bytes());
    out.extend(payload);
    out.extend(crc32fast::hash(payload).to_le_bytes());
    out
}

/// A header with this version and these flags, with a correct check.
fn header_with(version: u16, flags: u16) -> Vec<u8> {
    let mut out = header()[..8].to_vec();
    out.extend(version.to_le_bytes());
    out.extend(flags.to_le_bytes());
    out.extend(crc32fast::hash(&out).to_le_bytes());
    out
}

#[test]
fn the_header_is_magic_version_flags_and_its_check() {
    let h = header();
    assert_eq!(&h[..8], b"\x89EXM\r\n\x1a\n");
    assert_eq!(u16::from_le_bytes([h[8], h[9]]), VERSION);
    assert_eq!(VERSION, 1);
    assert_eq!(&h[10..12], &[0, 0]);
    assert_eq!(h.to_vec(), header_with(VERSION, 0));
    let opened = replay(&h).unwrap();
    assert!(opened.state.is_empty() && !opened.torn_tail);
    assert_eq!(opened.valid_len, HEADER_LEN as u64);
}

#[test]
fn an_empty_store_and_a_torn_first_header_open_empty() {
    let empty = replay(&[]).unwrap();
    assert!(empty.state.is_empty() && !empty.torn_tail && empty.valid_len == 0);
    for cut in 1..HEADER_LEN {
        let torn = replay(&header()[..cut]).unwrap();
        assert!(torn.state.is_empty() && torn.torn_tail && torn.valid_len == 0);
    }
}

#[test]
fn damaged_headers_are_refused_with_where_and_what() {
    let at = |bytes: &[u8]| replay(bytes).unwrap_err();
    // Not a store: another format, text, zeros, even a single byte.
    for other in [
        &b"{\"executions\":[]}"[..],
        &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
        &[0u8; 40][..],
        &b"x"[..],
    ] {
        let e = at(other);
        assert_eq!(e.kind, ErrorKind::NotAStore, "{other:?}");
        assert!(e.offset < 8);
        assert!(e.to_string().contains("not an execman store"), "{e}");
    }
    // A newer version, whole or torn right after it, whatever follows.
    let newer = header_with(VERSION + 1, 0);
    assert_eq!(
        at(&newer),
        FormatError {
            offset: 8,
            kind: ErrorKind::NewerVersion {
                version: VERSION + 1
            }
        }
    );
    assert_eq!(
        at(&newer[..10]).kind,
        ErrorKind::NewerVersion { version: 2 }
    );
    let mut later = header_with(u16::MAX, 0xffff);
    later.extend(b"whatever a future version writes");
    let e = at(&later);
    assert_eq!(e.kind, ErrorKind::NewerVersion { version: u16::MAX });
    assert!(e.to_string().contains("newer"), "{e}");
    assert_eq!(
        at(&header_with(0, 0)).kind,
        ErrorKind::UnknownVersion { version: 0 }
    );
    assert_eq!(
        at(&header_with(VERSION, 4)),
        FormatError {
            offset: 10,
            kind: ErrorKind::UnknownFlags { flags: 4 }
        }
    );
    let mut bad_check = header().to_vec();
    bad_check[14] ^= 1;
    assert_eq!(
        at(&bad_check),
        FormatError {
            offset: 12,
            kind: ErrorKind::HeaderChecksum
        }
    );
}

#[test]
fn records_with_valid_checks_but_impossible_contents_are_refused() {
    let start = HEADER_LEN as u64;
    let refused = |payload: &[u8]| {
        let mut bytes = header().to_vec();
        bytes.extend(frame(payload));
        replay(&bytes).unwrap_err()
    };
    assert_eq!(
        refused(&[7, 1]),
        FormatError {
            offset: start + 8,
            kind: ErrorKind::UnknownKind { kind: 7 }
        }
    );
    assert_eq!(refused(&[0]).kind, ErrorKind::UnknownKind { kind: 0 });
    assert_eq!(
        refused(&[6, 1, 0]),
        FormatError {
            offset: start + 10,
            kind: ErrorKind::TrailingBytes
        }
    );
    assert_eq!(refused(&[6]).kind, ErrorKind::ShortRecord);
    assert_eq!(refused(&[6, 0x80, 0x00]).kind, ErrorKind::BadVarint);
    // A progress report whose `current` is NaN, then one below 0.
    let mut nan = vec![5, 1];
    nan.extend(f64::NAN.to_le_bytes());
    nan.push(0);
    nan.extend(1.0f64.to_le_bytes());
    assert_eq!(
        refused(&nan),
        FormatError {
            offset: start + 10,
            kind: ErrorKind::Impossible {
                field: "progress.current"
            }
        }
    );
    let mut below = nan.clone();
    below[2..10].copy_from_slice(&(-1.0f64).to_le_bytes());
    let mut bytes = log_of(&[Change::Put(Box::new(pending(1, "a")))]);
    bytes.extend(frame(&below));
    let e = replay(&bytes).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Impossible {
            field: "progress.current"
        }
    );
    // Unknown progress flags.
    let mut flags = nan.clone();
    flags[2..10].copy_from_slice(&1.0f64.to_le_bytes());
    flags[10] = 4;
    assert_eq!(
        refused(&flags).kind,
        ErrorKind::Impossible {
            field: "progress.flags"
        }
    );
    // An empty record.
    let mut empty = header().to_vec();
    empty.extend(0u32.to_le_bytes());
    empty.extend(crc32fast::hash(&0u32.to_le_bytes()).to_le_bytes());
    empty.extend(crc32fast::hash(&[]).to_le_bytes());
    assert_eq!(replay(&empty).unwrap_err().kind, ErrorKind::EmptyRecord);
    // Bad UTF-8 in an id, behind valid checks: a Put with id "ab" whose
    // second byte becomes a lone continuation byte.
    let good = log_of(&[Change::Put(Box::new(pending(1, "ab")))]);
    let mut payload = good[HEADER_LEN + 8..good.len() - 4].to_vec();
    let id_at = payload.windows(2).position(|w| w == b"ab").unwrap();
    payload[id_at + 1] = 0x80;
    let e = refused(&payload);
    assert_eq!(e.kind, ErrorKind::BadUtf8);
    assert_eq!(e.offset, start + 8 + id_at as u64 + 1);
}

#[test]
fn changes_that_do_not_fit_the_state_are_refused_at_their_record() {
    let a = Change::Put(Box::new(pending(1, "a")));
    let second = |c: Change| {
        let (log, ends) = encode(&[a.clone(), c], &[]);
        (replay(&log).unwrap_err(), ends[0])
    };
    for change in [
        Change::Remove { seq: 2 },
        Change::Progress {
            seq: 9,
            progress: ProgressImage {
                current: 1.0,
                total: None,
                message: None,
                updated_at: 0.0,
            },
        },
        Change::Status {
            seq: 3,
            state: Box::new(pending(3, "x").state),
        },
    ] {
        let (e, at) = second(change);
        assert!(matches!(e.kind, ErrorKind::UnknownExecution { .. }), "{e}");
        assert_eq!(e.offset, at);
    }
    let (e, at) = second(Change::Put(Box::new(pending(2, "a"))));
    assert_eq!(
        e,
        FormatError {
            offset: at,
            kind: ErrorKind::DuplicateId { seq: 1 }
        }
    );
    // Replacing an execution whole may change its id, freeing the old one.
    let (log, _) = encode(
        &[
            a.clone(),
            Change::Put(Box::new(pending(1, "b"))),
            Change::Put(Box::new(pending(2, "a"))),
        ],
        &[],
    );
    let state = replay(&log).unwrap().state;
    assert_eq!((state.seq_of("a"), state.seq_of("b")), (Some(2), Some(1)));
}

#[test]
fn images_must_be_whole_and_hold_only_puts() {
    let head = |count| {
        Change::Image(ImageHead {
            last_seq: 5,
            last_finish: 0,
            settings: None,
            count,
        })
    };
    let (log, ends) = encode(&[head(2), Change::Put(Box::new(pending(1, "a")))], &[]);
    assert_eq!(
        replay(&log).unwrap_err(),
        FormatError {
            offset: HEADER_LEN as u64,
            kind: ErrorKind::IncompleteImage { missing: 1 }
        }
    );
    // Torn inside the image: still refused.
    assert!(matches!(
        replay(&log[..ends[1] as usize - 1]).unwrap_err().kind,
        ErrorKind::IncompleteImage { missing: 2 }
    ));
    let (log, ends) = encode(
        &[
            head(2),
            Change::Put(Box::new(pending(1, "a"))),
            Change::Remove { seq: 1 },
        ],
        &[],
    );
    assert_eq!(
        replay(&log).unwrap_err(),
        FormatError {
            offset: ends[1],
            kind: ErrorKind::ChangeInsideImage
        }
    );
    // An image resets what came before it.
    let (log, _) = encode(
        &[
            Change::Put(Box::new(pending(1, "a"))),
            Change::Put(Box::new(pending(2, "b"))),
            head(1),
            Change::Put(Box::new(pending(2, "b"))),
        ],
        &[],
    );
    let state = replay(&log).unwrap().state;
    assert_eq!(state.len(), 1);
    assert_eq!(state.seq_of("a"), None);
    assert_eq!(state.last_seq(), 5);
    // A count no store could hold (replay makes room for the puts an image
    // announces, up to a limit) is refused like any other missing puts.
    let (log, _) = encode(
        &[head(u64::MAX), Change::Put(Box::new(pending(1, "a")))],
        &[],
    );
    assert_eq!(
        replay(&log).unwrap_err().kind,
        ErrorKind::IncompleteImage {
            missing: u64::MAX - 1
        }
    );
}

#[test]
fn edge_values_round_trip() {
    let mut e = pending(u64::MAX, "");
    e.target_id = Rc::from("");
    e.kind = Rc::from("");
    e.inputs = "".into();
    e.config = "\"日本語 🦀\"".into();
    e.tracked = true;
    e.priority = -MAX_SAFE;
    e.max_attempts = u32::MAX;
    e.created_at = f64::MIN;
    e.timeout_ms = Some(f64::MAX);
    e.retry = Some(RetryPolicy {
        attempts: u32::MAX,
        backoff: Backoff {
            kind: BackoffKind::Exponential,
            delay_ms: 0.0,
            max_delay_ms: Some(f64::MAX),
            jitter: 1.0,
        },
    });
    e.state = ExecutionState {
        status: Status::Failed,
        attempt: u32::MAX,
        run_at: Some(-0.0),
        progress: Some(ProgressImage {
            current: f64::MAX,
            total: Some(f64::MIN_POSITIVE),
            message: Some("".into()),
            updated_at: f64::MAX,
        }),
        result: None,
        failure: Some("{\"code\":\"INTERRUPTED\",\"message\":\"é\\u0000\"}".into()),
        cancel_reason: None,
        started_at: Some(f64::MIN_POSITIVE),
        finished_at: Some(f64::MAX),
        updated_at: -0.0,
        finish_order: u64::MAX,
    };
    let settings = Settings {
        concurrency: u64::MAX,
        max_finished: 0,
        max_bytes: u64::MAX,
    };
    let changes = [Change::Settings(settings), Change::Put(Box::new(e.clone()))];
    let state = replay(&log_of(&changes)).unwrap().state;
    let got = state.get(u64::MAX).unwrap();
    assert_eq!(got, &e);
    assert_eq!(bits(got), bits(&e));
    assert_eq!(state.last_seq(), u64::MAX);
    assert_eq!(state.last_finish(), u64::MAX);
    assert_eq!(state.settings(), Some(&settings));
    let image = image_bytes(&state).unwrap();
    assert_eq!(replay(&image).unwrap().state, state);
}

#[test]
fn the_encoder_refuses_impossible_values_and_writes_nothing_of_them() {
    let mut encoder = Encoder::new();
    encoder
        .push(&Change::Put(Box::new(pending(1, "a"))))
        .unwrap();
    let len = encoder.batch_len();
    let mut cases: Vec<(ExecutionImage, &str)> = Vec::new();
    let mut e = pending(2, "b");
    e.created_at = f64::NAN;
    cases.push((e, "createdAt"));
    let mut e = pending(2, "b");
    e.state.result = Some("1".into());
    cases.push((e, "result"));
    let mut e = pending(2, "b");
    e.state.status = Status::Completed;
    cases.push((e, "finishedAt"));
    let mut e = pending(2, "b");
    e.state.status = Status::Running;
    cases.push((e, "startedAt"));
    let mut e = pending(2, "b");
    e.priority = MAX_SAFE + 1;
    cases.push((e, "priority"));
    let mut e = pending(2, "b");
    e.max_attempts = 0;
    cases.push((e, "maxAttempts"));
    let mut e = pending(2, "b");
    e.state.progress = Some(ProgressImage {
        current: 1.0,
        total: Some(0.0),
        message: None,
        updated_at: 0.0,
    });
    cases.push((e, "progress.total"));
    let mut e = pending(2, "b");
    e.retry = Some(RetryPolicy {
        attempts: 2,
        backoff: Backoff {
            kind: BackoffKind::Fixed,
            delay_ms: 1.0,
            max_delay_ms: None,
            jitter: 1.5,
        },
    });
    cases.push((e, "retry.backoff.jitter"));
    for (e, field) in cases {
        assert_eq!(
            encoder.push(&Change::Put(Box::new(e.clone()))),
            Err(EncodeError::Impossible { field })
        );
        assert_eq!(encoder.push_put(&e), Err(EncodeError::Impossible { field }));
        assert_eq!(encoder.batch_len(), len);
        let mut state = DurableState::default();
        assert_eq!(
            state.apply(Change::Put(Box::new(e))),
            Err(ErrorKind::Impossible { field })
        );
        assert!(state.is_empty());
    }
    let batch = encoder.take_batch();
    assert_eq!(batch.len(), len);
    assert_eq!(encoder.batch_len(), 0);
}

// ------------------------------------------------------------------ compaction

/// The contract's JSON of an execution: what the store's size per held
/// execution is compared with.
fn json_size(e: &ExecutionImage) -> usize {
    let s = &e.state;
    let json = serde_json::json!({
        "id": &*e.id, "targetId": &*e.target_id, "type": &*e.kind, "status": s.status.as_str(),
        "inputs": serde_json::from_str::<serde_json::Value>(&e.inputs).unwrap(),
        "config": serde_json::from_str::<serde_json::Value>(&e.config).unwrap(),
        "progress": s.progress.as_ref().map(|p| serde_json::json!({
            "current": p.current, "total": p.total, "message": p.message.as_deref(),
            "percentage": p.total.map(|t| (p.current / t * 100.0).min(100.0)), "updatedAt": p.updated_at,
        })),
        "result": s.result.as_deref().map(|r| serde_json::from_str::<serde_json::Value>(r).unwrap()),
        "createdAt": e.created_at, "startedAt": s.started_at, "finishedAt": s.finished_at,
        "updatedAt": s.updated_at, "priority": e.priority, "attempt": s.attempt,
        "maxAttempts": e.max_attempts, "runAt": s.run_at,
    });
    json.to_string().len()
}

/// A manager's worth of changes over many executions: each is created,
/// started, reports progress, completes; past `max_finished` the earliest
/// finished are evicted. The log is written in batches and compacted by the
/// policy. The store never grows past `factor + 1` times the live data plus
/// `floor` plus a batch, an image is exactly the live data, its size per
/// held execution is below the contract JSON's, and every compaction, and
/// the log at the end, replays to the model.
#[test]
fn compaction_keeps_the_state_and_the_store_proportional_to_what_is_held() {
    let policy = CompactionPolicy::default();
    let max_finished = 200usize;
    let total = 30_000u64;
    let mut model = Model::default();
    let mut state = DurableState::default();
    let mut log = header().to_vec();
    let mut encoder = Encoder::new();
    let mut finished: std::collections::VecDeque<u64> = Default::default();
    let (mut written, mut compactions, mut largest_batch) = (log.len() as u64, 0, 0usize);
    let push = |encoder: &mut Encoder, c: Change, model: &mut Model, state: &mut DurableState| {
        encoder.push(&c).unwrap();
        model.apply(&c);
        state.apply(c).unwrap();
    };
    let t0 = 1_700_000_000_000.0;
    let mut batch_changes = Vec::new();
    push(
        &mut encoder,
        Change::Settings(Settings {
            concurrency: 4,
            max_finished: max_finished as u64,
            max_bytes: 1 << 28,
        }),
        &mut model,
        &mut state,
    );
    for seq in 1..=total {
        let now = t0 + seq as f64;
        let mut e = pending(seq, &format!("job-{seq:08}"));
        e.inputs = format!("{{\"page\":{seq},\"title\":\"Report ñ {}\"}}", seq % 97).into();
        e.created_at = now;
        e.state.updated_at = now;
        batch_changes.push(Change::Put(Box::new(e.clone())));
        let mut st = e.state.clone();
        st.status = Status::Running;
        st.attempt = 1;
        st.started_at = Some(now + 1.0);
        st.updated_at = now + 1.0;
        batch_changes.push(Change::Status {
            seq,
            state: Box::new(st.clone()),
        });
        for step in 1..=3 {
            batch_changes.push(Change::Progress {
                seq,
                progress: ProgressImage {
                    current: f64::from(step),
                    total: Some(3.0),
                    message: Some(format!("step {step} of 3").into()),
                    updated_at: now + 1.0 + f64::from(step),
                },
            });
        }
        st.status = Status::Completed;
        st.result = Some(format!("{{\"pages\":{seq}}}").into());
        st.finished_at = Some(now + 5.0);
        st.updated_at = now + 5.0;
        st.finish_order = seq;
        st.progress = Some(ProgressImage {
            current: 3.0,
            total: Some(3.0),
            message: Some("step 3 of 3".into()),
            updated_at: now + 5.0,
        });
        batch_changes.push(Change::Status {
            seq,
            state: Box::new(st),
        });
        finished.push_back(seq);
        while finished.len() > max_finished {
            let old = finished.pop_front().unwrap();
            batch_changes.push(Change::Remove { seq: old });
        }
        for c in batch_changes.drain(..) {
            push(&mut encoder, c, &mut model, &mut state);
        }
        // A batch every 1 to 16 executions.
        if seq % (1 + seq % 16) == 0 || seq == total {
            let batch = encoder.take_batch();
            largest_batch = largest_batch.max(batch.len());
            written += batch.len() as u64;
            log.extend(batch);
            let image_len = state.image_len();
            assert!(
                log.len() as u64
                    <= (policy.factor + 1) * image_len + policy.floor + largest_batch as u64,
                "a log of {} bytes for an image of {image_len}",
                log.len()
            );
            if policy.should_compact(log.len() as u64, image_len) {
                log = image_bytes(&state).unwrap();
                compactions += 1;
                assert_eq!(log.len() as u64, image_len);
                if compactions % 25 == 1 {
                    let reopened = replay(&log).unwrap();
                    same(&reopened.state, &model).unwrap();
                }
            }
        }
    }
    let reopened = replay(&log).unwrap();
    assert!(!reopened.torn_tail);
    same(&reopened.state, &model).unwrap();
    assert_eq!(state.len(), max_finished);
    assert!(compactions > 50, "{compactions} compactions");
    assert!(written > 50 * log.len() as u64, "{written} bytes written");

    // An image is about the size of what is held: per execution, less than
    // its JSON, and the same whether 30 000 or 200 ran.
    let image_len = state.image_len();
    let json: usize = state.executions().map(json_size).sum();
    let per_execution = image_len as f64 / state.len() as f64;
    assert!(
        (image_len as f64) < json as f64,
        "image {image_len} bytes, JSON {json} bytes"
    );
    assert!(
        per_execution < 200.0,
        "{per_execution} bytes per held execution"
    );
    let bound = (policy.factor + 1) * image_len + policy.floor + largest_batch as u64;
    assert!(log.len() as u64 <= bound);
}
