//! Statistical checks of search quality with fixed seeds: each would fail for a sampler
//! that ignores its history (random search), so a stub cannot pass them.

use hyperflow::algo::{Random, Sampler, Tpe};
use hyperflow::{Point, Space, Study};

/// The best value `sampler` finds in `evals` evaluations of `f`, with `seed`.
fn best_of(
    sampler: impl Sampler + 'static,
    space: &Space,
    f: &dyn Fn(&Point) -> f64,
    seed: u64,
    evals: usize,
) -> f64 {
    let mut study = Study::builder(space)
        .sampler(sampler)
        .seed(seed)
        .create()
        .expect("a study of a valid space");
    for _ in 0..evals {
        let trial = study.ask().expect("ask");
        let value = f(trial.point());
        study.tell(trial, value).expect("tell");
    }
    study
        .best()
        .and_then(|t| t.loss)
        .expect("every trial completes")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

/// TPE against random search on the same seeds: how many seeds TPE wins, and both medians.
fn duel(space: &Space, f: &dyn Fn(&Point) -> f64, evals: usize) -> (usize, f64, f64) {
    let seeds = 0..12u64;
    let tpe: Vec<f64> = seeds
        .clone()
        .map(|s| best_of(Tpe::default(), space, f, s, evals))
        .collect();
    let random: Vec<f64> = seeds.map(|s| best_of(Random, space, f, s, evals)).collect();
    let wins = tpe.iter().zip(&random).filter(|(t, r)| t < r).count();
    (wins, median(tpe), median(random))
}

#[test]
fn tpe_beats_random_search_on_a_continuous_problem() {
    // A shifted, anisotropic bowl in 4 dimensions.
    let space = (1..=4)
        .fold(Space::builder(), |b, i| {
            b.uniform(format!("x{i}"), -5.0, 5.0)
        })
        .build()
        .expect("valid");
    let f = |p: &Point| {
        (1..=4)
            .map(|i| {
                let x: f64 = p.get(&format!("x{i}")).expect("active");
                f64::from(i) * (x - 1.5).powi(2)
            })
            .sum::<f64>()
    };
    let (wins, tpe, random) = duel(&space, &f, 80);
    // Random search wins about half of the seeds; TPE should win nearly all of them,
    // and its median should be several times lower.
    assert!(wins >= 10, "TPE won {wins} of 12 seeds ({tpe} vs {random})");
    assert!(
        tpe * 3.0 < random,
        "median best: TPE {tpe}, random {random}"
    );
}

#[test]
fn tpe_beats_random_search_on_log_scales_and_choices() {
    let space = Space::builder()
        .loguniform("lr", 1e-6, 1.0)
        .choice("act", ["relu", "tanh", "sigmoid", "gelu"])
        .quniform("units", 16.0, 512.0, 16.0)
        .build()
        .expect("valid");
    let f = |p: &Point| {
        let lr: f64 = p.get("lr").expect("active");
        let units: f64 = p.get("units").expect("active");
        let act = match p.get::<String>("act").expect("active").as_str() {
            "gelu" => 0.0,
            "relu" => 0.3,
            _ => 1.0,
        };
        (lr.log10() + 3.3).powi(2) + act + ((units - 208.0) / 100.0).powi(2)
    };
    let (wins, tpe, random) = duel(&space, &f, 60);
    assert!(wins >= 9, "TPE won {wins} of 12 seeds ({tpe} vs {random})");
    assert!(
        tpe * 2.0 < random,
        "median best: TPE {tpe}, random {random}"
    );
}
