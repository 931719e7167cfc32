//! Samplers: how the next point is chosen.
//!
//! A [`Sampler`] is a configuration ([`Tpe`], [`Random`], [`Grid`], or your own); for each
//! search it starts a [`Session`], owned by the search's [`Study`](crate::study::Study),
//! which is told of every trial as it is proposed or finishes
//! ([`observe`](Session::observe)) and proposes encoded points (see [`Space::encode`])
//! ([`suggest`](Session::suggest)). A session may keep whatever model of the history it
//! likes between suggestions; nothing is hidden in thread-locals or in the history.
//! [`by_name`] picks a sampler from a config string.

mod gp;
mod grid;
mod random;
mod tpe;

pub use gp::Gp;
pub use grid::{Grid, GridError};
pub use random::Random;
pub use tpe::{Bandwidth, Gamma, Tpe};

use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::Trials;

/// A way of choosing points: starts one [`Session`] per search.
pub trait Sampler: Send + Sync {
    /// A short name for logs and tracking (`"tpe"`, `"random"`, `"grid"`).
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

/// Why a sampler could not be built or started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgoError {
    /// The name is not a known sampler.
    #[error("unknown algorithm {name:?}: expected one of \"tpe\", \"gp\", \"random\", \"grid\"")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// Grid search was asked for on a space it cannot enumerate.
    #[error("grid search: {0}")]
    Grid(#[from] GridError),
}

/// The sampler called `name` (`"tpe"` or `"gp"` with their defaults, `"random"`, `"grid"`).
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Sampler>, AlgoError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "tpe" => Ok(Box::new(Tpe::default())),
        "gp" => Ok(Box::new(Gp::default())),
        "random" | "rand" => Ok(Box::new(Random)),
        "grid" => Ok(Box::new(Grid)),
        _ => Err(AlgoError::Unknown {
            name: name.to_string(),
        }),
    }
}
