//! Measurements, fields and tags: the schema a test defines once and logs against many times.
//!
//! Names are checked and escaped once, when a [`Measurement`] is built; logging then only
//! copies the escaped bytes.

mod builder;
mod fast;
mod field;
mod input;
mod resolve;
mod types;

use std::sync::Arc;

pub use builder::MeasurementBuilder;
pub use field::{Field, Tag};
pub use input::{FieldArg, FieldInput, IntoFieldArg, TagInput};
pub use types::FieldType;
use types::TypeSlot;

use crate::error::{Error, ErrorKind};

#[derive(Debug)]
struct FieldDef {
    field: Field,
    /// The escaped key followed by `=`.
    encoded_key: Box<[u8]>,
    ty: TypeSlot,
}

#[derive(Debug)]
struct TagDef {
    tag: Tag,
    optional: bool,
    /// `,` then the escaped key then `=`.
    encoded_key: Box<[u8]>,
}

#[derive(Debug)]
struct Schema {
    name: String,
    encoded_name: Box<[u8]>,
    description: Option<String>,
    fields: Vec<FieldDef>,
    /// Sorted by key, the order InfluxDB prefers.
    tags: Vec<TagDef>,
    /// For each tag in `tags` (sorted), its position among the tags as declared: callers
    /// usually give tags in that order, and the fast path then needs no name lookup.
    declared_at: Box<[usize]>,
}

/// A measurement: a name with the fields and tags it may carry. Cheap to clone and share.
///
/// ```
/// use influxdb_datalogger::{Field, Measurement, Tag};
///
/// let request = Measurement::builder("request")
///     .field(Field::new("duration").with_description("seconds"))
///     .tag(Tag::new("endpoint"))
///     .optional_tag(Tag::new("retry"))
///     .build()?;
/// assert_eq!(request.name(), "request");
/// # Ok::<(), influxdb_datalogger::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Measurement(Arc<Schema>);

/// The same schema: the same one, or one with the same name, fields and tags (names,
/// defaults, types, which tags are optional) and no functions (which cannot be compared).
impl PartialEq for Measurement {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.0, &other.0) {
            return true;
        }
        let (a, b) = (&*self.0, &*other.0);
        let same_field = |x: &FieldDef, y: &FieldDef| {
            x.field.name == y.field.name
                && x.field.default == y.field.default
                && x.field.declared_type == y.field.declared_type
                && x.field.func.is_none()
                && y.field.func.is_none()
        };
        let same_tag = |x: &TagDef, y: &TagDef| {
            x.tag.name == y.tag.name
                && x.optional == y.optional
                && x.tag.default == y.tag.default
                && x.tag.func.is_none()
                && y.tag.func.is_none()
        };
        a.name == b.name
            && a.fields.len() == b.fields.len()
            && a.tags.len() == b.tags.len()
            && a.fields
                .iter()
                .zip(&b.fields)
                .all(|(x, y)| same_field(x, y))
            && a.tags.iter().zip(&b.tags).all(|(x, y)| same_tag(x, y))
    }
}

impl Measurement {
    /// Starts building a measurement called `name`.
    pub fn builder(name: impl Into<String>) -> MeasurementBuilder {
        MeasurementBuilder {
            name: name.into(),
            description: None,
            fields: Vec::new(),
            tags: Vec::new(),
            check_field_types: true,
        }
    }

    /// The measurement's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The type of field `name`: declared, or fixed by the first value logged; `None` for a
    /// field not yet logged, or not in the schema.
    pub fn field_type(&self, name: &str) -> Option<FieldType> {
        self.0
            .fields
            .iter()
            .find(|d| d.field.name == name)
            .and_then(|d| d.ty.get())
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The fields, in the order they were defined.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = &Field> {
        self.0.fields.iter().map(|d| &d.field)
    }

    /// The tags (required and optional), sorted by name.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &Tag> {
        self.0.tags.iter().map(|d| &d.tag)
    }

    /// Whether any field or tag computes its value with a function.
    pub fn has_funcs(&self) -> bool {
        self.0.fields.iter().any(|d| d.field.func.is_some())
            || self.0.tags.iter().any(|d| d.tag.func.is_some())
    }

    /// Whether `tag` is an optional tag of this measurement.
    pub fn is_optional_tag(&self, tag: &str) -> bool {
        self.0.tags.iter().any(|d| d.optional && d.tag.name == tag)
    }

    /// Whether the measurement defines a field called `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.field_index(name).is_some()
    }

    /// Whether the measurement defines a tag called `name`.
    pub fn has_tag(&self, name: &str) -> bool {
        self.tag_index(name).is_some()
    }

    /// The position of field `name` in [`fields`](Measurement::fields).
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.0.fields.iter().position(|d| d.field.name == name)
    }

    /// The position of tag `name` in [`tags`](Measurement::tags) (sorted by name).
    pub fn tag_index(&self, name: &str) -> Option<usize> {
        self.0.tags.iter().position(|d| d.tag.name == name)
    }

    /// The name of the field at `index` in [`fields`](Measurement::fields).
    pub fn field_name(&self, index: usize) -> Option<&str> {
        self.0.fields.get(index).map(|d| d.field.name.as_str())
    }

    /// The name of the tag at `index` in [`tags`](Measurement::tags).
    pub fn tag_name(&self, index: usize) -> Option<&str> {
        self.0.tags.get(index).map(|d| d.tag.name.as_str())
    }

    /// The error for a field this measurement does not define, listing the ones it does.
    pub fn unknown_field(&self, name: &str) -> Error {
        let known: Vec<&str> = self.fields().map(Field::name).collect();
        Error::new(
            ErrorKind::UnknownField,
            format!(
                "measurement {:?} has no field {} (its fields: {})",
                self.name(),
                crate::error::quote(&name),
                known.join(", ")
            ),
        )
    }

    /// The error for a tag this measurement does not define, listing the ones it does.
    pub fn unknown_tag(&self, name: &str) -> Error {
        let known: Vec<&str> = self.tags().map(Tag::name).collect();
        Error::new(
            ErrorKind::UnknownTag,
            format!(
                "measurement {:?} has no tag {} (its tags: {})",
                self.name(),
                crate::error::quote(&name),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        )
    }
}

#[cfg(test)]
mod tests;
