//! A fake Shopify Admin GraphQL API on a loopback port, answering the way the samples of
//! `events/shopify/graphql/` show Shopify does, for tests over real HTTP (feature `fake`).
//!
//! It serves `POST /admin/api/2026-10/graphql.json` ([`GRAPHQL_API_VERSION`]; another version is a 404)
//! and tells the operation by the query text: the `order { fulfillmentOrders }` read
//! ([`Operation::FulfillmentOrders`]), `fulfillmentOrderHold`, `fulfillmentOrderReleaseHold` and
//! `orderCancel`. Every request needs `Content-Type: application/json` (else a 400) and [`TOKEN`] in
//! `X-Shopify-Access-Token` (else the 401 `{"errors": "[API] Invalid API key or access token …"}`).
//!
//! Each order has fulfillment orders (`gid://shopify/FulfillmentOrder/{n}` from 6012345678 on, as in the
//! samples), each with a status and holds, and may be cancelled. The answers:
//!
//! - the read: the order, its `cancelledAt`, and each fulfillment order's `status`, `supportedActions`
//!   (`OPEN`: `CREATE_FULFILLMENT HOLD MOVE SPLIT`; `ON_HOLD`: `HOLD RELEASE_HOLD`, as in
//!   `fulfillmentOrders-held.json`; `IN_PROGRESS`: `CREATE_FULFILLMENT`; `CLOSED` and `CANCELLED`: none)
//!   and `fulfillmentHolds { id handle }`; `data.order` null for an order the fake does not have.
//! - `fulfillmentOrderHold`: a new hold (`gid://shopify/FulfillmentHold/{n}` from 777001 on) with the
//!   input's handle, the fulfillment order `ON_HOLD` (`fulfillmentOrderHold.json`); the
//!   `DUPLICATE_FULFILLMENT_HOLD_HANDLE` user error when this app's hold with that handle is there
//!   (`fulfillmentOrderHold-duplicate.json`); `FULFILLMENT_ORDER_NOT_FOUND` for an unknown one
//!   (`fulfillmentOrderHold-not-found.json`); `FULFILLMENT_ORDER_HOLD_LIMIT_REACHED` past 10 holds of this
//!   app. A fulfillment order without `HOLD` among its actions gets a user error with no code (what Shopify
//!   answers then is not known: invented). An input with a `reason` outside `FulfillmentHoldReason`, a
//!   handle over 64 characters or a `notifyMerchant` that is not a boolean gets a top-level error.
//! - `fulfillmentOrderReleaseHold`: the named holds of that fulfillment order released (ids of other
//!   fulfillment orders ignored, as documented; all its holds without `holdIds`), `OPEN` again once none is
//!   left (`fulfillmentOrderReleaseHold.json`); `INVALID_ACCESS` for a hold this app did not place
//!   (`fulfillmentOrderReleaseHold-refused.json`).
//! - `orderCancel`: a job (`orderCancel.json`'s shape, `done` false and `STARTED`, a job id of its own each
//!   time), and the order cancelled at once (every fulfillment order `CANCELLED`, no holds), or, after
//!   [`FakeShopify::run_cancel_jobs_later`], only once [`FakeShopify::finish_cancel_jobs`] is called; the `INVALID` "Order has already been
//!   cancelled" of `orderCancel-refused.json` when it is; an `INVALID` user error for an order with a
//!   fulfilled (`CLOSED`) fulfillment order and `NOT_FOUND` for an unknown order (both messages invented).
//!   The variables are checked: `refundMethod` with exactly one of its two fields, `restock` a boolean, a
//!   `reason` of `OrderCancelReason`, `notifyCustomer` a boolean or absent.
//!
//! A test scripts answers per operation ([`FakeShopify::answer_once`]: [`Answer::throttled`],
//! [`Answer::unavailable`], [`Answer::internal_error`], [`Answer::user_error`] …), changes orders
//! ([`FakeShopify::add_order`], [`FakeShopify::unassign`], [`FakeShopify::fulfill`], [`FakeShopify::cancel`],
//! [`FakeShopify::hold_by_merchant`]) and reads what the fake received ([`FakeShopify::requests`],
//! [`FakeShopify::hold_inputs`], [`FakeShopify::release_inputs`], [`FakeShopify::cancel_inputs`]) and what
//! it holds ([`FakeShopify::holds`], [`FakeShopify::statuses`], [`FakeShopify::is_cancelled`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use mallguard_domain::ids::ShopId;
use mallguard_malls::shopify::{ACCESS_TOKEN_HEADER, GRAPHQL_API_VERSION};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::Timeouts;
use crate::shopify::{RefundChoice, ShopifyAdmin, ShopifyCredentials, ShopifyOptions};

/// The Admin API access token the fake accepts.
pub const TOKEN: &str = "shpat_fake0123456789abcdef0123456789";
/// The shop of the samples.
pub const SHOP: &str = "tanaka-shop";
/// The duplicate #1002 of `events/shopify/orders-create-duplicate.json`, the order of the samples: one open
/// fulfillment order, [`FIRST_FULFILLMENT_ORDER`], when the fake starts.
pub const ORDER: &str = "5678901234567890456";
/// The earlier #1001 of `events/shopify/orders-create.json`, which #1002 duplicates; not at the fake.
pub const ORIGINAL: &str = "5678901234567890123";
/// The number of the first fulfillment order the fake makes (the samples' `gid://shopify/FulfillmentOrder/6012345678`).
pub const FIRST_FULFILLMENT_ORDER: u64 = 6_012_345_678;
/// The number of the first hold the fake places (the samples' `gid://shopify/FulfillmentHold/777001`).
pub const FIRST_HOLD: u64 = 777_001;
/// The `cancelledAt` of an order the fake cancels.
pub const CANCELLED_AT: &str = "2026-11-23T12:30:00+09:00";

macro_rules! sample {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/shopify/graphql/",
            $file
        ))
    };
}

pub const FULFILLMENT_ORDERS: &[u8] = sample!("fulfillmentOrders.json");
pub const FULFILLMENT_ORDERS_HELD: &[u8] = sample!("fulfillmentOrders-held.json");
pub const FULFILLMENT_ORDERS_UNASSIGNED: &[u8] = sample!("fulfillmentOrders-unassigned.json");
pub const HOLD: &[u8] = sample!("fulfillmentOrderHold.json");
pub const HOLD_DUPLICATE: &[u8] = sample!("fulfillmentOrderHold-duplicate.json");
pub const HOLD_NOT_FOUND: &[u8] = sample!("fulfillmentOrderHold-not-found.json");
pub const RELEASE: &[u8] = sample!("fulfillmentOrderReleaseHold.json");
pub const RELEASE_REFUSED: &[u8] = sample!("fulfillmentOrderReleaseHold-refused.json");
pub const CANCEL: &[u8] = sample!("orderCancel.json");
pub const CANCEL_REFUSED: &[u8] = sample!("orderCancel-refused.json");
pub const THROTTLED: &[u8] = sample!("throttled.json");
pub const INTERNAL_ERROR: &[u8] = sample!("internal-error.json");
/// The body of a 401: Shopify's text for a wrong or missing access token.
pub const UNAUTHORIZED: &[u8] =
    br#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;

/// `FulfillmentHoldReason` (2026-10).
const HOLD_REASONS: [&str; 8] = [
    "AWAITING_PAYMENT",
    "AWAITING_RETURN_ITEMS",
    "HIGH_RISK_OF_FRAUD",
    "INCORRECT_ADDRESS",
    "INVENTORY_OUT_OF_STOCK",
    "ONLINE_STORE_POST_PURCHASE_CROSS_SELL",
    "OTHER",
    "UNKNOWN_DELIVERY_DATE",
];
/// `OrderCancelReason`.
const CANCEL_REASONS: [&str; 6] = ["CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"];
/// The active holds one app may keep on one fulfillment order.
const HOLD_LIMIT: usize = 10;

/// The operations the fake tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `query … order(id:) { … fulfillmentOrders … }`.
    FulfillmentOrders,
    /// `fulfillmentOrderHold`.
    Hold,
    /// `fulfillmentOrderReleaseHold`.
    Release,
    /// `orderCancel`.
    Cancel,
}

impl Operation {
    /// The operation a query text runs; None for any other.
    fn of(query: &str) -> Option<Operation> {
        if query.contains("fulfillmentOrderReleaseHold(") {
            Some(Operation::Release)
        } else if query.contains("fulfillmentOrderHold(") {
            Some(Operation::Hold)
        } else if query.contains("orderCancel(") {
            Some(Operation::Cancel)
        } else if query.contains("order(") && query.contains("fulfillmentOrders") {
            Some(Operation::FulfillmentOrders)
        } else {
            None
        }
    }

    /// The payload field of a mutation.
    fn payload(self) -> &'static str {
        match self {
            Operation::FulfillmentOrders => "order",
            Operation::Hold => "fulfillmentOrderHold",
            Operation::Release => "fulfillmentOrderReleaseHold",
            Operation::Cancel => "orderCancel",
        }
    }
}

/// A scripted answer, given once in place of the real one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn status(status: u16, body: &[u8]) -> Answer {
        Answer {
            status,
            body: body.to_vec(),
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header (a `Retry-After`, another `Content-Type`).
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Throttled: HTTP 200 with `throttled.json` (`THROTTLED`, no `data`, `extensions.cost` asking 752
    /// points with 666 available at 50 a second: a wait of 2 s). Which status Shopify gives a throttled
    /// GraphQL answer is not documented; see [`Answer::throttled_429`] for the other reading.
    pub fn throttled() -> Answer {
        Answer::status(200, THROTTLED)
    }

    /// Throttled as HTTP 429 with `throttled.json` and `Retry-After: {seconds}`.
    pub fn throttled_429(seconds: u32) -> Answer {
        Answer::status(429, THROTTLED).with_header("Retry-After", &seconds.to_string())
    }

    /// HTTP 503 with an HTML page, as a load balancer gives.
    pub fn unavailable() -> Answer {
        Answer::status(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>")
            .with_header("Content-Type", "text/html")
    }

    /// HTTP 500 with `internal-error.json` (`INTERNAL_SERVER_ERROR`).
    pub fn internal_error() -> Answer {
        Answer::status(500, INTERNAL_ERROR)
    }

    /// HTTP 403 with Shopify's plain error text for a token without the right (the body is invented).
    pub fn forbidden() -> Answer {
        Answer::status(
            403,
            br#"{"errors":"[API] This action requires merchant approval for write_orders scope."}"#,
        )
    }

    /// HTTP 200 with a top-level `ACCESS_DENIED` error, as a token without a scope gets for a field (the
    /// shape as commonly reported; not in the research notes).
    pub fn access_denied(operation: Operation) -> Answer {
        let field = operation.payload();
        let body = json!({
            "errors": [{
                "message": format!("Access denied for {field} field."),
                "extensions": { "code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes" }
            }],
            "data": null
        });
        Answer::status(200, &serde_json::to_vec(&body).unwrap())
    }

    /// HTTP 200 with one user error in the payload of `operation` (`userErrors`, or
    /// `orderCancelUserErrors` for `orderCancel`), the rest of the payload null, as the samples' refusals.
    pub fn user_error(operation: Operation, code: &str, field: &[&str], message: &str) -> Answer {
        let error = json!({ "field": field, "message": message, "code": code });
        Answer::status(200, &serde_json::to_vec(&user_error_body(operation, error)).unwrap())
    }
}

/// A payload of `operation` with one user error and nothing else.
fn user_error_body(operation: Operation, error: Value) -> Value {
    let payload = match operation {
        Operation::FulfillmentOrders => return json!({ "errors": [error] }),
        Operation::Hold => json!({
            "fulfillmentHold": null, "fulfillmentOrder": null, "remainingFulfillmentOrder": null,
            "userErrors": [error]
        }),
        Operation::Release => json!({ "fulfillmentOrder": null, "userErrors": [error] }),
        Operation::Cancel => json!({ "job": null, "jobResult": null, "orderCancelUserErrors": [error] }),
    };
    json!({ "data": { operation.payload(): payload } })
}

/// A hold as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The fulfillment order it is on.
    pub fulfillment_order: String,
    /// `gid://shopify/FulfillmentHold/{n}`.
    pub id: String,
    pub handle: String,
    /// Placed by the app of [`TOKEN`] (mallguard), or by the merchant.
    pub by_app: bool,
}

#[derive(Debug, Clone)]
struct FakeHold {
    id: u64,
    handle: String,
    by_app: bool,
}

#[derive(Debug, Clone)]
struct FakeFulfillmentOrder {
    id: u64,
    status: String,
    holds: Vec<FakeHold>,
}

impl FakeFulfillmentOrder {
    fn gid(&self) -> String {
        format!("gid://shopify/FulfillmentOrder/{}", self.id)
    }

    fn actions(&self) -> &'static [&'static str] {
        match self.status.as_str() {
            "OPEN" => &["CREATE_FULFILLMENT", "HOLD", "MOVE", "SPLIT"],
            "ON_HOLD" => &["HOLD", "RELEASE_HOLD"],
            "IN_PROGRESS" => &["CREATE_FULFILLMENT"],
            _ => &[],
        }
    }

    fn node(&self) -> Value {
        json!({
            "id": self.gid(),
            "status": self.status,
            "supportedActions": self.actions().iter().map(|a| json!({ "action": a })).collect::<Vec<_>>(),
            "fulfillmentHolds": self.holds.iter().map(|h| json!({
                "id": hold_gid(h.id),
                "handle": h.handle,
            })).collect::<Vec<_>>(),
        })
    }
}

fn hold_gid(id: u64) -> String {
    format!("gid://shopify/FulfillmentHold/{id}")
}

#[derive(Debug, Clone, Default)]
struct FakeOrder {
    fulfillment_orders: Vec<FakeFulfillmentOrder>,
    cancelled_at: Option<String>,
}

/// The order cancelled: [`CANCELLED_AT`], every fulfillment order `CANCELLED`, no holds.
fn cancel_order(order: &mut FakeOrder) {
    order.cancelled_at = Some(CANCELLED_AT.to_owned());
    for fo in &mut order.fulfillment_orders {
        fo.status = "CANCELLED".to_owned();
        fo.holds.clear();
    }
}

struct Inner {
    token: String,
    orders: BTreeMap<String, FakeOrder>,
    next_fulfillment_order: u64,
    next_hold: u64,
    next_job: u64,
    /// Cancel jobs run later: the orders they will cancel.
    cancel_later: Option<Vec<String>>,
    scripted: HashMap<Operation, VecDeque<Answer>>,
    counts: HashMap<Operation, u32>,
    hold_inputs: Vec<Value>,
    release_inputs: Vec<Value>,
    cancel_inputs: Vec<Value>,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake, serving until it is dropped.
pub struct FakeShopify {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeShopify {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeShopify {
    /// The fake on 127.0.0.1 and a free port, with [`ORDER`] and its one open fulfillment order.
    pub async fn start() -> FakeShopify {
        let state: Shared = Arc::new(Mutex::new(Inner {
            token: TOKEN.to_owned(),
            orders: BTreeMap::new(),
            next_fulfillment_order: FIRST_FULFILLMENT_ORDER,
            next_hold: FIRST_HOLD,
            next_job: 1,
            cancel_later: None,
            scripted: HashMap::new(),
            counts: HashMap::new(),
            hold_inputs: Vec::new(),
            release_inputs: Vec::new(),
            cancel_inputs: Vec::new(),
        }));
        let app = Router::new()
            .route("/admin/api/{version}/graphql.json", post(graphql))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let fake = FakeShopify { url, state, server };
        fake.add_order(ORDER, 1);
        fake
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// The credentials the fake accepts.
    pub fn credentials() -> ShopifyCredentials {
        ShopifyCredentials {
            access_token: SecretString::from(TOKEN),
        }
    }

    /// Options calling the fake with short timeouts, refunding to the original payment methods and
    /// restocking.
    pub fn options(&self) -> ShopifyOptions {
        ShopifyOptions {
            base_url: Some(self.url.clone()),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
            refund: RefundChoice::Original,
            restock: true,
        }
    }

    /// The Admin API of [`SHOP`] on the fake with `credentials` and `options`.
    pub fn admin_with(&self, credentials: ShopifyCredentials, options: ShopifyOptions) -> ShopifyAdmin {
        ShopifyAdmin::new(ShopId::parse(SHOP).unwrap(), credentials, options).unwrap()
    }

    /// The Admin API of [`SHOP`] on the fake with [`FakeShopify::credentials`] and [`FakeShopify::options`].
    pub fn admin(&self) -> ShopifyAdmin {
        self.admin_with(FakeShopify::credentials(), self.options())
    }

    /// Order `id` (all digits) anew, not cancelled, with `open` fulfillment orders `OPEN` and without holds
    /// (none: not yet assigned to a location).
    pub fn add_order(&self, id: &str, open: usize) {
        let mut inner = self.inner();
        let fulfillment_orders = (0..open)
            .map(|_| {
                let id = inner.next_fulfillment_order;
                inner.next_fulfillment_order += 1;
                FakeFulfillmentOrder {
                    id,
                    status: "OPEN".to_owned(),
                    holds: Vec::new(),
                }
            })
            .collect();
        inner.orders.insert(
            id.to_owned(),
            FakeOrder {
                fulfillment_orders,
                cancelled_at: None,
            },
        );
    }

    /// Order `id` has no fulfillment orders yet, as right after it was created.
    pub fn unassign(&self, id: &str) {
        self.with_order(id, |order| order.fulfillment_orders.clear());
    }

    /// Order `id` is fulfilled: every fulfillment order `CLOSED` and without holds.
    pub fn fulfill(&self, id: &str) {
        self.with_order(id, |order| {
            for fo in &mut order.fulfillment_orders {
                fo.status = "CLOSED".to_owned();
                fo.holds.clear();
            }
        });
    }

    /// The `index`th fulfillment order of order `id` gets `status` (`IN_PROGRESS`, `CLOSED`, …) and keeps
    /// its holds.
    pub fn set_status(&self, id: &str, index: usize, status: &str) {
        self.with_order(id, |order| order.fulfillment_orders[index].status = status.to_owned());
    }

    /// From now on an `orderCancel` job does not cancel its order until [`FakeShopify::finish_cancel_jobs`].
    pub fn run_cancel_jobs_later(&self) {
        self.inner().cancel_later.get_or_insert_with(Vec::new);
    }

    /// The cancel jobs taken since [`FakeShopify::run_cancel_jobs_later`] finish: their orders are cancelled.
    pub fn finish_cancel_jobs(&self) {
        let mut inner = self.inner();
        let ids = inner.cancel_later.as_mut().map(std::mem::take).unwrap_or_default();
        for id in ids {
            if let Some(order) = inner.orders.get_mut(&id) {
                cancel_order(order);
            }
        }
    }

    /// Order `id` is cancelled (by the staff or the buyer): [`CANCELLED_AT`], every fulfillment order
    /// `CANCELLED`, no holds.
    pub fn cancel(&self, id: &str) {
        self.with_order(id, cancel_order);
    }

    /// The merchant holds the `index`th fulfillment order of order `id` (a hold without a handle, not the
    /// app's); the hold's id.
    pub fn hold_by_merchant(&self, id: &str, index: usize) -> String {
        let mut inner = self.inner();
        let hold = inner.next_hold;
        inner.next_hold += 1;
        let order = inner.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        let fo = &mut order.fulfillment_orders[index];
        fo.holds.push(FakeHold {
            id: hold,
            handle: String::new(),
            by_app: false,
        });
        fo.status = "ON_HOLD".to_owned();
        hold_gid(hold)
    }

    fn with_order(&self, id: &str, change: impl FnOnce(&mut FakeOrder)) {
        let mut inner = self.inner();
        change(inner.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}")));
    }

    /// The next request of `operation` gets `answer` (after the ones scripted before it), whatever its
    /// token.
    pub fn answer_once(&self, operation: Operation, answer: Answer) {
        self.inner().scripted.entry(operation).or_default().push_back(answer);
    }

    /// What the read of order `id` would answer now: to script a read that is out of date.
    pub fn fulfillment_orders_answer(&self, id: &str) -> Answer {
        let inner = self.inner();
        Answer::status(200, &serde_json::to_vec(&inner.order_answer(id)).unwrap())
    }

    /// How many requests of `operation` the fake received, answered or not.
    pub fn requests(&self, operation: Operation) -> u32 {
        self.inner().counts.get(&operation).copied().unwrap_or(0)
    }

    /// The variables of every `fulfillmentOrderHold` request with the right token, in order.
    pub fn hold_inputs(&self) -> Vec<Value> {
        self.inner().hold_inputs.clone()
    }

    /// The variables of every `fulfillmentOrderReleaseHold` request with the right token, in order.
    pub fn release_inputs(&self) -> Vec<Value> {
        self.inner().release_inputs.clone()
    }

    /// The variables of every `orderCancel` request with the right token, in order.
    pub fn cancel_inputs(&self) -> Vec<Value> {
        self.inner().cancel_inputs.clone()
    }

    /// Every hold on order `id`, fulfillment order by fulfillment order.
    pub fn holds(&self, id: &str) -> Vec<Hold> {
        let inner = self.inner();
        let order = inner.orders.get(id).unwrap_or_else(|| panic!("no order {id}"));
        order
            .fulfillment_orders
            .iter()
            .flat_map(|fo| {
                fo.holds.iter().map(|h| Hold {
                    fulfillment_order: fo.gid(),
                    id: hold_gid(h.id),
                    handle: h.handle.clone(),
                    by_app: h.by_app,
                })
            })
            .collect()
    }

    /// The status of each fulfillment order of order `id`.
    pub fn statuses(&self, id: &str) -> Vec<String> {
        let inner = self.inner();
        let order = inner.orders.get(id).unwrap_or_else(|| panic!("no order {id}"));
        order.fulfillment_orders.iter().map(|fo| fo.status.clone()).collect()
    }

    /// The global ids of the fulfillment orders of order `id`.
    pub fn fulfillment_orders(&self, id: &str) -> Vec<String> {
        let inner = self.inner();
        let order = inner.orders.get(id).unwrap_or_else(|| panic!("no order {id}"));
        order.fulfillment_orders.iter().map(FakeFulfillmentOrder::gid).collect()
    }

    /// Whether order `id` is cancelled.
    pub fn is_cancelled(&self, id: &str) -> bool {
        let inner = self.inner();
        inner.orders.get(id).is_some_and(|order| order.cancelled_at.is_some())
    }
}

async fn graphql(
    State(state): State<Shared>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = state.lock().unwrap().graphql(&version, &headers, &body);
    send(reply)
}

fn send(reply: Answer) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    let map = response.headers_mut();
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in reply.headers {
        map.insert(
            HeaderName::try_from(name).unwrap(),
            HeaderValue::try_from(value).unwrap(),
        );
    }
    response
}

fn ok(body: &Value) -> Answer {
    Answer::status(200, &serde_json::to_vec(body).unwrap())
}

/// A top-level GraphQL error in an HTTP 200, as for variables the schema refuses.
fn top_level_error(message: &str) -> Answer {
    ok(&json!({ "errors": [{ "message": message, "locations": [{ "line": 1, "column": 1 }] }] }))
}

/// A sample with `edit` applied.
fn edited(sample: &[u8], edit: impl FnOnce(&mut Value)) -> Value {
    let mut value: Value = serde_json::from_slice(sample).expect("a sample is JSON");
    edit(&mut value);
    value
}

/// The number in a global id of `kind` (`gid://shopify/{kind}/{n}`).
fn gid_number(gid: &Value, kind: &str) -> Option<u64> {
    gid.as_str()?
        .strip_prefix("gid://shopify/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?
        .parse()
        .ok()
}

impl Inner {
    fn graphql(&mut self, version: &str, headers: &HeaderMap, body: &[u8]) -> Answer {
        if version != GRAPHQL_API_VERSION {
            return Answer::status(404, br#"{"errors":"Not Found"}"#);
        }
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with("application/json"));
        let request: Option<Value> = serde_json::from_slice(body).ok();
        let query = request.as_ref().and_then(|r| r.get("query")).and_then(Value::as_str);
        let (Some(query), true) = (query, json_type) else {
            return Answer::status(400, br#"{"errors":{"query":"Required parameter missing or invalid"}}"#);
        };
        let Some(operation) = Operation::of(query) else {
            return top_level_error("the fake serves only the order's fulfillment orders and the three mutations");
        };
        *self.counts.entry(operation).or_default() += 1;
        if let Some(answer) = self.scripted.get_mut(&operation).and_then(VecDeque::pop_front) {
            return answer;
        }
        let token = headers.get(ACCESS_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        if token != Some(self.token.as_str()) {
            return Answer::status(401, UNAUTHORIZED);
        }
        let variables = request
            .as_ref()
            .and_then(|r| r.get("variables"))
            .cloned()
            .unwrap_or(Value::Null);
        match operation {
            Operation::FulfillmentOrders => self.read(&variables),
            Operation::Hold => {
                self.hold_inputs.push(variables.clone());
                self.hold(&variables)
            }
            Operation::Release => {
                self.release_inputs.push(variables.clone());
                self.release(&variables)
            }
            Operation::Cancel => {
                self.cancel_inputs.push(variables.clone());
                self.cancel(&variables)
            }
        }
    }

    fn read(&self, variables: &Value) -> Answer {
        let Some(id) = gid_number(&variables["id"], "Order") else {
            return top_level_error(&format!("Invalid global id '{}'", variables["id"]));
        };
        ok(&self.order_answer(&id.to_string()))
    }

    /// The read's answer for order `id`: `fulfillmentOrders.json` with the order's state.
    fn order_answer(&self, id: &str) -> Value {
        let Some(order) = self.orders.get(id) else {
            return edited(FULFILLMENT_ORDERS, |v| v["data"]["order"] = Value::Null);
        };
        edited(FULFILLMENT_ORDERS, |v| {
            let o = &mut v["data"]["order"];
            o["id"] = format!("gid://shopify/Order/{id}").into();
            o["cancelledAt"] = order.cancelled_at.clone().into();
            o["fulfillmentOrders"]["nodes"] = order
                .fulfillment_orders
                .iter()
                .map(FakeFulfillmentOrder::node)
                .collect::<Vec<_>>()
                .into();
        })
    }

    fn fulfillment_order(&mut self, gid: &Value) -> Option<&mut FakeFulfillmentOrder> {
        let id = gid_number(gid, "FulfillmentOrder")?;
        self.orders
            .values_mut()
            .flat_map(|order| order.fulfillment_orders.iter_mut())
            .find(|fo| fo.id == id)
    }

    fn hold(&mut self, variables: &Value) -> Answer {
        let input = &variables["hold"];
        let reason_ok = input["reason"].as_str().is_some_and(|r| HOLD_REASONS.contains(&r));
        let handle = input["handle"].as_str().unwrap_or_default().to_owned();
        let notify_ok = matches!(input.get("notifyMerchant"), None | Some(Value::Bool(_)));
        if !input.is_object() || !reason_ok || handle.chars().count() > 64 || !notify_ok {
            return top_level_error(&format!(
                "Variable $hold of type FulfillmentOrderHoldInput! was provided invalid value: {input}"
            ));
        }
        let next_hold = self.next_hold;
        let Some(fo) = self.fulfillment_order(&variables["id"]) else {
            return Answer::status(200, HOLD_NOT_FOUND);
        };
        if !handle.is_empty() && fo.holds.iter().any(|h| h.by_app && h.handle == handle) {
            return Answer::status(200, HOLD_DUPLICATE);
        }
        if !fo.actions().contains(&"HOLD") {
            let error = json!({
                "field": ["id"],
                "message": format!("The fulfillment order cannot be put on hold while it is {}.", fo.status),
                "code": null
            });
            return ok(&user_error_body(Operation::Hold, error));
        }
        if fo.holds.iter().filter(|h| h.by_app).count() >= HOLD_LIMIT {
            let error = json!({
                "field": ["id"],
                "message": "The maximum number of fulfillment holds for this fulfillment order has been reached for this app.",
                "code": "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED"
            });
            return ok(&user_error_body(Operation::Hold, error));
        }
        fo.holds.push(FakeHold {
            id: next_hold,
            handle: handle.clone(),
            by_app: true,
        });
        fo.status = "ON_HOLD".to_owned();
        let (gid, status) = (fo.gid(), fo.status.clone());
        self.next_hold += 1;
        ok(&edited(HOLD, |v| {
            let payload = &mut v["data"]["fulfillmentOrderHold"];
            payload["fulfillmentHold"]["id"] = hold_gid(next_hold).into();
            payload["fulfillmentHold"]["handle"] = handle.into();
            payload["fulfillmentHold"]["reason"] = input["reason"].clone();
            payload["fulfillmentOrder"] = json!({ "id": gid, "status": status });
        }))
    }

    fn release(&mut self, variables: &Value) -> Answer {
        let hold_ids = match variables.get("holdIds") {
            None | Some(Value::Null) => None,
            Some(Value::Array(ids)) => Some(
                ids.iter()
                    .filter_map(|id| gid_number(id, "FulfillmentHold"))
                    .collect::<Vec<_>>(),
            ),
            Some(other) => {
                return top_level_error(&format!(
                    "Variable $holdIds of type [ID!] was provided invalid value: {other}"
                ));
            }
        };
        let Some(fo) = self.fulfillment_order(&variables["id"]) else {
            let error = json!({
                "field": ["id"],
                "message": "Fulfillment order does not exist.",
                "code": "FULFILLMENT_ORDER_NOT_FOUND"
            });
            return ok(&user_error_body(Operation::Release, error));
        };
        let releases = |h: &FakeHold| hold_ids.as_ref().is_none_or(|ids| ids.contains(&h.id));
        if fo.holds.iter().any(|h| releases(h) && !h.by_app) && hold_ids.is_some() {
            return Answer::status(200, RELEASE_REFUSED);
        }
        fo.holds.retain(|h| !releases(h));
        if fo.holds.is_empty() && fo.status == "ON_HOLD" {
            fo.status = "OPEN".to_owned();
        }
        let (gid, status) = (fo.gid(), fo.status.clone());
        ok(&edited(RELEASE, |v| {
            v["data"]["fulfillmentOrderReleaseHold"]["fulfillmentOrder"] = json!({ "id": gid, "status": status });
        }))
    }

    fn cancel(&mut self, variables: &Value) -> Answer {
        let refund = &variables["refundMethod"];
        let refund_ok = refund.as_object().is_some_and(|r| {
            let original = r.get("originalPaymentMethodsRefund").is_some_and(Value::is_boolean);
            let credit = r.get("storeCreditRefund").is_some_and(Value::is_object);
            original != credit && r.len() == 1
        });
        let reason_ok = variables["reason"]
            .as_str()
            .is_some_and(|r| CANCEL_REASONS.contains(&r));
        let notify_ok = matches!(
            variables.get("notifyCustomer"),
            None | Some(Value::Null | Value::Bool(_))
        );
        let note_ok = matches!(variables.get("staffNote"), None | Some(Value::Null | Value::String(_)));
        if !refund_ok || !reason_ok || !variables["restock"].is_boolean() || !notify_ok || !note_ok {
            return top_level_error(&format!(
                "Variables of orderCancel were provided invalid values: {variables}"
            ));
        }
        let id = gid_number(&variables["orderId"], "Order").map(|n| n.to_string());
        let Some((id, order)) = id.and_then(|id| self.orders.get_mut(&id).map(|order| (id, order))) else {
            let error = json!({ "field": ["orderId"], "message": "Order does not exist", "code": "NOT_FOUND" });
            return ok(&user_error_body(Operation::Cancel, error));
        };
        if order.cancelled_at.is_some() {
            return Answer::status(200, CANCEL_REFUSED);
        }
        if order.fulfillment_orders.iter().any(|fo| fo.status == "CLOSED") {
            let error = json!({
                "field": ["orderId"],
                "message": "Order has fulfillments that can't be cancelled",
                "code": "INVALID"
            });
            return ok(&user_error_body(Operation::Cancel, error));
        }
        match &mut self.cancel_later {
            Some(later) => later.push(id),
            None => cancel_order(order),
        }
        let job = format!("gid://shopify/Job/00000000-0000-4000-8000-{:012}", self.next_job);
        self.next_job += 1;
        ok(&edited(CANCEL, |v| {
            let payload = &mut v["data"]["orderCancel"];
            payload["job"]["id"] = job.clone().into();
            payload["jobResult"]["id"] = job.into();
        }))
    }
}
