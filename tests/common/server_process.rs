//! The real `hyperflow server` binary as a child process: started on port 0, its URL read
//! from the line it prints once it accepts connections, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `hyperflow server` process; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl ServerProcess {
    /// Runs `bin args...` (the `hyperflow` binary and a `server` command line) in `cwd`,
    /// with no tracking URI or token from the environment, and reads the URL it prints.
    pub fn launch(bin: &str, cwd: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(bin)
            .current_dir(cwd)
            .env_remove("HYPERFLOW_AUTH_TOKEN")
            .env_remove("HYPERFLOW_TRACKING_URI")
            .env_remove("MLFLOW_TRACKING_URI")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start hyperflow");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's first line");
        let url = line
            .trim()
            .strip_prefix("hyperflow server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        ServerProcess { child, url }
    }

    /// `hyperflow server` on port 0 over `backend_store_uri`, with its artifacts in
    /// `dir/artifacts`, run in `dir`.
    pub fn start(bin: &str, dir: &Path, backend_store_uri: &str) -> ServerProcess {
        let artifacts = dir.join("artifacts");
        let artifacts = artifacts.to_str().expect("a UTF-8 path");
        let args = [
            "server",
            "--port",
            "0",
            "--workers",
            "2",
            "--backend-store-uri",
            backend_store_uri,
            "--artifacts-destination",
            artifacts,
        ];
        ServerProcess::launch(bin, dir, &args)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
