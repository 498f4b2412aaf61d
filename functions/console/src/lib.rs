//! The staff's console (スタッフ用コンソール): server-rendered pages under `/console/` for the people who
//! act on holds, behind a passwordless sign-in.
//!
//! - **Sign-in.** `GET /console/sign-in` asks for an address; `POST` mails a single-use link, valid for
//!   15 minutes, to that address if it is on the staff list (the page says the same either way, so it
//!   tells a stranger nothing). The link's `GET` shows a button, its `POST` uses the link once and sets the
//!   session cookie (`HttpOnly; Secure; SameSite=Strict`, 12 hours from sign-in, never extended): mail
//!   scanners open links, and a `GET` changes nothing.
//! - **Holds** (`/console/holds`, `?tab=settled&q=…`): open holds urgent first, then by deadline, with the
//!   time left; one hold (`/console/holds/{id}`) shows both orders side by side, why they matched, the
//!   mails, what mallguard asked of the mall, the evidence, and the buttons: ship both, cancel the later
//!   order, a note (「電話で確認済み」), and the blacklist.
//! - **Order timeline** (`/console/orders/{mall}/{shop}/{order}`): the evidence to the second in JST,
//!   printable, and as CSV (`…/timeline.csv`).
//! - **Blacklist** (`/console/blacklist`) and **quarantine** (`/console/quarantine`).
//!
//! Every page needs a session: without one a `GET` is sent to sign in and a `POST` is refused. Every form
//! carries the session's anti-forgery token, and a `POST` another site started (`Sec-Fetch-Site`, or an
//! `Origin` that is not this host) is refused before anything is read. Every action is recorded in the
//! evidence with the staff member's address. A buyer's link token opens nothing here: staff tokens are
//! signed under labels of their own.
//!
//! Status codes: 200 pages, 303 after a form, 400 for a form that does not parse, 403 for a refused
//! request, 404 for what does not exist, 503 with `Retry-After` when the store is busy.

mod error;
mod views;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::map_response;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mallguard_domain::Language;
use mallguard_domain::blacklist::BlacklistId;
use mallguard_domain::hold::{Decision, HoldState};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::ports::{PayloadParser, UsedSignIn};
use mallguard_domain::service::{Blacklisting, Mallguard, Settlement, ShopSettingsError};
use mallguard_domain::staff::{StaffList, StaffSession, StaffSigner, StaffTokenError};
use serde::Deserialize;

pub use crate::error::ConsoleError;
use crate::views::Page;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mallguard_staff";

/// What the console needs besides the use cases.
#[derive(Clone)]
pub struct ConsoleConfig {
    /// Who may sign in.
    pub staff: StaffList,
    /// Where the mailed sign-in links point.
    pub base_url: ConsoleUrl,
}

/// The console's own public base URL, which the mailed sign-in links point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleUrl {
    /// Configured (a custom domain, the local serve address), without a trailing slash.
    Fixed(String),
    /// A Lambda Function URL, read from the request's `Host`: only a host under `.lambda-url.*.on.aws`
    /// is taken, since AWS routes a Function URL by that host, so a request that reached this function
    /// named it. Any other `Host` (one an attacker typed, to have a sign-in link point at their server)
    /// is refused.
    FunctionUrl,
}

impl ConsoleUrl {
    fn for_request(&self, headers: &HeaderMap) -> Result<String, ConsoleError> {
        match self {
            ConsoleUrl::Fixed(url) => Ok(url.trim_end_matches('/').to_owned()),
            ConsoleUrl::FunctionUrl => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let valid = host.len() <= 253
                    && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                    && host.ends_with(".on.aws")
                    && host.contains(".lambda-url.");
                if valid {
                    Ok(format!("https://{host}"))
                } else {
                    Err(ConsoleError::Forbidden("a Host that is no Lambda Function URL"))
                }
            }
        }
    }
}

#[derive(Clone)]
struct Console {
    app: Mallguard,
    parser: Arc<dyn PayloadParser>,
    staff: Arc<StaffList>,
    signer: StaffSigner,
    base_url: ConsoleUrl,
    lang: Language,
}

/// The console's router, under `/console/`. `parser` turns quarantined payloads into orders again on
/// replay (the malls' parsers).
pub fn router(app: Mallguard, parser: Arc<dyn PayloadParser>, config: ConsoleConfig) -> Router {
    let lang = app.settings().shop.language;
    let signer = app.settings().signer.staff_signer();
    let staff = if config.staff.is_empty() {
        // No list given: the address the staff alerts go to.
        StaffList::new(vec![app.settings().shop.staff_email.clone()])
    } else {
        config.staff
    };
    let state = Console {
        app,
        parser,
        staff: Arc::new(staff),
        signer,
        base_url: config.base_url,
        lang,
    };
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/holds") }))
        .route("/console/", get(|| async { Redirect::to("/console/holds") }))
        .route("/console/sign-in", get(sign_in_page).post(ask_for_link))
        .route("/console/sign-in/{token}", get(sign_in_link_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/holds", get(holds))
        .route("/console/holds/{id}", get(hold))
        .route("/console/holds/{id}/resolve", post(resolve))
        .route("/console/holds/{id}/note", post(note))
        .route("/console/orders/{mall}/{shop}/{order}", get(order))
        .route("/console/orders/{mall}/{shop}/{order}/timeline.csv", get(order_csv))
        .route(
            "/console/orders/{mall}/{shop}/{order}/blacklist",
            post(add_to_blacklist),
        )
        .route("/console/blacklist", get(blacklist))
        .route("/console/blacklist/{id}/remove", post(remove_from_blacklist))
        .route("/console/settings", get(settings_list))
        .route(
            "/console/settings/{mall}/{shop}",
            get(settings_page).post(save_settings),
        )
        .route("/console/quarantine", get(quarantine))
        .route("/console/quarantine/replay", post(replay))
        .layer(map_response(security_headers))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------------
// Sessions and forms

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Console {
    fn session(&self, headers: &HeaderMap) -> Result<StaffSession, ConsoleError> {
        let text = cookie(headers, SESSION_COOKIE).ok_or(ConsoleError::NotSignedIn)?;
        let session = self
            .signer
            .verify_session(text, self.app.now())
            .map_err(|_| ConsoleError::NotSignedIn)?;
        // Taken off the list since: the session ends with it.
        if self.staff.find(&session.staff).is_none() {
            return Err(ConsoleError::NotSignedIn);
        }
        Ok(session)
    }

    /// A form post of a signed-in staff member: same origin, and the session's form token.
    fn posted(&self, headers: &HeaderMap, form_token: &str) -> Result<StaffSession, ConsoleError> {
        same_origin(headers)?;
        let session = self
            .session(headers)
            .map_err(|_| ConsoleError::Forbidden("no session"))?;
        if !self.signer.verify_form_token(&session, form_token) {
            return Err(ConsoleError::Forbidden(
                "the form's anti-forgery token does not match the session",
            ));
        }
        Ok(session)
    }

    fn page(&self, session: Option<&StaffSession>) -> Page {
        Page::new(
            self.lang,
            &self.app.settings().shop.name,
            session.map(|s| (s.staff.clone(), self.signer.form_token(s))),
        )
    }
}

/// Refuses a request another site started. Browsers say where a request came from in `Sec-Fetch-Site`;
/// where that header is missing (an older browser), an `Origin` must name this host. A client that sends
/// neither (a script) still needs the session cookie and the form token.
fn same_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str() {
            Ok("same-origin" | "none") => Ok(()),
            _ => Err(ConsoleError::Forbidden("a request started by another site")),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return Err(ConsoleError::Forbidden("a request from another origin"));
        }
    }
    Ok(())
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn session_cookie(value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    ))
    .expect("a cookie of URL-safe characters")
}

#[derive(Debug, Deserialize)]
struct Token {
    #[serde(default)]
    form_token: String,
}

// ---------------------------------------------------------------------------------------------------
// Sign-in

#[derive(Debug, Deserialize)]
struct AskForLink {
    #[serde(default)]
    address: String,
}

async fn sign_in_page(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    if c.session(&headers).is_ok() {
        return Ok(Redirect::to("/console/holds").into_response());
    }
    c.page(None)
        .render("sign_in.html", minijinja::context! { sent => false })
}

/// Mails a link when the address is on the list; answers the same page either way.
async fn ask_for_link(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<AskForLink>, FormRejection>,
) -> Result<Response, ConsoleError> {
    same_origin(&headers)?;
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("address"))?;
    let base_url = c.base_url.for_request(&headers)?;
    if let Some(address) = c.staff.find(&form.address) {
        let token = c.signer.sign_in_link(address, &random_token(), c.app.now());
        let link = format!("{base_url}/console/sign-in/{token}");
        match c.app.mail_sign_in_link(address, &link, c.lang).await {
            Ok(()) => tracing::info!(staff = %address.as_str(), "sign-in link mailed"),
            Err(err) => {
                tracing::warn!(staff = %address.as_str(), error = %err, "the sign-in link could not be mailed");
                return Err(ConsoleError::MailFailed);
            }
        }
    } else {
        // Logged without the address typed: it may be anything.
        tracing::info!("sign-in asked for an address not on the staff list");
    }
    c.page(None)
        .render("sign_in.html", minijinja::context! { sent => true })
}

/// The mailed link's page: a button, so that a mail scanner opening the link signs nobody in.
async fn sign_in_link_page(State(c): State<Console>, Path(token): Path<String>) -> Result<Response, ConsoleError> {
    let valid = match c.signer.verify_sign_in_link(&token, c.app.now()) {
        Ok(_) => "valid",
        Err(StaffTokenError::Expired) => "expired",
        Err(StaffTokenError::Invalid) => "invalid",
    };
    let status = if valid == "invalid" {
        axum::http::StatusCode::NOT_FOUND
    } else {
        axum::http::StatusCode::OK
    };
    let html = c.page(None).html(
        "sign_in_link.html",
        minijinja::context! { valid, action => format!("/console/sign-in/{token}") },
    )?;
    Ok((status, Html(html)).into_response())
}

async fn sign_in(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ConsoleError> {
    same_origin(&headers)?;
    let now = c.app.now();
    let link = c.signer.verify_sign_in_link(&token, now).map_err(|e| match e {
        StaffTokenError::Expired => ConsoleError::LinkExpired,
        StaffTokenError::Invalid => ConsoleError::NotFound,
    })?;
    let Some(staff) = c.staff.find(&link.staff).cloned() else {
        return Err(ConsoleError::Forbidden("the address is no longer on the staff list"));
    };
    c.app
        .use_sign_in(UsedSignIn {
            id: link.nonce.clone(),
            expires_at: link.expires_at,
        })
        .await
        .map_err(ConsoleError::staff)?;
    let (text, session) = c.signer.session(staff.as_str(), &random_token(), now);
    let max_age = session.expires_at.as_second() - now.as_second();
    tracing::info!(staff = %staff.as_str(), "staff signed in");
    let mut response = Redirect::to("/console/holds").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&text, max_age.max(0)));
    Ok(response)
}

async fn sign_out(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<Token>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("form_token"))?;
    c.posted(&headers, &form.form_token)?;
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie("", 0));
    Ok(response)
}

// ---------------------------------------------------------------------------------------------------
// Holds

#[derive(Debug, Default, Deserialize)]
struct HoldsQuery {
    tab: Option<String>,
    q: Option<String>,
}

async fn holds(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<HoldsQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let settled = query.tab.as_deref() == Some("settled");
    let search = query.q.unwrap_or_default().trim().to_owned();
    let now = c.app.now();
    let holds = c.app.holds(!settled).await.map_err(ConsoleError::service)?;
    let rows: Vec<_> = holds
        .iter()
        .filter(|h| (h.state != HoldState::Held) == settled)
        .filter(|h| search.is_empty() || views::hold_matches(h, &search))
        .map(|h| views::HoldRow::of(h, now, c.lang))
        .collect();
    c.page(Some(&session))
        .render("holds.html", minijinja::context! { settled, search, rows })
}

fn hold_id(raw: &str) -> Result<HoldId, ConsoleError> {
    HoldId::parse(raw).map_err(|_| ConsoleError::NotFound)
}

async fn hold(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<Done>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let id = hold_id(&id)?;
    let detail = c.app.hold_detail(&id).await.map_err(ConsoleError::service)?;
    let view = views::HoldView::of(&detail, c.app.now(), c.lang);
    let done = done_of(query);
    c.page(Some(&session))
        .render("hold.html", minijinja::context! { hold => view, done })
}

/// The outcome a page announces after a form, if it is one we know.
fn done_of(query: Result<Query<Done>, QueryRejection>) -> Option<String> {
    query
        .ok()
        .and_then(|Query(q)| q.done)
        .filter(|d| views::is_known_done(d))
}

#[derive(Debug, Deserialize)]
struct ResolveForm {
    #[serde(default)]
    form_token: String,
    decision: String,
}

async fn resolve(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ResolveForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("decision"))?;
    let session = c.posted(&headers, &form.form_token)?;
    let id = hold_id(&id)?;
    let decision = match form.decision.as_str() {
        "confirm" => Decision::Confirm,
        "cancel" => Decision::Cancel,
        _ => return Err(ConsoleError::BadForm("decision")),
    };
    let outcome = c
        .app
        .resolve(&id, decision, &session.staff)
        .await
        .map_err(ConsoleError::service)?;
    let done = match outcome {
        Settlement::Settled(_) => "settled",
        Settlement::AlreadySettled(_) => "already",
    };
    tracing::info!(hold = %id, staff = %session.staff, ?decision, done, "staff settled a hold in the console");
    Ok(Redirect::to(&format!("/console/holds/{id}?done={done}")).into_response())
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    note: String,
}

async fn note(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("note"))?;
    let session = c.posted(&headers, &form.form_token)?;
    let id = hold_id(&id)?;
    c.app
        .note_on_hold(&id, &form.note, &session.staff)
        .await
        .map_err(ConsoleError::staff)?;
    Ok(Redirect::to(&format!("/console/holds/{id}?done=noted")).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Orders and their evidence

fn order_ref(mall: &str, shop: &str, order: &str) -> Result<OrderRef, ConsoleError> {
    let mall: Mall = mall.parse().map_err(|_| ConsoleError::NotFound)?;
    let shop = ShopId::parse(shop).map_err(|_| ConsoleError::NotFound)?;
    let order = OrderId::parse(order).map_err(|_| ConsoleError::NotFound)?;
    Ok(OrderRef::new(mall, shop, order))
}

async fn order(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((mall, shop, order)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let order = order_ref(&mall, &shop, &order)?;
    let evidence = c.app.evidence(&order).await.map_err(ConsoleError::service)?;
    let blacklisted = c
        .app
        .blacklist()
        .await
        .map_err(ConsoleError::service)?
        .into_iter()
        .find(|e| e.order == order)
        .map(|e| views::BlacklistRow::of(&e, c.lang));
    let view = views::OrderView::of(&evidence, c.lang);
    c.page(Some(&session))
        .render("order.html", minijinja::context! { order => view, blacklisted })
}

async fn order_csv(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((mall, shop, order)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    c.session(&headers)?;
    let order = order_ref(&mall, &shop, &order)?;
    let evidence = c.app.evidence(&order).await.map_err(ConsoleError::service)?;
    let csv = views::timeline_csv(&evidence, c.lang);
    let file = format!(
        "mallguard-{}-{}.csv",
        order.mall,
        views::file_safe(order.order_id.as_str())
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        csv,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct BlacklistForm {
    #[serde(default)]
    form_token: String,
    #[serde(default)]
    reason: String,
    /// Where to go back to: the hold the form was on, if any.
    #[serde(default)]
    hold: String,
}

async fn add_to_blacklist(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((mall, shop, order)): Path<(String, String, String)>,
    form: Result<Form<BlacklistForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("reason"))?;
    let session = c.posted(&headers, &form.form_token)?;
    let order = order_ref(&mall, &shop, &order)?;
    let outcome = c
        .app
        .add_to_blacklist(&order, &form.reason, &session.staff)
        .await
        .map_err(ConsoleError::staff)?;
    let done = match outcome {
        Blacklisting::Added(_) => "blacklisted",
        Blacklisting::AlreadyListed(_) => "already_blacklisted",
    };
    let back = match HoldId::parse(&form.hold) {
        Ok(hold) => format!("/console/holds/{hold}?done={done}"),
        Err(_) => format!("/console/blacklist?done={done}"),
    };
    Ok(Redirect::to(&back).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Blacklist and quarantine

#[derive(Debug, Default, Deserialize)]
struct Done {
    done: Option<String>,
}

async fn blacklist(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<Done>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let entries = c.app.blacklist().await.map_err(ConsoleError::service)?;
    let rows: Vec<_> = entries.iter().map(|e| views::BlacklistRow::of(e, c.lang)).collect();
    let done = done_of(query);
    c.page(Some(&session))
        .render("blacklist.html", minijinja::context! { rows, done })
}

async fn remove_from_blacklist(
    State(c): State<Console>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<Token>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("form_token"))?;
    let session = c.posted(&headers, &form.form_token)?;
    let id = BlacklistId::parse(&id).map_err(|_| ConsoleError::NotFound)?;
    c.app
        .remove_from_blacklist(&id, &session.staff)
        .await
        .map_err(ConsoleError::staff)?;
    Ok(Redirect::to("/console/blacklist?done=removed").into_response())
}

async fn quarantine(State(c): State<Console>, headers: HeaderMap) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let items = c.app.quarantined().await.map_err(ConsoleError::service)?;
    let rows: Vec<_> = items.iter().map(|q| views::QuarantineRow::of(q, c.lang)).collect();
    let results: Vec<BTreeMap<String, String>> = vec![];
    c.page(Some(&session))
        .render("quarantine.html", minijinja::context! { rows, results })
}

async fn replay(
    State(c): State<Console>,
    headers: HeaderMap,
    form: Result<Form<Token>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("form_token"))?;
    let session = c.posted(&headers, &form.form_token)?;
    let report = c
        .app
        .replay_quarantined(c.parser.as_ref(), &session.staff)
        .await
        .map_err(ConsoleError::service)?;
    tracing::info!(staff = %session.staff, replayed = report.len(), "quarantine replayed from the console");
    let items = c.app.quarantined().await.map_err(ConsoleError::service)?;
    let rows: Vec<_> = items.iter().map(|q| views::QuarantineRow::of(q, c.lang)).collect();
    let results: Vec<_> = report.iter().map(|r| views::replay_result(r, c.lang)).collect();
    c.page(Some(&session))
        .render("quarantine.html", minijinja::context! { rows, results })
}

// ---------------------------------------------------------------------------------------------------
// Settings per shop

#[derive(Debug, Default, Deserialize)]
struct OpenShop {
    mall: Option<String>,
    shop: Option<String>,
}

async fn settings_list(
    State(c): State<Console>,
    headers: HeaderMap,
    query: Result<Query<OpenShop>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    // The form to open a shop not set yet is a GET: it only leads to that shop's page.
    if let Ok(Query(OpenShop {
        mall: Some(mall),
        shop: Some(shop),
    })) = query
    {
        let mall: Mall = mall.parse().map_err(|_| ConsoleError::BadForm("mall"))?;
        let shop = ShopId::parse(&shop).map_err(|_| ConsoleError::BadForm("shop"))?;
        return Ok(Redirect::to(&views::settings_path(mall, &shop)).into_response());
    }
    let shops = c.app.all_shop_settings().await.map_err(ConsoleError::service)?;
    let rows: Vec<_> = shops.iter().map(|s| views::ShopRow::of(s, c.lang)).collect();
    let malls = views::malls(c.lang);
    c.page(Some(&session))
        .render("settings_list.html", minijinja::context! { rows, malls })
}

fn shop_of(mall: &str, shop: &str) -> Result<(Mall, ShopId), ConsoleError> {
    let mall: Mall = mall.parse().map_err(|_| ConsoleError::NotFound)?;
    let shop = ShopId::parse(shop).map_err(|_| ConsoleError::NotFound)?;
    Ok((mall, shop))
}

async fn settings_page(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((mall, shop)): Path<(String, String)>,
    query: Result<Query<Done>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let session = c.session(&headers)?;
    let (mall, shop) = shop_of(&mall, &shop)?;
    let current = c
        .app
        .shop_settings_of(mall, &shop)
        .await
        .map_err(ConsoleError::service)?;
    let view = views::SettingsView::of(&current, c.app.default_settings(), c.lang);
    let saved = query.ok().and_then(|Query(q)| q.done).is_some_and(|d| d == "saved");
    c.page(Some(&session))
        .render("settings.html", minijinja::context! { s => view, saved })
}

async fn save_settings(
    State(c): State<Console>,
    headers: HeaderMap,
    Path((mall, shop)): Path<(String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let Form(form) = form.map_err(|_| ConsoleError::BadForm("settings"))?;
    let session = c.posted(&headers, form.get("form_token").map(String::as_str).unwrap_or_default())?;
    let (mall, shop) = shop_of(&mall, &shop)?;
    let read: u64 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or(ConsoleError::BadForm("version"))?;
    let changes: Vec<(String, String)> = mallguard_domain::shop_settings::KEYS
        .iter()
        .filter_map(|k| form.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    c.app
        .save_shop_settings(mall, &shop, Some(read), &changes, &session.staff)
        .await
        .map_err(|e| match e {
            ShopSettingsError::Service(err) => ConsoleError::service(err),
            ShopSettingsError::Setting(err) => ConsoleError::Refused(views::setting_refusal(&err)),
            ShopSettingsError::Conflict => ConsoleError::Conflict,
        })?;
    tracing::info!(%mall, %shop, staff = %session.staff, "shop settings changed in the console");
    Ok(Redirect::to(&format!("{}?done=saved", views::settings_path(mall, &shop))).into_response())
}

/// Headers on every response: nothing cached or indexed, no referrer, nothing loaded from elsewhere,
/// never framed (a framed console could be clicked through by another page).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Same-origin, not no-referrer: with no-referrer a browser posts forms with `Origin: null`.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
