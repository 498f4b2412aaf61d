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

/// Under commits that never pause, the WAL is still started over: SQLite does that only when a commit
/// begins with every page copied, which a checkpoint running beside steady commits never achieves, so
/// without the checkpointer's help the file would grow by every commit's pages for as long as the load
/// lasts. The WAL file's header counts the times it was started over (its checkpoint sequence number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_commits_that_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut wal = path.into_os_string();
    wal.push("-wal");
    let started_over = || {
        use std::io::Read;
        let mut header = [0u8; 16];
        std::fs::File::open(&wal).unwrap().read_exact(&mut header).unwrap();
        u32::from_be_bytes(header[12..16].try_into().unwrap())
    };
    // Four requests at a time, as a burst of webhooks comes: a commit always waits for the one before it.
    let committers: Vec<_> = (0..4)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..1_000 {
                    store.commit(new_order(&format!("WAL-{c}-{n}"))).await.unwrap();
                }
            })
        })
        .collect();
    for committer in committers {
        committer.await.unwrap();
    }
    let commits = 4_000;
    assert!(
        started_over() >= 2,
        "{commits} commits and the WAL was started over {} times",
        started_over()
    );
}
