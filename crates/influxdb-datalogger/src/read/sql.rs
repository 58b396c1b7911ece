//! SQL on `/api/v3/query_sql`: InfluxDB 3. Answers are JSON lines, one object per row; which
//! columns are tags comes from `information_schema` (tags are dictionary-encoded strings).

use super::{parse_error, quote_identifier, FieldType, MeasurementSchema, Reader, Record};
use crate::error::Result;
use crate::value::Timestamp;

pub(super) fn measurements(reader: &Reader) -> Result<Vec<String>> {
    let mut names = Vec::new();
    query(
        reader,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'",
        &mut |row| {
            if let Some(name) = row["table_name"].as_str() {
                names.push(name.to_string());
            }
        },
    )?;
    Ok(names)
}

pub(super) fn schema(reader: &Reader, measurement: &str) -> Result<MeasurementSchema> {
    let mut schema = MeasurementSchema {
        name: measurement.to_string(),
        fields: Vec::new(),
        tags: Vec::new(),
    };
    let sql = format!(
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_schema = 'iox' AND table_name = {}",
        quote_literal(measurement)
    );
    query(reader, &sql, &mut |row| {
        let (Some(name), Some(kind)) = (row["column_name"].as_str(), row["data_type"].as_str())
        else {
            return;
        };
        if name == "time" {
        } else if kind.starts_with("Dictionary") {
            schema.tags.push(name.to_string());
        } else {
            let kind = match kind {
                "Utf8" | "LargeUtf8" | "Utf8View" => FieldType::Str,
                "Boolean" => FieldType::Bool,
                _ => FieldType::Number,
            };
            schema.fields.push((name.to_string(), kind));
        }
    })?;
    Ok(schema)
}

pub(super) fn read(
    reader: &Reader,
    measurement: &str,
    since: Option<i64>,
    each: &mut dyn FnMut(Record),
) -> Result<()> {
    let schema = schema(reader, measurement)?;
    let mut sql = format!("SELECT * FROM {}", quote_identifier(measurement));
    if let Some(since) = since {
        sql.push_str(&format!(" WHERE time >= to_timestamp_nanos({since})"));
    }
    let mut bad_time = None;
    query(reader, &sql, &mut |row| {
        let Some(object) = row.as_object() else {
            return;
        };
        let time = match &object.get("time") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(text)) => match text.parse::<Timestamp>() {
                Ok(t) => Some(t.as_nanos()),
                Err(e) => {
                    bad_time.get_or_insert(e);
                    None
                }
            },
            _ => None,
        };
        let Some(time) = time else {
            return;
        };
        let mut record = Record {
            measurement: measurement.to_string(),
            tags: Vec::new(),
            time,
            fields: Vec::new(),
        };
        for (column, value) in object {
            if column == "time" {
                continue;
            }
            if schema.tags.iter().any(|t| t == column) {
                if let Some(v) = value.as_str().filter(|v| !v.is_empty()) {
                    record.tags.push((column.clone(), v.to_string()));
                }
            } else if let Some(v) = super::json_field(value) {
                record.fields.push((column.clone(), v));
            }
        }
        if !record.fields.is_empty() {
            each(record);
        }
    })?;
    match bad_time {
        Some(e) => Err(parse_error("an SQL query", e)),
        None => Ok(()),
    }
}

/// An SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Runs `sql` and hands each row (a JSON object) to `each` as it arrives.
fn query(reader: &Reader, sql: &str, each: &mut dyn FnMut(&serde_json::Value)) -> Result<()> {
    let url = format!("{}/api/v3/query_sql", reader.config.url);
    let body = serde_json::json!({"db": reader.database(), "q": sql, "format": "jsonl"});
    let response = reader.post(&url, "application/json", body.to_string().as_bytes())?;
    let answer = reader.body(response, "an SQL query")?;
    super::json_lines(answer, "an SQL query", &mut |row| each(&row))?;
    Ok(())
}
