//! TTL: personal data expires after the retention period, and since DynamoDB deletes
//! expired items up to two days late, reads must not return them meanwhile.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use mallguard_aws::dynamodb::{DEFAULT_RETENTION, DELIVERY_RETENTION, DynamoDbStore};
use mallguard_domain::feed::PollCursor;
use mallguard_domain::history::{Event, HistoryEntry};
use mallguard_domain::hold::Hold;
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::notice::{Mail, Notice, NoticeId, NoticeKind};
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::roles::*;
use mallguard_domain::ports::{Clock, CommitError, Expect, Head, Quarantined, StoredOrder, SystemClock, WriteBatch};
use mallguard_domain::service::index_entries;
use mallguard_domain::testing::{ManualClock, hold_for, order_at, settings};

use crate::support::{Table, customer_order};

fn stored(id: &str) -> StoredOrder {
    let mut order = customer_order(7, id, "2026-11-23T03:00:00Z");
    // Known to its buyer by a number of its own, so its number item expires with it too.
    order.number = Some(format!("#{id}-number"));
    StoredOrder {
        identity: settings().hasher.order_identity(&order),
        products: settings().products.products_of(&order),
        raw: "{\"buyer\":\"山田\"}".as_bytes().to_vec(),
        received_at: "2026-11-23T03:00:01Z".parse().unwrap(),
        version: 1,
        hold: None,
        duplicates: vec![],
        order,
    }
}

/// One of every item with a TTL, plus a history entry and a poll cursor (neither has one).
struct Everything {
    order: StoredOrder,
    keys: Vec<IdentityKey>,
    hold: Hold,
    notice: Notice,
    history: HistoryEntry,
    cursor: PollCursor,
    action: mallguard_domain::action::MallAction,
    page: mallguard_domain::history::KeptPage,
    batch: WriteBatch,
}

/// Every item of [`Everything`] for the order `id` of customer 7, its hold and notice long due.
fn everything(id: &str) -> Everything {
    let order = stored(id);
    let keys = order.identity.keys.clone();
    let mut hold = hold_for(
        &order.order,
        &order_at(&format!("{id}-original"), "2026-11-23T02:00:00Z"),
    );
    hold.deadline = "2001-01-01T00:00:00Z".parse().unwrap();
    hold.remind_at = None;
    let mut notice = Notice::new(
        NoticeId::from_stored(format!("{id}-notice")),
        NoticeKind::Notice,
        Some(hold.id.clone()),
        Mail {
            to: EmailAddress::parse("customer7@example.com").unwrap(),
            subject: "ご注文の確認".into(),
            text: "山田様".into(),
            html: None,
            tags: vec![],
        },
        "2001-01-01T00:00:00Z".parse().unwrap(),
    );
    notice.next_attempt_at = "2001-01-01T00:00:00Z".parse().unwrap();
    let history = HistoryEntry::new(
        &order.order.order_ref,
        SystemClock.now(),
        Event::PageOpened {
            hold: hold.id.clone(),
            page: None,
        },
    );
    let cursor = PollCursor {
        mall: Mall::Rakuten,
        shop: ShopId::parse(id).unwrap(),
        position: "2026-11-23T12:00:00+09:00".into(),
        version: 1,
        updated_at: "2026-11-23T03:00:00Z".parse().unwrap(),
    };
    let mut action = mallguard_domain::action::MallAction::new(
        mallguard_domain::action::ActionKind::Hold,
        &hold.id,
        &hold.order,
        &hold.original,
        "2025-12-31T00:00:00Z".parse().unwrap(),
    );
    action.next_attempt_at = "2025-12-31T00:00:00Z".parse().unwrap();
    // The buyer's page as served: kept as long as the mail's text is.
    let html = "<p>山田様のご注文</p>".to_owned();
    let page = mallguard_domain::history::KeptPage {
        hold: hold.id.clone(),
        order: order.order.order_ref.clone(),
        shown_at: "2026-11-23T04:00:00Z".parse().unwrap(),
        shown: mallguard_domain::history::PageShown {
            digest: mallguard_domain::service::sha256_hex(html.as_bytes()),
            template: "0123456789abcdef".into(),
            lang: mallguard_domain::Language::Ja,
        },
        html,
    };
    let batch = WriteBatch {
        heads: keys
            .iter()
            .map(|k| Head {
                key: k.clone(),
                version: 0,
            })
            .collect(),
        orders: vec![(order.clone(), Expect::Absent)],
        index: index_entries(&order),
        holds: vec![(hold.clone(), Expect::Absent)],
        notices: vec![(notice.clone(), Expect::Absent)],
        history: vec![history.clone()],
        quarantine: vec![(
            Quarantined {
                id: format!("{id}q"),
                source: "shopify".into(),
                received_at: SystemClock.now(),
                error: "unknown field".into(),
                raw: b"{\"email\":\"customer7@example.com\"}".to_vec(),
                meta: Default::default(),
                replayed_at: None,
            },
            Expect::Absent,
        )],
        deliveries: vec![mallguard_domain::ports::WebhookDelivery {
            id: format!("{id}-delivery"),
            digest: mallguard_domain::order::PayloadDigest::of(id.as_bytes()),
        }],
        cursors: vec![(cursor.clone(), Expect::Absent)],
        actions: vec![(action.clone(), Expect::Absent)],
        pages: vec![page.clone()],
        ..WriteBatch::default()
    };
    Everything {
        order,
        keys,
        hold,
        notice,
        history,
        cursor,
        action,
        page,
        batch,
    }
}

/// The window of the ingest snapshots below: around the orders' placed_at.
fn window() -> (Timestamp, Timestamp) {
    (
        "2026-11-22T00:00:00Z".parse().unwrap(),
        "2026-11-24T00:00:00Z".parse().unwrap(),
    )
}

/// The number the buyer of [`stored`]`(id)` knows it by, as staff type it.
fn number_of(order: &mallguard_domain::ids::OrderRef) -> mallguard_domain::ids::OrderId {
    mallguard_domain::ids::OrderId::parse(&format!("{}-number", order.order_id)).unwrap()
}

/// Whether `store` reads every item of `it` (`true`) or none of them (`false`); history and the poll
/// cursor are always read.
async fn reads_everything(store: &DynamoDbStore, it: &Everything) -> bool {
    let ref_ = &it.order.order.order_ref;
    let (from, to) = window();
    let snapshot = store.ingest_snapshot(ref_, &it.keys, from, to).await.unwrap();
    let due: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let found = [
        !snapshot.entries.is_empty(),
        store.order(ref_).await.unwrap().is_some(),
        !store
            .orders_with_id(Mall::Own, &ref_.order_id)
            .await
            .unwrap()
            .is_empty(),
        !store
            .orders_with_id(Mall::Own, &number_of(ref_))
            .await
            .unwrap()
            .is_empty(),
        store.hold(&it.hold.id).await.unwrap().is_some(),
        !store.holds(false).await.unwrap().is_empty(),
        !store.due_holds(due, 10).await.unwrap().is_empty(),
        store.notice(&it.notice.id).await.unwrap().is_some(),
        !store.pending_notices(due, 10).await.unwrap().is_empty(),
        store.action(&it.action.id).await.unwrap().is_some(),
        !store.pending_actions(due, 10).await.unwrap().is_empty(),
        !store.quarantined().await.unwrap().is_empty(),
        store.page_kept(&it.hold.id, &it.page.shown.digest).await.unwrap(),
        !store.pages(&it.hold.id).await.unwrap().is_empty(),
    ];
    assert!(
        found.iter().all(|&f| f) || found.iter().all(|&f| !f),
        "either every item is live or none is: {found:?}"
    );
    assert_eq!(
        store.history(ref_).await.unwrap(),
        vec![it.history.clone()],
        "history has no TTL"
    );
    assert_eq!(
        store.cursor(it.cursor.mall, &it.cursor.shop).await.unwrap().as_ref(),
        Some(&it.cursor),
        "a poll cursor has no TTL"
    );
    found[0]
}

#[tokio::test]
async fn items_past_their_expiry_are_not_returned_by_any_read() {
    let table = Table::new().await;
    // A store whose retention is negative writes every item already expired, as TTL would find it a
    // day after its retention ended, before DynamoDB got round to deleting it.
    let expired = table.store_with_retention(SignedDuration::from_hours(-24));
    let live = &table.store;

    let Everything {
        order,
        keys,
        hold,
        notice,
        history,
        cursor,
        action: _,
        page,
        batch,
    } = everything("ttl-1");
    expired.commit(batch).await.expect("writing expired items");

    let ref_ = &order.order.order_ref.clone();
    let window = window();
    let snapshot = live.ingest_snapshot(ref_, &keys, window.0, window.1).await.unwrap();
    assert!(snapshot.entries.is_empty(), "expired index entries must not match");
    assert_eq!(snapshot.existing, None, "an expired order must not be found");
    assert!(
        snapshot.heads.iter().all(|h| h.version == 1),
        "heads are read as stored even past their expiry, or every later decision would conflict: {:?}",
        snapshot.heads
    );
    assert_eq!(live.order(ref_).await.unwrap(), None, "order");
    assert!(
        live.orders_with_id(Mall::Own, &ref_.order_id).await.unwrap().is_empty(),
        "orders_with_id"
    );
    assert!(
        live.orders_with_id(Mall::Own, &number_of(ref_))
            .await
            .unwrap()
            .is_empty(),
        "orders_with_id by the number the buyer knows"
    );
    assert_eq!(live.hold(&hold.id).await.unwrap(), None, "hold");
    assert!(live.holds(false).await.unwrap().is_empty(), "holds");
    assert!(
        live.due_holds(SystemClock.now(), 10).await.unwrap().is_empty(),
        "due_holds"
    );
    assert_eq!(live.notice(&notice.id).await.unwrap(), None, "notice");
    assert!(
        live.pending_notices(SystemClock.now(), 10).await.unwrap().is_empty(),
        "pending_notices"
    );
    assert!(live.quarantined().await.unwrap().is_empty(), "quarantined");
    assert!(
        !live.page_kept(&hold.id, &page.shown.digest).await.unwrap(),
        "page_kept"
    );
    assert!(live.pages(&hold.id).await.unwrap().is_empty(), "pages");
    assert!(
        live.delivery_digest("ttl-1-delivery").await.unwrap().is_none(),
        "delivery"
    );
    // The evidence keeps no personal data and has no TTL.
    assert_eq!(live.history(ref_).await.unwrap(), vec![history]);
    // Nor has a poll cursor: one gone would send its poller back to its first look-back.
    assert_eq!(live.cursor(cursor.mall, &cursor.shop).await.unwrap(), Some(cursor));

    // An expired item counts as absent: the order can be recorded again (a mall re-sending it after the
    // retention period), and then reads find the new one.
    let heads = snapshot.heads;
    let batch = WriteBatch {
        heads,
        orders: vec![(order.clone(), Expect::Absent)],
        index: index_entries(&order),
        holds: vec![(hold.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    live.commit(batch).await.expect("an expired order counts as absent");
    assert_eq!(live.order(ref_).await.unwrap(), Some(order));
    assert_eq!(live.hold(&hold.id).await.unwrap(), Some(hold));
    let snapshot = live.ingest_snapshot(ref_, &keys, window.0, window.1).await.unwrap();
    assert_eq!(snapshot.entries.len(), keys.len());
    assert!(snapshot.existing.is_some());
}

/// A clock standing `by` away from now.
fn clock_at(by: SignedDuration) -> Arc<ManualClock> {
    let clock = Arc::new(ManualClock::at("2026-01-01T00:00:00Z"));
    clock.set(SystemClock.now().checked_add(by).unwrap());
    clock
}

/// The store's clock, not the machine's, says what has expired: every read, and `Expect::Absent`,
/// judge items by it.
#[tokio::test]
async fn reads_and_absent_conditions_judge_expiry_by_the_stores_clock() {
    let table = Table::new().await;
    let it = everything("clock-1");
    table
        .store
        .commit(it.batch.clone())
        .await
        .expect("writing the items now");
    let ref_ = &it.order.order.order_ref;

    // A day short of the retention every item is live; a day past it none is, though DynamoDB Local
    // (like DynamoDB for up to two days) still holds them.
    let almost = table
        .store
        .clone()
        .with_clock(clock_at(DEFAULT_RETENTION - SignedDuration::from_hours(24)));
    let past = table
        .store
        .clone()
        .with_clock(clock_at(DEFAULT_RETENTION + SignedDuration::from_hours(24)));
    assert!(reads_everything(&table.store, &it).await, "now");
    assert!(reads_everything(&almost, &it).await, "a day short of the retention");
    assert!(!reads_everything(&past, &it).await, "a day past the retention");

    // Delivery ids are remembered for a week, by the store's clock too.
    let delivery = "clock-1-delivery";
    assert!(table.store.delivery_digest(delivery).await.unwrap().is_some());
    let week_later = table
        .store
        .clone()
        .with_clock(clock_at(DELIVERY_RETENTION + SignedDuration::from_hours(1)));
    assert!(
        week_later.delivery_digest(delivery).await.unwrap().is_none(),
        "a delivery id is forgotten after a week"
    );
    assert!(
        week_later.order(ref_).await.unwrap().is_some(),
        "while the order is kept"
    );

    // By the clock past the retention, the expired copies count as absent: the order can be recorded
    // again. By the real clock they are still there, and the same write conflicts.
    let (from, to) = window();
    let heads = past.ingest_snapshot(ref_, &it.keys, from, to).await.unwrap().heads;
    let again = |heads: Vec<Head>| WriteBatch {
        heads,
        orders: vec![(it.order.clone(), Expect::Absent)],
        holds: vec![(it.hold.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    assert!(matches!(
        table.store.commit(again(heads.clone())).await,
        Err(CommitError::Conflict)
    ));
    past.commit(again(heads)).await.expect("expired items count as absent");
    // That store wrote them with its own clock's expiry: live for it, and for the real clock.
    assert!(past.order(ref_).await.unwrap().is_some());
    assert!(table.store.order(ref_).await.unwrap().is_some());
}

/// Items expire a retention after the time of the writing store's clock, not the machine's.
#[tokio::test]
async fn items_expire_a_retention_after_the_writing_stores_clock() {
    let table = Table::new().await;
    // A store whose clock stands a day more than the retention in the past writes items the real
    // clock already finds expired; a store whose clock is behind by a day less does not.
    let long_ago = table
        .store
        .clone()
        .with_clock(clock_at(-(DEFAULT_RETENTION + SignedDuration::from_hours(24))));
    let old = everything("clock-old");
    long_ago.commit(old.batch.clone()).await.unwrap();
    assert!(
        reads_everything(&long_ago, &old).await,
        "live by the clock that wrote them"
    );
    assert!(!reads_everything(&table.store, &old).await, "expired by the real clock");
    assert!(
        table
            .store
            .delivery_digest("clock-old-delivery")
            .await
            .unwrap()
            .is_none()
    );

    let table = Table::new().await;
    let recently = table
        .store
        .clone()
        .with_clock(clock_at(-(DEFAULT_RETENTION - SignedDuration::from_hours(24))));
    let recent = everything("clock-recent");
    recently.commit(recent.batch.clone()).await.unwrap();
    assert!(reads_everything(&table.store, &recent).await, "live by the real clock");
}
