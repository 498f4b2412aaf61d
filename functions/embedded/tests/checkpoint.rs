//! The WAL is copied back into the database file by the store's own thread, not by a commit: a request
//! never waits for a checkpoint.

mod common;

use std::time::Duration;

use common::new_order;
use mallguard_domain::ports::roles::*;
use mallguard_embedded::SqliteStore;

#[tokio::test]
async fn committed_pages_reach_the_database_file_without_a_commit_checkpointing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    // Let the thread copy the schema, so what follows is the orders only.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let before = std::fs::metadata(&path).unwrap().len();
    // Far fewer pages than SQLite's automatic checkpoint (1,000) would wait for: had a commit to do it,
    // the database file would not grow at all.
    for n in 0..50 {
        store.commit(new_order(&format!("CP-{n}"))).await.unwrap();
    }
    let mut grown = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if std::fs::metadata(&path).unwrap().len() > before {
            grown = true;
            break;
        }
    }
    assert!(
        grown,
        "the checkpoint thread copied the new pages into the database file"
    );
}
