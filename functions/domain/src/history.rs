//! The evidence (注文履歴): every event of an order, appended, never rewritten.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::action::{ActionId, ActionKind, DropReason};
use crate::blacklist::BlacklistId;
use crate::hold::{Decision, HoldState, Resolver};
use crate::identity::KeyKind;
use crate::ids::{HoldId, OrderRef, ProductKey};
use crate::notice::{NoticeId, NoticeKind};
use crate::order::{OrderStatus, PayloadDigest};
use crate::policy::format_jst;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The mall's notification arrived (only its digest is kept here).
    Received { digest: PayloadDigest, status: OrderStatus },
    /// The same notification (or the same order unchanged) arrived again.
    Redelivered { digest: PayloadDigest },
    /// A later notification changed the order's status at the mall.
    StatusChanged {
        from: OrderStatus,
        to: OrderStatus,
        digest: PayloadDigest,
    },
    /// The mall began or ended holding the order for its own fraud screening (Yahoo!'s FraudHoldStatus).
    ScreeningChanged { screened: bool, digest: PayloadDigest },
    /// Suspected duplicate of `with`.
    Matched {
        with: OrderRef,
        keys: Vec<KeyKind>,
        products: Vec<ProductKey>,
        /// The order it matched when that order is itself held as a duplicate of `with`: the new order is
        /// held against the first order of the chain, the one that ships.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<OrderRef>,
        /// `with`'s number as people know it, where it differs from its id (Shopify `#1001`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with_number: Option<String>,
    },
    /// This order is the earlier order of a hold on `held`.
    DuplicateReceived {
        held: OrderRef,
        hold: HoldId,
        /// `held`'s number as people know it, where it differs from its id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held_number: Option<String>,
    },
    Held {
        hold: HoldId,
        deadline: Timestamp,
        urgent: bool,
    },
    /// A mail written and queued. `digest` ([`Mail::digest`](crate::notice::Mail::digest)) and `template`
    /// (the [template version](crate::notice::template_version)) stay in the evidence for good; the mail's
    /// exact text stays in its notice record for the retention period, and the digest proves it unchanged.
    NoticeQueued {
        notice: NoticeId,
        kind: NoticeKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    /// The mail handed to its route and taken; `digest` is that of the very mail sent (one written again in
    /// the buyer's language differs from the one queued).
    NoticeSent {
        notice: NoticeId,
        kind: NoticeKind,
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
    },
    NoticeFailed {
        notice: NoticeId,
        kind: NoticeKind,
        attempt: u32,
        error: String,
    },
    /// A buyer's notice that waited (for the morning, or its next try) was not sent: its hold was settled.
    NoticeWithdrawn { notice: NoticeId, kind: NoticeKind },
    /// The buyer opened the page behind a notice link (GET: nothing changed).
    PageOpened {
        hold: HoldId,
        /// What the page showed: the digest of exactly the HTML served and what it was rendered from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<PageShown>,
    },
    /// Somebody settled the hold.
    Resolved {
        hold: HoldId,
        decision: Decision,
        state: HoldState,
        by: Resolver,
    },
    /// An answer that came after the hold was settled; it changed nothing.
    LateAnswer {
        hold: HoldId,
        decision: Decision,
        state: HoldState,
        by: Resolver,
    },
    /// The mall reports the held order cancelled, after mallguard had cancelled its hold without acting at
    /// the mall: the staff cancelled it there by hand.
    CancelledAtMall { hold: HoldId },
    /// Amazon: the customer-service fallback was noted for the staff.
    AmazonFallbackNoted { hold: HoldId },
    /// mallguard asked the mall to hold, release or cancel the order (it runs after this is recorded).
    ActionRequested { action: ActionId, kind: ActionKind },
    /// The mall did it; `reference` is the mall's id of what it did, when it gave one.
    ActionPerformed {
        action: ActionId,
        kind: ActionKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// The mall could not do it now: tried again later.
    ActionRetried {
        action: ActionId,
        kind: ActionKind,
        attempt: u32,
        error: String,
    },
    /// The mall took it but has not confirmed it yet (Rakuten's 800): looked at again later.
    ActionAccepted {
        action: ActionId,
        kind: ActionKind,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        message: String,
    },
    /// mallguard no longer asks it of the mall, and says why (a hold settled before it reached the mall; a
    /// release of a hold mallguard did not place).
    ActionDropped {
        action: ActionId,
        kind: ActionKind,
        reason: DropReason,
    },
    /// The mall refused it for good, with its reason: the staff were told.
    ActionRefused {
        action: ActionId,
        kind: ActionKind,
        reason: String,
    },
    /// What the mail service reported about a mail after sending it (delivered, bounced, …).
    MailReported {
        kind: NoticeKind,
        message_id: String,
        outcome: crate::service::MailOutcome,
        /// The service's reason (a bounce type, a diagnostic code), never an address.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// A staff member put this order's customer on the blacklist.
    Blacklisted {
        entry: BlacklistId,
        by: String,
        reason: String,
    },
    /// A staff member took the customer this entry was made from off the blacklist.
    BlacklistRemoved { entry: BlacklistId, by: String },
    /// This order shares identity keys with a blacklisted customer: held for the staff, no buyer mail.
    BlacklistMatched {
        entry: BlacklistId,
        /// The order the entry was made from.
        with: OrderRef,
        keys: Vec<KeyKind>,
    },
    /// The order came from a quarantined payload that a staff member (or an operator) replayed after a fix.
    QuarantineReplayed { quarantine: String, by: String },
    /// A staff member's note on a hold, such as the outcome of a phone call.
    StaffNote { hold: HoldId, by: String, note: String },
}

/// The buyer's page as it was shown: SHA-256 (hex) of exactly the HTML served, the version of the page
/// templates, and the language it was shown in. The page is rendered from the hold as it stands, so the
/// same hold renders the same bytes again; the digest proves which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageShown {
    pub digest: String,
    pub template: String,
    pub lang: Language,
}

/// The buyer's page exactly as it was served (ページの控え), kept once per hold and digest: a buyer reloading the
/// same page adds nothing, a page that changed (the hold answered, the mall cancelled) is kept again. Kept
/// for the retention period, as a mail's text is; the [`PageShown`] in the history stays for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptPage {
    pub hold: HoldId,
    /// The held order, whose evidence shows the page.
    pub order: OrderRef,
    /// When it was first shown.
    pub shown_at: Timestamp,
    pub shown: PageShown,
    /// The HTML served, byte for byte.
    pub html: String,
}

impl KeptPage {
    /// The largest page kept (far above a real page's few kilobytes; every store keeps it in one item, and
    /// DynamoDB's items stop at 400 KB). A larger one keeps only its digest in the history.
    pub const MAX_HTML_BYTES: usize = 256 * 1024;

    /// Whether the kept HTML is still what the digest recorded when it was shown.
    pub fn matches(&self) -> bool {
        crate::service::sha256_hex(self.html.as_bytes()) == self.shown.digest
    }

    /// What the buyer read on the page: its visible text, without the markup (what staff read back to a
    /// buyer), one block per line.
    pub fn visible_text(&self) -> String {
        visible_text(&self.html)
    }
}

/// The visible text of an HTML page: the head, scripts and styles dropped, a line break at every block,
/// tags removed and character references decoded, blank lines and runs of spaces folded.
pub fn visible_text(html: &str) -> String {
    const BLOCKS: [&str; 24] = [
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section", "header",
        "footer", "main", "form", "button", "dt", "dd", "hr", "article",
    ];
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut hidden: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        if hidden.is_none() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match &hidden {
            Some(open) if closing && *open == name => hidden = None,
            Some(_) => {}
            None if !closing && matches!(name.as_str(), "head" | "script" | "style" | "template") => {
                hidden = Some(name)
            }
            None if BLOCKS.contains(&name.as_str()) => out.push('\n'),
            None => {}
        }
    }
    if hidden.is_none() {
        out.push_str(&decode_entities(rest));
    }
    let mut text = String::with_capacity(out.len());
    for line in out.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references; anything else stays as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One line of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub order: OrderRef,
    pub at: Timestamp,
    pub event: Event,
}

impl HistoryEntry {
    pub fn new(order: &OrderRef, at: Timestamp, event: Event) -> Self {
        Self {
            order: order.clone(),
            at,
            event,
        }
    }

    /// One line of the timeline a shop shows a customer in a dispute, to the second, in JST.
    pub fn describe(&self, lang: Language) -> String {
        let when = crate::policy::format_jst_seconds(self.at, lang);
        format!("{when}  {}", self.what(lang))
    }

    /// What happened, without the time.
    pub fn what(&self, lang: Language) -> String {
        let ja = lang == Language::Ja;
        match &self.event {
            Event::Received { digest, status } => {
                let digest = &digest.as_str()[..16];
                if ja {
                    format!(
                        "注文通知を受信（{}、ペイロード sha256 {digest}）",
                        status_label(*status, lang)
                    )
                } else {
                    format!(
                        "order notification received ({}, payload sha256 {digest})",
                        status_label(*status, lang)
                    )
                }
            }
            Event::Redelivered { .. } => {
                if ja {
                    "同じ注文通知を再受信（変更なし）".into()
                } else {
                    "notification received again (no change)".into()
                }
            }
            Event::StatusChanged { from, to, .. } => {
                let (from, to) = (status_label(*from, lang), status_label(*to, lang));
                if ja {
                    format!("モールでの状態が変更: {from} → {to}")
                } else {
                    format!("status at the mall: {from} -> {to}")
                }
            }
            Event::ScreeningChanged { screened, .. } => match (screened, ja) {
                (true, true) => "モールが不正注文審査のため保留".to_owned(),
                (false, true) => "モールの不正注文審査による保留が解除".to_owned(),
                (true, false) => "held by the mall's fraud screening".to_owned(),
                (false, false) => "released from the mall's fraud screening".to_owned(),
            },
            Event::Matched {
                with,
                keys,
                products,
                via,
                with_number,
            } => {
                let with = order_label(with, with_number.as_deref());
                let keys: Vec<_> = keys.iter().map(|k| key_label(*k, lang)).collect();
                let products: Vec<_> = products.iter().map(|p| p.as_str()).collect();
                if ja {
                    let via = via
                        .as_ref()
                        .map(|v| format!("、保留中の {v} と一致したため最初の注文に対して保留"))
                        .unwrap_or_default();
                    format!(
                        "{with} と重複の疑い（一致: {}、商品 {}{via}）",
                        keys.join("・"),
                        products.join(", ")
                    )
                } else {
                    let via = via
                        .as_ref()
                        .map(|v| format!("; matched {v}, itself held, so held against the first order"))
                        .unwrap_or_default();
                    format!(
                        "suspected duplicate of {with} (same {}; product {}{via})",
                        keys.join(", "),
                        products.join(", ")
                    )
                }
            }
            Event::DuplicateReceived {
                held,
                hold,
                held_number,
            } => {
                let held = order_label(held, held_number.as_deref());
                if ja {
                    format!("後の注文 {held} を重複の疑いで保留（{hold}）")
                } else {
                    format!("later order {held} held as its duplicate ({hold})")
                }
            }
            Event::Held { hold, deadline, urgent } => {
                let deadline = format_jst(*deadline, lang);
                match (ja, urgent) {
                    (true, true) => format!("発送を保留（{hold}）、回答期限 {deadline}、至急"),
                    (true, false) => format!("発送を保留（{hold}）、回答期限 {deadline}"),
                    (false, true) => format!("held ({hold}), answer deadline {deadline}, URGENT"),
                    (false, false) => format!("held ({hold}), answer deadline {deadline}"),
                }
            }
            Event::NoticeQueued { kind, .. } => {
                if ja {
                    format!("{}を作成", kind_label(*kind, lang))
                } else {
                    format!("{} queued", kind_label(*kind, lang))
                }
            }
            Event::NoticeSent {
                kind,
                message_id,
                digest,
                ..
            } => {
                let kind = kind_label(*kind, lang);
                let digest = digest
                    .as_deref()
                    .map(|d| format!(", sha256 {}", &d[..16.min(d.len())]))
                    .unwrap_or_default();
                if ja {
                    format!(
                        "{kind}を送信（メッセージID {message_id}{}）",
                        digest.replace(", ", "、本文 ")
                    )
                } else {
                    format!(
                        "{kind} sent (message id {message_id}{})",
                        digest.replace(", ", ", text ")
                    )
                }
            }
            Event::NoticeWithdrawn { kind, .. } => {
                let kind = kind_label(*kind, lang);
                if ja {
                    format!("{kind}は送らず（保留は解決済み）")
                } else {
                    format!("{kind} not sent: the hold was settled")
                }
            }
            Event::NoticeFailed {
                kind, attempt, error, ..
            } => {
                let kind = kind_label(*kind, lang);
                if ja {
                    format!("{kind}の送信に失敗（{attempt}回目）: {error}")
                } else {
                    format!("{kind} failed to send (attempt {attempt}): {error}")
                }
            }
            Event::PageOpened { page, .. } => match (page, ja) {
                (Some(p), true) => format!(
                    "購入者が確認ページを開いた（表示 sha256 {}、テンプレート版 {}）",
                    &p.digest[..16.min(p.digest.len())],
                    p.template
                ),
                (Some(p), false) => format!(
                    "buyer opened the confirmation page (shown: sha256 {}, templates {})",
                    &p.digest[..16.min(p.digest.len())],
                    p.template
                ),
                (None, true) => "購入者が確認ページを開いた".into(),
                (None, false) => "buyer opened the confirmation page".into(),
            },
            Event::Resolved {
                decision, state, by, ..
            } => {
                if ja {
                    format!(
                        "{}が「{}」と回答: {}",
                        resolver_label(by, lang),
                        decision_label(*decision, lang),
                        state.label(lang)
                    )
                } else {
                    format!(
                        "{} answered {}: hold {state}",
                        resolver_label(by, lang),
                        decision_label(*decision, lang)
                    )
                }
            }
            Event::LateAnswer {
                decision, state, by, ..
            } => {
                if ja {
                    format!(
                        "{}の「{}」は解決済みのため反映せず（{}）",
                        resolver_label(by, lang),
                        decision_label(*decision, lang),
                        state.label(lang)
                    )
                } else {
                    format!(
                        "late answer {} by {} ignored: hold already {state}",
                        decision_label(*decision, lang),
                        resolver_label(by, lang)
                    )
                }
            }
            Event::CancelledAtMall { .. } => {
                if ja {
                    "モールでのキャンセルを確認（スタッフによる手続き）".into()
                } else {
                    "the mall reports the order cancelled (done there by the staff)".into()
                }
            }
            Event::AmazonFallbackNoted { .. } => {
                if ja {
                    "Amazonカスタマーサービスによる確認をスタッフへ案内（電話連絡は不可）".into()
                } else {
                    "Amazon customer-service fallback noted for the staff (no phone contact)".into()
                }
            }
            Event::ActionRequested { kind, .. } => {
                if ja {
                    format!("モールへ{}を依頼", action_label(*kind, lang))
                } else {
                    format!("asked the mall for {}", action_label(*kind, lang))
                }
            }
            Event::ActionPerformed { kind, reference, .. } => {
                let reference = reference.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                if ja {
                    format!("モールで{}済み{reference}", action_label(*kind, lang))
                } else {
                    format!("the mall did {}{reference}", action_label(*kind, lang))
                }
            }
            Event::ActionAccepted {
                kind,
                attempt,
                reference,
                message,
                ..
            } => {
                let reference = reference.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                if ja {
                    format!(
                        "モールが{}を受け付け、確定待ち{reference}（{attempt}回目、確認を続けます）: {message}",
                        action_label(*kind, lang)
                    )
                } else {
                    format!(
                        "the mall took {}{reference}, not confirmed yet (attempt {attempt}, checked again): {message}",
                        action_label(*kind, lang)
                    )
                }
            }
            Event::ActionRetried {
                kind, attempt, error, ..
            } => {
                if ja {
                    format!(
                        "モールでの{}に失敗（{attempt}回目、再試行します）: {error}",
                        action_label(*kind, lang)
                    )
                } else {
                    format!(
                        "{} at the mall failed (attempt {attempt}, retried): {error}",
                        action_label(*kind, lang)
                    )
                }
            }
            Event::MailReported {
                kind, outcome, detail, ..
            } => {
                let kind = kind_label(*kind, lang);
                let detail = if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                };
                format!("{kind}: {}{detail}", outcome.label(lang))
            }
            Event::ActionDropped { kind, reason, .. } => {
                let reason = drop_reason_label(*reason, lang);
                if ja {
                    format!("モールへの{}の依頼を取りやめ: {reason}", action_label(*kind, lang))
                } else {
                    format!("{} at the mall no longer asked: {reason}", action_label(*kind, lang))
                }
            }
            Event::ActionRefused { kind, reason, .. } => {
                if ja {
                    format!("モールが{}を拒否: {reason}", action_label(*kind, lang))
                } else {
                    format!("the mall refused {}: {reason}", action_label(*kind, lang))
                }
            }
            Event::Blacklisted { entry, by, reason } => {
                if ja {
                    format!("{by} がブラックリストに登録（{entry}）: {reason}")
                } else {
                    format!("{by} put the customer on the blacklist ({entry}): {reason}")
                }
            }
            Event::BlacklistRemoved { entry, by } => {
                if ja {
                    format!("{by} がブラックリストから削除（{entry}）")
                } else {
                    format!("{by} took the customer off the blacklist ({entry})")
                }
            }
            Event::BlacklistMatched { entry, with, keys } => {
                let keys: Vec<_> = keys.iter().map(|k| key_label(*k, lang)).collect();
                if ja {
                    format!(
                        "ブラックリスト（{entry}、元の注文 {with}）と一致（{}）: 購入者へのメールなしでスタッフ確認のため保留",
                        keys.join("・")
                    )
                } else {
                    format!(
                        "matches the blacklist ({entry}, made from {with}; same {}): held for the staff, no mail to the buyer",
                        keys.join(", ")
                    )
                }
            }
            Event::QuarantineReplayed { quarantine, by } => {
                if ja {
                    format!("{by} が隔離データ（{quarantine}）を再処理して取り込み")
                } else {
                    format!("{by} replayed it from the quarantine ({quarantine})")
                }
            }
            Event::StaffNote { by, note, .. } => {
                if ja {
                    format!("{by} のメモ: {note}")
                } else {
                    format!("note by {by}: {note}")
                }
            }
        }
    }
}

/// A mall action as the staff read it.
/// Why mallguard no longer asks an action of the mall, in the evidence's words.
pub fn drop_reason_label(reason: DropReason, lang: Language) -> &'static str {
    match (reason, lang) {
        (DropReason::SettledFirst, Language::Ja) => "保留がモールに届く前に対応が決まりました",
        (DropReason::SettledFirst, Language::En) => "the hold was settled before it reached the mall",
        (DropReason::NoHold, Language::Ja) => "mallguard はモールで保留していません",
        (DropReason::NoHold, Language::En) => "mallguard never asked the mall for the hold",
        (DropReason::HoldRefused, Language::Ja) => "モールが保留を拒否しています",
        (DropReason::HoldRefused, Language::En) => "the mall refused the hold",
        (DropReason::HoldDropped, Language::Ja) => "保留はモールに届いていません",
        (DropReason::HoldDropped, Language::En) => "the hold never reached the mall",
        (DropReason::HeldByOthers, Language::Ja) => {
            "mallguard の依頼前から保留されていました（スタッフの保留はスタッフが解除します）"
        }
        (DropReason::HeldByOthers, Language::En) => {
            "the order was on hold at the mall before mallguard asked (a hold the staff placed is theirs to lift)"
        }
    }
}

pub fn action_label(kind: ActionKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (ActionKind::Hold, Language::Ja) => "保留",
        (ActionKind::Release, Language::Ja) => "保留解除",
        (ActionKind::Cancel, Language::Ja) => "キャンセル",
        (ActionKind::Hold, Language::En) => "the hold",
        (ActionKind::Release, Language::En) => "the release",
        (ActionKind::Cancel, Language::En) => "the cancellation",
    }
}

fn status_label(status: OrderStatus, lang: Language) -> &'static str {
    match (status, lang) {
        (OrderStatus::Open, Language::Ja) => "受付",
        (OrderStatus::Cancelled, Language::Ja) => "キャンセル",
        (OrderStatus::Shipped, Language::Ja) => "発送済み",
        (OrderStatus::Open, Language::En) => "open",
        (OrderStatus::Cancelled, Language::En) => "cancelled",
        (OrderStatus::Shipped, Language::En) => "shipped",
    }
}

/// A kind of identity key as the staff read it.
pub fn key_label(kind: KeyKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (KeyKind::Email, Language::Ja) => "メールアドレス",
        (KeyKind::Phone, Language::Ja) => "電話番号",
        (KeyKind::Address, Language::Ja) => "住所と氏名",
        (KeyKind::Reading, Language::Ja) => "住所と氏名の読み",
        (kind, Language::En) => kind.as_str(),
    }
}

/// A notice kind as the staff read it.
pub fn kind_label(kind: NoticeKind, lang: Language) -> &'static str {
    match (kind, lang) {
        (NoticeKind::Notice, Language::Ja) => "購入者への確認メール",
        (NoticeKind::Reminder, Language::Ja) => "購入者への再確認メール",
        (NoticeKind::Cancellation, Language::Ja) => "購入者へのキャンセルのお知らせ",
        (NoticeKind::Receipt, Language::Ja) => "購入者への回答受付メール",
        (NoticeKind::StaffNewHold, Language::Ja) => "スタッフへの保留通知",
        (NoticeKind::StaffResolved, Language::Ja) => "スタッフへの回答通知",
        (NoticeKind::StaffExpired, Language::Ja) => "スタッフへの期限切れ通知",
        (NoticeKind::StaffEscalated, Language::Ja) => "スタッフへのAmazon確認依頼",
        (NoticeKind::StaffQuarantine, Language::Ja) => "スタッフへの隔離通知",
        (NoticeKind::StaffFeedFailure, Language::Ja) => "スタッフへの注文取得エラー通知",
        (NoticeKind::Notice, Language::En) => "buyer notice",
        (NoticeKind::Reminder, Language::En) => "buyer reminder",
        (NoticeKind::Cancellation, Language::En) => "buyer cancellation mail",
        (NoticeKind::Receipt, Language::En) => "buyer receipt",
        (NoticeKind::StaffNewHold, Language::En) => "staff alert (new hold)",
        (NoticeKind::StaffResolved, Language::En) => "staff alert (answered)",
        (NoticeKind::StaffExpired, Language::En) => "staff alert (expired)",
        (NoticeKind::StaffEscalated, Language::En) => "staff alert (Amazon customer service)",
        (NoticeKind::StaffQuarantine, Language::En) => "staff alert (quarantine)",
        (NoticeKind::StaffFeedFailure, Language::En) => "staff alert (orders cannot be read)",
        (NoticeKind::StaffActionRefused, Language::Ja) => "スタッフへのモール操作拒否の通知",
        (NoticeKind::StaffActionRefused, Language::En) => "staff alert (the mall refused)",
        (NoticeKind::StaffActionFailing, Language::Ja) => "スタッフへのモール操作未完了の通知",
        (NoticeKind::StaffActionFailing, Language::En) => "staff alert (the mall keeps failing)",
        (NoticeKind::StaffShipped, Language::Ja) => "スタッフへの保留中発送の通知",
        (NoticeKind::StaffShipped, Language::En) => "staff alert (a held order shipped)",
        (NoticeKind::StaffUndeliverable, Language::Ja) => "スタッフへの不達の通知",
        (NoticeKind::StaffUndeliverable, Language::En) => "staff alert (the notice did not arrive)",
    }
}

fn decision_label(decision: Decision, lang: Language) -> &'static str {
    match (decision, lang) {
        (Decision::Confirm, Language::Ja) => "両方発送",
        (Decision::Cancel, Language::Ja) => "キャンセル",
        (Decision::Release, Language::Ja) => "保留解除",
        (Decision::Shipped, Language::Ja) => "発送済み",
        (decision, Language::En) => decision.as_str(),
    }
}

fn resolver_label(by: &Resolver, lang: Language) -> String {
    match (by, lang) {
        (Resolver::Buyer, Language::Ja) => "購入者".into(),
        (Resolver::Staff { name }, Language::Ja) => format!("スタッフ（{name}）"),
        (Resolver::Deadline, Language::Ja) => "期限切れ（回答なし）".into(),
        (Resolver::Mall, Language::Ja) => "モール".into(),
        (by, Language::En) => by.to_string(),
    }
}

/// An order as people read it in the timeline: mall, shop and the number they know.
fn order_label(order: &OrderRef, number: Option<&str>) -> String {
    match number {
        Some(number) => format!("{} {} {number}", order.mall, order.shop),
        None => order.to_string(),
    }
}
