//! The HTML pages: templates compiled into the binary, rendered in the page's language.
//!
//! Auto-escaping is on for every `.html` template: names, addresses and item titles come from what a
//! buyer typed at the mall, so nothing reaches the page unescaped.

use std::sync::{Arc, LazyLock};

use mallguard_domain::Language;
use mallguard_domain::action::ActionState;
use mallguard_domain::hold::{HoldState, Resolver};
use mallguard_domain::notice::template_environment;
use mallguard_domain::notice::{ArrivalView, OrderSummary};
use mallguard_domain::order::Order;
use mallguard_domain::policy::{ShopProfile, format_jst};
use mallguard_domain::service::HoldPage;
use mallguard_domain::token::LinkAction;
use minijinja::{Environment, context};
use serde::Serialize;

/// The page templates compiled into this build.
const SOURCES: [(&str, &str); 9] = [
    ("base.html", include_str!("templates/base.html")),
    ("contact_ja.html", include_str!("templates/contact_ja.html")),
    ("contact_en.html", include_str!("templates/contact_en.html")),
    ("macros_ja.html", include_str!("templates/macros_ja.html")),
    ("macros_en.html", include_str!("templates/macros_en.html")),
    ("hold_ja.html", include_str!("templates/hold_ja.html")),
    ("hold_en.html", include_str!("templates/hold_en.html")),
    ("error_ja.html", include_str!("templates/error_ja.html")),
    ("error_en.html", include_str!("templates/error_en.html")),
];

/// Built once per process: parsing the templates on every request would be wasted work.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| template_environment(&SOURCES));

/// The version of the page templates, as the evidence names it beside each page shown: the first 16 hex
/// digits of a SHA-256 over their sources.
pub fn template_version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut all = Vec::new();
        for (name, source) in SOURCES {
            all.extend_from_slice(name.as_bytes());
            all.push(0);
            all.extend_from_slice(&(source.len() as u64).to_be_bytes());
            all.extend_from_slice(source.as_bytes());
        }
        mallguard_domain::service::sha256_hex(&all)[..16].to_owned()
    });
    &VERSION
}

/// The language of one page and how to reach the shop: what every page, error pages too, needs.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    pub shop: Arc<ShopProfile>,
    pub lang: Language,
    /// The language was asked for with `?lang=`: the buttons keep it, so the answer page matches.
    pub explicit_lang: bool,
}

impl Chrome {
    fn lang_code(&self) -> &'static str {
        match self.lang {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }

    fn shop_view(&self) -> ShopView<'_> {
        ShopView {
            name: &self.shop.name,
            contact_email: self.shop.contact_email.to_string(),
            contact_phone: self.shop.contact_phone.as_deref(),
        }
    }

    /// The URL of one link's page, and where its button posts to: the token alone scopes the action.
    /// A language asked for with `?lang=` is kept, so the next page matches.
    ///
    /// The domain signs tokens from URL-safe characters only; anything else (a token typed by hand,
    /// which will not verify anyway) is percent-encoded, so the URL is safe in a `Location` header and
    /// in an HTML attribute as it is (`/h/…`, not `&#x2f;h&#x2f;…`).
    pub fn link(&self, token: &str) -> String {
        let mut url = String::with_capacity(token.len() + 12);
        url.push_str("/h/");
        for b in token.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
        if self.explicit_lang {
            url.push_str("?lang=");
            url.push_str(self.lang_code());
        }
        url
    }

    fn action_url(&self, token: &str) -> minijinja::Value {
        // Only `A-Z a-z 0-9 . - _ ~ % / ? =`: nothing HTML would read as markup.
        minijinja::Value::from_safe_string(self.link(token))
    }

    fn render(&self, page: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
        let name = format!("{page}_{}.html", self.lang_code());
        let common = context! {
            lang => self.lang_code(),
            shop => self.shop_view(),
        };
        TEMPLATES.get_template(&name)?.render(context! { ..ctx, ..common })
    }

    /// An error page of one `kind` (`invalid`, `not_found`, `busy`, `internal`).
    pub fn error_page(&self, kind: &str) -> Result<String, minijinja::Error> {
        self.render("error", context! { kind => kind })
    }

    /// The page behind a link. It reads only the hold as it stands, so the page after a press (reached
    /// by a redirect) and a later look at the link show the same thing.
    pub fn hold_page(&self, page: &HoldPage) -> Result<String, minijinja::Error> {
        let lang = self.lang;
        let hold = &page.hold;
        let resolution = hold.resolution.as_ref();
        let view = HoldView {
            state: hold.state.as_str(),
            state_label: match (page.mall_cancel, lang) {
                _ if page.cancel_by_hand => HoldState::cancel_in_progress_label(lang),
                (Some(ActionState::Pending), _) => HoldState::cancel_in_progress_label(lang),
                (Some(ActionState::Refused), mallguard_domain::Language::Ja) => {
                    "キャンセルの手続きについて、ショップからご連絡いたします"
                }
                (Some(ActionState::Refused), mallguard_domain::Language::En) => {
                    "the shop will contact you about the cancellation"
                }
                _ => hold.state.label(lang),
            },
            deadline: format_jst(hold.deadline, lang),
            held: OrderSummary::of(&page.held, lang),
            // The buyer of the held order may not be the earlier order's: show it only as far as it is theirs.
            original: OrderSummary::of_other(&page.original, &page.held, lang),
            resolved_at: resolution.map(|r| format_jst(r.at, lang)),
            mall_cancel: page.mall_cancel.map(|state| state.as_str()),
            cancel_by_hand: page.cancel_by_hand,
            related: page
                .related
                .iter()
                .map(|o| OrderSummary::of_other(o, &page.held, lang))
                .collect(),
            all_items: {
                let everything: Vec<&Order> = [&page.original, &page.held].into_iter().chain(&page.related).collect();
                mallguard_domain::bundle::items_line(&everything, &page.products, lang)
            },
            // Once settled, what arrives: the earlier order, the held one unless cancelled, the related ones.
            arrival: match hold.state {
                HoldState::Confirmed | HoldState::Released | HoldState::Cancelled => {
                    let held = (hold.state != HoldState::Cancelled).then_some(&page.held);
                    let arriving = mallguard_domain::bundle::remaining(&page.original, held, &page.related);
                    Some(ArrivalView::of(&page.held, &arriving, &page.group(), lang))
                }
                _ => None,
            },
            resolved_by: resolution.map(|r| match r.by {
                Resolver::Buyer => "buyer",
                Resolver::Staff { .. } => "staff",
                Resolver::Deadline => "deadline",
                Resolver::Mall => "mall",
            }),
        };
        // Buttons only while this link can still answer the hold; the domain decides that.
        let forms = match (&page.confirm_token, &page.cancel_token) {
            (Some(confirm), Some(cancel)) if !page.expired => Some(Forms {
                confirm: self.action_url(confirm),
                cancel: self.action_url(cancel),
                primary: match page.action {
                    LinkAction::Confirm => "confirm",
                    LinkAction::Cancel => "cancel",
                },
            }),
            _ => None,
        };
        self.render(
            "hold",
            context! {
                situation => Situation::of(page).as_str(),
                page => view,
                forms => forms,
            },
        )
    }
}

/// What the page behind a link says, from the hold as it stands. A GET cannot know whether the press
/// that led to it settled the hold, but the hold tells who settled it and how: when the buyer did, in
/// the way this link asks, this link's answer is the one that counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Situation {
    /// The hold waits for an answer: both orders and the two buttons.
    Open,
    /// The buyer settled it as this link asks (this press, or an earlier one of the same kind).
    Answered,
    /// Settled otherwise: the buyer's other answer, the shop, the mall or the deadline came first.
    Settled,
    /// The link is past its expiry: the outcome so far, no buttons.
    Expired,
}

impl Situation {
    fn of(page: &HoldPage) -> Self {
        let hold = &page.hold;
        if page.expired {
            return Situation::Expired;
        }
        let by_buyer = hold.resolution.as_ref().is_some_and(|r| r.by == Resolver::Buyer);
        let as_asked = matches!(
            (page.action, hold.state),
            (LinkAction::Confirm, HoldState::Confirmed) | (LinkAction::Cancel, HoldState::Cancelled)
        );
        match hold.state {
            HoldState::Held => Situation::Open,
            _ if by_buyer && as_asked => Situation::Answered,
            _ => Situation::Settled,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Situation::Open => "open",
            Situation::Answered => "answered",
            Situation::Settled => "settled",
            Situation::Expired => "expired",
        }
    }
}

/// The shop as pages show it: no staff address or internal URL reaches a template.
#[derive(Serialize)]
struct ShopView<'a> {
    name: &'a str,
    contact_email: String,
    contact_phone: Option<&'a str>,
}

#[derive(Serialize)]
struct HoldView {
    state: &'static str,
    state_label: &'static str,
    deadline: String,
    held: OrderSummary,
    original: OrderSummary,
    resolved_at: Option<String>,
    resolved_by: Option<&'static str>,
    /// `pending`, `done` or `refused`: the cancellation at the mall, when mallguard does it.
    mall_cancel: Option<&'static str>,
    /// Cancelled, but the staff cancel it at the mall by hand: in progress until they have.
    cancel_by_hand: bool,
    /// The buyer's other open orders to the same recipient, shown as the earlier order is.
    related: Vec<OrderSummary>,
    /// Everything ordered, added up: 「A × 2、B × 1」.
    all_items: String,
    /// What arrives, in how many parcels, once the hold is settled.
    arrival: Option<ArrivalView>,
}

#[derive(Serialize)]
struct Forms {
    confirm: minijinja::Value,
    cancel: minijinja::Value,
    primary: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_keeps_an_asked_language_and_percent_encodes_what_is_not_url_safe() {
        let mut chrome = Chrome {
            shop: Arc::new(mallguard_domain::testing::shop()),
            lang: Language::En,
            explicit_lang: false,
        };
        assert_eq!(chrome.link("h1.x.2.Ab-_c"), "/h/h1.x.2.Ab-_c");
        chrome.explicit_lang = true;
        assert_eq!(chrome.link("h1.x.2.Ab-_c"), "/h/h1.x.2.Ab-_c?lang=en");
        assert_eq!(chrome.link("a\"<b/ é?"), "/h/a%22%3Cb%2F%20%C3%A9%3F?lang=en");
    }

    #[test]
    fn a_cancellation_still_in_progress_at_the_mall_is_said_so_on_the_page() {
        use mallguard_domain::hold::{Decision, Resolver};
        use mallguard_domain::testing::{hold_for, order, order_at};
        let (held, original) = (order_at("1002", "2026-11-23T03:05:00Z"), order("1001"));
        let at = "2026-11-23T04:00:00Z".parse().unwrap();
        let hold = hold_for(&held, &original)
            .settle(Decision::Cancel, Resolver::Buyer, at)
            .unwrap();
        let page = |mall_cancel| HoldPage {
            shop: mallguard_domain::testing::shop(),
            hold: hold.clone(),
            held: held.clone(),
            original: original.clone(),
            action: LinkAction::Cancel,
            confirm_token: None,
            cancel_token: None,
            expired: false,
            mall_cancel,
            cancel_by_hand: false,
            related: vec![],
            bundling: Default::default(),
            products: Default::default(),
        };
        let chrome = Chrome {
            shop: Arc::new(mallguard_domain::testing::shop()),
            lang: Language::Ja,
            explicit_lang: false,
        };
        let pending = chrome.hold_page(&page(Some(ActionState::Pending))).unwrap();
        assert!(pending.contains("キャンセルの手続きを進めております"), "{pending}");
        assert!(!pending.contains("キャンセルされました"), "{pending}");
        let done = chrome.hold_page(&page(Some(ActionState::Done))).unwrap();
        assert!(done.contains("キャンセルされました"), "{done}");
        let refused = chrome.hold_page(&page(Some(ActionState::Refused))).unwrap();
        assert!(refused.contains("ショップからご連絡いたします"), "{refused}");
        let by_hand = chrome
            .hold_page(&HoldPage {
                cancel_by_hand: true,
                ..page(None)
            })
            .unwrap();
        assert!(by_hand.contains("キャンセルの手続きを進めております"), "{by_hand}");
        assert!(by_hand.contains("キャンセル手続き中"), "{by_hand}");
        assert!(!by_hand.contains("キャンセルされました"), "{by_hand}");
        assert!(!by_hand.contains("キャンセル済み"), "{by_hand}");
    }

    #[test]
    fn every_error_page_renders_in_both_languages() {
        for lang in [Language::Ja, Language::En] {
            let chrome = Chrome {
                shop: Arc::new(mallguard_domain::testing::shop()),
                lang,
                explicit_lang: false,
            };
            for kind in ["invalid", "not_found", "busy", "internal"] {
                let html = chrome.error_page(kind).unwrap();
                assert!(html.contains("support@tanaka-shop.example"), "{kind}: {html}");
                assert!(html.contains("<meta name=\"viewport\""));
                let code = if lang == Language::Ja { "ja" } else { "en" };
                assert!(html.contains(&format!("<html lang=\"{code}\">")));
            }
        }
    }
}
