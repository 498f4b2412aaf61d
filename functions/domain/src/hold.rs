//! Holds and their lifecycle. A hold (保留) keeps a suspected duplicate from shipping
//! until the buyer, the staff, the mall or the deadline settles it.
//!
//! ```text
//! held ──buyer: ship both──▶ confirmed      held ──buyer/staff: cancel──▶ cancelled
//! held ──the other order is cancelled at the mall──▶ released
//! held ──deadline, no answer──▶ cancelled (unanswered); Amazon: fallback noted
//! ```
//! Every transition starts from the state it read; the store applies it only if nobody moved first.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::identity::KeyKind;
use crate::ids::{HoldId, Mall, OrderRef, ProductKey};
use crate::order::{Order, PaymentMethod};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldState {
    /// 保留中: waiting for an answer.
    Held,
    /// Ship both: the buyer (or the staff) confirmed both orders.
    Confirmed,
    /// The held order is cancelled.
    Cancelled,
    /// The other order was cancelled at the mall, so the held one ships.
    Released,
    /// The mall reports the held order shipped, or says so when asked to hold or cancel it: it is not
    /// cancelled (the staff are told, to contact the buyer about a return if it was a duplicate).
    Shipped,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Held => "held",
            HoldState::Confirmed => "confirmed",
            HoldState::Cancelled => "cancelled",
            HoldState::Released => "released",
            HoldState::Shipped => "shipped",
        }
    }

    /// The state as the staff read it in lists and the evidence.
    pub fn staff_label(self, lang: Language) -> &'static str {
        match (self, lang) {
            (HoldState::Held, Language::Ja) => "保留中",
            (HoldState::Held, Language::En) => "held",
            (HoldState::Confirmed, Language::Ja) => "確定（両方発送）",
            (HoldState::Confirmed, Language::En) => "confirmed (ship both)",
            (HoldState::Cancelled, Language::Ja) => "キャンセル",
            (HoldState::Cancelled, Language::En) => "cancelled",
            (HoldState::Released, Language::Ja) => "保留解除",
            (HoldState::Released, Language::En) => "released",
            (HoldState::Shipped, Language::Ja) => "発送済み（保留中に発送）",
            (HoldState::Shipped, Language::En) => "shipped (while on hold)",
        }
    }

    /// A cancelled hold as the buyer reads it while the order is not yet cancelled at the mall (mallguard's
    /// cancellation there is pending, or the staff cancel it by hand).
    pub fn cancel_in_progress_label(lang: Language) -> &'static str {
        match lang {
            Language::Ja => "キャンセルの手続きを進めております",
            Language::En => "the cancellation is in progress",
        }
    }

    /// The state as the buyer reads it.
    pub fn label(self, lang: Language) -> &'static str {
        match (self, lang) {
            (HoldState::Held, Language::Ja) => "ご回答待ち（発送保留中）",
            (HoldState::Held, Language::En) => "waiting for your answer (on hold)",
            (HoldState::Confirmed, Language::Ja) => "両方とも発送します",
            (HoldState::Confirmed, Language::En) => "both orders will be shipped",
            (HoldState::Cancelled, Language::Ja) => "保留中のご注文はキャンセルされました",
            (HoldState::Cancelled, Language::En) => "the held order has been cancelled",
            (HoldState::Released, Language::Ja) => "もう一方のご注文がキャンセルされたため、保留を解除して発送します",
            (HoldState::Released, Language::En) => "the other order was cancelled, so this one will be shipped",
            (HoldState::Shipped, Language::Ja) => "ご注文は発送済みです",
            (HoldState::Shipped, Language::En) => "the order has been shipped",
        }
    }
}

impl fmt::Display for HoldState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who settled a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Resolver {
    Buyer,
    /// A staff member, e.g. after a phone call.
    Staff {
        name: String,
    },
    /// Nobody answered before the deadline.
    Deadline,
    /// A later notification from the mall.
    Mall,
}

impl Resolver {
    /// Who settled it, as the staff read it.
    pub fn label(&self, lang: Language) -> String {
        match (self, lang) {
            (Resolver::Buyer, Language::Ja) => "購入者".into(),
            (Resolver::Buyer, Language::En) => "the buyer".into(),
            (Resolver::Staff { name }, Language::Ja) => format!("スタッフ（{name}）"),
            (Resolver::Staff { name }, Language::En) => format!("staff ({name})"),
            (Resolver::Deadline, Language::Ja) => "回答期限（回答なし）".into(),
            (Resolver::Deadline, Language::En) => "the deadline (unanswered)".into(),
            (Resolver::Mall, Language::Ja) => "モール".into(),
            (Resolver::Mall, Language::En) => "the mall".into(),
        }
    }
}

impl fmt::Display for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolver::Buyer => f.write_str("buyer"),
            Resolver::Staff { name } => write!(f, "staff ({name})"),
            Resolver::Deadline => f.write_str("deadline (unanswered)"),
            Resolver::Mall => f.write_str("mall"),
        }
    }
}

/// What someone decided about a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Ship both orders.
    Confirm,
    /// Cancel the held order.
    Cancel,
    /// The other order is gone: ship the held one.
    Release,
    /// The mall shipped the held order: nothing is cancelled.
    Shipped,
}

impl Decision {
    fn target(self) -> HoldState {
        match self {
            Decision::Confirm => HoldState::Confirmed,
            Decision::Cancel => HoldState::Cancelled,
            Decision::Release => HoldState::Released,
            Decision::Shipped => HoldState::Shipped,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Confirm => "confirm",
            Decision::Cancel => "cancel",
            Decision::Release => "release",
            Decision::Shipped => "shipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub state: HoldState,
    pub by: Resolver,
    pub at: Timestamp,
}

/// Why a hold needs care beyond the usual mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFlag {
    /// キャリアメール: carrier addresses often reject mail from shops.
    CarrierMail,
    /// Free mail with cash on delivery: the classic pattern of refused parcels.
    FreeMailCashOnDelivery,
    /// The buyer has no mail address we can write to.
    NoBuyerEmail,
    /// The mall holds the order for its own fraud screening (Yahoo!'s 不正注文の審査).
    ScreenedByMall,
}

impl RiskFlag {
    pub fn label(self, lang: Language) -> &'static str {
        match (self, lang) {
            (RiskFlag::CarrierMail, Language::Ja) => "キャリアメール（受信拒否の可能性）",
            (RiskFlag::CarrierMail, Language::En) => "carrier mail address (may reject our mail)",
            (RiskFlag::FreeMailCashOnDelivery, Language::Ja) => "フリーメール＋代金引換",
            (RiskFlag::FreeMailCashOnDelivery, Language::En) => "free mail with cash on delivery",
            (RiskFlag::NoBuyerEmail, Language::Ja) => "購入者のメールアドレスなし",
            (RiskFlag::NoBuyerEmail, Language::En) => "no buyer mail address",
            (RiskFlag::ScreenedByMall, Language::Ja) => "モールの不正注文審査で保留中",
            (RiskFlag::ScreenedByMall, Language::En) => "held by the mall's fraud screening",
        }
    }
}

const CARRIER_DOMAINS: &[&str] = &[
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "disney.ne.jp",
    "ymobile.ne.jp",
    "y-mobile.ne.jp",
    "emobile.ne.jp",
    "willcom.com",
    "rakuten.jp",
    "uqmobile.jp",
];

const FREE_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.co.jp",
    "ymail.ne.jp",
    "hotmail.com",
    "hotmail.co.jp",
    "outlook.com",
    "outlook.jp",
    "live.jp",
    "icloud.com",
    "me.com",
    "aol.com",
];

fn domain_in(domain: &str, list: &[&str]) -> bool {
    list.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
}

/// The risk flags staff see on a held order.
pub fn risk_flags(order: &Order) -> Vec<RiskFlag> {
    let mut flags = vec![];
    match &order.buyer.email {
        None => flags.push(RiskFlag::NoBuyerEmail),
        Some(email) => {
            let domain = email.domain();
            if domain_in(&domain, CARRIER_DOMAINS) {
                flags.push(RiskFlag::CarrierMail);
            }
            if domain_in(&domain, FREE_MAIL_DOMAINS) && order.payment == PaymentMethod::CashOnDelivery {
                flags.push(RiskFlag::FreeMailCashOnDelivery);
            }
        }
    }
    if order.screened_by_mall {
        flags.push(RiskFlag::ScreenedByMall);
    }
    flags
}

/// How the staff may reach the buyer beyond mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRules {
    /// Staff may phone: never for Amazon (Amazon forbids it), never for a gift (the recipient may answer).
    pub phone_allowed: bool,
    /// Amazon's customer service can confirm with the buyer on the shop's behalf.
    pub amazon_fallback: bool,
}

/// What the staff must do in the mall's admin screen, where mallguard does not call the mall's API.
pub fn mall_steps(mall: Mall, state: HoldState, lang: crate::Language) -> &'static str {
    use crate::Language::*;
    use HoldState::*;
    match (mall, state, lang) {
        (_, Confirmed | Released, Ja) => "保留を解除し、通常どおり発送してください。",
        (_, Confirmed | Released, En) => "Release the hold and ship as usual.",
        (Mall::Shopify, Held, Ja) => {
            "Shopify管理画面 > 注文管理 > 該当注文 > 「フルフィルメントを保留」で保留にしてください。"
        }
        (Mall::Shopify, Held, En) => "Shopify admin > Orders > the order > \"Hold fulfillment\".",
        (Mall::Shopify, Cancelled, Ja) => {
            "Shopify管理画面 > 注文管理 > 該当注文 > 「その他の操作」>「注文をキャンセル」。"
        }
        (Mall::Shopify, Cancelled, En) => "Shopify admin > Orders > the order > More actions > Cancel order.",
        (Mall::Rakuten, Held, Ja) => "RMS > 受注・問合せ管理 > 受注管理 > 該当注文を「保留」にしてください。",
        (Mall::Rakuten, Held, En) => "RMS > Order management > set the order to \"on hold\" (保留).",
        (Mall::Rakuten, Cancelled, Ja) => {
            "RMS > 受注・問合せ管理 > 受注管理 > 該当注文 > 「キャンセル」（理由: 顧客都合・重複注文）。"
        }
        (Mall::Rakuten, Cancelled, En) => "RMS > Order management > the order > Cancel (reason: duplicate order).",
        (Mall::Yahoo, Held, Ja) => "ストアクリエイターPro > 注文管理 > 該当注文のステータスを「保留」にしてください。",
        (Mall::Yahoo, Held, En) => "Store Creator Pro > Order management > set the status to \"on hold\" (保留).",
        (Mall::Yahoo, Cancelled, Ja) => "ストアクリエイターPro > 注文管理 > 該当注文 > 「キャンセル」。",
        (Mall::Yahoo, Cancelled, En) => "Store Creator Pro > Order management > the order > Cancel.",
        (Mall::Amazon, Held, Ja) => {
            "セラーセントラル > 注文管理 > 該当注文は出荷通知を送らず、発送を止めておいてください。"
        }
        (Mall::Amazon, Held, En) => "Seller Central > Manage orders > do not confirm shipment of the order yet.",
        (Mall::Amazon, Cancelled, Ja) => {
            "セラーセントラル > 注文管理 > 該当注文 > 「注文をキャンセル」（理由: 購入者によるキャンセル）。"
        }
        (Mall::Amazon, Cancelled, En) => {
            "Seller Central > Manage orders > the order > Cancel order (reason: buyer cancelled)."
        }
        (Mall::Own, Held, Ja) => "受注システムで該当注文の出荷を止めてください。",
        (Mall::Own, Held, En) => "Stop the order's shipment in your order system.",
        (Mall::Own, Cancelled, Ja) => "受注システムで該当注文をキャンセルしてください。",
        (Mall::Own, Cancelled, En) => "Cancel the order in your order system.",
        (_, Shipped, Ja) => {
            "発送済みのため、モールでの操作はありません。重複であれば返品について購入者へ連絡してください。"
        }
        (_, Shipped, En) => {
            "It has shipped: nothing to do at the mall. If it was a duplicate, contact the buyer about a return."
        }
    }
}

/// What mallguard asks `mall` to do for `kind`, as the staff mails say it after "mallguard has asked <mall>
/// to …" (English) or before 「を依頼しました」 (Japanese): what is done and how, so the staff know what to
/// expect in the admin screen.
pub fn asked_of_mall(mall: Mall, kind: crate::action::ActionKind, lang: Language) -> &'static str {
    use crate::action::ActionKind::*;
    use Language::*;
    match (mall, kind, lang) {
        (Mall::Shopify, Hold, Ja) => "注文の保留（未発送のフルフィルメントオーダーをすべて「保留」に）",
        (Mall::Shopify, Hold, En) => "hold the order (each open fulfillment order put on hold)",
        (Mall::Shopify, Release, Ja) => "保留の解除（mallguard がかけた保留のみ）",
        (Mall::Shopify, Release, En) => "release the hold (only the holds mallguard placed)",
        (Mall::Shopify, Cancel, Ja) => {
            "注文のキャンセル（返金・在庫戻しは設定どおり、Shopify から購入者へのメールなし）"
        }
        (Mall::Shopify, Cancel, En) => {
            "cancel the order (refund and restock as configured, no mail from Shopify to the buyer)"
        }
        (Mall::Rakuten, Hold, Ja) => {
            "注文の保留（ショップのサブステータスとメモ。発送フローでこのサブステータスを除外してください）"
        }
        (Mall::Rakuten, Hold, En) => {
            "hold the order (the shop's hold sub-status and a memo; keep that sub-status out of the shipping flow)"
        }
        (Mall::Rakuten, Release, Ja) => "保留の解除（サブステータスを外し、メモを追記）",
        (Mall::Rakuten, Release, En) => "release the hold (the sub-status cleared, a memo added)",
        (Mall::Rakuten, Cancel, Ja) => "注文のキャンセル（理由: お客様都合・キャンセル）",
        (Mall::Rakuten, Cancel, En) => "cancel the order (reason: the customer's request)",
        (Mall::Yahoo, Hold, Ja) => "注文の保留（ステータスを「3 保留」に）",
        (Mall::Yahoo, Hold, En) => "hold the order (status 3, on hold)",
        (Mall::Yahoo, Release, Ja) => "保留の解除（ステータスを「2 処理中」に）",
        (Mall::Yahoo, Release, En) => "release the hold (status 2, in progress)",
        (Mall::Yahoo, Cancel, Ja) => "注文のキャンセル（ステータスを「4 キャンセル」に、理由: 重複注文）",
        (Mall::Yahoo, Cancel, En) => "cancel the order (status 4, cancelled; reason: duplicate order)",
        (Mall::Amazon, Cancel, Ja) => "注文のキャンセル（購入者の依頼による、注文確認フィードでのキャンセル）",
        (Mall::Amazon, Cancel, En) => "cancel the order (at the buyer's request, by the order-acknowledgement feed)",
        (_, Hold, Ja) => "注文の保留",
        (_, Hold, En) => "hold the order",
        (_, Release, Ja) => "保留の解除",
        (_, Release, En) => "release the hold",
        (_, Cancel, Ja) => "注文のキャンセル",
        (_, Cancel, En) => "cancel the order",
    }
}

impl ContactRules {
    pub fn for_order(order: &Order) -> Self {
        let amazon = order.order_ref.mall == Mall::Amazon;
        Self {
            phone_allowed: !amazon && !order.gift && order.buyer.phone.is_some(),
            amazon_fallback: amazon,
        }
    }
}

/// A suspected duplicate held before it ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: HoldId,
    /// The order that is held (the one that arrived second).
    pub order: OrderRef,
    /// The earlier order it seems to duplicate.
    pub original: OrderRef,
    /// The order numbers people know, where a mall's differs from its order id (Shopify `#1001`).
    #[serde(default, skip_serializing_if = "OrderNumbers::is_empty")]
    pub numbers: OrderNumbers,
    pub state: HoldState,
    /// Bumped by every write: transitions are conditional on it.
    pub version: u64,
    pub created_at: Timestamp,
    pub deadline: Timestamp,
    /// When to remind; None once reminded or when reminders are off.
    pub remind_at: Option<Timestamp>,
    pub urgent: bool,
    pub shared_keys: Vec<KeyKind>,
    pub shared_products: Vec<ProductKey>,
    pub risks: Vec<RiskFlag>,
    pub contact: ContactRules,
    /// Set when the Amazon customer-service fallback was noted for the staff (with the case text).
    pub amazon_fallback_case: Option<String>,
    /// Left to the staff: an Amazon hold whose buyer could not be asked (its message did not arrive, or the
    /// deadline passed unanswered) in a shop that does not have Amazon holds cancelled automatically. No
    /// longer due for the sweep; the buyer's answer, the staff or the mall settle it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_staff: bool,
    /// The buyer's notice did not reach them and the staff are to phone the buyer (never for Amazon, a gift or
    /// a buyer without a phone number): the staff lists show it until the hold is settled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone_task: bool,
    /// Held because the buyer is on the blacklist (the entry): for the staff's review only. The buyer gets
    /// no mail about it, now or when it is settled, and no deadline cancels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blacklisted: Option<crate::blacklist::BlacklistId>,
    pub resolution: Option<Resolution>,
    /// When the mall reported the held order cancelled after mallguard had cancelled the hold (where mallguard
    /// does not cancel at the mall, the staff did it by hand): from then on the cancellation is done, not in
    /// progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at_mall: Option<Timestamp>,
}

/// A transition that lost: the hold had already been settled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hold {id} is already {state}")]
pub struct AlreadySettled {
    pub id: HoldId,
    pub state: HoldState,
}

/// The numbers people know the two orders of a hold by, where they differ from the order ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNumbers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

impl OrderNumbers {
    pub fn is_empty(&self) -> bool {
        self.held.is_none() && self.original.is_none()
    }
}

impl Hold {
    /// Whether a cancelled hold's order is still to be cancelled at the mall by the staff, by hand: mallguard
    /// does not cancel there (`acts` is false: the own store, a relay, a shop without credentials), the mall
    /// did not cancel it itself, and has not reported it cancelled since ([`Hold::cancelled_at_mall`]). Until
    /// then the buyer is told the cancellation is in progress.
    pub fn cancelled_by_hand(&self, acts: bool) -> bool {
        self.state == HoldState::Cancelled
            && !acts
            && self.cancelled_at_mall.is_none()
            && self.resolution.as_ref().is_none_or(|r| r.by != Resolver::Mall)
    }

    /// The held order's number as people know it.
    pub fn held_number(&self) -> &str {
        self.numbers.held.as_deref().unwrap_or(self.order.order_id.as_str())
    }

    /// The earlier order's number as people know it.
    pub fn original_number(&self) -> &str {
        self.numbers
            .original
            .as_deref()
            .unwrap_or(self.original.order_id.as_str())
    }

    /// The next moment the expiry sweep must look at this hold; None once settled.
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.state != HoldState::Held || self.awaiting_staff {
            return None;
        }
        Some(self.remind_at.map_or(self.deadline, |r| r.min(self.deadline)))
    }

    /// The hold after `decision`, or the state that won if it was already settled.
    pub fn settle(&self, decision: Decision, by: Resolver, at: Timestamp) -> Result<Hold, AlreadySettled> {
        if self.state != HoldState::Held {
            return Err(AlreadySettled {
                id: self.id.clone(),
                state: self.state,
            });
        }
        let state = decision.target();
        Ok(Hold {
            state,
            version: self.version + 1,
            remind_at: None,
            resolution: Some(Resolution { state, by, at }),
            ..self.clone()
        })
    }

    /// The hold settled as shipped because the mall says the order shipped when mallguard asked it to hold or
    /// cancel it: from held, or from cancelled by mallguard (the cancellation never happened at the mall).
    pub fn shipped_at_mall(&self, at: Timestamp) -> Result<Hold, AlreadySettled> {
        let cancelled_by_us =
            self.state == HoldState::Cancelled && self.resolution.as_ref().is_some_and(|r| r.by != Resolver::Mall);
        if self.state != HoldState::Held && !cancelled_by_us {
            return Err(AlreadySettled {
                id: self.id.clone(),
                state: self.state,
            });
        }
        let state = HoldState::Shipped;
        Ok(Hold {
            state,
            version: self.version + 1,
            remind_at: None,
            resolution: Some(Resolution {
                state,
                by: Resolver::Mall,
                at,
            }),
            ..self.clone()
        })
    }

    /// The hold with its reminder marked as sent.
    pub fn reminded(&self) -> Hold {
        Hold {
            remind_at: None,
            version: self.version + 1,
            ..self.clone()
        }
    }
}

/// The ready-to-paste text for Amazon's customer service (Amazon forbids sellers to phone buyers, but
/// its customer service can confirm with the buyer on the shop's behalf).
pub fn amazon_case_text(shop_name: &str, held: &Order, original: &Order) -> String {
    format!(
        "【購入者様へのご確認のお願い】\n\
         いつもお世話になっております。{shop_name}でございます。\n\
         注文番号 {orig} （{orig_time}）と注文番号 {held_id} （{held_time}）は、同じお客様から同じ商品を\n\
         ご注文いただいており、重複注文の可能性がございます。購入者様へメッセージでご確認しましたが、\n\
         期限までにご回答をいただけませんでした。\n\
         お手数ですが、両方のご注文の発送をご希望か、後のご注文（{held_id}）をキャンセルしてよいか、\n\
         購入者様へご確認いただけますでしょうか。ご確認が取れるまで {held_id} の発送を保留しております。\n\
         よろしくお願いいたします。",
        orig = original.order_ref.order_id,
        orig_time = crate::policy::format_jst(original.placed_at, Language::Ja),
        held_id = held.order_ref.order_id,
        held_time = crate::policy::format_jst(held.placed_at, Language::Ja),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::EmailAddress;
    use crate::testing::{hold_for, order};

    #[test]
    fn a_held_hold_settles_once_and_the_loser_learns_the_final_state() {
        let hold = hold_for(&order("2"), &order("1"));
        let at: Timestamp = "2026-11-23T04:00:00Z".parse().unwrap();
        let cancelled = hold.settle(Decision::Cancel, Resolver::Buyer, at).unwrap();
        assert_eq!(cancelled.state, HoldState::Cancelled);
        assert_eq!(cancelled.version, hold.version + 1);
        assert_eq!(cancelled.next_due(), None);
        let err = cancelled.settle(Decision::Confirm, Resolver::Deadline, at).unwrap_err();
        assert_eq!(err.state, HoldState::Cancelled);
    }

    #[test]
    fn the_sweep_looks_at_a_hold_at_its_reminder_then_at_its_deadline() {
        let hold = hold_for(&order("2"), &order("1"));
        assert_eq!(hold.next_due(), hold.remind_at);
        assert_eq!(hold.reminded().next_due(), Some(hold.deadline));
    }

    #[test]
    fn carrier_mail_and_free_mail_with_cash_on_delivery_are_flagged() {
        let mut o = order("1");
        o.buyer.email = Some(EmailAddress::parse("taro@docomo.ne.jp").unwrap());
        assert_eq!(risk_flags(&o), vec![RiskFlag::CarrierMail]);
        o.buyer.email = Some(EmailAddress::parse("taro@gmail.com").unwrap());
        assert!(risk_flags(&o).is_empty());
        o.payment = PaymentMethod::CashOnDelivery;
        assert_eq!(risk_flags(&o), vec![RiskFlag::FreeMailCashOnDelivery]);
        o.buyer.email = Some(EmailAddress::parse("x@i.softbank.jp").unwrap());
        assert_eq!(risk_flags(&o), vec![RiskFlag::CarrierMail]);
    }

    #[test]
    fn amazon_buyers_and_gift_orders_are_never_phoned() {
        let mut o = order("1");
        assert!(ContactRules::for_order(&o).phone_allowed);
        o.gift = true;
        assert!(!ContactRules::for_order(&o).phone_allowed);
        o.gift = false;
        o.order_ref.mall = Mall::Amazon;
        let rules = ContactRules::for_order(&o);
        assert!(!rules.phone_allowed);
        assert!(rules.amazon_fallback);
    }

    #[test]
    fn the_amazon_case_text_names_both_orders() {
        let text = amazon_case_text("テスト商店", &order("503-2"), &order("503-1"));
        assert!(text.contains("503-1") && text.contains("503-2") && text.contains("テスト商店"));
    }
}
