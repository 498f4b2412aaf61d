//! The HTML pages: templates compiled into the binary, rendered in the page's language.
//!
//! Auto-escaping is on for every `.html` template: names, addresses and item titles come from what a
//! buyer typed at the mall, so nothing reaches the page unescaped.

use std::sync::{Arc, LazyLock};

use mallguard_domain::Language;
use mallguard_domain::hold::Resolver;
use mallguard_domain::notice::OrderSummary;
use mallguard_domain::notice::template_environment;
use mallguard_domain::policy::{ShopProfile, format_jst};
use mallguard_domain::service::HoldPage;
use mallguard_domain::token::LinkAction;
use minijinja::{Environment, context};
use serde::Serialize;

/// Built once per process: parsing the templates on every request would be wasted work.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    template_environment(&[
        ("base.html", include_str!("templates/base.html")),
        ("contact_ja.html", include_str!("templates/contact_ja.html")),
        ("contact_en.html", include_str!("templates/contact_en.html")),
        ("macros_ja.html", include_str!("templates/macros_ja.html")),
        ("macros_en.html", include_str!("templates/macros_en.html")),
        ("hold_ja.html", include_str!("templates/hold_ja.html")),
        ("hold_en.html", include_str!("templates/hold_en.html")),
        ("error_ja.html", include_str!("templates/error_ja.html")),
        ("error_en.html", include_str!("templates/error_en.html")),
    ])
});

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

    /// Where a button posts to: the token alone scopes the action.
    ///
    /// The domain signs these tokens from URL-safe characters only; checked here so the URL can go into
    /// the attribute verbatim (`/h/…`, not `&#x2f;h&#x2f;…`). Anything else would be escaped as usual.
    fn action_url(&self, token: &str) -> minijinja::Value {
        let url = if self.explicit_lang {
            format!("/h/{token}?lang={}", self.lang_code())
        } else {
            format!("/h/{token}")
        };
        let url_safe = token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if url_safe {
            minijinja::Value::from_safe_string(url)
        } else {
            minijinja::Value::from(url)
        }
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

    /// The hold page in one situation.
    pub fn hold_page(&self, page: &HoldPage, situation: Situation) -> Result<String, minijinja::Error> {
        let lang = self.lang;
        let hold = &page.hold;
        let resolution = hold.resolution.as_ref();
        let view = HoldView {
            state: hold.state.as_str(),
            state_label: hold.state.label(lang),
            deadline: format_jst(hold.deadline, lang),
            held: OrderSummary::of(&page.held, lang),
            original: OrderSummary::of(&page.original, lang),
            resolved_at: resolution.map(|r| format_jst(r.at, lang)),
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
                situation => situation.as_str(),
                page => view,
                forms => forms,
            },
        )
    }
}

/// Why the hold page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Situation {
    /// The link was opened (GET).
    View,
    /// This press settled the hold.
    Done,
    /// Somebody settled it first (a double click, the staff, the deadline).
    AlreadySettled,
    /// The link is past its expiry.
    Expired,
}

impl Situation {
    fn as_str(self) -> &'static str {
        match self {
            Situation::View => "view",
            Situation::Done => "done",
            Situation::AlreadySettled => "already",
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
            }
        }
    }
}
