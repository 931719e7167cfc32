//! Grid search over all-discrete spaces.

use std::collections::{BTreeMap, HashMap};

use rand::RngExt;

use super::{AlgoError, Sampler, Session};
use crate::rng::TrialRng;
use crate::space::{Condition, Dist, Space};
use crate::trials::{TrialState, Trials};

/// Why a [`Grid`] cannot search a space.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GridError {
    /// A parameter has a continuous distribution, so the grid would be infinite.
    #[error(
        "parameter `{param}` is {kind}, which has no grid: grid search needs choice, randint, quniform, qloguniform or const parameters"
    )]
    Continuous {
        /// The parameter's name.
        param: String,
        /// Its kind (`"uniform"`, `"normal"`, ...).
        kind: &'static str,
    },
    /// The grid has more than `u64::MAX` points.
    #[error("the grid has more than 2^64 points")]
    TooLarge,
}

/// Grid search: every combination of a discrete space exactly once, in random order.
///
/// Works on spaces whose parameters are all discrete (`choice`, `randint`, `quniform`,
/// `qloguniform`, `const`), conditional sub-spaces included: a combination picks one option
/// of each active choice and one value of each parameter active under it. Starting a
/// session on a space with a continuous parameter fails with [`GridError::Continuous`].
///
/// The order is a uniformly random permutation drawn lazily from the per-trial random
/// streams, so it is reproducible from the search seed: each suggestion is a uniformly
/// random combination among those not yet tried (pending, failed and pruned trials count
/// as tried; killed ones do not, so their combinations come back). Once every combination
/// has been tried the session is [exhausted](Session::exhausted) (`fmin` stops) and
/// suggests a uniformly random repeat.
///
/// ```
/// use hyperflow::algo::{Grid, Sampler};
/// use hyperflow::space::Space;
///
/// let space = Space::builder().randint("depth", 2, 5).choice("loss", ["l1", "l2"]).build()?;
/// assert_eq!(Grid::size(&space)?, 6);
/// assert!(Grid.session(&Space::builder().uniform("x", 0.0, 1.0).build()?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Grid;

impl Grid {
    /// The number of combinations in the grid of `space`; fails if a parameter is
    /// continuous or the grid is too large.
    pub fn size(space: &Space) -> Result<u64, GridError> {
        Lattice::new(space).map(|l| l.size)
    }
}

/// The combinations of one discrete space, numbered in mixed radix.
#[derive(Debug, Clone)]
struct Lattice {
    /// Each parameter's distribution: a choice, or a kind whose values are counted and
    /// found by position ([`Dist::grid_value`]), never listed.
    dists: Vec<Dist>,
    /// Number of sub-combinations each parameter contributes.
    count: Vec<u64>,
    /// Per choice parameter: combinations under each option (1 for an empty sub-space).
    option_counts: Vec<Vec<u64>>,
    /// Parameters grouped by the condition they depend on, in space order.
    scopes: Vec<Vec<usize>>,
    /// The scope holding the sub-space of a `(choice, option)`.
    scope_of: HashMap<(usize, usize), usize>,
    /// The top-level scope.
    top: usize,
    size: u64,
}

impl Lattice {
    /// The grid of `space`; fails if a parameter is continuous or the grid is too large.
    fn new(space: &Space) -> Result<Lattice, GridError> {
        let params = space.params();
        let mut keys: Vec<Option<Condition>> = vec![None];
        let mut scopes: Vec<Vec<usize>> = vec![Vec::new()];
        let mut dists = Vec::with_capacity(params.len());
        for (i, p) in params.iter().enumerate() {
            let s = match keys.iter().position(|k| *k == p.parent) {
                Some(s) => s,
                None => {
                    keys.push(p.parent);
                    scopes.push(Vec::new());
                    scopes.len() - 1
                }
            };
            scopes[s].push(i);
            if p.dist.grid_len().is_none() {
                return Err(GridError::Continuous {
                    param: p.name.clone(),
                    kind: p.dist.kind(),
                });
            }
            dists.push(p.dist.clone());
        }
        let scope_of: HashMap<(usize, usize), usize> = keys
            .iter()
            .enumerate()
            .filter_map(|(s, k)| k.map(|c| ((c.param, c.option), s)))
            .collect();

        // Children come after their parents, so going backwards sizes every sub-space
        // before the choice that owns it.
        let mut count = vec![0u64; params.len()];
        let mut option_counts = vec![Vec::new(); params.len()];
        let mut scope_size = vec![None::<u64>; scopes.len()];
        for i in (0..params.len()).rev() {
            count[i] = match &params[i].dist {
                Dist::Choice { options } => {
                    let per_option: Vec<u64> = (0..options.len())
                        .map(|o| match scope_of.get(&(i, o)) {
                            Some(&s) => Self::scope_size(&scopes[s], &count),
                            None => Some(1),
                        })
                        .collect::<Option<_>>()
                        .ok_or(GridError::TooLarge)?;
                    let total = per_option
                        .iter()
                        .try_fold(0u64, |a, &c| a.checked_add(c))
                        .ok_or(GridError::TooLarge)?;
                    option_counts[i] = per_option;
                    total
                }
                dist => dist.grid_len().unwrap_or(0),
            };
        }
        for (s, scope) in scopes.iter().enumerate() {
            scope_size[s] = Self::scope_size(scope, &count);
        }
        let size = scope_size[0].ok_or(GridError::TooLarge)?;
        Ok(Lattice {
            dists,
            count,
            option_counts,
            scopes,
            scope_of,
            top: 0,
            size,
        })
    }

    fn scope_size(scope: &[usize], count: &[u64]) -> Option<u64> {
        scope.iter().try_fold(1u64, |a, &p| a.checked_mul(count[p]))
    }

    /// Writes combination `index` of `scope` into `x` (mixed radix, first parameter
    /// least significant).
    fn decode_into(&self, scope: usize, mut index: u64, x: &mut [f64]) {
        for &p in &self.scopes[scope] {
            let mut r = index % self.count[p];
            index /= self.count[p];
            if let Dist::Choice { .. } = self.dists[p] {
                let mut option = 0;
                for (o, &c) in self.option_counts[p].iter().enumerate() {
                    if r < c {
                        option = o;
                        break;
                    }
                    r -= c;
                }
                x[p] = option as f64;
                if let Some(&child) = self.scope_of.get(&(p, option)) {
                    self.decode_into(child, r, x);
                }
            } else {
                x[p] = self.dists[p].grid_value(r);
            }
        }
    }

    /// The combination with this index, as an encoded point.
    fn decode(&self, index: u64) -> Vec<f64> {
        let mut x = vec![f64::NAN; self.dists.len()];
        self.decode_into(self.top, index, &mut x);
        x
    }

    /// The index of an encoded point of `scope`, or `None` if it is not on the grid.
    fn encode(&self, scope: usize, x: &[f64]) -> Option<u64> {
        let (mut index, mut radix) = (0u64, 1u64);
        for &p in &self.scopes[scope] {
            let v = x[p];
            let r = if let Dist::Choice { .. } = self.dists[p] {
                let counts = &self.option_counts[p];
                if !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < counts.len()) {
                    return None;
                }
                let option = v as usize;
                let offset: u64 = counts[..option].iter().sum();
                let inner = match self.scope_of.get(&(p, option)) {
                    Some(&child) => self.encode(child, x)?,
                    None => 0,
                };
                offset + inner
            } else {
                self.dists[p].grid_index(v)?
            };
            index += r * radix;
            radix = radix.saturating_mul(self.count[p]);
        }
        Some(index)
    }
}

impl Sampler for Grid {
    fn name(&self) -> &str {
        super::Algorithm::Grid.as_str()
    }

    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError> {
        Ok(Box::new(GridSession {
            lattice: Lattice::new(space)?,
            tried: BTreeMap::new(),
            at: Vec::new(),
        }))
    }
}

/// A grid search in progress: which combinations its trials hold.
struct GridSession {
    lattice: Lattice,
    /// Combination index -> how many trials (not killed) hold it.
    tried: BTreeMap<u64, u32>,
    /// Per trial number: the combination it holds and counts for.
    at: Vec<Option<u64>>,
}

impl Session for GridSession {
    fn observe(&mut self, history: &Trials, number: usize) {
        let Some(trial) = history.get(number) else {
            return;
        };
        let now = (trial.state != TrialState::Killed && trial.x.len() == self.lattice.dists.len())
            .then(|| self.lattice.encode(self.lattice.top, &trial.x))
            .flatten();
        if self.at.len() <= trial.number {
            self.at.resize(trial.number + 1, None);
        }
        let before = std::mem::replace(&mut self.at[trial.number], now);
        if before == now {
            return;
        }
        if let Some(i) = before
            && let Some(count) = self.tried.get_mut(&i)
        {
            *count -= 1;
            if *count == 0 {
                self.tried.remove(&i);
            }
        }
        if let Some(i) = now {
            *self.tried.entry(i).or_insert(0) += 1;
        }
    }

    fn suggest(&mut self, _history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        let size = self.lattice.size;
        let remaining = size - self.tried.len() as u64;
        if remaining == 0 {
            return self.lattice.decode(rng.random_range(0..size));
        }
        // The r-th untried index: step over every tried index at or below it.
        let mut index = rng.random_range(0..remaining);
        for &t in self.tried.keys() {
            if t <= index {
                index += 1;
            } else {
                break;
            }
        }
        self.lattice.decode(index)
    }

    fn exhausted(&self, _history: &Trials) -> bool {
        self.tried.len() as u64 >= self.lattice.size
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::time::Duration;

    use super::*;
    use crate::trials::{Direction, Trial, TrialState};

    fn push(history: &mut Trials, space: &Space, x: Vec<f64>, state: TrialState) {
        let number = history.len();
        let mut trial = Trial::running(number, x.clone(), space.decode(&x));
        if state == TrialState::Complete {
            trial.record(crate::fmin::Outcome::loss(1.0), Duration::ZERO);
        }
        history.push(trial).expect("next number");
    }

    fn conditional() -> Space {
        Space::builder()
            .quniform("units", 16.0, 64.0, 16.0)
            .choice(
                "model",
                [
                    (
                        "svm",
                        Space::builder()
                            .choice("kernel", ["rbf", "linear"])
                            .constant("tol", 1e-3),
                    ),
                    (
                        "tree",
                        Space::builder()
                            .randint("depth", 1, 4)
                            .choice("split", [("gini", Space::builder().randint("k", 0, 2))]),
                    ),
                    ("none", Space::builder()),
                ],
            )
            .build()
            .expect("valid space")
    }

    #[test]
    fn enumerates_every_combination_exactly_once() {
        let space = conditional();
        // units: 4 values; model: svm 2 + tree 3*2 + none 1 = 9.
        assert_eq!(Grid::size(&space), Ok(36));
        let mut grid = Grid.session(&space).expect("discrete");
        let mut history = Trials::new(Direction::Minimize);
        let mut seen = HashSet::new();
        for i in 0..36 {
            assert!(!grid.exhausted(&history));
            let x = grid.suggest(&history, &mut TrialRng::for_trial(3, i));
            let key: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
            let back = space.encode(&space.decode(&x)).expect("in space");
            assert_eq!(back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), key);
            assert!(seen.insert(key), "repeated {x:?}");
            // Pending trials count as tried too.
            let state = if i % 2 == 0 {
                TrialState::Running
            } else {
                TrialState::Complete
            };
            push(&mut history, &space, x, state);
            grid.observe(&history, history.len() - 1);
        }
        assert!(grid.exhausted(&history));
        let again = grid.suggest(&history, &mut TrialRng::for_trial(3, 99));
        assert!(space.encode(&space.decode(&again)).is_ok());
        // A killed trial gives its combination back.
        assert!(history.update(7, |t| t.kill("stopped")));
        grid.observe(&history, 7);
        let killed = history.get(7).expect("trial 7");
        assert!(!grid.exhausted(&history));
        let back = grid.suggest(&history, &mut TrialRng::for_trial(3, 100));
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            killed.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn order_is_seeded() {
        let space = conditional();
        let history = Trials::new(Direction::Minimize);
        let a = Grid.suggest_once(&space, &history, &mut TrialRng::for_trial(1, 0));
        let b = Grid.suggest_once(&space, &history, &mut TrialRng::for_trial(1, 0));
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn rejects_continuous_params() {
        let space = Space::builder()
            .randint("a", 0, 3)
            .choice("m", [("x", Space::builder().loguniform("lr", 1e-3, 1.0))])
            .build()
            .expect("valid space");
        assert_eq!(
            Grid::size(&space).err(),
            Some(GridError::Continuous {
                param: "lr".into(),
                kind: "loguniform"
            })
        );
    }
}
