//! Random search.

use super::{AlgoError, Sampler, Session};
use crate::rng::TrialRng;
use crate::space::Space;
use crate::trials::Trials;

/// Draws every point independently from the space's prior.
#[derive(Debug, Clone, Copy, Default)]
pub struct Random;

impl Sampler for Random {
    fn name(&self) -> &str {
        super::Algorithm::Random.as_str()
    }

    fn session(&self, space: &Space) -> Result<Box<dyn Session>, AlgoError> {
        Ok(Box::new(RandomSession(space.clone())))
    }
}

/// Random search keeps nothing but the space.
struct RandomSession(Space);

impl Session for RandomSession {
    fn suggest(&mut self, _history: &Trials, rng: &mut TrialRng) -> Vec<f64> {
        self.0.sample_prior(rng)
    }
}
