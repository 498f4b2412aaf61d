use mallguard_domain::ports::roles::*;
use mallguard_tests::{GENERIC_SECRET, event, spawn_app, spawn_app_with};
use serde_json::Value;

async fn status_and_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_missing_or_wrong_signature_gets_401_and_stores_nothing() {
    let app = spawn_app().await;
    let body = event("generic/order.json");
    let unsigned = app
        .client
        .post(format!("{}/webhooks/generic", app.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(unsigned).await, (401, "bad_signature".into()));
    let now = app.now().as_second();
    let wrong = mallguard_malls::generic::sign("whsec_b3RoZXIgc2VjcmV0", "msg_1", now, &body);
    let forged = app
        .client
        .post(format!("{}/webhooks/generic", app.url))
        .header("webhook-id", "msg_1")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", wrong)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(forged).await.0, 401);
    let shopify = app
        .client
        .post(format!("{}/webhooks/shopify", app.url))
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-shop-domain", "tanaka-shop.myshopify.com")
        .header("x-shopify-hmac-sha256", "bm90IHRoZSByaWdodCBobWFj")
        .body(event("shopify/orders-create.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(shopify).await.0, 401);
    assert!(app.store.holds(false).await.unwrap().is_empty());
    assert!(app.store.quarantined().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_tampered_body_gets_401() {
    let app = spawn_app().await;
    let body = event("generic/order.json");
    let now = app.now().as_second();
    let signature = mallguard_malls::generic::sign(GENERIC_SECRET, "msg_2", now, &body);
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] = b' ';
    let response = app
        .client
        .post(format!("{}/webhooks/generic", app.url))
        .header("webhook-id", "msg_2")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_replayed_message_outside_the_tolerance_gets_401() {
    let app = spawn_app().await;
    let body = event("generic/order.json");
    let old = app.now().as_second() - 6 * 60;
    let signature = mallguard_malls::generic::sign(GENERIC_SECRET, "msg_3", old, &body);
    let response = app
        .client
        .post(format!("{}/webhooks/generic", app.url))
        .header("webhook-id", "msg_3")
        .header("webhook-timestamp", old.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let app = spawn_app_with(|c| c.max_body = 4 * 1024).await;
    let mut big = br#"{"padding":""#.to_vec();
    big.extend(std::iter::repeat_n(b'x', 8 * 1024));
    big.extend(br#""}"#);
    let (status, error) = status_and_error(app.post_generic(&big).await).await;
    assert_eq!((status, error.as_str()), (413, "body_too_large"));
}

#[tokio::test]
async fn an_empty_or_non_json_body_gets_400_with_a_reason() {
    let app = spawn_app().await;
    assert_eq!(
        status_and_error(app.post_generic(b"").await).await,
        (400, "empty_body".into())
    );
    assert_eq!(
        status_and_error(app.post_generic(b"order=1").await).await,
        (400, "not_json".into())
    );
}

#[tokio::test]
async fn an_unknown_mall_gets_404() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/webhooks/ebay", app.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(response).await, (404, "unknown_mall".into()));
    let response = app
        .client
        .post(format!("{}/webhooks/rakuten", app.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_signed_payload_that_cannot_be_parsed_is_quarantined_with_202_and_the_staff_alerted() {
    let app = spawn_app().await;
    let body = br#"{"mall":"own","shop_id":"tanaka-shop","order_id":12345,"lines":[]}"#;
    let response = app.post_generic(body).await;
    assert_eq!(response.status(), 202);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["status"], "quarantined");
    let kept = app.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].raw, body.to_vec(), "nothing lost");
    assert!(
        app.outbox().iter().any(|m| m.to.contains("staff@")),
        "the staff were alerted"
    );
    // The mall retries; the payload is kept once.
    assert_eq!(app.post_generic(body).await.status(), 202);
    assert_eq!(app.store.quarantined().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unsigned_topic_header_cannot_cancel_an_order_or_release_its_hold() {
    let app = spawn_app().await;
    app.post_shopify(&event("shopify/orders-create.json"), "orders/create")
        .await;
    let held: Value = app
        .post_shopify(&event("shopify/orders-create-duplicate.json"), "orders/create")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "held", "{held}");
    // The genuinely signed create body of the held order, re-posted under the cancelled topic.
    let replayed: Value = app
        .post_shopify(&event("shopify/orders-create-duplicate.json"), "orders/cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(replayed["order_status"], "cancelled", "{replayed}");
    let holds = app.store.holds(false).await.unwrap();
    assert_eq!(holds.len(), 1);
    assert_eq!(
        holds[0].state,
        mallguard_domain::hold::HoldState::Held,
        "the hold stands"
    );
}

#[tokio::test]
async fn a_signed_body_under_a_shop_domain_nobody_configured_gets_401() {
    let app = spawn_app().await;
    let body = event("shopify/orders-create.json");
    let swapped = app
        .client
        .post(format!("{}/webhooks/shopify", app.url))
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-shop-domain", "someone-else.myshopify.com")
        .header(
            "x-shopify-hmac-sha256",
            mallguard_malls::shopify::sign(mallguard_tests::SHOPIFY_SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_error(swapped).await, (401, "bad_signature".into()));
    assert!(
        app.store
            .orders_with_id(
                mallguard_domain::ids::Mall::Shopify,
                &mallguard_domain::ids::OrderId::parse("5678901234567890123").unwrap()
            )
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_body_nested_a_hundred_thousand_deep_is_refused_and_the_server_lives_on() {
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, error) = status_and_error(app.post_generic(deep.as_bytes()).await).await;
    assert_eq!((status, error.as_str()), (400, "too_deep"));
    let (status, error) = status_and_error(app.post_shopify(deep.as_bytes(), "orders/create").await).await;
    assert_eq!((status, error.as_str()), (400, "too_deep"));
    let ok: Value = app
        .post_generic(&event("generic/order.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["status"], "accepted", "the server still answers: {ok}");
}

#[tokio::test]
async fn a_reused_delivery_id_with_a_different_body_is_processed_as_a_new_order() {
    let app = spawn_app().await;
    let post = |body: Vec<u8>| {
        let app = &app;
        async move {
            let now = app.now().as_second();
            let signature = mallguard_malls::generic::sign(GENERIC_SECRET, "msg_reused", now, &body);
            let response = app
                .client
                .post(format!("{}/webhooks/generic", app.url))
                .header("webhook-id", "msg_reused")
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature)
                .body(body)
                .send()
                .await
                .unwrap();
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(post(event("generic/order.json")).await["status"], "accepted");
    // The same id, a different order: not a retry.
    let second = post(event("generic/order-duplicate.json")).await;
    assert_eq!(second["status"], "held", "{second}");
    // A true retry of the second body is still recognised.
    assert_eq!(
        post(event("generic/order-duplicate.json")).await["status"],
        "redelivered"
    );
    assert_eq!(app.store.holds(false).await.unwrap().len(), 1);
}
