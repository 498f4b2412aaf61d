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
//! # Cancelling an order: the Feeds API
//!
//! Amazon has no hold for a marketplace order and the Orders API cancels nothing: a seller cancels by
//! acknowledging the order's items with `StatusCode` `Failure` in an `OrderAcknowledgement` feed (the
//! research notes on the malls' write APIs, §4, citing an Amazon staff answer in
//! amzn/selling-partner-api-models#4839). The flow, Feeds API 2021-06-30
//! (amzn/selling-partner-api-models@34dc93f `models/feeds-api-model/feeds_2021-06-30.json`, and Amazon's
//! Easy Ship feed recipe in amzn/selling-partner-api-samples
//! `code-recipes/java/src/main/java/easyship/SubmitFeedRequestRecipe.java`):
//!
//! 1. POST [`create_feed_document_request`] to [`FEED_DOCUMENTS_PATH`] (`createFeedDocument`, HTTP 201), read
//!    [`parse_create_feed_document`]: a document id and a presigned `url` that "expires after 5 minutes".
//! 2. PUT [`order_acknowledgement_cancel_feed`]'s XML to that url with `Content-Type` [`FEED_CONTENT_TYPE`]
//!    (the same as in step 1) and no `x-amz-access-token`.
//! 3. POST [`create_feed_request`] to [`FEEDS_PATH`] (`createFeed`, HTTP 202), read [`parse_create_feed`]:
//!    the feed id. The rate is 0.0083 requests a second (burst 15): put several cancellations in one feed.
//! 4. Poll [`get_feed`] (`getFeed`), read [`parse_feed`]: [`Feed::outcome`] is pending while `IN_QUEUE` or
//!    `IN_PROGRESS`, refused when `FATAL` or `CANCELLED`, and says to read the report when `DONE`.
//! 5. [`get_feed_document`] on the `resultFeedDocumentId` (`getFeedDocument`), read
//!    [`parse_feed_document`]: a url and whether the report is `GZIP`-compressed (then gunzip it: this crate
//!    does no IO and has no gzip).
//! 6. GET that url and read the processing report with [`parse_processing_report`];
//!    [`ProcessingReport::outcome_of`] says whether the cancellation of one order (one message) was accepted.
//!
//! A non-2xx answer of steps 1, 3, 4 and 5 goes through [`Failure::classify`], as every SP-API call.
//!
//! Not verified, and so never relied on: the report's `ResultMessageCode` for an order already shipped or
//! already cancelled (every `Error` result is a refusal, kept verbatim; re-read the order before telling the
//! staff); whether a `Failure` without any `Item` cancels the whole order (every item is always listed); the
//! `CancelReason` values of the newer `OrderAcknowledgement.xsd` release_4_1; and the processing report's own
//! XSD (its element names come from client fixtures). The samples are `events/amazon/feed-*`.
//!
//! # Messaging a buyer: the Messaging API v1
//!
//! Amazon wants every message to a buyer to go through Buyer-Seller Messaging; for an app that is the
//! Messaging API v1 (amzn/selling-partner-api-models@34dc93f `models/messaging-api-model/messaging.json`,
//! "M-MSG" below; the app needs the Buyer Communication role, per Amazon's "Send a message" tutorial). What a
//! held order's buyer mail becomes, step by step:
//!
//! 1. `getMessagingActionsForOrder` ([`get_messaging_actions_for_order`], `GET /messaging/v1/orders/{id}`
//!    with `marketplaceIds=A1VC38T7YXB528`, "You can only specify one marketplace"), read with
//!    [`parse_messaging_actions`]: the names under `_links.actions` (M-MSG: "Returns hypermedia links under
//!    the _links.actions key that specify which messaging actions are allowed for the order"). A type not
//!    listed is not sent: Amazon's own guide says availability depends on "whether the order has been
//!    fulfilled, the type of seller, or the number of messages already sent for the order".
//! 2. `GetAttributes` ([`get_attributes`], `GET …/attributes`), read with [`parse_attributes`]: `buyer.locale`,
//!    because every message type's `text` "must be written in the buyer's language of preference, which can
//!    be retrieved from the GetAttributes operation" (M-MSG, each `Create…Request.text`).
//! 3. The message ([`create_message`], `POST …/messages/{type}`) with the body [`message_request`]
//!    (`{"text": …}`, M-MSG `CreateConfirmOrderDetailsRequest`); the answer is a `201` whose body holds at
//!    most `errors` ([`parse_message_sent`]): Amazon gives no message id.
//!
//! Which type ([`MessageType::for_notice`]): the confirm-or-cancel question (the notice and its reminder) is
//! `confirmOrderDetails`, the one M-MSG describes as "Sends a message to ask a buyer an order-related question
//! prior to shipping their order"; the cancellation of an unanswered hold is `unexpectedProblem`, "a
//! critical message to a buyer that an unexpected problem was encountered affecting the completion of the
//! order". The receipt of the buyer's answer has none: the buyer answered by replying in Amazon's message
//! centre, and Amazon's use case guide says "you cannot use this API to respond to messages from buyers".
//! (`confirmCustomizationDetails`, "to provide or verify customization details such as name spelling,
//! images, initials", is for made-to-order items and fits no duplicate question.)
//!
//! The text ([`message_text`]): plain text, the subject as its first line; `text` is `minLength` 1 and
//! `maxLength` 2000 for both types, counted here in UTF-16 code units (never fewer than characters), and a
//! longer text loses its last lines, not its question. "Only links related to order completion are allowed.
//! Do not include HTML or email addresses": every line with an `http://` or `https://` link or an email
//! address is dropped, and where the notice's answer links were, the buyer is told to reply to the message
//! in Amazon's message centre, in the mail's language ([`text_language`]).
//!
//! Failures: every status M-MSG lists is the usual [`Failure::classify`]; a `403` whose error says "Invalid
//! amazonOrderId and template combination." is Amazon refusing a type the order does not allow (observed,
//! not specified: [`refuses_message_type`]). The rate of every Messaging operation is 1 request a second,
//! burst 5 (M-MSG usage plans). Not verified, so not relied on: the real `_links.actions` of a Japanese
//! order (the samples `events/amazon/messaging-*` are fictional, shaped on M-MSG's examples and issues),
//! whether Amazon counts `maxLength` in characters or UTF-16 units, which locales Amazon.co.jp buyers carry
//! (`ja-JP` assumed), whether the 201 body is empty or `{}` (both read), and whether a `text` over the limit,
//! with a link or with an address is refused or delivered altered.
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
use mallguard_domain::Language;
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
    crate::decode_shaped(raw, |path| {
        if path.is_empty() {
            response.to_owned()
        } else {
            format!("{response}.{path}")
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
    // Amazon gives no reading: a name in romaji or kana (`Taro Yamada`) is its own.
    let ship_to = PostalAddress {
        name: text(&address.name),
        kana: None,
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
        language: None,
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
        screened_by_mall: false,
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
                kana: None,
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

// ---------------------------------------------------------------------------------------------------------
// Feeds API: cancelling an order (POST_ORDER_ACKNOWLEDGEMENT_DATA)
// ---------------------------------------------------------------------------------------------------------

/// Feeds API 2021-06-30 `createFeed` (POST, JSON [`create_feed_request`]), and the parent of `getFeed`.
pub const FEEDS_PATH: &str = "/feeds/2021-06-30/feeds";
/// Feeds API 2021-06-30 `createFeedDocument` (POST, JSON [`create_feed_document_request`]), and the parent
/// of `getFeedDocument`.
pub const FEED_DOCUMENTS_PATH: &str = "/feeds/2021-06-30/documents";
/// The feed type that acknowledges (and so cancels) orders; still offered after the XML listings feeds were
/// removed on 2025-07-31 (<https://developer-docs.amazon.com/sp-api/docs/feed-type-values>).
pub const ORDER_ACKNOWLEDGEMENT_FEED_TYPE: &str = "POST_ORDER_ACKNOWLEDGEMENT_DATA";
/// The content type of the feed document, given to `createFeedDocument` and sent again on the upload, as
/// Amazon's recipe does (`String.format("text/xml; charset=%s", StandardCharsets.UTF_8)`).
pub const FEED_CONTENT_TYPE: &str = "text/xml; charset=UTF-8";
/// How many characters of an id Amazon sends we accept; real ones are well under 100.
const MAX_FEED_ID: usize = 200;
/// How many characters of a presigned url we accept.
const MAX_URL: usize = 8192;
/// How many characters of a report's `ResultDescription` we keep.
const DESCRIPTION_ECHO: usize = 300;
/// How many characters an `AmazonOrderItemCode` may have (they are 14 digits).
const MAX_ITEM_ID: usize = 64;

/// The JSON body of `createFeedDocument`: `{"contentType": "text/xml; charset=UTF-8"}`.
pub fn create_feed_document_request() -> serde_json::Value {
    serde_json::json!({ "contentType": FEED_CONTENT_TYPE })
}

/// The JSON body of `createFeed` for an uploaded cancel document on Amazon.co.jp:
/// `{"feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA", "marketplaceIds": ["A1VC38T7YXB528"],
/// "inputFeedDocumentId": …}`. Send it within two days of `createFeedDocument` ("feedDocumentId value
/// expires after two days", <https://developer-docs.amazon.com/sp-api/docs/submit-a-feed>).
pub fn create_feed_request(feed_document_id: &str) -> serde_json::Value {
    serde_json::json!({
        "feedType": ORDER_ACKNOWLEDGEMENT_FEED_TYPE,
        "marketplaceIds": [JP_MARKETPLACE_ID],
        "inputFeedDocumentId": feed_document_id.trim()
    })
}

/// `getFeed`: `GET /feeds/2021-06-30/feeds/{feedId}` (2 requests a second, burst 15).
pub fn get_feed(feed_id: &str) -> ApiRequest {
    let mut path = format!("{FEEDS_PATH}/");
    percent_encode(&mut path, feed_id.trim(), false);
    ApiRequest {
        method: "GET",
        path,
        query: Vec::new(),
    }
}

/// `getFeedDocument`: `GET /feeds/2021-06-30/documents/{feedDocumentId}` (0.0222 requests a second, burst
/// 10), for the `resultFeedDocumentId` of a `DONE` feed.
pub fn get_feed_document(feed_document_id: &str) -> ApiRequest {
    let mut path = format!("{FEED_DOCUMENTS_PATH}/");
    percent_encode(&mut path, feed_document_id.trim(), false);
    ApiRequest {
        method: "GET",
        path,
        query: Vec::new(),
    }
}

/// `CancelReason` of an `OrderAcknowledgement` item: the enumeration of `OrderAcknowledgement.xsd`
/// release_1_9, as transcribed in client code (search-index file 19070881044). Whether the newer release_4_1
/// changed it is not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    NoInventory,
    ShippingAddressUndeliverable,
    CustomerExchange,
    /// What mallguard sends for a duplicate the buyer chose to cancel. Whether Amazon counts it against the
    /// seller's cancellation rate when the buyer did not ask on Amazon is not verified.
    BuyerCanceled,
    GeneralAdjustment,
    CarrierCreditDecision,
    RiskAssessmentInformationNotValid,
    CarrierCoverageFailure,
    CustomerReturn,
    MerchandiseNotReceived,
}

impl CancelReason {
    /// The value as the schema writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoInventory => "NoInventory",
            Self::ShippingAddressUndeliverable => "ShippingAddressUndeliverable",
            Self::CustomerExchange => "CustomerExchange",
            Self::BuyerCanceled => "BuyerCanceled",
            Self::GeneralAdjustment => "GeneralAdjustment",
            Self::CarrierCreditDecision => "CarrierCreditDecision",
            Self::RiskAssessmentInformationNotValid => "RiskAssessmentInformationNotValid",
            Self::CarrierCoverageFailure => "CarrierCoverageFailure",
            Self::CustomerReturn => "CustomerReturn",
            Self::MerchandiseNotReceived => "MerchandiseNotReceived",
        }
    }
}

/// One order to cancel in an `OrderAcknowledgement` feed: the order, every one of its items, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCancellation {
    pub order_id: OrderId,
    /// Each item's `AmazonOrderItemCode`: the `OrderItemId` of `getOrderItems` (the v2026-01-01
    /// `orderItemId`). List every item of the order: whether an acknowledgement with `Failure` and no item
    /// cancels the whole order is not verified, so none is ever sent without one.
    pub item_ids: Vec<String>,
    pub reason: CancelReason,
}

/// Why [`order_acknowledgement_cancel_feed`] made no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("the feed names no order")]
    NoOrders,
    #[error("order {0}: no item to cancel (list every AmazonOrderItemCode of the order)")]
    NoItems(String),
    #[error("order {order}: {item:?} is not an AmazonOrderItemCode")]
    BadItem { order: String, item: String },
    #[error("order {0} is listed twice")]
    DuplicateOrder(String),
}

/// The `POST_ORDER_ACKNOWLEDGEMENT_DATA` document that cancels `orders` of the seller `merchant_id` (its
/// `SellerId`, the `MerchantIdentifier`): one `<Message>` per order, `MessageID` 1, 2, … in the order given
/// (the processing report refers to them by it: [`ProcessingReport::outcome_of`]), each an
/// `<OrderAcknowledgement>` with the `AmazonOrderID`, `StatusCode` `Failure`, and one `<Item>` per item with
/// its `AmazonOrderItemCode` and `CancelReason`. An item listed twice is sent once.
///
/// The envelope (`Header` with `DocumentVersion` 1.01 and `MerchantIdentifier`, `MessageType`, `Message`
/// with `MessageID`) is Amazon's recipe's; the acknowledgement's elements and their order are the XSD's. The
/// optional `MerchantOrderID`, `MerchantOrderItemID` and `OperationType` are not sent.
pub fn order_acknowledgement_cancel_feed(
    merchant_id: &ShopId,
    orders: &[OrderCancellation],
) -> Result<String, FeedError> {
    if orders.is_empty() {
        return Err(FeedError::NoOrders);
    }
    let mut seen_orders = std::collections::BTreeSet::new();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AmazonEnvelope \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"amzn-envelope.xsd\">\n",
    );
    let _ = write!(
        xml,
        "  <Header>\n    <DocumentVersion>1.01</DocumentVersion>\n    <MerchantIdentifier>{}</MerchantIdentifier>\n  \
         </Header>\n  <MessageType>OrderAcknowledgement</MessageType>\n",
        quick_xml::escape::escape(merchant_id.as_str())
    );
    for (i, order) in orders.iter().enumerate() {
        let order_id = order.order_id.as_str();
        if !seen_orders.insert(order_id) {
            return Err(FeedError::DuplicateOrder(order_id.to_owned()));
        }
        let mut items: Vec<&str> = Vec::new();
        for item in &order.item_ids {
            let trimmed = item.trim();
            let valid = !trimmed.is_empty()
                && trimmed.chars().count() <= MAX_ITEM_ID
                && trimmed.chars().all(|c| c.is_ascii_graphic());
            if !valid {
                return Err(FeedError::BadItem {
                    order: order_id.to_owned(),
                    item: item.chars().take(ECHO).collect(),
                });
            }
            if !items.contains(&trimmed) {
                items.push(trimmed);
            }
        }
        if items.is_empty() {
            return Err(FeedError::NoItems(order_id.to_owned()));
        }
        let _ = write!(
            xml,
            "  <Message>\n    <MessageID>{}</MessageID>\n    <OrderAcknowledgement>\n      \
             <AmazonOrderID>{}</AmazonOrderID>\n      <StatusCode>Failure</StatusCode>\n",
            i + 1,
            quick_xml::escape::escape(order_id)
        );
        for item in items {
            let _ = write!(
                xml,
                "      <Item>\n        <AmazonOrderItemCode>{}</AmazonOrderItemCode>\n        \
                 <CancelReason>{}</CancelReason>\n      </Item>\n",
                quick_xml::escape::escape(item),
                order.reason.as_str()
            );
        }
        xml.push_str("    </OrderAcknowledgement>\n  </Message>\n");
    }
    xml.push_str("</AmazonEnvelope>\n");
    Ok(xml)
}

/// Where to upload a feed document: the answer of `createFeedDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedDocumentUpload {
    /// `feedDocumentId`: give it to [`create_feed_request`] once the document is uploaded.
    pub feed_document_id: String,
    /// `url`: "The presigned URL for uploading the feed contents. This URL expires after 5 minutes." It
    /// grants access on its own: never log it.
    pub url: String,
}

/// Reads the answer of `createFeedDocument` (`{feedDocumentId, url}`). A url that is not `https://` is
/// refused: the document is not sent in the clear.
pub fn parse_create_feed_document(body: &[u8]) -> Result<FeedDocumentUpload, ParseError> {
    const RESPONSE: &str = "createFeedDocument";
    let wire = decode_response::<WireFeedDocument>(body, RESPONSE)?;
    Ok(FeedDocumentUpload {
        feed_document_id: feed_id(wire.feed_document_id, RESPONSE, "feedDocumentId", &wire.errors)?,
        url: feed_url(wire.url, RESPONSE, &wire.errors)?,
    })
}

/// Reads the answer of `createFeed` (HTTP 202, `{feedId}`): the feed id to poll with [`get_feed`].
pub fn parse_create_feed(body: &[u8]) -> Result<String, ParseError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "feedId", default)]
        feed_id: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        errors: Vec<WireError>,
    }
    let wire = decode_response::<Wire>(body, "createFeed")?;
    feed_id(wire.feed_id, "createFeed", "feedId", &wire.errors)
}

/// `processingStatus` of a feed (the model's enumeration).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcessingStatus {
    /// "The feed has not yet started processing. It may be waiting for another IN_PROGRESS feed."
    InQueue,
    /// "The feed is being processed."
    InProgress,
    /// "Examine the contents of the result document to determine if there were any errors."
    Done,
    /// "Some, none, or all of the operations within the feed may have completed successfully."
    Fatal,
    /// "The feed was cancelled before it started processing."
    Cancelled,
    /// A status the model did not list when this was written, as sent (at most 60 characters).
    Other(String),
}

impl ProcessingStatus {
    fn parse(raw: &str) -> Self {
        match raw.trim() {
            "IN_QUEUE" => Self::InQueue,
            "IN_PROGRESS" => Self::InProgress,
            "DONE" => Self::Done,
            "FATAL" => Self::Fatal,
            "CANCELLED" => Self::Cancelled,
            other => Self::Other(other.chars().take(ECHO).collect()),
        }
    }

    /// The status as Amazon writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InQueue => "IN_QUEUE",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Fatal => "FATAL",
            Self::Cancelled => "CANCELLED",
            Self::Other(raw) => raw,
        }
    }
}

impl fmt::Display for ProcessingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A feed as `getFeed` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub feed_id: String,
    /// `feedType`, as sent (at most 60 characters).
    pub feed_type: String,
    pub processing_status: ProcessingStatus,
    /// `resultFeedDocumentId`: the processing report, for [`get_feed_document`].
    pub result_feed_document_id: Option<String>,
}

/// Where a cancellation by feed stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOutcome {
    /// Not processed yet (`IN_QUEUE`, `IN_PROGRESS`): ask `getFeed` again later.
    Pending,
    /// Amazon took the acknowledgement: the order is cancelled (re-read it to see `Canceled`).
    Accepted,
    /// For good: do not resubmit blindly; the staff must look.
    Refused(FeedRefusal),
}

/// Why a cancellation by feed did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedRefusal {
    /// The report's `Error` results for the message, and those for the whole document (`MessageID` 0, such
    /// as `5000` "XML Parsing Error"). Which `ResultMessageCode` a shipped or already cancelled order gets is
    /// not verified: re-read the order (`OrderStatus` `Canceled` is success for mallguard).
    Errors(Vec<ReportResult>),
    /// The report does not count the message as successful, and names no error for it.
    NotProcessed {
        processed: u32,
        successful: u32,
        with_error: u32,
    },
    /// `FATAL`: "Some, none, or all of the operations within the feed may have completed successfully".
    /// Re-read the order before anything else; the result document, when there is one, may say more.
    Fatal { result_feed_document_id: Option<String> },
    /// `CANCELLED` before it was processed.
    Cancelled,
    /// `DONE` without a result document, or a status the model does not list.
    Unexpected(String),
}

impl fmt::Display for FeedRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedRefusal::Errors(results) => {
                for (i, result) in results.iter().take(3).enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(
                        f,
                        "{} {}: {}",
                        result.code.as_str(),
                        result.message_code.as_deref().unwrap_or("(no code)"),
                        result.description
                    )?;
                }
                if results.len() > 3 {
                    write!(f, "; and {} more", results.len() - 3)?;
                }
                Ok(())
            }
            FeedRefusal::NotProcessed {
                processed,
                successful,
                with_error,
            } => write!(
                f,
                "the report does not count the message as successful ({processed} processed, {successful} \
                 successful, {with_error} with an error)"
            ),
            FeedRefusal::Fatal { .. } => f.write_str("the feed ended FATAL: some, none or all of it may have applied"),
            FeedRefusal::Cancelled => f.write_str("the feed was cancelled before it was processed"),
            FeedRefusal::Unexpected(what) => write!(f, "unexpected feed state: {what}"),
        }
    }
}

impl Feed {
    /// Where the feed stands: [`FeedOutcome::Pending`] while `IN_QUEUE` or `IN_PROGRESS`,
    /// [`FeedOutcome::Refused`] when `FATAL`, `CANCELLED`, `DONE` without a result document, or in a status
    /// the model does not list. None when `DONE`: "examine the contents of the result document" — fetch it
    /// ([`get_feed_document`] on [`result_feed_document_id`](Feed::result_feed_document_id)) and ask
    /// [`ProcessingReport::outcome_of`].
    pub fn outcome(&self) -> Option<FeedOutcome> {
        Some(match &self.processing_status {
            ProcessingStatus::InQueue | ProcessingStatus::InProgress => FeedOutcome::Pending,
            ProcessingStatus::Done if self.result_feed_document_id.is_some() => return None,
            ProcessingStatus::Done => {
                FeedOutcome::Refused(FeedRefusal::Unexpected("DONE without a resultFeedDocumentId".into()))
            }
            ProcessingStatus::Fatal => FeedOutcome::Refused(FeedRefusal::Fatal {
                result_feed_document_id: self.result_feed_document_id.clone(),
            }),
            ProcessingStatus::Cancelled => FeedOutcome::Refused(FeedRefusal::Cancelled),
            ProcessingStatus::Other(status) => {
                FeedOutcome::Refused(FeedRefusal::Unexpected(format!("processingStatus {status}")))
            }
        })
    }
}

/// Reads the answer of `getFeed` (the `Feed` itself, no `payload`): `feedId`, `feedType`,
/// `processingStatus` and `resultFeedDocumentId`. The times are not read.
pub fn parse_feed(body: &[u8]) -> Result<Feed, ParseError> {
    const RESPONSE: &str = "getFeed";
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire {
        #[serde(default)]
        feed_id: Option<String>,
        #[serde(default)]
        feed_type: Option<String>,
        #[serde(default)]
        processing_status: Option<String>,
        #[serde(default)]
        result_feed_document_id: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        errors: Vec<WireError>,
    }
    let wire = decode_response::<Wire>(body, RESPONSE)?;
    let feed_id = feed_id(wire.feed_id, RESPONSE, "feedId", &wire.errors)?;
    let status = non_empty(wire.processing_status.as_deref())
        .ok_or_else(|| ParseError::field(&format!("{RESPONSE}.processingStatus"), "missing"))?;
    let result_feed_document_id = match non_empty(wire.result_feed_document_id.as_deref()) {
        Some(id) => Some(feed_id_text(id, &format!("{RESPONSE}.resultFeedDocumentId"))?),
        None => None,
    };
    Ok(Feed {
        feed_id,
        feed_type: non_empty(wire.feed_type.as_deref())
            .unwrap_or_default()
            .chars()
            .take(ECHO)
            .collect(),
        processing_status: ProcessingStatus::parse(status),
        result_feed_document_id,
    })
}

/// `compressionAlgorithm` of a feed document: the model lists `GZIP` only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    /// A value the model did not list, as sent (at most 60 characters): the report cannot be read.
    Other(String),
}

/// Where to download a feed document (the processing report): the answer of `getFeedDocument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedDocument {
    pub feed_document_id: String,
    /// The presigned url; "This URL expires after 5 minutes." Never log it.
    pub url: String,
    /// None: the document is plain. `Gzip`: gunzip it before [`parse_processing_report`].
    pub compression: Option<Compression>,
}

/// Reads the answer of `getFeedDocument` (`{feedDocumentId, url, compressionAlgorithm?}`).
pub fn parse_feed_document(body: &[u8]) -> Result<FeedDocument, ParseError> {
    const RESPONSE: &str = "getFeedDocument";
    let wire = decode_response::<WireFeedDocument>(body, RESPONSE)?;
    Ok(FeedDocument {
        feed_document_id: feed_id(wire.feed_document_id, RESPONSE, "feedDocumentId", &wire.errors)?,
        url: feed_url(wire.url, RESPONSE, &wire.errors)?,
        compression: non_empty(wire.compression_algorithm.as_deref()).map(|c| match c {
            "GZIP" => Compression::Gzip,
            other => Compression::Other(other.chars().take(ECHO).collect()),
        }),
    })
}

/// `createFeedDocument`'s and `getFeedDocument`'s answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFeedDocument {
    #[serde(default)]
    feed_document_id: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    compression_algorithm: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

/// A required id of a Feeds API answer; when missing, say which `errors` the answer carries instead.
fn feed_id(value: Option<String>, response: &str, name: &str, errors: &[WireError]) -> Result<String, ParseError> {
    let field = format!("{response}.{name}");
    match non_empty(value.as_deref()) {
        Some(id) => feed_id_text(id, &field),
        None if errors.is_empty() => Err(ParseError::field(&field, "missing")),
        None => Err(ParseError::field(
            &field,
            format_args!("missing; the response carries errors: {}", describe(errors)),
        )),
    }
}

fn feed_id_text(id: &str, field: &str) -> Result<String, ParseError> {
    if id.chars().count() > MAX_FEED_ID {
        return Err(ParseError::field(
            field,
            format_args!("is longer than {MAX_FEED_ID} characters"),
        ));
    }
    if let Some(bad) = id.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(ParseError::field(field, format_args!("has the character {bad:?}")));
    }
    Ok(id.to_owned())
}

/// The presigned url of a Feeds API answer: `https://`, at most [`MAX_URL`] characters. The url is never
/// repeated in an error (it grants access).
fn feed_url(value: Option<String>, response: &str, errors: &[WireError]) -> Result<String, ParseError> {
    let field = format!("{response}.url");
    let Some(url) = non_empty(value.as_deref()) else {
        return Err(if errors.is_empty() {
            ParseError::field(&field, "missing")
        } else {
            ParseError::field(
                &field,
                format_args!("missing; the response carries errors: {}", describe(errors)),
            )
        });
    };
    if !url.starts_with("https://") {
        return Err(ParseError::field(&field, "is not an https:// url"));
    }
    if url.chars().count() > MAX_URL || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ParseError::field(
            &field,
            format_args!("is longer than {MAX_URL} characters or has blanks"),
        ));
    }
    Ok(url.to_owned())
}

/// A feed's processing report (`MessageType` `ProcessingReport`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingReport {
    /// `DocumentTransactionID`: the feed id.
    pub document_transaction_id: Option<String>,
    /// `StatusCode`, `Complete` in every report seen.
    pub status_code: Option<String>,
    /// `ProcessingSummary`.
    pub messages_processed: u32,
    pub messages_successful: u32,
    pub messages_with_error: u32,
    pub messages_with_warning: u32,
    /// Every `Result`, errors and warnings, in the report's order.
    pub results: Vec<ReportResult>,
}

/// One `Result` of a processing report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportResult {
    /// `MessageID`: the message of the feed it is about; 0 for the whole document (a parsing error).
    pub message_id: Option<u32>,
    /// `ResultCode`.
    pub code: ResultCode,
    /// `ResultMessageCode`, such as `5000`, verbatim (at most 60 characters).
    pub message_code: Option<String>,
    /// `ResultDescription`, at most 300 characters.
    pub description: String,
    /// `AdditionalInfo/AmazonOrderID`, when given.
    pub amazon_order_id: Option<String>,
}

/// `ResultCode` of a report `Result`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultCode {
    Error,
    Warning,
    /// Any other value, as sent (at most 60 characters).
    Other(String),
}

impl ResultCode {
    /// The code as Amazon writes it.
    pub fn as_str(&self) -> &str {
        match self {
            ResultCode::Error => "Error",
            ResultCode::Warning => "Warning",
            ResultCode::Other(raw) => raw,
        }
    }
}

impl ProcessingReport {
    /// The `Error` results about message `message_id`, or about the whole document (`MessageID` 0 or none).
    fn errors_for(&self, message_id: Option<u32>) -> Vec<ReportResult> {
        self.results
            .iter()
            .filter(|r| r.code == ResultCode::Error)
            .filter(|r| match (message_id, r.message_id) {
                (None, _) | (_, None | Some(0)) => true,
                (Some(wanted), Some(id)) => id == wanted,
            })
            .cloned()
            .collect()
    }

    fn not_processed(&self) -> FeedOutcome {
        FeedOutcome::Refused(FeedRefusal::NotProcessed {
            processed: self.messages_processed,
            successful: self.messages_successful,
            with_error: self.messages_with_error,
        })
    }

    /// Whether the whole feed went through: accepted when no `Result` is an `Error` and every processed
    /// message was successful ("success" as the research notes read the fixtures: `MessagesSuccessful` =
    /// `MessagesProcessed` and no `Error` result).
    pub fn outcome(&self) -> FeedOutcome {
        let errors = self.errors_for(None);
        if !errors.is_empty() {
            return FeedOutcome::Refused(FeedRefusal::Errors(errors));
        }
        if self.messages_processed == 0
            || self.messages_with_error > 0
            || self.messages_successful < self.messages_processed
        {
            return self.not_processed();
        }
        FeedOutcome::Accepted
    }

    /// Whether the message `message_id` (the `MessageID` [`order_acknowledgement_cancel_feed`] gave the
    /// order: its place in the list, from 1) went through. Refused with the `Error` results about it or
    /// about the whole document; accepted when there is none, at least one message succeeded, and every
    /// message counted with an error is named by an `Error` result (so none of them can be this one);
    /// otherwise refused as not processed (an inference: the report format is read from client fixtures).
    pub fn outcome_of(&self, message_id: u32) -> FeedOutcome {
        let errors = self.errors_for(Some(message_id));
        if !errors.is_empty() {
            return FeedOutcome::Refused(FeedRefusal::Errors(errors));
        }
        let named: std::collections::BTreeSet<u32> = self
            .results
            .iter()
            .filter(|r| r.code == ResultCode::Error)
            .filter_map(|r| r.message_id)
            .collect();
        let unnamed_errors = usize::try_from(self.messages_with_error).unwrap_or(usize::MAX) > named.len();
        if self.messages_successful == 0 || unnamed_errors {
            return self.not_processed();
        }
        FeedOutcome::Accepted
    }
}

/// Reads a feed processing report: the XML document at the url of [`parse_feed_document`], already gunzipped
/// when its `compressionAlgorithm` is `GZIP`.
///
/// Like every XML this crate reads, it is checked first in one flat pass: UTF-8, no DOCTYPE (so no entity is
/// declared or fetched), no entity beyond XML's five, elements nested at most [`crate::MAX_DEPTH`] deep.
/// The root must be `AmazonEnvelope` with `MessageType` `ProcessingReport`; the numbers of the summary must
/// be whole numbers. Errors name the element path (`Message[0].ProcessingReport.ProcessingSummary…`).
/// Element names are those of the reports in client fixtures (search-index files 16569482057, 35626052891,
/// 50990769433); Amazon's XSD for the report was not read.
pub fn parse_processing_report(xml: &[u8]) -> Result<ProcessingReport, ParseError> {
    if xml.starts_with(&[0x1f, 0x8b]) {
        return Err(ParseError::Invalid(
            "the report is gzip-compressed (compressionAlgorithm GZIP): gunzip it first".into(),
        ));
    }
    let (text, root) = check_report_xml(xml)?;
    if root != "AmazonEnvelope" {
        return Err(ParseError::Invalid(format!(
            "the root element is {root}, not AmazonEnvelope"
        )));
    }
    let envelope: WireReportEnvelope = crate::decode_xml(text)?;
    let message_type = envelope.message_type.as_deref().map(str::trim).unwrap_or_default();
    if message_type != "ProcessingReport" {
        let shown: String = message_type.chars().take(ECHO).collect();
        return Err(ParseError::field(
            "MessageType",
            format_args!("{shown:?} is not ProcessingReport"),
        ));
    }
    let (index, report) = envelope
        .message
        .into_iter()
        .enumerate()
        .find_map(|(i, m)| m.processing_report.map(|r| (i, r)))
        .ok_or_else(|| ParseError::field("Message.ProcessingReport", "missing"))?;
    let path = format!("Message[{index}].ProcessingReport");
    let summary = report
        .summary
        .ok_or_else(|| ParseError::field(&format!("{path}.ProcessingSummary"), "missing"))?;
    let count = |value: &Option<String>, name: &str| -> Result<u32, ParseError> {
        let field = format!("{path}.ProcessingSummary.{name}");
        let text = non_empty(value.as_deref()).ok_or_else(|| ParseError::field(&field, "missing"))?;
        text.parse().map_err(|_| {
            let shown: String = text.chars().take(ECHO).collect();
            ParseError::field(&field, format_args!("{shown:?} is not a whole number"))
        })
    };
    let messages_processed = count(&summary.messages_processed, "MessagesProcessed")?;
    let messages_successful = count(&summary.messages_successful, "MessagesSuccessful")?;
    let messages_with_error = count(&summary.messages_with_error, "MessagesWithError")?;
    // Not in every report (a fixture without warnings may leave it out): absent is none.
    let messages_with_warning = match non_empty(summary.messages_with_warning.as_deref()) {
        Some(_) => count(&summary.messages_with_warning, "MessagesWithWarning")?,
        None => 0,
    };
    let results = report
        .results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.into_result(&format!("{path}.Result[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let text = |value: Option<String>| non_empty(value.as_deref()).map(|v| v.chars().take(ECHO).collect());
    Ok(ProcessingReport {
        document_transaction_id: text(report.document_transaction_id),
        status_code: text(report.status_code),
        messages_processed,
        messages_successful,
        messages_with_error,
        messages_with_warning,
        results,
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireReportEnvelope {
    #[serde(default)]
    message_type: Option<String>,
    #[serde(default)]
    message: Vec<WireReportMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireReportMessage {
    #[serde(default)]
    processing_report: Option<WireProcessingReport>,
}

#[derive(Debug, Deserialize)]
struct WireProcessingReport {
    #[serde(rename = "DocumentTransactionID", default)]
    document_transaction_id: Option<String>,
    #[serde(rename = "StatusCode", default)]
    status_code: Option<String>,
    #[serde(rename = "ProcessingSummary", default)]
    summary: Option<WireProcessingSummary>,
    #[serde(rename = "Result", default)]
    results: Vec<WireReportResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireProcessingSummary {
    #[serde(default)]
    messages_processed: Option<String>,
    #[serde(default)]
    messages_successful: Option<String>,
    #[serde(default)]
    messages_with_error: Option<String>,
    #[serde(default)]
    messages_with_warning: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireReportResult {
    #[serde(rename = "MessageID", default)]
    message_id: Option<String>,
    #[serde(rename = "ResultCode", default)]
    result_code: Option<String>,
    #[serde(rename = "ResultMessageCode", default)]
    result_message_code: Option<String>,
    #[serde(rename = "ResultDescription", default)]
    result_description: Option<String>,
    #[serde(rename = "AdditionalInfo", default)]
    additional_info: Option<WireAdditionalInfo>,
}

#[derive(Debug, Deserialize)]
struct WireAdditionalInfo {
    #[serde(rename = "AmazonOrderID", default)]
    amazon_order_id: Option<String>,
}

impl WireReportResult {
    fn into_result(self, path: &str) -> Result<ReportResult, ParseError> {
        let message_id = non_empty(self.message_id.as_deref())
            .map(|id| {
                id.parse::<u32>().map_err(|_| {
                    let shown: String = id.chars().take(ECHO).collect();
                    ParseError::field(
                        &format!("{path}.MessageID"),
                        format_args!("{shown:?} is not a whole number"),
                    )
                })
            })
            .transpose()?;
        let code = match non_empty(self.result_code.as_deref()) {
            Some("Error") => ResultCode::Error,
            Some("Warning") => ResultCode::Warning,
            Some(other) => ResultCode::Other(other.chars().take(ECHO).collect()),
            None => return Err(ParseError::field(&format!("{path}.ResultCode"), "missing")),
        };
        Ok(ReportResult {
            message_id,
            code,
            message_code: non_empty(self.result_message_code.as_deref()).map(|c| c.chars().take(ECHO).collect()),
            description: non_empty(self.result_description.as_deref())
                .unwrap_or_default()
                .chars()
                .take(DESCRIPTION_ECHO)
                .collect(),
            amazon_order_id: self
                .additional_info
                .and_then(|a| a.amazon_order_id)
                .and_then(|id| non_empty(Some(&id)).map(|id| id.chars().take(ECHO).collect())),
        })
    }
}

fn check_report_xml(raw: &[u8]) -> Result<(&str, String), ParseError> {
    crate::check_xml(raw, "report")
}

#[cfg(test)]
mod feed_tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::MAX_DEPTH;

    fn read(path: &str) -> Vec<u8> {
        let full = format!("{}/../../events/amazon/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("events/amazon/{path}: {e}"))
    }

    fn text(path: &str) -> String {
        String::from_utf8(read(path)).unwrap()
    }

    #[test]
    fn every_feed_sample_is_covered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/amazon");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("feed-"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "feed-cancel.xml",
                "feed-createFeed.json",
                "feed-createFeedDocument.json",
                "feed-getFeed-done.json",
                "feed-getFeed-fatal.json",
                "feed-getFeed-in-progress.json",
                "feed-getFeedDocument.json",
                "feed-report-error.xml",
                "feed-report.xml",
            ],
            "a new sample needs a test and a line in events/README.md"
        );
    }

    fn seller() -> ShopId {
        ShopId::parse("A1EXAMPLESELLER").unwrap()
    }

    /// The sample order of `getOrder.json` with its one item of `getOrderItems.json`.
    fn yamada() -> OrderCancellation {
        OrderCancellation {
            order_id: OrderId::parse("250-1234567-7654321").unwrap(),
            item_ids: vec!["43210987654321".into()],
            reason: CancelReason::BuyerCanceled,
        }
    }

    fn invalid<T: fmt::Debug>(result: Result<T, ParseError>) -> String {
        match result {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn report(summary: (u32, u32, u32), results: &str) -> ProcessingReport {
        let (processed, successful, with_error) = summary;
        let xml = format!(
            "<AmazonEnvelope><Header><DocumentVersion>1.02</DocumentVersion></Header>\
             <MessageType>ProcessingReport</MessageType><Message><MessageID>1</MessageID><ProcessingReport>\
             <DocumentTransactionID>1</DocumentTransactionID><StatusCode>Complete</StatusCode><ProcessingSummary>\
             <MessagesProcessed>{processed}</MessagesProcessed><MessagesSuccessful>{successful}</MessagesSuccessful>\
             <MessagesWithError>{with_error}</MessagesWithError><MessagesWithWarning>0</MessagesWithWarning>\
             </ProcessingSummary>{results}</ProcessingReport></Message></AmazonEnvelope>"
        );
        parse_processing_report(xml.as_bytes()).unwrap()
    }

    fn error_result(message_id: u32, code: &str) -> String {
        format!(
            "<Result><MessageID>{message_id}</MessageID><ResultCode>Error</ResultCode>\
             <ResultMessageCode>{code}</ResultMessageCode><ResultDescription>why {message_id}</ResultDescription></Result>"
        )
    }

    /// The acknowledgement document read back, as the test sees it.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Envelope {
        header: Header,
        message_type: String,
        message: Vec<Message>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Header {
        document_version: String,
        merchant_identifier: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Message {
        #[serde(rename = "MessageID")]
        message_id: u32,
        order_acknowledgement: Acknowledgement,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Acknowledgement {
        #[serde(rename = "AmazonOrderID")]
        amazon_order_id: String,
        status_code: String,
        item: Vec<Item>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Item {
        amazon_order_item_code: String,
        cancel_reason: String,
    }

    fn read_back(xml: &str) -> Envelope {
        let (text, root) = check_report_xml(xml.as_bytes()).unwrap();
        assert_eq!(root, "AmazonEnvelope");
        quick_xml::de::from_str(text).unwrap()
    }

    #[test]
    fn the_feed_requests_have_their_bodies_and_paths() {
        let document = create_feed_document_request();
        assert_eq!(
            serde_json::from_slice::<Value>(&serde_json::to_vec(&document).unwrap()).unwrap(),
            json!({ "contentType": "text/xml; charset=UTF-8" })
        );
        assert_eq!(FEED_DOCUMENTS_PATH, "/feeds/2021-06-30/documents");
        let feed = create_feed_request(" amzn1.tortuga.4.fe.8a3c5e71-2b4d-4f9a-9c6e-0d1f2a3b4c5d.T3EXAMPLE ");
        assert_eq!(
            serde_json::from_slice::<Value>(&serde_json::to_vec(&feed).unwrap()).unwrap(),
            json!({
                "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
                "marketplaceIds": ["A1VC38T7YXB528"],
                "inputFeedDocumentId": "amzn1.tortuga.4.fe.8a3c5e71-2b4d-4f9a-9c6e-0d1f2a3b4c5d.T3EXAMPLE"
            })
        );
        assert_eq!(FEEDS_PATH, "/feeds/2021-06-30/feeds");
        let get = get_feed("50012019999");
        assert_eq!(get.method, "GET");
        assert_eq!(
            get.url(FE_ENDPOINT),
            "https://sellingpartnerapi-fe.amazon.com/feeds/2021-06-30/feeds/50012019999"
        );
        assert_eq!(get_feed("a/b?c").path, "/feeds/2021-06-30/feeds/a%2Fb%3Fc");
        let document = get_feed_document("amzn1.tortuga.4.fe.b7e9d1c3-5a2f-4e8b-8d0c-6f4a2e1b9c7d.T1EXAMPLE");
        assert_eq!(document.method, "GET");
        assert_eq!(
            document.path_and_query(),
            "/feeds/2021-06-30/documents/amzn1.tortuga.4.fe.b7e9d1c3-5a2f-4e8b-8d0c-6f4a2e1b9c7d.T1EXAMPLE"
        );
    }

    #[test]
    fn the_cancel_document_is_the_sample_byte_for_byte() {
        let xml = order_acknowledgement_cancel_feed(&seller(), &[yamada()]).unwrap();
        assert_eq!(xml, text("feed-cancel.xml"));
        assert_eq!(
            read_back(&xml),
            Envelope {
                header: Header {
                    document_version: "1.01".into(),
                    merchant_identifier: "A1EXAMPLESELLER".into(),
                },
                message_type: "OrderAcknowledgement".into(),
                message: vec![Message {
                    message_id: 1,
                    order_acknowledgement: Acknowledgement {
                        amazon_order_id: "250-1234567-7654321".into(),
                        status_code: "Failure".into(),
                        item: vec![Item {
                            amazon_order_item_code: "43210987654321".into(),
                            cancel_reason: "BuyerCanceled".into(),
                        }],
                    },
                }],
            }
        );
        // The item id is the OrderItemId of the order's getOrderItems.
        let items: Value = serde_json::from_slice(&read("getOrderItems.json")).unwrap();
        assert_eq!(items["payload"]["OrderItems"][0]["OrderItemId"], "43210987654321");
    }

    #[test]
    fn several_orders_are_numbered_messages_with_every_item_once() {
        let second = OrderCancellation {
            order_id: OrderId::parse("250-7654321-1234567").unwrap(),
            item_ids: vec![
                " 11111111111111 ".into(),
                "22222222222222".into(),
                "11111111111111".into(),
            ],
            reason: CancelReason::GeneralAdjustment,
        };
        let xml = order_acknowledgement_cancel_feed(&seller(), &[yamada(), second]).unwrap();
        let back = read_back(&xml);
        assert_eq!(back.message.iter().map(|m| m.message_id).collect::<Vec<_>>(), [1, 2]);
        let ack = &back.message[1].order_acknowledgement;
        assert_eq!(ack.amazon_order_id, "250-7654321-1234567");
        assert_eq!(ack.status_code, "Failure");
        assert_eq!(
            ack.item,
            [
                Item {
                    amazon_order_item_code: "11111111111111".into(),
                    cancel_reason: "GeneralAdjustment".into()
                },
                Item {
                    amazon_order_item_code: "22222222222222".into(),
                    cancel_reason: "GeneralAdjustment".into()
                },
            ]
        );
        // Whatever an id holds, the document stays well-formed.
        let odd = OrderCancellation {
            order_id: OrderId::parse("250<&>").unwrap(),
            item_ids: vec!["A&B<1>".into()],
            reason: CancelReason::NoInventory,
        };
        let xml = order_acknowledgement_cancel_feed(&seller(), &[odd]).unwrap();
        assert!(xml.contains("<AmazonOrderID>250&lt;&amp;&gt;</AmazonOrderID>"), "{xml}");
        assert_eq!(
            read_back(&xml).message[0].order_acknowledgement.item[0].amazon_order_item_code,
            "A&B<1>"
        );
        let reasons = [
            CancelReason::NoInventory,
            CancelReason::ShippingAddressUndeliverable,
            CancelReason::CustomerExchange,
            CancelReason::BuyerCanceled,
            CancelReason::GeneralAdjustment,
            CancelReason::CarrierCreditDecision,
            CancelReason::RiskAssessmentInformationNotValid,
            CancelReason::CarrierCoverageFailure,
            CancelReason::CustomerReturn,
            CancelReason::MerchandiseNotReceived,
        ];
        assert_eq!(
            reasons.map(CancelReason::as_str).join(","),
            "NoInventory,ShippingAddressUndeliverable,CustomerExchange,BuyerCanceled,GeneralAdjustment,\
             CarrierCreditDecision,RiskAssessmentInformationNotValid,CarrierCoverageFailure,CustomerReturn,\
             MerchandiseNotReceived"
        );
    }

    #[test]
    fn a_cancel_document_without_orders_or_items_is_refused() {
        assert_eq!(
            order_acknowledgement_cancel_feed(&seller(), &[]),
            Err(FeedError::NoOrders)
        );
        let no_items = OrderCancellation {
            item_ids: vec![],
            ..yamada()
        };
        assert_eq!(
            order_acknowledgement_cancel_feed(&seller(), &[no_items]),
            Err(FeedError::NoItems("250-1234567-7654321".into()))
        );
        for bad in ["", "  ", "4321 0987", "４３２１", &"1".repeat(65)] {
            let order = OrderCancellation {
                item_ids: vec![bad.to_owned()],
                ..yamada()
            };
            assert!(
                matches!(
                    order_acknowledgement_cancel_feed(&seller(), &[order]),
                    Err(FeedError::BadItem { order, .. }) if order == "250-1234567-7654321"
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            order_acknowledgement_cancel_feed(&seller(), &[yamada(), yamada()]),
            Err(FeedError::DuplicateOrder("250-1234567-7654321".into()))
        );
    }

    #[test]
    fn the_document_upload_and_the_feed_id_are_read() {
        let upload = parse_create_feed_document(&read("feed-createFeedDocument.json")).unwrap();
        assert_eq!(
            upload.feed_document_id,
            "amzn1.tortuga.4.fe.8a3c5e71-2b4d-4f9a-9c6e-0d1f2a3b4c5d.T3EXAMPLE"
        );
        assert!(
            upload
                .url
                .starts_with("https://tortuga-prod-fe.s3-us-west-2.amazonaws.com/")
        );
        assert_eq!(parse_create_feed(&read("feed-createFeed.json")).unwrap(), "50012019999");

        let plain = br#"{"feedDocumentId": "d1", "url": "http://example.com/upload"}"#;
        assert_eq!(
            invalid(parse_create_feed_document(plain)),
            "createFeedDocument.url: is not an https:// url"
        );
        let quota = read("error-quota-exceeded.json");
        assert_eq!(Failure::classify(429, &quota), Some(Failure::Throttled));
        assert_eq!(
            invalid(parse_create_feed(&quota)),
            "createFeed.feedId: missing; the response carries errors: \
             QuotaExceeded (You exceeded your quota for the requested resource.)"
        );
        assert_eq!(
            invalid(parse_create_feed_document(&quota)),
            "createFeedDocument.feedDocumentId: missing; the response carries errors: \
             QuotaExceeded (You exceeded your quota for the requested resource.)"
        );
        assert!(
            invalid(parse_create_feed(br#"{"feedId": 50012019999}"#)).starts_with("createFeed.feedId: invalid type")
        );
        assert_eq!(
            invalid(parse_create_feed(br#"{"feedId": "500 12"}"#)),
            "createFeed.feedId: has the character ' '"
        );
    }

    #[test]
    fn a_feed_is_pending_then_done_or_refused() {
        let pending = parse_feed(&read("feed-getFeed-in-progress.json")).unwrap();
        assert_eq!(
            pending,
            Feed {
                feed_id: "50012019999".into(),
                feed_type: "POST_ORDER_ACKNOWLEDGEMENT_DATA".into(),
                processing_status: ProcessingStatus::InProgress,
                result_feed_document_id: None,
            }
        );
        assert_eq!(pending.outcome(), Some(FeedOutcome::Pending));
        let queued = parse_feed(
            br#"{"feedId": "1", "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
            "createdTime": "2026-11-23T04:05:12Z", "processingStatus": "IN_QUEUE"}"#,
        )
        .unwrap();
        assert_eq!(queued.processing_status, ProcessingStatus::InQueue);
        assert_eq!(queued.outcome(), Some(FeedOutcome::Pending));

        let done = parse_feed(&read("feed-getFeed-done.json")).unwrap();
        assert_eq!(done.processing_status, ProcessingStatus::Done);
        assert_eq!(
            done.result_feed_document_id.as_deref(),
            Some("amzn1.tortuga.4.fe.b7e9d1c3-5a2f-4e8b-8d0c-6f4a2e1b9c7d.T1EXAMPLE")
        );
        assert_eq!(done.outcome(), None, "the report decides");

        let fatal = parse_feed(&read("feed-getFeed-fatal.json")).unwrap();
        assert_eq!(fatal.processing_status.to_string(), "FATAL");
        assert_eq!(
            fatal.outcome(),
            Some(FeedOutcome::Refused(FeedRefusal::Fatal {
                result_feed_document_id: None
            }))
        );
        let cancelled = parse_feed(br#"{"feedId": "1", "feedType": "x", "processingStatus": "CANCELLED"}"#).unwrap();
        assert_eq!(cancelled.outcome(), Some(FeedOutcome::Refused(FeedRefusal::Cancelled)));
        let odd = parse_feed(br#"{"feedId": "1", "feedType": "x", "processingStatus": "PAUSED"}"#).unwrap();
        assert_eq!(odd.processing_status, ProcessingStatus::Other("PAUSED".into()));
        assert!(matches!(
            odd.outcome(),
            Some(FeedOutcome::Refused(FeedRefusal::Unexpected(_)))
        ));
        let done_without_report =
            parse_feed(br#"{"feedId": "1", "feedType": "x", "processingStatus": "DONE"}"#).unwrap();
        assert!(matches!(
            done_without_report.outcome(),
            Some(FeedOutcome::Refused(FeedRefusal::Unexpected(m))) if m.contains("resultFeedDocumentId")
        ));
        assert_eq!(
            invalid(parse_feed(br#"{"feedId": "1", "feedType": "x"}"#)),
            "getFeed.processingStatus: missing"
        );
    }

    #[test]
    fn the_report_document_says_how_to_download_it() {
        let document = parse_feed_document(&read("feed-getFeedDocument.json")).unwrap();
        assert_eq!(
            document.feed_document_id,
            "amzn1.tortuga.4.fe.b7e9d1c3-5a2f-4e8b-8d0c-6f4a2e1b9c7d.T1EXAMPLE"
        );
        assert!(document.url.starts_with("https://"));
        assert_eq!(document.compression, Some(Compression::Gzip));
        // The model's sandbox answer: no compressionAlgorithm.
        let plain = parse_feed_document(
            br#"{"feedDocumentId": "0356cf79-b8b0-4226-b4b9-0ee058ea5760",
                 "url": "https://d34o8swod1owfl.cloudfront.net/Feed_101__POST_PRODUCT_DATA_.xml"}"#,
        )
        .unwrap();
        assert_eq!(plain.compression, None);
        let zstd =
            parse_feed_document(br#"{"feedDocumentId": "d", "url": "https://x", "compressionAlgorithm": "ZSTD"}"#)
                .unwrap();
        assert_eq!(zstd.compression, Some(Compression::Other("ZSTD".into())));
    }

    #[test]
    fn a_successful_report_accepts_the_cancellation() {
        let report = parse_processing_report(&read("feed-report.xml")).unwrap();
        assert_eq!(
            report,
            ProcessingReport {
                document_transaction_id: Some("50012019999".into()),
                status_code: Some("Complete".into()),
                messages_processed: 1,
                messages_successful: 1,
                messages_with_error: 0,
                messages_with_warning: 0,
                results: vec![],
            }
        );
        assert_eq!(report.outcome(), FeedOutcome::Accepted);
        assert_eq!(report.outcome_of(1), FeedOutcome::Accepted);
    }

    #[test]
    fn a_report_with_an_error_result_refuses_it_with_the_code_and_description() {
        let report = parse_processing_report(&read("feed-report-error.xml")).unwrap();
        assert_eq!(
            (
                report.messages_processed,
                report.messages_successful,
                report.messages_with_error
            ),
            (1, 0, 1)
        );
        let expected = ReportResult {
            message_id: Some(1),
            code: ResultCode::Error,
            message_code: Some("99001".into()),
            description: "The order (250-1234567-7654321) cannot be cancelled because it has already been shipped."
                .into(),
            amazon_order_id: Some("250-1234567-7654321".into()),
        };
        assert_eq!(report.results, std::slice::from_ref(&expected));
        let refused = FeedOutcome::Refused(FeedRefusal::Errors(vec![expected]));
        assert_eq!(report.outcome(), refused);
        assert_eq!(report.outcome_of(1), refused);
        let FeedOutcome::Refused(refusal) = refused else {
            unreachable!()
        };
        assert_eq!(
            refusal.to_string(),
            "Error 99001: The order (250-1234567-7654321) cannot be cancelled because it has already been shipped."
        );
    }

    #[test]
    fn a_document_error_refuses_every_message() {
        // As in the fixture of search-index file 35626052891: parsing errors name MessageID 0.
        let report = report((1, 0, 1), &error_result(0, "5000"));
        assert!(matches!(
            report.outcome_of(1),
            FeedOutcome::Refused(FeedRefusal::Errors(e)) if e[0].message_code.as_deref() == Some("5000")
        ));
        assert!(matches!(report.outcome(), FeedOutcome::Refused(FeedRefusal::Errors(_))));
    }

    #[test]
    fn in_a_batch_each_message_has_its_own_outcome() {
        let batch = report((2, 1, 1), &error_result(2, "99001"));
        assert_eq!(batch.outcome_of(1), FeedOutcome::Accepted);
        assert!(matches!(
            batch.outcome_of(2),
            FeedOutcome::Refused(FeedRefusal::Errors(e)) if e.len() == 1 && e[0].description == "why 2"
        ));
        assert!(matches!(batch.outcome(), FeedOutcome::Refused(FeedRefusal::Errors(_))));
        // An error the report counts but names no message for could be anyone's.
        let unnamed = report((2, 1, 1), "");
        assert_eq!(
            unnamed.outcome_of(1),
            FeedOutcome::Refused(FeedRefusal::NotProcessed {
                processed: 2,
                successful: 1,
                with_error: 1
            })
        );
        // Nothing processed is no success.
        let nothing = report((0, 0, 0), "");
        assert!(matches!(
            nothing.outcome(),
            FeedOutcome::Refused(FeedRefusal::NotProcessed { .. })
        ));
        assert!(matches!(
            nothing.outcome_of(1),
            FeedOutcome::Refused(FeedRefusal::NotProcessed { .. })
        ));
        // A warning does not refuse.
        let warned = report(
            (1, 1, 0),
            "<Result><MessageID>1</MessageID><ResultCode>Warning</ResultCode>\
             <ResultMessageCode>8560</ResultMessageCode><ResultDescription>note</ResultDescription></Result>",
        );
        assert_eq!(warned.results[0].code, ResultCode::Warning);
        assert_eq!(warned.outcome_of(1), FeedOutcome::Accepted);
        assert_eq!(warned.outcome(), FeedOutcome::Accepted);
    }

    #[test]
    fn a_malformed_report_is_a_clear_error() {
        assert_eq!(invalid(parse_processing_report(b"")), "the report is empty");
        assert!(invalid(parse_processing_report(&[b'<', 0xff, b'>'])).starts_with("the report is not UTF-8"));
        assert!(invalid(parse_processing_report(&[0x1f, 0x8b, 8, 0])).contains("gunzip it first"));
        assert!(invalid(parse_processing_report(b"<AmazonEnvelope><Message>")).contains("ends inside an element"));
        assert!(invalid(parse_processing_report(b"<a></b>")).starts_with("the report is not well-formed XML"));
        let entity = br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]><AmazonEnvelope>&x;</AmazonEnvelope>"#;
        assert!(invalid(parse_processing_report(entity)).contains("DOCTYPE"));
        assert!(invalid(parse_processing_report(b"<AmazonEnvelope>&nbsp;</AmazonEnvelope>")).contains("&nbsp;"));
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert_eq!(
            parse_processing_report(deep.as_bytes()).unwrap_err(),
            ParseError::TooDeep(MAX_DEPTH)
        );
        assert_eq!(
            invalid(parse_processing_report(b"<Error><Code>AccessDenied</Code></Error>")),
            "the root element is Error, not AmazonEnvelope"
        );
        let not_report = text("feed-cancel.xml");
        assert_eq!(
            invalid(parse_processing_report(not_report.as_bytes())),
            "MessageType: \"OrderAcknowledgement\" is not ProcessingReport"
        );
        let ok = text("feed-report-error.xml");
        let bad_number = ok.replace("<MessagesProcessed>1<", "<MessagesProcessed>one<");
        assert_eq!(
            invalid(parse_processing_report(bad_number.as_bytes())),
            "Message[0].ProcessingReport.ProcessingSummary.MessagesProcessed: \"one\" is not a whole number"
        );
        let no_code = ok.replace("<ResultCode>Error</ResultCode>", "");
        assert_eq!(
            invalid(parse_processing_report(no_code.as_bytes())),
            "Message[0].ProcessingReport.Result[0].ResultCode: missing"
        );
        let bad_id = ok.replace(
            "<MessageID>1</MessageID>\n        <ResultCode>",
            "<MessageID>x</MessageID><ResultCode>",
        );
        assert_eq!(
            invalid(parse_processing_report(bad_id.as_bytes())),
            "Message[0].ProcessingReport.Result[0].MessageID: \"x\" is not a whole number"
        );
        let no_summary = ok.split("<ProcessingSummary>").next().unwrap().to_owned()
            + "</ProcessingReport></Message></AmazonEnvelope>";
        assert_eq!(
            invalid(parse_processing_report(no_summary.as_bytes())),
            "Message[0].ProcessingReport.ProcessingSummary: missing"
        );
        assert_eq!(
            invalid(parse_processing_report(
                b"<AmazonEnvelope><MessageType>ProcessingReport</MessageType></AmazonEnvelope>"
            )),
            "Message.ProcessingReport: missing"
        );
        // A long description is cut; a byte order mark is skipped.
        let long = format!("\u{feff}{}", ok.replace("cannot be cancelled", &"x".repeat(5000)));
        let report = parse_processing_report(long.as_bytes()).unwrap();
        assert_eq!(report.results[0].description.chars().count(), DESCRIPTION_ECHO);
    }

    #[test]
    fn malformed_feed_answers_are_parse_errors_never_panics() {
        let deep = format!("{{\"feedId\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        type Parser = fn(&[u8]) -> Result<(), ParseError>;
        let parsers: [(&str, Parser); 4] = [
            ("createFeedDocument", |b| parse_create_feed_document(b).map(drop)),
            ("createFeed", |b| parse_create_feed(b).map(drop)),
            ("getFeed", |b| parse_feed(b).map(drop)),
            ("getFeedDocument", |b| parse_feed_document(b).map(drop)),
        ];
        for (name, parse) in parsers {
            assert_eq!(parse(deep.as_bytes()), Err(ParseError::TooDeep(MAX_DEPTH)), "{name}");
            assert!(
                matches!(parse(b""), Err(ParseError::NotJson(m)) if m.starts_with(name)),
                "{name}"
            );
            assert_eq!(parse(b"[1]"), Err(ParseError::NotObject("an array")), "{name}");
            assert!(
                matches!(parse(b"{}"), Err(ParseError::Invalid(m)) if m.starts_with(name)),
                "{name}"
            );
        }
        assert_eq!(Failure::classify(400, deep.as_bytes()), Some(Failure::Invalid));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Messaging API v1: a message to the buyer (Buyer-Seller Messaging)
// ---------------------------------------------------------------------------------------------------------

/// Messaging API v1: `getMessagingActionsForOrder` is `GET {MESSAGING_ORDERS_PATH}/{amazonOrderId}`,
/// `GetAttributes` `…/attributes`, and each message type `POST …/messages/{type}` (M-MSG `paths`).
pub const MESSAGING_ORDERS_PATH: &str = "/messaging/v1/orders";
/// The name `getMessagingActionsForOrder` gives the link to `GetAttributes` among the actions (M-MSG's
/// sandbox answer): no message type.
pub const ATTRIBUTES_ACTION: &str = "attributes";
/// What the buyer is told in place of the notice's answer links, in Japanese.
pub const REPLY_HINT_JA: &str = "ご回答は、Amazonのメッセージセンターから、このメッセージにご返信ください。";
/// The same in English.
pub const REPLY_HINT_EN: &str = "To answer, please reply to this message in the message centre of your Amazon account.";
/// The last line of a text cut to fit, in Japanese.
const SHORTENED_JA: &str = "（以下省略）";
/// The same in English.
const SHORTENED_EN: &str = "(shortened)";
/// How many characters of an action name or a locale are read; real ones are far shorter.
const MAX_MESSAGING_NAME: usize = 100;

/// A message type of the Messaging API that mallguard sends (see the module's "Messaging a buyer").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `confirmOrderDetails` (operation `createConfirmOrderDetails`): "Sends a message to ask a buyer an
    /// order-related question prior to shipping their order." The confirm-or-cancel question.
    ConfirmOrderDetails,
    /// `unexpectedProblem` (operation `createUnexpectedProblem`): "Sends a critical message to a buyer that an
    /// unexpected problem was encountered affecting the completion of the order." The held order was
    /// cancelled because nobody answered.
    UnexpectedProblem,
}

/// Why a buyer mail has no message type: what Amazon's messaging does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMessageType {
    /// The receipt of the buyer's answer: the buyer answered by a message, and the Messaging API does not
    /// answer messages.
    Receipt,
    /// A kind that is no buyer mail of a hold (a staff mail), or none at all.
    NotABuyerNotice(String),
}

impl fmt::Display for NoMessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoMessageType::Receipt => f.write_str(
                "Amazon's Messaging API has no message type for the receipt of a buyer's answer (the buyer answered \
                 in Amazon's message centre, and the API \"cannot respond to messages from buyers\"): answer the \
                 buyer there, in Seller Central",
            ),
            NoMessageType::NotABuyerNotice(kind) => {
                let kind: String = kind.chars().take(40).collect();
                write!(f, "the mail's kind {kind:?} is no buyer notice of a hold")
            }
        }
    }
}

impl MessageType {
    /// The name of the action in `getMessagingActionsForOrder` and the last segment of the message's path.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::ConfirmOrderDetails => "confirmOrderDetails",
            MessageType::UnexpectedProblem => "unexpectedProblem",
        }
    }

    /// The operation's id in M-MSG, for logs and errors.
    pub fn operation(self) -> &'static str {
        match self {
            MessageType::ConfirmOrderDetails => "createConfirmOrderDetails",
            MessageType::UnexpectedProblem => "createUnexpectedProblem",
        }
    }

    /// The `maxLength` of the request's `text`: 2000 for both (M-MSG `CreateConfirmOrderDetailsRequest`,
    /// `CreateUnexpectedProblemRequest`).
    pub fn max_text(self) -> usize {
        2000
    }

    /// The type of a buyer mail of the `kind` tag ([`NoticeKind::as_str`]): the notice and its reminder ask
    /// the confirm-or-cancel question ([`MessageType::ConfirmOrderDetails`]); the cancellation tells of a
    /// problem that ends the order ([`MessageType::UnexpectedProblem`]); the receipt has none.
    ///
    /// [`NoticeKind::as_str`]: mallguard_domain::notice::NoticeKind::as_str
    pub fn for_notice(kind: &str) -> Result<MessageType, NoMessageType> {
        use mallguard_domain::notice::NoticeKind;
        let kind = kind.trim();
        if kind == NoticeKind::Notice.as_str() || kind == NoticeKind::Reminder.as_str() {
            Ok(MessageType::ConfirmOrderDetails)
        } else if kind == NoticeKind::Cancellation.as_str() {
            Ok(MessageType::UnexpectedProblem)
        } else if kind == NoticeKind::Receipt.as_str() {
            Err(NoMessageType::Receipt)
        } else {
            Err(NoMessageType::NotABuyerNotice(kind.to_owned()))
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `{MESSAGING_ORDERS_PATH}/{amazonOrderId}`, the id percent-encoded.
fn messaging_order_path(order_id: &OrderId) -> String {
    let mut path = format!("{MESSAGING_ORDERS_PATH}/");
    percent_encode(&mut path, order_id.as_str(), false);
    path
}

/// The one marketplace of every Messaging call: `marketplaceIds` is "required", `maxItems` 1.
fn marketplace_query() -> Vec<(&'static str, String)> {
    vec![("marketplaceIds", JP_MARKETPLACE_ID.to_owned())]
}

/// `getMessagingActionsForOrder`: `GET /messaging/v1/orders/{amazonOrderId}?marketplaceIds=A1VC38T7YXB528`
/// (1 request a second, burst 5), with the LWA token. Read the answer with [`parse_messaging_actions`].
pub fn get_messaging_actions_for_order(order_id: &OrderId) -> ApiRequest {
    ApiRequest {
        method: "GET",
        path: messaging_order_path(order_id),
        query: marketplace_query(),
    }
}

/// `GetAttributes`: `GET /messaging/v1/orders/{amazonOrderId}/attributes?marketplaceIds=A1VC38T7YXB528`
/// (1 request a second, burst 5): "attributes related to an order. This includes buyer preferences." Read
/// the answer with [`parse_attributes`].
pub fn get_attributes(order_id: &OrderId) -> ApiRequest {
    ApiRequest {
        method: "GET",
        path: format!("{}/attributes", messaging_order_path(order_id)),
        query: marketplace_query(),
    }
}

/// The message of `message_type`: `POST /messaging/v1/orders/{amazonOrderId}/messages/{type}?marketplaceIds=
/// A1VC38T7YXB528` (1 request a second, burst 5), JSON body [`message_request`], answered `201` ("The message
/// was created for the order"), read with [`parse_message_sent`]. The path is built here from M-MSG's, never
/// taken from an answer's `href`.
pub fn create_message(order_id: &OrderId, message_type: MessageType) -> ApiRequest {
    ApiRequest {
        method: "POST",
        path: format!("{}/messages/{}", messaging_order_path(order_id), message_type.name()),
        query: marketplace_query(),
    }
}

/// The JSON body of [`create_message`]: `{"text": …}` (M-MSG `CreateConfirmOrderDetailsRequest` and
/// `CreateUnexpectedProblemRequest` have `text` only). Give it a text made by [`message_text`].
pub fn message_request(text: &str) -> serde_json::Value {
    serde_json::json!({ "text": text })
}

/// The actions `getMessagingActionsForOrder` allows for an order now, by name, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessagingActions {
    /// Every name read (message types, and [`ATTRIBUTES_ACTION`]), each once.
    pub names: Vec<String>,
}

impl MessagingActions {
    /// Whether `message_type` may be sent for the order now.
    pub fn allows(&self, message_type: MessageType) -> bool {
        self.names.iter().any(|name| name == message_type.name())
    }

    /// The message types allowed, without [`ATTRIBUTES_ACTION`]: for the staff, when ours is not.
    pub fn message_types(&self) -> Vec<&str> {
        self.names
            .iter()
            .map(String::as_str)
            .filter(|name| *name != ATTRIBUTES_ACTION)
            .collect()
    }
}

/// M-MSG `LinkObject`: `href` is required, `name` is not. An `href` is read as any JSON (a client issue,
/// jlevers/selling-partner-api#544, shows a `self.href` that is an array).
#[derive(Debug, Deserialize)]
struct WireLink {
    #[serde(default)]
    href: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<serde_json::Value>,
}

impl WireLink {
    /// The action's name: `name`, else the last segment of the `href`'s path
    /// (`/messaging/v1/orders/…/messages/confirmOrderDetails?marketplaceIds=…` is `confirmOrderDetails`).
    fn action_name(&self) -> Option<String> {
        let text = |value: &Option<serde_json::Value>| -> Option<String> {
            match value {
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Array(items)) => items.iter().find_map(|i| i.as_str().map(str::to_owned)),
                _ => None,
            }
        };
        let named = text(&self.name).filter(|name| !name.trim().is_empty());
        let name = named.or_else(|| {
            let href = text(&self.href)?;
            let path = href.split(['?', '#']).next().unwrap_or_default();
            path.trim_end_matches('/').rsplit('/').next().map(str::to_owned)
        })?;
        let name = name.trim();
        let valid = !name.is_empty()
            && name.chars().count() <= MAX_MESSAGING_NAME
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        valid.then(|| name.to_owned())
    }
}

/// M-MSG `GetMessagingActionsForOrderResponse`.
#[derive(Debug, Deserialize)]
struct WireMessagingActions {
    #[serde(rename = "_links", default)]
    links: Option<WireActionLinks>,
    #[serde(rename = "_embedded", default)]
    embedded: Option<WireEmbeddedActions>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

#[derive(Debug, Deserialize)]
struct WireActionLinks {
    #[serde(default, deserialize_with = "null_as_default")]
    actions: Vec<WireLink>,
}

#[derive(Debug, Deserialize)]
struct WireEmbeddedActions {
    #[serde(default, deserialize_with = "null_as_default")]
    actions: Vec<WireEmbeddedAction>,
}

/// M-MSG `GetMessagingActionResponse`: its `_links.self` names the action, and so may its `payload.name`.
#[derive(Debug, Deserialize)]
struct WireEmbeddedAction {
    #[serde(rename = "_links", default)]
    links: Option<WireEmbeddedActionLinks>,
    #[serde(default)]
    payload: Option<WireLink>,
}

#[derive(Debug, Deserialize)]
struct WireEmbeddedActionLinks {
    #[serde(rename = "self", default)]
    this: Option<WireLink>,
}

/// Reads `getMessagingActionsForOrder`'s answer: the name of each link under `_links.actions` (its `name`,
/// else the last segment of its `href`), and of each `_embedded.actions[]` (its `_links.self`, else
/// `payload.name`), each once. An answer with neither `_links` nor `_embedded` is refused, naming the
/// `errors` it carries instead; an empty list is an order that allows no message now.
pub fn parse_messaging_actions(body: &[u8]) -> Result<MessagingActions, ParseError> {
    const RESPONSE: &str = "getMessagingActionsForOrder";
    let wire = decode_response::<WireMessagingActions>(body, RESPONSE)?;
    if wire.links.is_none() && wire.embedded.is_none() {
        return Err(missing_links(RESPONSE, &wire.errors));
    }
    let linked = wire.links.iter().flat_map(|links| links.actions.iter());
    let embedded = wire
        .embedded
        .iter()
        .flat_map(|e| e.actions.iter())
        .filter_map(|action| {
            action
                .links
                .as_ref()
                .and_then(|links| links.this.as_ref())
                .or(action.payload.as_ref())
        });
    let mut names: Vec<String> = Vec::new();
    for name in linked.chain(embedded).filter_map(WireLink::action_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(MessagingActions { names })
}

fn missing_links(response: &str, errors: &[WireError]) -> ParseError {
    let field = format!("{response}._links");
    if errors.is_empty() {
        ParseError::field(&field, "missing")
    } else {
        ParseError::field(
            &field,
            format_args!("missing; the response carries errors: {}", describe(errors)),
        )
    }
}

/// What `GetAttributes` says of the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuyerAttributes {
    /// `buyer.locale`: "The buyer's language of preference, indicated with a locale-specific language tag.
    /// Examples: "en-US", "zh-CN", and "en-GB"." None when Amazon gives none.
    pub locale: Option<String>,
}

impl BuyerAttributes {
    /// The language of [`locale`](BuyerAttributes::locale) among mallguard's: None when there is no locale
    /// or it names another language ([`locale_language`]).
    pub fn language(&self) -> Option<Language> {
        self.locale.as_deref().and_then(locale_language)
    }
}

/// The language of a locale tag among mallguard's: `ja`, `ja-JP`, `ja_JP` are Japanese, `en-…` English;
/// any other (`zh-CN`) is None.
pub fn locale_language(locale: &str) -> Option<Language> {
    let language = locale.trim().split(['-', '_']).next().unwrap_or_default();
    if language.eq_ignore_ascii_case("ja") {
        Some(Language::Ja)
    } else if language.eq_ignore_ascii_case("en") {
        Some(Language::En)
    } else {
        None
    }
}

/// M-MSG `GetAttributesResponse`.
#[derive(Debug, Deserialize)]
struct WireAttributes {
    #[serde(default)]
    buyer: Option<WireBuyerAttributes>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireError>,
}

#[derive(Debug, Deserialize)]
struct WireBuyerAttributes {
    #[serde(default)]
    locale: Option<String>,
}

/// Reads `GetAttributes`' answer: `buyer.locale`, a language tag (letters, digits, `-` and `_`, at most 100
/// characters). No `buyer` is no locale, unless the answer carries `errors` instead: then it is refused,
/// naming them.
pub fn parse_attributes(body: &[u8]) -> Result<BuyerAttributes, ParseError> {
    const RESPONSE: &str = "GetAttributes";
    let wire = decode_response::<WireAttributes>(body, RESPONSE)?;
    let Some(buyer) = wire.buyer else {
        if wire.errors.is_empty() {
            return Ok(BuyerAttributes::default());
        }
        return Err(ParseError::field(
            &format!("{RESPONSE}.buyer"),
            format_args!("missing; the response carries errors: {}", describe(&wire.errors)),
        ));
    };
    let Some(locale) = non_empty(buyer.locale.as_deref()) else {
        return Ok(BuyerAttributes::default());
    };
    let valid = locale.chars().count() <= MAX_MESSAGING_NAME
        && locale
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        let shown: String = locale.chars().take(ECHO).collect();
        return Err(ParseError::field(
            &format!("{RESPONSE}.buyer.locale"),
            format_args!("{shown:?} is no language tag"),
        ));
    }
    Ok(BuyerAttributes {
        locale: Some(locale.to_owned()),
    })
}

/// Reads the answer of [`create_message`] (a `201`): an empty body, `{}` (M-MSG's sandbox answer) or
/// `{"errors": []}` is a message created. `errors` in it are refused, named (the `201` still says the
/// message was created: the caller decides what that means); a body that is not a JSON object is refused
/// as such.
pub fn parse_message_sent(body: &[u8], message_type: MessageType) -> Result<(), ParseError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default, deserialize_with = "null_as_default")]
        errors: Vec<WireError>,
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let response = message_type.operation();
    let wire = decode_response::<Wire>(body, response)?;
    if wire.errors.is_empty() {
        Ok(())
    } else {
        Err(ParseError::field(
            response,
            format_args!("the answer carries errors: {}", describe(&wire.errors)),
        ))
    }
}

/// Whether a refusal of [`create_message`] is Amazon refusing the message type for the order (not the
/// app's token): a `403` whose error message is "Invalid amazonOrderId and template combination.". Observed
/// for a type the order did not allow (amzn/selling-partner-api-models#2032, amzn/selling-partner-api-docs#193,
/// jlevers/selling-partner-api#380), not specified; a new token does not change it.
pub fn refuses_message_type(status: u16, body: &[u8]) -> bool {
    status == 403
        && api_errors(body)
            .iter()
            .any(|e| e.message.to_ascii_lowercase().contains("template combination"))
}

/// A buyer mail made into the `text` of a message (see [`message_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText {
    /// What to send as `text`.
    pub text: String,
    /// How many lines with a link were dropped.
    pub links_removed: usize,
    /// How many lines with an email address were dropped.
    pub addresses_removed: usize,
    /// Whether the text lost its last lines to fit.
    pub shortened: bool,
}

/// The language a mail is written in, by its script: Japanese when kana, kanji and full-width signs are at
/// least as many as Latin letters (or there are neither: the default), English otherwise. An English
/// mail of a Japanese shop quotes Japanese names, addresses and item titles, but its sentences outweigh them;
/// a Japanese mail's few Latin letters (`Amazon.co.jp`, a link) never do.
pub fn text_language(text: &str) -> Language {
    let japanese = |c: char| {
        matches!(c,
            '\u{3000}'..='\u{30ff}' // CJK signs, hiragana, katakana
            | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' // kanji
            | '\u{ff01}'..='\u{ff9f}') // full-width signs and letters, half-width katakana
    };
    let (japanese, latin) = text.chars().fold((0usize, 0usize), |(j, l), c| {
        (j + usize::from(japanese(c)), l + usize::from(c.is_ascii_alphabetic()))
    });
    if japanese >= latin { Language::Ja } else { Language::En }
}

/// The length of `text` as `maxLength` is counted here: UTF-16 code units, never fewer than characters.
pub fn text_units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Whether `line` holds a link: `http://` or `https://`, in any case.
fn has_link(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("http://") || lower.contains("https://")
}

/// Whether `line` holds an email address: an `@` (or a full-width `＠`) with a character of a local part
/// before it and a domain with a dot after it.
fn has_address(line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    chars.iter().enumerate().any(|(i, c)| {
        if !matches!(c, '@' | '＠') || i == 0 {
            return false;
        }
        let before = chars[i - 1];
        let local = before.is_alphanumeric() || matches!(before, '.' | '_' | '%' | '+' | '-');
        let domain: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
            .collect();
        let domain = domain.trim_end_matches('.');
        local && domain.contains('.') && !domain.starts_with('.')
    })
}

/// A buyer mail as the `text` of a message, at most `max_units` long ([`text_units`]; 2000 is
/// [`MessageType::max_text`]):
///
/// - plain text only: `subject` is the first line, a blank line, then `text` (the mail's text part; its HTML
///   part is never sent). Line breaks are `\n`; other control characters go, trailing blanks too, and runs of
///   blank lines become one;
/// - every line with a link (`http://`, `https://`) goes: Amazon allows "Only links related to order
///   completion". Where the last of them was, a line tells the buyer to reply to this message in Amazon's
///   message centre ([`REPLY_HINT_JA`] or [`REPLY_HINT_EN`], by `language`), so a notice's "choose one of these"
///   is answered by a reply;
/// - every line with an email address goes ("Do not include HTML or email addresses"): a signature's
///   `メール: …` line;
/// - longer than `max_units`: the last lines go (the signature, then the order details) and a last line says
///   so (`（以下省略）`); the reply line is kept, moved after it when it was among them. A first line that
///   alone is too long is cut.
pub fn message_text(subject: &str, text: &str, language: Language, max_units: usize) -> MessageText {
    let clean = |line: &str| -> String {
        line.chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect::<String>()
            .trim_end()
            .to_owned()
    };
    let (hint, shortened_mark) = match language {
        Language::Ja => (REPLY_HINT_JA, SHORTENED_JA),
        Language::En => (REPLY_HINT_EN, SHORTENED_EN),
    };
    let mut body: Vec<String> = Vec::new();
    let (mut links_removed, mut addresses_removed) = (0, 0);
    let mut hint_at = None;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        let line = clean(line);
        if has_link(&line) {
            links_removed += 1;
            hint_at = Some(body.len());
        } else if has_address(&line) {
            addresses_removed += 1;
        } else {
            body.push(line);
        }
    }
    if let Some(at) = hint_at {
        body.splice(at..at, [String::new(), hint.to_owned(), String::new()]);
    }
    let mut lines = vec![clean(&subject.replace(['\r', '\n'], " ")), String::new()];
    lines.extend(body);
    // One blank line at most between two lines, none at the ends.
    let mut tidy: Vec<String> = Vec::with_capacity(lines.len());
    for line in lines {
        let blank = line.trim().is_empty();
        if blank && tidy.last().is_none_or(|last: &String| last.is_empty()) {
            continue;
        }
        tidy.push(if blank { String::new() } else { line });
    }
    while tidy.last().is_some_and(String::is_empty) {
        tidy.pop();
    }
    let whole = tidy.join("\n");
    if text_units(&whole) <= max_units {
        return MessageText {
            text: whole,
            links_removed,
            addresses_removed,
            shortened: false,
        };
    }
    let hint_line = tidy.iter().position(|line| line == hint);
    let mut kept = 0;
    let fits = |kept: usize| {
        let mut candidate = tidy[..kept].to_vec();
        while candidate.last().is_some_and(String::is_empty) {
            candidate.pop();
        }
        candidate.push(shortened_mark.to_owned());
        if hint_line.is_some_and(|at| at >= kept) {
            candidate.push(String::new());
            candidate.push(hint.to_owned());
        }
        let text = candidate.join("\n");
        (text_units(&text) <= max_units).then_some(text)
    };
    let mut best = None;
    while kept < tidy.len() {
        match fits(kept + 1) {
            Some(text) => {
                best = Some(text);
                kept += 1;
            }
            None => break,
        }
    }
    let text = best.unwrap_or_else(|| {
        // Not even the first line fits with the mark: the first line, cut.
        let mut out = String::new();
        for c in tidy.first().map(String::as_str).unwrap_or_default().chars() {
            if text_units(&out) + c.len_utf16() > max_units {
                break;
            }
            out.push(c);
        }
        out
    });
    MessageText {
        text,
        links_removed,
        addresses_removed,
        shortened: true,
    }
}

#[cfg(test)]
mod messaging_tests {
    use super::*;
    use crate::MAX_DEPTH;

    fn read(path: &str) -> Vec<u8> {
        let full = format!("{}/../../events/amazon/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("events/amazon/{path}: {e}"))
    }

    fn order_id() -> OrderId {
        OrderId::parse("250-1234567-7654321").unwrap()
    }

    fn invalid<T: fmt::Debug>(result: Result<T, ParseError>) -> String {
        match result {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    /// A notice as `buyer_ja.txt` renders one: two answer links and the shop's address in the signature.
    const NOTICE_JA: &str = "山田 太郎 様\n\nこのたびは田中商店をご利用いただき、誠にありがとうございます。\n\n\
        同じ商品のご注文を続けて2件いただいております。\n\n【後のご注文・発送保留中】\n  注文番号　: 250-1234567-7654321\n\n\
        お手数ですが、2026年11月24日 12:20（日本時間）までに、次のどちらかをお選びください。\n\n\
        ■ 両方とも発送を希望する\nhttps://respond.example/c/eyJhbGciOi.confirm\n\n\
        ■ 後のご注文（250-1234567-7654321）をキャンセルする\nhttps://respond.example/c/eyJhbGciOi.cancel\n\n\
        期限までにご回答がない場合は、後のご注文をいったんキャンセルさせていただきます。\n\n\
        ご不明な点がございましたら、下記までお問い合わせください。\n――――\n田中商店\nメール: support@tanaka-shop.example\n\
        電話　: 03-1234-5678\n――――\n";
    const SUBJECT_JA: &str = "【田中商店】ご注文内容のご確認のお願い（注文番号 250-1234567-7654321）";

    #[test]
    fn every_messaging_sample_is_covered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/amazon");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("messaging-"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "messaging-createConfirmOrderDetails.json",
                "messaging-error-template.json",
                "messaging-getAttributes.json",
                "messaging-getMessagingActionsForOrder-shipped.json",
                "messaging-getMessagingActionsForOrder.json",
            ],
            "a new sample needs a test and a line in events/README.md"
        );
    }

    #[test]
    fn the_requests_are_the_models_paths_with_the_one_marketplace() {
        let id = order_id();
        let actions = get_messaging_actions_for_order(&id);
        assert_eq!(actions.method, "GET");
        assert_eq!(
            actions.path_and_query(),
            "/messaging/v1/orders/250-1234567-7654321?marketplaceIds=A1VC38T7YXB528"
        );
        assert_eq!(
            get_attributes(&id).url(FE_ENDPOINT),
            "https://sellingpartnerapi-fe.amazon.com/messaging/v1/orders/250-1234567-7654321/attributes?\
             marketplaceIds=A1VC38T7YXB528"
        );
        let send = create_message(&id, MessageType::ConfirmOrderDetails);
        assert_eq!(send.method, "POST");
        assert_eq!(
            send.path_and_query(),
            "/messaging/v1/orders/250-1234567-7654321/messages/confirmOrderDetails?marketplaceIds=A1VC38T7YXB528"
        );
        assert_eq!(
            create_message(&id, MessageType::UnexpectedProblem).path,
            "/messaging/v1/orders/250-1234567-7654321/messages/unexpectedProblem"
        );
        // An id from data is encoded: it can never add a query or go up a level.
        let odd = OrderId::parse("a..?c#d").unwrap();
        assert_eq!(get_attributes(&odd).path, "/messaging/v1/orders/a..%3Fc%23d/attributes");
        assert_eq!(
            message_request("こんにちは\n2行目"),
            serde_json::json!({ "text": "こんにちは\n2行目" })
        );
    }

    #[test]
    fn each_buyer_notice_has_its_message_type() {
        assert_eq!(MessageType::for_notice("notice"), Ok(MessageType::ConfirmOrderDetails));
        assert_eq!(
            MessageType::for_notice("reminder"),
            Ok(MessageType::ConfirmOrderDetails)
        );
        assert_eq!(
            MessageType::for_notice("cancellation"),
            Ok(MessageType::UnexpectedProblem)
        );
        assert_eq!(MessageType::for_notice("receipt"), Err(NoMessageType::Receipt));
        assert!(NoMessageType::Receipt.to_string().contains("Seller Central"));
        assert_eq!(
            MessageType::for_notice("staff_new_hold"),
            Err(NoMessageType::NotABuyerNotice("staff_new_hold".into()))
        );
        assert_eq!(
            MessageType::ConfirmOrderDetails.operation(),
            "createConfirmOrderDetails"
        );
        assert_eq!(MessageType::UnexpectedProblem.max_text(), 2000);
    }

    #[test]
    fn the_actions_sample_allows_the_question_and_the_shipped_one_does_not() {
        let actions = parse_messaging_actions(&read("messaging-getMessagingActionsForOrder.json")).unwrap();
        assert_eq!(
            actions.names,
            [
                "confirmDeliveryDetails",
                "legalDisclosure",
                "confirmOrderDetails",
                "unexpectedProblem",
                "attributes"
            ]
        );
        assert!(actions.allows(MessageType::ConfirmOrderDetails));
        assert!(actions.allows(MessageType::UnexpectedProblem));
        assert!(!actions.message_types().contains(&ATTRIBUTES_ACTION));
        let shipped = parse_messaging_actions(&read("messaging-getMessagingActionsForOrder-shipped.json")).unwrap();
        assert!(!shipped.allows(MessageType::ConfirmOrderDetails));
        assert!(shipped.allows(MessageType::UnexpectedProblem));
        assert_eq!(shipped.message_types(), ["legalDisclosure", "unexpectedProblem"]);
    }

    #[test]
    fn actions_are_named_by_name_by_href_or_by_the_embedded_links() {
        // No names: the href's last segment; an href that is an array (jlevers/selling-partner-api#544).
        let body = br#"{"_links": {"self": {"href": ["/messaging/v1/orders/1"]}, "actions": [
            {"href": "/messaging/v1/orders/1/messages/confirmOrderDetails?marketplaceIds=A1VC38T7YXB528"},
            {"href": ["/messaging/v1/orders/1/messages/warranty"]},
            {"href": "/messaging/v1/orders/1/messages/bad name"},
            {"name": ""}]}}"#;
        let actions = parse_messaging_actions(body).unwrap();
        assert_eq!(actions.names, ["confirmOrderDetails", "warranty"]);
        // Only `_embedded`: its self links and payloads.
        let body = br#"{"_embedded": {"actions": [
            {"_links": {"self": {"href": "/messaging/v1/orders/1/messages/unexpectedProblem?marketplaceIds=X"},
                        "schema": {"href": "/messaging/v1/orders/1/messages/unexpectedProblem/schema"}}},
            {"payload": {"name": "confirmOrderDetails"}}]}}"#;
        let actions = parse_messaging_actions(body).unwrap();
        assert_eq!(actions.names, ["unexpectedProblem", "confirmOrderDetails"]);
        // An order that allows nothing now.
        let none = parse_messaging_actions(br#"{"_links": {"actions": [], "self": {"href": "/x"}}}"#).unwrap();
        assert!(none.names.is_empty());
        assert!(!none.allows(MessageType::ConfirmOrderDetails));
        // Nothing at all: refused, naming Amazon's errors.
        assert_eq!(
            invalid(parse_messaging_actions(br#"{}"#)),
            "getMessagingActionsForOrder._links: missing"
        );
        assert_eq!(
            invalid(parse_messaging_actions(
                br#"{"errors": [{"code": "InvalidInput", "message": "Invalid Input", "details": ""}]}"#
            )),
            "getMessagingActionsForOrder._links: missing; the response carries errors: InvalidInput (Invalid Input)"
        );
        assert!(
            invalid(parse_messaging_actions(br#"{"_links": {"actions": "x"}}"#))
                .starts_with("getMessagingActionsForOrder._links.actions: ")
        );
    }

    #[test]
    fn the_buyers_locale_is_read_and_its_language_told() {
        let attributes = parse_attributes(&read("messaging-getAttributes.json")).unwrap();
        assert_eq!(attributes.locale.as_deref(), Some("ja-JP"));
        assert_eq!(attributes.language(), Some(Language::Ja));
        let of = |locale: &str| locale_language(locale);
        assert_eq!(of("en-US"), Some(Language::En));
        assert_eq!(of("en_GB"), Some(Language::En));
        assert_eq!(of("JA"), Some(Language::Ja));
        assert_eq!(of("zh-CN"), None);
        assert_eq!(of(""), None);
        // No buyer, or no locale: not known.
        assert_eq!(parse_attributes(b"{}").unwrap(), BuyerAttributes::default());
        assert_eq!(
            parse_attributes(br#"{"buyer": {"locale": " "}}"#).unwrap().language(),
            None
        );
        assert_eq!(
            invalid(parse_attributes(
                br#"{"errors": [{"code": "NotFound", "message": "The resource specified does not exist."}]}"#
            )),
            "GetAttributes.buyer: missing; the response carries errors: NotFound (The resource specified does not exist.)"
        );
        assert_eq!(
            invalid(parse_attributes(br#"{"buyer": {"locale": "ja JP<script>"}}"#)),
            "GetAttributes.buyer.locale: \"ja JP<script>\" is no language tag"
        );
    }

    #[test]
    fn a_message_sent_is_an_empty_answer_and_errors_are_named() {
        let sent = MessageType::ConfirmOrderDetails;
        assert_eq!(
            parse_message_sent(&read("messaging-createConfirmOrderDetails.json"), sent),
            Ok(())
        );
        assert_eq!(parse_message_sent(b"", sent), Ok(()));
        assert_eq!(parse_message_sent(br#"{"errors": []}"#, sent), Ok(()));
        assert_eq!(
            invalid(parse_message_sent(&read("messaging-error-template.json"), sent)),
            "createConfirmOrderDetails: the answer carries errors: Unauthorized (Invalid amazonOrderId and template \
             combination.)"
        );
        assert!(matches!(
            parse_message_sent(b"<html>", sent),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn a_type_the_order_does_not_allow_is_told_from_a_refused_token() {
        let template = read("messaging-error-template.json");
        assert!(refuses_message_type(403, &template));
        assert!(!refuses_message_type(400, &template));
        let denied = br#"{"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]}"#;
        assert!(!refuses_message_type(403, denied));
        assert_eq!(Failure::classify(403, &template), Some(Failure::Unauthorized));
    }

    #[test]
    fn a_notice_becomes_plain_text_without_links_or_addresses_and_asks_for_a_reply() {
        let made = message_text(SUBJECT_JA, NOTICE_JA, Language::Ja, 2000);
        assert_eq!(made.links_removed, 2);
        assert_eq!(made.addresses_removed, 1);
        assert!(!made.shortened);
        let text = &made.text;
        assert!(text.starts_with(&format!("{SUBJECT_JA}\n\n山田 太郎 様\n")), "{text}");
        assert!(!text.contains("http"), "{text}");
        assert!(!text.contains('@'), "{text}");
        assert_eq!(text.matches(REPLY_HINT_JA).count(), 1, "{text}");
        assert!(text.contains("このメッセージにご返信ください"));
        // The reply line stands where the links were: after both choices, before the deadline's consequence.
        let hint = text.find(REPLY_HINT_JA).unwrap();
        assert!(text.find("■ 後のご注文").unwrap() < hint, "{text}");
        assert!(hint < text.find("期限までにご回答がない場合").unwrap(), "{text}");
        assert!(
            text.contains("■ 両方とも発送を希望する\n\n■ 後のご注文（250-1234567-7654321）をキャンセルする\n\n"),
            "{text}"
        );
        // The phone stays; no blank runs, no trailing blanks.
        assert!(text.contains("電話　: 03-1234-5678"));
        assert!(!text.contains("\n\n\n"), "{text}");
        assert!(text.lines().all(|line| line == line.trim_end()), "{text}");
        assert!(!text.ends_with('\n'));
    }

    #[test]
    fn an_english_mail_gets_the_english_reply_line_and_a_mail_without_links_none() {
        let text = "Dear Taro Yamada,\r\n\r\n* Ship both orders\r\nHTTPS://respond.example/c/x\r\n\r\n\r\n\
                    Mail: support@tanaka-shop.example\r\n";
        assert_eq!(text_language(text), Language::En);
        let made = message_text("[Tanaka] Please confirm your order", text, text_language(text), 2000);
        assert_eq!(
            made.text,
            format!("[Tanaka] Please confirm your order\n\nDear Taro Yamada,\n\n* Ship both orders\n\n{REPLY_HINT_EN}")
        );
        // A cancellation has no links: nothing to reply to, no reply line.
        let cancelled = message_text("件名", "後のご注文をキャンセルいたしました。\n", Language::Ja, 2000);
        assert_eq!(cancelled.text, "件名\n\n後のご注文をキャンセルいたしました。");
        assert_eq!(cancelled.links_removed, 0);
        assert_eq!(text_language(NOTICE_JA), Language::Ja);
        assert_eq!(text_language("123 456"), Language::Ja);
        // An English mail quoting a Japanese name, address and item is English.
        let quoting = "Dear 山田 太郎,\nThank you for shopping at 田中商店. We received two orders for the same item.\n\
                       Ship to: 山田 太郎, 〒100-0001 東京都千代田区 千代田1-2-3 メゾン千代田101\n  - 有機煎茶 100g x 1\n";
        assert_eq!(text_language(quoting), Language::En);
        // Control characters go; a subject stays one line.
        let odd = message_text("a\nb", "x\u{7}y\tz", Language::En, 2000);
        assert_eq!(odd.text, "a b\n\nxy z");
    }

    #[test]
    fn a_long_text_loses_its_last_lines_but_keeps_the_reply_line() {
        let details: String = (0..300).map(|i| format!("  商品{i}: 有機煎茶 100g × 1\n")).collect();
        let long = format!("{NOTICE_JA}{details}");
        let made = message_text(SUBJECT_JA, &long, Language::Ja, 2000);
        assert!(made.shortened);
        assert!(text_units(&made.text) <= 2000, "{}", text_units(&made.text));
        assert!(made.text.contains(REPLY_HINT_JA));
        assert!(made.text.ends_with("（以下省略）"), "{}", made.text);
        // The reply line among the lines that go is moved after the mark.
        let links_last = format!("{SUBJECT_JA}\n{details}■ 両方\nhttps://respond.example/c/x\n");
        let made = message_text("件名", &links_last, Language::Ja, 300);
        assert!(text_units(&made.text) <= 300);
        assert!(
            made.text.ends_with(&format!("（以下省略）\n\n{REPLY_HINT_JA}")),
            "{}",
            made.text
        );
        // Counted in UTF-16 units: an emoji counts two.
        let emoji = message_text("😀😀😀", "", Language::Ja, 4);
        assert_eq!(emoji.text, "😀😀");
        assert!(emoji.shortened);
    }

    #[test]
    fn malformed_messaging_answers_are_parse_errors_never_panics() {
        let deep = format!("{{\"_links\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        type Parser = fn(&[u8]) -> Result<(), ParseError>;
        let parsers: [(&str, Parser); 3] = [
            ("getMessagingActionsForOrder", |b| parse_messaging_actions(b).map(drop)),
            ("GetAttributes", |b| parse_attributes(b).map(drop)),
            ("createConfirmOrderDetails", |b| {
                parse_message_sent(b, MessageType::ConfirmOrderDetails)
            }),
        ];
        for (name, parse) in parsers {
            assert_eq!(parse(deep.as_bytes()), Err(ParseError::TooDeep(MAX_DEPTH)), "{name}");
            assert_eq!(parse(b"[1]"), Err(ParseError::NotObject("an array")), "{name}");
            assert!(
                matches!(parse(b"{\"errors\": 5}"), Err(ParseError::Invalid(m)) if m.starts_with(name)),
                "{name}"
            );
        }
        assert!(matches!(parse_attributes(b""), Err(ParseError::NotJson(m)) if m.starts_with("GetAttributes")));
    }
}
