//! Polling a mall that pushes nothing (Rakuten, Yahoo!, Amazon as a backstop): read its changed orders
//! page by page from the stored cursor, put each through the same ingest as a webhook (a re-read unchanged
//! order is a redelivery there, a changed status an update; matching, holds and notices as for webhooks),
//! quarantine what cannot be read, and move the cursor after each page under the version read, so two
//! overlapping runs never both move it.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::Serialize;

use super::{Incoming, IngestOutcome, Mallguard, ServiceError, sent_after_commit};
use crate::feed::{FeedError, FeedOrder, FeedPage, OrderFeed, PollCursor};
use crate::ids::{Mall, ShopId};
use crate::notice::{CredentialsExpiringContext, FeedFailureContext, Notice, NoticeId, NoticeKind};
use crate::policy::jst;
use crate::ports::{CommitError, Expect, Metric, WriteBatch};

/// How long before a mall's credentials expire the staff are warned each day to renew them.
pub const CREDENTIALS_WARNING: SignedDuration = SignedDuration::from_hours(14 * 24);

/// How much one run of the poller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollBudget {
    /// The most pages read in one run: the next run goes on from where this one stopped.
    pub max_pages: usize,
    /// How far back the first run of a mall and shop (no cursor yet) reads.
    pub first_look_back: SignedDuration,
    /// No page is started after this instant (None: no limit): a slow mall (Yahoo!'s one call a second)
    /// must not read past the end of a Lambda invocation. The next run goes on from the cursor.
    pub until: Option<jiff::Timestamp>,
}

/// How long a mall shop may go unread before each run counts it as stale ([`Metric::FeedStale`]).
pub const STALE_FEED: SignedDuration = SignedDuration::from_hours(1);

/// The longest a mall's "try again later" is honoured: a day (Yahoo!'s daily cap ends at midnight in Japan).
const MAX_POLL_WAIT: SignedDuration = SignedDuration::from_hours(24);

/// Until when each mall shop asked not to be read again (a throttled read's Retry-After, Yahoo!'s daily cap
/// until midnight in Japan), kept while the process lives: a run before then reads nothing from that shop,
/// so a used-up quota is not called again every few minutes.
#[derive(Debug, Default)]
pub(super) struct PollWaits(std::sync::Mutex<std::collections::HashMap<(Mall, ShopId), jiff::Timestamp>>);

impl PollWaits {
    fn until(&self, mall: Mall, shop: &ShopId, now: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let waits = self.0.lock().unwrap_or_else(|e| e.into_inner());
        waits.get(&(mall, shop.clone())).copied().filter(|until| *until > now)
    }

    fn wait(&self, mall: Mall, shop: &ShopId, until: jiff::Timestamp) {
        let mut waits = self.0.lock().unwrap_or_else(|e| e.into_inner());
        waits.insert((mall, shop.clone()), until);
    }
}

/// What one run of the poller did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollReport {
    /// Pages read.
    pub pages: usize,
    /// Requests those pages cost at the mall.
    pub requests: u64,
    /// Orders read and ingested (accepted, held, redelivered or updated).
    pub orders: usize,
    pub accepted: usize,
    pub held: usize,
    /// Read again unchanged: nothing written.
    pub redelivered: usize,
    /// Read again with a new status.
    pub updated: usize,
    /// Orders that could not be read, kept in quarantine (and the staff alerted).
    pub quarantined: usize,
    /// When the feed's credentials stop working, if the mall said so during this run (asked once a day).
    pub credentials_expire: Option<jiff::Timestamp>,
    /// Whether this run moved the cursor at least once.
    pub cursor_moved: bool,
    /// Why the feed could not be read to the end, if it could not (the cursor stays after the last page
    /// recorded).
    pub failure: Option<String>,
    /// The mall asked not to be read again before this instant (a throttled read's Retry-After, a daily
    /// cap): this run read nothing from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_until: Option<jiff::Timestamp>,
}

impl Mallguard {
    /// Reads what `feed`'s mall changed since the stored cursor, at most `budget.max_pages` pages, ingests
    /// every order, and moves the cursor after each page. A feed error ends the run with what was done so
    /// far in `failure` (an expired credential or a refused request also alerts the staff, at most once a
    /// day). Only what ingest itself cannot get past (the store failing, endless contention) is an `Err`,
    /// and leaves the cursor before the page it happened on. When another run moved the cursor since this
    /// one read it, this one stops: the orders it ingested were idempotent anyway.
    pub async fn poll(&self, feed: &dyn OrderFeed, budget: PollBudget) -> Result<PollReport, ServiceError> {
        // The alerts about this feed go to its shop's staff.
        let polled = self
            .in_shop(feed.mall(), feed.shop())
            .await
            .poll_in_shop(feed, budget)
            .await;
        // A run that failed is counted like a feed that could not be read: what passes as a retry, the rest
        // as a failure (its alarm reaches a person).
        if let Err(error) = &polled {
            let metric = if error.is_transient() {
                Metric::FeedRetry
            } else {
                Metric::FeedFailure
            };
            self.metrics.record(metric, 1);
        }
        polled
    }

    async fn poll_in_shop(&self, feed: &dyn OrderFeed, budget: PollBudget) -> Result<PollReport, ServiceError> {
        let (mall, shop) = (feed.mall(), feed.shop().clone());
        let mut report = PollReport::default();
        if let Some(until) = self.poll_waits.until(mall, &shop, self.clock.now()) {
            tracing::info!(%mall, %shop, %until, "the mall asked to wait: not read in this run");
            report.waiting_until = Some(until);
            let cursor = self.store.cursor(mall, &shop).await?;
            self.count_if_stale(mall, &shop, cursor.as_ref());
            return Ok(report);
        }
        let mut cursor = self.store.cursor(mall, &shop).await?;
        self.check_credentials(feed, &mut report).await?;
        while report.pages < budget.max_pages {
            if report.pages > 0 && budget.until.is_some_and(|until| self.clock.now() >= until) {
                tracing::info!(%mall, %shop, pages = report.pages, "out of time for this run: the next one goes on");
                break;
            }
            let position = cursor.as_ref().map(|c| c.position.as_str());
            let page = match feed
                .changed_since(position, self.clock.now(), budget.first_look_back)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    report.failure = Some(error.to_string());
                    self.feed_failed(mall, &shop, cursor.as_ref(), &error).await?;
                    break;
                }
            };
            let FeedPage {
                orders,
                next,
                more,
                requests,
            } = page;
            report.pages += 1;
            report.requests += u64::from(requests);
            for item in orders {
                self.poll_one(mall, &shop, item, &mut report).await?;
            }
            let now = self.clock.now();
            let (moved, expect) = match &cursor {
                Some(read) => (
                    PollCursor {
                        position: next,
                        version: read.version + 1,
                        updated_at: now,
                        ..read.clone()
                    },
                    Expect::Version(read.version),
                ),
                None => (
                    PollCursor {
                        mall,
                        shop: shop.clone(),
                        position: next,
                        version: 1,
                        updated_at: now,
                    },
                    Expect::Absent,
                ),
            };
            let batch = WriteBatch {
                cursors: vec![(moved.clone(), expect)],
                ..WriteBatch::default()
            };
            match self.store.commit(batch).await {
                Ok(()) => {
                    report.cursor_moved = true;
                    cursor = Some(moved);
                }
                Err(CommitError::Conflict) => {
                    tracing::info!(%mall, %shop, "another poll moved the cursor since this one read it: stopping");
                    break;
                }
                Err(CommitError::Store(err)) => return Err(err.into()),
            }
            if !more {
                break;
            }
        }
        if let Some(rotated) = feed.rotated_credential() {
            self.keep_rotated(&rotated).await;
        }
        if !report.cursor_moved {
            self.count_if_stale(mall, &shop, cursor.as_ref());
        }
        if report.orders + report.quarantined > 0 || report.failure.is_some() {
            tracing::info!(%mall, %shop, ?report, "poll done");
        } else {
            tracing::debug!(%mall, %shop, ?report, "poll done: nothing new");
        }
        Ok(report)
    }

    /// A run that had no time left for `feed`'s shop: counted stale like a read that failed, when its
    /// cursor is older than [`STALE_FEED`] (one read of the cursor).
    pub async fn poll_skipped(&self, feed: &dyn OrderFeed) -> Result<(), ServiceError> {
        let (mall, shop) = (feed.mall(), feed.shop());
        let cursor = self.store.cursor(mall, shop).await?;
        self.count_if_stale(mall, shop, cursor.as_ref());
        Ok(())
    }

    /// Counts `shop` as stale when its cursor last moved over [`STALE_FEED`] ago (a shop never read yet is
    /// not: its first run decides).
    fn count_if_stale(&self, mall: Mall, shop: &ShopId, cursor: Option<&PollCursor>) {
        let Some(cursor) = cursor else { return };
        let unread = self.clock.now().duration_since(cursor.updated_at);
        if unread > STALE_FEED {
            self.metrics.record(Metric::FeedStale, 1);
            tracing::warn!(%mall, %shop, last_read = %cursor.updated_at, "the mall's orders have not been read for over an hour");
        }
    }

    /// Asks the feed when its credentials expire (a feed asks the mall at most once a day) and warns the
    /// staff from [`CREDENTIALS_WARNING`] before, once a day per mall and shop, so a person renews them in
    /// time. Credentials that have expired fail the read itself, which alerts as a failure.
    async fn check_credentials(&self, feed: &dyn OrderFeed, report: &mut PollReport) -> Result<(), ServiceError> {
        let (mall, shop) = (feed.mall(), feed.shop());
        let now = self.clock.now();
        let expiry = match feed.credentials_expiry(now).await {
            Ok(Some(expiry)) => expiry,
            Ok(None) => return Ok(()),
            Err(error) => {
                // The read that follows meets the same trouble and handles it.
                tracing::warn!(%mall, %shop, %error, "could not ask when the credentials expire");
                return Ok(());
            }
        };
        report.requests += u64::from(expiry.requests);
        report.credentials_expire = Some(expiry.expires_at);
        let left = expiry.expires_at.duration_since(now);
        if left > CREDENTIALS_WARNING || left <= SignedDuration::ZERO {
            tracing::info!(%mall, %shop, expires_at = %expiry.expires_at, "credentials checked");
            return Ok(());
        }
        tracing::warn!(%mall, %shop, expires_at = %expiry.expires_at, "the credentials expire soon: the staff are told to renew them");
        let day = now.to_zoned(jst()).date();
        let mail = self.templates.credentials_expiring_mail(&CredentialsExpiringContext {
            shop: &self.settings.shop,
            mall,
            shop_id: shop,
            expires_at: expiry.expires_at,
            now,
        })?;
        let notice = sent_after_commit(
            Notice::new(
                NoticeId::for_feed_failure(mall, shop.as_str(), day, "expiring"),
                NoticeKind::StaffFeedFailure,
                None,
                mail,
                now,
            ),
            now,
        );
        self.alert_once(notice).await
    }

    /// Writes a credential the mall rotated back to the keeper (which writes nothing when it holds it
    /// already). A failure is counted as a feed failure and logged: the feed goes on with the new credential
    /// in memory, but the next process would start with the old one.
    async fn keep_rotated(&self, rotated: &crate::feed::RotatedCredential) {
        let (mall, shop, field) = (rotated.mall, &rotated.shop, rotated.field);
        let Some(keeper) = &self.keeper else {
            self.metrics.record(Metric::FeedFailure, 1);
            tracing::error!(%mall, %shop, field, "the mall rotated a credential and nothing here can keep it: put the new one in the secret");
            return;
        };
        match keeper.keep(rotated).await {
            Ok(true) => tracing::info!(%mall, %shop, field, "a rotated credential was written back"),
            Ok(false) => {}
            Err(error) => {
                self.metrics.record(Metric::FeedFailure, 1);
                tracing::error!(%mall, %shop, field, %error, "a rotated credential could not be written back; the next run tries again");
            }
        }
    }

    /// How far the poller has read `shop` on `mall` (None: never), for the staff tools.
    pub async fn cursor(&self, mall: Mall, shop: &ShopId) -> Result<Option<PollCursor>, ServiceError> {
        Ok(self.store.cursor(mall, shop).await?)
    }

    /// Ingests one order a feed read, or quarantines it.
    async fn poll_one(
        &self,
        mall: Mall,
        shop: &ShopId,
        item: FeedOrder,
        report: &mut PollReport,
    ) -> Result<(), ServiceError> {
        let meta = BTreeMap::from([("shop".to_owned(), shop.to_string())]);
        let (raw, error) = match item {
            FeedOrder::Order { order, raw } => {
                let at = &order.order_ref;
                if at.mall == mall && &at.shop == shop {
                    let order_id = at.order_id.clone();
                    let outcome = match self
                        .ingest(Incoming {
                            order: *order,
                            raw: raw.clone(),
                            delivery: None,
                        })
                        .await
                    {
                        Ok(outcome) => outcome,
                        // The store or the contention will pass: the run fails and the next one reads the
                        // page again from the cursor.
                        Err(error) if error.is_transient() => return Err(error),
                        // An order ingest can never take (an item the store refuses, a mail that cannot be
                        // rendered) would stop the cursor before its page for good, and every later order of
                        // the shop with it: it is kept aside for the staff, and the run goes on.
                        Err(error) => {
                            tracing::error!(%mall, %shop, order = %order_id, %error, "a polled order could not be ingested: quarantined");
                            self.quarantine_as(mall.as_str(), raw, meta, &format!("ingest failed: {error}"), true)
                                .await?;
                            report.quarantined += 1;
                            return Ok(());
                        }
                    };
                    report.orders += 1;
                    match outcome {
                        IngestOutcome::Accepted => report.accepted += 1,
                        IngestOutcome::Held { .. } => report.held += 1,
                        IngestOutcome::Redelivered => report.redelivered += 1,
                        IngestOutcome::Updated { .. } => report.updated += 1,
                    }
                    return Ok(());
                }
                // A feed reads one shop of one mall with that shop's credentials: an order it files under
                // another is a bug of the feed's, kept aside rather than filed where nobody vouched for it.
                let error = format!(
                    "the {mall} feed of shop {shop} read an order of {} shop {}",
                    at.mall, at.shop
                );
                (raw, error)
            }
            FeedOrder::Unreadable { raw, error } => (raw, error),
        };
        self.quarantine(mall.as_str(), raw, meta, &error).await?;
        report.quarantined += 1;
        Ok(())
    }

    /// A feed that could not be read. What passes by itself (throttling, an outage) is only logged: the
    /// next run tries again from the same cursor. What a person must fix is counted and alerted to the
    /// staff, once a day per mall, shop and reason however many runs fail.
    pub(super) async fn feed_failed(
        &self,
        mall: Mall,
        shop: &ShopId,
        cursor: Option<&PollCursor>,
        error: &FeedError,
    ) -> Result<(), ServiceError> {
        self.feed_failed_alerting(mall, shop, shop.as_str(), cursor, error)
            .await
    }

    /// The same, with the alert counted once a day under `alert_key` (the shop, or a key that several
    /// shops share so that they make one alert a day between them).
    pub(super) async fn feed_failed_alerting(
        &self,
        mall: Mall,
        shop: &ShopId,
        alert_key: &str,
        cursor: Option<&PollCursor>,
        error: &FeedError,
    ) -> Result<(), ServiceError> {
        if let FeedError::Throttled {
            retry_after: Some(wait),
        } = error
        {
            let now = self.clock.now();
            let until = now
                .saturating_add((*wait).clamp(SignedDuration::ZERO, MAX_POLL_WAIT))
                .unwrap_or(now);
            self.poll_waits.wait(mall, shop, until);
        }
        if error.is_transient() {
            self.metrics.record(Metric::FeedRetry, 1);
            tracing::warn!(%mall, %shop, %error, "the mall's orders cannot be read now; the next run tries again");
            return Ok(());
        }
        self.metrics.record(Metric::FeedFailure, 1);
        tracing::error!(%mall, %shop, %error, "the mall's orders cannot be read until a person acts");
        let now = self.clock.now();
        let day = now.to_zoned(jst()).date();
        let mail = self.templates.feed_failure_mail(&FeedFailureContext {
            shop: &self.settings.shop,
            mall,
            shop_id: shop,
            error,
            at: now,
            last_read: cursor.map(|c| c.updated_at),
        })?;
        let notice = sent_after_commit(
            Notice::new(
                NoticeId::for_feed_failure(mall, alert_key, day, error.kind()),
                NoticeKind::StaffFeedFailure,
                None,
                mail,
                now,
            ),
            now,
        );
        self.alert_once(notice).await
    }

    /// Queues and sends a staff alert whose id says when it was sent already (once a day per mall, shop and
    /// reason): one of the same id is not sent again.
    async fn alert_once(&self, notice: Notice) -> Result<(), ServiceError> {
        let batch = WriteBatch {
            notices: vec![(notice.clone(), Expect::Absent)],
            ..WriteBatch::default()
        };
        match self.store.commit(batch).await {
            Ok(()) => {
                self.deliver(vec![notice], super::Within::request()).await;
                Ok(())
            }
            // The staff were alerted about this today already.
            Err(CommitError::Conflict) => Ok(()),
            Err(CommitError::Store(err)) => Err(err.into()),
        }
    }
}
