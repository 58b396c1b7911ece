//! Measurements, fields and tags: the schema a test defines once and logs against many times.
//!
//! Names are checked and escaped once, when a [`Measurement`] is built; logging then only
//! copies the escaped bytes.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

mod fast;
mod types;

pub use types::FieldType;
use types::TypeSlot;

use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, Part};
use crate::value::{FieldValue, Precision, Timestamp};

type FieldFn = Arc<dyn Fn() -> FieldValue + Send + Sync>;
type TagFn = Arc<dyn Fn() -> String + Send + Sync>;

/// A field of a measurement: a name, and optionally a default value or a function computed at
/// every log. A field may have both; the function wins.
#[derive(Clone)]
pub struct Field {
    name: String,
    description: Option<String>,
    default: Option<FieldValue>,
    func: Option<FieldFn>,
    declared_type: Option<FieldType>,
}

impl Field {
    /// A field called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Field {
            name: name.into(),
            description: None,
            default: None,
            func: None,
            declared_type: None,
        }
    }

    /// The type the field's values have; without it, the first value logged fixes it. A value
    /// of another type is refused at `log()` (an integer for a float field is written as a
    /// float when it converts exactly).
    pub fn with_type(mut self, field_type: FieldType) -> Self {
        self.declared_type = Some(field_type);
        self
    }

    /// The value used when a log call gives none.
    pub fn with_default(mut self, value: impl Into<FieldValue>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// A function called at every log that gives no value for this field.
    pub fn with_func<V: Into<FieldValue>>(
        mut self,
        func: impl Fn() -> V + Send + Sync + 'static,
    ) -> Self {
        self.func = Some(Arc::new(move || func().into()));
        self
    }

    /// A description, for people reading the schema.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The default value, if any.
    pub fn default_value(&self) -> Option<&FieldValue> {
        self.default.as_ref()
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("name", &self.name)
            .field("default", &self.default)
            .field("func", &self.func.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// A tag of a measurement: a name, and optionally a default value *or* a function computed at
/// every log (e.g. the host name) — not both.
#[derive(Clone)]
pub struct Tag {
    name: String,
    description: Option<String>,
    default: Option<String>,
    func: Option<TagFn>,
}

impl Tag {
    /// A tag called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Tag {
            name: name.into(),
            description: None,
            default: None,
            func: None,
        }
    }

    /// The value used when a log call gives none.
    pub fn with_default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// A function called at every log that gives no value for this tag.
    pub fn with_func<S: Into<String>>(
        mut self,
        func: impl Fn() -> S + Send + Sync + 'static,
    ) -> Self {
        self.func = Some(Arc::new(move || func().into()));
        self
    }

    /// A description, for people reading the schema.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The tag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The default value, if any.
    pub fn default_value(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("name", &self.name)
            .field("default", &self.default)
            .field("func", &self.func.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

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

/// Builds a [`Measurement`]; see [`Measurement::builder`].
#[must_use = "a builder does nothing until it is built"]
#[derive(Debug)]
pub struct MeasurementBuilder {
    name: String,
    description: Option<String>,
    fields: Vec<Field>,
    tags: Vec<(Tag, bool)>,
    check_field_types: bool,
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

fn schema_error(message: String) -> Error {
    Error::new(ErrorKind::Schema, message)
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

    /// Encodes one point into `out`: the given values merged over the schema's functions and
    /// defaults, checked and escaped. Every field must end up with a value, and every required
    /// tag too. On error `out` is left as it was.
    ///
    /// # Errors
    /// As `log` refuses a point: an unknown field or tag, a value line protocol cannot carry or of
    /// another type than the field's, a missing value; `out` is left as it was.
    pub fn encode<F: FieldInput, T: TagInput>(
        &self,
        out: &mut Vec<u8>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> Result<()> {
        if self
            .encode_fast(out, fields, tags, time, precision)
            .is_some()
        {
            return Ok(());
        }
        self.encode_general(out, fields, tags, time, precision)
    }

    /// The general path of [`encode`](Measurement::encode): every case, every error.
    pub(crate) fn encode_general<F: FieldInput, T: TagInput>(
        &self,
        out: &mut Vec<u8>,
        fields: &[F],
        tags: &[T],
        time: Timestamp,
        precision: Precision,
    ) -> Result<()> {
        let resolved = self.resolve(fields, tags)?;
        if let Some(missing) = resolved.first_missing() {
            return Err(missing);
        }
        resolved.encode(out, time, precision).map(drop)
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

    fn given_twice(&self, what: &str, name: &str) -> Error {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "measurement {:?}: {what} {name:?} is given twice in one point; give each once",
                self.name()
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

    /// Merges given values over functions over defaults (later wins), refusing unknown names.
    /// Functions are called only for what the caller did not give.
    pub(crate) fn resolve<'a, F: FieldInput, T: TagInput>(
        &'a self,
        fields: &'a [F],
        tags: &'a [T],
    ) -> Result<Resolved<'a>> {
        let schema = &*self.0;
        let mut tag_slots: SmallVec<[Slot<'a, str>; 8]> =
            smallvec::smallvec![Slot::Unset; schema.tags.len()];
        for given in tags {
            let i = match given.schema_index() {
                Some(i) if i < schema.tags.len() => i,
                _ => self
                    .tag_index(given.key())
                    .ok_or_else(|| self.unknown_tag(given.key()))?,
            };
            if !matches!(tag_slots[i], Slot::Unset) {
                return Err(self.given_twice("tag", &schema.tags[i].tag.name));
            }
            tag_slots[i] = given
                .value()
                .map_or(Slot::Null, |v| Slot::Value(Cow::Borrowed(v)));
        }
        for (slot, def) in tag_slots.iter_mut().zip(&schema.tags) {
            if matches!(slot, Slot::Unset) {
                if let Some(func) = &def.tag.func {
                    *slot = Slot::Value(Cow::Owned(func()));
                } else if let Some(default) = &def.tag.default {
                    *slot = Slot::Value(Cow::Borrowed(default));
                }
            }
        }
        let mut field_slots: SmallVec<[Slot<'a, FieldValue>; 8]> =
            smallvec::smallvec![Slot::Unset; schema.fields.len()];
        for given in fields {
            let i = match given.schema_index() {
                Some(i) if i < schema.fields.len() => i,
                _ => self
                    .field_index(given.key())
                    .ok_or_else(|| self.unknown_field(given.key()))?,
            };
            if given.value().is_none() && given.absent_when_none() {
                // Left out: as if not given.
                continue;
            }
            if !matches!(field_slots[i], Slot::Unset) {
                return Err(self.given_twice("field", &schema.fields[i].field.name));
            }
            field_slots[i] = given
                .value()
                .map_or(Slot::Null, |v| Slot::Value(Cow::Borrowed(v)));
        }
        for (slot, def) in field_slots.iter_mut().zip(&schema.fields) {
            if matches!(slot, Slot::Unset) {
                if let Some(func) = &def.field.func {
                    *slot = Slot::Value(Cow::Owned(func()));
                } else if let Some(default) = &def.field.default {
                    *slot = Slot::Value(Cow::Borrowed(default));
                }
            }
        }
        Ok(Resolved {
            measurement: self,
            tags: tag_slots,
            fields: field_slots,
        })
    }
}

/// A value slot while merging: not given, given as "no value", or a value.
pub(crate) enum Slot<'a, T: ?Sized + ToOwned> {
    Unset,
    Null,
    Value(Cow<'a, T>),
}

impl<T: ?Sized + ToOwned> Clone for Slot<'_, T> {
    fn clone(&self) -> Self {
        match self {
            Slot::Unset => Slot::Unset,
            Slot::Null => Slot::Null,
            Slot::Value(v) => Slot::Value(v.clone()),
        }
    }
}

impl<T: ?Sized + ToOwned> Slot<'_, T> {
    fn value(&self) -> Option<&T> {
        match self {
            Slot::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// A point's values after merging, in schema order.
pub(crate) struct Resolved<'a> {
    measurement: &'a Measurement,
    tags: SmallVec<[Slot<'a, str>; 8]>,
    fields: SmallVec<[Slot<'a, FieldValue>; 8]>,
}

impl Resolved<'_> {
    /// The names of the fields and required tags that have no value.
    pub(crate) fn missing(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let schema = &self.measurement.0;
        let fields = schema
            .fields
            .iter()
            .zip(&self.fields)
            .filter(|(_, s)| s.value().is_none())
            .map(|(d, _)| ("field", d.field.name.as_str()));
        let tags = schema
            .tags
            .iter()
            .zip(&self.tags)
            .filter(|(d, s)| !d.optional && s.value().is_none())
            .map(|(d, _)| ("tag", d.tag.name.as_str()));
        fields.chain(tags)
    }

    pub(crate) fn first_missing(&self) -> Option<Error> {
        let schema = &self.measurement.0;
        let empty_required = schema
            .tags
            .iter()
            .zip(&self.tags)
            .find(|(d, s)| !d.optional && s.value() == Some(""));
        if let Some((def, _)) = empty_required {
            return Some(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "measurement {:?}: tag {:?} is required and its value is empty (line protocol has no empty tag values); the point was not logged",
                    self.measurement.name(),
                    def.tag.name
                ),
            ));
        }
        self.missing().next().map(|(what, name)| {
            Error::new(
                ErrorKind::IncompletePoint,
                format!(
                    "measurement {:?}: {what} {name:?} has no value; the point was not logged",
                    self.measurement.name()
                ),
            )
        })
    }

    /// Appends the point as one line and returns the length of its series key (measurement and
    /// tags). On error `out` is left as it was.
    pub(crate) fn encode(
        &self,
        out: &mut Vec<u8>,
        time: Timestamp,
        precision: Precision,
    ) -> Result<usize> {
        let mark = out.len();
        out.extend_from_slice(&self.measurement.0.encoded_name);
        let mut series_len = 0;
        let result = self.write_tags(out).and_then(|()| {
            series_len = out.len() - mark;
            self.write_fields(out)
        });
        match result {
            Ok(0) => {
                out.truncate(mark);
                Err(Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "measurement {:?}: a point needs at least one field; line protocol cannot carry one without",
                        self.measurement.name()
                    ),
                ))
            }
            Ok(_) => {
                lp::write_timestamp_and_newline(out, time, precision);
                Ok(series_len)
            }
            Err(e) => {
                out.truncate(mark);
                Err(e)
            }
        }
    }

    fn write_tags(&self, out: &mut Vec<u8>) -> Result<()> {
        for (def, slot) in self.measurement.0.tags.iter().zip(&self.tags) {
            let Some(value) = slot.value().filter(|v| !v.is_empty()) else {
                continue;
            };
            out.extend_from_slice(&def.encoded_key);
            lp::write_escaped(out, value, Part::TagValue).map_err(|p| {
                lp::value_error(
                    format_args!(
                        "measurement {:?}, tag {:?}",
                        self.measurement.name(),
                        def.tag.name
                    ),
                    &value,
                    &p,
                )
            })?;
        }
        Ok(())
    }

    /// Writes the fields that have values; returns how many.
    fn write_fields(&self, out: &mut Vec<u8>) -> Result<usize> {
        let mut written = 0;
        for (def, slot) in self.measurement.0.fields.iter().zip(&self.fields) {
            let Some(given) = slot.value() else { continue };
            let value = def.ty.admit(given).map_err(|m| {
                Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "measurement {:?}, field {:?}: {}; the point was not logged",
                        self.measurement.name(),
                        def.field.name,
                        m.describe(given)
                    ),
                )
            })?;
            let value = &*value;
            out.push(if written == 0 { b' ' } else { b',' });
            out.extend_from_slice(&def.encoded_key);
            lp::write_field_value(out, value).map_err(|p| {
                lp::value_error(
                    format_args!(
                        "measurement {:?}, field {:?}",
                        self.measurement.name(),
                        def.field.name
                    ),
                    value,
                    &p,
                )
            })?;
            written += 1;
        }
        Ok(written)
    }
}

/// A field given to a log call: a key and a value, or an explicit "no value" (`None`), which
/// overrides the field's default just as in the Python package this crate replaces.
pub trait FieldInput {
    /// The field's name.
    fn key(&self) -> &str;
    /// The value, or `None` for an explicit "no value".
    fn value(&self) -> Option<&FieldValue>;
    /// The field's position in [`Measurement::fields`], when the caller already knows it (as
    /// bindings that match fields by object identity do); the name is then not looked up.
    /// Plumbing for bindings.
    #[doc(hidden)]
    fn schema_index(&self) -> Option<usize> {
        None
    }
    /// Whether a `None` [`value`](Self::value) means the field was left out (its default or
    /// function applies), rather than an explicit "no value" (which overrides them).
    fn absent_when_none(&self) -> bool {
        false
    }
}

/// A tag given to a log call: a key and a value, or an explicit "no value" (`None`).
pub trait TagInput {
    /// The tag's name.
    fn key(&self) -> &str;
    /// The value, or `None` for an explicit "no value".
    fn value(&self) -> Option<&str>;
    /// The tag's position in [`Measurement::tags`] (sorted by name), when the caller already
    /// knows it; the name is then not looked up. Plumbing for bindings.
    #[doc(hidden)]
    fn schema_index(&self) -> Option<usize> {
        None
    }
}

macro_rules! field_input {
    ($($k:ty),*) => {$(
        impl FieldInput for ($k, FieldValue) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&FieldValue> { Some(&self.1) }
        }
        impl FieldInput for ($k, Option<FieldValue>) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&FieldValue> { self.1.as_ref() }
        }
    )*};
}
field_input!(&str, String);

/// A field as [`fields!`](crate::fields) gives it: a name and a value, or `None` for a value
/// left out, as if the field were not given (its default or function applies; a field without
/// either makes the point incomplete, which `log()` refuses).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldArg<'a>(pub &'a str, pub Option<FieldValue>);

impl FieldInput for FieldArg<'_> {
    #[inline(always)]
    fn key(&self) -> &str {
        self.0
    }
    #[inline(always)]
    fn value(&self) -> Option<&FieldValue> {
        self.1.as_ref()
    }
    fn absent_when_none(&self) -> bool {
        true
    }
}

/// What [`fields!`](crate::fields) takes as a value: anything a [`FieldValue`] is made from,
/// or an `Option` of it (`None`: the field is left out).
pub trait IntoFieldArg {
    /// The value, or `None` for a field left out.
    fn into_field_arg(self) -> Option<FieldValue>;
}

impl<T: Into<FieldValue>> IntoFieldArg for T {
    #[inline(always)]
    fn into_field_arg(self) -> Option<FieldValue> {
        Some(self.into())
    }
}

impl<T: Into<FieldValue>> IntoFieldArg for Option<T> {
    #[inline(always)]
    fn into_field_arg(self) -> Option<FieldValue> {
        self.map(Into::into)
    }
}

impl FieldInput for (&Field, FieldValue) {
    fn key(&self) -> &str {
        &self.0.name
    }
    fn value(&self) -> Option<&FieldValue> {
        Some(&self.1)
    }
}

macro_rules! tag_input {
    ($($k:ty),*) => {$(
        impl TagInput for ($k, &str) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&str> { Some(self.1) }
        }
        impl TagInput for ($k, String) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&str> { Some(&self.1) }
        }
        impl TagInput for ($k, Option<&str>) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&str> { self.1 }
        }
        impl TagInput for ($k, Option<String>) {
            fn key(&self) -> &str { self.0.as_ref() }
            fn value(&self) -> Option<&str> { self.1.as_deref() }
        }
    )*};
}
tag_input!(&str, String);

impl TagInput for (&Tag, &str) {
    fn key(&self) -> &str {
        &self.0.name
    }
    fn value(&self) -> Option<&str> {
        Some(self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fields, tags};

    fn encode<F: FieldInput>(
        m: &Measurement,
        fields: &[F],
        tags: &[(&str, &str)],
    ) -> Result<String> {
        let mut out = Vec::new();
        m.encode(
            &mut out,
            fields,
            tags,
            Timestamp::from_nanos(7),
            Precision::Nanoseconds,
        )?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn cpu() -> Measurement {
        Measurement::builder("cpu")
            .field(Field::new("value"))
            .field(Field::new("count").with_default(1))
            .tag(Tag::new("zone"))
            .tag(Tag::new("host").with_func(|| "h1"))
            .optional_tag(Tag::new("extra"))
            .build()
            .unwrap()
    }

    #[test]
    fn tags_are_sorted_and_defaults_and_funcs_fill_in() {
        let line = encode(&cpu(), fields!("value" => 0.5), tags!("zone" => "z")).unwrap();
        assert_eq!(line, "cpu,host=h1,zone=z value=0.5,count=1i 7\n");
    }

    #[test]
    fn given_values_win_over_funcs_and_defaults() {
        let line = encode(
            &cpu(),
            fields!("value" => 1.0, "count" => 5),
            tags!("zone" => "z", "host" => "mine"),
        )
        .unwrap();
        assert_eq!(line, "cpu,host=mine,zone=z value=1.0,count=5i 7\n");
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let err = encode(
            &cpu(),
            fields!("value" => 1.0, "value" => 2.0),
            tags!("zone" => "a"),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            err.message(),
            "measurement \"cpu\": field \"value\" is given twice in one point; give each once"
        );
        let err = encode(
            &cpu(),
            fields!("value" => 1.0),
            tags!("zone" => "a", "zone" => "b"),
        )
        .unwrap_err();
        assert!(
            err.message().contains("tag \"zone\" is given twice"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_value_for_a_required_tag_is_refused() {
        let err = encode(&cpu(), fields!("value" => 1.0), tags!("zone" => "")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        assert!(
            err.message()
                .contains("tag \"zone\" is required and its value is empty"),
            "{err}"
        );
    }

    #[test]
    fn empty_tag_values_are_omitted() {
        let line = encode(
            &cpu(),
            fields!("value" => 1.0),
            tags!("zone" => "z", "extra" => ""),
        )
        .unwrap();
        assert_eq!(line, "cpu,host=h1,zone=z value=1.0,count=1i 7\n");
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = encode(&cpu(), fields!("valeu" => 1.0), tags!("zone" => "z")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownField);
        assert_eq!(
            err.message(),
            "measurement \"cpu\" has no field \"valeu\" (its fields: value, count)"
        );
        let err = encode(&cpu(), fields!("value" => 1.0), tags!("zoen" => "z")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownTag);
        assert!(
            err.message().contains("(its tags: extra, host, zone)"),
            "{err}"
        );
    }

    #[test]
    fn missing_values_are_named() {
        let err = encode(&cpu(), fields!(), tags!("zone" => "z")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IncompletePoint);
        assert_eq!(
            err.message(),
            "measurement \"cpu\": field \"value\" has no value; the point was not logged"
        );
        let err = encode(&cpu(), fields!("value" => 1.0), tags!()).unwrap_err();
        assert_eq!(
            err.message(),
            "measurement \"cpu\": tag \"zone\" has no value; the point was not logged"
        );
    }

    #[test]
    fn explicit_none_overrides_a_default() {
        let m = cpu();
        let resolved = m
            .resolve(
                &[("value", Some(FieldValue::Float(1.0))), ("count", None)],
                &[("zone", "z")],
            )
            .unwrap();
        let missing: Vec<_> = resolved.missing().collect();
        assert_eq!(missing, vec![("field", "count")]);
    }

    #[test]
    fn bad_values_name_measurement_key_and_value() {
        let err = encode(&cpu(), fields!("value" => f64::NAN), tags!("zone" => "z")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        assert_eq!(
            err.message(),
            "measurement \"cpu\", field \"value\": value NaN is not a finite number; line protocol has no NaN or infinity"
        );
        let err = encode(&cpu(), fields!("value" => 1.0), tags!("zone" => "a\nb")).unwrap_err();
        assert!(
            err.message()
                .starts_with("measurement \"cpu\", tag \"zone\": value \"a\\nb\" contains '\\n'"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_encode_leaves_the_buffer_alone() {
        let mut out = b"x\n".to_vec();
        let err = cpu().encode(
            &mut out,
            fields!("value" => 1.0),
            tags!("zone" => "bad\\"),
            Timestamp::from_nanos(0),
            Precision::Nanoseconds,
        );
        assert!(err.is_err());
        assert_eq!(out, b"x\n");
    }

    #[test]
    fn schema_errors() {
        let both = Measurement::builder("m")
            .field(Field::new("f"))
            .tag(Tag::new("t").with_default("a").with_func(|| "b"))
            .build();
        assert_eq!(both.unwrap_err().kind(), ErrorKind::Schema);
        let twice = Measurement::builder("m")
            .field(Field::new("f"))
            .field(Field::new("f"))
            .build();
        assert!(twice
            .unwrap_err()
            .message()
            .contains("field \"f\" is defined twice"));
        let clash = Measurement::builder("m")
            .field(Field::new("x"))
            .tag(Tag::new("x"))
            .build();
        assert!(clash
            .unwrap_err()
            .message()
            .contains("both a field and a tag"));
        let reserved = Measurement::builder("m")
            .field(Field::new("time"))
            .build()
            .unwrap_err();
        assert_eq!(
            reserved.message(),
            "measurement \"m\": field key \"time\" is 'time', which InfluxDB reserves"
        );
        let comment = Measurement::builder("#m")
            .field(Field::new("f"))
            .build()
            .unwrap_err();
        assert_eq!(comment.kind(), ErrorKind::InvalidName);
        let bad_default = Measurement::builder("m")
            .field(Field::new("f").with_default(f64::INFINITY))
            .build();
        assert_eq!(bad_default.unwrap_err().kind(), ErrorKind::InvalidValue);
        let bad_tag_default = Measurement::builder("m")
            .field(Field::new("f"))
            .tag(Tag::new("t").with_default("a\tb"))
            .build();
        assert_eq!(bad_tag_default.unwrap_err().kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn a_measurement_without_fields_cannot_encode_a_point() {
        let m = Measurement::builder("m")
            .tag(Tag::new("t"))
            .build()
            .unwrap();
        let err = encode(&m, fields!(), tags!("t" => "v")).unwrap_err();
        assert!(err.message().contains("at least one field"), "{err}");
    }

    #[test]
    fn funcs_run_only_when_no_value_is_given() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let m = Measurement::builder("m")
            .field(Field::new("f"))
            .tag(Tag::new("t").with_func(|| {
                CALLS.fetch_add(1, Ordering::Relaxed);
                "computed"
            }))
            .build()
            .unwrap();
        encode(&m, fields!("f" => 1), tags!("t" => "given")).unwrap();
        assert_eq!(CALLS.load(Ordering::Relaxed), 0);
        assert_eq!(
            encode(&m, fields!("f" => 1), tags!()).unwrap(),
            "m,t=computed f=1i 7\n"
        );
        assert_eq!(CALLS.load(Ordering::Relaxed), 1);
    }
}
