//! The tracking server (feature `server`): MLflow's tracking REST API 2.0 over any
//! [`Store`], the artifact proxy, auth, and (later) the web UI.
//!
//! - [`router`] builds the whole axum application for an [`AppState`];
//! - [`ServerConfig`] holds what `hyperflow server` / `hyperflow ui` take on the command line,
//!   [`ServerConfig::validate`] enforces the security rules (binding anything but loopback
//!   needs an auth token or an explicit `insecure`);
//! - [`run_blocking`] runs a server until Ctrl-C, printing its URL when ready; [`serve`] is
//!   the async form; [`spawn`] starts one on a background thread (tests, benchmarks).
//!
//! Every endpoint (method, path, handler) is one row of [`endpoints`], the table the router
//! is built from. Handlers are thin: read the request into its [`wire`] struct
//! ([`fields`]), run the [`api`] operation (a synchronous `Store` call) on tokio's blocking
//! pool, write MLflow's JSON in one piece.
//!
//! ```no_run
//! use hyperflow::server::{ServerConfig, run_blocking};
//!
//! let config = ServerConfig {
//!     port: 5000,
//!     backend_store_uri: "sqlite:///hyperflow.db".into(),
//!     ..ServerConfig::default()
//! };
//! run_blocking(config)?; // prints "hyperflow server listening on http://127.0.0.1:5000"
//! # Ok::<(), hyperflow::server::ServerError>(())
//! ```

pub mod api;
pub mod artifacts;
mod auth;
pub mod error;
pub mod fields;
pub mod ledger;
pub mod report;
pub mod ui;

use crate::tracking::wire::{self, Call};
use crate::tracking::{ArtifactLocation, ObjectLocation, OpenMode, Store, StoreError, TrackingUri};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, delete, get, on, put};
pub use error::{ApiError, ApiResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default largest JSON request body: 16 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 << 20;
/// The default largest artifact upload: 4 GiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 4 << 30;
/// Longest request URI (path and query) the server reads, in bytes; longer ones are
/// answered 414 with an MLflow error body.
pub const MAX_URI_BYTES: usize = 16 << 10;
/// Largest request header section (names, values and their separators) the server reads,
/// in bytes; larger ones are answered 431 with an MLflow error body.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
pub use crate::tracking::artifacts::MLFLOW_ARTIFACTS_SCHEME;

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid (message says what and how to fix it).
    #[error("invalid server configuration: {0}")]
    Config(String),
    /// The backend store could not be opened.
    #[error("cannot open the backend store: {0}")]
    Store(#[from] StoreError),
    /// Binding or serving failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Request size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON request body, bytes.
    pub max_request_bytes: usize,
    /// Largest artifact upload, bytes.
    pub max_artifact_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
        }
    }
}

/// Everything `hyperflow server` / `hyperflow ui` is configured with.
///
/// ```
/// use hyperflow::server::ServerConfig;
///
/// let local = ServerConfig::default();
/// assert_eq!(local.host, "127.0.0.1");
/// assert!(local.validate().is_ok());
///
/// // Any other address needs a token (or an explicit `insecure`).
/// let open = ServerConfig { host: "0.0.0.0".into(), ..ServerConfig::default() };
/// assert!(open.validate().is_err());
/// let open = ServerConfig { auth_token: Some("s3cret".into()), ..open };
/// assert!(open.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to bind (default `127.0.0.1`).
    pub host: String,
    /// Port (default 5000; 0 picks a free one).
    pub port: u16,
    /// Tracking store, e.g. `sqlite:///hyperflow.db`.
    pub backend_store_uri: String,
    /// Where proxied artifacts live (default `./hyperflow-artifacts`): a directory, or an
    /// object storage URI such as `s3://bucket/prefix` (feature `object-store`). New
    /// experiments get `mlflow-artifacts:/<id>` locations below it.
    pub artifacts_destination: PathBuf,
    /// Serve the artifact proxy (default true).
    pub serve_artifacts: bool,
    /// Token clients must send (`Authorization: Bearer <token>`, or as the basic-auth
    /// password). Required to bind a non-loopback address unless `insecure`.
    pub auth_token: Option<String>,
    /// Allow a non-loopback address without a token.
    pub insecure: bool,
    /// Worker threads of the async runtime (default: number of CPUs).
    pub workers: Option<usize>,
    /// Request size limits.
    pub limits: Limits,
    /// How an SQLite backend is opened (default read-write; `hyperflow ui` reads only).
    pub store_mode: OpenMode,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 5000,
            backend_store_uri: crate::tracking::uri::DEFAULT_TRACKING_URI.into(),
            artifacts_destination: PathBuf::from("hyperflow-artifacts"),
            serve_artifacts: true,
            auth_token: None,
            insecure: false,
            workers: None,
            limits: Limits::default(),
            store_mode: OpenMode::ReadWrite,
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ServerConfig {
    /// Take the auth token from `HYPERFLOW_AUTH_TOKEN` when none is set.
    pub fn with_env(mut self) -> Self {
        if self.auth_token.is_none() {
            self.auth_token = std::env::var("HYPERFLOW_AUTH_TOKEN")
                .ok()
                .filter(|t| !t.is_empty());
        }
        self
    }

    /// Does the server listen on loopback only?
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }

    /// Check the configuration: a non-loopback address needs a token or `insecure`; a
    /// token must not be empty; workers and limits must be positive.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |m: String| Err(ServerError::Config(m));
        if self.host.trim().is_empty() {
            return bad("the host is empty; use 127.0.0.1 (local) or 0.0.0.0 (all)".into());
        }
        if let Some(t) = &self.auth_token
            && t.trim().is_empty()
        {
            return bad("the auth token is empty; pass a non-empty --auth-token".into());
        }
        if !self.is_loopback() && self.auth_token.is_none() && !self.insecure {
            return bad(format!(
                "binding {} exposes the tracking server to the network; set --auth-token \
                 (or HYPERFLOW_AUTH_TOKEN) so clients must send it (MLFLOW_TRACKING_TOKEN), \
                 or pass --insecure to allow unauthenticated access",
                self.host
            ));
        }
        if self.workers == Some(0) {
            return bad("--workers must be at least 1".into());
        }
        if self.limits.max_request_bytes == 0 || self.limits.max_artifact_bytes == 0 {
            return bad("request size limits must be positive".into());
        }
        TrackingUri::parse(&self.backend_store_uri)?;
        Ok(())
    }

    /// Open the backend store and build the application state. An SQLite or PostgreSQL
    /// backend puts new experiments' artifacts under the artifacts destination. An object
    /// storage destination is listed once here, so that a missing bucket or refused
    /// credentials stop the server at start.
    pub fn open_state(&self) -> Result<AppState, ServerError> {
        let dest = ArtifactsDestination::open(&self.artifacts_destination)?;
        let store: Arc<dyn Store> = match TrackingUri::parse(&self.backend_store_uri)? {
            TrackingUri::Sqlite(path) => Arc::new(crate::tracking::SqliteStore::open_in(
                &path,
                dest.root(),
                self.store_mode,
            )?),
            #[cfg(feature = "postgres")]
            TrackingUri::Postgres(uri) => Arc::new(crate::tracking::PgStore::open_in(
                &uri,
                &dest.root(),
                self.store_mode,
            )?),
            other => other.open_with(self.store_mode)?,
        };
        let mut state = AppState::new(store);
        if self.serve_artifacts {
            state = state.with_artifacts_destination(dest);
        }
        if let Some(t) = &self.auth_token {
            state = state.with_auth_token(t);
        }
        Ok(state.with_limits(self.limits))
    }
}

fn absolute(p: &Path) -> Result<PathBuf, ServerError> {
    std::path::absolute(p).map_err(|e| ServerError::Io {
        context: format!("resolving {}", p.display()),
        source: e,
    })
}

/// Where a server keeps the artifacts it proxies.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ArtifactsDestination {
    /// A local directory (absolute).
    Local(PathBuf),
    /// A location on object storage (feature `object-store`).
    #[cfg(feature = "object-store")]
    Object(crate::tracking::artifacts::object::ObjectStoreRepo),
}

impl ArtifactsDestination {
    /// The destination `--artifacts-destination` names: a directory (made absolute) or an
    /// object storage URI, whose bucket is listed once to check that it is there and the
    /// credentials are accepted.
    pub fn open(dest: &Path) -> Result<Self, ServerError> {
        let Some(uri) = dest.to_str() else {
            return Ok(ArtifactsDestination::Local(absolute(dest)?));
        };
        match ArtifactLocation::parse(uri)? {
            ArtifactLocation::Local(dir) => Ok(ArtifactsDestination::Local(absolute(&dir)?)),
            ArtifactLocation::Proxy { .. } => Err(ServerError::Config(format!(
                "the artifacts destination '{uri}' is another server's artifact proxy; give a \
                 directory or an object storage URI (s3://bucket/prefix, gs://..., az://...)"
            ))),
            ArtifactLocation::Object(location) => Self::object(uri, &location),
        }
    }

    #[cfg(feature = "object-store")]
    fn object(_: &str, location: &ObjectLocation) -> Result<Self, ServerError> {
        use crate::tracking::ArtifactRepo;
        let repo = crate::tracking::artifacts::object::ObjectStoreRepo::open(location)?;
        repo.list("").map_err(|e| {
            ServerError::Config(format!("the artifacts destination cannot be used: {e}"))
        })?;
        Ok(ArtifactsDestination::Object(repo))
    }

    #[cfg(not(feature = "object-store"))]
    fn object(uri: &str, _: &ObjectLocation) -> Result<Self, ServerError> {
        Err(ServerError::Config(format!(
            "the artifacts destination '{uri}' is on object storage, which this build does not \
             support; build hyperflow with the `object-store` feature (the `hyperflow` command \
             has it)"
        )))
    }

    /// The root of new experiments' artifact locations: the directory or the URI.
    pub fn root(&self) -> String {
        match self {
            ArtifactsDestination::Local(dir) => dir.display().to_string(),
            #[cfg(feature = "object-store")]
            ArtifactsDestination::Object(repo) => repo.location().to_string(),
        }
    }

    /// Where stored artifact location `stored` is below the destination, if it is.
    fn relative(&self, stored: &str) -> Option<String> {
        match (self, ArtifactLocation::parse(stored).ok()?) {
            (ArtifactsDestination::Local(root), ArtifactLocation::Local(local)) => Some(
                local
                    .strip_prefix(root)
                    .ok()?
                    .to_string_lossy()
                    .replace('\\', "/"),
            ),
            #[cfg(feature = "object-store")]
            (ArtifactsDestination::Object(repo), ArtifactLocation::Object(object)) => {
                repo.location().relative(&object).map(str::to_string)
            }
            _ => None,
        }
    }
}

/// Shared state of every handler: the store, the artifact root, auth and limits. Cheap to
/// clone.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    artifacts: Option<Arc<ArtifactsDestination>>,
    auth_token: Option<Arc<str>>,
    limits: Limits,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("artifacts", &self.artifacts)
            .field("auth", &self.auth_token.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a store, without artifact proxy or auth.
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            artifacts: None,
            auth_token: None,
            limits: Limits::default(),
        }
    }

    /// Serve the artifact proxy from `dir` (absolute). Artifact locations below it are
    /// shown to clients as `mlflow-artifacts:/<relative path>`.
    pub fn with_artifacts(self, dir: impl Into<PathBuf>) -> Self {
        self.with_artifacts_destination(ArtifactsDestination::Local(dir.into()))
    }

    /// Serve the artifact proxy from `dest` (see [`ArtifactsDestination::open`]).
    pub fn with_artifacts_destination(mut self, dest: ArtifactsDestination) -> Self {
        self.artifacts = Some(Arc::new(dest));
        self
    }

    /// Require this token on every request except `/health`.
    pub fn with_auth_token(mut self, token: &str) -> Self {
        self.auth_token = Some(Arc::from(token));
        self
    }

    /// Set the request size limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The artifacts destination, when the proxy is on.
    pub fn artifacts_destination(&self) -> Option<&ArtifactsDestination> {
        self.artifacts.as_deref()
    }

    /// The artifacts destination's directory, when the proxy is on and serves a local
    /// directory.
    pub fn artifacts_dir(&self) -> Option<&Path> {
        match self.artifacts_destination()? {
            ArtifactsDestination::Local(dir) => Some(dir),
            #[cfg(feature = "object-store")]
            ArtifactsDestination::Object(_) => None,
        }
    }

    /// How clients see an artifact location: below the destination it becomes
    /// `mlflow-artifacts:/<relative>`, anything else is shown as stored.
    pub fn public_artifact_uri(&self, stored: &str) -> String {
        match self
            .artifacts_destination()
            .and_then(|d| d.relative(stored))
        {
            Some(rel) => format!("{MLFLOW_ARTIFACTS_SCHEME}/{rel}"),
            None => stored.to_string(),
        }
    }
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn is_json_content_type(req: &Request) -> Result<(), ApiError> {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "Bad Request. Content-Type header is missing.",
        ));
    };
    let essence = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Bad Request. Content-Type must be one of ['application/json'], got '{}'.",
            ct.to_str().unwrap_or("?")
        )))
    }
}

/// A request's fields: the query string of a GET, else the JSON body.
async fn request_fields(
    req: Request,
    limit: usize,
) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    let bodiless =
        req.method() == Method::DELETE && !req.headers().contains_key(header::CONTENT_TYPE);
    if req.method() == Method::GET || req.method() == Method::HEAD || bodiless {
        return Ok(fields::from_query(req.uri().query()));
    }
    is_json_content_type(&req)?;
    let body = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "INVALID_PARAMETER_VALUE",
                format!("Request body is larger than the server's limit of {limit} bytes"),
            )
        })?;
    fields::from_json(&body)
}

/// A JSON operation: its request read from the query or body, its answer written as JSON.
type Op<Q, A> = fn(&AppState, Q) -> ApiResult<A>;

async fn answer<Q, A>(st: AppState, req: Request, op: Op<Q, A>) -> Response
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
{
    let (mut parts, body) = req.into_parts();
    // Path parameters (`/logged-models/{model_id}`) are fields of the request too.
    let path_params = RawPathParams::from_request_parts(&mut parts, &st).await;
    let req = Request::from_parts(parts, body);
    let mut fields = match request_fields(req, st.limits.max_request_bytes).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    for (name, value) in path_params.iter().flat_map(|p| p.iter()) {
        fields.insert(name.to_string(), serde_json::Value::from(value));
    }
    let work = move || {
        let reply = op(&st, fields::parse(fields)?)?;
        serde_json::to_vec(&reply)
            .map_err(|e| ApiError::internal(format!("serializing the answer: {e}")))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(body)) => json_bytes(StatusCode::OK, body),
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::internal("the request handler failed unexpectedly").into_response(),
    }
}

fn json_route<Q, A>(method: &Method, op: Op<Q, A>) -> MethodRouter<AppState>
where
    Q: DeserializeOwned + Send + 'static,
    A: Serialize + Send + 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    on(filter, move |State(st): State<AppState>, req: Request| {
        answer(st, req, op)
    })
}

/// The HTTP method of a call of MLflow's API.
fn http_method(m: wire::Method) -> Method {
    match m {
        wire::Method::Get => Method::GET,
        wire::Method::Post => Method::POST,
        wire::Method::Patch => Method::PATCH,
        wire::Method::Delete => Method::DELETE,
    }
}

/// Where a row of the table is served.
#[derive(Debug, Clone, Copy)]
enum Prefix {
    /// `/api/2.0` and `/ajax-api/2.0`.
    V2,
    /// `/api/3.0` and `/ajax-api/3.0`.
    V3,
    /// At the root.
    Root,
}

impl Prefix {
    fn all(self) -> &'static [&'static str] {
        match self {
            Prefix::V2 => &[wire::API_PREFIX, wire::AJAX_PREFIX],
            Prefix::V3 => &["/api/3.0", "/ajax-api/3.0"],
            Prefix::Root => &[""],
        }
    }
}

/// One row of the endpoint table: a method, a path below a prefix, what answers it.
type Row = (Prefix, Method, String, MethodRouter<AppState>);

/// The row of a [`Call`] (of MLflow's API, or hyperflow's ledger), with its method and path.
fn mlflow<C: Call>(op: Op<C, C::Reply>) -> Row {
    mlflow_as(http_method(C::METHOD), op)
}

/// The row of a call of MLflow's API served with another method too.
fn mlflow_as<C: Call>(method: Method, op: Op<C, C::Reply>) -> Row {
    let route = json_route(&method, op);
    (Prefix::V2, method, C::PATH.to_string(), route)
}

/// One endpoint of the server: what [`endpoints`] lists and the router serves.
#[derive(Debug)]
pub struct Endpoint {
    /// The HTTP method.
    pub method: Method,
    /// The path, in axum's syntax (`{*path}` matches the rest of the path).
    pub path: String,
    route: MethodRouter<AppState>,
}

/// Every endpoint of the server but the web UI's pages ([`ui::routes`]): MLflow's tracking
/// REST API (under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`), the artifact proxy,
/// hyperflow's report ([`report`], `/api/2.0/hyperflow/report`), the UI's search
/// descriptions ([`ui::searches`], `/api/2.0/hyperflow/searches`), its run counts
/// ([`ui::count_runs`], `/api/2.0/hyperflow/runs/count`), the ledger of searches
/// ([`ledger`], `/api/2.0/hyperflow/ledger/...`),
/// `/api/3.0/mlflow/server-info` and `/health`. The router is built from this table and
/// nothing else.
pub fn endpoints() -> Vec<Endpoint> {
    let file = format!("{}/{{*path}}", wire::ARTIFACTS_PATH);
    let rows: Vec<Row> = vec![
        mlflow(api::create_experiment),
        mlflow(api::get_experiment),
        mlflow(api::get_experiment_by_name),
        mlflow(api::search_experiments),
        mlflow_as(Method::GET, api::search_experiments),
        mlflow(api::update_experiment),
        mlflow(api::delete_experiment),
        mlflow(api::restore_experiment),
        mlflow(api::set_experiment_tag),
        mlflow(api::delete_experiment_tag),
        mlflow(api::create_run),
        mlflow(api::get_run),
        mlflow(api::update_run),
        mlflow(api::delete_run),
        mlflow(api::restore_run),
        mlflow(api::log_metric),
        mlflow(api::log_param),
        mlflow(api::set_tag),
        mlflow(api::delete_tag),
        mlflow(api::log_batch),
        mlflow(api::search_runs),
        mlflow(api::get_metric_history),
        mlflow(api::list_run_artifacts),
        mlflow(api::log_inputs),
        mlflow(api::log_outputs),
        mlflow(api::create_logged_model),
        mlflow(api::get_logged_model),
        mlflow(api::finalize_logged_model),
        mlflow(api::delete_logged_model),
        mlflow(api::set_logged_model_tags),
        mlflow(api::delete_logged_model_tag),
        mlflow(api::log_logged_model_params),
        mlflow(api::search_logged_models),
        mlflow(api::create_registered_model),
        mlflow(api::get_registered_model),
        mlflow(api::rename_registered_model),
        mlflow(api::update_registered_model),
        mlflow(api::delete_registered_model),
        mlflow(api::search_registered_models),
        mlflow(api::set_registered_model_tag),
        mlflow(api::delete_registered_model_tag),
        mlflow(api::create_model_version),
        mlflow(api::get_model_version),
        mlflow(api::update_model_version),
        mlflow(api::delete_model_version),
        mlflow(api::search_model_versions),
        mlflow(api::set_model_version_tag),
        mlflow(api::delete_model_version_tag),
        mlflow(api::get_model_version_download_uri),
        mlflow(api::set_registered_model_alias),
        mlflow(api::delete_registered_model_alias),
        mlflow(api::get_model_version_by_alias),
        mlflow(api::transition_model_version_stage),
        mlflow(api::get_latest_versions),
        mlflow_as(Method::POST, api::get_latest_versions),
        mlflow(ledger::open_search),
        mlflow(ledger::find_search),
        mlflow(ledger::close_search),
        mlflow(ledger::join_worker),
        mlflow(ledger::claim_trial),
        mlflow(ledger::end_trial),
        mlflow(ledger::release_running),
        mlflow(ledger::heartbeat),
        mlflow(ledger::stale_trials),
        mlflow(ledger::changes),
        (
            Prefix::V2,
            Method::GET,
            wire::ARTIFACTS_PATH.into(),
            get(artifacts::list),
        ),
        (
            Prefix::V2,
            Method::GET,
            file.clone(),
            get(artifacts::download),
        ),
        (
            Prefix::V2,
            Method::PUT,
            file.clone(),
            put(artifacts::upload),
        ),
        (Prefix::V2, Method::DELETE, file, delete(artifacts::delete)),
        (
            Prefix::V2,
            Method::GET,
            "/hyperflow/report".into(),
            json_route(&Method::GET, report::report),
        ),
        (
            Prefix::V2,
            Method::GET,
            "/hyperflow/searches".into(),
            json_route(&Method::GET, ui::searches),
        ),
        (
            Prefix::V2,
            Method::GET,
            "/hyperflow/runs/count".into(),
            json_route(&Method::GET, ui::count_runs),
        ),
        (
            Prefix::V3,
            Method::GET,
            "/mlflow/server-info".into(),
            json_route(&Method::GET, api::server_info),
        ),
        (Prefix::Root, Method::GET, "/health".into(), get(health)),
    ];
    rows.into_iter()
        .flat_map(|(prefix, method, path, route)| {
            prefix.all().iter().map(move |p| Endpoint {
                method: method.clone(),
                path: format!("{p}{path}"),
                route: route.clone(),
            })
        })
        .collect()
}

async fn health() -> &'static str {
    "OK"
}

/// The router of [`endpoints`], without middleware or fallback.
pub fn api_routes() -> Router<AppState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |r, e| r.route(&e.path, e.route))
}

/// Answer 414 and 431 with MLflow error bodies when the URI or the headers are over
/// [`MAX_URI_BYTES`] / [`MAX_HEADER_BYTES`].
async fn request_limits(req: Request, next: Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "INVALID_PARAMETER_VALUE",
            format!(
                "The request URI is {uri} bytes long; this server reads at most \
                 {MAX_URI_BYTES}. Send long fields, such as a filter, in a POST body."
            ),
        )
        .into_response();
    }
    let headers: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "INVALID_PARAMETER_VALUE",
            format!(
                "The request's headers are {headers} bytes long; this server reads at most \
                 {MAX_HEADER_BYTES}."
            ),
        )
        .into_response();
    }
    next.run(req).await
}

async fn not_found(req: Request) -> Response {
    ApiError::no_endpoint(req.method().as_str(), req.uri().path()).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "BAD_REQUEST",
        format!(
            "The method {} is not allowed for {}",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("the request handler failed unexpectedly").into_response()
}

/// The whole application: [`api_routes`] merged with the web UI's [`ui::routes`], JSON
/// 404/405 answers, auth (when the state has a token), JSON 414/431 answers for URIs and
/// headers over the limits, and a catch-panic layer answering 500 `INTERNAL_ERROR`.
///
/// ```
/// use hyperflow::server::{AppState, router};
/// use hyperflow::tracking::SqliteStore;
/// use std::sync::Arc;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open_with_artifact_root(dir.path().join("t.db"), dir.path())?;
/// let app: axum::Router = router(AppState::new(Arc::new(store)).with_artifacts(dir.path()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn router(state: AppState) -> Router {
    api_routes()
        .merge(ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
        .layer(axum::middleware::from_fn(request_limits))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(state)
}

/// A bound server, not yet accepting: know its address before it runs.
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    app: Router,
    addr: SocketAddr,
}

impl BoundServer {
    /// Validate the config, open the store and bind the listener.
    pub async fn bind(config: &ServerConfig) -> Result<Self, ServerError> {
        config.validate()?;
        // Off the async threads: a PostgreSQL store's driver blocks on a runtime of its own.
        let opening = config.clone();
        let state = tokio::task::spawn_blocking(move || opening.open_state())
            .await
            .map_err(|e| ServerError::Io {
                context: "opening the backend store".into(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let host = config.host.trim_start_matches('[').trim_end_matches(']');
        let listener = tokio::net::TcpListener::bind((host, config.port))
            .await
            .map_err(|e| ServerError::Io {
                context: format!("binding {}:{}", config.host, config.port),
                source: e,
            })?;
        Self::from_listener(listener, state)
    }

    /// Serve `state` on an already bound listener.
    pub fn from_listener(
        listener: tokio::net::TcpListener,
        state: AppState,
    ) -> Result<Self, ServerError> {
        let addr = listener.local_addr().map_err(|e| ServerError::Io {
            context: "reading the bound address".into(),
            source: e,
        })?;
        Ok(BoundServer {
            listener,
            app: router(state),
            addr,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:5000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serve until `shutdown` resolves (TCP_NODELAY on every accepted socket).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        use axum::serve::ListenerExt;
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| ServerError::Io {
                context: "serving".into(),
                source: e,
            })
    }
}

/// Run the server until Ctrl-C (async form of [`run_blocking`]); prints the URL when
/// ready.
pub async fn serve(config: ServerConfig) -> Result<(), ServerError> {
    let server = BoundServer::bind(&config).await?;
    println!("hyperflow server listening on {}", server.url());
    if !config.is_loopback() && config.auth_token.is_none() {
        eprintln!("warning: serving without authentication (--insecure)");
    }
    server
        .run_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, ServerError> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all().thread_name("hyperflow-server");
    if let Some(n) = workers {
        b.worker_threads(n);
    }
    b.build().map_err(|e| ServerError::Io {
        context: "starting the async runtime".into(),
        source: e,
    })
}

/// Run the server on its own runtime until Ctrl-C, printing
/// `hyperflow server listening on http://HOST:PORT` once it accepts connections. This is
/// what `hyperflow server` and `hyperflow ui` call.
pub fn run_blocking(config: ServerConfig) -> Result<(), ServerError> {
    runtime(config.workers)?.block_on(serve(config))
}

/// A server running on a background thread; stops when dropped.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop the server and wait for it.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(ServerError::Io {
                context: "the server thread".into(),
                source: std::io::Error::other("panicked"),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Start a server for `config` on a background thread (port 0 picks a free port) and return
/// once it accepts connections.
pub fn spawn(config: ServerConfig) -> Result<ServerHandle, ServerError> {
    let rt = runtime(config.workers)?;
    let server = rt.block_on(BoundServer::bind(&config))?;
    spawn_bound(rt, server)
}

/// Start a server over an existing [`AppState`] on `127.0.0.1:<free port>`.
pub fn spawn_state(state: AppState, workers: Option<usize>) -> Result<ServerHandle, ServerError> {
    let rt = runtime(workers)?;
    let server = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| ServerError::Io {
                context: "binding 127.0.0.1:0".into(),
                source: e,
            })?;
        BoundServer::from_listener(listener, state)
    })?;
    spawn_bound(rt, server)
}

fn spawn_bound(
    rt: tokio::runtime::Runtime,
    server: BoundServer,
) -> Result<ServerHandle, ServerError> {
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("hyperflow-server-main".into())
        .spawn(move || {
            rt.block_on(server.run_until(async {
                let _ = rx.await;
            }))
        })
        .map_err(|e| ServerError::Io {
            context: "starting the server thread".into(),
            source: e,
        })?;
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}
