//! [`MeasurementBuilder`]: a measurement's fields and tags, checked and escaped once, at
//! `build()`.

use std::sync::Arc;

use super::types::TypeSlot;
use super::{Field, FieldDef, Measurement, Schema, Tag, TagDef};
use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, Part};

/// Builds a [`Measurement`]; see [`Measurement::builder`].
#[must_use = "a builder does nothing until it is built"]
#[derive(Debug)]
pub struct MeasurementBuilder {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) fields: Vec<Field>,
    pub(super) tags: Vec<(Tag, bool)>,
    pub(super) check_field_types: bool,
}

impl MeasurementBuilder {
    /// Whether a value whose type is not its field's is refused at `log()` (on by default).
    /// Off, the database refuses it later (set aside in the dead-letter file) — as with the
    /// Python package this crate's bindings replace, which never checked types.
    pub fn check_field_types(mut self, on: bool) -> Self {
        self.check_field_types = on;
        self
    }

    /// Adds a field.
    pub fn field(mut self, field: Field) -> Self {
        self.fields.push(field);
        self
    }

    /// Adds several fields.
    pub fn fields(mut self, fields: impl IntoIterator<Item = Field>) -> Self {
        self.fields.extend(fields);
        self
    }

    /// Adds a tag that every point must carry.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.tags.push((tag, false));
        self
    }

    /// Adds several required tags.
    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tags.extend(tags.into_iter().map(|t| (t, false)));
        self
    }

    /// Adds a tag that points may leave without a value.
    pub fn optional_tag(mut self, tag: Tag) -> Self {
        self.tags.push((tag, true));
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks every name and default, escapes the names once, and builds the measurement.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidName`] for a name line protocol cannot carry; [`ErrorKind::Schema`] for a
    /// name defined twice, a field that is also a tag, a tag with both a default and a function, a
    /// default of another type than the field's declared one.
    pub fn build(self) -> Result<Measurement> {
        let name = self.name;
        let in_measurement = |e: Error| e.context(format_args!("measurement {name:?}"));
        let mut encoded_name = Vec::new();
        lp::write_escaped(&mut encoded_name, &name, Part::Measurement)
            .map_err(|p| lp::name_error(Part::Measurement, &name, &p))?;

        let mut fields = Vec::with_capacity(self.fields.len());
        for field in self.fields {
            if fields.iter().any(|d: &FieldDef| d.field.name == field.name) {
                return Err(in_measurement(schema_error(format!(
                    "field {:?} is defined twice",
                    field.name
                ))));
            }
            let mut encoded_key = Vec::new();
            lp::write_escaped(&mut encoded_key, &field.name, Part::FieldKey)
                .map_err(|p| in_measurement(lp::name_error(Part::FieldKey, &field.name, &p)))?;
            encoded_key.push(b'=');
            let ty = TypeSlot::new(field.declared_type, self.check_field_types);
            if let Some(default) = &field.default {
                lp::write_field_value(&mut Vec::new(), default).map_err(|p| {
                    in_measurement(lp::value_error(
                        format_args!("default of field {:?}", field.name),
                        default,
                        &p,
                    ))
                })?;
                if field.declared_type.is_some() {
                    ty.admit(default).map_err(|m| {
                        in_measurement(schema_error(format!(
                            "default of field {:?}: {}",
                            field.name,
                            m.describe(default)
                        )))
                    })?;
                }
            }
            fields.push(FieldDef {
                field,
                encoded_key: encoded_key.into(),
                ty,
            });
        }

        let mut tags: Vec<TagDef> = Vec::with_capacity(self.tags.len());
        for (tag, optional) in self.tags {
            if tags.iter().any(|d| d.tag.name == tag.name) {
                return Err(in_measurement(schema_error(format!(
                    "tag {:?} is defined twice",
                    tag.name
                ))));
            }
            if fields.iter().any(|d| d.field.name == tag.name) {
                return Err(in_measurement(schema_error(format!(
                    "{:?} is defined as both a field and a tag; InfluxDB cannot query such a pair",
                    tag.name
                ))));
            }
            if tag.default.is_some() && tag.func.is_some() {
                return Err(in_measurement(schema_error(format!(
                    "tag {:?} has both a default and a function; give it one or the other",
                    tag.name
                ))));
            }
            let mut encoded_key = vec![b','];
            lp::write_escaped(&mut encoded_key, &tag.name, Part::TagKey)
                .map_err(|p| in_measurement(lp::name_error(Part::TagKey, &tag.name, &p)))?;
            encoded_key.push(b'=');
            if let Some(default) = tag.default.as_deref().filter(|d| !d.is_empty()) {
                lp::check(default, Part::TagValue).map_err(|p| {
                    in_measurement(lp::value_error(
                        format_args!("default of tag {:?}", tag.name),
                        &default,
                        &p,
                    ))
                })?;
            }
            tags.push(TagDef {
                tag,
                optional,
                encoded_key: encoded_key.into(),
            });
        }
        let mut declared: Vec<(usize, TagDef)> = tags.into_iter().enumerate().collect();
        declared.sort_by(|(_, a), (_, b)| a.tag.name.as_bytes().cmp(b.tag.name.as_bytes()));
        let (declared_at, tags): (Vec<usize>, Vec<TagDef>) = declared.into_iter().unzip();

        Ok(Measurement(Arc::new(Schema {
            name,
            encoded_name: encoded_name.into(),
            description: self.description,
            fields,
            tags,
            declared_at: declared_at.into(),
        })))
    }
}

pub(super) fn schema_error(message: String) -> Error {
    Error::new(ErrorKind::Schema, message)
}
