//! Builders for tests: a realistic order, a shop, a hold, a clock that tests move by hand.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use crate::Language;
use crate::hold::{ContactRules, Hold, HoldState, risk_flags};
use crate::identity::KeyKind;
use crate::ids::{HoldId, Mall, OrderId, OrderRef, ProductKey, ShopId};
use crate::order::{
    Buyer, Delivery, EmailAddress, Money, Order, OrderLine, OrderLines, OrderStatus, PayloadDigest, PaymentMethod,
    PostalAddress, Quantity,
};
use crate::policy::{Policy, ShopProfile};
use crate::ports::Clock;

pub fn line(sku: &str, quantity: u32) -> OrderLine {
    OrderLine {
        product: ProductKey::parse(sku).unwrap(),
        title: format!("有機緑茶 {sku}"),
        quantity: Quantity::try_from(quantity).unwrap(),
        unit_price: Some(Money::yen(1200)),
    }
}

/// An order by 山田 太郎 for one SKU-A, placed 2026-11-23 12:00 JST on the shop's own store.
pub fn order(id: &str) -> Order {
    order_at(id, "2026-11-23T03:00:00Z")
}

pub fn order_at(id: &str, placed_at: &str) -> Order {
    Order {
        order_ref: OrderRef::new(Mall::Own, ShopId::parse("tanaka").unwrap(), OrderId::parse(id).unwrap()),
        placed_at: placed_at.parse().unwrap(),
        buyer: Buyer {
            name: "山田 太郎".into(),
            kana: Some("ヤマダ タロウ".into()),
            email: Some(EmailAddress::parse("taro.yamada@example.com").unwrap()),
            phone: Some("090-1234-5678".into()),
            address: None,
        },
        ship_to: PostalAddress {
            name: "山田 太郎".into(),
            postal_code: "100-0001".into(),
            prefecture: "東京都".into(),
            city: "千代田区".into(),
            lines: vec!["千代田1-2-3 メゾン千代田 101".into()],
            phone: Some("090-1234-5678".into()),
        },
        lines: OrderLines::parse(vec![line("SKU-A", 1)]).unwrap(),
        delivery: Delivery::default(),
        gift: false,
        payment: PaymentMethod::Card,
        status: OrderStatus::Open,
        total: Some(Money::yen(1200)),
        payload_digest: PayloadDigest::of(id.as_bytes()),
    }
}

pub fn shop() -> ShopProfile {
    ShopProfile {
        name: "田中商店".into(),
        contact_email: EmailAddress::parse("support@tanaka-shop.example").unwrap(),
        contact_phone: Some("03-1234-5678".into()),
        staff_email: EmailAddress::parse("staff@tanaka-shop.example").unwrap(),
        public_url: "http://127.0.0.1:9000".into(),
        language: Language::Ja,
    }
}

/// A fresh hold on `held` as a duplicate of `original`, noticed when `held` was placed.
pub fn hold_for(held: &Order, original: &Order) -> Hold {
    let deadline = Policy::default().deadline(held, held.placed_at);
    Hold {
        id: HoldId::for_order(&held.order_ref),
        order: held.order_ref.clone(),
        original: original.order_ref.clone(),
        state: HoldState::Held,
        version: 1,
        created_at: held.placed_at,
        deadline: deadline.at,
        remind_at: deadline.remind_at,
        urgent: deadline.urgent,
        shared_keys: vec![KeyKind::Email, KeyKind::Phone],
        shared_products: vec![ProductKey::parse("SKU-A").unwrap()],
        risks: risk_flags(held),
        contact: ContactRules::for_order(held),
        amazon_fallback_case: None,
        resolution: None,
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn at(at: &str) -> Self {
        Self(Mutex::new(at.parse().unwrap()))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap() = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap();
        *now = now.checked_add(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}
