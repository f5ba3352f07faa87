//! The payload encoding of each record kind (the layout is in
//! [`format`](mod@super::format)).
//!
//! Hand-written rather than `postcard` or another serde format: the types
//! here are few and flat, and writing them by hand keeps what matters to a
//! store in one readable place: every field's position is the code below,
//! each error carries the byte offset where it was found, unknown flag bits
//! and codes are refused rather than defaulted, and the same code counts an
//! encoding's length without writing it (for the compaction arithmetic). It
//! adds no dependency, so it builds wherever the core does (wasm32 included).

use std::collections::HashSet;
use std::rc::Rc;

use super::format::{array, kind, ErrorKind, FormatError};
use super::image::{
    Backoff, BackoffKind, Change, ExecutionImage, ExecutionState, ImageHead, ProgressImage,
    RetryPolicy, Settings,
};
use crate::core::Status;

// ------------------------------------------------------------------ writing

/// Where encoded bytes go: a buffer, or a counter of their length.
pub(crate) trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Counts the bytes an encoding takes, writing nothing.
#[derive(Default)]
pub(crate) struct Count(pub u64);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len() as u64;
    }
}

fn byte(out: &mut impl Sink, b: u8) {
    out.put(&[b]);
}

/// An unsigned LEB128 varint.
pub(crate) fn varint(out: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    for slot in buf.iter_mut() {
        n += 1;
        if v < 0x80 {
            *slot = v as u8;
            break;
        }
        *slot = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
    }
    out.put(buf.get(..n).unwrap_or(&buf));
}

/// A signed integer, zigzag-mapped (0, -1, 1, -2 → 0, 1, 2, 3), as a varint.
pub(crate) fn zigzag(out: &mut impl Sink, v: i64) {
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn double(out: &mut impl Sink, v: f64) {
    out.put(&v.to_le_bytes());
}

/// A length-prefixed UTF-8 string.
pub(crate) fn text(out: &mut impl Sink, s: &str) {
    varint(out, s.len() as u64);
    out.put(s.as_bytes());
}

fn flags(bits: &[bool]) -> u8 {
    bits.iter()
        .enumerate()
        .fold(0u8, |acc, (i, &on)| acc | (u8::from(on) << i))
}

/// A change's payload: its kind byte, then its fields.
pub(crate) fn write_change(out: &mut impl Sink, change: &Change) {
    match change {
        Change::Image(head) => write_image_head(out, head),
        Change::Settings(s) => {
            byte(out, kind::SETTINGS);
            write_settings(out, s);
        }
        Change::Put(image) => write_put(out, image),
        Change::Status { seq, state } => {
            byte(out, kind::STATUS);
            varint(out, *seq);
            write_state(out, state);
        }
        Change::Progress { seq, progress } => {
            byte(out, kind::PROGRESS);
            varint(out, *seq);
            write_progress(out, progress);
        }
        Change::Remove { seq } => {
            byte(out, kind::REMOVE);
            varint(out, *seq);
        }
    }
}

pub(crate) fn write_image_head(out: &mut impl Sink, head: &ImageHead) {
    byte(out, kind::IMAGE);
    varint(out, head.last_seq);
    varint(out, head.last_finish);
    match &head.settings {
        Some(s) => {
            byte(out, 1);
            write_settings(out, s);
        }
        None => byte(out, 0),
    }
    varint(out, head.count);
}

fn write_settings(out: &mut impl Sink, s: &Settings) {
    varint(out, s.concurrency);
    varint(out, s.max_finished);
    varint(out, s.max_bytes);
}

pub(crate) fn write_put(out: &mut impl Sink, e: &ExecutionImage) {
    byte(out, kind::PUT);
    varint(out, e.seq);
    text(out, &e.id);
    text(out, &e.target_id);
    text(out, &e.kind);
    byte(
        out,
        flags(&[e.tracked, e.retry.is_some(), e.timeout_ms.is_some()]),
    );
    text(out, &e.inputs);
    text(out, &e.config);
    double(out, e.created_at);
    zigzag(out, e.priority);
    varint(out, u64::from(e.max_attempts));
    if let Some(r) = &e.retry {
        varint(out, u64::from(r.attempts));
        let b = &r.backoff;
        byte(
            out,
            flags(&[b.kind == BackoffKind::Exponential, b.max_delay_ms.is_some()]),
        );
        double(out, b.delay_ms);
        if let Some(max) = b.max_delay_ms {
            double(out, max);
        }
        double(out, b.jitter);
    }
    if let Some(t) = e.timeout_ms {
        double(out, t);
    }
    write_state(out, &e.state);
}

pub(crate) fn write_state(out: &mut impl Sink, s: &ExecutionState) {
    byte(out, s.status.index() as u8);
    byte(
        out,
        flags(&[
            s.run_at.is_some(),
            s.progress.is_some(),
            s.result.is_some(),
            s.failure.is_some(),
            s.cancel_reason.is_some(),
            s.started_at.is_some(),
            s.finished_at.is_some(),
        ]),
    );
    varint(out, u64::from(s.attempt));
    if let Some(t) = s.run_at {
        double(out, t);
    }
    if let Some(p) = &s.progress {
        write_progress(out, p);
    }
    for t in [&s.result, &s.failure, &s.cancel_reason]
        .into_iter()
        .flatten()
    {
        text(out, t);
    }
    for t in [s.started_at, s.finished_at].into_iter().flatten() {
        double(out, t);
    }
    double(out, s.updated_at);
    varint(out, s.finish_order);
}

pub(crate) fn write_progress(out: &mut impl Sink, p: &ProgressImage) {
    double(out, p.current);
    byte(out, flags(&[p.total.is_some(), p.message.is_some()]));
    if let Some(t) = p.total {
        double(out, t);
    }
    if let Some(m) = &p.message {
        text(out, m);
    }
    double(out, p.updated_at);
}

/// The payload length of a change, without encoding it.
pub(crate) fn len_of(write: impl FnOnce(&mut Count)) -> u64 {
    let mut count = Count::default();
    write(&mut count);
    count.0
}

// ------------------------------------------------------------------ reading

/// Reads the fields of one payload, knowing where it sits in the store so
/// that every error names its byte offset.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: u64,
}

type Read<T> = Result<T, FormatError>;

impl<'a> Reader<'a> {
    /// A reader of `bytes`, which start at offset `base` of the store.
    pub(crate) fn new(bytes: &'a [u8], base: u64) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    fn offset_of(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    fn fail<T>(&self, pos: usize, kind: ErrorKind) -> Read<T> {
        Err(FormatError::at(self.offset_of(pos), kind))
    }

    /// Refuses bytes left after the last field.
    pub(crate) fn end(&self) -> Read<()> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            self.fail(self.pos, ErrorKind::TrailingBytes)
        }
    }

    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let at = self.pos;
        match at.checked_add(n).and_then(|end| self.bytes.get(at..end)) {
            Some(bytes) => {
                self.pos = at + n;
                Ok(bytes)
            }
            None => self.fail(at, ErrorKind::ShortRecord),
        }
    }

    fn byte(&mut self) -> Read<u8> {
        let at = self.pos;
        match self.bytes.get(at) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => self.fail(at, ErrorKind::ShortRecord),
        }
    }

    /// A flags byte whose bits above `known` must be clear.
    fn flags(&mut self, known: u32, field: &'static str) -> Read<u8> {
        let at = self.pos;
        let b = self.byte()?;
        if u32::from(b) >> known != 0 {
            return self.fail(at, ErrorKind::Impossible { field });
        }
        Ok(b)
    }

    pub(crate) fn varint(&mut self) -> Read<u64> {
        let at = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return self.fail(at, ErrorKind::BadVarint);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return self.fail(at, ErrorKind::BadVarint); // overlong
                }
                return Ok(v);
            }
        }
        self.fail(at, ErrorKind::BadVarint)
    }

    pub(crate) fn zigzag(&mut self) -> Read<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn u32(&mut self, field: &'static str) -> Read<u32> {
        let at = self.pos;
        let v = self.varint()?;
        match u32::try_from(v) {
            Ok(v) => Ok(v),
            Err(_) => self.fail(at, ErrorKind::Impossible { field }),
        }
    }

    /// A double; NaN is refused (no writer stores one).
    fn double(&mut self, field: &'static str) -> Read<f64> {
        let at = self.pos;
        let bytes = self.take(8)?;
        let v = array::<8>(bytes, 0).map_or(f64::NAN, f64::from_le_bytes);
        if v.is_nan() {
            return self.fail(at, ErrorKind::Impossible { field });
        }
        Ok(v)
    }

    pub(crate) fn text(&mut self) -> Read<&'a str> {
        let at = self.pos;
        let len = self.varint()?;
        let Ok(len) = usize::try_from(len) else {
            return self.fail(at, ErrorKind::ShortRecord);
        };
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .or_else(|e| self.fail(start + e.valid_up_to(), ErrorKind::BadUtf8))
    }

    fn boxed(&mut self) -> Read<Box<str>> {
        Ok(self.text()?.into())
    }
}

/// Shares the `Rc<str>` of repeated targets and types while a store is read
/// (thousands of executions usually have a handful of each, and runs of
/// executions the same one: the last name found is tried before the set).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    names: HashSet<Rc<str>>,
    last: [Option<Rc<str>>; 2],
}

impl Interner {
    /// The shared `Rc` of a name; `slot` 0 for targets, 1 for types.
    fn get(&mut self, slot: usize, s: &str) -> Rc<str> {
        let Some(last) = self.last.get_mut(slot) else {
            return Rc::from(s);
        };
        if let Some(rc) = last.as_ref().filter(|rc| &***rc == s) {
            return rc.clone();
        }
        let rc = match self.names.get(s) {
            Some(rc) => rc.clone(),
            None => {
                let rc: Rc<str> = Rc::from(s);
                self.names.insert(rc.clone());
                rc
            }
        };
        *last = Some(rc.clone());
        rc
    }
}

/// Reads one payload: a kind byte and that kind's fields.
pub(crate) fn read_change(r: &mut Reader<'_>, names: &mut Interner) -> Read<Change> {
    let at = r.pos;
    match r.byte()? {
        kind::IMAGE => {
            let last_seq = r.varint()?;
            let last_finish = r.varint()?;
            let settings = match r.flags(1, "image.settings")? {
                0 => None,
                _ => Some(read_settings(r)?),
            };
            let count = r.varint()?;
            Ok(Change::Image(ImageHead {
                last_seq,
                last_finish,
                settings,
                count,
            }))
        }
        kind::SETTINGS => Ok(Change::Settings(read_settings(r)?)),
        kind::PUT => Ok(Change::Put(Box::new(read_put(r, names)?))),
        kind::STATUS => {
            let seq = r.varint()?;
            let state = Box::new(read_state(r)?);
            Ok(Change::Status { seq, state })
        }
        kind::PROGRESS => {
            let seq = r.varint()?;
            let progress = read_progress(r)?;
            Ok(Change::Progress { seq, progress })
        }
        kind::REMOVE => Ok(Change::Remove { seq: r.varint()? }),
        other => r.fail(at, ErrorKind::UnknownKind { kind: other }),
    }
}

fn read_settings(r: &mut Reader<'_>) -> Read<Settings> {
    Ok(Settings {
        concurrency: r.varint()?,
        max_finished: r.varint()?,
        max_bytes: r.varint()?,
    })
}

fn read_put(r: &mut Reader<'_>, names: &mut Interner) -> Read<ExecutionImage> {
    let seq = r.varint()?;
    let id: Rc<str> = Rc::from(r.text()?);
    let target_id = names.get(0, r.text()?);
    let kind = names.get(1, r.text()?);
    let f = r.flags(3, "put.flags")?;
    let inputs = r.boxed()?;
    let config = r.boxed()?;
    let created_at = r.double("createdAt")?;
    let priority = r.zigzag()?;
    let max_attempts = r.u32("maxAttempts")?;
    let retry = if f & 2 != 0 {
        let attempts = r.u32("retry.attempts")?;
        let b = r.flags(2, "retry.backoff")?;
        let delay_ms = r.double("retry.backoff.delayMs")?;
        let max_delay_ms = if b & 2 != 0 {
            Some(r.double("retry.backoff.maxDelayMs")?)
        } else {
            None
        };
        let jitter = r.double("retry.backoff.jitter")?;
        Some(RetryPolicy {
            attempts,
            backoff: Backoff {
                kind: if b & 1 != 0 {
                    BackoffKind::Exponential
                } else {
                    BackoffKind::Fixed
                },
                delay_ms,
                max_delay_ms,
                jitter,
            },
        })
    } else {
        None
    };
    let timeout_ms = if f & 4 != 0 {
        Some(r.double("timeoutMs")?)
    } else {
        None
    };
    let state = read_state(r)?;
    Ok(ExecutionImage {
        seq,
        id,
        target_id,
        kind,
        tracked: f & 1 != 0,
        inputs,
        config,
        created_at,
        priority,
        max_attempts,
        retry,
        timeout_ms,
        state,
    })
}

fn read_state(r: &mut Reader<'_>) -> Read<ExecutionState> {
    let at = r.pos;
    let code = r.byte()?;
    let Some(&status) = Status::ALL.get(usize::from(code)) else {
        return r.fail(at, ErrorKind::Impossible { field: "status" });
    };
    let f = r.flags(7, "state.flags")?;
    let on = |bit: u8| f & (1 << bit) != 0;
    let attempt = r.u32("attempt")?;
    let run_at = if on(0) {
        Some(r.double("runAt")?)
    } else {
        None
    };
    let progress = if on(1) { Some(read_progress(r)?) } else { None };
    let result = if on(2) { Some(r.boxed()?) } else { None };
    let failure = if on(3) { Some(r.boxed()?) } else { None };
    let cancel_reason = if on(4) { Some(r.boxed()?) } else { None };
    let started_at = if on(5) {
        Some(r.double("startedAt")?)
    } else {
        None
    };
    let finished_at = if on(6) {
        Some(r.double("finishedAt")?)
    } else {
        None
    };
    let updated_at = r.double("updatedAt")?;
    let finish_order = r.varint()?;
    Ok(ExecutionState {
        status,
        attempt,
        run_at,
        progress,
        result,
        failure,
        cancel_reason,
        started_at,
        finished_at,
        updated_at,
        finish_order,
    })
}

fn read_progress(r: &mut Reader<'_>) -> Read<ProgressImage> {
    let current = r.double("progress.current")?;
    let f = r.flags(2, "progress.flags")?;
    let total = if f & 1 != 0 {
        Some(r.double("progress.total")?)
    } else {
        None
    };
    let message = if f & 2 != 0 { Some(r.boxed()?) } else { None };
    let updated_at = r.double("progress.updatedAt")?;
    Ok(ProgressImage {
        current,
        total,
        message,
        updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut out);
        out
    }

    #[test]
    fn varints_round_trip_at_their_edges() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            (1 << 53) - 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let bytes = enc(|o| varint(o, v));
            assert_eq!(len_of(|c| varint(c, v)), bytes.len() as u64);
            let mut r = Reader::new(&bytes, 0);
            assert_eq!(r.varint().unwrap(), v);
            r.end().unwrap();
        }
        assert_eq!(enc(|o| varint(o, 0)), [0]);
        assert_eq!(enc(|o| varint(o, 300)), [0xac, 0x02]);
        assert_eq!(enc(|o| varint(o, u64::MAX)).len(), 10);
    }

    #[test]
    fn overlong_overflowing_and_short_varints_are_refused() {
        for (bytes, kind) in [
            (&[0x80, 0x00][..], ErrorKind::BadVarint),
            (&[0xff, 0x80, 0x00][..], ErrorKind::BadVarint),
            (
                &[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()[..],
                ErrorKind::BadVarint,
            ),
            (&[0xff; 11][..], ErrorKind::BadVarint),
            (&[0x80][..], ErrorKind::ShortRecord),
            (&[][..], ErrorKind::ShortRecord),
        ] {
            let mut r = Reader::new(bytes, 100);
            let e = r.varint().unwrap_err();
            assert_eq!(e.kind, kind, "{bytes:?}");
            assert!(e.offset >= 100, "{e}");
        }
    }

    #[test]
    fn zigzag_round_trips_at_its_edges() {
        for v in [
            0,
            -1,
            1,
            -2,
            i64::MIN,
            i64::MAX,
            (1 << 53) - 1,
            -(1 << 53) + 1,
        ] {
            let bytes = enc(|o| zigzag(o, v));
            let mut r = Reader::new(&bytes, 0);
            assert_eq!(r.zigzag().unwrap(), v);
            r.end().unwrap();
        }
        assert_eq!(enc(|o| zigzag(o, -1)), [1]);
        assert_eq!(enc(|o| zigzag(o, 1)), [2]);
    }

    #[test]
    fn strings_round_trip_and_bad_utf8_is_refused_where_it_is() {
        for s in [
            "",
            "a",
            "é",
            "日本語",
            "🦀 emoji",
            "\u{0}",
            "\u{FFFF}\u{10FFFF}",
        ] {
            let bytes = enc(|o| text(o, s));
            let mut r = Reader::new(&bytes, 0);
            assert_eq!(r.text().unwrap(), s);
            r.end().unwrap();
        }
        // A lone surrogate (U+D800 as CESU-8 bytes), an overlong '/', a
        // truncated sequence, a stray continuation byte.
        for (body, bad_at) in [
            (&b"ab\xed\xa0\x80"[..], 2),
            (&b"\xc0\xaf"[..], 0),
            (&b"xyz\xe6\x97"[..], 3),
            (&b"\x80"[..], 0),
        ] {
            let mut bytes = enc(|o| varint(o, body.len() as u64));
            let head = bytes.len() as u64;
            bytes.extend_from_slice(body);
            let e = Reader::new(&bytes, 1000).text().unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadUtf8);
            assert_eq!(e.offset, 1000 + head + bad_at, "{body:?}");
        }
        // A length past the end.
        let e = Reader::new(&[5, b'a'], 0).text().unwrap_err();
        assert_eq!(e.kind, ErrorKind::ShortRecord);
    }

    #[test]
    fn doubles_keep_every_bit_and_nan_is_refused() {
        for v in [
            0.0,
            -0.0,
            1.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            1.7e12,
            f64::INFINITY,
        ] {
            let bytes = enc(|o| double(o, v));
            let got = Reader::new(&bytes, 0).double("x").unwrap();
            assert_eq!(got.to_bits(), v.to_bits());
        }
        let bytes = enc(|o| double(o, f64::NAN));
        let e = Reader::new(&bytes, 7).double("x").unwrap_err();
        assert_eq!(e, FormatError::at(7, ErrorKind::Impossible { field: "x" }));
    }

    #[test]
    fn unknown_flag_bits_and_trailing_bytes_are_refused() {
        let e = Reader::new(&[0b100], 3).flags(2, "f").unwrap_err();
        assert_eq!(e, FormatError::at(3, ErrorKind::Impossible { field: "f" }));
        assert_eq!(Reader::new(&[0b11], 3).flags(2, "f").unwrap(), 3);
        let mut r = Reader::new(&[1, 2], 10);
        r.byte().unwrap();
        assert_eq!(
            r.end().unwrap_err(),
            FormatError::at(11, ErrorKind::TrailingBytes)
        );
    }

    #[test]
    fn interned_names_share_one_allocation() {
        let mut names = Interner::default();
        let a = names.get(0, "render");
        let b = names.get(0, "render");
        assert!(Rc::ptr_eq(&a, &b));
        let other = names.get(0, "other");
        assert!(!Rc::ptr_eq(&a, &other));
        assert!(Rc::ptr_eq(&a, &names.get(0, "render")));
        assert!(Rc::ptr_eq(&a, &names.get(1, "render")));
        assert!(Rc::ptr_eq(&other, &names.get(0, "other")));
    }
}
