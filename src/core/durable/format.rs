//! The byte layout of a durable store, and its errors.
//!
//! A store is one byte sequence (a file, or the batches of an IndexedDB
//! database read in order): a **header**, then **records**, each holding
//! one [`Change`](super::Change).
//!
//! # Header (16 bytes)
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8   | magic: `89 45 58 4D 0D 0A 1A 0A` (`\x89EXM\r\n\x1a\n`: the high byte catches 7-bit transfers, CR LF and LF catch newline conversions, `1A` stops a DOS `type`) |
//! | 8..10  | format version, u16 little-endian ([`VERSION`]) |
//! | 10..12 | flags, u16 little-endian: none is defined yet; a reader refuses any set bit |
//! | 12..16 | CRC-32 of bytes 0..12, u32 little-endian |
//!
//! The magic and the version stay where they are in every version, so any
//! reader can tell "not a store" from "a store of a newer version".
//!
//! # Record framing (12 bytes around each payload)
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..4 | `length` of the payload, u32 little-endian (≥ 1) |
//! | 4..8 | CRC-32 of bytes 0..4 (the length's own check) |
//! | 8..8+length | payload: a kind byte, then that kind's fields |
//! | then 4 bytes | CRC-32 of the payload |
//!
//! The CRC is CRC-32 (IEEE 802.3, as in zlib and PNG), computed by slicing
//! by 16 bytes over tables made on first use (not stored in the `.wasm`).
//! A CRC-32 detects every change of up to 32 consecutive bits, so any
//! single changed byte, anywhere, is caught. The length has its own check so
//! that a damaged length is never mistaken for a record that runs past the
//! end of the data (which is what a torn write looks like).
//!
//! # Payload encoding
//!
//! Unsigned integers are LEB128 varints (7 bits a byte, low bits first;
//! overlong or overflowing forms are refused), signed ones zigzag-mapped
//! first; numbers that are JavaScript numbers (timestamps, progress, delays)
//! are IEEE-754 doubles, 8 bytes little-endian, NaN refused; strings and
//! JSON texts are a varint byte length then UTF-8 (invalid UTF-8, lone
//! surrogates included, refused); optional fields are announced by bits of a
//! flags byte, and a reader refuses bits it does not know. A payload must
//! be consumed exactly: trailing bytes are damage.
//!
//! # Record kinds
//!
//! | kind | name | fields |
//! | --- | --- | --- |
//! | 1 | image | `last_seq`, `last_finish`, settings (optional), `count`: the state is reset to this, and exactly `count` `put` records follow |
//! | 2 | settings | `concurrency`, `max_finished`, `max_bytes` |
//! | 3 | put | a whole [`ExecutionImage`](super::ExecutionImage): creates the execution or replaces it |
//! | 4 | status | `seq` and the execution's whole [`ExecutionState`](super::ExecutionState) (its status, attempt, progress, outcome, timestamps, finish order) |
//! | 5 | progress | `seq` and one [`ProgressImage`](super::ProgressImage) (also the execution's `updated_at`) |
//! | 6 | remove | `seq` |
//!
//! Kind 0 and kinds above 6 are refused. Replaying the records in order onto
//! an empty state gives the state exactly (see
//! [`DurableState`](super::DurableState) for the rules of each kind).
//!
//! # A log, an image, compaction
//!
//! A log is the header followed by the records of the changes as they were
//! made. A compacted **image** is the header, one `image` record and one
//! `put` per held execution, in creation order; it replaces the log
//! (atomically: a new file renamed over the old one, one IndexedDB
//! transaction), and later changes are appended after it. An image cut short
//! (fewer `put` records than its `count`) is damage, never a torn tail: it
//! is only ever written whole.
//!
//! # Torn tail
//!
//! A crash during a write leaves the data a prefix of what was being
//! written. So the **torn tail** is exactly: after the last whole record,
//! either fewer bytes than a whole record frame needs, i.e. fewer than 8
//! bytes (a length and its check), or a length whose check holds but whose
//! record (12 + length bytes) runs past the end of the data. Replay keeps
//! every whole record before it and reports `torn_tail` and `valid_len` (the
//! end of the last whole record: a writer appending after a torn tail first
//! cuts the data there). A data shorter than the header but equal to the
//! start of a header is a torn first write (an empty store). Everything
//! else (a failed check, an unknown kind or flag, bad UTF-8, an impossible
//! value, a change to an execution that is not held) is damage: replay
//! refuses it with the byte offset where it was found, inside the damaged
//! record, and keeps nothing. Nothing is guessed, nothing is dropped.
//!
//! # Version policy
//!
//! [`VERSION`] is 1. A reader reads every version from 1 up to its own
//! (older ones are decoded as they were written and migrated in memory;
//! the next compaction writes the current version) and refuses a newer one
//! with [`ErrorKind::NewerVersion`]: it cannot know what a newer writer
//! meant. A new record kind, a new field or a new flag means a new version.

use std::fmt;

/// The magic bytes a store starts with.
pub const MAGIC: [u8; 8] = [0x89, b'E', b'X', b'M', b'\r', b'\n', 0x1a, b'\n'];
/// The format version this code writes (and the newest it reads).
pub const VERSION: u16 = 1;
/// The oldest format version this code reads.
pub const OLDEST_VERSION: u16 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 16;
/// Bytes of a record's framing before its payload (length and its check).
pub const FRAME_HEAD: usize = 8;
/// Bytes of a record's framing around its payload (head and payload check).
pub const FRAME_LEN: usize = 12;

/// The kind byte of each record.
pub(crate) mod kind {
    pub const IMAGE: u8 = 1;
    pub const SETTINGS: u8 = 2;
    pub const PUT: u8 = 3;
    pub const STATUS: u8 = 4;
    pub const PROGRESS: u8 = 5;
    pub const REMOVE: u8 = 6;
}

/// CRC-32 (IEEE 802.3: reflected polynomial `0xEDB88320`, initial value and
/// final xor `!0`) of some bytes.
pub(crate) fn crc(bytes: &[u8]) -> u32 {
    let t = crc_tables();
    // `t[k]` with a constant `k`, and a `u8` into 256 entries: never out of range
    // (the compiler sees that too: `at` has no check left).
    let at = |k: &[u32; 256], i: u8| k.get(usize::from(i)).copied().unwrap_or(0);
    let mut crc = !0u32;
    let (blocks, rest) = bytes.as_chunks::<16>();
    for b in blocks {
        let [w0, w1, w2, w3] = (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) ^ crc).to_le_bytes();
        crc = at(&t[0], b[15])
            ^ at(&t[1], b[14])
            ^ at(&t[2], b[13])
            ^ at(&t[3], b[12])
            ^ at(&t[4], b[11])
            ^ at(&t[5], b[10])
            ^ at(&t[6], b[9])
            ^ at(&t[7], b[8])
            ^ at(&t[8], b[7])
            ^ at(&t[9], b[6])
            ^ at(&t[10], b[5])
            ^ at(&t[11], b[4])
            ^ at(&t[12], w3)
            ^ at(&t[13], w2)
            ^ at(&t[14], w1)
            ^ at(&t[15], w0);
    }
    for &byte in rest {
        crc = at(&t[0], crc as u8 ^ byte) ^ (crc >> 8);
    }
    !crc
}

/// The 16 tables of slicing-by-16: `t[0]` the byte-at-a-time table, `t[k][b]`
/// the CRC of byte `b` followed by `k` zero bytes. Made once, on first use, so
/// that their 16 KiB of numbers are not part of the `.wasm`.
fn crc_tables() -> &'static [[u32; 256]; 16] {
    static TABLES: std::sync::OnceLock<Box<[[u32; 256]; 16]>> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = [[0u32; 256]; 16];
        for (b, slot) in (0u32..).zip(t[0].iter_mut()) {
            let mut c = b;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        for k in 1..16 {
            let (done, todo) = t.split_at_mut(k);
            if let (Some(first), Some(prev), Some(next)) =
                (done.first(), done.last(), todo.first_mut())
            {
                for (slot, &p) in next.iter_mut().zip(prev) {
                    *slot = first.get((p & 0xff) as usize).copied().unwrap_or(0) ^ (p >> 8);
                }
            }
        }
        Box::new(t)
    })
}

/// The header of a store written by this code.
pub fn header() -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let (head, check) = out.split_at_mut(12);
    let (magic, rest) = head.split_at_mut(8);
    magic.copy_from_slice(&MAGIC);
    let (version, flags) = rest.split_at_mut(2);
    version.copy_from_slice(&VERSION.to_le_bytes());
    flags.copy_from_slice(&0u16.to_le_bytes());
    check.copy_from_slice(&crc(head).to_le_bytes());
    out
}

/// Checks what is there of a header (`bytes` may be shorter than
/// [`HEADER_LEN`]): the magic as far as it goes, then the version, then
/// (once whole) the check and the flags.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), FormatError> {
    for (i, (&got, &want)) in bytes.iter().zip(MAGIC.iter()).enumerate() {
        if got != want {
            return Err(FormatError::at(i as u64, ErrorKind::NotAStore));
        }
    }
    if let Some(v) = array::<2>(bytes, 8) {
        let version = u16::from_le_bytes(v);
        if version > VERSION {
            return Err(FormatError::at(8, ErrorKind::NewerVersion { version }));
        }
        if version < OLDEST_VERSION {
            return Err(FormatError::at(8, ErrorKind::UnknownVersion { version }));
        }
    }
    if let (Some(head), Some(check)) = (bytes.get(..12), array::<4>(bytes, 12)) {
        if crc(head) != u32::from_le_bytes(check) {
            return Err(FormatError::at(12, ErrorKind::HeaderChecksum));
        }
        let flags = array::<2>(bytes, 10).map_or(0, u16::from_le_bytes);
        if flags != 0 {
            return Err(FormatError::at(10, ErrorKind::UnknownFlags { flags }));
        }
    }
    Ok(())
}

/// The `N` bytes at `at`, if there are that many.
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// Damage found in a store: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("damaged store at byte {offset}: {kind}")]
pub struct FormatError {
    /// The byte offset from the start of the store where the damage was
    /// found: inside the damaged header or record.
    pub offset: u64,
    /// What is wrong there.
    pub kind: ErrorKind,
}

impl FormatError {
    pub(crate) fn at(offset: u64, kind: ErrorKind) -> FormatError {
        FormatError { offset, kind }
    }
}

/// What is wrong with a store (see [`FormatError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The data does not start with the magic bytes.
    NotAStore,
    /// A newer format version than this code reads.
    NewerVersion {
        /// The version found.
        version: u16,
    },
    /// A version number that no writer ever used (0).
    UnknownVersion {
        /// The version found.
        version: u16,
    },
    /// The header's check failed.
    HeaderChecksum,
    /// Header flags this code does not know.
    UnknownFlags {
        /// The flags found.
        flags: u16,
    },
    /// A record length's check failed.
    LengthChecksum,
    /// A record payload's check failed.
    RecordChecksum,
    /// A record of length 0 (no kind byte).
    EmptyRecord,
    /// A record kind this code does not know.
    UnknownKind {
        /// The kind byte found.
        kind: u8,
    },
    /// A field runs past the end of its record.
    ShortRecord,
    /// Bytes left in a record after its last field.
    TrailingBytes,
    /// A varint that is overlong or overflows its type.
    BadVarint,
    /// A string that is not valid UTF-8.
    BadUtf8,
    /// A value no writer produces; names the field.
    Impossible {
        /// The field, e.g. `progress.current`.
        field: &'static str,
    },
    /// A change to an execution that is not held.
    UnknownExecution {
        /// Its creation sequence.
        seq: u64,
    },
    /// A `put` whose id another held execution has.
    DuplicateId {
        /// The creation sequence of the execution holding the id.
        seq: u64,
    },
    /// A record other than `put` inside an image.
    ChangeInsideImage,
    /// An image with fewer `put` records than it announced.
    IncompleteImage {
        /// How many were missing.
        missing: u64,
    },
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotAStore => f.write_str("not an execman store (unknown magic bytes)"),
            ErrorKind::NewerVersion { version } => write!(
                f,
                "format version {version} is newer than this reader's ({VERSION})"
            ),
            ErrorKind::UnknownVersion { version } => write!(f, "unknown format version {version}"),
            ErrorKind::HeaderChecksum => f.write_str("header checksum mismatch"),
            ErrorKind::UnknownFlags { flags } => write!(f, "unknown header flags {flags:#06x}"),
            ErrorKind::LengthChecksum => f.write_str("record length checksum mismatch"),
            ErrorKind::RecordChecksum => f.write_str("record checksum mismatch"),
            ErrorKind::EmptyRecord => f.write_str("empty record"),
            ErrorKind::UnknownKind { kind } => write!(f, "unknown record kind {kind}"),
            ErrorKind::ShortRecord => f.write_str("a field runs past the end of its record"),
            ErrorKind::TrailingBytes => f.write_str("bytes left after the record's last field"),
            ErrorKind::BadVarint => f.write_str("malformed varint"),
            ErrorKind::BadUtf8 => f.write_str("invalid UTF-8"),
            ErrorKind::Impossible { field } => write!(f, "impossible value of `{field}`"),
            ErrorKind::UnknownExecution { seq } => {
                write!(f, "change to execution #{seq}, which is not held")
            }
            ErrorKind::DuplicateId { seq } => {
                write!(f, "an execution with the id of execution #{seq}")
            }
            ErrorKind::ChangeInsideImage => f.write_str("a change inside an image"),
            ErrorKind::IncompleteImage { missing } => {
                write!(f, "an image missing {missing} of its executions")
            }
        }
    }
}

/// A change the encoder refuses; nothing of it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Its payload is longer than a record length (`u32`) can say.
    #[error("a change of {len} bytes is too large for one record")]
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// It holds a value no reader accepts; names the field.
    #[error("impossible value of `{field}`")]
    Impossible {
        /// The field, e.g. `progress.current`.
        field: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::crc;

    #[test]
    fn crc_is_crc32_ieee() {
        assert_eq!(crc(b""), 0);
        assert_eq!(crc(b"123456789"), 0xcbf4_3926);
        // every length around the 16-byte blocks, against the crc32fast crate
        let bytes: Vec<u8> = (0u32..300)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in 0..bytes.len() {
            for start in [0, 1, 7] {
                let part = bytes.get(start..len).unwrap_or_default();
                assert_eq!(crc(part), crc32fast::hash(part), "{start}..{len}");
            }
        }
    }
}
