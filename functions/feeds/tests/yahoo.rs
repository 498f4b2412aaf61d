//! The Yahoo! feed against the fake store API and token endpoint of `support`, over real HTTP on a loopback
//! port.

use mallguard_feeds::fake_yahoo as support;

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::feed::{FeedError, FeedOrder, FeedPage, OrderFeed};
use mallguard_domain::ids::Mall;
use mallguard_domain::order::{Order, OrderStatus};
use mallguard_feeds::yahoo::{YahooCredentials, YahooFeed, YahooOptions};
use mallguard_malls::yahoo;
use secrecy::ExposeSecret as _;
use support::{Answer, CLIENT_SECRET, Endpoint, FIRST, FakeYahoo, ListSeen, ORDER_INFO, REFRESH_TOKEN, SECOND, SELLER};

/// 2026-11-23 16:00 JST: after both orders of `orderList.xml` (12:30 and 15:08:31 JST).
const NOW: &str = "2026-11-23T07:00:00Z";
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

fn ids(page: &FeedPage) -> Vec<&str> {
    readable(page)
        .into_iter()
        .map(|(order, _)| order.order_ref.order_id.as_str())
        .collect()
}

fn with_options(fake: &FakeYahoo, change: impl FnOnce(&mut YahooOptions)) -> YahooFeed {
    let mut options = fake.options();
    change(&mut options);
    fake.feed_with(FakeYahoo::credentials(), options)
}

/// Nothing secret in an error's text.
fn assert_no_secret(error: &FeedError) {
    let text = format!("{error} {error:?}");
    for secret in [REFRESH_TOKEN, CLIENT_SECRET, "fake-access-"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn a_first_read_returns_both_sample_orders_with_their_exact_bytes() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    assert_eq!(feed.mall(), Mall::Yahoo);
    assert_eq!(feed.shop().as_str(), SELLER);

    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();

    assert_eq!(ids(&page), [FIRST, SECOND]);
    assert_eq!(page.orders.len(), 2);
    let (first, raw) = readable(&page)[0];
    // The very bytes Yahoo sent for that order: one orderInfo answer per order.
    assert_eq!(raw, ORDER_INFO);
    assert_eq!(first, &yahoo::parse_order(raw, feed.shop()).unwrap().0);
    assert_eq!(first.order_ref.mall, Mall::Yahoo);
    assert_eq!(first.order_ref.shop.as_str(), SELLER);
    assert_eq!(first.status, OrderStatus::Open);
    assert_eq!(first.placed_at, at("2026-11-23T03:30:00Z"));
    // Read up to now: the next read starts there, less the overlap.
    assert_eq!(page.next, "2026-11-23T07:00:00Z");
    assert!(!page.more);
    // One search over the look-back and the 48-hour re-read (the older start), JST as Yahoo wants it.
    assert_eq!(
        fake.lists(),
        [ListSeen {
            from: "20261121160000".into(),
            to: "20261123160000".into(),
            start: 1,
            result: 100,
        }]
    );
    assert_eq!(fake.infos(), [FIRST, SECOND]);
    assert_eq!(page.requests, 4);
    assert_eq!(fake.requests(Endpoint::Token), 1);
    assert_eq!(fake.requests(Endpoint::OrderList), 1);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 2);
}

#[tokio::test]
async fn a_read_with_nothing_new_costs_one_token_refresh_at_most_and_one_order_list() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    feed.changed_since(None, at(NOW), DAY).await.unwrap();

    // Five minutes on: both orders are listed again (the re-read), unchanged, and not fetched again; the
    // access token is still good.
    let later = at(NOW) + SignedDuration::from_mins(5);
    let page = feed.changed_since(Some(NOW), later, DAY).await.unwrap();
    assert!(page.orders.is_empty());
    assert_eq!(page.requests, 1);
    assert_eq!(page.next, later.to_string());
    assert_eq!(fake.requests(Endpoint::Token), 1);
    assert_eq!(fake.requests(Endpoint::OrderList), 2);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 2);

    // A new feed (a new process) refreshes its token once.
    let page = fake.feed().changed_since(Some(NOW), later, DAY).await.unwrap();
    assert!(page.orders.is_empty());
    assert_eq!(page.requests, 2);
    assert_eq!(fake.requests(Endpoint::Token), 2);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 2);
}

#[tokio::test]
async fn a_re_read_order_is_fetched_again_only_when_it_changed() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    // 13:10 JST, position 12:45 JST: the new orders start at 12:35, after the 12:30 order.
    let now = at("2026-11-23T04:10:00Z");
    let position = "2026-11-23T03:45:00Z";
    let page = feed.changed_since(Some(position), now, DAY).await.unwrap();
    assert!(page.orders.is_empty(), "unchanged since 12:31:07");
    assert!(fake.infos().is_empty());

    // The store cancels it at 13:02:45: its LastUpdateTime moves, and the read fetches it.
    fake.cancel_first();
    let page = feed.changed_since(Some(position), now, DAY).await.unwrap();
    assert_eq!(ids(&page), [FIRST]);
    assert_eq!(readable(&page)[0].0.status, OrderStatus::Cancelled);
    assert_eq!(fake.infos(), [FIRST]);
}

#[tokio::test]
async fn pages_are_followed_and_each_order_costs_one_order_info() {
    let fake = FakeYahoo::start().await;
    let feed = with_options(&fake, |o| o.page_size = 1);
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(ids(&page), [FIRST, SECOND]);
    let starts: Vec<(u32, u32)> = fake.lists().iter().map(|l| (l.start, l.result)).collect();
    assert_eq!(starts, [(1, 1), (2, 1)]);
    assert_eq!(fake.infos(), [FIRST, SECOND]);
    // A token, two pages, two orders.
    assert_eq!(page.requests, 5);
    assert!(!page.more);

    // One page per read: the read says more, and goes on from the newest order listed.
    let fake = FakeYahoo::start().await;
    let feed = with_options(&fake, |o| {
        o.page_size = 1;
        o.max_list_pages = 1;
    });
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(ids(&page), [FIRST]);
    assert!(page.more);
    // Read up to the newest order listed, which the position remembers as fetched: the overlap lists it
    // again, and the next read does not fetch it again.
    let next: serde_json::Value = serde_json::from_str(&page.next).unwrap();
    assert_eq!(next["at"], "2026-11-23T03:30:00Z");
    assert_eq!(next["fetched"][0]["id"], FIRST);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 1);
    // (With pages of one order, a read must list two pages to get past the one it remembers.)
    let feed = with_options(&fake, |o| {
        o.page_size = 1;
        o.max_list_pages = 2;
    });
    let page = feed.changed_since(Some(&page.next), at(NOW), DAY).await.unwrap();
    assert_eq!(ids(&page), [SECOND]);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 2, "FIRST not fetched again");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_read_succeeds() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(fake.requests(Endpoint::Token), 1);

    fake.expire_access_tokens();
    let later = at(NOW) + SignedDuration::from_mins(5);
    let page = feed.changed_since(Some(NOW), later, DAY).await.unwrap();
    assert!(page.orders.is_empty());
    // orderList refused, the token refreshed, orderList again.
    assert_eq!(page.requests, 3);
    assert_eq!(fake.requests(Endpoint::Token), 2);
    assert_eq!(fake.requests(Endpoint::OrderList), 3);
}

#[tokio::test]
async fn a_token_refused_after_its_refresh_is_unauthorized() {
    let fake = FakeYahoo::start().await;
    fake.answer_once(Endpoint::OrderList, Answer::token_expired());
    fake.answer_once(Endpoint::OrderList, Answer::token_expired());
    let error = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Unauthorized(_)), "{error:?}");
    assert_no_secret(&error);
    assert_eq!(fake.requests(Endpoint::Token), 2);
    assert_eq!(fake.requests(Endpoint::OrderList), 2);
    assert_eq!(fake.requests(Endpoint::OrderInfo), 0);
}

#[tokio::test]
async fn invalid_grant_is_unauthorized_and_asks_for_a_person() {
    let fake = FakeYahoo::start().await;
    fake.revoke_refresh_token();
    let error = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap_err();
    let FeedError::Unauthorized(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("invalid_grant") && message.contains("authorise"),
        "{message}"
    );
    assert_no_secret(&error);
    assert_eq!(fake.requests(Endpoint::Token), 1);
    assert_eq!(fake.requests(Endpoint::OrderList), 0);

    // The same, scripted.
    let fake = FakeYahoo::start().await;
    fake.answer_once(Endpoint::Token, Answer::invalid_grant());
    let error = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Unauthorized(_)), "{error:?}");
}

#[tokio::test]
async fn an_expired_session_is_unauthorized_and_not_retried() {
    let fake = FakeYahoo::start().await;
    fake.answer_once(Endpoint::OrderList, Answer::session_expired());
    let error = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap_err();
    let FeedError::Unauthorized(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("px-04102") && message.contains("authorise"),
        "{message}"
    );
    assert_eq!(fake.requests(Endpoint::Token), 1);
    assert_eq!(fake.requests(Endpoint::OrderList), 1);
}

#[tokio::test]
async fn the_daily_cap_is_throttled_until_midnight_in_japan() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.answer_once(Endpoint::OrderList, Answer::quota());
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert_eq!(
        error,
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_hours(8))
        }
    );
    // Beside an order too: nothing of the read is returned, and the next read starts where it did.
    fake.answer_once(Endpoint::OrderInfo, Answer::quota());
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Throttled { .. }), "{error:?}");
}

#[tokio::test]
async fn the_end_of_the_stores_consent_is_told_once_a_day_four_weeks_after_it_was_given() {
    let fake = FakeYahoo::start().await;
    let authorized_at = at("2026-11-01T01:00:00Z");
    let feed = fake.feed_with(
        YahooCredentials {
            authorized_at: Some(authorized_at),
            ..FakeYahoo::credentials()
        },
        fake.options(),
    );
    let expiry = feed.credentials_expiry(at(NOW)).await.unwrap().expect("told");
    assert_eq!(expiry.expires_at, at("2026-11-29T01:00:00Z"));
    assert_eq!(expiry.requests, 0, "nothing asked of Yahoo");
    let later = at(NOW) + SignedDuration::from_hours(1);
    assert_eq!(feed.credentials_expiry(later).await.unwrap(), None, "once a day");
    let next_day = at(NOW) + DAY;
    assert!(feed.credentials_expiry(next_day).await.unwrap().is_some());
    assert_eq!(fake.requests(Endpoint::Token) + fake.requests(Endpoint::OrderList), 0);

    // Without the time of consent, nothing is told.
    assert_eq!(fake.feed().credentials_expiry(at(NOW)).await.unwrap(), None);
}

/// A read fetches at most `max_fetch` orders, oldest first, and the next goes on from the last one fetched:
/// a busy hour is read over several reads, every order once, none left behind.
#[tokio::test]
async fn a_read_fetches_at_most_its_cap_and_the_next_goes_on_from_the_last_one_fetched() {
    let fake = FakeYahoo::start().await;
    // Ten more orders, from 13:00 JST, one every twelve minutes (more than the overlap apart).
    let added = fake.add_orders(10, at("2026-11-23T04:00:00Z"), SignedDuration::from_mins(12));
    let feed = with_options(&fake, |o| o.max_fetch = Some(4));
    let mut position: Option<String> = None;
    let mut reads = 0;
    let mut seen: Vec<String> = vec![];
    let now = at("2026-11-23T07:00:00Z");
    loop {
        let before = fake.infos().len();
        let page = feed.changed_since(position.as_deref(), now, DAY).await.unwrap();
        reads += 1;
        assert!(fake.infos().len() - before <= 4, "at most the cap per read");
        seen.extend(ids(&page).into_iter().map(str::to_owned));
        position = Some(page.next.clone());
        if !page.more {
            break;
        }
        assert!(reads < 10, "the reads progress");
    }
    let mut expected: Vec<String> = [FIRST, SECOND].iter().map(|s| s.to_string()).chain(added).collect();
    expected.sort();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, expected, "every order read");
    assert_eq!(fake.infos().len(), 12, "each fetched once");
    assert_eq!(reads, 3);
    assert_eq!(position.as_deref(), Some(NOW), "read up to now in the end");
}

/// A burst of changes to orders read before (a day's shipments) is more than a read fetches: the position
/// never moves back, each read takes the next ones, and the new orders follow, each order fetched once.
#[tokio::test]
async fn a_burst_of_changes_to_old_orders_is_read_over_several_reads_without_moving_back() {
    let fake = FakeYahoo::start().await;
    // Ten orders from 09:00 JST, read before: the position is 14:00 JST.
    let old = fake.add_orders(10, at("2026-11-23T00:00:00Z"), SignedDuration::from_mins(12));
    let position = "2026-11-23T05:00:00Z";
    // The store ships all ten at 14:30 JST; SECOND (15:08:31) is new.
    for id in &old {
        fake.set_updated(id, at("2026-11-23T05:30:00Z"));
    }
    let feed = with_options(&fake, |o| o.max_fetch = Some(4));
    let mut next = position.to_owned();
    let mut reads = 0;
    loop {
        let page = feed.changed_since(Some(&next), at(NOW), DAY).await.unwrap();
        reads += 1;
        let at_of = |p: &str| -> Timestamp {
            if p.starts_with('{') {
                serde_json::from_str::<serde_json::Value>(p).unwrap()["at"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            } else {
                p.parse().unwrap()
            }
        };
        assert!(at_of(&page.next) >= at(position), "never moves back: {}", page.next);
        next = page.next.clone();
        if !page.more {
            break;
        }
        assert!(reads < 6, "the reads progress");
    }
    let mut fetched = fake.infos();
    assert_eq!(
        fetched.len(),
        11,
        "each changed order and the new one once: {fetched:?}"
    );
    fetched.sort();
    fetched.dedup();
    assert_eq!(fetched.len(), 11);
    assert!(fetched.contains(&SECOND.to_owned()));
    assert_eq!(reads, 3);
    assert_eq!(next, NOW);
}

#[tokio::test]
async fn a_429_is_throttled_for_as_long_as_it_says() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.answer_once(Endpoint::OrderList, Answer::too_many(120));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert_eq!(
        error,
        FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(120))
        }
    );
    // The next read lists and fetches as if nothing had happened.
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(ids(&page), [FIRST, SECOND]);
}

/// A busy store: more orders in the 48-hour re-read than one read lists. The one search, oldest first, would
/// list the same re-read orders on every read and never reach the new ones.
#[tokio::test]
async fn a_re_read_longer_than_a_read_does_not_keep_the_new_orders_out() {
    let fake = FakeYahoo::start().await;
    let feed = with_options(&fake, |o| {
        o.page_size = 1;
        o.max_list_pages = 1;
    });
    // The position at 14:00 JST: FIRST (12:30) was read before; SECOND (15:08:31) is new.
    let position = "2026-11-23T05:00:00Z";
    let page = feed.changed_since(Some(position), at(NOW), DAY).await.unwrap();

    assert_eq!(ids(&page), [SECOND]);
    // The combined search's one page (FIRST, unchanged: not fetched), then the new orders' own search.
    let froms: Vec<String> = fake.lists().into_iter().map(|l| l.from).collect();
    assert_eq!(froms, ["20261121160000", "20261123135000"]);
    assert_eq!(fake.infos(), [SECOND]);
    // The new orders' search was read to its end: the next read starts from now.
    assert!(!page.more);
    assert_eq!(page.next, NOW);
}

#[tokio::test]
async fn outages_and_refusals_are_told_apart() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    fake.answer_once(
        Endpoint::OrderInfo,
        Answer::status(503, b"<html>Service Unavailable</html>"),
    );
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Unavailable(_)), "{error:?}");

    fake.answer_once(
        Endpoint::OrderList,
        Answer::status(
            400,
            b"<?xml version=\"1.0\"?><Error><Message>Invalid Request.</Message><Code>od00002</Code></Error>",
        ),
    );
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(matches!(error, FeedError::Refused(_)), "{error:?}");

    // A maintenance page with a 200.
    fake.answer_once(Endpoint::OrderList, Answer::status(200, b"<html>maintenance</html>"));
    let error = feed.changed_since(None, at(NOW), DAY).await.unwrap_err();
    assert!(
        !matches!(error, FeedError::Unauthorized(_) | FeedError::Throttled { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_malformed_order_info_is_unreadable_beside_the_others() {
    let fake = FakeYahoo::start().await;
    fake.corrupt(SECOND);
    let page = fake.feed().changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(ids(&page), [FIRST]);
    assert_eq!(page.orders.len(), 2);
    let FeedOrder::Unreadable { raw, error } = &page.orders[1] else {
        panic!("{:?}", page.orders[1]);
    };
    let raw = std::str::from_utf8(raw).unwrap();
    assert!(raw.contains(SECOND) && raw.contains("yesterday"), "{raw}");
    assert!(error.contains("OrderTime"), "{error}");
    assert_eq!(page.next, "2026-11-23T07:00:00Z");
}

#[tokio::test]
async fn the_signature_is_sent_when_a_public_key_is_configured() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed_with(FakeYahoo::credentials_with_key(), fake.options());
    feed.changed_since(None, at(NOW), DAY).await.unwrap();
    // orderList and two orderInfo, each with a fresh signature the test private key decrypts.
    assert_eq!(fake.signatures(), (3, 0));

    // Without a key, Yahoo says unauthorized on every answer (the 12-hour session), and the read goes on.
    let fake = FakeYahoo::start().await;
    fake.feed().changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(fake.signatures(), (0, 3));
}

#[tokio::test]
async fn a_rotated_refresh_token_is_used_and_exposed() {
    let fake = FakeYahoo::start().await;
    let feed = fake.feed();
    assert!(feed.rotated_refresh_token().is_none());
    fake.rotate_refresh_token("rotated-refresh-token");
    feed.changed_since(None, at(NOW), DAY).await.unwrap();
    assert_eq!(
        feed.rotated_refresh_token()
            .map(|t| t.expose_secret().to_owned())
            .as_deref(),
        Some("rotated-refresh-token")
    );
    // The old one no longer works at the fake: the next refresh uses the new one.
    fake.expire_access_tokens();
    feed.changed_since(Some(NOW), at(NOW), DAY).await.unwrap();
    assert_eq!(fake.requests(Endpoint::Token), 2);
}

#[tokio::test]
async fn calls_are_spaced_by_the_minimum_spacing() {
    let fake = FakeYahoo::start().await;
    let spacing = Duration::from_millis(150);
    let feed = with_options(&fake, |o| o.min_spacing = spacing);
    let started = Instant::now();
    let page = feed.changed_since(None, at(NOW), DAY).await.unwrap();
    // A token, orderList and two orderInfo: three waits at least (a lower bound only).
    assert_eq!(page.requests, 4);
    assert!(started.elapsed() >= spacing * 3, "{:?}", started.elapsed());
}
