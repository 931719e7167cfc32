//! Runs as a table with MLflow's column names, exported as CSV or JSON.
//!
//! Columns: `run_id`, `experiment_id`, `run_name`, `status`, `start_time`, `end_time`, then
//! `metrics.<k>`, `params.<k>` and `tags.<k>`, each group sorted by key. Times are ms since
//! the epoch. Non-finite metric values are written as `NaN`, `Infinity`, `-Infinity` (JSON:
//! as those strings, like MLflow's REST API).

use super::model::Run;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value (run lacks the key, or no end time).
    Null,
    /// Text.
    Str(String),
    /// Integer (times).
    Int(i64),
    /// Float (metrics).
    Float(f64),
}

impl Cell {
    fn float_text(f: f64) -> String {
        if f.is_nan() {
            "NaN".to_string()
        } else if f == f64::INFINITY {
            "Infinity".to_string()
        } else if f == f64::NEG_INFINITY {
            "-Infinity".to_string()
        } else {
            f.to_string()
        }
    }

    /// The cell as CSV/terminal text (`""` for null).
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Str(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => Cell::float_text(*f),
        }
    }

    /// The cell as JSON.
    pub fn json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Int(i) => Value::from(*i),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(Cell::float_text(*f))),
        }
    }
}

/// The columns every run has, before its metrics, params and tags.
const INFO_COLUMNS: [&str; 6] = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
];

/// Runs as rows, with MLflow's column names (or any other table, built from the public
/// fields), printed as CSV, JSON or aligned text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsTable {
    /// Column names.
    pub columns: Vec<String>,
    /// One row per run, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl RunsTable {
    /// Build the table (rows in the order given).
    pub fn from_runs(runs: &[Run]) -> Self {
        let mut metrics = BTreeSet::new();
        let mut params = BTreeSet::new();
        let mut tags = BTreeSet::new();
        for r in runs {
            metrics.extend(r.data.metrics.iter().map(|m| m.key.as_str()));
            params.extend(r.data.params.iter().map(|p| p.key.as_str()));
            tags.extend(r.data.tags.iter().map(|t| t.key.as_str()));
        }
        let mut columns: Vec<String> = INFO_COLUMNS.map(String::from).to_vec();
        columns.extend(metrics.iter().map(|k| format!("metrics.{k}")));
        columns.extend(params.iter().map(|k| format!("params.{k}")));
        columns.extend(tags.iter().map(|k| format!("tags.{k}")));
        let rows = runs
            .iter()
            .map(|r| {
                let mut row = vec![
                    Cell::Str(r.info.run_id.clone()),
                    Cell::Str(r.info.experiment_id.0.clone()),
                    Cell::Str(r.info.run_name.clone()),
                    Cell::Str(r.info.status.as_str().to_string()),
                    Cell::Int(r.info.start_time),
                    r.info.end_time.map(Cell::Int).unwrap_or(Cell::Null),
                ];
                row.extend(
                    metrics
                        .iter()
                        .map(|k| r.data.metric(k).map(Cell::Float).unwrap_or(Cell::Null)),
                );
                row.extend(params.iter().map(|k| {
                    r.data
                        .param(k)
                        .map(|v| Cell::Str(v.to_string()))
                        .unwrap_or(Cell::Null)
                }));
                row.extend(tags.iter().map(|k| {
                    r.data
                        .tag(k)
                        .map(|v| Cell::Str(v.to_string()))
                        .unwrap_or(Cell::Null)
                }));
                row
            })
            .collect();
        RunsTable { columns, rows }
    }

    /// The table reduced to `columns`, in that order; names the table lacks are skipped
    /// (e.g. a metric no run of the page has), so a fixed list works for any search.
    ///
    /// ```
    /// use hyperflow::tracking::RunsTable;
    /// let table = RunsTable::from_runs(&[]).select(&["run_id", "metrics.loss"]);
    /// assert_eq!(table.columns, ["run_id"]);
    /// ```
    pub fn select<S: AsRef<str>>(&self, columns: &[S]) -> RunsTable {
        let keep: Vec<usize> = columns
            .iter()
            .filter_map(|c| self.columns.iter().position(|have| have == c.as_ref()))
            .collect();
        RunsTable {
            columns: keep.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                // The fields are public, so a row may be shorter than the header.
                .map(|row| {
                    keep.iter()
                        .map(|&i| row.get(i).cloned().unwrap_or(Cell::Null))
                        .collect()
                })
                .collect(),
        }
    }

    /// CSV with a header row (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let fields: Vec<String> = row.iter().map(|c| csv_field(&c.text())).collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// A list of objects keyed by column name (null for missing values).
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let mut obj = Map::new();
                    for (c, cell) in self.columns.iter().zip(row) {
                        obj.insert(c.clone(), cell.json());
                    }
                    Value::Object(obj)
                })
                .collect(),
        )
    }

    /// [`RunsTable::to_json`] as pretty-printed text.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&self.to_json()).unwrap_or_else(|_| "[]".to_string())
    }

    /// Aligned plain text for terminals: no borders, columns two spaces apart, no trailing
    /// spaces, one line per row after the header (feature `tables`).
    #[cfg(feature = "tables")]
    pub fn to_text(&self) -> String {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::NOTHING)
            .set_header(&self.columns);
        for row in &self.rows {
            table.add_row(row.iter().map(Cell::text));
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        let mut text = table.trim_fmt();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::model::*;

    #[test]
    fn csv_and_json() {
        let run = Run {
            info: RunInfo {
                run_id: "abc".into(),
                experiment_id: ExperimentId::default_experiment(),
                run_name: "a, \"b\"".into(),
                user_id: "u".into(),
                status: RunStatus::Finished,
                start_time: 1,
                end_time: None,
                artifact_uri: "/x".into(),
                lifecycle_stage: LifecycleStage::Active,
            },
            data: RunData {
                metrics: vec![Metric {
                    key: "loss".into(),
                    value: f64::NAN,
                    timestamp: 1,
                    step: 0,
                }],
                params: vec![Param::new("lr", "0.1")],
                tags: vec![],
            },
        };
        let t = RunsTable::from_runs(&[run]);
        assert_eq!(t.columns[..6], INFO_COLUMNS);
        assert_eq!(t.columns[6..], ["metrics.loss", "params.lr"]);
        let csv = t.to_csv();
        assert!(
            csv.contains("abc,0,\"a, \"\"b\"\"\",FINISHED,1,,NaN,0.1"),
            "{csv}"
        );
        let j = t.to_json();
        assert_eq!(j[0]["metrics.loss"], "NaN");
        assert_eq!(j[0]["end_time"], Value::Null);
        assert_eq!(j[0]["params.lr"], "0.1");
        let picked = t.select(&["params.lr", "metrics.missing", "run_id"]);
        assert_eq!(picked.columns, ["params.lr", "run_id"]);
        assert_eq!(
            picked.rows,
            [[Cell::Str("0.1".into()), Cell::Str("abc".into())]]
        );
    }

    #[cfg(feature = "tables")]
    #[test]
    fn text_is_aligned_without_borders_or_trailing_spaces() {
        let table = RunsTable {
            columns: vec!["name".into(), "loss".into(), "größe".into()],
            rows: vec![
                vec![
                    Cell::Str("a-long-name".into()),
                    Cell::Float(0.5),
                    Cell::Null,
                ],
                vec![Cell::Str("b".into()), Cell::Float(f64::NAN), Cell::Int(7)],
            ],
        };
        assert_eq!(
            table.to_text(),
            "name         loss  größe\n\
             a-long-name  0.5\n\
             b            NaN   7\n"
        );
    }

    #[cfg(feature = "tables")]
    #[test]
    fn text_of_a_ragged_table_fills_the_gaps() {
        // The fields are public, so a row may be shorter (or longer) than the header.
        let table = RunsTable {
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec![Cell::Int(1)], vec![Cell::Int(2), Cell::Int(3)]],
        };
        assert_eq!(table.to_text(), "a  b\n1\n2  3\n");
    }
}
