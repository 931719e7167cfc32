//! Studies in a real SQLite store: created, asked and told, loaded back by id or by name
//! from another handle (as another process would), continued, and checked.

use hyperflow::study::{Study, StudyError, Tracking};
use hyperflow::tracking::schema;
use hyperflow::tracking::{RunStatus, SearchRuns, Tracker, ViewType};
use hyperflow::trials::{Direction, HistoryError, Trial, Trials};
use hyperflow::{Outcome, Point, Space, StopReason, TrialState};

fn space() -> Space {
    Space::builder()
        .uniform("x", -4.0, 4.0)
        .choice(
            "kind",
            [
                ("a", Space::builder().randint("n", 0, 5)),
                ("b", Space::builder()),
            ],
        )
        .build()
        .expect("valid")
}

fn loss(p: &Point) -> f64 {
    let x: f64 = p.get("x").expect("x is always active");
    (x - 1.0).powi(2)
}

fn open(db: &std::path::Path, name: &str) -> Result<Study, StudyError> {
    // A new tracker per call: nothing is shared in memory between two "processes".
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).expect("store");
    Study::builder(&space())
        .tracking(Tracking::new(tracker, "ask-tell").name(name))
        .open()
}

fn ask_tell(study: &mut Study, n: usize) -> Vec<usize> {
    (0..n)
        .map(|_| {
            let trial = study.ask().expect("ask");
            let value = loss(trial.point());
            study.tell(trial, value).expect("tell").number
        })
        .collect()
}

#[test]
fn a_study_opened_twice_continues_under_one_parent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut first = open(&db, "s").unwrap();
    assert_eq!(ask_tell(&mut first, 20), (0..20).collect::<Vec<_>>());
    first.finish(StopReason::MaxEvals).unwrap();
    let parent = first.parent_run_id().unwrap().to_string();
    let seed = first.seed();
    drop(first);

    let mut second = open(&db, "s").unwrap();
    assert_eq!(second.parent_run_id(), Some(parent.as_str()));
    assert_eq!(second.seed(), seed);
    assert_eq!(ask_tell(&mut second, 20), (20..40).collect::<Vec<_>>());
    second.finish(StopReason::MaxEvals).unwrap();

    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let experiment = tracker.get_experiment_by_name("ask-tell").unwrap().unwrap();
    let all = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&experiment.experiment_id)
                .view_type(ViewType::All),
        )
        .unwrap();
    let parents: Vec<_> = all
        .iter()
        .filter(|r| schema::Role::of(r) == Some(schema::Role::Search))
        .collect();
    assert_eq!(parents.len(), 1);
    let children: Vec<_> = all
        .iter()
        .filter(|r| r.data.tag(schema::PARENT_TAG) == Some(parent.as_str()))
        .collect();
    assert_eq!(children.len(), 40);
    assert!(
        children
            .iter()
            .all(|c| c.info.status == RunStatus::Finished)
    );
    let mut numbers: Vec<usize> = children.iter().filter_map(schema::trial_number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..40).collect::<Vec<_>>());
    let parent_run = tracker.get_run(&parent).unwrap();
    assert_eq!(parent_run.info.status, RunStatus::Finished);
    assert_eq!(parent_run.data.tag(schema::RESUMED_TAG), Some("1"));
    // The second run learned from the first: it continued the same search, the best of
    // all 40 is recorded on the parent.
    let best = second.best().unwrap();
    assert_eq!(parent_run.data.metric(schema::BEST_LOSS_METRIC), best.loss);
}

#[test]
fn a_trial_asked_by_one_handle_is_told_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut asker = open(&db, "relay").unwrap();
    let asked = asker.ask().unwrap();
    let (number, value) = (asked.number(), loss(asked.point()));
    drop(asked);
    drop(asker);
    let mut teller = open(&db, "relay").unwrap();
    assert_eq!(
        teller.trials().get(number).unwrap().state,
        TrialState::Running
    );
    let told = teller
        .tell_number(number, Outcome::loss(value).with_metric("extra", 1.0))
        .unwrap();
    assert_eq!(told.state, TrialState::Complete);
    // Told once; a second tell is refused and changes nothing.
    let again = teller.tell_number(number, 0.0).unwrap_err();
    assert!(matches!(again, StudyError::NotRunning { .. }), "{again}");
    assert_eq!(
        again.to_string(),
        format!("trial {number} is complete already; only running trials can be told")
    );
    let reread = open(&db, "relay").unwrap();
    assert_eq!(reread.trials().get(number).unwrap().loss, Some(value));
    assert_eq!(reread.best().map(|t| t.number), Some(number));
}

#[test]
fn killed_trials_keep_their_numbers_and_do_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut study = open(&db, "k").unwrap();
    ask_tell(&mut study, 3);
    let _lost = study.ask().unwrap();
    drop(study);
    let mut study = open(&db, "k").unwrap();
    assert_eq!(study.kill_running("its process died").unwrap(), vec![3]);
    assert_eq!(ask_tell(&mut study, 1), vec![4]);
    let study = open(&db, "k").unwrap();
    let states: Vec<TrialState> = study.trials().all().iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            TrialState::Complete,
            TrialState::Complete,
            TrialState::Complete,
            TrialState::Killed,
            TrialState::Complete
        ]
    );
    assert_eq!(study.trials().results(), 4);
    assert_eq!(
        study.trials().get(3).unwrap().error.as_deref(),
        Some("its process died")
    );
}

/// A trial whose run was ended (KILLED, its sweep stopping) while the ledger still had it
/// running (the ledger's write failed: a full disk) gives its place in the budget back
/// when the study is continued, as a sweep's resume does it.
#[test]
fn a_killed_trial_the_ledger_missed_gives_its_place_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut study = open(&db, "missed").unwrap();
    ask_tell(&mut study, 3);
    let _lost = study.ask().unwrap();
    let run_id = study.run_id(3).unwrap().to_string();
    drop(study);
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    tracker.set_terminated(&run_id, RunStatus::Killed).unwrap();
    let mut study = open(&db, "missed").unwrap();
    assert_eq!(study.trials().get(3).unwrap().state, TrialState::Killed);
    study.kill_running("the sweep stopped").unwrap();
    study
        .optimize(loss)
        .max_evals(4)
        .progress(false)
        .run()
        .unwrap();
    assert_eq!(study.trials().results(), 4, "{:?}", study.trials().all());
    assert_eq!(study.trials().len(), 5);
}

#[test]
fn opening_checks_what_the_study_is() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut study = open(&db, "fixed").unwrap();
    ask_tell(&mut study, 2);
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let other = Space::builder().uniform("y", 0.0, 1.0).build().unwrap();
    let err = Study::builder(&other)
        .tracking(Tracking::new(tracker.clone(), "ask-tell").name("fixed"))
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("another space"), "{err}");
    let err = Study::builder(&space())
        .direction(Direction::Maximize)
        .tracking(Tracking::new(tracker.clone(), "ask-tell").name("fixed"))
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("minimize"), "{err}");
    let trial_run = study.run_id(0).unwrap();
    let err = Study::load(&tracker, &trial_run).unwrap_err();
    assert!(err.to_string().contains("is a trial"), "{err}");
}

#[test]
fn a_user_history_with_a_gap_or_a_repeat_is_an_error() {
    let trial = |n| Trial::running(n, vec![0.0, 1.0, f64::NAN], Point::default());
    assert_eq!(
        Trials::from_trials(Direction::Minimize, [trial(0), trial(2)]).unwrap_err(),
        HistoryError::Gap { len: 1, found: 2 }
    );
    assert_eq!(
        Trials::from_trials(Direction::Minimize, [trial(0), trial(0)]).unwrap_err(),
        HistoryError::Duplicate { number: 0 }
    );
    let mut history = Trials::new(Direction::Minimize);
    history.push(trial(0)).unwrap();
    assert!(history.push(trial(3)).is_err());
    let study = Study::builder(&space()).history(history).create().unwrap();
    assert_eq!(study.trials().len(), 1);
}

/// A sampler of the user's own, which `algo::by_name` cannot rebuild from the store.
struct Midpoint;

impl hyperflow::algo::Sampler for Midpoint {
    fn name(&self) -> &str {
        "midpoint"
    }

    fn session(
        &self,
        space: &Space,
    ) -> Result<Box<dyn hyperflow::algo::Session>, hyperflow::algo::AlgoError> {
        struct Mid(Space);
        impl hyperflow::algo::Session for Mid {
            fn suggest(&mut self, _: &Trials, _: &mut hyperflow::rng::TrialRng) -> Vec<f64> {
                let mut point = Point::default();
                point.insert("x", 0.0);
                point.insert("kind", "b");
                self.0.encode(&point).expect("the midpoint is in the space")
            }
        }
        Ok(Box::new(Mid(space.clone())))
    }
}

#[test]
fn a_study_of_a_custom_sampler_loads_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(&format!("sqlite:///{}/runs.db", dir.path().display())).unwrap();
    let mut study = Study::builder(&space())
        .sampler(Midpoint)
        .tracking(Tracking::new(tracker.clone(), "custom").name("mid"))
        .create()
        .unwrap();
    ask_tell(&mut study, 2);
    let parent = study.parent_run_id().unwrap().to_string();
    let err = Study::load(&tracker, &parent).unwrap_err();
    assert!(err.to_string().contains("midpoint"), "{err}");
    let mut again = Study::load_with(&tracker, &parent, &Midpoint).unwrap();
    assert_eq!(again.algo(), "midpoint");
    let trial = again.ask().unwrap();
    assert_eq!(trial.point().get::<f64>("x").unwrap(), 0.0);
    let opened = Study::builder(&space())
        .sampler(Midpoint)
        .tracking(Tracking::new(tracker, "custom").name("mid"))
        .open()
        .unwrap();
    assert_eq!(opened.trials().len(), 3);
}

/// The default sampler (`Auto`, here a GP: the space is flat) continues a stored study
/// where it stopped: a study loaded by another handle after 15 trials proposes the same
/// points as one that never stopped.
#[test]
fn a_loaded_default_study_proposes_what_an_uninterrupted_one_would() {
    let flat = Space::builder()
        .uniform("x", -4.0, 4.0)
        .loguniform("lr", 1e-4, 1e-1)
        .randint("layers", 1, 6)
        .build()
        .expect("valid");
    let f = |p: &Point| {
        let x: f64 = p.get("x").expect("x");
        let lr: f64 = p.get("lr").expect("lr");
        let layers: i64 = p.get("layers").expect("layers");
        (x - 1.0).powi(2) + (lr.log10() + 2.5).powi(2) + (layers as f64 - 3.0).abs()
    };
    let run = |study: &mut Study, n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                let trial = study.ask().expect("ask");
                let point = trial.point().to_string();
                let value = f(trial.point());
                study.tell(trial, value).expect("tell");
                point
            })
            .collect()
    };
    let mut straight = Study::builder(&flat).seed(5).create().unwrap();
    assert_eq!(straight.algo(), "auto");
    let expected = run(&mut straight, 25);

    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("runs.db").display());
    let tracked = |name: &str| {
        let tracker = Tracker::open(&uri).expect("store");
        Study::builder(&flat)
            .seed(5)
            .tracking(Tracking::new(tracker, "auto").name(name))
            .open()
            .expect("open")
    };
    let mut first = tracked("s");
    let mut points = run(&mut first, 15);
    drop(first);
    let mut second = tracked("s");
    points.extend(run(&mut second, 10));
    assert_eq!(points, expected);
}

/// A trial whose result was written but whose run status was not (the disk filled
/// between the two writes) loads as complete, and its run is ended FINISHED by the
/// study's next write, not by loading.
#[test]
fn a_half_recorded_trial_is_complete_and_its_run_ended_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let mut study = open(&db, "half").unwrap();
    let trial = study.ask().expect("ask");
    let run_id = trial.context().run_id().expect("tracked").to_string();
    drop(trial);
    drop(study);
    // What trial_finished writes first, without the status that follows it.
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    tracker
        .log_batch(
            &run_id,
            &[hyperflow::tracking::Metric::new(schema::LOSS_METRIC, 0.5)],
            &[],
            &[schema::state_tag(TrialState::Complete)],
        )
        .unwrap();

    let mut again = open(&db, "half").unwrap();
    assert_eq!(
        again.trials().get(0).map(|t| t.state),
        Some(TrialState::Complete)
    );
    assert_eq!(again.best().and_then(|t| t.loss), Some(0.5));
    assert_eq!(
        tracker.get_run(&run_id).unwrap().info.status,
        RunStatus::Running
    );
    ask_tell(&mut again, 1);
    assert_eq!(
        tracker.get_run(&run_id).unwrap().info.status,
        RunStatus::Finished
    );
}
