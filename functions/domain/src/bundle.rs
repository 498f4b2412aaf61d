//! The whole picture for the buyer: their other open orders beside a hold (関連するご注文), whether the
//! shop ships one buyer's orders to one address together (同梱), and what will arrive, in how many parcels,
//! once a hold is settled.
//!
//! A buyer who meant "A and B" and placed A, A and B sees all three in the notice, and after answering
//! reads exactly what arrives and whether in one parcel: the sentence the shop can read back to them at the
//! door. Pure: the store hands in the index entries and the orders, this decides.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::identity::{IdentityKey, ProductMap, Recipient};
use crate::ids::{Mall, OrderRef};
use crate::matching::IndexEntry;
use crate::normalize;
use crate::order::{Order, OrderStatus};

/// Whether the shop's warehouse ships one buyer's open orders to one address as one parcel (同梱), and
/// for which malls' orders. Off by default: many warehouses pack each mall's orders apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Bundling {
    #[default]
    Off,
    /// Orders of these malls to the same address ship together (every mall for `all`).
    Malls(BTreeSet<Mall>),
}

impl Bundling {
    pub fn is_on(&self) -> bool {
        matches!(self, Bundling::Malls(malls) if !malls.is_empty())
    }

    /// Whether an order of `mall` may go in a bundled parcel.
    pub fn allows(&self, mall: Mall) -> bool {
        matches!(self, Bundling::Malls(malls) if malls.contains(&mall))
    }
}

impl FromStr for Bundling {
    type Err = String;

    /// `off`, `all`, or the malls whose orders ship together, separated by commas (`rakuten,yahoo,own`).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        match raw.to_ascii_lowercase().as_str() {
            "off" | "no" | "false" | "none" => return Ok(Bundling::Off),
            "all" | "on" | "yes" | "true" => return Ok(Bundling::Malls(Mall::ALL.into_iter().collect())),
            _ => {}
        }
        let malls = raw
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .map(|m| {
                m.parse::<Mall>().map_err(|_| {
                    format!("expected off, all, or malls separated by commas (shopify, rakuten, yahoo, amazon, own), not {raw:?}")
                })
            })
            .collect::<Result<BTreeSet<Mall>, String>>()?;
        if malls.is_empty() {
            return Err(format!("expected off, all, or malls separated by commas, not {raw:?}"));
        }
        Ok(Bundling::Malls(malls))
    }
}

impl fmt::Display for Bundling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bundling::Off => f.write_str("off"),
            Bundling::Malls(malls) if malls.len() == Mall::ALL.len() => f.write_str("all"),
            Bundling::Malls(malls) => {
                let names: Vec<&str> = malls.iter().map(|m| m.as_str()).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl Serialize for Bundling {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bundling {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// The buyer's other orders beside a hold: those in `entries` (the index entries of the held order's keys)
/// placed within `window` of `around`, not cancelled, not among `exclude` (the held order and the one it
/// duplicates), and going to exactly the held order's recipient, the same name *and* the same address. A
/// gift to somebody else is another parcel and none of this buyer's business to see again; and since the
/// orders shown went to the buyer's own name and address, the notice shows nothing of anybody else's.
/// Oldest first.
pub fn related_refs(
    keys: &[IdentityKey],
    recipient: &Recipient,
    exclude: &[&OrderRef],
    entries: &[IndexEntry],
    around: Timestamp,
    window: SignedDuration,
) -> Vec<OrderRef> {
    let mut cancelled: BTreeSet<&OrderRef> = BTreeSet::new();
    let mut found: Vec<(Timestamp, &OrderRef)> = vec![];
    for entry in entries {
        if entry.cancelled {
            cancelled.insert(&entry.order);
            continue;
        }
        if exclude.contains(&&entry.order)
            || !keys.contains(&entry.key)
            || around.duration_since(entry.placed_at).abs() > window
            || !same_parcel_address(&entry.recipient, recipient)
        {
            continue;
        }
        if !found.iter().any(|(_, o)| *o == &entry.order) {
            found.push((entry.placed_at, &entry.order));
        }
    }
    found.retain(|(_, o)| !cancelled.contains(o));
    found.sort();
    found.into_iter().map(|(_, o)| o.clone()).collect()
}

/// The same name at the same place. The reading is left out: one mall gives it (Rakuten, Yahoo!) and
/// another does not (Shopify, Amazon), so a buyer's own orders on two malls would otherwise never be related.
fn same_parcel_address(a: &Recipient, b: &Recipient) -> bool {
    a.name == b.name && a.place == b.place
}

/// Whether two orders were placed by one buyer, as far as the orders say: the same email, or the same
/// buyer's name (normalised: spaces, honorifics and variant kanji folded). Only such an order is shown
/// beside a hold: two people who each send to one recipient (siblings sending to their mother) share the
/// recipient's keys but never see each other's orders.
pub fn same_buyer(a: &Order, b: &Order) -> bool {
    let email = |o: &Order| o.buyer.email.as_ref().and_then(|e| normalize::email(e.as_str()));
    if let (Some(x), Some(y)) = (email(a), email(b))
        && x == y
    {
        return true;
    }
    let (x, y) = (normalize::name(&a.buyer.name), normalize::name(&b.buyer.name));
    !x.is_empty() && x == y
}

/// Whether two orders go to the same address, read as the recipient check reads it (the names aside), with
/// the same postal code where both give one: the orders related to a hold are the ones to this place, and a
/// parcel goes under one label, so two postal codes are two parcels.
pub fn same_address(a: &Order, b: &Order) -> bool {
    let postal = |o: &Order| normalize::postal_code(&o.ship_to.postal_code);
    let postal_agrees = match (postal(a), postal(b)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    postal_agrees && crate::identity::same_place(&a.ship_to, &b.ship_to)
}

/// The items of `orders` added up by product, in the order they first appear: 「A × 2、B × 1」.
pub fn items_line(orders: &[&Order], products: &ProductMap, lang: Language) -> String {
    let mut items: Vec<(crate::ids::ProductKey, String, u32)> = vec![];
    for order in orders {
        for line in order.lines.iter() {
            let product = products.resolve(&line.product);
            match items.iter_mut().find(|(p, _, _)| *p == product) {
                Some((_, _, quantity)) => *quantity += line.quantity.get(),
                None => items.push((product, line.title.clone(), line.quantity.get())),
            }
        }
    }
    let parts: Vec<String> = items
        .into_iter()
        .map(|(_, title, quantity)| format!("{title} × {quantity}"))
        .collect();
    parts.join(match lang {
        Language::Ja => "、",
        Language::En => ", ",
    })
}

/// 同梱候補: of `orders` (a hold's orders and the buyer's related ones), those the shop's warehouse may pack
/// into one parcel with `held`: open (not shipped, not cancelled), of a mall the setting allows, to the held
/// order's address. Empty unless at least two qualify, or when bundling is off.
pub fn bundle_candidates<'a>(held: &Order, orders: &[&'a Order], bundling: &Bundling) -> Vec<&'a Order> {
    if !bundling.is_on() {
        return vec![];
    }
    let candidates: Vec<&Order> = orders
        .iter()
        .copied()
        .filter(|o| o.status == OrderStatus::Open && bundling.allows(o.order_ref.mall) && same_address(o, held))
        .collect();
    if candidates.len() < 2 { vec![] } else { candidates }
}

/// What will arrive, order by order, in parcels: the orders `arriving` that the warehouse bundles (see
/// [`bundle_candidates`]) in one parcel, every other in its own. The first order of `arriving` is the
/// address the bundle goes to.
pub fn parcels<'a>(held: &Order, arriving: &[&'a Order], bundling: &Bundling) -> Vec<Vec<&'a Order>> {
    let bundled = bundle_candidates(held, arriving, bundling);
    let mut parcels: Vec<Vec<&Order>> = vec![];
    if !bundled.is_empty() {
        parcels.push(bundled.clone());
    }
    for order in arriving {
        if !bundled.iter().any(|b| b.order_ref == order.order_ref) {
            parcels.push(vec![order]);
        }
    }
    parcels
}

/// The orders that remain to be sent once a hold is settled: the earlier order, the held one when it is to
/// ship, and the buyer's related orders, each unless cancelled.
pub fn remaining<'a>(original: &'a Order, held: Option<&'a Order>, related: &'a [Order]) -> Vec<&'a Order> {
    std::iter::once(original)
        .chain(held)
        .chain(related.iter())
        .filter(|o| o.status != OrderStatus::Cancelled)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityHasher;
    use crate::order::OrderLines;
    use crate::testing::{line, order, order_at};

    fn with_product(mut o: Order, product: &str, title: &str) -> Order {
        let mut l = line(product, 1);
        l.title = title.into();
        o.lines = OrderLines::parse(vec![l]).unwrap();
        o
    }

    fn entries(hasher: &IdentityHasher, orders: &[&Order]) -> Vec<IndexEntry> {
        orders
            .iter()
            .flat_map(|o| {
                let id = hasher.order_identity(o);
                id.keys.into_iter().map(move |key| IndexEntry {
                    key,
                    order: o.order_ref.clone(),
                    placed_at: o.placed_at,
                    products: vec![],
                    recipient: id.recipient.clone(),
                    cancelled: o.status == OrderStatus::Cancelled,
                })
            })
            .collect()
    }

    #[test]
    fn bundling_reads_off_all_or_a_list_of_malls_and_writes_the_same() {
        assert_eq!("off".parse::<Bundling>().unwrap(), Bundling::Off);
        let all: Bundling = "all".parse().unwrap();
        assert!(all.allows(Mall::Amazon) && all.to_string() == "all");
        let some: Bundling = " Rakuten, yahoo ".parse().unwrap();
        assert!(some.allows(Mall::Rakuten) && some.allows(Mall::Yahoo) && !some.allows(Mall::Amazon));
        assert_eq!(some.to_string(), "rakuten,yahoo");
        assert!("rakuten,ebay".parse::<Bundling>().unwrap_err().contains("ebay"));
        assert!(",".parse::<Bundling>().is_err());
        let json = serde_json::to_string(&some).unwrap();
        assert_eq!(serde_json::from_str::<Bundling>(&json).unwrap(), some);
    }

    #[test]
    fn the_buyers_other_orders_to_their_own_address_are_related_and_a_gift_to_somebody_else_is_not() {
        let hasher = IdentityHasher::new(b"pepper".to_vec());
        let first = order_at("A1", "2026-11-23T03:00:00Z");
        let held = order_at("A2", "2026-11-23T03:05:00Z");
        let b = with_product(order_at("B", "2026-11-23T03:07:00Z"), "SKU-B", "B");
        let mut gift = with_product(order_at("GIFT", "2026-11-23T03:08:00Z"), "SKU-B", "B");
        gift.gift = true;
        gift.ship_to.name = "佐藤 一郎".into();
        gift.ship_to.postal_code = "530-0001".into();
        gift.ship_to.prefecture = "大阪府".into();
        gift.ship_to.city = "大阪市北区".into();
        gift.ship_to.lines = vec!["梅田1-1-1".into()];
        // To the buyer's own address, but for another person there: not the buyer's own parcel either.
        let mut family = with_product(order_at("FAMILY", "2026-11-23T03:09:00Z"), "SKU-B", "B");
        family.ship_to.name = "山田 花子".into();
        let mut cancelled = with_product(order_at("C", "2026-11-23T03:10:00Z"), "SKU-C", "C");
        cancelled.status = OrderStatus::Cancelled;
        let late = order_at("LATE", "2026-11-26T03:10:00Z");
        let all = entries(&hasher, &[&first, &held, &b, &gift, &family, &cancelled, &late]);
        let id = hasher.order_identity(&held);
        let related = related_refs(
            &id.keys,
            &id.recipient,
            &[&held.order_ref, &first.order_ref],
            &all,
            held.placed_at,
            SignedDuration::from_hours(48),
        );
        assert_eq!(related, vec![b.order_ref.clone()]);
    }

    #[test]
    fn the_items_add_up_by_product_and_the_bundle_is_the_open_orders_to_one_address_of_allowed_malls() {
        let a1 = order("A1");
        let mut a2 = order("A2");
        a2.order_ref.mall = Mall::Yahoo;
        let b = with_product(order("B"), "SKU-B", "煎茶 B");
        let products = ProductMap::default();
        let line = items_line(&[&a1, &a2, &b], &products, Language::Ja);
        let title = a1.lines.iter().next().unwrap().title.clone();
        assert_eq!(line, format!("{title} × 2、煎茶 B × 1"));

        let everything: Bundling = "all".parse().unwrap();
        assert_eq!(parcels(&a2, &[&a1, &a2, &b], &everything).len(), 1);
        // Only the own store's orders are packed together: the Yahoo! order goes apart.
        let own_only: Bundling = "own".parse().unwrap();
        let split = parcels(&a2, &[&a1, &a2, &b], &own_only);
        assert_eq!(split.len(), 2, "{split:?}");
        assert_eq!(parcels(&a2, &[&a1, &a2, &b], &Bundling::Off).len(), 3);
        // Another address is another parcel.
        let mut elsewhere = b.clone();
        elsewhere.ship_to.postal_code = "530-0001".into();
        assert_eq!(parcels(&a2, &[&a1, &a2, &elsewhere], &everything).len(), 2);
        // An order that left the postal code out, to the same place, is packed with the others (it is
        // related by the same place); one to another room is not.
        let mut no_postal = b.clone();
        no_postal.ship_to.postal_code = String::new();
        assert_eq!(parcels(&a2, &[&a1, &a2, &no_postal], &everything).len(), 1);
        let mut next_door = b.clone();
        next_door.ship_to.lines = vec!["千代田1-2-3 メゾン千代田 102".into()];
        assert_eq!(parcels(&a2, &[&a1, &a2, &next_door], &everything).len(), 2);
        // A shipped order is no longer a candidate.
        let mut shipped = a1.clone();
        shipped.status = OrderStatus::Shipped;
        assert!(bundle_candidates(&a2, &[&shipped, &a2], &everything).is_empty());
    }
}
