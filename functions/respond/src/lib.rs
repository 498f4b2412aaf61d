//! The respond function: the buyer's confirm-or-cancel page behind the links of a notice.
//!
//! - `GET /h/{token}` shows both orders and, while the hold is open, two buttons; once it is settled, the
//!   outcome (answered by this link, settled otherwise, or the link expired). It never changes a hold:
//!   mail scanners and link previewers open links too.
//! - `POST /h/{token}` performs the one action the token is scoped to, once, then answers
//!   `303 See Other` to `GET /h/{token}` (post/redirect/get): a reload or the back button shows the
//!   outcome again instead of posting again. A second press, or a press on an expired link, performs
//!   nothing and redirects the same way. The form body is ignored.
//! - `GET /healthz` answers `ok`.
//!
//! Status codes: 200 for a page (an expired link's page too: it shows what happened), 303 after a
//! press, 404 for an invalid link or a hold that is gone, 503 with `Retry-After` when the store is
//! busy, 500 for anything else (logged).
//!
//! Pages are in the shop's language; `?lang=en` or `?lang=ja` switches one page (and the page its
//! buttons lead to), which helps support staff read what a buyer sees.

mod error;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::map_response;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use mallguard_domain::Language;
use mallguard_domain::ids::HoldId;
use mallguard_domain::policy::ShopProfile;
use mallguard_domain::service::{Answer, HoldPage, Mallguard, PageMeta};
use serde::Deserialize;

use crate::error::RespondError;
use crate::pages::Chrome;
pub use crate::pages::template_version;

/// The router of the respond function: `GET`/`POST /h/{token}` and `GET /healthz`.
///
/// Mount it at the root of the public URL the notices link to (`{public_url}/h/{token}`); the
/// buttons post to `/h/{token}`.
pub fn router(app: Mallguard) -> Router {
    let state = AppState {
        shop: Arc::new(app.settings().shop.clone()),
        app,
    };
    Router::new()
        .route("/h/{token}", get(show).post(answer))
        .route("/healthz", get(healthz))
        .layer(map_response(security_headers))
        .with_state(state)
}

#[derive(Clone)]
struct AppState {
    app: Mallguard,
    /// Copied once: every page, error pages too, names the shop and how to reach it.
    shop: Arc<ShopProfile>,
}

/// `?lang=en|ja`. Anything else (or a query that does not parse) falls back to the shop's language.
#[derive(Debug, Deserialize)]
struct PageQuery {
    lang: Option<String>,
}

impl AppState {
    fn chrome(&self, query: Result<Query<PageQuery>, QueryRejection>) -> Chrome {
        let asked = query
            .ok()
            .and_then(|Query(q)| q.lang)
            .and_then(|lang| lang.parse::<Language>().ok());
        Chrome {
            shop: self.shop.clone(),
            lang: asked.unwrap_or(self.shop.language),
            explicit_lang: asked.is_some(),
        }
    }
}

/// The hold a token claims to be about, for logs only. The token is not verified here, so only a
/// well-formed hold id is taken from it: nothing an attacker types reaches the log verbatim.
fn hold_named_by(token: &str) -> Option<HoldId> {
    token.split('.').next().and_then(|id| HoldId::parse(id).ok())
}

/// The token from the path; a path that does not even decode is an invalid link, not a 400.
fn token_of(path: Result<Path<String>, PathRejection>, chrome: &Chrome) -> Result<String, RespondError> {
    path.map(|Path(token)| token)
        .map_err(|_| RespondError::InvalidLink { chrome: chrome.clone() })
}

/// `GET /h/{token}`: shows the hold; changes nothing.
async fn show(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, RespondError> {
    let chrome = state.chrome(query);
    let token = token_of(path, &chrome)?;
    let asked = chrome.clone();
    // The page is rendered before the opening is noted, so the evidence keeps the digest of exactly what
    // the buyer was shown.
    let (page, html) = state
        .app
        .view_rendered(&token, |page| {
            let chrome = page_chrome(&asked, page);
            chrome.hold_page(page).map(|html| {
                let meta = PageMeta {
                    template: pages::template_version().to_owned(),
                    lang: chrome.lang,
                };
                (html, meta)
            })
        })
        .await
        .map_err(|err| RespondError::service(err, chrome.clone(), hold_named_by(&token)))?;
    let chrome = page_chrome(&chrome, &page);
    // An expired link still shows what happened (200): the page is there, only its buttons are gone.
    let html = html.map_err(|err| RespondError::render(err, chrome, Some(page.hold.id.clone())))?;
    Ok(Html(html).into_response())
}

/// The page's chrome: the shop the buyer ordered from, as its settings name it; the buyer's own language
/// when the mall said which and the link asks for none (else that shop's).
fn page_chrome(asked: &Chrome, page: &HoldPage) -> Chrome {
    let lang = match page.held.buyer.language {
        Some(lang) if !asked.explicit_lang => lang,
        _ if !asked.explicit_lang => page.shop.language,
        _ => asked.lang,
    };
    Chrome {
        shop: Arc::new(page.shop.clone()),
        lang,
        ..asked.clone()
    }
}

/// `POST /h/{token}`: performs the token's action, once, then sends the browser to the page of the
/// same link (`303 See Other`), which shows the hold as it now stands. Any form body is ignored: the
/// token alone scopes the action.
async fn answer(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, RespondError> {
    let chrome = state.chrome(query);
    let token = token_of(path, &chrome)?;
    let answer = state
        .app
        .answer(&token)
        .await
        .map_err(|err| RespondError::service(err, chrome.clone(), hold_named_by(&token)))?;
    // Whatever the press did, the page of the link tells it: it reads the hold's state and who settled it.
    let (hold, outcome) = match &answer {
        Answer::Done(page) => (&page.hold.id, "done"),
        // A double click, a second tab, or a hold the staff or the deadline settled first.
        Answer::AlreadySettled(page) => (&page.hold.id, "already settled"),
        Answer::Expired(page) => (&page.hold.id, "expired link"),
    };
    tracing::info!(%hold, outcome, "buyer pressed a button");
    Ok(Redirect::to(&chrome.link(&token)).into_response())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Headers on every response. The URL carries a bearer token: no caching, no referrer, no indexing;
/// the pages load nothing from elsewhere and post only to this origin.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
