//! The web UI: hand-written HTML, CSS and JavaScript modules embedded in the binary and
//! served by the tracking server. There is no build step: the files under `ui/assets/`
//! are served as they are.
//!
//! The UI is a single page (`/`) with hash routing (`#/experiments/1`, `#/runs/<id>`,
//! `#/compare?runs=..`, `#/chart?runs=..&metric=..`, `#/models`, `#/report/<exp>?parent=..`),
//! so deep links survive a reload. It
//! talks to the server only through the MLflow REST API under `/ajax-api/2.0/mlflow/`, the
//! artifact proxy, exactly like any other client, and hyperflow's report endpoint
//! ([`super::report`]).
//!
//! The JavaScript modules, one concern each:
//!
//! | file | what |
//! |---|---|
//! | `boot.js` | classic script loaded first: records uncaught errors (`window.__hfErrors`) and shows them |
//! | `app.js` | the hash router; drops answers for pages the user already left |
//! | `dom.js` | `h()`/`s()` element builders (text nodes only, never HTML strings), formatters |
//! | `api.js` | the REST calls, `ApiError` with MLflow's `error_code`/`message`, flattened runs |
//! | `charts.js` | SVG line chart, scatter, parallel coordinates, scales |
//! | `experiments.js`, `runs.js`, `run.js`, `compare.js`, `curves.js` (learning curves), `models.js`, `report.js` | one page each |
//!
//! The runs, compare and chart pages ask [`searches`] (`GET
//! ajax-api/2.0/hyperflow/searches`) what the searches of an experiment (or one parent
//! run) are: their hyperparameters from `space.json`, the objective metric and direction,
//! and the names of the tags that hold a trial's number and state. The UI never spells the
//! stored names of [`crate::tracking::schema`] itself.
//!
//! The report page shows the report of `hyperflow report` (ranges, PED-ANOVA importance,
//! recommendations, plots), analysed on the server; the browser only lays out its sections
//! and shows its SVG plots as images.
//!
//! Assets are served below `/ui/<version>/`, where the version is a hash of their
//! contents: they can be cached for a year (`immutable`), and a new binary with changed
//! assets gets a new URL. The page itself is `no-cache`. Every UI response carries a
//! strict Content-Security-Policy (scripts only from this server, no inline script), so
//! even a rendering bug cannot run code injected through run names or params.

use super::AppState;
use super::error::{ApiError, ApiResult};
use crate::report::parent_space;
use crate::space::{Dist, Space};
use crate::tracking::filter::{Clause, Filter};
use crate::tracking::schema::{
    self, BEST_RUN_TAG, PARENT_TAG, ROLE_TAG, Role, STATE_TAG, StudyParams, TRIAL_TAG, state_tag,
};
use crate::tracking::wire::de;
use crate::tracking::{Run, SearchRuns, Tracker};
use crate::trials::TrialState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::OnceLock;

/// One embedded file: its name below `/ui/<version>/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("ui/assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the UI serves (the page template `index.html` is handled separately).
static ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("boot.js", JS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("charts.js", JS),
    asset!("experiments.js", JS),
    asset!("runs.js", JS),
    asset!("run.js", JS),
    asset!("compare.js", JS),
    asset!("curves.js", JS),
    asset!("models.js", JS),
    asset!("report.js", JS),
];

const INDEX_TEMPLATE: &str = include_str!("ui/assets/index.html");

/// The policy for UI pages and assets: only same-origin scripts and styles, images also
/// from `data:`/`blob:` (chart exports, previews), nothing framed, no plugins.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

/// The assets' version: FNV-1a over every asset, as 16 hex digits. Computed once.
pub fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(INDEX_TEMPLATE.as_bytes());
        for a in ASSETS {
            eat(a.name.as_bytes());
            eat(a.body);
        }
        format!("{h:016x}")
    })
}

/// The UI's routes: the page at `/` (and `/ui`, `/ui/`), and the assets at
/// `/ui/<version>/<file>`. [`super::router`] merges them next to the REST API.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{version}/{file}", get(asset))
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

async fn index() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| INDEX_TEMPLATE.replace("{{V}}", asset_version()));
    let mut resp = (StatusCode::OK, page.as_str()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Revalidate every time: the page names the current asset version.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h);
    resp
}

async fn asset(Path((version, file)): Path<(String, String)>, req: HeaderMap) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == file) else {
        return super::ApiError::not_found(format!("No UI asset '{file}'")).into_response();
    };
    let current = version == asset_version();
    let etag = format!("\"{}\"", asset_version());
    if current
        && req
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut resp = (StatusCode::OK, a.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    // A versioned URL never changes content; an old version (a page loaded before an
    // upgrade) gets today's file, which must not be cached under the old name.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if current {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if current && let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    security_headers(h);
    resp
}

/// The query of [`count_runs`]: the active runs of an experiment, or the children of a
/// parent run, that a filter matches.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CountQuery {
    /// The experiment whose runs are counted.
    #[serde(default, deserialize_with = "de::text")]
    pub experiment_id: Option<String>,
    /// Count the child runs of this run instead (a sweep's trials, for one).
    #[serde(default, deserialize_with = "de::text")]
    pub parent_run_id: Option<String>,
    /// MLflow filter the runs must also match (default: none).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub filter: String,
}

/// What [`count_runs`] answers.
#[derive(Debug, serde::Serialize)]
pub struct CountReply {
    /// How many runs match.
    pub count: usize,
}

/// `GET hyperflow/runs/count`: how many active runs of an experiment (or children of a
/// parent run) match a filter, all pages together: one `COUNT` query on the SQL stores,
/// so the UI shows a sweep's size without listing its trials. Missing runs and experiments
/// are 404.
pub fn count_runs(st: &AppState, q: CountQuery) -> ApiResult<CountReply> {
    let tracker = Tracker::new(st.store().clone());
    let (experiment_id, filter) = match (q.parent_run_id, q.experiment_id) {
        (Some(parent), None) => {
            let parent = tracker.store().get_run_info(&parent)?;
            let children = schema::children_of(&parent.run_id).to_string();
            let filter = if q.filter.trim().is_empty() {
                children
            } else {
                format!("{children} AND {}", q.filter)
            };
            (parent.experiment_id, filter)
        }
        (None, Some(experiment)) => (
            tracker.find_experiment(&experiment)?.experiment_id,
            q.filter,
        ),
        _ => {
            return Err(ApiError::invalid(
                "Give one of 'experiment_id' or 'parent_run_id' (a parent run whose children to count)",
            ));
        }
    };
    let count = tracker.count_runs(&SearchRuns::new().experiment(&experiment_id).filter(filter))?;
    Ok(CountReply { count })
}

/// The most recent searches [`searches`] describes for an experiment.
pub const MAX_SEARCHES: usize = 50;

/// The query of [`searches`]: one of `run_id` (a search's parent run) or `experiment_id`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SearchesQuery {
    /// The parent run of one search.
    #[serde(default, deserialize_with = "de::text")]
    pub run_id: Option<String>,
    /// Every search of this experiment (the [`MAX_SEARCHES`] most recent).
    #[serde(default, deserialize_with = "de::text")]
    pub experiment_id: Option<String>,
}

/// What [`searches`] answers.
#[derive(Debug, serde::Serialize)]
pub struct SearchesReply {
    /// The searches, newest first (none when the run is not a search's parent).
    pub searches: Vec<SearchInfo>,
    /// The tags a trial's run carries.
    pub tags: TrialTags,
}

/// The names of the tags a trial's run carries.
#[derive(Debug, serde::Serialize)]
pub struct TrialTags {
    /// The tag naming the parent run.
    pub parent: &'static str,
    /// The tag holding the trial's number.
    pub trial: &'static str,
    /// The tag holding the trial's state.
    pub state: &'static str,
    /// The state tag's value for a pruned trial.
    pub pruned: String,
}

/// One search: its parent run, objective and hyperparameters.
#[derive(Debug, serde::Serialize)]
pub struct SearchInfo {
    /// The parent run.
    pub run_id: String,
    /// The parent run's name.
    pub run_name: String,
    /// The metric that is the loss of its trials.
    pub metric: String,
    /// `minimize` or `maximize`, when the parent records it.
    pub direction: Option<&'static str>,
    /// The best trial's run so far, when the parent records it.
    pub best_run_id: Option<String>,
    /// The hyperparameters, in sampling order (empty when the space was not logged).
    pub params: Vec<ParamInfo>,
    /// Why the space could not be read, if it could not.
    pub error: Option<String>,
}

/// One hyperparameter of a search's space.
#[derive(Debug, serde::Serialize)]
pub struct ParamInfo {
    /// Its name (the trial runs' param).
    pub name: String,
    /// The distribution's kind (`uniform`, `loguniform`, `choice`, ...).
    pub kind: &'static str,
    /// Whether values are best shown on a log axis.
    pub log: bool,
    /// The options of a choice, as the runs' params print them.
    pub options: Option<Vec<String>>,
    /// The choice and option under which it is active; `None` at the top level.
    pub active_when: Option<ActiveWhen>,
}

/// The choice option a conditional hyperparameter depends on.
#[derive(Debug, serde::Serialize)]
pub struct ActiveWhen {
    /// The choice parameter.
    pub param: String,
    /// The option, as the runs' params print it.
    pub option: String,
}

/// `GET hyperflow/searches`: what the searches of an experiment, or the one search whose
/// parent is `run_id`, are. Missing runs and experiments are 404.
pub fn searches(st: &AppState, q: SearchesQuery) -> ApiResult<SearchesReply> {
    let tracker = Tracker::new(st.store().clone());
    let parents: Vec<Run> = match (q.run_id, q.experiment_id) {
        (Some(run_id), None) => {
            let run = tracker.get_run(&run_id)?;
            if Role::of(&run) == Some(Role::Search) {
                vec![run]
            } else {
                vec![]
            }
        }
        (None, Some(experiment)) => {
            let experiment = tracker.find_experiment(&experiment)?;
            let role = Role::Search.tag().value;
            tracker
                .search_runs(
                    &SearchRuns::new()
                        .experiment(&experiment.experiment_id)
                        .filter(Filter::new().and(Clause::tag(ROLE_TAG).eq(role)))
                        .order_by("attributes.start_time DESC")
                        .max_results(MAX_SEARCHES),
                )?
                .items
        }
        _ => {
            return Err(ApiError::invalid(
                "Give one of 'run_id' (a search's parent run) or 'experiment_id'",
            ));
        }
    };
    Ok(SearchesReply {
        searches: parents.iter().map(|p| search_info(&tracker, p)).collect(),
        tags: TrialTags {
            parent: PARENT_TAG,
            trial: TRIAL_TAG,
            state: STATE_TAG,
            pruned: state_tag(TrialState::Pruned).value,
        },
    })
}

fn search_info(tracker: &Tracker, parent: &Run) -> SearchInfo {
    let (params, error) = match parent_space(tracker, parent) {
        Ok(space) => (space.as_ref().map(params_of).unwrap_or_default(), None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    SearchInfo {
        run_id: parent.info.run_id.clone(),
        run_name: parent.info.run_name.clone(),
        metric: schema::objective_metric(parent).to_string(),
        direction: StudyParams::read(parent).ok().map(|p| p.direction.as_str()),
        best_run_id: parent.data.tag(BEST_RUN_TAG).map(str::to_string),
        params,
        error,
    }
}

fn params_of(space: &Space) -> Vec<ParamInfo> {
    let all = space.params();
    all.iter()
        .map(|p| ParamInfo {
            name: p.name.clone(),
            kind: p.dist.kind(),
            log: p.dist.is_log(),
            options: match &p.dist {
                Dist::Choice { options } => Some(options.iter().map(ToString::to_string).collect()),
                _ => None,
            },
            active_when: p.parent.as_ref().and_then(|c| {
                let choice = all.get(c.param)?;
                let Dist::Choice { options } = &choice.dist else {
                    return None;
                };
                Some(ActiveWhen {
                    param: choice.name.clone(),
                    option: options.get(c.option)?.to_string(),
                })
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_stable_hex() {
        let v = asset_version();
        assert_eq!(v.len(), 16);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(v, asset_version());
    }

    #[test]
    fn index_names_versioned_assets() {
        let page = INDEX_TEMPLATE.replace("{{V}}", asset_version());
        assert!(!page.contains("{{V}}"));
        for script in ["boot.js", "app.js", "style.css"] {
            assert!(page.contains(&format!("ui/{}/{script}", asset_version())));
        }
    }

    #[test]
    fn js_modules_only_import_embedded_files() {
        // A module importing a file that is not in ASSETS would 404 in the browser.
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let spec = line.split(['\'', '"']).nth(1).unwrap();
                let name = spec.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|b| b.name == name),
                    "{} imports {spec}, which is not embedded",
                    a.name
                );
            }
        }
    }
}
