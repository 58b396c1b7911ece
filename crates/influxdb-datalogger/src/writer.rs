//! Writers: where batches go. The [`DatabaseWriter`] trait is the extension point; the
//! built-in writers here need no server.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::entry::{Batch, DataEntry, Event};
use crate::error::{Error, Result};
use crate::value::FieldValue;

/// Receives batches of logged points and events. Implement it to send data anywhere.
///
/// `write_data` must either take the whole batch or fail: when it fails, the
/// [`DataLogger`](crate::DataLogger) keeps the batch for this writer and hands it over again,
/// together with newer data, at the next write — while writers that succeeded get no
/// duplicates.
///
/// ```
/// use influxdb_datalogger::{Batch, DatabaseWriter, Result};
///
/// struct Stdout;
///
/// impl DatabaseWriter for Stdout {
///     fn write_data(&mut self, batch: &Batch) -> Result<()> {
///         print!("{}", String::from_utf8_lossy(batch.line_protocol()));
///         Ok(())
///     }
/// }
/// ```
pub trait DatabaseWriter: Send {
    /// Writes every point and event of `batch`, or fails.
    ///
    /// # Errors
    /// Whatever kept the writer from taking the batch: the logger keeps the batch for it and hands it
    /// over again, with newer data, at the next write.
    fn write_data(&mut self, batch: &Batch) -> Result<()>;

    /// Makes what was written durable (called by [`DataLogger::close`](crate::DataLogger::close)).
    ///
    /// # Errors
    /// What kept the writer from finishing (its data is kept).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// [`flush`](DatabaseWriter::flush), waiting at most `timeout` (for writers that wait).
    ///
    /// # Errors
    /// As [`flush`](Self::flush).
    fn flush_within(&mut self, timeout: std::time::Duration) -> Result<()> {
        let _ = timeout;
        self.flush()
    }

    /// How many lines the database refused for good and were set aside (see
    /// [`InfluxDBWriter`](crate::InfluxDBWriter)).
    fn dead_lettered(&self) -> u64 {
        0
    }

    /// Delivery numbers, for writers that deliver on a thread of their own.
    fn delivery_stats(&self) -> Option<crate::stats::DeliveryStats> {
        None
    }

    /// Offers a writer that delivers on a thread of its own its logger's spool: it acknowledges
    /// what the database took (so the spool can release it) and may read back from the spool
    /// what it does not keep in memory. Returns whether it took the link; a writer that does
    /// not (the default) counts as having everything once `write_data` returned `Ok`.
    ///
    /// Plumbing between the logger and [`BackgroundWriter`](crate::BackgroundWriter): a writer
    /// of your own keeps the default.
    #[doc(hidden)]
    fn attach_spool(&mut self, link: crate::SpoolLink) -> bool {
        let _ = link;
        false
    }

    /// Whether the writer takes a large write in consecutive parts, so that it can start on
    /// the first while the rest is assembled. Only for writers whose `write_data` only queues
    /// (it must not fail); the parts arrive in order, the last with the whole write's events.
    ///
    /// Plumbing, as `attach_spool`: a writer of your own keeps the default.
    #[doc(hidden)]
    fn takes_parts(&self) -> bool {
        false
    }

    /// A name for messages and statistics. Must not contain secrets.
    fn name(&self) -> String {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full).to_string()
    }

    /// Whether the writer's target stores unsigned integers (`7u`). When a logger has a writer
    /// that does not (InfluxDB 1.x), `log()` writes unsigned values as signed ones and refuses
    /// those above `i64::MAX`, rather than let the server refuse the point later.
    fn accepts_unsigned(&self) -> bool {
        true
    }

    /// What a process exit does: [`flush_within`](Self::flush_within) at most `timeout`, and
    /// less where waiting cannot help (a background writer waits at most its own flush
    /// timeout, and not at all once its server cannot be reached).
    ///
    /// # Errors
    /// As [`flush_within`](Self::flush_within).
    fn flush_at_exit(&mut self, timeout: std::time::Duration) -> Result<()> {
        self.flush_within(timeout)
    }
}

impl<W: DatabaseWriter + ?Sized> DatabaseWriter for Box<W> {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        (**self).write_data(batch)
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn flush_within(&mut self, timeout: std::time::Duration) -> Result<()> {
        (**self).flush_within(timeout)
    }
    fn name(&self) -> String {
        (**self).name()
    }
    fn dead_lettered(&self) -> u64 {
        (**self).dead_lettered()
    }
    fn delivery_stats(&self) -> Option<crate::stats::DeliveryStats> {
        (**self).delivery_stats()
    }
    fn attach_spool(&mut self, link: crate::SpoolLink) -> bool {
        (**self).attach_spool(link)
    }
    fn takes_parts(&self) -> bool {
        (**self).takes_parts()
    }
    fn accepts_unsigned(&self) -> bool {
        (**self).accepts_unsigned()
    }
    fn flush_at_exit(&mut self, timeout: std::time::Duration) -> Result<()> {
        (**self).flush_at_exit(timeout)
    }
}

/// A file that batches are appended to: opened at the first write (creating it and its
/// directory), each batch in a single write so that a killed process never leaves half of one,
/// and reopened after a failed write (the descriptor may be what failed).
#[derive(Debug)]
struct AppendFile {
    path: PathBuf,
    file: Option<File>,
}

impl AppendFile {
    fn new(path: PathBuf) -> Self {
        AppendFile { path, file: None }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        let result = self.file.as_mut().expect("opened above").write_all(bytes);
        result.map_err(|e| {
            self.file = None;
            Error::io(format_args!("cannot append to {}", self.path.display()), e)
        })
    }

    fn open(&self) -> Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| {
                Error::io(format_args!("cannot create directory {}", dir.display()), e)
            })?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| {
                Error::io(
                    format_args!("cannot open {} for appending", self.path.display()),
                    e,
                )
            })
    }

    fn sync(&self) -> Result<()> {
        match &self.file {
            Some(f) => f
                .sync_data()
                .map_err(|e| Error::io(format_args!("cannot sync {}", self.path.display()), e)),
            None => Ok(()),
        }
    }
}

/// Appends points (and events, as the `events` measurement) to a line protocol file: the
/// embedded default sink. The file can later be sent to any InfluxDB with `influxdb-datalogger
/// push` or `curl --data-binary`.
#[derive(Debug)]
pub struct LineProtocolFileWriter {
    file: AppendFile,
}

impl LineProtocolFileWriter {
    /// A writer appending to `path`; the file is created at the first write.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LineProtocolFileWriter {
            file: AppendFile::new(path.into()),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl DatabaseWriter for LineProtocolFileWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        if batch.events().is_empty() {
            self.file.append(batch.line_protocol())
        } else {
            let mut bytes = batch.line_protocol().to_vec();
            bytes.extend_from_slice(&batch.events_line_protocol());
            self.file.append(&bytes)
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.file.sync()
    }

    fn name(&self) -> String {
        format!("LineProtocolFileWriter({})", self.file.path.display())
    }
}

/// Appends one JSON object per line: points as
/// `{"measurement":…,"tags":{…},"fields":{…},"time":<ns>}`, events as
/// `{"event":…,"start":<ns>,"stop":<ns>,"tags":{…}}`.
#[derive(Debug)]
pub struct JsonLinesFileWriter {
    file: AppendFile,
}

impl JsonLinesFileWriter {
    /// A writer appending to `path`; the file is created at the first write.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonLinesFileWriter {
            file: AppendFile::new(path.into()),
        }
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.file.path
    }
}

impl DatabaseWriter for JsonLinesFileWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        let mut out = Vec::with_capacity(batch.line_protocol().len() * 2);
        for entry in batch.entries() {
            json::entry(&mut out, &entry);
        }
        for event in batch.events() {
            json::event(&mut out, event);
        }
        self.file.append(&out)
    }

    fn flush(&mut self) -> Result<()> {
        self.file.sync()
    }

    fn name(&self) -> String {
        format!("JsonLinesFileWriter({})", self.file.path.display())
    }
}

/// Keeps every batch in memory; clones share the same store. For tests, and for code that
/// wants to look at what was written.
#[derive(Debug, Clone, Default)]
pub struct MemoryWriter {
    batches: Arc<Mutex<Vec<Batch>>>,
}

impl MemoryWriter {
    /// An empty store.
    pub fn new() -> Self {
        MemoryWriter::default()
    }

    fn batches(&self) -> std::sync::MutexGuard<'_, Vec<Batch>> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many batches were written.
    pub fn batch_count(&self) -> usize {
        self.batches().len()
    }

    /// Every point written, in order.
    pub fn entries(&self) -> Vec<DataEntry> {
        self.batches().iter().flat_map(Batch::entries).collect()
    }

    /// Every event written, in order.
    pub fn events(&self) -> Vec<Event> {
        self.batches()
            .iter()
            .flat_map(|b| b.events().to_vec())
            .collect()
    }

    /// All line protocol written, concatenated.
    pub fn line_protocol(&self) -> Vec<u8> {
        self.batches()
            .iter()
            .flat_map(|b| b.line_protocol().to_vec())
            .collect()
    }
}

impl DatabaseWriter for MemoryWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        self.batches().push(batch.clone());
        Ok(())
    }
}

/// Just enough JSON writing for the JSON-lines writer: every string escaped per RFC 8259.
mod json {
    use super::*;

    pub(super) fn entry(out: &mut Vec<u8>, entry: &DataEntry) {
        out.extend_from_slice(b"{\"measurement\":");
        string(out, &entry.measurement);
        out.extend_from_slice(b",\"tags\":{");
        for (i, (k, v)) in entry.tags.iter().enumerate() {
            separator(out, i);
            string(out, k);
            out.push(b':');
            match v {
                Some(v) => string(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"},\"fields\":{");
        for (i, (k, v)) in entry.fields.iter().enumerate() {
            separator(out, i);
            string(out, k);
            out.push(b':');
            match v {
                Some(v) => value(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"},\"time\":");
        out.extend_from_slice(itoa::Buffer::new().format(entry.time.as_nanos()).as_bytes());
        out.extend_from_slice(b"}\n");
    }

    pub(super) fn event(out: &mut Vec<u8>, event: &Event) {
        out.extend_from_slice(b"{\"event\":");
        string(out, &event.measurement);
        out.extend_from_slice(b",\"start\":");
        out.extend_from_slice(
            itoa::Buffer::new()
                .format(event.start.as_nanos())
                .as_bytes(),
        );
        out.extend_from_slice(b",\"stop\":");
        out.extend_from_slice(itoa::Buffer::new().format(event.stop.as_nanos()).as_bytes());
        out.extend_from_slice(b",\"tags\":{");
        for (i, (k, v)) in event.tags.iter().enumerate() {
            separator(out, i);
            string(out, k);
            out.push(b':');
            string(out, v);
        }
        out.extend_from_slice(b"}}\n");
    }

    fn separator(out: &mut Vec<u8>, index: usize) {
        if index > 0 {
            out.push(b',');
        }
    }

    fn value(out: &mut Vec<u8>, v: &FieldValue) {
        match v {
            FieldValue::Float(f) => crate::line_protocol::append_float(out, *f),
            FieldValue::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            FieldValue::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
            FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            FieldValue::Str(s) => string(out, s),
        }
    }

    pub(super) fn string(out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        for c in s.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if (c as u32) < 0x20 => {
                    out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        out.push(b'"');
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn strings_escape_quotes_backslashes_and_controls() {
            let mut out = Vec::new();
            super::string(&mut out, "a\"b\\c\nd\u{1}é");
            assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
        }
    }
}
