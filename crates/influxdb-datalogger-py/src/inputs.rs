//! The fields and tags of one Python log call, as the core's input traits: matched to their
//! schema slots by the binding, merged with the values Python functions compute.

use std::borrow::Cow;

use influxdb_datalogger::{FieldInput, FieldValue, TagInput};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use smallvec::SmallVec;

use crate::convert;
use crate::schema::Schema;

/// A field resolved to its schema slot by the binding.
pub(crate) struct FieldIn<'a> {
    pub(crate) index: usize,
    pub(crate) key: &'a str,
    pub(crate) value: Option<FieldValue>,
}

impl<'a> FieldIn<'a> {
    /// The field in slot `index` of `schema`, with `value`.
    pub(crate) fn new(schema: &'a Schema, index: usize, value: Option<FieldValue>) -> Self {
        Self {
            index,
            key: schema.measurement.field_name(index).unwrap_or_default(),
            value,
        }
    }
}

impl FieldInput for FieldIn<'_> {
    fn key(&self) -> &str {
        self.key
    }
    fn value(&self) -> Option<&FieldValue> {
        self.value.as_ref()
    }
    fn schema_index(&self) -> Option<usize> {
        Some(self.index)
    }
}

/// A tag resolved to its schema slot by the binding.
pub(crate) struct TagIn<'a> {
    index: usize,
    key: &'a str,
    value: Option<Cow<'a, str>>,
}

impl TagInput for TagIn<'_> {
    fn key(&self) -> &str {
        self.key
    }
    fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
    fn schema_index(&self) -> Option<usize> {
        Some(self.index)
    }
}

pub(crate) type Fields<'a> = SmallVec<[FieldIn<'a>; 8]>;
pub(crate) type Tags<'a> = SmallVec<[TagIn<'a>; 8]>;
/// Tag values still as Python objects, by schema slot.
pub(crate) type TagObjects<'py> = SmallVec<[(usize, Bound<'py, PyAny>); 8]>;

/// `measurement, field 'name'` for an error about a field's value.
pub(crate) fn field_context(schema: &Schema, key: &Bound<'_, PyAny>) -> String {
    format!(
        "measurement {:?}, field {}",
        schema.measurement.name(),
        key.repr().map(|r| r.to_string()).unwrap_or_default()
    )
}

/// The given fields with the values Python functions compute for the others added, and the
/// tag values: given ones, then computed ones for the tags not given. A given value always
/// wins over a computed one.
pub(crate) fn merge_computed<'a, 'py>(
    measurement: &Bound<'py, PyAny>,
    schema: &'a Schema,
    fields: &mut Fields<'a>,
    fields_map: Option<&Bound<'py, PyDict>>,
    tags_map: Option<&Bound<'py, PyAny>>,
) -> PyResult<TagObjects<'py>> {
    let py = measurement.py();
    let computed = if schema.has_funcs {
        let pair = measurement.call_method1(intern!(py, "_func_values"), (fields_map, tags_map))?;
        Some(pair.cast_into::<PyTuple>()?)
    } else {
        None
    };
    if let Some(pair) = &computed {
        let computed_fields = pair.get_item(0)?.cast_into::<PyDict>()?;
        let mut merged = Fields::new();
        for (key, value) in computed_fields.iter() {
            let index = schema.field_slot(&key)?;
            if fields.iter().any(|f| f.index == index) {
                continue;
            }
            let value = convert::field_value(&value, || field_context(schema, &key))?;
            merged.push(FieldIn::new(schema, index, value));
        }
        // Computed values first, as the original orders them.
        merged.extend(fields.drain(..));
        *fields = merged;
    }
    let mut tags = TagObjects::new();
    if let Some(given) = tags_map {
        for (key, value) in given.cast::<PyDict>()?.iter() {
            tags.push((schema.tag_slot(&key)?, value));
        }
    }
    if let Some(pair) = &computed {
        let given = tags.len();
        for (key, value) in pair.get_item(1)?.cast_into::<PyDict>()?.iter() {
            let index = schema.tag_slot(&key)?;
            if !tags[..given].iter().any(|(i, _)| *i == index) {
                tags.push((index, value));
            }
        }
    }
    Ok(tags)
}

/// The tags as the core's input, each `str` value borrowed (the stable ABI of 3.10 reads a
/// `str`'s UTF-8 in place), any other value converted with `str()`.
pub(crate) fn tag_inputs<'a>(schema: &'a Schema, tags: &'a TagObjects<'_>) -> PyResult<Tags<'a>> {
    tags.iter()
        .map(|(index, value)| {
            Ok(TagIn {
                index: *index,
                key: tag_name(schema, *index),
                value: convert::tag_value(value)?,
            })
        })
        .collect()
}

fn tag_name(schema: &Schema, index: usize) -> &str {
    schema.measurement.tag_name(index).unwrap_or_default()
}
