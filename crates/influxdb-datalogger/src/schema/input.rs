//! What a log call gives: [`FieldInput`] and [`TagInput`] entries, and what `fields!` makes.

use super::{Field, Tag};
use crate::value::FieldValue;

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
