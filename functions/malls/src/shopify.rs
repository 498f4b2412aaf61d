//! Shopify (the shop's own store): real webhooks, `orders/create`, `orders/updated`, `orders/cancelled` and
//! friends, whose body is the REST Admin API's Order resource.
//!
//! Shopify signs the raw body with HMAC-SHA256 under the app's client secret and sends the base64 digest in
//! `X-Shopify-Hmac-Sha256`. The shop is named by `X-Shopify-Shop-Domain` and the delivery by
//! `X-Shopify-Webhook-Id` (the same on every retry, so the edge can use it for idempotency).
//!
//! # Acting at the mall: the Admin GraphQL API
//!
//! mallguard holds a suspected duplicate at Shopify, releases it, or cancels it, through the Admin GraphQL
//! API ([`GRAPHQL_API_VERSION`] 2026-10, [`graphql_url`], the token in [`ACCESS_TOKEN_HEADER`]). Pure, like
//! the rest: this builds the `{"query", "variables"}` bodies and reads the answers; the caller does the HTTP.
//!
//! - Hold: a hold is per fulfillment order, not per order. Read them ([`fulfillment_orders_query`] for
//!   [`order_gid`], [`parse_fulfillment_orders`]), ask [`OrderFulfillmentOrders::hold_plan`], then send
//!   [`fulfillment_order_hold_request`] for each fulfillment order it names and read [`parse_hold`]. The
//!   hold's `handle` comes from mallguard's hold id ([`hold_handle`]), so a retry is refused by Shopify as a
//!   duplicate handle, which reads as [`HoldOutcome::AlreadyHeld`].
//! - Release: [`OrderFulfillmentOrders::release_plan`] gives mallguard's own hold ids (never the merchant's
//!   or another app's), [`fulfillment_order_release_hold_request`] releases them, [`parse_release`] reads it.
//! - Cancel: [`order_cancel_request`] and [`parse_cancel`]; the cancellation runs as a job.
//! - Every answer first goes through [`ActionFailure::classify`] (HTTP status, top-level `errors`, user
//!   errors); [`ActionFailure::retry_later`] and the `From` conversion into the domain's `ActionError` say
//!   whether the action outbox tries again.
//!
//! Sources: every wire name is from the research notes on the malls' write APIs (`research/actions.md` §1),
//! which cite the shopify.dev reference pages of `fulfillmentOrderHold`, `FulfillmentOrderHoldInput`,
//! `FulfillmentOrderHoldUserErrorCode`, `fulfillmentOrderReleaseHold`, `orderCancel`,
//! `OrderCancelRefundMethodInput`, `OrderCancelUserErrorCode`, `OrderCancelJobResult`, `FulfillmentOrderStatus`,
//! `FulfillmentOrderAction` and the rate-limit and error pages; the function docs name each. Not verified,
//! and so read leniently: the HTTP status of a throttled GraphQL answer (429, 503 and a `THROTTLED` code are
//! all throttling here); the user error for holding a shipped fulfillment order or releasing a released hold
//! (the plans check `supportedActions` and the holds first); the code an already cancelled order gets from
//! `orderCancel` (probably `INVALID`: read `cancelledAt` again); whether `refundMethod` may be left out
//! (always sent); and the `nodes` shorthand on `order.fulfillmentOrders` (`edges[].node` is read too). The
//! samples are in `events/shopify/graphql/`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use jiff::civil::Date;
use mallguard_domain::ids::{HoldId, IdError, Mall, OrderId, OrderRef, ProductKey, ShopId};
use mallguard_domain::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderError, OrderLine, OrderLines, OrderStatus, PayloadDigest,
    PaymentMethod, PostalAddress, Quantity,
};
use serde::{Deserialize, Deserializer};
use sha2::Sha256;

use crate::{Amount, ParseError, Scalar, SignatureError, decode, non_empty, null_as_default, scalar};

/// The header with the base64 HMAC-SHA256 of the raw body.
pub const HMAC_HEADER: &str = "X-Shopify-Hmac-Sha256";
/// The header with the webhook topic, such as `orders/create`.
pub const TOPIC_HEADER: &str = "X-Shopify-Topic";
/// The header with the shop's `*.myshopify.com` domain; see [`shop_id_from_domain`].
pub const SHOP_DOMAIN_HEADER: &str = "X-Shopify-Shop-Domain";
/// The header with the delivery id: the same on every retry of one event.
pub const WEBHOOK_ID_HEADER: &str = "X-Shopify-Webhook-Id";

/// What [`verify`] reports when the configured secret is empty.
const SECRET: &str = "the Shopify webhook secret";

type HmacSha256 = Hmac<Sha256>;

/// Verifies `X-Shopify-Hmac-Sha256`: base64(HMAC-SHA256(secret, raw body)), compared in constant time.
///
/// An empty secret refuses everything: anyone can compute an HMAC under an empty key.
pub fn verify(secret: &[u8], raw_body: &[u8], hmac_header: Option<&str>) -> Result<(), SignatureError> {
    if secret.is_empty() {
        return Err(SignatureError::Malformed(SECRET));
    }
    let header = non_empty(hmac_header).ok_or(SignatureError::Missing(HMAC_HEADER))?;
    let claimed = STANDARD
        .decode(header)
        .map_err(|_| SignatureError::Malformed(HMAC_HEADER))?;
    if claimed.len() != 32 {
        return Err(SignatureError::Malformed(HMAC_HEADER));
    }
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(raw_body);
    mac.verify_slice(&claimed).map_err(|_| SignatureError::Mismatch)
}

/// The `X-Shopify-Hmac-Sha256` value Shopify would send for this body: for tests and `mallguard send`.
pub fn sign(secret: &[u8], raw_body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(raw_body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The shop id of a `X-Shopify-Shop-Domain` value: `tanaka-shop.myshopify.com` is `tanaka-shop`.
///
/// Case, blanks, a scheme and a trailing slash are forgiven; a domain without the `.myshopify.com` suffix is
/// taken whole (shop ids may contain dots).
pub fn shop_id_from_domain(domain: &str) -> Result<ShopId, IdError> {
    let domain = domain.trim().to_ascii_lowercase();
    let domain = domain
        .strip_prefix("https://")
        .or_else(|| domain.strip_prefix("http://"))
        .unwrap_or(&domain)
        .trim_end_matches('/');
    ShopId::parse(domain.strip_suffix(".myshopify.com").unwrap_or(domain))
}

/// A Shopify webhook topic, from `X-Shopify-Topic`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    OrdersCreate,
    OrdersUpdated,
    OrdersCancelled,
    OrdersPaid,
    OrdersFulfilled,
    OrdersPartiallyFulfilled,
    /// Any other topic, as sent. Includes `orders/delete` and `orders/edited`, whose bodies are not an Order.
    Other(String),
}

impl Topic {
    const KNOWN: [(Topic, &'static str); 6] = [
        (Topic::OrdersCreate, "orders/create"),
        (Topic::OrdersUpdated, "orders/updated"),
        (Topic::OrdersCancelled, "orders/cancelled"),
        (Topic::OrdersPaid, "orders/paid"),
        (Topic::OrdersFulfilled, "orders/fulfilled"),
        (Topic::OrdersPartiallyFulfilled, "orders/partially_fulfilled"),
    ];

    /// Parses a topic; unknown topics become [`Topic::Other`].
    pub fn parse(raw: &str) -> Topic {
        let raw = raw.trim();
        Self::KNOWN
            .into_iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(raw))
            .map_or_else(|| Topic::Other(raw.to_owned()), |(topic, _)| topic)
    }

    /// The topic as Shopify writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Topic::Other(raw) => raw,
            known => Self::KNOWN
                .iter()
                .find(|(topic, _)| topic == known)
                .map_or("", |(_, name)| name),
        }
    }

    /// Whether the body of this topic is an Order resource that [`parse_order`] reads. The edge should
    /// acknowledge and ignore the others.
    pub fn is_order_topic(&self) -> bool {
        !matches!(self, Topic::Other(_))
    }
}

impl FromStr for Topic {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Topic::parse(s))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses an order webhook body (the REST Order resource) into the canonical order of `shop`.
///
/// The order id is the numeric `id` as exact decimal text (it exceeds 2^53, so it never goes through a
/// float); `name` (`#1001`) is the number the buyer knows and is kept as [`Order::number`]. Errors name the
/// offending field.
pub fn parse_order(raw_body: &[u8], topic: &Topic, shop: &ShopId) -> Result<Order, ParseError> {
    if !topic.is_order_topic() {
        return Err(ParseError::Invalid(format!(
            "topic {:?} does not carry an order",
            topic.as_str()
        )));
    }
    decode::<WireOrder>(raw_body)?.into_order(raw_body, shop)
}

/// The parts of the REST Order resource that mallguard reads. Every other field is ignored, and nearly every
/// field may be absent or null: Shopify leaves out what the checkout did not collect.
#[derive(Debug, Deserialize)]
struct WireOrder {
    #[serde(deserialize_with = "exact_id")]
    id: String,
    /// The order number the buyer knows (`#1001`), shown in mails and the admin; the id is internal.
    #[serde(default)]
    name: Option<String>,
    created_at: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    contact_email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    customer: Option<WireCustomer>,
    #[serde(default)]
    shipping_address: Option<WireAddress>,
    #[serde(default)]
    billing_address: Option<WireAddress>,
    #[serde(default, deserialize_with = "null_as_default")]
    line_items: Vec<WireLineItem>,
    #[serde(default)]
    cancelled_at: Option<String>,
    #[serde(default)]
    fulfillment_status: Option<String>,
    #[serde(default)]
    total_price: Option<Amount>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    payment_gateway_names: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    note_attributes: Vec<WireNoteAttribute>,
    #[serde(default, deserialize_with = "null_as_default")]
    tags: String,
    #[serde(default, deserialize_with = "null_as_default")]
    shipping_lines: Vec<WireShippingLine>,
    /// The locale the buyer checked out in (`ja`, `en-US`).
    #[serde(default)]
    customer_locale: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireCustomer {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    default_address: Option<WireAddress>,
}

#[derive(Debug, Default, Deserialize)]
struct WireAddress {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address1: Option<String>,
    #[serde(default)]
    address2: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    province: Option<String>,
    #[serde(default)]
    province_code: Option<String>,
    #[serde(default)]
    zip: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireLineItem {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default, deserialize_with = "exact_id_or_null")]
    variant_id: Option<String>,
    #[serde(default, deserialize_with = "exact_id_or_null")]
    product_id: Option<String>,
    #[serde(default)]
    title: Option<String>,
    quantity: u32,
    #[serde(default)]
    price: Option<Amount>,
}

#[derive(Debug, Deserialize)]
struct WireNoteAttribute {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct WireShippingLine {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// A Shopify id (a JSON number up to 2^63) as exact decimal text. serde_json keeps integers that fit in 64
/// bits exact; anything else (a fraction, or a number so large it became a float) is refused rather than
/// rounded. A string id is accepted too, as some apps relay ids as strings.
fn exact_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    scalar(deserializer, "an id", |value| {
        id_text(value)?.ok_or_else(|| "must be a number, not null".to_owned())
    })
}

fn exact_id_or_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    scalar(deserializer, "an id", id_text)
}

fn id_text(value: Scalar) -> Result<Option<String>, String> {
    match value {
        Scalar::Null => Ok(None),
        Scalar::Integer(digits) => Ok(Some(digits)),
        Scalar::Text(text) => Ok(non_empty(Some(&text)).map(str::to_owned)),
        Scalar::Fraction(f) => Err(format!("{f} is not a whole number that fits in 64 bits")),
        other => Err(format!("must be a number, not {}", other.kind())),
    }
}

impl WireOrder {
    fn into_order(self, raw_body: &[u8], shop: &ShopId) -> Result<Order, ParseError> {
        let order_id = OrderId::parse(&self.id).map_err(|e| ParseError::field("id", e))?;
        let placed_at: Timestamp = self
            .created_at
            .trim()
            .parse()
            .map_err(|e| ParseError::field("created_at", format_args!("not a time with an offset: {e}")))?;
        let currency = non_empty(self.currency.as_deref()).unwrap_or("JPY").to_owned();

        // Digital goods have no shipping address: the billing address is the best we have.
        let ship_to_wire = self.shipping_address.as_ref().or(self.billing_address.as_ref());
        let japanese = [
            self.shipping_address.as_ref(),
            self.billing_address.as_ref(),
            self.customer.as_ref().and_then(|c| c.default_address.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find_map(WireAddress::is_japanese)
        .unwrap_or(currency == "JPY");

        let buyer = self.buyer(japanese)?;
        let ship_to = ship_to_wire.map(WireAddress::to_postal).unwrap_or_default();
        let lines = self
            .line_items
            .iter()
            .enumerate()
            .map(|(i, line)| line.to_line(i, &currency))
            .collect::<Result<Vec<_>, _>>()?;
        let lines = OrderLines::parse(lines).map_err(|e| ParseError::field("line_items", e))?;
        let total = self
            .total_price
            .as_ref()
            .map(|amount| money(amount, &currency, "total_price"))
            .transpose()?;

        // The status comes from the signed body alone: Shopify signs only the body, so the topic header
        // (which anyone can change on a captured delivery) only chooses the parser.
        let cancelled = non_empty(self.cancelled_at.as_deref()).is_some();
        let fulfilled = self.fulfillment_status.as_deref() == Some("fulfilled");
        let status = if cancelled {
            OrderStatus::Cancelled
        } else if fulfilled {
            OrderStatus::Shipped
        } else {
            OrderStatus::Open
        };

        Ok(Order {
            order_ref: OrderRef::new(Mall::Shopify, shop.clone(), order_id),
            // Bounded, as every text a mall sends: it ends up in mails and logs.
            number: non_empty(self.name.as_deref()).map(|n| n.chars().take(64).collect()),
            placed_at,
            buyer,
            ship_to,
            lines,
            delivery: self.delivery(),
            gift: self.is_gift(),
            payment: payment_method(&self.payment_gateway_names),
            status,
            total,
            payload_digest: PayloadDigest::of(raw_body),
            screened_by_mall: false,
        })
    }

    fn buyer(&self, japanese: bool) -> Result<Buyer, ParseError> {
        let customer = self.customer.as_ref();
        let emails = [
            ("email", self.email.as_deref()),
            ("contact_email", self.contact_email.as_deref()),
            ("customer.email", customer.and_then(|c| c.email.as_deref())),
        ];
        let email = emails
            .into_iter()
            .find_map(|(field, value)| non_empty(value).map(|v| (field, v)))
            .map(|(field, value)| EmailAddress::parse(value).map_err(|e| ParseError::field(field, e)))
            .transpose()?;
        let phone = non_empty(self.phone.as_deref())
            .or_else(|| non_empty(customer.and_then(|c| c.phone.as_deref())))
            .map(str::to_owned);
        let from_customer = customer
            .map(|c| person_name(c.first_name.as_deref(), c.last_name.as_deref(), None, japanese))
            .unwrap_or_default();
        // Guests have no customer record: the billing name, then the recipient's, is who ordered.
        let name = [
            Some(from_customer),
            self.billing_address.as_ref().map(WireAddress::person),
        ]
        .into_iter()
        .flatten()
        .chain(self.shipping_address.as_ref().map(WireAddress::person))
        .find(|n| !n.is_empty())
        .unwrap_or_default();
        Ok(Buyer {
            name,
            // Shopify's checkout does not ask for a reading (フリガナ).
            kana: None,
            email,
            phone,
            address: self.billing_address.as_ref().map(WireAddress::to_postal),
            language: self
                .customer_locale
                .as_deref()
                .and_then(mallguard_domain::order::language_of_locale),
        })
    }

    /// Japanese Shopify stores collect the requested date and time through delivery-date apps, which write
    /// them into the order's note attributes under Japanese or English names.
    fn delivery(&self) -> Delivery {
        let attribute = |matches: fn(&str) -> bool| {
            self.note_attributes
                .iter()
                .find(|a| matches(&a.name.to_lowercase()))
                .and_then(|a| a.text())
                .filter(|value| is_given(value))
        };
        let requested_date = attribute(|n| {
            n.contains("希望日") || n.contains("指定日") || n.contains("delivery date") || n.contains("delivery_date")
        })
        .and_then(|text| loose_date(&text));
        let time_slot = attribute(|n| {
            n.contains("時間") || n.contains("delivery time") || n.contains("delivery_time") || n.contains("time slot")
        });
        let express = self.shipping_lines.iter().any(|line| {
            [line.title.as_deref(), line.code.as_deref()]
                .into_iter()
                .flatten()
                .any(|text| {
                    let text = text.to_lowercase();
                    text.contains("express") || text.contains("速達") || text.contains("お急ぎ")
                })
        });
        Delivery {
            requested_date,
            time_slot,
            express,
        }
    }

    /// A gift is tagged so, or carries gift wrapping or のし in its note attributes.
    fn is_gift(&self) -> bool {
        let tagged = self
            .tags
            .split(',')
            .map(str::trim)
            .any(|tag| tag.eq_ignore_ascii_case("gift") || tag == "ギフト");
        let wrapped = self.note_attributes.iter().any(|a| {
            let name = a.name.to_lowercase();
            let about_gift = ["gift", "ギフト", "のし", "熨斗", "ラッピング", "wrapping"]
                .iter()
                .any(|word| name.contains(word));
            about_gift && a.text().is_some_and(|value| is_given(&value))
        });
        tagged || wrapped
    }
}

impl WireAddress {
    /// Some(true) for a Japanese address, None when the address does not say.
    fn is_japanese(&self) -> Option<bool> {
        if let Some(code) = non_empty(self.country_code.as_deref()) {
            return Some(code.eq_ignore_ascii_case("JP"));
        }
        non_empty(self.country.as_deref()).map(|c| c.eq_ignore_ascii_case("japan") || c == "日本")
    }

    /// The person at the address. Shopify's `name` is "first last" (`Taro Yamada`, `太郎 山田`); a Japanese
    /// name is written family name first, as on the envelope and as other malls send it.
    fn person(&self) -> String {
        person_name(
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            self.name.as_deref(),
            self.is_japanese().unwrap_or(false),
        )
    }

    fn to_postal(&self) -> PostalAddress {
        let text = |field: &Option<String>| non_empty(field.as_deref()).unwrap_or_default().to_owned();
        // Shopify's addresses carry no reading (first_name, last_name, name, company, address1/2, city,
        // province, zip, phone): a name written in kana or romaji is its own reading.
        PostalAddress {
            name: self.person(),
            kana: None,
            postal_code: text(&self.zip),
            // Shopify writes "Tokyo" or "東京都" depending on the store's language; the other malls write
            // 東京都. The ISO code (JP-13) names the prefecture the way every mall does.
            prefecture: prefecture_of(self.province_code.as_deref())
                .or(non_empty(self.province.as_deref()))
                .or(non_empty(self.province_code.as_deref()))
                .unwrap_or_default()
                .to_owned(),
            city: text(&self.city),
            lines: [&self.address1, &self.address2]
                .into_iter()
                .filter_map(|line| non_empty(line.as_deref()))
                .map(str::to_owned)
                .collect(),
            phone: non_empty(self.phone.as_deref()).map(str::to_owned),
        }
    }
}

/// The prefecture's Japanese name from its ISO code ("JP-13" → "東京都").
fn prefecture_of(code: Option<&str>) -> Option<&'static str> {
    let number: usize = code?.trim().strip_prefix("JP-")?.parse().ok()?;
    mallguard_domain::normalize::PREFECTURES
        .get(number.checked_sub(1)?)
        .copied()
}

impl WireLineItem {
    fn to_line(&self, index: usize, currency: &str) -> Result<OrderLine, ParseError> {
        let field = |name: &str| format!("line_items[{index}].{name}");
        let product = if let Some(sku) = non_empty(self.sku.as_deref()) {
            sku.to_owned()
        } else if let Some(variant) = &self.variant_id {
            format!("shopify-variant-{variant}")
        } else if let Some(product) = &self.product_id {
            format!("shopify-product-{product}")
        } else {
            // A custom line item added by staff has no product record; its title is all that identifies it.
            let title = non_empty(self.title.as_deref())
                .ok_or_else(|| ParseError::field(&field("sku"), "no sku, variant_id, product_id or title"))?;
            format!("shopify-custom-{title}")
        };
        let product = ProductKey::parse(&product).map_err(|e| ParseError::field(&field("sku"), e))?;
        let quantity = Quantity::try_from(self.quantity)
            .map_err(|_| ParseError::field(&field("quantity"), "must be at least 1"))?;
        let unit_price = self
            .price
            .as_ref()
            .map(|amount| money(amount, currency, &field("price")))
            .transpose()?;
        Ok(OrderLine {
            product,
            title: non_empty(self.title.as_deref()).unwrap_or_default().to_owned(),
            quantity,
            unit_price,
        })
    }
}

impl WireNoteAttribute {
    /// The value as text; note attributes are free-form and may be numbers.
    fn text(&self) -> Option<String> {
        match &self.value {
            serde_json::Value::String(s) => non_empty(Some(s)).map(str::to_owned),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// "{family} {given}" for Japanese names, else `full` or "{given} {family}".
fn person_name(first: Option<&str>, last: Option<&str>, full: Option<&str>, japanese: bool) -> String {
    let (first, last, full) = (non_empty(first), non_empty(last), non_empty(full));
    let parts = if japanese { [last, first] } else { [first, last] };
    let joined = parts.into_iter().flatten().collect::<Vec<_>>().join(" ");
    match full {
        Some(full) if !japanese || joined.is_empty() => full.to_owned(),
        _ => joined,
    }
}

fn money(amount: &Amount, currency: &str, field: &str) -> Result<Money, ParseError> {
    Money::parse(amount.as_str(), currency).map_err(|e| match e {
        OrderError::BadCurrency(_) => ParseError::field("currency", e),
        _ => ParseError::field(field, e),
    })
}

/// The payment method from the gateway names. Cash on delivery wins: it is what makes a wrong shipment
/// expensive (a refused parcel and carriage both ways), so an order part-paid by gift card still counts.
fn payment_method(gateways: &[String]) -> PaymentMethod {
    let classify = |name: &String| {
        let name = name.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if has(&["cash on delivery", "(cod)", "代金引換", "代引"]) || name.trim() == "cod" {
            PaymentMethod::CashOnDelivery
        } else if has(&["gift_card", "gift card"]) {
            PaymentMethod::Other
        } else if has(&["shopify_payments", "stripe", "card", "クレジット", "bogus"]) {
            PaymentMethod::Card
        } else if has(&["bank", "振込"]) {
            PaymentMethod::BankTransfer
        } else if has(&["konbini", "convenience", "コンビニ"]) {
            PaymentMethod::Convenience
        } else {
            PaymentMethod::Other
        }
    };
    let methods: Vec<PaymentMethod> = gateways.iter().map(classify).collect();
    if methods.contains(&PaymentMethod::CashOnDelivery) {
        return PaymentMethod::CashOnDelivery;
    }
    methods
        .into_iter()
        .find(|m| *m != PaymentMethod::Other)
        .unwrap_or(PaymentMethod::Other)
}

/// A date as delivery-date apps write it: `2026-11-25`, `2026/11/25` or `2026年11月25日`. Anything else
/// (`指定なし`) is no date.
fn loose_date(text: &str) -> Option<Date> {
    let numbers: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .collect();
    let [year, month, day] = numbers.as_slice() else {
        return None;
    };
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

/// Whether a free-form attribute value gives something (`希望する`, `2026/11/25`, `御歳暮`), rather than being
/// one of the ways apps and buyers write "none" (`指定なし`, `不要`).
fn is_given(value: &str) -> bool {
    const NONE: [&str; 14] = [
        "",
        "なし",
        "無し",
        "指定なし",
        "指定無し",
        "希望なし",
        "指定しない",
        "不要",
        "希望しない",
        "いいえ",
        "no",
        "false",
        "0",
        "none",
    ];
    !NONE.contains(&value.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"shpss_0123456789abcdef";

    fn shop() -> ShopId {
        ShopId::parse("tanaka-shop").unwrap()
    }

    /// A small `orders/create` body in Shopify's shape; `patch` edits it before it is serialised.
    fn body(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut order = serde_json::json!({
            "id": 5678901234567890123u64,
            "name": "#1001",
            "created_at": "2026-11-23T12:00:00+09:00",
            "email": "taro.yamada@example.com",
            "phone": "+819012345678",
            "currency": "JPY",
            "total_price": "1200",
            "cancelled_at": null,
            "fulfillment_status": null,
            "payment_gateway_names": ["shopify_payments"],
            "customer": { "first_name": "太郎", "last_name": "山田", "email": "taro.yamada@example.com" },
            "shipping_address": {
                "first_name": "太郎", "last_name": "山田", "name": "太郎 山田",
                "address1": "千代田1-2-3", "address2": "メゾン千代田101", "city": "千代田区",
                "province": "Tokyo", "province_code": "JP-13", "zip": "100-0001",
                "country": "Japan", "country_code": "JP", "phone": "090-1234-5678"
            },
            "line_items": [
                { "sku": "TEA-SENCHA-100", "variant_id": 44556677889900u64, "product_id": 8877665544u64,
                  "title": "有機煎茶 100g", "quantity": 1, "price": "1200" }
            ]
        });
        patch(&mut order);
        serde_json::to_vec(&order).unwrap()
    }

    fn parse(raw: &[u8]) -> Result<Order, ParseError> {
        parse_order(raw, &Topic::OrdersCreate, &shop())
    }

    #[test]
    fn the_prefecture_is_named_in_japanese_whatever_the_store_language() {
        let order = parse(&body(|_| {})).unwrap();
        assert_eq!(order.ship_to.prefecture, "東京都");
        assert_eq!(prefecture_of(Some("JP-01")), Some("北海道"));
        assert_eq!(prefecture_of(Some("JP-47")), Some("沖縄県"));
        assert_eq!(prefecture_of(Some("JP-48")), None);
        assert_eq!(prefecture_of(Some("US-CA")), None);
    }

    fn invalid(raw: &[u8]) -> String {
        match parse(raw) {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_body_signed_with_the_secret_verifies() {
        let raw = body(|_| {});
        assert_eq!(verify(SECRET, &raw, Some(&sign(SECRET, &raw))), Ok(()));
    }

    #[test]
    fn a_known_shopify_signature_verifies() {
        // HMAC-SHA256("hush", "{\"id\":1}") computed independently with openssl.
        let header = "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=";
        let expected = sign(b"hush", br#"{"id":1}"#);
        assert_eq!(expected, header);
        assert_eq!(verify(b"hush", br#"{"id":1}"#, Some(header)), Ok(()));
    }

    #[test]
    fn a_missing_or_blank_signature_header_is_missing() {
        let raw = body(|_| {});
        assert_eq!(verify(SECRET, &raw, None), Err(SignatureError::Missing(HMAC_HEADER)));
        assert_eq!(
            verify(SECRET, &raw, Some("  ")),
            Err(SignatureError::Missing(HMAC_HEADER))
        );
    }

    #[test]
    fn a_signature_that_is_not_base64_of_32_bytes_is_malformed() {
        let raw = body(|_| {});
        assert_eq!(
            verify(SECRET, &raw, Some("not base64!")),
            Err(SignatureError::Malformed(HMAC_HEADER))
        );
        assert_eq!(
            verify(SECRET, &raw, Some("c2hvcnQ=")),
            Err(SignatureError::Malformed(HMAC_HEADER))
        );
    }

    #[test]
    fn a_tampered_body_does_not_match() {
        let raw = body(|_| {});
        let signature = sign(SECRET, &raw);
        let tampered = body(|o| o["total_price"] = "1".into());
        assert_eq!(
            verify(SECRET, &tampered, Some(&signature)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_signature_under_another_secret_does_not_match() {
        let raw = body(|_| {});
        assert_eq!(
            verify(SECRET, &raw, Some(&sign(b"another secret", &raw))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_empty_secret_refuses_even_a_matching_signature() {
        let raw = body(|_| {});
        assert_eq!(
            verify(b"", &raw, Some(&sign(b"", &raw))),
            Err(SignatureError::Malformed(super::SECRET))
        );
    }

    #[test]
    fn the_shop_id_is_the_myshopify_subdomain() {
        assert_eq!(
            shop_id_from_domain("tanaka-shop.myshopify.com").unwrap().as_str(),
            "tanaka-shop"
        );
        assert_eq!(
            shop_id_from_domain(" Tanaka-Shop.MyShopify.com ").unwrap().as_str(),
            "tanaka-shop"
        );
        assert_eq!(
            shop_id_from_domain("https://tanaka-shop.myshopify.com/")
                .unwrap()
                .as_str(),
            "tanaka-shop"
        );
        assert!(shop_id_from_domain("").is_err());
        assert!(shop_id_from_domain("tanaka shop.myshopify.com").is_err());
    }

    #[test]
    fn topics_parse_from_the_header_and_unknown_ones_are_kept() {
        assert_eq!(Topic::parse("orders/create"), Topic::OrdersCreate);
        assert_eq!("orders/cancelled".parse::<Topic>().unwrap(), Topic::OrdersCancelled);
        assert_eq!(
            Topic::parse("orders/partially_fulfilled").to_string(),
            "orders/partially_fulfilled"
        );
        let other = Topic::parse("orders/delete");
        assert_eq!(other, Topic::Other("orders/delete".into()));
        assert_eq!(other.as_str(), "orders/delete");
        assert!(!other.is_order_topic());
        assert!(Topic::OrdersUpdated.is_order_topic());
    }

    #[test]
    fn an_order_is_read_into_the_canonical_order() {
        let raw = body(|_| {});
        let order = parse(&raw).unwrap();
        assert_eq!(order.order_ref.key(), "shopify/tanaka-shop/5678901234567890123");
        assert_eq!(order.placed_at, "2026-11-23T03:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(order.buyer.email.as_ref().unwrap().as_str(), "taro.yamada@example.com");
        assert_eq!(order.buyer.phone.as_deref(), Some("+819012345678"));
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
        let line = order.lines.iter().next().unwrap();
        assert_eq!(line.product.as_str(), "TEA-SENCHA-100");
        assert_eq!(line.title, "有機煎茶 100g");
        assert_eq!(line.quantity.get(), 1);
        assert_eq!(line.unit_price, Some(Money::yen(1200)));
        assert_eq!(order.total, Some(Money::yen(1200)));
        assert_eq!(order.payment, PaymentMethod::Card);
        assert_eq!(order.status, OrderStatus::Open);
        assert!(!order.gift);
        assert_eq!(order.delivery, Delivery::default());
        assert_eq!(order.payload_digest, PayloadDigest::of(&raw));
    }

    #[test]
    fn an_id_beyond_two_to_the_53_stays_exact() {
        // 2^53 + 1 is the first integer a float cannot hold; 5678901234567890123 is far beyond it.
        let raw = br#"{"id": 9007199254740993, "created_at": "2026-11-23T12:00:00+09:00",
            "line_items": [{"sku": "A", "quantity": 1}]}"#;
        assert_eq!(parse(raw).unwrap().order_ref.order_id.as_str(), "9007199254740993");
        let raw = body(|_| {});
        assert_eq!(parse(&raw).unwrap().order_ref.order_id.as_str(), "5678901234567890123");
    }

    #[test]
    fn an_id_too_large_for_64_bits_or_fractional_is_refused_not_rounded() {
        let too_large = body(|o| o["id"] = serde_json::from_str("123456789012345678901234").unwrap());
        assert!(invalid(&too_large).starts_with("id: "), "{}", invalid(&too_large));
        let fraction = body(|o| o["id"] = serde_json::json!(1.5));
        assert!(invalid(&fraction).starts_with("id: "));
    }

    #[test]
    fn an_id_sent_as_a_string_is_accepted() {
        let raw = body(|o| o["id"] = "5678901234567890123".into());
        assert_eq!(parse(&raw).unwrap().order_ref.order_id.as_str(), "5678901234567890123");
    }

    #[test]
    fn the_customer_locale_is_the_buyers_language() {
        use mallguard_domain::Language;
        let japanese = body(|o| o["customer_locale"] = "ja".into());
        assert_eq!(parse(&japanese).unwrap().buyer.language, Some(Language::Ja));
        let english = body(|o| o["customer_locale"] = "en-US".into());
        assert_eq!(parse(&english).unwrap().buyer.language, Some(Language::En));
        let other = body(|o| o["customer_locale"] = "zh-CN".into());
        assert_eq!(parse(&other).unwrap().buyer.language, None, "the shop's language then");
    }

    #[test]
    fn cancelled_at_makes_the_order_cancelled() {
        let raw = body(|o| {
            o["cancelled_at"] = "2026-11-23T12:10:00+09:00".into();
            o["cancel_reason"] = "customer".into();
        });
        assert_eq!(parse(&raw).unwrap().status, OrderStatus::Cancelled);
    }

    #[test]
    fn an_unsigned_topic_header_never_changes_the_status_the_signed_body_gives() {
        let raw = body(|_| {});
        for topic in [Topic::OrdersCancelled, Topic::OrdersFulfilled, Topic::OrdersUpdated] {
            let order = parse_order(&raw, &topic, &shop()).unwrap();
            assert_eq!(order.status, OrderStatus::Open, "{topic}");
        }
    }

    #[test]
    fn a_fulfilled_order_is_shipped_unless_cancelled() {
        let raw = body(|o| o["fulfillment_status"] = "fulfilled".into());
        assert_eq!(parse(&raw).unwrap().status, OrderStatus::Shipped);
        let raw = body(|o| o["fulfillment_status"] = "partial".into());
        assert_eq!(parse(&raw).unwrap().status, OrderStatus::Open);
        let raw = body(|o| {
            o["fulfillment_status"] = "fulfilled".into();
            o["cancelled_at"] = "2026-11-24T09:00:00+09:00".into();
        });
        assert_eq!(parse(&raw).unwrap().status, OrderStatus::Cancelled);
    }

    #[test]
    fn cash_on_delivery_is_detected_in_english_and_japanese() {
        for gateways in [
            serde_json::json!(["Cash on Delivery (COD)"]),
            serde_json::json!(["代金引換"]),
            serde_json::json!(["gift_card", "代引き"]),
        ] {
            let raw = body(|o| o["payment_gateway_names"] = gateways.clone());
            assert_eq!(
                parse(&raw).unwrap().payment,
                PaymentMethod::CashOnDelivery,
                "{gateways}"
            );
        }
    }

    #[test]
    fn other_gateways_map_to_their_payment_method() {
        let cases = [
            (serde_json::json!(["shopify_payments"]), PaymentMethod::Card),
            (serde_json::json!(["gift_card", "stripe"]), PaymentMethod::Card),
            (serde_json::json!(["銀行振込"]), PaymentMethod::BankTransfer),
            (serde_json::json!(["KOMOJU - コンビニ決済"]), PaymentMethod::Convenience),
            (serde_json::json!(["manual"]), PaymentMethod::Other),
            (serde_json::json!([]), PaymentMethod::Other),
            (serde_json::Value::Null, PaymentMethod::Other),
        ];
        for (gateways, expected) in cases {
            let raw = body(|o| o["payment_gateway_names"] = gateways.clone());
            assert_eq!(parse(&raw).unwrap().payment, expected, "{gateways}");
        }
    }

    #[test]
    fn the_product_key_is_the_sku_else_the_variant() {
        let raw = body(|o| o["line_items"][0]["sku"] = "".into());
        let order = parse(&raw).unwrap();
        assert_eq!(
            order.lines.iter().next().unwrap().product.as_str(),
            "shopify-variant-44556677889900"
        );
        let raw = body(|o| {
            o["line_items"][0]["sku"] = serde_json::Value::Null;
            o["line_items"][0]["variant_id"] = serde_json::Value::Null;
        });
        let order = parse(&raw).unwrap();
        assert_eq!(
            order.lines.iter().next().unwrap().product.as_str(),
            "shopify-product-8877665544"
        );
    }

    #[test]
    fn a_custom_line_item_is_keyed_by_its_title() {
        let raw = body(|o| o["line_items"] = serde_json::json!([{ "title": "のし紙", "quantity": 1, "price": "0" }]));
        let order = parse(&raw).unwrap();
        assert_eq!(
            order.lines.iter().next().unwrap().product.as_str(),
            "shopify-custom-のし紙"
        );
    }

    #[test]
    fn a_japanese_name_is_family_name_first_and_a_foreign_one_as_given() {
        let raw = body(|o| {
            o["shipping_address"]["first_name"] = "Taro".into();
            o["shipping_address"]["last_name"] = "Yamada".into();
            o["shipping_address"]["name"] = "Taro Yamada".into();
        });
        assert_eq!(parse(&raw).unwrap().ship_to.name, "Yamada Taro");
        let raw = body(|o| {
            o["shipping_address"]["first_name"] = "Jane".into();
            o["shipping_address"]["last_name"] = "Doe".into();
            o["shipping_address"]["name"] = "Jane Doe".into();
            o["shipping_address"]["country_code"] = "US".into();
        });
        assert_eq!(parse(&raw).unwrap().ship_to.name, "Jane Doe");
    }

    #[test]
    fn a_guest_checkout_takes_the_buyer_name_from_the_billing_address() {
        let raw = body(|o| {
            o.as_object_mut().unwrap().remove("customer");
            o["billing_address"] = serde_json::json!({
                "first_name": "花子", "last_name": "佐藤", "country_code": "JP", "phone": "06-1234-5678",
                "zip": "530-0001", "province": "大阪府", "city": "大阪市北区", "address1": "梅田1-1-1"
            });
        });
        let order = parse(&raw).unwrap();
        assert_eq!(order.buyer.name, "佐藤 花子");
        let address = order.buyer.address.unwrap();
        assert_eq!(address.one_line(), "〒530-0001 大阪府大阪市北区 梅田1-1-1");
        assert_eq!(address.phone.as_deref(), Some("06-1234-5678"));
    }

    #[test]
    fn without_a_shipping_address_the_billing_address_is_the_ship_to() {
        let raw = body(|o| {
            o["shipping_address"] = serde_json::Value::Null;
            o["billing_address"] = serde_json::json!({
                "first_name": "太郎", "last_name": "山田", "country_code": "JP", "zip": "100-0001",
                "province": "東京都", "city": "千代田区", "address1": "千代田1-2-3"
            });
        });
        let order = parse(&raw).unwrap();
        assert_eq!(order.ship_to.one_line(), "〒100-0001 東京都千代田区 千代田1-2-3");
        assert_eq!(order.ship_to.name, "山田 太郎");
    }

    #[test]
    fn without_any_address_the_ship_to_is_empty() {
        let raw = body(|o| {
            o.as_object_mut().unwrap().remove("shipping_address");
        });
        assert_eq!(parse(&raw).unwrap().ship_to, PostalAddress::default());
    }

    #[test]
    fn the_email_falls_back_to_the_contact_email_and_a_blank_one_is_none() {
        let raw = body(|o| {
            o["email"] = "".into();
            o["contact_email"] = "hanako@example.jp".into();
        });
        assert_eq!(parse(&raw).unwrap().buyer.email.unwrap().as_str(), "hanako@example.jp");
        let raw = body(|o| {
            o["email"] = "".into();
            o["customer"]["email"] = serde_json::Value::Null;
        });
        assert_eq!(parse(&raw).unwrap().buyer.email, None);
    }

    #[test]
    fn a_malformed_email_is_invalid_and_named() {
        let raw = body(|o| o["email"] = "taro.yamada".into());
        assert!(invalid(&raw).starts_with("email: "), "{}", invalid(&raw));
    }

    #[test]
    fn delivery_date_time_and_gift_come_from_note_attributes() {
        let raw = body(|o| {
            o["note_attributes"] = serde_json::json!([
                { "name": "配送希望日", "value": "2026/11/25" },
                { "name": "配送希望時間帯", "value": "14:00-16:00" },
                { "name": "ギフトラッピング", "value": "希望する" }
            ]);
            o["shipping_lines"] = serde_json::json!([{ "title": "お急ぎ便", "code": "express" }]);
        });
        let order = parse(&raw).unwrap();
        assert_eq!(order.delivery.requested_date, Some(jiff::civil::date(2026, 11, 25)));
        assert_eq!(order.delivery.time_slot.as_deref(), Some("14:00-16:00"));
        assert!(order.delivery.express);
        assert!(order.gift);
    }

    #[test]
    fn no_date_wanted_and_no_wrapping_wanted_mean_none() {
        let raw = body(|o| {
            o["note_attributes"] = serde_json::json!([
                { "name": "お届け希望日", "value": "指定なし" },
                { "name": "お届け時間帯", "value": "指定なし" },
                { "name": "ラッピング", "value": "不要" }
            ]);
        });
        let order = parse(&raw).unwrap();
        assert_eq!(order.delivery, Delivery::default());
        assert!(!order.gift);
    }

    #[test]
    fn a_gift_tag_makes_a_gift() {
        let raw = body(|o| o["tags"] = "リピーター, gift".into());
        assert!(parse(&raw).unwrap().gift);
    }

    #[test]
    fn a_zero_quantity_names_the_line() {
        let raw = body(|o| o["line_items"][0]["quantity"] = 0.into());
        assert_eq!(invalid(&raw), "line_items[0].quantity: must be at least 1");
    }

    #[test]
    fn an_order_without_line_items_is_invalid() {
        let raw = body(|o| o["line_items"] = serde_json::json!([]));
        assert_eq!(invalid(&raw), "line_items: the order has no lines");
    }

    #[test]
    fn a_bad_price_or_created_at_names_the_field() {
        let raw = body(|o| o["line_items"][0]["price"] = "12OO".into());
        assert!(invalid(&raw).starts_with("line_items[0].price: "), "{}", invalid(&raw));
        let raw = body(|o| o["created_at"] = "2026-11-23 12:00".into());
        assert!(invalid(&raw).starts_with("created_at: "), "{}", invalid(&raw));
        let raw = body(|o| o["total_price"] = serde_json::json!(true));
        assert!(invalid(&raw).starts_with("total_price: "), "{}", invalid(&raw));
    }

    #[test]
    fn a_body_that_is_not_json_is_not_json() {
        assert!(matches!(parse(b""), Err(ParseError::NotJson(_))));
        assert!(matches!(parse(b"id=1"), Err(ParseError::NotJson(_))));
    }

    #[test]
    fn json_of_the_wrong_shape_is_invalid() {
        assert!(matches!(parse(b"[]"), Err(ParseError::NotObject("an array"))));
        assert_eq!(
            invalid(br#"{"created_at": "2026-11-23T12:00:00+09:00"}"#),
            "missing field `id`"
        );
        let raw = body(|o| o["customer"] = "山田".into());
        assert!(
            invalid(&raw).starts_with("customer: invalid type: string"),
            "{}",
            invalid(&raw)
        );
    }

    #[test]
    fn a_topic_that_carries_no_order_is_invalid() {
        let raw = body(|_| {});
        let err = parse_order(&raw, &Topic::parse("orders/delete"), &shop()).unwrap_err();
        assert!(matches!(err, ParseError::Invalid(m) if m.contains("orders/delete")));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Admin GraphQL: hold, release and cancel at the mall
// ---------------------------------------------------------------------------------------------------------

/// The Admin API version every GraphQL call names. 2026-10 is the newest stable version on 2026-11-29 (the
/// `latest` reference pages carry `api_version: 2026-10`), each version is supported at least 12 months
/// (<https://shopify.dev/api/usage/versioning>), and it is the first with `orderCancel.jobResult`
/// (<https://shopify.dev/changelog/the-ordercancel-mutation-now-returns-a-structured-jobresult>).
pub const GRAPHQL_API_VERSION: &str = "2026-10";
/// The request header that carries the shop's Admin API access token ("include your token as a
/// X-Shopify-Access-Token header", <https://www.shopify.dev/api/admin>). Never logged.
pub const ACCESS_TOKEN_HEADER: &str = "X-Shopify-Access-Token";
/// The content type of every GraphQL request body (the cURL example of the `orderCancel` reference).
pub const GRAPHQL_CONTENT_TYPE: &str = "application/json";
/// The response header Shopify's own GraphQL client honours on a 429 or 503 (else it waits 1000 ms):
/// `Shopify/shopify-app-js@packages/api-clients/graphql-client/src/graphql-client/http-fetch.ts`. Hand its
/// value to [`ActionFailure::with_retry_after`].
pub const RETRY_AFTER_HEADER: &str = "Retry-After";
/// What every hold handle mallguard puts on a fulfillment order starts with; see [`hold_handle`].
pub const HOLD_HANDLE_PREFIX: &str = "mallguard-";

/// The prefix of an order's global id.
const ORDER_GID_PREFIX: &str = "gid://shopify/Order/";
/// "The handle … must be no longer than 64 characters" (`FulfillmentOrderHoldInput.handle`, 2024-10).
const MAX_HANDLE: usize = 64;
/// How many characters of a global id we keep; real ones are about 40.
const MAX_GID: usize = 200;
/// How many characters of a code, a field name or a handle Shopify sends we keep.
const CODE_ECHO: usize = 60;
/// How many characters of a message Shopify sends we keep.
const MESSAGE_ECHO: usize = 200;
/// How many user errors, error-path segments or top-level errors we keep from one answer.
const MAX_LISTED: usize = 10;
/// The wait after a throttled answer that gives no cost numbers: what Shopify's client waits without a
/// `Retry-After` (1000 ms, `http-fetch.ts` above).
const DEFAULT_THROTTLE_WAIT: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);
/// The longest wait [`ActionFailure::Throttled`] suggests: past it, the back-off of the action outbox rules.
const MAX_THROTTLE_WAIT: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);

/// The fulfillment orders of one order, with what each allows and the holds on it. Up to 25 (an order gets
/// one per location that ships part of it; `pageInfo.hasNextPage` says whether there are more).
const FULFILLMENT_ORDERS_QUERY: &str = "query OrderFulfillmentOrders($id: ID!) { order(id: $id) { id cancelledAt \
     fulfillmentOrders(first: 25) { pageInfo { hasNextPage } nodes { id status supportedActions { action } \
     fulfillmentHolds { id handle } } } } }";
/// `fulfillmentOrderHold`, as the research notes write it (§1.4).
const HOLD_MUTATION: &str = "mutation Hold($id: ID!, $hold: FulfillmentOrderHoldInput!) { \
     fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) { fulfillmentHold { id handle reason } \
     fulfillmentOrder { id status } remainingFulfillmentOrder { id } userErrors { field message code } } }";
/// `fulfillmentOrderReleaseHold`, as the research notes write it (§1.5).
const RELEASE_MUTATION: &str = "mutation Release($id: ID!, $holdIds: [ID!]) { \
     fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) { fulfillmentOrder { id status } \
     userErrors { field message code } } }";
/// `orderCancel` with the 2026-07 arguments and the 2026-10 `jobResult`, as the research notes write it (§1.6).
const CANCEL_MUTATION: &str = "mutation Cancel($orderId: ID!, $notifyCustomer: Boolean, \
     $refundMethod: OrderCancelRefundMethodInput!, $restock: Boolean!, $reason: OrderCancelReason!, \
     $staffNote: String) { orderCancel(orderId: $orderId, notifyCustomer: $notifyCustomer, \
     refundMethod: $refundMethod, restock: $restock, reason: $reason, staffNote: $staffNote) { \
     job { id done } jobResult { id done status errors { field message code } } \
     orderCancelUserErrors { field message code } } }";

/// The Admin GraphQL endpoint of a shop: `https://{shop}.myshopify.com/admin/api/2026-10/graphql.json`
/// (POST, [`GRAPHQL_CONTENT_TYPE`], the token in [`ACCESS_TOKEN_HEADER`]).
///
/// `shop` is the `*.myshopify.com` subdomain, as [`shop_id_from_domain`] makes it from the webhook's
/// `X-Shopify-Shop-Domain`; a shop id taken whole from another domain does not name a Shopify endpoint.
pub fn graphql_url(shop: &ShopId) -> String {
    format!("https://{shop}.myshopify.com/admin/api/{GRAPHQL_API_VERSION}/graphql.json")
}

/// The global id of an order, `gid://shopify/Order/{id}`, from the numeric id [`parse_order`] keeps as the
/// order id (the webhook carries the same value as `admin_graphql_api_id`, see
/// `events/shopify/orders-create.json`). None when the id is not all digits, which no Shopify order id is.
pub fn order_gid(order_id: &OrderId) -> Option<String> {
    let id = order_id.as_str();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{ORDER_GID_PREFIX}{id}"))
}

/// The `handle` of mallguard's hold on a fulfillment order: `mallguard-{hold id}` (31 characters; Shopify
/// allows 64). A handle is unique among the holds one app puts on one fulfillment order, and a second hold
/// with the same handle "will be rejected with a duplicate hold user error" (`FulfillmentOrderHoldInput`,
/// 2024-10), so a retried hold is refused as [`HoldOutcome::AlreadyHeld`] instead of holding twice.
pub fn hold_handle(hold: &HoldId) -> String {
    let handle = format!("{HOLD_HANDLE_PREFIX}{hold}");
    debug_assert!(handle.chars().count() <= MAX_HANDLE);
    handle
}

/// The GraphQL body (`{"query", "variables"}`) that reads the fulfillment orders of an order
/// ([`order_gid`]): each one's `id`, `status`, `supportedActions { action }` and `fulfillmentHolds { id
/// handle }`, and the order's `cancelledAt`. Read the answer with [`parse_fulfillment_orders`].
///
/// Field names: `FulfillmentOrder.status`, `supportedActions`, `fulfillmentHolds` and `FulfillmentHold.handle`
/// from the 2026-10 reference (research notes §1.3); the `nodes` shorthand and `pageInfo { hasNextPage }`
/// are used on `order.fulfillmentOrders` by several apps (search-index files 57548475421, 71331431644), not
/// read on a Shopify page here, so [`parse_fulfillment_orders`] reads `edges[].node` too.
pub fn fulfillment_orders_query(order_gid: &str) -> serde_json::Value {
    serde_json::json!({
        "query": FULFILLMENT_ORDERS_QUERY,
        "variables": { "id": order_gid }
    })
}

/// The GraphQL body of `fulfillmentOrderHold` on one fulfillment order, for all its line items:
/// `reason` `OTHER`, `reasonNotes` (shown to the merchant; e.g. "重複注文の疑い (#1001) — 購入者に確認中"),
/// `notifyMerchant` false and the handle of [`hold_handle`]. Read the answer with [`parse_hold`].
///
/// A hold is per fulfillment order: send one for every fulfillment order [`HoldPlan::Hold`] names.
pub fn fulfillment_order_hold_request(
    fulfillment_order_gid: &str,
    hold: &HoldId,
    reason_notes: &str,
) -> serde_json::Value {
    serde_json::json!({
        "query": HOLD_MUTATION,
        "variables": {
            "id": fulfillment_order_gid,
            "hold": {
                "reason": "OTHER",
                "reasonNotes": reason_notes.trim(),
                "notifyMerchant": false,
                "handle": hold_handle(hold)
            }
        }
    })
}

/// The GraphQL body of `fulfillmentOrderReleaseHold` for the given holds of one fulfillment order. The
/// hold ids are always sent: without them "all holds for the fulfillment order will be released", the
/// merchant's and other apps' included (2026-10 reference). Take them from [`OrderFulfillmentOrders::release_plan`].
/// Read the answer with [`parse_release`].
pub fn fulfillment_order_release_hold_request<S: AsRef<str>>(
    fulfillment_order_gid: &str,
    hold_ids: &[S],
) -> serde_json::Value {
    let hold_ids: Vec<&str> = hold_ids.iter().map(AsRef::as_ref).collect();
    serde_json::json!({
        "query": RELEASE_MUTATION,
        "variables": { "id": fulfillment_order_gid, "holdIds": hold_ids }
    })
}

/// `OrderCancelReason` (<https://shopify.dev/docs/api/admin-graphql/2024-04/enums/ordercancelreason>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderCancelReason {
    /// The buyer asked for it: a duplicate the buyer chose to cancel.
    Customer,
    Declined,
    Fraud,
    Inventory,
    /// A hold nobody answered before its deadline.
    Other,
    Staff,
}

impl OrderCancelReason {
    /// The value as the schema writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "CUSTOMER",
            Self::Declined => "DECLINED",
            Self::Fraud => "FRAUD",
            Self::Inventory => "INVENTORY",
            Self::Other => "OTHER",
            Self::Staff => "STAFF",
        }
    }
}

/// How a cancelled order is refunded: `OrderCancelRefundMethodInput { originalPaymentMethodsRefund,
/// storeCreditRefund { expiresAt } }` (2026-10 reference). Always sent: whether the argument may be left out
/// is not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundMethod {
    /// `{"originalPaymentMethodsRefund": true}`: back to how the buyer paid.
    OriginalPaymentMethods,
    /// `{"storeCreditRefund": {"expiresAt": …}}`: as store credit, expiring at the given time or never.
    StoreCredit { expires_at: Option<Timestamp> },
    /// `{"originalPaymentMethodsRefund": false}`: no refund. That `false` alone means "no refund" is read
    /// from the field's name, not from a Shopify page (unverified). Authorized but uncaptured payments are
    /// released on cancel whatever is chosen (`orderCancel`, unstable reference).
    NoRefund,
}

impl RefundMethod {
    fn to_input(self) -> serde_json::Value {
        match self {
            Self::OriginalPaymentMethods => serde_json::json!({ "originalPaymentMethodsRefund": true }),
            Self::NoRefund => serde_json::json!({ "originalPaymentMethodsRefund": false }),
            Self::StoreCredit { expires_at } => serde_json::json!({
                "storeCreditRefund": { "expiresAt": expires_at.map(|at| at.to_string()) }
            }),
        }
    }
}

/// The GraphQL body of `orderCancel` (2026-07 arguments, 2026-10 `jobResult`): `reason`, `refundMethod`,
/// `restock`, `staffNote` ("not visible to the customer"), and `notifyCustomer` false (mallguard mails the
/// buyer itself). "Order cancellation is irreversible", and the mutation is not idempotent: before a retry,
/// read the order again ([`fulfillment_orders_query`] gives `cancelledAt`). Read the answer with
/// [`parse_cancel`].
pub fn order_cancel_request(
    order_gid: &str,
    reason: OrderCancelReason,
    refund: RefundMethod,
    restock: bool,
    staff_note: &str,
) -> serde_json::Value {
    serde_json::json!({
        "query": CANCEL_MUTATION,
        "variables": {
            "orderId": order_gid,
            "notifyCustomer": false,
            "refundMethod": refund.to_input(),
            "restock": restock,
            "reason": reason.as_str(),
            "staffNote": staff_note.trim()
        }
    })
}

/// `FulfillmentOrderStatus` (2026-01 reference; ON_HOLD: "The fulfillment process can't be initiated until
/// the hold on the fulfillment order is released", CLOSED: completed and closed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FulfillmentOrderStatus {
    Cancelled,
    Closed,
    InProgress,
    Incomplete,
    OnHold,
    Open,
    Scheduled,
    /// A value the schema did not list when this was written, as sent (at most 60 characters).
    Other(String),
}

impl FulfillmentOrderStatus {
    fn parse(raw: &str) -> Self {
        match raw.trim() {
            "CANCELLED" => Self::Cancelled,
            "CLOSED" => Self::Closed,
            "IN_PROGRESS" => Self::InProgress,
            "INCOMPLETE" => Self::Incomplete,
            "ON_HOLD" => Self::OnHold,
            "OPEN" => Self::Open,
            "SCHEDULED" => Self::Scheduled,
            other => Self::Other(echo(other, CODE_ECHO)),
        }
    }

    /// The status as Shopify writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Cancelled => "CANCELLED",
            Self::Closed => "CLOSED",
            Self::InProgress => "IN_PROGRESS",
            Self::Incomplete => "INCOMPLETE",
            Self::OnHold => "ON_HOLD",
            Self::Open => "OPEN",
            Self::Scheduled => "SCHEDULED",
            Self::Other(raw) => raw,
        }
    }
}

impl fmt::Display for FulfillmentOrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An order's fulfillment orders as [`parse_fulfillment_orders`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFulfillmentOrders {
    /// The order's global id.
    pub order_gid: String,
    /// `cancelledAt` is set: the order is cancelled at Shopify.
    pub cancelled: bool,
    pub fulfillment_orders: Vec<FulfillmentOrder>,
    /// `pageInfo.hasNextPage`: the order has more than the 25 fulfillment orders read. Nothing mallguard
    /// meets; alert the staff rather than hold part of the order.
    pub more: bool,
}

/// One fulfillment order (the part of an order one location ships).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentOrder {
    /// Its global id (`gid://shopify/FulfillmentOrder/…`).
    pub gid: String,
    pub status: FulfillmentOrderStatus,
    /// `HOLD` is among its `supportedActions`: `fulfillmentOrderHold` may be called.
    pub can_hold: bool,
    /// `RELEASE_HOLD` is among its `supportedActions`: `fulfillmentOrderReleaseHold` may be called.
    pub can_release: bool,
    /// Every hold on it, mallguard's and others'.
    pub holds: Vec<FulfillmentHold>,
}

/// A hold on a fulfillment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfillmentHold {
    /// Its global id (`gid://shopify/FulfillmentHold/…`), what `fulfillmentOrderReleaseHold` takes.
    pub gid: String,
    /// The handle the app that placed it gave (empty for a hold placed without one).
    pub handle: String,
}

impl FulfillmentOrder {
    /// The ids of the holds mallguard placed for `hold` (those with its [`hold_handle`]).
    pub fn our_hold_ids(&self, hold: &HoldId) -> Vec<&str> {
        let handle = hold_handle(hold);
        self.holds
            .iter()
            .filter(|h| h.handle == handle)
            .map(|h| h.gid.as_str())
            .collect()
    }
}

/// What to do to hold an order at Shopify, from its fulfillment orders ([`OrderFulfillmentOrders::hold_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldPlan {
    /// Send [`fulfillment_order_hold_request`] for each of these fulfillment orders. `cannot_hold` lists
    /// those that are already shipping or shipped (no `HOLD` action): tell the staff.
    Hold {
        fulfillment_orders: Vec<String>,
        cannot_hold: Vec<String>,
    },
    /// Every fulfillment order that can carry mallguard's hold carries it already (a retry after a lost
    /// answer): done, with these hold ids. `cannot_hold` as for [`HoldPlan::Hold`].
    AlreadyHeld {
        hold_ids: Vec<String>,
        cannot_hold: Vec<String>,
    },
    /// No fulfillment orders yet. "When an order is created, it typically has zero fulfillment orders" until
    /// Shopify assigns its items to a location; "add a short delay of about five minutes"
    /// (<https://help.shopify.com/en/manual/shopify-flow/reference/actions/release-fulfillment-hold>).
    /// Retry later.
    NotYetAssigned,
    /// Nothing can be held: each open fulfillment order is being fulfilled or is fulfilled (`CLOSED`), with
    /// no `HOLD` action. Too late, for good; these are their ids (empty when every one is cancelled).
    TooLate { cannot_hold: Vec<String> },
    /// The order is cancelled at Shopify: nothing to hold.
    OrderCancelled,
}

impl HoldPlan {
    /// Whether to try again later rather than report the outcome.
    pub fn retry_later(&self) -> bool {
        matches!(self, HoldPlan::NotYetAssigned)
    }
}

/// The holds to release for one fulfillment order ([`OrderFulfillmentOrders::release_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTarget {
    pub fulfillment_order_gid: String,
    pub hold_ids: Vec<String>,
}

impl OrderFulfillmentOrders {
    /// Which fulfillment orders to put mallguard's `hold` on: each one whose `supportedActions` has `HOLD`
    /// and that does not carry the hold yet. A fulfillment order that cannot be held is skipped when it is
    /// `CANCELLED` (nothing will ship from it) and reported otherwise (research notes §1.3: "if an FO is
    /// CLOSED/IN_PROGRESS … and has no HOLD, report too late").
    pub fn hold_plan(&self, hold: &HoldId) -> HoldPlan {
        if self.cancelled {
            return HoldPlan::OrderCancelled;
        }
        if self.fulfillment_orders.is_empty() {
            return HoldPlan::NotYetAssigned;
        }
        let (mut to_hold, mut held, mut cannot_hold) = (Vec::new(), Vec::new(), Vec::new());
        for fo in &self.fulfillment_orders {
            let ours = fo.our_hold_ids(hold);
            if !ours.is_empty() {
                held.extend(ours.into_iter().map(str::to_owned));
            } else if fo.can_hold {
                to_hold.push(fo.gid.clone());
            } else if fo.status != FulfillmentOrderStatus::Cancelled {
                cannot_hold.push(fo.gid.clone());
            }
        }
        if !to_hold.is_empty() {
            HoldPlan::Hold {
                fulfillment_orders: to_hold,
                cannot_hold,
            }
        } else if !held.is_empty() {
            HoldPlan::AlreadyHeld {
                hold_ids: held,
                cannot_hold,
            }
        } else {
            HoldPlan::TooLate { cannot_hold }
        }
    }

    /// The holds mallguard placed for `hold`, per fulfillment order, to pass to
    /// [`fulfillment_order_release_hold_request`]. Empty when none is left: the release is done (what
    /// Shopify answers to releasing a hold twice is not verified, so a retry reads the holds again first).
    pub fn release_plan(&self, hold: &HoldId) -> Vec<ReleaseTarget> {
        self.fulfillment_orders
            .iter()
            .filter_map(|fo| {
                let hold_ids: Vec<String> = fo.our_hold_ids(hold).into_iter().map(str::to_owned).collect();
                (!hold_ids.is_empty()).then(|| ReleaseTarget {
                    fulfillment_order_gid: fo.gid.clone(),
                    hold_ids,
                })
            })
            .collect()
    }
}

/// One entry of `userErrors` or `orderCancelUserErrors` (`{ code, field, message }`), the texts cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The error code, such as `FULFILLMENT_ORDER_NOT_FOUND` or `INVALID`; null for some errors.
    pub code: Option<String>,
    /// The path of the input field, such as `["fulfillmentHold", "handle"]`.
    pub field: Vec<String>,
    pub message: String,
}

/// Shopify refused the mutation: the user errors of an HTTP 200 answer (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub errors: Vec<UserError>,
}

impl Refusal {
    /// The first error's code.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().and_then(|e| e.code.as_deref())
    }

    /// Whether the refusal may pass. Only `INTERNAL_ERROR` of `orderCancel` is taken as passing (the code's
    /// name, not documented as such (an inference)); every other user error is for good, as the research notes
    /// say (`FULFILLMENT_ORDER_NOT_FOUND`, `INVALID_ACCESS`, `DUPLICATED_FULFILLMENT_ORDER_LINE_ITEMS`,
    /// `FULFILLMENT_ORDER_HOLD_LIMIT_REACHED`, `INVALID`, `NOT_FOUND`, `NO_REFUND_PERMISSION`, …). An
    /// already cancelled order has no code of its own (likely `INVALID`, unverified): read `cancelledAt`
    /// again to tell it from a real refusal.
    pub fn retry_later(&self) -> bool {
        !self.errors.is_empty() && self.errors.iter().all(|e| e.code.as_deref() == Some("INTERNAL_ERROR"))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().take(3).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(error.code.as_deref().unwrap_or("no code"))?;
            if !error.field.is_empty() {
                write!(f, " ({})", error.field.join("."))?;
            }
            write!(f, ": {}", error.message)?;
        }
        if self.errors.len() > 3 {
            write!(f, "; and {} more", self.errors.len() - 3)?;
        }
        Ok(())
    }
}

/// What [`parse_hold`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOutcome {
    /// The hold was placed: its id (keep it for the release), and the fulfillment order's new status.
    Held {
        hold_id: String,
        fulfillment_order_status: Option<FulfillmentOrderStatus>,
    },
    /// `DUPLICATE_FULFILLMENT_HOLD_HANDLE`: the fulfillment order already carries a hold with mallguard's
    /// handle (a retry after a lost answer). Success; read the fulfillment orders again for the hold id.
    AlreadyHeld,
    Refused(Refusal),
}

/// What [`parse_release`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released; the fulfillment order's status after it (`OPEN` once the last hold is gone).
    Released {
        fulfillment_order_status: Option<FulfillmentOrderStatus>,
    },
    Refused(Refusal),
}

/// `OrderCancelStatus` of the 2026-10 `jobResult` (`FAILED`, `STARTED`, `SUCCEEDED`, unstable reference).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CancelJobStatus {
    Started,
    Succeeded,
    Failed,
    /// A value the schema did not list when this was written, as sent (at most 60 characters).
    Other(String),
}

impl CancelJobStatus {
    fn parse(raw: &str) -> Self {
        match raw.trim() {
            "STARTED" => Self::Started,
            "SUCCEEDED" => Self::Succeeded,
            "FAILED" => Self::Failed,
            other => Self::Other(echo(other, CODE_ECHO)),
        }
    }
}

/// What [`parse_cancel`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Shopify took the cancellation: it runs as a job. `job_id` (the `jobResult` id, else the `job` id) is
    /// the reference to keep; `status` is the 2026-10 `jobResult.status` when the answer has it, and `done`
    /// whether the job has finished. Completion also arrives as the `orders/cancelled` webhook mallguard
    /// already reads.
    Accepted {
        job_id: Option<String>,
        status: Option<CancelJobStatus>,
        done: bool,
    },
    /// `orderCancelUserErrors`, or a `jobResult` with status `FAILED` and its `errors`.
    Refused(Refusal),
}

/// Reads the answer to [`fulfillment_orders_query`]. None when `data.order` is null: no such order in this
/// shop (or the app may not read it). The action moves on with
/// [`OrderFulfillmentOrders::hold_plan`] or [`OrderFulfillmentOrders::release_plan`].
///
/// An answer without `data` (a throttled one, say) is [`ParseError::Invalid`] naming the top-level
/// errors; classify it with [`ActionFailure::classify`] first. Errors name the field by its path.
pub fn parse_fulfillment_orders(body: &[u8]) -> Result<Option<OrderFulfillmentOrders>, ParseError> {
    let answer: WireAnswer<WireOrderData> = decode(body)?;
    let data = answer.data.ok_or_else(|| missing("data", &answer.errors))?;
    let Some(order) = data.order else {
        return Ok(None);
    };
    let connection = order.fulfillment_orders;
    let more = connection.page_info.as_ref().is_some_and(|p| p.has_next_page);
    let (path, nodes) = match (connection.nodes, connection.edges) {
        (Some(nodes), _) => ("data.order.fulfillmentOrders.nodes", nodes),
        (None, Some(edges)) => (
            "data.order.fulfillmentOrders.edges",
            edges.into_iter().map(|e| e.node).collect(),
        ),
        (None, None) => {
            return Err(ParseError::field(
                "data.order.fulfillmentOrders",
                "has neither nodes nor edges",
            ));
        }
    };
    let fulfillment_orders = nodes
        .into_iter()
        .enumerate()
        .map(|(i, fo)| fo.into_fulfillment_order(&format!("{path}[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(OrderFulfillmentOrders {
        order_gid: gid(&order.id, "data.order.id")?,
        cancelled: non_empty(order.cancelled_at.as_deref()).is_some(),
        fulfillment_orders,
        more,
    }))
}

/// Reads the answer to [`fulfillment_order_hold_request`]: the hold created, the idempotent
/// [`HoldOutcome::AlreadyHeld`], or the refusal. An answer without the payload is
/// [`ParseError::Invalid`] naming the top-level errors.
pub fn parse_hold(body: &[u8]) -> Result<HoldOutcome, ParseError> {
    const PAYLOAD: &str = "data.fulfillmentOrderHold";
    let answer: WireAnswer<WireHoldData> = decode(body)?;
    let payload = answer
        .data
        .and_then(|d| d.payload)
        .ok_or_else(|| missing(PAYLOAD, &answer.errors))?;
    if !payload.user_errors.is_empty() {
        let refusal = refusal(&payload.user_errors);
        if refusal
            .errors
            .iter()
            .all(|e| e.code.as_deref() == Some(DUPLICATE_HANDLE))
        {
            return Ok(HoldOutcome::AlreadyHeld);
        }
        return Ok(HoldOutcome::Refused(refusal));
    }
    let hold = payload.fulfillment_hold.ok_or_else(|| {
        ParseError::field(
            &format!("{PAYLOAD}.fulfillmentHold"),
            "null although there are no userErrors",
        )
    })?;
    Ok(HoldOutcome::Held {
        hold_id: gid(&hold.id, &format!("{PAYLOAD}.fulfillmentHold.id"))?,
        fulfillment_order_status: payload
            .fulfillment_order
            .and_then(|fo| fo.status)
            .map(|s| FulfillmentOrderStatus::parse(&s)),
    })
}

/// Reads the answer to [`fulfillment_order_release_hold_request`]. An answer without the payload is
/// [`ParseError::Invalid`] naming the top-level errors.
pub fn parse_release(body: &[u8]) -> Result<ReleaseOutcome, ParseError> {
    let answer: WireAnswer<WireReleaseData> = decode(body)?;
    let payload = answer
        .data
        .and_then(|d| d.payload)
        .ok_or_else(|| missing("data.fulfillmentOrderReleaseHold", &answer.errors))?;
    if !payload.user_errors.is_empty() {
        return Ok(ReleaseOutcome::Refused(refusal(&payload.user_errors)));
    }
    Ok(ReleaseOutcome::Released {
        fulfillment_order_status: payload
            .fulfillment_order
            .and_then(|fo| fo.status)
            .map(|s| FulfillmentOrderStatus::parse(&s)),
    })
}

/// Reads the answer to [`order_cancel_request`]: accepted (a job), or refused by `orderCancelUserErrors`
/// (the deprecated `userErrors` too, should an answer carry them) or by a `FAILED` `jobResult`. An answer
/// with neither a job nor errors is [`ParseError::Invalid`].
pub fn parse_cancel(body: &[u8]) -> Result<CancelOutcome, ParseError> {
    const PAYLOAD: &str = "data.orderCancel";
    let answer: WireAnswer<WireCancelData> = decode(body)?;
    let payload = answer
        .data
        .and_then(|d| d.payload)
        .ok_or_else(|| missing(PAYLOAD, &answer.errors))?;
    let user_errors: Vec<WireUserError> = payload
        .order_cancel_user_errors
        .into_iter()
        .chain(payload.user_errors)
        .collect();
    if !user_errors.is_empty() {
        return Ok(CancelOutcome::Refused(refusal(&user_errors)));
    }
    let status = payload
        .job_result
        .as_ref()
        .and_then(|r| r.status.as_deref())
        .map(CancelJobStatus::parse);
    if status == Some(CancelJobStatus::Failed) {
        let errors = payload.job_result.map(|r| r.errors).unwrap_or_default();
        let refusal = if errors.is_empty() {
            Refusal {
                errors: vec![UserError {
                    code: None,
                    field: vec![],
                    message: "the cancel job failed without errors".into(),
                }],
            }
        } else {
            refusal(&errors)
        };
        return Ok(CancelOutcome::Refused(refusal));
    }
    let job_id = payload
        .job_result
        .as_ref()
        .and_then(|r| non_empty(r.id.as_deref()))
        .map(|id| (id, "jobResult.id"))
        .or_else(|| {
            payload
                .job
                .as_ref()
                .and_then(|j| non_empty(j.id.as_deref()))
                .map(|id| (id, "job.id"))
        })
        .map(|(id, field)| gid(id, &format!("{PAYLOAD}.{field}")))
        .transpose()?;
    if job_id.is_none() && payload.job_result.is_none() && payload.job.is_none() {
        return Err(ParseError::field(
            PAYLOAD,
            "neither job nor jobResult, and no orderCancelUserErrors",
        ));
    }
    let done = payload.job_result.as_ref().and_then(|r| r.done).unwrap_or(false)
        || payload.job.as_ref().and_then(|j| j.done).unwrap_or(false);
    Ok(CancelOutcome::Accepted { job_id, status, done })
}

/// The one user error that means success: the hold with mallguard's handle is already there.
const DUPLICATE_HANDLE: &str = "DUPLICATE_FULFILLMENT_HOLD_HANDLE";

/// The GraphQL envelope: `data`, and `errors` read leniently (a list of `{message, extensions: {code}}`, or
/// the plain string some HTTP errors carry).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct WireAnswer<T> {
    #[serde(default)]
    data: Option<T>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct WireOrderData {
    #[serde(default)]
    order: Option<WireFoOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFoOrder {
    id: String,
    #[serde(default)]
    cancelled_at: Option<String>,
    fulfillment_orders: WireConnection<WireFulfillmentOrder>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct WireConnection<T> {
    #[serde(default)]
    nodes: Option<Vec<T>>,
    #[serde(default)]
    edges: Option<Vec<WireEdge<T>>>,
    #[serde(default)]
    page_info: Option<WirePageInfo>,
}

#[derive(Debug, Deserialize)]
struct WireEdge<T> {
    node: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePageInfo {
    #[serde(default)]
    has_next_page: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFulfillmentOrder {
    id: String,
    status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    supported_actions: Vec<WireSupportedAction>,
    #[serde(default, deserialize_with = "null_as_default")]
    fulfillment_holds: Vec<WireFulfillmentHold>,
}

#[derive(Debug, Deserialize)]
struct WireSupportedAction {
    action: String,
}

#[derive(Debug, Deserialize)]
struct WireFulfillmentHold {
    id: String,
    #[serde(default)]
    handle: Option<String>,
}

impl WireFulfillmentOrder {
    fn into_fulfillment_order(self, path: &str) -> Result<FulfillmentOrder, ParseError> {
        let has = |action: &str| self.supported_actions.iter().any(|a| a.action.trim() == action);
        let holds = self
            .fulfillment_holds
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Ok(FulfillmentHold {
                    gid: gid(&h.id, &format!("{path}.fulfillmentHolds[{i}].id"))?,
                    handle: echo(h.handle.as_deref().unwrap_or_default().trim(), CODE_ECHO),
                })
            })
            .collect::<Result<Vec<_>, ParseError>>()?;
        Ok(FulfillmentOrder {
            gid: gid(&self.id, &format!("{path}.id"))?,
            status: FulfillmentOrderStatus::parse(&self.status),
            can_hold: has("HOLD"),
            can_release: has("RELEASE_HOLD"),
            holds,
        })
    }
}

#[derive(Debug, Deserialize)]
struct WireHoldData {
    #[serde(rename = "fulfillmentOrderHold", default)]
    payload: Option<WireHoldPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireHoldPayload {
    #[serde(default)]
    fulfillment_hold: Option<WireFulfillmentHold>,
    #[serde(default)]
    fulfillment_order: Option<WireFulfillmentOrderRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    user_errors: Vec<WireUserError>,
}

#[derive(Debug, Deserialize)]
struct WireFulfillmentOrderRef {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireReleaseData {
    #[serde(rename = "fulfillmentOrderReleaseHold", default)]
    payload: Option<WireReleasePayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireReleasePayload {
    #[serde(default)]
    fulfillment_order: Option<WireFulfillmentOrderRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    user_errors: Vec<WireUserError>,
}

#[derive(Debug, Deserialize)]
struct WireCancelData {
    #[serde(rename = "orderCancel", default)]
    payload: Option<WireCancelPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCancelPayload {
    #[serde(default)]
    job: Option<WireJob>,
    #[serde(default)]
    job_result: Option<WireJobResult>,
    #[serde(default, deserialize_with = "null_as_default")]
    order_cancel_user_errors: Vec<WireUserError>,
    #[serde(default, deserialize_with = "null_as_default")]
    user_errors: Vec<WireUserError>,
}

#[derive(Debug, Deserialize)]
struct WireJob {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    done: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct WireJobResult {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    done: Option<bool>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    errors: Vec<WireUserError>,
}

/// `{ code, field, message }` of every user error type read here.
#[derive(Debug, Clone, Deserialize)]
struct WireUserError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    field: Vec<String>,
    #[serde(default)]
    message: Option<String>,
}

fn refusal(errors: &[WireUserError]) -> Refusal {
    Refusal {
        errors: errors
            .iter()
            .take(MAX_LISTED)
            .map(|e| UserError {
                code: non_empty(e.code.as_deref()).map(|c| echo(c, CODE_ECHO)),
                field: e.field.iter().take(MAX_LISTED).map(|f| echo(f, CODE_ECHO)).collect(),
                message: echo(non_empty(e.message.as_deref()).unwrap_or_default(), MESSAGE_ECHO),
            })
            .collect(),
    }
}

/// At most `max` characters of a text a mall sent.
fn echo(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A global id as read: trimmed, `gid://…`, at most [`MAX_GID`] characters.
fn gid(raw: &str, field: &str) -> Result<String, ParseError> {
    let id = raw.trim();
    if !id.starts_with("gid://") {
        return Err(ParseError::field(
            field,
            format_args!("{:?} is not a global id (gid://…)", echo(id, CODE_ECHO)),
        ));
    }
    if id.chars().count() > MAX_GID {
        return Err(ParseError::field(
            field,
            format_args!("is longer than {MAX_GID} characters"),
        ));
    }
    Ok(id.to_owned())
}

/// The answer lacks `what`; say which top-level errors it carries instead.
fn missing(what: &str, errors: &Option<serde_json::Value>) -> ParseError {
    let errors = errors.as_ref().map(graphql_errors).unwrap_or_default();
    if errors.is_empty() {
        ParseError::field(what, "missing")
    } else {
        let listed: Vec<String> = errors
            .iter()
            .take(3)
            .map(|e| format!("{} ({})", e.code.as_deref().unwrap_or("no code"), e.message))
            .collect();
        ParseError::field(
            what,
            format_args!("missing; the answer carries errors: {}", listed.join(", ")),
        )
    }
}

/// A top-level GraphQL error: `message`, and `extensions.code` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GraphqlError {
    code: Option<String>,
    message: String,
}

/// The top-level `errors`: a list of `{message, extensions: {code}}` (<https://shopify.dev/changelog/improved-graphql-errors>),
/// or one string as in a 401's `{"errors": "[API] Invalid API key or access token …"}`.
fn graphql_errors(errors: &serde_json::Value) -> Vec<GraphqlError> {
    match errors {
        serde_json::Value::String(message) => vec![GraphqlError {
            code: None,
            message: echo(message.trim(), MESSAGE_ECHO),
        }],
        serde_json::Value::Array(list) => list
            .iter()
            .take(MAX_LISTED)
            .map(|e| GraphqlError {
                code: e
                    .pointer("/extensions/code")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|c| non_empty(Some(c)))
                    .map(|c| echo(c, CODE_ECHO)),
                message: echo(
                    e.get("message")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .trim(),
                    MESSAGE_ECHO,
                ),
            })
            .collect(),
        serde_json::Value::Null => vec![],
        other => vec![GraphqlError {
            code: None,
            message: echo(&other.to_string(), MESSAGE_ECHO),
        }],
    }
}

/// What an unsuccessful Admin GraphQL answer means for a mall action, shared by every call above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFailure {
    /// HTTP 429 or 503 (what Shopify's client retries), or `errors[].extensions.code` `THROTTLED` whatever
    /// the status (which status a throttled GraphQL answer has is not documented). Retry after `retry_after`:
    /// `(requestedQueryCost − currentlyAvailable) / restoreRate` seconds from `extensions.cost`, rounded up
    /// (at least a second), else a second.
    Throttled { retry_after: jiff::SignedDuration },
    /// HTTP 401 (credentials missing or wrong) or 403 (a scope or permission missing): for good until the
    /// app is installed again or given the scope. `message` is Shopify's, cut short.
    Unauthorized { status: u16, message: Option<String> },
    /// HTTP 5xx, or `INTERNAL_SERVER_ERROR`: Shopify's trouble. Retry later.
    Unavailable { status: u16, code: Option<String> },
    /// The mutation's user errors in an HTTP 200 (`userErrors`, `orderCancelUserErrors`, a `FAILED`
    /// `jobResult`); [`Refusal::retry_later`] says which may pass.
    Refused(Refusal),
    /// Any other HTTP status (400 bad request, 402 payment required, 404, 423 locked store, …) or top-level
    /// GraphQL error (a query the schema refuses): for good; the staff must look.
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
}

impl ActionFailure {
    /// The failure an Admin GraphQL answer stands for; None for an HTTP 2xx with neither top-level errors
    /// nor user errors, which the call's parser then reads. A `DUPLICATE_FULFILLMENT_HOLD_HANDLE` user error
    /// is no failure: [`parse_hold`] reads it as [`HoldOutcome::AlreadyHeld`].
    ///
    /// The body is read leniently and never fails: one that is not JSON, or nests deeper than
    /// [`crate::MAX_DEPTH`], is classified by the status alone.
    pub fn classify(status: u16, body: &[u8]) -> Option<ActionFailure> {
        let value = crate::check_shape(body)
            .ok()
            .and_then(|()| serde_json::from_slice::<serde_json::Value>(body).ok());
        let errors = value
            .as_ref()
            .and_then(|v| v.get("errors"))
            .map(graphql_errors)
            .unwrap_or_default();
        let has_code = |code: &str| errors.iter().any(|e| e.code.as_deref() == Some(code));
        let first = errors.first();
        if matches!(status, 429 | 503) || has_code("THROTTLED") {
            return Some(ActionFailure::Throttled {
                retry_after: throttle_wait(value.as_ref()),
            });
        }
        if (500..=599).contains(&status) || has_code("INTERNAL_SERVER_ERROR") {
            return Some(ActionFailure::Unavailable {
                status,
                code: errors.iter().find_map(|e| e.code.clone()),
            });
        }
        if matches!(status, 401 | 403) {
            return Some(ActionFailure::Unauthorized {
                status,
                message: first.map(|e| e.message.clone()).filter(|m| !m.is_empty()),
            });
        }
        if !(200..=299).contains(&status) || first.is_some() {
            return Some(ActionFailure::Rejected {
                status,
                code: first.and_then(|e| e.code.clone()),
                message: first
                    .map(|e| e.message.clone())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("HTTP {status}")),
            });
        }
        let user_errors = value.as_ref().map(user_errors).unwrap_or_default();
        let user_errors: Vec<WireUserError> = user_errors
            .into_iter()
            .filter(|e| e.code.as_deref() != Some(DUPLICATE_HANDLE))
            .collect();
        (!user_errors.is_empty()).then(|| ActionFailure::Refused(refusal(&user_errors)))
    }

    /// Raises the wait of a [`ActionFailure::Throttled`] to what the answer's `Retry-After` header asks
    /// (seconds, such as `2` or `2.0`); anything else is returned as it is.
    pub fn with_retry_after(self, header: Option<&str>) -> Self {
        let asked = header
            .and_then(|h| h.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| jiff::SignedDuration::from_secs(s.min(MAX_THROTTLE_WAIT.as_secs() as f64).ceil() as i64));
        match (self, asked) {
            (ActionFailure::Throttled { retry_after }, Some(asked)) => ActionFailure::Throttled {
                retry_after: retry_after.max(asked),
            },
            (other, _) => other,
        }
    }

    /// Whether the action may succeed if tried again later (throttled, Shopify unavailable, a passing
    /// refusal); otherwise the staff must be told.
    pub fn retry_later(&self) -> bool {
        match self {
            ActionFailure::Throttled { .. } | ActionFailure::Unavailable { .. } => true,
            ActionFailure::Refused(refusal) => refusal.retry_later(),
            ActionFailure::Unauthorized { .. } | ActionFailure::Rejected { .. } => false,
        }
    }
}

impl fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionFailure::Throttled { retry_after } => {
                write!(f, "Shopify throttled the call; retry in {}s", retry_after.as_secs())
            }
            ActionFailure::Unauthorized { status, message } => write!(
                f,
                "Shopify refused the credentials (HTTP {status}): {}",
                message.as_deref().unwrap_or("no message")
            ),
            ActionFailure::Unavailable { status, code } => write!(
                f,
                "Shopify is unavailable (HTTP {status}, {})",
                code.as_deref().unwrap_or("no code")
            ),
            ActionFailure::Refused(refusal) => write!(f, "Shopify refused: {refusal}"),
            ActionFailure::Rejected { status, code, message } => write!(
                f,
                "Shopify rejected the call (HTTP {status}, {}): {message}",
                code.as_deref().unwrap_or("no code")
            ),
        }
    }
}

impl From<ActionFailure> for mallguard_domain::action::ActionError {
    /// What the action outbox does with it: try again later (with Shopify's wait), or tell the staff.
    fn from(failure: ActionFailure) -> Self {
        let message = failure.to_string();
        if failure.retry_later() {
            let retry_after = match failure {
                ActionFailure::Throttled { retry_after } => Some(retry_after),
                _ => None,
            };
            mallguard_domain::action::ActionError::Later { message, retry_after }
        } else {
            mallguard_domain::action::ActionError::Refused(message)
        }
    }
}

/// Every user error of the answer's mutation payloads (`data.<mutation>.userErrors`,
/// `.orderCancelUserErrors`, and `.jobResult.errors` of a `FAILED` job).
fn user_errors(value: &serde_json::Value) -> Vec<WireUserError> {
    let Some(data) = value.get("data").and_then(serde_json::Value::as_object) else {
        return vec![];
    };
    let read = |list: Option<&serde_json::Value>| -> Vec<WireUserError> {
        list.and_then(serde_json::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .take(MAX_LISTED)
                    .filter_map(|e| serde_json::from_value::<WireUserError>(e.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for payload in data.values() {
        found.extend(read(payload.get("userErrors")));
        found.extend(read(payload.get("orderCancelUserErrors")));
        if payload.pointer("/jobResult/status").and_then(serde_json::Value::as_str) == Some("FAILED") {
            let errors = read(payload.pointer("/jobResult/errors"));
            if errors.is_empty() {
                found.push(WireUserError {
                    code: None,
                    field: vec![],
                    message: Some("the cancel job failed without errors".into()),
                });
            }
            found.extend(errors);
        }
    }
    found
}

/// The wait `extensions.cost` suggests after a throttled answer: `(requestedQueryCost − currentlyAvailable)
/// / restoreRate` seconds, rounded up, between a second and [`MAX_THROTTLE_WAIT`]. The field names are
/// Shopify's (<https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>); the formula is the
/// research notes' reading of the leaky bucket (an inference).
fn throttle_wait(value: Option<&serde_json::Value>) -> jiff::SignedDuration {
    let cost = value.and_then(|v| v.pointer("/extensions/cost"));
    let number = |pointer: &str| {
        cost.and_then(|c| c.pointer(pointer))
            .and_then(serde_json::Value::as_f64)
            .filter(|n| n.is_finite())
    };
    match (
        number("/requestedQueryCost"),
        number("/throttleStatus/currentlyAvailable"),
        number("/throttleStatus/restoreRate"),
    ) {
        (Some(requested), Some(available), Some(rate)) if rate > 0.0 => {
            let seconds = ((requested - available) / rate).ceil();
            let seconds = seconds.clamp(1.0, MAX_THROTTLE_WAIT.as_secs() as f64);
            jiff::SignedDuration::from_secs(seconds as i64)
        }
        _ => DEFAULT_THROTTLE_WAIT,
    }
}

#[cfg(test)]
mod graphql_tests {
    use mallguard_domain::action::ActionError;
    use serde_json::{Value, json};

    use super::*;
    use crate::MAX_DEPTH;

    fn read(path: &str) -> Vec<u8> {
        let full = format!("{}/../../events/shopify/graphql/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&full).unwrap_or_else(|e| panic!("events/shopify/graphql/{path}: {e}"))
    }

    /// The sample edited by `edit`.
    fn edited(path: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut value: Value = serde_json::from_slice(&read(path)).unwrap();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    /// The hold on the duplicate #1002 of `events/shopify/orders-create-duplicate.json`.
    fn hold() -> HoldId {
        let order = OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka-shop").unwrap(),
            OrderId::parse("5678901234567890456").unwrap(),
        );
        HoldId::for_order(&order)
    }

    fn fulfillment_orders(path: &str) -> OrderFulfillmentOrders {
        parse_fulfillment_orders(&read(path)).unwrap().unwrap()
    }

    fn invalid<T: fmt::Debug>(result: Result<T, ParseError>) -> String {
        match result {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const FO: &str = "gid://shopify/FulfillmentOrder/6012345678";

    #[test]
    fn every_sample_under_shopify_graphql_is_covered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/shopify/graphql");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "fulfillmentOrderHold-duplicate.json",
                "fulfillmentOrderHold-not-found.json",
                "fulfillmentOrderHold.json",
                "fulfillmentOrderReleaseHold-refused.json",
                "fulfillmentOrderReleaseHold.json",
                "fulfillmentOrders-held.json",
                "fulfillmentOrders-unassigned.json",
                "fulfillmentOrders.json",
                "internal-error.json",
                "orderCancel-refused.json",
                "orderCancel.json",
                "throttled.json",
            ],
            "a new sample needs a test and a line in events/README.md"
        );
    }

    #[test]
    fn the_endpoint_names_the_shop_and_the_pinned_version() {
        let shop = shop_id_from_domain("tanaka-shop.myshopify.com").unwrap();
        assert_eq!(
            graphql_url(&shop),
            "https://tanaka-shop.myshopify.com/admin/api/2026-10/graphql.json"
        );
        assert_eq!(ACCESS_TOKEN_HEADER, "X-Shopify-Access-Token");
    }

    #[test]
    fn the_order_gid_is_the_one_the_webhook_carries() {
        let webhook: Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../events/shopify/orders-create-duplicate.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let order = parse_order(
            &serde_json::to_vec(&webhook).unwrap(),
            &Topic::OrdersCreate,
            &ShopId::parse("tanaka-shop").unwrap(),
        )
        .unwrap();
        assert_eq!(
            order_gid(&order.order_ref.order_id).as_deref(),
            webhook["admin_graphql_api_id"].as_str()
        );
        assert_eq!(
            order_gid(&OrderId::parse("5678901234567890456").unwrap()).as_deref(),
            Some("gid://shopify/Order/5678901234567890456")
        );
        for not_numeric in ["#1002", "12a", "gid:x"] {
            assert_eq!(order_gid(&OrderId::parse(not_numeric).unwrap()), None, "{not_numeric}");
        }
    }

    #[test]
    fn the_hold_handle_is_fixed_per_hold_and_short_enough() {
        assert_eq!(hold_handle(&hold()), "mallguard-h26528c4c205a0bcea6dc");
        assert!(hold_handle(&hold()).len() <= MAX_HANDLE);
        let other = HoldId::for_order(&OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka-shop").unwrap(),
            OrderId::parse("5678901234567890123").unwrap(),
        ));
        assert_ne!(hold_handle(&other), hold_handle(&hold()));
    }

    #[test]
    fn the_fulfillment_orders_query_asks_for_status_actions_and_holds() {
        let body = fulfillment_orders_query("gid://shopify/Order/5678901234567890456");
        let back: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(
            back["variables"],
            json!({ "id": "gid://shopify/Order/5678901234567890456" })
        );
        let query = back["query"].as_str().unwrap();
        for part in [
            "query OrderFulfillmentOrders($id: ID!)",
            "order(id: $id)",
            "cancelledAt",
            "fulfillmentOrders(first: 25)",
            "pageInfo { hasNextPage }",
            "nodes { id status supportedActions { action } fulfillmentHolds { id handle } }",
        ] {
            assert!(query.contains(part), "{part} in {query}");
        }
        assert_eq!(back.as_object().unwrap().len(), 2, "query and variables only");
    }

    #[test]
    fn the_hold_request_is_other_unannounced_with_the_fixed_handle() {
        let body = fulfillment_order_hold_request(FO, &hold(), " 重複注文の疑い (#1001) — 購入者に確認中 ");
        let back: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(
            back["variables"],
            json!({
                "id": FO,
                "hold": {
                    "reason": "OTHER",
                    "reasonNotes": "重複注文の疑い (#1001) — 購入者に確認中",
                    "notifyMerchant": false,
                    "handle": "mallguard-h26528c4c205a0bcea6dc"
                }
            })
        );
        let query = back["query"].as_str().unwrap();
        assert!(query.starts_with("mutation Hold($id: ID!, $hold: FulfillmentOrderHoldInput!)"));
        assert!(query.contains("fulfillmentOrderHold(id: $id, fulfillmentHold: $hold)"));
        assert!(query.contains("fulfillmentHold { id handle reason }"));
        assert!(query.contains("userErrors { field message code }"));
        assert_eq!(
            body,
            fulfillment_order_hold_request(FO, &hold(), "重複注文の疑い (#1001) — 購入者に確認中"),
            "a retry sends the same request"
        );
    }

    #[test]
    fn the_release_request_names_the_holds_explicitly() {
        let body = fulfillment_order_release_hold_request(FO, &["gid://shopify/FulfillmentHold/777001"]);
        let back: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(
            back["variables"],
            json!({ "id": FO, "holdIds": ["gid://shopify/FulfillmentHold/777001"] })
        );
        let query = back["query"].as_str().unwrap();
        assert!(query.starts_with("mutation Release($id: ID!, $holdIds: [ID!])"));
        assert!(query.contains("fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds)"));
        let owned = vec!["gid://shopify/FulfillmentHold/1".to_owned()];
        assert_eq!(
            fulfillment_order_release_hold_request(FO, &owned)["variables"]["holdIds"],
            json!(["gid://shopify/FulfillmentHold/1"])
        );
    }

    #[test]
    fn the_cancel_request_carries_reason_refund_restock_and_a_silent_customer() {
        let order = "gid://shopify/Order/5678901234567890456";
        let body = order_cancel_request(
            order,
            OrderCancelReason::Customer,
            RefundMethod::OriginalPaymentMethods,
            true,
            "mallguard: 重複注文 (#1001 と同一) — 購入者がキャンセルを選択",
        );
        let back: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
        assert_eq!(
            back["variables"],
            json!({
                "orderId": order,
                "notifyCustomer": false,
                "refundMethod": { "originalPaymentMethodsRefund": true },
                "restock": true,
                "reason": "CUSTOMER",
                "staffNote": "mallguard: 重複注文 (#1001 と同一) — 購入者がキャンセルを選択"
            })
        );
        let query = back["query"].as_str().unwrap();
        for part in [
            "$refundMethod: OrderCancelRefundMethodInput!",
            "$restock: Boolean!",
            "$reason: OrderCancelReason!",
            "orderCancel(orderId: $orderId, notifyCustomer: $notifyCustomer, refundMethod: $refundMethod, \
             restock: $restock, reason: $reason, staffNote: $staffNote)",
            "jobResult { id done status errors { field message code } }",
            "orderCancelUserErrors { field message code }",
        ] {
            assert!(query.contains(part), "{part} in {query}");
        }

        let no_refund = order_cancel_request(order, OrderCancelReason::Other, RefundMethod::NoRefund, false, "");
        assert_eq!(
            no_refund["variables"]["refundMethod"],
            json!({ "originalPaymentMethodsRefund": false })
        );
        assert_eq!(no_refund["variables"]["reason"], "OTHER");
        assert_eq!(no_refund["variables"]["restock"], false);
        let expires_at: Timestamp = "2027-11-23T00:00:00Z".parse().unwrap();
        let credit = order_cancel_request(
            order,
            OrderCancelReason::Staff,
            RefundMethod::StoreCredit {
                expires_at: Some(expires_at),
            },
            true,
            "",
        );
        assert_eq!(
            credit["variables"]["refundMethod"],
            json!({ "storeCreditRefund": { "expiresAt": "2027-11-23T00:00:00Z" } })
        );
        let forever = order_cancel_request(
            order,
            OrderCancelReason::Staff,
            RefundMethod::StoreCredit { expires_at: None },
            true,
            "",
        );
        assert_eq!(
            forever["variables"]["refundMethod"],
            json!({ "storeCreditRefund": { "expiresAt": null } })
        );
        let reasons = [
            OrderCancelReason::Customer,
            OrderCancelReason::Declined,
            OrderCancelReason::Fraud,
            OrderCancelReason::Inventory,
            OrderCancelReason::Other,
            OrderCancelReason::Staff,
        ];
        assert_eq!(
            reasons.map(OrderCancelReason::as_str),
            ["CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF"]
        );
    }

    #[test]
    fn an_open_fulfillment_order_is_read_and_planned_for_a_hold() {
        let order = fulfillment_orders("fulfillmentOrders.json");
        assert_eq!(order.order_gid, "gid://shopify/Order/5678901234567890456");
        assert!(!order.cancelled);
        assert!(!order.more);
        assert_eq!(
            order.fulfillment_orders,
            [FulfillmentOrder {
                gid: FO.into(),
                status: FulfillmentOrderStatus::Open,
                can_hold: true,
                can_release: false,
                holds: vec![],
            }]
        );
        assert_eq!(
            order.hold_plan(&hold()),
            HoldPlan::Hold {
                fulfillment_orders: vec![FO.into()],
                cannot_hold: vec![]
            }
        );
        assert!(order.release_plan(&hold()).is_empty(), "nothing of ours to release");
    }

    #[test]
    fn a_held_order_shows_our_hold_and_releases_only_it() {
        let order = fulfillment_orders("fulfillmentOrders-held.json");
        let held = &order.fulfillment_orders[0];
        assert_eq!(held.status, FulfillmentOrderStatus::OnHold);
        assert!(held.can_hold && held.can_release);
        assert_eq!(held.holds.len(), 2);
        assert_eq!(held.our_hold_ids(&hold()), ["gid://shopify/FulfillmentHold/777001"]);
        let closed = &order.fulfillment_orders[1];
        assert_eq!(closed.status, FulfillmentOrderStatus::Closed);
        assert!(!closed.can_hold && !closed.can_release);
        assert_eq!(
            order.hold_plan(&hold()),
            HoldPlan::AlreadyHeld {
                hold_ids: vec!["gid://shopify/FulfillmentHold/777001".into()],
                cannot_hold: vec!["gid://shopify/FulfillmentOrder/6012345679".into()],
            }
        );
        assert_eq!(
            order.release_plan(&hold()),
            [ReleaseTarget {
                fulfillment_order_gid: FO.into(),
                hold_ids: vec!["gid://shopify/FulfillmentHold/777001".into()],
            }],
            "never the merchant's hold 777002"
        );
        let other = HoldId::for_order(&OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka-shop").unwrap(),
            OrderId::parse("1").unwrap(),
        ));
        assert!(order.release_plan(&other).is_empty());
    }

    #[test]
    fn a_new_order_without_fulfillment_orders_is_retried_later() {
        let order = fulfillment_orders("fulfillmentOrders-unassigned.json");
        assert!(order.fulfillment_orders.is_empty());
        let plan = order.hold_plan(&hold());
        assert_eq!(plan, HoldPlan::NotYetAssigned);
        assert!(plan.retry_later());
    }

    #[test]
    fn shipped_cancelled_and_missing_orders_are_planned_for_good() {
        let shipping = edited("fulfillmentOrders.json", |v| {
            let fo = &mut v["data"]["order"]["fulfillmentOrders"]["nodes"][0];
            fo["status"] = "IN_PROGRESS".into();
            fo["supportedActions"] = json!([{ "action": "CREATE_FULFILLMENT" }]);
        });
        let plan = parse_fulfillment_orders(&shipping).unwrap().unwrap().hold_plan(&hold());
        assert_eq!(
            plan,
            HoldPlan::TooLate {
                cannot_hold: vec![FO.into()]
            }
        );
        assert!(!plan.retry_later());
        let cancelled_fo = edited("fulfillmentOrders.json", |v| {
            let fo = &mut v["data"]["order"]["fulfillmentOrders"]["nodes"][0];
            fo["status"] = "CANCELLED".into();
            fo["supportedActions"] = json!([]);
        });
        assert_eq!(
            parse_fulfillment_orders(&cancelled_fo)
                .unwrap()
                .unwrap()
                .hold_plan(&hold()),
            HoldPlan::TooLate { cannot_hold: vec![] }
        );
        let cancelled = edited("fulfillmentOrders.json", |v| {
            v["data"]["order"]["cancelledAt"] = "2026-11-23T03:10:00Z".into();
        });
        assert_eq!(
            parse_fulfillment_orders(&cancelled)
                .unwrap()
                .unwrap()
                .hold_plan(&hold()),
            HoldPlan::OrderCancelled
        );
        let missing = br#"{"data": {"order": null}}"#;
        assert_eq!(parse_fulfillment_orders(missing).unwrap(), None);
    }

    #[test]
    fn edges_are_read_like_nodes_and_unknown_statuses_are_kept() {
        let edges = edited("fulfillmentOrders-held.json", |v| {
            let connection = &mut v["data"]["order"]["fulfillmentOrders"];
            let nodes = connection["nodes"].take();
            let edges: Vec<Value> = nodes.as_array().unwrap().iter().map(|n| json!({ "node": n })).collect();
            connection.as_object_mut().unwrap().remove("nodes");
            connection["edges"] = edges.into();
            connection["pageInfo"]["hasNextPage"] = true.into();
            connection["edges"][1]["node"]["status"] = "AWAITING_PICKUP".into();
        });
        let order = parse_fulfillment_orders(&edges).unwrap().unwrap();
        assert!(order.more);
        assert_eq!(order.fulfillment_orders.len(), 2);
        assert_eq!(order.fulfillment_orders[0].our_hold_ids(&hold()).len(), 1);
        assert_eq!(
            order.fulfillment_orders[1].status,
            FulfillmentOrderStatus::Other("AWAITING_PICKUP".into())
        );
        assert_eq!(order.fulfillment_orders[1].status.to_string(), "AWAITING_PICKUP");
    }

    #[test]
    fn a_hold_is_read_with_its_id() {
        let outcome = parse_hold(&read("fulfillmentOrderHold.json")).unwrap();
        assert_eq!(
            outcome,
            HoldOutcome::Held {
                hold_id: "gid://shopify/FulfillmentHold/777001".into(),
                fulfillment_order_status: Some(FulfillmentOrderStatus::OnHold),
            }
        );
        assert_eq!(ActionFailure::classify(200, &read("fulfillmentOrderHold.json")), None);
    }

    #[test]
    fn a_duplicate_handle_is_an_idempotent_success() {
        let body = read("fulfillmentOrderHold-duplicate.json");
        assert_eq!(parse_hold(&body).unwrap(), HoldOutcome::AlreadyHeld);
        assert_eq!(ActionFailure::classify(200, &body), None, "no failure");
        // With another error beside it, it is a refusal.
        let mixed = edited("fulfillmentOrderHold-duplicate.json", |v| {
            let errors = &mut v["data"]["fulfillmentOrderHold"]["userErrors"];
            errors
                .as_array_mut()
                .unwrap()
                .push(json!({ "field": ["id"], "message": "…", "code": "FULFILLMENT_ORDER_HOLD_LIMIT_REACHED" }));
        });
        let HoldOutcome::Refused(refusal) = parse_hold(&mixed).unwrap() else {
            panic!("a refusal")
        };
        assert_eq!(refusal.errors.len(), 2);
        assert!(matches!(
            ActionFailure::classify(200, &mixed),
            Some(ActionFailure::Refused(r)) if r.code() == Some("FULFILLMENT_ORDER_HOLD_LIMIT_REACHED")
        ));
    }

    #[test]
    fn a_hold_refused_by_user_errors_is_a_typed_refusal_for_good() {
        let body = read("fulfillmentOrderHold-not-found.json");
        let expected = Refusal {
            errors: vec![UserError {
                code: Some("FULFILLMENT_ORDER_NOT_FOUND".into()),
                field: vec!["id".into()],
                message: "Fulfillment order does not exist.".into(),
            }],
        };
        assert_eq!(parse_hold(&body).unwrap(), HoldOutcome::Refused(expected.clone()));
        assert!(!expected.retry_later());
        assert_eq!(
            expected.to_string(),
            "FULFILLMENT_ORDER_NOT_FOUND (id): Fulfillment order does not exist."
        );
        let failure = ActionFailure::classify(200, &body).unwrap();
        assert_eq!(failure, ActionFailure::Refused(expected));
        assert!(!failure.retry_later());
        assert_eq!(
            ActionError::from(failure),
            ActionError::Refused(
                "Shopify refused: FULFILLMENT_ORDER_NOT_FOUND (id): Fulfillment order does not exist.".into()
            )
        );
    }

    #[test]
    fn a_release_is_read_and_a_refused_release_is_typed() {
        assert_eq!(
            parse_release(&read("fulfillmentOrderReleaseHold.json")).unwrap(),
            ReleaseOutcome::Released {
                fulfillment_order_status: Some(FulfillmentOrderStatus::Open)
            }
        );
        let refused = read("fulfillmentOrderReleaseHold-refused.json");
        let ReleaseOutcome::Refused(refusal) = parse_release(&refused).unwrap() else {
            panic!("a refusal")
        };
        assert_eq!(refusal.code(), Some("INVALID_ACCESS"));
        assert_eq!(
            refusal.errors[0].message,
            "The app doesn't have access to release the fulfillment hold."
        );
        assert!(matches!(
            ActionFailure::classify(200, &refused),
            Some(ActionFailure::Refused(r)) if r == refusal
        ));
    }

    #[test]
    fn a_cancel_is_accepted_as_a_job() {
        let body = read("orderCancel.json");
        assert_eq!(
            parse_cancel(&body).unwrap(),
            CancelOutcome::Accepted {
                job_id: Some("gid://shopify/Job/4b6c2f1e-7d3a-4e51-9c0b-2a8f5e6d1c90".into()),
                status: Some(CancelJobStatus::Started),
                done: false,
            }
        );
        assert_eq!(ActionFailure::classify(200, &body), None);
        // Before 2026-10 there is no jobResult: the job is enough.
        let job_only = edited("orderCancel.json", |v| {
            v["data"]["orderCancel"].as_object_mut().unwrap().remove("jobResult");
            v["data"]["orderCancel"]["job"]["done"] = true.into();
        });
        assert_eq!(
            parse_cancel(&job_only).unwrap(),
            CancelOutcome::Accepted {
                job_id: Some("gid://shopify/Job/4b6c2f1e-7d3a-4e51-9c0b-2a8f5e6d1c90".into()),
                status: None,
                done: true,
            }
        );
        let succeeded = edited("orderCancel.json", |v| {
            v["data"]["orderCancel"]["jobResult"]["status"] = "SUCCEEDED".into();
            v["data"]["orderCancel"]["jobResult"]["done"] = true.into();
        });
        assert!(matches!(
            parse_cancel(&succeeded).unwrap(),
            CancelOutcome::Accepted {
                status: Some(CancelJobStatus::Succeeded),
                done: true,
                ..
            }
        ));
    }

    #[test]
    fn a_refused_or_failed_cancel_is_a_typed_refusal() {
        let body = read("orderCancel-refused.json");
        let CancelOutcome::Refused(refusal) = parse_cancel(&body).unwrap() else {
            panic!("a refusal")
        };
        assert_eq!(refusal.code(), Some("INVALID"));
        assert_eq!(refusal.errors[0].field, ["orderId"]);
        assert_eq!(refusal.errors[0].message, "Order has already been cancelled");
        assert!(!refusal.retry_later());
        assert!(matches!(ActionFailure::classify(200, &body), Some(ActionFailure::Refused(r)) if r == refusal));

        let failed = edited("orderCancel.json", |v| {
            v["data"]["orderCancel"]["jobResult"]["status"] = "FAILED".into();
            v["data"]["orderCancel"]["jobResult"]["done"] = true.into();
            v["data"]["orderCancel"]["jobResult"]["errors"] = json!([
                { "field": ["refundMethod"], "message": "The user requires refund_orders permission.",
                  "code": "NO_REFUND_PERMISSION" }
            ]);
        });
        let CancelOutcome::Refused(refusal) = parse_cancel(&failed).unwrap() else {
            panic!("a refusal")
        };
        assert_eq!(refusal.code(), Some("NO_REFUND_PERMISSION"));
        assert!(matches!(ActionFailure::classify(200, &failed), Some(ActionFailure::Refused(r)) if r == refusal));

        let internal = edited("orderCancel-refused.json", |v| {
            v["data"]["orderCancel"]["orderCancelUserErrors"][0]["code"] = "INTERNAL_ERROR".into();
        });
        let failure = ActionFailure::classify(200, &internal).unwrap();
        assert!(failure.retry_later(), "INTERNAL_ERROR may pass");
        assert!(matches!(
            ActionError::from(failure),
            ActionError::Later { retry_after: None, .. }
        ));

        let empty = br#"{"data": {"orderCancel": {"job": null, "jobResult": null, "orderCancelUserErrors": []}}}"#;
        assert_eq!(
            invalid(parse_cancel(empty)),
            "data.orderCancel: neither job nor jobResult, and no orderCancelUserErrors"
        );
    }

    #[test]
    fn a_throttled_answer_suggests_the_wait_its_cost_gives() {
        let body = read("throttled.json");
        // (752 − 666) / 50 = 1.72 seconds, rounded up.
        let two = ActionFailure::Throttled {
            retry_after: jiff::SignedDuration::from_secs(2),
        };
        assert_eq!(ActionFailure::classify(200, &body), Some(two.clone()));
        assert_eq!(ActionFailure::classify(429, &body), Some(two.clone()));
        let one = ActionFailure::Throttled {
            retry_after: jiff::SignedDuration::from_secs(1),
        };
        assert_eq!(ActionFailure::classify(429, b""), Some(one.clone()));
        assert_eq!(ActionFailure::classify(503, b"<html>busy</html>"), Some(one.clone()));
        assert_eq!(
            one.clone().with_retry_after(Some("5")),
            ActionFailure::Throttled {
                retry_after: jiff::SignedDuration::from_secs(5)
            }
        );
        assert_eq!(two.clone().with_retry_after(Some("1.0")), two, "the longer wait wins");
        assert_eq!(one.clone().with_retry_after(Some("soon")), one);
        let huge = edited("throttled.json", |v| {
            v["extensions"]["cost"]["requestedQueryCost"] = 1e12.into();
        });
        assert_eq!(
            ActionFailure::classify(200, &huge),
            Some(ActionFailure::Throttled {
                retry_after: MAX_THROTTLE_WAIT
            })
        );
        assert!(two.retry_later());
        assert_eq!(
            ActionError::from(two),
            ActionError::Later {
                message: "Shopify throttled the call; retry in 2s".into(),
                retry_after: Some(jiff::SignedDuration::from_secs(2)),
            }
        );
        // The parsers say what the answer carries instead of the payload.
        assert_eq!(
            invalid(parse_hold(&body)),
            "data.fulfillmentOrderHold: missing; the answer carries errors: THROTTLED (Throttled)"
        );
        assert_eq!(
            invalid(parse_fulfillment_orders(&body)),
            "data: missing; the answer carries errors: THROTTLED (Throttled)"
        );
    }

    #[test]
    fn http_and_top_level_errors_are_classified() {
        let internal = read("internal-error.json");
        assert_eq!(
            ActionFailure::classify(200, &internal),
            Some(ActionFailure::Unavailable {
                status: 200,
                code: Some("INTERNAL_SERVER_ERROR".into())
            })
        );
        assert_eq!(
            ActionFailure::classify(500, b""),
            Some(ActionFailure::Unavailable {
                status: 500,
                code: None
            })
        );
        assert_eq!(
            ActionFailure::classify(502, b"<html>Bad Gateway</html>"),
            Some(ActionFailure::Unavailable {
                status: 502,
                code: None
            })
        );
        let bad_token = br#"{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}"#;
        assert_eq!(
            ActionFailure::classify(401, bad_token),
            Some(ActionFailure::Unauthorized {
                status: 401,
                message: Some("[API] Invalid API key or access token (unrecognized login or wrong password)".into())
            })
        );
        assert_eq!(
            ActionFailure::classify(403, b""),
            Some(ActionFailure::Unauthorized {
                status: 403,
                message: None
            })
        );
        for status in [400, 402, 404, 423] {
            let failure = ActionFailure::classify(status, b"").unwrap();
            assert_eq!(
                failure,
                ActionFailure::Rejected {
                    status,
                    code: None,
                    message: format!("HTTP {status}")
                }
            );
            assert!(!failure.retry_later());
        }
        let schema = br#"{"errors":[{"message":"Field 'holdId' doesn't exist on type 'Mutation'",
            "locations":[{"line":1,"column":40}],"path":["mutation Release","holdId"],
            "extensions":{"code":"undefinedField","typeName":"Mutation","fieldName":"holdId"}}]}"#;
        assert_eq!(
            ActionFailure::classify(200, schema),
            Some(ActionFailure::Rejected {
                status: 200,
                code: Some("undefinedField".into()),
                message: "Field 'holdId' doesn't exist on type 'Mutation'".into()
            })
        );
        assert!(!ActionFailure::classify(401, bad_token).unwrap().retry_later());
        assert!(ActionFailure::classify(500, b"").unwrap().retry_later());
        assert!(matches!(
            ActionError::from(ActionFailure::classify(423, b"").unwrap()),
            ActionError::Refused(m) if m == "Shopify rejected the call (HTTP 423, no code): HTTP 423"
        ));
        assert_eq!(
            ActionFailure::classify(200, b"not json"),
            None,
            "the parser says what is wrong"
        );
    }

    #[test]
    fn malformed_answers_are_parse_errors_never_panics() {
        type Parser = fn(&[u8]) -> Result<(), ParseError>;
        let parsers: [(&str, Parser); 4] = [
            ("fulfillment orders", |b| parse_fulfillment_orders(b).map(drop)),
            ("hold", |b| parse_hold(b).map(drop)),
            ("release", |b| parse_release(b).map(drop)),
            ("cancel", |b| parse_cancel(b).map(drop)),
        ];
        let deep = format!("{{\"data\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        for (name, parse) in parsers {
            assert!(matches!(parse(b""), Err(ParseError::NotJson(_))), "{name}");
            assert!(matches!(parse(b"{\"data\":"), Err(ParseError::NotJson(_))), "{name}");
            assert_eq!(parse(b"[]"), Err(ParseError::NotObject("an array")), "{name}");
            assert_eq!(parse(deep.as_bytes()), Err(ParseError::TooDeep(MAX_DEPTH)), "{name}");
            assert!(
                matches!(parse(br#"{"data": 5}"#), Err(ParseError::Invalid(_))),
                "{name}"
            );
            assert!(
                matches!(parse(b"{}"), Err(ParseError::Invalid(m)) if m.ends_with("missing")),
                "{name}"
            );
        }
        assert_eq!(ActionFailure::classify(200, deep.as_bytes()), None);
        assert!(matches!(
            ActionFailure::classify(429, deep.as_bytes()),
            Some(ActionFailure::Throttled { .. })
        ));

        let no_id = edited("fulfillmentOrders.json", |v| {
            v["data"]["order"]["fulfillmentOrders"]["nodes"][0]
                .as_object_mut()
                .unwrap()
                .remove("id");
        });
        assert_eq!(
            invalid(parse_fulfillment_orders(&no_id)),
            "data.order.fulfillmentOrders.nodes[0]: missing field `id`"
        );
        let not_gid = edited("fulfillmentOrders-held.json", |v| {
            v["data"]["order"]["fulfillmentOrders"]["nodes"][0]["fulfillmentHolds"][0]["id"] = "777001".into();
        });
        assert_eq!(
            invalid(parse_fulfillment_orders(&not_gid)),
            "data.order.fulfillmentOrders.nodes[0].fulfillmentHolds[0].id: \"777001\" is not a global id (gid://…)"
        );
        let neither = edited("fulfillmentOrders.json", |v| {
            v["data"]["order"]["fulfillmentOrders"] = json!({});
        });
        assert_eq!(
            invalid(parse_fulfillment_orders(&neither)),
            "data.order.fulfillmentOrders: has neither nodes nor edges"
        );
        let actions = edited("fulfillmentOrders.json", |v| {
            v["data"]["order"]["fulfillmentOrders"]["nodes"][0]["supportedActions"] = json!(["HOLD"]);
        });
        assert!(
            invalid(parse_fulfillment_orders(&actions))
                .starts_with("data.order.fulfillmentOrders.nodes[0].supportedActions[0]: invalid type"),
        );
        let no_hold = edited("fulfillmentOrderHold.json", |v| {
            v["data"]["fulfillmentOrderHold"]["fulfillmentHold"] = Value::Null;
        });
        assert_eq!(
            invalid(parse_hold(&no_hold)),
            "data.fulfillmentOrderHold.fulfillmentHold: null although there are no userErrors"
        );
    }

    #[test]
    fn what_shopify_says_is_echoed_bounded() {
        let long = "あ".repeat(10_000);
        let body = edited("orderCancel-refused.json", |v| {
            let error = &mut v["data"]["orderCancel"]["orderCancelUserErrors"][0];
            error["message"] = long.clone().into();
            error["code"] = long.clone().into();
            error["field"] = json!(vec![long.clone(); 50]);
        });
        let CancelOutcome::Refused(refusal) = parse_cancel(&body).unwrap() else {
            panic!("a refusal")
        };
        let error = &refusal.errors[0];
        assert_eq!(error.message.chars().count(), MESSAGE_ECHO);
        assert_eq!(error.code.as_ref().unwrap().chars().count(), CODE_ECHO);
        assert_eq!(error.field.len(), MAX_LISTED);
        let many = edited("orderCancel-refused.json", |v| {
            v["data"]["orderCancel"]["orderCancelUserErrors"] =
                json!(vec![json!({"field": null, "message": "x", "code": "INVALID"}); 500]);
        });
        let CancelOutcome::Refused(refusal) = parse_cancel(&many).unwrap() else {
            panic!("a refusal")
        };
        assert_eq!(refusal.errors.len(), MAX_LISTED);
        assert_eq!(refusal.to_string(), "INVALID: x; INVALID: x; INVALID: x; and 7 more");
        let unauthorized = format!(r#"{{"errors": "{long}"}}"#);
        let Some(ActionFailure::Unauthorized { message: Some(m), .. }) =
            ActionFailure::classify(401, unauthorized.as_bytes())
        else {
            panic!("unauthorized")
        };
        assert_eq!(m.chars().count(), MESSAGE_ECHO);
    }
}
