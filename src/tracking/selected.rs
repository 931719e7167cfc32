//! [`SelectedRuns`]: what [`Store::select_runs`](super::Store::select_runs) reads, many
//! runs held compactly.
//!
//! A report reads every run of a search: a hundred thousand runs with a dozen params and
//! tags each. As [`Run`]s, that is a score of small strings per run, most of them keys
//! that every run repeats. Here every text is kept back to back in one buffer and every
//! key once; a run is read through a [`SelectedRun`] view and made a [`Run`] only when one
//! is wanted ([`SelectedRun::to_run`]).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

use super::model::{
    ExperimentId, LifecycleStage, Metric, Param, Run, RunData, RunInfo, RunInputs, RunStatus, Tag,
};
use super::store::{Result, StoreError};

/// A part of [`SelectedRuns::text`] or of one of its tables. Offsets and indices are 32
/// bits, which halves the tables; a read past that fails ([`SelectedRunsBuilder::finish`]).
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    start: u32,
    end: u32,
}

impl Part {
    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A run's info, its texts in [`SelectedRuns::text`], and where its data is in the tables.
#[derive(Debug, Clone)]
struct Info {
    run_id: Part,
    experiment_id: Part,
    run_name: Part,
    user_id: Part,
    artifact_uri: Part,
    status: RunStatus,
    lifecycle_stage: LifecycleStage,
    start_time: i64,
    end_time: Option<i64>,
    params: Part,
    tags: Part,
    metrics: Part,
}

/// A param or tag: its run (an index into [`SelectedRuns::runs`]), its key (an index into
/// [`SelectedRuns::keys`]) and its value.
#[derive(Debug, Clone, Copy)]
struct Entry {
    run: u32,
    key: u32,
    value: Part,
}

/// A latest metric, as [`Entry`] with the metric's value, time and step.
#[derive(Debug, Clone, Copy)]
struct MetricEntry {
    run: u32,
    key: u32,
    value: f64,
    timestamp: i64,
    step: i64,
}

/// Runs as [`Store::select_runs`](super::Store::select_runs) reads them: each with its
/// info, all its params and the tags and latest metrics the read selected (each run's data
/// sorted by key), in no particular order.
///
/// ```
/// use hyperflow::tracking::{ExperimentId, LifecycleStage, Param, Run, RunInfo, RunStatus};
/// use hyperflow::tracking::SelectedRuns;
/// let info = RunInfo {
///     run_id: "4f0c".into(),
///     experiment_id: ExperimentId("0".into()),
///     run_name: "trial-0".into(),
///     user_id: "ada".into(),
///     status: RunStatus::Finished,
///     start_time: 1_700_000_000_000,
///     end_time: Some(1_700_000_000_500),
///     artifact_uri: "file:///runs/4f0c/artifacts".into(),
///     lifecycle_stage: LifecycleStage::Active,
/// };
/// let mut run = Run { info, data: Default::default(), inputs: Default::default() };
/// run.data.params.push(Param::new("lr", "0.1"));
/// let runs = SelectedRuns::from_runs(vec![run.clone()])?;
/// let read = runs.iter().next().unwrap();
/// assert_eq!((read.run_id(), read.param("lr")), ("4f0c", Some("0.1")));
/// assert_eq!(read.to_run(), run);
/// # Ok::<(), hyperflow::tracking::StoreError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SelectedRuns {
    /// Every text (info, key and value) back to back.
    text: String,
    /// The keys of params, tags and metrics, each once.
    keys: Vec<Part>,
    runs: Vec<Info>,
    params: Vec<Entry>,
    tags: Vec<Entry>,
    metrics: Vec<MetricEntry>,
}

impl SelectedRuns {
    /// These runs, held compactly (their inputs are not kept). Fails, as a store's read
    /// does, past 4 GiB of text.
    pub fn from_runs(runs: Vec<Run>) -> Result<Self> {
        let mut b = SelectedRunsBuilder::default();
        for run in runs {
            b.push(&run);
        }
        b.finish()
    }

    /// How many runs there are.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SelectedRun<'_>> + '_ {
        self.runs
            .iter()
            .map(|info| SelectedRun { runs: self, info })
    }

    /// Every run as a [`Run`] (without inputs).
    pub fn to_runs(&self) -> Vec<Run> {
        self.iter().map(|r| r.to_run()).collect()
    }

    fn text(&self, part: Part) -> &str {
        &self.text[part.range()]
    }

    fn key(&self, key: u32) -> &str {
        self.text(self.keys[key as usize])
    }
}

/// One of [`SelectedRuns`]: its info and data, borrowed.
#[derive(Clone, Copy)]
pub struct SelectedRun<'a> {
    runs: &'a SelectedRuns,
    info: &'a Info,
}

impl std::fmt::Debug for SelectedRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_run().fmt(f)
    }
}

impl<'a> SelectedRun<'a> {
    /// The run's id.
    pub fn run_id(&self) -> &'a str {
        self.runs.text(self.info.run_id)
    }

    /// The id of its experiment.
    pub fn experiment_id(&self) -> &'a str {
        self.runs.text(self.info.experiment_id)
    }

    /// Its name.
    pub fn run_name(&self) -> &'a str {
        self.runs.text(self.info.run_name)
    }

    /// Its status.
    pub fn status(&self) -> RunStatus {
        self.info.status
    }

    /// When it started (ms since the epoch).
    pub fn start_time(&self) -> i64 {
        self.info.start_time
    }

    /// Where its artifacts are.
    pub fn artifact_uri(&self) -> &'a str {
        self.runs.text(self.info.artifact_uri)
    }

    /// Its params, sorted by key: `(key, value)`.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let runs = self.runs;
        runs.params[self.info.params.range()]
            .iter()
            .map(move |e| (runs.key(e.key), runs.text(e.value)))
    }

    /// The value of param `key`.
    pub fn param(&self, key: &str) -> Option<&'a str> {
        self.find(&self.runs.params[self.info.params.range()], key)
    }

    /// The value of tag `key`, if it was read.
    pub fn tag(&self, key: &str) -> Option<&'a str> {
        self.find(&self.runs.tags[self.info.tags.range()], key)
    }

    /// The latest value of metric `key`, if it was read.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.runs.metrics[self.info.metrics.range()]
            .iter()
            .find(|m| self.runs.key(m.key) == key)
            .map(|m| m.value)
    }

    fn find(&self, entries: &'a [Entry], key: &str) -> Option<&'a str> {
        entries
            .iter()
            .find(|e| self.runs.key(e.key) == key)
            .map(|e| self.runs.text(e.value))
    }

    /// The run as a [`Run`] (without inputs).
    pub fn to_run(&self) -> Run {
        let (runs, info) = (self.runs, self.info);
        fn entries<T>(
            runs: &SelectedRuns,
            table: &[Entry],
            part: Part,
            make: impl Fn(&str, &str) -> T,
        ) -> Vec<T> {
            table[part.range()]
                .iter()
                .map(|e| make(runs.key(e.key), runs.text(e.value)))
                .collect()
        }
        let row = InfoRow {
            run_id: self.run_id(),
            experiment_id: self.experiment_id(),
            run_name: self.run_name(),
            user_id: runs.text(info.user_id),
            status: info.status,
            start_time: info.start_time,
            end_time: info.end_time,
            artifact_uri: self.artifact_uri(),
            lifecycle_stage: info.lifecycle_stage,
        };
        Run {
            info: row.to_info(),
            data: RunData {
                metrics: runs.metrics[info.metrics.range()]
                    .iter()
                    .map(|m| Metric {
                        key: runs.key(m.key).to_string(),
                        value: m.value,
                        timestamp: m.timestamp,
                        step: m.step,
                    })
                    .collect(),
                params: entries(runs, &runs.params, info.params, |k, v| Param::new(k, v)),
                tags: entries(runs, &runs.tags, info.tags, |k, v| Tag::new(k, v)),
            },
            inputs: RunInputs::default(),
        }
    }
}

/// A run's info as a store reads it, borrowed from the row.
pub(crate) struct InfoRow<'r> {
    pub(crate) run_id: &'r str,
    pub(crate) experiment_id: &'r str,
    pub(crate) run_name: &'r str,
    pub(crate) user_id: &'r str,
    pub(crate) status: RunStatus,
    pub(crate) start_time: i64,
    pub(crate) end_time: Option<i64>,
    pub(crate) artifact_uri: &'r str,
    pub(crate) lifecycle_stage: LifecycleStage,
}

impl<'r> InfoRow<'r> {
    /// The info of `run`, borrowed.
    fn of(run: &'r RunInfo) -> Self {
        InfoRow {
            run_id: &run.run_id,
            experiment_id: &run.experiment_id.0,
            run_name: &run.run_name,
            user_id: &run.user_id,
            status: run.status,
            start_time: run.start_time,
            end_time: run.end_time,
            artifact_uri: &run.artifact_uri,
            lifecycle_stage: run.lifecycle_stage,
        }
    }

    /// The info, owned.
    pub(crate) fn to_info(&self) -> RunInfo {
        RunInfo {
            run_id: self.run_id.to_string(),
            experiment_id: ExperimentId(self.experiment_id.to_string()),
            run_name: self.run_name.to_string(),
            user_id: self.user_id.to_string(),
            status: self.status,
            start_time: self.start_time,
            end_time: self.end_time,
            artifact_uri: self.artifact_uri.to_string(),
            lifecycle_stage: self.lifecycle_stage,
        }
    }
}

/// [`SelectedRuns`] as they are read: runs first, then their params, tags and metrics in
/// any order.
#[derive(Default)]
pub(crate) struct SelectedRunsBuilder {
    runs: SelectedRuns,
    /// The index of each key in `runs.keys`.
    key_index: HashMap<Box<str>, u32>,
    /// Per key, the key that came after it last: rows come grouped by run and sorted by
    /// key, so that is usually the next key, found without hashing.
    next_key: Vec<Option<u32>>,
    last_key: Option<u32>,
    /// Whether a text, run or key went past what 32 bits index.
    too_large: bool,
}

impl SelectedRunsBuilder {
    /// Adds a run, with no data yet; returns its index.
    pub(crate) fn run(&mut self, row: InfoRow<'_>) -> usize {
        let info = Info {
            run_id: self.text(row.run_id),
            experiment_id: self.text(row.experiment_id),
            run_name: self.text(row.run_name),
            user_id: self.text(row.user_id),
            artifact_uri: self.text(row.artifact_uri),
            status: row.status,
            lifecycle_stage: row.lifecycle_stage,
            start_time: row.start_time,
            end_time: row.end_time,
            params: Part::default(),
            tags: Part::default(),
            metrics: Part::default(),
        };
        self.runs.runs.push(info);
        self.runs.runs.len() - 1
    }

    /// Adds param `key` = `value` to run `run`.
    pub(crate) fn param(&mut self, run: usize, key: &str, value: &str) {
        if let Some(entry) = self.entry(run, key, value) {
            self.runs.params.push(entry);
        }
    }

    /// Adds tag `key` = `value` to run `run`.
    pub(crate) fn tag(&mut self, run: usize, key: &str, value: &str) {
        if let Some(entry) = self.entry(run, key, value) {
            self.runs.tags.push(entry);
        }
    }

    /// Adds latest metric `key` to run `run`.
    pub(crate) fn metric(&mut self, run: usize, key: &str, value: f64, timestamp: i64, step: i64) {
        let (Some(run), Some(key)) = (self.index(run), self.key(key)) else {
            return;
        };
        self.runs.metrics.push(MetricEntry {
            run,
            key,
            value,
            timestamp,
            step,
        });
    }

    /// Adds `run` with its data.
    pub(crate) fn push(&mut self, run: &Run) {
        let i = self.run(InfoRow::of(&run.info));
        for p in &run.data.params {
            self.param(i, &p.key, &p.value);
        }
        for t in &run.data.tags {
            self.tag(i, &t.key, &t.value);
        }
        for m in &run.data.metrics {
            self.metric(i, &m.key, m.value, m.timestamp, m.step);
        }
    }

    /// The runs, each run's data sorted by key. Fails past 4 GiB of text (or 2^32 runs
    /// or keys).
    pub(crate) fn finish(self) -> Result<SelectedRuns> {
        if self.too_large || u32::try_from(self.runs.runs.len()).is_err() {
            return Err(StoreError::InvalidParameter(
                "the runs read at once hold more than 4 GiB of text; read fewer (narrow the \
                 search with a filter)"
                    .to_string(),
            ));
        }
        let mut runs = self.runs;
        // Each key's rank in key order, so that entries sort by comparing numbers.
        let mut by_text: Vec<u32> = (0..runs.keys.len() as u32).collect();
        by_text.sort_unstable_by(|&a, &b| runs.key(a).cmp(runs.key(b)));
        let mut rank = vec![0; by_text.len()];
        for (r, &k) in by_text.iter().enumerate() {
            rank[k as usize] = r;
        }
        let order = |run: u32, key: u32| (run, rank[key as usize]);
        let by = |a: &Entry, b: &Entry| order(a.run, a.key).cmp(&order(b.run, b.key));
        sort_unless_sorted(&mut runs.params, by);
        sort_unless_sorted(&mut runs.tags, by);
        sort_unless_sorted(&mut runs.metrics, |a, b| {
            order(a.run, a.key).cmp(&order(b.run, b.key))
        });
        // Where each run's entries start, in each table (the tables are fewer than 2^32
        // entries: each has a text or a run of its own).
        let starts = |runs_of: &mut dyn Iterator<Item = u32>, n: usize| {
            let mut starts = vec![0u32; n + 1];
            for run in runs_of {
                starts[run as usize + 1] += 1;
            }
            for i in 0..n {
                starts[i + 1] += starts[i];
            }
            starts
        };
        let n = runs.runs.len();
        let params = starts(&mut runs.params.iter().map(|e| e.run), n);
        let tags = starts(&mut runs.tags.iter().map(|e| e.run), n);
        let metrics = starts(&mut runs.metrics.iter().map(|m| m.run), n);
        let part = |starts: &[u32], i: usize| Part {
            start: starts[i],
            end: starts[i + 1],
        };
        for (i, info) in runs.runs.iter_mut().enumerate() {
            info.params = part(&params, i);
            info.tags = part(&tags, i);
            info.metrics = part(&metrics, i);
        }
        Ok(runs)
    }

    /// `i` as a 32-bit index, noting when it is not one.
    fn index(&mut self, i: usize) -> Option<u32> {
        let index = u32::try_from(i).ok();
        self.too_large |= index.is_none();
        index
    }

    fn text(&mut self, text: &str) -> Part {
        let start = self.runs.text.len();
        match (self.index(start), self.index(start + text.len())) {
            (Some(start), Some(end)) => {
                self.runs.text.push_str(text);
                Part { start, end }
            }
            _ => Part::default(),
        }
    }

    fn key(&mut self, key: &str) -> Option<u32> {
        let expected = self
            .last_key
            .and_then(|last| self.next_key[last as usize])
            .filter(|&next| self.runs.key(next) == key);
        let i = match expected {
            Some(i) => i,
            None => match self.key_index.get(key) {
                Some(&i) => i,
                None => {
                    let i = self.index(self.runs.keys.len())?;
                    let part = self.text(key);
                    self.runs.keys.push(part);
                    self.next_key.push(None);
                    self.key_index.insert(key.into(), i);
                    i
                }
            },
        };
        if let Some(last) = self.last_key {
            self.next_key[last as usize] = Some(i);
        }
        self.last_key = Some(i);
        Some(i)
    }

    fn entry(&mut self, run: usize, key: &str, value: &str) -> Option<Entry> {
        Some(Entry {
            run: self.index(run)?,
            key: self.key(key)?,
            value: self.text(value),
        })
    }
}

/// Sorts `items` by `cmp` (stably) unless they already are: rows usually come sorted.
pub(crate) fn sort_unless_sorted<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    if !items.is_sorted_by(|a, b| cmp(a, b).is_le()) {
        items.sort_by(cmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, params: &[(&str, &str)], tags: &[(&str, &str)], loss: Option<f64>) -> Run {
        let mut run = Run {
            info: RunInfo {
                run_id: id.into(),
                experiment_id: ExperimentId("7".into()),
                run_name: format!("name-{id}"),
                user_id: "u".into(),
                status: RunStatus::Failed,
                start_time: 5,
                end_time: Some(9),
                artifact_uri: format!("file:///a/{id}"),
                lifecycle_stage: LifecycleStage::Deleted,
            },
            data: RunData::default(),
            inputs: RunInputs::default(),
        };
        run.data.params = params.iter().map(|(k, v)| Param::new(*k, *v)).collect();
        run.data.tags = tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect();
        run.data.metrics = loss
            .into_iter()
            .map(|v| Metric {
                key: "loss".into(),
                value: v,
                timestamp: 3,
                step: 2,
            })
            .collect();
        run
    }

    #[test]
    fn runs_read_back_as_they_were_with_their_data_sorted_by_key() {
        let runs = vec![
            run(
                "a",
                &[("lr", "0.1"), ("depth", "3")],
                &[("z", "1"), ("a", "")],
                None,
            ),
            run("b", &[], &[("a", "x")], Some(f64::NAN)),
            run("c", &[("lr", "1e-3")], &[], Some(0.5)),
        ];
        let selected = SelectedRuns::from_runs(runs.clone()).unwrap();
        assert_eq!(selected.len(), 3);
        let mut sorted = runs;
        for r in &mut sorted {
            r.data.params.sort_by(|a, b| a.key.cmp(&b.key));
            r.data.tags.sort_by(|a, b| a.key.cmp(&b.key));
        }
        // NaN != NaN: compare the debug text.
        assert_eq!(format!("{:?}", selected.to_runs()), format!("{sorted:?}"));
        let a = selected.iter().next().unwrap();
        assert_eq!(
            a.params().collect::<Vec<_>>(),
            [("depth", "3"), ("lr", "0.1")]
        );
        assert_eq!(
            (a.tag("a"), a.tag("z"), a.tag("y")),
            (Some(""), Some("1"), None)
        );
        let b = selected.iter().nth(1).unwrap();
        assert!(b.metric("loss").unwrap().is_nan() && b.param("lr").is_none());
        let c = selected.iter().nth(2).unwrap();
        assert_eq!(
            (c.metric("loss"), c.status()),
            (Some(0.5), RunStatus::Failed)
        );
    }

    #[test]
    fn data_in_any_order_goes_to_its_run() {
        let mut b = SelectedRunsBuilder::default();
        let info = |id| InfoRow {
            run_id: id,
            experiment_id: "1",
            run_name: "",
            user_id: "",
            status: RunStatus::Running,
            start_time: 0,
            end_time: None,
            artifact_uri: "",
            lifecycle_stage: LifecycleStage::Active,
        };
        let (x, y) = (b.run(info("x")), b.run(info("y")));
        b.param(y, "b", "2");
        b.param(x, "b", "1");
        b.param(y, "a", "3");
        b.tag(y, "t", "u");
        b.metric(x, "m", 1.0, 0, 0);
        let runs = b.finish().unwrap();
        let [x, y] = [0, 1].map(|i| runs.iter().nth(i).unwrap());
        assert_eq!(x.params().collect::<Vec<_>>(), [("b", "1")]);
        assert_eq!(y.params().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        assert_eq!((x.tag("t"), y.tag("t")), (None, Some("u")));
        assert_eq!((x.metric("m"), y.metric("m")), (Some(1.0), None));
    }
}
