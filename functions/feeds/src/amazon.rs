//! Amazon.co.jp: the Selling Partner API (SP-API) over HTTP, for one seller, over the pure requests and
//! parsers of [`mallguard_malls::amazon`]. [`AmazonSpApi`] reads one order by its id ([`OrderLookup`], for
//! the `ORDER_CHANGE` notifications, which name an order without carrying it) and is the polling backstop
//! for the notifications that never came ([`OrderFeed`]). The shop id is the seller's `SellerId`.
//!
//! # The calls
//!
//! Reading one order ([`OrderLookup::order`]) costs four requests, three once the LWA token is kept:
//!
//! 1. **LWA**: `POST` [`amazon::lwa_token_form`] (the refresh token, the client id and secret) to
//!    [`AmazonOptions::lwa_url`]; the access token lasts an hour ([`amazon::parse_lwa_token`]).
//! 2. **createRestrictedDataToken** (Tokens API): `POST` [`amazon::restricted_data_token_request`] (the
//!    order's `getOrder` path with `dataElements` `buyerInfo` and `shippingAddress`) with the LWA token in
//!    `x-amz-access-token`. Without this RDT, `getOrder` answers without the buyer's name and the address
//!    lines, and the order could not be matched.
//! 3. **getOrder** (Orders API v0) with the RDT in `x-amz-access-token`.
//! 4. **getOrderItems** with the LWA token, page after page while an answer carries a `NextToken`, at most
//!    [`MAX_ITEM_PAGES`] pages (an order with more is handed back unreadable, with the pages read, rather
//!    than with lines missing).
//!
//! [`amazon::order_from`] turns both answers into the canonical order and its evidence bytes
//! ([`FeedOrder::Order`]); an answer it cannot read (malformed JSON, a field it does not understand, an
//! address without its lines) is [`FeedOrder::Unreadable`] with those bytes, for the quarantine: not an
//! error. [`LookedUp::requests`] and [`FeedPage::requests`] count every HTTP request the read made: the LWA
//! exchange when this read made it (a read that found a kept token counts none), every RDT, every page,
//! and the retries after an expired token. A read that fails hands back its error only, no count.
//!
//! # The LWA token
//!
//! The access token is kept inside the [`AmazonSpApi`] until 60 seconds before its `expires_in` runs out.
//! One refresh at a time: concurrent reads wait for the one refreshing, then use its token. When an
//! SP-API call says the token expired (the 403 of `events/amazon/error-token-expired.json`, classified by
//! [`Failure::classify`]), or refuses a kept token as invalid, the token is dropped, a new one fetched and
//! that call tried once more; refused again, it is [`FeedError::Unauthorized`]. An RDT the same: one new RDT
//! and one more try. LWA's `invalid_grant` (the seller revoked the app, or the refresh token no longer
//! works) and `invalid_client` are [`FeedError::Unauthorized`] saying what a person must do. No error text
//! or log line holds a token, a credential or a buyer's data: the logs hold the seller and counts.
//!
//! # The backstop
//!
//! [`OrderFeed::changed_since`] reads one `getOrders` page per call: `MarketplaceIds` Amazon.co.jp,
//! `LastUpdatedAfter` the position less [`AmazonOptions::overlap`] (the first run: `now − first_look_back`),
//! `LastUpdatedBefore` `now −` [`AmazonOptions::settle`] (Amazon wants it at least two minutes before its
//! own now; the settle also leaves the fresh orders to the notifications), and
//! [`AmazonOptions::page_size`] orders a page. Every listed order not `Pending` is then read as
//! [`OrderLookup::order`] does, except that one RDT covers the page's orders (up to 50 a token; the Tokens
//! API takes 50 resources). A `Pending` order is skipped without a request: it has no prices and no address
//! yet, and its change to `Unshipped` moves its `LastUpdateDate` into a later window.
//!
//! The position is one of two texts:
//!
//! - an RFC 3339 instant, `2026-11-23T03:57:00Z`: every order last updated before it has been listed (and
//!   read, but for the `Pending` ones). The next window starts `overlap` before it. This is `next` once the
//!   last page of a window is read;
//! - a JSON object, `{"after":"…","before":"…","next_token":"…"}`: a window read up to a page boundary.
//!   The next call asks for the page after it with the same `LastUpdatedAfter` and `LastUpdatedBefore`
//!   (Amazon: "NextToken doesn't affect any filters"), and `more` is true. Should Amazon refuse a stored
//!   `NextToken` as invalid (how long one stays valid is not documented for v0), the window is read again
//!   from its start, without it.
//!
//! Anything else is a position this feed did not write: [`FeedError::Refused`]. A window that is empty
//! (the position is already at `now − settle`) costs no request and leaves the position as it is.
//!
//! # Rate limits
//!
//! Amazon's default usage plans per seller and app (token buckets; a seller may have more): `getOrder`
//! 0.5 requests a second with a burst of 30, `getOrderItems` 0.5 and 30, `createRestrictedDataToken` 1 and
//! 10, `getOrders` 0.0167 (one a minute) and 20. A backstop page therefore holds [`DEFAULT_PAGE_SIZE`]
//! orders (up to 20 `getOrder` and 20 `getOrderItems` calls and one RDT fit in the bursts), and the poll
//! use case's page budget keeps `getOrders` within its burst. A 429 is [`FeedError::Throttled`] with the
//! `Retry-After` if Amazon sent one (it usually does not); else, if an `x-amzn-RateLimit-Limit` came with it
//! (Amazon says not to expect one on a 429), the time that rate takes to allow one more request. A throttled
//! backstop page is read again whole on the next run (its orders are redeliveries then).
//!
//! # Failures
//!
//! Every answer that is not a 2xx goes through [`Failure::classify`] ([`Failure::classify_lwa`] for LWA):
//! 429 is [`FeedError::Throttled`]; 5xx, a redirect, a timeout or a broken connection
//! [`FeedError::Unavailable`]; 401 and 403 (after the one retry with a new token) and LWA's refusals
//! [`FeedError::Unauthorized`]; any other 4xx [`FeedError::Refused`], with Amazon's error code and message
//! (they carry no buyer data): a 404 for the order looked up, and on the backstop a 404 for an order
//! `getOrders` listed, which stops the backstop at that page until a person looks. A `getOrders` answer
//! that is not JSON is [`FeedError::Unavailable`], JSON of another shape [`FeedError::Refused`]. Answers
//! are read up to 8 MiB.
//!
//! # Orders API v0 is deprecated
//!
//! `getOrders`, `getOrder` and `getOrderItems` are Orders API v0, which Amazon removes on 2027-03-27 in
//! favour of Orders API v2026-01-01 (one `getOrder` with `includedData=BUYER,RECIPIENT`, no RDT, no
//! `getOrderItems`; `searchOrders` for the backstop). The [`mallguard_malls::amazon`] module documentation
//! says what changes; the HTTP side here will need the same move.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::feed::{FeedError, FeedOrder, FeedPage, LookedUp, OrderFeed, OrderLookup};
use mallguard_domain::ids::{Mall, OrderId, ShopId};
use mallguard_malls::ParseError;
use mallguard_malls::amazon::{self, AmazonStatus, Failure, OrdersSince};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use crate::http::{self, ConfigError, Timeouts};

/// How far before the position a backstop window starts.
pub const DEFAULT_OVERLAP: SignedDuration = SignedDuration::from_mins(5);
/// How long before now a backstop window ends: Amazon's two minutes and one more for the clocks.
pub const DEFAULT_SETTLE: SignedDuration = SignedDuration::from_mins(3);
/// The least settle: `LastUpdatedBefore` "must be … at least two minutes before current time".
pub const MIN_SETTLE: SignedDuration = SignedDuration::from_mins(2);
/// `getOrders` orders per page by default (Amazon allows 1 to 100): a page's reads fit in the bursts.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// The most `getOrderItems` pages read for one order.
pub const MAX_ITEM_PAGES: usize = 10;
/// `MaxResultsPerPage`'s maximum.
const MAX_PAGE_SIZE: u32 = 100;
/// The most resources one RDT covers.
const RDT_RESOURCES: usize = 50;
/// The largest answer read: a `getOrders` page of 100 orders is far below it.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
/// An access token this close to its expiry is refreshed before use.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// The rate of the operation, requests a second, that SP-API may send with an answer.
const RATE_LIMIT_HEADER: &str = "x-amzn-ratelimit-limit";
/// The request time header of the developer guide; SigV4 is gone, and whether it is still required is not
/// known, but it is harmless.
const AMZ_DATE_HEADER: &str = "x-amz-date";

/// The app's credentials for one seller: the LWA client of the app and the refresh token of the seller's
/// authorisation. The secrets are sent only in the LWA form, never written to a log or an error.
#[derive(Clone)]
pub struct AmazonCredentials {
    /// The LWA client identifier of the app (`amzn1.application-oa2-client.…`); not a secret.
    pub client_id: String,
    pub client_secret: SecretString,
    /// The seller's refresh token (`Atzr|…`), from the app's authorisation in Seller Central.
    pub refresh_token: SecretString,
}

impl fmt::Debug for AmazonCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmazonCredentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// How an [`AmazonSpApi`] calls; [`Default`] is Amazon's hosts with the defaults above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmazonOptions {
    /// The SP-API endpoint: [`amazon::FE_ENDPOINT`] (the Far East region, Japan's).
    pub endpoint: String,
    /// The LWA token URL: [`amazon::LWA_TOKEN_URL`].
    pub lwa_url: String,
    pub timeouts: Timeouts,
    /// How far before its position the backstop reads again.
    pub overlap: SignedDuration,
    /// The backstop lists only orders last updated at least this long ago (never less than
    /// [`MIN_SETTLE`]), so that the notifications handle the fresh ones first.
    pub settle: SignedDuration,
    /// `getOrders` orders per page, 1 to 100.
    pub page_size: u32,
}

impl Default for AmazonOptions {
    fn default() -> Self {
        AmazonOptions {
            endpoint: amazon::FE_ENDPOINT.to_owned(),
            lwa_url: amazon::LWA_TOKEN_URL.to_owned(),
            timeouts: Timeouts::default(),
            overlap: DEFAULT_OVERLAP,
            settle: DEFAULT_SETTLE,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// An LWA access token and when to stop using it.
struct AccessToken {
    token: SecretString,
    refresh_at: Instant,
}

/// One seller's orders at Amazon.co.jp through SP-API (see the [module](self)).
pub struct AmazonSpApi {
    seller: ShopId,
    credentials: AmazonCredentials,
    endpoint: String,
    lwa_url: String,
    client: reqwest::Client,
    timeout: Duration,
    overlap: SignedDuration,
    settle: SignedDuration,
    page_size: u32,
    /// The LWA access token in use, if any; held while it is refreshed, so one refresh runs at a time.
    access: tokio::sync::Mutex<Option<AccessToken>>,
}

impl fmt::Debug for AmazonSpApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmazonSpApi")
            .field("seller", &self.seller)
            .field("client_id", &self.credentials.client_id)
            .field("endpoint", &self.endpoint)
            .field("lwa_url", &self.lwa_url)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// The calls, by the names the logs and errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Lwa,
    Rdt,
    GetOrder,
    GetOrderItems,
    GetOrders,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Lwa => "LWA token",
            Call::Rdt => "createRestrictedDataToken",
            Call::GetOrder => "getOrder",
            Call::GetOrderItems => "getOrderItems",
            Call::GetOrders => "getOrders",
        }
    }
}

/// The requests one read has made.
#[derive(Debug, Default)]
struct Progress {
    requests: u32,
}

/// What came back from one request.
struct Answer {
    status: u16,
    retry_after: Option<SignedDuration>,
    body: Vec<u8>,
}

/// A call that failed: the error to hand back, and what Amazon's answer stood for (None: no answer).
struct CallFailed {
    failure: Option<Failure>,
    error: FeedError,
}

impl From<FeedError> for CallFailed {
    fn from(error: FeedError) -> Self {
        CallFailed { failure: None, error }
    }
}

impl From<CallFailed> for FeedError {
    fn from(failed: CallFailed) -> Self {
        failed.error
    }
}

/// A backstop window: the `getOrders` filters, and the page to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    after: Timestamp,
    before: Timestamp,
    next_token: Option<String>,
}

/// A stored backstop position.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    /// Every order last updated before it has been read.
    Read(Timestamp),
    /// A window read up to a page boundary.
    Paging(Window),
}

impl Position {
    fn parse(text: &str) -> Result<Position, FeedError> {
        let trimmed = text.trim();
        if !trimmed.starts_with('{') {
            return crate::parse_position("Amazon", trimmed).map(Position::Read);
        }
        let refused = |why: &str| {
            let shown: String = trimmed.chars().take(120).collect();
            FeedError::Refused(format!(
                "the stored Amazon position {shown:?} is not one this feed writes ({why})"
            ))
        };
        let value: serde_json::Value = serde_json::from_str(trimmed).map_err(|_| refused("not JSON"))?;
        let object = value.as_object().ok_or_else(|| refused("not a JSON object"))?;
        if object.len() != 3 {
            return Err(refused("it must have after, before and next_token, and nothing else"));
        }
        let field = |name: &str| {
            object
                .get(name)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| refused(&format!("{name} must be a string")))
        };
        let instant = |name: &str| -> Result<Timestamp, FeedError> {
            field(name)?
                .parse()
                .map_err(|_| refused(&format!("{name} is not an RFC 3339 instant")))
        };
        let (after, before) = (instant("after")?, instant("before")?);
        let next_token = field("next_token")?;
        if next_token.trim().is_empty() || after >= before {
            return Err(refused("an empty next_token, or after not before before"));
        }
        Ok(Position::Paging(Window {
            after,
            before,
            next_token: Some(next_token.to_owned()),
        }))
    }

    fn encode(&self) -> String {
        match self {
            Position::Read(at) => at.to_string(),
            Position::Paging(window) => serde_json::json!({
                "after": window.after.to_string(),
                "before": window.before.to_string(),
                "next_token": window.next_token.as_deref().unwrap_or_default(),
            })
            .to_string(),
        }
    }
}

/// The RDT in use for a run of orders: the token, and the index after the last order it covers.
type KeptRdt = Option<(SecretString, usize)>;

impl AmazonSpApi {
    /// The SP-API of the seller `seller` with its own HTTP client (rustls, both timeouts of `options`).
    pub fn new(
        seller: ShopId,
        credentials: AmazonCredentials,
        options: AmazonOptions,
    ) -> Result<AmazonSpApi, ConfigError> {
        let client = http::client(options.timeouts)?;
        AmazonSpApi::with_client(seller, credentials, options, client)
    }

    /// The SP-API of `seller` over a client of the caller's. Every call still gets `options.timeouts.total`
    /// as its own timeout; the connect timeout is the client's.
    pub fn with_client(
        seller: ShopId,
        credentials: AmazonCredentials,
        options: AmazonOptions,
        client: reqwest::Client,
    ) -> Result<AmazonSpApi, ConfigError> {
        Ok(AmazonSpApi {
            endpoint: http::base_url(&options.endpoint)?,
            lwa_url: http::base_url(&options.lwa_url)?,
            seller,
            credentials,
            client,
            timeout: options.timeouts.total,
            overlap: options.overlap.abs(),
            settle: options.settle.abs().max(MIN_SETTLE),
            page_size: options.page_size.clamp(1, MAX_PAGE_SIZE),
            access: tokio::sync::Mutex::new(None),
        })
    }

    /// The seller whose orders this reads.
    pub fn seller(&self) -> &ShopId {
        &self.seller
    }

    /// The window a backstop read from `position` at `now` covers; None when it is empty.
    fn window(&self, position: Option<&Position>, now: Timestamp, first_look_back: SignedDuration) -> Option<Window> {
        let back = |at: Timestamp, by: SignedDuration| at.checked_sub(by).unwrap_or(Timestamp::MIN);
        let before = crate::whole_second(back(now, self.settle));
        let after = match position {
            Some(Position::Paging(window)) => return Some(window.clone()),
            Some(Position::Read(at)) => back(*at, self.overlap),
            None => back(now, first_look_back.abs()),
        };
        let after = crate::whole_second(after);
        (after < before).then_some(Window {
            after,
            before,
            next_token: None,
        })
    }

    /// One `getOrders` page of `window`.
    async fn list(&self, window: &Window, progress: &mut Progress) -> Result<amazon::V0OrdersPage, CallFailed> {
        let mut request = amazon::v0_get_orders(
            OrdersSince::LastUpdatedAfter(window.after),
            window.next_token.as_deref(),
        );
        for (name, value) in &mut request.query {
            if *name == "MaxResultsPerPage" {
                *value = self.page_size.to_string();
            }
        }
        let at = request
            .query
            .iter()
            .position(|(name, _)| *name == "LastUpdatedAfter")
            .map_or(request.query.len(), |i| i + 1);
        request.query.insert(at, ("LastUpdatedBefore", api_time(window.before)));
        let url = request.url(&self.endpoint);
        let body = self
            .with_lwa(Call::GetOrders, |token| self.get(&url, token), progress)
            .await?;
        amazon::v0_orders_page(&body).map_err(|e| unreadable_answer(Call::GetOrders, &e).into())
    }

    /// Orders `ids[from]` in full: getOrder with an RDT (the kept one, when it covers the order; else a new
    /// one for the orders from it on), then every getOrderItems page.
    async fn read_order(
        &self,
        ids: &[OrderId],
        from: usize,
        rdt: &mut KeptRdt,
        progress: &mut Progress,
    ) -> Result<FeedOrder, FeedError> {
        let id = &ids[from];
        let get_order = self.get_order(ids, from, rdt, progress).await?;
        let (pages, incomplete) = self.get_order_items(id, progress).await?;
        let pages: Vec<&[u8]> = pages.iter().map(Vec::as_slice).collect();
        Ok(
            match (amazon::order_from(&get_order, &pages, &self.seller), incomplete) {
                (Ok((order, raw)), None) => FeedOrder::Order {
                    order: Box::new(order),
                    raw,
                },
                (Ok((_, raw)), Some(error)) => FeedOrder::Unreadable { raw, error },
                (Err((raw, error)), _) => FeedOrder::Unreadable {
                    raw,
                    error: error.to_string(),
                },
            },
        )
    }

    /// getOrder of `ids[from]` with an RDT; a new RDT and one more try when Amazon says it expired (or
    /// refuses a kept one).
    async fn get_order(
        &self,
        ids: &[OrderId],
        from: usize,
        rdt: &mut KeptRdt,
        progress: &mut Progress,
    ) -> Result<Vec<u8>, FeedError> {
        let url = amazon::v0_get_order(&ids[from]).url(&self.endpoint);
        let mut renewed = false;
        loop {
            let (token, fresh) = match rdt {
                Some((token, covered)) if from < *covered => (token.clone(), false),
                _ => {
                    let covered = ids.len().min(from + RDT_RESOURCES);
                    let token = self.restricted_data_token(&ids[from..covered], progress).await?;
                    *rdt = Some((token.clone(), covered));
                    (token, true)
                }
            };
            let answer = self
                .send(
                    Call::GetOrder,
                    self.get(&url, sensitive(token.expose_secret())?),
                    progress,
                )
                .await?;
            match Failure::classify(answer.status, &answer.body) {
                None => return Ok(answer.body),
                Some(failure) if !renewed && retry_with_new_token(failure, fresh) => {
                    tracing::info!(mall = "amazon", shop = %self.seller, %failure, "the RDT was refused: getting a new one");
                    *rdt = None;
                    renewed = true;
                }
                Some(failure) => return Err(self.failed(Call::GetOrder, failure, &answer)),
            }
        }
    }

    /// Every getOrderItems page of `id`, up to [`MAX_ITEM_PAGES`]; with why the order is incomplete when
    /// there were more.
    async fn get_order_items(
        &self,
        id: &OrderId,
        progress: &mut Progress,
    ) -> Result<(Vec<Vec<u8>>, Option<String>), FeedError> {
        let mut pages = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let url = amazon::v0_get_order_items(id, next_token.as_deref()).url(&self.endpoint);
            let body = self
                .with_lwa(Call::GetOrderItems, |token| self.get(&url, token), progress)
                .await?;
            // A page that cannot be read ends the paging: order_from says what is wrong with it.
            let next = amazon::v0_items_next_token(&body).ok().flatten();
            pages.push(body);
            match next {
                None => return Ok((pages, None)),
                Some(_) if pages.len() >= MAX_ITEM_PAGES => {
                    let why = format!(
                        "getOrderItems: more than {MAX_ITEM_PAGES} pages of items; the order was not read whole"
                    );
                    return Ok((pages, Some(why)));
                }
                Some(token) => next_token = Some(token),
            }
        }
    }

    /// An RDT for getOrder of each of `ids`, with their buyer and shipping address.
    async fn restricted_data_token(&self, ids: &[OrderId], progress: &mut Progress) -> Result<SecretString, FeedError> {
        let resources: Vec<serde_json::Value> = ids
            .iter()
            .flat_map(|id| {
                match amazon::restricted_data_token_request(id)
                    .get_mut("restrictedResources")
                    .map(serde_json::Value::take)
                {
                    Some(serde_json::Value::Array(resources)) => resources,
                    _ => Vec::new(),
                }
            })
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "restrictedResources": resources }))
            .expect("a JSON value serialises");
        let url = format!("{}{}", self.endpoint, amazon::RESTRICTED_DATA_TOKEN_PATH);
        let answer = self
            .with_lwa(
                Call::Rdt,
                |token| {
                    self.client
                        .post(&url)
                        .header(amazon::ACCESS_TOKEN_HEADER, token)
                        .header(AMZ_DATE_HEADER, amz_date())
                        .header(CONTENT_TYPE, "application/json")
                        .header(ACCEPT, "application/json")
                        .body(body.clone())
                },
                progress,
            )
            .await?;
        let token = amazon::parse_restricted_data_token(&answer).map_err(|e| unreadable_token(Call::Rdt, &e))?;
        Ok(token.token)
    }

    /// A GET of SP-API with `token` in `x-amz-access-token`.
    fn get(&self, url: &str, token: HeaderValue) -> reqwest::RequestBuilder {
        self.client
            .get(url)
            .header(amazon::ACCESS_TOKEN_HEADER, token)
            .header(AMZ_DATE_HEADER, amz_date())
            .header(ACCEPT, "application/json")
    }

    /// A call with the LWA token; a new token and one more try when Amazon says it expired (or refuses a
    /// kept one as invalid). The body of a 2xx answer.
    async fn with_lwa(
        &self,
        call: Call,
        build: impl Fn(HeaderValue) -> reqwest::RequestBuilder,
        progress: &mut Progress,
    ) -> Result<Vec<u8>, CallFailed> {
        let mut retried = false;
        loop {
            let (token, fresh) = self.access_token(progress).await?;
            let answer = self
                .send(call, build(sensitive(token.expose_secret())?), progress)
                .await?;
            match Failure::classify(answer.status, &answer.body) {
                None => return Ok(answer.body),
                Some(failure) if !retried && retry_with_new_token(failure, fresh) => {
                    tracing::info!(mall = "amazon", shop = %self.seller, call = call.name(), %failure, "the LWA access token was refused: getting a new one");
                    self.forget(&token).await;
                    retried = true;
                }
                Some(failure) => {
                    return Err(CallFailed {
                        failure: Some(failure),
                        error: self.failed(call, failure, &answer),
                    });
                }
            }
        }
    }

    /// The LWA access token, and whether it was fetched for this call: the one kept, or a new one when there
    /// is none or it is about to expire. The lock is held during the exchange, so callers that come
    /// meanwhile wait and take the new token.
    async fn access_token(&self, progress: &mut Progress) -> Result<(SecretString, bool), FeedError> {
        let mut kept = self.access.lock().await;
        if let Some(access) = kept.as_ref()
            && access.refresh_at > Instant::now()
        {
            return Ok((access.token.clone(), false));
        }
        *kept = None;
        let form = amazon::lwa_token_form(
            self.credentials.refresh_token.expose_secret(),
            &self.credentials.client_id,
            self.credentials.client_secret.expose_secret(),
        );
        let request = self
            .client
            .post(&self.lwa_url)
            .header(CONTENT_TYPE, amazon::LWA_CONTENT_TYPE)
            .header(ACCEPT, "application/json")
            .body(form.expose_secret().to_owned());
        let started = Instant::now();
        let answer = self.send(Call::Lwa, request, progress).await?;
        if let Some(failure) = Failure::classify_lwa(answer.status, &answer.body) {
            return Err(self.failed(Call::Lwa, failure, &answer));
        }
        let token = amazon::parse_lwa_token(&answer.body).map_err(|e| unreadable_token(Call::Lwa, &e))?;
        let lifetime = token.expires_in.saturating_sub(TOKEN_MARGIN);
        *kept = Some(AccessToken {
            token: token.token.clone(),
            refresh_at: started + lifetime,
        });
        tracing::info!(mall = "amazon", shop = %self.seller, expires_in = token.expires_in.as_secs(), "got an LWA access token");
        Ok((token.token, true))
    }

    /// Drops the kept access token if it is still `used` (another call may have replaced it meanwhile).
    async fn forget(&self, used: &SecretString) {
        let mut kept = self.access.lock().await;
        if kept
            .as_ref()
            .is_some_and(|access| access.token.expose_secret() == used.expose_secret())
        {
            *kept = None;
        }
    }

    /// Sends `request` with the total timeout; the status, the wait a 429 asks for, and the body.
    async fn send(
        &self,
        call: Call,
        request: reqwest::RequestBuilder,
        progress: &mut Progress,
    ) -> Result<Answer, FeedError> {
        let name = call.name();
        progress.requests += 1;
        let response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| http::transport(name, e, self.timeout))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
        let retry_after = header(RETRY_AFTER.as_str())
            .and_then(|v| http::retry_after(v, Timestamp::now()))
            .or_else(|| header(RATE_LIMIT_HEADER).and_then(one_request_at));
        let body = match http::read_body(response, MAX_ANSWER_BYTES, name, self.timeout).await {
            Ok(body) => body,
            // A failure is classified by its status when its body cannot be read.
            Err(_) if !(200..300).contains(&status) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    fn failed(&self, call: Call, failure: Failure, answer: &Answer) -> FeedError {
        let name = call.name();
        let said = amazon::api_errors(&answer.body)
            .first()
            .map(|e| format!(" ({}: {})", e.code, e.message))
            .unwrap_or_default();
        let seller = &self.seller;
        let error = match failure {
            Failure::Throttled => FeedError::Throttled {
                retry_after: answer.retry_after,
            },
            Failure::Unavailable => FeedError::Unavailable(format!("{name}: {failure}{said}")),
            Failure::Unexpected(status) if (300..400).contains(&status) => {
                FeedError::Unavailable(format!("{name}: {failure} (a redirect, which is not followed)"))
            }
            Failure::ReauthorizationNeeded => FeedError::Unauthorized(format!(
                "{name}: {failure}: the seller {seller} must authorise the app again in Seller Central (Apps and \
                 Services > Manage Your Apps), and the new refresh token must replace the old one in the secrets"
            )),
            Failure::Unauthorized if call == Call::Lwa => FeedError::Unauthorized(format!(
                "{name}: LWA refused the app's client id or secret: check the LWA credentials of the app (they \
                 are rotated in the Developer Console)"
            )),
            Failure::TokenExpired | Failure::Unauthorized => FeedError::Unauthorized(format!(
                "{name}: {failure}{said}, again with a new token: check that the seller {seller} still authorises \
                 the app, and that the app has the roles for this call (buyer data needs the restricted \
                 Direct-to-Consumer Shipping role)"
            )),
            Failure::Invalid | Failure::NotFound | Failure::Unexpected(_) => {
                FeedError::Refused(format!("{name}: {failure}{said}"))
            }
        };
        tracing::warn!(mall = "amazon", shop = %self.seller, call = name, kind = error.kind(), "an Amazon call failed");
        error
    }
}

#[async_trait]
impl OrderLookup for AmazonSpApi {
    fn mall(&self) -> Mall {
        Mall::Amazon
    }

    fn shop(&self) -> &ShopId {
        &self.seller
    }

    /// The order `id` in full: LWA (when no token is kept), createRestrictedDataToken, getOrder with the
    /// RDT, every getOrderItems page; `requests` counts them all.
    async fn order(&self, id: &OrderId) -> Result<LookedUp, FeedError> {
        let mut progress = Progress::default();
        let ids = [id.clone()];
        let order = self.read_order(&ids, 0, &mut None, &mut progress).await?;
        tracing::info!(
            mall = "amazon",
            shop = %self.seller,
            readable = matches!(order, FeedOrder::Order { .. }),
            requests = progress.requests,
            "read an Amazon order"
        );
        Ok(LookedUp {
            order,
            requests: progress.requests,
        })
    }
}

#[async_trait]
impl OrderFeed for AmazonSpApi {
    fn mall(&self) -> Mall {
        Mall::Amazon
    }

    fn shop(&self) -> &ShopId {
        &self.seller
    }

    async fn changed_since(
        &self,
        position: Option<&str>,
        now: Timestamp,
        first_look_back: SignedDuration,
    ) -> Result<FeedPage, FeedError> {
        let position = position.map(Position::parse).transpose()?;
        let Some(mut window) = self.window(position.as_ref(), now, first_look_back) else {
            // Nothing has settled since the position: no request, and the position stays.
            let next = match position {
                Some(position) => position.encode(),
                None => crate::whole_second(now.checked_sub(first_look_back.abs()).unwrap_or(now)).to_string(),
            };
            return Ok(FeedPage {
                orders: Vec::new(),
                next,
                more: false,
                requests: 0,
            });
        };
        let mut progress = Progress::default();
        let page = match self.list(&window, &mut progress).await {
            Err(CallFailed {
                failure: Some(Failure::Invalid),
                ..
            }) if window.next_token.is_some() => {
                tracing::warn!(
                    mall = "amazon",
                    shop = %self.seller,
                    "getOrders refused the stored NextToken: reading the window again from its start"
                );
                let fresh = crate::whole_second(now.checked_sub(self.settle).unwrap_or(now));
                window = Window {
                    after: window.after,
                    before: if fresh > window.after { fresh } else { window.before },
                    next_token: None,
                };
                self.list(&window, &mut progress).await?
            }
            page => page?,
        };
        let mut seen = HashSet::new();
        let mut pending = 0;
        let mut to_read = Vec::new();
        for listed in &page.orders {
            if !seen.insert(listed.order_id.clone()) {
                continue;
            }
            if listed.status == AmazonStatus::Pending {
                pending += 1;
            } else {
                to_read.push(listed.order_id.clone());
            }
        }
        let mut orders = Vec::with_capacity(to_read.len());
        let mut rdt = None;
        for from in 0..to_read.len() {
            orders.push(self.read_order(&to_read, from, &mut rdt, &mut progress).await?);
        }
        let unreadable = orders
            .iter()
            .filter(|o| matches!(o, FeedOrder::Unreadable { .. }))
            .count();
        let (next, more) = match page.next_token {
            Some(token) => (
                Position::Paging(Window {
                    next_token: Some(token),
                    ..window.clone()
                }),
                true,
            ),
            None => (Position::Read(window.before), false),
        };
        tracing::info!(
            mall = "amazon",
            shop = %self.seller,
            after = %window.after,
            before = %window.before,
            listed = seen.len(),
            pending,
            read = to_read.len(),
            unreadable,
            requests = progress.requests,
            more,
            "read the Amazon backstop page"
        );
        Ok(FeedPage {
            orders,
            next: next.encode(),
            more,
            requests: progress.requests,
        })
    }
}

/// Whether a refusal may go away with a new token: an expired one always; any other 401/403 only when the
/// token was a kept one (a token fetched for this very call that is refused will be refused again).
fn retry_with_new_token(failure: Failure, fresh: bool) -> bool {
    match failure {
        Failure::TokenExpired => true,
        Failure::Unauthorized => !fresh,
        _ => false,
    }
}

/// A time as `getOrders` takes it: whole seconds, UTC, `2026-11-23T03:57:00Z`.
fn api_time(at: Timestamp) -> String {
    crate::whole_second(at).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `x-amz-date`: now, `20261123T035700Z`.
fn amz_date() -> String {
    Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The time a rate of `x-amzn-RateLimit-Limit` (requests a second, `0.5`) takes to allow one request:
/// whole seconds, rounded up; None when it is no positive number.
fn one_request_at(rate: &str) -> Option<SignedDuration> {
    let rate: f64 = rate.trim().parse().ok()?;
    if !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    let seconds = (1.0 / rate).ceil().min(3_600.0);
    Some(SignedDuration::from_secs(seconds as i64))
}

/// A header value that is never printed.
fn sensitive(value: &str) -> Result<HeaderValue, FeedError> {
    let mut header = HeaderValue::try_from(value)
        .map_err(|_| FeedError::Refused("an access token header could not be built (a control character?)".into()))?;
    header.set_sensitive(true);
    Ok(header)
}

/// A successful answer that cannot be read: not JSON at all (a maintenance page) is unavailability, JSON of
/// another shape a refusal that a person must look at.
fn unreadable_answer(call: Call, error: &ParseError) -> FeedError {
    let name = call.name();
    match error {
        ParseError::NotJson(_) => FeedError::Unavailable(format!("{name}: the answer cannot be read: {error}")),
        _ => FeedError::Refused(format!("{name}: the answer cannot be read: {error}")),
    }
}

/// A token answer that cannot be read, without what the parser quotes (it may quote the token).
fn unreadable_token(call: Call, error: &ParseError) -> FeedError {
    let name = call.name();
    match error {
        ParseError::NotJson(_) => FeedError::Unavailable(format!("{name}: the answer cannot be read: not JSON")),
        ParseError::TooDeep(_) => FeedError::Refused(format!("{name}: the answer cannot be read: nested too deep")),
        ParseError::NotObject(_) => FeedError::Refused(format!("{name}: the answer cannot be read: not a JSON object")),
        ParseError::Invalid(_) => FeedError::Refused(format!("{name}: the answer cannot be read: no token in it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(options: AmazonOptions) -> AmazonSpApi {
        let credentials = AmazonCredentials {
            client_id: "amzn1.application-oa2-client.abc".into(),
            client_secret: SecretString::from("s3cret-client"),
            refresh_token: SecretString::from("Atzr|refresh-AAAA"),
        };
        AmazonSpApi::new(ShopId::parse("A1EXAMPLESELLER").unwrap(), credentials, options).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_defaults_are_amazons_hosts() {
        let api = api(AmazonOptions::default());
        assert_eq!(api.endpoint, "https://sellingpartnerapi-fe.amazon.com");
        assert_eq!(api.lwa_url, "https://api.amazon.com/auth/o2/token");
        assert_eq!(api.settle, DEFAULT_SETTLE);
        assert_eq!(api.page_size, DEFAULT_PAGE_SIZE);
        let credentials = api.credentials.clone();
        for (endpoint, lwa_url) in [
            ("http://sellingpartnerapi-fe.amazon.com", amazon::LWA_TOKEN_URL),
            (amazon::FE_ENDPOINT, "http://api.amazon.com/auth/o2/token"),
            (amazon::FE_ENDPOINT, "https://api.amazon.com/auth/o2/token?x=1"),
        ] {
            let options = AmazonOptions {
                endpoint: endpoint.into(),
                lwa_url: lwa_url.into(),
                ..AmazonOptions::default()
            };
            assert!(
                AmazonSpApi::new(ShopId::parse("A1EXAMPLESELLER").unwrap(), credentials.clone(), options).is_err(),
                "{endpoint} {lwa_url}"
            );
        }
    }

    #[test]
    fn the_settle_is_never_under_two_minutes_and_the_page_size_within_amazons() {
        let api = api(AmazonOptions {
            settle: SignedDuration::from_secs(30),
            page_size: 500,
            ..AmazonOptions::default()
        });
        assert_eq!(api.settle, SignedDuration::from_mins(2));
        assert_eq!(api.page_size, 100);
    }

    #[test]
    fn the_window_runs_from_the_position_less_the_overlap_to_now_less_the_settle() {
        let api = api(AmazonOptions::default());
        let now = at("2026-11-23T04:00:00.750Z");
        let day = SignedDuration::from_hours(24);
        assert_eq!(
            api.window(None, now, day),
            Some(Window {
                after: at("2026-11-22T04:00:00Z"),
                before: at("2026-11-23T03:57:00Z"),
                next_token: None,
            })
        );
        let read = Position::Read(at("2026-11-23T03:50:00Z"));
        assert_eq!(
            api.window(Some(&read), now, day).unwrap().after,
            at("2026-11-23T03:45:00Z")
        );
        // Nothing has settled since the position yet.
        let late = Position::Read(at("2026-11-23T04:05:00Z"));
        assert_eq!(api.window(Some(&late), now, day), None);
        assert_eq!(api.window(None, now, SignedDuration::from_mins(1)), None);
        let paging = Position::Paging(Window {
            after: at("2026-11-22T00:00:00Z"),
            before: at("2026-11-22T12:00:00Z"),
            next_token: Some("tok".into()),
        });
        assert_eq!(
            api.window(Some(&paging), now, day).unwrap().next_token.as_deref(),
            Some("tok")
        );
    }

    #[test]
    fn positions_are_written_and_read_back() {
        let read = Position::Read(at("2026-11-23T03:57:00Z"));
        assert_eq!(read.encode(), "2026-11-23T03:57:00Z");
        assert_eq!(Position::parse(&read.encode()).unwrap(), read);
        let paging = Position::Paging(Window {
            after: at("2026-11-22T04:00:00Z"),
            before: at("2026-11-23T03:57:00Z"),
            next_token: Some("2YgY+W55/IGNh=\"".into()),
        });
        let text = paging.encode();
        assert_eq!(
            text,
            r#"{"after":"2026-11-22T04:00:00Z","before":"2026-11-23T03:57:00Z","next_token":"2YgY+W55/IGNh=\""}"#
        );
        assert_eq!(Position::parse(&text).unwrap(), paging);
        for refused in [
            "yesterday",
            "{",
            "[]",
            r#"{"after":"2026-11-22T04:00:00Z","before":"2026-11-23T03:57:00Z"}"#,
            r#"{"after":"2026-11-22T04:00:00Z","before":"2026-11-23T03:57:00Z","next_token":""}"#,
            r#"{"after":"2026-11-23T04:00:00Z","before":"2026-11-23T03:57:00Z","next_token":"t"}"#,
            r#"{"after":"x","before":"2026-11-23T03:57:00Z","next_token":"t"}"#,
            r#"{"after":"2026-11-22T04:00:00Z","before":"2026-11-23T03:57:00Z","next_token":"t","x":1}"#,
        ] {
            assert!(
                matches!(Position::parse(refused), Err(FeedError::Refused(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_rate_limit_header_gives_the_time_for_one_request() {
        assert_eq!(one_request_at("0.5"), Some(SignedDuration::from_secs(2)));
        assert_eq!(one_request_at("0.0167"), Some(SignedDuration::from_secs(60)));
        assert_eq!(one_request_at("10"), Some(SignedDuration::from_secs(1)));
        assert_eq!(one_request_at("0"), None);
        assert_eq!(one_request_at("-1"), None);
        assert_eq!(one_request_at("NaN"), None);
        assert_eq!(one_request_at("fast"), None);
    }

    #[test]
    fn a_new_token_is_tried_for_an_expired_one_and_for_a_kept_one_refused() {
        assert!(retry_with_new_token(Failure::TokenExpired, true));
        assert!(retry_with_new_token(Failure::Unauthorized, false));
        assert!(!retry_with_new_token(Failure::Unauthorized, true));
        assert!(!retry_with_new_token(Failure::Throttled, false));
        assert!(!retry_with_new_token(Failure::Invalid, false));
    }

    #[test]
    fn nothing_secret_is_printed() {
        let api = api(AmazonOptions::default());
        let printed = format!("{api:?} {:?}", api.credentials);
        assert!(printed.contains("amzn1.application-oa2-client.abc"), "{printed}");
        for secret in ["s3cret-client", "refresh-AAAA"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(format!("{:?}", sensitive("Atza|x").unwrap()).contains("Sensitive"));
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        assert_eq!(api_time(at("2026-11-23T12:57:00.900+09:00")), "2026-11-23T03:57:00Z");
    }
}
