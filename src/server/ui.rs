//! The web UI's place in the server. For now `/` is a small HTML page listing the
//! experiments; the full UI (runs table, run page, charts) replaces this module and keeps
//! the same entry point, [`routes`], which [`super::router`] merges.

use super::AppState;
use crate::tracking::{ExperimentQuery, ViewType};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The UI's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(State(st): State<AppState>) -> Response {
    let store = st.store().clone();
    let page = tokio::task::spawn_blocking(move || {
        store.search_experiments(&ExperimentQuery {
            view_type: ViewType::ActiveOnly,
            max_results: 1000,
            ..ExperimentQuery::default()
        })
    })
    .await;
    let rows = match page {
        Ok(Ok(page)) => page
            .items
            .iter()
            .map(|e| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(e.experiment_id.as_str()),
                    escape(&e.name),
                    escape(&st.public_artifact_uri(&e.artifact_location)),
                )
            })
            .collect::<String>(),
        Ok(Err(e)) => format!(
            "<tr><td colspan=3>error: {}</td></tr>",
            escape(&e.to_string())
        ),
        Err(_) => "<tr><td colspan=3>error</td></tr>".to_string(),
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=utf-8><title>hyperflow</title></head>\
         <body><h1>hyperflow</h1><h2>Experiments</h2><table>\
         <tr><th>id</th><th>name</th><th>artifact location</th></tr>{rows}</table></body></html>"
    );
    let mut resp = (StatusCode::OK, html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}
