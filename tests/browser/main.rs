//! The buyer's page in a real browser: Debian's headless Chromium, driven through chromedriver over
//! WebDriver, against the real routers on a loopback port. It checks what a Japanese shopper on a phone
//! sees: both orders and two buttons, no line that breaks inside a word, the header in the content
//! column, and that pressing a button lands on the page of the link (post/redirect/get), so a reload
//! answers nothing twice.
//!
//! Screenshots (whole pages, at 390 and 1000 CSS pixels, before and after the press) go to
//! `target/browser-screenshots/` (or `$CARGO_TARGET_DIR/browser-screenshots/`).
//! Needs `chromium`, `chromium-driver` and `fonts-noto-cjk`: `bash tests/run` installs them.

mod console;
mod related;
mod webdriver;

use std::path::PathBuf;

use mallguard_domain::history::Event;
use mallguard_domain::hold::HoldState;
use mallguard_domain::ids::HoldId;
use mallguard_domain::ports::roles::*;
use mallguard_tests::{TestApp, event, spawn_app};
use serde_json::{Value, json};

use webdriver::Browser;

/// The earlier order as the later buyer sees it: partly masked, since it may be somebody else's.
const EARLIER: &str = "************0001";
const LATER: &str = "TS-20261123-0002";
/// Words a line must never break inside: the ones a buyer looks for, and the order numbers.
const WORDS: &[&str] = &[
    "日本時間",
    "キャンセルする",
    "キャンセル",
    "発送を希望する",
    "両方とも",
    "ご注文",
    "現在の状況",
    EARLIER,
    LATER,
];

fn screenshots_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Posts the two sample orders; returns the hold and the cancel link of the buyer's notice.
async fn held(app: &TestApp) -> (HoldId, String) {
    let accepted = app.post_generic(&event("generic/order.json")).await;
    assert_eq!(accepted.status(), 200);
    let body: Value = app
        .post_generic(&event("generic/order-duplicate.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "held", "{body}");
    let hold = HoldId::parse(body["hold"].as_str().unwrap()).unwrap();
    let notice = app
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("ご確認のお願い"))
        .expect("the buyer's notice");
    let links = notice.links();
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links[1].starts_with("http://127.0.0.1:"), "{links:?}");
    (hold, links[1].clone())
}

/// The hold's answers in its history: (settled it, came too late).
async fn answers(app: &TestApp, hold: &HoldId) -> (usize, usize) {
    let order = app.store.hold(hold).await.unwrap().unwrap().order;
    let history = app.store.history(&order).await.unwrap();
    let count = |f: fn(&Event) -> bool| history.iter().filter(|h| f(&h.event)).count();
    (
        count(|e| matches!(e, Event::Resolved { .. })),
        count(|e| matches!(e, Event::LateAnswer { .. })),
    )
}

/// Measures the page as laid out: how many lines each occurrence of a word and each button or
/// deadline spans (from `Range.getClientRects()`), and where the columns start.
const MEASURE: &str = r#"
const words = arguments[0];
const linesOf = (range) => {
  const tops = Array.from(range.getClientRects())
    .filter((r) => r.width > 0 && r.height > 0)
    .map((r) => r.top)
    .sort((a, b) => a - b);
  let lines = tops.length ? 1 : 0;
  for (let i = 1; i < tops.length; i++) if (tops[i] - tops[i - 1] > 4) lines++;
  return lines;
};
const occurrences = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  for (const word of words) {
    for (let at = node.data.indexOf(word); at >= 0; at = node.data.indexOf(word, at + word.length)) {
      const range = document.createRange();
      range.setStart(node, at);
      range.setEnd(node, at + word.length);
      occurrences.push({ word, lines: linesOf(range), in: node.data.trim().slice(0, 60) });
    }
  }
}
const blocks = Array.from(document.querySelectorAll('.actions button, .deadline')).map((el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const style = getComputedStyle(el);
  const inner = el.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  return { text: el.innerText, lines: linesOf(range), height: inner, lineHeight: parseFloat(style.lineHeight) };
});
const left = (sel) => { const el = document.querySelector(sel); return el ? el.getBoundingClientRect().left : null; };
return {
  width: window.innerWidth,
  scrollWidth: document.documentElement.scrollWidth,
  lang: document.documentElement.lang,
  wordBreak: getComputedStyle(document.body).wordBreak,
  text: document.body.innerText,
  orders: document.querySelectorAll('section.order').length,
  occurrences,
  blocks,
  left: { header: left('header p'), h1: left('main h1'), order: left('section.order'), contact: left('footer .contact') },
};
"#;

/// Checks the page at one width; `buttons` is how many buttons it should have.
async fn check_layout(browser: &Browser, width: u64, buttons: usize) -> Value {
    let m = browser.execute(MEASURE, json!([WORDS])).await;
    let text = m["text"].as_str().unwrap();
    let shown = format!("at {width}px: {m:#}");
    assert_eq!(m["width"], width, "{shown}");
    assert_eq!(m["lang"], "ja", "{shown}");
    assert_eq!(
        m["wordBreak"], "auto-phrase",
        "Chromium breaks Japanese between phrases: {shown}"
    );
    assert!(
        m["scrollWidth"].as_u64().unwrap() <= width,
        "nothing wider than the screen: {shown}"
    );
    // Both orders.
    assert_eq!(m["orders"], 2, "{shown}");
    assert!(text.contains(EARLIER) && text.contains(LATER), "{shown}");
    assert!(text.contains("有機煎茶"), "{shown}");
    // No word broken across lines, anywhere on the page.
    let occurrences = m["occurrences"].as_array().unwrap();
    let expected: &[&str] = if buttons > 0 {
        &["日本時間", "キャンセルする", "発送を希望する", "ご注文", EARLIER, LATER]
    } else {
        &["日本時間", "キャンセル", "ご注文", EARLIER, LATER]
    };
    for word in expected {
        assert!(
            occurrences.iter().any(|o| o["word"] == *word),
            "{word} is on the page: {shown}"
        );
    }
    for o in occurrences {
        assert_eq!(
            o["lines"], 1,
            "{} breaks across lines in «{}» {shown}",
            o["word"], o["in"]
        );
    }
    // The buttons and the deadline: one line each where there is room, never more than two.
    let blocks = m["blocks"].as_array().unwrap();
    let button_blocks: Vec<&Value> = blocks.iter().filter(|b| !is_deadline(b)).collect();
    assert_eq!(button_blocks.len(), buttons, "{shown}");
    for b in blocks {
        let lines = b["lines"].as_u64().unwrap();
        let by_height = (b["height"].as_f64().unwrap() / b["lineHeight"].as_f64().unwrap()).round() as u64;
        assert_eq!(lines, by_height, "lines counted two ways agree: {b}");
        let most = if width >= 1000 || b["text"] == "両方とも発送を希望する" {
            1
        } else {
            2
        };
        assert!(lines <= most, "{} takes {lines} lines at {width}px: {shown}", b["text"]);
    }
    if buttons > 0 {
        assert!(blocks.iter().any(is_deadline), "the deadline is shown: {shown}");
    }
    // The shop's name, the heading, the orders and the contact all start at the same left edge.
    let left = &m["left"];
    let h1 = left["h1"].as_f64().unwrap();
    for part in ["header", "order", "contact"] {
        let x = left[part].as_f64().unwrap();
        assert!(
            (x - h1).abs() < 0.5,
            "{part} starts at {x}, the heading at {h1}: {shown}"
        );
    }
    if width >= 1000 {
        assert!(h1 > 100.0, "a centred column: {shown}");
    } else {
        assert!((h1 - 16.0).abs() < 0.5, "16px from the screen's edge: {shown}");
    }
    m
}

fn is_deadline(block: &Value) -> bool {
    block["text"].as_str().unwrap_or("").starts_with("ご回答期限")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_on_a_phone_sees_both_orders_unbroken_words_and_cancels_once() {
    let app = spawn_app().await;
    let (hold, cancel_link) = held(&app).await;
    let browser = Browser::launch().await;
    let shots = screenshots_dir();

    // Opening the link at a desktop width and at a phone's.
    for (width, mobile) in [(1000, false), (390, true)] {
        browser.viewport(width, if mobile { 844 } else { 900 }, mobile).await;
        browser.goto(&cancel_link).await;
        check_layout(&browser, width.into(), 2).await;
        let buttons = browser.find_all(".actions button").await;
        assert_eq!(buttons.len(), 2);
        assert_eq!(browser.text(&buttons[0]).await, "両方とも発送を希望する");
        assert_eq!(
            browser.text(&buttons[1]).await,
            format!("後のご注文（{LATER}）をキャンセルする")
        );
        browser
            .screenshot(&shots.join(format!("hold-{width}-before.png")))
            .await;
    }
    assert_eq!(
        app.hold_state(hold.as_str()).await,
        HoldState::Held,
        "opening changes nothing"
    );
    assert_eq!(answers(&app, &hold).await, (0, 0));

    // The press, on the phone.
    let buttons = browser.find_all(".actions button").await;
    browser.click(&buttons[1]).await;
    browser
        .wait_for(
            "the page after the press",
            "return document.readyState === 'complete' && !!document.querySelector('h1') \
             && document.querySelector('h1').textContent.includes('ご回答ありがとうございました');",
        )
        .await;
    // Post/redirect/get: the browser ends on the GET page of the same link.
    assert_eq!(browser.url().await, cancel_link);
    assert_eq!(app.hold_state(hold.as_str()).await, HoldState::Cancelled);
    let after = check_layout(&browser, 390, 0).await;
    let text = after["text"].as_str().unwrap();
    // mallguard does not cancel at the own store: the staff do, so the page says it is in progress.
    assert!(
        text.contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja)),
        "{text}"
    );
    assert!(
        text.contains(&format!("後のご注文（{LATER}）のキャンセルの手続きを進めております")),
        "{text}"
    );
    browser.screenshot(&shots.join("hold-390-after.png")).await;

    // A reload is a GET: it shows the outcome again and answers nothing.
    browser.refresh().await;
    browser
        .wait_for("the reloaded page", "return document.readyState === 'complete';")
        .await;
    assert_eq!(browser.url().await, cancel_link);
    browser.viewport(1000, 900, false).await;
    browser.refresh().await;
    browser
        .wait_for("the reloaded page", "return document.readyState === 'complete';")
        .await;
    let after = check_layout(&browser, 1000, 0).await;
    assert!(after["text"].as_str().unwrap().contains("ご回答ありがとうございました"));
    browser.screenshot(&shots.join("hold-1000-after.png")).await;
    assert_eq!(
        answers(&app, &hold).await,
        (1, 0),
        "exactly one answer in the history, however often the page is reloaded"
    );
    assert_eq!(app.hold_state(hold.as_str()).await, HoldState::Cancelled);
}
