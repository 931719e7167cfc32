//! Tree-structured Parzen Estimator (TPE).

mod bad_set;
mod curve;
mod index;
pub(super) mod math;
mod parzen;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BinaryHeap, HashSet};
use std::hash::{Hash, Hasher};

use bad_set::BadSet;
use index::{HistoryIndex, Pruned};
use parzen::{DimModel, Parzen};

use rand::RngExt;

use super::{AlgoError, Sampler, Session};
use crate::rng::TrialRng;
use crate::space::{Condition, Space};
use crate::trials::{Direction, Trial, Trials};

/// With the liar, pending trials count towards [`Tpe::n_startup`] once this many trials
/// have results: parallel workers then stop drawing from the prior soon after `n_startup`
/// trials were asked, as one worker does, instead of after `n_startup + workers - 1`.
const RESULTS_BEFORE_PENDING_COUNT: usize = 5;

/// With the liar, each pending trial's kernel in `g` is this many times as wide as the
/// good set's kernels (their mean width, per dim): it keeps the next suggestions away
/// from the whole region a pending trial explores, at the scale `l` draws candidates.
/// Kernels as narrow as the bad set's neighbour widths barely repel a candidate in a few
/// dims (measured with `examples/parallel_quality.rs`: 3 to 6 were alike and better than
/// 1 or 2).
const PENDING_WIDTH: f64 = 4.0;

/// How many of the finished trials form the "good" set that `l(x)` is fitted to.
///
/// Both rules round up and are capped, so the good set grows with the history at first and
/// then stays small and sharp: a capped good set keeps modelling the best region instead of
/// an ever larger "better than average" one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gamma {
    /// `min(ceil(beta * N), cap)`: optuna's rule (`beta = 0.1, cap = 25`).
    Linear {
        /// Fraction of the trials that are "good".
        beta: f64,
        /// Largest good set.
        cap: usize,
    },
    /// `min(ceil(beta * sqrt(N)), cap)`: hyperopt's rule (`beta = 0.25, cap = 25`).
    Sqrt {
        /// Multiplier of `sqrt(N)`.
        beta: f64,
        /// Largest good set.
        cap: usize,
    },
}

impl Gamma {
    /// hyperflow's default split, `min(ceil(0.15 N), 25)`: Watanabe (2023) recommends a
    /// linear split with beta between 0.1 and 0.15; on every problem of the benchmark suite
    /// 0.15 gave a lower median regret than 0.1, also over 60 seeds not used for tuning.
    pub const DEFAULT: Gamma = Gamma::Linear {
        beta: 0.15,
        cap: 25,
    };
    /// optuna's split, `min(ceil(0.1 N), 25)`.
    pub const OPTUNA: Gamma = Gamma::Linear { beta: 0.1, cap: 25 };
    /// hyperflow's split once a search has pruned trials, optuna's `min(ceil(0.1 N), 25)`:
    /// a pruned search counts many trials that stopped early, and the smaller good set
    /// was as good or better on the pruning benchmark's real problems with ASHA and
    /// Hyperband over 120 seeds, better beyond noise in three of twelve (problem, pruner)
    /// pairs and worse in one (`bench/prune/RESULTS.md`).
    pub const PRUNED: Gamma = Gamma::OPTUNA;
    /// hyperopt's split, `min(ceil(0.25 sqrt(N)), 25)`.
    pub const HYPEROPT: Gamma = Gamma::Sqrt {
        beta: 0.25,
        cap: 25,
    };

    /// The size of the good set among `n` finished trials: at least 1 and at most `n`
    /// (for `n >= 1`).
    pub fn n_below(&self, n: usize) -> usize {
        let (raw, cap) = match *self {
            Gamma::Linear { beta, cap } => (beta * n as f64, cap),
            Gamma::Sqrt { beta, cap } => (beta * (n as f64).sqrt(), cap),
        };
        // Non-finite or negative beta gives NaN/negative here: `as` saturates to 0.
        (raw.ceil() as usize).min(cap).clamp(1.min(n), n)
    }
}

/// How the width of each observation's kernel is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bandwidth {
    /// The larger distance to the neighbouring observations (optuna's rule); the bounds
    /// count as neighbours of the extreme points only with
    /// [`consider_endpoints`](Tpe::consider_endpoints). Adapts to the local density of
    /// observations: narrow where the search has concentrated.
    Neighbor,
    /// As [`Neighbor`](Bandwidth::Neighbor), but the prior mean is inserted among the
    /// observations as an extra neighbour (hyperopt's rule).
    HyperoptNeighbor,
    /// One width per dimension, `0.2 * K^(-1/(D+4)) * range` (Scott's rule as in optuna's
    /// multivariate TPE before 5.0), shared by all kernels.
    Scott,
}

/// The TPE sampler.
///
/// After [`n_startup`](Tpe::n_startup) trials drawn from the prior, each suggestion ranks
/// the finished trials, fits a Parzen estimator `l(x)` to the best ones (the split is set
/// by [`gamma`](Tpe::gamma), or [`pruned_gamma`](Tpe::pruned_gamma) once trials were
/// pruned) and `g(x)` to the rest, draws
/// [`n_candidates`](Tpe::n_candidates) points from `l` and returns the one maximizing
/// `l(x) / g(x)`.
///
/// - Log kinds are modelled in log space; quantized and integer kinds score a candidate by
///   the probability mass of its grid cell; `choice` uses a smoothed categorical kernel;
///   `normal`/`lognormal` use their Gaussian prior as the prior kernel (unbounded).
/// - Conditional spaces: parameters active under the same `choice` option form a group.
///   In multivariate mode (the default) each group is modelled jointly (a product kernel per
///   trial) on the trials where it was active; groups whose option was not chosen are left
///   inactive. Independent mode models every parameter on its own, as hyperopt does.
/// - Once a trial was pruned, a suggestion in a space of discrete parameters without
///   conditions is not a point asked before, unless every candidate and as many draws
///   from the prior were (the space nearly spent): a repeat would run a good point to
///   the end again for nothing.
/// - Pending trials (asked, not yet finished) count as bad ("constant liar"), so that
///   parallel workers asking at the same time are pushed apart: each adds a kernel to
///   `g` 4 times as wide as the good set's kernels, which repels candidates from the
///   region it explores. With `P` trials pending and `N` with results, the good set is
///   also made smaller, by `(N / (N + P))^2`: what the good trials predict is `P` trials
///   out of date, and sharper exploitation of the best ones paid off
///   (`examples/parallel_quality.rs`). Once [`n_startup`](Tpe::n_startup) trials were
///   asked and five have results, the model starts. Without pending trials (one worker)
///   none of this applies: sequential searches are unchanged.
///
/// A search's [`Session`] keeps its estimator of the bad set (nearly the whole history)
/// between suggestions and only inserts and removes the kernels of the trials that changed
/// (those it was told of through [`Session::observe`]). The result is exactly that of a fit
/// from scratch, so suggestions do not depend on what the session did before. The session
/// also keeps the bad set ordered along two Morton curves, whose kernels next to a candidate bound `g` from below: candidates
/// are fully scored only while their bound can still beat the best (branch and bound,
/// exact), about 4 of 24 once the history is long (README, "TPE time per suggestion").
///
/// ```
/// use hyperflow::algo::{Sampler, Tpe, Gamma};
/// use hyperflow::rng::TrialRng;
/// use hyperflow::space::Space;
/// use hyperflow::trials::{Direction, Trials};
///
/// let space = Space::builder().uniform("x", -5.0, 5.0).loguniform("lr", 1e-5, 1.0).build()?;
/// let tpe = Tpe::new().n_startup(5).gamma(Gamma::OPTUNA).n_candidates(32);
/// let mut session = tpe.session(&space)?;
/// let history = Trials::new(Direction::Minimize);
/// let x = session.suggest(&history, &mut TrialRng::for_trial(7, 0));
/// assert_eq!(space.encode(&space.decode(&x))?, x);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tpe {
    pub(crate) n_startup: usize,
    pub(crate) gamma: Gamma,
    pub(crate) pruned_gamma: Gamma,
    pub(crate) n_candidates: usize,
    pub(crate) prior_weight: f64,
    pub(crate) bandwidth: Bandwidth,
    pub(crate) magic_clip: bool,
    pub(crate) min_bandwidth: f64,
    pub(crate) consider_endpoints: bool,
    pub(crate) forgetting: Option<usize>,
    pub(crate) multivariate: bool,
    pub(crate) constant_liar: bool,
}

impl Default for Tpe {
    fn default() -> Self {
        Tpe {
            n_startup: 10,
            gamma: Gamma::DEFAULT,
            pruned_gamma: Gamma::PRUNED,
            n_candidates: 24,
            prior_weight: 1.0,
            bandwidth: Bandwidth::Neighbor,
            magic_clip: true,
            min_bandwidth: 0.01,
            consider_endpoints: false,
            forgetting: Some(25),
            multivariate: true,
            constant_liar: true,
        }
    }
}

impl Tpe {
    /// The default configuration (same as [`Tpe::default`]).
    pub fn new() -> Self {
        Tpe::default()
    }

    /// hyperopt 0.3's TPE: independent per parameter, 20 startup trials, the `sqrt` split
    /// `min(ceil(0.25 sqrt(N)), 25)`, hyperopt's neighbour bandwidths. For comparisons;
    /// categoricals and integers still use this crate's estimators.
    pub fn hyperopt_compat() -> Self {
        Tpe {
            n_startup: 20,
            gamma: Gamma::HYPEROPT,
            pruned_gamma: Gamma::HYPEROPT,
            bandwidth: Bandwidth::HyperoptNeighbor,
            multivariate: false,
            ..Tpe::default()
        }
    }

    /// Trials drawn from the prior before TPE starts modelling. Default 10 (optuna's):
    /// enough for a first good/bad split, few enough to leave the budget to the model.
    pub fn n_startup(mut self, n: usize) -> Self {
        self.n_startup = n;
        self
    }

    /// The good/bad split of every search: sets [`pruned_gamma`](Tpe::pruned_gamma)
    /// too (call that after this one to split pruned searches otherwise). Default
    /// [`Gamma::DEFAULT`] (`min(ceil(0.15 N), 25)`) until a trial is pruned.
    pub fn gamma(mut self, gamma: Gamma) -> Self {
        self.gamma = gamma;
        self.pruned_gamma = gamma;
        self
    }

    /// The good/bad split once the search has a pruned trial (`N` counts the pruned
    /// trials with the complete ones). Default [`Gamma::PRUNED`] (`min(ceil(0.1 N), 25)`).
    pub fn pruned_gamma(mut self, gamma: Gamma) -> Self {
        self.pruned_gamma = gamma;
        self
    }

    /// Candidates drawn from `l(x)` per suggestion (per group). Default 24 (both peers):
    /// more candidates exploit harder. Values below 1 are treated as 1.
    pub fn n_candidates(mut self, n: usize) -> Self {
        self.n_candidates = n;
        self
    }

    /// Weight of the prior kernel relative to one observation (weight 1). Default 1.0:
    /// keeps every region reachable; larger values explore more. Also the pseudocount mass
    /// of the categorical estimator. Negative or non-finite values are treated as 0.
    pub fn prior_weight(mut self, w: f64) -> Self {
        self.prior_weight = if w.is_finite() { w.max(0.0) } else { 0.0 };
        self
    }

    /// The bandwidth rule. Default [`Bandwidth::Neighbor`].
    pub fn bandwidth(mut self, rule: Bandwidth) -> Self {
        self.bandwidth = rule;
        self
    }

    /// The "magic clip": kernels are at least `range / (1 + K)` wide for `K` kernels, so
    /// few observations give broad kernels. Default on (both peers).
    pub fn magic_clip(mut self, on: bool) -> Self {
        self.magic_clip = on;
        self
    }

    /// The smallest kernel width as a fraction of the prior width (the range for bounded
    /// kinds, sigma for normal kinds). Default 0.01, the floor both peers' magic clip
    /// reaches at 99 trials: keeps late kernels from collapsing onto single points.
    pub fn min_bandwidth(mut self, fraction: f64) -> Self {
        self.min_bandwidth = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.01
        };
        self
    }

    /// Whether the bounds count as neighbours of the extreme observations in the
    /// [`Bandwidth::Neighbor`] rule. Default off (optuna's default): a point near a bound
    /// otherwise gets a needlessly wide or narrow kernel from the bound's distance.
    pub fn consider_endpoints(mut self, on: bool) -> Self {
        self.consider_endpoints = on;
        self
    }

    /// Linear forgetting: with more than `n` observations in a set, the older ones get
    /// weights rising linearly from `1/N` to 1 and the newest `n` weight 1. Default
    /// `Some(25)` (both peers); `None` weighs all observations equally.
    pub fn forgetting(mut self, n: Option<usize>) -> Self {
        self.forgetting = n;
        self
    }

    /// Joint (multivariate, per group of parameters active together) or independent
    /// (per parameter) modelling. Default multivariate: it captures interactions between
    /// parameters, and optuna 5 made it its default after Watanabe's 2023 ablation.
    pub fn multivariate(mut self, on: bool) -> Self {
        self.multivariate = on;
        self
    }

    /// Whether pending trials count as bad, so concurrent suggestions differ, and shape
    /// the split and the startup (see the liar in [`Tpe`]). Default on; it changes
    /// nothing in sequential searches (no pending trials).
    pub fn constant_liar(mut self, on: bool) -> Self {
        self.constant_liar = on;
        self
    }

    /// The groups of parameters modelled jointly, in space order: parameters with the same
    /// parent condition (multivariate) or each parameter alone (independent).
    fn groups(&self, space: &Space) -> Vec<(Option<Condition>, Vec<usize>)> {
        let mut groups: Vec<(Option<Condition>, Vec<usize>)> = Vec::new();
        for (i, p) in space.params().iter().enumerate() {
            if self.multivariate
                && let Some(g) = groups.iter_mut().find(|g| g.0 == p.parent)
            {
                g.1.push(i);
                continue;
            }
            groups.push((p.parent, vec![i]));
        }
        groups
    }
}

/// How much of a branch statistic's weight survives each later complete trial (see
/// [`branch`]): a half-life of about 14 trials. Chosen on the broad benchmark's tuning
/// split (60 seeds of its conditional problems): 0.8 to 0.97 all cut the wrong-branch rate
/// of the deceptive problem from 24/60 to 8-10/60, without discounting it stays at 24/60.
const BRANCH_MEMORY: f64 = 0.95;

/// The option a branch (a choice owning sub-spaces) takes this suggestion, by discounted
/// Thompson sampling: for each option, the chance that a trial taking it improves on the
/// best score found so far, `p ~ Beta(records + 1, others + 1)` over the complete trials
/// that took it (a record is a trial that beat every earlier one when it completed), is
/// drawn, and the highest draw wins. Both counts fade by [`BRANCH_MEMORY`] with every
/// later complete trial, so they speak of the recent search.
///
/// Left to `l(x) / g(x)`, a branch that looked worse in the first trials is never taken
/// again: the good set fills with trials of the branch that looked better, and keeps doing
/// so while that branch plateaus. Records instead dry up on a plateau; as the old ones
/// fade, the options' chances even out and the search explores the others again, as
/// random search would. A branch that keeps improving keeps being taken, so a good branch
/// is exploited as before.
fn branch(history: &Trials, scores: &[f64], dim: &DimModel, rng: &mut TrialRng) -> f64 {
    let parzen::DimKind::Cat { n } = dim.kind else {
        return f64::NAN;
    };
    let (mut records, mut others) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut best = f64::INFINITY;
    for (i, &score) in scores.iter().enumerate() {
        let option = history
            .get(i)
            .and_then(|t| t.x.get(dim.param).copied())
            .filter(|&v| v >= 0.0 && (v as usize) < n);
        let (true, Some(option)) = (score.is_finite(), option) else {
            continue;
        };
        for count in records.iter_mut().chain(others.iter_mut()) {
            *count *= BRANCH_MEMORY;
        }
        let option = option as usize;
        if score < best {
            best = score;
            records[option] += 1.0;
        } else {
            others[option] += 1.0;
        }
    }
    let mut chosen = (f64::NEG_INFINITY, 0);
    for (option, (&r, &o)) in records.iter().zip(&others).enumerate() {
        // Both shapes are at least 1, so the distribution always exists.
        let p = rand_distr::Beta::new(r + 1.0, o + 1.0).map_or(0.5, |beta| rng.sample(beta));
        if p > chosen.0 {
            chosen = (p, option);
        }
    }
    chosen.1 as f64
}

/// The size of the good set among `n` trials with results while `pending` more run (with
/// the liar; 0 otherwise): the split's size scaled by `(n / (n + pending))^2`, rounded up,
/// so it shrinks as more of the history is out of date, and equals `gamma.n_below(n)`
/// without pending trials. The square was better than the plain ratio and than a
/// smaller fixed `beta` over 1 to 16 workers (`examples/parallel_quality.rs`).
fn n_good(gamma: Gamma, n: usize, pending: usize) -> usize {
    let n_below = gamma.n_below(n);
    if pending == 0 {
        return n_below;
    }
    let fresh = n as f64 / (n + pending) as f64;
    ((n_below as f64 * fresh * fresh).ceil() as usize).clamp(1.min(n), n_below)
}

/// `ln` of `g`'s density with the liar's kernels added to the bad set's (up to a constant
/// factor, the same for every candidate): `g_bad` is the bad set's log density,
/// `ln_bad_total` its log total weight, `lie` the log sum of the liar's kernels.
fn with_lie(g_bad: f64, ln_bad_total: f64, lie: f64) -> f64 {
    parzen::log_sum_exp(&[g_bad + ln_bad_total], lie)
}

/// Linear forgetting (see [`Tpe::forgetting`]): the weight of the `i`-th of `n`
/// observations in chronological order.
pub(crate) fn forgetting_weight(forgetting: Option<usize>, i: usize, n: usize) -> f64 {
    match forgetting {
        Some(lf) if n > lf && i < n - lf => {
            let ramp = n - lf;
            let start = 1.0 / n as f64;
            let t = if ramp == 1 {
                0.0
            } else {
                i as f64 / (ramp - 1) as f64
            };
            start + t * (1.0 - start)
        }
        _ => 1.0,
    }
}

/// A group of parameters modelled jointly, and its bad-set estimator kept between
/// suggestions.
struct Group {
    /// The choice option the group's parameters depend on, if any.
    cond: Option<Condition>,
    /// The group's parameters (positions in the space).
    members: Vec<usize>,
    /// The models of the members that are not constants.
    dims: Vec<DimModel>,
    /// The members that are choices owning sub-spaces (branches), by position in `dims`.
    branches: Vec<usize>,
    bad: BadSet,
}

/// A TPE search in progress: the groups of the space with their kept bad-set estimators,
/// the compact index of the history, and the buffers of one suggestion (reused so the hot
/// path does not allocate).
struct TpeSession {
    cfg: Tpe,
    space: Space,
    groups: Vec<Group>,
    index: HistoryIndex,
    /// The points asked before, in a space of discrete parameters without conditions
    /// (where a candidate can repeat one); `None` in any other space.
    asked: Option<Asked>,
    scratch: Scratch,
}

/// The points of the trials asked so far, by hash, so that once trials are pruned a
/// suggestion in a discrete space is not a point already asked (evaluated, or being
/// evaluated).
///
/// On a grid the good set's kernels put most of `l`'s mass on the good trials' own cells,
/// so TPE proposes some of them again. Without pruning a repeat costs one trial, and the
/// broad benchmark's tables (`tabular_a`, `tabular_b`: 100 trials over nine choices) did
/// better with repeats allowed (the repeated good points sharpen `l`; passing over them
/// lost 47 of 80 runs and won 31). With pruning most trials stop within a few steps and a
/// repeat is of a point that ran to the end, the most costly kind of trial: on the pruning
/// benchmark's two real grids (`bench/prune`, 81 steps per full trial), 8 to 18 of a run's
/// 20 to 26 complete trials were repeats, and passing over them took `linfa_enet` with
/// ASHA from 12 runs of 60 at the optimum to 39 (optuna: 31).
///
/// Hashes stand for points: two points with the same 64-bit hash count as one, which
/// costs at most a candidate passed over.
#[derive(Debug, Default)]
struct Asked {
    hashes: HashSet<u64>,
}

impl Asked {
    /// The hash of an encoded point.
    fn hash(x: &[f64]) -> u64 {
        let mut h = DefaultHasher::new();
        for v in x {
            v.to_bits().hash(&mut h);
        }
        h.finish()
    }

    fn take_in(&mut self, trial: &Trial) {
        self.hashes.insert(Asked::hash(&trial.x));
    }

    fn contains(&self, x: &[f64]) -> bool {
        self.hashes.contains(&Asked::hash(x))
    }
}

/// Reusable buffers of one suggestion.
#[derive(Default)]
struct Scratch {
    l: Parzen,
    /// The options chosen for the group's branches: `(dim, option)`.
    branches: Vec<(usize, f64)>,
    /// Per dim: `(located value, kernel)` in ascending order.
    sorted: Vec<Vec<(f64, u32)>>,
    /// Kernel (storage position) of each row of the good set.
    pos: Vec<u32>,
    /// The good trials, by number; per trial number whether it belongs to the bad set
    /// (complete and not good); and the pending trials the liar models, by number.
    good: Vec<usize>,
    wanted: Vec<bool>,
    pending: Vec<usize>,
    /// The liar's kernels: one per pending trial where the group is active.
    liar: Parzen,
    ranked: BinaryHeap<Ranked>,
    /// The pruned trials with whole points, in ranking order.
    pruned: Vec<Pruned>,
    picking: Picking,
}

/// Buffers of the candidate loop: per candidate its values and score keys (`n_dims`
/// each), `ln l(x)`, and its score's upper bound.
#[derive(Default)]
struct Picking {
    cand: Vec<f64>,
    keys: Vec<(f64, f64)>,
    l_x: Vec<f64>,
    /// Per candidate, with pending trials: the lower bound of the bad set's own `ln g`
    /// and `ln` of the liar's kernel sum.
    lie: Vec<(f64, f64)>,
    bounds: Vec<(f64, u32)>,
    terms: Vec<f64>,
    near: Vec<u32>,
    /// With [`Asked`]: each candidate's whole point, and whether it repeats an asked one.
    point: Vec<f64>,
    repeats: Vec<bool>,
}

/// A complete trial in the ranking: by score, ties broken by age so the split never
/// depends on how the trials are visited.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: f64,
    number: usize,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.number.cmp(&other.number))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Ranked {}

impl Sampler for Tpe {
    fn name(&self) -> &str {
        super::Algorithm::Tpe.as_str()
    }

    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError> {
        let groups = self
            .groups(space)
            .into_iter()
            .map(|(cond, members)| {
                let owns_sub_space = |i: usize| {
                    space
                        .params()
                        .iter()
                        .any(|p| p.parent.is_some_and(|c| c.param == i))
                };
                let dims: Vec<DimModel> = members
                    .iter()
                    .filter_map(|&i| DimModel::new(i, &space.params()[i]))
                    .collect();
                let branches = dims
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| owns_sub_space(d.param))
                    .map(|(i, _)| i)
                    .collect();
                Group {
                    dims,
                    branches,
                    cond,
                    members,
                    bad: BadSet::default(),
                }
            })
            .collect();
        // Every parameter discrete (a grid, integers, options) and none conditional: a
        // candidate can repeat a point, and the last group picked completes it.
        let finite = space
            .params()
            .iter()
            .all(|p| p.parent.is_none() && p.dist.grid_len().is_some());
        Ok(Box::new(TpeSession {
            cfg: self.clone(),
            space: space.clone(),
            groups,
            index: HistoryIndex::default(),
            asked: finite.then(Asked::default),
            scratch: Scratch::default(),
        }))
    }
}

impl TpeSession {
    /// Takes in a trial that was added or changed.
    fn take_in(&mut self, direction: Direction, trial: &Trial) {
        self.index.observe(direction, trial);
        if let Some(asked) = &mut self.asked {
            asked.take_in(trial);
        }
    }
}

impl Session for TpeSession {
    fn observe(&mut self, history: &Trials, number: usize) {
        if let Some(trial) = history.get(number) {
            self.take_in(history.direction(), trial);
        }
    }

    fn suggest(&mut self, history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        // Trials never observed (a session used without its study) are taken in now.
        for trial in history.all().get(self.index.len()..).unwrap_or_default() {
            self.take_in(history.direction(), trial);
        }
        let TpeSession {
            cfg,
            space,
            groups,
            index,
            asked: asked_points,
            scratch: s,
        } = self;
        let np = space.len();
        let (scores, widths) = (index.scores(), index.widths());
        // Usable observations: complete, with a finite score and a whole point. One plain
        // pass over the compact index, which vectorizes.
        s.wanted.clear();
        s.wanted.extend(
            scores
                .iter()
                .zip(widths)
                .map(|(sc, &w)| sc.is_finite() & (w as usize == np)),
        );
        let n_complete = s.wanted.iter().filter(|&&u| u).count();
        // Pruned trials count as observations too (ranked after the complete ones).
        let whole = |number: usize| widths[number] as usize == np;
        let n_pruned = index.pruned().iter().filter(|p| whole(p.number)).count();
        let n = n_complete + n_pruned;
        // Repeats are passed over once a trial was pruned (see [`Asked`]).
        let asked_points = asked_points.as_ref().filter(|_| n_pruned > 0);
        // The pending trials the liar models.
        s.pending.clear();
        if cfg.constant_liar {
            s.pending
                .extend(index.running().iter().copied().filter(|&i| whole(i)));
        }
        let n_pending = s.pending.len();
        let asked = if n >= RESULTS_BEFORE_PENDING_COUNT {
            n + n_pending
        } else {
            n
        };
        if asked < cfg.n_startup.max(1) {
            let mut x = space.sample_prior(rng);
            if let Some(points) = asked_points {
                // As many draws as a model's candidates, for one not asked before.
                for _ in 1..cfg.n_candidates.max(1) {
                    if !points.contains(&x) {
                        break;
                    }
                    x = space.sample_prior(rng);
                }
            }
            return x;
        }
        // The good set: the n_below best, kept in a bounded max-heap.
        let gamma = if n_pruned > 0 {
            cfg.pruned_gamma
        } else {
            cfg.gamma
        };
        let n_below = n_good(gamma, n, n_pending);
        s.ranked.clear();
        // Scores above the worst kept one cannot enter: one comparison rejects them.
        // Newest first: a search improves as it goes, so the heap fills with good trials
        // early and is rarely updated after (the set does not depend on the order).
        let mut cutoff = f64::INFINITY;
        for (i, _) in s.wanted.iter().enumerate().rev().filter(|(_, u)| **u) {
            if scores[i] > cutoff {
                continue;
            }
            let r = Ranked {
                score: scores[i],
                number: i,
            };
            if s.ranked.len() < n_below {
                s.ranked.push(r);
            } else if let Some(mut worst) = s.ranked.peek_mut()
                && r < *worst
            {
                *worst = r;
            }
            if s.ranked.len() == n_below {
                cutoff = s.ranked.peek().map_or(f64::INFINITY, |w| w.score);
            }
        }
        s.good.clear();
        s.good.extend(s.ranked.iter().map(|r| r.number));
        // Too few complete trials: the pruned ones that got furthest fill the good set;
        // the other pruned ones are bad.
        if n_pruned > 0 {
            s.pruned.clear();
            s.pruned
                .extend(index.pruned().iter().filter(|p| whole(p.number)).copied());
            let fill = n_below.saturating_sub(s.good.len()).min(s.pruned.len());
            // Only which ones rank first matters (the good set is ordered by number after),
            // so a selection in linear time, and none once enough trials are complete.
            if 0 < fill && fill < s.pruned.len() {
                s.pruned.select_nth_unstable_by(fill - 1, Pruned::rank);
            }
            s.good.extend(s.pruned[..fill].iter().map(|p| p.number));
            for p in &s.pruned[fill..] {
                s.wanted[p.number] = true;
            }
        }
        s.good.sort_unstable();
        // The bad set: the rest. Pending trials get wide kernels of their own (the liar).
        for &i in &s.good {
            s.wanted[i] = false;
        }

        let mut x = vec![f64::NAN; np];
        // A space with `asked` has no conditions: every parameter is active, and the last
        // group that models any completes the point.
        let completes = if asked_points.is_some() {
            x.fill(0.0);
            groups.iter().rposition(|g| !g.dims.is_empty())
        } else {
            None
        };
        for (at, group) in groups.iter_mut().enumerate() {
            if let Some(c) = group.cond
                && x[c.param] != c.option as f64
            {
                continue;
            }
            for &i in &group.members {
                // Constants have nothing to model; every other member is overwritten.
                x[i] = 0.0;
            }
            if group.dims.is_empty() {
                continue;
            }
            cfg.fit_good(history, &group.dims, s);
            let liar = cfg.fit_pending(history, &group.dims, s);
            group.bad.sync(history, index, &group.dims, cfg, &s.wanted);
            s.branches.clear();
            for &d in &group.branches {
                let option = branch(history, index.scores(), &group.dims[d], rng);
                s.branches.push((d, option));
            }
            let mut model = GroupModel {
                space,
                dims: &group.dims,
                l: &mut s.l,
                bad: &mut group.bad,
                forced: &s.branches,
                liar: liar.then_some(&mut s.liar),
            };
            cfg.pick(
                &mut model,
                asked_points.filter(|_| completes == Some(at)),
                &mut s.picking,
                rng,
                &mut x,
            );
        }
        x
    }
}

impl Tpe {
    /// Fits `l` for one group to the good trials where the group is active.
    fn fit_good(&self, history: &Trials, dims: &[DimModel], s: &mut Scratch) {
        let Scratch {
            l,
            sorted,
            pos,
            good,
            ..
        } = s;
        self.fit_trials(history, dims, good, sorted, pos, l);
    }

    /// Fits the liar's estimator for one group to the pending trials where the group is
    /// active, its kernels [`PENDING_WIDTH`] times as wide as `l`'s (fitted first);
    /// `false` when there are none.
    fn fit_pending(&self, history: &Trials, dims: &[DimModel], s: &mut Scratch) -> bool {
        if s.pending.is_empty() {
            return false;
        }
        let Scratch {
            l,
            sorted,
            pos,
            pending,
            liar,
            ..
        } = s;
        self.fit_trials(history, dims, pending, sorted, pos, liar);
        if liar.len() == 0 {
            return false;
        }
        liar.widen_to(dims, l, PENDING_WIDTH, self);
        true
    }

    /// Fits `est` to the trials `numbers` where the group of `dims` is active; `sorted`
    /// and `pos` are scratch.
    fn fit_trials(
        &self,
        history: &Trials,
        dims: &[DimModel],
        numbers: &[usize],
        sorted: &mut Vec<Vec<(f64, u32)>>,
        pos: &mut Vec<u32>,
        est: &mut Parzen,
    ) {
        let rows: Vec<&[f64]> = numbers
            .iter()
            .filter_map(|&i| history.get(i))
            .map(|t| t.x.as_slice())
            .filter(|x| dims.iter().all(|d| !x[d.param].is_nan()))
            .collect();
        sorted.resize_with(dims.len(), Vec::new);
        for (d, dim) in dims.iter().enumerate() {
            let list = &mut sorted[d];
            list.clear();
            list.extend(
                rows.iter()
                    .enumerate()
                    .map(|(r, x)| (dim.locate(x[dim.param]), r as u32)),
            );
            list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        est.fit_rows(dims, sorted, pos, self);
    }

    /// Draws the candidates from `l` and writes the one maximizing `l(x) / g(x)` into `x`
    /// (NaN never wins; ties go to the earliest candidate; the first is kept if every score
    /// is NaN).
    ///
    /// Branch and bound: every candidate first gets an upper bound of its score from a
    /// lower bound of `g` (the prior kernel plus a few kernels near it, see
    /// [`BadSet::lower_bound`]); candidates are then scored in order of their bounds, and
    /// scoring stops at the first bound that cannot beat the best. The choice is the one
    /// scoring every candidate would make, at a fraction of the full `g` evaluations.
    ///
    /// With pending trials, `liar`'s kernels join `g`'s: the sum of its kernels is added
    /// to that of the bad set's (`g` times its total weight), exactly for every candidate
    /// (they are few), so the bounds stay bounds.
    ///
    /// With `asked` (the group completes the point, in a pruned search of a discrete
    /// space, see [`Asked`]), candidates that
    /// would repeat an asked point are passed over; when every one would, as many are
    /// drawn from the prior and scored the same way, and only when those repeat too (the
    /// space is nearly spent) does a repeat win.
    fn pick(
        &self,
        m: &mut GroupModel,
        asked: Option<&Asked>,
        p: &mut Picking,
        rng: &mut TrialRng,
        x: &mut [f64],
    ) {
        let nd = m.dims.len();
        let mut source = Source::Good;
        let c = loop {
            self.candidates(m, source, p, rng);
            let Some(asked) = asked else {
                break m.best_candidate(p, |_| false);
            };
            p.repeats.clear();
            for c in 0..p.l_x.len() {
                p.point.clear();
                p.point.extend_from_slice(x);
                for (d, dim) in m.dims.iter().enumerate() {
                    p.point[dim.param] = p.cand[c * nd + d];
                }
                p.repeats.push(asked.contains(&p.point));
            }
            let repeats = std::mem::take(&mut p.repeats);
            let fresh = m.best_candidate(p, |c| repeats[c]);
            p.repeats = repeats;
            match (fresh, source) {
                (Some(c), _) => break Some(c),
                (None, Source::Good) => source = Source::Prior,
                (None, Source::Prior) => break m.best_candidate(p, |_| false),
            }
        };
        let c = c.unwrap_or(0);
        for (d, dim) in m.dims.iter().enumerate() {
            x[dim.param] = p.cand[c * nd + d];
        }
    }

    /// Draws [`n_candidates`](Tpe::n_candidates) candidates from `source` into `p`, with
    /// their score keys, `ln l(x)` and their score's upper bound, highest bound first.
    fn candidates(&self, m: &mut GroupModel, source: Source, p: &mut Picking, rng: &mut TrialRng) {
        let (space, dims, forced) = (m.space, m.dims, m.forced);
        let (l, bad, liar) = (&mut *m.l, &mut *m.bad, &mut m.liar);
        let nd = dims.len();
        let nc = self.n_candidates.max(1);
        p.cand.resize(nc * nd, 0.0);
        p.keys.resize(nc * nd, (0.0, 0.0));
        p.bounds.clear();
        p.l_x.clear();
        p.lie.clear();
        // ln of the bad set's total weight: its kernel sum is `g` times that.
        let ln_bad_total = bad.estimator().ln_total();
        for c in 0..nc {
            let (cand, keys) = (
                &mut p.cand[c * nd..(c + 1) * nd],
                &mut p.keys[c * nd..(c + 1) * nd],
            );
            match source {
                Source::Good => l.sample(dims, rng, cand),
                Source::Prior => {
                    for (v, dim) in cand.iter_mut().zip(dims) {
                        *v = space.params()[dim.param].dist.sample_prior(rng);
                    }
                }
            }
            for &(d, option) in forced {
                cand[d] = option;
            }
            for (d, dim) in dims.iter().enumerate() {
                cand[d] = space.params()[dim.param].dist.snap(cand[d]);
                keys[d] = dim.score_key(cand[d]);
            }
            let l_x = l.log_density(dims, keys, f64::NEG_INFINITY, &mut p.terms);
            let mut g_low = bad.lower_bound(dims, keys, &mut p.near, &mut p.terms);
            if let Some(liar) = liar.as_deref_mut() {
                let lie = liar.ln_kernel_sum(dims, keys, &mut p.near, &mut p.terms);
                p.lie.push((g_low, lie));
                g_low = with_lie(g_low, ln_bad_total, lie);
            }
            p.l_x.push(l_x);
            p.bounds.push((l_x - g_low, c as u32));
        }
        // Highest bound first; NaN bounds (which prune nothing) before all.
        p.bounds.sort_unstable_by(|a, b| {
            let nan_first = b.0.is_nan().cmp(&a.0.is_nan());
            nan_first.then(b.0.total_cmp(&a.0)).then(a.1.cmp(&b.1))
        });
    }
}

/// Where [`Tpe::candidates`] draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The good set's estimator `l`.
    Good,
    /// The space's prior.
    Prior,
}

/// What one group's suggestion is scored with: its dims, the good set's estimator `l`,
/// the bad set, the options forced on its branches and the liar's kernels.
struct GroupModel<'a> {
    space: &'a Space,
    dims: &'a [DimModel],
    l: &'a mut Parzen,
    bad: &'a mut BadSet,
    forced: &'a [(usize, f64)],
    liar: Option<&'a mut Parzen>,
}

impl GroupModel<'_> {
    /// The candidate of `p` maximizing `l(x) / g(x)` among those `skip` keeps (NaN never
    /// wins; ties go to the earliest), by branch and bound over the bounds in `p`; `None`
    /// when every one is skipped or scores NaN.
    fn best_candidate(&mut self, p: &mut Picking, skip: impl Fn(usize) -> bool) -> Option<usize> {
        let (dims, bad) = (self.dims, &mut *self.bad);
        let nd = dims.len();
        let ln_bad_total = bad.estimator().ln_total();
        let mut best: Option<(f64, usize)> = None;
        for &(bound, c) in &p.bounds {
            let c = c as usize;
            // The full g misses at most 1e-6 of the density (relative): a bound this far
            // below the best rules the candidate out however the rounding falls.
            if let Some((best_score, _)) = best
                && bound + 1e-5 * (1.0 + bound.abs()) <= best_score
            {
                break;
            }
            if skip(c) {
                continue;
            }
            let keys = &p.keys[c * nd..(c + 1) * nd];
            let (g_low, lie) = match p.lie.get(c) {
                Some(&(g_low, lie)) => (g_low, Some(lie)),
                None => (p.l_x[c] - bound, None),
            };
            let g = bad.estimator().log_density(dims, keys, g_low, &mut p.terms);
            let score = p.l_x[c] - lie.map_or(g, |lie| with_lie(g, ln_bad_total, lie));
            let wins = match best {
                None => !score.is_nan(),
                Some((b, bc)) => score > b || (score == b && c < bc),
            };
            if wins {
                best = Some((score, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::parzen::{DimModel, Parzen};
    use super::*;
    use crate::space::Param;
    use crate::trials::{Direction, Trial, TrialState};

    fn push(h: &mut Trials, space: &Space, x: Vec<f64>, state: TrialState, loss: f64) {
        let number = h.len();
        h.push(Trial {
            number,
            state,
            point: space.decode(&x),
            x,
            loss: (state == TrialState::Complete).then_some(loss),
            metrics: Vec::new(),
            error: None,
            last_step: None,
            started: SystemTime::UNIX_EPOCH,
            duration: Some(Duration::ZERO),
        })
        .expect("next number");
    }

    #[test]
    fn a_pruned_search_of_a_discrete_space_repeats_no_point_until_it_is_spent() {
        // 4 x 3 x 2 = 24 points; a deterministic objective with its optimum inside.
        let space = Space::builder()
            .randint("layers", 1, 5)
            .choice("act", ["relu", "tanh", "gelu"])
            .quniform("dropout", 0.0, 0.5, 0.5)
            .build()
            .unwrap();
        let f = |x: &[f64]| (x[0] - 3.0).powi(2) + x[1] + x[2];
        for seed in 0..5 {
            let tpe = Tpe::new();
            let mut session = tpe.session(&space).unwrap();
            let mut h = Trials::new(Direction::Minimize);
            for i in 0..30 {
                let x = session.suggest(&h, &mut TrialRng::for_trial(seed, i));
                let loss = f(&x);
                // A pruned search (the first trial pruned): repeats are passed over.
                let state = if i % 2 == 0 {
                    TrialState::Pruned
                } else {
                    TrialState::Complete
                };
                push(&mut h, &space, x, state, loss);
                session.observe(&h, i as usize);
            }
            let distinct = |n: usize| {
                h.all()[..n]
                    .iter()
                    .map(|t| bits(&t.x))
                    .collect::<std::collections::HashSet<_>>()
                    .len()
            };
            // No repeat in the first 20 (20 random draws of 24 points all differ with
            // probability 24!/(4! 24^20) < 1e-5); the last few points are found by draws
            // from the prior, so the space is all but spent within 30 (random draws
            // cover 17 of 24 on average), and suggestions go on once it is.
            assert_eq!(distinct(20), 20, "seed {seed}");
            assert!(distinct(30) >= 23, "seed {seed}: {}", distinct(30));
        }
    }

    #[test]
    fn a_search_with_pruned_trials_splits_by_the_pruned_gamma() {
        // 40 complete trials: the default split keeps 6 good, optuna's 4.
        let space = Space::builder()
            .uniform("x", -5.0, 5.0)
            .uniform("y", -5.0, 5.0)
            .build()
            .unwrap();
        let f = |x: &[f64]| x[0] * x[0] + (x[1] - 1.0).powi(2);
        let complete = history(&space, 40, f);
        let mut pruned = complete.clone();
        let x = space.sample_prior(&mut TrialRng::for_trial(12, 0));
        push(&mut pruned, &space, x, TrialState::Pruned, f64::NAN);
        let same = |tpe: &Tpe, other: &Tpe, h: &Trials| {
            (0..20).all(|i| {
                suggest(tpe, &space, h, &mut TrialRng::for_trial(3, i))
                    == suggest(other, &space, h, &mut TrialRng::for_trial(3, i))
            })
        };
        let (default, optuna) = (Tpe::new(), Tpe::new().gamma(Gamma::OPTUNA));
        let own = Tpe::new().gamma(Gamma::DEFAULT);
        // Without pruned trials the default split; with one, optuna's.
        assert!(same(&default, &own, &complete));
        assert!(!same(&default, &optuna, &complete));
        assert!(same(&default, &optuna, &pruned));
        assert!(!same(&default, &own, &pruned));
        // `gamma` sets both splits, `pruned_gamma` after it only the pruned one.
        let hyperopt = Tpe::new().gamma(Gamma::HYPEROPT);
        assert!(same(
            &hyperopt,
            &Tpe::new().pruned_gamma(Gamma::HYPEROPT),
            &pruned
        ));
        let split = Tpe::new()
            .gamma(Gamma::HYPEROPT)
            .pruned_gamma(Gamma::OPTUNA);
        assert!(same(&split, &hyperopt, &complete));
        assert!(same(&split, &default, &pruned));
    }

    /// What a fresh session suggests after observing all of `h`.
    fn suggest(tpe: &Tpe, space: &Space, h: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        tpe.suggest_once(space, h, rng)
            .expect("TPE searches any space")
    }

    /// The compact index of every trial of `h`.
    fn index_of(h: &Trials) -> HistoryIndex {
        let mut index = HistoryIndex::default();
        for t in h.all() {
            index.observe(h.direction(), t);
        }
        index
    }

    /// A history of `n` prior samples scored by `f`.
    fn history(space: &Space, n: usize, f: impl Fn(&[f64]) -> f64) -> Trials {
        let mut h = Trials::new(Direction::Minimize);
        for i in 0..n {
            let x = space.sample_prior(&mut TrialRng::for_trial(11, i as u64));
            let loss = f(&x);
            push(&mut h, space, x, TrialState::Complete, loss);
        }
        h
    }

    /// The models of every parameter of a flat space (one group).
    fn all_dims(space: &Space) -> Vec<DimModel> {
        space
            .params()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| DimModel::new(i, p))
            .collect()
    }

    fn bits(x: &[f64]) -> Vec<u64> {
        x.iter().map(|v| v.to_bits()).collect()
    }

    fn assert_in_space(space: &Space, x: &[f64]) {
        let back = space.encode(&space.decode(x)).expect("suggestion in space");
        assert_eq!(bits(&back), bits(x));
    }

    /// A one-dim estimator fitted to `obs` (encoded values) with unit weights.
    fn fit_one(param: &Param, obs: &[f64], cfg: &Tpe) -> (Vec<DimModel>, Parzen) {
        let dims = vec![DimModel::new(0, param).expect("not a constant")];
        let mut sorted: Vec<(f64, u32)> = obs
            .iter()
            .enumerate()
            .map(|(k, &v)| (dims[0].locate(v), k as u32))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut p = Parzen::default();
        p.fit_rows(&dims, &mut [sorted], &mut Vec::new(), cfg);
        (dims, p)
    }

    fn param(name: &str, dist: crate::space::Dist) -> Param {
        Param {
            name: name.into(),
            dist,
            parent: None,
        }
    }

    #[test]
    fn continuous_densities_integrate_to_one() {
        use crate::space::Dist;
        let cases = [
            (
                Dist::Uniform {
                    low: -5.0,
                    high: 5.0,
                },
                vec![-4.9, -1.0, 0.0, 0.01, 4.99],
            ),
            (
                Dist::LogUniform {
                    low: 1e-5,
                    high: 1.0,
                },
                vec![1e-5, 3e-3, 0.5],
            ),
            (
                Dist::Normal {
                    mu: 1.0,
                    sigma: 2.0,
                },
                vec![0.0, 1.5, 9.0],
            ),
            (
                Dist::LogNormal {
                    mu: 0.0,
                    sigma: 1.0,
                },
                vec![0.5, 1.0, 3.0],
            ),
        ];
        for (dist, obs) in cases {
            let p = param("x", dist.clone());
            let (dims, mut est) = fit_one(&p, &obs, &Tpe::default());
            // Integrate over the transformed space (where the density lives).
            let (lo, hi) = match dist {
                Dist::Uniform { low, high } => (low, high),
                Dist::LogUniform { low, high } => (low.ln(), high.ln()),
                _ => (-40.0, 40.0),
            };
            let steps = 200_000;
            let h = (hi - lo) / steps as f64;
            let mut terms = Vec::new();
            let total: f64 = (0..steps)
                .map(|i| {
                    let t = lo + (i as f64 + 0.5) * h;
                    est.log_density(&dims, &[(t, 0.0)], f64::NEG_INFINITY, &mut terms)
                        .exp()
                        * h
                })
                .sum();
            assert!((total - 1.0).abs() < 1e-4, "{dist:?}: integral {total}");
        }
    }

    #[test]
    fn cell_masses_sum_to_one_over_the_grid() {
        use crate::space::Dist;
        let cases = [
            (
                Dist::QUniform {
                    low: 0.0,
                    high: 0.5,
                    q: 0.05,
                },
                vec![0.0, 0.15, 0.15, 0.5],
            ),
            (
                Dist::QUniform {
                    low: 1.0,
                    high: 9.5,
                    q: 2.0,
                },
                vec![2.0, 8.0],
            ),
            (
                Dist::QLogUniform {
                    low: 1.0,
                    high: 1000.0,
                    q: 5.0,
                },
                vec![5.0, 100.0, 1000.0],
            ),
            (Dist::RandInt { low: -3, high: 7 }, vec![-3.0, 0.0, 6.0]),
        ];
        for (dist, obs) in cases {
            let p = param("x", dist.clone());
            let (dims, mut est) = fit_one(&p, &obs, &Tpe::default());
            let mut terms = Vec::new();
            let grid = dist.grid().expect("discrete");
            let total: f64 = grid
                .iter()
                .map(|&v| {
                    let key = dims[0].score_key(v);
                    est.log_density(&dims, &[key], f64::NEG_INFINITY, &mut terms)
                        .exp()
                })
                .sum();
            assert!(
                (total - 1.0).abs() < 1e-9,
                "{dist:?}: masses sum to {total}"
            );
        }
    }

    #[test]
    fn pruned_density_matches_brute_force() {
        // Many narrow kernels in 3 dims: most are skipped when scoring, and the result
        // must still match the full sum.
        let space = Space::builder()
            .uniform("a", -5.0, 5.0)
            .uniform("b", 0.0, 1.0)
            .loguniform("c", 1e-3, 1.0)
            .build()
            .expect("valid");
        let dims = all_dims(&space);
        let n = 3000;
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| space.sample_prior(&mut TrialRng::for_trial(5, i)))
            .collect();
        let mut sorted: Vec<Vec<(f64, u32)>> = dims
            .iter()
            .map(|d| {
                let mut l: Vec<(f64, u32)> = rows
                    .iter()
                    .enumerate()
                    .map(|(r, x)| (d.locate(x[d.param]), r as u32))
                    .collect();
                l.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                l
            })
            .collect();
        let cfg = Tpe::default();
        let mut est = Parzen::default();
        est.fit_rows(&dims, &mut sorted, &mut Vec::new(), &cfg);
        let mut terms = Vec::new();
        for i in 0..50 {
            let x = space.sample_prior(&mut TrialRng::for_trial(6, i));
            let key: Vec<(f64, f64)> = dims.iter().map(|d| d.score_key(x[d.param])).collect();
            let every: Vec<u32> = (0..est.len() as u32).collect();
            est.log_terms(&dims, &key, &every, f64::NEG_INFINITY, &mut terms);
            let slow = parzen::log_sum_exp(&terms, est.prior_log_density(&dims, &key));
            // Without a known lower bound, and with the tightest one (which skips most).
            for known_low in [f64::NEG_INFINITY, slow - 1e-9] {
                let fast = est.log_density(&dims, &key, known_low, &mut terms);
                assert!((fast - slow).abs() < 1e-6, "{fast} vs {slow}");
            }
        }
    }

    /// Branch and bound in `pick` is exact only if the curve's bound never exceeds the
    /// density `g` is scored with (up to its 1e-6 relative error).
    #[test]
    fn curve_bound_stays_below_the_density() {
        let space = Space::builder()
            .uniform("u", -5.0, 5.0)
            .loguniform("l", 1e-4, 1.0)
            .quniform("q", 0.0, 10.0, 0.5)
            .randint("i", 1, 9)
            .normal("z", 0.0, 2.0)
            .choice("c", ["a", "b", "c"])
            .build()
            .expect("valid");
        let dims = all_dims(&space);
        let h = history(&space, 600, |x| x[0].abs());
        let wanted: Vec<bool> = (0..h.len()).map(|i| i % 7 != 0).collect();
        let cfg = Tpe::default();
        let mut bad = BadSet::default();
        bad.sync(&h, &index_of(&h), &dims, &cfg, &wanted);
        let (mut near, mut terms) = (Vec::new(), Vec::new());
        let mut tight = 0;
        for i in 0..300 {
            // Half from the prior, half next to an observation (as candidates drawn from
            // `l` are once a search has concentrated).
            let mut x = space.sample_prior(&mut TrialRng::for_trial(9, i));
            if i % 2 == 1 {
                let seen = &h.get(i as usize).expect("in history").x;
                x = seen.clone();
                x[0] = (x[0] + 0.01).min(5.0);
            }
            let key: Vec<(f64, f64)> = dims.iter().map(|d| d.score_key(x[d.param])).collect();
            let low = bad.lower_bound(&dims, &key, &mut near, &mut terms);
            let full = bad
                .estimator()
                .log_density(&dims, &key, f64::NEG_INFINITY, &mut terms);
            assert!(
                low <= full + 1e-6,
                "candidate {i}: bound {low} above {full}"
            );
            assert!(near.len() <= 4 * bad_set::NEAR_ON_CURVE);
            tight += usize::from(i % 2 == 1 && full - low < 1.0);
        }
        // And it is worth its cost: close to the density next to observations.
        assert!(
            tight > 135,
            "bound within 1 nat of g for {tight}/150 candidates"
        );
    }

    #[test]
    fn favours_the_good_option() {
        let space = Space::builder()
            .choice("opt", ["bad", "good", "worse"])
            .uniform("x", 0.0, 1.0)
            .build()
            .expect("valid");
        let h = history(&space, 60, |x| if x[0] == 1.0 { x[1] } else { 10.0 + x[1] });
        let tpe = Tpe::default();
        let picks = (0..100)
            .filter(|&i| suggest(&tpe, &space, &h, &mut TrialRng::for_trial(2, i))[0] == 1.0)
            .count();
        assert!(picks > 80, "good option picked {picks}/100 times");
    }

    /// The bad-set estimator kept between suggestions must give exactly what a fit from
    /// scratch gives: histories that grow, complete, fail and churn their good set are
    /// scored by one session told of every change (kept state) and by a fresh session.
    #[test]
    fn kept_estimator_matches_a_fresh_fit() {
        use crate::rng::TrialRng;
        use rand::RngExt;
        let spaces = [
            Space::builder()
                .uniform("a", -5.0, 5.0)
                .loguniform("b", 1e-4, 1.0)
                .quniform("c", 0.0, 10.0, 0.5)
                .build()
                .expect("valid"),
            Space::builder()
                .choice(
                    "m",
                    [
                        (
                            "p",
                            Space::builder().uniform("u", 0.0, 1.0).randint("k", 1, 9),
                        ),
                        ("q", Space::builder().normal("z", 0.0, 2.0)),
                    ],
                )
                .uniform("x", 0.0, 1.0)
                .build()
                .expect("valid"),
            Space::builder()
                .choice("c", ["a", "b", "c"])
                .randint("i", 0, 4)
                .build()
                .expect("valid"),
        ];
        let configs = [
            Tpe::default(),
            Tpe::hyperopt_compat(),
            Tpe::default().bandwidth(Bandwidth::Scott),
            Tpe::default().consider_endpoints(true).magic_clip(false),
            Tpe::default().multivariate(false).forgetting(None),
        ];
        for (si, space) in spaces.iter().enumerate() {
            for (ci, tpe) in configs.iter().enumerate() {
                let mut h = Trials::new(Direction::Minimize);
                let mut kept = tpe.session(space).expect("TPE searches any space");
                let mut ops = TrialRng::for_trial(si as u64, ci as u64);
                for step in 0..160u64 {
                    let x = if h.len() < 12 {
                        space.sample_prior(&mut TrialRng::for_trial(1, step))
                    } else {
                        kept.suggest(&h, &mut TrialRng::for_trial(2, step))
                    };
                    let fresh = (h.len() >= 12)
                        .then(|| suggest(tpe, space, &h, &mut TrialRng::for_trial(2, step)));
                    if let Some(fresh) = fresh {
                        assert_eq!(
                            bits(&x),
                            bits(&fresh),
                            "space {si}, config {ci}, step {step}"
                        );
                    }
                    let loss = x.iter().filter(|v| v.is_finite()).sum::<f64>().sin();
                    match ops.random_range(0..10) {
                        // A pending trial, completed or failed a few steps later.
                        0 | 1 => push(&mut h, space, x, TrialState::Running, 0.0),
                        _ => push(&mut h, space, x, TrialState::Complete, loss),
                    }
                    kept.observe(&h, h.len() - 1);
                    if ops.random_range(0..3) == 0 {
                        let first_running = h.running().next().map(|t| t.number);
                        if let Some(i) = first_running {
                            let failed = ops.random_range(0..4) == 0;
                            h.update(i, |t| {
                                t.state = if failed {
                                    TrialState::Failed
                                } else {
                                    TrialState::Complete
                                };
                                t.loss = Some(-1.0 + 0.01 * i as f64);
                            });
                            kept.observe(&h, i);
                        }
                    }
                }
            }
        }
    }

    /// Rosenbrock's valley in any dimension, minimum 0 at `(1, .., 1)`.
    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    /// The best loss of a search of `evals` trials by `workers` parallel workers whose
    /// trials take the same time: once `workers` are pending, the oldest finishes before
    /// each suggestion. One session, told of every change as a study tells it.
    fn parallel_best(tpe: &Tpe, space: &Space, workers: usize, evals: usize, seed: u64) -> f64 {
        let mut h = Trials::new(Direction::Minimize);
        let mut session = tpe.session(space).expect("TPE searches any space");
        let mut pending = std::collections::VecDeque::new();
        let finish = |h: &mut Trials, session: &mut Box<dyn Session>, i: usize| {
            h.update(i, |t| {
                t.state = TrialState::Complete;
                t.loss = Some(rosenbrock(&t.x));
            });
            session.observe(h, i);
        };
        for number in 0..evals {
            if pending.len() == workers
                && let Some(i) = pending.pop_front()
            {
                finish(&mut h, &mut session, i);
            }
            let x = session.suggest(&h, &mut TrialRng::for_trial(seed, number as u64));
            push(&mut h, space, x, TrialState::Running, 0.0);
            session.observe(&h, number);
            pending.push_back(number);
        }
        while let Some(i) = pending.pop_front() {
            finish(&mut h, &mut session, i);
        }
        h.completed().map(|(_, s)| s).fold(f64::INFINITY, f64::min)
    }

    /// With 16 workers, the liar (wide kernels for pending trials, a sharper split while
    /// trials are pending) must find much better points than ignoring pending trials.
    /// Before it, pending trials joined the bad set with the bad set's narrow neighbour
    /// widths and the liar did no better than no liar (median regret 37 vs 30 on this
    /// problem over 100 seeds with `examples/parallel_quality.rs`; now 15).
    #[test]
    fn constant_liar_keeps_parallel_searches_good() {
        let space = (0..5)
            .fold(Space::builder(), |b, i| {
                b.uniform(format!("x{i}"), -2.0, 2.0)
            })
            .build()
            .expect("valid");
        let median = |tpe: &Tpe| {
            let mut best: Vec<f64> = (0..9)
                .map(|seed| parallel_best(tpe, &space, 16, 100, seed))
                .collect();
            best.sort_by(f64::total_cmp);
            best[best.len() / 2]
        };
        let liar = median(&Tpe::default());
        let ignored = median(&Tpe::default().constant_liar(false));
        assert!(
            liar < 0.6 * ignored,
            "median best {liar} with the liar, {ignored} without"
        );
    }

    #[test]
    fn constant_liar_separates_pending_suggestions() {
        let space = Space::builder()
            .uniform("x", -5.0, 5.0)
            .uniform("y", -5.0, 5.0)
            .build()
            .expect("valid");
        let f = |x: &[f64]| x[0] * x[0] + x[1] * x[1];
        let tpe = Tpe::default();
        // The same random stream twice: only the pending trial can make the result differ.
        // Its kernel is wide (it repels from a region, not a point): with 30 results in
        // 2 dims it outweighs the candidates' margins only now and then (3 of 20 streams);
        // `constant_liar_keeps_parallel_searches_good` checks what it is for.
        let mut moved = 0;
        for stream in 0..20 {
            let mut h = history(&space, 30, f);
            let first = suggest(&tpe, &space, &h, &mut TrialRng::for_trial(stream, 30));
            push(&mut h, &space, first.clone(), TrialState::Running, 0.0);
            let second = suggest(&tpe, &space, &h, &mut TrialRng::for_trial(stream, 30));
            moved += usize::from(bits(&first) != bits(&second));
            let without = suggest(
                &tpe.clone().constant_liar(false),
                &space,
                &h,
                &mut TrialRng::for_trial(stream, 30),
            );
            assert_eq!(bits(&first), bits(&without));
        }
        assert!(moved > 0, "a pending trial moved no suggestion");
    }

    #[test]
    fn same_seed_same_suggestion() {
        let space = Space::builder()
            .loguniform("lr", 1e-5, 1.0)
            .choice(
                "m",
                [
                    ("a", Space::builder().randint("k", 1, 9)),
                    ("b", Space::builder()),
                ],
            )
            .build()
            .expect("valid");
        let h = history(&space, 40, |x| x[0].ln().abs());
        for tpe in [Tpe::default(), Tpe::hyperopt_compat()] {
            let a = suggest(&tpe, &space, &h, &mut TrialRng::for_trial(8, 40));
            let b = suggest(&tpe, &space, &h, &mut TrialRng::for_trial(8, 40));
            assert_eq!(bits(&a), bits(&b));
            assert_in_space(&space, &a);
        }
    }

    #[test]
    fn odd_histories_do_not_panic() {
        let space = Space::builder()
            .uniform("x", 0.0, 1.0)
            .qloguniform("q", 1.0, 100.0, 1.0)
            .normal("n", 0.0, 1.0)
            .choice(
                "c",
                [
                    ("a", Space::builder().quniform("u", 0.0, 1.0, 0.25)),
                    ("b", Space::builder()),
                ],
            )
            .constant("k", "fixed")
            .build()
            .expect("valid");
        let tpe = Tpe::default().n_startup(1);
        let check = |h: &Trials| {
            for i in 0..5 {
                let x = suggest(&tpe, &space, h, &mut TrialRng::for_trial(3, i));
                assert_in_space(&space, &x);
            }
        };
        // Empty, all failed, a single trial.
        let mut h = Trials::new(Direction::Minimize);
        check(&h);
        for i in 0..20 {
            let x = space.sample_prior(&mut TrialRng::for_trial(1, i));
            push(&mut h, &space, x, TrialState::Failed, 0.0);
        }
        check(&h);
        let x = space.sample_prior(&mut TrialRng::for_trial(1, 99));
        push(&mut h, &space, x.clone(), TrialState::Complete, 1.0);
        check(&h);
        // All points identical with identical losses, plus malformed and non-finite rows.
        for _ in 0..40 {
            push(&mut h, &space, x.clone(), TrialState::Complete, 1.0);
        }
        push(&mut h, &space, vec![0.5], TrialState::Complete, 0.0);
        let number = h.len();
        h.push(Trial {
            number,
            state: TrialState::Complete,
            point: space.decode(&x),
            x: x.clone(),
            loss: Some(f64::NAN),
            metrics: Vec::new(),
            error: None,
            last_step: None,
            started: SystemTime::UNIX_EPOCH,
            duration: None,
        })
        .expect("next number");
        check(&h);
        // Maximizing, with everything pending on top.
        let mut m = history(&space, 30, |x| x[0]);
        for i in 0..5 {
            let x = space.sample_prior(&mut TrialRng::for_trial(7, i));
            push(&mut m, &space, x, TrialState::Running, 0.0);
        }
        check(&m);
    }

    #[test]
    fn gamma_sizes() {
        assert_eq!(Gamma::OPTUNA.n_below(0), 0);
        assert_eq!(Gamma::OPTUNA.n_below(1), 1);
        assert_eq!(Gamma::OPTUNA.n_below(100), 10);
        assert_eq!(Gamma::OPTUNA.n_below(10_000), 25);
        assert_eq!(Gamma::DEFAULT.n_below(100), 15);
        assert_eq!(Gamma::HYPEROPT.n_below(100), 3);
        let odd = Gamma::Linear {
            beta: f64::NAN,
            cap: 5,
        };
        assert_eq!(odd.n_below(10), 1);
    }

    #[test]
    fn forgetting_weights_ramp_up_to_one() {
        let lf = Tpe::default().forgetting;
        let w: Vec<f64> = (0..30).map(|i| forgetting_weight(lf, i, 30)).collect();
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        assert!(w[5..].iter().all(|&x| x == 1.0));
        assert!((0..10).all(|i| forgetting_weight(None, i, 10) == 1.0));
    }
}
