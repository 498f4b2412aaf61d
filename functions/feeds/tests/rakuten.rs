//! The Rakuten feed against the fake RMS of `support`, over real HTTP on a loopback port.

use mallguard_feeds::fake as support;

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::feed::{FeedError, FeedOrder, FeedPage, OrderFeed};
use mallguard_domain::ids::Mall;
use mallguard_domain::order::{Order, OrderStatus};
use mallguard_feeds::Timeouts;
use mallguard_feeds::rakuten::{RakutenCredentials, RakutenOptions};
use mallguard_malls::rakuten;
use secrecy::SecretString;
use serde_json::Value;
use support::{
    Answer, Endpoint, FakeRms, GET_ORDER, GET_ORDER_CANCELLED, LICENSE_KEY, SATO, SEARCH_ORDER_INVALID, SERVICE_SECRET,
    SHOP, SearchSeen, YAMADA,
};

/// 2026-11-23 12:30 JST: half an hour after the 山田 order, ten minutes after the 佐藤 one.
const NOW: &str = "2026-11-23T03:30:00Z";
const DAY: SignedDuration = SignedDuration::from_hours(24);

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn readable(page: &FeedPage) -> Vec<(&Order, &[u8])> {
    page.orders
        .iter()
        .filter_map(|o| match o {
            FeedOrder::Order { order, raw } => Some((order.as_ref(), raw.as_slice())),
            FeedOrder::Unreadable { .. } => None,
        })
        .collect()
}

fn numbers(page: &FeedPage) -> Vec<&str> {
    readable(page)
        .into_iter()
        .map(|(order, _)| order.order_ref.order_id.as_str())
        .collect()
}

/// Where `part` lies in `whole`, if it does.
fn find(whole: &[u8], part: &[u8]) -> Option<usize> {
    whole.windows(part.len()).position(|w| w == part)
}

/// The OrderModel of `number` in a getOrder sample, as JSON.
fn sample_order(sample: &[u8], number: &str) -> Value {
    let answer: Value = serde_json::from_slice(sample).unwrap();
    answer["OrderModelList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orderNumber"] == number)
        .unwrap()
        .clone()
}

fn with_options(fake: &FakeRms, change: impl FnOnce(&mut RakutenOptions)) -> mallguard_feeds::rakuten::RakutenFeed {
    let mut options = fake.options();
    change(&mut options);
    fake.feed_with(FakeRms::credentials(), options)
}

#[tokio::test]
async fn a_first_read_returns_both_sample_orders_with_their_exact_bytes() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    assert_eq!(feed.mall(), Mall::Rakuten);
    assert_eq!(feed.shop().as_str(), SHOP);

    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();

    assert_eq!(numbers(&page), [YAMADA, SATO]);
    assert_eq!(page.orders.len(), 2);
    for (order, raw) in readable(&page) {
        let number = order.order_ref.order_id.as_str();
        // The very bytes RMS sent for that order, cut from the answer, not written again.
        assert!(find(GET_ORDER, raw).is_some(), "{number}: not a slice of getOrder.json");
        assert_eq!(raw.first(), Some(&b'{'));
        assert_eq!(raw.last(), Some(&b'}'));
        let parsed: Value = serde_json::from_slice(raw).unwrap();
        assert_eq!(parsed, sample_order(GET_ORDER, number));
        assert_eq!(order.order_ref.mall, Mall::Rakuten);
        assert_eq!(order.order_ref.shop.as_str(), SHOP);
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order, &rakuten::parse_order(raw, feed.shop()).unwrap());
    }
    // Read up to now: the next read starts there, less the overlap.
    assert_eq!(page.next, "2026-11-23T03:30:00Z");
    assert!(!page.more);
    // One search over the look-back and the 48-hour re-read (the older start), JST as RMS wants it.
    assert_eq!(
        fake.searches(),
        [SearchSeen {
            start: "2026-11-21T12:30:00+0900".into(),
            end: "2026-11-23T12:30:00+0900".into(),
            page: 1,
            per_page: 1000,
        }]
    );
    assert_eq!(fake.get_batches(), [vec![YAMADA.to_owned(), SATO.to_owned()]]);
    assert_eq!(page.requests, 2);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 1);
    assert_eq!(fake.requests(Endpoint::GetOrder), 1);
}

#[tokio::test]
async fn a_read_with_nothing_new_costs_one_search_and_no_get_order() {
    let fake = FakeRms::start().await;
    // Three days on: the sample orders lie outside the 48-hour re-read, and nothing new came.
    let page = fake
        .feed()
        .changed_since(Some("2026-11-26T03:20:00Z"), at("2026-11-26T03:30:00.5Z"), DAY)
        .await
        .unwrap();

    assert!(page.orders.is_empty());
    assert_eq!(page.next, "2026-11-26T03:30:00Z");
    assert!(!page.more);
    assert_eq!(page.requests, 1);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 1);
    assert_eq!(fake.requests(Endpoint::GetOrder), 0);
    // The re-read's start is older than the position less the overlap.
    assert_eq!(fake.searches()[0].start, "2026-11-24T12:30:00+0900");
}

#[tokio::test]
async fn get_order_calls_grow_with_the_orders_read_100_at_a_time() {
    let fake = FakeRms::start().await;
    // 150 orders on 2026-12-01 from 09:00 JST, a minute apart; the samples are a week older.
    let added = fake.add_orders(150, at("2026-12-01T00:00:00Z"), SignedDuration::from_mins(1));
    let now = at("2026-12-01T03:00:00Z");

    let page = fake.feed().changed_since(None, now, DAY).await.unwrap();

    assert_eq!(numbers(&page), added);
    assert_eq!(page.requests, 3);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 1);
    assert_eq!(fake.requests(Endpoint::GetOrder), 2);
    let batches: Vec<usize> = fake.get_batches().iter().map(Vec::len).collect();
    assert_eq!(batches, [100, 50]);
    assert!(!page.more);

    // With 40 numbers a search page, the same orders take four pages: still two getOrder calls.
    let fake = FakeRms::start().await;
    let added = fake.add_orders(150, at("2026-12-01T00:00:00Z"), SignedDuration::from_mins(1));
    let feed = with_options(&fake, |o| o.page_size = 40);
    let page = feed.changed_since(None, now, DAY).await.unwrap();
    assert_eq!(numbers(&page), added);
    let pages: Vec<u64> = fake.searches().iter().map(|s| s.page).collect();
    assert_eq!(pages, [1, 2, 3, 4]);
    assert_eq!(page.requests, 6);
    assert_eq!(fake.requests(Endpoint::GetOrder), 2);
}

#[tokio::test]
async fn a_search_longer_than_one_read_says_more_and_the_next_reads_move_on() {
    let fake = FakeRms::start().await;
    let now = at("2026-12-01T12:00:00Z");
    let first = at("2026-12-01T00:00:00Z");
    let spacing = SignedDuration::from_mins(1);
    let added = fake.add_orders(150, first, spacing);
    // 10 numbers a page and 3 pages a read: 30 orders a read at most.
    let feed = with_options(&fake, |o| {
        o.page_size = 10;
        o.max_search_pages = 3;
    });

    let page = feed.changed_since(None, now, 3 * DAY).await.unwrap();
    assert_eq!(numbers(&page), added[..30]);
    assert!(page.more);
    // Every order placed up to the 30th was read (the search is ascending).
    assert_eq!(page.next, (first + spacing * 29).to_string());
    assert_eq!(page.requests, 3 + 1);

    // The next reads go on from there until every order is read. The 48-hour re-read alone has more pages
    // than a read takes, so each read starts over at the new orders.
    let mut seen: Vec<String> = numbers(&page).iter().map(|n| n.to_string()).collect();
    let mut position = page.next;
    let mut reads = 1;
    loop {
        let before = fake.searches().len();
        let page = feed.changed_since(Some(&position), now, 3 * DAY).await.unwrap();
        reads += 1;
        let searches = fake.searches()[before..].to_vec();
        assert_eq!(
            searches[0].start, "2026-11-29T21:00:00+0900",
            "the combined range first"
        );
        let new_from = rakuten::api_datetime(at(&position) - SignedDuration::from_mins(10));
        assert_eq!(searches[1].start, new_from, "then the new orders only");
        assert_eq!(searches[1].page, 1);
        assert!(at(&page.next) > at(&position), "read {reads} did not move on");
        seen.extend(numbers(&page).iter().map(|n| n.to_string()));
        position = page.next;
        if !page.more {
            break;
        }
        assert!(reads < 20, "no end to the reads");
    }
    assert_eq!(position, "2026-12-01T12:00:00Z");
    seen.sort();
    seen.dedup();
    assert_eq!(seen, added);
}

#[tokio::test]
async fn throttling_is_reported_with_the_retry_after_rakuten_sends() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();

    fake.answer_once(Endpoint::SearchOrder, Answer::throttled(Some("7")));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert_eq!(
        error,
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(7))
        }
    );
    assert!(error.is_transient());

    // 429 on getOrder, without a Retry-After; the search before it went through.
    fake.answer_once(Endpoint::GetOrder, Answer::status(429, b""));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert_eq!(error, FeedError::Throttled { retry_after: None });

    // A Retry-After as an HTTP date counts from the read's now.
    fake.answer_once(
        Endpoint::SearchOrder,
        Answer::throttled(Some("Mon, 23 Nov 2026 03:31:00 GMT")),
    );
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert_eq!(
        error,
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(60))
        }
    );

    // Once the throttling passes, the same read succeeds.
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(numbers(&page), [YAMADA, SATO]);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 4);
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_the_key_never_shows() {
    let fake = FakeRms::start().await;
    let wrong_key = "SL386193_wrongKey_9f8e7d";
    let feed = fake.feed_with(
        RakutenCredentials {
            service_secret: SecretString::from(SERVICE_SECRET),
            license_key: SecretString::from(wrong_key),
        },
        fake.options(),
    );

    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    let FeedError::Unauthorized(message) = &error else {
        panic!("not unauthorized: {error:?}");
    };
    assert!(message.contains("ES01-01"), "{message}");
    assert!(!error.is_transient());
    let printed = format!("{error} {error:?} {feed:?}");
    for secret in [
        wrong_key.to_owned(),
        LICENSE_KEY.to_owned(),
        SERVICE_SECRET.to_owned(),
        rakuten::authorization(SERVICE_SECRET, wrong_key),
    ] {
        assert!(!printed.contains(&secret), "{printed}");
    }
    assert_eq!(fake.requests(Endpoint::SearchOrder), 1);
    assert_eq!(fake.requests(Endpoint::GetOrder), 0);

    // The expiry API refuses it the same way.
    let error = feed
        .license_expiry(Timestamp::from_second(1_795_000_000).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, FeedError::Unauthorized(_)), "{error:?}");
    assert!(!format!("{error} {error:?}").contains(wrong_key));
}

#[tokio::test]
async fn an_expired_key_is_unauthorized_everywhere() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    fake.expire_key();

    let error = feed.changed_since(Some(NOW), at(NOW), DAY).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Unauthorized(m) if m.contains("renew the licenseKey")),
        "{error:?}"
    );
    let error = feed
        .license_expiry(Timestamp::from_second(1_795_000_000).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, FeedError::Unauthorized(_)), "{error:?}");
}

#[tokio::test]
async fn a_malformed_order_is_unreadable_beside_the_readable_one() {
    let fake = FakeRms::start().await;
    fake.corrupt(SATO);

    let page = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap();

    assert_eq!(numbers(&page), [YAMADA]);
    let unreadable: Vec<(&[u8], &str)> = page
        .orders
        .iter()
        .filter_map(|o| match o {
            FeedOrder::Unreadable { raw, error } => Some((raw.as_slice(), error.as_str())),
            FeedOrder::Order { .. } => None,
        })
        .collect();
    let [(raw, error)] = unreadable.as_slice() else {
        panic!("{unreadable:?}");
    };
    // The order's own bytes, for the quarantine, and the field that failed.
    assert!(find(raw, SATO.as_bytes()).is_some());
    assert!(find(raw, b"\"orderDatetime\": \"yesterday ").is_some());
    assert!(error.contains("orderDatetime"), "{error}");
    assert!(!page.more);
    assert_eq!(page.next, "2026-11-23T03:30:00Z");
}

#[tokio::test]
async fn a_cancellation_at_rakuten_shows_on_the_next_read() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    let yamada = |page: &FeedPage| {
        readable(page)
            .into_iter()
            .find(|(o, _)| o.order_ref.order_id.as_str() == YAMADA)
            .map(|(o, raw)| (o.status, raw.to_vec()))
            .unwrap()
    };
    assert_eq!(yamada(&first).0, OrderStatus::Open);

    // Cancelled at Rakuten; 40 minutes later the next read sees it, though it was placed before the
    // position: the last 48 hours are read again.
    fake.cancel_yamada();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    let (status, raw) = yamada(&second);
    assert_eq!(status, OrderStatus::Cancelled);
    assert!(find(GET_ORDER_CANCELLED, &raw).is_some());
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).unwrap(),
        sample_order(GET_ORDER_CANCELLED, YAMADA)
    );
    assert_eq!(numbers(&second), [YAMADA, SATO]);
    assert_eq!(second.next, "2026-11-23T04:10:00Z");
    assert_eq!(second.requests, 2);
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_timeout() {
    let fake = FakeRms::start().await;
    let feed = with_options(&fake, |o| {
        o.timeouts = Timeouts {
            connect: Duration::from_millis(500),
            total: Duration::from_millis(300),
        }
    });

    fake.answer_once(Endpoint::SearchOrder, Answer::Hang);
    let started = Instant::now();
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.contains("no answer within")),
        "{error:?}"
    );
    assert!(error.is_transient());

    // getOrder hanging after a good search: the same.
    fake.answer_once(Endpoint::GetOrder, Answer::Hang);
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");

    // The expiry API's URL carries the licenseKey: the error does not.
    fake.answer_once(Endpoint::LicenseExpiry, Answer::Hang);
    let error = feed
        .license_expiry(Timestamp::from_second(1_795_000_000).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");
    let printed = format!("{error} {error:?}");
    assert!(
        !printed.contains("fake") && !printed.contains("licenseKey="),
        "{printed}"
    );
}

#[tokio::test]
async fn no_server_at_all_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let fake = FakeRms::start().await;
    let mut options = fake.options();
    options.base_url = url;
    let feed = fake.feed_with(FakeRms::credentials(), options);

    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.contains("could not connect")),
        "{error:?}"
    );
}

#[tokio::test]
async fn rms_refusals_and_outages_map_to_feed_errors() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();

    fake.answer_once(Endpoint::SearchOrder, Answer::status(503, b"<html>maintenance</html>"));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Unavailable(m) if m.contains("503")),
        "{error:?}"
    );

    fake.answer_once(Endpoint::SearchOrder, Answer::status(400, SEARCH_ORDER_INVALID));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(
        matches!(&error, FeedError::Refused(m) if m.contains("ORDER_EXT_API_SEARCH_ORDER_ERROR_009")),
        "{error:?}"
    );
    assert!(!error.is_transient());

    // A 200 that is no JSON (a maintenance page behind a proxy) is an outage, not an order.
    fake.answer_once(Endpoint::GetOrder, Answer::status(200, b"<html>maintenance</html>"));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");

    // A stored position this feed never wrote needs a person.
    let error = feed.changed_since(Some("page-7"), at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Refused(_)), "{error:?}");
}

#[tokio::test]
async fn the_license_expiry_is_read_from_rms() {
    let fake = FakeRms::start().await;
    let expiry = fake
        .feed()
        .license_expiry(Timestamp::from_second(1_795_000_000).unwrap())
        .await
        .unwrap();
    // 2026-11-28T23:59:59 without an offset: JST.
    assert_eq!(expiry, at("2026-11-28T14:59:59Z"));
    assert_eq!(fake.requests(Endpoint::LicenseExpiry), 1);
}

#[tokio::test]
async fn the_feed_asks_when_the_license_expires_once_a_day() {
    let fake = FakeRms::start().await;
    fake.license_expires("2026-12-03T23:59:59");
    let feed = fake.feed();
    let now = at("2026-11-23T03:00:00Z");
    let first = feed.credentials_expiry(now).await.unwrap().expect("asked");
    assert_eq!(first.expires_at, at("2026-12-03T14:59:59Z"));
    assert_eq!(first.requests, 1);
    // Asked again within the day: not asked of RMS.
    let later = now + SignedDuration::from_hours(23);
    assert_eq!(feed.credentials_expiry(later).await.unwrap(), None);
    assert_eq!(fake.requests(Endpoint::LicenseExpiry), 1);
    let next_day = now + SignedDuration::from_hours(24);
    assert!(feed.credentials_expiry(next_day).await.unwrap().is_some());
    assert_eq!(fake.requests(Endpoint::LicenseExpiry), 2);
}
