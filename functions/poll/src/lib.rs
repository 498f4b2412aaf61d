//! The poll function: one run per scheduled invocation (EventBridge Scheduler, every few minutes). Each
//! polled mall shop's feed (Rakuten RMS, Yahoo! Shopping, and Amazon's getOrders as the backstop of its
//! notifications: one per shop with credentials in the secret) is read once, from
//! its stored cursor, through [`Mallguard::poll`]. The event carries nothing the run needs.
//!
//! A shop whose feed cannot be read (expired credentials, the mall down) is in the report, and the others
//! are read all the same: [`Mallguard::poll`] has already alerted the staff where a person must act. The
//! invocation fails ([`PollError`]) only when the store was unavailable, so the scheduler retries it; the
//! cursors make a retried run read only what the failed one did not record.
//!
//! The run stops before the invocation's deadline: a shop is not started when less than
//! [`SAFETY_MARGIN`] remains, and is reported as skipped (the next run reads it from its cursor); a shop
//! being read starts no further page within that margin either.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mallguard_domain::feed::OrderFeed;
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::ports::StoreError;
use mallguard_domain::service::{Mallguard, PollBudget, PollReport, ServiceError};
use serde::Serialize;

/// The time a shop's poll is given at least: one shop is not started, and no further page of a shop read,
/// with less than this left before the deadline. A page costs a few requests of at most 10 s each (the
/// feeds' timeouts), or, at Yahoo!'s one call a second, well under a minute.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(60);

/// What one run did, shop by shop, in the order of the feeds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollRunReport {
    pub shops: Vec<ShopRun>,
}

impl PollRunReport {
    /// The shops whose feed failed (a feed error in their report, or an error of the run itself).
    pub fn failed(&self) -> usize {
        self.shops
            .iter()
            .filter(|s| match &s.outcome {
                ShopOutcome::Polled(report) => report.failure.is_some(),
                ShopOutcome::Failed { .. } => true,
                ShopOutcome::Skipped => false,
            })
            .count()
    }

    /// The shops not started for want of time.
    pub fn skipped(&self) -> usize {
        self.shops.iter().filter(|s| s.outcome == ShopOutcome::Skipped).count()
    }
}

/// One shop's part of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShopRun {
    pub mall: Mall,
    pub shop: ShopId,
    #[serde(flatten)]
    pub outcome: ShopOutcome,
}

/// How one shop's poll ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ShopOutcome {
    /// Read (its report says how far, and why it stopped if the feed failed).
    Polled(PollReport),
    /// Not started: too little time was left before the deadline.
    Skipped,
    /// The poll itself failed (the store, contention, a mail that could not be rendered); the cursor stays
    /// before the page it happened on.
    Failed { error: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The store was unavailable for at least one shop: the invocation fails so the scheduler retries it.
    /// The shops read before and after it are recorded all the same (and are read again from their cursors).
    #[error("the store was unavailable while polling {shops}: {error}")]
    StoreUnavailable { shops: String, error: ServiceError },
}

impl From<PollError> for lambda_runtime::Diagnostic {
    fn from(err: PollError) -> Self {
        let error_type = match &err {
            PollError::StoreUnavailable { .. } => "PollStoreUnavailable",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// Which of `shops` a run starts with: the next one each run of this process, from a place its first run
/// takes from the time (scrambled), so that runs take turns, and cold starts do not always start alike.
fn first_shop(shops: usize, now: jiff::Timestamp) -> usize {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static BASE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if shops == 0 {
        return 0;
    }
    let base = *BASE.get_or_init(|| {
        let minute = u64::try_from(now.as_second().div_euclid(60)).unwrap_or(0);
        usize::try_from(minute.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 33).unwrap_or(0)
    });
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    base.wrapping_add(run) % shops
}

/// Handles one scheduler event (its payload is only logged: any JSON is accepted): polls each feed once,
/// within `budget`, not starting a feed when less than [`SAFETY_MARGIN`] is left before `deadline` (None:
/// no deadline). Returns what each shop's poll did, which Lambda records as the invocation's result.
pub async fn handle(
    app: &Mallguard,
    feeds: &[Arc<dyn OrderFeed>],
    budget: PollBudget,
    deadline: Option<Instant>,
    event: serde_json::Value,
) -> Result<PollRunReport, PollError> {
    let mut report = PollRunReport::default();
    let mut unavailable: Option<(Vec<String>, ServiceError)> = None;
    // Each run starts with another shop: a shop with much to read (a first run's two days) cannot keep the
    // ones after it out of every run.
    let start = first_shop(feeds.len(), app.now());
    for feed in feeds.iter().cycle().skip(start).take(feeds.len()) {
        let (mall, shop) = (feed.mall(), feed.shop().clone());
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let outcome = if left.is_some_and(|left| left < SAFETY_MARGIN) {
            tracing::warn!(%mall, %shop, ?left, "too little time left: the next run reads this shop");
            // A shop skipped run after run goes stale: its alarm reaches a person.
            if let Err(error) = app.poll_skipped(feed.as_ref()).await {
                tracing::warn!(%mall, %shop, %error, "could not look at the skipped shop's cursor");
            }
            ShopOutcome::Skipped
        } else {
            // The shop's pages stop in time too: none is started within the margin of the deadline.
            let budget = PollBudget {
                until: left.map(|left| {
                    let spare = jiff::SignedDuration::try_from(left.saturating_sub(SAFETY_MARGIN)).unwrap_or_default();
                    app.now().saturating_add(spare).unwrap_or_else(|_| app.now())
                }),
                ..budget
            };
            match app.poll(feed.as_ref(), budget).await {
                Ok(polled) => ShopOutcome::Polled(polled),
                Err(error) => {
                    tracing::error!(%mall, %shop, %error, "the poll failed");
                    let outcome = ShopOutcome::Failed {
                        error: error.to_string(),
                    };
                    if matches!(error, ServiceError::Store(StoreError::Unavailable(_))) {
                        let (shops, _) = unavailable.get_or_insert_with(|| (vec![], error));
                        shops.push(format!("{mall}/{shop}"));
                    }
                    outcome
                }
            }
        };
        report.shops.push(ShopRun { mall, shop, outcome });
    }
    tracing::info!(
        ?report,
        failed = report.failed(),
        skipped = report.skipped(),
        scheduled_time = %event["scheduled_time"],
        "poll run"
    );
    match unavailable {
        Some((shops, error)) => Err(PollError::StoreUnavailable {
            shops: shops.join(", "),
            error,
        }),
        None => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use mallguard_domain::feed::FeedError;
    use mallguard_domain::ids::{OrderId, OrderRef};
    use mallguard_domain::order::{EmailAddress, Order};
    use mallguard_domain::ports::roles::*;
    use mallguard_domain::testing::{
        ManualClock, MemoryStore, RecordingMailer, ScriptedFeed, UnavailableStore, feed_order, feed_page, order,
        settings,
    };

    use super::*;

    fn scheduler_event() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/lambda/poll-schedule.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn budget() -> PollBudget {
        PollBudget {
            max_pages: 10,
            first_look_back: SignedDuration::from_hours(48),
            until: None,
        }
    }

    /// An order of `shop` at Rakuten by a buyer of its own (`n` varies the e-mail and the phone).
    fn rakuten_order(shop: &str, id: &str, n: u32) -> Order {
        let mut order = order(id);
        order.order_ref = OrderRef::new(Mall::Rakuten, ShopId::parse(shop).unwrap(), OrderId::parse(id).unwrap());
        order.buyer.email = Some(EmailAddress::parse(&format!("buyer{n}@example.com")).unwrap());
        order.buyer.phone = Some(format!("090-0000-{n:04}"));
        order.ship_to.phone = order.buyer.phone.clone();
        order.buyer.name = format!("買い手 {n}");
        order.ship_to.name = order.buyer.name.clone();
        order
    }

    fn app_over(store: Arc<MemoryStore>, mailer: Arc<RecordingMailer>) -> Mallguard {
        let clock = Arc::new(ManualClock::at("2026-11-23T04:00:00Z"));
        Mallguard::new(store, mailer, clock, settings())
    }

    /// The run of `shop` in `report` (runs start with another shop each time).
    fn run_of<'a>(report: &'a PollRunReport, shop: &str) -> &'a ShopRun {
        report
            .shops
            .iter()
            .find(|run| run.shop.as_str() == shop)
            .unwrap_or_else(|| panic!("no run of {shop}: {report:?}"))
    }

    fn polled(run: &ShopRun) -> &PollReport {
        match &run.outcome {
            ShopOutcome::Polled(report) => report,
            other => panic!("{} was not polled: {other:?}", run.shop),
        }
    }

    #[tokio::test]
    async fn each_shop_is_read_once_and_a_failing_one_does_not_stop_the_others() {
        let store = Arc::new(MemoryStore::default());
        let mailer = Arc::new(RecordingMailer::default());
        let app = app_over(store.clone(), mailer.clone());
        let expired = Arc::new(
            ScriptedFeed::new(Mall::Rakuten, "old-shop")
                .then(Err(FeedError::Unauthorized("license key expired".into()))),
        );
        let tea = Arc::new(ScriptedFeed::new(Mall::Rakuten, "tea-shop").then(Ok(feed_page(
            vec![
                feed_order(rakuten_order("tea-shop", "r-1", 1)),
                feed_order(rakuten_order("tea-shop", "r-2", 2)),
            ],
            "p1",
            false,
        ))));
        let feeds: Vec<Arc<dyn OrderFeed>> = vec![expired.clone(), tea.clone()];
        let report = handle(&app, &feeds, budget(), None, scheduler_event()).await.unwrap();

        assert_eq!(report.shops.len(), 2);
        assert!(
            polled(run_of(&report, "old-shop"))
                .failure
                .as_deref()
                .unwrap()
                .contains("credentials"),
            "{report:?}"
        );
        let tea_report = polled(run_of(&report, "tea-shop"));
        assert_eq!((tea_report.accepted, tea_report.cursor_moved), (2, true), "{report:?}");
        assert_eq!((report.failed(), report.skipped()), (1, 0));
        assert_eq!((expired.calls(), tea.calls()), (1, 1), "each feed read once");
        let cursor = store
            .cursor(Mall::Rakuten, &ShopId::parse("tea-shop").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cursor.position, "p1");
        assert_eq!(
            mailer.mails().len(),
            1,
            "the staff alert about the expired key: {:?}",
            mailer.mails()
        );

        // The report is what Lambda records: each shop with its outcome.
        let json = serde_json::to_value(&report).unwrap();
        let tea_json = json["shops"]
            .as_array()
            .unwrap()
            .iter()
            .find(|shop| shop["shop"] == "tea-shop")
            .unwrap();
        assert_eq!(tea_json["mall"], "rakuten");
        assert_eq!(tea_json["outcome"], "polled");
        assert_eq!(tea_json["accepted"], 2);

        // The next run goes on from the cursor and finds nothing new.
        let again = handle(&app, &feeds, budget(), None, scheduler_event()).await.unwrap();
        assert_eq!(polled(run_of(&again, "tea-shop")).orders, 0);
        assert_eq!(tea.positions(), vec![None, Some("p1".to_owned())]);
    }

    #[tokio::test]
    async fn shops_are_skipped_when_too_little_time_is_left() {
        let store = Arc::new(MemoryStore::default());
        let app = app_over(store, Arc::new(RecordingMailer::default()));
        let first = Arc::new(ScriptedFeed::new(Mall::Rakuten, "tea-shop"));
        let second = Arc::new(ScriptedFeed::new(Mall::Rakuten, "other-shop"));
        let feeds: Vec<Arc<dyn OrderFeed>> = vec![first.clone(), second.clone()];

        let soon = Instant::now() + SAFETY_MARGIN / 2;
        let report = handle(&app, &feeds, budget(), Some(soon), scheduler_event())
            .await
            .unwrap();
        assert_eq!(report.skipped(), 2, "{report:?}");
        assert_eq!((first.calls(), second.calls()), (0, 0));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["shops"][0]["outcome"], "skipped");

        let later = Instant::now() + SAFETY_MARGIN * 4;
        let report = handle(&app, &feeds, budget(), Some(later), scheduler_event())
            .await
            .unwrap();
        assert_eq!(report.skipped(), 0, "{report:?}");
        assert_eq!((first.calls(), second.calls()), (1, 1));
    }

    /// A shop with much to read cannot keep the one after it out of every run: runs take turns starting, and
    /// a shop skipped past an hour is counted stale.
    #[tokio::test]
    async fn runs_take_turns_so_a_busy_shop_cannot_starve_the_others() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::at("2026-11-23T04:00:00Z"));
        let metrics = Arc::new(Counted::default());
        let app = Mallguard::new(store, Arc::new(RecordingMailer::default()), clock.clone(), settings())
            .with_metrics(metrics.clone());
        let shops = ["a-shop", "b-shop", "c-shop"];
        let feeds: Vec<Arc<ScriptedFeed>> = shops
            .iter()
            .map(|shop| {
                let feed = ScriptedFeed::new(Mall::Rakuten, shop);
                for n in 0..10 {
                    feed.push(Ok(feed_page(vec![], &format!("p{n}"), false)));
                }
                Arc::new(feed)
            })
            .collect();
        let dyn_feeds: Vec<Arc<dyn OrderFeed>> = feeds.iter().map(|f| f.clone() as Arc<dyn OrderFeed>).collect();
        // Each run has time for the first shop only.
        let mut first = vec![];
        for _ in 0..3 {
            let deadline = Instant::now() + SAFETY_MARGIN + std::time::Duration::from_millis(300);
            let report = handle(&app, &dyn_feeds, budget(), Some(deadline), scheduler_event())
                .await
                .unwrap();
            first.push(report.shops[0].shop.to_string());
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            clock.advance(SignedDuration::from_mins(5));
        }
        first.sort();
        first.dedup();
        assert_eq!(first.len(), 3, "three runs, three first shops: {first:?}");
        // A shop read, then skipped for over an hour, is counted stale when skipped.
        clock.advance(SignedDuration::from_hours(2));
        let soon = Instant::now() + SAFETY_MARGIN / 2;
        handle(&app, &dyn_feeds, budget(), Some(soon), scheduler_event())
            .await
            .unwrap();
        assert_eq!(metrics.stale(), 3, "each skipped shop, last read two hours ago");
    }

    #[derive(Default)]
    struct Counted(std::sync::Mutex<u64>);

    impl mallguard_domain::ports::Metrics for Counted {
        fn record(&self, metric: mallguard_domain::ports::Metric, count: u64) {
            if metric == mallguard_domain::ports::Metric::FeedStale {
                *self.0.lock().unwrap() += count;
            }
        }
    }

    impl Counted {
        fn stale(&self) -> u64 {
            *self.0.lock().unwrap()
        }
    }

    #[tokio::test]
    async fn an_unavailable_store_fails_the_invocation_so_the_scheduler_retries() {
        let clock = Arc::new(ManualClock::at("2026-11-23T04:00:00Z"));
        let app = Mallguard::new(
            Arc::new(UnavailableStore),
            Arc::new(RecordingMailer::default()),
            clock,
            settings(),
        );
        let first = Arc::new(ScriptedFeed::new(Mall::Rakuten, "tea-shop"));
        let second = Arc::new(ScriptedFeed::new(Mall::Rakuten, "other-shop"));
        let feeds: Vec<Arc<dyn OrderFeed>> = vec![first, second];
        let err = handle(&app, &feeds, budget(), None, scheduler_event())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("rakuten/tea-shop") && text.contains("rakuten/other-shop"),
            "{text}"
        );
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "PollStoreUnavailable");
    }

    #[tokio::test]
    async fn no_feed_is_an_empty_report() {
        let app = app_over(Arc::new(MemoryStore::default()), Arc::new(RecordingMailer::default()));
        let report = handle(&app, &[], budget(), None, serde_json::json!({})).await.unwrap();
        assert_eq!(report, PollRunReport::default());
    }
}
