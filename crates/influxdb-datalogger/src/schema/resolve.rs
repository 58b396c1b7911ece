//! The general path of a point: each given entry matched to its slot by name, defaults and
//! functions filled in, every value checked, then encoded. The fast paths (`fast.rs`) take the
//! common cases and leave the rest here.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::{FieldInput, Measurement, TagInput};
use crate::error::{Error, ErrorKind, Result};
use crate::line_protocol::{self as lp, Part};
use crate::value::{FieldValue, Precision, Timestamp};

impl Measurement {
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

    fn given_twice(&self, what: &str, name: &str) -> Error {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "measurement {:?}: {what} {name:?} is given twice in one point; give each once",
                self.name()
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
        let tag_slots = fill_slots(
            schema.tags.len(),
            tags.iter()
                .map(|t| (t.schema_index(), t.key(), t.value(), false)),
            |key| self.tag_index(key).ok_or_else(|| self.unknown_tag(key)),
            |i| self.given_twice("tag", &schema.tags[i].tag.name),
            |i| {
                let tag = &schema.tags[i].tag;
                match (&tag.func, &tag.default) {
                    (Some(func), _) => Some(Cow::Owned(func())),
                    (None, default) => default.as_deref().map(Cow::Borrowed),
                }
            },
        )?;
        let field_slots = fill_slots(
            schema.fields.len(),
            fields.iter().map(|f| {
                let value = f.value();
                let absent = value.is_none() && f.absent_when_none();
                (f.schema_index(), f.key(), value, absent)
            }),
            |key| self.field_index(key).ok_or_else(|| self.unknown_field(key)),
            |i| self.given_twice("field", &schema.fields[i].field.name),
            |i| {
                let field = &schema.fields[i].field;
                match (&field.func, &field.default) {
                    (Some(func), _) => Some(Cow::Owned(func())),
                    (None, default) => default.as_ref().map(Cow::Borrowed),
                }
            },
        )?;
        Ok(Resolved {
            measurement: self,
            tags: tag_slots,
            fields: field_slots,
        })
    }
}

/// The slots of one kind of entry (tags or fields): each given entry in its slot (an unknown
/// name, or one given twice, is an error; one `absent` is skipped), then the schema's function
/// or default in each slot left unset.
fn fill_slots<'a, V: ?Sized + ToOwned + 'a>(
    count: usize,
    given: impl Iterator<Item = (Option<usize>, &'a str, Option<&'a V>, bool)>,
    index_of: impl Fn(&str) -> Result<usize>,
    given_twice: impl Fn(usize) -> Error,
    fallback: impl Fn(usize) -> Option<Cow<'a, V>>,
) -> Result<SmallVec<[Slot<'a, V>; 8]>> {
    let mut slots: SmallVec<[Slot<'a, V>; 8]> = smallvec::smallvec![Slot::Unset; count];
    for (index, key, value, absent) in given {
        let i = match index {
            Some(i) if i < count => i,
            _ => index_of(key)?,
        };
        if absent {
            // Left out: as if not given.
            continue;
        }
        if !matches!(slots[i], Slot::Unset) {
            return Err(given_twice(i));
        }
        slots[i] = value.map_or(Slot::Null, |v| Slot::Value(Cow::Borrowed(v)));
    }
    for (i, slot) in slots.iter_mut().enumerate() {
        if matches!(slot, Slot::Unset) {
            if let Some(value) = fallback(i) {
                *slot = Slot::Value(value);
            }
        }
    }
    Ok(slots)
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
    pub(super) measurement: &'a Measurement,
    pub(super) tags: SmallVec<[Slot<'a, str>; 8]>,
    pub(super) fields: SmallVec<[Slot<'a, FieldValue>; 8]>,
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
