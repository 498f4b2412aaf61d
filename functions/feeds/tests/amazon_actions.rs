//! Amazon SP-API as a mall's actions (`ShopActions`) against the fake SP-API of `support`, over real HTTP on a
//! loopback port: cancelling an order by a `POST_ORDER_ACKNOWLEDGEMENT_DATA` feed, and nothing else.

use mallguard_feeds::fake_amazon as support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::{FeedOrder, OrderLookup};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::order::OrderStatus;
use mallguard_feeds::actions::ShopActions;
use mallguard_feeds::amazon::{AmazonOptions, AmazonSpApi};
use mallguard_malls::amazon::{self, AmazonStatus, CancelReason};
use serde_json::json;
use support::{
    Answer, Endpoint, FEED_CANCEL, FEED_ID, FEED_REPORT_ERROR, FakeSpApi, FeedProcessing, GET_ORDER, ORDER, SELLER,
};

const NOW: &str = "2026-11-23T04:00:00Z";

fn action_on(kind: ActionKind, mall: Mall, shop: &str, order_id: &str) -> MallAction {
    let order = OrderRef::new(mall, ShopId::parse(shop).unwrap(), OrderId::parse(order_id).unwrap());
    let original = OrderRef::new(
        mall,
        ShopId::parse(shop).unwrap(),
        OrderId::parse("250-0000000-0000001").unwrap(),
    );
    MallAction::new(
        kind,
        &HoldId::for_order(&order),
        &order,
        &original,
        NOW.parse().unwrap(),
    )
}

/// Cancelling [`ORDER`], as its buyer asked through mallguard's notice.
fn cancel() -> MallAction {
    let mut action = action_on(ActionKind::Cancel, Mall::Amazon, SELLER, ORDER);
    action.by = ActionBy::Buyer;
    action
}

/// `action` after an attempt that ended in `error`, as the outbox keeps it.
fn after(action: &MallAction, error: &ActionError) -> MallAction {
    match error {
        ActionError::Later { message, retry_after } => {
            action.failed(message.clone(), *retry_after, NOW.parse::<Timestamp>().unwrap())
        }
        ActionError::Refused(reason) | ActionError::Shipped(reason) => action.refused(reason.clone()),
        ActionError::Accepted {
            reference,
            message,
            check_after,
        } => action.accepted(
            reference.clone(),
            message.clone(),
            *check_after,
            NOW.parse::<Timestamp>().unwrap(),
        ),
    }
}

fn with_options(fake: &FakeSpApi, change: impl FnOnce(&mut AmazonOptions)) -> AmazonSpApi {
    let mut options = fake.options();
    change(&mut options);
    fake.api_with(FakeSpApi::credentials(), options)
}

fn done(feed: &str) -> Result<Performed, ActionError> {
    Ok(Performed::changed(Some(feed.to_owned())))
}

/// The feed Amazon took and has not processed yet: its message, the feed id kept as the action's reference,
/// and when it is looked at again.
fn taken(result: Result<Performed, ActionError>) -> (String, Option<String>, SignedDuration) {
    match result {
        Err(ActionError::Accepted {
            reference,
            message,
            check_after,
        }) => (message, reference, check_after),
        other => panic!("not taken: {other:?}"),
    }
}

fn later(result: Result<Performed, ActionError>) -> (String, Option<SignedDuration>) {
    match result {
        Err(ActionError::Later { message, retry_after }) => (message, retry_after),
        other => panic!("not later: {other:?}"),
    }
}

fn refused(result: Result<Performed, ActionError>) -> String {
    match result {
        Err(ActionError::Refused(reason)) => reason,
        other => panic!("not refused: {other:?}"),
    }
}

/// No presigned url, token or buyer data in what an attempt hands back.
fn assert_nothing_secret(text: &str) {
    for secret in [
        "X-Amz-Signature",
        "/uploads/",
        "/reports/",
        support::ACCESS_TOKEN_PREFIX,
        support::REFRESH_TOKEN,
        "山田",
    ] {
        assert!(!text.contains(secret), "{text}");
    }
}

/// The requests of a cancellation, by endpoint: LWA, RDT, getOrder, getOrderItems, createFeedDocument, the
/// upload, createFeed, getFeed, getFeedDocument, the download.
fn counts(fake: &FakeSpApi) -> [u32; 10] {
    [
        Endpoint::Lwa,
        Endpoint::Rdt,
        Endpoint::GetOrder,
        Endpoint::GetOrderItems,
        Endpoint::CreateFeedDocument,
        Endpoint::Upload,
        Endpoint::CreateFeed,
        Endpoint::GetFeed,
        Endpoint::GetFeedDocument,
        Endpoint::Download,
    ]
    .map(|endpoint| fake.requests(endpoint))
}

#[tokio::test]
async fn amazon_cancels_orders_and_holds_none() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    assert_eq!(ShopActions::mall(&api), Mall::Amazon);
    assert_eq!(ShopActions::shop(&api).as_str(), SELLER);
    assert!(api.can(ActionKind::Cancel));
    assert!(!api.can(ActionKind::Hold));
    assert!(!api.can(ActionKind::Release));

    for kind in [ActionKind::Hold, ActionKind::Release] {
        let reason = refused(api.perform(&action_on(kind, Mall::Amazon, SELLER, ORDER)).await);
        assert!(reason.contains(&format!("Amazon has no {kind}")), "{reason}");
    }
    let elsewhere = refused(
        api.perform(&action_on(ActionKind::Cancel, Mall::Amazon, "A2OTHERSELLER", ORDER))
            .await,
    );
    assert!(elsewhere.contains("A2OTHERSELLER"), "{elsewhere}");
    let rakuten = refused(
        api.perform(&action_on(ActionKind::Cancel, Mall::Rakuten, SELLER, "1"))
            .await,
    );
    assert!(rakuten.contains("rakuten"), "{rakuten}");

    let off = with_options(&fake, |o| o.cancel_orders = false);
    assert!(!off.can(ActionKind::Cancel));
    let reason = refused(off.perform(&cancel()).await);
    assert!(reason.contains("cancel_orders"), "{reason}");
    assert_eq!(counts(&fake), [0; 10], "no request for what is not done");
}

#[tokio::test]
async fn a_cancel_sends_one_feed_of_the_orders_items_and_is_done_with_its_id() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    let action = cancel();

    assert_eq!(api.perform(&action).await, done(FEED_ID));

    // The sample document: the order's one item, BuyerCanceled, the seller as the merchant.
    assert_eq!(fake.uploads(), [String::from_utf8(FEED_CANCEL.to_vec()).unwrap()]);
    let requests = fake.feed_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["feedType"], "POST_ORDER_ACKNOWLEDGEMENT_DATA");
    assert_eq!(requests[0]["marketplaceIds"], json!([amazon::JP_MARKETPLACE_ID]));
    // LWA once; getOrder; getOrderItems; the document, its upload, the feed; getFeed IN_QUEUE, then DONE; the
    // report. No RDT: the status is no restricted data.
    assert_eq!(counts(&fake), [1, 0, 1, 1, 1, 1, 1, 2, 1, 1]);
    assert_eq!(fake.fetched(), [(ORDER.to_owned(), false)]);

    // Amazon has cancelled it.
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Canceled);
    match OrderLookup::order(&api, &OrderId::parse(ORDER).unwrap())
        .await
        .unwrap()
        .order
    {
        FeedOrder::Order { order, .. } => assert_eq!(order.status, OrderStatus::Cancelled),
        FeedOrder::Unreadable { error, .. } => panic!("{error}"),
    }

    // The same action again (a retry after a lost answer): done, and no second feed.
    let before = counts(&fake);
    assert_eq!(api.perform(&action).await, Ok(Performed::changed(None)));
    let again = counts(&fake);
    assert_eq!(again[2], before[2] + 1, "one getOrder");
    assert_eq!(again[4..], before[4..], "nothing sent");
    assert_eq!(fake.uploads().len(), 1);
}

#[tokio::test]
async fn every_item_of_every_page_is_cancelled_with_the_reason_configured() {
    let fake = FakeSpApi::start().await;
    fake.add_items(ORDER, 2);
    fake.set_items_page_size(1);
    fake.set_plain_reports(true);
    let api = with_options(&fake, |o| o.cancel_reason = CancelReason::NoInventory);

    assert_eq!(api.perform(&cancel()).await, done(FEED_ID));

    let uploads = fake.uploads();
    let document = &uploads[0];
    assert_eq!(fake.requests(Endpoint::GetOrderItems), 3, "three pages");
    for item in ["43210987654321", "432109876543210", "432109876543211"] {
        assert!(
            document.contains(&format!(
                "<AmazonOrderItemCode>{item}</AmazonOrderItemCode>\n        <CancelReason>NoInventory</CancelReason>"
            )),
            "{document}"
        );
    }
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Canceled);
}

#[tokio::test]
async fn a_shipped_order_is_answered_as_shipped_without_a_feed() {
    let fake = FakeSpApi::start().await;
    fake.ship(ORDER);
    let api = fake.api();

    assert_eq!(
        api.perform(&cancel()).await,
        Err(ActionError::Shipped("the order has already shipped".into()))
    );
    assert_eq!(counts(&fake), [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert!(fake.uploads().is_empty());
}

#[tokio::test]
async fn an_order_cancelled_already_is_done_without_a_feed() {
    let fake = FakeSpApi::start().await;
    fake.cancel(ORDER);
    let api = fake.api();

    assert_eq!(api.perform(&cancel()).await, Ok(Performed::changed(None)));
    assert_eq!(counts(&fake), [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn an_error_report_is_refused_with_its_description() {
    let fake = FakeSpApi::start().await;
    fake.set_feed_processing(FeedProcessing::Report(FEED_REPORT_ERROR.to_vec()));
    let api = fake.api();

    let reason = refused(api.perform(&cancel()).await);

    assert!(
        reason.starts_with(
            "Amazon refused to cancel the order: Error 99001: The order (250-1234567-7654321) cannot be cancelled \
             because it has already been shipped."
        ),
        "{reason}"
    );
    assert!(
        reason.ends_with("(the order is Unshipped at Amazon; feedId=50012019999)"),
        "{reason}"
    );
    assert_nothing_secret(&reason);
    // The order is read again after the refusal: Amazon refuses what is cancelled already, too.
    assert_eq!(fake.requests(Endpoint::GetOrder), 2);
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Unshipped);
}

#[tokio::test]
async fn a_feed_the_order_had_already_shipped_for_is_answered_as_shipped() {
    let fake = FakeSpApi::start().await;
    // Unshipped when read, shipped by the time the feed is processed.
    fake.set_feed_polls_pending(1);
    let api = with_options(&fake, |o| o.feed_polls = 1);
    let first = api.perform(&cancel()).await;
    let (message, _, _) = taken(first.clone());
    assert!(message.contains("feedId=50012019999"), "{message}");
    fake.ship(ORDER);

    let Err(ActionError::Shipped(reason)) = api.perform(&after(&cancel(), &first.unwrap_err())).await else {
        panic!("not shipped")
    };

    // The order is looked at before the feed: shipped, at once, naming the feed that came too late.
    assert_eq!(
        reason,
        "the order has already shipped (feedId=50012019999 did not cancel it in time)"
    );
    assert_eq!(fake.requests(Endpoint::CreateFeed), 1);
}

#[tokio::test]
async fn a_refusal_of_an_order_cancelled_meanwhile_is_done() {
    let fake = FakeSpApi::start().await;
    // Amazon has cancelled the order (an earlier feed whose attempt was lost, or the buyer), but the first
    // getOrder still says Unshipped: a feed goes, and its report refuses it as cancelled already.
    fake.cancel(ORDER);
    fake.answer_once(Endpoint::GetOrder, Answer::status(200, GET_ORDER));
    let api = fake.api();

    assert_eq!(api.perform(&cancel()).await, done(FEED_ID));

    assert_eq!(fake.requests(Endpoint::CreateFeed), 1);
    assert_eq!(fake.requests(Endpoint::GetOrder), 2, "read again after the refusal");
}

#[tokio::test]
async fn a_feed_still_in_the_queue_is_taken_not_failed_and_the_next_attempt_follows_it() {
    let fake = FakeSpApi::start().await;
    fake.set_feed_polls_pending(3);
    let api = with_options(&fake, |o| o.feed_polls = 2);
    let action = cancel();

    let first = api.perform(&action).await;

    let (message, reference, check_after) = taken(first.clone());
    assert_eq!(
        message,
        "Amazon has not processed the cancel feed yet (IN_PROGRESS); the next attempt asks again \
         (feedId=50012019999)"
    );
    assert_eq!(
        reference.as_deref(),
        Some(FEED_ID),
        "the feed id, kept as the action's reference"
    );
    assert_eq!(check_after, SignedDuration::from_mins(2));
    let kept = after(&action, first.as_ref().unwrap_err());
    assert_eq!(
        (kept.attempts, kept.reference.as_deref()),
        (0, Some(FEED_ID)),
        "not a failed attempt"
    );
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Unshipped);
    assert_eq!(counts(&fake), [1, 0, 1, 1, 1, 1, 1, 2, 0, 0]);

    // The outbox keeps the message; the next attempt reads the feed id from it and sends nothing new.
    let second = after(&action, &first.unwrap_err());
    assert_eq!(api.perform(&second).await, done(FEED_ID));
    assert_eq!(counts(&fake), [1, 0, 2, 1, 1, 1, 1, 4, 1, 1]);
    assert_eq!(fake.uploads().len(), 1);
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Canceled);
}

#[tokio::test]
async fn with_no_polls_the_feed_is_left_to_the_next_attempt_which_asks_once() {
    let fake = FakeSpApi::start().await;
    fake.set_feed_polls_pending(0);
    let api = with_options(&fake, |o| o.feed_polls = 0);
    let first = api.perform(&cancel()).await;
    let (message, _, _) = taken(first.clone());
    assert!(
        message.contains("(IN_QUEUE)") && message.contains("feedId=50012019999"),
        "{message}"
    );
    assert_eq!(fake.requests(Endpoint::GetFeed), 0);

    assert_eq!(api.perform(&after(&cancel(), &first.unwrap_err())).await, done(FEED_ID));
    assert_eq!(fake.requests(Endpoint::GetFeed), 1);
}

#[tokio::test]
async fn a_feed_amazon_does_not_know_is_sent_again() {
    let fake = FakeSpApi::start().await;
    let mut action = cancel();
    action.last_error = Some("Amazon has not processed the cancel feed yet (IN_QUEUE) (feedId=49999999999)".into());
    let api = fake.api();

    assert_eq!(api.perform(&action).await, done(FEED_ID));
    assert_eq!(fake.requests(Endpoint::CreateFeed), 1);
    assert_eq!(
        fake.requests(Endpoint::GetFeed),
        3,
        "the unknown one, then the new one twice"
    );
}

#[tokio::test]
async fn a_429_on_create_feed_is_later_with_amazons_wait() {
    let fake = FakeSpApi::start().await;
    fake.answer_once(
        Endpoint::CreateFeed,
        Answer::throttled().with_header("Retry-After", "7"),
    );
    fake.answer_once(
        Endpoint::CreateFeed,
        Answer::throttled().with_header("x-amzn-RateLimit-Limit", "0.0083"),
    );
    let api = fake.api();
    let action = cancel();

    let first = api.perform(&action).await;
    assert_eq!(
        first,
        Err(ActionError::Later {
            message: "createFeed: Amazon throttled the request".into(),
            retry_after: Some(SignedDuration::from_secs(7)),
        })
    );
    // Without a Retry-After: the time createFeed's rate takes to allow one more.
    let second = api.perform(&after(&action, &first.unwrap_err())).await;
    assert_eq!(later(second.clone()).1, Some(SignedDuration::from_secs(121)));
    assert!(fake.feed_requests().is_empty(), "no feed yet");

    assert_eq!(api.perform(&after(&action, &second.unwrap_err())).await, done(FEED_ID));
    assert_eq!(fake.requests(Endpoint::CreateFeed), 3);
    assert_eq!(fake.feed_requests().len(), 1);
}

#[tokio::test]
async fn an_outage_after_the_feed_was_sent_is_later_naming_the_feed() {
    let fake = FakeSpApi::start().await;
    let unavailable = br#"{"errors": [{"code": "InternalFailure", "message": "We encountered an internal error."}]}"#;
    fake.answer_once(Endpoint::GetFeed, Answer::status(503, unavailable));
    let api = fake.api();

    let first = api.perform(&cancel()).await;
    let (message, retry_after) = later(first.clone());
    assert_eq!(
        message,
        "getFeed: Amazon is unavailable (5xx) (InternalFailure: We encountered an internal error.) \
         (feedId=50012019999)"
    );
    assert_eq!(retry_after, None);

    // Followed, not sent again.
    assert_eq!(api.perform(&after(&cancel(), &first.unwrap_err())).await, done(FEED_ID));
    assert_eq!(fake.requests(Endpoint::CreateFeed), 1);
}

#[tokio::test]
async fn a_fatal_feed_is_refused() {
    let fake = FakeSpApi::start().await;
    fake.set_feed_processing(FeedProcessing::Fatal);
    let api = fake.api();

    let reason = refused(api.perform(&cancel()).await);

    assert_eq!(
        reason,
        "the feed did not go through: the feed ended FATAL: some, none or all of it may have applied (the order \
         is Unshipped at Amazon; feedId=50012019999)"
    );
    assert_eq!(
        fake.requests(Endpoint::GetOrder),
        2,
        "read again: a FATAL feed may have applied"
    );
    assert_eq!(fake.requests(Endpoint::GetFeedDocument), 0, "no report to read");
}

#[tokio::test]
async fn a_report_that_cannot_be_read_is_refused_unless_the_order_is_cancelled() {
    let fake = FakeSpApi::start().await;
    let broken = || Answer::status(200, b"\x1f\x8b\x08\x00broken");
    // A report that would have accepted, and an order Amazon did not cancel: refused.
    fake.set_feed_processing(FeedProcessing::Report(support::FEED_REPORT.to_vec()));
    fake.answer_once(Endpoint::Download, broken());
    let api = fake.api();

    let reason = refused(api.perform(&cancel()).await);

    assert!(
        reason.starts_with("the feed was processed, but its report cannot be read (the gzip of the report is broken"),
        "{reason}"
    );
    assert!(
        reason.ends_with("(the order is Unshipped at Amazon; feedId=50012019999)"),
        "{reason}"
    );

    // The feed cancelled the order: the order read again says so.
    fake.set_feed_processing(FeedProcessing::Orders);
    fake.answer_once(Endpoint::Download, broken());
    assert_eq!(api.perform(&cancel()).await, done("50012020000"));
    assert_eq!(fake.order_status(ORDER), AmazonStatus::Canceled);
}

#[tokio::test]
async fn the_uploads_failures_are_s3s() {
    let fake = FakeSpApi::start().await;
    fake.answer_once(
        Endpoint::Upload,
        Answer::status(
            403,
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has \
              expired</Message></Error>",
        ),
    );
    fake.answer_once(
        Endpoint::Upload,
        Answer::status(500, b"<Error><Code>InternalError</Code></Error>"),
    );
    let api = fake.api();

    let reason = refused(api.perform(&cancel()).await);
    assert_eq!(
        reason,
        "the feed document's upload: the presigned url was refused: HTTP 403 (AccessDenied)"
    );
    let (message, _) = later(api.perform(&cancel()).await);
    assert_eq!(message, "the feed document's upload: HTTP 500 (InternalError)");
    assert!(fake.feed_requests().is_empty());

    assert_eq!(api.perform(&cancel()).await, done(FEED_ID));
    assert_eq!(
        fake.requests(Endpoint::CreateFeedDocument),
        3,
        "a new document each time"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_a_refused_one_is_refused() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    OrderLookup::order(&api, &OrderId::parse(ORDER).unwrap()).await.unwrap();
    fake.expire_tokens();

    assert_eq!(api.perform(&cancel()).await, done(FEED_ID));
    assert_eq!(fake.requests(Endpoint::Lwa), 2, "one new token");

    let other = "250-7654321-1234567";
    fake.add_order(other, AmazonStatus::Unshipped, NOW.parse().unwrap());
    let denied = concat!(
        r#"{"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "#,
        r#""details": ""}]}"#
    )
    .as_bytes();
    fake.answer_once(Endpoint::CreateFeedDocument, Answer::status(403, denied));
    fake.answer_once(Endpoint::CreateFeedDocument, Answer::status(403, denied));
    let reason = refused(
        api.perform(&action_on(ActionKind::Cancel, Mall::Amazon, SELLER, other))
            .await,
    );
    assert!(
        reason.starts_with(
            "createFeedDocument: access denied (Unauthorized: Access to requested resource is denied.), again \
             with a new token"
        ),
        "{reason}"
    );
    assert!(reason.contains("order acknowledgement feeds need a role"), "{reason}");
    assert_eq!(fake.requests(Endpoint::Lwa), 3, "one more new token, then refused");
    assert_eq!(fake.requests(Endpoint::CreateFeedDocument), 3);
    assert_nothing_secret(&reason);
}

#[tokio::test]
async fn a_seller_refused_by_lwa_is_refused() {
    let fake = FakeSpApi::start().await;
    fake.revoke();
    let reason = refused(fake.api().perform(&cancel()).await);
    assert!(reason.contains("must authorise the app again"), "{reason}");
}

#[tokio::test]
async fn no_answer_is_later() {
    let fake = FakeSpApi::start().await;
    fake.answer_once(Endpoint::GetOrder, Answer::Hang);
    let api = with_options(&fake, |o| {
        o.timeouts.total = Duration::from_millis(300);
    });
    let (message, _) = later(api.perform(&cancel()).await);
    assert!(message.starts_with("getOrder: no answer within"), "{message}");
    assert_eq!(fake.requests(Endpoint::CreateFeed), 0);
}

#[tokio::test]
async fn a_cancel_at_the_deadline_gives_amazon_the_reason_general_adjustment_not_the_buyers() {
    let fake = FakeSpApi::start().await;
    fake.set_plain_reports(true);
    let api = fake.api();
    let mut at_the_deadline = cancel();
    at_the_deadline.by = ActionBy::Deadline;

    assert_eq!(api.perform(&at_the_deadline).await, done(FEED_ID));

    let document = &fake.uploads()[0];
    assert!(
        document.contains("<CancelReason>GeneralAdjustment</CancelReason>"),
        "{document}"
    );
    assert!(!document.contains("BuyerCanceled"), "{document}");
}
