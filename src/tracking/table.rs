//! Runs as a table with MLflow's column names, exported as CSV or JSON.
//!
//! Columns: `run_id`, `experiment_id`, `run_name`, `status`, `start_time`, `end_time`,
//! `duration`, then `metrics.<k>`, `params.<k>` and `tags.<k>`, each group sorted by key.
//! In CSV and JSON, times are ms since the epoch and durations ms; text tables write them
//! for people (`2026-12-06 10:15:03` in UTC, `3 min 4 s`). Non-finite metric values are
//! written as `NaN`, `Infinity`, `-Infinity` (JSON: as those strings, like MLflow's REST
//! API).

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
    /// Integer.
    Int(i64),
    /// A point in time, ms since the Unix epoch.
    Time(i64),
    /// A length of time, ms.
    Duration(i64),
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

    /// The cell as CSV text (`""` for null; times and durations in ms).
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Str(s) => s.clone(),
            Cell::Int(i) | Cell::Time(i) | Cell::Duration(i) => i.to_string(),
            Cell::Float(f) => Cell::float_text(*f),
        }
    }

    /// The cell as a text table shows it: [`Cell::text`], except for times
    /// ([`human_time`]) and durations ([`human_duration`]) (feature `tables`).
    #[cfg(feature = "tables")]
    pub fn human_text(&self) -> String {
        match self {
            Cell::Time(ms) => human_time(*ms),
            Cell::Duration(ms) => human_duration(std::time::Duration::from_millis(
                u64::try_from(*ms).unwrap_or(0),
            )),
            other => other.text(),
        }
    }

    /// The cell as JSON.
    pub fn json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Str(s) => Value::String(s.clone()),
            Cell::Int(i) | Cell::Time(i) | Cell::Duration(i) => Value::from(*i),
            Cell::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(Cell::float_text(*f))),
        }
    }
}

/// A time (ms since the Unix epoch) as `2026-12-06 10:15:03`, in UTC whatever the local
/// time zone (feature `tables`).
///
/// ```
/// use hyperflow::tracking::table::human_time;
/// assert_eq!(human_time(1_796_552_103_250), "2026-12-06 10:15:03");
/// ```
#[cfg(feature = "tables")]
pub fn human_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A duration for people: `250 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min` (feature `tables`).
///
/// ```
/// use std::time::Duration;
/// use hyperflow::tracking::table::human_duration;
/// assert_eq!(human_duration(Duration::from_millis(1234)), "1.2 s");
/// assert_eq!(human_duration(Duration::from_secs(184)), "3 min 4 s");
/// ```
#[cfg(feature = "tables")]
pub fn human_duration(d: std::time::Duration) -> String {
    match DurationParts::of(d) {
        DurationParts::Millis(ms) => format!("{ms} ms"),
        DurationParts::Seconds(s) => format!("{s:.1} s"),
        DurationParts::MinutesSeconds(m, s) => format!("{m} min {s} s"),
        DurationParts::HoursMinutes(h, m) => format!("{h} h {m} min"),
    }
}

/// A duration in the two units people read it in: milliseconds below a second, seconds
/// below a minute, then minutes and seconds, then hours and minutes. Every way of writing
/// a duration for people ([`human_duration`], the sweep's compact `3m05s`) spells these.
#[cfg(feature = "tables")]
pub(crate) enum DurationParts {
    /// Below a second.
    Millis(u128),
    /// Below a minute.
    Seconds(f64),
    /// Below an hour.
    MinutesSeconds(u64, u64),
    /// An hour or more.
    HoursMinutes(u64, u64),
}

#[cfg(feature = "tables")]
impl DurationParts {
    /// `d` cut at its units.
    pub(crate) fn of(d: std::time::Duration) -> Self {
        let secs = d.as_secs();
        match secs {
            0 => DurationParts::Millis(d.as_millis()),
            1..60 => DurationParts::Seconds(d.as_secs_f64()),
            60..3600 => DurationParts::MinutesSeconds(secs / 60, secs % 60),
            _ => DurationParts::HoursMinutes(secs / 3600, secs % 3600 / 60),
        }
    }
}

/// The columns every run has, before its metrics, params and tags.
const INFO_COLUMNS: [&str; 7] = [
    "run_id",
    "experiment_id",
    "run_name",
    "status",
    "start_time",
    "end_time",
    "duration",
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

/// One CSV line of `fields`, quoted where needed, with its newline.
fn csv_line<S: AsRef<str>>(fields: impl Iterator<Item = S>) -> String {
    let mut line = fields
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// A column asked for ([`RunsTable::select_strictly`]) that the table does not have.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "no column `{name}` in the runs listed{}; the columns are {}",
    suggestion.as_ref().map_or_else(String::new, |s| format!("; did you mean `{s}`?")),
    columns.join(", ")
)]
pub struct UnknownColumn {
    /// The name asked for.
    pub name: String,
    /// The closest column, if one is a plausible typo.
    pub suggestion: Option<String>,
    /// The columns the table has.
    pub columns: Vec<String>,
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
                    Cell::Time(r.info.start_time),
                    r.info.end_time.map(Cell::Time).unwrap_or(Cell::Null),
                    r.info
                        .end_time
                        .map(|end| Cell::Duration(end.saturating_sub(r.info.start_time)))
                        .unwrap_or(Cell::Null),
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

    /// The table reduced to `columns`, in that order, each of which it must have: an
    /// unknown name is an error naming the closest column. A table without rows has only
    /// the columns every run has, so it is reduced to those of `columns` it has.
    ///
    /// ```
    /// use hyperflow::tracking::table::{Cell, RunsTable};
    /// let table = RunsTable {
    ///     columns: vec!["run_id".into(), "metrics.loss".into()],
    ///     rows: vec![vec![Cell::Str("a1".into()), Cell::Float(0.5)]],
    /// };
    /// assert_eq!(table.select_strictly(&["metrics.loss"])?.columns, ["metrics.loss"]);
    /// let err = table.select_strictly(&["metrics.los"]).unwrap_err();
    /// assert!(err.to_string().contains("did you mean `metrics.loss`?"));
    /// # Ok::<(), hyperflow::tracking::table::UnknownColumn>(())
    /// ```
    pub fn select_strictly<S: AsRef<str>>(
        &self,
        columns: &[S],
    ) -> Result<RunsTable, UnknownColumn> {
        self.check_columns(columns)?;
        Ok(self.select(columns))
    }

    /// Whether the table has each of `columns` (see [`RunsTable::select_strictly`], which
    /// checks this first): an unknown name is an error naming the closest column; a table
    /// without rows has every column.
    pub fn check_columns<S: AsRef<str>>(&self, columns: &[S]) -> Result<(), UnknownColumn> {
        if !self.rows.is_empty()
            && let Some(name) = columns
                .iter()
                .map(AsRef::as_ref)
                .find(|c| !self.columns.iter().any(|have| have == c))
        {
            return Err(UnknownColumn {
                name: name.to_string(),
                suggestion: crate::suggest::did_you_mean(
                    name,
                    self.columns.iter().map(String::as_str),
                )
                .map(str::to_string),
                columns: self.columns.clone(),
            });
        }
        Ok(())
    }

    /// The columns of two tables of runs (from [`RunsTable::from_runs`]) together, in
    /// the order `from_runs` gives them: the run's fields, then metrics, params and tags,
    /// each by key. A listing written page by page ([`RunsTable::with_columns`]) gathers
    /// its header this way.
    ///
    /// ```
    /// use hyperflow::tracking::RunsTable;
    /// let a = ["run_id".to_string(), "params.lr".to_string()];
    /// let b = ["run_id".to_string(), "metrics.loss".to_string()];
    /// assert_eq!(RunsTable::union_columns(&a, &b), ["run_id", "metrics.loss", "params.lr"]);
    /// ```
    pub fn union_columns(a: &[String], b: &[String]) -> Vec<String> {
        let all = || a.iter().chain(b);
        let mut columns: Vec<String> = INFO_COLUMNS
            .iter()
            .filter(|c| all().any(|have| have == *c))
            .map(|c| c.to_string())
            .collect();
        let data: BTreeSet<&String> = all()
            .filter(|c| !INFO_COLUMNS.contains(&c.as_str()))
            .collect();
        columns.extend(data.into_iter().cloned());
        columns
    }

    /// The table with exactly `columns`, in that order: the cells of the columns it has,
    /// null in those it lacks. Pages of a listing written one by one
    /// ([`RunsTable::csv_rows`]) share their columns this way.
    ///
    /// ```
    /// use hyperflow::tracking::RunsTable;
    /// let table = RunsTable::from_runs(&[]).with_columns(&["run_id", "metrics.loss"]);
    /// assert_eq!(table.columns, ["run_id", "metrics.loss"]);
    /// ```
    pub fn with_columns<S: AsRef<str>>(&self, columns: &[S]) -> RunsTable {
        let at: Vec<Option<usize>> = columns
            .iter()
            .map(|c| self.columns.iter().position(|have| have == c.as_ref()))
            .collect();
        RunsTable {
            columns: columns.iter().map(|c| c.as_ref().to_string()).collect(),
            rows: self
                .rows
                .iter()
                .map(|row| {
                    at.iter()
                        .map(|i| i.and_then(|i| row.get(i)).cloned().unwrap_or(Cell::Null))
                        .collect()
                })
                .collect(),
        }
    }

    /// CSV with a header row (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        csv_line(self.columns.iter().map(String::as_str)) + &self.csv_rows()
    }

    /// The CSV of the rows alone, without the header row.
    pub fn csv_rows(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            out.push_str(&csv_line(row.iter().map(Cell::text)));
        }
        out
    }

    /// One object per row, keyed by column name (null for missing values).
    pub fn json_rows(&self) -> impl Iterator<Item = Value> + '_ {
        self.rows.iter().map(|row| {
            let mut obj = Map::new();
            for (c, cell) in self.columns.iter().zip(row) {
                obj.insert(c.clone(), cell.json());
            }
            Value::Object(obj)
        })
    }

    /// A list of objects keyed by column name (null for missing values).
    pub fn to_json(&self) -> Value {
        Value::Array(self.json_rows().collect())
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
            table.add_row(row.iter().map(Cell::human_text));
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
            inputs: RunInputs::default(),
        };
        let t = RunsTable::from_runs(&[run]);
        assert_eq!(t.columns[..7], INFO_COLUMNS);
        assert_eq!(t.columns[7..], ["metrics.loss", "params.lr"]);
        let csv = t.to_csv();
        assert!(
            csv.contains("abc,0,\"a, \"\"b\"\"\",FINISHED,1,,,NaN,0.1"),
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
