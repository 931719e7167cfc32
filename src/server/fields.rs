//! Request fields, read the way MLflow's protobuf `ParseDict` reads them: GET fields from
//! the query string (a repeated key is a list), POST fields from a JSON object; unknown
//! fields ignored; int64 as a number or a numeric string; doubles also as `"NaN"`,
//! `"Infinity"`, `"-Infinity"`; an empty string counts as missing for required fields.

use super::error::{ApiError, ApiResult};
use crate::tracking::ViewType;
use serde_json::{Map, Value};

/// The fields of one request (or of one item of a list field, with a name prefix such as
/// `metrics[0].` for error messages).
#[derive(Debug, Clone, Default)]
pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Fields {
    /// Fields from a URL query string; a repeated key becomes a list.
    pub fn from_query(query: Option<&str>) -> Fields {
        let mut map = Map::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (percent_decode(k), Value::String(percent_decode(v)));
            match map.get_mut(&k) {
                Some(Value::Array(list)) => list.push(v),
                Some(old) => {
                    let first = old.take();
                    *old = Value::Array(vec![first, v]);
                }
                None => {
                    map.insert(k, v);
                }
            }
        }
        Fields {
            map,
            prefix: String::new(),
        }
    }

    /// Fields from a JSON body; an empty body is `{}`.
    pub fn from_json(body: &[u8]) -> ApiResult<Fields> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields {
                map,
                prefix: String::new(),
            }),
            Ok(other) => Err(ApiError::invalid(format!(
                "Malformed request body: expected a JSON object, got {}",
                kind(&other)
            ))),
            Err(e) => Err(ApiError::invalid(format!(
                "Malformed request body: invalid JSON ({e})"
            ))),
        }
    }

    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn get(&self, field: &str) -> Option<&Value> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Is the field present (and not null)?
    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// An optional string field (numbers and booleans are accepted and turned into text).
    pub fn opt_str(&self, field: &str) -> ApiResult<Option<String>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(Value::Array(a)) if a.len() == 1 => Fields::one(field, &a[0], &self.prefix),
            Some(v) => Err(ApiError::invalid_value(
                &self.name(field),
                v,
                "a string is expected.",
            )),
        }
    }

    fn one(field: &str, v: &Value, prefix: &str) -> ApiResult<Option<String>> {
        match v {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            v => Err(ApiError::invalid_value(
                &format!("{prefix}{field}"),
                v,
                "a string is expected.",
            )),
        }
    }

    /// A string field that may be absent but, when present, may be empty.
    pub fn str_or_empty(&self, field: &str) -> ApiResult<String> {
        Ok(self.opt_str(field)?.unwrap_or_default())
    }

    /// A required string field; empty counts as missing.
    pub fn req_str(&self, field: &str) -> ApiResult<String> {
        match self.opt_str(field)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(&self.name(field))),
        }
    }

    /// An optional int64: a JSON integer or a numeric string.
    pub fn opt_i64(&self, field: &str) -> ApiResult<Option<i64>> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let bad = || ApiError::invalid_value(&self.name(field), v, "an integer is expected.");
        match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(bad),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// A required int64.
    pub fn req_i64(&self, field: &str) -> ApiResult<i64> {
        self.opt_i64(field)?
            .ok_or_else(|| ApiError::missing(&self.name(field)))
    }

    /// An optional double: a JSON number, a numeric string, `"NaN"`, `"Infinity"`,
    /// `"-Infinity"`.
    pub fn opt_f64(&self, field: &str) -> ApiResult<Option<f64>> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let bad = || ApiError::invalid_value(&self.name(field), v, "a number is expected.");
        match v {
            Value::Number(n) => n.as_f64().map(Some).ok_or_else(bad),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => parse_f64(s).map(Some).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// A required double.
    pub fn req_f64(&self, field: &str) -> ApiResult<f64> {
        self.opt_f64(field)?
            .ok_or_else(|| ApiError::missing(&self.name(field)))
    }

    /// A list of strings: a JSON array of strings, one string, or repeated query keys.
    pub fn str_list(&self, field: &str) -> ApiResult<Vec<String>> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| Fields::one(field, v, &self.prefix).map(Option::unwrap_or_default))
                .collect(),
            Some(v) => Ok(Fields::one(field, v, &self.prefix)?.into_iter().collect()),
        }
    }

    /// A list of objects (e.g. `tags`, `metrics`), each as [`Fields`] with a prefix such as
    /// `metrics[3].` for messages.
    pub fn obj_list(&self, field: &str) -> ApiResult<Vec<Fields>> {
        let items = match self.get(field) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(v) => {
                return Err(ApiError::invalid_value(
                    &self.name(field),
                    v,
                    "a list of objects is expected.",
                ));
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(map) => Ok(Fields {
                    map: map.clone(),
                    prefix: format!("{}{field}[{i}].", self.prefix),
                }),
                v => Err(ApiError::invalid_value(
                    &format!("{}{field}[{i}]", self.prefix),
                    v,
                    "an object is expected.",
                )),
            })
            .collect()
    }

    /// A `ViewType` given by name (`ACTIVE_ONLY`, `DELETED_ONLY`, `ALL`) or number (1, 2, 3).
    pub fn view_type(&self, field: &str) -> ApiResult<ViewType> {
        let Some(v) = self.get(field) else {
            return Ok(ViewType::ActiveOnly);
        };
        let text = match v {
            Value::String(s) => s.trim().to_ascii_uppercase(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        match text.as_str() {
            "" | "ACTIVE_ONLY" | "1" => Ok(ViewType::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(ViewType::DeletedOnly),
            "ALL" | "3" => Ok(ViewType::All),
            _ => Err(ApiError::invalid_value(
                &self.name(field),
                v,
                "one of ACTIVE_ONLY, DELETED_ONLY, ALL is expected.",
            )),
        }
    }
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

/// Parse a double as protobuf JSON does, including `NaN`, `Infinity`, `-Infinity`.
pub fn parse_f64(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_lists_and_decoding() {
        let f = Fields::from_query(Some("a=1&b=x%20y&a=2&c=p+q&d=%zz"));
        assert_eq!(f.str_list("a").unwrap(), vec!["1", "2"]);
        assert_eq!(f.req_str("b").unwrap(), "x y");
        assert_eq!(f.req_str("c").unwrap(), "p q");
        assert_eq!(f.req_str("d").unwrap(), "%zz");
        assert!(f.req_str("zz").is_err());
    }

    #[test]
    fn numbers() {
        let f = Fields::from_json(
            br#"{"a": "17", "b": 18, "c": "NaN", "d": "-Infinity", "e": "x", "f": 1.5}"#,
        )
        .unwrap();
        assert_eq!(f.req_i64("a").unwrap(), 17);
        assert_eq!(f.req_i64("b").unwrap(), 18);
        assert!(f.req_f64("c").unwrap().is_nan());
        assert_eq!(f.req_f64("d").unwrap(), f64::NEG_INFINITY);
        assert!(f.req_i64("e").is_err());
        assert!(f.req_f64("e").is_err());
        assert!(f.req_i64("f").is_err());
        assert!(Fields::from_json(b"[1]").is_err());
        assert!(Fields::from_json(b"{").is_err());
        assert!(Fields::from_json(b"").is_ok());
    }
}
