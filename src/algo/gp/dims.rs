//! The dimensions the GP models, and how encoded values map to its unit-scaled features.
//!
//! Every top-level parameter that can take more than one value is a dimension (parameters
//! under a `choice` are drawn from their prior, see [`Gp`](super::Gp)). Its feature is:
//!
//! - real kinds: the value (its logarithm for log kinds) scaled so the bounds are 0 and 1;
//!   `normal`/`lognormal` have no bounds, so `mu +- 3 sigma` plays their part (observed
//!   values beyond stay where they are, outside `[0, 1]`; proposals stay inside);
//! - integers and quantized kinds: the same, with the bounds widened by half a step so
//!   every value owns a cell of equal width, as optuna does;
//! - choices of numbers: ordered, each option at the centre of its cell in ascending
//!   order of value (so `[16, 32, 64, 128]` is spaced like its logarithms);
//! - other choices: the option's index, compared by a Hamming distance (equal or not).

use crate::space::{Dist, Param, Space};

/// How a dimension's values are searched when the acquisition is optimized.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// Real: moved by the quasi-Newton search.
    Real,
    /// Ordered, finitely many values: the features of the values (ascending) and the
    /// encoded values they stand for.
    Grid {
        /// Feature of each value, ascending.
        pos: Vec<f64>,
        /// Encoded value at each position.
        values: Vec<f64>,
    },
    /// Unordered options `0..n`, the feature being the index.
    Categorical {
        /// Number of options.
        n: usize,
    },
}

/// How an encoded value becomes a feature.
#[derive(Debug, Clone, PartialEq)]
enum Scale {
    /// `((ln) x - lo) / width`.
    Affine { log: bool, lo: f64, width: f64 },
    /// Option index to feature, through a table.
    Table(Vec<f64>),
    /// The index itself (categorical).
    Index,
}

/// One modelled dimension.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Dim {
    /// Position of the parameter in the space.
    pub param: usize,
    /// How the optimizer moves it.
    pub kind: Kind,
    scale: Scale,
    dist: Dist,
}

/// Grids with more values than this are searched as real numbers first and rounded, then
/// refined by steps to neighbouring values; smaller ones are searched exhaustively.
pub(super) const EXHAUSTIVE: usize = 16;

/// Integer and quantized kinds with more values than this are modelled as real numbers
/// whose proposals are rounded onto the grid ([`Dist::snap`]): a list of every value would
/// outgrow memory (a `randint` up to 2^32) long before it helped the search.
const LISTED: u64 = 1 << 16;

/// Half the width of the box that stands for the bounds of a normal kind, in sigmas.
const NORMAL_HALF_WIDTH: f64 = 3.0;

impl Dim {
    /// The dimension of parameter `index`, or `None` when it is not modelled (under a
    /// choice, or with a single possible value).
    fn new(index: usize, p: &Param) -> Option<Dim> {
        if p.parent.is_some() {
            return None;
        }
        let affine = |log: bool, lo: f64, hi: f64| Scale::Affine {
            log,
            lo,
            width: hi - lo,
        };
        let (kind, scale) = match p.dist {
            Dist::Uniform { low, high } => (Kind::Real, affine(false, low, high)),
            Dist::LogUniform { low, high } => (Kind::Real, affine(true, low.ln(), high.ln())),
            Dist::Normal { mu, sigma } => (
                Kind::Real,
                affine(
                    false,
                    mu - NORMAL_HALF_WIDTH * sigma,
                    mu + NORMAL_HALF_WIDTH * sigma,
                ),
            ),
            Dist::LogNormal { mu, sigma } => (
                Kind::Real,
                affine(
                    true,
                    mu - NORMAL_HALF_WIDTH * sigma,
                    mu + NORMAL_HALF_WIDTH * sigma,
                ),
            ),
            Dist::QUniform { q, .. } | Dist::QLogUniform { q, .. } => {
                let len = p.dist.grid_len()?;
                let (first, last) = (p.dist.grid_value(0), p.dist.grid_value(len.checked_sub(1)?));
                let (lo, hi) = (first - 0.5 * q, last + 0.5 * q);
                let scale = if p.dist.is_log() {
                    // The first value is at least q (low > 0), so lo >= q / 2 > 0.
                    affine(true, lo.ln(), hi.ln())
                } else {
                    affine(false, lo, hi)
                };
                Dim::discrete(&p.dist, len, scale)?
            }
            Dist::RandInt { low, high } => Dim::discrete(
                &p.dist,
                p.dist.grid_len()?,
                affine(false, low as f64 - 0.5, high as f64 - 0.5),
            )?,
            Dist::Choice { ref options } => {
                if options.len() < 2 {
                    return None;
                }
                let numbers: Option<Vec<f64>> = options.iter().map(|v| v.as_f64()).collect();
                match numbers {
                    Some(numbers) => {
                        // Rank of each option by value; ties keep declaration order.
                        let mut order: Vec<usize> = (0..numbers.len()).collect();
                        order.sort_by(|&a, &b| numbers[a].total_cmp(&numbers[b]));
                        let cell = 1.0 / numbers.len() as f64;
                        let mut table = vec![0.0; numbers.len()];
                        for (rank, &option) in order.iter().enumerate() {
                            table[option] = (rank as f64 + 0.5) * cell;
                        }
                        let values = order.iter().map(|&o| o as f64).collect();
                        Dim::grid(values, Scale::Table(table))?
                    }
                    None => (Kind::Categorical { n: options.len() }, Scale::Index),
                }
            }
            Dist::Const(_) => return None,
        };
        Some(Dim {
            param: index,
            kind,
            scale,
            dist: p.dist.clone(),
        })
    }

    /// An integer or quantized dimension of `len` values: a grid, or a real dimension past
    /// [`LISTED`] values.
    fn discrete(dist: &Dist, len: u64, scale: Scale) -> Option<(Kind, Scale)> {
        if len > LISTED {
            return Some((Kind::Real, scale));
        }
        Dim::grid(dist.grid()?, scale)
    }

    /// A grid dimension over `values` (in ascending feature order), `None` for one value.
    fn grid(values: Vec<f64>, scale: Scale) -> Option<(Kind, Scale)> {
        if values.len() < 2 {
            return None;
        }
        let pos = values.iter().map(|&v| scale.apply(v)).collect();
        Some((Kind::Grid { pos, values }, scale))
    }

    /// Whether the dimension is compared by a Hamming distance (unordered options).
    pub fn is_categorical(&self) -> bool {
        matches!(self.kind, Kind::Categorical { .. })
    }

    /// The feature of encoded value `x`.
    pub fn feature(&self, x: f64) -> f64 {
        self.scale.apply(x)
    }

    /// The encoded value of feature `u`: the nearest value of the parameter's support.
    pub fn value(&self, u: f64) -> f64 {
        match (&self.kind, &self.scale) {
            (Kind::Grid { pos, values }, _) => values[nearest(pos, u)],
            (_, Scale::Affine { log, lo, width }) => {
                let v = lo + u * width;
                self.dist.snap(if *log { v.exp() } else { v })
            }
            _ => self.dist.snap(u),
        }
    }

    /// The feature on the parameter's support nearest to `u` (grids: the nearest
    /// position; others unchanged).
    pub fn snap_feature(&self, u: f64) -> f64 {
        match &self.kind {
            Kind::Grid { pos, .. } => pos[nearest(pos, u)],
            Kind::Categorical { n } => u.round().clamp(0.0, (n - 1) as f64),
            Kind::Real => u.clamp(0.0, 1.0),
        }
    }

    /// A feature on the support from a uniform draw `w` in `[0, 1)`: real kinds take it
    /// as it is, discrete ones pick value `floor(w * count)`.
    pub fn feature_at(&self, w: f64) -> f64 {
        let pick = |count: usize| ((w * count as f64) as usize).min(count - 1);
        match &self.kind {
            Kind::Real => w,
            Kind::Grid { pos, .. } => pos[pick(pos.len())],
            Kind::Categorical { n } => pick(*n) as f64,
        }
    }
}

impl Scale {
    fn apply(&self, x: f64) -> f64 {
        match self {
            Scale::Affine { log, lo, width } => ((if *log { x.ln() } else { x }) - lo) / width,
            // Encoded option indices are whole numbers within range.
            Scale::Table(table) => table[(x as usize).min(table.len() - 1)],
            Scale::Index => x,
        }
    }
}

/// The index of the entry of the ascending `pos` nearest to `u`.
pub(super) fn nearest(pos: &[f64], u: f64) -> usize {
    let i = pos.partition_point(|&p| p < u);
    match i {
        0 => 0,
        i if i == pos.len() => i - 1,
        i if u - pos[i - 1] <= pos[i] - u => i - 1,
        i => i,
    }
}

/// The modelled dimensions of a space.
pub(super) fn dims(space: &Space) -> Vec<Dim> {
    space
        .params()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Dim::new(i, p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Space;

    fn dim(space: &Space, name: &str) -> Option<Dim> {
        let i = space.index_of(name).expect("known");
        Dim::new(i, &space.params()[i])
    }

    #[test]
    fn features_round_trip_for_every_kind() {
        let space = Space::builder()
            .uniform("u", -2.0, 6.0)
            .loguniform("lr", 1e-5, 1e-1)
            .quniform("q", 0.0, 10.0, 2.5)
            .qloguniform("ql", 1.0, 64.0, 1.0)
            .randint("n", 3, 8)
            .normal("z", 1.0, 2.0)
            .choice("batch", [64, 16, 128, 32])
            .choice("act", ["relu", "tanh", "gelu"])
            .constant("c", 4)
            .randint("one", 5, 6)
            .build()
            .expect("valid");
        let u = dim(&space, "u").expect("modelled");
        assert_eq!(u.feature(-2.0), 0.0);
        assert_eq!(u.feature(2.0), 0.5);
        assert_eq!(u.value(0.5), 2.0);
        assert_eq!(u.value(1.3), 6.0, "proposals are snapped into the bounds");
        let lr = dim(&space, "lr").expect("modelled");
        assert!((lr.feature(1e-3) - 0.5).abs() < 1e-12);
        assert!((lr.value(0.5) - 1e-3).abs() < 1e-15);
        // Quantized: five values 0, 2.5, ..., 10 at the centres of five equal cells.
        let q = dim(&space, "q").expect("modelled");
        let Kind::Grid { pos, values } = &q.kind else {
            panic!("a grid: {q:?}")
        };
        assert_eq!(values, &[0.0, 2.5, 5.0, 7.5, 10.0]);
        for (k, &p) in pos.iter().enumerate() {
            assert!((p - (k as f64 + 0.5) / 5.0).abs() < 1e-12, "{pos:?}");
        }
        assert_eq!(q.value(0.31), 2.5);
        let ql = dim(&space, "ql").expect("modelled");
        assert!(
            (ql.feature(8.0) - ((8.0f64).ln() - 0.5f64.ln()) / (64.5f64.ln() - 0.5f64.ln())).abs()
                < 1e-12
        );
        let n = dim(&space, "n").expect("modelled");
        assert_eq!(n.feature(3.0), 0.1);
        assert_eq!(n.value(0.95), 7.0);
        assert_eq!(n.feature_at(0.999), n.feature(7.0));
        let z = dim(&space, "z").expect("modelled");
        assert_eq!(
            (z.feature(-5.0), z.feature(1.0), z.feature(7.0)),
            (0.0, 0.5, 1.0)
        );
        assert_eq!(z.feature(10.0), 1.25, "beyond 3 sigma stays outside [0, 1]");
        // Numeric choices are ordered by value: 16 < 32 < 64 < 128 (options 1, 3, 0, 2).
        let batch = dim(&space, "batch").expect("modelled");
        assert_eq!(batch.feature(1.0), 0.125);
        assert_eq!(batch.feature(3.0), 0.375);
        assert_eq!(batch.feature(0.0), 0.625);
        assert_eq!(batch.value(0.9), 2.0);
        let act = dim(&space, "act").expect("modelled");
        assert!(act.is_categorical());
        assert_eq!(act.feature(2.0), 2.0);
        assert_eq!(act.feature_at(0.5), 1.0);
        assert!(dim(&space, "c").is_none());
        assert!(dim(&space, "one").is_none());
    }

    #[test]
    fn parameters_under_a_choice_are_not_modelled() {
        let space = Space::builder()
            .choice(
                "model",
                [
                    ("svm", Space::builder().loguniform("C", 1e-2, 1e2)),
                    ("tree", Space::builder().randint("depth", 1, 9)),
                ],
            )
            .uniform("x", 0.0, 1.0)
            .build()
            .expect("valid");
        let params: Vec<usize> = dims(&space).iter().map(|d| d.param).collect();
        assert_eq!(
            params,
            [space.index_of("model"), space.index_of("x")].map(Option::unwrap)
        );
    }

    #[test]
    fn nearest_picks_the_closest_position() {
        let pos = [0.1, 0.3, 0.7];
        assert_eq!(nearest(&pos, -1.0), 0);
        assert_eq!(nearest(&pos, 0.19), 0);
        assert_eq!(nearest(&pos, 0.21), 1);
        assert_eq!(nearest(&pos, 0.6), 2);
        assert_eq!(nearest(&pos, 3.0), 2);
    }
}
