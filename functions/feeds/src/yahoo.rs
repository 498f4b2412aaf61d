//! Yahoo!ショッピング: the store API (ストア向けAPI) read as an [`OrderFeed`], over the pure requests and parsers
//! of [`mallguard_malls::yahoo`]. One feed reads one seller (the shop id is the seller id).
//!
//! # Authorisation
//!
//! Every call carries `Authorization: Bearer <access token>`. The access token (one hour) comes from Yahoo!
//! ID連携 v2's token endpoint with the app's refresh token ([`YahooCredentials`]); the feed keeps it, with its
//! expiry, and refreshes it when it has none or it is about to expire. An answer saying the token expired
//! (`401`, `error="invalid_token"`) refreshes it once and tries the call again; a second refusal is
//! [`FeedError::Unauthorized`]. Yahoo does not rotate the refresh token on a refresh (so the research notes);
//! should a token answer ever carry a new one, the feed uses it from then on and
//! [`YahooFeed::rotated_refresh_token`] returns it, so the caller can write it back to its secrets. The refresh
//! token lives four weeks: when the token endpoint answers `invalid_grant` (or an API call `px-04307`), a
//! person must authorise the app again.
//!
//! With the store's public key configured, every call also carries `X-sws-signature` (and
//! `X-sws-signature-version`): without it, the order API's session ends after 12 hours (`px-04102`, which is
//! [`FeedError::Unauthorized`]: a person must authorise again). An answer saying the signature was not
//! accepted (`X-SWS-Authorize-Status`) fails nothing, but is logged as a warning.
//!
//! # One read
//!
//! The position is an RFC 3339 instant: every order placed up to it has been read. orderList finds orders by
//! order time only (no "updated since" condition could be verified), so a read makes one search by order
//! time, oldest first, over:
//!
//! - the new orders, from the position less an overlap (10 minutes), or from `now − first_look_back` on the
//!   first run;
//! - the orders of the last 48 hours (the matching window) again, for their cancellations.
//!
//! The search's pages (`Start`/`Result`) are followed up to [`YahooOptions::max_list_pages`], the order ids
//! deduplicated. orderInfo is then called once per order (Yahoo gives one order per call) for the orders the
//! read must look at: those placed since the new orders' start, and the older ones whose `LastUpdateTime` is
//! since then too (or is not given); on the first read (no position), every order listed. A re-read order that has not changed since the previous read is thus
//! listed but not fetched again: the cost of a read is one token refresh at most, one orderList per page,
//! and one orderInfo per new or changed order.
//!
//! What a read cannot see: a change to an order placed more than 48 hours ago (only orders in the re-read
//! window are listed again); a change that does not move `LastUpdateTime` (its behaviour is not documented:
//! a cancellation is taken to move it); an order that becomes visible to orderList more than the overlap
//! after its order time (held for fraud screening, say) and more than 48 hours after it. Calls are spaced
//! [`YahooOptions::min_spacing`] apart (Yahoo asks for one query per second), so a read of many orders is
//! slow: at one second apart, 100 new orders take 100 seconds.
//!
//! A busy store can have more orders in the 48 hours than one read lists. The search, oldest first, would
//! then list the same re-read orders on every read and never reach a new one; so when it stops short of the
//! position, the new orders get a search of their own in the same read (changes to the re-read orders it did
//! not reach wait for a quieter read, and a warning says so).
//!
//! A read fetches at most [`YahooOptions::max_fetch`] orders (the deployed poll: 40, well under a minute at
//! one call a second), oldest first, and the page says `more`: cut short among the re-read's changed orders,
//! `next` stays the position (it never moves back); among the new ones, it is the order time of the last one
//! fetched. The position remembers the orders fetched that the next read would fetch again (placed within its
//! overlap, or changed since its new orders' start) with their `LastUpdateTime` (compact JSON,
//! `{"at":…,"fetched":[{"id":…,"placed":…,"updated":…}]}`; a plain instant when there are none), and the next
//! read does not fetch those again unless Yahoo says they changed since: so the overlap costs nothing, and a
//! burst of more changes than a read fetches is read over several reads, each order once.
//!
//! `next` is the search's end, so the next read starts `overlap` before it. When the search has more pages
//! than one read takes, the page says `more` and `next` is the order time of the newest order listed (or the
//! position, when that is later): the search is ascending, so every order placed before it was listed.
//!
//! # Actions
//!
//! As [`ShopActions`], a feed holds, releases and cancels its store's orders with orderStatusChange. Each
//! action first reads the order with orderInfo (the read's own request and [`parse_order_info`]) and asks
//! [`OrderInfo::check_change`]: an order that already has the status asked for is done without a change (so
//! an action done again, or retried after a lost answer, changes nothing); a change Yahoo's transition table
//! forbids (a reservation cannot be held, a cancelled order is final), one its fraud screening forbids
//! (`FraudHoldStatus` 1 or 3: only a cancel) are refused without a change, in words the staff read; a cancel
//! of an order that has shipped (`ShipStatus` 3 or 4, or `OrderStatus` 5: Yahoo would take it) and a hold of
//! one (too late) are [`ActionError::Shipped`] without a change, so the hold settles as shipped. Otherwise one
//! orderStatusChange ([`yahoo::status_change_request`]):
//!
//! | action | `OrderStatus` | `CancelReason` | requests |
//! |---|---|---|---|
//! | hold | 2 処理中 → 3 保留 | | orderInfo + orderStatusChange |
//! | release | 3 → 2 処理中 | | orderInfo + orderStatusChange |
//! | cancel | 1, 2, 3 → 4 キャンセル | 160 重複注文 | orderInfo + orderStatusChange |
//!
//! (one token refresh more when the access token is missing or expired; orderInfo alone when nothing is
//! sent). The answer is read with [`yahoo::order_status_change_outcome`]: OK, or OK with a `Warning`, is done;
//! a refusal of the change (`Cannot Be Operated : …`, an `od9…` code) is [`ActionError::Refused`] with
//! Yahoo's words; 5xx, the daily cap, a 429 (not documented by Yahoo), no answer, and a 2xx that says nothing
//! understood (whether the status changed is unknown: the next try reads the order first) are
//! [`ActionError::Later`], with `Retry-After` when Yahoo sends one (the daily cap: until midnight JST); an
//! expired session or a refresh token Yahoo no longer takes is [`ActionError::Refused`], as a person must
//! authorise the app again. Calls keep the feed's spacing and its token. The log holds the shop, the
//! action's id and kind, and the request count.
//!
//! The cancel's `CancelReason` is 160 重複注文 (注文者都合) whoever decided it (the buyer, the staff, the
//! deadline): the order is cancelled as a duplicate in every case, and the research notes' other codes name
//! other causes.
//!
//! Not verified: the HTTP status of a refused change (any status below 500 is read), `IsPointFix` false for
//! a hold and a release, and that Yahoo's 保留 is the store's own. An order found on 保留 already is
//! [`Performed::found`]: on mallguard's first request that hold is somebody else's, and the use cases then
//! never release it.
//!
//! # Failures
//!
//! Every answer is classified by [`yahoo::classify`]: an expired access token is refreshed once, then
//! [`FeedError::Unauthorized`]; an expired session or a refresh token Yahoo no longer takes is
//! [`FeedError::Unauthorized`] saying a person must authorise the app again; the daily cap (403 `Your Request
//! was Forbidden`) is [`FeedError::Throttled`] until midnight JST, when the cap resets; 5xx, a timeout, a
//! refused or broken connection, or an answer that is not XML is [`FeedError::Unavailable`]; any other
//! refusal is [`FeedError::Refused`]. No error text or log line holds a credential or a buyer's data: the
//! log holds the shop and counts.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::{CredentialsExpiry, FeedError, FeedOrder, FeedPage, OrderFeed, RotatedCredential};
use mallguard_domain::ids::{Mall, OrderId, ShopId};
use mallguard_domain::policy::jst;
use mallguard_malls::ParseError;
use mallguard_malls::yahoo::{
    self, AuthorizeStatus, ChangeBlocked, Failure, ORDER_INFO_FIELDS, ORDER_LIST_FIELDS, OrderInfo, StatusChange,
    StatusChangeError, StatusChangeOutcome, parse_order_info, parse_order_list,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use crate::actions::ShopActions;
use crate::http::{self, ConfigError, Timeouts};

/// orderList orders per page by default (Yahoo documents no maximum; clients use 100 to 2,000).
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// orderList pages per read by default.
pub const DEFAULT_MAX_LIST_PAGES: u32 = 5;
/// How far before the position a read starts.
pub const DEFAULT_OVERLAP: SignedDuration = SignedDuration::from_mins(10);
/// The orders placed this long before now are listed again on every read, for their cancellations.
pub const DEFAULT_RECHECK: SignedDuration = SignedDuration::from_hours(48);
/// The least time between two calls: Yahoo asks for one query per second.
pub const DEFAULT_MIN_SPACING: Duration = Duration::from_secs(1);
/// The largest orderList page `page_size` may ask for.
const MAX_PAGE_SIZE: u32 = 2_000;
/// The largest answer read: an orderList page of 2,000 short entries is well under this.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// An access token this close to its expiry is refreshed before use.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// How long an access token lives when the token answer does not say (Yahoo's are 3,600 seconds).
const DEFAULT_TOKEN_LIFETIME: u64 = 3_600;

/// The app's credentials for one store. All as secret as a password: sent only in headers and the token
/// request's form, never written to a log or an error.
#[derive(Clone)]
pub struct YahooCredentials {
    /// The Client ID (アプリケーションID) of the app approved for the order API.
    pub client_id: SecretString,
    pub client_secret: SecretString,
    /// The refresh token of the store's consent (four weeks).
    pub refresh_token: SecretString,
    /// The store public key from ストアクリエイターPro 「設定 > 暗号鍵管理」 (PEM); without it the order API's
    /// session ends after 12 hours.
    pub public_key_pem: Option<SecretString>,
    /// That key's version, sent as `X-sws-signature-version`.
    pub public_key_version: Option<SecretString>,
    /// When the store gave its consent (the refresh token's issue): the token lives [`CONSENT_LIFETIME`], so
    /// the staff are warned before it ends. None: nobody said; no warning, and the read fails when it ends.
    pub authorized_at: Option<Timestamp>,
}

/// How long a store's consent (its refresh token) lives at Yahoo! ID連携: four weeks.
pub const CONSENT_LIFETIME: SignedDuration = SignedDuration::from_hours(28 * 24);

/// How often a feed reports when the store's consent ends (the poll use case warns once a day).
const CONSENT_TOLD_EVERY: SignedDuration = SignedDuration::from_hours(24);

impl fmt::Debug for YahooCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("YahooCredentials { .. }")
    }
}

/// How a [`YahooFeed`] reads; [`Default`] is Yahoo's hosts with the defaults above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooOptions {
    /// The store API's base URL, to which `orderList` and `orderInfo` are appended; None is Yahoo's for the
    /// seller ([`yahoo::base_url`]: the test environment for sandbox sellers `snbx-…`).
    pub base_url: Option<String>,
    /// The token endpoint.
    pub token_url: String,
    pub timeouts: Timeouts,
    /// orderList orders per page, 1 to 2,000.
    pub page_size: u32,
    /// orderList pages per read, at least 1.
    pub max_list_pages: u32,
    /// How far before the position a read starts.
    pub overlap: SignedDuration,
    /// How far back every read lists the orders again (the matching window), for their cancellations.
    pub recheck: SignedDuration,
    /// The least time between the starts of two calls of this feed (0 in tests).
    pub min_spacing: Duration,
    /// The most orders fetched with orderInfo in one read (None: every order the read lists and must look
    /// at). At one call a second this bounds a read's time; the rest wait for the next read (see the module
    /// documentation, "One read").
    pub max_fetch: Option<usize>,
}

impl Default for YahooOptions {
    fn default() -> Self {
        YahooOptions {
            base_url: None,
            token_url: yahoo::TOKEN_URL.to_owned(),
            timeouts: Timeouts::default(),
            page_size: DEFAULT_PAGE_SIZE,
            max_list_pages: DEFAULT_MAX_LIST_PAGES,
            overlap: DEFAULT_OVERLAP,
            recheck: DEFAULT_RECHECK,
            min_spacing: DEFAULT_MIN_SPACING,
            max_fetch: None,
        }
    }
}

/// An access token and when to stop using it.
struct AccessToken {
    token: SecretString,
    expires: Instant,
}

/// One seller's orders at Yahoo!ショッピング (see the [module](self) for what a read does).
pub struct YahooFeed {
    shop: ShopId,
    credentials: YahooCredentials,
    base_url: String,
    token_url: String,
    client: reqwest::Client,
    timeout: Duration,
    page_size: u32,
    max_list_pages: u32,
    overlap: SignedDuration,
    recheck: SignedDuration,
    min_spacing: Duration,
    max_fetch: Option<usize>,
    /// The access token in use, if any.
    access: Mutex<Option<AccessToken>>,
    /// A refresh token a token answer carried in place of the configured one.
    rotated: Mutex<Option<SecretString>>,
    /// When the last call started; calls wait their turn on this lock.
    last_call: tokio::sync::Mutex<Option<Instant>>,
    /// When the end of the store's consent was last reported (see [`CONSENT_TOLD_EVERY`]).
    consent_told: Mutex<Option<Timestamp>>,
}

impl fmt::Debug for YahooFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("YahooFeed")
            .field("shop", &self.shop)
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("max_list_pages", &self.max_list_pages)
            .field("min_spacing", &self.min_spacing)
            .finish_non_exhaustive()
    }
}

/// The calls of a read and of an action, by the names the logs and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Token,
    OrderList,
    OrderInfo,
    OrderStatusChange,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Token => "token refresh",
            Call::OrderList => "orderList",
            Call::OrderInfo => "orderInfo",
            Call::OrderStatusChange => "orderStatusChange",
        }
    }

    /// The store API endpoint, appended to the base URL (the token refresh is never sent there: the token
    /// endpoint has its own URL).
    fn path(self) -> &'static str {
        match self {
            Call::Token | Call::OrderInfo => "orderInfo",
            Call::OrderList => "orderList",
            Call::OrderStatusChange => "orderStatusChange",
        }
    }
}

/// An answer of the store API, unclassified.
struct Answered {
    status: u16,
    headers: mallguard_malls::Headers,
    retry_after: Option<SignedDuration>,
    body: Vec<u8>,
}

/// Where a read starts: every order placed up to `at` has been read, and of the orders placed within the
/// overlap before it, `fetched` were fetched at their `updated` time (so the overlap does not fetch them
/// again). Stored as a plain RFC 3339 instant when nothing is remembered, else as compact JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Position {
    at: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fetched: Vec<Fetched>,
}

/// An order a read fetched: its id, when it was placed, and its `LastUpdateTime` then.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Fetched {
    id: String,
    placed: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated: Option<Timestamp>,
}

/// The most orders a position remembers (a read's cap, or a busy overlap); past it, the oldest are
/// forgotten and merely fetched again.
const MAX_REMEMBERED: usize = 200;

impl Position {
    fn parse(text: &str) -> Result<Position, FeedError> {
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|e| {
                FeedError::Refused(format!("the stored Yahoo position is not one this feed wrote ({e})"))
            });
        }
        Ok(Position {
            at: crate::parse_position("Yahoo", text)?,
            fetched: vec![],
        })
    }

    fn write(&self) -> String {
        if self.fetched.is_empty() {
            self.at.to_string()
        } else {
            serde_json::to_string(self).unwrap_or_else(|_| self.at.to_string())
        }
    }
}

/// The time range of one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// The start of the search: the older of the new orders' start and the re-read's.
    from: Timestamp,
    /// Where the new orders start (the position less the overlap, or the first run's look-back).
    new_from: Timestamp,
    /// The end of the search, whole seconds; `next` when every page is read.
    to: Timestamp,
    /// Whether this is the first read (no position): every order listed is fetched.
    first: bool,
}

/// What one read has done so far.
#[derive(Debug, Default)]
struct Progress {
    requests: u32,
    /// Whether an answer said the public-key signature was not accepted.
    signature_refused: bool,
}

/// What the orderList pages of one read found.
#[derive(Debug)]
struct Listed {
    /// The ids to fetch with orderInfo, in listing order (oldest first), with their order and update times.
    to_fetch: Vec<(OrderId, Option<Timestamp>, Option<Timestamp>)>,
    /// How many orders were listed (deduplicated).
    listed: usize,
    /// Whether every page was read.
    complete: bool,
    /// The newest order time listed.
    newest: Option<Timestamp>,
}

impl YahooFeed {
    /// A feed of the seller `shop` with its own HTTP client (rustls, both timeouts of `options`).
    pub fn new(shop: ShopId, credentials: YahooCredentials, options: YahooOptions) -> Result<YahooFeed, ConfigError> {
        let client = http::client(options.timeouts)?;
        YahooFeed::with_client(shop, credentials, options, client)
    }

    /// A feed of `shop` over a client of the caller's. Every call still gets `options.timeouts.total` as its
    /// own timeout; the connect timeout is the client's.
    pub fn with_client(
        shop: ShopId,
        credentials: YahooCredentials,
        options: YahooOptions,
        client: reqwest::Client,
    ) -> Result<YahooFeed, ConfigError> {
        let base_url = options.base_url.as_deref().unwrap_or_else(|| yahoo::base_url(&shop));
        if credentials.public_key_pem.is_none() {
            tracing::warn!(
                mall = "yahoo",
                shop = %shop,
                "no store public key in the secret: Yahoo! ends the order API's session after 12 hours, and a \
                 person must then authorise the app again"
            );
        }
        if credentials.authorized_at.is_none() {
            tracing::info!(
                mall = "yahoo",
                shop = %shop,
                "no authorized_at in the secret: nobody is warned before the store's consent (four weeks) ends"
            );
        }
        Ok(YahooFeed {
            base_url: http::base_url(base_url)?,
            token_url: http::base_url(&options.token_url)?,
            shop,
            credentials,
            client,
            timeout: options.timeouts.total,
            page_size: options.page_size.clamp(1, MAX_PAGE_SIZE),
            max_list_pages: options.max_list_pages.max(1),
            overlap: options.overlap.abs(),
            recheck: options.recheck.abs(),
            min_spacing: options.min_spacing,
            max_fetch: options.max_fetch,
            access: Mutex::new(None),
            rotated: Mutex::new(None),
            last_call: tokio::sync::Mutex::new(None),
            consent_told: Mutex::new(None),
        })
    }

    /// The refresh token a token answer carried in place of the configured one, if Yahoo ever sent one
    /// (the research notes say it does not rotate them). The feed uses it from then on; write it back to the
    /// secrets so the next start does too, since the old one may no longer work.
    pub fn rotated_refresh_token(&self) -> Option<SecretString> {
        lock(&self.rotated).clone()
    }

    /// The range of the read from `position` at `now`.
    fn window(&self, position: Option<Timestamp>, now: Timestamp, first_look_back: SignedDuration) -> Window {
        let back = |at: Timestamp, by: SignedDuration| at.checked_sub(by).unwrap_or(Timestamp::MIN);
        let now = crate::whole_second(now);
        let new_from = match position {
            Some(position) => back(position, self.overlap),
            None => back(now, first_look_back.abs()),
        };
        let new_from = crate::whole_second(new_from.min(now));
        Window {
            from: new_from.min(back(now, self.recheck)),
            new_from,
            to: now,
            first: position.is_none(),
        }
    }

    /// The orders of `window`, deduplicated, up to the page cap, and which of them to fetch.
    async fn list(
        &self,
        window: &Window,
        remembered: &[Fetched],
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<Listed, FeedError> {
        let mut start = 1;
        let mut pages_read = 0;
        let mut seen = HashSet::new();
        let mut to_fetch = Vec::new();
        let mut newest = None;
        loop {
            let body = yahoo::order_list_request(
                &self.shop,
                window.from,
                window.to,
                start,
                self.page_size,
                &ORDER_LIST_FIELDS,
            );
            let answer = self.call(Call::OrderList, body, now, progress).await?;
            pages_read += 1;
            let page = parse_order_list(&answer).map_err(|e| unreadable_answer(Call::OrderList, e))?;
            for order in &page.orders {
                if !seen.insert(order.order_id.clone()) {
                    continue;
                }
                newest = newest.max(order.order_time);
                // An order placed before the new orders' start was read by an earlier read: fetch it again
                // only when Yahoo says it changed since (or does not say when it changed).
                let new = order.order_time.is_none_or(|t| t >= window.new_from);
                let changed = order.last_update_time.is_none_or(|t| t >= window.new_from);
                // Fetched by an earlier read, unchanged since (the overlap lists it again).
                let known = order.last_update_time.is_some()
                    && remembered
                        .iter()
                        .any(|f| f.id == order.order_id.as_str() && f.updated == order.last_update_time);
                if (window.first || new || changed) && !known {
                    to_fetch.push((order.order_id.clone(), order.order_time, order.last_update_time));
                }
            }
            match page.next_start(start, self.page_size) {
                None => {
                    return Ok(Listed {
                        to_fetch,
                        listed: seen.len(),
                        complete: true,
                        newest,
                    });
                }
                Some(_) if pages_read >= self.max_list_pages => {
                    return Ok(Listed {
                        to_fetch,
                        listed: seen.len(),
                        complete: false,
                        newest,
                    });
                }
                Some(next) => start = next,
            }
        }
    }

    /// The orders `ids`, one orderInfo call each; with how many could not be read.
    async fn fetch(
        &self,
        ids: &[OrderId],
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<(Vec<FeedOrder>, usize), FeedError> {
        let mut orders = Vec::with_capacity(ids.len());
        let mut unreadable = 0;
        for id in ids {
            let body = yahoo::order_info_request(&self.shop, id, &ORDER_INFO_FIELDS);
            let answer = self.call(Call::OrderInfo, body, now, progress).await?;
            match parse_order_info(&answer, &self.shop) {
                Ok((info, raw)) => orders.push(FeedOrder::Order {
                    order: Box::new(info.order),
                    raw,
                }),
                Err((raw, error)) => {
                    unreadable += 1;
                    orders.push(FeedOrder::Unreadable {
                        raw,
                        error: error.to_string(),
                    });
                }
            }
        }
        Ok((orders, unreadable))
    }

    /// POSTs `body` to a store API endpoint with the access token, refreshing the token once when Yahoo says
    /// it expired, and returns the body of a successful answer.
    async fn call(
        &self,
        call: Call,
        body: String,
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<Vec<u8>, FeedError> {
        let answer = self.exchange(call, body, now, progress).await?;
        match yahoo::classify(answer.status, &answer.headers, &answer.body) {
            None => Ok(answer.body),
            Some(failure) => Err(self.failed(call, failure, answer.retry_after, now)),
        }
    }

    /// POSTs `body` to a store API endpoint with the access token (and the signature, with a public key),
    /// refreshing the token once when Yahoo says it expired, and returns the answer unclassified; an error
    /// only when there is no answer, or no token.
    async fn exchange(
        &self,
        call: Call,
        body: String,
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<Answered, FeedError> {
        let name = call.name();
        let url = format!("{}/{}", self.base_url, call.path());
        let mut refreshed = false;
        loop {
            let token = self.access_token(now, progress).await?;
            let mut request = self
                .client
                .post(&url)
                .header(
                    AUTHORIZATION,
                    sensitive(&yahoo::bearer_authorization(token.expose_secret()))?,
                )
                .header(CONTENT_TYPE, yahoo::CONTENT_TYPE)
                .header(ACCEPT, "application/xml")
                .body(body.clone());
            if let Some(pem) = &self.credentials.public_key_pem {
                let signature = yahoo::sws_signature(&self.shop, Timestamp::now().as_second(), pem.expose_secret())
                    .map_err(|e| FeedError::Refused(format!("{name}: the store public key cannot be used: {e}")))?;
                request = request.header(yahoo::SIGNATURE_HEADER, sensitive(&signature)?);
                if let Some(version) = &self.credentials.public_key_version {
                    request = request.header(yahoo::SIGNATURE_VERSION_HEADER, sensitive(version.expose_secret())?);
                }
            }
            let (status, headers, retry_after, answer) = self.send(call, request, now, progress).await?;
            if self.credentials.public_key_pem.is_some()
                && yahoo::authorize_status(&headers) != AuthorizeStatus::Authorized
                && (200..300).contains(&status)
            {
                progress.signature_refused = true;
            }
            if !refreshed
                && matches!(
                    yahoo::classify(status, &headers, &answer),
                    Some(Failure::TokenExpired { .. })
                )
            {
                tracing::info!(mall = "yahoo", shop = %self.shop, call = name, "the Yahoo access token expired: refreshing it");
                *lock(&self.access) = None;
                refreshed = true;
                continue;
            }
            return Ok(Answered {
                status,
                headers,
                retry_after,
                body: answer,
            });
        }
    }

    /// The access token to use: the one kept, or a fresh one when there is none or it is about to expire.
    async fn access_token(&self, now: Timestamp, progress: &mut Progress) -> Result<SecretString, FeedError> {
        if let Some(access) = lock(&self.access).as_ref()
            && access.expires > Instant::now() + TOKEN_MARGIN
        {
            return Ok(access.token.clone());
        }
        let refresh_token = self
            .rotated_refresh_token()
            .unwrap_or_else(|| self.credentials.refresh_token.clone());
        let form = yahoo::token_refresh_form(refresh_token.expose_secret());
        let basic = yahoo::basic_authorization(
            self.credentials.client_id.expose_secret(),
            self.credentials.client_secret.expose_secret(),
        );
        let request = self
            .client
            .post(&self.token_url)
            .header(AUTHORIZATION, sensitive(&basic)?)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form_urlencoded(&form));
        let started = Instant::now();
        let (status, headers, retry_after, answer) = self.send(Call::Token, request, now, progress).await?;
        if let Some(failure) = yahoo::classify(status, &headers, &answer) {
            return Err(self.failed(Call::Token, failure, retry_after, now));
        }
        let token = yahoo::parse_token_response(&answer).map_err(|e| {
            FeedError::Refused(format!(
                "{}: the answer cannot be read: {}",
                Call::Token.name(),
                without_detail(&e)
            ))
        })?;
        if let Some(rotated) = token.refresh_token
            && rotated.expose_secret() != refresh_token.expose_secret()
        {
            tracing::warn!(
                mall = "yahoo",
                shop = %self.shop,
                "Yahoo sent a new refresh token: it is used from now on, and must be written back to the secrets"
            );
            *lock(&self.rotated) = Some(rotated);
        }
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
        *lock(&self.access) = Some(AccessToken {
            token: token.access_token.clone(),
            expires: started + lifetime,
        });
        tracing::info!(mall = "yahoo", shop = %self.shop, expires_in = lifetime.as_secs(), "refreshed the Yahoo access token");
        Ok(token.access_token)
    }

    /// Waits for this call's turn (at least `min_spacing` after the last call started), sends the request
    /// with the total timeout and returns the status, the headers [`yahoo::classify`] reads, `Retry-After`
    /// and the body.
    async fn send(
        &self,
        call: Call,
        request: reqwest::RequestBuilder,
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<(u16, mallguard_malls::Headers, Option<SignedDuration>, Vec<u8>), FeedError> {
        let name = call.name();
        {
            let mut last = self.last_call.lock().await;
            if let Some(last) = *last {
                let ready = last + self.min_spacing;
                let waiting = ready.saturating_duration_since(Instant::now());
                if !waiting.is_zero() {
                    tokio::time::sleep(waiting).await;
                }
            }
            *last = Some(Instant::now());
        }
        progress.requests += 1;
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::transport(name, e, self.timeout))?;
        let status = response.status().as_u16();
        let headers = yahoo::response_headers(|header| response.headers().get(header).and_then(|v| v.to_str().ok()));
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
        Ok((status, headers, retry_after, body))
    }

    fn failed(&self, call: Call, failure: Failure, retry_after: Option<SignedDuration>, now: Timestamp) -> FeedError {
        let name = call.name();
        let error = match &failure {
            Failure::TokenExpired { .. } => FeedError::Unauthorized(format!(
                "{name}: {failure}, again after a token refresh: check the app's credentials"
            )),
            Failure::SessionExpired | Failure::ReauthorizationNeeded { .. } => FeedError::Unauthorized(format!(
                "{name}: {failure}: a person must authorise the app for the store again in Yahoo! (and set the \
                 store public key, without which the session ends after 12 hours)"
            )),
            Failure::QuotaExceeded => FeedError::Throttled {
                retry_after: retry_after.or_else(|| until_jst_midnight(now)),
            },
            Failure::Throttled => FeedError::Throttled { retry_after },
            Failure::Unavailable { .. } => FeedError::Unavailable(format!("{name}: {failure}")),
            Failure::Refused { .. } => FeedError::Refused(format!("{name}: {failure}")),
        };
        tracing::warn!(mall = "yahoo", shop = %self.shop, call = name, kind = error.kind(), "a Yahoo call failed");
        error
    }
}

#[async_trait]
impl OrderFeed for YahooFeed {
    fn mall(&self) -> Mall {
        Mall::Yahoo
    }

    fn rotated_credential(&self) -> Option<RotatedCredential> {
        self.rotated_refresh_token().map(|value| RotatedCredential {
            mall: Mall::Yahoo,
            shop: self.shop.clone(),
            field: "refresh_token",
            value,
        })
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    /// When the store's consent ends: [`CONSENT_LIFETIME`] after `authorized_at`, reported once a day (it
    /// costs no request; the poll use case warns the staff from two weeks before).
    async fn credentials_expiry(&self, now: Timestamp) -> Result<Option<CredentialsExpiry>, FeedError> {
        let Some(authorized_at) = self.credentials.authorized_at else {
            return Ok(None);
        };
        {
            let mut told = lock(&self.consent_told);
            if told.is_some_and(|at| now.duration_since(at) < CONSENT_TOLD_EVERY) {
                return Ok(None);
            }
            *told = Some(now);
        }
        Ok(Some(CredentialsExpiry {
            expires_at: authorized_at.checked_add(CONSENT_LIFETIME).unwrap_or(Timestamp::MAX),
            requests: 0,
        }))
    }

    async fn changed_since(
        &self,
        position: Option<&str>,
        now: Timestamp,
        first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError> {
        let stored = position.map(Position::parse).transpose()?;
        let position = stored.as_ref().map(|p| p.at);
        let remembered = stored.map(|p| p.fetched).unwrap_or_default();
        let window = self.window(position, now, first_look_back);
        let mut progress = Progress::default();
        let mut listed = self.list(&window, &remembered, now, &mut progress).await?;
        // The one search starts with the re-read's older orders. Cut short before it reached the position (a
        // busy store: more orders in the matching window than one read lists), it would list the same old
        // orders on every read and never a new one; so the new orders get a search of their own.
        let stalled = !listed.complete && listed.newest.is_none_or(|newest| position.is_some_and(|p| newest <= p));
        if stalled && window.from < window.new_from {
            let new_only = Window {
                from: window.new_from,
                ..window
            };
            let new = self.list(&new_only, &remembered, now, &mut progress).await?;
            tracing::warn!(
                mall = "yahoo",
                shop = %self.shop,
                listed = listed.listed,
                "more orders in the re-read window than one read lists: the new orders were searched apart, and \
                 changes to the later re-read orders wait for a quieter read"
            );
            let mut fetching: HashSet<OrderId> = listed.to_fetch.iter().map(|(id, ..)| id.clone()).collect();
            listed
                .to_fetch
                .extend(new.to_fetch.into_iter().filter(|(id, ..)| fetching.insert(id.clone())));
            listed.listed += new.listed;
            listed.complete = new.complete;
            listed.newest = new.newest;
        }
        // More to fetch than one read takes: the oldest first (the listing's order). Every order placed up to
        // the last one fetched that needed fetching has been, so the next read starts there (less the
        // overlap; it may be before the position): the orders after it are new to it, except those this read
        // fetched, which the position remembers.
        // The re-read's changed orders come first (they are older): a read cut short among them keeps its
        // position (it never moves back) and remembers what it fetched, so the next read takes the next ones;
        // cut short among the new orders, it moves up to the last one fetched.
        let capped_at = match self.max_fetch {
            Some(cap) if listed.to_fetch.len() > cap => {
                listed.to_fetch.truncate(cap.max(1));
                let last_new = listed
                    .to_fetch
                    .iter()
                    .filter_map(|(_, placed, _)| *placed)
                    .filter(|placed| window.first || *placed >= window.new_from)
                    .max();
                Some(match (position, last_new) {
                    (Some(position), last_new) => last_new.map_or(position, |last| last.max(position)),
                    (None, Some(last)) => last,
                    (None, None) => window.new_from,
                })
            }
            _ => None,
        };
        let ids: Vec<OrderId> = listed.to_fetch.iter().map(|(id, ..)| id.clone()).collect();
        let (orders, unreadable) = self.fetch(&ids, now, &mut progress).await?;
        // A search cut short has listed every order placed up to the newest one listed (it is ascending),
        // and the reads before this one those up to the position.
        let next = if let Some(last_fetched) = capped_at {
            last_fetched
        } else if listed.complete {
            window.to
        } else {
            listed.newest.max(position).unwrap_or(window.new_from)
        };
        let more = capped_at.is_some() || !listed.complete;
        // What was fetched and that the next read would fetch again (placed within its overlap, or changed since
        // its new orders' start) is remembered, so that read does not fetch it again unless it changed since.
        let overlap_from = next.checked_sub(self.overlap).unwrap_or(Timestamp::MIN);
        let just_fetched = listed.to_fetch.iter().filter_map(|(id, placed, updated)| {
            placed.map(|placed| Fetched {
                id: id.as_str().to_owned(),
                placed,
                updated: *updated,
            })
        });
        let mut fetched: Vec<Fetched> = just_fetched.collect();
        let fresh: HashSet<String> = fetched.iter().map(|f| f.id.clone()).collect();
        fetched.extend(remembered.into_iter().filter(|f| !fresh.contains(&f.id)));
        fetched.retain(|f| f.placed >= overlap_from || f.updated.is_some_and(|updated| updated >= overlap_from));
        fetched.sort_by_key(|f| std::cmp::Reverse(f.placed));
        fetched.truncate(MAX_REMEMBERED);
        fetched.reverse();
        let next = Position { at: next, fetched };
        if progress.signature_refused {
            tracing::warn!(
                mall = "yahoo",
                shop = %self.shop,
                "Yahoo did not accept the X-sws-signature: the order API session ends after 12 hours; check the \
                 store public key and its version"
            );
        }
        tracing::info!(
            mall = "yahoo",
            shop = %self.shop,
            from = %window.from,
            to = %window.to,
            listed = listed.listed,
            fetched = listed.to_fetch.len(),
            orders = orders.len() - unreadable,
            unreadable,
            requests = progress.requests,
            more,
            next = %next.at,
            "read the Yahoo orders"
        );
        Ok(FeedPage {
            orders,
            next: next.write(),
            more,
            requests: progress.requests,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Actions: hold, release, cancel (orderStatusChange)
// ---------------------------------------------------------------------------------------------------------

/// A failed call as an action's error: what passes (throttling, the daily cap, an outage, no answer) is
/// tried again later, honouring `Retry-After`; refused credentials and refused requests need a person.
fn action_error(error: FeedError, retry_after: Option<SignedDuration>) -> ActionError {
    match error {
        FeedError::Throttled { retry_after } => ActionError::Later {
            message: "Yahoo's daily request cap is used up: tried again after midnight in Japan".into(),
            retry_after,
        },
        FeedError::Unavailable(message) => ActionError::Later { message, retry_after },
        FeedError::Unauthorized(message) | FeedError::Refused(message) => ActionError::Refused(message),
    }
}

/// HTTP 429: Yahoo documents no such answer (its throttling is "一定時間利用できなくなる" and the daily cap's
/// 403), but an action meeting one waits rather than ending.
const TOO_MANY_REQUESTS: u16 = 429;

impl YahooFeed {
    /// The order as orderInfo has it now, for [`OrderInfo::check_change`].
    async fn order_info(
        &self,
        id: &OrderId,
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<OrderInfo, ActionError> {
        let body = yahoo::order_info_request(&self.shop, id, &ORDER_INFO_FIELDS);
        let answer = self
            .exchange(Call::OrderInfo, body, now, progress)
            .await
            .map_err(|e| action_error(e, None))?;
        if answer.status == TOO_MANY_REQUESTS {
            return Err(self.too_many(Call::OrderInfo, answer.retry_after));
        }
        if let Some(failure) = yahoo::classify(answer.status, &answer.headers, &answer.body) {
            return Err(action_error(
                self.failed(Call::OrderInfo, failure, answer.retry_after, now),
                answer.retry_after,
            ));
        }
        match parse_order_info(&answer.body, &self.shop) {
            Ok((info, _)) => Ok(info),
            Err((_, ParseError::NotJson(e))) => Err(ActionError::Later {
                message: format!("orderInfo: the answer cannot be read: {e}"),
                retry_after: None,
            }),
            Err((_, e)) => Err(ActionError::Refused(format!(
                "orderInfo: the order cannot be read, so its status is not known: {e}"
            ))),
        }
    }

    fn too_many(&self, call: Call, retry_after: Option<SignedDuration>) -> ActionError {
        tracing::warn!(mall = "yahoo", shop = %self.shop, call = call.name(), "Yahoo answered 429");
        ActionError::Later {
            message: format!("{}: Yahoo answered 429 Too Many Requests", call.name()),
            retry_after,
        }
    }

    /// Reads the order, then changes its status unless it has the status already (done without a call) or
    /// must not get it (refused without a call: see [`yahoo::StatusChange::check`]).
    async fn change_status(
        &self,
        action: &MallAction,
        now: Timestamp,
        progress: &mut Progress,
    ) -> Result<Performed, ActionError> {
        let change = match action.kind {
            ActionKind::Hold => StatusChange::Hold,
            ActionKind::Release => StatusChange::Release,
            ActionKind::Cancel => StatusChange::CANCEL_DUPLICATE,
        };
        let id = &action.order.order_id;
        let info = self.order_info(id, now, progress).await?;
        match info.check_change(change) {
            Ok(()) => {}
            Err(ChangeBlocked::AlreadyDone(status)) => {
                return Ok(Performed::found(Some(format!(
                    "already OrderStatus {}",
                    status.label()
                ))));
            }
            Err(blocked @ ChangeBlocked::AlreadyShipped { .. }) => {
                return Err(ActionError::Shipped(blocked.to_string()));
            }
            Err(blocked) => return Err(ActionError::Refused(blocked.to_string())),
        }
        // Yahoo would hold a shipped order, to no effect: the hold settles as shipped.
        if change == StatusChange::Hold && info.has_shipped() {
            return Err(ActionError::Shipped(format!(
                "the order has already shipped (ShipStatus {}, OrderStatus {}): it is too late to hold it",
                info.ship_status.map_or("unknown".to_owned(), |s| s.to_string()),
                info.order_status.label()
            )));
        }
        let body = yahoo::status_change_request(&self.shop, id, change);
        let answer = self
            .exchange(Call::OrderStatusChange, body, now, progress)
            .await
            .map_err(|e| action_error(e, None))?;
        if answer.status == TOO_MANY_REQUESTS {
            return Err(self.too_many(Call::OrderStatusChange, answer.retry_after));
        }
        let target = change.target().label();
        match yahoo::order_status_change_outcome(answer.status, &answer.headers, &answer.body) {
            Ok(StatusChangeOutcome::Ok) => Ok(Performed::changed(Some(format!("OrderStatus {target}")))),
            Ok(StatusChangeOutcome::Warning(warnings)) => {
                for warning in &warnings {
                    tracing::warn!(
                        mall = "yahoo",
                        shop = %self.shop,
                        code = warning.code.as_deref().unwrap_or("no code"),
                        "Yahoo changed the order's status with a warning; it is taken as done"
                    );
                }
                Ok(Performed::changed(Some(format!("OrderStatus {target}"))))
            }
            Ok(StatusChangeOutcome::Refused { code, message }) => Err(ActionError::Refused(format!(
                "Yahoo refused to change the order from {} to {target}: {}{message}",
                info.order_status.label(),
                code.map(|c| format!("{c}: ")).unwrap_or_default()
            ))),
            Err(StatusChangeError::Failure(failure)) => Err(action_error(
                self.failed(Call::OrderStatusChange, failure, answer.retry_after, now),
                answer.retry_after,
            )),
            Err(StatusChangeError::NotUnderstood(e)) => Err(ActionError::Later {
                message: format!(
                    "orderStatusChange: the answer is not understood ({e}): whether the status changed is not \
                     known; the order is read again before the next try"
                ),
                retry_after: None,
            }),
        }
    }
}

#[async_trait]
impl ShopActions for YahooFeed {
    fn mall(&self) -> Mall {
        Mall::Yahoo
    }

    fn shop(&self) -> &ShopId {
        &self.shop
    }

    /// orderStatusChange holds (3 保留), releases (2 処理中) and cancels (4, 重複注文).
    fn can(&self, _kind: ActionKind) -> bool {
        true
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        let now = Timestamp::now();
        let mut progress = Progress::default();
        let order = &action.order;
        let result = if order.mall != Mall::Yahoo || order.shop != self.shop {
            Err(ActionError::Refused(format!(
                "the order is at {} shop {}, not Yahoo store {}",
                order.mall, order.shop, self.shop
            )))
        } else {
            self.change_status(action, now, &mut progress).await
        };
        if progress.signature_refused {
            tracing::warn!(
                mall = "yahoo",
                shop = %self.shop,
                "Yahoo did not accept the X-sws-signature: the order API session ends after 12 hours; check the \
                 store public key and its version"
            );
        }
        match &result {
            Ok(_) => tracing::info!(
                mall = "yahoo",
                shop = %self.shop,
                action = %action.id,
                kind = %action.kind,
                requests = progress.requests,
                "did a Yahoo action"
            ),
            Err(error) => tracing::warn!(
                mall = "yahoo",
                shop = %self.shop,
                action = %action.id,
                kind = %action.kind,
                requests = progress.requests,
                later = matches!(error, ActionError::Later { .. }),
                "a Yahoo action was not done"
            ),
        }
        result
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A header value that is never printed.
fn sensitive(value: &str) -> Result<HeaderValue, FeedError> {
    let mut header = HeaderValue::try_from(value)
        .map_err(|_| FeedError::Refused("a credential header could not be built (a control character?)".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_urlencoded(pairs: &[(&str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("a fixed URL");
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    url.query().unwrap_or_default().to_owned()
}

/// The time until the next midnight in Japan, when Yahoo's daily cap resets.
fn until_jst_midnight(now: Timestamp) -> Option<SignedDuration> {
    let tomorrow = now.to_zoned(jst()).date().tomorrow().ok()?;
    let midnight = tomorrow.to_zoned(jst()).ok()?.timestamp();
    Some(midnight.duration_since(now).max(SignedDuration::ZERO))
}

/// A successful answer that cannot be read: not XML at all (a maintenance page) is unavailability, XML of
/// another shape a refusal that a person must look at.
fn unreadable_answer(call: Call, error: ParseError) -> FeedError {
    let name = call.name();
    match error {
        ParseError::NotJson(_) => FeedError::Unavailable(format!("{name}: the answer cannot be read: {error}")),
        _ => FeedError::Refused(format!("{name}: the answer cannot be read: {error}")),
    }
}

/// A token answer's parse error without what it quotes (it may quote the token).
fn without_detail(error: &ParseError) -> &'static str {
    match error {
        ParseError::NotJson(_) => "not JSON",
        ParseError::TooDeep(_) => "nested too deep",
        ParseError::NotObject(_) => "not a JSON object",
        ParseError::Invalid(_) => "no access token in it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(options: YahooOptions) -> YahooFeed {
        let credentials = YahooCredentials {
            client_id: SecretString::from("dj00client"),
            client_secret: SecretString::from("s3cret-client"),
            refresh_token: SecretString::from("refresh-AAAA"),
            public_key_pem: None,
            public_key_version: None,
            authorized_at: None,
        };
        YahooFeed::new(ShopId::parse("tanaka-yahoo").unwrap(), credentials, options).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_hosts_are_yahoos() {
        let feed = feed(YahooOptions::default());
        assert_eq!(
            feed.base_url,
            "https://circus.shopping.yahooapis.jp/ShoppingWebService/V1"
        );
        assert_eq!(feed.token_url, yahoo::TOKEN_URL);
        let sandbox = YahooFeed::new(
            ShopId::parse("snbx-abcdefg").unwrap(),
            feed.credentials.clone(),
            YahooOptions::default(),
        )
        .unwrap();
        assert!(sandbox.base_url.starts_with("https://test.circus."));
        assert!(
            YahooFeed::new(
                ShopId::parse("s").unwrap(),
                feed.credentials.clone(),
                YahooOptions {
                    base_url: Some("http://circus.example".into()),
                    ..YahooOptions::default()
                },
            )
            .is_err()
        );
    }

    #[test]
    fn the_window_joins_the_new_orders_and_the_re_read() {
        let feed = feed(YahooOptions::default());
        let now = at("2026-11-23T03:30:00.750Z");
        let window = feed.window(Some(at("2026-11-23T03:25:00Z")), now, SignedDuration::from_hours(24));
        assert_eq!(window.to, at("2026-11-23T03:30:00Z"));
        assert_eq!(window.new_from, at("2026-11-23T03:15:00Z"));
        assert_eq!(window.from, at("2026-11-21T03:30:00Z"));
        let window = feed.window(None, now, SignedDuration::from_hours(24 * 7));
        assert_eq!(window.from, at("2026-11-16T03:30:00Z"));
        assert_eq!(window.new_from, window.from);
        let window = feed.window(Some(at("2026-11-24T00:00:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.new_from, window.to);
    }

    #[test]
    fn the_daily_cap_is_waited_out_until_midnight_in_japan() {
        // 12:30 JST: eleven and a half hours to go.
        assert_eq!(
            until_jst_midnight(at("2026-11-23T03:30:00Z")),
            Some(SignedDuration::from_mins(11 * 60 + 30))
        );
    }

    #[test]
    fn the_token_form_is_url_encoded() {
        assert_eq!(
            form_urlencoded(&yahoo::token_refresh_form("a+b/c=")),
            "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn nothing_secret_is_printed() {
        let feed = feed(YahooOptions::default());
        let printed = format!("{feed:?} {:?}", feed.credentials);
        for secret in ["dj00client", "s3cret-client", "refresh-AAAA"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(format!("{:?}", sensitive("Bearer x").unwrap()).contains("Sensitive"));
    }

    #[test]
    fn a_position_that_is_no_instant_is_refused() {
        assert!(matches!(
            crate::parse_position("Yahoo", "yesterday"),
            Err(FeedError::Refused(_))
        ));
    }
}
