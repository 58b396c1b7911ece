//! The bytes of a spool segment: a fixed header, then framed records.
//!
//! ```text
//! header (HEADER_LEN bytes)
//!   0  magic "IDLSPOOL"          8  format version (u32)     12 precision (u32)
//!   16 created, unix ns (i64)    24 segment number (u64)     32 acknowledged offset (u64)
//!   40 pid (u32)                 44 target length (u16)      46 reserved (u16)
//!   48 target (UTF-8, no secrets)                            HEADER_LEN-4 header checksum
//! record
//!   0  payload length (u32)      4  checksum (u32, CRC-32C of bytes 8..)
//!   8  format version (u8)       9  kind (u8)                10 reserved (u16)
//!   12 payload
//! ```
//! All numbers little-endian. The acknowledged offset is the only field rewritten in place (an
//! aligned 8-byte store, so a killed process cannot tear it), which is why the header checksum
//! leaves it out. A segment is preallocated with zeros, so a zero length where a record would
//! start marks the end of what was written.

use super::crc;
use crate::entry::Event;
use crate::value::{Precision, Timestamp};

pub(crate) const MAGIC: &[u8; 8] = b"IDLSPOOL";
pub(crate) const FORMAT_VERSION: u8 = 1;
pub(crate) const HEADER_LEN: usize = 4096;
pub(crate) const ACKED_AT: usize = 32;
pub(crate) const RECORD_HEADER_LEN: usize = 12;
const MAX_TARGET_LEN: usize = 1024;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One line of line protocol, with its newline.
    Point = 1,
    /// An event; see [`encode_event`].
    Event = 2,
}

/// The fixed part of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) precision: Precision,
    pub(crate) created_ns: i64,
    pub(crate) number: u64,
    pub(crate) acked: u64,
    pub(crate) pid: u32,
    pub(crate) target: String,
}

fn precision_code(p: Precision) -> u32 {
    match p {
        Precision::Nanoseconds => 0,
        Precision::Microseconds => 1,
        Precision::Milliseconds => 2,
        Precision::Seconds => 3,
    }
}

fn precision_from(code: u32) -> Option<Precision> {
    Some(match code {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        3 => Precision::Seconds,
        _ => return None,
    })
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

impl Header {
    /// The header's bytes; the target is cut at [`MAX_TARGET_LEN`] bytes (on a char boundary).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_LEN];
        let mut cut = self.target.len().min(MAX_TARGET_LEN);
        while !self.target.is_char_boundary(cut) {
            cut -= 1;
        }
        let target = &self.target.as_bytes()[..cut];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&u32::from(FORMAT_VERSION).to_le_bytes());
        out[12..16].copy_from_slice(&precision_code(self.precision).to_le_bytes());
        out[16..24].copy_from_slice(&self.created_ns.to_le_bytes());
        out[24..32].copy_from_slice(&self.number.to_le_bytes());
        out[32..40].copy_from_slice(&self.acked.to_le_bytes());
        out[40..44].copy_from_slice(&self.pid.to_le_bytes());
        out[44..46].copy_from_slice(&(target.len() as u16).to_le_bytes());
        out[48..48 + target.len()].copy_from_slice(target);
        let sum = header_checksum(&out);
        out[HEADER_LEN - 4..].copy_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a header, or says what is wrong with it.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Header, String> {
        if bytes.len() < HEADER_LEN {
            return Err(format!(
                "the header is cut short ({} of {HEADER_LEN} bytes)",
                bytes.len()
            ));
        }
        if &bytes[..8] != MAGIC {
            return Err("not a spool segment (wrong magic bytes)".into());
        }
        let version = u32_at(bytes, 8);
        if version != u32::from(FORMAT_VERSION) {
            return Err(format!(
                "segment format version {version}; this build reads version {FORMAT_VERSION}"
            ));
        }
        if u32_at(bytes, HEADER_LEN - 4) != header_checksum(bytes) {
            return Err("the header checksum does not match".into());
        }
        Self::fields(bytes)
    }

    /// Reads a header whose checksum does not match, for the records behind it, each of which
    /// has a checksum of its own. `Err` when the header cannot be read at all (not a segment,
    /// cut short), or when it is intact and of another format version. With `Ok`, the reason
    /// the header is damaged, if it is.
    pub(crate) fn decode_salvaging(bytes: &[u8]) -> Result<(Header, Option<String>), String> {
        match Self::decode(bytes) {
            Ok(header) => Ok((header, None)),
            Err(reason)
                if bytes.len() >= HEADER_LEN
                    && &bytes[..8] == MAGIC
                    && u32_at(bytes, HEADER_LEN - 4) != header_checksum(bytes) =>
            {
                let header = Self::fields(bytes)?;
                Ok((
                    header,
                    Some(format!("{reason}; its records were read one by one")),
                ))
            }
            Err(reason) => Err(reason),
        }
    }

    fn fields(bytes: &[u8]) -> Result<Header, String> {
        let target_len = usize::from(u16::from_le_bytes([bytes[44], bytes[45]]));
        let precision = precision_from(u32_at(bytes, 12))
            .ok_or_else(|| format!("unknown precision code {}", u32_at(bytes, 12)))?;
        Ok(Header {
            precision,
            created_ns: u64_at(bytes, 16) as i64,
            number: u64_at(bytes, 24),
            acked: u64_at(bytes, ACKED_AT),
            pid: u32_at(bytes, 40),
            target: String::from_utf8_lossy(&bytes[48..48 + target_len.min(MAX_TARGET_LEN)])
                .into_owned(),
        })
    }
}

/// CRC-32C of the header without the acknowledged offset (rewritten in place) and the checksum.
fn header_checksum(bytes: &[u8]) -> u32 {
    let sum = crc::crc32c(&bytes[..ACKED_AT]);
    crc::append(sum, &bytes[ACKED_AT + 8..HEADER_LEN - 4])
}

/// Appends a record holding `parts` concatenated; returns its length.
pub(crate) fn frame_into(out: &mut [u8], kind: Kind, parts: &[&[u8]]) -> usize {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out[8] = FORMAT_VERSION;
    out[9] = kind as u8;
    out[10] = 0;
    out[11] = 0;
    let mut at = RECORD_HEADER_LEN;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    // One pass over the record, once it is contiguous: each call has a fixed cost.
    let sum = crc::crc32c(&out[8..at]);
    out[..4].copy_from_slice(&(len as u32).to_le_bytes());
    out[4..8].copy_from_slice(&sum.to_le_bytes());
    at
}

/// A record read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) kind: Kind,
    pub(crate) payload: &'a [u8],
    /// Where the record starts in the segment.
    pub(crate) offset: usize,
}

/// What [`scan`] finds at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    Record(Record<'a>),
    /// Nothing more was written.
    End,
    /// Bytes `offset .. offset + len` are not intact records.
    Damage {
        offset: usize,
        len: usize,
        reason: String,
    },
}

/// The record starting at `offset` of `segment`, if one is intact there.
fn record_at(segment: &[u8], offset: usize) -> Result<Record<'_>, String> {
    let Some(head) = segment.get(offset..offset + RECORD_HEADER_LEN) else {
        return Err("a record header is cut short".into());
    };
    let len = u32_at(head, 0) as usize;
    if head[8] != FORMAT_VERSION {
        return Err(format!("unknown record format version {}", head[8]));
    }
    let kind = match head[9] {
        1 => Kind::Point,
        2 => Kind::Event,
        other => return Err(format!("unknown record kind {other}")),
    };
    let Some(payload) = segment.get(offset + RECORD_HEADER_LEN..offset + RECORD_HEADER_LEN + len)
    else {
        return Err(format!("a record of {len} bytes is cut short"));
    };
    let sum = crc::append(crc::crc32c(&head[8..]), payload);
    if sum != u32_at(head, 4) {
        return Err("a record checksum does not match".into());
    }
    Ok(Record {
        kind,
        payload,
        offset,
    })
}

/// Reads the records of a segment from an offset on: intact records, and the ranges that are
/// not.
pub(crate) struct Scan<'a> {
    segment: &'a [u8],
    offset: usize,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(segment: &'a [u8], offset: usize) -> Self {
        Scan { segment, offset }
    }

    /// Where the next record would start.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The next record, damaged range, or the end.
    pub(crate) fn next_found(&mut self) -> Found<'a> {
        // Nothing but the preallocated zeros left: the end.
        if self.segment[self.offset.min(self.segment.len())..]
            .iter()
            .all(|&b| b == 0)
        {
            return Found::End;
        }
        match record_at(self.segment, self.offset) {
            Ok(record) => {
                self.offset += RECORD_HEADER_LEN + record.payload.len();
                Found::Record(record)
            }
            Err(reason) => {
                // Resynchronise at the next intact record; what lies between is damaged.
                let start = self.offset;
                let next = (start + 1..self.segment.len())
                    .find(|&at| record_at(self.segment, at).is_ok())
                    .unwrap_or_else(|| end_of_data(self.segment, start));
                self.offset = next;
                Found::Damage {
                    offset: start,
                    len: next - start,
                    reason,
                }
            }
        }
    }
}

/// Where the non-zero bytes from `start` on end (the preallocated zeros after are not damage).
fn end_of_data(segment: &[u8], start: usize) -> usize {
    segment[start..]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(segment.len(), |last| start + last + 1)
        .max(start + 1)
        .min(segment.len())
}

/// An event as a record payload: start and stop (i64 ns), the measurement, then each tag key
/// and value, every string preceded by its length (u32).
pub(crate) fn encode_event(event: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&event.start.as_nanos().to_le_bytes());
    out.extend_from_slice(&event.stop.as_nanos().to_le_bytes());
    let mut string = |s: &str| {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    string(&event.measurement);
    for (key, value) in &event.tags {
        string(key);
        string(value);
    }
    out
}

/// Reads back what [`encode_event`] wrote.
pub(crate) fn decode_event(mut bytes: &[u8]) -> Result<Event, String> {
    let bad = || "an event record is malformed".to_string();
    let mut take = |n: usize| -> Result<&[u8], String> {
        let (head, rest) = bytes.split_at_checked(n).ok_or_else(bad)?;
        bytes = rest;
        Ok(head)
    };
    let start = i64::from_le_bytes(take(8)?.try_into().map_err(|_| bad())?);
    let stop = i64::from_le_bytes(take(8)?.try_into().map_err(|_| bad())?);
    let mut strings = Vec::new();
    while let Ok(len) = take(4) {
        let len = u32::from_le_bytes(len.try_into().map_err(|_| bad())?) as usize;
        let text = std::str::from_utf8(take(len)?).map_err(|_| bad())?;
        strings.push(text.to_string());
    }
    if strings.len() % 2 != 1 {
        return Err(bad());
    }
    let mut strings = strings.into_iter();
    let measurement = strings.next().ok_or_else(bad)?;
    let mut tags = Vec::new();
    while let (Some(k), Some(v)) = (strings.next(), strings.next()) {
        tags.push((k, v));
    }
    Ok(Event {
        measurement,
        start: Timestamp::from_nanos(start),
        stop: Timestamp::from_nanos(stop),
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(kind: Kind, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; RECORD_HEADER_LEN + payload.len()];
        assert_eq!(frame_into(&mut out, kind, &[payload]), out.len());
        out
    }

    #[test]
    fn the_header_reads_back_and_its_checksum_ignores_the_acknowledged_offset() {
        let header = Header {
            precision: Precision::Milliseconds,
            created_ns: -5,
            number: 7,
            acked: 4096,
            pid: 42,
            target: "InfluxDBWriter(v1 http://127.0.0.1:8086 db=x)".into(),
        };
        let mut bytes = header.encode();
        assert_eq!(Header::decode(&bytes).unwrap(), header);
        bytes[ACKED_AT..ACKED_AT + 8].copy_from_slice(&9999u64.to_le_bytes());
        assert_eq!(Header::decode(&bytes).unwrap().acked, 9999);
        bytes[50] ^= 1;
        assert!(Header::decode(&bytes).unwrap_err().contains("checksum"));
        assert!(Header::decode(&bytes[..100])
            .unwrap_err()
            .contains("cut short"));
    }

    #[test]
    fn records_scan_back_and_zeros_end_the_segment() {
        let mut segment = framed(Kind::Point, b"m f=1 1\n");
        segment.extend(framed(Kind::Point, b"m f=2 2\n"));
        segment.extend(vec![0u8; 100]);
        let mut scan = Scan::new(&segment, 0);
        let mut payloads = Vec::new();
        while let Found::Record(r) = scan.next_found() {
            payloads.push(r.payload.to_vec());
        }
        assert_eq!(payloads, [b"m f=1 1\n".to_vec(), b"m f=2 2\n".to_vec()]);
        assert_eq!(scan.next_found(), Found::End);
    }

    #[test]
    fn a_flipped_byte_is_damage_and_the_records_after_it_are_still_found() {
        let first = framed(Kind::Point, b"m f=1 1\n");
        let mut segment = first.clone();
        segment.extend(framed(Kind::Point, b"m f=2 2\n"));
        segment.extend(framed(Kind::Point, b"m f=3 3\n"));
        segment[first.len() + 14] ^= 0x40;
        let mut scan = Scan::new(&segment, 0);
        let mut found = Vec::new();
        loop {
            match scan.next_found() {
                Found::End => break,
                other => found.push(other),
            }
        }
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(matches!(&found[1], Found::Damage { offset, len, reason }
            if *offset == first.len() && *len == first.len() && reason.contains("checksum")));
        assert!(matches!(&found[2], Found::Record(r) if r.payload == b"m f=3 3\n"));
    }

    #[test]
    fn a_truncated_tail_is_damage() {
        let mut segment = framed(Kind::Point, b"m f=1 1\n");
        let whole = segment.len();
        segment.extend(framed(Kind::Point, b"m f=2 2\n"));
        segment.truncate(whole + 15);
        let mut scan = Scan::new(&segment, 0);
        assert!(matches!(scan.next_found(), Found::Record(_)));
        assert!(
            matches!(scan.next_found(), Found::Damage { offset, len: 15, .. } if offset == whole)
        );
        assert_eq!(scan.next_found(), Found::End);
    }

    #[test]
    fn events_read_back() {
        let event = Event {
            measurement: "deploy".into(),
            start: Timestamp::from_nanos(-3),
            stop: Timestamp::from_nanos(9),
            tags: vec![("k".into(), "v w".into()), ("é".into(), String::new())],
        };
        assert_eq!(decode_event(&encode_event(&event)).unwrap(), event);
        assert!(decode_event(&encode_event(&event)[..20]).is_err());
    }
}
