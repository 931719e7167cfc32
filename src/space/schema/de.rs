//! Reading spaces in the schema's form, validating each parameter as it is read.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::{SchemaErrorKind, quoted, raise};
use super::{KINDS, OPTION_FIELDS, SPEC_FIELDS, allowed_fields};
use crate::space::builder::{Spec, check_unique, validate_name, validate_param};
use crate::space::{ChoiceOption, Dist, FromValue, Space, SpaceBuilder, Value};
use crate::suggest::did_you_mean;

/// Reads a space in the schema's form, validating each parameter as it is read so that
/// `toml` and `serde_json` report errors at the offending key or value.
impl<'de> Deserialize<'de> for Space {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seen = RefCell::new(Vec::new());
        let builder = SpaceSeed {
            seen: &seen,
            parent: None,
        }
        .deserialize(deserializer)?;
        // Every rule was checked while reading; building again cannot fail, but if it
        // ever did, reporting beats panicking.
        builder
            .build()
            .map_err(|e| raise(SchemaErrorKind::Invalid(e)))
    }
}

/// Implements a visitor's scalar `visit_*` methods by handing the scalar, as a [`Value`],
/// to `self.$method`: every reader treats strings, numbers and bools alike and differs
/// only in what it does with one.
macro_rules! visit_scalars {
    ($method:ident) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.$method(Value::Bool(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.$method(Value::Int(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.$method(scalar_from_u64(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.$method(Value::Float(v))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.$method(Value::Str(v.to_string()))
        }
    };
}

/// Makes visitors their own seeds: each reads with the given `Deserializer` method.
/// `deserialize_any` rather than `deserialize_map` (or `_str`, `_seq`) wherever a value of
/// the wrong shape must reach the visitor, to get this module's error instead of the
/// format's generic one.
macro_rules! seeds_are_visitors {
    ($($seed:ident => $method:ident),* $(,)?) => {
        $(
            impl<'de> DeserializeSeed<'de> for $seed<'_> {
                type Value = <Self as Visitor<'de>>::Value;
                fn deserialize<D: Deserializer<'de>>(
                    self,
                    deserializer: D,
                ) -> Result<Self::Value, D::Error> {
                    deserializer.$method(self)
                }
            }
        )*
    };
}

seeds_are_visitors!(
    SpaceSeed => deserialize_any,
    NameSeed => deserialize_str,
    SpecSeed => deserialize_any,
    FieldSeed => deserialize_str,
    ScalarSeed => deserialize_any,
    OptionsSeed => deserialize_seq,
    OptionSeed => deserialize_any,
);

/// Names declared so far, anywhere in the tree, in declaration order.
type Seen = RefCell<Vec<String>>;

/// How a value that is neither a table nor a scalar is described in errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("the string {s:?}"),
        other => format!("the {} {other}", other.type_name()),
    }
}

/// Reads a table of `name = spec` entries: the whole space, or an option's sub-space.
struct SpaceSeed<'a> {
    seen: &'a Seen,
    /// The choice whose option holds this sub-space; `None` at the top level.
    parent: Option<&'a str>,
}

impl SpaceSeed<'_> {
    fn reject_scalar<E: de::Error>(self, value: Value) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type(&describe(&value)))
    }

    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(match self.parent {
            None => SchemaErrorKind::NotATable {
                found: found.to_string(),
            },
            Some(param) => SchemaErrorKind::WrongType {
                param: param.to_string(),
                field: Some("space"),
                expected: "a table of `name = spec` entries",
                found: found.to_string(),
            },
        })
    }
}

impl<'de> Visitor<'de> for SpaceSeed<'_> {
    type Value = SpaceBuilder;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of `name = spec` entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpaceBuilder, A::Error> {
        let mut builder = SpaceBuilder::default();
        while let Some(name) = map.next_key_seed(NameSeed { seen: self.seen })? {
            let spec = map.next_value_seed(SpecSeed {
                name: &name,
                seen: self.seen,
            })?;
            builder.specs.push((name, spec));
        }
        Ok(builder)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<SpaceBuilder, A::Error> {
        Err(self.wrong_type("an array"))
    }

    visit_scalars!(reject_scalar);

    fn visit_unit<E: de::Error>(self) -> Result<SpaceBuilder, E> {
        Err(self.wrong_type("null"))
    }
}

/// Reads a parameter name, checking it is valid and not declared before.
struct NameSeed<'a> {
    seen: &'a Seen,
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a parameter name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<String, E> {
        let mut seen = self.seen.borrow_mut();
        validate_name(name)
            .and_then(|()| check_unique(name, seen.iter().map(String::as_str)))
            .map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        seen.push(name.to_string());
        Ok(name.to_string())
    }
}

/// Reads one parameter's spec: a table with a `kind`, or a bare constant.
struct SpecSeed<'a> {
    name: &'a str,
    seen: &'a Seen,
}

impl SpecSeed<'_> {
    fn constant<E: de::Error>(self, value: Value) -> Result<Spec, E> {
        let dist = Dist::Const(value);
        validate_param(self.name, &dist).map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        Ok(Spec::Dist(dist))
    }

    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: self.name.to_string(),
            field: None,
            expected: "a spec table like `{ kind = \"uniform\", low = 0, high = 1 }` \
                       or a constant (string, number or bool)",
            found: found.to_string(),
        })
    }
}

impl<'de> Visitor<'de> for SpecSeed<'_> {
    type Value = Spec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a spec table or a constant")
    }

    visit_scalars!(constant);

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Spec, A::Error> {
        Err(self.wrong_type("an array"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Spec, E> {
        Err(self.wrong_type("null"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spec, A::Error> {
        let param = self.name;
        let mut kind: Option<&'static str> = None;
        let mut numbers: Vec<(&'static str, Value)> = Vec::new();
        let mut options: Option<Vec<ChoiceOption>> = None;
        let mut value: Option<Value> = None;
        let mut given: Vec<&'static str> = Vec::new();
        while let Some(field) = map.next_key_seed(FieldSeed {
            param,
            kind,
            allowed: kind.map_or_else(|| SPEC_FIELDS.to_vec(), allowed_fields),
        })? {
            if given.contains(&field) {
                return Err(raise(SchemaErrorKind::DuplicateField {
                    param: param.to_string(),
                    field: field.to_string(),
                }));
            }
            given.push(field);
            match field {
                "kind" => kind = Some(map.next_value_seed(KindSeed { param })?),
                "options" => {
                    options = Some(map.next_value_seed(OptionsSeed {
                        param,
                        seen: self.seen,
                    })?);
                }
                "value" => {
                    value = Some(map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect: Expect::Scalar,
                    })?);
                }
                _ => {
                    let expect = Expect::for_field(kind, field);
                    let x = map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect,
                    })?;
                    numbers.push((field, x));
                }
            }
        }

        let Some(kind) = kind else {
            return Err(raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: None,
                field: "kind",
            }));
        };
        // Fields read before `kind` could not be checked against it then.
        let allowed = allowed_fields(kind);
        if let Some(field) = given.iter().find(|f| !allowed.contains(f)) {
            return Err(raise(unknown_field(param, Some(kind), field, allowed)));
        }
        let missing = |field: &'static str| {
            raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: Some(kind),
                field,
            })
        };
        let number = |field: &'static str| -> Result<f64, A::Error> {
            let (_, v) = numbers
                .iter()
                .find(|(f, _)| *f == field)
                .ok_or_else(|| missing(field))?;
            Expect::Number.check(param, field, v)?;
            Ok(v.as_f64().unwrap_or(f64::NAN))
        };
        let integer = |field: &'static str| -> Result<i64, A::Error> {
            let (_, v) = numbers
                .iter()
                .find(|(f, _)| *f == field)
                .ok_or_else(|| missing(field))?;
            Expect::Integer.check(param, field, v)?;
            Ok(i64::from_value(v).unwrap_or_default())
        };
        let spec = match kind {
            "uniform" => Spec::Dist(Dist::Uniform {
                low: number("low")?,
                high: number("high")?,
            }),
            "loguniform" => Spec::Dist(Dist::LogUniform {
                low: number("low")?,
                high: number("high")?,
            }),
            "quniform" => Spec::Dist(Dist::QUniform {
                low: number("low")?,
                high: number("high")?,
                q: number("q")?,
            }),
            "qloguniform" => Spec::Dist(Dist::QLogUniform {
                low: number("low")?,
                high: number("high")?,
                q: number("q")?,
            }),
            "normal" => Spec::Dist(Dist::Normal {
                mu: number("mu")?,
                sigma: number("sigma")?,
            }),
            "lognormal" => Spec::Dist(Dist::LogNormal {
                mu: number("mu")?,
                sigma: number("sigma")?,
            }),
            "randint" => Spec::Dist(Dist::RandInt {
                low: integer("low")?,
                high: integer("high")?,
            }),
            "const" => Spec::Dist(Dist::Const(value.ok_or_else(|| missing("value"))?)),
            _ => Spec::Choice(options.ok_or_else(|| missing("options"))?),
        };
        let checked = match &spec {
            Spec::Dist(dist) => validate_param(param, dist),
            Spec::Choice(options) => validate_param(
                param,
                &Dist::Choice {
                    options: options.iter().map(|o| o.value.clone()).collect(),
                },
            ),
        };
        checked.map_err(|e| raise(SchemaErrorKind::Invalid(e)))?;
        Ok(spec)
    }
}

fn unknown_field(
    param: &str,
    kind: Option<&'static str>,
    field: &str,
    expected: Vec<&'static str>,
) -> SchemaErrorKind {
    SchemaErrorKind::UnknownField {
        param: param.to_string(),
        kind,
        field: field.to_string(),
        suggestion: did_you_mean(field, expected.iter().copied()),
        expected,
    }
}

/// Reads a field name of a spec or option table, rejecting fields not in `allowed`.
struct FieldSeed<'a> {
    param: &'a str,
    kind: Option<&'static str>,
    allowed: Vec<&'static str>,
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "one of {}", quoted(&self.allowed))
    }

    fn visit_str<E: de::Error>(self, field: &str) -> Result<&'static str, E> {
        match self.allowed.iter().find(|f| **f == field) {
            Some(f) => Ok(f),
            None => Err(raise(unknown_field(
                self.param,
                self.kind,
                field,
                self.allowed,
            ))),
        }
    }
}

/// Reads a spec's `kind`.
struct KindSeed<'a> {
    param: &'a str,
}

impl<'de> DeserializeSeed<'de> for KindSeed<'_> {
    type Value = &'static str;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let value = ScalarSeed {
            param: self.param,
            field: "kind",
            expect: Expect::Kind,
        }
        .deserialize(deserializer)?;
        // `Expect::Kind` has already rejected anything but a known kind's name.
        match value {
            Value::Str(kind) => KINDS.iter().find(|k| **k == kind).copied(),
            _ => None,
        }
        .ok_or_else(|| de::Error::custom("a kind was accepted that is not in KINDS"))
    }
}

/// What a scalar field accepts.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An integer, or a real with an integral value.
    Integer,
    /// An integer or a real.
    Number,
    /// One of [`KINDS`].
    Kind,
    /// A string, number or bool.
    Scalar,
}

impl Expect {
    /// What a numeric field of `kind` accepts; with `kind` not yet known, any number, and
    /// the stricter check waits until the end of the table.
    fn for_field(kind: Option<&str>, field: &str) -> Expect {
        match (kind, field) {
            (Some("randint"), "low" | "high") => Expect::Integer,
            _ => Expect::Number,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Expect::Integer => "an integer",
            Expect::Number => "a number",
            Expect::Kind => "a string naming the kind",
            Expect::Scalar => "a string, number or bool",
        }
    }

    /// Checks `value` of `param.field`, raising the typed error where it does not fit.
    fn check<E: de::Error>(self, param: &str, field: &'static str, value: &Value) -> Result<(), E> {
        let fits = match self {
            Expect::Integer => i64::from_value(value).is_some(),
            Expect::Number => value.as_f64().is_some(),
            Expect::Kind => match value {
                Value::Str(found) => {
                    if KINDS.contains(&found.as_str()) {
                        true
                    } else {
                        return Err(raise(SchemaErrorKind::UnknownKind {
                            param: param.to_string(),
                            found: found.clone(),
                            suggestion: did_you_mean(found, KINDS),
                        }));
                    }
                }
                _ => false,
            },
            Expect::Scalar => true,
        };
        if fits {
            Ok(())
        } else {
            Err(self.wrong_type(param, field, &describe(value)))
        }
    }

    fn wrong_type<E: de::Error>(self, param: &str, field: &'static str, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: param.to_string(),
            field: Some(field),
            expected: self.describe(),
            found: found.to_string(),
        })
    }
}

/// Integers beyond `i64` are kept as the nearest real, so they still read as numbers.
fn scalar_from_u64(v: u64) -> Value {
    i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
}

/// Reads one scalar field, checked against `expect` while it is read.
struct ScalarSeed<'a> {
    param: &'a str,
    field: &'static str,
    expect: Expect,
}

impl ScalarSeed<'_> {
    fn scalar<E: de::Error>(self, value: Value) -> Result<Value, E> {
        self.expect.check(self.param, self.field, &value)?;
        Ok(value)
    }
}

impl<'de> Visitor<'de> for ScalarSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expect.describe())
    }

    visit_scalars!(scalar);

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.expect.wrong_type(self.param, self.field, "an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.expect.wrong_type(self.param, self.field, "a table"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(self.expect.wrong_type(self.param, self.field, "null"))
    }
}

/// Reads a choice's `options` array.
struct OptionsSeed<'a> {
    param: &'a str,
    seen: &'a Seen,
}

impl OptionsSeed<'_> {
    fn reject_scalar<E: de::Error>(self, value: Value) -> Result<Vec<ChoiceOption>, E> {
        Err(self.wrong_type(&describe(&value)))
    }

    fn wrong_type<E: de::Error>(&self, found: &str) -> E {
        raise(SchemaErrorKind::WrongType {
            param: self.param.to_string(),
            field: Some("options"),
            expected: "an array of options",
            found: found.to_string(),
        })
    }
}

impl<'de> Visitor<'de> for OptionsSeed<'_> {
    type Value = Vec<ChoiceOption>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of options")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut options = Vec::new();
        while let Some(option) = seq.next_element_seed(OptionSeed {
            param: self.param,
            seen: self.seen,
        })? {
            options.push(option);
        }
        Ok(options)
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong_type("a table"))
    }

    visit_scalars!(reject_scalar);

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong_type("null"))
    }
}

/// Reads one choice option: a plain value, or `{ value = ..., space = { ... } }`.
struct OptionSeed<'a> {
    param: &'a str,
    seen: &'a Seen,
}

impl OptionSeed<'_> {
    fn plain<E: de::Error>(self, value: Value) -> Result<ChoiceOption, E> {
        Ok(value.into())
    }
}

impl<'de> Visitor<'de> for OptionSeed<'_> {
    type Value = ChoiceOption;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, bool, or `{ value = ..., space = { ... } }`")
    }

    visit_scalars!(plain);

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<ChoiceOption, A::Error> {
        Err(raise(SchemaErrorKind::WrongType {
            param: self.param.to_string(),
            field: Some("options"),
            expected: "options that are strings, numbers, bools, or \
                       `{ value = ..., space = { ... } }`",
            found: "an array".to_string(),
        }))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChoiceOption, A::Error> {
        let param = self.param;
        let mut value = None;
        let mut space = None;
        while let Some(field) = map.next_key_seed(FieldSeed {
            param,
            kind: None,
            allowed: OPTION_FIELDS.to_vec(),
        })? {
            let duplicate = match field {
                "value" => value
                    .replace(map.next_value_seed(ScalarSeed {
                        param,
                        field,
                        expect: Expect::Scalar,
                    })?)
                    .is_some(),
                _ => space
                    .replace(map.next_value_seed(SpaceSeed {
                        seen: self.seen,
                        parent: Some(param),
                    })?)
                    .is_some(),
            };
            if duplicate {
                return Err(raise(SchemaErrorKind::DuplicateField {
                    param: param.to_string(),
                    field: field.to_string(),
                }));
            }
        }
        let value = value.ok_or_else(|| {
            raise(SchemaErrorKind::MissingField {
                param: param.to_string(),
                kind: None,
                field: "value",
            })
        })?;
        Ok(ChoiceOption::new(value, space.unwrap_or_default()))
    }
}
