//! [`InfluxDBWriter`]: sends batches to an InfluxDB (or VictoriaMetrics, or any server of the
//! same write APIs) over HTTP.
//!
//! What a server answers decides what happens to the lines:
//!
//! | answer | what happens |
//! |---|---|
//! | 2xx | written |
//! | 400/422 naming bad lines (v1 "partial write", "unable to parse", "field type conflict"; v2 422; v3 per-line errors) | the good lines land; each refused line goes to the dead-letter file with the server's reason (v1/v2: found with few requests: a batch dropped whole at once, refusals the message describes matched to their lines, the rest halved within a cap) |
//! | 413 | the batch is halved and sent again |
//! | 401/403, 404, other 4xx, 501 | an error naming the cause, not retriable; the data is kept |
//! | 429, 5xx, no connection, timeout | a retriable error (with `Retry-After`); the data is kept |

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::client::{server_message, Client};
use super::config::{Api, InfluxConfig, Secret};
use super::refusals;
use crate::entry::Batch;
use crate::error::{Error, ErrorKind, Result};
use crate::writer::DatabaseWriter;

/// Writes batches to a server's write API. See the module documentation for what it does with
/// each kind of answer. It sends on the calling thread; wrap it in a
/// [`BackgroundWriter`](crate::BackgroundWriter) ([`in_background`](Self::in_background)) so
/// that logging never waits for the network.
///
/// ```
/// use influxdb_datalogger::{DataLogger, DeliveryOptions, InfluxConfig, InfluxDBWriter};
///
/// let writer = InfluxDBWriter::new(InfluxConfig::from_conn_str("http://127.0.0.1:8086?db=tests")?)?
///     .in_background(DeliveryOptions::default());
/// let logger = DataLogger::builder().writer(writer).build();
/// // … log …; dropping `logger` (or `logger.close()?`) delivers what it holds.
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug)]
pub struct InfluxDBWriter {
    config: InfluxConfig,
    agent: ureq::Agent,
    /// The `Authorization` header, a [`Secret`] so that `Debug` shows `***`.
    authorization: Option<Secret>,
    dead_lettered: Arc<AtomicU64>,
}

struct Reply {
    status: u16,
    /// The server's message: its `X-Influxdb-Error` header, or the error in its body.
    message: String,
    body: String,
    retry_after: Option<Duration>,
}

impl InfluxDBWriter {
    /// A writer for `config`, which must name everything its API needs.
    ///
    /// # Errors
    /// The configuration does not [validate](InfluxConfig::validate), or its CA file or proxy cannot be
    /// used.
    pub fn new(config: InfluxConfig) -> Result<Self> {
        config.validate()?;
        let Client {
            agent,
            authorization,
        } = Client::new(&config)?;
        Ok(InfluxDBWriter {
            config,
            agent,
            authorization,
            dead_lettered: Arc::new(AtomicU64::new(0)),
        })
    }

    /// This writer on a delivery thread of its own: batching, retries, `flush` that waits for
    /// the server (see [`BackgroundWriter`](crate::BackgroundWriter)).
    pub fn in_background(self, options: crate::DeliveryOptions) -> crate::BackgroundWriter {
        crate::BackgroundWriter::new(self, options)
    }

    /// The configuration.
    pub fn config(&self) -> &InfluxConfig {
        &self.config
    }

    /// Checks the server: `GET /ping` (is it there, which version), then an empty write (are
    /// the credentials and the database or bucket right, as far as the server says). Returns
    /// the server's version, if it gives one.
    ///
    /// # Errors
    /// The server cannot be reached ([`Error::is_connect`], [`Error::is_timeout`]), or it refuses the
    /// credentials or the database or bucket (with the HTTP status).
    pub fn ping(&self) -> Result<Option<String>> {
        let url = format!("{}/ping", self.config.url);
        let response = self.agent.get(&url).call().map_err(|e| {
            crate::http::transport_error(format!("cannot reach {}", self.config.describe()), e)
        })?;
        let status = response.status().as_u16();
        let version = response
            .headers()
            .get("x-influxdb-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status >= 400 && status != 404 {
            return Err(Error::new(
                ErrorKind::Writer,
                format!("{}: /ping answered {status}", self.config.describe()),
            )
            .with_status(status));
        }
        let reply = self.post(&self.config.write_url(crate::Precision::Nanoseconds), b"")?;
        match reply.status {
            200..=299 => Ok(version),
            status => Err(self.failure(status, &reply)),
        }
    }

    /// Runs an InfluxQL query on the server's `/query` endpoint with this writer's credentials,
    /// and returns the answer's JSON text (times as integer nanoseconds).
    ///
    /// # Errors
    /// The server cannot be reached, refuses the credentials, or answers with an error status.
    pub fn query(&self, influxql: &str) -> Result<String> {
        let reply = self.post(&self.config.query_url(influxql), b"")?;
        match reply.status {
            200..=299 => Ok(reply.body),
            status => Err(self.failure(status, &reply)),
        }
    }

    /// How many lines the server refused and were put in the dead-letter file.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Sends a body of whole lines; if the server refuses some or finds it too large, splits it
    /// into its lines and goes on with [`send_lines`](Self::send_lines).
    fn send_body(&self, url: &str, body: &[u8]) -> Result<()> {
        if body.is_empty() {
            return Ok(());
        }
        let reply = self.post(url, body)?;
        match reply.status {
            200..=299 => Ok(()),
            400 | 413 | 422 => {
                let lines: Vec<&[u8]> = split_lines(body);
                self.handle_refusal(url, &lines, reply)
            }
            status => Err(self.failure(status, &reply)),
        }
    }

    fn handle_refusal(&self, url: &str, lines: &[&[u8]], reply: Reply) -> Result<()> {
        match reply.status {
            200..=299 => Ok(()),
            413 | 400 | 422 if lines.len() > 1 => {
                if reply.status != 413 && self.config.api() == Api::V3 {
                    if let Some(refused) = v3_refused_lines(&reply.body) {
                        for (number, reason) in refused {
                            if let Some(line) = number.checked_sub(1).and_then(|i| lines.get(i)) {
                                self.dead_letter(line, reply.status, &reason)?;
                            }
                        }
                        return Ok(());
                    }
                }
                let outcome = refusals::search(lines, answer(&reply), |group| {
                    let reply = self.post(url, &group.concat())?;
                    match reply.status {
                        200..=299 => Ok(refusals::Answer::Taken),
                        413 | 400 | 422 => Ok(answer(&reply)),
                        status => Err(self.failure(status, &reply)),
                    }
                })?;
                for (index, status, reason) in outcome.refused {
                    self.dead_letter(lines[index], status, &reason)?;
                }
                Ok(())
            }
            413 | 400 | 422 => self.dead_letter(lines[0], reply.status, &reply.message),
            status => Err(self.failure(status, &reply)),
        }
    }

    fn post(&self, url: &str, body: &[u8]) -> Result<Reply> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth.expose());
        }
        let compress = self
            .config
            .effective_gzip_threshold()
            .is_some_and(|threshold| body.len() >= threshold);
        let result = if compress {
            request
                .header("Content-Encoding", "gzip")
                .send(&gzip(body)?[..])
        } else {
            request.send(body)
        };
        let mut response = result.map_err(|e| {
            crate::http::transport_error(format!("cannot write to {}", self.config.describe()), e)
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let header_error = response
            .headers()
            .get("x-influxdb-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let message = header_error.unwrap_or_else(|| server_message(&body));
        Ok(Reply {
            status,
            message,
            body,
            retry_after,
        })
    }

    fn failure(&self, status: u16, reply: &Reply) -> Error {
        let target = self.config.describe();
        let no_such_api = status == 404 && reply.message.contains("page not found");
        let (what, retriable) = match status {
            401 | 403 => ("the server refused the credentials", false),
            404 if no_such_api && self.config.api() != Api::V1 => (
                "the server has no such write API (InfluxDB 1.x has only the v1 API: give a database instead of a bucket, \
                 or use InfluxDB 1.8+ or 2.x for the v2 API)",
                false,
            ),
            404 => ("not found: does the database or bucket exist?", false),
            429 => ("the server asks to slow down", true),
            501 => ("the server does not implement this write API", false),
            500..=599 => ("the server failed", true),
            _ => ("the server refused the write", false),
        };
        let mut error = Error::new(
            ErrorKind::Writer,
            format!("{target}: {what}: {}", reply.message),
        )
        .with_status(status)
        .with_retriable(retriable);
        if let Some(after) = reply.retry_after {
            error = error.with_retry_after(after);
        }
        error
    }

    fn dead_letter(&self, line: &[u8], status: u16, reason: &str) -> Result<()> {
        append_dead_letter(&self.config.dead_letter, line, status, reason)?;
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl DatabaseWriter for InfluxDBWriter {
    fn write_data(&mut self, batch: &Batch) -> Result<()> {
        let events = batch.events_line_protocol();
        let from = batch.precision();
        match self
            .config
            .precision
            .filter(|to| to.nanos_per_unit() > from.nanos_per_unit())
        {
            None => {
                // The common case sends the batch's bytes as they are; lines are split out only
                // if the server refuses some of them.
                let mut body = Cow::Borrowed(batch.line_protocol());
                if !events.is_empty() {
                    body.to_mut().extend_from_slice(&events);
                }
                self.send_body(&self.config.write_url(from), &body)
            }
            Some(to) => {
                let mut body = Vec::with_capacity(batch.line_protocol().len() + events.len());
                for line in batch.lines().chain(events.split_inclusive(|&b| b == b'\n')) {
                    // A line without a timestamp the server will date itself.
                    match crate::line_protocol::rescale_timestamp(line, from, to) {
                        Some(coarse) => body.extend_from_slice(&coarse),
                        None => body.extend_from_slice(line),
                    }
                }
                self.send_body(&self.config.write_url(to), &body)
            }
        }
    }

    fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    fn name(&self) -> String {
        format!("InfluxDBWriter({})", self.config.describe())
    }

    /// InfluxDB 1.x has no unsigned integers; its v1 API is what 1.x speaks.
    fn accepts_unsigned(&self) -> bool {
        self.config.api() != Api::V1
    }
}

/// A refusal as the search for refused lines reads it. A 413 (too large) drops nothing by
/// itself: its group is halved.
fn answer(reply: &Reply) -> refusals::Answer {
    refusals::Answer::Refused {
        status: reply.status,
        reason: reply.message.clone(),
        dropped: match reply.status {
            413 => None,
            _ => refusals::dropped_count(&reply.message),
        },
    }
}

/// The lines of a body of line protocol, each with its newline. Newlines inside quoted string
/// values belong to their line.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let text = String::from_utf8_lossy(body);
    let mut ends = Vec::new();
    let mut lines = crate::line_protocol::Lines::new(&text);
    while lines.next().is_some() {
        ends.push(lines.span().end);
    }
    let mut out = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        let end = (end + 1).min(body.len()); // with the newline
        out.push(&body[start..end]);
        start = end;
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
    out
}

/// Appends a refused line, after a comment with the reason, so that the file can be corrected
/// and sent again (comments are skipped by every line protocol parser).
fn append_dead_letter(path: &Path, line: &[u8], status: u16, reason: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format_args!("cannot create {}", dir.display()), e))?;
    }
    let reason = reason.replace(['\n', '\r'], " ");
    let mut record = format!("# refused (http {status}): {reason}\n").into_bytes();
    record.extend_from_slice(line);
    if !line.ends_with(b"\n") {
        record.push(b'\n');
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(&record))
        .map_err(|e| {
            Error::io(
                format_args!("cannot append to the dead-letter file {}", path.display()),
                e,
            )
        })
}

/// InfluxDB 3's list of refused lines: `{"error": …, "data": [{"line_number": n,
/// "error_message": …}, …]}`, lines numbered from 1.
fn v3_refused_lines(body: &str) -> Option<Vec<(usize, String)>> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let data = value.get("data")?.as_array()?;
    data.iter()
        .map(|item| {
            let number = item.get("line_number")?.as_u64()? as usize;
            let message = item
                .get("error_message")
                .and_then(|m| m.as_str())
                .unwrap_or("refused");
            Some((number, message.to_string()))
        })
        .collect()
}

fn gzip(body: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error::io("cannot compress a batch", e))
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
