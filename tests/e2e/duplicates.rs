use mallguard_domain::hold::HoldState;
use mallguard_domain::ids::{Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::ports::roles::*;
use mallguard_tests::{event, spawn_app};
use serde_json::Value;

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_duplicate_is_held_noticed_and_cancelled_by_the_buyer_with_a_complete_history() {
    let app = spawn_app().await;
    let (status, body) = json(app.post_generic(&event("generic/order.json")).await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("accepted")), "{body}");
    assert!(app.outbox().is_empty(), "no mail for a first order");

    let (status, body) = json(app.post_generic(&event("generic/order-duplicate.json")).await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("held")), "{body}");
    let hold = body["hold"].as_str().unwrap().to_owned();
    assert_eq!(body["notified"], true);

    // The notice is in the outbox, in Japanese, to the buyer, with both orders and two links.
    let mails = app.outbox();
    let notice = mails
        .iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("a notice in the outbox");
    assert!(!notice.to.contains("staff"));
    assert!(notice.text.contains("両方とも発送を希望する"), "{}", notice.text);
    let links = notice.links();
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(mails.iter().any(|m| m.to.contains("staff@")), "the staff were alerted");

    // Opening the cancel link shows both orders and changes nothing.
    let page = app.client.get(&links[1]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("method=\"post\""), "{html}");
    assert_eq!(app.hold_state(&hold).await, HoldState::Held);

    // Pressing the button cancels the held order once, then sends the browser to the link's page.
    let done = app.client.post(&links[1]).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(
        format!("{}{}", app.url, done.headers()["location"].to_str().unwrap()),
        links[1]
    );
    assert_eq!(app.hold_state(&hold).await, HoldState::Cancelled);
    let page = app.client.get(&links[1]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The own store's order is cancelled there by the staff: until then the page says it is in progress.
    let page = page.text().await.unwrap();
    assert!(page.contains("キャンセルの手続きを進めております"), "{page}");
    assert!(!page.contains("キャンセルされました"), "{page}");
    let again = app.client.post(&links[0]).send().await.unwrap();
    assert_eq!(again.status(), 303);
    assert_eq!(
        format!("{}{}", app.url, again.headers()["location"].to_str().unwrap()),
        links[0]
    );
    assert_eq!(
        app.hold_state(&hold).await,
        HoldState::Cancelled,
        "a later click changes nothing"
    );

    let held = app
        .store
        .hold(&mallguard_domain::ids::HoldId::parse(&hold).unwrap())
        .await
        .unwrap()
        .unwrap();
    let history: Vec<String> = app
        .store
        .history(&held.order)
        .await
        .unwrap()
        .iter()
        .map(|h| format!("{:?}", h.event))
        .collect();
    let names: Vec<&str> = history.iter().map(|e| e.split([' ', '{']).next().unwrap()).collect();
    for expected in [
        "Received",
        "Matched",
        "Held",
        "NoticeQueued",
        "NoticeSent",
        "PageOpened",
        "Resolved",
        "LateAnswer",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(
        app.outbox()
            .iter()
            .any(|m| m.subject.contains("ご回答ありがとうございます")),
        "a receipt to the buyer"
    );
}

#[tokio::test]
async fn a_redelivered_order_is_answered_and_changes_nothing() {
    let app = spawn_app().await;
    app.post_generic(&event("generic/order.json")).await;
    let (status, body) = json(app.post_generic(&event("generic/order-redelivered.json")).await).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("redelivered")), "{body}");
    assert!(app.store.holds(false).await.unwrap().is_empty());
    assert!(app.outbox().is_empty());
}

#[tokio::test]
async fn a_redelivered_shopify_webhook_is_answered_and_changes_nothing() {
    let app = spawn_app().await;
    let shopify = event("shopify/orders-create.json");
    let (_, first) = json(app.post_shopify(&shopify, "orders/create").await).await;
    assert_eq!(first["status"], "accepted", "{first}");
    let (_, second) = json(
        app.post_shopify(&event("shopify/orders-create-redelivered.json"), "orders/create")
            .await,
    )
    .await;
    assert_eq!(second["status"], "redelivered", "{second}");
    assert!(app.store.holds(false).await.unwrap().is_empty());
    assert!(app.outbox().is_empty());
}

#[tokio::test]
async fn an_unrelated_order_is_accepted() {
    let app = spawn_app().await;
    app.post_generic(&event("generic/order.json")).await;
    let (_, body) = json(app.post_generic(&event("generic/order-unrelated.json")).await).await;
    assert_eq!(body["status"], "accepted", "{body}");
}

#[tokio::test]
async fn shopify_duplicates_are_held_and_a_cancellation_at_shopify_settles_the_hold() {
    let app = spawn_app().await;
    app.post_shopify(&event("shopify/orders-create.json"), "orders/create")
        .await;
    let (_, body) = json(
        app.post_shopify(&event("shopify/orders-create-duplicate.json"), "orders/create")
            .await,
    )
    .await;
    assert_eq!(body["status"], "held", "{body}");
    let hold = body["hold"].as_str().unwrap().to_owned();
    let (_, body) = json(
        app.post_shopify(&event("shopify/orders-cancelled.json"), "orders/cancelled")
            .await,
    )
    .await;
    assert_eq!(body["status"], "updated", "{body}");
    assert_eq!(app.hold_state(&hold).await, HoldState::Cancelled);
}

#[tokio::test]
async fn the_same_buyer_on_rakuten_then_yahoo_is_held_across_malls() {
    let app = spawn_app().await;
    let (_, first) = json(app.post_generic(&event("generic/rakuten-order.json")).await).await;
    assert_eq!(first["status"], "accepted", "{first}");
    let (_, second) = json(app.post_generic(&event("generic/yahoo-order.json")).await).await;
    assert_eq!(second["status"], "held", "{second}");
    let hold = app.store.holds(true).await.unwrap().pop().unwrap();
    assert_eq!(hold.order.mall, Mall::Yahoo);
    assert_eq!(hold.original.mall, Mall::Rakuten);
}

#[tokio::test]
async fn an_unanswered_hold_is_cancelled_at_the_deadline_with_a_mail_that_explains_why() {
    let app = spawn_app().await;
    app.post_generic(&event("generic/order.json")).await;
    let (_, body) = json(app.post_generic(&event("generic/order-duplicate.json")).await).await;
    let hold = mallguard_domain::ids::HoldId::parse(body["hold"].as_str().unwrap()).unwrap();
    let deadline = app.store.hold(&hold).await.unwrap().unwrap().deadline;
    app.clock.set(deadline);
    let report = app.app.sweep().await.unwrap();
    assert_eq!(report.cancelled, 1, "{report:?}");
    assert_eq!(app.hold_state(hold.as_str()).await, HoldState::Cancelled);
    let cancellation = app
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("キャンセル手続きのお知らせ"))
        .expect("mailed");
    assert!(cancellation.text.contains("再度ご注文"), "{}", cancellation.text);
    // mallguard does not cancel at the own store: the buyer is told it is in progress, not done.
    assert!(
        cancellation.text.contains("キャンセルの手続きを進めております"),
        "{}",
        cancellation.text
    );
    // The buyer's late click shows the outcome.
    let notice = app
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .unwrap();
    let page = app
        .client
        .get(&notice.links()[0])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("キャンセル"), "{page}");
    let _ = OrderRef::new(
        Mall::Own,
        ShopId::parse("tanaka-shop").unwrap(),
        OrderId::parse("1").unwrap(),
    );
}

#[tokio::test]
async fn shopify_orders_are_shown_by_the_number_the_buyer_knows_not_the_internal_id() {
    let app = spawn_app().await;
    app.post_shopify(&event("shopify/orders-create.json"), "orders/create")
        .await;
    let held: serde_json::Value = app
        .post_shopify(&event("shopify/orders-create-duplicate.json"), "orders/create")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "held", "{held}");
    let mails = app.outbox();
    let notice = mails
        .iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the buyer's notice");
    assert!(notice.subject.contains("#1002"), "{}", notice.subject);
    assert!(notice.text.contains("#1002"), "{}", notice.text);
    assert!(
        notice.text.contains("***01"),
        "the earlier order, masked: {}",
        notice.text
    );
    for internal in ["5678901234567890456", "5678901234567890123"] {
        assert!(!notice.text.contains(internal), "{internal} in\n{}", notice.text);
        assert!(!notice.subject.contains(internal));
    }
    let staff = mails.iter().find(|m| m.to.contains("staff")).expect("the staff alert");
    assert!(
        staff.text.contains("#1001") && staff.text.contains("#1002"),
        "{}",
        staff.text
    );
}
