//! The recommended ranges as a [`Space`] for the next search.

use super::ReportError;
use super::model::{GroupReport, Report};
use crate::space::{Condition, Dist, Space, SpaceBuilder, Value};

/// Adds one non-choice parameter to a builder.
fn add(builder: SpaceBuilder, name: &str, dist: &Dist) -> SpaceBuilder {
    match dist {
        Dist::Uniform { low, high } => builder.uniform(name, *low, *high),
        Dist::LogUniform { low, high } => builder.loguniform(name, *low, *high),
        Dist::QUniform { low, high, q } => builder.quniform(name, *low, *high, *q),
        Dist::QLogUniform { low, high, q } => builder.qloguniform(name, *low, *high, *q),
        Dist::Normal { mu, sigma } => builder.normal(name, *mu, *sigma),
        Dist::LogNormal { mu, sigma } => builder.lognormal(name, *mu, *sigma),
        Dist::RandInt { low, high } => builder.randint(name, *low, *high),
        Dist::Choice { options } => builder.choice(name, options.iter().cloned()),
        Dist::Const(v) => builder.constant(name, v.clone()),
    }
}

/// Rebuilds the declared space's tree with each parameter's recommended distribution;
/// options a recommendation drops take their sub-spaces with them.
fn rebuild(
    space: &Space,
    parent: Option<Condition>,
    next: &dyn Fn(&str) -> Option<Dist>,
) -> SpaceBuilder {
    let mut builder = Space::builder();
    for (i, p) in space.params().iter().enumerate() {
        if p.parent != parent {
            continue;
        }
        let dist = next(&p.name).unwrap_or_else(|| p.dist.clone());
        builder = match (&p.dist, &dist) {
            (Dist::Choice { options: declared }, Dist::Choice { options: kept }) => {
                let options: Vec<(Value, SpaceBuilder)> = declared
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| kept.contains(v))
                    .map(|(option, v)| {
                        let sub = rebuild(space, Some(Condition { param: i, option }), next);
                        (v.clone(), sub)
                    })
                    .collect();
                builder.choice(p.name.as_str(), options)
            }
            _ => add(builder, &p.name, &dist),
        };
    }
    builder
}

/// A group's next space: its declared space's structure (conditional sub-spaces kept) with
/// the recommended distributions, plus undeclared parameters at the top level; without a
/// declared space, a flat space of the (inferred) recommendations.
pub(crate) fn group_space(group: &GroupReport) -> Result<Space, ReportError> {
    let next = |name: &str| {
        group
            .params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.next.clone())
    };
    build(
        group.space.as_ref(),
        group.params.iter().map(|p| (p.name.as_str(), &p.next)),
        &next,
    )
}

fn build<'a>(
    template: Option<&Space>,
    all: impl Iterator<Item = (&'a str, &'a Dist)>,
    next: &dyn Fn(&str) -> Option<Dist>,
) -> Result<Space, ReportError> {
    let mut builder = match template {
        Some(space) => rebuild(space, None, next),
        None => Space::builder(),
    };
    for (name, dist) in all {
        if template.is_some_and(|s| s.index_of(name).is_some()) {
            continue;
        }
        builder = add(builder, name, dist);
    }
    builder.build().map_err(ReportError::Space)
}

impl Report {
    /// The space recommended for the next search: with several groups, the house ranges
    /// (structured like the first group with a declared space); with one, that group's
    /// recommendations. Parameters left alone keep their searched distribution.
    ///
    /// Errors with [`ReportError::NoGroups`] for a report of no group, and with
    /// [`ReportError::Space`] if the recommendation does not make a valid space.
    pub fn next_space(&self) -> Result<Space, ReportError> {
        match (&self.house, self.groups.as_slice()) {
            (_, []) => Err(ReportError::NoGroups),
            (None, [group, ..]) => group.next_space(),
            (Some(house), groups) => {
                let template = groups.iter().find_map(|g| g.space.as_ref());
                let next = |name: &str| {
                    house
                        .params
                        .iter()
                        .find(|p| p.name == name)
                        .map(|p| p.next.clone())
                };
                build(
                    template,
                    house.params.iter().map(|p| (p.name.as_str(), &p.next)),
                    &next,
                )
            }
        }
    }

    /// [`Report::next_space`] in the sweep/`fmin` TOML schema, ready to paste into the
    /// `[space]` table of a `sweep.toml`.
    pub fn next_space_toml(&self) -> Result<String, ReportError> {
        self.next_space().map(|s| s.to_toml_string())
    }
}
