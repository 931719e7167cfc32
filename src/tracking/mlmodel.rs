//! The `MLmodel` file of an MLflow model directory, as a typed struct, and `models:/` /
//! `runs:/` model URIs.
//!
//! hyperflow writes the file itself ([`MlModel::to_yaml`]): block mappings in sorted key
//! order (as MLflow's `yaml.safe_dump` writes them), every string double-quoted, so the same
//! model always gives the same bytes and any YAML reader (MLflow's included) reads it.
//! [`MlModel::from_yaml`] reads that form back, and enough of the files MLflow's Python
//! client writes to tell which flavors a model has: block mappings with plain, quoted or
//! flow scalars; sequences and multi-line scalars are kept as their raw text.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

use super::model::ModelStage;

/// The file name of a model directory's descriptor.
pub const MLMODEL_FILE: &str = "MLmodel";
/// The name of hyperflow's flavor in an `MLmodel` file.
pub const HYPERFLOW_FLAVOR: &str = "hyperflow";
/// The file of a model directory that holds a serde-serialized model.
pub const MODEL_DATA_FILE: &str = "model.json";

/// Everything that can go wrong reading a model: its URI, its `MLmodel` file, its flavor,
/// its data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A model URI that is none of the accepted forms.
    #[error("'{uri}' is not a model URI: {reason}; use one of {}", ModelUri::FORMS)]
    Uri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `MLmodel` file that cannot be read.
    #[error("the MLmodel file of {uri} cannot be read: {reason}")]
    MlModel {
        /// The model's URI.
        uri: String,
        /// Where and why.
        reason: String,
    },
    /// A model without a flavor hyperflow loads.
    #[error(
        "{uri} has no '{HYPERFLOW_FLAVOR}' flavor that hyperflow can load (flavors: {found}); \
         hyperflow loads models written by log_model, as JSON"
    )]
    Flavor {
        /// The model's URI.
        uri: String,
        /// The flavors it has (or what is wrong with the hyperflow flavor).
        found: String,
    },
    /// The model's data does not deserialize into the type asked for.
    #[error("the model data {path} of {uri} does not deserialize as {type_name}: {reason}")]
    Data {
        /// The model's URI.
        uri: String,
        /// The data file.
        path: String,
        /// The Rust type asked for.
        type_name: &'static str,
        /// serde's message.
        reason: String,
    },
    /// The store or the artifact repository failed.
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// A parsed model URI: where a model's files are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/<name>/<version>`: a version of a registered model.
    Version {
        /// Registered model name.
        name: String,
        /// Version number (≥ 1).
        version: i64,
    },
    /// `models:/<name>/<stage>` (`Production`, any case): the newest version of a
    /// registered model in that stage; `models:/<name>/latest`: its newest version.
    Stage {
        /// Registered model name.
        name: String,
        /// The stage; `None` for `latest` (any stage).
        stage: Option<ModelStage>,
    },
    /// `models:/<name>@<alias>`: the version an alias of a registered model points at.
    Alias {
        /// Registered model name.
        name: String,
        /// The alias.
        alias: String,
    },
    /// `models:/<model_id>`: a logged model (ids start with `m-`).
    LoggedModel {
        /// The model id.
        model_id: String,
    },
    /// `runs:/<run_id>/<path>`: a model directory among a run's artifacts.
    Run {
        /// The run id.
        run_id: String,
        /// The directory under the run's artifact root.
        path: String,
    },
}

impl ModelUri {
    /// The accepted forms, for messages.
    pub const FORMS: &'static str = "models:/<name>/<version>, models:/<name>/<stage> \
                                     (None, Staging, Production, Archived), \
                                     models:/<name>/latest, models:/<name>@<alias>, \
                                     models:/<model_id> (m-...) or runs:/<run_id>/<path>";

    /// Parse a model URI.
    ///
    /// ```
    /// use hyperflow::tracking::mlmodel::ModelUri;
    /// assert_eq!(
    ///     ModelUri::parse("models:/churn@champion").unwrap(),
    ///     ModelUri::Alias { name: "churn".into(), alias: "champion".into() }
    /// );
    /// assert!(ModelUri::parse("models:/churn").is_err()); // a name without version or alias
    /// ```
    pub fn parse(uri: &str) -> Result<ModelUri, ModelError> {
        let bad = |reason: &str| ModelError::Uri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let (run_id, path) = rest
                .trim_start_matches('/')
                .split_once('/')
                .ok_or_else(|| bad("a runs:/ URI names a run and a path in its artifacts"))?;
            let path = path.trim_matches('/');
            if run_id.is_empty() || path.is_empty() {
                return Err(bad("a runs:/ URI names a run and a path in its artifacts"));
            }
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.to_string(),
            });
        }
        let rest = uri
            .strip_prefix("models:/")
            .ok_or_else(|| bad("it starts with neither models:/ nor runs:/"))?;
        if let Some((name, alias)) = rest.rsplit_once('@') {
            if name.is_empty() || alias.is_empty() {
                return Err(bad("both the name and the alias must be given"));
            }
            return Ok(ModelUri::Alias {
                name: name.to_string(),
                alias: alias.to_string(),
            });
        }
        if let Some((name, version)) = rest.rsplit_once('/') {
            if name.is_empty() {
                return Err(bad("the registered model's name is missing"));
            }
            let name = name.to_string();
            if version.eq_ignore_ascii_case("latest") {
                return Ok(ModelUri::Stage { name, stage: None });
            }
            if let Ok(stage) = ModelStage::parse(version) {
                return Ok(ModelUri::Stage {
                    name,
                    stage: Some(stage),
                });
            }
            let version = version
                .parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    bad(
                        "after the name comes a version (a positive integer), `latest`, or a stage \
                     (None, Staging, Production, Archived)",
                    )
                })?;
            return Ok(ModelUri::Version { name, version });
        }
        if rest.starts_with("m-") && rest.len() > 2 {
            return Ok(ModelUri::LoggedModel {
                model_id: rest.to_string(),
            });
        }
        Err(bad(
            "a registered model needs a version or an alias, and logged model ids start with m-",
        ))
    }
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelUri::Version { name, version } => write!(f, "models:/{name}/{version}"),
            ModelUri::Stage { name, stage } => write!(
                f,
                "models:/{name}/{}",
                stage.map_or("latest", ModelStage::as_str)
            ),
            ModelUri::Alias { name, alias } => write!(f, "models:/{name}@{alias}"),
            ModelUri::LoggedModel { model_id } => write!(f, "models:/{model_id}"),
            ModelUri::Run { run_id, path } => write!(f, "runs:/{run_id}/{path}"),
        }
    }
}

impl std::str::FromStr for ModelUri {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelUri::parse(s)
    }
}

/// An `MLmodel` file: what MLflow's `Model` class keeps (the fields hyperflow writes and
/// reads; others are ignored when read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlModel {
    /// Where the model's files are (MLflow 3: the logged model's artifact location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_path: Option<String>,
    /// The flavors, by name: how each library loads the model.
    pub flavors: BTreeMap<String, Value>,
    /// The logged model's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// MLflow's model uuid (the logged model's id in MLflow 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_uuid: Option<String>,
    /// The run that produced the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Creation time, UTC, as MLflow writes it (`2026-12-06 10:15:03.250000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_time_created: Option<String>,
}

/// hyperflow's flavor: a serde-serialized model in one data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HyperflowFlavor {
    /// The data file, relative to the model directory.
    pub data: String,
    /// Its format (`json`).
    pub format: String,
    /// The hyperflow version that wrote it.
    pub hyperflow_version: String,
}

impl HyperflowFlavor {
    /// The flavor of a model this build writes: JSON in `model.json`.
    pub fn json() -> Self {
        HyperflowFlavor {
            data: MODEL_DATA_FILE.to_string(),
            format: "json".to_string(),
            hyperflow_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl MlModel {
    /// The descriptor of a hyperflow model (flavor `hyperflow`, JSON data), created now.
    pub fn hyperflow(
        artifact_path: &str,
        model_id: Option<&str>,
        run_id: Option<&str>,
        created_ms: i64,
    ) -> Self {
        let flavor = serde_json::to_value(HyperflowFlavor::json()).unwrap_or_default();
        MlModel {
            artifact_path: Some(artifact_path.to_string()),
            flavors: BTreeMap::from([(HYPERFLOW_FLAVOR.to_string(), flavor)]),
            model_id: model_id.map(str::to_string),
            model_uuid: model_id.map(str::to_string),
            run_id: run_id.map(str::to_string),
            utc_time_created: Some(utc_time(created_ms)),
        }
    }

    /// The hyperflow flavor, or [`ModelError::Flavor`] naming the flavors the model has.
    pub fn hyperflow_flavor(&self, uri: &str) -> Result<HyperflowFlavor, ModelError> {
        let flavor_error = |found: String| ModelError::Flavor {
            uri: uri.to_string(),
            found,
        };
        let Some(value) = self.flavors.get(HYPERFLOW_FLAVOR) else {
            let names: Vec<&str> = self.flavors.keys().map(String::as_str).collect();
            return Err(flavor_error(if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }));
        };
        let flavor: HyperflowFlavor = serde_json::from_value(value.clone())
            .map_err(|e| flavor_error(format!("{HYPERFLOW_FLAVOR} ({e})")))?;
        if flavor.format != "json" {
            return Err(flavor_error(format!(
                "{HYPERFLOW_FLAVOR} with format '{}', where this hyperflow reads 'json'",
                flavor.format
            )));
        }
        Ok(flavor)
    }

    /// The file's text: sorted block mappings, strings double-quoted.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        if let Ok(Value::Object(map)) = serde_json::to_value(self) {
            write_mapping(&mut out, &map, 0);
        }
        out
    }

    /// Read an `MLmodel` file's text; `uri` names the model in errors.
    pub fn from_yaml(text: &str, uri: &str) -> Result<MlModel, ModelError> {
        let bad = |reason: String| ModelError::MlModel {
            uri: uri.to_string(),
            reason,
        };
        let value = read_mapping(text).map_err(bad)?;
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }
}

/// `ms` since the epoch as MLflow writes `utc_time_created` (Python's `str(datetime)`).
fn utc_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S.%6f").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// Write `map` as a block mapping indented by `indent` spaces, keys sorted.
fn write_mapping(out: &mut String, map: &Map<String, Value>, indent: usize) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(key);
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(":\n");
                write_mapping(out, inner, indent + 2);
            }
            // Strings are JSON-quoted (a valid YAML double-quoted scalar); numbers, booleans,
            // null, and flow collections are written as JSON, which YAML reads the same.
            scalar => {
                out.push_str(": ");
                out.push_str(&scalar.to_string());
                out.push('\n');
            }
        }
    }
}

/// One `key: value` line of a block mapping.
struct Line<'a> {
    number: usize,
    indent: usize,
    key: &'a str,
    value: &'a str,
}

/// Read the block mappings of a YAML document into a JSON object (see the module docs).
fn read_mapping(text: &str) -> Result<Value, String> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') || content == "---" {
            continue;
        }
        let indent = raw.len() - content.len();
        let entry = content
            .split_once(": ")
            .or_else(|| content.strip_suffix(':').map(|k| (k, "")))
            .filter(|(k, _)| !k.starts_with('-') && !k.contains(' '));
        lines.push(match entry {
            Some((key, value)) => Line {
                number: i + 1,
                indent,
                key,
                value: value.trim(),
            },
            // A sequence item or a continuation line: raw text of the entry above.
            None => Line {
                number: i + 1,
                indent,
                key: "",
                value: content,
            },
        });
    }
    let mut pos = 0;
    let map = read_block(&lines, &mut pos, 0)?;
    match lines.get(pos) {
        Some(line) => Err(format!("line {}: unexpected indentation", line.number)),
        None => Ok(Value::Object(map)),
    }
}

/// The entries of the block mapping starting at `lines[*pos]`, all at `indent`.
fn read_block(
    lines: &[Line],
    pos: &mut usize,
    indent: usize,
) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    while let Some(line) = lines.get(*pos) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent || line.key.is_empty() {
            return Err(format!(
                "line {}: expected a 'key: value' entry",
                line.number
            ));
        }
        *pos += 1;
        let key = scalar(line.key)
            .as_str()
            .map_or(line.key.to_string(), str::to_string);
        let below = lines.get(*pos).filter(|next| continues(next, indent));
        let value = match below {
            Some(next) if line.value.is_empty() && next.indent > indent && !next.key.is_empty() => {
                Value::Object(read_block(lines, pos, next.indent)?)
            }
            Some(_) => Value::String(raw_text(lines, pos, indent, line.value)),
            None => scalar(line.value),
        };
        map.insert(key, value);
    }
    Ok(map)
}

/// Whether `line` belongs to the entry above it at `indent`: it is deeper, or a sequence
/// item at the same indentation (as PyYAML writes a mapping's sequences).
fn continues(line: &Line, indent: usize) -> bool {
    line.indent > indent
        || (line.indent == indent && line.key.is_empty() && line.value.starts_with('-'))
}

/// The lines below an entry that are not a mapping of their own (a sequence, a folded
/// scalar), joined after the entry's own text.
fn raw_text(lines: &[Line], pos: &mut usize, indent: usize, first: &str) -> String {
    let mut text = first.to_string();
    while let Some(line) = lines.get(*pos).filter(|l| continues(l, indent)) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&" ".repeat(line.indent - indent));
        if !line.key.is_empty() {
            text.push_str(line.key);
            text.push_str(": ");
        }
        text.push_str(line.value);
        *pos += 1;
    }
    text
}

/// A scalar's value: JSON (double-quoted strings, numbers, booleans, flow collections), a
/// single-quoted string, `null`/`~`/empty, or else the plain text itself.
fn scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" => return Value::Null,
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Value::String(inner.replace("''", "'"));
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_their_forms_and_print_back() {
        for (text, uri) in [
            (
                "models:/churn/3",
                ModelUri::Version {
                    name: "churn".into(),
                    version: 3,
                },
            ),
            (
                "models:/team/churn@champion",
                ModelUri::Alias {
                    name: "team/churn".into(),
                    alias: "champion".into(),
                },
            ),
            (
                "models:/m-0123abcd",
                ModelUri::LoggedModel {
                    model_id: "m-0123abcd".into(),
                },
            ),
            (
                "runs:/abc/nested/model",
                ModelUri::Run {
                    run_id: "abc".into(),
                    path: "nested/model".into(),
                },
            ),
        ] {
            assert_eq!(ModelUri::parse(text).unwrap(), uri);
            assert_eq!(uri.to_string(), text);
        }
    }

    #[test]
    fn bad_uris_say_what_is_wrong_and_the_accepted_forms() {
        for (text, reason) in [
            ("models:/churn", "needs a version or an alias"),
            ("models:/churn/x", "positive integer"),
            ("models:/churn/0", "positive integer"),
            ("models:/@champion", "name and the alias"),
            ("runs:/abc", "a run and a path"),
            ("runs:/abc/", "a run and a path"),
            ("s3://bucket/model", "neither models:/ nor runs:/"),
        ] {
            let e = ModelUri::parse(text).unwrap_err().to_string();
            assert!(e.contains(reason), "{text}: {e}");
            assert!(e.contains(ModelUri::FORMS), "{text}: {e}");
        }
    }

    #[test]
    fn mlmodel_round_trips_through_its_yaml() {
        let m = MlModel::hyperflow(
            "mlflow-artifacts:/1/models/m-1/artifacts",
            Some("m-1"),
            Some("r1"),
            1_796_552_103_250,
        );
        let text = m.to_yaml();
        assert_eq!(
            text,
            format!(
                "artifact_path: \"mlflow-artifacts:/1/models/m-1/artifacts\"\nflavors:\n  \
             hyperflow:\n    data: \"model.json\"\n    format: \"json\"\n    \
             hyperflow_version: \"{}\"\nmodel_id: \"m-1\"\nmodel_uuid: \"m-1\"\n\
             run_id: \"r1\"\nutc_time_created: \"2026-12-06 10:15:03.250000\"\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(MlModel::from_yaml(&text, "x").unwrap(), m);
        assert_eq!(m.hyperflow_flavor("x").unwrap(), HyperflowFlavor::json());
    }

    #[test]
    fn an_mlflow_written_file_reads_far_enough_to_name_its_flavors() {
        let text = "artifact_path: file:///tmp/m\nflavors:\n  python_function:\n    env:\n      \
                    conda: conda.yaml\n    loader_module: mlflow.sklearn\n    python_version: \
                    3.11.4\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: \
                    cloudpickle\nmetadata:\n  tags:\n  - a\n  - b\nmlflow_version: 3.1.0\n\
                    model_size_bytes: 1234\nsignature:\n  inputs: '[{\"type\": \"double\",\n    \
                    \"name\": \"x\"}]'\n  params: null\nutc_time_created: '2025-06-01 \
                    12:00:00.123456'\n";
        let m = MlModel::from_yaml(text, "models:/m-1").unwrap();
        assert_eq!(m.artifact_path.as_deref(), Some("file:///tmp/m"));
        assert_eq!(
            m.flavors["python_function"]["loader_module"],
            "mlflow.sklearn"
        );
        assert_eq!(
            m.utc_time_created.as_deref(),
            Some("2025-06-01 12:00:00.123456")
        );
        let e = m.hyperflow_flavor("models:/m-1").unwrap_err().to_string();
        assert!(e.contains("flavors: python_function, sklearn"), "{e}");
    }

    #[test]
    fn the_previous_plain_descriptor_still_reads() {
        let text = "artifact_path: model\nrun_id: abc\nutc_time_created_ms: 1\nflavors:\n  \
                    hyperflow:\n    format: json\n    data: model.json\n    hyperflow_version: \
                    0.1.0\n";
        let m = MlModel::from_yaml(text, "runs:/abc/model").unwrap();
        assert_eq!(m.hyperflow_flavor("x").unwrap().data, "model.json");
    }

    #[test]
    fn unreadable_files_say_where() {
        let e = MlModel::from_yaml("flavors:\n  a: 1\n b: 2\n", "u").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = MlModel::from_yaml("run_id: x\n", "u").unwrap_err();
        assert!(e.to_string().contains("flavors"), "{e}");
    }
}
