//! A store whose file another process holds the write lock of (a `mallguard expire --now` in another
//! terminal, a backup tool, a stuck process): every request that waits for it must give up within one
//! busy timeout, together, so the mall gets its 503 and retries, and reads must not wait at all.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::new_order;
use mallguard_domain::ports::roles::*;
use mallguard_domain::ports::{CommitError, StoreError};
use mallguard_domain::testing::order;
use mallguard_embedded::SqliteStore;

/// Small, so the test is quick; the store's default is a few seconds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Six webhooks arriving together, as a mall's burst of retries does.
const WRITERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_against_a_locked_file_all_give_up_within_one_busy_timeout_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap().with_busy_timeout(BUSY_TIMEOUT);
    store.commit(new_order("locked-0")).await.unwrap();

    // Another process takes the write lock and keeps it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (1..=WRITERS)
        .map(|i| {
            let (store, finished) = (store.clone(), Arc::clone(&finished));
            tokio::spawn(async move {
                let result = store.commit(new_order(&format!("locked-{i}"))).await;
                finished.fetch_add(1, Ordering::SeqCst);
                (result, started.elapsed())
            })
        })
        .collect();
    // Let the writers queue up, then read: the buyer's page reads a hold and two orders.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let read = store.order(&order("locked-0").order_ref).await;
    let finished_before_the_read = finished.load(Ordering::SeqCst);
    assert!(
        read.unwrap().is_some(),
        "the committed order reads back while the file is locked"
    );
    assert!(store.holds(false).await.unwrap().is_empty());
    assert_eq!(
        finished_before_the_read, 0,
        "reads do not queue behind the writers waiting for the lock"
    );

    let mut unavailable = 0;
    let mut last = Duration::ZERO;
    for writer in writers {
        let (result, elapsed) = writer.await.unwrap();
        match result {
            // Each says the store is busy, whether it waited alone or in a group that never began.
            Err(CommitError::Store(StoreError::Unavailable(why))) if !why.contains("writer stopped") => {
                unavailable += 1
            }
            other => panic!("a commit against a locked file must be Unavailable, got {other:?}"),
        }
        last = last.max(elapsed);
    }
    assert_eq!(unavailable, WRITERS);
    // One after another they would take WRITERS × BUSY_TIMEOUT (12 s); together, about one.
    assert!(
        last < BUSY_TIMEOUT * 3,
        "the last of {WRITERS} waiting commits answered after {last:?}; the busy timeout is {BUSY_TIMEOUT:?}"
    );

    // The lock released, the store writes again, and nothing of the failed commits was written.
    other.execute_batch("ROLLBACK").unwrap();
    store.commit(new_order("locked-after")).await.unwrap();
    for i in 1..=WRITERS {
        let missing = store.order(&order(&format!("locked-{i}")).order_ref).await.unwrap();
        assert!(missing.is_none(), "locked-{i} was refused, so it is not stored");
    }
}
