//! Commits that arrive together share one transaction (one WAL sync), and each still gets its own
//! outcome: a batch whose condition broke is refused alone, the others in its transaction commit.

mod common;

use std::time::Duration;

use common::new_order;
use mallguard_domain::ports::CommitError;
use mallguard_domain::ports::roles::*;
use mallguard_domain::testing::order;
use mallguard_embedded::SqliteStore;

const REQUESTS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_waiting_together_share_a_transaction_and_keep_their_own_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    store.commit(new_order("G-existing")).await.unwrap();
    let before = store.transactions();

    // Another connection holds the write lock, so the requests below pile up behind it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.commit(new_order(&format!("G-{i}"))).await })
        })
        .collect();
    // One of them asks for an order that exists already: its condition is broken.
    let conflicting = {
        let store = store.clone();
        tokio::spawn(async move { store.commit(new_order("G-existing")).await })
    };
    // Time for every request to queue (the busy timeout is seconds away), then the lock goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    other.execute_batch("COMMIT").unwrap();

    for request in requests {
        request.await.unwrap().expect("every new order commits");
    }
    assert!(matches!(conflicting.await.unwrap(), Err(CommitError::Conflict)));
    for i in 0..REQUESTS {
        let id = format!("G-{i}");
        assert!(
            store.order(&order(&id).order_ref).await.unwrap().is_some(),
            "{id} was stored"
        );
    }
    let transactions = store.transactions() - before;
    // The first request may commit alone; the rest queued behind the lock and went in together.
    assert!(transactions <= 3, "{REQUESTS} commits took {transactions} transactions");
    assert!(transactions >= 1);
}
