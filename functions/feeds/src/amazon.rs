//! Amazon.co.jp: the Selling Partner API (SP-API) over HTTP, for one seller, over the pure requests and
//! parsers of [`mallguard_malls::amazon`]. [`AmazonSpApi`] reads one order by its id ([`OrderLookup`], for
//! the `ORDER_CHANGE` notifications, which name an order without carrying it) and is the polling backstop
//! for the notifications that never came ([`OrderFeed`]). The shop id is the seller's `SellerId`. As the
//! seller's [`ShopActions`], it cancels orders by feed (see [Cancelling an order](#cancelling-an-order)).
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
//! # Cancelling an order
//!
//! As a [`ShopActions`], [`AmazonSpApi`] cancels and does nothing else: `can(Cancel)` is
//! [`AmazonOptions::cancel_orders`] (on by default), `can(Hold)` and `can(Release)` are false. Amazon has no
//! hold for a marketplace order: no order status means held, and no SP-API operation keeps a seller-fulfilled
//! order from shipping, since the seller ships it (the one `Hold` of SP-API is for Multi-Channel Fulfillment
//! orders, which are not marketplace orders). Keeping a held Amazon order from shipping is the shop's, as the
//! staff mails say, and there is nothing at Amazon to release.
//!
//! Amazon cancels nothing through the Orders API either: the seller acknowledges the order's items with
//! `StatusCode` `Failure` in a `POST_ORDER_ACKNOWLEDGEMENT_DATA` feed, which Amazon processes later (in
//! minutes, as far as is known; the research notes on the malls' write APIs, §4; the flow and what is not
//! verified are in [`mallguard_malls::amazon`], "Cancelling an order: the Feeds API"). One attempt
//! ([`ShopActions::perform`]) makes these requests, each counted in the log line of the attempt:
//!
//! 1. **getOrder** with the LWA token (no RDT: only `OrderStatus` is read). `Canceled`: done, nothing sent.
//!    `Shipped` or `InvoiceUnconfirmed` (every item shipped): refused, "the order has already shipped";
//!    `PartiallyShipped`: refused too (the rest is cancelled by hand). Any other status goes on.
//! 2. If an earlier attempt of the same action left a feed (below): **getFeed** on it at once, then as in 4.
//!    A feed getFeed does not know (404, 400) is forgotten and a new one sent.
//! 3. A new feed: every **getOrderItems** page (the `OrderItemId`s, at most [`MAX_ITEM_PAGES`] pages),
//!    [`amazon::order_acknowledgement_cancel_feed`] with [`AmazonOptions::cancel_reason`] on every item;
//!    **createFeedDocument**; the **upload**, a plain `PUT` of the XML to the presigned url with `Content-Type`
//!    [`amazon::FEED_CONTENT_TYPE`] and no `x-amz-access-token`; **createFeed**.
//! 4. **getFeed** up to [`AmazonOptions::feed_polls`] times, each after [`AmazonOptions::feed_poll_interval`]
//!    (3 times 5 s by default; at least once on a feed of an earlier attempt, the first time without a wait).
//! 5. `DONE`: **getFeedDocument** and the **download** of the processing report from its presigned url,
//!    gunzipped when `compressionAlgorithm` is `GZIP` (this crate has no compression library: a small,
//!    bounded and CRC-checked gunzip is here), read by [`amazon::ProcessingReport::outcome_of`] message 1.
//!
//! Accepted: [`Performed`] with the feed id as `reference`. Still `IN_QUEUE` or `IN_PROGRESS` after the
//! polls: [`ActionError::Accepted`] with the feed id (Amazon took it; a re-check is not a failed attempt), looked
//! at again after two minutes. Refused in the report, `FATAL`, `CANCELLED`, or a
//! report that cannot be read or fetched: **getOrder** once more, because Amazon may well refuse to cancel what
//! is cancelled already (by an earlier feed of the action, the buyer, the staff): `Canceled` is done, with the
//! feed id; anything else is [`ActionError::Refused`] with the report's `ResultMessageCode` and
//! `ResultDescription` (or the feed's state), the order's status and the feed id, for the staff.
//!
//! A cancellation done on the first attempt costs 10 requests with the defaults and a feed processed by the
//! second getFeed (LWA when no token is kept, getOrder, getOrderItems, createFeedDocument, the upload,
//! createFeed, getFeed twice, getFeedDocument, the download); 6 plus the polls when it is left pending; 2
//! (LWA, getOrder) for an order already cancelled or shipped; an attempt that follows an earlier feed, getOrder
//! and the polls, and the report's two when it is done. The buyer's answer waits for the first attempt (the
//! use cases perform right after their commit), so the polls are short: Amazon takes minutes, and the sweep
//! follows the feed. Set `feed_polls` to 0 to never wait on the first attempt.
//!
//! `FATAL` is a refusal, not tried again: Amazon says "some, none, or all of the operations within the feed
//! may have completed successfully", what makes a feed `FATAL` is mostly the document or the account, which
//! another attempt would send again as it is (each time at createFeed's rate of one every two minutes), and
//! the getOrder after it turns an order cancelled after all into done. The staff get the feed id to look it up
//! in Seller Central.
//!
//! ## The same action, attempt after attempt
//!
//! A feed Amazon is still processing is handed back as [`ActionError::Accepted`] with the feed id, which the
//! outbox keeps as the action's `reference`. Of an attempt that fails after it has a feed, the outbox keeps
//! only the [`ActionError::Later`] message, as [`MallAction::last_error`]; so every error an attempt hands
//! back once it has a feed names it as `feedId=…` too. The next attempt takes the feed from `reference`, else
//! from that message, and follows it rather than sending another: createFeed's rate is one every
//! two minutes (a burst of 15), and a second acknowledgement of the same order is at best refused.
//!
//! Every attempt first reads the order, so an order that a feed (this action's, whichever attempt sent it)
//! has cancelled is done without a request more. What is not covered: an attempt that ends without a `Later`
//! naming its feed (the process stopped; createFeed's answer was lost after Amazon took the feed). The next
//! attempt then sends a second feed. That is safe as far as is known: the first cancels the order, the
//! second is refused in its report, and the getOrder after a refusal turns that into done. Not verified (the
//! research found no such report): that Amazon refuses the cancellation of a cancelled order with an `Error`
//! result rather than accepting it again, and with which `ResultMessageCode`; that it processes a seller's
//! feeds of one type one after the other; and how soon getOrder shows `Canceled` after the feed is `DONE`
//! (a refusal is only ever turned into done by `Canceled`, never assumed).
//!
//! ## Presigned urls and failures
//!
//! The upload and report urls grant access on their own: never logged, never in an error, and `https://`
//! only ([`amazon::parse_create_feed_document`] refuses others). A client whose own endpoint is plain http
//! (which [`AmazonOptions::endpoint`] may be only on a loopback host: the fake) calls a presigned url on a
//! loopback host over plain http too, which is how the fake serves them; any other url is called as given.
//!
//! As an action's error, every SP-API call of a cancellation fails as the reads do ([Failures](#failures)),
//! with the same one new token: throttled (429, with `Retry-After` or the rate's time) and unavailable (5xx, a
//! redirect, no answer, a body that is not JSON) are [`ActionError::Later`]; refused credentials (401, 403
//! again with a new token, LWA's refusals) and refused requests (any other 4xx, JSON of another shape) are
//! [`ActionError::Refused`]. The presigned urls answer as S3: a 429 or a 5xx is later, anything else that is
//! not a 2xx refused, naming S3's error `Code`.
//!
//! # Messaging a buyer
//!
//! [`AmazonMessenger`] is the domain's [`Mailer`] for one seller's buyer mails: Amazon wants every message
//! to a buyer to go through Buyer-Seller Messaging, which an app reaches by the Messaging API v1
//! (amzn/selling-partner-api-models@34dc93f `models/messaging-api-model/messaging.json`; the pure requests,
//! parsers and text rules are in [`mallguard_malls::amazon`], "Messaging a buyer"). It wraps the seller's
//! [`AmazonSpApi`] in an [`Arc`] rather than making [`AmazonSpApi`] a mailer itself: the deployments already
//! hold one `Arc<AmazonSpApi>` per seller for the lookups, the backstop and the cancellations, so the
//! messenger shares its LWA token (one cache, one refresh at a time); sending to buyers stays a deliberate
//! registration (`RoutedMailer::with(Route::AmazonMessaging, seller, …)`), since the Messaging API needs the
//! Buyer Communication role that an app set up for orders may not have; and [`AmazonSpApi`] keeps one `send`
//! (its HTTP call), not two.
//!
//! One mail ([`Mailer::send`]) is a buyer mail of a hold whose tags name Amazon, this seller (`shop`) and
//! the order (`order`); any other is [`MailError::Rejected`] before a request. The `kind` tag picks the
//! message type ([`amazon::MessageType::for_notice`]): the notice and the reminder are `confirmOrderDetails`
//! ("to ask a buyer an order-related question prior to shipping their order"), the cancellation
//! `unexpectedProblem`; the receipt is refused (the API does not answer a buyer's messages). Then, each with
//! the LWA token (and the one new token for an expired or refused kept one, as every call here):
//!
//! 1. **getMessagingActionsForOrder** (Amazon.co.jp): the type not among the actions Amazon allows for the
//!    order now is [`MailError::Rejected`], naming the ones it allows, so the domain hands the hold to the
//!    staff (a shipped order, too many messages: Amazon decides).
//! 2. **GetAttributes**: a `buyer.locale` whose language is not the mail's ([`amazon::text_language`]) is
//!    not sent (Amazon: the text "must be written in the buyer's language of preference"):
//!    [`MailError::OtherLanguage`] when mallguard writes that language (the mail was written before the
//!    buyer's was known, say the intake's GetAttributes was throttled: the domain writes it again in it and
//!    retries), [`MailError::Rejected`] when it does not; no locale at all, the mail goes as it is.
//! 3. **The message** (`POST …/messages/{type}`) with [`amazon::message_text`]: plain text, the subject
//!    first, no line with a link or an email address, and where the answer links were, the request to
//!    reply to the message in Amazon's message centre (「このメッセージにご返信ください」), at most 2000
//!    long. Amazon answers `201` with no id, so the message id handed back is mallguard's own:
//!    `amazon-msg:{order}:{hold}:{kind}`. A `201` that carries `errors` is still a message created (logged):
//!    sending again would risk a second message to the buyer.
//!
//! Three requests a mail, four when the LWA token is fetched; each Messaging operation allows 1 request a
//! second with a burst of 5, so a sweep of many notices may be throttled and retried. Failures: 429, 5xx, a
//! redirect, no answer or a body that is not JSON are [`MailError::Transient`]; refused credentials (LWA's,
//! a 401 or 403 again with a new token), a 403 "Invalid amazonOrderId and template combination." (the type is
//! not allowed; no new token for it), 404 and any other 4xx are [`MailError::Rejected`]. The texts name the
//! call, the order and Amazon's error code, and Amazon's message only when it is plain ASCII without an `@` or
//! a link (so nothing of the buyer's text can come back in it); never a token or the text sent. A timeout
//! after the message went out may mean Amazon took it: the API cannot tell, and a retry may then message the
//! buyer twice. Logs carry the seller, the order, the hold, the kind, the type and counts.
//!
//! # Orders API v0 is deprecated
//!
//! `getOrders`, `getOrder` and `getOrderItems` are Orders API v0, which Amazon removes on 2027-03-27 in
//! favour of Orders API v2026-01-01 (one `getOrder` with `includedData=BUYER,RECIPIENT`, no RDT, no
//! `getOrderItems`; `searchOrders` for the backstop). The [`mallguard_malls::amazon`] module documentation
//! says what changes; the HTTP side here will need the same move.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionBy, ActionError, ActionKind, MallAction, Performed};
use mallguard_domain::feed::{FeedError, FeedOrder, FeedPage, LookedUp, OrderFeed, OrderLookup};
use mallguard_domain::ids::{Mall, OrderId, ShopId};
use mallguard_domain::mail_routes::{BUYER, ROUTE_TAG};
use mallguard_domain::notice::Mail;
use mallguard_domain::ports::{MailError, Mailer};
use mallguard_malls::ParseError;
use mallguard_malls::amazon::{
    self, AmazonStatus, CancelReason, Compression, Failure, Feed, FeedOutcome, MessageType, OrderCancellation,
    OrdersSince, ProcessingReport, ProcessingStatus,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use crate::actions::ShopActions;
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
/// How many times one cancellation attempt asks `getFeed` by default.
pub const DEFAULT_FEED_POLLS: u32 = 3;
/// The wait before each of those `getFeed`s by default.
pub const DEFAULT_FEED_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The most `getFeed`s of one attempt (its burst is 15).
const MAX_FEED_POLLS: u32 = 10;
/// The longest wait between two `getFeed`s of one attempt.
const MAX_FEED_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// The least wait before an attempt follows a feed Amazon has not processed yet: it takes minutes.
const FEED_PENDING_WAIT: SignedDuration = SignedDuration::from_mins(2);
/// How an attempt's [`ActionError`] names the feed it leaves behind, for the next attempt of the action.
const FEED_MARK: &str = "feedId=";
/// The longest feed id taken back from an earlier attempt.
const MAX_FEED_ID: usize = 200;
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
/// The id SP-API gives each request, for the logs.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
/// How many characters of Amazon's error message a mail error repeats.
const SAID_ECHO: usize = 120;
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
    /// Whether this client cancels the seller's orders, by an order acknowledgement feed (see the
    /// [module](self)); off, Amazon orders are cancelled by the staff in Seller Central. On by default; turn
    /// it off for an app without the role Amazon asks for order feeds.
    pub cancel_orders: bool,
    /// The `CancelReason` of every item of an order the buyer asked to cancel: `BuyerCanceled` by default
    /// (the buyer chose to cancel the duplicate through mallguard). Other cancellations (at the deadline, by the
    /// staff) give `GeneralAdjustment`.
    pub cancel_reason: CancelReason,
    /// How many times one cancellation attempt asks `getFeed` whether its feed was processed (at most 10;
    /// 0: never on the attempt that sends the feed, once on the next ones).
    pub feed_polls: u32,
    /// The wait before each of those `getFeed`s (at most 30 s; zero in tests).
    pub feed_poll_interval: Duration,
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
            cancel_orders: true,
            cancel_reason: CancelReason::BuyerCanceled,
            feed_polls: DEFAULT_FEED_POLLS,
            feed_poll_interval: DEFAULT_FEED_POLL_INTERVAL,
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
    cancel_orders: bool,
    cancel_reason: CancelReason,
    feed_polls: u32,
    feed_poll_interval: Duration,
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
            .field("cancel_orders", &self.cancel_orders)
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
    CreateFeedDocument,
    /// The PUT of the feed document to its presigned url.
    Upload,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
    /// The GET of the processing report from its presigned url.
    Download,
    /// Messaging API `getMessagingActionsForOrder`.
    MessagingActions,
    /// Messaging API `GetAttributes`.
    Attributes,
    /// A Messaging API message (`createConfirmOrderDetails`, …).
    Message(MessageType),
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Lwa => "LWA token",
            Call::Rdt => "createRestrictedDataToken",
            Call::GetOrder => "getOrder",
            Call::GetOrderItems => "getOrderItems",
            Call::GetOrders => "getOrders",
            Call::CreateFeedDocument => "createFeedDocument",
            Call::Upload => "the feed document's upload",
            Call::CreateFeed => "createFeed",
            Call::GetFeed => "getFeed",
            Call::GetFeedDocument => "getFeedDocument",
            Call::Download => "the processing report's download",
            Call::MessagingActions => "getMessagingActionsForOrder",
            Call::Attributes => "GetAttributes",
            Call::Message(message_type) => message_type.operation(),
        }
    }

    /// What roles a call needs, for a refusal of the app's token.
    fn roles(self) -> &'static str {
        match self {
            Call::CreateFeedDocument | Call::CreateFeed | Call::GetFeed | Call::GetFeedDocument => {
                "order acknowledgement feeds need a role of their own (which one Amazon asks for is not verified \
                 here; turn cancel_orders off until the app has it)"
            }
            Call::MessagingActions | Call::Attributes | Call::Message(_) => {
                "the Messaging API needs the Buyer Communication role"
            }
            _ => "buyer data needs the restricted Direct-to-Consumer Shipping role",
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
    /// `x-amzn-RequestId`, for the logs (Amazon's support asks for it).
    request_id: Option<String>,
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
            cancel_orders: options.cancel_orders,
            cancel_reason: options.cancel_reason,
            feed_polls: options.feed_polls.min(MAX_FEED_POLLS),
            feed_poll_interval: options.feed_poll_interval.min(MAX_FEED_POLL_INTERVAL),
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
        let request_id = header(REQUEST_ID_HEADER)
            .filter(|id| id.len() <= 100)
            .map(str::to_owned);
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
            request_id,
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
                 the app, and that the app has the roles for this call ({})",
                call.roles()
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
        let mut order = self.read_order(&ids, 0, &mut None, &mut progress).await?;
        self.learn_buyer_language(&mut order, &mut progress).await;
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
            let mut order = self.read_order(&to_read, from, &mut rdt, &mut progress).await?;
            // The backstop's orders are notified like the notifications' ones: in the buyer's language.
            self.learn_buyer_language(&mut order, &mut progress).await;
            orders.push(order);
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

// ---------------------------------------------------------------------------------------------------------
// Cancelling an order: the Feeds API
// ---------------------------------------------------------------------------------------------------------

/// Where a feed stood when an attempt stopped asking.
enum Polled {
    /// Still `IN_QUEUE` or `IN_PROGRESS`.
    Pending(ProcessingStatus),
    /// Anything else: `DONE`, `FATAL`, `CANCELLED`…
    Settled(Feed),
}

/// Why a processing report was not read.
enum Unread {
    /// A call failed.
    Failed(Call, FeedError),
    /// It came, but cannot be read (its compression, its XML).
    Unreadable(String),
}

impl AmazonSpApi {
    /// One attempt at cancelling `action`'s order (see the [module](self)).
    async fn cancel(&self, action: &MallAction, progress: &mut Progress) -> Result<Performed, ActionError> {
        let order_id = &action.order.order_id;
        let earlier = earlier_feed(action);
        let status = self
            .order_status(order_id, progress)
            .await
            .map_err(|e| naming_feed(e, earlier.as_deref()))?;
        if status == AmazonStatus::Canceled {
            return Ok(Performed::changed(earlier));
        }
        if matches!(status, AmazonStatus::Shipped | AmazonStatus::InvoiceUnconfirmed) {
            return Err(ActionError::Shipped(match &earlier {
                Some(feed_id) => {
                    format!("the order has already shipped ({FEED_MARK}{feed_id} did not cancel it in time)")
                }
                None => "the order has already shipped".to_owned(),
            }));
        }
        if let Some(why) = not_cancellable(&status) {
            return Err(ActionError::Refused(match &earlier {
                Some(feed_id) => format!("{why} ({FEED_MARK}{feed_id} did not cancel it in time)"),
                None => why,
            }));
        }
        if let Some(feed_id) = earlier {
            match self.poll(&feed_id, false, progress).await {
                Ok(polled) => return self.conclude(&feed_id, polled, order_id, progress).await,
                // Amazon does not know the feed (any more): a new one.
                Err(CallFailed {
                    failure: Some(Failure::NotFound | Failure::Invalid),
                    ..
                }) => {
                    tracing::warn!(mall = "amazon", shop = %self.seller, feed = %feed_id, "getFeed does not know the earlier attempt's feed: sending a new one");
                }
                Err(failed) => return Err(naming_feed(action_error(Call::GetFeed, failed.error), Some(&feed_id))),
            }
        }
        let feed_id = self.submit(order_id, action.by, progress).await?;
        tracing::info!(mall = "amazon", shop = %self.seller, action = %action.id, feed = %feed_id, "sent a cancel feed to Amazon");
        let polled = self
            .poll(&feed_id, true, progress)
            .await
            .map_err(|failed| naming_feed(action_error(Call::GetFeed, failed.error), Some(&feed_id)))?;
        self.conclude(&feed_id, polled, order_id, progress).await
    }

    /// The `CancelReason` for a cancellation decided `by`: the configured one when the buyer asked for it
    /// ([`AmazonOptions::cancel_reason`], `BuyerCanceled` by default), `GeneralAdjustment` otherwise (the shop
    /// cancels a duplicate nobody answered for, with automatic cancellation on): both among the
    /// `OrderAcknowledgement` reasons the research notes list.
    fn reason_for(&self, by: ActionBy) -> CancelReason {
        match by {
            ActionBy::Buyer => self.cancel_reason,
            ActionBy::Staff | ActionBy::Deadline | ActionBy::Mall | ActionBy::Mallguard => {
                CancelReason::GeneralAdjustment
            }
        }
    }

    /// The order's `OrderStatus`, by getOrder with the LWA token (the status is no restricted data).
    async fn order_status(&self, id: &OrderId, progress: &mut Progress) -> Result<AmazonStatus, ActionError> {
        let url = amazon::v0_get_order(id).url(&self.endpoint);
        let body = self
            .with_lwa(Call::GetOrder, |token| self.get(&url, token), progress)
            .await
            .map_err(|failed| action_error(Call::GetOrder, failed.error))?;
        order_status_of(&body).map_err(|e| action_error(Call::GetOrder, e))
    }

    /// A new cancel feed for the order: its items, the document, its upload, createFeed. The feed id.
    async fn submit(&self, order_id: &OrderId, by: ActionBy, progress: &mut Progress) -> Result<String, ActionError> {
        let (pages, incomplete) = self
            .get_order_items(order_id, progress)
            .await
            .map_err(|e| action_error(Call::GetOrderItems, e))?;
        if let Some(why) = incomplete {
            return Err(ActionError::Refused(format!(
                "{why}: cancel the order by hand in Seller Central"
            )));
        }
        let mut item_ids = Vec::new();
        for page in &pages {
            item_ids.extend(item_ids_of(page).map_err(|e| action_error(Call::GetOrderItems, e))?);
        }
        let cancellation = OrderCancellation {
            order_id: order_id.clone(),
            item_ids,
            reason: self.reason_for(by),
        };
        let document = amazon::order_acknowledgement_cancel_feed(&self.seller, &[cancellation])
            .map_err(|e| ActionError::Refused(format!("the cancel feed cannot be written: {e}")))?;

        let url = format!("{}{}", self.endpoint, amazon::FEED_DOCUMENTS_PATH);
        let body = json_bytes(&amazon::create_feed_document_request());
        let answer = self
            .with_lwa(
                Call::CreateFeedDocument,
                |token| self.post_json(&url, token, &body),
                progress,
            )
            .await
            .map_err(|failed| action_error(Call::CreateFeedDocument, failed.error))?;
        let upload = amazon::parse_create_feed_document(&answer).map_err(|e| {
            action_error(
                Call::CreateFeedDocument,
                unreadable_answer(Call::CreateFeedDocument, &e),
            )
        })?;

        let request = self
            .client
            .put(
                self.presigned(Call::Upload, &upload.url)
                    .map_err(|e| action_error(Call::Upload, e))?,
            )
            .header(CONTENT_TYPE, amazon::FEED_CONTENT_TYPE)
            .body(document);
        let answer = self
            .send(Call::Upload, request, progress)
            .await
            .map_err(|e| action_error(Call::Upload, e))?;
        if !(200..300).contains(&answer.status) {
            return Err(action_error(Call::Upload, presigned_failed(Call::Upload, &answer)));
        }

        let url = format!("{}{}", self.endpoint, amazon::FEEDS_PATH);
        let body = json_bytes(&amazon::create_feed_request(&upload.feed_document_id));
        let answer = self
            .with_lwa(Call::CreateFeed, |token| self.post_json(&url, token, &body), progress)
            .await
            .map_err(|failed| action_error(Call::CreateFeed, failed.error))?;
        amazon::parse_create_feed(&answer)
            .map_err(|e| action_error(Call::CreateFeed, unreadable_answer(Call::CreateFeed, &e)))
    }

    /// getFeed until the feed is no longer pending, at most [`AmazonOptions::feed_polls`] times (at least
    /// once for a feed of an earlier attempt), each after [`AmazonOptions::feed_poll_interval`] but the
    /// first of a feed of an earlier attempt.
    async fn poll(&self, feed_id: &str, fresh: bool, progress: &mut Progress) -> Result<Polled, CallFailed> {
        let url = amazon::get_feed(feed_id).url(&self.endpoint);
        let polls = if fresh { self.feed_polls } else { self.feed_polls.max(1) };
        let mut status = ProcessingStatus::InQueue;
        for poll in 0..polls {
            if (fresh || poll > 0) && !self.feed_poll_interval.is_zero() {
                tokio::time::sleep(self.feed_poll_interval).await;
            }
            let body = self
                .with_lwa(Call::GetFeed, |token| self.get(&url, token), progress)
                .await?;
            let feed = amazon::parse_feed(&body).map_err(|e| CallFailed::from(unreadable_answer(Call::GetFeed, &e)))?;
            match feed.outcome() {
                Some(FeedOutcome::Pending) => status = feed.processing_status,
                _ => return Ok(Polled::Settled(feed)),
            }
        }
        Ok(Polled::Pending(status))
    }

    /// What the feed's state means for the action: accepted by its report, done; pending, later; anything
    /// else, done if the order is cancelled all the same, else refused with what Amazon said.
    async fn conclude(
        &self,
        feed_id: &str,
        polled: Polled,
        order_id: &OrderId,
        progress: &mut Progress,
    ) -> Result<Performed, ActionError> {
        let feed = match polled {
            Polled::Pending(status) => {
                // Amazon took the feed and is working on it: not a failure, a cancellation waiting for
                // Amazon's confirmation, followed by its feed id (kept as the action's reference).
                return Err(ActionError::Accepted {
                    reference: Some(feed_id.to_owned()),
                    message: format!(
                        "Amazon has not processed the cancel feed yet ({status}); the next attempt asks again \
                         ({FEED_MARK}{feed_id})"
                    ),
                    check_after: FEED_PENDING_WAIT,
                });
            }
            Polled::Settled(feed) => feed,
        };
        let refusal = match (feed.outcome(), &feed.result_feed_document_id) {
            (None, Some(document_id)) => match self.report(document_id, progress).await {
                Ok(report) => match report.outcome_of(1) {
                    FeedOutcome::Accepted => {
                        return Ok(Performed::changed(Some(feed_id.to_owned())));
                    }
                    FeedOutcome::Refused(refusal) => format!("Amazon refused to cancel the order: {refusal}"),
                    FeedOutcome::Pending => "the processing report says nothing of the order".to_owned(),
                },
                Err(Unread::Failed(call, error)) => match action_error(call, error) {
                    later @ ActionError::Later { .. } => return Err(naming_feed(later, Some(feed_id))),
                    ActionError::Refused(why) => format!("the feed was processed, but its report was refused: {why}"),
                    // A failed call is never only taken, nor says the order shipped.
                    other @ (ActionError::Accepted { .. } | ActionError::Shipped(_)) => return Err(other),
                },
                Err(Unread::Unreadable(why)) => format!(
                    "the feed was processed, but its report cannot be read ({why}): look the feed up in Seller \
                     Central"
                ),
            },
            (Some(FeedOutcome::Refused(refusal)), document) => {
                let mut said = format!("the feed did not go through: {refusal}");
                // A FATAL feed may still have a report saying why.
                if let Some(document_id) = document
                    && let Ok(report) = self.report(document_id, progress).await
                    && let FeedOutcome::Refused(why) = report.outcome()
                {
                    said = format!("{said}; the report says: {why}");
                }
                said
            }
            (outcome, _) => format!("unexpected feed state {} ({outcome:?})", feed.processing_status),
        };
        // Amazon refuses to cancel what is already cancelled: by an earlier feed of this action, the buyer or
        // the staff. The order decides.
        let status = self
            .order_status(order_id, progress)
            .await
            .map_err(|e| naming_feed(e, Some(feed_id)))?;
        if status == AmazonStatus::Canceled {
            tracing::info!(mall = "amazon", shop = %self.seller, feed = %feed_id, "the feed was refused, but the order is cancelled");
            return Ok(Performed::changed(Some(feed_id.to_owned())));
        }
        Err(ActionError::Refused(format!(
            "{refusal} (the order is {status} at Amazon; {FEED_MARK}{feed_id})"
        )))
    }

    /// The processing report of a `DONE` (or `FATAL`) feed: getFeedDocument, the download, gunzip.
    async fn report(&self, document_id: &str, progress: &mut Progress) -> Result<ProcessingReport, Unread> {
        let url = amazon::get_feed_document(document_id).url(&self.endpoint);
        let body = self
            .with_lwa(Call::GetFeedDocument, |token| self.get(&url, token), progress)
            .await
            .map_err(|failed| Unread::Failed(Call::GetFeedDocument, failed.error))?;
        let document = amazon::parse_feed_document(&body)
            .map_err(|e| Unread::Failed(Call::GetFeedDocument, unreadable_answer(Call::GetFeedDocument, &e)))?;
        let url = self
            .presigned(Call::Download, &document.url)
            .map_err(|e| Unread::Failed(Call::Download, e))?;
        let answer = self
            .send(Call::Download, self.client.get(url), progress)
            .await
            .map_err(|e| Unread::Failed(Call::Download, e))?;
        if !(200..300).contains(&answer.status) {
            return Err(Unread::Failed(
                Call::Download,
                presigned_failed(Call::Download, &answer),
            ));
        }
        let xml = match document.compression {
            None => answer.body,
            Some(Compression::Gzip) => gzip::gunzip(&answer.body, MAX_ANSWER_BYTES)
                .map_err(|e| Unread::Unreadable(format!("the gzip of the report is broken: {e}")))?,
            Some(Compression::Other(algorithm)) => {
                return Err(Unread::Unreadable(format!(
                    "it is compressed with {algorithm}, which this client does not read"
                )));
            }
        };
        amazon::parse_processing_report(&xml).map_err(|e| Unread::Unreadable(e.to_string()))
    }

    /// A POST of JSON to SP-API with `token` in `x-amz-access-token`.
    fn post_json(&self, url: &str, token: HeaderValue, body: &[u8]) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header(amazon::ACCESS_TOKEN_HEADER, token)
            .header(AMZ_DATE_HEADER, amz_date())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec())
    }

    /// A presigned url as it is called: as given, but over plain http when this client's own endpoint is
    /// plain http (which [`http::base_url`] allows only on a loopback host: the fake) and the url is on a
    /// loopback host too. The url is never repeated in an error: it grants access on its own.
    fn presigned(&self, call: Call, url: &str) -> Result<String, FeedError> {
        let refused = || FeedError::Refused(format!("{}: Amazon's presigned url cannot be used", call.name()));
        let mut parsed = reqwest::Url::parse(url).map_err(|_| refused())?;
        if self.endpoint.starts_with("http://")
            && matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        {
            parsed.set_scheme("http").map_err(|()| refused())?;
        }
        Ok(parsed.into())
    }
}

#[async_trait]
impl ShopActions for AmazonSpApi {
    fn mall(&self) -> Mall {
        Mall::Amazon
    }

    fn shop(&self) -> &ShopId {
        &self.seller
    }

    /// Cancel while [`AmazonOptions::cancel_orders`] is on (the default). Never hold or release: Amazon has
    /// no hold for a marketplace order (no status for it, no operation; the seller ships an MFN order, so
    /// keeping it from shipping is the shop's), and nothing at Amazon to release.
    fn can(&self, kind: ActionKind) -> bool {
        match kind {
            ActionKind::Cancel => self.cancel_orders,
            ActionKind::Hold | ActionKind::Release => false,
        }
    }

    async fn perform(&self, action: &MallAction) -> Result<Performed, ActionError> {
        let mut progress = Progress::default();
        let order = &action.order;
        let result = if order.mall != Mall::Amazon || order.shop != self.seller {
            Err(ActionError::Refused(format!(
                "the order is at {} shop {}, not Amazon seller {}",
                order.mall, order.shop, self.seller
            )))
        } else {
            match action.kind {
                ActionKind::Cancel if self.cancel_orders => self.cancel(action, &mut progress).await,
                ActionKind::Cancel => Err(ActionError::Refused(
                    "this deployment does not cancel Amazon orders (cancel_orders is off): cancel it by hand in \
                     Seller Central"
                        .into(),
                )),
                ActionKind::Hold | ActionKind::Release => Err(ActionError::Refused(format!(
                    "Amazon has no {} for a marketplace order: the shop keeps it from shipping itself",
                    action.kind
                ))),
            }
        };
        match &result {
            Ok(performed) => tracing::info!(
                mall = "amazon",
                shop = %self.seller,
                action = %action.id,
                kind = %action.kind,
                reference = ?performed.reference,
                requests = progress.requests,
                "did an Amazon action"
            ),
            Err(error) => tracing::warn!(
                mall = "amazon",
                shop = %self.seller,
                action = %action.id,
                kind = %action.kind,
                requests = progress.requests,
                later = matches!(error, ActionError::Later { .. }),
                "an Amazon action was not done"
            ),
        }
        result
    }
}

/// Why an order in `status` is not cancelled by feed; None when it may be.
fn not_cancellable(status: &AmazonStatus) -> Option<String> {
    match status {
        AmazonStatus::Shipped | AmazonStatus::InvoiceUnconfirmed => Some("the order has already shipped".into()),
        AmazonStatus::PartiallyShipped => Some(
            "part of the order has already shipped: cancel the rest by hand in Seller Central if it must be".into(),
        ),
        _ => None,
    }
}

/// The feed an earlier attempt of `action` sent: its `reference`, else the [`FEED_MARK`] of its last error.
fn earlier_feed(action: &MallAction) -> Option<String> {
    let valid = |id: &str| {
        !id.is_empty()
            && id.len() <= MAX_FEED_ID
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if let Some(reference) = action.reference.as_deref().map(str::trim)
        && valid(reference)
    {
        return Some(reference.to_owned());
    }
    let error = action.last_error.as_deref()?;
    let at = error.rfind(FEED_MARK)? + FEED_MARK.len();
    let id: String = error[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    let id = id.trim_end_matches('.');
    valid(id).then(|| id.to_owned())
}

/// `error`, naming the feed the next attempt must follow (a `Later`) or the staff look up (a refusal).
fn naming_feed(error: ActionError, feed_id: Option<&str>) -> ActionError {
    let Some(feed_id) = feed_id else {
        return error;
    };
    let mark = format!("{FEED_MARK}{feed_id}");
    match error {
        ActionError::Later { message, retry_after } if !message.contains(&mark) => ActionError::Later {
            message: format!("{message} ({mark})"),
            retry_after,
        },
        ActionError::Refused(reason) if !reason.contains(&mark) => ActionError::Refused(format!("{reason} ({mark})")),
        other => other,
    }
}

/// A failed call as an action's error: what passes (throttling, an outage, no answer) is tried again later,
/// with Amazon's wait; refused credentials and refused requests need a person.
fn action_error(call: Call, error: FeedError) -> ActionError {
    match error {
        FeedError::Throttled { retry_after } => ActionError::Later {
            message: format!("{}: Amazon throttled the request", call.name()),
            retry_after,
        },
        FeedError::Unavailable(message) => ActionError::Later {
            message,
            retry_after: None,
        },
        FeedError::Unauthorized(message) | FeedError::Refused(message) => ActionError::Refused(message),
    }
}

/// A presigned url's answer that is no 2xx (S3's): 429 and 5xx pass, anything else is refused. S3's error
/// `Code` is named; the url never is.
fn presigned_failed(call: Call, answer: &Answer) -> FeedError {
    let name = call.name();
    let text = String::from_utf8_lossy(&answer.body);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim())
        .filter(|code| !code.is_empty() && code.len() <= 60 && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|code| format!(" ({code})"))
        .unwrap_or_default();
    let status = answer.status;
    match status {
        429 => FeedError::Throttled {
            retry_after: answer.retry_after,
        },
        500..=599 => FeedError::Unavailable(format!("{name}: HTTP {status}{code}")),
        _ => FeedError::Refused(format!("{name}: the presigned url was refused: HTTP {status}{code}")),
    }
}

/// `payload.OrderStatus` of a getOrder answer. Not JSON: unavailable (a maintenance page); JSON without it:
/// refused.
fn order_status_of(body: &[u8]) -> Result<AmazonStatus, FeedError> {
    let answer: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| FeedError::Unavailable("getOrder: the answer cannot be read: not JSON".into()))?;
    answer["payload"]["OrderStatus"]
        .as_str()
        .filter(|status| !status.trim().is_empty())
        .map(|status| AmazonStatus::from(status.to_owned()))
        .ok_or_else(|| FeedError::Refused("getOrder: the answer has no payload.OrderStatus".into()))
}

/// The `OrderItemId` of every item on a getOrderItems page.
fn item_ids_of(page: &[u8]) -> Result<Vec<String>, FeedError> {
    let answer: serde_json::Value = serde_json::from_slice(page)
        .map_err(|_| FeedError::Unavailable("getOrderItems: the answer cannot be read: not JSON".into()))?;
    let items = answer["payload"]["OrderItems"]
        .as_array()
        .ok_or_else(|| FeedError::Refused("getOrderItems: the answer has no payload.OrderItems".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item["OrderItemId"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| FeedError::Refused(format!("getOrderItems: OrderItems[{i}] has no OrderItemId")))
        })
        .collect()
}

fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a JSON value serialises")
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

// ---------------------------------------------------------------------------------------------------------
// Messaging a buyer: the Messaging API
// ---------------------------------------------------------------------------------------------------------

/// One Amazon seller's buyer mails, sent as Buyer-Seller messages through the Messaging API (see the
/// [module](self), "Messaging a buyer"). Register it for the seller's [`Route::AmazonMessaging`] mails.
///
/// [`Route::AmazonMessaging`]: mallguard_domain::mail_routes::Route::AmazonMessaging
pub struct AmazonMessenger {
    api: Arc<AmazonSpApi>,
}

impl fmt::Debug for AmazonMessenger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmazonMessenger").field("api", &self.api).finish()
    }
}

/// What a buyer mail's tags say it is about.
struct MessageTarget {
    order: OrderId,
    hold: String,
    kind: String,
    message_type: MessageType,
}

impl AmazonMessenger {
    /// The messenger of `api`'s seller, sharing its LWA token with every other use of `api`.
    pub fn new(api: Arc<AmazonSpApi>) -> AmazonMessenger {
        AmazonMessenger { api }
    }

    /// The seller whose buyers this messages.
    pub fn seller(&self) -> &ShopId {
        &self.api.seller
    }

    /// The order, the hold, the kind and the message type of `mail`; refused when it is no buyer mail of
    /// this seller's Amazon order, or of a kind Amazon's messaging does not carry.
    fn target(&self, mail: &Mail) -> Result<MessageTarget, MailError> {
        let tag = |name: &str| mail.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let seller = &self.api.seller;
        if tag(ROUTE_TAG) != Some(BUYER) || tag("mall") != Some(Mall::Amazon.as_str()) {
            return Err(MailError::Rejected(format!(
                "Amazon's messaging for seller {seller} carries the buyer mails of Amazon orders only: this mail is \
                 not one (its route and mall tags)"
            )));
        }
        if tag("shop") != Some(seller.as_str()) {
            return Err(MailError::Rejected(format!(
                "the mail is for another shop than Amazon seller {seller}: it must be routed to that seller's messenger"
            )));
        }
        let order = tag("order")
            .and_then(|order| OrderId::parse(order).ok())
            .ok_or_else(|| MailError::Rejected("the mail names no Amazon order (its order tag)".into()))?;
        let kind = tag("kind").unwrap_or_default().to_owned();
        let message_type = MessageType::for_notice(&kind)
            .map_err(|why| MailError::Rejected(format!("nothing was sent to the buyer of order {order}: {why}")))?;
        Ok(MessageTarget {
            order,
            hold: tag("hold").filter(|h| !h.is_empty()).unwrap_or("-").to_owned(),
            kind,
            message_type,
        })
    }

    /// The three calls of one mail (see the [module](self)): the id of the message.
    async fn message(&self, mail: &Mail, target: &MessageTarget, progress: &mut Progress) -> Result<String, MailError> {
        let api = &*self.api;
        let (order, message_type) = (&target.order, target.message_type);
        let language = amazon::text_language(&format!("{}\n{}", mail.subject, mail.text));
        let made = amazon::message_text(&mail.subject, &mail.text, language, message_type.max_text());
        if made.text.trim().is_empty() {
            return Err(MailError::Rejected(format!(
                "the mail for the buyer of order {order} has no text to send"
            )));
        }

        let call = Call::MessagingActions;
        let url = amazon::get_messaging_actions_for_order(order).url(&api.endpoint);
        let answer = api
            .messaging(call, |token| api.get(&url, token), progress)
            .await
            .map_err(mail_error)?;
        let actions = amazon::parse_messaging_actions(&self.ok(call, order, &answer)?)
            .map_err(|e| unreadable_mail_answer(call, &e))?;
        if !actions.allows(message_type) {
            let offered = actions.message_types();
            let offered = if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            };
            return Err(MailError::Rejected(format!(
                "Amazon does not allow a {message_type} message for order {order} now (it allows: {offered}); it \
                 decides by the order's state (shipped?), the seller and the messages sent already. Nothing was \
                 sent: reach the buyer in Seller Central"
            )));
        }

        let call = Call::Attributes;
        let url = amazon::get_attributes(order).url(&api.endpoint);
        let answer = api
            .messaging(call, |token| api.get(&url, token), progress)
            .await
            .map_err(mail_error)?;
        let attributes =
            amazon::parse_attributes(&self.ok(call, order, &answer)?).map_err(|e| unreadable_mail_answer(call, &e))?;
        let written = match language {
            mallguard_domain::Language::Ja => "Japanese",
            mallguard_domain::Language::En => "English",
        };
        match (&attributes.locale, attributes.language()) {
            // A language mallguard writes: the mail was written before the buyer's was known (a throttled
            // look-up at intake), so it is written again in it, not given up.
            (Some(locale), Some(buyers)) if buyers != language => {
                return Err(MailError::OtherLanguage {
                    reads: buyers,
                    message: format!(
                        "the buyer of order {order} reads {locale} at Amazon, and the mail is in {written}: Amazon \
                         wants messages in the buyer's language, so it goes again written in that"
                    ),
                });
            }
            (Some(locale), None) => {
                return Err(MailError::Rejected(format!(
                    "the buyer of order {order} reads {locale} at Amazon, and the mail is in {written}: Amazon wants \
                     messages in the buyer's language, which mallguard does not write. Nothing was sent: write to \
                     the buyer in Seller Central"
                )));
            }
            (None, _) => tracing::info!(
                mall = "amazon",
                shop = %api.seller,
                %order,
                "GetAttributes gives no buyer locale: the message goes in the mail's language"
            ),
            _ => {}
        }

        let call = Call::Message(message_type);
        let url = amazon::create_message(order, message_type).url(&api.endpoint);
        let body = json_bytes(&amazon::message_request(&made.text));
        let answer = api
            .messaging(call, |token| api.post_json(&url, token, &body), progress)
            .await
            .map_err(mail_error)?;
        if amazon::refuses_message_type(answer.status, &answer.body) {
            return Err(MailError::Rejected(format!(
                "Amazon refused a {message_type} message for order {order}{}: the order does not allow it now. \
                 Nothing was sent: reach the buyer in Seller Central",
                amazon_said(&answer.body)
            )));
        }
        self.ok(call, order, &answer)?;
        if let Err(e) = amazon::parse_message_sent(&answer.body, message_type) {
            tracing::warn!(mall = "amazon", shop = %api.seller, %order, error = %e, "Amazon created the message and said more: not sent again");
        }
        tracing::info!(
            mall = "amazon",
            shop = %api.seller,
            %order,
            hold = %target.hold,
            kind = %target.kind,
            message_type = message_type.name(),
            links_removed = made.links_removed,
            addresses_removed = made.addresses_removed,
            shortened = made.shortened,
            request_id = answer.request_id.as_deref().unwrap_or(""),
            "sent the buyer a message through Amazon"
        );
        Ok(format!("amazon-msg:{order}:{}:{}", target.hold, target.kind))
    }

    /// The body of a 2xx answer; any other is the mail's error.
    fn ok(&self, call: Call, order: &OrderId, answer: &Answer) -> Result<Vec<u8>, MailError> {
        match Failure::classify(answer.status, &answer.body) {
            None => Ok(answer.body.clone()),
            Some(failure) => Err(self.refused(call, order, failure, answer)),
        }
    }

    /// What an unsuccessful Messaging answer means for the mail: later for what passes, refused otherwise.
    fn refused(&self, call: Call, order: &OrderId, failure: Failure, answer: &Answer) -> MailError {
        let name = call.name();
        let said = amazon_said(&answer.body);
        let seller = &self.api.seller;
        let error = match failure {
            Failure::Throttled => MailError::Transient(format!(
                "{name}: Amazon throttled the request (429){said}; its rate is 1 request a second, burst 5"
            )),
            Failure::Unavailable => MailError::Transient(format!("{name}: {failure}{said}")),
            Failure::Unexpected(status) if (300..400).contains(&status) => {
                MailError::Transient(format!("{name}: {failure} (a redirect, which is not followed)"))
            }
            Failure::TokenExpired | Failure::Unauthorized | Failure::ReauthorizationNeeded => {
                MailError::Rejected(format!(
                    "{name}: {failure}{said}, again with a new token: check that the seller {seller} still authorises \
                     the app, and that the app has the roles for this call ({}). Nothing was sent: reach the buyer \
                     in Seller Central",
                    call.roles()
                ))
            }
            Failure::NotFound => MailError::Rejected(format!(
                "{name}: Amazon does not know order {order} of seller {seller} (404){said}"
            )),
            Failure::Invalid | Failure::Unexpected(_) => MailError::Rejected(format!(
                "{name}: Amazon refused the request for order {order}: {failure}{said}"
            )),
        };
        tracing::warn!(mall = "amazon", shop = %seller, %order, call = name, status = answer.status, request_id = answer.request_id.as_deref().unwrap_or(""), "an Amazon Messaging call failed");
        error
    }
}

#[async_trait]
impl Mailer for AmazonMessenger {
    /// `mail` as a Buyer-Seller message about its order (see the [module](self), "Messaging a buyer"); the id
    /// is `amazon-msg:{order}:{hold}:{kind}`, Amazon giving none.
    async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let target = self.target(mail).inspect_err(|e| {
            tracing::warn!(mall = "amazon", shop = %self.api.seller, error = %e, "a mail was not for Amazon's messaging");
        })?;
        let mut progress = Progress::default();
        let result = self.message(mail, &target, &mut progress).await;
        if let Err(error) = &result {
            tracing::warn!(
                mall = "amazon",
                shop = %self.api.seller,
                order = %target.order,
                hold = %target.hold,
                kind = %target.kind,
                message_type = target.message_type.name(),
                requests = progress.requests,
                later = matches!(error, MailError::Transient(_)),
                "the buyer was not messaged through Amazon"
            );
        }
        result
    }
}

/// A failure before any Messaging answer (LWA, no connection) as a mail's error: what passes is later,
/// refused credentials are refused. Their texts hold no token and no buyer data.
fn mail_error(error: FeedError) -> MailError {
    match error {
        FeedError::Throttled { .. } => MailError::Transient("LWA token: Amazon throttled the request".into()),
        FeedError::Unavailable(message) => MailError::Transient(message),
        FeedError::Unauthorized(message) | FeedError::Refused(message) => MailError::Rejected(message),
    }
}

/// A 2xx Messaging answer that cannot be read: not JSON (a maintenance page) passes, another shape is refused.
fn unreadable_mail_answer(call: Call, error: &ParseError) -> MailError {
    match unreadable_answer(call, error) {
        FeedError::Unavailable(message) => MailError::Transient(message),
        other => MailError::Rejected(other.to_string()),
    }
}

/// Amazon's first error, for a mail's error text: ` (Code: message)`. The code only when it is a plain
/// identifier; the message only when it is printable ASCII without an `@` or a link, cut at
/// [`SAID_ECHO`] characters, so that nothing of the buyer's text (Japanese, an address) can come back in it.
fn amazon_said(body: &[u8]) -> String {
    let Some(error) = amazon::api_errors(body).into_iter().next() else {
        return String::new();
    };
    let code = Some(error.code.trim()).filter(|code| {
        !code.is_empty()
            && code.len() <= 60
            && code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    });
    let message = Some(error.message.trim()).filter(|message| {
        let lower = message.to_ascii_lowercase();
        !message.is_empty()
            && message.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            && !message.contains('@')
            && !lower.contains("http")
    });
    let message = message.map(|m| m.chars().take(SAID_ECHO).collect::<String>());
    match (code, message) {
        (Some(code), Some(message)) => format!(" ({code}: {message})"),
        (Some(code), None) => format!(" ({code})"),
        (None, Some(message)) => format!(" ({message})"),
        (None, None) => String::new(),
    }
}

impl AmazonSpApi {
    /// Sets the buyer's language of an order just read, for the notice (Amazon wants messages in it):
    /// Messaging `GetAttributes`. Without the Buyer Communication role, or when Amazon does not say, it stays
    /// unset and the shop's language is used. Both ways in (a notification's lookup and the poll's backstop)
    /// do this, so an order's notice is in the same language whichever read it first.
    async fn learn_buyer_language(&self, order: &mut FeedOrder, progress: &mut Progress) {
        if let FeedOrder::Order { order, .. } = order {
            let id = order.order_ref.order_id.clone();
            order.buyer.language = self.buyer_language(&id, progress).await;
        }
    }

    /// The buyer's language from Messaging `GetAttributes`, None when it cannot be had (no Buyer
    /// Communication role, no locale, a locale mallguard does not write in): never an error.
    async fn buyer_language(&self, id: &OrderId, progress: &mut Progress) -> Option<mallguard_domain::Language> {
        let url = amazon::get_attributes(id).url(&self.endpoint);
        match self
            .messaging(Call::Attributes, |token| self.get(&url, token), progress)
            .await
        {
            Ok(answer) if (200..300).contains(&answer.status) => {
                amazon::parse_attributes(&answer.body).ok().and_then(|a| a.language())
            }
            Ok(_) => None,
            Err(error) => {
                tracing::info!(mall = "amazon", shop = %self.seller, %error, "the buyer's language is not known");
                None
            }
        }
    }

    /// A Messaging call with the LWA token, and its answer whatever its status: a new token and one more try
    /// when Amazon says the token expired or refuses a kept one, unless the refusal is of the message type
    /// for the order ([`amazon::refuses_message_type`]), which no token changes.
    async fn messaging(
        &self,
        call: Call,
        build: impl Fn(HeaderValue) -> reqwest::RequestBuilder,
        progress: &mut Progress,
    ) -> Result<Answer, FeedError> {
        let mut retried = false;
        loop {
            let (token, fresh) = self.access_token(progress).await?;
            let answer = self
                .send(call, build(sensitive(token.expose_secret())?), progress)
                .await?;
            match Failure::classify(answer.status, &answer.body) {
                Some(failure)
                    if !retried
                        && retry_with_new_token(failure, fresh)
                        && !amazon::refuses_message_type(answer.status, &answer.body) =>
                {
                    tracing::info!(mall = "amazon", shop = %self.seller, call = call.name(), %failure, "the LWA access token was refused: getting a new one");
                    self.forget(&token).await;
                    retried = true;
                }
                _ => return Ok(answer),
            }
        }
    }
}

/// gunzip for the processing reports Amazon stores `GZIP`-compressed (flate2): every member, one after the
/// other, bounded (the output stops at a limit, so no report can exhaust memory) and checked (each member's
/// CRC-32 and length, by flate2).
pub(crate) mod gzip {
    use std::io::Read;

    /// Every member of `data`, at most `limit` bytes in all.
    pub(crate) fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        if !data.starts_with(&[0x1f, 0x8b]) {
            return Err("not gzip".into());
        }
        let mut out = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        flate2::read::MultiGzDecoder::new(data)
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() > limit {
            return Err(format!("the report inflates to more than {limit} bytes"));
        }
        Ok(out)
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

    fn hex(text: &[&str]) -> Vec<u8> {
        let text = text.concat();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// `gzip -9 report.xml` of `events/amazon/feed-report.xml`: a file name in the header, a dynamic block.
    fn gzipped_report() -> Vec<u8> {
        hex(&[
            "1f8b0808eb640c6b02037265706f72742e786d6c0075525b6f8230147ef75710dea5e0b264335863946526b81871d3d7a61c",
            "8584b6a42da2fefa95218297f1c4f96ee792fae323cbac0348950a3eb23dc7b52de054c429df8feceff547ffcd1ee39e3f61",
            "e42c78c00f90891c2c63e26a7854e9c84eb4ce87089565e9942f8e907b34705d0f6d1761441360a49f72a509a7605b463fe4",
            "e28b305039a150f3a1a044ff3527ecccfb7069e11c556ce39e65f99f406290d5af296682160cb8fea927c666e0818feed15a",
            "bb004913c2f53c3654ba4b4dc8c40bb693c5320ca2200c83958f9e68aa9ea86d6a6294227b589f72c04b29a829cd7156900b",
            "a9ab8096eda8af23fc55f319f6ae5253d4e47d580d77965c4bc215a1d5758ce9d59c75e07aefe66b37be9534019126ba5053",
            "11039e0a9667a0c1471db0d1b513440563449e1aa61d5d5d34107756e8808f86a8a015b72bb2aea3833e5a36a94e022985c4",
            "6eeb68c1e7860d91dc4c7e6f69e06647f4cf925da2bdff35cbbc7974fbe871ef17684226042d030000",
        ])
    }

    const FEED_REPORT: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/amazon/feed-report.xml"
    ));

    #[test]
    fn gzip_reports_are_inflated_and_checked() {
        let report = gzipped_report();
        assert_eq!(gzip::gunzip(&report, MAX_ANSWER_BYTES).unwrap(), FEED_REPORT);
        // zlib's fixed-code blocks, a full flush (an empty stored block), then more fixed codes.
        let flushed = hex(&[
            "1f8b08000000000002037adcb4f671f3e2c7cd9b1f37ed7edcbc5ae131017e6e624e4e7a6962518a02000000ffff2b4e4dce",
            "cf4b5128482c2a51484c2b492d52485448cb292dced05128a6b61400b9f578bba6000000",
        ]);
        let text = format!(
            "{}mallguard {}",
            "キャンセル ".repeat(3),
            "second part after a flush, ".repeat(4)
        );
        assert_eq!(gzip::gunzip(&flushed, MAX_ANSWER_BYTES).unwrap(), text.as_bytes());
        // zlib's level 0: a stored block.
        let stored = hex(&["1f8b0800000000000403010d00f2ff73746f72656420626c6f636b0a6d7588c50d000000"]);
        assert_eq!(gzip::gunzip(&stored, MAX_ANSWER_BYTES).unwrap(), b"stored block\n");
        // Members one after the other are one text.
        let two = [stored.clone(), stored.clone()].concat();
        assert_eq!(
            gzip::gunzip(&two, MAX_ANSWER_BYTES).unwrap(),
            b"stored block\nstored block\n"
        );

        assert!(gzip::gunzip(&report, 100).unwrap_err().contains("more than 100 bytes"));
        assert_eq!(gzip::gunzip(FEED_REPORT, MAX_ANSWER_BYTES).unwrap_err(), "not gzip");
        for cut in 0..report.len() {
            assert!(gzip::gunzip(&report[..cut], MAX_ANSWER_BYTES).is_err(), "cut at {cut}");
        }
        // A corrupted body fails its CRC-32 rather than giving another text.
        let mut corrupt = report.clone();
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0x10;
        assert!(gzip::gunzip(&corrupt, MAX_ANSWER_BYTES).is_err());
    }

    fn cancel_action(reference: Option<&str>, last_error: Option<&str>) -> MallAction {
        use mallguard_domain::ids::{HoldId, OrderRef};
        let order = OrderRef::new(
            Mall::Amazon,
            ShopId::parse("A1EXAMPLESELLER").unwrap(),
            OrderId::parse("250-1234567-7654321").unwrap(),
        );
        let mut action = MallAction::new(
            ActionKind::Cancel,
            &HoldId::for_order(&order),
            &order,
            &order,
            at("2026-11-23T04:00:00Z"),
        );
        action.reference = reference.map(str::to_owned);
        action.last_error = last_error.map(str::to_owned);
        action
    }

    #[test]
    fn an_attempt_takes_the_feed_of_the_one_before() {
        let later = naming_feed(
            ActionError::Later {
                message: "getFeed: Amazon throttled the request".into(),
                retry_after: None,
            },
            Some("50012019999"),
        );
        let ActionError::Later { message, .. } = &later else {
            panic!("{later:?}")
        };
        assert_eq!(message, "getFeed: Amazon throttled the request (feedId=50012019999)");
        assert_eq!(
            earlier_feed(&cancel_action(None, Some(message))).as_deref(),
            Some("50012019999")
        );
        // Named once, whatever happens to the message on the way.
        assert_eq!(naming_feed(later.clone(), Some("50012019999")), later);
        assert_eq!(
            earlier_feed(&cancel_action(None, Some("not yet (IN_QUEUE) (feedId=amzn1.x-y_z.)"))).as_deref(),
            Some("amzn1.x-y_z")
        );
        assert_eq!(
            earlier_feed(&cancel_action(Some("50012020000"), Some("feedId=50012019999"))).as_deref(),
            Some("50012020000"),
            "the reference first"
        );
        for nothing in [
            None,
            Some("getOrder: Amazon is unavailable (5xx)"),
            Some("feedId="),
            Some("feedId=/x"),
        ] {
            assert_eq!(earlier_feed(&cancel_action(None, nothing)), None, "{nothing:?}");
        }
        let long = format!("feedId={}", "9".repeat(MAX_FEED_ID + 1));
        assert_eq!(earlier_feed(&cancel_action(None, Some(&long))), None);
    }

    #[test]
    fn presigned_urls_go_over_plain_http_only_for_the_fake() {
        let fake = api(AmazonOptions {
            endpoint: "http://127.0.0.1:4000".into(),
            lwa_url: "http://127.0.0.1:4000/auth/o2/token".into(),
            ..AmazonOptions::default()
        });
        assert_eq!(
            fake.presigned(Call::Upload, "https://127.0.0.1:4000/uploads/d1?X-Amz-Signature=a%2Fb")
                .unwrap(),
            "http://127.0.0.1:4000/uploads/d1?X-Amz-Signature=a%2Fb"
        );
        let s3 = "https://tortuga-prod-fe.s3-us-west-2.amazonaws.com/%2FNinetyDays/d1?X-Amz-Signature=x";
        assert_eq!(fake.presigned(Call::Upload, s3).unwrap(), s3);
        let real = api(AmazonOptions::default());
        assert_eq!(
            real.presigned(Call::Upload, "https://127.0.0.1:4000/uploads/d1")
                .unwrap(),
            "https://127.0.0.1:4000/uploads/d1"
        );
        let refused = real.presigned(Call::Upload, "not a url").unwrap_err().to_string();
        assert!(!refused.contains("not a url"), "{refused}");
    }

    #[test]
    fn amazon_cancels_and_never_holds() {
        let api = api(AmazonOptions::default());
        assert!(ShopActions::can(&api, ActionKind::Cancel));
        assert!(!ShopActions::can(&api, ActionKind::Hold));
        assert!(!ShopActions::can(&api, ActionKind::Release));
        assert_eq!(ShopActions::mall(&api), Mall::Amazon);
        let off = self::api(AmazonOptions {
            cancel_orders: false,
            feed_polls: 50,
            feed_poll_interval: Duration::from_secs(600),
            ..AmazonOptions::default()
        });
        assert!(!ShopActions::can(&off, ActionKind::Cancel));
        assert_eq!((off.feed_polls, off.feed_poll_interval), (10, Duration::from_secs(30)));
    }

    #[test]
    fn a_presigned_urls_failure_names_s3s_code_and_never_the_url() {
        let answer = |status, body: &str| Answer {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
            request_id: None,
        };
        let denied = answer(
            403,
            "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we \
             calculated does not match</Message></Error>",
        );
        assert_eq!(
            presigned_failed(Call::Upload, &denied),
            FeedError::Refused(
                "the feed document's upload: the presigned url was refused: HTTP 403 (SignatureDoesNotMatch)".into()
            )
        );
        assert!(matches!(
            presigned_failed(Call::Download, &answer(503, "<Error><Code>SlowDown</Code></Error>")),
            FeedError::Unavailable(m) if m.ends_with("HTTP 503 (SlowDown)")
        ));
        assert!(matches!(
            presigned_failed(Call::Download, &answer(429, "")),
            FeedError::Throttled { .. }
        ));
        assert!(matches!(
            presigned_failed(Call::Download, &answer(404, "<Code>a b</Code>")),
            FeedError::Refused(m) if m.ends_with("HTTP 404")
        ));
    }

    #[test]
    fn the_order_status_and_the_item_ids_are_read_from_the_answers() {
        assert_eq!(
            order_status_of(br#"{"payload": {"OrderStatus": "Shipped"}}"#).unwrap(),
            AmazonStatus::Shipped
        );
        assert!(matches!(order_status_of(b"<html>"), Err(FeedError::Unavailable(_))));
        assert!(matches!(
            order_status_of(br#"{"payload": {}}"#),
            Err(FeedError::Refused(_))
        ));
        assert_eq!(
            item_ids_of(br#"{"payload": {"OrderItems": [{"OrderItemId": "1"}, {"OrderItemId": "2"}]}}"#).unwrap(),
            ["1", "2"]
        );
        assert!(matches!(
            item_ids_of(br#"{"payload": {"OrderItems": [{"ASIN": "B0"}]}}"#),
            Err(FeedError::Refused(m)) if m.contains("OrderItems[0]")
        ));
        for status in [
            AmazonStatus::Shipped,
            AmazonStatus::InvoiceUnconfirmed,
            AmazonStatus::PartiallyShipped,
        ] {
            assert!(not_cancellable(&status).is_some(), "{status}");
        }
        for status in [
            AmazonStatus::Unshipped,
            AmazonStatus::Pending,
            AmazonStatus::Unfulfillable,
        ] {
            assert!(not_cancellable(&status).is_none(), "{status}");
        }
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        assert_eq!(api_time(at("2026-11-23T12:57:00.900+09:00")), "2026-11-23T03:57:00Z");
    }
}
