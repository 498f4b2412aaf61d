//! A fake RMS (楽天ペイ受注API and the licenseKey expiry API) on a loopback port, serving the samples of
//! `events/rakuten/` the way RMS does, for tests over real HTTP: the feed's own, and the local program's
//! end-to-end tests (feature `fake`).
//!
//! - `POST /es/2.0/order/searchOrder/`: the orders whose order time lies in `[startDatetime,
//!   endDatetime]` and whose `orderProgress` is in `orderProgressList` (every one without that list),
//!   ascending, paged by `PaginationRequestModel`; the sample's empty answer when none does. A request not
//!   in RMS's format (no `dateType` 1, a time not like `2026-11-23T12:00:00+0900`, a window over 63 days, a
//!   page size over 1,000, an `orderProgressList` that is empty or holds a value RMS does not list) gets a
//!   400.
//! - `POST /es/2.0/order/getOrder/`: the asked orders, each as the exact bytes it has in its sample, one
//!   INFO message per number it does not know (or is told to lag on, as RMS's eventual consistency can);
//!   400 without `version` or with over 100 numbers.
//! - `GET /es/1.0/license-management/license-key/expiry-date?licenseKey=…`: the sample's expiry.
//! - `POST /es/2.0/order/getSubStatusList/`: the shop's sub-statuses, `getSubStatusList.json` (mallguard保留
//!   is 3423 at `orderProgress` 100 and 3424 at 300) unless a test sets others.
//! - `POST /es/2.0/order/updateOrderSubStatus/`: sets (or, with `null`, clears) the sub-status of each
//!   order; per order the INFO of `updateOrderSubStatus.json`, the ERROR_101 of
//!   `updateOrderSubStatus-partial.json` for a cancelled order, or an ERROR_102 for a sub-status not listed
//!   at the order's `orderProgress`; 400 with `updateOrderSubStatus-invalid.json` without either field.
//! - `POST /es/2.0/order/updateOrderMemo/`: writes the order's `memo` (INFO of `updateOrderMemo.json`).
//! - `POST /es/2.0/order/cancelOrder/`: applies for the cancellation of an order at 100, 200 or 300, which
//!   goes to 800 キャンセル確定待ち (INFO of `cancelOrder.json`); an ERROR for any other progress (RMS's code
//!   is not documented: the fake's is `…_ERROR_900 (fake)`).
//!
//! The writes change the order's own bytes (`orderProgress`, `subStatusId`, `subStatusName`, `memo`), so a
//! getOrder afterwards reflects them.
//!
//! Every request must carry `Authorization: ESA base64(serviceSecret:licenseKey)` of [`SERVICE_SECRET`] and
//! [`LICENSE_KEY`] (and the order API the official `Content-Type`), or gets the gateway's 401 sample. A test
//! scripts answers per endpoint ([`FakeRms::answer_once`]: a status with a body and a `Retry-After`, or no
//! answer at all), expires the key, cancels the 山田 order (or any order), moves an order's progress (say to
//! 500, shipped), sets its sub-status or memo, corrupts an order (its order time, or its progress), adds
//! synthetic orders, hides an order from getOrder for a while, and reads what the fake received and how
//! often each endpoint was called.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::Timeouts;
use crate::rakuten::{RakutenCredentials, RakutenFeed, RakutenOptions};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::ids::ShopId;
use mallguard_malls::rakuten;
use secrecy::SecretString;
use serde_json::{Value, json};

pub const SERVICE_SECRET: &str = "SP386193_fakeServiceSecret";
/// With characters that must be percent-encoded in the expiry API's query.
pub const LICENSE_KEY: &str = "SL386193_fake+License/Key=";
/// The orders of `getOrder.json`: 山田 太郎 (cancelled in `getOrder-cancelled.json`) and 佐藤 花子.
pub const YAMADA: &str = "386193-20261123-0000012345";
pub const SATO: &str = "386193-20261123-0000012401";
pub const SHOP: &str = "tea-shop";

pub const GET_ORDER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/getOrder.json"
));
pub const GET_ORDER_CANCELLED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/getOrder-cancelled.json"
));
pub const SEARCH_ORDER_EMPTY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/searchOrder-empty.json"
));
pub const SEARCH_ORDER_INVALID: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/searchOrder-invalid.json"
));
pub const ERROR_UNAUTHORIZED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/error-unauthorized.json"
));
pub const ERROR_THROTTLED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/error-throttled.xml"
));
pub const LICENSE_EXPIRY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/license-expiry.json"
));
pub const GET_SUB_STATUS_LIST: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/getSubStatusList.json"
));
pub const UPDATE_ORDER_SUB_STATUS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/updateOrderSubStatus.json"
));
pub const UPDATE_ORDER_SUB_STATUS_PARTIAL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/updateOrderSubStatus-partial.json"
));
pub const UPDATE_ORDER_SUB_STATUS_INVALID: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/updateOrderSubStatus-invalid.json"
));
pub const UPDATE_ORDER_MEMO: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/updateOrderMemo.json"
));
pub const CANCEL_ORDER: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/rakuten/cancelOrder.json"
));
/// The name of mallguard's sub-status in `getSubStatusList.json`.
pub const HOLD_SUB_STATUS: &str = "mallguard保留";

/// The RMS endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    SearchOrder,
    GetOrder,
    LicenseExpiry,
    GetSubStatusList,
    UpdateOrderSubStatus,
    UpdateOrderMemo,
    CancelOrder,
}

/// A scripted answer, given once in place of the real one.
#[derive(Debug, Clone)]
pub enum Answer {
    Status {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<String>,
    },
    /// Takes the request and never answers.
    Hang,
}

impl Answer {
    /// RMS's documented throttling answer: 403 with the `QPSLimit` body.
    pub fn throttled(retry_after: Option<&str>) -> Answer {
        Answer::Status {
            status: 403,
            body: ERROR_THROTTLED.to_vec(),
            retry_after: retry_after.map(str::to_owned),
        }
    }

    pub fn status(status: u16, body: &[u8]) -> Answer {
        Answer::Status {
            status,
            body: body.to_vec(),
            retry_after: None,
        }
    }
}

/// One searchOrder request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSeen {
    pub start: String,
    pub end: String,
    /// Its `orderProgressList` (empty when it had none: every progress).
    pub progress: Vec<u64>,
    pub page: u64,
    pub per_page: u64,
}

/// One updateOrderSubStatus request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubStatusWrite {
    /// None: `null`, which clears the sub-status.
    pub sub_status_id: Option<u64>,
    pub order_numbers: Vec<String>,
}

/// One updateOrderMemo request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoWrite {
    pub order_number: String,
    /// The memo sent, None when it was `null` or left out.
    pub memo: Option<String>,
}

/// One cancelOrder request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelSeen {
    pub order_number: String,
    pub inventory_restore_type: u64,
    pub change_reason_detail_apply: u64,
}

/// Every `orderProgress` RMS lists.
const PROGRESS: [u64; 9] = [100, 200, 300, 400, 500, 600, 700, 800, 900];
/// cancelOrder's `changeReasonDetailApply` codes (JakeJP/Rakuten.RMS.Api's list).
const CANCEL_REASONS: [u64; 11] = [1, 2, 3, 4, 5, 6, 8, 10, 13, 14, 15];

#[derive(Debug, Clone)]
struct FakeOrder {
    placed_at: Timestamp,
    /// Its `orderProgress`, read from its bytes when it is put in.
    progress: u64,
    raw: Vec<u8>,
}

impl FakeOrder {
    fn new(placed_at: Timestamp, raw: Vec<u8>) -> FakeOrder {
        let progress = serde_json::from_slice::<Value>(&raw)
            .ok()
            .and_then(|order| order["orderProgress"].as_u64())
            .expect("an order with an orderProgress");
        FakeOrder {
            placed_at,
            progress,
            raw,
        }
    }
}

struct Inner {
    authorization: String,
    key_expired: bool,
    /// The licence-expiry answer: the recorded sample, with its date moved when the fake runs on a day.
    license_expiry: Vec<u8>,
    orders: BTreeMap<String, FakeOrder>,
    scripted: HashMap<Endpoint, VecDeque<Answer>>,
    counts: HashMap<Endpoint, u32>,
    searches: Vec<SearchSeen>,
    get_batches: Vec<Vec<String>>,
    /// Numbers searchOrder lists but getOrder does not find yet.
    lagging: HashSet<String>,
    /// The getSubStatusList answer.
    sub_status_list: Vec<u8>,
    sub_status_writes: Vec<SubStatusWrite>,
    memo_writes: Vec<MemoWrite>,
    cancels: Vec<CancelSeen>,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake, serving until it is dropped.
pub struct FakeRms {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
    /// The day the sample orders are served on (None: as written).
    day: Option<String>,
}
/// The day the samples were written on: [`FakeRms::start_on`] moves it to another.
pub const SAMPLE_DAY: &str = "2026-11-23";

/// `sample` with its day moved to `day` (JST dates and times keep their time of day).
fn on_day(sample: &[u8], day: Option<&str>) -> Vec<u8> {
    match day {
        Some(day) => String::from_utf8_lossy(sample).replace(SAMPLE_DAY, day).into_bytes(),
        None => sample.to_vec(),
    }
}

/// The licence-expiry answer of the recorded sample's shape, with `at` (RMS's offset-less JST time).
fn license_expiry_answer(at: &str) -> Vec<u8> {
    let sample = String::from_utf8_lossy(LICENSE_EXPIRY);
    sample.replace("2026-11-28T23:59:59", at).into_bytes()
}

impl Drop for FakeRms {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The orders of a getOrder sample, by number: their order time and their exact bytes.
fn sample_orders(sample: &[u8]) -> BTreeMap<String, FakeOrder> {
    let shop = ShopId::parse(SHOP).unwrap();
    rakuten::parse_get_order(sample, &shop)
        .expect("a getOrder sample")
        .into_iter()
        .map(|entry| {
            let (order, raw) = entry.expect("a readable sample order");
            (
                order.order_ref.order_id.as_str().to_owned(),
                FakeOrder::new(order.placed_at, raw),
            )
        })
        .collect()
}

impl FakeRms {
    /// The fake on 127.0.0.1 and a free port, with the two orders of `getOrder.json`.
    pub async fn start() -> FakeRms {
        FakeRms::start_with(None).await
    }

    /// The same with the sample orders moved to `day` (their order times keep the time of day): for tests
    /// of programs that read "the last few days" by the real clock, so they pass on any day.
    pub async fn start_on(day: jiff::civil::Date) -> FakeRms {
        FakeRms::start_with(Some(day.to_string())).await
    }

    async fn start_with(day: Option<String>) -> FakeRms {
        let state: Shared = Arc::new(Mutex::new(Inner {
            authorization: rakuten::authorization(SERVICE_SECRET, LICENSE_KEY),
            key_expired: false,
            license_expiry: match &day {
                // A key issued on the day the fake runs, good for another 60 days: no warning is due.
                Some(day) => {
                    let expires = day.parse::<jiff::civil::Date>().unwrap() + jiff::Span::new().days(60);
                    license_expiry_answer(&format!("{expires}T23:59:59"))
                }
                None => LICENSE_EXPIRY.to_vec(),
            },
            orders: sample_orders(&on_day(GET_ORDER, day.as_deref())),
            scripted: HashMap::new(),
            counts: HashMap::new(),
            searches: Vec::new(),
            get_batches: Vec::new(),
            lagging: HashSet::new(),
            sub_status_list: GET_SUB_STATUS_LIST.to_vec(),
            sub_status_writes: Vec::new(),
            memo_writes: Vec::new(),
            cancels: Vec::new(),
        }));
        let app = Router::new()
            .route("/es/2.0/order/searchOrder/", post(search_order))
            .route("/es/2.0/order/getOrder/", post(get_order))
            .route("/es/2.0/order/getSubStatusList/", post(get_sub_status_list))
            .route("/es/2.0/order/updateOrderSubStatus/", post(update_order_sub_status))
            .route("/es/2.0/order/updateOrderMemo/", post(update_order_memo))
            .route("/es/2.0/order/cancelOrder/", post(cancel_order))
            .route(
                "/es/1.0/license-management/license-key/expiry-date",
                get(license_expiry),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeRms {
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
    pub fn credentials() -> RakutenCredentials {
        RakutenCredentials {
            service_secret: SecretString::from(SERVICE_SECRET),
            license_key: SecretString::from(LICENSE_KEY),
        }
    }

    /// Options reading from the fake, with short timeouts.
    pub fn options(&self) -> RakutenOptions {
        RakutenOptions {
            base_url: self.url.clone(),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
            ..RakutenOptions::default()
        }
    }

    /// [`FakeRms::options`] with the sample's sub-status [`HOLD_SUB_STATUS`] for holds.
    pub fn options_with_hold(&self) -> RakutenOptions {
        RakutenOptions {
            hold_sub_status: Some(HOLD_SUB_STATUS.to_owned()),
            ..self.options()
        }
    }

    /// A feed of [`SHOP`] acting at the fake with [`FakeRms::options_with_hold`]: it holds, releases and
    /// cancels.
    pub fn acting_feed(&self) -> RakutenFeed {
        self.feed_with(FakeRms::credentials(), self.options_with_hold())
    }

    /// A feed of [`SHOP`] reading from the fake with `options` and `credentials`.
    pub fn feed_with(&self, credentials: RakutenCredentials, options: RakutenOptions) -> RakutenFeed {
        RakutenFeed::new(ShopId::parse(SHOP).unwrap(), credentials, options).unwrap()
    }

    /// A feed of [`SHOP`] reading from the fake with the right credentials and [`FakeRms::options`].
    pub fn feed(&self) -> RakutenFeed {
        self.feed_with(FakeRms::credentials(), self.options())
    }

    /// The next request to `endpoint` gets `answer` (after the ones scripted before it).
    pub fn answer_once(&self, endpoint: Endpoint, answer: Answer) {
        self.inner().scripted.entry(endpoint).or_default().push_back(answer);
    }

    /// From now on the licence-expiry API answers `at` (RMS's offset-less JST, `2026-12-03T23:59:59`).
    pub fn license_expires(&self, at: &str) {
        self.inner().license_expiry = license_expiry_answer(at);
    }

    /// From now on every request gets the gateway's 401, as after the licenseKey's 90 days.
    pub fn expire_key(&self) {
        self.inner().key_expired = true;
    }

    /// The 山田 order becomes its cancelled version (`getOrder-cancelled.json`).
    pub fn cancel_yamada(&self) {
        let cancelled = sample_orders(&on_day(GET_ORDER_CANCELLED, self.day.as_deref()))
            .remove(YAMADA)
            .unwrap();
        self.inner().orders.insert(YAMADA.to_owned(), cancelled);
    }

    /// Order `number` (a sample's or one of [`FakeRms::add_orders`]) gets `orderProgress` `progress`: 900
    /// キャンセル確定 cancels it, 800 キャンセル確定待ち only asks for its cancellation, 500 発送後 ships it.
    pub fn set_progress(&self, number: &str, progress: u64) {
        self.inner().set_field(number, "orderProgress", &json!(progress));
    }

    /// Order `number` gets the sub-status `id` (and its name from the sub-status list, when listed), or
    /// none.
    pub fn set_sub_status(&self, number: &str, id: Option<u64>) {
        let mut inner = self.inner();
        let name = id.and_then(|id| inner.sub_status_name(id));
        inner.set_field(number, "subStatusId", &json!(id));
        inner.set_field(number, "subStatusName", &json!(name));
    }

    /// Order `number` gets the ひとことメモ `memo` (None: `null`), as the shop might have written it.
    pub fn set_memo(&self, number: &str, memo: Option<&str>) {
        self.inner().set_field(number, "memo", &json!(memo));
    }

    /// From now on getSubStatusList answers `answer` (a shop without mallguard's sub-status, say).
    pub fn set_sub_status_list(&self, answer: &[u8]) {
        self.inner().sub_status_list = answer.to_vec();
    }

    /// What a write would read of order `number` now: its progress, sub-status and memo.
    pub fn write_state(&self, number: &str) -> rakuten::OrderWriteState {
        rakuten::order_write_state(&self.inner().orders[number].raw).unwrap()
    }

    /// Every updateOrderSubStatus request the fake answered (not the scripted or refused ones).
    pub fn sub_status_writes(&self) -> Vec<SubStatusWrite> {
        self.inner().sub_status_writes.clone()
    }

    /// Every updateOrderMemo request the fake answered (not the scripted or refused ones).
    pub fn memo_writes(&self) -> Vec<MemoWrite> {
        self.inner().memo_writes.clone()
    }

    /// Every cancelOrder request the fake answered (not the scripted or refused ones).
    pub fn cancels(&self) -> Vec<CancelSeen> {
        self.inner().cancels.clone()
    }

    /// Order `number` is cancelled at Rakuten (`orderProgress` 900 and nothing else changed; the 山田 order
    /// has its own recorded cancellation, [`FakeRms::cancel_yamada`]).
    pub fn cancel(&self, number: &str) {
        self.set_progress(number, 900);
    }

    /// searchOrder lists order `number` but getOrder does not find it (RMS is eventually consistent) until
    /// [`FakeRms::catch_up`].
    pub fn lag(&self, number: &str) {
        self.inner().lagging.insert(number.to_owned());
    }

    /// getOrder finds every order again.
    pub fn catch_up(&self) {
        self.inner().lagging.clear();
    }

    /// Order `number` gets an order time that is none (`"yesterday 2026-…"`): getOrder then serves an
    /// order the parser cannot read, which the search still lists.
    pub fn corrupt(&self, number: &str) {
        let mut inner = self.inner();
        let order = inner.orders.get_mut(number).unwrap();
        let text = String::from_utf8(order.raw.clone()).unwrap();
        let corrupted = text.replacen("\"orderDatetime\": \"", "\"orderDatetime\": \"yesterday ", 1);
        assert_ne!(corrupted, text);
        order.raw = corrupted.into_bytes();
    }

    /// Order `number` gets an `orderProgress` that is none (`"?"`) in the bytes getOrder serves, while the
    /// search still lists it by the progress it had: an unreadable order whose progress cannot be read
    /// either.
    pub fn corrupt_progress(&self, number: &str) {
        let mut inner = self.inner();
        let order = inner.orders.get_mut(number).unwrap();
        order.raw = with_field(&order.raw, "orderProgress", &json!("?"));
    }

    /// `count` copies of the 山田 order with numbers of their own (`386193-20261123-0000100000`, …) and
    /// order times `first`, `first + spacing`, …; their numbers in that order.
    pub fn add_orders(&self, count: usize, first: Timestamp, spacing: SignedDuration) -> Vec<String> {
        let sample = on_day(GET_ORDER, self.day.as_deref());
        let template = String::from_utf8(sample_orders(&sample).remove(YAMADA).unwrap().raw).unwrap();
        let mut inner = self.inner();
        (0..count)
            .map(|i| {
                let number = format!("386193-20261123-{:010}", 100_000 + i);
                let placed_at = first + spacing * i32::try_from(i).unwrap();
                let raw = template.replacen(YAMADA, &number, 1).replacen(
                    "2026-11-23T12:00:00+0900",
                    &rakuten::api_datetime(placed_at),
                    1,
                );
                inner
                    .orders
                    .insert(number.clone(), FakeOrder::new(placed_at, raw.into_bytes()));
                number
            })
            .collect()
    }

    /// How many requests `endpoint` received, answered or not.
    pub fn requests(&self, endpoint: Endpoint) -> u32 {
        self.inner().counts.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every searchOrder request the fake answered with orders or none (not the scripted or refused ones).
    pub fn searches(&self) -> Vec<SearchSeen> {
        self.inner().searches.clone()
    }

    /// The order numbers of every getOrder request the fake answered, a list per request.
    pub fn get_batches(&self) -> Vec<Vec<String>> {
        self.inner().get_batches.clone()
    }
}

/// What a handler answers, worked out under the lock and sent after it.
enum Reply {
    Now {
        status: u16,
        body: Vec<u8>,
        retry_after: Option<String>,
    },
    Hang,
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Reply {
        match answer {
            Answer::Status {
                status,
                body,
                retry_after,
            } => Reply::Now {
                status,
                body,
                retry_after,
            },
            Answer::Hang => Reply::Hang,
        }
    }
}

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Reply::Now {
        status,
        body: body.into(),
        retry_after: None,
    }
}

async fn send(reply: Reply) -> Response {
    match reply {
        Reply::Hang => std::future::pending().await,
        Reply::Now {
            status,
            body,
            retry_after,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=utf-8"),
            );
            if let Some(retry_after) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_str(&retry_after).unwrap());
            }
            response
        }
    }
}

async fn search_order(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().search_order(&headers, &body);
    send(reply).await
}

async fn get_order(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().get_order(&headers, &body);
    send(reply).await
}

async fn get_sub_status_list(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let reply = state.lock().unwrap().get_sub_status_list(&headers);
    send(reply).await
}

async fn update_order_sub_status(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().update_order_sub_status(&headers, &body);
    send(reply).await
}

async fn update_order_memo(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().update_order_memo(&headers, &body);
    send(reply).await
}

async fn cancel_order(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().cancel_order(&headers, &body);
    send(reply).await
}

async fn license_expiry(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let reply = state.lock().unwrap().license_expiry(&headers, &query);
    send(reply).await
}

/// A refusal in the order API's shape (the code is the fake's own where RMS's is not documented).
fn refusal(method: &str, code: &str, text: &str) -> Vec<u8> {
    let list = if method == "SEARCH" {
        "orderNumberList"
    } else {
        "OrderModelList"
    };
    serde_json::to_vec(&json!({
        list: null,
        "MessageModelList": [{
            "messageType": "ERROR",
            "messageCode": format!("ORDER_EXT_API_{method}_ORDER_ERROR_{code}"),
            "message": text,
        }],
    }))
    .unwrap()
}

/// The message of `sample` with `code`, about `number`: the recorded shape and text, for another order.
fn sample_message(sample: &[u8], code: &str, number: &str) -> Value {
    let answer: Value = serde_json::from_slice(sample).unwrap();
    let mut message = answer["MessageModelList"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["messageCode"] == code)
        .unwrap_or_else(|| panic!("no {code} in the sample"))
        .clone();
    message["orderNumber"] = json!(number);
    message
}

/// A per-order message in the write APIs' shape.
fn order_message(kind: &str, code: &str, text: &str, number: &str) -> Value {
    json!({ "messageType": kind, "messageCode": code, "message": text, "orderNumber": number })
}

/// A write answer: `MessageModelList` only, as the samples have it.
fn messages(list: Vec<Value>) -> Reply {
    reply(200, serde_json::to_vec(&json!({ "MessageModelList": list })).unwrap())
}

/// A write refused as a whole: one ERROR naming no order (`…_ERROR_009`, a required field missing).
fn refused_write(code: &str, text: &str) -> Reply {
    reply(
        400,
        serde_json::to_vec(&json!({
            "MessageModelList": [{ "messageType": "ERROR", "messageCode": code, "message": text }],
        }))
        .unwrap(),
    )
}

/// `raw` (an OrderModel's JSON text) with the scalar value of its first field `key` replaced by `value`;
/// the rest of the bytes stay as they are.
fn with_field(raw: &[u8], key: &str, value: &Value) -> Vec<u8> {
    let text = std::str::from_utf8(raw).expect("an order in UTF-8");
    let pattern = format!("\"{key}\"");
    let at = text.find(&pattern).unwrap_or_else(|| panic!("no {key} in the order"));
    let bytes = text.as_bytes();
    let mut start = at + pattern.len();
    while bytes[start].is_ascii_whitespace() || bytes[start] == b':' {
        start += 1;
    }
    let mut end = start;
    if bytes[start] == b'"' {
        end += 1;
        while bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        end += 1;
    } else {
        while end < bytes.len() && !matches!(bytes[end], b',' | b'}' | b']') && !bytes[end].is_ascii_whitespace() {
            end += 1;
        }
    }
    let changed = format!("{}{}{}", &text[..start], value, &text[end..]);
    serde_json::from_str::<Value>(&changed).expect("still JSON");
    changed.into_bytes()
}

/// A time as RMS takes it, `2026-11-23T12:00:00+0900` and nothing else.
fn rms_time(value: &Value) -> Option<Timestamp> {
    let text = value.as_str()?;
    if text.len() != 24 || !text.ends_with("+0900") {
        return None;
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", text)
        .ok()?
        .to_timestamp()
        .ok()
}

impl Inner {
    /// Counts the request, then gives the scripted answer or the gateway's verdict on the credentials.
    fn gate(&mut self, endpoint: Endpoint, headers: &HeaderMap) -> Option<Reply> {
        *self.counts.entry(endpoint).or_default() += 1;
        if let Some(answer) = self.scripted.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            return Some(answer.into());
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if self.key_expired || authorization != Some(self.authorization.as_str()) {
            return Some(reply(401, ERROR_UNAUTHORIZED));
        }
        if endpoint != Endpoint::LicenseExpiry
            && headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(rakuten::CONTENT_TYPE)
        {
            return Some(reply(
                415,
                br#"{"Results":{"errorCode":"ES04-03","message":"Unsupported Media Type"}}"#.to_vec(),
            ));
        }
        None
    }

    fn search_order(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(reply) = self.gate(Endpoint::SearchOrder, headers) {
            return reply;
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return reply(400, SEARCH_ORDER_INVALID);
        };
        let (Some(1), Some(start), Some(end)) = (
            request["dateType"].as_u64(),
            rms_time(&request["startDatetime"]),
            rms_time(&request["endDatetime"]),
        ) else {
            return reply(400, SEARCH_ORDER_INVALID);
        };
        if end < start || end.duration_since(start) > SignedDuration::from_hours(24 * 63) {
            return reply(
                400,
                refusal("SEARCH", "901", "検索期間は63日以内で指定して下さい。(fake)"),
            );
        }
        let progress: Option<Vec<u64>> = match &request["orderProgressList"] {
            Value::Null => Some(Vec::new()),
            Value::Array(list) if !list.is_empty() => list
                .iter()
                .map(|p| p.as_u64().filter(|p| PROGRESS.contains(p)))
                .collect(),
            _ => None,
        };
        let Some(progress) = progress else {
            return reply(400, refusal("SEARCH", "903", "orderProgressListの値が不正です。(fake)"));
        };
        let pagination = &request["PaginationRequestModel"];
        let per_page = pagination["requestRecordsAmount"].as_u64().unwrap_or(0);
        let page = pagination["requestPage"].as_u64().unwrap_or(0);
        if !(1..=1000).contains(&per_page) || page == 0 {
            return reply(
                400,
                refusal("SEARCH", "902", "PaginationRequestModelの値が不正です。(fake)"),
            );
        }
        self.searches.push(SearchSeen {
            start: request["startDatetime"].as_str().unwrap().to_owned(),
            end: request["endDatetime"].as_str().unwrap().to_owned(),
            progress: progress.clone(),
            page,
            per_page,
        });
        let mut found: Vec<(Timestamp, &String)> = self
            .orders
            .iter()
            .filter(|(_, order)| (start..=end).contains(&order.placed_at))
            .filter(|(_, order)| progress.is_empty() || progress.contains(&order.progress))
            .map(|(number, order)| (order.placed_at, number))
            .collect();
        if found.is_empty() {
            return reply(200, SEARCH_ORDER_EMPTY);
        }
        found.sort();
        let total = found.len() as u64;
        let numbers: Vec<&String> = found
            .iter()
            .skip(usize::try_from((page - 1) * per_page).unwrap())
            .take(usize::try_from(per_page).unwrap())
            .map(|(_, number)| *number)
            .collect();
        let answer = json!({
            "orderNumberList": numbers,
            "MessageModelList": [{
                "messageType": "INFO",
                "messageCode": "ORDER_EXT_API_SEARCH_ORDER_INFO_101",
                "message": "注文検索に成功しました。",
            }],
            "PaginationResponseModel": {
                "totalRecordsAmount": total,
                "totalPages": total.div_ceil(per_page),
                "requestPage": page,
            },
        });
        reply(200, serde_json::to_vec(&answer).unwrap())
    }

    fn get_order(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(reply) = self.gate(Endpoint::GetOrder, headers) {
            return reply;
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return reply(400, refusal("GET", "009", "orderNumberListの項目を指定してください。"));
        };
        if request["version"].as_u64().is_none() {
            return reply(400, refusal("GET", "009", "versionの項目を指定して下さい。"));
        }
        let numbers: Option<Vec<String>> = request["orderNumberList"]
            .as_array()
            .and_then(|list| list.iter().map(|n| n.as_str().map(str::to_owned)).collect());
        let Some(numbers) = numbers.filter(|n| (1..=100).contains(&n.len())) else {
            return reply(400, refusal("GET", "009", "orderNumberListの項目を指定してください。"));
        };
        self.get_batches.push(numbers.clone());
        let mut messages = vec![json!({
            "messageType": "INFO",
            "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_101",
            "message": "受注情報取得に成功しました。",
        })];
        let mut orders: Vec<&[u8]> = Vec::new();
        for number in &numbers {
            match self.orders.get(number).filter(|_| !self.lagging.contains(number)) {
                Some(order) => orders.push(&order.raw),
                None => messages.push(json!({
                    "messageType": "INFO",
                    "messageCode": "ORDER_EXT_API_GET_ORDER_INFO_102",
                    "message": "受注情報が取得できませんでした。",
                    "orderNumber": number,
                })),
            }
        }
        // The orders' own bytes, as RMS wrote them, between the answer's other keys.
        let mut answer = b"{\"MessageModelList\":".to_vec();
        answer.extend(serde_json::to_vec(&messages).unwrap());
        answer.extend_from_slice(b",\"OrderModelList\":[\n");
        answer.extend(orders.join(b",\n".as_slice()));
        answer.extend_from_slice(b"\n],\"version\":10}");
        reply(200, answer)
    }

    /// Order `number` with its field `key` set to `value` (its progress kept in step).
    fn set_field(&mut self, number: &str, key: &str, value: &Value) {
        let order = self
            .orders
            .get_mut(number)
            .unwrap_or_else(|| panic!("no order {number}"));
        order.raw = with_field(&order.raw, key, value);
        if key == "orderProgress" {
            order.progress = value.as_u64().expect("a progress");
        }
    }

    fn sub_statuses(&self) -> Vec<rakuten::SubStatus> {
        rakuten::parse_sub_status_list(&self.sub_status_list)
            .map(|list| list.sub_statuses)
            .unwrap_or_default()
    }

    fn sub_status_name(&self, id: u64) -> Option<String> {
        self.sub_statuses()
            .into_iter()
            .find(|s| u64::from(s.id) == id)
            .map(|s| s.name)
    }

    fn get_sub_status_list(&mut self, headers: &HeaderMap) -> Reply {
        if let Some(reply) = self.gate(Endpoint::GetSubStatusList, headers) {
            return reply;
        }
        reply(200, self.sub_status_list.clone())
    }

    fn update_order_sub_status(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(reply) = self.gate(Endpoint::UpdateOrderSubStatus, headers) {
            return reply;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let sub_status_id = match request.get("subStatusId") {
            Some(Value::Null) => None,
            Some(id) => match id.as_u64() {
                Some(id) => Some(id),
                None => return reply(400, UPDATE_ORDER_SUB_STATUS_INVALID),
            },
            None => return reply(400, UPDATE_ORDER_SUB_STATUS_INVALID),
        };
        let numbers: Option<Vec<String>> = request["orderNumberList"]
            .as_array()
            .and_then(|list| list.iter().map(|n| n.as_str().map(str::to_owned)).collect());
        let Some(numbers) = numbers.filter(|n| (1..=100).contains(&n.len())) else {
            return reply(400, UPDATE_ORDER_SUB_STATUS_INVALID);
        };
        self.sub_status_writes.push(SubStatusWrite {
            sub_status_id,
            order_numbers: numbers.clone(),
        });
        let listed = self.sub_statuses();
        let mut list = Vec::new();
        for number in &numbers {
            let Some(progress) = self.orders.get(number).map(|o| o.progress) else {
                list.push(order_message(
                    "ERROR",
                    "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_900",
                    "指定された注文番号が存在しません。(fake)",
                    number,
                ));
                continue;
            };
            let fits = sub_status_id.is_none_or(|id| {
                listed
                    .iter()
                    .any(|s| u64::from(s.id) == id && u64::from(s.order_progress) == progress)
            });
            if progress == 900 {
                list.push(sample_message(
                    UPDATE_ORDER_SUB_STATUS_PARTIAL,
                    "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_101",
                    number,
                ));
            } else if !fits {
                list.push(order_message(
                    "ERROR",
                    "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_102",
                    "指定された注文番号、サブステータスでは更新できません。",
                    number,
                ));
            } else {
                let name = sub_status_id.and_then(|id| self.sub_status_name(id));
                self.set_field(number, "subStatusId", &json!(sub_status_id));
                self.set_field(number, "subStatusName", &json!(name));
                list.push(sample_message(
                    UPDATE_ORDER_SUB_STATUS,
                    "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_INFO_101",
                    number,
                ));
            }
        }
        messages(list)
    }

    fn update_order_memo(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(reply) = self.gate(Endpoint::UpdateOrderMemo, headers) {
            return reply;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(number) = request["orderNumber"].as_str().map(str::to_owned) else {
            return refused_write(
                "ORDER_EXT_API_UPDATE_ORDERMEMO_ERROR_009",
                "orderNumberの項目を指定して下さい。",
            );
        };
        let memo = match request.get("memo") {
            None | Some(Value::Null) => None,
            Some(Value::String(memo)) if memo.chars().count() <= 1000 => Some(memo.clone()),
            Some(_) => {
                return refused_write(
                    "ORDER_EXT_API_UPDATE_ORDERMEMO_ERROR_901",
                    "memoは1000文字以内で指定して下さい。(fake)",
                );
            }
        };
        self.memo_writes.push(MemoWrite {
            order_number: number.clone(),
            memo: memo.clone(),
        });
        if !self.orders.contains_key(&number) {
            return messages(vec![order_message(
                "ERROR",
                "ORDER_EXT_API_UPDATE_ORDERMEMO_ERROR_900",
                "指定された注文番号が存在しません。(fake)",
                &number,
            )]);
        }
        if request.get("memo").is_some() {
            self.set_field(&number, "memo", &json!(memo));
        }
        messages(vec![sample_message(
            UPDATE_ORDER_MEMO,
            "ORDER_EXT_API_UPDATE_ORDERMEMO_INFO_101",
            &number,
        )])
    }

    fn cancel_order(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(reply) = self.gate(Endpoint::CancelOrder, headers) {
            return reply;
        }
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let (Some(number), Some(restore), Some(reason)) = (
            request["orderNumber"].as_str().map(str::to_owned),
            request["inventoryRestoreType"].as_u64().filter(|t| *t <= 2),
            request["changeReasonDetailApply"]
                .as_u64()
                .filter(|r| CANCEL_REASONS.contains(r)),
        ) else {
            return refused_write(
                "ORDER_EXT_API_CANCEL_ORDER_ERROR_009",
                "orderNumber、inventoryRestoreType、changeReasonDetailApplyの項目を指定して下さい。(fake)",
            );
        };
        self.cancels.push(CancelSeen {
            order_number: number.clone(),
            inventory_restore_type: restore,
            change_reason_detail_apply: reason,
        });
        let Some(progress) = self.orders.get(&number).map(|o| o.progress) else {
            return messages(vec![order_message(
                "ERROR",
                "ORDER_EXT_API_CANCEL_ORDER_ERROR_901",
                "指定された注文番号が存在しません。(fake)",
                &number,
            )]);
        };
        if !rakuten::CANCELLABLE_PROGRESS.iter().any(|p| u64::from(*p) == progress) {
            return messages(vec![order_message(
                "ERROR",
                "ORDER_EXT_API_CANCEL_ORDER_ERROR_900",
                &format!("orderProgress {progress} の注文はキャンセル申請できません。(fake)"),
                &number,
            )]);
        }
        self.set_field(&number, "orderProgress", &json!(800));
        messages(vec![sample_message(
            CANCEL_ORDER,
            "ORDER_EXT_API_CANCEL_ORDER_INFO_101",
            &number,
        )])
    }

    fn license_expiry(&mut self, headers: &HeaderMap, query: &HashMap<String, String>) -> Reply {
        if let Some(reply) = self.gate(Endpoint::LicenseExpiry, headers) {
            return reply;
        }
        if query.get("licenseKey").map(String::as_str) != Some(LICENSE_KEY) {
            return reply(401, ERROR_UNAUTHORIZED);
        }
        reply(200, self.license_expiry.clone())
    }
}
