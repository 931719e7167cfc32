//! Scrambled Halton points: quasi-random candidates that cover the unit cube evenly.
//!
//! Dimension `j` uses the radical inverse in the `j`-th prime base. Plain Halton points are
//! strongly correlated between dimensions with large bases; each digit position of each
//! dimension gets its own random permutation of the digits (random digit scrambling), which
//! breaks the correlation and keeps every one-dimensional projection stratified. What the
//! kept digits cannot resolve is filled with a uniform draw, so the points are a randomized
//! quasi-Monte Carlo design, reproducible from the generator alone.

use rand::RngExt;

use crate::rng::TrialRng;

/// The first `count` primes.
fn primes(count: usize) -> Vec<u64> {
    let mut found: Vec<u64> = Vec::with_capacity(count);
    let mut candidate = 2u64;
    while found.len() < count {
        if found
            .iter()
            .take_while(|&&p| p * p <= candidate)
            .all(|&p| candidate % p != 0)
        {
            found.push(candidate);
        }
        candidate += 1;
    }
    found
}

/// The scrambled Halton generator's buffers, kept between suggestions.
#[derive(Debug, Default)]
pub(super) struct Halton {
    primes: Vec<u64>,
    /// Digit permutations of one dimension, `digits * base` entries.
    perm: Vec<u64>,
}

impl Halton {
    /// Writes `n` points of the unit cube in `dims` dimensions to `out`, row-major (point
    /// `i`, dimension `j` at `i * dims + j`), every coordinate in `[0, 1)`.
    pub fn fill(&mut self, n: usize, dims: usize, rng: &mut TrialRng, out: &mut Vec<f64>) {
        if self.primes.len() < dims {
            self.primes = primes(dims);
        }
        out.clear();
        out.resize(n * dims, 0.0);
        for (j, &base) in self.primes[..dims].iter().enumerate() {
            // Enough digits to tell all n indices apart.
            let mut digits = 1;
            let mut span = base;
            while span < n as u64 {
                span = span.saturating_mul(base);
                digits += 1;
            }
            let b = base as usize;
            self.perm.clear();
            for _ in 0..digits {
                let start = self.perm.len();
                self.perm.extend(0..base);
                // Fisher-Yates on this digit's permutation.
                for i in (1..b).rev() {
                    let k = rng.random_range(0..=i);
                    self.perm.swap(start + i, start + k);
                }
            }
            let inv = 1.0 / base as f64;
            for i in 0..n {
                let (mut index, mut scale, mut u) = (i as u64, inv, 0.0);
                for k in 0..digits {
                    let digit = (index % base) as usize;
                    index /= base;
                    u += self.perm[k * b + digit] as f64 * scale;
                    scale *= inv;
                }
                // The digits beyond the kept ones: uniform within the last cell.
                u += rng.random::<f64>() * scale * base as f64;
                out[i * dims + j] = u.min(1.0 - f64::EPSILON);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_are_the_first_primes() {
        assert_eq!(primes(8), [2, 3, 5, 7, 11, 13, 17, 19]);
    }

    #[test]
    fn points_are_stratified_in_every_dimension_and_reproducible() {
        let (n, dims) = (256, 6);
        let mut halton = Halton::default();
        let mut a = Vec::new();
        halton.fill(n, dims, &mut TrialRng::from_seed(3), &mut a);
        let mut b = Vec::new();
        halton.fill(n, dims, &mut TrialRng::from_seed(3), &mut b);
        assert_eq!(a, b);
        for j in 0..dims {
            // Every one of 16 equal bins holds about n / 16 points: the range of the counts
            // is a few, where 256 uniform draws would spread them over about 14.
            let mut bins = [0usize; 16];
            for i in 0..n {
                let u = a[i * dims + j];
                assert!((0.0..1.0).contains(&u));
                bins[(u * 16.0) as usize] += 1;
            }
            let (lo, hi) = (bins.iter().min().unwrap(), bins.iter().max().unwrap());
            assert!(hi - lo <= 5, "dimension {j}: bins {bins:?}");
        }
        // Scrambling differs between seeds.
        let mut c = Vec::new();
        halton.fill(n, dims, &mut TrialRng::from_seed(4), &mut c);
        assert_ne!(a, c);
    }
}
