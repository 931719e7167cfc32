//! Statistical checks of search quality with fixed seeds: each would fail for a sampler
//! that ignores its history (random search), so a stub cannot pass them.

use hyperflow::algo::{Random, Tpe};
use hyperflow::{Point, Space};
use rand::RngExt;

#[path = "common/search.rs"]
mod search;

use search::{best_of, median};

/// TPE against random search on the same seeds: how many seeds TPE wins, and both medians.
fn duel(space: &Space, f: &dyn Fn(&Point) -> f64, evals: usize) -> (usize, f64, f64) {
    let seeds = 0..12u64;
    let tpe: Vec<f64> = seeds
        .clone()
        .map(|s| best_of(Box::new(Tpe::default()), space, f, s, evals))
        .collect();
    let random: Vec<f64> = seeds
        .map(|s| best_of(Box::new(Random), space, f, s, evals))
        .collect();
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

/// A conditional space whose branches deceive: `wide` is better for most of its points and
/// cannot go below 0.25; `narrow` is worse almost everywhere but holds the optimum 0 in a
/// well that covers about a sixth of its square. Choosing branches by how often they were
/// good so far never leaves `wide` once it fills the good set (10 of 20 seeds stayed there
/// before branches were chosen by Thompson sampling on their records).
#[test]
fn tpe_leaves_a_branch_that_only_looked_better() {
    let space = Space::builder()
        .choice(
            "branch",
            [
                (
                    "wide",
                    Space::builder()
                        .uniform("a1", 0.0, 1.0)
                        .uniform("a2", 0.0, 1.0),
                ),
                (
                    "narrow",
                    Space::builder()
                        .uniform("b1", 0.0, 1.0)
                        .uniform("b2", 0.0, 1.0),
                ),
            ],
        )
        .build()
        .expect("valid");
    let f = |p: &Point| {
        let get = |name: &str| p.get::<f64>(name).expect("active");
        if p.get::<String>("branch").expect("always active") == "wide" {
            0.25 + 0.5 * ((get("a1") - 0.3).powi(2) + (get("a2") - 0.6).powi(2))
        } else {
            let d2 = (get("b1") - 0.7).powi(2) + (get("b2") - 0.2).powi(2);
            1.0 - (-d2 / (2.0 * 0.2f64.powi(2))).exp()
        }
    };
    let wrong = (100..120)
        .filter(|&seed| best_of(Box::new(Tpe::default()), &space, &f, seed, 100) >= 0.25)
        .count();
    assert!(
        wrong <= 8,
        "the best trial stayed in the wrong branch for {wrong} of 20 seeds"
    );
}

/// A choice among 20 options that each move the optimum of two reals: the right option
/// must be found and then exploited. Categorical kernels that keep a fixed share of their
/// mass on every option blur the good set across options: TPE with them did no better than
/// random search here (0.069 against 0.071); with kernels that sharpen as observations
/// accumulate it is 4.5 times lower.
#[test]
fn tpe_exploits_the_right_option_of_many() {
    let options: Vec<String> = (0..20).map(|k| format!("op{k:02}")).collect();
    let space = Space::builder()
        .choice("op", options.iter().map(String::as_str).collect::<Vec<_>>())
        .uniform("x", 0.0, 1.0)
        .uniform("y", 0.0, 1.0)
        .build()
        .expect("valid");
    // A fixed offset and centre per option (drawn once from a seeded stream); option 13
    // reaches 0, the others stay at or above 0.15.
    let mut rng = hyperflow::rng::TrialRng::from_seed(20240613);
    let draws: Vec<(f64, f64, f64)> = (0..20)
        .map(|k| {
            let offset = if k == 13 {
                0.0
            } else {
                rng.random_range(0.15..1.0)
            };
            (
                offset,
                rng.random_range(0.2..0.8),
                rng.random_range(0.2..0.8),
            )
        })
        .collect();
    let f = |p: &Point| {
        let k: usize = p.get::<String>("op").expect("active")[2..]
            .parse()
            .expect("a number");
        let (offset, cx, cy) = draws[k];
        let (x, y): (f64, f64) = (p.get("x").expect("active"), p.get("y").expect("active"));
        offset + (x - cx).powi(2) + (y - cy).powi(2)
    };
    let tpe: Vec<f64> = (0..20)
        .map(|seed| best_of(Box::new(Tpe::default()), &space, &f, seed, 100))
        .collect();
    let random: Vec<f64> = (0..20)
        .map(|seed| best_of(Box::new(Random), &space, &f, seed, 100))
        .collect();
    let (tpe, random) = (median(tpe), median(random));
    assert!(
        tpe * 3.0 < random,
        "median regret: TPE {tpe}, random {random}"
    );
}
