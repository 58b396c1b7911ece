//! `DataLogger.dataset` built in Rust: the pending points (or those a Python writer is writing)
//! as the original's `DataEntry` objects — dicts with `measurement`, `fields`, `tags` and `time`
//! as keys and attributes — made straight from the batch's line protocol, without running any
//! Python `__init__`. Every writer of the original's users reads it (see the `user writer` row
//! of `make bench-python`).

use influxdb_datalogger::line_protocol::{measurement_of, parse_line_into, ParsedLine};
use influxdb_datalogger::{Batch, Timestamp};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyType};

use crate::maps::DictMaker;
use crate::registry::registry;
use crate::rows::field_object;
use crate::schema::Schema;

/// A measurement of the batch, as entries show it: the object, and its schema when it is a
/// `Measurement` (whose `Field` and `Tag` objects become the maps' keys).
struct Group<'py> {
    object: Bound<'py, PyAny>,
    schema: Option<Bound<'py, Schema>>,
    lines: Vec<usize>,
}

/// The entries of `batch`, grouped by measurement in the order each first appears, each group
/// in logging order; with `last_only`, the last of them alone (`last_data_entry`). `known` maps
/// names to the `Measurement` objects logged; `named` finds the object for another name.
pub(crate) fn entries<'py>(
    py: Python<'py>,
    batch: &Batch,
    entry_cls: &Bound<'py, PyType>,
    known: &Bound<'py, PyDict>,
    named: &Bound<'py, PyAny>,
    last_only: bool,
) -> PyResult<Bound<'py, PyList>> {
    let registry = registry(py)?;
    // Four dicts an entry, all alive at the end: each of the cyclic collector's passes would go
    // over every one made so far (most of the time went there). None of them can form a cycle
    // before the list is returned; the collector runs again as usual afterwards.
    let _paused = GcPause::new(py)?;
    let field_map = registry.field_map.bind(py).cast::<PyType>()?;
    let tag_map = registry.tag_map.bind(py).cast::<PyType>()?;
    let lines: Vec<&str> = batch
        .lines()
        .map(|line| std::str::from_utf8(&line[..line.len() - 1]).expect("encoder writes UTF-8"))
        .collect();
    let names = lines
        .iter()
        .map(|text| measurement_of(text).expect("encoder writes lines that parse back"))
        .collect::<Vec<_>>();
    let mut groups: Vec<(&str, Group<'py>)> = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let name = name.as_ref();
        if let Some((_, group)) = groups.iter_mut().find(|(n, _)| *n == name) {
            group.lines.push(index);
            continue;
        }
        let object = match known.get_item(name)? {
            Some(object) => object,
            None => named.call1((name,))?,
        };
        let schema = object
            .is_instance(registry.measurement.bind(py))?
            .then(|| object.getattr(intern!(py, "_schema")))
            .transpose()?
            .map(|s| s.cast_into::<Schema>())
            .transpose()?;
        groups.push((
            name,
            Group {
                object,
                schema,
                lines: vec![index],
            },
        ));
    }
    if last_only {
        groups.drain(..groups.len().saturating_sub(1));
        if let Some((_, group)) = groups.first_mut() {
            group.lines.drain(..group.lines.len() - 1);
        }
    }
    let keys = [
        intern!(py, "measurement"),
        intern!(py, "fields"),
        intern!(py, "tags"),
        intern!(py, "time"),
    ];
    let nanos_per_unit = batch.precision().nanos_per_unit();
    let (entry_maker, field_map_maker, tag_map_maker) = (
        DictMaker::new(entry_cls)?,
        DictMaker::new(field_map)?,
        DictMaker::new(tag_map)?,
    );
    // Tag values repeat: one Python string for a value the tag had in the entry before
    // (compared with the string's own UTF-8, which the stable ABI lends).
    let mut last_tag_texts: Vec<Option<Bound<'py, PyString>>> = Vec::new();
    let mut clock = NaiveUtc::default();
    // One line at a time, into the same lists.
    let mut line = ParsedLine::default();
    let out = PyList::empty(py);
    for (_, group) in &groups {
        let schema = group.schema.as_ref().map(Bound::get);
        for &index in &group.lines {
            parse_line_into(lines[index], &mut line).expect("encoder writes lines that parse back");
            let fields = field_map_maker.make(py)?;
            for (name, value) in &line.fields {
                let key = match schema.and_then(|s| s.field_object(name)) {
                    Some(field) => field.bind(py).clone(),
                    None => PyString::new(py, name).into_any(),
                };
                fields.set_item(key, field_object(py, Some(value))?)?;
            }
            let tags = tag_map_maker.make(py)?;
            for (position, (name, value)) in line.tags.iter().enumerate() {
                let key = match schema.and_then(|s| s.tag_object(name)) {
                    Some(tag) => tag.bind(py).clone(),
                    None => PyString::new(py, name).into_any(),
                };
                if last_tag_texts.len() <= position {
                    last_tag_texts.resize(position + 1, None);
                }
                let slot = &mut last_tag_texts[position];
                let text = match slot {
                    Some(last) if last.to_str()? == value.as_ref() => last.clone(),
                    _ => slot.insert(PyString::new(py, value)).clone(),
                };
                tags.set_item(key, text)?;
            }
            let nanos = line
                .timestamp
                .unwrap_or_default()
                .saturating_mul(nanos_per_unit);
            let time = PyString::new(py, clock.format(nanos));
            let attributes = PyDict::new(py);
            let values = [
                group.object.clone(),
                fields.into_any(),
                tags.into_any(),
                time.into_any(),
            ];
            for (key, value) in keys.iter().zip(values) {
                attributes.set_item(key, value)?;
            }
            let entry = entry_maker.make(py)?;
            // Into an empty dict, `update` copies the table at once.
            entry.update(attributes.as_mapping())?;
            set_instance_dict(&entry, &attributes)?;
            out.append(entry)?;
        }
    }
    Ok(out)
}

/// Makes `attributes` the `__dict__` of `object` as `object.__setattr__` would: `DataEntry`'s
/// own `__setattr__` would also add the key to the entry.
#[allow(unsafe_code)]
fn set_instance_dict(object: &Bound<'_, PyDict>, attributes: &Bound<'_, PyDict>) -> PyResult<()> {
    // SAFETY: both are live objects; the call takes its own reference to `attributes` and
    // returns -1 with an exception set when `object` has no `__dict__`.
    let status = unsafe {
        pyo3::ffi::PyObject_GenericSetDict(
            object.as_ptr(),
            attributes.as_ptr(),
            std::ptr::null_mut(),
        )
    };
    if status == 0 {
        Ok(())
    } else {
        Err(PyErr::fetch(object.py()))
    }
}

/// Keeps Python's cyclic garbage collector off while it lives (if it was on).
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import(intern!(py, "gc"))?;
        if !gc.call_method0(intern!(py, "isenabled"))?.is_truthy()? {
            return Ok(GcPause { gc: None });
        }
        gc.call_method0(intern!(py, "disable"))?;
        Ok(GcPause { gc: Some(gc) })
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0(intern!(gc.py(), "enable"));
        }
    }
}

/// `str()` of the naive UTC `datetime` at a time, as the original shows an entry's time:
/// `2023-11-14 22:13:20.123456`, without the fraction when it is zero (nanoseconds below a
/// microsecond are dropped, as `datetime` cannot hold them). The date is worked out once a day.
#[derive(Default)]
struct NaiveUtc {
    day: Option<i64>,
    text: [u8; 26],
}

impl NaiveUtc {
    const MICROS_PER_DAY: i64 = 86_400_000_000;

    fn format(&mut self, nanos: i64) -> &str {
        let micros = nanos.div_euclid(1_000);
        let day = micros.div_euclid(Self::MICROS_PER_DAY);
        if self.day != Some(day) {
            // `YYYY-MM-DDT…` from the RFC 3339 form; years beyond 9999 do not fit a datetime.
            let midnight = Timestamp::from_nanos(day.saturating_mul(Self::MICROS_PER_DAY * 1_000));
            self.text[..10].copy_from_slice(&midnight.to_string().as_bytes()[..10]);
            self.text[10] = b' ';
            self.day = Some(day);
        }
        let of_day = micros.rem_euclid(Self::MICROS_PER_DAY);
        let (seconds, fraction) = (of_day / 1_000_000, of_day % 1_000_000);
        let mut put = |at: usize, value: i64, digits: usize| {
            let mut value = value;
            for i in (0..digits).rev() {
                self.text[at + i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(11, seconds / 3600, 2);
        put(14, seconds / 60 % 60, 2);
        put(17, seconds % 60, 2);
        put(20, fraction, 6);
        self.text[13] = b':';
        self.text[16] = b':';
        self.text[19] = b'.';
        let len = if fraction == 0 { 19 } else { 26 };
        std::str::from_utf8(&self.text[..len]).expect("ASCII digits and separators")
    }
}

#[cfg(test)]
mod tests {
    use super::NaiveUtc;

    fn naive_utc(nanos: i64) -> String {
        NaiveUtc::default().format(nanos).to_string()
    }

    #[test]
    fn times_read_as_str_of_a_naive_utc_datetime() {
        assert_eq!(naive_utc(0), "1970-01-01 00:00:00");
        assert_eq!(
            naive_utc(1_700_000_000_123_456_789),
            "2023-11-14 22:13:20.123456"
        );
        assert_eq!(naive_utc(1_700_000_000_000_000_999), "2023-11-14 22:13:20");
        assert_eq!(naive_utc(1_000), "1970-01-01 00:00:00.000001");
        // Before the epoch, towards the past, as `timedelta(microseconds=nanos // 1000)`.
        assert_eq!(naive_utc(-1), "1969-12-31 23:59:59.999999");
        // One formatter for many times, across days.
        let mut clock = NaiveUtc::default();
        assert_eq!(
            clock.format(86_399_999_999_000),
            "1970-01-01 23:59:59.999999"
        );
        assert_eq!(clock.format(86_400_000_000_000), "1970-01-02 00:00:00");
        assert_eq!(
            clock.format(86_400_000_001_000),
            "1970-01-02 00:00:00.000001"
        );
    }
}
