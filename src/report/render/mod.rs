//! Renderers of a [`Report`]: terminal, Markdown, JSON and HTML.
//!
//! All four read the same [`Report`] and give byte-identical output for the same report.
//! The terminal and Markdown renderers share their tables; HTML and Markdown show the plots
//! of [`Report::plots`] (inline in HTML, as SVG files next to the Markdown).

mod fmt;
mod plots;
mod tables;

use std::path::Path;
use std::str::FromStr;

use comfy_table::{CellAlignment, Table, presets};

use super::{Report, ReportError};
pub(crate) use tables::{BAR_LEGEND, sections};
use tables::{Block, Grid, Section};

/// An output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Tables and text charts for a terminal.
    Terminal,
    /// Markdown tables, with plots as SVG files next to it.
    Markdown,
    /// The report as JSON.
    Json,
    /// One self-contained HTML page with inline SVG plots.
    Html,
}

impl FromStr for Format {
    type Err = ReportError;

    /// `terminal` (or `text`), `md` (or `markdown`), `json`, `html`.
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.to_ascii_lowercase().as_str() {
            "terminal" | "text" => Ok(Format::Terminal),
            "md" | "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "html" => Ok(Format::Html),
            _ => Err(ReportError::UnknownFormat(s.to_string())),
        }
    }
}

/// One plot as a standalone SVG document.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// Its file name, e.g. `loss.svg`, unique in the report.
    pub file_name: String,
    /// A title for captions.
    pub title: String,
    /// The SVG document.
    pub svg: String,
}

impl Report {
    /// Every plot as a standalone SVG, with a file name unique in the report: per group the
    /// loss by trial with the best so far, the importance bars, loss against each parameter
    /// (log axis for log kinds, good range shaded, recommended bounds drawn), and parallel
    /// coordinates of the top trials. Ready to log as artifacts of the parent run.
    pub fn plots(&self) -> Result<Vec<Plot>, ReportError> {
        plots::plots(self)
    }
}

fn comfy(grid: &Grid, markdown: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    // Markdown cells must not contain a bare `|`.
    let cell = |s: &str| {
        if markdown {
            s.replace('|', "\\|")
        } else {
            s.to_string()
        }
    };
    table.set_header(grid.header.iter().map(|h| cell(h)));
    for row in &grid.rows {
        table.add_row(row.iter().map(|c| cell(c)));
    }
    for &i in &grid.right {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// The report for a terminal: tables plus text charts (a sparkline of the best loss so far
/// and a range bar per numeric parameter).
pub fn terminal(report: &Report) -> String {
    let mut out = String::new();
    for s in sections(report) {
        let title = if s.level == 2 {
            format!("== {} ==", s.title)
        } else {
            s.title.clone()
        };
        out.push_str(&title);
        out.push('\n');
        match &s.block {
            Block::Table(g) => {
                out.push_str(&comfy(g, false).to_string());
                out.push('\n');
                if g.header.contains(&"range") {
                    out.push_str(BAR_LEGEND);
                    out.push('\n');
                }
            }
            Block::Lines(lines) => {
                for l in lines {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Block::Notes(notes) => {
                for n in notes {
                    out.push_str("  - ");
                    out.push_str(n);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The report as Markdown. Plots are linked as `{image_prefix}{file_name}`; write them with
/// [`write()`] (or from [`Report::plots`]) next to the Markdown file.
pub fn markdown(report: &Report, image_prefix: &str) -> Result<String, ReportError> {
    let plots = report.plots()?;
    let mut out = String::from("# Hyperparameter report\n\n");
    let mut group = 0usize;
    let mut pending: Option<usize> = None;
    for s in sections(report) {
        // A group's plots go after its last section, just before the next group's title.
        // A group's plots close its part: flush them at the next level-2 section (the next
        // group or the house ranges).
        if s.level == 2 {
            if let Some(g) = pending.take() {
                md_plots(&mut out, report, g, &plots, image_prefix);
            }
            if s.title.starts_with("Report: ") {
                pending = Some(group);
                group += 1;
            }
        }
        out.push_str(&format!(
            "{} {}\n\n",
            "#".repeat(usize::from(s.level)),
            s.title
        ));
        match &s.block {
            Block::Table(g) => {
                let mut grid = Grid {
                    header: g.header.clone(),
                    rows: g.rows.clone(),
                    right: g.right.clone(),
                };
                if let Some(i) = grid.header.iter().position(|h| *h == "range") {
                    for row in &mut grid.rows {
                        if !row[i].is_empty() {
                            row[i] = format!("`{}`", row[i]);
                        }
                    }
                }
                out.push_str(&comfy(&grid, true).to_string());
                out.push_str("\n\n");
                if g.header.contains(&"range") {
                    out.push_str(&format!("_{BAR_LEGEND}_\n\n"));
                }
            }
            Block::Lines(lines) => {
                for l in lines {
                    out.push_str(l);
                    out.push_str("  \n");
                }
                out.push('\n');
            }
            Block::Notes(notes) => {
                for n in notes {
                    out.push_str(&format!("- {n}\n"));
                }
                out.push('\n');
            }
        }
    }
    if let Some(g) = pending {
        md_plots(&mut out, report, g, &plots, image_prefix);
    }
    Ok(out)
}

/// The plots of one group: all of them in a single-group report, else those whose file
/// name starts with the group's number.
fn group_plots<'a>(report: &Report, group: usize, plots: &'a [Plot]) -> Vec<&'a Plot> {
    let many = report.groups.len() > 1;
    let prefix = format!("{}-", group + 1);
    plots
        .iter()
        .filter(|p| !many || p.file_name.starts_with(&prefix))
        .collect()
}

fn md_plots(out: &mut String, report: &Report, group: usize, plots: &[Plot], prefix: &str) {
    let mine = group_plots(report, group, plots);
    if mine.is_empty() {
        return;
    }
    out.push_str("### Plots\n\n");
    for p in mine {
        out.push_str(&format!("![{}]({prefix}{})\n\n", p.title, p.file_name));
    }
}

/// The report as pretty-printed JSON (the serde form of [`Report`]).
pub fn json(report: &Report) -> Result<String, ReportError> {
    let mut s = serde_json::to_string_pretty(report)?;
    s.push('\n');
    Ok(s)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:14px}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.r{text-align:right}code,.bar{font-family:ui-monospace,monospace;white-space:pre}\
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0;border:1px solid #eee}\
figcaption{font-size:13px;color:#555;padding:2px 6px}.legend{font-size:12px;color:#666}";

/// The report as one self-contained HTML page: tables, and every plot as inline SVG. No
/// script, no network access.
pub fn html(report: &Report) -> Result<String, ReportError> {
    let plots = report.plots()?;
    let title = match report.groups.as_slice() {
        [g] => format!("Hyperparameter report: {}", g.name),
        _ => "Hyperparameter report".to_string(),
    };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let mut group = 0usize;
    let mut pending: Option<usize> = None;
    for s in sections(report) {
        if s.level == 2 {
            if let Some(g) = pending.take() {
                html_plots(&mut out, report, g, &plots);
            }
            if s.title.starts_with("Report: ") {
                pending = Some(group);
                group += 1;
            }
        }
        out.push_str(&format!("<h{0}>{1}</h{0}>\n", s.level, escape(&s.title)));
        html_block(&mut out, &s);
    }
    if let Some(g) = pending {
        html_plots(&mut out, report, g, &plots);
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

fn html_block(out: &mut String, s: &Section) {
    match &s.block {
        Block::Table(g) => {
            out.push_str("<table>\n<tr>");
            for h in &g.header {
                out.push_str(&format!("<th>{}</th>", escape(h)));
            }
            out.push_str("</tr>\n");
            for row in &g.rows {
                out.push_str("<tr>");
                for (i, c) in row.iter().enumerate() {
                    let class = if g.right.contains(&i) {
                        " class=\"r\""
                    } else if g.header.get(i) == Some(&"range") {
                        " class=\"bar\""
                    } else {
                        ""
                    };
                    out.push_str(&format!("<td{class}>{}</td>", escape(c)));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
            if g.header.contains(&"range") {
                out.push_str(&format!("<p class=\"legend\">{}</p>\n", escape(BAR_LEGEND)));
            }
        }
        Block::Lines(lines) => {
            out.push_str("<p>");
            let escaped: Vec<String> = lines.iter().map(|l| escape(l)).collect();
            out.push_str(&escaped.join("<br>\n"));
            out.push_str("</p>\n");
        }
        Block::Notes(notes) => {
            out.push_str("<ul>\n");
            for n in notes {
                out.push_str(&format!("<li>{}</li>\n", escape(n)));
            }
            out.push_str("</ul>\n");
        }
    }
}

fn html_plots(out: &mut String, report: &Report, group: usize, plots: &[Plot]) {
    let mine = group_plots(report, group, plots);
    if mine.is_empty() {
        return;
    }
    out.push_str("<h3>Plots</h3>\n<div class=\"plots\">\n");
    for p in mine {
        // Inline SVG must not carry an XML declaration.
        let svg = match p.svg.find("<svg") {
            Some(i) => &p.svg[i..],
            None => p.svg.as_str(),
        };
        out.push_str(&format!(
            "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            svg.trim_end(),
            escape(&p.title)
        ));
    }
    out.push_str("</div>\n");
}

/// Renders the report in `format` to `path`. For Markdown, the plots are written as SVG
/// files next to it (named `<stem>-<plot file name>`).
pub fn write(report: &Report, format: Format, path: &Path) -> Result<(), ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    let body = match format {
        Format::Terminal => terminal(report),
        Format::Json => json(report)?,
        Format::Html => html(report)?,
        Format::Markdown => {
            let stem = path.file_stem().map_or_else(
                || "report".to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            let prefix = format!("{stem}-");
            let dir = path.parent().unwrap_or_else(|| Path::new(""));
            for p in report.plots()? {
                let file = dir.join(format!("{prefix}{}", p.file_name));
                std::fs::write(&file, p.svg).map_err(io(&file))?;
            }
            markdown(report, &prefix)?
        }
    };
    std::fs::write(path, body).map_err(io(path))
}
