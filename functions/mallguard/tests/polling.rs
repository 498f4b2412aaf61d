//! The malls that push nothing, polled by the real program against a fake RMS over real HTTP: the
//! cross-mall story (a Rakuten order polled, the same buyer's Yahoo! order relayed → held) and what the
//! staff see when the credentials expire.
//! The fake runs on this test's runtime while the program runs as a child process: the runtime has
//! threads of its own so the fake answers while a test waits for the child.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, event, mallguard, stdout};
use mallguard_feeds::fake::{FakeRms, LICENSE_KEY, SERVICE_SECRET};

/// Yesterday in Japan: the fakes serve their sample orders on it, as `send` moves a sample's orders, so
/// the tests read "the last two days" by the real clock on any day they run.
fn yesterday() -> jiff::civil::Date {
    use mallguard_domain::ports::Clock;
    let today = mallguard_domain::ports::SystemClock
        .now()
        .to_zoned(mallguard_domain::policy::jst())
        .date();
    today.yesterday().unwrap()
}

/// Runs `mallguard ARGS` against the fake RMS.
fn with_rms(data: &Path, rms: &FakeRms, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .env("MALLGUARD_DATA", data)
        .env("MALLGUARD_RAKUTEN_URL", rms.url())
        .env("MALLGUARD_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

/// Makes the data folder's secrets and adds the Rakuten shop's RMS credentials to them.
fn add_rakuten_shop(data: &Path) {
    let _ = mallguard(data, &["quarantine", "list"]);
    let path = data.join("secrets.json");
    let mut secrets: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    secrets["rakuten"] = serde_json::json!({
        "tanaka-rakuten": { "service_secret": SERVICE_SECRET, "license_key": LICENSE_KEY }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&secrets).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_rakuten_order_holds_the_same_buyers_yahoo_order() {
    let rms = FakeRms::start_on(yesterday()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");

    let none = stdout(&with_rms(&data, &rms, &["poll", "--now"]));
    assert!(none.contains("secrets.json"), "says what to configure: {none}");
    add_rakuten_shop(&data);

    let first = with_rms(&data, &rms, &["poll", "--now", "--mall", "rakuten"]);
    let first_text = stdout(&first);
    assert!(
        first.status.success(),
        "{first_text}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        first_text.contains("rakuten tanaka-rakuten: 注文 2、受付 2"),
        "{first_text}"
    );

    // The same buyer's Yahoo! order, relayed 40 minutes later (`send` moves it to yesterday too).
    // The server polls too (at once, then on its timer): at the fake, never at Rakuten.
    let (_server, url) = common::start_with_env(&data, &[("MALLGUARD_RAKUTEN_URL", rms.url())]);
    let held = stdout(&mallguard(
        &data,
        &["send", &event("generic/yahoo-order.json"), "--url", &url],
    ));
    assert!(held.contains("\"held\""), "{held}");
    let holds = stdout(&mallguard(&data, &["holds"]));
    assert!(
        holds.contains("yahoo #") && holds.contains("rakuten #386193-20261123-0000012345"),
        "{holds}"
    );

    // A second poll reads the same orders again: nothing new, nothing written but the cursor. (The server's
    // own poll ran at its start; wait for it so the count below is this command's alone.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while rms.requests(mallguard_feeds::fake::Endpoint::SearchOrder) < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let searches = rms.requests(mallguard_feeds::fake::Endpoint::SearchOrder);
    let again = stdout(&with_rms(&data, &rms, &["poll"]));
    assert!(again.contains("受付 0") && again.contains("保留 0"), "{again}");
    assert_eq!(rms.requests(mallguard_feeds::fake::Endpoint::SearchOrder), searches + 1);

    // A cancellation at Rakuten arrives with the next poll and is in the order's evidence.
    rms.cancel_yamada();
    let cancelled = stdout(&with_rms(&data, &rms, &["poll"]));
    assert!(cancelled.contains("更新 1"), "{cancelled}");
    let evidence = stdout(&mallguard(
        &data,
        &["evidence", "rakuten", "386193-20261123-0000012345"],
    ));
    assert!(evidence.contains("キャンセル"), "{evidence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_license_key_fails_the_poll_and_alerts_the_staff_once() {
    let rms = FakeRms::start_on(yesterday()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    add_rakuten_shop(&data);
    rms.expire_key();
    for _ in 0..3 {
        let out = with_rms(&data, &rms, &["poll"]);
        assert!(!out.status.success(), "a failed poll is a failed command");
        let text = stdout(&out);
        assert!(text.contains("読み取れませんでした"), "{text}");
        assert!(!text.contains(LICENSE_KEY), "no credential in the output: {text}");
    }
    let alerts: Vec<_> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("staff_feed_failure"))
        .collect();
    assert_eq!(alerts.len(), 1, "one alert a day, however many polls fail: {alerts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_yahoo_order_of_the_buyer_of_a_polled_rakuten_order_is_held_on_the_next_pass() {
    use mallguard_feeds::fake_yahoo::{CLIENT_ID, CLIENT_SECRET, FakeYahoo, REFRESH_TOKEN, SELLER};
    let rms = FakeRms::start_on(yesterday()).await;
    let yahoo = FakeYahoo::start_on(yesterday()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    add_rakuten_shop(&data);
    let path = data.join("secrets.json");
    let mut secrets: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    secrets["yahoo"] = serde_json::json!({
        SELLER: { "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&secrets).unwrap()).unwrap();
    let poll = |mall: &str| {
        let out = Command::new(BIN)
            .env("MALLGUARD_DATA", &data)
            .env("MALLGUARD_RAKUTEN_URL", rms.url())
            .env("MALLGUARD_YAHOO_URL", format!("{}/ShoppingWebService/V1/", yahoo.url()))
            .env(
                "MALLGUARD_YAHOO_TOKEN_URL",
                format!("{}/yconnect/v2/token", yahoo.url()),
            )
            .env("MALLGUARD_LOG", "warn")
            .args(["poll", "--mall", mall])
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let rakuten = poll("rakuten");
    assert!(rakuten.contains("受付 2"), "{rakuten}");
    // The fake's two Yahoo! orders are both 山田 太郎's (the second a copy of the first with its own id and
    // time): each is held against the Rakuten order, the first of the chain.
    let polled = poll("yahoo");
    assert!(
        polled.contains("yahoo tanaka-yahoo:") && polled.contains("保留 2"),
        "{polled}"
    );
    let holds = stdout(&mallguard(&data, &["holds"]));
    assert!(
        holds.contains(&format!("yahoo #{}", mallguard_feeds::fake_yahoo::FIRST)),
        "{holds}"
    );
    assert!(
        holds.contains("rakuten #386193-20261123-0000012345"),
        "held against the Rakuten order: {holds}"
    );
    let notice = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("-notice-"))
        .count();
    assert_eq!(notice, 2, "the Yahoo! buyer got a notice for each held order");
    // Polled again: nothing new.
    let again = poll("yahoo");
    assert!(again.contains("受付 0") && again.contains("保留 0"), "{again}");
}
