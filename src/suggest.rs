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
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let chars: Vec<char> = candidate.to_lowercase().chars().collect();
        let distance = osa_distance(&word, &chars);
        let limit = (word.len().max(chars.len()) / 3).max(1);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: Levenshtein plus transpositions of neighbours.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    // Three rolling rows suffice: a transposition looks two rows back.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
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
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("gaussian", KINDS), None);
        assert_eq!(did_you_mean("x", ["low", "high"]), None);
        assert_eq!(did_you_mean("anything", []), None);
    }
}
