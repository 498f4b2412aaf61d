//! The staff's console in a real browser: a staff member signs in through the mailed link, settles a
//! hold with a note, puts the buyer on the blacklist and sees their next order held without a buyer
//! mail, exports a timeline; and the browser is refused without a session, with a forged one, and when
//! another site posts a form. Screenshots at 390 and 1280 CSS pixels go to `target/browser-screenshots/`.

use mallguard_domain::hold::{HoldState, Resolver};
use mallguard_domain::ids::HoldId;
use mallguard_domain::ports::roles::*;
use mallguard_tests::{STAFF, TestApp, event, spawn_app};
use serde_json::{Value, json};

use crate::screenshots_dir;
use crate::webdriver::Browser;

async fn post_order(app: &TestApp, body: &Value) -> Value {
    let response = app.post_generic(&serde_json::to_vec(body).unwrap()).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn loaded(browser: &Browser, what: &str) {
    browser
        .wait_for(what, "return document.readyState === 'complete' && !!document.body;")
        .await;
}

/// The page fits the window: nothing to scroll sideways at a phone's width.
async fn fits(browser: &Browser, width: u32) {
    let m = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        )
        .await;
    assert!(
        m[0].as_u64().unwrap() <= m[1].as_u64().unwrap(),
        "the page is wider than the {width}px window: {m}"
    );
}

/// Takes the page at a phone's width and a desktop's.
async fn shoot(browser: &Browser, name: &str) {
    let shots = screenshots_dir();
    for (width, height, mobile) in [(390, 844, true), (1280, 900, false)] {
        browser.viewport(width, height, mobile).await;
        browser.refresh().await;
        loaded(browser, name).await;
        fits(browser, width).await;
        browser
            .screenshot(&shots.join(format!("console-{name}-{width}.png")))
            .await;
    }
}

/// Signs `STAFF` in as a person does: the address typed, the link from the mail, the button.
async fn sign_in(app: &TestApp, browser: &Browser) {
    browser.goto(&format!("{}/console/holds", app.url)).await;
    loaded(browser, "the sign-in page").await;
    assert!(browser.url().await.ends_with("/console/sign-in"), "sent to sign in");
    let before = app.outbox().len();
    let address = browser.find("#address").await;
    browser.type_into(&address, STAFF).await;
    browser.click(&browser.find("#send-link").await).await;
    browser
        .wait_for(
            "the answer to the address",
            "return location.pathname === '/console/sign-in' && document.readyState === 'complete' && !document.querySelector('#send-link:focus');",
        )
        .await;
    let sent = browser.find_all("#link-sent").await;
    assert_eq!(
        sent.len(),
        1,
        "the page says the link is on its way: {}",
        browser.body_text().await
    );
    let mail = app
        .outbox()
        .into_iter()
        .skip(before)
        .find(|m| m.to.contains(STAFF))
        .expect("the sign-in mail");
    let link = mail
        .text
        .split_whitespace()
        .find(|w| w.contains("/console/sign-in/"))
        .expect("a link in the mail")
        .to_owned();
    browser.goto(&link).await;
    loaded(browser, "the link's page").await;
    browser.click(&browser.find("#sign-in").await).await;
    browser
        .wait_for(
            "the holds after signing in",
            "return location.pathname === '/console/holds' && document.readyState === 'complete';",
        )
        .await;
    // The session cookie is HttpOnly: no script of the page can read it.
    let visible = browser.execute("return document.cookie;", json!([])).await;
    assert_eq!(visible, "", "the session is not readable by scripts");
    let cookies = browser.cookies().await;
    assert!(
        cookies
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "mallguard_staff" && c["httpOnly"] == true && c["sameSite"] == "Strict"),
        "{cookies}"
    );
}

/// A page of another site that posts a form to the console as soon as it loads.
async fn attacker_site(target: String) -> String {
    let page = format!(
        "<!doctype html><form id=f method=post action=\"{target}\">\
         <input name=decision value=cancel><input name=form_token value=guessed></form>\
         <script>document.getElementById('f').submit()</script>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    // `localhost` is another site than `127.0.0.1`, where the console is.
    format!("http://localhost:{port}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_settle_a_hold_blacklist_a_buyer_and_export_a_timeline_in_a_browser() {
    let app = spawn_app().await;
    assert_eq!(
        post_order(&app, &serde_json::from_slice(&event("generic/order.json")).unwrap()).await["status"],
        "accepted"
    );
    let held = post_order(
        &app,
        &serde_json::from_slice(&event("generic/order-duplicate.json")).unwrap(),
    )
    .await;
    let hold = HoldId::parse(held["hold"].as_str().unwrap()).unwrap();
    let browser = Browser::launch().await;
    browser.viewport(1280, 900, false).await;

    // Without a session, and with a forged one, no staff page opens.
    browser.goto(&format!("{}/console/holds/{hold}", app.url)).await;
    loaded(&browser, "a staff page without a session").await;
    assert!(browser.url().await.ends_with("/console/sign-in"));
    assert!(!browser.body_text().await.contains("TS-20261123-0002"));

    sign_in(&app, &browser).await;
    let list = browser.body_text().await;
    assert!(list.contains("TS-20261123-0002") && list.contains("残り時間"), "{list}");
    shoot(&browser, "holds").await;

    // Another site's form, posted from the staff member's own browser, is refused.
    let attacker = attacker_site(format!("{}/console/holds/{hold}/resolve", app.url)).await;
    browser.goto(&attacker).await;
    browser
        .wait_for(
            "the console's answer to the other site's form",
            "return location.pathname.endsWith('/resolve') && document.readyState === 'complete';",
        )
        .await;
    assert!(
        browser.body_text().await.contains("403"),
        "{}",
        browser.body_text().await
    );
    assert_eq!(
        app.hold_state(hold.as_str()).await,
        HoldState::Held,
        "the other site changed nothing"
    );

    // The hold: both orders, a note after the phone call, then ship both.
    browser.goto(&format!("{}/console/holds/{hold}", app.url)).await;
    loaded(&browser, "the hold's page").await;
    let page = browser.body_text().await;
    for expected in [
        "TS-20261123-0001",
        "TS-20261123-0002",
        "山田 太郎",
        "090-1234-5678",
        "有機煎茶 100g",
    ] {
        assert!(page.contains(expected), "{expected} missing: {page}");
    }
    shoot(&browser, "hold").await;
    browser
        .type_into(&browser.find("#note").await, "11/29 電話で確認。2件とも必要とのこと。")
        .await;
    browser.click(&browser.find("#add-note").await).await;
    browser
        .wait_for("the note recorded", "return !!document.querySelector('#done');")
        .await;
    browser.click(&browser.find("#confirm").await).await;
    browser
        .wait_for(
            "the hold settled",
            "return location.search.includes('done=settled') && document.readyState === 'complete';",
        )
        .await;
    let settled = app.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Confirmed);
    assert_eq!(settled.resolution.unwrap().by, Resolver::Staff { name: STAFF.into() });
    assert!(
        browser
            .body_text()
            .await
            .contains(&format!("{STAFF} のメモ: 11/29 電話で確認"))
    );

    // The buyer goes on the blacklist from the hold's page; their next order is held without a mail.
    browser
        .type_into(&browser.find("#reason").await, "受取拒否が続いたため")
        .await;
    browser.click(&browser.find("#blacklist-add").await).await;
    browser
        .wait_for(
            "the buyer blacklisted",
            "return location.search.includes('done=blacklisted') && document.readyState === 'complete';",
        )
        .await;
    browser.goto(&format!("{}/console/blacklist", app.url)).await;
    loaded(&browser, "the blacklist").await;
    assert!(browser.body_text().await.contains("受取拒否が続いたため"));
    shoot(&browser, "blacklist").await;

    // The shop's own name for its mails, set in the console: the next mail carries it.
    browser.goto(&format!("{}/console/settings", app.url)).await;
    loaded(&browser, "the settings").await;
    browser.click(&browser.find("#mall option[value=own]").await).await;
    browser.type_into(&browser.find("#shop").await, "tanaka-shop").await;
    browser.click(&browser.find("#open-shop").await).await;
    browser
        .wait_for(
            "the shop's settings",
            "return location.pathname === '/console/settings/own/tanaka-shop' && document.readyState === 'complete';",
        )
        .await;
    browser.type_into(&browser.find("#name").await, "田中商店 本店").await;
    browser
        .type_into(&browser.find("#staff_email").await, "honten@tanaka-shop.example")
        .await;
    browser.click(&browser.find("#save-settings").await).await;
    browser
        .wait_for("the settings saved", "return !!document.querySelector('#done');")
        .await;
    shoot(&browser, "settings").await;

    let mut next: Value = serde_json::from_slice(&event("generic/order.json")).unwrap();
    next["order_id"] = json!("TS-20261130-0009");
    next["placed_at"] = json!("2026-11-30T09:00:00+09:00");
    next["lines"][0]["product"] = json!("TEA-GENMAI-200");
    next["lines"][0]["title"] = json!("玄米茶 200g");
    let mails_before = app.outbox().len();
    let hit = post_order(&app, &next).await;
    assert_eq!(hit["status"], "held", "{hit}");
    let buyer_mails: Vec<String> = app.outbox()[mails_before..]
        .iter()
        .filter(|m| !m.to.contains("tanaka-shop.example"))
        .map(|m| m.subject.clone())
        .collect();
    assert!(buyer_mails.is_empty(), "no mail to the buyer: {buyer_mails:?}");
    let staff_alert = app.outbox()[mails_before..]
        .iter()
        .find(|m| m.to.contains("honten@tanaka-shop.example"))
        .map(|m| format!("{}\n{}", m.subject, m.text))
        .expect("the shop's own staff address is told");
    assert!(
        staff_alert.contains("田中商店 本店"),
        "the shop's name as set: {staff_alert}"
    );
    browser.goto(&format!("{}/console/holds", app.url)).await;
    loaded(&browser, "the holds").await;
    let rows = browser.find_all("tr.hold .badge.black").await;
    assert_eq!(rows.len(), 1, "the blacklisted buyer's order is held and marked");

    // The timeline of the settled order, printable and exported as CSV by the browser.
    browser
        .goto(&format!("{}/console/orders/own/tanaka-shop/TS-20261123-0002", app.url))
        .await;
    loaded(&browser, "the timeline").await;
    shoot(&browser, "timeline").await;
    // The page may run no script that fetches (its CSP forbids it), and a download leaves no page to
    // read: the export link is followed with the browser's own session cookie instead.
    let href = browser
        .execute("return document.querySelector('#csv').href;", json!([]))
        .await;
    let session = browser
        .cookies()
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mallguard_staff")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let export = app
        .client
        .get(href.as_str().unwrap())
        .header("cookie", format!("mallguard_staff={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"mallguard-own-TS-20261123-0002.csv\"")
    );
    let csv = export.text().await.unwrap();
    let csv = csv.as_str();
    assert!(csv.starts_with('\u{feff}'), "{csv}");
    assert!(
        csv.contains("日時（日本時間）") && csv.contains(&format!("スタッフ（{STAFF}）")),
        "{csv}"
    );
    let printed = browser
        .execute(
            "return Array.from(document.styleSheets).some(s => Array.from(s.cssRules).some(r => r.media && r.media.mediaText === 'print'));",
            json!([]),
        )
        .await;
    assert_eq!(printed, true, "a print stylesheet");

    // Signing out ends the session; a forged cookie opens nothing.
    browser.click(&browser.find("header button").await).await;
    loaded(&browser, "signed out").await;
    browser.goto(&format!("{}/console/holds", app.url)).await;
    loaded(&browser, "a staff page after signing out").await;
    assert!(browser.url().await.ends_with("/console/sign-in"));
    browser
        .cdp(
            "Network.setCookie",
            json!({ "name": "mallguard_staff", "value": "c2F0b0B0YW5ha2Etc2hvcC5leGFtcGxl.x.1.99999999999.forged", "url": format!("{}/console/", app.url) }),
        )
        .await;
    browser.goto(&format!("{}/console/holds", app.url)).await;
    loaded(&browser, "a staff page with a forged session").await;
    assert!(browser.url().await.ends_with("/console/sign-in"));
}
