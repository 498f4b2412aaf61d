//! Another process holds the embedded store's write lock (a staff tool in another terminal, a backup, a
//! stuck process): every webhook waiting for it is answered 503 within about one busy timeout, together,
//! so the malls retry, and the buyer's page is served meanwhile.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, event, mallguard, start, stdout};
use mallguard_tests::OutboxMail;

/// Orders none of which the store has yet: each one's webhook must commit.
const NEW_ORDERS: [&str; 6] = [
    "generic/order-unrelated.json",
    "generic/rakuten-order.json",
    "generic/yahoo-order.json",
    "shopify/orders-create.json",
    "shopify/orders-create-duplicate.json",
    "shopify/orders-create-unrelated.json",
];

/// The store's busy timeout is 5 s. One after another, six webhooks (and the page) took 35 s and more;
/// together they take about 5. Generous, for a busy machine.
const ANSWERED_WITHIN: Duration = Duration::from_secs(20);

fn send(data: &Path, url: &str, file: &str) -> Child {
    Command::new(BIN)
        .env("MALLGUARD_DATA", data)
        .env("MALLGUARD_LOG", "warn")
        .args(["send", &event(file), "--url", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn cancel_link(data: &Path) -> String {
    let dir: PathBuf = data.join("outbox");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let notice = paths
        .iter()
        .map(|p| OutboxMail::read(p))
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the notice is in the outbox");
    notice.links()[1].clone()
}

#[tokio::test]
async fn webhooks_waiting_for_a_locked_store_are_all_answered_503_within_one_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let (_server, url) = start(&data);
    for file in ["generic/order.json", "generic/order-duplicate.json"] {
        mallguard(&data, &["send", &event(file), "--url", &url]);
    }
    let page = cancel_link(&data);

    // Another process takes the write lock and keeps it.
    let other = rusqlite::Connection::open(data.join("mallguard.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let senders: Vec<Child> = NEW_ORDERS.iter().map(|file| send(&data, &url, file)).collect();
    // The buyer opens the page meanwhile. It reads the hold and both orders, and notes the opening in the
    // evidence: that note waits for the lock like any write, gives up like them, and the page is shown.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shown = reqwest::get(&page).await.unwrap();
    assert_eq!(
        shown.status(),
        200,
        "the buyer's page is shown while the store is locked"
    );

    let mut unavailable = 0;
    for sender in senders {
        let output = sender.wait_with_output().unwrap();
        let printed = stdout(&output);
        assert!(
            !output.status.success(),
            "a webhook cannot succeed on a locked store: {printed}"
        );
        if printed.contains("503") {
            unavailable += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(unavailable, NEW_ORDERS.len(), "every webhook is told to retry");
    assert!(
        elapsed < ANSWERED_WITHIN,
        "{} webhooks and the page took {elapsed:?} to be answered",
        NEW_ORDERS.len()
    );

    // The lock released, a retry goes through.
    other.execute_batch("ROLLBACK").unwrap();
    let retried = stdout(&mallguard(&data, &["send", &event(NEW_ORDERS[0]), "--url", &url]));
    assert!(retried.contains("\"accepted\""), "{retried}");
}
