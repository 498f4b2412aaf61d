//! TTL (DESIGN.md §10): personal data expires after the retention period, and since DynamoDB deletes
//! expired items up to two days late, reads must not return them meanwhile.

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::history::{Event, HistoryEntry};
use mallguard_domain::ids::Mall;
use mallguard_domain::notice::{Mail, Notice, NoticeId, NoticeKind};
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{Expect, Head, Quarantined, Store, StoredOrder, WriteBatch};
use mallguard_domain::service::index_entries;
use mallguard_domain::testing::{hold_for, order_at, settings};

use crate::support::{Table, customer_order};

fn stored(id: &str) -> StoredOrder {
    let order = customer_order(7, id, "2026-11-23T03:00:00Z");
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

#[tokio::test]
async fn items_past_their_expiry_are_not_returned_by_any_read() {
    let table = Table::new().await;
    // A store whose retention is negative writes every item already expired, as TTL would find it a
    // day after its retention ended, before DynamoDB got round to deleting it.
    let expired = table.store_with_retention(SignedDuration::from_hours(-24));
    let live = &table.store;

    let order = stored("ttl-1");
    let keys = order.identity.keys.clone();
    let mut hold = hold_for(&order.order, &order_at("ttl-original", "2026-11-23T02:00:00Z"));
    hold.deadline = "2001-01-01T00:00:00Z".parse().unwrap();
    hold.remind_at = None;
    let mut notice = Notice::new(
        NoticeId::from_stored("ttl-notice".into()),
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
        Timestamp::now(),
        Event::PageOpened { hold: hold.id.clone() },
    );
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
                id: "ttlq".into(),
                source: "shopify".into(),
                received_at: Timestamp::now(),
                error: "unknown field".into(),
                raw: b"{\"email\":\"customer7@example.com\"}".to_vec(),
                meta: Default::default(),
                replayed_at: None,
            },
            Expect::Absent,
        )],
        deliveries: vec!["ttl-delivery".into()],
    };
    expired.commit(batch).await.expect("writing expired items");

    let ref_ = &order.order.order_ref.clone();
    let window = (
        "2026-11-22T00:00:00Z".parse().unwrap(),
        "2026-11-24T00:00:00Z".parse().unwrap(),
    );
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
    assert_eq!(live.hold(&hold.id).await.unwrap(), None, "hold");
    assert!(live.holds(false).await.unwrap().is_empty(), "holds");
    assert!(
        live.due_holds(Timestamp::now(), 10).await.unwrap().is_empty(),
        "due_holds"
    );
    assert_eq!(live.notice(&notice.id).await.unwrap(), None, "notice");
    assert!(
        live.pending_notices(Timestamp::now(), 10).await.unwrap().is_empty(),
        "pending_notices"
    );
    assert!(live.quarantined().await.unwrap().is_empty(), "quarantined");
    assert!(!live.delivery_seen("ttl-delivery").await.unwrap(), "delivery");
    // The evidence keeps no personal data and has no TTL.
    assert_eq!(live.history(ref_).await.unwrap(), vec![history]);

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
