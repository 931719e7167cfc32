//! Helpers of the search-quality tests: a search's best value, medians.

use hyperflow::algo::Sampler;
use hyperflow::{Point, Space, Study};

/// The best value `sampler` finds in `evals` evaluations of `f`, with `seed`.
pub fn best_of(
    sampler: Box<dyn Sampler>,
    space: &Space,
    f: &dyn Fn(&Point) -> f64,
    seed: u64,
    evals: usize,
) -> f64 {
    let mut study = Study::builder(space)
        .boxed_sampler(sampler)
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

/// The median of `v` (the mean of the middle two for an even length).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}
