//! Pruning through studies and `fmin`: objectives that report learning curves are
//! stopped early by each pruner, the best trial survives, pruned trials are recorded
//! (in memory and in a real SQLite store) with how far they got, and samplers learn
//! from them.

use std::sync::atomic::{AtomicU64, Ordering};

use hyperflow::algo::{Gp, Random, Sampler, Tpe};
use hyperflow::prune::{
    BracketWeights, Brackets, Hyperband, MaxResource, Median, MinResource, Percentile, Pruner,
    SuccessiveHalving, Threshold,
};
use hyperflow::study::{Study, Tracking};
use hyperflow::tracking::{Tracker, schema};
use hyperflow::{Outcome, Point, Space, StopReason, TrialContext, TrialState, fmin_with_context};

const EPOCHS: u64 = 27;

fn space() -> Space {
    Space::builder()
        .uniform("x", 0.0, 1.0)
        .build()
        .expect("valid")
}

/// A learning curve whose every step keeps the order of the final values: the loss at
/// epoch `t` is the final `(x - 0.3)²` plus a decaying offset the same for every trial.
fn curve(x: f64, epoch: u64) -> f64 {
    (x - 0.3).powi(2) + (-(epoch as f64) / 6.0).exp()
}

/// A learning curve whose best settings start slowly: near `x = 0.3` the loss starts
/// high and falls late, so that until about epoch 12 the worse settings look better.
fn slow_starters(x: f64, epoch: u64) -> f64 {
    let last = (x - 0.3).powi(2);
    let slow = (-20.0 * last).exp();
    last + 2.0 * slow * (-(epoch as f64) / (1.0 + 8.0 * slow)).exp()
}

/// Trains on `curve` for up to [`EPOCHS`], reporting each epoch; counts every epoch run
/// in `spent`.
fn train(p: &Point, ctx: &TrialContext, spent: &AtomicU64, curve: fn(f64, u64) -> f64) -> Outcome {
    let x: f64 = p.get("x").expect("x");
    for epoch in 0..EPOCHS {
        spent.fetch_add(1, Ordering::Relaxed);
        let loss = curve(x, epoch);
        if ctx
            .report(epoch, loss)
            .expect("untracked reports cannot fail")
        {
            return Outcome::pruned(format!("stopped at epoch {epoch}"));
        }
    }
    Outcome::loss(curve(x, EPOCHS - 1))
}

struct Run {
    best: f64,
    steps: u64,
    pruned: usize,
    complete: usize,
}

/// 60 random trials (the same points whatever the pruner) with `pruner`, on 3 workers.
fn search(pruner: Option<Box<dyn Pruner>>) -> Run {
    search_curve(Random, curve, 11, 3, pruner)
}

/// 60 trials of `curve` suggested by `algo` from `seed` on `workers`, with `pruner`.
fn search_curve(
    algo: impl Sampler + 'static,
    curve: fn(f64, u64) -> f64,
    seed: u64,
    workers: usize,
    pruner: Option<Box<dyn Pruner>>,
) -> Run {
    let spent = AtomicU64::new(0);
    let space = space();
    let mut search = fmin_with_context(|p, ctx| train(p, ctx, &spent, curve), &space)
        .algo(algo)
        .max_evals(60)
        .parallelism(workers)
        .seed(seed)
        .progress(false);
    if let Some(pruner) = pruner {
        search = search.boxed_pruner(pruner);
    }
    let result = search.run().expect("search");
    let count = |s| result.trials().iter().filter(|t| t.state == s).count();
    Run {
        best: result.best_loss().expect("a complete trial"),
        steps: spent.into_inner(),
        pruned: count(TrialState::Pruned),
        complete: count(TrialState::Complete),
    }
}

#[test]
fn every_pruner_saves_steps_and_keeps_the_best_trial() {
    let full = search(None);
    assert_eq!((full.steps, full.pruned), (60 * EPOCHS, 0));
    let pruners: Vec<(&str, Box<dyn Pruner>, u64)> = vec![
        ("median", Box::new(Median::new()), 2),
        ("percentile 25", Box::new(Percentile::new(25.0)), 2),
        (
            "asha",
            Box::new(SuccessiveHalving::new().min_resource(MinResource::Steps(1))),
            3,
        ),
        (
            "hyperband",
            Box::new(Hyperband::new().max_resource(MaxResource::Steps(EPOCHS))),
            2,
        ),
        (
            "hyperband, brackets apart",
            Box::new(
                Hyperband::new()
                    .max_resource(MaxResource::Steps(EPOCHS))
                    .brackets(Brackets::Separate),
            ),
            2,
        ),
    ];
    for (name, pruner, factor) in pruners {
        let run = search(Some(pruner));
        assert_eq!(run.pruned + run.complete, 60, "{name}");
        assert!(run.pruned >= 20, "{name}: only {} pruned", run.pruned);
        assert!(
            run.steps * factor <= full.steps,
            "{name}: {} steps against {} without pruning",
            run.steps,
            full.steps
        );
        // Every step keeps the final order, so the best trial is never stopped.
        assert_eq!(run.best, full.best, "{name}");
    }
}

#[test]
fn hyperband_weighted_by_agreement_keeps_slow_starters() {
    // TPE over a curve whose best settings start slowly, sixty trials one at a time: how
    // often Hyperband still finds what no pruning finds, weighted by agreement and by
    // budgets alone.
    let hyperband = |weights| -> Box<dyn Pruner> {
        Box::new(
            Hyperband::new()
                .max_resource(MaxResource::Steps(EPOCHS))
                .weights(weights),
        )
    };
    let (mut found, mut steps) = ([0; 2], [0; 2]);
    for seed in 0..10 {
        let full = search_curve(Tpe::default(), slow_starters, seed, 1, None);
        for (i, weights) in [BracketWeights::Agreement, BracketWeights::Budgets]
            .into_iter()
            .enumerate()
        {
            let run = search_curve(
                Tpe::default(),
                slow_starters,
                seed,
                1,
                Some(hyperband(weights)),
            );
            found[i] += usize::from(run.best - full.best < 1e-3);
            steps[i] += run.steps;
        }
    }
    // By budgets most trials go to brackets that judge them at epochs 1, 3 and 9, where
    // the slow starters look worst (found in 1 of 10 when written); weighted by agreement
    // those brackets fall silent once complete trials show their rungs rank the other way
    // (10 of 10, at 70% of no pruning's steps).
    assert!(
        found[0] >= 7 && found[1] <= 3 && steps[0] < 10 * 60 * EPOCHS * 3 / 4,
        "found no pruning's best: {found:?}, steps {steps:?}"
    );
}

#[test]
fn pruned_trials_keep_their_last_value_and_step() {
    let space = space();
    let mut study = Study::builder(&space)
        .sampler(Random)
        .pruner(Threshold::new().upper(0.9))
        .seed(2)
        .create()
        .expect("study");
    let trial = study.ask().expect("ask");
    let ctx = trial.context().clone();
    assert!(!ctx.report(0, 0.5).expect("report"));
    assert!(!ctx.should_prune());
    assert!(ctx.report(3, 1.5).expect("report"));
    assert!(ctx.should_prune());
    // A step reported again keeps its first value and answer.
    assert!(!ctx.report(0, 7.0).expect("report") || ctx.should_prune());
    let told = study
        .tell(trial, Outcome::pruned("diverged"))
        .expect("tell");
    assert_eq!(told.state, TrialState::Pruned);
    assert_eq!((told.loss, told.last_step), (Some(1.5), Some(3)));
    assert_eq!(study.intermediate_values(0), [(0, 0.5), (3, 1.5)]);
    assert!(study.best().is_none(), "a pruned trial is never the best");
}

#[test]
fn tracked_reports_are_the_objective_metrics_history_and_load_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = format!("sqlite:///{}", dir.path().join("runs.db").display());
    let tracker = Tracker::open(&uri).expect("store");
    let space = space();
    let mut study = Study::builder(&space)
        .sampler(Random)
        .pruner(Median::new().startup_trials(1))
        .tracking(Tracking::new(tracker.clone(), "pruning").name("curves"))
        .seed(5)
        .create()
        .expect("study");
    // Trial 0 completes with a good curve; trial 1 is worse at its first epoch.
    let first = study.ask().expect("ask");
    for epoch in 0..3 {
        assert!(
            !first
                .context()
                .report(epoch, 1.0 / (epoch + 1) as f64)
                .expect("report")
        );
    }
    // Its final value is not its last report: written after the reports, it is the
    // metric's latest value, and no report.
    study.tell(first, 0.3).expect("tell");
    let second = study.ask().expect("ask");
    assert!(second.context().report(0, 2.0).expect("report"));
    // A step reported again keeps its first value, for the pruner and in the history.
    assert!(second.context().report(0, 0.5).expect("report"));
    let run_id = second.context().run_id().expect("tracked").to_string();
    study
        .tell(second, Outcome::pruned("worse than the median"))
        .expect("tell");

    let history = tracker
        .get_metric_history(&run_id, "loss")
        .expect("history");
    let points: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(points, [(0, 2.0)], "the report, not a second final value");
    let first_run = study.run_id(0).expect("tracked").to_string();
    let history = tracker
        .get_metric_history(&first_run, "loss")
        .expect("history");
    let points: Vec<(i64, f64)> = history.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(
        points,
        [(0, 1.0), (1, 0.5), (2, 1.0 / 3.0), (3, 0.3)],
        "three epochs, then the final value"
    );

    study.finish(StopReason::MaxEvals).expect("finish");
    let parent = tracker
        .get_run(study.parent_run_id().expect("tracked"))
        .expect("parent");
    assert_eq!(parent.data.tag(schema::PRUNED_TRIALS_TAG), Some("1"));
    assert_eq!(parent.data.metric(schema::TOTAL_STEPS_METRIC), Some(4.0));
    let params = schema::StudyParams::read(&parent).expect("study params");
    assert_eq!(params.pruner.as_deref(), Some("median"));

    let again = Study::load_named(&tracker, "pruning", "curves")
        .expect("load")
        .expect("stored");
    let pruned = again.trials().get(1).expect("trial 1");
    assert_eq!(pruned.state, TrialState::Pruned);
    assert_eq!((pruned.loss, pruned.last_step), (Some(2.0), Some(0)));
    let complete = again.trials().get(0).expect("trial 0");
    assert_eq!((complete.loss, complete.last_step), (Some(0.3), Some(2)));
    assert_eq!(again.best().map(|t| t.number), Some(0));
    // A pruner given to the loaded study reads the reports back, not the final value.
    let mut again = again;
    again.set_pruner(&Median::new()).expect("reads the store");
    assert_eq!(
        again.intermediate_values(0),
        [(0, 1.0), (1, 0.5), (2, 1.0 / 3.0)]
    );
    assert_eq!(again.intermediate_values(1), [(0, 2.0)]);
}

#[test]
fn tpe_learns_from_pruned_trials_where_few_complete() {
    // Every trial was pruned; those near x = 0.8 got furthest. With no complete trial
    // to rank, TPE ranks pruned ones by how far they got and proposes near 0.8; a
    // sampler blind to pruned trials would still be drawing from the prior.
    let space = space();
    let tpe = Tpe::default();
    let mut study = Study::builder(&space)
        .sampler(tpe)
        .pruner(Median::new())
        .seed(9)
        .create()
        .expect("study");
    for i in 0..40 {
        let mut point = Point::default();
        point.insert("x", (i as f64 + 0.5) / 40.0);
        study.enqueue(&point).expect("enqueue");
    }
    for _ in 0..40 {
        let trial = study.ask().expect("ask");
        let x: f64 = trial.point().get("x").expect("x");
        let reached = (10.0 - 40.0 * (x - 0.8).abs()).max(0.0) as u64;
        for step in 0..=reached {
            trial.context().report(step, 1.0).expect("report");
        }
        study.tell(trial, Outcome::pruned("budget")).expect("tell");
    }
    let near = (0..30)
        .filter(|_| {
            let trial = study.ask().expect("ask");
            let x: f64 = trial.point().get("x").expect("x");
            study.tell(trial, Outcome::pruned("not run")).expect("tell");
            (x - 0.8).abs() < 0.15
        })
        .count();
    // The prior puts 30 % of its draws there.
    assert!(near >= 20, "only {near} of 30 near 0.8");
}

/// A trial that has run as long as a complete one is not stopped, whatever its pruner
/// says at that step: its work is done (a sweep's program prints its final value as its
/// last step, which may fall on a rung).
#[test]
fn a_trial_that_ran_as_long_as_a_complete_one_ends_complete() {
    // Rungs at steps 1, 2 and 4, the last at the curves' last step.
    let asha = SuccessiveHalving::new()
        .min_resource(MinResource::Steps(1))
        .reduction_factor(2);
    let mut study = Study::builder(&space())
        .sampler(Random)
        .pruner(asha)
        .seed(4)
        .create()
        .expect("study");
    // Reports `scale / step` at `steps`, none of them stopped.
    let goes_on =
        |trial: &hyperflow::AskedTrial, steps: std::ops::RangeInclusive<u64>, scale: f64| {
            for step in steps {
                let stop = trial.context().report(step, scale / step as f64);
                assert!(!stop.expect("report"), "stopped at step {step}");
            }
        };
    for _ in 0..4 {
        let trial = study.ask().expect("ask");
        goes_on(&trial, 1..=4, 1.0);
        study.tell(trial, 0.25).expect("tell");
    }
    // Worst at the rung of step 2, which is not its last: stopped.
    let trial = study.ask().expect("ask");
    assert!(!trial.context().report(1, 0.9).expect("report"));
    assert!(trial.context().report(2, 10.0).expect("report"));
    study.tell(trial, Outcome::pruned("asha")).expect("tell");
    // Ahead at steps 1 to 3, worst at step 4, the rung on the last step: complete.
    let trial = study.ask().expect("ask");
    goes_on(&trial, 1..=3, 0.9);
    assert!(
        !trial.context().report(4, 10.0).expect("report"),
        "stopped at the step complete trials ended at"
    );
    study.tell(trial, 10.0).expect("tell");
}

/// The GP models final values, which pruned trials lack: it counts them as the worst
/// complete trial where they ran, so it does not propose stopped settings again and
/// again (ignoring them, it asked for the one setting always pruned on 18 trials in a
/// row, and for a pruned region on 25 of 25).
#[test]
fn gp_does_not_return_to_pruned_settings() {
    // A grid whose lowest setting, which would be the best, is always pruned.
    let grid = Space::builder().randint("a", 0, 6).build().expect("valid");
    let late = gp_pruned_from(&grid, 1, 12, |p| {
        let a: i64 = p.get("a").expect("a");
        (a != 0).then_some(a as f64)
    });
    assert!(
        late <= 4,
        "{late} of the last 28 asked for the pruned setting"
    );
    // A continuous range whose low end, where the loss would be lowest, is pruned.
    let late = gp_pruned_from(&space(), 2, 15, |p| {
        let x: f64 = p.get("x").expect("x");
        (x >= 0.2).then_some(x)
    });
    assert!(late <= 8, "{late} of the last 25 in the pruned range");
}

/// Runs 40 trials of the GP on `space`, each pruned where `loss` gives none; returns how
/// many trials from number `from` on were pruned.
fn gp_pruned_from(
    space: &Space,
    seed: u64,
    from: usize,
    loss: impl Fn(&Point) -> Option<f64>,
) -> usize {
    let mut study = Study::builder(space)
        .sampler(Gp::new())
        .seed(seed)
        .create()
        .expect("study");
    let mut pruned = 0;
    for n in 0..40 {
        let trial = study.ask().expect("ask");
        match loss(trial.point()) {
            Some(loss) => {
                study.tell(trial, loss).expect("tell");
            }
            None => {
                trial.context().report(0, 100.0).expect("report");
                study.tell(trial, Outcome::pruned("stopped")).expect("tell");
                pruned += usize::from(n >= from);
            }
        }
    }
    pruned
}

#[test]
fn a_replaced_pruner_is_told_the_history() {
    let space = space();
    let mut study = Study::builder(&space)
        .sampler(Random)
        .seed(4)
        .create()
        .expect("study");
    for value in [1.0, 2.0, 3.0] {
        let trial = study.ask().expect("ask");
        for step in 0..3 {
            assert!(!trial.context().report(step, value).expect("report"));
        }
        study.tell(trial, value).expect("tell");
    }
    assert_eq!(study.pruner(), "none");
    study
        .set_pruner(&Median::new().startup_trials(3))
        .expect("untracked");
    assert_eq!(study.pruner(), "median");
    let trial = study.ask().expect("ask");
    assert!(
        trial.context().report(1, 2.5).expect("report"),
        "above the median 2"
    );
}

#[test]
fn tpe_with_pending_and_pruned_trials_keeps_workers_apart() {
    // Four workers, ASHA, TPE with constant liar: running trials count as bad
    // while pruned ones fill the ranking. A check of the bookkeeping (every trial told,
    // none proposed twice, the best region found), not of search quality, which
    // `tpe_learns_from_pruned_trials_where_few_complete` and the benchmark measure.
    let spent = AtomicU64::new(0);
    let space = space();
    let result = fmin_with_context(|p, ctx| train(p, ctx, &spent, curve), &space)
        .algo(Tpe::default())
        .pruner(SuccessiveHalving::new().min_resource(MinResource::Steps(1)))
        .max_evals(120)
        .parallelism(4)
        .seed(21)
        .progress(false)
        .run()
        .expect("search");
    let trials = result.trials();
    assert_eq!(trials.len(), 120);
    let pruned = trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .count();
    assert!(pruned >= 60, "only {pruned} pruned");
    let mut xs: Vec<f64> = trials.iter().map(|t| t.x[0]).collect();
    xs.sort_by(f64::total_cmp);
    assert!(
        xs.windows(2).all(|w| w[0] != w[1]),
        "a point was proposed twice"
    );
    // The optimum is x = 0.3: its final loss is the floor of every curve.
    let floor = curve(0.3, EPOCHS - 1);
    let best = result.best_loss().expect("a complete trial");
    assert!(best - floor < 0.01, "best {best}, floor {floor}");
}
