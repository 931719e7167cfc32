//! Writing spaces in the schema's form.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::space::builder::Spec;
use crate::space::{ChoiceOption, Dist, Space, SpaceBuilder};

/// The space as TOML: one `name = { ... }` line per top-level parameter, sub-spaces inline.
pub(super) fn to_toml(space: &Space) -> String {
    let builder = SpaceBuilder::from(space);
    let mut out = String::new();
    for (name, spec) in &builder.specs {
        let mut value = String::new();
        if let Err(e) = SpecRef(spec).serialize(toml::ser::ValueSerializer::new(&mut value)) {
            // Specs hold only finite numbers, strings and bools, which TOML can always
            // represent; failing here would be a bug in this module, not bad input.
            unreachable!("a validated space is always valid TOML: {e}");
        }
        out.push_str(&toml_key(name));
        out.push_str(" = ");
        out.push_str(&value);
        out.push('\n');
    }
    out
}

/// A TOML key for a parameter name: bare when TOML allows it, quoted otherwise. Names
/// never hold quotes, backslashes or control characters (see `validate_name`), so
/// wrapping in double quotes needs no escaping.
fn toml_key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

/// Serialized in the schema's form: a map of `name = spec`.
impl Serialize for Space {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SpecsRef(&SpaceBuilder::from(self)).serialize(serializer)
    }
}

struct SpecsRef<'a>(&'a SpaceBuilder);

impl Serialize for SpecsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.specs.len()))?;
        for (name, spec) in &self.0.specs {
            map.serialize_entry(name, &SpecRef(spec))?;
        }
        map.end()
    }
}

struct SpecRef<'a>(&'a Spec);

impl Serialize for SpecRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let dist = match self.0 {
            Spec::Dist(Dist::Const(value)) => return value.serialize(serializer),
            Spec::Dist(dist) => dist,
            Spec::Choice(options) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("kind", "choice")?;
                map.serialize_entry("options", &OptionsRef(options))?;
                return map.end();
            }
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("kind", dist.kind())?;
        match *dist {
            Dist::Uniform { low, high } | Dist::LogUniform { low, high } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
            }
            Dist::QUniform { low, high, q } | Dist::QLogUniform { low, high, q } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
                map.serialize_entry("q", &q)?;
            }
            Dist::Normal { mu, sigma } | Dist::LogNormal { mu, sigma } => {
                map.serialize_entry("mu", &mu)?;
                map.serialize_entry("sigma", &sigma)?;
            }
            Dist::RandInt { low, high } => {
                map.serialize_entry("low", &low)?;
                map.serialize_entry("high", &high)?;
            }
            Dist::Choice { ref options } => map.serialize_entry("options", options)?,
            Dist::Const(ref value) => map.serialize_entry("value", value)?,
        }
        map.end()
    }
}

struct OptionsRef<'a>(&'a [ChoiceOption]);

impl Serialize for OptionsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for option in self.0 {
            if option.space.specs.is_empty() {
                seq.serialize_element(&option.value)?;
            } else {
                seq.serialize_element(&OptionRef(option))?;
            }
        }
        seq.end()
    }
}

struct OptionRef<'a>(&'a ChoiceOption);

impl Serialize for OptionRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("value", &self.0.value)?;
        map.serialize_entry("space", &SpecsRef(&self.0.space))?;
        map.end()
    }
}
