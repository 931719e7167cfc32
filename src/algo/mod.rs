//! Samplers: how the next point is chosen.
//!
//! A [`Sampler`] is a configuration ([`Auto`], [`Tpe`], [`Gp`], [`Random`], [`Grid`], or
//! your own); for each
//! search it starts a [`Session`], owned by the search's [`Study`](crate::study::Study),
//! which is told of every trial as it is proposed or finishes
//! ([`observe`](Session::observe)) and proposes encoded points (see [`Space::encode`])
//! ([`suggest`](Session::suggest)). A session may keep whatever model of the history it
//! likes between suggestions; nothing is hidden in thread-locals or in the history.
//! [`Algorithm`] names the built-in samplers (configs, the command line, a stored study's
//! record of its sampler); [`by_name`] picks one from a string.

mod auto;
mod gp;
mod grid;
mod random;
mod tpe;

pub use auto::Auto;
pub use gp::Gp;
pub use grid::{Grid, GridError};
pub use random::Random;
pub use tpe::{Bandwidth, Gamma, Tpe};

use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::Trials;

/// A way of choosing points: starts one [`Session`] per search.
pub trait Sampler: Send + Sync {
    /// A short name for logs and tracking; a built-in sampler's is its
    /// [`Algorithm::as_str`], by which a stored study finds its sampler again.
    fn name(&self) -> &str;

    /// Starts following a search of `space`. Fails when the sampler cannot search this
    /// space (a [`Grid`] over continuous parameters).
    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError>;

    /// The point a fresh session would propose after observing every trial of `history`:
    /// for one-off suggestions (a dry run, a test). Searches keep a session instead.
    fn suggest_once(
        &self,
        space: &Space,
        history: &Trials,
        rng: &mut TrialRng,
    ) -> Result<Vec<f64>, AlgoError> {
        let mut session = self.session(space)?;
        for number in 0..history.len() {
            session.observe(history, number);
        }
        Ok(session.suggest(history, rng))
    }
}

/// A sampler following one search: the state it keeps between suggestions.
///
/// The [`Study`](crate::study::Study) that owns it calls [`observe`](Session::observe) for
/// every trial each time it is added to the history or changes (proposed, finished,
/// killed), always before the next [`suggest`](Session::suggest), and always with the same
/// history.
pub trait Session: Send {
    /// Trial `number` of `history` was added or changed. The default ignores it (samplers
    /// that read the history afresh on every suggestion).
    fn observe(&mut self, history: &Trials, number: usize) {
        let _ = (history, number);
    }

    /// Proposes the next encoded point.
    ///
    /// `history` holds every trial so far, pending ones ([`TrialState::Running`]) included,
    /// so a sampler can keep parallel workers apart; scores come from [`Trials::score`]
    /// (lower is better). The returned vector has one entry per parameter of the space,
    /// `NaN` for parameters inactive under the point's choices, each value on its
    /// distribution's support ([`Dist::snap`](crate::space::Dist::snap)).
    ///
    /// [`TrialState::Running`]: crate::trials::TrialState::Running
    fn suggest(&mut self, history: &Trials, rng: &mut TrialRng) -> Vec<f64>;

    /// Whether the sampler has nothing new left to propose for this history, so the
    /// search should stop (a [`Grid`] that has tried every combination). Sessions of
    /// unbounded searches keep the default, `false`.
    fn exhausted(&self, history: &Trials) -> bool {
        let _ = history;
        false
    }
}

/// The built-in samplers, by the names configs and stored studies use. The default,
/// [`Auto`], is what studies, `fmin` and sweeps use when no sampler is given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// [`Auto`]: a GP for small budgets of spaces it models well, TPE otherwise.
    #[default]
    Auto,
    /// [`Tpe`]: the tree-structured Parzen estimator.
    Tpe,
    /// [`Gp`]: Gaussian-process Bayesian optimization.
    Gp,
    /// [`Random`]: independent draws from the prior.
    Random,
    /// [`Grid`]: every combination of a discrete space.
    Grid,
}

impl Algorithm {
    /// Every built-in sampler, in the order error messages list them.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Auto,
        Algorithm::Tpe,
        Algorithm::Gp,
        Algorithm::Random,
        Algorithm::Grid,
    ];

    /// The name as written in configs and stored with a study (`"tpe"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::Tpe => "tpe",
            Algorithm::Gp => "gp",
            Algorithm::Random => "random",
            Algorithm::Grid => "grid",
        }
    }

    /// The sampler with its defaults.
    pub fn sampler(self) -> Box<dyn Sampler> {
        match self {
            Algorithm::Auto => Box::new(Auto::default()),
            Algorithm::Tpe => Box::new(Tpe::default()),
            Algorithm::Gp => Box::new(Gp::default()),
            Algorithm::Random => Box::new(Random),
            Algorithm::Grid => Box::new(Grid),
        }
    }

    /// The names, quoted and comma-separated, for messages.
    fn listed() -> String {
        crate::suggest::quoted_list(&Algorithm::ALL, Algorithm::as_str)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = AlgoError;

    /// Matches names case-insensitively, surrounding whitespace ignored.
    fn from_str(name: &str) -> Result<Self, AlgoError> {
        crate::suggest::by_name(name, &Algorithm::ALL, Algorithm::as_str).map_err(|suggestion| {
            AlgoError::Unknown {
                name: name.to_string(),
                suggestion,
            }
        })
    }
}

/// Why a sampler could not be built or started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgoError {
    /// The name is not a known sampler.
    #[error(
        "unknown algorithm {name:?}: expected one of {}{}",
        Algorithm::listed(),
        suggestion.map_or_else(String::new, |s| format!("; did you mean {s:?}?"))
    )]
    Unknown {
        /// The name given.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<&'static str>,
    },
    /// Grid search was asked for on a space it cannot enumerate.
    #[error("grid search: {0}")]
    Grid(#[from] GridError),
}

/// The built-in sampler called `name` ([`Algorithm`]'s names), with its defaults.
///
/// Names are matched case-insensitively, surrounding whitespace ignored. Whether the
/// sampler can search a given space is known when a session starts.
///
/// ```
/// use hyperflow::algo::by_name;
/// use hyperflow::space::Space;
///
/// let space = Space::builder().uniform("x", 0.0, 1.0).build()?;
/// assert_eq!(by_name("TPE")?.name(), "tpe");
/// assert!(by_name("grid")?.session(&space).is_err()); // x is continuous
/// assert!(by_name("anneal").is_err());
/// let typo = by_name("rnadom").err().unwrap().to_string();
/// assert!(typo.ends_with(r#"; did you mean "random"?"#), "{typo}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Sampler>, AlgoError> {
    Ok(name.parse::<Algorithm>()?.sampler())
}
