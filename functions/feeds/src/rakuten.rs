//! Rakuten Ichiba: the RMS 楽天ペイ受注API read as an [`OrderFeed`], over the pure requests and parsers of
//! [`mallguard_malls::rakuten`].
//!
//! # One read
//!
//! The position is an RFC 3339 instant: every order placed up to it has been read. RMS has no "changed
//! since" search (its `dateType`s are order, confirmation, fixing, shipping, shipping report and payment
//! dates), so a read does two things in one `searchOrder` by order date (`dateType` 1):
//!
//! - the new orders, from the position less an overlap (10 minutes: RMS is eventually consistent, and an
//!   order placed just before the last read may only have become searchable since), or from
//!   `now − first_look_back` on the first run;
//! - the orders of the last 48 hours (the matching window) again, so that a cancellation at Rakuten of an
//!   order that may hold or be held is seen.
//!
//! The search runs over the union of both ranges up to `now` (whole seconds, JST), sorted by order time
//! ascending, its pages followed up to [`RakutenOptions::max_search_pages`]; the order numbers are
//! deduplicated (an order placed while paging can shift one onto the next page) and fetched with
//! `getOrder`, 100 at a time. Each order comes back with its exact bytes, or as unreadable with its bytes
//! and the reason. The cost is one searchOrder per page of numbers and one getOrder per 100 orders: it grows
//! with the orders of the last 48 hours, not with time.
//!
//! `next` is the search's end, so the next read starts `overlap` before it. A read takes at most
//! [`RakutenOptions::max_search_pages`] pages (10 of 1,000 by default); when the search has more, the page
//! says `more`, and `next` is the order time of the newest order read (or the position, when that is later):
//! the search is ascending, so every order placed before it was on the pages read, and the next read starts
//! at it (less the overlap). When the
//! 48-hour re-read alone fills a read (more than 10,000 orders in 48 hours with the defaults), it is left
//! out of that read: the search starts over at the new orders only (one searchOrder more), so new orders are
//! always read, and the staff see a warning in the log. A read can only progress when fewer orders than one
//! read takes were placed within one overlap (10,000 in 10 minutes by default).
//!
//! RMS refuses a search longer than 63 days and one starting more than 730 days ago: a position further
//! back (a poller stopped for months) is caught up 63 days per read, each page saying `more`, and the
//! start is never put more than 729 days back. RMS only pages through the first 15,000 numbers of a
//! search, so the pages per read are bounded to that.
//!
//! # Failures
//!
//! Every answer is classified by [`Failure::of`]: HTTP 401 or a gateway authentication code is
//! [`FeedError::Unauthorized`] (the licenseKey lives 90 days: renew it); 403/429 or `QPSLimit` is
//! [`FeedError::Throttled`], with `Retry-After` when Rakuten sends one (nothing documents that it does);
//! 5xx, 408, a timeout, a refused or broken connection, or a 2xx that is not JSON is
//! [`FeedError::Unavailable`]; any other refusal (a 4xx, an ERROR message, a JSON answer of another shape)
//! is [`FeedError::Refused`]. No error text holds a credential, and the log holds the shop and counts only.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::feed::{CredentialsExpiry, FeedError, FeedOrder, FeedPage, OrderFeed};
use mallguard_domain::ids::{Mall, OrderId, ShopId};
use mallguard_malls::ParseError;
use mallguard_malls::rakuten::{
    self, DateType, Failure, GET_ORDER_MAX_NUMBERS, GET_ORDER_VERSION, SEARCH_MAX_PER_PAGE, parse_get_order,
    parse_search_order,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use crate::http::{self, ConfigError, Timeouts};

/// The RMS host, where every endpoint of [`mallguard_malls::rakuten`] lives.
pub const DEFAULT_BASE_URL: &str = "https://api.rms.rakuten.co.jp";
/// searchOrder numbers per page by default: the most RMS gives.
pub const DEFAULT_PAGE_SIZE: u32 = SEARCH_MAX_PER_PAGE;
/// searchOrder pages per read by default.
pub const DEFAULT_MAX_SEARCH_PAGES: u32 = 10;
/// How far before the position a read starts: RMS is eventually consistent.
pub const DEFAULT_OVERLAP: SignedDuration = SignedDuration::from_mins(10);
/// The orders placed this long before now are read again on every read, for their cancellations: the
/// matching window.
pub const DEFAULT_RECHECK: SignedDuration = SignedDuration::from_hours(48);
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
    /// How far back every read reads the orders again (the matching window), for their cancellations.
    pub recheck: SignedDuration,
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
}

/// How often a feed asks RMS when its licenseKey expires.
const EXPIRY_ASKED_EVERY: SignedDuration = SignedDuration::from_hours(24);

impl fmt::Debug for RakutenFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RakutenFeed")
            .field("shop", &self.shop)
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("max_search_pages", &self.max_search_pages)
            .finish_non_exhaustive()
    }
}

/// The three RMS calls, by the names the logs and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    SearchOrder,
    GetOrder,
    LicenseExpiry,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::SearchOrder => "searchOrder",
            Call::GetOrder => "getOrder",
            Call::LicenseExpiry => "licenseKey expiry",
        }
    }

    /// The endpoint at the RMS host (the licence-expiry one without its query).
    fn rms_url(self) -> &'static str {
        match self {
            Call::SearchOrder => rakuten::SEARCH_ORDER_URL,
            Call::GetOrder => rakuten::GET_ORDER_URL,
            Call::LicenseExpiry => rakuten::LICENSE_EXPIRY_URL,
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
    /// Whether `to` was pulled before now to keep the search within 63 days.
    shortened: bool,
}

/// What the search of one read found.
#[derive(Debug)]
struct Searched {
    numbers: Vec<OrderId>,
    /// Whether every page was read.
    complete: bool,
    /// Whether the 48-hour re-read was left out of this read.
    recheck_skipped: bool,
}

/// What the getOrder calls of one read brought.
#[derive(Debug, Default)]
struct Fetched {
    orders: Vec<FeedOrder>,
    unreadable: usize,
    /// Numbers the search listed that getOrder did not find (not yet visible to it).
    not_found: usize,
    /// The newest order time among the orders read.
    newest: Option<Timestamp>,
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

    /// The range of the read from `position` at `now`.
    fn window(&self, position: Option<Timestamp>, now: Timestamp, first_look_back: SignedDuration) -> Window {
        let back = |at: Timestamp, by: SignedDuration| at.checked_sub(by).unwrap_or(Timestamp::MIN);
        let now = crate::whole_second(now);
        let new_from = match position {
            Some(position) => back(position, self.overlap),
            None => back(now, first_look_back.abs()),
        };
        let oldest = back(now, SEARCH_MAX_AGE);
        let new_from = crate::whole_second(new_from.clamp(oldest, now));
        let from = new_from.min(back(now, self.recheck).max(oldest));
        let longest = from.checked_add(SEARCH_MAX_WINDOW).unwrap_or(Timestamp::MAX);
        Window {
            from,
            new_from,
            to: now.min(longest),
            shortened: longest < now,
        }
    }

    /// The order numbers of `window`, deduplicated, up to the page cap.
    async fn search(&self, window: &Window, now: Timestamp, requests: &mut u32) -> Result<Searched, FeedError> {
        let mut from = window.from;
        let mut page = 1;
        let mut pages_read = 0;
        let mut recheck_skipped = false;
        let mut seen = HashSet::new();
        let mut numbers = Vec::new();
        loop {
            let request = rakuten::search_order_request(DateType::Ordered, from, window.to, page, self.page_size);
            let answer = self.post(Call::SearchOrder, &request, now, requests).await?;
            pages_read += 1;
            let found = parse_search_order(&answer).map_err(|e| unreadable_answer(Call::SearchOrder, e))?;
            let total_pages = found.pagination.map_or(0, |p| p.total_pages);
            if page == 1 && total_pages > self.max_search_pages && window.new_from > from {
                tracing::warn!(
                    mall = "rakuten",
                    shop = %self.shop,
                    total_pages,
                    max_pages = self.max_search_pages,
                    "too many Rakuten orders in the re-read window to read them again in one read: reading the \
                     new orders only, so cancellations of older orders are not seen by this read"
                );
                from = window.new_from;
                recheck_skipped = true;
                continue;
            }
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
                        recheck_skipped,
                    });
                }
                Some(_) if pages_read >= self.max_search_pages => {
                    return Ok(Searched {
                        numbers,
                        complete: false,
                        recheck_skipped,
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
            fetched.not_found += batch.len().saturating_sub(polled.len());
            for entry in polled {
                match entry {
                    Ok((order, raw)) => {
                        fetched.newest = fetched.newest.max(Some(order.placed_at));
                        fetched.orders.push(FeedOrder::Order {
                            order: Box::new(order),
                            raw,
                        });
                    }
                    Err((raw, error)) => {
                        fetched.unreadable += 1;
                        fetched.orders.push(FeedOrder::Unreadable {
                            raw,
                            error: error.to_string(),
                        });
                    }
                }
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
        let request = self
            .client
            .post(self.url(call.rms_url()))
            .header(AUTHORIZATION, self.authorization()?)
            .header(CONTENT_TYPE, rakuten::CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .body(body.to_string());
        *requests += 1;
        self.send(call, request, now).await
    }

    /// Sends one request with the total timeout and returns the body of a successful answer, or the
    /// failure the answer (or its absence) means.
    async fn send(&self, call: Call, request: reqwest::RequestBuilder, now: Timestamp) -> Result<Vec<u8>, FeedError> {
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
        match Failure::of(status, &body) {
            None => Ok(body),
            Some(failure) => Err(self.failed(call, failure, retry_after)),
        }
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
        let position = position.map(|p| crate::parse_position("Rakuten", p)).transpose()?;
        let window = self.window(position, now, first_look_back);
        let mut requests = 0;
        let searched = self.search(&window, now, &mut requests).await?;
        let fetched = self.fetch(&searched.numbers, now, &mut requests).await?;
        // A search cut short has read every order placed up to the newest one read (it is ascending), and
        // the reads before this one those up to the position: the next read starts at the later of the two,
        // less the overlap.
        let next = if searched.complete {
            window.to
        } else {
            fetched.newest.max(position).unwrap_or(window.new_from)
        };
        let more = !searched.complete || window.shortened;
        tracing::info!(
            mall = "rakuten",
            shop = %self.shop,
            from = %window.from,
            to = %window.to,
            searched = searched.numbers.len(),
            orders = fetched.orders.len() - fetched.unreadable,
            unreadable = fetched.unreadable,
            not_found = fetched.not_found,
            recheck_skipped = searched.recheck_skipped,
            requests,
            more,
            %next,
            "read the Rakuten orders"
        );
        if fetched.not_found > 0 {
            tracing::warn!(
                mall = "rakuten",
                shop = %self.shop,
                not_found = fetched.not_found,
                "getOrder did not find orders searchOrder listed; a later read within the re-read window finds them"
            );
        }
        Ok(FeedPage {
            orders: fetched.orders,
            next: next.to_string(),
            more,
            requests,
        })
    }
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
        for call in [Call::SearchOrder, Call::GetOrder, Call::LicenseExpiry] {
            assert!(call.rms_url().starts_with(DEFAULT_BASE_URL), "{call:?}");
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
    fn the_window_joins_the_new_orders_and_the_re_read() {
        let feed = feed(RakutenOptions::default());
        let now = at("2026-11-23T03:30:00.750Z");
        // Steady state: the new orders lie inside the re-read of 48 hours.
        let window = feed.window(Some(at("2026-11-23T03:25:00Z")), now, SignedDuration::from_hours(24));
        assert_eq!(window.to, at("2026-11-23T03:30:00Z"));
        assert_eq!(window.new_from, at("2026-11-23T03:15:00Z"));
        assert_eq!(window.from, at("2026-11-21T03:30:00Z"));
        assert!(!window.shortened);
        // First run looking back a week: the look-back is the older start.
        let window = feed.window(None, now, SignedDuration::from_hours(24 * 7));
        assert_eq!(window.from, at("2026-11-16T03:30:00Z"));
        assert_eq!(window.new_from, window.from);
        // A position three months old is caught up 63 days at a time.
        let window = feed.window(Some(at("2026-08-01T00:10:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.from, at("2026-08-01T00:00:00Z"));
        assert_eq!(window.to, at("2026-10-03T00:00:00Z"));
        assert!(window.shortened);
        // A position ahead of the clock reads up to now.
        let window = feed.window(Some(at("2026-11-24T00:00:00Z")), now, SignedDuration::ZERO);
        assert_eq!(window.to, at("2026-11-23T03:30:00Z"));
        assert_eq!(window.new_from, window.to);
        // RMS searches 730 days back at most.
        let window = feed.window(None, now, SignedDuration::from_hours(24 * 10_000));
        assert_eq!(window.from, at("2024-11-24T03:30:00Z"));
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

    #[test]
    fn a_position_that_is_no_instant_is_refused() {
        assert!(matches!(
            crate::parse_position("Rakuten", "yesterday"),
            Err(FeedError::Refused(_))
        ));
        assert_eq!(
            crate::parse_position("Rakuten", "2026-11-23T03:30:00Z").unwrap(),
            at("2026-11-23T03:30:00Z")
        );
    }
}
