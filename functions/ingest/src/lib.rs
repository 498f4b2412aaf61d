//! The ingest function: `POST /webhooks/{mall}`. Verifies the mall's signature over the exact bytes
//! received, parses the payload into the canonical order, and hands it to the ingest use case.
//!
//! The inbound contract of each mall (its headers, signature scheme and payload) lives in
//! `mallguard-malls`; this router reads the body, asks `malls::verify` and `malls::parse`, hands the order
//! to the ingest use case and decides every answer, once: 401 for a bad or missing signature, 400 for a
//! body that is empty, not UTF-8, not JSON, not a JSON object or nested too deep, 413 for one over the
//! limit, 404 for an unknown mall, 202 with quarantine for a signed payload we do not understand (nothing
//! is lost, and the mall does not retry forever), 503 when the store is unavailable so the mall retries.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::SignedDuration;
use mallguard_domain::service::{Incoming, IngestOutcome, Mallguard, ServiceError};
use mallguard_malls::{self as malls, Headers, ParseError, Parsed, RouteError, Source, VerifyError, WebhookSecrets};
use serde_json::json;

/// Largest body accepted. Shopify's largest order payloads are far below this.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// How far a Standard Webhooks timestamp may be from now (replay protection).
pub const DEFAULT_TOLERANCE: SignedDuration = SignedDuration::from_mins(5);

/// What the ingest router needs besides the use cases.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub secrets: WebhookSecrets,
    pub max_body: usize,
    pub tolerance: SignedDuration,
    /// How many signed orders are worked on at once (None: no bound; a Lambda invocation has one). Each
    /// holds an order and its mails in memory; more wait their turn. A turn is taken only once the body is
    /// read and its signature verified, so a slow or unsigned sender never holds one.
    pub at_once: Option<usize>,
}

impl IngestConfig {
    pub fn new(secrets: WebhookSecrets) -> Self {
        Self {
            secrets,
            max_body: DEFAULT_MAX_BODY,
            tolerance: DEFAULT_TOLERANCE,
            at_once: None,
        }
    }
}

#[derive(Clone)]
struct AppState {
    app: Mallguard,
    config: std::sync::Arc<IngestConfig>,
    /// The turns of [`IngestConfig::at_once`], shared by every request.
    turns: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// The ingest routes over injected use cases: the same router serves Lambda and the local program.
pub fn router(app: Mallguard, config: IngestConfig) -> Router {
    let limit = config.max_body;
    Router::new()
        .route("/webhooks/{mall}", post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(AppState {
            app,
            turns: config
                .at_once
                .map(|n| std::sync::Arc::new(tokio::sync::Semaphore::new(n))),
            config: std::sync::Arc::new(config),
        })
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the body is empty")]
    Empty,
    #[error("the body could not be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("the body must be a JSON object, not {0}")]
    NotObject(&'static str),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            IngestError::Route(_) => StatusCode::NOT_FOUND,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Empty
            | IngestError::NotJson(_)
            | IngestError::Unreadable(_)
            | IngestError::TooDeep(_)
            | IngestError::NotObject(_) => StatusCode::BAD_REQUEST,
            IngestError::Verify(_) => StatusCode::UNAUTHORIZED,
            IngestError::Service(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = match &self {
            IngestError::Route(_) => "unknown_mall",
            IngestError::TooLarge(_) => "body_too_large",
            IngestError::Empty => "empty_body",
            IngestError::Unreadable(_) => "unreadable_body",
            IngestError::Verify(_) => "bad_signature",
            IngestError::NotJson(_) => "not_json",
            IngestError::TooDeep(_) => "too_deep",
            IngestError::NotObject(_) => "not_an_object",
            IngestError::Service(_) if status == StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            IngestError::Service(_) => "internal",
        };
        // Never the body: it carries the buyer's personal data.
        match status {
            StatusCode::INTERNAL_SERVER_ERROR => tracing::error!(error = %self, "ingest failed"),
            _ => tracing::warn!(status = status.as_u16(), error = %self, "webhook refused"),
        }
        let message = match &self {
            IngestError::Service(_) if status == StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": code, "message": message }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// The body as received, or why not: axum's body limit answers for an oversized one, declared or not.
fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, IngestError> {
    let bytes = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => IngestError::TooLarge(limit),
        _ => IngestError::Unreadable(rejection.body_text()),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    Ok(bytes)
}

/// `POST /webhooks/{mall}`: read body → verify → parse → use case → answer.
async fn receive(
    State(state): State<AppState>,
    Path(mall): Path<String>,
    request_headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, IngestError> {
    let source = Source::from_route(&mall)?;
    let raw = read_body(body, state.config.max_body)?;
    let headers = Headers::collect(source, |name| request_headers.get(name).and_then(|v| v.to_str().ok()));
    malls::verify(
        source,
        &state.config.secrets,
        &headers,
        &raw,
        state.app.now(),
        state.config.tolerance,
    )?;
    // Never closed: the semaphore lives as long as the router.
    let _turn = match &state.turns {
        Some(turns) => turns.acquire().await.ok(),
        None => None,
    };
    let order = match malls::parse(source, &headers, &raw) {
        Ok(Parsed::Order(order)) => *order,
        Ok(Parsed::Ignored(topic)) => {
            return Ok((StatusCode::OK, Json(json!({ "status": "ignored", "topic": topic }))).into_response());
        }
        Err(ParseError::NotJson(why)) => return Err(IngestError::NotJson(why)),
        Err(ParseError::TooDeep(depth)) => return Err(IngestError::TooDeep(depth)),
        Err(ParseError::NotObject(what)) => return Err(IngestError::NotObject(what)),
        Err(ParseError::Invalid(why)) => {
            let meta = headers.for_replay(source);
            let id = state.app.quarantine(source.as_str(), raw.to_vec(), meta, &why).await?;
            let body = json!({ "status": "quarantined", "quarantine_id": id, "message": why });
            return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
        }
    };
    let incoming = Incoming {
        order,
        raw: raw.to_vec(),
        delivery: malls::delivery_id(source, &headers),
    };
    let outcome = state.app.ingest(incoming).await?;
    let body = match outcome {
        IngestOutcome::Accepted => json!({ "status": "accepted" }),
        IngestOutcome::Held { hold, notified } => json!({ "status": "held", "hold": hold, "notified": notified }),
        IngestOutcome::Redelivered => json!({ "status": "redelivered" }),
        IngestOutcome::Updated { status } => json!({ "status": "updated", "order_status": status }),
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}
