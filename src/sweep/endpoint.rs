//! Where a tracked sweep's trials reach its store with MLflow's official client.
//!
//! The official client cannot open hyperflow's SQLite file (it would try to migrate it
//! as its own), so a sweep over a local store serves that store to its trials: with the
//! `server` feature, the tracking server runs inside the sweep process on
//! `127.0.0.1:<free port>` for the sweep's lifetime, over the very store the sweep
//! writes (no second connection), with the artifact proxy rooted at the experiment's
//! artifact location (a directory, or object storage). Trials get its URL as `MLFLOW_TRACKING_URI`. A store that is
//! already a server is handed to trials as it is. Without the `server` feature a local
//! store has no endpoint: trials get no `MLFLOW_TRACKING_URI` nor `MLFLOW_RUN_ID`, so the
//! official client logs into its own default store instead of failing on ours.

use crate::tracking::{ExperimentId, Tracker, TrackingUri};

use super::SweepError;

/// `uri` when it names a tracking server, which the official client reaches as it is.
pub(super) fn server_url(uri: &str) -> Option<String> {
    match TrackingUri::parse(uri) {
        Ok(TrackingUri::Http(url)) => Some(url),
        _ => None,
    }
}

/// The tracking URI trials hand to MLflow's official client, and what serves it.
pub(super) struct TrialEndpoint {
    uri: Option<String>,
    #[cfg(feature = "server")]
    _server: Option<crate::server::ServerHandle>,
}

impl TrialEndpoint {
    /// The endpoint of the store at `tracking_uri` (opened as `tracker`), whose trials run
    /// in `experiment`: served on a loopback port for a local store (feature `server`),
    /// the URI itself for a server.
    pub(super) fn open(
        tracker: &Tracker,
        tracking_uri: &str,
        experiment: &ExperimentId,
    ) -> Result<Self, SweepError> {
        match server_url(tracking_uri) {
            Some(url) => Ok(TrialEndpoint {
                uri: Some(url),
                #[cfg(feature = "server")]
                _server: None,
            }),
            None => Self::serve(tracker, experiment),
        }
    }

    /// The URI for `MLFLOW_TRACKING_URI`, when the official client can reach the store.
    pub(super) fn uri(&self) -> Option<&str> {
        self.uri.as_deref()
    }

    #[cfg(feature = "server")]
    fn serve(tracker: &Tracker, experiment: &ExperimentId) -> Result<Self, SweepError> {
        use crate::server::{AppState, ArtifactsDestination, spawn_state};

        let mut state = AppState::new(tracker.store().clone());
        let location = tracker.get_experiment(experiment)?.artifact_location;
        // A directory or object storage; a location the proxy cannot serve is left for
        // trials to reach by themselves.
        if let Ok(dest) = ArtifactsDestination::open(std::path::Path::new(&location)) {
            state = state.with_artifacts_destination(dest);
        }
        // One async worker: handlers only hand each request to the blocking pool.
        let server = spawn_state(state, Some(1)).map_err(SweepError::Endpoint)?;
        Ok(TrialEndpoint {
            uri: Some(server.url()),
            _server: Some(server),
        })
    }

    #[cfg(not(feature = "server"))]
    fn serve(_: &Tracker, _: &ExperimentId) -> Result<Self, SweepError> {
        Ok(TrialEndpoint { uri: None })
    }
}
