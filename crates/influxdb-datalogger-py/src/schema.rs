//! `Schema`: the core measurement behind a Python `Measurement`, with the Python `Field` and
//! `Tag` objects kept so that log calls can match keys by identity instead of decoding them.

use influxdb_datalogger::{Field, Measurement, Tag};
use pyo3::prelude::*;

use crate::convert;
use crate::errors::IntoPyResult;

#[pyclass(frozen, module = "influxdb_datalogger._native")]
pub struct Schema {
    pub(crate) measurement: Measurement,
    /// The Python field objects, in the core's field order.
    field_objects: Vec<Py<PyAny>>,
    /// The Python tag objects, in the core's tag order (sorted by name).
    tag_objects: Vec<Py<PyAny>>,
    /// Whether some field or tag computes its value with a Python function.
    #[pyo3(get)]
    pub(crate) has_funcs: bool,
}

#[pymethods]
impl Schema {
    /// `fields`: `(Field, default)` pairs; `tags`: `(Tag, default, optional)` triples.
    #[new]
    fn new(
        name: &str,
        fields: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)>,
        tags: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>, bool)>,
        has_funcs: bool,
    ) -> PyResult<Self> {
        // The package these bindings replace never checked types: a change of type is left
        // for the database to refuse (dead-lettered, with a warning), as before.
        let mut builder = Measurement::builder(name).check_field_types(false);
        for (field, default) in &fields {
            let field_name = convert::name(field)?;
            let mut core = Field::new(field_name.as_ref());
            if let Some(value) = convert::field_value(default, || {
                format!("measurement {name:?}, default of field {field_name:?}")
            })? {
                core = core.with_default(value);
            }
            builder = builder.field(core);
        }
        for (tag, default, optional) in &tags {
            let mut core = Tag::new(convert::name(tag)?.as_ref());
            if let Some(value) = convert::tag_value(default)? {
                core = core.with_default(value.into_owned());
            }
            builder = if *optional {
                builder.optional_tag(core)
            } else {
                builder.tag(core)
            };
        }
        let measurement = builder.build().into_py_result()?;
        let find = |objects: &[Bound<'_, PyAny>], wanted: &str| -> PyResult<Py<PyAny>> {
            for object in objects {
                if convert::name(object)? == wanted {
                    return Ok(object.clone().unbind());
                }
            }
            unreachable!("the core keeps exactly the names it was given")
        };
        let field_list: Vec<Bound<'_, PyAny>> = fields.into_iter().map(|(f, _)| f).collect();
        let tag_list: Vec<Bound<'_, PyAny>> = tags.into_iter().map(|(t, _, _)| t).collect();
        let field_objects = measurement
            .fields()
            .map(|f| find(&field_list, f.name()))
            .collect::<PyResult<_>>()?;
        let tag_objects = measurement
            .tags()
            .map(|t| find(&tag_list, t.name()))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Schema {
            measurement,
            field_objects,
            tag_objects,
            has_funcs,
        })
    }

    /// The measurement's name.
    #[getter]
    fn name(&self) -> &str {
        self.measurement.name()
    }
}

impl Schema {
    /// The `Field` object of the field called `name`.
    pub(crate) fn field_object(&self, name: &str) -> Option<&Py<PyAny>> {
        self.field_objects.get(self.measurement.field_index(name)?)
    }

    /// The `Tag` object of the tag called `name`.
    pub(crate) fn tag_object(&self, name: &str) -> Option<&Py<PyAny>> {
        self.tag_objects.get(self.measurement.tag_index(name)?)
    }

    /// The core index of field `key`: by identity with the schema's own `Field` objects (no
    /// decoding), else by name.
    pub(crate) fn field_slot(&self, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        slot(
            &self.field_objects,
            key,
            |name| self.measurement.field_index(name),
            |name| self.measurement.unknown_field(name),
        )
    }

    /// The core index of tag `key`, as [`field_slot`](Schema::field_slot).
    pub(crate) fn tag_slot(&self, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        slot(
            &self.tag_objects,
            key,
            |name| self.measurement.tag_index(name),
            |name| self.measurement.unknown_tag(name),
        )
    }
}

fn slot(
    objects: &[Py<PyAny>],
    key: &Bound<'_, PyAny>,
    by_name: impl FnOnce(&str) -> Option<usize>,
    unknown: impl FnOnce(&str) -> influxdb_datalogger::Error,
) -> PyResult<usize> {
    if let Some(i) = objects.iter().position(|o| o.as_ptr() == key.as_ptr()) {
        return Ok(i);
    }
    let name = convert::name(key)?;
    by_name(&name).ok_or_else(|| crate::errors::to_py(unknown(&name)))
}
