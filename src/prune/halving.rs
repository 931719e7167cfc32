//! Successive halving (asynchronous, ASHA) and Hyperband.
//!
//! Rungs are at `min_resource · η^(s + k)` steps for `k = 0, 1, ...`, where `η` is the
//! reduction factor and `s` the minimum early-stopping rate. A trial reaching a rung
//! records the value it reports there and goes on only if that value is among the best
//! `1/η` of every value recorded at the rung so far (asynchronous successive halving, Li
//! et al. 2020; with fewer than `η` values the trial must be the best of them). Hyperband
//! (Li et al. 2018) runs several such schedules at once, one per bracket `s`, and assigns
//! each trial to a bracket at random with weights that give brackets equal budgets, scaled
//! by how well the first rungs rank the complete trials as their final values do; the
//! brackets differ in the first step at which they judge a trial, and share the values
//! recorded at each step.

use std::cmp::Ordering;

use rand::RngExt;
use smallvec::SmallVec;

use super::{Progress, Pruner, PrunerKind, PrunerSession, insert_sorted};
use crate::rng::TrialRng;
use crate::trials::TrialState;

/// The smallest resource (steps) a trial gets before its first rung.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MinResource {
    /// Estimated once the first trial completes: its last step / 100, at least 1 (no
    /// trial is stopped before then), as optuna's `"auto"`.
    #[default]
    Auto,
    /// This many steps (at least 1).
    Steps(u64),
}

/// Asynchronous successive halving (ASHA), as optuna's `SuccessiveHalvingPruner`: the
/// defaults are a reduction factor of 4, an automatic minimum resource, a minimum
/// early-stopping rate of 0 and no bootstrap.
///
/// ```
/// use hyperflow::prune::{MinResource, SuccessiveHalving};
///
/// // Rungs at 1, 3, 9, 27, ... epochs; keep the best third at each.
/// let pruner = SuccessiveHalving::new()
///     .min_resource(MinResource::Steps(1))
///     .reduction_factor(3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessiveHalving {
    min_resource: MinResource,
    reduction_factor: u64,
    min_early_stopping_rate: u32,
    bootstrap_count: usize,
}

impl Default for SuccessiveHalving {
    fn default() -> Self {
        SuccessiveHalving {
            min_resource: MinResource::Auto,
            reduction_factor: 4,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

impl SuccessiveHalving {
    /// ASHA with the defaults.
    pub fn new() -> Self {
        SuccessiveHalving::default()
    }

    /// The steps before the first rung (default [`MinResource::Auto`]).
    pub fn min_resource(mut self, r: MinResource) -> Self {
        self.min_resource = r;
        self
    }

    /// `η`: rungs are `η` times apart and keep the best `1/η` (default 4, at least 2).
    pub fn reduction_factor(mut self, eta: u64) -> Self {
        self.reduction_factor = eta.max(2);
        self
    }

    /// `s`: the first rung is at `min_resource · η^s` (default 0).
    pub fn min_early_stopping_rate(mut self, s: u32) -> Self {
        self.min_early_stopping_rate = s;
        self
    }

    /// How many values a rung must hold before any trial passes it (default 0): trials
    /// reaching a rung with this many values or fewer are stopped.
    pub fn bootstrap_count(mut self, n: usize) -> Self {
        self.bootstrap_count = n;
        self
    }
}

impl Pruner for SuccessiveHalving {
    fn name(&self) -> &str {
        PrunerKind::Asha.as_str()
    }

    fn session(&self, _seed: u64) -> Box<dyn PrunerSession> {
        Box::new(Asha {
            schedule: Halving::new(*self),
            rungs: Rungs::new(),
        })
    }
}

/// Per rung `g`, judged at `min_resource · η^g` steps, the scores recorded there, ascending.
type Rungs = Vec<Vec<f64>>;

/// One successive-halving schedule following a search (or one Hyperband bracket): which
/// rungs a trial has reached. The values recorded at the rungs are kept apart, so that
/// Hyperband's brackets can share them.
#[derive(Debug)]
struct Halving {
    config: SuccessiveHalving,
    /// The minimum resource once known.
    min_resource: Option<u64>,
    /// Per trial, how many rungs it recorded.
    passed: Vec<usize>,
}

impl Halving {
    fn new(config: SuccessiveHalving) -> Self {
        Halving {
            min_resource: match config.min_resource {
                MinResource::Auto => None,
                MinResource::Steps(n) => Some(n.max(1)),
            },
            config,
            passed: Vec::new(),
        }
    }

    /// The index in [`Rungs`] of this schedule's rung `k`.
    fn rung_index(&self, k: usize) -> usize {
        self.config.min_early_stopping_rate as usize + k
    }

    /// The step at which rung `k` is judged.
    fn rung_step(&self, min_resource: u64, k: usize) -> u64 {
        u32::try_from(self.rung_index(k))
            .ok()
            .and_then(|e| self.config.reduction_factor.checked_pow(e))
            .and_then(|f| f.checked_mul(min_resource))
            .unwrap_or(u64::MAX)
    }

    /// Whether `trial` stops at its last report, recording its value at each rung it
    /// reaches in `rungs`.
    fn judge(&mut self, progress: &Progress, trial: usize, rungs: &mut Rungs) -> bool {
        let Some(min_resource) = self.min_resource else {
            return false;
        };
        let Some((step, value)) = progress.curve(trial).last() else {
            return false;
        };
        if self.passed.len() <= trial {
            self.passed.resize(trial + 1, 0);
        }
        let score = progress.score(value);
        loop {
            let rung = self.passed[trial];
            if step < self.rung_step(min_resource, rung) {
                return false;
            }
            if score.is_nan() {
                return true;
            }
            let recorded = record(rungs, self.rung_index(rung), score);
            self.passed[trial] += 1;
            if recorded.len() <= self.config.bootstrap_count {
                return true;
            }
            let keep = (recorded.len() / self.config.reduction_factor as usize).max(1);
            if score > recorded[keep - 1] {
                return true;
            }
        }
    }

    /// Learns the minimum resource from the first complete trial, when it is automatic,
    /// and records the rungs every trial passed before it was known.
    fn learn(&mut self, progress: &Progress, trial: usize, rungs: &mut Rungs) {
        if self.min_resource.is_none() && progress.state(trial) == Some(TrialState::Complete) {
            self.min_resource = longest_complete(progress).map(|last| (last / 100).max(1));
            for (t, _, _) in progress.iter() {
                self.backfill(progress, t, rungs);
            }
        }
    }

    /// Records the value trial `trial` reported at each rung it has passed (its first
    /// step at or after the rung) without judging it: for trials that ran before the
    /// schedule was known, so that they are compared with, as later trials are.
    fn backfill(&mut self, progress: &Progress, trial: usize, rungs: &mut Rungs) {
        let Some(min_resource) = self.min_resource else {
            return;
        };
        let curve = progress.curve(trial);
        let mut rung = 0;
        while let Some(value) = curve.from_step(self.rung_step(min_resource, rung)) {
            let score = progress.score(value);
            if score.is_nan() {
                break;
            }
            record(rungs, self.rung_index(rung), score);
            rung += 1;
        }
        if self.passed.len() <= trial {
            self.passed.resize(trial + 1, 0);
        }
        self.passed[trial] = rung;
    }
}

/// Records `score` at rung `rung` of `rungs`; returns that rung's scores, ascending.
fn record(rungs: &mut Rungs, rung: usize, score: f64) -> &[f64] {
    if rungs.len() <= rung {
        rungs.resize_with(rung + 1, Vec::new);
    }
    insert_sorted(&mut rungs[rung], score);
    &rungs[rung]
}

/// The highest last step of the complete trials.
fn longest_complete(progress: &Progress) -> Option<u64> {
    progress
        .iter()
        .filter(|&(_, state, _)| state == TrialState::Complete)
        .filter_map(|(_, _, curve)| curve.last().map(|(s, _)| s))
        .max()
}

/// A [`SuccessiveHalving`] session: one schedule and its rungs.
struct Asha {
    schedule: Halving,
    rungs: Rungs,
}

impl PrunerSession for Asha {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        self.schedule.judge(progress, trial, &mut self.rungs)
    }

    fn finished(&mut self, progress: &Progress, trial: usize) {
        self.schedule.learn(progress, trial, &mut self.rungs);
    }
}

/// The largest resource (steps) a trial may get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MaxResource {
    /// The first complete trial's last step + 1 (no trial is stopped before one
    /// completes), as optuna's `"auto"`.
    #[default]
    Auto,
    /// This many steps.
    Steps(u64),
}

/// Hyperband: brackets of successive halving with minimum early-stopping rates `0, 1,
/// ...`, as many as fit between the minimum and maximum resource; each trial is assigned
/// a bracket at random (from the search's seed and its number), weighted so that each
/// bracket gets an equal budget, as optuna's `HyperbandPruner`, and by default scaled by
/// how well the first rungs rank the complete trials ([`BracketWeights`]). A bracket
/// decides when a trial is first judged (the least aggressive never stops one); at a
/// given step every trial is judged against the values all brackets recorded at that
/// step, where optuna compares it only with the trials of its own bracket: with the
/// sampler learning from every bracket, a bracket of its own would keep too few values at
/// a step to stop anything early in a search (measured in `bench/prune/RESULTS.md`);
/// [`Brackets::Separate`] gives optuna's and Li et al.'s rule. Defaults: minimum resource
/// 1, maximum automatic, reduction factor 3, no bootstrap, brackets shared, weighted by
/// agreement.
///
/// ```
/// use hyperflow::prune::{Hyperband, MaxResource};
///
/// // Up to 81 epochs: five brackets, the most aggressive with rungs at 1, 3, 9, 27.
/// let pruner = Hyperband::new().max_resource(MaxResource::Steps(81));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hyperband {
    min_resource: u64,
    max_resource: MaxResource,
    reduction_factor: u64,
    bootstrap_count: usize,
    brackets: Brackets,
    weights: BracketWeights,
}

/// Which values a [`Hyperband`] bracket judges a trial against at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Brackets {
    /// The values every bracket recorded at that step: saves the most steps where values
    /// part way rank settings as final ones do.
    #[default]
    Shared,
    /// Only those its own bracket recorded (Li et al., optuna's `HyperbandPruner`): the
    /// stronger hedge where values part way mislead (a warm-up plateau, a late drop), at
    /// the price of fewer steps saved elsewhere (`bench/prune/RESULTS.md`, "Held-out
    /// problems").
    Separate,
}

impl Brackets {
    /// Both, in the order error messages list them.
    pub const ALL: [Brackets; 2] = [Brackets::Shared, Brackets::Separate];

    /// The name as written in configs (`"shared"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Brackets::Shared => "shared",
            Brackets::Separate => "separate",
        }
    }
}

/// How [`Hyperband`] shares new trials out among its brackets.
///
/// Li et al. and optuna weight each bracket by its budget, so that every bracket spends
/// about as many steps: a hedge against curves whose early values mislead (a slow starter
/// that ends best) at a fixed price, paid in full where early values rank settings well,
/// and too small where they mislead, as the aggressive brackets, which stop most trials on
/// their first values, go on taking most new trials. [`Agreement`] (the default) asks the
/// complete trials, which reported every step, whether each bracket's first rung can be
/// trusted: for every pair of them, whether their values at that rung rank them as their
/// final values do, which gives Kendall's τ (pairs ranked alike minus pairs ranked the
/// other way, over all). A bracket's weight is its budget times
///
/// - its own rung's τ shrunk towards 1 by a prior of four pairs ranked alike (trusted
///   until shown wrong), 0 when τ is 0 or less: where early values mislead, the brackets
///   judging early fall silent and new trials go to the patient ones;
/// - for every bracket but the most aggressive, `1 - τ₀`, where `τ₀` is the most
///   aggressive bracket's τ shrunk towards 0 by the same four pairs (not trusted until
///   shown right): the patient brackets are the hedge against the earliest judgements, and
///   once the complete trials show those rank as final values do, the hedge is needed
///   less and its steps go to trying more settings.
///
/// Before any pair is seen the weights are the budgets.
///
/// A trial's bracket is drawn when it first reports (or when the maximum resource becomes
/// known), from what the trials complete by then say; a loaded study replays its history
/// in trial order, so it draws the same brackets for a search that ran one trial at a
/// time.
///
/// [`Agreement`]: BracketWeights::Agreement
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BracketWeights {
    /// Budgets scaled by the first rungs' rank agreement with final values.
    #[default]
    Agreement,
    /// Budgets alone (Li et al., optuna).
    Budgets,
}

impl BracketWeights {
    /// Every way, in the order of their names in configs.
    pub const ALL: [BracketWeights; 2] = [BracketWeights::Agreement, BracketWeights::Budgets];

    /// The name in configs (`agreement`, `budgets`).
    pub fn as_str(self) -> &'static str {
        match self {
            BracketWeights::Agreement => "agreement",
            BracketWeights::Budgets => "budgets",
        }
    }
}

impl Default for Hyperband {
    fn default() -> Self {
        Hyperband {
            min_resource: 1,
            max_resource: MaxResource::Auto,
            reduction_factor: 3,
            bootstrap_count: 0,
            brackets: Brackets::Shared,
            weights: BracketWeights::Agreement,
        }
    }
}

impl Hyperband {
    /// Hyperband with the defaults.
    pub fn new() -> Self {
        Hyperband::default()
    }

    /// The steps before the first rung of the most aggressive bracket (default 1).
    pub fn min_resource(mut self, steps: u64) -> Self {
        self.min_resource = steps.max(1);
        self
    }

    /// The most steps a trial may take (default [`MaxResource::Auto`]).
    pub fn max_resource(mut self, r: MaxResource) -> Self {
        self.max_resource = r;
        self
    }

    /// `η` (default 3, at least 2).
    pub fn reduction_factor(mut self, eta: u64) -> Self {
        self.reduction_factor = eta.max(2);
        self
    }

    /// Each bracket's [`SuccessiveHalving::bootstrap_count`] (default 0).
    pub fn bootstrap_count(mut self, n: usize) -> Self {
        self.bootstrap_count = n;
        self
    }

    /// Which values a bracket judges a trial against (default [`Brackets::Shared`]).
    pub fn brackets(mut self, brackets: Brackets) -> Self {
        self.brackets = brackets;
        self
    }

    /// How new trials are shared out among brackets (default
    /// [`BracketWeights::Agreement`]).
    pub fn weights(mut self, weights: BracketWeights) -> Self {
        self.weights = weights;
        self
    }

    /// The brackets for a maximum resource: one successive-halving schedule per
    /// minimum early-stopping rate, with the budget that weighs its share of trials.
    fn schedules(&self, max_resource: u64) -> Vec<(Halving, u64)> {
        let eta = self.reduction_factor;
        let mut n = 1u32;
        while self
            .min_resource
            .checked_mul(eta.saturating_pow(n))
            .is_some_and(|r| r <= max_resource)
        {
            n += 1;
        }
        (0..n)
            .map(|id| {
                let s = n - 1 - id;
                let budget = (f64::from(n) * (eta as f64).powi(s as i32) / f64::from(s + 1)).ceil();
                let halving = Halving::new(SuccessiveHalving {
                    min_resource: MinResource::Steps(self.min_resource),
                    reduction_factor: eta,
                    min_early_stopping_rate: id,
                    bootstrap_count: self.bootstrap_count,
                });
                (halving, budget as u64)
            })
            .collect()
    }
}

impl Pruner for Hyperband {
    fn name(&self) -> &str {
        PrunerKind::Hyperband.as_str()
    }

    fn session(&self, seed: u64) -> Box<dyn PrunerSession> {
        let brackets = match self.max_resource {
            MaxResource::Steps(max) => self.schedules(max),
            MaxResource::Auto => Vec::new(),
        };
        Box::new(HyperbandSession::new(*self, seed, brackets))
    }
}

struct HyperbandSession {
    config: Hyperband,
    seed: u64,
    /// The brackets with their budgets; empty until the maximum resource is known.
    brackets: Vec<(Halving, u64)>,
    /// The values recorded at each step: one table for all brackets, or one per bracket
    /// ([`Brackets`]).
    rungs: Vec<Rungs>,
    /// Each trial's bracket, once drawn.
    assigned: Vec<Option<usize>>,
    /// How well each bracket's first rung ranks complete trials.
    agreement: Agreement,
}

impl HyperbandSession {
    fn new(config: Hyperband, seed: u64, brackets: Vec<(Halving, u64)>) -> Self {
        let mut session = HyperbandSession {
            config,
            seed,
            brackets: Vec::new(),
            rungs: Vec::new(),
            assigned: Vec::new(),
            agreement: Agreement::default(),
        };
        session.set_brackets(brackets);
        session
    }

    fn set_brackets(&mut self, brackets: Vec<(Halving, u64)>) {
        let steps = brackets
            .iter()
            .map(|(h, _)| h.rung_step(self.config.min_resource, 0))
            .collect();
        self.agreement = Agreement::new(steps);
        self.brackets = brackets;
    }

    /// The bracket of `trial`: drawn once, from the search's seed and the trial's number,
    /// weighted by the brackets' budgets (and [`BracketWeights`]).
    fn bracket_of(&mut self, trial: usize) -> usize {
        if let Some(&Some(id)) = self.assigned.get(trial) {
            return id;
        }
        // A stream apart from the sampler's draws for the same trial.
        const SALT: u64 = 0x6879_7065_7262_616e;
        let total: u64 = self.brackets.iter().map(|(_, b)| b).sum::<u64>().max(1);
        let draw = TrialRng::for_trial(self.seed ^ SALT, trial as u64).random_range(0..total);
        let weights: SmallVec<[f64; 8]> = (0..self.brackets.len())
            .map(|id| {
                let factor = match self.config.weights {
                    BracketWeights::Budgets => 1.0,
                    // The patient brackets hedge against the most aggressive one's first
                    // rung: less, the more it is shown right.
                    BracketWeights::Agreement if id > 0 => {
                        self.agreement.factor(id) * (1.0 - self.agreement.shown())
                    }
                    BracketWeights::Agreement => self.agreement.factor(id),
                };
                self.brackets[id].1 as f64 * factor
            })
            .collect();
        // The draw as a fraction of the total budget: with every factor 1, the bracket the
        // budgets give; past every weight (all 0), the most patient bracket.
        let mut at = (draw as f64 + 0.5) / total as f64 * weights.iter().sum::<f64>();
        let mut id = self.brackets.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if at < *w {
                id = i;
                break;
            }
            at -= w;
        }
        if self.assigned.len() <= trial {
            self.assigned.resize(trial + 1, None);
        }
        self.assigned[trial] = Some(id);
        id
    }

    /// The table of values bracket `id` records in ([`Brackets`]).
    fn table(&self, id: usize) -> usize {
        match self.config.brackets {
            Brackets::Shared => 0,
            Brackets::Separate => id,
        }
    }

    /// The bracket of `trial` and the rungs it records its values in.
    fn bracket_and_rungs(&mut self, trial: usize) -> (&mut Halving, &mut Rungs) {
        let id = self.bracket_of(trial);
        let table = self.table(id);
        if self.rungs.len() <= table {
            self.rungs.resize_with(table + 1, Rungs::new);
        }
        (&mut self.brackets[id].0, &mut self.rungs[table])
    }
}

impl PrunerSession for HyperbandSession {
    fn judge(&mut self, progress: &Progress, trial: usize) -> bool {
        if self.brackets.is_empty() {
            return false;
        }
        let (bracket, rungs) = self.bracket_and_rungs(trial);
        bracket.judge(progress, trial, rungs)
    }

    fn finished(&mut self, progress: &Progress, trial: usize) {
        if progress.state(trial) != Some(TrialState::Complete) {
            return;
        }
        if !self.brackets.is_empty() {
            self.agreement.learn(progress, trial);
            return;
        }
        let Some(last) = longest_complete(progress) else {
            return;
        };
        self.set_brackets(self.config.schedules(last.saturating_add(1)));
        for (t, state, _) in progress.iter() {
            let (bracket, rungs) = self.bracket_and_rungs(t);
            bracket.backfill(progress, t, rungs);
            if state == TrialState::Complete {
                self.agreement.learn(progress, t);
            }
        }
    }
}

/// How well the values at the brackets' first rungs rank complete trials as their final
/// values do ([`BracketWeights::Agreement`]): per rung, the pairs of complete trials it
/// ranks alike and the pairs it ranks the other way, counted as trials complete.
#[derive(Debug, Default)]
struct Agreement {
    /// The brackets' first rungs (steps).
    steps: Vec<u64>,
    /// Per complete trial, its score at each first rung (NaN where it has none) and then
    /// its final score: `steps.len() + 1` values per trial.
    scores: Vec<f64>,
    /// Per first rung: (pairs ranked alike, pairs ranked the other way).
    pairs: Vec<(u64, u64)>,
}

impl Agreement {
    /// The prior, in pairs ranked alike, towards which τ is shrunk.
    const PRIOR_PAIRS: f64 = 4.0;

    fn new(steps: Vec<u64>) -> Self {
        Agreement {
            pairs: vec![(0, 0); steps.len()],
            steps,
            scores: Vec::new(),
        }
    }

    /// Complete trial `trial`: its pairs with every complete trial learned before.
    fn learn(&mut self, progress: &Progress, trial: usize) {
        let curve = progress.curve(trial);
        let Some(last) = progress.value(trial).or(curve.last().map(|(_, v)| v)) else {
            return;
        };
        let last = progress.score(last);
        if last.is_nan() {
            return;
        }
        let width = self.steps.len() + 1;
        let start = self.scores.len();
        for &step in &self.steps {
            let score = curve
                .from_step(step)
                .map_or(f64::NAN, |v| progress.score(v));
            self.scores.push(score);
        }
        self.scores.push(last);
        let (earlier, new) = self.scores.split_at(start);
        for other in earlier.chunks_exact(width) {
            let other_last = other[width - 1];
            if other_last == last {
                continue;
            }
            let order = last.total_cmp(&other_last);
            for (pairs, (&a, &b)) in self.pairs.iter_mut().zip(new.iter().zip(other)) {
                match a.partial_cmp(&b) {
                    // A tie, or a trial without a value there (NaN).
                    Some(Ordering::Equal) | None => {}
                    Some(early) if early == order => pairs.0 += 1,
                    Some(_) => pairs.1 += 1,
                }
            }
        }
    }

    /// Kendall's τ of bracket `id`'s first rung against final values, with
    /// [`PRIOR_PAIRS`](Self::PRIOR_PAIRS) more pairs of which `prior_alike` are ranked
    /// alike; 0 when negative.
    fn tau(&self, id: usize, prior_alike: f64) -> f64 {
        let (alike, other) = self.pairs.get(id).copied().unwrap_or((0, 0));
        let (alike, other) = (alike as f64, other as f64);
        ((prior_alike + alike - other) / (Self::PRIOR_PAIRS + alike + other)).max(0.0)
    }

    /// The factor on bracket `id`'s weight for its own first rung: τ shrunk towards 1
    /// (no evidence: trusted).
    fn factor(&self, id: usize) -> f64 {
        self.tau(id, Self::PRIOR_PAIRS)
    }

    /// How far the most aggressive first rung is shown to rank as final values do: τ
    /// shrunk towards 0 (no evidence: not shown).
    fn shown(&self) -> f64 {
        self.tau(0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trials::Direction;

    /// Reports `values[k]` at step `k` for a new trial until it is stopped; returns how
    /// many steps it took.
    fn run(s: &mut dyn PrunerSession, p: &mut Progress, values: &[f64]) -> usize {
        let n = p.len();
        p.push(n, TrialState::Running);
        for (step, &v) in values.iter().enumerate() {
            p.report(n, step as u64, v);
            if s.judge(p, n) {
                p.finish(n, TrialState::Pruned, None);
                s.finished(p, n);
                return step + 1;
            }
        }
        p.finish(n, TrialState::Complete, None);
        s.finished(p, n);
        values.len()
    }

    #[test]
    fn asha_keeps_the_best_fraction_at_each_rung() {
        let asha = SuccessiveHalving::new()
            .min_resource(MinResource::Steps(1))
            .reduction_factor(2);
        let mut s = asha.session(0);
        let mut p = Progress::new(Direction::Minimize);
        // Rungs at steps 1, 2, 4, 8. The first trial is the best of its rungs: it runs.
        assert_eq!(run(&mut *s, &mut p, &[5.0; 10]), 10);
        // Worse than the only value at rung 1 (keep max(2/2, 1) = 1 of 2): stopped there.
        assert_eq!(run(&mut *s, &mut p, &[6.0; 10]), 2);
        // Better: passes every rung.
        assert_eq!(run(&mut *s, &mut p, &[4.0; 10]), 10);
        // Rung 1 holds 4, 5, 6 and this 4.5: keeps 2 of 4 (4 and 4.5) so it passes; at
        // rung 2 (4, 5, 4.5 recorded) it keeps 1 of 3 (4): stopped at step 2.
        assert_eq!(run(&mut *s, &mut p, &[4.5; 10]), 3);
    }

    #[test]
    fn asha_learns_its_minimum_resource_from_the_first_complete_trial() {
        let mut s = SuccessiveHalving::new().session(0);
        let mut p = Progress::new(Direction::Minimize);
        assert_eq!(
            run(&mut *s, &mut p, &[1.0; 400]),
            400,
            "nothing to compare with"
        );
        // min resource 399 / 100 = 3: rungs at 3, 12, 48, 192, where the first trial's
        // values are recorded once it completes.
        assert_eq!(run(&mut *s, &mut p, &[2.0; 400]), 4);
    }

    #[test]
    fn hyperband_brackets_get_equal_budgets() {
        let hb = Hyperband::new().max_resource(MaxResource::Steps(81));
        let brackets = hb.schedules(81);
        // 1, 3, 9, 27, 81: five brackets; budgets ceil(5·3^s/(s+1)) for s = 4..0.
        let budgets: Vec<u64> = brackets.iter().map(|(_, b)| *b).collect();
        assert_eq!(budgets, [81, 34, 15, 8, 5]);
        let first_rungs: Vec<u64> = brackets.iter().map(|(h, _)| h.rung_step(1, 0)).collect();
        assert_eq!(first_rungs, [1, 3, 9, 27, 81]);
        // The draw follows the budgets: bracket 0 gets about 81/143 of the trials.
        let mut session = HyperbandSession::new(hb, 7, brackets);
        let zero = (0..14_300).filter(|&t| session.bracket_of(t) == 0).count();
        assert!((7_700..8_500).contains(&zero), "{zero}");
    }

    #[test]
    fn hyperband_judges_a_step_against_every_bracket_unless_separate() {
        // The steps the first much worse trial of bracket 1 takes: stopped at its first
        // rung (step 3) by trial 0's value there when brackets share values; with brackets
        // apart it has nothing of its own bracket to be compared with and goes on to the end.
        for (brackets, second_steps) in [(Brackets::Shared, 4), (Brackets::Separate, 9)] {
            let hb = Hyperband::new()
                .max_resource(MaxResource::Steps(9))
                .brackets(brackets);
            // Brackets with first rungs at steps 1, 3 and 9 (the end: never judged); a
            // seed that puts trial 0 in the first.
            let session = |seed| HyperbandSession::new(hb, seed, hb.schedules(9));
            let seed = (0..)
                .find(|&seed| session(seed).bracket_of(0) == 0)
                .unwrap();
            let mut s = session(seed);
            let mut p = Progress::new(Direction::Minimize);
            assert_eq!(run(&mut s, &mut p, &[1.0; 9]), 9);
            let (mut second, mut last) = (None, None);
            while second.is_none() || last.is_none() {
                let bracket = s.bracket_of(p.len());
                let steps = run(&mut s, &mut p, &[9.0; 9]);
                match bracket {
                    1 => second = second.or(Some(steps)),
                    2 => last = last.or(Some(steps)),
                    _ => assert_eq!(steps, 2, "{brackets:?}"),
                }
            }
            assert_eq!(
                (second, last),
                (Some(second_steps), Some(9)),
                "{brackets:?}"
            );
        }
    }

    /// A session of Hyperband over 9 steps (first rungs at 1, 3 and 9) weighted `weights`,
    /// told of twenty complete trials whose values at steps 1 to 8 rank them as their final values do (`agree`)
    /// or the other way round.
    fn told_of_complete_trials(weights: BracketWeights, agree: bool) -> HyperbandSession {
        let hb = Hyperband::new()
            .max_resource(MaxResource::Steps(9))
            .weights(weights);
        let mut s = HyperbandSession::new(hb, 5, hb.schedules(9));
        let mut p = Progress::new(Direction::Minimize);
        for t in 0..20 {
            let last = t as f64;
            let early = if agree { last } else { -last };
            p.push(t, TrialState::Running);
            for step in 1..=9 {
                p.report(t, step, if step < 9 { early } else { last });
            }
            p.finish(t, TrialState::Complete, Some(last));
            s.finished(&p, t);
        }
        s
    }

    #[test]
    fn hyperband_sends_no_trials_to_brackets_whose_first_rung_misranks() {
        // Early values ranking trials against their final ones: the brackets that judge
        // before the end (first rungs 1 and 3) get no new trials; weighted by budgets
        // alone they get most.
        let mut s = told_of_complete_trials(BracketWeights::Agreement, false);
        assert_eq!(s.agreement.pairs, [(0, 190), (0, 190), (190, 0)]);
        assert!((20..1020).all(|t| s.bracket_of(t) == 2));
        let mut s = told_of_complete_trials(BracketWeights::Budgets, false);
        let last = (20..1020).filter(|&t| s.bracket_of(t) == 2).count();
        assert!((100..300).contains(&last), "{last}");
    }

    #[test]
    fn hyperband_hedges_less_once_the_first_rung_is_shown_right() {
        // Every rung ranking as final values do: τ₀ = 190 / 194, so the patient brackets
        // keep 2% of their weight and nearly every new trial goes to the most aggressive
        // bracket, which by budgets gets 9 of 17.
        let count = |weights| {
            let mut s = told_of_complete_trials(weights, true);
            assert_eq!(s.agreement.pairs, [(190, 0); 3]);
            (20..1020).filter(|&t| s.bracket_of(t) == 0).count()
        };
        let (agreement, budgets) = (
            count(BracketWeights::Agreement),
            count(BracketWeights::Budgets),
        );
        assert!(
            agreement > 950 && (450..610).contains(&budgets),
            "{agreement} {budgets}"
        );
    }

    #[test]
    fn hyperband_waits_for_a_complete_trial_when_automatic() {
        let mut s = Hyperband::new().session(3);
        let mut p = Progress::new(Direction::Minimize);
        assert_eq!(run(&mut *s, &mut p, &[1.0; 27]), 27);
        // Max resource 27: brackets with first rungs 1, 3, 9, 27. Much worse trials are
        // stopped at their bracket's first rung unless it is the last one (no rung
        // before the end); at least one of twenty lands in the first three brackets.
        let steps: Vec<usize> = (0..20).map(|_| run(&mut *s, &mut p, &[9.0; 27])).collect();
        assert!(steps.iter().any(|&n| n < 27), "{steps:?}");
        assert!(
            steps.iter().all(|&n| [2, 4, 10, 27].contains(&n)),
            "{steps:?}"
        );
    }
}
