//! Field values, timestamps and timestamp precision.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, ErrorKind, Result};

/// A typed field value, as line protocol carries it.
///
/// Conversions: `f32`/`f64` become [`Float`](FieldValue::Float); signed integers and the
/// unsigned integers that fit an `i64` (`u8`, `u16`, `u32`, and `usize` up to `i64::MAX`) become
/// [`Int`](FieldValue::Int), which every InfluxDB version accepts (1.x has no unsigned type);
/// `u64` becomes [`UInt`](FieldValue::UInt), so that asking for unsigned gets unsigned, values
/// above `i64::MAX` included.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A 64-bit float; NaN and infinities are refused when logged.
    Float(f64),
    /// A signed 64-bit integer (`i` suffix).
    Int(i64),
    /// An unsigned 64-bit integer (`u` suffix).
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A string of at most 64 KiB.
    Str(String),
}

impl FieldValue {
    /// The value as an `f64`, for statistics; `None` for strings.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(v) => Some(v),
            FieldValue::Int(v) => Some(v as f64),
            FieldValue::UInt(v) => Some(v as f64),
            FieldValue::Bool(v) => Some(if v { 1.0 } else { 0.0 }),
            FieldValue::Str(_) => None,
        }
    }

    /// A short name of the type, as InfluxDB names it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Int(_) => "integer",
            FieldValue::UInt(_) => "unsigned",
            FieldValue::Bool(_) => "boolean",
            FieldValue::Str(_) => "string",
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Float(v) => write!(f, "{v}"),
            FieldValue::Int(v) => write!(f, "{v}"),
            FieldValue::UInt(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Str(v) => write!(f, "{v:?}"),
        }
    }
}

macro_rules! field_value_from {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for FieldValue {
            fn from(v: $t) -> Self {
                FieldValue::$variant(v.into())
            }
        }
    )*};
}
field_value_from!(Float: f64);

impl From<f32> for FieldValue {
    /// The `f64` with the same shortest decimal form (`0.1f32` is `0.1`, not the
    /// `0.10000000149011612` a widening cast gives).
    fn from(v: f32) -> Self {
        let shortest = v.to_string();
        FieldValue::Float(shortest.parse().unwrap_or(f64::from(v)))
    }
}
field_value_from!(Int: i64, i32, i16, i8, u32, u16, u8);
field_value_from!(UInt: u64);
field_value_from!(Bool: bool);
field_value_from!(Str: String, &str);

impl From<usize> for FieldValue {
    /// Counts and lengths are `usize`; they are logged as integers so that InfluxDB 1.x takes them.
    fn from(v: usize) -> Self {
        i64::try_from(v).map_or(FieldValue::UInt(v as u64), FieldValue::Int)
    }
}

impl From<&String> for FieldValue {
    fn from(v: &String) -> Self {
        FieldValue::Str(v.clone())
    }
}

impl From<u128> for FieldValue {
    /// As `u64` does (e.g. `Duration::as_millis()`); beyond 64 bits, as the nearest float.
    fn from(v: u128) -> Self {
        match u64::try_from(v) {
            Ok(v) => i64::try_from(v).map_or(FieldValue::UInt(v), FieldValue::Int),
            Err(_) => FieldValue::Float(v as f64),
        }
    }
}

impl From<i128> for FieldValue {
    /// As `i64` does; beyond 64 bits, as the nearest float.
    fn from(v: i128) -> Self {
        i64::try_from(v).map_or(FieldValue::Float(v as f64), FieldValue::Int)
    }
}

impl From<isize> for FieldValue {
    fn from(v: isize) -> Self {
        FieldValue::Int(v as i64)
    }
}

impl From<Duration> for FieldValue {
    /// A duration is logged as seconds, as a float.
    fn from(v: Duration) -> Self {
        FieldValue::Float(v.as_secs_f64())
    }
}

/// A point in time: nanoseconds since the Unix epoch, UTC. Negative before 1970.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use influxdb_datalogger::Timestamp;
///
/// let t = Timestamp::from_nanos(1_700_000_000_000_000_000) + Duration::from_millis(1);
/// assert_eq!(t.to_string(), "2023-11-14T22:13:20.001000000Z");
/// let back: SystemTime = t.into();
/// assert_eq!(Timestamp::try_from(back)?, t);
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The wall clock now.
    pub fn now() -> Self {
        // The wall clock is within the range until 2262.
        Timestamp::try_from(SystemTime::now()).unwrap_or(Timestamp(i64::MAX))
    }

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// From (fractional) seconds since the epoch; refuses what an `i64` of nanoseconds cannot
    /// hold (roughly the years 1677 to 2262) and NaN.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] for NaN and times outside the years 1677 to 2262.
    pub fn from_secs_f64(secs: f64) -> Result<Self> {
        let nanos = secs * 1e9;
        if !nanos.is_finite() || nanos < i64::MIN as f64 || nanos >= i64::MAX as f64 {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!("timestamp {secs} s is outside the range line protocol can carry (years 1677 to 2262)"),
            ));
        }
        Ok(Timestamp(nanos.round() as i64))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The timestamp plus a duration, saturating at the ends of the range.
    pub fn saturating_add(self, d: Duration) -> Self {
        let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(nanos))
    }

    /// The timestamp in units of `precision`, rounded towards minus infinity.
    pub fn in_precision(self, precision: Precision) -> i64 {
        match precision {
            // The common case, without a 64-bit division.
            Precision::Nanoseconds => self.0,
            other => self.0.div_euclid(other.nanos_per_unit()),
        }
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = Error;

    /// Refuses a time outside what an `i64` of nanoseconds holds (roughly the years 1677 to
    /// 2262) rather than clamp it to a wrong one.
    fn try_from(t: SystemTime) -> Result<Self> {
        let nanos = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).ok(),
            Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
        };
        nanos
            .map(Timestamp)
            .ok_or_else(|| out_of_range(format_args!("{t:?}")))
    }
}

impl From<Timestamp> for SystemTime {
    /// Exact where `SystemTime` counts nanoseconds (Linux, macOS); Windows counts 100 ns
    /// intervals, so there the nanoseconds below 100 are dropped.
    fn from(t: Timestamp) -> Self {
        let magnitude = Duration::from_nanos(t.0.unsigned_abs());
        if t.0 >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }
}

impl std::ops::Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturates at the end of the range (see [`Timestamp::saturating_add`]).
    fn add(self, d: Duration) -> Timestamp {
        self.saturating_add(d)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC to the nanosecond, as InfluxDB shows times: `2023-11-14T22:13:20.000000001Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, nanos_of_day) = (
            self.0.div_euclid(86_400_000_000_000),
            self.0.rem_euclid(86_400_000_000_000),
        );
        let (year, month, day) = civil_from_days(days);
        let secs = nanos_of_day / 1_000_000_000;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            nanos_of_day % 1_000_000_000
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the proleptic Gregorian date (the inverse of [`civil_from_days`],
/// Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl std::str::FromStr for Timestamp {
    type Err = Error;

    /// RFC 3339 / ISO 8601 as test reports write times: `2023-11-14T22:13:20Z`,
    /// `2023-11-14T22:13:20.5+01:00`, `2023-11-14 22:13:20.123456` (no zone: UTC).
    fn from_str(text: &str) -> Result<Self> {
        let invalid = || {
            Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "{} is not a time such as 2023-11-14T22:13:20Z or 2023-11-14 22:13:20.5+01:00",
                    crate::error::quote(&text)
                ),
            )
        };
        let t = text.trim();
        let number = |range: std::ops::Range<usize>| -> Result<i64> {
            t.get(range)
                .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse().ok())
                .ok_or_else(invalid)
        };
        let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
        if t.len() < 19
            || separators.iter().any(|&(at, c)| t.as_bytes()[at] != c)
            || !matches!(t.as_bytes()[10], b'T' | b't' | b' ')
        {
            return Err(invalid());
        }
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(invalid());
        }
        let mut rest = &t[19..];
        let mut nanos = 0i64;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            for (i, b) in fraction.bytes().take(digits.min(9)).enumerate() {
                nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
            }
            rest = &fraction[digits..];
        }
        let offset_seconds = match rest {
            "" | "Z" | "z" => 0,
            zone if zone.len() == 6
                && matches!(zone.as_bytes()[0], b'+' | b'-')
                && zone.as_bytes()[3] == b':' =>
            {
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (h, m) = (
                    zone[1..3].parse::<i64>().map_err(|_| invalid())?,
                    zone[4..6].parse::<i64>().map_err(|_| invalid())?,
                );
                sign * (h * 3600 + m * 60)
            }
            _ => return Err(invalid()),
        };
        let days = days_from_civil(year, month as u32, day as u32);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
        seconds
            .checked_mul(1_000_000_000)
            .and_then(|n| n.checked_add(nanos))
            .map(Timestamp)
            .ok_or_else(|| out_of_range(format_args!("{text:?}")))
    }
}

fn out_of_range(what: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!("time {what} is outside the years 1677 to 2262, which nanosecond timestamps cover"),
    )
}

#[cfg(feature = "chrono")]
impl<Tz: chrono::TimeZone> TryFrom<chrono::DateTime<Tz>> for Timestamp {
    type Error = Error;

    /// The same instant; refuses one outside the years 1677 to 2262.
    fn try_from(t: chrono::DateTime<Tz>) -> Result<Self> {
        t.timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or_else(|| out_of_range(t.naive_utc()))
    }
}

#[cfg(feature = "time")]
impl TryFrom<time::OffsetDateTime> for Timestamp {
    type Error = Error;

    /// The same instant; refuses one outside the years 1677 to 2262.
    fn try_from(t: time::OffsetDateTime) -> Result<Self> {
        i64::try_from(t.unix_timestamp_nanos())
            .map(Timestamp)
            .map_err(|_| out_of_range(t))
    }
}

/// The unit of the timestamps in line protocol, and of the `precision` a server is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Precision {
    /// Nanoseconds, the line protocol default.
    #[default]
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
}

impl Precision {
    /// How many nanoseconds one unit is.
    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }

    /// The short name used by the InfluxDB v2 and v3 write APIs: `ns`, `us`, `ms`, `s`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    /// Accepts the v2 names (`ns`, `us`, `ms`, `s`) and the v1 ones (`n`, `u`).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ns" | "n" => Ok(Precision::Nanoseconds),
            "us" | "u" | "µs" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            other => Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("unknown precision {other:?}: expected one of ns, us, ms, s"),
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
