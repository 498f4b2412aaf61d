//! Rakuten Ichiba (楽天市場): the RMS 楽天ペイ受注API (RakutenPayOrderAPI), which pushes nothing, so a poller
//! (built elsewhere) asks it: `searchOrder` for the order numbers of a time window, then `getOrder` for up
//! to 100 orders at a time. This module is the pure part of that: the request bodies and the
//! `Authorization` header, the parsing of both answers into canonical [`Order`]s, and a classification of
//! error answers ([`Failure`]) so the poller can decide what to retry. No IO and no clock.
//!
//! Field names, formats and codes follow the copies of the official RMS pages cited in
//! `/work/research/rakuten.md` (searchOrder, getOrder up to version 10, the ESA authentication page).
//! What those do not settle is said where it is decided: the gateway's error codes (ES01-01, GA0001), the
//! throttling answer of the JSON API, and the licence-expiry response, which comes from client libraries
//! and one measured response rather than an official page.
//!
//! # Mapping of an OrderModel
//!
//! - order id: `orderNumber` (`386193-20261123-0000012345`). The buyer knows the order by the same number,
//!   so the order's `number` stays None.
//! - placed_at: `orderDatetime`, JST with an offset without a colon (`2026-11-23T12:00:00+0900`).
//! - buyer: `OrdererModel`: `familyName firstName` (`山田 太郎`), the kana likewise, the masked relay
//!   `emailAddress`, `phoneNumber1-2-3`, and `zipCode1-zipCode2`, `prefecture`, `city`, `subAddress` as the
//!   buyer's own address.
//! - ship_to: the `SenderModel` of the first `PackageModelList` entry (see [`parse_order`] on orders with
//!   several recipients), with its reading from `familyNameKana firstNameKana`.
//! - lines: every `ItemModelList` entry of every package: the product is `merchantDefinedSkuId`, else
//!   `itemNumber`, else `manageNumber`; `itemName`; `units`; `priceTaxIncl`, else `price`.
//! - delivery: `deliveryDate`; `shippingTerm` (`1416` is `14-16`); express when `asurakuFlag`,
//!   `deliveryCertPrgFlag` or `oneDayOperationFlag` is 1.
//! - gift: `giftCheckFlag` or `socialGiftFlag` is 1, or a wrapping (`WrappingModel1`/`2`), or a のし on a
//!   package.
//! - payment: `SettlementModel.settlementMethodCode` (2 代金引換 is cash on delivery), else the method's name.
//! - status: `orderProgress` 900 is cancelled; 500, 600 and 700 are shipped; anything else (800 included) is
//!   open.
//! - total: RMS's 総合計, `totalPrice − couponAllTotalPrice + deliveryPrice + paymentCharge +
//!   additionalFeeOccurAmountToUser`; None while any of them is `-9999` (未確定).
//!
//! # Writes: marking and cancelling a suspected duplicate
//!
//! The 楽天ペイ受注API has **no hold**: `orderProgress` has no held value, and the shop ships by itself. What
//! mallguard can do is mark the order so that the shop's own shipping flow skips it, and cancel it:
//!
//! - [`GET_SUB_STATUS_LIST_URL`] / [`parse_sub_status_list`]: the sub-statuses the shop created in RMS (one
//!   for mallguard, say 「mallguard保留」, per `orderProgress`; the API cannot create one).
//! - [`update_order_sub_status_request`]: set that sub-status on orders, or clear it (`null`) to release.
//! - [`update_order_memo_request`]: write the ひとことメモ (it replaces the whole memo: append to
//!   [`order_write_state`]'s `memo`).
//! - [`cancel_order_request`] with a typed [`InventoryRestoreType`] and [`CancelReason`]; only for
//!   `orderProgress` 100/200/300 ([`can_cancel_order`]).
//! - [`Failure::of_write`] then [`parse_write_answer`]: these APIs answer HTTP 200 with one
//!   `MessageModelList` entry per order, INFO and ERROR mixed, so each order gets its own [`WriteOutcome`].
//!
//! Sources for the writes (see `/work/research/actions.md` §3): markdown copies of the official
//! updateOrderSubStatus and updateOrderMemo pages (search-index ids 69458142403 and 69381593406, from an
//! unnamed repository; the RMS originals sit behind a login), for the fields, the 100-order and 1000-character
//! limits, `null` clearing a sub-status, the message codes and the mixed 200; JakeJP/Rakuten.RMS.Api
//! (`RakutenPayOrderService.cs`, `Models.cs`) for the getSubStatusList shape, the cancelOrder fields, its
//! `changeReasonDetailApply` codes and the progress values it accepts; a Scala client's cancelOrder fixture
//! (index id 44024821860) for the request and its `ORDER_EXT_API_CANCEL_ORDER_INFO_101` answer. Not verified:
//! cancelOrder's refusal codes and their HTTP status, the meaning of a WARNING entry, getSubStatusList's
//! message codes, and whether the memo replaces or appends (replace is assumed).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use mallguard_domain::ids::{Mall, OrderId, OrderRef, ProductKey, ShopId};
use mallguard_domain::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderLine, OrderLines, OrderStatus, PayloadDigest, PaymentMethod,
    PostalAddress, Quantity,
};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::{Amount, ParseError, PolledOrder, check_shape, decode, non_empty, null_as_default, string_only};

/// `searchOrder`: the order numbers of a time window, a page at a time.
pub const SEARCH_ORDER_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/searchOrder/";
/// `getOrder`: up to [`GET_ORDER_MAX_NUMBERS`] orders in full.
pub const GET_ORDER_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/getOrder/";
/// The licenseKey expiry API (GET, `?licenseKey=…`); see [`license_expiry_url`].
pub const LICENSE_EXPIRY_URL: &str = "https://api.rms.rakuten.co.jp/es/1.0/license-management/license-key/expiry-date";
/// The request header that carries [`authorization`].
pub const AUTHORIZATION_HEADER: &str = "Authorization";
/// The request `Content-Type`, exactly as the official pages write it (a live probe got 415 without the
/// charset).
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The getOrder `version` this parser reads: the newest the official page lists (10, ソーシャルギフト対応).
/// Older versions are being retired, and the page asks for the newest.
pub const GET_ORDER_VERSION: u32 = 10;
/// At most this many order numbers per getOrder call.
pub const GET_ORDER_MAX_NUMBERS: usize = 100;
/// At most this many order numbers per searchOrder page.
pub const SEARCH_MAX_PER_PAGE: u32 = 1000;
/// The longest searchOrder window: `endDatetime` within 63 days of `startDatetime`. The start must also lie
/// within the past 730 days, and only the first 15,000 results of one search can be paged through, so a
/// poller keeps its windows short.
pub const SEARCH_MAX_WINDOW_DAYS: i64 = 63;

/// The `-9999` RMS writes into an amount that is not fixed yet (未確定).
const NOT_FIXED: i64 = -9999;
/// Rakuten sells in yen only.
const CURRENCY: &str = "JPY";
/// Every `orderProgress` the official pages list, for searchOrder's `orderProgressList`.
const ALL_PROGRESS: [u32; 9] = [100, 200, 300, 400, 500, 600, 700, 800, 900];
/// `orderProgress` 900 キャンセル確定: the one progress that is a cancellation (800 キャンセル確定待ち is only a
/// request, which can still be withdrawn; see [`parse_order`]'s status), for
/// [`search_order_request_with_progress`].
pub const PROGRESS_CANCELLED: u32 = 900;
/// The longest message text kept from an error answer: it ends up in logs.
const MAX_TEXT: usize = 1024;

/// The `Authorization` header value: `ESA ` and the base64 of `serviceSecret:licenseKey` (the official
/// example: `aaa`, `bbb` → `ESA YWFhOmJiYg==`). It is as secret as the two keys: never log it.
pub fn authorization(service_secret: &str, license_key: &str) -> String {
    format!("ESA {}", STANDARD.encode(format!("{service_secret}:{license_key}")))
}

/// The URL of the licenseKey expiry API for `license_key` (percent-encoded), to GET with the same
/// `Authorization` header; read the answer with [`license_expiry`].
pub fn license_expiry_url(license_key: &str) -> String {
    let mut url = format!("{LICENSE_EXPIRY_URL}?licenseKey=");
    for b in license_key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// searchOrder's `dateType`: which date of the order the window applies to. The official list is complete:
/// there is no "updated since", so changes to known orders are found by fetching them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateType {
    /// 1: 注文日
    Ordered,
    /// 2: 注文確認日
    Confirmed,
    /// 3: 注文確定日
    Fixed,
    /// 4: 発送日
    Shipped,
    /// 5: 発送完了報告日
    ShippingReported,
    /// 6: 決済確定日
    PaymentFixed,
}

impl DateType {
    /// The number the API takes.
    pub fn code(self) -> u32 {
        match self {
            DateType::Ordered => 1,
            DateType::Confirmed => 2,
            DateType::Fixed => 3,
            DateType::Shipped => 4,
            DateType::ShippingReported => 5,
            DateType::PaymentFixed => 6,
        }
    }
}

/// Japan has one offset all year.
fn jst() -> TimeZone {
    TimeZone::fixed(Offset::constant(9))
}

/// A time as the API demands it: JST, whole seconds, and an offset without a colon
/// (`2026-11-23T12:00:00+0900`). `+09:00`, `Z`, fractions of a second and a space were all refused live.
pub fn api_datetime(at: Timestamp) -> String {
    at.to_zoned(jst()).strftime("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// The searchOrder request body for one page of the orders whose `date_type` date lies in `[from, to]`.
///
/// Every `orderProgress` is asked for (cancelled orders included), sorted by order time ascending, so that
/// orders placed while the poller pages through only add to the last page. `page` counts from 1 and
/// `per_page` is at most [`SEARCH_MAX_PER_PAGE`]; both are brought into range. The window is the caller's
/// to keep within [`SEARCH_MAX_WINDOW_DAYS`]: the API refuses a longer one, which [`Failure::of`] reads as
/// [`Failure::Invalid`].
pub fn search_order_request(
    date_type: DateType,
    from: Timestamp,
    to: Timestamp,
    page: u32,
    per_page: u32,
) -> serde_json::Value {
    search_order_request_with_progress(date_type, &ALL_PROGRESS, from, to, page, per_page)
}

/// The same as [`search_order_request`] for the orders whose `orderProgress` is one of `progress` only:
/// `&[PROGRESS_CANCELLED]` lists the cancelled orders of the window. An empty `progress` asks for every
/// `orderProgress`, as [`search_order_request`] does (an empty list is not a search for nothing).
pub fn search_order_request_with_progress(
    date_type: DateType,
    progress: &[u32],
    from: Timestamp,
    to: Timestamp,
    page: u32,
    per_page: u32,
) -> serde_json::Value {
    let progress = if progress.is_empty() {
        &ALL_PROGRESS[..]
    } else {
        progress
    };
    serde_json::json!({
        "dateType": date_type.code(),
        "startDatetime": api_datetime(from),
        "endDatetime": api_datetime(to),
        "orderProgressList": progress,
        "PaginationRequestModel": {
            "requestRecordsAmount": per_page.clamp(1, SEARCH_MAX_PER_PAGE),
            "requestPage": page.max(1),
            "SortModelList": [{ "sortColumn": 1, "sortDirection": 1 }],
        },
    })
}

/// The getOrder request body for `order_numbers`, at `version` (use [`GET_ORDER_VERSION`], the one
/// [`parse_get_order`] is written for).
///
/// # Panics
///
/// With more than [`GET_ORDER_MAX_NUMBERS`] numbers, which the API refuses: pass
/// `numbers.chunks(GET_ORDER_MAX_NUMBERS)`.
pub fn get_order_request(order_numbers: &[OrderId], version: u32) -> serde_json::Value {
    assert!(
        order_numbers.len() <= GET_ORDER_MAX_NUMBERS,
        "getOrder takes at most {GET_ORDER_MAX_NUMBERS} order numbers, not {}",
        order_numbers.len()
    );
    let numbers: Vec<&str> = order_numbers.iter().map(OrderId::as_str).collect();
    serde_json::json!({ "orderNumberList": numbers, "version": version })
}

/// One entry of a `MessageModelList`: every searchOrder and getOrder answer carries them, a 200 included
/// (`ORDER_EXT_API_GET_ORDER_INFO_102` names each order number that was not found). A gateway error
/// (`{"Results": {...}}`) is turned into one of these too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `INFO`, `WARNING` or `ERROR`.
    pub message_type: String,
    /// `ORDER_EXT_API_<METHOD>_<INFO|WARNING|ERROR>_<nnn>`, or a gateway code such as `ES01-01`.
    pub code: String,
    pub text: String,
    /// The order the message is about, when it is about one.
    pub order_number: Option<String>,
}

impl Message {
    pub fn is_error(&self) -> bool {
        self.message_type.eq_ignore_ascii_case("ERROR")
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)?;
        if let Some(number) = &self.order_number {
            write!(f, " ({number})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessage {
    #[serde(default, deserialize_with = "null_as_default")]
    message_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    message_code: String,
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default)]
    order_number: Option<String>,
}

impl WireMessage {
    fn to_message(&self) -> Message {
        Message {
            message_type: bounded(&self.message_type),
            code: bounded(&self.message_code),
            text: bounded(&self.message),
            order_number: non_empty(self.order_number.as_deref()).map(bounded),
        }
    }
}

fn bounded(text: &str) -> String {
    text.trim().chars().take(MAX_TEXT).collect()
}

/// The messages of a searchOrder or getOrder answer; an answer with an ERROR among them and no result is a
/// refusal, reported as the first ERROR with its place in the list.
fn messages_of(wire: &[WireMessage], has_result: bool) -> Result<Vec<Message>, ParseError> {
    let messages: Vec<Message> = wire.iter().map(WireMessage::to_message).collect();
    if !has_result && let Some((i, error)) = messages.iter().enumerate().find(|(_, m)| m.is_error()) {
        return Err(ParseError::field(
            &format!("MessageModelList[{i}]"),
            format_args!("the API refused the request: {error}"),
        ));
    }
    Ok(messages)
}

/// What the answer to a request says went wrong, for the poller to decide: [`Failure::Throttled`] and
/// [`Failure::Unavailable`] are worth a retry after a back-off; [`Failure::Unauthorized`] needs a person
/// (a new licenseKey, or the API enabled in RMS) and [`Failure::Invalid`] a fix of the request. Read it
/// from the HTTP status and the body with [`Failure::of`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// HTTP 401, or a gateway error of authentication: the licenseKey has expired (it lives 90 days) or is
    /// wrong, the serviceSecret is wrong, or 楽天ペイ受注API is not enabled for this key in RMS. Never retried.
    #[error(
        "Rakuten refused the credentials (HTTP {status}{}): renew the licenseKey, or check the serviceSecret \
         and that 楽天ペイ受注API is enabled in RMS",
        code_suffix(.code)
    )]
    Unauthorized { status: u16, code: Option<String> },
    /// Too many requests: HTTP 403 or 429, or a body naming `QPSLimit`/`AccessLimit`. Retry after a back-off.
    #[error("Rakuten throttled the request (HTTP {status})")]
    Throttled { status: u16 },
    /// The API refused the request itself (a 4xx, or a 200 with an ERROR message and no result): the
    /// messages say which field. A retry of the same request fails the same way.
    #[error("Rakuten refused the request (HTTP {status}){}", first_error(.messages))]
    Invalid { status: u16, messages: Vec<Message> },
    /// HTTP 5xx (503 is "過負荷やメンテナンス"), a timeout, or an answer that is no answer (1xx, 3xx). Retry
    /// after a back-off.
    #[error("Rakuten is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(", {c}")).unwrap_or_default()
}

fn first_error(messages: &[Message]) -> String {
    messages
        .iter()
        .find(|m| m.is_error())
        .or(messages.first())
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

/// Every shape an RMS error answer comes in, read leniently: an answer that does not fit is classified by
/// its status alone.
#[derive(Debug, Default, Deserialize)]
struct WireAnswer {
    /// The ESA gateway's own shape: `{"Results": {"errorCode": "ES01-01", "message": "Un-Authorised"}}`.
    #[serde(rename = "Results", default)]
    results: Option<WireResults>,
    #[serde(rename = "MessageModelList", default, deserialize_with = "null_as_default")]
    messages: Vec<WireMessage>,
    #[serde(rename = "OrderModelList", default, deserialize_with = "null_as_default")]
    orders: Vec<IgnoredAny>,
    #[serde(rename = "orderNumberList", default, deserialize_with = "null_as_default")]
    order_numbers: Vec<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResults {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl Failure {
    /// Classifies an answer of the order API (or of the licence-expiry API) by its HTTP status and body;
    /// None when it is not a failure. Pure, and safe on any body: one that is not JSON, or nested too deep,
    /// is judged by the status alone.
    ///
    /// - 401, or a gateway `Results.errorCode` starting `ES01` or `GA`, or `ES04-01` (the API is not enabled
    ///   in RMS), whatever the status: [`Unauthorized`](Failure::Unauthorized). Sources disagree on the code
    ///   an expired key gets (`ES01-01` in client code and a test mock, `GA0001` in one 2026 observation), so
    ///   no single code is relied on.
    /// - 403 or 429, or a non-2xx body naming `QPSLimit` or `AccessLimit`: [`Throttled`](Failure::Throttled).
    ///   How the JSON order API answers too many requests is not documented; 403 with `QPSLimit` is what the
    ///   official common definition of the older RMS APIs gives.
    /// - 5xx and 408: [`Unavailable`](Failure::Unavailable); so are 1xx and 3xx, which the API never sends.
    /// - Any other 4xx, and a 2xx whose messages hold an ERROR while it has no result (no order, no order
    ///   number) or that is a gateway error: [`Invalid`](Failure::Invalid).
    pub fn of(status: u16, body: &[u8]) -> Option<Failure> {
        let answer: WireAnswer = decode(body).unwrap_or_default();
        let gateway = answer.results.as_ref();
        let code = gateway.and_then(|r| non_empty(r.error_code.as_deref())).map(bounded);
        let auth_code = code
            .as_deref()
            .is_some_and(|c| c.starts_with("ES01") || c.starts_with("GA") || c == "ES04-01");
        if status == 401 || auth_code {
            return Some(Failure::Unauthorized { status, code });
        }
        let success = (200..300).contains(&status);
        let names_a_limit = !success
            && [b"QPSLimit".as_slice(), b"AccessLimit"]
                .iter()
                .any(|t| contains(body, t));
        if status == 403 || status == 429 || names_a_limit {
            return Some(Failure::Throttled { status });
        }
        if status >= 500 || status == 408 || status < 200 || (300..400).contains(&status) {
            return Some(Failure::Unavailable { status });
        }
        let mut messages: Vec<Message> = answer.messages.iter().map(WireMessage::to_message).collect();
        if let Some(results) = gateway {
            messages.push(Message {
                message_type: "ERROR".into(),
                code: code.clone().unwrap_or_default(),
                text: non_empty(results.message.as_deref()).map(bounded).unwrap_or_default(),
                order_number: None,
            });
        }
        let has_result = !answer.orders.is_empty() || !answer.order_numbers.is_empty();
        let refused = gateway.is_some() || (!has_result && messages.iter().any(Message::is_error));
        (!success || refused).then_some(Failure::Invalid { status, messages })
    }

    /// Whether the same request may succeed later: throttling and unavailability pass, bad credentials and
    /// bad requests do not.
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Throttled { .. } | Failure::Unavailable { .. })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One page of a searchOrder answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// The order numbers on this page, in the order the API listed them.
    pub order_numbers: Vec<OrderId>,
    /// None when the search found nothing: the API then writes null into all three numbers.
    pub pagination: Option<Pagination>,
    /// Every message of the answer (`ORDER_EXT_API_SEARCH_ORDER_INFO_101` on success).
    pub messages: Vec<Message>,
}

/// searchOrder's `PaginationResponseModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    /// `totalRecordsAmount`
    pub total_records: u64,
    /// `totalPages`
    pub total_pages: u32,
    /// `requestPage`: this page, from 1.
    pub page: u32,
}

impl SearchPage {
    /// The page to ask for next, None after the last one.
    pub fn next_page(&self) -> Option<u32> {
        self.pagination.filter(|p| p.page < p.total_pages).map(|p| p.page + 1)
    }
}

#[derive(Debug, Deserialize)]
struct WireSearchAnswer {
    #[serde(rename = "MessageModelList", default)]
    messages: Option<Vec<WireMessage>>,
    #[serde(rename = "orderNumberList", default, deserialize_with = "null_as_default")]
    order_numbers: Vec<WireOrderNumber>,
    #[serde(rename = "PaginationResponseModel", default)]
    pagination: Option<WirePagination>,
}

#[derive(Debug)]
struct WireOrderNumber(String);

impl<'de> Deserialize<'de> for WireOrderNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        string_only(deserializer).map(WireOrderNumber)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePagination {
    #[serde(default)]
    total_records_amount: Option<u64>,
    #[serde(default)]
    total_pages: Option<u32>,
    #[serde(default)]
    request_page: Option<u32>,
}

/// Parses a searchOrder answer into its order numbers, its pagination and its messages.
///
/// The error is for a body that is not a searchOrder answer at all (not JSON, nested too deep, no
/// `MessageModelList`), for an order number that is not one, and for an answer that refuses the request (an
/// ERROR message and no order number): classify such a body with [`Failure::of`] instead.
pub fn parse_search_order(response: &[u8]) -> Result<SearchPage, ParseError> {
    let answer: WireSearchAnswer = decode(response)?;
    let Some(wire_messages) = answer.messages else {
        return Err(not_an_answer("searchOrder"));
    };
    let messages = messages_of(&wire_messages, !answer.order_numbers.is_empty())?;
    let order_numbers = answer
        .order_numbers
        .iter()
        .enumerate()
        .map(|(i, number)| {
            OrderId::parse(&number.0).map_err(|e| ParseError::field(&format!("orderNumberList[{i}]"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pagination = answer.pagination.and_then(|p| {
        Some(Pagination {
            total_records: p.total_records_amount?,
            total_pages: p.total_pages?,
            page: p.request_page?,
        })
    });
    Ok(SearchPage {
        order_numbers,
        pagination,
        messages,
    })
}

fn not_an_answer(method: &str) -> ParseError {
    ParseError::Invalid(format!(
        "not a {method} answer: it has no MessageModelList (an error body? classify it with rakuten::Failure::of)"
    ))
}

#[derive(Debug, Deserialize)]
struct WireGetAnswer {
    #[serde(rename = "MessageModelList", default)]
    messages: Option<Vec<WireMessage>>,
    /// Counted and type-checked here; each order is read from its own bytes.
    #[serde(rename = "OrderModelList", default, deserialize_with = "null_as_default")]
    orders: Vec<IgnoredAny>,
}

/// Parses a getOrder answer into one [`PolledOrder`] per `OrderModelList` entry, in the API's order.
///
/// Each entry carries the exact bytes of that OrderModel as the API sent them (a slice of `response`, not a
/// re-serialisation, which would reorder its keys), so the evidence and a replay through [`parse_order`]
/// hold exactly that order's data and nothing of the other orders; the order's payload digest is of those
/// bytes. An entry that cannot be understood comes back as its bytes and the reason, whose field path
/// starts at the list (`OrderModelList[1].OrdererModel.zipCode1: …`), and the other entries still parse.
///
/// The outer error is for a body that is not a getOrder answer at all (not JSON, nested too deep, no
/// `MessageModelList`, an `OrderModelList` that is not a list) or one that refuses the request (an ERROR
/// message and no order): classify such a body with [`Failure::of`]. Order numbers that were not found are
/// only INFO messages (`ORDER_EXT_API_GET_ORDER_INFO_102`), so asking for them alone gives an empty list.
pub fn parse_get_order(response: &[u8], shop: &ShopId) -> Result<Vec<PolledOrder>, ParseError> {
    let answer: WireGetAnswer = decode(response)?;
    let Some(wire_messages) = answer.messages else {
        return Err(not_an_answer("getOrder"));
    };
    messages_of(&wire_messages, !answer.orders.is_empty())?;
    let elements = array_elements(response, "OrderModelList");
    if elements.len() != answer.orders.len() {
        return Err(ParseError::field(
            "OrderModelList",
            format_args!(
                "{} orders were read but {} delimited",
                answer.orders.len(),
                elements.len()
            ),
        ));
    }
    Ok(elements
        .into_iter()
        .enumerate()
        .map(|(i, element)| {
            let raw = element.to_vec();
            match parse_order_at(&raw, shop, &format!("OrderModelList[{i}]")) {
                Ok(order) => Ok((order, raw)),
                Err(e) => Err((raw, e)),
            }
        })
        .collect())
}

/// Parses one OrderModel (the bytes a [`PolledOrder`] keeps) into the canonical order of `shop`: what a
/// replay of a quarantined Rakuten order calls. Errors name the field from the OrderModel down
/// (`OrdererModel.emailAddress: …`).
///
/// An order with several recipients (`severalSenderFlag`, one PackageModel each, typically gifts) is still
/// one order: its lines are those of every package, and its ship-to is the first package's recipient, the
/// one RMS lists first. Choosing the package with the most items instead would only trade one arbitrary
/// pick for another, and a rule that depends on counts changes when the shop edits a package. A social gift
/// whose recipient has not entered an address yet has Rakuten's placeholders there ("入力待ち", 999-9999);
/// its ship-to is left empty, so the placeholders never tie two buyers together.
pub fn parse_order(raw_order: &[u8], shop: &ShopId) -> Result<Order, ParseError> {
    parse_order_at(raw_order, shop, "")
}

fn parse_order_at(raw: &[u8], shop: &ShopId, at: &str) -> Result<Order, ParseError> {
    decode_at::<WireOrder>(raw, at)?.into_order(raw, shop, at)
}

/// [`decode`], with the field paths of its errors starting at `at`.
fn decode_at<T: DeserializeOwned>(raw: &[u8], at: &str) -> Result<T, ParseError> {
    if at.is_empty() {
        return decode(raw);
    }
    match check_shape(raw) {
        Err(ParseError::NotObject(kind)) => {
            return Err(ParseError::field(at, format_args!("must be an object, not {kind}")));
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    crate::decode_shaped(raw, |path| join(at, path))
}

/// `at.field`, `at[0]`, or whichever of the two is not empty.
fn join(at: &str, field: &str) -> String {
    match (at.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (_, true) => at.to_owned(),
        _ if field.starts_with('[') => format!("{at}{field}"),
        _ => format!("{at}.{field}"),
    }
}

/// The exact bytes of each element of the array under `key` of the top-level object of `raw`, which
/// [`check_shape`] has passed (one JSON object, bounded depth). One pass, no recursion.
fn array_elements<'a>(raw: &'a [u8], key: &str) -> Vec<&'a [u8]> {
    let mut elements = Vec::new();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut string_start = 0;
    // At depth 1, whether the next string is a key, and the last key read.
    let mut expect_key = false;
    let mut last_key: &[u8] = b"";
    let mut in_target = false;
    let mut element_start: Option<usize> = None;
    let is_key = |quoted: &[u8]| {
        if quoted.contains(&b'\\') {
            serde_json::from_slice::<String>(quoted).is_ok_and(|k| k == key)
        } else {
            quoted.strip_prefix(b"\"").and_then(|q| q.strip_suffix(b"\"")) == Some(key.as_bytes())
        }
    };
    for (i, &b) in raw.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => {
                    in_string = false;
                    if depth == 1 && expect_key {
                        last_key = &raw[string_start..=i];
                        expect_key = false;
                    }
                }
                _ => {}
            }
            continue;
        }
        if in_target && depth == 2 && element_start.is_none() && !b.is_ascii_whitespace() && !matches!(b, b',' | b']') {
            element_start = Some(i);
        }
        match b {
            b'"' => {
                in_string = true;
                string_start = i;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 {
                    expect_key = true;
                } else if depth == 2 && b == b'[' && is_key(last_key) {
                    in_target = true;
                }
            }
            b'}' | b']' => {
                if in_target && depth == 2 {
                    if let Some(start) = element_start.take() {
                        elements.push(raw[start..i].trim_ascii_end());
                    }
                    break;
                }
                depth = depth.saturating_sub(1);
            }
            b',' => {
                if depth == 1 {
                    expect_key = true;
                } else if in_target
                    && depth == 2
                    && let Some(start) = element_start.take()
                {
                    elements.push(raw[start..i].trim_ascii_end());
                }
            }
            _ => {}
        }
    }
    elements
}

/// One OrderModel: the fields mallguard reads. Every other field is ignored; nearly every one may be
/// absent or null (the API writes null where it has nothing, and lower versions lack the newer keys).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOrder {
    #[serde(deserialize_with = "string_only")]
    order_number: String,
    order_progress: u32,
    order_datetime: String,
    /// お届け日指定, `YYYY-MM-DD`.
    #[serde(default)]
    delivery_date: Option<String>,
    /// お届け時間帯: 0 none, 1 午前, 2 午後, 9 その他, else `h1h2` (`1416` is 14–16時).
    #[serde(default)]
    shipping_term: Option<u32>,
    #[serde(default)]
    gift_check_flag: Option<u8>,
    #[serde(default)]
    social_gift_flag: Option<u8>,
    /// あす楽希望
    #[serde(default)]
    asuraku_flag: Option<u8>,
    /// 最強翌日配送対象
    #[serde(default)]
    delivery_cert_prg_flag: Option<u8>,
    /// 1営業日以内出荷
    #[serde(default)]
    one_day_operation_flag: Option<u8>,
    #[serde(default)]
    total_price: Option<Amount>,
    #[serde(default)]
    coupon_all_total_price: Option<Amount>,
    #[serde(default)]
    delivery_price: Option<Amount>,
    #[serde(default)]
    payment_charge: Option<Amount>,
    #[serde(default)]
    additional_fee_occur_amount_to_user: Option<Amount>,
    #[serde(rename = "OrdererModel")]
    orderer: WirePerson,
    #[serde(rename = "SettlementModel", default)]
    settlement: Option<WireSettlement>,
    #[serde(rename = "WrappingModel1", default)]
    wrapping1: Option<WireWrapping>,
    #[serde(rename = "WrappingModel2", default)]
    wrapping2: Option<WireWrapping>,
    #[serde(rename = "PackageModelList", default, deserialize_with = "null_as_default")]
    packages: Vec<WirePackage>,
}

/// `OrdererModel` (the buyer) and `SenderModel` (a recipient, without an email) share these names. Zip
/// codes and phone numbers are strings: as numbers they would lose their leading zeros, so a number is
/// refused.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePerson {
    #[serde(default)]
    zip_code1: Option<String>,
    #[serde(default)]
    zip_code2: Option<String>,
    #[serde(default)]
    prefecture: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    sub_address: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    family_name_kana: Option<String>,
    #[serde(default)]
    first_name_kana: Option<String>,
    #[serde(default)]
    phone_number1: Option<String>,
    #[serde(default)]
    phone_number2: Option<String>,
    #[serde(default)]
    phone_number3: Option<String>,
    /// OrdererModel only: masked, a relay address at `pc.fw.rakuten.ne.jp`.
    #[serde(default)]
    email_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSettlement {
    /// 1 クレジットカード, 2 代金引換, 9 銀行振込, 12 Apple Pay, 13/14 コンビニ等（前払）, …
    #[serde(default)]
    settlement_method_code: Option<u32>,
    /// The method's name, `代金引換`.
    #[serde(default)]
    settlement_method: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireWrapping {
    #[serde(default)]
    delete_wrapping_flag: Option<u8>,
}

#[derive(Debug, Deserialize)]
struct WirePackage {
    #[serde(default)]
    noshi: Option<String>,
    /// The recipient (送付者モデル, despite the name).
    #[serde(rename = "SenderModel", default)]
    sender: Option<WirePerson>,
    #[serde(rename = "ItemModelList", default, deserialize_with = "null_as_default")]
    items: Vec<WireItem>,
    #[serde(rename = "SocialGiftModel", default)]
    social_gift: Option<WireSocialGift>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSocialGift {
    /// 0 while the recipient has not entered where the gift goes.
    #[serde(default)]
    input_flag: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireItem {
    #[serde(default)]
    item_name: Option<String>,
    /// 商品番号 (after the SKU migration the shop's number alone; before it, with the option ids).
    #[serde(default)]
    item_number: Option<String>,
    /// 商品管理番号, the item's URL name.
    #[serde(default)]
    manage_number: Option<String>,
    units: u32,
    #[serde(default)]
    price: Option<Amount>,
    #[serde(default)]
    price_tax_incl: Option<Amount>,
    #[serde(rename = "SkuModelList", default, deserialize_with = "null_as_default")]
    skus: Vec<WireSku>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSku {
    /// システム連携用SKU番号: the shop's own SKU, the code other malls know the product by.
    #[serde(default)]
    merchant_defined_sku_id: Option<String>,
}

impl WireOrder {
    fn into_order(self, raw: &[u8], shop: &ShopId, at: &str) -> Result<Order, ParseError> {
        let field = |name: &str| join(at, name);
        let order_id = OrderId::parse(&self.order_number).map_err(|e| ParseError::field(&field("orderNumber"), e))?;
        let placed_at = parse_api_datetime(&self.order_datetime).ok_or_else(|| {
            ParseError::field(
                &field("orderDatetime"),
                format_args!(
                    "{:?} is not a time with an offset, like 2026-11-23T12:00:00+0900",
                    self.order_datetime
                ),
            )
        })?;
        let buyer = self.orderer.to_buyer(&field("OrdererModel"))?;
        let ship_to = self
            .packages
            .first()
            .filter(|package| !package.awaits_recipient())
            .and_then(|package| package.sender.as_ref())
            .map(WirePerson::to_postal)
            .unwrap_or_default();
        let mut lines = Vec::new();
        for (p, package) in self.packages.iter().enumerate() {
            for (i, item) in package.items.iter().enumerate() {
                lines.push(item.to_line(&field(&format!("PackageModelList[{p}].ItemModelList[{i}]")))?);
            }
        }
        let lines = OrderLines::parse(lines).map_err(|e| ParseError::field(&field("PackageModelList"), e))?;
        let delivery = self.delivery(at)?;
        let total = self.total(at)?;
        Ok(Order {
            order_ref: OrderRef::new(Mall::Rakuten, shop.clone(), order_id),
            // The order number is what the buyer sees in Rakuten's mails too.
            number: None,
            placed_at,
            buyer,
            ship_to,
            lines,
            delivery,
            gift: self.is_gift(),
            payment: payment_method(self.settlement.as_ref()),
            status: status_of(self.order_progress),
            total,
            payload_digest: PayloadDigest::of(raw),
            screened_by_mall: false,
        })
    }

    fn delivery(&self, at: &str) -> Result<Delivery, ParseError> {
        let requested_date = non_empty(self.delivery_date.as_deref())
            .map(|d| {
                d.parse::<Date>().map_err(|e| {
                    ParseError::field(
                        &join(at, "deliveryDate"),
                        format_args!("must be a date like 2026-11-25 ({e})"),
                    )
                })
            })
            .transpose()?;
        let flagged = |flag: Option<u8>| flag == Some(1);
        Ok(Delivery {
            requested_date,
            time_slot: self.shipping_term.and_then(time_slot),
            express: flagged(self.asuraku_flag)
                || flagged(self.delivery_cert_prg_flag)
                || flagged(self.one_day_operation_flag),
        })
    }

    /// A gift by the buyer's own flag, a social gift, a wrapping, or a のし.
    fn is_gift(&self) -> bool {
        let wrapped = [&self.wrapping1, &self.wrapping2]
            .into_iter()
            .flatten()
            .any(|w| w.delete_wrapping_flag != Some(1));
        let noshi = self.packages.iter().any(|p| non_empty(p.noshi.as_deref()).is_some());
        self.gift_check_flag == Some(1) || self.social_gift_flag == Some(1) || wrapped || noshi
    }

    /// RMS's 総合計（税込）, as the official getOrder page says its order screen computes it: the goods,
    /// postage and wrapping, less coupons, plus the cash-on-delivery fee, the payment fee and the buyer's
    /// surcharge (before points, which are a way to pay). None while RMS has not fixed one of them.
    fn total(&self, at: &str) -> Result<Option<Money>, ParseError> {
        let yen = |amount: &Option<Amount>, name: &str| -> Result<Option<i64>, ParseError> {
            amount
                .as_ref()
                .map(|a| {
                    Money::parse(a.as_str(), CURRENCY)
                        .map(|m| m.minor())
                        .map_err(|e| ParseError::field(&join(at, name), e))
                })
                .transpose()
        };
        let Some(total) = yen(&self.total_price, "totalPrice")? else {
            return Ok(None);
        };
        let parts = [
            (-1, yen(&self.coupon_all_total_price, "couponAllTotalPrice")?),
            (1, yen(&self.delivery_price, "deliveryPrice")?),
            (1, yen(&self.payment_charge, "paymentCharge")?),
            (
                1,
                yen(
                    &self.additional_fee_occur_amount_to_user,
                    "additionalFeeOccurAmountToUser",
                )?,
            ),
        ];
        if total == NOT_FIXED || parts.iter().any(|(_, part)| *part == Some(NOT_FIXED)) {
            return Ok(None);
        }
        let sum = parts
            .iter()
            .try_fold(total, |sum, (sign, part)| sum.checked_add(sign * part.unwrap_or(0)));
        Ok(sum.map(Money::yen))
    }
}

/// `orderDatetime` as the API writes it (`2026-11-23T12:00:00+0900`); any RFC 3339 time with an offset is
/// accepted too.
fn parse_api_datetime(text: &str) -> Option<Timestamp> {
    text.trim().parse().ok()
}

/// 900 キャンセル確定 is cancelled. 800 キャンセル確定待ち stays open: the cancellation is only asked for and can
/// still be withdrawn (キャンセル取消), and a hold settled as cancelled would not come back; the poller sees
/// 900 soon enough. 500 発送済, then 600 支払手続き中 and 700 支払手続き済, come after shipping. 100–400 and
/// any value the API may add later are open.
fn status_of(order_progress: u32) -> OrderStatus {
    match order_progress {
        PROGRESS_CANCELLED => OrderStatus::Cancelled,
        500 | 600 | 700 => OrderStatus::Shipped,
        _ => OrderStatus::Open,
    }
}

/// The payment method of `settlementMethodCode`, else of `settlementMethod`'s name.
fn payment_method(settlement: Option<&WireSettlement>) -> PaymentMethod {
    let Some(settlement) = settlement else {
        return PaymentMethod::Other;
    };
    match settlement.settlement_method_code {
        Some(2) => PaymentMethod::CashOnDelivery,
        // Apple Pay charges a card.
        Some(1 | 12) => PaymentMethod::Card,
        Some(9) => PaymentMethod::BankTransfer,
        // セブンイレブン（前払）; ローソン、郵便局ATM等（前払）.
        Some(13 | 14) => PaymentMethod::Convenience,
        Some(_) => PaymentMethod::Other,
        None => {
            let name = non_empty(settlement.settlement_method.as_deref()).unwrap_or_default();
            if name.contains("代金引換") || name.contains("代引") {
                PaymentMethod::CashOnDelivery
            } else if name.contains("クレジットカード") {
                PaymentMethod::Card
            } else if name.contains("銀行振込") {
                PaymentMethod::BankTransfer
            } else {
                PaymentMethod::Other
            }
        }
    }
}

/// `shippingTerm` as a time slot: `14-16` for 1416 (as the other malls' samples write it), 午前, 午後,
/// その他; None for 0 (なし). A value outside the documented ones is kept as its number.
fn time_slot(term: u32) -> Option<String> {
    let (from, to) = (term / 100, term % 100);
    match term {
        0 => None,
        1 => Some("午前".into()),
        2 => Some("午後".into()),
        9 => Some("その他".into()),
        100..=9999 if (7..=24).contains(&from) && (7..=24).contains(&to) && from < to => Some(format!("{from}-{to}")),
        other => Some(other.to_string()),
    }
}

impl WirePerson {
    fn name(&self) -> String {
        join_nonempty([self.family_name.as_deref(), self.first_name.as_deref()], " ")
    }

    fn kana(&self) -> Option<String> {
        Some(join_nonempty(
            [self.family_name_kana.as_deref(), self.first_name_kana.as_deref()],
            " ",
        ))
        .filter(|k| !k.is_empty())
    }

    /// `090-1234-5678` from its three parts (the API allows one of them to be null).
    fn phone(&self) -> Option<String> {
        let phone = join_nonempty(
            [
                self.phone_number1.as_deref(),
                self.phone_number2.as_deref(),
                self.phone_number3.as_deref(),
            ],
            "-",
        );
        (!phone.is_empty()).then_some(phone)
    }

    fn to_postal(&self) -> PostalAddress {
        let text = |field: &Option<String>| non_empty(field.as_deref()).unwrap_or_default().to_owned();
        PostalAddress {
            name: self.name(),
            kana: self.kana(),
            postal_code: join_nonempty([self.zip_code1.as_deref(), self.zip_code2.as_deref()], "-"),
            prefecture: text(&self.prefecture),
            city: text(&self.city),
            lines: non_empty(self.sub_address.as_deref())
                .map(str::to_owned)
                .into_iter()
                .collect(),
            phone: self.phone(),
        }
    }

    fn to_buyer(&self, at: &str) -> Result<Buyer, ParseError> {
        let email = non_empty(self.email_address.as_deref())
            .map(|e| EmailAddress::parse(e).map_err(|err| ParseError::field(&join(at, "emailAddress"), err)))
            .transpose()?;
        let address = self.to_postal();
        Ok(Buyer {
            name: self.name(),
            kana: self.kana(),
            email,
            phone: self.phone(),
            address: (address != PostalAddress::default()).then_some(address),
            language: None,
        })
    }
}

fn join_nonempty<'a>(parts: impl IntoIterator<Item = Option<&'a str>>, separator: &str) -> String {
    parts
        .into_iter()
        .filter_map(non_empty)
        .collect::<Vec<_>>()
        .join(separator)
}

impl WirePackage {
    /// A social gift whose recipient has not entered an address: the SenderModel holds placeholders.
    fn awaits_recipient(&self) -> bool {
        let not_entered = self.social_gift.as_ref().is_some_and(|g| g.input_flag == Some(0));
        let placeholder = self.sender.as_ref().is_some_and(|s| {
            let is = |field: &Option<String>, value: &str| non_empty(field.as_deref()) == Some(value);
            (is(&s.zip_code1, "999") && is(&s.zip_code2, "9999")) || is(&s.prefecture, "入力待ち")
        });
        not_entered || placeholder
    }
}

impl WireItem {
    fn to_line(&self, at: &str) -> Result<OrderLine, ParseError> {
        let sku = self
            .skus
            .iter()
            .find_map(|sku| non_empty(sku.merchant_defined_sku_id.as_deref()));
        let product = sku
            .or(non_empty(self.item_number.as_deref()))
            .or(non_empty(self.manage_number.as_deref()))
            .ok_or_else(|| {
                ParseError::field(
                    &join(at, "manageNumber"),
                    "no merchantDefinedSkuId, itemNumber or manageNumber",
                )
            })?;
        let product = ProductKey::parse(product).map_err(|e| ParseError::field(&join(at, "manageNumber"), e))?;
        let quantity =
            Quantity::try_from(self.units).map_err(|_| ParseError::field(&join(at, "units"), "must be at least 1"))?;
        // The price with tax, as buyers in Japan see prices; `price` is without tax for a tax-exclusive item.
        let (price, name) = match &self.price_tax_incl {
            Some(price) => (Some(price), "priceTaxIncl"),
            None => (self.price.as_ref(), "price"),
        };
        let unit_price = price
            .map(|amount| Money::parse(amount.as_str(), CURRENCY).map_err(|e| ParseError::field(&join(at, name), e)))
            .transpose()?;
        Ok(OrderLine {
            product,
            title: non_empty(self.item_name.as_deref()).unwrap_or_default().to_owned(),
            quantity,
            unit_price,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireExpiry {
    expiry_date: String,
}

/// Reads the licenseKey expiry API's answer (`{"expiryDate": "2026-11-28T23:59:59"}`) into the moment the
/// key stops working. The time has no offset and is read as JST; one with an offset is taken as written.
///
/// The shape comes from client libraries and one measured answer, not from an official page. A key that
/// has already expired gets HTTP 401 from this API too: classify that with [`Failure::of`].
pub fn license_expiry(response: &[u8]) -> Result<Timestamp, ParseError> {
    let answer: WireExpiry = decode(response)?;
    let text = answer.expiry_date.trim();
    let bad = |detail: String| {
        ParseError::field(
            "expiryDate",
            format_args!("{text:?} is not a date and time like 2026-11-28T23:59:59{detail}"),
        )
    };
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil: DateTime = text.parse().map_err(|e| bad(format!(" ({e})")))?;
    civil
        .to_zoned(jst())
        .map(|zoned| zoned.timestamp())
        .map_err(|e| bad(format!(" ({e})")))
}

// ---------------------------------------------------------------------------------------------------------
// Writes: marking an order (sub-status, memo) and cancelling it
// ---------------------------------------------------------------------------------------------------------

/// `getSubStatusList`: the sub-statuses the shop defined in RMS, grouped per `orderProgress`. POST with
/// **no body** (JakeJP/Rakuten.RMS.Api `RakutenPayOrderService.GetSubStatusList` posts `null`, and
/// kaicoh/rms_api_ruby posts nothing), so there is no request builder; read the answer with
/// [`parse_sub_status_list`].
pub const GET_SUB_STATUS_LIST_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/getSubStatusList/";
/// `updateOrderSubStatus`: set (or clear) one sub-status on up to [`UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS`]
/// orders; see [`update_order_sub_status_request`].
pub const UPDATE_ORDER_SUB_STATUS_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/updateOrderSubStatus/";
/// `updateOrderMemo`: the ひとことメモ (and other shop-side fields) of one order; see
/// [`update_order_memo_request`].
pub const UPDATE_ORDER_MEMO_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/updateOrderMemo/";
/// `cancelOrder`: ask for the cancellation of one order that has not shipped; see [`cancel_order_request`]
/// and [`can_cancel_order`].
pub const CANCEL_ORDER_URL: &str = "https://api.rms.rakuten.co.jp/es/2.0/order/cancelOrder/";
/// At most this many order numbers per updateOrderSubStatus call.
pub const UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS: usize = 100;
/// The longest ひとことメモ updateOrderMemo takes: 1000 characters, full- or half-width alike.
pub const MEMO_MAX_CHARS: usize = 1000;
/// The `orderProgress` values cancelOrder accepts: 100 注文確認待ち, 200 楽天処理中, 300 発送待ち.
pub const CANCELLABLE_PROGRESS: [u32; 3] = [100, 200, 300];

/// Whether cancelOrder may be tried on an order at `order_progress`: only before shipping (100, 200, 300;
/// JakeJP/Rakuten.RMS.Api's doc comment, 「次のステータスの注文にのみ有効」). 400 変更確定待ち is not in that
/// list; 500–700 have shipped (Rakuten's `cancelOrderAfterShipping` is for returned goods, and mallguard does
/// not use it); 800 キャンセル確定待ち and 900 キャンセル確定 are already cancelled or being cancelled.
pub fn can_cancel_order(order_progress: u32) -> bool {
    CANCELLABLE_PROGRESS.contains(&order_progress)
}

/// The updateOrderSubStatus body: `subStatusId` (a sub-status of the shop, from [`parse_sub_status_list`];
/// None writes `null`, which clears the sub-status: the release of a mark) and `orderNumberList`.
///
/// The answer is HTTP 200 with one `MessageModelList` entry per order, even when some or all of them
/// failed: read it with [`Failure::of_write`] and [`parse_write_answer`].
///
/// # Panics
///
/// With more than [`UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS`] numbers, which the API refuses: pass
/// `numbers.chunks(UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS)`.
pub fn update_order_sub_status_request(sub_status_id: Option<u32>, order_numbers: &[OrderId]) -> serde_json::Value {
    assert!(
        order_numbers.len() <= UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS,
        "updateOrderSubStatus takes at most {UPDATE_ORDER_SUB_STATUS_MAX_NUMBERS} order numbers, not {}",
        order_numbers.len()
    );
    let numbers: Vec<&str> = order_numbers.iter().map(OrderId::as_str).collect();
    serde_json::json!({ "subStatusId": sub_status_id, "orderNumberList": numbers })
}

/// The updateOrderMemo body that writes `memo` as the order's ひとことメモ, cut to [`MEMO_MAX_CHARS`]
/// characters (on a character boundary, never inside one). Only the fields sent are updated; the others
/// (`subStatusId`, `operator`, `deliveryDate`, …) stay as they are.
///
/// The memo **replaces** the whole ひとことメモ (inferred from "only specified fields are updated"; an append
/// mode is not documented): read the current one ([`order_write_state`]) and send it with mallguard's line
/// added, or the shop's own notes are lost. RMS refuses 機種依存文字 (platform-dependent characters); this
/// builder does not filter them.
pub fn update_order_memo_request(order_number: &OrderId, memo: &str) -> serde_json::Value {
    let memo: String = memo.chars().take(MEMO_MAX_CHARS).collect();
    serde_json::json!({ "orderNumber": order_number.as_str(), "memo": memo })
}

/// cancelOrder's `inventoryRestoreType` (在庫連動区分): whether cancelling puts the items back in stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InventoryRestoreType {
    /// 0: 商品設定に合わせる — as each item's own setting says.
    AsItemSetting,
    /// 1: 在庫連動する — return the items to stock.
    Restore,
    /// 2: 在庫連動しない — leave the stock as it is.
    DoNotRestore,
}

impl InventoryRestoreType {
    /// The number the API takes.
    pub fn code(self) -> u32 {
        match self {
            InventoryRestoreType::AsItemSetting => 0,
            InventoryRestoreType::Restore => 1,
            InventoryRestoreType::DoNotRestore => 2,
        }
    }
}

/// cancelOrder's `changeReasonDetailApply` (キャンセル理由), as JakeJP/Rakuten.RMS.Api lists it (its doc comment
/// of `CancelOrder`; the official page was not read). Rakuten has **no 重複注文 reason**: a duplicate the buyer
/// asked to cancel is [`CancelReason::DUPLICATE_ORDER`], お客様都合・キャンセル (the research's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// 1 お客様都合: キャンセル.
    BuyerCancelled,
    /// 2 お客様都合: 受取後の返品.
    BuyerReturnedAfterReceipt,
    /// 3 お客様都合: 長期不在による受取拒否.
    BuyerAbsentTooLong,
    /// 4 お客様都合: 未入金.
    BuyerDidNotPay,
    /// 5 お客様都合: 代引決済の受取拒否.
    BuyerRefusedCashOnDelivery,
    /// 6 お客様都合: その他 — e.g. a hold nobody answered before its deadline (a business decision).
    BuyerOther,
    /// 8 店舗都合: 欠品.
    OutOfStock,
    /// 10 店舗都合: その他.
    ShopOther,
    /// 13 店舗都合: 発送遅延.
    ShippingDelayed,
    /// 14 店舗都合: 顧客・配送対応注意表示.
    CustomerCaution,
    /// 15 店舗都合: 返品（破損・品間違い）.
    ReturnedDamagedOrWrong,
}

impl CancelReason {
    /// What mallguard sends for a duplicate the buyer asked to cancel: 1, お客様都合・キャンセル.
    pub const DUPLICATE_ORDER: CancelReason = CancelReason::BuyerCancelled;

    /// The number the API takes.
    pub fn code(self) -> u32 {
        match self {
            CancelReason::BuyerCancelled => 1,
            CancelReason::BuyerReturnedAfterReceipt => 2,
            CancelReason::BuyerAbsentTooLong => 3,
            CancelReason::BuyerDidNotPay => 4,
            CancelReason::BuyerRefusedCashOnDelivery => 5,
            CancelReason::BuyerOther => 6,
            CancelReason::OutOfStock => 8,
            CancelReason::ShopOther => 10,
            CancelReason::ShippingDelayed => 13,
            CancelReason::CustomerCaution => 14,
            CancelReason::ReturnedDamagedOrWrong => 15,
        }
    }
}

/// The cancelOrder body for one order: `orderNumber`, `inventoryRestoreType`, `changeReasonDetailApply`
/// (the three fields a Scala client's fixture sends; JakeJP names the same). Check [`can_cancel_order`]
/// first: only 100/200/300 are accepted, and how the API refuses the others is not documented.
///
/// A success is an *application* (`キャンセル申請に成功しました。`): the order goes to 800 キャンセル確定待ち and
/// then 900, which the poller sees (inferred; the sequence was not observed).
pub fn cancel_order_request(
    order_number: &OrderId,
    inventory_restore_type: InventoryRestoreType,
    change_reason: CancelReason,
) -> serde_json::Value {
    serde_json::json!({
        "orderNumber": order_number.as_str(),
        "inventoryRestoreType": inventory_restore_type.code(),
        "changeReasonDetailApply": change_reason.code(),
    })
}

/// What a write (updateOrderSubStatus, updateOrderMemo, cancelOrder) did to one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// An INFO (or WARNING) entry names the order and no ERROR does: the order was updated
    /// (`…_UPDATE_ORDERSUBSTATUS_INFO_101`, `…_UPDATE_ORDERMEMO_INFO_101`) or its cancellation applied for
    /// (`ORDER_EXT_API_CANCEL_ORDER_INFO_101`). What a WARNING means is not documented; its entries are kept
    /// here for the log.
    Done { messages: Vec<Message> },
    /// An ERROR entry names the order: refused for this order, and the same request will be refused again
    /// (e.g. `ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_101`, already cancelled, or `_ERROR_102`, a
    /// sub-status that does not fit the order). No per-order code is documented as transient. cancelOrder's
    /// refusal codes are not documented at all: any ERROR is a refusal; log `code` as is.
    Refused { code: String, message: String },
    /// No entry says what happened to the order: re-read it (getOrder) before writing again.
    Unconfirmed,
}

impl WriteOutcome {
    pub fn is_done(&self) -> bool {
        matches!(self, WriteOutcome::Done { .. })
    }
}

/// One requested order and what the write did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderOutcome {
    pub order_number: OrderId,
    pub outcome: WriteOutcome,
}

/// A write answer read per order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteAnswer {
    /// One entry per requested order, in the order they were requested.
    pub outcomes: Vec<OrderOutcome>,
    /// Every message of the answer, texts cut to 1024 characters.
    pub messages: Vec<Message>,
}

impl WriteAnswer {
    /// The outcome for `order_number`, None when it was not requested.
    pub fn outcome(&self, order_number: &OrderId) -> Option<&WriteOutcome> {
        self.outcomes
            .iter()
            .find(|o| &o.order_number == order_number)
            .map(|o| &o.outcome)
    }
}

#[derive(Debug, Deserialize)]
struct WireWriteAnswer {
    #[serde(rename = "MessageModelList", default)]
    messages: Option<Vec<WireMessage>>,
}

/// Parses the answer of updateOrderSubStatus, updateOrderMemo or cancelOrder for the orders `requested`
/// (in the request's order), one [`WriteOutcome`] each.
///
/// These APIs answer HTTP 200 with a `MessageModelList` of `{messageType, messageCode, message,
/// orderNumber}`, one entry per order, **even when some or all orders fail** (the copy of the official
/// updateOrderSubStatus page shows a 200 with INFO and ERROR entries side by side). So classify the HTTP
/// answer with [`Failure::of_write`] first (transport, gateway and whole-request failures), then read the
/// orders here. An entry whose `orderNumber` is missing applies to the one order of a one-order request
/// (updateOrderMemo, cancelOrder); entries naming orders that were not requested are kept in `messages`
/// only.
///
/// The error is for a body that is not such an answer (not JSON, nested too deep, no `MessageModelList`), and
/// for an ERROR that names no order, which refuses the request as a whole (like `…_ERROR_009`, a required
/// field missing).
pub fn parse_write_answer(response: &[u8], requested: &[OrderId]) -> Result<WriteAnswer, ParseError> {
    let answer: WireWriteAnswer = decode(response)?;
    let Some(wire_messages) = answer.messages else {
        return Err(not_an_answer("updateOrderSubStatus, updateOrderMemo or cancelOrder"));
    };
    let messages: Vec<Message> = wire_messages.iter().map(WireMessage::to_message).collect();
    if let Some((i, error)) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| m.is_error() && m.order_number.is_none())
    {
        return Err(ParseError::field(
            &format!("MessageModelList[{i}]"),
            format_args!("the API refused the request: {error}"),
        ));
    }
    let single = requested.len() == 1;
    let outcomes = requested
        .iter()
        .map(|number| {
            let about: Vec<&Message> = messages
                .iter()
                .filter(|m| match &m.order_number {
                    Some(named) => named == number.as_str(),
                    None => single,
                })
                .collect();
            OrderOutcome {
                order_number: number.clone(),
                outcome: outcome_of(&about),
            }
        })
        .collect();
    Ok(WriteAnswer { outcomes, messages })
}

fn outcome_of(messages: &[&Message]) -> WriteOutcome {
    if let Some(error) = messages.iter().find(|m| m.is_error()) {
        return WriteOutcome::Refused {
            code: error.code.clone(),
            message: error.text.clone(),
        };
    }
    let done: Vec<Message> = messages
        .iter()
        .filter(|m| m.message_type.eq_ignore_ascii_case("INFO") || m.message_type.eq_ignore_ascii_case("WARNING"))
        .map(|m| (*m).clone())
        .collect();
    if done.is_empty() {
        WriteOutcome::Unconfirmed
    } else {
        WriteOutcome::Done { messages: done }
    }
}

impl Failure {
    /// [`Failure::of`] for the answer of a write (updateOrderSubStatus, updateOrderMemo, cancelOrder): the
    /// same classification, except that an answer whose every ERROR names an order is **not** a failure of
    /// the request but a per-order result, to read with [`parse_write_answer`]. That holds for a 2xx (what the
    /// official copy documents) and for a 400 with such entries (the status of a cancelOrder refusal is not
    /// documented). An ERROR that names no order, a gateway error, 401, 403/429, 5xx and any other status are
    /// what [`Failure::of`] says they are.
    pub fn of_write(status: u16, body: &[u8]) -> Option<Failure> {
        match Failure::of(status, body)? {
            Failure::Invalid { status, messages }
                if ((200..300).contains(&status) || status == 400)
                    && messages.iter().any(|m| m.order_number.is_some())
                    && messages.iter().all(|m| !m.is_error() || m.order_number.is_some()) =>
            {
                None
            }
            failure => Some(failure),
        }
    }
}

/// A sub-status the shop defined in RMS (サブステータス), for one `orderProgress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubStatus {
    /// `subStatusId`: what [`update_order_sub_status_request`] takes.
    pub id: u32,
    /// `subStatusName`, as the shop named it (e.g. `mallguard保留`).
    pub name: String,
    /// The `orderProgress` of the `StatusModelList` entry it is listed under: the sub-status fits orders
    /// at that progress (inferred: an unfitting pair is refused with `…_ERROR_102`).
    pub order_progress: u32,
    /// `orderby`, the display order in RMS, when given.
    pub order_by: Option<i64>,
}

/// A getSubStatusList answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubStatusList {
    /// Every sub-status, in the order listed: grouped by `orderProgress`.
    pub sub_statuses: Vec<SubStatus>,
    /// The messages of the answer (their codes are not documented).
    pub messages: Vec<Message>,
}

impl SubStatusList {
    /// The sub-status named `name` (trimmed, exact) under `order_progress`: where the shop's mallguard
    /// sub-status is found for an order at that progress.
    pub fn named(&self, order_progress: u32, name: &str) -> Option<&SubStatus> {
        let name = name.trim();
        self.sub_statuses
            .iter()
            .find(|s| s.order_progress == order_progress && s.name == name)
    }
}

#[derive(Debug, Deserialize)]
struct WireSubStatusAnswer {
    #[serde(rename = "MessageModelList", default)]
    messages: Option<Vec<WireMessage>>,
    #[serde(rename = "StatusModelList", default)]
    statuses: Option<Vec<WireStatusModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatusModel {
    #[serde(deserialize_with = "whole_number")]
    order_progress: u32,
    #[serde(rename = "SubStatusModelList", default, deserialize_with = "null_as_default")]
    sub_statuses: Vec<WireSubStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireSubStatus {
    #[serde(deserialize_with = "whole_number")]
    sub_status_id: u32,
    #[serde(default)]
    sub_status_name: Option<String>,
    #[serde(default)]
    orderby: Option<i64>,
}

/// A whole number written as a JSON number or as a string of digits (RMS's own examples send ids both ways).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    crate::scalar(deserializer, "a whole number", |value| match value {
        crate::Scalar::Integer(text) | crate::Scalar::Text(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("{:?} is not a whole number", bounded(&text))),
        other => Err(format!("must be a whole number, not {}", other.kind())),
    })
}

/// [`whole_number`], or None for null (or a missing field, with `#[serde(default)]`).
fn optional_whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    crate::scalar(deserializer, "a whole number or null", |value| match value {
        crate::Scalar::Null => Ok(None),
        crate::Scalar::Integer(text) | crate::Scalar::Text(text) => text
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("{:?} is not a whole number", bounded(&text))),
        other => Err(format!("must be a whole number or null, not {}", other.kind())),
    })
}

/// Parses a getSubStatusList answer: `MessageModelList` and `StatusModelList: [{orderProgress,
/// SubStatusModelList: [{subStatusId, subStatusName, orderby}]}]` (the shape of JakeJP/Rakuten.RMS.Api
/// `GetSubStatusListResponse`, `StatusModel`, `SubStatusModel`; a Java and a Dart client read the same
/// names). A null or missing list is no sub-status.
///
/// The error is for a body that has neither list, for a value of the wrong type (naming its path, such as
/// `StatusModelList[0].SubStatusModelList[1].subStatusId: …`), and for an answer that refuses the request
/// (an ERROR message and no status list): classify such a body with [`Failure::of`].
pub fn parse_sub_status_list(response: &[u8]) -> Result<SubStatusList, ParseError> {
    let answer: WireSubStatusAnswer = decode(response)?;
    if answer.messages.is_none() && answer.statuses.is_none() {
        return Err(ParseError::Invalid(
            "not a getSubStatusList answer: it has neither MessageModelList nor StatusModelList (an error body? \
             classify it with rakuten::Failure::of)"
                .into(),
        ));
    }
    let statuses = answer.statuses.unwrap_or_default();
    let messages = messages_of(&answer.messages.unwrap_or_default(), !statuses.is_empty())?;
    let sub_statuses = statuses
        .into_iter()
        .flat_map(|status| {
            let order_progress = status.order_progress;
            status.sub_statuses.into_iter().map(move |sub| SubStatus {
                id: sub.sub_status_id,
                name: non_empty(sub.sub_status_name.as_deref())
                    .map(bounded)
                    .unwrap_or_default(),
                order_progress,
                order_by: sub.orderby,
            })
        })
        .collect();
    Ok(SubStatusList { sub_statuses, messages })
}

/// What a write needs to know of one order, read from its OrderModel (the bytes a [`PolledOrder`] keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderWriteState {
    pub order_number: OrderId,
    /// `orderProgress`: see [`can_cancel_order`].
    pub order_progress: u32,
    /// `subStatusId`, None when the order has no sub-status.
    pub sub_status_id: Option<u32>,
    /// `subStatusName`, when not blank.
    pub sub_status_name: Option<String>,
    /// `memo` (ひとことメモ) as it is, when not blank: what [`update_order_memo_request`] would replace.
    pub memo: Option<String>,
}

impl OrderWriteState {
    /// Whether cancelOrder may be tried: [`can_cancel_order`] of the order's `orderProgress`.
    pub fn can_cancel(&self) -> bool {
        can_cancel_order(self.order_progress)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireWriteState {
    #[serde(deserialize_with = "string_only")]
    order_number: String,
    #[serde(deserialize_with = "whole_number")]
    order_progress: u32,
    #[serde(default, deserialize_with = "optional_whole_number")]
    sub_status_id: Option<u32>,
    #[serde(default)]
    sub_status_name: Option<String>,
    #[serde(default)]
    memo: Option<String>,
}

/// Reads `orderNumber`, `orderProgress`, `subStatusId`, `subStatusName` and `memo` (getOrder's OrderModel
/// names) from one OrderModel: whether the order may still be cancelled, whether mallguard's sub-status is
/// on it, and the memo to append to. The canonical order does not keep them (its status folds 100–400 and
/// 800 into "open").
pub fn order_write_state(raw_order: &[u8]) -> Result<OrderWriteState, ParseError> {
    let wire: WireWriteState = decode(raw_order)?;
    let order_number = OrderId::parse(&wire.order_number).map_err(|e| ParseError::field("orderNumber", e))?;
    Ok(OrderWriteState {
        order_number,
        order_progress: wire.order_progress,
        sub_status_id: wire.sub_status_id,
        sub_status_name: non_empty(wire.sub_status_name.as_deref()).map(bounded),
        memo: wire.memo.filter(|m| !m.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use mallguard_domain::identity::{IdentityHasher, IdentityKey, KeyKind};
    use serde_json::json;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/../../events/rakuten/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn shop() -> ShopId {
        ShopId::parse("tanaka-rakuten").unwrap()
    }

    fn orders(raw: &[u8]) -> Vec<(Order, Vec<u8>)> {
        parse_get_order(raw, &shop())
            .unwrap()
            .into_iter()
            .map(|polled| polled.unwrap_or_else(|(_, e)| panic!("{e}")))
            .collect()
    }

    /// The 山田 order of `getOrder.json`, changed by `patch`, as a one-order getOrder answer.
    fn answer_with(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut answer: serde_json::Value = serde_json::from_slice(&sample("getOrder.json")).unwrap();
        answer["OrderModelList"].as_array_mut().unwrap().truncate(1);
        patch(&mut answer["OrderModelList"][0]);
        serde_json::to_vec(&answer).unwrap()
    }

    fn yamada_with(patch: impl FnOnce(&mut serde_json::Value)) -> Order {
        let raw = answer_with(patch);
        let mut polled = parse_get_order(&raw, &shop()).unwrap();
        assert_eq!(polled.len(), 1);
        polled.remove(0).unwrap_or_else(|(_, e)| panic!("{e}")).0
    }

    fn invalid_with(patch: impl FnOnce(&mut serde_json::Value)) -> String {
        let raw = answer_with(patch);
        match parse_get_order(&raw, &shop()).unwrap().remove(0) {
            Err((_, ParseError::Invalid(message))) => message,
            other => panic!("expected an Invalid order, got {other:?}"),
        }
    }

    fn keys(order: &Order, kind: KeyKind) -> BTreeSet<IdentityKey> {
        let hasher = IdentityHasher::new(b"rakuten-test-pepper".to_vec());
        hasher
            .order_identity(order)
            .keys
            .into_iter()
            .filter(|k| k.kind() == kind)
            .collect()
    }

    fn share(a: &Order, b: &Order, kind: KeyKind) -> bool {
        !keys(a, kind).is_disjoint(&keys(b, kind))
    }

    fn generic_order() -> Order {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/generic/order.json");
        crate::generic::parse_order(&std::fs::read(path).unwrap()).unwrap()
    }

    fn nested(depth: usize) -> Vec<u8> {
        format!(
            r#"{{"MessageModelList":[],"OrderModelList":[{}1{}]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes()
    }

    #[test]
    fn the_yamada_order_maps_field_by_field() {
        let raw = sample("getOrder.json");
        let polled = orders(&raw);
        assert_eq!(polled.len(), 2);
        let (order, bytes) = &polled[0];
        assert_eq!(
            order.order_ref.key(),
            "rakuten/tanaka-rakuten/386193-20261123-0000012345"
        );
        assert_eq!(order.number, None);
        assert_eq!(order.number(), "386193-20261123-0000012345");
        assert_eq!(order.placed_at, "2026-11-23T03:00:00Z".parse::<Timestamp>().unwrap());

        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(order.buyer.kana.as_deref(), Some("ヤマダ タロウ"));
        let email = order.buyer.email.as_ref().unwrap();
        assert_eq!(email.as_str(), "a1b2c3d4e5f60718293a4b5c6d7e8f90s1@pc.fw.rakuten.ne.jp");
        assert_eq!(email.domain(), "pc.fw.rakuten.ne.jp");
        assert_eq!(order.buyer.phone.as_deref(), Some("090-1234-5678"));
        let yamada_at_home = PostalAddress {
            name: "山田 太郎".into(),
            kana: Some("ヤマダ タロウ".into()),
            postal_code: "100-0001".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            lines: vec!["千代田１丁目２番３号\u{3000}メゾン千代田１０１".into()],
            phone: Some("090-1234-5678".into()),
        };
        assert_eq!(order.buyer.address.as_ref(), Some(&yamada_at_home));
        assert_eq!(order.ship_to, yamada_at_home);

        let lines: Vec<&OrderLine> = order.lines.iter().collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].product.as_str(), "TEA-SENCHA-100");
        assert_eq!(lines[0].title, "【有機JAS】有機煎茶 100g 静岡県産");
        assert_eq!(lines[0].quantity.get(), 1);
        assert_eq!(lines[0].unit_price, Some(Money::yen(1200)));

        assert_eq!(
            order.delivery,
            Delivery {
                requested_date: Some(jiff::civil::date(2026, 11, 25)),
                time_slot: Some("14-16".into()),
                express: false,
            }
        );
        assert!(!order.gift);
        assert_eq!(order.payment, PaymentMethod::CashOnDelivery);
        assert_eq!(order.status, OrderStatus::Open);
        // 1200 of tea and the 330 cash-on-delivery fee.
        assert_eq!(order.total, Some(Money::yen(1530)));
        assert_eq!(order.payload_digest, PayloadDigest::of(bytes));
    }

    #[test]
    fn each_order_keeps_exactly_its_own_bytes_as_the_api_sent_them() {
        let raw = sample("getOrder.json");
        let polled = orders(&raw);
        let all: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        for (i, (order, bytes)) in polled.iter().enumerate() {
            // A slice of the answer, not a re-serialisation: the key order is the API's.
            let text = std::str::from_utf8(bytes).unwrap();
            assert!(std::str::from_utf8(&raw).unwrap().contains(text));
            assert!(text.starts_with("{\n      \"orderNumber\""), "{text:.40}");
            assert!(text.ends_with('}'));
            let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(value, all["OrderModelList"][i]);
            // The bytes replay into the same order.
            assert_eq!(&parse_order(bytes, &shop()).unwrap(), order);
        }
        assert!(!std::str::from_utf8(&polled[0].1).unwrap().contains("佐藤"));
    }

    #[test]
    fn the_unrelated_order_is_a_gift_to_two_recipients() {
        let polled = orders(&sample("getOrder.json"));
        let (order, _) = &polled[1];
        assert_eq!(order.order_ref.order_id.as_str(), "386193-20261123-0000012401");
        assert_eq!(order.placed_at, "2026-11-23T03:20:31Z".parse::<Timestamp>().unwrap());
        assert_eq!(order.buyer.name, "佐藤 花子");
        assert_eq!(order.buyer.phone.as_deref(), Some("080-2345-6789"));
        assert_eq!(
            order.buyer.address.as_ref().unwrap().one_line(),
            "〒530-0001 大阪府大阪市北区 梅田１丁目１番１号\u{3000}梅田ハイツ３０５"
        );
        // The first package's recipient is the ship-to; the lines are those of both packages.
        assert_eq!(order.ship_to.name, "佐藤 一郎");
        // The recipient's reading is SenderModel's familyNameKana firstNameKana, apart from the buyer's.
        assert_eq!(order.ship_to.kana.as_deref(), Some("サトウ イチロウ"));
        assert_eq!(order.buyer.kana.as_deref(), Some("サトウ ハナコ"));
        assert_eq!(order.ship_to.one_line(), "〒590-0078 大阪府堺市堺区 南瓦町９－９－９");
        assert_eq!(order.ship_to.phone.as_deref(), Some("072-000-1234"));
        let lines: Vec<(&str, &str, u32, Option<Money>)> = order
            .lines
            .iter()
            .map(|l| {
                (
                    l.product.as_str(),
                    l.title.as_str(),
                    l.quantity.get(),
                    l.unit_price.clone(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("TEA-GENMAI-200", "有機玄米茶 200g", 2, Some(Money::yen(980))),
                // No merchantDefinedSkuId: the item number.
                (
                    "kyusu-tokoname",
                    "急須 常滑焼 300ml 【のし対応】",
                    1,
                    Some(Money::yen(1900))
                ),
            ]
        );
        assert!(order.gift);
        assert_eq!(order.delivery, Delivery::default());
        assert_eq!(order.payment, PaymentMethod::Card);
        assert_eq!(order.status, OrderStatus::Open);
        // Before the 200 points used, which are a way to pay.
        assert_eq!(order.total, Some(Money::yen(5160)));
    }

    #[test]
    fn the_yamada_order_is_the_generic_samples_customer_and_the_other_is_not() {
        let polled = orders(&sample("getOrder.json"));
        let own_store = generic_order();
        let (yamada, sato) = (&polled[0].0, &polled[1].0);
        assert!(share(yamada, &own_store, KeyKind::Phone));
        assert!(share(yamada, &own_store, KeyKind::Address));
        // Rakuten relays the buyer's mail through a masked address.
        assert!(!share(yamada, &own_store, KeyKind::Email));
        for kind in [KeyKind::Email, KeyKind::Phone, KeyKind::Address] {
            assert!(!share(sato, &own_store, kind), "{kind:?}");
            assert!(!share(sato, yamada, kind), "{kind:?}");
        }
        let product = |o: &Order| o.lines.iter().next().unwrap().product.clone();
        assert_eq!(product(yamada), product(&own_store));
    }

    #[test]
    fn the_cancelled_sample_cancels_the_yamada_order() {
        let cancelled = orders(&sample("getOrder-cancelled.json"));
        assert_eq!(cancelled.len(), 1);
        let first = &orders(&sample("getOrder.json"))[0].0;
        assert_eq!(cancelled[0].0.order_ref, first.order_ref);
        assert_eq!(cancelled[0].0.status, OrderStatus::Cancelled);
        assert_eq!(cancelled[0].0.buyer, first.buyer);
    }

    #[test]
    fn order_progress_maps_to_the_status() {
        let cases = [
            (100, OrderStatus::Open),
            (200, OrderStatus::Open),
            (300, OrderStatus::Open),
            (400, OrderStatus::Open),
            (500, OrderStatus::Shipped),
            (600, OrderStatus::Shipped),
            (700, OrderStatus::Shipped),
            // Asked for, not final: still open.
            (800, OrderStatus::Open),
            (900, OrderStatus::Cancelled),
            (950, OrderStatus::Open),
        ];
        for (progress, status) in cases {
            let order = yamada_with(|o| o["orderProgress"] = progress.into());
            assert_eq!(order.status, status, "{progress}");
        }
    }

    #[test]
    fn the_settlement_method_maps_to_the_payment_method() {
        let cases = [
            (
                json!({"settlementMethodCode": 1, "settlementMethod": "クレジットカード"}),
                PaymentMethod::Card,
            ),
            (
                json!({"settlementMethodCode": 2, "settlementMethod": "代金引換"}),
                PaymentMethod::CashOnDelivery,
            ),
            (
                json!({"settlementMethodCode": 9, "settlementMethod": "銀行振込"}),
                PaymentMethod::BankTransfer,
            ),
            (
                json!({"settlementMethodCode": 12, "settlementMethod": "Apple Pay"}),
                PaymentMethod::Card,
            ),
            (json!({"settlementMethodCode": 14}), PaymentMethod::Convenience),
            (
                json!({"settlementMethodCode": 21, "settlementMethod": "後払い決済"}),
                PaymentMethod::Other,
            ),
            // No code: the name decides.
            (json!({"settlementMethod": "代金引換"}), PaymentMethod::CashOnDelivery),
            (
                json!({"settlementMethodCode": null, "settlementMethod": "銀行振込"}),
                PaymentMethod::BankTransfer,
            ),
            (json!(null), PaymentMethod::Other),
        ];
        for (settlement, expected) in cases {
            let order = yamada_with(|o| o["SettlementModel"] = settlement.clone());
            assert_eq!(order.payment, expected, "{settlement}");
        }
    }

    #[test]
    fn the_time_slot_and_express_flags_map_to_the_delivery() {
        let slot = |term: serde_json::Value| yamada_with(|o| o["shippingTerm"] = term).delivery.time_slot;
        assert_eq!(slot(json!(708)), Some("7-8".into()));
        assert_eq!(slot(json!(2324)), Some("23-24".into()));
        assert_eq!(slot(json!(1)), Some("午前".into()));
        assert_eq!(slot(json!(2)), Some("午後".into()));
        assert_eq!(slot(json!(9)), Some("その他".into()));
        assert_eq!(slot(json!(0)), None);
        assert_eq!(slot(json!(null)), None);
        assert_eq!(slot(json!(1614)), Some("1614".into()));
        for flag in ["asurakuFlag", "deliveryCertPrgFlag", "oneDayOperationFlag"] {
            assert!(yamada_with(|o| o[flag] = 1.into()).delivery.express, "{flag}");
        }
        let order = yamada_with(|o| o["deliveryDate"] = json!(null));
        assert_eq!(order.delivery.requested_date, None);
    }

    #[test]
    fn a_gift_flag_a_wrapping_or_a_noshi_makes_a_gift() {
        assert!(yamada_with(|o| o["giftCheckFlag"] = 1.into()).gift);
        assert!(yamada_with(|o| o["socialGiftFlag"] = 1.into()).gift);
        assert!(yamada_with(|o| o["PackageModelList"][0]["noshi"] = "御祝".into()).gift);
        let wrapping = json!({"title": 2, "name": "リボン", "price": 0, "includeTaxFlag": 1,
            "deleteWrappingFlag": 0, "taxRate": 0.1, "taxPrice": 0});
        assert!(yamada_with(|o| o["WrappingModel2"] = wrapping.clone()).gift);
        assert!(!yamada_with(|o| o["PackageModelList"][0]["noshi"] = "".into()).gift);
    }

    #[test]
    fn a_social_gift_awaiting_its_recipient_has_no_ship_to() {
        let order = yamada_with(|o| {
            o["socialGiftFlag"] = 1.into();
            o["PackageModelList"][0]["SenderModel"] = json!({
                "zipCode1": "999", "zipCode2": "9999", "prefecture": "入力待ち", "city": "入力待ち",
                "subAddress": "入力待ち", "familyName": "入力待ち", "firstName": "入力待ち",
                "familyNameKana": "ニュウリョクマチ", "firstNameKana": "ニュウリョクマチ",
                "phoneNumber1": "999", "phoneNumber2": "9999", "phoneNumber3": "9999", "isolatedIslandFlag": 0
            });
            o["PackageModelList"][0]["SocialGiftModel"] = json!({
                "sgMngNumber": "386193-20261123-0000012345-sg", "inputDueDate": "2026-11-30", "inputFlag": 0,
                "inputCompDatetime": null, "receiverEmailAddress": null
            });
        });
        assert_eq!(order.ship_to, PostalAddress::default());
        assert!(order.gift);
        // The buyer is still known.
        assert!(share(&order, &generic_order(), KeyKind::Phone));
    }

    #[test]
    fn the_product_key_is_the_sku_else_the_item_number_else_the_manage_number() {
        fn product(patch: impl FnOnce(&mut serde_json::Value)) -> String {
            yamada_with(patch)
                .lines
                .iter()
                .next()
                .unwrap()
                .product
                .as_str()
                .to_owned()
        }
        fn item(o: &mut serde_json::Value) -> serde_json::Value {
            o["PackageModelList"][0]["ItemModelList"][0].take()
        }
        assert_eq!(
            product(|o| {
                let mut i = item(o);
                i["SkuModelList"] = json!([{"variantId": "v", "merchantDefinedSkuId": null, "skuInfo": null}]);
                o["PackageModelList"][0]["ItemModelList"][0] = i;
            }),
            "sencha-100"
        );
        assert_eq!(
            product(|o| {
                let mut i = item(o);
                i["SkuModelList"] = json!(null);
                i["itemNumber"] = json!(null);
                o["PackageModelList"][0]["ItemModelList"][0] = i;
            }),
            "organic-sencha"
        );
        let message = invalid_with(|o| {
            let mut i = item(o);
            i["SkuModelList"] = json!([]);
            i["itemNumber"] = json!("");
            i["manageNumber"] = json!(null);
            o["PackageModelList"][0]["ItemModelList"][0] = i;
        });
        assert_eq!(
            message,
            "OrderModelList[0].PackageModelList[0].ItemModelList[0].manageNumber: \
             no merchantDefinedSkuId, itemNumber or manageNumber"
        );
    }

    #[test]
    fn a_tax_exclusive_price_is_read_with_its_tax() {
        let order = yamada_with(|o| {
            let item = &mut o["PackageModelList"][0]["ItemModelList"][0];
            item["includeTaxFlag"] = 0.into();
            item["price"] = 1112.into();
            item["priceTaxIncl"] = 1200.into();
        });
        assert_eq!(order.lines.iter().next().unwrap().unit_price, Some(Money::yen(1200)));
        let order = yamada_with(|o| {
            o["PackageModelList"][0]["ItemModelList"][0]
                .as_object_mut()
                .unwrap()
                .remove("priceTaxIncl");
        });
        assert_eq!(order.lines.iter().next().unwrap().unit_price, Some(Money::yen(1200)));
    }

    #[test]
    fn an_amount_not_fixed_yet_leaves_the_total_unknown() {
        assert_eq!(yamada_with(|o| o["deliveryPrice"] = (-9999).into()).total, None);
        assert_eq!(yamada_with(|o| o["totalPrice"] = (-9999).into()).total, None);
        assert_eq!(yamada_with(|o| o["totalPrice"] = json!(null)).total, None);
        let order = yamada_with(|o| {
            o["couponAllTotalPrice"] = 200.into();
            o["paymentCharge"] = json!(null);
        });
        assert_eq!(order.total, Some(Money::yen(1330)));
    }

    #[test]
    fn a_buyer_with_one_phone_part_null_and_no_first_name_is_read() {
        let order = yamada_with(|o| {
            o["OrdererModel"]["phoneNumber2"] = json!(null);
            o["OrdererModel"]["firstName"] = json!(null);
            o["OrdererModel"]["firstNameKana"] = json!("");
        });
        assert_eq!(order.buyer.phone.as_deref(), Some("090-5678"));
        assert_eq!(order.buyer.name, "山田");
        assert_eq!(order.buyer.kana.as_deref(), Some("ヤマダ"));
    }

    /// A change to the sample order.
    type Patch = fn(&mut serde_json::Value);

    #[test]
    fn every_error_names_the_field_from_the_order_list_down() {
        let cases: [(Patch, &str); 9] = [
            (
                |o| o["OrdererModel"]["zipCode1"] = 100.into(),
                "OrderModelList[0].OrdererModel.zipCode1: invalid type: integer `100`, expected a string",
            ),
            (
                |o| o["OrdererModel"]["emailAddress"] = "masked".into(),
                "OrderModelList[0].OrdererModel.emailAddress: \"masked\" is not an email address",
            ),
            (
                |o| o["orderDatetime"] = "2026-11-23 12:00:00".into(),
                "OrderModelList[0].orderDatetime: \"2026-11-23 12:00:00\" is not a time with an offset, like \
                 2026-11-23T12:00:00+0900",
            ),
            (
                |o| o["orderNumber"] = 12345.into(),
                "OrderModelList[0].orderNumber: must be a string, not a number (JSON numbers lose digits beyond \
                 2^53)",
            ),
            (
                |o| o["PackageModelList"][0]["ItemModelList"][0]["units"] = 0.into(),
                "OrderModelList[0].PackageModelList[0].ItemModelList[0].units: must be at least 1",
            ),
            (
                |o| o["PackageModelList"][0]["ItemModelList"][0]["priceTaxIncl"] = json!(1200.5),
                "OrderModelList[0].PackageModelList[0].ItemModelList[0].priceTaxIncl: 1200.5 is not exact as a JSON \
                 number; write amounts with decimals as a string, like \"1200.5\"",
            ),
            (
                |o| o["PackageModelList"] = json!([]),
                "OrderModelList[0].PackageModelList: the order has no lines",
            ),
            (
                |o| {
                    o.as_object_mut().unwrap().remove("OrdererModel");
                },
                "OrderModelList[0]: missing field `OrdererModel`",
            ),
            (
                |o| o["deliveryDate"] = "2026/11/25".into(),
                "OrderModelList[0].deliveryDate: must be a date like 2026-11-25",
            ),
        ];
        for (patch, expected) in cases {
            let message = invalid_with(patch);
            assert!(message.starts_with(expected), "{message}\n  expected {expected}");
        }
    }

    #[test]
    fn a_malformed_order_comes_back_with_its_bytes_while_the_others_parse() {
        let mut answer: serde_json::Value = serde_json::from_slice(&sample("getOrder.json")).unwrap();
        answer["OrderModelList"][1]["OrdererModel"]["phoneNumber1"] = 80.into();
        let list = answer["OrderModelList"].as_array_mut().unwrap();
        list.push(json!("not an order"));
        let raw = serde_json::to_vec_pretty(&answer).unwrap();
        let polled = parse_get_order(&raw, &shop()).unwrap();
        assert_eq!(polled.len(), 3);
        let (yamada, _) = polled[0].as_ref().unwrap();
        assert_eq!(yamada.buyer.name, "山田 太郎");
        let (bytes, error) = polled[1].as_ref().unwrap_err();
        assert_eq!(
            error,
            &ParseError::Invalid(
                "OrderModelList[1].OrdererModel.phoneNumber1: invalid type: integer `80`, expected a string".into()
            )
        );
        let value: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(value["orderNumber"], "386193-20261123-0000012401");
        let (bytes, error) = polled[2].as_ref().unwrap_err();
        assert_eq!(bytes, br#""not an order""#);
        assert_eq!(
            error,
            &ParseError::Invalid("OrderModelList[2]: must be an object, not a string".into())
        );
    }

    #[test]
    fn orders_are_delimited_however_the_answer_is_written() {
        let compact =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&sample("getOrder.json")).unwrap())
                .unwrap();
        let polled = orders(&compact);
        assert_eq!(polled.len(), 2);
        assert!(polled[1].1.starts_with(b"{\"") && polled[1].1.ends_with(b"}"));
        // Brackets, braces and commas inside strings, an escaped key, and the list not first.
        let raw = br#"{ "version": 10, "x": {"OrderModelList": [1]}, "OrderModel\u004cist" : [ {"a":"],}[{\""} , [1, 2] ,"s" ] , "MessageModelList": [] }"#;
        let elements = array_elements(raw, "OrderModelList");
        assert_eq!(elements, [br#"{"a":"],}[{\""}"#.as_slice(), b"[1, 2]", br#""s""#]);
        assert!(array_elements(br#"{"OrderModelList": []}"#, "OrderModelList").is_empty());
        assert!(array_elements(br#"{"OrderModelList": null}"#, "OrderModelList").is_empty());
    }

    #[test]
    fn not_found_numbers_give_an_empty_list_and_a_refusal_is_an_error() {
        assert!(
            parse_get_order(&sample("getOrder-not-found.json"), &shop())
                .unwrap()
                .is_empty()
        );
        let missing_version = r#"{"MessageModelList":[{"messageType":"ERROR","messageCode":"ORDER_EXT_API_GET_ORDER_ERROR_009","message":"versionの項目を指定して下さい。"}],"OrderModelList":null}"#.as_bytes();
        assert_eq!(
            parse_get_order(missing_version, &shop()).unwrap_err(),
            ParseError::Invalid(
                "MessageModelList[0]: the API refused the request: ORDER_EXT_API_GET_ORDER_ERROR_009 \
                 versionの項目を指定して下さい。"
                    .into()
            )
        );
    }

    #[test]
    fn a_body_that_is_no_get_order_answer_is_the_outer_error() {
        let not_an_answer = parse_get_order(&sample("error-unauthorized.json"), &shop()).unwrap_err();
        assert!(
            matches!(&not_an_answer, ParseError::Invalid(m) if m.starts_with("not a getOrder answer")),
            "{not_an_answer}"
        );
        assert!(matches!(parse_get_order(b"", &shop()), Err(ParseError::NotJson(_))));
        assert!(matches!(
            parse_get_order(&sample("error-throttled.xml"), &shop()),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(
            parse_get_order(b"[]", &shop()).unwrap_err(),
            ParseError::NotObject("an array")
        );
        let not_a_list = parse_get_order(br#"{"MessageModelList":[],"OrderModelList":{}}"#, &shop()).unwrap_err();
        assert!(
            matches!(&not_a_list, ParseError::Invalid(m) if m.starts_with("OrderModelList: invalid type: map")),
            "{not_a_list}"
        );
    }

    #[test]
    fn a_second_order_list_is_refused_rather_than_guessed_at() {
        let twice = br#"{"MessageModelList":[],"OrderModelList":[],"OrderModelList":[{"orderNumber":"x"}]}"#;
        assert!(
            matches!(parse_get_order(twice, &shop()), Err(ParseError::Invalid(m)) if m.contains("duplicate field `OrderModelList`"))
        );
    }

    #[test]
    fn a_body_nested_a_hundred_thousand_deep_is_refused_without_recursion() {
        let deep = nested(100_000);
        assert_eq!(
            parse_get_order(&deep, &shop()).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
        assert_eq!(
            parse_search_order(&deep).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
        assert_eq!(
            parse_order(&deep, &shop()).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
        assert_eq!(
            license_expiry(&deep).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
        // An error body that deep is judged by its status alone.
        assert_eq!(Failure::of(503, &deep), Some(Failure::Unavailable { status: 503 }));
        assert_eq!(
            Failure::of(400, &deep),
            Some(Failure::Invalid {
                status: 400,
                messages: vec![]
            })
        );
    }

    #[test]
    fn a_search_page_lists_the_order_numbers_and_the_pagination() {
        let page = parse_search_order(&sample("searchOrder.json")).unwrap();
        let numbers: Vec<&str> = page.order_numbers.iter().map(OrderId::as_str).collect();
        assert_eq!(numbers, ["386193-20261123-0000012345", "386193-20261123-0000012401"]);
        assert_eq!(
            page.pagination,
            Some(Pagination {
                total_records: 2,
                total_pages: 1,
                page: 1
            })
        );
        assert_eq!(page.next_page(), None);
        assert_eq!(page.messages.len(), 1);
        assert_eq!(page.messages[0].code, "ORDER_EXT_API_SEARCH_ORDER_INFO_101");
        assert!(!page.messages[0].is_error());
        // The numbers it lists are those getOrder.json answers for.
        let got: Vec<OrderId> = orders(&sample("getOrder.json"))
            .into_iter()
            .map(|(o, _)| o.order_ref.order_id)
            .collect();
        assert_eq!(page.order_numbers, got);
    }

    #[test]
    fn an_empty_search_has_no_pagination_and_a_middle_page_has_a_next() {
        let page = parse_search_order(&sample("searchOrder-empty.json")).unwrap();
        assert!(page.order_numbers.is_empty());
        assert_eq!(page.pagination, None);
        assert_eq!(page.next_page(), None);
        assert_eq!(page.messages[0].code, "ORDER_EXT_API_SEARCH_ORDER_INFO_102");
        let middle = br#"{"orderNumberList":["386193-20261123-0000012345"],"MessageModelList":[],
            "PaginationResponseModel":{"totalRecordsAmount":2001,"totalPages":3,"requestPage":2}}"#;
        assert_eq!(parse_search_order(middle).unwrap().next_page(), Some(3));
    }

    #[test]
    fn a_refused_search_or_a_bad_order_number_is_an_error() {
        assert_eq!(
            parse_search_order(&sample("searchOrder-invalid.json")).unwrap_err(),
            ParseError::Invalid(
                "MessageModelList[0]: the API refused the request: ORDER_EXT_API_SEARCH_ORDER_ERROR_009 \
                 dateTypeの項目を指定して下さい。"
                    .into()
            )
        );
        let numeric = br#"{"orderNumberList":[386193],"MessageModelList":[]}"#;
        assert!(
            matches!(parse_search_order(numeric), Err(ParseError::Invalid(m)) if m.starts_with("orderNumberList[0]: must be a string")),
        );
        let slash = br#"{"orderNumberList":["a/b"],"MessageModelList":[]}"#;
        assert!(
            matches!(parse_search_order(slash), Err(ParseError::Invalid(m)) if m.starts_with("orderNumberList[0]: ")),
        );
        assert!(matches!(
            parse_search_order(&sample("error-unauthorized.json")),
            Err(ParseError::Invalid(m)) if m.starts_with("not a searchOrder answer")
        ));
    }

    #[test]
    fn failures_are_classified_by_status_and_body() {
        let unauthorized = sample("error-unauthorized.json");
        assert_eq!(
            Failure::of(401, &unauthorized),
            Some(Failure::Unauthorized {
                status: 401,
                code: Some("ES01-01".into())
            })
        );
        // The code observed live after a key expired, and a gateway auth code under another status.
        let ga = br#"{"Results":{"errorCode":"GA0001","message":"Un-Authorised"}}"#;
        assert!(matches!(Failure::of(401, ga), Some(Failure::Unauthorized { code: Some(c), .. }) if c == "GA0001"));
        assert!(matches!(
            Failure::of(400, &unauthorized),
            Some(Failure::Unauthorized { status: 400, .. })
        ));
        let not_enabled = br#"{"Results":{"errorCode":"ES04-01","message":"Bad Request"}}"#;
        assert!(matches!(
            Failure::of(400, not_enabled),
            Some(Failure::Unauthorized { .. })
        ));
        assert_eq!(
            Failure::of(401, b"<html>Unauthorized</html>"),
            Some(Failure::Unauthorized {
                status: 401,
                code: None
            })
        );

        let throttled = sample("error-throttled.xml");
        assert_eq!(Failure::of(403, &throttled), Some(Failure::Throttled { status: 403 }));
        assert_eq!(Failure::of(429, b""), Some(Failure::Throttled { status: 429 }));
        assert_eq!(Failure::of(400, &throttled), Some(Failure::Throttled { status: 400 }));

        for status in [500, 502, 503, 504, 408, 302] {
            assert_eq!(
                Failure::of(status, b"<html></html>"),
                Some(Failure::Unavailable { status })
            );
        }

        let refused = sample("searchOrder-invalid.json");
        let Some(Failure::Invalid { status: 400, messages }) = Failure::of(400, &refused) else {
            panic!("{:?}", Failure::of(400, &refused));
        };
        let codes: Vec<&str> = messages.iter().map(|m| m.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "ORDER_EXT_API_SEARCH_ORDER_ERROR_009",
                "ORDER_EXT_API_SEARCH_ORDER_ERROR_011"
            ]
        );
        // The same refusal under a 200 is no less a refusal.
        assert!(matches!(
            Failure::of(200, &refused),
            Some(Failure::Invalid { status: 200, .. })
        ));
        assert!(matches!(
            Failure::of(404, b""),
            Some(Failure::Invalid { status: 404, .. })
        ));
        let unsupported = br#"{"Results":{"errorCode":"ES04-03","message":"Unsupported Media Type"}}"#;
        let Some(Failure::Invalid { messages, .. }) = Failure::of(415, unsupported) else {
            panic!("{:?}", Failure::of(415, unsupported));
        };
        assert_eq!(messages[0].to_string(), "ES04-03 Unsupported Media Type");

        // Answers that are no failure.
        for name in [
            "getOrder.json",
            "getOrder-not-found.json",
            "searchOrder.json",
            "searchOrder-empty.json",
        ] {
            assert_eq!(Failure::of(200, &sample(name)), None, "{name}");
        }
        assert_eq!(Failure::of(200, &sample("license-expiry.json")), None);
    }

    #[test]
    fn only_throttling_and_unavailability_are_transient() {
        assert!(Failure::Throttled { status: 403 }.is_transient());
        assert!(Failure::Unavailable { status: 503 }.is_transient());
        assert!(
            !Failure::Unauthorized {
                status: 401,
                code: None
            }
            .is_transient()
        );
        assert!(
            !Failure::Invalid {
                status: 400,
                messages: vec![]
            }
            .is_transient()
        );
        let message = Failure::of(401, &sample("error-unauthorized.json"))
            .unwrap()
            .to_string();
        assert!(
            message.starts_with("Rakuten refused the credentials (HTTP 401, ES01-01)"),
            "{message}"
        );
        let message = Failure::of(400, &sample("searchOrder-invalid.json"))
            .unwrap()
            .to_string();
        assert_eq!(
            message,
            "Rakuten refused the request (HTTP 400): ORDER_EXT_API_SEARCH_ORDER_ERROR_009 dateTypeの項目を指定して下さい。"
        );
    }

    #[test]
    fn the_search_request_writes_jst_without_a_colon_in_the_offset() {
        let from: Timestamp = "2026-11-22T15:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-11-23T14:59:59.999Z".parse().unwrap();
        assert_eq!(
            search_order_request(DateType::Ordered, from, to, 2, 1000),
            json!({
                "dateType": 1,
                "startDatetime": "2026-11-23T00:00:00+0900",
                "endDatetime": "2026-11-23T23:59:59+0900",
                "orderProgressList": [100, 200, 300, 400, 500, 600, 700, 800, 900],
                "PaginationRequestModel": {
                    "requestRecordsAmount": 1000,
                    "requestPage": 2,
                    "SortModelList": [{ "sortColumn": 1, "sortDirection": 1 }]
                }
            })
        );
        let cancelled = search_order_request_with_progress(DateType::Ordered, &[PROGRESS_CANCELLED], from, to, 1, 1000);
        assert_eq!(cancelled["orderProgressList"], json!([900]));
        assert_eq!(cancelled["dateType"], 1);
        assert_eq!(cancelled["startDatetime"], "2026-11-23T00:00:00+0900");
        assert_eq!(cancelled["endDatetime"], "2026-11-23T23:59:59+0900");
        assert_eq!(
            cancelled["PaginationRequestModel"],
            search_order_request(DateType::Ordered, from, to, 1, 1000)["PaginationRequestModel"]
        );
        assert_eq!(
            search_order_request_with_progress(DateType::Ordered, &[], from, to, 1, 1000),
            search_order_request(DateType::Ordered, from, to, 1, 1000)
        );
        let clamped = search_order_request(DateType::PaymentFixed, from, to, 0, 5000);
        assert_eq!(clamped["dateType"], 6);
        assert_eq!(clamped["PaginationRequestModel"]["requestRecordsAmount"], 1000);
        assert_eq!(clamped["PaginationRequestModel"]["requestPage"], 1);
        let codes: Vec<u32> = [
            DateType::Ordered,
            DateType::Confirmed,
            DateType::Fixed,
            DateType::Shipped,
            DateType::ShippingReported,
            DateType::PaymentFixed,
        ]
        .map(DateType::code)
        .into();
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn the_get_order_request_lists_the_numbers_at_the_newest_version() {
        let numbers = ["386193-20261123-0000012345", "386193-20261123-0000012401"].map(|n| OrderId::parse(n).unwrap());
        assert_eq!(
            get_order_request(&numbers, GET_ORDER_VERSION),
            json!({
                "orderNumberList": ["386193-20261123-0000012345", "386193-20261123-0000012401"],
                "version": 10
            })
        );
        let hundred: Vec<OrderId> = (0..100)
            .map(|i| OrderId::parse(&format!("386193-20261123-{i:010}")).unwrap())
            .collect();
        assert_eq!(
            get_order_request(&hundred, GET_ORDER_VERSION)["orderNumberList"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    #[should_panic(expected = "at most 100 order numbers")]
    fn more_than_a_hundred_numbers_are_refused() {
        let many: Vec<OrderId> = (0..101)
            .map(|i| OrderId::parse(&format!("386193-20261123-{i:010}")).unwrap())
            .collect();
        get_order_request(&many, GET_ORDER_VERSION);
    }

    #[test]
    fn the_authorization_header_is_esa_and_base64() {
        // The worked example of the official authentication page.
        assert_eq!(authorization("aaa", "bbb"), "ESA YWFhOmJiYg==");
        assert_eq!(
            license_expiry_url("SL123_abc-XYZ"),
            "https://api.rms.rakuten.co.jp/es/1.0/license-management/license-key/expiry-date?licenseKey=SL123_abc-XYZ"
        );
        assert!(license_expiry_url("a+b/c=").ends_with("?licenseKey=a%2Bb%2Fc%3D"));
    }

    #[test]
    fn the_licence_expiry_is_read_as_jst() {
        assert_eq!(
            license_expiry(&sample("license-expiry.json")).unwrap(),
            "2026-11-28T14:59:59Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            license_expiry(br#"{"expiryDate":"2026-11-28T23:59:59+0900"}"#).unwrap(),
            "2026-11-28T14:59:59Z".parse::<Timestamp>().unwrap()
        );
        assert!(matches!(
            license_expiry(br#"{"expiryDate":"28/11/2026"}"#),
            Err(ParseError::Invalid(m)) if m.starts_with("expiryDate: \"28/11/2026\" is not a date and time")
        ));
        assert!(matches!(
            license_expiry(&sample("error-unauthorized.json")),
            Err(ParseError::Invalid(m)) if m == "missing field `expiryDate`"
        ));
    }

    #[test]
    fn every_sample_under_rakuten_is_covered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/rakuten");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "cancelOrder.json",
                "error-throttled.xml",
                "error-unauthorized.json",
                "getOrder-cancelled.json",
                "getOrder-not-found.json",
                "getOrder.json",
                "getSubStatusList.json",
                "license-expiry.json",
                "searchOrder-empty.json",
                "searchOrder-invalid.json",
                "searchOrder.json",
                "updateOrderMemo.json",
                "updateOrderSubStatus-invalid.json",
                "updateOrderSubStatus-partial.json",
                "updateOrderSubStatus.json",
            ],
            "a new sample needs a test and a line in events/README.md"
        );
    }

    // -----------------------------------------------------------------------------------------------------
    // Writes
    // -----------------------------------------------------------------------------------------------------

    fn number(text: &str) -> OrderId {
        OrderId::parse(text).unwrap()
    }

    /// A request body as it goes on the wire, read back.
    fn on_the_wire(body: &serde_json::Value) -> serde_json::Value {
        serde_json::from_slice(&serde_json::to_vec(body).unwrap()).unwrap()
    }

    const YAMADA: &str = "386193-20261123-0000012345";
    const CANCELLED_EARLIER: &str = "386193-20261122-0000011987";

    #[test]
    fn the_write_endpoints_are_the_documented_urls() {
        assert_eq!(
            GET_SUB_STATUS_LIST_URL,
            "https://api.rms.rakuten.co.jp/es/2.0/order/getSubStatusList/"
        );
        assert_eq!(
            UPDATE_ORDER_SUB_STATUS_URL,
            "https://api.rms.rakuten.co.jp/es/2.0/order/updateOrderSubStatus/"
        );
        assert_eq!(
            UPDATE_ORDER_MEMO_URL,
            "https://api.rms.rakuten.co.jp/es/2.0/order/updateOrderMemo/"
        );
        assert_eq!(
            CANCEL_ORDER_URL,
            "https://api.rms.rakuten.co.jp/es/2.0/order/cancelOrder/"
        );
    }

    #[test]
    fn the_sub_status_request_sets_a_sub_status_or_clears_it_with_null() {
        let numbers = [number(YAMADA), number("386193-20261123-0000012401")];
        let set = on_the_wire(&update_order_sub_status_request(Some(3423), &numbers));
        assert_eq!(
            set,
            json!({
                "subStatusId": 3423,
                "orderNumberList": [YAMADA, "386193-20261123-0000012401"]
            })
        );
        let clear = on_the_wire(&update_order_sub_status_request(None, &numbers[..1]));
        // The release: `subStatusId` is sent, as null (a missing field is ERROR_009).
        assert_eq!(clear.as_object().unwrap().len(), 2);
        assert!(clear.as_object().unwrap().contains_key("subStatusId"));
        assert_eq!(clear["subStatusId"], serde_json::Value::Null);
        assert_eq!(clear["orderNumberList"], json!([YAMADA]));
        let hundred: Vec<OrderId> = (0..100).map(|i| number(&format!("386193-20261123-{i:010}"))).collect();
        assert_eq!(
            update_order_sub_status_request(Some(1), &hundred)["orderNumberList"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    #[should_panic(expected = "updateOrderSubStatus takes at most 100 order numbers, not 101")]
    fn more_than_a_hundred_numbers_are_refused_for_a_sub_status() {
        let many: Vec<OrderId> = (0..101).map(|i| number(&format!("386193-20261123-{i:010}"))).collect();
        update_order_sub_status_request(Some(3423), &many);
    }

    #[test]
    fn the_memo_request_writes_only_the_memo_cut_to_a_thousand_characters() {
        let memo = "【mallguard】重複注文の疑い(386193-20261123-0000012301)。確認中のため発送保留";
        let body = on_the_wire(&update_order_memo_request(&number(YAMADA), memo));
        assert_eq!(body, json!({ "orderNumber": YAMADA, "memo": memo }));
        // 1001 three-byte characters: cut to 1000 characters, never inside one.
        let long = "保".repeat(MEMO_MAX_CHARS + 1);
        let body = update_order_memo_request(&number(YAMADA), &long);
        let sent = body["memo"].as_str().unwrap();
        assert_eq!(sent.chars().count(), MEMO_MAX_CHARS);
        assert_eq!(sent.len(), 3 * MEMO_MAX_CHARS);
        // Mixed widths count characters, not bytes.
        let mixed = format!("{}a🍵", "x".repeat(998));
        assert_eq!(
            update_order_memo_request(&number(YAMADA), &mixed)["memo"],
            format!("{}a🍵", "x".repeat(998))
        );
        let over = format!("{}🍵🍵", "x".repeat(999));
        assert_eq!(
            update_order_memo_request(&number(YAMADA), &over)["memo"],
            format!("{}🍵", "x".repeat(999))
        );
    }

    #[test]
    fn the_cancel_request_sends_the_three_fields_with_buyer_cancel_for_a_duplicate() {
        let body = on_the_wire(&cancel_order_request(
            &number(YAMADA),
            InventoryRestoreType::Restore,
            CancelReason::DUPLICATE_ORDER,
        ));
        assert_eq!(
            body,
            json!({ "orderNumber": YAMADA, "inventoryRestoreType": 1, "changeReasonDetailApply": 1 })
        );
        assert_eq!(CancelReason::DUPLICATE_ORDER, CancelReason::BuyerCancelled);
        let restore: Vec<u32> = [
            InventoryRestoreType::AsItemSetting,
            InventoryRestoreType::Restore,
            InventoryRestoreType::DoNotRestore,
        ]
        .map(InventoryRestoreType::code)
        .into();
        assert_eq!(restore, [0, 1, 2]);
        let reasons: Vec<u32> = [
            CancelReason::BuyerCancelled,
            CancelReason::BuyerReturnedAfterReceipt,
            CancelReason::BuyerAbsentTooLong,
            CancelReason::BuyerDidNotPay,
            CancelReason::BuyerRefusedCashOnDelivery,
            CancelReason::BuyerOther,
            CancelReason::OutOfStock,
            CancelReason::ShopOther,
            CancelReason::ShippingDelayed,
            CancelReason::CustomerCaution,
            CancelReason::ReturnedDamagedOrWrong,
        ]
        .map(CancelReason::code)
        .into();
        assert_eq!(reasons, [1, 2, 3, 4, 5, 6, 8, 10, 13, 14, 15]);
        let other = cancel_order_request(
            &number(YAMADA),
            InventoryRestoreType::AsItemSetting,
            CancelReason::BuyerOther,
        );
        assert_eq!(other["inventoryRestoreType"], 0);
        assert_eq!(other["changeReasonDetailApply"], 6);
    }

    #[test]
    fn only_orders_before_shipping_may_be_cancelled() {
        for progress in [100, 200, 300] {
            assert!(can_cancel_order(progress), "{progress}");
        }
        for progress in [0, 400, 500, 600, 700, 800, 900, 950] {
            assert!(!can_cancel_order(progress), "{progress}");
        }
    }

    #[test]
    fn the_sub_status_list_is_read_per_order_progress() {
        let list = parse_sub_status_list(&sample("getSubStatusList.json")).unwrap();
        let read: Vec<(u32, u32, &str, Option<i64>)> = list
            .sub_statuses
            .iter()
            .map(|s| (s.order_progress, s.id, s.name.as_str(), s.order_by))
            .collect();
        assert_eq!(
            read,
            [
                (100, 3423, "mallguard保留", Some(1)),
                (100, 3425, "在庫確認中", Some(2)),
                (300, 3424, "mallguard保留", Some(1)),
                (300, 3426, "同梱待ち", None),
            ]
        );
        assert!(list.messages.is_empty());
        assert_eq!(list.named(100, "mallguard保留").map(|s| s.id), Some(3423));
        assert_eq!(list.named(300, " mallguard保留 ").map(|s| s.id), Some(3424));
        // None defined for 200, and names are matched whole.
        assert_eq!(list.named(200, "mallguard保留"), None);
        assert_eq!(list.named(100, "mallguard"), None);
    }

    #[test]
    fn a_sub_status_list_is_read_leniently_where_the_shape_allows() {
        // Ids as strings, null lists, no message list: still the same answer.
        let body = r#"{"StatusModelList":[{"orderProgress":"300","SubStatusModelList":[{"subStatusId":"3424","subStatusName":"mallguard保留"}]},{"orderProgress":100,"SubStatusModelList":null}]}"#;
        let list = parse_sub_status_list(body.as_bytes()).unwrap();
        assert_eq!(list.named(300, "mallguard保留").map(|s| s.id), Some(3424));
        assert_eq!(list.sub_statuses.len(), 1);
        // A shop without sub-statuses.
        let none = parse_sub_status_list(br#"{"MessageModelList":[],"StatusModelList":null}"#).unwrap();
        assert!(none.sub_statuses.is_empty());
    }

    #[test]
    fn a_malformed_sub_status_list_is_a_clear_error() {
        let wrong = br#"{"StatusModelList":[{"orderProgress":100,"SubStatusModelList":[{"subStatusId":1,"subStatusName":"a"},{"subStatusId":true}]}]}"#;
        let message = parse_sub_status_list(wrong).unwrap_err().to_string();
        assert!(
            message.contains(
                "StatusModelList[0].SubStatusModelList[1].subStatusId: must be a whole number, not a boolean"
            ),
            "{message}"
        );
        let negative = br#"{"StatusModelList":[{"orderProgress":-1,"SubStatusModelList":[]}]}"#;
        assert!(
            matches!(parse_sub_status_list(negative), Err(ParseError::Invalid(m)) if m.starts_with("StatusModelList[0].orderProgress: \"-1\" is not a whole number"))
        );
        assert!(matches!(
            parse_sub_status_list(&sample("error-unauthorized.json")),
            Err(ParseError::Invalid(m)) if m.starts_with("not a getSubStatusList answer")
        ));
        let refused = br#"{"MessageModelList":[{"messageType":"ERROR","messageCode":"X_ERROR_1","message":"no"}]}"#;
        assert!(matches!(
            parse_sub_status_list(refused),
            Err(ParseError::Invalid(m)) if m == "MessageModelList[0]: the API refused the request: X_ERROR_1 no"
        ));
        assert!(matches!(parse_sub_status_list(b""), Err(ParseError::NotJson(_))));
        assert!(matches!(
            parse_sub_status_list(&sample("error-throttled.xml")),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(
            parse_sub_status_list(b"[]").unwrap_err(),
            ParseError::NotObject("an array")
        );
        assert_eq!(
            parse_sub_status_list(&nested(100_000)).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
    }

    #[test]
    fn a_sub_status_set_on_one_order_is_done() {
        let body = sample("updateOrderSubStatus.json");
        assert_eq!(Failure::of_write(200, &body), None);
        let answer = parse_write_answer(&body, &[number(YAMADA)]).unwrap();
        assert_eq!(answer.outcomes.len(), 1);
        let WriteOutcome::Done { messages } = answer.outcome(&number(YAMADA)).unwrap() else {
            panic!("{answer:?}");
        };
        assert_eq!(messages[0].code, "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_INFO_101");
        assert_eq!(messages[0].order_number.as_deref(), Some(YAMADA));
        assert!(answer.outcomes[0].outcome.is_done());
    }

    #[test]
    fn one_order_refused_within_an_http_200_leaves_the_other_done() {
        let body = sample("updateOrderSubStatus-partial.json");
        // Failure::of reads any ERROR without a result as a refusal of the request…
        assert!(matches!(
            Failure::of(200, &body),
            Some(Failure::Invalid { status: 200, .. })
        ));
        // …but for a write it is a per-order answer.
        assert_eq!(Failure::of_write(200, &body), None);
        let requested = [number(YAMADA), number(CANCELLED_EARLIER)];
        let answer = parse_write_answer(&body, &requested).unwrap();
        let numbers: Vec<&str> = answer.outcomes.iter().map(|o| o.order_number.as_str()).collect();
        assert_eq!(numbers, [YAMADA, CANCELLED_EARLIER]);
        assert!(answer.outcomes[0].outcome.is_done());
        assert_eq!(
            answer.outcomes[1].outcome,
            WriteOutcome::Refused {
                code: "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_101".into(),
                message: "指定された注文番号は既にキャンセルされているため、サブステータスの更新が出来る状態ではありませんでした。"
                    .into()
            }
        );
        assert_eq!(answer.messages.len(), 2);
        // An order the answer does not mention is not assumed done.
        let third = number("386193-20261123-0000012401");
        let answer = parse_write_answer(&body, &[number(YAMADA), third.clone()]).unwrap();
        assert_eq!(answer.outcome(&third), Some(&WriteOutcome::Unconfirmed));
        assert_eq!(answer.outcome(&number(CANCELLED_EARLIER)), None);
    }

    #[test]
    fn the_memo_and_the_cancel_answers_are_done() {
        let memo = sample("updateOrderMemo.json");
        assert_eq!(Failure::of_write(200, &memo), None);
        let answer = parse_write_answer(&memo, &[number(YAMADA)]).unwrap();
        assert!(matches!(
            answer.outcome(&number(YAMADA)),
            Some(WriteOutcome::Done { messages }) if messages[0].code == "ORDER_EXT_API_UPDATE_ORDERMEMO_INFO_101"
        ));
        let cancel = sample("cancelOrder.json");
        assert_eq!(Failure::of_write(200, &cancel), None);
        let answer = parse_write_answer(&cancel, &[number(YAMADA)]).unwrap();
        let Some(WriteOutcome::Done { messages }) = answer.outcome(&number(YAMADA)) else {
            panic!("{answer:?}");
        };
        assert_eq!(messages[0].code, "ORDER_EXT_API_CANCEL_ORDER_INFO_101");
        assert_eq!(messages[0].text, "キャンセル申請に成功しました。");
    }

    #[test]
    fn a_cancel_refused_for_the_order_is_refused_whatever_its_code_and_status() {
        // cancelOrder's refusal codes are not documented: this one is made up.
        let body = format!(
            r#"{{"MessageModelList":[{{"messageType":"ERROR","messageCode":"ORDER_EXT_API_CANCEL_ORDER_ERROR_999","message":"{}","orderNumber":"{YAMADA}"}}]}}"#,
            "あ".repeat(2000)
        );
        for status in [200, 400] {
            assert_eq!(Failure::of_write(status, body.as_bytes()), None, "{status}");
        }
        let answer = parse_write_answer(body.as_bytes(), &[number(YAMADA)]).unwrap();
        let Some(WriteOutcome::Refused { code, message }) = answer.outcome(&number(YAMADA)) else {
            panic!("{answer:?}");
        };
        assert_eq!(code, "ORDER_EXT_API_CANCEL_ORDER_ERROR_999");
        // The mall's text is echoed, bounded.
        assert_eq!(message.chars().count(), 1024);
        // An ERROR and an INFO for the same order: refused.
        let mixed = format!(
            r#"{{"MessageModelList":[{{"messageType":"INFO","messageCode":"I","message":"ok","orderNumber":"{YAMADA}"}},{{"messageType":"ERROR","messageCode":"E","message":"no","orderNumber":"{YAMADA}"}}]}}"#
        );
        let answer = parse_write_answer(mixed.as_bytes(), &[number(YAMADA)]).unwrap();
        assert!(matches!(answer.outcome(&number(YAMADA)), Some(WriteOutcome::Refused { code, .. }) if code == "E"));
    }

    #[test]
    fn an_entry_without_an_order_number_applies_to_a_one_order_request_only() {
        let body = br#"{"MessageModelList":[{"messageType":"INFO","messageCode":"ORDER_EXT_API_UPDATE_ORDERMEMO_INFO_101","message":"ok"}]}"#;
        let answer = parse_write_answer(body, &[number(YAMADA)]).unwrap();
        assert!(answer.outcomes[0].outcome.is_done());
        let two = [number(YAMADA), number(CANCELLED_EARLIER)];
        let answer = parse_write_answer(body, &two).unwrap();
        assert!(answer.outcomes.iter().all(|o| o.outcome == WriteOutcome::Unconfirmed));
        // A WARNING counts as done and is kept; an unknown type decides nothing.
        let warned = format!(
            r#"{{"MessageModelList":[{{"messageType":"WARNING","messageCode":"W","message":"w","orderNumber":"{YAMADA}"}},{{"messageType":"NOTICE","messageCode":"N","message":"n","orderNumber":"{CANCELLED_EARLIER}"}}]}}"#
        );
        let answer = parse_write_answer(warned.as_bytes(), &two).unwrap();
        assert!(matches!(&answer.outcomes[0].outcome, WriteOutcome::Done { messages } if messages[0].code == "W"));
        assert_eq!(answer.outcomes[1].outcome, WriteOutcome::Unconfirmed);
        // Nothing at all.
        let empty = parse_write_answer(br#"{"MessageModelList":[]}"#, &[number(YAMADA)]).unwrap();
        assert_eq!(empty.outcomes[0].outcome, WriteOutcome::Unconfirmed);
    }

    #[test]
    fn a_refusal_of_the_whole_write_request_is_a_failure_not_a_per_order_answer() {
        let body = sample("updateOrderSubStatus-invalid.json");
        let Some(Failure::Invalid { status: 400, messages }) = Failure::of_write(400, &body) else {
            panic!("{:?}", Failure::of_write(400, &body));
        };
        assert_eq!(messages[0].code, "ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_009");
        // The same under a 200 is no less a refusal of the request.
        assert!(matches!(
            Failure::of_write(200, &body),
            Some(Failure::Invalid { status: 200, .. })
        ));
        assert_eq!(
            parse_write_answer(&body, &[number(YAMADA)]).unwrap_err(),
            ParseError::Invalid(
                "MessageModelList[0]: the API refused the request: ORDER_EXT_API_UPDATE_ORDERSUBSTATUS_ERROR_009 \
                 subStatusIdの項目を指定して下さい。"
                    .into()
            )
        );
        // Transport and gateway failures stay what Failure::of says, whatever the body.
        let unauthorized = sample("error-unauthorized.json");
        assert!(matches!(
            Failure::of_write(401, &unauthorized),
            Some(Failure::Unauthorized { status: 401, .. })
        ));
        assert!(matches!(
            Failure::of_write(200, &unauthorized),
            Some(Failure::Unauthorized { status: 200, .. })
        ));
        let partial = sample("updateOrderSubStatus-partial.json");
        assert_eq!(
            Failure::of_write(403, &partial),
            Some(Failure::Throttled { status: 403 })
        );
        assert_eq!(Failure::of_write(429, b""), Some(Failure::Throttled { status: 429 }));
        assert_eq!(
            Failure::of_write(503, &partial),
            Some(Failure::Unavailable { status: 503 })
        );
        assert!(matches!(
            Failure::of_write(404, &partial),
            Some(Failure::Invalid { status: 404, .. })
        ));
        // A 400 without any message naming an order is a refusal of the request.
        assert!(matches!(
            Failure::of_write(400, b"{}"),
            Some(Failure::Invalid { status: 400, .. })
        ));
        assert!(matches!(
            Failure::of_write(400, br#"{"MessageModelList":[]}"#),
            Some(Failure::Invalid { status: 400, .. })
        ));
    }

    #[test]
    fn a_malformed_write_answer_is_a_clear_error() {
        let requested = [number(YAMADA)];
        assert!(matches!(
            parse_write_answer(b"", &requested),
            Err(ParseError::NotJson(_))
        ));
        assert!(matches!(
            parse_write_answer(b"<html>busy</html>", &requested),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(
            parse_write_answer(b"null", &requested).unwrap_err(),
            ParseError::NotObject("null")
        );
        assert!(matches!(
            parse_write_answer(br#"{"Results":{"errorCode":"ES01-01","message":"Un-Authorised"}}"#, &requested),
            Err(ParseError::Invalid(m)) if m.starts_with("not a updateOrderSubStatus, updateOrderMemo or cancelOrder answer")
        ));
        assert!(matches!(
            parse_write_answer(br#"{"MessageModelList":{"messageType":"INFO"}}"#, &requested),
            Err(ParseError::Invalid(m)) if m.starts_with("MessageModelList: invalid type: map")
        ));
        assert!(matches!(
            parse_write_answer(br#"{"MessageModelList":[{"messageType":"INFO","orderNumber":12345}]}"#, &requested),
            Err(ParseError::Invalid(m)) if m.starts_with("MessageModelList[0].orderNumber: invalid type: integer")
        ));
        assert_eq!(
            parse_write_answer(&nested(100_000), &requested).unwrap_err(),
            ParseError::TooDeep(crate::MAX_DEPTH)
        );
    }

    #[test]
    fn the_write_state_of_an_order_says_whether_it_may_be_cancelled() {
        let answer: serde_json::Value = serde_json::from_slice(&sample("getOrder.json")).unwrap();
        let raw = |i: usize| serde_json::to_vec(&answer["OrderModelList"][i]).unwrap();
        let yamada = order_write_state(&raw(0)).unwrap();
        assert_eq!(
            yamada,
            OrderWriteState {
                order_number: number(YAMADA),
                order_progress: 300,
                sub_status_id: None,
                sub_status_name: None,
                memo: None,
            }
        );
        assert!(yamada.can_cancel());
        // The bytes a PolledOrder keeps read the same.
        let polled = orders(&sample("getOrder.json"));
        assert_eq!(order_write_state(&polled[0].1).unwrap(), yamada);
        assert_eq!(order_write_state(&polled[1].1).unwrap().order_progress, 100);

        let cancelled = parse_get_order(&sample("getOrder-cancelled.json"), &shop()).unwrap();
        let (_, bytes) = cancelled[0].as_ref().unwrap();
        let state = order_write_state(bytes).unwrap();
        assert_eq!(state.order_progress, PROGRESS_CANCELLED);
        assert!(!state.can_cancel());

        let mut marked = answer["OrderModelList"][0].clone();
        marked["orderProgress"] = 500.into();
        marked["subStatusId"] = "3424".into();
        marked["subStatusName"] = "mallguard保留".into();
        marked["memo"] = "【mallguard】重複注文の疑い".into();
        let state = order_write_state(&serde_json::to_vec(&marked).unwrap()).unwrap();
        assert_eq!(state.sub_status_id, Some(3424));
        assert_eq!(state.sub_status_name.as_deref(), Some("mallguard保留"));
        assert_eq!(state.memo.as_deref(), Some("【mallguard】重複注文の疑い"));
        assert!(!state.can_cancel());

        marked["orderProgress"] = json!(null);
        assert!(matches!(
            order_write_state(&serde_json::to_vec(&marked).unwrap()),
            Err(ParseError::Invalid(m)) if m.starts_with("orderProgress: must be a whole number, not null")
        ));
        assert!(matches!(
            order_write_state(br#"{"orderProgress":100}"#),
            Err(ParseError::Invalid(m)) if m == "missing field `orderNumber`"
        ));
    }
}
