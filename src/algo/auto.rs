//! The automatic sampler: a Gaussian process while it pays, TPE after.

use super::{AlgoError, Algorithm, Gp, Sampler, Session, Tpe};
use crate::rng::TrialRng;
use crate::space::{Dist, Space};
use crate::trials::{TrialState, Trials};

/// Picks the sampler for the space and the history: [`Gp`] for the first
/// [`gp_trials`](Auto::gp_trials) complete trials of a space it models well, [`Tpe`] for
/// the rest of the search and for every other space.
///
/// The GP models a space well when no parameter is conditional (it would only draw those
/// from their prior; TPE models sub-spaces) and no more than
/// [`max_unordered_share`](Auto::max_unordered_share) of the parameters are unordered
/// choices (choices of non-numeric options, which the GP tells apart by a Hamming distance
/// only; TPE's categorical estimators learn them faster). On such spaces the GP reaches
/// more targets than TPE within small budgets, since it models how parameters interact
/// and converges locally; its cost per suggestion grows with the cube of the history,
/// so beyond `gp_trials` TPE continues from everything the GP found, at a cost that
/// stays below a millisecond. The README's broad benchmark shows both rules at work; the
/// defaults were chosen on its tuning split (BBOB instances and suite seeds kept apart
/// from those reported). The share of unordered choices is a guard, not a measured
/// optimum: no problem of the suite has more than a third.
///
/// The session follows the history with both samplers from the start, so the hand-over
/// is seamless and a loaded study resumes in the same phase.
///
/// ```
/// use hyperflow::algo::{Auto, Sampler};
/// use hyperflow::rng::TrialRng;
/// use hyperflow::space::Space;
/// use hyperflow::trials::{Direction, Trials};
///
/// let space = Space::builder().uniform("x", -5.0, 5.0).loguniform("lr", 1e-4, 1e-1).build()?;
/// let auto = Auto::new().gp_trials(100);
/// let mut session = auto.session(&space)?;
/// let x = session.suggest(&Trials::new(Direction::Minimize), &mut TrialRng::for_trial(3, 0));
/// assert_eq!(x.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Auto {
    gp: Gp,
    tpe: Tpe,
    gp_trials: usize,
    max_unordered_share: f64,
}

impl Default for Auto {
    fn default() -> Self {
        Auto {
            gp: Gp::default(),
            tpe: Tpe::default(),
            gp_trials: 200,
            max_unordered_share: 0.5,
        }
    }
}

impl Auto {
    /// The default configuration (same as [`Auto::default`]).
    pub fn new() -> Self {
        Auto::default()
    }

    /// The GP used while it is in charge. Default [`Gp::default`].
    pub fn gp(mut self, gp: Gp) -> Self {
        self.gp = gp;
        self
    }

    /// The TPE used on other spaces and after the GP's share. Default [`Tpe::default`].
    pub fn tpe(mut self, tpe: Tpe) -> Self {
        self.tpe = tpe;
        self
    }

    /// Complete trials after which TPE takes over from the GP (it also takes over at
    /// the first pruned trial: see the pruning benchmark). Default 200, a bound on
    /// cost: there a GP suggestion takes about 10 ms in 10 dimensions, and it grows with
    /// the cube of the history. On the broad benchmark's tuning split, searches that
    /// handed over at 200 stayed ahead of TPE alone at every budget up to 100·d (2,000
    /// evaluations in 20 dimensions). `0` means TPE throughout.
    pub fn gp_trials(mut self, n: usize) -> Self {
        self.gp_trials = n;
        self
    }

    /// The largest share of a space's parameters that may be unordered choices for the
    /// GP to search it. Default 0.5. Values are clamped to `[0, 1]`.
    pub fn max_unordered_share(mut self, share: f64) -> Self {
        self.max_unordered_share = share.clamp(0.0, 1.0);
        self
    }

    /// Whether the GP searches `space` (before `gp_trials` complete trials).
    pub fn gp_fits(&self, space: &Space) -> bool {
        let params = space.params();
        let conditional = params.iter().any(|p| p.parent.is_some());
        let unordered = params
            .iter()
            .filter(|p| match &p.dist {
                Dist::Choice { options } => options.iter().any(|o| o.as_f64().is_none()),
                _ => false,
            })
            .count();
        !params.is_empty()
            && !conditional
            && unordered as f64 <= self.max_unordered_share * params.len() as f64
    }
}

impl Sampler for Auto {
    fn name(&self) -> &str {
        Algorithm::Auto.as_str()
    }

    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError> {
        let gp = if self.gp_trials > 0 && self.gp_fits(space) {
            Some(self.gp.session(space)?)
        } else {
            None
        };
        Ok(Box::new(AutoSession {
            gp,
            tpe: self.tpe.session(space)?,
            gp_trials: self.gp_trials,
        }))
    }
}

/// Both sessions, told of every trial; the GP's is dropped when TPE takes over for good.
struct AutoSession {
    gp: Option<Box<dyn Session>>,
    tpe: Box<dyn Session>,
    gp_trials: usize,
}

impl Session for AutoSession {
    fn observe(&mut self, history: &Trials, number: usize) {
        if let Some(gp) = &mut self.gp {
            gp.observe(history, number);
        }
        self.tpe.observe(history, number);
    }

    fn suggest(&mut self, history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        // Complete and pruned trials never become anything else: once either rule holds,
        // the GP's turn is over. The GP models final values only, so it cannot learn from
        // pruned trials and would keep proposing points like them; TPE ranks them.
        if history.count(TrialState::Complete) >= self.gp_trials
            || history.count(TrialState::Pruned) > 0
        {
            self.gp = None;
        }
        match &mut self.gp {
            Some(gp) => gp.suggest(history, rng),
            None => self.tpe.suggest(history, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::fmin::Outcome;
    use crate::trials::{Direction, Trial};

    fn numeric() -> Space {
        Space::builder()
            .uniform("x", -1.0, 1.0)
            .choice("units", [16i64, 32, 64])
            .choice("act", ["relu", "tanh"])
            .build()
            .unwrap()
    }

    #[test]
    fn the_gp_searches_flat_mostly_ordered_spaces_only() {
        let auto = Auto::default();
        assert!(auto.gp_fits(&numeric()));
        let conditional = Space::builder()
            .choice(
                "model",
                [
                    ("svm", Space::builder().loguniform("c", 1e-3, 1e3)),
                    ("tree", Space::builder().randint("depth", 1, 10)),
                ],
            )
            .build()
            .unwrap();
        assert!(!auto.gp_fits(&conditional));
        let unordered = Space::builder()
            .choice("act", ["relu", "tanh"])
            .choice("opt", ["adam", "sgd"])
            .uniform("x", 0.0, 1.0)
            .build()
            .unwrap();
        assert!(!auto.gp_fits(&unordered));
        assert!(Auto::new().max_unordered_share(0.7).gp_fits(&unordered));
    }

    /// The session's suggestions are the GP's until `gp_trials` complete trials, TPE's
    /// from then on: the same as a GP's or TPE's own session fed the same history.
    #[test]
    fn hands_over_from_the_gp_to_tpe_after_gp_trials() {
        let space = numeric();
        let auto = Auto::new().gp(Gp::new().n_startup(3)).gp_trials(6);
        let mut session = auto.session(&space).unwrap();
        let mut gp = auto.gp.session(&space).unwrap();
        let mut tpe = auto.tpe.session(&space).unwrap();
        let mut history = Trials::new(Direction::Minimize);
        for n in 0..9u64 {
            let rng = || TrialRng::for_trial(11, n);
            let x = session.suggest(&history, &mut rng());
            let (from_gp, from_tpe) = (
                gp.suggest(&history, &mut rng()),
                tpe.suggest(&history, &mut rng()),
            );
            let same =
                |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(
                same(&x, if n < 6 { &from_gp } else { &from_tpe }),
                "trial {n}"
            );
            let loss = x[0] * x[0];
            let last = history.len();
            let trial = Trial::running(last, x.clone(), space.decode(&x));
            history
                .push(trial.finished(Outcome::loss(loss), Duration::ZERO))
                .unwrap();
            for s in [&mut session, &mut gp, &mut tpe] {
                s.observe(&history, last);
            }
        }
    }

    /// The first pruned trial hands over to TPE, whatever the count of complete ones.
    #[test]
    fn hands_over_to_tpe_at_the_first_pruned_trial() {
        let space = numeric();
        let auto = Auto::new().gp(Gp::new().n_startup(3));
        let mut session = auto.session(&space).unwrap();
        let mut tpe = auto.tpe.session(&space).unwrap();
        let mut history = Trials::new(Direction::Minimize);
        for n in 0..8u64 {
            let rng = || TrialRng::for_trial(5, n);
            let x = session.suggest(&history, &mut rng());
            if n > 4 {
                let from_tpe = tpe.suggest(&history, &mut rng());
                assert_eq!(x, from_tpe, "trial {n}");
            }
            let last = history.len();
            let outcome = if n == 4 {
                Outcome::pruned("stopped early")
            } else {
                Outcome::loss(x[0] * x[0])
            };
            let trial = Trial::running(last, x.clone(), space.decode(&x));
            history
                .push(trial.finished(outcome, Duration::ZERO))
                .unwrap();
            for s in [&mut session, &mut tpe] {
                s.observe(&history, last);
            }
        }
    }
}
