//! `stats`: summary statistics of line protocol files, per measurement, tag set and field.

use std::collections::BTreeMap;

use influxdb_datalogger::line_protocol::{LineError, Lines};
use influxdb_datalogger::summary::Summary;
pub use influxdb_datalogger::summary::{format_number, tags_text};
use influxdb_datalogger::FieldValue;

/// One series' field: the key of a table row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeriesField {
    /// The measurement name.
    pub measurement: String,
    /// The tags as `k=v,k=v`, sorted by key.
    pub tags: String,
    /// The field key.
    pub field: String,
}

/// The values seen for one [`SeriesField`].
#[derive(Debug, Default, Clone)]
pub struct Values {
    numbers: Vec<f64>,
    /// String values, which are counted but have no statistics.
    others: usize,
}

/// Statistics gathered over any number of texts.
#[derive(Debug, Default)]
pub struct Collector {
    series: BTreeMap<SeriesField, Values>,
    /// Lines that were read.
    pub lines: usize,
}

impl Collector {
    /// Adds every line of `text`; returns the errors of malformed lines, which are skipped.
    pub fn add_text(&mut self, text: &str) -> Vec<LineError> {
        let mut errors = Vec::new();
        for item in Lines::new(text) {
            match item {
                Ok((_, line)) => {
                    self.lines += 1;
                    let tags = tags_text(&line.tags);
                    for (field, value) in &line.fields {
                        let key = SeriesField {
                            measurement: line.measurement.to_string(),
                            tags: tags.clone(),
                            field: field.to_string(),
                        };
                        let values = self.series.entry(key).or_default();
                        match value {
                            FieldValue::Str(_) => values.others += 1,
                            v => values.numbers.push(v.as_f64().expect("numeric")),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    /// One summary per series field, sorted by measurement, tags and field.
    pub fn summaries(&self) -> Vec<(SeriesField, Summary)> {
        self.series
            .iter()
            .map(|(k, v)| (k.clone(), Summary::of(&v.numbers, v.others)))
            .collect()
    }

    /// The summaries as an aligned table.
    pub fn table(&self) -> String {
        let header = [
            "measurement",
            "tags",
            "field",
            "count",
            "min",
            "mean",
            "p50",
            "p95",
            "p99",
            "max",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        for (key, s) in self.summaries() {
            let mut row = vec![key.measurement, key.tags, key.field, s.count.to_string()];
            match s.numbers {
                Some(n) => {
                    row.extend([n.min, n.mean, n.p50, n.p95, n.p99, n.max].map(format_number))
                }
                None => row.extend(std::iter::repeat_n("-".to_string(), 6)),
            }
            rows.push(row);
        }
        render(&rows, |column| column >= 3)
    }
}

/// `rows` (the first is the header) as a table without borders, columns two spaces apart, the
/// columns for which `numeric` holds aligned right. Widths count what a terminal shows, so wide
/// characters (CJK tag values) keep the columns straight.
pub(crate) fn render(rows: &[Vec<String>], numeric: impl Fn(usize) -> bool) -> String {
    use comfy_table::{presets, CellAlignment, Table};
    let Some((header, body)) = rows.split_first() else {
        return String::new();
    };
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_header(header.clone());
    for row in body {
        table.add_row(row.clone());
    }
    let last = header.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
        if numeric(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = table.trim_fmt();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_measurement_tags_and_field_with_percentiles() {
        let mut c = Collector::default();
        let mut text = String::new();
        for i in 1..=100 {
            text.push_str(&format!("req,b=2,a=1 ms={i}i,ok=true {i}\n"));
        }
        text.push_str("req,a=1,b=3 ms=7.5,note=\"x\"\n");
        assert!(c.add_text(&text).is_empty());
        assert_eq!(c.lines, 101);
        let s = c.summaries();
        let (key, first) = &s[0];
        assert_eq!((key.tags.as_str(), key.field.as_str()), ("a=1,b=2", "ms"));
        let n = first.numbers.as_ref().unwrap();
        assert_eq!(
            (first.count, n.min, n.p50, n.p95, n.p99, n.max, n.mean),
            (100, 1.0, 50.0, 95.0, 99.0, 100.0, 50.5)
        );
        let note = s.iter().find(|(k, _)| k.field == "note").unwrap();
        assert_eq!((note.1.count, &note.1.numbers), (1, &None));
    }

    #[test]
    fn malformed_lines_are_reported_and_skipped() {
        let mut c = Collector::default();
        let errors = c.add_text("m v=1\nm v=oops\n\nm v=2\nnot a line\n");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![2, 5]
        );
        assert_eq!(c.lines, 2);
        assert_eq!(c.summaries()[0].1.count, 2);
    }

    #[test]
    fn wide_characters_keep_the_columns_straight() {
        let rows = [["tag", "n"], ["東京", "1"], ["abcde", "22"]]
            .map(|row| row.map(String::from).to_vec())
            .to_vec();
        // "東京" is four columns wide on a terminal, not two.
        assert_eq!(
            render(&rows, |column| column == 1),
            "tag     n\n東京    1\nabcde  22\n"
        );
    }

    #[test]
    fn table_is_aligned() {
        let mut c = Collector::default();
        c.add_text("cpu,host=a load=0.5 1\ncpu,host=a load=1.5 2\nmem,host=bb used=1024i 1\n");
        let table = c.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("measurement  tags     field  count"),
            "{table}"
        );
        let max_column = |l: &str| l.rfind(char::is_numeric).unwrap();
        assert_eq!(
            max_column(lines[1]),
            max_column(lines[2]),
            "numbers are right-aligned:\n{table}"
        );
        assert!(lines[2].contains("1024"));
    }
}
