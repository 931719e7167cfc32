//! Random search.

use super::Sampler;
use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::Trials;

/// Draws every point independently from the space's prior.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl Sampler for Random {
    fn suggest(&self, space: &Space, _history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        space.sample_prior(rng)
    }

    fn name(&self) -> &str {
        "random"
    }
}
