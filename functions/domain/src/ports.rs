//! The ports the use cases talk to: store, mailer, clock. Each has a production adapter (DynamoDB, SES,
//! the system clock) and a local one (embedded store, outbox folder, a clock tests can move).

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::action::{ActionId, MallAction};
use crate::blacklist::{BlacklistEntry, BlacklistId, BlacklistMark, BlacklistWrite};
use crate::feed::PollCursor;
use crate::history::HistoryEntry;
use crate::hold::Hold;
use crate::identity::{IdentityKey, OrderIdentity};
use crate::ids::{HoldId, Mall, OrderId, OrderRef, ProductKey, ShopId};
use crate::matching::IndexEntry;
use crate::notice::{Mail, Notice, NoticeId};
use crate::order::{Order, PayloadDigest};
use crate::shop_settings::ShopSettings;

/// An order as mallguard keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    pub order: Order,
    pub identity: OrderIdentity,
    /// Product keys after the mall-code mapping.
    pub products: Vec<ProductKey>,
    /// The exact bytes the mall sent, for evidence and replay (stores compress them).
    pub raw: Vec<u8>,
    pub received_at: Timestamp,
    pub version: u64,
    /// The hold on this order, if it was held.
    pub hold: Option<HoldId>,
    /// Holds on later orders that duplicate this one.
    pub duplicates: Vec<HoldId>,
}

/// The serialisation point of one identity key: every decision that adds an order under a key bumps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub key: IdentityKey,
    /// The version read; a commit succeeds only if it is still the stored one (0: none stored yet).
    pub version: u64,
}

/// What the ingest decision reads.
#[derive(Debug, Clone, Default)]
pub struct IngestSnapshot {
    pub existing: Option<StoredOrder>,
    /// Index entries of the new order's keys, placed inside the window around it.
    pub entries: Vec<IndexEntry>,
    pub heads: Vec<Head>,
    /// Blacklist marks under the new order's keys: read with the index entries, at no extra request.
    pub blacklisted: Vec<BlacklistMark>,
}

/// The condition on a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Only if no such item exists.
    Absent,
    /// Only if the stored item has this version.
    Version(u64),
    /// Unconditionally (records nobody else writes).
    Any,
}

/// A signed payload that could not be understood, kept so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// Derived from the payload digest: a redelivery of the same payload is one item.
    pub id: String,
    /// The route it came in on (`shopify`, `generic`, …).
    pub source: String,
    pub received_at: Timestamp,
    pub error: String,
    pub raw: Vec<u8>,
    /// The request headers the parser needs again on replay (topic, shop domain), never secrets.
    pub meta: BTreeMap<String, String>,
    pub replayed_at: Option<Timestamp>,
}

/// Everything one decision writes, all or nothing. Mirrors one DynamoDB TransactWriteItems.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Head versions read; each must be unchanged and is bumped by one.
    pub heads: Vec<Head>,
    pub orders: Vec<(StoredOrder, Expect)>,
    /// Upserted by (key, order).
    pub index: Vec<IndexEntry>,
    pub holds: Vec<(Hold, Expect)>,
    pub notices: Vec<(Notice, Expect)>,
    pub history: Vec<HistoryEntry>,
    pub quarantine: Vec<(Quarantined, Expect)>,
    /// Webhook deliveries seen (Shopify `X-Shopify-Webhook-Id`, Standard Webhooks `webhook-id`), with the
    /// digest of what each carried; a later write of the same id keeps the latest digest.
    pub deliveries: Vec<WebhookDelivery>,
    /// Poll cursors moved: `Absent` for a mall and shop never polled, else the version read (the cursor
    /// written carries that version plus one, as a hold does).
    pub cursors: Vec<(PollCursor, Expect)>,
    /// Mall actions (hold, release, cancel at the mall) written with the decision that asks for them, and
    /// their outcomes after.
    pub actions: Vec<(MallAction, Expect)>,
    /// Blacklist entries added or removed, each with the marks under its keys.
    pub blacklist: Vec<BlacklistWrite>,
    /// Staff sign-in links used: each may be used once, so the batch fails with a conflict when one was
    /// used before.
    pub sign_ins: Vec<UsedSignIn>,
    /// Settings of a mall shop: `Absent` for a shop never set, else the version read (the record written
    /// carries that version plus one).
    pub shop_settings: Vec<(ShopSettings, Expect)>,
    /// Buyer's pages kept as served, each once per hold and digest (written unconditionally: the same
    /// digest is the same page).
    pub pages: Vec<crate::history::KeptPage>,
}

/// A staff sign-in link that was used, kept until it expires so it cannot be used again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedSignIn {
    /// The link's nonce.
    pub id: String,
    /// After this the link is refused as expired anyway; the record may go.
    pub expires_at: Timestamp,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
            && self.orders.is_empty()
            && self.index.is_empty()
            && self.holds.is_empty()
            && self.notices.is_empty()
            && self.history.is_empty()
            && self.quarantine.is_empty()
            && self.deliveries.is_empty()
            && self.cursors.is_empty()
            && self.actions.is_empty()
            && self.blacklist.is_empty()
            && self.sign_ins.is_empty()
            && self.shop_settings.is_empty()
            && self.pages.is_empty()
    }
}

/// A webhook delivery id and the digest of the payload it carried: a delivery is a redelivery only
/// when both match, since a sender can reuse an id for a different body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub digest: PayloadDigest,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Throttled, down or unreachable: the caller answers 503 so the mall retries.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// An item that does not read back as written.
    #[error("a stored item is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// A condition failed: somebody else wrote first. Re-read and decide again.
    #[error("a concurrent writer changed what this decision read")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes every decision: one atomic, conditional batch. Every use case needs it.
#[async_trait]
pub trait Commit: Send + Sync {
    /// Writes the batch atomically, or nothing when a condition fails.
    async fn commit(&self, batch: WriteBatch) -> Result<(), CommitError>;

    /// Writes the batch as [`Commit::commit`] does, knowing that other commits of the same request are on
    /// their way at the same moment (the outcomes of mails sent together): a store that commits
    /// concurrent writes as one may let them catch up, so they share one transaction. Each batch keeps its
    /// own conditions and outcome.
    async fn commit_beside_others(&self, batch: WriteBatch) -> Result<(), CommitError> {
        self.commit(batch).await
    }

    /// Writes the record of mails a request has just sent (their notices and history) where nobody waits
    /// for it: the mails went out either way, a failure to record them is only logged, and a notice left
    /// unrecorded stays pending under its lease for the sweep to look at again. A store may answer as soon
    /// as the batch is queued, so that the request is answered without waiting for a transaction of its
    /// own; it then writes the batch before any commit asked for after this call, shows it to every read
    /// of notices and history begun after this call, logs what it could not write, and has written it
    /// when [`Commit::written_behind`] returns. A batch holding anything else is committed at once.
    /// Default: committed at once, as [`Commit::commit_beside_others`] does.
    async fn commit_behind(&self, batch: WriteBatch) -> Result<(), CommitError> {
        self.commit_beside_others(batch).await
    }

    /// Waits until every batch [`Commit::commit_behind`] left to be written is written (or given up and
    /// logged): what a process calls before it stops.
    async fn written_behind(&self) {}
}

/// Reads one record by its key: what every use case that settles a hold needs.
#[async_trait]
pub trait Records: Commit {
    async fn order(&self, order: &OrderRef) -> Result<Option<StoredOrder>, StoreError>;
    async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, StoreError>;
    async fn notice(&self, id: &NoticeId) -> Result<Option<Notice>, StoreError>;
    async fn action(&self, id: &ActionId) -> Result<Option<MallAction>, StoreError>;
    /// Whether the page of `hold` with this digest is kept already (the buyer's page keeps each page once).
    async fn page_kept(&self, hold: &HoldId, digest: &str) -> Result<bool, StoreError>;
}

/// What ingesting an order reads besides [`Records`].
#[async_trait]
pub trait IngestStore: Records {
    /// Reads what an ingest decision needs: the index entries of `keys` placed in `[from, to]`, the head
    /// version of each key, and the stored order with this ref. Never scans. A store may leave `existing`
    /// empty when no index entry names the order (saving a read per new order): the use case asks
    /// `order` itself when a commit conflicts or the order has no keys.
    async fn ingest_snapshot(
        &self,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<IngestSnapshot, StoreError>;
    /// The index entries of `keys` placed in `[from, to]`, without the heads or any order: the buyer's orders
    /// around a hold, which the buyer's page and the receipt after an answer list beside it (関連するご注文).
    /// The same read as the entries of [`IngestStore::ingest_snapshot`]; never scans.
    async fn index_window(
        &self,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<IndexEntry>, StoreError>;
    /// The digest of the payload a webhook delivery id was recorded with; None when the id was never
    /// recorded (or recorded without a digest by an older version, which then counts as unseen).
    async fn delivery_digest(&self, delivery: &str) -> Result<Option<PayloadDigest>, StoreError>;
    /// What ingesting a delivery reads first: the digest its delivery id was recorded with (None without an
    /// id, or for one never recorded) and, unless that digest is `digest` (a redelivery: nothing to decide),
    /// the [`IngestStore::ingest_snapshot`]. By default the two reads one after the other; a store that reads
    /// both at once (one read transaction) says so by overriding it.
    async fn delivery_and_snapshot(
        &self,
        delivery: Option<&str>,
        digest: &PayloadDigest,
        order: &OrderRef,
        keys: &[IdentityKey],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(Option<PayloadDigest>, Option<IngestSnapshot>), StoreError> {
        let seen = match delivery {
            Some(delivery) => self.delivery_digest(delivery).await?,
            None => None,
        };
        if seen.as_ref() == Some(digest) {
            return Ok((seen, None));
        }
        let snapshot = self.ingest_snapshot(order, keys, from, to).await?;
        Ok((seen, Some(snapshot)))
    }
}

/// What the expiry sweep reads besides [`Records`]: only what is due, never the whole table.
#[async_trait]
pub trait SweepStore: Records {
    /// Unsettled holds whose reminder or deadline is at or before `now`, soonest first. Never scans.
    async fn due_holds(&self, now: Timestamp, limit: usize) -> Result<Vec<Hold>, StoreError>;
    /// Pending notices whose next attempt is at or before `now`, oldest first.
    async fn pending_notices(&self, now: Timestamp, limit: usize) -> Result<Vec<Notice>, StoreError>;
    /// Pending mall actions whose next attempt is at or before `now`, oldest first.
    async fn pending_actions(&self, now: Timestamp, limit: usize) -> Result<Vec<MallAction>, StoreError>;
}

/// What the staff look up besides [`Records`].
#[async_trait]
pub trait StaffStore: Records {
    /// The orders with this mall order id, or with this order number as people know it without its `#`
    /// (Shopify `1001` for `#1001`), in any shop: staff look an order up by the number they see in the
    /// mall's admin screen or the buyer quotes.
    async fn orders_with_id(&self, mall: Mall, order_id: &OrderId) -> Result<Vec<OrderRef>, StoreError>;
    /// Holds, newest first; only unsettled ones when `open_only`.
    async fn holds(&self, open_only: bool) -> Result<Vec<Hold>, StoreError>;
    /// The order's history in the order it happened.
    async fn history(&self, order: &OrderRef) -> Result<Vec<HistoryEntry>, StoreError>;
    async fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError>;
    /// The blacklist, newest first.
    async fn blacklist(&self) -> Result<Vec<BlacklistEntry>, StoreError>;
    async fn blacklist_entry(&self, id: &BlacklistId) -> Result<Option<BlacklistEntry>, StoreError>;
    /// Every mall shop's settings (a handful of records, read in one request), in mall and shop order.
    async fn shop_settings(&self) -> Result<Vec<ShopSettings>, StoreError>;
    /// The buyer's pages kept for `hold`, in the order first shown.
    async fn pages(&self, hold: &HoldId) -> Result<Vec<crate::history::KeptPage>, StoreError>;
}

/// What the poller of a mall that pushes nothing reads besides [`Records`]: how far it read.
#[async_trait]
pub trait CursorStore: Records {
    /// The poll cursor of `shop` on `mall`; None when it was never polled.
    async fn cursor(&self, mall: Mall, shop: &ShopId) -> Result<Option<PollCursor>, StoreError>;
}

/// Where orders, holds, notices and the evidence live: every role at once. Implemented for any type that
/// implements the roles, so a store implements the roles and a test double only the role it stands in for.
pub trait Store: IngestStore + SweepStore + StaffStore + CursorStore {}

impl<T: IngestStore + SweepStore + StaffStore + CursorStore + ?Sized> Store for T {}

/// What a signed payload turns into.
#[derive(Debug, Clone)]
pub enum ParsedPayload {
    Order(Box<Order>),
    /// A topic we do not act on (e.g. Shopify `orders/delete`): acknowledged, nothing recorded.
    Ignored(String),
}

/// Turns a stored payload into an order again: the malls' parsers, for replaying quarantined payloads
/// after a fix. The error says why it still cannot be parsed.
pub trait PayloadParser: Send + Sync {
    fn parse(&self, source: &str, meta: &BTreeMap<String, String>, raw: &[u8]) -> Result<ParsedPayload, String>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later (network, throttling, the service down).
    #[error("mail could not be sent now: {0}")]
    Transient(String),
    /// The mail service refused this message (e.g. an address it will not send to).
    #[error("mail was refused: {0}")]
    Rejected(String),
    /// The recipient reads `reads`, not the mail's language, and the route carries only mail in the
    /// recipient's language (Amazon's messaging). Nothing was sent; written again in `reads`, it can go (the
    /// order's language was not known when it was written, a throttled look-up for instance).
    #[error("mail was not sent: {message}")]
    OtherLanguage { reads: crate::Language, message: String },
}

/// Sends one rendered mail and returns the mail service's message id.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<String, MailError>;
}

/// The time, injected so tests can stand just before and after a deadline.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// What the functions count, for dashboards and alarms (CloudWatch metrics on Lambda).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// A new order recorded.
    OrderReceived,
    /// A suspected duplicate held.
    DuplicateHeld,
    NoticeSent,
    NoticeFailed,
    /// Ship both (buyer or staff).
    HoldConfirmed,
    /// Cancelled by the buyer, the staff or the mall.
    HoldCancelled,
    /// Cancelled at the deadline, unanswered.
    HoldExpired,
    /// Released because the other order was cancelled at the mall.
    HoldReleased,
    /// A signed payload that could not be parsed (quarantined).
    ParseFailure,
    /// A poll of a mall's orders that failed for a reason a person must fix (credentials expired or
    /// revoked, a request the mall refuses): counted at every failed run, alerted once a day.
    FeedFailure,
    /// A read of a mall's API that must wait for the next run by itself (throttled, the API unavailable):
    /// counted so a lasting outage or a budget set too tight shows on a graph, never alerted.
    FeedRetry,
    /// A mall shop whose orders have not been read for over [`STALE_FEED`](crate::service::STALE_FEED):
    /// counted at each run that leaves it so, whatever the reason (retries that never pass, a quota used up),
    /// so an alarm can tell a person that duplicates on that mall go unseen.
    FeedStale,
}

impl Metric {
    /// Every metric, in declaration order (the alarms' test in functions/aws checks the template against it).
    pub const ALL: [Metric; 12] = [
        Metric::OrderReceived,
        Metric::DuplicateHeld,
        Metric::NoticeSent,
        Metric::NoticeFailed,
        Metric::HoldConfirmed,
        Metric::HoldCancelled,
        Metric::HoldExpired,
        Metric::HoldReleased,
        Metric::ParseFailure,
        Metric::FeedFailure,
        Metric::FeedRetry,
        Metric::FeedStale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::OrderReceived => "OrdersReceived",
            Metric::DuplicateHeld => "DuplicatesHeld",
            Metric::NoticeSent => "NoticesSent",
            Metric::NoticeFailed => "NoticesFailed",
            Metric::HoldConfirmed => "HoldsConfirmed",
            Metric::HoldCancelled => "HoldsCancelled",
            Metric::HoldExpired => "HoldsExpired",
            Metric::HoldReleased => "HoldsReleased",
            Metric::ParseFailure => "ParseFailures",
            Metric::FeedFailure => "FeedFailures",
            Metric::FeedRetry => "FeedRetries",
            Metric::FeedStale => "FeedsStale",
        }
    }
}

/// Where counts go. Recording never fails and never blocks the use case.
pub trait Metrics: Send + Sync {
    fn record(&self, metric: Metric, count: u64);
}

/// Counts nothing (the local program logs instead).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record(&self, _metric: Metric, _count: u64) {}
}

/// The store's role traits, unnamed: `use mallguard_domain::ports::roles::*;` makes every store method
/// callable on a concrete store.
pub mod roles {
    pub use super::{Commit as _, CursorStore as _, IngestStore as _, Records as _, StaffStore as _, SweepStore as _};
}
