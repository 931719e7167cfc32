//! Search spaces: the hyperparameters, their distributions, conditional sub-spaces, and
//! the points sampled from them.
//!
//! A [`Space`] is declared with [`Space::builder`], or written in TOML or JSON (see
//! [`schema`] for the format and [`Space::from_path`]), and validated once, when built or
//! parsed. Internally it is a flat list of
//! [`Param`]s in declaration order (depth first), each knowing the `choice` option it is
//! conditional on, so samplers can work on plain vectors.
//!
//! ```
//! use hyperflow::space::Space;
//!
//! let space = Space::builder()
//!     .loguniform("lr", 1e-5, 1e-1)
//!     .quniform("max_depth", 2.0, 16.0, 1.0)
//!     .choice("model", [
//!         ("svm", Space::builder().loguniform("C", 1e-2, 1e3)),
//!         ("tree", Space::builder().randint("min_leaf", 1, 20)),
//!     ])
//!     .build()?;
//! assert_eq!(space.len(), 5);
//! # Ok::<(), hyperflow::space::SpaceError>(())
//! ```

mod builder;
mod point;
pub mod schema;
mod value;

pub use builder::{ChoiceOption, SpaceBuilder};
pub use point::{Point, PointError};
pub use schema::{SchemaError, SchemaErrorKind};
pub use value::{FromValue, Quoted, Value};

use rand::RngExt;
use rand_distr::StandardNormal;

use crate::rng::TrialRng;

/// The distribution a hyperparameter is drawn from.
///
/// Bounds are in value space for every kind, log kinds included.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Dist {
    /// Real, uniform on `[low, high]`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
    },
    /// Real, `exp(uniform(ln low, ln high))`; `0 < low < high`.
    LogUniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
    },
    /// Real on the multiples of `q` inside `[low, high]`, drawn as `round(uniform(low, high) / q) * q`
    /// (so the end points carry half the mass of inner points, as in hyperopt).
    QUniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
        /// Step: values are multiples of `q`.
        q: f64,
    },
    /// Real on the multiples of `q` inside `[low, high]`, drawn as
    /// `round(exp(uniform(ln low, ln high)) / q) * q`; `0 < low < high`.
    QLogUniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (inclusive).
        high: f64,
        /// Step: values are multiples of `q`.
        q: f64,
    },
    /// Real, Gaussian `N(mu, sigma)`, unbounded.
    Normal {
        /// Mean.
        mu: f64,
        /// Standard deviation, `> 0`.
        sigma: f64,
    },
    /// Real, `exp(N(mu, sigma))`: `mu` and `sigma` are in log space, as in hyperopt.
    LogNormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm, `> 0`.
        sigma: f64,
    },
    /// Integer, uniform on `low..high`: **`high` is exclusive**, as in hyperopt and numpy.
    RandInt {
        /// Lower bound (inclusive).
        low: i64,
        /// Upper bound, **exclusive**.
        high: i64,
    },
    /// One of `options`; each option may carry a conditional sub-space (its params have
    /// this param as [`Param::parent`]).
    Choice {
        /// The options' values, in declaration order; encoded points hold their index.
        options: Vec<Value>,
    },
    /// Always this value.
    Const(Value),
}

impl Dist {
    /// The kind's name as written in TOML/JSON spaces (`"uniform"`, `"randint"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Dist::Uniform { .. } => "uniform",
            Dist::LogUniform { .. } => "loguniform",
            Dist::QUniform { .. } => "quniform",
            Dist::QLogUniform { .. } => "qloguniform",
            Dist::Normal { .. } => "normal",
            Dist::LogNormal { .. } => "lognormal",
            Dist::RandInt { .. } => "randint",
            Dist::Choice { .. } => "choice",
            Dist::Const(_) => "const",
        }
    }

    /// Whether the kind is sampled and modelled in log space.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Dist::LogUniform { .. } | Dist::QLogUniform { .. } | Dist::LogNormal { .. }
        )
    }

    /// The smallest and largest multiples of `q` inside `[low, high]`, as multipliers of `q`
    /// (empty when the first exceeds the last).
    fn grid_bounds(low: f64, high: f64, q: f64) -> (f64, f64) {
        let (mut first, mut last) = ((low / q).ceil(), (high / q).floor());
        // `low / q` is rounded, so `first * q` can land just below `low` (or `last * q`
        // just above `high`); step inwards so every grid value really lies in the bounds.
        if first * q < low {
            first += 1.0;
        }
        if last * q > high {
            last -= 1.0;
        }
        (first, last)
    }

    /// How many values a discrete kind takes (`None` for continuous kinds), counted
    /// without listing them: an integer range may hold billions.
    pub fn grid_len(&self) -> Option<u64> {
        match *self {
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                let (first, last) = Dist::grid_bounds(low, high, q);
                // Saturating: a grid beyond 2^64 values counts as 2^64 - 1.
                Some((last - first + 1.0).max(0.0) as u64)
            }
            Dist::RandInt { low, high } => Some((i128::from(high) - i128::from(low)) as u64),
            Dist::Choice { ref options } => Some(options.len() as u64),
            Dist::Const(_) => Some(1),
            _ => None,
        }
    }

    /// The `k`-th value of a discrete kind in ascending order, encoded (see
    /// [`Space::encode`]); `k` below [`grid_len`](Dist::grid_len). NaN for continuous kinds.
    pub fn grid_value(&self, k: u64) -> f64 {
        match *self {
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                // In floats: exact below 2^53, and no overflow for grids beyond 2^63.
                let (first, _) = Dist::grid_bounds(low, high, q);
                (first + k as f64) * q
            }
            Dist::RandInt { low, .. } => (i128::from(low) + i128::from(k)) as f64,
            Dist::Choice { .. } => k as f64,
            Dist::Const(_) => 0.0,
            _ => f64::NAN,
        }
    }

    /// The position of encoded value `x` among the kind's [grid values](Dist::grid_value),
    /// within float rounding; `None` off the grid or for continuous kinds.
    pub fn grid_index(&self, x: f64) -> Option<u64> {
        let len = self.grid_len()?;
        let guess = match *self {
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                (x / q).round() - Dist::grid_bounds(low, high, q).0
            }
            Dist::RandInt { low, .. } => x.round() - low as f64,
            _ => x.round(),
        };
        // `x / q` is rounded too: the value may sit at the neighbouring position.
        [guess - 1.0, guess, guess + 1.0]
            .into_iter()
            .filter(|&k| k >= 0.0 && k < len as f64)
            .map(|k| k as u64)
            .find(|&k| {
                let v = self.grid_value(k);
                (v - x).abs() <= 1e-9 * v.abs().max(1.0)
            })
    }

    /// Every value of a discrete kind, in order, as encoded numbers (see [`Space::encode`]);
    /// `None` for continuous kinds. As long as [`grid_len`](Dist::grid_len): check it first
    /// where a range may be wide.
    pub fn grid(&self) -> Option<Vec<f64>> {
        let len = self.grid_len()?;
        Some((0..len).map(|k| self.grid_value(k)).collect())
    }

    /// Draws an encoded value from the prior.
    pub fn sample_prior(&self, rng: &mut TrialRng) -> f64 {
        let raw = match *self {
            Dist::Uniform { low, high } | Dist::QUniform { low, high, .. } => {
                low + rng.random::<f64>() * (high - low)
            }
            Dist::LogUniform { low, high } | Dist::QLogUniform { low, high, .. } => {
                (low.ln() + rng.random::<f64>() * (high.ln() - low.ln())).exp()
            }
            Dist::Normal { mu, sigma } => mu + sigma * rng.sample::<f64, _>(StandardNormal),
            Dist::LogNormal { mu, sigma } => {
                (mu + sigma * rng.sample::<f64, _>(StandardNormal)).exp()
            }
            Dist::RandInt { low, high } => rng.random_range(low..high) as f64,
            Dist::Choice { ref options } => rng.random_range(0..options.len()) as f64,
            Dist::Const(_) => 0.0,
        };
        // Rounding in `low + u * (high - low)` and `exp(ln x)` can step just outside the
        // bounds, and wide Gaussians can overflow; snapping keeps every draw in the support
        // that `Space::encode` accepts.
        self.snap(raw)
    }

    /// Rounds `x` to the nearest multiple of `q` inside `[low, high]`.
    fn quantize(&self, x: f64, low: f64, high: f64, q: f64) -> f64 {
        let (first, last) = Dist::grid_bounds(low, high, q);
        // `+ 0.0` turns a rounded -0.0 into 0.0, so equal points have equal encodings.
        (x / q).round().clamp(first, last) * q + 0.0
    }

    /// Snaps an encoded value onto the kind's support: quantized kinds to their grid,
    /// integers and choice indices to whole numbers, bounded kinds into their bounds.
    /// Samplers that model values continuously call this before returning them.
    pub fn snap(&self, x: f64) -> f64 {
        match *self {
            Dist::Uniform { low, high } | Dist::LogUniform { low, high } => x.clamp(low, high),
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                self.quantize(x, low, high, q)
            }
            Dist::Normal { .. } => x.clamp(f64::MIN, f64::MAX),
            Dist::LogNormal { .. } => x.clamp(f64::MIN_POSITIVE, f64::MAX),
            // `+ 0.0` turns a rounded -0.0 into 0.0, so equal points have equal encodings.
            Dist::RandInt { low, high } => x.round().clamp(low as f64, (high - 1) as f64) + 0.0,
            Dist::Choice { ref options } => x.round().clamp(0.0, (options.len() - 1) as f64) + 0.0,
            Dist::Const(_) => 0.0,
        }
    }

    /// The value an encoded number stands for.
    fn decode(&self, x: f64) -> Value {
        match self {
            Dist::RandInt { .. } => Value::Int(x as i64),
            Dist::Choice { options } => options[(x as usize).min(options.len() - 1)].clone(),
            Dist::Const(v) => v.clone(),
            _ => Value::Float(x),
        }
    }
}

/// The `choice` option a conditional parameter depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    /// Index (in [`Space::params`]) of the `choice` parameter.
    pub param: usize,
    /// Index of the option of that choice under which this parameter is active.
    pub option: usize,
}

/// One hyperparameter of a [`Space`].
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name, unique in the whole space.
    pub name: String,
    /// Its distribution.
    pub dist: Dist,
    /// The choice option it is conditional on; `None` at the top level.
    pub parent: Option<Condition>,
}

/// A validated search space: a flat list of parameters, parents before their children.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    params: Vec<Param>,
}

impl Space {
    /// Starts declaring a space.
    pub fn builder() -> SpaceBuilder {
        SpaceBuilder::default()
    }

    /// The parameters, depth first in declaration order; a parameter's parent comes before it.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The number of parameters, conditional ones included.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the space has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The index of the parameter called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// For a conditional parameter, the name of the choice it depends on and the option
    /// under which it is active; `None` for a top-level parameter (or an index out of range).
    ///
    /// ```
    /// use hyperflow::{Space, Value};
    /// use hyperflow::space::ChoiceOption;
    ///
    /// let svm = Space::builder().uniform("C", 0.1, 10.0);
    /// let space = Space::builder()
    ///     .choice("model", [ChoiceOption::new("svm", svm), "tree".into()])
    ///     .build()?;
    /// let c = space.index_of("C").unwrap();
    /// assert_eq!(space.active_under(c), Some(("model", &Value::from("svm"))));
    /// assert_eq!(space.active_under(space.index_of("model").unwrap()), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn active_under(&self, index: usize) -> Option<(&str, &Value)> {
        let condition = self.params.get(index)?.parent?;
        let parent = &self.params[condition.param];
        match &parent.dist {
            Dist::Choice { options } => options
                .get(condition.option)
                .map(|option| (parent.name.as_str(), option)),
            _ => None,
        }
    }

    /// Whether parameter `index` is active in the encoded point `x`.
    ///
    /// Relies on parents being decided before children, which holds for every encoded
    /// point this crate produces: an inactive parent is `NaN`, so its children are inactive.
    pub fn is_active(&self, index: usize, x: &[f64]) -> bool {
        match self.params[index].parent {
            None => true,
            Some(c) => x[c.param] == c.option as f64,
        }
    }

    /// Draws an encoded point from the prior: one number per parameter, `NaN` where the
    /// parameter is inactive.
    pub fn sample_prior(&self, rng: &mut TrialRng) -> Vec<f64> {
        let mut x = vec![f64::NAN; self.params.len()];
        for (i, p) in self.params.iter().enumerate() {
            if self.is_active(i, &x) {
                x[i] = p.dist.sample_prior(rng);
            }
        }
        x
    }

    /// Turns an encoded point into the point users see: values by name, choices as their
    /// option values, inactive parameters left out.
    pub fn decode(&self, x: &[f64]) -> Point {
        let entries = self
            .params
            .iter()
            .zip(x)
            .filter(|(_, v)| !v.is_nan())
            .map(|(p, &v)| (p.name.clone(), p.dist.decode(v)))
            .collect();
        Point::from_entries(entries)
    }

    /// Turns a user's point into the encoded form samplers work on.
    ///
    /// Every parameter active under the point's choices must be given and lie in its
    /// distribution's support; names the space does not know are an error.
    pub fn encode(&self, point: &Point) -> Result<Vec<f64>, PointError> {
        if let Some((name, _)) = point.iter().find(|(name, _)| self.index_of(name).is_none()) {
            return Err(PointError::UnknownParam {
                name: name.to_string(),
            });
        }
        let mut x = vec![f64::NAN; self.params.len()];
        for (i, p) in self.params.iter().enumerate() {
            if !self.is_active(i, &x) {
                continue;
            }
            let value = point.value(&p.name).ok_or_else(|| PointError::Missing {
                name: p.name.clone(),
            })?;
            x[i] = encode_value(p, value)?;
        }
        Ok(x)
    }
}

impl Space {
    /// Reads a point from `(name, text)` pairs, each value read as its parameter's kind
    /// needs ([`Dist::parse_value`]); top-level constants may be left out. The result is
    /// checked as [`Space::encode`] checks, and parameters inactive under the point's
    /// choices are dropped.
    ///
    /// ```
    /// use hyperflow::Space;
    ///
    /// let space = Space::builder().randint("depth", 2, 17).choice("model", ["rf", "gbt"]).build()?;
    /// let point = space.point_from_text([("depth", "6"), ("model", "gbt")])?;
    /// assert_eq!(point.to_string(), r#"{depth: 6, model: "gbt"}"#);
    /// assert!(space.point_from_text([("depth", "six"), ("model", "gbt")]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn point_from_text<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Point, PointError> {
        let mut point = Point::default();
        for (name, text) in pairs {
            let name = name.trim();
            let param = self
                .index_of(name)
                .map(|i| &self.params[i])
                .ok_or_else(|| PointError::UnknownParam {
                    name: name.to_string(),
                })?;
            let value = param
                .dist
                .parse_value(text)
                .ok_or_else(|| PointError::Unreadable {
                    name: name.to_string(),
                    text: text.trim().to_string(),
                    expected: describe_support(&param.dist),
                })?;
            point.insert(name, value);
        }
        for param in &self.params {
            if let (Dist::Const(v), None) = (&param.dist, param.parent)
                && point.value(&param.name).is_none()
            {
                point.insert(param.name.clone(), v.clone());
            }
        }
        let x = self.encode(&point)?;
        // Decoding drops values of parameters that are inactive under the point's choices.
        Ok(self.decode(&x))
    }
}

fn encode_value(p: &Param, value: &Value) -> Result<f64, PointError> {
    let outside = || PointError::OutOfSpace {
        name: p.name.clone(),
        value: value.clone(),
        expected: describe_support(&p.dist),
    };
    match &p.dist {
        Dist::Choice { options } => options
            .iter()
            .position(|o| o.same(value))
            .map(|i| i as f64)
            .ok_or_else(outside),
        Dist::Const(v) => v.same(value).then_some(0.0).ok_or_else(outside),
        dist => {
            let x = value.as_f64().ok_or_else(outside)?;
            let inside = match *dist {
                Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
                    (low..=high).contains(&x)
                }
                Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                    (low..=high).contains(&x)
                        && ((x / q).round() * q - x).abs() <= 1e-9 * q.max(x.abs())
                }
                Dist::Normal { .. } => x.is_finite(),
                Dist::LogNormal { .. } => x.is_finite() && x > 0.0,
                Dist::RandInt { low, high } => {
                    x.fract() == 0.0 && x >= low as f64 && x < high as f64
                }
                Dist::Choice { .. } | Dist::Const(_) => false,
            };
            if inside {
                Ok(dist.snap(x))
            } else {
                Err(outside())
            }
        }
    }
}

impl Dist {
    /// Reads a value written as text (a tracking param, `-P name=value`): a choice option
    /// or the constant as it displays, an integer for `randint`, a number otherwise.
    /// `None` when the text is none of these; whether the value is in range is checked by
    /// [`Space::encode`].
    pub fn parse_value(&self, text: &str) -> Option<Value> {
        let text = text.trim();
        match self {
            Dist::Choice { options } => options.iter().find(|o| o.to_string() == text).cloned(),
            Dist::Const(v) => (v.to_string() == text).then(|| v.clone()),
            Dist::RandInt { .. } => text.parse::<i64>().ok().map(Value::Int),
            _ => text.parse::<f64>().ok().map(Value::Float),
        }
    }
}

/// A short description of a distribution's support, for error messages.
pub(crate) fn describe_support(dist: &Dist) -> String {
    match dist {
        Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
            format!("a number in [{low}, {high}]")
        }
        Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
            format!("a multiple of {q} in [{low}, {high}]")
        }
        Dist::Normal { .. } => "a finite number".to_string(),
        Dist::LogNormal { .. } => "a positive number".to_string(),
        Dist::RandInt { low, high } => format!("an integer in [{low}, {high}) (high is exclusive)"),
        Dist::Choice { options } => {
            let list: Vec<String> = options.iter().map(|o| o.quoted().to_string()).collect();
            format!("one of [{}]", list.join(", "))
        }
        Dist::Const(v) => format!("the constant {}", v.quoted()),
    }
}

/// Why a space could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The lower bound is not below the upper bound.
    #[error("parameter `{param}`: {kind} needs low < high, got low = {low}, high = {high}")]
    EmptyRange {
        /// The parameter.
        param: String,
        /// Its kind, as written in TOML/JSON.
        kind: &'static str,
        /// The lower bound given.
        low: f64,
        /// The upper bound given.
        high: f64,
    },
    /// The bounds are so far apart that `high - low` is beyond the largest float: no
    /// value between them could be drawn.
    #[error(
        "parameter `{param}`: {kind} from {low} to {high} is wider than a float can span \
         (high - low overflows); narrow the range"
    )]
    RangeTooWide {
        /// The parameter.
        param: String,
        /// Its kind, as written in TOML/JSON.
        kind: &'static str,
        /// The lower bound given.
        low: f64,
        /// The upper bound given.
        high: f64,
    },
    /// A log kind has a bound that is not positive.
    #[error(
        "parameter `{param}`: {kind} bounds are in value space and must be positive, got low = {low}"
    )]
    NonPositiveLogBound {
        /// The parameter.
        param: String,
        /// Its kind, as written in TOML/JSON.
        kind: &'static str,
        /// The lower bound given.
        low: f64,
    },
    /// A quantized kind has a step that is not positive.
    #[error("parameter `{param}`: {kind} needs a step q > 0, got q = {q}")]
    NonPositiveStep {
        /// The parameter.
        param: String,
        /// Its kind, as written in TOML/JSON.
        kind: &'static str,
        /// The step given.
        q: f64,
    },
    /// No multiple of the step lies inside the bounds.
    #[error("parameter `{param}`: no multiple of q = {q} lies in [{low}, {high}]")]
    EmptyGrid {
        /// The parameter.
        param: String,
        /// The lower bound given.
        low: f64,
        /// The upper bound given.
        high: f64,
        /// The step given.
        q: f64,
    },
    /// A normal kind has a sigma that is not positive.
    #[error("parameter `{param}`: {kind} needs sigma > 0, got sigma = {sigma}")]
    NonPositiveSigma {
        /// The parameter.
        param: String,
        /// Its kind, as written in TOML/JSON.
        kind: &'static str,
        /// The sigma given.
        sigma: f64,
    },
    /// A number is NaN or infinite.
    #[error("parameter `{param}`: {field} must be a finite number, got {value}")]
    NotFinite {
        /// The parameter.
        param: String,
        /// Which number.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A choice has no options.
    #[error("parameter `{param}`: a choice needs at least one option")]
    EmptyChoice {
        /// The parameter.
        param: String,
    },
    /// Two options of a choice have the same value.
    #[error("parameter `{param}`: option {value} is listed twice")]
    DuplicateOption {
        /// The parameter.
        param: String,
        /// The repeated option.
        value: Value,
    },
    /// Two parameters have the same name.
    #[error(
        "parameter `{param}` is declared twice; names must be unique in the whole space, sub-spaces included"
    )]
    DuplicateName {
        /// The parameter.
        param: String,
    },
    /// A name is empty or has characters tracking cannot store.
    #[error(
        "parameter name {param:?} is not valid: use 1 to 250 letters, digits, `_`, `-`, `.`, `/`, `:` or spaces"
    )]
    InvalidName {
        /// The parameter.
        param: String,
    },
    /// A TOML or JSON space could not be parsed.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_values_are_found_by_position_without_listing_them() {
        let small = [
            Dist::QUniform {
                low: -29.7,
                high: -20.0,
                q: 0.1,
            },
            Dist::QLogUniform {
                low: 1.0,
                high: 100.0,
                q: 3.0,
            },
            Dist::RandInt { low: -3, high: 7 },
            Dist::Choice {
                options: vec![Value::from("a"), Value::from("b")],
            },
        ];
        for dist in small {
            let grid = dist.grid().expect("discrete");
            assert_eq!(grid.len() as u64, dist.grid_len().expect("discrete"));
            for (k, &v) in grid.iter().enumerate() {
                assert_eq!(dist.grid_value(k as u64), v, "{dist:?}");
                assert_eq!(dist.grid_index(v), Some(k as u64), "{dist:?} at {v}");
            }
            assert_eq!(dist.grid_index(grid[0] - 1e3), None, "{dist:?}");
        }
        assert_eq!(
            Dist::Uniform {
                low: 0.0,
                high: 1.0
            }
            .grid_len(),
            None
        );
        // Wider than memory, or than 2^64 values: counted (saturating) and found.
        let wide = Dist::RandInt {
            low: i64::MIN,
            high: i64::MAX,
        };
        assert_eq!(wide.grid_len(), Some(u64::MAX));
        assert_eq!(wide.grid_index(0.0), Some(1 << 63));
        let huge = Dist::QUniform {
            low: -1e300,
            high: 1e300,
            q: 1.0,
        };
        assert_eq!(huge.grid_len(), Some(u64::MAX));
        assert_eq!(huge.grid_value(0), -1e300);
        assert!(huge.grid_value(u64::MAX).is_finite());
    }

    #[test]
    fn quantized_grids_stay_inside_decimal_bounds() {
        // -29.7 / 0.1 rounds to exactly -297, but -297 * 0.1 is -29.700000000000003 < low.
        let dist = Dist::QUniform {
            low: -29.7,
            high: -20.0,
            q: 0.1,
        };
        let grid = dist.grid().unwrap();
        assert!(grid.iter().all(|x| (-29.7..=-20.0).contains(x)), "{grid:?}");
        assert_eq!(dist.snap(-40.0), grid[0]);
        let space = Space::builder()
            .quniform("x", -29.7, -20.0, 0.1)
            .build()
            .unwrap();
        let lowest = space.decode(&[dist.snap(-29.7)]);
        assert_eq!(space.encode(&lowest).unwrap(), [grid[0]]);
    }

    #[test]
    fn prior_draws_stay_finite_for_wide_gaussians() {
        let mut rng = TrialRng::from_seed(1);
        let normal = Dist::Normal {
            mu: 1e308,
            sigma: 1e308,
        };
        let lognormal = Dist::LogNormal {
            mu: 700.0,
            sigma: 100.0,
        };
        for _ in 0..100 {
            assert!(normal.sample_prior(&mut rng).is_finite());
            let x = lognormal.sample_prior(&mut rng);
            assert!(x.is_finite() && x > 0.0);
        }
    }

    #[test]
    fn numerically_equal_values_match_choices_and_constants() {
        let space = Space::builder()
            .choice("c", [Value::from(1), Value::from(2.5)])
            .constant("k", 2.0)
            .build()
            .unwrap();
        let point: Point = [("c", Value::from(1.0)), ("k", Value::from(2))]
            .into_iter()
            .collect();
        assert_eq!(space.encode(&point).unwrap(), [0.0, 0.0]);
    }
}
