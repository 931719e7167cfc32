//! `GET /ajax-api/2.0/hyperflow/report` (and `/api/2.0/hyperflow/report`): the
//! sensible-ranges report of a sweep or an experiment, made with [`report::from_store`] and
//! [`report::analyze`] exactly as `hyperflow report` makes it. The web UI's report page
//! shows it.
//!
//! Query fields:
//!
//! - `parent_run_id`: one sweep (the child runs of that parent run); or
//! - `experiment_id`: every sweep of an experiment (by id or name); and/or
//! - `filter`: the trial runs matching an MLflow filter (inside `experiment_id` when given);
//! - `metric` (the loss metric), `direction` (`minimize` or `maximize`) and `top_quantile`,
//!   as `--metric`, `--direction` and `--top` of `hyperflow report`.
//!
//! The answer: `report` is the report as `hyperflow report --format json` writes it;
//! `sections` is what every renderer shows, in order (`level`, `title`, and one of
//! `table` = `{header, rows, right}`, `lines` or `notes`); `plots` holds each plot's
//! `file_name`, `title` and `svg`; `range_legend` explains the range bars of the tables.
//! Bad fields and sources without trials are MLflow error bodies with status 400, missing
//! runs and experiments 404.

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::report::render::{BAR_LEGEND, sections};
use crate::report::{self, Report, ReportError, ReportOptions, ReportSource, StoreOptions};
use crate::tracking::Tracker;
use crate::tracking::wire::de;
use crate::trials::Direction;
use serde::{Deserialize, Serialize};

/// The query of the report endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportQuery {
    /// One sweep: the child runs of this parent run.
    #[serde(default, deserialize_with = "de::text")]
    pub parent_run_id: Option<String>,
    /// Every sweep of an experiment (id or name).
    #[serde(default, deserialize_with = "de::text")]
    pub experiment_id: Option<String>,
    /// The trial runs matching an MLflow filter.
    #[serde(default, deserialize_with = "de::text")]
    pub filter: Option<String>,
    /// The loss metric.
    #[serde(default, deserialize_with = "de::text")]
    pub metric: Option<String>,
    /// `minimize` or `maximize`.
    #[serde(default, deserialize_with = "de::text")]
    pub direction: Option<String>,
    /// The share of trials that counts as the top.
    #[serde(default, deserialize_with = "de::double")]
    pub top_quantile: Option<f64>,
    /// Answer only what a page shows (sections and plots), without the report's data,
    /// whose loss history has an entry per trial (9 MB at 100,000 trials).
    #[serde(default, deserialize_with = "de::flag")]
    pub page_only: bool,
}

/// The report endpoint's answer.
#[derive(Serialize)]
pub(crate) struct ReportReply {
    /// The report as `hyperflow report --format json` writes it (none with `page_only`).
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<Report>,
    /// What every renderer shows, in order.
    sections: serde_json::Value,
    /// The plots.
    plots: Vec<Plot>,
    /// What the range bars of the tables mean.
    range_legend: &'static str,
}

/// One plot of the report.
#[derive(Serialize)]
struct Plot {
    /// File name, e.g. `loss.svg`.
    file_name: String,
    /// Title.
    title: String,
    /// The SVG document.
    svg: String,
}

/// Build the report the query asks for.
pub(crate) fn report(st: &AppState, q: ReportQuery) -> ApiResult<ReportReply> {
    let source = source(&q)?;
    let mut store_options = StoreOptions::default();
    if let Some(metric) = q.metric {
        store_options = store_options.metric(metric);
    }
    match q.direction.as_deref() {
        None => {}
        Some("minimize") => store_options = store_options.direction(Direction::Minimize),
        Some("maximize") => store_options = store_options.direction(Direction::Maximize),
        Some(other) => {
            return Err(ApiError::invalid_value(
                "direction",
                &serde_json::Value::from(other),
                "use minimize or maximize",
            ));
        }
    }
    let mut options = ReportOptions::default();
    if let Some(top) = q.top_quantile {
        options = options.top_quantile(top);
    }
    let tracker = Tracker::new(st.store().clone());
    let read = report::from_store(&tracker, &source, &store_options)?;
    let report = report::analyze(&read.input, &options)?;
    let plots = report
        .plots()?
        .into_iter()
        .map(|p| Plot {
            file_name: p.file_name,
            title: p.title,
            svg: p.svg,
        })
        .collect();
    Ok(ReportReply {
        sections: serde_json::to_value(sections(&report))
            .map_err(|e| ApiError::internal(format!("serializing the report: {e}")))?,
        report: (!q.page_only).then_some(report),
        plots,
        range_legend: BAR_LEGEND,
    })
}

/// Which runs the query names.
fn source(q: &ReportQuery) -> ApiResult<ReportSource> {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let experiments: Vec<String> = given(&q.experiment_id).into_iter().collect();
    match (given(&q.parent_run_id), given(&q.filter)) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "Give either 'parent_run_id' (one sweep) or 'filter' (matching trial runs), not \
             both",
        )),
        (Some(parent), None) => Ok(ReportSource::Parent(parent)),
        (None, Some(filter)) => Ok(ReportSource::Filter {
            filter,
            experiments,
        }),
        (None, None) if !experiments.is_empty() => Ok(ReportSource::Experiments(experiments)),
        (None, None) => Err(ApiError::invalid(
            "Missing value for required parameter 'experiment_id' (or 'parent_run_id' for \
             one sweep, or 'filter' for matching runs).",
        )),
    }
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Store(e) => e.into(),
            ReportError::RunNotFound(_) | ReportError::ExperimentNotFound(_) => {
                ApiError::not_found(e.to_string())
            }
            ReportError::InvalidOption { .. }
            | ReportError::NoTrials(_)
            | ReportError::MixedDirections(_)
            | ReportError::RunData { .. }
            | ReportError::NoGroups
            | ReportError::Space(_)
            | ReportError::UnknownFormat(_) => ApiError::invalid(e.to_string()),
            ReportError::Plot { .. } | ReportError::Json(_) | ReportError::Io { .. } => {
                ApiError::internal(e.to_string())
            }
        }
    }
}
