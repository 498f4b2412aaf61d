//! The generic input: the canonical order as JSON, signed with Standard Webhooks
//! (<https://www.standardwebhooks.com>), for a shop's own system or an order management system that relays
//! orders from every mall.
//!
//! # Signature
//!
//! Headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature` (space-separated
//! `v1,<base64>` entries, any of which may match, so a sender can rotate secrets). The signed content is
//! `{id}.{timestamp}.{body}`, HMAC-SHA256 under the secret, which is written `whsec_<base64>`.
//!
//! # Wire format
//!
//! ```json
//! {
//!   "mall": "rakuten",
//!   "shop_id": "tanaka-rakuten",
//!   "order_id": "386193-20261123-0000012345",
//!   "placed_at": "2026-11-23T12:00:00+09:00",
//!   "status": "open",
//!   "buyer": {
//!     "name": "山田 太郎",
//!     "kana": "ヤマダ タロウ",
//!     "email": "a1b2c3d4e5f6@pc.fw.rakuten.ne.jp",
//!     "phone": "090-1234-5678",
//!     "address": null
//!   },
//!   "ship_to": {
//!     "name": "山田 太郎",
//!     "kana": "ヤマダ タロウ",
//!     "postal_code": "100-0001",
//!     "prefecture": "東京都",
//!     "city": "千代田区",
//!     "lines": ["千代田1丁目2番3号", "メゾン千代田101"],
//!     "phone": "090-1234-5678"
//!   },
//!   "lines": [
//!     { "product": "TEA-SENCHA-100", "title": "有機煎茶 100g", "quantity": 1, "unit_price": "1200", "currency": "JPY" }
//!   ],
//!   "delivery": { "requested_date": "2026-11-25", "time_slot": "14-16", "express": false },
//!   "gift": false,
//!   "payment": "cash_on_delivery",
//!   "total": "1200",
//!   "currency": "JPY"
//! }
//! ```
//!
//! See [`WireOrder`] for every field. Unknown fields are ignored, so a sender may add its own.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::ids::{Mall, OrderId, OrderRef, ProductKey, ShopId};
use mallguard_domain::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderError, OrderLine, OrderLines, OrderStatus, PayloadDigest,
    PaymentMethod, PostalAddress, Quantity,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Amount, ParseError, SignatureError, decode, non_empty, null_as_default, string_only};

/// The header with the message id, the same on every retry of one message.
pub const ID_HEADER: &str = "webhook-id";
/// The header with the time of signing, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header with the space-separated `v1,<base64>` signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// How far the timestamp may be from now, either way: what the Standard Webhooks libraries use.
pub const DEFAULT_TOLERANCE: SignedDuration = SignedDuration::from_mins(5);

/// What a refused secret is reported as.
const SECRET: &str = "the webhook secret";
/// The currency of amounts that do not name one.
const DEFAULT_CURRENCY: &str = "JPY";

type HmacSha256 = Hmac<Sha256>;

/// The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`, or the raw bytes of a secret
/// without that prefix. A blank secret, or a `whsec_` one that is not base64, is refused: check it at startup.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let secret = secret.trim();
    let key = match secret.strip_prefix("whsec_") {
        Some(encoded) => STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::Malformed(SECRET))?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        // Anyone can compute an HMAC under an empty key.
        return Err(SignatureError::Malformed(SECRET));
    }
    Ok(key)
}

fn mac(key: &[u8], id: &str, timestamp: &str, raw_body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(raw_body);
    mac
}

/// Verifies a Standard Webhooks message.
///
/// The signature is checked before the timestamp, so [`SignatureError::OutsideTolerance`] always means a
/// message that really was signed with the secret (a replay, or a sender's clock far off), which is worth
/// telling apart in the logs from a forgery.
pub fn verify(
    secret: &str,
    raw_body: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    now: Timestamp,
    tolerance: SignedDuration,
) -> Result<(), SignatureError> {
    let key = decode_secret(secret)?;
    let id = non_empty(id).ok_or(SignatureError::Missing(ID_HEADER))?;
    let timestamp = non_empty(timestamp).ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?;
    let signature = non_empty(signature).ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed(TIMESTAMP_HEADER))?;

    let expected = mac(&key, id, timestamp, raw_body);
    let mut saw_v1 = false;
    let mut matched = false;
    for entry in signature.split_whitespace() {
        // Other versions (v1a: asymmetric) are for other verifiers; skip them.
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        let Ok(claimed) = STANDARD.decode(encoded) else {
            continue;
        };
        saw_v1 = true;
        // verify_slice compares in constant time.
        if expected.clone().verify_slice(&claimed).is_ok() {
            matched = true;
            break;
        }
    }
    if !saw_v1 {
        return Err(SignatureError::Malformed(SIGNATURE_HEADER));
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }

    let drift = (i128::from(now.as_second()) - i128::from(seconds)).unsigned_abs();
    if drift > u128::from(tolerance.as_secs().unsigned_abs()) {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

/// The `webhook-signature` value for a message (`v1,<base64>`): for `mallguard send` and tests.
///
/// # Panics
///
/// If the secret is refused by [`decode_secret`]; check it first.
pub fn sign(secret: &str, id: &str, timestamp: i64, raw_body: &[u8]) -> String {
    let key = decode_secret(secret).expect("a webhook secret accepted by decode_secret");
    let digest = mac(&key, id, &timestamp.to_string(), raw_body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(digest))
}

/// Parses the canonical order JSON ([`WireOrder`]) into the canonical order.
///
/// Every error names its field: `placed_at: ...`, `lines[0].quantity: must be at least 1`,
/// `order_id: must be a string, ...`.
pub fn parse_order(raw_body: &[u8]) -> Result<Order, ParseError> {
    decode::<WireOrder>(raw_body)?.into_order(raw_body)
}

/// The canonical order on the wire. Optional fields may be absent or `null`; unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireOrder {
    /// The mall the order was placed on: `shopify`, `rakuten`, `yahoo`, `amazon` or `own`. It decides the
    /// contact rules: a relayed Amazon order is never phoned.
    pub mall: Mall,
    /// The shop on that mall (letters, digits, `-`, `_`, `.`).
    pub shop_id: String,
    /// The mall's order id. Always a JSON string: ids beyond 2^53 lose digits as JSON numbers.
    #[serde(deserialize_with = "string_only")]
    pub order_id: String,
    /// When the order was placed, RFC 3339 with an offset: `2026-11-23T12:00:00+09:00`.
    pub placed_at: String,
    /// `open` (the default), `cancelled` or `shipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
    /// Who placed the order (注文者).
    #[serde(default, deserialize_with = "null_as_default")]
    pub buyer: WireBuyer,
    /// Where it goes. Absent for digital goods; the order then simply has fewer identity keys.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ship_to: WireAddress,
    /// At least one line.
    pub lines: Vec<WireLine>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub delivery: WireDelivery,
    /// A gift: the buyer is not phoned, so the recipient does not learn of it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gift: bool,
    /// `cash_on_delivery`, `card`, `bank_transfer`, `convenience` or `other` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentMethod>,
    /// The order total, as a decimal string (or a whole number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Amount>,
    /// ISO 4217 code of `total` and of lines that name none; `JPY` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// The buyer on the wire. Blank texts count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireBuyer {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The reading (フリガナ), when the mall gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana: Option<String>,
    /// May be a mall's relay address (Rakuten, Amazon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The buyer's own address, when it differs from the ship-to (gifts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<WireAddress>,
    /// The language the buyer shops in (`ja`, `en`, or a locale such as `en-US`): their mails are in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A postal address with the person at it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAddress {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The reading of the name (フリガナ), when the sender knows it: `ヤマダ タロウ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana: Option<String>,
    /// `100-0001` or `1000001`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub postal_code: String,
    /// `東京都`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prefecture: String,
    /// `千代田区`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub city: String,
    /// The rest, as written: `["千代田1-2-3", "メゾン千代田101"]`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireLine {
    /// The shop's product code (SKU), or the mall's item code.
    pub product: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    /// At least 1.
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Amount>,
    /// The currency of `unit_price`; the order's `currency` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What the buyer asked for about delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDelivery {
    /// 配達指定日, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_date: Option<String>,
    /// 時間帯 as the mall writes it: `14-16`, `午前中`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_slot: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub express: bool,
}

impl WireOrder {
    /// Validates the wire order into the canonical order; `raw_body` is what its digest is taken of.
    pub fn into_order(self, raw_body: &[u8]) -> Result<Order, ParseError> {
        let shop = ShopId::parse(&self.shop_id).map_err(|e| ParseError::field("shop_id", e))?;
        let order_id = OrderId::parse(&self.order_id).map_err(|e| ParseError::field("order_id", e))?;
        let placed_at: Timestamp = self.placed_at.trim().parse().map_err(|e| {
            ParseError::field(
                "placed_at",
                format_args!("must be RFC 3339 with an offset, like 2026-11-23T12:00:00+09:00 ({e})"),
            )
        })?;
        let currency = non_empty(self.currency.as_deref()).unwrap_or(DEFAULT_CURRENCY);
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| line.to_line(i, currency))
            .collect::<Result<Vec<_>, _>>()?;
        let lines = OrderLines::parse(lines).map_err(|e| ParseError::field("lines", e))?;
        let total = self
            .total
            .as_ref()
            .map(|amount| money(amount, currency, "total", "currency"))
            .transpose()?;
        Ok(Order {
            order_ref: OrderRef::new(self.mall, shop, order_id),
            number: None,
            placed_at,
            buyer: self.buyer.to_buyer()?,
            ship_to: self.ship_to.to_postal(),
            lines,
            delivery: self.delivery.to_delivery()?,
            gift: self.gift,
            payment: self.payment.unwrap_or(PaymentMethod::Other),
            status: self.status.unwrap_or(OrderStatus::Open),
            total,
            payload_digest: PayloadDigest::of(raw_body),
            screened_by_mall: false,
        })
    }
}

impl WireBuyer {
    fn to_buyer(&self) -> Result<Buyer, ParseError> {
        let email = non_empty(self.email.as_deref())
            .map(|e| EmailAddress::parse(e).map_err(|err| ParseError::field("buyer.email", err)))
            .transpose()?;
        Ok(Buyer {
            name: self.name.trim().to_owned(),
            kana: text(&self.kana),
            email,
            phone: text(&self.phone),
            address: self.address.as_ref().map(WireAddress::to_postal),
            language: self
                .language
                .as_deref()
                .and_then(mallguard_domain::order::language_of_locale),
        })
    }
}

impl WireAddress {
    fn to_postal(&self) -> PostalAddress {
        PostalAddress {
            name: self.name.trim().to_owned(),
            kana: text(&self.kana),
            postal_code: self.postal_code.trim().to_owned(),
            prefecture: self.prefecture.trim().to_owned(),
            city: self.city.trim().to_owned(),
            lines: self
                .lines
                .iter()
                .filter_map(|line| non_empty(Some(line)))
                .map(str::to_owned)
                .collect(),
            phone: text(&self.phone),
        }
    }
}

impl WireLine {
    fn to_line(&self, index: usize, order_currency: &str) -> Result<OrderLine, ParseError> {
        let field = |name: &str| format!("lines[{index}].{name}");
        let product = ProductKey::parse(&self.product).map_err(|e| ParseError::field(&field("product"), e))?;
        let quantity = Quantity::try_from(self.quantity)
            .map_err(|_| ParseError::field(&field("quantity"), "must be at least 1"))?;
        // A bad currency is blamed on whichever field named it: the line's own, or the order's.
        let (currency, currency_field) = match non_empty(self.currency.as_deref()) {
            Some(own) => (own, field("currency")),
            None => (order_currency, "currency".to_owned()),
        };
        let unit_price = self
            .unit_price
            .as_ref()
            .map(|amount| money(amount, currency, &field("unit_price"), &currency_field))
            .transpose()?;
        Ok(OrderLine {
            product,
            title: self.title.trim().to_owned(),
            quantity,
            unit_price,
        })
    }
}

impl WireDelivery {
    fn to_delivery(&self) -> Result<Delivery, ParseError> {
        let requested_date = non_empty(self.requested_date.as_deref())
            .map(|d| {
                d.parse::<Date>().map_err(|e| {
                    ParseError::field(
                        "delivery.requested_date",
                        format_args!("must be a date like 2026-11-25 ({e})"),
                    )
                })
            })
            .transpose()?;
        Ok(Delivery {
            requested_date,
            time_slot: text(&self.time_slot),
            express: self.express,
        })
    }
}

/// A trimmed text, None when absent or blank.
fn text(value: &Option<String>) -> Option<String> {
    non_empty(value.as_deref()).map(str::to_owned)
}

fn money(amount: &Amount, currency: &str, amount_field: &str, currency_field: &str) -> Result<Money, ParseError> {
    Money::parse(amount.as_str(), currency).map_err(|e| match e {
        OrderError::BadCurrency(_) => ParseError::field(currency_field, e),
        _ => ParseError::field(amount_field, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks reference libraries.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn check(signature: &str, now: Timestamp) -> Result<(), SignatureError> {
        verify(
            VECTOR_SECRET,
            VECTOR_BODY,
            Some(VECTOR_ID),
            Some(&VECTOR_TIMESTAMP.to_string()),
            Some(signature),
            now,
            DEFAULT_TOLERANCE,
        )
    }

    #[test]
    fn the_standard_webhooks_test_vector_signs_and_verifies() {
        assert_eq!(
            sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
        assert_eq!(check(VECTOR_SIGNATURE, at(VECTOR_TIMESTAMP)), Ok(()));
    }

    #[test]
    fn a_whsec_secret_is_base64_decoded_and_a_bare_one_used_as_bytes() {
        assert_eq!(decode_secret("whsec_aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_secret("hello").unwrap(), b"hello");
        // The same key written both ways signs alike.
        assert_eq!(sign("whsec_aGVsbG8=", "m", 1, b"{}"), sign("hello", "m", 1, b"{}"));
    }

    #[test]
    fn a_blank_or_undecodable_secret_is_refused() {
        assert_eq!(decode_secret(""), Err(SignatureError::Malformed(SECRET)));
        assert_eq!(decode_secret("whsec_"), Err(SignatureError::Malformed(SECRET)));
        assert_eq!(
            decode_secret("whsec_not base64!"),
            Err(SignatureError::Malformed(SECRET))
        );
        let result = verify(
            "",
            b"{}",
            Some("m"),
            Some("1"),
            Some("v1,AAAA"),
            at(1),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(SignatureError::Malformed(SECRET)));
    }

    #[test]
    fn each_missing_header_is_named() {
        let ts = VECTOR_TIMESTAMP.to_string();
        let now = at(VECTOR_TIMESTAMP);
        let verify_with = |id, timestamp, signature| {
            verify(
                VECTOR_SECRET,
                VECTOR_BODY,
                id,
                timestamp,
                signature,
                now,
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(
            verify_with(None, Some(&ts), Some(VECTOR_SIGNATURE)),
            Err(SignatureError::Missing(ID_HEADER))
        );
        assert_eq!(
            verify_with(Some(VECTOR_ID), None, Some(VECTOR_SIGNATURE)),
            Err(SignatureError::Missing(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify_with(Some(VECTOR_ID), Some(&ts), Some(" ")),
            Err(SignatureError::Missing(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn a_timestamp_that_is_not_unix_seconds_is_malformed() {
        let result = verify(
            VECTOR_SECRET,
            VECTOR_BODY,
            Some(VECTOR_ID),
            Some("2021-02-25T15:02:10Z"),
            Some(VECTOR_SIGNATURE),
            at(VECTOR_TIMESTAMP),
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(SignatureError::Malformed(TIMESTAMP_HEADER)));
    }

    #[test]
    fn a_signature_header_without_a_v1_entry_is_malformed() {
        let now = at(VECTOR_TIMESTAMP);
        assert_eq!(check("g0hM9SsE", now), Err(SignatureError::Malformed(SIGNATURE_HEADER)));
        assert_eq!(
            check("v1a,g0hM9SsE", now),
            Err(SignatureError::Malformed(SIGNATURE_HEADER))
        );
        assert_eq!(check("v1,***", now), Err(SignatureError::Malformed(SIGNATURE_HEADER)));
    }

    #[test]
    fn a_wrong_signature_does_not_match() {
        let wrong = sign("whsec_aGVsbG8=", VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(check(&wrong, at(VECTOR_TIMESTAMP)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_tampered_body_id_or_timestamp_does_not_match() {
        let now = at(VECTOR_TIMESTAMP);
        let ts = VECTOR_TIMESTAMP.to_string();
        let tampered_body = br#"{"test": 2432232315}"#;
        let cases: [(&str, &str, &[u8]); 3] = [
            (VECTOR_ID, &ts, tampered_body),
            ("msg_other", &ts, VECTOR_BODY),
            (VECTOR_ID, "1614265331", VECTOR_BODY),
        ];
        for (id, timestamp, body) in cases {
            let result = verify(
                VECTOR_SECRET,
                body,
                Some(id),
                Some(timestamp),
                Some(VECTOR_SIGNATURE),
                now,
                DEFAULT_TOLERANCE,
            );
            assert_eq!(result, Err(SignatureError::Mismatch), "{id} {timestamp}");
        }
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let other = sign("whsec_aGVsbG8=", VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        let now = at(VECTOR_TIMESTAMP);
        assert_eq!(check(&format!("{other} {VECTOR_SIGNATURE}"), now), Ok(()));
        assert_eq!(
            check(&format!("v1a,c2lnbmF0dXJl {VECTOR_SIGNATURE} {other}"), now),
            Ok(())
        );
        assert_eq!(
            check(&format!("{other} v1,bm90IGl0"), now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_timestamp_outside_the_tolerance_either_way_is_refused() {
        let five_minutes = DEFAULT_TOLERANCE.as_secs();
        assert_eq!(check(VECTOR_SIGNATURE, at(VECTOR_TIMESTAMP + five_minutes)), Ok(()));
        assert_eq!(check(VECTOR_SIGNATURE, at(VECTOR_TIMESTAMP - five_minutes)), Ok(()));
        // A replay, long after it was signed.
        assert_eq!(
            check(VECTOR_SIGNATURE, at(VECTOR_TIMESTAMP + five_minutes + 1)),
            Err(SignatureError::OutsideTolerance)
        );
        // Signed "in the future": a sender's clock far ahead, or a message prepared for a later replay.
        assert_eq!(
            check(VECTOR_SIGNATURE, at(VECTOR_TIMESTAMP - five_minutes - 1)),
            Err(SignatureError::OutsideTolerance)
        );
    }

    #[test]
    fn a_forgery_is_a_mismatch_even_when_its_timestamp_is_stale() {
        let wrong = sign("whsec_aGVsbG8=", VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY);
        assert_eq!(
            check(&wrong, at(VECTOR_TIMESTAMP + 3600)),
            Err(SignatureError::Mismatch)
        );
    }

    fn order_json() -> serde_json::Value {
        serde_json::json!({
            "mall": "rakuten",
            "shop_id": "tanaka-rakuten",
            "order_id": "386193-20261123-0000012345",
            "placed_at": "2026-11-23T12:00:00+09:00",
            "buyer": {
                "name": "山田 太郎", "kana": "ヤマダ タロウ",
                "email": "a1b2c3d4e5f6@pc.fw.rakuten.ne.jp", "phone": "090-1234-5678"
            },
            "ship_to": {
                "name": "山田 太郎", "postal_code": "100-0001", "prefecture": "東京都", "city": "千代田区",
                "lines": ["千代田1丁目2番3号", "メゾン千代田101"], "phone": "090-1234-5678"
            },
            "lines": [
                { "product": "TEA-SENCHA-100", "title": "有機煎茶 100g", "quantity": 1, "unit_price": "1200" }
            ],
            "delivery": { "requested_date": "2026-11-25", "time_slot": "14-16", "express": true },
            "payment": "cash_on_delivery",
            "total": "1200"
        })
    }

    fn body(patch: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut order = order_json();
        patch(&mut order);
        serde_json::to_vec(&order).unwrap()
    }

    fn invalid(raw: &[u8]) -> String {
        match parse_order(raw) {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_canonical_order_is_read_with_every_field() {
        let raw = body(|_| {});
        let order = parse_order(&raw).unwrap();
        assert_eq!(
            order.order_ref.key(),
            "rakuten/tanaka-rakuten/386193-20261123-0000012345"
        );
        assert_eq!(order.placed_at, "2026-11-23T03:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(order.buyer.kana.as_deref(), Some("ヤマダ タロウ"));
        assert_eq!(order.buyer.email.unwrap().domain(), "pc.fw.rakuten.ne.jp");
        assert_eq!(order.buyer.phone.as_deref(), Some("090-1234-5678"));
        assert_eq!(
            order.ship_to.one_line(),
            "〒100-0001 東京都千代田区 千代田1丁目2番3号 メゾン千代田101"
        );
        let line = order.lines.iter().next().unwrap();
        assert_eq!((line.product.as_str(), line.quantity.get()), ("TEA-SENCHA-100", 1));
        assert_eq!(line.unit_price, Some(Money::yen(1200)));
        assert_eq!(order.delivery.requested_date, Some(jiff::civil::date(2026, 11, 25)));
        assert_eq!(order.delivery.time_slot.as_deref(), Some("14-16"));
        assert!(order.delivery.express);
        assert_eq!(order.payment, PaymentMethod::CashOnDelivery);
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.total, Some(Money::yen(1200)));
        assert_eq!(order.payload_digest, PayloadDigest::of(&raw));
    }

    #[test]
    fn a_minimal_order_needs_only_mall_shop_id_placed_at_and_lines() {
        let raw = br#"{"mall":"amazon","shop_id":"tanaka-amazon","order_id":"503-1234567-1234567",
            "placed_at":"2026-11-23T03:00:00Z","lines":[{"product":"B0TEA00100","quantity":2}]}"#;
        let order = parse_order(raw).unwrap();
        assert_eq!(order.order_ref.mall, Mall::Amazon);
        assert_eq!(order.buyer, Buyer::default());
        assert_eq!(order.ship_to, PostalAddress::default());
        assert_eq!(order.payment, PaymentMethod::Other);
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.total, None);
        assert!(!order.gift);
    }

    #[test]
    fn nulls_mean_absent() {
        let raw = body(|o| {
            for field in [
                "status", "buyer", "ship_to", "delivery", "gift", "payment", "total", "currency",
            ] {
                o[field] = serde_json::Value::Null;
            }
        });
        let order = parse_order(&raw).unwrap();
        assert_eq!(order.buyer, Buyer::default());
        assert_eq!(order.delivery, Delivery::default());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let raw = body(|o| {
            o["relay"] = serde_json::json!({ "system": "next-engine", "version": 3 });
            o["buyer"]["member_rank"] = "gold".into();
        });
        assert!(parse_order(&raw).is_ok());
    }

    #[test]
    fn the_status_says_cancelled_or_shipped() {
        let raw = body(|o| o["status"] = "cancelled".into());
        assert_eq!(parse_order(&raw).unwrap().status, OrderStatus::Cancelled);
        let raw = body(|o| o["status"] = "shipped".into());
        assert_eq!(parse_order(&raw).unwrap().status, OrderStatus::Shipped);
        let raw = body(|o| o["status"] = "lost".into());
        assert!(
            invalid(&raw).starts_with("status: unknown variant `lost`"),
            "{}",
            invalid(&raw)
        );
    }

    #[test]
    fn the_ship_to_may_carry_its_reading() {
        let raw = body(|o| o["ship_to"]["kana"] = "ヤマダ タロウ".into());
        assert_eq!(
            parse_order(&raw).unwrap().ship_to.kana.as_deref(),
            Some("ヤマダ タロウ")
        );
        let raw = body(|o| o["ship_to"]["kana"] = " ".into());
        assert_eq!(parse_order(&raw).unwrap().ship_to.kana, None);
        assert_eq!(parse_order(&body(|_| {})).unwrap().ship_to.kana, None);
    }

    #[test]
    fn blank_email_phone_and_kana_are_none() {
        let raw = body(|o| {
            o["buyer"]["email"] = "".into();
            o["buyer"]["phone"] = " ".into();
            o["buyer"]["kana"] = "".into();
        });
        let buyer = parse_order(&raw).unwrap().buyer;
        assert_eq!((buyer.email, buyer.phone, buyer.kana), (None, None, None));
    }

    #[test]
    fn the_buyer_address_is_kept_when_given() {
        let raw = body(|o| {
            o["gift"] = true.into();
            o["buyer"]["address"] = serde_json::json!({
                "postal_code": "530-0001", "prefecture": "大阪府", "city": "大阪市北区", "lines": ["梅田1-1-1"]
            });
        });
        let order = parse_order(&raw).unwrap();
        assert!(order.gift);
        assert_eq!(
            order.buyer.address.unwrap().one_line(),
            "〒530-0001 大阪府大阪市北区 梅田1-1-1"
        );
    }

    #[test]
    fn amounts_may_be_whole_numbers_and_lines_may_name_their_currency() {
        let raw = body(|o| {
            o["total"] = 1200.into();
            o["lines"][0]["unit_price"] = "9.99".into();
            o["lines"][0]["currency"] = "USD".into();
        });
        let order = parse_order(&raw).unwrap();
        assert_eq!(order.total, Some(Money::yen(1200)));
        assert_eq!(
            order.lines.iter().next().unwrap().unit_price.as_ref().unwrap().minor(),
            999
        );
    }

    #[test]
    fn a_numeric_order_id_is_refused_because_it_may_have_lost_digits() {
        let raw = br#"{"mall":"own","shop_id":"s","order_id":5678901234567890123,
            "placed_at":"2026-11-23T12:00:00+09:00","lines":[{"product":"A","quantity":1}]}"#;
        assert!(
            invalid(raw).starts_with("order_id: must be a string"),
            "{}",
            invalid(raw)
        );
    }

    #[test]
    fn each_validation_error_names_its_field() {
        type Patch = fn(&mut serde_json::Value);
        let cases: &[(Patch, &str)] = &[
            (|o| o["mall"] = "ebay".into(), "mall: unknown variant `ebay`"),
            (|o| o["shop_id"] = "tanaka shop".into(), "shop_id: "),
            (|o| o["order_id"] = "".into(), "order_id: "),
            (|o| o["order_id"] = "12/34".into(), "order_id: "),
            (
                |o| o["placed_at"] = "2026-11-23T12:00:00".into(),
                "placed_at: must be RFC 3339 with an offset",
            ),
            (|o| o["placed_at"] = "yesterday".into(), "placed_at: "),
            (|o| o["buyer"]["email"] = "taro@".into(), "buyer.email: "),
            (
                |o| o["buyer"]["name"] = 42.into(),
                "buyer.name: invalid type: integer `42`",
            ),
            (
                |o| o["ship_to"]["lines"] = "千代田1-2-3".into(),
                "ship_to.lines: invalid type: string",
            ),
            (|o| o["lines"] = serde_json::json!([]), "lines: the order has no lines"),
            (
                |o| o["lines"][0]["quantity"] = 0.into(),
                "lines[0].quantity: must be at least 1",
            ),
            (
                |o| o["lines"][0]["quantity"] = (-1).into(),
                "lines[0].quantity: invalid value: integer `-1`",
            ),
            (
                |o| o["lines"][0]["quantity"] = "1".into(),
                "lines[0].quantity: invalid type: string",
            ),
            (|o| o["lines"][0]["product"] = " ".into(), "lines[0].product: "),
            (
                |o| o["lines"][0]["unit_price"] = "1,200".into(),
                "lines[0].unit_price: ",
            ),
            (
                |o| o["lines"][0]["unit_price"] = serde_json::json!(12.5),
                "lines[0].unit_price: ",
            ),
            (|o| o["lines"][0]["currency"] = "JP".into(), "lines[0].currency: "),
            (|o| o["total"] = "abc".into(), "total: "),
            (|o| o["currency"] = "円".into(), "currency: "),
            (|o| o["payment"] = "paypay".into(), "payment: unknown variant `paypay`"),
            (|o| o["gift"] = "yes".into(), "gift: invalid type: string"),
            (
                |o| o["delivery"]["requested_date"] = "11/25".into(),
                "delivery.requested_date: must be a date",
            ),
            (
                |o| o["delivery"]["express"] = 1.into(),
                "delivery.express: invalid type: integer",
            ),
        ];
        for (patch, expected) in cases {
            let raw = body(patch);
            let message = invalid(&raw);
            assert!(message.starts_with(expected), "expected {expected:?}, got {message:?}");
        }
    }

    #[test]
    fn missing_required_fields_are_named() {
        for field in ["mall", "shop_id", "order_id", "placed_at", "lines"] {
            let raw = body(|o| {
                o.as_object_mut().unwrap().remove(field);
            });
            assert_eq!(invalid(&raw), format!("missing field `{field}`"));
        }
        let raw = body(|o| {
            o["lines"][0].as_object_mut().unwrap().remove("quantity");
        });
        assert_eq!(invalid(&raw), "lines[0]: missing field `quantity`");
    }

    #[test]
    fn a_body_that_is_not_json_is_not_json() {
        for raw in [&b""[..], b"   ", b"mall=own", b"{\"mall\": \"own\",", b"\xff\xfe"] {
            assert!(matches!(parse_order(raw), Err(ParseError::NotJson(_))), "{raw:?}");
        }
    }

    #[test]
    fn json_that_is_not_an_object_is_refused_and_an_object_of_the_wrong_shape_is_invalid() {
        for raw in [&b"[]"[..], b"\"order\"", b"42", b"null"] {
            assert!(matches!(parse_order(raw), Err(ParseError::NotObject(_))), "{raw:?}");
        }
        assert!(matches!(parse_order(b"{}"), Err(ParseError::Invalid(_))));
    }

    #[test]
    fn a_wire_order_serialises_to_json_that_parses_back() {
        let wire: WireOrder = serde_json::from_value(order_json()).unwrap();
        let raw = serde_json::to_vec(&wire).unwrap();
        let again: WireOrder = serde_json::from_slice(&raw).unwrap();
        assert_eq!(again, wire);
        assert_eq!(
            parse_order(&raw).unwrap().order_ref.order_id.as_str(),
            "386193-20261123-0000012345"
        );
    }
}

#[cfg(test)]
mod language_tests {
    use super::*;

    #[test]
    fn the_buyers_language_is_read_when_given() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/generic/order.json");
        let mut order: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(parse_order(order.to_string().as_bytes()).unwrap().buyer.language, None);
        order["buyer"]["language"] = "en".into();
        assert_eq!(
            parse_order(order.to_string().as_bytes()).unwrap().buyer.language,
            Some(mallguard_domain::Language::En)
        );
    }
}
