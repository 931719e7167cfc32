//! Declaring spaces in code.

use super::{Condition, Dist, Param, Space, SpaceError, Value};

/// One option of a `choice`: its value and the sub-space that is active when it is chosen.
///
/// Built from a plain value (`"rbf"`, `3`, `true`) or a pair of a value and a sub-space
/// (`("svm", Space::builder().loguniform("C", 1e-2, 1e3))`).
#[derive(Debug, Clone)]
pub struct ChoiceOption {
    pub(super) value: Value,
    pub(super) space: SpaceBuilder,
}

impl ChoiceOption {
    /// An option with the given value and sub-space.
    pub fn new(value: impl Into<Value>, space: SpaceBuilder) -> Self {
        ChoiceOption {
            value: value.into(),
            space,
        }
    }
}

impl<V: Into<Value>> From<V> for ChoiceOption {
    fn from(value: V) -> Self {
        ChoiceOption::new(value, SpaceBuilder::default())
    }
}

impl<V: Into<Value>> From<(V, SpaceBuilder)> for ChoiceOption {
    fn from((value, space): (V, SpaceBuilder)) -> Self {
        ChoiceOption::new(value, space)
    }
}

impl<V: Into<Value>> From<(V, Space)> for ChoiceOption {
    fn from((value, space): (V, Space)) -> Self {
        ChoiceOption::new(value, SpaceBuilder::from(&space))
    }
}

/// What one declared parameter is: a plain distribution, or a choice whose options may
/// carry sub-spaces (flattened into [`Param`]s with parents when the space is built).
#[derive(Debug, Clone)]
pub(super) enum Spec {
    Dist(Dist),
    Choice(Vec<ChoiceOption>),
}

/// Declares a [`Space`] parameter by parameter; [`build`](SpaceBuilder::build) validates it.
#[derive(Debug, Clone, Default)]
pub struct SpaceBuilder {
    pub(super) specs: Vec<(String, Spec)>,
}

impl SpaceBuilder {
    fn with(mut self, name: impl Into<String>, dist: Dist) -> Self {
        self.specs.push((name.into(), Spec::Dist(dist)));
        self
    }

    /// A real, uniform on `[low, high]`.
    pub fn uniform(self, name: impl Into<String>, low: f64, high: f64) -> Self {
        self.with(name, Dist::Uniform { low, high })
    }

    /// A real, log-uniform on `[low, high]` (bounds in value space, both positive).
    pub fn loguniform(self, name: impl Into<String>, low: f64, high: f64) -> Self {
        self.with(name, Dist::LogUniform { low, high })
    }

    /// A real on the multiples of `q` in `[low, high]`.
    pub fn quniform(self, name: impl Into<String>, low: f64, high: f64, q: f64) -> Self {
        self.with(name, Dist::QUniform { low, high, q })
    }

    /// A real on the multiples of `q` in `[low, high]`, log-uniform before rounding.
    pub fn qloguniform(self, name: impl Into<String>, low: f64, high: f64, q: f64) -> Self {
        self.with(name, Dist::QLogUniform { low, high, q })
    }

    /// A real drawn from `N(mu, sigma)`.
    pub fn normal(self, name: impl Into<String>, mu: f64, sigma: f64) -> Self {
        self.with(name, Dist::Normal { mu, sigma })
    }

    /// A positive real `exp(N(mu, sigma))`; `mu` and `sigma` are in log space.
    pub fn lognormal(self, name: impl Into<String>, mu: f64, sigma: f64) -> Self {
        self.with(name, Dist::LogNormal { mu, sigma })
    }

    /// An integer, uniform on `low..high`: **`high` is exclusive**, as in hyperopt and numpy,
    /// so `randint("depth", 2, 17)` yields 2 to 16.
    pub fn randint(self, name: impl Into<String>, low: i64, high: i64) -> Self {
        self.with(name, Dist::RandInt { low, high })
    }

    /// A constant: always in the point, never searched.
    pub fn constant(self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.with(name, Dist::Const(value.into()))
    }

    /// One of `options`, each a plain value or a `(value, sub-space)` pair whose parameters
    /// are active only when that option is chosen. Points hold the chosen value, never its
    /// index.
    pub fn choice<O: Into<ChoiceOption>>(
        mut self,
        name: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> Self {
        self.specs.push((
            name.into(),
            Spec::Choice(options.into_iter().map(Into::into).collect()),
        ));
        self
    }

    /// Validates the declaration and builds the space.
    pub fn build(self) -> Result<Space, SpaceError> {
        let mut params = Vec::new();
        flatten(self, None, &mut params)?;
        for (i, p) in params.iter().enumerate() {
            check_unique(&p.name, params[..i].iter().map(|q| q.name.as_str()))?;
        }
        Ok(Space { params })
    }
}

fn flatten(
    builder: SpaceBuilder,
    parent: Option<Condition>,
    out: &mut Vec<Param>,
) -> Result<(), SpaceError> {
    for (name, spec) in builder.specs {
        match spec {
            Spec::Dist(dist) => {
                validate_param(&name, &dist)?;
                out.push(Param { name, dist, parent });
            }
            Spec::Choice(options) => {
                let index = out.len();
                let (values, subspaces): (Vec<Value>, Vec<SpaceBuilder>) =
                    options.into_iter().map(|o| (o.value, o.space)).unzip();
                let dist = Dist::Choice { options: values };
                validate_param(&name, &dist)?;
                out.push(Param { name, dist, parent });
                for (option, sub) in subspaces.into_iter().enumerate() {
                    flatten(
                        sub,
                        Some(Condition {
                            param: index,
                            option,
                        }),
                        out,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// Checks one parameter on its own: its name and its distribution (bounds, steps,
/// options). The single home of these rules, shared by [`SpaceBuilder::build`] and the
/// TOML/JSON schema, which calls it as it reads each parameter to report errors where they
/// are in the file.
pub(super) fn validate_param(name: &str, dist: &Dist) -> Result<(), SpaceError> {
    validate_name(name)?;
    validate_dist(name, dist)
}

/// Checks that `name` is not among the names declared before it, anywhere in the tree.
pub(super) fn check_unique<'a>(
    name: &str,
    earlier: impl IntoIterator<Item = &'a str>,
) -> Result<(), SpaceError> {
    if earlier.into_iter().any(|n| n == name) {
        return Err(SpaceError::DuplicateName {
            param: name.to_string(),
        });
    }
    Ok(())
}

/// Checks that a name can be logged as a tracking param (MLflow's key rules), so a space
/// that builds never fails later when its trials are recorded.
pub(super) fn validate_name(name: &str) -> Result<(), SpaceError> {
    let allowed = |c: char| c.is_alphanumeric() || "_-./: ".contains(c);
    if name.is_empty() || name.len() > 250 || !name.chars().all(allowed) {
        return Err(SpaceError::InvalidName {
            param: name.to_string(),
        });
    }
    Ok(())
}

fn validate_dist(name: &str, dist: &Dist) -> Result<(), SpaceError> {
    let param = || name.to_string();
    let kind = dist.kind();
    let finite = |field: &'static str, value: f64| {
        if value.is_finite() {
            Ok(())
        } else {
            Err(SpaceError::NotFinite {
                param: param(),
                field,
                value,
            })
        }
    };
    let range = |low: f64, high: f64| {
        finite("low", low)?;
        finite("high", high)?;
        if low >= high {
            Err(SpaceError::EmptyRange {
                param: param(),
                kind,
                low,
                high,
            })
        } else if (high - low).is_infinite() {
            Err(SpaceError::RangeTooWide {
                param: param(),
                kind,
                low,
                high,
            })
        } else {
            Ok(())
        }
    };
    let positive_low = |low: f64| {
        if low > 0.0 {
            Ok(())
        } else {
            Err(SpaceError::NonPositiveLogBound {
                param: param(),
                kind,
                low,
            })
        }
    };
    let step = |low: f64, high: f64, q: f64| {
        finite("q", q)?;
        if q <= 0.0 {
            return Err(SpaceError::NonPositiveStep {
                param: param(),
                kind,
                q,
            });
        }
        let (first, last) = Dist::grid_bounds(low, high, q);
        if first > last {
            return Err(SpaceError::EmptyGrid {
                param: param(),
                low,
                high,
                q,
            });
        }
        Ok(())
    };
    let gaussian = |mu: f64, sigma: f64| {
        finite("mu", mu)?;
        finite("sigma", sigma)?;
        if sigma > 0.0 {
            Ok(())
        } else {
            Err(SpaceError::NonPositiveSigma {
                param: param(),
                kind,
                sigma,
            })
        }
    };
    match *dist {
        Dist::Uniform { low, high } => range(low, high),
        Dist::LogUniform { low, high } => range(low, high).and_then(|()| positive_low(low)),
        Dist::QUniform { low, high, q } => range(low, high).and_then(|()| step(low, high, q)),
        Dist::QLogUniform { low, high, q } => range(low, high)
            .and_then(|()| positive_low(low))
            .and_then(|()| step(low, high, q)),
        Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => gaussian(mu, sigma),
        Dist::RandInt { low, high } => {
            if low < high {
                Ok(())
            } else {
                Err(SpaceError::EmptyRange {
                    param: param(),
                    kind,
                    low: low as f64,
                    high: high as f64,
                })
            }
        }
        Dist::Const(Value::Float(x)) => finite("value", x),
        Dist::Const(_) => Ok(()),
        Dist::Choice { ref options } => {
            if options.is_empty() {
                return Err(SpaceError::EmptyChoice { param: param() });
            }
            for (i, o) in options.iter().enumerate() {
                if let Value::Float(x) = *o {
                    finite("option", x)?;
                }
                // Numerically equal options (`2` and `2.0`) would be indistinguishable
                // once a point is encoded, so they count as duplicates too.
                if options[..i].iter().any(|p| p.same(o)) {
                    return Err(SpaceError::DuplicateOption {
                        param: param(),
                        value: o.clone(),
                    });
                }
            }
            Ok(())
        }
    }
}

/// Rebuilds the declaration of a space, so it can be nested as a sub-space.
impl From<&Space> for SpaceBuilder {
    fn from(space: &Space) -> Self {
        fn subtree(space: &Space, parent: Option<Condition>) -> SpaceBuilder {
            let specs = space
                .params
                .iter()
                .enumerate()
                .filter(|(_, p)| p.parent == parent)
                .map(|(i, p)| {
                    let spec = match &p.dist {
                        Dist::Choice { options } => Spec::Choice(
                            options
                                .iter()
                                .enumerate()
                                .map(|(option, v)| {
                                    ChoiceOption::new(
                                        v.clone(),
                                        subtree(space, Some(Condition { param: i, option })),
                                    )
                                })
                                .collect(),
                        ),
                        dist => Spec::Dist(dist.clone()),
                    };
                    (p.name.clone(), spec)
                })
                .collect();
            SpaceBuilder { specs }
        }
        subtree(space, None)
    }
}
