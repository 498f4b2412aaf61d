//! Mails to buyers and staff and their outbox records.
//!
//! A notice is rendered once, stored as pending, then sent; a failed send stays pending for the
//! expiry sweep to retry, so no notice is silently dropped.

use std::fmt;

use jiff::Timestamp;
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::feed::FeedError;
use crate::hold::Hold;
use crate::ids::{HoldId, Mall, OrderRef, ShopId};
use crate::normalize;
use crate::order::{EmailAddress, Order};
use crate::policy::{ShopProfile, format_jst};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// 発送前確認: the confirm-or-cancel notice to the buyer.
    Notice,
    /// The half-time reminder.
    Reminder,
    /// いったんキャンセル: the held order was cancelled because nobody answered.
    Cancellation,
    /// The buyer's answer was recorded.
    Receipt,
    /// Staff: a new hold (urgent ones marked).
    StaffNewHold,
    /// Staff: the buyer answered; what to do at the mall now.
    StaffResolved,
    /// Staff: a hold expired (Amazon: with the customer-service fallback).
    StaffExpired,
    /// Staff: an Amazon hold went unanswered and waits for Amazon's customer service (shop's choice).
    StaffEscalated,
    /// Staff: a signed payload could not be understood and was quarantined.
    StaffQuarantine,
    /// Staff: a mall's orders could not be polled for a reason a person must fix (expired credentials, a
    /// refused request). At most one a day per mall, shop and reason.
    StaffFeedFailure,
    /// Staff: the mall refused a hold, release or cancellation mallguard asked of it, with its reason.
    StaffActionRefused,
    /// Staff: a hold, release or cancellation the mall keeps failing to do (an outage, throttling) after
    /// [`ALERT_AFTER_ATTEMPTS`](crate::action::ALERT_AFTER_ATTEMPTS) attempts, with its last reason; mallguard
    /// keeps trying. Once per action.
    StaffActionFailing,
    /// Staff: a held order shipped at the mall (reported by the mall, or found when mallguard asked the mall to
    /// hold or cancel it); it is not cancelled.
    StaffShipped,
    /// Staff: the buyer's notice did not arrive (bounced, refused, marked as spam): reach the buyer another
    /// way (a phone task; Amazon: its customer service).
    StaffUndeliverable,
}

impl NoticeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Notice => "notice",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Cancellation => "cancellation",
            NoticeKind::Receipt => "receipt",
            NoticeKind::StaffNewHold => "staff_new_hold",
            NoticeKind::StaffResolved => "staff_resolved",
            NoticeKind::StaffExpired => "staff_expired",
            NoticeKind::StaffEscalated => "staff_escalated",
            NoticeKind::StaffQuarantine => "staff_quarantine",
            NoticeKind::StaffFeedFailure => "staff_feed_failure",
            NoticeKind::StaffActionRefused => "staff_action_refused",
            NoticeKind::StaffActionFailing => "staff_action_failing",
            NoticeKind::StaffShipped => "staff_shipped",
            NoticeKind::StaffUndeliverable => "staff_undeliverable",
        }
    }
}

/// The outbox key of a notice: one of each kind per hold, so a retried decision never mails twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NoticeId(String);

impl NoticeId {
    pub fn for_hold(hold: &HoldId, kind: NoticeKind) -> Self {
        Self(format!("{hold}.{}", kind.as_str()))
    }

    pub fn for_quarantine(quarantine_id: &str) -> Self {
        Self(format!("q{quarantine_id}.{}", NoticeKind::StaffQuarantine.as_str()))
    }

    /// The one staff alert a day (`day`, in JST) about polling `shop` on `mall` failing for `failure`
    /// ([`FeedError::kind`]): `f.rakuten.tanaka-shop.2026-11-23.unauthorized.staff_feed_failure`. The mall,
    /// the date and the reason hold no `.`, so the shop between them keeps two ids apart even when it has
    /// one.
    pub fn for_feed_failure(mall: Mall, shop: &str, day: jiff::civil::Date, failure: &str) -> Self {
        Self(format!(
            "f.{mall}.{shop}.{day}.{failure}.{}",
            NoticeKind::StaffFeedFailure.as_str()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

impl fmt::Display for NoticeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rendered message, ready for any mailer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Tags the mail service keeps with the message (e.g. the hold id), for delivery events.
    pub tags: Vec<(String, String)>,
}

impl Mail {
    /// SHA-256 (hex) of exactly what the mail says: its recipient, subject, text and HTML, each behind its
    /// length, so no two different mails share one. Kept in the evidence for good: a mail the buyer forwards
    /// years later, or the stored text read back, is proven the same by it.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let html = self.html.as_deref();
        for part in [Some(self.to.as_str()), Some(&self.subject), Some(&self.text), html] {
            match part {
                Some(part) => {
                    hash.update((part.len() as u64).to_be_bytes());
                    hash.update(part.as_bytes());
                }
                None => hash.update(u64::MAX.to_be_bytes()),
            }
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The sources of every mail template compiled into this build.
const MAIL_TEMPLATES: [(&str, &str); 6] = [
    ("buyer_ja.txt", include_str!("templates/buyer_ja.txt")),
    ("buyer_ja.html", include_str!("templates/buyer_ja.html")),
    ("buyer_en.txt", include_str!("templates/buyer_en.txt")),
    ("buyer_en.html", include_str!("templates/buyer_en.html")),
    ("staff_ja.txt", include_str!("templates/staff_ja.txt")),
    ("staff_en.txt", include_str!("templates/staff_en.txt")),
];

/// The version of the mail templates: the first 16 hex digits of a SHA-256 over their sources, so the
/// evidence names the very wording a mail was written from (a new build with the same templates keeps it).
pub fn template_version() -> &'static str {
    static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for (name, source) in MAIL_TEMPLATES {
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update((source.len() as u64).to_be_bytes());
            hash.update(source.as_bytes());
        }
        hash.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
    });
    &VERSION
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    Pending,
    Sent,
    /// Given up: the mail service refused it, or it kept failing; the staff reach the buyer another way.
    Failed,
    /// Not sent, and never to be: the buyer's question was answered before it could go (its hold was settled
    /// while it waited for the morning or for its next try).
    Withdrawn,
}

/// An outbox record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: NoticeId,
    pub kind: NoticeKind,
    pub hold: Option<HoldId>,
    /// The order whose history records what happens to this notice.
    pub order: Option<OrderRef>,
    pub mail: Mail,
    pub state: NoticeState,
    pub version: u64,
    pub attempts: u32,
    pub created_at: Timestamp,
    /// When a pending notice is next tried.
    pub next_attempt_at: Timestamp,
    /// While somebody is sending it (the request that queued it, or a sweep that claimed it): until then
    /// nobody else may, not even a sweep run by hand that skips the retry back-off.
    #[serde(default)]
    pub leased_until: Option<Timestamp>,
    pub message_id: Option<String>,
    pub last_error: Option<String>,
}

impl Notice {
    pub fn new(id: NoticeId, kind: NoticeKind, hold: Option<HoldId>, mail: Mail, now: Timestamp) -> Self {
        Self {
            id,
            kind,
            hold,
            order: None,
            mail,
            state: NoticeState::Pending,
            version: 0,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            leased_until: None,
            message_id: None,
            last_error: None,
        }
    }

    /// The notice claimed for sending until `until`: nobody else sends it meanwhile, and if the sender
    /// dies, a sweep retries it after `until`.
    pub fn leased(&self, until: Timestamp) -> Self {
        Self {
            version: self.version + 1,
            next_attempt_at: until,
            leased_until: Some(until),
            ..self.clone()
        }
    }

    /// Whether somebody may be sending it right now.
    pub fn is_leased(&self, now: Timestamp) -> bool {
        self.leased_until.is_some_and(|until| until > now)
    }

    pub fn sent(&self, message_id: String) -> Self {
        Self {
            state: NoticeState::Sent,
            version: self.version + 1,
            attempts: self.attempts + 1,
            message_id: Some(message_id),
            leased_until: None,
            last_error: None,
            ..self.clone()
        }
    }

    /// The notice withdrawn unsent: what it asks has been settled meanwhile.
    pub fn withdrawn(&self) -> Self {
        Self {
            state: NoticeState::Withdrawn,
            version: self.version + 1,
            leased_until: None,
            ..self.clone()
        }
    }

    /// The notice given up after `error` (refused, or failed too often): no more attempts.
    pub fn given_up(&self, error: String) -> Self {
        Self {
            state: NoticeState::Failed,
            version: self.version + 1,
            attempts: self.attempts + 1,
            leased_until: None,
            last_error: Some(error),
            ..self.clone()
        }
    }

    /// The notice after a failed attempt, retried with backoff: 1, 2, 4 … minutes, at most an hour apart.
    pub fn failed(&self, error: String, now: Timestamp) -> Self {
        let attempts = self.attempts + 1;
        let minutes = 1i64 << attempts.saturating_sub(1).min(6);
        let next = now
            .saturating_add(jiff::SignedDuration::from_mins(minutes.min(60)))
            .unwrap_or(now);
        Self {
            version: self.version + 1,
            attempts,
            next_attempt_at: next,
            leased_until: None,
            last_error: Some(error),
            ..self.clone()
        }
    }
}

/// One order as a buyer or the staff reads it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderSummary {
    pub mall: String,
    pub order_id: String,
    pub placed_at: String,
    pub items: Vec<ItemSummary>,
    pub ship_to_name: String,
    pub ship_to: String,
    pub total: Option<String>,
    pub requested_date: Option<String>,
    pub gift: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemSummary {
    pub title: String,
    pub product: String,
    pub quantity: u32,
}

impl OrderSummary {
    /// The whole order, for its own buyer and for the staff. The order number is the one the buyer
    /// knows (Shopify's `#1001`, not its internal id).
    pub fn of(order: &Order, lang: Language) -> Self {
        Self {
            mall: order.order_ref.mall.display_name(lang).to_owned(),
            order_id: order.number().to_owned(),
            placed_at: format_jst(order.placed_at, lang),
            items: order
                .lines
                .iter()
                .map(|l| ItemSummary {
                    title: l.title.clone(),
                    product: l.product.to_string(),
                    quantity: l.quantity.get(),
                })
                .collect(),
            ship_to_name: order.ship_to.name.clone(),
            ship_to: order.ship_to.one_line(),
            total: order.total.as_ref().map(ToString::to_string),
            requested_date: order.delivery.requested_date.map(|d| format_date(d, lang)),
            gift: order.gift,
        }
    }

    /// `other` as the buyer of `own` may see it. The two orders matched on as little as a name and a
    /// phone number, so the buyer of `own` may be somebody else: show only what they gave themselves or
    /// cannot misuse. The mall, the time and the items stay (they are what the buyer must recognise);
    /// the order number is partly masked; the recipient and the address only where they are `own`'s
    /// own, else the prefecture and city alone; no total, no delivery date, no gift flag.
    pub fn of_other(other: &Order, own: &Order, lang: Language) -> Self {
        let mut summary = Self::of(other, lang);
        summary.order_id = masked(other.number());
        let same_place = normalize::postal_code(&other.ship_to.postal_code)
            == normalize::postal_code(&own.ship_to.postal_code)
            && place(&other.ship_to) == place(&own.ship_to);
        let same_name = normalize::name(&other.ship_to.name) == normalize::name(&own.ship_to.name);
        if !(same_place && same_name) {
            summary.ship_to_name = String::new();
        }
        if !same_place {
            summary.ship_to = format!("{}{}", other.ship_to.prefecture, other.ship_to.city);
        }
        summary.total = None;
        summary.requested_date = None;
        summary.gift = false;
        summary
    }
}

/// A phone number written one way in every mail, whatever way the buyer typed it: `０９０ー1234ー5678`
/// and `+81 90 1234 5678` are both `090-1234-5678`. Numbers that do not normalise are shown as typed.
pub fn display_phone(raw: &str) -> String {
    let Some(normalised) = normalize::phone(raw) else {
        return raw.trim().to_owned();
    };
    let (d, extension) = match normalised.split_once('x') {
        Some((number, extension)) => (number, format!(" x{extension}")),
        None => (normalised.as_str(), String::new()),
    };
    if d.len() == 11 {
        // Mobile and IP numbers: 0X0-XXXX-XXXX.
        format!("{}-{}-{}{extension}", &d[..3], &d[3..7], &d[7..])
    } else {
        // Landlines: the area code's length varies, so the digits stay together.
        format!("{d}{extension}")
    }
}

/// A calendar date as people read it: `2026年11月25日` or `2026-11-25`.
pub fn format_date(date: jiff::civil::Date, lang: Language) -> String {
    match lang {
        Language::Ja => format!("{}年{}月{}日", date.year(), date.month(), date.day()),
        Language::En => date.to_string(),
    }
}

/// The normalised place of an address, without the name and the postal code.
fn place(address: &crate::order::PostalAddress) -> String {
    let lines: Vec<&str> = address.lines.iter().map(String::as_str).collect();
    normalize::place(&address.prefecture, &address.city, &lines)
}

/// An order number with all but its last characters hidden: enough for its own buyer to recognise, too
/// little for anybody else to quote to the shop. `TS-20261123-0001` is `************0001`.
pub fn masked(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let shown = if chars.len() > 6 { 4 } else { chars.len() / 2 };
    let hidden = chars.len() - shown;
    std::iter::repeat_n('*', hidden)
        .chain(chars[hidden..].iter().copied())
        .collect()
}

/// The two links of a notice.
#[derive(Debug, Clone, Serialize)]
pub struct Links {
    pub confirm: String,
    pub cancel: String,
}

/// Why a mail could not be rendered (a template bug: tests render every template).
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {source}")]
pub struct RenderError {
    template: String,
    #[source]
    source: minijinja::Error,
}

/// Everything a hold's mails talk about.
pub struct HoldMailContext<'a> {
    pub shop: &'a ShopProfile,
    pub hold: &'a Hold,
    pub held: &'a Order,
    pub original: &'a Order,
    pub links: Option<&'a Links>,
    /// What mallguard asks of the mall for this mail's occasion, so the staff mail says it is done for
    /// them instead of giving the admin-screen steps.
    pub at_mall: Option<crate::action::ActionKind>,
    /// The mall's reason, for a refused action.
    pub refusal: Option<&'a str>,
    /// What became of the buyer's mail, for the staff's undeliverable mail.
    pub undelivered: Option<Undelivered>,
    /// The buyer's other open orders and the shop's bundling, where the writer read them: the notice and
    /// the staff alert list the related orders and 同梱候補, a receipt or cancellation says what will arrive
    /// and in how many parcels. None: the mail speaks of the two orders alone.
    pub group: Option<OrderGroup<'a>>,
}

/// The buyer's whole picture around a hold (関連するご注文 and 同梱).
#[derive(Clone, Copy)]
pub struct OrderGroup<'a> {
    /// The buyer's other open orders to the held order's recipient, oldest first (see
    /// [`related_refs`](crate::bundle::related_refs)).
    pub related: &'a [Order],
    pub bundling: &'a crate::bundle::Bundling,
    /// To add up the same product across malls' item codes.
    pub products: &'a crate::identity::ProductMap,
}

/// One order in the list of what will arrive.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivingOrder {
    pub mall: String,
    pub order_id: String,
    pub items: String,
}

/// One parcel of what will arrive.
#[derive(Debug, Clone, Serialize)]
pub struct ParcelView {
    pub orders: Vec<ArrivingOrder>,
    pub items: String,
}

/// What will arrive once a hold is settled, and in how many parcels: what a receipt says.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivalView {
    pub parcels: Vec<ParcelView>,
    /// Every item that arrives, added up: 「A × 2、B × 1」.
    pub items: String,
    /// How many orders arrive.
    pub orders: usize,
    pub one_parcel: bool,
    /// The shop ships one buyer's orders to one address together.
    pub bundling: bool,
}

impl ArrivalView {
    /// The orders `arriving` as `held`'s buyer may see them (their own order whole, the others as
    /// [`OrderSummary::of_other`] shows them), in parcels by the shop's bundling.
    pub fn of(held: &Order, arriving: &[&Order], group: &OrderGroup<'_>, lang: Language) -> Self {
        let parcels = crate::bundle::parcels(held, arriving, group.bundling);
        let view = |o: &Order| {
            let summary = if o.order_ref == held.order_ref {
                OrderSummary::of(o, lang)
            } else {
                OrderSummary::of_other(o, held, lang)
            };
            ArrivingOrder {
                mall: summary.mall,
                order_id: summary.order_id,
                items: crate::bundle::items_line(&[o], group.products, lang),
            }
        };
        Self {
            one_parcel: parcels.len() == 1,
            parcels: parcels
                .iter()
                .map(|p| ParcelView {
                    orders: p.iter().map(|o| view(o)).collect(),
                    items: crate::bundle::items_line(p, group.products, lang),
                })
                .collect(),
            items: crate::bundle::items_line(arriving, group.products, lang),
            orders: arriving.len(),
            bundling: group.bundling.is_on(),
        }
    }
}

/// Why a buyer's mail about a hold did not reach them (or reached them to no use), and what the buyer may
/// know of the hold all the same: the staff's undeliverable mail says exactly this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undelivered {
    /// The buyer's mail: the notice or a reminder.
    pub mail: NoticeKind,
    pub how: UndeliveredHow,
    /// What became of the hold's notice, when the mail is a reminder.
    pub earlier: EarlierNotice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndeliveredHow {
    /// The receiving side returned it.
    Bounced,
    /// It arrived, and the buyer reported it as spam.
    Complained,
    /// The mail service refused to send it: it never left.
    Refused,
    /// Every attempt failed for now, this many; mallguard stopped trying.
    GaveUp { attempts: u32 },
}

impl UndeliveredHow {
    fn as_str(self) -> &'static str {
        match self {
            UndeliveredHow::Bounced => "bounced",
            UndeliveredHow::Complained => "complained",
            UndeliveredHow::Refused => "refused",
            UndeliveredHow::GaveUp { .. } => "gave_up",
        }
    }
}

/// What mallguard knows of the hold's notice when a later mail (a reminder) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlierNotice {
    /// No notice reached the mail service (or the mail that failed is the notice itself).
    None,
    /// The mail service took it and reported no failure (not every route reports deliveries).
    Sent,
    /// The mail service reported it delivered.
    Delivered,
}

/// The one way mails and pages build their template environment: a missing variable is a template bug and
/// fails loudly (the tests render every template) instead of showing a blank where an order number should
/// be; block tags leave no blank lines behind (text mails are laid out line by line).
///
/// # Panics
///
/// If a template does not parse: they are compiled into the binary, and the tests render each one.
pub fn template_environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in templates {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("the template {name} compiled into the binary does not parse: {e}"));
    }
    env
}

/// Renders mails from the templates compiled into the binary.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let env = template_environment(&MAIL_TEMPLATES);
        Self { env }
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError {
                template: name.to_owned(),
                source,
            })
    }

    /// The subject of a mail of `kind`; `order_id` is the number of the order it is about (for a feed
    /// failure: the mall and the shop).
    fn subject(kind: NoticeKind, lang: Language, shop: &str, order_id: &str, urgent: bool) -> String {
        let urgent_mark = match (urgent, lang) {
            (true, Language::Ja) => "【至急】",
            (true, Language::En) => "[URGENT] ",
            (false, _) => "",
        };
        match (kind, lang) {
            (NoticeKind::Notice, Language::Ja) => {
                format!("【{shop}】ご注文内容のご確認のお願い（注文番号 {order_id}）")
            }
            (NoticeKind::Notice, Language::En) => format!("[{shop}] Please confirm your order {order_id}"),
            (NoticeKind::Reminder, Language::Ja) => {
                format!("【{shop}】再送：ご注文内容のご確認のお願い（注文番号 {order_id}）")
            }
            (NoticeKind::Reminder, Language::En) => format!("[{shop}] Reminder: please confirm your order {order_id}"),
            (NoticeKind::Cancellation, Language::Ja) => {
                format!("【{shop}】ご注文キャンセルのお知らせ（注文番号 {order_id}）")
            }
            (NoticeKind::Cancellation, Language::En) => format!("[{shop}] Your order {order_id} has been cancelled"),
            (NoticeKind::Receipt, Language::Ja) => {
                format!("【{shop}】ご回答ありがとうございます（注文番号 {order_id}）")
            }
            (NoticeKind::Receipt, Language::En) => format!("[{shop}] Thank you for your answer (order {order_id})"),
            (NoticeKind::StaffNewHold, Language::Ja) => {
                format!("{urgent_mark}[mallguard] 重複の疑いで保留: {order_id}")
            }
            (NoticeKind::StaffNewHold, Language::En) => {
                format!("{urgent_mark}[mallguard] Suspected duplicate held: {order_id}")
            }
            (NoticeKind::StaffResolved, Language::Ja) => format!("[mallguard] 購入者が回答しました: {order_id}"),
            (NoticeKind::StaffResolved, Language::En) => format!("[mallguard] The buyer answered: {order_id}"),
            (NoticeKind::StaffExpired, Language::Ja) => format!("[mallguard] 期限切れ・回答なし: {order_id}"),
            (NoticeKind::StaffExpired, Language::En) => format!("[mallguard] Hold expired unanswered: {order_id}"),
            (NoticeKind::StaffEscalated, Language::Ja) => {
                format!("[mallguard] Amazonカスタマーサービスへ確認を依頼してください: {order_id}")
            }
            (NoticeKind::StaffEscalated, Language::En) => {
                format!("[mallguard] Ask Amazon customer service to confirm: {order_id}")
            }
            (NoticeKind::StaffQuarantine, Language::Ja) => "[mallguard] 解析できない注文通知を隔離しました".into(),
            (NoticeKind::StaffQuarantine, Language::En) => "[mallguard] A signed payload could not be parsed".into(),
            (NoticeKind::StaffFeedFailure, Language::Ja) => {
                format!("[mallguard] 要対応: {order_id}の注文を取得できません")
            }
            (NoticeKind::StaffFeedFailure, Language::En) => {
                format!("[mallguard] Action needed: the orders of {order_id} cannot be read")
            }
            (NoticeKind::StaffActionRefused, Language::Ja) => {
                format!("[mallguard] 要対応: モールが操作を受け付けませんでした: {order_id}")
            }
            (NoticeKind::StaffActionRefused, Language::En) => {
                format!("[mallguard] Action needed: the mall refused an action on {order_id}")
            }
            (NoticeKind::StaffActionFailing, Language::Ja) => {
                format!("[mallguard] 要確認: モールでの操作が完了していません: {order_id}")
            }
            (NoticeKind::StaffActionFailing, Language::En) => {
                format!("[mallguard] Check: an action at the mall is not done yet: {order_id}")
            }
            (NoticeKind::StaffShipped, Language::Ja) => {
                format!("[mallguard] 要確認: 重複の疑いで保留中の注文が発送されました: {order_id}")
            }
            (NoticeKind::StaffShipped, Language::En) => {
                format!("[mallguard] Check: a suspected duplicate on hold shipped: {order_id}")
            }
            (NoticeKind::StaffUndeliverable, Language::Ja) => {
                format!("[mallguard] 要対応: 購入者へ確認メールが届きませんでした: {order_id}")
            }
            (NoticeKind::StaffUndeliverable, Language::En) => {
                format!("[mallguard] Action needed: the buyer's notice did not arrive: {order_id}")
            }
        }
    }

    /// A mail about a hold: to the buyer for the buyer kinds, to the staff for the staff kinds.
    /// None for a buyer mail when the buyer has no address: the staff alert says so.
    pub fn hold_mail(&self, kind: NoticeKind, ctx: &HoldMailContext<'_>) -> Result<Option<Mail>, RenderError> {
        let staff = matches!(
            kind,
            NoticeKind::StaffNewHold
                | NoticeKind::StaffResolved
                | NoticeKind::StaffExpired
                | NoticeKind::StaffEscalated
                | NoticeKind::StaffActionRefused
                | NoticeKind::StaffActionFailing
                | NoticeKind::StaffShipped
                | NoticeKind::StaffUndeliverable
        );
        // The buyer reads in their own language when the mall says which; the staff in the shop's.
        let lang = if staff {
            ctx.shop.language
        } else {
            ctx.held.buyer.language.unwrap_or(ctx.shop.language)
        };
        let to = if staff {
            Some(ctx.shop.staff_email.clone())
        } else {
            ctx.held.buyer.email.clone()
        };
        let Some(to) = to else { return Ok(None) };
        let hold = ctx.hold;
        // A cancellation nobody has made at the mall yet: the buyer reads that it is in progress, the staff
        // that they must make it. (Where mallguard cancels at the mall, the buyer's mails wait for it.)
        let cancel_by_hand = hold.cancelled_by_hand(ctx.at_mall == Some(crate::action::ActionKind::Cancel));
        let group = ctx.group;
        let related_orders: &[Order] = group.map(|g| g.related).unwrap_or_default();
        // The related orders went to the held order's own recipient, so its buyer may see them as the
        // earlier order is shown: number masked, no total.
        let related: Vec<OrderSummary> = related_orders
            .iter()
            .map(|o| {
                if staff {
                    OrderSummary::of(o, lang)
                } else {
                    OrderSummary::of_other(o, ctx.held, lang)
                }
            })
            .collect();
        let everything: Vec<&Order> = [ctx.original, ctx.held].into_iter().chain(related_orders).collect();
        let all_items = group.map(|g| crate::bundle::items_line(&everything, g.products, lang));
        // What arrives once the hold is settled: the earlier order, the held one unless cancelled, the rest.
        let arrival = group
            .filter(|_| matches!(kind, NoticeKind::Receipt | NoticeKind::Cancellation))
            .filter(|_| hold.state != crate::hold::HoldState::Shipped)
            .map(|g| {
                let held = matches!(
                    hold.state,
                    crate::hold::HoldState::Confirmed | crate::hold::HoldState::Released
                )
                .then_some(ctx.held);
                let arriving = crate::bundle::remaining(ctx.original, held, g.related);
                ArrivalView::of(ctx.held, &arriving, &g, lang)
            });
        let bundling = group.is_some_and(|g| g.bundling.is_on());
        let bundle_candidates: Vec<OrderSummary> = group
            .map(|g| crate::bundle::bundle_candidates(ctx.held, &everything, g.bundling))
            .unwrap_or_default()
            .into_iter()
            .map(|o| OrderSummary::of(o, lang))
            .collect();
        let values = minijinja::context! {
            kind => kind.as_str(),
            shop => ctx.shop,
            buyer_name => ctx.held.buyer.name,
            held => OrderSummary::of(ctx.held, lang),
            // The buyer mails go to the held order's buyer, who may not be the earlier order's.
            original => if staff {
                OrderSummary::of(ctx.original, lang)
            } else {
                OrderSummary::of_other(ctx.original, ctx.held, lang)
            },
            deadline => format_jst(hold.deadline, lang),
            urgent => hold.urgent,
            links => ctx.links,
            hold_id => hold.id.as_str(),
            state => if cancel_by_hand {
                crate::hold::HoldState::cancel_in_progress_label(lang)
            } else {
                hold.state.label(lang)
            },
            cancel_by_hand => cancel_by_hand,
            staff_state => hold.state.staff_label(lang),
            // Only an unsettled hold needs the staff to reach the buyer.
            open => hold.state == crate::hold::HoldState::Held,
            answered_by_buyer => hold
                .resolution
                .as_ref()
                .is_some_and(|r| r.by == crate::hold::Resolver::Buyer),
            risks => hold.risks.iter().map(|r| r.label(lang)).collect::<Vec<_>>(),
            shared_keys => hold
                .shared_keys
                .iter()
                .map(|k| crate::history::key_label(*k, lang))
                .collect::<Vec<_>>(),
            phone_allowed => hold.contact.phone_allowed,
            amazon => hold.contact.amazon_fallback,
            amazon_case => hold.amazon_fallback_case,
            awaiting_staff => hold.awaiting_staff,
            blacklisted => hold.blacklisted.is_some(),
            buyer_phone => ctx.held.buyer.phone.as_deref().map(display_phone),
            no_buyer_email => ctx.held.buyer.email.is_none(),
            mall_steps => crate::hold::mall_steps(ctx.held.order_ref.mall, hold.state, lang),
            at_mall => ctx.at_mall.map(|kind| crate::history::action_label(kind, lang)),
            at_mall_kind => ctx.at_mall.map(|kind| kind.as_str()),
            at_mall_asked => ctx
                .at_mall
                .map(|kind| crate::hold::asked_of_mall(ctx.held.order_ref.mall, kind, lang)),
            refusal => ctx.refusal,
            undelivered_mail => ctx.undelivered.map(|u| u.mail.as_str()),
            undelivered_how => ctx.undelivered.map(|u| u.how.as_str()),
            undelivered_attempts => ctx.undelivered.and_then(|u| match u.how {
                UndeliveredHow::GaveUp { attempts } => Some(attempts),
                _ => None,
            }),
            earlier_notice => ctx.undelivered.map(|u| match u.earlier {
                EarlierNotice::None => "none",
                EarlierNotice::Sent => "sent",
                EarlierNotice::Delivered => "delivered",
            }),
            attempts => crate::action::ALERT_AFTER_ATTEMPTS,
            phone_task => hold.contact.phone_allowed && ctx.held.buyer.phone.is_some(),
            related => related,
            all_items => all_items,
            arrival => arrival,
            bundle_candidates => bundle_candidates,
            bundling => bundling,
        };
        let suffix = match lang {
            Language::Ja => "ja",
            Language::En => "en",
        };
        let (text, html) = if staff {
            (self.render(&format!("staff_{suffix}.txt"), &values)?, None)
        } else {
            let text = self.render(&format!("buyer_{suffix}.txt"), &values)?;
            (text, Some(self.render(&format!("buyer_{suffix}.html"), &values)?))
        };
        Ok(Some(Mail {
            to,
            subject: match (kind, cancel_by_hand, lang) {
                (NoticeKind::Cancellation, true, Language::Ja) => format!(
                    "【{}】ご注文キャンセル手続きのお知らせ（注文番号 {}）",
                    ctx.shop.name,
                    ctx.held.number()
                ),
                (NoticeKind::Cancellation, true, Language::En) => {
                    format!("[{}] We are cancelling your order {}", ctx.shop.name, ctx.held.number())
                }
                _ => Self::subject(kind, lang, &ctx.shop.name, ctx.held.number(), hold.urgent),
            },
            text,
            html,
            tags: {
                let mut tags = vec![
                    ("hold".into(), hold.id.to_string()),
                    ("kind".into(), kind.as_str().into()),
                ];
                if !staff {
                    // What a mail route needs to pick the mall's own way to the buyer (Rakuten's relay,
                    // Amazon's messaging): the held order, and that the mail is the buyer's.
                    let order = &ctx.held.order_ref;
                    tags.extend([
                        (crate::mail_routes::ROUTE_TAG.into(), crate::mail_routes::BUYER.into()),
                        ("mall".into(), order.mall.as_str().into()),
                        ("shop".into(), order.shop.to_string()),
                        ("order".into(), order.order_id.to_string()),
                    ]);
                }
                tags
            },
        }))
    }

    /// The staff alert for a quarantined payload.
    pub fn quarantine_mail(
        &self,
        shop: &ShopProfile,
        quarantine_id: &str,
        source: &str,
        error: &str,
        unrecorded: bool,
    ) -> Result<Mail, RenderError> {
        let lang = shop.language;
        let suffix = if lang == Language::Ja { "ja" } else { "en" };
        let values = minijinja::context! {
            kind => NoticeKind::StaffQuarantine.as_str(),
            shop => shop,
            quarantine_id => quarantine_id,
            source => source,
            error => error,
            unrecorded => unrecorded,
        };
        Ok(Mail {
            to: shop.staff_email.clone(),
            subject: Self::subject(NoticeKind::StaffQuarantine, lang, &shop.name, "", false),
            text: self.render(&format!("staff_{suffix}.txt"), &values)?,
            html: None,
            tags: vec![("kind".into(), NoticeKind::StaffQuarantine.as_str().into())],
        })
    }
}

/// What a staff alert about a failed poll says.
pub struct FeedFailureContext<'a> {
    pub shop: &'a ShopProfile,
    pub mall: Mall,
    pub shop_id: &'a ShopId,
    pub error: &'a FeedError,
    /// When the poll failed.
    pub at: Timestamp,
    /// When the mall's orders were last read (the cursor last moved); None when never.
    pub last_read: Option<Timestamp>,
}

impl Templates {
    /// The staff alert for a poll of a mall's orders that a person must fix.
    pub fn feed_failure_mail(&self, ctx: &FeedFailureContext<'_>) -> Result<Mail, RenderError> {
        let lang = ctx.shop.language;
        let suffix = if lang == Language::Ja { "ja" } else { "en" };
        let kind = NoticeKind::StaffFeedFailure;
        let mall = ctx.mall.display_name(lang);
        let values = minijinja::context! {
            kind => kind.as_str(),
            shop => ctx.shop,
            mall => mall,
            mall_code => ctx.mall.as_str(),
            shop_id => ctx.shop_id.as_str(),
            failure => ctx.error.kind(),
            error => ctx.error.to_string(),
            at => format_jst(ctx.at, lang),
            last_read => ctx.last_read.map(|t| format_jst(t, lang)),
        };
        let about = match lang {
            Language::Ja => format!("{mall}（{}）", ctx.shop_id),
            Language::En => format!("{mall} ({})", ctx.shop_id),
        };
        Ok(Mail {
            to: ctx.shop.staff_email.clone(),
            subject: Self::subject(kind, lang, &ctx.shop.name, &about, false),
            text: self.render(&format!("staff_{suffix}.txt"), &values)?,
            html: None,
            tags: vec![
                ("kind".into(), kind.as_str().into()),
                ("mall".into(), ctx.mall.as_str().into()),
            ],
        })
    }
}

/// What a staff warning about credentials that expire soon says.
pub struct CredentialsExpiringContext<'a> {
    pub shop: &'a ShopProfile,
    pub mall: Mall,
    pub shop_id: &'a ShopId,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

impl Templates {
    /// The staff warning that a mall's credentials expire soon (Rakuten's licenseKey): renew them before.
    pub fn credentials_expiring_mail(&self, ctx: &CredentialsExpiringContext<'_>) -> Result<Mail, RenderError> {
        let lang = ctx.shop.language;
        let suffix = if lang == Language::Ja { "ja" } else { "en" };
        let kind = NoticeKind::StaffFeedFailure;
        let mall = ctx.mall.display_name(lang);
        // Whole days left, rounded down, counted from now.
        let days = ctx.expires_at.duration_since(ctx.now).as_hours().max(0) / 24;
        let values = minijinja::context! {
            kind => kind.as_str(),
            shop => ctx.shop,
            mall => mall,
            mall_code => ctx.mall.as_str(),
            shop_id => ctx.shop_id.as_str(),
            failure => "expiring",
            expires_at => format_jst(ctx.expires_at, lang),
            days_left => days,
            at => format_jst(ctx.now, lang),
        };
        let subject = match lang {
            Language::Ja => format!(
                "[mallguard] 要対応: {mall}（{}）の認証情報があと{days}日で期限切れになります",
                ctx.shop_id
            ),
            Language::En => format!(
                "[mallguard] Action needed: the {mall} ({}) credentials expire in {days} days",
                ctx.shop_id
            ),
        };
        Ok(Mail {
            to: ctx.shop.staff_email.clone(),
            subject,
            text: self.render(&format!("staff_{suffix}.txt"), &values)?,
            html: None,
            tags: vec![
                ("kind".into(), kind.as_str().into()),
                ("mall".into(), ctx.mall.as_str().into()),
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hold::{Decision, Resolver};
    use crate::testing::{hold_for, order, shop};

    fn links() -> Links {
        Links {
            confirm: "https://x.example/h/CONFIRM".into(),
            cancel: "https://x.example/h/CANCEL".into(),
        }
    }

    fn render(kind: NoticeKind, lang: Language) -> Mail {
        let mut shop = shop();
        shop.language = lang;
        let held = order("1002");
        let original = order("1001");
        let hold = hold_for(&held, &original);
        let links = links();
        let ctx = HoldMailContext {
            shop: &shop,
            hold: &hold,
            held: &held,
            original: &original,
            links: Some(&links),
            at_mall: None,
            refusal: None,
            undelivered: None,
            group: None,
        };
        Templates::new().hold_mail(kind, &ctx).unwrap().unwrap()
    }

    #[test]
    fn the_japanese_notice_lists_both_orders_the_deadline_and_two_links() {
        let mail = render(NoticeKind::Notice, Language::Ja);
        assert_eq!(mail.to.as_str(), "taro.yamada@example.com");
        assert!(mail.subject.contains("ご確認のお願い"), "{}", mail.subject);
        for needle in [
            "**01",
            "1002",
            "https://x.example/h/CONFIRM",
            "https://x.example/h/CANCEL",
            "までに",
            "日本時間",
        ] {
            assert!(mail.text.contains(needle), "{needle} missing from:\n{}", mail.text);
        }
        let html = mail.html.unwrap();
        assert!(html.contains("href=\"https://x.example/h/CANCEL\""));
        assert!(html.contains("**01") && html.contains("1002"));
    }

    /// An earlier order of somebody else who shares only a name and a phone with the later buyer.
    fn strangers_pair() -> (Order, Order) {
        let mut original = order("TS-20261123-0001");
        original.buyer.email = Some(EmailAddress::parse("hanako@example.org").unwrap());
        original.ship_to.postal_code = "530-0001".into();
        original.ship_to.prefecture = "大阪府".into();
        original.ship_to.city = "大阪市北区".into();
        original.ship_to.lines = vec!["梅田9-8-7 グランドハイツ 1203".into()];
        original.ship_to.name = "山田 花子".into();
        let held = order("TS-20261123-0002");
        (held, original)
    }

    #[test]
    fn a_buyer_notice_shows_nothing_of_a_strangers_earlier_order_but_what_cannot_harm_them() {
        let (held, original) = strangers_pair();
        let hold = hold_for(&held, &original);
        let shop = shop();
        let ctx = HoldMailContext {
            shop: &shop,
            hold: &hold,
            held: &held,
            original: &original,
            links: Some(&links()),
            at_mall: None,
            refusal: None,
            undelivered: None,
            group: None,
        };
        let templates = Templates::new();
        for kind in [NoticeKind::Notice, NoticeKind::Reminder, NoticeKind::Cancellation] {
            let mail = templates.hold_mail(kind, &ctx).unwrap().unwrap();
            let html = mail.html.clone().unwrap();
            for text in [&mail.text, &html] {
                for secret in [
                    "梅田",
                    "グランドハイツ",
                    "1203",
                    "530-0001",
                    "山田 花子",
                    "TS-20261123-0001",
                ] {
                    assert!(!text.contains(secret), "{kind:?} shows {secret}:\n{text}");
                }
            }
            if kind != NoticeKind::Cancellation {
                assert!(
                    mail.text.contains("大阪府大阪市北区"),
                    "prefecture and city stay:\n{}",
                    mail.text
                );
                assert!(
                    mail.text.contains("************0001"),
                    "a masked number:\n{}",
                    mail.text
                );
            }
        }
        // The staff see everything.
        let staff = templates.hold_mail(NoticeKind::StaffNewHold, &ctx).unwrap().unwrap();
        assert!(staff.text.contains("TS-20261123-0001"), "{}", staff.text);
    }

    #[test]
    fn the_earlier_order_to_the_buyers_own_address_is_shown_whole_but_its_number() {
        let held = order("TS-20261123-0002");
        let mut original = order("TS-20261123-0001");
        original.ship_to.lines = vec!["千代田１－２－３　メゾン千代田１０１".into()];
        let summary = OrderSummary::of_other(&original, &held, Language::Ja);
        assert_eq!(summary.ship_to_name, "山田 太郎");
        assert!(summary.ship_to.contains("メゾン千代田"), "{}", summary.ship_to);
        assert_eq!(summary.order_id, "************0001");
        assert_eq!(masked("#1001"), "***01");
        assert_eq!(masked("ab"), "*b");
    }

    #[test]
    fn the_english_notice_is_available() {
        let mail = render(NoticeKind::Notice, Language::En);
        assert!(mail.subject.contains("Please confirm"));
        assert!(
            mail.text.contains("Ship both") && mail.text.contains("JST"),
            "{}",
            mail.text
        );
    }

    #[test]
    fn html_escapes_what_the_buyer_typed() {
        let shop = shop();
        let mut held = order("1002");
        held.ship_to.name = "<script>alert(1)</script>".into();
        let original = order("1001");
        let hold = hold_for(&held, &original);
        let ctx = HoldMailContext {
            shop: &shop,
            hold: &hold,
            held: &held,
            original: &original,
            links: Some(&links()),
            at_mall: None,
            refusal: None,
            undelivered: None,
            group: None,
        };
        let mail = Templates::new().hold_mail(NoticeKind::Notice, &ctx).unwrap().unwrap();
        assert!(!mail.html.unwrap().contains("<script>"));
    }

    #[test]
    fn every_kind_renders_in_both_languages() {
        for lang in [Language::Ja, Language::En] {
            for kind in [
                NoticeKind::Notice,
                NoticeKind::Reminder,
                NoticeKind::Cancellation,
                NoticeKind::Receipt,
                NoticeKind::StaffNewHold,
                NoticeKind::StaffResolved,
                NoticeKind::StaffExpired,
                NoticeKind::StaffEscalated,
            ] {
                let mail = render(kind, lang);
                assert!(mail.text.contains("1002"), "{kind:?} {lang:?}:\n{}", mail.text);
                assert!(!mail.subject.is_empty());
            }
        }
    }

    #[test]
    fn the_cancellation_mail_explains_why_and_invites_a_new_order() {
        let mail = render(NoticeKind::Cancellation, Language::Ja);
        assert!(mail.text.contains("再度ご注文"), "{}", mail.text);
    }

    #[test]
    fn the_staff_alert_for_amazon_forbids_phoning_and_carries_the_case_text() {
        let shop = shop();
        let mut held = order("503-2");
        held.order_ref.mall = crate::ids::Mall::Amazon;
        let original = order("503-1");
        let mut hold = hold_for(&held, &original);
        hold.contact = crate::hold::ContactRules::for_order(&held);
        hold.amazon_fallback_case = Some(crate::hold::amazon_case_text(&shop.name, &held, &original));
        let hold = hold
            .settle(Decision::Cancel, Resolver::Deadline, held.placed_at)
            .unwrap();
        let ctx = HoldMailContext {
            shop: &shop,
            hold: &hold,
            held: &held,
            original: &original,
            links: None,
            at_mall: None,
            refusal: None,
            undelivered: None,
            group: None,
        };
        let mail = Templates::new()
            .hold_mail(NoticeKind::StaffExpired, &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(mail.to, shop.staff_email);
        assert!(
            mail.text.contains("電話") && mail.text.contains("カスタマーサービス"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("購入者様へのご確認のお願い"), "{}", mail.text);
    }

    fn feed_failure(lang: Language, mall: Mall, error: FeedError, last_read: Option<&str>) -> Mail {
        let mut shop = shop();
        shop.language = lang;
        let shop_id = ShopId::parse("tanaka-shop").unwrap();
        Templates::new()
            .feed_failure_mail(&FeedFailureContext {
                shop: &shop,
                mall,
                shop_id: &shop_id,
                error: &error,
                at: "2026-11-23T03:05:00Z".parse().unwrap(),
                last_read: last_read.map(|t| t.parse().unwrap()),
            })
            .unwrap()
    }

    #[test]
    fn the_expiry_warning_says_how_each_mall_renews() {
        let shop_id = ShopId::parse("tanaka-shop").unwrap();
        let warn = |lang: Language, mall: Mall| {
            let mut shop = shop();
            shop.language = lang;
            Templates::new()
                .credentials_expiring_mail(&CredentialsExpiringContext {
                    shop: &shop,
                    mall,
                    shop_id: &shop_id,
                    expires_at: "2026-11-29T01:00:00Z".parse().unwrap(),
                    now: "2026-11-20T01:00:00Z".parse().unwrap(),
                })
                .unwrap()
        };
        assert!(warn(Language::Ja, Mall::Rakuten).text.contains("licenseKey"));
        let yahoo = warn(Language::Ja, Mall::Yahoo);
        assert!(
            yahoo.text.contains("同意") && yahoo.text.contains("authorized_at"),
            "{}",
            yahoo.text
        );
        assert!(yahoo.subject.contains("あと9日"), "{}", yahoo.subject);
        let yahoo = warn(Language::En, Mall::Yahoo);
        assert!(yahoo.text.contains("have the store consent to"), "{}", yahoo.text);
    }

    #[test]
    fn the_feed_failure_alert_says_what_failed_and_what_a_person_must_do() {
        let expired = || FeedError::Unauthorized("ES04-01 licenseKey expired".into());
        let mail = feed_failure(Language::Ja, Mall::Rakuten, expired(), Some("2026-11-23T02:55:00Z"));
        assert_eq!(mail.to.as_str(), "staff@tanaka-shop.example");
        assert!(
            mail.subject.contains("楽天市場") && mail.subject.contains("tanaka-shop"),
            "{}",
            mail.subject
        );
        for needle in [
            "楽天市場",
            "tanaka-shop",
            "ES04-01 licenseKey expired",
            "2026年11月23日 12:05",
            "最終取得: 2026年11月23日 11:55",
            "licenseKey は90日ごと",
            "シークレット",
            "重複のチェックもされません",
            "1日1回",
        ] {
            assert!(mail.text.contains(needle), "{needle} missing from:\n{}", mail.text);
        }
        assert!(
            !mail.text.contains("{{") && !mail.text.contains("\n\n\n"),
            "{}",
            mail.text
        );

        let mail = feed_failure(Language::En, Mall::Yahoo, FeedError::Unauthorized("401".into()), None);
        for needle in [
            "Yahoo! Shopping",
            "tanaka-shop",
            "Last read: never",
            "authorise the store again",
            "secret",
        ] {
            assert!(mail.text.contains(needle), "{needle} missing from:\n{}", mail.text);
        }
        assert!(!mail.text.contains("licenseKey"), "{}", mail.text);
        assert!(mail.subject.contains("Action needed"), "{}", mail.subject);

        // A refused request is no credential to renew: whoever maintains mallguard must look.
        for lang in [Language::Ja, Language::En] {
            let mail = feed_failure(lang, Mall::Rakuten, FeedError::Refused("400 dateType".into()), None);
            assert!(mail.text.contains("400 dateType"), "{}", mail.text);
            assert!(mail.text.contains("API"), "{}", mail.text);
            assert!(!mail.text.contains("licenseKey"), "{}", mail.text);
        }
        let amazon = feed_failure(Language::Ja, Mall::Amazon, expired(), None);
        assert!(amazon.text.contains("セラーセントラル"), "{}", amazon.text);
    }

    #[test]
    fn a_feed_failure_alert_is_one_a_day_per_mall_shop_and_reason() {
        let shop = ShopId::parse("tanaka.shop").unwrap();
        let day: jiff::civil::Date = "2026-11-23".parse().unwrap();
        let id = NoticeId::for_feed_failure(Mall::Rakuten, shop.as_str(), day, "unauthorized");
        assert_eq!(
            id.as_str(),
            "f.rakuten.tanaka.shop.2026-11-23.unauthorized.staff_feed_failure"
        );
        let next_day = day.tomorrow().unwrap();
        let others = [
            NoticeId::for_feed_failure(Mall::Yahoo, shop.as_str(), day, "unauthorized"),
            NoticeId::for_feed_failure(Mall::Rakuten, "tanaka", day, "unauthorized"),
            NoticeId::for_feed_failure(Mall::Rakuten, shop.as_str(), next_day, "unauthorized"),
            NoticeId::for_feed_failure(Mall::Rakuten, shop.as_str(), day, "refused"),
        ];
        assert!(others.iter().all(|other| other != &id), "{others:?}");
    }

    #[test]
    fn a_failed_send_is_retried_with_growing_backoff() {
        let shop = shop();
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let mail = Templates::new()
            .quarantine_mail(&shop, "abc", "shopify", "missing field", false)
            .unwrap();
        let n = Notice::new(
            NoticeId::for_quarantine("abc"),
            NoticeKind::StaffQuarantine,
            None,
            mail,
            now,
        );
        let once = n.failed("timeout".into(), now);
        let twice = once.failed("timeout".into(), now);
        assert_eq!(once.next_attempt_at, "2026-11-23T03:01:00Z".parse().unwrap());
        assert_eq!(twice.next_attempt_at, "2026-11-23T03:02:00Z".parse().unwrap());
        assert_eq!(twice.state, NoticeState::Pending);
        assert_eq!(twice.sent("m-1".into()).state, NoticeState::Sent);
    }
}
