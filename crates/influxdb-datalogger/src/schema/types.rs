//! A field's type, fixed once: InfluxDB stores each field with one type and refuses a point
//! whose value has another ("field type conflict"), so the logger refuses it first, at `log()`,
//! where the caller can still act on it.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::value::FieldValue;

/// The type a field's values have in the database.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// 64-bit floats (`1.5`). Integers logged to a float field are written as floats, when
    /// they convert exactly.
    Float,
    /// Signed 64-bit integers (`3i`).
    Integer,
    /// Unsigned 64-bit integers (`3u`; InfluxDB 2.x and 3 only).
    Unsigned,
    /// Booleans.
    Boolean,
    /// Strings.
    String,
}

impl FieldType {
    /// The type of `value`.
    pub fn of(value: &FieldValue) -> Self {
        match value {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Int(_) => FieldType::Integer,
            FieldValue::UInt(_) => FieldType::Unsigned,
            FieldValue::Bool(_) => FieldType::Boolean,
            FieldValue::Str(_) => FieldType::String,
        }
    }

    fn code(self) -> u8 {
        match self {
            FieldType::Float => 1,
            FieldType::Integer => 2,
            FieldType::Unsigned => 3,
            FieldType::Boolean => 4,
            FieldType::String => 5,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => FieldType::Float,
            2 => FieldType::Integer,
            3 => FieldType::Unsigned,
            4 => FieldType::Boolean,
            5 => FieldType::String,
            _ => return None,
        })
    }

    /// `a float`, `an integer`, … for messages.
    fn described(self) -> &'static str {
        match self {
            FieldType::Float => "a float",
            FieldType::Integer => "an integer",
            FieldType::Unsigned => "an unsigned integer",
            FieldType::Boolean => "a boolean",
            FieldType::String => "a string",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.described()[self.described().find(' ').map_or(0, |i| i + 1)..])
    }
}

/// A field's type as the schema knows it: declared, or taken from the first value logged
/// (shared by every logger using the measurement, and every thread).
#[derive(Debug)]
pub(crate) struct TypeSlot {
    code: AtomicU8,
    /// Whether the type is checked at all (bindings for packages that never checked types
    /// leave a conflict to the server).
    checked: bool,
}

/// A value whose type is not the field's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) field: FieldType,
    pub(crate) value: FieldType,
}

impl Mismatch {
    /// `the field "d" holds floats (set by the first value logged); 2 is an integer`.
    pub(crate) fn describe(&self, value: &FieldValue) -> String {
        format!(
            "the field holds {}s (its type is fixed by its declaration or the first value logged; InfluxDB refuses a \
             value of another type); {} is {}",
            self.field,
            crate::error::quote(value),
            self.value.described()
        )
    }
}

impl TypeSlot {
    pub(crate) fn new(declared: Option<FieldType>, checked: bool) -> Self {
        TypeSlot {
            code: AtomicU8::new(declared.map_or(0, FieldType::code)),
            checked,
        }
    }

    /// The type, once known.
    pub(crate) fn get(&self) -> Option<FieldType> {
        FieldType::from_code(self.code.load(Ordering::Relaxed))
    }

    /// `value` as the field stores it: as it is when its type is the field's (which it
    /// becomes if the field has none yet), as a float when it is an integer that converts
    /// exactly for a float field; else the mismatch.
    #[inline(always)]
    pub(crate) fn admit<'v>(&self, value: &'v FieldValue) -> Result<Cow<'v, FieldValue>, Mismatch> {
        let given = FieldType::of(value).code();
        let known = self.code.load(Ordering::Relaxed);
        if known == given || !self.checked {
            return Ok(Cow::Borrowed(value));
        }
        self.admit_slow(value, known)
    }

    #[cold]
    fn admit_slow<'v>(
        &self,
        value: &'v FieldValue,
        known: u8,
    ) -> Result<Cow<'v, FieldValue>, Mismatch> {
        let given = FieldType::of(value).code();
        let known = match known {
            0 => match self
                .code
                .compare_exchange(0, given, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(Cow::Borrowed(value)),
                // Another thread fixed it first.
                Err(now) if now == given => return Ok(Cow::Borrowed(value)),
                Err(now) => now,
            },
            known => known,
        };
        let field = FieldType::from_code(known).expect("a set slot holds a type");
        let exact_float = match *value {
            FieldValue::Int(v) if (v as f64) as i64 == v && v != i64::MAX => Some(v as f64),
            FieldValue::UInt(v) if (v as f64) as u64 == v && v != u64::MAX => Some(v as f64),
            _ => None,
        };
        match exact_float {
            Some(float) if field == FieldType::Float => Ok(Cow::Owned(FieldValue::Float(float))),
            _ => Err(Mismatch {
                field,
                value: FieldType::of(value),
            }),
        }
    }
}
