//! Finding the lines a server refused in a batch it took only partly, with few requests.
//!
//! InfluxDB 1.x and 2.x answer a batch with refused lines by landing the good ones and naming
//! the first refusal, with the number of lines dropped (`... dropped=N`); they do not say which
//! lines. Resending a line that landed overwrites it with itself, so a batch can be sent again.
//! The search, for each group of lines with the server's answer for it:
//! - every line of the group dropped: all are refused, with the server's reason (no request);
//! - the reason names a field type conflict (`input field "f" on measurement "m" is type
//!   string`) or a tag over `max-values-per-tag` (`measurement="m" tag="t" value="v"`): the
//!   lines it describes are refused; if they are all that was dropped, the rest landed;
//!   otherwise the rest is sent again, and its answer names the next refusal;
//! - else the group is halved and each half sent, down to single lines.
//!
//! A cap on requests bounds the search; what is left when it is reached is refused as a whole
//! (the dead-letter file says so), so that a batch never turns into one request per point.

use crate::line_protocol::parse_line;
use crate::value::FieldValue;

/// The most requests one batch's search may make (besides the first send).
pub(super) const MAX_REQUESTS: usize = 64;

/// A server's answer to a group of lines, as the search needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// Every line landed.
    Taken,
    /// Some lines were refused: the HTTP status, the server's reason, and how many lines it
    /// dropped if it said.
    Refused {
        status: u16,
        reason: String,
        dropped: Option<usize>,
    },
}

/// A line refused: its index, and the status and reason of the answer that refused it.
pub(super) type RefusedLine = (usize, u16, String);

/// What the search decided for a batch: the refused lines.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub(super) refused: Vec<RefusedLine>,
    /// Requests made after the first send.
    pub(super) requests: usize,
}

/// `dropped=N` at the end of an InfluxDB partial-write message.
pub(super) fn dropped_count(reason: &str) -> Option<usize> {
    let at = reason.rfind("dropped=")?;
    let digits: String = reason[at + "dropped=".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Sorts out which of `lines` were refused, given the server's `first` answer to all of them;
/// `send` sends a group of lines again and returns the answer.
pub(super) fn search(
    lines: &[&[u8]],
    first: Answer,
    mut send: impl FnMut(&[&[u8]]) -> crate::Result<Answer>,
) -> crate::Result<Outcome> {
    let mut outcome = Outcome::default();
    // Groups of line indexes, each with the answer the server gave for exactly that group.
    let mut groups: Vec<(Vec<usize>, Answer)> = vec![((0..lines.len()).collect(), first)];
    while let Some((group, answer)) = groups.pop() {
        let (status, reason, dropped) = match answer {
            Answer::Taken => continue,
            Answer::Refused {
                status,
                reason,
                dropped,
            } => (status, reason, dropped),
        };
        if group.len() == 1 || dropped == Some(group.len()) {
            outcome
                .refused
                .extend(group.into_iter().map(|i| (i, status, reason.clone())));
            continue;
        }
        if dropped == Some(0) {
            continue;
        }
        let described = describe(&reason)
            .map(|refusal| {
                group
                    .iter()
                    .copied()
                    .filter(|&i| refusal.matches(lines[i]))
                    .collect::<Vec<usize>>()
            })
            // Lines the reason describes, if that is neither none nor more than were dropped.
            .filter(|r| !r.is_empty() && r.len() <= dropped.unwrap_or(usize::MAX));
        if let Some(refused) = described {
            let all_dropped = refused.len() == group.len() || dropped == Some(refused.len());
            let rest: Vec<usize> = group
                .into_iter()
                .filter(|i| refused.binary_search(i).is_err())
                .collect();
            outcome
                .refused
                .extend(refused.into_iter().map(|i| (i, status, reason.clone())));
            if all_dropped || rest.is_empty() {
                continue;
            }
            if outcome.requests >= MAX_REQUESTS {
                give_up(&mut outcome, rest, status, &reason);
                continue;
            }
            // Other lines were refused for other reasons: the rest again, to hear them.
            let answer = send(&pick(lines, &rest))?;
            outcome.requests += 1;
            groups.push((rest, answer));
            continue;
        }
        if outcome.requests + 2 > MAX_REQUESTS {
            give_up(&mut outcome, group, status, &reason);
            continue;
        }
        let (first_half, second_half) = group.split_at(group.len() / 2);
        for half in [first_half, second_half] {
            let answer = send(&pick(lines, half))?;
            outcome.requests += 1;
            groups.push((half.to_vec(), answer));
        }
    }
    outcome.refused.sort_unstable_by_key(|(i, _, _)| *i);
    Ok(outcome)
}

/// Refuses a whole group the cap left unsorted, saying so with the server's reason.
fn give_up(outcome: &mut Outcome, group: Vec<usize>, status: u16, reason: &str) {
    let reason = format!(
        "{reason} (one of {} lines of which the server refused some; not sorted out within {MAX_REQUESTS} requests)",
        group.len()
    );
    outcome
        .refused
        .extend(group.into_iter().map(|i| (i, status, reason.clone())));
}

fn pick<'a>(lines: &[&'a [u8]], indexes: &[usize]) -> Vec<&'a [u8]> {
    indexes.iter().map(|&i| lines[i]).collect()
}

/// A refusal a server's reason describes precisely enough to find its lines.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// `input field "field" on measurement "measurement" is type kind`.
    FieldType {
        measurement: String,
        field: String,
        kind: String,
    },
    /// `max-values-per-tag limit exceeded (…): measurement="m" tag="t" value="v"`.
    TagValue {
        measurement: String,
        tag: String,
        value: String,
    },
}

impl Refusal {
    fn matches(&self, line: &[u8]) -> bool {
        let Some(parsed) = std::str::from_utf8(line)
            .ok()
            .and_then(|text| parse_line(text.trim_end_matches(['\n', '\r'])).ok())
        else {
            return false;
        };
        match self {
            Refusal::FieldType {
                measurement,
                field,
                kind,
            } => {
                parsed.measurement == measurement.as_str()
                    && parsed
                        .fields
                        .iter()
                        .any(|(name, value)| name == field && type_name(value) == kind)
            }
            Refusal::TagValue {
                measurement,
                tag,
                value,
            } => {
                parsed.measurement == measurement.as_str()
                    && parsed.tags.iter().any(|(k, v)| k == tag && v == value)
            }
        }
    }
}

/// The type names InfluxDB's messages use.
fn type_name(value: &FieldValue) -> &'static str {
    match value {
        FieldValue::Float(_) => "float",
        FieldValue::Int(_) => "integer",
        FieldValue::UInt(_) => "unsigned",
        FieldValue::Bool(_) => "boolean",
        FieldValue::Str(_) => "string",
    }
}

/// The refusal `reason` describes, if it is one of those the search can match lines to.
fn describe(reason: &str) -> Option<Refusal> {
    if let Some(at) = reason.find("input field \"") {
        let rest = &reason[at + "input field ".len()..];
        let (field, rest) = quoted(rest)?;
        let rest = rest.strip_prefix(" on measurement ")?;
        let (measurement, rest) = quoted(rest)?;
        let kind = rest
            .strip_prefix(" is type ")?
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()?;
        return Some(Refusal::FieldType {
            measurement,
            field,
            kind: kind.to_string(),
        });
    }
    if reason.contains("max-values-per-tag limit exceeded") {
        let value_of = |key: &str| {
            let at = reason.find(&format!("{key}="))?;
            quoted(&reason[at + key.len() + 1..]).map(|(value, _)| value)
        };
        return Some(Refusal::TagValue {
            measurement: value_of("measurement")?,
            tag: value_of("tag")?,
            value: value_of("value")?,
        });
    }
    None
}

/// A Go-quoted string at the start of `text` (`"a \"b\""`), unquoted, and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[at + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server as InfluxDB 1.x behaves: a line lands unless `refused` says why not; a refused
    /// batch is answered with the first refused line's reason and the count of dropped lines.
    fn server<'a>(
        refused: impl Fn(&str) -> Option<String> + 'a,
        requests: &'a std::cell::Cell<usize>,
    ) -> impl FnMut(&[&[u8]]) -> crate::Result<Answer> + 'a {
        move |lines: &[&[u8]]| {
            requests.set(requests.get() + 1);
            let reasons: Vec<String> = lines
                .iter()
                .filter_map(|l| refused(std::str::from_utf8(l).unwrap()))
                .collect();
            Ok(match reasons.first() {
                None => Answer::Taken,
                Some(first) => Answer::Refused {
                    status: 400,
                    reason: format!("partial write: {first} dropped={}", reasons.len()),
                    dropped: Some(reasons.len()),
                },
            })
        }
    }

    fn conflict(line: &str) -> Option<String> {
        line.contains("v=\"")
            .then(|| "field type conflict: input field \"v\" on measurement \"m\" is type string, already exists as type float".into())
    }

    fn run(lines: &[String], refused: impl Fn(&str) -> Option<String>) -> (Outcome, usize) {
        let requests = std::cell::Cell::new(0);
        let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        let mut send = server(refused, &requests);
        let first = send(&lines).unwrap();
        requests.set(0);
        let outcome = search(&lines, first, &mut send).unwrap();
        (outcome, requests.get())
    }

    #[test]
    fn a_batch_refused_whole_is_settled_without_another_request() {
        let lines: Vec<String> = (0..20_000).map(|i| format!("m v=\"x{i}\" {i}\n")).collect();
        let (outcome, requests) = run(&lines, conflict);
        assert_eq!(outcome.refused.len(), 20_000);
        assert_eq!(requests, 0);
    }

    #[test]
    fn interleaved_refusals_of_one_kind_are_found_from_the_reason() {
        let lines: Vec<String> = (0..40_000)
            .map(|i| match i % 2 {
                0 => format!("m v={i} {i}\n"),
                _ => format!("m v=\"x{i}\" {i}\n"),
            })
            .collect();
        let (outcome, requests) = run(&lines, conflict);
        assert_eq!(requests, 0);
        let refused: Vec<usize> = outcome.refused.iter().map(|(i, _, _)| *i).collect();
        assert_eq!(
            refused,
            (0..40_000).filter(|i| i % 2 == 1).collect::<Vec<_>>()
        );
        assert!(outcome.refused[0].2.contains("is type string"));
    }

    #[test]
    fn refusals_of_several_kinds_take_a_request_per_kind() {
        let lines: Vec<String> = (0..3_000)
            .map(|i| match i % 3 {
                0 => format!("m v={i} {i}\n"),
                1 => format!("m v=\"x\" {i}\n"),
                _ => format!("m,host=h{} w=1 {i}\n", i % 7),
            })
            .collect();
        let reason = |line: &str| {
            conflict(line).or_else(|| {
                let host = line.split(['=', ' ']).nth(1)?.to_string();
                (line.contains(",host=") && host != "h0").then(|| {
                    format!("max-values-per-tag limit exceeded (5/5): measurement=\"m\" tag=\"host\" value=\"{host}\"")
                })
            })
        };
        let (outcome, requests) = run(&lines, reason);
        let expected: Vec<usize> = (0..3_000)
            .filter(|i| i % 3 == 1 || (i % 3 == 2 && i % 7 != 0))
            .collect();
        assert_eq!(
            outcome
                .refused
                .iter()
                .map(|(i, _, _)| *i)
                .collect::<Vec<_>>(),
            expected
        );
        // The type conflict, then one tag value after another (six of them).
        assert!(requests <= 8, "{requests} requests");
    }

    /// The value of `v` in a line `m v=N …`.
    fn value_of(line: &str) -> Option<usize> {
        line.split(' ').nth(1)?.strip_prefix("v=")?.parse().ok()
    }

    #[test]
    fn reasons_that_name_no_lines_are_bisected_within_the_cap() {
        let lines: Vec<String> = (0..1_000).map(|i| format!("m v={i} {i}\n")).collect();
        let odd = |line: &str| -> Option<String> {
            let n = value_of(line)?;
            (n == 17 || n == 901).then(|| "something the search cannot read".into())
        };
        let (outcome, requests) = run(&lines, odd);
        let refused: Vec<usize> = outcome.refused.iter().map(|(i, _, _)| *i).collect();
        assert_eq!(refused, [17, 901]);
        assert!(requests <= MAX_REQUESTS, "{requests}");

        // Refusals everywhere, none of them readable: the cap holds, and nothing good is
        // called refused but what the cap left unsorted.
        let every_third = |line: &str| -> Option<String> {
            value_of(line)?
                .is_multiple_of(3)
                .then(|| "unreadable".into())
        };
        let (outcome, requests) = run(&lines, every_third);
        assert!(requests <= MAX_REQUESTS + 1, "{requests}");
        assert!(outcome
            .refused
            .iter()
            .all(|(i, _, reason)| i % 3 == 0 || reason.contains("not sorted out")));
        assert_eq!(
            outcome
                .refused
                .iter()
                .filter(|(i, _, _)| i % 3 == 0)
                .count(),
            334
        );
    }

    #[test]
    fn reasons_are_read_as_influxdb_writes_them() {
        assert_eq!(dropped_count("partial write: ... dropped=12"), Some(12));
        assert_eq!(dropped_count("unable to parse 'x': bad"), None);
        assert_eq!(
            describe("partial write: field type conflict: input field \"v a\" on measurement \"m\\\"x\" is type string, already exists as type float dropped=3"),
            Some(Refusal::FieldType {
                measurement: "m\"x".into(),
                field: "v a".into(),
                kind: "string".into()
            })
        );
        assert_eq!(
            describe("partial write: max-values-per-tag limit exceeded (100001/100000): measurement=\"cpu\" tag=\"host\" value=\"h9\" dropped=1"),
            Some(Refusal::TagValue {
                measurement: "cpu".into(),
                tag: "host".into(),
                value: "h9".into()
            })
        );
        let refusal = describe("input field \"v\" on measurement \"m s\" is type integer").unwrap();
        assert!(refusal.matches(b"m\\ s,t=a v=3i 1\n"));
        assert!(!refusal.matches(b"m\\ s,t=a v=3 1\n"));
        assert!(!refusal.matches(b"other v=3i 1\n"));
    }
}
