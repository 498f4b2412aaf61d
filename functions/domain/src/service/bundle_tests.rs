//! The buyer's whole picture: related orders in the notice, on the page and in the receipt, bundling
//! (同梱) in the staff alert and the receipt, and a gift to somebody else kept out of it.

use std::sync::Arc;

use super::*;
use crate::bundle::Bundling;
use crate::hold::HoldState;
use crate::notice::{Mail, NoticeKind};
use crate::order::{Order, OrderLines};
use crate::ports::roles::*;
use crate::testing::{ManualClock, MemoryStore, RecordingMailer, incoming, line, link_tokens, order_at, settings};

struct World {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
}

fn world(bundling: Bundling) -> World {
    let mut settings = settings();
    settings.policy.bundling = bundling;
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:10:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings);
    World {
        app,
        store,
        mailer,
        clock,
    }
}

impl World {
    fn mails_of(&self, kind: NoticeKind) -> Vec<Mail> {
        self.mailer
            .mails()
            .into_iter()
            .filter(|m| m.tags.contains(&("kind".into(), kind.as_str().into())))
            .collect()
    }

    async fn ingest(&self, order: Order) -> IngestOutcome {
        self.app.ingest(incoming(order)).await.unwrap()
    }
}

/// Tea A on Rakuten at 12:00 JST; `id` and `at` as given.
fn tea_a(id: &str, at: &str, mall: Mall) -> Order {
    let mut o = order_at(id, at);
    o.order_ref.mall = mall;
    o
}

fn tea_b(id: &str, at: &str, mall: Mall) -> Order {
    let mut o = tea_a(id, at, mall);
    o.lines = OrderLines::parse(vec![line("SKU-B", 1)]).unwrap();
    o
}

const ALL_ITEMS: &str = "有機緑茶 SKU-A × 2、有機緑茶 SKU-B × 1";

#[tokio::test]
async fn a_a_b_on_two_malls_the_notice_lists_all_three_and_the_staff_alert_the_bundle_candidates() {
    let w = world("all".parse().unwrap());
    // A on Rakuten, B on Rakuten, then A again on Yahoo!: the second A is held, B is not.
    assert_eq!(
        w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await,
        IngestOutcome::Accepted
    );
    assert_eq!(
        w.ingest(tea_b("RB-1", "2026-11-23T03:02:00Z", Mall::Rakuten)).await,
        IngestOutcome::Accepted
    );
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(held, IngestOutcome::Held { notified: true, .. }), "{held:?}");

    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let html = notice.html.clone().unwrap();
    for text in [&notice.text, &html] {
        assert!(
            text.contains(&format!("{ALL_ITEMS} のご注文をいただいております（3件）")),
            "{text}"
        );
        // Which one is held, and the two others by their masked numbers.
        assert!(text.contains("YA-2") && text.contains("**-1"), "{text}");
        assert!(text.contains("そのほかのご注文"), "{text}");
    }
    assert!(
        notice
            .text
            .contains("保留しているのは、上の後のご注文（注文番号 YA-2）だけです")
    );

    let staff = w.mails_of(NoticeKind::StaffNewHold).pop().unwrap();
    let candidates = staff
        .text
        .split("【同梱候補】")
        .nth(1)
        .expect("the staff alert lists 同梱候補");
    for number in ["RA-1", "RB-1", "YA-2"] {
        assert!(candidates.contains(number), "{number} missing from:\n{}", staff.text);
    }
    assert!(staff.text.contains(&format!("合計: {ALL_ITEMS}")), "{}", staff.text);
}

#[tokio::test]
async fn a_a_b_the_page_shows_all_three_and_the_receipt_after_ship_both_says_one_parcel() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    let IngestOutcome::Held { hold, .. } = held else {
        panic!("{held:?}")
    };
    // B comes after the notice went: the page and the receipt still show it.
    assert_eq!(
        w.ingest(tea_b("RB-3", "2026-11-23T03:07:00Z", Mall::Rakuten)).await,
        IngestOutcome::Accepted
    );
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let confirm = link_tokens(&notice)[0].clone();
    let page = w.app.view(&confirm).await.unwrap();
    assert_eq!(page.related.len(), 1);
    assert_eq!(page.related[0].order_ref.order_id.as_str(), "RB-3");

    let Answer::Done(page) = w.app.answer(&confirm).await.unwrap() else {
        panic!("settles")
    };
    assert_eq!(page.hold.state, HoldState::Confirmed);
    let receipt = w.mails_of(NoticeKind::Receipt).pop().unwrap();
    for needle in [
        "【お届けする内容】",
        &format!("合計: {ALL_ITEMS}"),
        "以上3件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。",
        "YA-2",
    ] {
        assert!(
            receipt.text.contains(needle),
            "{needle} missing from:\n{}",
            receipt.text
        );
    }
    assert!(
        !receipt.text.contains("RB-3"),
        "another order's number is masked:\n{}",
        receipt.text
    );
    assert_eq!(w.store.hold(&hold).await.unwrap().unwrap().state, HoldState::Confirmed);
    // The staff's mail about the answer lists the 同梱候補 with B, and says to pack them together.
    let staff = w.mails_of(NoticeKind::StaffResolved).pop().unwrap();
    let candidates = staff
        .text
        .split("【同梱候補】")
        .nth(1)
        .expect("同梱候補 after the answer");
    for number in ["RA-1", "YA-2", "RB-3"] {
        assert!(candidates.contains(number), "{number} missing from:\n{}", staff.text);
    }
    assert!(
        candidates.contains("これらを1つの荷物にまとめて発送してください"),
        "{}",
        staff.text
    );
}

#[tokio::test]
async fn without_bundling_the_receipt_says_how_many_parcels_and_after_a_cancellation_what_remains() {
    let w = world(Bundling::Off);
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    w.ingest(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)).await;
    w.ingest(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    assert!(
        !w.mails_of(NoticeKind::StaffNewHold)[0].text.contains("同梱候補"),
        "no candidates when the shop does not bundle"
    );
    let cancel = link_tokens(&notice)[1].clone();
    let Answer::Done(_) = w.app.answer(&cancel).await.unwrap() else {
        panic!("settles")
    };
    let receipt = w.mails_of(NoticeKind::Receipt).pop().unwrap();
    for needle in [
        "合計: 有機緑茶 SKU-A × 1、有機緑茶 SKU-B × 1",
        "2つの荷物に分けてお届けいたします。",
    ] {
        assert!(
            receipt.text.contains(needle),
            "{needle} missing from:\n{}",
            receipt.text
        );
    }
}

#[tokio::test]
async fn a_gift_to_another_recipient_is_never_listed_as_a_related_order() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    // The same buyer sends B as a gift to somebody else, on the same mall, in between.
    let mut gift = tea_b("GIFT-77", "2026-11-23T03:02:00Z", Mall::Rakuten);
    gift.gift = true;
    gift.ship_to.name = "佐藤 一郎".into();
    gift.ship_to.postal_code = "530-0001".into();
    gift.ship_to.prefecture = "大阪府".into();
    gift.ship_to.city = "大阪市北区".into();
    gift.ship_to.lines = vec!["梅田9-8-7 グランドハイツ 1203".into()];
    gift.ship_to.phone = Some("06-1234-5678".into());
    assert_eq!(w.ingest(gift).await, IngestOutcome::Accepted);
    let held = w.ingest(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(held, IngestOutcome::Held { .. }), "{held:?}");

    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let staff = w.mails_of(NoticeKind::StaffNewHold).pop().unwrap();
    for text in [&notice.text, notice.html.as_ref().unwrap(), &staff.text] {
        for secret in [
            "GIFT-77",
            "***T-77",
            "佐藤",
            "梅田",
            "大阪",
            "SKU-B",
            "そのほかのご注文",
        ] {
            assert!(!text.contains(secret), "{secret} shown:\n{text}");
        }
    }
    let confirm = link_tokens(&notice)[0].clone();
    assert!(w.app.view(&confirm).await.unwrap().related.is_empty());
    let Answer::Done(_) = w.app.answer(&confirm).await.unwrap() else {
        panic!("settles")
    };
    let receipt = w.mails_of(NoticeKind::Receipt).pop().unwrap();
    assert!(
        !receipt.text.contains("SKU-B") && !receipt.text.contains("T-77"),
        "{}",
        receipt.text
    );
    assert!(
        receipt
            .text
            .contains("以上2件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。"),
        "{}",
        receipt.text
    );
}

#[tokio::test]
async fn the_evidence_keeps_every_mail_of_a_hold_word_for_word_with_its_digest_and_template_version() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    w.ingest(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)).await;
    let held = w.ingest(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    let IngestOutcome::Held { hold, .. } = held else {
        panic!("{held:?}")
    };
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let Answer::Done(_) = w.app.answer(&link_tokens(&notice)[0]).await.unwrap() else {
        panic!("settles")
    };

    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    let evidence = w.app.evidence(&hold.order).await.unwrap();
    let sent = w.mailer.mails();
    let kinds: Vec<NoticeKind> = evidence.mails.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            NoticeKind::Notice,
            NoticeKind::StaffNewHold,
            NoticeKind::Receipt,
            NoticeKind::StaffResolved
        ],
        "every mail of the hold, in the order written"
    );
    assert_eq!(sent.len(), evidence.mails.len(), "and nothing else was mailed");
    for kept in &evidence.mails {
        let mailed = sent
            .iter()
            .find(|m| m.tags.contains(&("kind".into(), kept.kind.as_str().into())))
            .unwrap();
        // Word for word: the subject, the text and the HTML the mailer was handed.
        assert_eq!(&kept.mail, mailed, "{:?}", kept.kind);
        assert_eq!(
            evidence.recorded_digest(&kept.id),
            Some(mailed.digest().as_str()),
            "the history's digest proves the kept text is what was sent: {:?}",
            kept.kind
        );
    }
    let versions: Vec<&str> = evidence
        .history
        .iter()
        .filter_map(|h| match &h.event {
            crate::history::Event::NoticeQueued {
                template: Some(version),
                ..
            } => Some(version.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(versions.len(), 4);
    assert!(
        versions
            .iter()
            .all(|v| *v == crate::notice::template_version() && v.len() == 16)
    );
    // A changed word is another digest.
    let mut altered = evidence.mails[2].mail.clone();
    altered.text = altered.text.replacen("1つの荷物", "2つの荷物", 1);
    assert_ne!(altered.digest(), evidence.mails[2].mail.digest());
}

#[tokio::test]
async fn a_receipt_that_waited_for_the_malls_cancellation_still_says_what_remains() {
    let mut w = world("all".parse().unwrap());
    w.app = w
        .app
        .clone()
        .with_mall_actions(Arc::new(crate::testing::ScriptedActions::at(Mall::Yahoo)));
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    w.ingest(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)).await;
    w.ingest(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let Answer::Done(page) = w.app.answer(&link_tokens(&notice)[1]).await.unwrap() else {
        panic!("settles")
    };
    assert_eq!(page.hold.state, HoldState::Cancelled);
    let receipt = w
        .mails_of(NoticeKind::Receipt)
        .pop()
        .expect("sent once Yahoo! cancelled");
    for needle in [
        "合計: 有機緑茶 SKU-A × 1、有機緑茶 SKU-B × 1",
        "以上2件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。",
    ] {
        assert!(
            receipt.text.contains(needle),
            "{needle} missing from:\n{}",
            receipt.text
        );
    }
}

#[tokio::test]
async fn a_buyer_who_reads_english_gets_the_whole_picture_in_english() {
    let w = world("all".parse().unwrap());
    let english = |mut o: Order| {
        o.buyer.language = Some(crate::Language::En);
        o
    };
    w.ingest(english(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)))
        .await;
    w.ingest(english(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)))
        .await;
    w.ingest(english(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)))
        .await;
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    for text in [&notice.text, notice.html.as_ref().unwrap()] {
        assert!(
            text.contains("In all, we have your orders for 有機緑茶 SKU-A × 2, 有機緑茶 SKU-B × 1 (3 orders)."),
            "{text}"
        );
    }
    let Answer::Done(_) = w.app.answer(&link_tokens(&notice)[0]).await.unwrap() else {
        panic!("settles")
    };
    let receipt = w.mails_of(NoticeKind::Receipt).pop().unwrap();
    assert!(
        receipt
            .text
            .contains("These 3 orders will arrive together in one parcel."),
        "{}",
        receipt.text
    );
    assert!(receipt.html.unwrap().contains("What will arrive"));
}

/// A, B and the held A again, every order in `lang`; the buyer's words for what arrives in one parcel.
async fn a_b_a_in(w: &World, lang: crate::Language) -> Hold {
    let speaking = |mut o: Order| {
        o.buyer.language = Some(lang);
        o
    };
    w.ingest(speaking(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)))
        .await;
    w.ingest(speaking(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)))
        .await;
    let IngestOutcome::Held { hold, .. } = w
        .ingest(speaking(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)))
        .await
    else {
        panic!("the second A is held")
    };
    w.store.hold(&hold).await.unwrap().unwrap()
}

/// What the buyer reads of the two orders that still arrive together (A and B: the held A cancelled).
fn what_remains(lang: crate::Language) -> [&'static str; 2] {
    match lang {
        crate::Language::Ja => [
            "合計: 有機緑茶 SKU-A × 1、有機緑茶 SKU-B × 1",
            "以上2件のご注文を、1つの荷物にまとめてお届けいたします（同梱）。",
        ],
        crate::Language::En => [
            "In all: 有機緑茶 SKU-A × 1, 有機緑茶 SKU-B × 1",
            "These 2 orders will arrive together in one parcel.",
        ],
    }
}

fn assert_says(mail: &Mail, needles: [&str; 2]) {
    for needle in needles {
        assert!(mail.text.contains(needle), "{needle} missing from:\n{}", mail.text);
    }
    let html = mail.html.as_deref().unwrap();
    assert!(
        html.contains(needles[1]),
        "{needle} missing from:\n{html}",
        needle = needles[1]
    );
}

#[tokio::test]
async fn a_receipt_the_sweep_sends_later_says_what_arrives_in_either_language() {
    for lang in [crate::Language::Ja, crate::Language::En] {
        // Yahoo! only takes the cancellation at first (Rakuten's 800 reads the same); the sweep sends the
        // receipt once it is confirmed, from the buyer's orders open then.
        let actions = crate::testing::ScriptedActions::at(Mall::Yahoo)
            .then(Ok(crate::action::Performed::default()))
            .then(Err(crate::action::ActionError::Accepted {
                reference: None,
                message: "taken, not confirmed".into(),
                check_after: jiff::SignedDuration::from_mins(5),
            }));
        let mut w = world("all".parse().unwrap());
        w.app = w.app.clone().with_mall_actions(Arc::new(actions));
        a_b_a_in(&w, lang).await;
        let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
        w.app.answer(&link_tokens(&notice)[1]).await.unwrap();
        assert!(w.mails_of(NoticeKind::Receipt).is_empty(), "waits for Yahoo!");
        w.clock.advance(jiff::SignedDuration::from_mins(10));
        w.app.sweep().await.unwrap();
        let receipt = w.mails_of(NoticeKind::Receipt).pop().expect("sent by the sweep");
        assert_says(&receipt, what_remains(lang));
    }
}

#[tokio::test]
async fn the_deadlines_cancellation_mail_says_what_arrives_in_either_language() {
    for lang in [crate::Language::Ja, crate::Language::En] {
        // Cancelled by mallguard alone (the staff cancel at the mall) and through the mall's API (the mail
        // waits for it within the sweep): both say what still arrives.
        for at_mall in [false, true] {
            let mut w = world("all".parse().unwrap());
            if at_mall {
                w.app = w
                    .app
                    .clone()
                    .with_mall_actions(Arc::new(crate::testing::ScriptedActions::at(Mall::Yahoo)));
            }
            let hold = a_b_a_in(&w, lang).await;
            w.clock.set(hold.deadline);
            let report = w.app.sweep().await.unwrap();
            assert_eq!(report.cancelled, 1, "{report:?}");
            let cancellation = w.mails_of(NoticeKind::Cancellation).pop().expect("the deadline's mail");
            assert_says(&cancellation, what_remains(lang));
        }
    }
}

#[tokio::test]
async fn the_evidence_keeps_each_page_the_buyer_was_shown_once_and_word_for_word() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    w.ingest(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)).await;
    let IngestOutcome::Held { hold, .. } = w.ingest(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)).await else {
        panic!("held")
    };
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let token = &link_tokens(&notice)[0];
    // A page rendered from the hold as it stands, as the respond function's templates do.
    let render = |page: &HoldPage| {
        let html = format!(
            "<html><head><title>x</title><style>p{{}}</style></head><body><p>ご注文 {} &amp; {} 件</p>\
             <p>状態: {:?}</p></body></html>",
            page.held.order_ref.order_id,
            page.related.len() + 2,
            page.hold.state
        );
        Ok::<_, ()>((
            html,
            PageMeta {
                template: "t1".into(),
                lang: crate::Language::Ja,
            },
        ))
    };
    let (_, first) = w.app.view_rendered(token, render).await.unwrap();
    let first = first.unwrap();
    let writes = w.store.commits().len();
    // A reload of the same page notes the opening and keeps nothing more.
    let (_, again) = w.app.view_rendered(token, render).await.unwrap();
    assert_eq!(again.unwrap(), first);
    let reload = &w.store.commits()[writes];
    assert_eq!((reload.history.len(), reload.pages.len()), (1, 0), "{reload:?}");

    // The buyer answers: the page changes, and the first one stays in the evidence word for word.
    w.app.answer(token).await.unwrap();
    let (_, after) = w.app.view_rendered(token, render).await.unwrap();
    let after = after.unwrap();
    assert_ne!(after, first);
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    let evidence = w.app.evidence(&hold.order).await.unwrap();
    let htmls: Vec<&str> = evidence.pages.iter().map(|p| p.html.as_str()).collect();
    assert_eq!(
        htmls,
        [first.as_str(), after.as_str()],
        "each distinct page once, in order"
    );
    assert!(evidence.pages.iter().all(|p| p.matches()));
    assert_eq!(evidence.pages[0].visible_text(), "ご注文 YA-3 & 3 件\n状態: Held\n");
    let opened: Vec<&str> = evidence
        .history
        .iter()
        .filter_map(|h| match &h.event {
            crate::history::Event::PageOpened { page: Some(p), .. } => Some(p.digest.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 3, "every opening is in the timeline");
    assert_eq!(opened[0], evidence.pages[0].shown.digest);
    assert_eq!(opened[2], evidence.pages[1].shown.digest);
    // A changed word no longer matches its digest.
    let mut altered = evidence.pages[0].clone();
    altered.html = altered.html.replacen("3 件", "2 件", 1);
    assert!(!altered.matches());
}

#[test]
fn the_visible_text_of_a_page_leaves_out_the_markup_and_decodes_what_was_escaped() {
    let html = "<!doctype html><html lang=\"ja\"><head><title>t</title><script>var a = '<p>';</script></head>\
                <body><h1>ご確認</h1><p>A &lt;B&gt; &#x27;C&#39; &quot;D&quot;  &nbsp;E&amp;F &bogus;</p>\
                <ul><li>一つ</li><li>二つ<br>三つ</li></ul><button>キャンセルする</button></body></html>";
    assert_eq!(
        crate::history::visible_text(html),
        "ご確認\nA <B> 'C' \"D\" E&F &bogus;\n一つ\n二つ\n三つ\nキャンセルする\n"
    );
}

#[tokio::test]
async fn a_buyers_order_on_a_mall_that_gives_no_reading_is_still_related() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    // B on Shopify, which hands over no reading (フリガナ) of the buyer or the recipient.
    let mut b = tea_b("SB-1", "2026-11-23T03:02:00Z", Mall::Shopify);
    b.buyer.kana = None;
    b.ship_to.kana = None;
    assert_eq!(w.ingest(b).await, IngestOutcome::Accepted);
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(held, IngestOutcome::Held { .. }), "{held:?}");

    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    assert!(
        notice
            .text
            .contains(&format!("{ALL_ITEMS} のご注文をいただいております（3件）")),
        "{}",
        notice.text
    );
    let confirm = link_tokens(&notice)[0].clone();
    assert_eq!(w.app.view(&confirm).await.unwrap().related.len(), 1);
}

#[tokio::test]
async fn another_buyers_order_to_the_same_recipient_is_never_shown() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    // Taro's sister sends B to the same person at the same address (their father, say): the order shares
    // the recipient's address and phone keys with Taro's, but it is hers, not his to see.
    let mut sister = tea_b("HB-1", "2026-11-23T03:02:00Z", Mall::Rakuten);
    sister.buyer.name = "鈴木 花子".into();
    sister.buyer.kana = Some("スズキ ハナコ".into());
    sister.buyer.email = Some(crate::order::EmailAddress::parse("hanako@example.net").unwrap());
    sister.buyer.phone = Some("080-9999-0000".into());
    assert_eq!(w.ingest(sister).await, IngestOutcome::Accepted);
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(held, IngestOutcome::Held { .. }), "{held:?}");

    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let staff = w.mails_of(NoticeKind::StaffNewHold).pop().unwrap();
    for text in [&notice.text, notice.html.as_ref().unwrap(), &staff.text] {
        for secret in ["HB-1", "SKU-B", "そのほかのご注文"] {
            assert!(!text.contains(secret), "{secret} shown:\n{text}");
        }
    }
    let confirm = link_tokens(&notice)[0].clone();
    assert!(w.app.view(&confirm).await.unwrap().related.is_empty());
}

/// A route that carries the buyer's notice only in English (as Amazon's messaging does for a buyer who
/// reads English): the Japanese notice is refused and written again.
#[derive(Default)]
struct EnglishOnly {
    inner: RecordingMailer,
}

#[async_trait::async_trait]
impl Mailer for EnglishOnly {
    async fn send(&self, mail: &Mail) -> Result<String, crate::ports::MailError> {
        if mail.to.as_str() == "taro.yamada@example.com" && mail.subject.contains("ご確認のお願い") {
            return Err(crate::ports::MailError::OtherLanguage {
                reads: crate::Language::En,
                message: "the buyer reads en-US".into(),
            });
        }
        self.inner.send(mail).await
    }
}

#[tokio::test]
async fn a_notice_written_again_in_the_buyers_language_still_lists_the_related_orders() {
    let mut settings = settings();
    settings.policy.bundling = "all".parse().unwrap();
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(EnglishOnly::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:10:01Z"));
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings);
    app.ingest(incoming(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)))
        .await
        .unwrap();
    app.ingest(incoming(tea_b("RB-2", "2026-11-23T03:02:00Z", Mall::Rakuten)))
        .await
        .unwrap();
    let held = app
        .ingest(incoming(tea_a("YA-3", "2026-11-23T03:05:00Z", Mall::Yahoo)))
        .await
        .unwrap();
    assert!(matches!(held, IngestOutcome::Held { notified: false, .. }), "{held:?}");
    clock.advance(jiff::SignedDuration::from_mins(2));
    assert_eq!(app.sweep().await.unwrap().notices_sent, 1);
    let notice = mailer
        .inner
        .mails()
        .into_iter()
        .find(|m| m.tags.contains(&("kind".into(), NoticeKind::Notice.as_str().into())))
        .expect("the notice went in English");
    for text in [&notice.text, notice.html.as_ref().unwrap()] {
        assert!(
            text.contains("In all, we have your orders for 有機緑茶 SKU-A × 2, 有機緑茶 SKU-B × 1 (3 orders)."),
            "{text}"
        );
    }
}

#[tokio::test]
async fn at_most_ten_related_orders_are_listed_and_one_held_in_between_hides_none() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    // A second C is held itself (it has its own notice) and is not listed; twelve other products are open:
    // ten are listed, the held one among the first ten read taking no place.
    let item = |id: &str, at: &str, sku: &str| {
        let mut o = tea_a(id, at, Mall::Rakuten);
        o.lines = OrderLines::parse(vec![line(sku, 1)]).unwrap();
        o
    };
    w.ingest(item("RC-1", "2026-11-23T03:00:10Z", "SKU-C")).await;
    let c_again = w.ingest(item("RC-2", "2026-11-23T03:00:20Z", "SKU-C")).await;
    assert!(matches!(c_again, IngestOutcome::Held { .. }), "{c_again:?}");
    for i in 0..12 {
        w.ingest(item(
            &format!("RX-{i}"),
            &format!("2026-11-23T03:01:{:02}Z", i),
            &format!("SKU-X{i}"),
        ))
        .await;
    }
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(held, IngestOutcome::Held { .. }), "{held:?}");
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let page = w.app.view(&link_tokens(&notice)[0]).await.unwrap();
    let listed: Vec<String> = page.related.iter().map(|o| o.order_ref.order_id.to_string()).collect();
    assert_eq!(listed.len(), 10, "{listed:?}");
    // RC-2 is held (its own notice); RC-1, the order it duplicates, is open and the buyer's.
    assert!(
        !listed.contains(&"RC-2".to_string()) && listed.contains(&"RC-1".to_string()),
        "{listed:?}"
    );
}

#[tokio::test]
async fn a_a_b_the_reminder_lists_the_order_placed_after_the_notice() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    let held = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    let IngestOutcome::Held { hold, .. } = held else {
        panic!("{held:?}")
    };
    // B comes after the notice went, which could not list it; the reminder does.
    w.ingest(tea_b("RB-3", "2026-11-23T03:07:00Z", Mall::Rakuten)).await;
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    assert!(!notice.text.contains("SKU-B"), "{}", notice.text);
    let remind_at = w
        .store
        .hold(&hold)
        .await
        .unwrap()
        .unwrap()
        .remind_at
        .expect("a reminder is due");
    w.clock.set(remind_at);
    w.app.sweep().await.unwrap();
    let reminder = w.mails_of(NoticeKind::Reminder).pop().expect("the reminder went");
    for text in [&reminder.text, reminder.html.as_ref().unwrap()] {
        assert!(
            text.contains(&format!("{ALL_ITEMS} のご注文をいただいております（3件）")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn an_order_held_once_and_confirmed_is_listed_like_any_other() {
    let w = world("all".parse().unwrap());
    w.ingest(tea_a("RA-1", "2026-11-23T03:00:00Z", Mall::Rakuten)).await;
    let first = w.ingest(tea_a("YA-2", "2026-11-23T03:05:00Z", Mall::Yahoo)).await;
    assert!(matches!(first, IngestOutcome::Held { .. }), "{first:?}");
    // The buyer meant both A's: YA-2 ships after all.
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let Answer::Done(_) = w.app.answer(&link_tokens(&notice)[0]).await.unwrap() else {
        panic!("settles")
    };
    // Then B twice: the second B is held, and its notice lists both A's beside the first B.
    w.ingest(tea_b("RB-3", "2026-11-23T03:07:00Z", Mall::Rakuten)).await;
    let second = w.ingest(tea_b("YB-4", "2026-11-23T03:08:00Z", Mall::Yahoo)).await;
    assert!(matches!(second, IngestOutcome::Held { .. }), "{second:?}");
    let notice = w.mails_of(NoticeKind::Notice).pop().unwrap();
    let page = w.app.view(&link_tokens(&notice)[0]).await.unwrap();
    let mut listed: Vec<String> = page.related.iter().map(|o| o.order_ref.order_id.to_string()).collect();
    listed.sort();
    assert_eq!(listed, ["RA-1", "YA-2"]);
}
