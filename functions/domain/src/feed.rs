//! The malls that push nothing (Rakuten RMS, Yahoo! Shopping, and Amazon as a backstop to its
//! notifications) are polled: an [`OrderFeed`] reads the orders a mall changed since a position, and the
//! poll use case feeds them through the same ingest as webhooks, then moves the mall's [`PollCursor`]
//! forward under a condition, so two overlapping runs never both advance it.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ids::{Mall, ShopId};
use crate::order::Order;

/// How far a mall's orders have been read, per mall and shop. The position is the feed's own (a time, a
/// page token): opaque to everything but the feed that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCursor {
    pub mall: Mall,
    pub shop: ShopId,
    pub position: String,
    /// Bumped by every write: a cursor moves only from the version its writer read.
    pub version: u64,
    pub updated_at: Timestamp,
}

/// One order a feed read: the canonical order and the exact bytes of that order as the mall's API
/// returned them, or those bytes and why they could not be read (quarantined alone; the others go on).
#[derive(Debug, Clone)]
pub enum FeedOrder {
    Order { order: Box<Order>, raw: Vec<u8> },
    Unreadable { raw: Vec<u8>, error: String },
}

/// One page of a feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub orders: Vec<FeedOrder>,
    /// Where the next read starts; stored as the cursor once this page's orders are recorded.
    pub next: String,
    /// Whether more changed orders wait beyond this page now.
    pub more: bool,
    /// How many requests this page cost at the mall (counted, for the request budgets).
    pub requests: u32,
}

/// Why a feed could not be read now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The mall asks us to slow down: try again after `retry_after` (or the next run).
    #[error("the mall throttled us{}", retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default())]
    Throttled { retry_after: Option<SignedDuration> },
    /// Expired or revoked credentials: a person must act (renew the key, authorise again).
    #[error("the mall refused our credentials: {0}")]
    Unauthorized(String),
    /// The mall's API is down or answered nonsense at the transport level: the next run tries again.
    #[error("the mall's API is unavailable: {0}")]
    Unavailable(String),
    /// The mall refused the request itself (a bug of ours or a changed API): a person must look.
    #[error("the mall refused the request: {0}")]
    Refused(String),
}

impl FeedError {
    /// Whether the next run may simply try again, with no person involved.
    pub fn is_transient(&self) -> bool {
        matches!(self, FeedError::Throttled { .. } | FeedError::Unavailable(_))
    }

    /// The reason in one word, for ids, logs and templates: `throttled`, `unauthorized`, `unavailable` or
    /// `refused`.
    pub fn kind(&self) -> &'static str {
        match self {
            FeedError::Throttled { .. } => "throttled",
            FeedError::Unauthorized(_) => "unauthorized",
            FeedError::Unavailable(_) => "unavailable",
            FeedError::Refused(_) => "refused",
        }
    }
}

/// When a feed's credentials stop working, as the mall told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsExpiry {
    pub expires_at: Timestamp,
    /// Requests the asking cost at the mall.
    pub requests: u32,
}

/// A mall's order API, read page by page from a position.
#[async_trait]
pub trait OrderFeed: Send + Sync {
    fn mall(&self) -> Mall;
    fn shop(&self) -> &ShopId;
    /// The orders changed since `position` (None: the first run, which starts `first_look_back` before
    /// `now`), one page at most.
    async fn changed_since(
        &self,
        position: Option<&str>,
        now: Timestamp,
        first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError>;

    /// When the credentials this feed reads with stop working, for the malls whose keys expire on a date a
    /// person must renew them by (Rakuten's licenseKey, every 90 days). `Ok(None)`: the mall does not say,
    /// or the feed asked it recently (a feed asks at most once a day, so a poll with nothing new stays one
    /// list call). Asked by the poll use case before each read.
    async fn credentials_expiry(&self, _now: Timestamp) -> Result<Option<CredentialsExpiry>, FeedError> {
        Ok(None)
    }

    /// A credential the mall replaced while this feed used it (a rotated refresh token), which the
    /// deployment's secret must keep from now on. None: nothing was replaced.
    fn rotated_credential(&self) -> Option<RotatedCredential> {
        None
    }
}

/// A credential a mall replaced while a feed used it: Yahoo! ID連携 may answer a refresh with a new refresh
/// token, after which the old one may stop working. It must be written back to where the credentials are
/// kept, or the next process starts with the old one.
#[derive(Clone)]
pub struct RotatedCredential {
    pub mall: Mall,
    pub shop: ShopId,
    /// The field of the shop's credentials that changed (`refresh_token`).
    pub field: &'static str,
    pub value: secrecy::SecretString,
}

impl std::fmt::Debug for RotatedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedCredential")
            .field("mall", &self.mall)
            .field("shop", &self.shop)
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

/// Where a deployment keeps its mall credentials (Secrets Manager; the local program's `secrets.json`).
#[async_trait]
pub trait CredentialKeeper: Send + Sync {
    /// Writes `rotated` over the shop's stored value, unless the store holds it already (then `Ok(false)`),
    /// with a condition on what was read, so two writers never lose each other's change.
    async fn keep(&self, rotated: &RotatedCredential) -> Result<bool, String>;
}

/// One order a [`OrderLookup`] read, and what reading it cost at the mall.
#[derive(Debug, Clone)]
pub struct LookedUp {
    pub order: FeedOrder,
    /// Requests the read cost at the mall (counted, for the request budgets).
    pub requests: u32,
}

/// A mall's order read by its id, for the malls whose notifications name an order without carrying it
/// (Amazon's `ORDER_CHANGE`): one seller's orders, read with that seller's credentials.
#[async_trait]
pub trait OrderLookup: Send + Sync {
    fn mall(&self) -> Mall;
    fn shop(&self) -> &ShopId;
    /// The order `id` of this seller as the mall has it now.
    async fn order(&self, id: &crate::ids::OrderId) -> Result<LookedUp, FeedError>;
}
