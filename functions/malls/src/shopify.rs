//! Shopify (the shop's own store): real webhooks, `orders/create`, `orders/updated`, `orders/cancelled` and
//! friends, whose body is the REST Admin API's Order resource.
//!
//! Shopify signs the raw body with HMAC-SHA256 under the app's client secret and sends the base64 digest in
//! `X-Shopify-Hmac-Sha256`. The shop is named by `X-Shopify-Shop-Domain` and the delivery by
//! `X-Shopify-Webhook-Id` (the same on every retry, so the edge can use it for idempotency).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use jiff::civil::Date;
use mallguard_domain::ids::{IdError, Mall, OrderId, OrderRef, ProductKey, ShopId};
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
        PostalAddress {
            name: self.person(),
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
