//! `runs/search` and `experiments/search` past SQLite's limits on one statement (64 joined
//! tables, 32,766 bound values, expression trees 1,000 deep), through the real server over
//! HTTP and through the REST store: each answers 200, or 400 `INVALID_PARAMETER_VALUE` in
//! words; never a 5xx (which the official MLflow client retries for minutes), never SQL.

use hyperflow::server::{AppState, ServerHandle, spawn_state};
use hyperflow::tracking::filter::{Clause, Filter, RunAttribute};
use hyperflow::tracking::sqlite::{MAX_FILTER_CLAUSES, MAX_ORDER_BY_KEYS};
use hyperflow::tracking::*;
use serde_json::{Value, json};
use std::sync::Arc;

struct Server {
    handle: ServerHandle,
    experiment: ExperimentId,
    run_ids: Vec<String>,
    _dir: tempfile::TempDir,
}

/// A server over a fresh SQLite file with two runs of 80 metrics, params and tags each,
/// logged through the REST store.
fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let arts = dir.path().join("artifacts");
    let store = SqliteStore::open_with_artifact_root(dir.path().join("t.db"), &arts).unwrap();
    let handle = spawn_state(AppState::new(Arc::new(store)).with_artifacts(arts), Some(2)).unwrap();
    let rest = RestStore::with_auth(&handle.url(), RestAuth::None).unwrap();
    let experiment = rest.create_experiment("limits", None, &[]).unwrap();
    let run_ids = (0..2)
        .map(|i| {
            let record = RunRecord {
                start: RunStart {
                    run_name: Some(format!("r{i}")),
                    tags: (0..80)
                        .map(|k| Tag::new(format!("t{k}"), i.to_string()))
                        .collect(),
                    ..RunStart::default()
                },
                metrics: (0..80)
                    .map(|k| Metric {
                        key: format!("m{k}"),
                        value: f64::from(i),
                        timestamp: 1,
                        step: 0,
                    })
                    .collect(),
                params: (0..80)
                    .map(|k| Param::new(format!("p{k}"), i.to_string()))
                    .collect(),
                ..RunRecord::default()
            };
            rest.record_run(&experiment, &record).unwrap().info.run_id
        })
        .collect();
    Server {
        handle,
        experiment,
        run_ids,
        _dir: dir,
    }
}

impl Server {
    /// POSTs `body` to `/api/2.0/mlflow/<endpoint>`: the status and the JSON answer.
    fn post(&self, endpoint: &str, body: &Value) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.handle.url());
        let mut response = agent
            .post(&url)
            .content_type("application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {endpoint}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{endpoint} answered {status} with non-JSON ({e}): {text}"));
        (status, json)
    }

    fn search_runs(&self, filter: &str, order_by: &[String], extra_ids: usize) -> (u16, Value) {
        let ids: Vec<String> = std::iter::once(self.experiment.to_string())
            .chain((0..extra_ids).map(|i| (1_000_000 + i).to_string()))
            .collect();
        let body = json!({"experiment_ids": ids, "filter": filter, "order_by": order_by});
        self.post("runs/search", &body)
    }
}

/// The answer is 200, or a 400 `INVALID_PARAMETER_VALUE` whose message holds no SQL; returns
/// the status.
fn check(what: &str, (status, body): &(u16, Value)) -> u16 {
    match status {
        200 => {}
        400 => {
            assert_eq!(
                body["error_code"], "INVALID_PARAMETER_VALUE",
                "{what}: {body}"
            );
            let message = body["message"].as_str().unwrap_or_default();
            for word in ["SELECT", "JOIN", "WHERE", "json_each", "latest_metrics"] {
                assert!(!message.contains(word), "{what}: SQL in {message}");
            }
        }
        other => panic!("{what}: status {other}: {body}"),
    }
    *status
}

fn run_names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .filter_map(|r| r["info"]["run_name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn run_searches_past_sqlite_limits_answer_200_or_400() {
    let server = start();
    let mut many = Filter::new();
    for k in 0..80 {
        many = many
            .and(Clause::metric(format!("m{k}")).ge(1.0))
            .and(Clause::param(format!("p{k}")).eq("1"));
    }
    let order_by: Vec<String> = (0..80)
        .flat_map(|k| [format!("metrics.m{k} DESC"), format!("tags.t{k}")])
        .collect();
    let fakes: Vec<String> = (0..40_000).map(|i| format!("{i:032x}")).collect();
    let in_list = Filter::new().and(
        Clause::attribute(RunAttribute::RUN_ID).is_in(fakes.iter().chain(&server.run_ids[..1])),
    );
    let not_in = Filter::new().and(Clause::attribute(RunAttribute::RUN_ID).not_in(&fakes));

    let answer = server.search_runs(&many.to_string(), &[], 0);
    assert_eq!(check("160 comparisons", &answer), 200);
    assert_eq!(run_names(&answer.1), ["r1"]);
    let answer = server.search_runs(&many.to_string(), &order_by, 0);
    assert_eq!(check("160 comparisons, 160 order_by keys", &answer), 200);
    assert_eq!(run_names(&answer.1), ["r1"]);
    let answer = server.search_runs(&in_list.to_string(), &[], 0);
    assert_eq!(check("IN 40,001 run ids", &answer), 200);
    assert_eq!(run_names(&answer.1), ["r0"]);
    let answer = server.search_runs(&not_in.to_string(), &[], 0);
    assert_eq!(check("NOT IN 40,000 run ids", &answer), 200);
    assert_eq!(run_names(&answer.1), ["r0", "r1"]);
    let answer = server.search_runs("", &[], 32_765);
    assert_eq!(check("32,766 experiment ids", &answer), 200);
    assert_eq!(run_names(&answer.1), ["r0", "r1"]);

    let too_many = (0..5 * MAX_FILTER_CLAUSES).fold(Filter::new(), |f, k| {
        f.and(Clause::tag(format!("t{}", k % 80)).ne("x"))
    });
    let answer = server.search_runs(&too_many.to_string(), &[], 0);
    assert_eq!(check("5,000 comparisons", &answer), 400);
    let message = answer.1["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("5000") && message.contains(&MAX_FILTER_CLAUSES.to_string()),
        "{message}"
    );
    let keys: Vec<String> = (0..=MAX_ORDER_BY_KEYS)
        .map(|k| format!("params.k{k}"))
        .collect();
    let answer = server.search_runs("", &keys, 0);
    assert_eq!(check("too many order_by keys", &answer), 400);
}

#[test]
fn experiment_searches_past_sqlite_limits_answer_200_or_400() {
    let server = start();
    let absent: Vec<String> = (0..300)
        .map(|k| format!("tags.absent{k} IS NULL"))
        .collect();
    let answer = server.post(
        "experiments/search",
        &json!({"filter": absent.join(" AND "), "max_results": 100}),
    );
    assert_eq!(check("300 tag comparisons", &answer), 200);
    assert_eq!(answer.1["experiments"].as_array().map(Vec::len), Some(2));
    let ids: Vec<String> = (0..40_000)
        .map(|i| format!("'{}'", 1_000_000 + i))
        .chain([format!("'{}'", server.experiment)])
        .collect();
    let answer = server.post(
        "experiments/search",
        &json!({"filter": format!("experiment_id IN ({})", ids.join(", ")), "max_results": 100}),
    );
    assert_eq!(check("IN 40,001 experiment ids", &answer), 200);
    assert_eq!(answer.1["experiments"].as_array().map(Vec::len), Some(1));
    let too_many: Vec<String> = (0..=MAX_FILTER_CLAUSES)
        .map(|k| format!("tags.k{k} IS NULL"))
        .collect();
    let answer = server.post(
        "experiments/search",
        &json!({"filter": too_many.join(" AND ")}),
    );
    assert_eq!(check("too many comparisons", &answer), 400);
}

#[test]
fn the_rest_store_gets_answers_and_invalid_parameter_errors() {
    let server = start();
    let rest = RestStore::with_auth(&server.handle.url(), RestAuth::None).unwrap();
    let query = |filter: Filter| RunQuery {
        experiment_ids: vec![server.experiment.clone()],
        filter: filter.to_string(),
        ..RunQuery::default()
    };
    let many = (0..300).fold(Filter::new(), |f, k| {
        f.and(Clause::tag(format!("t{}", k % 80)).eq("0"))
    });
    let page = rest.search_runs(&query(many)).unwrap();
    assert_eq!(page.items.len(), 1);
    let too_many = (0..=MAX_FILTER_CLAUSES).fold(Filter::new(), |f, k| {
        f.and(Clause::metric(format!("m{k}")).ge(0.0))
    });
    let e = rest.search_runs(&query(too_many)).unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    assert!(e.to_string().contains("filter comparisons"), "{e}");
}
