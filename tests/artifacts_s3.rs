//! Artifacts on object storage against a real S3 emulator (moto, `scripts/setup-s3.sh`):
//! a Rust client writing directly to `s3://` locations, and the tracking server's artifact
//! proxy over an `s3://` destination used by the official MLflow client. What lands in the
//! bucket is checked through moto's own S3 API (boto3), not through hyperflow's code.
//! Skipped, with a message, when moto is not installed.

mod common;

use common::s3::Moto;
use hyperflow::server::{ServerConfig, spawn};
use hyperflow::tracking::artifacts::object::{ObjectStoreRepo, block_on};
use hyperflow::tracking::*;
use std::sync::Arc;

/// A tracker over a fresh SQLite store whose new experiments live under `root`.
fn tracker_at(dir: &std::path::Path, root: &str) -> Tracker {
    let store = SqliteStore::open_with_artifact_root(dir.join("t.db"), root).unwrap();
    Tracker::new(Arc::new(store))
}

/// Keys of `objects` below `prefix`, with the prefix taken off.
fn keys_below(objects: &[(String, u64)], prefix: &str) -> Vec<(String, u64)> {
    objects
        .iter()
        .filter_map(|(k, n)| Some((k.strip_prefix(prefix)?.to_string(), *n)))
        .collect()
}

#[test]
fn a_rust_client_writes_runs_artifacts_straight_to_s3() {
    let Some(moto) = Moto::start("a_rust_client_writes_runs_artifacts_straight_to_s3") else {
        return;
    };
    moto.create_bucket("runs");
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_at(dir.path(), "s3://runs/mlruns");

    // Every kind of artifact, listed and downloaded back (the same checks as local
    // directories and the proxy pass).
    common::artifacts::tracker_round_trip(&tracker, dir.path());

    // Nested directories and a file large enough for a multipart upload (> 10 MiB).
    let run = tracker.start_run(RunOptions::new()).unwrap();
    assert!(run.info().artifact_uri.starts_with("s3://runs/mlruns/0/"));
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::write(src.join("top.txt"), "top").unwrap();
    std::fs::write(src.join("a/b/c/deep.txt"), "deep").unwrap();
    let big: Vec<u8> = (0..25 << 20).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(src.join("a/big.bin"), &big).unwrap();
    run.log_artifacts_to(&src, "tree").unwrap();
    assert_eq!(
        common::artifacts::entries(run.list_artifacts("tree/a").unwrap()),
        vec![
            ("tree/a/b".to_string(), true),
            ("tree/a/big.bin".to_string(), false)
        ]
    );
    let down = run
        .download_artifacts("tree", &dir.path().join("down"))
        .unwrap();
    assert_eq!(std::fs::read(down.join("a/big.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read_to_string(down.join("a/b/c/deep.txt")).unwrap(),
        "deep"
    );

    // The objects are in the bucket, where the run's artifact URI says.
    let objects = moto.objects("runs");
    let prefix = format!("mlruns/0/{}/artifacts/", run.id());
    assert_eq!(
        keys_below(&objects, &prefix),
        vec![
            ("tree/a/b/c/deep.txt".to_string(), 4),
            ("tree/a/big.bin".to_string(), big.len() as u64),
            ("tree/top.txt".to_string(), 3),
        ]
    );

    // An experiment created with an s3:// location writes there.
    let id = tracker
        .create_experiment_with("on-s3", Some("s3://runs/elsewhere"), &[])
        .unwrap();
    let run = tracker.start_run(RunOptions::new().experiment(id)).unwrap();
    run.log_text("x", "x.txt").unwrap();
    let objects = moto.objects("runs");
    let key = format!("elsewhere/{}/artifacts/x.txt", run.id());
    assert!(objects.iter().any(|(k, _)| *k == key), "{objects:?}");
    // The write check left no probe behind.
    assert!(!objects.iter().any(|(k, _)| k.contains("write-check")));
}

#[test]
fn a_missing_bucket_is_a_clear_error() {
    let Some(moto) = Moto::start("a_missing_bucket_is_a_clear_error") else {
        return;
    };
    moto.create_bucket("present");
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_at(dir.path(), "s3://present/p");
    let e = tracker
        .create_experiment_with("typo", Some("s3://no-such-bucket/p"), &[])
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, StoreError::NotAccessible { .. }), "{e:?}");
    assert!(
        text.contains("no-such-bucket") && text.contains("does not exist"),
        "{text}"
    );
    // Nothing was created.
    assert!(tracker.get_experiment_by_name("typo").unwrap().is_none());

    // A run whose location's bucket is gone: its writes fail saying so.
    let repo = repo_at("s3://no-such-bucket/runs");
    let e = repo.write_bytes("a.txt", b"a").unwrap_err();
    assert!(
        e.to_string().contains("'no-such-bucket' does not exist"),
        "{e}"
    );
    // Reading a missing file of a bucket that exists is NotFound.
    let present = repo_at("s3://present/p");
    assert!(matches!(
        present.read_bytes("missing.txt"),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn refused_credentials_are_a_clear_error() {
    let Some(moto) = Moto::start_guarded("refused_credentials_are_a_clear_error", "guarded") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tracker = tracker_at(dir.path(), "s3://guarded/runs");
    // The user's key pair works.
    tracker
        .create_experiment_with("allowed", Some("s3://guarded/allowed"), &[])
        .unwrap();
    let server_config = ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.path().join("server.db").display()),
        artifacts_destination: "s3://guarded/proxied".into(),
        workers: Some(2),
        ..ServerConfig::default()
    };
    spawn(server_config.clone()).unwrap().stop().unwrap();

    // A wrong secret, and a key moto does not know: refused, naming the variables.
    for (id, secret) in [
        (moto_key_id(), "wrong-secret"),
        ("AKIANOTAKEY".to_string(), "x"),
    ] {
        moto.set_credentials(&id, secret);
        let e = tracker
            .create_experiment_with("refused", Some("s3://guarded/refused"), &[])
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, StoreError::NotAccessible { .. }), "{e:?}");
        assert!(
            text.contains("refused the credentials") && text.contains("AWS_ACCESS_KEY_ID"),
            "{text}"
        );
        let e = spawn(server_config.clone())
            .err()
            .expect("refused at start");
        assert!(e.to_string().contains("refused the credentials"), "{e}");
    }
}

/// The key id `AWS_ACCESS_KEY_ID` holds.
fn moto_key_id() -> String {
    std::env::var("AWS_ACCESS_KEY_ID").unwrap()
}

/// The repository at object storage URI `uri`.
fn repo_at(uri: &str) -> ObjectStoreRepo {
    match ArtifactLocation::parse(uri).unwrap() {
        ArtifactLocation::Object(l) => ObjectStoreRepo::open(&l).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocking_calls_work_from_plain_threads_and_inside_a_tokio_runtime() {
    let Some(moto) =
        Moto::start("blocking_calls_work_from_plain_threads_and_inside_a_tokio_runtime")
    else {
        return;
    };
    moto.create_bucket("runtime");
    let repo = repo_at("s3://runtime/x");
    // A plain thread.
    repo.write_bytes("plain.txt", b"plain").unwrap();
    // Inside another runtime: directly in an async task (the work still runs on the
    // object storage runtime, no runtime is entered twice) and on its blocking pool, as
    // the server calls it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let in_task = repo.clone();
    let in_pool = repo.clone();
    rt.block_on(async move {
        in_task.write_bytes("task.txt", b"task").unwrap();
        tokio::task::spawn_blocking(move || in_pool.write_bytes("pool.txt", b"pool"))
            .await
            .unwrap()
            .unwrap();
        // And the async entry point, awaited from this runtime.
        let stream = in_task.read_stream("pool.txt").await.unwrap();
        let chunks: Vec<_> = futures_util::TryStreamExt::try_collect(stream)
            .await
            .unwrap();
        assert_eq!(chunks.concat(), b"pool");
    });
    assert_eq!(repo.read_bytes("task.txt").unwrap(), b"task");
    assert_eq!(block_on(async { 1 + 1 }).unwrap(), 2);
    assert_eq!(
        keys_below(&moto.objects("runtime"), "x/"),
        vec![
            ("plain.txt".to_string(), 5),
            ("pool.txt".to_string(), 4),
            ("task.txt".to_string(), 4)
        ]
    );
}

#[test]
fn the_server_proxies_the_official_client_to_s3() {
    let Some(moto) = Moto::start("the_server_proxies_the_official_client_to_s3") else {
        return;
    };
    let Some(python) =
        common::python::mlflow_python("the_server_proxies_the_official_client_to_s3")
    else {
        return;
    };
    moto.create_bucket("proxied");
    let dir = tempfile::tempdir().unwrap();
    let config = |dest: &str| ServerConfig {
        port: 0,
        backend_store_uri: format!("sqlite:///{}", dir.path().join("server.db").display()),
        artifacts_destination: dest.into(),
        workers: Some(2),
        ..ServerConfig::default()
    };
    // A destination whose bucket is missing stops the server at start.
    let e = spawn(config("s3://no-such-bucket/a"))
        .err()
        .expect("refused");
    assert!(
        e.to_string().contains("'no-such-bucket' does not exist"),
        "{e}"
    );

    let server = spawn(config("s3://proxied/store")).unwrap();
    // The official client sees mlflow-artifacts: locations and goes through the proxy;
    // it has no credentials of its own.
    common::python::run_checks(
        &python,
        "s3_proxy.py",
        &server.url(),
        dir.path(),
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ],
    );
    let run_id = std::fs::read_to_string(dir.path().join("run_id.txt")).unwrap();
    let objects = moto.objects("proxied");
    let prefix = format!("store/1/{}/artifacts/", run_id.trim());
    assert_eq!(
        keys_below(&objects, &prefix),
        vec![
            ("big.bin".to_string(), 12 << 20),
            ("data/nested/deep.txt".to_string(), 4),
            ("data/top.txt".to_string(), 3),
            ("notes.txt".to_string(), 5),
        ],
        "{objects:?}"
    );

    // An upload over the size limit is refused after its first part went up as a
    // multipart upload: the upload is aborted and nothing is left in the bucket.
    let limited = spawn(ServerConfig {
        limits: hyperflow::server::Limits {
            max_artifact_bytes: 12 << 20,
            ..hyperflow::server::Limits::default()
        },
        ..config("s3://proxied/limited")
    })
    .unwrap();
    let out = common::python::python_command(&python)
        .args([
            "-c",
            "import requests, sys\n\
             r = requests.put(sys.argv[1], data=b'x' * (20 << 20))\n\
             print(r.status_code)",
            &format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/big/too-big.bin",
                limited.url()
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "413");
    assert!(
        !moto
            .objects("proxied")
            .iter()
            .any(|(k, _)| k.contains("too-big")),
        "{:?}",
        moto.objects("proxied")
    );
    let pending =
        moto.boto3("print(len(s3.list_multipart_uploads(Bucket='proxied').get('Uploads', [])))");
    assert_eq!(pending.trim(), "0", "a multipart upload was left behind");

    // The storage failing under the server is a 503 saying so, not a client error.
    moto.boto3(
        "b = 'proxied'\n\
         for o in s3.list_objects_v2(Bucket=b).get('Contents', []):\n\
         \x20   s3.delete_object(Bucket=b, Key=o['Key'])\n\
         s3.delete_bucket(Bucket=b)",
    );
    let url = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/1/x/artifacts/a.txt",
        server.url()
    );
    let out = common::python::python_command(&python)
        .args([
            "-c",
            "import requests, sys\n\
             r = requests.put(sys.argv[1], data=b'abc')\n\
             print(r.status_code, r.json()['error_code'], r.json()['message'])",
            &url,
        ])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(
        answer.starts_with("503 TEMPORARILY_UNAVAILABLE")
            && answer.contains("'proxied' does not exist"),
        "{answer} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_sweep_on_an_s3_experiment_keeps_every_trials_artifacts_in_the_bucket() {
    let test = "a_sweep_on_an_s3_experiment_keeps_every_trials_artifacts_in_the_bucket";
    let Some(moto) = Moto::start(test) else {
        return;
    };
    let Some(python) = common::python::mlflow_python(test) else {
        return;
    };
    moto.create_bucket("sweeps");
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("t.db").display());
    let tracker = Tracker::open(&uri).unwrap();
    let experiment = tracker
        .create_experiment_with("mlflow-trials", Some("s3://sweeps/exp"), &[])
        .unwrap();
    let config = dir.path().join("sweep.toml");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/sweeps/mlflow/train.py"
    );
    std::fs::write(
        &config,
        format!(
            "[experiment]\nname = \"mlflow-trials\"\n\n\
             [command]\nrun = \"echo training; {} {script} --lr {{lr}} --l2 {{l2}} --epochs 2\"\n\
             shell = true\n\
             env = {{ MLFLOW_DISABLE_TELEMETRY = \"true\", DO_NOT_TRACK = \"true\", \
             MLFLOW_HTTP_REQUEST_MAX_RETRIES = \"0\" }}\n\n\
             [objective]\nmetric = \"val_loss\"\n\n\
             [search]\nalgo = \"random\"\nmax_evals = 3\nparallel = 2\nseed = 5\n\n\
             [space]\nlr = {{ kind = \"loguniform\", low = 0.01, high = 0.5 }}\n\
             l2 = {{ kind = \"loguniform\", low = 0.00001, high = 0.1 }}\n",
            python.display()
        ),
    )
    .unwrap();
    // The sweep process has the credentials (the environment moto set); its trials reach
    // the bucket through the sweep's endpoint.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hyperflow"))
        .current_dir(dir.path())
        .args(["--tracking-uri", &uri, "sweep"])
        .arg(&config)
        .arg("--no-progress")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let objects = moto.objects("sweeps");
    let trials = tracker
        .search_all_runs(
            &SearchRuns::new()
                .experiment(&experiment)
                .filter("tags.`hyperflow.role` = 'trial'"),
        )
        .unwrap();
    assert_eq!(trials.len(), 3);
    for trial in trials {
        let prefix = format!("exp/{}/artifacts/", trial.info.run_id);
        let keys: Vec<String> = keys_below(&objects, &prefix)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        // The sweep's own artifacts (written directly) and the script's (through the
        // endpoint's proxy).
        for expected in ["model/weights.json", "stdout.txt"] {
            assert!(keys.iter().any(|k| k == expected), "{expected}: {keys:?}");
        }
    }
}
