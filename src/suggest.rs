//! "Did you mean ...?" suggestions for misspelt names in configuration files.

/// The candidate closest to `word`, if one is close enough to be a plausible typo.
///
/// Closeness is the optimal-string-alignment distance (insertions, deletions,
/// substitutions and swaps of adjacent characters, so `logunifrom` finds `loguniform`),
/// compared case-insensitively. A candidate qualifies when it is at most a third of the
/// longer word away (and at least one edit is allowed), which keeps short words from
/// matching everything. Ties go to the earliest candidate, so callers list the likelier
/// names first.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let length = word.chars().count();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            let distance = strsim::osa_distance(&word, &lower);
            let limit = (length.max(lower.chars().count()) / 3).max(1);
            (distance <= limit).then_some((distance, candidate))
        })
        // `min_by_key` keeps the first of equally close candidates.
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The one of `all` that `name` names (`name_of`), case-insensitively and ignoring
/// surrounding whitespace; else the closest name, if one is close ([`did_you_mean`]).
pub(crate) fn by_name<T: Copy>(
    name: &str,
    all: &[T],
    name_of: impl Fn(T) -> &'static str,
) -> Result<T, Option<&'static str>> {
    let wanted = name.trim();
    all.iter()
        .copied()
        .find(|&t| name_of(t).eq_ignore_ascii_case(wanted))
        .ok_or_else(|| did_you_mean(wanted, all.iter().map(|&t| name_of(t))))
}

/// A name that is none of a kind's names (a [`TrialState`](crate::TrialState)'s, a
/// [`StopReason`](crate::StopReason)'s): what was given, what is taken, the closest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown {what} {name:?}: expected one of {expected}{}",
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s:?}?"))
)]
pub struct UnknownName {
    /// What the name was to name (`trial state`).
    pub what: &'static str,
    /// The name given.
    pub name: String,
    /// The names taken, quoted and comma-separated.
    pub expected: String,
    /// The closest name taken, if one is close.
    pub suggestion: Option<&'static str>,
}

impl UnknownName {
    /// The one of `all` that `name` names ([`by_name`]), else the error saying so.
    pub(crate) fn parse<T: Copy>(
        what: &'static str,
        name: &str,
        all: &[T],
        name_of: impl Fn(T) -> &'static str + Copy,
    ) -> Result<T, UnknownName> {
        by_name(name, all, name_of).map_err(|suggestion| UnknownName {
            what,
            name: name.to_string(),
            expected: quoted_list(all, name_of),
            suggestion,
        })
    }
}

/// The names of `all`, quoted and comma-separated, for messages (`"none", "median"`).
pub(crate) fn quoted_list<T: Copy>(all: &[T], name_of: impl Fn(T) -> &'static str) -> String {
    let names: Vec<String> = all.iter().map(|&t| format!("{:?}", name_of(t))).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    const KINDS: [&str; 4] = ["uniform", "loguniform", "quniform", "qloguniform"];

    #[test]
    fn finds_typos_swaps_and_case() {
        assert_eq!(did_you_mean("logunifrom", KINDS), Some("loguniform"));
        assert_eq!(did_you_mean("unifrm", KINDS), Some("uniform"));
        assert_eq!(did_you_mean("LogUniform", KINDS), Some("loguniform"));
        assert_eq!(did_you_mean("hihg", ["low", "high", "q"]), Some("high"));
        assert_eq!(did_you_mean("lo", ["low", "high", "q"]), Some("low"));
        // Lengths and edits count characters, not bytes.
        assert_eq!(did_you_mean("größe", ["grösse", "gross"]), Some("grösse"));
    }

    #[test]
    fn ties_go_to_the_earliest_candidate() {
        assert_eq!(did_you_mean("ab", ["ax", "xb"]), Some("ax"));
        assert_eq!(did_you_mean("ab", ["xb", "ax"]), Some("xb"));
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("gaussian", KINDS), None);
        assert_eq!(did_you_mean("x", ["low", "high"]), None);
        assert_eq!(did_you_mean("anything", []), None);
    }
}
