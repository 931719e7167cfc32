//! hyperflow's own overhead per sweep trial, beyond spawning the process.
//!
//! `cargo bench --bench sweep`: the same tiny command (`sh -c 'echo {"loss": 1}'`) run
//! with a bare `std::process::Command` (spawn, read stdout, wait) and through
//! [`TrialProcess::run`] (its own process group and watchdog guard, one loop polling both
//! pipes and the exit, metric parsing). The difference is the runner's overhead; the target is < 2 ms.

use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hyperflow::sweep::{Cancellation, StepMetric, TrialProcess};

const SCRIPT: &str = r#"echo '{"loss": 1}'"#;

fn overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("trial");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("bare spawn", |b| {
        b.iter(|| {
            let out = Command::new("sh")
                .args(["-c", SCRIPT])
                .stdin(Stdio::null())
                .output()
                .expect("sh runs");
            assert!(out.status.success());
        })
    });
    let process = TrialProcess {
        argv: vec!["sh".into(), "-c".into(), SCRIPT.into()],
        workdir: std::env::temp_dir(),
        env: vec![("HYPERFLOW_PARAMS".into(), r#"{"x": 1}"#.into())],
        timeout: Some(Duration::from_secs(60)),
        kill_grace: Duration::from_secs(1),
        prune_grace: Duration::from_secs(1),
    };
    let cancel = Cancellation::new();
    group.bench_function("TrialProcess::run", |b| {
        b.iter(|| {
            let out = process.run(&cancel, &mut |_: &StepMetric| false);
            assert_eq!(out.metric("loss"), Some(1.0));
        })
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
