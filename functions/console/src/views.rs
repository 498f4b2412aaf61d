//! What the pages show: view models of holds, orders, the blacklist and the quarantine, the words of
//! each language, and the templates (compiled into the binary, auto-escaped: names and addresses come
//! from what buyers typed at the malls).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use mallguard_domain::Language;
use mallguard_domain::action::ActionState;
use mallguard_domain::blacklist::BlacklistEntry;
use mallguard_domain::history::{Event, action_label, key_label, kind_label};
use mallguard_domain::hold::{Hold, HoldState};
use mallguard_domain::ids::{Mall, OrderRef, ShopId};
use mallguard_domain::notice::{NoticeState, OrderSummary, template_environment};
use mallguard_domain::policy::{format_jst, format_jst_seconds};
use mallguard_domain::ports::{Quarantined, StoredOrder};
use mallguard_domain::service::Settings;
use mallguard_domain::service::{Evidence, HoldDetail, IngestOutcome, ReplayOutcome, Replayed};
use mallguard_domain::shop_settings::{KEYS, SettingError, ShopSettings};
use minijinja::Environment;
use serde::Serialize;

use crate::ConsoleError;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    template_environment(&[
        ("base.html", include_str!("templates/base.html")),
        ("sign_in.html", include_str!("templates/sign_in.html")),
        ("sign_in_link.html", include_str!("templates/sign_in_link.html")),
        ("holds.html", include_str!("templates/holds.html")),
        ("hold.html", include_str!("templates/hold.html")),
        ("order.html", include_str!("templates/order.html")),
        ("blacklist.html", include_str!("templates/blacklist.html")),
        ("quarantine.html", include_str!("templates/quarantine.html")),
        ("error.html", include_str!("templates/error.html")),
        ("order_card.html", include_str!("templates/order_card.html")),
        ("mail_texts.html", include_str!("templates/mail_texts.html")),
        ("page_texts.html", include_str!("templates/page_texts.html")),
        ("settings_list.html", include_str!("templates/settings_list.html")),
        ("settings.html", include_str!("templates/settings.html")),
    ])
});

/// The words of the console, `(key, 日本語, English)`.
const WORDS: &[(&str, &str, &str)] = &[
    ("console", "mallguard コンソール", "mallguard console"),
    ("holds", "保留", "Holds"),
    ("open_holds", "対応待ち", "Open"),
    ("settled_holds", "解決済み", "Settled"),
    ("blacklist", "ブラックリスト", "Blacklist"),
    ("quarantine", "隔離された通知", "Quarantine"),
    ("sign_out", "サインアウト", "Sign out"),
    ("signed_in_as", "サインイン中", "Signed in as"),
    ("sign_in", "サインイン", "Sign in"),
    (
        "sign_in_intro",
        "スタッフとして登録されたメールアドレスを入力してください。サインイン用のリンクをお送りします（15分間、1回だけ有効）。",
        "Enter the address you are registered with as staff. We mail you a link that signs you in (valid for 15 minutes, once).",
    ),
    ("address", "メールアドレス", "Mail address"),
    ("send_link", "リンクを送る", "Send the link"),
    (
        "link_sent",
        "登録済みのアドレスであれば、サインイン用のリンクを送りました。メールを確認してください。",
        "If the address is registered, a sign-in link is on its way. Check your mail.",
    ),
    (
        "link_page_intro",
        "下のボタンを押すとサインインします。",
        "Press the button to sign in.",
    ),
    (
        "link_expired",
        "このリンクの有効期限（15分）が切れています。もう一度リンクを請求してください。",
        "This link has expired (15 minutes). Ask for a new one.",
    ),
    (
        "link_invalid",
        "このリンクは無効です。もう一度リンクを請求してください。",
        "This link is not valid. Ask for a new one.",
    ),
    ("ask_again", "リンクを請求する", "Ask for a link"),
    ("search", "検索", "Search"),
    (
        "search_hint",
        "注文番号・保留ID・ショップ",
        "Order number, hold id or shop",
    ),
    ("no_holds", "該当する保留はありません。", "No holds."),
    ("urgent", "至急", "URGENT"),
    ("blacklisted", "ブラックリスト", "Blacklist"),
    ("state", "状態", "State"),
    ("deadline", "回答期限", "Deadline"),
    ("time_left", "残り時間", "Time left"),
    ("overdue", "期限切れ", "past the deadline"),
    ("awaiting_staff", "スタッフ対応待ち", "waiting for the staff"),
    ("phone_task", "要電話", "call the buyer"),
    ("held_order", "保留中の注文（後の注文）", "Held order (the later one)"),
    ("original_order", "先の注文", "Earlier order"),
    (
        "blacklist_source",
        "ブラックリスト登録元の注文",
        "Order the blacklist entry was made from",
    ),
    ("shop", "ショップ", "Shop"),
    ("mall", "モール", "Mall"),
    ("order_number", "注文番号", "Order number"),
    ("placed_at", "注文日時", "Placed"),
    ("buyer", "購入者", "Buyer"),
    ("phone", "電話番号", "Phone"),
    ("email", "メール", "Mail"),
    ("ship_to", "お届け先", "Ship to"),
    ("items", "商品", "Items"),
    ("total", "合計", "Total"),
    ("delivery_date", "お届け希望日", "Delivery date"),
    ("gift", "ギフト", "Gift"),
    ("why_matched", "重複と判断した理由", "Why they matched"),
    ("same_keys", "一致した項目", "Same"),
    ("same_products", "同じ商品", "Same products"),
    ("risks", "注意", "Risks"),
    ("contact", "連絡", "Contact"),
    ("phone_allowed", "電話で確認できます", "The buyer may be phoned"),
    (
        "no_phone",
        "電話での確認はできません（Amazonまたはギフト）",
        "No phone calls (Amazon or a gift)",
    ),
    (
        "amazon_case",
        "Amazonカスタマーサービスへの依頼文",
        "Text for Amazon customer service",
    ),
    ("mails", "メール", "Mails"),
    (
        "mail_texts",
        "送ったメールの本文（送ったとおり）",
        "The mails' text, exactly as sent",
    ),
    (
        "related_orders",
        "同じお客様・同じお届け先の未発送の注文（保留なし）",
        "The customer's other open orders to the same address (not held)",
    ),
    (
        "bundle_candidates",
        "同梱候補（1つの荷物にまとめて発送できる注文）",
        "Bundling candidates (同梱: orders that ship in one parcel)",
    ),
    ("no_mails", "メールの記録はありません。", "No mails recorded."),
    (
        "page_texts",
        "購入者に表示したページ（表示したとおりの文面）",
        "The pages the buyer was shown (their text, as shown)",
    ),
    ("shown_at", "表示", "Shown"),
    ("template_version", "テンプレート版", "Templates"),
    ("attempts", "試行", "Attempts"),
    ("at_mall", "モールでの操作", "At the mall"),
    (
        "no_actions",
        "モールへの依頼はありません（モールの管理画面で操作してください）。",
        "Nothing asked of the mall (act in the mall's admin screen).",
    ),
    ("evidence", "経過（日本時間）", "Timeline (JST)"),
    ("actions", "対応", "Actions"),
    ("confirm", "両方発送する（保留を解除）", "Ship both (release the hold)"),
    ("cancel", "後の注文をキャンセルする", "Cancel the later order"),
    (
        "confirm_blacklisted",
        "発送する（保留を解除）",
        "Ship it (release the hold)",
    ),
    ("cancel_blacklisted", "この注文をキャンセルする", "Cancel this order"),
    (
        "note",
        "メモ（電話で確認した内容など）",
        "Note (e.g. what the buyer said on the phone)",
    ),
    ("add_note", "メモを記録", "Record the note"),
    (
        "phoned_hint",
        "例: 11/29 14:10 電話で確認。2件とも必要とのこと。",
        "e.g. Phoned 29 Nov 14:10: the buyer wants both.",
    ),
    (
        "blacklist_add",
        "この注文の購入者をブラックリストに登録",
        "Put this order's customer on the blacklist",
    ),
    ("reason", "理由", "Reason"),
    ("add", "登録", "Add"),
    ("remove", "削除", "Remove"),
    ("added_by", "登録者", "Added by"),
    ("added_at", "登録日時", "Added"),
    ("order", "注文", "Order"),
    ("no_blacklist", "ブラックリストは空です。", "The blacklist is empty."),
    (
        "blacklist_intro",
        "登録した購入者の次の注文は、どのモールでも購入者へメールせずに保留し、スタッフの確認を待ちます（電話番号・メールアドレス・住所のいずれかが一致した場合）。",
        "A listed customer's next order, on any mall, is held for the staff without mailing the buyer (when its phone, mail address or address matches).",
    ),
    (
        "already_listed",
        "この注文の購入者はブラックリストに登録済みです",
        "This order's customer is on the blacklist",
    ),
    ("timeline", "注文の経過", "Order timeline"),
    ("print", "印刷", "Print"),
    ("csv", "CSVで保存", "Save as CSV"),
    ("all_times_jst", "時刻はすべて日本時間です。", "All times are JST."),
    ("time", "日時", "Time"),
    ("event", "出来事", "Event"),
    ("hold", "保留", "Hold"),
    ("received_at", "受信日時", "Received"),
    ("source", "受付元", "Source"),
    ("error", "エラー", "Error"),
    ("replayed_at", "再処理日時", "Replayed"),
    ("not_replayed", "未処理", "not yet"),
    (
        "no_quarantine",
        "隔離された通知はありません。",
        "Nothing in quarantine.",
    ),
    (
        "quarantine_intro",
        "署名は正しいものの内容を解析できなかった通知です。データは失われていません。修正後に再処理してください。",
        "Signed notifications that could not be parsed. Nothing is lost: replay them after a fix.",
    ),
    (
        "replay",
        "未処理のものをすべて再処理",
        "Replay everything not yet replayed",
    ),
    ("replay_results", "再処理の結果", "Replay results"),
    ("done_settled", "保留を解決しました。", "The hold is settled."),
    (
        "done_already",
        "この保留はすでに解決済みでした。変更はありません。",
        "The hold was settled already: nothing changed.",
    ),
    ("done_noted", "メモを記録しました。", "The note is recorded."),
    (
        "done_blacklisted",
        "ブラックリストに登録しました。",
        "Added to the blacklist.",
    ),
    (
        "done_already_blacklisted",
        "すでにブラックリストに登録済みです。",
        "Already on the blacklist.",
    ),
    (
        "done_removed",
        "ブラックリストから削除しました。",
        "Removed from the blacklist.",
    ),
    ("back_to_holds", "保留の一覧へ", "Back to the holds"),
    ("settled_by", "解決", "Settled by"),
    ("settings", "ショップ設定", "Shop settings"),
    (
        "settings_intro",
        "モールのショップごとに、既定値（デプロイ時の設定）を上書きできます。空欄にすると既定値に戻ります。変更は1分以内にすべての処理に反映されます。",
        "Each mall shop can override the defaults (the deployment's settings). Leave a field empty to go back to the default. Every function applies a change within a minute.",
    ),
    (
        "no_settings",
        "ショップ別の設定はまだありません（すべて既定値）。",
        "No shop has settings of its own yet (all defaults).",
    ),
    ("open_shop", "ショップの設定を開く", "Open a shop's settings"),
    ("shop_id", "ショップID", "Shop id"),
    ("open", "開く", "Open"),
    ("default", "既定値", "Default"),
    ("save", "保存", "Save"),
    ("saved", "保存しました。", "Saved."),
    ("updated", "最終変更", "Last changed"),
    (
        "set_name",
        "ショップ名（メール・ページに表示）",
        "Shop name (in mails and pages)",
    ),
    (
        "set_contact_email",
        "お問い合わせ先メールアドレス",
        "Contact mail address",
    ),
    ("set_contact_phone", "お問い合わせ先電話番号", "Contact phone"),
    ("set_staff_email", "スタッフへの通知先", "Where staff alerts go"),
    ("set_language", "言語（ja / en）", "Language (ja / en)"),
    (
        "set_window_hours",
        "重複とみなす間隔（時間）",
        "Duplicate window (hours)",
    ),
    (
        "set_answer_hours",
        "回答期限までの時間（時間）",
        "Time to answer (hours)",
    ),
    (
        "set_shipping_cutoff",
        "発送締め切り（日本時間 HH:MM）",
        "Shipping cut-off (JST, HH:MM)",
    ),
    (
        "set_quiet_hours",
        "キャリアメールに送らない時間帯（HH:MM-HH:MM / off）",
        "No mail to carrier addresses (HH:MM-HH:MM / off)",
    ),
    (
        "set_amazon_auto_cancel",
        "Amazon: 回答がなければ自動でキャンセル（on / off）",
        "Amazon: cancel unanswered holds automatically (on / off)",
    ),
    (
        "set_bundle",
        "同梱（off / all / 同梱するモール: rakuten,yahoo,…）",
        "Bundling (off / all / malls packed together: rakuten,yahoo,…)",
    ),
];

fn words(lang: Language) -> BTreeMap<&'static str, &'static str> {
    WORDS
        .iter()
        .map(|(k, ja, en)| (*k, if lang == Language::Ja { *ja } else { *en }))
        .collect()
}

/// The outcomes a page may announce after a form (`?done=…`); anything else is ignored.
pub(crate) fn is_known_done(done: &str) -> bool {
    matches!(
        done,
        "settled" | "already" | "noted" | "blacklisted" | "already_blacklisted" | "removed"
    )
}

/// One page's frame: language, shop, and the signed-in staff member with their form token.
pub(crate) struct Page {
    lang: Language,
    shop: String,
    staff: Option<(String, String)>,
}

impl Page {
    pub fn new(lang: Language, shop: &str, staff: Option<(String, String)>) -> Self {
        Self {
            lang,
            shop: shop.to_owned(),
            staff,
        }
    }

    pub fn html(&self, template: &str, values: minijinja::Value) -> Result<String, ConsoleError> {
        let frame = minijinja::context! {
            lang => if self.lang == Language::Ja { "ja" } else { "en" },
            t => words(self.lang),
            shop => self.shop,
            staff => self.staff.as_ref().map(|(s, _)| s),
            form_token => self.staff.as_ref().map(|(_, t)| t),
        };
        TEMPLATES
            .get_template(template)
            .and_then(|t| t.render(minijinja::context! { ..frame, ..values }))
            .map_err(|e| ConsoleError::Internal(format!("rendering {template}: {e:#}")))
    }

    pub fn render(&self, template: &str, values: minijinja::Value) -> Result<Response, ConsoleError> {
        Ok(Html(self.html(template, values)?).into_response())
    }
}

/// The page of an error: plain, in both languages (an error may come before we know anything).
pub(crate) fn error_page(status: StatusCode, message: &str, detail: &str) -> String {
    TEMPLATES
        .get_template("error.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                status => status.as_u16(),
                message,
                detail,
            })
        })
        .unwrap_or_else(|_| format!("{status}"))
}

/// The path of a shop's settings page.
pub(crate) fn settings_path(mall: Mall, shop: &ShopId) -> String {
    format!("/console/settings/{mall}/{}", encode(shop.as_str()))
}

/// The malls a shop can be of, for the form that opens a shop's settings.
pub(crate) fn malls(lang: Language) -> Vec<BTreeMap<&'static str, &'static str>> {
    [Mall::Rakuten, Mall::Yahoo, Mall::Amazon, Mall::Shopify, Mall::Own]
        .into_iter()
        .map(|m| BTreeMap::from([("code", m.as_str()), ("name", m.display_name(lang))]))
        .collect()
}

/// What a refused setting says, in both languages (the key is the field's name on the page).
pub(crate) fn setting_refusal(err: &SettingError) -> String {
    format!("設定値を確認してください / Please check the value: {err}")
}

#[derive(Debug, Serialize)]
pub(crate) struct ShopRow {
    mall: &'static str,
    shop: String,
    path: String,
    name: Option<String>,
    updated_by: String,
    updated_at: String,
}

impl ShopRow {
    pub fn of(s: &ShopSettings, lang: Language) -> Self {
        Self {
            mall: s.mall.display_name(lang),
            shop: s.shop.to_string(),
            path: settings_path(s.mall, &s.shop),
            name: s.name.clone(),
            updated_by: s.updated_by.clone(),
            updated_at: format_jst(s.updated_at, lang),
        }
    }
}

#[derive(Debug, Serialize)]
struct Field {
    key: &'static str,
    value: String,
    default: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SettingsView {
    mall: &'static str,
    shop: String,
    path: String,
    version: u64,
    fields: Vec<Field>,
    updated_by: Option<String>,
    updated_at: Option<String>,
}

impl SettingsView {
    pub fn of(current: &ShopSettings, base: &Settings, lang: Language) -> Self {
        let defaults = ShopSettings::defaults(base, current.mall, current.shop.clone());
        Self {
            mall: current.mall.display_name(lang),
            shop: current.shop.to_string(),
            path: settings_path(current.mall, &current.shop),
            version: current.version,
            fields: KEYS
                .iter()
                .map(|key| Field {
                    key,
                    value: current.get(key).unwrap_or_default(),
                    default: defaults.get(key).unwrap_or_default(),
                })
                .collect(),
            updated_by: (current.version > 0).then(|| current.updated_by.clone()),
            updated_at: (current.version > 0).then(|| format_jst(current.updated_at, lang)),
        }
    }
}

/// The path of an order's page.
fn order_path(order: &OrderRef) -> String {
    format!(
        "/console/orders/{}/{}/{}",
        order.mall,
        encode(order.shop.as_str()),
        encode(order.order_id.as_str())
    )
}

/// Percent-encodes what is not unreserved in a path segment.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A file name's part made of safe characters only.
pub(crate) fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect()
}

/// "3時間12分" / "3 h 12 min" left until `deadline`; None once it has passed.
fn time_left(deadline: Timestamp, now: Timestamp, lang: Language) -> Option<String> {
    let left = deadline.duration_since(now);
    if left.is_negative() || left.is_zero() {
        return None;
    }
    let minutes = left.as_secs() / 60;
    let (d, h, m) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    Some(match (lang, d) {
        (Language::Ja, 0) => format!("{h}時間{m}分"),
        (Language::Ja, _) => format!("{d}日{h}時間"),
        (Language::En, 0) => format!("{h} h {m} min"),
        (Language::En, _) => format!("{d} d {h} h"),
    })
}

/// Whether a hold is what the staff searched for: its id, either order's number or id, or a shop.
pub(crate) fn hold_matches(hold: &Hold, search: &str) -> bool {
    let needle = search.trim_start_matches('#').to_lowercase();
    [
        hold.id.as_str(),
        hold.held_number(),
        hold.original_number(),
        hold.order.order_id.as_str(),
        hold.original.order_id.as_str(),
        hold.order.shop.as_str(),
        hold.original.shop.as_str(),
    ]
    .iter()
    .any(|s| s.trim_start_matches('#').to_lowercase().contains(&needle))
}

#[derive(Debug, Serialize)]
pub(crate) struct HoldRow {
    id: String,
    path: String,
    state: &'static str,
    open: bool,
    urgent: bool,
    blacklisted: bool,
    awaiting_staff: bool,
    /// The buyer's notice did not arrive: the staff phone the buyer.
    phone_task: bool,
    deadline: String,
    time_left: Option<String>,
    held_mall: &'static str,
    held_number: String,
    original_mall: &'static str,
    original_number: String,
    shop: String,
    settled_by: Option<String>,
}

impl HoldRow {
    pub fn of(hold: &Hold, now: Timestamp, lang: Language) -> Self {
        let open = hold.state == HoldState::Held;
        Self {
            id: hold.id.to_string(),
            path: format!("/console/holds/{}", hold.id),
            state: hold.state.staff_label(lang),
            open,
            urgent: open && hold.urgent,
            blacklisted: hold.blacklisted.is_some(),
            awaiting_staff: hold.awaiting_staff,
            phone_task: open && hold.phone_task,
            deadline: format_jst(hold.deadline, lang),
            time_left: open.then(|| time_left(hold.deadline, now, lang)).flatten(),
            held_mall: hold.order.mall.display_name(lang),
            held_number: hold.held_number().to_owned(),
            original_mall: hold.original.mall.display_name(lang),
            original_number: hold.original_number().to_owned(),
            shop: hold.order.shop.to_string(),
            settled_by: hold.resolution.as_ref().map(|r| r.by.label(lang)),
        }
    }
}

/// An order as the staff see it: the summary buyers see, and the buyer's contact details.
#[derive(Debug, Serialize)]
struct OrderCard {
    summary: OrderSummary,
    path: String,
    shop: String,
    buyer: String,
    phone: Option<String>,
    email: Option<String>,
    payment: String,
}

impl OrderCard {
    fn of(stored: &StoredOrder, lang: Language) -> Self {
        let order = &stored.order;
        Self {
            summary: OrderSummary::of(order, lang),
            path: order_path(&order.order_ref),
            shop: order.order_ref.shop.to_string(),
            buyer: order.buyer.name.clone(),
            phone: order.buyer.phone.clone(),
            email: order.buyer.email.as_ref().map(|e| e.as_str().to_owned()),
            payment: format!("{:?}", order.payment),
        }
    }
}

#[derive(Debug, Serialize)]
struct NoticeRow {
    kind: &'static str,
    state: &'static str,
    /// What the mail service last reported about it (delivered, bounced, …), when it did.
    delivery: Option<&'static str>,
    attempts: u32,
    to: String,
    message_id: Option<String>,
    last_error: Option<String>,
    /// The mail exactly as written: what staff read back to the buyer.
    subject: String,
    text: String,
    digest: String,
    /// Whether the kept text matches the digest the timeline recorded.
    check: &'static str,
}

impl NoticeRow {
    fn of(
        n: &mallguard_domain::notice::Notice,
        history: &[mallguard_domain::history::HistoryEntry],
        lang: Language,
    ) -> Self {
        let recorded = recorded_digest(history, &n.id);
        let digest = n.mail.digest();
        let ja = lang == Language::Ja;
        Self {
            kind: kind_label(n.kind, lang),
            state: notice_state(n.state, lang),
            delivery: history.iter().rev().find_map(|h| match &h.event {
                Event::MailReported {
                    message_id, outcome, ..
                } if Some(message_id) == n.message_id.as_ref() => Some(outcome.label(lang)),
                _ => None,
            }),
            attempts: n.attempts,
            to: n.mail.to.as_str().to_owned(),
            message_id: n.message_id.clone(),
            last_error: n.last_error.clone(),
            subject: n.mail.subject.clone(),
            text: n.mail.text.clone(),
            check: match recorded {
                Some(r) if r == digest => {
                    if ja {
                        "経過の記録と一致"
                    } else {
                        "matches the timeline's record"
                    }
                }
                Some(_) => {
                    if ja {
                        "経過の記録と不一致"
                    } else {
                        "does NOT match the timeline's record"
                    }
                }
                None => {
                    if ja {
                        "記録なし"
                    } else {
                        "not recorded"
                    }
                }
            },
            digest,
        }
    }
}

/// A page the buyer was shown, as staff read it back: its visible text, with the digest checked.
#[derive(Debug, Serialize)]
struct PageRow {
    shown_at: String,
    lang: &'static str,
    template: String,
    digest: String,
    /// Whether the kept HTML still matches the digest recorded when it was shown.
    check: &'static str,
    text: String,
}

impl PageRow {
    fn of(page: &mallguard_domain::history::KeptPage, lang: Language) -> Self {
        let ja = lang == Language::Ja;
        Self {
            shown_at: format_jst_seconds(page.shown_at, lang),
            lang: match page.shown.lang {
                Language::Ja => "日本語",
                Language::En => "English",
            },
            template: page.shown.template.clone(),
            digest: page.shown.digest.clone(),
            check: match (page.matches(), ja) {
                (true, true) => "経過の記録と一致",
                (true, false) => "matches the timeline's record",
                (false, true) => "経過の記録と不一致",
                (false, false) => "does NOT match the timeline's record",
            },
            text: page.visible_text(),
        }
    }
}

/// The digest the timeline recorded for a mail when it was sent, else when it was written.
fn recorded_digest<'a>(
    history: &'a [mallguard_domain::history::HistoryEntry],
    notice: &mallguard_domain::notice::NoticeId,
) -> Option<&'a str> {
    let mut queued = None;
    for h in history {
        match &h.event {
            Event::NoticeSent {
                notice: id,
                digest: Some(d),
                ..
            } if id == notice => return Some(d),
            Event::NoticeQueued {
                notice: id,
                digest: Some(d),
                ..
            } if id == notice => queued = Some(d.as_str()),
            _ => {}
        }
    }
    queued
}

#[derive(Debug, Serialize)]
struct ActionRow {
    kind: &'static str,
    state: &'static str,
    attempts: u32,
    reference: Option<String>,
    last_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Line {
    at: String,
    what: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct HoldView {
    row: HoldRow,
    held: OrderCard,
    original: OrderCard,
    same_order: bool,
    shared_keys: Vec<&'static str>,
    shared_products: Vec<String>,
    risks: Vec<&'static str>,
    phone_allowed: bool,
    amazon_case: Option<String>,
    notices: Vec<NoticeRow>,
    /// The pages the buyer was shown, as shown.
    pages: Vec<PageRow>,
    actions: Vec<ActionRow>,
    history: Vec<Line>,
    /// The customer's other open orders to the same recipient.
    related: Vec<OrderCard>,
    /// 同梱候補: the orders that ship together under the shop's bundling.
    bundle_candidates: Vec<OrderCard>,
    /// The path the blacklist form of the held order posts to.
    blacklist_path: String,
}

fn notice_state(state: NoticeState, lang: Language) -> &'static str {
    match (state, lang) {
        (NoticeState::Pending, Language::Ja) => "送信待ち",
        (NoticeState::Pending, Language::En) => "pending",
        (NoticeState::Sent, Language::Ja) => "送信済み",
        (NoticeState::Sent, Language::En) => "sent",
        (NoticeState::Failed, Language::Ja) => "送信できず（スタッフ対応）",
        (NoticeState::Failed, Language::En) => "failed (left to the staff)",
        (NoticeState::Withdrawn, Language::Ja) => "送らず（保留は解決済み）",
        (NoticeState::Withdrawn, Language::En) => "not sent (the hold was settled)",
    }
}

fn action_state(state: ActionState, lang: Language) -> &'static str {
    match (state, lang) {
        (ActionState::Pending, Language::Ja) => "実行待ち（再試行中）",
        (ActionState::Pending, Language::En) => "pending (retried)",
        (ActionState::Done, Language::Ja) => "完了",
        (ActionState::Done, Language::En) => "done",
        (ActionState::Refused, Language::Ja) => "モールが拒否",
        (ActionState::Refused, Language::En) => "refused by the mall",
        (ActionState::Dropped, Language::Ja) => "不要になったため中止",
        (ActionState::Dropped, Language::En) => "no longer needed",
    }
}

impl HoldView {
    pub fn of(detail: &HoldDetail, now: Timestamp, lang: Language) -> Self {
        let hold = &detail.hold;
        Self {
            row: HoldRow::of(hold, now, lang),
            held: OrderCard::of(&detail.held, lang),
            original: OrderCard::of(&detail.original, lang),
            same_order: hold.order == hold.original,
            shared_keys: hold.shared_keys.iter().map(|k| key_label(*k, lang)).collect(),
            shared_products: hold.shared_products.iter().map(|p| p.as_str().to_owned()).collect(),
            risks: hold.risks.iter().map(|r| r.label(lang)).collect(),
            phone_allowed: hold.contact.phone_allowed,
            amazon_case: hold.amazon_fallback_case.clone(),
            notices: detail
                .notices
                .iter()
                .map(|n| NoticeRow::of(n, &detail.history, lang))
                .collect(),
            pages: detail.pages.iter().map(|p| PageRow::of(p, lang)).collect(),
            related: detail.related.iter().map(|r| OrderCard::of(r, lang)).collect(),
            bundle_candidates: {
                let all: Vec<&StoredOrder> = [&detail.original, &detail.held]
                    .into_iter()
                    .chain(&detail.related)
                    .collect();
                detail
                    .bundle_candidates
                    .iter()
                    .filter_map(|r| all.iter().find(|o| &o.order.order_ref == r))
                    .map(|o| OrderCard::of(o, lang))
                    .collect()
            },
            actions: detail
                .actions
                .iter()
                .map(|a| ActionRow {
                    kind: action_label(a.kind, lang),
                    state: action_state(a.state, lang),
                    attempts: a.attempts,
                    reference: a.reference.clone(),
                    last_error: a.last_error.clone(),
                })
                .collect(),
            history: detail
                .history
                .iter()
                .map(|h| Line {
                    at: format_jst_seconds(h.at, lang),
                    what: h.what(lang),
                })
                .collect(),
            blacklist_path: format!("{}/blacklist", order_path(&hold.order)),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct OrderView {
    card: OrderCard,
    mall: &'static str,
    number: String,
    hold: Option<String>,
    history: Vec<Line>,
    /// Every mail of the order, text exactly as written, beside the timeline.
    mails: Vec<NoticeRow>,
    /// Every page the buyer was shown for the order's hold, as shown.
    pages: Vec<PageRow>,
    csv_path: String,
    blacklist_path: String,
}

impl OrderView {
    pub fn of(evidence: &Evidence, lang: Language) -> Self {
        let order = &evidence.order.order;
        let path = order_path(&order.order_ref);
        Self {
            card: OrderCard::of(&evidence.order, lang),
            mall: order.order_ref.mall.display_name(lang),
            number: order.number().to_owned(),
            hold: evidence.hold.as_ref().map(|h| h.id.to_string()),
            history: evidence
                .history
                .iter()
                .map(|h| Line {
                    at: format_jst_seconds(h.at, lang),
                    what: h.what(lang),
                })
                .collect(),
            mails: evidence
                .mails
                .iter()
                .map(|n| NoticeRow::of(n, &evidence.history, lang))
                .collect(),
            pages: evidence.pages.iter().map(|p| PageRow::of(p, lang)).collect(),
            csv_path: format!("{path}/timeline.csv"),
            blacklist_path: format!("{path}/blacklist"),
        }
    }
}

/// The timeline as CSV for a mall or a buyer: a byte-order mark (so that Excel reads it as UTF-8, as
/// shops open it), a header, one row per event, every field quoted.
pub(crate) fn timeline_csv(evidence: &Evidence, lang: Language) -> String {
    let order = &evidence.order.order;
    let (time, event, mall, number) = match lang {
        Language::Ja => ("日時（日本時間）", "出来事", "モール", "注文番号"),
        Language::En => ("time (JST)", "event", "mall", "order number"),
    };
    let quote = |s: &str| format!("\"{}\"", neutralise(s).replace('"', "\"\""));
    let mut csv = String::from("\u{feff}");
    csv.push_str(&[time, event, mall, number].map(quote).join(","));
    csv.push_str("\r\n");
    for h in &evidence.history {
        let row = [
            format_jst_seconds(h.at, lang),
            h.what(lang),
            order.order_ref.mall.display_name(lang).to_owned(),
            order.number().to_owned(),
        ];
        csv.push_str(&row.iter().map(|s| quote(s)).collect::<Vec<_>>().join(","));
        csv.push_str("\r\n");
    }
    csv
}

/// A field a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) gets a leading `'`: a
/// buyer's name must never run as one on the shop's computer.
fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct BlacklistRow {
    id: String,
    order: String,
    order_path: String,
    reason: String,
    added_by: String,
    added_at: String,
    remove_path: String,
}

impl BlacklistRow {
    pub fn of(entry: &BlacklistEntry, lang: Language) -> Self {
        let number = entry.number.clone().unwrap_or_else(|| entry.order.order_id.to_string());
        Self {
            id: entry.id.to_string(),
            order: format!("{} {number}", entry.order.mall.display_name(lang)),
            order_path: order_path(&entry.order),
            reason: entry.reason.clone(),
            added_by: entry.added_by.clone(),
            added_at: format_jst(entry.added_at, lang),
            remove_path: format!("/console/blacklist/{}/remove", entry.id),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct QuarantineRow {
    id: String,
    source: String,
    received_at: String,
    error: String,
    replayed_at: Option<String>,
    /// The start of the payload, as text, for a first look at what is wrong.
    preview: String,
}

impl QuarantineRow {
    pub fn of(q: &Quarantined, lang: Language) -> Self {
        let preview: String = String::from_utf8_lossy(&q.raw[..q.raw.len().min(600)]).into_owned();
        Self {
            id: q.id.clone(),
            source: q.source.clone(),
            received_at: format_jst_seconds(q.received_at, lang),
            error: q.error.clone(),
            replayed_at: q.replayed_at.map(|t| format_jst_seconds(t, lang)),
            preview,
        }
    }
}

pub(crate) fn replay_result(replayed: &Replayed, lang: Language) -> BTreeMap<&'static str, String> {
    let ja = lang == Language::Ja;
    let outcome = match &replayed.outcome {
        ReplayOutcome::Ingested(IngestOutcome::Held { hold, .. }) => {
            if ja {
                format!("取り込み、重複の疑いで保留（{hold}）")
            } else {
                format!("ingested and held as a suspected duplicate ({hold})")
            }
        }
        ReplayOutcome::Ingested(_) => if ja { "取り込み済み" } else { "ingested" }.to_owned(),
        ReplayOutcome::Ignored(topic) => {
            if ja {
                format!("処理不要の通知（{topic}）")
            } else {
                format!("a topic that needs nothing ({topic})")
            }
        }
        ReplayOutcome::StillInvalid(error) => {
            if ja {
                format!("まだ解析できません: {error}")
            } else {
                format!("still cannot be parsed: {error}")
            }
        }
        ReplayOutcome::NotIngested(error) => {
            if ja {
                format!("解析はできましたが、まだ記録できません: {error}")
            } else {
                format!("parsed, but still cannot be recorded: {error}")
            }
        }
    };
    BTreeMap::from([("id", replayed.id.clone()), ("outcome", outcome)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_both_languages_and_no_key_twice() {
        let mut keys: Vec<&str> = WORDS.iter().map(|(k, _, _)| *k).collect();
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a key twice");
        assert!(WORDS.iter().all(|(_, ja, en)| !ja.is_empty() && !en.is_empty()));
    }

    #[test]
    fn a_field_that_a_spreadsheet_would_run_is_neutralised() {
        assert_eq!(neutralise("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(neutralise("-1"), "'-1");
        assert_eq!(neutralise("山田"), "山田");
    }

    #[test]
    fn time_left_reads_in_hours_then_days() {
        let now: Timestamp = "2026-11-29T00:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            time_left(at("2026-11-29T03:12:30Z"), now, Language::Ja).unwrap(),
            "3時間12分"
        );
        assert_eq!(
            time_left(at("2026-12-01T05:00:00Z"), now, Language::En).unwrap(),
            "2 d 5 h"
        );
        assert_eq!(time_left(at("2026-11-28T00:00:00Z"), now, Language::Ja), None);
    }
}
