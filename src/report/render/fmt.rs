//! Number and text formatting shared by the renderers.

use crate::report::model::{Interval, ParamReport};
use crate::space::Value;

/// A number in at most 4 significant digits, scientific outside `[1e-3, 1e5)`; integers as
/// integers; `-` for NaN.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        return "-".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let a = x.abs();
    if x.fract() == 0.0 && a < 1e5 {
        return format!("{}", x as i64);
    }
    if !(1e-3..1e5).contains(&a) {
        return format!("{x:.2e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An optional number.
pub(crate) fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), num)
}

/// `[low, high]`.
pub(crate) fn interval(i: &Interval) -> String {
    format!("[{}, {}]", num(i.low), num(i.high))
}

/// A value as written in tables (strings without quotes).
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Float(x) => num(*x),
        other => other.to_string(),
    }
}

/// The kind column: `loguniform`, `randint (inferred)`.
pub(crate) fn kind(p: &ParamReport) -> String {
    if p.inferred {
        format!("{} (inferred)", p.kind)
    } else {
        p.kind.clone()
    }
}

/// A point as `a=1, b=x`.
pub(crate) fn point(p: &crate::space::Point) -> String {
    p.iter()
        .map(|(n, v)| format!("{n}={}", value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name made safe for file names: lowercase letters, digits, `-` and `_`.
pub(crate) fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "unnamed".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(1.5e-5), "1.50e-5");
        assert_eq!(num(123456.7), "1.23e5");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(f64::NAN), "-");
    }
}
