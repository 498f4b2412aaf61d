//! The Rakuten feed's mall actions (hold = a sub-status and a memo line, release, cancel) against the fake
//! RMS of `support`, over real HTTP on a loopback port.

use mallguard_feeds::fake as support;

use jiff::SignedDuration;
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, MallActions};
use mallguard_domain::feed::{FeedOrder, OrderFeed};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::order::OrderStatus;
use mallguard_feeds::actions::{MallActionsRouter, ShopActions};
use std::sync::Arc;
use support::{Answer, CancelSeen, Endpoint, FakeRms, HOLD_SUB_STATUS, SATO, SHOP, SubStatusWrite, YAMADA};

/// The order a duplicate is said to duplicate (any number of the shop: it is only named).
const ORIGINAL: &str = "386193-20261122-0000011111";
/// 2026-11-23 12:30 JST.
const NOW: &str = "2026-11-23T03:30:00Z";

fn order(number: &str) -> OrderRef {
    OrderRef::new(
        Mall::Rakuten,
        ShopId::parse(SHOP).unwrap(),
        OrderId::parse(number).unwrap(),
    )
}

/// `kind` asked of the mall for the order `number`, a suspected duplicate of [`ORIGINAL`].
fn action(kind: ActionKind, number: &str) -> MallAction {
    let held = order(number);
    let mut action = MallAction::new(
        kind,
        &HoldId::for_order(&held),
        &held,
        &order(ORIGINAL),
        NOW.parse().unwrap(),
    );
    // The buyer's decision, unless a test says otherwise.
    action.by = ActionBy::Buyer;
    action
}

fn hold_marker(number: &str) -> String {
    format!("【mallguard保留 {}】", HoldId::for_order(&order(number)))
}

fn release_marker(number: &str) -> String {
    format!("【mallguard保留解除 {}】", HoldId::for_order(&order(number)))
}

/// The requests each endpoint received, in the order getOrder, getSubStatusList, updateOrderSubStatus,
/// updateOrderMemo, cancelOrder.
fn counts(fake: &FakeRms) -> [u32; 5] {
    [
        Endpoint::GetOrder,
        Endpoint::GetSubStatusList,
        Endpoint::UpdateOrderSubStatus,
        Endpoint::UpdateOrderMemo,
        Endpoint::CancelOrder,
    ]
    .map(|e| fake.requests(e))
}

fn refused(result: Result<mallguard_domain::action::Performed, ActionError>) -> String {
    match result {
        Err(ActionError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn later(result: Result<mallguard_domain::action::Performed, ActionError>) -> (String, Option<SignedDuration>) {
    match result {
        Err(ActionError::Later { message, retry_after }) => (message, retry_after),
        other => panic!("expected a later, got {other:?}"),
    }
}

/// The mall's reference of an action RMS took but has not confirmed (a cancellation applied for).
fn taken(result: Result<mallguard_domain::action::Performed, ActionError>) -> Option<String> {
    match result {
        Err(ActionError::Accepted { reference, .. }) => reference,
        other => panic!("expected it taken, got {other:?}"),
    }
}

#[tokio::test]
async fn a_feed_holds_and_releases_only_with_a_sub_status_and_always_cancels() {
    let fake = FakeRms::start().await;
    let acting = fake.acting_feed();
    assert_eq!(ShopActions::mall(&acting), Mall::Rakuten);
    assert_eq!(ShopActions::shop(&acting).as_str(), SHOP);
    for kind in [ActionKind::Hold, ActionKind::Release, ActionKind::Cancel] {
        assert!(acting.can(kind), "{kind}");
    }
    let plain = fake.feed();
    assert!(!plain.can(ActionKind::Hold));
    assert!(!plain.can(ActionKind::Release));
    assert!(plain.can(ActionKind::Cancel));
    // A blank name is no name.
    let blank = fake.feed_with(
        FakeRms::credentials(),
        mallguard_feeds::rakuten::RakutenOptions {
            hold_sub_status: Some("  ".into()),
            ..fake.options()
        },
    );
    assert!(!blank.can(ActionKind::Hold));
    // Asked anyway (the router asks `can` first), a hold without a sub-status is refused without a call.
    let reason = refused(plain.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(reason.contains("no sub-status configured"), "{reason}");
    assert_eq!(counts(&fake), [0; 5]);
    // Through the router, by mall and shop.
    let router = MallActionsRouter::new([Arc::new(plain) as Arc<dyn ShopActions>]);
    assert!(router.can(Mall::Rakuten, &ShopId::parse(SHOP).unwrap(), ActionKind::Cancel));
    assert!(!router.can(Mall::Rakuten, &ShopId::parse(SHOP).unwrap(), ActionKind::Hold));
}

#[tokio::test]
async fn a_hold_sets_the_shops_sub_status_and_writes_a_memo_line_naming_the_duplicate() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();

    // 山田's order is at 300 発送待ち: mallguard保留 is 3424 there.
    let done = feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();

    assert_eq!(done.reference.as_deref(), Some("subStatusId 3424"));
    // getOrder, getSubStatusList, updateOrderSubStatus, updateOrderMemo: one each, no cancel.
    assert_eq!(counts(&fake), [1, 1, 1, 1, 0]);
    assert_eq!(
        fake.sub_status_writes(),
        [SubStatusWrite {
            sub_status_id: Some(3424),
            order_numbers: vec![YAMADA.to_owned()],
        }]
    );
    let memos = fake.memo_writes();
    assert_eq!(memos.len(), 1);
    assert_eq!(memos[0].order_number, YAMADA);
    let memo = memos[0].memo.as_deref().unwrap();
    assert!(memo.starts_with(&hold_marker(YAMADA)), "{memo}");
    assert!(
        memo.contains(ORIGINAL),
        "the memo names the order it duplicates: {memo}"
    );
    // RMS now has the order marked, and says so on getOrder.
    let state = fake.write_state(YAMADA);
    assert_eq!(state.sub_status_id, Some(3424));
    assert_eq!(state.sub_status_name.as_deref(), Some(HOLD_SUB_STATUS));
    assert_eq!(state.memo.as_deref(), Some(memo));
    assert_eq!(state.order_progress, 300);
    // The order's bytes, changed by the writes, still read as the same open order.
    let page = feed
        .changed_since(None, NOW.parse().unwrap(), SignedDuration::from_hours(24))
        .await
        .unwrap();
    let yamada = page
        .orders
        .iter()
        .find_map(|o| match o {
            FeedOrder::Order { order, .. } if order.order_ref.order_id.as_str() == YAMADA => Some(order),
            _ => None,
        })
        .expect("山田's order readable");
    assert_eq!(yamada.status, OrderStatus::Open);
}

#[tokio::test]
async fn a_hold_done_again_writes_nothing() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    let hold = action(ActionKind::Hold, SATO);
    let first = feed.perform(&hold).await.unwrap();
    assert_eq!(
        first.reference.as_deref(),
        Some("subStatusId 3423"),
        "佐藤's order is at 100"
    );
    assert_eq!(counts(&fake), [1, 1, 1, 1, 0]);

    // A retry after a lost answer: the order already carries the sub-status and the line.
    let again = feed.perform(&hold).await.unwrap();

    assert_eq!(again.reference.as_deref(), Some("subStatusId 3423"));
    assert_eq!(counts(&fake), [2, 1, 1, 1, 0], "one getOrder, nothing written");
    // A retry after only the sub-status was written: the memo line is added, the sub-status left alone.
    fake.set_memo(SATO, None);
    feed.perform(&hold).await.unwrap();
    assert_eq!(counts(&fake), [3, 1, 1, 2, 0]);
    let memo = fake.write_state(SATO).memo.unwrap();
    assert_eq!(memo.matches(&hold_marker(SATO)).count(), 1, "{memo}");
}

#[tokio::test]
async fn a_hold_keeps_the_shops_memo_and_names_the_sub_status_it_replaces() {
    let fake = FakeRms::start().await;
    fake.set_memo(YAMADA, Some("ギフト包装済み。\n\"同梱\"の確認待ち"));
    fake.set_sub_status(YAMADA, Some(3426));
    assert_eq!(fake.write_state(YAMADA).sub_status_name.as_deref(), Some("同梱待ち"));
    let feed = fake.acting_feed();

    feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();

    let state = fake.write_state(YAMADA);
    assert_eq!(state.sub_status_id, Some(3424));
    let memo = state.memo.unwrap();
    let (line, rest) = memo.split_once('\n').unwrap();
    assert!(line.starts_with(&hold_marker(YAMADA)), "{line}");
    assert!(
        line.contains("同梱待ち"),
        "the line names the sub-status it replaced: {line}"
    );
    assert_eq!(
        rest, "ギフト包装済み。\n\"同梱\"の確認待ち",
        "the shop's memo is kept whole"
    );
}

#[tokio::test]
async fn a_memo_too_full_for_the_line_is_left_as_it_is() {
    let fake = FakeRms::start().await;
    let full = "メ".repeat(990);
    fake.set_memo(YAMADA, Some(&full));
    let feed = fake.acting_feed();

    let done = feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();

    assert!(done.reference.unwrap().contains("memo is too full"));
    assert_eq!(counts(&fake), [1, 1, 1, 0, 0], "the sub-status alone marks the order");
    assert_eq!(fake.write_state(YAMADA).memo.as_deref(), Some(full.as_str()));
    assert_eq!(fake.write_state(YAMADA).sub_status_id, Some(3424));
}

#[tokio::test]
async fn a_hold_is_refused_where_the_shop_has_no_sub_status_or_the_order_left() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    // At 200 楽天処理中 the shop defined no mallguard保留: one getSubStatusList (just asked, not asked
    // again), no write.
    fake.set_progress(SATO, 200);
    let reason = refused(feed.perform(&action(ActionKind::Hold, SATO)).await);
    assert!(
        reason.contains("mallguard保留") && reason.contains("200 楽天処理中"),
        "{reason}"
    );
    assert_eq!(counts(&fake), [1, 1, 0, 0, 0]);
    // Shipped, or cancelled: refused on getOrder alone.
    fake.set_progress(YAMADA, 500);
    let reason = refused(feed.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(reason.contains("already shipped") && reason.contains("500"), "{reason}");
    fake.set_progress(YAMADA, 900);
    let reason = refused(feed.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(reason.contains("cancelled") && reason.contains("900"), "{reason}");
    assert_eq!(counts(&fake), [3, 1, 0, 0, 0]);
}

#[tokio::test]
async fn a_sub_status_rms_refuses_is_asked_for_again_on_the_next_try() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    feed.perform(&action(ActionKind::Hold, SATO)).await.unwrap();
    // The shop recreated its sub-status at 300 (a new id): the list the feed keeps is stale.
    let list = String::from_utf8(support::GET_SUB_STATUS_LIST.to_vec())
        .unwrap()
        .replace("3424", "5424");
    fake.set_sub_status_list(list.as_bytes());

    let reason = refused(feed.perform(&action(ActionKind::Hold, YAMADA)).await);

    assert!(
        reason.contains("ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_102"),
        "{reason}"
    );
    assert_eq!(fake.write_state(YAMADA).sub_status_id, None);
    let lists = fake.requests(Endpoint::GetSubStatusList);
    let done = feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();
    assert_eq!(done.reference.as_deref(), Some("subStatusId 5424"));
    assert_eq!(fake.requests(Endpoint::GetSubStatusList), lists + 1);
}

#[tokio::test]
async fn a_release_clears_the_sub_status_and_notes_it_in_the_memo() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();
    let before = counts(&fake);

    let done = feed.perform(&action(ActionKind::Release, YAMADA)).await.unwrap();

    assert_eq!(done.reference.as_deref(), Some("subStatusId cleared"));
    // getOrder (whose subStatusName says it is mallguard's: no list), the clearing, the memo.
    assert_eq!(
        counts(&fake),
        [before[0] + 1, before[1], before[2] + 1, before[3] + 1, 0]
    );
    assert_eq!(
        fake.sub_status_writes().last().unwrap(),
        &SubStatusWrite {
            sub_status_id: None,
            order_numbers: vec![YAMADA.to_owned()],
        }
    );
    let state = fake.write_state(YAMADA);
    assert_eq!((state.sub_status_id, state.sub_status_name), (None, None));
    let memo = state.memo.unwrap();
    assert!(memo.starts_with(&release_marker(YAMADA)), "{memo}");
    assert!(memo.contains(&hold_marker(YAMADA)), "the hold line stays below: {memo}");

    // Released again: nothing left to clear or note.
    let before = counts(&fake);
    let again = feed.perform(&action(ActionKind::Release, YAMADA)).await.unwrap();
    assert_eq!(again.reference.as_deref(), Some("no mallguard sub-status to clear"));
    assert_eq!(counts(&fake), [before[0] + 1, before[1], before[2], before[3], 0]);
}

#[tokio::test]
async fn a_release_leaves_a_sub_status_that_is_not_mallguards() {
    let fake = FakeRms::start().await;
    fake.set_sub_status(YAMADA, Some(3426));
    let feed = fake.acting_feed();

    let done = feed.perform(&action(ActionKind::Release, YAMADA)).await.unwrap();

    assert_eq!(done.reference.as_deref(), Some("no mallguard sub-status to clear"));
    assert_eq!(counts(&fake), [1, 0, 0, 0, 0]);
    assert_eq!(fake.write_state(YAMADA).sub_status_id, Some(3426));
    // A cancelled order ships no more: nothing to release.
    fake.set_progress(SATO, 900);
    let done = feed.perform(&action(ActionKind::Release, SATO)).await.unwrap();
    assert!(done.reference.unwrap().contains("900"));
    assert_eq!(counts(&fake), [2, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_cancel_of_an_unshipped_order_applies_for_its_cancellation_once() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    assert_eq!(fake.write_state(SATO).order_progress, 100);

    // cancelOrder only applies for it: taken, not done, until Rakuten confirms it.
    let taken = feed.perform(&action(ActionKind::Cancel, SATO)).await;
    let Err(ActionError::Accepted {
        reference, check_after, ..
    }) = taken
    else {
        panic!("{taken:?}")
    };
    assert_eq!(reference.as_deref(), Some("ORDER_EXT_API_CANCEL_ORDER_INFO_101"));
    assert_eq!(check_after, SignedDuration::from_mins(5));
    assert_eq!(counts(&fake), [1, 0, 0, 0, 1]);
    assert_eq!(
        fake.cancels(),
        [CancelSeen {
            order_number: SATO.to_owned(),
            inventory_restore_type: 1,
            change_reason_detail_apply: 1,
        }]
    );
    assert_eq!(fake.write_state(SATO).order_progress, 800, "キャンセル確定待ち");

    // The next look (or a retry after a lost answer) finds the application (800): still only taken. Once
    // Rakuten confirms it (900), the cancellation is done, without a second cancelOrder.
    let again = feed.perform(&action(ActionKind::Cancel, SATO)).await;
    assert!(
        matches!(&again, Err(ActionError::Accepted { message, .. }) if message.contains("800")),
        "{again:?}"
    );
    fake.cancel(SATO);
    let done = feed.perform(&action(ActionKind::Cancel, SATO)).await.unwrap();
    assert!(done.reference.unwrap().contains("900"));
    assert_eq!(counts(&fake), [3, 0, 0, 0, 1]);
}

#[tokio::test]
async fn a_cancel_of_a_shipped_order_is_answered_as_shipped_without_asking_rms() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    fake.set_progress(YAMADA, 500);

    let Err(ActionError::Shipped(reason)) = feed.perform(&action(ActionKind::Cancel, YAMADA)).await else {
        panic!("not shipped")
    };

    assert!(
        reason.contains("orderProgress 500"),
        "the reason names the progress: {reason}"
    );
    assert_eq!(counts(&fake), [1, 0, 0, 0, 0], "no cancelOrder");
    // 400 変更確定待ち is not shipped, but cancelOrder does not take it either.
    fake.set_progress(YAMADA, 400);
    let reason = refused(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert!(reason.contains("orderProgress 400"), "{reason}");
    assert_eq!(fake.requests(Endpoint::CancelOrder), 0);
}

#[tokio::test]
async fn a_cancel_of_a_cancelled_order_is_done_without_cancel_order() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    fake.cancel_yamada();

    let done = feed.perform(&action(ActionKind::Cancel, YAMADA)).await.unwrap();

    assert!(done.reference.unwrap().contains("900 キャンセル確定"));
    assert_eq!(counts(&fake), [1, 0, 0, 0, 0]);
}

#[tokio::test]
async fn rms_unavailable_or_throttling_is_tried_again_later_with_its_wait() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    fake.answer_once(
        Endpoint::GetOrder,
        Answer::Status {
            status: 503,
            body: b"<html>maintenance</html>".to_vec(),
            retry_after: Some("120".into()),
        },
    );
    let (message, wait) = later(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert!(message.contains("503"), "{message}");
    assert_eq!(wait, Some(SignedDuration::from_secs(120)));
    assert_eq!(fake.requests(Endpoint::CancelOrder), 0);

    // A 503 on the write itself: nothing happened, the order is as it was.
    fake.answer_once(Endpoint::CancelOrder, Answer::status(503, b""));
    let (_, wait) = later(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert_eq!(wait, None);
    assert_eq!(fake.write_state(YAMADA).order_progress, 300);

    fake.answer_once(Endpoint::UpdateOrderSubStatus, Answer::throttled(Some("30")));
    let (message, wait) = later(feed.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(
        message.contains("updateOrderSubStatus") && message.contains("throttled"),
        "{message}"
    );
    assert_eq!(wait, Some(SignedDuration::from_secs(30)));
    // No answer at all is tried again too.
    fake.answer_once(Endpoint::GetSubStatusList, Answer::Hang);
    let short = fake.feed_with(
        FakeRms::credentials(),
        mallguard_feeds::rakuten::RakutenOptions {
            timeouts: mallguard_feeds::Timeouts {
                connect: std::time::Duration::from_secs(1),
                total: std::time::Duration::from_millis(300),
            },
            ..fake.options_with_hold()
        },
    );
    let (message, _) = later(short.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(message.contains("getSubStatusList"), "{message}");

    // Once RMS is back, the same actions are done.
    feed.perform(&action(ActionKind::Hold, YAMADA)).await.unwrap();
    taken(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert_eq!(fake.write_state(YAMADA).order_progress, 800);
}

#[tokio::test]
async fn an_expired_license_key_is_refused_for_a_person_to_renew() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    fake.expire_key();

    for kind in [ActionKind::Hold, ActionKind::Release, ActionKind::Cancel] {
        let reason = refused(feed.perform(&action(kind, YAMADA)).await);
        assert!(reason.contains("renew the licenseKey"), "{kind}: {reason}");
        assert!(!reason.contains(support::LICENSE_KEY) && !reason.contains(support::SERVICE_SECRET));
    }
    assert_eq!(counts(&fake), [3, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_refusal_for_the_order_is_refused_with_rmss_code_and_a_warning_is_taken() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    let refusal = format!(
        r#"{{"MessageModelList":[{{"messageType":"ERROR","messageCode":"ORDER_EXT_API_CANCEL_ORDER_ERROR_105","message":"キャンセル期限を過ぎています。","orderNumber":"{YAMADA}"}}]}}"#
    );
    fake.answer_once(Endpoint::CancelOrder, Answer::status(400, refusal.as_bytes()));
    let reason = refused(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert_eq!(
        reason,
        "cancelOrder: Rakuten refused it for this order: ORDER_EXT_API_CANCEL_ORDER_ERROR_105: キャンセル期限を過ぎています。"
    );

    let warning = format!(
        r#"{{"MessageModelList":[{{"messageType":"WARNING","messageCode":"ORDER_EXT_API_CANCEL_ORDER_WARNING_101","message":"(fake)","orderNumber":"{YAMADA}"}}]}}"#
    );
    fake.answer_once(Endpoint::CancelOrder, Answer::status(200, warning.as_bytes()));
    assert_eq!(
        taken(feed.perform(&action(ActionKind::Cancel, YAMADA)).await).as_deref(),
        Some("ORDER_EXT_API_CANCEL_ORDER_WARNING_101")
    );

    // An answer about another order only: what became of this one is not known, so it is read again.
    let elsewhere = format!(
        r#"{{"MessageModelList":[{{"messageType":"INFO","messageCode":"ORDER_EXT_API_UPDATE_ORDERMEMO_INFO_101","message":"","orderNumber":"{SATO}"}}]}}"#
    );
    fake.answer_once(Endpoint::UpdateOrderMemo, Answer::status(200, elsewhere.as_bytes()));
    let (message, _) = later(feed.perform(&action(ActionKind::Hold, YAMADA)).await);
    assert!(message.contains("updateOrderMemo"), "{message}");
    // The whole request refused (a field missing): refused, with RMS's words.
    fake.answer_once(
        Endpoint::UpdateOrderSubStatus,
        Answer::status(400, support::UPDATE_ORDER_SUB_STATUS_INVALID),
    );
    let reason = refused(feed.perform(&action(ActionKind::Hold, SATO)).await);
    assert!(
        reason.contains("ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_009"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_order_getorder_does_not_find_yet_is_tried_again_later() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    fake.lag(YAMADA);
    let (message, _) = later(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
    assert!(message.contains("does not find the order"), "{message}");
    fake.catch_up();
    taken(feed.perform(&action(ActionKind::Cancel, YAMADA)).await);
}

#[tokio::test]
async fn an_action_on_another_shops_order_is_refused_without_a_call() {
    let fake = FakeRms::start().await;
    let feed = fake.acting_feed();
    let elsewhere = OrderRef::new(
        Mall::Rakuten,
        ShopId::parse("another-shop").unwrap(),
        OrderId::parse(YAMADA).unwrap(),
    );
    let mut cancel = action(ActionKind::Cancel, YAMADA);
    cancel.order = elsewhere;
    let reason = refused(feed.perform(&cancel).await);
    assert!(reason.contains("another-shop"), "{reason}");
    assert_eq!(counts(&fake), [0; 5]);
}

#[tokio::test]
async fn a_cancel_at_the_deadline_gives_rms_the_reason_6_other_at_the_buyers_side() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let mut cancel = action(ActionKind::Cancel, SATO);
    cancel.by = ActionBy::Deadline;
    let _ = feed.perform(&cancel).await;
    assert_eq!(
        fake.cancels(),
        [CancelSeen {
            order_number: SATO.to_owned(),
            inventory_restore_type: 1,
            change_reason_detail_apply: 6,
        }]
    );
}
