//! Suspected-duplicate matching. Pure: the store hands in the index entries of the new
//! order's identity keys inside the window, and this decides.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::identity::{IdentityKey, KeyKind, Recipient};
use crate::ids::{OrderRef, ProductKey};

/// One order as seen from one of its identity keys: what the match index holds. No readable personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    pub key: IdentityKey,
    pub order: OrderRef,
    pub placed_at: Timestamp,
    pub products: Vec<ProductKey>,
    pub recipient: Recipient,
    /// Cancelled orders stay in the index for the evidence but never match.
    pub cancelled: bool,
}

/// What a new order is matched with.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub order: &'a OrderRef,
    pub placed_at: Timestamp,
    pub keys: &'a [IdentityKey],
    pub products: &'a [ProductKey],
    pub recipient: &'a Recipient,
}

/// The earlier order a new order duplicates, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateOf {
    pub original: OrderRef,
    pub original_placed_at: Timestamp,
    pub shared_keys: Vec<KeyKind>,
    pub shared_products: Vec<ProductKey>,
}

/// Finds the order that `new` is a suspected duplicate of, if any.
///
/// Two orders match when they share an identity key and a product, were placed within `window` of each
/// other, the earlier is not cancelled, and they go to the same recipient (same name or same address, or
/// names that sound alike; when only phone or reading keys are shared, the names must agree, written or
/// read alike):
/// a buyer who sends one gift to several people is not ordering twice. Among several matches the
/// earliest wins, so three copies all point at the first. The window is symmetric because malls
/// deliver out of order: the order that arrives second is the one held, since the first may be packing.
pub fn find_duplicate(new: Candidate<'_>, entries: &[IndexEntry], window: SignedDuration) -> Option<DuplicateOf> {
    let mut by_order: BTreeMap<&OrderRef, Vec<&IndexEntry>> = BTreeMap::new();
    for entry in entries {
        if entry.order != *new.order && new.keys.contains(&entry.key) {
            by_order.entry(&entry.order).or_default().push(entry);
        }
    }
    by_order
        .into_iter()
        .filter_map(|(order, entries)| {
            let first = entries[0];
            if entries.iter().any(|e| e.cancelled) {
                return None;
            }
            let gap = new.placed_at.duration_since(first.placed_at).abs();
            if gap > window || !first.recipient.same_as(new.recipient) {
                return None;
            }
            let shared_products: Vec<ProductKey> = first
                .products
                .iter()
                .filter(|p| new.products.contains(p))
                .cloned()
                .collect();
            if shared_products.is_empty() {
                return None;
            }
            let mut shared_keys: Vec<KeyKind> = entries.iter().map(|e| e.key.kind()).collect();
            shared_keys.sort();
            shared_keys.dedup();
            // A reading links two names only when one of them is written as it sounds: two kanji names with
            // one reading (佐藤花子, 佐藤華子) at one address may be two people. A phone may be a household's
            // landline (or an office's), whose members share the place too. So when nothing but a phone or a
            // reading is shared, the names must agree, written alike or read alike.
            let weak = |kind: &KeyKind| matches!(kind, KeyKind::Phone | KeyKind::Reading);
            if shared_keys.iter().all(weak) && !first.recipient.same_name(new.recipient) {
                return None;
            }
            Some(DuplicateOf {
                original: order.clone(),
                original_placed_at: first.placed_at,
                shared_keys,
                shared_products,
            })
        })
        .min_by(|a, b| (a.original_placed_at, &a.original).cmp(&(b.original_placed_at, &b.original)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{IdentityHasher, ProductMap};
    use crate::ids::Mall;
    use crate::order::Order;
    use crate::testing::{line, order, order_at};

    struct Indexed {
        entries: Vec<IndexEntry>,
        hasher: IdentityHasher,
    }

    impl Indexed {
        fn new() -> Self {
            Self {
                entries: vec![],
                hasher: IdentityHasher::new(b"pepper".to_vec()),
            }
        }

        fn check(&self, o: &Order) -> Option<DuplicateOf> {
            let id = self.hasher.order_identity(o);
            let products = ProductMap::default().products_of(o);
            let cand = Candidate {
                order: &o.order_ref,
                placed_at: o.placed_at,
                keys: &id.keys,
                products: &products,
                recipient: &id.recipient,
            };
            find_duplicate(cand, &self.entries, SignedDuration::from_hours(48))
        }

        fn add(&mut self, o: &Order) -> Option<DuplicateOf> {
            let found = self.check(o);
            let id = self.hasher.order_identity(o);
            let products = ProductMap::default().products_of(o);
            for key in id.keys {
                self.entries.push(IndexEntry {
                    key,
                    order: o.order_ref.clone(),
                    placed_at: o.placed_at,
                    products: products.clone(),
                    recipient: id.recipient.clone(),
                    cancelled: false,
                });
            }
            found
        }
    }

    #[test]
    fn the_same_item_ordered_twice_five_minutes_apart_is_a_suspected_duplicate() {
        let mut idx = Indexed::new();
        assert_eq!(idx.add(&order_at("1", "2026-11-23T03:00:00Z")), None);
        let dup = idx.add(&order_at("2", "2026-11-23T03:05:00Z")).expect("held");
        assert_eq!(dup.original.order_id.as_str(), "1");
        assert!(dup.shared_keys.contains(&KeyKind::Email));
    }

    #[test]
    fn a_a_b_holds_only_the_second_a() {
        let mut idx = Indexed::new();
        let a1 = order_at("1", "2026-11-23T03:00:00Z");
        let a2 = order_at("2", "2026-11-23T03:01:00Z");
        let mut b = order_at("3", "2026-11-23T03:02:00Z");
        b.lines = crate::order::OrderLines::parse(vec![line("SKU-B", 1)]).unwrap();
        assert!(idx.add(&a1).is_none());
        assert!(idx.add(&a2).is_some());
        assert!(idx.add(&b).is_none());
    }

    #[test]
    fn two_of_one_item_in_one_order_is_not_a_duplicate() {
        let mut idx = Indexed::new();
        let mut o = order("1");
        o.lines = crate::order::OrderLines::parse(vec![line("SKU-A", 2)]).unwrap();
        assert!(idx.add(&o).is_none());
        // A redelivery of the same order never matches itself.
        assert!(idx.add(&o).is_none());
    }

    #[test]
    fn three_copies_all_point_at_the_first() {
        let mut idx = Indexed::new();
        idx.add(&order_at("1", "2026-11-23T03:00:00Z"));
        let second = idx.add(&order_at("2", "2026-11-23T03:01:00Z")).unwrap();
        let third = idx.add(&order_at("3", "2026-11-23T03:02:00Z")).unwrap();
        assert_eq!(second.original.order_id.as_str(), "1");
        assert_eq!(third.original.order_id.as_str(), "1");
    }

    #[test]
    fn orders_outside_the_window_do_not_match() {
        let mut idx = Indexed::new();
        idx.add(&order_at("1", "2026-11-20T03:00:00Z"));
        assert!(idx.check(&order_at("2", "2026-11-22T03:00:01Z")).is_none());
        assert!(idx.check(&order_at("3", "2026-11-22T03:00:00Z")).is_some());
    }

    #[test]
    fn a_cancelled_earlier_order_does_not_match() {
        let mut idx = Indexed::new();
        idx.add(&order("1"));
        for e in &mut idx.entries {
            e.cancelled = true;
        }
        assert!(idx.check(&order("2")).is_none());
    }

    #[test]
    fn gifts_to_different_recipients_are_not_duplicates() {
        let mut idx = Indexed::new();
        idx.add(&order("1"));
        let mut gift = order("2");
        gift.gift = true;
        gift.ship_to.name = "佐藤 花子".into();
        gift.ship_to.postal_code = "530-0001".into();
        gift.ship_to.prefecture = "大阪府".into();
        gift.ship_to.city = "大阪市北区".into();
        gift.ship_to.lines = vec!["梅田1-1-1".into()];
        gift.ship_to.phone = Some("06-1111-2222".into());
        assert!(idx.check(&gift).is_none());
    }

    #[test]
    fn a_reorder_to_the_same_recipient_with_a_corrected_address_still_matches() {
        let mut idx = Indexed::new();
        idx.add(&order("1"));
        let mut fixed = order("2");
        fixed.ship_to.lines = vec!["千代田1-2-3 メゾン千代田 201".into()];
        assert!(idx.check(&fixed).is_some());
    }

    #[test]
    fn neighbours_in_one_building_are_not_matched() {
        let mut idx = Indexed::new();
        idx.add(&order("1"));
        let mut neighbour = order("2");
        neighbour.buyer.name = "鈴木 一郎".into();
        neighbour.buyer.email = Some(crate::order::EmailAddress::parse("ichiro@example.com").unwrap());
        neighbour.buyer.phone = Some("080-9999-8888".into());
        neighbour.ship_to.name = "鈴木 一郎".into();
        neighbour.ship_to.phone = None;
        neighbour.ship_to.lines = vec!["千代田1-2-3 メゾン千代田 305".into()];
        assert!(idx.check(&neighbour).is_none());
    }

    #[test]
    fn the_same_customer_across_malls_matches_on_phone_and_address() {
        let mut idx = Indexed::new();
        let mut rakuten = order("1");
        rakuten.order_ref.mall = Mall::Rakuten;
        rakuten.buyer.email = Some(crate::order::EmailAddress::parse("abc123@pc.fw.rakuten.ne.jp").unwrap());
        idx.add(&rakuten);
        let mut yahoo = order("2");
        yahoo.order_ref.mall = Mall::Yahoo;
        yahoo.buyer.phone = Some("+81 90 1234 5678".into());
        yahoo.ship_to.lines = vec!["千代田一丁目２番３号　メゾン千代田１０１".into()];
        let dup = idx.check(&yahoo).expect("matched across malls");
        assert!(!dup.shared_keys.contains(&KeyKind::Email));
        assert!(dup.shared_keys.contains(&KeyKind::Phone));
    }

    /// An order of the same item by someone who shares no email or phone with 山田 太郎's: only the
    /// ship-to (name, reading, address) can link them.
    fn stranger_to(id: &str, name: &str, kana: Option<&str>) -> Order {
        let mut o = order_at(id, "2026-11-23T03:10:00Z");
        o.order_ref.mall = Mall::Amazon;
        o.buyer.name = name.into();
        o.buyer.kana = None;
        o.buyer.email = Some(crate::order::EmailAddress::parse(&format!("{id}@marketplace.amazon.co.jp")).unwrap());
        o.buyer.phone = None;
        o.ship_to.phone = None;
        o.ship_to.name = name.into();
        o.ship_to.kana = kana.map(str::to_owned);
        o
    }

    fn rakuten_yamada() -> Order {
        let mut o = order("R-1");
        o.order_ref.mall = Mall::Rakuten;
        o.buyer.email = Some(crate::order::EmailAddress::parse("abc123@pc.fw.rakuten.ne.jp").unwrap());
        o.buyer.phone = None;
        o.ship_to.phone = None;
        o.ship_to.kana = Some("ヤマダ タロウ".into());
        o
    }

    #[test]
    fn a_reading_links_a_kanji_name_to_the_same_name_in_romaji_at_the_same_address() {
        for romaji in [
            "Taro Yamada",
            "YAMADA TARO",
            "yamada tarou",
            "ヤマダ タロウ",
            "やまだ たろう 様",
        ] {
            let mut idx = Indexed::new();
            idx.add(&rakuten_yamada());
            let dup = idx
                .check(&stranger_to("A-1", romaji, None))
                .unwrap_or_else(|| panic!("{romaji} matched"));
            assert_eq!(dup.shared_keys, vec![KeyKind::Reading], "{romaji}");
        }
    }

    #[test]
    fn a_reading_never_links_a_different_syllable_or_a_different_kanji_name() {
        for (name, kana) in [
            ("Taro Saitou", None),
            ("Jiro Yamada", None),
            ("Hanako Yamada", None),
            // Two kanji names that read alike are not one person by their readings alone.
            ("山田 太朗", Some("ヤマダ タロウ")),
        ] {
            let mut idx = Indexed::new();
            idx.add(&rakuten_yamada());
            assert!(idx.check(&stranger_to("A-1", name, kana)).is_none(), "{name}");
        }
    }

    #[test]
    fn a_phone_alone_links_one_household_only_when_the_names_agree() {
        let landline = |id: &str, name: &str, kana: Option<&str>| {
            let mut o = stranger_to(id, name, kana);
            o.ship_to.phone = Some("03-3261-4455".into());
            o
        };
        for (name, kana, held) in [
            ("山田 花子", None, false),
            ("Hanako Yamada", None, false),
            ("山田 太朗", Some("ヤマダ タロウ"), false),
            ("山田 太郎 様", None, true),
            ("Taro Yamada", None, true),
        ] {
            let mut idx = Indexed::new();
            idx.add(&landline("R-1", "山田 太郎", Some("ヤマダ タロウ")));
            let found = idx.check(&landline("A-1", name, kana));
            assert_eq!(found.is_some(), held, "{name} {found:?}");
        }
        // The same household's shared email still links them (a family orders once).
        let mut idx = Indexed::new();
        let mut taro = landline("R-1", "山田 太郎", None);
        taro.buyer.email = Some(crate::order::EmailAddress::parse("yamada@example.jp").unwrap());
        idx.add(&taro);
        let mut hanako = landline("A-1", "山田 花子", None);
        hanako.buyer.email = taro.buyer.email.clone();
        assert!(idx.check(&hanako).is_some());
    }

    #[test]
    fn a_reading_at_another_address_links_nobody() {
        let mut idx = Indexed::new();
        idx.add(&rakuten_yamada());
        let mut elsewhere = stranger_to("A-1", "Taro Yamada", None);
        elsewhere.ship_to.lines = vec!["千代田1-2-3 メゾン千代田 102".into()];
        assert!(idx.check(&elsewhere).is_none());
    }

    #[test]
    fn variant_kanji_and_honorifics_are_one_recipient_for_the_gift_rule() {
        // The buyer (one email) sends the same item twice to 渡邊 一郎, written two ways, at two addresses
        // of his: a re-order to the same recipient, not two gifts.
        let mut idx = Indexed::new();
        let mut first = order("1");
        first.ship_to.name = "渡邊 一郎".into();
        first.ship_to.phone = None;
        first.ship_to.lines = vec!["千代田1-2-3".into()];
        idx.add(&first);
        let mut second = order_at("2", "2026-11-23T04:00:00Z");
        second.ship_to.name = "渡辺一郎 様".into();
        second.ship_to.phone = None;
        second.ship_to.postal_code = "530-0001".into();
        second.ship_to.prefecture = "大阪府".into();
        second.ship_to.city = "大阪市北区".into();
        second.ship_to.lines = vec!["梅田1-1-1".into()];
        assert!(idx.check(&second).is_some(), "渡邊 and 渡辺 are one recipient");
        // To 渡部 一郎 at the other address, it is a gift to somebody else.
        second.ship_to.name = "渡部 一郎".into();
        assert!(idx.check(&second).is_none());
    }

    #[test]
    fn a_recipient_in_romaji_is_the_recipient_whose_reading_agrees() {
        let mut idx = Indexed::new();
        let mut first = order("1");
        first.ship_to.name = "佐藤 花子".into();
        first.ship_to.kana = Some("サトウ ハナコ".into());
        first.ship_to.phone = None;
        idx.add(&first);
        let mut second = order_at("2", "2026-11-23T04:00:00Z");
        second.ship_to.phone = None;
        second.ship_to.postal_code = "530-0001".into();
        second.ship_to.prefecture = "大阪府".into();
        second.ship_to.city = "大阪市北区".into();
        second.ship_to.lines = vec!["梅田1-1-1".into()];
        second.ship_to.name = "Hanako Sato".into();
        assert!(
            idx.check(&second).is_some(),
            "a re-order to the same recipient at a corrected address"
        );
        second.ship_to.name = "Hanako Saito".into();
        assert!(idx.check(&second).is_none(), "a gift to somebody else");
        // 佐藤華子 (サトウ ハナコ too) is another person: two kanji names never agree by reading alone.
        second.ship_to.name = "佐藤 華子".into();
        second.ship_to.kana = Some("サトウ ハナコ".into());
        assert!(idx.check(&second).is_none());
    }
}
