//! The respond router end to end over the in-memory store: a real hold made by ingesting two identical
//! orders, the links taken from the notice mail, and requests driven through the router.

use std::sync::Arc;

use mallguard_domain::ports::roles::*;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use mallguard_domain::history::Event;
use mallguard_domain::hold::{Decision, Hold, HoldState};
use mallguard_domain::ids::HoldId;
use mallguard_domain::order::Order;
use mallguard_domain::service::{Incoming, IngestOutcome, Mallguard};
use mallguard_domain::testing::{self, ManualClock, MemoryStore, RecordingMailer};
use mallguard_domain::token::LinkAction;
use tower::ServiceExt;

/// A shop with one suspected duplicate on hold, and the two links its notice carries.
struct Held {
    app: Mallguard,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    router: Router,
    hold: HoldId,
    confirm: String,
    cancel: String,
}

impl Held {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// Ingests orders 1001 and 1002 (same buyer, same item, five minutes apart), each changed by `edit`.
    async fn with(edit: impl Fn(&mut Order)) -> Self {
        let store = Arc::new(MemoryStore::default());
        let mailer = Arc::new(RecordingMailer::default());
        let clock = Arc::new(ManualClock::at("2026-11-23T03:06:00Z"));
        // No mall actions: the own store's order is cancelled there by the staff, so a cancelled hold's page says
        // the cancellation is in progress.
        let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), testing::settings());
        let mut first = testing::order("1001");
        let mut second = testing::order_at("1002", "2026-11-23T03:05:00Z");
        edit(&mut first);
        edit(&mut second);
        for order in [first, second] {
            let raw = order.order_ref.key().into_bytes();
            let outcome = app
                .ingest(Incoming {
                    order,
                    raw,
                    delivery: None,
                })
                .await
                .unwrap();
            if let IngestOutcome::Held { hold, .. } = outcome {
                let notice = mailer
                    .mails()
                    .into_iter()
                    .find(|m| testing::link_tokens(m).len() == 2)
                    .expect("the buyer got a notice with two links");
                let tokens = testing::link_tokens(&notice);
                return Self {
                    router: mallguard_respond::router(app.clone()),
                    app,
                    store,
                    clock,
                    hold,
                    confirm: tokens[0].clone(),
                    cancel: tokens[1].clone(),
                };
            }
        }
        panic!("the second order was not held");
    }

    async fn hold(&self) -> Hold {
        self.store.hold(&self.hold).await.unwrap().unwrap()
    }

    /// Moves the clock an hour past the hold's deadline, and past the links' expiry too when
    /// `links_expired`.
    async fn move_past_deadline(&self, links_expired: bool) {
        let policy = &self.app.settings().policy;
        let mut at = self.hold().await.deadline;
        if links_expired {
            at = at.checked_add(policy.link_grace).unwrap();
        }
        self.clock.set(at.checked_add(policy.minimum_answer_time).unwrap());
    }

    async fn get(&self, uri: &str) -> Page {
        self.request(Method::GET, uri, Body::empty(), None).await
    }

    async fn post(&self, uri: &str) -> Page {
        self.request(Method::POST, uri, Body::empty(), None).await
    }

    /// Presses a button as a browser does: the POST must answer `303 See Other` to the GET page of
    /// the same link (`uri` itself), which is then opened.
    async fn press(&self, uri: &str) -> Page {
        let posted = self.post(uri).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "POST {uri}: {}", posted.html);
        assert_eq!(
            posted.location(),
            uri,
            "POST {uri} redirects to the page of the same link"
        );
        self.get(uri).await
    }

    /// The hold's history: how many answers settled it, and how many came too late.
    async fn answers(&self) -> (usize, usize) {
        let hold = self.hold().await;
        let history = self.store.history(&hold.order).await.unwrap();
        let resolved = history
            .iter()
            .filter(|h| matches!(h.event, Event::Resolved { .. }))
            .count();
        let late = history
            .iter()
            .filter(|h| matches!(h.event, Event::LateAnswer { .. }))
            .count();
        (resolved, late)
    }

    async fn request(&self, method: Method, uri: &str, body: Body, content_type: Option<&str>) -> Page {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        Page {
            status,
            headers,
            html: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn forms(&self) -> usize {
        self.html.matches("<form method=\"post\"").count()
    }

    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .expect("a Location header")
            .to_str()
            .unwrap()
    }
}

fn h(token: &str) -> String {
    format!("/h/{token}")
}

#[tokio::test]
async fn opening_a_link_shows_both_orders_and_two_buttons_and_leaves_the_hold_held() {
    let held = Held::new().await;
    let page = held.get(&h(&held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = &page.html;
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(html.contains("<meta name=\"viewport\""));
    // Japanese lines break between phrases (Chromium), or at spaces and punctuation elsewhere.
    assert!(html.contains("word-break:auto-phrase") && html.contains("word-break:keep-all"));
    assert!(html.contains("田中商店"));
    // The earlier order partly masked: the later buyer may be somebody else.
    assert!(html.contains("**01") && html.contains("1002"));
    assert!(!html.contains(">1001<"), "{html}");
    assert!(html.contains("有機緑茶 SKU-A × 1"));
    assert!(html.contains("山田 太郎"));
    assert!(html.contains("2026年11月23日 12:00") && html.contains("2026年11月23日 12:05"));
    assert!(html.contains(HoldState::Held.label(mallguard_domain::Language::Ja)));
    // The deadline, in JST: 24 hours after the notice.
    assert!(html.contains("2026年11月24日 12:06（日本時間）"), "{html}");
    assert_eq!(page.forms(), 2);
    assert!(html.contains("両方とも発送を希望する"));
    assert!(html.contains("後のご注文（1002）をキャンセルする"));
    assert_eq!(held.hold().await.state, HoldState::Held);
    // Opening it again (a mail scanner, a second look) changes nothing either.
    assert_eq!(held.get(&h(&held.confirm)).await.status, StatusCode::OK);
    assert_eq!(held.hold().await.state, HoldState::Held);
}

#[tokio::test]
async fn the_button_of_the_clicked_link_is_the_primary_one() {
    let held = Held::new().await;
    let page = held.get(&h(&held.cancel)).await;
    let primary = page.html.find("class=\"primary\">後のご注文").is_some();
    assert!(primary, "{}", page.html);
    let page = held.get(&h(&held.confirm)).await;
    assert!(page.html.contains("class=\"primary\">両方とも発送を希望する"));
    assert_eq!(page.html.matches("class=\"primary\"").count(), 1);
}

#[tokio::test]
async fn each_button_posts_to_a_token_scoped_to_its_action() {
    let held = Held::new().await;
    let page = held.get(&h(&held.confirm)).await;
    let signer = &held.app.settings().signer;
    let actions: Vec<LinkAction> = page
        .html
        .split("action=\"/h/")
        .skip(1)
        .map(|rest| {
            let token = &rest[..rest.find('"').unwrap()];
            signer.verify(token, held.app.now()).unwrap().action
        })
        .collect();
    assert_eq!(actions, vec![LinkAction::Confirm, LinkAction::Cancel]);
}

#[tokio::test]
async fn pressing_cancel_cancels_the_later_order_and_redirects_to_the_page_that_says_so() {
    let held = Held::new().await;
    let posted = held.post(&h(&held.cancel)).await;
    // Post/redirect/get: the answer is done, and the browser is sent to the link's page.
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    assert_eq!(posted.location(), h(&held.cancel));
    assert_eq!(held.hold().await.state, HoldState::Cancelled);
    let page = held.get(posted.location()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("ご回答ありがとうございました"), "{}", page.html);
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
    assert!(page.html.contains("・お客様のご回答による"));
    assert_eq!(page.forms(), 0);
    assert_eq!(held.answers().await, (1, 0));
}

#[tokio::test]
async fn reloading_the_page_after_a_press_shows_the_outcome_and_answers_nothing_again() {
    let held = Held::new().await;
    held.press(&h(&held.cancel)).await;
    let settled = held.hold().await;
    // A reload after the redirect is a GET: it shows the same outcome and changes nothing.
    for _ in 0..3 {
        let page = held.get(&h(&held.cancel)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.html.contains("ご回答ありがとうございました"));
        assert!(
            page.html
                .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
        );
    }
    assert_eq!(held.hold().await, settled);
    assert_eq!(held.answers().await, (1, 0), "one answer in the history");
}

#[tokio::test]
async fn a_second_press_redirects_to_the_outcome_and_changes_nothing() {
    let held = Held::new().await;
    held.press(&h(&held.cancel)).await;
    let settled = held.hold().await;
    let page = held.press(&h(&held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
    assert_eq!(page.forms(), 0);
    assert_eq!(held.hold().await, settled);
    // The second press is noted as a late answer; only the first one settled the hold.
    assert_eq!(held.answers().await, (1, 1));
}

#[tokio::test]
async fn confirming_after_cancelling_leaves_the_order_cancelled_and_says_it_was_settled_before() {
    let held = Held::new().await;
    held.press(&h(&held.cancel)).await;
    let page = held.press(&h(&held.confirm)).await;
    assert_eq!(page.status, StatusCode::OK);
    // It says what happened, not only that something did.
    assert!(
        page.html.contains("後のご注文はすでにキャンセルされています"),
        "{}",
        page.html
    );
    assert!(!page.html.contains("確定しています"), "{}", page.html);
    assert!(page.html.contains("先にいただいたご回答により"));
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
    assert!(!page.html.contains("ご回答ありがとうございました"));
    assert_eq!(held.hold().await.state, HoldState::Cancelled);
    // Opening a link of a settled hold shows the outcome and no buttons.
    let page = held.get(&h(&held.confirm)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.forms(), 0);
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
}

#[tokio::test]
async fn pressing_ship_both_confirms_the_hold() {
    let held = Held::new().await;
    let page = held.press(&h(&held.confirm)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("ご回答ありがとうございました"));
    assert!(
        page.html
            .contains(HoldState::Confirmed.label(mallguard_domain::Language::Ja))
    );
    assert!(page.html.contains("両方を発送いたします"));
    assert_eq!(held.hold().await.state, HoldState::Confirmed);
}

#[tokio::test]
async fn a_hold_the_shop_settled_first_says_so_and_a_press_changes_nothing() {
    let held = Held::new().await;
    held.app.resolve(&held.hold, Decision::Confirm, "suzuki").await.unwrap();
    let page = held.get(&h(&held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("両方のご注文の発送がすでに決まっています"),
        "{}",
        page.html
    );
    assert!(page.html.contains("ショップでの確認により"));
    assert!(
        page.html
            .contains(HoldState::Confirmed.label(mallguard_domain::Language::Ja))
    );
    assert_eq!(page.forms(), 0);
    let page = held.press(&h(&held.cancel)).await;
    assert!(page.html.contains("ショップでの確認により"));
    assert_eq!(held.hold().await.state, HoldState::Confirmed);
    assert_eq!(held.answers().await, (1, 1));
}

#[tokio::test]
async fn opening_a_link_never_changes_the_hold() {
    let held = Held::new().await;
    let before = held.hold().await;
    for uri in [
        h(&held.cancel),
        h(&held.confirm),
        format!("{}?lang=en", h(&held.cancel)),
    ] {
        for _ in 0..2 {
            assert_eq!(held.get(&uri).await.status, StatusCode::OK);
        }
    }
    assert_eq!(held.hold().await, before);
    assert_eq!(held.answers().await, (0, 0));
}

#[tokio::test]
async fn a_form_body_is_ignored() {
    let held = Held::new().await;
    let page = held
        .request(
            Method::POST,
            &h(&held.confirm),
            Body::from("action=cancel&hold=h0000"),
            Some("application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), h(&held.confirm));
    assert_eq!(held.hold().await.state, HoldState::Confirmed);
}

#[tokio::test]
async fn a_forged_or_tampered_link_gets_the_invalid_link_page() {
    let held = Held::new().await;
    let cancel = &held.cancel;
    // The action code swapped: the signature no longer matches.
    let swapped = cancel.replacen(".x.", ".c.", 1);
    assert_ne!(&swapped, cancel);
    // The signature changed in its first character.
    let (payload, mac) = cancel.rsplit_once('.').unwrap();
    let first = if mac.starts_with('A') { 'B' } else { 'A' };
    let forged_mac = format!("{payload}.{first}{}", &mac[1..]);
    for token in [swapped, forged_mac, "nonsense".to_owned(), "%FF%FE".to_owned()] {
        for method in [Method::GET, Method::POST] {
            let page = held.request(method.clone(), &h(&token), Body::empty(), None).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{method} {token}");
            assert!(page.html.contains("このリンクは無効です"), "{method} {token}");
            assert!(page.html.contains("support@tanaka-shop.example"));
            assert!(page.html.contains("03-1234-5678"));
        }
    }
    assert_eq!(held.hold().await.state, HoldState::Held);
}

#[tokio::test]
async fn a_valid_link_to_a_hold_that_is_gone_gets_the_not_found_page() {
    let held = Held::new().await;
    let gone = HoldId::for_order(&testing::order("9999").order_ref);
    let token = held
        .app
        .settings()
        .signer
        .sign(&gone, LinkAction::Cancel, held.hold().await.deadline);
    let page = held.get(&h(token.as_str())).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("お探しのご注文が見つかりません"));
    assert!(page.html.contains("support@tanaka-shop.example"));
}

#[tokio::test]
async fn an_expired_link_shows_the_outcome_and_how_to_reach_the_shop() {
    let held = Held::new().await;
    // Past the deadline: the sweep cancels the unanswered hold.
    held.move_past_deadline(false).await;
    held.app.sweep().await.unwrap();
    assert_eq!(held.hold().await.state, HoldState::Cancelled);
    // Past the deadline plus the 14 days the links stay usable.
    held.move_past_deadline(true).await;
    let page = held.get(&h(&held.confirm)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html.contains("このリンクは有効期限が切れています"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
    assert!(page.html.contains("期限までにご回答をいただけなかったため"));
    assert!(page.html.contains("support@tanaka-shop.example") && page.html.contains("03-1234-5678"));
    assert_eq!(page.forms(), 0);

    // Pressing a button of the expired link performs nothing and leads to the same page.
    let page = held.press(&h(&held.confirm)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("このリンクは有効期限が切れています"));
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::Ja))
    );
    assert!(page.html.contains("support@tanaka-shop.example"));
    assert_eq!(held.hold().await.state, HoldState::Cancelled);
}

#[tokio::test]
async fn an_expired_link_of_a_hold_nobody_settled_answers_nothing() {
    let held = Held::new().await;
    held.move_past_deadline(true).await;
    let page = held.press(&h(&held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("このリンクは有効期限が切れています"));
    assert!(page.html.contains("ショップにて確認中"));
    assert_eq!(page.forms(), 0);
    assert_eq!(held.hold().await.state, HoldState::Held);
    assert_eq!(held.answers().await, (0, 0));
}

#[tokio::test]
async fn what_the_buyer_typed_is_escaped() {
    let held = Held::with(|order| {
        order.ship_to.name = "<script>alert(1)</script>".into();
        order.ship_to.lines = vec!["千代田1-2-3 \"><img src=x onerror=alert(2)>".into()];
    })
    .await;
    for page in [held.get(&h(&held.cancel)).await, held.press(&h(&held.cancel)).await] {
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.html.contains("<script>"), "{}", page.html);
        assert!(!page.html.contains("<img"));
        assert!(page.html.contains("&lt;script&gt;alert(1)"));
        assert!(page.html.contains("&quot;&gt;&lt;img src=x"));
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let held = Held::new().await;
    let pages = [
        held.get(&h(&held.cancel)).await,
        held.get(&h("forged")).await,
        held.post(&h(&held.cancel)).await,
        held.post(&h(&held.cancel)).await,
    ];
    for page in pages {
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(page.headers["x-robots-tag"], "noindex");
        assert_eq!(
            page.headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        );
        // Inline CSS only: nothing the CSP would block.
        assert!(!page.html.contains("<link") && !page.html.contains("<script") && !page.html.contains(" src="));
    }
}

#[tokio::test]
async fn lang_en_switches_the_page_to_english_and_its_buttons_keep_it() {
    let held = Held::new().await;
    let page = held.get(&format!("/h/{}?lang=en", held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("<html lang=\"en\">"));
    assert!(page.html.contains("Ship both orders"));
    assert!(page.html.contains("Cancel the later order (1002)"));
    assert!(page.html.contains("2026-11-24 12:06 JST"));
    assert!(!page.html.contains("両方とも発送を希望する"));
    assert!(page.html.contains(&format!("action=\"/h/{}?lang=en\"", held.cancel)));

    let page = held.press(&format!("/h/{}?lang=en", held.cancel)).await;
    assert!(page.html.contains("<html lang=\"en\">"));
    assert!(page.html.contains("Thank you for your answer"));
    assert!(
        page.html
            .contains(HoldState::cancel_in_progress_label(mallguard_domain::Language::En))
    );

    let page = held.get("/h/forged?lang=en").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.html.contains("This link is not valid"));

    // An unknown language falls back to the shop's, and the redirect after a press drops it.
    let page = held.get(&format!("/h/{}?lang=fr", held.cancel)).await;
    assert!(page.html.contains("<html lang=\"ja\">"));
    let page = held.post(&format!("/h/{}?lang=fr", held.confirm)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), h(&held.confirm));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let held = Held::new().await;
    let page = held.get("/healthz").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.html, "ok");
}

#[tokio::test]
async fn the_page_is_in_the_buyers_language_unless_the_link_asks_for_another() {
    let held = Held::with(|order| order.buyer.language = Some(mallguard_domain::Language::En)).await;
    let page = held.get(&h(&held.cancel)).await;
    assert!(page.html.contains("<html lang=\"en\">"), "{}", page.html);
    let asked = held.get(&format!("{}?lang=ja", h(&held.cancel))).await;
    assert!(asked.html.contains("<html lang=\"ja\">"));
}

#[tokio::test]
async fn the_evidence_keeps_the_digest_of_exactly_the_page_the_buyer_was_shown() {
    let held = Held::new().await;
    let page = held.get(&h(&held.cancel)).await;
    assert_eq!(page.status, StatusCode::OK);
    let english = held.get(&format!("{}?lang=en", h(&held.confirm))).await;
    let order = held.hold().await.order;
    let shown: Vec<_> = held
        .store
        .history(&order)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|h| match h.event {
            Event::PageOpened { page, .. } => page,
            _ => None,
        })
        .collect();
    assert_eq!(shown.len(), 2, "one record per page shown");
    let digest = |html: &str| mallguard_domain::service::sha256_hex(html.as_bytes());
    assert_eq!(shown[0].digest, digest(&page.html), "the very bytes served");
    assert_eq!(shown[0].lang, mallguard_domain::Language::Ja);
    assert_eq!(shown[1].digest, digest(&english.html));
    assert_eq!(shown[1].lang, mallguard_domain::Language::En);
    assert_eq!(shown[0].template, mallguard_respond::template_version());
    // The same hold renders the same bytes again: a page is reproduced from the hold and proven by its digest.
    let again = held.get(&h(&held.cancel)).await;
    assert_eq!(digest(&again.html), shown[0].digest);
}

#[tokio::test]
async fn the_evidence_keeps_the_page_the_buyer_was_shown_word_for_word_after_the_hold_changed() {
    let held = Held::new().await;
    let shown = held.get(&h(&held.cancel)).await;
    assert_eq!(shown.status, StatusCode::OK);
    // A reload of the same page keeps nothing more.
    let reload = held.get(&h(&held.cancel)).await;
    assert_eq!(reload.html, shown.html);
    let order = held.hold().await.order;
    assert_eq!(held.app.evidence(&order).await.unwrap().pages.len(), 1);

    // The buyer answers: the page now says the order is cancelled; the one shown before stays in the
    // evidence byte for byte, its digest the one the timeline recorded.
    let after = held.press(&h(&held.cancel)).await;
    assert_ne!(after.html, shown.html);
    let evidence = held.app.evidence(&order).await.unwrap();
    assert_eq!(evidence.pages.len(), 2, "the page before the answer and the one after");
    assert_eq!(evidence.pages[0].html, shown.html, "word for word");
    assert_eq!(evidence.pages[1].html, after.html);
    assert!(evidence.pages.iter().all(|p| p.matches()));
    let recorded: Vec<String> = evidence
        .history
        .iter()
        .filter_map(|h| match &h.event {
            Event::PageOpened { page: Some(p), .. } => Some(p.digest.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.first(), Some(&evidence.pages[0].shown.digest));
    assert_eq!(recorded.last(), Some(&evidence.pages[1].shown.digest));
    assert_eq!(evidence.pages[0].shown.template, mallguard_respond::template_version());
    // What staff read back: the visible text, the buttons the buyer saw among it, no markup.
    let text = evidence.pages[0].visible_text();
    assert!(text.contains("1002"), "{text}");
    assert!(text.contains("キャンセルする"), "{text}");
    assert!(!text.contains('<') && !text.contains("&amp;"), "{text}");
    assert_ne!(evidence.pages[1].visible_text(), text);
}
