//! A line protocol parser: reads back what the encoder writes, and what other clients write.
//!
//! Escapes follow the InfluxDB documentation: in tag keys, tag values and field keys a
//! backslash escapes `,`, `=`, space and itself, in measurement names `,`, space and itself;
//! any other backslash is literal. In string field values it
//! escapes `"` and itself. Newlines inside quoted string values belong to the value.

use std::borrow::Cow;
use std::fmt;

use crate::value::FieldValue;

/// One parsed line. The default is an empty one, for [`parse_line_into`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedLine<'a> {
    /// The measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tag keys and values, unescaped, in the order of the line.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field keys and typed values, in the order of the line.
    pub fields: Vec<(Cow<'a, str>, FieldValue)>,
    /// The timestamp, in the precision it was written with.
    pub timestamp: Option<i64>,
}

/// Why a line could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The 1-based line number in the text (1 for [`parse_line`]).
    pub line: usize,
    /// The 1-based byte column within the line.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl ParsedLine<'_> {
    /// An empty line with room for a typical point: growing each list from empty reallocates
    /// twice.
    fn with_room() -> Self {
        ParsedLine {
            tags: Vec::with_capacity(4),
            fields: Vec::with_capacity(4),
            ..ParsedLine::default()
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for LineError {}

impl From<LineError> for crate::Error {
    fn from(e: LineError) -> Self {
        crate::Error::new(crate::ErrorKind::Parse, e.to_string())
    }
}

/// Parses a single line (without its trailing newline).
///
/// # Errors
/// A [`LineError`] with the column and what is wrong.
pub fn parse_line(line: &str) -> Result<ParsedLine<'_>, LineError> {
    let mut parsed = ParsedLine::with_room();
    parse_line_into(line, &mut parsed)?;
    Ok(parsed)
}

/// Parses a single line (without its trailing newline) into `into`, reusing the memory of its
/// tag and field lists: for reading many lines one after another.
///
/// # Errors
/// As [`parse_line`]; `into` then holds nothing meaningful.
pub fn parse_line_into<'a>(line: &'a str, into: &mut ParsedLine<'a>) -> Result<(), LineError> {
    let mut cursor = Cursor::at_start(line);
    cursor.line_into(into).map_err(on_line_one)?;
    if cursor.pos != line.len() {
        return Err(on_line_one((cursor.pos + 1, "unexpected newline".into())));
    }
    Ok(())
}

/// The measurement name of a line, unescaped, without parsing the rest.
///
/// # Errors
/// A [`LineError`] when the line does not start with a measurement name.
pub fn measurement_of(line: &str) -> Result<Cow<'_, str>, LineError> {
    Cursor::at_start(line)
        .name(NameKind::Measurement)
        .map_err(on_line_one)
}

/// A single line's error: `(column, message)` on line 1.
fn on_line_one((column, message): (usize, String)) -> LineError {
    LineError {
        line: 1,
        column,
        message,
    }
}

/// Iterates over the lines of a text, skipping blank lines and `#` comments, yielding each
/// line with its 1-based line number, or the error of a malformed line (after which it goes
/// on with the next line).
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
    line_no: usize,
    last: std::ops::Range<usize>,
}

impl<'a> Lines<'a> {
    /// Starts at the beginning of `text`, after a UTF-8 byte order mark if it has one.
    pub fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: if text.starts_with('\u{feff}') { 3 } else { 0 },
            line_no: 1,
            last: 0..0,
        }
    }

    /// The bytes of `text` that the line returned last spans (without its newline, or the
    /// `\r\n` of a file with Windows line endings).
    pub fn span(&self) -> std::ops::Range<usize> {
        let mut span = self.last.clone();
        while span.end > span.start && self.text.as_bytes()[span.end - 1] == b'\r' {
            span.end -= 1;
        }
        span
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<(usize, ParsedLine<'a>), LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        loop {
            while self.pos < bytes.len() && matches!(bytes[self.pos], b' ' | b'\t' | b'\r') {
                self.pos += 1;
            }
            match bytes.get(self.pos) {
                None => return None,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line_no += 1;
                }
                Some(b'#') => self.pos = next_newline(bytes, self.pos),
                Some(_) => break,
            }
        }
        let start = self.pos;
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_no = self.line_no;
        let mut cursor = Cursor {
            text: self.text,
            pos: start,
            line_start,
        };
        let result = cursor.line();
        let end = match result {
            Ok(_) => cursor.pos,
            Err(_) => next_newline(bytes, start),
        };
        self.line_no += bytes[start..end].iter().filter(|&&b| b == b'\n').count();
        self.pos = end;
        self.last = start..end;
        Some(match result {
            Ok(line) => Ok((line_no, line)),
            Err((column, message)) => Err(LineError {
                line: line_no,
                column,
                message,
            }),
        })
    }
}

fn next_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i)
}

type ParseResult<T> = Result<T, (usize, String)>;

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    line_start: usize,
}

#[derive(Clone, Copy)]
enum NameKind {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl NameKind {
    fn describe(self) -> &'static str {
        match self {
            NameKind::Measurement => "measurement name",
            NameKind::TagKey => "tag key",
            NameKind::TagValue => "tag value",
            NameKind::FieldKey => "field key",
        }
    }

    /// Whether a backslash before `b` is an escape (else both are literal). Measurement names
    /// have no `\=` escape in any InfluxDB parser.
    fn unescapes(self, b: u8) -> bool {
        match self {
            NameKind::Measurement => matches!(b, b',' | b' ' | b'\\'),
            _ => matches!(b, b',' | b'=' | b' ' | b'\\'),
        }
    }

    /// The bytes a scan of this kind of name must stop at: where it ends, a backslash, and
    /// the line breaks no name may hold.
    fn stops(self) -> &'static [bool; 256] {
        match self {
            NameKind::Measurement | NameKind::TagValue => &STOPS_AT_COMMA_OR_SPACE,
            NameKind::TagKey | NameKind::FieldKey => &STOPS_AT_EQUALS_COMMA_OR_SPACE,
        }
    }
}

/// A byte table for [`NameKind::stops`]: ordinary bytes are skipped a run at a time rather
/// than matched one by one against every special byte (reading a batch back parses every line;
/// see `dataset` in `make bench-python`).
const fn stop_table(ends: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    table[b'\t' as usize] = true;
    table[b'\\' as usize] = true;
    let mut i = 0;
    while i < ends.len() {
        table[ends[i] as usize] = true;
        i += 1;
    }
    table
}

static STOPS_AT_COMMA_OR_SPACE: [bool; 256] = stop_table(b", ");
static STOPS_AT_EQUALS_COMMA_OR_SPACE: [bool; 256] = stop_table(b"=, ");

impl<'a> Cursor<'a> {
    fn err<T>(&self, message: impl Into<String>) -> ParseResult<T> {
        Err((self.pos - self.line_start + 1, message.into()))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn at_line_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\n'))
    }

    fn at_start(text: &'a str) -> Self {
        Cursor {
            text,
            pos: 0,
            line_start: 0,
        }
    }

    fn line(&mut self) -> ParseResult<ParsedLine<'a>> {
        let mut line = ParsedLine::with_room();
        self.line_into(&mut line)?;
        Ok(line)
    }

    fn line_into(&mut self, out: &mut ParsedLine<'a>) -> ParseResult<()> {
        out.tags.clear();
        out.fields.clear();
        out.timestamp = None;
        out.measurement = self.name(NameKind::Measurement)?;
        while self.peek() == Some(b',') {
            self.pos += 1;
            let key = self.name(NameKind::TagKey)?;
            self.expect(b'=', "'=' after the tag key")?;
            let value = self.name(NameKind::TagValue)?;
            out.tags.push((key, value));
        }
        if !self.skip_spaces() {
            return self.err("expected a space before the fields");
        }
        loop {
            let key = self.name(NameKind::FieldKey)?;
            self.expect(b'=', "'=' after the field key")?;
            let value = self.field_value()?;
            out.fields.push((key, value));
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.skip_spaces() && !self.at_line_end() && self.peek() != Some(b'\r') {
            out.timestamp = Some(self.timestamp()?);
            self.skip_spaces();
        }
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        if !self.at_line_end() {
            return self.err("unexpected text after the timestamp");
        }
        Ok(())
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn expect(&mut self, byte: u8, what: &str) -> ParseResult<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}"))
        }
    }

    fn name(&mut self, kind: NameKind) -> ParseResult<Cow<'a, str>> {
        let bytes = self.text.as_bytes();
        let stops = kind.stops();
        let start = self.pos;
        let mut owned: Option<String> = None;
        let mut copied_to = start;
        loop {
            self.pos += bytes[self.pos..]
                .iter()
                .position(|&b| stops[usize::from(b)])
                .unwrap_or(bytes.len() - self.pos);
            if self.peek() != Some(b'\\') {
                break;
            }
            match bytes.get(self.pos + 1) {
                Some(&next) if kind.unescapes(next) => {
                    let out = owned.get_or_insert_with(String::new);
                    out.push_str(&self.text[copied_to..self.pos]);
                    out.push(next as char);
                    self.pos += 2;
                    copied_to = self.pos;
                }
                Some(_) => self.pos += 1,
                None => return self.err(format!("{} ends with a backslash", kind.describe())),
            }
        }
        if self.pos == start {
            return self.err(format!("expected a {}", kind.describe()));
        }
        Ok(match owned {
            Some(mut out) => {
                out.push_str(&self.text[copied_to..self.pos]);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(&self.text[start..self.pos]),
        })
    }

    fn field_value(&mut self) -> ParseResult<FieldValue> {
        if self.peek() == Some(b'"') {
            return self.string_value();
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b' ' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        let fail = |this: &Self, what: &str| -> ParseResult<FieldValue> {
            Err((
                start - this.line_start + 1,
                format!("invalid {what} field value {}", crate::error::quote(&token)),
            ))
        };
        if token.is_empty() {
            return self.err("expected a field value");
        }
        if let Some(digits) = token.strip_suffix('i') {
            return digits
                .parse()
                .map(FieldValue::Int)
                .or_else(|_| fail(self, "integer"));
        }
        if let Some(digits) = token.strip_suffix('u') {
            return digits
                .parse()
                .map(FieldValue::UInt)
                .or_else(|_| fail(self, "unsigned"));
        }
        match token {
            "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Bool(true)),
            "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Bool(false)),
            _ => {}
        }
        let numeric = token
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
        match token.parse::<f64>() {
            Ok(v) if numeric && v.is_finite() => Ok(FieldValue::Float(v)),
            _ => fail(self, "float"),
        }
    }

    fn string_value(&mut self) -> ParseResult<FieldValue> {
        let bytes = self.text.as_bytes();
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut copied_to = self.pos;
        loop {
            match self.peek() {
                None => return self.err("unterminated string field value"),
                Some(b'"') => break,
                Some(b'\\') if matches!(bytes.get(self.pos + 1), Some(b'"' | b'\\')) => {
                    out.push_str(&self.text[copied_to..self.pos]);
                    out.push(bytes[self.pos + 1] as char);
                    self.pos += 2;
                    copied_to = self.pos;
                }
                Some(_) => self.pos += 1,
            }
        }
        out.push_str(&self.text[copied_to..self.pos]);
        self.pos += 1; // closing quote
        Ok(FieldValue::Str(out))
    }

    fn timestamp(&mut self) -> ParseResult<i64> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        let digits_start = start + usize::from(negative);
        let digits = bytes[digits_start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(bytes.len() - digits_start);
        self.pos = digits_start + digits;
        // Accumulated negatively, so that i64::MIN fits; None on overflow or no digits.
        let value = (digits > 0)
            .then(|| {
                bytes[digits_start..self.pos]
                    .iter()
                    .try_fold(0i64, |n, &b| {
                        n.checked_mul(10)?.checked_sub(i64::from(b - b'0'))
                    })
            })
            .flatten()
            .and_then(|n| if negative { Some(n) } else { n.checked_neg() });
        value.map_or_else(
            || {
                self.pos = start;
                self.err(format!(
                    "invalid timestamp starting at {:?}",
                    &self.text[start..next_newline(bytes, start).min(start + 24)]
                ))
            },
            Ok,
        )
    }
}

#[cfg(test)]
mod tests;
