//! The buyer who placed A, A and B in a real browser: the page behind the notice shows all three orders
//! and which one is held, and after "ship both" says what arrives, in one parcel when the shop bundles.

use mallguard_domain::hold::HoldState;
use mallguard_domain::ids::{HoldId, Mall, ShopId};
use mallguard_tests::{STAFF, event, spawn_app};
use serde_json::{Value, json};

use crate::screenshots_dir;
use crate::webdriver::Browser;

/// What the page shows: its text, its orders, and whether anything is wider than the screen.
const SHOWN: &str = r#"
return {
  text: document.body.innerText,
  orders: document.querySelectorAll('section.order').length,
  scrollWidth: document.documentElement.scrollWidth,
  width: window.innerWidth,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_who_ordered_a_a_b_sees_all_three_and_after_ship_both_one_parcel() {
    let app = spawn_app().await;
    // The shop packs one buyer's orders to one address together (同梱).
    let shop = ShopId::parse("tanaka-shop").unwrap();
    app.app
        .save_shop_settings(Mall::Own, &shop, None, &[("bundle".into(), "all".into())], STAFF)
        .await
        .unwrap();
    assert_eq!(app.post_generic(&event("generic/order.json")).await.status(), 200);
    let held: Value = app
        .post_generic(&event("generic/order-duplicate.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "held", "{held}");
    let hold = HoldId::parse(held["hold"].as_str().unwrap()).unwrap();
    // B, after the notice went out.
    let mut b: Value = serde_json::from_slice(&event("generic/order.json")).unwrap();
    b["order_id"] = json!("TS-20261123-0003");
    b["placed_at"] = json!("2026-11-23T12:07:00+09:00");
    b["lines"][0]["product"] = json!("TEA-GENMAI-200");
    b["lines"][0]["title"] = json!("玄米茶 200g");
    let accepted: Value = app
        .post_generic(&serde_json::to_vec(&b).unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(accepted["status"], "accepted", "{accepted}");

    let notice = app
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the buyer's notice");
    let confirm = notice.links()[0].clone();
    let browser = Browser::launch().await;
    browser.viewport(390, 844, true).await;
    browser.goto(&confirm).await;
    let page = browser.execute(SHOWN, json!([])).await;
    let text = page["text"].as_str().unwrap();
    assert_eq!(page["orders"], 3, "all three orders: {text}");
    assert!(
        text.contains("有機煎茶 100g × 2、玄米茶 200g × 1 のご注文をいただいております（3件）"),
        "{text}"
    );
    assert!(
        text.contains("保留しているのは後のご注文（TS-20261123-0002）だけ"),
        "which one is held: {text}"
    );
    assert!(text.contains("************0003"), "B by its masked number: {text}");
    assert!(page["scrollWidth"].as_u64() <= page["width"].as_u64(), "{page:#}");
    browser
        .screenshot(&screenshots_dir().join("related-390-before.png"))
        .await;

    let buttons = browser.find_all(".actions button").await;
    assert_eq!(browser.text(&buttons[0]).await, "両方とも発送を希望する");
    browser.click(&buttons[0]).await;
    browser
        .wait_for(
            "the page after ship both",
            "return document.readyState === 'complete' && !!document.querySelector('section.arrival');",
        )
        .await;
    assert_eq!(app.hold_state(hold.as_str()).await, HoldState::Confirmed);
    let page = browser.execute(SHOWN, json!([])).await;
    let text = page["text"].as_str().unwrap();
    for needle in [
        "お届けする内容",
        "合計: 有機煎茶 100g × 2、玄米茶 200g × 1",
        "以上3件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
    assert!(page["scrollWidth"].as_u64() <= page["width"].as_u64(), "{page:#}");
    browser
        .screenshot(&screenshots_dir().join("related-390-after.png"))
        .await;
    // The receipt says the same.
    let receipt = app
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("ご回答ありがとうございます"))
        .expect("the receipt");
    assert!(
        receipt
            .text
            .contains("以上3件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。"),
        "{}",
        receipt.text
    );
}
