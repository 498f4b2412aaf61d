//! The console end to end over the in-memory store: a real hold made by ingesting two orders of one
//! buyer, the staff signed in through the mailed link, and every request driven through the router.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use jiff::SignedDuration;
use mallguard_console::{ConsoleConfig, ConsoleUrl, SESSION_COOKIE, router};
use mallguard_domain::hold::{HoldState, Resolver};
use mallguard_domain::ids::HoldId;
use mallguard_domain::ports::roles::*;
use mallguard_domain::service::{IngestOutcome, Mallguard};
use mallguard_domain::staff::StaffList;
use mallguard_domain::testing::{self, ManualClock, MemoryStore, RecordingMailer, incoming, order, order_at};
use tower::ServiceExt;

const STAFF: &str = "sato@tanaka-shop.example";

struct Shop {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
    router: Router,
    hold: HoldId,
}

struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Shop {
    async fn new() -> Self {
        let store = Arc::new(MemoryStore::default());
        let mailer = Arc::new(RecordingMailer::default());
        let clock = Arc::new(ManualClock::at("2026-11-23T03:06:00Z"));
        let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), testing::settings());
        app.ingest(incoming(order("1001"))).await.unwrap();
        let IngestOutcome::Held { hold, .. } = app
            .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
            .await
            .unwrap()
        else {
            panic!("the second order must be held")
        };
        let router = router(
            app.clone(),
            Arc::new(mallguard_malls::inbound::Malls),
            ConsoleConfig {
                staff: StaffList::parse(&format!("{STAFF}, ito@tanaka-shop.example")).unwrap(),
                base_url: ConsoleUrl::Fixed("https://console.example/".into()),
            },
        );
        Self {
            app,
            store,
            mailer,
            clock,
            router,
            hold,
        }
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "console.example");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, format!("{SESSION_COOKIE}={cookie}"));
        }
        if form.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        for (k, v) in extra {
            request = request.header(*k, *v);
        }
        let request = request.body(Body::from(form.unwrap_or_default().to_owned())).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let header_of = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let location = header_of(header::LOCATION);
        let cookie = header_of(header::SET_COOKIE);
        let content_type = header_of(header::CONTENT_TYPE);
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Answer {
            status,
            location,
            cookie,
            content_type,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> Answer {
        self.send(Method::GET, uri, cookie, None, &[]).await
    }

    async fn post(&self, uri: &str, cookie: Option<&str>, form: &str) -> Answer {
        self.send(
            Method::POST,
            uri,
            cookie,
            Some(form),
            &[("sec-fetch-site", "same-origin")],
        )
        .await
    }

    /// Asks for a link for `address` and returns the token of the link mailed, if one was.
    async fn ask_for_link(&self, address: &str) -> Option<String> {
        let before = self.mailer.mails().len();
        let answer = self.post("/console/sign-in", None, &format!("address={address}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.body.contains("id=\"link-sent\""),
            "the page says the same either way"
        );
        let mails = self.mailer.mails();
        let mail = mails[before..].first()?;
        let link = mail
            .text
            .split_whitespace()
            .find(|w| w.starts_with("https://console.example/console/sign-in/"))
            .expect("the mail carries the link");
        Some(link.rsplit('/').next().unwrap().to_owned())
    }

    /// Signs `STAFF` in through the mailed link; returns the session cookie's value.
    async fn sign_in(&self) -> String {
        let token = self.ask_for_link(STAFF).await.expect("a link for a listed address");
        let page = self.get(&format!("/console/sign-in/{token}"), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("id=\"sign-in\""),
            "the link's page only shows a button"
        );
        let answer = self.post(&format!("/console/sign-in/{token}"), None, "").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let cookie = answer.cookie.expect("a session cookie");
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/console",
            "Max-Age=43200",
        ] {
            assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
        }
        cookie
            .split(';')
            .next()
            .unwrap()
            .strip_prefix(&format!("{SESSION_COOKIE}="))
            .unwrap()
            .to_owned()
    }

    /// The form token printed in a page of this session.
    async fn form_token(&self, session: &str) -> String {
        let page = self.get("/console/holds", Some(session)).await;
        let at = page.body.find("name=\"form_token\" value=\"").expect("a form") + 25;
        page.body[at..].split('"').next().unwrap().to_owned()
    }
}

#[tokio::test]
async fn no_staff_page_opens_without_a_session() {
    let shop = Shop::new().await;
    for path in [
        "/console/holds".to_owned(),
        format!("/console/holds/{}", shop.hold),
        "/console/blacklist".into(),
        "/console/quarantine".into(),
        "/console/orders/own/tanaka/1001".into(),
        "/console/orders/own/tanaka/1001/timeline.csv".into(),
    ] {
        let answer = shop.get(&path, None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.location.as_deref(), Some("/console/sign-in"), "{path}");
        assert!(!answer.body.contains("1002"), "{path} shows nothing");
    }
    // A form without a session changes nothing.
    let answer = shop
        .post(
            &format!("/console/holds/{}/resolve", shop.hold),
            None,
            "decision=cancel&form_token=x",
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        shop.store.hold(&shop.hold).await.unwrap().unwrap().state,
        HoldState::Held
    );
}

#[tokio::test]
async fn a_listed_address_gets_a_single_use_link_and_a_stranger_learns_nothing() {
    let shop = Shop::new().await;
    assert_eq!(
        shop.ask_for_link("mallory@evil.example").await,
        None,
        "no mail to a stranger"
    );
    let token = shop
        .ask_for_link("SATO@tanaka-shop.example")
        .await
        .expect("case does not matter");
    let mail = shop.mailer.mails().pop().unwrap();
    assert_eq!(mail.to.as_str(), STAFF, "mailed to the address as listed");
    assert!(mail.subject.contains("サインイン"), "{}", mail.subject);

    let first = shop.post(&format!("/console/sign-in/{token}"), None, "").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let again = shop.post(&format!("/console/sign-in/{token}"), None, "").await;
    assert_eq!(again.status, StatusCode::GONE, "a link works once");
    assert!(again.cookie.is_none());

    let late = shop.ask_for_link(STAFF).await.unwrap();
    shop.clock.advance(SignedDuration::from_mins(15));
    let expired = shop.post(&format!("/console/sign-in/{late}"), None, "").await;
    assert_eq!(expired.status, StatusCode::GONE, "a link works for 15 minutes");
    assert!(expired.body.contains("15"), "{}", expired.body);
    let page = shop.get(&format!("/console/sign-in/{late}"), None).await;
    assert!(
        page.body.contains("有効期限"),
        "the link's page says it expired: {}",
        page.body
    );

    // A made-up link, or a buyer's link token, opens nothing.
    let buyer_token = testing::link_tokens(&shop.mailer.mails()[0])[0].clone();
    for bad in ["nonsense".to_owned(), buyer_token] {
        let answer = shop.post(&format!("/console/sign-in/{bad}"), None, "").await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{bad}");
        assert!(answer.cookie.is_none());
    }
}

#[tokio::test]
async fn forged_expired_or_buyer_sessions_are_refused() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    assert_eq!(shop.get("/console/holds", Some(&session)).await.status, StatusCode::OK);
    let buyer_token = testing::link_tokens(&shop.mailer.mails()[0])[0].clone();
    let forged = {
        let mut parts: Vec<String> = session.split('.').map(str::to_owned).collect();
        parts[0] = base64_url("boss@tanaka-shop.example");
        parts.join(".")
    };
    for bad in [forged, buyer_token, "x".into(), format!("{session}x")] {
        let answer = shop.get("/console/holds", Some(&bad)).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{bad}");
    }
    shop.clock.advance(SignedDuration::from_hours(12));
    let answer = shop.get("/console/holds", Some(&session)).await;
    assert_eq!(
        answer.status,
        StatusCode::SEE_OTHER,
        "a session ends 12 hours after sign-in"
    );
}

fn base64_url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[tokio::test]
async fn a_cross_site_post_or_a_post_without_the_form_token_is_refused() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;
    let path = format!("/console/holds/{}/resolve", shop.hold);
    let form = format!("decision=cancel&form_token={token}");
    let cross_site = shop
        .send(
            Method::POST,
            &path,
            Some(&session),
            Some(&form),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let other_origin = shop
        .send(
            Method::POST,
            &path,
            Some(&session),
            Some(&form),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(other_origin.status, StatusCode::FORBIDDEN);
    let no_token = shop.post(&path, Some(&session), "decision=cancel").await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let another_sessions_token = {
        let other = shop.sign_in().await;
        shop.form_token(&other).await
    };
    let wrong = shop
        .post(
            &path,
            Some(&session),
            &format!("decision=cancel&form_token={another_sessions_token}"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        shop.store.hold(&shop.hold).await.unwrap().unwrap().state,
        HoldState::Held,
        "nothing refused changed the hold"
    );
    // The same form from the console itself goes through.
    let ok = shop
        .send(
            Method::POST,
            &path,
            Some(&session),
            Some(&form),
            &[("origin", "https://console.example")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
}

#[tokio::test]
async fn staff_settle_a_hold_note_a_call_and_every_action_names_them() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;

    // SES reported the buyer's notice delivered: the hold's page says so beside the mail.
    let notice_id =
        mallguard_domain::notice::NoticeId::for_hold(&shop.hold, mallguard_domain::notice::NoticeKind::Notice);
    let notice = shop.store.notice(&notice_id).await.unwrap().unwrap();
    shop.app
        .mail_reported(mallguard_domain::service::MailReport {
            message_id: notice.message_id.clone().unwrap(),
            outcome: mallguard_domain::service::MailOutcome::Delivered,
            at: shop.app.now(),
            hold: Some(shop.hold.clone()),
            kind: Some(mallguard_domain::notice::NoticeKind::Notice),
            detail: String::new(),
        })
        .await
        .unwrap();
    let list = shop.get("/console/holds", Some(&session)).await;
    assert!(
        list.body.contains(&format!("data-hold=\"{}\"", shop.hold)),
        "{}",
        list.body
    );
    assert!(list.body.contains("残り時間"), "the time left is shown");
    let page = shop.get(&format!("/console/holds/{}", shop.hold), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for expected in [
        "1001",
        "1002",
        "山田 太郎",
        "090-1234-5678",
        "電話番号",
        "購入者への確認メール",
        "送信済み（配信済み）",
        "id=\"confirm\"",
        "id=\"cancel\"",
    ] {
        assert!(page.body.contains(expected), "{expected} missing from the hold's page");
    }

    let noted = shop
        .post(
            &format!("/console/holds/{}/note", shop.hold),
            Some(&session),
            &format!("form_token={token}&note=%E9%9B%BB%E8%A9%B1%E3%81%A7%E7%A2%BA%E8%AA%8D"),
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER);
    let empty = shop
        .post(
            &format!("/console/holds/{}/note", shop.hold),
            Some(&session),
            &format!("form_token={token}&note=+"),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("メモが空です"));

    let settled = shop
        .post(
            &format!("/console/holds/{}/resolve", shop.hold),
            Some(&session),
            &format!("form_token={token}&decision=confirm"),
        )
        .await;
    assert_eq!(settled.status, StatusCode::SEE_OTHER);
    assert_eq!(
        settled.location.unwrap(),
        format!("/console/holds/{}?done=settled", shop.hold)
    );
    let hold = shop.store.hold(&shop.hold).await.unwrap().unwrap();
    assert_eq!(hold.state, HoldState::Confirmed);
    assert_eq!(hold.resolution.unwrap().by, Resolver::Staff { name: STAFF.into() });
    let twice = shop
        .post(
            &format!("/console/holds/{}/resolve", shop.hold),
            Some(&session),
            &format!("form_token={token}&decision=cancel"),
        )
        .await;
    assert!(twice.location.unwrap().ends_with("done=already"));

    let timeline = shop.get("/console/orders/own/tanaka/1002", Some(&session)).await;
    assert_eq!(timeline.status, StatusCode::OK);
    assert!(
        timeline.body.contains(&format!("{STAFF} のメモ: 電話で確認")),
        "{}",
        timeline.body
    );
    assert!(
        timeline.body.contains(&format!("スタッフ（{STAFF}）")),
        "{}",
        timeline.body
    );
    let settled_tab = shop.get("/console/holds?tab=settled&q=%231002", Some(&session)).await;
    assert!(settled_tab.body.contains(&format!("data-hold=\"{}\"", shop.hold)));
    let nothing = shop.get("/console/holds?tab=settled&q=9999", Some(&session)).await;
    assert!(nothing.body.contains("id=\"no-holds\""));
}

#[tokio::test]
async fn the_timeline_exports_as_csv_with_every_event_to_the_second() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let csv = shop
        .get("/console/orders/own/tanaka/1002/timeline.csv", Some(&session))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(csv.body.starts_with('\u{feff}'), "a BOM, so spreadsheets read UTF-8");
    let history = shop.app.evidence(&order("1002").order_ref).await.unwrap().history;
    let lines: Vec<&str> = csv.body.trim_end().split("\r\n").collect();
    assert_eq!(
        lines.len(),
        history.len() + 1,
        "a header and one row per event: {lines:#?}"
    );
    assert!(lines[1].starts_with("\"2026年11月23日 12:06:00\""), "{}", lines[1]);
    assert_eq!(
        shop.get("/console/orders/own/tanaka/nope/timeline.csv", Some(&session))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        shop.get("/console/orders/nomall/tanaka/1002", Some(&session))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_blacklisted_customer_is_added_listed_hit_and_removed_from_the_console() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;
    let refused = shop
        .post(
            "/console/orders/own/tanaka/1001/blacklist",
            Some(&session),
            &format!("form_token={token}&reason="),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let added = shop
        .post(
            "/console/orders/own/tanaka/1001/blacklist",
            Some(&session),
            &format!("form_token={token}&reason=%E5%8F%97%E5%8F%96%E6%8B%92%E5%90%A6"),
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let list = shop.get("/console/blacklist?done=blacklisted", Some(&session)).await;
    assert!(
        list.body.contains("受取拒否") && list.body.contains(STAFF),
        "{}",
        list.body
    );
    let entry = shop.app.blacklist().await.unwrap().pop().unwrap();
    assert_eq!(entry.added_by, STAFF);

    // The customer orders again a week later: held for the staff, no buyer mail.
    shop.clock.advance(SignedDuration::from_hours(24 * 7));
    let sent = shop.mailer.mails().len();
    let outcome = shop
        .app
        .ingest(incoming(order_at("2001", "2026-11-30T03:00:00Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, notified: false } = outcome else {
        panic!("{outcome:?}")
    };
    let to: Vec<String> = shop.mailer.mails()[sent..].iter().map(|m| m.to.to_string()).collect();
    assert_eq!(to, vec!["staff@tanaka-shop.example".to_owned()], "the staff only");
    // A week on, the session of last week is over: sign in again.
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;
    let page = shop.get(&format!("/console/holds/{hold}"), Some(&session)).await;
    assert!(
        page.body.contains("ブラックリスト登録元の注文") && page.body.contains("badge black"),
        "{}",
        page.body
    );

    let removed = shop
        .post(
            &format!("/console/blacklist/{}/remove", entry.id),
            Some(&session),
            &format!("form_token={token}"),
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(shop.app.blacklist().await.unwrap().is_empty());
    let gone = shop
        .post(
            &format!("/console/blacklist/{}/remove", entry.id),
            Some(&session),
            &format!("form_token={token}"),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn quarantined_payloads_are_listed_and_replayed_from_the_console() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;
    shop.app
        .quarantine(
            "generic",
            b"{\"not\": \"an order\"}".to_vec(),
            Default::default(),
            "missing field `order_id`",
        )
        .await
        .unwrap();
    let page = shop.get("/console/quarantine", Some(&session)).await;
    assert!(page.body.contains("missing field `order_id`"), "{}", page.body);
    assert!(page.body.contains("{&quot;not&quot;: &quot;an order&quot;}") || page.body.contains("an order"));
    let replayed = shop
        .post(
            "/console/quarantine/replay",
            Some(&session),
            &format!("form_token={token}"),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert!(replayed.body.contains("id=\"replay-results\""), "{}", replayed.body);
    assert!(replayed.body.contains("まだ解析できません"), "{}", replayed.body);
}

#[tokio::test]
async fn what_buyers_typed_is_escaped_on_every_page() {
    let shop = Shop::new().await;
    let mut evil = order_at("3001", "2026-11-23T03:05:30Z");
    evil.buyer.name = "<script>alert(1)</script>".into();
    evil.ship_to.name = "<img src=x onerror=alert(1)>".into();
    shop.app.ingest(incoming(evil)).await.unwrap();
    let session = shop.sign_in().await;
    for path in ["/console/orders/own/tanaka/3001".to_owned(), "/console/holds".into()] {
        let page = shop.get(&path, Some(&session)).await;
        assert!(
            !page.body.contains("<script>alert") && !page.body.contains("<img src=x"),
            "{path}"
        );
    }
    let page = shop.get("/console/orders/own/tanaka/3001", Some(&session)).await;
    assert!(page.body.contains("&lt;script&gt;"), "{}", page.body);
}

#[tokio::test]
async fn on_lambda_the_link_points_at_the_function_url_and_never_at_a_host_an_attacker_typed() {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:06:00Z"));
    let app = Mallguard::new(store, mailer.clone(), clock, testing::settings());
    let router = router(
        app,
        Arc::new(mallguard_malls::inbound::Malls),
        ConsoleConfig {
            staff: StaffList::parse(STAFF).unwrap(),
            base_url: ConsoleUrl::FunctionUrl,
        },
    );
    let ask = |host: &'static str| {
        let router = router.clone();
        async move {
            let request = Request::post("/console/sign-in")
                .header(header::HOST, host)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("address={STAFF}")))
                .unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    };
    assert_eq!(ask("abc123.lambda-url.ap-northeast-1.on.aws").await, StatusCode::OK);
    let link = mailer.mails().pop().unwrap().text;
    assert!(
        link.contains("https://abc123.lambda-url.ap-northeast-1.on.aws/console/sign-in/"),
        "{link}"
    );
    assert_eq!(ask("evil.example").await, StatusCode::FORBIDDEN);
    assert_eq!(ask("evil.example/x.lambda-url.on.aws").await, StatusCode::FORBIDDEN);
    assert_eq!(mailer.mails().len(), 1, "no link for a host an attacker typed");
}

#[tokio::test]
async fn a_shops_settings_are_changed_in_the_console_and_the_next_notice_follows_them() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let token = shop.form_token(&session).await;
    let list = shop.get("/console/settings", Some(&session)).await;
    assert!(list.body.contains("id=\"no-settings\""), "{}", list.body);
    let open = shop.get("/console/settings?mall=own&shop=tanaka", Some(&session)).await;
    assert_eq!(open.location.as_deref(), Some("/console/settings/own/tanaka"));
    let page = shop.get("/console/settings/own/tanaka", Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("placeholder=\"田中商店\""),
        "the default is shown: {}",
        page.body
    );

    let form = |version: u64, answer: &str| {
        format!(
            "form_token={token}&version={version}&name=%E7%94%B0%E4%B8%AD%E5%95%86%E5%BA%97+%E5%85%AC%E5%BC%8F&answer_hours={answer}&contact_email=&contact_phone=&staff_email=&language=&window_hours=&shipping_cutoff=&quiet_hours=&amazon_auto_cancel="
        )
    };
    let refused = shop
        .post("/console/settings/own/tanaka", Some(&session), &form(0, "0"))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("answer_hours"), "{}", refused.body);
    let saved = shop
        .post("/console/settings/own/tanaka", Some(&session), &form(0, "6"))
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stale = shop
        .post("/console/settings/own/tanaka", Some(&session), &form(0, "8"))
        .await;
    assert_eq!(
        stale.status,
        StatusCode::CONFLICT,
        "a save from a version read before another's"
    );
    let settings = shop
        .app
        .shop_settings_of(mallguard_domain::ids::Mall::Own, &order("1").order_ref.shop)
        .await
        .unwrap();
    assert_eq!(
        (settings.version, settings.answer_hours, settings.updated_by.as_str()),
        (1, Some(6), STAFF)
    );
    let page = shop
        .get("/console/settings/own/tanaka?done=saved", Some(&session))
        .await;
    assert!(page.body.contains("value=\"田中商店 公式\""), "{}", page.body);

    // The next duplicate of that shop: the notice names the shop as set, the deadline is six hours on.
    let before = shop.mailer.mails().len();
    shop.app
        .ingest(incoming(order_at("5001", "2026-11-23T03:05:40Z")))
        .await
        .unwrap();
    let outcome = shop
        .app
        .ingest(incoming(order_at("5002", "2026-11-23T03:05:50Z")))
        .await
        .unwrap();
    let IngestOutcome::Held { hold, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let notice = shop.mailer.mails()[before..]
        .iter()
        .find(|m| m.to.as_str() == "taro.yamada@example.com")
        .cloned()
        .expect("a buyer notice");
    assert!(notice.subject.contains("田中商店 公式"), "{}", notice.subject);
    let hold = shop.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(
        hold.deadline.duration_since(shop.app.now()),
        SignedDuration::from_hours(6)
    );
}

#[tokio::test]
async fn a_hold_whose_notice_bounced_shows_the_call_to_make_in_the_list_and_on_its_page() {
    let shop = Shop::new().await;
    let session = shop.sign_in().await;
    let list = shop.get("/console/holds", Some(&session)).await;
    assert!(!list.body.contains("badge phone"), "no call before the bounce");
    shop.app
        .mail_reported(mallguard_domain::service::MailReport {
            message_id: "ses-bounce".into(),
            outcome: mallguard_domain::service::MailOutcome::Bounced { permanent: true },
            at: shop.app.now(),
            hold: Some(shop.hold.clone()),
            kind: Some(mallguard_domain::notice::NoticeKind::Notice),
            detail: String::new(),
        })
        .await
        .unwrap();
    let list = shop.get("/console/holds", Some(&session)).await;
    assert!(
        list.body.contains("<span class=\"badge phone\">要電話</span>"),
        "{}",
        list.body
    );
    let page = shop.get(&format!("/console/holds/{}", shop.hold), Some(&session)).await;
    assert!(page.body.contains("id=\"phone-task\""), "{}", page.body);
}

/// What a page shows of a text, back from HTML's escapes.
fn unescaped(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_holds_page_lists_the_customers_other_orders_the_bundle_candidates_and_every_mail_word_for_word() {
    let shop = Shop::new().await;
    // The same buyer's B to the same address, and a shop that packs one buyer's orders together.
    let mut b = order_at("1003", "2026-11-23T03:05:30Z");
    b.lines = mallguard_domain::order::OrderLines::parse(vec![testing::line("SKU-B", 1)]).unwrap();
    assert_eq!(shop.app.ingest(incoming(b)).await.unwrap(), IngestOutcome::Accepted);
    let tanaka = mallguard_domain::ids::ShopId::parse("tanaka").unwrap();
    shop.app
        .save_shop_settings(
            mallguard_domain::ids::Mall::Own,
            &tanaka,
            None,
            &[("bundle".into(), "all".into())],
            STAFF,
        )
        .await
        .unwrap();
    let session = shop.sign_in().await;
    let page = shop.get(&format!("/console/holds/{}", shop.hold), Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let related = page.body.split("id=\"related\"").nth(1).expect("the related orders");
    assert!(related.contains("1003"), "{}", page.body);
    let candidates = page
        .body
        .split("id=\"bundle-candidates\"")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .expect("the 同梱候補");
    for number in ["1001", "1002", "1003"] {
        assert!(candidates.contains(number), "{number} missing from {candidates}");
    }

    // Every mail of the hold, word for word, beside the timeline: on the hold's page and the order's.
    let order = shop.get("/console/orders/own/tanaka/1002", Some(&session)).await;
    assert_eq!(order.status, StatusCode::OK);
    let mails: Vec<_> = shop
        .mailer
        .mails()
        .into_iter()
        .filter(|m| m.tags.contains(&("hold".into(), shop.hold.to_string())))
        .collect();
    assert_eq!(mails.len(), 2, "the notice and the staff alert");
    for shown in [unescaped(&page.body), unescaped(&order.body)] {
        for mail in &mails {
            assert!(shown.contains(&mail.text), "{} not shown word for word", mail.subject);
            assert!(shown.contains(&mail.digest()), "{} without its digest", mail.subject);
        }
        assert_eq!(shown.matches("経過の記録と一致").count(), 2);
    }
}

#[tokio::test]
async fn the_hold_and_the_order_show_the_page_the_buyer_was_shown_as_its_visible_text() {
    let shop = Shop::new().await;
    let notice = shop
        .mailer
        .mails()
        .into_iter()
        .find(|m| testing::link_tokens(m).len() == 2)
        .expect("the buyer's notice");
    let token = &testing::link_tokens(&notice)[1];
    let html = "<html><head><style>p{}</style></head><body><h1>ご確認</h1>\
                <p>後のご注文（1002）をキャンセルしますか &amp; 確認</p></body></html>";
    let render = |_: &mallguard_domain::service::HoldPage| {
        Ok::<_, ()>((
            html.to_owned(),
            mallguard_domain::service::PageMeta {
                template: "0123456789abcdef".into(),
                lang: mallguard_domain::Language::Ja,
            },
        ))
    };
    shop.app.view_rendered(token, render).await.unwrap().1.unwrap();
    let digest = mallguard_domain::service::sha256_hex(html.as_bytes());
    let session = shop.sign_in().await;
    let hold = shop.get(&format!("/console/holds/{}", shop.hold), Some(&session)).await;
    let order = shop.get("/console/orders/own/tanaka/1002", Some(&session)).await;
    for page in [&hold, &order] {
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let shown = unescaped(page.body.split("id=\"page-texts\"").nth(1).expect("the pages shown"));
        assert!(
            shown.contains("ご確認\n後のご注文（1002）をキャンセルしますか & 確認\n"),
            "the visible text, not the markup: {shown}"
        );
        assert!(!shown.contains("<h1>") && !shown.contains("p{}"), "{shown}");
        assert!(shown.contains(&digest) && shown.contains("経過の記録と一致"), "{shown}");
    }
}
