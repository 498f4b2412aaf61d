//! The store contract (`mallguard_domain::contract`) against the embedded store, in memory and in a file,
//! plus what only a file shows: the data outlives the process, and two connections to one file (two
//! processes of the local stack) still serialise their decisions.

use mallguard_domain::contract;
use mallguard_domain::identity::{IdentityHasher, ProductMap};
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::ports::roles::*;
use mallguard_domain::ports::{CommitError, Expect, StoreError, StoredOrder, WriteBatch};
use mallguard_domain::service::index_entries;
use mallguard_domain::testing::order;
use mallguard_embedded::SqliteStore;

/// The contract on the store in memory, one test per check.
mod in_memory {
    use mallguard_embedded::SqliteStore;

    mallguard_domain::store_contract!(store => SqliteStore::in_memory().unwrap());
}

/// The contract on a store in a file of its own, one test per check.
mod in_a_file {
    use mallguard_embedded::SqliteStore;

    mallguard_domain::store_contract!(store => {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        (store, dir)
    });
}

/// The contract on a store in a file that writes a request's record of its mails after answering, as
/// `mallguard serve` runs it.
mod in_a_file_writing_behind {
    use mallguard_embedded::SqliteStore;

    mallguard_domain::store_contract!(store => {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap().writing_behind();
        (store, dir)
    });
}

#[tokio::test]
async fn the_file_store_keeps_its_data_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that does not exist yet: `open` creates it.
    let path = dir.path().join("state").join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    // The checks whose items the reopened store must still have: every kind of item, heads, deliveries,
    // poll cursors.
    contract::every_item_round_trips(&store).await;
    contract::a_stale_head_version_conflicts(&store).await;
    contract::deliveries_are_remembered_and_a_repeat_is_no_conflict(&store).await;
    contract::cursors_move_only_from_the_version_read(&store).await;
    assert!(
        dir.path().join("state").join("mallguard.db-wal").exists(),
        "the store runs in WAL mode"
    );

    let held = order("c-rt-2").order_ref;
    let cursor_shop = ShopId::parse("contract-cursor").unwrap();
    let cursor = store.cursor(Mall::Rakuten, &cursor_shop).await.unwrap();
    assert!(cursor.is_some());
    let before = (
        store.order(&held).await.unwrap(),
        store.holds(false).await.unwrap(),
        store.history(&held).await.unwrap(),
        store.quarantined().await.unwrap(),
    );
    assert!(before.0.is_some() && !before.1.is_empty() && !before.2.is_empty() && !before.3.is_empty());
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    let after = (
        store.order(&held).await.unwrap(),
        store.holds(false).await.unwrap(),
        store.history(&held).await.unwrap(),
        store.quarantined().await.unwrap(),
    );
    assert_eq!(
        after, before,
        "orders (with raw payloads), holds, history and quarantine persist"
    );
    assert!(store.delivery_digest("contract-dlv-1").await.unwrap().is_some());
    assert_eq!(
        store.cursor(Mall::Rakuten, &cursor_shop).await.unwrap(),
        cursor,
        "poll cursors persist"
    );
    // Heads persist too: the stale-head check left its keys at version 2.
    let heads_order = order("c-head-1");
    let heads_keys = IdentityHasher::new(b"contract heads".to_vec())
        .order_identity(&heads_order)
        .keys;
    let at = heads_order.placed_at;
    let snapshot = store
        .ingest_snapshot(&heads_order.order_ref, &heads_keys, at, at)
        .await
        .unwrap();
    assert!(
        !snapshot.heads.is_empty() && snapshot.heads.iter().all(|h| h.version == 2),
        "{:?}",
        snapshot.heads
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_reported_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

fn stored(id: &str) -> StoredOrder {
    let order = order(id);
    StoredOrder {
        identity: IdentityHasher::new(b"race pepper".to_vec()).order_identity(&order),
        products: ProductMap::default().products_of(&order),
        raw: id.as_bytes().to_vec(),
        received_at: order.placed_at,
        version: 1,
        hold: None,
        duplicates: vec![],
        order,
    }
}

/// One decision per racer (orders `race-{i}` for i in `racers`), all read at head version 0 for the
/// same customer.
fn racing_batches(
    store: &SqliteStore,
    racers: std::ops::Range<usize>,
) -> impl Iterator<Item = (SqliteStore, WriteBatch)> + '_ {
    racers.map(move |i| {
        let order = stored(&format!("race-{i}"));
        let heads = order
            .identity
            .keys
            .iter()
            .map(|k| mallguard_domain::ports::Head {
                key: k.clone(),
                version: 0,
            })
            .collect();
        let batch = WriteBatch {
            heads,
            index: index_entries(&order),
            orders: vec![(order, Expect::Absent)],
            ..WriteBatch::default()
        };
        (store.clone(), batch)
    })
}

async fn count_winners(tasks: Vec<tokio::task::JoinHandle<Result<(), CommitError>>>) -> usize {
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => winners += 1,
            Err(CommitError::Conflict) => {}
            Err(other) => panic!("a racer failed with {other:?}"),
        }
    }
    winners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_decisions_racing_on_one_customer_exactly_one_wins() {
    let store = SqliteStore::in_memory().unwrap();
    let tasks = racing_batches(&store, 0..16)
        .map(|(store, batch)| tokio::spawn(async move { store.commit(batch).await }))
        .collect();
    assert_eq!(count_winners(tasks).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_to_one_file_still_let_exactly_one_decision_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    // Two stores on one file stand for two processes: SQLite's file lock, not our mutex, serialises them.
    let stores = [SqliteStore::open(&path).unwrap(), SqliteStore::open(&path).unwrap()];
    let tasks: Vec<_> = racing_batches(&stores[0], 0..8)
        .chain(racing_batches(&stores[1], 8..16))
        .map(|(store, batch)| tokio::spawn(async move { store.commit(batch).await }))
        .collect();
    assert_eq!(count_winners(tasks).await, 1);
    for store in &stores {
        let mut stored = 0;
        for i in 0..16 {
            if store
                .order(&order(&format!("race-{i}")).order_ref)
                .await
                .unwrap()
                .is_some()
            {
                stored += 1;
            }
        }
        assert_eq!(
            stored, 1,
            "only the winner's order is stored, and both connections see it"
        );
    }
}
