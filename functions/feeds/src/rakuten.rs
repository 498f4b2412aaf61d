//! Rakuten Ichiba: the RMS 楽天ペイ受注API read as an [`OrderFeed`], over the pure requests and parsers of
//! [`mallguard_malls::rakuten`].
//!
//! # One read
//!
//! RMS has no "changed since" search (its `dateType`s are order, confirmation, fixing, shipping, shipping
//! report and payment dates), and the changes of an order already read that matter here are its shipping
//! (the status the mall reports wins: a held order RMS reports shipped settles its hold as shipped) and its
//! cancellation (it releases the holds of the order and against it). So a read makes two `searchOrder`s by
//! order date (`dateType` 1), up to `now` (whole seconds, JST), each sorted by order time ascending and its
//! pages followed up to [`RakutenOptions::max_search_pages`]:
//!
//! 1. **The new orders**, of every `orderProgress`: from the position less an overlap (10 minutes: RMS is
//!    eventually consistent, and an order placed just before the last read may only have become
//!    searchable since), or from `now − first_look_back` on the first run, to now. Every number found is
//!    fetched with `getOrder`.
//! 2. **The shipped and cancelled orders of the matching window**: the orders placed in `[now − 48 hours,
//!    start of the new orders)` (the search ends a second before the new orders start, and there is none
//!    when they start 48 hours back or further: a first run looking back that far, a catch-up; a `recheck`
//!    over 63 days is searched 63 days back only) whose `orderProgress` is one of 500 発送後, 600 支払手続き中,
//!    700 支払手続き済 (shipped: [`OrderStatus::Shipped`]) and 900 キャンセル確定 (cancelled; 800
//!    キャンセル確定待ち is only a request, which can still be withdrawn: the order stays open until it is
//!    900), in one search (`orderProgressList: [500, 600, 700, 900]`). Its answer gives numbers only, not
//!    their progress: only the numbers the position does not remember at all (neither as shipped nor as
//!    cancelled) are fetched with `getOrder`; they come back shipped or cancelled, which the poll use case
//!    records as an update that settles or releases the holds. Skipped when the new orders' search has more
//!    pages than one read takes (`more`): the new orders are never starved, and the next read that reaches
//!    now looks again.
//!
//! The numbers are deduplicated (an order placed while paging can shift one onto the next page) and fetched
//! 100 per `getOrder`, the new orders and the window's together. Each order comes back with its exact bytes,
//! or as unreadable with its bytes and the reason. What a read costs:
//!
//! - nothing new, and no order of the window shipped or cancelled since the last read: **2 searchOrder, 0
//!   getOrder**;
//! - `k` new orders, and `c` orders of the window shipped or cancelled since the last read: 2 searchOrder and
//!   `⌈(k + c) / 100⌉` getOrder;
//! - one searchOrder more per further 1,000 numbers a search lists (the page size). The window's search lists
//!   every order placed in the window that is shipped or cancelled, not only the ones that changed since the
//!   last read: a shop whose 48 hours hold over 1,000 such orders pays a page more per 1,000;
//! - an order of the window is fetched once, on the first read that finds it shipped or cancelled: the
//!   position remembers it, and the next reads skip it (its payment moving on, 500 → 600 → 700, costs
//!   nothing). The first read from a position without `shipped` (written before shipped orders were
//!   remembered) fetches every shipped order of the window once.
//!
//! What is not read again: a number remembered as shipped that is cancelled later (rare: a shipped order is
//! returned at Rakuten, not cancelled). The search lists it either way and does not say its progress, so it
//! cannot be told apart from a shipped one without a getOrder per remembered order each read; that
//! cancellation is not seen. A number remembered as cancelled is final (900 is the last progress). Nor are
//! the other changes of an order already read (an address the shop edited; 100 → 300; 800, a cancellation
//! applied for, until it becomes 900), nor a change after the order has left the window.
//!
//! # The position
//!
//! JSON, compact: `{"at":"<RFC 3339 instant>","cancelled":["386193-20261123-0000012345",
//! …],"shipped":[…]}`. `at`: every order placed up to it has been read. `cancelled` and `shipped`: the
//! numbers the window's search listed and that were read at 900 (`cancelled`) or at 500, 600 or 700
//! (`shipped`): fetched after the search listed them, or read so among the new orders; each list oldest
//! first. A number read at any other progress is not remembered (the search caught it mid-change; or 800,
//! which must not hide its 900): the next read fetches it again while the search lists it. A number the window's search no longer lists
//! (it left the window) is dropped. The two lists together are bounded to [`MAX_REMEMBERED`] numbers
//! (4,000: about 120 KB with RMS's 26-character numbers, well within a DynamoDB item's 400 KB): past that
//! the newest are kept (by order time, as the search lists them), and the oldest are fetched again by each
//! read while the window holds more than that (costing requests, `⌈excess / 100⌉` getOrder, never losing a
//! change), with a warning in the log. The formats this feed wrote before are read: a plain RFC 3339
//! instant as `at` remembering nothing, and `{"at":…,"cancelled":[…]}` remembering no shipped order. A number
//! in both lists is taken as cancelled. Anything else is refused, as a person must look at it.
//!
//! `at` is the new orders' search end, so the next read starts `overlap` before it. A read takes at most
//! [`RakutenOptions::max_search_pages`] pages (10 of 1,000 by default) of each search; when the new orders
//! have more, the page says `more`, and `at` is the order time of the newest order read (or the position,
//! when that is later): the search is ascending, so every order placed before it was on the pages read,
//! and the next read starts at it (less the overlap). A read can only progress when fewer orders than one
//! read takes were placed within one overlap (10,000 in 10 minutes by default). When the window's search
//! has more pages than a read takes (over 10,000 shipped or cancelled orders placed in 48 hours), the orders
//! of the pages read are fetched, those after them are not, the position keeps what it remembered, and the
//! staff see a warning in the log.
//!
//! A new order's number that `getOrder` does not find yet (eventual consistency) is counted and logged, and
//! `at` is held back to the order time of the last order found before it in the search (never before the
//! position), while that lies in the matching window: the next reads search and fetch it again (with the
//! orders after it, which the poll use case finds unchanged). A shipped or cancelled order of the window
//! that `getOrder` does not find yet is not remembered, so the next read fetches it again. An unreadable
//! order is remembered by the `orderProgress` its bytes still give; one of the window's search whose
//! progress cannot be read either is remembered as shipped (not fetched again while listed: it is
//! quarantined once, not every read).
//!
//! RMS refuses a search longer than 63 days and one starting more than 730 days ago: a position further
//! back (a poller stopped for months) is caught up 63 days per read, each page saying `more`, and the
//! start is never put more than 729 days back. RMS only pages through the first 15,000 numbers of a
//! search, so the pages per read are bounded to that.
//!
//! # Actions
//!
//! As [`ShopActions`], a feed acts on its shop's orders. RMS has **no hold**: a hold marks the order with
//! the sub-status the shop created for mallguard ([`RakutenOptions::hold_sub_status`], e.g. `mallguard保留`,
//! which the shop's shipping flow must skip) and writes a line above its ひとことメモ naming the order it
//! duplicates. Without that option the feed does not hold or release (`can` says so); it always cancels.
//! Every action first reads the order with getOrder (its `orderProgress`, `subStatusId`, `subStatusName` and
//! `memo`, by [`order_write_state`]) and writes only what is missing, so an action done again writes nothing:
//!
//! - **hold**: refused at 500–700 (shipped: too late) and at 800/900 (cancelled). The sub-status's id at
//!   the order's `orderProgress` comes from getSubStatusList (kept an hour; asked again when the name is not
//!   in the list kept, and forgotten when RMS refuses an id from it); none there is refused, saying to
//!   create it. Then updateOrderSubStatus (unless the order has it) and updateOrderMemo (unless the memo has
//!   the hold's line, `【mallguard保留 <hold id>】…`). The memo is replaced whole by RMS, so the shop's text
//!   is sent back below the line, untouched; when both do not fit in 1,000 characters the memo is left as it
//!   is (the sub-status alone marks the order). The line names the shop's own sub-status it replaces.
//! - **release**: nothing at 800/900. updateOrderSubStatus with `null` when the order's sub-status is
//!   mallguard's (by `subStatusName`, else by its id in the list), and a release line above the memo when
//!   mallguard marked the order and the line is not there yet. A sub-status that is not mallguard's is left.
//! - **cancel**: done at 900 キャンセル確定; a shipped order (500–700) is [`ActionError::Shipped`] and 400
//!   変更確定待ち refused, both without a call ([`can_cancel_order`]); else cancelOrder with
//!   `changeReasonDetailApply` 1 when the buyer asked for it, 6 otherwise ([`cancel_reason`]) and
//!   `inventoryRestoreType` 1 (the duplicate never shipped, so its units
//!   go back to RMS's stock). cancelOrder only applies for the cancellation (800 キャンセル確定待ち), so its
//!   answer, and an order found at 800 (applied for by an earlier attempt whose answer was lost, or by the
//!   shop), is [`ActionError::Accepted`]: the action stays pending, and the buyer's cancellation mail waits,
//!   until a later attempt reads 900.
//!
//! Requests per action: hold 4 the first time (getOrder, getSubStatusList, updateOrderSubStatus,
//! updateOrderMemo; 3 while the list is kept), 1 done again; release 3, 1 done again (plus a getSubStatusList
//! when getOrder gives no `subStatusName`); cancel 2 (getOrder, cancelOrder), then 1 (getOrder) per look until 900, 1 when refused or done already.
//!
//! A write's answer is read per order ([`Failure::of_write`], [`parse_write_answer`]): INFO or WARNING about
//! the order is done; an ERROR about it is [`ActionError::Refused`] with RMS's code and text; none about it is
//! [`ActionError::Later`] (re-read first). Throttling, 5xx, no answer and getOrder not finding the order yet
//! are [`ActionError::Later`] (with `Retry-After` when RMS sends one); 401 and the gateway's credential codes
//! are [`ActionError::Refused`] saying to renew the licenseKey; any other refusal is [`ActionError::Refused`].
//! The log holds the shop, the action's id and kind, and the request count; never the memo.
//!
//! Not verified against RMS: that getSubStatusList takes an empty body, cancelOrder's refusal codes and
//! their HTTP status, what a WARNING means, and that updateOrderMemo replaces the memo (it is treated so).
//!
//! # Failures
//!
//! Every answer is classified by [`Failure::of`]: HTTP 401 or a gateway authentication code is
//! [`FeedError::Unauthorized`] (the licenseKey lives 90 days: renew it); 403/429 or `QPSLimit` is
//! [`FeedError::Throttled`], with `Retry-After` when Rakuten sends one (nothing documents that it does);
//! 5xx, 408, a timeout, a refused or broken connection, or a 2xx that is not JSON is
//! [`FeedError::Unavailable`]; any other refusal (a 4xx, an ERROR message, a JSON answer of another shape)
//! is [`FeedError::Refused`]. Any failed call fails the whole read: the position does not move. No error
//! text holds a credential, and the log holds the shop and counts only.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::{CredentialsExpiry, FeedError, FeedOrder, FeedPage, OrderFeed};
use mallguard_domain::ids::{HoldId, Mall, OrderId, ShopId};
use mallguard_domain::order::OrderStatus;
use mallguard_malls::ParseError;
use mallguard_malls::rakuten::{
    self, CancelReason, DateType, Failure, GET_ORDER_MAX_NUMBERS, GET_ORDER_VERSION, InventoryRestoreType,
    MEMO_MAX_CHARS, OrderWriteState, PROGRESS_CANCELLED, SEARCH_MAX_PER_PAGE, SubStatusList, WriteOutcome,
    can_cancel_order, order_write_state, parse_get_order, parse_search_order, parse_sub_status_list,
    parse_write_answer,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use crate::actions::ShopActions;
use crate::http::{self, ConfigError, Timeouts};

/// The RMS host, where every endpoint of [`mallguard_malls::rakuten`] lives.
pub const DEFAULT_BASE_URL: &str = "https://api.rms.rakuten.co.jp";
/// searchOrder numbers per page by default: the most RMS gives.
pub const DEFAULT_PAGE_SIZE: u32 = SEARCH_MAX_PER_PAGE;
/// searchOrder pages per read by default.
pub const DEFAULT_MAX_SEARCH_PAGES: u32 = 10;
/// How far before the position a read starts: RMS is eventually consistent.
pub const DEFAULT_OVERLAP: SignedDuration = SignedDuration::from_mins(10);
/// Every read looks for the orders shipped or cancelled among those placed this long before now: the
/// matching window.
pub const DEFAULT_RECHECK: SignedDuration = SignedDuration::from_hours(48);
/// The most shipped and cancelled order numbers a position remembers, both lists together (about 120 KB of
/// JSON with RMS's 26-character numbers); past that the newest are kept, and the oldest are fetched again.
pub const MAX_REMEMBERED: usize = 4_000;
/// `orderProgress` 500 発送後, 600 支払手続き中 and 700 支払手続き済: shipped ([`OrderStatus::Shipped`]).
const PROGRESS_SHIPPED: [u32; 3] = [500, 600, 700];
/// What the window's search asks for: shipped, and 900 キャンセル確定.
const PROGRESS_SETTLED: [u32; 4] = [
    PROGRESS_SHIPPED[0],
    PROGRESS_SHIPPED[1],
    PROGRESS_SHIPPED[2],
    PROGRESS_CANCELLED,
];
/// RMS pages through the first 15,000 numbers of a search only.
const SEARCH_MAX_RESULTS: u32 = 15_000;
/// The longest search RMS takes.
const SEARCH_MAX_WINDOW: SignedDuration = SignedDuration::from_hours(24 * rakuten::SEARCH_MAX_WINDOW_DAYS);
/// How far back a search may start: RMS takes 730 days; a day is left for the clocks.
const SEARCH_MAX_AGE: SignedDuration = SignedDuration::from_hours(24 * 729);
/// The largest answer read: 100 orders of getOrder are well under a megabyte.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The two keys of RMS's ESA authentication: the shop's serviceSecret and its licenseKey (which expires
/// every 90 days; see [`RakutenFeed::license_expiry`]). Both are as secret as a password: they are sent only
/// in the `Authorization` header (and the licenseKey in the expiry API's query, as that API demands), and
/// never written to a log or an error.
#[derive(Clone)]
pub struct RakutenCredentials {
    pub service_secret: SecretString,
    pub license_key: SecretString,
}

impl fmt::Debug for RakutenCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RakutenCredentials { .. }")
    }
}

/// How a [`RakutenFeed`] reads; [`Default`] is the real RMS host with the defaults above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RakutenOptions {
    /// The RMS host (or a fake's loopback URL in tests); the endpoint paths are appended to it.
    pub base_url: String,
    pub timeouts: Timeouts,
    /// searchOrder numbers per page, 1 to 1,000.
    pub page_size: u32,
    /// searchOrder pages per read, at least 1 (and no further than RMS's 15,000th number).
    pub max_search_pages: u32,
    /// How far before the position a read starts.
    pub overlap: SignedDuration,
    /// How far back every read looks for shipped and cancelled orders (the matching window).
    pub recheck: SignedDuration,
    /// The NAME of the sub-status (サブステータス) the shop created in RMS for mallguard's holds, e.g.
    /// `mallguard保留`, for every `orderProgress` an order may be held at (100 and 300 at least): RMS has no
    /// hold, so a hold marks the order with it (and a line in its ひとことメモ), and the shop's shipping flow
    /// must skip the orders so marked. The feed finds its id per `orderProgress` with getSubStatusList.
    /// None (or blank): this feed does not hold or release; it still cancels (see the [module](self)).
    pub hold_sub_status: Option<String>,
}

impl Default for RakutenOptions {
    fn default() -> Self {
        RakutenOptions {
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeouts: Timeouts::default(),
            page_size: DEFAULT_PAGE_SIZE,
            max_search_pages: DEFAULT_MAX_SEARCH_PAGES,
            overlap: DEFAULT_OVERLAP,
            recheck: DEFAULT_RECHECK,
            hold_sub_status: None,
        }
    }
}

/// One shop's orders at Rakuten, read from RMS (see the [module](self) for what a read does).
pub struct RakutenFeed {
    shop: ShopId,
    credentials: RakutenCredentials,
    base_url: String,
    client: reqwest::Client,
    timeout: Duration,
    page_size: u32,
    max_search_pages: u32,
    overlap: SignedDuration,
    recheck: SignedDuration,
    /// When this feed last asked RMS when the licenseKey expires: it asks once a day.
    expiry_asked: std::sync::Mutex<Option<Timestamp>>,
    /// [`RakutenOptions::hold_sub_status`], trimmed; None when blank.
    hold_sub_status: Option<String>,
    /// The shop's sub-statuses as getSubStatusList last listed them, and when: kept for
    /// [`SUB_STATUSES_KEPT`], and forgotten when RMS refuses a sub-status from it.
    sub_statuses: std::sync::Mutex<Option<(std::time::Instant, SubStatusList)>>,
}

/// The `changeReasonDetailApply` of a cancellation decided `by`: 1 お客様都合・キャンセル when the buyer asked
/// for it (RMS has no 重複注文 code), 6 お客様都合・その他 otherwise (a hold that expired unanswered, a staff
/// decision), as the research notes fit them.
fn cancel_reason(by: ActionBy) -> CancelReason {
    match by {
        ActionBy::Buyer => CancelReason::DUPLICATE_ORDER,
        ActionBy::Staff | ActionBy::Deadline | ActionBy::Mall | ActionBy::Mallguard => CancelReason::BuyerOther,
    }
}

/// How soon a cancellation RMS took (800 キャンセル確定待ち) is looked at again for Rakuten's confirmation (900):
/// a getOrder each time, every five minutes at first, then less often (see [`MallAction::accepted`]).
const CANCEL_CONFIRM_WAIT: SignedDuration = SignedDuration::from_mins(5);

/// How long the list of the shop's sub-statuses is used before it is asked for again.
const SUB_STATUSES_KEPT: Duration = Duration::from_secs(60 * 60);

/// How often a feed asks RMS when its licenseKey expires.
const EXPIRY_ASKED_EVERY: SignedDuration = SignedDuration::from_hours(24);

impl fmt::Debug for RakutenFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RakutenFeed")
            .field("shop", &self.shop)
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("max_search_pages", &self.max_search_pages)
            .field("hold_sub_status", &self.hold_sub_status)
            .finish_non_exhaustive()
    }
}

/// The RMS calls, by the names the logs and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    SearchOrder,
    GetOrder,
    LicenseExpiry,
    GetSubStatusList,
    UpdateOrderSubStatus,
    UpdateOrderMemo,
    CancelOrder,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::SearchOrder => "searchOrder",
            Call::GetOrder => "getOrder",
            Call::LicenseExpiry => "licenseKey expiry",
            Call::GetSubStatusList => "getSubStatusList",
            Call::UpdateOrderSubStatus => "updateOrderSubStatus",
            Call::UpdateOrderMemo => "updateOrderMemo",
            Call::CancelOrder => "cancelOrder",
        }
    }

    /// The endpoint at the RMS host (the licence-expiry one without its query).
    fn rms_url(self) -> &'static str {
        match self {
            Call::SearchOrder => rakuten::SEARCH_ORDER_URL,
            Call::GetOrder => rakuten::GET_ORDER_URL,
            Call::LicenseExpiry => rakuten::LICENSE_EXPIRY_URL,
            Call::GetSubStatusList => rakuten::GET_SUB_STATUS_LIST_URL,
            Call::UpdateOrderSubStatus => rakuten::UPDATE_ORDER_SUB_STATUS_URL,
            Call::UpdateOrderMemo => rakuten::UPDATE_ORDER_MEMO_URL,
            Call::CancelOrder => rakuten::CANCEL_ORDER_URL,
        }
    }

    /// Whether the call writes: its answer carries one outcome per order, read with
    /// [`Failure::of_write`] and [`parse_write_answer`].
    fn is_write(self) -> bool {
        matches!(
            self,
            Call::UpdateOrderSubStatus | Call::UpdateOrderMemo | Call::CancelOrder
        )
    }
}

/// How an order of the window that was read stands, as a position remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// 500, 600 or 700: may still be cancelled (rarely; see the [module](self)), which the window's search
    /// cannot tell.
    Shipped,
    /// 900: final.
    Cancelled,
}

impl Settled {
    /// By `orderProgress`: None for an order neither shipped nor cancelled (800 included: only applied for).
    fn of_progress(progress: u32) -> Option<Settled> {
        if PROGRESS_SHIPPED.contains(&progress) {
            Some(Settled::Shipped)
        } else if progress == PROGRESS_CANCELLED {
            Some(Settled::Cancelled)
        } else {
            None
        }
    }

    /// By the status parsed from the order, which maps `orderProgress` the same way.
    fn of_status(status: OrderStatus) -> Option<Settled> {
        match status {
            OrderStatus::Shipped => Some(Settled::Shipped),
            OrderStatus::Cancelled => Some(Settled::Cancelled),
            OrderStatus::Open => None,
        }
    }
}

/// A stored position (see the [module](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Position {
    /// Every order placed up to it has been read.
    at: Timestamp,
    /// The numbers of the window read shipped or cancelled, oldest first, each once, at most
    /// [`MAX_REMEMBERED`] when this feed wrote them.
    remembered: Vec<(OrderId, Settled)>,
}

impl Position {
    /// A position this feed wrote: its JSON (with `shipped`, or without it as before shipped orders were
    /// remembered), or a plain RFC 3339 instant (the format before anything was remembered).
    fn parse(text: &str) -> Result<Position, FeedError> {
        let trimmed = text.trim();
        if !trimmed.starts_with('{') {
            return crate::parse_position("Rakuten", trimmed).map(|at| Position {
                at,
                remembered: Vec::new(),
            });
        }
        let refused = |why: &str| {
            let shown: String = trimmed.chars().take(120).collect();
            FeedError::Refused(format!(
                "the stored Rakuten position {shown:?} is not one this feed writes ({why})"
            ))
        };
        let value: serde_json::Value = serde_json::from_str(trimmed).map_err(|_| refused("not JSON"))?;
        let object = value.as_object().ok_or_else(|| refused("not a JSON object"))?;
        if object
            .keys()
            .any(|key| !matches!(key.as_str(), "at" | "cancelled" | "shipped"))
        {
            return Err(refused("it may have at, cancelled and shipped only"));
        }
        let at = object
            .get("at")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| refused("at must be a string"))?
            .parse()
            .map_err(|_| refused("at is not an RFC 3339 instant"))?;
        let numbers = |key: &str, required: bool| -> Result<Vec<OrderId>, FeedError> {
            let Some(list) = object.get(key) else {
                return if required {
                    Err(refused(&format!("{key} is missing")))
                } else {
                    Ok(Vec::new())
                };
            };
            list.as_array()
                .ok_or_else(|| refused(&format!("{key} must be a list")))?
                .iter()
                .map(|n| n.as_str().and_then(|n| OrderId::parse(n).ok()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| refused(&format!("{key} must hold order numbers")))
        };
        let cancelled = numbers("cancelled", true)?;
        let shipped = numbers("shipped", false)?;
        let mut remembered = Remembered::default();
        for number in cancelled {
            remembered.add(number, Settled::Cancelled);
        }
        for number in shipped {
            remembered.add(number, Settled::Shipped);
        }
        Ok(Position {
            at,
            remembered: remembered.list,
        })
    }

    fn encode(&self) -> String {
        let of = |settled: Settled| -> Vec<&str> {
            self.remembered
                .iter()
                .filter(|(_, s)| *s == settled)
                .map(|(n, _)| n.as_str())
                .collect()
        };
        serde_json::json!({
            "at": self.at.to_string(),
            "cancelled": of(Settled::Cancelled),
            "shipped": of(Settled::Shipped),
        })
        .to_string()
    }

    /// How the position remembers `number`, if it does.
    fn lookup(&self) -> HashMap<&OrderId, Settled> {
        self.remembered.iter().map(|(n, s)| (n, *s)).collect()
    }
}

/// Numbers with how they stand, oldest first, each once: a number added again keeps its place, and is
/// cancelled if either says so (900 is final).
#[derive(Debug, Default)]
struct Remembered {
    list: Vec<(OrderId, Settled)>,
    at: HashMap<OrderId, usize>,
}

impl Remembered {
    fn add(&mut self, number: OrderId, settled: Settled) {
        match self.at.get(&number) {
            Some(&i) => {
                if settled == Settled::Cancelled {
                    self.list[i].1 = Settled::Cancelled;
                }
            }
            None => {
                self.at.insert(number.clone(), self.list.len());
                self.list.push((number, settled));
            }
        }
    }

    /// The newest (the last) [`MAX_REMEMBERED`], and how many there were before.
    fn bounded(mut self) -> (Vec<(OrderId, Settled)>, usize) {
        let count = self.list.len();
        self.list.drain(..count.saturating_sub(MAX_REMEMBERED));
        (self.list, count)
    }
}

/// The time ranges of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// Where the new orders start (the position less the overlap, or the first run's look-back).
    new_from: Timestamp,
    /// The end of the new orders' search, whole seconds; `at` when every page is read.
    to: Timestamp,
    /// Whether `to` was pulled before now to keep the search within 63 days.
    shortened: bool,
    /// The window's search range, `[now − recheck, new_from − 1 s]` (both ends included, as RMS reads
    /// them); None when it is empty (the new orders start at or before `now − recheck`).
    settled: Option<(Timestamp, Timestamp)>,
}

/// The two searches of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    /// Every `orderProgress`.
    NewOrders,
    /// The window's: shipped (500, 600, 700) and 900 キャンセル確定.
    Settled,
}

impl Search {
    fn request(self, from: Timestamp, to: Timestamp, page: u32, per_page: u32) -> serde_json::Value {
        match self {
            Search::NewOrders => rakuten::search_order_request(DateType::Ordered, from, to, page, per_page),
            Search::Settled => rakuten::search_order_request_with_progress(
                DateType::Ordered,
                &PROGRESS_SETTLED,
                from,
                to,
                page,
                per_page,
            ),
        }
    }
}

/// What one search of a read found.
#[derive(Debug, Default)]
struct Searched {
    /// Deduplicated, in the search's order (order time ascending).
    numbers: Vec<OrderId>,
    /// Whether every page was read.
    complete: bool,
}

/// What getOrder said of one readable order.
#[derive(Debug, Clone, Copy)]
struct Returned {
    placed_at: Timestamp,
    /// By its status: None while it is neither shipped nor cancelled.
    settled: Option<Settled>,
}

/// What the getOrder calls of one read brought.
#[derive(Debug, Default)]
struct Fetched {
    orders: Vec<FeedOrder>,
    /// The readable orders, by number.
    readable: HashMap<OrderId, Returned>,
    /// The numbers of the unreadable orders, where their bytes still name one, with how they stand by the
    /// `orderProgress` the bytes still give (None when they give none, or neither shipped nor cancelled).
    unreadable: HashMap<OrderId, Option<Settled>>,
    unreadable_count: usize,
    /// Numbers a search listed that getOrder did not find (not yet visible to it), in the order asked.
    not_found: Vec<OrderId>,
}

impl RakutenFeed {
    /// A feed of `shop` with its own HTTP client (rustls, both timeouts of `options`).
    pub fn new(
        shop: ShopId,
        credentials: RakutenCredentials,
        options: RakutenOptions,
    ) -> Result<RakutenFeed, ConfigError> {
        let client = http::client(options.timeouts)?;
        RakutenFeed::with_client(shop, credentials, options, client)
    }

    /// A feed of `shop` over a client of the caller's (shared between feeds, say). Every call still gets
    /// `options.timeouts.total` as its own timeout; the connect timeout is the client's.
    pub fn with_client(
        shop: ShopId,
        credentials: RakutenCredentials,
        options: RakutenOptions,
        client: reqwest::Client,
    ) -> Result<RakutenFeed, ConfigError> {
        let page_size = options.page_size.clamp(1, SEARCH_MAX_PER_PAGE);
        Ok(RakutenFeed {
            shop,
            credentials,
            base_url: http::base_url(&options.base_url)?,
            client,
            timeout: options.timeouts.total,
            page_size,
            max_search_pages: options
                .max_search_pages
                .clamp(1, (SEARCH_MAX_RESULTS / page_size).max(1)),
            overlap: options.overlap.abs(),
            recheck: options.recheck.abs(),
            expiry_asked: std::sync::Mutex::new(None),
            hold_sub_status: options
                .hold_sub_status
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty()),
            sub_statuses: std::sync::Mutex::new(None),
        })
    }

    /// When the licenseKey stops working, from RMS's licenseKey expiry API (read as JST, which RMS writes
    /// without an offset). A key that has already expired gets [`FeedError::Unauthorized`] here too. Call it
    /// once a day and warn the staff two weeks ahead: renewing the key is a person's job in RMS.
    pub async fn license_expiry(&self, now: Timestamp) -> Result<Timestamp, FeedError> {
        let url = self.url(&rakuten::license_expiry_url(
            self.credentials.license_key.expose_secret(),
        ));
        let request = self
            .client
            .get(url)
            .header(AUTHORIZATION, self.authorization()?)
            .header(ACCEPT, "application/json");
        let answer = self.send(Call::LicenseExpiry, request, now).await?;
        let expiry = rakuten::license_expiry(&answer).map_err(|e| unreadable_answer(Call::LicenseExpiry, e))?;
        tracing::info!(mall = "rakuten", shop = %self.shop, %expiry, "read the Rakuten licenseKey expiry");
        Ok(expiry)
    }

    /// The full URL of an RMS endpoint (one of the constants of [`mallguard_malls::rakuten`]) at this
    /// feed's base URL.
    fn url(&self, rms_url: &str) -> String {
        format!(
            "{}{}",
            self.base_url,
            rms_url.strip_prefix(DEFAULT_BASE_URL).unwrap_or(rms_url)
        )
    }

    fn authorization(&self) -> Result<HeaderValue, FeedError> {
        let value = rakuten::authorization(
            self.credentials.service_secret.expose_secret(),
            self.credentials.license_key.expose_secret(),
        );
        let mut header = HeaderValue::try_from(value)
            .map_err(|_| FeedError::Refused("the Authorization header could not be built".into()))?;
        header.set_sensitive(true);
        Ok(header)
    }

    /// The ranges of the read from the position's `at` at `now`.
    fn window(&self, at: Option<Timestamp>, now: Timestamp, first_look_back: SignedDuration) -> Window {
        let back = |at: Timestamp, by: SignedDuration| at.checked_sub(by).unwrap_or(Timestamp::MIN);
        let now = crate::whole_second(now);
        let new_from = match at {
            Some(at) => back(at, self.overlap),
            None => back(now, first_look_back.abs()),
        };
        let oldest = back(now, SEARCH_MAX_AGE);
        let new_from = crate::whole_second(new_from.clamp(oldest, now));
        let longest = new_from.checked_add(SEARCH_MAX_WINDOW).unwrap_or(Timestamp::MAX);
        let settled_to = back(new_from, SignedDuration::from_secs(1));
        let settled_from = crate::whole_second(back(now, self.recheck))
            .max(oldest)
            .max(back(settled_to, SEARCH_MAX_WINDOW));
        Window {
            new_from,
            to: now.min(longest),
            shortened: longest < now,
            settled: (settled_from <= settled_to).then_some((settled_from, settled_to)),
        }
    }

    /// The order numbers `search` finds in `[from, to]`, deduplicated, up to the page cap.
    async fn search(
        &self,
        search: Search,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<Searched, FeedError> {
        let mut page = 1;
        let mut pages_read = 0;
        let mut seen = HashSet::new();
        let mut numbers = Vec::new();
        loop {
            let request = search.request(from, to, page, self.page_size);
            let answer = self.post(Call::SearchOrder, &request, now, requests).await?;
            pages_read += 1;
            let found = parse_search_order(&answer).map_err(|e| unreadable_answer(Call::SearchOrder, e))?;
            for number in found.order_numbers.iter() {
                if seen.insert(number.clone()) {
                    numbers.push(number.clone());
                }
            }
            match found.next_page() {
                None => {
                    return Ok(Searched {
                        numbers,
                        complete: true,
                    });
                }
                Some(_) if pages_read >= self.max_search_pages => {
                    return Ok(Searched {
                        numbers,
                        complete: false,
                    });
                }
                Some(next) => page = next,
            }
        }
    }

    /// The orders of `numbers`, 100 per getOrder call.
    async fn fetch(&self, numbers: &[OrderId], now: Timestamp, requests: &mut u32) -> Result<Fetched, FeedError> {
        let mut fetched = Fetched::default();
        for batch in numbers.chunks(GET_ORDER_MAX_NUMBERS) {
            let request = rakuten::get_order_request(batch, GET_ORDER_VERSION);
            let answer = self.post(Call::GetOrder, &request, now, requests).await?;
            let polled = parse_get_order(&answer, &self.shop).map_err(|e| unreadable_answer(Call::GetOrder, e))?;
            let missing = polled.len() < batch.len();
            let mut returned = HashSet::new();
            for entry in polled {
                match entry {
                    Ok((order, raw)) => {
                        let number = order.order_ref.order_id.clone();
                        returned.insert(number.clone());
                        fetched.readable.insert(
                            number,
                            Returned {
                                placed_at: order.placed_at,
                                settled: Settled::of_status(order.status),
                            },
                        );
                        fetched.orders.push(FeedOrder::Order {
                            order: Box::new(order),
                            raw,
                        });
                    }
                    Err((raw, error)) => {
                        if let Some(number) = number_of(&raw) {
                            returned.insert(number.clone());
                            let settled = order_write_state(&raw)
                                .ok()
                                .and_then(|state| Settled::of_progress(state.order_progress));
                            fetched.unreadable.insert(number, settled);
                        }
                        fetched.unreadable_count += 1;
                        fetched.orders.push(FeedOrder::Unreadable {
                            raw,
                            error: error.to_string(),
                        });
                    }
                }
            }
            if missing {
                fetched
                    .not_found
                    .extend(batch.iter().filter(|n| !returned.contains(*n)).cloned());
            }
        }
        Ok(fetched)
    }

    /// POSTs `body` as JSON to an order endpoint.
    async fn post(
        &self,
        call: Call,
        body: &serde_json::Value,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<Vec<u8>, FeedError> {
        let request = self.order_request(call, Some(body))?;
        *requests += 1;
        self.send(call, request, now).await
    }

    /// A POST to an order endpoint with the credentials, the official `Content-Type` and `body` as JSON
    /// (none for getSubStatusList, which takes no body).
    fn order_request(
        &self,
        call: Call,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::RequestBuilder, FeedError> {
        let request = self
            .client
            .post(self.url(call.rms_url()))
            .header(AUTHORIZATION, self.authorization()?)
            .header(CONTENT_TYPE, rakuten::CONTENT_TYPE)
            .header(ACCEPT, "application/json");
        Ok(match body {
            Some(body) => request.body(body.to_string()),
            None => request,
        })
    }

    /// Sends one request with the total timeout and returns the body of a successful answer, or the
    /// failure the answer (or its absence) means.
    async fn send(&self, call: Call, request: reqwest::RequestBuilder, now: Timestamp) -> Result<Vec<u8>, FeedError> {
        let (status, retry_after, body) = self.exchange(call, request, now).await?;
        match Failure::of(status, &body) {
            None => Ok(body),
            Some(failure) => Err(self.failed(call, failure, retry_after)),
        }
    }

    /// Sends one request with the total timeout and returns the answer's status, its `Retry-After` and its
    /// body, unclassified; an error only when there is no answer (or a 2xx whose body cannot be read).
    async fn exchange(
        &self,
        call: Call,
        request: reqwest::RequestBuilder,
        now: Timestamp,
    ) -> Result<(u16, Option<SignedDuration>, Vec<u8>), FeedError> {
        let name = call.name();
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::transport(name, e, self.timeout))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| http::retry_after(v, now));
        let body = match http::read_body(response, MAX_ANSWER_BYTES, name, self.timeout).await {
            Ok(body) => body,
            // A failure is classified by its status when its body cannot be read.
            Err(_) if !(200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok((status, retry_after, body))
    }

    fn failed(&self, call: Call, failure: Failure, retry_after: Option<SignedDuration>) -> FeedError {
        let name = call.name();
        let error = match failure {
            Failure::Throttled { .. } => FeedError::Throttled { retry_after },
            Failure::Unauthorized { .. } => FeedError::Unauthorized(format!("{name}: {failure}")),
            Failure::Unavailable { .. } => FeedError::Unavailable(format!("{name}: {failure}")),
            Failure::Invalid { .. } => FeedError::Refused(format!("{name}: {failure}")),
        };
        tracing::warn!(mall = "rakuten", shop = %self.shop, call = name, %failure, "a Rakuten call failed");
        error
    }
}

#[async_trait]
impl OrderFeed for RakutenFeed {
    fn mall(&self) -> Mall {
        Mall::Rakuten
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    /// The licenseKey's expiry from RMS, asked at most once a day by this feed (a process that starts asks
    /// at once; a failed asking waits a day too: the reads meet the same trouble and report it).
    async fn credentials_expiry(&self, now: Timestamp) -> Result<Option<CredentialsExpiry>, FeedError> {
        {
            let mut asked = self.expiry_asked.lock().unwrap_or_else(|e| e.into_inner());
            if asked.is_some_and(|at| now.duration_since(at) < EXPIRY_ASKED_EVERY) {
                return Ok(None);
            }
            *asked = Some(now);
        }
        let expires_at = self.license_expiry(now).await?;
        Ok(Some(CredentialsExpiry {
            expires_at,
            requests: 1,
        }))
    }

    async fn changed_since(
        &self,
        position: Option<&str>,
        now: Timestamp,
        first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError> {
        let position = position.map(Position::parse).transpose()?;
        let at = position.as_ref().map(|p| p.at);
        let window = self.window(at, now, first_look_back);
        let mut requests = 0;
        let new = self
            .search(Search::NewOrders, window.new_from, window.to, now, &mut requests)
            .await?;
        // The new orders first: when they have more pages than a read takes, the window's search waits for a
        // read that reaches now.
        let settled = match window.settled {
            Some((from, to)) if new.complete => Some(self.search(Search::Settled, from, to, now, &mut requests).await?),
            _ => None,
        };
        let remembered = position.as_ref().map(Position::lookup).unwrap_or_default();
        let listed: HashSet<&OrderId> = new.numbers.iter().collect();
        // The search does not say a number's progress: a number remembered, as shipped or as cancelled, is not
        // fetched again (so a shipped order cancelled later is not seen: see the module).
        let newly_settled: Vec<OrderId> = settled
            .iter()
            .flat_map(|s| &s.numbers)
            .filter(|n| !remembered.contains_key(n) && !listed.contains(n))
            .cloned()
            .collect();
        let numbers: Vec<OrderId> = new.numbers.iter().chain(&newly_settled).cloned().collect();
        let fetched = self.fetch(&numbers, now, &mut requests).await?;

        // A search cut short has read every order placed up to the newest one read (it is ascending), and
        // the reads before this one those up to the position: the next read starts at the later of the two,
        // less the overlap.
        let mut next_at = if new.complete {
            window.to
        } else {
            new.numbers
                .iter()
                .filter_map(|n| fetched.readable.get(n).map(|r| r.placed_at))
                .max()
                .max(at)
                .unwrap_or(window.new_from)
        };
        // A new order getOrder did not find yet was placed no earlier than the order found before it in the
        // search: the next read starts there (never before the position), while that lies in the window.
        let missing: HashSet<&OrderId> = fetched.not_found.iter().collect();
        let mut held_back = false;
        if let Some(first_missing) = new.numbers.iter().position(|n| missing.contains(n)) {
            let floor = at.unwrap_or(window.new_from);
            let before = new.numbers[..first_missing]
                .iter()
                .filter_map(|n| fetched.readable.get(n).map(|r| r.placed_at))
                .max()
                .unwrap_or(floor)
                .max(floor);
            let window_start = now.checked_sub(self.recheck).unwrap_or(Timestamp::MIN);
            if before >= window_start && before < next_at {
                next_at = before;
                held_back = true;
            }
        }

        // How a number read this time stands: by its status, or an unreadable one by the progress its bytes
        // give.
        let read_as = |n: &OrderId| -> Option<Settled> {
            match fetched.readable.get(n) {
                Some(returned) => returned.settled,
                None => fetched.unreadable.get(n).copied().flatten(),
            }
        };
        // A number of the window's search fetched this time: unreadable without a progress, it is remembered
        // as shipped (it is quarantined once, not on every read).
        let settled_now = |n: &OrderId| -> Option<Settled> {
            match fetched.unreadable.get(n) {
                Some(None) => Some(Settled::Shipped),
                _ => read_as(n),
            }
        };
        let mut next_remembered = Remembered::default();
        match &settled {
            // What the search no longer lists has left the window. The search is by order time ascending:
            // the list stays oldest first.
            Some(search) if search.complete => {
                for n in &search.numbers {
                    if let Some(s) = remembered.get(n).copied().or_else(|| settled_now(n)) {
                        next_remembered.add(n.clone(), s);
                    }
                }
            }
            // Cut short: what the pages not read list is not known, so everything remembered is kept.
            Some(search) => {
                for (n, s) in position.iter().flat_map(|p| &p.remembered) {
                    next_remembered.add(n.clone(), *s);
                }
                for n in search.numbers.iter().filter(|n| !remembered.contains_key(n)) {
                    if let Some(s) = settled_now(n) {
                        next_remembered.add(n.clone(), s);
                    }
                }
            }
            None => {
                for (n, s) in position.iter().flat_map(|p| &p.remembered) {
                    next_remembered.add(n.clone(), *s);
                }
            }
        }
        // New orders read shipped or cancelled: the window's search lists them once they are older than the
        // overlap.
        for n in &new.numbers {
            if let Some(s) = read_as(n) {
                next_remembered.add(n.clone(), s);
            }
        }
        let (remembered_next, before_bound) = next_remembered.bounded();
        let more = !new.complete || window.shortened;
        let next = Position {
            at: next_at,
            remembered: remembered_next,
        };
        let count = |settled: Settled| next.remembered.iter().filter(|(_, s)| *s == settled).count();
        let fetched_as = |settled: Settled| newly_settled.iter().filter(|n| read_as(n) == Some(settled)).count();
        tracing::info!(
            mall = "rakuten",
            shop = %self.shop,
            from = %window.new_from,
            to = %window.to,
            searched = new.numbers.len(),
            window_listed = settled.as_ref().map_or(0, |s| s.numbers.len()),
            window_fetched = newly_settled.len(),
            shipped_fetched = fetched_as(Settled::Shipped),
            cancelled_fetched = fetched_as(Settled::Cancelled),
            shipped_remembered = count(Settled::Shipped),
            cancelled_remembered = count(Settled::Cancelled),
            orders = fetched.orders.len() - fetched.unreadable_count,
            unreadable = fetched.unreadable_count,
            not_found = fetched.not_found.len(),
            requests,
            more,
            next = %next.at,
            "read the Rakuten orders"
        );
        if window.settled.is_some() && settled.is_none() {
            tracing::info!(
                mall = "rakuten",
                shop = %self.shop,
                "more new Rakuten orders than one read takes: the shipped and cancelled orders of the window are \
                 looked for once the reads reach now"
            );
        }
        if settled.as_ref().is_some_and(|s| !s.complete) {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                max_pages = self.max_search_pages,
                "more shipped and cancelled Rakuten orders in the window than one search read takes: the later \
                 ones are not seen"
            );
        }
        if before_bound > MAX_REMEMBERED {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                settled = before_bound,
                remembered = MAX_REMEMBERED,
                "more shipped and cancelled Rakuten orders in the window than the position remembers: the oldest \
                 are fetched again by each read while there are"
            );
        }
        if !fetched.not_found.is_empty() {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                not_found = fetched.not_found.len(),
                held_back,
                "getOrder did not find orders searchOrder listed; the next reads look for them again while they lie \
                 in the matching window"
            );
        }
        Ok(FeedPage {
            orders: fetched.orders,
            next: next.encode(),
            more,
            requests,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Actions: hold (a mark), release, cancel
// ---------------------------------------------------------------------------------------------------------

/// The marker of mallguard's hold line in the ひとことメモ: found again, the line is not written twice.
fn hold_marker(hold: &HoldId) -> String {
    format!("【mallguard保留 {hold}】")
}

/// The marker of mallguard's release line.
fn release_marker(hold: &HoldId) -> String {
    format!("【mallguard保留解除 {hold}】")
}

/// The hold line: the duplicate named by the order it duplicates, and the sub-status the shop had set
/// before, which the hold replaces (the release clears the sub-status: the staff may set it again).
fn hold_line(action: &MallAction, previous_sub_status: Option<&str>) -> String {
    let mut line = format!(
        "{}重複注文の疑い(元の注文 {})。確認が済むまで発送しないでください。",
        hold_marker(&action.hold),
        action.original.order_id
    );
    if let Some(previous) = previous_sub_status {
        line.push_str(&format!("(それまでのサブステータス: {previous})"));
    }
    line
}

fn release_line(action: &MallAction) -> String {
    format!("{}保留を解除しました。発送できます。", release_marker(&action.hold))
}

/// The memo with `line` above the shop's own text, which is kept whole; None when the two do not fit in
/// RMS's 1,000 characters (then the memo is left as it is, rather than cut).
fn memo_with(line: &str, memo: Option<&str>) -> Option<String> {
    let memo = match memo {
        Some(memo) => format!("{line}\n{memo}"),
        None => line.to_owned(),
    };
    (memo.chars().count() <= MEMO_MAX_CHARS).then_some(memo)
}

/// `orderProgress` as RMS names it, for the staff.
fn progress_label(progress: u32) -> String {
    let name = match progress {
        100 => "注文確認待ち",
        200 => "楽天処理中",
        300 => "発送待ち",
        400 => "変更確定待ち",
        500 => "発送後",
        600 => "支払手続き中",
        700 => "支払手続き済",
        800 => "キャンセル確定待ち",
        900 => "キャンセル確定",
        _ => return progress.to_string(),
    };
    format!("{progress} {name}")
}

/// Whether the order has left the shop (発送後 and the payment steps after it).
fn has_shipped(progress: u32) -> bool {
    (500..=700).contains(&progress)
}

/// Whether the order is cancelled or its cancellation applied for (800, 900).
fn is_cancelling(progress: u32) -> bool {
    matches!(progress, 800 | PROGRESS_CANCELLED)
}

/// A failed call as an action's error: what passes (throttling, an outage, no answer) is tried again
/// later, honouring `Retry-After`; refused credentials and refused requests need a person.
fn action_error(call: Call, error: FeedError, retry_after: Option<SignedDuration>) -> ActionError {
    match error {
        FeedError::Throttled { retry_after } => ActionError::Later {
            message: format!("{}: Rakuten throttled the request", call.name()),
            retry_after,
        },
        FeedError::Unavailable(message) => ActionError::Later { message, retry_after },
        FeedError::Unauthorized(message) | FeedError::Refused(message) => ActionError::Refused(message),
    }
}

/// What one write did to the one order it names.
fn written(call: Call, answer: &[u8], number: &OrderId) -> Result<Vec<rakuten::Message>, ActionError> {
    let read = parse_write_answer(answer, std::slice::from_ref(number))
        .map_err(|e| action_error(call, unreadable_answer(call, e), None))?;
    match read.outcome(number) {
        Some(WriteOutcome::Done { messages }) => Ok(messages.clone()),
        Some(WriteOutcome::Refused { code, message }) => Err(ActionError::Refused(format!(
            "{}: Rakuten refused it for this order: {code}: {message}",
            call.name()
        ))),
        _ => Err(ActionError::Later {
            message: format!(
                "{}: the answer does not say what became of the order; it is read again before the next try",
                call.name()
            ),
            retry_after: None,
        }),
    }
}

impl RakutenFeed {
    /// POSTs `body` (none for getSubStatusList) to an order endpoint for an action and returns the body of
    /// an answer that is no failure of the request (a write's answer still holds its per-order outcome).
    async fn act_call(
        &self,
        call: Call,
        body: Option<&serde_json::Value>,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<Vec<u8>, ActionError> {
        let request = self
            .order_request(call, body)
            .map_err(|e| action_error(call, e, None))?;
        *requests += 1;
        let (status, retry_after, answer) = self
            .exchange(call, request, now)
            .await
            .map_err(|e| action_error(call, e, None))?;
        let failure = if call.is_write() {
            Failure::of_write(status, &answer)
        } else {
            Failure::of(status, &answer)
        };
        match failure {
            None => Ok(answer),
            Some(failure) => Err(action_error(call, self.failed(call, failure, retry_after), retry_after)),
        }
    }

    /// The order as getOrder has it now: its progress, sub-status and memo.
    async fn write_state(
        &self,
        number: &OrderId,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<OrderWriteState, ActionError> {
        let request = rakuten::get_order_request(std::slice::from_ref(number), GET_ORDER_VERSION);
        let answer = self.act_call(Call::GetOrder, Some(&request), now, requests).await?;
        let polled = parse_get_order(&answer, &self.shop)
            .map_err(|e| action_error(Call::GetOrder, unreadable_answer(Call::GetOrder, e), None))?;
        let raw = polled
            .into_iter()
            .map(|entry| entry.map_or_else(|(raw, _)| raw, |(_, raw)| raw))
            .find(|raw| number_of(raw).as_ref() == Some(number));
        let Some(raw) = raw else {
            return Err(ActionError::Later {
                message: "getOrder does not find the order (yet: RMS is eventually consistent)".into(),
                retry_after: None,
            });
        };
        order_write_state(&raw).map_err(|e| {
            ActionError::Refused(format!(
                "getOrder: the order's orderProgress, sub-status or memo cannot be read: {e}"
            ))
        })
    }

    /// The shop's sub-statuses: the list kept, or a fresh one when there is none, it is old, or `fresh`.
    async fn sub_statuses(
        &self,
        fresh: bool,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<SubStatusList, ActionError> {
        if !fresh {
            let kept = lock(&self.sub_statuses);
            if let Some((at, list)) = kept.as_ref()
                && at.elapsed() < SUB_STATUSES_KEPT
            {
                return Ok(list.clone());
            }
        }
        let answer = self.act_call(Call::GetSubStatusList, None, now, requests).await?;
        let list = parse_sub_status_list(&answer).map_err(|e| {
            action_error(
                Call::GetSubStatusList,
                unreadable_answer(Call::GetSubStatusList, e),
                None,
            )
        })?;
        *lock(&self.sub_statuses) = Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    /// The id of the shop's sub-status `name` for orders at `progress`: from the list kept, else from a
    /// fresh one (the shop may have created it since).
    async fn hold_sub_status_id(
        &self,
        name: &str,
        progress: u32,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<u32, ActionError> {
        let before = *requests;
        let kept = self.sub_statuses(false, now, requests).await?;
        if let Some(sub_status) = kept.named(progress, name) {
            return Ok(sub_status.id);
        }
        // A list just asked for is not asked for again.
        let list = if *requests > before {
            kept
        } else {
            self.sub_statuses(true, now, requests).await?
        };
        list.named(progress, name).map(|s| s.id).ok_or_else(|| {
            ActionError::Refused(format!(
                "the shop has no sub-status named {name:?} for orders at orderProgress {} in RMS: create it \
                 there (サブステータス設定) for every orderProgress an order may be held at, or mark the order by \
                 hand",
                progress_label(progress)
            ))
        })
    }

    /// Whether the order's sub-status is mallguard's: by the name getOrder gives, else by its id in the list.
    async fn is_ours(
        &self,
        state: &OrderWriteState,
        name: &str,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<bool, ActionError> {
        let Some(id) = state.sub_status_id else {
            return Ok(false);
        };
        if let Some(named) = &state.sub_status_name {
            return Ok(named.trim() == name);
        }
        let list = self.sub_statuses(false, now, requests).await?;
        Ok(list.sub_statuses.iter().any(|s| s.id == id && s.name == name))
    }

    /// Sets (or clears, with None) the sub-status of the one order.
    async fn write_sub_status(
        &self,
        number: &OrderId,
        sub_status_id: Option<u32>,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<(), ActionError> {
        let request = rakuten::update_order_sub_status_request(sub_status_id, std::slice::from_ref(number));
        let answer = self
            .act_call(Call::UpdateOrderSubStatus, Some(&request), now, requests)
            .await?;
        let result = written(Call::UpdateOrderSubStatus, &answer, number);
        if matches!(result, Err(ActionError::Refused(_))) {
            // The id may be stale (the shop recreated the sub-status): the next action asks again.
            *lock(&self.sub_statuses) = None;
        }
        self.log_warnings(Call::UpdateOrderSubStatus, &result?);
        Ok(())
    }

    /// Writes `line` above the order's memo; false when the memo is too full to take it (left as it is).
    async fn write_memo(
        &self,
        state: &OrderWriteState,
        line: &str,
        now: Timestamp,
        requests: &mut u32,
    ) -> Result<bool, ActionError> {
        let Some(memo) = memo_with(line, state.memo.as_deref()) else {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                "the order's ひとことメモ is too full for mallguard's line: it is left as it is"
            );
            return Ok(false);
        };
        let request = rakuten::update_order_memo_request(&state.order_number, &memo);
        let answer = self
            .act_call(Call::UpdateOrderMemo, Some(&request), now, requests)
            .await?;
        let messages = written(Call::UpdateOrderMemo, &answer, &state.order_number)?;
        self.log_warnings(Call::UpdateOrderMemo, &messages);
        Ok(true)
    }

    fn log_warnings(&self, call: Call, messages: &[rakuten::Message]) {
        for warning in messages
            .iter()
            .filter(|m| m.message_type.eq_ignore_ascii_case("WARNING"))
        {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                call = call.name(),
                code = %warning.code,
                "Rakuten answered a write with a WARNING; it is taken as done"
            );
        }
    }

    /// The hold: mallguard's sub-status on the order, and a line above its memo naming the order it
    /// duplicates. Each is written only when missing, so a hold done again writes nothing.
    async fn hold(&self, action: &MallAction, now: Timestamp, requests: &mut u32) -> Result<Performed, ActionError> {
        let name = self.configured_sub_status()?;
        let state = self.write_state(&action.order.order_id, now, requests).await?;
        let progress = state.order_progress;
        if is_cancelling(progress) {
            return Err(ActionError::Refused(format!(
                "the order is already cancelled or being cancelled at Rakuten (orderProgress {}): there is \
                 nothing to hold",
                progress_label(progress)
            )));
        }
        if has_shipped(progress) {
            return Err(ActionError::Refused(format!(
                "the order has already shipped (orderProgress {}): it is too late to hold it",
                progress_label(progress)
            )));
        }
        let noted = state
            .memo
            .as_deref()
            .is_some_and(|m| m.contains(&hold_marker(&action.hold)));
        let named_ours = state.sub_status_name.as_deref().map(str::trim) == Some(name);
        let mut reference = match (named_ours, state.sub_status_id) {
            (true, Some(id)) => format!("subStatusId {id}"),
            _ => {
                let id = self.hold_sub_status_id(name, progress, now, requests).await?;
                if state.sub_status_id != Some(id) {
                    self.write_sub_status(&state.order_number, Some(id), now, requests)
                        .await?;
                }
                format!("subStatusId {id}")
            }
        };
        if !noted {
            let previous = state.sub_status_name.as_deref().filter(|n| n.trim() != name);
            if !self
                .write_memo(&state, &hold_line(action, previous), now, requests)
                .await?
            {
                reference.push_str("; the memo is too full for mallguard's line");
            }
        }
        Ok(Performed::changed(Some(reference)))
    }

    /// The release: mallguard's sub-status cleared (when it is still on the order), and a line above the
    /// memo saying so (when mallguard marked the order). An order with neither needs nothing; a cancelled
    /// order is never shipped, so it needs nothing either.
    async fn release(&self, action: &MallAction, now: Timestamp, requests: &mut u32) -> Result<Performed, ActionError> {
        let name = self.configured_sub_status()?;
        let state = self.write_state(&action.order.order_id, now, requests).await?;
        if is_cancelling(state.order_progress) {
            return Ok(Performed::changed(Some(format!(
                "nothing to release: orderProgress {}",
                progress_label(state.order_progress)
            ))));
        }
        let memo = state.memo.as_deref().unwrap_or_default();
        let ours = self.is_ours(&state, name, now, requests).await?;
        if ours {
            self.write_sub_status(&state.order_number, None, now, requests).await?;
        }
        let held_here = ours || memo.contains(&hold_marker(&action.hold));
        if held_here && !memo.contains(&release_marker(&action.hold)) {
            self.write_memo(&state, &release_line(action), now, requests).await?;
        }
        Ok(Performed::changed(Some(if ours {
            "subStatusId cleared".to_owned()
        } else {
            "no mallguard sub-status to clear".to_owned()
        })))
    }

    /// The cancellation: cancelOrder, only for an order at 100, 200 or 300. An order cancelled (900) or
    /// whose cancellation was applied for (800: by this action before its answer was lost, or by someone
    /// else) is done; a shipped one is refused without a call.
    ///
    /// `inventoryRestoreType` is 1 (在庫連動する): the duplicate never shipped, so its units are still on the
    /// shelf, and RMS's stock gets them back (0, the items' own setting, would leave some items short by
    /// the duplicate's units when they are set not to restore).
    async fn cancel(&self, action: &MallAction, now: Timestamp, requests: &mut u32) -> Result<Performed, ActionError> {
        let state = self.write_state(&action.order.order_id, now, requests).await?;
        let progress = state.order_progress;
        if progress == PROGRESS_CANCELLED {
            return Ok(Performed::changed(Some(format!(
                "orderProgress {}",
                progress_label(progress)
            ))));
        }
        if is_cancelling(progress) {
            return Err(ActionError::Accepted {
                reference: None,
                message: format!(
                    "the cancellation is applied for (orderProgress {}): done once Rakuten confirms it (900)",
                    progress_label(progress)
                ),
                check_after: CANCEL_CONFIRM_WAIT,
            });
        }
        if has_shipped(progress) {
            return Err(ActionError::Shipped(format!(
                "orderProgress {}: cancelOrder takes orders at 100 注文確認待ち, 200 楽天処理中 or 300 発送待ち only",
                progress_label(progress)
            )));
        }
        if !can_cancel_order(progress) {
            return Err(ActionError::Refused(format!(
                "the order may not be cancelled now (orderProgress {}): cancelOrder takes orders at 100 \
                 注文確認待ち, 200 楽天処理中 or 300 発送待ち only; cancel it by hand in RMS if it must be",
                progress_label(progress)
            )));
        }
        let request = rakuten::cancel_order_request(
            &state.order_number,
            InventoryRestoreType::Restore,
            cancel_reason(action.by),
        );
        let answer = self.act_call(Call::CancelOrder, Some(&request), now, requests).await?;
        let messages = written(Call::CancelOrder, &answer, &state.order_number)?;
        self.log_warnings(Call::CancelOrder, &messages);
        Err(ActionError::Accepted {
            reference: messages.first().map(|m| m.code.clone()).filter(|c| !c.is_empty()),
            message: "RMS took the cancellation (800 キャンセル確定待ち): done once Rakuten confirms it (900)".into(),
            check_after: CANCEL_CONFIRM_WAIT,
        })
    }

    fn configured_sub_status(&self) -> Result<&str, ActionError> {
        self.hold_sub_status.as_deref().ok_or_else(|| {
            ActionError::Refused(
                "RMS has no hold, and this deployment has no sub-status configured to mark a held Rakuten order \
                 with: hold or release it by hand"
                    .into(),
            )
        })
    }
}

#[async_trait]
impl ShopActions for RakutenFeed {
    fn mall(&self) -> Mall {
        Mall::Rakuten
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    /// Hold and release only with [`RakutenOptions::hold_sub_status`] (RMS has no hold: the order is
    /// marked); cancel always.
    fn can(&self, kind: ActionKind) -> bool {
        match kind {
            ActionKind::Hold | ActionKind::Release => self.hold_sub_status.is_some(),
            ActionKind::Cancel => true,
        }
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        let now = Timestamp::now();
        let mut requests = 0;
        let order = &action.order;
        let result = if order.mall != Mall::Rakuten || order.shop != self.shop {
            Err(ActionError::Refused(format!(
                "the order is at {} shop {}, not Rakuten shop {}",
                order.mall, order.shop, self.shop
            )))
        } else {
            match action.kind {
                ActionKind::Hold => self.hold(action, now, &mut requests).await,
                ActionKind::Release => self.release(action, now, &mut requests).await,
                ActionKind::Cancel => self.cancel(action, now, &mut requests).await,
            }
        };
        match &result {
            Ok(_) => tracing::info!(
                mall = "rakuten",
                shop = %self.shop,
                action = %action.id,
                kind = %action.kind,
                requests,
                "did a Rakuten action"
            ),
            Err(error) => tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                action = %action.id,
                kind = %action.kind,
                requests,
                later = matches!(error, ActionError::Later { .. }),
                "a Rakuten action was not done"
            ),
        }
        result
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The order number an OrderModel's bytes name, if they are JSON with one.
fn number_of(raw: &[u8]) -> Option<OrderId> {
    let order: serde_json::Value = serde_json::from_slice(raw).ok()?;
    OrderId::parse(order.get("orderNumber")?.as_str()?).ok()
}

/// A successful answer that cannot be read: not JSON at all (a maintenance page) is unavailability, JSON of
/// another shape a refusal that a person must look at.
fn unreadable_answer(call: Call, error: ParseError) -> FeedError {
    let name = call.name();
    match error {
        ParseError::NotJson(_) => FeedError::Unavailable(format!("{name}: the answer is not JSON: {error}")),
        _ => FeedError::Refused(format!("{name}: the answer cannot be read: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(options: RakutenOptions) -> RakutenFeed {
        let credentials = RakutenCredentials {
            service_secret: SecretString::from("SP000000_secret"),
            license_key: SecretString::from("SL000000_key"),
        };
        RakutenFeed::new(ShopId::parse("tea-shop").unwrap(), credentials, options).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn every_endpoint_is_on_the_rms_host() {
        for call in [
            Call::SearchOrder,
            Call::GetOrder,
            Call::LicenseExpiry,
            Call::GetSubStatusList,
            Call::UpdateOrderSubStatus,
            Call::UpdateOrderMemo,
            Call::CancelOrder,
        ] {
            assert!(call.rms_url().starts_with(DEFAULT_BASE_URL), "{call:?}");
            assert_eq!(
                call.is_write(),
                matches!(
                    call,
                    Call::UpdateOrderSubStatus | Call::UpdateOrderMemo | Call::CancelOrder
                )
            );
        }
        assert!(rakuten::license_expiry_url("k").starts_with(rakuten::LICENSE_EXPIRY_URL));
        let fake = feed(RakutenOptions {
            base_url: "http://127.0.0.1:4000/".into(),
            ..RakutenOptions::default()
        });
        assert_eq!(
            fake.url(rakuten::SEARCH_ORDER_URL),
            "http://127.0.0.1:4000/es/2.0/order/searchOrder/"
        );
        assert_eq!(
            feed(RakutenOptions::default()).url(rakuten::GET_ORDER_URL),
            rakuten::GET_ORDER_URL
        );
    }

    #[test]
    fn the_window_is_the_new_orders_and_the_shipped_and_cancelled_orders_before_them() {
        let reader = feed(RakutenOptions::default());
        let now = at("2026-11-23T03:30:00.750Z");
        // Steady state: the new orders from the position less the overlap, the shipped and cancelled orders of
        // the 48 hours before them.
        let window = reader.window(Some(at("2026-11-23T03:25:00Z")), now, SignedDuration::from_hours(24));
        assert_eq!(window.to, at("2026-11-23T03:30:00Z"));
        assert_eq!(window.new_from, at("2026-11-23T03:15:00Z"));
        assert_eq!(
            window.settled,
            Some((at("2026-11-21T03:30:00Z"), at("2026-11-23T03:14:59Z")))
        );
        assert!(!window.shortened);
        // First run looking back a week: the window lies within the new orders, no search of the window.
        let window = reader.window(None, now, SignedDuration::from_hours(24 * 7));
        assert_eq!(window.new_from, at("2026-11-16T03:30:00Z"));
        assert_eq!(window.settled, None);
        // Looking back a day: the shipped and cancelled orders of the day before it.
        let window = reader.window(None, now, SignedDuration::from_hours(24));
        assert_eq!(
            window.settled,
            Some((at("2026-11-21T03:30:00Z"), at("2026-11-22T03:29:59Z")))
        );
        // A position three months old is caught up 63 days at a time, with no search of the window.
        let window = reader.window(Some(at("2026-08-01T00:10:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.new_from, at("2026-08-01T00:00:00Z"));
        assert_eq!(window.to, at("2026-10-03T00:00:00Z"));
        assert!(window.shortened);
        assert_eq!(window.settled, None);
        // A position ahead of the clock reads up to now.
        let window = reader.window(Some(at("2026-11-24T00:00:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.to, at("2026-11-23T03:30:00Z"));
        assert_eq!(window.new_from, window.to);
        // RMS searches 730 days back at most.
        let window = reader.window(None, now, SignedDuration::from_hours(24 * 10_000));
        assert_eq!(window.new_from, at("2024-11-24T03:30:00Z"));
        // A matching window over 63 days is searched 63 days back from the new orders.
        let long = feed(RakutenOptions {
            recheck: SignedDuration::from_hours(24 * 100),
            ..RakutenOptions::default()
        });
        let window = long.window(Some(at("2026-11-23T03:25:00Z")), now, SignedDuration::ZERO);
        assert_eq!(
            window.settled,
            Some((at("2026-09-21T03:14:59Z"), at("2026-11-23T03:14:59Z")))
        );
        // No matching window: one search.
        let none = feed(RakutenOptions {
            recheck: SignedDuration::ZERO,
            ..RakutenOptions::default()
        });
        let window = none.window(Some(at("2026-11-23T03:25:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.settled, None);
    }

    #[test]
    fn options_are_brought_into_range() {
        let feed = feed(RakutenOptions {
            page_size: 5000,
            max_search_pages: 100,
            ..RakutenOptions::default()
        });
        assert_eq!(feed.page_size, 1000);
        assert_eq!(feed.max_search_pages, 15);
        assert!(
            RakutenFeed::new(
                ShopId::parse("s").unwrap(),
                RakutenCredentials {
                    service_secret: SecretString::from("a"),
                    license_key: SecretString::from("b"),
                },
                RakutenOptions {
                    base_url: "http://rms.example".into(),
                    ..RakutenOptions::default()
                },
            )
            .is_err()
        );
    }

    #[test]
    fn nothing_secret_is_printed() {
        let feed = feed(RakutenOptions::default());
        let printed = format!("{feed:?} {:?}", feed.credentials);
        assert!(
            !printed.contains("SL000000_key") && !printed.contains("SP000000_secret"),
            "{printed}"
        );
        assert!(format!("{:?}", feed.authorization().unwrap()).contains("Sensitive"));
    }

    fn number(n: u32) -> OrderId {
        OrderId::parse(&format!("386193-20261123-{n:010}")).unwrap()
    }

    fn cancelled(n: u32) -> (OrderId, Settled) {
        (number(n), Settled::Cancelled)
    }

    fn shipped(n: u32) -> (OrderId, Settled) {
        (number(n), Settled::Shipped)
    }

    #[test]
    fn the_position_is_compact_json_and_reads_back() {
        let position = Position {
            at: at("2026-11-23T03:30:00Z"),
            remembered: vec![cancelled(12345), shipped(12346), cancelled(12401)],
        };
        let text = position.encode();
        assert_eq!(
            text,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":["386193-20261123-0000012345","386193-20261123-0000012401"],"shipped":["386193-20261123-0000012346"]}"#
        );
        // Read back, each list keeps its order (the cancelled first).
        assert_eq!(
            Position::parse(&text).unwrap().remembered,
            [cancelled(12345), cancelled(12401), shipped(12346)]
        );
        let empty = Position {
            at: at("2026-11-23T03:30:00Z"),
            remembered: Vec::new(),
        };
        assert_eq!(
            empty.encode(),
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":[]}"#
        );
        assert_eq!(Position::parse(&format!(" {} ", empty.encode())).unwrap(), empty);
    }

    #[test]
    fn the_formats_written_before_are_read() {
        // A plain instant: nothing remembered.
        assert_eq!(
            Position::parse("2026-11-23T03:30:00Z").unwrap(),
            Position {
                at: at("2026-11-23T03:30:00Z"),
                remembered: Vec::new()
            }
        );
        assert_eq!(
            crate::parse_position("Rakuten", "2026-11-23T03:30:00Z").unwrap(),
            at("2026-11-23T03:30:00Z")
        );
        // The cancellations alone: no shipped order remembered.
        assert_eq!(
            Position::parse(
                r#"{"at":"2026-11-23T03:30:00Z","cancelled":["386193-20261123-0000012345","386193-20261123-0000012401"]}"#
            )
            .unwrap(),
            Position {
                at: at("2026-11-23T03:30:00Z"),
                remembered: vec![cancelled(12345), cancelled(12401)]
            }
        );
    }

    #[test]
    fn a_number_in_both_lists_is_cancelled_and_repeats_count_once() {
        let text = r#"{"at":"2026-11-23T03:30:00Z","cancelled":["386193-20261123-0000012345","386193-20261123-0000012345"],"shipped":["386193-20261123-0000012346","386193-20261123-0000012345","386193-20261123-0000012346"]}"#;
        assert_eq!(
            Position::parse(text).unwrap().remembered,
            [cancelled(12345), shipped(12346)]
        );
        // Shipped, then cancelled: cancelled, in its first place.
        let mut remembered = Remembered::default();
        remembered.add(number(1), Settled::Shipped);
        remembered.add(number(2), Settled::Shipped);
        remembered.add(number(1), Settled::Cancelled);
        remembered.add(number(2), Settled::Shipped);
        assert_eq!(remembered.list, [cancelled(1), shipped(2)]);
        // Cancelled stays cancelled.
        remembered.add(number(1), Settled::Shipped);
        assert_eq!(remembered.list, [cancelled(1), shipped(2)]);
    }

    #[test]
    fn a_position_this_feed_never_wrote_is_refused() {
        for refused in [
            "yesterday",
            "",
            "{",
            "[]",
            r#"{"at":"2026-11-23T03:30:00Z"}"#,
            r#"{"at":"2026-11-23T03:30:00Z","shipped":[]}"#,
            r#"{"at":"yesterday","cancelled":[]}"#,
            r#"{"at":1795000000,"cancelled":[]}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":"386193-20261123-0000012345"}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[12345]}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":["a/b"]}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"more":true}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":null}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":["386193-20261123-0000012345",1]}"#,
            r#"{"at":"2026-11-23T03:30:00Z","cancelled":[],"shipped":[],"returned":[]}"#,
        ] {
            assert!(
                matches!(Position::parse(refused), Err(FeedError::Refused(_))),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn the_remembered_numbers_are_bounded_together_to_the_newest() {
        // 5,000 numbers, every third shipped, the others cancelled, oldest first.
        let mut remembered = Remembered::default();
        let all: Vec<(OrderId, Settled)> = (0..5_000)
            .map(|n| if n % 3 == 0 { shipped(n) } else { cancelled(n) })
            .collect();
        for (n, s) in &all {
            remembered.add(n.clone(), *s);
        }
        let (kept, count) = remembered.bounded();
        assert_eq!(count, 5_000);
        assert_eq!(kept.len(), MAX_REMEMBERED);
        assert_eq!(kept, all[1_000..]);
        let position = Position {
            at: at("2026-11-23T03:30:00Z"),
            remembered: kept,
        };
        let text = position.encode();
        // Far under DynamoDB's 400 KB item.
        assert!(text.len() < 128 * 1024, "{} bytes", text.len());
        let read = Position::parse(&text).unwrap();
        assert_eq!(read.remembered.len(), MAX_REMEMBERED);
        assert_eq!(read.lookup().len(), MAX_REMEMBERED);
    }

    #[test]
    fn the_window_lists_the_shipped_and_the_cancelled_orders() {
        assert_eq!(PROGRESS_SETTLED, [500, 600, 700, 900]);
        for progress in [500, 600, 700] {
            assert_eq!(Settled::of_progress(progress), Some(Settled::Shipped));
        }
        assert_eq!(Settled::of_progress(900), Some(Settled::Cancelled));
        // 800 is only applied for: not remembered, so that its 900 is read.
        for progress in [100, 200, 300, 400, 800, 950] {
            assert_eq!(Settled::of_progress(progress), None);
        }
        assert_eq!(Settled::of_status(OrderStatus::Shipped), Some(Settled::Shipped));
        assert_eq!(Settled::of_status(OrderStatus::Cancelled), Some(Settled::Cancelled));
        assert_eq!(Settled::of_status(OrderStatus::Open), None);
        let request = Search::Settled.request(at("2026-11-21T03:30:00Z"), at("2026-11-23T03:14:59Z"), 1, 1000);
        assert_eq!(request["orderProgressList"], serde_json::json!([500, 600, 700, 900]));
    }

    fn action(kind: ActionKind) -> MallAction {
        let shop = ShopId::parse("tea-shop").unwrap();
        let held = mallguard_domain::ids::OrderRef::new(Mall::Rakuten, shop.clone(), number(12345));
        let original = mallguard_domain::ids::OrderRef::new(Mall::Rakuten, shop, number(11111));
        MallAction::new(
            kind,
            &HoldId::for_order(&held),
            &held,
            &original,
            at("2026-11-23T03:30:00Z"),
        )
    }

    #[test]
    fn the_memo_lines_are_found_again_by_their_markers() {
        let hold = action(ActionKind::Hold);
        let line = hold_line(&hold, Some("同梱待ち"));
        assert!(line.starts_with(&hold_marker(&hold.hold)));
        assert!(
            line.contains("386193-20261123-0000011111") && line.contains("同梱待ち"),
            "{line}"
        );
        let release = release_line(&hold);
        assert!(release.starts_with(&release_marker(&hold.hold)));
        // Neither marker is found in the other's line.
        assert!(!release.contains(&hold_marker(&hold.hold)));
        assert!(!line.contains(&release_marker(&hold.hold)));
        // Above the shop's memo, which is kept whole, or not at all when the two do not fit.
        assert_eq!(memo_with("A", None).as_deref(), Some("A"));
        assert_eq!(memo_with("A", Some("shop")).as_deref(), Some("A\nshop"));
        let full = "メ".repeat(MEMO_MAX_CHARS - 2);
        assert_eq!(
            memo_with("A", Some(&full)).map(|m| m.chars().count()),
            Some(MEMO_MAX_CHARS)
        );
        assert_eq!(memo_with("AB", Some(&full)), None);
    }

    #[test]
    fn the_progress_is_named_for_the_staff() {
        assert_eq!(progress_label(300), "300 発送待ち");
        assert_eq!(progress_label(500), "500 発送後");
        assert_eq!(progress_label(950), "950");
        assert!((500..=700).all(has_shipped) && !has_shipped(400) && !has_shipped(800));
        assert!(is_cancelling(800) && is_cancelling(900) && !is_cancelling(300));
    }

    #[test]
    fn a_failed_call_passes_or_needs_a_person() {
        let wait = Some(SignedDuration::from_secs(30));
        assert_eq!(
            action_error(Call::CancelOrder, FeedError::Throttled { retry_after: wait }, None),
            ActionError::Later {
                message: "cancelOrder: Rakuten throttled the request".into(),
                retry_after: wait
            }
        );
        assert_eq!(
            action_error(Call::GetOrder, FeedError::Unavailable("503".into()), wait),
            ActionError::Later {
                message: "503".into(),
                retry_after: wait
            }
        );
        assert_eq!(
            action_error(Call::GetOrder, FeedError::Unauthorized("401".into()), wait),
            ActionError::Refused("401".into())
        );
        assert_eq!(
            action_error(Call::GetOrder, FeedError::Refused("400".into()), None),
            ActionError::Refused("400".into())
        );
    }
}
