//! Reading points back from a server: the other half of the writers, for the report, the
//! dashboards and `regressions`.
//!
//! One [`Reader`] speaks the read API of the server its [`InfluxConfig`] names, with the same
//! credentials, TLS and proxy settings as [`InfluxDBWriter`](crate::InfluxDBWriter):
//!
//! | server | how it reads |
//! |---|---|
//! | InfluxDB 1.x, and 2.x through its v1 compatibility API (`api=v2`: a token and a DBRP mapping) | InfluxQL on `/query`, chunked, times in nanoseconds |
//! | InfluxDB 3 (`api=v3`) | SQL on `/api/v3/query_sql` as JSON lines; tags told from fields by `information_schema` |
//! | VictoriaMetrics (`api=v1`; found by its `/ping` answer) | `/api/v1/export`, its native export; a field `f` of measurement `m` is the metric `m_f` |
//!
//! VictoriaMetrics keeps numbers only: string fields (an event's text) read back as nothing.

mod influxql;
mod sql;
mod victoria;

use std::io::Read;

use crate::dashboard::quote_identifier;
pub use crate::dashboard::{FieldType, MeasurementSchema};
use crate::error::{Error, ErrorKind, Result};
use crate::influx::client::{server_message, Client};
use crate::influx::{Api, InfluxConfig};
use crate::value::FieldValue;

/// One point read back: a row of a measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The measurement.
    pub measurement: String,
    /// Its tags (those with a value), in the order the server gave them.
    pub tags: Vec<(String, String)>,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    /// Its fields that have a value.
    pub fields: Vec<(String, FieldValue)>,
}

/// Which read API a [`Reader`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadApi {
    /// InfluxQL on `/query` (InfluxDB 1.x, 2.x's v1 compatibility API).
    InfluxQl,
    /// SQL on `/api/v3/query_sql` (InfluxDB 3).
    Sql,
    /// `/api/v1/export` (VictoriaMetrics).
    VictoriaMetrics,
}

/// Reads from one server. See the module documentation.
#[derive(Debug)]
pub struct Reader {
    config: InfluxConfig,
    client: Client,
    api: ReadApi,
}

impl Reader {
    /// A reader for `config`; which read API to use comes from the configuration's write API
    /// and, for `v1`, from the server's `/ping` answer (InfluxDB names its version,
    /// VictoriaMetrics does not).
    ///
    /// # Errors
    /// The configuration is incomplete, or the server cannot be reached.
    pub fn new(config: InfluxConfig) -> Result<Reader> {
        config.validate()?;
        let client = Client::new(&config)?;
        let mut reader = Reader {
            config,
            client,
            api: ReadApi::InfluxQl,
        };
        reader.api = match reader.config.api() {
            Api::V3 => ReadApi::Sql,
            Api::V2 => ReadApi::InfluxQl,
            Api::V1 => reader.detect()?,
        };
        Ok(reader)
    }

    /// The read API in use.
    pub fn api(&self) -> ReadApi {
        self.api
    }

    /// The server and database, without credentials (for messages).
    pub fn describe(&self) -> String {
        self.config.describe()
    }

    /// The measurements of the database, sorted. (VictoriaMetrics: the metric names, which
    /// join measurement and field and cannot be split back.)
    ///
    /// # Errors
    /// The server cannot be reached or refuses the query.
    pub fn measurements(&self) -> Result<Vec<String>> {
        let mut names = match self.api {
            ReadApi::InfluxQl => influxql::measurements(self)?,
            ReadApi::Sql => sql::measurements(self)?,
            ReadApi::VictoriaMetrics => victoria::metric_names(self)?,
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The fields and tag keys of `measurement`.
    ///
    /// # Errors
    /// The server cannot be reached or refuses the query; the measurement does not exist.
    pub fn schema(&self, measurement: &str) -> Result<MeasurementSchema> {
        let mut schema = match self.api {
            ReadApi::InfluxQl => influxql::schema(self, measurement)?,
            ReadApi::Sql => sql::schema(self, measurement)?,
            ReadApi::VictoriaMetrics => victoria::schema(self, measurement)?,
        };
        if schema.fields.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "measurement {:?} not found in {}",
                    measurement,
                    self.describe()
                ),
            ));
        }
        schema.fields.sort_by(|a, b| a.0.cmp(&b.0));
        schema.tags.sort();
        Ok(schema)
    }

    /// Every point of `measurement` at or after `since` (nanoseconds; `None`: all), handed to
    /// `each` as it is read, so that answers of any size stream through.
    ///
    /// # Errors
    /// The server cannot be reached, refuses the query, or answers what is not its format.
    pub fn read(
        &self,
        measurement: &str,
        since: Option<i64>,
        each: &mut dyn FnMut(Record),
    ) -> Result<()> {
        match self.api {
            ReadApi::InfluxQl => influxql::read(self, measurement, since, each),
            ReadApi::Sql => sql::read(self, measurement, since, each),
            ReadApi::VictoriaMetrics => victoria::read(self, measurement, since, each),
        }
    }

    /// The database (or bucket) the configuration names.
    fn database(&self) -> &str {
        self.config
            .database
            .as_deref()
            .or(self.config.bucket.as_deref())
            .unwrap_or("")
    }

    /// `/ping`: InfluxDB answers with `X-Influxdb-Version`; a server that does not, and knows
    /// VictoriaMetrics' label API, is VictoriaMetrics.
    fn detect(&self) -> Result<ReadApi> {
        let url = format!("{}/ping", self.config.url);
        let response = self.get(&url)?;
        if response.headers().contains_key("x-influxdb-version") {
            return Ok(ReadApi::InfluxQl);
        }
        let url = format!("{}/api/v1/label/__name__/values?limit=1", self.config.url);
        let mut response = self.get(&url)?;
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Ok(
            if response.status().is_success() && body.contains("\"success\"") {
                ReadApi::VictoriaMetrics
            } else {
                ReadApi::InfluxQl
            },
        )
    }

    /// `GET url` with the credentials; transport errors name the server.
    fn get(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>> {
        let mut request = self.client.agent.get(url);
        if let Some(auth) = &self.client.authorization {
            request = request.header("Authorization", auth.expose());
        }
        request.call().map_err(|e| {
            crate::http::transport_error(format!("cannot read from {}", self.describe()), e)
        })
    }

    /// Posts `body`; transport errors name the server.
    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut request = self
            .client
            .agent
            .post(url)
            .header("Content-Type", content_type);
        if let Some(auth) = &self.client.authorization {
            request = request.header("Authorization", auth.expose());
        }
        request.send(body).map_err(|e| {
            crate::http::transport_error(format!("cannot read from {}", self.describe()), e)
        })
    }

    /// The answer's body as a reader, or an error naming the status and the server's message.
    fn body(
        &self,
        response: ureq::http::Response<ureq::Body>,
        what: &str,
    ) -> Result<impl Read + use<>> {
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response.into_body().into_reader());
        }
        let mut response = response;
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = server_message(&text);
        let reason = match status {
            401 | 403 => "the credentials were refused",
            404 => "the server has no such read API or database",
            _ => "the server refused the query",
        };
        Err(Error::new(
            ErrorKind::Writer,
            format!(
                "{what} from {}: {reason} (HTTP {status}): {}",
                self.describe(),
                crate::error::shorten(&message)
            ),
        )
        .with_status(status))
    }
}

/// A JSON value of an answer's row as a field value (integers stay integers); `None` for null.
fn json_field(value: &serde_json::Value) -> Option<FieldValue> {
    match value {
        serde_json::Value::Bool(b) => Some(FieldValue::Bool(*b)),
        serde_json::Value::String(s) => Some(FieldValue::Str(s.clone())),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(FieldValue::Int)
            .or_else(|| n.as_u64().map(FieldValue::UInt))
            .or_else(|| n.as_f64().map(FieldValue::Float)),
        _ => None,
    }
}

/// Hands each line of a JSON-lines answer, parsed, to `each`.
fn json_lines(
    answer: impl Read,
    what: &str,
    each: &mut dyn FnMut(serde_json::Value),
) -> Result<()> {
    use std::io::BufRead;
    for line in std::io::BufReader::new(answer).lines() {
        let line = line.map_err(|e| parse_error(what, e))?;
        if !line.trim().is_empty() {
            each(serde_json::from_str(&line).map_err(|e| parse_error(what, e))?);
        }
    }
    Ok(())
}

/// The tags of a JSON object of labels: string values that are not empty, without `skip`.
fn json_tags(labels: &serde_json::Value, skip: &[&str]) -> Vec<(String, String)> {
    labels
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn parse_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Parse,
        format!("the server's answer to {what} is not what it should be: {e}"),
    )
}

#[cfg(test)]
mod tests;
