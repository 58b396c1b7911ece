//! [`Field`] and [`Tag`]: a name, and optionally a default or a function computed at each log.

use std::fmt;
use std::sync::Arc;

use super::FieldType;
use crate::value::FieldValue;

pub(super) type FieldFn = Arc<dyn Fn() -> FieldValue + Send + Sync>;
pub(super) type TagFn = Arc<dyn Fn() -> String + Send + Sync>;

/// A field of a measurement: a name, and optionally a default value or a function computed at
/// every log. A field may have both; the function wins.
#[derive(Clone)]
pub struct Field {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) default: Option<FieldValue>,
    pub(super) func: Option<FieldFn>,
    pub(super) declared_type: Option<FieldType>,
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
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) default: Option<String>,
    pub(super) func: Option<TagFn>,
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
