//! Yahoo!ショッピング: the store API (ストア向けAPI) that a poller calls, since Yahoo pushes no order webhooks.
//!
//! Pure, like every mall module: this file builds the request bodies and headers and reads the responses;
//! the caller does the HTTP and owns the clock. The shapes come from the reference in the project's research
//! notes on the Yahoo store API (`orderList`, `orderInfo`, `orderStatusChange`, Yahoo! ID連携 v2 token refresh,
//! 公開鍵認証); `events/README.md` cites the sources per sample. In short:
//!
//! - [`order_list_request`] / [`parse_order_list`]: `POST …/orderList`, body `<Req><Search>…</Search>
//!   <SellerId/></Req>`, answer `<Result><Status/><Search><TotalCount/><OrderInfo/>…</Search></Result>` with
//!   flat fields. It finds orders by order time; there is no "updated since" condition (none could be
//!   verified), so status changes of older orders are seen by re-reading a look-back window or by
//!   [`order_info_request`] for the orders still open.
//! - [`order_info_request`] / [`parse_order_info`]: `POST …/orderInfo`, one order per call, answer
//!   `<ResultSet><Result><Status/><OrderInfo>` with `Pay` (payment and the Bill* buyer), `Ship` (the Ship*
//!   recipient, requested date and gift wrapping), `Detail` (amounts), repeated `Item` and `Seller`.
//! - [`order_status_change_request`]: `POST …/orderStatusChange`, e.g. to cancel a duplicate (4, reason 160
//!   重複注文). On top of it, [`status_change_request`] for mallguard's three writes ([`StatusChange`]: hold
//!   2 → 3, release 3 → 2, cancel → 4), [`StatusChange::check`] / [`OrderInfo::check_change`] to decide
//!   before sending (Yahoo's transition table, the fraud-screening restriction, and `ShipStatus`, since
//!   shipping does not stop a cancel at Yahoo), and [`order_status_change_outcome`] /
//!   [`parse_order_status_change`] for the answer (`Status` OK, `Warning`, or a refusal such as `Cannot Be
//!   Operated : …`).
//! - [`token_refresh_form`] and [`basic_authorization`]: the refresh at [`TOKEN_URL`].
//! - [`sws_signature`]: the `X-sws-signature` header of 公開鍵認証. Without it the order API's session ends
//!   after 12 hours ([`Failure::SessionExpired`]); check [`authorize_status`] on every answer.
//! - [`classify`]: what a failed answer means for the poller ([`Failure`]).
//!
//! # Reading XML
//!
//! Every response is read with a real XML parser (quick-xml), so CDATA sections, character references and
//! the five predefined entities are read as XML defines them. Before anything typed reads a body, one flat,
//! non-recursive pass refuses a body that is not UTF-8, carries a DOCTYPE (so no entity is ever declared or
//! expanded, and no external entity fetched), refers to any entity beyond the five, or nests elements deeper
//! than [`MAX_DEPTH`]. Errors name the element path below the root element:
//! `Result.OrderInfo.Pay.BillMailAddress: …`, `Result.OrderInfo.Item[0].Quantity: …`.
//!
//! # What is not verified
//!
//! Yahoo's own field tables could not be read whole. Element names used here all appear in the research
//! notes; the value formats of `ShipRequestDate`, `ShipRequestTime`, `NeedGiftWrap`, `FraudHoldStatus` and
//! `IsCashOnDelivery`, and the full `PayMethod` list, are not verified, so they are read leniently (see each
//! function) and an unreadable value is an error naming its element rather than a guess.
//!
//! orderStatusChange's own request, response and error tables could not be read either (research notes on
//! the mall writes, `/work/research/actions.md` §2): its element names come from two third-party clients
//! that agree (JSPSystem/yahoo-shopping-api-client, kunitake1028/yahoo-shopping-jp-php), its transition table
//! from Yahoo's page, and the fraud-screening rule from Yahoo's changelog of 2021-08-30. Not verified: the
//! root element of its answer (both forms the clients imply are read), the `Code` and HTTP status of a
//! refusal, the meanings of the `od9…` codes, `IsPointFix` for a hold or a release (false is sent), the
//! table's notes ※4 and ※5, and the `CancelReason` list beyond a 2017-era SDK transcription.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use mallguard_domain::ids::{Mall, OrderId, OrderRef, ProductKey, ShopId};
use mallguard_domain::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderLine, OrderLines, OrderStatus, PayloadDigest, PaymentMethod,
    PostalAddress, Quantity,
};
use mallguard_domain::policy::jst;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use secrecy::SecretString;
use serde::Deserialize;

use crate::{Headers, ParseError, PolledOrder, decode_xml, non_empty};

/// The production base URL of the store API; append `orderList`, `orderInfo`, `orderStatusChange`.
pub const PRODUCTION_BASE_URL: &str = "https://circus.shopping.yahooapis.jp/ShoppingWebService/V1/";
/// The test environment's base URL, for sandbox stores (seller ids starting `snbx-`).
pub const TEST_BASE_URL: &str = "https://test.circus.shopping.yahooapis.jp/ShoppingWebService/V1/";
/// Yahoo! ID連携 v2's token endpoint (refresh with [`token_refresh_form`] and [`basic_authorization`]).
pub const TOKEN_URL: &str = "https://auth.login.yahoo.co.jp/yconnect/v2/token";
/// The content type of every store API request body.
pub const CONTENT_TYPE: &str = "application/xml; charset=UTF-8";

/// The header with Base64(RSA-PKCS#1-v1.5(store public key, `"<SellerId>:<unix seconds>"`)).
pub const SIGNATURE_HEADER: &str = "X-sws-signature";
/// The header with the version of the public key, as shown next to it in ストアクリエイターPro 暗号鍵管理.
pub const SIGNATURE_VERSION_HEADER: &str = "X-sws-signature-version";
/// The response header that says whether the public-key authentication was accepted.
pub const AUTHORIZE_STATUS_HEADER: &str = "X-SWS-Authorize-Status";
/// The response header of a refused bearer token.
pub const WWW_AUTHENTICATE_HEADER: &str = "WWW-Authenticate";

/// The fields [`parse_order_list`] reads, for [`order_list_request`].
pub const ORDER_LIST_FIELDS: [&str; 7] = [
    "OrderId",
    "OrderTime",
    "LastUpdateTime",
    "OrderStatus",
    "IsSeen",
    "PublicationTime",
    "FraudHoldStatus",
];

/// The fields to ask for in [`order_info_request`]: what [`parse_order_info`] reads, and what the staff look
/// for in the kept response (`BuyerComments`, `ShipNotes`, the charges, `SubCodeOption`). Item fields are
/// named plainly: `ItemId`, not `Item.ItemId`.
pub const ORDER_INFO_FIELDS: [&str; 55] = [
    "OrderId",
    "OrderTime",
    "LastUpdateTime",
    "OrderStatus",
    "IsSeen",
    "FraudHoldStatus",
    "CancelReason",
    "PayMethod",
    "PayMethodName",
    "BillFirstName",
    "BillFirstNameKana",
    "BillLastName",
    "BillLastNameKana",
    "BillZipCode",
    "BillPrefecture",
    "BillCity",
    "BillAddress1",
    "BillAddress2",
    "BillPhoneNumber",
    "BillMailAddress",
    "ShipStatus",
    "ShipMethodName",
    "ShipRequestDate",
    "ShipRequestTime",
    "IsCashOnDelivery",
    "NeedGiftWrap",
    "GiftWrapType",
    "GiftWrapMessage",
    "NeedGiftWrapPaper",
    "ShipFirstName",
    "ShipFirstNameKana",
    "ShipLastName",
    "ShipLastNameKana",
    "ShipZipCode",
    "ShipPrefecture",
    "ShipCity",
    "ShipAddress1",
    "ShipAddress2",
    "ShipPhoneNumber",
    "PayCharge",
    "ShipCharge",
    "GiftWrapCharge",
    "Discount",
    "UsePoint",
    "TotalPrice",
    "LineId",
    "ItemId",
    "Title",
    "SubCode",
    "SubCodeOption",
    "Quantity",
    "UnitPrice",
    "SellerId",
    "BuyerComments",
    "ShipNotes",
];

/// The base URL for a seller: sandbox stores (`snbx-…`) live on the test environment.
pub fn base_url(seller_id: &ShopId) -> &'static str {
    if seller_id.as_str().starts_with("snbx-") {
        TEST_BASE_URL
    } else {
        PRODUCTION_BASE_URL
    }
}

/// Yahoo's `OrderStatus`, as orderStatusChange's transition table numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YahooOrderStatus {
    /// 1 予約中: a reservation, not yet released.
    Reserved,
    /// 2 処理中: a new or accepted order.
    Processing,
    /// 3 保留: held by the store (which includes a hold mallguard asks for).
    OnHold,
    /// 4 キャンセル: final; a cancelled order never changes status again.
    Cancelled,
    /// 5 完了: the store completed the order (after shipping).
    Completed,
}

impl YahooOrderStatus {
    /// The code Yahoo writes, `1` to `5`.
    pub fn code(self) -> u8 {
        match self {
            YahooOrderStatus::Reserved => 1,
            YahooOrderStatus::Processing => 2,
            YahooOrderStatus::OnHold => 3,
            YahooOrderStatus::Cancelled => 4,
            YahooOrderStatus::Completed => 5,
        }
    }

    /// The status from Yahoo's code; None for anything but `1` to `5`.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim() {
            "1" => Some(YahooOrderStatus::Reserved),
            "2" => Some(YahooOrderStatus::Processing),
            "3" => Some(YahooOrderStatus::OnHold),
            "4" => Some(YahooOrderStatus::Cancelled),
            "5" => Some(YahooOrderStatus::Completed),
            _ => None,
        }
    }

    /// The canonical status: 4 is cancelled, 5 shipped, the rest (1, 2 and the hold 3) open.
    pub fn to_status(self) -> OrderStatus {
        match self {
            YahooOrderStatus::Cancelled => OrderStatus::Cancelled,
            YahooOrderStatus::Completed => OrderStatus::Shipped,
            YahooOrderStatus::Reserved | YahooOrderStatus::Processing | YahooOrderStatus::OnHold => OrderStatus::Open,
        }
    }
}

/// A `CancelReason` code for [`order_status_change_request`], as transcribed from Yahoo's page by a PHP SDK
/// (kunitake1028/yahoo-shopping-jp-php `Enum/CancelReason.php`: 100–180 注文者都合, 200–230 ストア都合); Yahoo's
/// own list could not be read. A code 400 said to be added in 2026-01 was found in no source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CancelReason(pub u16);

impl CancelReason {
    /// 注文者都合: キャンセル.
    pub const BUYER_CANCELLED: CancelReason = CancelReason(100);
    /// 注文者都合: 重複注文 — what mallguard sends for a duplicate the buyer asked to cancel.
    pub const DUPLICATE_ORDER: CancelReason = CancelReason(160);
    /// 注文者都合: その他 — for a hold nobody answered before its deadline.
    pub const BUYER_OTHER: CancelReason = CancelReason(180);
    /// ストア都合: 欠品.
    pub const OUT_OF_STOCK: CancelReason = CancelReason(210);
    /// ストア都合: その他.
    pub const STORE_OTHER: CancelReason = CancelReason(230);
}

// ---------------------------------------------------------------------------------------------------------
// Bounded XML
// ---------------------------------------------------------------------------------------------------------

fn check_xml(raw: &[u8]) -> Result<(&str, String), ParseError> {
    crate::check_xml(raw, "response")
}

/// `<Error><Message/><Code/></Error>`, Yahoo's error document.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireError {
    message: Option<String>,
    code: Option<String>,
}

/// Refuses a document whose root is not `expected`; an `<Error>` document says what Yahoo answered.
fn expect_root(text: &str, root: &str, expected: &str) -> Result<(), ParseError> {
    if root == expected {
        return Ok(());
    }
    if root == "Error" {
        let error: WireError = decode_xml(text).unwrap_or_default();
        let code = non_empty(error.code.as_deref()).unwrap_or("no code");
        let message = bounded(non_empty(error.message.as_deref()).unwrap_or(""));
        return Err(ParseError::Invalid(format!(
            "Yahoo answered with an error, not {expected}: {code}: {message}"
        )));
    }
    Err(ParseError::Invalid(format!(
        "the root element is {root}, not {expected}"
    )))
}

/// A text cut to 300 characters, for error messages that may quote what Yahoo sent.
fn bounded(text: &str) -> String {
    text.chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------------------------
// orderInfo
// ---------------------------------------------------------------------------------------------------------

/// One order read from an orderInfo response: the canonical order and what Yahoo says beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInfo {
    /// The canonical order: `yahoo/<seller id>/<OrderId>`.
    pub order: Order,
    /// Yahoo's own status; [`Order::status`] is derived from it (and from `ShipStatus`).
    pub order_status: YahooOrderStatus,
    /// `ShipStatus` as sent: 0 出荷不可, 1 出荷可, 2 出荷処理中, 3 出荷済み, 4 着荷済み.
    pub ship_status: Option<u8>,
    /// `FraudHoldStatus` (不正保留ステータス) as sent, when not blank. See [`OrderInfo::fraud_hold`].
    pub fraud_hold_status: Option<String>,
    /// `CancelReason` of a cancelled order, as sent (e.g. `160` 重複注文).
    pub cancel_reason: Option<String>,
    /// `LastUpdateTime`: compare it with what is stored to skip orders that did not change.
    pub last_update_time: Option<Timestamp>,
    /// `IsSeen`: whether the store has opened the order (`false` with status 2 is Yahoo's 新規注文).
    pub is_seen: Option<bool>,
    /// `Result.Warning` entries, when Yahoo adds any.
    pub warnings: Vec<YahooMessage>,
}

/// Reads `FraudHoldStatus` as Yahoo's change log of 2021-08-30 gives its values: blank or `0` no screening,
/// `1` ルール保留審査中 (under screening) and `3` ルール悪用確定 (abuse confirmed) a hold, `2` ルール保留解除
/// (released) none. A value the log does not name is read as a hold: the staff see it, nothing is lost.
pub fn screening_holds(value: Option<&str>) -> bool {
    !matches!(value.map(str::trim), None | Some("" | "0" | "2"))
}

impl OrderInfo {
    /// Whether Yahoo holds the order for fraud screening (不正注文の審査). The order stays
    /// [`OrderStatus::Open`] (it may still ship), and the caller should show the hold to the staff.
    /// See [`screening_holds`] for how the value is read.
    pub fn fraud_hold(&self) -> bool {
        screening_holds(self.fraud_hold_status.as_deref())
    }
}

/// A `Warning` (or an `Error`) as Yahoo writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YahooMessage {
    pub code: Option<String>,
    pub message: Option<String>,
    pub detail: Option<String>,
}

/// What [`parse_order_info`] returns: the order and the response's exact bytes, or the bytes and why they
/// were refused (so the caller quarantines them).
pub type PolledOrderInfo = Result<(OrderInfo, Vec<u8>), (Vec<u8>, ParseError)>;

/// Parses an orderInfo response (one order per response) into the order of the seller `shop`.
///
/// - `OrderTime` (`2026-11-23T12:30:00+09:00`; a time without an offset is read as JST) is `placed_at`.
/// - `OrderStatus` 1, 2, 3 are open, 4 cancelled, 5 (完了) shipped; `ShipStatus` 3 (出荷済み) or 4 (着荷済み)
///   also make an open order shipped. A fraud-screening hold stays open: see [`OrderInfo::fraud_hold`].
/// - The buyer is the billing person of `Pay` (`BillLastName BillFirstName`, kana, `BillMailAddress`,
///   `BillPhoneNumber`, the Bill* address); the ship-to is `Ship`'s (`ShipLastName ShipFirstName`, its
///   reading `ShipLastNameKana ShipFirstNameKana`), or the buyer's address when `Ship` names no one (a field
///   list without the Ship* fields).
/// - Each `Item` is a line keyed by its `SubCode` (個別商品コード, the code of one option combination) when
///   it has one, else by its `ItemId` (商品コード); `Title`, `Quantity`, `UnitPrice`. `Detail/TotalPrice` is
///   the total.
/// - `ShipRequestDate` (`2026-11-25`, `2026/11/25` or `20261125`) and `ShipRequestTime` (kept as written)
///   are the delivery request; `NeedGiftWrap` or `NeedGiftWrapPaper` (`true` or `1`) or a
///   `GiftWrapMessage` make a gift; `PayMethod` `payment_d1` (商品代引) or `IsCashOnDelivery` make cash on
///   delivery.
/// - When `Seller/SellerId` is present it must be `shop`.
pub fn parse_order_info(response: &[u8], shop: &ShopId) -> PolledOrderInfo {
    match read_order_info(response, shop) {
        Ok(info) => Ok((info, response.to_vec())),
        Err(e) => Err((response.to_vec(), e)),
    }
}

/// [`parse_order_info`] for callers that want only the canonical order.
pub fn parse_order(response: &[u8], shop: &ShopId) -> PolledOrder {
    parse_order_info(response, shop).map(|(info, raw)| (info.order, raw))
}

fn read_order_info(response: &[u8], shop: &ShopId) -> Result<OrderInfo, ParseError> {
    let (text, root) = check_xml(response)?;
    expect_root(text, &root, "ResultSet")?;
    let result_set: WireInfoResultSet = decode_xml(text)?;
    let result = result_set.result;
    check_status(result.status.as_deref(), "Result.Status")?;
    let info = result
        .order_info
        .ok_or_else(|| ParseError::field("Result.OrderInfo", "is missing"))?;
    let warnings = result.warning.into_iter().map(WireWarning::into_message).collect();
    info.into_order_info(response, shop, warnings)
}

fn check_status(status: Option<&str>, field: &str) -> Result<(), ParseError> {
    match non_empty(status) {
        None | Some("OK") => Ok(()),
        Some(other) => Err(ParseError::field(
            field,
            format_args!("is {:?}, not OK", bounded(other)),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireInfoResultSet {
    result: WireInfoResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireInfoResult {
    status: Option<String>,
    order_info: Option<WireOrderInfo>,
    #[serde(default)]
    warning: Vec<WireWarning>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireWarning {
    code: Option<String>,
    message: Option<String>,
    detail: Option<String>,
}

impl WireWarning {
    fn into_message(self) -> YahooMessage {
        let text = |value: Option<String>| non_empty(value.as_deref()).map(bounded);
        YahooMessage {
            code: text(self.code),
            message: text(self.message),
            detail: text(self.detail),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireOrderInfo {
    order_id: Option<String>,
    order_time: Option<String>,
    last_update_time: Option<String>,
    order_status: Option<String>,
    is_seen: Option<String>,
    fraud_hold_status: Option<String>,
    cancel_reason: Option<String>,
    #[serde(default)]
    pay: WirePay,
    #[serde(default)]
    ship: WireShip,
    #[serde(default)]
    detail: WireDetail,
    #[serde(default)]
    item: Vec<WireItem>,
    seller: Option<WireSeller>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WirePay {
    pay_method: Option<String>,
    bill_first_name: Option<String>,
    bill_first_name_kana: Option<String>,
    bill_last_name: Option<String>,
    bill_last_name_kana: Option<String>,
    bill_zip_code: Option<String>,
    bill_prefecture: Option<String>,
    bill_city: Option<String>,
    bill_address1: Option<String>,
    bill_address2: Option<String>,
    bill_phone_number: Option<String>,
    bill_mail_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireShip {
    ship_status: Option<String>,
    ship_method_name: Option<String>,
    ship_request_date: Option<String>,
    ship_request_time: Option<String>,
    is_cash_on_delivery: Option<String>,
    need_gift_wrap: Option<String>,
    gift_wrap_message: Option<String>,
    need_gift_wrap_paper: Option<String>,
    ship_first_name: Option<String>,
    ship_first_name_kana: Option<String>,
    ship_last_name: Option<String>,
    ship_last_name_kana: Option<String>,
    ship_zip_code: Option<String>,
    ship_prefecture: Option<String>,
    ship_city: Option<String>,
    ship_address1: Option<String>,
    ship_address2: Option<String>,
    ship_phone_number: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireDetail {
    total_price: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireItem {
    item_id: Option<String>,
    title: Option<String>,
    sub_code: Option<String>,
    quantity: Option<String>,
    unit_price: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireSeller {
    seller_id: Option<String>,
}

/// The element path of an orderInfo field.
fn info_path(field: &str) -> String {
    format!("Result.OrderInfo.{field}")
}

impl WireOrderInfo {
    fn into_order_info(self, raw: &[u8], shop: &ShopId, warnings: Vec<YahooMessage>) -> Result<OrderInfo, ParseError> {
        let required = |value: &Option<String>, field: &str| {
            non_empty(value.as_deref())
                .map(str::to_owned)
                .ok_or_else(|| ParseError::field(&info_path(field), "is missing"))
        };
        let order_id = OrderId::parse(&required(&self.order_id, "OrderId")?)
            .map_err(|e| ParseError::field(&info_path("OrderId"), e))?;
        if let Some(seller) = self.seller.as_ref().and_then(|s| non_empty(s.seller_id.as_deref()))
            && seller != shop.as_str()
        {
            return Err(ParseError::field(
                &info_path("Seller.SellerId"),
                format_args!("the order is of seller {:?}, not {:?}", bounded(seller), shop.as_str()),
            ));
        }
        let placed_at = yahoo_time(&required(&self.order_time, "OrderTime")?)
            .map_err(|e| ParseError::field(&info_path("OrderTime"), e))?;
        let last_update_time = non_empty(self.last_update_time.as_deref())
            .map(|t| yahoo_time(t).map_err(|e| ParseError::field(&info_path("LastUpdateTime"), e)))
            .transpose()?;
        let status_code = required(&self.order_status, "OrderStatus")?;
        let order_status = YahooOrderStatus::from_code(&status_code).ok_or_else(|| {
            ParseError::field(
                &info_path("OrderStatus"),
                format_args!("{:?} is not one of 1 to 5", bounded(&status_code)),
            )
        })?;
        let ship_status = non_empty(self.ship.ship_status.as_deref())
            .map(|s| {
                s.parse::<u8>().map_err(|_| {
                    ParseError::field(
                        &info_path("Ship.ShipStatus"),
                        format_args!("{:?} is not a number", bounded(s)),
                    )
                })
            })
            .transpose()?;
        let status = match order_status.to_status() {
            OrderStatus::Open if matches!(ship_status, Some(3 | 4)) => OrderStatus::Shipped,
            status => status,
        };

        let buyer = self.pay.buyer()?;
        let ship_to = self
            .ship
            .ship_to()
            .or_else(|| buyer.address.clone())
            .unwrap_or_default();
        let lines = self
            .item
            .iter()
            .enumerate()
            .map(|(i, item)| item.to_line(i))
            .collect::<Result<Vec<_>, _>>()?;
        let lines = OrderLines::parse(lines).map_err(|e| ParseError::field(&info_path("Item"), e))?;
        let total = non_empty(self.detail.total_price.as_deref())
            .map(|amount| yen(amount, &info_path("Detail.TotalPrice")))
            .transpose()?;
        let delivery = self.ship.delivery()?;
        let cash_on_delivery = non_empty(self.pay.pay_method.as_deref()) == Some("payment_d1")
            || flag(self.ship.is_cash_on_delivery.as_deref());
        let payment = if cash_on_delivery {
            PaymentMethod::CashOnDelivery
        } else {
            payment_method(non_empty(self.pay.pay_method.as_deref()))
        };
        let gift = flag(self.ship.need_gift_wrap.as_deref())
            || flag(self.ship.need_gift_wrap_paper.as_deref())
            || non_empty(self.ship.gift_wrap_message.as_deref()).is_some();

        let order = Order {
            order_ref: OrderRef::new(Mall::Yahoo, shop.clone(), order_id),
            // The OrderId (`tanaka-yahoo-10000125`) is the number the buyer and the store know.
            number: None,
            placed_at,
            buyer,
            ship_to,
            lines,
            delivery,
            gift,
            payment,
            status,
            total,
            payload_digest: PayloadDigest::of(raw),
            screened_by_mall: false,
        };
        let mut info = OrderInfo {
            order,
            order_status,
            ship_status,
            fraud_hold_status: non_empty(self.fraud_hold_status.as_deref()).map(bounded),
            cancel_reason: non_empty(self.cancel_reason.as_deref()).map(bounded),
            last_update_time,
            is_seen: non_empty(self.is_seen.as_deref()).and_then(boolean),
            warnings,
        };
        info.order.screened_by_mall = info.fraud_hold();
        Ok(info)
    }
}

impl WirePay {
    fn buyer(&self) -> Result<Buyer, ParseError> {
        let name = person(self.bill_last_name.as_deref(), self.bill_first_name.as_deref());
        let kana = person(
            self.bill_last_name_kana.as_deref(),
            self.bill_first_name_kana.as_deref(),
        );
        let email = non_empty(self.bill_mail_address.as_deref())
            .map(|e| EmailAddress::parse(e).map_err(|err| ParseError::field(&info_path("Pay.BillMailAddress"), err)))
            .transpose()?;
        let phone = non_empty(self.bill_phone_number.as_deref()).map(str::to_owned);
        let address = address(
            &name,
            &kana,
            [
                self.bill_zip_code.as_deref(),
                self.bill_prefecture.as_deref(),
                self.bill_city.as_deref(),
                self.bill_address1.as_deref(),
                self.bill_address2.as_deref(),
            ],
            phone.clone(),
        );
        Ok(Buyer {
            name,
            kana: Some(kana).filter(|k| !k.is_empty()),
            email,
            phone,
            address,
            language: None,
        })
    }
}

impl WireShip {
    /// The recipient, or None when the response has no Ship* address at all.
    fn ship_to(&self) -> Option<PostalAddress> {
        let name = person(self.ship_last_name.as_deref(), self.ship_first_name.as_deref());
        let kana = person(
            self.ship_last_name_kana.as_deref(),
            self.ship_first_name_kana.as_deref(),
        );
        let phone = non_empty(self.ship_phone_number.as_deref()).map(str::to_owned);
        address(
            &name,
            &kana,
            [
                self.ship_zip_code.as_deref(),
                self.ship_prefecture.as_deref(),
                self.ship_city.as_deref(),
                self.ship_address1.as_deref(),
                self.ship_address2.as_deref(),
            ],
            phone,
        )
    }

    fn delivery(&self) -> Result<Delivery, ParseError> {
        let requested_date = non_empty(self.ship_request_date.as_deref())
            .filter(|text| is_given(text))
            .map(|text| request_date(text).map_err(|e| ParseError::field(&info_path("Ship.ShipRequestDate"), e)))
            .transpose()?;
        let time_slot = non_empty(self.ship_request_time.as_deref())
            .filter(|text| is_given(text))
            .map(bounded);
        let express = non_empty(self.ship_method_name.as_deref()).is_some_and(|name| {
            let name = name.to_lowercase();
            ["速達", "お急ぎ", "express"].iter().any(|word| name.contains(word))
        });
        Ok(Delivery {
            requested_date,
            time_slot,
            express,
        })
    }
}

impl WireItem {
    fn to_line(&self, index: usize) -> Result<OrderLine, ParseError> {
        let field = |name: &str| info_path(&format!("Item[{index}].{name}"));
        let (code, code_field) = match non_empty(self.sub_code.as_deref()) {
            Some(sub_code) => (sub_code, "SubCode"),
            None => (
                non_empty(self.item_id.as_deref())
                    .ok_or_else(|| ParseError::field(&field("ItemId"), "is missing (and so is SubCode)"))?,
                "ItemId",
            ),
        };
        let product = ProductKey::parse(code).map_err(|e| ParseError::field(&field(code_field), e))?;
        let quantity_text =
            non_empty(self.quantity.as_deref()).ok_or_else(|| ParseError::field(&field("Quantity"), "is missing"))?;
        let quantity = quantity_text
            .parse::<u32>()
            .ok()
            .and_then(|n| Quantity::try_from(n).ok())
            .ok_or_else(|| {
                ParseError::field(
                    &field("Quantity"),
                    format_args!("{:?} is not a whole number of at least 1", bounded(quantity_text)),
                )
            })?;
        let unit_price = non_empty(self.unit_price.as_deref())
            .map(|amount| yen(amount, &field("UnitPrice")))
            .transpose()?;
        Ok(OrderLine {
            product,
            title: non_empty(self.title.as_deref()).unwrap_or_default().to_owned(),
            quantity,
            unit_price,
        })
    }
}

/// `Last First`, family name first as Yahoo and the envelope write it; blank parts left out.
fn person(last: Option<&str>, first: Option<&str>) -> String {
    [non_empty(last), non_empty(first)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// An address from `[zip, prefecture, city, address1, address2]`, or None when all of them are blank.
fn address(
    name: &str,
    kana: &str,
    [zip, prefecture, city, line1, line2]: [Option<&str>; 5],
    phone: Option<String>,
) -> Option<PostalAddress> {
    if [zip, prefecture, city, line1, line2]
        .iter()
        .all(|part| non_empty(*part).is_none())
    {
        return None;
    }
    let text = |part: Option<&str>| non_empty(part).unwrap_or_default().to_owned();
    Some(PostalAddress {
        name: name.to_owned(),
        kana: non_empty(Some(kana)).map(str::to_owned),
        postal_code: postal_code(non_empty(zip).unwrap_or_default()),
        prefecture: text(prefecture),
        city: text(city),
        lines: [line1, line2]
            .into_iter()
            .filter_map(non_empty)
            .map(str::to_owned)
            .collect(),
        phone,
    })
}

/// Yahoo writes postal codes as seven digits (`1000001`); the canonical order writes `100-0001`. Anything
/// else is kept as written.
fn postal_code(zip: &str) -> String {
    if zip.len() == 7 && zip.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}", &zip[..3], &zip[3..])
    } else {
        zip.to_owned()
    }
}

fn yen(amount: &str, field: &str) -> Result<Money, ParseError> {
    Money::parse(amount, "JPY").map_err(|e| ParseError::field(field, e))
}

/// A time as Yahoo's responses write it: ISO 8601 with the JST offset (`2026-11-23T12:30:00+09:00`). A time
/// without an offset (`2026-11-23T12:30:00`, `2026-11-23 12:30:00`, `20261123123000`) is read as JST.
fn yahoo_time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil = if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        DateTime::strptime("%Y%m%d%H%M%S", text)
    } else {
        text.parse::<DateTime>()
    };
    civil
        .and_then(|local| local.to_zoned(jst()))
        .map(|zoned| zoned.timestamp())
        .map_err(|_| format!("{:?} is not a time like 2026-11-23T12:30:00+09:00", bounded(text)))
}

/// A requested delivery date: `2026-11-25`, `2026/11/25`, `20261125`, or a date with a time after it.
fn request_date(text: &str) -> Result<Date, String> {
    let numbers: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .collect();
    let parts = match numbers.as_slice() {
        [compact] if compact.len() == 8 => Some((&compact[..4], &compact[4..6], &compact[6..])),
        [year, month, day, ..] if year.len() == 4 => Some((*year, *month, *day)),
        _ => None,
    };
    parts
        .and_then(|(y, m, d)| Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok())
        .ok_or_else(|| format!("{:?} is not a date like 2026-11-25", bounded(text)))
}

/// Whether a free-text request gives something, rather than saying "none".
fn is_given(text: &str) -> bool {
    !matches!(text.trim(), "指定なし" | "指定無し" | "なし" | "無し" | "希望なし")
}

/// `true`/`false` or `1`/`0`; None for anything else.
fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A flag that is set only when it clearly says so.
fn flag(text: Option<&str>) -> bool {
    non_empty(text).and_then(boolean).unwrap_or(false)
}

/// The payment method of a `PayMethod` code (an older snapshot of Yahoo's list; new codes are `Other`).
fn payment_method(code: Option<&str>) -> PaymentMethod {
    match code {
        Some("payment_d1") => PaymentMethod::CashOnDelivery,
        Some("payment_a1") => PaymentMethod::Card,
        Some("payment_a6" | "payment_a7") => PaymentMethod::Convenience,
        Some(
            "payment_b1" | "payment_b2" | "payment_b3" | "payment_b4" | "payment_b5" | "payment_b6" | "payment_c1",
        ) => PaymentMethod::BankTransfer,
        _ => PaymentMethod::Other,
    }
}

// ---------------------------------------------------------------------------------------------------------
// orderList
// ---------------------------------------------------------------------------------------------------------

/// One page of an orderList search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderListPage {
    /// `Search/TotalCount`: how many orders match, over all pages.
    pub total_count: u32,
    /// The orders of this page, in the order Yahoo listed them.
    pub orders: Vec<ListedOrder>,
}

impl OrderListPage {
    /// The `Start` of the next page after the page asked for with `start` and `result`, or None when this
    /// was the last (`Start` is 1-based; the next page exists while `Start <= TotalCount`).
    pub fn next_start(&self, start: u32, result: u32) -> Option<u32> {
        let next = start.max(1).checked_add(result.max(1))?;
        (next <= self.total_count).then_some(next)
    }
}

/// One order of an orderList page: only what the request's `Field` asked for is present (the list has no
/// address, phone, mail or items; read those with orderInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrder {
    /// `Index`, the position in the result, when sent (seen in one client only).
    pub index: Option<u32>,
    pub order_id: OrderId,
    pub order_time: Option<Timestamp>,
    pub last_update_time: Option<Timestamp>,
    pub order_status: Option<YahooOrderStatus>,
    pub is_seen: Option<bool>,
    /// `PublicationTime`: when the order became visible to orderList (later than `OrderTime` after a fraud
    /// screening).
    pub publication_time: Option<Timestamp>,
    /// As sent; see [`OrderInfo::fraud_hold`] for how it is read.
    pub fraud_hold_status: Option<String>,
}

impl ListedOrder {
    /// Whether Yahoo holds the order for fraud screening; see [`screening_holds`].
    pub fn fraud_hold(&self) -> bool {
        screening_holds(self.fraud_hold_status.as_deref())
    }
}

/// Parses an orderList response (`<Result><Status/><Search><TotalCount/><OrderInfo/>…</Search></Result>`).
///
/// Every field but `OrderId` is optional (the request's `Field` decides what is sent); a field that is sent
/// but unreadable is an error naming it, such as `Search.OrderInfo[1].OrderStatus: …`.
pub fn parse_order_list(response: &[u8]) -> Result<OrderListPage, ParseError> {
    let (text, root) = check_xml(response)?;
    expect_root(text, &root, "Result")?;
    let result: WireListResult = decode_xml(text)?;
    check_status(result.status.as_deref(), "Status")?;
    let search = result.search.ok_or_else(|| ParseError::field("Search", "is missing"))?;
    let total_count = match non_empty(search.total_count.as_deref()) {
        Some(count) => count
            .parse::<u32>()
            .map_err(|_| ParseError::field("Search.TotalCount", format_args!("{:?} is not a count", bounded(count))))?,
        None => u32::try_from(search.order_info.len()).unwrap_or(u32::MAX),
    };
    let orders = search
        .order_info
        .into_iter()
        .enumerate()
        .map(|(i, order)| order.into_listed(i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OrderListPage { total_count, orders })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireListResult {
    status: Option<String>,
    search: Option<WireSearch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireSearch {
    total_count: Option<String>,
    #[serde(default)]
    order_info: Vec<WireListedOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireListedOrder {
    index: Option<String>,
    order_id: Option<String>,
    order_time: Option<String>,
    last_update_time: Option<String>,
    order_status: Option<String>,
    is_seen: Option<String>,
    publication_time: Option<String>,
    fraud_hold_status: Option<String>,
}

impl WireListedOrder {
    fn into_listed(self, i: usize) -> Result<ListedOrder, ParseError> {
        let field = |name: &str| format!("Search.OrderInfo[{i}].{name}");
        let order_id =
            non_empty(self.order_id.as_deref()).ok_or_else(|| ParseError::field(&field("OrderId"), "is missing"))?;
        let order_id = OrderId::parse(order_id).map_err(|e| ParseError::field(&field("OrderId"), e))?;
        let time = |value: &Option<String>, name: &str| {
            non_empty(value.as_deref())
                .map(|t| yahoo_time(t).map_err(|e| ParseError::field(&field(name), e)))
                .transpose()
        };
        let order_status = non_empty(self.order_status.as_deref())
            .map(|code| {
                YahooOrderStatus::from_code(code).ok_or_else(|| {
                    ParseError::field(
                        &field("OrderStatus"),
                        format_args!("{:?} is not one of 1 to 5", bounded(code)),
                    )
                })
            })
            .transpose()?;
        Ok(ListedOrder {
            index: non_empty(self.index.as_deref()).and_then(|n| n.parse().ok()),
            order_time: time(&self.order_time, "OrderTime")?,
            last_update_time: time(&self.last_update_time, "LastUpdateTime")?,
            publication_time: time(&self.publication_time, "PublicationTime")?,
            order_id,
            order_status,
            is_seen: non_empty(self.is_seen.as_deref()).and_then(boolean),
            fraud_hold_status: non_empty(self.fraud_hold_status.as_deref()).map(bounded),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

/// A time as the request conditions take it: `YYYYMMDDHHMMSS` in JST (`20261123123000`).
pub fn request_time(at: Timestamp) -> String {
    at.to_zoned(jst()).strftime("%Y%m%d%H%M%S").to_string()
}

fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

fn field_list(fields: &[&str]) -> String {
    escape(&fields.join(",")).into_owned()
}

/// The orderList body: orders placed from `from` to `to` (both inclusive, to the second), oldest first,
/// `result` per page from the 1-based `start`, with the fields `fields` (see [`ORDER_LIST_FIELDS`]). A
/// `start` or `result` of 0 is sent as 1.
pub fn order_list_request(
    seller_id: &ShopId,
    from: Timestamp,
    to: Timestamp,
    start: u32,
    result: u32,
    fields: &[&str],
) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Search>\n    <Result>{result}</Result>\n    \
         <Start>{start}</Start>\n    <Sort>+order_time</Sort>\n    <Condition>\n      \
         <OrderTimeFrom>{from}</OrderTimeFrom>\n      <OrderTimeTo>{to}</OrderTimeTo>\n    </Condition>\n    \
         <Field>{fields}</Field>\n  </Search>\n  <SellerId>{seller}</SellerId>\n</Req>\n",
        result = result.max(1),
        start = start.max(1),
        from = request_time(from),
        to = request_time(to),
        fields = field_list(fields),
        seller = escape(seller_id.as_str()),
    )
}

/// The orderInfo body for one order, with the fields `fields` (see [`ORDER_INFO_FIELDS`]).
pub fn order_info_request(seller_id: &ShopId, order_id: &OrderId, fields: &[&str]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Target>\n    <OrderId>{order}</OrderId>\n    \
         <Field>{fields}</Field>\n  </Target>\n  <SellerId>{seller}</SellerId>\n</Req>\n",
        order = escape(order_id.as_str()),
        fields = field_list(fields),
        seller = escape(seller_id.as_str()),
    )
}

/// The orderStatusChange body. `is_point_fix` (ポイント確定要否) must be true when completing (5);
/// `reason` is the `CancelReason` Yahoo wants when cancelling (4) and is left out when None.
///
/// Yahoo allows only some transitions (4 キャンセル is final; 3 保留 only from 2); a refused one comes back as
/// an `<Error>` such as `Cannot Be Operated : CancelOrder OrderStatus`, which [`classify`] reads as
/// [`Failure::Refused`] and [`order_status_change_outcome`] as [`StatusChangeOutcome::Refused`]. For
/// mallguard's hold, release and cancel, use [`status_change_request`].
pub fn order_status_change_request(
    seller_id: &ShopId,
    order_id: &OrderId,
    status: YahooOrderStatus,
    is_point_fix: bool,
    reason: Option<CancelReason>,
) -> String {
    let reason = reason
        .map(|CancelReason(code)| format!("\n    <CancelReason>{code}</CancelReason>"))
        .unwrap_or_default();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Target>\n    <OrderId>{order}</OrderId>\n    \
         <IsPointFix>{is_point_fix}</IsPointFix>\n  </Target>\n  <Order>\n    \
         <OrderStatus>{status}</OrderStatus>{reason}\n  </Order>\n  <SellerId>{seller}</SellerId>\n</Req>\n",
        order = escape(order_id.as_str()),
        status = status.code(),
        seller = escape(seller_id.as_str()),
    )
}

/// The form of a token refresh (`application/x-www-form-urlencoded`, sent with [`basic_authorization`]).
/// Yahoo keeps the refresh token: the answer carries a new access token only.
pub fn token_refresh_form(refresh_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
    ]
}

/// The `Authorization` value of a token request: `Basic base64(client_id:client_secret)`.
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client_id}:{client_secret}")))
}

/// The `Authorization` value of a store API request.
pub fn bearer_authorization(access_token: &str) -> String {
    format!("Bearer {access_token}")
}

/// A token endpoint's answer.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: SecretString,
    /// Seconds; Yahoo's access tokens last 3600.
    pub expires_in: Option<u64>,
    /// Present only if Yahoo ever rotates the refresh token; keep the old one otherwise.
    pub refresh_token: Option<SecretString>,
}

/// Reads a successful token response (`{"access_token": …, "expires_in": 3600}`); a failed one is for
/// [`classify`].
pub fn parse_token_response(body: &[u8]) -> Result<TokenResponse, ParseError> {
    #[derive(Deserialize)]
    struct Wire {
        access_token: Option<String>,
        expires_in: Option<u64>,
        refresh_token: Option<String>,
    }
    let wire: Wire = crate::decode(body)?;
    let access_token =
        non_empty(wire.access_token.as_deref()).ok_or_else(|| ParseError::field("access_token", "is missing"))?;
    Ok(TokenResponse {
        access_token: SecretString::from(access_token.to_owned()),
        expires_in: wire.expires_in,
        refresh_token: non_empty(wire.refresh_token.as_deref()).map(|t| SecretString::from(t.to_owned())),
    })
}

// ---------------------------------------------------------------------------------------------------------
// 公開鍵認証
// ---------------------------------------------------------------------------------------------------------

/// Why no `X-sws-signature` could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    /// The configured key is not a PEM RSA public key (`-----BEGIN PUBLIC KEY-----` or
    /// `-----BEGIN RSA PUBLIC KEY-----`, with those lines).
    #[error("the store public key is not a PEM RSA public key: {0}")]
    BadKey(String),
    #[error("RSA encryption failed: {0}")]
    Encrypt(String),
}

/// The `X-sws-signature` value: Base64(RSA PKCS#1 v1.5 encryption of `"<SellerId>:<unix seconds>"` under the
/// store's public key from ストアクリエイターPro 「設定 > 暗号鍵管理」). Send it with
/// [`SIGNATURE_VERSION_HEADER`] set to that key's version, and make a fresh one for each request: the
/// encryption is randomised and the time window Yahoo allows is not documented.
pub fn sws_signature(seller_id: &ShopId, unix_seconds: i64, public_key_pem: &str) -> Result<String, PublicKeyError> {
    let pem = public_key_pem.trim();
    let key = rsa::PublicKey::from_public_key_pem(pem)
        .or_else(|spki| rsa::PublicKey::from_pkcs1_pem(pem).map_err(|_| spki.to_string()))
        .map_err(PublicKeyError::BadKey)?;
    let plaintext = format!("{}:{unix_seconds}", seller_id.as_str());
    let encrypted = key
        .pkcs1v15_encrypt(plaintext.as_bytes())
        .map_err(|e| PublicKeyError::Encrypt(e.to_string()))?;
    Ok(STANDARD.encode(encrypted))
}

/// What an answer's `X-SWS-Authorize-Status` says about the public-key authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeStatus {
    /// `authorized`: the session may last 4 weeks.
    Authorized,
    /// `unauthorized`: the call still succeeds, but the session ends after 12 hours; alert the staff.
    Unauthorized,
    /// No such header (or another value): treat it as not authorized.
    Missing,
}

/// Reads `X-SWS-Authorize-Status`. A missing or failed public-key authentication does not fail the call, so
/// check this on every answer.
pub fn authorize_status(headers: &Headers) -> AuthorizeStatus {
    match headers
        .get(AUTHORIZE_STATUS_HEADER)
        .map(|v| v.trim().to_ascii_lowercase())
    {
        Some(v) if v == "authorized" => AuthorizeStatus::Authorized,
        Some(v) if v == "unauthorized" => AuthorizeStatus::Unauthorized,
        _ => AuthorizeStatus::Missing,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------------------

/// What a failed answer means for the poller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// HTTP 401 with `WWW-Authenticate: Bearer … error="invalid_token"`: the access token (1 hour) expired or
    /// is malformed. Refresh it and retry once.
    #[error("the access token expired or is invalid ({})", description.as_deref().unwrap_or("no description"))]
    TokenExpired { description: Option<String> },
    /// `px-04102` (`AccessToken has been expired. This API session is shorter than another API.`): the
    /// order API's 12-hour session without a valid public-key authentication is over. A refresh does not
    /// help: a person must authorize again, and the public key should be fixed ([`authorize_status`]).
    #[error("px-04102: the order API session (12 hours without public-key authentication) expired")]
    SessionExpired,
    /// HTTP 403 `Your Request was Forbidden`: the daily cap (50,000 requests per Client ID) is used up. Wait
    /// until midnight JST.
    #[error("the daily request cap is used up (Your Request was Forbidden)")]
    QuotaExceeded,
    /// The token endpoint's `invalid_grant` (the refresh token expired or was revoked), or `px-04307`
    /// (`Use of API is not permitted.`, as after the store revoked its consent): a person must authorize the
    /// app again.
    #[error("the store must authorize the app again: {code}: {message}")]
    ReauthorizationNeeded { code: String, message: String },
    /// Yahoo refused this request, for a reason retrying will not change: a parameter, a permission
    /// (`px-04303` app not approved for order APIs, `insufficient_scope`, an unregistered IP), or a status
    /// transition (`Cannot Be Operated : CancelOrder OrderStatus`).
    #[error("Yahoo refused the request (HTTP {status}, {}): {message}", code.as_deref().unwrap_or("no code"))]
    Refused {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// HTTP 5xx: try again later.
    #[error("Yahoo is unavailable (HTTP {status})")]
    Unavailable { status: u16, message: Option<String> },
    /// HTTP 429. Yahoo documents no status for calling too often (only that a client doing so "may be unable
    /// to use the API for a while"); a 429 is taken at its word: wait, honouring `Retry-After`.
    #[error("Yahoo answered 429 Too Many Requests")]
    Throttled,
}

/// Classifies an answer of the store API or of the token endpoint from its HTTP status, its headers and
/// its body. None for a success: a 2xx whose body is not an error document.
///
/// `px-04102` is recognised whatever the status; an `<Error>` in a 2xx body is [`Failure::Refused`].
/// Messages are cut to 300 characters.
pub fn classify(status: u16, headers: &Headers, body: &[u8]) -> Option<Failure> {
    let error = read_error(body);
    let code = error.as_ref().and_then(|e| e.code.clone());
    let message = error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
    if code.as_deref() == Some("px-04102") {
        return Some(Failure::SessionExpired);
    }
    if code.as_deref() == Some("invalid_grant") || code.as_deref() == Some("px-04307") {
        return Some(Failure::ReauthorizationNeeded {
            code: code.unwrap_or_default(),
            message,
        });
    }
    if (200..300).contains(&status) {
        return error.map(|_| Failure::Refused { status, code, message });
    }
    if status == 429 {
        return Some(Failure::Throttled);
    }
    if status >= 500 {
        return Some(Failure::Unavailable {
            status,
            message: Some(message).filter(|m| !m.is_empty()),
        });
    }
    let challenge = headers.get(WWW_AUTHENTICATE_HEADER).unwrap_or_default();
    if status == 401
        && (bearer_error(challenge) == Some("invalid_token") || bearer_error(&message) == Some("invalid_token"))
    {
        let description =
            bearer_param(challenge, "error_description").or_else(|| bearer_param(&message, "error_description"));
        return Some(Failure::TokenExpired { description });
    }
    if status == 403 && code.is_none() && message.contains("Your Request was Forbidden") {
        return Some(Failure::QuotaExceeded);
    }
    let code = code.or_else(|| bearer_error(challenge).map(str::to_owned));
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    Some(Failure::Refused { status, code, message })
}

/// An error read from a body: Yahoo's XML `<Error>` or the token endpoint's JSON `{"error": …}`.
struct ErrorBody {
    code: Option<String>,
    message: String,
}

fn read_error(body: &[u8]) -> Option<ErrorBody> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'{' {
        #[derive(Deserialize)]
        struct Wire {
            error: Option<String>,
            error_description: Option<String>,
        }
        let wire: Wire = crate::decode(body).ok()?;
        let code = non_empty(wire.error.as_deref()).map(bounded)?;
        return Some(ErrorBody {
            code: Some(code),
            message: non_empty(wire.error_description.as_deref())
                .map(bounded)
                .unwrap_or_default(),
        });
    }
    let Ok((text, root)) = check_xml(body) else {
        // Not an XML document: a proxy's HTML page, say. Keep a bounded, readable excerpt.
        return Some(ErrorBody {
            code: None,
            message: bounded(String::from_utf8_lossy(body).trim()),
        });
    };
    if root != "Error" {
        return None;
    }
    let error: WireError = decode_xml(text).unwrap_or_default();
    Some(ErrorBody {
        code: non_empty(error.code.as_deref()).map(bounded),
        message: non_empty(error.message.as_deref()).map(bounded).unwrap_or_default(),
    })
}

/// The `error` parameter of a bearer challenge (`Bearer realm="yahooapis.jp", error="invalid_token", …`).
fn bearer_error(challenge: &str) -> Option<&str> {
    bearer_value(challenge, "error")
}

fn bearer_param(challenge: &str, name: &str) -> Option<String> {
    bearer_value(challenge, name).map(bounded)
}

/// The quoted value of `name="…"` in a challenge, matched as a whole parameter name.
fn bearer_value<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    let pattern = format!("{name}=\"");
    let mut rest = challenge;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + pattern.len()..];
        if before.is_none_or(|c| c == ' ' || c == ',') {
            return after.split('"').next();
        }
        rest = after;
    }
    None
}

/// Response headers as a map, for [`classify`] and [`authorize_status`]: keep [`WWW_AUTHENTICATE_HEADER`]
/// and [`AUTHORIZE_STATUS_HEADER`].
pub fn response_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Headers {
    let mut map = BTreeMap::new();
    for name in [WWW_AUTHENTICATE_HEADER, AUTHORIZE_STATUS_HEADER] {
        if let Some(value) = get(name).filter(|v| v.len() <= Headers::MAX_VALUE) {
            map.insert(name.to_owned(), value.to_owned());
        }
    }
    Headers::from_map(map)
}

// ---------------------------------------------------------------------------------------------------------
// orderStatusChange: hold, release, cancel
// ---------------------------------------------------------------------------------------------------------

impl YahooOrderStatus {
    /// The statuses orderStatusChange may move an order to from this one: the ◯ cells of the transition
    /// table on Yahoo's orderStatusChange page (Y-CHG in `events/README.md`):
    ///
    /// | from \ to | 1 | 2 | 3 | 4 | 5 |
    /// |---|---|---|---|---|---|
    /// | 1 予約中 | × | × | × | ◯ | ◯ ※2※5 |
    /// | 2 処理中 | × | × | ◯ ※4 | ◯ | ◯ ※2※5 |
    /// | 3 保留 | × ※1 | ◯ ※2 | × | ◯ | ◯ ※2※5 |
    /// | 4 キャンセル | × | × | × | × | × |
    /// | 5 完了 | × | ◯ ※3 | × | ◯ ※2 | × |
    ///
    /// The notes are not applied here: ※1 3 → 1 is allowed when the release date lies in the future; ※2 not
    /// for a いたずら注文 (prank order); ※3 5 → 2 only for card and self-settled payments (and such an
    /// order completes again by itself 180 days after its first completion); ※4 and ※5 could not be read whole. A reservation (1) cannot be held, and
    /// a cancelled order (4) is final.
    pub fn allowed_targets(self) -> &'static [YahooOrderStatus] {
        use YahooOrderStatus::*;
        match self {
            Reserved => &[Cancelled, Completed],
            Processing => &[OnHold, Cancelled, Completed],
            OnHold => &[Processing, Cancelled, Completed],
            Cancelled => &[],
            Completed => &[Processing, Cancelled],
        }
    }

    /// Whether Yahoo's table allows this status to become `to` (see [`allowed_targets`](Self::allowed_targets)).
    pub fn can_change_to(self, to: YahooOrderStatus) -> bool {
        self.allowed_targets().contains(&to)
    }

    /// The code and Yahoo's name, `3 保留`, for messages to the staff.
    pub fn label(self) -> &'static str {
        match self {
            YahooOrderStatus::Reserved => "1 予約中",
            YahooOrderStatus::Processing => "2 処理中",
            YahooOrderStatus::OnHold => "3 保留",
            YahooOrderStatus::Cancelled => "4 キャンセル",
            YahooOrderStatus::Completed => "5 完了",
        }
    }
}

/// What mallguard asks of Yahoo through orderStatusChange; build the body with [`status_change_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusChange {
    /// 2 処理中 → 3 保留: hold a suspected duplicate. Only from 2.
    Hold,
    /// 3 保留 → 2 処理中: release it. Only from 3 (5 → 2 would reopen a completed order).
    Release,
    /// → 4 キャンセル with a `CancelReason`, from 1, 2, 3 (or 5). Final.
    Cancel(CancelReason),
}

impl StatusChange {
    /// A duplicate the buyer asked to cancel: 4 with `CancelReason` 160 重複注文 (注文者都合). The code list is a
    /// third-party SDK's transcription of Yahoo's page (kunitake1028/yahoo-shopping-jp-php
    /// `Enum/CancelReason.php`, C-KUN), not Yahoo's table itself, which could not be read.
    pub const CANCEL_DUPLICATE: StatusChange = StatusChange::Cancel(CancelReason::DUPLICATE_ORDER);

    /// The status the change leads to.
    pub fn target(self) -> YahooOrderStatus {
        match self {
            StatusChange::Hold => YahooOrderStatus::OnHold,
            StatusChange::Release => YahooOrderStatus::Processing,
            StatusChange::Cancel(_) => YahooOrderStatus::Cancelled,
        }
    }

    /// Whether mallguard should send this change to an order at `from`, with the order's
    /// `FraudHoldStatus` and `ShipStatus` as orderInfo gives them (see [`OrderInfo::check_change`]). In
    /// this order:
    ///
    /// 1. The order already has the target status: [`ChangeBlocked::AlreadyDone`] (nothing to send; for
    ///    mallguard the change is made).
    /// 2. `FraudHoldStatus` 1 (ルール保留審査中) or 3 (ルール悪用確定) and not a cancel:
    ///    [`ChangeBlocked::FraudHold`]. Yahoo's changelog of 2021-08-30 (about the sandbox, describing the
    ///    production rule of 2021-10) says such orders allow 「注文キャンセル以外の注文操作不可」; 0, blank and 2
    ///    (ルール保留解除) lift nothing, and an unknown value is left for Yahoo to judge.
    /// 3. Not in Yahoo's table ([`YahooOrderStatus::can_change_to`]), or a release of an order that is not
    ///    on hold: [`ChangeBlocked::NotAllowed`].
    /// 4. A cancel of an order that has shipped (`ShipStatus` 3 出荷済み or 4 着荷済み, or `OrderStatus` 5 完了):
    ///    [`ChangeBlocked::AlreadyShipped`]. Yahoo itself does **not** stop it (shipping is a separate
    ///    status, and even 5 → 4 is allowed), but a cancel then would not stop the parcel.
    ///
    /// A hold of an order that has shipped is not blocked (Yahoo allows it and it does no harm; ask
    /// [`OrderInfo::has_shipped`] to call it too late). The table's notes (※1–※5) are not applied: Yahoo may
    /// still refuse, which [`order_status_change_outcome`] reads as [`StatusChangeOutcome::Refused`].
    pub fn check(
        self,
        from: YahooOrderStatus,
        fraud_hold_status: Option<&str>,
        ship_status: Option<u8>,
    ) -> Result<(), ChangeBlocked> {
        let to = self.target();
        if from == to {
            return Err(ChangeBlocked::AlreadyDone(to));
        }
        let cancel = matches!(self, StatusChange::Cancel(_));
        if let Some(value) = non_empty(fraud_hold_status).filter(|v| matches!(*v, "1" | "3"))
            && !cancel
        {
            return Err(ChangeBlocked::FraudHold(value.to_owned()));
        }
        let release_of_unheld = self == StatusChange::Release && from != YahooOrderStatus::OnHold;
        if !from.can_change_to(to) || release_of_unheld {
            return Err(ChangeBlocked::NotAllowed { from, to });
        }
        if cancel && (matches!(ship_status, Some(3 | 4)) || from == YahooOrderStatus::Completed) {
            return Err(ChangeBlocked::AlreadyShipped { ship_status });
        }
        Ok(())
    }
}

/// Why mallguard should not send a [`StatusChange`] (see [`StatusChange::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeBlocked {
    /// The order already has the status the change leads to.
    #[error("the order is already {}", .0.label())]
    AlreadyDone(YahooOrderStatus),
    /// Yahoo's fraud screening restricts the order to a cancel (`FraudHoldStatus` as sent).
    #[error("Yahoo's fraud screening restricts the order (FraudHoldStatus {0}): only a cancel is possible")]
    FraudHold(String),
    /// Yahoo's transition table has × for this change, or it is a release of an order not on hold.
    #[error("Yahoo does not change an order from {} to {}", .from.label(), .to.label())]
    NotAllowed {
        from: YahooOrderStatus,
        to: YahooOrderStatus,
    },
    /// The order has shipped (`ShipStatus` 3 or 4; None when `OrderStatus` 5 完了 says so): do not cancel it.
    #[error("the order has already shipped (ShipStatus {}): it must not be cancelled", ship_status.map_or("unknown, OrderStatus 5".to_owned(), |s| s.to_string()))]
    AlreadyShipped { ship_status: Option<u8> },
}

impl OrderInfo {
    /// Whether the order has left the store: `ShipStatus` 3 (出荷済み) or 4 (着荷済み), or `OrderStatus` 5
    /// (完了). Yahoo still accepts a cancel then; mallguard must not send one.
    pub fn has_shipped(&self) -> bool {
        matches!(self.ship_status, Some(3 | 4)) || self.order_status == YahooOrderStatus::Completed
    }

    /// [`StatusChange::check`] with this order's `OrderStatus`, `FraudHoldStatus` and `ShipStatus`. Read the
    /// order with [`ORDER_INFO_FIELDS`] (which ask for all three) just before the change.
    pub fn check_change(&self, change: StatusChange) -> Result<(), ChangeBlocked> {
        change.check(self.order_status, self.fraud_hold_status.as_deref(), self.ship_status)
    }
}

/// The orderStatusChange body for `change`: [`order_status_change_request`] with `OrderStatus` 3, 2 or 4,
/// the cancel's `CancelReason`, and `IsPointFix` false. False is what a client that tested a cancel sends
/// (JSPSystem/yahoo-shopping-api-client `tests/OrderTest.php`); for 3 and 2 it is not verified (that client's
/// doc-comment example uses false for 2). Yahoo's note asks for true only when completing (5).
pub fn status_change_request(seller_id: &ShopId, order_id: &OrderId, change: StatusChange) -> String {
    let reason = match change {
        StatusChange::Cancel(reason) => Some(reason),
        StatusChange::Hold | StatusChange::Release => None,
    };
    order_status_change_request(seller_id, order_id, change.target(), false, reason)
}

/// What Yahoo answered to an orderStatusChange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChangeOutcome {
    /// `Status` OK without a `Warning`: the change was made.
    Ok,
    /// `Status` OK with `Warning` entries (`Code`, `Message`, `Detail`; the page's warning codes are
    /// `od91704` and `od91705`, whose meanings could not be read): the change was made; log the warnings.
    Warning(Vec<YahooMessage>),
    /// Yahoo refused this change of this order: an `<Error>` whose `Message` starts `Cannot Be Operated`
    /// (`Cannot Be Operated : CancelOrder OrderStatus` for a cancelled order) or whose `Code` is an `od9…`
    /// code. Permanent; the texts are Yahoo's, cut to 300 characters. Re-read the order to see why.
    Refused { code: Option<String>, message: String },
}

impl StatusChangeOutcome {
    /// Whether the order now has the new status.
    pub fn is_changed(&self) -> bool {
        matches!(self, StatusChangeOutcome::Ok | StatusChangeOutcome::Warning(_))
    }
}

/// Why an orderStatusChange answer gives no [`StatusChangeOutcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    /// A failure of the request rather than of the change, as [`classify`] reads it: the token or the
    /// session, the daily cap, a 5xx, or a refused parameter or permission (`px-…`).
    #[error(transparent)]
    Failure(Failure),
    /// A 2xx whose body is not understood: whether the change was made is unknown, so re-read the order
    /// (orderInfo) before trying again.
    #[error("the orderStatusChange answer is not understood: {0}")]
    NotUnderstood(ParseError),
}

/// Reads an orderStatusChange answer from its HTTP status, headers and body.
///
/// A 5xx, and any answer [`classify`] finds a failure of the request, is [`StatusChangeError::Failure`]. An
/// `<Error>` that refuses the change itself (`Cannot Be Operated …`, an `od9…` code) is
/// [`StatusChangeOutcome::Refused`] whatever its status below 500, since that status is not documented. A
/// 2xx is read with [`parse_order_status_change`]; a body that does not parse is
/// [`StatusChangeError::NotUnderstood`].
pub fn order_status_change_outcome(
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> Result<StatusChangeOutcome, StatusChangeError> {
    let refusal = if status < 500 { change_refusal(body) } else { None };
    if let Some(refused) = refusal {
        return Ok(refused);
    }
    if let Some(failure) = classify(status, headers, body) {
        return Err(StatusChangeError::Failure(failure));
    }
    parse_order_status_change(body).map_err(StatusChangeError::NotUnderstood)
}

/// The refusal of a change, when `body` is an `<Error>` that says so.
fn change_refusal(body: &[u8]) -> Option<StatusChangeOutcome> {
    let (text, root) = check_xml(body).ok()?;
    if root != "Error" {
        return None;
    }
    let error: WireError = decode_xml(text).unwrap_or_default();
    let code = non_empty(error.code.as_deref());
    let message = non_empty(error.message.as_deref()).unwrap_or_default();
    let od9 = code.is_some_and(|c| c.len() > 3 && c.starts_with("od9") && c[3..].bytes().all(|b| b.is_ascii_digit()));
    let cannot = message
        .get(..18)
        .is_some_and(|start| start.eq_ignore_ascii_case("Cannot Be Operated"));
    (od9 || cannot).then(|| StatusChangeOutcome::Refused {
        code: code.map(bounded),
        message: bounded(message),
    })
}

/// Parses the body of an orderStatusChange answer.
///
/// Sources disagree on its root element (the research notes, §2.6): one client reads `Status` and
/// `Warning` under the root (`<Result><Status>OK</Status>…</Result>`, C-KUN), another under a `Result` child
/// of the root (`<ResultSet><Result>…</Result></ResultSet>`, C-JSP). Both are read: the root's own `Status`
/// first, else its `Result`'s, and the `Warning` entries of both. An `<Error>` document that refuses the
/// change (`Cannot Be Operated …`, an `od9…` code) is [`StatusChangeOutcome::Refused`].
///
/// The error is for a body that is not XML (or not bounded XML: see the module docs), for a `Status`
/// missing or other than `OK` (a write is not taken as made unless Yahoo says so), and for another
/// `<Error>` (a token, session or permission error: classify it with [`classify`]).
pub fn parse_order_status_change(response: &[u8]) -> Result<StatusChangeOutcome, ParseError> {
    let (text, root) = check_xml(response)?;
    if root == "Error" {
        if let Some(refused) = change_refusal(response) {
            return Ok(refused);
        }
        // Any other error document: expect_root refuses it, saying what Yahoo answered.
        expect_root(text, &root, "an orderStatusChange result")?;
    }
    let answer: WireChangeAnswer = decode_xml(text)?;
    let (status, field) = match (&answer.status, answer.result.as_ref().and_then(|r| r.status.as_ref())) {
        (Some(status), _) => (status.as_str(), "Status"),
        (None, Some(status)) => (status.as_str(), "Result.Status"),
        (None, None) => {
            let field = if answer.result.is_some() {
                "Result.Status"
            } else {
                "Status"
            };
            return Err(ParseError::field(
                field,
                format_args!(
                    "is missing (the root is {}): the change is not confirmed",
                    bounded(&root)
                ),
            ));
        }
    };
    let status = status.trim();
    if !status.eq_ignore_ascii_case("OK") {
        return Err(ParseError::field(
            field,
            format_args!("is {:?}, not OK: the change is not confirmed", bounded(status)),
        ));
    }
    let warnings: Vec<YahooMessage> = answer
        .warning
        .into_iter()
        .chain(answer.result.into_iter().flat_map(|r| r.warning))
        .map(WireWarning::into_message)
        .collect();
    Ok(if warnings.is_empty() {
        StatusChangeOutcome::Ok
    } else {
        StatusChangeOutcome::Warning(warnings)
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireChangeAnswer {
    status: Option<String>,
    #[serde(default)]
    warning: Vec<WireWarning>,
    result: Option<WireChangeResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireChangeResult {
    status: Option<String>,
    #[serde(default)]
    warning: Vec<WireWarning>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::MAX_DEPTH;

    use mallguard_domain::identity::{IdentityHasher, IdentityKey, KeyKind};
    use rsa::Generate as _;
    use rsa::pkcs8::{EncodePublicKey as _, LineEnding};
    use secrecy::ExposeSecret as _;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/../../events/yahoo/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn shop() -> ShopId {
        ShopId::parse("tanaka-yahoo").unwrap()
    }

    fn info(raw: &[u8]) -> OrderInfo {
        match parse_order_info(raw, &shop()) {
            Ok((info, bytes)) => {
                assert_eq!(bytes, raw, "the exact bytes of the order come back");
                info
            }
            Err((_, e)) => panic!("{e}"),
        }
    }

    fn invalid(raw: &[u8]) -> String {
        match parse_order_info(raw, &shop()) {
            Err((bytes, ParseError::Invalid(message))) => {
                assert_eq!(bytes, raw, "the refused bytes come back for the quarantine");
                message
            }
            Err((_, other)) => panic!("expected Invalid, got {other:?}"),
            Ok(_) => panic!("expected Invalid, got an order"),
        }
    }

    /// The sample order with `from` replaced by `to` (each must occur).
    fn patched(replacements: &[(&str, &str)]) -> Vec<u8> {
        let mut text = String::from_utf8(sample("orderInfo.xml")).unwrap();
        for (from, to) in replacements {
            assert!(text.contains(from), "the sample has no {from}");
            text = text.replacen(from, to, 1);
        }
        text.into_bytes()
    }

    fn generic_order() -> Order {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/generic/order.json");
        crate::generic::parse_order(&std::fs::read(path).unwrap()).unwrap()
    }

    fn keys(order: &Order, kind: KeyKind) -> BTreeSet<IdentityKey> {
        let hasher = IdentityHasher::new(b"sample-events-pepper".to_vec());
        hasher
            .order_identity(order)
            .keys
            .into_iter()
            .filter(|k| k.kind() == kind)
            .collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        Headers::from_map(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }

    /// A raw HTTP response as the samples write it: status line, headers, a blank line, the body.
    fn http_response(raw: &[u8]) -> (u16, Headers, Vec<u8>) {
        let text = std::str::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let map = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        (status, Headers::from_map(map), body.as_bytes().to_vec())
    }

    #[test]
    fn every_yahoo_sample_is_known_and_well_formed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/yahoo");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "error-session-expired.xml",
                "error-token-expired.http",
                "orderInfo-cancelled.xml",
                "orderInfo.xml",
                "orderList-empty.xml",
                "orderList.xml",
                "orderStatusChange-refused.xml",
                "orderStatusChange-warning.xml",
                "orderStatusChange.xml",
            ],
            "a new sample needs a test here and a row in events/README.md"
        );
        for name in names.iter().filter(|n| n.ends_with(".xml")) {
            if let Err(e) = check_xml(&sample(name)) {
                panic!("events/yahoo/{name}: {e}");
            }
        }
    }

    #[test]
    fn the_sample_order_is_read_field_by_field() {
        let raw = sample("orderInfo.xml");
        let info = info(&raw);
        let order = &info.order;
        assert_eq!(order.order_ref.key(), "yahoo/tanaka-yahoo/tanaka-yahoo-10000125");
        assert_eq!(order.number(), "tanaka-yahoo-10000125");
        assert_eq!(order.placed_at, "2026-11-23T03:30:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.payment, PaymentMethod::CashOnDelivery);
        assert!(!order.gift);
        assert_eq!(order.total, Some(Money::yen(1530)));
        assert_eq!(order.payload_digest, PayloadDigest::of(&raw));

        let buyer = &order.buyer;
        assert_eq!(buyer.name, "山田 太郎");
        assert_eq!(buyer.kana.as_deref(), Some("ヤマダ タロウ"));
        assert_eq!(buyer.email.as_ref().unwrap().as_str(), "taro.yamada@example.com");
        assert_eq!(buyer.phone.as_deref(), Some("＋８１ ９０－１２３４－５６７８"));
        assert_eq!(
            buyer.address,
            Some(PostalAddress {
                name: "山田 太郎".into(),
                kana: Some("ヤマダ タロウ".into()),
                postal_code: "100-0001".into(),
                prefecture: "東京都".into(),
                city: "千代田区".into(),
                // BillAddress2 is a CDATA section in the sample.
                lines: vec!["千代田１－２－３".into(), "メゾン千代田１０１".into()],
                phone: Some("＋８１ ９０－１２３４－５６７８".into()),
            })
        );
        assert_eq!(
            order.ship_to,
            PostalAddress {
                name: "山田 太郎".into(),
                kana: Some("ヤマダ タロウ".into()),
                postal_code: "100-0001".into(),
                prefecture: "東京都".into(),
                city: "千代田区".into(),
                lines: vec!["千代田１－２－３".into(), "メゾン千代田１０１".into()],
                phone: Some("09012345678".into()),
            }
        );

        let lines: Vec<_> = order.lines.iter().collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            lines[0].product.as_str(),
            "TEA-SENCHA-100",
            "ItemId, since SubCode is blank"
        );
        assert_eq!(lines[0].title, "有機煎茶 100g", "a CDATA title");
        assert_eq!(lines[0].quantity.get(), 1);
        assert_eq!(lines[0].unit_price, Some(Money::yen(1200)));

        assert_eq!(
            order.delivery,
            Delivery {
                requested_date: Some(jiff::civil::date(2026, 11, 25)),
                time_slot: Some("14:00-16:00".into()),
                express: false,
            }
        );

        assert_eq!(info.order_status, YahooOrderStatus::Processing);
        assert_eq!(info.ship_status, Some(1));
        assert_eq!(info.fraud_hold_status.as_deref(), Some("0"));
        assert!(!info.fraud_hold());
        assert_eq!(info.cancel_reason, None);
        assert_eq!(
            info.last_update_time,
            Some("2026-11-23T03:31:07Z".parse::<Timestamp>().unwrap())
        );
        assert_eq!(info.is_seen, Some(false));
        assert!(info.warnings.is_empty());
    }

    #[test]
    fn parse_order_gives_the_canonical_order_and_the_bytes() {
        let raw = sample("orderInfo.xml");
        let (order, bytes) = parse_order(&raw, &shop()).unwrap();
        assert_eq!(order, info(&raw).order);
        assert_eq!(bytes, raw);
        let (bytes, e) = parse_order(b"<ResultSet>", &shop()).unwrap_err();
        assert_eq!(bytes, b"<ResultSet>");
        assert!(matches!(e, ParseError::Invalid(_)));
    }

    #[test]
    fn the_yahoo_order_is_the_generic_samples_buyer_by_phone_address_and_email() {
        let yahoo = info(&sample("orderInfo.xml")).order;
        let own = generic_order();
        for kind in [KeyKind::Phone, KeyKind::Address, KeyKind::Email] {
            let (a, b) = (keys(&yahoo, kind), keys(&own, kind));
            assert!(!a.is_empty(), "{kind:?}");
            assert!(
                !a.is_disjoint(&b),
                "{kind:?}: ＋８１ and full-width digits must not hide the buyer"
            );
        }
        // The product is the same one too.
        let product = |o: &Order| o.lines.iter().next().unwrap().product.clone();
        assert_eq!(product(&yahoo), product(&own));
    }

    #[test]
    fn fraud_hold_status_1_and_3_hold_2_released_and_unknown_values_are_holds() {
        for (value, holds) in [
            (None, false),
            (Some(""), false),
            (Some("0"), false),
            (Some("1"), true),
            (Some("2"), false),
            (Some("3"), true),
            (Some("9"), true),
        ] {
            assert_eq!(screening_holds(value), holds, "{value:?}");
        }
    }

    #[test]
    fn an_order_in_yahoos_fraud_screening_is_open_and_marked_screened() {
        let plain = info(&sample("orderInfo.xml"));
        assert!(!plain.order.screened_by_mall);
        let text = String::from_utf8(sample("orderInfo.xml")).unwrap();
        let screened = text.replacen(
            "<FraudHoldStatus>0</FraudHoldStatus>",
            "<FraudHoldStatus>1</FraudHoldStatus>",
            1,
        );
        assert_ne!(screened, text, "the sample carries FraudHoldStatus");
        let info = info(screened.as_bytes());
        assert_eq!(info.order.status, OrderStatus::Open);
        assert!(info.order.screened_by_mall);
    }

    #[test]
    fn the_cancelled_sample_is_cancelled_with_its_reason() {
        let info = info(&sample("orderInfo-cancelled.xml"));
        assert_eq!(info.order.order_ref.key(), "yahoo/tanaka-yahoo/tanaka-yahoo-10000125");
        assert_eq!(info.order_status, YahooOrderStatus::Cancelled);
        assert_eq!(info.order.status, OrderStatus::Cancelled);
        assert_eq!(info.cancel_reason.as_deref(), Some("160"));
        assert_eq!(info.is_seen, Some(true));
        assert_eq!(
            info.last_update_time,
            Some("2026-11-23T04:02:45Z".parse::<Timestamp>().unwrap())
        );
    }

    #[test]
    fn each_yahoo_status_maps_to_the_canonical_status() {
        let cases = [
            ("1", YahooOrderStatus::Reserved, OrderStatus::Open),
            ("2", YahooOrderStatus::Processing, OrderStatus::Open),
            ("3", YahooOrderStatus::OnHold, OrderStatus::Open),
            ("4", YahooOrderStatus::Cancelled, OrderStatus::Cancelled),
            ("5", YahooOrderStatus::Completed, OrderStatus::Shipped),
        ];
        for (code, yahoo, canonical) in cases {
            let raw = patched(&[(
                "<OrderStatus>2</OrderStatus>",
                &format!("<OrderStatus>{code}</OrderStatus>"),
            )]);
            let info = info(&raw);
            assert_eq!((info.order_status, info.order.status), (yahoo, canonical), "{code}");
            assert_eq!(yahoo.code().to_string(), code);
        }
    }

    #[test]
    fn a_shipped_ship_status_makes_an_open_order_shipped_but_not_a_cancelled_one() {
        for (ship, expected) in [
            ("2", OrderStatus::Open),
            ("3", OrderStatus::Shipped),
            ("4", OrderStatus::Shipped),
        ] {
            let raw = patched(&[(
                "<ShipStatus>1</ShipStatus>",
                &format!("<ShipStatus>{ship}</ShipStatus>"),
            )]);
            assert_eq!(info(&raw).order.status, expected, "ShipStatus {ship}");
        }
        let raw = patched(&[
            ("<ShipStatus>1</ShipStatus>", "<ShipStatus>3</ShipStatus>"),
            ("<OrderStatus>2</OrderStatus>", "<OrderStatus>4</OrderStatus>"),
        ]);
        assert_eq!(info(&raw).order.status, OrderStatus::Cancelled);
    }

    #[test]
    fn a_fraud_hold_keeps_the_order_open_and_is_exposed() {
        // FraudHoldStatus's value set is not verified: anything but blank and 0 counts as a hold.
        let raw = patched(&[(
            "<FraudHoldStatus>0</FraudHoldStatus>",
            "<FraudHoldStatus>1</FraudHoldStatus>",
        )]);
        let held = info(&raw);
        assert!(held.fraud_hold());
        assert_eq!(held.fraud_hold_status.as_deref(), Some("1"));
        assert_eq!(held.order.status, OrderStatus::Open);
        let raw = patched(&[(
            "<FraudHoldStatus>0</FraudHoldStatus>",
            "<FraudHoldStatus></FraudHoldStatus>",
        )]);
        assert!(!info(&raw).fraud_hold());
    }

    #[test]
    fn an_unknown_status_names_its_element() {
        let raw = patched(&[("<OrderStatus>2</OrderStatus>", "<OrderStatus>9</OrderStatus>")]);
        assert_eq!(
            invalid(&raw),
            "Result.OrderInfo.OrderStatus: \"9\" is not one of 1 to 5"
        );
        let raw = patched(&[("<OrderStatus>2</OrderStatus>", "")]);
        assert_eq!(invalid(&raw), "Result.OrderInfo.OrderStatus: is missing");
    }

    #[test]
    fn gift_wrapping_or_noshi_makes_a_gift() {
        for (from, to) in [
            (
                "<NeedGiftWrap>false</NeedGiftWrap>",
                "<NeedGiftWrap>true</NeedGiftWrap>",
            ),
            ("<NeedGiftWrap>false</NeedGiftWrap>", "<NeedGiftWrap>1</NeedGiftWrap>"),
            (
                "<NeedGiftWrap>false</NeedGiftWrap>",
                "<NeedGiftWrap>false</NeedGiftWrap><NeedGiftWrapPaper>true</NeedGiftWrapPaper>",
            ),
            (
                "<NeedGiftWrap>false</NeedGiftWrap>",
                "<NeedGiftWrap>false</NeedGiftWrap><GiftWrapMessage>お誕生日おめでとう</GiftWrapMessage>",
            ),
        ] {
            assert!(info(&patched(&[(from, to)])).order.gift, "{to}");
        }
        let raw = patched(&[("<NeedGiftWrap>false</NeedGiftWrap>", "<NeedGiftWrap></NeedGiftWrap>")]);
        assert!(!info(&raw).order.gift);
    }

    #[test]
    fn pay_methods_map_to_payment_methods() {
        let cases = [
            ("payment_d1", PaymentMethod::CashOnDelivery),
            ("payment_a1", PaymentMethod::Card),
            ("payment_a6", PaymentMethod::Convenience),
            ("payment_a7", PaymentMethod::Convenience),
            ("payment_b1", PaymentMethod::BankTransfer),
            ("payment_c1", PaymentMethod::BankTransfer),
            ("payment_a17", PaymentMethod::Other),
            ("payment_z1", PaymentMethod::Other),
        ];
        for (code, expected) in cases {
            let raw = patched(&[(
                "<PayMethod>payment_d1</PayMethod>",
                &format!("<PayMethod>{code}</PayMethod>"),
            )]);
            assert_eq!(info(&raw).order.payment, expected, "{code}");
        }
        let raw = patched(&[
            ("<PayMethod>payment_d1</PayMethod>", "<PayMethod>payment_a1</PayMethod>"),
            (
                "<ShipStatus>1</ShipStatus>",
                "<ShipStatus>1</ShipStatus><IsCashOnDelivery>true</IsCashOnDelivery>",
            ),
        ]);
        assert_eq!(info(&raw).order.payment, PaymentMethod::CashOnDelivery);
    }

    #[test]
    fn the_product_key_is_the_sub_code_else_the_item_id_and_lines_repeat() {
        let raw = patched(&[("<SubCode></SubCode>", "<SubCode>TEA-SENCHA-100-x2</SubCode>")]);
        let order = info(&raw).order;
        assert_eq!(order.lines.iter().next().unwrap().product.as_str(), "TEA-SENCHA-100-x2");

        let second = "</Item>\n      <Item><LineId>2</LineId><ItemId>cup-yunomi</ItemId><Title>湯呑み &amp; 茶托</Title>\
                      <Quantity>2</Quantity><UnitPrice>880</UnitPrice></Item>";
        let raw = patched(&[("</Item>", second)]);
        let order = info(&raw).order;
        let lines: Vec<_> = order.lines.iter().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (
                lines[1].product.as_str(),
                lines[1].title.as_str(),
                lines[1].quantity.get()
            ),
            ("cup-yunomi", "湯呑み & 茶托", 2)
        );
        assert_eq!(lines[1].unit_price, Some(Money::yen(880)));
    }

    #[test]
    fn times_without_an_offset_are_jst() {
        for written in [
            "2026-11-23T12:30:00",
            "2026-11-23 12:30:00",
            "20261123123000",
            "2026-11-23T03:30:00Z",
        ] {
            let raw = patched(&[(
                "<OrderTime>2026-11-23T12:30:00+09:00</OrderTime>",
                &format!("<OrderTime>{written}</OrderTime>"),
            )]);
            assert_eq!(
                info(&raw).order.placed_at,
                "2026-11-23T03:30:00Z".parse::<Timestamp>().unwrap(),
                "{written}"
            );
        }
    }

    #[test]
    fn requested_dates_are_read_in_the_usual_spellings_and_none_means_none() {
        for written in ["2026/11/25", "20261125", "2026-11-25T00:00:00+09:00"] {
            let raw = patched(&[(
                "<ShipRequestDate>2026-11-25</ShipRequestDate>",
                &format!("<ShipRequestDate>{written}</ShipRequestDate>"),
            )]);
            assert_eq!(
                info(&raw).order.delivery.requested_date,
                Some(jiff::civil::date(2026, 11, 25)),
                "{written}"
            );
        }
        let raw = patched(&[
            (
                "<ShipRequestDate>2026-11-25</ShipRequestDate>",
                "<ShipRequestDate></ShipRequestDate>",
            ),
            (
                "<ShipRequestTime>14:00-16:00</ShipRequestTime>",
                "<ShipRequestTime>指定なし</ShipRequestTime>",
            ),
        ]);
        assert_eq!(info(&raw).order.delivery, Delivery::default());
    }

    #[test]
    fn without_ship_fields_the_buyer_address_is_the_ship_to() {
        let text = String::from_utf8(sample("orderInfo.xml")).unwrap();
        let start = text.find("<ShipFirstName>").unwrap();
        let end = text.find("</Ship>").unwrap();
        let raw = format!("{}{}", &text[..start], &text[end..]);
        let order = info(raw.as_bytes()).order;
        assert_eq!(Some(order.ship_to.clone()), order.buyer.address);
        assert_eq!(order.ship_to.name, "山田 太郎");
    }

    #[test]
    fn each_bad_value_names_its_element_path() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "<BillMailAddress>taro.yamada@example.com</BillMailAddress>",
                "<BillMailAddress>taro.yamada</BillMailAddress>",
                "Result.OrderInfo.Pay.BillMailAddress: ",
            ),
            (
                "<Quantity>1</Quantity>",
                "<Quantity>0</Quantity>",
                "Result.OrderInfo.Item[0].Quantity: \"0\" is not a whole number of at least 1",
            ),
            (
                "<Quantity>1</Quantity>",
                "<Quantity>一</Quantity>",
                "Result.OrderInfo.Item[0].Quantity: ",
            ),
            (
                "<UnitPrice>1200</UnitPrice>",
                "<UnitPrice>1,200</UnitPrice>",
                "Result.OrderInfo.Item[0].UnitPrice: ",
            ),
            (
                "<TotalPrice>1530</TotalPrice>",
                "<TotalPrice>12.5</TotalPrice>",
                "Result.OrderInfo.Detail.TotalPrice: ",
            ),
            (
                "<OrderTime>2026-11-23T12:30:00+09:00</OrderTime>",
                "<OrderTime>yesterday</OrderTime>",
                "Result.OrderInfo.OrderTime: \"yesterday\" is not a time",
            ),
            (
                "<LastUpdateTime>2026-11-23T12:31:07+09:00</LastUpdateTime>",
                "<LastUpdateTime>soon</LastUpdateTime>",
                "Result.OrderInfo.LastUpdateTime: ",
            ),
            (
                "<ShipRequestDate>2026-11-25</ShipRequestDate>",
                "<ShipRequestDate>11/25</ShipRequestDate>",
                "Result.OrderInfo.Ship.ShipRequestDate: \"11/25\" is not a date",
            ),
            (
                "<ShipStatus>1</ShipStatus>",
                "<ShipStatus>x</ShipStatus>",
                "Result.OrderInfo.Ship.ShipStatus: ",
            ),
            (
                "<OrderId>tanaka-yahoo-10000125</OrderId>",
                "",
                "Result.OrderInfo.OrderId: is missing",
            ),
            (
                "<OrderId>tanaka-yahoo-10000125</OrderId>",
                "<OrderId>a/b</OrderId>",
                "Result.OrderInfo.OrderId: ",
            ),
            (
                "<ItemId>TEA-SENCHA-100</ItemId>",
                "",
                "Result.OrderInfo.Item[0].ItemId: is missing (and so is SubCode)",
            ),
            // An element where text belongs is named by the XML reader's path.
            (
                "<BillZipCode>1000001</BillZipCode>",
                "<BillZipCode><b>100</b>0001</BillZipCode>",
                "Result.OrderInfo.Pay.BillZipCode: ",
            ),
            (
                "<SellerId>tanaka-yahoo</SellerId>",
                "<SellerId>other-store</SellerId>",
                "Result.OrderInfo.Seller.SellerId: the order is of seller \"other-store\", not \"tanaka-yahoo\"",
            ),
            (
                "<Status>OK</Status>",
                "<Status>NG</Status>",
                "Result.Status: is \"NG\", not OK",
            ),
        ];
        for (from, to, expected) in cases {
            let message = invalid(&patched(&[(from, to)]));
            assert!(
                message.starts_with(expected),
                "{to}: expected {expected:?}, got {message:?}"
            );
        }
    }

    #[test]
    fn an_order_without_items_is_invalid() {
        let text = String::from_utf8(sample("orderInfo.xml")).unwrap();
        let start = text.find("<Item>").unwrap();
        let end = text.find("</Item>").unwrap() + "</Item>".len();
        let raw = format!("{}{}", &text[..start], &text[end..]);
        assert_eq!(invalid(raw.as_bytes()), "Result.OrderInfo.Item: the order has no lines");
    }

    #[test]
    fn an_error_document_or_another_root_is_not_an_order() {
        let message = invalid(&sample("error-session-expired.xml"));
        assert!(message.contains("px-04102"), "{message}");
        assert!(message.starts_with("Yahoo answered with an error"), "{message}");
        assert_eq!(
            invalid(&sample("orderList.xml")),
            "the root element is Result, not ResultSet"
        );
        assert_eq!(
            invalid(b"<ResultSet><Result><Status>OK</Status></Result></ResultSet>"),
            "Result.OrderInfo: is missing"
        );
    }

    #[test]
    fn a_body_that_is_not_xml_is_invalid() {
        for (raw, expected) in [
            (&b""[..], "the response is empty"),
            (b"  \n", "the response is empty"),
            (b"<ResultSet>\xff</ResultSet>", "the response is not UTF-8"),
            (b"{\"Result\": 1}", "the response has no root element"),
            (
                b"<ResultSet><Result></ResultSet>",
                "the response is not well-formed XML",
            ),
            (b"<ResultSet><Result>", "the response"),
            (b"<a/><b/>", "the response has more than one root element"),
            (
                b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><ResultSet/>",
                "the response declares the encoding",
            ),
        ] {
            let message = invalid(raw);
            assert!(message.starts_with(expected), "{raw:?}: {message}");
        }
    }

    #[test]
    fn xml_nested_a_hundred_thousand_deep_is_refused_without_recursion() {
        let deep = format!(
            "<ResultSet>{}x{}</ResultSet>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        );
        match parse_order_info(deep.as_bytes(), &shop()) {
            Err((_, e)) => assert_eq!(e, ParseError::TooDeep(MAX_DEPTH)),
            Ok(_) => panic!("accepted"),
        }
        let deep_list = format!("<Result>{}</Result>", "<Search>".repeat(100_000));
        assert_eq!(
            parse_order_list(deep_list.as_bytes()),
            Err(ParseError::TooDeep(MAX_DEPTH))
        );
        // Self-closing elements at the bound count too.
        let deep_empty = format!("{}<x/>{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert_eq!(
            check_xml(deep_empty.as_bytes()).unwrap_err(),
            ParseError::TooDeep(MAX_DEPTH)
        );
        // The failure classifier reads error bodies through the same check.
        let failure = classify(400, &headers(&[]), deep.as_bytes()).unwrap();
        assert!(matches!(failure, Failure::Refused { status: 400, .. }), "{failure:?}");
        // Just inside the bound is fine for the check.
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(check_xml(ok.as_bytes()).is_ok());
    }

    #[test]
    fn a_doctype_and_entities_are_refused_without_expansion() {
        let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE ResultSet [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ResultSet><Result><OrderInfo><OrderId>&lol3;</OrderId></OrderInfo></Result></ResultSet>"#;
        let message = invalid(laughs.as_bytes());
        assert!(message.contains("DOCTYPE"), "{message}");
        let external = r#"<?xml version="1.0"?>
<!DOCTYPE ResultSet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ResultSet><Result><OrderInfo><OrderId>&xxe;</OrderId></OrderInfo></Result></ResultSet>"#;
        assert!(invalid(external.as_bytes()).contains("DOCTYPE"));
        // An undeclared entity without any DOCTYPE.
        let raw = patched(&[("<OrderId>tanaka-yahoo-10000125</OrderId>", "<OrderId>&xxe;</OrderId>")]);
        assert!(invalid(&raw).contains("&xxe;"), "{}", invalid(&raw));
        assert!(parse_order_list(laughs.as_bytes()).is_err());
        // The five predefined entities and character references are read.
        let raw = patched(&[(
            "<Title><![CDATA[有機煎茶 100g]]></Title>",
            "<Title>有機煎茶&#x20;100g &lt;&amp;&gt;</Title>",
        )]);
        assert_eq!(info(&raw).order.lines.iter().next().unwrap().title, "有機煎茶 100g <&>");
    }

    #[test]
    fn the_sample_order_list_is_one_page() {
        let page = parse_order_list(&sample("orderList.xml")).unwrap();
        assert_eq!(page.total_count, 2);
        assert_eq!(page.orders.len(), 2);
        let first = &page.orders[0];
        assert_eq!(first.index, Some(1));
        assert_eq!(first.order_id.as_str(), "tanaka-yahoo-10000125");
        assert_eq!(first.order_time, Some("2026-11-23T03:30:00Z".parse().unwrap()));
        assert_eq!(first.last_update_time, Some("2026-11-23T03:31:07Z".parse().unwrap()));
        assert_eq!(first.publication_time, first.order_time);
        assert_eq!(first.order_status, Some(YahooOrderStatus::Processing));
        assert_eq!(first.is_seen, Some(false));
        assert!(!first.fraud_hold());
        let second = &page.orders[1];
        assert_eq!(second.order_id.as_str(), "tanaka-yahoo-10000126");
        assert_eq!(second.order_status, Some(YahooOrderStatus::Reserved));
        assert_eq!(page.next_start(1, 100), None);
        assert_eq!(page.next_start(1, 1), Some(2));
        assert_eq!(page.next_start(2, 1), None);
    }

    #[test]
    fn the_empty_order_list_has_no_orders_and_no_next_page() {
        let page = parse_order_list(&sample("orderList-empty.xml")).unwrap();
        assert_eq!(
            page,
            OrderListPage {
                total_count: 0,
                orders: vec![]
            }
        );
        assert_eq!(page.next_start(1, 100), None);
    }

    #[test]
    fn order_list_errors_name_their_element() {
        let text = String::from_utf8(sample("orderList.xml")).unwrap();
        let bad = text.replacen("<OrderStatus>1</OrderStatus>", "<OrderStatus>7</OrderStatus>", 1);
        assert_eq!(
            parse_order_list(bad.as_bytes()),
            Err(ParseError::Invalid(
                "Search.OrderInfo[1].OrderStatus: \"7\" is not one of 1 to 5".into()
            ))
        );
        let bad = text.replacen("<OrderId>tanaka-yahoo-10000125</OrderId>", "", 1);
        assert_eq!(
            parse_order_list(bad.as_bytes()),
            Err(ParseError::Invalid("Search.OrderInfo[0].OrderId: is missing".into()))
        );
        let bad = text.replacen("<TotalCount>2</TotalCount>", "<TotalCount>two</TotalCount>", 1);
        assert!(
            matches!(parse_order_list(bad.as_bytes()), Err(ParseError::Invalid(m)) if m.starts_with("Search.TotalCount: "))
        );
        assert!(matches!(
            parse_order_list(&sample("error-session-expired.xml")),
            Err(ParseError::Invalid(m)) if m.contains("px-04102")
        ));
        assert!(matches!(
            parse_order_list(&sample("orderInfo.xml")),
            Err(ParseError::Invalid(m)) if m == "the root element is ResultSet, not Result"
        ));
    }

    #[test]
    fn a_large_page_asks_for_the_next_start() {
        let page = OrderListPage {
            total_count: 250,
            orders: vec![],
        };
        assert_eq!(page.next_start(1, 100), Some(101));
        assert_eq!(page.next_start(101, 100), Some(201));
        assert_eq!(page.next_start(201, 100), None);
        assert_eq!(page.next_start(u32::MAX, 100), None);
    }

    #[test]
    fn the_order_list_request_is_the_documented_xml_with_jst_times() {
        let from: Timestamp = "2026-11-19T15:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-11-29T14:59:59Z".parse().unwrap();
        let body = order_list_request(&shop(), from, to, 1, 100, &ORDER_LIST_FIELDS);
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Search>\n    <Result>100</Result>\n    \
             <Start>1</Start>\n    <Sort>+order_time</Sort>\n    <Condition>\n      \
             <OrderTimeFrom>20261120000000</OrderTimeFrom>\n      <OrderTimeTo>20261129235959</OrderTimeTo>\n    \
             </Condition>\n    <Field>OrderId,OrderTime,LastUpdateTime,OrderStatus,IsSeen,PublicationTime,\
             FraudHoldStatus</Field>\n  </Search>\n  <SellerId>tanaka-yahoo</SellerId>\n</Req>\n"
        );
        assert!(check_xml(body.as_bytes()).is_ok());
        let zero = order_list_request(&shop(), from, to, 0, 0, &["OrderId"]);
        assert!(zero.contains("<Result>1</Result>") && zero.contains("<Start>1</Start>"));
        assert_eq!(request_time("2026-11-23T03:30:00Z".parse().unwrap()), "20261123123000");
    }

    #[test]
    fn the_order_info_request_puts_field_inside_target_and_escapes() {
        let order = OrderId::parse("tanaka-yahoo-10000125").unwrap();
        assert_eq!(
            order_info_request(&shop(), &order, &["OrderId", "ItemId"]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Target>\n    \
             <OrderId>tanaka-yahoo-10000125</OrderId>\n    <Field>OrderId,ItemId</Field>\n  </Target>\n  \
             <SellerId>tanaka-yahoo</SellerId>\n</Req>\n"
        );
        let odd = OrderId::parse("a&b<c>").unwrap();
        let body = order_info_request(&shop(), &odd, &ORDER_INFO_FIELDS);
        assert!(body.contains("<OrderId>a&amp;b&lt;c&gt;</OrderId>"), "{body}");
        assert!(check_xml(body.as_bytes()).is_ok());
        // Every field the parser reads is asked for, once.
        let unique: BTreeSet<_> = ORDER_INFO_FIELDS.iter().collect();
        assert_eq!(unique.len(), ORDER_INFO_FIELDS.len());
    }

    #[test]
    fn the_status_change_request_cancels_with_a_reason_or_completes_without() {
        let order = OrderId::parse("tanaka-yahoo-10000125").unwrap();
        assert_eq!(
            order_status_change_request(
                &shop(),
                &order,
                YahooOrderStatus::Cancelled,
                false,
                Some(CancelReason::DUPLICATE_ORDER)
            ),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Req>\n  <Target>\n    \
             <OrderId>tanaka-yahoo-10000125</OrderId>\n    <IsPointFix>false</IsPointFix>\n  </Target>\n  \
             <Order>\n    <OrderStatus>4</OrderStatus>\n    <CancelReason>160</CancelReason>\n  </Order>\n  \
             <SellerId>tanaka-yahoo</SellerId>\n</Req>\n"
        );
        let complete = order_status_change_request(&shop(), &order, YahooOrderStatus::Completed, true, None);
        assert!(complete.contains("<IsPointFix>true</IsPointFix>"));
        assert!(complete.contains("<OrderStatus>5</OrderStatus>"));
        assert!(!complete.contains("CancelReason"));
        assert!(check_xml(complete.as_bytes()).is_ok());
    }

    #[test]
    fn the_token_refresh_is_a_form_with_basic_authorization() {
        assert_eq!(
            token_refresh_form("AAAAxxxx"),
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", "AAAAxxxx".to_owned())
            ]
        );
        assert_eq!(
            basic_authorization("dj00xxxx", "secretxxx"),
            "Basic ZGowMHh4eHg6c2VjcmV0eHh4"
        );
        assert_eq!(bearer_authorization("eyJ"), "Bearer eyJ");
        let token =
            parse_token_response(br#"{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":3600}"#).unwrap();
        assert_eq!(token.access_token.expose_secret(), "eyJ.a.b");
        assert_eq!(token.expires_in, Some(3600));
        assert!(token.refresh_token.is_none());
        assert!(matches!(
            parse_token_response(br#"{"error":"invalid_grant"}"#),
            Err(ParseError::Invalid(m)) if m == "access_token: is missing"
        ));
    }

    #[test]
    fn the_sandbox_uses_the_test_environment() {
        assert_eq!(base_url(&shop()), PRODUCTION_BASE_URL);
        assert_eq!(base_url(&ShopId::parse("snbx-abcdefg").unwrap()), TEST_BASE_URL);
    }

    #[test]
    fn the_sws_signature_decrypts_to_the_seller_and_the_time() {
        // A key pair made here; Yahoo keeps the private half of a real store's.
        let private = rsa::PrivateKey::generate();
        let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let first = sws_signature(&shop(), 1_795_935_600, &pem).unwrap();
        let second = sws_signature(&shop(), 1_795_935_600, &pem).unwrap();
        for signature in [&first, &second] {
            let encrypted = STANDARD.decode(signature).unwrap();
            let plain = private.pkcs1v15_decrypt(&encrypted).unwrap();
            assert_eq!(String::from_utf8(plain).unwrap(), "tanaka-yahoo:1795935600");
        }
        // PKCS#1 v1.5 encryption is randomised: equal inputs, different ciphertexts, both valid.
        assert_ne!(first, second);
        // Yahoo's key as pasted from the admin screen, with blank lines around it.
        assert!(sws_signature(&shop(), 1, &format!("\n{pem}\n")).is_ok());
    }

    #[test]
    fn a_key_that_is_not_a_pem_public_key_is_refused() {
        for pem in [
            "",
            "MIIBIjANBgkqh",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            assert!(
                matches!(sws_signature(&shop(), 1, pem), Err(PublicKeyError::BadKey(_))),
                "{pem}"
            );
        }
    }

    #[test]
    fn the_authorize_status_header_is_read() {
        let status = |value: &str| authorize_status(&headers(&[("X-SWS-Authorize-Status", value)]));
        assert_eq!(status("authorized"), AuthorizeStatus::Authorized);
        assert_eq!(status("unauthorized"), AuthorizeStatus::Unauthorized);
        assert_eq!(status("maybe"), AuthorizeStatus::Missing);
        assert_eq!(authorize_status(&headers(&[])), AuthorizeStatus::Missing);
        let collected = response_headers(|name| match name {
            "X-SWS-Authorize-Status" => Some("authorized"),
            "Set-Cookie" => Some("B=1"),
            _ => None,
        });
        assert_eq!(authorize_status(&collected), AuthorizeStatus::Authorized);
        assert_eq!(collected.get("set-cookie"), None);
    }

    #[test]
    fn the_expired_token_sample_is_token_expired() {
        let (status, headers, body) = http_response(&sample("error-token-expired.http"));
        assert_eq!(status, 401);
        assert_eq!(
            classify(status, &headers, &body),
            Some(Failure::TokenExpired {
                description: Some("expired token".into())
            })
        );
        // The body repeats the challenge, so a client that lost the header still knows.
        assert_eq!(
            classify(401, &self::headers(&[]), &body),
            Some(Failure::TokenExpired {
                description: Some("expired token".into())
            })
        );
    }

    #[test]
    fn the_session_expired_sample_is_session_expired_whatever_else_is_said() {
        let body = sample("error-session-expired.xml");
        assert_eq!(classify(401, &headers(&[]), &body), Some(Failure::SessionExpired));
        let challenge = [(
            "WWW-Authenticate",
            r#"Bearer realm="yahooapis.jp", error="invalid_token""#,
        )];
        assert_eq!(
            classify(401, &headers(&challenge), &body),
            Some(Failure::SessionExpired)
        );
        assert_eq!(classify(403, &headers(&[]), &body), Some(Failure::SessionExpired));
    }

    #[test]
    fn the_refused_status_change_sample_is_refused() {
        let body = sample("orderStatusChange-refused.xml");
        let expected = |status| Failure::Refused {
            status,
            code: None,
            message: "Cannot Be Operated : CancelOrder OrderStatus".into(),
        };
        assert_eq!(classify(400, &headers(&[]), &body), Some(expected(400)));
        // Whatever the status: an error document is never a success.
        assert_eq!(classify(200, &headers(&[]), &body), Some(expected(200)));
    }

    #[test]
    fn a_429_is_throttled_whatever_its_body() {
        assert_eq!(classify(429, &headers(&[]), b""), Some(Failure::Throttled));
        let body = b"<Error><Message>Too Many Requests</Message></Error>";
        assert_eq!(classify(429, &headers(&[]), body), Some(Failure::Throttled));
    }

    #[test]
    fn the_daily_cap_is_quota_exceeded_and_a_coded_403_is_refused() {
        let body = b"<Error><Message>Your Request was Forbidden</Message></Error>";
        assert_eq!(classify(403, &headers(&[]), body), Some(Failure::QuotaExceeded));
        let body = b"<Error><Message>This application ID is not registered for using order API.</Message><Code>px-04303</Code></Error>";
        assert!(matches!(
            classify(403, &headers(&[]), body),
            Some(Failure::Refused { status: 403, code: Some(c), .. }) if c == "px-04303"
        ));
    }

    #[test]
    fn invalid_grant_and_revoked_consent_need_reauthorization() {
        let body = br#"{"error":"invalid_grant","error_description":"refresh token is invalid","error_code":1}"#;
        assert_eq!(
            classify(400, &headers(&[]), body),
            Some(Failure::ReauthorizationNeeded {
                code: "invalid_grant".into(),
                message: "refresh token is invalid".into()
            })
        );
        let body = b"<Error><Message>Use of API is not permitted.</Message><Code>px-04307</Code></Error>";
        assert_eq!(
            classify(403, &headers(&[]), body),
            Some(Failure::ReauthorizationNeeded {
                code: "px-04307".into(),
                message: "Use of API is not permitted.".into()
            })
        );
        let body = br#"{"error":"invalid_client","error_description":"client authentication failed"}"#;
        assert!(matches!(
            classify(401, &headers(&[]), body),
            Some(Failure::Refused { status: 401, code: Some(c), .. }) if c == "invalid_client"
        ));
    }

    #[test]
    fn server_errors_are_unavailable() {
        let body = b"<Error><Message>Internal Server Error</Message><Code>od91001</Code></Error>";
        assert_eq!(
            classify(500, &headers(&[]), body),
            Some(Failure::Unavailable {
                status: 500,
                message: Some("Internal Server Error".into())
            })
        );
        assert_eq!(
            classify(503, &headers(&[]), b"<html>busy</html>"),
            Some(Failure::Unavailable {
                status: 503,
                message: None
            })
        );
        assert_eq!(
            classify(502, &headers(&[]), b""),
            Some(Failure::Unavailable {
                status: 502,
                message: None
            })
        );
    }

    #[test]
    fn successes_and_other_refusals_are_told_apart() {
        assert_eq!(classify(200, &headers(&[]), &sample("orderInfo.xml")), None);
        assert_eq!(classify(200, &headers(&[]), &sample("orderList-empty.xml")), None);
        assert_eq!(
            classify(200, &headers(&[]), br#"{"access_token":"x","expires_in":3600}"#),
            None
        );
        let scope = [(
            "WWW-Authenticate",
            r#"Bearer realm="yahooapis.jp", error="insufficient_scope", error_description="insufficient scope""#,
        )];
        assert_eq!(
            classify(401, &headers(&scope), b""),
            Some(Failure::Refused {
                status: 401,
                code: Some("insufficient_scope".into()),
                message: "HTTP 401".into()
            })
        );
        let body = b"<Error><Message>seller_id is not specified</Message><Code>px-04001</Code></Error>";
        assert_eq!(
            classify(400, &headers(&[]), body),
            Some(Failure::Refused {
                status: 400,
                code: Some("px-04001".into()),
                message: "seller_id is not specified".into()
            })
        );
        let long = format!("<Error><Message>{}</Message></Error>", "x".repeat(5000));
        let Some(Failure::Refused { message, .. }) = classify(400, &headers(&[]), long.as_bytes()) else {
            panic!("not refused");
        };
        assert_eq!(message.len(), 300);
    }

    #[test]
    fn bearer_parameters_are_matched_whole() {
        let challenge = r#"Bearer realm="yahooapis.jp", error="invalid_token", error_description="expired token""#;
        assert_eq!(bearer_error(challenge), Some("invalid_token"));
        assert_eq!(
            bearer_param(challenge, "error_description").as_deref(),
            Some("expired token")
        );
        assert_eq!(bearer_error(r#"Bearer my_error="x""#), None);
    }

    // -----------------------------------------------------------------------------------------------------
    // orderStatusChange: hold, release, cancel
    // -----------------------------------------------------------------------------------------------------

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct SentRequest {
        target: SentTarget,
        order: SentOrder,
        seller_id: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct SentTarget {
        order_id: String,
        is_point_fix: String,
        operation_user: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct SentOrder {
        order_status: String,
        cancel_reason: Option<String>,
    }

    /// A request body read back as Yahoo would: a bounded `<Req>` document.
    fn sent(body: &str) -> SentRequest {
        let (text, root) = check_xml(body.as_bytes()).unwrap();
        assert_eq!(root, "Req");
        decode_xml(text).unwrap()
    }

    fn sample_order_id() -> OrderId {
        OrderId::parse("tanaka-yahoo-10000125").unwrap()
    }

    #[test]
    fn hold_release_and_cancel_build_the_status_change_bodies() {
        let order = sample_order_id();
        let hold = sent(&status_change_request(&shop(), &order, StatusChange::Hold));
        assert_eq!(hold.target.order_id, "tanaka-yahoo-10000125");
        assert_eq!(hold.target.is_point_fix, "false");
        assert_eq!(hold.target.operation_user, None);
        assert_eq!(hold.order.order_status, "3");
        assert_eq!(hold.order.cancel_reason, None);
        assert_eq!(hold.seller_id, "tanaka-yahoo");

        let release = sent(&status_change_request(&shop(), &order, StatusChange::Release));
        assert_eq!(release.order.order_status, "2");
        assert_eq!(release.target.is_point_fix, "false");
        assert_eq!(release.order.cancel_reason, None);

        let cancel = status_change_request(&shop(), &order, StatusChange::CANCEL_DUPLICATE);
        let read = sent(&cancel);
        assert_eq!(read.order.order_status, "4");
        assert_eq!(read.order.cancel_reason.as_deref(), Some("160"));
        assert_eq!(read.target.is_point_fix, "false");
        // Exactly the body the lower-level builder makes.
        assert_eq!(
            cancel,
            order_status_change_request(
                &shop(),
                &order,
                YahooOrderStatus::Cancelled,
                false,
                Some(CancelReason::DUPLICATE_ORDER)
            )
        );
        let other = sent(&status_change_request(
            &shop(),
            &order,
            StatusChange::Cancel(CancelReason::BUYER_OTHER),
        ));
        assert_eq!(other.order.cancel_reason.as_deref(), Some("180"));
        assert_eq!(StatusChange::Hold.target(), YahooOrderStatus::OnHold);
        assert_eq!(StatusChange::Release.target(), YahooOrderStatus::Processing);
        assert_eq!(StatusChange::CANCEL_DUPLICATE.target(), YahooOrderStatus::Cancelled);
    }

    #[test]
    fn the_transition_table_is_yahoos() {
        use YahooOrderStatus::*;
        let all = [Reserved, Processing, OnHold, Cancelled, Completed];
        let allowed: Vec<(u8, Vec<u8>)> = all
            .iter()
            .map(|from| (from.code(), from.allowed_targets().iter().map(|to| to.code()).collect()))
            .collect();
        assert_eq!(
            allowed,
            [
                (1, vec![4, 5]),
                (2, vec![3, 4, 5]),
                (3, vec![2, 4, 5]),
                (4, vec![]),
                (5, vec![2, 4]),
            ]
        );
        // A reservation cannot be held; a cancellation is final; nothing changes to itself.
        assert!(!Reserved.can_change_to(OnHold));
        assert!(Processing.can_change_to(OnHold));
        assert!(OnHold.can_change_to(Processing));
        for to in all {
            assert!(!Cancelled.can_change_to(to), "{to:?}");
            assert!(!to.can_change_to(to), "{to:?}");
        }
        assert_eq!(OnHold.label(), "3 保留");
    }

    #[test]
    fn each_change_is_checked_against_the_status_the_fraud_hold_and_the_shipping() {
        use YahooOrderStatus::*;
        let cancel = StatusChange::CANCEL_DUPLICATE;
        let check = |change: StatusChange, from, fraud: Option<&str>, ship: Option<u8>| change.check(from, fraud, ship);
        // Hold: only from 2.
        assert_eq!(check(StatusChange::Hold, Processing, Some("0"), Some(1)), Ok(()));
        assert_eq!(
            check(StatusChange::Hold, Reserved, None, None),
            Err(ChangeBlocked::NotAllowed {
                from: Reserved,
                to: OnHold
            })
        );
        assert_eq!(
            check(StatusChange::Hold, OnHold, None, None),
            Err(ChangeBlocked::AlreadyDone(OnHold))
        );
        assert!(matches!(
            check(StatusChange::Hold, Completed, None, None),
            Err(ChangeBlocked::NotAllowed { .. })
        ));
        assert!(matches!(
            check(StatusChange::Hold, Cancelled, None, None),
            Err(ChangeBlocked::NotAllowed { .. })
        ));
        // Release: only from 3, never 5 → 2.
        assert_eq!(check(StatusChange::Release, OnHold, None, Some(1)), Ok(()));
        assert_eq!(
            check(StatusChange::Release, Processing, None, None),
            Err(ChangeBlocked::AlreadyDone(Processing))
        );
        assert_eq!(
            check(StatusChange::Release, Completed, None, None),
            Err(ChangeBlocked::NotAllowed {
                from: Completed,
                to: Processing
            })
        );
        assert!(matches!(
            check(StatusChange::Release, Reserved, None, None),
            Err(ChangeBlocked::NotAllowed { .. })
        ));
        // Cancel: from 1, 2, 3 while not shipped.
        for from in [Reserved, Processing, OnHold] {
            assert_eq!(check(cancel, from, None, Some(1)), Ok(()), "{from:?}");
            assert_eq!(check(cancel, from, Some("0"), Some(2)), Ok(()), "{from:?}");
            assert_eq!(check(cancel, from, None, None), Ok(()), "{from:?}");
        }
        assert_eq!(
            check(cancel, Cancelled, None, None),
            Err(ChangeBlocked::AlreadyDone(Cancelled))
        );
        // Yahoo would cancel a shipped or completed order; mallguard must not.
        for ship in [3, 4] {
            assert_eq!(
                check(cancel, Processing, None, Some(ship)),
                Err(ChangeBlocked::AlreadyShipped {
                    ship_status: Some(ship)
                })
            );
        }
        assert_eq!(
            check(cancel, Completed, None, None),
            Err(ChangeBlocked::AlreadyShipped { ship_status: None })
        );
        // Fraud screening 1 or 3: only a cancel.
        for fraud in ["1", "3", " 3 "] {
            assert_eq!(
                check(StatusChange::Hold, Processing, Some(fraud), None),
                Err(ChangeBlocked::FraudHold(fraud.trim().to_owned()))
            );
            assert_eq!(
                check(StatusChange::Release, OnHold, Some(fraud), None),
                Err(ChangeBlocked::FraudHold(fraud.trim().to_owned()))
            );
            assert_eq!(check(cancel, Processing, Some(fraud), None), Ok(()));
        }
        // 0, blank, 2 (released) and values nobody documented restrict nothing here.
        for fraud in [Some("0"), Some(""), Some("2"), Some("9"), None] {
            assert_eq!(check(StatusChange::Hold, Processing, fraud, None), Ok(()), "{fraud:?}");
        }
    }

    #[test]
    fn a_blocked_change_says_why_in_words() {
        use YahooOrderStatus::*;
        assert_eq!(
            ChangeBlocked::NotAllowed {
                from: Reserved,
                to: OnHold
            }
            .to_string(),
            "Yahoo does not change an order from 1 予約中 to 3 保留"
        );
        assert_eq!(
            ChangeBlocked::AlreadyDone(Cancelled).to_string(),
            "the order is already 4 キャンセル"
        );
        assert_eq!(
            ChangeBlocked::AlreadyShipped { ship_status: Some(3) }.to_string(),
            "the order has already shipped (ShipStatus 3): it must not be cancelled"
        );
        assert!(
            ChangeBlocked::AlreadyShipped { ship_status: None }
                .to_string()
                .contains("OrderStatus 5")
        );
        assert!(
            ChangeBlocked::FraudHold("1".into())
                .to_string()
                .contains("FraudHoldStatus 1")
        );
    }

    #[test]
    fn the_sample_orders_say_which_changes_may_be_sent() {
        let open = info(&sample("orderInfo.xml"));
        assert!(!open.has_shipped());
        assert_eq!(open.check_change(StatusChange::Hold), Ok(()));
        assert_eq!(open.check_change(StatusChange::CANCEL_DUPLICATE), Ok(()));
        assert_eq!(
            open.check_change(StatusChange::Release),
            Err(ChangeBlocked::AlreadyDone(YahooOrderStatus::Processing))
        );
        let shipped = info(&patched(&[(
            "<ShipStatus>1</ShipStatus>",
            "<ShipStatus>3</ShipStatus>",
        )]));
        assert!(shipped.has_shipped());
        assert_eq!(
            shipped.check_change(StatusChange::CANCEL_DUPLICATE),
            Err(ChangeBlocked::AlreadyShipped { ship_status: Some(3) })
        );
        let screened = info(&patched(&[(
            "<FraudHoldStatus>0</FraudHoldStatus>",
            "<FraudHoldStatus>1</FraudHoldStatus>",
        )]));
        assert_eq!(
            screened.check_change(StatusChange::Hold),
            Err(ChangeBlocked::FraudHold("1".into()))
        );
        assert_eq!(screened.check_change(StatusChange::CANCEL_DUPLICATE), Ok(()));
        let cancelled = info(&sample("orderInfo-cancelled.xml"));
        assert_eq!(
            cancelled.check_change(StatusChange::CANCEL_DUPLICATE),
            Err(ChangeBlocked::AlreadyDone(YahooOrderStatus::Cancelled))
        );
        assert!(matches!(
            cancelled.check_change(StatusChange::Hold),
            Err(ChangeBlocked::NotAllowed { .. })
        ));
    }

    #[test]
    fn a_status_change_answer_is_read_under_either_root() {
        assert_eq!(
            parse_order_status_change(&sample("orderStatusChange.xml")),
            Ok(StatusChangeOutcome::Ok)
        );
        let warned = StatusChangeOutcome::Warning(vec![YahooMessage {
            code: Some("od91705".into()),
            message: Some("注文ステータスを変更しました。注文内容をご確認ください。".into()),
            detail: Some("tanaka-yahoo-10000125".into()),
        }]);
        assert_eq!(
            parse_order_status_change(&sample("orderStatusChange-warning.xml")),
            Ok(warned.clone())
        );
        assert!(warned.is_changed());
        assert!(StatusChangeOutcome::Ok.is_changed());
        // The other root form of each.
        let wrapped_ok = b"<ResultSet><Result><Status>OK</Status></Result></ResultSet>";
        assert_eq!(parse_order_status_change(wrapped_ok), Ok(StatusChangeOutcome::Ok));
        let flat_warning = "<Result><Status>OK</Status><Warning><Code>od91704</Code><Message>m</Message></Warning>\
                            <Warning><Code>od91705</Code></Warning></Result>";
        let Ok(StatusChangeOutcome::Warning(warnings)) = parse_order_status_change(flat_warning.as_bytes()) else {
            panic!("{:?}", parse_order_status_change(flat_warning.as_bytes()));
        };
        let codes: Vec<_> = warnings.iter().map(|w| w.code.as_deref()).collect();
        assert_eq!(codes, [Some("od91704"), Some("od91705")]);
        assert_eq!(warnings[1].message, None);
        // Through the HTTP reader: a 200 with either body.
        assert_eq!(
            order_status_change_outcome(200, &headers(&[]), &sample("orderStatusChange-warning.xml")),
            Ok(warned)
        );
        assert_eq!(
            order_status_change_outcome(200, &headers(&[]), wrapped_ok),
            Ok(StatusChangeOutcome::Ok)
        );
    }

    #[test]
    fn a_refused_change_is_an_outcome_whatever_its_status() {
        let body = sample("orderStatusChange-refused.xml");
        let refused = StatusChangeOutcome::Refused {
            code: None,
            message: "Cannot Be Operated : CancelOrder OrderStatus".into(),
        };
        assert_eq!(parse_order_status_change(&body), Ok(refused.clone()));
        assert!(!refused.is_changed());
        for status in [200, 400, 403, 409] {
            assert_eq!(
                order_status_change_outcome(status, &headers(&[]), &body),
                Ok(refused.clone()),
                "{status}"
            );
        }
        let coded = b"<Error><Message>The order cannot be changed.</Message><Code>od91150</Code></Error>";
        assert_eq!(
            order_status_change_outcome(400, &headers(&[]), coded),
            Ok(StatusChangeOutcome::Refused {
                code: Some("od91150".into()),
                message: "The order cannot be changed.".into()
            })
        );
        let long = format!(
            "<Error><Message>Cannot Be Operated : {}</Message></Error>",
            "x".repeat(5000)
        );
        let Ok(StatusChangeOutcome::Refused { message, .. }) = parse_order_status_change(long.as_bytes()) else {
            panic!("not refused");
        };
        assert_eq!(message.chars().count(), 300);
    }

    #[test]
    fn failures_of_the_request_go_through_classify() {
        let (status, response_headers, body) = http_response(&sample("error-token-expired.http"));
        assert!(matches!(
            order_status_change_outcome(status, &response_headers, &body),
            Err(StatusChangeError::Failure(Failure::TokenExpired { .. }))
        ));
        assert_eq!(
            order_status_change_outcome(401, &headers(&[]), &sample("error-session-expired.xml")),
            Err(StatusChangeError::Failure(Failure::SessionExpired))
        );
        let cap = b"<Error><Message>Your Request was Forbidden</Message></Error>";
        assert_eq!(
            order_status_change_outcome(403, &headers(&[]), cap),
            Err(StatusChangeError::Failure(Failure::QuotaExceeded))
        );
        let permission = b"<Error><Message>This application ID is not registered for using order API.</Message><Code>px-04303</Code></Error>";
        assert!(matches!(
            order_status_change_outcome(403, &headers(&[]), permission),
            Err(StatusChangeError::Failure(Failure::Refused { status: 403, code: Some(c), .. })) if c == "px-04303"
        ));
        // Under a 200 too: a px error is not a refusal of the change.
        assert!(matches!(
            order_status_change_outcome(200, &headers(&[]), permission),
            Err(StatusChangeError::Failure(Failure::Refused { status: 200, .. }))
        ));
        // A 5xx is worth a retry, even with an od code.
        let server = b"<Error><Message>Internal Server Error</Message><Code>od91001</Code></Error>";
        assert!(matches!(
            order_status_change_outcome(500, &headers(&[]), server),
            Err(StatusChangeError::Failure(Failure::Unavailable { status: 500, .. }))
        ));
        assert!(matches!(
            order_status_change_outcome(503, &headers(&[]), &sample("orderStatusChange.xml")),
            Err(StatusChangeError::Failure(Failure::Unavailable { status: 503, .. }))
        ));
        // A success body under a 4xx is no success.
        assert!(matches!(
            order_status_change_outcome(400, &headers(&[]), &sample("orderStatusChange.xml")),
            Err(StatusChangeError::Failure(Failure::Refused { status: 400, .. }))
        ));
    }

    #[test]
    fn a_malformed_status_change_answer_is_a_clear_error() {
        let message = |body: &[u8]| match parse_order_status_change(body) {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert_eq!(message(b""), "the response is empty");
        assert!(message(b"<Result><Status>OK</Result>").starts_with("the response is not well-formed XML"));
        assert_eq!(message(br#"{"Status":"OK"}"#), "the response has no root element");
        assert_eq!(
            message(b"<ResultSet><Result><Status>NG</Status></Result></ResultSet>"),
            "Result.Status: is \"NG\", not OK: the change is not confirmed"
        );
        assert_eq!(
            message(b"<Result><Status></Status></Result>"),
            "Status: is \"\", not OK: the change is not confirmed"
        );
        assert_eq!(
            message(b"<Result><Warning><Code>od91705</Code></Warning></Result>"),
            "Status: is missing (the root is Result): the change is not confirmed"
        );
        assert_eq!(
            message(b"<ResultSet><Result></Result></ResultSet>"),
            "Result.Status: is missing (the root is ResultSet): the change is not confirmed"
        );
        assert!(
            message(&sample("error-session-expired.xml"))
                .starts_with("Yahoo answered with an error, not an orderStatusChange result: px-04102: "),
            "{}",
            message(&sample("error-session-expired.xml"))
        );
        let doctype = b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"OK\">]><Result><Status>&x;</Status></Result>";
        assert!(message(doctype).starts_with("the response has a DOCTYPE"));
        let deep = format!("<Result>{}OK{}</Result>", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert_eq!(
            parse_order_status_change(deep.as_bytes()),
            Err(ParseError::TooDeep(crate::MAX_DEPTH))
        );
        // Through the HTTP reader: a 2xx nobody understands leaves the change unknown.
        assert!(matches!(
            order_status_change_outcome(200, &headers(&[]), b"<Result><Status>NG</Status></Result>"),
            Err(StatusChangeError::NotUnderstood(ParseError::Invalid(m))) if m.starts_with("Status: is \"NG\"")
        ));
        assert!(matches!(
            order_status_change_outcome(200, &headers(&[]), b""),
            Err(StatusChangeError::NotUnderstood(_))
        ));
    }
}
