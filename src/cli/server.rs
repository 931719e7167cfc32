//! `hyperflow server` and `hyperflow ui`.

use std::path::PathBuf;

use clap::Args;
use hyperflow::server::{ServerConfig, run_blocking};
use hyperflow::tracking::OpenMode;

/// Where `hyperflow server` and `hyperflow ui` listen, as `mlflow server` spells it.
#[derive(Debug, Args)]
pub struct Bind {
    /// Address to bind. Anything but loopback needs --auth-token (or HYPERFLOW_AUTH_TOKEN)
    /// or --insecure.
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    host: String,
    /// Port (0 picks a free one).
    #[arg(long, short, default_value_t = 5000)]
    port: u16,
}

/// Flags of `hyperflow server`, as `mlflow server` spells them.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    bind: Bind,
    /// The store behind the server (default: the global --tracking-uri rules).
    #[arg(long, value_name = "URI")]
    backend_store_uri: Option<String>,
    /// Where proxied artifacts are kept: a directory, or object storage
    /// (s3://bucket/prefix, gs://bucket/prefix, az://container/prefix; credentials from
    /// the environment, see docs/artifacts.md).
    #[arg(long, value_name = "DIR|URI", default_value = "hyperflow-artifacts")]
    artifacts_destination: PathBuf,
    /// Do not serve the artifact proxy.
    #[arg(long)]
    no_serve_artifacts: bool,
    /// Token clients must send: `Authorization: Bearer <token>` (MLFLOW_TRACKING_TOKEN) or
    /// as the basic-auth password (MLFLOW_TRACKING_PASSWORD).
    #[arg(long, env = "HYPERFLOW_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Allow a non-loopback address without a token.
    #[arg(long)]
    insecure: bool,
    /// Worker threads (default: number of cores).
    #[arg(long, short)]
    workers: Option<usize>,
    /// How the store is opened (`hyperflow ui` only reads).
    #[arg(skip)]
    store_mode: OpenMode,
}

impl ServerArgs {
    /// `hyperflow ui`: the server's defaults at `bind`, the store opened read-only (it must
    /// exist; a read-only file or folder is fine).
    pub fn ui(bind: Bind) -> Self {
        ServerArgs {
            bind,
            backend_store_uri: None,
            artifacts_destination: "hyperflow-artifacts".into(),
            no_serve_artifacts: false,
            auth_token: None,
            insecure: false,
            workers: None,
            store_mode: OpenMode::ReadOnly,
        }
    }
}

/// Serves the REST API, the artifact proxy and the web UI until interrupted.
pub fn run(args: ServerArgs, tracking_uri: &str) -> anyhow::Result<()> {
    let config = ServerConfig {
        host: args.bind.host,
        port: args.bind.port,
        backend_store_uri: args
            .backend_store_uri
            .unwrap_or_else(|| tracking_uri.to_string()),
        artifacts_destination: args.artifacts_destination,
        serve_artifacts: !args.no_serve_artifacts,
        auth_token: args.auth_token,
        insecure: args.insecure,
        workers: args.workers,
        store_mode: args.store_mode,
        ..ServerConfig::default()
    };
    config.validate()?;
    run_blocking(config)?;
    Ok(())
}
