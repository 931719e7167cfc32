//! Run hyperflow's MLflow-compatible tracking server, with the flags `hyperflow server`
//! takes:
//!
//! ```text
//! cargo run --release --features server --example tracking_server -- \
//!     --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///hyperflow.db \
//!     --artifacts-destination ./hyperflow-artifacts [--auth-token T | --insecure] [--workers N]
//! ```
//!
//! `HYPERFLOW_AUTH_TOKEN` is read when `--auth-token` is absent. Prints
//! `hyperflow server listening on http://HOST:PORT` once it accepts connections.

use hyperflow::server::{ServerConfig, run_blocking};
use std::process::ExitCode;

fn parse(args: &[String]) -> Result<ServerConfig, String> {
    let mut c = ServerConfig::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (flag.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag {
            "--host" | "-h" => c.host = value(flag)?,
            "--port" | "-p" => {
                c.port = value(flag)?
                    .parse()
                    .map_err(|_| "--port takes a number 0..65535".to_string())?
            }
            "--backend-store-uri" => c.backend_store_uri = value(flag)?,
            "--artifacts-destination" => c.artifacts_destination = value(flag)?.into(),
            "--auth-token" => c.auth_token = Some(value(flag)?),
            "--insecure" => c.insecure = true,
            "--no-serve-artifacts" => c.serve_artifacts = false,
            "--workers" | "-w" => {
                c.workers = Some(
                    value(flag)?
                        .parse()
                        .map_err(|_| "--workers takes a positive number".to_string())?,
                )
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(c.with_env())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run_blocking(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
