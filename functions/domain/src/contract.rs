//! The contract every [`Store`] keeps, as a suite any implementation runs against itself: the embedded
//! SQLite store, DynamoDB Local and the in-memory reference all pass the same checks, so the local stack
//! behaves as the deployed one does.
//!
//! It talks to the store only through the `Store` trait. Each check writes items of its own (its own
//! order ids and its own identity-hash pepper, so its own identity keys) and puts its sweep-time items in
//! a year no other check uses, so all checks can run one after another on the same store. They expect a
//! fresh, empty store: they create items with `Expect::Absent`.
//!
//! ```text
//! #[tokio::test]
//! async fn my_store_keeps_the_contract() {
//!     mallguard_domain::contract::run_all(&MyStore::new()).await;
//! }
//! ```

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::action::{ActionKind, ActionState, MallAction};
use crate::feed::PollCursor;
use crate::history::{Event, HistoryEntry};
use crate::hold::{Decision, Hold, HoldState, Resolver};
use crate::identity::{IdentityHasher, IdentityKey, ProductMap};
use crate::ids::{HoldId, Mall, OrderRef, ShopId};
use crate::matching::IndexEntry;
use crate::notice::{Mail, Notice, NoticeId, NoticeKind};
use crate::order::{EmailAddress, OrderStatus, PayloadDigest};
use crate::ports::{CommitError, Expect, Head, Quarantined, Store, StoredOrder, WebhookDelivery, WriteBatch};
use crate::service::index_entries;
use crate::testing::{hold_for, line, order, order_at};

/// Runs every check of the contract, in turn, on one fresh store. Panics with a message naming the
/// broken rule. Test suites use [`store_contract!`](crate::store_contract) instead, which makes each check
/// a test of its own so that one failure hides no other.
pub async fn run_all(store: &dyn Store) {
    every_item_round_trips(store).await;
    absent_on_an_existing_item_conflicts_and_writes_nothing(store).await;
    a_stale_head_version_conflicts(store).await;
    a_version_mismatch_conflicts_and_any_overwrites(store).await;
    the_snapshot_reads_only_the_window_and_the_keys_asked_for(store).await;
    a_snapshot_of_many_keys_reads_each_of_them(store).await;
    due_holds_are_held_ones_at_or_before_now_soonest_first(store).await;
    pending_notices_are_due_ones_oldest_first(store).await;
    history_comes_back_in_insertion_order(store).await;
    holds_are_listed_newest_first_and_open_only_on_request(store).await;
    deliveries_are_remembered_and_a_repeat_is_no_conflict(store).await;
    orders_are_found_by_their_mall_order_id_in_any_shop(store).await;
    orders_are_found_by_the_number_their_buyer_knows(store).await;
    cursors_move_only_from_the_version_read(store).await;
    pending_actions_are_due_ones_oldest_first(store).await;
    blacklist_marks_come_with_the_snapshot_and_go_with_the_entry(store).await;
    a_sign_in_link_is_used_once(store).await;
    shop_settings_are_saved_under_their_version_and_listed_in_one_read(store).await;
    pages_are_kept_once_per_hold_and_digest_word_for_word(store).await;
    a_batch_written_behind_is_read_after_the_call_and_written_before_later_commits(store).await;
}

/// A store, or a store with what must live as long as it (a temporary folder): `(store, guard)`.
pub trait AsStore {
    fn as_store(&self) -> &dyn Store;
}

impl<T: Store> AsStore for T {
    fn as_store(&self) -> &dyn Store {
        self
    }
}

impl<T: Store, G> AsStore for (T, G) {
    fn as_store(&self) -> &dyn Store {
        &self.0
    }
}

/// One `#[tokio::test]` per contract check, each on a store of its own made by `$setup` (an expression
/// that may `.await`): `mallguard_domain::store_contract!(store => SqliteStore::in_memory().unwrap());`
#[macro_export]
macro_rules! store_contract {
    ($store:ident => $setup:expr) => {
        $crate::store_contract!(@each $store, $setup;
            every_item_round_trips,
            absent_on_an_existing_item_conflicts_and_writes_nothing,
            a_stale_head_version_conflicts,
            a_version_mismatch_conflicts_and_any_overwrites,
            the_snapshot_reads_only_the_window_and_the_keys_asked_for,
            a_snapshot_of_many_keys_reads_each_of_them,
            due_holds_are_held_ones_at_or_before_now_soonest_first,
            pending_notices_are_due_ones_oldest_first,
            history_comes_back_in_insertion_order,
            holds_are_listed_newest_first_and_open_only_on_request,
            deliveries_are_remembered_and_a_repeat_is_no_conflict,
            orders_are_found_by_their_mall_order_id_in_any_shop,
            orders_are_found_by_the_number_their_buyer_knows,
            cursors_move_only_from_the_version_read,
            pending_actions_are_due_ones_oldest_first,
            blacklist_marks_come_with_the_snapshot_and_go_with_the_entry,
            a_sign_in_link_is_used_once,
            shop_settings_are_saved_under_their_version_and_listed_in_one_read,
            pages_are_kept_once_per_hold_and_digest_word_for_word,
            a_batch_written_behind_is_read_after_the_call_and_written_before_later_commits
        );
    };
    (@each $store:ident, $setup:expr; $($check:ident),*) => {
        $(
            #[tokio::test]
            async fn $check() {
                let $store = $setup;
                $crate::contract::$check($crate::contract::AsStore::as_store(&$store)).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------------
// Builders

fn ts(at: &str) -> Timestamp {
    at.parse().unwrap_or_else(|e| panic!("bad test time {at:?}: {e}"))
}

/// A payload with every byte value, Japanese text and enough bulk to be worth compressing.
fn raw_payload(id: &str) -> Vec<u8> {
    let mut raw = format!("{{\"id\":\"{id}\",\"note\":\"山田 太郎様 ご注文ありがとうございます\"}}").into_bytes();
    raw.extend((0..=255u8).cycle().take(70_000));
    raw
}

/// An order as a store keeps it, with its identity keys hashed with `pepper`: a check that uses its own
/// pepper has identity keys (and so heads and index entries) no other check touches.
fn stored_order(id: &str, placed_at: &str, pepper: &str) -> StoredOrder {
    let mut order = order_at(id, placed_at);
    order.lines = crate::order::OrderLines::parse(vec![line("SKU-A", 1), line("SKU-B", 2)]).expect("two lines");
    let identity = IdentityHasher::new(pepper.as_bytes().to_vec()).order_identity(&order);
    let products = ProductMap::default().products_of(&order);
    StoredOrder {
        order,
        identity,
        products,
        raw: raw_payload(id),
        // Nanoseconds: a store must not round times.
        received_at: ts(placed_at)
            .checked_add(SignedDuration::new(1, 123_456_789))
            .expect("in range"),
        version: 1,
        hold: None,
        duplicates: vec![],
    }
}

/// A held hold on order `id`, created at `created_at`, with the reminder and deadline given.
fn hold_at(id: &str, created_at: &str, remind_at: Option<&str>, deadline: &str) -> Hold {
    let held = order_at(id, created_at);
    let original = order_at(&format!("{id}-original"), created_at);
    let mut hold = hold_for(&held, &original);
    hold.created_at = ts(created_at);
    hold.remind_at = remind_at.map(ts);
    hold.deadline = ts(deadline);
    hold
}

fn mail(subject: &str) -> Mail {
    Mail {
        to: EmailAddress::parse("taro.yamada@example.com").expect("valid address"),
        subject: subject.to_owned(),
        text: "山田 太郎様\n\nご注文の発送前確認です。\nhttp://127.0.0.1:9000/h/confirm-token\n".to_owned(),
        html: Some("<p>山田 太郎様</p><p><a href=\"http://127.0.0.1:9000/h/confirm-token\">確認</a></p>".to_owned()),
        tags: vec![("kind".to_owned(), "notice".to_owned())],
    }
}

/// A pending notice `id`, created at `created_at` and due at `next_attempt_at`.
fn notice_at(id: &str, created_at: &str, next_attempt_at: &str) -> Notice {
    let hold = HoldId::for_order(&order(id).order_ref);
    let mut notice = Notice::new(
        NoticeId::from_stored(format!("{hold}.{id}")),
        NoticeKind::Notice,
        Some(hold),
        mail(&format!("【田中商店】ご注文の確認 {id}")),
        ts(created_at),
    );
    notice.order = Some(order(id).order_ref);
    notice.next_attempt_at = ts(next_attempt_at);
    notice
}

fn quarantined(id: &str) -> Quarantined {
    let mut raw = b"{\"unexpected\": \xff\xfe not json".to_vec();
    raw.extend((0..=255u8).cycle().take(5_000));
    Quarantined {
        id: id.to_owned(),
        source: "shopify".to_owned(),
        received_at: ts("2026-11-23T03:00:00.000000001Z"),
        error: "missing field `line_items`".to_owned(),
        raw,
        meta: BTreeMap::from([
            ("topic".to_owned(), "orders/create".to_owned()),
            ("shop_domain".to_owned(), "tanaka.myshopify.com".to_owned()),
        ]),
        replayed_at: None,
    }
}

/// The poll cursor of `shop` on `mall` at `position`, version `version`, written at `at`.
fn poll_cursor(mall: Mall, shop: &str, position: &str, version: u64, at: &str) -> PollCursor {
    PollCursor {
        mall,
        shop: ShopId::parse(shop).expect("a shop id"),
        position: position.to_owned(),
        version,
        updated_at: ts(at),
    }
}

fn received(order: &OrderRef, at: Timestamp) -> HistoryEntry {
    let event = Event::Received {
        digest: PayloadDigest::of(order.key().as_bytes()),
        status: OrderStatus::Open,
    };
    HistoryEntry::new(order, at, event)
}

// ---------------------------------------------------------------------------------------------------
// Helpers

async fn commit_ok(store: &dyn Store, batch: WriteBatch, what: &str) {
    if let Err(err) = store.commit(batch).await {
        panic!("{what}: the commit should succeed, got {err:?}");
    }
}

async fn commit_conflicts(store: &dyn Store, batch: WriteBatch, what: &str) {
    match store.commit(batch).await {
        Err(CommitError::Conflict) => {}
        other => panic!("{what}: the commit should fail with Conflict, got {other:?}"),
    }
}

async fn read_order(store: &dyn Store, order: &OrderRef) -> Option<StoredOrder> {
    store.order(order).await.expect("reading an order")
}

async fn read_hold(store: &dyn Store, id: &HoldId) -> Option<Hold> {
    store.hold(id).await.expect("reading a hold")
}

async fn read_notice(store: &dyn Store, id: &NoticeId) -> Option<Notice> {
    store.notice(id).await.expect("reading a notice")
}

/// The heads of `keys` as the store has them now.
async fn heads_of(store: &dyn Store, order: &OrderRef, keys: &[IdentityKey]) -> Vec<Head> {
    let at = ts("2026-11-23T03:00:00Z");
    store
        .ingest_snapshot(order, keys, at, at)
        .await
        .expect("reading a snapshot")
        .heads
}

/// Entries sorted by (key, order): the contract does not fix the order a snapshot returns them in.
fn sorted(mut entries: Vec<IndexEntry>) -> Vec<IndexEntry> {
    entries.sort_by(|a, b| (a.key.as_str(), a.order.key()).cmp(&(b.key.as_str(), b.order.key())));
    entries
}

fn hold_ids(holds: &[Hold]) -> Vec<String> {
    holds.iter().map(|h| h.order.order_id.to_string()).collect()
}

fn notice_ids(notices: &[Notice]) -> Vec<String> {
    notices.iter().map(|n| n.id.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------------
// Checks

/// Every kind of item reads back exactly as written: orders with their raw bytes, index entries, holds,
/// notices, history, quarantined payloads, delivery ids and poll cursors.
pub async fn every_item_round_trips(store: &dyn Store) {
    let original = stored_order("c-rt-1", "2026-11-23T03:00:00Z", "contract round trip");
    let mut held = stored_order("c-rt-2", "2026-11-23T03:05:00Z", "contract round trip");
    let hold = hold_for(&held.order, &original.order);
    held.hold = Some(hold.id.clone());
    held.version = 7;
    let mut original_with_dup = original.clone();
    original_with_dup.duplicates = vec![hold.id.clone()];
    let mut empty_raw = stored_order("c-rt-3", "2026-11-23T03:10:00Z", "contract round trip");
    empty_raw.raw = vec![];
    let mut notice = notice_at("c-rt-2", "2026-11-23T03:05:01Z", "2026-11-23T03:07:01.5Z");
    notice.last_error = Some("SES: throttled".to_owned());
    notice.attempts = 2;
    let history = vec![
        received(&held.order.order_ref, ts("2026-11-23T03:05:01.000000001Z")),
        HistoryEntry::new(
            &held.order.order_ref,
            ts("2026-11-23T03:05:01.000000002Z"),
            Event::Held {
                hold: hold.id.clone(),
                deadline: hold.deadline,
                urgent: hold.urgent,
            },
        ),
        HistoryEntry::new(
            &held.order.order_ref,
            ts("2026-11-23T03:05:01.000000002Z"),
            Event::NoticeQueued {
                notice: notice.id.clone(),
                kind: notice.kind,
                digest: Some(notice.mail.digest()),
                template: Some(crate::notice::template_version().to_owned()),
            },
        ),
    ];
    let q = quarantined("contractrt1");
    let cursor = poll_cursor(
        Mall::Rakuten,
        "contract-rt",
        "2026-11-23T12:04:59+09:00",
        1,
        "2026-11-23T03:05:01.000000007Z",
    );
    let mut action = MallAction::new(
        ActionKind::Cancel,
        &hold.id,
        &held.order.order_ref,
        &original.order.order_ref,
        ts("2026-11-23T03:05:01.000000009Z"),
    );
    action.then_notify = vec![NoticeKind::Receipt];
    let entries: Vec<IndexEntry> = index_entries(&original_with_dup)
        .into_iter()
        .chain(index_entries(&held))
        .collect();
    assert!(!entries.is_empty(), "the test order must have identity keys");

    let batch = WriteBatch {
        heads: vec![],
        orders: vec![
            (original_with_dup.clone(), Expect::Absent),
            (held.clone(), Expect::Absent),
            (empty_raw.clone(), Expect::Absent),
        ],
        index: entries.clone(),
        holds: vec![(hold.clone(), Expect::Absent)],
        notices: vec![(notice.clone(), Expect::Absent)],
        history: history.clone(),
        quarantine: vec![(q.clone(), Expect::Absent)],
        deliveries: vec![delivery("contract-rt-delivery", b"payload one")],
        cursors: vec![(cursor.clone(), Expect::Absent)],
        actions: vec![(action.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing one item of every kind").await;
    assert_eq!(
        store.action(&action.id).await.expect("reading an action"),
        Some(action.clone()),
        "a mall action (with the mails it waits for) must round-trip"
    );

    let got = read_order(store, &held.order.order_ref).await;
    assert_eq!(
        got.as_ref(),
        Some(&held),
        "an order (with its raw payload and version) must round-trip"
    );
    let got = read_order(store, &original.order.order_ref).await;
    assert_eq!(
        got.as_ref(),
        Some(&original_with_dup),
        "an order with duplicates must round-trip"
    );
    let got = read_order(store, &empty_raw.order.order_ref).await;
    assert_eq!(
        got.as_ref(),
        Some(&empty_raw),
        "an order with an empty raw payload must round-trip"
    );
    assert_eq!(
        read_order(store, &order("c-rt-missing").order_ref).await,
        None,
        "an order never written must read as None"
    );

    assert_eq!(
        read_hold(store, &hold.id).await.as_ref(),
        Some(&hold),
        "a hold must round-trip"
    );
    let missing_hold = HoldId::for_order(&order("c-rt-missing").order_ref);
    assert_eq!(
        read_hold(store, &missing_hold).await,
        None,
        "a hold never written must read as None"
    );

    assert_eq!(
        read_notice(store, &notice.id).await.as_ref(),
        Some(&notice),
        "a notice must round-trip"
    );
    let missing_notice = NoticeId::from_stored("c-rt-missing.notice".to_owned());
    assert_eq!(
        read_notice(store, &missing_notice).await,
        None,
        "a notice never written must read as None"
    );

    let got = store.history(&held.order.order_ref).await.expect("reading history");
    assert_eq!(got, history, "history must round-trip, in the order written");

    let got = store.quarantined().await.expect("reading quarantine");
    let got: Vec<&Quarantined> = got.iter().filter(|item| item.id == q.id).collect();
    assert_eq!(
        got,
        vec![&q],
        "a quarantined payload (with its raw bytes and meta) must round-trip"
    );

    assert_eq!(
        store
            .delivery_digest("contract-rt-delivery")
            .await
            .expect("reading a delivery"),
        Some(PayloadDigest::of(b"payload one")),
        "a delivery id written must be seen with the digest of its payload"
    );
    assert_eq!(
        store
            .delivery_digest("contract-rt-other")
            .await
            .expect("reading a delivery"),
        None,
        "a delivery id never written must not be seen"
    );

    assert_eq!(
        store.cursor(cursor.mall, &cursor.shop).await.expect("reading a cursor"),
        Some(cursor),
        "a poll cursor must round-trip"
    );

    let keys = held.identity.keys.clone();
    let snapshot = store
        .ingest_snapshot(
            &held.order.order_ref,
            &keys,
            ts("2026-11-22T00:00:00Z"),
            ts("2026-11-24T00:00:00Z"),
        )
        .await
        .expect("reading a snapshot");
    assert_eq!(
        snapshot.existing.as_ref(),
        Some(&held),
        "the snapshot must carry the stored order"
    );
    assert_eq!(
        sorted(snapshot.entries),
        sorted(entries),
        "index entries must round-trip through the snapshot"
    );
}

/// `Expect::Absent` on an item that exists fails the whole batch: nothing else in it is written, heads
/// included. Holds for every kind of item.
pub async fn absent_on_an_existing_item_conflicts_and_writes_nothing(store: &dyn Store) {
    let pepper = "contract absent";
    let first = stored_order("c-abs-1", "2026-11-23T03:00:00Z", pepper);
    let hold = hold_for(&order("c-abs-h"), &first.order);
    let notice = notice_at("c-abs-n", "2026-11-23T03:00:00Z", "2026-11-23T03:02:00Z");
    let q = quarantined("contractabs1");
    let batch = WriteBatch {
        orders: vec![(first.clone(), Expect::Absent)],
        holds: vec![(hold.clone(), Expect::Absent)],
        notices: vec![(notice.clone(), Expect::Absent)],
        quarantine: vec![(q.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "creating the items").await;

    // A valid new order, its index entries, its history, its heads and a delivery id, together with a
    // hold that already exists: all or nothing.
    let second = stored_order("c-abs-2", "2026-11-23T03:05:00Z", pepper);
    let keys = second.identity.keys.clone();
    let heads = heads_of(store, &second.order.order_ref, &keys).await;
    let mut changed_hold = hold.clone();
    changed_hold.urgent = !hold.urgent;
    let batch = WriteBatch {
        heads: heads.clone(),
        orders: vec![(second.clone(), Expect::Absent)],
        index: index_entries(&second),
        holds: vec![(changed_hold, Expect::Absent)],
        history: vec![received(&second.order.order_ref, ts("2026-11-23T03:05:01Z"))],
        deliveries: vec![delivery("contract-abs-delivery", b"payload")],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "a batch with Expect::Absent on an existing hold").await;
    assert_eq!(
        read_order(store, &second.order.order_ref).await,
        None,
        "atomicity: the new order of a failed batch must not be written"
    );
    assert_eq!(
        read_hold(store, &hold.id).await.as_ref(),
        Some(&hold),
        "the existing hold must be unchanged"
    );
    let snapshot = store
        .ingest_snapshot(
            &second.order.order_ref,
            &keys,
            ts("2026-11-22T00:00:00Z"),
            ts("2026-11-24T00:00:00Z"),
        )
        .await
        .expect("reading a snapshot");
    assert!(
        snapshot.entries.iter().all(|e| e.order != second.order.order_ref),
        "atomicity: the index entries of a failed batch must not be written"
    );
    assert_eq!(
        snapshot.heads, heads,
        "atomicity: the heads of a failed batch must not be bumped"
    );
    let history = store.history(&second.order.order_ref).await.expect("reading history");
    assert!(
        history.is_empty(),
        "atomicity: the history of a failed batch must not be written"
    );
    assert!(
        store
            .delivery_digest("contract-abs-delivery")
            .await
            .expect("reading a delivery")
            .is_none(),
        "atomicity: the delivery id of a failed batch must not be written"
    );

    let mut again = first.clone();
    again.version = 2;
    let batch = WriteBatch {
        orders: vec![(again, Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "Expect::Absent on an existing order").await;
    assert_eq!(
        read_order(store, &first.order.order_ref).await,
        Some(first),
        "the order must be unchanged"
    );

    let mut again = notice.clone();
    again.attempts = 9;
    let batch = WriteBatch {
        notices: vec![(again, Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "Expect::Absent on an existing notice").await;
    assert_eq!(
        read_notice(store, &notice.id).await,
        Some(notice),
        "the notice must be unchanged"
    );

    let mut again = q.clone();
    again.error = "another error".to_owned();
    let batch = WriteBatch {
        quarantine: vec![(again, Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "Expect::Absent on an existing quarantined payload").await;
    let stored = store.quarantined().await.expect("reading quarantine");
    assert_eq!(
        stored.iter().find(|item| item.id == q.id),
        Some(&q),
        "the quarantined payload must be unchanged"
    );
}

/// A commit whose head versions are not the stored ones (a missing head is version 0) fails; a
/// successful one bumps each head by one. This is what serialises two decisions about one customer.
pub async fn a_stale_head_version_conflicts(store: &dyn Store) {
    let pepper = "contract heads";
    let first = stored_order("c-head-1", "2026-11-23T03:00:00Z", pepper);
    let second = stored_order("c-head-2", "2026-11-23T03:00:01Z", pepper);
    let keys = first.identity.keys.clone();
    assert!(keys.len() >= 2, "the test order must have at least two identity keys");
    let at = |v: u64| {
        keys.iter()
            .map(|k| Head {
                key: k.clone(),
                version: v,
            })
            .collect::<Vec<_>>()
    };

    let read = heads_of(store, &first.order.order_ref, &keys).await;
    assert_eq!(
        read,
        at(0),
        "a key never written must have head version 0, one head per key asked"
    );

    let batch = WriteBatch {
        heads: read.clone(),
        orders: vec![(first.clone(), Expect::Absent)],
        index: index_entries(&first),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "the first decision under fresh heads").await;
    assert_eq!(
        heads_of(store, &first.order.order_ref, &keys).await,
        at(1),
        "a commit must bump every head it carries by one"
    );

    let batch = WriteBatch {
        heads: read,
        orders: vec![(second.clone(), Expect::Absent)],
        index: index_entries(&second),
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "a decision made on stale heads").await;
    assert_eq!(
        read_order(store, &second.order.order_ref).await,
        None,
        "the order of a decision on stale heads must not be written"
    );

    // Every head is checked, not only the first.
    let mut one_stale = at(1);
    one_stale.last_mut().expect("heads").version = 0;
    let batch = WriteBatch {
        heads: one_stale,
        orders: vec![(second.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "a decision where only the last head is stale").await;
    assert_eq!(
        heads_of(store, &first.order.order_ref, &keys).await,
        at(1),
        "a failed commit must not bump any head"
    );

    let missing = IdentityHasher::new(b"contract heads missing".to_vec())
        .order_identity(&first.order)
        .keys;
    let batch = WriteBatch {
        heads: vec![Head {
            key: missing[0].clone(),
            version: 3,
        }],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "a head read as version 3 that was never written (0)").await;

    let batch = WriteBatch {
        heads: at(1),
        orders: vec![(second.clone(), Expect::Absent)],
        index: index_entries(&second),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "the second decision after re-reading the heads").await;
    assert_eq!(heads_of(store, &first.order.order_ref, &keys).await, at(2));
    assert_eq!(read_order(store, &second.order.order_ref).await, Some(second));
}

/// `Expect::Version(v)` succeeds only when the stored item has version `v` (never when it is missing);
/// the item's own `version` field becomes the stored version. `Expect::Any` writes unconditionally.
pub async fn a_version_mismatch_conflicts_and_any_overwrites(store: &dyn Store) {
    let original = stored_order("c-ver-1", "2026-11-23T03:00:00Z", "contract versions");
    let hold = hold_at(
        "c-ver-2",
        "2026-11-23T03:05:00Z",
        Some("2026-11-23T15:05:00Z"),
        "2026-11-24T03:05:00Z",
    );
    let notice = notice_at("c-ver-n", "2026-11-23T03:05:00Z", "2026-11-23T03:07:00Z");
    let q = quarantined("contractver1");
    let batch = WriteBatch {
        orders: vec![(original.clone(), Expect::Absent)],
        holds: vec![(hold.clone(), Expect::Absent)],
        notices: vec![(notice.clone(), Expect::Absent)],
        quarantine: vec![(q.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "creating the items").await;

    // Holds: the buyer confirms; a racing expiry that read the same version loses.
    let at = ts("2026-11-23T04:00:00Z");
    let confirmed = hold.settle(Decision::Confirm, Resolver::Buyer, at).expect("held");
    let batch = WriteBatch {
        holds: vec![(confirmed.clone(), Expect::Version(hold.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "settling a hold at the version read").await;
    assert_eq!(read_hold(store, &hold.id).await.as_ref(), Some(&confirmed));
    let cancelled = hold.settle(Decision::Cancel, Resolver::Deadline, at).expect("held");
    let batch = WriteBatch {
        holds: vec![(cancelled, Expect::Version(hold.version))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "settling a hold at a version that is no longer stored").await;
    assert_eq!(
        read_hold(store, &hold.id).await,
        Some(confirmed),
        "the first settlement must stand"
    );
    let never = hold_at("c-ver-3", "2026-11-23T03:05:00Z", None, "2026-11-24T03:05:00Z");
    let batch = WriteBatch {
        holds: vec![(never.clone(), Expect::Version(1))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "Expect::Version on a hold that does not exist").await;
    assert_eq!(
        read_hold(store, &never.id).await,
        None,
        "a failed Expect::Version must not create"
    );

    // Orders.
    let mut updated = original.clone();
    updated.order.status = OrderStatus::Cancelled;
    updated.version = original.version + 1;
    let batch = WriteBatch {
        orders: vec![(updated.clone(), Expect::Version(original.version + 1))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "updating an order at a version ahead of the stored one").await;
    assert_eq!(
        read_order(store, &original.order.order_ref).await.as_ref(),
        Some(&original)
    );
    let batch = WriteBatch {
        orders: vec![(updated.clone(), Expect::Version(original.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "updating an order at the stored version").await;
    assert_eq!(
        read_order(store, &original.order.order_ref).await.as_ref(),
        Some(&updated),
        "the update must be stored with its own version"
    );
    let batch = WriteBatch {
        orders: vec![(updated.clone(), Expect::Version(original.version))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "the same update again, at the old version").await;

    // Notices: the sweep's lease and a sender racing on the same version.
    let sent = notice.sent("message-1".to_owned());
    let batch = WriteBatch {
        notices: vec![(sent.clone(), Expect::Version(notice.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "marking a notice sent at the version read").await;
    let failed = notice.failed("timeout".to_owned(), at);
    let batch = WriteBatch {
        notices: vec![(failed, Expect::Version(notice.version))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "marking a notice failed at a version no longer stored").await;
    assert_eq!(
        read_notice(store, &notice.id).await,
        Some(sent),
        "the sent notice must stand"
    );

    // Any: unconditional, on an existing item and on a new one.
    let mut replayed = q.clone();
    replayed.replayed_at = Some(at);
    let mut overwritten = updated.clone();
    overwritten.version = 40;
    let fresh = stored_order("c-ver-4", "2026-11-23T03:00:00Z", "contract versions");
    let batch = WriteBatch {
        orders: vec![(overwritten.clone(), Expect::Any), (fresh.clone(), Expect::Any)],
        quarantine: vec![(replayed.clone(), Expect::Any)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "Expect::Any on existing and new items").await;
    assert_eq!(read_order(store, &original.order.order_ref).await, Some(overwritten));
    assert_eq!(read_order(store, &fresh.order.order_ref).await, Some(fresh));
    let stored = store.quarantined().await.expect("reading quarantine");
    assert_eq!(
        stored.iter().find(|item| item.id == q.id),
        Some(&replayed),
        "Expect::Any must overwrite a quarantined payload"
    );
}

/// The snapshot (and `index_window`) returns the index entries of the keys asked for, placed in
/// `[from, to]` (both ends included), and nothing else; entries are upserted by (key, order).
pub async fn the_snapshot_reads_only_the_window_and_the_keys_asked_for(store: &dyn Store) {
    let (pa, pb) = ("contract window a", "contract window b");
    let from = ts("2026-06-01T00:00:00Z");
    let to = ts("2026-06-03T00:00:00Z");
    let ns = SignedDuration::from_nanos(1);
    let placed = |id: &str, at: Timestamp, pepper: &str| stored_order(id, &at.to_string(), pepper);
    let before = placed("c-win-before", from.checked_sub(ns).expect("in range"), pa);
    let at_from = placed("c-win-from", from, pa);
    let mid = placed("c-win-mid", ts("2026-06-02T00:00:00Z"), pa);
    let at_to = placed("c-win-to", to, pa);
    let after = placed("c-win-after", to.checked_add(ns).expect("in range"), pa);
    let other_keys = placed("c-win-other", ts("2026-06-02T00:00:00Z"), pb);
    let all = [&before, &at_from, &mid, &at_to, &after, &other_keys];
    let batch = WriteBatch {
        index: all.iter().flat_map(|o| index_entries(o)).collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing index entries around the window").await;

    let keys = mid.identity.keys.clone();
    let probe = order("c-win-new").order_ref;
    let snapshot = store
        .ingest_snapshot(&probe, &keys, from, to)
        .await
        .expect("reading a snapshot");
    let expected: Vec<IndexEntry> = [&at_from, &mid, &at_to].iter().flat_map(|o| index_entries(o)).collect();
    assert_eq!(
        sorted(snapshot.entries.clone()),
        sorted(expected),
        "the snapshot must hold exactly the entries of the keys asked for, placed in [from, to]"
    );
    assert_eq!(snapshot.existing, None, "no order was stored under the probe's ref");
    let window = store
        .index_window(&keys, from, to)
        .await
        .expect("reading an index window");
    assert_eq!(
        sorted(window),
        sorted(snapshot.entries.clone()),
        "index_window must read the same entries as the snapshot"
    );
    assert_eq!(
        snapshot.heads.iter().map(|h| &h.key).collect::<Vec<_>>(),
        keys.iter().collect::<Vec<_>>(),
        "one head per key asked for, in the order asked"
    );

    let one = &keys[..1];
    let snapshot = store
        .ingest_snapshot(&probe, one, from, to)
        .await
        .expect("reading a snapshot");
    assert!(
        !snapshot.entries.is_empty() && snapshot.entries.iter().all(|e| e.key == one[0]),
        "asked for one key, the snapshot must hold entries of that key only"
    );
    assert_eq!(
        snapshot.entries.len(),
        3,
        "one entry per order in the window for that key"
    );

    let snapshot = store
        .ingest_snapshot(&probe, &[], from, to)
        .await
        .expect("reading a snapshot");
    assert!(
        snapshot.entries.is_empty() && snapshot.heads.is_empty(),
        "no keys asked, nothing read"
    );

    // Upsert by (key, order): marking an order cancelled replaces its entries; moving an entry's time
    // into the window makes it found.
    let mut cancelled = mid.clone();
    cancelled.order.status = OrderStatus::Cancelled;
    let mut moved = before.clone();
    moved.order.placed_at = ts("2026-06-01T12:00:00Z");
    let batch = WriteBatch {
        index: index_entries(&cancelled)
            .into_iter()
            .chain(index_entries(&moved))
            .collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "rewriting index entries").await;
    let snapshot = store
        .ingest_snapshot(&probe, &keys, from, to)
        .await
        .expect("reading a snapshot");
    let expected: Vec<IndexEntry> = [&at_from, &cancelled, &at_to, &moved]
        .iter()
        .flat_map(|o| index_entries(o))
        .collect();
    assert!(
        expected.iter().any(|e| e.cancelled),
        "the rewritten entries must be marked cancelled"
    );
    assert_eq!(
        sorted(snapshot.entries),
        sorted(expected),
        "index entries must be replaced by (key, order), never duplicated, with their new time"
    );
}

/// A snapshot asked for more keys than one order has (three orders' keys, one of them twice) reads the
/// entries, the head and the blacklist marks of every one: a store that reads keys a batch at a time
/// reads every batch.
pub async fn a_snapshot_of_many_keys_reads_each_of_them(store: &dyn Store) {
    use crate::blacklist::{BlacklistEntry, BlacklistId, BlacklistWrite};
    let at = "2026-06-02T00:00:00Z";
    let orders: Vec<StoredOrder> = ["a", "b", "c"]
        .iter()
        .map(|p| stored_order(&format!("c-many-{p}"), at, &format!("contract many keys {p}")))
        .collect();
    let mut keys: Vec<IdentityKey> = orders.iter().flat_map(|o| o.identity.keys.clone()).collect();
    assert!(keys.len() > 8, "more keys than one order has: {}", keys.len());
    keys.push(keys[0].clone());
    let last = &orders[2];
    let listed = BlacklistEntry {
        id: BlacklistId::for_order(&last.order.order_ref),
        order: last.order.order_ref.clone(),
        number: None,
        keys: last.identity.keys.clone(),
        reason: "contract".into(),
        added_by: "ops".into(),
        added_at: ts(at),
    };
    let batch = WriteBatch {
        index: orders.iter().flat_map(index_entries).collect(),
        // The heads of the second and third orders' keys move to version 1.
        heads: orders[1..]
            .iter()
            .flat_map(|o| o.identity.keys.iter())
            .map(|key| Head {
                key: key.clone(),
                version: 0,
            })
            .collect(),
        blacklist: vec![BlacklistWrite::Add(listed.clone())],
        ..WriteBatch::default()
    };
    commit_ok(
        store,
        batch,
        "writing three orders' index entries, heads and a blacklist entry",
    )
    .await;

    let probe = order("c-many-new").order_ref;
    let snapshot = store
        .ingest_snapshot(&probe, &keys, ts("2026-06-01T00:00:00Z"), ts("2026-06-03T00:00:00Z"))
        .await
        .expect("reading a snapshot");
    let expected: Vec<IndexEntry> = orders.iter().flat_map(index_entries).collect();
    assert_eq!(
        sorted(snapshot.entries),
        sorted(expected),
        "every key's entries, once each"
    );
    let first_keys = &orders[0].identity.keys;
    let heads: Vec<(IdentityKey, u64)> = snapshot.heads.into_iter().map(|h| (h.key, h.version)).collect();
    let expected: Vec<(IdentityKey, u64)> = keys
        .iter()
        .map(|k| (k.clone(), if first_keys.contains(k) { 0 } else { 1 }))
        .collect();
    assert_eq!(
        heads, expected,
        "one head per key asked for, in the order asked, with its version"
    );
    let mut marks: Vec<IdentityKey> = snapshot.blacklisted.into_iter().map(|m| m.key).collect();
    marks.sort();
    assert_eq!(marks, listed.keys, "the marks under every listed key asked for");

    // The other checks that run on the same store list the blacklist: it is left as it was.
    let batch = WriteBatch {
        blacklist: vec![BlacklistWrite::Remove(listed)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "removing the blacklist entry").await;
}

/// `due_holds` returns held holds whose next due time (reminder, else deadline) is at or before `now`,
/// soonest first, at most `limit`; settled holds never.
pub async fn due_holds_are_held_ones_at_or_before_now_soonest_first(store: &dyn Store) {
    // The year 2001: no other check has anything due this early.
    let now = ts("2001-01-01T06:00:00Z");
    let d1 = hold_at(
        "c-due-1",
        "2001-01-01T00:00:00Z",
        Some("2001-01-01T05:00:00Z"),
        "2001-01-02T00:00:00Z",
    );
    let d2 = hold_at("c-due-2", "2001-01-01T00:00:00Z", None, "2001-01-01T03:00:00Z");
    let d3 = hold_at(
        "c-due-3",
        "2001-01-01T00:00:00Z",
        Some("2001-01-01T04:00:00Z"),
        "2001-01-02T00:00:00Z",
    );
    let settled = hold_at("c-due-4", "2001-01-01T00:00:00Z", None, "2001-01-01T01:00:00Z")
        .settle(
            Decision::Cancel,
            Resolver::Staff {
                name: "佐藤".to_owned(),
            },
            now,
        )
        .expect("held");
    let later = hold_at(
        "c-due-5",
        "2001-01-01T00:00:00Z",
        Some("2001-01-01T06:00:00.000000001Z"),
        "2001-01-02T00:00:00Z",
    );
    let exactly_now = hold_at("c-due-6", "2001-01-01T00:00:00Z", None, "2001-01-01T06:00:00Z");
    let all = [&d1, &d2, &d3, &settled, &later, &exactly_now];
    let batch = WriteBatch {
        holds: all.iter().map(|h| ((*h).clone(), Expect::Absent)).collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing holds due at different times").await;

    let due = store.due_holds(now, 10).await.expect("reading due holds");
    assert_eq!(
        hold_ids(&due),
        vec!["c-due-2", "c-due-3", "c-due-1", "c-due-6"],
        "due holds: held ones with next_due <= now (inclusive), soonest first, settled ones never"
    );
    assert_eq!(due[0], d2, "a due hold must read back whole");
    let due = store.due_holds(now, 2).await.expect("reading due holds");
    assert_eq!(
        hold_ids(&due),
        vec!["c-due-2", "c-due-3"],
        "due_holds must honour the limit"
    );

    // Settling a hold takes it out of the sweep; a sent reminder moves it to its deadline.
    let batch = WriteBatch {
        holds: vec![
            (
                d2.settle(Decision::Confirm, Resolver::Buyer, now).expect("held"),
                Expect::Version(d2.version),
            ),
            (d1.reminded(), Expect::Version(d1.version)),
        ],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "settling one hold and reminding another").await;
    let due = store.due_holds(now, 10).await.expect("reading due holds");
    assert_eq!(
        hold_ids(&due),
        vec!["c-due-3", "c-due-6"],
        "a settled hold is never due, and a reminded one is due at its deadline"
    );
    let due = store
        .due_holds(ts("2001-01-02T00:00:00Z"), 10)
        .await
        .expect("reading due holds");
    assert_eq!(
        hold_ids(&due),
        vec!["c-due-3", "c-due-6", "c-due-5", "c-due-1"],
        "a rewritten hold must be due at its new next_due"
    );
}

/// `pending_notices` returns pending notices whose next attempt is at or before `now`, oldest first, at
/// most `limit`; sent ones never.
///
/// "Oldest" is by next attempt; the notices here are also created in that order, so a store that sorts
/// by creation time among due notices passes too.
pub async fn pending_notices_are_due_ones_oldest_first(store: &dyn Store) {
    let now = ts("2001-01-01T06:00:00Z");
    let p1 = notice_at("c-pn-1", "2001-01-01T00:00:00Z", "2001-01-01T01:00:00Z");
    let p2 = notice_at("c-pn-2", "2001-01-01T00:30:00Z", "2001-01-01T02:00:00Z");
    let p3 = notice_at("c-pn-3", "2001-01-01T01:00:00Z", "2001-01-01T03:00:00Z");
    let sent = notice_at("c-pn-4", "2000-12-31T23:00:00Z", "2001-01-01T00:10:00Z").sent("m-1".to_owned());
    let later = notice_at("c-pn-5", "2001-01-01T05:00:00Z", "2001-01-01T06:00:00.000000001Z");
    let exactly_now = notice_at("c-pn-6", "2001-01-01T05:00:00Z", "2001-01-01T06:00:00Z");
    // Written out of order, so a store cannot pass by returning insertion order.
    let batch = WriteBatch {
        notices: [&exactly_now, &p3, &sent, &p1, &later, &p2]
            .iter()
            .map(|n| ((*n).clone(), Expect::Absent))
            .collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing notices due at different times").await;

    let ids = |ns: &[&Notice]| ns.iter().map(|n| n.id.to_string()).collect::<Vec<_>>();
    let pending = store.pending_notices(now, 10).await.expect("reading pending notices");
    assert_eq!(
        notice_ids(&pending),
        ids(&[&p1, &p2, &p3, &exactly_now]),
        "pending notices: next_attempt_at <= now (inclusive), oldest first, sent ones never"
    );
    assert_eq!(pending[0], p1, "a pending notice must read back whole");
    let pending = store.pending_notices(now, 2).await.expect("reading pending notices");
    assert_eq!(
        notice_ids(&pending),
        ids(&[&p1, &p2]),
        "pending_notices must honour the limit"
    );

    let batch = WriteBatch {
        notices: vec![
            (p1.sent("m-2".to_owned()), Expect::Version(p1.version)),
            (p2.failed("throttled".to_owned(), now), Expect::Version(p2.version)),
        ],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "one notice sent, one failed and retried later").await;
    let pending = store.pending_notices(now, 10).await.expect("reading pending notices");
    assert_eq!(
        notice_ids(&pending),
        ids(&[&p3, &exactly_now]),
        "a sent notice is never pending, and a failed one waits for its next attempt"
    );
}

/// An order's history comes back in the order it was written, across batches, whatever the times in
/// the entries, and only that order's.
pub async fn history_comes_back_in_insertion_order(store: &dyn Store) {
    let x = order("c-hist-x").order_ref;
    let y = order("c-hist-y").order_ref;
    let hold = HoldId::for_order(&x);
    let x1 = received(&x, ts("2026-11-23T10:00:00Z"));
    let y1 = received(&y, ts("2026-11-23T09:30:00Z"));
    // Times going backwards and equal times: the order written is what counts.
    let x2 = HistoryEntry::new(
        &x,
        ts("2026-11-23T09:00:00Z"),
        Event::PageOpened {
            hold: hold.clone(),
            page: None,
        },
    );
    let x3 = HistoryEntry::new(
        &x,
        ts("2026-11-23T09:00:00Z"),
        Event::Redelivered {
            digest: PayloadDigest::of(b"again"),
        },
    );
    let x4 = HistoryEntry::new(
        &x,
        ts("2026-11-23T08:00:00Z"),
        Event::Resolved {
            hold,
            decision: Decision::Confirm,
            state: HoldState::Confirmed,
            by: Resolver::Staff {
                name: "佐藤".to_owned(),
            },
        },
    );
    let batch = WriteBatch {
        history: vec![x1.clone(), y1.clone(), x2.clone(), x3.clone()],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing history").await;
    let batch = WriteBatch {
        history: vec![x4.clone()],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "appending history").await;

    let got = store.history(&x).await.expect("reading history");
    assert_eq!(
        got,
        vec![x1, x2, x3, x4],
        "history must come back in insertion order, and only the order's"
    );
    assert_eq!(store.history(&y).await.expect("reading history"), vec![y1]);
    let none = store
        .history(&order("c-hist-none").order_ref)
        .await
        .expect("reading history");
    assert!(none.is_empty(), "an order without history has none");
}

/// `holds(false)` lists every hold newest first (by creation); `holds(true)` only the held ones.
pub async fn holds_are_listed_newest_first_and_open_only_on_request(store: &dyn Store) {
    // The year 2011: between the sweep checks' 2001 and everything else's 2026.
    let l1 = hold_at("c-list-1", "2011-01-01T01:00:00Z", None, "2011-01-02T01:00:00Z");
    let l2 = hold_at("c-list-2", "2011-01-01T02:00:00Z", None, "2011-01-02T02:00:00Z");
    let l3 = hold_at("c-list-3", "2011-01-01T03:00:00Z", None, "2011-01-02T03:00:00Z");
    let l2_settled = l2
        .settle(Decision::Cancel, Resolver::Buyer, ts("2011-01-01T04:00:00Z"))
        .expect("held");
    let batch = WriteBatch {
        holds: vec![
            (l2.clone(), Expect::Absent),
            (l3.clone(), Expect::Absent),
            (l1.clone(), Expect::Absent),
        ],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing holds").await;
    let batch = WriteBatch {
        holds: vec![(l2_settled, Expect::Version(l2.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "settling a hold").await;

    let own = |holds: Vec<Hold>| -> Vec<String> {
        hold_ids(&holds)
            .into_iter()
            .filter(|id| id.starts_with("c-list-"))
            .collect()
    };
    let all = store.holds(false).await.expect("listing holds");
    assert!(
        all.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "holds must be listed newest first"
    );
    assert_eq!(
        own(all),
        vec!["c-list-3", "c-list-2", "c-list-1"],
        "all holds, newest first"
    );
    let open = store.holds(true).await.expect("listing open holds");
    assert!(
        open.iter().all(|h| h.state == HoldState::Held),
        "open_only must list only held holds"
    );
    assert!(
        open.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "open holds must be listed newest first"
    );
    assert_eq!(
        own(open),
        vec!["c-list-3", "c-list-1"],
        "open holds, newest first, settled left out"
    );
}

/// A delivery id is remembered with its payload's digest once written, writing it again is not a conflict
/// (a retried decision carries it again), and the same id with another payload keeps the latest digest.
pub async fn deliveries_are_remembered_and_a_repeat_is_no_conflict(store: &dyn Store) {
    let id = "contract-dlv-1";
    let read = || async { store.delivery_digest(id).await.expect("reading a delivery") };
    assert_eq!(read().await, None);
    let batch = |payload: &[u8]| WriteBatch {
        deliveries: vec![delivery(id, payload)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch(b"first"), "recording a delivery").await;
    assert_eq!(
        read().await,
        Some(PayloadDigest::of(b"first")),
        "a recorded delivery must be seen"
    );
    commit_ok(store, batch(b"first"), "recording the same delivery again").await;
    assert_eq!(read().await, Some(PayloadDigest::of(b"first")));
    commit_ok(store, batch(b"second"), "the same id with another payload").await;
    assert_eq!(
        read().await,
        Some(PayloadDigest::of(b"second")),
        "the latest payload's digest is kept"
    );
}

fn delivery(id: &str, payload: &[u8]) -> WebhookDelivery {
    WebhookDelivery {
        id: id.to_owned(),
        digest: PayloadDigest::of(payload),
    }
}

/// Staff find an order by the mall's order number, whatever the shop; nothing else matches.
pub async fn orders_are_found_by_their_mall_order_id_in_any_shop(store: &dyn Store) {
    let mut in_shop_a = stored_order("contract-find-1", "2026-11-23T03:00:00Z", "pepper-find");
    let mut in_shop_b = in_shop_a.clone();
    in_shop_b.order.order_ref.shop = crate::ids::ShopId::parse("another-shop").expect("a shop id");
    let mut longer = stored_order("x-contract-find-1", "2026-11-23T03:00:00Z", "pepper-find");
    let mut other_mall = in_shop_a.clone();
    other_mall.order.order_ref.mall = crate::ids::Mall::Amazon;
    in_shop_a.hold = None;
    longer.hold = None;
    let batch = WriteBatch {
        orders: [in_shop_a.clone(), in_shop_b.clone(), longer, other_mall]
            .into_iter()
            .map(|o| (o, Expect::Absent))
            .collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "orders in two shops and two malls").await;
    let order_id = in_shop_a.order.order_ref.order_id.clone();
    let mut found = store
        .orders_with_id(in_shop_a.order.order_ref.mall, &order_id)
        .await
        .expect("finding orders");
    found.sort();
    let mut expected = vec![in_shop_a.order.order_ref, in_shop_b.order.order_ref];
    expected.sort();
    assert_eq!(
        found, expected,
        "the same order id in two shops of one mall, and nothing else"
    );
    let none = crate::ids::OrderId::parse("contract-find-missing").expect("an order id");
    assert!(
        store
            .orders_with_id(crate::ids::Mall::Own, &none)
            .await
            .expect("finding orders")
            .is_empty()
    );
}

/// Staff find an order by the number its buyer knows (Shopify's `#1001`, which they type as `1001`) as
/// well as by the mall's order id, in any shop of the mall, each order once; a number of another mall, a
/// longer number, or a number the order no longer has finds nothing.
pub async fn orders_are_found_by_the_number_their_buyer_knows(store: &dyn Store) {
    use crate::ids::{Mall, OrderId, ShopId};
    let numbered = |mall: Mall, shop: &str, id: &str, number: Option<&str>| {
        let mut stored = stored_order(id, "2026-11-23T03:00:00Z", "pepper-number");
        stored.order.order_ref = OrderRef::new(
            mall,
            ShopId::parse(shop).expect("a shop id"),
            OrderId::parse(id).expect("an order id"),
        );
        stored.order.number = number.map(str::to_owned);
        stored
    };
    let tanaka = numbered(Mall::Shopify, "tanaka", "cnum-56789-01", Some("#cnum-1001"));
    let suzuki = numbered(Mall::Shopify, "suzuki", "cnum-56789-02", Some("#cnum-1001"));
    // Another order whose mall order id is what the first two's buyers know as their number.
    let by_id = numbered(Mall::Shopify, "sato", "cnum-1001", None);
    let without_hash = numbered(Mall::Shopify, "tanaka", "cnum-56789-03", Some("cnum-2002"));
    let longer = numbered(Mall::Shopify, "tanaka", "cnum-56789-04", Some("#cnum-10011"));
    let number_is_id = numbered(Mall::Shopify, "tanaka", "cnum-3003", Some("#cnum-3003"));
    let other_mall = numbered(Mall::Own, "tanaka", "cnum-56789-05", Some("#cnum-1001"));
    let batch = WriteBatch {
        orders: [
            &tanaka,
            &suzuki,
            &by_id,
            &without_hash,
            &longer,
            &number_is_id,
            &other_mall,
        ]
        .into_iter()
        .map(|o| (o.clone(), Expect::Absent))
        .collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "orders with numbers their buyers know").await;

    let find = |mall: Mall, id: &'static str| async move {
        let id = OrderId::parse(id).expect("an order id");
        let mut found = store.orders_with_id(mall, &id).await.expect("finding orders");
        found.sort();
        found
    };
    let refs = |orders: &[&StoredOrder]| {
        let mut refs: Vec<OrderRef> = orders.iter().map(|o| o.order.order_ref.clone()).collect();
        refs.sort();
        refs
    };
    assert_eq!(
        find(Mall::Shopify, "cnum-1001").await,
        refs(&[&tanaka, &suzuki, &by_id]),
        "the number `#cnum-1001` without its `#`, in two shops, and the order whose id it is; not another mall's \
         nor a longer number"
    );
    assert_eq!(
        find(Mall::Shopify, "cnum-2002").await,
        refs(&[&without_hash]),
        "a number the mall shows without `#`"
    );
    assert_eq!(
        find(Mall::Shopify, "cnum-3003").await,
        refs(&[&number_is_id]),
        "an order whose number is its id is found once"
    );
    assert_eq!(
        find(Mall::Shopify, "cnum-56789-01").await,
        refs(&[&tanaka]),
        "a numbered order is still found by its mall order id"
    );
    assert_eq!(
        find(Mall::Own, "cnum-1001").await,
        refs(&[&other_mall]),
        "each mall on its own"
    );
    assert!(find(Mall::Shopify, "cnum-100").await.is_empty(), "no prefix matches");

    // The mall renumbers an order (an edit): the new number finds it, the old one no longer does.
    let mut renumbered = tanaka.clone();
    renumbered.order.number = Some("#cnum-4004".to_owned());
    renumbered.version = tanaka.version + 1;
    let batch = WriteBatch {
        orders: vec![(renumbered, Expect::Version(tanaka.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "an order with a new number").await;
    assert_eq!(
        find(Mall::Shopify, "cnum-4004").await,
        refs(&[&tanaka]),
        "the new number"
    );
    assert_eq!(
        find(Mall::Shopify, "cnum-1001").await,
        refs(&[&suzuki, &by_id]),
        "the old number no longer finds the renumbered order"
    );
}

/// A poll cursor reads as None until it is written; it is created under `Expect::Absent` and then moves
/// only from the version read (each write carrying the next version). A stale version, or `Absent` on a
/// cursor that exists, conflicts and writes nothing of its batch; a cursor move in a batch whose other
/// condition fails is not written either. Each mall and shop has a cursor of its own.
pub async fn cursors_move_only_from_the_version_read(store: &dyn Store) {
    let shop = ShopId::parse("contract-cursor").expect("a shop id");
    let read = |mall: Mall, shop: &str| {
        let shop = ShopId::parse(shop).expect("a shop id");
        async move { store.cursor(mall, &shop).await.expect("reading a cursor") }
    };
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        None,
        "a cursor never written must read as None"
    );
    let cursors = |cursor: &PollCursor, expect: Expect| WriteBatch {
        cursors: vec![(cursor.clone(), expect)],
        ..WriteBatch::default()
    };

    let first = poll_cursor(
        Mall::Rakuten,
        shop.as_str(),
        "2026-11-23T12:00:00+09:00",
        1,
        "2026-11-23T03:00:00.000000001Z",
    );
    commit_ok(store, cursors(&first, Expect::Absent), "the first cursor, under Absent").await;
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        Some(first.clone()),
        "a cursor must read back as written"
    );

    // An opaque position: a page token with any characters.
    let second = PollCursor {
        position: "page=2&token=eyJ0b2tlbiI6IuWxseeUsCJ9/+?#%; 山田".to_owned(),
        version: 2,
        updated_at: ts("2026-11-23T03:10:00.123456789Z"),
        ..first.clone()
    };
    commit_ok(
        store,
        cursors(&second, Expect::Version(1)),
        "moving the cursor from version 1",
    )
    .await;
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        Some(second.clone()),
        "the moved cursor must read back as written"
    );

    // A run that read version 1 too: its move, with an order, its index entries, its history and a
    // delivery id, all or nothing.
    let order = stored_order("c-cur-1", "2026-11-23T03:00:00Z", "contract cursor");
    let stale = PollCursor {
        position: "stale".to_owned(),
        version: 2,
        updated_at: ts("2026-11-23T03:11:00Z"),
        ..first.clone()
    };
    let batch = WriteBatch {
        orders: vec![(order.clone(), Expect::Absent)],
        index: index_entries(&order),
        history: vec![received(&order.order.order_ref, ts("2026-11-23T03:11:00Z"))],
        deliveries: vec![delivery("contract-cursor-delivery", b"payload")],
        cursors: vec![(stale.clone(), Expect::Version(1))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "moving a cursor from a stale version").await;
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        Some(second.clone()),
        "a stale move must leave the cursor as it was"
    );
    assert_eq!(
        read_order(store, &order.order.order_ref).await,
        None,
        "atomicity: the order of a failed batch must not be written"
    );
    assert!(
        store
            .history(&order.order.order_ref)
            .await
            .expect("reading history")
            .is_empty(),
        "atomicity: the history of a failed batch must not be written"
    );
    assert!(
        store
            .delivery_digest("contract-cursor-delivery")
            .await
            .expect("reading a delivery")
            .is_none(),
        "atomicity: the delivery id of a failed batch must not be written"
    );

    commit_conflicts(
        store,
        cursors(
            &PollCursor {
                version: 1,
                ..stale.clone()
            },
            Expect::Absent,
        ),
        "Expect::Absent on an existing cursor",
    )
    .await;

    // A valid move together with a hold whose version does not match: nothing is written.
    let hold = hold_for(&order.order, &order_at("c-cur-original", "2026-11-23T02:00:00Z"));
    let third = PollCursor {
        position: "third".to_owned(),
        version: 3,
        ..second.clone()
    };
    let batch = WriteBatch {
        holds: vec![(hold, Expect::Version(7))],
        cursors: vec![(third.clone(), Expect::Version(2))],
        ..WriteBatch::default()
    };
    commit_conflicts(store, batch, "a cursor move with a hold of another version").await;
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        Some(second.clone()),
        "atomicity: a cursor move in a failed batch must not be written"
    );
    commit_ok(
        store,
        cursors(&third, Expect::Version(2)),
        "moving the cursor from version 2",
    )
    .await;
    assert_eq!(read(Mall::Rakuten, "contract-cursor").await, Some(third.clone()));

    // Every mall and shop on its own.
    assert_eq!(
        read(Mall::Yahoo, "contract-cursor").await,
        None,
        "another mall's cursor of the same shop"
    );
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor-2").await,
        None,
        "another shop's cursor"
    );
    let yahoo = poll_cursor(Mall::Yahoo, shop.as_str(), "1", 1, "2026-11-23T03:12:00Z");
    commit_ok(store, cursors(&yahoo, Expect::Absent), "another mall's first cursor").await;
    assert_eq!(read(Mall::Yahoo, "contract-cursor").await, Some(yahoo));
    assert_eq!(
        read(Mall::Rakuten, "contract-cursor").await,
        Some(third),
        "a cursor of another mall leaves this one as it was"
    );
}

/// Pending mall actions whose next attempt is due come back oldest first, within the limit; done, refused
/// and waiting ones never; an action moves only from the version read.
pub async fn pending_actions_are_due_ones_oldest_first(store: &dyn Store) {
    let now = ts("2001-01-01T06:00:00Z");
    let order = |id: &str| {
        OrderRef::new(
            Mall::Shopify,
            ShopId::parse("contract-actions").expect("a shop id"),
            crate::ids::OrderId::parse(id).expect("an order id"),
        )
    };
    let action = |n: u32, kind: ActionKind, due: &str| {
        let held = order(&format!("c-act-{n}"));
        let hold = HoldId::for_order(&held);
        let mut a = MallAction::new(kind, &hold, &held, &order("c-act-0"), ts("2000-12-31T00:00:00Z"));
        a.next_attempt_at = ts(due);
        a
    };
    let a1 = action(1, ActionKind::Hold, "2001-01-01T01:00:00Z");
    let a2 = action(2, ActionKind::Cancel, "2001-01-01T02:00:00Z");
    let a3 = action(3, ActionKind::Release, "2001-01-01T06:00:00Z");
    let later = action(4, ActionKind::Hold, "2001-01-01T06:00:00.000000001Z");
    let done = action(5, ActionKind::Hold, "2001-01-01T00:00:00Z").done(Some("ref-5".into()));
    let refused = action(6, ActionKind::Cancel, "2001-01-01T00:00:00Z").refused("shipped".into());
    let batch = WriteBatch {
        actions: [&later, &a3, &done, &a1, &refused, &a2]
            .iter()
            .map(|a| ((*a).clone(), Expect::Absent))
            .collect(),
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing actions due at different times").await;
    let ids = |xs: &[MallAction]| xs.iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
    let want = |xs: &[&MallAction]| xs.iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
    let pending = store.pending_actions(now, 10).await.expect("reading pending actions");
    assert_eq!(
        ids(&pending),
        want(&[&a1, &a2, &a3]),
        "pending actions: next_attempt_at <= now (inclusive), oldest first, done and refused ones never"
    );
    assert_eq!(pending[0], a1, "a pending action must read back whole");
    assert_eq!(
        ids(&store.pending_actions(now, 2).await.expect("reading")),
        want(&[&a1, &a2]),
        "the limit"
    );

    let batch = WriteBatch {
        actions: vec![
            (
                a1.done(Some("gid://shopify/FulfillmentHold/1".into())),
                Expect::Version(a1.version),
            ),
            (a2.failed("503".into(), None, now), Expect::Version(a2.version)),
        ],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "one action done, one failed and retried later").await;
    assert_eq!(
        ids(&store.pending_actions(now, 10).await.expect("reading")),
        want(&[&a3]),
        "a done action is never pending, and a failed one waits for its next attempt"
    );
    let stale = WriteBatch {
        actions: vec![(a1.refused("late".into()), Expect::Version(a1.version))],
        ..WriteBatch::default()
    };
    assert!(
        matches!(store.commit(stale).await, Err(CommitError::Conflict)),
        "an action moves only from the version read"
    );
    assert_eq!(
        store.action(&a1.id).await.expect("reading").map(|a| a.state),
        Some(ActionState::Done)
    );
}

/// A blacklist entry's marks are read by the ingest snapshot of any order sharing one of its keys (in
/// the read that brings the index entries, whatever the window), and go when the entry is removed.
pub async fn blacklist_marks_come_with_the_snapshot_and_go_with_the_entry(store: &dyn Store) {
    use crate::blacklist::{BlacklistEntry, BlacklistId, BlacklistWrite};
    let pepper = "contract blacklist";
    let listed = stored_order("c-bl-listed", "2025-01-05T00:00:00Z", pepper);
    let other = stored_order("c-bl-other", "2025-01-06T00:00:00Z", "contract blacklist other");
    let entry = |o: &StoredOrder, by: &str, at: &str| BlacklistEntry {
        id: BlacklistId::for_order(&o.order.order_ref),
        order: o.order.order_ref.clone(),
        number: Some("#ブラック-1".into()),
        keys: o.identity.keys.clone(),
        reason: "受取拒否が3回 / refused delivery three times".into(),
        added_by: by.into(),
        added_at: ts(at),
    };
    let first = entry(&listed, "staff@example.jp", "2026-11-01T00:00:00.000000001Z");
    let second = entry(&other, "ops", "2026-11-02T00:00:00Z");
    assert!(!first.keys.is_empty(), "the test order must have identity keys");
    let batch = WriteBatch {
        blacklist: vec![BlacklistWrite::Add(first.clone()), BlacklistWrite::Add(second.clone())],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "adding two blacklist entries").await;

    // A new order a year later, sharing one key: far outside any window, the mark is still read.
    let probe = order("c-bl-probe").order_ref;
    let keys = vec![first.keys[0].clone()];
    let snapshot = store
        .ingest_snapshot(&probe, &keys, ts("2026-11-20T00:00:00Z"), ts("2026-11-24T00:00:00Z"))
        .await
        .expect("reading a snapshot");
    assert_eq!(
        snapshot.blacklisted,
        vec![crate::blacklist::BlacklistMark {
            key: keys[0].clone(),
            entry: first.id.clone(),
            order: listed.order.order_ref.clone(),
        }],
        "the mark under a key asked for must come with the snapshot, and only that one"
    );
    assert!(snapshot.entries.is_empty(), "a mark is not an index entry");
    assert_eq!(snapshot.heads.len(), 1);
    assert_eq!(snapshot.heads[0].version, 0, "a mark is not a head");

    let listing = store.blacklist().await.expect("listing the blacklist");
    assert_eq!(
        listing,
        vec![second.clone(), first.clone()],
        "newest first, every field kept"
    );
    assert_eq!(
        store.blacklist_entry(&first.id).await.expect("reading an entry"),
        Some(first.clone())
    );

    let batch = WriteBatch {
        blacklist: vec![BlacklistWrite::Remove(first.clone())],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "removing a blacklist entry").await;
    let snapshot = store
        .ingest_snapshot(
            &probe,
            &first.keys,
            ts("2026-11-20T00:00:00Z"),
            ts("2026-11-24T00:00:00Z"),
        )
        .await
        .expect("reading a snapshot");
    assert!(snapshot.blacklisted.is_empty(), "a removed entry's marks must be gone");
    assert_eq!(store.blacklist_entry(&first.id).await.expect("reading an entry"), None);
    assert_eq!(store.blacklist().await.expect("listing"), vec![second]);
}

/// A sign-in link recorded as used cannot be recorded again: the second use conflicts and writes nothing.
pub async fn a_sign_in_link_is_used_once(store: &dyn Store) {
    use crate::ports::UsedSignIn;
    let used = |id: &str| UsedSignIn {
        id: id.into(),
        expires_at: ts("2099-01-01T00:15:00Z"),
    };
    let history = received(&order("c-signin").order_ref, ts("2026-11-01T00:00:00Z"));
    commit_ok(
        store,
        WriteBatch {
            sign_ins: vec![used("contract-signin-1")],
            ..WriteBatch::default()
        },
        "using a sign-in link",
    )
    .await;
    commit_conflicts(
        store,
        WriteBatch {
            sign_ins: vec![used("contract-signin-1")],
            history: vec![history],
            ..WriteBatch::default()
        },
        "using the same sign-in link again",
    )
    .await;
    assert!(
        store
            .history(&order("c-signin").order_ref)
            .await
            .expect("reading history")
            .is_empty(),
        "a conflicting batch writes nothing"
    );
    commit_ok(
        store,
        WriteBatch {
            sign_ins: vec![used("contract-signin-2")],
            ..WriteBatch::default()
        },
        "using another link",
    )
    .await;
}

/// A mall shop's settings: written only from the version read (`Absent` for a shop never set), every
/// field kept, and every shop's listed in mall and shop order.
pub async fn shop_settings_are_saved_under_their_version_and_listed_in_one_read(store: &dyn Store) {
    use crate::shop_settings::ShopSettings;
    let at = ts("2026-11-29T01:02:03.000000004Z");
    let mut rakuten = ShopSettings::new(
        Mall::Rakuten,
        ShopId::parse("tanaka-rakuten").expect("a shop id"),
        "sato@shop.example",
        at,
    );
    for (key, value) in [
        ("name", "田中商店 楽天市場店"),
        ("contact_email", "rakuten@tanaka-shop.example"),
        ("contact_phone", "03-1234-0000"),
        ("staff_email", "rakuten-staff@tanaka-shop.example"),
        ("language", "en"),
        ("window_hours", "72"),
        ("answer_hours", "12"),
        ("shipping_cutoff", "13:30"),
        ("quiet_hours", "22:00-07:00"),
        ("amazon_auto_cancel", "on"),
    ] {
        rakuten.set(key, value).expect("a valid setting");
    }
    rakuten.version = 1;
    let mut yahoo = ShopSettings::new(
        Mall::Yahoo,
        ShopId::parse("tanaka-yahoo").expect("a shop id"),
        "ops",
        at,
    );
    yahoo.version = 1;
    yahoo.set("quiet_hours", "off").expect("a valid setting");
    let batch = |s: &ShopSettings, e: Expect| WriteBatch {
        shop_settings: vec![(s.clone(), e)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch(&yahoo, Expect::Absent), "the first settings of a shop").await;
    commit_ok(
        store,
        batch(&rakuten, Expect::Absent),
        "the first settings of another shop",
    )
    .await;
    commit_conflicts(store, batch(&rakuten, Expect::Absent), "a second first write").await;
    let listed = store.shop_settings().await.expect("listing shop settings");
    assert_eq!(
        listed,
        vec![rakuten.clone(), yahoo.clone()],
        "every field kept, rakuten before yahoo"
    );

    let mut changed = rakuten.clone();
    changed.set("answer_hours", "").expect("back to the default");
    changed.version = 2;
    commit_conflicts(
        store,
        batch(&changed, Expect::Version(2)),
        "a save from a version never read",
    )
    .await;
    commit_ok(
        store,
        batch(&changed, Expect::Version(1)),
        "a save from the version read",
    )
    .await;
    let listed = store.shop_settings().await.expect("listing shop settings");
    assert_eq!(listed[0], changed);
    assert_eq!(listed[0].answer_hours, None);
}

/// The buyer's pages as served: each kept once per hold and digest (a second write of the same digest is the
/// same page, one record; which showing's time it keeps is the store's), read back byte for byte in the order
/// shown, and only the hold's own.
pub async fn pages_are_kept_once_per_hold_and_digest_word_for_word(store: &dyn Store) {
    use crate::history::{KeptPage, PageShown};
    let hold = hold_at("1002", "2026-11-23T03:05:00Z", None, "2026-11-24T03:05:00Z");
    let other = hold_at("2002", "2026-11-23T03:05:00Z", None, "2026-11-24T03:05:00Z");
    let page = |hold: &Hold, html: &str, at: &str| KeptPage {
        hold: hold.id.clone(),
        order: hold.order.clone(),
        shown_at: ts(at),
        shown: PageShown {
            digest: crate::service::sha256_hex(html.as_bytes()),
            template: "0123456789abcdef".into(),
            lang: crate::Language::Ja,
        },
        html: html.into(),
    };
    // Japanese text, markup and a page far larger than any item of the other kinds.
    let large = format!(
        "<p>{}</p>",
        "後のご注文をキャンセルする &amp; <b>確認</b>\n".repeat(2_000)
    );
    let first = page(&hold, "<html><body><p>保留中</p></body></html>", "2026-11-23T04:00:00Z");
    let answered = page(&hold, &large, "2026-11-23T05:00:00Z");
    assert!(!store.page_kept(&hold.id, &first.shown.digest).await.unwrap());
    let batch = |pages: Vec<KeptPage>| WriteBatch {
        pages,
        ..WriteBatch::default()
    };
    commit_ok(store, batch(vec![first.clone()]), "a page").await;
    assert!(store.page_kept(&hold.id, &first.shown.digest).await.unwrap());
    assert!(!store.page_kept(&other.id, &first.shown.digest).await.unwrap());
    // The same digest again, later: still one page.
    let mut again = first.clone();
    again.shown_at = ts("2026-11-23T04:30:00Z");
    commit_ok(
        store,
        batch(vec![answered.clone(), again.clone()]),
        "another page and the first again",
    )
    .await;
    commit_ok(
        store,
        batch(vec![page(&other, "<p>別の保留</p>", "2026-11-23T03:30:00Z")]),
        "another hold's",
    )
    .await;
    let mut kept = store.pages(&hold.id).await.unwrap();
    assert_eq!(kept.len(), 2, "each page once: {kept:?}");
    assert!([first.shown_at, again.shown_at].contains(&kept[0].shown_at));
    kept[0].shown_at = first.shown_at;
    assert_eq!(kept, vec![first, answered], "in the order shown, word for word");
    assert!(kept.iter().all(|p| p.matches()));
    assert_eq!(store.pages(&other.id).await.unwrap().len(), 1);
}

/// What `commit_behind` is given (a request's record of the mails it sent) is shown to every read of
/// notices and history begun after the call and written before any commit asked for after it, whether the
/// store writes it at once or after answering; one whose condition broke writes nothing; and
/// `written_behind` returns once everything is written.
pub async fn a_batch_written_behind_is_read_after_the_call_and_written_before_later_commits(store: &dyn Store) {
    let notice = notice_at("c-behind-1", "2026-11-23T03:00:00Z", "2026-11-23T03:00:00Z");
    let order = notice.order.clone().expect("the notice's order");
    let batch = WriteBatch {
        notices: vec![(notice.clone(), Expect::Absent)],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "writing the pending notice").await;

    let sent = notice.sent("m-behind-1".to_owned());
    let entry = HistoryEntry::new(
        &order,
        ts("2026-11-23T03:00:01Z"),
        Event::NoticeSent {
            notice: notice.id.clone(),
            kind: notice.kind,
            message_id: "m-behind-1".to_owned(),
            digest: Some(notice.mail.digest()),
        },
    );
    let record = WriteBatch {
        notices: vec![(sent.clone(), Expect::Version(notice.version))],
        history: vec![entry.clone()],
        ..WriteBatch::default()
    };
    store.commit_behind(record).await.expect("the record is taken");
    assert_eq!(
        read_notice(store, &notice.id).await,
        Some(sent.clone()),
        "a read of the notice after the call shows what it recorded"
    );
    assert_eq!(
        store.history(&order).await.expect("reading history"),
        vec![entry.clone()],
        "so does a read of the order's history"
    );

    // A commit asked for after the call finds the notice as recorded: it is conditional on that version.
    let failed = sent.failed("bounced".to_owned(), ts("2026-11-23T03:00:02Z"));
    let batch = WriteBatch {
        notices: vec![(failed.clone(), Expect::Version(sent.version))],
        ..WriteBatch::default()
    };
    commit_ok(store, batch, "a commit conditional on the recorded version").await;

    // A record whose notice changed meanwhile writes nothing (the store that commits at once says so).
    let stale = WriteBatch {
        notices: vec![(sent.sent("m-behind-2".to_owned()), Expect::Version(sent.version))],
        history: vec![entry.clone()],
        ..WriteBatch::default()
    };
    match store.commit_behind(stale).await {
        Ok(()) | Err(CommitError::Conflict) => {}
        Err(other) => panic!("a stale record: taken, or a conflict at once, got {other:?}"),
    }
    store.written_behind().await;
    assert_eq!(
        read_notice(store, &notice.id).await,
        Some(failed),
        "the stale record wrote nothing"
    );
    assert_eq!(
        store.history(&order).await.expect("reading history"),
        vec![entry],
        "not even its history"
    );
}

#[cfg(test)]
mod tests {
    /// The in-memory reference store keeps the contract too, so the use-case tests run on a store that
    /// behaves like the real ones.
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::run_all(&crate::testing::MemoryStore::default()).await;
    }
}
