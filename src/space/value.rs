//! The values a point holds, and typed access to them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One hyperparameter value: what a point holds, what `choice` options and constants are.
///
/// Serialized without a tag: `1.5`, `3`, `"rbf"`, `true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer (`randint`, integer `choice` options and constants).
    Int(i64),
    /// A real number (continuous and quantized kinds).
    Float(f64),
    /// A string (`choice` options and constants).
    Str(String),
    /// A boolean (`choice` options and constants).
    Bool(bool),
}

impl Value {
    /// The value as a real number, if it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(x) => Some(x),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }

    /// Whether two values stand for the same option: equal, or numerically equal (`2` and
    /// `2.0`), since points read from JSON or TOML may spell a number either way.
    pub(crate) fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                self.as_f64() == other.as_f64()
            }
            _ => self == other,
        }
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bool(_) => "bool",
        }
    }

    /// The value as a config or a point spells it, for messages: strings quoted (`"rf"`),
    /// numbers and booleans as they are (`0.5`, `3`, `true`).
    ///
    /// ```
    /// use hyperflow::Value;
    /// assert_eq!(Value::from("rf").quoted().to_string(), r#""rf""#);
    /// assert_eq!(Value::from(500).quoted().to_string(), "500");
    /// ```
    pub fn quoted(&self) -> Quoted<'_> {
        Quoted(self)
    }

    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or_else(
                || serde_json::Value::String(x.to_string()),
                serde_json::Value::Number,
            ),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

/// A [`Value`] written for people, strings quoted: see [`Value::quoted`].
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a Value);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Str(s) => write!(f, "{s:?}"),
            v => write!(f, "{v}"),
        }
    }
}

/// Formats the value as it is logged as a tracking param and substituted into commands:
/// strings bare, numbers in their shortest round-tripping form.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

macro_rules! value_from {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
    )*};
}
value_from!(Int: i64, i32, i16, i8, u32, u16, u8);
value_from!(Float: f64, f32);
value_from!(Str: String, &str);
value_from!(Bool: bool);

/// Types a [`Value`] can be read as with [`Point::get`](crate::space::Point::get).
///
/// Integers read as floats; floats with an integral value (as `quniform` yields) read as
/// integers; anything else must match the value's own type.
pub trait FromValue: Sized {
    /// Converts the value, or returns `None` when it cannot be represented.
    fn from_value(value: &Value) -> Option<Self>;
    /// The type's name, for error messages.
    fn type_name() -> &'static str;
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_f64()
    }
    fn type_name() -> &'static str {
        "f64"
    }
}

impl FromValue for f32 {
    fn from_value(value: &Value) -> Option<Self> {
        value.as_f64().map(|x| x as f32)
    }
    fn type_name() -> &'static str {
        "f32"
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Option<Self> {
                let wide: i64 = match *value {
                    Value::Int(i) => i,
                    Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => x as i64,
                    _ => return None,
                };
                <$t>::try_from(wide).ok()
            }
            fn type_name() -> &'static str {
                stringify!($t)
            }
        }
    )*};
}
int_from_value!(i64, i32, i16, i8, u64, u32, u16, u8, usize, isize);

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match *value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn type_name() -> &'static str {
        "bool"
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn type_name() -> &'static str {
        "String"
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
    fn type_name() -> &'static str {
        "Value"
    }
}
