//! Built-in pruners from settings by name, as configs write them: a sweep's `[pruner]`
//! table and the Python package's `pruner={"kind": "asha", ...}` read through
//! [`PrunerSpec::from_settings`], which is the one place that knows which kind takes which
//! setting, of what type and in what range.

use std::fmt;

use super::{
    BracketWeights, Brackets, Hyperband, MaxResource, Median, MinResource, NoPruning, Patient,
    Percentile, Pruner, PrunerKind, SuccessiveHalving, Threshold, Wilcoxon,
};
use crate::suggest::did_you_mean;

/// The percentile a [`Percentile`] pruner keeps when none is given (configs).
pub const DEFAULT_PERCENTILE: f64 = 25.0;

/// A pruner setting, by the name configs write (`reduction_factor`): each name is spelled
/// here once, for the list of what a kind takes ([`PrunerSpec::settings`]), the reader that
/// applies it and the messages that name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// Percentile: keep trials within the best this percent (0 to 100) of the complete
    /// trials at each step.
    Percentile,
    /// Median and percentile: trials that complete before any is judged.
    StartupTrials,
    /// Median, percentile and threshold: steps before which a trial is never stopped.
    WarmupSteps,
    /// Median, percentile and threshold: judge once per this many steps.
    IntervalSteps,
    /// Median and percentile: complete trials that must have reported a step for it to be
    /// judged.
    MinTrials,
    /// Successive halving and Hyperband: the steps of the first rung.
    MinResource,
    /// Hyperband: the steps of a complete trial.
    MaxResource,
    /// Successive halving and Hyperband: how many trials a rung keeps one of (η).
    ReductionFactor,
    /// Successive halving: `s`, the first rung at `min_resource · η^s`.
    MinEarlyStoppingRate,
    /// Successive halving and Hyperband: values a rung must hold before any trial passes
    /// it.
    BootstrapCount,
    /// Hyperband: whether brackets share a rung's values ([`Brackets`]).
    Brackets,
    /// Hyperband: how new trials are shared out among brackets ([`BracketWeights`]).
    Weights,
    /// Wilcoxon: the p-value under which a trial is stopped.
    PThreshold,
    /// Wilcoxon: steps a trial must share with the best trial before it is judged.
    StartupSteps,
    /// Threshold: values below it stop a trial.
    Lower,
    /// Threshold: values above it stop a trial.
    Upper,
    /// Every kind but `none`: a patience wrapper, which lets the pruner stop a trial only
    /// when its best value over its last `patience + 1` steps is worse than its best
    /// before them ([`Patient`]).
    Patience,
    /// With `patience`: by how much more than this the recent best must be worse.
    MinDelta,
}

impl Setting {
    /// The name as configs write it (`"reduction_factor"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::Percentile => "percentile",
            Setting::StartupTrials => "startup_trials",
            Setting::WarmupSteps => "warmup_steps",
            Setting::IntervalSteps => "interval_steps",
            Setting::MinTrials => "min_trials",
            Setting::MinResource => "min_resource",
            Setting::MaxResource => "max_resource",
            Setting::ReductionFactor => "reduction_factor",
            Setting::MinEarlyStoppingRate => "min_early_stopping_rate",
            Setting::BootstrapCount => "bootstrap_count",
            Setting::Brackets => "brackets",
            Setting::Weights => "weights",
            Setting::PThreshold => "p_threshold",
            Setting::StartupSteps => "startup_steps",
            Setting::Lower => "lower",
            Setting::Upper => "upper",
            Setting::Patience => "patience",
            Setting::MinDelta => "min_delta",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    /// A whole number (`4`).
    Integer(i64),
    /// A number with a fraction or exponent (`0.25`).
    Number(f64),
    /// A string (`"shared"`).
    Text(String),
    /// A value of a type no setting takes, described as error messages show it (`an
    /// array`, `boolean true`).
    Other(String),
}

impl fmt::Display for SettingValue {
    /// As error messages describe it: `integer 3`, `float 0.5`, `string "x"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Integer(i) => write!(f, "integer {i}"),
            SettingValue::Number(x) => write!(f, "float {x:?}"),
            SettingValue::Text(s) => write!(f, "string {s:?}"),
            SettingValue::Other(found) => f.write_str(found),
        }
    }
}

impl SettingValue {
    /// As a config writes it: `3`, `0.5`, `"shared"`.
    pub fn as_written(&self) -> String {
        match self {
            SettingValue::Integer(i) => i.to_string(),
            SettingValue::Number(x) => format!("{x:?}"),
            SettingValue::Text(s) => format!("{s:?}"),
            SettingValue::Other(found) => found.clone(),
        }
    }
}

/// A setting that cannot be taken: which one and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingError {
    /// The kind takes no setting of that name.
    #[error(
        "pruner of kind \"{kind}\" has no setting `{key}`; it takes {}{}",
        list(&accepted.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
    )]
    Unknown {
        /// The setting as written.
        key: String,
        /// The pruner's kind.
        kind: PrunerKind,
        /// The settings that kind takes.
        accepted: &'static [Setting],
        /// The closest of them, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A value of a type the setting does not take.
    #[error("pruner setting `{key}` must be {expected}, found {found}")]
    WrongType {
        /// The setting.
        key: Setting,
        /// What it takes.
        expected: &'static str,
        /// What was found.
        found: SettingValue,
    },
    /// A value of the right type out of range, or a word the setting does not know.
    #[error(
        "pruner setting `{key}` = {found} is not valid: expected {expected}{}",
        suggestion.map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
    )]
    Invalid {
        /// The setting.
        key: Setting,
        /// What was found, as written (`0`, `"apart"`).
        found: String,
        /// What it takes.
        expected: String,
        /// The closest known word, if one is close.
        suggestion: Option<&'static str>,
    },
}

impl SettingError {
    /// The setting the error is about, as written.
    pub fn key(&self) -> &str {
        match self {
            SettingError::Unknown { key, .. } => key,
            SettingError::WrongType { key, .. } | SettingError::Invalid { key, .. } => key.as_str(),
        }
    }
}

/// `a`, `a` or `b`, `a`, `b` or `c`: names in backquotes.
fn list(names: &[&str]) -> String {
    match names {
        [] => "no settings".to_string(),
        [only] => format!("`{only}`"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("`{n}`")).collect();
            format!("{} or `{last}`", init.join(", "))
        }
    }
}

/// A built-in pruner with its settings, optionally behind a patience wrapper: what a
/// config names. [`build`](PrunerSpec::build) makes the pruner a study takes; it displays
/// as a config writes it, the kind and the settings given (`asha (reduction_factor = 3)`).
///
/// ```
/// use hyperflow::prune::{PrunerKind, PrunerSpec, SettingValue};
///
/// let spec = PrunerSpec::from_settings(
///     PrunerKind::Asha,
///     [("reduction_factor", SettingValue::Integer(3))],
/// )
/// .unwrap();
/// assert_eq!(spec.kind(), PrunerKind::Asha);
/// assert_eq!(spec.to_string(), "asha (reduction_factor = 3)");
/// let too_small = [("reduction_factor", SettingValue::Integer(1))];
/// let e = PrunerSpec::from_settings(PrunerKind::Asha, too_small).unwrap_err();
/// assert!(e.to_string().contains("expected an integer >= 2"));
/// ```
#[derive(Debug, Clone)]
pub struct PrunerSpec {
    pruner: Builtin,
    /// `patience` and `min_delta`, when a patience wrapper goes around the pruner.
    patience: Option<(usize, f64)>,
    /// The settings given, in the order first given, each name once.
    given: Given,
}

/// A built-in pruner with its settings.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    None,
    Median(Median),
    Percentile(Percentile),
    Asha(SuccessiveHalving),
    Hyperband(Hyperband),
    Wilcoxon(Wilcoxon),
    Threshold(Threshold),
}

/// The settings every kind but `none` takes: a patience wrapper.
const PATIENCE: [Setting; 2] = [Setting::Patience, Setting::MinDelta];

impl PrunerSpec {
    /// The key that names the kind where a config writes a pruner with its settings (a
    /// sweep's `[pruner]` table, the Python package's `pruner={"kind": ...}` dict).
    pub const KIND: &str = "kind";

    /// The pruner of `kind` with its defaults (optuna's; a percentile pruner keeps the
    /// best [`DEFAULT_PERCENTILE`] %).
    pub fn new(kind: PrunerKind) -> Self {
        let pruner = match kind {
            PrunerKind::None => Builtin::None,
            PrunerKind::Median => Builtin::Median(Median::new()),
            PrunerKind::Percentile => Builtin::Percentile(Percentile::new(DEFAULT_PERCENTILE)),
            PrunerKind::Asha => Builtin::Asha(SuccessiveHalving::new()),
            PrunerKind::Hyperband => Builtin::Hyperband(Hyperband::new()),
            PrunerKind::Wilcoxon => Builtin::Wilcoxon(Wilcoxon::new()),
            PrunerKind::Threshold => Builtin::Threshold(Threshold::new()),
        };
        PrunerSpec {
            pruner,
            patience: None,
            given: Given::default(),
        }
    }

    /// The settings `kind` takes.
    pub fn settings(kind: PrunerKind) -> &'static [Setting] {
        use Setting::*;
        macro_rules! with_patience {
            ($($k:expr),*) => {{
                const KEYS: &[Setting] = &[$($k,)* PATIENCE[0], PATIENCE[1]];
                KEYS
            }};
        }
        match kind {
            PrunerKind::None => &[],
            PrunerKind::Median => {
                with_patience!(StartupTrials, WarmupSteps, IntervalSteps, MinTrials)
            }
            PrunerKind::Percentile => with_patience!(
                Percentile,
                StartupTrials,
                WarmupSteps,
                IntervalSteps,
                MinTrials
            ),
            PrunerKind::Asha => with_patience!(
                MinResource,
                ReductionFactor,
                MinEarlyStoppingRate,
                BootstrapCount
            ),
            PrunerKind::Hyperband => with_patience!(
                MinResource,
                MaxResource,
                ReductionFactor,
                BootstrapCount,
                Brackets,
                Weights
            ),
            PrunerKind::Wilcoxon => with_patience!(PThreshold, StartupSteps),
            PrunerKind::Threshold => with_patience!(Lower, Upper, WarmupSteps, IntervalSteps),
        }
    }

    /// The pruner of `kind` with `settings` over its defaults: every setting one that kind
    /// takes ([`settings`](PrunerSpec::settings)), of its type and in its range. A later
    /// setting of the same name wins.
    pub fn from_settings<K: AsRef<str>>(
        kind: PrunerKind,
        settings: impl IntoIterator<Item = (K, SettingValue)>,
    ) -> Result<Self, SettingError> {
        let accepted = Self::settings(kind);
        let mut given = Given::default();
        for (key, value) in settings {
            let key = key.as_ref();
            let Some(&name) = accepted.iter().find(|k| k.as_str() == key) else {
                return Err(SettingError::Unknown {
                    key: key.to_string(),
                    kind,
                    accepted,
                    suggestion: did_you_mean(key, accepted.iter().map(|k| k.as_str())),
                });
            };
            match given.0.iter_mut().find(|(k, _)| *k == name) {
                Some((_, earlier)) => *earlier = value,
                None => given.0.push((name, value)),
            }
        }
        let mut spec = Self::new(kind);
        let warmup = given.integer(Setting::WarmupSteps, 0)?;
        let interval = given.integer(Setting::IntervalSteps, 1)?;
        let schedule = |p: Percentile| -> Result<Percentile, SettingError> {
            let mut p = p;
            if let Some(n) = given.count(Setting::StartupTrials)? {
                p = p.startup_trials(n);
            }
            if let Some(n) = warmup {
                p = p.warmup_steps(n);
            }
            if let Some(n) = interval {
                p = p.interval_steps(n);
            }
            if let Some(n) = given.count(Setting::MinTrials)? {
                p = p.min_trials(n);
            }
            Ok(p)
        };
        spec.pruner = match spec.pruner {
            Builtin::None => Builtin::None,
            Builtin::Median(p) => Builtin::Median(p.try_with(schedule)?),
            Builtin::Percentile(_) => {
                let at = given.number(
                    Setting::Percentile,
                    |p| (0.0..=100.0).contains(&p),
                    "a number from 0 to 100",
                )?;
                Builtin::Percentile(schedule(Percentile::new(at.unwrap_or(DEFAULT_PERCENTILE)))?)
            }
            Builtin::Asha(mut p) => {
                if let Some(n) = given.integer(Setting::MinResource, 1)? {
                    p = p.min_resource(MinResource::Steps(n));
                }
                if let Some(n) = given.integer(Setting::ReductionFactor, 2)? {
                    p = p.reduction_factor(n);
                }
                if let Some(s) = given.integer(Setting::MinEarlyStoppingRate, 0)? {
                    let s = u32::try_from(s).map_err(|_| SettingError::Invalid {
                        key: Setting::MinEarlyStoppingRate,
                        found: s.to_string(),
                        expected: format!("an integer from 0 to {}", u32::MAX),
                        suggestion: None,
                    })?;
                    p = p.min_early_stopping_rate(s);
                }
                if let Some(n) = given.count(Setting::BootstrapCount)? {
                    p = p.bootstrap_count(n);
                }
                Builtin::Asha(p)
            }
            Builtin::Hyperband(mut p) => {
                let min = given.integer(Setting::MinResource, 1)?;
                if let Some(n) = min {
                    p = p.min_resource(n);
                }
                if let Some(n) = given.integer(Setting::MaxResource, 1)? {
                    if let Some(min) = min.filter(|&min| n < min) {
                        return Err(SettingError::Invalid {
                            key: Setting::MaxResource,
                            found: n.to_string(),
                            expected: format!("an integer >= `min_resource` ({min})"),
                            suggestion: None,
                        });
                    }
                    p = p.max_resource(MaxResource::Steps(n));
                }
                if let Some(n) = given.integer(Setting::ReductionFactor, 2)? {
                    p = p.reduction_factor(n);
                }
                if let Some(n) = given.count(Setting::BootstrapCount)? {
                    p = p.bootstrap_count(n);
                }
                let names = Brackets::ALL.map(Brackets::as_str);
                if let Some(i) = given.keyword(Setting::Brackets, &names)? {
                    p = p.brackets(Brackets::ALL[i]);
                }
                let names = BracketWeights::ALL.map(BracketWeights::as_str);
                if let Some(i) = given.keyword(Setting::Weights, &names)? {
                    p = p.weights(BracketWeights::ALL[i]);
                }
                Builtin::Hyperband(p)
            }
            Builtin::Wilcoxon(mut p) => {
                let probability = |p: f64| p > 0.0 && p < 1.0;
                if let Some(x) = given.number(
                    Setting::PThreshold,
                    probability,
                    "a probability between 0 and 1",
                )? {
                    p = p.p_threshold(x);
                }
                if let Some(n) = given.count(Setting::StartupSteps)? {
                    p = p.startup_steps(n);
                }
                Builtin::Wilcoxon(p)
            }
            Builtin::Threshold(mut p) => {
                let not_nan = |x: f64| !x.is_nan();
                let lower = given.number(Setting::Lower, not_nan, "a number")?;
                if let Some(x) = lower {
                    p = p.lower(x);
                }
                // Above the lower bound, or every value would be stopped.
                let above = |x: f64| !x.is_nan() && lower.is_none_or(|l| x > l);
                let expected = match lower {
                    Some(l) => format!("a number above `lower` ({l:?})"),
                    None => "a number".to_string(),
                };
                if let Some(x) = given.number(Setting::Upper, above, &expected)? {
                    p = p.upper(x);
                }
                if let Some(n) = warmup {
                    p = p.warmup_steps(n);
                }
                if let Some(n) = interval {
                    p = p.interval_steps(n);
                }
                Builtin::Threshold(p)
            }
        };
        let finite = |d: f64| d >= 0.0 && d.is_finite();
        spec.patience = match given.count(Setting::Patience)? {
            Some(n) => Some((
                n,
                given
                    .number(Setting::MinDelta, finite, "a number >= 0")?
                    .unwrap_or(0.0),
            )),
            None => match given.get(Setting::MinDelta) {
                Some(found) => {
                    return Err(SettingError::Invalid {
                        key: Setting::MinDelta,
                        found: found.as_written(),
                        expected: "`patience` to be set too (min_delta applies to a patience \
                                   wrapper)"
                            .to_string(),
                        suggestion: None,
                    });
                }
                None => None,
            },
        };
        spec.given = given;
        Ok(spec)
    }

    /// The settings given, as written, in the order first given (a later setting of the
    /// same name replaced the earlier one's value).
    pub fn given(&self) -> impl Iterator<Item = (Setting, &SettingValue)> {
        self.given.0.iter().map(|(k, v)| (*k, v))
    }

    /// The kind of pruner.
    pub fn kind(&self) -> PrunerKind {
        match self.pruner {
            Builtin::None => PrunerKind::None,
            Builtin::Median(_) => PrunerKind::Median,
            Builtin::Percentile(_) => PrunerKind::Percentile,
            Builtin::Asha(_) => PrunerKind::Asha,
            Builtin::Hyperband(_) => PrunerKind::Hyperband,
            Builtin::Wilcoxon(_) => PrunerKind::Wilcoxon,
            Builtin::Threshold(_) => PrunerKind::Threshold,
        }
    }

    /// The pruner, ready for a study.
    pub fn build(&self) -> Box<dyn Pruner> {
        let inner: Box<dyn Pruner> = match self.pruner {
            Builtin::None => Box::new(NoPruning),
            Builtin::Median(p) => Box::new(p),
            Builtin::Percentile(p) => Box::new(p),
            Builtin::Asha(p) => Box::new(p),
            Builtin::Hyperband(p) => Box::new(p),
            Builtin::Wilcoxon(p) => Box::new(p),
            Builtin::Threshold(p) => Box::new(p),
        };
        match self.patience {
            Some((patience, min_delta)) => Box::new(
                Patient::new(patience)
                    .min_delta(min_delta)
                    .wrap_boxed(inner),
            ),
            None => inner,
        }
    }
}

impl fmt::Display for PrunerSpec {
    /// The kind, then the settings given (`hyperband (brackets = "separate")`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind().as_str())?;
        let mut given = self.given();
        if let Some((key, value)) = given.next() {
            write!(f, " ({key} = {}", value.as_written())?;
            for (key, value) in given {
                write!(f, ", {key} = {}", value.as_written())?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The settings given, each name once, checked as they are read.
#[derive(Debug, Clone, Default)]
struct Given(Vec<(Setting, SettingValue)>);

impl Given {
    fn get(&self, key: Setting) -> Option<&SettingValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// An integer of at least `min`.
    fn integer(&self, key: Setting, min: u64) -> Result<Option<u64>, SettingError> {
        let expected = if min == 0 {
            "an integer >= 0"
        } else {
            "a positive integer"
        };
        match self.get(key) {
            None => Ok(None),
            Some(&SettingValue::Integer(i)) => match u64::try_from(i) {
                Ok(n) if n >= min => Ok(Some(n)),
                _ => Err(SettingError::Invalid {
                    key,
                    found: i.to_string(),
                    expected: format!("an integer >= {min}"),
                    suggestion: None,
                }),
            },
            Some(found) => Err(SettingError::WrongType {
                key,
                expected,
                found: found.clone(),
            }),
        }
    }

    /// A count (an integer >= 0).
    fn count(&self, key: Setting) -> Result<Option<usize>, SettingError> {
        Ok(self
            .integer(key, 0)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)))
    }

    /// A number (an integer is one too) for which `ok` holds.
    fn number(
        &self,
        key: Setting,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Result<Option<f64>, SettingError> {
        let x = match self.get(key) {
            None => return Ok(None),
            Some(&SettingValue::Number(x)) => x,
            Some(&SettingValue::Integer(i)) => i as f64,
            Some(found) => {
                return Err(SettingError::WrongType {
                    key,
                    expected: "a number",
                    found: found.clone(),
                });
            }
        };
        if ok(x) {
            Ok(Some(x))
        } else {
            Err(SettingError::Invalid {
                key,
                found: format!("{x:?}"),
                expected: expected.to_string(),
                suggestion: None,
            })
        }
    }

    /// One of `words`; its index.
    fn keyword(&self, key: Setting, words: &[&'static str]) -> Result<Option<usize>, SettingError> {
        match self.get(key) {
            None => Ok(None),
            Some(SettingValue::Text(word)) => match words.iter().position(|w| w == word) {
                Some(i) => Ok(Some(i)),
                None => Err(SettingError::Invalid {
                    key,
                    found: format!("{word:?}"),
                    expected: format!("{} (a string)", list(words)),
                    suggestion: did_you_mean(word, words.iter().copied()),
                }),
            },
            Some(found) => Err(SettingError::WrongType {
                key,
                expected: "a string",
                found: found.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        kind: PrunerKind,
        settings: &[(&str, SettingValue)],
    ) -> Result<PrunerSpec, SettingError> {
        PrunerSpec::from_settings(kind, settings.iter().cloned())
    }

    #[test]
    fn every_kind_builds_with_its_defaults_and_names_itself() {
        for kind in PrunerKind::ALL {
            let spec = spec(kind, &[]).unwrap();
            assert_eq!(spec.kind(), kind);
            let expected = if kind == PrunerKind::None {
                "none"
            } else {
                kind.as_str()
            };
            assert_eq!(spec.build().name(), expected, "{kind}");
        }
    }

    #[test]
    fn settings_reach_the_pruner_and_show_as_written() {
        use SettingValue::{Integer, Number, Text};
        let asha = spec(
            PrunerKind::Asha,
            &[
                ("reduction_factor", Integer(3)),
                ("min_resource", Integer(2)),
                ("min_early_stopping_rate", Integer(1)),
            ],
        )
        .unwrap();
        assert_eq!(
            asha.to_string(),
            "asha (reduction_factor = 3, min_resource = 2, min_early_stopping_rate = 1)"
        );
        assert_eq!(
            format!("{:?}", asha.pruner),
            format!(
                "{:?}",
                Builtin::Asha(
                    SuccessiveHalving::new()
                        .reduction_factor(3)
                        .min_resource(MinResource::Steps(2))
                        .min_early_stopping_rate(1)
                )
            )
        );
        let hyperband = spec(
            PrunerKind::Hyperband,
            &[
                ("brackets", Text("separate".into())),
                ("weights", Text("budgets".into())),
            ],
        )
        .unwrap();
        assert_eq!(
            hyperband.to_string(),
            r#"hyperband (brackets = "separate", weights = "budgets")"#
        );
        assert_eq!(
            format!("{:?}", hyperband.pruner),
            format!(
                "{:?}",
                Builtin::Hyperband(
                    Hyperband::new()
                        .brackets(Brackets::Separate)
                        .weights(BracketWeights::Budgets)
                )
            )
        );
        // An integer is a number; the later of two settings of one name wins.
        let threshold = spec(
            PrunerKind::Threshold,
            &[
                ("upper", Integer(2)),
                ("patience", Integer(3)),
                ("upper", Number(1.5)),
            ],
        )
        .unwrap();
        assert_eq!(
            threshold.to_string(),
            "threshold (upper = 1.5, patience = 3)"
        );
        assert_eq!(
            format!("{:?}", threshold.pruner),
            format!("{:?}", Builtin::Threshold(Threshold::new().upper(1.5)))
        );
        assert_eq!(threshold.patience, Some((3, 0.0)));
        assert_eq!(
            spec(PrunerKind::Percentile, &[]).unwrap().to_string(),
            "percentile"
        );
        assert_eq!(PrunerSpec::new(PrunerKind::None).to_string(), "none");
    }

    #[test]
    fn every_setting_a_kind_takes_is_read() {
        // A value of a type no setting takes is an error where the setting is read, so a
        // setting a kind lists and no reader applies would pass here silently.
        let array = || SettingValue::Other("an array".into());
        for kind in PrunerKind::ALL {
            for &setting in PrunerSpec::settings(kind) {
                let mut given = vec![(setting.as_str(), array())];
                if setting == Setting::MinDelta {
                    given.insert(0, (Setting::Patience.as_str(), SettingValue::Integer(1)));
                }
                let e = spec(kind, &given).unwrap_err();
                assert!(
                    matches!(e, SettingError::WrongType { key, .. } if key == setting),
                    "{kind} {setting}: {e}"
                );
            }
        }
    }

    #[test]
    fn bad_settings_say_which_what_and_what_is_taken() {
        use SettingValue::{Integer, Number, Other, Text};
        // (kind, the one setting given, what the error says)
        let cases = [
            (
                PrunerKind::Asha,
                ("reduction_factr", Integer(3)),
                "pruner of kind \"asha\" has no setting `reduction_factr`; it takes `min_resource`, \
                 `reduction_factor`, `min_early_stopping_rate`, `bootstrap_count`, `patience` or \
                 `min_delta`; did you mean `reduction_factor`?",
            ),
            (
                PrunerKind::Asha,
                ("brackets", Text("separate".into())),
                "has no setting `brackets`",
            ),
            (
                PrunerKind::None,
                ("patience", Integer(2)),
                "it takes no settings",
            ),
            (
                PrunerKind::Asha,
                ("reduction_factor", Integer(1)),
                "`reduction_factor` = 1 is not valid: expected an integer >= 2",
            ),
            (
                PrunerKind::Median,
                ("startup_trials", Integer(-1)),
                "expected an integer >= 0",
            ),
            (
                PrunerKind::Median,
                ("startup_trials", Number(2.5)),
                "`startup_trials` must be an integer >= 0, found float 2.5",
            ),
            (
                PrunerKind::Hyperband,
                ("brackets", Text("seperate".into())),
                "expected `shared` or `separate` (a string); did you mean `separate`?",
            ),
            (
                PrunerKind::Hyperband,
                ("weights", Integer(1)),
                "`weights` must be a string, found integer 1",
            ),
            (
                PrunerKind::Wilcoxon,
                ("p_threshold", Number(1.0)),
                "expected a probability between 0 and 1",
            ),
            (
                PrunerKind::Percentile,
                ("percentile", Other("boolean true".into())),
                "`percentile` must be a number, found boolean true",
            ),
            (
                PrunerKind::Threshold,
                ("lower", Number(f64::NAN)),
                "expected a number",
            ),
            (
                PrunerKind::Median,
                ("min_delta", Number(0.1)),
                "`min_delta` = 0.1 is not valid: expected `patience` to be set too",
            ),
            (
                PrunerKind::Percentile,
                ("percentile", Number(1e300)),
                "`percentile` = 1e300 is not valid: expected a number from 0 to 100",
            ),
        ];
        for (kind, (key, value), text) in cases {
            let e = spec(kind, &[(key, value.clone())]).unwrap_err();
            assert_eq!(e.key(), key);
            assert!(e.to_string().contains(text), "{kind} {key} {value:?}: {e}");
        }
        let e = spec(
            PrunerKind::Median,
            &[("patience", Integer(2)), ("min_delta", Number(-1.0))],
        )
        .unwrap_err();
        assert!(e.to_string().contains("expected a number >= 0"), "{e}");
        // Settings that contradict each other: the second is the one in error.
        let e = spec(
            PrunerKind::Threshold,
            &[("lower", Number(3.0)), ("upper", Integer(1))],
        )
        .unwrap_err();
        assert_eq!(e.key(), "upper");
        assert!(
            e.to_string()
                .contains("`upper` = 1.0 is not valid: expected a number above `lower` (3.0)"),
            "{e}"
        );
        let e = spec(
            PrunerKind::Hyperband,
            &[("max_resource", Integer(5)), ("min_resource", Integer(10))],
        )
        .unwrap_err();
        assert_eq!(e.key(), "max_resource");
        assert!(
            e.to_string().contains(
                "`max_resource` = 5 is not valid: expected an integer >= `min_resource` (10)"
            ),
            "{e}"
        );
    }
}
