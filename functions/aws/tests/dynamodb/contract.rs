//! The store contract suite (the one the embedded and in-memory stores pass) against DynamoDB Local,
//! once with DynamoDB's own page size and once with pages of one item, so every read must follow
//! `LastEvaluatedKey`.

use mallguard_aws::dynamodb::DynamoDbStore;
use mallguard_domain::hold::Hold;
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::ports::roles::*;
use mallguard_domain::ports::{Clock, CommitError, Expect, Quarantined, StoreError, SystemClock, WriteBatch};
use mallguard_domain::service::index_entries;
use mallguard_domain::testing::{hold_for, order_at, settings};

use crate::support::{Table, customer_order};

/// The contract on a table of its own per check.
mod on_dynamodb_local {
    use crate::support::Table;

    mallguard_domain::store_contract!(store => Table::new().await.store);
}

/// The same when every query pages one item at a time, so every read must follow `LastEvaluatedKey`.
mod one_item_pages {
    use crate::support::Table;

    mallguard_domain::store_contract!(store => Table::new().await.store.with_page_size(1));
}

fn stored(n: usize, id: &str) -> mallguard_domain::ports::StoredOrder {
    let order = customer_order(n, id, "2026-11-23T03:00:00Z");
    let identity = settings().hasher.order_identity(&order);
    let products = settings().products.products_of(&order);
    mallguard_domain::ports::StoredOrder {
        order,
        identity,
        products,
        raw: b"{}".to_vec(),
        received_at: "2026-11-23T03:00:01Z".parse().unwrap(),
        version: 1,
        hold: None,
        duplicates: vec![],
    }
}

/// Every read that can return more than one item goes past the first page, and each page is one Query.
#[tokio::test]
async fn every_read_follows_the_pages_past_the_first() {
    let table = Table::new().await;
    let store = table.store.clone().with_page_size(2);
    let seven = 7;
    // Seven orders of one customer (same keys, so seven entries per key), the same mall order id in
    // seven shops, seven holds due, seven quarantined payloads, seven history entries.
    let mut batch = WriteBatch::default();
    let mut holds: Vec<Hold> = vec![];
    for i in 0..seven {
        let mut order = stored(1, "page-1");
        order.order.order_ref.shop = ShopId::parse(&format!("shop-{i}")).unwrap();
        order.order.placed_at = format!("2026-11-23T03:0{i}:00Z").parse().unwrap();
        batch.index.extend(index_entries(&order));
        let mut hold = hold_for(&order.order, &order_at("page-original", "2026-11-23T02:00:00Z"));
        hold.deadline = "2001-01-01T00:00:00Z".parse().unwrap();
        hold.remind_at = None;
        holds.push(hold.clone());
        batch.holds.push((hold, Expect::Absent));
        batch.orders.push((order.clone(), Expect::Absent));
        batch.history.push(mallguard_domain::history::HistoryEntry::new(
            &stored(1, "page-history").order.order_ref,
            SystemClock.now(),
            mallguard_domain::history::Event::PageOpened {
                hold: holds[0].id.clone(),
                page: None,
            },
        ));
        batch.quarantine.push((
            Quarantined {
                id: format!("page{i}"),
                source: "shopify".into(),
                received_at: SystemClock.now(),
                error: "no".into(),
                raw: vec![1, 2, 3],
                meta: Default::default(),
                replayed_at: None,
            },
            Expect::Absent,
        ));
    }
    batch.heads = stored(1, "page-1")
        .identity
        .keys
        .into_iter()
        .map(|key| mallguard_domain::ports::Head { key, version: 0 })
        .collect();
    store.commit(batch).await.expect("writing seven of each");
    let keys = stored(1, "page-1").identity.keys;
    table.counts.reset();
    // Each read must return all seven, and take at least four pages of two to do it.
    let check = |read: &str, found: usize| {
        let counts = table.counts.take();
        assert_eq!(found, seven, "{read} must return all seven items across pages");
        assert!(
            counts.of("Query") >= 4,
            "{read}: seven items in pages of two take at least four Queries: {counts}"
        );
    };
    let probe = order_at("page-probe", "2026-11-23T03:00:00Z").order_ref;
    let (from, to) = (
        "2026-11-22T00:00:00Z".parse().unwrap(),
        "2026-11-24T00:00:00Z".parse().unwrap(),
    );
    let snapshot = store.ingest_snapshot(&probe, &keys[..1], from, to).await.unwrap();
    check("the ingest snapshot", snapshot.entries.len());
    assert_eq!(
        snapshot.heads[0].version, 1,
        "the head is read with the entries, across pages"
    );
    let order_id = stored(1, "page-1").order.order_ref.order_id;
    check(
        "orders_with_id",
        store.orders_with_id(Mall::Own, &order_id).await.unwrap().len(),
    );
    check("holds", store.holds(false).await.unwrap().len());
    check(
        "due_holds",
        store.due_holds(SystemClock.now(), 100).await.unwrap().len(),
    );
    check("quarantined", store.quarantined().await.unwrap().len());
    let history_of = stored(1, "page-history").order.order_ref;
    check("history", store.history(&history_of).await.unwrap().len());
    // The limit is honoured across pages too, and no page is read past it.
    let due = store.due_holds(SystemClock.now(), 3).await.unwrap();
    assert_eq!(due.len(), 3);
    let counts = table.counts.take();
    assert_eq!(counts.of("Query"), 2, "3 items in pages of two: two Queries: {counts}");
}

/// DynamoDB's refusals map to the domain's errors: what may pass is `Unavailable` (503, the mall
/// retries), a bug is `Corrupt`.
#[tokio::test]
async fn refusals_map_to_unavailable_or_corrupt() {
    let table = Table::new().await;

    // An item over DynamoDB's 400 KB: a ValidationException, which no retry fixes.
    let mut huge = stored(2, "huge-1");
    // Noise (xorshift), so compression cannot bring it under the limit.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    huge.raw = (0..600_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let batch = WriteBatch {
        orders: vec![(huge, Expect::Absent)],
        ..WriteBatch::default()
    };
    match table.store.commit(batch).await {
        Err(CommitError::Store(StoreError::Corrupt(message))) => println!("too large: {message}"),
        other => panic!("an item over 400 KB must be Corrupt, got {other:?}"),
    }

    // More than one transaction takes.
    let mut batch = WriteBatch::default();
    for i in 0..101 {
        batch.orders.push((stored(3, &format!("many-{i}")), Expect::Any));
    }
    match table.store.commit(batch).await {
        Err(CommitError::Store(StoreError::Corrupt(message))) => {
            assert!(message.contains("101"), "{message}")
        }
        other => panic!("a batch of 101 items must be refused, got {other:?}"),
    }

    // A table that does not exist: a configuration bug.
    let missing = DynamoDbStore::new(
        table.client.clone(),
        "mallguard-no-such-table".into(),
        mallguard_aws::dynamodb::DEFAULT_RETENTION,
    );
    match missing
        .hold(
            &hold_for(
                &order_at("x", "2026-11-23T03:00:00Z"),
                &order_at("y", "2026-11-23T03:00:00Z"),
            )
            .id,
        )
        .await
    {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("a missing table must be Corrupt, got {other:?}"),
    }

    // Nobody listening: the SDK retries, then the store is Unavailable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let sdk = mallguard_aws::sdk::loader()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("t", "t", None, None, "t"))
        .load()
        .await;
    let down = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table.name.clone(),
        mallguard_aws::dynamodb::DEFAULT_RETENTION,
    );
    match down.delivery_digest("d").await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("an unreachable DynamoDB must be Unavailable, got {other:?}"),
    }
    match down
        .commit(WriteBatch {
            deliveries: vec![mallguard_domain::ports::WebhookDelivery {
                id: "d".into(),
                digest: mallguard_domain::order::PayloadDigest::of(b"d"),
            }],
            ..WriteBatch::default()
        })
        .await
    {
        Err(CommitError::Store(StoreError::Unavailable(_))) => {}
        other => panic!("an unreachable DynamoDB must be Unavailable, got {other:?}"),
    }
}
