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
//! Every SP-API call wants `x-amz-access-token`: a token the fake issued (LWA's for every call but getOrder,
//! which takes an RDT too). An expired one gets the 403 of `error-token-expired.json`; an unknown one the 403
//! "revoked, malformed or invalid"; a missing one the 403 "Access token is missing". A test scripts answers
//! per endpoint ([`FakeSpApi::answer_once`]: a 429 with `error-quota-exceeded.json`, a 500, a malformed
//! body…), expires the tokens, revokes the refresh token, cancels orders, adds orders and items, and reads what
//! the fake received ([`FakeSpApi::requests`], [`FakeSpApi::orders_queries`], [`FakeSpApi::rdt_requests`],
//! [`FakeSpApi::fetched`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::civil::Date;
use jiff::{SignedDuration, Span, Timestamp};
use mallguard_domain::ids::{OrderId, ShopId};
use mallguard_malls::amazon::{self, AmazonStatus};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::Timeouts;
use crate::amazon::{AmazonCredentials, AmazonOptions, AmazonSpApi};

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
}

type Shared = Arc<Mutex<Inner>>;

/// The fake, serving until it is dropped.
pub struct FakeSpApi {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
    /// The day the samples are served on (None: as written).
    day: Option<Date>,
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
        }));
        let app = Router::new()
            .route(LWA_PATH, post(lwa))
            .route(amazon::RESTRICTED_DATA_TOKEN_PATH, post(rdt))
            .route(amazon::V0_ORDERS_PATH, get(get_orders))
            .route("/orders/v0/orders/{id}", get(get_order))
            .route("/orders/v0/orders/{id}/orderItems", get(get_order_items))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeSpApi {
            url,
            state,
            server,
            day,
        }
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

    /// Options calling the fake (SP-API and LWA), with short timeouts.
    pub fn options(&self) -> AmazonOptions {
        AmazonOptions {
            endpoint: self.url.clone(),
            lwa_url: format!("{}{LWA_PATH}", self.url),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
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
        let mut inner = self.inner();
        let order = inner.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        if id == ORDER {
            order.raw = on_day(GET_ORDER_CANCELED, self.day);
            return;
        }
        let updated = order.time("LastUpdateDate") + SignedDuration::from_mins(35);
        let mut payload = order.payload();
        shape_for(&mut payload, &AmazonStatus::Canceled);
        payload["LastUpdateDate"] = api_time(updated).into();
        order.raw = serde_json::to_vec_pretty(&json!({ "payload": payload })).unwrap();
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
}
