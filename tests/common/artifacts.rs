//! The artifact API of `Tracker` / `ActiveRun`, the same for every store: local
//! directories (SQLite) and a tracking server's artifact proxy (REST store, against
//! hyperflow's server or MLflow's).

use hyperflow::tracking::*;
use std::path::Path;

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Model {
    weights: Vec<f64>,
    bias: f64,
}

/// A listing as `(path, is_dir)` pairs.
pub fn entries(files: Vec<FileInfo>) -> Vec<(String, bool)> {
    files.into_iter().map(|f| (f.path, f.is_dir)).collect()
}

/// Logs every kind of artifact on a new run of `t`, lists and downloads them back into
/// `scratch` (a local directory), and checks that escaping paths are rejected.
pub fn tracker_round_trip(t: &Tracker, scratch: &Path) {
    let run = t.start_run(RunOptions::new()).unwrap();
    run.log_text("hello", "notes/hello.txt").unwrap();
    run.log_json(&serde_json::json!({"a": 1}), "cfg.json")
        .unwrap();
    run.log_figure(b"<svg/>", "plots/loss.svg").unwrap();
    let model = Model {
        weights: vec![1.0, 2.0],
        bias: 0.5,
    };
    let logged = run.log_model(&model, "model").unwrap();
    let local = scratch.join("local.bin");
    std::fs::write(&local, [1u8, 2, 3]).unwrap();
    run.log_artifact(&local).unwrap();
    let local_dir = scratch.join("dir");
    std::fs::create_dir_all(local_dir.join("inner")).unwrap();
    std::fs::write(local_dir.join("inner/x.txt"), "x").unwrap();
    run.log_artifacts_to(&local_dir, "copied").unwrap();

    assert_eq!(
        entries(run.list_artifacts("").unwrap()),
        vec![
            ("cfg.json".to_string(), false),
            ("copied".to_string(), true),
            ("local.bin".to_string(), false),
            ("notes".to_string(), true),
            ("plots".to_string(), true),
        ]
    );
    // The model's files are the logged model's, not the run's.
    let files: Vec<String> = t
        .store()
        .artifact_repo(&logged.artifact_uri)
        .unwrap()
        .list("")
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(files, vec!["MLmodel", "model.json"]);
    assert_eq!(logged.status, LoggedModelStatus::Ready);
    assert_eq!(logged.source_run_id.as_deref(), Some(run.id()));
    let back: Model = t
        .load_model(&format!("models:/{}", logged.model_id))
        .unwrap();
    assert_eq!(back, model);
    let files = run.list_artifacts("notes").unwrap();
    assert_eq!(files[0].file_size, Some(5));
    assert!(run.list_artifacts("missing").unwrap().is_empty());

    let dest = scratch.join("down");
    let p = t
        .download_artifacts(run.id(), "notes/hello.txt", &dest)
        .unwrap();
    assert_eq!(std::fs::read_to_string(p).unwrap(), "hello");
    let p = run.download_artifacts("copied", &dest).unwrap();
    assert_eq!(std::fs::read_to_string(p.join("inner/x.txt")).unwrap(), "x");
    let everything = run.download_artifacts("", &scratch.join("all")).unwrap();
    assert_eq!(
        std::fs::read(everything.join("local.bin")).unwrap(),
        [1u8, 2, 3]
    );
    // Escapes are rejected with a typed error before anything is sent or written.
    for bad in [
        "../evil.txt",
        "a/../../evil.txt",
        "/tmp/evil.txt",
        "..\\evil.txt",
    ] {
        let e = run.log_text("x", bad).unwrap_err();
        assert!(
            matches!(e, StoreError::InvalidArtifactPath { .. }),
            "{bad}: {e:?}"
        );
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
    }
    assert!(matches!(
        run.list_artifacts("../.."),
        Err(StoreError::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        run.download_artifacts("../x", &dest),
        Err(StoreError::InvalidArtifactPath { .. })
    ));
    assert!(matches!(
        run.log_artifact_to(&local, "../up"),
        Err(StoreError::InvalidArtifactPath { .. })
    ));
    assert!(run.log_figure(b"x", "plot.exe").is_err());
    assert!(matches!(
        run.download_artifacts("notes/missing.txt", &dest),
        Err(StoreError::NotFound(_))
    ));
}
