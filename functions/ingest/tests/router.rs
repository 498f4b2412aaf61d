//! The ingest router over a store that is down: the mall must be told to retry (503), never that the order
//! was taken; and bodies that are refused before the store is asked at all.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use jiff::Timestamp;
use mallguard_domain::service::Mallguard;
use mallguard_domain::testing::{ManualClock, RecordingMailer, UnavailableStore, settings};
use mallguard_ingest::IngestConfig;
use mallguard_malls::WebhookSecrets;
use tower::ServiceExt;

const SHOPIFY_SECRET: &str = "test shopify secret for the ingest router";
const SECRET: &str = "whsec_dGVzdCBzZWNyZXQgZm9yIHRoZSBpbmdlc3Qgcm91dGVy";

fn router() -> axum::Router {
    router_with_limit(mallguard_ingest::DEFAULT_MAX_BODY)
}

fn router_with_limit(max_body: usize) -> axum::Router {
    let clock = Arc::new(ManualClock::at("2026-11-23T03:10:00Z"));
    let app = Mallguard::new(
        Arc::new(UnavailableStore),
        Arc::new(RecordingMailer::default()),
        clock,
        settings(),
    );
    let secrets = WebhookSecrets::new(
        [("tanaka-shop".to_owned(), SHOPIFY_SECRET.to_owned())].into(),
        vec![SECRET.into()],
    )
    .unwrap();
    let mut config = IngestConfig::new(secrets);
    config.max_body = max_body;
    mallguard_ingest::router(app, config)
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

async fn error_of(response: axum::response::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let json = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    (status, json)
}

fn signed_shopify(body: &[u8]) -> Request<Body> {
    Request::post("/webhooks/shopify")
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-shop-domain", "tanaka-shop.myshopify.com")
        .header(
            "x-shopify-hmac-sha256",
            mallguard_malls::shopify::sign(SHOPIFY_SECRET.as_bytes(), body),
        )
        .body(Body::from(body.to_vec()))
        .unwrap()
}

#[tokio::test]
async fn a_signed_body_nested_a_hundred_thousand_deep_is_refused_on_every_mall_route() {
    // Nothing is read from the store: a store that is down would answer 503 if the body got that far.
    for body in [
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("{{\"note\":{}1{}}}", "{\"a\":".repeat(100_000), "}".repeat(100_000)),
    ] {
        for request in [signed(body.as_bytes()), signed_shopify(body.as_bytes())] {
            // A limit above the body's size, so the depth check is what answers.
            let (status, json) = error_of(router_with_limit(1 << 20).oneshot(request).await.unwrap()).await;
            assert_eq!((status, json["error"].as_str()), (400, Some("too_deep")), "{json}");
        }
    }
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_object_or_not_utf8_is_refused_not_quarantined() {
    let mut not_utf8 = br#"{"mall":"own","note":""#.to_vec();
    not_utf8.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
    let cases: [(&[u8], &str); 4] = [
        (b"[1, 2]", "not_an_object"),
        (b"\"order\"", "not_an_object"),
        (b"42", "not_an_object"),
        (&not_utf8, "not_json"),
    ];
    for (body, code) in cases {
        for request in [signed(body), signed_shopify(body)] {
            let (status, json) = error_of(router().oneshot(request).await.unwrap()).await;
            assert_eq!((status, json["error"].as_str()), (400, Some(code)), "{json}");
        }
    }
}

fn signed_as(id: &str, body: &[u8]) -> Request<Body> {
    let timestamp: Timestamp = "2026-11-23T03:10:00Z".parse().unwrap();
    let signature = mallguard_malls::generic::sign(SECRET, id, timestamp.as_second(), body);
    Request::post("/webhooks/generic")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.as_second().to_string())
        .header("webhook-signature", signature)
        .body(Body::from(body.to_vec()))
        .unwrap()
}

/// With one turn, a signed order waits while another is worked on (here a held order whose mail service
/// hangs until the request's send budget ends), while an unsigned request is refused at once: a turn is
/// taken only after the signature is verified.
#[tokio::test(start_paused = true)]
async fn signed_orders_take_turns_and_an_unsigned_request_never_waits_for_one() {
    let mailer = Arc::new(RecordingMailer::default());
    let app = Mallguard::new(
        Arc::new(mallguard_domain::testing::MemoryStore::default()),
        mailer.clone(),
        Arc::new(ManualClock::at("2026-11-23T03:10:00Z")),
        settings(),
    );
    let secrets = WebhookSecrets::new(Default::default(), vec![SECRET.into()]).unwrap();
    let router = mallguard_ingest::router(
        app,
        IngestConfig {
            at_once: Some(1),
            ..IngestConfig::new(secrets)
        },
    );
    let first = router
        .clone()
        .oneshot(signed_as(
            "msg_first",
            include_bytes!("../../../events/generic/order.json"),
        ))
        .await
        .unwrap();
    assert_eq!(first.status(), 200);

    mailer.hang(true);
    let done = Arc::new(std::sync::Mutex::new(Vec::<&str>::new()));
    let post = |name: &'static str, request: Request<Body>| {
        let (router, done) = (router.clone(), done.clone());
        tokio::spawn(async move {
            let status = router.oneshot(request).await.unwrap().status().as_u16();
            done.lock().unwrap().push(name);
            status
        })
    };
    let held = post(
        "held",
        signed_as(
            "msg_held",
            include_bytes!("../../../events/generic/order-duplicate.json"),
        ),
    );
    tokio::task::yield_now().await;
    let waiting = post(
        "waiting",
        signed_as(
            "msg_other",
            include_bytes!("../../../events/generic/order-unrelated.json"),
        ),
    );
    let unsigned = post(
        "unsigned",
        Request::post("/webhooks/generic")
            .body(Body::from(
                &include_bytes!("../../../events/generic/order-unrelated.json")[..],
            ))
            .unwrap(),
    );
    assert_eq!(unsigned.await.unwrap(), 401);
    assert_eq!((held.await.unwrap(), waiting.await.unwrap()), (200, 200));
    assert_eq!(*done.lock().unwrap(), ["unsigned", "held", "waiting"]);
}
