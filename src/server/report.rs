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
use super::api::Reply;
use super::error::{ApiError, ApiResult};
use super::fields::Fields;
use crate::report::render::{BAR_LEGEND, sections};
use crate::report::{self, ReportError, ReportOptions, ReportSource, StoreOptions};
use crate::tracking::Tracker;
use crate::trials::Direction;
use serde_json::json;

/// Build the report the query asks for.
pub fn report(st: &AppState, f: Fields) -> ApiResult<Reply> {
    let source = source(&f)?;
    let mut store_options = StoreOptions::default();
    if let Some(metric) = f.opt_str("metric")?.filter(|m| !m.is_empty()) {
        store_options = store_options.metric(metric);
    }
    match f.opt_str("direction")?.as_deref() {
        None | Some("") => {}
        Some("minimize") => store_options = store_options.direction(Direction::Minimize),
        Some("maximize") => store_options = store_options.direction(Direction::Maximize),
        Some(other) => {
            return Err(ApiError::invalid_value(
                "direction",
                &json!(other),
                "use minimize or maximize",
            ));
        }
    }
    let mut options = ReportOptions::default();
    if let Some(top) = f.opt_f64("top_quantile")? {
        options = options.top_quantile(top);
    }
    let tracker = Tracker::new(st.store().clone());
    let read = report::from_store(&tracker, &source, &store_options)?;
    let report = report::analyze(&read.input, &options)?;
    let plots: Vec<_> = report
        .plots()?
        .into_iter()
        .map(|p| json!({"file_name": p.file_name, "title": p.title, "svg": p.svg}))
        .collect();
    Ok(json!({
        "report": report,
        "sections": sections(&report),
        "plots": plots,
        "range_legend": BAR_LEGEND,
    })
    .into())
}

/// Which runs the query names.
fn source(f: &Fields) -> ApiResult<ReportSource> {
    let field = |name| -> ApiResult<Option<String>> {
        Ok(f.opt_str(name)?.filter(|v| !v.trim().is_empty()))
    };
    let experiments: Vec<String> = field("experiment_id")?.into_iter().collect();
    match (field("parent_run_id")?, field("filter")?) {
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
