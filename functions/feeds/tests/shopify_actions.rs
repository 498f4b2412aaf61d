//! Shopify mall actions (hold, release, cancel) against the fake Admin GraphQL API of `support`, over real
//! HTTP on a loopback port.

use mallguard_feeds::fake_shopify as support;

use std::sync::Arc;

use jiff::SignedDuration;
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, MallActions, Performed};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_feeds::actions::{MallActionsRouter, ShopActions};
use mallguard_feeds::shopify::{NOT_YET_ASSIGNED_WAIT, RefundChoice, ShopifyAdmin, ShopifyCredentials, ShopifyOptions};
use secrecy::SecretString;
use serde_json::{Value, json};
use support::{Answer, FakeShopify, ORDER, ORIGINAL, Operation, SHOP, TOKEN};

/// mallguard's handle on the sample order's fulfillment orders (events/README.md).
const HANDLE: &str = "mallguard-h26528c4c205a0bcea6dc";
const FIRST_HOLD: &str = "gid://shopify/FulfillmentHold/777001";
const SECOND_HOLD: &str = "gid://shopify/FulfillmentHold/777002";

fn order_ref(id: &str) -> OrderRef {
    OrderRef::new(Mall::Shopify, ShopId::parse(SHOP).unwrap(), OrderId::parse(id).unwrap())
}

/// `kind` on order `id`, held as a duplicate of [`ORIGINAL`], as the buyer decided it.
fn action_on(id: &str, kind: ActionKind) -> MallAction {
    let order = order_ref(id);
    let mut action = MallAction::new(
        kind,
        &HoldId::for_order(&order),
        &order,
        &order_ref(ORIGINAL),
        "2026-11-23T03:10:00Z".parse().unwrap(),
    );
    action.by = ActionBy::Buyer;
    action
}

fn action(kind: ActionKind) -> MallAction {
    action_on(ORDER, kind)
}

fn reference(performed: Performed) -> Option<String> {
    performed.reference
}

/// The job's id of a cancellation Shopify took and has not finished.
fn taken(result: Result<Performed, ActionError>) -> String {
    match result {
        Err(ActionError::Accepted {
            reference: Some(job),
            check_after,
            ..
        }) => {
            assert_eq!(check_after, SignedDuration::from_mins(1));
            job
        }
        other => panic!("expected it taken, got {other:?}"),
    }
}

/// `action` as the outbox keeps it after Shopify took it as `job`.
fn after_taken(action: MallAction, job: &str) -> MallAction {
    action.accepted(
        Some(job.to_owned()),
        "taken".into(),
        SignedDuration::from_mins(1),
        "2026-11-23T03:00:00Z".parse().unwrap(),
    )
}

fn refused(result: Result<Performed, ActionError>) -> String {
    match result {
        Err(ActionError::Refused(reason)) => {
            assert!(!reason.contains(TOKEN), "{reason}");
            reason
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn later(result: Result<Performed, ActionError>) -> (String, Option<SignedDuration>) {
    match result {
        Err(ActionError::Later { message, retry_after }) => {
            assert!(!message.contains(TOKEN), "{message}");
            (message, retry_after)
        }
        other => panic!("expected later, got {other:?}"),
    }
}

fn with_options(fake: &FakeShopify, change: impl FnOnce(&mut ShopifyOptions)) -> ShopifyAdmin {
    let mut options = fake.options();
    change(&mut options);
    fake.admin_with(FakeShopify::credentials(), options)
}

#[tokio::test]
async fn a_hold_puts_mallguards_hold_on_every_open_fulfillment_order_once() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    let admin = fake.admin();
    assert_eq!((admin.mall(), admin.shop().as_str()), (Mall::Shopify, SHOP));
    for kind in [ActionKind::Hold, ActionKind::Release, ActionKind::Cancel] {
        assert!(admin.can(kind), "{kind}");
    }

    let done = admin.perform(&action(ActionKind::Hold)).await.unwrap();
    assert_eq!(
        reference(done).as_deref(),
        Some(format!("{FIRST_HOLD},{SECOND_HOLD}").as_str())
    );
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 1);
    assert_eq!(fake.requests(Operation::Hold), 2);
    let inputs = fake.hold_inputs();
    let held: Vec<&str> = inputs.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(held, fake.fulfillment_orders(ORDER));
    for input in &inputs {
        let hold = &input["hold"];
        assert_eq!(hold["handle"], HANDLE);
        assert_eq!(hold["notifyMerchant"], false);
        assert_eq!(hold["reason"], "OTHER");
        let notes = hold["reasonNotes"].as_str().unwrap();
        assert!(notes.contains(ORIGINAL), "the note names the earlier order: {notes}");
        assert!(notes.contains("mallguard"), "{notes}");
        // No buyer's data: the note is made of ids only.
        assert!(!notes.contains('@') && !notes.contains("山田"), "{notes}");
    }
    assert_eq!(fake.statuses(ORDER), ["ON_HOLD", "ON_HOLD"]);
    assert!(fake.holds(ORDER).iter().all(|h| h.handle == HANDLE && h.by_app));

    // Again (the outbox retried after a lost commit): already held, no mutation.
    let again = admin.perform(&action(ActionKind::Hold)).await.unwrap();
    assert_eq!(
        reference(again).as_deref(),
        Some(format!("{FIRST_HOLD},{SECOND_HOLD}").as_str())
    );
    assert_eq!(fake.requests(Operation::Hold), 2, "no new hold");
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 2);
    assert_eq!(fake.holds(ORDER).len(), 2);
}

#[tokio::test]
async fn a_hold_whose_answer_was_lost_is_done_on_the_retry_by_its_handle() {
    let fake = FakeShopify::start().await;
    let admin = fake.admin();
    let before = fake.fulfillment_orders_answer(ORDER);
    admin.perform(&action(ActionKind::Hold)).await.unwrap();
    // The retry reads the fulfillment orders as they were before (an out-of-date read), so it holds again:
    // Shopify refuses the duplicate handle, which is success, and the hold's id is read once more.
    fake.answer_once(Operation::FulfillmentOrders, before);
    let done = admin.perform(&action(ActionKind::Hold)).await.unwrap();
    assert_eq!(reference(done).as_deref(), Some(FIRST_HOLD));
    assert_eq!(fake.requests(Operation::Hold), 2);
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 3);
    assert_eq!(fake.holds(ORDER).len(), 1, "held once");
}

#[tokio::test]
async fn a_part_shipped_order_is_held_where_it_can_be() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    fake.set_status(ORDER, 1, "CLOSED");
    let done = fake.admin().perform(&action(ActionKind::Hold)).await.unwrap();
    assert_eq!(reference(done).as_deref(), Some(FIRST_HOLD));
    assert_eq!(fake.requests(Operation::Hold), 1);
    assert_eq!(fake.statuses(ORDER), ["ON_HOLD", "CLOSED"]);
}

#[tokio::test]
async fn a_release_releases_exactly_mallguards_holds() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    let admin = fake.admin();
    admin.perform(&action(ActionKind::Hold)).await.unwrap();
    let merchants = fake.hold_by_merchant(ORDER, 0);

    let done = admin.perform(&action(ActionKind::Release)).await.unwrap();
    assert_eq!(
        reference(done).as_deref(),
        Some(format!("{FIRST_HOLD},{SECOND_HOLD}").as_str())
    );
    let fulfillment_orders = fake.fulfillment_orders(ORDER);
    assert_eq!(
        fake.release_inputs(),
        [
            json!({ "id": fulfillment_orders[0], "holdIds": [FIRST_HOLD] }),
            json!({ "id": fulfillment_orders[1], "holdIds": [SECOND_HOLD] }),
        ]
    );
    let left = fake.holds(ORDER);
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id.as_str(), left[0].by_app), (merchants.as_str(), false));
    assert_eq!(fake.statuses(ORDER), ["ON_HOLD", "OPEN"]);

    // Nothing of mallguard's left: done without a mutation.
    let again = admin.perform(&action(ActionKind::Release)).await.unwrap();
    assert_eq!(reference(again), None);
    assert_eq!(fake.requests(Operation::Release), 2);
}

#[tokio::test]
async fn a_release_of_an_order_never_held_is_done_without_a_mutation() {
    let fake = FakeShopify::start().await;
    fake.hold_by_merchant(ORDER, 0);
    let done = fake.admin().perform(&action(ActionKind::Release)).await.unwrap();
    assert_eq!(reference(done), None);
    assert_eq!(fake.requests(Operation::Release), 0);
    assert_eq!(fake.holds(ORDER).len(), 1, "the merchant's hold stays");
}

#[tokio::test]
async fn a_cancel_is_one_order_cancel_without_mailing_the_buyer() {
    let fake = FakeShopify::start().await;
    let admin = fake.admin();
    admin.perform(&action(ActionKind::Hold)).await.unwrap();
    // A job not done yet: taken, not done.
    let job = taken(admin.perform(&action(ActionKind::Cancel)).await);
    assert_eq!(job, "gid://shopify/Job/00000000-0000-4000-8000-000000000001");
    assert_eq!(fake.requests(Operation::Cancel), 1);
    let inputs = fake.cancel_inputs();
    let input = &inputs[0];
    assert_eq!(input["orderId"], format!("gid://shopify/Order/{ORDER}"));
    assert_eq!(input["notifyCustomer"], false);
    assert_eq!(input["refundMethod"], json!({ "originalPaymentMethodsRefund": true }));
    assert_eq!(input["restock"], true);
    assert_eq!(input["reason"], "CUSTOMER");
    let note = input["staffNote"].as_str().unwrap();
    let hold = HoldId::for_order(&order_ref(ORDER));
    assert!(
        note.contains("mallguard") && note.contains(hold.as_str()) && note.contains(ORIGINAL),
        "{note}"
    );
    assert!(fake.is_cancelled(ORDER));

    // The next look: the order reads as cancelled, so done (with the job), and no second orderCancel.
    let done = admin
        .perform(&after_taken(action(ActionKind::Cancel), &job))
        .await
        .unwrap();
    assert_eq!(reference(done).as_deref(), Some(job.as_str()));
    // Without a job kept (a retry after a lost answer) the same.
    let again = admin.perform(&action(ActionKind::Cancel)).await.unwrap();
    assert_eq!(reference(again), None);
    assert_eq!(fake.requests(Operation::Cancel), 1);
}

#[tokio::test]
async fn a_cancel_job_still_running_is_waited_for_and_never_sent_twice() {
    let fake = FakeShopify::start().await;
    fake.run_cancel_jobs_later();
    let admin = fake.admin();
    let job = taken(admin.perform(&action(ActionKind::Cancel)).await);
    assert!(!fake.is_cancelled(ORDER));
    let pending = after_taken(action(ActionKind::Cancel), &job);
    let still = admin.perform(&pending).await;
    assert!(
        matches!(&still, Err(ActionError::Accepted { reference: Some(r), message, .. })
            if *r == job && message.contains("still cancelling")),
        "{still:?}"
    );
    assert_eq!(
        fake.requests(Operation::Cancel),
        1,
        "orderCancel is not idempotent: sent once"
    );
    fake.finish_cancel_jobs();
    let done = admin.perform(&pending).await.unwrap();
    assert_eq!(reference(done).as_deref(), Some(job.as_str()));
    assert_eq!(fake.requests(Operation::Cancel), 1);
}

#[tokio::test]
async fn the_cancel_sends_the_configured_refund_and_restock() {
    let fake = FakeShopify::start().await;
    for (n, (refund, restock, expected)) in [
        (
            RefundChoice::StoreCredit,
            false,
            json!({ "storeCreditRefund": { "expiresAt": null } }),
        ),
        (
            RefundChoice::NoRefund,
            true,
            json!({ "originalPaymentMethodsRefund": false }),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("567890123456789{n:04}");
        fake.add_order(&id, 1);
        let admin = with_options(&fake, |o| {
            o.refund = refund;
            o.restock = restock;
        });
        taken(admin.perform(&action_on(&id, ActionKind::Cancel)).await);
        let input = fake.cancel_inputs().pop().unwrap();
        assert_eq!(input["refundMethod"], expected, "{refund}");
        assert_eq!(input["restock"], restock, "{refund}");
        assert_eq!(input["notifyCustomer"], false);
    }
}

#[tokio::test]
async fn an_order_cancelled_meanwhile_is_done_when_shopify_refuses_to_cancel_it_again() {
    let fake = FakeShopify::start().await;
    let before = fake.fulfillment_orders_answer(ORDER);
    fake.cancel(ORDER);
    // The first read is from before the cancellation (an earlier attempt's job finished since): orderCancel
    // is sent, refused as INVALID "already cancelled", and the order read again.
    fake.answer_once(Operation::FulfillmentOrders, before);
    let done = fake.admin().perform(&action(ActionKind::Cancel)).await.unwrap();
    assert_eq!(reference(done), None);
    assert_eq!(fake.requests(Operation::Cancel), 1);
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 2);
}

#[tokio::test]
async fn a_cancel_shopify_refuses_is_refused_with_its_reason() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    fake.answer_once(
        Operation::Cancel,
        Answer::user_error(
            Operation::Cancel,
            "NO_REFUND_PERMISSION",
            &["refundMethod"],
            "You don't have permission to refund this order.",
        ),
    );
    let reason = refused(fake.admin().perform(&action(ActionKind::Cancel)).await);
    assert!(reason.contains("NO_REFUND_PERMISSION"), "{reason}");
    assert!(
        reason.contains("You don't have permission to refund this order."),
        "{reason}"
    );
    assert_eq!(
        fake.requests(Operation::FulfillmentOrders),
        2,
        "read again after the refusal"
    );
    assert!(!fake.is_cancelled(ORDER));

    // A fulfilled order is never sent orderCancel (it would be refunded): it has shipped.
    fake.fulfill(ORDER);
    let cancels = fake.requests(Operation::Cancel);
    let result = fake.admin().perform(&action(ActionKind::Cancel)).await;
    assert!(matches!(result, Err(ActionError::Shipped(_))), "{result:?}");
    assert_eq!(fake.requests(Operation::Cancel), cancels);
}

#[tokio::test]
async fn a_passing_cancel_error_is_tried_later() {
    let fake = FakeShopify::start().await;
    fake.answer_once(
        Operation::Cancel,
        Answer::user_error(Operation::Cancel, "INTERNAL_ERROR", &[], "Something went wrong."),
    );
    let (message, _) = later(fake.admin().perform(&action(ActionKind::Cancel)).await);
    assert!(message.contains("INTERNAL_ERROR"), "{message}");
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 1, "no second read");
}

#[tokio::test]
async fn a_fulfilled_order_cannot_be_held_it_already_shipped() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    fake.fulfill(ORDER);
    // Shipped, not refused: the hold settles as shipped and the staff get the shipped alert.
    let Err(ActionError::Shipped(reason)) = fake.admin().perform(&action(ActionKind::Hold)).await else {
        panic!("a fulfilled order is shipped")
    };
    assert!(reason.contains("fulfilled"), "{reason}");
    assert!(reason.contains("CLOSED"), "{reason}");
    assert_eq!(fake.requests(Operation::Hold), 0);
}

#[tokio::test]
async fn a_fulfilled_order_is_not_cancelled_it_shipped() {
    let fake = FakeShopify::start().await;
    fake.add_order(ORDER, 2);
    fake.fulfill(ORDER);
    let Err(ActionError::Shipped(reason)) = fake.admin().perform(&action(ActionKind::Cancel)).await else {
        panic!("a fulfilled order is shipped, never cancelled (orderCancel would refund it)")
    };
    assert!(reason.contains("fulfilled"), "{reason}");
    assert_eq!(fake.requests(Operation::Cancel), 0);
}

#[tokio::test]
async fn a_cancelled_order_is_not_held_and_needs_no_release() {
    let fake = FakeShopify::start().await;
    fake.cancel(ORDER);
    let admin = fake.admin();
    let reason = refused(admin.perform(&action(ActionKind::Hold)).await);
    assert!(reason.contains("cancelled"), "{reason}");
    assert_eq!(
        reference(admin.perform(&action(ActionKind::Release)).await.unwrap()),
        None
    );
    assert_eq!(fake.requests(Operation::Hold) + fake.requests(Operation::Release), 0);
}

#[tokio::test]
async fn an_order_without_fulfillment_orders_yet_is_held_later() {
    let fake = FakeShopify::start().await;
    fake.unassign(ORDER);
    let (message, wait) = later(fake.admin().perform(&action(ActionKind::Hold)).await);
    assert!(message.contains("location"), "{message}");
    assert_eq!(wait, Some(NOT_YET_ASSIGNED_WAIT));
    assert_eq!(fake.requests(Operation::Hold), 0);

    // Once Shopify assigned it, the retry holds it.
    fake.add_order(ORDER, 1);
    assert!(fake.admin().perform(&action(ActionKind::Hold)).await.is_ok());
    assert_eq!(fake.requests(Operation::Hold), 1);
}

#[tokio::test]
async fn a_throttled_call_is_tried_later_after_shopifys_wait() {
    let fake = FakeShopify::start().await;
    let admin = fake.admin();
    // HTTP 200 with THROTTLED: the wait from extensions.cost, (752 − 666) / 50 s rounded up.
    fake.answer_once(Operation::FulfillmentOrders, Answer::throttled());
    let (message, wait) = later(admin.perform(&action(ActionKind::Hold)).await);
    assert!(message.contains("throttled"), "{message}");
    assert_eq!(wait, Some(SignedDuration::from_secs(2)));
    // HTTP 429 with a Retry-After longer than the cost's wait, on the mutation.
    fake.answer_once(Operation::Hold, Answer::throttled_429(7));
    let (_, wait) = later(admin.perform(&action(ActionKind::Hold)).await);
    assert_eq!(wait, Some(SignedDuration::from_secs(7)));
    assert!(fake.holds(ORDER).is_empty());
    // The retry holds.
    assert!(admin.perform(&action(ActionKind::Hold)).await.is_ok());
    assert_eq!(fake.holds(ORDER).len(), 1);
}

#[tokio::test]
async fn shopify_unavailable_is_tried_later() {
    let fake = FakeShopify::start().await;
    let admin = fake.admin();
    fake.answer_once(Operation::FulfillmentOrders, Answer::unavailable());
    let (message, _) = later(admin.perform(&action(ActionKind::Hold)).await);
    assert!(message.contains("fulfillmentOrders"), "{message}");
    fake.answer_once(Operation::Cancel, Answer::internal_error());
    let (message, _) = later(admin.perform(&action(ActionKind::Cancel)).await);
    assert!(message.contains("INTERNAL_SERVER_ERROR"), "{message}");
    assert!(!fake.is_cancelled(ORDER));
}

#[tokio::test]
async fn no_answer_is_tried_later() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let fake = FakeShopify::start().await;
    let admin = with_options(&fake, |o| o.base_url = Some(url));
    let (message, wait) = later(admin.perform(&action(ActionKind::Hold)).await);
    assert!(message.contains("fulfillmentOrders"), "{message}");
    assert_eq!(wait, None);
}

#[tokio::test]
async fn a_wrong_token_is_refused_for_a_person_to_fix() {
    let fake = FakeShopify::start().await;
    let admin = fake.admin_with(
        ShopifyCredentials {
            access_token: SecretString::from("shpat_wrong_token_value"),
        },
        fake.options(),
    );
    let reason = refused(admin.perform(&action(ActionKind::Hold)).await);
    assert!(
        reason.contains("HTTP 401") && reason.contains("access token"),
        "{reason}"
    );
    assert!(!reason.contains("shpat_wrong_token_value"), "{reason}");
    assert_eq!(fake.requests(Operation::Hold), 0);
    assert!(fake.hold_inputs().is_empty());

    fake.answer_once(Operation::Cancel, Answer::forbidden());
    let reason = refused(fake.admin().perform(&action(ActionKind::Cancel)).await);
    assert!(reason.contains("HTTP 403") && reason.contains("scopes"), "{reason}");

    fake.answer_once(Operation::Hold, Answer::access_denied(Operation::Hold));
    let reason = refused(fake.admin().perform(&action(ActionKind::Hold)).await);
    assert!(reason.contains("ACCESS_DENIED") && reason.contains("scope"), "{reason}");
}

#[tokio::test]
async fn a_user_error_is_refused_with_its_code_and_message() {
    let fake = FakeShopify::start().await;
    fake.answer_once(Operation::Hold, Answer::status(200, support::HOLD_NOT_FOUND));
    let reason = refused(fake.admin().perform(&action(ActionKind::Hold)).await);
    assert!(
        reason.contains("FULFILLMENT_ORDER_NOT_FOUND") && reason.contains("Fulfillment order does not exist."),
        "{reason}"
    );

    let fake = FakeShopify::start().await;
    let admin = fake.admin();
    admin.perform(&action(ActionKind::Hold)).await.unwrap();
    fake.answer_once(Operation::Release, Answer::status(200, support::RELEASE_REFUSED));
    let reason = refused(admin.perform(&action(ActionKind::Release)).await);
    assert!(
        reason.contains("INVALID_ACCESS") && reason.contains("doesn't have access"),
        "{reason}"
    );
    assert_eq!(fake.holds(ORDER).len(), 1, "still held");
}

#[tokio::test]
async fn an_order_shopify_does_not_have_is_refused() {
    let fake = FakeShopify::start().await;
    let reason = refused(
        fake.admin()
            .perform(&action_on("5678901234567899999", ActionKind::Hold))
            .await,
    );
    assert!(reason.contains("5678901234567899999"), "{reason}");
    // Not a Shopify order id: no call.
    let reason = refused(fake.admin().perform(&action_on("A-1002", ActionKind::Hold)).await);
    assert!(reason.contains("A-1002"), "{reason}");
    assert_eq!(fake.requests(Operation::FulfillmentOrders), 1);
}

#[tokio::test]
async fn the_router_sends_shopify_actions_to_the_shops_client() {
    let fake = FakeShopify::start().await;
    let router = MallActionsRouter::new([Arc::new(fake.admin()) as Arc<dyn ShopActions>]);
    let shop = ShopId::parse(SHOP).unwrap();
    assert!(router.can(Mall::Shopify, &shop, ActionKind::Hold));
    assert!(!router.can(Mall::Yahoo, &shop, ActionKind::Hold));
    let done = router.perform(&action(ActionKind::Hold)).await.unwrap();
    assert_eq!(done.reference.as_deref(), Some(FIRST_HOLD));
}

#[tokio::test]
async fn the_fake_reads_as_the_samples() {
    // The fake's read of the sample order is the sample's, field for field.
    let fake = FakeShopify::start().await;
    let answer: Value = serde_json::from_slice(&fake.fulfillment_orders_answer(ORDER).body).unwrap();
    let sample: Value = serde_json::from_slice(support::FULFILLMENT_ORDERS).unwrap();
    assert_eq!(answer, sample);
}

#[tokio::test]
async fn a_cancel_nobody_asked_for_gives_shopify_the_reason_other() {
    for by in [ActionBy::Deadline, ActionBy::Staff] {
        let fake = FakeShopify::start().await;
        let mut cancel = action(ActionKind::Cancel);
        cancel.by = by;
        let _ = fake.admin().perform(&cancel).await;
        assert_eq!(fake.cancel_inputs()[0]["reason"], "OTHER", "{by:?}");
    }
}
