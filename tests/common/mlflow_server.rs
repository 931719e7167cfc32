//! A real `mlflow server` from the venv of `scripts/setup-mlflow.sh` (see [`super::python`]):
//! SQLite backend and artifacts in a temp dir, `--serve-artifacts`, loopback, an ephemeral
//! port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mlflow server`; killed (its whole process group) on drop.
pub struct MlflowServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its folder: `mlflow.db` and the artifacts destination `artifacts/`.
    pub dir: tempfile::TempDir,
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn health(url: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(url.trim_start_matches("http://")) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    buf.starts_with(b"HTTP/1.1 200")
}

/// Start `mlflow server` from the venv and wait for `/health`.
pub fn start(python: &std::path::Path) -> MlflowServer {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mlflow = python.with_file_name("mlflow");
    let child = Command::new(&mlflow)
        .args([
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--backend-store-uri",
            &format!("sqlite:///{}", dir.path().join("mlflow.db").display()),
            "--serve-artifacts",
            "--artifacts-destination",
            &dir.path().join("artifacts").display().to_string(),
            "--workers",
            "1",
        ])
        .current_dir(dir.path())
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start mlflow server");
    let url = format!("http://127.0.0.1:{port}");
    let server = MlflowServer { child, url, dir };
    let deadline = Instant::now() + Duration::from_secs(300);
    while !health(&server.url) {
        assert!(
            Instant::now() < deadline,
            "mlflow server did not answer /health within 300 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}
