//! InfluxDB line protocol: encoding (with every escaping rule) and parsing.
//!
//! The encoder only writes what reads back identically under both parsers in use today: the
//! InfluxDB 1.x/2.x parser, which unescapes only `\,`, `\ ` and `\=` in names and tag values,
//! and the InfluxDB 3 (IOx) parser, which also unescapes `\\`. Text that one of them would read
//! differently, or not at all, is refused with an error that names it:
//!
//! | where | escaped | refused |
//! |---|---|---|
//! | measurement | `,` and space | empty; a leading `#` (read as a comment); newline, carriage return, tab, NUL; a backslash before `\`, `,`, space, or at the end |
//! | tag key, tag value, field key | `,`, `=` and space | the same, with `=` among the characters a backslash may not precede; keys named `time` |
//! | string field value | `"` and `\` | more than 64 KiB |
//! | float field value | — | NaN and ±infinity |
//!
//! Floats use the shortest representation that reads back exactly (`1e300`, not 301 digits),
//! integers carry `i`, unsigned integers `u` (the whole `u64` range), and timestamps may be
//! negative (before 1970).

mod append;
mod parse;

pub(crate) use append::{append_float, append_integer, append_short};

pub use parse::{measurement_of, parse_line, parse_line_into, LineError, Lines, ParsedLine};

use std::fmt;

use crate::error::{Error, ErrorKind, Result};
use crate::value::{FieldValue, Precision, Timestamp};

/// The longest string field value InfluxDB accepts.
pub const MAX_STRING_FIELD_BYTES: usize = 64 * 1024;

/// Which part of a line a piece of text is; it decides the escapes that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
}

impl Part {
    fn needs_escape(self, b: u8) -> bool {
        match self {
            Part::Measurement => b == b',' || b == b' ',
            _ => b == b',' || b == b'=' || b == b' ',
        }
    }

    /// How the part is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Part::Measurement => "measurement name",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
        }
    }
}

/// Why a piece of text or a value cannot be written as line protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The text is empty.
    Empty,
    /// The text holds a control character that no parser reads back inside a name.
    ControlChar(char),
    /// A backslash precedes a character that the two parser families unescape differently.
    BackslashBefore(char),
    /// The text ends with a backslash, which would escape the delimiter after it.
    TrailingBackslash,
    /// A measurement name that starts with `#` reads back as a comment.
    CommentStart,
    /// `time` is reserved by InfluxDB as a tag or field key.
    ReservedKey,
    /// A float that is NaN or infinite.
    NotFinite,
    /// A string field value over [`MAX_STRING_FIELD_BYTES`].
    StringTooLong(usize),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Empty => f.write_str("is empty"),
            Problem::ControlChar(c) => write!(f, "contains {c:?}, which line protocol cannot carry"),
            Problem::BackslashBefore(c) => write!(
                f,
                "has a backslash before {c:?}, which InfluxDB 1.x/2.x and 3.x read back differently"
            ),
            Problem::TrailingBackslash => {
                f.write_str("ends with a backslash, which line protocol cannot carry")
            }
            Problem::CommentStart => {
                f.write_str("starts with '#', which line protocol reads as a comment")
            }
            Problem::ReservedKey => f.write_str("is 'time', which InfluxDB reserves"),
            Problem::NotFinite => f.write_str("is not a finite number; line protocol has no NaN or infinity"),
            Problem::StringTooLong(len) => write!(
                f,
                "is {len} bytes long; InfluxDB accepts string fields of at most {MAX_STRING_FIELD_BYTES} bytes"
            ),
        }
    }
}

// Byte classes, so that the common case (nothing to escape) is one table look-up per byte.
const PLAIN: u8 = 0;
const SPECIAL: u8 = 1;
static CLASS: [u8; 256] = {
    let mut table = [PLAIN; 256];
    let special = [b',', b'=', b' ', b'\\', b'\n', b'\r', b'\t', 0u8];
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = SPECIAL;
        i += 1;
    }
    table
};

/// Whether `bytes` holds nothing that needs escaping or checking in any name or tag value:
/// no byte below `!` (space and every control character), `,`, `=` or `\`. Such text is
/// copied as it is. (Control characters other than newline, CR, tab and NUL are legal but
/// rare; they just take the general path.)
#[inline]
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    let n = bytes.len();
    if n < 8 {
        return bytes
            .iter()
            .all(|&b| b > b' ' && b != b',' && b != b'=' && b != b'\\');
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    // Sixteen bytes at a time, then the last sixteen (overlapping what was checked) for the
    // tail; 8 to 15 bytes are two overlapping words.
    let mut at = 0;
    while at + 16 <= n {
        if !sixteen_are_plain(word(at), word(at + 8)) {
            return false;
        }
        at += 16;
    }
    at == n
        || if n >= 16 {
            sixteen_are_plain(word(n - 16), word(n - 8))
        } else {
            sixteen_are_plain(word(0), word(n - 8))
        }
}

/// [`is_plain`] for sixteen bytes (two little-endian words) in one SSE2 register: four byte
/// compares and one mask, no branch (the compiler does not vectorise the portable version).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
#[allow(unsafe_code)]
fn sixteen_are_plain(low: u64, high: u64) -> bool {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };
    // SAFETY: these intrinsics only require SSE2, which the `cfg` above guarantees is enabled
    // for the whole build (it is part of the x86_64 baseline); they take no pointers.
    unsafe {
        let v = _mm_set_epi64x(high as i64, low as i64);
        // A byte is at most a space exactly when the unsigned minimum of it and a space is it.
        let control_or_space = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(b' ' as i8)), v);
        let comma = _mm_cmpeq_epi8(v, _mm_set1_epi8(b',' as i8));
        let equals = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'=' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let special = _mm_or_si128(
            _mm_or_si128(control_or_space, comma),
            _mm_or_si128(equals, backslash),
        );
        _mm_movemask_epi8(special) == 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use sixteen_are_plain_portable as sixteen_are_plain;

/// [`is_plain`] for sixteen bytes (two little-endian words), eight at a time in a `u64`:
/// "some byte is zero" and "some byte is below n" are exact tests.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
#[inline(always)]
fn sixteen_are_plain_portable(low: u64, high: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let special = |w: u64| {
        let zero_at = |v: u64| v.wrapping_sub(LO) & !v;
        (w.wrapping_sub(LO * 0x21) & !w)
            | zero_at(w ^ (LO * b',' as u64))
            | zero_at(w ^ (LO * b'=' as u64))
            | zero_at(w ^ (LO * b'\\' as u64))
    };
    (special(low) | special(high)) & HI == 0
}

/// Checks that `text` reads back unchanged as `part` under both parser families.
///
/// # Errors
/// The [`Problem`] that keeps `text` out of that part of a line.
pub fn check(text: &str, part: Part) -> Result<(), Problem> {
    check_whole(text, part)?;
    // Plain text (the usual case) has no byte that escaping would look at: no copy needed.
    if is_plain(text.as_bytes()) {
        return Ok(());
    }
    write_escaped(&mut Vec::new(), text, part)
}

/// The checks on `text` as a whole, before its bytes are looked at.
fn check_whole(text: &str, part: Part) -> Result<(), Problem> {
    if text.is_empty() {
        return Err(Problem::Empty);
    }
    if part == Part::Measurement && text.starts_with('#') {
        return Err(Problem::CommentStart);
    }
    if matches!(part, Part::TagKey | Part::FieldKey) && text == "time" {
        return Err(Problem::ReservedKey);
    }
    Ok(())
}

/// Appends `text`, escaped for `part`, after checking that it reads back unchanged.
/// On error nothing is appended.
///
/// # Errors
/// The [`Problem`] that keeps `text` out of that part of a line; `out` is left as it was.
pub fn write_escaped(out: &mut Vec<u8>, text: &str, part: Part) -> Result<(), Problem> {
    check_whole(text, part)?;
    let bytes = text.as_bytes();
    let Some(first_special) = bytes.iter().position(|&b| CLASS[b as usize] == SPECIAL) else {
        out.extend_from_slice(bytes);
        return Ok(());
    };
    let start = out.len();
    out.extend_from_slice(&bytes[..first_special]);
    let mut i = first_special;
    while i < bytes.len() {
        let b = bytes[i];
        if CLASS[b as usize] == SPECIAL {
            let problem = match b {
                b'\n' | b'\r' | b'\t' | 0 => Some(Problem::ControlChar(b as char)),
                b'\\' => match bytes.get(i + 1) {
                    None => Some(Problem::TrailingBackslash),
                    Some(&next) if next == b'\\' || part.needs_escape(next) => {
                        Some(Problem::BackslashBefore(next as char))
                    }
                    Some(_) => None,
                },
                _ => {
                    if part.needs_escape(b) {
                        out.push(b'\\');
                    }
                    None
                }
            };
            if let Some(problem) = problem {
                out.truncate(start);
                return Err(problem);
            }
        }
        out.push(b);
        i += 1;
    }
    Ok(())
}

/// Appends a field value in line protocol form. On error nothing is appended.
///
/// # Errors
/// [`Problem::NotFinite`] for NaN and infinity, [`Problem::StringTooLong`] for a string over
/// 64 KiB.
pub fn write_field_value(out: &mut Vec<u8>, value: &FieldValue) -> Result<(), Problem> {
    if append_scalar(out, value) {
        return Ok(());
    }
    match value {
        FieldValue::Str(s) => write_string_field(out, s),
        _ => Err(Problem::NotFinite),
    }
}

/// Appends a number or a boolean in line protocol form and returns `true`; returns `false`,
/// appending nothing, for a string (it needs escaping) and for NaN and infinity (refused).
/// The encoder's fast paths write field values with this alone.
#[inline(always)]
pub(crate) fn append_scalar(out: &mut Vec<u8>, value: &FieldValue) -> bool {
    match *value {
        FieldValue::Float(v) if v.is_finite() => append_float(out, v),
        FieldValue::Int(v) => {
            append_short(out, itoa::Buffer::new().format(v).as_bytes());
            out.push(b'i');
        }
        FieldValue::UInt(v) => {
            append_short(out, itoa::Buffer::new().format(v).as_bytes());
            out.push(b'u');
        }
        FieldValue::Bool(v) => append_short(out, if v { b"true" } else { b"false" }),
        FieldValue::Float(_) | FieldValue::Str(_) => return false,
    }
    true
}

fn write_string_field(out: &mut Vec<u8>, s: &str) -> Result<(), Problem> {
    if s.len() > MAX_STRING_FIELD_BYTES {
        return Err(Problem::StringTooLong(s.len()));
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s.as_bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    Ok(())
}

/// Appends ` <timestamp>\n`, the timestamp in units of `precision`.
pub fn write_timestamp_and_newline(out: &mut Vec<u8>, time: Timestamp, precision: Precision) {
    out.push(b' ');
    append_integer(out, time.in_precision(precision));
    out.push(b'\n');
}

/// Builds one line into a buffer, checking and escaping as it goes.
///
/// If the builder is dropped before [`finish`](LineBuilder::finish) — for instance because a
/// `?` returned early — the buffer is rewound to where the line began, so a failed line never
/// leaves half of itself behind.
///
/// ```
/// use influxdb_datalogger::line_protocol::LineBuilder;
/// use influxdb_datalogger::{Precision, Timestamp};
///
/// let mut buf = Vec::new();
/// LineBuilder::new(&mut buf, "cpu load")?
///     .tag("host", "a,b")?
///     .field("value", 0.5)?
///     .finish(Timestamp::from_nanos(1), Precision::Nanoseconds)?;
/// assert_eq!(buf, b"cpu\\ load,host=a\\,b value=0.5 1\n");
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug)]
pub struct LineBuilder<'b> {
    buf: &'b mut Vec<u8>,
    mark: usize,
    fields: usize,
    finished: bool,
}

impl<'b> LineBuilder<'b> {
    /// Starts a line for `measurement`.
    ///
    /// # Errors
    /// A measurement name line protocol cannot carry.
    pub fn new(buf: &'b mut Vec<u8>, measurement: &str) -> Result<Self> {
        let mark = buf.len();
        write_escaped(buf, measurement, Part::Measurement)
            .map_err(|p| name_error(Part::Measurement, measurement, &p))?;
        Ok(LineBuilder {
            buf,
            mark,
            fields: 0,
            finished: false,
        })
    }

    /// Adds a tag; an empty value is left out, as line protocol cannot carry it. Tags must come
    /// before fields; InfluxDB prefers them sorted by key.
    ///
    /// # Errors
    /// A key or value line protocol cannot carry; the buffer is left as it was.
    pub fn tag(self, key: &str, value: &str) -> Result<Self> {
        if self.fields > 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("tag {key:?} added after a field; tags come first"),
            ));
        }
        if value.is_empty() {
            return Ok(self);
        }
        self.buf.push(b',');
        write_escaped(self.buf, key, Part::TagKey)
            .map_err(|p| name_error(Part::TagKey, key, &p))?;
        self.buf.push(b'=');
        write_escaped(self.buf, value, Part::TagValue)
            .map_err(|p| value_error(format_args!("tag {key:?}"), &value, &p))?;
        Ok(self)
    }

    /// Adds a field.
    ///
    /// # Errors
    /// A key or value line protocol cannot carry; the buffer is left as it was.
    pub fn field(mut self, key: &str, value: impl Into<FieldValue>) -> Result<Self> {
        let value = value.into();
        self.buf.push(if self.fields == 0 { b' ' } else { b',' });
        write_escaped(self.buf, key, Part::FieldKey)
            .map_err(|p| name_error(Part::FieldKey, key, &p))?;
        self.buf.push(b'=');
        write_field_value(self.buf, &value)
            .map_err(|p| value_error(format_args!("field {key:?}"), &value, &p))?;
        self.fields += 1;
        Ok(self)
    }

    /// Ends the line with a timestamp and a newline. A line needs at least one field.
    ///
    /// # Errors
    /// A line without fields (line protocol needs one); the buffer is left as it was.
    pub fn finish(mut self, time: Timestamp, precision: Precision) -> Result<()> {
        if self.fields == 0 {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                "a point needs at least one field; line protocol cannot carry a point without one",
            ));
        }
        write_timestamp_and_newline(self.buf, time, precision);
        self.finished = true;
        Ok(())
    }
}

impl Drop for LineBuilder<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.buf.truncate(self.mark);
        }
    }
}

/// Checks a tag given as a key and a value; an empty value is allowed (it is left out).
///
/// # Errors
/// A key or value line protocol cannot carry, naming it.
pub fn check_tag(key: &str, value: &str) -> Result<()> {
    check(key, Part::TagKey).map_err(|p| name_error(Part::TagKey, key, &p))?;
    if !value.is_empty() {
        check(value, Part::TagValue)
            .map_err(|p| value_error(format_args!("tag {key:?}"), &value, &p))?;
    }
    Ok(())
}

/// The error for a name (measurement, tag key, field key) that cannot be written.
pub(crate) fn name_error(part: Part, name: &str, problem: &Problem) -> Error {
    Error::new(
        ErrorKind::InvalidName,
        format!("{} {name:?} {problem}", part.describe()),
    )
}

/// The error for a value that cannot be written; `what` says whose value it is.
pub(crate) fn value_error(
    what: impl fmt::Display,
    value: &dyn crate::error::Quote,
    problem: &Problem,
) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!("{what}: value {} {problem}", crate::error::quote(value)),
    )
}

/// The length of a line's series key (`measurement,tags`): up to its first unescaped space.
pub(crate) fn series_key_len(line: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b' ' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The line with its timestamp converted from one precision to another (a spool segment
/// replayed at another precision; a batch sent to a server that wants coarser timestamps,
/// which rounds towards minus infinity). The timestamp is the line's last token; `None` when
/// the line has none, or it does not fit the new unit.
pub(crate) fn rescale_timestamp(line: &[u8], from: Precision, to: Precision) -> Option<Vec<u8>> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let space = body.iter().rposition(|&b| b == b' ')?;
    let digits = std::str::from_utf8(&body[space + 1..]).ok()?;
    let value: i64 = digits.parse().ok()?;
    let nanos = value.checked_mul(from.nanos_per_unit())?;
    let converted = Timestamp::from_nanos(nanos).in_precision(to);
    let mut out = Vec::with_capacity(line.len() + 8);
    out.extend_from_slice(&body[..=space]);
    out.extend_from_slice(converted.to_string().as_bytes());
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests;
