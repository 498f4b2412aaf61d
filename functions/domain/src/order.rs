//! The canonical order every mall adapter produces.

use std::fmt;
use std::num::NonZeroU32;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{OrderRef, ProductKey};

/// Why an order could not be built from what a mall sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order has no lines")]
    NoLines,
    #[error("line {line}: quantity must be at least 1")]
    ZeroQuantity { line: usize },
    #[error("{0:?} is not an email address")]
    BadEmail(String),
    #[error("{0:?} is not an amount of money")]
    BadMoney(String),
    #[error("{0:?} is not a currency code")]
    BadCurrency(String),
}

/// A mail address we may write to. Only shape-checked: the mail system is the judge of the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// The mail domains of Japan's mobile carriers (キャリアメール): docomo, au, SoftBank, Y!mobile and their
/// older brands. Their filters refuse much shop mail, and a message at night wakes the buyer's phone.
const CARRIER_DOMAINS: [&str; 9] = [
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "disney.ne.jp",
    "ymobile.ne.jp",
    "yahoo.ne.jp",
    "emobile.ne.jp",
];

impl EmailAddress {
    /// Whether the address is a mobile carrier's (`…@docomo.ne.jp`, `…@ezweb.ne.jp`, …, and their
    /// subdomains such as `biz.ezweb.ne.jp`).
    pub fn is_carrier(&self) -> bool {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d).to_ascii_lowercase();
        CARRIER_DOMAINS
            .iter()
            .any(|c| domain == *c || domain.strip_suffix(c).is_some_and(|rest| rest.ends_with('.')))
    }

    pub fn parse(raw: &str) -> Result<Self, OrderError> {
        let s = raw.trim();
        let ok = s.len() <= 254
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
            && matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(OrderError::BadEmail(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after '@', lower-cased.
    pub fn domain(&self) -> String {
        self.0.rsplit('@').next().unwrap_or_default().to_ascii_lowercase()
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = OrderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = OrderError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> String {
        value.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount in the currency's smallest unit (yen have none smaller).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: String,
}

impl Money {
    pub fn yen(amount: i64) -> Self {
        Self {
            minor: amount,
            currency: "JPY".into(),
        }
    }

    fn decimals(currency: &str) -> u32 {
        match currency {
            "JPY" | "KRW" => 0,
            _ => 2,
        }
    }

    /// Parses a decimal string as malls send it ("1200", "1200.00", "19.99").
    pub fn parse(amount: &str, currency: &str) -> Result<Self, OrderError> {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(OrderError::BadCurrency(currency));
        }
        let bad = || OrderError::BadMoney(amount.to_owned());
        let s = amount.trim();
        let (neg, s) = s.strip_prefix('-').map_or((false, s), |rest| (true, rest));
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let places = Self::decimals(&currency);
        let frac = frac.trim_end_matches('0');
        if frac.len() > places as usize {
            return Err(bad());
        }
        let scale = 10i64.pow(places);
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(places - frac.len() as u32)
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_value))
            .ok_or_else(bad)?;
        Ok(Self {
            minor: if neg { -minor } else { minor },
            currency,
        })
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places = Self::decimals(&self.currency);
        let scale = 10i64.pow(places);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let whole = abs / scale as u64;
        let digits = whole.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match self.currency.as_str() {
            "JPY" => write!(f, "{sign}¥{grouped}"),
            cur if places == 0 => write!(f, "{sign}{grouped} {cur}"),
            cur => write!(
                f,
                "{sign}{grouped}.{:0width$} {cur}",
                abs % scale as u64,
                width = places as usize
            ),
        }
    }
}

/// A postal address with the person at it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PostalAddress {
    pub name: String,
    /// The reading of the name (フリガナ), when the mall gives one for this address (Rakuten's
    /// `SenderModel`, Yahoo!'s `ShipLastNameKana`/`ShipFirstNameKana`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana: Option<String>,
    pub postal_code: String,
    pub prefecture: String,
    pub city: String,
    pub lines: Vec<String>,
    pub phone: Option<String>,
}

impl PostalAddress {
    /// The address on one line, as a Japanese envelope would read.
    pub fn one_line(&self) -> String {
        let mut s = String::new();
        if !self.postal_code.is_empty() {
            s.push('〒');
            s.push_str(&self.postal_code);
            s.push(' ');
        }
        s.push_str(&self.prefecture);
        s.push_str(&self.city);
        for line in &self.lines {
            s.push(' ');
            s.push_str(line);
        }
        s.trim().to_owned()
    }
}

/// The person who placed the order (注文者).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Buyer {
    pub name: String,
    pub kana: Option<String>,
    pub email: Option<EmailAddress>,
    pub phone: Option<String>,
    /// The buyer's own address, when the mall gives it (it differs from the ship-to for gifts).
    pub address: Option<PostalAddress>,
    /// The language the buyer shops in, when the mall says (Shopify's customer locale): the buyer's mails
    /// and page are in it; the shop's language otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::Language>,
}

/// The language of a locale a mall reports (`ja`, `ja-JP`, `en`, `en-US`): None for one mallguard does not
/// write in (the shop's language is used).
pub fn language_of_locale(locale: &str) -> Option<crate::Language> {
    let primary = locale
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match primary.as_str() {
        "ja" => Some(crate::Language::Ja),
        "en" => Some(crate::Language::En),
        _ => None,
    }
}

/// A quantity of at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(NonZeroU32);

impl Quantity {
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl TryFrom<u32> for Quantity {
    type Error = OrderError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        NonZeroU32::new(value)
            .map(Self)
            .ok_or(OrderError::ZeroQuantity { line: 0 })
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> u32 {
        value.get()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The shop's product code as the mall sent it (SKU, or the mall's item code).
    pub product: ProductKey,
    pub title: String,
    pub quantity: Quantity,
    pub unit_price: Option<Money>,
}

/// The lines of an order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<OrderLine>", into = "Vec<OrderLine>")]
pub struct OrderLines(Vec<OrderLine>);

impl OrderLines {
    pub fn parse(lines: Vec<OrderLine>) -> Result<Self, OrderError> {
        if lines.is_empty() {
            return Err(OrderError::NoLines);
        }
        Ok(Self(lines))
    }

    pub fn iter(&self) -> std::slice::Iter<'_, OrderLine> {
        self.0.iter()
    }
}

impl TryFrom<Vec<OrderLine>> for OrderLines {
    type Error = OrderError;
    fn try_from(value: Vec<OrderLine>) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<OrderLines> for Vec<OrderLine> {
    fn from(value: OrderLines) -> Self {
        value.0
    }
}

/// What the buyer asked for about delivery.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Delivery {
    /// 配達指定日
    pub requested_date: Option<Date>,
    pub time_slot: Option<String>,
    pub express: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// 代金引換: a wrong shipment costs a refused parcel and both ways' carriage.
    CashOnDelivery,
    Card,
    BankTransfer,
    Convenience,
    Other,
}

/// The order's state at the mall, as the latest notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Cancelled,
    Shipped,
}

impl OrderStatus {
    /// The status as the staff read it.
    pub fn label(self, lang: crate::Language) -> &'static str {
        use crate::Language::{En, Ja};
        match (self, lang) {
            (OrderStatus::Open, Ja) => "未発送",
            (OrderStatus::Open, En) => "open",
            (OrderStatus::Cancelled, Ja) => "キャンセル",
            (OrderStatus::Cancelled, En) => "cancelled",
            (OrderStatus::Shipped, Ja) => "発送済み",
            (OrderStatus::Shipped, En) => "shipped",
        }
    }
}

/// SHA-256 of the exact bytes a mall sent: the evidence keeps it after the payload expires.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayloadDigest(String);

impl PayloadDigest {
    /// A digest as a store kept it: 64 lower-case hex digits.
    pub fn parse(hex: &str) -> Option<Self> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(hex.to_owned()))
    }

    pub fn of(raw: &[u8]) -> Self {
        Self(Sha256::digest(raw).iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One order in mallguard's words, whatever mall it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_ref: OrderRef,
    /// The order number the buyer and the staff know, where it differs from the mall's order id:
    /// Shopify's `name` (`#1001`) against its internal id (`5678901234567890123`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub placed_at: Timestamp,
    pub buyer: Buyer,
    pub ship_to: PostalAddress,
    pub lines: OrderLines,
    pub delivery: Delivery,
    pub gift: bool,
    pub payment: PaymentMethod,
    pub status: OrderStatus,
    pub total: Option<Money>,
    pub payload_digest: PayloadDigest,
    /// The mall holds the order for its own fraud screening (Yahoo!'s `FraudHoldStatus`, 不正注文の審査): it
    /// stays open and may still ship once the mall lets it go, so the staff are shown it beside a hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub screened_by_mall: bool,
}

impl Order {
    /// The order number as people know it: the mall's number where it has one, else the order id.
    pub fn number(&self) -> &str {
        self.number.as_deref().unwrap_or(self.order_ref.order_id.as_str())
    }
}

/// An order number as staff type it: without the `#` a mall shows before it (`#1001` is `1001`).
pub fn bare_number(number: &str) -> &str {
    let trimmed = number.trim();
    trimmed.strip_prefix('#').unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_what_malls_send_and_prints_yen() {
        assert_eq!(Money::parse("1200.00", "JPY").unwrap(), Money::yen(1200));
        assert_eq!(Money::parse("12345", "jpy").unwrap().to_string(), "¥12,345");
        assert_eq!(Money::parse("19.9", "USD").unwrap().minor(), 1990);
        assert_eq!(Money::parse("19.99", "USD").unwrap().to_string(), "19.99 USD");
        assert!(Money::parse("12.5", "JPY").is_err());
        assert!(Money::parse("abc", "JPY").is_err());
        assert!(Money::parse("1", "JP").is_err());
    }

    #[test]
    fn email_addresses_are_shape_checked() {
        assert!(EmailAddress::parse("taro@example.jp").is_ok());
        assert_eq!(EmailAddress::parse("a@DoCoMo.ne.jp").unwrap().domain(), "docomo.ne.jp");
        for bad in ["", "taro", "taro@", "@x.jp", "ta ro@x.jp", "a@b@c.jp", "a@nodot"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_order_needs_lines_with_quantity() {
        assert_eq!(OrderLines::parse(vec![]), Err(OrderError::NoLines));
        assert!(Quantity::try_from(0).is_err());
        assert_eq!(Quantity::try_from(2).unwrap().get(), 2);
    }
}
