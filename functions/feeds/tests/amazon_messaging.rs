//! Amazon's Buyer-Seller Messaging as the mailer of a seller's buyer mails (`AmazonMessenger`), against the
//! fake SP-API of `support` over real HTTP on a loopback port. The mails are rendered by the domain's own
//! templates from the sample order, so what is sent is what a held Amazon order's buyer would get.

use mallguard_feeds::fake_amazon as support;

use std::sync::Arc;

use jiff::SignedDuration;
use mallguard_domain::Language;
use mallguard_domain::feed::OrderLookup;
use mallguard_domain::hold::{ContactRules, Hold, HoldState, OrderNumbers, risk_flags};
use mallguard_domain::identity::KeyKind;
use mallguard_domain::ids::{HoldId, OrderId, ProductKey, ShopId};
use mallguard_domain::notice::{HoldMailContext, Links, Mail, NoticeKind, Templates};
use mallguard_domain::order::{EmailAddress, Order};
use mallguard_domain::policy::{Policy, ShopProfile};
use mallguard_domain::ports::{MailError, Mailer};
use mallguard_feeds::amazon::AmazonMessenger;
use mallguard_malls::amazon::{self, REPLY_HINT_EN, REPLY_HINT_JA};
use support::{Answer, Endpoint, FakeSpApi, GET_ORDER, GET_ORDER_ITEMS, ORDER, SELLER};

const CONFIRM_LINK: &str = "https://respond.tanaka-shop.example/r/eyJhbGciOiJIUzI1NiJ9.confirm.c2lnbmF0dXJl";
const CANCEL_LINK: &str = "https://respond.tanaka-shop.example/r/eyJhbGciOiJIUzI1NiJ9.cancel.c2lnbmF0dXJl";

fn seller() -> ShopId {
    ShopId::parse(SELLER).unwrap()
}

fn shop(language: Language) -> ShopProfile {
    ShopProfile {
        name: "田中商店".into(),
        contact_email: EmailAddress::parse("support@tanaka-shop.example").unwrap(),
        contact_phone: Some("03-1234-5678".into()),
        staff_email: EmailAddress::parse("staff@tanaka-shop.example").unwrap(),
        public_url: "https://respond.tanaka-shop.example".into(),
        language,
    }
}

/// The held order: 山田 太郎's of `getOrder.json`; the original: the same order, placed 20 minutes before.
fn orders() -> (Order, Order) {
    let (held, _) = amazon::order_from(GET_ORDER, &[GET_ORDER_ITEMS], &seller()).unwrap();
    let mut original = held.clone();
    original.order_ref.order_id = OrderId::parse("250-7654321-7654321").unwrap();
    original.placed_at = held.placed_at - SignedDuration::from_mins(20);
    (held, original)
}

fn hold_for(held: &Order, original: &Order) -> Hold {
    let deadline = Policy::default().deadline(held, held.placed_at);
    Hold {
        id: HoldId::for_order(&held.order_ref),
        order: held.order_ref.clone(),
        original: original.order_ref.clone(),
        numbers: OrderNumbers::default(),
        state: HoldState::Held,
        version: 1,
        created_at: held.placed_at,
        deadline: deadline.at,
        remind_at: deadline.remind_at,
        urgent: deadline.urgent,
        shared_keys: vec![KeyKind::Phone],
        shared_products: vec![ProductKey::parse("TEA-SENCHA-100").unwrap()],
        risks: risk_flags(held),
        contact: ContactRules::for_order(held),
        amazon_fallback_case: None,
        awaiting_staff: false,
        phone_task: false,
        blacklisted: None,
        resolution: None,
        cancelled_at_mall: None,
    }
}

/// The buyer mail of `kind` for the sample hold, as the domain renders it (with its answer links).
fn mail(kind: NoticeKind, language: Language) -> Mail {
    let (held, original) = orders();
    let hold = hold_for(&held, &original);
    let shop = shop(language);
    let links = Links {
        confirm: CONFIRM_LINK.into(),
        cancel: CANCEL_LINK.into(),
    };
    let context = HoldMailContext {
        shop: &shop,
        hold: &hold,
        held: &held,
        original: &original,
        links: Some(&links),
        at_mall: None,
        refusal: None,
        undelivered: None,
        group: None,
    };
    Templates::new().hold_mail(kind, &context).unwrap().unwrap()
}

fn notice() -> Mail {
    mail(NoticeKind::Notice, Language::Ja)
}

/// `mail` with its tag `name` set to `value` (None: removed).
fn tagged(mut mail: Mail, name: &str, value: Option<&str>) -> Mail {
    mail.tags.retain(|(k, _)| k != name);
    if let Some(value) = value {
        mail.tags.push((name.into(), value.into()));
    }
    mail
}

fn hold_id() -> String {
    let (held, _) = orders();
    HoldId::for_order(&held.order_ref).to_string()
}

fn rejected(result: Result<String, MailError>) -> String {
    match result {
        Err(MailError::Rejected(reason)) => reason,
        other => panic!("not rejected: {other:?}"),
    }
}

fn transient(result: Result<String, MailError>) -> String {
    match result {
        Err(MailError::Transient(reason)) => reason,
        other => panic!("not transient: {other:?}"),
    }
}

/// No token, credential or buyer data in what a mail's error says.
fn assert_nothing_secret(text: &str) {
    for secret in [
        support::ACCESS_TOKEN_PREFIX,
        support::REFRESH_TOKEN,
        support::CLIENT_SECRET,
        "山田",
        "千代田",
        "@",
        "http",
    ] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
}

/// The requests so far: LWA, getMessagingActionsForOrder, GetAttributes, messages.
fn counts(fake: &FakeSpApi) -> [u32; 4] {
    [
        Endpoint::Lwa,
        Endpoint::MessagingActions,
        Endpoint::Attributes,
        Endpoint::Message,
    ]
    .map(|endpoint| fake.requests(endpoint))
}

#[tokio::test]
async fn a_notice_with_links_goes_as_one_confirm_order_details_message_that_asks_for_a_reply() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    assert_eq!(messenger.seller().as_str(), SELLER);
    let mail = notice();
    assert!(mail.text.contains(CONFIRM_LINK) && mail.text.contains(CANCEL_LINK));

    let id = messenger.send(&mail).await.unwrap();

    assert_eq!(id, format!("amazon-msg:{ORDER}:{}:notice", hold_id()));
    assert_eq!(counts(&fake), [1, 1, 1, 1]);
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        (message.order.as_str(), message.message_type.as_str()),
        (ORDER, "confirmOrderDetails")
    );
    assert_eq!(message.body.as_object().unwrap().len(), 1, "{}", message.body);
    let text = message.text();
    // Plain text, the subject first, bounded.
    assert!(text.starts_with(&format!("{}\n\n", mail.subject)), "{text}");
    assert!(text.chars().count() <= 2000);
    // No link, no address; the buyer is told to reply in Amazon's message centre, once, after the choices.
    assert!(!text.contains("http"), "{text}");
    assert!(!text.contains('@'), "{text}");
    assert!(text.contains("このメッセージにご返信ください"), "{text}");
    assert_eq!(text.matches(REPLY_HINT_JA).count(), 1);
    let hint = text.find(REPLY_HINT_JA).unwrap();
    assert!(text.find("■ 両方とも発送を希望する").unwrap() < hint, "{text}");
    assert!(text.find("をキャンセルする").unwrap() < hint, "{text}");
    // What the buyer must read is still there: the held order, the deadline.
    assert!(text.contains("山田 太郎 様"), "{text}");
    assert!(text.contains(&format!("注文番号 {ORDER}")), "{text}");
    assert!(text.contains("（日本時間）までに"), "{text}");
}

#[tokio::test]
async fn the_lwa_token_is_kept_for_the_next_mail() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    messenger.send(&notice()).await.unwrap();
    let reminder = mail(NoticeKind::Reminder, Language::Ja);
    let id = messenger.send(&reminder).await.unwrap();
    assert_eq!(id, format!("amazon-msg:{ORDER}:{}:reminder", hold_id()));
    // One LWA exchange for both mails; three Messaging calls each.
    assert_eq!(counts(&fake), [1, 2, 2, 2]);
    let messages = fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].message_type, "confirmOrderDetails");
    assert!(messages[1].text().contains("再送"), "{}", messages[1].text());

    // An expired token is fetched again once, and the mail goes.
    fake.expire_tokens();
    messenger.send(&notice()).await.unwrap();
    assert_eq!(counts(&fake)[0], 2);
    assert_eq!(fake.messages().len(), 3);
}

#[tokio::test]
async fn the_messenger_shares_the_token_of_the_sellers_api() {
    let fake = FakeSpApi::start().await;
    // One client per seller, as the deployments keep them: its order reads and its messages share one token.
    let api = Arc::new(fake.api());
    api.order(&OrderId::parse(ORDER).unwrap()).await.unwrap();
    let messenger = AmazonMessenger::new(api.clone());
    messenger.send(&notice()).await.unwrap();
    assert_eq!(fake.requests(Endpoint::Lwa), 1);
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn an_order_that_does_not_allow_the_question_is_rejected_and_nothing_is_sent() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    // Shipped: Amazon offers no confirmOrderDetails any more (the fake serves the shipped sample's actions).
    fake.ship(ORDER);
    let reason = rejected(messenger.send(&notice()).await);
    assert!(
        reason.contains("does not allow a confirmOrderDetails message"),
        "{reason}"
    );
    assert!(
        reason.contains("(it allows: legalDisclosure, unexpectedProblem)"),
        "{reason}"
    );
    assert!(reason.contains("Seller Central"), "{reason}");
    assert_nothing_secret(&reason);
    assert!(fake.messages().is_empty());
    assert_eq!(counts(&fake), [1, 1, 0, 0]);

    fake.set_messaging_actions(ORDER, &[]);
    let reason = rejected(messenger.send(&notice()).await);
    assert!(reason.contains("(it allows: none)"), "{reason}");
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_type_amazon_refuses_on_sending_is_rejected_without_a_new_token() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    messenger.send(&notice()).await.unwrap();
    // The actions said yes, the message itself is refused: 403 "Invalid amazonOrderId and template
    // combination.", with a kept token. No new token: it would be refused the same.
    fake.answer_once(Endpoint::Message, Answer::template_refused());
    let reason = rejected(messenger.send(&notice()).await);
    assert!(reason.contains("refused a confirmOrderDetails message"), "{reason}");
    assert!(
        reason.contains("(Unauthorized: Invalid amazonOrderId and template combination.)"),
        "{reason}"
    );
    assert_nothing_secret(&reason);
    assert_eq!(counts(&fake), [1, 2, 2, 2]);
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn throttling_and_outages_are_transient_and_send_nothing() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    fake.answer_once(Endpoint::MessagingActions, Answer::throttled());
    let reason = transient(messenger.send(&notice()).await);
    assert!(
        reason.contains("getMessagingActionsForOrder: Amazon throttled the request (429)"),
        "{reason}"
    );
    assert!(reason.contains("QuotaExceeded"), "{reason}");
    assert_nothing_secret(&reason);
    assert!(fake.messages().is_empty());
    assert_eq!(counts(&fake), [1, 1, 0, 0]);

    fake.answer_once(Endpoint::Attributes, Answer::status(503, b""));
    let reason = transient(messenger.send(&notice()).await);
    assert!(
        reason.starts_with("GetAttributes: Amazon is unavailable (5xx)"),
        "{reason}"
    );

    fake.answer_once(Endpoint::Message, Answer::throttled());
    let reason = transient(messenger.send(&notice()).await);
    assert!(
        reason.starts_with("createConfirmOrderDetails: Amazon throttled"),
        "{reason}"
    );
    assert!(fake.messages().is_empty());

    // A maintenance page instead of the actions passes too.
    fake.answer_once(
        Endpoint::MessagingActions,
        Answer::status(200, b"<html>maintenance</html>"),
    );
    transient(messenger.send(&notice()).await);

    // Retried later, it goes; the token was kept throughout.
    messenger.send(&notice()).await.unwrap();
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(counts(&fake)[0], 1);
}

#[tokio::test]
async fn refused_access_is_rejected_naming_the_role_after_one_new_token() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    // A fresh token refused: no second token.
    fake.answer_once(Endpoint::MessagingActions, Answer::access_denied());
    let reason = rejected(messenger.send(&notice()).await);
    assert!(reason.contains("Buyer Communication role"), "{reason}");
    assert!(reason.contains(SELLER), "{reason}");
    assert_nothing_secret(&reason);
    assert_eq!(counts(&fake), [1, 1, 0, 0]);
    // A kept token refused once: a new one, and the mail goes.
    fake.answer_once(Endpoint::MessagingActions, Answer::access_denied());
    messenger.send(&notice()).await.unwrap();
    assert_eq!(counts(&fake), [2, 3, 1, 1]);

    // The seller revoked the app: LWA's invalid_grant.
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    fake.revoke();
    let reason = rejected(messenger.send(&notice()).await);
    assert!(reason.contains("must authorise the app again"), "{reason}");
    assert_nothing_secret(&reason);
    assert_eq!(counts(&fake), [1, 0, 0, 0]);
}

#[tokio::test]
async fn an_order_amazon_does_not_know_is_rejected() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    let other = tagged(notice(), "order", Some("250-0000000-0000000"));
    let reason = rejected(messenger.send(&other).await);
    assert!(
        reason.contains("Amazon does not know order 250-0000000-0000000 of seller A1EXAMPLESELLER (404)"),
        "{reason}"
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn the_buyers_language_decides_whether_the_mail_may_go() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    // A Japanese mail to a buyer who reads English at Amazon: not sent, and to be written again in English
    // (it was written before the buyer's language was known), not given up.
    fake.set_buyer_locale(ORDER, Some("en-US"));
    match messenger.send(&notice()).await {
        Err(MailError::OtherLanguage { reads, message }) => {
            assert_eq!(reads, Language::En);
            assert!(
                message.contains("reads en-US at Amazon, and the mail is in Japanese"),
                "{message}"
            );
        }
        other => panic!("not to be written again: {other:?}"),
    }
    assert!(fake.messages().is_empty());
    // A language mallguard does not write: refused for good.
    fake.set_buyer_locale(ORDER, Some("de-DE"));
    let reason = rejected(messenger.send(&notice()).await);
    assert!(reason.contains("which mallguard does not write"), "{reason}");
    assert!(fake.messages().is_empty());
    fake.set_buyer_locale(ORDER, Some("en-US"));

    // An English mail to that buyer goes, with the English reply line.
    let english = mail(NoticeKind::Notice, Language::En);
    messenger.send(&english).await.unwrap();
    let text = fake.messages()[0].text().to_owned();
    assert!(text.contains(REPLY_HINT_EN), "{text}");
    assert!(!text.contains("http") && !text.contains('@'), "{text}");

    // No locale at all: the mail goes as it is.
    fake.set_buyer_locale(ORDER, None);
    messenger.send(&notice()).await.unwrap();
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn the_cancellation_goes_as_an_unexpected_problem_and_the_receipt_not_at_all() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    let cancellation = mail(NoticeKind::Cancellation, Language::Ja);
    let id = messenger.send(&cancellation).await.unwrap();
    assert_eq!(id, format!("amazon-msg:{ORDER}:{}:cancellation", hold_id()));
    let messages = fake.messages();
    assert_eq!(messages[0].message_type, "unexpectedProblem");
    // No answer links in a cancellation: no reply line either.
    assert!(!messages[0].text().contains(REPLY_HINT_JA));
    assert!(messages[0].text().contains("いったんキャンセルさせていただきました"));

    let receipt = mail(NoticeKind::Receipt, Language::Ja);
    let reason = rejected(messenger.send(&receipt).await);
    assert!(reason.contains("no message type for the receipt"), "{reason}");
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(counts(&fake), [1, 1, 1, 1]);
}

#[tokio::test]
async fn mails_that_are_not_this_sellers_amazon_buyer_mails_are_rejected_before_any_request() {
    let fake = FakeSpApi::start().await;
    let messenger = fake.messenger();
    let cases = [
        tagged(notice(), "shop", Some("A2OTHERSELLER")),
        tagged(notice(), "mall", Some("rakuten")),
        tagged(notice(), "route", None),
        tagged(notice(), "order", None),
        tagged(notice(), "kind", Some("staff_new_hold")),
    ];
    for mail in cases {
        let reason = rejected(messenger.send(&mail).await);
        assert_nothing_secret(&reason);
    }
    assert_eq!(counts(&fake), [0, 0, 0, 0]);
}

#[tokio::test]
async fn a_throttled_language_look_up_leaves_the_order_in_the_shops_language_and_its_notice_goes_again_in_the_buyers() {
    let fake = FakeSpApi::start().await;
    fake.set_buyer_locale(ORDER, Some("en-US"));
    // The first GetAttributes (the order's look-up) is throttled: the order's language is not known.
    fake.answer_once(Endpoint::Attributes, Answer::throttled());
    let looked_up = OrderLookup::order(&fake.lookup(), &OrderId::parse(ORDER).unwrap())
        .await
        .unwrap();
    let mallguard_domain::feed::FeedOrder::Order { order, .. } = looked_up.order else {
        panic!("unreadable")
    };
    assert_eq!(order.buyer.language, None, "the shop's language is used");
    // Its notice, in the shop's Japanese, is not refused: the buyer's language comes with the answer.
    match fake.messenger().send(&notice()).await {
        Err(MailError::OtherLanguage { reads, .. }) => assert_eq!(reads, Language::En),
        other => panic!("not to be written again: {other:?}"),
    }
    fake.messenger()
        .send(&mail(NoticeKind::Notice, Language::En))
        .await
        .unwrap();
    assert_eq!(fake.messages().len(), 1);
}
