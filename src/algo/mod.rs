//! Samplers: how the next point is chosen.
//!
//! A [`Sampler`] proposes encoded points (see [`Space::encode`]) given the history of a
//! search. [`Random`] draws from the prior; [`Tpe`] models good and bad regions; [`Grid`]
//! enumerates all-discrete spaces. [`by_name`] picks one from a config string.

mod grid;
mod random;
mod tpe;

pub use grid::{Grid, GridError};
pub use random::Random;
pub use tpe::{Bandwidth, Gamma, Tpe};

use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::Trials;

/// Proposes the next point of a search.
///
/// `history` holds every trial so far, pending ones ([`TrialState::Running`]) included, so a
/// sampler can keep parallel workers apart. Scores come from [`Trials::score`] (lower is
/// better). The returned vector has one entry per parameter of `space`, `NaN` for parameters
/// inactive under the point's choices, each value on its distribution's support
/// ([`Dist::snap`](crate::space::Dist::snap)).
///
/// [`TrialState::Running`]: crate::trials::TrialState::Running
pub trait Sampler: Send + Sync {
    /// Proposes the next encoded point.
    fn suggest(&self, space: &Space, history: &Trials, rng: &mut TrialRng) -> Vec<f64>;

    /// A short name for logs and tracking (`"tpe"`, `"random"`, `"grid"`).
    fn name(&self) -> &str;

    /// Whether the sampler has nothing new left to propose for this space and history, so
    /// the search should stop (a [`Grid`] that has tried every combination). Samplers of
    /// unbounded searches keep the default, `false`.
    fn exhausted(&self, space: &Space, history: &Trials) -> bool {
        let _ = (space, history);
        false
    }
}

/// Why [`by_name`] could not build a sampler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgoError {
    /// The name is not a known sampler.
    #[error("unknown algorithm {name:?}: expected one of \"tpe\", \"random\", \"grid\"")]
    Unknown {
        /// The name given.
        name: String,
    },
    /// Grid search was asked for on a space it cannot enumerate.
    #[error("grid search: {0}")]
    Grid(#[from] GridError),
}

/// The sampler called `name` (`"tpe"` with its defaults, `"random"`, `"grid"`), for `space`.
///
/// The space is needed because a grid is built for one space; the other samplers ignore it.
/// Names are matched case-insensitively, surrounding whitespace ignored.
///
/// ```
/// use hyperflow::algo::by_name;
/// use hyperflow::space::Space;
///
/// let space = Space::builder().uniform("x", 0.0, 1.0).build()?;
/// assert_eq!(by_name("TPE", &space)?.name(), "tpe");
/// assert!(by_name("grid", &space).is_err()); // x is continuous
/// assert!(by_name("anneal", &space).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn by_name(name: &str, space: &Space) -> Result<Box<dyn Sampler>, AlgoError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "tpe" => Ok(Box::new(Tpe::default())),
        "random" | "rand" => Ok(Box::new(Random)),
        "grid" => Ok(Box::new(Grid::new(space)?)),
        _ => Err(AlgoError::Unknown {
            name: name.to_string(),
        }),
    }
}
