//! Where and how to write: one configuration model, built from arguments, from a URL-like
//! connection string, or from the environment variables InfluxDB's own clients use.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::conn_str::{parse_bool, parse_duration, percent_decode};
use crate::error::{Error, Result};
use crate::value::Precision;

/// Which write API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Api {
    /// InfluxDB 1.x `POST /write` (database, retention policy, Basic auth); also VictoriaMetrics.
    V1,
    /// InfluxDB 2.x `POST /api/v2/write` (org, bucket, `Token` auth); also VictoriaMetrics.
    V2,
    /// InfluxDB 3 `POST /api/v3/write_lp` (database, `Bearer` token).
    V3,
}

impl std::str::FromStr for Api {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" => Ok(Api::V1),
            "v2" | "2" => Ok(Api::V2),
            "v3" | "3" => Ok(Api::V3),
            other => Err(Error::invalid_argument(format!(
                "unknown api {other:?}: expected v1, v2 or v3"
            ))),
        }
    }
}

/// A secret (token, password): shown as `***` in `Debug` and never put in messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to reach a server and what to write into: by hand, from a connection string, or from
/// the environment variables of InfluxDB's own clients.
///
/// ```
/// use influxdb_datalogger::{Api, InfluxConfig};
///
/// let config = InfluxConfig::from_conn_str("http://ci:secret@127.0.0.1:8086?db=tests&precision=ms")?;
/// assert_eq!((config.api(), config.database.as_deref()), (Api::V1, Some("tests")));
/// assert_eq!(config.url, "http://127.0.0.1:8086"); // the password is kept apart, as a Secret
/// assert!(!config.describe().contains("secret"));
/// let mut v2 = InfluxConfig::new("https://influx.example:8086");
/// v2.bucket = Some("tests".into());
/// assert_eq!(v2.api(), Api::V2);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct InfluxConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:8086` (no credentials in it).
    pub url: String,
    /// The write API; `None` picks from what is given (see [`InfluxConfig::api`]).
    pub api: Option<Api>,
    /// v1 and v3: the database.
    pub database: Option<String>,
    /// v1: the retention policy.
    pub retention_policy: Option<String>,
    /// v2: the bucket.
    pub bucket: Option<String>,
    /// v2: the organisation.
    pub org: Option<String>,
    /// v2 and v3: the token.
    pub token: Option<Secret>,
    /// v1: the user name.
    pub username: Option<String>,
    /// v1: the password.
    pub password: Option<Secret>,
    /// Bodies at least this long are sent gzip-compressed; `None` never compresses. By default
    /// not to a loopback address (127.0.0.0/8, `localhost`, `[::1]`), where compressing only
    /// costs CPU on both ends of the same machine; see `gzip_loopback`.
    pub gzip_threshold: Option<usize>,
    /// Compress to loopback addresses too (set when gzip is asked for explicitly).
    pub gzip_loopback: bool,
    /// The time budget of one request.
    pub timeout: Duration,
    /// A PEM file of CA certificates to trust instead of the built-in roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate. Only for test set-ups: it removes the protection TLS gives.
    pub insecure_skip_verify: bool,
    /// An HTTP proxy, e.g. `http://proxy:3128`.
    pub proxy: Option<String>,
    /// v3: let the good lines of a batch land when others are refused (on by default).
    pub accept_partial: bool,
    /// v3: acknowledge before the write-ahead log is synced.
    pub no_sync: bool,
    /// Where lines the server refuses are appended, with its reason.
    pub dead_letter: PathBuf,
    /// The unit timestamps are sent in; finer timestamps are truncated to it (fewer bytes,
    /// and what a server with a coarser schema wants). `None` sends them as logged.
    pub precision: Option<Precision>,
}

impl fmt::Debug for InfluxConfig {
    /// As derived, but a URL given user information by hand shows none of it (the password
    /// and token are `Secret`s, shown as `***`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfluxConfig")
            .field("url", &split_userinfo(&self.url).0)
            .field("api", &self.api)
            .field("database", &self.database)
            .field("retention_policy", &self.retention_policy)
            .field("bucket", &self.bucket)
            .field("org", &self.org)
            .field("token", &self.token)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("gzip_threshold", &self.gzip_threshold)
            .field("gzip_loopback", &self.gzip_loopback)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("proxy", &self.proxy.as_deref().map(|p| split_userinfo(p).0))
            .field("accept_partial", &self.accept_partial)
            .field("no_sync", &self.no_sync)
            .field("dead_letter", &self.dead_letter)
            .field("precision", &self.precision)
            .finish()
    }
}

impl InfluxConfig {
    /// A configuration for the server at `url`, with the defaults. User information in the URL
    /// (`http://user:password@host`) becomes [`username`](Self::username) and
    /// [`password`](Self::password), so that the password is kept as a [`Secret`] and the URL
    /// can be shown anywhere.
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let (url, userinfo) = split_userinfo(&url);
        let (username, password) = match userinfo {
            None => (None, None),
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |text: &str| percent_decode(text).unwrap_or_else(|_| text.to_string());
                (
                    Some(decode(user)),
                    (!password.is_empty()).then(|| Secret::new(decode(password))),
                )
            }
        };
        InfluxConfig {
            url: url.trim_end_matches('/').to_string(),
            api: None,
            database: None,
            retention_policy: None,
            bucket: None,
            org: None,
            token: None,
            username,
            password,
            gzip_threshold: Some(4096),
            gzip_loopback: false,
            timeout: Duration::from_secs(10),
            ca_file: None,
            insecure_skip_verify: false,
            proxy: None,
            accept_partial: true,
            no_sync: false,
            dead_letter: PathBuf::from("influxdb-datalogger.dead-letter.lp"),
            precision: None,
        }
    }

    /// The write API: the one set, else v2 when a bucket is given, v3 when a database and a
    /// token (and no user name) are, v1 otherwise.
    pub fn api(&self) -> Api {
        match self.api {
            Some(api) => api,
            None if self.bucket.is_some() => Api::V2,
            None if self.database.is_some() && self.token.is_some() && self.username.is_none() => {
                Api::V3
            }
            None => Api::V1,
        }
    }

    /// Checks that the configuration names everything its API needs.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) naming what is missing or wrong (the URL, its port, a database,
    /// bucket, org or token the API needs).
    pub fn validate(&self) -> Result<()> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(Error::invalid_argument(format!(
                "url {} must start with http:// or https://",
                crate::error::quote(&split_userinfo(&self.url).0)
            )));
        }
        let (_, after_scheme) = self.url.split_once("://").unwrap_or(("", &self.url));
        let authority = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // An IPv6 address is in brackets; a port follows the last colon outside them.
        let port = match host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') && !host.is_empty() => Some(port),
            _ => None,
        };
        if host_port.is_empty() || host_port.starts_with(':') {
            return Err(Error::invalid_argument(format!(
                "url {:?} names no host",
                split_userinfo(&self.url).0
            )));
        }
        if let Some(port) = port {
            if !matches!(port.parse::<u16>(), Ok(1..)) {
                return Err(Error::invalid_argument(format!(
                    "url {:?}: port {} is not a port number (1 to 65535)",
                    split_userinfo(&self.url).0,
                    crate::error::quote(&port)
                )));
            }
        }
        let missing = match self.api() {
            Api::V1 | Api::V3 if self.database.is_none() => Some("a database"),
            Api::V2 if self.bucket.is_none() => Some("a bucket"),
            Api::V2 if self.org.is_none() => Some("an org"),
            Api::V3 if self.token.is_none() => Some("a token"),
            _ => None,
        };
        match missing {
            Some(what) => Err(Error::invalid_argument(format!(
                "the {:?} write API needs {what}",
                self.api()
            ))),
            None => Ok(()),
        }
    }

    /// Parses a connection string: `http[s]://[user[:password]@]host[:port][/path][?key=value&…]`.
    ///
    /// Keys: `api` (v1/v2/v3), `db` or `database`, `rp`, `bucket`, `org`, `token`, `precision`
    /// (`ns`, `us`, `ms`, `s`), `gzip` (a byte threshold, or `on`/`off`; given explicitly it
    /// applies to loopback servers too), `gzip_loopback`, `timeout`
    /// (seconds, or with `ms`/`s`), `ca`, `insecure` (`true`), `proxy`, `accept_partial`,
    /// `no_sync`, `dead_letter`. User and password go to v1 Basic authentication.
    ///
    /// # Errors
    /// What [`parse_conn_str`](Self::parse_conn_str) and [`validate`](Self::validate) find.
    pub fn from_conn_str(text: &str) -> Result<Self> {
        let config = Self::parse_conn_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// [`from_conn_str`](Self::from_conn_str) without the final [`validate`](Self::validate),
    /// for callers that complete the configuration first (command-line flags, say).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument): no `http://`/`https://`, a bad `%` escape, an unknown key or a
    /// value it cannot take.
    pub fn parse_conn_str(text: &str) -> Result<Self> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            Error::invalid_argument(
                "a connection string starts with http:// or https://".to_string(),
            )
        })?;
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        if let Some((userinfo, _)) = address.rsplit_once('@') {
            // Checked here, where an error can be returned; `new` takes them apart.
            for part in userinfo.splitn(2, ':') {
                percent_decode(part).map_err(|e| {
                    Error::invalid_argument(format!(
                        "the user or password in the URL: {}",
                        e.message()
                    ))
                })?;
            }
        }
        let mut config = InfluxConfig::new(format!("{scheme}://{address}"));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            config.set(&percent_decode(key)?, &percent_decode(value)?)?;
        }
        Ok(config)
    }

    /// Sets one option by its connection-string key.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument): an unknown key, or a value it cannot take.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let text = || Some(value.to_string());
        match key {
            "api" => self.api = Some(value.parse()?),
            "db" | "database" => self.database = text(),
            "rp" | "retention_policy" => self.retention_policy = text(),
            "bucket" => self.bucket = text(),
            "org" => self.org = text(),
            "token" => self.token = Some(Secret::new(value)),
            "username" | "user" => self.username = text(),
            "password" => self.password = Some(Secret::new(value)),
            "gzip" => {
                self.gzip_threshold = match value {
                    "off" | "false" | "no" => None,
                    "on" | "true" | "yes" => Some(0),
                    n => Some(n.parse().map_err(|_| {
                        Error::invalid_argument(format!(
                            "gzip: {n:?} is not a byte count or on/off"
                        ))
                    })?),
                };
                // Asked for explicitly: also to loopback.
                self.gzip_loopback = self.gzip_threshold.is_some();
            }
            "gzip_loopback" => self.gzip_loopback = parse_bool(key, value)?,
            "timeout" => self.timeout = parse_duration(key, value)?,
            "ca" | "ca_file" => self.ca_file = Some(PathBuf::from(value)),
            "insecure" | "insecure_skip_verify" => {
                self.insecure_skip_verify = parse_bool(key, value)?
            }
            "proxy" => self.proxy = text(),
            "accept_partial" => self.accept_partial = parse_bool(key, value)?,
            "no_sync" => self.no_sync = parse_bool(key, value)?,
            "dead_letter" => self.dead_letter = PathBuf::from(value),
            "precision" => self.precision = Some(value.parse()?),
            other => return Err(Error::invalid_argument(format!("unknown option {other:?}"))),
        }
        Ok(())
    }

    /// Reads the environment variables InfluxDB's clients use: `INFLUX_HOST`, `INFLUX_TOKEN`,
    /// `INFLUX_DATABASE`, `INFLUX_ORG` (InfluxDB 3 clients); `INFLUXDB_V2_URL`, `_ORG`, `_TOKEN`,
    /// `_BUCKET` (v2 clients); `INFLUX_USERNAME`, `INFLUX_PASSWORD` (v1).
    ///
    /// # Errors
    /// A variable set to a value it cannot take, or a configuration that does not validate.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `var`.
    ///
    /// # Errors
    /// As [`from_env`](Self::from_env).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let config = Self::read_vars(var)?;
        config.validate()?;
        Ok(config)
    }

    /// [`from_vars`](Self::from_vars) without the final [`validate`](Self::validate).
    ///
    /// # Errors
    /// A variable set to a value it cannot take (the configuration is not validated).
    pub fn read_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let url = var("INFLUX_HOST")
            .or_else(|| var("INFLUXDB_V2_URL"))
            .ok_or_else(|| {
                Error::invalid_argument(
                    "no server configured: set INFLUX_HOST or INFLUXDB_V2_URL".to_string(),
                )
            })?;
        let mut config = InfluxConfig::new(url);
        config.database = var("INFLUX_DATABASE");
        config.org = var("INFLUX_ORG").or_else(|| var("INFLUXDB_V2_ORG"));
        config.bucket = var("INFLUXDB_V2_BUCKET");
        config.token = var("INFLUX_TOKEN")
            .or_else(|| var("INFLUXDB_V2_TOKEN"))
            .map(Secret::new);
        config.username = var("INFLUX_USERNAME");
        config.password = var("INFLUX_PASSWORD").map(Secret::new);
        Ok(config)
    }

    /// The write URL for `precision`, with its query (no credentials: they go in headers).
    pub fn write_url(&self, precision: Precision) -> String {
        let mut query: Vec<(&str, &str)> = Vec::new();
        let path = match self.api() {
            Api::V1 => {
                query.push(("db", self.database.as_deref().unwrap_or("")));
                if let Some(rp) = &self.retention_policy {
                    query.push(("rp", rp));
                }
                query.push(("precision", v1_precision(precision)));
                "/write"
            }
            Api::V2 => {
                query.push(("org", self.org.as_deref().unwrap_or("")));
                query.push(("bucket", self.bucket.as_deref().unwrap_or("")));
                query.push(("precision", precision.as_str()));
                "/api/v2/write"
            }
            Api::V3 => {
                query.push(("db", self.database.as_deref().unwrap_or("")));
                query.push(("precision", v3_precision(precision)));
                query.push((
                    "accept_partial",
                    if self.accept_partial { "true" } else { "false" },
                ));
                if self.no_sync {
                    query.push(("no_sync", "true"));
                }
                "/api/v3/write_lp"
            }
        };
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        format!("{}{path}?{}", self.url, query.join("&"))
    }

    /// The URL of the InfluxQL query endpoint (`/query`, which InfluxDB 1.x has, and 2.x and 3.x
    /// keep for compatibility) for `influxql`, times as integer nanoseconds.
    pub fn query_url(&self, influxql: &str) -> String {
        let database = self
            .database
            .as_deref()
            .or(self.bucket.as_deref())
            .unwrap_or("");
        let mut query = vec![("db", database), ("q", influxql), ("epoch", "ns")];
        if let Some(rp) = &self.retention_policy {
            query.push(("rp", rp));
        }
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        format!("{}/query?{}", self.url, query.join("&"))
    }

    /// The body size from which requests are compressed, after the loopback rule.
    pub fn effective_gzip_threshold(&self) -> Option<usize> {
        if self.is_loopback() && !self.gzip_loopback {
            None
        } else {
            self.gzip_threshold
        }
    }

    /// Whether the server is on this machine's loopback interface.
    pub fn is_loopback(&self) -> bool {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host = if let Some(v6) = host.strip_prefix('[') {
            v6.split(']').next().unwrap_or(v6)
        } else {
            host.split(':').next().unwrap_or(host)
        };
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// What the configuration points at, for messages: no credentials.
    pub fn describe(&self) -> String {
        let target = match self.api() {
            Api::V2 => format!("bucket {:?}", self.bucket.as_deref().unwrap_or("")),
            Api::V1 | Api::V3 => format!("database {:?}", self.database.as_deref().unwrap_or("")),
        };
        format!(
            "{} ({:?} API, {target})",
            split_userinfo(&self.url).0,
            self.api()
        )
    }
}

/// `http://user:password@host:port/path` → (`http://host:port/path`, `Some("user:password")`).
fn split_userinfo(url: &str) -> (std::borrow::Cow<'_, str>, Option<&str>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.into(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => (
            format!("{scheme}://{host}{}", &rest[authority_end..]).into(),
            Some(userinfo),
        ),
        None => (url.into(), None),
    }
}

fn v1_precision(p: Precision) -> &'static str {
    match p {
        Precision::Nanoseconds => "n",
        Precision::Microseconds => "u",
        Precision::Milliseconds => "ms",
        Precision::Seconds => "s",
    }
}

fn v3_precision(p: Precision) -> &'static str {
    match p {
        Precision::Nanoseconds => "nanosecond",
        Precision::Microseconds => "microsecond",
        Precision::Milliseconds => "millisecond",
        Precision::Seconds => "second",
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
