//! Samplers: how the next point is chosen.
//!
//! A [`Sampler`] proposes encoded points (see [`Space::encode`]) given the history of a
//! search. [`Random`] draws from the prior; [`Tpe`] models good and bad regions.

mod random;
mod tpe;

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

    /// A short name for logs and tracking (`"tpe"`, `"random"`).
    fn name(&self) -> &str;
}
