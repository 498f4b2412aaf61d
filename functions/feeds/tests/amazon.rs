//! Amazon SP-API against the fake SP-API and LWA endpoint of `support`, over real HTTP on a loopback port:
//! one order read by its id (`OrderLookup`), and the `getOrders` backstop (`OrderFeed`).

use mallguard_feeds::fake_amazon as support;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::feed::{FeedError, FeedOrder, FeedPage, LookedUp, OrderFeed, OrderLookup};
use mallguard_domain::ids::{Mall, OrderId};
use mallguard_domain::order::{Order, OrderStatus};
use mallguard_feeds::amazon::{AmazonOptions, AmazonSpApi, MAX_ITEM_PAGES};
use mallguard_malls::amazon::{self, AmazonStatus};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use support::{
    ACCESS_TOKEN_PREFIX, Answer, CLIENT_SECRET, Endpoint, FakeSpApi, GET_ORDER, GET_ORDER_ITEMS, GET_ORDERS,
    GET_ORDERS_PAGE2, MALFORMED, ORDER, OrdersQuery, RDT_PREFIX, REFRESH_TOKEN, SELLER,
};

/// 佐藤 花子's orders that `add_order` stages beside the sample, as in `getOrders.json` and
/// `getOrders-page2.json`.
const PENDING: &str = "250-7654321-1234567";
const CANCELED: &str = "250-2468135-9753102";
/// 13:00 JST: after the sample order's last update (03:35:02 UTC), before its cancellation (04:10:31 UTC).
const NOW: &str = "2026-11-23T04:00:00Z";
const DAY: SignedDuration = SignedDuration::from_hours(24);

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn id(text: &str) -> OrderId {
    OrderId::parse(text).unwrap()
}

fn order(read: &FeedOrder) -> (&Order, &[u8]) {
    match read {
        FeedOrder::Order { order, raw } => (order.as_ref(), raw.as_slice()),
        FeedOrder::Unreadable { error, .. } => panic!("unreadable: {error}"),
    }
}

fn ids(page: &FeedPage) -> Vec<&str> {
    page.orders
        .iter()
        .map(|o| order(o).0.order_ref.order_id.as_str())
        .collect()
}

fn with_options(fake: &FakeSpApi, change: impl FnOnce(&mut AmazonOptions)) -> AmazonSpApi {
    let mut options = fake.options();
    change(&mut options);
    fake.api_with(FakeSpApi::credentials(), options)
}

/// Nothing secret in an error's text.
fn assert_no_secret(error: &FeedError) {
    let text = format!("{error} {error:?}");
    for secret in [
        REFRESH_TOKEN,
        CLIENT_SECRET,
        ACCESS_TOKEN_PREFIX,
        RDT_PREFIX,
        "山田",
        "千代田",
    ] {
        assert!(!text.contains(secret), "{text}");
    }
}

fn counts(fake: &FakeSpApi) -> [u32; 5] {
    [
        Endpoint::Lwa,
        Endpoint::Rdt,
        Endpoint::GetOrder,
        Endpoint::GetOrderItems,
        Endpoint::GetOrders,
    ]
    .map(|endpoint| fake.requests(endpoint))
}

async fn lookup(api: &AmazonSpApi, order_id: &str) -> Result<LookedUp, FeedError> {
    OrderLookup::order(api, &id(order_id)).await
}

fn orders_of(sample: &[u8]) -> Value {
    let sample: Value = serde_json::from_slice(sample).unwrap();
    sample["payload"]["Orders"].clone()
}

// ---------------------------------------------------------------------------------------------------------
// One order by its id
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_lookup_reads_the_whole_order_with_four_requests_then_three() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();
    assert_eq!(OrderLookup::mall(&api), Mall::Amazon);
    assert_eq!(OrderLookup::shop(&api).as_str(), SELLER);

    let first = lookup(&api, ORDER).await.unwrap();

    // LWA, createRestrictedDataToken, getOrder, getOrderItems, GetAttributes (the buyer's language).
    assert_eq!(first.requests, 5);
    assert_eq!(counts(&fake), [1, 1, 1, 1, 0]);
    let (read, raw) = order(&first.order);
    assert_eq!(read.order_ref.mall, Mall::Amazon);
    assert_eq!(read.order_ref.shop.as_str(), SELLER);
    assert_eq!(read.order_ref.order_id.as_str(), ORDER);
    assert_eq!(read.status, OrderStatus::Open);
    assert_eq!(read.placed_at, at("2026-11-23T03:20:00Z"));
    assert_eq!(read.buyer.name, "山田 太郎");
    assert_eq!(
        read.buyer.email.as_ref().map(|e| e.as_str()),
        Some("abcd1234efgh@marketplace.amazon.co.jp")
    );
    assert_eq!(read.ship_to.name, "山田 太郎");
    assert_eq!(read.ship_to.postal_code, "100-0001");
    assert_eq!(read.ship_to.prefecture, "東京都");
    assert_eq!(read.ship_to.city, "千代田区");
    assert_eq!(read.ship_to.lines, ["千代田1-2-3", "メゾン千代田101"]);
    assert_eq!(read.ship_to.phone.as_deref(), Some("090-1234-5678"));
    let lines: Vec<_> = read.lines.iter().collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].product.as_str(), "TEA-SENCHA-100");
    assert_eq!(lines[0].title, "有機煎茶 100g");
    assert_eq!(u32::from(lines[0].quantity), 1);
    // The evidence is both answers byte for byte: the samples, as the fake sends them.
    let (expected, evidence) = amazon::order_from(GET_ORDER, &[GET_ORDER_ITEMS], &read.order_ref.shop).unwrap();
    assert_eq!(raw, evidence);
    // The buyer's language comes from GetAttributes, not from the evidence.
    assert_eq!(read.buyer.language, Some(mallguard_domain::Language::Ja));
    let mut expected = expected;
    expected.buyer.language = read.buyer.language;
    assert_eq!(read, &expected);
    // The RDT asked for the order's getOrder path with the buyer and the address, and getOrder got it.
    assert_eq!(fake.rdt_requests(), [amazon::restricted_data_token_request(&id(ORDER))]);
    assert_eq!(fake.fetched(), [(ORDER.to_owned(), true)]);

    let second = lookup(&api, ORDER).await.unwrap();
    assert_eq!(second.requests, 4, "the LWA token is kept");
    assert_eq!(counts(&fake), [1, 2, 2, 2, 0]);
    assert_eq!(order(&second.order).0, read);
}

#[tokio::test]
async fn without_an_rdt_get_order_carries_no_buyer_data_and_the_order_cannot_be_matched() {
    let fake = FakeSpApi::start().await;
    let client = reqwest::Client::new();
    let form = amazon::lwa_token_form(REFRESH_TOKEN, support::CLIENT_ID, CLIENT_SECRET);
    let answer = client
        .post(format!("{}{}", fake.url(), support::LWA_PATH))
        .header("content-type", amazon::LWA_CONTENT_TYPE)
        .body(form.expose_secret().to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let token = amazon::parse_lwa_token(&answer.bytes().await.unwrap()).unwrap();
    let thin = client
        .get(amazon::v0_get_order(&id(ORDER)).url(fake.url()))
        .header(amazon::ACCESS_TOKEN_HEADER, token.token.expose_secret())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let payload = &serde_json::from_slice::<Value>(&thin).unwrap()["payload"];
    assert_eq!(
        payload["BuyerInfo"],
        serde_json::json!({ "BuyerEmail": "abcd1234efgh@marketplace.amazon.co.jp" })
    );
    assert_eq!(payload["ShippingAddress"]["City"], "千代田区");
    assert!(payload["ShippingAddress"].get("Name").is_none());
    assert!(payload["ShippingAddress"].get("Phone").is_none());
    let (_, error) = amazon::order_from(
        &thin,
        &[GET_ORDER_ITEMS],
        &mallguard_domain::ids::ShopId::parse(SELLER).unwrap(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("ShippingAddress"), "{error}");
    assert_eq!(fake.fetched(), [(ORDER.to_owned(), false)]);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_lookup_succeeds() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();
    lookup(&api, ORDER).await.unwrap();
    fake.expire_tokens();

    let read = lookup(&api, ORDER).await.unwrap();

    // createRestrictedDataToken (403, expired), LWA, createRestrictedDataToken, getOrder, getOrderItems,
    // GetAttributes.
    assert_eq!(read.requests, 6);
    assert_eq!(counts(&fake), [2, 3, 2, 2, 0]);
    assert_eq!(order(&read.order).0.buyer.name, "山田 太郎");
}

#[tokio::test]
async fn an_expired_rdt_is_replaced_once() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();
    fake.answer_once(Endpoint::GetOrder, Answer::token_expired());

    let read = lookup(&api, ORDER).await.unwrap();

    // LWA, RDT, getOrder (403), RDT, getOrder, getOrderItems, GetAttributes.
    assert_eq!(read.requests, 7);
    assert_eq!(counts(&fake), [1, 2, 2, 1, 0]);
    assert_eq!(order(&read.order).0.ship_to.city, "千代田区");
}

#[tokio::test]
async fn a_token_refused_again_after_its_refresh_is_unauthorized() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();
    fake.answer_once(Endpoint::GetOrderItems, Answer::token_expired());
    fake.answer_once(Endpoint::GetOrderItems, Answer::token_expired());

    let error = lookup(&api, ORDER).await.unwrap_err();

    let FeedError::Unauthorized(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.starts_with("getOrderItems: the access token has expired"),
        "{message}"
    );
    assert!(message.contains("authorises the app"), "{message}");
    assert_no_secret(&error);
    // One refresh, one more try, no third.
    assert_eq!(counts(&fake), [2, 1, 1, 2, 0]);
}

#[tokio::test]
async fn a_revoked_refresh_token_is_unauthorized_and_says_what_to_do() {
    let fake = FakeSpApi::start().await;
    fake.revoke();

    let error = lookup(&fake.lookup(), ORDER).await.unwrap_err();

    let FeedError::Unauthorized(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(
        message.contains("must authorise the app again in Seller Central"),
        "{message}"
    );
    assert!(message.contains("new refresh token"), "{message}");
    assert_no_secret(&error);
    assert_eq!(counts(&fake), [1, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_wrong_client_secret_is_unauthorized_and_names_the_app_credentials() {
    let fake = FakeSpApi::start().await;
    let mut credentials = FakeSpApi::credentials();
    credentials.client_secret = SecretString::from("not-the-secret");
    let api = fake.api_with(credentials, fake.options());

    let error = lookup(&api, ORDER).await.unwrap_err();

    let FeedError::Unauthorized(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("client id or secret"), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    assert_no_secret(&error);
}

#[tokio::test]
async fn throttling_is_throttled_with_the_wait_amazon_gives_if_any() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();

    fake.answer_once(Endpoint::GetOrder, Answer::throttled());
    assert_eq!(
        lookup(&api, ORDER).await.unwrap_err(),
        FeedError::Throttled { retry_after: None }
    );

    fake.answer_once(
        Endpoint::GetOrderItems,
        Answer::throttled().with_header("Retry-After", "7"),
    );
    assert_eq!(
        lookup(&api, ORDER).await.unwrap_err(),
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(7))
        }
    );

    fake.answer_once(
        Endpoint::Rdt,
        Answer::throttled().with_header("x-amzn-RateLimit-Limit", "0.5"),
    );
    assert_eq!(
        lookup(&api, ORDER).await.unwrap_err(),
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(2))
        }
    );

    fake.answer_once(Endpoint::Lwa, Answer::status(429, b""));
    let fresh = fake.lookup();
    assert_eq!(
        lookup(&fresh, ORDER).await.unwrap_err(),
        FeedError::Throttled { retry_after: None }
    );
}

#[tokio::test]
async fn outages_and_refusals_are_told_apart() {
    let fake = FakeSpApi::start().await;
    let api = fake.lookup();

    fake.answer_once(Endpoint::GetOrder, Answer::status(500, b""));
    let error = lookup(&api, ORDER).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.starts_with("getOrder: Amazon is unavailable")),
        "{error:?}"
    );

    fake.answer_once(
        Endpoint::GetOrderItems,
        Answer::status(
            503,
            br#"{"errors":[{"code":"ServiceUnavailable","message":"Service is unavailable."}]}"#,
        ),
    );
    assert!(matches!(
        lookup(&api, ORDER).await.unwrap_err(),
        FeedError::Unavailable(_)
    ));

    fake.answer_once(Endpoint::Rdt, Answer::invalid_input());
    let error = lookup(&api, ORDER).await.unwrap_err();
    assert_eq!(
        error,
        FeedError::Refused(
            "createRestrictedDataToken: the request was refused as invalid (400) (InvalidInput: Invalid Input)".into()
        )
    );

    let error = lookup(&api, "250-0000000-0000000").await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Refused(m) if m.starts_with("getOrder: not found (404)")),
        "{error:?}"
    );

    fake.answer_once(Endpoint::Lwa, Answer::status(302, b""));
    let error = lookup(&fake.lookup(), ORDER).await.unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");

    fake.answer_once(Endpoint::Lwa, Answer::status(200, b"<html>maintenance</html>"));
    let error = lookup(&fake.lookup(), ORDER).await.unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn no_answer_in_time_is_unavailable() {
    let fake = FakeSpApi::start().await;
    let api = with_options(&fake, |o| o.timeouts.total = std::time::Duration::from_millis(300));
    fake.answer_once(Endpoint::GetOrder, Answer::Hang);

    let error = lookup(&api, ORDER).await.unwrap_err();

    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.starts_with("getOrder: no answer within")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_malformed_get_order_is_unreadable_with_its_bytes() {
    let fake = FakeSpApi::start().await;
    fake.answer_once(Endpoint::GetOrder, Answer::malformed());

    let read = lookup(&fake.lookup(), ORDER).await.unwrap();

    assert_eq!(read.requests, 4);
    let FeedOrder::Unreadable { raw, error } = &read.order else {
        panic!("{:?}", read.order);
    };
    assert!(error.contains("getOrder: "), "{error}");
    // The evidence keeps the broken answer as a string, and the items as they came.
    let evidence: Value = serde_json::from_slice(raw).unwrap();
    assert_eq!(evidence["getOrder"], std::str::from_utf8(MALFORMED).unwrap());
    assert_eq!(
        evidence["getOrderItems"][0],
        serde_json::from_slice::<Value>(GET_ORDER_ITEMS).unwrap()
    );
}

#[tokio::test]
async fn order_items_are_read_page_by_page() {
    let fake = FakeSpApi::start().await;
    fake.add_items(ORDER, 2);
    fake.set_items_page_size(1);

    let read = lookup(&fake.lookup(), ORDER).await.unwrap();

    // LWA, RDT, getOrder, three getOrderItems pages, GetAttributes.
    assert_eq!(read.requests, 7);
    assert_eq!(fake.requests(Endpoint::GetOrderItems), 3);
    let skus: Vec<&str> = order(&read.order)
        .0
        .lines
        .iter()
        .map(|line| line.product.as_str())
        .collect();
    assert_eq!(skus, ["TEA-SENCHA-100", "TEA-SENCHA-100-2", "TEA-SENCHA-100-3"]);
    let evidence: Value = serde_json::from_slice(order(&read.order).1).unwrap();
    assert_eq!(evidence["getOrderItems"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn an_order_with_more_item_pages_than_the_bound_is_unreadable_not_cut_short() {
    let fake = FakeSpApi::start().await;
    fake.add_items(ORDER, MAX_ITEM_PAGES);
    fake.set_items_page_size(1);

    let read = lookup(&fake.lookup(), ORDER).await.unwrap();

    let FeedOrder::Unreadable { error, .. } = &read.order else {
        panic!("{:?}", read.order);
    };
    assert!(error.contains(&format!("more than {MAX_ITEM_PAGES} pages")), "{error}");
    assert_eq!(
        fake.requests(Endpoint::GetOrderItems),
        u32::try_from(MAX_ITEM_PAGES).unwrap()
    );
}

#[tokio::test]
async fn concurrent_lookups_refresh_the_lwa_token_once() {
    let fake = FakeSpApi::start().await;
    let api = Arc::new(fake.lookup());

    let reads: Vec<_> = (0..8)
        .map(|_| {
            let api = Arc::clone(&api);
            tokio::spawn(async move { lookup(&api, ORDER).await })
        })
        .collect();
    let mut requests = 0;
    for read in reads {
        let read = read.await.unwrap().unwrap();
        assert_eq!(order(&read.order).0.buyer.name, "山田 太郎");
        requests += read.requests;
    }

    assert_eq!(fake.requests(Endpoint::Lwa), 1);
    assert_eq!(
        requests,
        8 * 4 + 1,
        "RDT, getOrder, getOrderItems and GetAttributes each, one LWA"
    );
    assert_eq!(counts(&fake), [1, 8, 8, 8, 0]);
}

// ---------------------------------------------------------------------------------------------------------
// The backstop
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_first_backstop_run_lists_and_reads_then_a_quiet_run_costs_one_get_orders() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    assert_eq!(OrderFeed::mall(&api), Mall::Amazon);
    assert_eq!(OrderFeed::shop(&api).as_str(), SELLER);

    let first = api.changed_since(None, at(NOW), DAY).await.unwrap();

    assert_eq!(ids(&first), [ORDER]);
    let (read, raw) = order(&first.orders[0]);
    assert_eq!(read.buyer.name, "山田 太郎");
    assert_eq!(
        raw,
        amazon::order_from(GET_ORDER, &[GET_ORDER_ITEMS], &read.order_ref.shop)
            .unwrap()
            .1
    );
    // LWA, getOrders, RDT, getOrder, getOrderItems, GetAttributes (the buyer's language).
    assert_eq!(first.requests, 6);
    assert_eq!(counts(&fake), [1, 1, 1, 1, 1]);
    assert!(!first.more);
    assert_eq!(first.next, "2026-11-23T03:57:00Z");
    assert_eq!(
        fake.orders_queries(),
        [OrdersQuery {
            marketplace_ids: Some("A1VC38T7YXB528".into()),
            last_updated_after: Some("2026-11-22T04:00:00Z".into()),
            last_updated_before: Some("2026-11-23T03:57:00Z".into()),
            max_results_per_page: Some("20".into()),
            ..OrdersQuery::default()
        }]
    );

    let quiet = api
        .changed_since(Some(&first.next), at("2026-11-23T04:05:00Z"), DAY)
        .await
        .unwrap();

    assert!(quiet.orders.is_empty());
    assert_eq!(quiet.requests, 1, "one getOrders, the LWA token kept");
    assert_eq!(counts(&fake), [1, 1, 1, 1, 2]);
    assert!(!quiet.more);
    assert_eq!(quiet.next, "2026-11-23T04:02:00Z");
    let query = &fake.orders_queries()[1];
    assert_eq!(query.last_updated_after.as_deref(), Some("2026-11-23T03:52:00Z"));
    assert_eq!(query.last_updated_before.as_deref(), Some("2026-11-23T04:02:00Z"));
}

#[tokio::test]
async fn a_window_with_nothing_settled_costs_no_request_and_keeps_the_position() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();

    // A position ahead of this run's clock (another run wrote it, on a clock ahead of this one's).
    let page = api
        .changed_since(Some("2026-11-23T04:05:00Z"), at(NOW), DAY)
        .await
        .unwrap();

    assert!(page.orders.is_empty());
    assert_eq!(page.requests, 0);
    assert!(!page.more);
    assert_eq!(page.next, "2026-11-23T04:05:00Z");

    // A first run that looks back less than the settle: it starts where it would have.
    let page = api
        .changed_since(None, at(NOW), SignedDuration::from_mins(1))
        .await
        .unwrap();
    assert!(page.orders.is_empty());
    assert_eq!(page.next, "2026-11-23T03:59:00Z");
    assert_eq!(counts(&fake), [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_cancellation_between_two_polls_comes_back_cancelled() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    let first = api.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(order(&first.orders[0]).0.status, OrderStatus::Open);

    fake.cancel(ORDER);
    let second = api
        .changed_since(Some(&first.next), at("2026-11-23T04:30:00Z"), DAY)
        .await
        .unwrap();

    assert_eq!(ids(&second), [ORDER]);
    let (read, raw) = order(&second.orders[0]);
    assert_eq!(read.status, OrderStatus::Cancelled);
    let evidence: Value = serde_json::from_slice(raw).unwrap();
    assert_eq!(evidence["getOrder"]["payload"]["OrderStatus"], "Canceled");
    assert_eq!(second.next, "2026-11-23T04:27:00Z");
}

#[tokio::test]
async fn pending_orders_are_not_read_and_pages_are_followed_with_the_same_window() {
    let fake = FakeSpApi::start().await;
    fake.add_order(PENDING, AmazonStatus::Pending, at("2026-11-23T03:38:00Z"));
    fake.add_order(CANCELED, AmazonStatus::Unshipped, at("2026-11-23T03:05:00Z"));
    fake.cancel(CANCELED);
    let api = with_options(&fake, |o| o.page_size = 2);

    let first = api.changed_since(None, at(NOW), DAY).await.unwrap();

    // The page lists the sample order and the pending one; only the first is read.
    assert_eq!(ids(&first), [ORDER]);
    assert!(first.more);
    assert_eq!(first.requests, 6);
    assert_eq!(fake.fetched(), [(ORDER.to_owned(), true)]);
    let next: Value = serde_json::from_str(&first.next).unwrap();
    assert_eq!(next["after"], "2026-11-22T04:00:00Z");
    assert_eq!(next["before"], "2026-11-23T03:57:00Z");
    assert_eq!(next["next_token"], "fake+next/1=");

    // Later: the stored page is read with the same window, whatever the time.
    let second = api
        .changed_since(Some(&first.next), at("2026-11-23T05:00:00Z"), DAY)
        .await
        .unwrap();

    assert_eq!(ids(&second), [CANCELED]);
    assert_eq!(order(&second.orders[0]).0.status, OrderStatus::Cancelled);
    // A cancelled order has no address, and the buyer's relay address only.
    assert_eq!(
        order(&second.orders[0]).0.buyer.email.as_ref().map(|e| e.as_str()),
        Some("wxyz5678ijkl@marketplace.amazon.co.jp")
    );
    assert!(!second.more);
    assert_eq!(second.next, "2026-11-23T03:57:00Z");
    // getOrders, RDT, getOrder, getOrderItems, GetAttributes: the token is kept.
    assert_eq!(second.requests, 5);
    let queries = fake.orders_queries();
    assert_eq!(queries.len(), 2);
    assert_eq!(
        queries[1],
        OrdersQuery {
            next_token: Some("fake+next/1=".into()),
            ..queries[0].clone()
        }
    );
    assert_eq!(queries[0].max_results_per_page.as_deref(), Some("2"));
    assert!(
        fake.fetched().iter().all(|(id, _)| id != PENDING),
        "{:?}",
        fake.fetched()
    );
}

#[tokio::test]
async fn one_rdt_covers_the_orders_of_a_page() {
    let fake = FakeSpApi::start().await;
    fake.add_order(PENDING, AmazonStatus::Unshipped, at("2026-11-23T03:38:00Z"));

    let page = fake.api().changed_since(None, at(NOW), DAY).await.unwrap();

    assert_eq!(ids(&page), [ORDER, PENDING]);
    assert_eq!(order(&page.orders[1]).0.buyer.name, "佐藤 花子");
    assert_eq!(order(&page.orders[1]).0.ship_to.prefecture, "大阪府");
    // LWA, getOrders, one RDT, and a getOrder, a getOrderItems and a GetAttributes per order.
    assert_eq!(page.requests, 9);
    let rdts = fake.rdt_requests();
    assert_eq!(rdts.len(), 1);
    let paths: Vec<&str> = rdts[0]["restrictedResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/orders/v0/orders/250-1234567-7654321",
            "/orders/v0/orders/250-7654321-1234567"
        ]
    );
    assert_eq!(fake.fetched(), [(ORDER.to_owned(), true), (PENDING.to_owned(), true)]);
}

#[tokio::test]
async fn the_fake_lists_orders_as_the_get_orders_samples_do() {
    let fake = FakeSpApi::start().await;
    fake.add_order(PENDING, AmazonStatus::Pending, at("2026-11-23T03:38:00Z"));
    fake.add_order(CANCELED, AmazonStatus::Unshipped, at("2026-11-23T03:05:00Z"));
    fake.cancel(CANCELED);
    // The window and page size of the samples: 03:00 to 04:00, two a page.
    let api = with_options(&fake, |o| o.page_size = 2);
    let first = api
        .changed_since(Some("2026-11-23T03:05:00Z"), at("2026-11-23T04:03:00Z"), DAY)
        .await
        .unwrap();
    api.changed_since(Some(&first.next), at("2026-11-23T04:03:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(
        fake.orders_queries()[0].last_updated_after.as_deref(),
        Some("2026-11-23T03:00:00Z")
    );
    assert_eq!(
        fake.orders_queries()[0].last_updated_before.as_deref(),
        Some("2026-11-23T04:00:00Z")
    );

    // The same pages, asked for directly, hold what the samples hold.
    let client = reqwest::Client::new();
    let form = amazon::lwa_token_form(REFRESH_TOKEN, support::CLIENT_ID, CLIENT_SECRET);
    let token = client
        .post(format!("{}{}", fake.url(), support::LWA_PATH))
        .header("content-type", amazon::LWA_CONTENT_TYPE)
        .body(form.expose_secret().to_owned())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let token = amazon::parse_lwa_token(&token).unwrap().token;
    let mut pages = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let mut url = reqwest::Url::parse(&format!(
            "{}/orders/v0/orders?MarketplaceIds=A1VC38T7YXB528&LastUpdatedAfter=2026-11-23T03:00:00Z\
             &LastUpdatedBefore=2026-11-23T04:00:00Z&MaxResultsPerPage=2",
            fake.url()
        ))
        .unwrap();
        if let Some(next) = &next_token {
            url.query_pairs_mut().append_pair("NextToken", next);
        }
        let body = client
            .get(url)
            .header(amazon::ACCESS_TOKEN_HEADER, token.expose_secret())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let page: Value = serde_json::from_slice(&body).unwrap();
        next_token = amazon::v0_orders_page(&body).unwrap().next_token;
        pages.push(page);
        if next_token.is_none() {
            break;
        }
    }
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["payload"]["Orders"], orders_of(GET_ORDERS));
    assert_eq!(pages[1]["payload"]["Orders"], orders_of(GET_ORDERS_PAGE2));
    for (page, sample) in pages.iter().zip([GET_ORDERS, GET_ORDERS_PAGE2]) {
        let sample: Value = serde_json::from_slice(sample).unwrap();
        assert_eq!(
            page["payload"]["LastUpdatedBefore"],
            sample["payload"]["LastUpdatedBefore"]
        );
        assert_eq!(
            page["payload"].get("NextToken").is_some(),
            sample["payload"].get("NextToken").is_some()
        );
    }
    // And the samples read as the backstop reads them.
    let page = amazon::v0_orders_page(GET_ORDERS).unwrap();
    let statuses: Vec<_> = page.orders.iter().map(|o| o.status.clone()).collect();
    assert_eq!(statuses, [AmazonStatus::Unshipped, AmazonStatus::Pending]);
    assert!(page.next_token.is_some());
    assert_eq!(amazon::v0_orders_page(GET_ORDERS_PAGE2).unwrap().next_token, None);
}

#[tokio::test]
async fn a_stored_next_token_amazon_refuses_reads_the_window_again_from_its_start() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    let stale = r#"{"after":"2026-11-22T04:00:00Z","before":"2026-11-23T03:57:00Z","next_token":"stale"}"#;

    let page = api
        .changed_since(Some(stale), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();

    assert_eq!(ids(&page), [ORDER]);
    assert!(!page.more);
    assert_eq!(page.next, "2026-11-23T04:07:00Z");
    let queries = fake.orders_queries();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0].next_token.as_deref(), Some("stale"));
    assert_eq!(queries[1].next_token, None);
    assert_eq!(queries[1].last_updated_after.as_deref(), Some("2026-11-22T04:00:00Z"));
    assert_eq!(queries[1].last_updated_before.as_deref(), Some("2026-11-23T04:07:00Z"));
    // LWA, two getOrders, RDT, getOrder, getOrderItems, GetAttributes.
    assert_eq!(page.requests, 7);
}

#[tokio::test]
async fn backstop_failures_leave_no_orders_behind_and_name_the_call() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();

    fake.answer_once(Endpoint::GetOrders, Answer::throttled());
    assert_eq!(
        api.changed_since(None, at(NOW), DAY).await.unwrap_err(),
        FeedError::Throttled { retry_after: None }
    );

    fake.answer_once(Endpoint::GetOrders, Answer::status(200, b"<html>maintenance</html>"));
    let error = api.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.starts_with("getOrders: the answer cannot be read")),
        "{error:?}"
    );

    fake.answer_once(
        Endpoint::GetOrders,
        Answer::status(200, br#"{"payload": {"Orders": [{}]}}"#),
    );
    let error = api.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(&error, FeedError::Refused(_)), "{error:?}");

    fake.answer_once(Endpoint::GetOrders, Answer::invalid_input());
    let error = api.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(&error, FeedError::Refused(_)), "{error:?}");
    assert_eq!(fake.requests(Endpoint::GetOrders), 4, "no NextToken: not read again");

    // A malformed order on the page is unreadable beside the others, not an error.
    fake.answer_once(Endpoint::GetOrder, Answer::malformed());
    let page = api.changed_since(None, at(NOW), DAY).await.unwrap();
    assert!(matches!(page.orders[..], [FeedOrder::Unreadable { .. }]));
}

#[tokio::test]
async fn a_position_this_feed_did_not_write_is_refused() {
    let fake = FakeSpApi::start().await;
    let api = fake.api();
    for position in ["yesterday", r#"{"after":"2026-11-22T04:00:00Z"}"#] {
        let error = api.changed_since(Some(position), at(NOW), DAY).await.unwrap_err();
        assert!(matches!(error, FeedError::Refused(_)), "{position}: {error:?}");
    }
    assert_eq!(counts(&fake), [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn the_fake_moves_its_samples_to_another_day() {
    let today = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let fake = FakeSpApi::start_on(today).await;
    let now = today
        .at(4, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();

    let page = fake.api().changed_since(None, now, DAY).await.unwrap();

    assert_eq!(ids(&page), [ORDER]);
    assert_eq!(
        order(&page.orders[0]).0.placed_at,
        today
            .at(3, 20, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
    );
}

#[tokio::test]
async fn the_buyers_locale_at_amazon_is_the_orders_language() {
    let fake = FakeSpApi::start().await;
    fake.set_buyer_locale(ORDER, Some("en-US"));
    let read = lookup(&fake.lookup(), ORDER).await.unwrap();
    assert_eq!(
        order(&read.order).0.buyer.language,
        Some(mallguard_domain::Language::En)
    );
    // No locale (or no Buyer Communication role): the shop's language is used.
    fake.set_buyer_locale(ORDER, None);
    let read = lookup(&fake.lookup(), ORDER).await.unwrap();
    assert_eq!(order(&read.order).0.buyer.language, None);
}

#[tokio::test]
async fn the_backstop_reads_the_buyers_language_as_a_notification_lookup_does() {
    let fake = FakeSpApi::start().await;
    fake.set_buyer_locale(ORDER, Some("en-US"));
    let page = fake.api().changed_since(None, at(NOW), DAY).await.unwrap();
    let listed = order(&page.orders[0]).0;
    let looked_up = lookup(&fake.lookup(), ORDER).await.unwrap();
    assert_eq!(listed.buyer.language, Some(mallguard_domain::Language::En));
    assert_eq!(listed.buyer.language, order(&looked_up.order).0.buyer.language);
    assert_eq!(fake.requests(Endpoint::Attributes), 2, "one per read");
}
