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
use mallguard_tests::OutboxMail;

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

    // A second poll finds nothing new: two searches (new orders, and cancellations in the window), no
    // getOrder, nothing written but the cursor. (The server's own poll ran at its start, two searches after
    // the first command's one; wait for it so the counts below are this command's alone.)
    use mallguard_feeds::fake::Endpoint;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while rms.requests(Endpoint::SearchOrder) < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (searches, gets) = (rms.requests(Endpoint::SearchOrder), rms.requests(Endpoint::GetOrder));
    let again = stdout(&with_rms(&data, &rms, &["poll"]));
    assert!(again.contains("注文 0") && again.contains("受付 0"), "{again}");
    assert_eq!(rms.requests(Endpoint::SearchOrder), searches + 2);
    assert_eq!(rms.requests(Endpoint::GetOrder), gets, "no order read again");

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

/// The whole cross-mall story on the local program, each mall through its own interface: a Rakuten order
/// polled; the same buyer's Yahoo! order polled on the next pass → held; the same buyer's Amazon order
/// arriving as Amazon's SQS message → read from the SP-API and held against the first, with no phone
/// contact and Amazon's customer-service fallback in the staff mail. A rotated Yahoo! refresh token is
/// written back to secrets.json on the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rakuten_then_yahoo_then_amazon_each_through_its_own_interface() {
    use mallguard_feeds::fake_amazon::{self, FakeSpApi};
    use mallguard_feeds::fake_yahoo::{CLIENT_ID, CLIENT_SECRET, FIRST, FakeYahoo, REFRESH_TOKEN, SECOND, SELLER};
    let rms = FakeRms::start_on(yesterday()).await;
    let yahoo = FakeYahoo::start_on(yesterday()).await;
    let amazon = FakeSpApi::start_on(yesterday()).await;
    yahoo.rotate_refresh_token("rotated-refresh-token");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    add_rakuten_shop(&data);
    let path = data.join("secrets.json");
    let mut secrets: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    secrets["yahoo"] = serde_json::json!({
        SELLER: { "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN }
    });
    secrets["amazon"] = serde_json::json!({
        fake_amazon::SELLER: {
            "client_id": fake_amazon::CLIENT_ID,
            "client_secret": fake_amazon::CLIENT_SECRET,
            "refresh_token": fake_amazon::REFRESH_TOKEN
        }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&secrets).unwrap()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .env("MALLGUARD_DATA", &data)
            .env("MALLGUARD_RAKUTEN_URL", rms.url())
            .env("MALLGUARD_YAHOO_URL", format!("{}/ShoppingWebService/V1/", yahoo.url()))
            .env(
                "MALLGUARD_YAHOO_TOKEN_URL",
                format!("{}/yconnect/v2/token", yahoo.url()),
            )
            .env("MALLGUARD_AMAZON_URL", amazon.url())
            .env(
                "MALLGUARD_AMAZON_TOKEN_URL",
                format!("{}{}", amazon.url(), fake_amazon::LWA_PATH),
            )
            .env("MALLGUARD_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    };
    let rakuten = run(&["poll", "--mall", "rakuten"]);
    assert!(rakuten.contains("受付 2"), "{rakuten}");
    let polled = run(&["poll", "--mall", "yahoo"]);
    assert!(polled.contains("保留 2"), "{polled}");
    // Each held Yahoo! order's buyer has the notice in the outbox.
    let outbox = || -> Vec<OutboxMail> {
        std::fs::read_dir(data.join("outbox"))
            .unwrap()
            .map(|e| OutboxMail::read(&e.unwrap().path()))
            .collect()
    };
    for yahoo_order in [FIRST, SECOND] {
        let notices = outbox()
            .into_iter()
            .filter(|m| {
                m.to.contains("taro.yamada@example.com")
                    && m.subject.contains("ご確認のお願い")
                    && m.text.contains(yahoo_order)
            })
            .count();
        assert_eq!(notices, 1, "the notice of the held Yahoo! order {yahoo_order}");
    }
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        kept["yahoo"][SELLER]["refresh_token"], "rotated-refresh-token",
        "the rotated refresh token is written back"
    );
    assert_eq!(kept["amazon"][fake_amazon::SELLER]["client_id"], fake_amazon::CLIENT_ID);

    // Amazon's SQS event: two deliveries of one ORDER_CHANGE notification.
    let notified = run(&["notify", &event("lambda/amazon-notifications-sqs.json")]);
    assert!(
        notified.contains("通知 2") && notified.contains("保留 1") && notified.contains("処理済み 1"),
        "{notified}"
    );
    let holds = stdout(&mallguard(&data, &["holds"]));
    let amazon_line = holds
        .lines()
        .find(|l| l.contains(&format!("amazon #{}", fake_amazon::ORDER)))
        .unwrap_or_else(|| panic!("the Amazon order is held: {holds}"));
    assert!(
        amazon_line.contains("rakuten #386193-20261123-0000012345"),
        "held against the first order, the Rakuten one: {holds}"
    );
    let mails: Vec<OutboxMail> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| OutboxMail::read(&e.unwrap().path()))
        .collect();
    let staff_mail = mails
        .iter()
        .find(|m| m.to.contains("staff@") && m.subject.contains(fake_amazon::ORDER))
        .unwrap_or_else(|| {
            panic!(
                "a staff mail about the Amazon hold: {:?}",
                mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
            )
        });
    assert!(staff_mail.text.contains("電話連絡は禁止"), "{}", staff_mail.text);
    assert!(staff_mail.text.contains("カスタマーサービス"), "{}", staff_mail.text);
    // The buyer's notice went to Amazon's relay address.
    assert!(
        mails
            .iter()
            .any(|m| m.to.contains("@marketplace.amazon.co.jp") && m.subject.contains("ご確認のお願い")),
        "no notice to the relay address: {:?}",
        mails.iter().map(|m| (&m.to, &m.subject)).collect::<Vec<_>>()
    );
    assert_eq!(amazon.requests(fake_amazon::Endpoint::GetOrder), 1, "read once");

    // The backstop finds nothing Amazon did not notify: the order is a redelivery.
    let backstop = run(&["poll", "--mall", "amazon"]);
    assert!(backstop.contains("受付 0") && backstop.contains("保留 0"), "{backstop}");
}

/// What the mall reports wins: a polled Rakuten order held as a duplicate of the same buyer's own-store
/// order ships at Rakuten before anybody answered; the next poll sees it, the hold settles as shipped, the
/// staff are told, and nobody is cancelled or mailed a cancellation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_rakuten_order_that_ships_at_rakuten_settles_as_shipped_and_is_never_cancelled() {
    use mallguard_feeds::fake::YAMADA;
    let rms = FakeRms::start_on(yesterday()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    // The server starts before the Rakuten shop is in the secrets, so it polls nothing itself.
    let (server, url) = common::start_with_env(&data, &[("MALLGUARD_RAKUTEN_URL", rms.url())]);
    // The same buyer's own-store order first (`send` places it yesterday, as the fake's orders).
    let sent = stdout(&mallguard(
        &data,
        &["send", &event("generic/order.json"), "--url", &url],
    ));
    assert!(sent.contains("\"accepted\""), "{sent}");
    drop(server);
    add_rakuten_shop(&data);
    let polled = stdout(&with_rms(&data, &rms, &["poll", "--mall", "rakuten"]));
    assert!(
        polled.contains("保留 1"),
        "the Rakuten order of the same buyer is held: {polled}"
    );

    rms.set_progress(YAMADA, 500);
    let shipped = stdout(&with_rms(&data, &rms, &["poll", "--mall", "rakuten"]));
    assert!(shipped.contains("更新 1"), "{shipped}");
    let holds = stdout(&mallguard(&data, &["holds", "--all"]));
    assert!(holds.contains("発送済み"), "{holds}");
    let subjects: Vec<String> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| OutboxMail::read(&e.unwrap().path()).subject)
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("保留中の注文が発送されました")),
        "the staff are told: {subjects:?}"
    );
    assert!(
        !subjects.iter().any(|s| s.contains("キャンセル")),
        "nobody is mailed a cancellation: {subjects:?}"
    );
}
