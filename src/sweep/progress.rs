//! Showing a sweep while it runs, and its result at the end.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use comfy_table::{CellAlignment, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::SweepSummary;
use super::config::format_duration;
use crate::fmin::{Observer, ObserverError, SearchInfo, StopReason};
use crate::space::Point;
use crate::tracking::table::human_duration;
use crate::trials::{Direction, Trial, TrialState, Trials};

/// How a sweep shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProgressMode {
    /// A live bar when stdout is a terminal, one line per finished trial otherwise.
    #[default]
    Auto,
    /// A live bar on stdout: done/total, running, failed, best so far, ETA.
    Bar,
    /// One plain line per finished trial on stdout, for logs and CI.
    Lines,
    /// Nothing.
    Quiet,
}

/// An [`Observer`] that shows a sweep's progress (see [`ProgressMode`]).
pub struct ProgressObserver {
    mode: ProgressMode,
    metric: String,
    direction: Direction,
    state: Mutex<State>,
}

struct State {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    done_here: usize,
    running: usize,
    failed: usize,
    started: Instant,
    best: Option<(usize, f64, Point)>,
}

impl ProgressObserver {
    /// A progress display for a sweep optimizing `metric` in `direction`.
    pub fn new(mode: ProgressMode, metric: &str, direction: Direction) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stdout().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            other => other,
        };
        ProgressObserver {
            mode,
            metric: metric.to_string(),
            direction,
            state: Mutex::new(State {
                bar: None,
                total: 0,
                done: 0,
                done_here: 0,
                running: 0,
                failed: 0,
                started: Instant::now(),
                best: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        crate::lock(&self.state)
    }

    /// Clears the bar (the search also does this when it finishes normally).
    pub fn finish(&self) {
        if let Some(bar) = self.state().bar.take() {
            bar.finish_and_clear();
        }
    }

    fn status(&self, s: &State) -> String {
        let mut text = format!("running {} · failed {}", s.running, s.failed);
        if let Some((number, value, point)) = &s.best {
            text.push_str(&format!(
                " · best {} {} (trial {number}) {}",
                self.metric,
                format_value(*value),
                point
            ));
        }
        text
    }
}

fn format_value(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.4e}")
    } else {
        format!("{x:.6}")
    }
}

/// A failure reason on one line: its first line and, when it quotes stderr, the last
/// line of stderr (which usually says what went wrong), shortened for a log line.
fn first_line(reason: &str) -> String {
    let shorten = |line: &str, n: usize| match line.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    };
    let mut lines = reason.lines();
    let first = shorten(lines.next().unwrap_or(""), 120);
    match lines.rev().find(|l| !l.trim().is_empty()) {
        Some(last) if reason.contains("\nstderr (last lines):\n") => {
            format!("{first}: {}", shorten(last.trim(), 120))
        }
        _ => first,
    }
}

impl Observer for ProgressObserver {
    fn search_started(&self, search: &SearchInfo<'_>) -> Result<(), ObserverError> {
        let mut s = self.state();
        s.total = search.max_evals;
        s.done = search.warm_start_trials;
        s.started = Instant::now();
        if self.mode == ProgressMode::Bar {
            let bar = ProgressBar::with_draw_target(
                Some(search.max_evals as u64),
                ProgressDrawTarget::stdout(),
            );
            // The template is a constant; the fallback only guards against indicatif
            // changing its syntax.
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:25} {pos}/{len} trials [{elapsed} < {eta}] {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar.set_position(search.warm_start_trials as u64);
            bar.enable_steady_tick(Duration::from_millis(200));
            s.bar = Some(bar);
        }
        Ok(())
    }

    fn trial_started(&self, _trial: &Trial) -> Result<(), ObserverError> {
        let mut s = self.state();
        s.running += 1;
        if let Some(bar) = &s.bar {
            bar.set_message(self.status(&s));
        }
        Ok(())
    }

    fn trial_finished(&self, trial: &Trial, _best: Option<&Trial>) -> Result<(), ObserverError> {
        let mut s = self.state();
        s.running = s.running.saturating_sub(1);
        if trial.state.is_result() {
            s.done += 1;
            s.done_here += 1;
        }
        if trial.state == TrialState::Failed {
            s.failed += 1;
        }
        if let (TrialState::Complete, Some(loss)) = (trial.state, trial.loss) {
            let better = s.best.as_ref().is_none_or(|(_, best, _)| {
                self.direction.score(loss) < self.direction.score(*best)
            });
            if better {
                s.best = Some((trial.number, loss, trial.point.clone()));
            }
        }
        let took = trial
            .duration
            .map_or_else(String::new, |d| format!(" in {}", format_duration(d)));
        let what = match (trial.state, trial.loss) {
            (TrialState::Complete, Some(loss)) => {
                format!("{} = {}{took}", self.metric, format_value(loss))
            }
            (state, _) => format!(
                "{}{took}: {}",
                state.as_str().to_ascii_uppercase(),
                first_line(trial.error.as_deref().unwrap_or("no reason given"))
            ),
        };
        match self.mode {
            ProgressMode::Bar => {
                if let Some(bar) = &s.bar {
                    bar.set_position(s.done as u64);
                    bar.set_message(self.status(&s));
                    if trial.state != TrialState::Complete {
                        bar.println(format!("trial {} {what}", trial.number));
                    }
                }
            }
            ProgressMode::Lines => {
                let remaining = s.total.saturating_sub(s.done);
                let eta = if remaining > 0 && s.done_here > 0 {
                    let per_trial = s.started.elapsed() / s.done_here as u32;
                    format!(" · eta {}", format_duration(per_trial * remaining as u32))
                } else {
                    String::new()
                };
                let width = s.total.to_string().len();
                let line = format!(
                    "[{:>width$}/{}] trial {} {what} · {}{eta}",
                    s.done,
                    s.total,
                    trial.number,
                    self.status(&s)
                );
                let mut out = std::io::stdout().lock();
                // A closed stdout must not stop the sweep.
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            ProgressMode::Quiet | ProgressMode::Auto => {}
        }
        Ok(())
    }

    fn search_finished(&self, _trials: &Trials, _reason: StopReason) -> Result<(), ObserverError> {
        self.finish();
        Ok(())
    }
}

/// The end-of-sweep report: a table of the `top` best trials and a line of totals (and,
/// for an interrupted sweep, how to resume it).
pub fn render_summary(summary: &SweepSummary, top: usize) -> String {
    let mut out = String::new();
    let ranked = summary.ranked();
    if !ranked.is_empty() {
        let names: Vec<String> = {
            let mut names: Vec<String> = Vec::new();
            for t in ranked.iter().take(top) {
                for (name, _) in t.point.iter() {
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_string());
                    }
                }
            }
            names
        };
        let mut table = Table::new();
        table.load_preset(presets::UTF8_FULL_CONDENSED);
        let mut header = vec![
            "rank".to_string(),
            "trial".to_string(),
            summary.metric().to_string(),
        ];
        header.extend(names.iter().cloned());
        header.push("time".to_string());
        table.set_header(header);
        for (rank, t) in ranked.iter().take(top).enumerate() {
            let mut row = vec![
                (rank + 1).to_string(),
                t.number.to_string(),
                t.loss.map_or_else(String::new, format_value),
            ];
            for name in &names {
                row.push(
                    t.point
                        .value(name)
                        .map_or_else(|| "-".to_string(), |v| v.to_string()),
                );
            }
            row.push(t.duration.map_or_else(String::new, human_duration));
            table.add_row(row);
        }
        for column in table.column_iter_mut().take(3) {
            column.set_cell_alignment(CellAlignment::Right);
        }
        out.push_str(&format!(
            "best trials of `{}` ({} {}):\n{table}\n",
            summary.experiment(),
            summary.direction().as_str(),
            summary.metric()
        ));
    }
    let total = summary.trials().len();
    let complete = ranked.len();
    let failed = summary.failed().count();
    let killed = summary
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Killed)
        .count();
    let killed = if killed > 0 {
        format!(", {killed} killed")
    } else {
        String::new()
    };
    let n_pruned = summary
        .trials()
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .count();
    let pruned = if n_pruned > 0 {
        format!(", {n_pruned} pruned")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{total} trials: {complete} complete{pruned}, {failed} failed{killed} · {}",
        format_duration(summary.elapsed())
    ));
    out.push_str(&format!(" · seed {}", summary.seed()));
    match summary.best() {
        Some(best) => out.push_str(&format!(
            "\nbest {} = {} (trial {}) at {}",
            summary.metric(),
            best.loss.map_or_else(String::new, format_value),
            best.number,
            best.point
        )),
        None => {
            out.push_str("\nno trial completed");
            if let Some(reason) = summary.failed().find_map(|t| t.error.as_deref()) {
                out.push_str(&format!("; the first failure:\n{reason}"));
            } else if n_pruned > 0 {
                out.push_str(&format!(
                    "; the pruner stopped every one ({n_pruned}): are its settings what you \
                     meant (`--dry-run` shows them)?"
                ));
            }
        }
    }
    if let Some(hint) = summary.resume_hint() {
        out.push('\n');
        out.push_str(&hint);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::first_line;

    #[test]
    fn failure_reasons_fit_on_one_line() {
        assert_eq!(first_line("timed out"), "timed out");
        assert_eq!(
            first_line(
                "the command exited with status 2\nstderr (last lines):\nwarming up\ndiverged\n"
            ),
            "the command exited with status 2: diverged"
        );
        assert_eq!(first_line(&"x".repeat(200)).len(), 123);
    }
}
