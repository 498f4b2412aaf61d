//! What happens at the mall, with the real program against fake malls over real HTTP: a Shopify duplicate
//! held on each open fulfillment order, the buyer's cancellation done at Shopify before the buyer's receipt,
//! and a Yahoo! duplicate polled and put on hold (status 3) there and cancelled (status 4) at the deadline,
//! while an Amazon duplicate waits for the staff. The fakes run on this test's runtime while the program runs
//! as a child process; the sweep runs past a deadline with the debug binary's `MALLGUARD_TEST_NOW`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, event, mallguard, stdout};
use mallguard_feeds::fake_shopify::{self, FakeShopify, Operation};
use mallguard_tests::OutboxMail;

/// The held Shopify sample (#1002)'s order id.
const HELD_ORDER: &str = "5678901234567890456";

fn outbox(data: &Path) -> Vec<OutboxMail> {
    let mut paths: Vec<_> = std::fs::read_dir(data.join("outbox"))
        .map(|dir| dir.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|p| OutboxMail::read(p)).collect()
}

/// Makes the data folder's secrets and lets mallguard act in the Shopify shop through the fake.
fn add_shopify_admin(data: &Path) {
    let _ = mallguard(data, &["quarantine", "list"]);
    let path = data.join("secrets.json");
    let mut secrets: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    secrets["shopify_admin"] = serde_json::json!({
        fake_shopify::SHOP: { "access_token": fake_shopify::TOKEN, "refund": "original", "restock": true }
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&secrets).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_duplicate_is_held_at_shopify_and_cancelled_there_before_the_buyers_receipt() {
    let shopify = FakeShopify::start().await;
    shopify.add_order(HELD_ORDER, 2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    add_shopify_admin(&data);
    let (_server, url) = common::start_with_env(&data, &[("MALLGUARD_SHOPIFY_URL", shopify.url())]);

    for file in ["shopify/orders-create.json", "shopify/orders-create-duplicate.json"] {
        let out = stdout(&mallguard(&data, &["send", &event(file), "--url", &url]));
        assert!(out.contains("\"accepted\"") || out.contains("\"held\""), "{out}");
    }
    assert_eq!(
        shopify.requests(Operation::Hold),
        2,
        "one fulfillmentOrderHold per open fulfillment order"
    );
    assert!(
        shopify
            .hold_inputs()
            .iter()
            .all(|input| input.to_string().contains("mallguard-h")),
        "each with mallguard's handle: {:?}",
        shopify.hold_inputs()
    );
    assert_eq!(shopify.requests(Operation::Cancel), 0);

    let notice = outbox(&data)
        .into_iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the notice");
    let cancel = &notice.links()[1];
    let done = reqwest::Client::new().post(cancel).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(shopify.requests(Operation::Cancel), 1, "one orderCancel");
    let input = shopify.cancel_inputs()[0].to_string();
    assert!(input.contains("\"notifyCustomer\":false"), "our mail says it: {input}");
    let receipts = || {
        outbox(&data)
            .into_iter()
            .filter(|m| m.subject.contains("ご回答ありがとうございます"))
            .count()
    };
    // Shopify cancels in a job: until the order reads as cancelled, the buyer is not told it is.
    assert_eq!(receipts(), 0, "no receipt while Shopify's job runs");
    let out = Command::new(BIN)
        .env("MALLGUARD_DATA", &data)
        .env("MALLGUARD_SHOPIFY_URL", shopify.url())
        .env("MALLGUARD_LOG", "warn")
        .arg("expire")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        receipts(),
        1,
        "the buyer's receipt, once the order reads as cancelled at Shopify"
    );
    assert_eq!(shopify.requests(Operation::Cancel), 1, "still one orderCancel");
    let evidence = stdout(&mallguard(&data, &["evidence", "shopify", "#1002"]));
    assert!(
        evidence.contains("モールへ保留を依頼")
            && evidence.contains("モールがキャンセルを受け付け、確定待ち")
            && evidence.contains("モールでキャンセル済み"),
        "{evidence}"
    );
}

/// The Rakuten, Yahoo! and Amazon fakes, and the program run against them (at `now`, when given: the debug
/// binary's `MALLGUARD_TEST_NOW`).
struct Malls {
    rms: mallguard_feeds::fake::FakeRms,
    yahoo: mallguard_feeds::fake_yahoo::FakeYahoo,
    amazon: mallguard_feeds::fake_amazon::FakeSpApi,
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Malls {
    /// The fakes serving yesterday's orders, and a data folder with their shops in the secrets.
    async fn start() -> Self {
        use mallguard_feeds::fake::{FakeRms, LICENSE_KEY, SERVICE_SECRET};
        use mallguard_feeds::fake_amazon::{self, FakeSpApi};
        use mallguard_feeds::fake_yahoo::{CLIENT_ID, CLIENT_SECRET, FakeYahoo, REFRESH_TOKEN, SELLER};
        let yesterday = {
            use mallguard_domain::ports::Clock;
            let today = mallguard_domain::ports::SystemClock
                .now()
                .to_zoned(mallguard_domain::policy::jst())
                .date();
            today.yesterday().unwrap()
        };
        let (rms, yahoo, amazon) = (
            FakeRms::start_on(yesterday).await,
            FakeYahoo::start_on(yesterday).await,
            FakeSpApi::start_on(yesterday).await,
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".mallguard");
        let _ = mallguard(&data, &["quarantine", "list"]);
        let path = data.join("secrets.json");
        let mut secrets: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        secrets["rakuten"] = serde_json::json!({
            "tanaka-rakuten": { "service_secret": SERVICE_SECRET, "license_key": LICENSE_KEY }
        });
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
        Self {
            rms,
            yahoo,
            amazon,
            data,
            _dir: dir,
        }
    }

    /// `mallguard <args>` against the fakes, now or at `now`; its standard output.
    fn run_at(&self, now: Option<&jiff::Timestamp>, args: &[&str]) -> String {
        use mallguard_feeds::fake_amazon;
        let mut command = Command::new(BIN);
        command
            .env("MALLGUARD_DATA", &self.data)
            .env("MALLGUARD_RAKUTEN_URL", self.rms.url())
            .env(
                "MALLGUARD_YAHOO_URL",
                format!("{}/ShoppingWebService/V1/", self.yahoo.url()),
            )
            .env(
                "MALLGUARD_YAHOO_TOKEN_URL",
                format!("{}/yconnect/v2/token", self.yahoo.url()),
            )
            .env("MALLGUARD_AMAZON_URL", self.amazon.url())
            .env(
                "MALLGUARD_AMAZON_TOKEN_URL",
                format!("{}{}", self.amazon.url(), fake_amazon::LWA_PATH),
            )
            .env("MALLGUARD_LOG", "warn")
            .args(args);
        if let Some(now) = now {
            command.env("MALLGUARD_TEST_NOW", now.to_string());
        }
        let out = command.output().unwrap();
        let text = stdout(&out);
        assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
        text
    }

    fn run(&self, args: &[&str]) -> String {
        self.run_at(None, args)
    }
}

/// A polled Yahoo! duplicate is put on hold at Yahoo! (status 3) and, at the deadline, cancelled there
/// (status 4) before its buyer is told; a failure that passes on the way is retried, and the other Yahoo!
/// duplicate, shipped meanwhile, is refused by the adapter and only the staff hear of it. The same buyer's
/// Amazon order, held too, is not cancelled at the deadline: the staff get Amazon's customer-service case
/// text. The evidence records the retry and the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yahoo_duplicate_is_held_then_cancelled_at_yahoo_at_the_deadline_and_an_amazon_one_waits_for_the_staff() {
    use mallguard_feeds::fake_amazon::{self, Endpoint as AmazonEndpoint};
    use mallguard_feeds::fake_yahoo::{Answer, Endpoint, FIRST, SECOND};
    let malls = Malls::start().await;
    // The second sample is a reservation (予約中, 1), which Yahoo! does not put on hold: make it 処理中 (2).
    malls.yahoo.set_status(SECOND, 2);
    malls.run(&["poll", "--mall", "rakuten"]);
    let polled = malls.run(&["poll", "--mall", "yahoo"]);
    assert!(polled.contains("保留 2"), "{polled}");
    assert_eq!(malls.yahoo.status(FIRST).0, 3, "保留 at Yahoo!");
    assert_eq!(malls.yahoo.status(SECOND).0, 3, "保留 at Yahoo!");
    let evidence = stdout(&mallguard(&malls.data, &["evidence", "yahoo", FIRST]));
    assert!(evidence.contains("モールで保留済み"), "{evidence}");
    let notified = malls.run(&["notify", &event("lambda/amazon-notifications-sqs.json")]);
    assert!(notified.contains("保留 1"), "the Amazon order is held: {notified}");

    // Before the deadline the second Yahoo! order ships, and Yahoo! fails the first change once.
    malls.yahoo.ship(SECOND);
    malls
        .yahoo
        .answer_once(Endpoint::OrderStatusChange, Answer::status(503, b"Service Unavailable"));
    let past_every_deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72);
    let swept = malls.run_at(Some(&past_every_deadline), &["expire"]);
    assert!(
        swept.contains("期限キャンセル 2件") && swept.contains("Amazonカスタマーサービスへの確認依頼 1件"),
        "{swept}"
    );
    let cancellation_of = |order: &str| {
        outbox(&malls.data)
            .into_iter()
            .filter(|m| !m.to.contains("staff@") && m.subject.contains("キャンセル") && m.subject.contains(order))
            .count()
    };
    // `mallguard expire` retries what failed at once (staff running it by hand want everything out now).
    assert_eq!(
        malls.yahoo.status(FIRST).0,
        4,
        "キャンセル at Yahoo!, on the second attempt"
    );
    assert_eq!(
        cancellation_of(FIRST),
        1,
        "the buyer's cancellation mail, once Yahoo! cancelled"
    );
    let first = stdout(&mallguard(&malls.data, &["evidence", "yahoo", FIRST]));
    assert!(
        first.contains("モールでのキャンセルに失敗（1回目、再試行します）") && first.contains("モールでキャンセル済み"),
        "retried, then done: {first}"
    );
    // The shipped one: Yahoo!'s status wins. Not cancelled there, its hold settles as shipped, the staff hear
    // that it shipped (not of a refusal), the buyer is told nothing.
    let second = stdout(&mallguard(&malls.data, &["evidence", "yahoo", SECOND]));
    assert!(second.contains("モールがキャンセルを拒否"), "{second}");
    assert_eq!(malls.yahoo.status(SECOND).0, 3);
    assert_eq!(
        cancellation_of(SECOND),
        0,
        "no cancellation mail for an order not cancelled"
    );
    let holds = stdout(&mallguard(&malls.data, &["holds", "--all"]));
    let line = holds
        .lines()
        .find(|l| l.contains(SECOND))
        .unwrap_or_else(|| panic!("{holds}"));
    assert!(line.contains("発送済み"), "{holds}");
    let staff: Vec<_> = outbox(&malls.data)
        .into_iter()
        .filter(|m| m.to.contains("staff@") && m.subject.contains(SECOND))
        .collect();
    assert!(
        !staff
            .iter()
            .any(|m| m.subject.contains("モールが操作を受け付けませんでした")),
        "not a refusal"
    );
    assert!(
        staff.iter().any(|m| m.text.contains("モールで発送されました")),
        "the staff hear it shipped: {:?}",
        staff.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );

    // Amazon: nothing was asked of Amazon, the hold waits for the staff, who have the case text; a later
    // sweep does not cancel it either.
    let days_later = past_every_deadline + jiff::SignedDuration::from_hours(72);
    let swept = malls.run_at(Some(&days_later), &["expire"]);
    assert!(swept.contains("期限キャンセル 0件"), "{swept}");
    assert_eq!(
        malls.amazon.requests(AmazonEndpoint::CreateFeed),
        0,
        "no cancellation feed"
    );
    let holds = stdout(&mallguard(&malls.data, &["holds"]));
    assert!(
        holds.contains(&format!("amazon #{}", fake_amazon::ORDER)),
        "still open: {holds}"
    );
    let escalation = outbox(&malls.data)
        .into_iter()
        .find(|m| m.subject.contains("Amazonカスタマーサービスへ確認を依頼してください"))
        .expect("the staff's escalation");
    assert!(
        escalation.subject.contains(fake_amazon::ORDER),
        "{}",
        escalation.subject
    );
    assert!(
        escalation.text.contains("【購入者様へのご確認のお願い】")
            && escalation.text.contains("自動ではキャンセルしません"),
        "the case text: {}",
        escalation.text
    );
    assert_eq!(cancellation_of(fake_amazon::ORDER), 0);
}

/// The mall's word on shipping wins, at Shopify: a held duplicate that Shopify reports fulfilled (its
/// `orders/fulfilled` webhook) before the deadline settles as shipped; after the deadline nothing was
/// cancelled at Shopify, the buyer got no cancellation mail, and the staff were told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_shopify_order_reported_fulfilled_is_never_cancelled() {
    let shopify = FakeShopify::start().await;
    shopify.add_order(HELD_ORDER, 2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    add_shopify_admin(&data);
    let (_server, url) = common::start_with_env(&data, &[("MALLGUARD_SHOPIFY_URL", shopify.url())]);
    for file in ["shopify/orders-create.json", "shopify/orders-create-duplicate.json"] {
        stdout(&mallguard(&data, &["send", &event(file), "--url", &url]));
    }
    assert_eq!(shopify.requests(Operation::Hold), 2, "held at Shopify");

    // Shopify fulfils it all the same (the warehouse did not respect the hold).
    let mut fulfilled: serde_json::Value =
        serde_json::from_slice(&std::fs::read(event("shopify/orders-create-duplicate.json")).unwrap()).unwrap();
    fulfilled["fulfillment_status"] = "fulfilled".into();
    fulfilled["updated_at"] = "2026-11-23T13:05:00+09:00".into();
    let folder = dir.path().join("shopify");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("orders-fulfilled.json");
    std::fs::write(&file, serde_json::to_vec(&fulfilled).unwrap()).unwrap();
    let sent = stdout(&mallguard(
        &data,
        &[
            "send",
            file.to_str().unwrap(),
            "--topic",
            "orders/fulfilled",
            "--url",
            &url,
        ],
    ));
    assert!(sent.contains("\"updated\""), "{sent}");
    let holds = stdout(&mallguard(&data, &["holds", "--all"]));
    assert!(holds.contains("発送済み"), "{holds}");

    let past_the_deadline = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72)).to_string();
    let out = Command::new(BIN)
        .env("MALLGUARD_DATA", &data)
        .env("MALLGUARD_TEST_NOW", &past_the_deadline)
        .env("MALLGUARD_SHOPIFY_URL", shopify.url())
        .env("MALLGUARD_LOG", "warn")
        .arg("expire")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let swept = stdout(&out);
    assert!(swept.contains("期限キャンセル 0件"), "{swept}");
    assert_eq!(shopify.requests(Operation::Cancel), 0, "no orderCancel reached Shopify");
    let mails = outbox(&data);
    assert!(
        !mails
            .iter()
            .any(|m| !m.to.contains("staff@") && m.subject.contains("キャンセル")),
        "no cancellation mail to the buyer: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        mails
            .iter()
            .any(|m| m.to.contains("staff@") && m.subject.contains("保留中の注文が発送されました")),
        "the staff are told: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

/// The same at Yahoo!: a held duplicate the next poll reads as 完了 (5) settles as shipped, and the sweep
/// after its deadline asks nothing of Yahoo!.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_yahoo_order_polled_as_shipped_is_never_cancelled() {
    use mallguard_feeds::fake_yahoo::FIRST;
    let malls = Malls::start().await;
    malls.run(&["poll", "--mall", "rakuten"]);
    malls.run(&["poll", "--mall", "yahoo"]);
    assert_eq!(malls.yahoo.status(FIRST).0, 3, "保留 at Yahoo!");
    let changes_of_first = || malls.yahoo.changes().iter().filter(|c| c.order_id == FIRST).count();
    let changes = changes_of_first();

    malls.yahoo.set_status(FIRST, 5);
    malls.yahoo.ship(FIRST);
    let polled = malls.run(&["poll", "--mall", "yahoo"]);
    assert!(polled.contains("更新 1"), "{polled}");
    let evidence = stdout(&mallguard(&malls.data, &["evidence", "yahoo", FIRST]));
    assert!(evidence.contains("発送済み"), "{evidence}");

    let past_the_deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72);
    malls.run_at(Some(&past_the_deadline), &["expire"]);
    assert_eq!(changes_of_first(), changes, "nothing asked of Yahoo! after it shipped");
    assert_eq!(malls.yahoo.status(FIRST).0, 5);
    let mails = outbox(&malls.data);
    assert!(
        !mails
            .iter()
            .any(|m| !m.to.contains("staff@") && m.subject.contains("キャンセル") && m.subject.contains(FIRST)),
        "no cancellation mail to the buyer: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        mails.iter().any(|m| m.to.contains("staff@")
            && m.subject.contains("保留中の注文が発送されました")
            && m.subject.contains(FIRST)),
        "the staff are told: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

/// Rakuten only applies for a cancellation (800 キャンセル確定待ち): a held Rakuten duplicate cancelled at the
/// deadline is not told to its buyer until Rakuten confirms it (900), which the next sweep reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rakuten_cancellation_is_mailed_to_the_buyer_only_once_rakuten_confirms_it() {
    use mallguard_feeds::fake::YAMADA;
    let malls = Malls::start().await;
    // The same buyer's own-store order first, from a server that does not poll Rakuten itself.
    let rakuten = std::fs::read(malls.data.join("secrets.json")).unwrap();
    let mut without: serde_json::Value = serde_json::from_slice(&rakuten).unwrap();
    without.as_object_mut().unwrap().remove("rakuten");
    std::fs::write(malls.data.join("secrets.json"), serde_json::to_vec(&without).unwrap()).unwrap();
    let (server, url) = common::start_with_env(&malls.data, &[("MALLGUARD_RAKUTEN_URL", malls.rms.url())]);
    let sent = stdout(&mallguard(
        &malls.data,
        &["send", &event("generic/order.json"), "--url", &url],
    ));
    assert!(sent.contains("\"accepted\""), "{sent}");
    drop(server);
    std::fs::write(malls.data.join("secrets.json"), rakuten).unwrap();
    let polled = malls.run(&["poll", "--mall", "rakuten"]);
    assert!(polled.contains("保留 1"), "{polled}");

    let cancellation = || {
        outbox(&malls.data)
            .into_iter()
            .filter(|m| !m.to.contains("staff@") && m.subject.contains("キャンセル") && m.subject.contains(YAMADA))
            .count()
    };
    let past_the_deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(72);
    let swept = malls.run_at(Some(&past_the_deadline), &["expire"]);
    assert!(swept.contains("期限キャンセル 1件"), "{swept}");
    assert_eq!(
        malls.rms.write_state(YAMADA).order_progress,
        800,
        "applied for at Rakuten"
    );
    assert_eq!(cancellation(), 0, "not cancelled yet: the buyer is not told so");

    malls.rms.cancel(YAMADA);
    let later = past_the_deadline + jiff::SignedDuration::from_mins(10);
    malls.run_at(Some(&later), &["expire"]);
    assert_eq!(
        cancellation(),
        1,
        "the buyer's cancellation mail, once Rakuten confirmed it"
    );
    let evidence = stdout(&mallguard(&malls.data, &["evidence", "rakuten", YAMADA]));
    assert!(
        evidence.contains("モールがキャンセルを受け付け、確定待ち") && evidence.contains("モールでキャンセル済み"),
        "{evidence}"
    );
}

/// A Yahoo! reservation (予約中, 1) cannot be put on hold there: Yahoo! refuses the hold and the staff are
/// told once. Confirmed later, nothing is asked of Yahoo!: a release of a hold that never was would only be
/// refused too, and a second alert would tell the staff mallguard had asked to release it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yahoo_reservation_that_could_not_be_held_is_not_released_when_confirmed() {
    use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
    use mallguard_feeds::fake_yahoo::{SECOND, SELLER};
    let malls = Malls::start().await;
    malls.run(&["poll", "--mall", "rakuten"]);
    let polled = malls.run(&["poll", "--mall", "yahoo"]);
    assert!(polled.contains("保留 2"), "{polled}");
    assert_eq!(malls.yahoo.status(SECOND).0, 1, "still a reservation at Yahoo!");
    let hold = HoldId::for_order(&OrderRef::new(
        Mall::Yahoo,
        ShopId::parse(SELLER).unwrap(),
        OrderId::parse(SECOND).unwrap(),
    ));
    malls.run(&["resolve", hold.as_str(), "confirm", "--staff", "suzuki"]);
    let in_an_hour = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    malls.run_at(Some(&in_an_hour), &["expire"]);
    assert!(
        malls.yahoo.changes().iter().all(|c| c.order_id != SECOND),
        "no orderStatusChange of the reservation: {:?}",
        malls.yahoo.changes()
    );
    let alerts: Vec<_> = outbox(&malls.data)
        .into_iter()
        .filter(|m| m.to.contains("staff@") && m.subject.contains("モールが操作を受け付けませんでした"))
        .filter(|m| m.subject.contains(SECOND))
        .collect();
    assert_eq!(alerts.len(), 1, "the refused hold only");
    assert!(alerts[0].text.contains("保留"), "{}", alerts[0].text);
    let evidence = stdout(&mallguard(&malls.data, &["evidence", "yahoo", SECOND]));
    assert!(
        evidence.contains("モールが保留を拒否")
            && evidence.contains("モールへの保留解除の依頼を取りやめ: モールが保留を拒否しています"),
        "{evidence}"
    );
}
