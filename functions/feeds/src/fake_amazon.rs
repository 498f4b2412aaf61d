//! A fake Amazon SP-API and LWA token endpoint on a loopback port, serving the samples of `events/amazon/`
//! the way Amazon does, for tests over real HTTP (feature `fake`).
//!
//! - `POST /auth/o2/token` ([`LWA_PATH`]): the form `grant_type=refresh_token&refresh_token=…&client_id=…&
//!   client_secret=…` ([`amazon::LWA_CONTENT_TYPE`]) of [`REFRESH_TOKEN`], [`CLIENT_ID`] and [`CLIENT_SECRET`];
//!   answers a new access token in the shape of `lwa-token.json` (`expires_in` 3600), LWA's `invalid_grant`
//!   (`lwa-invalid-grant.json`, 400) for another refresh token, `invalid_client` (401) for another client.
//! - `POST /tokens/2021-03-01/restrictedDataToken`: a new RDT (`rdt.json`'s shape) for the `restrictedResources`
//!   asked for (1 to 50, `GET` of an Orders API path; 400 `InvalidInput` otherwise).
//! - `GET /orders/v0/orders/{orderId}` (getOrder): the order, byte for byte as its sample, when the token is an
//!   RDT covering that path with `buyerInfo` and `shippingAddress`; with the LWA token (or an RDT without those
//!   data elements) the same order without its restricted data, as Amazon answers: `BuyerInfo` with
//!   `BuyerEmail` only, `ShippingAddress` with `City`, `StateOrRegion`, `PostalCode` and `CountryCode` only.
//! - `GET /orders/v0/orders/{orderId}/orderItems` (getOrderItems): the items, paged by `NextToken` when there
//!   are more than [`FakeSpApi::set_items_page_size`] (the sample's exact bytes when they fit on one page).
//! - `GET /orders/v0/orders` (getOrders): the orders whose `LastUpdateDate` (or `PurchaseDate`, for
//!   `CreatedAfter`) lies within `[…After, …Before]`, oldest update first, as getOrders lists them (without
//!   restricted data), `MaxResultsPerPage` (and at most [`FakeSpApi::set_page_size`]) a page, paged by
//!   `NextToken` with the same filters. `MarketplaceIds` must name Amazon.co.jp; `CreatedAfter` and
//!   `LastUpdatedAfter` are exclusive, and one is required; a `…Before` before its `…After`, a
//!   `MaxResultsPerPage` outside 1 to 100 or a `NextToken` the fake did not issue is a 400 `InvalidInput`.
//!   Amazon's rule that `…Before` be two minutes before its own clock is not checked: tests run at fixed
//!   instants.
//!
//! - Cancelling by feed (Feeds API 2021-06-30), in the shapes of `feed-*`:
//!   - `POST /feeds/2021-06-30/documents` (createFeedDocument, 201): a document id and a presigned upload url
//!     on the fake itself, `https://127.0.0.1:{port}/uploads/{feedDocumentId}?X-Amz-…`. It says https, as
//!     Amazon's do (and as the pure parser insists), but the fake speaks plain http: the client calls a
//!     presigned url on a loopback host over plain http when its own endpoint is plain http on loopback.
//!   - `PUT /uploads/{feedDocumentId}` (the upload, S3's part): the document, with the `Content-Type` given to
//!     createFeedDocument (else S3's 403 `SignatureDoesNotMatch`) and no `x-amz-access-token` (else a 403
//!     `AccessDenied` of the fake's: no SP-API token goes to S3); [`FakeSpApi::uploads`] keeps them.
//!   - `POST /feeds/2021-06-30/feeds` (createFeed, 202): `POST_ORDER_ACKNOWLEDGEMENT_DATA` for Amazon.co.jp of
//!     an uploaded document (400 `InvalidInput` otherwise); feed ids count up from `50012019999`, the samples'.
//!   - `GET /feeds/2021-06-30/feeds/{feedId}` (getFeed): `IN_QUEUE`, then `IN_PROGRESS`, for the feed's first
//!     [`FakeSpApi::set_feed_polls_pending`] polls (1 at first), then processed once, as
//!     [`FakeSpApi::set_feed_processing`] says: by default ([`FeedProcessing::Orders`]) as Amazon would as far
//!     as known, cancelling each order named when it has not shipped (getOrder shows it `Canceled` from then
//!     on) and refusing it in the report otherwise; `DONE` with a `resultFeedDocumentId`, or `FATAL`. A feed
//!     it never created is a 404 `NotFound`.
//!   - `GET /feeds/2021-06-30/documents/{feedDocumentId}` (getFeedDocument) of a report: a presigned url
//!     `https://127.0.0.1:{port}/reports/{feedDocumentId}?X-Amz-…`, `compressionAlgorithm` `GZIP` as in the
//!     sample (plain with [`FakeSpApi::set_plain_reports`]).
//!   - `GET /reports/{feedDocumentId}`: the processing report, gzipped (stored blocks) unless plain.
//!
//! - Messaging API v1 (`models/messaging-api-model/messaging.json`), in the shapes of `messaging-*`, each with
//!   `marketplaceIds=A1VC38T7YXB528` and nothing else in its query (else the 400 `InvalidInput`
//!   "marketplaceIds: Missing or invalid request parameter: marketplaceId" a client issue shows), an order the
//!   fake knows (else 404 `NotFound`), and an LWA token:
//!   - `GET /messaging/v1/orders/{orderId}` (getMessagingActionsForOrder): `_links.actions` and `_embedded.actions`
//!     for the order's actions: those of [`FakeSpApi::set_messaging_actions`], else the names of
//!     `messaging-getMessagingActionsForOrder.json` (with `confirmOrderDetails`) while the order has not shipped
//!     and those of `…-shipped.json` (without it) once it has shipped or is cancelled (the fake's assumption: Amazon's
//!     rules are not known). [`ORDER`] unshipped gets the sample's JSON.
//!   - `GET /messaging/v1/orders/{orderId}/attributes` (GetAttributes): `{"buyer": {"locale": …}}`, `ja-JP` (the
//!     sample's) unless [`FakeSpApi::set_buyer_locale`] says otherwise (no locale: `{"buyer": {}}`).
//!   - `POST /messaging/v1/orders/{orderId}/messages/{type}`: a type not among the order's actions gets the 403
//!     "Invalid amazonOrderId and template combination." (`messaging-error-template.json`, as observed); a body
//!     that is not `{"text": …}` with 1 to 2000 characters, or a text with a link or an email address, the 400
//!     `InvalidInput` (the fake is stricter than Amazon is known to be). Else `201` with `{}`
//!     (`messaging-createConfirmOrderDetails.json`), the message kept ([`FakeSpApi::messages`]).
//!
//! Every SP-API call wants `x-amz-access-token`: a token the fake issued (LWA's for every call but getOrder,
//! which takes an RDT too). An expired one gets the 403 of `error-token-expired.json`; an unknown one the 403
//! "revoked, malformed or invalid"; a missing one the 403 "Access token is missing". A test scripts answers
//! per endpoint ([`FakeSpApi::answer_once`]: a 429 with `error-quota-exceeded.json`, a 500, a malformed
//! body…), expires the tokens, revokes the refresh token, cancels orders, adds orders and items, and reads what
//! the fake received ([`FakeSpApi::requests`], [`FakeSpApi::orders_queries`], [`FakeSpApi::rdt_requests`],
//! [`FakeSpApi::fetched`], [`FakeSpApi::uploads`], [`FakeSpApi::feed_requests`], [`FakeSpApi::messages`]),
//! and ships orders ([`FakeSpApi::ship`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post, put};
use jiff::civil::Date;
use jiff::{SignedDuration, Span, Timestamp};
use mallguard_domain::ids::{OrderId, ShopId};
use mallguard_malls::amazon::{self, AmazonStatus};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::Timeouts;
use crate::amazon::{AmazonCredentials, AmazonMessenger, AmazonOptions, AmazonSpApi};

/// The app's LWA client identifier.
pub const CLIENT_ID: &str = "amzn1.application-oa2-client.0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// With characters that must be percent-encoded in the LWA form.
pub const CLIENT_SECRET: &str = "amzn1.oa2-cs.v1.fake+Client/Secret=~";
/// With characters that must be percent-encoded in the LWA form.
pub const REFRESH_TOKEN: &str = "Atzr|IwEBIfake+Refresh/Token=";
/// The seller of the samples.
pub const SELLER: &str = "A1EXAMPLESELLER";
/// The order of `getOrder.json` (山田 太郎, Unshipped, last updated 2026-11-23 03:35:02 UTC; cancelled in
/// `getOrder-canceled.json`).
pub const ORDER: &str = "250-1234567-7654321";
/// The path of the LWA token endpoint on the fake.
pub const LWA_PATH: &str = "/auth/o2/token";
/// The access tokens the fake issues start with this, then a number.
pub const ACCESS_TOKEN_PREFIX: &str = "Atza|fake-access-";
/// The RDTs the fake issues start with this, then a number.
pub const RDT_PREFIX: &str = "Atz.sprdt|fake-rdt-";

pub const GET_ORDER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/getOrder.json"
));
pub const GET_ORDER_CANCELED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/getOrder-canceled.json"
));
pub const GET_ORDER_ITEMS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/getOrderItems.json"
));
pub const GET_ORDERS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/getOrders.json"
));
pub const GET_ORDERS_PAGE2: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/getOrders-page2.json"
));
pub const LWA_TOKEN: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/lwa-token.json"
));
pub const LWA_INVALID_GRANT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/lwa-invalid-grant.json"
));
pub const RDT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/amazon/rdt.json"));
pub const ERROR_QUOTA_EXCEEDED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/error-quota-exceeded.json"
));
pub const ERROR_TOKEN_EXPIRED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/error-token-expired.json"
));
pub const CREATE_FEED_DOCUMENT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-createFeedDocument.json"
));
pub const CREATE_FEED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-createFeed.json"
));
pub const GET_FEED_IN_PROGRESS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-getFeed-in-progress.json"
));
pub const GET_FEED_DONE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-getFeed-done.json"
));
pub const GET_FEED_FATAL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-getFeed-fatal.json"
));
pub const GET_FEED_DOCUMENT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-getFeedDocument.json"
));
/// The cancel document of [`ORDER`] (its one item, `BuyerCanceled`).
pub const FEED_CANCEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-cancel.xml"
));
/// The processing report of a feed whose one message went through.
pub const FEED_REPORT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-report.xml"
));
/// The processing report of a feed whose one message was refused: the order has already shipped.
pub const FEED_REPORT_ERROR: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/feed-report-error.xml"
));
/// getMessagingActionsForOrder for [`ORDER`] unshipped: `confirmOrderDetails` among its actions.
pub const MESSAGING_ACTIONS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/messaging-getMessagingActionsForOrder.json"
));
/// getMessagingActionsForOrder for [`ORDER`] shipped: no `confirmOrderDetails`.
pub const MESSAGING_ACTIONS_SHIPPED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/messaging-getMessagingActionsForOrder-shipped.json"
));
/// GetAttributes for [`ORDER`]: `ja-JP`.
pub const MESSAGING_ATTRIBUTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/messaging-getAttributes.json"
));
/// The `201` of a message created.
pub const MESSAGE_SENT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/messaging-createConfirmOrderDetails.json"
));
/// The 403 of a message type the order does not allow.
pub const ERROR_TEMPLATE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/amazon/messaging-error-template.json"
));
/// The feed id of the samples: the fake's first feed.
pub const FEED_ID: &str = "50012019999";
/// The Orders API model's sandbox 400, verbatim.
pub const ERROR_INVALID_INPUT: &[u8] = br#"{ "errors": [ { "code": "InvalidInput", "message": "Invalid Input" } ] }"#;
/// A getOrder answer cut short: a 200 whose body is not JSON.
pub const MALFORMED: &[u8] = br#"{"payload": {"AmazonOrderId": "250-1234567-7654321", "OrderStatus": "Unsh"#;

/// The endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Lwa,
    Rdt,
    GetOrder,
    GetOrderItems,
    GetOrders,
    CreateFeedDocument,
    /// The PUT of a feed document to its presigned url.
    Upload,
    CreateFeed,
    GetFeed,
    GetFeedDocument,
    /// The GET of a processing report from its presigned url.
    Download,
    /// Messaging API getMessagingActionsForOrder.
    MessagingActions,
    /// Messaging API GetAttributes.
    Attributes,
    /// A Messaging API message, of any type.
    Message,
}

/// A message the fake took: its order, its type (the path's last segment) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub order: String,
    pub message_type: String,
    pub body: Value,
}

impl SentMessage {
    /// The body's `text`.
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }
}

/// How the fake processes a feed once its polls pending are over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FeedProcessing {
    /// As Amazon would, as far as known: each message's order is cancelled when it lists the order's items
    /// and the order has not shipped; it is refused in the report when the order has shipped (the sample's
    /// `99001` and text), is cancelled already, is not known, or its items are not the order's (codes and
    /// texts of the fake's own: Amazon's are not known).
    #[default]
    Orders,
    /// `DONE` with this report (its `DocumentTransactionID` made the feed's), changing no order.
    Report(Vec<u8>),
    /// `FATAL` without a result document (`feed-getFeed-fatal.json`), changing no order.
    Fatal,
}

/// A scripted answer, given once in place of the real one.
#[derive(Debug, Clone)]
pub enum Answer {
    Status {
        status: u16,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// Takes the request and never answers.
    Hang,
}

impl Answer {
    pub fn status(status: u16, body: &[u8]) -> Answer {
        Answer::Status {
            status,
            body: body.to_vec(),
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header (a `Retry-After`, an `x-amzn-RateLimit-Limit`).
    pub fn with_header(self, name: &str, value: &str) -> Answer {
        match self {
            Answer::Status {
                status,
                body,
                mut headers,
            } => {
                headers.push((name.to_owned(), value.to_owned()));
                Answer::Status { status, body, headers }
            }
            Answer::Hang => Answer::Hang,
        }
    }

    /// 429 with `error-quota-exceeded.json`, and no header but the request id, as Amazon answers.
    pub fn throttled() -> Answer {
        Answer::status(429, ERROR_QUOTA_EXCEEDED)
            .with_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000429")
    }

    /// 403 with `error-token-expired.json`.
    pub fn token_expired() -> Answer {
        Answer::status(403, ERROR_TOKEN_EXPIRED)
    }

    /// 400 `InvalidInput` (the model's sandbox answer).
    pub fn invalid_input() -> Answer {
        Answer::status(400, ERROR_INVALID_INPUT)
    }

    /// A 200 whose body is cut short ([`MALFORMED`]).
    pub fn malformed() -> Answer {
        Answer::status(200, MALFORMED)
    }

    /// 403 `Unauthorized` "Access to requested resource is denied.": the app lacks the role for the call.
    pub fn access_denied() -> Answer {
        Answer::status(
            403,
            br#"{"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.", "details": ""}]}"#,
        )
    }

    /// 403 with `messaging-error-template.json`: a message type the order does not allow.
    pub fn template_refused() -> Answer {
        Answer::status(403, ERROR_TEMPLATE)
    }
}

/// One getOrders request as the fake received it: its query parameters, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdersQuery {
    pub marketplace_ids: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub last_updated_after: Option<String>,
    pub last_updated_before: Option<String>,
    pub max_results_per_page: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone)]
struct FakeOrder {
    /// getOrder as an RDT for `buyerInfo` and `shippingAddress` has it, byte for byte.
    raw: Vec<u8>,
    /// Its items.
    items: Vec<Value>,
    /// The items' exact page, while they are the sample's.
    items_raw: Option<Vec<u8>>,
}

impl FakeOrder {
    fn payload(&self) -> Value {
        let mut whole: Value = serde_json::from_slice(&self.raw).expect("a fake order is JSON");
        whole["payload"].take()
    }

    fn time(&self, field: &str) -> Timestamp {
        self.payload()[field]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("a fake order has a {field}"))
    }
}

/// A feed document uploaded (or to be).
#[derive(Debug, Clone)]
struct FakeDocument {
    content_type: String,
    content: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum FeedState {
    Queued,
    /// Processed, with its report's document id.
    Done(String),
    Fatal,
}

#[derive(Debug, Clone)]
struct FakeFeed {
    input: String,
    polls: u32,
    state: FeedState,
}

/// An RDT: whether it still works, and the data elements it grants per path.
#[derive(Debug, Clone)]
struct Rdt {
    valid: bool,
    resources: HashMap<String, HashSet<String>>,
}

struct Inner {
    refresh_token: String,
    issued: u32,
    /// The access tokens issued, and whether each still works.
    access: HashMap<String, bool>,
    rdts: HashMap<String, Rdt>,
    orders: BTreeMap<String, FakeOrder>,
    page_size: usize,
    items_page_size: usize,
    /// getOrders tokens issued: the offset of the page each stands for.
    next_tokens: HashMap<String, usize>,
    /// getOrderItems tokens issued: the order and the offset.
    item_tokens: HashMap<String, (String, usize)>,
    scripted: HashMap<Endpoint, VecDeque<Answer>>,
    counts: HashMap<Endpoint, u32>,
    queries: Vec<OrdersQuery>,
    rdt_requests: Vec<Value>,
    fetched: Vec<(String, bool)>,
    /// `127.0.0.1:{port}`, for the presigned urls.
    host: String,
    day: Option<Date>,
    documents: HashMap<String, FakeDocument>,
    /// The processing reports, by document id.
    reports: HashMap<String, Vec<u8>>,
    feeds: HashMap<String, FakeFeed>,
    feed_processing: FeedProcessing,
    feed_polls_pending: u32,
    plain_reports: bool,
    uploads: Vec<String>,
    feed_requests: Vec<Value>,
    /// Messaging actions set by a test, by order.
    messaging_actions: HashMap<String, Vec<String>>,
    /// Buyer locales set by a test, by order (None: no locale).
    buyer_locales: HashMap<String, Option<String>>,
    messages: Vec<SentMessage>,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake, serving until it is dropped.
pub struct FakeSpApi {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSpApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `sample` with its dates moved to `day`: [`crate::fake::SAMPLE_DAY`] becomes `day`, and the dates of the
/// days after it (ship and delivery dates) keep their distance to it.
fn on_day(sample: &[u8], day: Option<Date>) -> Vec<u8> {
    let Some(day) = day else {
        return sample.to_vec();
    };
    let base: Date = crate::fake::SAMPLE_DAY.parse().expect("the sample day");
    let text = String::from_utf8_lossy(sample);
    let prefix = &crate::fake::SAMPLE_DAY[..8];
    let mut out = String::with_capacity(text.len());
    let mut rest = &*text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        let moved = rest
            .get(at..at + 10)
            .and_then(|date| date.parse::<Date>().ok())
            .and_then(|date| base.until(date).ok())
            .map(|span| span.get_days())
            .filter(|days| (0..7).contains(days))
            .and_then(|days| day.checked_add(Span::new().days(days)).ok());
        match moved {
            Some(date) => {
                out.push_str(&date.to_string());
                rest = &rest[at + 10..];
            }
            None => {
                out.push_str(prefix);
                rest = &rest[at + prefix.len()..];
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// A time as Amazon's answers write it, `2026-11-23T03:35:02Z`.
fn api_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The items of a getOrderItems page.
fn items_of(page: &[u8]) -> Vec<Value> {
    let page: Value = serde_json::from_slice(page).expect("a getOrderItems sample");
    page["payload"]["OrderItems"].as_array().cloned().unwrap_or_default()
}

/// `payload` as Amazon gives an order in `status`: no `ShippingAddress` (and `BuyerInfo` with the relay
/// address only) before `Unshipped` and after a cancellation, no delivery dates and no total for a `Pending`
/// or `Canceled` order, as `getOrder-canceled.json`.
fn shape_for(payload: &mut Value, status: &AmazonStatus) {
    let object = payload.as_object_mut().expect("an order object");
    object.insert("OrderStatus".into(), status.as_str().into());
    let has_address = matches!(
        status,
        AmazonStatus::Unshipped
            | AmazonStatus::PartiallyShipped
            | AmazonStatus::Shipped
            | AmazonStatus::InvoiceUnconfirmed
    );
    if !has_address {
        object.remove("ShippingAddress");
        if let Some(Value::Object(buyer)) = object.get_mut("BuyerInfo") {
            buyer.retain(|k, _| k == "BuyerEmail");
        }
    }
    if matches!(
        status,
        AmazonStatus::Pending | AmazonStatus::PendingAvailability | AmazonStatus::Canceled
    ) {
        object.remove("EarliestDeliveryDate");
        object.remove("LatestDeliveryDate");
        object.remove("OrderTotal");
    }
    if *status == AmazonStatus::Canceled {
        object.insert("NumberOfItemsUnshipped".into(), 0.into());
    }
}

/// `payload` without the restricted data the token does not grant.
fn restricted(payload: &mut Value, buyer_info: bool, shipping_address: bool) {
    if !buyer_info && let Some(Value::Object(buyer)) = payload.get_mut("BuyerInfo") {
        buyer.retain(|k, _| k == "BuyerEmail");
    }
    if !shipping_address && let Some(Value::Object(address)) = payload.get_mut("ShippingAddress") {
        address.retain(|k, _| matches!(k.as_str(), "City" | "StateOrRegion" | "PostalCode" | "CountryCode"));
    }
}

fn sample_order(day: Option<Date>) -> FakeOrder {
    let items_raw = on_day(GET_ORDER_ITEMS, day);
    FakeOrder {
        raw: on_day(GET_ORDER, day),
        items: items_of(&items_raw),
        items_raw: Some(items_raw),
    }
}

impl FakeSpApi {
    /// The fake on 127.0.0.1 and a free port, with the order of `getOrder.json` and `getOrderItems.json`.
    pub async fn start() -> FakeSpApi {
        FakeSpApi::start_with(None).await
    }

    /// The same with the samples' dates moved to `day` (their times keep the time of day): for tests of
    /// programs that read "the last few days" by the real clock, so they pass on any day.
    pub async fn start_on(day: Date) -> FakeSpApi {
        FakeSpApi::start_with(Some(day)).await
    }

    async fn start_with(day: Option<Date>) -> FakeSpApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let state: Shared = Arc::new(Mutex::new(Inner {
            refresh_token: REFRESH_TOKEN.to_owned(),
            issued: 0,
            access: HashMap::new(),
            rdts: HashMap::new(),
            orders: [(ORDER.to_owned(), sample_order(day))].into_iter().collect(),
            page_size: 100,
            items_page_size: 100,
            next_tokens: HashMap::new(),
            item_tokens: HashMap::new(),
            scripted: HashMap::new(),
            counts: HashMap::new(),
            queries: Vec::new(),
            rdt_requests: Vec::new(),
            fetched: Vec::new(),
            host: host.clone(),
            day,
            documents: HashMap::new(),
            reports: HashMap::new(),
            feeds: HashMap::new(),
            feed_processing: FeedProcessing::Orders,
            feed_polls_pending: 1,
            plain_reports: false,
            uploads: Vec::new(),
            feed_requests: Vec::new(),
            messaging_actions: HashMap::new(),
            buyer_locales: HashMap::new(),
            messages: Vec::new(),
        }));
        let app = Router::new()
            .route(LWA_PATH, post(lwa))
            .route(amazon::RESTRICTED_DATA_TOKEN_PATH, post(rdt))
            .route(amazon::V0_ORDERS_PATH, get(get_orders))
            .route("/orders/v0/orders/{id}", get(get_order))
            .route("/orders/v0/orders/{id}/orderItems", get(get_order_items))
            .route(amazon::FEED_DOCUMENTS_PATH, post(create_feed_document))
            .route("/feeds/2021-06-30/documents/{id}", get(get_feed_document))
            .route(amazon::FEEDS_PATH, post(create_feed))
            .route("/feeds/2021-06-30/feeds/{id}", get(get_feed))
            .route("/uploads/{id}", put(upload))
            .route("/reports/{id}", get(download))
            .route("/messaging/v1/orders/{id}", get(messaging_actions))
            .route("/messaging/v1/orders/{id}/attributes", get(messaging_attributes))
            .route("/messaging/v1/orders/{id}/messages/{kind}", post(create_message))
            .with_state(state.clone());
        let url = format!("http://{host}");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSpApi { url, state, server }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// The credentials the fake accepts.
    pub fn credentials() -> AmazonCredentials {
        AmazonCredentials {
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretString::from(CLIENT_SECRET),
            refresh_token: SecretString::from(REFRESH_TOKEN),
        }
    }

    /// Options calling the fake (SP-API and LWA), with short timeouts and no wait between getFeeds.
    pub fn options(&self) -> AmazonOptions {
        AmazonOptions {
            endpoint: self.url.clone(),
            lwa_url: format!("{}{LWA_PATH}", self.url),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
            feed_poll_interval: Duration::ZERO,
            ..AmazonOptions::default()
        }
    }

    /// The SP-API of [`SELLER`] on the fake with `credentials` and `options`.
    pub fn api_with(&self, credentials: AmazonCredentials, options: AmazonOptions) -> AmazonSpApi {
        AmazonSpApi::new(ShopId::parse(SELLER).unwrap(), credentials, options).unwrap()
    }

    /// The SP-API of [`SELLER`] on the fake with [`FakeSpApi::credentials`] and [`FakeSpApi::options`]: an
    /// [`OrderLookup`](mallguard_domain::feed::OrderLookup) and an
    /// [`OrderFeed`](mallguard_domain::feed::OrderFeed).
    pub fn api(&self) -> AmazonSpApi {
        self.api_with(FakeSpApi::credentials(), self.options())
    }

    /// [`FakeSpApi::api`], by the port it is used as for notifications.
    pub fn lookup(&self) -> AmazonSpApi {
        self.api()
    }

    /// A messenger of [`SELLER`] on the fake over a new [`FakeSpApi::api`] (its own LWA token).
    pub fn messenger(&self) -> AmazonMessenger {
        AmazonMessenger::new(Arc::new(self.api()))
    }

    /// getMessagingActionsForOrder lists `actions` for order `id` from now on, whatever its status.
    pub fn set_messaging_actions(&self, id: &str, actions: &[&str]) {
        let actions = actions.iter().map(|a| (*a).to_owned()).collect();
        self.inner().messaging_actions.insert(id.to_owned(), actions);
    }

    /// GetAttributes gives `locale` for order `id`'s buyer (None: no locale); `ja-JP` at first.
    pub fn set_buyer_locale(&self, id: &str, locale: Option<&str>) {
        self.inner()
            .buyer_locales
            .insert(id.to_owned(), locale.map(str::to_owned));
    }

    /// Every message the fake took, in order.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.inner().messages.clone()
    }

    /// The next request to `endpoint` gets `answer` (after the ones scripted before it).
    pub fn answer_once(&self, endpoint: Endpoint, answer: Answer) {
        self.inner().scripted.entry(endpoint).or_default().push_back(answer);
    }

    /// Every access token and RDT issued so far expires: SP-API answers them with the 403 of
    /// `error-token-expired.json`. A new LWA token works.
    pub fn expire_tokens(&self) {
        let mut inner = self.inner();
        inner.access.values_mut().for_each(|valid| *valid = false);
        inner.rdts.values_mut().for_each(|rdt| rdt.valid = false);
    }

    /// The refresh token stops working: LWA answers `invalid_grant`, as after the seller revoked the app.
    pub fn revoke(&self) {
        self.inner().refresh_token = String::from("revoked");
    }

    /// Order `id` is cancelled: [`ORDER`] becomes `getOrder-canceled.json` (last updated 04:10:31 UTC of the
    /// sample day); another order takes the same shape, last updated 35 minutes after it was.
    pub fn cancel(&self, id: &str) {
        self.inner().cancel_order(id);
    }

    /// Order `id` has shipped: `Shipped`, every item shipped, last updated an hour after it was.
    pub fn ship(&self, id: &str) {
        let mut inner = self.inner();
        let order = inner.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        let updated = order.time("LastUpdateDate") + SignedDuration::from_hours(1);
        let mut payload = order.payload();
        shape_for(&mut payload, &AmazonStatus::Shipped);
        let items = payload["NumberOfItemsShipped"].as_u64().unwrap_or(0)
            + payload["NumberOfItemsUnshipped"].as_u64().unwrap_or(0);
        payload["NumberOfItemsShipped"] = items.into();
        payload["NumberOfItemsUnshipped"] = 0.into();
        payload["LastUpdateDate"] = api_time(updated).into();
        order.raw = serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap();
    }

    /// Order `id`'s `OrderStatus` as getOrder gives it now.
    pub fn order_status(&self, id: &str) -> AmazonStatus {
        let inner = self.inner();
        let order = inner.orders.get(id).unwrap_or_else(|| panic!("no order {id}"));
        status_of(order)
    }

    /// How the feeds are processed from now on ([`FeedProcessing::Orders`] at first).
    pub fn set_feed_processing(&self, processing: FeedProcessing) {
        self.inner().feed_processing = processing;
    }

    /// Each feed answers getFeed `IN_QUEUE` (then `IN_PROGRESS`) for its first `polls` (1 at first) and is
    /// processed on the poll after them.
    pub fn set_feed_polls_pending(&self, polls: u32) {
        self.inner().feed_polls_pending = polls;
    }

    /// Whether the processing reports are served plain, without `compressionAlgorithm` (gzipped, as the
    /// sample says, at first).
    pub fn set_plain_reports(&self, plain: bool) {
        self.inner().plain_reports = plain;
    }

    /// Every feed document uploaded, as text, in order.
    pub fn uploads(&self) -> Vec<String> {
        self.inner().uploads.clone()
    }

    /// The body of every createFeed request that created a feed, in order.
    pub fn feed_requests(&self) -> Vec<Value> {
        self.inner().feed_requests.clone()
    }

    /// Another order, `id`, in `status`, last updated at `last_update` and placed 10 minutes before: 佐藤 花子's
    /// (大阪市北区, a relay address of her own), 2× TEA-GENMAI-200 (有機玄米茶 200g) for ¥1,600, shaped as Amazon
    /// gives an order in that status (no address before `Unshipped`, no prices while `Pending`).
    pub fn add_order(&self, id: &str, status: AmazonStatus, last_update: Timestamp) {
        let mut payload = sample_order(None).payload();
        payload["AmazonOrderId"] = id.into();
        payload["PurchaseDate"] = api_time(last_update - SignedDuration::from_mins(10)).into();
        payload["LastUpdateDate"] = api_time(last_update).into();
        payload["OrderTotal"] = json!({ "CurrencyCode": "JPY", "Amount": "1600" });
        payload["NumberOfItemsUnshipped"] = 2.into();
        payload["BuyerInfo"] = json!({
            "BuyerEmail": "wxyz5678ijkl@marketplace.amazon.co.jp",
            "BuyerName": "佐藤 花子"
        });
        payload["ShippingAddress"] = json!({
            "Name": "佐藤 花子",
            "AddressLine1": "梅田3-4-5",
            "City": "大阪市北区",
            "StateOrRegion": "大阪府",
            "PostalCode": "530-0001",
            "CountryCode": "JP",
            "Phone": "080-2345-6789",
            "AddressType": "Residential"
        });
        shape_for(&mut payload, &status);
        let mut item = json!({
            "ASIN": "B0EXAMPLE2",
            "SellerSKU": "TEA-GENMAI-200",
            "OrderItemId": "54321098765432",
            "Title": "有機玄米茶 200g",
            "QuantityOrdered": 2,
            "QuantityShipped": 0,
            "ProductInfo": { "NumberOfItems": "1" },
            "ItemPrice": { "CurrencyCode": "JPY", "Amount": "1600" },
            "ShippingPrice": { "CurrencyCode": "JPY", "Amount": "0" },
            "PromotionDiscount": { "CurrencyCode": "JPY", "Amount": "0" },
            "IsGift": "false",
            "ConditionId": "New",
            "ConditionSubtypeId": "New",
            "IsTransparency": false,
            "SerialNumberRequired": false,
            "BuyerRequestedCancel": { "IsBuyerRequestedCancel": "false" }
        });
        if status == AmazonStatus::Pending {
            let item = item.as_object_mut().unwrap();
            for price in ["ItemPrice", "ShippingPrice", "PromotionDiscount"] {
                item.remove(price);
            }
        }
        let order = FakeOrder {
            raw: serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap(),
            items: vec![item],
            items_raw: None,
        };
        self.inner().orders.insert(id.to_owned(), order);
    }

    /// `count` more items on order `id`: copies of its first item with SKUs of their own
    /// (`TEA-SENCHA-100-2`, …) and item ids of their own.
    pub fn add_items(&self, id: &str, count: usize) {
        let mut inner = self.inner();
        let order = inner.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        let first = order.items[0].clone();
        let sku = first["SellerSKU"].as_str().unwrap_or("SKU").to_owned();
        let item_id = first["OrderItemId"].as_str().unwrap_or("1").to_owned();
        for n in 0..count {
            let mut item = first.clone();
            let number = order.items.len() + 1;
            item["SellerSKU"] = format!("{sku}-{number}").into();
            item["OrderItemId"] = format!("{item_id}{n}").into();
            order.items.push(item);
        }
        order.items_raw = None;
    }

    /// getOrders lists at most `size` orders a page, whatever `MaxResultsPerPage` asks for (100 at first).
    pub fn set_page_size(&self, size: usize) {
        self.inner().page_size = size.max(1);
    }

    /// getOrderItems answers at most `size` items a page (100 at first).
    pub fn set_items_page_size(&self, size: usize) {
        self.inner().items_page_size = size.max(1);
    }

    /// How many requests `endpoint` received, answered or not.
    pub fn requests(&self, endpoint: Endpoint) -> u32 {
        self.inner().counts.get(&endpoint).copied().unwrap_or(0)
    }

    /// The query of every getOrders request the fake received, in order.
    pub fn orders_queries(&self) -> Vec<OrdersQuery> {
        self.inner().queries.clone()
    }

    /// The body of every createRestrictedDataToken request the fake answered with an RDT.
    pub fn rdt_requests(&self) -> Vec<Value> {
        self.inner().rdt_requests.clone()
    }

    /// Every getOrder the fake answered with an order: its id, and whether the answer carried the buyer's
    /// data (an RDT for it).
    pub fn fetched(&self) -> Vec<(String, bool)> {
        self.inner().fetched.clone()
    }
}

/// What a handler answers, worked out under the lock and sent after it.
type Reply = Answer;

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Answer::Status {
        status,
        body: body.into(),
        headers: Vec::new(),
    }
}

/// An SP-API error list with one error.
fn error(status: u16, code: &str, message: &str, details: &str) -> Reply {
    reply(
        status,
        serde_json::to_vec(&json!({ "errors": [{ "code": code, "message": message, "details": details }] })).unwrap(),
    )
}

/// A 403 `Unauthorized` with `details`.
fn denied(details: &str) -> Reply {
    error(403, "Unauthorized", "Access to requested resource is denied.", details)
}

fn invalid(details: &str) -> Reply {
    error(400, "InvalidInput", "Invalid Input", details)
}

fn lwa_error(status: u16, code: &str, description: &str) -> Reply {
    reply(
        status,
        serde_json::to_vec(&json!({ "error": code, "error_description": description })).unwrap(),
    )
}

/// A successful SP-API answer with the operation's rate, as Amazon sends it on a 200 (best effort).
fn ok(body: Vec<u8>, rate: &str) -> Reply {
    reply(200, body).with_header("x-amzn-RateLimit-Limit", rate)
}

async fn send(reply: Reply) -> Response {
    match reply {
        Answer::Hang => std::future::pending().await,
        Answer::Status { status, body, headers } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            let map = response.headers_mut();
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            for (name, value) in headers {
                map.insert(
                    HeaderName::try_from(name).unwrap(),
                    HeaderValue::try_from(value).unwrap(),
                );
            }
            response
        }
    }
}

async fn lwa(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().lwa(&headers, &body);
    send(reply).await
}

async fn rdt(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().rdt(&headers, &body);
    send(reply).await
}

async fn get_orders(State(state): State<Shared>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let reply = state.lock().unwrap().get_orders(&headers, query.as_deref());
    send(reply).await
}

async fn get_order(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let reply = state.lock().unwrap().get_order(&headers, &id);
    send(reply).await
}

async fn get_order_items(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let reply = state.lock().unwrap().get_order_items(&headers, &id, query.as_deref());
    send(reply).await
}

async fn create_feed_document(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().create_feed_document(&headers, &body);
    send(reply).await
}

async fn upload(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    let reply = state.lock().unwrap().upload(&headers, &id, &body);
    send(reply).await
}

async fn create_feed(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().create_feed(&headers, &body);
    send(reply).await
}

async fn get_feed(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let reply = state.lock().unwrap().get_feed(&headers, &id);
    send(reply).await
}

async fn get_feed_document(State(state): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let reply = state.lock().unwrap().get_feed_document(&headers, &id);
    send(reply).await
}

async fn download(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let reply = state.lock().unwrap().download(&id);
    send(reply).await
}

async fn messaging_actions(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let reply = state.lock().unwrap().messaging_actions(&headers, &id, query.as_deref());
    send(reply).await
}

async fn messaging_attributes(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let reply = state
        .lock()
        .unwrap()
        .messaging_attributes(&headers, &id, query.as_deref());
    send(reply).await
}

async fn create_message(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let reply = state
        .lock()
        .unwrap()
        .create_message(&headers, &id, &kind, query.as_deref(), &body);
    send(reply).await
}

/// The names of the actions of a getMessagingActionsForOrder answer.
fn action_names(answer: &[u8]) -> Vec<String> {
    let answer: Value = serde_json::from_slice(answer).expect("a messaging sample");
    answer["_links"]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|action| action["name"].as_str().map(str::to_owned))
        .collect()
}

/// A getMessagingActionsForOrder answer for order `id` with `actions`, in the samples' shape: each action
/// under `_links.actions`, each message type (not `attributes`) under `_embedded.actions` with its schema and
/// self links.
fn messaging_actions_answer(id: &str, actions: &[String]) -> Value {
    let query = format!("?marketplaceIds={}", amazon::JP_MARKETPLACE_ID);
    let base = format!("{}/{id}", amazon::MESSAGING_ORDERS_PATH);
    let href = |name: &str| {
        if name == amazon::ATTRIBUTES_ACTION {
            format!("{base}/attributes{query}")
        } else {
            format!("{base}/messages/{name}{query}")
        }
    };
    let links: Vec<Value> = actions
        .iter()
        .map(|name| json!({ "href": href(name), "name": name }))
        .collect();
    let embedded: Vec<Value> = actions
        .iter()
        .filter(|name| *name != amazon::ATTRIBUTES_ACTION)
        .map(|name| {
            json!({ "_links": {
                "schema": { "href": format!("{base}/messages/{name}/schema"), "name": name },
                "self": { "href": href(name), "name": name }
            } })
        })
        .collect();
    json!({
        "_links": { "actions": links, "self": { "href": format!("{base}{query}") } },
        "_embedded": { "actions": embedded }
    })
}

/// Whether `text` holds a link or an email address, as the fake sees them.
fn link_or_address(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("http://")
        || lower.contains("https://")
        || text
            .split(|c: char| c.is_whitespace() || c == '：' || c == ':')
            .any(|word| {
                word.split_once(['@', '＠'])
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            })
}

/// The `OrderStatus` of a fake order.
fn status_of(order: &FakeOrder) -> AmazonStatus {
    AmazonStatus::from(order.payload()["OrderStatus"].as_str().unwrap_or_default().to_owned())
}

/// An S3 error, as S3 answers a presigned url it refuses.
fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    reply(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>FAKE0000000000</RequestId></Error>"
        ),
    )
    .with_header("content-type", "application/xml")
}

/// The text of each `<{name}>…</{name}>` in `xml`, in order (the fake reads the documents mallguard writes:
/// no attributes, no CDATA, no nesting of the same name).
fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The five XML escapes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// One message's result in a processing report: none when it went through, else its error.
struct ReportError {
    message_id: u32,
    code: &'static str,
    description: String,
    order_id: Option<String>,
}

/// The start of a processing report, as the samples have it.
const REPORT_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<AmazonEnvelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="amzn-envelope.xsd">
  <Header>
    <DocumentVersion>1.02</DocumentVersion>
    <MerchantIdentifier>{seller}</MerchantIdentifier>
  </Header>
  <MessageType>ProcessingReport</MessageType>
  <Message>
    <MessageID>1</MessageID>
    <ProcessingReport>
      <DocumentTransactionID>{feed}</DocumentTransactionID>
      <StatusCode>Complete</StatusCode>
      <ProcessingSummary>
        <MessagesProcessed>{processed}</MessagesProcessed>
        <MessagesSuccessful>{successful}</MessagesSuccessful>
        <MessagesWithError>{with_error}</MessagesWithError>
        <MessagesWithWarning>0</MessagesWithWarning>
      </ProcessingSummary>
"#;

/// A processing report of `processed` messages in the shape of `feed-report.xml` and
/// `feed-report-error.xml`: byte for byte `feed-report.xml` for one message that went through in the feed
/// [`FEED_ID`].
fn processing_report(feed_id: &str, processed: u32, errors: &[ReportError]) -> Vec<u8> {
    let with_error = errors.iter().filter(|e| e.message_id != 0).count() as u32;
    let mut xml = REPORT_HEAD
        .replace("{seller}", SELLER)
        .replace("{feed}", &escape(feed_id))
        .replace("{processed}", &processed.to_string())
        .replace("{successful}", &processed.saturating_sub(with_error).to_string())
        .replace("{with_error}", &with_error.to_string());
    for error in errors {
        xml.push_str(&format!(
            "      <Result>\n        <MessageID>{}</MessageID>\n        <ResultCode>Error</ResultCode>\n        \
             <ResultMessageCode>{}</ResultMessageCode>\n        <ResultDescription>{}</ResultDescription>\n",
            error.message_id,
            error.code,
            escape(&error.description)
        ));
        if let Some(order_id) = &error.order_id {
            xml.push_str(&format!(
                "        <AdditionalInfo>\n          <AmazonOrderID>{}</AmazonOrderID>\n        </AdditionalInfo>\n",
                escape(order_id)
            ));
        }
        xml.push_str("      </Result>\n");
    }
    xml.push_str("    </ProcessingReport>\n  </Message>\n</AmazonEnvelope>\n");
    xml.into_bytes()
}

/// `report` with its `DocumentTransactionID` made `feed_id`.
fn for_feed(report: &[u8], feed_id: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(report);
    let (open, close) = ("<DocumentTransactionID>", "</DocumentTransactionID>");
    match (text.find(open), text.find(close)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{open}{feed_id}{}", &text[..start], &text[end..]).into_bytes()
        }
        _ => report.to_vec(),
    }
}

/// `data` as one gzip member, as Amazon stores a report it compresses.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// getFeed's answer for a feed processed: `feed-getFeed-done.json` with its report, or
/// `feed-getFeed-fatal.json`.
fn feed_answer(state: &FeedState) -> Value {
    match state {
        FeedState::Done(report) => {
            let mut answer: Value = serde_json::from_slice(GET_FEED_DONE).expect("feed-getFeed-done.json");
            answer["resultFeedDocumentId"] = report.clone().into();
            answer
        }
        FeedState::Fatal | FeedState::Queued => {
            serde_json::from_slice(GET_FEED_FATAL).expect("feed-getFeed-fatal.json")
        }
    }
}

/// The pairs of a form body or a query, decoded.
fn pairs(encoded: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://form.invalid/?{encoded}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// What an `x-amz-access-token` stands for.
enum Bearer {
    Access,
    Rdt(HashMap<String, HashSet<String>>),
}

impl Inner {
    fn take_scripted(&mut self, endpoint: Endpoint) -> Option<Reply> {
        *self.counts.entry(endpoint).or_default() += 1;
        self.scripted.get_mut(&endpoint).and_then(VecDeque::pop_front)
    }

    fn issue(&mut self, prefix: &str) -> String {
        self.issued += 1;
        format!("{prefix}{}", self.issued)
    }

    fn lwa(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Lwa) {
            return answer;
        }
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded")) {
            return lwa_error(400, "invalid_request", "Unsupported content type. (fake)");
        }
        let form: HashMap<String, String> = pairs(&String::from_utf8_lossy(body)).into_iter().collect();
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("refresh_token") {
            return lwa_error(400, "invalid_request", "grant_type must be refresh_token. (fake)");
        }
        if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
            return lwa_error(401, "invalid_client", "Client authentication failed");
        }
        if field("refresh_token") != Some(self.refresh_token.as_str()) {
            return reply(400, LWA_INVALID_GRANT);
        }
        let token = self.issue(ACCESS_TOKEN_PREFIX);
        self.access.insert(token.clone(), true);
        let mut answer: Value = serde_json::from_slice(LWA_TOKEN).expect("lwa-token.json");
        answer["access_token"] = token.into();
        answer["refresh_token"] = REFRESH_TOKEN.into();
        reply(200, serde_json::to_vec_pretty(&answer).unwrap())
    }

    /// What the request's `x-amz-access-token` stands for, or the 403 Amazon answers.
    fn bearer(&self, headers: &HeaderMap) -> Result<Bearer, Reply> {
        let Some(token) = headers.get(amazon::ACCESS_TOKEN_HEADER).and_then(|v| v.to_str().ok()) else {
            return Err(denied("Access token is missing in the request header."));
        };
        if let Some(valid) = self.access.get(token) {
            return if *valid {
                Ok(Bearer::Access)
            } else {
                Err(reply(403, ERROR_TOKEN_EXPIRED))
            };
        }
        if let Some(rdt) = self.rdts.get(token) {
            return if rdt.valid {
                Ok(Bearer::Rdt(rdt.resources.clone()))
            } else {
                Err(reply(403, ERROR_TOKEN_EXPIRED))
            };
        }
        Err(denied(
            "The access token you provided is revoked, malformed or invalid.",
        ))
    }

    /// The LWA access token of a call that takes no RDT.
    fn lwa_only(&self, headers: &HeaderMap) -> Result<(), Reply> {
        match self.bearer(headers)? {
            Bearer::Access => Ok(()),
            Bearer::Rdt(_) => Err(denied("")),
        }
    }

    fn rdt(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Rdt) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        let refused = || {
            error(
                400,
                "InvalidInput",
                "Request is missing or has invalid parameters",
                "Resource not provided.",
            )
        };
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return refused();
        };
        let Some(resources) = request["restrictedResources"].as_array() else {
            return refused();
        };
        if resources.is_empty() || resources.len() > 50 {
            return refused();
        }
        let mut granted = HashMap::new();
        for resource in resources {
            let (Some("GET"), Some(path)) = (resource["method"].as_str(), resource["path"].as_str()) else {
                return refused();
            };
            if !path.starts_with(amazon::V0_ORDERS_PATH) {
                return refused();
            }
            let mut elements = HashSet::new();
            for element in resource["dataElements"].as_array().into_iter().flatten() {
                match element.as_str() {
                    Some(e @ ("buyerInfo" | "shippingAddress" | "buyerTaxInformation")) => {
                        elements.insert(e.to_owned());
                    }
                    _ => return refused(),
                }
            }
            granted.insert(path.to_owned(), elements);
        }
        self.rdt_requests.push(request.clone());
        let token = self.issue(RDT_PREFIX);
        self.rdts.insert(
            token.clone(),
            Rdt {
                valid: true,
                resources: granted,
            },
        );
        let mut answer: Value = serde_json::from_slice(RDT).expect("rdt.json");
        answer["restrictedDataToken"] = token.into();
        ok(serde_json::to_vec(&answer).unwrap(), "1.0")
    }

    fn get_order(&mut self, headers: &HeaderMap, id: &str) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::GetOrder) {
            return answer;
        }
        let bearer = match self.bearer(headers) {
            Ok(bearer) => bearer,
            Err(reply) => return reply,
        };
        let (Some(order), Ok(order_id)) = (self.orders.get(id), OrderId::parse(id)) else {
            return error(404, "NotFound", "The resource specified does not exist.", "");
        };
        let path = amazon::v0_get_order(&order_id).path;
        let (buyer_info, shipping_address) = match &bearer {
            Bearer::Access => (false, false),
            Bearer::Rdt(resources) => match resources.get(&path) {
                Some(elements) => (elements.contains("buyerInfo"), elements.contains("shippingAddress")),
                None => return denied(""),
            },
        };
        let body = if buyer_info && shipping_address {
            order.raw.clone()
        } else {
            let mut payload = order.payload();
            restricted(&mut payload, buyer_info, shipping_address);
            serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap()
        };
        self.fetched.push((id.to_owned(), buyer_info && shipping_address));
        ok(body, "0.5")
    }

    fn get_order_items(&mut self, headers: &HeaderMap, id: &str, query: Option<&str>) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::GetOrderItems) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        let Some(order) = self.orders.get(id) else {
            return error(404, "NotFound", "The resource specified does not exist.", "");
        };
        let token = pairs(query.unwrap_or_default())
            .into_iter()
            .find(|(name, _)| name == "NextToken")
            .map(|(_, value)| value);
        let from = match token {
            None => 0,
            Some(token) => match self.item_tokens.get(&token) {
                Some((order_id, from)) if order_id == id => *from,
                _ => return invalid("Invalid NextToken. (fake)"),
            },
        };
        let size = self.items_page_size;
        if from == 0
            && order.items.len() <= size
            && let Some(raw) = &order.items_raw
        {
            return ok(raw.clone(), "0.5");
        }
        let page: Vec<Value> = order.items.iter().skip(from).take(size).cloned().collect();
        let more = from + size < order.items.len();
        let mut payload = json!({ "AmazonOrderId": id, "OrderItems": page });
        if more {
            let token = format!("fake+items/{}=", self.item_tokens.len() + 1);
            self.item_tokens.insert(token.clone(), (id.to_owned(), from + size));
            payload["NextToken"] = token.into();
        }
        ok(
            serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap(),
            "0.5",
        )
    }

    /// Order `id` is cancelled: [`ORDER`] becomes `getOrder-canceled.json`; another order takes the same
    /// shape, last updated 35 minutes after it was.
    fn cancel_order(&mut self, id: &str) {
        let day = self.day;
        let order = self.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        if id == ORDER {
            order.raw = on_day(GET_ORDER_CANCELED, day);
            return;
        }
        let updated = order.time("LastUpdateDate") + SignedDuration::from_mins(35);
        let mut payload = order.payload();
        shape_for(&mut payload, &AmazonStatus::Canceled);
        payload["LastUpdateDate"] = api_time(updated).into();
        order.raw = serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap();
    }

    fn create_feed_document(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::CreateFeedDocument) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        let Some(content_type) = request["contentType"].as_str().filter(|t| !t.trim().is_empty()) else {
            return invalid("contentType is required. (fake)");
        };
        let n = self.documents.len() + 1;
        let id = format!("amzn1.tortuga.4.fe.fake-upload-{n}.T3EXAMPLE");
        self.documents.insert(
            id.clone(),
            FakeDocument {
                content_type: content_type.to_owned(),
                content: None,
            },
        );
        let mut answer: Value = serde_json::from_slice(CREATE_FEED_DOCUMENT).expect("feed-createFeedDocument.json");
        answer["feedDocumentId"] = id.clone().into();
        answer["url"] = format!(
            "https://{}/uploads/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-type%3Bhost&\
             X-Amz-Expires=300&X-Amz-Signature=fake{n}",
            self.host
        )
        .into();
        reply(201, serde_json::to_vec_pretty(&answer).unwrap()).with_header("x-amzn-RateLimit-Limit", "0.5")
    }

    fn upload(&mut self, headers: &HeaderMap, id: &str, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Upload) {
            return answer;
        }
        if headers.contains_key(amazon::ACCESS_TOKEN_HEADER) {
            return s3_error(403, "AccessDenied", "An SP-API token was sent to S3. (fake)");
        }
        let Some(document) = self.documents.get_mut(id) else {
            return s3_error(403, "AccessDenied", "Access Denied");
        };
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if content_type != Some(document.content_type.as_str()) {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            );
        }
        document.content = Some(body.to_vec());
        self.uploads.push(String::from_utf8_lossy(body).into_owned());
        reply(200, Vec::new()).with_header("content-type", "application/xml")
    }

    fn create_feed(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::CreateFeed) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        if request["feedType"].as_str() != Some(amazon::ORDER_ACKNOWLEDGEMENT_FEED_TYPE) {
            return invalid("The fake takes POST_ORDER_ACKNOWLEDGEMENT_DATA only. (fake)");
        }
        let japan = request["marketplaceIds"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(amazon::JP_MARKETPLACE_ID)));
        if !japan {
            return invalid("marketplaceIds must name A1VC38T7YXB528. (fake)");
        }
        let input = request["inputFeedDocumentId"].as_str().unwrap_or_default().to_owned();
        if self.documents.get(&input).is_none_or(|d| d.content.is_none()) {
            return invalid("inputFeedDocumentId names no uploaded document. (fake)");
        }
        let first: u64 = FEED_ID.parse().expect("a numeric feed id");
        let feed_id = (first + self.feeds.len() as u64).to_string();
        self.feeds.insert(
            feed_id.clone(),
            FakeFeed {
                input,
                polls: 0,
                state: FeedState::Queued,
            },
        );
        self.feed_requests.push(request);
        let mut answer: Value = serde_json::from_slice(CREATE_FEED).expect("feed-createFeed.json");
        answer["feedId"] = feed_id.into();
        reply(202, serde_json::to_vec_pretty(&answer).unwrap()).with_header("x-amzn-RateLimit-Limit", "0.0083")
    }

    fn get_feed(&mut self, headers: &HeaderMap, id: &str) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::GetFeed) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        let pending = self.feed_polls_pending;
        let Some(feed) = self.feeds.get_mut(id) else {
            return error(404, "NotFound", "The requested resource was not found. (fake)", "");
        };
        feed.polls += 1;
        let polls = feed.polls;
        let answer = match feed.state.clone() {
            FeedState::Queued if polls <= pending => {
                let mut answer: Value =
                    serde_json::from_slice(GET_FEED_IN_PROGRESS).expect("feed-getFeed-in-progress.json");
                if polls == 1 {
                    answer["processingStatus"] = "IN_QUEUE".into();
                    answer.as_object_mut().unwrap().remove("processingStartTime");
                }
                answer
            }
            FeedState::Queued => {
                let state = self.process(id);
                self.feeds.get_mut(id).expect("the feed").state = state.clone();
                feed_answer(&state)
            }
            state => feed_answer(&state),
        };
        let mut answer = answer;
        answer["feedId"] = id.into();
        ok(serde_json::to_vec_pretty(&answer).unwrap(), "2.0")
    }

    /// A feed processed now, as [`FeedProcessing`] says.
    fn process(&mut self, feed_id: &str) -> FeedState {
        let report = match self.feed_processing.clone() {
            FeedProcessing::Fatal => return FeedState::Fatal,
            FeedProcessing::Report(report) => for_feed(&report, feed_id),
            FeedProcessing::Orders => {
                let input = &self.feeds[feed_id].input;
                let document = self.documents[input].content.clone().unwrap_or_default();
                self.acknowledge(&String::from_utf8_lossy(&document), feed_id)
            }
        };
        let document_id = format!("amzn1.tortuga.4.fe.fake-report-{}.T1EXAMPLE", self.reports.len() + 1);
        self.reports.insert(document_id.clone(), report);
        FeedState::Done(document_id)
    }

    /// The processing report of an `OrderAcknowledgement` document, cancelling the orders it may.
    fn acknowledge(&mut self, document: &str, feed_id: &str) -> Vec<u8> {
        let messages = elements(document, "Message");
        let merchant = elements(document, "MerchantIdentifier");
        if messages.is_empty() || elements(document, "MessageType") != ["OrderAcknowledgement"] {
            let parsing = ReportError {
                message_id: 0,
                code: "5000",
                description: "XML Parsing Error: no OrderAcknowledgement message. (fake)".into(),
                order_id: None,
            };
            return processing_report(feed_id, 0, &[parsing]);
        }
        let mut errors = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            let message_id = elements(message, "MessageID")
                .first()
                .and_then(|id| id.trim().parse().ok())
                .unwrap_or(i as u32 + 1);
            let order_id = elements(message, "AmazonOrderID")
                .first()
                .map(|id| id.trim().to_owned());
            let refuse = |code, description: String| ReportError {
                message_id,
                code,
                description,
                order_id: order_id.clone(),
            };
            let Some(order) = order_id
                .as_deref()
                .and_then(|id| self.orders.get(id))
                .filter(|_| merchant == [SELLER])
            else {
                errors.push(refuse(
                    "99010",
                    "The order is not one of this seller's. (fake: Amazon's code and text are not known)".into(),
                ));
                continue;
            };
            let id = order_id.clone().unwrap_or_default();
            if elements(message, "StatusCode") != ["Failure"] {
                continue;
            }
            let mut sent: Vec<&str> = elements(message, "AmazonOrderItemCode")
                .into_iter()
                .map(str::trim)
                .collect();
            let mut items: Vec<&str> = order.items.iter().filter_map(|i| i["OrderItemId"].as_str()).collect();
            sent.sort_unstable();
            sent.dedup();
            items.sort_unstable();
            let reasons = elements(message, "CancelReason");
            match status_of(order) {
                AmazonStatus::Shipped | AmazonStatus::PartiallyShipped | AmazonStatus::InvoiceUnconfirmed => {
                    errors.push(refuse(
                        "99001",
                        format!("The order ({id}) cannot be cancelled because it has already been shipped."),
                    ));
                }
                AmazonStatus::Canceled => errors.push(refuse(
                    "99002",
                    format!(
                        "The order ({id}) has already been cancelled. (fake: Amazon's code and text are not known)"
                    ),
                )),
                _ if sent != items || reasons.len() != sent.len() => errors.push(refuse(
                    "99003",
                    format!(
                        "The items of the order ({id}) are not the order's, or one has no CancelReason. (fake: \
                         Amazon's code and text are not known)"
                    ),
                )),
                _ => self.cancel_order(&id),
            }
        }
        processing_report(feed_id, messages.len() as u32, &errors)
    }

    fn get_feed_document(&mut self, headers: &HeaderMap, id: &str) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::GetFeedDocument) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        if !self.reports.contains_key(id) {
            return error(404, "NotFound", "The requested resource was not found. (fake)", "");
        }
        let mut answer: Value = serde_json::from_slice(GET_FEED_DOCUMENT).expect("feed-getFeedDocument.json");
        answer["feedDocumentId"] = id.into();
        answer["url"] = format!(
            "https://{}/reports/{id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host&X-Amz-Expires=300&\
             X-Amz-Signature=fake",
            self.host
        )
        .into();
        if self.plain_reports {
            answer.as_object_mut().unwrap().remove("compressionAlgorithm");
        }
        ok(serde_json::to_vec_pretty(&answer).unwrap(), "0.0222")
    }

    fn download(&mut self, id: &str) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Download) {
            return answer;
        }
        let Some(report) = self.reports.get(id) else {
            return s3_error(403, "AccessDenied", "Access Denied");
        };
        let body = if self.plain_reports {
            report.clone()
        } else {
            gzip_stored(report)
        };
        reply(200, body).with_header("content-type", "application/octet-stream")
    }

    /// The checks every Messaging call makes: the LWA token, the one marketplace, an order the fake knows.
    fn messaging_checks(&self, headers: &HeaderMap, id: &str, query: Option<&str>) -> Result<(), Reply> {
        self.lwa_only(headers)?;
        let pairs = pairs(query.unwrap_or_default());
        let japan = matches!(pairs.as_slice(), [(name, value)]
            if name == "marketplaceIds" && value == amazon::JP_MARKETPLACE_ID);
        if !japan {
            return Err(invalid(
                "marketplaceIds: Missing or invalid request parameter: marketplaceId",
            ));
        }
        if !self.orders.contains_key(id) {
            return Err(error(404, "NotFound", "The resource specified does not exist.", ""));
        }
        Ok(())
    }

    /// The messaging actions of order `id`: a test's, else the samples' by whether it has shipped.
    fn actions_of(&self, id: &str) -> Vec<String> {
        if let Some(actions) = self.messaging_actions.get(id) {
            return actions.clone();
        }
        let shipped = self.orders.get(id).is_some_and(|order| {
            matches!(
                status_of(order),
                AmazonStatus::Shipped
                    | AmazonStatus::PartiallyShipped
                    | AmazonStatus::InvoiceUnconfirmed
                    | AmazonStatus::Canceled
            )
        });
        action_names(if shipped {
            MESSAGING_ACTIONS_SHIPPED
        } else {
            MESSAGING_ACTIONS
        })
    }

    fn with_request_id(&self, reply: Reply) -> Reply {
        let n = self.counts.values().sum::<u32>();
        reply
            .with_header("x-amzn-RateLimit-Limit", "1.0")
            .with_header("x-amzn-RequestId", &format!("fake-msg-{n:08}"))
    }

    fn messaging_actions(&mut self, headers: &HeaderMap, id: &str, query: Option<&str>) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::MessagingActions) {
            return answer;
        }
        if let Err(reply) = self.messaging_checks(headers, id, query) {
            return reply;
        }
        let answer = messaging_actions_answer(id, &self.actions_of(id));
        self.with_request_id(reply(200, serde_json::to_vec_pretty(&answer).unwrap()))
    }

    fn messaging_attributes(&mut self, headers: &HeaderMap, id: &str, query: Option<&str>) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Attributes) {
            return answer;
        }
        if let Err(reply) = self.messaging_checks(headers, id, query) {
            return reply;
        }
        let body = match self.buyer_locales.get(id) {
            None => MESSAGING_ATTRIBUTES.to_vec(),
            Some(Some(locale)) => serde_json::to_vec_pretty(&json!({ "buyer": { "locale": locale } })).unwrap(),
            Some(None) => serde_json::to_vec_pretty(&json!({ "buyer": {} })).unwrap(),
        };
        self.with_request_id(reply(200, body))
    }

    fn create_message(&mut self, headers: &HeaderMap, id: &str, kind: &str, query: Option<&str>, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Message) {
            return answer;
        }
        if let Err(reply) = self.messaging_checks(headers, id, query) {
            return reply;
        }
        if kind == amazon::ATTRIBUTES_ACTION || !self.actions_of(id).iter().any(|action| action == kind) {
            return self.with_request_id(reply(403, ERROR_TEMPLATE));
        }
        let request: Value = serde_json::from_slice(body).unwrap_or_default();
        let Some(text) = request["text"].as_str() else {
            return invalid("text is required. (fake)");
        };
        let length = text.chars().count();
        if !(1..=2000).contains(&length) {
            return invalid("text must be 1 to 2000 characters long. (fake)");
        }
        if link_or_address(text) {
            return invalid("text must hold no link and no email address. (fake)");
        }
        self.messages.push(SentMessage {
            order: id.to_owned(),
            message_type: kind.to_owned(),
            body: request,
        });
        self.with_request_id(reply(201, MESSAGE_SENT))
    }

    fn get_orders(&mut self, headers: &HeaderMap, query: Option<&str>) -> Reply {
        let pairs = pairs(query.unwrap_or_default());
        let param = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let seen = OrdersQuery {
            marketplace_ids: param("MarketplaceIds"),
            created_after: param("CreatedAfter"),
            created_before: param("CreatedBefore"),
            last_updated_after: param("LastUpdatedAfter"),
            last_updated_before: param("LastUpdatedBefore"),
            max_results_per_page: param("MaxResultsPerPage"),
            next_token: param("NextToken"),
        };
        self.queries.push(seen.clone());
        if let Some(answer) = self.take_scripted(Endpoint::GetOrders) {
            return answer;
        }
        if let Err(reply) = self.lwa_only(headers) {
            return reply;
        }
        if !seen
            .marketplace_ids
            .as_deref()
            .is_some_and(|ids| ids.split(',').any(|id| id.trim() == amazon::JP_MARKETPLACE_ID))
        {
            return invalid("MarketplaceIds must name A1VC38T7YXB528. (fake)");
        }
        let time = |text: &Option<String>| -> Result<Option<Timestamp>, Reply> {
            text.as_deref()
                .map(|t| t.parse::<Timestamp>().map_err(|_| invalid("Invalid date. (fake)")))
                .transpose()
        };
        let (field, after, before) = match (&seen.created_after, &seen.last_updated_after) {
            (Some(_), None) if seen.last_updated_before.is_none() => {
                ("PurchaseDate", &seen.created_after, &seen.created_before)
            }
            (None, Some(_)) if seen.created_before.is_none() => {
                ("LastUpdateDate", &seen.last_updated_after, &seen.last_updated_before)
            }
            _ => return invalid("Exactly one of CreatedAfter and LastUpdatedAfter is required. (fake)"),
        };
        let (after, before) = match (time(after), time(before)) {
            (Ok(Some(after)), Ok(before)) => (after, before),
            (Err(reply), _) | (_, Err(reply)) => return reply,
            (Ok(None), _) => unreachable!("checked above"),
        };
        if before.is_some_and(|before| before < after) {
            return invalid("The Before date must be after the After date. (fake)");
        }
        let per_page = match seen.max_results_per_page.as_deref().map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n @ 1..=100)) => n,
            Some(_) => return invalid("MaxResultsPerPage must be 1 to 100. (fake)"),
        };
        let from = match &seen.next_token {
            None => 0,
            Some(token) => match self.next_tokens.get(token) {
                Some(from) => *from,
                None => return invalid("Invalid NextToken. (fake)"),
            },
        };
        let mut found: Vec<(Timestamp, &String, &FakeOrder)> = self
            .orders
            .iter()
            .map(|(id, order)| (order.time(field), id, order))
            .filter(|(at, _, _)| *at >= after && before.is_none_or(|before| *at <= before))
            .collect();
        found.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let size = per_page.min(self.page_size);
        let listed: Vec<Value> = found
            .iter()
            .skip(from)
            .take(size)
            .map(|(_, _, order)| {
                let mut payload = order.payload();
                restricted(&mut payload, false, false);
                payload
            })
            .collect();
        let more = from + size < found.len();
        let mut payload = json!({ "Orders": listed });
        if more {
            let token = format!("fake+next/{}=", self.next_tokens.len() + 1);
            self.next_tokens.insert(token.clone(), from + size);
            payload["NextToken"] = token.into();
        }
        if let Some(before) = before {
            let name = if field == "PurchaseDate" {
                "CreatedBefore"
            } else {
                "LastUpdatedBefore"
            };
            payload[name] = api_time(before).into();
        }
        ok(
            serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap(),
            "0.0167",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_samples_move_to_another_day_with_the_days_after_it() {
        let day: Date = "2027-03-01".parse().unwrap();
        let moved = String::from_utf8(on_day(GET_ORDER, Some(day))).unwrap();
        assert!(moved.contains(r#""PurchaseDate": "2027-03-01T03:20:00Z""#), "{moved}");
        assert!(moved.contains(r#""LatestShipDate": "2027-03-02T14:59:59Z""#), "{moved}");
        assert!(
            moved.contains(r#""LatestDeliveryDate": "2027-03-04T14:59:59Z""#),
            "{moved}"
        );
        assert!(!moved.contains("2026-11-2"), "{moved}");
        assert_eq!(on_day(GET_ORDER, None), GET_ORDER);
        assert_eq!(
            on_day("2026-11-30 2026-11-2x 東京2026-11-23".as_bytes(), Some(day)),
            "2026-11-30 2026-11-2x 東京2027-03-01".as_bytes()
        );
    }

    #[test]
    fn the_reports_have_the_samples_shape() {
        assert_eq!(processing_report(FEED_ID, 1, &[]), FEED_REPORT);
        let refused = processing_report(
            "50012020000",
            1,
            &[ReportError {
                message_id: 1,
                code: "99001",
                description: "The order (250-1234567-7654321) cannot be cancelled because it has already been shipped."
                    .into(),
                order_id: Some(ORDER.into()),
            }],
        );
        let sample = String::from_utf8_lossy(FEED_REPORT_ERROR).replace("shipped.\n        <", "shipped.<");
        assert_eq!(
            String::from_utf8(refused).unwrap(),
            sample.replace(FEED_ID, "50012020000")
        );
        assert_eq!(
            for_feed(FEED_REPORT, "7"),
            String::from_utf8_lossy(FEED_REPORT).replace(FEED_ID, "7").as_bytes()
        );
    }

    #[test]
    fn the_messaging_answers_have_the_samples_shape() {
        let sample: Value = serde_json::from_slice(MESSAGING_ACTIONS).unwrap();
        assert_eq!(
            messaging_actions_answer(ORDER, &action_names(MESSAGING_ACTIONS)),
            sample
        );
        let shipped: Value = serde_json::from_slice(MESSAGING_ACTIONS_SHIPPED).unwrap();
        assert_eq!(
            messaging_actions_answer(ORDER, &action_names(MESSAGING_ACTIONS_SHIPPED)),
            shipped
        );
        assert!(link_or_address("メール: support@tanaka-shop.example"));
        assert!(link_or_address("Go to HTTPS://x.example"));
        assert!(!link_or_address("山田 太郎 様 @ 東京"));
    }

    #[test]
    fn the_stored_gzip_is_gzip() {
        for data in [&b""[..], FEED_REPORT, &vec![7u8; 200_000]] {
            let gzipped = gzip_stored(data);
            assert_eq!(crate::amazon::gzip::gunzip(&gzipped, usize::MAX).unwrap(), data);
        }
    }
}
