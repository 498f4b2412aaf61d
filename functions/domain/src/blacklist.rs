//! The shop's blacklist (ブラックリスト): customers the staff want to look at before anything ships.
//!
//! An entry is made from one of the customer's orders: its identity keys (hashed, as everywhere) are
//! marked, each in its own key's partition, so the ingest read that already asks every key of a new
//! order for its index entries and head sees the marks too, at no extra request. A later order sharing a
//! marked key is held for the staff's review, with no mail to the buyer.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::IdentityKey;
use crate::ids::{IdError, OrderRef};

/// A blacklist entry's id: derived from the order it was made from, so adding the same order twice is
/// one entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlacklistId(String);

impl BlacklistId {
    const PREFIX: &'static str = "b";
    /// `b` and 20 hex digits.
    const LEN: usize = 21;

    pub fn for_order(order: &OrderRef) -> Self {
        let digest = Sha256::digest(format!("blacklist:{}", order.key()).as_bytes());
        let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let what = "blacklist entry id";
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty { what });
        }
        let Some(hex) = s.strip_prefix(Self::PREFIX) else {
            return Err(IdError::BadPrefix {
                what,
                prefix: Self::PREFIX,
            });
        };
        if let Some(found) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(IdError::BadCharacter { what, found });
        }
        if s.len() != Self::LEN {
            return Err(IdError::WrongLength {
                what,
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

impl TryFrom<String> for BlacklistId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BlacklistId> for String {
    fn from(value: BlacklistId) -> String {
        value.0
    }
}

impl fmt::Display for BlacklistId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest reason kept: a sentence or two, not a file.
pub const MAX_REASON_CHARS: usize = 500;

/// One customer on the blacklist, made from one of their orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistEntry {
    pub id: BlacklistId,
    /// The order the entry was made from.
    pub order: OrderRef,
    /// That order's number as people know it, where it differs from its id (Shopify `#1001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// The order's identity keys, marked in their partitions.
    pub keys: Vec<IdentityKey>,
    /// Why, in the staff's words.
    pub reason: String,
    /// Who added it (a staff member's address, or the operator's name at the command line).
    pub added_by: String,
    pub added_at: Timestamp,
}

/// What a blacklist write does, all or nothing with the rest of its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlacklistWrite {
    /// The entry and a mark under each of its keys.
    Add(BlacklistEntry),
    /// The entry and its marks removed.
    Remove(BlacklistEntry),
}

/// A mark under one identity key: the ingest read finds it with the key's index entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistMark {
    pub key: IdentityKey,
    pub entry: BlacklistId,
    /// The order the entry was made from.
    pub order: OrderRef,
}

impl BlacklistEntry {
    /// The marks this entry puts under its keys.
    pub fn marks(&self) -> impl Iterator<Item = BlacklistMark> + '_ {
        self.keys.iter().map(|key| BlacklistMark {
            key: key.clone(),
            entry: self.id.clone(),
            order: self.order.clone(),
        })
    }
}

/// A reason as the staff typed it: trimmed, control characters dropped, cut at [`MAX_REASON_CHARS`].
pub fn clean_reason(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(MAX_REASON_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Mall, OrderId, ShopId};

    fn order(id: &str) -> OrderRef {
        OrderRef::new(
            Mall::Rakuten,
            ShopId::parse("shop").unwrap(),
            OrderId::parse(id).unwrap(),
        )
    }

    #[test]
    fn an_entry_id_is_the_same_for_the_same_order_and_differs_from_its_hold_id() {
        let a = BlacklistId::for_order(&order("1"));
        assert_eq!(a, BlacklistId::for_order(&order("1")));
        assert_ne!(a, BlacklistId::for_order(&order("2")));
        assert_eq!(BlacklistId::parse(a.as_str()).unwrap(), a);
        assert!(a.as_str().starts_with('b'));
    }

    #[test]
    fn a_mistyped_entry_id_is_refused_with_the_reason() {
        assert!(matches!(BlacklistId::parse(""), Err(IdError::Empty { .. })));
        assert!(matches!(BlacklistId::parse("h0123"), Err(IdError::BadPrefix { .. })));
        assert!(matches!(BlacklistId::parse("b01z3"), Err(IdError::BadCharacter { .. })));
        assert!(matches!(BlacklistId::parse("b0123"), Err(IdError::WrongLength { .. })));
    }

    #[test]
    fn a_reason_is_trimmed_cut_and_free_of_control_characters() {
        assert_eq!(clean_reason("  返品詐欺\u{7}の疑い \n"), "返品詐欺の疑い");
        assert_eq!(clean_reason(&"あ".repeat(600)).chars().count(), MAX_REASON_CHARS);
    }
}
