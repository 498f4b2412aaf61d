//! The poll use case over the in-memory store, with scripted feeds: the cross-mall story, what a run with
//! nothing new costs, quarantine, overlapping runs, and what each feed error does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::feed::{FeedError, FeedOrder, FeedPage, OrderFeed};
use crate::ids::{Mall, ShopId};
use crate::notice::{Mail, NoticeKind};
use crate::order::{EmailAddress, Order, OrderLines, OrderStatus};
use crate::ports::roles::*;
use crate::ports::{Metric, Metrics};
use crate::testing::{
    ManualClock, MemoryStore, RecordingMailer, ScriptedFeed, ScriptedLookup, UnavailableStore, feed_order, feed_page,
    line, order, order_at, settings,
};

const RAKUTEN_SHOP: &str = "tanaka-rakuten";
const YAHOO_SHOP: &str = "tanaka-yahoo";

fn budget() -> PollBudget {
    PollBudget {
        max_pages: 10,
        first_look_back: SignedDuration::from_hours(24),
        until: None,
    }
}

#[derive(Default)]
struct CountingMetrics(Mutex<HashMap<&'static str, u64>>);

impl Metrics for CountingMetrics {
    fn record(&self, metric: Metric, count: u64) {
        *self.0.lock().unwrap().entry(metric.name()).or_default() += count;
    }
}

impl CountingMetrics {
    fn of(&self, metric: Metric) -> u64 {
        self.0.lock().unwrap().get(metric.name()).copied().unwrap_or(0)
    }
}

struct World {
    app: Mallguard,
    store: Arc<MemoryStore>,
    mailer: Arc<RecordingMailer>,
    clock: Arc<ManualClock>,
    metrics: Arc<CountingMetrics>,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let mailer = Arc::new(RecordingMailer::default());
    let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
    let metrics = Arc::new(CountingMetrics::default());
    let app = Mallguard::new(store.clone(), mailer.clone(), clock.clone(), settings()).with_metrics(metrics.clone());
    World {
        app,
        store,
        mailer,
        clock,
        metrics,
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

    async fn cursor(&self, mall: Mall, shop: &str) -> Option<crate::feed::PollCursor> {
        self.app.cursor(mall, &ShopId::parse(shop).unwrap()).await.unwrap()
    }
}

/// `order` as it would be on `mall` in `shop`.
fn on(mall: Mall, shop: &str, mut order: Order) -> Order {
    order.order_ref.mall = mall;
    order.order_ref.shop = ShopId::parse(shop).unwrap();
    order
}

/// 山田 太郎's Rakuten order of SKU-A, as Rakuten's API shows it: a masked email, 丁目 in the address.
fn rakuten_order() -> Order {
    let mut rakuten = on(Mall::Rakuten, RAKUTEN_SHOP, order("386193-20261123-0000012345"));
    rakuten.buyer.email = Some(EmailAddress::parse("a1b2c3@pc.fw.rakuten.ne.jp").unwrap());
    rakuten.ship_to.lines = vec!["千代田1丁目2番3号 メゾン千代田101".into()];
    rakuten
}

/// The same buyer's Yahoo! order of the same item, forty minutes later, typed another way.
fn yahoo_order() -> Order {
    let mut yahoo = on(
        Mall::Yahoo,
        YAHOO_SHOP,
        order_at("tanaka-yahoo-10000123", "2026-11-23T03:40:00Z"),
    );
    yahoo.buyer.phone = Some("＋８１ ９０－１２３４－５６７８".into());
    yahoo.ship_to.name = "山田　太郎".into();
    yahoo.ship_to.lines = vec!["千代田１－２－３　メゾン千代田１０１".into()];
    yahoo
}

/// An order of somebody else, of another item, on Rakuten.
fn strangers_order(id: &str, sku: &str) -> Order {
    let mut other = on(Mall::Rakuten, RAKUTEN_SHOP, order(id));
    other.buyer.name = format!("佐藤 花子 {id}");
    other.buyer.kana = None;
    other.buyer.email = Some(EmailAddress::parse(&format!("{id}@example.org")).unwrap());
    other.buyer.phone = None;
    other.ship_to.name = other.buyer.name.clone();
    other.ship_to.phone = None;
    other.ship_to.lines = vec![format!("丸の内{}-1-1", id.len())];
    other.lines = OrderLines::parse(vec![line(sku, 1)]).unwrap();
    other
}

#[tokio::test]
async fn the_same_buyer_polled_on_rakuten_then_on_yahoo_the_next_run_is_held_and_notified() {
    let w = world();
    let rakuten = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![feed_order(rakuten_order())],
        "2026-11-23T12:05:01+09:00",
        false,
    )));
    let report = w.app.poll(&rakuten, budget()).await.unwrap();
    assert_eq!(
        report,
        PollReport {
            pages: 1,
            requests: 1,
            orders: 1,
            accepted: 1,
            cursor_moved: true,
            ..PollReport::default()
        }
    );
    assert_eq!(
        rakuten.positions(),
        vec![None],
        "the first run starts from the look-back"
    );

    // The next run, forty minutes later, of the other mall.
    w.clock.advance(SignedDuration::from_mins(40));
    let yahoo = ScriptedFeed::new(Mall::Yahoo, YAHOO_SHOP).then(Ok(feed_page(
        vec![feed_order(yahoo_order())],
        "yahoo-page-token-2",
        false,
    )));
    let report = w.app.poll(&yahoo, budget()).await.unwrap();
    assert_eq!(
        (report.orders, report.held, report.cursor_moved),
        (1, 1, true),
        "{report:?}"
    );

    let hold = &w.store.holds(true).await.unwrap()[0];
    assert_eq!(hold.order, yahoo_order().order_ref);
    assert_eq!(hold.original, rakuten_order().order_ref);
    let notice = w.mails_of(NoticeKind::Notice);
    assert_eq!(notice.len(), 1, "the buyer is asked once");
    assert_eq!(notice[0].to.as_str(), "taro.yamada@example.com");
    assert_eq!(w.mails_of(NoticeKind::StaffNewHold).len(), 1);

    // Each mall and shop has its own cursor, where its last page ended; the staff tools read them.
    let cursor = w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap();
    assert_eq!(
        (cursor.position.as_str(), cursor.version),
        ("2026-11-23T12:05:01+09:00", 1)
    );
    assert_eq!(cursor.updated_at, "2026-11-23T03:05:01Z".parse::<Timestamp>().unwrap());
    let cursor = w.cursor(Mall::Yahoo, YAHOO_SHOP).await.unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), ("yahoo-page-token-2", 1));
    assert_eq!(w.cursor(Mall::Amazon, RAKUTEN_SHOP).await, None);
}

#[tokio::test]
async fn a_run_with_nothing_new_reads_the_feed_once_and_writes_only_the_cursor() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![feed_order(rakuten_order())],
        "p1",
        false,
    )));
    w.app.poll(&feed, budget()).await.unwrap();
    let (calls, commits) = (feed.calls(), w.store.commits().len());

    // The script is spent: the feed finds nothing changed since "p1".
    w.clock.advance(SignedDuration::from_mins(5));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(
        report,
        PollReport {
            pages: 1,
            requests: 1,
            cursor_moved: true,
            ..PollReport::default()
        }
    );
    assert_eq!(feed.calls() - calls, 1, "one read of the feed");
    assert_eq!(feed.positions().last(), Some(&Some("p1".to_owned())));
    let written = &w.store.commits()[commits..];
    assert_eq!(written.len(), 1, "one commit: {written:#?}");
    let only_cursor = WriteBatch {
        cursors: vec![],
        ..written[0].clone()
    };
    assert!(only_cursor.is_empty(), "only the cursor is written: {:#?}", written[0]);
    let (cursor, expect) = &written[0].cursors[0];
    assert_eq!(
        (cursor.position.as_str(), cursor.version, *expect),
        ("p1", 2, Expect::Version(1)),
        "the cursor stays, under the next version and the time of the run"
    );
    assert_eq!(cursor.updated_at, w.clock.now());
    assert!(w.mailer.mails().is_empty());
}

#[tokio::test]
async fn an_order_read_again_unchanged_is_a_redelivery_and_with_a_new_status_an_update() {
    let w = world();
    let mut cancelled = rakuten_order();
    cancelled.status = OrderStatus::Cancelled;
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP)
        .then(Ok(feed_page(vec![feed_order(rakuten_order())], "p1", false)))
        .then(Ok(feed_page(vec![feed_order(rakuten_order())], "p2", false)))
        .then(Ok(feed_page(vec![feed_order(cancelled)], "p3", false)));
    w.app.poll(&feed, budget()).await.unwrap();

    let commits = w.store.commits().len();
    let again = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((again.orders, again.redelivered), (1, 1), "{again:?}");
    let written = &w.store.commits()[commits..];
    assert_eq!(written.len(), 1, "an unchanged order writes nothing; the cursor moves");
    assert_eq!(written[0].cursors[0].0.position, "p2");

    let update = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((update.orders, update.updated), (1, 1), "{update:?}");
    let stored = w.store.order(&rakuten_order().order_ref).await.unwrap().unwrap();
    assert_eq!(stored.order.status, OrderStatus::Cancelled);
}

#[tokio::test]
async fn an_unreadable_order_is_quarantined_and_the_others_on_its_page_are_ingested() {
    let w = world();
    let first = strangers_order("r-1", "SKU-B");
    let second = strangers_order("r-22", "SKU-C");
    let unreadable = br#"{"orderNumber":"386193-20261123-0000099999","PackageModelList":"?"}"#.to_vec();
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![
            feed_order(first.clone()),
            FeedOrder::Unreadable {
                raw: unreadable.clone(),
                error: "PackageModelList: expected an array".into(),
            },
            feed_order(second.clone()),
        ],
        "p1",
        false,
    )));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(
        (report.orders, report.accepted, report.quarantined, report.cursor_moved),
        (2, 2, 1, true),
        "{report:?}"
    );
    for order in [&first, &second] {
        assert!(w.store.order(&order.order_ref).await.unwrap().is_some());
    }
    let kept = w.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].source, "rakuten", "the mall's name: its parser replays it");
    assert_eq!(kept[0].raw, unreadable);
    assert_eq!(kept[0].meta.get("shop").map(String::as_str), Some(RAKUTEN_SHOP));
    assert_eq!(kept[0].error, "PackageModelList: expected an array");
    assert_eq!(w.mails_of(NoticeKind::StaffQuarantine).len(), 1);
    assert_eq!(w.metrics.of(Metric::ParseFailure), 1);
    assert_eq!(w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap().position, "p1");
}

/// An order the store can never take would otherwise fail every run at the same page, and the cursor would
/// never pass it: the shop's later orders would never be read.
#[tokio::test]
async fn an_order_ingest_can_never_take_is_quarantined_and_the_cursor_moves_past_it() {
    let w = world();
    let poison = strangers_order("r-5", "SKU-B");
    let after = strangers_order("r-6", "SKU-C");
    w.store.refuse_writes_of("r-5");
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP)
        .then(Ok(feed_page(vec![feed_order(poison.clone())], "p1", true)))
        .then(Ok(feed_page(vec![feed_order(after.clone())], "p2", false)));
    let report = w.app.poll(&feed, budget()).await.unwrap();

    assert_eq!(
        (report.orders, report.accepted, report.quarantined, report.pages),
        (1, 1, 1, 2),
        "{report:?}"
    );
    assert_eq!(w.store.order(&poison.order_ref).await.unwrap(), None);
    assert!(w.store.order(&after.order_ref).await.unwrap().is_some());
    let kept = w.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].source, "rakuten");
    assert!(kept[0].error.starts_with("ingest failed:"), "{}", kept[0].error);
    assert!(kept[0].error.contains("size limit"), "{}", kept[0].error);
    assert_eq!(kept[0].meta.get("shop").map(String::as_str), Some(RAKUTEN_SHOP));
    assert_eq!(w.mails_of(NoticeKind::StaffQuarantine).len(), 1);
    assert_eq!(w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap().position, "p2");
}

/// A shop whose orders go unread for over an hour is counted at each run that leaves it so, whatever the
/// reason, so an alarm reaches a person; reading it again ends that.
#[tokio::test]
async fn a_shop_unread_for_over_an_hour_is_counted_stale_at_each_run_until_it_is_read() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Yahoo, YAHOO_SHOP).then(Ok(feed_page(vec![], "p1", false)));
    for _ in 0..14 {
        feed.push(Err(FeedError::Unavailable("<html>maintenance</html>".into())));
    }
    feed.push(Ok(feed_page(vec![], "p2", false)));
    w.app.poll(&feed, budget()).await.unwrap();
    // Twelve runs five minutes apart fail: the first hour is not stale yet.
    for _ in 0..12 {
        w.clock.advance(SignedDuration::from_mins(5));
        w.app.poll(&feed, budget()).await.unwrap();
    }
    assert_eq!(w.metrics.of(Metric::FeedStale), 0);
    assert_eq!(w.metrics.of(Metric::FeedRetry), 12);
    for _ in 0..2 {
        w.clock.advance(SignedDuration::from_mins(5));
        w.app.poll(&feed, budget()).await.unwrap();
    }
    assert_eq!(w.metrics.of(Metric::FeedStale), 2, "each run past the hour");
    w.clock.advance(SignedDuration::from_mins(5));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert!(report.cursor_moved);
    assert_eq!(w.metrics.of(Metric::FeedStale), 2, "read again: no longer stale");
}

#[tokio::test]
async fn a_run_that_fails_is_counted_as_a_retry_when_it_will_pass() {
    let w = world();
    let app = Mallguard::new(
        Arc::new(UnavailableStore),
        w.mailer.clone(),
        w.clock.clone(),
        settings(),
    )
    .with_metrics(w.metrics.clone());
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP);
    app.poll(&feed, budget()).await.unwrap_err();
    assert_eq!(w.metrics.of(Metric::FeedRetry), 1);
    assert_eq!(w.metrics.of(Metric::FeedFailure), 0);
}

#[tokio::test]
async fn an_order_a_feed_files_under_another_shop_is_quarantined_not_ingested() {
    let w = world();
    let elsewhere = on(Mall::Rakuten, "somebody-else", strangers_order("r-3", "SKU-B"));
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![feed_order(elsewhere.clone())],
        "p1",
        false,
    )));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((report.orders, report.quarantined), (0, 1), "{report:?}");
    assert_eq!(w.store.order(&elsewhere.order_ref).await.unwrap(), None);
    let kept = w.store.quarantined().await.unwrap();
    assert!(kept[0].error.contains("somebody-else"), "{}", kept[0].error);
}

#[tokio::test]
async fn a_run_reads_at_most_its_page_budget_and_the_next_run_goes_on_from_there() {
    let w = world();
    let page = |n: usize, more: bool| Ok(feed_page(vec![], &format!("p{n}"), more));
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP)
        .then(page(1, true))
        .then(page(2, true))
        .then(page(3, false));
    let two = PollBudget {
        max_pages: 2,
        ..budget()
    };
    let report = w.app.poll(&feed, two).await.unwrap();
    assert_eq!((report.pages, feed.calls()), (2, 2));
    assert_eq!(
        w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap().version,
        2,
        "moved after each page"
    );
    let report = w.app.poll(&feed, two).await.unwrap();
    assert_eq!(report.pages, 1, "the last page says there is no more");
    assert_eq!(
        feed.positions(),
        vec![None, Some("p1".to_owned()), Some("p2".to_owned())]
    );
    assert_eq!(w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap().position, "p3");
}

/// A feed whose first read waits until another run's first read has started too: two runs that both
/// read the cursor before either moves it.
struct Overlapping {
    feed: ScriptedFeed,
    gate: Arc<tokio::sync::Barrier>,
    first: AtomicBool,
}

#[async_trait::async_trait]
impl OrderFeed for Overlapping {
    fn mall(&self) -> Mall {
        self.feed.mall()
    }

    fn shop(&self) -> &ShopId {
        self.feed.shop()
    }

    async fn changed_since(
        &self,
        position: Option<&str>,
        now: Timestamp,
        first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError> {
        if self.first.swap(false, Ordering::SeqCst) {
            self.gate.wait().await;
        }
        self.feed.changed_since(position, now, first_look_back).await
    }
}

#[tokio::test]
async fn of_two_overlapping_runs_only_one_moves_the_cursor_and_the_other_stops() {
    let w = world();
    let gate = Arc::new(tokio::sync::Barrier::new(2));
    // Two instances of the poller, reading the same pages of the same shop.
    let run = || Overlapping {
        feed: ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP)
            .then(Ok(feed_page(vec![feed_order(rakuten_order())], "p1", true)))
            .then(Ok(feed_page(vec![], "p2", false))),
        gate: gate.clone(),
        first: AtomicBool::new(true),
    };
    let (a, b) = (run(), run());
    let (ra, rb) = tokio::join!(w.app.poll(&a, budget()), w.app.poll(&b, budget()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let (winner, loser, winner_feed, loser_feed) = if ra.cursor_moved {
        (ra, rb, &a, &b)
    } else {
        (rb, ra, &b, &a)
    };
    assert!(winner.cursor_moved && !loser.cursor_moved, "{winner:?} {loser:?}");
    assert_eq!(loser.failure, None, "losing the race is no failure");
    assert_eq!(loser.pages, 1, "the loser stops at its first page: {loser:?}");
    assert_eq!(loser_feed.feed.calls(), 1);
    assert_eq!(winner.pages, 2, "the winner goes on: {winner:?}");
    assert_eq!(winner_feed.feed.calls(), 2);
    // Both ingested the one order: it is recorded once, never held against itself.
    assert_eq!(winner.accepted + loser.accepted, 1, "{winner:?} {loser:?}");
    assert_eq!(winner.redelivered + loser.redelivered, 1, "{winner:?} {loser:?}");
    assert!(w.store.holds(false).await.unwrap().is_empty());
    let cursor = w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), ("p2", 2));
}

#[tokio::test]
async fn a_throttled_feed_ends_the_run_and_the_cursor_stays_after_the_last_page_recorded() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP)
        .then(Ok(feed_page(
            vec![feed_order(strangers_order("r-1", "SKU-B"))],
            "p1",
            true,
        )))
        .then(Err(FeedError::Throttled {
            retry_after: Some(SignedDuration::from_secs(30)),
        }))
        .then(Err(FeedError::Unavailable("503 Service Unavailable".into())))
        .then(Ok(feed_page(
            vec![feed_order(strangers_order("r-22", "SKU-C"))],
            "p2",
            false,
        )));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((report.pages, report.accepted, report.cursor_moved), (1, 1, true));
    assert!(
        report.failure.as_deref().is_some_and(|f| f.contains("throttled")),
        "{report:?}"
    );
    let cursor = w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap();
    assert_eq!((cursor.position.as_str(), cursor.version), ("p1", 1));

    // The mall asked for 30 seconds: a run before then reads nothing from it.
    let calls = feed.calls();
    let report = w.app.poll(&feed, budget()).await.unwrap();
    let until = w.clock.now() + SignedDuration::from_secs(30);
    assert_eq!(report.waiting_until, Some(until), "{report:?}");
    assert_eq!((report.pages, report.failure.as_deref()), (0, None));
    assert_eq!(feed.calls(), calls, "the mall was not called");

    w.clock.advance(SignedDuration::from_secs(31));
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((report.pages, report.cursor_moved), (0, false), "{report:?}");
    assert_eq!(w.metrics.of(Metric::FeedStale), 0, "read a minute ago");
    assert!(report.failure.is_some());
    assert_eq!(w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap(), cursor, "unmoved");

    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!((report.accepted, report.failure), (1, None));
    assert_eq!(
        feed.positions(),
        vec![None, Some("p1".into()), Some("p1".into()), Some("p1".into())],
        "every run after the failures starts where the last recorded page ended"
    );
    assert!(w.mailer.mails().is_empty(), "a passing failure alerts nobody");
    assert_eq!(w.metrics.of(Metric::FeedFailure), 0);
}

#[tokio::test]
async fn expired_credentials_alert_the_staff_once_a_day_however_many_runs_fail() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(vec![], "p1", false)));
    w.app.poll(&feed, budget()).await.unwrap();
    let unauthorized = || Err(FeedError::Unauthorized("ES04-01: licenseKey expired".into()));
    for _ in 0..5 {
        feed.push(unauthorized());
    }

    // Three runs fail in one day (JST): one alert.
    for _ in 0..3 {
        w.clock.advance(SignedDuration::from_mins(5));
        let report = w.app.poll(&feed, budget()).await.unwrap();
        assert_eq!(report.pages, 0);
        assert!(
            report
                .failure
                .as_deref()
                .is_some_and(|f| f.contains("licenseKey expired")),
            "{report:?}"
        );
    }
    let alerts = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(alerts.len(), 1, "one alert for the day");
    assert_eq!(alerts[0].to.as_str(), "staff@tanaka-shop.example");
    for needle in [
        "楽天市場",
        RAKUTEN_SHOP,
        "licenseKey",
        "90日",
        "ES04-01",
        "シークレット",
    ] {
        assert!(
            alerts[0].text.contains(needle) || alerts[0].subject.contains(needle),
            "{needle} missing from:\n{}\n{}",
            alerts[0].subject,
            alerts[0].text
        );
    }
    assert_eq!(w.metrics.of(Metric::FeedFailure), 3, "every failed run is counted");
    assert_eq!(
        w.cursor(Mall::Rakuten, RAKUTEN_SHOP).await.unwrap().version,
        1,
        "failed runs leave the cursor"
    );

    // 23:59 JST is still the same day; midnight JST is the next.
    w.clock.set("2026-11-23T14:59:59Z".parse().unwrap());
    w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(w.mails_of(NoticeKind::StaffFeedFailure).len(), 1);
    w.clock.set("2026-11-23T15:00:00Z".parse().unwrap());
    w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(
        w.mails_of(NoticeKind::StaffFeedFailure).len(),
        2,
        "a new day, a new alert"
    );

    // Another reason the same day is an alert of its own.
    feed.push(Err(FeedError::Refused("400 Bad Request: dateType".into())));
    w.app.poll(&feed, budget()).await.unwrap();
    let alerts = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(alerts.len(), 3);
    assert!(alerts[2].text.contains("400 Bad Request"), "{}", alerts[2].text);
    assert!(!alerts[2].text.contains("licenseKey"), "{}", alerts[2].text);
}

#[tokio::test]
async fn a_store_that_is_down_is_an_error_not_a_report() {
    let app = Mallguard::new(
        Arc::new(UnavailableStore),
        Arc::new(RecordingMailer::default()),
        Arc::new(ManualClock::at("2026-11-23T03:05:01Z")),
        settings(),
    );
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP);
    let err = app.poll(&feed, budget()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(feed.calls(), 0, "nothing is read before the cursor");
}

// ---------------------------------------------------------------------------------------------------------
// Notifications that name an order (Amazon's ORDER_CHANGE), read through an OrderLookup
// ---------------------------------------------------------------------------------------------------------

const AMAZON_SELLER: &str = "A1EXAMPLESELLER";
const AMAZON_ORDER: &str = "250-1234567-7654321";

/// The same buyer's Amazon order of the same item: Amazon's relay address, the phone on the address only.
fn amazon_order() -> Order {
    let mut amazon = on(
        Mall::Amazon,
        AMAZON_SELLER,
        order_at(AMAZON_ORDER, "2026-11-23T03:20:00Z"),
    );
    amazon.buyer.email = Some(EmailAddress::parse("abcd1234efgh@marketplace.amazon.co.jp").unwrap());
    amazon.buyer.phone = None;
    amazon.ship_to.lines = vec!["千代田1-2-3".into(), "メゾン千代田101".into()];
    amazon
}

fn amazon_notification(id: &str) -> OrderNotification {
    OrderNotification {
        mall: Mall::Amazon,
        shop: ShopId::parse(AMAZON_SELLER).unwrap(),
        order_id: crate::ids::OrderId::parse(AMAZON_ORDER).unwrap(),
        delivery: format!("amazon:{id}"),
        worth_reading: true,
    }
}

#[tokio::test]
async fn an_amazon_order_notified_after_the_same_buyers_rakuten_order_is_held_with_no_phone_contact() {
    let w = world();
    let rakuten = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![feed_order(rakuten_order())],
        "p1",
        false,
    )));
    w.app.poll(&rakuten, budget()).await.unwrap();
    w.clock.advance(SignedDuration::from_mins(20));

    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER).then(Ok(feed_order(amazon_order())));
    let (outcome, requests) = w
        .app
        .notified(&amazon_notification("n-1"), Some(&lookup))
        .await
        .unwrap();
    let NotificationOutcome::Ingested(IngestOutcome::Held { hold, notified: true }) = outcome else {
        panic!("held and notified: {outcome:?}")
    };
    assert_eq!(requests, 3);
    let hold = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(hold.order.mall, Mall::Amazon);
    assert_eq!(hold.original.mall, Mall::Rakuten);
    assert!(!hold.contact.phone_allowed, "never a phone task for an Amazon order");
    assert_eq!(w.mails_of(NoticeKind::Notice).len(), 1);
    assert!(w.mails_of(NoticeKind::StaffNewHold)[0].text.contains("電話連絡は禁止"));

    // The same notification delivered again (SQS delivers at least once): one read, nothing else.
    let calls = |s: &MemoryStore| s.calls.load(std::sync::atomic::Ordering::SeqCst);
    let (reads, commits) = (calls(&w.store), w.store.commits().len());
    let (again, requests) = w
        .app
        .notified(&amazon_notification("n-1"), Some(&lookup))
        .await
        .unwrap();
    assert_eq!((again, requests), (NotificationOutcome::AlreadyHandled, 0));
    assert_eq!(lookup.asked().len(), 1, "the order is not read again");
    assert_eq!(w.store.commits().len(), commits);
    assert_eq!(calls(&w.store) - reads, 1, "one call: the delivery record");
}

#[tokio::test]
async fn a_pending_amazon_order_is_not_read_and_nothing_is_written() {
    let w = world();
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER);
    let notification = OrderNotification {
        worth_reading: false,
        ..amazon_notification("n-pending")
    };
    let (outcome, _) = w.app.notified(&notification, Some(&lookup)).await.unwrap();
    assert_eq!(outcome, NotificationOutcome::NotRead);
    assert!(lookup.asked().is_empty());
    assert!(w.store.commits().is_empty());
}

#[tokio::test]
async fn expired_amazon_credentials_alert_the_staff_once_a_day_and_the_notification_comes_again() {
    let w = world();
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER)
        .then(Err(FeedError::Unauthorized("LWA answered invalid_grant".into())))
        .then(Err(FeedError::Unauthorized("LWA answered invalid_grant".into())))
        .then(Ok(feed_order(amazon_order())));
    for _ in 0..2 {
        let error = w
            .app
            .notified(&amazon_notification("n-2"), Some(&lookup))
            .await
            .unwrap_err();
        assert!(
            matches!(error, NotificationError::Feed(FeedError::Unauthorized(_))),
            "{error}"
        );
    }
    assert_eq!(w.metrics.of(Metric::FeedFailure), 2);
    let alerts = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(alerts.len(), 1, "one alert a day");
    assert!(alerts[0].text.contains(AMAZON_SELLER), "{}", alerts[0].text);
    // Once the credentials are renewed, the notification delivered again is handled: nothing was lost.
    let (outcome, _) = w
        .app
        .notified(&amazon_notification("n-2"), Some(&lookup))
        .await
        .unwrap();
    assert_eq!(outcome, NotificationOutcome::Ingested(IngestOutcome::Accepted));
}

#[tokio::test]
async fn a_throttled_read_is_counted_and_retried_without_alerting_anyone() {
    let w = world();
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER).then(Err(FeedError::Throttled { retry_after: None }));
    let error = w
        .app
        .notified(&amazon_notification("n-3"), Some(&lookup))
        .await
        .unwrap_err();
    assert!(matches!(error, NotificationError::Feed(FeedError::Throttled { .. })));
    assert_eq!(w.metrics.of(Metric::FeedRetry), 1);
    assert_eq!(w.metrics.of(Metric::FeedFailure), 0);
    assert!(w.mailer.mails().is_empty());
    assert!(
        w.store.commits().is_empty(),
        "nothing recorded: the notification comes again"
    );
}

#[tokio::test]
async fn a_seller_without_credentials_alerts_the_staff_and_the_notification_comes_again() {
    let w = world();
    let error = w.app.notified(&amazon_notification("n-4"), None).await.unwrap_err();
    assert!(error.to_string().contains(AMAZON_SELLER), "{error}");
    let alerts = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].text.contains(AMAZON_SELLER));

    // Strangers' sellers (any SP-API application can send to the queue) make no alert of their own that
    // day: each notification is still refused, counted, and goes back to the queue.
    for stranger in ["A2STRANGER", "A3STRANGER"] {
        let notification = OrderNotification {
            shop: ShopId::parse(stranger).unwrap(),
            ..amazon_notification(&format!("n-{stranger}"))
        };
        let error = w.app.notified(&notification, None).await.unwrap_err();
        assert!(error.to_string().contains(stranger), "{error}");
    }
    assert_eq!(w.mails_of(NoticeKind::StaffFeedFailure).len(), 1, "one alert a day");
    assert_eq!(w.metrics.of(Metric::FeedFailure), 3);
}

#[tokio::test]
async fn an_unreadable_amazon_order_is_quarantined_with_its_bytes() {
    let w = world();
    let raw = b"{\"payload\": {\"AmazonOrderId\": 12}}".to_vec();
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER).then(Ok(FeedOrder::Unreadable {
        raw: raw.clone(),
        error: "getOrder.payload.AmazonOrderId: not a string".into(),
    }));
    let (outcome, _) = w
        .app
        .notified(&amazon_notification("n-5"), Some(&lookup))
        .await
        .unwrap();
    let NotificationOutcome::Quarantined(id) = outcome else {
        panic!("{outcome:?}")
    };
    let kept = w.store.quarantined().await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].id.as_str(), kept[0].raw.as_slice()),
        (id.as_str(), raw.as_slice())
    );
    assert_eq!(kept[0].meta.get("delivery").map(String::as_str), Some("amazon:n-5"));
    assert_eq!(w.mails_of(NoticeKind::StaffQuarantine).len(), 1);

    // An order the lookup files under another seller is kept aside too, never filed there.
    let stray = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER).then(Ok(feed_order(on(
        Mall::Amazon,
        "ANOTHERSELLER",
        order_at(AMAZON_ORDER, "2026-11-23T03:20:00Z"),
    ))));
    let (outcome, _) = w.app.notified(&amazon_notification("n-6"), Some(&stray)).await.unwrap();
    assert!(matches!(outcome, NotificationOutcome::Quarantined(_)), "{outcome:?}");
    assert_eq!(w.store.quarantined().await.unwrap().len(), 2);
}

#[tokio::test]
async fn credentials_that_expire_within_two_weeks_warn_the_staff_once_a_day() {
    let w = world();
    // The clock stands at 2026-11-23 12:05 JST; the key expires ten days later.
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).expiring("2026-12-03T03:05:01Z");
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(report.credentials_expire, Some("2026-12-03T03:05:01Z".parse().unwrap()));
    assert_eq!(report.requests, 2, "the expiry asked, and one list call");
    let warnings = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].subject.contains("あと10日"), "{}", warnings[0].subject);
    assert!(warnings[0].text.contains("licenseKey"), "{}", warnings[0].text);
    assert!(warnings[0].text.contains("2026年12月3日"), "{}", warnings[0].text);

    // The next poll the same day warns no more; the next day it warns again.
    w.clock.advance(SignedDuration::from_mins(5));
    w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(w.mails_of(NoticeKind::StaffFeedFailure).len(), 1);
    w.clock.advance(SignedDuration::from_hours(24));
    w.app.poll(&feed, budget()).await.unwrap();
    let warnings = w.mails_of(NoticeKind::StaffFeedFailure);
    assert_eq!(warnings.len(), 2);
    assert!(warnings[1].subject.contains("あと8日"), "{}", warnings[1].subject);
}

#[tokio::test]
async fn credentials_that_expire_later_than_two_weeks_warn_nobody() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).expiring("2026-12-08T03:05:02Z");
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert!(report.credentials_expire.is_some());
    assert!(w.mailer.mails().is_empty());
}

#[tokio::test]
async fn a_run_out_of_time_starts_no_further_page_and_the_next_run_goes_on() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Yahoo, YAHOO_SHOP)
        .then(Ok(feed_page(vec![feed_order(yahoo_order())], "p1", true)))
        .then(Ok(feed_page(vec![], "p2", false)));
    let until = w.clock.now();
    let report = w
        .app
        .poll(
            &feed,
            PollBudget {
                until: Some(until),
                ..budget()
            },
        )
        .await
        .unwrap();
    assert_eq!((report.pages, report.orders), (1, 1), "the first page is always read");
    assert_eq!(w.cursor(Mall::Yahoo, YAHOO_SHOP).await.unwrap().position, "p1");
    let report = w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(report.pages, 1);
    assert_eq!(feed.positions(), [None, Some("p1".to_owned())]);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_written_back_once() {
    let keeper = Arc::new(crate::testing::MemoryKeeper::default());
    let w = world();
    let app = w.app.clone().with_credential_keeper(keeper.clone());
    let feed = ScriptedFeed::new(Mall::Yahoo, YAHOO_SHOP);
    app.poll(&feed, budget()).await.unwrap();
    assert_eq!(
        keeper.writes.load(Ordering::SeqCst),
        0,
        "nothing rotated, nothing written"
    );
    feed.rotate("new-refresh-token");
    app.poll(&feed, budget()).await.unwrap();
    app.poll(&feed, budget()).await.unwrap();
    assert_eq!(keeper.writes.load(Ordering::SeqCst), 1, "written once");
    let kept = keeper.kept.lock().unwrap();
    assert_eq!(
        kept.get(&(Mall::Yahoo, ShopId::parse(YAHOO_SHOP).unwrap(), "refresh_token")),
        Some(&"new-refresh-token".to_owned())
    );
}

#[tokio::test]
async fn a_rotated_refresh_token_with_nowhere_to_keep_it_is_counted_as_a_failure() {
    let w = world();
    let feed = ScriptedFeed::new(Mall::Yahoo, YAHOO_SHOP);
    feed.rotate("new-refresh-token");
    w.app.poll(&feed, budget()).await.unwrap();
    assert_eq!(w.metrics.of(Metric::FeedFailure), 1);
}

#[tokio::test]
async fn a_notification_of_an_order_the_backstop_read_first_is_read_once_however_often_it_comes() {
    let w = world();
    let backstop = ScriptedFeed::new(Mall::Amazon, AMAZON_SELLER).then(Ok(feed_page(
        vec![feed_order(amazon_order())],
        "p1",
        false,
    )));
    w.app.poll(&backstop, budget()).await.unwrap();
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER).then(Ok(feed_order(amazon_order())));
    let (first, _) = w
        .app
        .notified(&amazon_notification("n-late"), Some(&lookup))
        .await
        .unwrap();
    assert_eq!(first, NotificationOutcome::Ingested(IngestOutcome::Redelivered));
    let (again, _) = w
        .app
        .notified(&amazon_notification("n-late"), Some(&lookup))
        .await
        .unwrap();
    assert_eq!(again, NotificationOutcome::AlreadyHandled);
    assert_eq!(lookup.asked().len(), 1);
}

#[tokio::test]
async fn an_amazon_order_that_ships_while_held_settles_as_shipped_and_is_never_cancelled() {
    let w = world();
    let rakuten = ScriptedFeed::new(Mall::Rakuten, RAKUTEN_SHOP).then(Ok(feed_page(
        vec![feed_order(rakuten_order())],
        "p1",
        false,
    )));
    w.app.poll(&rakuten, budget()).await.unwrap();
    w.clock.advance(SignedDuration::from_mins(20));
    let mut shipped = amazon_order();
    shipped.status = OrderStatus::Shipped;
    let lookup = ScriptedLookup::new(Mall::Amazon, AMAZON_SELLER)
        .then(Ok(feed_order(amazon_order())))
        .then(Ok(feed_order(shipped)));
    let (outcome, _) = w
        .app
        .notified(&amazon_notification("n-1"), Some(&lookup))
        .await
        .unwrap();
    let NotificationOutcome::Ingested(IngestOutcome::Held { hold, .. }) = outcome else {
        panic!("held: {outcome:?}")
    };
    // Amazon's ORDER_CHANGE: the order shipped.
    w.app
        .notified(&amazon_notification("n-2"), Some(&lookup))
        .await
        .unwrap();
    let settled = w.store.hold(&hold).await.unwrap().unwrap();
    assert_eq!(settled.state, HoldState::Shipped);
    assert_eq!(w.mails_of(NoticeKind::StaffShipped).len(), 1);
    w.clock.set(settled.deadline + SignedDuration::from_hours(72));
    let report = w.app.sweep().await.unwrap();
    assert_eq!(report.cancelled, 0, "{report:?}");
    assert!(w.mails_of(NoticeKind::Cancellation).is_empty());
    assert_eq!(w.store.hold(&hold).await.unwrap().unwrap().state, HoldState::Shipped);
}
