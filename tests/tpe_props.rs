//! Property tests: whatever the space and the history, TPE (and grid) suggestions lie in
//! the space.

use std::time::Duration;

use hyperflow::Outcome;
use hyperflow::algo::{Grid, Sampler, Tpe};
use hyperflow::rng::TrialRng;
use hyperflow::space::{Dist, Space, SpaceBuilder};
use hyperflow::trials::{Direction, Trial, TrialState, Trials};
use proptest::prelude::*;

/// A parameter declaration; choices carry sub-spaces.
#[derive(Debug, Clone)]
enum Spec {
    Uniform(f64, f64),
    LogUniform(f64, f64),
    QUniform(f64, f64, f64),
    QLogUniform(f64, f64, f64),
    Normal(f64, f64),
    LogNormal(f64, f64),
    RandInt(i64, i64),
    Const,
    Choice(Vec<Vec<Spec>>),
}

fn leaf() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (-100.0..100.0f64, 0.01..100.0f64).prop_map(|(a, w)| Spec::Uniform(a, a + w)),
        (1e-6..10.0f64, 1.5..1e4f64).prop_map(|(a, r)| Spec::LogUniform(a, a * r)),
        (
            -20i32..20,
            1i32..40,
            prop::sample::select(vec![0.05, 0.5, 1.0, 16.0])
        )
            .prop_map(|(a, k, q)| Spec::QUniform(a as f64 * q, (a + k) as f64 * q, q)),
        (
            1i32..20,
            2i32..50,
            prop::sample::select(vec![1.0, 2.0, 0.5])
        )
            .prop_map(|(a, k, q)| Spec::QLogUniform(a as f64 * q, (a + k) as f64 * q, q)),
        (-10.0..10.0f64, 0.01..5.0f64).prop_map(|(m, s)| Spec::Normal(m, s)),
        (-3.0..3.0f64, 0.01..2.0f64).prop_map(|(m, s)| Spec::LogNormal(m, s)),
        (-50i64..50, 1i64..20).prop_map(|(a, k)| Spec::RandInt(a, a + k)),
        Just(Spec::Const),
    ]
}

fn spec() -> impl Strategy<Value = Vec<Spec>> {
    let param = leaf().prop_recursive(2, 24, 3, |inner| {
        prop::collection::vec(prop::collection::vec(inner, 0..3), 1..4).prop_map(Spec::Choice)
    });
    prop::collection::vec(param, 1..6)
}

fn declare(specs: &[Spec], counter: &mut usize) -> SpaceBuilder {
    let mut b = Space::builder();
    for s in specs {
        *counter += 1;
        let name = format!("p{counter}");
        b = match s {
            Spec::Uniform(a, c) => b.uniform(name, *a, *c),
            Spec::LogUniform(a, c) => b.loguniform(name, *a, *c),
            Spec::QUniform(a, c, q) => b.quniform(name, *a, *c, *q),
            Spec::QLogUniform(a, c, q) => b.qloguniform(name, *a, *c, *q),
            Spec::Normal(m, s) => b.normal(name, *m, *s),
            Spec::LogNormal(m, s) => b.lognormal(name, *m, *s),
            Spec::RandInt(a, c) => b.randint(name, *a, *c),
            Spec::Const => b.constant(name, "k"),
            Spec::Choice(options) => {
                let opts: Vec<(String, SpaceBuilder)> = options
                    .iter()
                    .enumerate()
                    .map(|(i, sub)| (format!("o{i}"), declare(sub, counter)))
                    .collect();
                b.choice(name, opts)
            }
        };
    }
    b
}

fn build(specs: &[Spec]) -> Space {
    declare(specs, &mut 0)
        .build()
        .expect("generated spaces are valid")
}

/// A history of `n` trials drawn from the prior, with a mix of states and losses.
fn history(space: &Space, n: usize, seed: u64, direction: Direction) -> Trials {
    let mut h = Trials::new(direction);
    for i in 0..n {
        let mut rng = TrialRng::for_trial(seed, i as u64);
        let x = space.sample_prior(&mut rng);
        let state = match i % 7 {
            5 => TrialState::Running,
            6 => TrialState::Failed,
            _ => TrialState::Complete,
        };
        // Few distinct losses so ties are common.
        let loss = x
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| (v.abs() + 1.0).ln())
            .sum::<f64>()
            .round();
        let trial = Trial::running(i, x.clone(), space.decode(&x));
        let trial = match state {
            TrialState::Complete => trial.finished(Outcome::loss(loss), Duration::ZERO),
            TrialState::Failed => trial.finished(Outcome::failed("failed"), Duration::ZERO),
            _ => trial,
        };
        h.push(trial).expect("numbered in order");
    }
    h
}

fn assert_valid(space: &Space, x: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(x.len(), space.len());
    for (i, p) in space.params().iter().enumerate() {
        let active = match p.parent {
            None => true,
            Some(c) => x[c.param] == c.option as f64,
        };
        if !active {
            prop_assert!(x[i].is_nan(), "{} inactive but {}", p.name, x[i]);
            continue;
        }
        let v = x[i];
        prop_assert!(v.is_finite(), "{} = {}", p.name, v);
        prop_assert_eq!(
            p.dist.snap(v).to_bits(),
            v.to_bits(),
            "{} = {} off its support",
            &p.name,
            v
        );
        if let Dist::LogNormal { .. } = p.dist {
            prop_assert!(v > 0.0);
        }
    }
    let back = space
        .encode(&space.decode(x))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    prop_assert_eq!(bits(&back), bits(x));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn tpe_suggestions_lie_in_the_space(
        specs in spec(),
        n in 0usize..80,
        seed in any::<u64>(),
        maximize in any::<bool>(),
        multivariate in any::<bool>(),
    ) {
        let space = build(&specs);
        let direction = if maximize { Direction::Maximize } else { Direction::Minimize };
        let h = history(&space, n, seed, direction);
        let tpe = Tpe::new().n_startup(3).multivariate(multivariate);
        for i in 0..3 {
            let x = tpe
                .suggest_once(&space, &h, &mut TrialRng::for_trial(seed, 1000 + i))
                .expect("TPE searches any space");
            assert_valid(&space, &x)?;
        }
    }

    #[test]
    fn grid_suggestions_lie_in_the_space(specs in spec(), n in 0usize..30, seed in any::<u64>()) {
        let space = build(&specs);
        if Grid::size(&space).is_ok() {
            let h = history(&space, n, seed, Direction::Minimize);
            let x = Grid
                .suggest_once(&space, &h, &mut TrialRng::for_trial(seed, 7))
                .expect("a discrete space has a grid");
            assert_valid(&space, &x)?;
        }
    }
}
