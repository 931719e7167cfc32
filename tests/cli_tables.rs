//! The listings the command line prints (`experiments list`, `runs list`, `runs show`) in
//! their three formats: the built binary over a temporary SQLite store, one table renderer
//! for all of them.

use std::process::Command;

use hyperflow::tracking::{
    ExperimentId, Metric, Param, RunOptions, RunRecord, RunStart, RunStatus, RunUpdate, Tag,
    Tracker,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Self {
        Store {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn uri(&self) -> String {
        format!("sqlite:///{}", self.dir.path().join("runs.db").display())
    }

    /// Runs hyperflow over this store.
    fn output(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .current_dir(self.dir.path())
            .env_remove("HYPERFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI")
            .arg("--tracking-uri")
            .arg(self.uri())
            .args(args)
            .output()
            .expect("run hyperflow")
    }

    /// Runs hyperflow; its standard output, after checking that it succeeded.
    fn cli(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs hyperflow expecting it to fail; its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8(out.stderr).expect("utf-8 output")
    }
}

/// The column at which each of `words` starts on `line` (characters).
fn columns_of(line: &str, words: &[&str]) -> Vec<usize> {
    words
        .iter()
        .map(|w| {
            let at = line.find(w).unwrap_or_else(|| panic!("{w} in {line:?}"));
            line[..at].chars().count()
        })
        .collect()
}

fn assert_plain(text: &str) {
    for line in text.lines() {
        assert_eq!(line, line.trim_end(), "trailing spaces in {text}");
        assert!(!line.contains(['│', '─', '|']), "borders in {text}");
    }
}

#[test]
fn experiments_list_prints_one_table_in_three_formats() {
    let store = Store::new();
    store.cli(&["experiments", "create", "alpha"]);
    store.cli(&["experiments", "create", "with, comma \"quoted\""]);

    let text = store.cli(&["experiments", "list"]);
    assert_plain(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "header and three experiments: {text}");
    assert!(lines[0].starts_with("experiment_id  name  "), "{text}");
    let alpha = lines.iter().find(|l| l.contains("alpha")).expect("alpha");
    assert_eq!(
        columns_of(lines[0], &["name", "lifecycle_stage"]),
        columns_of(alpha, &["alpha", "active"]),
        "{text}"
    );

    let csv = store.cli(&["experiments", "list", "--format", "csv"]);
    let csv_lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        csv_lines[0],
        "experiment_id,name,lifecycle_stage,creation_time,last_update_time,artifact_location"
    );
    assert!(
        csv.contains(",\"with, comma \"\"quoted\"\"\",active,"),
        "{csv}"
    );

    let json: Value =
        serde_json::from_str(&store.cli(&["experiments", "list", "--format", "json"]))
            .expect("JSON");
    let list = json.as_array().expect("a list");
    assert_eq!(list.len(), 3);
    let keys: Vec<&str> = list[0]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, csv_lines[0].split(',').collect::<Vec<_>>());
    assert!(list[0]["creation_time"].is_i64(), "{json}");
    assert!(list.iter().any(|e| e["name"] == "with, comma \"quoted\""));
}

#[test]
fn runs_list_and_show_use_the_same_plain_table() {
    let store = Store::new();
    let tracker = Tracker::open(&store.uri()).expect("open the store");
    let run = tracker
        .start_run(RunOptions::new().run_name("first"))
        .expect("start a run");
    run.log_param("learning_rate", 0.25).expect("param");
    run.log_metric("loss", 1.5, 0).expect("metric");
    let id = run.id().to_string();
    drop(run);

    let text = store.cli(&["runs", "list"]);
    assert_plain(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("run_id  "), "{text}");
    assert_eq!(
        columns_of(
            lines[0],
            &["run_name", "metrics.loss", "params.learning_rate"]
        ),
        columns_of(lines[1], &["first", "1.5", "0.25"]),
        "{text}"
    );

    let shown = store.cli(&["runs", "show", &id]);
    assert_plain(&shown);
    // The values start two spaces past the longest field name.
    let longest = shown.lines().map(|l| l.find("  ").unwrap_or(0)).max();
    let width = longest.unwrap_or(0) + 2;
    assert!(
        shown.starts_with(&format!("{:width$}value\n", "field")),
        "{shown}"
    );
    for (field, value) in [
        ("run_id", id.as_str()),
        ("metrics.loss", "1.5"),
        ("params.learning_rate", "0.25"),
    ] {
        let line = format!("\n{field:width$}{value}\n");
        assert!(shown.contains(&line), "{line:?} in {shown}");
    }

    let csv = store.cli(&["runs", "show", &id, "--format", "csv"]);
    assert!(
        csv.starts_with(&format!("field,value\nrun_id,{id}\n")),
        "{csv}"
    );
}

#[test]
fn a_misspelt_experiment_name_gets_a_suggestion() {
    let store = Store::new();
    store.cli(&["experiments", "create", "lightgbm-tuning"]);
    let suggestion = "error: no experiment is named or numbered `lightgbm-tunning`; did you mean \
                      `lightgbm-tuning`?\n";
    for args in [
        &["runs", "list", "--experiment", "lightgbm-tunning"][..],
        &["experiments", "delete", "lightgbm-tunning"],
        &["experiments", "restore", "lightgbm-tunning"],
    ] {
        assert_eq!(store.fails(args), suggestion, "{args:?}");
    }
    // Nothing close: no suggestion; an id still finds the experiment.
    assert_eq!(
        store.fails(&["runs", "list", "-e", "xgboost"]),
        "error: no experiment is named or numbered `xgboost`\n"
    );
    assert_eq!(
        store.fails(&["runs", "list", "-e", "7"]),
        "error: no experiment is named or numbered `7`\n"
    );
    store.cli(&["runs", "list", "-e", "1"]);
}

#[test]
fn tracking_uri_help_lists_every_accepted_form() {
    let store = Store::new();
    let forms: Vec<_> = hyperflow::tracking::URI_FORMS
        .iter()
        .filter(|form| form.available)
        .collect();
    assert!(forms.iter().any(|form| form.example.starts_with("http://")));
    for args in [&["--help"][..], &["runs", "list", "--help"]] {
        let help = store.cli(args);
        for form in &forms {
            assert!(
                help.contains(form.example),
                "{args:?} lacks {form:?}:\n{help}"
            );
        }
    }
    // An unknown scheme is answered with the same list.
    let out = Command::new(BIN)
        .args(["--tracking-uri", "ftp://example.org/runs", "runs", "list"])
        .output()
        .expect("run hyperflow");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&hyperflow::tracking::accepted_uris()), "{err}");
}

#[test]
fn runs_list_shows_the_columns_asked_for_with_readable_times() {
    let store = Store::new();
    let tracker = Tracker::open(&store.uri()).expect("open the store");
    let store_api = tracker.store();
    let run = store_api
        .create_run(
            &ExperimentId::default_experiment(),
            RunStart {
                run_name: Some("first".into()),
                start_time: Some(1_796_552_103_250),
                ..RunStart::default()
            },
        )
        .expect("create a run");
    let id = run.info.run_id;
    store_api
        .log_batch(
            &id,
            &[Metric {
                key: "loss".into(),
                value: 1.5,
                timestamp: 0,
                step: 0,
            }],
            &[Param::new("lr", "0.25")],
            &[],
        )
        .expect("log");
    store_api
        .update_run(
            &id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(1_796_552_287_250),
                run_name: None,
            },
        )
        .expect("end the run");

    let text = store.cli(&[
        "runs",
        "list",
        "--columns",
        "run_name,start_time, end_time,duration,metrics.loss,params.lr",
    ]);
    assert_plain(&text);
    let lines: Vec<&str> = text.lines().collect();
    let words: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        words,
        [
            "run_name",
            "start_time",
            "end_time",
            "duration",
            "metrics.loss",
            "params.lr"
        ]
    );
    // Times in UTC whatever the local zone, durations in words.
    assert_eq!(
        columns_of(
            lines[0],
            &[
                "run_name",
                "start_time",
                "end_time",
                "duration",
                "metrics.loss"
            ]
        ),
        columns_of(
            lines[1],
            &[
                "first",
                "2026-12-06 10:15:03",
                "2026-12-06 10:18:07",
                "3 min 4 s",
                "1.5"
            ]
        ),
        "{text}"
    );
    let csv = store.cli(&[
        "runs",
        "list",
        "-c",
        "run_id,start_time,duration",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        format!("run_id,start_time,duration\n{id},1796552103250,184000\n")
    );
    let json: Value =
        serde_json::from_str(&store.cli(&["runs", "list", "-c", "end_time", "--format", "json"]))
            .expect("JSON");
    assert_eq!(
        json,
        serde_json::json!([{"end_time": 1_796_552_287_250_i64}])
    );

    let err = store.fails(&["runs", "list", "--columns", "run_name,metrics.los"]);
    assert!(
        err.starts_with(
            "error: no column `metrics.los` in the runs listed; did you mean `metrics.loss`?"
        ),
        "{err}"
    );
    assert!(err.contains("the columns are run_id, "), "{err}");
}

#[test]
fn an_artifact_location_that_cannot_be_written_is_refused_at_creation() {
    let store = Store::new();
    let file = store.dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write a file");
    let location = file.join("artifacts");
    let location = location.to_str().expect("UTF-8 path");
    let err = store.fails(&[
        "experiments",
        "create",
        "tuning",
        "--artifact-location",
        location,
    ]);
    assert!(
        err.starts_with(&format!(
            "error: artifact location '{location}' cannot be written: cannot create directory \
             {location}: "
        )),
        "{err}"
    );
    assert!(
        !store.cli(&["experiments", "list"]).contains("tuning"),
        "nothing was created"
    );
    let good = store.dir.path().join("kept/artifacts");
    store.cli(&[
        "experiments",
        "create",
        "tuning",
        "--artifact-location",
        good.to_str().expect("UTF-8 path"),
    ]);
    assert!(good.is_dir());
    assert_eq!(
        std::fs::read_dir(&good).expect("list").count(),
        0,
        "no probe left"
    );
}

/// `n` finished runs in experiment `paged`, each with a param and a metric (every run has
/// the same columns, so pages share their header), the odd ones with a tag as well.
fn seed_runs(store: &Store, n: usize) {
    let tracker = Tracker::open(&store.uri()).expect("open the store");
    let exp = tracker.create_experiment("paged").expect("experiment");
    for i in 0..n {
        let mut tags = vec![];
        if i % 2 == 1 {
            tags.push(Tag::new("odd", "yes, odd"));
        }
        tracker
            .record_run(
                &exp,
                &RunRecord {
                    start: RunStart {
                        run_name: Some(format!("r{i:02}")),
                        start_time: Some(1_700_000_000_000 + i as i64),
                        tags,
                        ..RunStart::default()
                    },
                    metrics: vec![Metric {
                        key: "loss".into(),
                        value: i as f64 / 10.0,
                        timestamp: 1_700_000_000_000,
                        step: 0,
                    }],
                    params: vec![Param::new("i", i.to_string())],
                    status: RunStatus::Finished,
                    end_time: Some(1_700_000_000_500 + i as i64),
                },
            )
            .expect("run");
    }
}

/// Standard output and the next page's token (printed on standard error), if any.
fn page(store: &Store, args: &[&str]) -> (String, Option<String>) {
    let out = store.output(args);
    assert!(out.status.success(), "{args:?}");
    let err = String::from_utf8(out.stderr).expect("utf-8");
    let token = err
        .split_once("--page-token ")
        .map(|(_, rest)| rest.split_whitespace().next().expect("token").to_string());
    (String::from_utf8(out.stdout).expect("utf-8"), token)
}

#[test]
fn runs_list_pages_with_tokens_and_all_streams_the_same_rows() {
    let store = Store::new();
    seed_runs(&store, 23);
    let base = [
        "runs",
        "list",
        "-e",
        "paged",
        "--order-by",
        "metrics.loss ASC",
    ];

    // Pages of 5, each continuing from the token the previous one printed.
    let (mut csv_rows, mut json_rows, mut header) = (Vec::new(), Vec::new(), None);
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(["--max-results", "5"]);
        if let Some(t) = &token {
            args.extend(["--page-token", t]);
        }
        let (csv, next) = page(&store, &[&args[..], &["--format", "csv"]].concat());
        let (json, json_next) = page(&store, &[&args[..], &["--format", "json"]].concat());
        assert_eq!(next, json_next, "the same token in both formats");
        let mut lines = csv.lines();
        let h = lines.next().expect("header").to_string();
        assert_eq!(header.get_or_insert_with(|| h.clone()), &h);
        csv_rows.extend(lines.map(str::to_string));
        let list: Vec<Value> = serde_json::from_str(&json).expect("JSON");
        json_rows.extend(list);
        pages += 1;
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 5, "23 runs in pages of 5");
    assert_eq!(csv_rows.len(), 23);
    assert!(csv_rows[0].contains(",r00,"), "{}", csv_rows[0]);
    assert!(csv_rows[22].contains(",r22,"), "{}", csv_rows[22]);

    // --all: the same header and rows in one stream, in every streaming format.
    let all_csv = store.cli(&[&base[..], &["--all", "--format", "csv"]].concat());
    let expected = format!("{}\n{}\n", header.expect("a page"), csv_rows.join("\n"));
    assert_eq!(all_csv, expected);
    let all_json: Vec<Value> =
        serde_json::from_str(&store.cli(&[&base[..], &["--all", "--format", "json"]].concat()))
            .expect("JSON");
    assert_eq!(all_json, json_rows);
    let lines: Vec<Value> = store
        .cli(&[&base[..], &["--all", "--format", "jsonl"]].concat())
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object per line"))
        .collect();
    assert_eq!(lines, json_rows);

    // --all with chosen columns, and the errors.
    let picked = store.cli(
        &[
            &base[..],
            &["--all", "--format", "csv", "-c", "run_name,tags.odd"],
        ]
        .concat(),
    );
    assert!(
        picked.starts_with("run_name,tags.odd\nr00,\nr01,\"yes, odd\"\n"),
        "{picked}"
    );
    assert!(
        store
            .fails(&[&base[..], &["--all"]].concat())
            .contains("--format csv, json or jsonl")
    );
    assert!(
        store
            .fails(&[&base[..], &["--all", "--max-results", "5"]].concat())
            .contains("cannot be used with")
    );
    assert!(
        store
            .fails(&[&base[..], &["--page-token", "nonsense!"]].concat())
            .contains("Invalid page token")
    );
}
