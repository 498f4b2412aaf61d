//! The ingest router over a store that fails: the mall must be told to retry (503), never that the order
//! was taken.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use jiff::Timestamp;
use mallguard_domain::history::HistoryEntry;
use mallguard_domain::hold::Hold;
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef};
use mallguard_domain::notice::{Notice, NoticeId};
use mallguard_domain::ports::{CommitError, IngestSnapshot, Quarantined, Store, StoreError, StoredOrder, WriteBatch};
use mallguard_domain::service::Mallguard;
use mallguard_domain::testing::{ManualClock, RecordingMailer, settings};
use mallguard_ingest::{IngestConfig, WebhookSecrets};
use tower::ServiceExt;

/// DynamoDB throttled past the SDK's retries, or down.
struct DownStore;

fn down<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable("throttled".into()))
}

#[async_trait]
impl Store for DownStore {
    async fn ingest_snapshot(
        &self,
        _: &OrderRef,
        _: &[IdentityKey],
        _: Timestamp,
        _: Timestamp,
    ) -> Result<IngestSnapshot, StoreError> {
        down()
    }
    async fn commit(&self, _: WriteBatch) -> Result<(), CommitError> {
        Err(CommitError::Store(StoreError::Unavailable("throttled".into())))
    }
    async fn order(&self, _: &OrderRef) -> Result<Option<StoredOrder>, StoreError> {
        down()
    }
    async fn orders_with_id(&self, _: Mall, _: &OrderId) -> Result<Vec<OrderRef>, StoreError> {
        down()
    }
    async fn hold(&self, _: &HoldId) -> Result<Option<Hold>, StoreError> {
        down()
    }
    async fn holds(&self, _: bool) -> Result<Vec<Hold>, StoreError> {
        down()
    }
    async fn due_holds(&self, _: Timestamp, _: usize) -> Result<Vec<Hold>, StoreError> {
        down()
    }
    async fn notice(&self, _: &NoticeId) -> Result<Option<Notice>, StoreError> {
        down()
    }
    async fn pending_notices(&self, _: Timestamp, _: usize) -> Result<Vec<Notice>, StoreError> {
        down()
    }
    async fn history(&self, _: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError> {
        down()
    }
    async fn delivery_seen(&self, _: &str) -> Result<bool, StoreError> {
        down()
    }
    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        down()
    }
}

const SECRET: &str = "whsec_dGVzdCBzZWNyZXQgZm9yIHRoZSBpbmdlc3Qgcm91dGVy";

fn router() -> axum::Router {
    let clock = Arc::new(ManualClock::at("2026-11-23T03:10:00Z"));
    let app = Mallguard::new(
        Arc::new(DownStore),
        Arc::new(RecordingMailer::default()),
        clock,
        settings(),
    );
    let secrets = WebhookSecrets {
        shopify: Default::default(),
        generic: vec![SECRET.into()],
    };
    mallguard_ingest::router(app, IngestConfig::new(secrets))
}

fn signed(body: &[u8]) -> Request<Body> {
    let timestamp: Timestamp = "2026-11-23T03:10:00Z".parse().unwrap();
    let signature = mallguard_malls::generic::sign(SECRET, "msg_1", timestamp.as_second(), body);
    Request::post("/webhooks/generic")
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", timestamp.as_second().to_string())
        .header("webhook-signature", signature)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

#[tokio::test]
async fn a_store_that_is_down_gets_503_with_retry_after_so_the_mall_retries() {
    let body = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/generic/order.json")).unwrap();
    let response = router().oneshot(signed(&body)).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let json: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(json["error"], "unavailable");
}

#[tokio::test]
async fn a_payload_that_cannot_even_be_quarantined_gets_503_not_202() {
    // Quarantine is what makes 202 safe: when it cannot be written, the mall must keep the payload.
    let response = router()
        .oneshot(signed(br#"{"mall":"own","order_id":1}"#))
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}
