//! Unsigned values written as signed ones, for targets without unsigned integers.

use crate::error::{Error, ErrorKind, Result};
use crate::schema::{FieldInput, Measurement};
use crate::value::FieldValue;

/// A field whose unsigned value is passed on as a signed integer.
pub(super) struct SignedField<'a, F> {
    pub(super) input: &'a F,
    pub(super) value: Option<FieldValue>,
}

impl<F: FieldInput> FieldInput for SignedField<'_, F> {
    fn key(&self) -> &str {
        self.input.key()
    }
    fn value(&self) -> Option<&FieldValue> {
        self.value.as_ref()
    }
    fn schema_index(&self) -> Option<usize> {
        self.input.schema_index()
    }
}

/// `fields` with unsigned values as signed ones, for a target without unsigned integers; an
/// error names a value too large for it.
pub(super) fn signed_fields<'a, F: FieldInput>(
    measurement: &Measurement,
    fields: &'a [F],
) -> Result<Vec<SignedField<'a, F>>> {
    fields
        .iter()
        .map(|input| {
            let value = match input.value() {
                Some(&FieldValue::UInt(v)) => Some(FieldValue::Int(i64::try_from(v).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidValue,
                        format!(
                            "measurement {:?}, field {}: {v} is larger than the largest integer InfluxDB 1.x stores \
                             ({}; it has no unsigned integers); the point was not logged",
                            measurement.name(),
                            field_label(measurement, input),
                            i64::MAX
                        ),
                    )
                })?)),
                other => other.cloned(),
            };
            Ok(SignedField { input, value })
        })
        .collect()
}

pub(super) fn field_label<F: FieldInput>(measurement: &Measurement, input: &F) -> String {
    let name = input
        .schema_index()
        .and_then(|i| measurement.field_name(i))
        .unwrap_or_else(|| input.key());
    format!("{name:?}")
}
