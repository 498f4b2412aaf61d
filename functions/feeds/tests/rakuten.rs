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

/// The `at` of a position the feed wrote (`{"at":…,"cancelled":[…],"shipped":[…]}`).
fn position_at(position: &str) -> Timestamp {
    let position: Value = serde_json::from_str(position).unwrap();
    at(position["at"].as_str().unwrap())
}

/// The numbers a position the feed wrote remembers under `key` (`cancelled` or `shipped`).
fn listed(position: &str, key: &str) -> Vec<String> {
    let position: Value = serde_json::from_str(position).unwrap();
    position[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {position}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

/// The cancelled numbers a position the feed wrote remembers.
fn remembered(position: &str) -> Vec<String> {
    listed(position, "cancelled")
}

/// The shipped numbers a position the feed wrote remembers.
fn shipped(position: &str) -> Vec<String> {
    listed(position, "shipped")
}

/// The status of `number` in `page`, if the page has it readable.
fn status_of(page: &FeedPage, number: &str) -> Option<OrderStatus> {
    readable(page)
        .into_iter()
        .find(|(o, _)| o.order_ref.order_id.as_str() == number)
        .map(|(o, _)| o.status)
}

/// Every `orderProgress`, as the new orders' search sends it.
const ALL_PROGRESS: [u64; 9] = [100, 200, 300, 400, 500, 600, 700, 800, 900];
/// 500 発送後, 600 支払手続き中, 700 支払手続き済 and 900 キャンセル確定, as the window's search sends them.
const SETTLED_PROGRESS: [u64; 4] = [500, 600, 700, 900];

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
    // Read up to now: the next read starts there, less the overlap. Nothing shipped or cancelled seen.
    assert_eq!(
        page.next,
        r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":[]}"#
    );
    assert!(!page.more);
    // The new orders of the look-back, of every progress; then the shipped and cancelled orders of the rest of
    // the 48-hour window, up to a second before the new orders. JST as RMS wants it.
    assert_eq!(
        fake.searches(),
        [
            SearchSeen {
                start: "2026-11-22T12:30:00+0900".into(),
                end: "2026-11-23T12:30:00+0900".into(),
                progress: ALL_PROGRESS.into(),
                page: 1,
                per_page: 1000,
            },
            SearchSeen {
                start: "2026-11-21T12:30:00+0900".into(),
                end: "2026-11-22T12:29:59+0900".into(),
                progress: SETTLED_PROGRESS.into(),
                page: 1,
                per_page: 1000,
            }
        ]
    );
    assert_eq!(fake.get_batches(), [vec![YAMADA.to_owned(), SATO.to_owned()]]);
    assert_eq!(page.requests, 3);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), 1);
}

#[tokio::test]
async fn a_read_with_nothing_in_the_window_costs_two_searches_and_no_get_order() {
    let fake = FakeRms::start().await;
    // Three days on: the sample orders lie outside the 48-hour window, and nothing new came. An old plain
    // instant position.
    let page = fake
        .feed()
        .changed_since(Some("2026-11-26T03:20:00Z"), at("2026-11-26T03:30:00.5Z"), DAY)
        .await
        .unwrap();

    assert!(page.orders.is_empty());
    assert_eq!(
        page.next,
        r#"{"at":"2026-11-26T03:30:00Z","cancelled":[],"shipped":[]}"#
    );
    assert!(!page.more);
    assert_eq!(page.requests, 2);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), 0);
    let searches = fake.searches();
    assert_eq!(
        (searches[0].start.as_str(), searches[0].end.as_str()),
        ("2026-11-26T12:10:00+0900", "2026-11-26T12:30:00+0900")
    );
    assert_eq!(
        (searches[1].start.as_str(), searches[1].end.as_str()),
        ("2026-11-24T12:30:00+0900", "2026-11-26T12:09:59+0900")
    );
}

/// 13:00 JST, forty minutes after the 佐藤 order: the next read's overlap holds neither sample order.
const LATER: &str = "2026-11-23T04:00:00Z";

#[tokio::test]
async fn an_idle_pass_makes_two_searches_and_no_get_order() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(numbers(&first), [YAMADA, SATO]);
    let (searches, gets) = (fake.requests(Endpoint::SearchOrder), fake.requests(Endpoint::GetOrder));
    assert_eq!((searches, gets), (2, 1));

    // Five minutes on, nothing new; both orders lie in the matching window, neither is shipped or cancelled.
    let idle = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:05:00Z"), DAY)
        .await
        .unwrap();
    assert!(idle.orders.is_empty(), "{:?}", idle.orders);
    assert!(!idle.more);
    assert_eq!(idle.requests, 2);
    assert_eq!(fake.requests(Endpoint::SearchOrder), searches + 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(
        idle.next,
        r#"{"at":"2026-11-23T04:05:00Z","cancelled":[],"shipped":[]}"#
    );
    // The new orders from the position less ten minutes, every progress; the shipped and cancelled orders
    // (500, 600, 700 and 900, in one search) of the 48 hours before them.
    assert_eq!(
        fake.searches()[2..],
        [
            SearchSeen {
                start: "2026-11-23T12:50:00+0900".into(),
                end: "2026-11-23T13:05:00+0900".into(),
                progress: ALL_PROGRESS.into(),
                page: 1,
                per_page: 1000,
            },
            SearchSeen {
                start: "2026-11-21T13:05:00+0900".into(),
                end: "2026-11-23T12:49:59+0900".into(),
                progress: SETTLED_PROGRESS.into(),
                page: 1,
                per_page: 1000,
            }
        ]
    );
}

#[tokio::test]
async fn a_cancellation_is_fetched_once_and_forgotten_when_it_leaves_the_window() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(status_of(&first, YAMADA), Some(OrderStatus::Open));

    // Cancelled at Rakuten; ten minutes later the next read fetches that order alone, though it was placed
    // before the position.
    fake.cancel_yamada();
    let gets = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [vec![YAMADA.to_owned()]]);
    assert_eq!(numbers(&second), [YAMADA]);
    let (order, raw) = readable(&second)[0];
    assert_eq!(order.status, OrderStatus::Cancelled);
    assert!(find(GET_ORDER_CANCELLED, raw).is_some());
    assert_eq!(
        serde_json::from_slice::<Value>(raw).unwrap(),
        sample_order(GET_ORDER_CANCELLED, YAMADA)
    );
    assert_eq!(second.requests, 3);
    assert_eq!(
        second.next,
        format!(r#"{{"at":"2026-11-23T04:10:00Z","cancelled":["{YAMADA}"],"shipped":[]}}"#)
    );

    // The read after that knows it: two searches, nothing fetched, and it still remembers it.
    let (searches, gets) = (fake.requests(Endpoint::SearchOrder), fake.requests(Endpoint::GetOrder));
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert!(third.orders.is_empty());
    assert_eq!(third.requests, 2);
    assert_eq!(fake.requests(Endpoint::SearchOrder), searches + 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(remembered(&third.next), [YAMADA]);

    // Two days on, the order has left the window: the window's search no longer lists it, and the
    // position forgets it.
    let gets = fake.requests(Endpoint::GetOrder);
    let fourth = feed
        .changed_since(Some(&third.next), at("2026-11-25T03:30:00Z"), DAY)
        .await
        .unwrap();
    assert!(fourth.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(
        fourth.next,
        r#"{"at":"2026-11-25T03:30:00Z","cancelled":[],"shipped":[]}"#
    );
}

#[tokio::test]
async fn a_cancellation_request_is_no_cancellation() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();

    // 800 キャンセル確定待ち: asked for, not done. The window's search does not list it.
    fake.set_progress(YAMADA, 800);
    let gets = fake.requests(Endpoint::GetOrder);
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert!(second.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);

    // 900 キャンセル確定: fetched, cancelled.
    fake.cancel(YAMADA);
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches().last().unwrap(), &[YAMADA.to_owned()]);
    assert_eq!(status_of(&third, YAMADA), Some(OrderStatus::Cancelled));
    assert_eq!(remembered(&third.next), [YAMADA]);
}

#[tokio::test]
async fn an_old_plain_instant_position_remembers_no_cancellation() {
    let fake = FakeRms::start().await;
    fake.cancel_yamada();
    let feed = fake.feed();
    // The format before the cancellations were remembered: the cancellation is fetched once more.
    let page = feed
        .changed_since(Some(LATER), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(numbers(&page), [YAMADA]);
    assert_eq!(status_of(&page, YAMADA), Some(OrderStatus::Cancelled));
    assert_eq!(position_at(&page.next), at("2026-11-23T04:10:00Z"));
    assert_eq!(remembered(&page.next), [YAMADA]);

    // A position that remembers it does not fetch it.
    let gets = fake.requests(Endpoint::GetOrder);
    let remembering = format!(r#"{{"at":"{LATER}","cancelled":["{YAMADA}"]}}"#);
    let page = feed
        .changed_since(Some(&remembering), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert!(page.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);

    // Garbage is refused before any request.
    let searches = fake.requests(Endpoint::SearchOrder);
    for garbage in [
        "yesterday",
        r#"{"at":"2026-11-23T04:00:00Z","cancelled":[1]}"#,
        r#"{"at":"2026-11-23T04:00:00Z","cancelled":[],"shipped":[1]}"#,
        r#"{"at":"2026-11-23T04:00:00Z","shipped":[]}"#,
        r#"{"cursor":1}"#,
    ] {
        let error = feed
            .changed_since(Some(garbage), at("2026-11-23T04:10:00Z"), DAY)
            .await
            .unwrap_err();
        assert!(matches!(error, FeedError::Refused(_)), "{garbage}: {error:?}");
    }
    assert_eq!(fake.requests(Endpoint::SearchOrder), searches);
}

#[tokio::test]
async fn a_new_order_read_cancelled_is_not_fetched_again_by_the_window_search() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // An order placed and cancelled before the first read: the new orders' search reads it cancelled.
    fake.cancel_yamada();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(status_of(&first, YAMADA), Some(OrderStatus::Cancelled));
    assert_eq!(remembered(&first.next), [YAMADA]);
    // It is now in the window search's range, and known.
    let gets = fake.requests(Endpoint::GetOrder);
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert!(second.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(remembered(&second.next), [YAMADA]);
}

#[tokio::test]
async fn an_order_get_order_does_not_find_yet_is_fetched_by_the_next_read() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // searchOrder lists the 佐藤 order, getOrder does not find it yet.
    fake.lag(SATO);
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(numbers(&first), [YAMADA]);
    // The next read starts at the order found before it (12:00 JST), less the overlap.
    assert_eq!(position_at(&first.next), at("2026-11-23T03:00:00Z"));
    assert!(!first.more);

    fake.catch_up();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(numbers(&second), [YAMADA, SATO]);
    assert_eq!(position_at(&second.next), at("2026-11-23T04:10:00Z"));

    // A cancellation getOrder does not find yet is not remembered: the next read fetches it.
    fake.cancel_yamada();
    fake.lag(YAMADA);
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:30:00Z"), DAY)
        .await
        .unwrap();
    assert!(third.orders.is_empty());
    assert_eq!(remembered(&third.next), Vec::<String>::new());
    fake.catch_up();
    let fourth = feed
        .changed_since(Some(&third.next), at("2026-11-23T04:40:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(numbers(&fourth), [YAMADA]);
    assert_eq!(status_of(&fourth, YAMADA), Some(OrderStatus::Cancelled));
    assert_eq!(remembered(&fourth.next), [YAMADA]);
}

#[tokio::test]
async fn the_remembered_numbers_are_bounded_together_and_the_oldest_fetched_again() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // 4,100 orders a second apart on 2026-12-01 from 09:00 JST, every other one shipped, the others cancelled.
    let added = fake.add_orders(4_100, at("2026-12-01T00:00:00Z"), SignedDuration::from_secs(1));
    for (i, number) in added.iter().enumerate() {
        if i % 2 == 0 {
            fake.set_progress(number, 500);
        } else {
            fake.cancel(number);
        }
    }
    let first = feed
        .changed_since(Some("2026-12-01T02:00:00Z"), at("2026-12-01T02:00:00Z"), DAY)
        .await
        .unwrap();
    // All fetched (41 getOrder; the window's search takes 5 pages), the newest 4,000 remembered, in both
    // lists together.
    assert_eq!(numbers(&first), added);
    assert_eq!(fake.requests(Endpoint::GetOrder), 41);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 1 + 5);
    assert_eq!(first.requests, 47);
    let newest = |parity: usize| -> Vec<String> {
        added
            .iter()
            .enumerate()
            .skip(100)
            .filter(|(i, _)| i % 2 == parity)
            .map(|(_, n)| n.clone())
            .collect()
    };
    assert_eq!(shipped(&first.next), newest(0));
    assert_eq!(remembered(&first.next), newest(1));
    assert_eq!(shipped(&first.next).len() + remembered(&first.next).len(), 4_000);
    // Far under DynamoDB's 400 KB item.
    assert!(first.next.len() < 128 * 1024, "{} bytes", first.next.len());

    // The next read fetches the 100 oldest again, and only those: never a change lost.
    let gets = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-12-01T02:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [added[..100].to_vec()]);
    assert_eq!(numbers(&second), added[..100]);
    assert_eq!(status_of(&second, &added[0]), Some(OrderStatus::Shipped));
    assert_eq!(status_of(&second, &added[1]), Some(OrderStatus::Cancelled));
    assert_eq!(shipped(&second.next), newest(0));
    assert_eq!(remembered(&second.next), newest(1));
}

/// A searchOrder answer listing `numbers` on one page, in RMS's shape.
fn search_answer(numbers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "orderNumberList": numbers,
        "MessageModelList": [{
            "messageType": "INFO",
            "messageCode": "ORDER_EXT_API_SEARCH_ORDER_INFO_101",
            "message": "注文検索に成功しました。",
        }],
        "PaginationResponseModel": {
            "totalRecordsAmount": numbers.len(),
            "totalPages": 1,
            "requestPage": 1,
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn an_order_that_ships_is_fetched_once_and_read_shipped() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(status_of(&first, SATO), Some(OrderStatus::Open));

    // 500 発送後 at Rakuten: the next read fetches that order alone, though it was placed before the
    // position, and reads it shipped.
    fake.set_progress(SATO, 500);
    let gets = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [vec![SATO.to_owned()]]);
    assert_eq!(numbers(&second), [SATO]);
    let (order, raw) = readable(&second)[0];
    assert_eq!(order.status, OrderStatus::Shipped);
    assert_eq!(rakuten::order_write_state(raw).unwrap().order_progress, 500);
    assert_eq!(second.requests, 3);
    assert_eq!(
        second.next,
        format!(r#"{{"at":"2026-11-23T04:10:00Z","cancelled":[],"shipped":["{SATO}"]}}"#)
    );
    assert_eq!(
        fake.searches().last().unwrap().progress,
        SETTLED_PROGRESS,
        "one search of the window"
    );

    // The reads after that fetch nothing, while its payment moves on too (600, 700: still listed, still
    // shipped).
    let mut position = second.next;
    for (progress, now) in [
        (500, "2026-11-23T04:20:00Z"),
        (600, "2026-11-23T04:30:00Z"),
        (700, "2026-11-23T04:40:00Z"),
    ] {
        fake.set_progress(SATO, progress);
        let (searches, gets) = (fake.requests(Endpoint::SearchOrder), fake.requests(Endpoint::GetOrder));
        let page = feed.changed_since(Some(&position), at(now), DAY).await.unwrap();
        assert!(page.orders.is_empty(), "{progress}: {:?}", page.orders);
        assert_eq!(page.requests, 2);
        assert_eq!(fake.requests(Endpoint::SearchOrder), searches + 2);
        assert_eq!(fake.requests(Endpoint::GetOrder), gets, "{progress}");
        assert_eq!(shipped(&page.next), [SATO]);
        position = page.next;
    }

    // Two days on, the order has left the window: forgotten, and not fetched.
    let gets = fake.requests(Endpoint::GetOrder);
    let gone = feed
        .changed_since(Some(&position), at("2026-11-25T03:30:00Z"), DAY)
        .await
        .unwrap();
    assert!(gone.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(
        gone.next,
        r#"{"at":"2026-11-25T03:30:00Z","cancelled":[],"shipped":[]}"#
    );
}

#[tokio::test]
async fn a_pass_costs_two_searches_and_a_get_order_per_100_orders_shipped_or_cancelled() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // 150 orders on 2026-12-01 from 09:00 JST, a minute apart, read by a first pass.
    let added = fake.add_orders(150, at("2026-12-01T00:00:00Z"), SignedDuration::from_mins(1));
    let first = feed.changed_since(None, at("2026-12-01T03:00:00Z"), DAY).await.unwrap();
    assert_eq!(numbers(&first), added);

    // 120 ship, 30 are cancelled: 2 searches and ⌈150 / 100⌉ = 2 getOrder.
    for (i, number) in added.iter().enumerate() {
        if i < 120 {
            fake.set_progress(number, 500);
        } else {
            fake.cancel(number);
        }
    }
    let (searches, gets) = (fake.requests(Endpoint::SearchOrder), fake.requests(Endpoint::GetOrder));
    let batches = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-12-01T03:30:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(second.requests, 4);
    assert_eq!(fake.requests(Endpoint::SearchOrder), searches + 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), gets + 2);
    let sizes: Vec<usize> = fake.get_batches()[batches..].iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 50]);
    assert_eq!(numbers(&second), added);
    for (i, number) in added.iter().enumerate() {
        let expected = if i < 120 {
            OrderStatus::Shipped
        } else {
            OrderStatus::Cancelled
        };
        assert_eq!(status_of(&second, number), Some(expected), "{number}");
    }
    assert_eq!(shipped(&second.next), added[..120]);
    assert_eq!(remembered(&second.next), added[120..]);

    // Then an idle pass: 2 searches, 0 getOrder.
    let gets = fake.requests(Endpoint::GetOrder);
    let third = feed
        .changed_since(Some(&second.next), at("2026-12-01T03:40:00Z"), DAY)
        .await
        .unwrap();
    assert!(third.orders.is_empty());
    assert_eq!(third.requests, 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(third.next, second.next.replace("03:30:00Z", "03:40:00Z"));
}

#[tokio::test]
async fn a_shipped_order_cancelled_later_is_not_read_again() {
    // The documented limit: the window's search lists a shipped and a cancelled order alike, and the
    // position remembers this one as shipped.
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    fake.set_progress(SATO, 500);
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(status_of(&second, SATO), Some(OrderStatus::Shipped));

    fake.cancel(SATO);
    let gets = fake.requests(Endpoint::GetOrder);
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert!(third.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(shipped(&third.next), [SATO]);
    assert_eq!(remembered(&third.next), Vec::<String>::new());
}

#[tokio::test]
async fn a_new_order_read_shipped_is_not_fetched_again_by_the_window_search() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // Shipped before the first read: the new orders' search reads it shipped.
    fake.set_progress(SATO, 500);
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(status_of(&first, SATO), Some(OrderStatus::Shipped));
    assert_eq!(shipped(&first.next), [SATO]);
    // It is now in the window search's range, and known.
    let gets = fake.requests(Endpoint::GetOrder);
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert!(second.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
    assert_eq!(shipped(&second.next), [SATO]);
}

#[tokio::test]
async fn an_order_read_neither_shipped_nor_cancelled_is_not_remembered() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();

    // The window's search lists the 佐藤 order (caught mid-change, say) while getOrder reads it at 300
    // 発送待ち: returned open, not remembered.
    fake.answer_once(Endpoint::SearchOrder, Answer::status(200, support::SEARCH_ORDER_EMPTY));
    fake.answer_once(Endpoint::SearchOrder, Answer::status(200, &search_answer(&[SATO])));
    let gets = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [vec![SATO.to_owned()]]);
    assert_eq!(status_of(&second, SATO), Some(OrderStatus::Open));
    assert_eq!(
        second.next,
        r#"{"at":"2026-11-23T04:10:00Z","cancelled":[],"shipped":[]}"#
    );

    // Once it has shipped, the window's search lists it, and it is fetched again and remembered.
    fake.set_progress(SATO, 500);
    let gets = fake.get_batches().len();
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [vec![SATO.to_owned()]]);
    assert_eq!(status_of(&third, SATO), Some(OrderStatus::Shipped));
    assert_eq!(shipped(&third.next), [SATO]);
}

#[tokio::test]
async fn a_new_order_read_at_800_is_not_remembered_so_its_cancellation_is_read() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // 800 キャンセル確定待ち when first read: open, and not remembered (it may still be withdrawn).
    fake.set_progress(YAMADA, 800);
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    assert_eq!(status_of(&first, YAMADA), Some(OrderStatus::Open));
    assert_eq!(
        first.next,
        r#"{"at":"2026-11-23T04:00:00Z","cancelled":[],"shipped":[]}"#
    );
    // 900: the window's search lists it, and it is fetched, cancelled.
    fake.cancel(YAMADA);
    let gets = fake.get_batches().len();
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches()[gets..], [vec![YAMADA.to_owned()]]);
    assert_eq!(status_of(&second, YAMADA), Some(OrderStatus::Cancelled));
    assert_eq!(remembered(&second.next), [YAMADA]);
}

#[tokio::test]
async fn a_position_of_cancellations_alone_is_read_and_the_shipped_orders_fetched_once() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    fake.cancel_yamada();
    fake.set_progress(SATO, 600);
    // The format before shipped orders were remembered: the cancellation it remembers is not fetched, the
    // shipped order is, once.
    let old = format!(r#"{{"at":"{LATER}","cancelled":["{YAMADA}"]}}"#);
    let page = feed
        .changed_since(Some(&old), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(fake.get_batches(), [vec![SATO.to_owned()]]);
    assert_eq!(status_of(&page, SATO), Some(OrderStatus::Shipped));
    assert_eq!(
        page.next,
        format!(r#"{{"at":"2026-11-23T04:10:00Z","cancelled":["{YAMADA}"],"shipped":["{SATO}"]}}"#)
    );
    let again = feed
        .changed_since(Some(&page.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert!(again.orders.is_empty());
    assert_eq!(fake.get_batches().len(), 1);
    assert_eq!(again.requests, 2);
}

#[tokio::test]
async fn an_unreadable_order_of_the_window_is_quarantined_once() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    let first = feed.changed_since(None, at(LATER), DAY).await.unwrap();
    let unreadable = |page: &FeedPage| {
        page.orders
            .iter()
            .filter(|o| matches!(o, FeedOrder::Unreadable { .. }))
            .count()
    };

    // Shipped, with an order time that cannot be read: unreadable, remembered by the progress its bytes
    // still give.
    fake.set_progress(SATO, 500);
    fake.corrupt(SATO);
    let second = feed
        .changed_since(Some(&first.next), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(unreadable(&second), 1);
    assert_eq!(shipped(&second.next), [SATO]);

    // Cancelled, with no progress to read at all: remembered (as shipped, which claims nothing final), so
    // it is quarantined once, not on every read.
    fake.cancel(YAMADA);
    fake.corrupt_progress(YAMADA);
    let third = feed
        .changed_since(Some(&second.next), at("2026-11-23T04:20:00Z"), DAY)
        .await
        .unwrap();
    assert_eq!(unreadable(&third), 1);
    assert_eq!(shipped(&third.next), [YAMADA, SATO]);
    let gets = fake.requests(Endpoint::GetOrder);
    let fourth = feed
        .changed_since(Some(&third.next), at("2026-11-23T04:30:00Z"), DAY)
        .await
        .unwrap();
    assert!(fourth.orders.is_empty());
    assert_eq!(fake.requests(Endpoint::GetOrder), gets);
}

#[tokio::test]
async fn a_failed_window_search_fails_the_read() {
    let fake = FakeRms::start().await;
    let feed = fake.feed();
    // The new orders' search goes through (nothing new), the window's search is throttled.
    fake.answer_once(Endpoint::SearchOrder, Answer::status(200, support::SEARCH_ORDER_EMPTY));
    fake.answer_once(Endpoint::SearchOrder, Answer::throttled(Some("3")));
    let error = feed
        .changed_since(Some(LATER), at("2026-11-23T04:10:00Z"), DAY)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(3))
        }
    );
    assert_eq!(fake.requests(Endpoint::SearchOrder), 2);
    assert_eq!(fake.requests(Endpoint::GetOrder), 0);
}

#[tokio::test]
async fn get_order_calls_grow_with_the_orders_read_100_at_a_time() {
    let fake = FakeRms::start().await;
    // 150 orders on 2026-12-01 from 09:00 JST, a minute apart; the samples are a week older.
    let added = fake.add_orders(150, at("2026-12-01T00:00:00Z"), SignedDuration::from_mins(1));
    let now = at("2026-12-01T03:00:00Z");

    let page = fake.feed().changed_since(None, now, DAY).await.unwrap();

    assert_eq!(numbers(&page), added);
    assert_eq!(page.requests, 4);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 2);
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
    let pages: Vec<(u64, usize)> = fake.searches().iter().map(|s| (s.page, s.progress.len())).collect();
    // Four pages of new orders, then one (empty) of the window's shipped and cancelled orders.
    assert_eq!(pages, [(1, 9), (2, 9), (3, 9), (4, 9), (1, 4)]);
    assert_eq!(page.requests, 7);
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
    assert_eq!(position_at(&page.next), first + spacing * 29);
    // Three pages of new orders, one getOrder; the look-back covers the window: no search of the window.
    assert_eq!(page.requests, 3 + 1);

    // The next reads go on from there until every order is read. While the new orders have more pages than
    // a read takes, the window's search waits: the read that reaches now makes it.
    let mut seen: Vec<String> = numbers(&page).iter().map(|n| n.to_string()).collect();
    let mut position = page.next;
    let mut reads = 1;
    loop {
        let before = fake.searches().len();
        let page = feed.changed_since(Some(&position), now, 3 * DAY).await.unwrap();
        reads += 1;
        let searches = fake.searches()[before..].to_vec();
        let new_from = rakuten::api_datetime(position_at(&position) - SignedDuration::from_mins(10));
        assert_eq!(
            searches[0].start, new_from,
            "the new orders from the position less the overlap"
        );
        assert_eq!(searches[0].page, 1);
        assert_eq!(searches[0].progress, ALL_PROGRESS);
        let settled: Vec<&SearchSeen> = searches.iter().filter(|s| s.progress == SETTLED_PROGRESS).collect();
        if page.more {
            assert!(settled.is_empty(), "read {reads}: {searches:?}");
        } else {
            assert_eq!(settled.len(), 1, "{searches:?}");
            assert_eq!(settled[0].start, "2026-11-29T21:00:00+0900");
            assert_eq!(searches.last().unwrap().progress, SETTLED_PROGRESS);
        }
        assert!(
            position_at(&page.next) > position_at(&position),
            "read {reads} did not move on"
        );
        seen.extend(numbers(&page).iter().map(|n| n.to_string()));
        position = page.next;
        if !page.more {
            break;
        }
        assert!(reads < 20, "no end to the reads");
    }
    assert_eq!(position, r#"{"at":"2026-12-01T12:00:00Z","cancelled":[],"shipped":[]}"#);
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

    // Once the throttling passes, the same read succeeds. (Searches: the throttled one; the two before the
    // throttled getOrder; the throttled one; the two of this read.)
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(numbers(&page), [YAMADA, SATO]);
    assert_eq!(fake.requests(Endpoint::SearchOrder), 6);
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
    assert_eq!(
        page.next,
        r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":[]}"#
    );
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
