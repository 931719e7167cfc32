//! Sweeps over real processes: shell scripts written into temporary directories.
#![cfg(unix)]

use std::path::{Path, PathBuf};

use hyperflow::TrialState;
use hyperflow::sweep::tracked::run_tracked;
use hyperflow::sweep::{
    Cancellation, Overrides, ProgressMode, SweepConfig, SweepError, SweepOptions, plan,
    render_summary, run_sweep,
};
use hyperflow::tracking::Tracker;

#[cfg(target_os = "linux")]
#[path = "common/procs.rs"]
mod procs;

/// A temporary sweep: a directory with a config and scripts.
struct Sweep {
    dir: tempfile::TempDir,
}

impl Sweep {
    fn new() -> Self {
        Sweep {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str, contents: &str) -> &Self {
        std::fs::write(self.path(name), contents).expect("write file");
        self
    }

    /// Writes `sweep.toml` from its parts.
    fn config(&self, command: &str, search: &str, space: &str) -> PathBuf {
        let path = self.path("sweep.toml");
        let text = format!(
            "[experiment]\nname = \"test\"\n\n[command]\n{command}\n\n[objective]\nmetric = \"loss\"\n\n\
             [search]\nalgo = \"random\"\nseed = 1\n{search}\n\n[space]\n{space}\n"
        );
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn load(&self, command: &str, search: &str, space: &str) -> SweepConfig {
        let path = self.config(command, search, space);
        SweepConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn quiet() -> SweepOptions<'static> {
    SweepOptions::new().progress(ProgressMode::Quiet)
}

const X: &str = "x = { kind = \"uniform\", low = 0, high = 1 }";

#[test]
fn success_with_json_metrics() {
    let s = Sweep::new();
    s.file(
        "train.sh",
        "echo 'starting'\necho \"{\\\"loss\\\": $1, \\\"acc\\\": 0.5}\"\necho done >&2\n",
    );
    let config = s.load("run = \"sh train.sh {x}\"", "max_evals = 5", X);
    let summary = run_sweep(&config, quiet()).unwrap();
    assert_eq!(summary.trials().len(), 5);
    for t in summary.trials() {
        assert_eq!(t.state, TrialState::Complete, "{:?}", t.error);
        let x: f64 = t.point.get("x").unwrap();
        assert_eq!(t.loss, Some(x), "the objective metric is the loss");
        assert_eq!(
            t.metrics,
            [("acc".to_string(), 0.5)],
            "the objective is the loss, the other metrics further metrics"
        );
    }
    let best = summary.best().unwrap();
    let min = summary
        .trials()
        .iter()
        .filter_map(|t| t.loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.loss, Some(min));
    let table = render_summary(&summary, 3);
    assert!(table.contains("5 trials: 5 complete, 0 failed"), "{table}");
    assert!(table.contains("rank"), "{table}");
}

/// A tracked sweep stores what the program printed, exactly: each stepped point once,
/// each unstepped point at steps 0, 1, ... and no extra point holding the final value.
#[test]
fn step_metrics_environment_and_artifacts_reach_the_trial_run() {
    let s = Sweep::new();
    s.file(
        "train.sh",
        r#"echo "training"
for i in 1 2 3; do echo "hyperflow: metric=loss value=0.$i step=$i"; done
echo "hyperflow: metric=acc value=0.7"
echo "hyperflow: metric=acc value=0.8"
printf '%s|%s|%s|%s|%s|%s\n' "$HYPERFLOW_TRIAL" "$MLFLOW_RUN_ID" "$HYPERFLOW_RUN_ID" "$HYPERFLOW_TRACKING_URI" "$MLFLOW_TRACKING_URI" "$HYPERFLOW_PARAMS" > "env-$HYPERFLOW_TRIAL.txt"
echo "custom=$CUSTOM" >&2
"#,
    );
    let config = s.load(
        "run = \"sh train.sh\"\nenv = { CUSTOM = \"yes\" }",
        "max_evals = 2",
        "model = { kind = \"choice\", options = [\"rf\"] }",
    );
    let uri = format!("sqlite:///{}", s.path("runs.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    let done = run_tracked(&config, &tracker, quiet().tracking_uri(uri.clone()), None).unwrap();
    let summary = &done.summary;
    assert_eq!(summary.trials().len(), 2);
    let t = &summary.trials()[0];
    assert_eq!(t.state, TrialState::Complete, "{:?}", t.error);
    assert_eq!(t.loss, Some(0.3), "the last step value is the final value");
    assert!(t.metrics.contains(&("acc".to_string(), 0.8)));

    let study = hyperflow::Study::load(&tracker, &done.run_id).unwrap();
    let run_id = study.run_id(0).expect("trial 0 has a run").to_string();
    let history = |key: &str| -> Vec<(f64, i64)> {
        tracker
            .get_metric_history(&run_id, key)
            .unwrap()
            .iter()
            .map(|m| (m.value, m.step))
            .collect()
    };
    assert_eq!(history("loss"), [(0.1, 1), (0.2, 2), (0.3, 3)]);
    assert_eq!(history("acc"), [(0.7, 0), (0.8, 1)]);

    let run_1 = study.run_id(1).expect("trial 1 has a run");
    let env = std::fs::read_to_string(s.path("env-1.txt")).unwrap();
    let fields: Vec<&str> = env.trim().split('|').collect();
    // MLflow's client cannot open the SQLite file: it gets the store served on a loopback
    // port (feature `server`), or nothing.
    let (mlflow_run, mlflow_uri) = (fields[1], fields[4]);
    assert_eq!(
        [fields[0], fields[2], fields[3], fields[5]],
        ["1", run_1.as_str(), uri.as_str(), r#"{"model":"rf"}"#]
    );
    if cfg!(feature = "server") {
        assert_eq!(mlflow_run, run_1);
        assert!(mlflow_uri.starts_with("http://127.0.0.1:"), "{env}");
    } else {
        assert_eq!([mlflow_run, mlflow_uri], ["", ""], "{env}");
    }

    let repo = tracker.artifacts(&run_id).unwrap();
    assert_eq!(repo.read_bytes("stderr.txt").unwrap(), b"custom=yes\n");
    let stdout = repo.read_bytes("stdout.txt").unwrap();
    assert!(String::from_utf8_lossy(&stdout).contains("hyperflow: metric=loss value=0.3 step=3"));
}

#[test]
fn non_zero_exit_fails_with_the_tail_of_stderr() {
    let s = Sweep::new();
    s.file(
        "train.sh",
        "i=0; while [ $i -lt 30 ]; do echo \"err line $i\" >&2; i=$((i+1)); done\n\
         echo '{\"loss\": 1}'\nexit 3\n",
    );
    let config = s.load("run = \"sh train.sh\"", "max_evals = 2", X);
    let summary = run_sweep(&config, quiet()).unwrap();
    assert_eq!(summary.failed().count(), 2);
    let reason = summary.trials()[0].error.clone().unwrap();
    assert!(
        reason.starts_with("the command exited with status 3"),
        "{reason}"
    );
    assert!(reason.contains("err line 29"), "{reason}");
    assert!(reason.contains("err line 10"), "{reason}");
    assert!(
        !reason.contains("err line 9\n"),
        "only the last 20 lines: {reason}"
    );
    assert!(summary.best().is_none());
    assert!(render_summary(&summary, 5).contains("no trial completed; the first failure"));
}

#[test]
fn missing_objective_metric_fails_the_trial() {
    let s = Sweep::new();
    // The first trial prints the objective, the second only another metric.
    s.file(
        "train.sh",
        "if [ -e once ]; then echo '{\"accuracy\": 0.9}'; else touch once; echo '{\"loss\": 1}'; fi\n",
    );
    let config = s.load("run = \"sh train.sh\"", "max_evals = 2", X);
    let summary = run_sweep(&config, quiet()).unwrap();
    assert_eq!(summary.trials()[0].loss, Some(1.0));
    let reason = summary.trials()[1].error.clone().unwrap();
    assert!(reason.contains("printed no `loss` metric"), "{reason}");
    assert!(reason.contains("it printed: accuracy"), "{reason}");
}

#[test]
fn an_objective_the_first_successful_trial_did_not_print_stops_the_sweep() {
    let s = Sweep::new();
    s.file("train.sh", "echo '{\"accuracy\": 0.9, \"los\": 0.1}'\n");
    let config = s.load("run = \"sh train.sh\"", "max_evals = 5", X);
    let err = run_sweep(&config, quiet()).unwrap_err();
    assert!(
        matches!(
            &err,
            SweepError::ObjectiveNotPrinted { trial: 0, metric, printed, suggestion }
                if metric == "loss" && printed == &["accuracy", "los"]
                    && suggestion.as_deref() == Some("los")
        ),
        "{err:?}"
    );
}

/// The pid a trial script wrote into `name`.
#[cfg(target_os = "linux")]
fn read_pid(s: &Sweep, name: &str) -> i32 {
    std::fs::read_to_string(s.path(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn timeout_kills_the_whole_process_group() {
    let s = Sweep::new();
    // The script ignores SIGTERM (and so does its child, which inherits that), so only
    // the SIGKILL after the grace period can stop them. The child leaves `survived`
    // behind if it runs to its end.
    s.file(
        "train.sh",
        "trap '' TERM\n(sleep 30; touch survived) &\necho $! > grandchild.pid\n\
         echo '{\"loss\": 1}'\nwait\n",
    );
    let config = s.load(
        "run = \"sh train.sh\"\ntimeout = \"1s\"\nkill_grace = \"200ms\"",
        "max_evals = 1",
        X,
    );
    let summary = run_sweep(&config, quiet()).unwrap();
    let trial = &summary.trials()[0];
    assert_eq!(trial.state, TrialState::Failed);
    let reason = trial.error.clone().unwrap();
    assert!(reason.starts_with("timed out after 1.0s"), "{reason}");
    let pid = read_pid(&s, "grandchild.pid");
    procs::wait_exited(pid);
    assert!(
        !s.path("survived").exists(),
        "the grandchild {pid} survived the timeout and ran to its end"
    );
}

#[test]
fn parallel_trials_overlap() {
    let s = Sweep::new();
    // Each trial marks itself running for its whole life and, in the middle of it,
    // counts the trials marked running (itself included): never more than ran at once.
    s.file(
        "train.sh",
        "touch \"running-$HYPERFLOW_TRIAL\"\nsleep 0.2\nset -- running-*\n\
         echo $# > \"seen-$HYPERFLOW_TRIAL\"\nrm \"running-$HYPERFLOW_TRIAL\"\n\
         echo '{\"loss\": 1}'\n",
    );
    let config = s.load("run = \"sh train.sh\"", "max_evals = 8\nparallel = 4", X);
    let summary = run_sweep(&config, quiet()).unwrap();
    assert_eq!(summary.ranked().len(), 8);
    let seen: Vec<usize> = (0..8)
        .map(|i| {
            std::fs::read_to_string(s.path(&format!("seen-{i}")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let most = seen.iter().copied().max().unwrap();
    assert!(most >= 2, "no two trials overlapped: {seen:?}");
    assert!(most <= 4, "more than `parallel` trials at once: {seen:?}");
}

#[test]
fn choice_values_cannot_inject_shell_code() {
    for shell in [false, true] {
        let s = Sweep::new();
        s.file(
            "emit.sh",
            "printf '%s' \"$1\" > arg.txt\necho '{\"loss\": 1}'\n",
        );
        let config = s.load(
            &format!("run = \"sh emit.sh {{opt}}\"\nshell = {shell}"),
            "max_evals = 1",
            "opt = { kind = \"choice\", options = [\"x; touch PWNED $(touch PWNED2) `touch PWNED3`\"] }",
        );
        let summary = run_sweep(&config, quiet()).unwrap();
        assert_eq!(
            summary.trials()[0].state,
            TrialState::Complete,
            "{:?}",
            summary.trials()[0].error
        );
        for file in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(
                !s.path(file).exists(),
                "shell = {shell}: {file} was created"
            );
        }
        assert_eq!(
            std::fs::read_to_string(s.path("arg.txt")).unwrap(),
            "x; touch PWNED $(touch PWNED2) `touch PWNED3`",
            "shell = {shell}: the value reached the program as one argument"
        );
    }
}

#[test]
fn dry_run_runs_nothing_and_is_reproducible() {
    let s = Sweep::new();
    let config = s.load(
        "run = \"touch RAN-{x}\"",
        "max_evals = 4",
        "x = { kind = \"randint\", low = 0, high = 1000 }",
    );
    let first = plan(&config, 4).unwrap();
    assert_eq!(first.seed, 1);
    assert_eq!(first.trials.len(), 4);
    let x: i64 = first.trials[2].point.get("x").unwrap();
    assert_eq!(first.trials[2].argv, ["touch", &format!("RAN-{x}")]);
    assert_eq!(plan(&config, 4).unwrap(), first);
    let entries = std::fs::read_dir(s.dir.path()).unwrap().count();
    assert_eq!(entries, 1, "only sweep.toml: nothing ran");

    // With random search, the plan is what the sweep then runs.
    let summary = run_sweep(&config, quiet()).unwrap();
    let ran: Vec<_> = summary.trials().iter().map(|t| t.point.clone()).collect();
    let planned: Vec<_> = first.trials.iter().map(|t| t.point.clone()).collect();
    assert_eq!(ran, planned);
}

#[test]
fn a_missing_program_is_one_error_before_anything_runs() {
    let s = Sweep::new();
    let config = s.load("run = \"no-such-program-hf {x}\"", "max_evals = 3", X);
    let err = run_sweep(&config, quiet()).unwrap_err();
    assert!(matches!(err, SweepError::Command(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("command not found: `no-such-program-hf`"),
        "{text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");

    let config = s.load("run = \"./missing.sh\"", "max_evals = 3", X);
    let err = run_sweep(&config, quiet()).unwrap_err().to_string();
    assert!(err.contains("command not found: `./missing.sh`"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn cancelling_kills_running_trials_and_returns_an_interrupted_summary() {
    let s = Sweep::new();
    // Each trial's child leaves `survived-N` behind if it runs to its end.
    s.file(
        "train.sh",
        "(sleep 30; touch \"survived-$HYPERFLOW_TRIAL\") &\n\
         echo $! > \"child-$HYPERFLOW_TRIAL.pid\"\nwait\necho '{\"loss\": 1}'\n",
    );
    let config = s.load(
        "run = \"sh train.sh\"\nkill_grace = \"1s\"",
        "max_evals = 10\nparallel = 2",
        X,
    );
    let cancel = Cancellation::new();
    let pid_files = [s.path("child-0.pid"), s.path("child-1.pid")];
    let summary = std::thread::scope(|scope| {
        let sweep = scope.spawn(|| run_sweep(&config, quiet().cancellation(cancel.clone())));
        // Cancel once both trials run (or let the sweep end without them, and fail below).
        while !sweep.is_finished() {
            if pid_files
                .iter()
                .all(|p| std::fs::read_to_string(p).is_ok_and(|t| t.trim().parse::<i32>().is_ok()))
            {
                cancel.cancel();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        sweep.join().unwrap().unwrap()
    });
    assert!(summary.is_interrupted());
    assert_eq!(
        summary.trials().len(),
        2,
        "no trial started after the cancel"
    );
    for t in summary.trials() {
        assert_eq!(t.state, TrialState::Killed);
        assert!(
            t.error.as_deref().unwrap().contains("interrupted"),
            "{:?}",
            t.error
        );
    }
    // In memory there is nothing to resume from (a tracked sweep's hint is the command
    // that resumes it: tests/sweep_cli.rs).
    let hint = summary.resume_hint().unwrap();
    assert_eq!(hint, "interrupted after 0 of 10 trials");
    for i in 0..2 {
        let pid = read_pid(&s, &format!("child-{i}.pid"));
        procs::wait_exited(pid);
        assert!(
            !s.path(&format!("survived-{i}")).exists(),
            "trial {i}'s child {pid} survived the cancel and ran to its end"
        );
    }
}

#[test]
fn maximize_ranks_the_highest_first() {
    let s = Sweep::new();
    s.file("train.sh", "echo \"{\\\"loss\\\": $1}\"\n");
    let path = s.config("run = \"sh train.sh {x}\"", "max_evals = 6", X);
    let config = SweepConfig::load_with(
        &path,
        &Overrides::default().set("objective.direction=maximize"),
    )
    .unwrap();
    let summary = run_sweep(&config, quiet()).unwrap();
    let max = summary
        .trials()
        .iter()
        .filter_map(|t| t.loss)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(summary.best().unwrap().loss, Some(max));
}

fn load_error(s: &Sweep, command: &str, search: &str, space: &str) -> String {
    let path = s.config(command, search, space);
    SweepConfig::load(&path).unwrap_err().to_string()
}

fn config_name(s: &Sweep) -> String {
    s.path("sweep.toml").display().to_string()
}

#[test]
fn unknown_placeholder_is_a_located_config_error() {
    let s = Sweep::new();
    let err = load_error(&s, "run = \"sh train.sh {depth}\"", "", X);
    assert!(
        err.starts_with(&format!(
            "{}:5:20: in `command.run`: placeholder `{{depth}}` names no parameter",
            config_name(&s)
        )),
        "{err}"
    );
    assert!(err.contains("expected one of `x`"), "{err}");
    assert!(
        err.contains("5 | run = \"sh train.sh {depth}\"\n  |                    ^"),
        "{err}"
    );
    let err = load_error(&s, "run = \"sh train.sh {xx}\"", "", X);
    assert!(err.contains("did you mean `{x}`?"), "{err}");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let s = Sweep::new();
    let err = load_error(&s, "run = \"true\"\ntimout = \"1s\"", "", X);
    assert!(
        err.starts_with(&format!(
            "{}:6:1: unknown key `timout` in [command]",
            config_name(&s)
        )),
        "{err}"
    );
    assert!(err.contains("did you mean `timeout`?"), "{err}");
}

#[test]
fn wrong_type_is_a_located_config_error() {
    let s = Sweep::new();
    let err = load_error(&s, "run = \"true\"", "max_evals = \"ten\"", X);
    assert!(
        err.starts_with(&format!(
            "{}:13:13: `search.max_evals` must be a positive integer, found string \"ten\"",
            config_name(&s)
        )),
        "{err}"
    );
    let err = load_error(
        &s,
        "run = \"true\"",
        "",
        "x = { kind = \"uniform\", low = 0, hihg = 1 }",
    );
    assert!(err.contains(":16:"), "{err}");
    assert!(err.contains("did you mean `high`?"), "{err}");
}

#[test]
fn a_missing_config_file_is_one_line() {
    let err = SweepConfig::load(Path::new("/nonexistent/sweep.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read the sweep config /nonexistent/sweep.toml"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn one_given_point_runs_as_a_sweep_of_one() {
    let s = Sweep::new();
    s.file("train.sh", "echo \"{\\\"loss\\\": $1}\"\n");
    let path = s.config(
        "run = \"sh train.sh {x} {C?}\"",
        "max_evals = 50",
        "x = { kind = \"uniform\", low = 0, high = 1 }\n\
         model = { kind = \"choice\", options = [{ value = \"svm\", space = { C = { kind = \"uniform\", low = 1, high = 2 } } }, \"tree\"] }\n\
         n = 100",
    );
    let config = SweepConfig::load_with(&path, &Overrides::default().max_evals(1)).unwrap();
    let point = hyperflow::sweep::point_from_assignments(config.space(), &["x=0.25", "model=tree"])
        .unwrap();
    assert_eq!(point.to_string(), r#"{x: 0.25, model: "tree", n: 100}"#);
    let summary = run_sweep(&config, quiet().points_to_evaluate([point.clone()])).unwrap();
    assert_eq!(summary.trials().len(), 1);
    assert_eq!(summary.trials()[0].point, point);
    assert_eq!(summary.trials()[0].loss, Some(0.25));

    let err = hyperflow::sweep::point_from_assignments(config.space(), &["x=0.25", "model=svm"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no value for parameter `C`; add `-P C=...`"),
        "{err}"
    );
    // `C` is inactive under `model=tree`: a value for it would not be used.
    let err = hyperflow::sweep::point_from_assignments(
        config.space(),
        &["x=0.25", "model=tree", "C=1.5"],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "`C=1.5`: parameter `C` is used only when `model` is \"svm\", but \
         `model` is \"tree\"; leave out `-P C=...` or pass `-P model=svm`",
    );
    let err = hyperflow::sweep::point_from_assignments(config.space(), &["x=2", "model=tree"])
        .unwrap_err()
        .to_string();
    // Values are written as a config spells them, never as Rust's Debug (`Float(2.0)`).
    assert!(
        err.contains("parameter `x` = 2 is outside the space: expected a number in [0, 1]"),
        "{err}"
    );
    let err = hyperflow::sweep::point_from_assignments(config.space(), &["model=forest"])
        .unwrap_err()
        .to_string();
    assert!(err.contains(r#"one of ["svm", "tree"]"#), "{err}");
}

#[test]
fn samplers_come_from_the_config() {
    let s = Sweep::new();
    s.file("train.sh", "echo \"{\\\"loss\\\": $1}\"\n");
    let path = s.config(
        "run = \"sh train.sh {x}\"",
        "max_evals = 12\nparallel = 2",
        X,
    );
    let tpe = SweepConfig::load_with(&path, &Overrides::default().set("search.algo=tpe")).unwrap();
    let summary = run_sweep(&tpe, quiet()).unwrap();
    assert_eq!(summary.ranked().len(), 12);

    // A grid needs a space it can enumerate.
    let grid =
        SweepConfig::load_with(&path, &Overrides::default().set("search.algo=grid")).unwrap();
    let err = run_sweep(&grid, quiet()).unwrap_err();
    assert!(matches!(err, SweepError::Algo(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("search.algo: grid search"),
        "{err}"
    );

    let path = s.config(
        "run = \"sh train.sh {n}\"",
        "",
        "n = { kind = \"randint\", low = 0, high = 3 }",
    );
    let grid = SweepConfig::load_with(&path, &Overrides::default().set("search.algo=grid"));
    let plan = plan(&grid.unwrap(), 10).unwrap();
    let ns: Vec<i64> = plan
        .trials
        .iter()
        .map(|t| t.point.get("n").unwrap())
        .collect();
    let mut sorted = ns.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [0, 1, 2],
        "a grid plan stops when every point is planned: {ns:?}"
    );
}

#[test]
fn a_last_line_without_newline_still_counts() {
    let s = Sweep::new();
    s.file(
        "train.sh",
        "printf 'hyperflow: metric=loss value=0.5 step=1\\n{\"loss\": 0.25}'\n",
    );
    let config = s.load("run = \"sh train.sh\"", "max_evals = 1", X);
    let summary = run_sweep(&config, quiet()).unwrap();
    assert_eq!(
        summary.trials()[0].loss,
        Some(0.25),
        "{:?}",
        summary.trials()[0].error
    );
}

/// Trial 0 prints its metric only; trial 1 prints a line, 3 MB, its metric and a warning;
/// trial 2 fails with a message on stderr.
const KEEP_OUTPUT: &str = r#"case "$HYPERFLOW_TRIAL" in
  0) echo 'hyperflow: metric=loss value=1' ;;
  1) echo 'epoch 1'; head -c 3000000 /dev/zero | tr '\0' a; echo; echo 'the end'
     echo '{"loss": 2}'; echo 'warning' >&2 ;;
  *) echo 'broken' >&2; exit 3 ;;
esac
"#;

/// Runs the [`KEEP_OUTPUT`] trials with `[command] keep_output` set to `keep` (or left
/// out), and returns, per trial, the output artifacts its run has.
fn kept_output(keep: Option<&str>) -> (Vec<Vec<&'static str>>, Vec<u8>) {
    let s = Sweep::new();
    s.file("keep.sh", KEEP_OUTPUT);
    let setting = keep.map_or_else(String::new, |k| format!("\nkeep_output = \"{k}\""));
    let config = s.load(
        &format!("run = \"sh keep.sh\"{setting}"),
        "max_evals = 3",
        X,
    );
    let uri = format!("sqlite:///{}", s.path("runs.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    let done = run_tracked(&config, &tracker, quiet().tracking_uri(uri), None).unwrap();
    assert_eq!(done.summary.failed().count(), 1);
    let study = hyperflow::Study::load(&tracker, &done.run_id).unwrap();
    let mut chatty = Vec::new();
    let kept = (0..3)
        .map(|n| {
            let repo = tracker.artifacts(&study.run_id(n).unwrap()).unwrap();
            ["stdout.txt", "stderr.txt"]
                .into_iter()
                .filter(|name| match repo.read_bytes(name) {
                    Ok(bytes) => {
                        if n == 1 && *name == "stdout.txt" {
                            chatty = bytes;
                        }
                        true
                    }
                    Err(_) => false,
                })
                .collect()
        })
        .collect();
    (kept, chatty)
}

#[test]
fn output_worth_keeping_is_kept_bounded_by_default() {
    let (kept, stdout) = kept_output(None);
    assert_eq!(
        kept,
        [vec![], vec!["stdout.txt", "stderr.txt"], vec!["stderr.txt"]],
        "metrics alone, and empty streams, leave no file"
    );
    let text = String::from_utf8_lossy(&stdout);
    assert!(
        stdout.len() < (1 << 20) + (64 << 10) + 100,
        "{}",
        stdout.len()
    );
    assert!(text.starts_with("epoch 1\naaa"), "the head is kept");
    assert!(text.contains("bytes ...]"), "the cut is marked");
    assert!(
        text.ends_with("the end\n{\"loss\": 2}\n"),
        "the tail is kept"
    );
    assert_eq!(kept_output(Some("all")).0, kept, "`all` is the default");
}

#[test]
fn keep_output_failures_and_none() {
    assert_eq!(
        kept_output(Some("failures")).0,
        [vec![], vec![], vec!["stderr.txt"]]
    );
    assert_eq!(
        kept_output(Some("none")).0,
        [Vec::<&str>::new(), vec![], vec![]]
    );
}
