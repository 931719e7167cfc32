//! The random number generator of a search, seeded per trial.

use std::convert::Infallible;

use rand::{SeedableRng, TryRng};
use rand_pcg::Pcg64Mcg;

/// The random source a [`Sampler`](crate::algo::Sampler) draws from for one trial.
///
/// Trial `i` of a search with seed `s` always gets the same stream, derived from `(s, i)`
/// alone, so results never depend on thread timing. The generator (PCG64 MCG) is fixed, so
/// a seed gives the same trials on every platform and release. Use it through
/// [`rand::RngExt`] (`rng.random::<f64>()`, `rng.random_range(0..n)`).
#[derive(Debug, Clone)]
pub struct TrialRng(Pcg64Mcg);

impl TrialRng {
    /// The stream of trial `trial` in a search seeded with `seed`.
    pub fn for_trial(seed: u64, trial: u64) -> Self {
        // SplitMix64 finalizer over both inputs: nearby (seed, trial) pairs get unrelated streams.
        let mix = |mut z: u64| {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let hi = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
        let lo = mix(hi ^ trial.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let state = (u128::from(hi) << 64) | u128::from(lo);
        TrialRng(Pcg64Mcg::new(state | 1))
    }

    /// A generator seeded from `seed` alone, for work outside trials.
    pub fn from_seed(seed: u64) -> Self {
        TrialRng(Pcg64Mcg::seed_from_u64(seed))
    }
}

impl TryRng for TrialRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}
