//! The Yahoo! feed's mall actions (orderStatusChange: hold 3, release 2, cancel 4 with reason 160) against
//! the fake store API of `support`, over real HTTP on a loopback port.

use mallguard_feeds::fake_yahoo as support;

use jiff::SignedDuration;
use mallguard_domain::action::{ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::{FeedOrder, OrderFeed};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::order::OrderStatus;
use mallguard_feeds::actions::ShopActions;
use support::{Answer, ChangeSeen, Endpoint, FIRST, FakeYahoo, SECOND, SELLER};

/// 2026-11-23 16:00 JST: after both sample orders.
const NOW: &str = "2026-11-23T07:00:00Z";
const ORIGINAL: &str = "tanaka-yahoo-10000120";

fn order(id: &str) -> OrderRef {
    OrderRef::new(Mall::Yahoo, ShopId::parse(SELLER).unwrap(), OrderId::parse(id).unwrap())
}

fn action(kind: ActionKind, id: &str) -> MallAction {
    let held = order(id);
    MallAction::new(
        kind,
        &HoldId::for_order(&held),
        &held,
        &order(ORIGINAL),
        NOW.parse().unwrap(),
    )
}

/// orderInfo and orderStatusChange requests so far.
fn counts(fake: &FakeYahoo) -> [u32; 2] {
    [
        fake.requests(Endpoint::OrderInfo),
        fake.requests(Endpoint::OrderStatusChange),
    ]
}

fn change(id: &str, status: u8, reason: Option<&str>) -> ChangeSeen {
    ChangeSeen {
        order_id: id.to_owned(),
        order_status: status,
        cancel_reason: reason.map(str::to_owned),
        is_point_fix: "false".to_owned(),
    }
}

fn refused(result: Result<Performed, ActionError>) -> String {
    match result {
        Err(ActionError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn later(result: Result<Performed, ActionError>) -> (String, Option<SignedDuration>) {
    match result {
        Err(ActionError::Later { message, retry_after }) => (message, retry_after),
        other => panic!("expected a later, got {other:?}"),
    }
}

#[tokio::test]
async fn a_yahoo_feed_holds_releases_and_cancels() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    assert_eq!(ShopActions::mall(&feed), Mall::Yahoo);
    assert_eq!(ShopActions::shop(&feed).as_str(), SELLER);
    for kind in [ActionKind::Hold, ActionKind::Release, ActionKind::Cancel] {
        assert!(feed.can(kind), "{kind}");
    }
}

#[tokio::test]
async fn a_hold_moves_the_order_to_3_and_a_release_back_to_2() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    assert_eq!(fake.status(FIRST), (2, Some(1)));

    let held = feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();

    assert_eq!(held.reference.as_deref(), Some("OrderStatus 3 保留"));
    assert_eq!(counts(&fake), [1, 1], "orderInfo, then orderStatusChange");
    assert_eq!(fake.requests(Endpoint::Token), 1);
    assert_eq!(fake.changes(), [change(FIRST, 3, None)]);
    assert_eq!(fake.status(FIRST), (3, Some(1)));

    let released = feed.perform(&action(ActionKind::Release, FIRST)).await.unwrap();

    assert_eq!(released.reference.as_deref(), Some("OrderStatus 2 処理中"));
    assert_eq!(counts(&fake), [2, 2]);
    assert_eq!(fake.changes()[1], change(FIRST, 2, None));
    assert_eq!(fake.status(FIRST), (2, Some(1)));
    assert_eq!(fake.requests(Endpoint::Token), 1, "the access token is kept");
}

#[tokio::test]
async fn a_cancel_moves_the_order_to_4_with_reason_160_and_orderinfo_shows_it() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();

    feed.perform(&action(ActionKind::Cancel, FIRST)).await.unwrap();

    assert_eq!(fake.changes(), [change(FIRST, 4, Some("160"))]);
    assert_eq!(counts(&fake), [1, 1]);
    // The feed reads it cancelled, with Yahoo's reason.
    let page = feed
        .changed_since(None, NOW.parse().unwrap(), SignedDuration::from_hours(24))
        .await
        .unwrap();
    let first = page
        .orders
        .iter()
        .find_map(|o| match o {
            FeedOrder::Order { order, raw } if order.order_ref.order_id.as_str() == FIRST => Some((order, raw)),
            _ => None,
        })
        .unwrap();
    assert_eq!(first.0.status, OrderStatus::Cancelled);
    let info = mallguard_malls::yahoo::parse_order_info(first.1, &ShopId::parse(SELLER).unwrap())
        .unwrap()
        .0;
    assert_eq!(info.cancel_reason.as_deref(), Some("160"));

    // Cancelled again: done, without a second change.
    let again = feed.perform(&action(ActionKind::Cancel, FIRST)).await.unwrap();
    assert_eq!(again.reference.as_deref(), Some("already OrderStatus 4 キャンセル"));
    assert_eq!(fake.requests(Endpoint::OrderStatusChange), 1);
}

#[tokio::test]
async fn an_order_already_in_the_status_asked_for_is_done_without_a_change() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.set_status(FIRST, 3);

    let done = feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();

    assert_eq!(done.reference.as_deref(), Some("already OrderStatus 3 保留"));
    assert_eq!(counts(&fake), [1, 0], "no orderStatusChange");
    // A release of an order not on hold (2 処理中) is done too.
    fake.set_status(FIRST, 2);
    feed.perform(&action(ActionKind::Release, FIRST)).await.unwrap();
    assert_eq!(counts(&fake), [2, 0]);
    assert!(fake.changes().is_empty());
}

#[tokio::test]
async fn a_cancel_or_hold_of_a_shipped_order_is_answered_as_shipped_without_a_change() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.ship(FIRST);

    let shipped = |result: Result<Performed, ActionError>| match result {
        Err(ActionError::Shipped(reason)) => reason,
        other => panic!("not shipped: {other:?}"),
    };
    let reason = shipped(feed.perform(&action(ActionKind::Cancel, FIRST)).await);

    assert!(
        reason.contains("already shipped") && reason.contains("ShipStatus 3"),
        "{reason}"
    );
    assert_eq!(counts(&fake), [1, 0], "Yahoo would take it: mallguard does not send it");
    assert_eq!(fake.status(FIRST), (2, Some(3)));
    // A hold is too late too.
    let reason = shipped(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    assert!(reason.contains("too late"), "{reason}");
    assert_eq!(counts(&fake), [2, 0]);
}

#[tokio::test]
async fn a_change_yahoos_table_or_its_fraud_screening_forbids_is_refused_in_words() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    // SECOND is a reservation (1 予約中): it cannot be held.
    let reason = refused(feed.perform(&action(ActionKind::Hold, SECOND)).await);
    assert!(reason.contains("1 予約中") && reason.contains("3 保留"), "{reason}");
    // Under fraud screening only a cancel is possible.
    fake.set_fraud_hold(FIRST, "1");
    let reason = refused(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    assert!(reason.contains("fraud screening"), "{reason}");
    assert_eq!(counts(&fake), [2, 0]);
    feed.perform(&action(ActionKind::Cancel, FIRST)).await.unwrap();
    assert_eq!(fake.changes(), [change(FIRST, 4, Some("160"))]);
}

#[tokio::test]
async fn a_refusal_answer_is_refused_with_yahoos_message() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.answer_once(
        Endpoint::OrderStatusChange,
        Answer::status(200, support::ORDER_STATUS_CHANGE_REFUSED),
    );

    let reason = refused(feed.perform(&action(ActionKind::Hold, FIRST)).await);

    assert!(
        reason.contains("Cannot Be Operated : CancelOrder OrderStatus"),
        "{reason}"
    );
    assert!(reason.contains("2 処理中") && reason.contains("3 保留"), "{reason}");
    assert_eq!(fake.status(FIRST), (2, Some(1)));
    // The fake refuses what Yahoo's table refuses in the same words, whatever the status.
    fake.set_status(SECOND, 4);
    let refused_here = fake_change_refusal(&fake).await;
    assert!(refused_here.contains("Cannot Be Operated"), "{refused_here}");
}

/// A change the fake's table refuses, sent past mallguard's own check (as when the status changed at Yahoo
/// between the read and the change): orderInfo is scripted to say 2 処理中 while the fake has SECOND at 4.
async fn fake_change_refusal(fake: &FakeYahoo) -> String {
    let info = String::from_utf8(support::ORDER_INFO.to_vec())
        .unwrap()
        .replace(FIRST, SECOND);
    fake.answer_once(Endpoint::OrderInfo, Answer::status(200, info.as_bytes()));
    refused(fake.feed().perform(&action(ActionKind::Hold, SECOND)).await)
}

#[tokio::test]
async fn a_warning_answer_is_done() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.warn_on_change(true);

    feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();

    assert_eq!(fake.status(FIRST), (3, Some(1)));
}

#[tokio::test]
async fn an_outage_or_throttling_is_tried_again_later() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.answer_once(
        Endpoint::OrderStatusChange,
        Answer::Status {
            status: 503,
            body: b"<html>Service Unavailable</html>".to_vec(),
            headers: vec![("Retry-After".into(), "90".into())],
        },
    );
    let (message, wait) = later(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    assert!(message.contains("503"), "{message}");
    assert_eq!(wait, Some(SignedDuration::from_secs(90)));
    assert_eq!(fake.status(FIRST), (2, Some(1)));

    // The daily cap (403 Your Request was Forbidden): until midnight in Japan.
    fake.answer_once(Endpoint::OrderInfo, Answer::quota());
    let (_, wait) = later(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    let wait = wait.expect("a wait until midnight JST");
    assert!(
        wait > SignedDuration::ZERO && wait <= SignedDuration::from_hours(24),
        "{wait:?}"
    );
    // A 429, which Yahoo does not document, waits as asked.
    fake.answer_once(
        Endpoint::OrderStatusChange,
        Answer::Status {
            status: 429,
            body: Vec::new(),
            headers: vec![("Retry-After".into(), "5".into())],
        },
    );
    let (_, wait) = later(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    assert_eq!(wait, Some(SignedDuration::from_secs(5)));
    // An answer that says nothing understood: read again before the next try.
    fake.answer_once(
        Endpoint::OrderStatusChange,
        Answer::status(200, b"<Result><Status>NG</Status></Result>"),
    );
    let (message, _) = later(feed.perform(&action(ActionKind::Hold, FIRST)).await);
    assert!(message.contains("not understood"), "{message}");

    feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();
    assert_eq!(fake.status(FIRST), (3, Some(1)));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_an_expired_session_is_refused() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();
    fake.expire_access_tokens();

    feed.perform(&action(ActionKind::Release, FIRST)).await.unwrap();

    assert_eq!(fake.requests(Endpoint::Token), 2, "refreshed once");
    assert_eq!(fake.status(FIRST), (2, Some(1)));
    // The token expiring on the change itself: refreshed, and the change sent again.
    fake.expire_access_tokens();
    fake.answer_once(Endpoint::OrderStatusChange, Answer::token_expired());
    feed.perform(&action(ActionKind::Hold, FIRST)).await.unwrap();
    assert_eq!(fake.status(FIRST), (3, Some(1)));

    fake.answer_once(Endpoint::OrderStatusChange, Answer::session_expired());
    let reason = refused(feed.perform(&action(ActionKind::Release, FIRST)).await);
    assert!(reason.contains("px-04102") && reason.contains("authorise"), "{reason}");
    fake.revoke_refresh_token();
    fake.expire_access_tokens();
    let reason = refused(feed.perform(&action(ActionKind::Release, FIRST)).await);
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert!(!reason.contains(support::REFRESH_TOKEN) && !reason.contains(support::CLIENT_SECRET));
}

#[tokio::test]
async fn an_action_on_another_stores_order_is_refused_without_a_call() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    let mut hold = action(ActionKind::Hold, FIRST);
    hold.order = OrderRef::new(
        Mall::Yahoo,
        ShopId::parse("another-store").unwrap(),
        OrderId::parse(FIRST).unwrap(),
    );
    let reason = refused(feed.perform(&hold).await);
    assert!(reason.contains("another-store"), "{reason}");
    assert_eq!(counts(&fake), [0, 0]);
    assert_eq!(fake.requests(Endpoint::Token), 0);
}
