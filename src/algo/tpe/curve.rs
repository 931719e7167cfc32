//! A Morton (Z-order) curve over the real dims of a group.
//!
//! Points close on the curve are, for the most part, close in space: the kernels next to
//! a candidate's code are a cheap stand-in for its nearest kernels, which is all a lower
//! bound of the bad-set density needs (see [`BadSet::lower_bound`](super::bad_set::BadSet::lower_bound)).

use super::parzen::{DimKind, DimModel};

/// Most bits one axis gets: beyond a million cells per axis the order is fine enough.
const MAX_BITS: u32 = 20;

/// One axis of the curve: a real dim and the affine map of its range onto the cells.
#[derive(Debug, Clone, PartialEq)]
struct Axis {
    dim: usize,
    /// Scored by cell mass: a candidate's score key is its cell, `(low, high)`.
    cell: bool,
    lo: f64,
    cells_per_unit: f64,
    /// Per 4-bit group of a cell number: each of its 16 values spread to its place in
    /// the code (a few table lookups instead of a loop over every bit).
    spread: Vec<[u64; 16]>,
}

/// The curve of one group: its real dims, each cut into `2^bits` cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Curve {
    axes: Vec<Axis>,
    bits: u32,
}

impl Curve {
    /// The curve over the real dims of `dims` (categorical dims have no order to follow).
    /// Unbounded dims span their prior's mean plus or minus four widths; values beyond
    /// fall into the end cells.
    ///
    /// `shift` (a fraction of each range, below 1) moves the cell boundaries: curves with
    /// different shifts break locality at different places.
    pub fn new(dims: &[DimModel], shift: f64) -> Curve {
        let ranges: Vec<(usize, bool, f64, f64)> = dims
            .iter()
            .enumerate()
            .filter_map(|(d, dim)| match dim.kind {
                DimKind::Real {
                    lo,
                    hi,
                    prior_mu,
                    prior_sigma,
                    ..
                } => {
                    let lo = if lo.is_finite() {
                        lo
                    } else {
                        prior_mu - 4.0 * prior_sigma
                    };
                    let hi = if hi.is_finite() {
                        hi
                    } else {
                        prior_mu + 4.0 * prior_sigma
                    };
                    let width = hi - lo;
                    Some((d, !dim.is_continuous(), lo - shift * width, hi))
                }
                DimKind::Cat { .. } => None,
            })
            .take(64)
            .collect();
        let bits = (64 / ranges.len().max(1) as u32).min(MAX_BITS);
        let cells = f64::from(1u32 << bits);
        let stride = ranges.len();
        let axes = ranges
            .into_iter()
            .enumerate()
            .map(|(a, (dim, cell, lo, hi))| Axis {
                dim,
                cell,
                lo,
                cells_per_unit: if hi > lo { cells / (hi - lo) } else { 0.0 },
                spread: (0..bits.div_ceil(4))
                    .map(|group| {
                        std::array::from_fn(|v| spread((v as u64) << (4 * group), bits, stride, a))
                    })
                    .collect(),
            })
            .collect();
        Curve { axes, bits }
    }

    /// The code of a point given by its located values, one per dim (see
    /// [`DimModel::locate`]).
    pub fn code(&self, values: &[f64]) -> u64 {
        self.code_with(|axis| values[axis.dim])
    }

    /// The code of a candidate given by its score keys (see [`DimModel::score_key`]): a
    /// cell-scored dim stands at its cell's midpoint.
    pub fn key_code(&self, key: &[(f64, f64)]) -> u64 {
        self.code_with(|axis| {
            let (a, b) = key[axis.dim];
            if axis.cell { 0.5 * (a + b) } else { a }
        })
    }

    /// The bits of the point's cells on every axis interleaved, most significant first.
    fn code_with(&self, at: impl Fn(&Axis) -> f64) -> u64 {
        let top = (1u64 << self.bits) - 1;
        let mut code = 0u64;
        for axis in &self.axes {
            // `as` saturates (NaN gives 0), and the clamp keeps `hi` itself in the last cell.
            let cell = (((at(axis) - axis.lo) * axis.cells_per_unit) as u64).min(top);
            for (group, table) in axis.spread.iter().enumerate() {
                code |= table[((cell >> (4 * group)) & 15) as usize];
            }
        }
        code
    }
}

/// A set of trials ordered along a curve: `(code, trial number)` ascending, and each
/// member's code by trial number.
#[derive(Debug, Clone, Default)]
pub(crate) struct CurveIndex {
    curve: Curve,
    along: Vec<(u64, u32)>,
    code: Vec<u64>,
}

impl CurveIndex {
    /// An empty index along `curve`.
    pub fn new(curve: Curve) -> CurveIndex {
        CurveIndex {
            curve,
            ..CurveIndex::default()
        }
    }

    /// Rebuilds the index from `points`: `(trial number, located values)`.
    pub fn rebuild<'a>(&mut self, points: impl Iterator<Item = (u32, &'a [f64])>) {
        self.along.clear();
        for (number, values) in points {
            let code = self.record(number, values);
            self.along.push((code, number));
        }
        self.along.sort_unstable();
    }

    /// Adds trial `number` with located values `values` (one per dim).
    pub fn insert(&mut self, number: u32, values: &[f64]) {
        let code = self.record(number, values);
        let (Ok(at) | Err(at)) = self.along.binary_search(&(code, number));
        self.along.insert(at, (code, number));
    }

    /// Computes and keeps the code of trial `number`.
    fn record(&mut self, number: u32, values: &[f64]) -> u64 {
        let code = self.curve.code(values);
        let i = number as usize;
        if self.code.len() <= i {
            self.code.resize(i + 1, 0);
        }
        self.code[i] = code;
        code
    }

    /// Removes trial `number`, if present.
    pub fn remove(&mut self, number: u32) {
        let code = self.code.get(number as usize).copied().unwrap_or_default();
        if let Ok(at) = self.along.binary_search(&(code, number)) {
            self.along.remove(at);
        }
    }

    /// Appends to `out` the trial numbers of up to `reach` members on each side of a
    /// candidate (score keys) on the curve.
    pub fn near(&self, key: &[(f64, f64)], reach: usize, out: &mut Vec<u32>) {
        let code = self.curve.key_code(key);
        let at = self.along.partition_point(|e| e.0 < code);
        let lo = at.saturating_sub(reach);
        let hi = (at + reach).min(self.along.len());
        out.extend(self.along[lo..hi].iter().map(|&(_, i)| i));
    }
}

/// Places bit `b` of `cell` (lowest `bits` bits) at position `b * stride + (stride - 1 -
/// offset)`: the interleaving of `stride` axes, axis 0 most significant at each level.
fn spread(cell: u64, bits: u32, stride: usize, offset: usize) -> u64 {
    let mut out = 0u64;
    for b in 0..bits as usize {
        out |= ((cell >> b) & 1) << (b * stride + stride - 1 - offset);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Dist, Param};

    fn dims(n: usize) -> Vec<DimModel> {
        (0..n)
            .map(|i| {
                let p = Param {
                    name: format!("x{i}"),
                    dist: Dist::Uniform {
                        low: 0.0,
                        high: 1.0,
                    },
                    parent: None,
                };
                DimModel::new(i, &p).expect("not a constant")
            })
            .collect()
    }

    #[test]
    fn codes_interleave_cells_most_significant_first() {
        let curve = Curve::new(&dims(2), 0.0);
        assert_eq!(curve.bits, 20);
        // x in the upper half sets the top bit, y in the upper half the next one.
        assert_eq!(curve.code(&[0.75, 0.25]) >> 38, 0b10);
        assert_eq!(curve.code(&[0.25, 0.75]) >> 38, 0b01);
        assert_eq!(curve.code(&[1.0, 1.0]), (1u64 << 40) - 1);
        assert_eq!(curve.code(&[f64::NAN, 0.0]), 0);
        assert_eq!(
            curve.key_code(&[(0.75, 0.0), (0.25, 0.0)]),
            curve.code(&[0.75, 0.25])
        );
    }

    #[test]
    fn codes_use_at_most_64_bits() {
        for n in [1, 3, 5, 7, 13, 64, 80] {
            let curve = Curve::new(&dims(n), 0.25);
            let used = curve.axes.len() as u32 * curve.bits;
            assert!(used <= 64 && curve.bits >= 1, "{n} dims: {used} bits");
            assert!(curve.code(&vec![1.0; n]) >= curve.code(&vec![0.5; n]));
        }
    }
}
