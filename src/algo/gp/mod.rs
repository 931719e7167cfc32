//! Gaussian-process Bayesian optimization (`Gp`).
//!
//! - `dims`: which parameters are modelled and their unit-scaled features;
//! - `kernel`: Matérn 5/2 with per-dimension length scales;
//! - `model`: the GP, its hyperparameters fitted by maximum a posteriori with analytic
//!   gradients, and the Cholesky factorization predictions use;
//! - `acquisition`: log expected improvement and its gradient;
//! - `optimize`: multi-start maximization of the acquisition over mixed spaces;
//! - `lbfgs`: the bounded quasi-Newton minimizer both fits use; `qmc`: scrambled Halton
//!   candidates.

mod acquisition;
mod dims;
mod kernel;
mod lbfgs;
mod model;
mod optimize;
mod qmc;

use dims::{Dim, Kind};
use lbfgs::Lbfgs;
use model::Model;
use optimize::{Budget, Optimizer};

use super::{AlgoError, Sampler, Session};
use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::{Trial, TrialState, Trials};

/// The Gaussian-process sampler: Bayesian optimization with a Matérn 5/2 kernel and log
/// expected improvement. Strong on small budgets of smooth problems; its cost per
/// suggestion grows with the cube of the number of finished trials (about 10 ms at 200
/// trials in 10 dimensions, see the README), so long searches are TPE's ground.
///
/// After [`n_startup`](Gp::n_startup) complete trials drawn from the prior, each
/// suggestion:
///
/// 1. scales every modelled parameter to `[0, 1]` (log kinds in log space; integers,
///    quantized kinds and numeric choices as ordered grids of cells; other choices as
///    unordered options) and standardizes the scores of the complete trials;
/// 2. fits a GP with a Matérn 5/2 kernel, one length scale per parameter (a Hamming
///    distance for unordered choices), a signal and a noise variance, by maximizing the
///    marginal likelihood times weak priors (optuna's) with L-BFGS and analytic gradients;
/// 3. maximizes the log expected improvement over the best score: quasi-random
///    candidates, then local quasi-Newton searches in the real parameters and exhaustive
///    or stepwise searches of the discrete ones (see [`n_candidates`](Gp::n_candidates),
///    [`n_starts`](Gp::n_starts)).
///
/// **Conditional spaces.** The GP models the parameters active in every trial: those not
/// under a `choice` (a choice with sub-spaces is itself modelled). Parameters under a
/// choice are drawn from their prior whenever their option is proposed. TPE models
/// conditional spaces fully and is the better sampler for them.
///
/// **Parallel workers.** Pending trials join the model as "Kriging believers": at their
/// points the GP is told the value it predicts there. Predictions elsewhere keep their
/// mean but lose the uncertainty the pending evaluation will remove, so the expected
/// improvement near a pending point collapses and concurrent suggestions spread out,
/// without pretending to know how the pending trial will turn out (a lie of the best
/// value would make its neighbourhood look better than the data say; optuna's sampler
/// averages over sampled outcomes instead, at many times the cost).
/// **Pruned trials** have no final value, which is what the GP models; each counts as the
/// worst complete trial at its point, so that a stopped setting is not proposed again
/// (ignored, a pruned point looked as promising as before, and on a small grid the GP
/// proposed it again and again). Failed and killed trials are ignored. (With a pruner
/// [`Auto`](super::Auto) hands over to TPE, which ranks pruned trials by how far they
/// got.)
///
/// **Reproducibility.** A suggestion depends only on the history and the trial's random
/// stream. The hyperparameter fit is warm-started, so that a suggestion takes a few
/// quasi-Newton iterations instead of a fit from scratch: the session keeps a chain of
/// fits, one per complete trial of the finished prefix of the history (every trial
/// before the first pending one), each started from the one before. A fresh session on a
/// loaded study replays the chain once, on its first suggestion.
///
/// ```
/// use hyperflow::algo::{Gp, Sampler};
/// use hyperflow::rng::TrialRng;
/// use hyperflow::space::Space;
/// use hyperflow::trials::{Direction, Trials};
///
/// let space = Space::builder().uniform("x", -5.0, 5.0).randint("layers", 1, 9).build()?;
/// let gp = Gp::new().n_startup(8).n_candidates(512);
/// let mut session = gp.session(&space)?;
/// let history = Trials::new(Direction::Minimize);
/// let x = session.suggest(&history, &mut TrialRng::for_trial(7, 0));
/// assert_eq!(space.encode(&space.decode(&x))?, x);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gp {
    n_startup: usize,
    n_candidates: usize,
    n_starts: usize,
    deterministic: bool,
    constant_liar: bool,
}

impl Default for Gp {
    fn default() -> Self {
        Gp {
            n_startup: 10,
            n_candidates: 1024,
            n_starts: 10,
            deterministic: false,
            constant_liar: true,
        }
    }
}

impl Gp {
    /// The default configuration (same as [`Gp::default`]).
    pub fn new() -> Self {
        Gp::default()
    }

    /// Complete trials drawn from the prior before the GP takes over. Default 10
    /// (optuna's): a model of fewer points mostly fits its own hyperparameters.
    pub fn n_startup(mut self, n: usize) -> Self {
        self.n_startup = n;
        self
    }

    /// Quasi-random candidates scored per suggestion before the local searches. Default
    /// 1024 (optuna: 2048; at the same result quality, half the cost: the local searches
    /// do the rest). Values below 1 are treated as 1.
    pub fn n_candidates(mut self, n: usize) -> Self {
        self.n_candidates = n.max(1);
        self
    }

    /// Local searches per suggestion: from the best candidate, from the best trial, and
    /// from candidates drawn in proportion to their expected improvement. Default 10
    /// (optuna's). Values below 1 are treated as 1.
    pub fn n_starts(mut self, n: usize) -> Self {
        self.n_starts = n.max(1);
        self
    }

    /// Whether the objective is deterministic: the noise variance is then held at its
    /// floor (1e-6 of the scores' variance) instead of fitted, and the GP interpolates
    /// the observations. Default off.
    pub fn deterministic(mut self, on: bool) -> Self {
        self.deterministic = on;
        self
    }

    /// Whether pending trials join the model as Kriging believers (see [`Gp`]) so that
    /// concurrent suggestions differ. Default on; it changes nothing in sequential
    /// searches.
    pub fn constant_liar(mut self, on: bool) -> Self {
        self.constant_liar = on;
        self
    }
}

impl Sampler for Gp {
    fn name(&self) -> &str {
        super::Algorithm::Gp.as_str()
    }

    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError> {
        let mut model = Model::default();
        model.set_noise_free(self.deterministic);
        Ok(Box::new(GpSession {
            cfg: self.clone(),
            space: space.clone(),
            dims: dims::dims(space),
            chain: Chain::default(),
            holds: Holds::Nothing,
            model,
            opt: Optimizer::default(),
            train: Training::default(),
        }))
    }
}

/// The chain of warm-started fits over the finished prefix of the history.
#[derive(Debug, Default)]
struct Chain {
    /// Every trial numbered below this is finished and folded in.
    settled: usize,
    /// How many of them are complete.
    complete: usize,
    /// The hyperparameters fitted on those (empty before the first fit).
    theta: Vec<f64>,
    /// The curvature pairs of the last fit, where the next one starts.
    lbfgs: Lbfgs,
}

/// What the model is conditioned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// Nothing usable.
    Nothing,
    /// The chain's training set (the complete and pruned trials of the settled prefix)
    /// at the chain's hyperparameters.
    Chain,
    /// Something else (more complete trials, pending ones).
    Other,
}

/// The training set being assembled, with its buffers.
#[derive(Debug, Default)]
struct Training {
    /// Features, row-major.
    rows: Vec<f64>,
    scores: Vec<f64>,
    /// Standardized scores (then the believers' values).
    y: Vec<f64>,
    /// Scratch for predictions.
    t: Vec<f64>,
}

/// A GP search in progress.
struct GpSession {
    cfg: Gp,
    space: Space,
    dims: Vec<Dim>,
    chain: Chain,
    holds: Holds,
    model: Model,
    opt: Optimizer,
    train: Training,
}

impl Session for GpSession {
    fn observe(&mut self, history: &Trials, number: usize) {
        let _ = history;
        // A finished trial of the settled prefix changed (not something a study does):
        // the chain no longer describes the history, so it starts over.
        if number < self.chain.settled {
            self.chain = Chain::default();
            self.holds = Holds::Nothing;
        }
    }

    fn suggest(&mut self, history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        let complete = history.count(TrialState::Complete);
        if self.dims.is_empty() || complete < self.cfg.n_startup.max(1) {
            return self.space.sample_prior(rng);
        }
        self.advance(history);
        let Some(theta) = self.condition(history) else {
            return self.space.sample_prior(rng);
        };
        let nd = self.dims.len();
        // The threshold and the incumbent: the best complete trial (the earliest on ties).
        let best = (0..self.train.y.len())
            .min_by(|&a, &b| self.train.y[a].total_cmp(&self.train.y[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        self.opt.acq.best = self.train.y[best];
        let incumbent = self.train.rows[best * nd..(best + 1) * nd].to_vec();
        if self.cfg.constant_liar {
            self.believe_pending(history, &theta);
        }
        let budget = Budget {
            candidates: self.cfg.n_candidates,
            starts: self.cfg.n_starts,
        };
        let u = self
            .opt
            .maximize(&self.model, &self.dims, &incumbent, budget, rng);
        let mut x = vec![f64::NAN; self.space.len()];
        for (dim, &u) in self.dims.iter().zip(u) {
            x[dim.param] = dim.value(u);
        }
        // Constants, and parameters under the proposed options: from the prior.
        for (i, p) in self.space.params().iter().enumerate() {
            if x[i].is_nan() && self.space.is_active(i, &x) {
                x[i] = p.dist.sample_prior(rng);
            }
        }
        // With a real dimension, a point asked before comes back only when the
        // acquisition's maximum did not move (an incumbent the optimizer could not better,
        // or concurrent suggestions without believers): a prior draw instead. (Grids
        // repeat points by design once few are left.)
        let same = |t: &Trial| {
            t.x.iter()
                .map(|v| v.to_bits())
                .eq(x.iter().map(|v| v.to_bits()))
        };
        if self.dims.iter().any(|d| d.kind == Kind::Real) && history.all().iter().any(same) {
            return self.space.sample_prior(rng);
        }
        x
    }
}

impl GpSession {
    /// Complete trials the chain starts fitting at: a GP of fewer points is not fitted.
    fn fit_from(&self) -> usize {
        self.cfg.n_startup.max(2)
    }

    /// Folds the trials that finished since the last suggestion into the chain, up to the
    /// first pending trial: one warm-started fit per complete trial.
    fn advance(&mut self, history: &Trials) {
        let trials = history.all();
        let from = self.chain.settled.min(trials.len());
        let end = trials[from..]
            .iter()
            .position(|t| t.state == TrialState::Running)
            .map_or(trials.len(), |p| from + p);
        for (j, trial) in trials.iter().enumerate().take(end).skip(from) {
            if history.score(trial).is_none() {
                if trial.state == TrialState::Pruned {
                    // Part of the training set from now on: not yet in the model.
                    self.holds = Holds::Other;
                }
                continue;
            }
            self.chain.complete += 1;
            if self.chain.complete >= self.fit_from() {
                self.load(history, j + 1);
                let fitted = self.model.fit(&mut self.chain.theta, &mut self.chain.lbfgs);
                self.holds = if fitted { Holds::Chain } else { Holds::Nothing };
            }
        }
        self.chain.settled = end;
    }

    /// Conditions the model on every complete trial and returns its hyperparameters:
    /// the chain's when it covers them all, else fitted from the chain's.
    fn condition(&mut self, history: &Trials) -> Option<Vec<f64>> {
        let beyond = history.all()[self.chain.settled..]
            .iter()
            .any(|t| history.score(t).is_some() || t.state == TrialState::Pruned);
        let mut theta = if self.chain.theta.is_empty() {
            model::default_theta(self.dims.len())
        } else {
            self.chain.theta.clone()
        };
        if !beyond && self.holds == Holds::Chain {
            return Some(theta);
        }
        let n = self.load(history, history.len());
        let ok = if beyond && n >= self.fit_from() {
            // A copy of the chain's curvature: the chain goes on from its own.
            let mut lbfgs = self.chain.lbfgs.clone();
            self.model.fit(&mut theta, &mut lbfgs)
        } else {
            self.model.condition(&theta)
        };
        self.holds = if ok && !beyond {
            Holds::Chain
        } else {
            Holds::Other
        };
        (ok && n > 0).then_some(theta)
    }

    /// Loads the complete trials numbered below `end` into the model (standardized
    /// scores), and the pruned ones at the worst complete score; returns how many.
    fn load(&mut self, history: &Trials, end: usize) -> usize {
        let Training {
            rows, scores, y, ..
        } = &mut self.train;
        rows.clear();
        scores.clear();
        let trials = &history.all()[..end];
        let worst = trials
            .iter()
            .filter_map(|t| history.score(t))
            .max_by(f64::total_cmp);
        for trial in trials {
            let score = match (history.score(trial), trial.state) {
                (Some(score), _) => score,
                (None, TrialState::Pruned) => match worst {
                    Some(worst) => worst,
                    None => continue,
                },
                (None, _) => continue,
            };
            if trial.x.len() != self.space.len() {
                continue;
            }
            rows.extend(self.dims.iter().map(|d| d.feature(trial.x[d.param])));
            scores.push(score);
        }
        standardize(scores, y);
        self.model.set_data(&self.dims, rows, y);
        self.holds = Holds::Other;
        y.len()
    }

    /// Adds the pending trials to the conditioned model at its predictions there.
    fn believe_pending(&mut self, history: &Trials, theta: &[f64]) {
        let Training { rows, y, t, .. } = &mut self.train;
        let (nd, complete) = (self.dims.len(), y.len());
        t.resize(complete, 0.0);
        for trial in history.running() {
            if trial.x.len() != self.space.len() {
                continue;
            }
            let at = rows.len();
            rows.extend(self.dims.iter().map(|d| d.feature(trial.x[d.param])));
            y.push(self.model.mean(&rows[at..at + nd], t));
        }
        if y.len() == complete {
            return;
        }
        self.model.set_data(&self.dims, rows, y);
        self.holds = Holds::Other;
        if !self.model.condition(theta) {
            // Not positive definite with the believers (never seen in practice): go on
            // without them.
            rows.truncate(complete * nd);
            y.truncate(complete);
            self.model.set_data(&self.dims, rows, y);
            self.model.condition(theta);
        }
    }
}

/// Standardizes `scores` into `y`: zero mean, unit variance (all zeros when the scores
/// are all equal). Scaled by the largest magnitude first so that no square overflows.
fn standardize(scores: &[f64], y: &mut Vec<f64>) {
    y.clear();
    let n = scores.len() as f64;
    let scale = scores.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    let scale = if scale > 0.0 && scale.is_finite() {
        scale
    } else {
        1.0
    };
    let mean = scores.iter().map(|s| s / scale).sum::<f64>() / n;
    let var = scores
        .iter()
        .map(|s| (s / scale - mean).powi(2))
        .sum::<f64>()
        / n;
    let sd = var.sqrt().max(1e-10);
    y.extend(scores.iter().map(|s| (s / scale - mean) / sd));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Study;

    fn sphere(p: &crate::Point) -> f64 {
        p.iter()
            .map(|(_, v)| (v.as_f64().expect("numeric") - 0.3).powi(2))
            .sum()
    }

    fn cube(dims: usize, low: f64) -> Space {
        (0..dims)
            .fold(Space::builder(), |b, i| {
                b.uniform(format!("x{i}"), low, 1.0)
            })
            .build()
            .expect("valid")
    }

    /// A study whose trials are evaluated three at a time and told out of order, with a
    /// failed trial among them; the last `pending` trials asked are left running.
    fn parallel_study(space: &Space, gp: &Gp, asks: usize, pending: usize) -> Study {
        let mut study = Study::builder(space)
            .sampler(gp.clone())
            .seed(3)
            .create()
            .expect("a valid study");
        let told = asks - pending;
        let mut running = Vec::new();
        for i in 0..asks {
            let trial = study.ask().expect("ask");
            if i >= told {
                continue;
            }
            running.push((trial.number(), sphere(trial.point())));
            if running.len() == 3 || i + 1 == told {
                // The newest first, then the oldest: completions out of order.
                for k in [2, 0, 1] {
                    if let Some(&(number, value)) = running.get(k) {
                        let outcome = if number == 7 {
                            crate::Outcome::failed("boom")
                        } else {
                            crate::Outcome::loss(value)
                        };
                        study.tell_number(number, outcome).expect("tell");
                    }
                }
                running.clear();
            }
        }
        study
    }

    #[test]
    fn a_kept_session_matches_a_fresh_one_bit_for_bit() {
        let space = cube(3, -1.0);
        let gp = Gp::new().n_startup(5).n_candidates(128);
        for pending in [0, 2] {
            let mut study = parallel_study(&space, &gp, 16 + pending, pending);
            assert_eq!(study.trials().count(TrialState::Running), pending);
            let n = study.trials().len();
            let fresh = gp
                .suggest_once(
                    &space,
                    study.trials(),
                    &mut TrialRng::for_trial(3, n as u64),
                )
                .expect("any space");
            let kept = study.ask().expect("ask");
            let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&study.trials().all()[kept.number()].x), bits(&fresh));
        }
    }

    #[test]
    fn pending_trials_push_concurrent_suggestions_apart() {
        let space = cube(2, 0.0);
        let gp = Gp::new().n_startup(6).n_candidates(256);
        let mut study = parallel_study(&space, &gp, 12, 0);
        let rng = TrialRng::for_trial(5, 12);
        let first = gp
            .suggest_once(&space, study.trials(), &mut rng.clone())
            .expect("any space");
        // The same stream again with the first point pending: it must go elsewhere.
        study.enqueue(&space.decode(&first)).expect("a valid point");
        let _pending = study.ask().expect("ask");
        let second = gp
            .suggest_once(&space, study.trials(), &mut rng.clone())
            .expect("any space");
        let dist = first
            .iter()
            .zip(&second)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(dist > 0.02, "{first:?} then {second:?}");
        // Without believers the same stream lands on the pending point again, which is
        // never proposed twice: a prior draw instead.
        let liarless = gp.clone().constant_liar(false);
        let again = liarless
            .suggest_once(&space, study.trials(), &mut rng.clone())
            .expect("any space");
        assert_ne!(again, first);
    }

    #[test]
    fn standardizing_survives_huge_and_equal_scores() {
        let mut y = Vec::new();
        standardize(&[f64::MAX, -f64::MAX, 0.0], &mut y);
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        assert!((y[0] + y[1]).abs() < 1e-12 && y[0] > 1.0);
        standardize(&[3.0, 3.0], &mut y);
        assert_eq!(y, [0.0, 0.0]);
    }
}
