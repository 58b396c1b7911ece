//! The values of connection strings (`http://host:8086?db=tests&timeout=10s`,
//! `spool-dir?max_bytes=2GiB&fsync=100ms`): one grammar for every setting that takes a
//! boolean, a size or a duration, and the percent-decoding of URLs.

use std::time::Duration;

use crate::error::{Error, Result};

/// `true`, `1`, `yes`, `on` (or nothing: `?insecure`) and `false`, `0`, `no`, `off`; anything
/// else is an error naming the setting.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.trim() {
        "true" | "1" | "yes" | "on" | "" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(Error::invalid_argument(format!(
            "{key}: {} is not true or false",
            crate::error::quote(&other)
        ))),
    }
}

/// A positive number of bytes: `4096`, `512KiB` (or `K`), `16MiB` (`M`), `2GiB` (`G`).
pub(crate) fn parse_size(key: &str, value: &str) -> Result<u64> {
    let v = value.trim();
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "{key}: {} is not a size such as 4096, 512KiB or 2GiB",
                crate::error::quote(&value)
            ))
        })
}

/// A positive duration, as connection strings and the command line spell them: a number of
/// seconds (`10`, `2.5`), or with a unit: `500ms`, `2.5s`, `1m` (or `min`), `1h`, `90d`. `key`
/// names what is parsed in the error.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) naming `key` and the text.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration> {
    let v = value.trim();
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => f64::NAN,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            Error::invalid_argument(format!(
                "{key}: {} is not a duration such as 10, 2.5s, 500ms, 1m or 90d",
                crate::error::quote(&value)
            ))
        })
}

/// `%XX` escapes and `+` (a space) decoded.
pub(crate) fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or_else(|| {
                    Error::invalid_argument("a % escape is cut short".to_string())
                })?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| Error::invalid_argument(format!("%{hex} is not an escape")))?,
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid_argument(format!("{text:?} does not decode to UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar_for_durations_sizes_and_booleans() {
        let d = |v| parse_duration("t", v).unwrap();
        assert_eq!(d("10"), Duration::from_secs(10));
        assert_eq!(d("2.5s"), Duration::from_millis(2500));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1m"), Duration::from_secs(60));
        assert_eq!(d("2min"), Duration::from_secs(120));
        assert_eq!(d("1h"), Duration::from_secs(3600));
        for bad in ["", "0", "-1s", "1 fortnight", "s", "nan", "1e400"] {
            let err = parse_duration("fsync", bad).unwrap_err();
            assert!(err.message().starts_with("fsync: "), "{err}");
        }
        assert_eq!(parse_size("s", "2GiB").unwrap(), 2 << 30);
        assert!(parse_size("s", "2 apples").is_err());
        assert!(parse_bool("b", "yes").unwrap());
        assert!(!parse_bool("b", "off").unwrap());
        assert!(parse_bool("b", "maybe").is_err());
        assert_eq!(percent_decode("a%20b+c").unwrap(), "a b c");
        assert!(percent_decode("%zz").is_err());
    }
}
