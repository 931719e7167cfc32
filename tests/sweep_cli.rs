//! `hyperflow sweep` and `hyperflow run` end to end: the built binary, real processes, a
//! temporary SQLite store.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

#[cfg(target_os = "linux")]
#[path = "common/procs.rs"]
mod procs;

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

/// A temporary directory with a config, scripts and a store.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Dir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn uri(&self) -> String {
        format!("sqlite:///{}", self.path("runs.db").display())
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// `sweep.toml` running `command`, with `search` lines and an `x` in [0, 1].
    fn config(&self, command: &str, search: &str) -> PathBuf {
        self.file(
            "sweep.toml",
            &format!(
                "[experiment]\nname = \"cli-test\"\n\n[command]\nrun = \"{command}\"\n\n\
                 [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"random\"\nseed = 7\n{search}\n\n\
                 [space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
            ),
        )
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path())
            .env_remove("HYPERFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI")
            .arg("--tracking-uri")
            .arg(self.uri())
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run hyperflow")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hyperflow")
    }

    /// Every run of the store, as `runs list --format json` prints them.
    fn runs(&self) -> Vec<BTreeMap<String, Value>> {
        let out = self.run(&["runs", "list", "--format", "json", "--max-results", "1000"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("runs list prints JSON")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn field<'a>(run: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    run.get(key).and_then(Value::as_str)
}

fn role<'a>(runs: &'a [BTreeMap<String, Value>], role: &str) -> Vec<&'a BTreeMap<String, Value>> {
    runs.iter()
        .filter(|r| field(r, "tags.hyperflow.role") == Some(role))
        .collect()
}

/// A script that prints a step metric and its loss (x), and fails when x > 0.6.
const TRAIN: &str = "echo \"hyperflow: metric=progress value=0.5 step=1\"\n\
                     if awk \"BEGIN { exit !($1 > 0.6) }\"; then echo boom >&2; exit 3; fi\n\
                     echo \"{\\\"loss\\\": $1, \\\"acc\\\": 0.5}\"\n";

#[test]
fn sweep_logs_parent_and_children() {
    let d = Dir::new();
    d.file("train.sh", TRAIN);
    let config = d.config("sh train.sh {x}", "max_evals = 6\nparallel = 2");
    let out = d.run(&["sweep", config.to_str().unwrap(), "--no-progress"]);
    let stdout = ok(&out);
    assert!(stdout.contains("best trials of `cli-test`"), "{stdout}");
    assert!(stdout.contains("runs stored in sqlite:///"), "{stdout}");
    assert!(
        stdout.contains("hyperflow runs list --experiment cli-test"),
        "{stdout}"
    );

    let runs = d.runs();
    let parents = role(&runs, "search");
    assert_eq!(parents.len(), 1);
    let parent = parents[0];
    assert_eq!(field(parent, "status"), Some("FINISHED"));
    assert_eq!(field(parent, "params.command.run"), Some("sh train.sh {x}"));
    assert_eq!(field(parent, "params.objective.metric"), Some("loss"));
    assert!(parent.contains_key("metrics.best_loss"));
    let parent_id = field(parent, "run_id").unwrap();
    let children = role(&runs, "trial");
    assert_eq!(children.len(), 6);
    for child in &children {
        assert_eq!(field(child, "tags.mlflow.parentRunId"), Some(parent_id));
        let status = field(child, "status").unwrap();
        let x: f64 = field(child, "params.x").unwrap().parse().unwrap();
        if status == "FINISHED" {
            let loss = child["metrics.loss"].as_f64().unwrap();
            assert!((loss - x).abs() < 1e-12);
            assert_eq!(child["metrics.acc"].as_f64(), Some(0.5));
            assert_eq!(child["metrics.progress"].as_f64(), Some(0.5));
        } else {
            assert_eq!(status, "FAILED");
            let error = field(child, "tags.hyperflow.error").unwrap();
            assert!(
                error.contains("status 3") && error.contains("boom"),
                "{error}"
            );
        }
        // stdout and stderr are artifacts of the child when worth keeping: a failed
        // trial's output is; a finished one printed only stored metrics, and no stderr.
        let run_id = field(child, "run_id").unwrap();
        let artifacts = d
            .path("hyperflow-artifacts")
            .join("1")
            .join(run_id)
            .join("artifacts");
        let failed = status == "FAILED";
        for name in ["stdout.txt", "stderr.txt"] {
            assert_eq!(
                artifacts.join(name).is_file(),
                failed,
                "{name} of a {status} trial in {}",
                artifacts.display()
            );
        }
    }
    // The config itself is an artifact of the parent.
    let artifacts = d
        .path("hyperflow-artifacts")
        .join("1")
        .join(parent_id)
        .join("artifacts");
    assert!(artifacts.join("sweep.toml").is_file());
}

#[test]
fn trials_get_their_run_and_store() {
    let d = Dir::new();
    d.file(
        "env.sh",
        "echo \"$HYPERFLOW_RUN_ID $HYPERFLOW_TRACKING_URI $HYPERFLOW_TRIAL $MLFLOW_TRACKING_URI $MLFLOW_RUN_ID\" >> seen.txt\n\
         echo '{\"loss\": 1}'\n",
    );
    let config = d.config("sh env.sh", "max_evals = 2\nparallel = 1");
    ok(&d.run(&["sweep", config.to_str().unwrap(), "--no-progress"]));
    let seen = std::fs::read_to_string(d.path("seen.txt")).unwrap();
    let runs = d.runs();
    for line in seen.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        assert!(parts[1].starts_with("sqlite:////"), "absolute URI: {line}");
        let run = runs
            .iter()
            .find(|r| field(r, "run_id") == Some(parts[0]))
            .expect("the trial's run id names its run");
        assert_eq!(field(run, "tags.hyperflow.trial"), Some(parts[2]));
        // MLflow's client gets the store served on a loopback port (feature `server`).
        if cfg!(feature = "server") {
            assert!(parts[3].starts_with("http://127.0.0.1:"), "{line}");
            assert_eq!(parts[4], parts[0]);
        } else {
            assert_eq!(parts[3..], ["", ""], "{line}");
        }
    }
}

#[test]
fn dry_run_writes_nothing() {
    let d = Dir::new();
    d.file("train.sh", TRAIN);
    let config = d.config("sh train.sh {x}", "max_evals = 3");
    let stdout = ok(&d.run(&["sweep", config.to_str().unwrap(), "--dry-run"]));
    assert!(stdout.contains("trial   2"), "{stdout}");
    assert!(stdout.contains("sh train.sh 0."), "{stdout}");
    assert!(
        !d.path("runs.db").exists(),
        "a dry run must not create the store"
    );
}

#[test]
fn keep_output_is_set_on_the_command_line_and_checked() {
    let d = Dir::new();
    d.file("train.sh", TRAIN);
    let config = d.config("sh train.sh {x}", "max_evals = 1");
    let config = config.to_str().unwrap();
    let stdout = ok(&d.run(&["sweep", config, "--dry-run"]));
    assert!(stdout.contains("output kept: all"), "the default: {stdout}");
    let set = ["sweep", config, "--dry-run", "--set"];
    let stdout = ok(&d.run(&[&set[..], &["command.keep_output=none"]].concat()));
    assert!(stdout.contains("output kept: none"), "{stdout}");
    let out = d.run(&[&set[..], &["command.keep_output=failure"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("command.keep_output")
            && stderr.contains("one of `all`, `failures`, `none`")
            && stderr.contains("did you mean `failures`?"),
        "{stderr}"
    );
}

#[test]
fn run_with_given_values() {
    let d = Dir::new();
    d.file("train.sh", TRAIN);
    let config = d.config("sh train.sh {x}", "max_evals = 50");
    let stdout = ok(&d.run(&[
        "run",
        config.to_str().unwrap(),
        "-P",
        "x=0.25",
        "--no-progress",
    ]));
    assert!(stdout.contains("0.25"), "{stdout}");
    let runs = d.runs();
    assert_eq!(runs.len(), 1, "one run, no parent");
    let run = &runs[0];
    assert_eq!(field(run, "tags.hyperflow.role"), Some("run"));
    assert_eq!(field(run, "params.x"), Some("0.25"));
    assert_eq!(run["metrics.loss"].as_f64(), Some(0.25));
    assert_eq!(field(run, "status"), Some("FINISHED"));

    let out = d.run(&["run", config.to_str().unwrap(), "-P", "y=1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("did you mean `x`?"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_refuses_a_value_for_an_inactive_parameter() {
    let d = Dir::new();
    d.file("train.sh", TRAIN);
    let config = d.config("sh train.sh {x} {C?}", "max_evals = 5");
    let toml = std::fs::read_to_string(&config).unwrap()
        + "model = { kind = \"choice\", options = [{ value = \"svm\", space = { C = { kind = \"uniform\", low = 1, high = 2 } } }, \"tree\"] }\n";
    std::fs::write(&config, toml).unwrap();
    let config = config.to_str().unwrap();
    let out = d.run(&[
        "run",
        config,
        "-P",
        "x=0.2",
        "-P",
        "model=tree",
        "-P",
        "C=1.5",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr),
        "error: `C=1.5`: parameter `C` is used only when `model` is \"svm\", but `model` is \
         \"tree\"; leave out `-P C=...` or pass `-P model=svm`\n"
    );
    assert!(!d.path("runs.db").exists(), "nothing is stored");
    // Values in messages are written as a config spells them, not as Rust's Debug.
    let out = d.run(&["run", config, "-P", "x=5", "-P", "model=tree"]);
    assert_eq!(
        text(&out.stderr),
        "error: parameter `x` = 5 is outside the space: expected a number in [0, 1]\n"
    );
    let out = d.run(&["run", config, "-P", "x=0.2", "-P", "model=forest"]);
    assert_eq!(
        text(&out.stderr),
        "error: `model=forest`: expected one of [\"svm\", \"tree\"]\n"
    );
    ok(&d.run(&[
        "run",
        config,
        "-P",
        "x=0.2",
        "-P",
        "model=svm",
        "-P",
        "C=1.5",
        "--no-progress",
    ]));
}

#[test]
fn a_misspelt_objective_stops_the_sweep_after_the_first_trial() {
    let d = Dir::new();
    d.file(
        "train.sh",
        "echo \"{\\\"loss\\\": $1, \\\"acc\\\": 0.5}\"\n",
    );
    let config = d.config("sh train.sh {x}", "max_evals = 6");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        toml.replace("metric = \"loss\"", "metric = \"los\""),
    )
    .unwrap();
    let out = d.run(&["sweep", config.to_str().unwrap(), "--no-progress"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: trial 0, the first to exit 0, printed the metrics loss, acc but not the \
             objective metric `los` (did you mean `loss`?); the sweep stopped."
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("continue with"),
        "nothing to resume: {stderr}"
    );
    let runs = d.runs();
    assert_eq!(role(&runs, "trial").len(), 1, "one trial ran: {runs:?}");
}

#[test]
fn bad_config_is_one_located_error() {
    let d = Dir::new();
    let config = d.file(
        "sweep.toml",
        "[experiment]\nname = \"t\"\n[command]\nrun = \"true\"\n[objective]\nmetric = \"loss\"\n\
         [search]\nmax_eval = 3\n[space]\nx = { kind = \"uniform\", low = 0, high = 1 }\n",
    );
    let out = d.run(&["sweep", config.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(matches!(out.status.code(), Some(1 | 2)));
    let stderr = text(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.contains("sweep.toml:8:1:"), "{stderr}");
    assert!(first.contains("did you mean `max_evals`?"), "{stderr}");
    assert!(!d.path("runs.db").exists());

    let out = d.run(&["sweep", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn missing_program_fails_before_any_run() {
    let d = Dir::new();
    let config = d.config("no-such-program-xyz {x}", "max_evals = 3");
    let out = d.run(&["sweep", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("command not found"), "{stderr}");
    assert!(!d.path("runs.db").exists(), "nothing may be written");

    // An unwritable store: one line, no runs.
    let config = d.config("true", "max_evals = 1");
    let out = Command::new(BIN)
        .current_dir(d.dir.path())
        .args([
            "--tracking-uri",
            "sqlite:////nonexistent-dir/x/runs.db",
            "sweep",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
}

/// A sleeping trial that records itself in `done.txt` when it completes.
const SLOW: &str =
    "sleep 0.4\necho \"$HYPERFLOW_TRIAL $1\" >> done.txt\necho \"{\\\"loss\\\": $1}\"\n";

fn done_lines(d: &Dir) -> Vec<(usize, String)> {
    std::fs::read_to_string(d.path("done.txt"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (n, x) = l.split_once(' ').unwrap();
            (n.parse().unwrap(), x.to_string())
        })
        .collect()
}

/// After an interrupted sweep was resumed: every counted trial ran once, none twice, the
/// total is `max_evals`, and the store agrees with what the scripts recorded.
fn check_resumed(d: &Dir, max_evals: usize) {
    let runs = d.runs();
    let parents = role(&runs, "search");
    assert_eq!(parents.len(), 1, "resume reuses the parent");
    assert_eq!(field(parents[0], "status"), Some("FINISHED"));
    let children = role(&runs, "trial");
    let counted: Vec<_> = children
        .iter()
        .filter(|c| matches!(field(c, "status"), Some("FINISHED" | "FAILED")))
        .collect();
    assert_eq!(counted.len(), max_evals, "the total stays max_evals");
    assert!(
        children
            .iter()
            .all(|c| matches!(field(c, "status"), Some("FINISHED" | "FAILED" | "KILLED"))),
        "nothing left RUNNING"
    );
    let numbers: BTreeSet<&str> = children
        .iter()
        .map(|c| field(c, "tags.hyperflow.trial").unwrap())
        .collect();
    assert_eq!(
        numbers.len(),
        children.len(),
        "trial numbers are not reused"
    );
    let done = done_lines(d);
    let done_numbers: BTreeSet<usize> = done.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        done_numbers.len(),
        done.len(),
        "no trial ran twice: {done:?}"
    );
    for c in &counted {
        let n: usize = field(c, "tags.hyperflow.trial").unwrap().parse().unwrap();
        let (_, x) = done
            .iter()
            .find(|(m, _)| *m == n)
            .unwrap_or_else(|| panic!("finished trial {n} is not in done.txt"));
        assert_eq!(field(c, "params.x"), Some(x.as_str()));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn resume_after_sigkill() {
    let d = Dir::new();
    d.file("slow.sh", SLOW);
    let config = d.config("sh slow.sh {x}", "max_evals = 10\nparallel = 2");
    let config = config.to_str().unwrap();
    let mut child = d.spawn(&["sweep", config, "--no-progress"]);
    procs::wait_while_running(&mut child, "three trials finished", || {
        done_lines(&d).len() >= 3
    });
    child.kill().expect("SIGKILL hyperflow");
    child.wait().unwrap();
    let runs = d.runs();
    assert_eq!(field(role(&runs, "search")[0], "status"), Some("RUNNING"));

    let stdout = ok(&d.run(&["sweep", config, "--resume", "--no-progress"]));
    assert!(stdout.contains("resumed:"), "{stdout}");
    check_resumed(&d, 10);
    // A finished sweep resumed again runs nothing more.
    let before = done_lines(&d).len();
    ok(&d.run(&["sweep", config, "--resume", "--no-progress"]));
    assert_eq!(done_lines(&d).len(), before);
    check_resumed(&d, 10);
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_marks_parent_killed_and_resume_finishes() {
    let d = Dir::new();
    d.file("slow.sh", SLOW);
    let config = d.config("sh slow.sh {x}", "max_evals = 8\nparallel = 2");
    let config = config.to_str().unwrap();
    let overrides = ["--max-evals", "6", "--set", "pruner.kind=median"];
    let mut child = d
        .command(&[&["sweep", config, "--no-progress"][..], &overrides].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    procs::wait_while_running(&mut child, "a trial finished", || {
        !done_lines(&d).is_empty()
    });
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT hyperflow");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let runs = d.runs();
    let parent = role(&runs, "search")[0];
    assert_eq!(field(parent, "status"), Some("KILLED"));
    assert!(
        role(&runs, "trial")
            .iter()
            .all(|c| field(c, "status") != Some("RUNNING"))
    );
    // The printed command goes on with the store and the overrides the sweep ran with.
    let resume = stdout
        .split_once("continue with `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(command, _)| command)
        .unwrap_or_else(|| panic!("a resume command: {stdout}"));
    let id = field(parent, "run_id").unwrap();
    assert!(
        resume.ends_with(&format!(
            "--resume {id} --set pruner.kind=median --max-evals 6"
        )) && resume.contains(&format!("--tracking-uri {}", d.uri())),
        "{resume}"
    );
    // Without its pruner the sweep is not resumed, and nothing is changed.
    let other = d.run(&["sweep", config, "--resume", "--no-progress"]);
    assert!(
        text(&other.stderr).contains(&format!(
            "run {id} ran with pruner `median`, the config gives `none`"
        )),
        "{}",
        text(&other.stderr)
    );
    assert_eq!(d.runs(), runs);

    let command = resume.replacen("hyperflow", BIN, 1);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} --no-progress"))
        .current_dir(d.dir.path())
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    ok(&out);
    check_resumed(&d, 6);
}

/// A trial that, until the file `resumed` exists, leaves three processes behind and
/// waits for ever: a `sleep` in its process group, one with an empty environment in its
/// group, and a `python3` in a session of its own (each writes its pid into `NAME.pid`).
/// Once `resumed` exists, it records which of them still run (`check.py`) and succeeds.
const LEAVES_PROCESSES: &str = r#"if [ -e resumed ]; then
  python3 check.py > "check-$HYPERFLOW_TRIAL.txt"
  echo '{"loss": 1}'
  exit 0
fi
sleep 300 &
echo $! > group.pid
env -i "$(command -v sleep)" 300 &
echo $! > noenv.pid
python3 -c '
import os, time
os.setsid()
with open("session.tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename("session.tmp", "session.pid")
time.sleep(300)
' &
wait
"#;

/// Prints `NAME running` or `NAME gone` for each process `LEAVES_PROCESSES` left.
const CHECK_LEFTOVERS: &str = r#"
def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X", "x")

for name in ("group", "noenv", "session"):
    with open(f"{name}.pid") as f:
        pid = int(f.read())
    print(name, "running" if running(pid) else "gone")
"#;

/// A sweep killed outright cannot stop what its trials started: `sh trial.sh` dies with
/// it, what the script started runs on. Resuming ends those leftovers (found by the
/// killed trial's run id, in the environment and in the trial's process group) before any
/// new trial starts.
#[cfg(target_os = "linux")]
#[test]
fn resume_ends_what_killed_trials_left_running_before_new_trials() {
    let d = Dir::new();
    d.file("trial.sh", LEAVES_PROCESSES);
    d.file("check.py", CHECK_LEFTOVERS);
    let config = d.config("sh trial.sh", "max_evals = 2\nparallel = 1");
    let config = config.to_str().unwrap();
    let mut sweep = d.spawn(&["sweep", config, "--no-progress"]);
    let names = ["group", "noenv", "session"];
    let pids: Vec<i32> = names
        .iter()
        .map(|name| procs::wait_for_pid(&mut sweep, &d.path(&format!("{name}.pid"))))
        .collect();
    let _cleanup = procs::KillOnDrop(pids.clone());
    sweep.kill().expect("SIGKILL hyperflow");
    sweep.wait().unwrap();
    for (name, &pid) in names.iter().zip(&pids) {
        assert!(
            procs::is_running(pid),
            "the `{name}` process {pid} was expected to outlive the killed sweep"
        );
    }

    d.file("resumed", "");
    let stdout = ok(&d.run(&["sweep", config, "--resume", "--no-progress"]));
    assert!(stdout.contains("resumed:"), "{stdout}");
    let runs = d.runs();
    let mut trials: Vec<(String, String)> = role(&runs, "trial")
        .iter()
        .map(|r| {
            let number = field(r, "tags.hyperflow.trial").unwrap().to_string();
            (number, field(r, "status").unwrap().to_string())
        })
        .collect();
    trials.sort();
    assert_eq!(
        trials,
        [("0", "KILLED"), ("1", "FINISHED"), ("2", "FINISHED")]
            .map(|(n, s)| (n.to_string(), s.to_string())),
    );
    for number in [1, 2] {
        let seen = std::fs::read_to_string(d.path(&format!("check-{number}.txt"))).unwrap();
        assert_eq!(
            seen, "group gone\nnoenv gone\nsession gone\n",
            "what trial {number} found still running when it started"
        );
    }
}

/// A sweep killed outright (SIGKILL) takes its running trials with it: each trial's main
/// process is killed by the sweep's watchdog, so none runs on to finish a trial that a
/// resume will run again.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_sweep_kills_its_running_trials() {
    let d = Dir::new();
    d.file(
        "trial.sh",
        "echo $$ > \"main-$HYPERFLOW_TRIAL.pid\"\nsleep 20\necho done > \"finished-$HYPERFLOW_TRIAL\"\n",
    );
    let config = d.config("sh trial.sh", "max_evals = 2\nparallel = 2");
    let mut sweep = d.spawn(&["sweep", config.to_str().unwrap(), "--no-progress"]);
    let pids: Vec<i32> = (0..2)
        .map(|n| procs::wait_for_pid(&mut sweep, &d.path(&format!("main-{n}.pid"))))
        .collect();
    let _cleanup = procs::KillOnDrop(pids.clone());
    sweep.kill().expect("SIGKILL hyperflow");
    sweep.wait().unwrap();
    for (n, &pid) in pids.iter().enumerate() {
        procs::wait_exited(pid);
        assert!(
            !d.path(&format!("finished-{n}")).exists(),
            "trial {n} ran on to the end after the sweep was killed"
        );
    }
}

#[test]
fn resume_without_earlier_sweep_is_an_error() {
    let d = Dir::new();
    let config = d.config("true", "max_evals = 1");
    let out = d.run(&["sweep", config.to_str().unwrap(), "--resume"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing to resume"),
        "{}",
        text(&out.stderr)
    );
}

/// A sweep whose store fills its disk stops with an error that names the store and the
/// command that resumes it; that command, once there is room again, finishes the sweep
/// with a trial that was in flight marked KILLED. The disk is a small tmpfs mounted in a
/// user and mount namespace of its own (`unshare -rm`), so no privilege is needed.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_stops_the_sweep_with_the_way_to_resume_it() {
    let available = Command::new("unshare")
        .args(["-rm", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
            "unshare -rm is not available, and HYPERFLOW_REQUIRE_EXTERNAL is set"
        );
        eprintln!("SKIPPED a_full_disk_stops_the_sweep: `unshare -rm` is not available here");
        return;
    }
    let d = Dir::new();
    // Each trial leaves 200 kB of stdout as an artifact next to the store: a 1.5 MB disk
    // fills after a few trials.
    d.file(
        "trial.py",
        "import sys\nprint('x' * 200000)\nprint('{\"loss\": %s}' % sys.argv[1])\n",
    );
    d.config("python3 trial.py {x}", "max_evals = 30");
    let disk = d.path("disk");
    std::fs::create_dir(&disk).unwrap();
    let script = d.file(
        "full.sh",
        &format!(
            "set -u\nexport PATH=\"{bin_dir}:$PATH\"\n\
             mount -t tmpfs -o size=1500k tmpfs {disk}\ncp sweep.toml trial.py {disk}/\ncd {disk}\n\
             {BIN} --tracking-uri sqlite:///runs.db sweep sweep.toml --no-progress > /dev/null 2> ../first.err\n\
             echo \"first=$?\"\ncat ../first.err\nmount -o remount,size=20m {disk}\n\
             resume=$(sed -n 's/.*continue with: //p' ../first.err)\necho \"resume=$resume\"\n\
             eval \"$resume --no-progress\" > /dev/null 2> ../second.err\necho \"second=$?\"\ncat ../second.err\n\
             {BIN} --tracking-uri sqlite:///runs.db runs list --experiment cli-test --format json --max-results 100\n",
            disk = disk.display(),
            bin_dir = PathBuf::from(BIN).parent().expect("in a folder").display(),
        ),
    );
    let out = Command::new("unshare")
        .arg("-rm")
        .arg("sh")
        .arg(&script)
        .current_dir(d.dir.path())
        .env_remove("HYPERFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .expect("unshare runs");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("first=1"), "{stdout}");
    assert!(stdout.contains("is full"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "trials that finished are in sqlite:///{}/runs.db",
            disk.display()
        )),
        "the store is named: {stdout}"
    );
    assert!(
        stdout.contains(
            "resume=hyperflow --tracking-uri sqlite:///runs.db sweep sweep.toml --resume "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("second=0"),
        "the resume command works: {stdout}"
    );
    let json = &stdout[stdout.find('[').expect("runs listed")..];
    let runs: Vec<BTreeMap<String, Value>> = serde_json::from_str(json).expect("runs as JSON");
    let children = role(&runs, "trial");
    let finished = children
        .iter()
        .filter(|c| field(c, "status") == Some("FINISHED"))
        .count();
    let killed = children
        .iter()
        .filter(|c| field(c, "status") == Some("KILLED"))
        .count();
    let others: Vec<String> = children
        .iter()
        .filter(|c| field(c, "status") != Some("FINISHED"))
        .map(|c| {
            format!(
                "trial {:?} {:?}: {:?}",
                field(c, "tags.hyperflow.trial"),
                field(c, "status"),
                field(c, "tags.hyperflow.error")
            )
        })
        .collect();
    assert_eq!(
        finished, 30,
        "the resumed sweep completes the budget; the others: {others:?}\n{stdout}"
    );
    // The disk fills at whichever store write comes first once artifacts no longer fit
    // (their failures are warnings): creating the next trial's run (nothing in flight) or
    // finishing the current trial. That depends on SQLite's page and WAL layout, and so
    // does whether the trial's result was written before its run's status: if so it is
    // complete (the resumed sweep ends its run FINISHED), else it is killed. Either way
    // nothing is left running.
    let in_flight = usize::from(!stdout.contains("creating the run of trial"));
    assert!(
        killed <= in_flight,
        "only the trial in flight when the disk filled, if any, is killed: {stdout}"
    );
    assert_eq!(
        children.len(),
        finished + killed,
        "no run is left running: {others:?}"
    );
    assert_eq!(field(role(&runs, "search")[0], "status"), Some("FINISHED"));
}

/// Runs `hyperflow sweep config` to its end and returns whether it succeeded and what it
/// printed, failing the test if it has not ended after two minutes (a pruned trial that
/// is never killed would hold it forever).
fn sweep_within(d: &Dir, config: &std::path::Path) -> (bool, String) {
    let mut child = d
        .command(&["sweep", config.to_str().unwrap(), "--no-progress"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn hyperflow");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            return (out.status.success(), text(&out.stdout));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the sweep did not end: a pruned trial was not stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A learning curve per trial: 12 epochs of `(x - 0.3)² + e^(-t/3)`, reported as
/// `hyperflow:` lines, or as JSON lines with a step when the second argument is `json`.
const CURVE: &str = "import math, sys, time\n\
x = float(sys.argv[1])\n\
for t in range(12):\n    \
    v = (x - 0.3) ** 2 + math.exp(-t / 3)\n    \
    if sys.argv[2:] == ['json']:\n        \
        print('{\"step\": %d, \"loss\": %r}' % (t, v), flush=True)\n    \
    else:\n        \
        print('hyperflow: metric=loss value=%r step=%d' % (v, t), flush=True)\n    \
    time.sleep(0.02)\n";

#[test]
fn a_pruned_sweep_stops_trials_and_records_them_pruned() {
    for format in ["lines", "json"] {
        let d = Dir::new();
        d.file("curve.py", CURVE);
        let config = d.config(
            &format!("python3 curve.py {{x}} {format}"),
            "max_evals = 12\nparallel = 1\n\n[pruner]\nkind = \"median\"\nstartup_trials = 2",
        );
        let (ok, stdout) = sweep_within(&d, &config);
        assert!(ok, "{stdout}");
        assert!(
            stdout.contains(" pruned, "),
            "the summary counts them: {stdout}"
        );
        let runs = d.runs();
        let children = role(&runs, "trial");
        assert_eq!(children.len(), 12, "{format}");
        let pruned: Vec<_> = children
            .iter()
            .filter(|c| field(c, "tags.hyperflow.state") == Some("PRUNED"))
            .collect();
        assert!(pruned.len() >= 3, "{format}: {} pruned", pruned.len());
        // The parent records the pruner, the settings written and the grace.
        let parent = role(&runs, "search")[0];
        assert_eq!(field(parent, "params.pruner"), Some("median"));
        assert_eq!(field(parent, "params.pruner.startup_trials"), Some("2"));
        assert_eq!(field(parent, "params.pruner.grace"), Some("5.0s"));
        let tracker = hyperflow::tracking::Tracker::open(&d.uri()).expect("store");
        for child in &pruned {
            let run_id = field(child, "run_id").unwrap();
            let history = tracker.get_metric_history(run_id, "loss").expect("history");
            // Stopped early: fewer epochs than a full curve, the last one its value.
            assert!(history.len() < 12, "{format}: {} epochs", history.len());
            let last = history.iter().max_by_key(|m| m.step).expect("reported");
            assert_eq!(child["metrics.loss"].as_f64(), Some(last.value));
            assert!(
                field(child, "tags.hyperflow.error").is_some_and(|e| e.contains("pruned at step")),
                "{child:?}"
            );
        }
    }
}

#[test]
fn a_pruned_trial_that_ignores_sigterm_is_killed_after_the_grace() {
    let d = Dir::new();
    d.file(
        "stubborn.sh",
        "trap '' TERM\ni=0\nwhile true; do\n  echo \"hyperflow: metric=loss value=5 step=$i\"\n  \
         i=$((i+1))\n  sleep 0.05\ndone\n",
    );
    let config = d.config(
        "sh stubborn.sh",
        "max_evals = 2\nparallel = 1\n\n[pruner]\nkind = \"threshold\"\nupper = 1.0\ngrace = \"300ms\"",
    );
    let (ok, stdout) = sweep_within(&d, &config);
    assert!(!ok, "no trial completed: {stdout}");
    assert!(
        stdout.contains("2 trials: 0 complete, 2 pruned"),
        "{stdout}"
    );
    assert!(
        stdout.contains("no trial completed; the pruner stopped every one (2)"),
        "{stdout}"
    );
    let runs = d.runs();
    let children = role(&runs, "trial");
    assert_eq!(children.len(), 2);
    let tracker = hyperflow::tracking::Tracker::open(&d.uri()).expect("store");
    for child in children {
        assert_eq!(field(child, "tags.hyperflow.state"), Some("PRUNED"));
        assert_eq!(child["metrics.loss"].as_f64(), Some(5.0));
        // It stays as the pruner judged it: what it printed while ignoring SIGTERM is
        // not its history.
        assert_eq!(
            field(child, "tags.hyperflow.error"),
            Some("pruned at step 0 (value 5.0)")
        );
        let run_id = field(child, "run_id").unwrap();
        let history = tracker.get_metric_history(run_id, "loss").expect("history");
        let steps: Vec<i64> = history.iter().map(|m| m.step).collect();
        assert_eq!(steps, [0], "{history:?}");
    }
}

#[test]
fn a_pruned_sweep_whose_program_prints_no_steps_of_its_metric_is_warned_once() {
    let d = Dir::new();
    d.file(
        "other.py",
        "print('hyperflow: metric=train_loss value=1.0 step=0')\n\
         print('{\"step\": 1.5, \"loss\": 0.5}')\n\
         print('{\"loss\": 0.5}')\n",
    );
    let config = d.config(
        "python3 other.py",
        "max_evals = 3\nparallel = 1\n\n[pruner]\nkind = \"median\"",
    );
    let out = d.run(&["sweep", config.to_str().unwrap(), "--no-progress"]);
    ok(&out);
    let stderr = text(&out.stderr);
    let no_steps = "warning: trial 0 printed no value of `loss` at a step, so the pruner had \
                    nothing to judge it by (it printed steps of: train_loss)";
    let unreadable = "warning: trial 0: unreadable metric line: \"step\": 1.5 is not an integer";
    for expected in [no_steps, unreadable] {
        assert_eq!(stderr.matches(expected).count(), 1, "{stderr}");
    }
    assert_eq!(stderr.matches("warning: ").count(), 2, "{stderr}");
}

/// Trials 0-3 report 1.0 at every step, later ones 5.0 (each number once, in
/// `started.txt`): with the median pruner, every trial after the first four is stopped at
/// its first report, but only by a pruner that knows the first four.
const GOOD_THEN_BAD: &str = "echo \"$HYPERFLOW_TRIAL\" >> started.txt\n\
if [ \"$HYPERFLOW_TRIAL\" -lt 4 ]; then v=1; else v=5; fi\n\
for s in 0 1 2 3 4; do echo \"hyperflow: metric=loss value=$v step=$s\"; sleep 0.1; done\n\
echo \"hyperflow: metric=loss value=$v\"\n";

#[cfg(target_os = "linux")]
#[test]
fn a_sweep_killed_while_pruning_resumes_with_its_decisions_and_values() {
    let d = Dir::new();
    d.file("curve.sh", GOOD_THEN_BAD);
    let config = d.config(
        "sh curve.sh {x}",
        "max_evals = 12\nparallel = 1\n\n[pruner]\nkind = \"median\"\nstartup_trials = 2",
    );
    let config = config.to_str().unwrap();
    let started = || {
        std::fs::read_to_string(d.path("started.txt"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let mut child = d.spawn(&["sweep", config, "--no-progress"]);
    procs::wait_while_running(&mut child, "seven trials started", || started() >= 7);
    child.kill().expect("SIGKILL hyperflow");
    child.wait().unwrap();

    // What the killed sweep recorded: each ended trial's state and history (the one it
    // was running is ended KILLED by the resume).
    let tracker = hyperflow::tracking::Tracker::open(&d.uri()).expect("store");
    let recorded = |runs: &[BTreeMap<String, Value>]| -> BTreeMap<String, (String, String)> {
        role(runs, "trial")
            .into_iter()
            .filter_map(|c| {
                let state = field(c, "tags.hyperflow.state").filter(|s| *s != "RUNNING")?;
                let state = state.to_string();
                let run_id = field(c, "run_id").unwrap();
                let history = tracker.get_metric_history(run_id, "loss").expect("history");
                let history: Vec<_> = history.iter().map(|m| (m.step, m.value)).collect();
                Some((run_id.to_string(), (state, format!("{history:?}"))))
            })
            .collect()
    };
    let before = recorded(&d.runs());
    let pruned_before = before.values().filter(|(s, _)| s == "PRUNED").count();
    assert!(
        pruned_before >= 1,
        "the kill came while pruning: {before:?}"
    );

    ok(&d.run(&["sweep", config, "--resume", "--no-progress"]));
    let runs = d.runs();
    let after = recorded(&runs);
    for (run_id, kept) in &before {
        assert_eq!(after.get(run_id), Some(kept), "trial run {run_id} changed");
    }
    // The resumed pruner knows the first four trials: every later trial, the new ones
    // included, is stopped at its first report (a pruner that forgot them would let two
    // run to the end for its start-up and then find nothing below their median).
    let trials = role(&runs, "trial");
    let mut counted = 0;
    for c in &trials {
        let number: usize = field(c, "tags.hyperflow.trial").unwrap().parse().unwrap();
        let state = field(c, "tags.hyperflow.state");
        if state.is_some() && field(c, "status") != Some("KILLED") {
            counted += 1;
        }
        if number >= 4 && state.is_some() && field(c, "status") != Some("KILLED") {
            assert_eq!(state, Some("PRUNED"), "trial {number}: {c:?}");
            let history = tracker
                .get_metric_history(field(c, "run_id").unwrap(), "loss")
                .expect("history");
            assert_eq!(
                history.len(),
                1,
                "trial {number} stopped at its first report"
            );
        }
    }
    assert_eq!(counted, 12, "{trials:?}");
    // The parent's total steps count every value reported, the killed trial's too.
    let reported: usize = trials
        .iter()
        .map(|c| {
            let run_id = field(c, "run_id").unwrap();
            tracker.get_metric_history(run_id, "loss").unwrap().len()
        })
        .sum();
    let parent = role(&runs, "search")[0];
    assert_eq!(
        parent["metrics.total_steps"].as_f64(),
        Some(reported as f64),
        "{parent:?}"
    );
}
