//! The ingest function: `POST /webhooks/{mall}`. Verifies the mall's signature over the exact bytes
//! received, parses the payload into the canonical order, and hands it to the ingest use case.
//!
//! Every answer is decided here, once (DESIGN.md §10): 401 for a bad or missing signature, 400 for a
//! body that is not JSON, 413 for one over the limit, 404 for an unknown mall, 202 with quarantine for a
//! signed payload we do not understand (nothing is lost, and the mall does not retry forever), 503 when
//! the store is unavailable so the mall retries.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::SignedDuration;
use mallguard_domain::ids::ShopId;
use mallguard_domain::order::Order;
use mallguard_domain::service::{Incoming, IngestOutcome, Mallguard, ServiceError};
use mallguard_malls::{ParseError, SignatureError, generic, shopify};
use serde_json::json;

/// Largest body accepted. Shopify's largest order payloads are far below this.
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// How far a Standard Webhooks timestamp may be from now (replay protection).
pub const DEFAULT_TOLERANCE: SignedDuration = SignedDuration::from_mins(5);

/// The webhook secrets, per mall (and per shop for Shopify).
#[derive(Clone, Default)]
pub struct WebhookSecrets {
    /// Shopify app secrets by shop id; the entry `*` serves every shop without its own.
    pub shopify: BTreeMap<String, Vec<u8>>,
    /// Standard Webhooks secrets (`whsec_…`) for the generic route; any may match, so a secret can be
    /// rotated without a gap.
    pub generic: Vec<String>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("shopify_shops", &self.shopify.keys().collect::<Vec<_>>())
            .field("generic", &self.generic.len())
            .finish()
    }
}

impl WebhookSecrets {
    /// The webhook secrets of a deployment's (or the local stack's) secret.
    pub fn from_secrets(secrets: &mallguard_aws::config::Secrets) -> Self {
        Self {
            shopify: secrets
                .shopify()
                .iter()
                .map(|(shop, s)| (shop.clone(), s.as_bytes().to_vec()))
                .collect(),
            generic: secrets.generic().to_vec(),
        }
    }

    fn shopify_for(&self, shop: Option<&str>) -> Option<&[u8]> {
        shop.and_then(|s| self.shopify.get(s))
            .or_else(|| self.shopify.get("*"))
            .map(Vec::as_slice)
    }
}

/// What the ingest router needs besides the use cases.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub secrets: WebhookSecrets,
    pub max_body: usize,
    pub tolerance: SignedDuration,
}

impl IngestConfig {
    pub fn new(secrets: WebhookSecrets) -> Self {
        Self {
            secrets,
            max_body: DEFAULT_MAX_BODY,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

#[derive(Clone)]
struct AppState {
    app: Mallguard,
    config: std::sync::Arc<IngestConfig>,
}

/// The ingest routes over injected use cases: the same router serves Lambda and the local program.
pub fn router(app: Mallguard, config: IngestConfig) -> Router {
    Router::new()
        .route("/webhooks/{mall}", post(receive))
        .with_state(AppState {
            app,
            config: std::sync::Arc::new(config),
        })
}

/// The malls that push orders to us, and how each is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Shopify,
    Generic,
}

impl Source {
    fn parse(mall: &str) -> Result<Self, IngestError> {
        match mall {
            "shopify" => Ok(Source::Shopify),
            "generic" => Ok(Source::Generic),
            "rakuten" | "yahoo" | "amazon" => Err(IngestError::NoWebhooks(mall.to_owned())),
            other => Err(IngestError::UnknownMall(other.chars().take(40).collect())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Shopify => "shopify",
            Source::Generic => "generic",
        }
    }
}

/// The request headers a parser needs again when a quarantined payload is replayed.
pub const SHOPIFY_TOPIC: &str = "x-shopify-topic";
pub const SHOPIFY_SHOP_DOMAIN: &str = "x-shopify-shop-domain";

/// What a verified payload turns into.
pub enum Parsed {
    Order(Box<Order>),
    /// A topic we do not act on (e.g. Shopify `orders/fulfilled` beyond status): acknowledged.
    Ignored(String),
}

/// Parses a verified payload; also used to replay quarantined payloads after a fix.
pub fn parse_payload(source: Source, meta: &BTreeMap<String, String>, raw: &[u8]) -> Result<Parsed, ParseError> {
    match source {
        Source::Generic => generic::parse_order(raw).map(|o| Parsed::Order(Box::new(o))),
        Source::Shopify => {
            let topic_text = meta.get(SHOPIFY_TOPIC).map(String::as_str).unwrap_or("orders/create");
            let topic = shopify::Topic::parse(topic_text);
            if !topic.is_order_topic() {
                return Ok(Parsed::Ignored(topic_text.to_owned()));
            }
            let domain = meta.get(SHOPIFY_SHOP_DOMAIN).map(String::as_str).unwrap_or_default();
            let shop = shopify::shop_id_from_domain(domain)
                .map_err(|e| ParseError::Invalid(format!("{SHOPIFY_SHOP_DOMAIN}: {e}")))?;
            shopify::parse_order(raw, &topic, &shop).map(|o| Parsed::Order(Box::new(o)))
        }
    }
}

/// Source names as stored with quarantined payloads.
impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::parse(s).map_err(|e| e.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown mall {0:?}: webhooks are received for shopify and generic")]
    UnknownMall(String),
    #[error("{0} sends no webhooks: its orders arrive through the poller, or relayed through /webhooks/generic")]
    NoWebhooks(String),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the body is empty")]
    Empty,
    #[error("the body could not be read: {0}")]
    Unreadable(String),
    #[error("signature rejected: {0}")]
    Signature(#[from] SignatureError),
    #[error("no webhook secret is configured for this shop")]
    NoSecret,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            IngestError::UnknownMall(_) | IngestError::NoWebhooks(_) => StatusCode::NOT_FOUND,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::Empty | IngestError::NotJson(_) | IngestError::Unreadable(_) => StatusCode::BAD_REQUEST,
            IngestError::Signature(_) | IngestError::NoSecret => StatusCode::UNAUTHORIZED,
            IngestError::Service(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = match &self {
            IngestError::UnknownMall(_) | IngestError::NoWebhooks(_) => "unknown_mall",
            IngestError::TooLarge(_) => "body_too_large",
            IngestError::Empty => "empty_body",
            IngestError::Unreadable(_) => "unreadable_body",
            IngestError::Signature(_) | IngestError::NoSecret => "bad_signature",
            IngestError::NotJson(_) => "not_json",
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

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, IngestError> {
    let declared = header_str(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(IngestError::TooLarge(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        // to_bytes reports the limit as a length-limit error somewhere in its source chain.
        let text = format!("{e:?}");
        if text.contains("LengthLimit") {
            IngestError::TooLarge(limit)
        } else {
            IngestError::Unreadable(e.to_string())
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    Ok(bytes)
}

fn verify(
    source: Source,
    config: &IngestConfig,
    headers: &HeaderMap,
    raw: &[u8],
    now: jiff::Timestamp,
) -> Result<(), IngestError> {
    match source {
        Source::Shopify => {
            let shop = header_str(headers, SHOPIFY_SHOP_DOMAIN).and_then(|d| shopify::shop_id_from_domain(d).ok());
            let secret = config
                .secrets
                .shopify_for(shop.as_ref().map(ShopId::as_str))
                .ok_or(IngestError::NoSecret)?;
            shopify::verify(secret, raw, header_str(headers, "x-shopify-hmac-sha256"))?;
        }
        Source::Generic => {
            let id = header_str(headers, "webhook-id");
            let timestamp = header_str(headers, "webhook-timestamp");
            let signature = header_str(headers, "webhook-signature");
            if config.secrets.generic.is_empty() {
                return Err(IngestError::NoSecret);
            }
            let mut last = Err(SignatureError::Mismatch);
            for secret in &config.secrets.generic {
                last = generic::verify(secret, raw, id, timestamp, signature, now, config.tolerance);
                if last.is_ok() || !matches!(last, Err(SignatureError::Mismatch)) {
                    break;
                }
            }
            last?;
        }
    }
    Ok(())
}

fn delivery_id(source: Source, headers: &HeaderMap) -> Option<String> {
    let (name, prefix) = match source {
        Source::Shopify => ("x-shopify-webhook-id", "shopify:"),
        Source::Generic => ("webhook-id", "generic:"),
    };
    header_str(headers, name)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(|v| format!("{prefix}{v}"))
}

async fn receive(
    State(state): State<AppState>,
    Path(mall): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let source = Source::parse(&mall)?;
    let raw = read_body(&headers, body, state.config.max_body).await?;
    verify(source, &state.config, &headers, &raw, state.app.now())?;

    let mut meta = BTreeMap::new();
    for name in [SHOPIFY_TOPIC, SHOPIFY_SHOP_DOMAIN] {
        if let Some(value) = header_str(&headers, name) {
            meta.insert(name.to_owned(), value.to_owned());
        }
    }
    let order = match parse_payload(source, &meta, &raw) {
        Ok(Parsed::Order(order)) => *order,
        Ok(Parsed::Ignored(topic)) => {
            return Ok((StatusCode::OK, Json(json!({ "status": "ignored", "topic": topic }))).into_response());
        }
        Err(ParseError::NotJson(why)) => return Err(IngestError::NotJson(why)),
        Err(ParseError::Invalid(why)) => {
            let id = state.app.quarantine(source.as_str(), raw.to_vec(), meta, &why).await?;
            let body = json!({ "status": "quarantined", "quarantine_id": id, "message": why });
            return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
        }
    };
    let incoming = Incoming {
        order,
        raw: raw.to_vec(),
        delivery: delivery_id(source, &headers),
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
