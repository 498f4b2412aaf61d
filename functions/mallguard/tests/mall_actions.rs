//! What happens at the mall, with the real program against fake malls over real HTTP: a Shopify duplicate
//! held on each open fulfillment order, the buyer's cancellation done at Shopify before the buyer's receipt,
//! and a Yahoo! duplicate polled and put on hold (status 3) there. The fakes run on this test's runtime while
//! the program runs as a child process.

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
    let receipts: Vec<_> = outbox(&data)
        .into_iter()
        .filter(|m| m.subject.contains("ご回答ありがとうございます"))
        .collect();
    assert_eq!(receipts.len(), 1, "the buyer's receipt, after Shopify cancelled");
    let evidence = stdout(&mallguard(&data, &["evidence", "shopify", "#1002"]));
    assert!(
        evidence.contains("モールへ保留を依頼") && evidence.contains("モールでキャンセル済み"),
        "{evidence}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polled_yahoo_duplicate_is_put_on_hold_at_yahoo() {
    use mallguard_feeds::fake::{FakeRms, LICENSE_KEY, SERVICE_SECRET};
    use mallguard_feeds::fake_yahoo::{CLIENT_ID, CLIENT_SECRET, FIRST, FakeYahoo, REFRESH_TOKEN, SELLER};
    let yesterday = {
        use mallguard_domain::ports::Clock;
        let today = mallguard_domain::ports::SystemClock
            .now()
            .to_zoned(mallguard_domain::policy::jst())
            .date();
        today.yesterday().unwrap()
    };
    let rms = FakeRms::start_on(yesterday).await;
    let yahoo = FakeYahoo::start_on(yesterday).await;
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
    poll("rakuten");
    let polled = poll("yahoo");
    assert!(polled.contains("保留 2"), "{polled}");
    assert_eq!(yahoo.status(FIRST).0, 3, "保留 at Yahoo!");
    let evidence = stdout(&mallguard(&data, &["evidence", "yahoo", FIRST]));
    assert!(evidence.contains("モールで保留済み"), "{evidence}");
}
