//! Amazon.co.jp, through the Selling Partner API (SP-API): the `ORDER_CHANGE` notification Amazon writes to
//! an SQS queue, the Login with Amazon (LWA) token, the Restricted Data Token (RDT) and the Orders API v0.
//! Pure: it builds requests and reads responses; the caller does the HTTP and keeps the tokens.
//!
//! Amazon pushes no webhook to us. The intake, per SQS record:
//!
//! 1. [`parse_notification`] reads the record's `body` into an [`OrderChange`]. Dedupe on its
//!    [`notification_id`](OrderChange::notification_id) (SQS Standard delivers at least once), key the order on
//!    `(SellerId, AmazonOrderId)` ([`OrderChange::order_ref`]). A `Pending` order is not fetched
//!    ([`OrderChange::worth_fetching`]): its items carry no prices and its address is not given yet.
//! 2. An LWA access token: POST [`lwa_token_form`] to [`LWA_TOKEN_URL`], read it with [`parse_lwa_token`];
//!    it lasts an hour, so cache it for a little less than its [`expires_in`](Token::expires_in).
//! 3. An RDT for the order: POST [`restricted_data_token_request`] to [`RESTRICTED_DATA_TOKEN_PATH`] with the
//!    LWA token in [`ACCESS_TOKEN_HEADER`], read it with [`parse_restricted_data_token`].
//! 4. `getOrder` ([`v0_get_order`]) with the RDT in [`ACCESS_TOKEN_HEADER`], so `BuyerInfo` and the full
//!    `ShippingAddress` come back; `getOrderItems` ([`v0_get_order_items`]) with the LWA token, page by page
//!    while [`v0_items_next_token`] gives a token.
//! 5. [`order_from`] turns both into the canonical order, with the evidence bytes (both responses, byte for
//!    byte, in one small JSON object that [`order_from_evidence`] reads again for a replay).
//!
//! Any response that is not a 2xx goes through [`Failure::classify`] (and [`Failure::classify_lwa`] for the
//! LWA endpoint): [`Failure::retry_later`] says which ones to hand back to SQS in the Lambda's
//! `batchItemFailures` (the record's `messageId` as `itemIdentifier`), letting the queue's visibility timeout
//! be the back-off; the handler must never throw, or the whole batch is retried. [`v0_get_orders`] is the
//! polling backstop for notifications that never came.
//!
//! The endpoint is the Far East one ([`FE_ENDPOINT`]), the marketplace Amazon.co.jp ([`JP_MARKETPLACE_ID`]).
//! SP-API needs no AWS Signature Version 4 since 2023-10-02: the LWA token (or the RDT) is the whole
//! authorisation. Never log the tokens, `BuyerInfo` or `ShippingAddress`.
//!
//! # Sources, and what is not verified
//!
//! Every wire name here is from the SP-API models in `amzn/selling-partner-api-models`
//! (`schemas/notifications/OrderChangeNotification.json`, `models/orders-api-model/ordersV0.json`,
//! `models/tokens-api-model/tokens_2021-03-01.json`), Amazon's developer guide, and the AWS SQS event shape of
//! `aws_lambda_events`; `events/README.md` lists them with the samples. Not verified, and so read loosely:
//! which of `StateOrRegion`/`City`/`AddressLine1-3` hold the prefecture, the ward and the street for Japan
//! (read as prefecture, city and lines, like every other mall); whether JPY amounts carry decimals (both
//! parse); the exact 403 body of an expired token (observed in issues, not specified); the HTTP status of
//! LWA's `invalid_grant` (classified by the error code, whatever the status); the item quantity Amazon
//! reports on a cancelled order; which `ShipmentServiceLevelCategory` values a Japanese express delivery
//! (お急ぎ便) carries (read: `Expedited`, `NextDay`, `SameDay`, `Priority`, `SecondDay`); and what
//! `ScheduledDeliveryStartDate`/`ScheduledDeliveryEndDate` look like on a Japanese order (read as the
//! requested delivery day and time when present and parseable, otherwise ignored).
//!
//! # Orders API v0 is deprecated
//!
//! Amazon marks `getOrders`, `getOrder` and `getOrderItems` of the Orders API v0 deprecated and removes them
//! on 2027-03-27: "you must migrate to Orders API v2026-01-01 by March 27, 2027". Everything that belongs to
//! v0 here says so in its name (`V0…` wire structs, `v0_…` request builders, [`V0_ORDERS_PATH`], the
//! evidence's `"api": "orders-v0"`), so the move is a matter of adding beside it, not of editing it.
//! What v2026-01-01 changes, from Amazon's migration guide and model:
//!
//! - One call: `GET /orders/2026-01-01/orders/{orderId}?includedData=BUYER,RECIPIENT` returns the order with
//!   its items always included, so `getOrderItems` and its pages go away (the response is
//!   `{"order": {...}}`, no `payload`; errors stay `{"errors": [{code, message, details}]}`).
//! - No RDT: "Role-based permissions replace Restricted Data Token (RDT) generation", so
//!   [`restricted_data_token_request`] and [`parse_restricted_data_token`] go away; the LWA token does it all.
//! - New names, camelCase: `orderId`, `createdTime`, `lastUpdatedTime`, `salesChannel`, `orderItems` (each
//!   with `orderItemId`, `quantityOrdered`, `product`), `buyer` (`buyerName`, `buyerEmail`), `recipient`
//!   (`deliveryAddress`, `deliveryPreference`), `proceeds`, `payment`, `fulfillment`. The fields inside
//!   `deliveryAddress` and `product` are not in the research this module was written from: read the model
//!   (`models/orders-api-model/orders_2026-01-01.json`) before mapping them.
//! - The backstop becomes `GET /orders/2026-01-01/orders` (`searchOrders`) with `createdAfter` or
//!   `lastUpdatedAfter`, `marketplaceIds`, `maxResultsPerPage` and `paginationToken` (valid 24 hours), at a
//!   lower default rate (0.0056 requests a second, burst 20, against 0.0167 for v0 `getOrders`).
//! - Unchanged: the LWA exchange, the endpoint, the marketplace id, the error bodies and [`Failure`]. Whether
//!   `ORDER_CHANGE` itself changes is not known (its schema is still `PayloadVersion` 1.0).

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use mallguard_domain::ids::{Mall, OrderId, OrderRef, ProductKey, ShopId};
use mallguard_domain::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderError, OrderLine, OrderLines, OrderStatus, PayloadDigest,
    PaymentMethod, PostalAddress, Quantity,
};
use mallguard_domain::policy::jst;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Amount, ParseError, PolledOrder, check_shape, decode, non_empty, null_as_default, string_only};

/// The SP-API endpoint of the Far East region (Japan, Singapore, Australia).
pub const FE_ENDPOINT: &str = "https://sellingpartnerapi-fe.amazon.com";
/// The Far East sandbox.
pub const FE_SANDBOX_ENDPOINT: &str = "https://sandbox.sellingpartnerapi-fe.amazon.com";
/// The marketplace id of Amazon.co.jp.
pub const JP_MARKETPLACE_ID: &str = "A1VC38T7YXB528";
/// The LWA token endpoint, the same for every region.
pub const LWA_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";
/// The content type of [`lwa_token_form`].
pub const LWA_CONTENT_TYPE: &str = "application/x-www-form-urlencoded;charset=UTF-8";
/// The request header that carries the LWA access token, or the RDT for a restricted call.
pub const ACCESS_TOKEN_HEADER: &str = "x-amz-access-token";
/// Tokens API `createRestrictedDataToken`: POST, JSON body, LWA token in [`ACCESS_TOKEN_HEADER`].
pub const RESTRICTED_DATA_TOKEN_PATH: &str = "/tokens/2021-03-01/restrictedDataToken";
/// Orders API v0 (deprecated, removed 2027-03-27): `getOrders`, and the parent of `getOrder`.
pub const V0_ORDERS_PATH: &str = "/orders/v0/orders";
/// The `NotificationType` of an order change.
pub const ORDER_CHANGE: &str = "ORDER_CHANGE";
/// The value of the evidence's `api` field for an order read from Orders API v0.
const V0_EVIDENCE_API: &str = "orders-v0";
/// The currency of an amount that names none: this is Amazon.co.jp.
const DEFAULT_CURRENCY: &str = "JPY";
/// How many characters of a text Amazon sends we repeat in an error or keep as an unknown value.
const ECHO: usize = 60;

// ---------------------------------------------------------------------------------------------------------
// ORDER_CHANGE
// ---------------------------------------------------------------------------------------------------------

/// An `ORDER_CHANGE` notification: which order of which seller changed, and to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChange {
    /// `NotificationMetadata.NotificationId`: "A unique identifier for this notification instance", the
    /// dedupe key (the same notification can reach the queue, and the Lambda, more than once).
    pub notification_id: String,
    /// `Payload.OrderChangeNotification.SellerId`: the shop on Amazon.
    pub seller_id: ShopId,
    /// `AmazonOrderId` (`250-1234567-7654321`).
    pub order_id: OrderId,
    /// `OrderChangeType`.
    pub change_type: OrderChangeType,
    /// `Summary.OrderStatus`.
    pub order_status: AmazonStatus,
    /// `Summary.MarketplaceId`: [`JP_MARKETPLACE_ID`] for Amazon.co.jp.
    pub marketplace_id: String,
    /// `EventTime`: when Amazon published the notification.
    pub event_time: Timestamp,
}

impl OrderChange {
    /// The order this notification is about: Amazon, the seller, the order id.
    pub fn order_ref(&self) -> OrderRef {
        OrderRef::new(Mall::Amazon, self.seller_id.clone(), self.order_id.clone())
    }

    /// The delivery id for idempotency, prefixed like [`crate::delivery_id`]'s: `amazon:{NotificationId}`.
    pub fn delivery_id(&self) -> String {
        format!("amazon:{}", self.notification_id)
    }

    /// Whether the notification is about Amazon.co.jp.
    pub fn is_japan(&self) -> bool {
        self.marketplace_id == JP_MARKETPLACE_ID
    }

    /// Whether to fetch the order now. Not while it is `Pending`: `getOrderItems` then "does not return
    /// information about pricing, taxes, shipping charges, gift status or promotions", and the shipping address
    /// is only given from `Unshipped` on. Amazon's own notifications sample skips `Pending` as well; the change
    /// to `Unshipped` comes as a notification of its own.
    pub fn worth_fetching(&self) -> bool {
        self.order_status != AmazonStatus::Pending
    }
}

/// `OrderChangeType` of an `ORDER_CHANGE` notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum OrderChangeType {
    OrderStatusChange,
    /// The buyer asked for a change, such as a cancellation (`ChangeReason` "Buyer Requested Cancel").
    BuyerRequestedChange,
    /// Added to the schema on 2026-05-27.
    DeliveryTipChange,
    /// A type the schema did not list when this was written, as sent (at most 60 characters).
    Other(String),
}

impl From<String> for OrderChangeType {
    fn from(value: String) -> Self {
        match value.trim() {
            "OrderStatusChange" => Self::OrderStatusChange,
            "BuyerRequestedChange" => Self::BuyerRequestedChange,
            "DeliveryTipChange" => Self::DeliveryTipChange,
            other => Self::Other(other.chars().take(ECHO).collect()),
        }
    }
}

/// An order's status at Amazon, in the notification's `Summary` and in Orders API v0 alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
pub enum AmazonStatus {
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Canceled,
    Unfulfillable,
    InvoiceUnconfirmed,
    PendingAvailability,
    /// A status the schema did not list when this was written, as sent (at most 60 characters).
    Other(String),
}

impl From<String> for AmazonStatus {
    fn from(value: String) -> Self {
        match value.trim() {
            "Pending" => Self::Pending,
            "Unshipped" => Self::Unshipped,
            "PartiallyShipped" => Self::PartiallyShipped,
            "Shipped" => Self::Shipped,
            "Canceled" => Self::Canceled,
            "Unfulfillable" => Self::Unfulfillable,
            "InvoiceUnconfirmed" => Self::InvoiceUnconfirmed,
            "PendingAvailability" => Self::PendingAvailability,
            other => Self::Other(other.chars().take(ECHO).collect()),
        }
    }
}

impl AmazonStatus {
    /// The status as Amazon writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::Unshipped => "Unshipped",
            Self::PartiallyShipped => "PartiallyShipped",
            Self::Shipped => "Shipped",
            Self::Canceled => "Canceled",
            Self::Unfulfillable => "Unfulfillable",
            Self::InvoiceUnconfirmed => "InvoiceUnconfirmed",
            Self::PendingAvailability => "PendingAvailability",
            Self::Other(raw) => raw,
        }
    }

    /// In mallguard's words: `Canceled` is cancelled, `Shipped` shipped, everything else still open
    /// (a partly shipped order can still be stopped in part).
    pub fn canonical(&self) -> OrderStatus {
        match self {
            Self::Canceled => OrderStatus::Cancelled,
            Self::Shipped => OrderStatus::Shipped,
            _ => OrderStatus::Open,
        }
    }

    /// Whether Orders API v0 gives the shipping address in this status: "only available for orders with the
    /// following status values: Unshipped, PartiallyShipped, Shipped and InvoiceUnconfirmed".
    fn has_shipping_address(&self) -> bool {
        matches!(
            self,
            Self::Unshipped | Self::PartiallyShipped | Self::Shipped | Self::InvoiceUnconfirmed
        )
    }
}

impl fmt::Display for AmazonStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads the `body` of one SQS record as an `ORDER_CHANGE` notification.
///
/// A body that is a JSON string holding the notification (double-encoded) is read once more, as Amazon's
/// own sample does. A notification of another `NotificationType` is [`ParseError::Invalid`] and says which
/// type it was; missing or malformed fields are named by their path
/// (`Payload.OrderChangeNotification: missing field `SellerId``). Only what the intake needs is read; every
/// other field may change without breaking this.
pub fn parse_notification(sqs_body: &[u8]) -> Result<OrderChange, ParseError> {
    if sqs_body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'"') {
        // A JSON string is read without recursion, whatever it holds.
        let inner: String = serde_json::from_slice(sqs_body).map_err(|e| ParseError::NotJson(e.to_string()))?;
        return parse_notification_object(inner.as_bytes());
    }
    parse_notification_object(sqs_body)
}

fn parse_notification_object(raw: &[u8]) -> Result<OrderChange, ParseError> {
    let head: WireNotificationHead = decode(raw)?;
    match head.notification_type.as_deref().map(str::trim) {
        Some(ORDER_CHANGE) => {}
        Some(other) => {
            let other: String = other.chars().take(ECHO).collect();
            return Err(ParseError::field(
                "NotificationType",
                format_args!("{other:?} is not an {ORDER_CHANGE} notification"),
            ));
        }
        None => {
            return Err(ParseError::field(
                "NotificationType",
                "missing: this is not an SP-API notification",
            ));
        }
    }
    decode::<WireNotification>(raw)?.into_change()
}

#[derive(Debug, Deserialize)]
struct WireNotificationHead {
    #[serde(rename = "NotificationType", default)]
    notification_type: Option<String>,
}

/// The parts of the notification that are read; the schema requires each of them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireNotification {
    event_time: String,
    payload: WirePayload,
    notification_metadata: WireMetadata,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WirePayload {
    order_change_notification: WireOrderChange,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireOrderChange {
    #[serde(deserialize_with = "string_only")]
    seller_id: String,
    #[serde(deserialize_with = "string_only")]
    amazon_order_id: String,
    order_change_type: OrderChangeType,
    summary: WireSummary,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireSummary {
    marketplace_id: String,
    order_status: AmazonStatus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireMetadata {
    #[serde(deserialize_with = "string_only")]
    notification_id: String,
}

impl WireNotification {
    fn into_change(self) -> Result<OrderChange, ParseError> {
        const CHANGE: &str = "Payload.OrderChangeNotification";
        let notification_id = non_empty(Some(&self.notification_metadata.notification_id))
            .ok_or_else(|| ParseError::field("NotificationMetadata.NotificationId", "is empty"))?;
        if notification_id.chars().count() > 200 {
            return Err(ParseError::field(
                "NotificationMetadata.NotificationId",
                "is longer than 200 characters",
            ));
        }
        let change = self.payload.order_change_notification;
        let seller_id =
            ShopId::parse(&change.seller_id).map_err(|e| ParseError::field(&format!("{CHANGE}.SellerId"), e))?;
        let order_id = OrderId::parse(&change.amazon_order_id)
            .map_err(|e| ParseError::field(&format!("{CHANGE}.AmazonOrderId"), e))?;
        let event_time = timestamp(&self.event_time, "EventTime")?;
        Ok(OrderChange {
            notification_id: notification_id.to_owned(),
            seller_id,
            order_id,
            change_type: change.order_change_type,
            order_status: change.summary.order_status,
            marketplace_id: change.summary.marketplace_id.trim().chars().take(ECHO).collect(),
            event_time,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Orders API v0: getOrder + getOrderItems into the canonical order
// ---------------------------------------------------------------------------------------------------------

/// The canonical order from Orders API v0 `getOrder` (called with an RDT for `buyerInfo` and
/// `shippingAddress`) and every page of `getOrderItems`, in order; `shop` is the seller (its `SellerId`).
///
/// The bytes that come with it, in success and failure alike, are the evidence:
/// `{"api":"orders-v0","getOrder":<the getOrder response>,"getOrderItems":[<each page>]}`, each response
/// byte for byte as Amazon sent it (one that is not a JSON object is kept as a JSON string instead).
/// [`order_from_evidence`] reads them again for a replay, and the order's digest is theirs.
///
/// The mapping: `AmazonOrderId` is the order id, `PurchaseDate` when it was placed; the buyer is
/// `BuyerInfo.BuyerName` (else the recipient's name) with `BuyerEmail`, Amazon's relay address, and no phone
/// (Amazon gives the buyer's none, and Amazon buyers may not be phoned); the ship-to is `ShippingAddress`:
/// `Name`, `PostalCode`, `StateOrRegion` as the prefecture, `City`, `AddressLine1-3` as the lines, `Phone`.
/// Each item is a line: `SellerSKU` (else `amazon-asin-{ASIN}`), `Title`, `QuantityOrdered`, and as the unit
/// price `ItemPrice` divided by the quantity, since Amazon's `ItemPrice` is "the selling price of the item
/// multiplied by the quantity ordered" (none when it does not divide evenly). A gift is an order with an
/// item whose `IsGift` is `"true"`; `PaymentMethod` `COD` (or a `COD` payment execution) is cash on delivery,
/// `CVS` a convenience store; `OrderStatus` `Canceled` is cancelled, `Shipped` shipped, the rest open;
/// `OrderTotal` is the total. `ShipmentServiceLevelCategory` `Expedited`, `NextDay`, `SameDay`, `Priority`
/// or `SecondDay` is an express delivery.
///
/// An order in a status that has a shipping address (`Unshipped`, `PartiallyShipped`, `Shipped`,
/// `InvoiceUnconfirmed`) whose `ShippingAddress` lacks `Name` or `AddressLine1` is refused: that is what
/// `getOrder` answers without an RDT (or when the app lacks the restricted role), and such an order could
/// not be matched by its address. Fetch it again with an RDT. A `Canceled` or `Pending` order has no address
/// and needs none. Errors name the field by its path, `getOrder.payload.OrderTotal.Amount: …` or
/// `getOrderItems[0].payload.OrderItems[0].QuantityOrdered: must be at least 1`.
///
/// A cancellation is already known from the notification's `Summary.OrderStatus`: the caller need not fetch
/// the order to settle a hold on it.
pub fn order_from(get_order: &[u8], get_order_items: &[&[u8]], shop: &ShopId) -> PolledOrder {
    let evidence = v0_evidence(get_order, get_order_items);
    let read = || -> Result<Order, ParseError> {
        let order = decode_response::<V0GetOrderResponse>(get_order, "getOrder")?;
        let pages = get_order_items
            .iter()
            .enumerate()
            .map(|(i, page)| decode_response::<V0GetOrderItemsResponse>(page, &format!("getOrderItems[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        v0_order(order, pages, shop, &evidence)
    };
    match read() {
        Ok(order) => Ok((order, evidence)),
        Err(e) => Err((evidence, e)),
    }
}

/// The order again from the evidence bytes of [`order_from`] (a quarantined order replayed after a fix):
/// the same order, with the same digest, and the same field paths in errors. The evidence nests two levels
/// deeper than the responses it holds, so a response nested within two levels of [`crate::MAX_DEPTH`] (no
/// real one comes near) is refused here as [`ParseError::TooDeep`].
pub fn order_from_evidence(evidence: &[u8], shop: &ShopId) -> Result<Order, ParseError> {
    let stored: V0Evidence = decode(evidence)?;
    if stored.api != V0_EVIDENCE_API {
        let api: String = stored.api.chars().take(ECHO).collect();
        return Err(ParseError::field(
            "api",
            format_args!("{api:?} is not {V0_EVIDENCE_API:?}"),
        ));
    }
    v0_order(stored.get_order, stored.get_order_items, shop, evidence)
}

/// The evidence of one v0 order: both responses as sent, in one JSON object.
fn v0_evidence(get_order: &[u8], pages: &[&[u8]]) -> Vec<u8> {
    fn embed(out: &mut Vec<u8>, raw: &[u8]) {
        if check_shape(raw).is_ok() {
            out.extend_from_slice(raw);
        } else {
            serde_json::to_writer(out, &String::from_utf8_lossy(raw)).expect("writing to a Vec cannot fail");
        }
    }
    let mut out = Vec::with_capacity(64 + get_order.len() + pages.iter().map(|p| p.len() + 1).sum::<usize>());
    out.extend_from_slice(format!(r#"{{"api":"{V0_EVIDENCE_API}","getOrder":"#).as_bytes());
    embed(&mut out, get_order);
    out.extend_from_slice(br#","getOrderItems":["#);
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        embed(&mut out, page);
    }
    out.extend_from_slice(b"]}");
    out
}

/// [`decode`] for one API response, with the response's name before every field path.
fn decode_response<T: DeserializeOwned>(raw: &[u8], response: &str) -> Result<T, ParseError> {
    check_shape(raw).map_err(|e| match e {
        ParseError::NotJson(message) => ParseError::NotJson(format!("{response}: {message}")),
        other => other,
    })?;
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let suffix = format!(" at line {} column {}", inner.line(), inner.column());
        let text = inner.to_string();
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        if path == "." {
            ParseError::field(response, message)
        } else {
            ParseError::field(&format!("{response}.{path}"), message)
        }
    })
}

/// What [`order_from`] keeps, read back.
#[derive(Debug, Deserialize)]
struct V0Evidence {
    api: String,
    #[serde(rename = "getOrder")]
    get_order: V0GetOrderResponse,
    #[serde(rename = "getOrderItems")]
    get_order_items: Vec<V0GetOrderItemsResponse>,
}

/// Orders API v0 `GetOrderResponse`.
#[derive(Debug, Deserialize)]
struct V0GetOrderResponse {
    #[serde(default)]
    payload: Option<V0Order>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

/// The parts of the Orders API v0 `Order` that are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0Order {
    #[serde(deserialize_with = "string_only")]
    amazon_order_id: String,
    purchase_date: String,
    order_status: AmazonStatus,
    #[serde(default)]
    order_total: Option<V0Money>,
    #[serde(default)]
    payment_method: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    payment_execution_detail: Vec<V0PaymentExecutionDetailItem>,
    #[serde(default)]
    shipment_service_level_category: Option<String>,
    #[serde(default)]
    shipping_address: Option<V0Address>,
    #[serde(default)]
    buyer_info: Option<V0BuyerInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0PaymentExecutionDetailItem {
    #[serde(default)]
    payment_method: Option<String>,
}

/// Orders API v0 `Address`. `Name`, `AddressLine1-3` and `Phone` are restricted: only an RDT brings them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0Address {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address_line1: Option<String>,
    #[serde(default)]
    address_line2: Option<String>,
    #[serde(default)]
    address_line3: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    state_or_region: Option<String>,
    #[serde(default)]
    postal_code: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// Orders API v0 `BuyerInfo`. `BuyerName` is restricted; `BuyerEmail` is "the anonymized email address of
/// the buyer", a relay address at Amazon.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0BuyerInfo {
    #[serde(default)]
    buyer_email: Option<String>,
    #[serde(default)]
    buyer_name: Option<String>,
}

/// Orders API v0 `Money`: the amount is a decimal string.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0Money {
    #[serde(default)]
    currency_code: Option<String>,
    #[serde(default)]
    amount: Option<Amount>,
}

/// Orders API v0 `GetOrderItemsResponse`.
#[derive(Debug, Deserialize)]
struct V0GetOrderItemsResponse {
    #[serde(default)]
    payload: Option<V0OrderItemsList>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0OrderItemsList {
    #[serde(default)]
    amazon_order_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    order_items: Vec<V0OrderItem>,
    #[serde(default)]
    next_token: Option<String>,
}

/// The parts of the Orders API v0 `OrderItem` that are read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0OrderItem {
    #[serde(rename = "ASIN", default)]
    asin: Option<String>,
    #[serde(rename = "SellerSKU", default)]
    seller_sku: Option<String>,
    #[serde(default)]
    title: Option<String>,
    quantity_ordered: u32,
    #[serde(default)]
    item_price: Option<V0Money>,
    /// A string, `"true"` or `"false"`, in the model; a JSON boolean is understood too.
    #[serde(default)]
    is_gift: Option<serde_json::Value>,
    #[serde(default)]
    scheduled_delivery_start_date: Option<String>,
    #[serde(default)]
    scheduled_delivery_end_date: Option<String>,
}

/// One entry of an SP-API `errors` list.
#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<String>,
}

/// The `errors` of a response, for a message: `QuotaExceeded (You exceeded your quota …)`.
fn describe(errors: &[WireError]) -> String {
    errors
        .iter()
        .take(3)
        .map(|e| {
            let code = non_empty(e.code.as_deref()).unwrap_or("?");
            let message: String = non_empty(e.message.as_deref())
                .unwrap_or("")
                .chars()
                .take(ECHO)
                .collect();
            format!("{code} ({message})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn missing_payload(response: &str, errors: &[WireError]) -> ParseError {
    let field = format!("{response}.payload");
    if errors.is_empty() {
        ParseError::field(&field, "missing")
    } else {
        ParseError::field(
            &field,
            format_args!("missing; the response carries errors: {}", describe(errors)),
        )
    }
}

/// The canonical order from the decoded v0 responses; `evidence` is what the digest is taken of.
fn v0_order(
    response: V0GetOrderResponse,
    pages: Vec<V0GetOrderItemsResponse>,
    shop: &ShopId,
    evidence: &[u8],
) -> Result<Order, ParseError> {
    const ORDER: &str = "getOrder.payload";
    let order = response
        .payload
        .ok_or_else(|| missing_payload("getOrder", &response.errors))?;
    let order_id =
        OrderId::parse(&order.amazon_order_id).map_err(|e| ParseError::field(&format!("{ORDER}.AmazonOrderId"), e))?;
    let placed_at = timestamp(&order.purchase_date, &format!("{ORDER}.PurchaseDate"))?;
    let status = order.order_status;

    let address = order.shipping_address.unwrap_or_default();
    if status.has_shipping_address() {
        for (name, value) in [("Name", &address.name), ("AddressLine1", &address.address_line1)] {
            if non_empty(value.as_deref()).is_none() {
                return Err(ParseError::field(
                    &format!("{ORDER}.ShippingAddress.{name}"),
                    format_args!(
                        "missing although the order is {status}: getOrder was called without a restricted data \
                         token for shippingAddress (or the app lacks the restricted role); fetch it again with one"
                    ),
                ));
            }
        }
    }
    let ship_to = PostalAddress {
        name: text(&address.name),
        postal_code: text(&address.postal_code),
        prefecture: text(&address.state_or_region),
        city: text(&address.city),
        lines: [&address.address_line1, &address.address_line2, &address.address_line3]
            .into_iter()
            .filter_map(|line| non_empty(line.as_deref()))
            .map(str::to_owned)
            .collect(),
        phone: non_empty(address.phone.as_deref()).map(str::to_owned),
    };

    let buyer_info = order.buyer_info.as_ref();
    let email = non_empty(buyer_info.and_then(|b| b.buyer_email.as_deref()))
        .map(|e| EmailAddress::parse(e).map_err(|err| ParseError::field(&format!("{ORDER}.BuyerInfo.BuyerEmail"), err)))
        .transpose()?;
    let buyer = Buyer {
        name: non_empty(buyer_info.and_then(|b| b.buyer_name.as_deref()))
            .map_or_else(|| ship_to.name.clone(), str::to_owned),
        kana: None,
        email,
        phone: None,
        address: None,
    };

    let mut lines = Vec::new();
    let mut gift = false;
    let mut delivery = Delivery::default();
    for (p, page) in pages.into_iter().enumerate() {
        let response = format!("getOrderItems[{p}]");
        let list = page.payload.ok_or_else(|| missing_payload(&response, &page.errors))?;
        if let Some(other) = non_empty(list.amazon_order_id.as_deref())
            && other != order_id.as_str()
        {
            let other: String = other.chars().take(ECHO).collect();
            return Err(ParseError::field(
                &format!("{response}.payload.AmazonOrderId"),
                format_args!("{other:?} is not the order {:?} of getOrder", order_id.as_str()),
            ));
        }
        for (i, item) in list.order_items.iter().enumerate() {
            let field = format!("{response}.payload.OrderItems[{i}]");
            lines.push(item.to_line(&field)?);
            gift |= item.is_gift();
            if delivery.requested_date.is_none() {
                (delivery.requested_date, delivery.time_slot) = item.scheduled_delivery();
            }
        }
    }
    let lines = OrderLines::parse(lines).map_err(|e| ParseError::field("getOrderItems", e))?;
    delivery.express = order
        .shipment_service_level_category
        .as_deref()
        .map(str::trim)
        .is_some_and(|c| matches!(c, "Expedited" | "NextDay" | "SameDay" | "Priority" | "SecondDay"));

    let total = order
        .order_total
        .as_ref()
        .map(|m| m.to_money(&format!("{ORDER}.OrderTotal")))
        .transpose()?
        .flatten();

    let is_cod = |method: Option<&str>| method.map(str::trim) == Some("COD");
    let payment = if is_cod(order.payment_method.as_deref())
        || order
            .payment_execution_detail
            .iter()
            .any(|d| is_cod(d.payment_method.as_deref()))
    {
        PaymentMethod::CashOnDelivery
    } else if order.payment_method.as_deref().map(str::trim) == Some("CVS") {
        PaymentMethod::Convenience
    } else {
        PaymentMethod::Other
    };

    Ok(Order {
        order_ref: OrderRef::new(Mall::Amazon, shop.clone(), order_id),
        // The AmazonOrderId is the number buyers and staff know.
        number: None,
        placed_at,
        buyer,
        ship_to,
        lines,
        delivery,
        gift,
        payment,
        status: status.canonical(),
        total,
        payload_digest: PayloadDigest::of(evidence),
    })
}

impl V0OrderItem {
    fn to_line(&self, field: &str) -> Result<OrderLine, ParseError> {
        let product = match (non_empty(self.seller_sku.as_deref()), non_empty(self.asin.as_deref())) {
            (Some(sku), _) => ProductKey::parse(sku).map_err(|e| ParseError::field(&format!("{field}.SellerSKU"), e)),
            (None, Some(asin)) => ProductKey::parse(&format!("amazon-asin-{asin}"))
                .map_err(|e| ParseError::field(&format!("{field}.ASIN"), e)),
            (None, None) => Err(ParseError::field(
                &format!("{field}.SellerSKU"),
                "missing, and the item has no ASIN either",
            )),
        }?;
        let quantity = Quantity::try_from(self.quantity_ordered)
            .map_err(|_| ParseError::field(&format!("{field}.QuantityOrdered"), "must be at least 1"))?;
        let unit_price = self
            .item_price
            .as_ref()
            .map(|m| m.to_money(&format!("{field}.ItemPrice")))
            .transpose()?
            .flatten()
            .and_then(|price| per_unit(&price, quantity.get()));
        Ok(OrderLine {
            product,
            title: text(&self.title),
            quantity,
            unit_price,
        })
    }

    fn is_gift(&self) -> bool {
        match &self.is_gift {
            Some(serde_json::Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            Some(serde_json::Value::Bool(b)) => *b,
            _ => false,
        }
    }

    /// The requested day (and time, when both ends are times of the same day) of a scheduled delivery, in
    /// JST. What Japanese orders put there is not verified: anything unreadable is no request.
    fn scheduled_delivery(&self) -> (Option<Date>, Option<String>) {
        let Some(start) = self.scheduled_delivery_start_date.as_deref().and_then(local_time) else {
            return (None, None);
        };
        let slot = self
            .scheduled_delivery_end_date
            .as_deref()
            .and_then(local_time)
            .filter(|end| end.date() == start.date() && end.time() > start.time())
            .map(|end| format!("{}-{}", start.strftime("%H:%M"), end.strftime("%H:%M")));
        (Some(start.date()), slot)
    }
}

/// A time Amazon wrote, as a civil time in JST: an instant with an offset, or a civil date and time (or date)
/// taken as Japanese.
fn local_time(raw: &str) -> Option<DateTime> {
    let raw = raw.trim();
    if let Ok(at) = raw.parse::<Timestamp>() {
        return Some(at.to_zoned(jst()).datetime());
    }
    raw.parse::<DateTime>().ok().or_else(|| {
        raw.parse::<Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    })
}

impl V0Money {
    /// None when the amount is absent. A missing currency is Amazon.co.jp's, JPY.
    fn to_money(&self, field: &str) -> Result<Option<Money>, ParseError> {
        let Some(amount) = &self.amount else {
            return Ok(None);
        };
        let currency = non_empty(self.currency_code.as_deref()).unwrap_or(DEFAULT_CURRENCY);
        Money::parse(amount.as_str(), currency).map(Some).map_err(|e| match e {
            OrderError::BadCurrency(_) => ParseError::field(&format!("{field}.CurrencyCode"), e),
            _ => ParseError::field(&format!("{field}.Amount"), e),
        })
    }
}

/// `price` for `quantity` units, per unit; None when it does not divide evenly.
fn per_unit(price: &Money, quantity: u32) -> Option<Money> {
    if quantity == 1 {
        return Some(price.clone());
    }
    let quantity = i64::from(quantity);
    if price.minor() % quantity != 0 {
        return None;
    }
    let unit = price.minor() / quantity;
    // The number of minor units in one major unit: 1 for JPY, 100 for USD.
    let scale = Money::parse("1", price.currency()).ok()?.minor();
    let sign = if unit < 0 { "-" } else { "" };
    let (major, minor) = (
        unit.unsigned_abs() / scale.unsigned_abs(),
        unit.unsigned_abs() % scale.unsigned_abs(),
    );
    let text = if scale == 1 {
        format!("{sign}{major}")
    } else {
        let places = scale.ilog10() as usize;
        format!("{sign}{major}.{minor:0places$}")
    };
    Money::parse(&text, price.currency()).ok()
}

/// A trimmed text, empty when absent.
fn text(value: &Option<String>) -> String {
    non_empty(value.as_deref()).unwrap_or_default().to_owned()
}

fn timestamp(raw: &str, field: &str) -> Result<Timestamp, ParseError> {
    raw.trim()
        .parse()
        .map_err(|e| ParseError::field(field, format_args!("not an ISO 8601 time with an offset: {e}")))
}

/// The `NextToken` of a `getOrderItems` page: when there is one, fetch the next page with it
/// ([`v0_get_order_items`]) and hand every page to [`order_from`].
pub fn v0_items_next_token(get_order_items: &[u8]) -> Result<Option<String>, ParseError> {
    let page = decode_response::<V0GetOrderItemsResponse>(get_order_items, "getOrderItems")?;
    let list = page
        .payload
        .ok_or_else(|| missing_payload("getOrderItems", &page.errors))?;
    Ok(non_empty(list.next_token.as_deref()).map(str::to_owned))
}

/// One page of Orders API v0 `getOrders`: the orders on it, and the token of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V0OrdersPage {
    pub orders: Vec<ListedOrder>,
    /// Send it with the same filters ([`v0_get_orders`]); "NextToken doesn't affect any filters".
    pub next_token: Option<String>,
}

/// An order as `getOrders` lists it: enough to decide whether to fetch it with [`v0_get_order`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrder {
    pub order_id: OrderId,
    pub status: AmazonStatus,
    /// `LastUpdateDate`: the high-water mark of the next poll.
    pub last_update: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct V0GetOrdersResponse {
    #[serde(default)]
    payload: Option<V0OrdersList>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0OrdersList {
    #[serde(default, deserialize_with = "null_as_default")]
    orders: Vec<V0ListedOrder>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct V0ListedOrder {
    #[serde(deserialize_with = "string_only")]
    amazon_order_id: String,
    order_status: AmazonStatus,
    #[serde(default)]
    last_update_date: Option<String>,
}

/// Reads one page of Orders API v0 `getOrders` (the polling backstop).
pub fn v0_orders_page(get_orders: &[u8]) -> Result<V0OrdersPage, ParseError> {
    let response = decode_response::<V0GetOrdersResponse>(get_orders, "getOrders")?;
    let list = response
        .payload
        .ok_or_else(|| missing_payload("getOrders", &response.errors))?;
    let orders = list
        .orders
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let field = format!("getOrders.payload.Orders[{i}]");
            Ok(ListedOrder {
                order_id: OrderId::parse(&o.amazon_order_id)
                    .map_err(|e| ParseError::field(&format!("{field}.AmazonOrderId"), e))?,
                status: o.order_status,
                last_update: non_empty(o.last_update_date.as_deref())
                    .map(|t| timestamp(t, &format!("{field}.LastUpdateDate")))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    Ok(V0OrdersPage {
        orders,
        next_token: non_empty(list.next_token.as_deref()).map(str::to_owned),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------------------

/// An SP-API request to send to [`FE_ENDPOINT`]: method, path and query, the values not yet encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// Already encoded: every path segment that came from data is percent-encoded.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
}

impl ApiRequest {
    /// The path and the percent-encoded query: `/orders/v0/orders?MarketplaceIds=A1VC38T7YXB528&…`.
    pub fn path_and_query(&self) -> String {
        let mut out = self.path.clone();
        for (i, (name, value)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(name);
            out.push('=');
            percent_encode(&mut out, value, false);
        }
        out
    }

    /// The whole URL on `endpoint` ([`FE_ENDPOINT`], or [`FE_SANDBOX_ENDPOINT`]).
    pub fn url(&self, endpoint: &str) -> String {
        format!("{}{}", endpoint.trim_end_matches('/'), self.path_and_query())
    }
}

/// Orders API v0 `getOrder`: `GET /orders/v0/orders/{orderId}`. Send it with the RDT of
/// [`restricted_data_token_request`] for the same order, or `BuyerInfo` and the address come back thin.
pub fn v0_get_order(order_id: &OrderId) -> ApiRequest {
    let mut path = format!("{V0_ORDERS_PATH}/");
    percent_encode(&mut path, order_id.as_str(), false);
    ApiRequest {
        method: "GET",
        path,
        query: Vec::new(),
    }
}

/// Orders API v0 `getOrderItems`: `GET /orders/v0/orders/{orderId}/orderItems`, with the previous page's
/// `NextToken` ([`v0_items_next_token`]) after the first page. The LWA token is enough for what
/// [`order_from`] reads.
pub fn v0_get_order_items(order_id: &OrderId, next_token: Option<&str>) -> ApiRequest {
    let mut request = v0_get_order(order_id);
    request.path.push_str("/orderItems");
    if let Some(token) = non_empty(next_token) {
        request.query.push(("NextToken", token.to_owned()));
    }
    request
}

/// The filter of a `getOrders` poll: exactly one of the two, never mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrdersSince {
    CreatedAfter(Timestamp),
    /// The backstop: the last poll's high-water mark, less some overlap.
    LastUpdatedAfter(Timestamp),
}

/// Orders API v0 `getOrders` on Amazon.co.jp: `GET /orders/v0/orders?MarketplaceIds=A1VC38T7YXB528&…`,
/// 100 orders a page. Every page repeats the filter along with the `NextToken` of the page before.
pub fn v0_get_orders(since: OrdersSince, next_token: Option<&str>) -> ApiRequest {
    // Whole seconds, rounded down so that nothing of the second is skipped.
    let iso = |at: Timestamp| {
        Timestamp::from_second(at.as_second())
            .unwrap_or(at)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let (name, at) = match since {
        OrdersSince::CreatedAfter(at) => ("CreatedAfter", at),
        OrdersSince::LastUpdatedAfter(at) => ("LastUpdatedAfter", at),
    };
    let mut query = vec![
        ("MarketplaceIds", JP_MARKETPLACE_ID.to_owned()),
        (name, iso(at)),
        ("MaxResultsPerPage", "100".to_owned()),
    ];
    if let Some(token) = non_empty(next_token) {
        query.push(("NextToken", token.to_owned()));
    }
    ApiRequest {
        method: "GET",
        path: V0_ORDERS_PATH.to_owned(),
        query,
    }
}

/// The JSON body of Tokens API `createRestrictedDataToken` for `getOrder` of one order, with its buyer and
/// shipping address. The path is the specific one (with the real order id), the form Amazon documents for
/// `getOrder`.
pub fn restricted_data_token_request(order_id: &OrderId) -> serde_json::Value {
    serde_json::json!({
        "restrictedResources": [
            {
                "method": "GET",
                "path": v0_get_order(order_id).path,
                "dataElements": ["buyerInfo", "shippingAddress"]
            }
        ]
    })
}

/// The form body of the LWA token request (POST to [`LWA_TOKEN_URL`], content type [`LWA_CONTENT_TYPE`]):
/// `grant_type=refresh_token&refresh_token=…&client_id=…&client_secret=…`, each value form-encoded. It holds
/// the credentials, so it comes back as a secret: expose it only to send it.
pub fn lwa_token_form(refresh_token: &str, client_id: &str, client_secret: &str) -> SecretString {
    let mut form = String::from("grant_type=refresh_token");
    for (name, value) in [
        ("refresh_token", refresh_token),
        ("client_id", client_id),
        ("client_secret", client_secret),
    ] {
        form.push('&');
        form.push_str(name);
        form.push('=');
        percent_encode(&mut form, value.trim(), true);
    }
    SecretString::from(form)
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`); in a form body (`form`), a
/// space is `+` and `~` is encoded too, as `application/x-www-form-urlencoded` does.
fn percent_encode(out: &mut String, value: &str, form: bool) {
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => out.push(char::from(b)),
            b'~' if !form => out.push('~'),
            b'*' if form => out.push('*'),
            b' ' if form => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// An access token (LWA's, or an RDT) and how long it lasts from when it was issued.
#[derive(Debug)]
pub struct Token {
    /// Goes in [`ACCESS_TOKEN_HEADER`]. Never logged.
    pub token: SecretString,
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct WireLwaToken {
    access_token: String,
    expires_in: u64,
}

/// Reads LWA's answer to [`lwa_token_form`]: `access_token` and `expires_in` (seconds; an hour).
pub fn parse_lwa_token(body: &[u8]) -> Result<Token, ParseError> {
    let wire: WireLwaToken = decode(body)?;
    let token = non_empty(Some(&wire.access_token)).ok_or_else(|| ParseError::field("access_token", "is empty"))?;
    Ok(Token {
        token: SecretString::from(token.to_owned()),
        expires_in: Duration::from_secs(wire.expires_in),
    })
}

#[derive(Deserialize)]
struct WireRestrictedDataToken {
    #[serde(rename = "restrictedDataToken", default)]
    token: Option<String>,
    #[serde(rename = "expiresIn", default)]
    expires_in: Option<u64>,
    #[serde(default)]
    payload: Option<Box<WireRestrictedDataToken>>,
}

/// Reads the answer to [`restricted_data_token_request`]: `restrictedDataToken` and `expiresIn` (seconds),
/// at the top level as the Tokens API model has it. The same two fields inside `payload`, as the 2021 Tokens
/// guide prints them, are read too.
pub fn parse_restricted_data_token(body: &[u8]) -> Result<Token, ParseError> {
    let wire: WireRestrictedDataToken = decode(body)?;
    let (wire, prefix) = match wire {
        WireRestrictedDataToken {
            token: None,
            payload: Some(inner),
            ..
        } => (*inner, "payload."),
        flat => (flat, ""),
    };
    let token = non_empty(wire.token.as_deref())
        .ok_or_else(|| ParseError::field(&format!("{prefix}restrictedDataToken"), "missing"))?;
    let expires_in = wire
        .expires_in
        .ok_or_else(|| ParseError::field(&format!("{prefix}expiresIn"), "missing"))?;
    Ok(Token {
        token: SecretString::from(token.to_owned()),
        expires_in: Duration::from_secs(expires_in),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------------------

/// What an unsuccessful SP-API or LWA response means for the intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// 429 (`QuotaExceeded`): the rate limit. Retry later: hand the SQS record back in `batchItemFailures`.
    /// Do not expect an `x-amzn-RateLimit-Limit` header on it.
    Throttled,
    /// 403 "The access token you provided has expired.": get a new LWA token (and RDT) and retry once.
    TokenExpired,
    /// Any other 403 (revoked, malformed, no access to the data or the role), or a 401: alert; retrying will
    /// not help.
    Unauthorized,
    /// 400 (or 415): the request is wrong; alert.
    Invalid,
    /// 404: no such order (or not this seller's).
    NotFound,
    /// 5xx: Amazon's trouble. Retry later, like [`Failure::Throttled`].
    Unavailable,
    /// LWA `invalid_grant`: the seller revoked the app or the refresh token is no longer valid; the seller
    /// must authorise the app again. Until then nothing of this seller can be fetched.
    ReauthorizationNeeded,
    /// A status the API does not document for these operations.
    Unexpected(u16),
}

impl Failure {
    /// The failure an SP-API response (Orders, Tokens) stands for; None for a 2xx.
    pub fn classify(status: u16, body: &[u8]) -> Option<Failure> {
        Some(match status {
            200..=299 => return None,
            429 => Failure::Throttled,
            403 => {
                let expired = api_errors(body).iter().any(|e| {
                    std::iter::once(e.message.as_str())
                        .chain(e.details.as_deref())
                        .any(|text| text.to_ascii_lowercase().contains("has expired"))
                });
                if expired {
                    Failure::TokenExpired
                } else {
                    Failure::Unauthorized
                }
            }
            401 => Failure::Unauthorized,
            400 | 415 => Failure::Invalid,
            404 => Failure::NotFound,
            500..=599 => Failure::Unavailable,
            other => Failure::Unexpected(other),
        })
    }

    /// The failure a response of the LWA token endpoint stands for; None for a 2xx. LWA's `error` code
    /// decides (`invalid_grant` whatever the status, which Amazon does not document); without one, the
    /// status does, as for [`classify`](Failure::classify).
    pub fn classify_lwa(status: u16, body: &[u8]) -> Option<Failure> {
        if (200..=299).contains(&status) {
            return None;
        }
        #[derive(Deserialize)]
        struct WireLwaError {
            #[serde(default)]
            error: Option<String>,
        }
        let code = check_shape(body)
            .ok()
            .and_then(|()| serde_json::from_slice::<WireLwaError>(body).ok())
            .and_then(|e| e.error);
        let by_code = match code.as_deref().map(str::trim) {
            Some("invalid_grant") => Some(Failure::ReauthorizationNeeded),
            Some("invalid_client" | "unauthorized_client" | "access_denied") => Some(Failure::Unauthorized),
            Some("invalid_request" | "invalid_scope") => Some(Failure::Invalid),
            Some("server_error" | "temporarily_unavailable") => Some(Failure::Unavailable),
            _ => None,
        };
        by_code.or_else(|| Failure::classify(status, b""))
    }

    /// Whether to try again later, by handing the SQS record back (`batchItemFailures`) and letting the
    /// queue's visibility timeout be the back-off.
    pub fn retry_later(self) -> bool {
        matches!(self, Failure::Throttled | Failure::Unavailable)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Throttled => f.write_str("throttled (429)"),
            Failure::TokenExpired => f.write_str("the access token has expired (403)"),
            Failure::Unauthorized => f.write_str("access denied"),
            Failure::Invalid => f.write_str("the request was refused as invalid (400)"),
            Failure::NotFound => f.write_str("not found (404)"),
            Failure::Unavailable => f.write_str("Amazon is unavailable (5xx)"),
            Failure::ReauthorizationNeeded => f.write_str("the seller must authorise the app again (invalid_grant)"),
            Failure::Unexpected(status) => write!(f, "unexpected HTTP status {status}"),
        }
    }
}

/// One entry of an SP-API `errors` list, for the logs: codes and messages carry no buyer data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub details: Option<String>,
}

/// The `errors` of an SP-API response body, each text cut at 200 characters; empty when the body has none
/// or is not such JSON.
pub fn api_errors(body: &[u8]) -> Vec<ApiError> {
    #[derive(Deserialize)]
    struct WireErrorList {
        #[serde(default, deserialize_with = "null_as_default")]
        errors: Vec<WireError>,
    }
    let cut = |text: Option<&str>| non_empty(text).map(|t| t.chars().take(200).collect::<String>());
    check_shape(body)
        .ok()
        .and_then(|()| serde_json::from_slice::<WireErrorList>(body).ok())
        .map(|list| {
            list.errors
                .iter()
                .map(|e| ApiError {
                    code: cut(e.code.as_deref()).unwrap_or_default(),
                    message: cut(e.message.as_deref()).unwrap_or_default(),
                    details: cut(e.details.as_deref()),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::MAX_DEPTH;

    fn read(path: &str) -> Vec<u8> {
        let full = format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("events/{path}: {e}"))
    }

    fn seller() -> ShopId {
        ShopId::parse("A1EXAMPLESELLER").unwrap()
    }

    fn json(path: &str) -> serde_json::Value {
        serde_json::from_slice(&read(path)).unwrap()
    }

    fn bytes(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    /// The sample getOrder, changed by `edit`.
    fn get_order(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value = json("amazon/getOrder.json");
        edit(&mut value["payload"]);
        bytes(&value)
    }

    /// The sample getOrderItems, changed by `edit`.
    fn get_order_items(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value = json("amazon/getOrderItems.json");
        edit(&mut value["payload"]);
        bytes(&value)
    }

    fn order(get_order: &[u8], items: &[u8]) -> Order {
        match order_from(get_order, &[items], &seller()) {
            Ok((order, _)) => order,
            Err((_, e)) => panic!("{e}"),
        }
    }

    fn invalid(get_order: &[u8], items: &[&[u8]]) -> String {
        match order_from(get_order, items, &seller()) {
            Err((_, ParseError::Invalid(message))) => message,
            Err((_, other)) => panic!("expected Invalid, got {other:?}"),
            Ok((order, _)) => panic!("expected Invalid, got {order:?}"),
        }
    }

    fn sample_order() -> Order {
        order(&read("amazon/getOrder.json"), &read("amazon/getOrderItems.json"))
    }

    fn notification_invalid(body: &[u8]) -> String {
        match parse_notification(body) {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn notification(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut value = json("amazon/order-change.json");
        edit(&mut value);
        bytes(&value)
    }

    #[test]
    fn the_order_change_sample_is_read_field_by_field() {
        let change = parse_notification(&read("amazon/order-change.json")).unwrap();
        assert_eq!(change.notification_id, "7d9c2b1a-3e4f-4a5b-8c6d-0e1f2a3b4c5d");
        assert_eq!(change.delivery_id(), "amazon:7d9c2b1a-3e4f-4a5b-8c6d-0e1f2a3b4c5d");
        assert_eq!(change.seller_id.as_str(), "A1EXAMPLESELLER");
        assert_eq!(change.order_id.as_str(), "250-1234567-7654321");
        assert_eq!(change.order_ref().key(), "amazon/A1EXAMPLESELLER/250-1234567-7654321");
        assert_eq!(change.change_type, OrderChangeType::OrderStatusChange);
        assert_eq!(change.order_status, AmazonStatus::Unshipped);
        assert_eq!(change.marketplace_id, JP_MARKETPLACE_ID);
        assert!(change.is_japan());
        assert!(change.worth_fetching());
        assert_eq!(
            change.event_time,
            "2026-11-23T03:35:04.512Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn a_notification_of_another_type_is_refused_and_says_which() {
        let body = notification(|n| n["NotificationType"] = "ANY_OFFER_CHANGED".into());
        assert_eq!(
            notification_invalid(&body),
            "NotificationType: \"ANY_OFFER_CHANGED\" is not an ORDER_CHANGE notification"
        );
        let body = notification(|n| {
            n.as_object_mut().unwrap().remove("NotificationType");
        });
        assert!(notification_invalid(&body).starts_with("NotificationType: missing"));
    }

    #[test]
    fn missing_or_malformed_notification_fields_are_named_by_path() {
        let body = notification(|n| {
            n["Payload"]["OrderChangeNotification"]
                .as_object_mut()
                .unwrap()
                .remove("SellerId");
        });
        assert_eq!(
            notification_invalid(&body),
            "Payload.OrderChangeNotification: missing field `SellerId`"
        );
        let body = notification(|n| {
            n["NotificationMetadata"]
                .as_object_mut()
                .unwrap()
                .remove("NotificationId");
        });
        assert_eq!(
            notification_invalid(&body),
            "NotificationMetadata: missing field `NotificationId`"
        );
        let body = notification(|n| n["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] = 3.into());
        assert!(
            notification_invalid(&body).starts_with("Payload.OrderChangeNotification.Summary.OrderStatus: "),
            "{}",
            notification_invalid(&body)
        );
        let body = notification(|n| n["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = 250.into());
        assert!(
            notification_invalid(&body).starts_with("Payload.OrderChangeNotification.AmazonOrderId: must be a string")
        );
        let body = notification(|n| n["EventTime"] = "yesterday".into());
        assert!(notification_invalid(&body).starts_with("EventTime: "));
        let body = notification(|n| n["NotificationMetadata"]["NotificationId"] = " ".into());
        assert_eq!(
            notification_invalid(&body),
            "NotificationMetadata.NotificationId: is empty"
        );
    }

    #[test]
    fn other_change_types_and_statuses_are_kept_and_pending_is_not_fetched() {
        let body = notification(|n| {
            let change = &mut n["Payload"]["OrderChangeNotification"];
            change["OrderChangeType"] = "BuyerRequestedChange".into();
            change["Summary"]["OrderStatus"] = "Pending".into();
        });
        let change = parse_notification(&body).unwrap();
        assert_eq!(change.change_type, OrderChangeType::BuyerRequestedChange);
        assert_eq!(change.order_status, AmazonStatus::Pending);
        assert!(!change.worth_fetching());
        let body = notification(|n| {
            let change = &mut n["Payload"]["OrderChangeNotification"];
            change["OrderChangeType"] = "SomethingNew".into();
            change["Summary"]["OrderStatus"] = "OnHold".into();
            change["Summary"]["MarketplaceId"] = "ATVPDKIKX0DER".into();
        });
        let change = parse_notification(&body).unwrap();
        assert_eq!(change.change_type, OrderChangeType::Other("SomethingNew".into()));
        assert_eq!(change.order_status, AmazonStatus::Other("OnHold".into()));
        assert_eq!(change.order_status.canonical(), OrderStatus::Open);
        assert!(!change.is_japan());
    }

    #[test]
    fn a_double_encoded_body_is_read_once_more() {
        let raw = read("amazon/order-change.json");
        let encoded = serde_json::to_vec(&String::from_utf8(raw.clone()).unwrap()).unwrap();
        assert_eq!(parse_notification(&encoded).unwrap(), parse_notification(&raw).unwrap());
        // Only once: a string holding a string is not a notification.
        let twice = serde_json::to_vec(&String::from_utf8(encoded).unwrap()).unwrap();
        assert_eq!(
            parse_notification(&twice).unwrap_err(),
            ParseError::NotObject("a string")
        );
        assert!(matches!(parse_notification(b"\"{"), Err(ParseError::NotJson(_))));
    }

    #[derive(Deserialize)]
    struct SqsEvent {
        #[serde(rename = "Records")]
        records: Vec<SqsRecord>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SqsRecord {
        message_id: String,
        receipt_handle: String,
        body: String,
        md5_of_body: String,
        attributes: std::collections::BTreeMap<String, String>,
        message_attributes: serde_json::Map<String, serde_json::Value>,
        event_source: String,
        #[serde(rename = "eventSourceARN")]
        event_source_arn: String,
        aws_region: String,
    }

    #[test]
    fn the_sqs_sample_delivers_one_notification_twice_and_dedupes_to_one() {
        let event: SqsEvent = serde_json::from_slice(&read("lambda/amazon-notifications-sqs.json")).unwrap();
        assert_eq!(event.records.len(), 2);
        let sample = parse_notification(&read("amazon/order-change.json")).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut fresh = Vec::new();
        for record in &event.records {
            assert_eq!(record.event_source, "aws:sqs");
            assert_eq!(record.aws_region, "ap-northeast-1");
            assert_eq!(
                record.event_source_arn,
                "arn:aws:sqs:ap-northeast-1:123456789012:amazon-jp-order-change"
            );
            assert!(!record.receipt_handle.is_empty());
            assert_eq!(record.md5_of_body.len(), 32);
            assert_eq!(record.attributes["ApproximateReceiveCount"], "1");
            assert!(record.attributes.contains_key("SentTimestamp"));
            assert!(record.message_attributes.is_empty());
            let change = parse_notification(record.body.as_bytes()).unwrap();
            assert_eq!(change, sample, "the body is the order-change.json notification");
            if seen.insert(change.notification_id.clone()) {
                fresh.push(record.message_id.as_str());
            }
        }
        assert_ne!(event.records[0].message_id, event.records[1].message_id);
        assert_eq!(
            fresh,
            [event.records[0].message_id.as_str()],
            "the second is a duplicate"
        );
    }

    #[test]
    fn the_amazon_order_is_read_field_by_field() {
        let order = sample_order();
        assert_eq!(order.order_ref.key(), "amazon/A1EXAMPLESELLER/250-1234567-7654321");
        assert_eq!(order.order_ref.mall, Mall::Amazon);
        assert_eq!(order.number, None);
        assert_eq!(order.number(), "250-1234567-7654321");
        assert_eq!(order.placed_at, "2026-11-23T03:20:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(order.buyer.kana, None);
        assert_eq!(
            order.buyer.email.as_ref().unwrap().as_str(),
            "abcd1234efgh@marketplace.amazon.co.jp"
        );
        assert_eq!(order.buyer.phone, None, "Amazon gives no buyer phone");
        assert_eq!(order.buyer.address, None);
        assert_eq!(
            order.ship_to,
            PostalAddress {
                name: "山田 太郎".into(),
                postal_code: "100-0001".into(),
                prefecture: "東京都".into(),
                city: "千代田区".into(),
                lines: vec!["千代田1-2-3".into(), "メゾン千代田101".into()],
                phone: Some("090-1234-5678".into()),
            }
        );
        let lines: Vec<&OrderLine> = order.lines.iter().collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].product.as_str(), "TEA-SENCHA-100");
        assert_eq!(lines[0].title, "有機煎茶 100g");
        assert_eq!(lines[0].quantity.get(), 1);
        assert_eq!(lines[0].unit_price, Some(Money::yen(1200)));
        assert_eq!(order.delivery, Delivery::default());
        assert!(!order.gift);
        assert_eq!(order.payment, PaymentMethod::Other);
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.total, Some(Money::yen(1200)));
    }

    #[test]
    fn the_amazon_order_is_the_generic_samples_buyer_by_address_and_phone_but_not_by_email() {
        use mallguard_domain::identity::{IdentityHasher, KeyKind};
        let own = crate::generic::parse_order(&read("generic/order.json")).unwrap();
        let amazon = sample_order();
        let hasher = IdentityHasher::new(b"sample-events-pepper".to_vec());
        let keys = |order: &Order, kind: KeyKind| {
            hasher
                .order_identity(order)
                .keys
                .into_iter()
                .filter(|k| k.kind() == kind)
                .collect::<std::collections::BTreeSet<_>>()
        };
        let address = keys(&amazon, KeyKind::Address);
        assert_eq!(address.len(), 1);
        assert_eq!(address, keys(&own, KeyKind::Address), "the same address identity key");
        assert!(!keys(&amazon, KeyKind::Phone).is_disjoint(&keys(&own, KeyKind::Phone)));
        assert!(
            keys(&amazon, KeyKind::Email).is_disjoint(&keys(&own, KeyKind::Email)),
            "Amazon's relay address is not the buyer's own"
        );
        assert_eq!(
            own.lines.iter().next().unwrap().product,
            amazon.lines.iter().next().unwrap().product
        );
    }

    #[test]
    fn the_canceled_sample_is_the_same_order_cancelled_without_an_address() {
        let cancelled = order(
            &read("amazon/getOrder-canceled.json"),
            &read("amazon/getOrderItems.json"),
        );
        assert_eq!(cancelled.order_ref, sample_order().order_ref);
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert_eq!(cancelled.ship_to, PostalAddress::default());
        assert_eq!(cancelled.buyer.name, "");
        assert_eq!(
            cancelled.buyer.email.unwrap().as_str(),
            "abcd1234efgh@marketplace.amazon.co.jp"
        );
        assert_eq!(cancelled.total, None);
    }

    #[test]
    fn the_evidence_holds_both_responses_byte_for_byte_and_replays_to_the_same_order() {
        let (get, items) = (read("amazon/getOrder.json"), read("amazon/getOrderItems.json"));
        let (order, evidence) = order_from(&get, &[&items, &items], &seller()).unwrap();
        assert_eq!(order.payload_digest, PayloadDigest::of(&evidence));
        let value: serde_json::Value = serde_json::from_slice(&evidence).unwrap();
        assert_eq!(value["api"], "orders-v0");
        assert_eq!(value["getOrder"]["payload"]["AmazonOrderId"], "250-1234567-7654321");
        assert_eq!(value["getOrderItems"].as_array().unwrap().len(), 2);
        assert_eq!(
            value["getOrderItems"][1]["payload"]["OrderItems"][0]["SellerSKU"],
            "TEA-SENCHA-100"
        );
        let contains = |needle: &[u8]| evidence.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&get) && contains(&items));
        assert_eq!(order_from_evidence(&evidence, &seller()).unwrap(), order);
        assert_eq!(order.lines.iter().count(), 2);

        // A failure keeps its evidence too, even of a body that is not JSON.
        let (evidence, error) = order_from(b"<html>", &[&items], &seller()).unwrap_err();
        assert!(
            matches!(&error, ParseError::NotJson(m) if m.starts_with("getOrder: ")),
            "{error:?}"
        );
        let value: serde_json::Value = serde_json::from_slice(&evidence).unwrap();
        assert_eq!(value["getOrder"], "<html>");

        let wrong = br#"{"api":"orders-2026-01-01","getOrder":{},"getOrderItems":[]}"#;
        assert!(matches!(order_from_evidence(wrong, &seller()), Err(ParseError::Invalid(m)) if m.starts_with("api: ")));
    }

    #[test]
    fn items_on_several_pages_make_one_order_and_a_page_of_another_order_is_refused() {
        let first = get_order_items(|p| p["NextToken"] = "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4".into());
        let second = get_order_items(|p| {
            p["OrderItems"][0]["SellerSKU"] = "TEA-HOJICHA-100".into();
            p["OrderItems"][0]["Title"] = "ほうじ茶 100g".into();
        });
        assert_eq!(
            v0_items_next_token(&first).unwrap().as_deref(),
            Some("2YgYW55IGNhcm5hbCBwbGVhc3VyZS4")
        );
        assert_eq!(v0_items_next_token(&second).unwrap(), None);
        let (order, _) = order_from(&read("amazon/getOrder.json"), &[&first, &second], &seller()).unwrap();
        let products: Vec<&str> = order.lines.iter().map(|l| l.product.as_str()).collect();
        assert_eq!(products, ["TEA-SENCHA-100", "TEA-HOJICHA-100"]);

        let other = get_order_items(|p| p["AmazonOrderId"] = "250-7654321-1234567".into());
        assert_eq!(
            invalid(&read("amazon/getOrder.json"), &[&first, &other]),
            "getOrderItems[1].payload.AmazonOrderId: \"250-7654321-1234567\" is not the order \
             \"250-1234567-7654321\" of getOrder"
        );
        assert_eq!(
            invalid(&read("amazon/getOrder.json"), &[]),
            "getOrderItems: the order has no lines"
        );
    }

    #[test]
    fn item_price_is_for_the_quantity_so_the_unit_price_is_divided() {
        let items = get_order_items(|p| {
            p["OrderItems"][0]["QuantityOrdered"] = 2.into();
            p["OrderItems"][0]["ItemPrice"]["Amount"] = "2400.00".into();
        });
        let order = order(&read("amazon/getOrder.json"), &items);
        let line = order.lines.iter().next().unwrap();
        assert_eq!(line.quantity.get(), 2);
        assert_eq!(line.unit_price, Some(Money::yen(1200)));
        let items = get_order_items(|p| {
            p["OrderItems"][0]["QuantityOrdered"] = 3.into();
            p["OrderItems"][0]["ItemPrice"]["Amount"] = "1000".into();
        });
        let order = super::tests::order(&read("amazon/getOrder.json"), &items);
        assert_eq!(
            order.lines.iter().next().unwrap().unit_price,
            None,
            "not exact per unit"
        );
        assert_eq!(
            per_unit(&Money::parse("39.98", "USD").unwrap(), 2),
            Some(Money::parse("19.99", "USD").unwrap())
        );
        assert_eq!(
            per_unit(&Money::parse("0.10", "USD").unwrap(), 2),
            Some(Money::parse("0.05", "USD").unwrap())
        );
        // A whole number, and an amount with decimals, are JPY amounts alike.
        let get = get_order(|p| p["OrderTotal"]["Amount"] = 1200.into());
        assert_eq!(
            super::tests::order(&get, &read("amazon/getOrderItems.json")).total,
            Some(Money::yen(1200))
        );
        let get = get_order(|p| p["OrderTotal"] = serde_json::json!({ "Amount": "1200.00" }));
        assert_eq!(
            super::tests::order(&get, &read("amazon/getOrderItems.json")).total,
            Some(Money::yen(1200))
        );
    }

    #[test]
    fn payment_gift_status_and_delivery_are_mapped() {
        let items = read("amazon/getOrderItems.json");
        let with = |edit: fn(&mut serde_json::Value)| order(&get_order(edit), &items);
        assert_eq!(
            with(|p| p["PaymentMethod"] = "COD".into()).payment,
            PaymentMethod::CashOnDelivery
        );
        assert_eq!(
            with(
                |p| p["PaymentExecutionDetail"] = serde_json::json!([{ "PaymentMethod": "COD",
                "Payment": { "CurrencyCode": "JPY", "Amount": "1200" } }])
            )
            .payment,
            PaymentMethod::CashOnDelivery
        );
        assert_eq!(
            with(|p| p["PaymentMethod"] = "CVS".into()).payment,
            PaymentMethod::Convenience
        );
        assert_eq!(with(|_| {}).payment, PaymentMethod::Other);

        assert_eq!(
            with(|p| p["OrderStatus"] = "Shipped".into()).status,
            OrderStatus::Shipped
        );
        assert_eq!(
            with(|p| p["OrderStatus"] = "PartiallyShipped".into()).status,
            OrderStatus::Open
        );
        assert_eq!(
            with(|p| p["OrderStatus"] = "Canceled".into()).status,
            OrderStatus::Cancelled
        );

        assert!(
            with(|p| p["ShipmentServiceLevelCategory"] = "Expedited".into())
                .delivery
                .express
        );
        assert!(
            !with(|p| p["ShipmentServiceLevelCategory"] = "Scheduled".into())
                .delivery
                .express
        );

        let gift = get_order_items(|p| p["OrderItems"][0]["IsGift"] = "true".into());
        assert!(order(&read("amazon/getOrder.json"), &gift).gift);
        let gift = get_order_items(|p| p["OrderItems"][0]["IsGift"] = true.into());
        assert!(order(&read("amazon/getOrder.json"), &gift).gift);

        let scheduled = get_order_items(|p| {
            p["OrderItems"][0]["ScheduledDeliveryStartDate"] = "2026-11-25T05:00:00Z".into();
            p["OrderItems"][0]["ScheduledDeliveryEndDate"] = "2026-11-25T07:00:00Z".into();
        });
        let delivery = order(&read("amazon/getOrder.json"), &scheduled).delivery;
        assert_eq!(delivery.requested_date, Some(jiff::civil::date(2026, 11, 25)));
        assert_eq!(delivery.time_slot.as_deref(), Some("14:00-16:00"), "in JST");
        let unreadable = get_order_items(|p| p["OrderItems"][0]["ScheduledDeliveryStartDate"] = "soon".into());
        assert_eq!(
            order(&read("amazon/getOrder.json"), &unreadable).delivery,
            Delivery::default()
        );
    }

    #[test]
    fn the_buyer_name_falls_back_to_the_recipient_and_a_missing_sku_to_the_asin() {
        let get = get_order(|p| {
            p["BuyerInfo"].as_object_mut().unwrap().remove("BuyerName");
        });
        let items = get_order_items(|p| {
            p["OrderItems"][0].as_object_mut().unwrap().remove("SellerSKU");
        });
        let order = order(&get, &items);
        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(
            order.lines.iter().next().unwrap().product.as_str(),
            "amazon-asin-B0EXAMPLE1"
        );
    }

    #[test]
    fn an_order_read_without_a_restricted_data_token_is_refused_while_it_has_an_address() {
        // What getOrder answers with the plain LWA token.
        let thin = get_order(|p| {
            p["ShippingAddress"] = serde_json::json!({
                "City": "千代田区", "StateOrRegion": "東京都", "PostalCode": "100-0001", "CountryCode": "JP"
            });
            p["BuyerInfo"] = serde_json::json!({ "BuyerEmail": "abcd1234efgh@marketplace.amazon.co.jp" });
        });
        let message = invalid(&thin, &[&read("amazon/getOrderItems.json")]);
        assert!(
            message.starts_with("getOrder.payload.ShippingAddress.Name: missing although the order is Unshipped")
                && message.contains("restricted data token"),
            "{message}"
        );
        let no_address = get_order(|p| {
            p.as_object_mut().unwrap().remove("ShippingAddress");
        });
        assert!(
            invalid(&no_address, &[&read("amazon/getOrderItems.json")])
                .starts_with("getOrder.payload.ShippingAddress.Name")
        );
        // Pending and Canceled orders have no address to give.
        let pending = get_order(|p| {
            p.as_object_mut().unwrap().remove("ShippingAddress");
            p["OrderStatus"] = "Pending".into();
        });
        assert_eq!(
            order(&pending, &read("amazon/getOrderItems.json")).status,
            OrderStatus::Open
        );
    }

    #[test]
    fn errors_name_the_response_and_the_field_path() {
        let items = read("amazon/getOrderItems.json");
        let get = read("amazon/getOrder.json");
        let cases: Vec<(Vec<u8>, Vec<u8>, &str)> = vec![
            (
                get_order(|p| p["OrderTotal"]["Amount"] = "12OO".into()),
                items.clone(),
                "getOrder.payload.OrderTotal.Amount: ",
            ),
            (
                get_order(|p| p["OrderTotal"]["Amount"] = 12.5.into()),
                items.clone(),
                "getOrder.payload.OrderTotal.Amount: 12.5 is not exact",
            ),
            (
                get_order(|p| p["OrderTotal"]["CurrencyCode"] = "円".into()),
                items.clone(),
                "getOrder.payload.OrderTotal.CurrencyCode: ",
            ),
            (
                get_order(|p| p["PurchaseDate"] = "2026-11-23 12:20".into()),
                items.clone(),
                "getOrder.payload.PurchaseDate: ",
            ),
            (
                get_order(|p| p["AmazonOrderId"] = 250.into()),
                items.clone(),
                "getOrder.payload.AmazonOrderId: must be a string",
            ),
            (
                get_order(|p| p["BuyerInfo"]["BuyerEmail"] = "relay".into()),
                items.clone(),
                "getOrder.payload.BuyerInfo.BuyerEmail: ",
            ),
            (
                get_order(|p| p["ShippingAddress"] = "東京都".into()),
                items.clone(),
                "getOrder.payload.ShippingAddress: invalid type",
            ),
            (
                get.clone(),
                get_order_items(|p| p["OrderItems"][0]["QuantityOrdered"] = 0.into()),
                "getOrderItems[0].payload.OrderItems[0].QuantityOrdered: must be at least 1",
            ),
            (
                get.clone(),
                get_order_items(|p| p["OrderItems"][0]["QuantityOrdered"] = (-1).into()),
                "getOrderItems[0].payload.OrderItems[0].QuantityOrdered: invalid value",
            ),
            (
                get.clone(),
                get_order_items(|p| p["OrderItems"][0]["ItemPrice"]["Amount"] = "1,200".into()),
                "getOrderItems[0].payload.OrderItems[0].ItemPrice.Amount: ",
            ),
            (
                get.clone(),
                get_order_items(|p| {
                    p["OrderItems"][0].as_object_mut().unwrap().remove("QuantityOrdered");
                }),
                "getOrderItems[0].payload.OrderItems[0]: missing field `QuantityOrdered`",
            ),
        ];
        for (get, items, expected) in cases {
            let message = invalid(&get, &[&items]);
            assert!(
                message.starts_with(expected),
                "{message:?} should start with {expected:?}"
            );
        }
        let errors_only = read("amazon/error-quota-exceeded.json");
        assert_eq!(
            invalid(&errors_only, &[&items]),
            "getOrder.payload: missing; the response carries errors: \
             QuotaExceeded (You exceeded your quota for the requested resource.)"
        );
        assert_eq!(
            invalid(&get, &[&errors_only]),
            "getOrderItems[0].payload: missing; the response carries errors: \
             QuotaExceeded (You exceeded your quota for the requested resource.)"
        );
        assert_eq!(
            invalid(br#"{"payload": {}}"#, &[&items]),
            "getOrder.payload: missing field `AmazonOrderId`"
        );
    }

    #[test]
    fn a_body_nested_a_hundred_thousand_deep_is_refused_without_recursion() {
        let deep = format!("{{\"payload\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let deep = deep.as_bytes();
        assert_eq!(parse_notification(deep).unwrap_err(), ParseError::TooDeep(MAX_DEPTH));
        let string = serde_json::to_vec(&String::from_utf8(deep.to_vec()).unwrap()).unwrap();
        assert_eq!(parse_notification(&string).unwrap_err(), ParseError::TooDeep(MAX_DEPTH));
        let items = read("amazon/getOrderItems.json");
        let (evidence, error) = order_from(deep, &[&items], &seller()).unwrap_err();
        assert_eq!(error, ParseError::TooDeep(MAX_DEPTH));
        assert!(serde_json::from_slice::<serde_json::Value>(&evidence).unwrap()["getOrder"].is_string());
        let (_, error) = order_from(&read("amazon/getOrder.json"), &[&items, deep], &seller()).unwrap_err();
        assert_eq!(error, ParseError::TooDeep(MAX_DEPTH));
        assert_eq!(v0_items_next_token(deep).unwrap_err(), ParseError::TooDeep(MAX_DEPTH));
        assert_eq!(v0_orders_page(deep).unwrap_err(), ParseError::TooDeep(MAX_DEPTH));
        assert_eq!(parse_lwa_token(deep).unwrap_err(), ParseError::TooDeep(MAX_DEPTH));
        assert_eq!(
            parse_restricted_data_token(deep).unwrap_err(),
            ParseError::TooDeep(MAX_DEPTH)
        );
        assert_eq!(Failure::classify(403, deep), Some(Failure::Unauthorized));
        assert_eq!(Failure::classify_lwa(400, deep), Some(Failure::Invalid));
        assert!(api_errors(deep).is_empty());
    }

    #[test]
    fn each_failure_is_classified() {
        let quota = read("amazon/error-quota-exceeded.json");
        let expired = read("amazon/error-token-expired.json");
        assert_eq!(Failure::classify(429, &quota), Some(Failure::Throttled));
        assert_eq!(Failure::classify(429, b""), Some(Failure::Throttled));
        assert_eq!(Failure::classify(403, &expired), Some(Failure::TokenExpired));
        let revoked = br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.",
            "details":"The access token you provided is revoked, malformed or invalid."}]}"#;
        assert_eq!(Failure::classify(403, revoked), Some(Failure::Unauthorized));
        let generic =
            br#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
        assert_eq!(Failure::classify(403, generic), Some(Failure::Unauthorized));
        assert_eq!(
            Failure::classify(403, b"<html>Forbidden</html>"),
            Some(Failure::Unauthorized)
        );
        assert_eq!(Failure::classify(401, b""), Some(Failure::Unauthorized));
        let invalid = br#"{ "errors": [ { "code": "InvalidInput", "message": "Invalid Input" } ] }"#;
        assert_eq!(Failure::classify(400, invalid), Some(Failure::Invalid));
        assert_eq!(Failure::classify(404, b"{}"), Some(Failure::NotFound));
        assert_eq!(Failure::classify(500, b""), Some(Failure::Unavailable));
        assert_eq!(Failure::classify(503, b""), Some(Failure::Unavailable));
        assert_eq!(Failure::classify(302, b""), Some(Failure::Unexpected(302)));
        assert_eq!(Failure::classify(200, &expired), None);
        assert!(Failure::Throttled.retry_later() && Failure::Unavailable.retry_later());
        for no in [
            Failure::TokenExpired,
            Failure::Unauthorized,
            Failure::Invalid,
            Failure::NotFound,
            Failure::ReauthorizationNeeded,
        ] {
            assert!(!no.retry_later(), "{no}");
        }

        let grant = read("amazon/lwa-invalid-grant.json");
        assert_eq!(Failure::classify_lwa(400, &grant), Some(Failure::ReauthorizationNeeded));
        assert_eq!(
            Failure::classify_lwa(401, &grant),
            Some(Failure::ReauthorizationNeeded),
            "whatever the status"
        );
        let client = br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
        assert_eq!(Failure::classify_lwa(401, client), Some(Failure::Unauthorized));
        let busy = br#"{"error":"temporarily_unavailable","error_description":"","request_id":"x"}"#;
        assert_eq!(Failure::classify_lwa(503, busy), Some(Failure::Unavailable));
        assert_eq!(Failure::classify_lwa(500, b"oops"), Some(Failure::Unavailable));
        assert_eq!(Failure::classify_lwa(429, b""), Some(Failure::Throttled));
        assert_eq!(Failure::classify_lwa(200, &read("amazon/lwa-token.json")), None);

        assert_eq!(
            api_errors(&quota),
            [ApiError {
                code: "QuotaExceeded".into(),
                message: "You exceeded your quota for the requested resource.".into(),
                details: None,
            }]
        );
        assert_eq!(
            api_errors(&expired)[0].details.as_deref(),
            Some("The access token you provided has expired.")
        );
    }

    #[test]
    fn the_lwa_form_is_form_encoded_and_secret() {
        let form = lwa_token_form("Atzr|IQEB/x+y=", "amzn1.application-oa2-client.abc", "s3cr et~");
        assert_eq!(
            form.expose_secret(),
            "grant_type=refresh_token&refresh_token=Atzr%7CIQEB%2Fx%2By%3D\
             &client_id=amzn1.application-oa2-client.abc&client_secret=s3cr+et%7E"
        );
        assert!(!format!("{form:?}").contains("s3cr"), "Debug does not show it");
    }

    #[test]
    fn the_lwa_token_sample_is_read() {
        let token = parse_lwa_token(&read("amazon/lwa-token.json")).unwrap();
        assert_eq!(
            token.token.expose_secret(),
            "Atza|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSREXAMPLE"
        );
        assert_eq!(token.expires_in, Duration::from_secs(3600));
        assert!(!format!("{token:?}").contains("Atza"));
        assert!(matches!(
            parse_lwa_token(&read("amazon/lwa-invalid-grant.json")),
            Err(ParseError::Invalid(m)) if m == "missing field `access_token`"
        ));
        assert!(matches!(
            parse_lwa_token(br#"{"access_token":"","expires_in":3600}"#),
            Err(ParseError::Invalid(m)) if m == "access_token: is empty"
        ));
    }

    #[test]
    fn the_restricted_data_token_request_names_the_order_and_both_data_elements() {
        let id = OrderId::parse("250-1234567-7654321").unwrap();
        assert_eq!(
            restricted_data_token_request(&id),
            serde_json::json!({
                "restrictedResources": [{
                    "method": "GET",
                    "path": "/orders/v0/orders/250-1234567-7654321",
                    "dataElements": ["buyerInfo", "shippingAddress"]
                }]
            })
        );
    }

    #[test]
    fn the_restricted_data_token_is_read_flat_or_in_a_payload() {
        // The Tokens API model's sandbox answer, verbatim.
        let flat = br#"{ "restrictedDataToken": "Atz.sprdt|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR", "expiresIn": 3600 }"#;
        let token = parse_restricted_data_token(flat).unwrap();
        assert_eq!(
            token.token.expose_secret(),
            "Atz.sprdt|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR"
        );
        assert_eq!(token.expires_in, Duration::from_secs(3600));
        let wrapped = br#"{"payload": {"restrictedDataToken": "Atz.sprdt|x", "expiresIn": 1800}}"#;
        assert_eq!(
            parse_restricted_data_token(wrapped).unwrap().expires_in,
            Duration::from_secs(1800)
        );
        assert!(matches!(
            parse_restricted_data_token(br#"{"expiresIn": 3600}"#),
            Err(ParseError::Invalid(m)) if m == "restrictedDataToken: missing"
        ));
        assert!(matches!(
            parse_restricted_data_token(br#"{"payload": {"restrictedDataToken": "t"}}"#),
            Err(ParseError::Invalid(m)) if m == "payload.expiresIn: missing"
        ));
    }

    #[test]
    fn the_v0_requests_have_their_paths_and_queries() {
        let id = OrderId::parse("250-1234567-7654321").unwrap();
        assert_eq!(
            v0_get_order(&id).path_and_query(),
            "/orders/v0/orders/250-1234567-7654321"
        );
        assert_eq!(
            v0_get_order(&id).url(FE_ENDPOINT),
            "https://sellingpartnerapi-fe.amazon.com/orders/v0/orders/250-1234567-7654321"
        );
        assert_eq!(
            v0_get_order_items(&id, None).path_and_query(),
            "/orders/v0/orders/250-1234567-7654321/orderItems"
        );
        assert_eq!(
            v0_get_order_items(&id, Some("2YgY+W55/IGNh=")).path_and_query(),
            "/orders/v0/orders/250-1234567-7654321/orderItems?NextToken=2YgY%2BW55%2FIGNh%3D"
        );
        let at = "2026-11-23T03:00:00.250Z".parse::<Timestamp>().unwrap();
        let poll = v0_get_orders(OrdersSince::LastUpdatedAfter(at), None);
        assert_eq!(poll.method, "GET");
        assert_eq!(
            poll.path_and_query(),
            "/orders/v0/orders?MarketplaceIds=A1VC38T7YXB528\
             &LastUpdatedAfter=2026-11-23T03%3A00%3A00Z&MaxResultsPerPage=100"
        );
        assert_eq!(
            v0_get_orders(OrdersSince::CreatedAfter(at), Some("tok/en")).path_and_query(),
            "/orders/v0/orders?MarketplaceIds=A1VC38T7YXB528\
             &CreatedAfter=2026-11-23T03%3A00%3A00Z&MaxResultsPerPage=100&NextToken=tok%2Fen"
        );
        // Whatever an order id holds, it stays one path segment.
        let odd = OrderId::parse("a?b#c%d").unwrap();
        assert_eq!(v0_get_order(&odd).path, "/orders/v0/orders/a%3Fb%23c%25d");
    }

    #[test]
    fn a_get_orders_page_lists_its_orders_and_the_next_token() {
        let page = br#"{"payload": {"Orders": [
            {"AmazonOrderId": "250-1234567-7654321", "OrderStatus": "Unshipped",
             "LastUpdateDate": "2026-11-23T03:35:02Z", "PurchaseDate": "2026-11-23T03:20:00Z"},
            {"AmazonOrderId": "250-7654321-1234567", "OrderStatus": "Pending"}
        ], "NextToken": "MRgZW55IGNhcm5hbCBwbGVhc3VyZS6=", "LastUpdatedBefore": "2026-11-23T04:00:00Z"}}"#;
        let page = v0_orders_page(page).unwrap();
        assert_eq!(page.orders.len(), 2);
        assert_eq!(page.orders[0].order_id.as_str(), "250-1234567-7654321");
        assert_eq!(page.orders[0].status, AmazonStatus::Unshipped);
        assert_eq!(
            page.orders[0].last_update,
            Some("2026-11-23T03:35:02Z".parse().unwrap())
        );
        assert_eq!(page.orders[1].status, AmazonStatus::Pending);
        assert_eq!(page.orders[1].last_update, None);
        assert_eq!(page.next_token.as_deref(), Some("MRgZW55IGNhcm5hbCBwbGVhc3VyZS6="));
        let last = v0_orders_page(br#"{"payload": {"Orders": [], "NextToken": ""}}"#).unwrap();
        assert_eq!(
            last,
            V0OrdersPage {
                orders: vec![],
                next_token: None
            }
        );
        assert!(matches!(
            v0_orders_page(
                br#"{"payload": {"Orders": [{"AmazonOrderId": "1", "OrderStatus": "Shipped", "LastUpdateDate": "x"}]}}"#
            ),
            Err(ParseError::Invalid(m)) if m.starts_with("getOrders.payload.Orders[0].LastUpdateDate: ")
        ));
    }
}
