//! PED-ANOVA importance (Watanabe, Bansal, Hutter, IJCAI 2023) with histogram densities.
//!
//! PED-ANOVA shows that the f-ANOVA variance of the indicator "trial is in the top γ
//! quantile", restricted to one parameter, equals (up to the factor γ², the same for every
//! parameter) the Pearson divergence between the density of that parameter among the top
//! trials, `p_top`, and among all trials, `p_all`:
//!
//! ```text
//! D = ∫ (p_top(x) / p_all(x) − 1)² p_all(x) dx
//! ```
//!
//! We estimate both densities with histograms whose bins hold equal numbers of *all*
//! trials (categories for a choice; tied values always share a bin, so grids and integers
//! bin cleanly), in the parameter's analysis space (log space for log kinds — equal-mass
//! bins make the estimate invariant to any monotone transform anyway). With counts `a_b` of
//! all trials and `t_b` of top trials per bin, `n` and `k` in total:
//!
//! ```text
//! D̂_raw = Σ_b (t_b/k − a_b/n)² / (a_b/n) = χ² / k
//! ```
//!
//! where `χ²` is Pearson's statistic of the top counts against the counts expected if top
//! trials were spread like all trials. The top trials are a subset of all trials, so under
//! "the parameter does not matter" they are a random draw without replacement and
//! `E[χ²] = (B − 1)(n − k)/(n − 1)` for `B` bins, whatever the bins; that noise floor is
//! subtracted (`D̂ = max(0, χ² − E[χ²]) / k`), so irrelevant parameters get an importance
//! near 0 instead of one that grows with the number of bins.
//!
//! **Bins**: `B = max(⌈n/k⌉, min(⌊k/3⌋, 12))`. A histogram of `B` bins cannot show a
//! divergence above `B − 1`, while a parameter that alone decides which trials are top
//! reaches `(1 − γ)/γ = n/k − 1`; with fewer than `1/γ` bins the strongest possible effect
//! would look weak (at 40 trials and γ = 0.2, two bins capped the strength at 0.25). Past
//! that, bins get finer as the top set grows, about 3 top trials per bin, up to 12.
//!
//! **Shifted grids**: where the edges of `B` equal-mass bins fall matters when bins are
//! few: a good region narrower than a bin that straddles an edge is split in two and its
//! divergence all but vanishes. So the estimate is an *averaged shifted histogram* (Scott
//! 1985): the values are cut into [`SHIFTS`] times finer equal-mass cells, and `χ²` and
//! its noise floor are averaged over the [`SHIFTS`] ways of grouping those cells into bins
//! (the first and last bin of a shifted grid are partial). Every grouping is a partition,
//! so every `χ²/k` estimates a lower bound of `D`, and the average no longer depends on
//! where one grid's edges happen to fall.
//!
//! **Significance**: the averaged statistic has no textbook distribution, and at small `k`
//! the chi-square approximation of even one histogram is poor (expected counts of 1 or 2 per
//! bin). The hypothesis "the parameter does not matter" says the top labels are a random
//! `k`-subset of the `n` trials, so the test is a permutation test: the statistics of
//! [`PERMUTATIONS`] random relabelings (fixed seed: reports are deterministic) give the
//! p-value `(1 + #{relabeled ≥ observed}) / (1 + relabelings)`, exact at any `n`, and a
//! parameter is significant at the 1% level, *tentative* between 1% and 10% (it probably
//! matters; more trials would tell: at 20 to 50 trials that is often all one can say).
//! Sampling stops early once the p-value is sure to exceed 10%, so parameters that
//! plainly do not matter cost little; beyond 2,000 top
//! trials fewer relabelings are drawn (down to [`MIN_PERMUTATIONS`]), so a parameter costs
//! at most [`DRAW_BUDGET`] random draws however many trials there are.
//!
//! What the test can see with few trials: with 8 top trials of 40, a parameter that
//! confines the top trials to a fifth of its range is found in every sweep, one whose
//! effect on the loss is about as large as the noise in 1 sweep out of 6 (the table is in
//! `docs/report.md`). "Not significant" then means "not shown to matter", not "does not
//! matter".
//!
//! Caveat (as for PED-ANOVA in general): the reference density is that of the trials
//! actually run. After a sampler like TPE has concentrated on a region, importance measures
//! what still matters *within* the region searched, not over the declared prior.

use rand::Rng;

use crate::rng::TrialRng;

/// How many shifted bin grids the histogram estimate averages over: from about 5 on, an
/// averaged shifted histogram is close to its limit, a triangular-kernel estimate (Scott
/// 1985).
const SHIFTS: usize = 8;
/// Random relabelings drawn for the permutation test (fewer for very many trials).
const PERMUTATIONS: usize = 999;
/// The fewest relabelings drawn: a Monte Carlo test is exact with any number, fewer only
/// make its p-value coarser (1/200 here, still below the level).
const MIN_PERMUTATIONS: usize = 199;
/// Trials drawn per parameter before relabelings are cut below [`PERMUTATIONS`]: all 999
/// up to 2,000 top trials (10,000 trials at γ = 0.2).
const DRAW_BUDGET: usize = 2_000_000;
/// Level of the permutation test.
const LEVEL: f64 = 0.01;
/// Level below which (and above [`LEVEL`]) the evidence is tentative: the parameter
/// probably matters, and more trials would tell.
const TENTATIVE_LEVEL: f64 = 0.1;
/// Seed of the relabelings: fixed, so the same trials always give the same p-value.
const PERMUTATION_SEED: u64 = 0x9ed_a40a;

/// The importance estimate of one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    /// Bias-corrected Pearson divergence.
    pub divergence: f64,
    /// `divergence / ((1 − γ) / γ)`, in `[0, 1]`.
    pub strength: f64,
    /// Finite-population-corrected chi-square statistic, averaged over the shifted grids.
    pub chi2: f64,
    /// Number of bins of one grid (categories for a choice).
    pub bins: usize,
    /// Permutation p-value of "does not matter".
    pub p_value: f64,
    /// Whether the permutation test rejects "does not matter" at the 1% level.
    pub significant: bool,
    /// Whether it rejects it at the 10% level only.
    pub tentative: bool,
}

/// Estimates how much one parameter matters.
///
/// `values` holds the parameter's value per complete trial in which it is active (log
/// space for log kinds, the option index for a choice), `is_top` whether that trial is a
/// top trial. `categorical` makes every distinct value its own bin. `None` when there is
/// nothing to compare: no top trial, only top trials, or fewer than two trials.
pub(crate) fn ped_anova(values: &[f64], is_top: &[bool], categorical: bool) -> Option<Estimate> {
    let n = values.len();
    let k = is_top.iter().filter(|&&t| t).count();
    if n < 2 || k == 0 || k == n || is_top.len() != n {
        return None;
    }
    let target_bins = n.div_ceil(k).max((k / 3).min(12));
    let cells = if categorical {
        Cells::new(values, is_top, n)
    } else {
        Cells::new(values, is_top, target_bins * SHIFTS)
    };
    // Ties can leave fewer cells than asked for; then fewer shifts (one: a plain histogram).
    let shifts = if categorical {
        1
    } else {
        (cells.all.len() / target_bins).max(1)
    };
    let grids = Grids::new(&cells.all, shifts, k, n);

    let (nf, kf) = (n as f64, k as f64);
    let gamma = kf / nf;
    let chi2_raw = grids.mean_chi2(&cells.top, &mut Vec::new());
    let fpc = (nf - 1.0) / (nf - kf);
    let divergence = ((chi2_raw - grids.mean_dof / fpc) / kf).max(0.0);
    let max_divergence = (1.0 - gamma) / gamma;
    let p_value = if grids.mean_dof > 0.0 {
        grids.permutation_p_value(chi2_raw, &cells, k)
    } else {
        1.0
    };
    Some(Estimate {
        divergence,
        strength: (divergence / max_divergence).clamp(0.0, 1.0),
        chi2: chi2_raw * fpc,
        bins: grids.bins,
        p_value,
        significant: p_value <= LEVEL,
        tentative: p_value > LEVEL && p_value <= TENTATIVE_LEVEL,
    })
}

/// Equal-mass cells over the sorted values; a run of equal values never straddles cells.
struct Cells {
    /// All trials per cell, in value order.
    all: Vec<usize>,
    /// Top trials per cell.
    top: Vec<usize>,
    /// The cell of each trial, in input order.
    of_trial: Vec<usize>,
}

impl Cells {
    /// `target` cells of equal mass, or fewer where a run of ties covers a boundary (every
    /// distinct value its own cell when `target` ≥ n).
    fn new(values: &[f64], is_top: &[bool], target: usize) -> Cells {
        let n = values.len();
        // By value, ties in input order: with the index as the tie-break the order is
        // total, so an unstable sort of the pairs gives it without indirect comparisons.
        let mut order: Vec<(f64, usize)> = values.iter().copied().zip(0..).collect();
        order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut cells = Cells {
            all: Vec::new(),
            top: Vec::new(),
            of_trial: vec![0; n],
        };
        let (mut all, mut top) = (0usize, 0usize);
        let mut i = 0;
        while i < n {
            let v = order[i].0;
            while i < n && order[i].0 == v {
                let trial = order[i].1;
                cells.of_trial[trial] = cells.all.len();
                all += 1;
                top += usize::from(is_top[trial]);
                i += 1;
            }
            // The cell ends once it has passed one of the boundaries `j n / target`.
            if i * target / n > (i - all) * target / n {
                cells.all.push(all);
                cells.top.push(top);
                (all, top) = (0, 0);
            }
        }
        cells
    }
}

/// The shifted bin grids over the cells: grid `s` groups `shifts` consecutive cells into a
/// bin, its first bin holding the first `s` cells.
struct Grids {
    /// Every grid's bins as cell ranges `start..end`, grid after grid.
    bins_of_grids: Vec<(usize, usize)>,
    /// Top trials expected per bin when top trials are spread like all trials.
    expected: Vec<f64>,
    /// Number of grids averaged over.
    shifts: usize,
    /// Bins of the unshifted grid.
    bins: usize,
    /// Mean over the grids of bins − 1.
    mean_dof: f64,
}

impl Grids {
    fn new(all: &[usize], shifts: usize, k: usize, n: usize) -> Grids {
        let cells = all.len();
        let prefix = prefix_sums(all, &mut Vec::new()).to_vec();
        let mut bins_of_grids = Vec::new();
        for s in 0..shifts {
            let mut start = 0;
            let mut end = if s == 0 { shifts } else { s };
            while start < cells {
                bins_of_grids.push((start, end.min(cells)));
                start = end;
                end += shifts;
            }
        }
        let expected = bins_of_grids
            .iter()
            .map(|&(s, e)| k as f64 * (prefix[e] - prefix[s]) as f64 / n as f64)
            .collect();
        Grids {
            bins: cells.div_ceil(shifts),
            mean_dof: (bins_of_grids.len() - shifts) as f64 / shifts as f64,
            bins_of_grids,
            expected,
            shifts,
        }
    }

    /// Pearson's statistic of the top counts per cell, averaged over the grids; `buffer`
    /// is scratch space.
    fn mean_chi2(&self, top: &[usize], buffer: &mut Vec<usize>) -> f64 {
        let prefix = prefix_sums(top, buffer);
        let sum: f64 = self
            .bins_of_grids
            .iter()
            .zip(&self.expected)
            .map(|(&(s, e), &expected)| {
                let d = (prefix[e] - prefix[s]) as f64 - expected;
                d * d / expected
            })
            .sum();
        sum / self.shifts as f64
    }

    /// The permutation p-value of `observed`: the share of random relabelings (`k` top
    /// trials drawn without replacement) whose statistic reaches it, counting the observed
    /// labeling itself. Sampling stops once the p-value is sure to exceed the tentative
    /// level (Besag and Clifford 1991), so parameters that clearly do not matter cost little.
    fn permutation_p_value(&self, observed: f64, cells: &Cells, k: usize) -> f64 {
        let n = cells.of_trial.len();
        // Drawing the smaller side is the same relabeling, and cheaper.
        let draw_top = k <= n - k;
        let draws = if draw_top { k } else { n - k };
        let relabelings = (DRAW_BUDGET / draws).clamp(MIN_PERMUTATIONS, PERMUTATIONS);
        // Tentative or better when at most this many relabelings reach the observed
        // statistic; past it, the p-value is sure to exceed the tentative level.
        let allowed = (TENTATIVE_LEVEL * (relabelings + 1) as f64).floor() as usize - 1;
        let mut rng = TrialRng::from_seed(PERMUTATION_SEED);
        let mut pool: Vec<u32> = cells.of_trial.iter().map(|&c| c as u32).collect();
        let mut drawn = vec![0usize; cells.all.len()];
        let mut top = drawn.clone();
        let mut buffer = Vec::with_capacity(drawn.len() + 1);
        // Statistics equal up to rounding count as reaching the observed one.
        let threshold = observed * (1.0 - 1e-12);
        let mut reached = 0usize;
        for done in 1..=relabelings {
            drawn.fill(0);
            // A partial Fisher–Yates shuffle: the first `draws` of the pool are a uniform
            // subset, whatever order the previous relabeling left the pool in.
            for i in 0..draws {
                // Lemire's multiply-shift: its bias, under n / 2^64, is far below anything
                // a p-value can show, and it is the inner loop of the whole report.
                let j = i + ((u128::from(rng.next_u64()) * (n - i) as u128) >> 64) as usize;
                pool.swap(i, j);
                drawn[pool[i] as usize] += 1;
            }
            if draw_top {
                top.copy_from_slice(&drawn);
            } else {
                for ((t, a), d) in top.iter_mut().zip(&cells.all).zip(&drawn) {
                    *t = a - d;
                }
            }
            if self.mean_chi2(&top, &mut buffer) >= threshold {
                reached += 1;
                if reached > allowed {
                    return reached as f64 / done as f64;
                }
            }
        }
        (1 + reached) as f64 / (1 + relabelings) as f64
    }
}

/// `[0, c0, c0 + c1, ...]` of `counts`, written into `buffer`.
fn prefix_sums<'a>(counts: &[usize], buffer: &'a mut Vec<usize>) -> &'a [usize] {
    buffer.clear();
    buffer.push(0);
    let mut sum = 0;
    for c in counts {
        sum += c;
        buffer.push(sum);
    }
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::TrialRng;
    use rand::RngExt;

    /// `n` trials of an important parameter `a` (loss = (a − 0.3)²) and an irrelevant one
    /// `b`; the top 20% by loss.
    fn sample(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        let mut rng = TrialRng::from_seed(seed);
        let a: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let b: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let loss: Vec<f64> = a
            .iter()
            .map(|x| (x - 0.3).powi(2) + 0.01 * rng.random::<f64>())
            .collect();
        let mut sorted = loss.clone();
        sorted.sort_by(f64::total_cmp);
        let cut = sorted[n / 5 - 1];
        let top = loss.iter().map(|&l| l <= cut).collect();
        (a, b, top)
    }

    #[test]
    fn important_parameter_scores_high_and_irrelevant_near_zero() {
        for seed in 0..10 {
            let (a, b, top) = sample(300, seed);
            let ea = ped_anova(&a, &top, false).unwrap();
            let eb = ped_anova(&b, &top, false).unwrap();
            assert!(ea.significant && ea.strength > 0.5, "{seed}: {ea:?}");
            assert!(eb.strength < 0.1, "{seed}: {eb:?}");
            assert!(ea.divergence > 10.0 * eb.divergence.max(1e-3), "{seed}");
        }
    }

    #[test]
    fn irrelevant_parameter_is_rarely_significant() {
        // The test is at the 1% level: over 100 independent sweeps a handful of false
        // alarms at most, with few trials as with many.
        for n in [30, 200] {
            let false_alarms = (0..100)
                .filter(|&seed| {
                    let (_, b, top) = sample(n, 1000 + seed);
                    ped_anova(&b, &top, false).unwrap().significant
                })
                .count();
            assert!(false_alarms <= 5, "{n}: {false_alarms}");
        }
    }

    #[test]
    fn a_narrow_good_region_in_the_middle_is_found_with_few_trials() {
        // 40 trials, the 8 top ones the middle fifth of the values, across the median: two
        // fixed bins split at the median would see 4 top trials on each side and nothing.
        let values: Vec<f64> = (0..40).map(f64::from).collect();
        let top: Vec<bool> = (0..40).map(|i| (16..24).contains(&i)).collect();
        let e = ped_anova(&values, &top, false).unwrap();
        assert!(e.significant && e.p_value <= 0.002, "{e:?}");
        assert!(e.strength > 0.4, "{e:?}");
        // Same counts, moved to the lowest fifth: the edges of the grid do not matter.
        let low: Vec<bool> = (0..40).map(|i| i < 8).collect();
        let e_low = ped_anova(&values, &low, false).unwrap();
        assert!(e_low.significant && e_low.strength > 0.4, "{e_low:?}");
    }

    #[test]
    fn at_the_minimum_of_five_top_trials_a_confining_parameter_is_found() {
        // 25 trials, the 5 top ones within about a fifth of `a`'s range.
        let found = (0..50)
            .filter(|&seed| {
                let (a, _, top) = sample(25, 2000 + seed);
                ped_anova(&a, &top, false).unwrap().significant
            })
            .count();
        assert!(found >= 45, "{found} of 50");
    }

    #[test]
    fn many_trials_cost_fewer_relabelings_but_keep_their_floor() {
        // 4,000 top trials: the draw budget allows 500 relabelings, so a parameter that
        // matters gets the smallest p-value 500 relabelings can give.
        let (a, b, top) = sample(20_000, 7);
        let e = ped_anova(&a, &top, false).unwrap();
        assert_eq!(e.p_value, 1.0 / 501.0);
        assert!(e.significant);
        assert!(!ped_anova(&b, &top, false).unwrap().significant);
    }

    #[test]
    fn the_p_value_counts_relabelings_that_reach_the_observed_statistic() {
        // Top trials spread exactly like all trials (χ² = 0): every relabeling reaches that,
        // so the p-value is large and nothing is significant.
        let values: Vec<f64> = (0..50).map(f64::from).collect();
        let top: Vec<bool> = (0..50).map(|i| i % 5 == 2).collect();
        let e = ped_anova(&values, &top, false).unwrap();
        assert!(!e.significant && e.p_value > 0.5, "{e:?}");
        assert_eq!(e.divergence, 0.0);
    }

    #[test]
    fn perfectly_separating_parameter_has_maximal_strength() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let top: Vec<bool> = (0..100).map(|i| i < 20).collect();
        let e = ped_anova(&values, &top, false).unwrap();
        // 20 top trials make grids of 6 bins of about 17 values; the top 20% fill the first
        // bin and part of the second of every grid, so the histogram sees most of the
        // possible divergence.
        assert_eq!(e.bins, 6);
        assert!(e.strength > 0.7, "{e:?}");
        assert!(e.significant);
    }

    #[test]
    fn categories_are_their_own_bins() {
        // Option 2 never reaches the top.
        let values: Vec<f64> = (0..90).map(|i| f64::from(i % 3)).collect();
        let top: Vec<bool> = (0..90).map(|i| i % 3 != 2 && i < 45).collect();
        let e = ped_anova(&values, &top, true).unwrap();
        assert_eq!(e.bins, 3);
        assert!(e.significant, "{e:?}");
    }

    #[test]
    fn degenerate_inputs_give_none_or_zero() {
        assert!(ped_anova(&[1.0], &[true], false).is_none());
        assert!(ped_anova(&[1.0, 2.0], &[false, false], false).is_none());
        let e = ped_anova(
            &[3.0; 10],
            &[
                true, false, false, false, false, false, false, false, false, false,
            ],
            false,
        )
        .unwrap();
        assert_eq!((e.bins, e.divergence, e.significant), (1, 0.0, false));
    }
}
