//! `hyperflow._native`: hyperflow's spaces, studies (ask and tell, pruning, tracking) and
//! samplers for Python. The pure-Python package `hyperflow` (hyperopt's API, the optuna
//! sampler) is written over this module; `_native.pyi` beside it types it.
//!
//! The engine runs with the GIL released (`Python::detach`): other Python threads go on
//! while a study asks, tells or writes to its store.

use std::sync::{Mutex, MutexGuard};

use hyperflow::algo::{self, Sampler, Tpe};
use hyperflow::fmin::Outcome;
use hyperflow::prune::{PrunerKind, PrunerSpec, SettingValue};
use hyperflow::space::SchemaError;
use hyperflow::study::{StopReason, StudyError, Tracking};
use hyperflow::tracking::Tracker;
use hyperflow::tracking::schema::{self, SearchSettings};
use hyperflow::trials::{Direction, Trial as EngineTrial, TrialState, Trials};
use hyperflow::{AskedTrial, Point, PointError, Value};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

create_exception!(
    _native,
    TrackingError,
    PyException,
    "A tracking store could not be opened, read or written."
);

/// The Python exception for a study's error: what the caller gave (a point, a trial, a
/// sampler's space) is a `ValueError`; a failing store is a `TrackingError`. The message
/// is the engine's.
fn study_error(e: StudyError) -> PyErr {
    match e {
        StudyError::Store { .. } => TrackingError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn schema_error(e: SchemaError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn point_error(e: PointError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Whether `obj` is a bool, Python's or numpy's (`numpy.bool_` is no `int`, but converts
/// to one and to a float, so it would pass for a number).
fn is_bool(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyBool>()
        || obj
            .get_type()
            .name()
            .is_ok_and(|n| n.to_str().is_ok_and(|n| n == "bool" || n == "bool_"))
}

/// A whole-number argument that must fit `T` (`seed`, `budget`, a trial number): a
/// `ValueError` naming it for a negative or too large one, where pyo3's own conversion
/// raises an `OverflowError` that names no argument.
fn unsigned<T: TryFrom<i128>>(what: &str, value: i128) -> PyResult<T> {
    T::try_from(value).map_err(|_| {
        let max = u128::MAX >> (128 - 8 * std::mem::size_of::<T>());
        let wanted = if value < 0 {
            ">= 0".to_string()
        } else {
            format!("<= {max}")
        };
        PyValueError::new_err(format!("{what} must be an integer {wanted}, got {value}"))
    })
}

/// A Python scalar as a point value (bools first: Python's is a subclass of `int`).
fn value_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if is_bool(obj) {
        Ok(Value::Bool(obj.is_truthy()?))
    } else if obj.is_instance_of::<PyInt>() {
        Ok(Value::Int(obj.extract()?))
    } else if obj.is_instance_of::<PyFloat>() {
        Ok(Value::Float(obj.extract()?))
    } else if obj.is_instance_of::<PyString>() {
        Ok(Value::Str(obj.extract()?))
    } else if let Ok(x) = obj.extract::<f64>() {
        // numpy scalars and other numbers.
        Ok(Value::Float(x))
    } else {
        Err(PyTypeError::new_err(format!(
            "a parameter value must be a bool, int, float or str, not {}",
            type_name(obj)
        )))
    }
}

fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(x) => x.into_pyobject(py)?.into_any(),
        Value::Str(s) => s.into_pyobject(py)?.into_any(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
    })
}

fn point_to_py<'py>(py: Python<'py>, point: &Point) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in point.iter() {
        dict.set_item(name, value_to_py(py, value)?)?;
    }
    Ok(dict)
}

fn point_from_py(params: &Bound<'_, PyDict>) -> PyResult<Point> {
    let mut entries = Vec::with_capacity(params.len());
    for (name, value) in params.iter() {
        entries.push((name.extract::<String>()?, value_from_py(&value)?));
    }
    Ok(Point::from_entries(entries))
}

fn direction(name: &str) -> PyResult<Direction> {
    let [min, max] = [Direction::Minimize, Direction::Maximize];
    [min, max]
        .into_iter()
        .find(|d| d.as_str() == name)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "unknown direction {name:?}: expected {:?} or {:?}",
                min.as_str(),
                max.as_str()
            ))
        })
}

/// The sampler called `name`; `n_startup` sets how many random trials TPE (alone or
/// in `auto`) starts with.
fn sampler(name: &str, n_startup: Option<usize>) -> PyResult<Box<dyn Sampler>> {
    match (name.trim().to_ascii_lowercase().as_str(), n_startup) {
        ("tpe", Some(n)) => Ok(Box::new(Tpe::default().n_startup(n))),
        (_, Some(_)) => Err(PyValueError::new_err(format!(
            "n_startup is a setting of the \"tpe\" sampler, not of {name:?}"
        ))),
        _ => algo::by_name(name).map_err(|e| PyValueError::new_err(e.to_string())),
    }
}

/// The pruner `spec` names: a kind (`"asha"`) with its defaults, or a dict of a kind and
/// its settings (`{"kind": "asha", "reduction_factor": 3}`: the keys of a sweep's
/// `[pruner]` table but `grace`), checked by [`PrunerSpec::from_settings`].
fn pruner(spec: &Bound<'_, PyAny>) -> PyResult<PrunerSpec> {
    if let Ok(name) = spec.extract::<String>() {
        return Ok(PrunerSpec::new(named::<PrunerKind>(&name)?));
    }
    let settings = spec.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "pruner must be a name (\"asha\") or a dict of a kind and its settings \
             ({{\"kind\": \"asha\", \"reduction_factor\": 3}}), not {}",
            type_name(spec)
        ))
    })?;
    let mut kind = None;
    let mut given = Vec::new();
    for (key, value) in settings.iter() {
        let key: String = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "pruner settings are named by strings, not {}",
                type_name(&key)
            ))
        })?;
        if key == PrunerSpec::KIND {
            let name: String = value.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "the pruner's {:?} must be a string, not {}",
                    PrunerSpec::KIND,
                    type_name(&value)
                ))
            })?;
            kind = Some(named::<PrunerKind>(&name)?);
        } else {
            given.push((key, setting_from_py(&value)));
        }
    }
    let kind = kind.ok_or_else(|| {
        PyValueError::new_err(format!(
            "the pruner dict has no {:?}: add one of {}",
            PrunerSpec::KIND,
            PrunerKind::listed()
        ))
    })?;
    PrunerSpec::from_settings(kind, given).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// What `name` names (a pruner kind, a trial state, a stop reason: the engine's `FromStr`),
/// else a `ValueError` with the engine's message.
fn named<T: std::str::FromStr>(name: &str) -> PyResult<T>
where
    T::Err: std::fmt::Display,
{
    name.parse()
        .map_err(|e: T::Err| PyValueError::new_err(e.to_string()))
}

/// A pruner setting's value (`bool` first: it is a subclass of `int`; integers, numpy's
/// too, before floats).
fn setting_from_py(obj: &Bound<'_, PyAny>) -> SettingValue {
    if is_bool(obj) {
        SettingValue::Other(format!("bool {obj}"))
    } else if obj.is_instance_of::<PyString>() {
        obj.extract()
            .map_or_else(|_| other_setting(obj), SettingValue::Text)
    } else if obj.is_instance_of::<PyInt>() {
        obj.extract().map_or_else(
            |_| SettingValue::Other(format!("int {obj} (beyond 64 bits)")),
            SettingValue::Integer,
        )
    } else if !obj.is_instance_of::<PyFloat>()
        && let Ok(i) = obj.extract::<i64>()
    {
        SettingValue::Integer(i)
    } else if let Ok(x) = obj.extract::<f64>() {
        SettingValue::Number(x)
    } else {
        other_setting(obj)
    }
}

fn other_setting(obj: &Bound<'_, PyAny>) -> SettingValue {
    SettingValue::Other(format!("{} {obj}", type_name(obj)))
}

/// `repr(obj)`, for messages.
fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map_or_else(|_| "?".to_string(), |r| r.to_string())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an object".to_string(), |n| n.to_string())
}

/// `json.dumps`'s `default` for a space dict: a numpy scalar as the Python number it
/// holds (`.item()`), else a `TypeError` saying what a space holds.
#[pyfunction]
fn json_default<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.hasattr("item")? {
        return obj.call_method0("item");
    }
    Err(PyTypeError::new_err(format!(
        "a space holds numbers, strings, bools, lists and dicts, not {} {}",
        type_name(obj),
        repr(obj)
    )))
}

/// A search space: the TOML/JSON schema of hyperflow's spaces (bounds in value space,
/// `choice` options with conditional sub-spaces, `randint`'s `high` exclusive).
#[pyclass(frozen, module = "hyperflow._native", name = "Space")]
#[derive(Clone)]
struct PySpace {
    inner: hyperflow::Space,
}

#[pymethods]
impl PySpace {
    /// A space from a dict written as the TOML/JSON schema
    /// (`{"lr": {"kind": "loguniform", "low": 1e-5, "high": 0.1}, ...}`).
    #[new]
    fn new(py: Python<'_>, spec: &Bound<'_, PyDict>) -> PyResult<Self> {
        // numpy scalars become Python numbers; NaN and infinities, which JSON cannot
        // hold, are refused here rather than as a parse error in text the user never wrote.
        let numpy = wrap_pyfunction!(json_default, py)?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("default", numpy)?;
        kwargs.set_item("allow_nan", false)?;
        let text: String = match py
            .import("json")?
            .call_method("dumps", (spec,), Some(&kwargs))
        {
            Ok(text) => text.extract()?,
            Err(e) if e.is_instance_of::<PyValueError>(py) => {
                return Err(PyValueError::new_err(format!(
                    "a space's numbers must be finite: it holds a NaN or an infinity ({})",
                    e.value(py)
                )));
            }
            Err(e) => return Err(e),
        };
        PySpace::from_json_str(&text)
    }

    /// A space from a JSON text.
    #[staticmethod]
    fn from_json_str(text: &str) -> PyResult<Self> {
        let inner = hyperflow::Space::from_json_str(text).map_err(schema_error)?;
        Ok(PySpace { inner })
    }

    /// A space from a TOML text.
    #[staticmethod]
    fn from_toml_str(text: &str) -> PyResult<Self> {
        let inner = hyperflow::Space::from_toml_str(text).map_err(schema_error)?;
        Ok(PySpace { inner })
    }

    /// A space from a `.toml` file.
    #[staticmethod]
    fn from_toml(path: std::path::PathBuf) -> PyResult<Self> {
        PySpace::from_path(path)
    }

    /// A space from a `.json` file.
    #[staticmethod]
    fn from_json(path: std::path::PathBuf) -> PyResult<Self> {
        PySpace::from_path(path)
    }

    /// A space from a `.toml` or `.json` file (by its extension).
    #[staticmethod]
    fn from_path(path: std::path::PathBuf) -> PyResult<Self> {
        let inner = hyperflow::Space::from_path(path).map_err(schema_error)?;
        Ok(PySpace { inner })
    }

    /// The parameters' names, parents before their conditional children.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.params().iter().map(|p| p.name.clone()).collect()
    }

    /// Each parameter as a dict: `name`, `kind`, `log`, and for a conditional one the
    /// choice (`parent`) and option value (`active_under`) it depends on.
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for (i, p) in self.inner.params().iter().enumerate() {
            let dict = PyDict::new(py);
            dict.set_item("name", &p.name)?;
            dict.set_item("kind", p.dist.kind())?;
            dict.set_item("log", p.dist.is_log())?;
            if let Some((parent, option)) = self.inner.active_under(i) {
                dict.set_item("parent", parent)?;
                dict.set_item("active_under", value_to_py(py, option)?)?;
            }
            list.append(dict)?;
        }
        Ok(list)
    }

    /// The space as JSON text (the schema it was read from).
    fn to_json(&self) -> String {
        self.inner.to_json_string()
    }

    /// The space as TOML text.
    fn to_toml(&self) -> String {
        self.inner.to_toml_string()
    }

    /// Checks a point (a dict of values) against the space; returns it without the
    /// parameters inactive under its choices. Raises `ValueError` with the engine's
    /// message when it does not fit.
    fn check<'py>(
        &self,
        py: Python<'py>,
        point: &Bound<'py, PyDict>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let point = point_from_py(point)?;
        let x = self.inner.encode(&point).map_err(point_error)?;
        point_to_py(py, &self.inner.decode(&x))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("Space({})", self.inner.to_json_string())
    }
}

/// A trial handed out by `Study.ask()`: its number and point; report intermediate values
/// to the study's pruner while it runs, then hand it to `Study.tell`.
#[pyclass(frozen, module = "hyperflow._native", name = "Trial")]
struct PyTrial {
    asked: AskedTrial,
    params: Py<PyDict>,
}

#[pymethods]
impl PyTrial {
    /// The trial's number, from 0.
    #[getter]
    fn number(&self) -> usize {
        self.asked.number()
    }

    /// The point to evaluate: values by name (choices as their option values; inactive
    /// conditional parameters absent).
    #[getter]
    fn params(&self, py: Python<'_>) -> Py<PyDict> {
        self.params.clone_ref(py)
    }

    /// The trial's tracking run id, when the study is tracked.
    #[getter]
    fn run_id(&self) -> Option<String> {
        self.asked.context().run_id().map(str::to_string)
    }

    /// Records the value at `step` (logged as the objective metric's history of the
    /// trial's run when tracked); returns whether the study's pruner says to stop.
    /// Raises `ValueError` for a negative step, or once the trial was told, and
    /// `TypeError` for a step that is no integer (optuna's `trial.report` takes the
    /// value first: the message says so). A step reported again keeps its first value,
    /// with a `UserWarning`, as optuna's.
    fn report(
        &self,
        py: Python<'_>,
        step: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let expected = "report(step, value): step must be an integer >= 0 (an epoch, a round)";
        let Some(step) = step.extract::<i64>().ok().filter(|_| !is_bool(step)) else {
            return Err(PyTypeError::new_err(format!(
                "{expected}, not {} {step}; the step comes first here, where optuna's \
                 trial.report(value, step) takes the value first",
                type_name(step)
            )));
        };
        let step = u64::try_from(step)
            .map_err(|_| PyValueError::new_err(format!("{expected}, got {step}")))?;
        let value = number_from_py("a reported value", value)?;
        let context = self.asked.context();
        let state = context.state();
        if state != TrialState::Running {
            return Err(PyValueError::new_err(format!(
                "trial {} is {state} already; only running trials can report values",
                context.number()
            )));
        }
        if context.has_reported(step) {
            // As optuna warns: the value is dropped, which a loop's bug would hide.
            let message = std::ffi::CString::new(format!(
                "trial {} reported step {step} already: this value ({value}) is ignored, \
                 the first one kept",
                context.number()
            ))?;
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 1)?;
        }
        py.detach(|| context.report(step, value))
            .map_err(|e| TrackingError::new_err(e.to_string()))
    }

    /// Whether the pruner said to stop at the last reported step.
    fn should_prune(&self) -> bool {
        self.asked.context().should_prune()
    }

    /// Logs a metric into the trial's run (nothing when the study is not tracked).
    #[pyo3(signature = (key, value, step = 0))]
    fn log_metric(&self, py: Python<'_>, key: &str, value: f64, step: i64) -> PyResult<()> {
        let context = self.asked.context();
        py.detach(|| context.log_metric(key, value, step))
            .map_err(|e| TrackingError::new_err(e.to_string()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Trial(number={}, params={})",
            self.asked.number(),
            self.params.bind(py).repr()?
        ))
    }
}

/// A search: a space, a direction, a sampler, a pruner, a seed and its trials, optionally
/// kept in a tracking store (a parent run and a child run per trial).
#[pyclass(module = "hyperflow._native", name = "Study")]
struct PyStudy {
    inner: Mutex<hyperflow::Study>,
    space: PySpace,
}

impl PyStudy {
    fn lock(&self) -> MutexGuard<'_, hyperflow::Study> {
        // A panic while the lock was held cannot come from Python code; the study
        // changes in single calls, so a poisoned lock still holds a consistent study.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A finished or running trial of a study, as a dict.
fn trial_to_py<'py>(py: Python<'py>, trial: &EngineTrial) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("number", trial.number)?;
    dict.set_item("state", trial.state.to_string())?;
    dict.set_item("params", point_to_py(py, &trial.point)?)?;
    dict.set_item("value", trial.loss)?;
    let metrics = PyDict::new(py);
    for (key, value) in &trial.metrics {
        metrics.set_item(key, value)?;
    }
    dict.set_item("metrics", metrics)?;
    dict.set_item("error", trial.error.as_deref())?;
    dict.set_item("last_step", trial.last_step)?;
    dict.set_item("duration", trial.duration.map(|d| d.as_secs_f64()))?;
    Ok(dict)
}

/// A trial's value, told or reported: a number (a bool, which Python would count as 0 or
/// 1, is refused).
fn number_from_py(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<f64> {
    obj.extract::<f64>()
        .ok()
        .filter(|_| !is_bool(obj))
        .ok_or_else(|| {
            PyTypeError::new_err(format!(
                "{what} must be a number, not {} {}",
                type_name(obj),
                repr(obj)
            ))
        })
}

/// The outcome a trial was told: a value, or a state with an optional value.
fn outcome(value: Option<f64>, state: TrialState, reason: Option<String>) -> PyResult<Outcome> {
    let reason = reason.unwrap_or_default();
    match (state, value) {
        (TrialState::Complete, Some(v)) => Ok(Outcome::loss(v)),
        (TrialState::Complete, None) => Err(PyValueError::new_err(
            "a complete trial needs a value: tell(trial, value) or tell(trial, state=\"failed\")",
        )),
        (TrialState::Failed, None) => Ok(Outcome::failed(reason)),
        (TrialState::Failed, Some(v)) => Err(PyValueError::new_err(format!(
            "a failed trial has no value, got {v}: tell(trial, state=\"failed\", reason=...), \
             or tell(trial, {v}) if it completed"
        ))),
        (TrialState::Pruned, v) => {
            let mut o = Outcome::pruned(reason);
            o.loss = v;
            Ok(o)
        }
        (other, _) => Err(PyValueError::new_err(format!(
            "a trial is told {:?}, {:?} or {:?}, not {:?}",
            TrialState::Complete.as_str(),
            TrialState::Failed.as_str(),
            TrialState::Pruned.as_str(),
            other.as_str()
        ))),
    }
}

#[pymethods]
impl PyStudy {
    /// A new study. `sampler`: "auto" (default), "tpe", "gp", "random" or "grid";
    /// `pruner`: "none" (default), "median", "percentile", "asha", "hyperband",
    /// "wilcoxon" or "threshold" with its defaults, or a dict of a kind and its settings
    /// (`{"kind": "asha", "reduction_factor": 3}`, the keys of a sweep's `[pruner]` table
    /// but `grace`); with `experiment`, the study is tracked in the store
    /// at `tracking_uri` (default: `HYPERFLOW_TRACKING_URI`, `MLFLOW_TRACKING_URI`, else
    /// `sqlite:///hyperflow.db`); with `name` too, an existing study of that name is
    /// continued; with `join_key`, workers (processes, machines) creating a study with
    /// the same key while it runs join one search, sharing its trials and budget (each
    /// with the search's space, direction and pruner, else `ValueError`);
    /// `max_evals` is recorded as the tracked search's budget (the parent's `max_evals`
    /// param, `none` without it; the budget itself is what `ask(budget=...)` is given).
    #[new]
    #[pyo3(signature = (space, *, sampler = "auto", seed = None, direction = "minimize",
        pruner = None, n_startup = None, experiment = None, tracking_uri = None, name = None,
        join_key = None, max_evals = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        space: &PySpace,
        sampler: &str,
        seed: Option<i128>,
        direction: &str,
        pruner: Option<&Bound<'_, PyAny>>,
        n_startup: Option<i128>,
        experiment: Option<String>,
        tracking_uri: Option<String>,
        name: Option<String>,
        join_key: Option<String>,
        max_evals: Option<i128>,
    ) -> PyResult<Self> {
        let seed: Option<u64> = seed.map(|s| unsigned("seed", s)).transpose()?;
        let n_startup = n_startup.map(|n| unsigned("n_startup", n)).transpose()?;
        let max_evals = max_evals.map(|n| unsigned("max_evals", n)).transpose()?;
        let mut builder = hyperflow::Study::builder(&space.inner)
            .direction(self::direction(direction)?)
            .boxed_sampler(self::sampler(sampler, n_startup)?);
        if let Some(seed) = seed {
            builder = builder.seed(seed);
        }
        let pruner = pruner.map(self::pruner).transpose()?;
        if let Some(spec) = &pruner {
            builder = builder.boxed_pruner(spec.build());
        }
        let tracked = experiment.is_some();
        let named = name.is_some();
        let study = py.detach(|| -> PyResult<hyperflow::Study> {
            if let Some(experiment) = experiment {
                let tracking = match tracking_uri {
                    Some(uri) => Tracker::open(&uri).map(|t| Tracking::new(t, experiment)),
                    None => Ok(Tracking::from_env(experiment)),
                }
                .map_err(|e| TrackingError::new_err(e.to_string()))?;
                let mut tracking = match name {
                    Some(name) => tracking.name(name),
                    None => tracking,
                };
                // The settings given, as a sweep records its `[pruner]` table's.
                for (key, value) in pruner.iter().flat_map(schema::pruner_params) {
                    tracking = tracking.param(key, value);
                }
                builder = builder.tracking(match join_key {
                    Some(key) => tracking.join_key(key),
                    None => tracking,
                });
            }
            let mut study = if named {
                builder.open()
            } else {
                builder.create()
            }
            .map_err(study_error)?;
            if tracked && study.trials().is_empty() {
                study
                    .log_settings(&SearchSettings {
                        max_evals,
                        parallelism: 1,
                        schedule: "async",
                        timeout: None,
                        loss_threshold: None,
                        early_stop_after: None,
                        warm_start_trials: 0,
                    })
                    .map_err(study_error)?;
            }
            Ok(study)
        })?;
        Ok(PyStudy {
            inner: Mutex::new(study),
            space: space.clone(),
        })
    }

    /// Proposes the next trial and records it as running. With `budget`, only while
    /// fewer than `budget` trials count towards it (results and running trials, of every
    /// worker of a joined study, claimed atomically); `None` once they do.
    #[pyo3(signature = (budget = None))]
    fn ask(&self, py: Python<'_>, budget: Option<i128>) -> PyResult<Option<PyTrial>> {
        let budget: Option<usize> = budget.map(|b| unsigned("budget", b)).transpose()?;
        let asked = py
            .detach(|| match budget {
                Some(budget) => self.lock().ask_within(budget),
                None => self.lock().ask().map(Some),
            })
            .map_err(study_error)?;
        asked
            .map(|asked| {
                let params = point_to_py(py, asked.point())?.unbind();
                Ok(PyTrial { asked, params })
            })
            .transpose()
    }

    /// Records how a running trial (a `Trial` or its number) ended: `tell(trial, 0.25)`,
    /// `tell(trial, state="failed", reason=...)` (no value; optuna's `"fail"` is taken
    /// too, states in any case), `tell(trial, state="pruned")` (its value is then the
    /// last one it reported). Returns the trial as recorded. A bool is no value
    /// (`TypeError`).
    #[pyo3(signature = (trial, value = None, *, state = None, reason = None, metrics = None))]
    fn tell<'py>(
        &self,
        py: Python<'py>,
        trial: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        state: Option<&str>,
        reason: Option<String>,
        metrics: Option<Vec<(String, f64)>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let number = match trial.cast::<PyTrial>() {
            Ok(t) => {
                let asked = &t.get().asked;
                self.lock().check_asked(asked).map_err(study_error)?;
                asked.number()
            }
            Err(_) => unsigned(
                "the trial number",
                trial.extract::<i128>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "tell takes a Trial from ask() or a trial number, not {} {}",
                        type_name(trial),
                        repr(trial)
                    ))
                })?,
            )?,
        };
        let value = value
            .map(|v| number_from_py("a trial's value", v))
            .transpose()?;
        let state = state.map_or(Ok(TrialState::Complete), named)?;
        let mut outcome = outcome(value, state, reason)?;
        outcome.metrics = metrics.unwrap_or_default();
        let recorded = py
            .detach(|| {
                let mut study = self.lock();
                study.tell_number(number, outcome).cloned()
            })
            .map_err(study_error)?;
        trial_to_py(py, &recorded)
    }

    /// Adds a point (a dict of values) to evaluate before the sampler proposes any.
    fn enqueue(&self, point: &Bound<'_, PyDict>) -> PyResult<()> {
        let point = point_from_py(point)?;
        self.lock().enqueue(&point).map_err(study_error)
    }

    /// Reads what the search's other workers did since the last sync (the trials they
    /// asked and ended, and what those reported, for the pruner); `ask` does it too. Call
    /// it now and then during a long trial of a shared search, so that the pruner judges
    /// it against trials that ended elsewhere meanwhile. Returns how many changes it read.
    fn sync(&self, py: Python<'_>) -> PyResult<usize> {
        py.detach(|| self.lock().sync()).map_err(study_error)
    }

    /// Ends the study: a tracked study's parent run is marked FINISHED with its best
    /// trial and why the search stopped, its `hyperflow.stop_reason`: `"max_evals
    /// reached"` (the default), `"timeout"`, `"loss threshold reached"`, `"no
    /// improvement"`, `"search space exhausted"`, or `"cancelled"`, which marks this
    /// handle's running trials killed (they can run again) and the parent KILLED. The
    /// study can still be asked afterwards.
    #[pyo3(signature = (reason = None))]
    fn finish(&self, py: Python<'_>, reason: Option<&str>) -> PyResult<()> {
        let reason = reason.map_or(Ok(StopReason::MaxEvals), named)?;
        py.detach(|| {
            let mut study = self.lock();
            if reason == StopReason::Cancelled {
                study.kill_running("the search was cancelled while it ran")?;
            }
            study.finish(reason)
        })
        .map_err(study_error)
    }

    /// Every trial, in order, as dicts (`number`, `state`, `params`, `value`, `metrics`,
    /// `error`, `last_step`, `duration`).
    #[getter]
    fn trials<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let study = self.lock();
        let list = PyList::empty(py);
        for trial in study.trials().all() {
            list.append(trial_to_py(py, trial)?)?;
        }
        Ok(list)
    }

    /// The best complete trial, or `None`.
    #[getter]
    fn best_trial<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.lock().best().map(|t| trial_to_py(py, t)).transpose()
    }

    /// The best complete trial's point, or `None`.
    #[getter]
    fn best_params<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.lock()
            .best()
            .map(|t| point_to_py(py, &t.point))
            .transpose()
    }

    /// The best complete trial's value, or `None`.
    #[getter]
    fn best_value(&self) -> Option<f64> {
        self.lock().best().and_then(|t| t.loss)
    }

    /// The values trial `number` reported, as `(step, value)` pairs; `ValueError` for a
    /// number the study has no trial of.
    fn intermediate_values(&self, number: i128) -> PyResult<Vec<(u64, f64)>> {
        let number = unsigned("the trial number", number)?;
        let study = self.lock();
        let trials = study.trials().len();
        if number >= trials {
            return Err(PyValueError::new_err(format!(
                "the study has no trial {number}: its trials are numbered 0 to {}",
                trials as i128 - 1
            )));
        }
        Ok(study.intermediate_values(number))
    }

    /// The seed trial `i` draws its randomness from, with `i`.
    #[getter]
    fn seed(&self) -> u64 {
        self.lock().seed()
    }

    /// The sampler's name.
    #[getter]
    fn sampler(&self) -> String {
        self.lock().algo().to_string()
    }

    /// The pruner's name.
    #[getter]
    fn pruner(&self) -> String {
        self.lock().pruner()
    }

    /// "minimize" or "maximize".
    #[getter]
    fn direction(&self) -> &'static str {
        self.lock().direction().as_str()
    }

    /// The study's space.
    #[getter]
    fn space(&self) -> PySpace {
        self.space.clone()
    }

    /// The parent run's id, when tracked.
    #[getter]
    fn parent_run_id(&self) -> Option<String> {
        self.lock().parent_run_id().map(str::to_string)
    }

    fn __len__(&self) -> usize {
        self.lock().trials().len()
    }
}

/// One trial of a history handed to `suggest`: `(params, state, value, last_step)`.
type HistoryEntry<'py> = (Bound<'py, PyDict>, String, Option<f64>, Option<i128>);

/// Builds an engine history from `(params, state, value, last_step)` entries, numbered
/// in the order given; an entry's error names it (`history[3]: ...`).
fn history(
    py: Python<'_>,
    space: &hyperflow::Space,
    direction: Direction,
    entries: Vec<HistoryEntry<'_>>,
) -> PyResult<Trials> {
    let mut trials = Trials::new(direction);
    for (number, (params, state, value, last_step)) in entries.into_iter().enumerate() {
        let trial = (|| {
            let point = point_from_py(&params)?;
            let x = space.encode(&point).map_err(point_error)?;
            let running = EngineTrial::running(number, x, point);
            let mut trial = match named(&state)? {
                TrialState::Running => running,
                state => running.finished(outcome(value, state, None)?, Default::default()),
            };
            trial.last_step = last_step.map(|s| unsigned("last_step", s)).transpose()?;
            Ok(trial)
        })()
        .map_err(|e: PyErr| {
            PyErr::from_type(
                e.get_type(py),
                format!("history[{number}]: {}", e.value(py)),
            )
        })?;
        trials
            .push(trial)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
    }
    Ok(trials)
}

/// The point a sampler proposes after `history` (a list of `(params, state, value,
/// last_step)`, states "complete", "failed", "pruned" or "running"), drawn with the
/// randomness of trial `len(history)` of `seed`: a study built from the history, asked
/// once. What optuna's sampler adapter calls.
#[pyfunction]
#[pyo3(signature = (space, history, seed, *, sampler = "tpe", direction = "minimize", n_startup = None))]
fn suggest<'py>(
    py: Python<'py>,
    space: &PySpace,
    history: Vec<HistoryEntry<'py>>,
    seed: i128,
    sampler: &str,
    direction: &str,
    n_startup: Option<i128>,
) -> PyResult<Bound<'py, PyDict>> {
    let seed: u64 = unsigned("seed", seed)?;
    let n_startup = n_startup.map(|n| unsigned("n_startup", n)).transpose()?;
    let direction = self::direction(direction)?;
    let trials = self::history(py, &space.inner, direction, history)?;
    let sampler = self::sampler(sampler, n_startup)?;
    let point = py
        .detach(|| {
            let mut study = hyperflow::Study::builder(&space.inner)
                .direction(direction)
                .boxed_sampler(sampler)
                .seed(seed)
                .history(trials)
                .create()?;
            study.ask().map(|t| t.point().clone())
        })
        .map_err(study_error)?;
    point_to_py(py, &point)
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySpace>()?;
    m.add_class::<PyStudy>()?;
    m.add_class::<PyTrial>()?;
    m.add_function(wrap_pyfunction!(suggest, m)?)?;
    m.add("TrackingError", m.py().get_type::<TrackingError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
