//! Running one trial's process: spawning it in its own process group, streaming its
//! output, reading metrics from stdout, enforcing its time limit, stopping it on request.
//!
//! # Metrics on stdout
//!
//! Two forms are read, line by line, as the process prints them:
//!
//! - a JSON object, `{"val_loss": 0.23, "acc": 0.91}`: every numeric entry is a metric
//!   (Python's bare `NaN` and `Infinity` are accepted; other entries are ignored); with an
//!   integer `"step"` entry, `{"step": 3, "val_loss": 0.23}` (`3.0` is taken as 3), each
//!   value is reported at that step, as the next form does;
//! - `hyperflow: metric=val_loss value=0.23 step=3`: one value at a step (e.g. per epoch),
//!   forwarded as it arrives so tracking can log it live. Without `step=`, steps count
//!   0, 1, 2, ... per metric.
//!
//! The latest value of a metric, in either form, is its final value. Python buffers stdout
//! when it is a pipe, so the runner sets `PYTHONUNBUFFERED=1` unless `[command].env` says
//! otherwise; other programs should flush after each metric line.
//!
//! # Process groups
//!
//! Each trial runs in a process group of its own, so stopping a trial (time limit, Ctrl-C)
//! stops everything it started: SIGTERM to the group, then SIGKILL after the grace period.
//! When the trial's main process exits, whatever it left running in its group is killed
//! too, so nothing leaks from one trial into the next or holds its output pipes open.
//! On Linux, a trial's main process also gets SIGKILL when hyperflow itself dies, even
//! by SIGKILL: a watchdog process holds a pidfd of every running trial and kills them
//! when the sweep is gone (`runner/watchdog.rs`), so a killed sweep leaves no trial
//! running on to completion. What that process started outlives it;
//! [`end_leftover_trials`] ends it before a resumed sweep runs new trials.
//!
//! Trials are started with `posix_spawn` (no `pre_exec` hook, which would force `fork`),
//! so starting one costs the same however large the sweep's process has grown.

use crate::lock;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use smallvec::SmallVec;

use crate::fmin::Outcome;
use crate::study::CancelToken;

use super::config::format_duration;

mod leftovers;
#[cfg(target_os = "linux")]
mod watchdog;

pub use leftovers::{Ended, RUN_ID_VAR, end_leftover_trials};

/// How many lines of stderr a failure reason quotes.
pub const STDERR_TAIL_LINES: usize = 20;

/// How much of each stream is kept from the start, and from the end, when a process
/// prints more than both together (the middle is dropped, and the drop is marked); this
/// bounds the `stdout.txt` and `stderr.txt` artifacts too (see `KeepOutput`).
const CAPTURE_HEAD: usize = 64 << 10;
const CAPTURE_TAIL: usize = 1 << 20;

/// Lines longer than this are kept in the capture but not parsed for metrics.
const MAX_METRIC_LINE: usize = 1 << 20;

/// How often a waiting trial checks for cancellation.
const POLL: Duration = Duration::from_millis(50);

/// How long values taken by a [`StepSink`] may wait before it is asked to write them
/// ([`StepSink::flush`]): a trial that ends sooner has them written with its end, and one
/// printing many values a second has them written in batches.
const FLUSH_AFTER: Duration = Duration::from_millis(50);

/// How often a trial whose pipes are closed looks for its process's exit, where no
/// pidfd tells (outside Linux).
const EXIT_POLL: Duration = Duration::from_millis(1);

/// How long to wait for the output pipes to close after the process exited (a process
/// that escaped the group may hold them open).
const DRAIN: Duration = Duration::from_secs(2);

/// A stop switch shared by a sweep and its running trials (set by Ctrl-C, or by a
/// caller). Cloning gives another handle to the same switch.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    token: CancelToken,
    next_id: AtomicU64,
    groups: Mutex<HashMap<u64, Arc<Group>>>,
}

impl Cancellation {
    /// A switch that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the switch: no new trial starts, and running trials are stopped (SIGTERM to
    /// their process groups at once, SIGKILL after their grace period).
    pub fn cancel(&self) {
        self.0.token.cancel();
    }

    /// Whether the switch is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.token.is_cancelled()
    }

    /// The search's side of the switch: the loop stops proposing trials once it is set.
    pub fn token(&self) -> CancelToken {
        self.0.token.clone()
    }

    /// Sends SIGKILL to every running trial's process group now (a second Ctrl-C).
    pub fn kill_all(&self) {
        self.cancel();
        for group in lock(&self.0.groups).values() {
            group.signal(Signal::SIGKILL);
        }
    }

    fn register(&self, group: Arc<Group>) -> u64 {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.0.groups).insert(id, group);
        id
    }

    fn unregister(&self, id: u64) {
        lock(&self.0.groups).remove(&id);
    }
}

/// A trial's process group. Signals go through the lock so that none is sent after the
/// group leader was reaped, when its id could name an unrelated process.
#[derive(Debug)]
struct Group {
    pgid: Pid,
    reaped: Mutex<bool>,
}

impl Group {
    /// Signals the group, unless its leader was reaped (the group id is reserved while
    /// the leader is not reaped; a group already gone is no error).
    fn signal(&self, signal: Signal) {
        let reaped = lock(&self.reaped);
        if !*reaped {
            let _ = killpg(self.pgid, signal);
        }
    }
}

/// Whether process `pid` has exited, found without reaping it (so its id stays
/// reserved); a process that cannot be waited for counts as exited.
fn has_exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
    loop {
        match waitid(Id::Pid(pid), flags) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) | Err(_) => return true,
        }
    }
}

/// One metric value at a step, as a `hyperflow: metric=... value=... step=...` line
/// reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetric {
    /// The metric's name.
    pub key: String,
    /// Its value.
    pub value: f64,
    /// The step (given, or counted per metric from 0).
    pub step: i64,
}

/// What takes the values a trial's process reports at steps, as they arrive (on the
/// thread that runs the process).
pub trait StepSink {
    /// Takes a value reported at a step; `true` says to stop the trial now (prune it).
    fn take(&mut self, metric: &StepMetric) -> bool;

    /// Called 50 ms after the first value taken since the last flush, while the process
    /// runs: a sink that holds values back to write them together writes them now. What
    /// it still holds when the process ends is its own to write.
    fn flush(&mut self) {}
}

impl<F: FnMut(&StepMetric) -> bool> StepSink for F {
    fn take(&mut self, metric: &StepMetric) -> bool {
        self(metric)
    }
}

/// What one stdout line says about metrics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricLine {
    /// A JSON object's numeric entries, in order, and its integer `"step"` entry if it
    /// has one (then each value is reported at that step, as a `hyperflow:` line would).
    Values {
        /// The metrics.
        values: Vec<(String, f64)>,
        /// The step.
        step: Option<i64>,
    },
    /// A `hyperflow:` line: a value, with its step if given.
    Step {
        /// The metric's name.
        key: String,
        /// Its value.
        value: f64,
        /// The step, if the line gave one.
        step: Option<i64>,
    },
    /// A `hyperflow:` line, or a JSON line's `"step"`, that could not be read, and why
    /// (the line is skipped).
    Malformed(String),
}

impl MetricLine {
    /// Whether the line reports values at a step (a `hyperflow:` line, or a JSON object
    /// with a `"step"`), which a [`StepSink`] takes.
    fn has_steps(&self) -> bool {
        matches!(
            self,
            MetricLine::Step { .. } | MetricLine::Values { step: Some(_), .. }
        )
    }
}

/// Reads the metrics in one line of stdout, if it holds any: a JSON object line, or a
/// `hyperflow: metric=NAME value=X [step=N]` line.
///
/// ```
/// use hyperflow::sweep::{MetricLine, parse_metric_line};
///
/// assert_eq!(
///     parse_metric_line(r#"{"val_loss": 0.23, "note": "x"}"#),
///     Some(MetricLine::Values { values: vec![("val_loss".into(), 0.23)], step: None })
/// );
/// assert_eq!(
///     parse_metric_line(r#"{"step": 4, "val_loss": 0.2}"#),
///     Some(MetricLine::Values { values: vec![("val_loss".into(), 0.2)], step: Some(4) })
/// );
/// assert_eq!(
///     parse_metric_line("hyperflow: metric=acc value=0.9 step=3"),
///     Some(MetricLine::Step { key: "acc".into(), value: 0.9, step: Some(3) })
/// );
/// assert_eq!(parse_metric_line("epoch 3 done"), None);
/// ```
pub fn parse_metric_line(line: &str) -> Option<MetricLine> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("hyperflow:") {
        return Some(parse_step_line(rest));
    }
    if !(line.starts_with('{') && line.ends_with('}')) {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(line) {
        Ok(o) => o,
        // Python's json.dumps writes NaN and Infinity bare, which is not JSON; quote them
        // and read them back as numbers.
        Err(_) => serde_json::from_str(
            &line
                .replace("-Infinity", "\"-Inf\"")
                .replace("Infinity", "\"Infinity\"")
                .replace("NaN", "\"NaN\""),
        )
        .ok()?,
    };
    // A `"step"` entry is the step of the others, not a metric: an integer (`3`, or `3.0`
    // as Python writes a float that holds one).
    let mut step = None;
    if let Some(v) = object.get("step") {
        match v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 2f64.powi(53))
                .map(|x| x as i64)
        }) {
            Some(s) => step = Some(s),
            None => {
                return Some(MetricLine::Malformed(format!(
                    "\"step\": {v} is not an integer (a JSON line's \"step\" must be one, \
                     as in {{\"step\": 3, \"loss\": 0.2}})"
                )));
            }
        }
    }
    let values: Vec<(String, f64)> = object
        .into_iter()
        .filter_map(|(k, v)| {
            if k == "step" {
                return None;
            }
            let x = match &v {
                serde_json::Value::Number(n) => n.as_f64()?,
                serde_json::Value::String(s) => match s.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Inf" | "-Infinity" => f64::NEG_INFINITY,
                    _ => return None,
                },
                _ => return None,
            };
            Some((k, x))
        })
        .collect();
    (!values.is_empty()).then_some(MetricLine::Values { values, step })
}

fn parse_step_line(rest: &str) -> MetricLine {
    let (mut key, mut value, mut step) = (None, None, None);
    for token in rest.split_whitespace() {
        let Some((name, v)) = token.split_once('=') else {
            return MetricLine::Malformed(format!("`{token}` is not `name=value`"));
        };
        match name {
            "metric" => key = Some(v.to_string()),
            "value" => match v.parse::<f64>() {
                Ok(x) => value = Some(x),
                Err(_) => return MetricLine::Malformed(format!("value `{v}` is not a number")),
            },
            "step" => match v.parse::<i64>() {
                Ok(s) => step = Some(s),
                Err(_) => return MetricLine::Malformed(format!("step `{v}` is not an integer")),
            },
            other => {
                return MetricLine::Malformed(format!(
                    "unknown field `{other}`; expected `metric`, `value`, `step`"
                ));
            }
        }
    }
    match (key, value) {
        (Some(key), Some(value)) if !key.is_empty() => MetricLine::Step { key, value, step },
        (_, None) => MetricLine::Malformed("missing `value=`".to_string()),
        _ => MetricLine::Malformed("missing `metric=`".to_string()),
    }
}

/// The process to run for one trial.
#[derive(Debug, Clone)]
pub struct TrialProcess {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// The directory it runs in.
    pub workdir: PathBuf,
    /// Environment variables added to hyperflow's own.
    pub env: Vec<(String, String)>,
    /// Its time limit.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when it is stopped.
    pub kill_grace: Duration,
    /// Time between SIGTERM and SIGKILL when the pruner stops it.
    pub prune_grace: Duration,
}

/// How a trial's process ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrialEnd {
    /// It exited with this code.
    Exited(i32),
    /// A signal it did not expect killed it.
    Signaled(i32),
    /// It ran past its time limit and was stopped.
    TimedOut(Duration),
    /// The sweep was cancelled while it ran, and it was stopped.
    Cancelled,
    /// It could not be started; the reason.
    SpawnFailed(String),
    /// The pruner stopped it after the objective's value at this step.
    Pruned {
        /// The step whose value decided.
        step: i64,
        /// That value.
        value: f64,
    },
}

/// Everything a trial's process produced.
#[derive(Debug, Clone)]
pub struct TrialOutput {
    /// How it ended.
    pub end: TrialEnd,
    /// The final value of each metric, in order of first appearance.
    pub metrics: Vec<(String, f64)>,
    /// Every value reported with a step, in order.
    pub steps: Vec<StepMetric>,
    /// Its standard output (past 1 MiB + 64 KiB, the first 64 KiB and the last 1 MiB).
    pub stdout: Vec<u8>,
    /// Its standard error (likewise).
    pub stderr: Vec<u8>,
    /// Wall time from spawn to exit.
    pub duration: Duration,
    /// Problems met reading its output (malformed `hyperflow:` lines).
    pub warnings: Vec<String>,
}

impl TrialOutput {
    /// The final value of a metric.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }

    /// The last `n` lines of stderr, each cut at 500 characters.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| match l.char_indices().nth(500) {
                Some((i, _)) => format!("{}...", &l[..i]),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The metrics printed besides `objective`, whose value is the trial's loss (its run
    /// records that under the objective's name too: `schema::trial_end`), as a trial read
    /// back from its run has them.
    fn further_metrics(&self, objective: &str) -> Vec<(String, f64)> {
        let further = self.metrics.iter().filter(|(k, _)| k != objective);
        further.cloned().collect()
    }

    /// The trial's result for a search on `objective`: its final value as the loss and
    /// the other metrics, or a failure saying why, with the tail of stderr.
    pub fn outcome(&self, objective: &str) -> Outcome {
        let reason = match &self.end {
            TrialEnd::Exited(0) => match self.metric(objective) {
                Some(loss) => {
                    let mut outcome = Outcome::loss(loss);
                    outcome.metrics = self.further_metrics(objective);
                    return outcome;
                }
                None => {
                    let mut reason = format!(
                        "the command exited 0 but printed no `{objective}` metric; print a line \
                         `{{\"{objective}\": 0.23}}` or `hyperflow: metric={objective} value=0.23` \
                         to stdout"
                    );
                    if !self.metrics.is_empty() {
                        let names: Vec<&str> =
                            self.metrics.iter().map(|(k, _)| k.as_str()).collect();
                        reason.push_str(&format!(" (it printed: {})", names.join(", ")));
                    }
                    for w in self.warnings.iter().take(3) {
                        reason.push_str(&format!("; {w}"));
                    }
                    reason
                }
            },
            TrialEnd::Exited(code) => format!("the command exited with status {code}"),
            TrialEnd::Signaled(signal) => {
                format!(
                    "the command was killed by signal {signal} ({})",
                    signal_name(*signal)
                )
            }
            TrialEnd::TimedOut(limit) => format!(
                "timed out after {}; its process group was killed",
                format_duration(*limit)
            ),
            TrialEnd::Cancelled => {
                let mut outcome = Outcome::killed("the sweep was interrupted");
                outcome.metrics = self.metrics.clone();
                return outcome;
            }
            TrialEnd::SpawnFailed(reason) => return Outcome::failed(reason.clone()),
            TrialEnd::Pruned { step, value } => {
                let mut outcome =
                    Outcome::pruned(format!("pruned at step {step} (value {value:?})"));
                outcome.metrics = self.further_metrics(objective);
                return outcome;
            }
        };
        let tail = self.stderr_tail(STDERR_TAIL_LINES);
        let reason = if tail.trim().is_empty() {
            reason
        } else {
            format!("{reason}\nstderr (last lines):\n{tail}")
        };
        let mut outcome = Outcome::failed(reason);
        outcome.metrics = self.metrics.clone();
        outcome
    }
}

fn signal_name(signal: i32) -> &'static str {
    match Signal::try_from(signal) {
        Ok(Signal::SIGKILL) => "SIGKILL (out of memory?)",
        Ok(signal) => signal.as_str(),
        Err(_) => "signal",
    }
}

/// A stream's bytes: the start and the end, when there is too much to keep it all.
#[derive(Debug, Default)]
struct Capture {
    head: Vec<u8>,
    tail: Vec<u8>,
    omitted: u64,
}

impl Capture {
    fn push(&mut self, mut data: &[u8]) {
        if self.head.len() < CAPTURE_HEAD {
            let take = (CAPTURE_HEAD - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.is_empty() {
            return;
        }
        self.tail.extend_from_slice(data);
        // Drop in large steps, so the cost stays linear in the bytes read.
        if self.tail.len() > 2 * CAPTURE_TAIL {
            let drop = self.tail.len() - CAPTURE_TAIL;
            self.omitted += drop as u64;
            self.tail.drain(..drop);
        }
    }

    fn take(&mut self) -> Vec<u8> {
        if self.tail.len() > CAPTURE_TAIL {
            let drop = self.tail.len() - CAPTURE_TAIL;
            self.omitted += drop as u64;
            self.tail.drain(..drop);
        }
        let mut out = std::mem::take(&mut self.head);
        if self.omitted > 0 {
            out.extend_from_slice(
                format!("\n[... hyperflow omitted {} bytes ...]\n", self.omitted).as_bytes(),
            );
        }
        out.append(&mut self.tail);
        out
    }
}

/// One of the trial's output pipes, read as it has data: every byte goes to the
/// capture, and on stdout each complete line is parsed for metrics.
struct Pipe {
    fd: Option<OwnedFd>,
    capture: Capture,
    /// Whether its lines are parsed for metrics (stdout).
    metrics: bool,
    /// The line being read, when it is not longer than a metric line can be.
    line: Vec<u8>,
    overlong: bool,
}

impl Pipe {
    fn new(fd: Option<OwnedFd>, metrics: bool) -> Self {
        Pipe {
            fd,
            capture: Capture::default(),
            metrics,
            line: Vec::new(),
            overlong: false,
        }
    }

    /// Reads what the pipe holds now (it polled readable, so this does not block),
    /// handing each metric line to `found`; at the end of the stream the pipe is closed.
    fn read(&mut self, buf: &mut [u8], found: &mut impl FnMut(MetricLine)) {
        let Some(fd) = &self.fd else {
            return;
        };
        let n = loop {
            match nix::unistd::read(fd, buf) {
                Err(Errno::EINTR) => continue,
                Ok(n) => break n,
                Err(_) => break 0,
            }
        };
        if n == 0 {
            self.fd = None;
            if !self.line.is_empty() {
                self.flush_line(found);
            }
            return;
        }
        let chunk = &buf[..n];
        self.capture.push(chunk);
        if !self.metrics {
            return;
        }
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            let (body, complete) = match piece.strip_suffix(b"\n") {
                Some(body) => (body, true),
                None => (piece, false),
            };
            if self.line.len() + body.len() > MAX_METRIC_LINE {
                self.overlong = true;
                self.line.clear();
            } else if !self.overlong {
                self.line.extend_from_slice(body);
            }
            if complete {
                self.flush_line(found);
            }
        }
    }

    fn flush_line(&mut self, found: &mut impl FnMut(MetricLine)) {
        if !self.overlong
            && let Some(m) = parse_metric_line(&String::from_utf8_lossy(&self.line))
        {
            found(m);
        }
        self.line.clear();
        self.overlong = false;
    }
}

/// Why a trial is being stopped.
#[derive(Clone, Copy)]
enum StopCause {
    Timeout,
    Cancel,
    Pruned { step: i64, value: f64 },
}

impl TrialProcess {
    /// Runs the process to its end, handing `sink` (on this thread) each value reported
    /// with a step as it arrives; when it says to stop (the pruner's answer), the process
    /// group gets SIGTERM, and SIGKILL after `prune_grace`. `sink` is asked to flush at
    /// most 50 ms after it took a value, while the process runs.
    pub fn run(&self, cancel: &Cancellation, sink: &mut dyn StepSink) -> TrialOutput {
        let started = Instant::now();
        let failed = |reason: String| TrialOutput {
            end: TrialEnd::SpawnFailed(reason),
            metrics: Vec::new(),
            steps: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            duration: started.elapsed(),
            warnings: Vec::new(),
        };
        let Some((program, args)) = self.argv.split_first() else {
            return failed("the command is empty".to_string());
        };
        if cancel.is_cancelled() {
            let mut out = failed(String::new());
            out.end = TrialEnd::Cancelled;
            return out;
        }
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.workdir)
            .env("PYTHONUNBUFFERED", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return failed(spawn_error(program, &self.workdir, &e)),
        };
        // On Linux the watchdog's pidfd of the process also wakes the loop when it exits.
        #[cfg(target_os = "linux")]
        let exit_fd = match watchdog::guard(child.id()) {
            Ok(pidfd) => Some(pidfd),
            Err(e) => {
                // Unguarded, it could outlive a killed sweep: it does not run.
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                return failed(format!("cannot run `{program}`: {e}"));
            }
        };
        #[cfg(not(target_os = "linux"))]
        let exit_fd: Option<OwnedFd> = None;
        let group = Arc::new(Group {
            pgid: Pid::from_raw(child.id() as i32),
            reaped: Mutex::new(false),
        });
        let registration = cancel.register(group.clone());
        let mut pipes = [
            Pipe::new(child.stdout.take().map(OwnedFd::from), true),
            Pipe::new(child.stderr.take().map(OwnedFd::from), false),
        ];
        let mut buf = vec![0_u8; 64 * 1024];
        let mut lines: Vec<MetricLine> = Vec::new();

        let mut metrics: Vec<(String, f64)> = Vec::new();
        let mut steps: Vec<StepMetric> = Vec::new();
        let mut warnings = Vec::new();
        let mut exit: Option<std::io::Result<ExitStatus>> = None;
        let mut stopping: Option<(StopCause, Instant)> = None;
        let mut killed = false;
        let mut drain_until: Option<Instant> = None;
        // When the values taken and not yet flushed must be.
        let mut flush_at: Option<Instant> = None;
        let deadline = self.timeout.map(|t| started + t);
        while exit.is_none() || pipes.iter().any(|p| p.fd.is_some()) {
            let now = Instant::now();
            if flush_at.is_some_and(|at| now >= at) {
                sink.flush();
                flush_at = None;
            }
            if exit.is_none() {
                match stopping {
                    None => {
                        let cause = if cancel.is_cancelled() {
                            Some(StopCause::Cancel)
                        } else if deadline.is_some_and(|d| now >= d) {
                            Some(StopCause::Timeout)
                        } else {
                            None
                        };
                        if let Some(cause) = cause {
                            group.signal(Signal::SIGTERM);
                            stopping = Some((cause, now));
                        }
                    }
                    Some((cause, since)) if !killed && now >= since + self.grace(cause) => {
                        group.signal(Signal::SIGKILL);
                        killed = true;
                    }
                    _ => {}
                }
            } else if drain_until.is_some_and(|d| now >= d) {
                warnings.push(
                    "the output pipes stayed open after the command exited (a process outside \
                     its group holds them); output after that point is lost"
                        .to_string(),
                );
                break;
            }
            let mut wait = POLL;
            if let Some(at) = flush_at {
                wait = wait.min(at.saturating_duration_since(now));
            }
            if let (None, Some(d)) = (stopping, deadline) {
                wait = wait.min(d.saturating_duration_since(now));
            }
            if let Some((cause, since)) = stopping.filter(|_| !killed) {
                wait = wait.min((since + self.grace(cause)).saturating_duration_since(now));
            }
            let watch_exit = exit_fd.as_ref().filter(|_| exit.is_none());
            if exit.is_none() && watch_exit.is_none() && pipes.iter().all(|p| p.fd.is_none()) {
                // Nothing to wake us when it exits: look again soon.
                wait = wait.min(EXIT_POLL);
            }
            let ready = poll_pipes(&pipes, watch_exit, wait);
            for (pipe, ready) in pipes.iter_mut().zip(ready) {
                if ready {
                    pipe.read(&mut buf, &mut |line| lines.push(line));
                }
            }
            if flush_at.is_none() && lines.iter().any(MetricLine::has_steps) {
                flush_at = Some(now + FLUSH_AFTER);
            }
            for line in lines.drain(..) {
                match line {
                    MetricLine::Values { values, step: None } => {
                        for (key, value) in values {
                            set_metric(&mut metrics, key, value);
                        }
                    }
                    MetricLine::Values {
                        values,
                        step: Some(step),
                    } => {
                        for (key, value) in values {
                            let m = StepMetric { key, value, step };
                            self.stepped(m, &mut metrics, &mut steps, &mut stopping, &group, sink);
                        }
                    }
                    MetricLine::Step { key, value, step } => {
                        let step = step.unwrap_or_else(|| {
                            steps.iter().filter(|s| s.key == key).count() as i64
                        });
                        let m = StepMetric { key, value, step };
                        self.stepped(m, &mut metrics, &mut steps, &mut stopping, &group, sink);
                    }
                    MetricLine::Malformed(reason) => {
                        warnings.push(format!("unreadable metric line: {reason}"));
                    }
                }
            }
            if exit.is_none() && has_exited(group.pgid) {
                exit = Some(reap(&mut child, &group));
                drain_until = Some(Instant::now() + DRAIN);
            }
        }
        cancel.unregister(registration);
        let duration = started.elapsed();
        let end = match (stopping, exit) {
            (Some((StopCause::Timeout, _)), _) => {
                TrialEnd::TimedOut(self.timeout.unwrap_or_default())
            }
            (Some((StopCause::Cancel, _)), _) => TrialEnd::Cancelled,
            (Some((StopCause::Pruned { step, value }, _)), _) => TrialEnd::Pruned { step, value },
            (None, Some(Ok(status))) => match (status.code(), status.signal()) {
                (Some(code), _) => TrialEnd::Exited(code),
                (None, Some(signal)) => TrialEnd::Signaled(signal),
                (None, None) => TrialEnd::Exited(-1),
            },
            (None, Some(Err(e))) => {
                TrialEnd::SpawnFailed(format!("waiting for the command failed: {e}"))
            }
            (None, None) => TrialEnd::SpawnFailed("lost track of the command".to_string()),
        };
        let [mut stdout, mut stderr] = pipes.map(|p| p.capture);
        let (stdout, stderr) = (stdout.take(), stderr.take());
        TrialOutput {
            end,
            metrics,
            steps,
            stdout,
            stderr,
            duration,
            warnings,
        }
    }

    /// The grace period between SIGTERM and SIGKILL when stopping for `cause`.
    fn grace(&self, cause: StopCause) -> Duration {
        match cause {
            StopCause::Pruned { .. } => self.prune_grace,
            StopCause::Timeout | StopCause::Cancel => self.kill_grace,
        }
    }

    /// Takes in a value reported at a step: hands it to `sink`, and starts stopping the
    /// process when that says to prune (unless it is being stopped already).
    fn stepped(
        &self,
        m: StepMetric,
        metrics: &mut Vec<(String, f64)>,
        steps: &mut Vec<StepMetric>,
        stopping: &mut Option<(StopCause, Instant)>,
        group: &Group,
        sink: &mut dyn StepSink,
    ) {
        if sink.take(&m) && stopping.is_none() {
            group.signal(Signal::SIGTERM);
            *stopping = Some((
                StopCause::Pruned {
                    step: m.step,
                    value: m.value,
                },
                Instant::now(),
            ));
        }
        set_metric(metrics, m.key.clone(), m.value);
        steps.push(m);
    }
}

fn set_metric(metrics: &mut Vec<(String, f64)>, key: String, value: f64) {
    match metrics.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => metrics.push((key, value)),
    }
}

/// Whether a captured stream says anything worth saving: it holds a line that is not
/// blank and, when its metrics are stored (`metrics_stored`), not a metric line either.
pub(super) fn worth_keeping(stream: &[u8], metrics_stored: bool) -> bool {
    stream.split(|&b| b == b'\n').any(|line| {
        let line = String::from_utf8_lossy(line);
        let metric = || {
            matches!(
                parse_metric_line(&line),
                Some(MetricLine::Values { .. } | MetricLine::Step { .. })
            )
        };
        !line.trim().is_empty() && (!metrics_stored || !metric())
    })
}

/// Reaps the group leader, which has exited: first SIGKILL to what is left of its group
/// (whose id the unreaped leader still reserves), then the wait that frees the id, under
/// the lock that keeps any other signal from following.
fn reap(child: &mut Child, group: &Group) -> std::io::Result<ExitStatus> {
    let mut reaped = lock(&group.reaped);
    // The leader is a zombie, so the group id is still reserved for this group.
    let _ = killpg(group.pgid, Signal::SIGKILL);
    let status = child.wait();
    *reaped = true;
    status
}

/// Waits up to `wait` for either pipe to have data or to close, or for `exit_fd` (a
/// pidfd) to say the process exited; which pipes to read.
fn poll_pipes(pipes: &[Pipe; 2], exit_fd: Option<&OwnedFd>, wait: Duration) -> [bool; 2] {
    // At most two pipes and the pidfd: held inline, nothing allocated per wake.
    let open: SmallVec<[(usize, &OwnedFd); 2]> = pipes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.fd.as_ref().map(|fd| (i, fd)))
        .collect();
    let mut fds: SmallVec<[PollFd; 3]> = open
        .iter()
        .map(|(_, fd)| fd)
        .chain(exit_fd.as_ref())
        .map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN))
        .collect();
    let millis = wait.as_micros().div_ceil(1000);
    let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
    let mut ready = [false; 2];
    match poll(&mut fds, timeout) {
        Ok(_) => {
            for ((i, _), fd) in open.iter().zip(&fds) {
                ready[*i] = fd.revents().is_some_and(|r| !r.is_empty());
            }
        }
        // Interrupted: the caller looks at everything again.
        Err(Errno::EINTR) => {}
        // Cannot wait: read, so that a pipe in error is closed rather than polled forever.
        Err(_) => ready = [true; 2],
    }
    ready
}

/// A one-line explanation of why `program` could not be started.
pub(crate) fn spawn_error(program: &str, workdir: &std::path::Path, e: &std::io::Error) -> String {
    if !workdir.is_dir() {
        return format!("the working directory {} does not exist", workdir.display());
    }
    match e.kind() {
        std::io::ErrorKind::NotFound if program.contains('/') => format!(
            "command not found: `{program}` (no such file, relative to {})",
            workdir.display()
        ),
        std::io::ErrorKind::NotFound => {
            format!("command not found: `{program}` is not on PATH")
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("cannot run `{program}`: permission denied (is it executable?)")
        }
        _ => format!("cannot run `{program}`: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_metric_lines() {
        assert_eq!(
            parse_metric_line(r#"  {"a": 1, "b": 2.5, "c": "x", "d": null, "e": [1]}  "#),
            Some(MetricLine::Values {
                values: vec![("a".into(), 1.0), ("b".into(), 2.5)],
                step: None
            })
        );
        let Some(MetricLine::Values { values: v, .. }) =
            parse_metric_line(r#"{"loss": NaN, "x": Infinity, "y": -Infinity}"#)
        else {
            panic!("python's NaN should parse");
        };
        assert!(v[0].1.is_nan());
        assert_eq!(v[1].1, f64::INFINITY);
        assert_eq!(v[2].1, f64::NEG_INFINITY);
        assert_eq!(parse_metric_line(r#"{"event": "start"}"#), None);
        assert_eq!(
            parse_metric_line(r#"{"step": 3}"#),
            None,
            "a step alone is no metric"
        );
        assert_eq!(parse_metric_line("{not json}"), None);
        assert_eq!(parse_metric_line("loss: 0.3"), None);
    }

    #[test]
    fn parses_step_lines() {
        assert_eq!(
            parse_metric_line("hyperflow: metric=val_loss value=0.23 step=3"),
            Some(MetricLine::Step {
                key: "val_loss".into(),
                value: 0.23,
                step: Some(3)
            })
        );
        assert_eq!(
            parse_metric_line("hyperflow: value=1e-3 metric=lr"),
            Some(MetricLine::Step {
                key: "lr".into(),
                value: 0.001,
                step: None
            })
        );
        for bad in [
            "hyperflow: metric=a",
            "hyperflow: value=1",
            "hyperflow: metric=a value=x",
            "hyperflow: metric=a value=1 step=1.5",
            "hyperflow: metric=a value=1 epoch=2",
            "hyperflow: nonsense",
            r#"{"step": 1.5, "loss": 0.2}"#,
            r#"{"step": "2", "loss": 0.2}"#,
        ] {
            assert!(
                matches!(parse_metric_line(bad), Some(MetricLine::Malformed(_))),
                "{bad}"
            );
        }
        // Python writes a float step as `2.0`: it is the step 2.
        assert_eq!(
            parse_metric_line(r#"{"step": 2.0, "loss": 0.2}"#),
            Some(MetricLine::Values {
                values: vec![("loss".into(), 0.2)],
                step: Some(2)
            })
        );
    }

    #[test]
    fn capture_keeps_head_and_tail() {
        let mut c = Capture::default();
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.take(), b"hello world");

        // Past head + tail, the middle is dropped and the drop is marked.
        let mut c = Capture::default();
        let chunk = vec![b'a'; CAPTURE_TAIL / 4];
        c.push(&chunk[..CAPTURE_HEAD]);
        for _ in 0..8 {
            c.push(&chunk);
        }
        c.push(b"THE END");
        let out = c.take();
        assert!(out.len() < CAPTURE_HEAD + CAPTURE_TAIL + 100);
        assert!(out.ends_with(b"THE END"));
        let text = String::from_utf8_lossy(&out[CAPTURE_HEAD..CAPTURE_HEAD + 60]).into_owned();
        assert!(
            text.contains(&format!(
                "[... hyperflow omitted {} bytes ...]",
                CAPTURE_TAIL + 7
            )),
            "{text}"
        );
    }

    #[test]
    fn output_is_worth_keeping_when_it_says_more_than_stored_metrics() {
        let metrics_only = b"hyperflow: metric=loss value=1\n{\"acc\": 0.5}\n\n  \n";
        assert!(!worth_keeping(metrics_only, true));
        assert!(worth_keeping(metrics_only, false), "metrics not stored");
        assert!(!worth_keeping(b"", false));
        assert!(!worth_keeping(b"\n \n", false));
        assert!(worth_keeping(
            b"epoch 1\nhyperflow: metric=loss value=1\n",
            true
        ));
        assert!(
            worth_keeping(b"hyperflow: metric=loss value=x\n", true),
            "a malformed metric line is kept"
        );
    }

    #[test]
    fn outcome_reports_missing_metric_and_stderr_tail() {
        let out = TrialOutput {
            end: TrialEnd::Exited(0),
            metrics: vec![("acc".into(), 0.9)],
            steps: Vec::new(),
            stdout: Vec::new(),
            stderr: (0..30)
                .map(|i| format!("line {i}\n"))
                .collect::<String>()
                .into_bytes(),
            duration: Duration::ZERO,
            warnings: Vec::new(),
        };
        let outcome = out.outcome("loss");
        let crate::fmin::Status::Failed(reason) = &outcome.status else {
            panic!("should fail");
        };
        assert!(reason.contains("printed no `loss` metric"), "{reason}");
        assert!(reason.contains("(it printed: acc)"), "{reason}");
        assert!(
            reason.contains("line 29") && reason.contains("line 10"),
            "{reason}"
        );
        assert!(!reason.contains("line 9\n"), "{reason}");
        assert_eq!(out.outcome("acc"), Outcome::loss(0.9), "acc is the loss");
        let two = TrialOutput {
            metrics: vec![("acc".into(), 0.9), ("loss".into(), 0.3)],
            ..out
        };
        assert_eq!(
            two.outcome("acc"),
            Outcome::loss(0.9).with_metric("loss", 0.3),
            "the objective is the loss, the other metrics further metrics"
        );
    }
}
