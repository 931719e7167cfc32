//! Request fields, read the way MLflow's protobuf `ParseDict` reads them: GET fields from
//! the query string (a repeated key is a list), POST fields from a JSON object, then into
//! the endpoint's request struct ([`crate::tracking::wire`]), whose field readers accept
//! what MLflow accepts. A field that cannot be read is answered with MLflow's message
//! naming it by its path (`metrics[0].timestamp`).

use super::error::{ApiError, ApiResult};
use crate::tracking::wire::FieldProblem;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The fields of a URL query string; a repeated key becomes a list.
pub fn from_query(query: Option<&str>) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    map
}

/// The fields of a JSON body; an empty body is `{}`.
pub fn from_json(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid(format!(
            "Malformed request body: expected a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(ApiError::invalid(format!(
            "Malformed request body: invalid JSON ({e})"
        ))),
    }
}

/// Read `fields` as request `T`. The deprecated `run_uuid` stands in for a missing
/// `run_id`, as in MLflow.
pub fn parse<T: DeserializeOwned>(mut fields: Map<String, Value>) -> ApiResult<T> {
    let has_run_id = fields
        .get("run_id")
        .is_some_and(|v| !(v.is_null() || v.as_str() == Some("")));
    if !has_run_id && let Some(uuid) = fields.get("run_uuid").cloned() {
        fields.insert("run_id".into(), uuid);
    }
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let name = |field: Option<&str>| match (path.as_str(), field) {
            (".", Some(f)) => f.to_string(),
            (p, Some(f)) => format!("{p}.{f}"),
            (p, None) => p.to_string(),
        };
        match FieldProblem::of(&message) {
            Some((FieldProblem::Missing, field)) => ApiError::missing(&name(field)),
            Some((FieldProblem::Invalid { value, hint }, field)) => ApiError::invalid(format!(
                "Invalid value {value} for parameter '{}' supplied: Hint: {hint}",
                name(field)
            )),
            None => ApiError::invalid(format!(
                "Invalid value for parameter '{path}' supplied: {message}"
            )),
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::wire::{self, KeyValue, RunBatch, RunMetric};

    #[test]
    fn query_lists_and_decoding() {
        let f = from_query(Some("a=1&b=x%20y&a=2&c=p+q&d=%zz&e=%C3%A9"));
        assert_eq!(f["a"], serde_json::json!(["1", "2"]));
        assert_eq!(f["b"], "x y");
        assert_eq!(f["c"], "p q");
        assert_eq!(f["d"], "%zz");
        assert_eq!(f["e"], "é");
    }

    #[test]
    fn messages_name_the_field() {
        let json = |s: &str| from_json(s.as_bytes()).unwrap();
        let e = parse::<RunBatch>(json(
            r#"{"run_id": "r", "metrics": [{"key": "a", "value": 1}]}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.message,
            "Missing value for required parameter 'metrics[0].timestamp'."
        );
        let e = parse::<RunMetric>(json(
            r#"{"run_id": "r", "key": "a", "value": "abc", "timestamp": 1}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value \"abc\" for parameter 'value' supplied: Hint: a number is expected."
        );
        let e = parse::<KeyValue>(json(r#"{"key": ""}"#)).unwrap_err();
        assert_eq!(e.message, "Missing value for required parameter 'key'.");
        let r = parse::<wire::RunRef>(json(r#"{"run_uuid": "u"}"#)).unwrap();
        assert_eq!(r.run_id, "u");
        assert!(from_json(b"[1]").is_err());
        assert!(from_json(b"{").is_err());
        assert!(from_json(b"").is_ok());
    }
}
