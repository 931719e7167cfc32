//! The search loop: budgets, failures, reproducibility, scheduling, observers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyperflow::fmin::{Observer, ObserverError, StopReason};
use hyperflow::{
    CancelToken, Direction, Outcome, Point, Schedule, Space, Study, Trial, TrialState, Trials,
    fmin, fmin_with_context,
};

fn space() -> Space {
    Space::builder()
        .uniform("x", -5.0, 5.0)
        .choice(
            "kind",
            [
                ("a", Space::builder().randint("n", 0, 10)),
                ("b", Space::builder()),
            ],
        )
        .build()
        .expect("valid space")
}

fn quadratic(p: &Point) -> f64 {
    let x: f64 = p.get("x").unwrap_or(f64::NAN);
    (x - 1.0).powi(2)
}

fn points(trials: &[Trial]) -> Vec<Point> {
    trials.iter().map(|t| t.point.clone()).collect()
}

#[test]
fn reports_every_trial_and_the_best() {
    let space = space();
    let result = fmin(quadratic, &space)
        .max_evals(40)
        .seed(3)
        .progress(false)
        .run()
        .expect("search runs");
    assert_eq!(result.trials().len(), 40);
    assert_eq!(result.stop_reason(), StopReason::MaxEvals);
    let best = result
        .trials()
        .iter()
        .filter_map(|t| t.loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(result.best_loss(), Some(best));
    assert_eq!(result.best_point().map(quadratic), Some(best));
    assert!(
        result
            .trials()
            .iter()
            .all(|t| t.state == TrialState::Complete && t.duration.is_some())
    );
}

#[test]
fn sequential_search_is_reproducible_from_its_seed() {
    let space = space();
    let run = |seed| {
        fmin(quadratic, &space)
            .max_evals(30)
            .seed(seed)
            .parallelism(1)
            .progress(false)
            .run()
    };
    let a = run(11).expect("runs");
    let b = run(11).expect("runs");
    let c = run(12).expect("runs");
    assert_eq!(points(a.trials()), points(b.trials()));
    assert_ne!(points(a.trials()), points(c.trials()));
    assert_eq!(a.seed(), 11);
}

#[test]
fn batch_schedule_is_reproducible_for_any_parallelism() {
    let space = space();
    let run = |k| {
        fmin(quadratic, &space)
            .max_evals(24)
            .seed(5)
            .parallelism(k)
            .schedule(Schedule::Batch)
            .progress(false)
            .run()
            .expect("runs")
    };
    for k in [2, 4] {
        assert_eq!(
            points(run(k).trials()),
            points(run(k).trials()),
            "parallelism {k}"
        );
    }
}

#[test]
fn errors_panics_and_non_finite_losses_fail_their_trial_and_the_search_goes_on() {
    let space = Space::builder().randint("i", 0, 4).build().expect("valid");
    let result = fmin(
        |p: &Point| -> Result<f64, String> {
            match p.get::<i64>("i").map_err(|e| e.to_string())? {
                0 => Err("bad luck".into()),
                1 => panic!("boom"),
                2 => Ok(f64::NAN),
                _ => Ok(1.0),
            }
        },
        &space,
    )
    .max_evals(40)
    .seed(1)
    .progress(false)
    .run()
    .expect("at least one trial succeeds");
    assert_eq!(result.trials().len(), 40);
    let reasons: Vec<&str> = result
        .failures()
        .filter_map(|t| t.error.as_deref())
        .collect();
    assert!(reasons.contains(&"bad luck"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("panicked: boom")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("non-finite")),
        "{reasons:?}"
    );
    assert_eq!(result.best_loss(), Some(1.0));
}

#[test]
fn a_search_where_nothing_succeeds_returns_its_trials_and_no_best() {
    let space = space();
    let result = fmin(|_: &Point| Err::<f64, _>("always"), &space)
        .max_evals(5)
        .progress(false)
        .run()
        .expect("a search of failing trials still has a result");
    assert_eq!(result.trials().len(), 5);
    assert_eq!(result.failures().count(), 5);
    assert!(result.best().is_none());
    assert_eq!(result.stop_reason(), StopReason::MaxEvals);
}

#[test]
fn misuse_is_an_error_not_a_hang() {
    let space = space();
    let err = fmin(quadratic, &space).max_evals(0).run().unwrap_err();
    assert!(err.to_string().contains("max_evals = 0"), "{err}");
    let err = fmin(quadratic, &space).parallelism(0).run().unwrap_err();
    assert!(err.to_string().contains("parallelism = 0"), "{err}");
    let bad: Point = [("x", 99.0)].into_iter().collect();
    let err = fmin(quadratic, &space)
        .points_to_evaluate([bad])
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("points_to_evaluate[0]"), "{err}");
}

#[test]
fn starting_points_come_first() {
    let space = space();
    let start: Point = [("x", hyperflow::Value::Float(1.0)), ("kind", "b".into())]
        .into_iter()
        .collect();
    let result = fmin(quadratic, &space)
        .points_to_evaluate([start.clone()])
        .max_evals(5)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(result.trials()[0].point, start);
    assert_eq!(result.best_loss(), Some(0.0));
}

#[test]
fn stops_at_the_loss_threshold_and_after_no_improvement() {
    let space = space();
    let result = fmin(quadratic, &space)
        .loss_threshold(2.0)
        .max_evals(1000)
        .seed(2)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(result.stop_reason(), StopReason::LossThreshold);
    assert!(result.best_loss().is_some_and(|l| l <= 2.0));
    assert!(result.trials().len() < 1000);

    let flat = fmin(|_: &Point| 1.0, &space)
        .parallelism(1)
        .early_stop_after(7)
        .max_evals(1000)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(flat.stop_reason(), StopReason::NoImprovement);
    assert_eq!(flat.trials().len(), 8);
}

#[test]
fn timeout_stops_proposing() {
    let space = space();
    let result = fmin(
        |_: &Point| {
            std::thread::sleep(Duration::from_millis(20));
            1.0
        },
        &space,
    )
    .timeout(Duration::from_millis(100))
    .parallelism(1)
    .max_evals(1000)
    .progress(false)
    .run()
    .expect("runs");
    assert_eq!(result.stop_reason(), StopReason::Timeout);
    assert!(result.trials().len() < 50);
}

#[test]
fn maximize_ranks_higher_values_first() {
    let space = space();
    let result = fmin(quadratic, &space)
        .maximize()
        .max_evals(30)
        .seed(4)
        .progress(false)
        .run()
        .expect("runs");
    let worst = result
        .trials()
        .iter()
        .filter_map(|t| t.loss)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(result.best_loss(), Some(worst));
}

#[test]
fn history_counts_towards_max_evals() {
    let space = space();
    let first = fmin(quadratic, &space)
        .max_evals(10)
        .seed(8)
        .progress(false)
        .run()
        .expect("runs");
    let more = fmin(quadratic, &space)
        .history(first.history().clone())
        .max_evals(15)
        .seed(8)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(more.trials().len(), 15);
    assert_eq!(points(&more.trials()[..10]), points(first.trials()));
    assert!(more.best_loss() <= first.best_loss());
}

#[test]
fn a_study_is_continued_by_optimize() {
    let space = space();
    let mut study = Study::builder(&space).seed(8).create().expect("study");
    let first = study
        .optimize(quadratic)
        .max_evals(10)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(first.trials().len(), 10);
    let more = study
        .optimize(quadratic)
        .max_evals(15)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(more.trials().len(), 15);
    assert_eq!(points(&more.trials()[..10]), points(first.trials()));
    assert_eq!(study.trials().len(), 15);
    // Settings of the study are not settings of the loop.
    let err = study
        .optimize(quadratic)
        .seed(3)
        .progress(false)
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("seed"), "{err}");
}

#[test]
fn a_cancelled_search_stops_and_says_so() {
    let space = space();
    let cancel = CancelToken::new();
    let stop = cancel.clone();
    let result = fmin(
        move |p: &Point| {
            if p.get::<f64>("x").is_ok() {
                stop.cancel();
            }
            1.0
        },
        &space,
    )
    .cancel_token(cancel)
    .max_evals(100)
    .parallelism(1)
    .progress(false)
    .run()
    .expect("a cancelled search has a result");
    assert_eq!(result.stop_reason(), StopReason::Cancelled);
    assert_eq!(result.trials().len(), 1);
}

#[test]
fn direction_is_a_setting() {
    let space = space();
    let result = fmin(quadratic, &space)
        .direction(Direction::Maximize)
        .max_evals(20)
        .seed(1)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(result.history().direction(), Direction::Maximize);
    let worst = result
        .trials()
        .iter()
        .filter_map(|t| t.loss)
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(result.best_loss(), Some(worst));
}

/// Records what it is told.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl Observer for Recorder {
    fn search_started(&self, s: &hyperflow::fmin::SearchInfo<'_>) -> Result<(), ObserverError> {
        self.events
            .lock()
            .unwrap()
            .push(format!("start {}", s.max_evals));
        Ok(())
    }
    fn trial_started(&self, t: &Trial) -> Result<(), ObserverError> {
        self.events
            .lock()
            .unwrap()
            .push(format!("trial {}", t.number));
        Ok(())
    }
    fn trial_finished(&self, t: &Trial, best: Option<&Trial>) -> Result<(), ObserverError> {
        assert!(best.is_some());
        self.events
            .lock()
            .unwrap()
            .push(format!("done {}", t.number));
        Ok(())
    }
    fn search_finished(&self, trials: &Trials, _: StopReason) -> Result<(), ObserverError> {
        self.events
            .lock()
            .unwrap()
            .push(format!("end {}", trials.len()));
        Ok(())
    }
}

#[test]
fn observers_see_every_trial_and_untracked_contexts_take_logs() {
    let space = space();
    let recorder = Arc::new(Recorder::default());
    let logged = AtomicUsize::new(0);
    let result = fmin_with_context(
        |p: &Point, ctx: &hyperflow::TrialContext| {
            assert_eq!(ctx.run_id(), None);
            logged.fetch_add(1, Ordering::SeqCst);
            for step in 0..3 {
                ctx.log_metric("partial", step as f64, step)
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(Outcome::loss(quadratic(p)).with_metric("double", 2.0 * quadratic(p)))
        },
        &space,
    )
    .observer(recorder.clone())
    .max_evals(12)
    .parallelism(3)
    .progress(false)
    .run()
    .expect("runs");
    let events = recorder.events.lock().unwrap().clone();
    assert_eq!(events.first().map(String::as_str), Some("start 12"));
    assert_eq!(events.last().map(String::as_str), Some("end 12"));
    for n in 0..12 {
        let started = events
            .iter()
            .position(|e| *e == format!("trial {n}"))
            .expect("started");
        let done = events
            .iter()
            .position(|e| *e == format!("done {n}"))
            .expect("finished");
        assert!(started < done);
    }
    assert_eq!(logged.load(Ordering::SeqCst), 12);
    assert!(result.trials().iter().all(|t| t.metrics.len() == 1));
}

struct FailingObserver;

impl Observer for FailingObserver {
    fn trial_finished(&self, t: &Trial, _: Option<&Trial>) -> Result<(), ObserverError> {
        if t.number == 3 {
            Err("disk full".into())
        } else {
            Ok(())
        }
    }
}

#[test]
fn an_observer_failure_stops_the_search_with_its_error() {
    let space = space();
    let err = fmin(quadratic, &space)
        .observer(Arc::new(FailingObserver))
        .max_evals(50)
        .parallelism(2)
        .progress(false)
        .run()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "an observer of the search stopped it: disk full"
    );
}

#[test]
fn an_exhausted_grid_stops_the_search_after_every_combination() {
    let space = Space::builder()
        .randint("a", 0, 3)
        .choice("b", ["x", "y"])
        .build()
        .expect("valid");
    let result = fmin(|p: &Point| p.get::<f64>("a"), &space)
        .algo(hyperflow::algo::Grid)
        .max_evals(100)
        .parallelism(1)
        .progress(false)
        .run()
        .expect("runs");
    assert_eq!(result.stop_reason(), StopReason::Exhausted);
    let distinct: std::collections::HashSet<String> = result
        .trials()
        .iter()
        .map(|t| t.point.to_string())
        .collect();
    assert_eq!((result.trials().len(), distinct.len()), (6, 6));
}

#[test]
fn integer_and_quantized_ranges_of_billions_of_values_are_searched_without_listing_them() {
    // 2^40 integers, 10^12 multiples of 1: every sampler used to list each range's values
    // (the grid's, the GP's dimensions, TPE's check for a discrete space), which asked for
    // terabytes and aborted the process.
    let wide = 1i64 << 40;
    let integers = Space::builder().randint("n", 0, wide);
    let space = integers
        .clone()
        .quniform("q", 0.0, 1e12, 1.0)
        .qloguniform("l", 1.0, 1e12, 1.0)
        .build()
        .expect("valid space");
    // The grid of all three has more than 2^64 points; of the integers alone, 2^40.
    let integers = integers.build().expect("valid space");
    for algo in hyperflow::algo::Algorithm::ALL {
        let space = match algo {
            hyperflow::algo::Algorithm::Grid => &integers,
            _ => &space,
        };
        let result = fmin(
            |p: &Point| {
                let n: i64 = p.get("n").expect("n");
                let q: f64 = p.get("q").unwrap_or(0.6e12);
                (n as f64 / wide as f64 - 0.3).powi(2) + (q / 1e12 - 0.6).powi(2)
            },
            space,
        )
        .boxed_algo(algo.sampler())
        .seed(7)
        .max_evals(30)
        .run()
        .unwrap_or_else(|e| panic!("{algo}: {e}"));
        let ns: Vec<i64> = result
            .trials()
            .iter()
            .map(|t| t.point.get("n").expect("n"))
            .collect();
        assert_eq!(ns.len(), 30, "{algo}");
        assert!(ns.iter().all(|n| (0..wide).contains(n)), "{algo}: {ns:?}");
        for t in result.trials() {
            for (name, low) in [("q", 0.0), ("l", 1.0)] {
                if let Ok(v) = t.point.get::<f64>(name) {
                    assert!(
                        v.fract() == 0.0 && (low..=1e12).contains(&v),
                        "{algo}: {name} = {v}"
                    );
                }
            }
        }
        let spread = ns.iter().max().unwrap() - ns.iter().min().unwrap();
        assert!(
            spread > wide / 4,
            "{algo}: values over the whole range, {ns:?}"
        );
    }
}
