//! Points: the values of one trial, by name.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

use super::{FromValue, Value};

/// The hyperparameter values of one trial, by name, in the space's order.
///
/// Holds values, never indices: a `choice` between `"svm"` and `"tree"` reads back as the
/// string. Parameters inactive under the point's choices are absent.
///
/// ```
/// use hyperflow::space::{Point, Value};
///
/// let p = Point::from_entries(vec![("lr".into(), Value::Float(0.01)), ("depth".into(), Value::Int(6))]);
/// assert_eq!(p.get::<f64>("lr")?, 0.01);
/// assert_eq!(p.get::<u32>("depth")?, 6);
///
/// #[derive(serde::Deserialize)]
/// struct Params { lr: f64, depth: usize }
/// let params: Params = p.deserialize()?;
/// assert_eq!(params.depth, 6);
/// # Ok::<(), hyperflow::space::PointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Point {
    entries: Vec<(String, Value)>,
}

impl Point {
    /// A point with these values, in this order.
    pub fn from_entries(entries: Vec<(String, Value)>) -> Self {
        Point { entries }
    }

    /// Reads a value by name as `T` (see [`FromValue`] for the conversions allowed).
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T, PointError> {
        let value = self.value(name).ok_or_else(|| PointError::Missing {
            name: name.to_string(),
        })?;
        T::from_value(value).ok_or_else(|| PointError::WrongType {
            name: name.to_string(),
            value: value.clone(),
            wanted: T::type_name(),
        })
    }

    /// The value called `name`, if the point has it.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The names and values, in the space's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the point has no values.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets a value, replacing one of the same name or appending.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The point as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.entries
                .iter()
                .map(|(n, v)| (n.clone(), v.to_json()))
                .collect(),
        )
    }

    /// Converts the point into the user's own type through serde, as if it were the map
    /// `{name: value, ...}`.
    ///
    /// Parameters that may be inactive belong in `Option` fields (or
    /// `#[serde(default)]`). A choice of strings reads into an enum of unit variants. Like
    /// [`get`](Point::get), integral reals (what `quniform` yields) read into integer
    /// fields, except under `#[serde(flatten)]`, where serde buffers values without knowing
    /// their target type: declare such fields `f64` there.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, PointError> {
        let entries = self.entries.iter().map(|(n, v)| {
            (
                n.as_str(),
                ValueDeserializer::<serde::de::value::Error>::new(v),
            )
        });
        T::deserialize(serde::de::value::MapDeserializer::new(entries)).map_err(|e| {
            PointError::Deserialize {
                message: e.to_string(),
            }
        })
    }
}

/// Hands one [`Value`] to serde, reading integral reals as integers where an integer is
/// asked for, by the same rule as [`FromValue`].
struct ValueDeserializer<'a, E> {
    value: &'a Value,
    error: PhantomData<E>,
}

impl<'a, E> ValueDeserializer<'a, E> {
    fn new(value: &'a Value) -> Self {
        ValueDeserializer {
            value,
            error: PhantomData,
        }
    }
}

impl<'de, E: de::Error> IntoDeserializer<'de, E> for ValueDeserializer<'_, E> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

macro_rules! deserialize_integers {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            match i64::from_value(self.value) {
                Some(i) => visitor.visit_i64(i),
                None => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de, E: de::Error> Deserializer<'de> for ValueDeserializer<'_, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        match self.value {
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(x) => visitor.visit_f64(*x),
            Value::Str(s) => visitor.visit_str(s),
            Value::Bool(b) => visitor.visit_bool(*b),
        }
    }

    deserialize_integers!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, E> {
        match self.value {
            Value::Str(s) => s
                .as_str()
                .into_deserializer()
                .deserialize_enum(name, variants, visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl Serialize for Point {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (n, v) in &self.entries {
            map.serialize_entry(n, v)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Point {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from parameter names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Point, A::Error> {
                let mut point = Point::default();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    point.insert(name, value);
                }
                Ok(point)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// `{lr: 0.01, model: "svm"}`
impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.entries.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{n}: {}", v.quoted())?;
        }
        f.write_str("}")
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Point {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut point = Point::default();
        for (k, v) in iter {
            point.insert(k, v);
        }
        point
    }
}

/// Why a value could not be read from a point, or a point does not fit a space.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PointError {
    /// The point has no value of that name (it may be inactive under the point's choices).
    #[error(
        "the point has no parameter `{name}` (is it conditional on a choice that was not taken?)"
    )]
    Missing {
        /// The parameter.
        name: String,
    },
    /// The value cannot be read as the type asked for.
    #[error("parameter `{name}` is {}, which cannot be read as {wanted}", value.quoted())]
    WrongType {
        /// The parameter.
        name: String,
        /// The value the point holds.
        value: Value,
        /// The type asked for.
        wanted: &'static str,
    },
    /// The point names a parameter the space does not have.
    #[error("the space has no parameter `{name}`")]
    UnknownParam {
        /// The parameter.
        name: String,
    },
    /// A value lies outside its parameter's distribution.
    #[error("parameter `{name}` = {} is outside the space: expected {expected}", value.quoted())]
    OutOfSpace {
        /// The parameter.
        name: String,
        /// The value the point holds.
        value: Value,
        /// What the space accepts for it.
        expected: String,
    },
    /// A value written as text cannot be read as its parameter's kind needs.
    #[error("parameter `{name}` = `{text}` cannot be read: expected {expected}")]
    Unreadable {
        /// The parameter.
        name: String,
        /// The text given.
        text: String,
        /// What the space accepts for it.
        expected: String,
    },
    /// The point does not deserialize into the requested type.
    #[error("the point does not fit the requested type: {message}")]
    Deserialize {
        /// serde's description of the mismatch.
        message: String,
    },
}
