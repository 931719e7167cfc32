//! Compiler-style diagnostics: a place in a text, shown as its line with carets under it.
//!
//! One renderer serves every error that points into text a user wrote (space files, sweep
//! configs and their command-line overrides, filter strings):
//!
//! ```text
//!    |
//! 12 | max_eval = 50
//!    | ^^^^^^^^
//! ```

use std::fmt;
use std::ops::Range;

/// A span of a text, located by line and column, that displays as its line with carets
/// under the span (the gutter and the lines around it as above, no trailing newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snippet {
    line: usize,
    column: usize,
    text: String,
    width: usize,
    numbered: bool,
}

impl Snippet {
    /// Locates `span`, byte offsets into `source` (clamped to it and moved back to character
    /// boundaries, so any offsets are safe). The carets cover the part of the span on its
    /// first line, and at least one character, so an empty span points at its place.
    pub(crate) fn new(source: &str, span: Range<usize>) -> Self {
        let start = floor_char_boundary(source, span.start);
        let line_begin = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        Snippet {
            line: source[..start].matches('\n').count() + 1,
            column: source[line_begin..start].chars().count() + 1,
            // A control character (a tab) is shown as one space, so the carets, which
            // count characters, stay under what they point at.
            text: source[line_begin..line_end]
                .trim_end_matches('\r')
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
            width: source[start..end].chars().count().max(1),
            numbered: true,
        }
    }

    /// Leaves the line number out of the gutter: for a text that is not a numbered line of
    /// a file, such as a command-line argument.
    pub(crate) fn unnumbered(mut self) -> Self {
        self.numbered = false;
        self
    }

    /// The line of the span's start, from 1.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// The column of the span's start, from 1, in characters.
    pub(crate) fn column(&self) -> usize {
        self.column
    }

    /// The line shown, without its line break.
    #[cfg(feature = "sweep")]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = if self.numbered {
            self.line.to_string()
        } else {
            String::new()
        };
        let gutter = " ".repeat(label.len());
        write!(
            f,
            "{gutter} |\n{label} | {}\n{gutter} | {}{}",
            self.text,
            " ".repeat(self.column - 1),
            "^".repeat(self.width)
        )
    }
}

/// The largest character boundary of `s` at or before `i` (`s.len()` when `i` is past it).
pub(crate) fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_the_span_on_its_line() {
        let source = "a = 1\nmax_eval = 50\n";
        let s = Snippet::new(source, 6..14);
        assert_eq!((s.line(), s.column()), (2, 1));
        assert_eq!(s.to_string(), "  |\n2 | max_eval = 50\n  | ^^^^^^^^");
    }

    #[test]
    fn the_gutter_grows_with_the_line_number() {
        let source = format!("{}x = y\n", "\n".repeat(11));
        let s = Snippet::new(&source, 15..16);
        assert_eq!(s.to_string(), "   |\n12 | x = y\n   |     ^");
    }

    #[test]
    fn columns_count_characters_and_tabs_keep_the_caret_aligned() {
        let source = "\tgröße = \"x\"\r\nnext";
        let s = Snippet::new(source, 11..14);
        assert_eq!(s.column(), 10);
        assert_eq!(s.to_string(), "  |\n1 |  größe = \"x\"\n  |          ^^^");
    }

    #[test]
    fn spans_are_clamped_to_the_text_and_to_the_line() {
        let source = "ab\ncd";
        // Inside a character, past the end, and across a line break: never a panic.
        let s = Snippet::new("é", 1..1);
        assert_eq!((s.line(), s.column()), (1, 1));
        let s = Snippet::new(source, 99..120);
        assert_eq!((s.line(), s.column()), (2, 3));
        let s = Snippet::new(source, 0..5);
        assert_eq!(s.to_string(), "  |\n1 | ab\n  | ^^");
        // An empty span still gets one caret.
        assert!(Snippet::new(source, 1..1).to_string().ends_with("|  ^"));
    }

    #[test]
    fn an_unnumbered_line_has_an_empty_gutter() {
        let s = Snippet::new("search.algo=rnadom", 12..18).unnumbered();
        assert_eq!(
            s.to_string(),
            " |\n | search.algo=rnadom\n |             ^^^^^^"
        );
    }
}
