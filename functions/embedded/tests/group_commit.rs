//! Commits that arrive together share one transaction (one WAL sync), and each still gets its own
//! outcome: a batch whose condition broke is refused alone, the others in its transaction commit.

mod common;

use std::time::Duration;

use common::new_order;
use mallguard_domain::history::{Event, HistoryEntry};
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

/// A statement failing halfway through one batch of a group (a full disk, say; here a trigger refusing the
/// batch's history row, written after its order row) fails that batch alone: nothing of it stays, and the
/// other batches of its transaction commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_failing_in_one_batch_of_a_group_fails_that_batch_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    let before = store.transactions();

    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER refuse_broken BEFORE INSERT ON history WHEN NEW.order_key LIKE '%F-broken%'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let with_history = |id: &str| {
        let mut batch = new_order(id);
        let stored = &batch.orders[0].0.order;
        let received = Event::Received {
            digest: stored.payload_digest.clone(),
            status: stored.status,
        };
        batch
            .history
            .push(HistoryEntry::new(&stored.order_ref, stored.placed_at, received));
        batch
    };
    let requests: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let (store, batch) = (store.clone(), with_history(&format!("F-{i}")));
            tokio::spawn(async move { store.commit(batch).await })
        })
        .collect();
    let broken = {
        let (store, batch) = (store.clone(), with_history("F-broken"));
        tokio::spawn(async move { store.commit(batch).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    other.execute_batch("COMMIT").unwrap();

    let refused = broken.await.unwrap();
    assert!(matches!(refused, Err(CommitError::Store(_))), "{refused:?}");
    for request in requests {
        request.await.unwrap().expect("every other order commits");
    }
    for i in 0..REQUESTS {
        let id = format!("F-{i}");
        let stored = order(&id).order_ref;
        assert!(store.order(&stored).await.unwrap().is_some(), "{id} was stored");
        assert_eq!(store.history(&stored).await.unwrap().len(), 1, "{id}'s history");
    }
    // Its order row was written before its history failed, and went with the rest of it.
    assert!(store.order(&order("F-broken").order_ref).await.unwrap().is_none());
    let transactions = store.transactions() - before;
    assert!(transactions <= 3, "{REQUESTS} commits took {transactions} transactions");
}

/// With the file's lock free a commit runs where it was asked: the blocking pool's only thread is taken
/// here, and the commit is done all the same.
#[test]
fn a_commit_with_the_lock_free_needs_no_thread_of_the_blocking_pool() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let taken = tokio::task::spawn_blocking(move || released.recv());
        // A hang guard, not a measure: through the pool the commit would wait for `taken` forever.
        let committed = tokio::time::timeout(Duration::from_secs(30), store.commit(new_order("P-1"))).await;
        release.send(()).unwrap();
        taken.await.unwrap().unwrap();
        committed
            .expect("the commit did not wait for the blocking pool")
            .unwrap();
        assert!(store.order(&order("P-1").order_ref).await.unwrap().is_some());
    });
}

/// A commit that finds the file locked by another process does not fail at once: it waits (on the blocking
/// pool, not holding up the runtime) and commits when the lock goes.
#[tokio::test]
async fn a_commit_that_finds_the_file_locked_waits_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mallguard.db");
    let store = SqliteStore::open(&path).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let waiting = {
        let store = store.clone();
        tokio::spawn(async move { store.commit(new_order("L-1")).await })
    };
    // The runtime (one thread) goes on meanwhile: this request is served while the commit waits.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "the commit waits for the lock");
    assert!(store.order(&order("L-1").order_ref).await.unwrap().is_none());
    other.execute_batch("COMMIT").unwrap();
    waiting.await.unwrap().expect("committed once the lock went");
    assert!(store.order(&order("L-1").order_ref).await.unwrap().is_some());
}

/// Commits that become ready together, as the outcomes of the mails one request sent together, share one
/// transaction even when nothing holds the writer; a commit not said to have company goes at once, so two
/// such commits in one task take a transaction each.
#[tokio::test]
async fn commits_said_to_come_together_share_a_transaction_and_others_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
    let before = store.transactions();
    let (a, b) = tokio::join!(
        store.commit_beside_others(new_order("T-1")),
        store.commit_beside_others(new_order("T-2"))
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        store.transactions() - before,
        1,
        "two commits beside each other, one transaction"
    );
    let before = store.transactions();
    let (a, b) = tokio::join!(store.commit(new_order("T-3")), store.commit(new_order("T-4")));
    a.unwrap();
    b.unwrap();
    assert_eq!(store.transactions() - before, 2, "two lone commits, two transactions");
    for id in ["T-1", "T-2", "T-3", "T-4"] {
        assert!(store.order(&order(id).order_ref).await.unwrap().is_some(), "{id}");
    }
}

/// Counts the wake-ups of the task polling `inner`.
struct CountWakes<F> {
    inner: std::pin::Pin<Box<F>>,
    wakes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

struct CountingWaker {
    task: std::task::Waker,
    wakes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl std::task::Wake for CountingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.wakes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

impl<F: std::future::Future> std::future::Future for CountWakes<F> {
    type Output = F::Output;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let waker = std::task::Waker::from(std::sync::Arc::new(CountingWaker {
            task: cx.waker().clone(),
            wakes: std::sync::Arc::clone(&self.wakes),
        }));
        self.inner.as_mut().poll(&mut std::task::Context::from_waker(&waker))
    }
}

/// A commit that finds the writer free commits and answers without waking its own task: a task that wakes
/// itself is polled again by tokio once it next waits, and an idle worker thread is woken to take it.
#[tokio::test]
async fn a_lone_commit_never_wakes_its_own_task() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("mallguard.db")).unwrap();
    let wakes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for n in 0..REQUESTS {
        let commit = CountWakes {
            inner: Box::pin(store.commit(new_order(&format!("W-{n}")))),
            wakes: std::sync::Arc::clone(&wakes),
        };
        commit.await.unwrap();
    }
    assert_eq!(wakes.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(store.order(&order("W-0").order_ref).await.unwrap().is_some());
}
