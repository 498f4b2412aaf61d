//! The README walkthrough, step by step, with the real `mallguard` program: start the stack, send two
//! same-item orders, read the notice in the outbox, open the link, cancel, then the staff's tools.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{BIN, event, mallguard, start, stdout};
use mallguard_tests::OutboxMail;

fn outbox(data: &Path) -> Vec<OutboxMail> {
    let dir: PathBuf = data.join("outbox");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths.iter().map(|p| OutboxMail::read(p)).collect()
}

#[tokio::test]
async fn the_readme_walkthrough_holds_the_second_order_and_the_buyer_cancels_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".mallguard");
    let (_server, url) = start(&data);
    assert!(data.join("secrets.json").exists(), "secrets are made on first run");
    let index = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(index.status(), 200, "the server says what it is");
    let index = index.text().await.unwrap();
    assert!(index.contains("/webhooks/shopify") && index.contains("/h/"), "{index}");

    let first = stdout(&mallguard(
        &data,
        &["send", &event("generic/order.json"), "--url", &url],
    ));
    assert!(first.contains("\"accepted\""), "{first}");
    let second = stdout(&mallguard(
        &data,
        &["send", &event("generic/order-duplicate.json"), "--url", &url],
    ));
    assert!(second.contains("\"held\""), "{second}");

    let mails = outbox(&data);
    let notice = mails
        .iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the notice is in the outbox");
    let links = notice.links();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l.starts_with(&url)), "{links:?}");

    let client = reqwest::Client::new();
    let page = client.get(&links[1]).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let first_page = page.text().await.unwrap();
    let holds = stdout(&mallguard(&data, &["holds"]));
    assert!(holds.contains("保留中"), "opening the page changes nothing:\n{holds}");

    let done = client.post(&links[1]).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(
        done.url().as_str(),
        links[1],
        "redirected to the link's page: a reload does not resubmit"
    );
    let answered_page = done.text().await.unwrap();
    assert!(answered_page.contains("キャンセル"));

    let holds = stdout(&mallguard(&data, &["holds", "--all"]));
    assert!(holds.contains("キャンセル"), "{holds}");
    let row: Vec<&str> = holds.lines().nth(1).unwrap().split_whitespace().collect();
    let hold_id = row[0].to_owned();
    // The held order's column pastes straight into `evidence`: `own #TS-20261123-0002`.
    let at = row.iter().position(|w| *w == "own").expect("the held order's mall");
    let (mall, number) = (row[at], row[at + 1]);
    assert_eq!((mall, number), ("own", "#TS-20261123-0002"), "{holds}");

    let evidence = stdout(&mallguard(&data, &["evidence", mall, number]));
    assert!(evidence.contains("時刻はすべて日本時間"), "{evidence}");
    assert!(
        !evidence.contains("placed:") && !evidence.contains("Timeline"),
        "one language: {evidence}"
    );
    for needle in [
        "重複の疑い",
        "発送を保留",
        "購入者への確認メールを送信",
        "購入者が確認ページを開いた",
        "購入者が「キャンセル」と回答",
    ] {
        assert!(evidence.contains(needle), "{needle} missing from\n{evidence}");
    }
    // Every mail of the hold, word for word, beside the timeline, proven by the digest the timeline kept.
    let mails = outbox(&data);
    assert_eq!(
        mails.len(),
        4,
        "the notice, the staff alert, the receipt and the staff's answer mail"
    );
    for mail in &mails {
        let text = mail.text.replace("\r\n", "\n");
        assert!(
            evidence.contains(text.trim_end()),
            "{} is not reproduced word for word in\n{evidence}",
            mail.subject
        );
        assert!(evidence.contains(&format!("件名: {}", mail.subject)), "{evidence}");
    }
    // And both pages the buyer was shown, before and after the answer, as the text they read.
    for page in [&first_page, &answered_page] {
        let text = mallguard_domain::history::visible_text(page);
        assert!(
            evidence.contains(text.trim_end()),
            "a page is not reproduced in\n{evidence}"
        );
    }
    assert_eq!(evidence.matches("──── 確認ページ").count(), 2, "{evidence}");
    assert_eq!(
        evidence.matches("（経過の記録と一致）").count(),
        6,
        "four mails and two pages: {evidence}"
    );

    // The staff cannot settle it a second time.
    let again = mallguard(&data, &["resolve", &hold_id, "confirm", "--staff", "suzuki"]);
    assert!(!again.status.success());
    assert!(stdout(&again).contains("すでに キャンセル"), "{}", stdout(&again));

    let sweep = stdout(&mallguard(&data, &["expire"]));
    assert!(sweep.contains("期限キャンセル 0件"), "{sweep}");
    let sweep = stdout(&mallguard(&data, &["expire", "--now"]));
    assert!(sweep.contains("期限キャンセル 0件"), "--now still works: {sweep}");
}

#[test]
fn send_without_a_server_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .env("MALLGUARD_DATA", dir.path())
        .args(["send", &event("generic/order.json"), "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("is `cargo run` running?"), "{err}");
}

/// The README's "More to try": each scenario on a data folder of its own behaves as the README says.
#[tokio::test]
async fn the_more_to_try_scenarios_each_start_clean_and_hold_what_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();

    let shopify = dir.path().join(".mallguard-shopify");
    let (_server, url) = start(&shopify);
    let send = |data: &std::path::Path, file: &str| stdout(&mallguard(data, &["send", &event(file), "--url", &url]));
    assert!(send(&shopify, "shopify/orders-create.json").contains("\"accepted\""));
    let held = send(&shopify, "shopify/orders-create-duplicate.json");
    assert!(held.contains("\"held\""), "{held}");
    let cancelled = send(&shopify, "shopify/orders-cancelled.json");
    assert!(cancelled.contains("\"cancelled\""), "{cancelled}");
    let evidence = stdout(&mallguard(&shopify, &["evidence", "shopify", "#1002"]));
    assert!(
        evidence.starts_with("注文 #1002"),
        "found by the number the buyer knows: {evidence}"
    );
    assert!(
        evidence.contains("5678901234567890456"),
        "the internal id is there too: {evidence}"
    );
    let holds = stdout(&mallguard(&shopify, &["holds", "--all"]));
    assert!(
        holds.contains("shopify #1002") && holds.contains("shopify #1001"),
        "{holds}"
    );

    let cross = dir.path().join(".mallguard-cross-mall");
    let (_server2, url2) = start(&cross);
    let send2 = |file: &str| stdout(&mallguard(&cross, &["send", &event(file), "--url", &url2]));
    assert!(
        send2("generic/rakuten-order.json").contains("\"accepted\""),
        "a clean start"
    );
    let held = send2("generic/yahoo-order.json");
    assert!(held.contains("\"held\""), "{held}");
    let holds = stdout(&mallguard(&cross, &["holds"]));
    assert!(
        holds.contains("yahoo #") && holds.contains("rakuten #"),
        "held against each other: {holds}"
    );
}
