//! Identifiers that are parsed once at the edge: malls, shops, orders, products and holds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains a character that is not allowed: {found:?}")]
    BadCharacter { what: &'static str, found: char },
    #[error("{what} must start with {prefix:?}")]
    BadPrefix { what: &'static str, prefix: &'static str },
    #[error("{what} has {found} characters, not {expected}: was it copied whole?")]
    WrongLength {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("unknown mall {0:?} (expected shopify, rakuten, yahoo, amazon or own)")]
    UnknownMall(String),
}

/// The mall an order was placed on. Decides the contact rules: Amazon buyers may not be phoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mall {
    Shopify,
    /// 楽天市場
    Rakuten,
    /// Yahoo!ショッピング
    Yahoo,
    /// Amazon.co.jp
    Amazon,
    /// The shop's own store or any other channel.
    Own,
}

impl Mall {
    pub const ALL: [Mall; 5] = [Mall::Shopify, Mall::Rakuten, Mall::Yahoo, Mall::Amazon, Mall::Own];

    pub fn as_str(self) -> &'static str {
        match self {
            Mall::Shopify => "shopify",
            Mall::Rakuten => "rakuten",
            Mall::Yahoo => "yahoo",
            Mall::Amazon => "amazon",
            Mall::Own => "own",
        }
    }

    /// The name a buyer or the shop staff knows the mall by.
    pub fn display_name(self, lang: crate::Language) -> &'static str {
        use crate::Language::{En, Ja};
        match (self, lang) {
            (Mall::Shopify, _) => "Shopify",
            (Mall::Rakuten, Ja) => "楽天市場",
            (Mall::Rakuten, En) => "Rakuten Ichiba",
            (Mall::Yahoo, Ja) => "Yahoo!ショッピング",
            (Mall::Yahoo, En) => "Yahoo! Shopping",
            (Mall::Amazon, Ja) => "Amazon.co.jp",
            (Mall::Amazon, En) => "Amazon.co.jp",
            (Mall::Own, Ja) => "公式オンラインストア",
            (Mall::Own, En) => "our online store",
        }
    }
}

impl fmt::Display for Mall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mall {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mall::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| IdError::UnknownMall(s.to_owned()))
    }
}

fn check(what: &'static str, raw: &str, max: usize, allowed: impl Fn(char) -> bool) -> Result<String, IdError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    if s.chars().count() > max {
        return Err(IdError::TooLong { what, max });
    }
    if let Some(found) = s.chars().find(|c| !allowed(*c)) {
        return Err(IdError::BadCharacter { what, found });
    }
    Ok(s.to_owned())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $max:expr, $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                check($what, raw, $max, $allowed).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A shop on a mall (a company may run several shops on one mall).
    ShopId,
    "shop id",
    64,
    |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
);

string_id!(
    /// The mall's own order number, always a string: Shopify ids exceed 2^53.
    OrderId,
    "order id",
    128,
    |c: char| c.is_ascii_graphic() && c != '/'
);

string_id!(
    /// The shop's product code (SKU) after the optional mall-code mapping.
    ProductKey,
    "product key",
    128,
    |c: char| !c.is_control()
);

/// One order anywhere: the mall it was placed on, the shop and the mall's order id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderRef {
    pub mall: Mall,
    pub shop: ShopId,
    pub order_id: OrderId,
}

impl OrderRef {
    pub fn new(mall: Mall, shop: ShopId, order_id: OrderId) -> Self {
        Self { mall, shop, order_id }
    }

    /// A stable text key, `mall/shop/order`, used as a storage key. Order ids never contain '/'.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.mall, self.shop, self.order_id)
    }

    pub fn parse_key(key: &str) -> Result<Self, IdError> {
        let mut parts = key.splitn(3, '/');
        let mall = parts.next().unwrap_or_default().parse()?;
        let shop = ShopId::parse(parts.next().unwrap_or_default())?;
        let order_id = OrderId::parse(parts.next().unwrap_or_default())?;
        Ok(Self { mall, shop, order_id })
    }
}

impl fmt::Display for OrderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} #{}", self.mall, self.shop, self.order_id)
    }
}

/// A hold's id. Derived from the held order, so two racing writers of the same hold agree on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HoldId(String);

impl HoldId {
    const PREFIX: &'static str = "h";
    /// `h` and 20 hex digits.
    const LEN: usize = 21;

    pub fn for_order(order: &OrderRef) -> Self {
        let digest = Sha256::digest(order.key().as_bytes());
        let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty { what: "hold id" });
        }
        // Checked in the order a person mistypes: the prefix, each character, then the length (a hold id
        // copied short is the common slip).
        let Some(hex) = s.strip_prefix(Self::PREFIX) else {
            return Err(IdError::BadPrefix {
                what: "hold id",
                prefix: Self::PREFIX,
            });
        };
        if let Some(found) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(IdError::BadCharacter { what: "hold id", found });
        }
        if s.len() != Self::LEN {
            return Err(IdError::WrongLength {
                what: "hold id",
                expected: Self::LEN,
                found: s.chars().count(),
            });
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HoldId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<HoldId> for String {
    fn from(value: HoldId) -> String {
        value.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_beyond_two_to_the_53_stay_exact() {
        let id = OrderId::parse("5678901234567890123").unwrap();
        assert_eq!(id.as_str(), "5678901234567890123");
    }

    #[test]
    fn order_ref_key_round_trips() {
        let r = OrderRef::new(
            Mall::Rakuten,
            ShopId::parse("tanaka-shop").unwrap(),
            OrderId::parse("123456-20261123-0000000001").unwrap(),
        );
        assert_eq!(OrderRef::parse_key(&r.key()).unwrap(), r);
    }

    #[test]
    fn ids_with_slashes_or_blanks_are_refused() {
        assert!(OrderId::parse("12/34").is_err());
        assert!(OrderId::parse("   ").is_err());
        assert!(ShopId::parse("shop one").is_err());
        assert!("ebay".parse::<Mall>().is_err());
    }

    #[test]
    fn hold_ids_are_derived_from_the_order_and_parse_back() {
        let r = OrderRef::new(Mall::Own, ShopId::parse("s").unwrap(), OrderId::parse("1").unwrap());
        let id = HoldId::for_order(&r);
        assert_eq!(id, HoldId::for_order(&r));
        assert_eq!(HoldId::parse(id.as_str()).unwrap(), id);
        assert!(HoldId::parse("h123").is_err());
    }

    #[test]
    fn a_hold_id_copied_short_says_so_rather_than_blaming_a_character() {
        let full = "hd5a10eb53f58a940451f";
        let short = HoldId::parse(&full[..12]).unwrap_err();
        assert_eq!(
            short,
            IdError::WrongLength {
                what: "hold id",
                expected: 21,
                found: 12
            }
        );
        assert!(short.to_string().contains("12 characters, not 21"), "{short}");
        assert!(matches!(
            HoldId::parse("x5a10eb53f58a940451f0"),
            Err(IdError::BadPrefix { .. })
        ));
        assert!(matches!(
            HoldId::parse("hd5a10eb53f58a94045zz"),
            Err(IdError::BadCharacter { found: 'z', .. })
        ));
        assert_eq!(
            HoldId::parse(&full.to_uppercase().replacen('H', "h", 1))
                .unwrap()
                .as_str(),
            full
        );
    }
}
