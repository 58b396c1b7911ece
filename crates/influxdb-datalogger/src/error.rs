//! One error type for the whole library.
//!
//! Every failure is an [`Error`] with a [`ErrorKind`], a short lowercase message that names the
//! problem and the offending value, the HTTP status and server message where there is one, and
//! whether retrying the same operation can help. The kind is decided here, once; bindings map
//! kinds to their own exception types in one place.

use std::fmt;

/// What went wrong, coarsely: enough for a caller (or a binding) to decide what to do.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A measurement, tag or field name that line protocol cannot carry.
    InvalidName,
    /// A tag or field value that line protocol cannot carry (NaN, a newline in a tag, …).
    InvalidValue,
    /// A field that the measurement does not define.
    UnknownField,
    /// A tag that the measurement does not define.
    UnknownTag,
    /// A schema that contradicts itself (a tag with both a default and a function, a duplicate).
    Schema,
    /// A logged point still lacks a field value or a required tag when it is written.
    IncompletePoint,
    /// Arguments that do not fit together (an event that stops before it starts, …).
    InvalidArgument,
    /// Line protocol text that cannot be parsed.
    Parse,
    /// A writer failed to write; its data is kept for the next attempt.
    Writer,
    /// A file or socket operation failed.
    Io,
    /// The spool reached its size cap and refuses new points until the database catches up.
    SpoolFull,
    /// A logger used in a child process forked after the logger was made: its delivery threads
    /// and spool belong to the parent, so the child must make its own.
    ForkedProcess,
}

/// The error type of every fallible operation in this crate.
///
/// ```
/// use influxdb_datalogger::{fields, tags, DataLogger, ErrorKind, Field, Measurement};
///
/// let m = Measurement::builder("m").field(Field::new("v")).build()?;
/// let logger = DataLogger::builder().build();
/// let err = logger.log(&m, fields!("w" => 1.0), tags!()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownField);
/// assert!(!err.is_retriable());
/// assert_eq!(err.to_string(), r#"measurement "m" has no field "w" (its fields: v)"#);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    retriable: bool,
    retry_after: Option<std::time::Duration>,
    transport: Option<Transport>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// How a request failed before any answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// No connection: refused, unreachable, or the name did not resolve.
    Connect,
    /// No answer in time.
    Timeout,
}

impl Error {
    /// Creates an error of `kind`. Only I/O and writer errors are retriable by default.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            retriable: matches!(kind, ErrorKind::Io | ErrorKind::Writer),
            retry_after: None,
            transport: None,
            source: None,
        }
    }

    /// Whether no connection could be made (refused, unreachable, unknown host).
    pub fn is_connect(&self) -> bool {
        self.transport == Some(Transport::Connect)
    }

    /// Whether the server did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.transport == Some(Transport::Timeout)
    }

    #[cfg_attr(not(feature = "http"), allow(dead_code))] // only requests set it
    pub(crate) fn with_transport(mut self, transport: Option<Transport>) -> Self {
        self.transport = transport;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind: lowercase, naming the problem and the value.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status, when a server answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether trying the same operation again may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// How long the server asked to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }

    /// Attaches the server's `Retry-After`.
    pub fn with_retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Attaches an HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Overrides whether the error is retriable.
    pub fn with_retriable(mut self, retriable: bool) -> Self {
        self.retriable = retriable;
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with context, keeping kind, status and source.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Arguments or settings that cannot be used, as the message says.
    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// `what` could not be done; the I/O error is the [`source`](std::error::Error::source),
    /// shown by `{:#}`.
    pub(crate) fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, what.to_string()).with_source(err)
    }
}

/// `{}` shows the message (and HTTP status); `{:#}` adds the chain of causes, as `anyhow`'s
/// `{:#}` does — each cause is printed once, whichever way the error is shown.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(status) = self.status {
            write!(f, " (http status {status})")?;
        }
        if f.alternate() {
            let mut cause = std::error::Error::source(self);
            while let Some(error) = cause {
                write!(f, ": {error}")?;
                cause = error.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// At most this many characters of a value are quoted in a message.
const QUOTED_CHARS: usize = 120;

/// `text` cut to its first 120 characters, saying how long it was: a huge value
/// (a megabyte string, a broken line of a file) must not make a huge message.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// A value as a message quotes it, shortened: text quoted and escaped, a field value as line
/// protocol would show it (`NaN`, not `Float(NaN)`).
pub(crate) fn quote(value: &dyn Quote) -> String {
    shorten(&value.quoted())
}

/// What [`quote`] takes.
pub(crate) trait Quote {
    fn quoted(&self) -> String;
}

impl Quote for str {
    fn quoted(&self) -> String {
        format!("{self:?}")
    }
}

impl Quote for String {
    fn quoted(&self) -> String {
        format!("{self:?}")
    }
}

impl Quote for std::borrow::Cow<'_, str> {
    fn quoted(&self) -> String {
        format!("{self:?}")
    }
}

impl Quote for crate::value::FieldValue {
    fn quoted(&self) -> String {
        self.to_string()
    }
}

impl<T: Quote + ?Sized> Quote for &T {
    fn quoted(&self) -> String {
        (**self).quoted()
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_status_and_context() {
        let err = Error::new(ErrorKind::Writer, "server said no")
            .with_status(503)
            .context("writer 'influx'");
        assert_eq!(
            err.to_string(),
            "writer 'influx': server said no (http status 503)"
        );
        assert!(err.is_retriable());
        assert_eq!(err.kind(), ErrorKind::Writer);
    }

    #[test]
    fn quoted_values_are_shortened() {
        assert_eq!(quote(&"short"), "\"short\"");
        let long = "é".repeat(1_000_000);
        let quoted = quote(&long.as_str());
        assert!(quoted.chars().count() < 200, "{quoted}");
        assert!(quoted.ends_with("… (2000002 bytes in all)"), "{quoted}");
    }

    #[test]
    fn validation_errors_are_not_retriable() {
        assert!(!Error::new(ErrorKind::InvalidValue, "nan").is_retriable());
    }

    #[test]
    fn io_errors_keep_their_source() {
        let err = Error::io("cannot open 'x'", std::io::Error::other("boom"));
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(err.kind(), ErrorKind::Io);
    }

    #[test]
    fn every_cause_is_printed_once_however_the_error_is_shown() {
        let err = Error::io("cannot open 'x'", std::io::Error::other("boom")).context("the spool");
        assert_eq!(err.to_string(), "the spool: cannot open 'x'");
        assert_eq!(format!("{err:#}"), "the spool: cannot open 'x': boom");
        // What `anyhow`'s `{:#}` prints: each error of the chain with `{}`.
        let mut chain = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(e) = cause {
            chain.push_str(&format!(": {e}"));
            cause = e.source();
        }
        assert_eq!(chain, "the spool: cannot open 'x': boom");
    }
}
