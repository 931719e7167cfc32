//! Several workers on one search (issue 16): study handles in threads and `hyperflow
//! sweep` processes joining one search through the store's ledger, workers that die
//! (SIGKILL, a lost machine) and the budget they give back. On SQLite here; on PostgreSQL
//! in `tests/store_postgres.rs`'s server when it is installed.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyperflow::prune::{Median, MinResource, SuccessiveHalving};
use hyperflow::study::{StopReason, Study, Tracking};
use hyperflow::tracking::schema::{self, Role};
use hyperflow::tracking::{Run, RunStatus, SearchRuns, Tracker, ViewType};
use hyperflow::trials::TrialState;
use hyperflow::{Outcome, Space};

use common::postgres::PgServer;
use common::server_process::ServerProcess;

const BIN: &str = env!("CARGO_BIN_EXE_hyperflow");

fn space() -> Space {
    Space::builder()
        .uniform("x", -2.0, 2.0)
        .uniform("y", -2.0, 2.0)
        .build()
        .unwrap()
}

/// The runs of every search in `experiment` (deleted ones too): parents and trials.
fn runs_of(tracker: &Tracker, experiment: &str) -> (Vec<Run>, Vec<Run>) {
    let id = tracker
        .get_experiment_by_name(experiment)
        .unwrap()
        .expect("experiment")
        .experiment_id;
    let runs = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&id)
                .view_type(ViewType::ActiveOnly),
        )
        .unwrap();
    runs.into_iter()
        .partition(|r| Role::of(r) == Some(Role::Search))
}

/// What the trials of one search came to: their states by number, checking that no
/// number has two runs.
fn trial_states(trials: &[Run], parent: &str) -> BTreeMap<usize, (TrialState, Option<String>)> {
    let mut states = BTreeMap::new();
    for run in trials {
        assert_eq!(run.data.tag(schema::PARENT_TAG), Some(parent), "one search");
        let number = schema::trial_number(run).expect("numbered");
        let state = schema::trial_state(run);
        let error = run.data.tag(schema::ERROR_TAG).map(str::to_string);
        assert!(
            states.insert(number, (state, error)).is_none(),
            "trial {number} has two runs"
        );
    }
    states
}

/// A tracker on a new SQLite file, which lives as long as the directory returned.
fn sqlite_tracker() -> (tempfile::TempDir, Tracker) {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}/runs.db", dir.path().display());
    let tracker = Tracker::open(&uri).unwrap();
    (dir, tracker)
}

/// A study handle on the search named `name` in `experiment` (joining it once another
/// handle opened it), seeded `seed`.
fn handle(tracker: &Tracker, experiment: &str, name: &str, seed: u64) -> Study {
    Study::builder(&space())
        .seed(seed)
        .tracking(Tracking::new(tracker.clone(), experiment).name(name))
        .open()
        .unwrap()
}

fn count(states: &BTreeMap<usize, (TrialState, Option<String>)>, state: TrialState) -> usize {
    states.values().filter(|(s, _)| *s == state).count()
}

/// Threads each opening the study by name and driving it with fmin share one parent run,
/// one numbering and one budget.
#[test]
fn study_handles_in_threads_share_one_search() {
    let (_dir, tracker) = sqlite_tracker();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let tracker = tracker.clone();
            std::thread::spawn(move || {
                let mut study = handle(&tracker, "threads", "shared", 3);
                study
                    .optimize(|p| {
                        std::thread::sleep(Duration::from_millis(5));
                        let (x, y): (f64, f64) = (p.get("x").unwrap(), p.get("y").unwrap());
                        (x - 0.5).powi(2) + (y + 0.25).powi(2)
                    })
                    .max_evals(60)
                    .parallelism(1)
                    .progress(false)
                    .run()
                    .unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (parents, trials) = runs_of(&tracker, "threads");
    assert_eq!(parents.len(), 1, "one parent run");
    let parent = &parents[0];
    assert_eq!(parent.info.status, RunStatus::Finished);
    let states = trial_states(&trials, &parent.info.run_id);
    assert_eq!(states.len(), 60);
    assert_eq!(count(&states, TrialState::Complete), 60);
    assert_eq!(
        states.keys().copied().collect::<Vec<_>>(),
        (0..60).collect::<Vec<_>>()
    );
    // The parent holds the best of all workers' trials.
    let best = trials
        .iter()
        .filter_map(|r| r.data.metric(schema::LOSS_METRIC))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(parent.data.metric(schema::BEST_LOSS_METRIC), Some(best));
    // And a handle opened afterwards sees it all.
    let again = Study::load(&tracker, &parent.info.run_id).unwrap();
    assert_eq!(again.trials().results(), 60);
}

/// A handle on the search `shared` in `experiment`, with ASHA judging from step 1.
fn asha_handle(tracker: &Tracker, experiment: &str) -> Study {
    Study::builder(&space())
        .seed(1)
        .pruner(SuccessiveHalving::new().min_resource(MinResource::Steps(1)))
        .tracking(Tracking::new(tracker.clone(), experiment).name("shared"))
        .open()
        .unwrap()
}

/// Runs `n` trials of `study` to their end or their pruning, each reporting `1 / step`
/// at steps 1 to 16.
fn run_good_trials(study: &mut Study, n: usize) {
    for _ in 0..n {
        let trial = study.ask().unwrap();
        let stopped = (1..=16).any(|step| trial.context().report(step, 1.0 / step as f64).unwrap());
        let outcome = if stopped {
            Outcome::pruned("asha")
        } else {
            Outcome::loss(1.0 / 16.0)
        };
        study.tell(trial, outcome).unwrap();
    }
}

/// A worker's rung-based pruner judges against the trials other workers ran, those that
/// ended after it opened the search too: their reports reach its rungs.
#[test]
fn a_workers_asha_judges_against_trials_other_workers_ran() {
    let (_dir, tracker) = sqlite_tracker();
    // Opened before any trial ended: what it knows of the others comes by syncing.
    let mut late = asha_handle(&tracker, "asha");
    let mut early = asha_handle(&tracker, "asha");
    run_good_trials(&mut early, 8);
    let trial = late.ask().unwrap();
    assert!(
        trial.context().report(1, 10.0).unwrap(),
        "ten times worse at the first rung than the other worker's eight trials"
    );
    late.tell(trial, Outcome::pruned("asha")).unwrap();
    early.finish(StopReason::MaxEvals).unwrap();
    late.finish(StopReason::MaxEvals).unwrap();
}

/// A worker whose pruner is not the one a running search was created with is refused,
/// as one with another space, direction or seed is: its trials would be judged by another
/// rule than the rest. Once the search ended, reopening it by name may take another.
#[test]
fn a_worker_with_another_pruner_is_refused_a_running_search() {
    let (_dir, tracker) = sqlite_tracker();
    let handle = |pruner: Option<Median>| {
        let builder = Study::builder(&space())
            .seed(1)
            .tracking(Tracking::new(tracker.clone(), "mixed").name("shared"));
        match pruner {
            Some(p) => builder.pruner(p),
            None => builder,
        }
        .open()
    };
    let mut creator = asha_handle(&tracker, "mixed");
    for (pruner, named) in [(Some(Median::new()), "median"), (None, "none")] {
        let e = handle(pruner).expect_err("refused").to_string();
        assert!(
            e.contains(&format!("prunes with `asha`, this worker with `{named}`")),
            "{e}"
        );
    }
    let mut same = asha_handle(&tracker, "mixed");
    run_good_trials(&mut same, 2);
    same.finish(StopReason::MaxEvals).unwrap();
    creator.finish(StopReason::MaxEvals).unwrap();
    let reopened = handle(Some(Median::new())).expect("an ended search takes a new pruner");
    assert_eq!(reopened.trials().len(), 2);
}

/// Without a pruner the workers do not read each other's reports as trials end; the last
/// to finish reads them, so the parent's `total_steps` counts every worker's.
#[test]
fn total_steps_counts_every_workers_reports_without_a_pruner() {
    let (_dir, tracker) = sqlite_tracker();
    let handle = || {
        Study::builder(&space())
            .seed(1)
            .tracking(Tracking::new(tracker.clone(), "steps").name("shared"))
            .open()
            .unwrap()
    };
    let (mut first, mut last) = (handle(), handle());
    run_good_trials(&mut first, 3);
    run_good_trials(&mut last, 2);
    first.finish(StopReason::MaxEvals).unwrap();
    last.finish(StopReason::MaxEvals).unwrap();
    assert_eq!(last.total_steps(), 5 * 16);
    let parent = tracker.get_run(last.parent_run_id().unwrap()).unwrap();
    assert_eq!(
        parent.data.metric(schema::TOTAL_STEPS_METRIC),
        Some(5.0 * 16.0)
    );
}

/// A trial that runs long is judged against the trials other workers ended while it ran:
/// its driver syncs the shared study while waiting for it.
#[test]
fn a_long_trial_is_judged_against_trials_other_workers_ended_meanwhile() {
    let (_dir, tracker) = sqlite_tracker();
    let mut late = asha_handle(&tracker, "long");
    let mut early = asha_handle(&tracker, "long");
    let (asked, asked_rx) = std::sync::mpsc::channel::<()>();
    let (ended, ended_rx) = std::sync::mpsc::channel::<()>();
    let ended_rx = std::sync::Mutex::new(ended_rx);
    let worker = std::thread::spawn(move || {
        late.optimize_with_context(|_, ctx| {
            asked.send(()).unwrap();
            ended_rx.lock().unwrap().recv().unwrap();
            // Time for the driver to sync once or twice.
            std::thread::sleep(Duration::from_millis(2500));
            if ctx.report(1, 10.0).unwrap() {
                Outcome::pruned("asha")
            } else {
                Outcome::loss(10.0)
            }
        })
        .max_evals(1)
        .parallelism(1)
        .progress(false)
        .run()
        .unwrap();
        late
    });
    asked_rx.recv().unwrap();
    run_good_trials(&mut early, 8);
    ended.send(()).unwrap();
    let late = worker.join().unwrap();
    let first = late.trials().get(0).expect("the long trial");
    assert_eq!(first.state, TrialState::Pruned, "{first:?}");
    early.finish(StopReason::MaxEvals).unwrap();
}

/// A handle dropped with a trial running (its worker gone) leaves the trial to the others:
/// it is marked failed and its place in the budget goes back.
#[test]
fn a_lost_trial_is_failed_and_its_place_goes_back() {
    let (_dir, tracker) = sqlite_tracker();
    let open = || handle(&tracker, "lost", "s", 5);
    let mut first = open();
    let trial = first.ask().unwrap();
    let lost = trial.number();
    drop(trial);
    drop(first);
    let mut second = open();
    assert!(second.joined());
    let result = second
        .optimize(|p| p.get::<f64>("x").unwrap().abs())
        .max_evals(5)
        .progress(false)
        .run()
        .unwrap();
    assert_eq!(result.trials().len(), 6, "5 results and the lost trial");
    let trial = &result.trials()[lost];
    assert_eq!(trial.state, TrialState::Failed);
    assert!(
        trial.error.as_deref().unwrap().starts_with("lost"),
        "{trial:?}"
    );
    let (parents, trials) = runs_of(&tracker, "lost");
    assert_eq!(parents.len(), 1);
    let states = trial_states(&trials, &parents[0].info.run_id);
    assert_eq!(count(&states, TrialState::Complete), 5);
    assert_eq!(count(&states, TrialState::Failed), 1);
    assert!(states[&lost].1.as_deref().unwrap().starts_with("lost"));
}

/// Sweep processes on one config and store.
struct Sweeps {
    dir: tempfile::TempDir,
    uri: String,
}

impl Sweeps {
    fn new(uri: Option<String>, max_evals: usize, stale_after: &str) -> Sweeps {
        let dir = tempfile::tempdir().unwrap();
        let uri = uri.unwrap_or_else(|| format!("sqlite:///{}/runs.db", dir.path().display()));
        std::fs::write(
            dir.path().join("sweep.toml"),
            format!(
                "[experiment]\nname = \"workers\"\n\n[command]\n\
                 run = \"sh -c 'sleep 0.2; echo hyperflow: metric=loss value={{x}}'\"\n\n\
                 [objective]\nmetric = \"loss\"\n\n[search]\nalgo = \"tpe\"\nmax_evals = {max_evals}\n\
                 stale_after = \"{stale_after}\"\n\n[space]\nx = {{ kind = \"uniform\", low = 0, high = 1 }}\n"
            ),
        )
        .unwrap();
        Sweeps { dir, uri }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("sweep.toml")
    }

    /// A worker; `elsewhere` runs it in a UTS namespace of its own, with another host
    /// name, as a worker on another machine (whose death only heartbeats tell).
    fn spawn(&self, elsewhere: bool) -> Child {
        self.spawn_with(elsewhere, &[])
    }

    fn spawn_with(&self, elsewhere: bool, extra: &[&str]) -> Child {
        self.spawn_on(&self.uri, elsewhere, extra)
    }

    /// A worker tracking to `uri` (the store's, or a server's in front of it).
    fn spawn_on(&self, uri: &str, elsewhere: bool, extra: &[&str]) -> Child {
        let mut command = if elsewhere {
            let mut c = Command::new("unshare");
            c.args(["--user", "--map-root-user", "--uts", "sh", "-c"])
                .arg("hostname another-machine && exec \"$0\" \"$@\"")
                .arg(BIN);
            c
        } else {
            Command::new(BIN)
        };
        command
            .current_dir(self.dir.path())
            .env_remove("HYPERFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI")
            .args(["--tracking-uri", uri, "sweep"])
            .arg(self.config())
            .arg("--no-progress")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hyperflow sweep")
    }

    fn tracker(&self) -> Tracker {
        Tracker::open(&self.uri).unwrap()
    }
}

fn unshare_available() -> bool {
    let ok = Command::new("unshare")
        .args(["--user", "--map-root-user", "--uts", "hostname", "x"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok || std::env::var_os("HYPERFLOW_REQUIRE_EXTERNAL").is_none(),
        "unshare --user --uts is not available, and HYPERFLOW_REQUIRE_EXTERNAL is set"
    );
    ok
}

/// Four workers started at once, one SIGKILLed after two seconds: one parent run, exactly
/// `max_evals` complete trials, the killed worker's running trial failed as lost, no
/// trial number finished twice.
fn four_workers_one_killed(sweeps: &Sweeps, elsewhere: bool) {
    let max_evals = 40;
    let mut workers: Vec<Child> = (0..4).map(|i| sweeps.spawn(elsewhere && i == 3)).collect();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let mut victim = workers.pop().unwrap();
    // SIGKILL the sweep itself (inside its namespace, the process `unshare` exec'd into).
    victim.kill().unwrap();
    victim.wait().unwrap();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a surviving worker failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (parents, trials) = runs_of(&sweeps.tracker(), "workers");
    assert_eq!(parents.len(), 1, "one parent run: {parents:?}");
    let parent = &parents[0];
    assert_eq!(parent.info.status, RunStatus::Finished);
    let states = trial_states(&trials, &parent.info.run_id);
    assert_eq!(
        count(&states, TrialState::Complete),
        max_evals,
        "{states:?}"
    );
    assert_eq!(count(&states, TrialState::Running), 0, "{states:?}");
    let lost: Vec<_> = states
        .values()
        .filter(|(s, _)| *s == TrialState::Failed)
        .collect();
    assert!(
        lost.len() <= 1,
        "at most the killed worker's trial: {lost:?}"
    );
    assert!(
        lost.iter()
            .all(|(_, e)| e.as_deref().is_some_and(|e| e.starts_with("lost"))),
        "{lost:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn sweeps_on_one_config_join_and_survive_a_killed_worker() {
    let sweeps = Sweeps::new(None, 40, "3s");
    four_workers_one_killed(&sweeps, false);
}

#[test]
fn a_worker_lost_on_another_machine_is_found_by_its_heartbeats() {
    if !unshare_available() {
        return;
    }
    let sweeps = Sweeps::new(None, 40, "3s");
    four_workers_one_killed(&sweeps, true);
}

#[test]
fn sweeps_join_one_search_on_postgresql() {
    let Some(pg) = PgServer::start("join") else {
        return;
    };
    let sweeps = Sweeps::new(Some(pg.uri()), 40, "3s");
    four_workers_one_killed(&sweeps, false);
}

/// Two replicas of the server on one database, as behind one address: workers going
/// through either join one search, share its budget and number its trials once (the
/// servers keep no state of their own; the ledger is in the database).
#[test]
fn sweeps_through_two_server_replicas_join_one_search() {
    let Some(pg) = PgServer::start("join-replicas") else {
        return;
    };
    let max_evals = 40;
    let sweeps = Sweeps::new(Some(pg.uri()), max_evals, "60s");
    let servers: Vec<ServerProcess> = (0..2)
        .map(|_| ServerProcess::start(BIN, sweeps.dir.path(), &pg.uri()))
        .collect();
    let workers: Vec<Child> = (0..4)
        .map(|i| sweeps.spawn_on(&servers[i % 2].url, false, &[]))
        .collect();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (parents, trials) = runs_of(&sweeps.tracker(), "workers");
    assert_eq!(parents.len(), 1, "one parent run: {parents:?}");
    assert_eq!(parents[0].info.status, RunStatus::Finished);
    let states = trial_states(&trials, &parents[0].info.run_id);
    assert_eq!(states.len(), max_evals, "{states:?}");
    assert_eq!(
        count(&states, TrialState::Complete),
        max_evals,
        "{states:?}"
    );
}

/// A PostgreSQL restart in the middle of a search (every connection cut) loses nothing:
/// the workers wait for the server and finish the budget, every result kept.
#[test]
fn a_postgresql_restart_in_the_middle_loses_nothing() {
    let Some(pg) = PgServer::start("join-restart") else {
        return;
    };
    let sweeps = Sweeps::new(Some(pg.uri()), 30, "60s");
    let workers: Vec<Child> = (0..2).map(|_| sweeps.spawn(false)).collect();
    std::thread::sleep(Duration::from_millis(1500));
    pg.restart();
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker failed across the restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (parents, trials) = runs_of(&sweeps.tracker(), "workers");
    assert_eq!(parents.len(), 1);
    let states = trial_states(&trials, &parents[0].info.run_id);
    assert_eq!(count(&states, TrialState::Complete), 30, "{states:?}");
    assert_eq!(count(&states, TrialState::Running), 0, "{states:?}");
}

/// A sweep started after the search ended starts a new one (the key was given up); with
/// `--join` (a late worker of a job array) it joins the finished one and adds nothing, and
/// with `--join` and no search yet it starts one.
#[test]
fn a_finished_search_is_not_joined_unless_asked() {
    let sweeps = Sweeps::new(None, 3, "60s");
    let run = |extra: &[&str]| {
        let out = sweeps.spawn_with(false, extra).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["--join"]);
    run(&[]);
    let (parents, trials) = runs_of(&sweeps.tracker(), "workers");
    assert_eq!((parents.len(), trials.len()), (2, 6));
    run(&["--join"]);
    let (parents, trials) = runs_of(&sweeps.tracker(), "workers");
    assert_eq!((parents.len(), trials.len()), (2, 6));
}

/// Two handles that each see a new best of their own: the parent ends with the best of
/// both, whichever recorded last and at whatever trial number.
#[test]
fn the_parent_ends_with_the_best_of_every_handle() {
    let (_dir, tracker) = sqlite_tracker();
    let open = || handle(&tracker, "best", "shared", 3);
    let (mut a, mut b) = (open(), open());
    let first = a.ask().unwrap();
    let second = b.ask().unwrap();
    assert_eq!((first.number(), second.number()), (0, 1));
    // The later trial, worse, is told first: its handle records it as the best at step 1;
    // then the better one, at step 0, by a handle that has not seen trial 1.
    b.tell(second, 5.0).unwrap();
    a.tell(first, 1.0).unwrap();
    a.finish(hyperflow::StopReason::MaxEvals).unwrap();
    b.finish(hyperflow::StopReason::MaxEvals).unwrap();
    let (parents, _) = runs_of(&tracker, "best");
    let parent = &parents[0];
    assert_eq!(parent.data.metric(schema::BEST_LOSS_METRIC), Some(1.0));
    assert_eq!(parent.data.tag(schema::BEST_TRIAL_TAG), Some("0"));
}
