//! Tree-structured Parzen Estimator (TPE).

mod math;
mod parzen;

use std::cell::RefCell;

use parzen::{DimModel, Parzen};

use super::Sampler;
use crate::rng::TrialRng;
use crate::space::{Condition, Space};
use crate::trials::Trials;

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
/// by [`gamma`](Tpe::gamma)) and `g(x)` to the rest, draws
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
/// - Pending trials join the bad set ("constant liar") so that parallel workers asking
///   for points at the same time are pushed apart.
///
/// ```
/// use hyperflow::algo::{Sampler, Tpe, Gamma};
/// use hyperflow::rng::TrialRng;
/// use hyperflow::space::Space;
/// use hyperflow::trials::{Direction, Trials};
///
/// let space = Space::builder().uniform("x", -5.0, 5.0).loguniform("lr", 1e-5, 1.0).build()?;
/// let tpe = Tpe::new().n_startup(5).gamma(Gamma::OPTUNA).n_candidates(32);
/// let history = Trials::new(Direction::Minimize);
/// let x = tpe.suggest(&space, &history, &mut TrialRng::for_trial(7, 0));
/// assert_eq!(space.encode(&space.decode(&x))?, x);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Tpe {
    pub(crate) n_startup: usize,
    pub(crate) gamma: Gamma,
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

    /// The good/bad split. Default [`Gamma::DEFAULT`] (`min(ceil(0.15 N), 25)`).
    pub fn gamma(mut self, gamma: Gamma) -> Self {
        self.gamma = gamma;
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

    /// Whether pending trials join the bad set so concurrent suggestions differ. Default
    /// on; it changes nothing in sequential searches (no pending trials).
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

    /// LF weights for `n` observations in chronological order, appended to `out`.
    fn weights(&self, n: usize, out: &mut Vec<f64>) {
        match self.forgetting {
            Some(lf) if n > lf => {
                let ramp = n - lf;
                let start = 1.0 / n as f64;
                for i in 0..ramp {
                    let t = if ramp == 1 {
                        0.0
                    } else {
                        i as f64 / (ramp - 1) as f64
                    };
                    out.push(start + t * (1.0 - start));
                }
                out.extend(std::iter::repeat_n(1.0, lf));
            }
            _ => out.extend(std::iter::repeat_n(1.0, n)),
        }
    }
}

/// Reusable buffers of one suggestion, kept per thread so the hot path does not allocate.
#[derive(Default)]
struct Scratch {
    l: Parzen,
    g: Parzen,
    /// Per dim: `(located value, kernel)` in ascending order.
    sorted: Vec<Vec<(f64, u32)>>,
    /// Kernel (storage position) of each row, and row of each trial number.
    pos: Vec<u32>,
    slot: Vec<u32>,
    w: Vec<f64>,
    terms: Vec<f64>,
    cand: Vec<f64>,
    best: Vec<f64>,
    keys: Vec<(f64, f64)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A finished trial as the model sees it.
struct Obs<'a> {
    x: &'a [f64],
    score: f64,
    number: usize,
}

impl Sampler for Tpe {
    fn suggest(&self, space: &Space, history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        let np = space.len();
        let mut obs: Vec<Obs> = history
            .completed()
            .filter(|(t, s)| t.x.len() == np && s.is_finite())
            .map(|(t, score)| Obs {
                x: &t.x,
                score,
                number: t.number,
            })
            .collect();
        if obs.len() < self.n_startup.max(1) {
            return space.sample_prior(rng);
        }
        let n = obs.len();
        let n_below = self.gamma.n_below(n);
        // Rank by score, ties broken by age so the split never depends on sort internals.
        let mut rank: Vec<usize> = (0..n).collect();
        let by_score = |&i: &usize, &j: &usize| {
            obs[i]
                .score
                .total_cmp(&obs[j].score)
                .then(obs[i].number.cmp(&obs[j].number))
        };
        if n_below < n {
            rank.select_nth_unstable_by(n_below, by_score);
        }
        let mut below = vec![false; n];
        for &i in &rank[..n_below] {
            below[i] = true;
        }
        // The bad set: the rest, plus pending trials (constant liar), in chronological order.
        let mut above: Vec<(usize, &[f64])> = Vec::with_capacity(n - n_below);
        {
            let mut pending = history
                .running()
                .filter(|t| self.constant_liar && t.x.len() == np)
                .map(|t| (t.number, t.x.as_slice()))
                .peekable();
            for (o, _) in obs.iter().zip(&below).filter(|(_, b)| !**b) {
                while let Some(&(num, x)) = pending.peek() {
                    if num > o.number {
                        break;
                    }
                    above.push((num, x));
                    pending.next();
                }
                above.push((o.number, o.x));
            }
            above.extend(pending);
        }
        let good: Vec<(usize, &[f64])> = obs
            .drain(..)
            .zip(&below)
            .filter(|(_, b)| **b)
            .map(|(o, _)| (o.number, o.x))
            .collect();

        let mut x = vec![f64::NAN; np];
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            for (cond, members) in self.groups(space) {
                if let Some(c) = cond
                    && x[c.param] != c.option as f64
                {
                    continue;
                }
                let dims: Vec<DimModel> = members
                    .iter()
                    .filter_map(|&i| DimModel::new(i, &space.params()[i]))
                    .collect();
                for &i in &members {
                    // Constants have nothing to model; every other member is overwritten.
                    x[i] = 0.0;
                }
                if dims.is_empty() {
                    continue;
                }
                self.sample_group(space, history, &dims, &good, &above, rng, s, &mut x);
            }
        });
        x
    }

    fn name(&self) -> &str {
        "tpe"
    }
}

impl Tpe {
    /// Fits `l` and `g` for one group on the trials where it was active, picks the best of
    /// the candidates drawn from `l`, and writes it into `x`.
    #[allow(clippy::too_many_arguments)]
    fn sample_group(
        &self,
        space: &Space,
        history: &Trials,
        dims: &[DimModel],
        good: &[(usize, &[f64])],
        bad: &[(usize, &[f64])],
        rng: &mut TrialRng,
        s: &mut Scratch,
        x: &mut [f64],
    ) {
        let nd = dims.len();
        let prune = dims.iter().position(|d| d.is_continuous());
        s.sorted.resize_with(nd, Vec::new);
        let active = |row: &&(usize, &[f64])| dims.iter().all(|d| !row.1[d.param].is_nan());
        for (set, is_good) in [(good, true), (bad, false)] {
            let rows: Vec<&(usize, &[f64])> = set.iter().filter(active).collect();
            // The bad set can be the whole history: take its order from the history's
            // sorted index instead of sorting it again for every suggestion.
            let indexed = !is_good
                && rows.len() > 64
                && self.sorted_from_index(history, dims, prune, &rows, s);
            if !indexed {
                for (d, dim) in dims.iter().enumerate() {
                    let list = &mut s.sorted[d];
                    list.clear();
                    list.extend(
                        rows.iter()
                            .enumerate()
                            .map(|(r, row)| (dim.locate(row.1[dim.param]), r as u32)),
                    );
                    list.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                }
                Self::number_kernels(prune, rows.len(), s);
            }
            s.w.clear();
            self.weights(rows.len(), &mut s.w);
            let est = if is_good { &mut s.l } else { &mut s.g };
            est.fit(dims, &s.sorted, &s.w, &s.pos, self);
        }
        s.cand.resize(nd, 0.0);
        s.best.resize(nd, 0.0);
        s.keys.resize(nd, (0.0, 0.0));
        let mut best_score = f64::NEG_INFINITY;
        for c in 0..self.n_candidates.max(1) {
            s.l.sample(dims, rng, &mut s.cand);
            for (d, dim) in dims.iter().enumerate() {
                s.cand[d] = space.params()[dim.param].dist.snap(s.cand[d]);
                s.keys[d] = dim.score_key(s.cand[d]);
            }
            let score = s.l.log_density(dims, &s.keys, &mut s.terms)
                - s.g.log_density(dims, &s.keys, &mut s.terms);
            // NaN never wins; the first candidate is kept if every score is NaN.
            if c == 0 || score > best_score {
                best_score = score;
                s.best.copy_from_slice(&s.cand);
            }
        }
        for (d, dim) in dims.iter().enumerate() {
            x[dim.param] = s.best[d];
        }
    }

    /// Numbers the kernels in the order of the pruning dim (see `Parzen`): row r becomes
    /// kernel `pos[r]`, and the sorted lists are rewritten to kernel numbers.
    fn number_kernels(prune: Option<usize>, n: usize, s: &mut Scratch) {
        s.pos.clear();
        s.pos.resize(n, 0);
        match prune {
            Some(p) => {
                for (k, &(_, r)) in s.sorted[p].iter().enumerate() {
                    s.pos[r as usize] = k as u32;
                }
                for list in &mut s.sorted {
                    for e in list.iter_mut() {
                        e.1 = s.pos[e.1 as usize];
                    }
                }
            }
            None => s
                .pos
                .iter_mut()
                .enumerate()
                .for_each(|(r, p)| *p = r as u32),
        }
    }

    /// Fills `s.sorted` and `s.pos` for `rows` as [`Tpe::number_kernels`] leaves them,
    /// taking the order of complete trials from the history's value index (pending trials
    /// are sorted here). Returns `false`, leaving the caller to sort, if the index does not
    /// cover the rows exactly.
    fn sorted_from_index(
        &self,
        history: &Trials,
        dims: &[DimModel],
        prune: Option<usize>,
        rows: &[&(usize, &[f64])],
        s: &mut Scratch,
    ) -> bool {
        const NONE: u32 = u32::MAX;
        s.slot.clear();
        s.slot.resize(history.len(), NONE);
        let mut extra: Vec<(f64, u32)> = Vec::new();
        let mut extras: Vec<usize> = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            let complete = history
                .get(row.0)
                .is_some_and(|t| history.score(t).is_some_and(f64::is_finite));
            match s.slot.get_mut(row.0) {
                Some(slot) if complete => *slot = r as u32,
                _ => extras.push(r),
            }
        }
        let index = history.value_index();
        // Rows are numbered as kernels once the pruning dim's order is known, so it goes
        // first and the other dims are written with kernel numbers directly.
        s.pos.clear();
        s.pos.extend(0..rows.len() as u32);
        let order = prune
            .into_iter()
            .chain((0..dims.len()).filter(|&d| Some(d) != prune));
        for d in order {
            let dim = &dims[d];
            let list = &mut s.sorted[d];
            list.clear();
            extra.clear();
            extra.extend(
                extras
                    .iter()
                    .map(|&r| (dim.locate(rows[r].1[dim.param]), s.pos[r])),
            );
            extra.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            list.reserve(rows.len());
            let pos = &s.pos;
            let entries = index.sorted(dim.param).iter().filter_map(|&(v, number)| {
                let r = *s.slot.get(number)?;
                // `locate` is monotone, so located values stay in order.
                (r != NONE).then(|| (dim.locate(v), pos[r as usize]))
            });
            if extra.is_empty() {
                list.extend(entries);
            } else {
                let mut pending = extra.iter().peekable();
                for (t, r) in entries {
                    while let Some(&&e) = pending.peek() {
                        if e.0 > t {
                            break;
                        }
                        list.push(e);
                        pending.next();
                    }
                    list.push((t, r));
                }
                list.extend(pending);
            }
            if list.len() != rows.len() {
                return false;
            }
            if Some(d) == prune {
                for (k, e) in list.iter_mut().enumerate() {
                    s.pos[e.1 as usize] = k as u32;
                    e.1 = k as u32;
                }
            }
        }
        true
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
            started: SystemTime::UNIX_EPOCH,
            duration: Some(Duration::ZERO),
        });
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
        // Store kernels in sorted order, as the sampler does for continuous dims.
        let mut pos = vec![0u32; obs.len()];
        for (k, e) in sorted.iter_mut().enumerate() {
            pos[e.1 as usize] = k as u32;
            e.1 = k as u32;
        }
        let mut p = Parzen::default();
        p.fit(&dims, &[sorted], &vec![1.0; obs.len()], &pos, cfg);
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
                    est.log_density(&dims, &[(t, 0.0)], &mut terms).exp() * h
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
                    est.log_density(&dims, &[key], &mut terms).exp()
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
        let dims: Vec<DimModel> = space
            .params()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| DimModel::new(i, p))
            .collect();
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
        let mut pos = vec![0u32; rows.len()];
        for (k, &(_, r)) in sorted[0].iter().enumerate() {
            pos[r as usize] = k as u32;
        }
        for l in &mut sorted {
            for e in l.iter_mut() {
                e.1 = pos[e.1 as usize];
            }
        }
        let mut w = Vec::new();
        let cfg = Tpe::default();
        cfg.weights(rows.len(), &mut w);
        let mut est = Parzen::default();
        est.fit(&dims, &sorted, &w, &pos, &cfg);
        let mut terms = Vec::new();
        for i in 0..50 {
            let x = space.sample_prior(&mut TrialRng::for_trial(6, i));
            let key: Vec<(f64, f64)> = dims.iter().map(|d| d.score_key(x[d.param])).collect();
            let fast = est.log_density(&dims, &key, &mut terms);
            let slow = est.log_density_brute_force(&dims, &key);
            assert!(
                ((fast - slow) / slow).abs() < 1e-10 || (fast - slow).abs() < 1e-10,
                "{fast} vs {slow}"
            );
        }
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
            .filter(|&i| tpe.suggest(&space, &h, &mut TrialRng::for_trial(2, i))[0] == 1.0)
            .count();
        assert!(picks > 80, "good option picked {picks}/100 times");
    }

    #[test]
    fn constant_liar_separates_pending_suggestions() {
        let space = Space::builder()
            .uniform("x", -5.0, 5.0)
            .uniform("y", -5.0, 5.0)
            .build()
            .expect("valid");
        let f = |x: &[f64]| x[0] * x[0] + x[1] * x[1];
        let mut h = history(&space, 30, f);
        let tpe = Tpe::default();
        let first = tpe.suggest(&space, &h, &mut TrialRng::for_trial(4, 30));
        push(&mut h, &space, first.clone(), TrialState::Running, 0.0);
        // The same random stream: only the pending trial can make the result differ.
        let second = tpe.suggest(&space, &h, &mut TrialRng::for_trial(4, 30));
        assert_ne!(bits(&first), bits(&second));
        let without =
            tpe.clone()
                .constant_liar(false)
                .suggest(&space, &h, &mut TrialRng::for_trial(4, 30));
        assert_eq!(bits(&first), bits(&without));
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
            let a = tpe.suggest(&space, &h, &mut TrialRng::for_trial(8, 40));
            let b = tpe.suggest(&space, &h, &mut TrialRng::for_trial(8, 40));
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
                let x = tpe.suggest(&space, h, &mut TrialRng::for_trial(3, i));
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
            started: SystemTime::UNIX_EPOCH,
            duration: None,
        });
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
        let mut w = Vec::new();
        Tpe::default().weights(30, &mut w);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        assert!(w[5..].iter().all(|&x| x == 1.0));
    }
}
