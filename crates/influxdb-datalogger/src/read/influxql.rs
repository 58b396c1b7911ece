//! InfluxQL on `/query`: InfluxDB 1.x, and 2.x through its v1 compatibility API.

use super::{parse_error, quote_identifier, FieldType, MeasurementSchema, Reader, Record};
use crate::error::{Error, ErrorKind, Result};
use crate::value::FieldValue;

/// How many rows a chunk of a chunked answer holds.
const CHUNK_ROWS: usize = 10_000;

pub(super) fn measurements(reader: &Reader) -> Result<Vec<String>> {
    let mut names = Vec::new();
    query(reader, "SHOW MEASUREMENTS", &mut |series| {
        names.extend(first_column(series));
    })?;
    Ok(names)
}

pub(super) fn schema(reader: &Reader, measurement: &str) -> Result<MeasurementSchema> {
    let from = quote_identifier(measurement);
    let mut fields = Vec::new();
    query(
        reader,
        &format!("SHOW FIELD KEYS FROM {from}"),
        &mut |series| {
            for row in rows(series) {
                if let (Some(name), Some(kind)) = (row[0].as_str(), row[1].as_str()) {
                    let kind = match kind {
                        "string" => FieldType::Str,
                        "boolean" => FieldType::Bool,
                        _ => FieldType::Number,
                    };
                    fields.push((name.to_string(), kind));
                }
            }
        },
    )?;
    let mut tags = Vec::new();
    query(
        reader,
        &format!("SHOW TAG KEYS FROM {from}"),
        &mut |series| {
            tags.extend(first_column(series));
        },
    )?;
    Ok(MeasurementSchema {
        name: measurement.to_string(),
        fields,
        tags,
    })
}

pub(super) fn read(
    reader: &Reader,
    measurement: &str,
    since: Option<i64>,
    each: &mut dyn FnMut(Record),
) -> Result<()> {
    let mut influxql = format!("SELECT * FROM {}", quote_identifier(measurement));
    if let Some(since) = since {
        influxql.push_str(&format!(" WHERE time >= {since}"));
    }
    influxql.push_str(" GROUP BY *");
    query(reader, &influxql, &mut |series| {
        let name = series["name"].as_str().unwrap_or(measurement);
        let tags = super::json_tags(&series["tags"], &[]);
        let columns: Vec<&str> = series["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        for row in rows(series) {
            let Some(time) = row.first().and_then(serde_json::Value::as_i64) else {
                continue;
            };
            let fields: Vec<(String, FieldValue)> = columns
                .iter()
                .zip(row.iter())
                .skip(1)
                .filter_map(|(column, value)| Some((column.to_string(), super::json_field(value)?)))
                .collect();
            if !fields.is_empty() {
                each(Record {
                    measurement: name.to_string(),
                    tags: tags.clone(),
                    time,
                    fields,
                });
            }
        }
    })
}

fn rows(series: &serde_json::Value) -> impl Iterator<Item = &Vec<serde_json::Value>> {
    series["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_array)
}

fn first_column(series: &serde_json::Value) -> impl Iterator<Item = String> + '_ {
    rows(series).filter_map(|row| row.first()?.as_str().map(str::to_string))
}

/// Runs `influxql` chunked and hands each series of the answer to `each` as it arrives.
fn query(reader: &Reader, influxql: &str, each: &mut dyn FnMut(&serde_json::Value)) -> Result<()> {
    let url = format!(
        "{}&chunked=true&chunk_size={CHUNK_ROWS}",
        reader.config.query_url(influxql)
    );
    let response = reader.get(&url)?;
    let body = reader.body(response, "a query")?;
    let what = "an InfluxQL query";
    for chunk in serde_json::Deserializer::from_reader(body).into_iter::<serde_json::Value>() {
        let chunk = chunk.map_err(|e| parse_error(what, e))?;
        if let Some(error) = chunk["error"].as_str() {
            return Err(refused(reader, influxql, error));
        }
        let results = chunk["results"]
            .as_array()
            .ok_or_else(|| parse_error(what, "no \"results\""))?;
        for result in results {
            if let Some(error) = result["error"].as_str() {
                return Err(refused(reader, influxql, error));
            }
            for series in result["series"].as_array().into_iter().flatten() {
                each(series);
            }
        }
    }
    Ok(())
}

fn refused(reader: &Reader, influxql: &str, error: &str) -> Error {
    Error::new(
        ErrorKind::Writer,
        format!(
            "{} refused {}: {error}",
            reader.describe(),
            crate::error::shorten(influxql)
        ),
    )
}
