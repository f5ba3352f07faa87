//! Writing changes as records, and reading a store back.

use super::codec::{write_change, write_image_head, write_put, Interner, Reader};
use super::format::{
    array, check_header, crc, header, EncodeError, ErrorKind, FormatError, FRAME_HEAD, FRAME_LEN,
    HEADER_LEN,
};
use super::image::{Change, ExecutionImage, ImageHead};
use super::state::{Apply, DurableState};

/// Appends changes, as framed records, to an in-memory batch that the I/O
/// layer takes and writes in one go.
///
/// The batch holds records only: a new store is written as
/// [`header`](super::header) (or an image) first, then batches.
///
/// ```
/// use execman::core::durable::{replay, header, Change, Encoder, Settings};
///
/// let mut log = header().to_vec();
/// let mut encoder = Encoder::new();
/// let settings = Settings { concurrency: 4, max_finished: 1000, max_bytes: 1 << 28 };
/// encoder.push(&Change::Settings(settings)).unwrap();
/// log.extend(encoder.take_batch());
///
/// let replayed = replay(&log).unwrap();
/// assert_eq!(replayed.state.settings(), Some(&settings));
/// assert!(!replayed.torn_tail);
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    batch: Vec<u8>,
}

impl Encoder {
    /// An encoder with an empty batch.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Appends one change. A change with an impossible value (see
    /// [`Change::check`]) or too large for a record is refused, and nothing
    /// of it is appended.
    pub fn push(&mut self, change: &Change) -> Result<(), EncodeError> {
        change
            .check()
            .map_err(|field| EncodeError::Impossible { field })?;
        self.record(|out| write_change(out, change))
    }

    /// Appends a `put` of an execution without building a [`Change`].
    pub fn push_put(&mut self, image: &ExecutionImage) -> Result<(), EncodeError> {
        image
            .check()
            .map_err(|field| EncodeError::Impossible { field })?;
        self.record(|out| write_put(out, image))
    }

    /// Appends the head of an image; `head.count` puts must follow.
    fn push_image_head(&mut self, head: &ImageHead) -> Result<(), EncodeError> {
        self.record(|out| write_image_head(out, head))
    }

    /// Frames what `write` appends as one record.
    fn record(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), EncodeError> {
        let start = self.batch.len();
        self.batch.extend_from_slice(&[0; FRAME_HEAD]);
        write(&mut self.batch);
        let len = self.batch.len() - start - FRAME_HEAD;
        let Ok(len32) = u32::try_from(len) else {
            self.batch.truncate(start);
            return Err(EncodeError::TooLarge { len });
        };
        let len_bytes = len32.to_le_bytes();
        if let Some(head) = self.batch.get_mut(start..start + FRAME_HEAD) {
            let (l, c) = head.split_at_mut(4);
            l.copy_from_slice(&len_bytes);
            c.copy_from_slice(&crc(&len_bytes).to_le_bytes());
        }
        let check = crc(self.batch.get(start + FRAME_HEAD..).unwrap_or_default());
        self.batch.extend_from_slice(&check.to_le_bytes());
        Ok(())
    }

    /// Bytes waiting in the batch.
    pub fn batch_len(&self) -> usize {
        self.batch.len()
    }

    /// Takes the batch (the records of every change pushed since the last
    /// take), leaving an empty one.
    pub fn take_batch(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.batch)
    }

    /// Drops the batch (after a compaction whose image already holds its
    /// changes).
    pub fn clear(&mut self) {
        self.batch.clear();
    }
}

/// A whole store holding exactly `state`: the header, an `image` record and
/// one `put` per execution in creation order. Written in place of the log,
/// it is the compaction; its length is [`DurableState::image_len`].
pub fn image_bytes(state: &DurableState) -> Result<Vec<u8>, EncodeError> {
    let mut encoder = Encoder {
        batch: Vec::with_capacity(usize::try_from(state.image_len()).unwrap_or(0)),
    };
    encoder.batch.extend_from_slice(&header());
    encoder.push_image_head(&state.head())?;
    for e in state.executions() {
        encoder.push_put(e)?;
    }
    Ok(encoder.batch)
}

/// What replay found.
#[derive(Debug)]
pub struct Replayed<T = DurableState> {
    /// The state after every whole record.
    pub state: T,
    /// Where the last whole record ends (0 when there is no whole header):
    /// a writer appending to this store first cuts it to this length.
    pub valid_len: u64,
    /// Whether bytes after `valid_len` were a torn last write (see
    /// [`format`](mod@super::format)); they hold no whole change.
    pub torn_tail: bool,
}

/// Reads a store (an empty one included) into a [`DurableState`]: every
/// whole record, a torn tail reported, any other damage refused with its
/// byte offset.
pub fn replay(bytes: &[u8]) -> Result<Replayed, FormatError> {
    let mut replayer = Replayer::new(DurableState::default());
    replayer.feed(bytes)?;
    replayer.finish()
}

/// Replay fed in chunks of any size (a file read piece by piece, the
/// batches of an IndexedDB store), applying each whole record to its target
/// as soon as it is complete. Only [`Replayer::finish`] decides that an
/// incomplete last record is a torn tail. After an error, every later call
/// returns that error.
#[derive(Debug)]
pub struct Replayer<T: Apply = DurableState> {
    target: T,
    /// Bytes of the header or of a record not yet whole.
    carry: Vec<u8>,
    /// Offset of the first byte not yet applied (where `carry` starts).
    at: u64,
    header_done: bool,
    /// `put` records the current image still owes, and where it began.
    image_left: u64,
    image_at: u64,
    names: Interner,
    failed: Option<FormatError>,
}

impl<T: Apply> Replayer<T> {
    /// A replayer applying to `target`.
    pub fn new(target: T) -> Replayer<T> {
        Replayer {
            target,
            carry: Vec::new(),
            at: 0,
            header_done: false,
            image_left: 0,
            image_at: 0,
            names: Interner::default(),
            failed: None,
        }
    }

    /// Reads the next bytes of the store.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FormatError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.feed_inner(chunk);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn feed_inner(&mut self, mut chunk: &[u8]) -> Result<(), FormatError> {
        if !self.header_done {
            chunk = self.fill(chunk, HEADER_LEN);
            check_header(&self.carry)?;
            if self.carry.len() < HEADER_LEN {
                return Ok(());
            }
            self.carry.clear();
            self.at = HEADER_LEN as u64;
            self.header_done = true;
        }
        if !self.carry.is_empty() {
            chunk = self.fill(chunk, FRAME_HEAD);
            let Some(total) = frame_len(&self.carry, self.at)? else {
                return Ok(());
            };
            chunk = self.fill(chunk, total);
            if self.carry.len() < total {
                return Ok(());
            }
            let record = std::mem::take(&mut self.carry);
            self.record(&record)?;
            self.carry = record;
            self.carry.clear();
        }
        let mut pos = 0;
        while let Some(rest) = chunk.get(pos..) {
            let Some(total) = frame_len(rest, self.at)? else {
                break;
            };
            let Some(record) = rest.get(..total) else {
                break;
            };
            self.record(record)?;
            pos += total;
        }
        self.carry
            .extend_from_slice(chunk.get(pos..).unwrap_or_default());
        Ok(())
    }

    /// Moves bytes from `chunk` into `carry` until it holds `want`; returns
    /// the rest of the chunk.
    fn fill<'c>(&mut self, chunk: &'c [u8], want: usize) -> &'c [u8] {
        let n = want.saturating_sub(self.carry.len()).min(chunk.len());
        let (now, rest) = chunk.split_at(n);
        self.carry.extend_from_slice(now);
        rest
    }

    /// Checks, decodes and applies one whole record starting at `self.at`.
    fn record(&mut self, record: &[u8]) -> Result<(), FormatError> {
        let at = self.at;
        let end = record.len().saturating_sub(4);
        let payload = record.get(FRAME_HEAD..end).unwrap_or_default();
        let stored = array::<4>(record, end).map(u32::from_le_bytes);
        if stored != Some(crc(payload)) {
            return Err(FormatError::at(at, ErrorKind::RecordChecksum));
        }
        let mut reader = Reader::new(payload, at + FRAME_HEAD as u64);
        let change = super::codec::read_change(&mut reader, &mut self.names)?;
        reader.end()?;
        let refuse = |kind| FormatError::at(at, kind);
        if self.image_left > 0 {
            if !matches!(change, Change::Put(_)) {
                return Err(refuse(ErrorKind::ChangeInsideImage));
            }
            self.image_left -= 1;
        }
        if let Change::Image(head) = &change {
            self.image_left = head.count;
            self.image_at = at;
        }
        change
            .check()
            .map_err(|field| refuse(ErrorKind::Impossible { field }))?;
        self.target.apply(change).map_err(refuse)?;
        self.at += record.len() as u64;
        Ok(())
    }

    /// Ends the replay: an incomplete last record is a torn tail, an image
    /// missing some of its executions is damage.
    pub fn finish(self) -> Result<Replayed<T>, FormatError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.image_left > 0 {
            return Err(FormatError::at(
                self.image_at,
                ErrorKind::IncompleteImage {
                    missing: self.image_left,
                },
            ));
        }
        Ok(Replayed {
            state: self.target,
            valid_len: self.at,
            torn_tail: !self.carry.is_empty(),
        })
    }
}

/// The whole length of the record whose first bytes `bytes` are (at offset
/// `at`), once its length and the length's check are there (`None` before).
fn frame_len(bytes: &[u8], at: u64) -> Result<Option<usize>, FormatError> {
    let (Some(len), Some(check)) = (array::<4>(bytes, 0), array::<4>(bytes, 4)) else {
        return Ok(None);
    };
    if crc(&len) != u32::from_le_bytes(check) {
        return Err(FormatError::at(at, ErrorKind::LengthChecksum));
    }
    let len = u32::from_le_bytes(len);
    if len == 0 {
        return Err(FormatError::at(at, ErrorKind::EmptyRecord));
    }
    // On a 32-bit target a length near u32::MAX cannot be whole in memory:
    // it stays incomplete (a torn tail, if nothing else follows).
    Ok(Some((len as usize).saturating_add(FRAME_LEN)))
}
