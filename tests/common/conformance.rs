//! The store conformance suite: MLflow semantics every `Store` must have.
//!
//! Each check takes a fresh, empty store (`&dyn Store`). A backend's test file runs all of
//! them with `conformance_suite!(factory)`, where `factory()` returns `(Arc<dyn Store>, G)`
//! and `G` is a guard (e.g. a temp dir) kept alive for the test. A backend that needs an
//! external server runs a list of them with `conformance_suite!(skippable factory; names)`,
//! where `factory(test_name)` returns `None` when the test is to be skipped.
#![allow(dead_code)]

use hyperflow::tracking::store::*;
use hyperflow::tracking::*;

/// Generate one `#[test]` per conformance check for a store factory.
#[allow(unused_macros)]
macro_rules! conformance_suite {
    ($factory:expr) => {
        conformance_suite!(@tests $factory;
            experiments_crud, experiment_search, experiment_delete_cascades,
            run_create_defaults, run_update_and_reopen, run_delete_restore,
            writes_to_deleted_run_rejected, params_immutable, metrics_history_and_latest,
            tags_upsert_delete, batch_limits_and_validation, nested_runs,
            search_metric_operators, search_param_tag_operators, search_attribute_operators,
            search_order_by, search_pagination_and_views, search_pages_by_sort_key,
            search_errors, search_limits, record_run_in_one_go, batch_and_update_in_one_go, artifacts_round_trip,
            select_runs_reads_what_search_runs_reads, registered_models_crud,
            model_versions_and_aliases, model_version_stages, registry_order_by,
            logged_model_metrics, logged_models_crud);
    };
    // A named subset of the checks, for a store whose factory returns `None` when the test
    // must be skipped (its external server is not installed; the factory says why).
    (skippable $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some((store, _guard)) = $factory(stringify!($name)) else {
                    return;
                };
                common::conformance::$name(&*store);
            }
        )*
    };
    (@tests $factory:expr; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $factory();
                common::conformance::$name(&*store);
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use conformance_suite;

fn code<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.error_code(),
    }
}

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn m(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
    }
}

fn new_run(s: &dyn Store, exp: &ExperimentId, name: &str, start: i64) -> Run {
    s.create_run(
        exp,
        RunStart {
            run_name: Some(name.into()),
            user_id: Some("alice".into()),
            start_time: Some(start),
            tags: vec![],
        },
    )
    .unwrap()
}

fn search(s: &dyn Store, exp: &ExperimentId, filter: &str, order: &[&str]) -> Vec<String> {
    let q = RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        order_by: order.iter().map(|o| o.to_string()).collect(),
        ..RunQuery::default()
    };
    s.search_runs(&q)
        .unwrap_or_else(|e| panic!("search {filter:?} {order:?}: {e}"))
        .items
        .into_iter()
        .map(|r| r.info.run_name)
        .collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub fn experiments_crud(s: &dyn Store) {
    let default = s
        .get_experiment(&ExperimentId::default_experiment())
        .unwrap();
    assert_eq!(default.name, "Default");
    assert_eq!(default.lifecycle_stage, LifecycleStage::Active);

    let id = s
        .create_experiment("exp-a", None, &[Tag::new("team", "ml")])
        .unwrap();
    assert_ne!(id, default.experiment_id);
    let e = s.get_experiment(&id).unwrap();
    assert_eq!(e.name, "exp-a");
    assert!(
        e.artifact_location.ends_with(&format!("/{id}")),
        "{}",
        e.artifact_location
    );
    assert_eq!(e.tags, vec![Tag::new("team", "ml")]);
    assert!(e.creation_time > 0 && e.last_update_time >= e.creation_time);
    assert_eq!(
        s.get_experiment_by_name("exp-a")
            .unwrap()
            .unwrap()
            .experiment_id,
        id
    );
    assert!(s.get_experiment_by_name("nope").unwrap().is_none());

    let custom = s
        .create_experiment("exp-b", Some("/tmp/somewhere"), &[])
        .unwrap();
    assert_eq!(
        s.get_experiment(&custom).unwrap().artifact_location,
        "/tmp/somewhere"
    );

    assert_eq!(
        code(s.create_experiment("exp-a", None, &[])),
        "RESOURCE_ALREADY_EXISTS"
    );
    assert_eq!(
        code(s.create_experiment("", None, &[])),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.get_experiment(&ExperimentId::from("999"))),
        "RESOURCE_DOES_NOT_EXIST"
    );

    s.rename_experiment(&id, "exp-a2").unwrap();
    assert_eq!(s.get_experiment(&id).unwrap().name, "exp-a2");
    assert_eq!(
        code(s.rename_experiment(&id, "exp-b")),
        "RESOURCE_ALREADY_EXISTS"
    );

    s.set_experiment_tag(&id, &Tag::new("team", "infra"))
        .unwrap();
    assert_eq!(
        s.get_experiment(&id).unwrap().tags,
        vec![Tag::new("team", "infra")]
    );

    s.delete_experiment(&id).unwrap();
    let e = s.get_experiment(&id).unwrap();
    assert_eq!(e.lifecycle_stage, LifecycleStage::Deleted);
    // Names stay taken by deleted experiments; get-by-name finds deleted ones.
    assert_eq!(
        code(s.create_experiment("exp-a2", None, &[])),
        "RESOURCE_ALREADY_EXISTS"
    );
    assert!(s.get_experiment_by_name("exp-a2").unwrap().is_some());
    assert_eq!(code(s.rename_experiment(&id, "x")), "INVALID_STATE");
    assert_eq!(
        code(s.create_run(&id, RunStart::default())),
        "INVALID_PARAMETER_VALUE"
    );
    s.restore_experiment(&id).unwrap();
    assert_eq!(
        s.get_experiment(&id).unwrap().lifecycle_stage,
        LifecycleStage::Active
    );
}

pub fn experiment_search(s: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            s.create_experiment(
                &format!("search-{i}"),
                None,
                &[Tag::new("k", format!("v{i}"))],
            )
            .unwrap(),
        );
    }
    s.delete_experiment(&ids[4]).unwrap();
    let q = |filter: &str, view: ViewType| ExperimentQuery {
        filter: filter.into(),
        view_type: view,
        order_by: vec!["name ASC".into()],
        ..ExperimentQuery::default()
    };
    let got = |q: ExperimentQuery| -> Vec<String> {
        s.search_experiments(&q)
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    assert_eq!(
        got(q("", ViewType::ActiveOnly)),
        names(&["Default", "search-0", "search-1", "search-2", "search-3"])
    );
    assert_eq!(got(q("", ViewType::DeletedOnly)), names(&["search-4"]));
    assert_eq!(got(q("", ViewType::All)).len(), 6);
    assert_eq!(
        got(q("name LIKE 'search-%'", ViewType::ActiveOnly)).len(),
        4
    );
    assert_eq!(
        got(q("tags.k = 'v1'", ViewType::ActiveOnly)),
        names(&["search-1"])
    );
    assert_eq!(
        got(q("name ILIKE 'SEARCH-2'", ViewType::ActiveOnly)),
        names(&["search-2"])
    );
    let mut page_q = q("", ViewType::All);
    page_q.max_results = 4;
    let p1 = s.search_experiments(&page_q).unwrap();
    assert_eq!(p1.items.len(), 4);
    page_q.page_token = p1.next_page_token.clone();
    assert!(page_q.page_token.is_some());
    let p2 = s.search_experiments(&page_q).unwrap();
    assert_eq!(p2.items.len(), 2);
    assert!(p2.next_page_token.is_none());
    assert_eq!(
        code(s.search_experiments(&q("name = ", ViewType::All))),
        "INVALID_PARAMETER_VALUE"
    );
}

pub fn experiment_delete_cascades(s: &dyn Store) {
    let exp = s.create_experiment("cascade", None, &[]).unwrap();
    let a = new_run(s, &exp, "a", 1);
    let b = new_run(s, &exp, "b", 2);
    s.delete_experiment(&exp).unwrap();
    for r in [&a, &b] {
        assert_eq!(
            s.get_run(r.id()).unwrap().info.lifecycle_stage,
            LifecycleStage::Deleted
        );
    }
    assert!(search(s, &exp, "", &[]).is_empty());
    s.restore_experiment(&exp).unwrap();
    assert_eq!(sorted(search(s, &exp, "", &[])), names(&["a", "b"]));
}

pub fn run_create_defaults(s: &dyn Store) {
    let exp = s.create_experiment("runs", None, &[]).unwrap();
    let loc = s.get_experiment(&exp).unwrap().artifact_location;
    let r = s.create_run(&exp, RunStart::default()).unwrap();
    assert_eq!(r.info.run_id.len(), 32);
    assert!(
        r.info
            .run_id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(r.info.status, RunStatus::Running);
    assert_eq!(r.info.end_time, None);
    assert_eq!(r.info.lifecycle_stage, LifecycleStage::Active);
    assert_eq!(
        r.info.artifact_uri,
        format!("{loc}/{}/artifacts", r.info.run_id)
    );
    let parts: Vec<&str> = r.info.run_name.split('-').collect();
    assert_eq!(parts.len(), 3, "generated name {}", r.info.run_name);
    assert!(parts[2].parse::<u32>().is_ok());
    assert!((r.info.start_time - now_ms()).abs() < 60_000);
    let got = s.get_run(r.id()).unwrap();
    assert_eq!(got.info, r.info);
    assert_eq!(s.get_run_info(r.id()).unwrap(), r.info);
    assert_eq!(code(s.get_run_info("nope")), "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(got.data.tag(tags::RUN_NAME), Some(r.info.run_name.as_str()));

    // Name from the tag; name and tag conflicting is an error.
    let r2 = s
        .create_run(
            &exp,
            RunStart {
                tags: vec![Tag::new(tags::RUN_NAME, "from-tag")],
                ..RunStart::default()
            },
        )
        .unwrap();
    assert_eq!(r2.info.run_name, "from-tag");
    assert_eq!(
        code(s.create_run(
            &exp,
            RunStart {
                run_name: Some("x".into()),
                tags: vec![Tag::new(tags::RUN_NAME, "y")],
                ..RunStart::default()
            }
        )),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.create_run(&ExperimentId::from("4242"), RunStart::default())),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.get_run("0123456789abcdef0123456789abcdef")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert!(err_text(s.get_run("nope")).contains("Run with id=nope not found"));
}

pub fn run_update_and_reopen(s: &dyn Store) {
    let exp = ExperimentId::default_experiment();
    let r = new_run(s, &exp, "upd", 100);
    let info = s
        .update_run(
            r.id(),
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(200),
                run_name: None,
            },
        )
        .unwrap();
    assert_eq!(info.status, RunStatus::Finished);
    assert_eq!(info.end_time, Some(200));
    assert_eq!(s.get_run(r.id()).unwrap().info, info);
    // Reopen: RUNNING again, end time cleared.
    let info = s
        .update_run(
            r.id(),
            RunUpdate {
                status: Some(RunStatus::Running),
                ..RunUpdate::default()
            },
        )
        .unwrap();
    assert_eq!((info.status, info.end_time), (RunStatus::Running, None));
    // Rename rewrites the tag.
    s.update_run(
        r.id(),
        RunUpdate {
            run_name: Some("renamed".into()),
            ..RunUpdate::default()
        },
    )
    .unwrap();
    let got = s.get_run(r.id()).unwrap();
    assert_eq!(got.info.run_name, "renamed");
    assert_eq!(got.data.tag(tags::RUN_NAME), Some("renamed"));
    for st in RunStatus::ALL {
        let i = s
            .update_run(
                r.id(),
                RunUpdate {
                    status: Some(st),
                    ..RunUpdate::default()
                },
            )
            .unwrap();
        assert_eq!(i.status, st);
    }
}

pub fn run_delete_restore(s: &dyn Store) {
    let exp = ExperimentId::default_experiment();
    let r = new_run(s, &exp, "del", 1);
    s.delete_run(r.id()).unwrap();
    s.delete_run(r.id()).unwrap(); // idempotent
    assert_eq!(
        s.get_run(r.id()).unwrap().info.lifecycle_stage,
        LifecycleStage::Deleted
    );
    assert!(search(s, &exp, "", &[]).is_empty());
    s.restore_run(r.id()).unwrap();
    s.restore_run(r.id()).unwrap();
    assert_eq!(
        s.get_run(r.id()).unwrap().info.lifecycle_stage,
        LifecycleStage::Active
    );
    assert_eq!(code(s.delete_run("missing")), "RESOURCE_DOES_NOT_EXIST");
}

pub fn writes_to_deleted_run_rejected(s: &dyn Store) {
    let r = new_run(s, &ExperimentId::default_experiment(), "gone", 1);
    s.set_tag(r.id(), &Tag::new("t", "1")).unwrap();
    s.delete_run(r.id()).unwrap();
    let checks: Vec<Result<()>> = vec![
        s.log_metric(r.id(), &m("x", 1.0, 1, 0)),
        s.log_param(r.id(), &Param::new("p", "1")),
        s.set_tag(r.id(), &Tag::new("t", "2")),
        s.delete_tag(r.id(), "t"),
        s.log_batch(r.id(), &[], &[], &[]),
        s.update_run(
            r.id(),
            RunUpdate {
                status: Some(RunStatus::Finished),
                ..RunUpdate::default()
            },
        )
        .map(|_| ()),
    ];
    for c in checks {
        let e = c.unwrap_err();
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
        assert!(
            e.to_string().contains("must be in the 'active' state"),
            "{e}"
        );
    }
}

pub fn params_immutable(s: &dyn Store) {
    let r = new_run(s, &ExperimentId::default_experiment(), "p", 1);
    s.log_param(r.id(), &Param::new("lr", "0.1")).unwrap();
    s.log_param(r.id(), &Param::new("lr", "0.1")).unwrap(); // same value: fine
    let e = s.log_param(r.id(), &Param::new("lr", "0.2")).unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
    let text = e.to_string();
    assert!(
        text.contains("lr") && text.contains("0.1") && text.contains("0.2"),
        "{text}"
    );
    // A conflicting batch writes nothing at all.
    let e = s
        .log_batch(
            r.id(),
            &[m("loss", 1.0, 1, 0)],
            &[Param::new("new", "x"), Param::new("lr", "0.3")],
            &[Tag::new("t", "v")],
        )
        .unwrap_err();
    assert!(e.to_string().contains("0.3"), "{e}");
    let got = s.get_run(r.id()).unwrap();
    assert_eq!(got.data.params, vec![Param::new("lr", "0.1")]);
    assert!(got.data.metrics.is_empty());
    assert_eq!(got.data.tag("t"), None);
    // Duplicate keys with different values inside one batch.
    assert_eq!(
        code(s.log_batch(
            r.id(),
            &[],
            &[Param::new("a", "1"), Param::new("a", "2")],
            &[]
        )),
        "INVALID_PARAMETER_VALUE"
    );
    // Long values: rejected with a clear error, never truncated.
    let e = s
        .log_param(r.id(), &Param::new("long", "x".repeat(6001)))
        .unwrap_err();
    assert!(e.to_string().contains("6000"), "{e}");
    s.log_param(r.id(), &Param::new("long", "x".repeat(6000)))
        .unwrap();
    assert_eq!(
        s.get_run(r.id()).unwrap().data.param("long").map(str::len),
        Some(6000)
    );
}

pub fn metrics_history_and_latest(s: &dyn Store) {
    let r = new_run(s, &ExperimentId::default_experiment(), "m", 1);
    let id = r.id();
    s.log_batch(
        id,
        &[
            m("loss", 3.0, 10, 0),
            m("loss", 2.0, 11, 1),
            m("loss", 1.0, 12, 2),
            m("loss", 1.0, 12, 2),
        ],
        &[],
        &[],
    )
    .unwrap();
    // An older step logged later does not become the latest.
    s.log_metric(id, &m("loss", 9.0, 99, 1)).unwrap();
    let hist = s.get_metric_history(id, "loss").unwrap();
    assert_eq!(hist.len(), 4, "exact duplicate deduplicated: {hist:?}");
    let ts: Vec<i64> = hist.iter().map(|p| p.timestamp).collect();
    assert_eq!(ts, vec![10, 11, 12, 99]);
    let latest = s.get_run(id).unwrap().data.metrics;
    assert_eq!(latest, vec![m("loss", 1.0, 12, 2)]);
    // Within one batch as across batches: the greatest (step, timestamp, value) is the
    // latest, wherever it stands in the batch.
    let acc = [(0.7, 20, 3), (0.8, 20, 3), (0.9, 21, 1), (0.6, 20, 3)]
        .map(|(v, ts, step)| m("acc", v, ts, step));
    s.log_batch(id, &acc, &[], &[]).unwrap();
    assert_eq!(s.get_run(id).unwrap().data.metric("acc"), Some(0.8));
    // Same step, later timestamp wins; same step and ts, larger value wins.
    s.log_metric(id, &m("loss", 5.0, 13, 2)).unwrap();
    assert_eq!(s.get_run(id).unwrap().data.metric("loss"), Some(5.0));
    s.log_metric(id, &m("loss", 6.0, 13, 2)).unwrap();
    assert_eq!(s.get_run(id).unwrap().data.metric("loss"), Some(6.0));
    // Non-finite values are kept faithfully.
    s.log_batch(
        id,
        &[
            m("nan", f64::NAN, 1, 0),
            m("inf", f64::INFINITY, 1, 0),
            m("ninf", f64::NEG_INFINITY, 1, 0),
        ],
        &[],
        &[],
    )
    .unwrap();
    let d = s.get_run(id).unwrap().data;
    assert!(d.metric("nan").unwrap().is_nan());
    assert_eq!(d.metric("inf"), Some(f64::INFINITY));
    assert_eq!(d.metric("ninf"), Some(f64::NEG_INFINITY));
    s.log_metric(id, &m("nan", f64::NAN, 1, 0)).unwrap();
    assert_eq!(
        s.get_metric_history(id, "nan").unwrap().len(),
        1,
        "NaN duplicate deduplicated"
    );
    // Large values and negative steps round-trip.
    s.log_metric(id, &m("big", 1e300, 5, -3)).unwrap();
    assert_eq!(
        s.get_metric_history(id, "big").unwrap(),
        vec![m("big", 1e300, 5, -3)]
    );
    assert!(s.get_metric_history(id, "unknown").unwrap().is_empty());
    let p1 = s.get_metric_history_page(id, "loss", 3, None).unwrap();
    assert_eq!(p1.items.len(), 3);
    let p2 = s
        .get_metric_history_page(id, "loss", 3, p1.next_page_token.as_deref())
        .unwrap();
    assert_eq!(p2.items.len(), 3);
    assert!(p2.next_page_token.is_none());
    assert_eq!(
        [p1.items, p2.items].concat(),
        s.get_metric_history(id, "loss").unwrap()
    );
    assert_eq!(
        code(s.get_metric_history("missing", "loss")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.log_metric(id, &m("neg-ts", 1.0, -1, 0))),
        "INVALID_PARAMETER_VALUE"
    );
    // Latest keys come sorted.
    let keys: Vec<String> = s
        .get_run(id)
        .unwrap()
        .data
        .metrics
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, names(&["acc", "big", "inf", "loss", "nan", "ninf"]));
}

pub fn tags_upsert_delete(s: &dyn Store) {
    let r = new_run(s, &ExperimentId::default_experiment(), "t", 1);
    s.set_tag(r.id(), &Tag::new("a", "1")).unwrap();
    s.set_tag(r.id(), &Tag::new("a", "2")).unwrap();
    assert_eq!(s.get_run(r.id()).unwrap().data.tag("a"), Some("2"));
    s.delete_tag(r.id(), "a").unwrap();
    assert_eq!(s.get_run(r.id()).unwrap().data.tag("a"), None);
    assert_eq!(code(s.delete_tag(r.id(), "a")), "RESOURCE_DOES_NOT_EXIST");
    // Setting mlflow.runName renames the run.
    s.set_tag(r.id(), &Tag::new(tags::RUN_NAME, "via-tag"))
        .unwrap();
    assert_eq!(s.get_run(r.id()).unwrap().info.run_name, "via-tag");
    assert_eq!(
        search(
            s,
            &ExperimentId::default_experiment(),
            "attributes.run_name = 'via-tag'",
            &[]
        )
        .len(),
        1
    );
    let e = s
        .set_tag(r.id(), &Tag::new("big", "x".repeat(8001)))
        .unwrap_err();
    assert!(e.to_string().contains("8000"), "{e}");
    s.set_tag(r.id(), &Tag::new("big", "x".repeat(8000)))
        .unwrap();
}

pub fn batch_limits_and_validation(s: &dyn Store) {
    let r = new_run(s, &ExperimentId::default_experiment(), "b", 1);
    let id = r.id();
    let metrics = |n: usize| {
        (0..n)
            .map(|i| m("k", i as f64, 1, i as i64))
            .collect::<Vec<_>>()
    };
    let params = |n: usize| {
        (0..n)
            .map(|i| Param::new(format!("p{i}"), "v"))
            .collect::<Vec<_>>()
    };
    let tagsv = |n: usize| {
        (0..n)
            .map(|i| Tag::new(format!("t{i}"), "v"))
            .collect::<Vec<_>>()
    };
    let e = s.log_batch(id, &metrics(1001), &[], &[]).unwrap_err();
    assert!(e.to_string().contains("1000 metrics"), "{e}");
    assert_eq!(
        code(s.log_batch(id, &[], &params(101), &[])),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.log_batch(id, &[], &[], &tagsv(101))),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.log_batch(id, &metrics(950), &params(51), &[])),
        "INVALID_PARAMETER_VALUE"
    );
    let d = s.get_run(id).unwrap().data;
    assert!(d.metrics.is_empty() && d.params.is_empty());
    s.log_batch(id, &metrics(900), &params(50), &tagsv(50))
        .unwrap();
    assert_eq!(s.get_metric_history(id, "k").unwrap().len(), 900);
    // Key validation.
    for bad in [
        "",
        "../x",
        "/abs",
        "a//b",
        "semi;colon",
        "x".repeat(251).as_str(),
    ] {
        assert_eq!(
            code(s.log_metric(id, &m(bad, 1.0, 1, 0))),
            "INVALID_PARAMETER_VALUE",
            "{bad:?}"
        );
        assert_eq!(
            code(s.log_param(id, &Param::new(bad, "v"))),
            "INVALID_PARAMETER_VALUE",
            "{bad:?}"
        );
    }
    for good in ["a/b", "a.b-c d:e", "x_1"] {
        s.log_metric(id, &m(good, 1.0, 1, 0)).unwrap();
    }
    assert_eq!(
        code(s.log_batch("missing", &metrics(1), &[], &[])),
        "RESOURCE_DOES_NOT_EXIST"
    );
}

pub fn nested_runs(s: &dyn Store) {
    let exp = s.create_experiment("nested", None, &[]).unwrap();
    let parent = new_run(s, &exp, "parent", 1);
    for i in 0..3 {
        s.create_run(
            &exp,
            RunStart {
                run_name: Some(format!("child-{i}")),
                start_time: Some(10 + i),
                tags: vec![Tag::new(tags::PARENT_RUN_ID, parent.id())],
                ..RunStart::default()
            },
        )
        .unwrap();
    }
    let kids = search(
        s,
        &exp,
        &format!("tags.mlflow.parentRunId = '{}'", parent.id()),
        &["attributes.run_name ASC"],
    );
    assert_eq!(kids, names(&["child-0", "child-1", "child-2"]));
    assert_eq!(
        search(s, &exp, "tags.mlflow.parentRunId IS NULL", &[]),
        names(&["parent"])
    );
}

/// `select_runs` reads what `search_runs` reads (all pages, in any order), less the tags and
/// metrics its fields leave out and the inputs: for a search's children (params that differ
/// between runs, failed and killed trials, a metric logged at several steps, a NaN), for a
/// whole experiment, over several experiments, and with deleted runs.
pub fn select_runs_reads_what_search_runs_reads(s: &dyn Store) {
    let exp = s.create_experiment("select", None, &[]).unwrap();
    let other = s.create_experiment("select-other", None, &[]).unwrap();
    let parent = new_run(s, &exp, "parent", 1);
    s.log_batch(
        parent.id(),
        &[],
        &[Param::new("direction", "minimize")],
        &[Tag::new("hyperflow.role", "search")],
    )
    .unwrap();
    let statuses = [
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
        RunStatus::Running,
    ];
    let mut children = Vec::new();
    for i in 0..7i64 {
        let child = s
            .create_run(
                &exp,
                RunStart {
                    run_name: Some(format!("trial-{i}")),
                    start_time: Some(10 + i % 3),
                    tags: vec![Tag::new(tags::PARENT_RUN_ID, parent.id())],
                    ..RunStart::default()
                },
            )
            .unwrap();
        // A conditional param: only the trees have a depth.
        let mut params = vec![Param::new(
            "model",
            if i % 2 == 0 { "tree" } else { "linear" },
        )];
        if i % 2 == 0 {
            params.push(Param::new("depth", i.to_string()));
        }
        let mut run_tags = vec![
            Tag::new("hyperflow.trial", i.to_string()),
            // Between two tags that are read, and not read itself.
            Tag::new("hyperflow.note", "left out"),
            Tag::new("mlflow.user", "alice"),
        ];
        let status = statuses[i as usize % statuses.len()];
        if status == RunStatus::Failed {
            run_tags.push(Tag::new("hyperflow.error", format!("diverged at {i}")));
        }
        let loss = if i == 5 { f64::NAN } else { i as f64 / 2.0 };
        let metrics = [
            m("loss", loss + 1.0, 5, 0),
            m("loss", loss, 6, 1),
            m("acc", 0.5, 5, 0),
        ];
        s.log_batch(child.id(), &metrics, &params, &run_tags)
            .unwrap();
        if status != RunStatus::Running {
            s.update_run(
                child.id(),
                RunUpdate {
                    status: Some(status),
                    end_time: Some(20 + i),
                    run_name: None,
                },
            )
            .unwrap();
        }
        children.push(child);
    }
    s.delete_run(children[3].id()).unwrap();
    let flat = new_run(s, &other, "flat", 3);
    s.log_batch(
        flat.id(),
        &[m("loss", 2.0, 1, 0)],
        &[Param::new("model", "x")],
        &[],
    )
    .unwrap();

    let report = RunFields::default()
        .tags([tags::PARENT_RUN_ID, "hyperflow.trial", "hyperflow.error"])
        .metrics(["loss"]);
    let children_of = format!("tags.mlflow.parentRunId = '{}'", parent.id());
    let cases: [(Vec<ExperimentId>, &str, ViewType, RunFields, usize); 5] = [
        (
            vec![exp.clone()],
            &children_of,
            ViewType::ActiveOnly,
            report.clone(),
            6,
        ),
        (
            vec![exp.clone()],
            &children_of,
            ViewType::All,
            report.clone(),
            7,
        ),
        (
            vec![exp.clone()],
            "",
            ViewType::ActiveOnly,
            RunFields::default(),
            7,
        ),
        (
            vec![exp.clone(), other.clone()],
            "params.model != 'linear'",
            ViewType::ActiveOnly,
            RunFields::default()
                .tags(Vec::<String>::new())
                .metrics(["acc"]),
            5,
        ),
        (
            vec![other.clone()],
            "",
            ViewType::DeletedOnly,
            report.clone(),
            0,
        ),
    ];
    for (experiment_ids, filter, view_type, fields, expected) in cases {
        let query = RunQuery {
            experiment_ids,
            filter: filter.to_string(),
            view_type,
            max_results: 2,
            order_by: vec!["attributes.run_name DESC".into()],
            ..RunQuery::default()
        };
        let mut searched = Vec::new();
        let mut page_query = query.clone();
        loop {
            let page = s.search_runs(&page_query).unwrap();
            searched.extend(page.items.into_iter().map(|mut run| {
                fields.keep(&mut run.data);
                run.inputs = RunInputs::default();
                run
            }));
            match page.next_page_token {
                Some(token) => page_query.page_token = Some(token),
                None => break,
            }
        }
        let mut selected = s.select_runs(&query, &fields).unwrap().to_runs();
        let by_id = |a: &Run, b: &Run| a.info.run_id.cmp(&b.info.run_id);
        searched.sort_by(by_id);
        selected.sort_by(by_id);
        assert_eq!(selected.len(), expected, "{filter:?} {view_type:?}");
        // NaN != NaN: compare the runs' debug text, which prints NaN as NaN.
        assert_eq!(
            format!("{selected:?}"),
            format!("{searched:?}"),
            "{filter:?} {view_type:?}"
        );
    }
    let nobody = RunQuery::default();
    assert!(s.select_runs(&nobody, &report).unwrap().is_empty());
}

/// (name, start, loss, acc, opt param, group tag, status)
type FixtureRow = (
    &'static str,
    i64,
    Option<f64>,
    Option<f64>,
    Option<&'static str>,
    Option<&'static str>,
    RunStatus,
);

/// Five runs with metrics, params and tags for the search checks.
fn search_fixture(s: &dyn Store) -> ExperimentId {
    let exp = s.create_experiment("search", None, &[]).unwrap();
    // (name, start, loss, acc, opt, lr tag, status)
    let rows: [FixtureRow; 5] = [
        (
            "r1",
            1000,
            Some(0.5),
            Some(0.9),
            Some("adam"),
            Some("Alpha"),
            RunStatus::Finished,
        ),
        (
            "r2",
            2000,
            Some(0.25),
            None,
            Some("sgd"),
            Some("alpha"),
            RunStatus::Failed,
        ),
        (
            "r3",
            3000,
            Some(f64::NAN),
            Some(0.7),
            Some("Adam"),
            None,
            RunStatus::Finished,
        ),
        (
            "r4",
            4000,
            None,
            Some(0.8),
            None,
            Some("beta"),
            RunStatus::Running,
        ),
        (
            "r5",
            5000,
            Some(1.0),
            Some(0.8),
            Some("adamw"),
            Some("beta_1"),
            RunStatus::Killed,
        ),
    ];
    for (name, start, loss, acc, opt, tag, status) in rows {
        let r = new_run(s, &exp, name, start);
        let mut metrics = Vec::new();
        if let Some(l) = loss {
            metrics.push(m("loss", 99.0, 1, 0)); // older point, not the latest
            metrics.push(m("loss", l, 2, 1));
        }
        if let Some(a) = acc {
            metrics.push(m("acc", a, 1, 0));
        }
        let params: Vec<Param> = opt.map(|o| Param::new("opt", o)).into_iter().collect();
        let tags: Vec<Tag> = tag.map(|t| Tag::new("group", t)).into_iter().collect();
        s.log_batch(r.id(), &metrics, &params, &tags).unwrap();
        let end = status.is_terminal().then_some(start + 500);
        s.update_run(
            r.id(),
            RunUpdate {
                status: Some(status),
                end_time: end,
                run_name: None,
            },
        )
        .unwrap();
    }
    exp
}

pub fn search_metric_operators(s: &dyn Store) {
    let exp = search_fixture(s);
    let f = |filter: &str| sorted(search(s, &exp, filter, &[]));
    assert_eq!(f("metrics.loss = 0.5"), names(&["r1"]));
    assert_eq!(
        f("metrics.loss != 0.5"),
        names(&["r2", "r3", "r5"]),
        "NaN matches !=, missing never"
    );
    assert_eq!(f("metrics.loss < 0.5"), names(&["r2"]));
    assert_eq!(f("metrics.loss <= 0.5"), names(&["r1", "r2"]));
    assert_eq!(f("metrics.loss > 0.25"), names(&["r1", "r5"]));
    assert_eq!(f("metrics.loss >= 0.25"), names(&["r1", "r2", "r5"]));
    assert_eq!(
        f("metrics.loss < 50"),
        names(&["r1", "r2", "r5"]),
        "only the latest value counts"
    );
    assert_eq!(
        f("metrics.acc >= 0.8 AND metrics.loss < 2"),
        names(&["r1", "r5"])
    );
    assert_eq!(f("metrics.missing > 0"), Vec::<String>::new());
    assert_eq!(f("metrics.`loss` = 1"), names(&["r5"]));
}

pub fn search_param_tag_operators(s: &dyn Store) {
    let exp = search_fixture(s);
    let f = |filter: &str| sorted(search(s, &exp, filter, &[]));
    assert_eq!(f("params.opt = 'adam'"), names(&["r1"]));
    assert_eq!(f("params.opt != 'adam'"), names(&["r2", "r3", "r5"]));
    assert_eq!(
        f("params.opt LIKE 'adam%'"),
        names(&["r1", "r5"]),
        "LIKE is case-sensitive"
    );
    assert_eq!(f("params.opt ILIKE 'adam%'"), names(&["r1", "r3", "r5"]));
    assert_eq!(f("params.opt LIKE '_gd'"), names(&["r2"]));
    assert_eq!(f("params.opt IS NULL"), names(&["r4"]));
    assert_eq!(
        f("params.opt IS NOT NULL"),
        names(&["r1", "r2", "r3", "r5"])
    );
    assert_eq!(f("tags.group = 'alpha'"), names(&["r2"]));
    assert_eq!(f("tags.group ILIKE 'alpha'"), names(&["r1", "r2"]));
    assert_eq!(f("tags.group LIKE 'beta%'"), names(&["r4", "r5"]));
    assert_eq!(
        f("tags.group LIKE 'beta\\_%'"),
        Vec::<String>::new(),
        "no escape char in MLflow LIKE"
    );
    assert_eq!(f("tags.group IS NULL"), names(&["r3"]));
    assert_eq!(
        f("tags.group IS NOT NULL AND params.opt IS NOT NULL"),
        names(&["r1", "r2", "r5"])
    );
    assert_eq!(
        f("params.opt = 'adam' AND tags.group = 'Alpha' AND metrics.loss = 0.5"),
        names(&["r1"])
    );
}

pub fn search_attribute_operators(s: &dyn Store) {
    let exp = search_fixture(s);
    let f = |filter: &str| sorted(search(s, &exp, filter, &[]));
    assert_eq!(f("attributes.status = 'FINISHED'"), names(&["r1", "r3"]));
    assert_eq!(f("status != 'FINISHED'"), names(&["r2", "r4", "r5"]));
    assert_eq!(f("attributes.status LIKE 'F%'"), names(&["r1", "r2", "r3"]));
    assert_eq!(
        f("attributes.status ILIKE 'f%'"),
        names(&["r1", "r2", "r3"])
    );
    assert_eq!(f("attributes.run_name = 'r4'"), names(&["r4"]));
    assert_eq!(f("attributes.run_name LIKE 'r%'").len(), 5);
    assert_eq!(
        f("attributes.start_time > 2000"),
        names(&["r3", "r4", "r5"])
    );
    assert_eq!(f("attributes.start_time <= 2000"), names(&["r1", "r2"]));
    assert_eq!(f("attributes.start_time = 3000"), names(&["r3"]));
    assert_eq!(f("attributes.start_time != 3000").len(), 4);
    assert_eq!(f("attributes.end_time >= 4000"), names(&["r5"]));
    assert_eq!(f("attributes.end_time < 4000"), names(&["r1", "r2", "r3"]));
    assert_eq!(f("attributes.user_id = 'alice'").len(), 5);
    assert_eq!(f("attributes.artifact_uri LIKE '%/artifacts'").len(), 5);
    let all = s
        .search_runs(&RunQuery {
            experiment_ids: vec![exp.clone()],
            ..RunQuery::default()
        })
        .unwrap()
        .items;
    let id_of = |n: &str| {
        all.iter()
            .find(|r| r.info.run_name == n)
            .map(|r| r.info.run_id.clone())
            .unwrap()
    };
    assert_eq!(
        f(&format!("attributes.run_id = '{}'", id_of("r2"))),
        names(&["r2"])
    );
    assert_eq!(
        f(&format!(
            "attributes.run_id IN ('{}', '{}')",
            id_of("r2"),
            id_of("r4")
        )),
        names(&["r2", "r4"])
    );
    assert_eq!(
        f(&format!(
            "attributes.run_id NOT IN ('{}', '{}')",
            id_of("r2"),
            id_of("r4")
        )),
        names(&["r1", "r3", "r5"])
    );
    assert_eq!(
        f("datasets.name = 'x'"),
        Vec::<String>::new(),
        "runs without datasets never match"
    );
}

pub fn search_order_by(s: &dyn Store) {
    let exp = search_fixture(s);
    let o = |order: &[&str]| search(s, &exp, "", order);
    assert_eq!(
        o(&[]),
        names(&["r5", "r4", "r3", "r2", "r1"]),
        "default: start_time DESC"
    );
    assert_eq!(
        o(&["metrics.loss ASC"]),
        names(&["r2", "r1", "r5", "r3", "r4"]),
        "values, NaN, missing"
    );
    assert_eq!(
        o(&["metrics.loss DESC"]),
        names(&["r5", "r1", "r2", "r3", "r4"]),
        "values, NaN, missing"
    );
    assert_eq!(o(&["metrics.loss"]), o(&["metrics.loss ASC"]));
    assert_eq!(
        o(&["params.opt ASC"]),
        names(&["r3", "r1", "r5", "r2", "r4"])
    );
    assert_eq!(
        o(&["params.opt DESC"]),
        names(&["r2", "r5", "r1", "r3", "r4"])
    );
    assert_eq!(
        o(&["tags.group DESC"]),
        names(&["r5", "r4", "r2", "r1", "r3"])
    );
    // Ties broken by the next key, then start_time DESC.
    assert_eq!(
        o(&["metrics.acc DESC", "attributes.start_time ASC"]),
        names(&["r1", "r4", "r5", "r3", "r2"])
    );
    assert_eq!(
        o(&["metrics.acc DESC"]),
        names(&["r1", "r5", "r4", "r3", "r2"])
    );
    assert_eq!(
        o(&["attributes.run_name DESC"]),
        names(&["r5", "r4", "r3", "r2", "r1"])
    );
    assert_eq!(
        o(&["attributes.end_time ASC"]),
        names(&["r1", "r2", "r3", "r5", "r4"]),
        "null end_time last"
    );
    assert_eq!(
        o(&["start_time ASC"]),
        names(&["r1", "r2", "r3", "r4", "r5"])
    );
    // Filter and order together (also on the same key).
    assert_eq!(
        search(s, &exp, "metrics.loss < 2", &["metrics.loss DESC"]),
        names(&["r5", "r1", "r2"])
    );
    assert_eq!(
        search(s, &exp, "metrics.loss != 7", &["metrics.loss DESC"]),
        names(&["r5", "r1", "r2", "r3"])
    );
    assert_eq!(
        search(s, &exp, "params.opt LIKE 'adam%'", &["params.opt DESC"]),
        names(&["r5", "r1"])
    );
    assert_eq!(
        search(s, &exp, "metrics.acc > 0.75", &["metrics.loss ASC"]),
        names(&["r1", "r5", "r4"])
    );
}

pub fn search_pagination_and_views(s: &dyn Store) {
    let exp = s.create_experiment("pages", None, &[]).unwrap();
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            new_run(s, &exp, &format!("run-{i:02}"), 1000 + i)
                .info
                .run_id,
        );
    }
    let mut q = RunQuery {
        experiment_ids: vec![exp.clone()],
        max_results: 10,
        order_by: vec!["attributes.run_name ASC".into()],
        ..RunQuery::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let p = s.search_runs(&q).unwrap();
        pages += 1;
        seen.extend(p.items.into_iter().map(|r| r.info.run_name));
        match p.next_page_token {
            Some(t) => q.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..25).map(|i| format!("run-{i:02}")).collect::<Vec<_>>()
    );
    // Exactly max_results rows: no token.
    q.page_token = None;
    q.max_results = 25;
    assert!(s.search_runs(&q).unwrap().next_page_token.is_none());
    // Views.
    for id in &ids[..5] {
        s.delete_run(id).unwrap();
    }
    let count = |v: ViewType| {
        s.search_runs(&RunQuery {
            experiment_ids: vec![exp.clone()],
            view_type: v,
            ..RunQuery::default()
        })
        .unwrap()
        .items
        .len()
    };
    assert_eq!(
        (
            count(ViewType::ActiveOnly),
            count(ViewType::DeletedOnly),
            count(ViewType::All)
        ),
        (20, 5, 25)
    );
    // Counts agree with the searches, whatever the page size, order and token.
    let counted = |v: ViewType, filter: &str| {
        s.count_runs(&RunQuery {
            experiment_ids: vec![exp.clone()],
            view_type: v,
            filter: filter.into(),
            max_results: 3,
            order_by: vec!["attributes.run_name DESC".into()],
            page_token: Some(encode_page_token(7)),
        })
        .unwrap()
    };
    assert_eq!(
        (
            counted(ViewType::ActiveOnly, ""),
            counted(ViewType::DeletedOnly, ""),
            counted(ViewType::All, ""),
            counted(ViewType::All, "attributes.run_name LIKE 'run-1%'"),
            counted(ViewType::ActiveOnly, "attributes.run_name = 'none'"),
        ),
        (20, 5, 25, 10, 0)
    );
    // Several experiments; none.
    let other = s.create_experiment("pages-2", None, &[]).unwrap();
    new_run(s, &other, "elsewhere", 1);
    let both = RunQuery {
        experiment_ids: vec![exp.clone(), other],
        ..RunQuery::default()
    };
    assert_eq!(s.search_runs(&both).unwrap().items.len(), 21);
    assert_eq!(s.count_runs(&both).unwrap(), 21);
    assert!(
        s.search_runs(&RunQuery::default())
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(s.count_runs(&RunQuery::default()).unwrap(), 0);
}

/// The names of the runs of every page of `q`, page after page; `between(n)` runs after
/// the `n`th page (1-based) before the next is asked for.
fn paged_names(s: &dyn Store, mut q: RunQuery, mut between: impl FnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    for page in 1.. {
        let p = s
            .search_runs(&q)
            .unwrap_or_else(|e| panic!("page {page} of {q:?}: {e}"));
        assert!(p.items.len() <= q.max_results);
        seen.extend(p.items.into_iter().map(|r| r.info.run_name));
        match p.next_page_token {
            Some(t) => q.page_token = Some(t),
            None => break,
        }
        between(page);
    }
    seen
}

/// Pages continue after the last row shown (its sort key, the run id breaking ties), in
/// every order: through ties, NaN and missing values, every run once and in order, and
/// rows written or deleted between pages neither repeat nor skip others.
pub fn search_pages_by_sort_key(s: &dyn Store) {
    let exp = s.create_experiment("keyset", None, &[]).unwrap();
    for i in 0..23i64 {
        let loss = match i {
            _ if i % 5 == 0 => None,
            _ if i % 7 == 0 => Some(f64::NAN),
            _ => Some((i % 3) as f64),
        };
        let record = RunRecord {
            start: RunStart {
                run_name: Some(format!("k{i:02}")),
                // Four start times: most runs tie with others.
                start_time: Some(1000 + i % 4),
                tags: vec![Tag::new("t", format!("{}", i % 3))],
                ..RunStart::default()
            },
            metrics: loss.map(|l| m("loss", l, 1, 0)).into_iter().collect(),
            params: (i % 6 != 0)
                .then(|| Param::new("p", ["a", "b"][i as usize % 2]))
                .into_iter()
                .collect(),
            status: if i % 4 == 0 {
                RunStatus::Running
            } else {
                RunStatus::Finished
            },
            end_time: (i % 4 != 0).then_some(2000 + i % 2),
        };
        s.record_run(&exp, &record).unwrap();
    }
    let query = |filter: &str, order: &[&str], max_results: usize| RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        order_by: order.iter().map(|o| o.to_string()).collect(),
        max_results,
        ..RunQuery::default()
    };
    for (filter, order) in [
        ("", &[][..]),
        ("", &["metrics.loss ASC"][..]),
        ("", &["metrics.loss DESC", "params.p"][..]),
        ("", &["params.p DESC"][..]),
        ("", &["tags.t", "attributes.end_time DESC"][..]),
        ("", &["attributes.end_time"][..]),
        ("", &["start_time ASC"][..]),
        ("params.p = 'a'", &["params.p", "metrics.loss DESC"][..]),
        ("metrics.loss >= 0", &["metrics.loss DESC"][..]),
    ] {
        let all = search(s, &exp, filter, order);
        assert!(all.len() > 6, "{filter:?} {order:?}: {all:?}");
        for max_results in [1, 3, 4] {
            let paged = paged_names(s, query(filter, order, max_results), |_| {});
            assert_eq!(paged, all, "{filter:?} {order:?}, pages of {max_results}");
        }
    }

    // Runs written and deleted between pages, in the default order (latest start first,
    // ties by run id).
    let writes = s.create_experiment("keyset-writes", None, &[]).unwrap();
    let mut ids = Vec::new();
    for (i, start) in [30, 30, 20, 20, 20, 10, 10, 10].into_iter().enumerate() {
        ids.push(new_run(s, &writes, &format!("w{i}"), start).info.run_id);
    }
    let before = search(s, &writes, "", &[]);
    let q = RunQuery {
        experiment_ids: vec![writes.clone()],
        max_results: 3,
        ..RunQuery::default()
    };
    let paged = paged_names(s, q, |page| match page {
        // A run before the first page (offset paging would show a row of the first page
        // again), and one after every other.
        1 => {
            new_run(s, &writes, "newest", 40);
            new_run(s, &writes, "oldest", 5);
        }
        // Runs already shown deleted (offset paging would skip rows not yet shown).
        2 => {
            s.delete_run(&ids[0]).unwrap();
            s.delete_run(&ids[1]).unwrap();
        }
        _ => {}
    });
    let mut expected = before;
    expected.push("oldest".into());
    assert_eq!(paged, expected);

    // An MLflow offset token is still read.
    let all = search(s, &exp, "", &[]);
    let mut q = query("", &[], 3);
    q.page_token = Some(encode_page_token(2));
    let page: Vec<String> = (s.search_runs(&q).unwrap().items.into_iter())
        .map(|r| r.info.run_name)
        .collect();
    assert_eq!(page, all[2..5]);
    // A token is not taken by a search in another order.
    q.page_token = s.search_runs(&query("", &[], 3)).unwrap().next_page_token;
    q.order_by = vec!["params.p".into()];
    assert_eq!(code(s.search_runs(&q)), "INVALID_PARAMETER_VALUE");

    // Experiments page the same way (created within one millisecond, they tie on creation
    // time).
    for i in 0..5 {
        s.create_experiment(&format!("keyset-{i}"), None, &[])
            .unwrap();
    }
    for order in [vec![], vec!["name DESC".to_string()]] {
        let mut q = ExperimentQuery {
            order_by: order.clone(),
            max_results: 1000,
            ..ExperimentQuery::default()
        };
        let all: Vec<String> = (s.search_experiments(&q).unwrap().items.into_iter())
            .map(|e| e.name)
            .collect();
        q.max_results = 2;
        let mut paged = Vec::new();
        loop {
            let p = s.search_experiments(&q).unwrap();
            paged.extend(p.items.into_iter().map(|e| e.name));
            match p.next_page_token {
                Some(t) => q.page_token = Some(t),
                None => break,
            }
        }
        assert_eq!(paged, all, "{order:?}");
    }
}

pub fn search_errors(s: &dyn Store) {
    let exp = ExperimentId::default_experiment();
    let q = |filter: &str, order: &[&str], max: usize, token: Option<&str>| RunQuery {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        order_by: order.iter().map(|o| o.to_string()).collect(),
        max_results: max,
        page_token: token.map(str::to_string),
        ..RunQuery::default()
    };
    for bad in [
        q("metrics.loss = 'abc'", &[], 10, None),
        q("params.x = 1", &[], 10, None),
        q("metrics.a < 1 OR metrics.b > 2", &[], 10, None),
        q("attributes.nope = 'x'", &[], 10, None),
        q("", &["metrics.a SIDEWAYS"], 10, None),
        q("", &["metrics.a", "metrics.a DESC"], 10, None),
        q("", &[], 0, None),
        q("", &[], 50_001, None),
        q("", &[], 10, Some("%%%not-a-token")),
    ] {
        let e = s.search_runs(&bad).unwrap_err();
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{bad:?}: {e}");
    }
    s.search_runs(&q("", &[], 50_000, None)).unwrap();
    let e = s
        .search_runs(&q("metrics.loss >", &[], 10, None))
        .unwrap_err();
    assert!(
        e.to_string().contains("Expected") && e.to_string().contains('^'),
        "{e}"
    );
}

/// Searches past SQLite's limits on one statement (64 joined tables, 32,766 bound values,
/// expression trees 1,000 deep): many comparisons and order_by keys, long `IN` lists, tens of
/// thousands of experiment ids. They answer, or are refused as invalid parameters in words;
/// never an internal error, never SQL in a message.
pub fn search_limits(s: &dyn Store) {
    use hyperflow::tracking::filter::{Clause, Filter, RunAttribute};
    use hyperflow::tracking::sqlite::{MAX_FILTER_CLAUSES, MAX_ORDER_BY_KEYS};
    const KEYS: usize = 80;
    let exp = s.create_experiment("limits", None, &[]).unwrap();
    let runs: Vec<Run> = (0..3)
        .map(|i| {
            let record = RunRecord {
                start: RunStart {
                    run_name: Some(format!("r{i}")),
                    start_time: Some(i),
                    tags: (0..KEYS)
                        .map(|k| Tag::new(format!("t{k}"), format!("{i}")))
                        .collect(),
                    ..RunStart::default()
                },
                metrics: (0..KEYS)
                    .map(|k| m(&format!("m{k}"), (i as usize * 100 + k) as f64, 1, 0))
                    .collect(),
                params: (0..KEYS)
                    .map(|k| Param::new(format!("p{k}"), format!("{i}")))
                    .collect(),
                ..RunRecord::default()
            };
            s.record_run(&exp, &record).unwrap()
        })
        .collect();
    let ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
    let query = |filter: String, order_by: Vec<String>| RunQuery {
        experiment_ids: vec![exp.clone()],
        filter,
        order_by,
        ..RunQuery::default()
    };
    let names = |q: &RunQuery| -> Vec<String> {
        let page = s.search_runs(q).unwrap_or_else(|e| panic!("{e}"));
        page.items.into_iter().map(|r| r.info.run_name).collect()
    };
    let no_sql = |message: &str| {
        for word in ["SELECT", "JOIN", "WHERE", "json_each", "latest_metrics"] {
            assert!(!message.contains(word), "SQL in the message: {message}");
        }
    };

    // 3 x 70 comparisons: far more than 64 joined tables.
    let mut many = Filter::new();
    for k in 0..70 {
        many = many
            .and(Clause::metric(format!("m{k}")).ge(100.0))
            .and(Clause::param(format!("p{k}")).ne("2"))
            .and(Clause::tag(format!("t{k}")).is_not_null());
    }
    assert_eq!(names(&query(many.to_string(), vec![])), ["r1"]);
    // 3 x 40 order_by keys, alone and with the filter.
    let order_by: Vec<String> = (0..40)
        .flat_map(|k| {
            [
                format!("metrics.m{k} DESC"),
                format!("params.p{k}"),
                format!("tags.t{k}"),
            ]
        })
        .collect();
    assert_eq!(
        names(&query(String::new(), order_by.clone())),
        ["r2", "r1", "r0"]
    );
    let wide = many.clone().and(Clause::metric("m0").lt(300.0));
    assert_eq!(names(&query(wide.to_string(), order_by)), ["r1"]);

    // IN lists longer than the number of values a statement may bind.
    let fakes: Vec<String> = (0..40_000).map(|i| format!("{i:032x}")).collect();
    let listed = |negated: bool, extra: &[String]| {
        let values = fakes.iter().chain(extra);
        let subject = Clause::attribute(RunAttribute::RUN_ID);
        let clause = if negated {
            subject.not_in(values)
        } else {
            subject.is_in(values)
        };
        let mut got = names(&query(Filter::new().and(clause).to_string(), vec![]));
        got.sort();
        got
    };
    assert_eq!(listed(false, &ids[..2]), ["r0", "r1"]);
    assert_eq!(listed(true, &ids[2..]), ["r0", "r1"]);

    // 32,766 experiment ids, all but one unknown.
    let mut q = query(String::new(), vec![]);
    q.experiment_ids
        .extend((0..32_765).map(|i| ExperimentId((1_000_000 + i).to_string())));
    assert_eq!(names(&q).len(), 3);

    // Experiment searches: many comparisons and a long IN list.
    let tags_absent: Vec<String> = (0..200)
        .map(|k| format!("tags.absent{k} IS NULL"))
        .collect();
    let found = s
        .search_experiments(&ExperimentQuery {
            filter: tags_absent.join(" AND "),
            ..ExperimentQuery::default()
        })
        .unwrap();
    assert!(found.items.iter().any(|e| e.experiment_id == exp));
    let id_list: Vec<String> = (0..40_000)
        .map(|i| format!("'{}'", 1_000_000 + i))
        .chain([format!("'{exp}'")])
        .collect();
    let found = s
        .search_experiments(&ExperimentQuery {
            filter: format!("experiment_id IN ({})", id_list.join(", ")),
            ..ExperimentQuery::default()
        })
        .unwrap();
    assert_eq!(found.items.len(), 1);

    // Beyond the store's limits: refused in words, saying what was given and accepted.
    let too_many = (0..=MAX_FILTER_CLAUSES).fold(Filter::new(), |f, k| {
        f.and(Clause::metric(format!("m{k}")).ge(0.0))
    });
    let e = s
        .search_runs(&query(too_many.to_string(), vec![]))
        .unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&(MAX_FILTER_CLAUSES + 1).to_string())
            && text.contains(&MAX_FILTER_CLAUSES.to_string())
            && text.contains("filter comparisons"),
        "{text}"
    );
    no_sql(&text);
    let keys: Vec<String> = (0..=MAX_ORDER_BY_KEYS)
        .map(|k| format!("metrics.k{k}"))
        .collect();
    let e = s.search_runs(&query(String::new(), keys)).unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    assert!(e.to_string().contains("order_by keys"), "{e}");
    no_sql(&e.to_string());
}

pub fn record_run_in_one_go(s: &dyn Store) {
    let exp = s.create_experiment("record", None, &[]).unwrap();
    let parent = new_run(s, &exp, "parent", 1);
    let rec = RunRecord {
        start: RunStart {
            run_name: Some("trial-1".into()),
            start_time: Some(10),
            tags: vec![Tag::new(tags::PARENT_RUN_ID, parent.id())],
            ..RunStart::default()
        },
        metrics: vec![m("loss", 0.5, 11, 0), m("loss", 0.25, 12, 1)],
        params: vec![Param::new("x", "1.5")],
        status: RunStatus::Finished,
        end_time: Some(20),
    };
    let run = s.record_run(&exp, &rec).unwrap();
    assert_eq!(run, s.get_run(run.id()).unwrap());
    assert_eq!(
        (run.info.status, run.info.end_time),
        (RunStatus::Finished, Some(20))
    );
    assert_eq!(run.data.metric("loss"), Some(0.25));
    assert_eq!(run.data.param("x"), Some("1.5"));
    assert_eq!(run.data.tag(tags::PARENT_RUN_ID), Some(parent.id()));
    assert_eq!(s.get_metric_history(run.id(), "loss").unwrap().len(), 2);
    // Without an end time, a terminal status gets "now".
    let failed = s
        .record_run(
            &exp,
            &RunRecord {
                status: RunStatus::Failed,
                ..RunRecord::default()
            },
        )
        .unwrap();
    assert!(failed.info.end_time.is_some_and(|t| t > 0));
    // Invalid records write nothing.
    let before = search(s, &exp, "", &[]).len();
    let bad = RunRecord {
        params: vec![Param::new("../x", "1")],
        ..RunRecord::default()
    };
    assert_eq!(code(s.record_run(&exp, &bad)), "INVALID_PARAMETER_VALUE");
    assert_eq!(search(s, &exp, "", &[]).len(), before);
}

pub fn batch_and_update_in_one_go(s: &dyn Store) {
    let exp = ExperimentId::default_experiment();
    let r = new_run(s, &exp, "ends", 1);
    let info = s
        .log_batch_and_update(
            r.id(),
            &[m("loss", 0.5, 5, 3)],
            &[Tag::new("outcome", "ok")],
            RunUpdate::ended(RunStatus::Finished, 9),
        )
        .unwrap();
    assert_eq!((info.status, info.end_time), (RunStatus::Finished, Some(9)));
    let got = s.get_run(r.id()).unwrap();
    assert_eq!(got.info, info);
    assert_eq!(got.data.metric("loss"), Some(0.5));
    assert_eq!(got.data.tag("outcome"), Some("ok"));
    // An invalid batch changes nothing: the run is not ended either.
    let open = new_run(s, &exp, "stays-open", 1);
    let e = s
        .log_batch_and_update(
            open.id(),
            &[m("../loss", 1.0, 5, 0)],
            &[],
            RunUpdate::ended(RunStatus::Failed, 9),
        )
        .unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
    let still = s.get_run(open.id()).unwrap();
    assert_eq!(
        (still.info.status, still.info.end_time),
        (RunStatus::Running, None)
    );
    assert!(still.data.metrics.is_empty());
    // A deleted run takes neither.
    s.delete_run(open.id()).unwrap();
    let e = s
        .log_batch_and_update(open.id(), &[], &[], RunUpdate::ended(RunStatus::Failed, 9))
        .unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE", "{e}");
}

pub fn artifacts_round_trip(s: &dyn Store) {
    let exp = s.create_experiment("arts", None, &[]).unwrap();
    let run = new_run(s, &exp, "with-artifacts", 1);
    let repo = s.artifact_repo(&run.info.artifact_uri).unwrap();
    repo.write_bytes("notes.txt", b"hello").unwrap();
    repo.write_bytes("sub/dir/x.json", b"{}").unwrap();
    repo.write_bytes("notes.txt", b"hello again").unwrap();
    assert_eq!(repo.read_bytes("notes.txt").unwrap(), b"hello again");
    assert_eq!(
        super::artifacts::entries(repo.list("").unwrap()),
        vec![("notes.txt".to_string(), false), ("sub".to_string(), true)]
    );
    let sub = repo.list("sub/dir").unwrap();
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0].path, "sub/dir/x.json");
    assert_eq!(sub[0].file_size, Some(2));
    assert!(repo.list("missing").unwrap().is_empty());
    assert_eq!(
        code(repo.read_bytes("missing.txt")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    for bad in ["../escape", "/abs.txt", "a\\b", ""] {
        assert_eq!(
            code(repo.write_bytes(bad, b"x")),
            "INVALID_PARAMETER_VALUE",
            "{bad}"
        );
    }
    // Another run's artifacts are apart.
    let other = new_run(s, &exp, "without", 2);
    let other_repo = s.artifact_repo(&other.info.artifact_uri).unwrap();
    assert!(other_repo.list("").unwrap().is_empty());
    // A location hyperflow cannot reach says which and what is supported.
    let e = s.artifact_repo("hdfs://nn/1/x/artifacts").unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
    assert!(e.to_string().contains("hdfs://nn/1/x/artifacts"), "{e}");
}

fn registry_names(
    s: &dyn Store,
    filter: &str,
    max_results: usize,
) -> (Vec<String>, Option<String>) {
    let page = s
        .search_registered_models(&RegistryQuery {
            filter: filter.into(),
            max_results,
            ..RegistryQuery::default()
        })
        .unwrap();
    let names = page.items.into_iter().map(|m| m.name).collect();
    (names, page.next_page_token)
}

pub fn registered_models_crud(s: &dyn Store) {
    let m = s
        .create_registered_model("wine", Some("red"), &[Tag::new("team", "ml")])
        .unwrap();
    assert_eq!(
        (m.name.as_str(), m.description.as_deref()),
        ("wine", Some("red"))
    );
    assert_eq!(m.tags, vec![Tag::new("team", "ml")]);
    assert_eq!(
        code(s.create_registered_model("wine", None, &[])),
        "RESOURCE_ALREADY_EXISTS"
    );
    assert_eq!(
        code(s.create_registered_model(" ", None, &[])),
        "INVALID_PARAMETER_VALUE"
    );
    s.create_registered_model("beer", None, &[]).unwrap();
    s.create_registered_model("Cider", None, &[]).unwrap();

    assert_eq!(
        s.update_registered_model("wine", "white")
            .unwrap()
            .description
            .as_deref(),
        Some("white")
    );
    s.set_registered_model_tag("wine", &Tag::new("stage", "dev"))
        .unwrap();
    s.delete_registered_model_tag("wine", "team").unwrap();
    assert_eq!(
        s.get_registered_model("wine").unwrap().tags,
        vec![Tag::new("stage", "dev")]
    );
    assert_eq!(
        code(s.rename_registered_model("wine", "beer")),
        "RESOURCE_ALREADY_EXISTS"
    );
    s.rename_registered_model("wine", "rose").unwrap();
    assert_eq!(
        code(s.get_registered_model("wine")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        s.get_registered_model("rose").unwrap().tags,
        vec![Tag::new("stage", "dev")]
    );

    assert_eq!(registry_names(s, "", 10).0, vec!["Cider", "beer", "rose"]);
    assert_eq!(registry_names(s, "name = 'beer'", 10).0, vec!["beer"]);
    assert_eq!(
        registry_names(s, "name LIKE '%e%'", 10).0,
        vec!["Cider", "beer", "rose"]
    );
    assert_eq!(
        registry_names(s, "name LIKE 'c%'", 10).0,
        Vec::<String>::new()
    );
    assert_eq!(registry_names(s, "name ILIKE 'c%'", 10).0, vec!["Cider"]);
    assert_eq!(registry_names(s, "tags.stage = 'dev'", 10).0, vec!["rose"]);
    assert_eq!(
        registry_names(s, "tag.`stage` != 'dev' AND name != 'beer'", 10).0,
        vec!["Cider"]
    );
    let (first, token) = registry_names(s, "", 2);
    assert_eq!(first, vec!["Cider", "beer"]);
    let rest = s
        .search_registered_models(&RegistryQuery {
            filter: String::new(),
            max_results: 2,
            page_token: token,
            ..RegistryQuery::default()
        })
        .unwrap();
    assert_eq!(rest.items[0].name, "rose");
    assert_eq!(rest.next_page_token, None);
    assert_eq!(
        code(s.search_registered_models(&RegistryQuery {
            filter: "creation_timestamp > 3".into(),
            max_results: 10,
            ..RegistryQuery::default()
        })),
        "INVALID_PARAMETER_VALUE"
    );

    s.delete_registered_model("rose").unwrap();
    assert_eq!(
        code(s.get_registered_model("rose")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.delete_registered_model("rose")),
        "RESOURCE_DOES_NOT_EXIST"
    );
}

fn versions_of(s: &dyn Store, name: &str) -> Vec<i64> {
    s.search_model_versions(&RegistryQuery {
        filter: format!("name = '{name}'"),
        max_results: 100,
        ..RegistryQuery::default()
    })
    .unwrap()
    .items
    .into_iter()
    .map(|v| v.version)
    .collect()
}

pub fn model_versions_and_aliases(s: &dyn Store) {
    let exp = s.create_experiment("models", None, &[]).unwrap();
    let run = new_run(s, &exp, "train", 1);
    let logged = s
        .create_logged_model(
            &exp,
            &NewLoggedModel {
                name: Some("adder".into()),
                source_run_id: Some(run.info.run_id.clone()),
                ..NewLoggedModel::default()
            },
        )
        .unwrap();
    s.create_registered_model("wine", None, &[]).unwrap();
    let from_model = |s: &dyn Store| {
        s.create_model_version(
            "wine",
            &NewModelVersion {
                source: format!("models:/{}", logged.model_id),
                ..NewModelVersion::default()
            },
        )
        .unwrap()
    };
    let v1 = from_model(s);
    assert_eq!(v1.version, 1);
    assert_eq!(v1.model_id.as_deref(), Some(logged.model_id.as_str()));
    assert_eq!(v1.run_id.as_deref(), Some(run.info.run_id.as_str()));
    assert_eq!(v1.current_stage, "None");
    assert_eq!(
        s.get_model_version_download_uri("wine", 1).unwrap(),
        logged.artifact_uri
    );
    let v2 = s
        .create_model_version(
            "wine",
            &NewModelVersion {
                source: format!("runs:/{}/model", run.info.run_id),
                tags: vec![Tag::new("k", "v")],
                ..NewModelVersion::default()
            },
        )
        .unwrap();
    assert_eq!((v2.version, v2.model_id.as_deref()), (2, None));
    assert_eq!(v2.tags, vec![Tag::new("k", "v")]);
    assert_eq!(
        s.get_model_version_download_uri("wine", 2).unwrap(),
        format!("{}/model", run.info.artifact_uri.trim_end_matches('/'))
    );
    assert_eq!(versions_of(s, "wine"), vec![2, 1]);

    // Bad sources and names are the client's mistakes.
    let source = |src: &str| NewModelVersion {
        source: src.into(),
        ..NewModelVersion::default()
    };
    assert_eq!(
        code(s.create_model_version("wine", &source("models:/m-nope"))),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.create_model_version("wine", &source("runs:/nope/model"))),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.create_model_version("wine", &source("models:/wine/1"))),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.create_model_version("nope", &source("/tmp/x"))),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.get_model_version("wine", 9)),
        "RESOURCE_DOES_NOT_EXIST"
    );

    // Aliases: set, moved, shown on the model and the version, removed with the version.
    s.set_registered_model_alias("wine", "champion", 1).unwrap();
    assert_eq!(
        s.get_model_version_by_alias("wine", "champion")
            .unwrap()
            .version,
        1
    );
    s.set_registered_model_alias("wine", "champion", 2).unwrap();
    let by_alias = s.get_model_version_by_alias("wine", "champion").unwrap();
    assert_eq!(
        (by_alias.version, by_alias.aliases.clone()),
        (2, vec!["champion".to_string()])
    );
    assert!(s.get_model_version("wine", 1).unwrap().aliases.is_empty());
    assert_eq!(
        s.get_registered_model("wine").unwrap().aliases,
        vec![ModelAlias {
            alias: "champion".into(),
            version: 2
        }]
    );
    assert_eq!(
        code(s.set_registered_model_alias("wine", "latest", 1)),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.set_registered_model_alias("wine", "v3", 1)),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.set_registered_model_alias("wine", "other", 7)),
        "RESOURCE_DOES_NOT_EXIST"
    );
    s.set_registered_model_alias("wine", "old", 1).unwrap();
    s.delete_registered_model_alias("wine", "old").unwrap();
    assert_eq!(
        code(s.get_model_version_by_alias("wine", "old")),
        "RESOURCE_DOES_NOT_EXIST"
    );

    // Updates and tags.
    let v = s.update_model_version("wine", 1, "first").unwrap();
    assert_eq!(v.description.as_deref(), Some("first"));
    s.set_model_version_tag("wine", 1, &Tag::new("ok", "yes"))
        .unwrap();
    s.delete_model_version_tag("wine", 2, "k").unwrap();
    assert_eq!(
        s.get_model_version("wine", 1).unwrap().tags,
        vec![Tag::new("ok", "yes")]
    );
    assert!(s.get_model_version("wine", 2).unwrap().tags.is_empty());

    // Deleting a version drops its aliases; its number is not given again.
    s.delete_model_version("wine", 2).unwrap();
    assert!(s.get_registered_model("wine").unwrap().aliases.is_empty());
    assert_eq!(
        code(s.get_model_version_by_alias("wine", "champion")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(from_model(s).version, 3);
    assert_eq!(versions_of(s, "wine"), vec![3, 1]);

    // Deleting the registered model takes its versions, tags and aliases; a new model of
    // the same name starts again at 1.
    s.set_registered_model_alias("wine", "champion", 3).unwrap();
    s.delete_registered_model("wine").unwrap();
    assert!(versions_of(s, "wine").is_empty());
    s.create_registered_model("wine", None, &[]).unwrap();
    assert!(s.get_registered_model("wine").unwrap().aliases.is_empty());
    assert_eq!(from_model(s).version, 1);
    assert!(s.get_model_version("wine", 1).unwrap().tags.is_empty());
}

/// The version numbers and stages of `versions`.
fn stages(versions: &[ModelVersion]) -> Vec<(i64, String)> {
    versions
        .iter()
        .map(|v| (v.version, v.current_stage.clone()))
        .collect()
}

pub fn model_version_stages(s: &dyn Store) {
    let exp = s.create_experiment("staged", None, &[]).unwrap();
    let run = new_run(s, &exp, "train", 1);
    s.create_registered_model("wine", None, &[]).unwrap();
    let source = NewModelVersion {
        source: format!("runs:/{}/model", run.info.run_id),
        run_id: Some(run.info.run_id.clone()),
        ..NewModelVersion::default()
    };
    for _ in 0..4 {
        s.create_model_version("wine", &source).unwrap();
    }
    // Every new version is in stage None; the registered model lists the latest per stage.
    assert_eq!(
        stages(&s.get_registered_model("wine").unwrap().latest_versions),
        vec![(4, "None".into())]
    );
    let v = s
        .transition_model_version_stage("wine", 1, ModelStage::Staging, false)
        .unwrap();
    assert_eq!((v.version, v.current_stage.as_str()), (1, "Staging"));
    s.transition_model_version_stage("wine", 2, ModelStage::Production, false)
        .unwrap();
    s.transition_model_version_stage("wine", 3, ModelStage::Production, false)
        .unwrap();
    assert_eq!(
        s.get_model_version("wine", 2).unwrap().current_stage,
        "Production"
    );
    // Stages in the order their first version comes, each with its latest version.
    assert_eq!(
        stages(&s.get_registered_model("wine").unwrap().latest_versions),
        vec![
            (1, "Staging".into()),
            (3, "Production".into()),
            (4, "None".into())
        ]
    );
    assert_eq!(
        stages(&s.get_latest_versions("wine", &[]).unwrap()),
        vec![
            (1, "Staging".into()),
            (3, "Production".into()),
            (4, "None".into())
        ]
    );
    assert_eq!(
        stages(
            &s.get_latest_versions("wine", &[ModelStage::Production, ModelStage::Archived])
                .unwrap()
        ),
        vec![(3, "Production".into())]
    );
    // Archiving the versions already in the target stage.
    s.transition_model_version_stage("wine", 4, ModelStage::Production, true)
        .unwrap();
    let all = s
        .search_model_versions(&RegistryQuery {
            filter: "name = 'wine'".into(),
            max_results: 10,
            order_by: vec!["version_number ASC".into()],
            ..RegistryQuery::default()
        })
        .unwrap()
        .items;
    assert_eq!(
        stages(&all),
        vec![
            (1, "Staging".into()),
            (2, "Archived".into()),
            (3, "Archived".into()),
            (4, "Production".into())
        ]
    );
    // Back to None; archiving is only for Staging and Production.
    s.transition_model_version_stage("wine", 1, ModelStage::None, false)
        .unwrap();
    assert_eq!(
        code(s.transition_model_version_stage("wine", 1, ModelStage::Archived, true)),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.transition_model_version_stage("wine", 9, ModelStage::Staging, false)),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.get_latest_versions("nope", &[])),
        "RESOURCE_DOES_NOT_EXIST"
    );
    // Stage names in any case, as MLflow accepts them; anything else names the stages.
    assert_eq!(
        ModelStage::parse("production").unwrap(),
        ModelStage::Production
    );
    assert_eq!(ModelStage::parse("NONE").unwrap(), ModelStage::None);
    let e = ModelStage::parse("bogus").unwrap_err();
    assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
    assert!(
        e.to_string()
            .contains("None, Staging, Production, Archived"),
        "{e}"
    );
}

fn ordered_names(s: &dyn Store, order: &[&str]) -> Result<Vec<String>> {
    let page = s.search_registered_models(&RegistryQuery {
        max_results: 10,
        order_by: order.iter().map(|o| o.to_string()).collect(),
        ..RegistryQuery::default()
    })?;
    Ok(page.items.into_iter().map(|m| m.name).collect())
}

fn ordered_versions(s: &dyn Store, order: &[&str]) -> Result<Vec<(String, i64)>> {
    let page = s.search_model_versions(&RegistryQuery {
        max_results: 10,
        order_by: order.iter().map(|o| o.to_string()).collect(),
        ..RegistryQuery::default()
    })?;
    Ok(page
        .items
        .into_iter()
        .map(|v| (v.name, v.version))
        .collect())
}

/// Wait until the clock has moved past `ms`, so the next write gets a later timestamp.
fn after(ms: i64) {
    while now_ms() <= ms {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub fn registry_order_by(s: &dyn Store) {
    let exp = s.create_experiment("ordered", None, &[]).unwrap();
    let run = new_run(s, &exp, "train", 1);
    let source = NewModelVersion {
        source: format!("runs:/{}/model", run.info.run_id),
        run_id: Some(run.info.run_id.clone()),
        ..NewModelVersion::default()
    };
    let mut last = 0;
    for name in ["b", "a", "c"] {
        after(last);
        last = s
            .create_registered_model(name, None, &[])
            .unwrap()
            .last_updated_timestamp_ms;
    }
    // Default: by name. `timestamp` and `last_updated_timestamp` order by the last change.
    assert_eq!(ordered_names(s, &[]).unwrap(), names(&["a", "b", "c"]));
    assert_eq!(
        ordered_names(s, &["name DESC"]).unwrap(),
        names(&["c", "b", "a"])
    );
    assert_eq!(
        ordered_names(s, &["timestamp DESC"]).unwrap(),
        names(&["c", "a", "b"])
    );
    after(last);
    s.update_registered_model("b", "changed").unwrap();
    assert_eq!(
        ordered_names(s, &["last_updated_timestamp desc"]).unwrap(),
        names(&["b", "c", "a"])
    );
    assert_eq!(
        ordered_names(s, &["last_updated_timestamp"]).unwrap(),
        names(&["a", "c", "b"])
    );
    // A key MLflow does not order registered models by is refused, naming the keys.
    let e = err_text(ordered_names(s, &["creation_timestamp DESC"]));
    assert!(e.contains("name, timestamp, last_updated_timestamp"), "{e}");
    assert_eq!(
        code(ordered_names(s, &["version_number"])),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(ordered_names(s, &["name sideways"])),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(ordered_names(s, &["timestamp", "last_updated_timestamp"])),
        "INVALID_PARAMETER_VALUE"
    );

    // Versions: by name then newest first; or by any of MLflow's version keys.
    for name in ["b", "a", "b"] {
        after(last);
        last = s
            .create_model_version(name, &source)
            .unwrap()
            .creation_timestamp_ms;
    }
    let v = |n: &str, i: i64| (n.to_string(), i);
    assert_eq!(
        ordered_versions(s, &[]).unwrap(),
        vec![v("a", 1), v("b", 2), v("b", 1)]
    );
    assert_eq!(
        ordered_versions(s, &["version_number ASC", "name DESC"]).unwrap(),
        vec![v("b", 1), v("a", 1), v("b", 2)]
    );
    assert_eq!(
        ordered_versions(s, &["creation_timestamp DESC"]).unwrap()[0],
        v("b", 2)
    );
    assert_eq!(
        ordered_versions(s, &["name DESC", "last_updated_timestamp"]).unwrap(),
        vec![v("b", 1), v("b", 2), v("a", 1)]
    );
    let e = err_text(ordered_versions(s, &["timestamp"]));
    assert!(
        e.contains("name, version_number, creation_timestamp, last_updated_timestamp"),
        "{e}"
    );
}

fn model_metric(
    model: &LoggedModel,
    run: &Run,
    point: Metric,
    dataset: Option<&str>,
) -> LoggedModelMetric {
    LoggedModelMetric {
        model_id: model.model_id.clone(),
        run_id: run.info.run_id.clone(),
        metric: point,
        dataset_name: dataset.map(str::to_string),
        dataset_digest: dataset.map(|_| "d1".to_string()),
    }
}

fn model_ids(
    s: &dyn Store,
    exp: &ExperimentId,
    filter: &str,
    order: &[LoggedModelOrder],
) -> Vec<String> {
    s.search_logged_models(&LoggedModelQuery {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        order_by: order.to_vec(),
        ..LoggedModelQuery::default()
    })
    .unwrap_or_else(|e| panic!("search {filter:?}: {e}"))
    .items
    .into_iter()
    .map(|m| m.name)
    .collect()
}

pub fn logged_model_metrics(s: &dyn Store) {
    let exp = s.create_experiment("scored", None, &[]).unwrap();
    let run = new_run(s, &exp, "train", 1);
    let new = |name: &str| {
        s.create_logged_model(
            &exp,
            &NewLoggedModel {
                name: Some(name.into()),
                source_run_id: Some(run.info.run_id.clone()),
                ..NewLoggedModel::default()
            },
        )
        .unwrap()
    };
    let (good, bad, none) = (new("good"), new("bad"), new("none"));
    s.log_model_metrics(&[
        model_metric(&good, &run, m("acc", 0.5, 10, 0), None),
        model_metric(&good, &run, m("acc", 0.9, 20, 1), Some("iris")),
        model_metric(&bad, &run, m("acc", 0.7, 30, 0), Some("iris")),
    ])
    .unwrap();
    // Logging the same points again changes nothing.
    s.log_model_metrics(&[model_metric(&good, &run, m("acc", 0.5, 10, 0), None)])
        .unwrap();
    let got = s.get_logged_model(&good.model_id, false).unwrap();
    assert_eq!(
        got.metrics,
        vec![
            model_metric(&good, &run, m("acc", 0.5, 10, 0), None),
            model_metric(&good, &run, m("acc", 0.9, 20, 1), Some("iris")),
        ]
    );
    assert!(
        s.get_logged_model(&none.model_id, false)
            .unwrap()
            .metrics
            .is_empty()
    );
    // The points are the run's too.
    assert_eq!(
        s.get_metric_history(&run.info.run_id, "acc").unwrap().len(),
        3
    );

    // Filters match when any point does; ordering uses each model's latest point, and a
    // model without the metric comes last either way.
    assert_eq!(
        model_ids(s, &exp, "metrics.acc > 0.8", &[]),
        names(&["good"])
    );
    assert_eq!(
        sorted(model_ids(s, &exp, "metrics.acc < 0.6", &[])),
        names(&["good"])
    );
    assert_eq!(
        sorted(model_ids(
            s,
            &exp,
            "metrics.acc >= 0.7 AND name != 'x'",
            &[]
        )),
        names(&["bad", "good"])
    );
    let by_acc = |ascending: bool, dataset: Option<&str>| LoggedModelOrder {
        field_name: "metrics.acc".into(),
        ascending,
        dataset_name: dataset.map(str::to_string),
        dataset_digest: None,
    };
    assert_eq!(
        model_ids(s, &exp, "", &[by_acc(false, None)]),
        names(&["good", "bad", "none"])
    );
    assert_eq!(
        model_ids(s, &exp, "", &[by_acc(true, None)]),
        names(&["bad", "good", "none"])
    );
    assert_eq!(
        model_ids(s, &exp, "", &[by_acc(true, Some("iris"))]),
        names(&["bad", "good", "none"])
    );
    assert_eq!(
        code(s.search_logged_models(&LoggedModelQuery {
            experiment_ids: vec![exp.clone()],
            filter: "metrics.acc > 'high'".into(),
            ..LoggedModelQuery::default()
        })),
        "INVALID_PARAMETER_VALUE"
    );

    // A missing model or a deleted run is the client's mistake, and nothing is written.
    let mut missing = model_metric(&good, &run, m("loss", 1.0, 40, 0), None);
    missing.model_id = "m-00000000000000000000000000000000".into();
    assert_eq!(
        code(s.log_model_metrics(&[missing])),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert!(
        s.get_metric_history(&run.info.run_id, "loss")
            .unwrap()
            .is_empty()
    );
    s.delete_run(&run.info.run_id).unwrap();
    assert_eq!(
        code(s.log_model_metrics(&[model_metric(&good, &run, m("acc", 1.0, 50, 2), None)])),
        "INVALID_PARAMETER_VALUE"
    );
}

fn new_model(s: &dyn Store, exp: &ExperimentId, name: &str, run: &Run) -> LoggedModel {
    s.create_logged_model(
        exp,
        &NewLoggedModel {
            name: Some(name.into()),
            source_run_id: Some(run.info.run_id.clone()),
            ..NewLoggedModel::default()
        },
    )
    .unwrap()
}

pub fn logged_models_crud(s: &dyn Store) {
    let exp = s.create_experiment("models", None, &[]).unwrap();
    let location = s.get_experiment(&exp).unwrap().artifact_location;
    let run = new_run(s, &exp, "train", 1);
    let created = s
        .create_logged_model(
            &exp,
            &NewLoggedModel {
                name: Some("net".into()),
                model_type: Some("regressor".into()),
                source_run_id: Some(run.info.run_id.clone()),
                tags: vec![Tag::new("team", "b"), Tag::new("owner", "a")],
                // A param given twice with one value is one param.
                params: vec![
                    Param::new("lr", "0.1"),
                    Param::new("depth", "3"),
                    Param::new("lr", "0.1"),
                ],
            },
        )
        .unwrap();
    assert!(created.model_id.starts_with("m-"), "{}", created.model_id);
    assert_eq!(created.name, "net");
    assert_eq!(created.experiment_id, exp);
    assert_eq!(created.status, LoggedModelStatus::Pending);
    assert_eq!(created.model_type.as_deref(), Some("regressor"));
    assert_eq!(
        created.source_run_id.as_deref(),
        Some(run.info.run_id.as_str())
    );
    assert_eq!(created.lifecycle_stage, LifecycleStage::Active);
    assert!(
        created
            .artifact_uri
            .ends_with(&format!("/models/{}/artifacts", created.model_id)),
        "{}",
        created.artifact_uri
    );
    if !location.starts_with("mlflow-artifacts:") {
        assert!(created.artifact_uri.starts_with(&location), "{created:?}");
    }
    assert_eq!(
        created.tags,
        vec![Tag::new("owner", "a"), Tag::new("team", "b")]
    );
    assert_eq!(
        created.params,
        vec![Param::new("depth", "3"), Param::new("lr", "0.1")]
    );
    let id = created.model_id.clone();
    assert_eq!(s.get_logged_model(&id, false).unwrap(), created);

    // A generated name; the client's mistakes are refused.
    let unnamed = s
        .create_logged_model(&exp, &NewLoggedModel::default())
        .unwrap();
    assert!(!unnamed.name.trim().is_empty());
    let blank = NewLoggedModel {
        name: Some(" ".into()),
        ..NewLoggedModel::default()
    };
    assert_eq!(
        code(s.create_logged_model(&exp, &blank)),
        "INVALID_PARAMETER_VALUE"
    );
    let no_run = NewLoggedModel {
        source_run_id: Some("0123456789abcdef0123456789abcdef".into()),
        ..NewLoggedModel::default()
    };
    assert_eq!(
        code(s.create_logged_model(&exp, &no_run)),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.create_logged_model(&ExperimentId("987654".into()), &NewLoggedModel::default())),
        "RESOURCE_DOES_NOT_EXIST"
    );
    let gone = s.create_experiment("gone", None, &[]).unwrap();
    s.delete_experiment(&gone).unwrap();
    assert_eq!(
        code(s.create_logged_model(&gone, &NewLoggedModel::default())),
        "INVALID_PARAMETER_VALUE"
    );
    assert_eq!(
        code(s.get_logged_model("m-00000000000000000000000000000000", false)),
        "RESOURCE_DOES_NOT_EXIST"
    );

    // Tags upsert and delete; params are immutable.
    s.set_logged_model_tags(&id, &[Tag::new("team", "c"), Tag::new("extra", "1")])
        .unwrap();
    s.delete_logged_model_tag(&id, "owner").unwrap();
    assert_eq!(
        code(s.delete_logged_model_tag(&id, "owner")),
        "RESOURCE_DOES_NOT_EXIST"
    );
    s.log_logged_model_params(&id, &[Param::new("lr", "0.1"), Param::new("seed", "7")])
        .unwrap();
    let e = err_text(s.log_logged_model_params(&id, &[Param::new("lr", "0.2")]));
    assert!(e.contains("Changing param values is not allowed"), "{e}");
    let got = s.get_logged_model(&id, false).unwrap();
    assert_eq!(
        got.tags,
        vec![Tag::new("extra", "1"), Tag::new("team", "c")]
    );
    assert_eq!(
        got.params,
        vec![
            Param::new("depth", "3"),
            Param::new("lr", "0.1"),
            Param::new("seed", "7")
        ]
    );
    assert!(got.last_updated_timestamp_ms >= created.last_updated_timestamp_ms);

    // Finalizing sets the status.
    let ready = s
        .finalize_logged_model(&id, LoggedModelStatus::Ready)
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);
    assert_eq!(
        s.get_logged_model(&id, false).unwrap().status,
        LoggedModelStatus::Ready
    );

    // Outputs of a run: the run must be active and the model must exist.
    let output = |model_id: &str, step| ModelOutput {
        model_id: model_id.into(),
        step,
    };
    s.log_outputs(&run.info.run_id, &[output(&id, 0)]).unwrap();
    s.log_outputs(
        &run.info.run_id,
        &[output(&id, 5), output(&unnamed.model_id, 1)],
    )
    .unwrap();
    assert_eq!(
        code(s.log_outputs(
            &run.info.run_id,
            &[output("m-00000000000000000000000000000000", 0)]
        )),
        "RESOURCE_DOES_NOT_EXIST"
    );
    assert_eq!(
        code(s.log_outputs("0123456789abcdef0123456789abcdef", &[output(&id, 0)])),
        "RESOURCE_DOES_NOT_EXIST"
    );

    // Searches: the experiment's active models, newest first, filtered, in pages.
    let third = new_model(s, &exp, "third", &run);
    let all = model_ids(s, &exp, "", &[]);
    assert_eq!(sorted(all), sorted(names(&["net", &unnamed.name, "third"])));
    assert_eq!(model_ids(s, &exp, "name = 'net'", &[]), names(&["net"]));
    assert_eq!(model_ids(s, &exp, "tags.team = 'c'", &[]), names(&["net"]));
    assert_eq!(
        model_ids(s, &exp, "params.seed = '7'", &[]),
        names(&["net"])
    );
    assert_eq!(
        model_ids(s, &exp, "status = 'LOGGED_MODEL_READY'", &[]),
        names(&["net"])
    );
    let by_name = LoggedModelOrder {
        field_name: "name".into(),
        ascending: true,
        ..LoggedModelOrder::default()
    };
    let mut expected = names(&["net", &unnamed.name, "third"]);
    expected.sort();
    assert_eq!(
        model_ids(s, &exp, "", std::slice::from_ref(&by_name)),
        expected
    );
    let page = |token: Option<String>| {
        s.search_logged_models(&LoggedModelQuery {
            experiment_ids: vec![exp.clone()],
            order_by: vec![by_name.clone()],
            max_results: 2,
            page_token: token,
            ..LoggedModelQuery::default()
        })
        .unwrap()
    };
    let first = page(None);
    let second = page(first.next_page_token.clone());
    assert!(first.next_page_token.is_some() && second.next_page_token.is_none());
    let paged: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(paged, expected);
    let bad_order = LoggedModelOrder {
        field_name: "size".into(),
        ..LoggedModelOrder::default()
    };
    assert_eq!(
        code(s.search_logged_models(&LoggedModelQuery {
            experiment_ids: vec![exp.clone()],
            order_by: vec![bad_order],
            ..LoggedModelQuery::default()
        })),
        "INVALID_PARAMETER_VALUE"
    );

    // Deleting hides a model from reads, searches and writes; it is still there for
    // readers that ask for deleted ones.
    s.delete_logged_model(&third.model_id).unwrap();
    assert_eq!(
        code(s.get_logged_model(&third.model_id, false)),
        "RESOURCE_DOES_NOT_EXIST"
    );
    // (MLflow's wire form carries no lifecycle stage: only that it is found is checked.)
    assert_eq!(
        s.get_logged_model(&third.model_id, true).unwrap().name,
        "third"
    );
    assert_eq!(
        sorted(model_ids(s, &exp, "", &[])),
        sorted(names(&["net", &unnamed.name]))
    );
    for r in [
        s.set_logged_model_tags(&third.model_id, &[Tag::new("k", "v")]),
        s.log_logged_model_params(&third.model_id, &[Param::new("k", "v")]),
        s.delete_logged_model(&third.model_id),
        s.log_outputs(&run.info.run_id, &[output(&third.model_id, 0)]),
    ] {
        assert_eq!(code(r), "RESOURCE_DOES_NOT_EXIST");
    }
    assert_eq!(
        code(s.finalize_logged_model(&third.model_id, LoggedModelStatus::Ready)),
        "RESOURCE_DOES_NOT_EXIST"
    );
    s.delete_run(&run.info.run_id).unwrap();
    assert_eq!(
        code(s.log_outputs(&run.info.run_id, &[output(&id, 0)])),
        "INVALID_PARAMETER_VALUE"
    );
}
