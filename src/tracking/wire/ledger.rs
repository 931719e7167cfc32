//! The [ledger of searches](crate::tracking::ledger) on the wire: the bodies of hyperflow's
//! ledger endpoints (`/api/2.0/hyperflow/ledger/...`, one per [`Ledger`] method), read by
//! hyperflow's server and sent by the REST store.
//!
//! - A search is named by its parent run id (`search`), a trial by its `number`.
//! - Points are JSON lists of numbers, an inactive parameter (NaN) is `null`.
//! - Trial states are their names (`RUNNING`, `COMPLETE`, `FAILED`, `PRUNED`, `KILLED`).
//! - Durations are milliseconds (`stale_after_ms`).
//!
//! [`Ledger`]: crate::tracking::ledger::Ledger

use super::{FieldProblem, de, none};
use crate::tracking::ledger::{self, LedgerStart};
use crate::trials::TrialState;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// `open-search`: register a search, and learn which search holds its join key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenSearch {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// The key other workers join it by (none: it cannot be joined by key).
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub join_key: Option<String>,
    /// The next trial number, when the search's ledger row is created (default 0).
    #[serde(default, deserialize_with = "de::count_or_zero")]
    pub next_number: u64,
    /// How many numbers below `next_number` do not count towards the budget.
    #[serde(default, deserialize_with = "de::count_or_zero")]
    pub released: u64,
}

impl OpenSearch {
    /// Where the search's numbering starts.
    pub fn start(&self) -> LedgerStart {
        LedgerStart {
            next_number: self.next_number,
            released: self.released,
        }
    }
}

/// `find-search`: the search holding a join key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindSearch {
    /// The join key.
    #[serde(deserialize_with = "de::required")]
    pub join_key: String,
}

/// A search, as `open-search` (always) and `find-search` (when one holds the key) answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchFound {
    /// The search's parent run id.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub search: Option<String>,
}

/// `close-search` and `join-worker`: a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRef {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
}

/// `claim-trial`: the next trial number, within the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimTrial {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// How many claimed trials may count towards the budget (absent: no limit).
    #[serde(default, deserialize_with = "de::count", skip_serializing_if = "none")]
    pub limit: Option<u64>,
    /// The trial's encoded point.
    #[serde(with = "point")]
    pub x: Vec<f64>,
    /// The worker that runs it.
    #[serde(deserialize_with = "de::required")]
    pub worker: String,
}

/// The answer of `join-worker`: how many workers joined the search before this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    /// Workers that joined before (0 for the first).
    pub ordinal: u64,
}

/// The answer of `claim-trial`: the number, absent when the budget is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    /// The trial's number.
    #[serde(default, deserialize_with = "de::count", skip_serializing_if = "none")]
    pub number: Option<u64>,
}

/// How a trial ended ([`ledger::TrialEnd`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialEnd {
    /// Its final state.
    #[serde(with = "state")]
    pub state: TrialState,
    /// Whether it goes back to the budget.
    #[serde(default, deserialize_with = "de::flag")]
    pub released: bool,
    /// Its value (`"NaN"`, `"Infinity"`, `"-Infinity"` for those).
    #[serde(default, with = "opt_double", skip_serializing_if = "none")]
    pub loss: Option<f64>,
    /// The last step it reported at.
    #[serde(default, deserialize_with = "de::count", skip_serializing_if = "none")]
    pub last_step: Option<u64>,
    /// Its run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_id: Option<String>,
}

/// `end-trial`: record how a trial ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndTrial {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// The trial's number.
    #[serde(deserialize_with = "de::required_count")]
    pub number: u64,
    /// How it ended.
    pub end: TrialEnd,
}

/// The answer of `end-trial` ([`ledger::Ended`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// The state the trial had been ended in by someone else; absent when it was running.
    #[serde(default, with = "opt_state", skip_serializing_if = "none")]
    pub overruled: Option<TrialState>,
}

/// `release-running`: end those of some trials that are still running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRunning {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// The trials' numbers.
    #[serde(default, deserialize_with = "de::count_list")]
    pub numbers: Vec<u64>,
    /// How they end.
    pub end: TrialEnd,
}

/// `heartbeat`: stamp running trials with the store's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// The trials' numbers.
    #[serde(default, deserialize_with = "de::count_list")]
    pub numbers: Vec<u64>,
}

/// `stale-trials`: the running trials whose heartbeat is older than `stale_after_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleTrials {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// How old a heartbeat may be, in milliseconds.
    #[serde(deserialize_with = "de::required_count")]
    pub stale_after_ms: u64,
}

/// Trial numbers: what `release-running` ended, what `stale-trials` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numbers {
    /// The numbers.
    #[serde(
        default,
        deserialize_with = "de::count_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub numbers: Vec<u64>,
}

/// `changes`: the trials written after change `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The search's parent run id.
    #[serde(deserialize_with = "de::required")]
    pub search: String,
    /// The last change number seen (0: everything).
    #[serde(default, deserialize_with = "de::count_or_zero")]
    pub since: u64,
}

/// The answer of `changes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    /// The trials, by number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<LedgerTrial>,
}

/// A trial as the ledger keeps it ([`ledger::LedgerTrial`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerTrial {
    /// Its number.
    #[serde(deserialize_with = "de::required_count")]
    pub number: u64,
    /// Where it stands.
    #[serde(with = "state")]
    pub state: TrialState,
    /// Whether it was given back to the budget.
    #[serde(default, deserialize_with = "de::flag")]
    pub released: bool,
    /// Its encoded point.
    #[serde(with = "point")]
    pub x: Vec<f64>,
    /// Its value.
    #[serde(default, with = "opt_double", skip_serializing_if = "none")]
    pub loss: Option<f64>,
    /// The last step it reported at.
    #[serde(default, deserialize_with = "de::count", skip_serializing_if = "none")]
    pub last_step: Option<u64>,
    /// Its run.
    #[serde(default, deserialize_with = "de::text", skip_serializing_if = "none")]
    pub run_id: Option<String>,
    /// The worker running it.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub worker: String,
    /// The change number of its latest write.
    #[serde(deserialize_with = "de::required_count")]
    pub seq: u64,
}

impl From<&ledger::TrialEnd> for TrialEnd {
    fn from(e: &ledger::TrialEnd) -> Self {
        TrialEnd {
            state: e.state,
            released: e.released,
            loss: e.loss,
            last_step: e.last_step,
            run_id: e.run_id.clone(),
        }
    }
}

impl From<TrialEnd> for ledger::TrialEnd {
    fn from(e: TrialEnd) -> Self {
        ledger::TrialEnd {
            state: e.state,
            released: e.released,
            loss: e.loss,
            last_step: e.last_step,
            run_id: e.run_id,
        }
    }
}

impl From<ledger::Ended> for Ended {
    fn from(e: ledger::Ended) -> Self {
        Ended {
            overruled: match e {
                ledger::Ended::Now => None,
                ledger::Ended::Overruled(state) => Some(state),
            },
        }
    }
}

impl From<Ended> for ledger::Ended {
    fn from(e: Ended) -> Self {
        e.overruled
            .map_or(ledger::Ended::Now, ledger::Ended::Overruled)
    }
}

impl From<&ledger::LedgerTrial> for LedgerTrial {
    fn from(t: &ledger::LedgerTrial) -> Self {
        LedgerTrial {
            number: t.number,
            state: t.state,
            released: t.released,
            x: t.x.clone(),
            loss: t.loss,
            last_step: t.last_step,
            run_id: t.run_id.clone(),
            worker: t.worker.clone(),
            seq: t.seq,
        }
    }
}

impl From<LedgerTrial> for ledger::LedgerTrial {
    fn from(t: LedgerTrial) -> Self {
        ledger::LedgerTrial {
            number: t.number,
            state: t.state,
            released: t.released,
            x: t.x,
            loss: t.loss,
            last_step: t.last_step,
            run_id: t.run_id,
            worker: t.worker,
            seq: t.seq,
        }
    }
}

/// The states a trial can be in, for messages.
const STATES: &str = "one of RUNNING, COMPLETE, FAILED, PRUNED, KILLED is expected.";

/// A trial state by name.
mod state {
    use super::*;

    pub fn serialize<S: Serializer>(v: &TrialState, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ledger::state_name(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TrialState, D::Error> {
        super::opt_state::deserialize(d)?.ok_or_else(|| FieldProblem::Missing.error())
    }
}

/// An optional trial state by name.
mod opt_state {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<TrialState>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(state) => super::state::serialize(state, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TrialState>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => ledger::parse_state(s)
                .map(Some)
                .map_err(|_| FieldProblem::invalid(&v, STATES)),
            _ => Err(FieldProblem::invalid(&v, STATES)),
        }
    }
}

/// An optional double, written as protobuf JSON writes doubles.
mod opt_double {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => super::super::double::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        de::double(d)
    }
}

/// An encoded point: a list of numbers, `null` for an inactive parameter (NaN).
mod point {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| {
            if x.is_finite() {
                Value::from(*x)
            } else if x.is_nan() {
                Value::Null
            } else {
                // Written as protobuf JSON writes them, read back by `de::double`.
                Value::from(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
        }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let hint = "a list of numbers (null for an inactive parameter) is expected.";
        let v = Value::deserialize(d)?;
        let Value::Array(items) = &v else {
            return Err(FieldProblem::invalid(&v, hint));
        };
        items
            .iter()
            .map(|item| match item {
                Value::Null => Ok(f64::NAN),
                Value::Number(n) => n.as_f64().ok_or_else(|| FieldProblem::invalid(&v, hint)),
                Value::String(s) => de::parse_double(s)
                    .filter(|x| x.is_infinite())
                    .ok_or_else(|| FieldProblem::invalid(&v, hint)),
                _ => Err(FieldProblem::invalid(&v, hint)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn points_keep_inactive_parameters_as_null() {
        let claim = ClaimTrial {
            search: "s".into(),
            limit: Some(3),
            x: vec![0.5, f64::NAN, f64::NEG_INFINITY],
            worker: "w".into(),
        };
        let sent = serde_json::to_value(&claim).unwrap();
        assert_eq!(sent["x"], json!([0.5, null, "-Infinity"]));
        let back: ClaimTrial = serde_json::from_value(sent).unwrap();
        assert_eq!(back.x[0], 0.5);
        assert!(back.x[1].is_nan());
        assert_eq!(back.x[2], f64::NEG_INFINITY);
        let bad = serde_json::from_value::<ClaimTrial>(
            json!({"search": "s", "x": [1, "a"], "worker": "w"}),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn states_are_names_and_ends_round_trip() {
        let end = ledger::TrialEnd {
            state: TrialState::Failed,
            released: true,
            loss: Some(f64::NAN),
            last_step: Some(4),
            run_id: None,
        };
        let sent = serde_json::to_value(TrialEnd::from(&end)).unwrap();
        assert_eq!(
            sent,
            json!({"state": "FAILED", "released": true, "loss": "NaN", "last_step": 4})
        );
        let back = ledger::TrialEnd::from(serde_json::from_value::<TrialEnd>(sent).unwrap());
        assert_eq!(back.state, TrialState::Failed);
        assert!(back.loss.unwrap().is_nan());
        let e = serde_json::from_value::<TrialEnd>(json!({"state": "LOST"})).unwrap_err();
        assert!(e.to_string().contains("RUNNING, COMPLETE"), "{e}");
        for ended in [
            ledger::Ended::Now,
            ledger::Ended::Overruled(TrialState::Killed),
        ] {
            let wire = serde_json::to_value(Ended::from(ended)).unwrap();
            let back: Ended = serde_json::from_value(wire).unwrap();
            assert_eq!(ledger::Ended::from(back), ended);
        }
    }
}
