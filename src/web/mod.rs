//! The local HTTP interface (axum): health and status now; the setup page later.
//!
//! Handlers only read a status snapshot that the engine thread publishes; nothing here
//! can stall the call engine or its audio.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;

use crate::exchange::Status;

/// What `/api/status` shows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ServiceStatus {
    /// Service version.
    pub version: &'static str,
    /// Site name from the configuration.
    pub site: String,
    /// Board profile name.
    pub board: String,
    /// When the service started (RFC 3339).
    pub started_at: String,
    /// Whether the engine loop is running.
    pub engine_running: bool,
    /// Calls answered since start.
    pub calls_total: u64,
    /// CDRs in the store.
    pub cdrs_stored: i64,
    /// The alert outbox: event deliveries by state.
    pub alerts_outbox: crate::store::alerts::OutboxCounts,
    /// Ports, modem and active calls.
    #[serde(flatten)]
    pub exchange: Status,
}

/// Shared state of the handlers.
pub type Shared = Arc<RwLock<ServiceStatus>>;

/// The router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/status", get(status))
        .fallback(not_found)
        .with_state(state)
}

async fn healthz(State(s): State<Shared>) -> Response {
    let running = s.read().map(|s| s.engine_running).unwrap_or(false);
    if running {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "engine not running\n").into_response()
    }
}

async fn status(State(s): State<Shared>) -> Response {
    match s.read() {
        Ok(s) => Json(s.clone()).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "status unavailable\n").into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "error": "no such endpoint",
            "endpoints": ["/healthz", "/api/status"],
        })),
    )
        .into_response()
}
