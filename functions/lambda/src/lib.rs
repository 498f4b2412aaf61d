//! The Lambda composition: the one place where a deployed function is wired. [`cold_start`] reads the
//! configuration and the secret once, builds the DynamoDB and SES clients once, opens the first
//! connection, and hands back the use cases and the webhook secrets; the binaries in `src/bin/` pass them
//! to the function libraries (`mallguard-ingest`, `mallguard-respond`, `mallguard-expire`,
//! `mallguard-poll`, `mallguard-amazon-notifications`), which never see an AWS type. [`feeds`] builds the
//! poll function's order feeds from the secret, [`amazon_sellers`] the SP-API readers of the
//! amazon-notifications function.

use std::sync::Arc;

use aws_config::SdkConfig;
use mallguard_amazon_notifications::Sellers;
use mallguard_aws::config::{ConfigError, Deployment, Secrets};
use mallguard_aws::emf::EmfMetrics;
use mallguard_aws::keeper::SecretsManagerKeeper;
use mallguard_domain::feed::{OrderFeed, OrderLookup};
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::mail_routes::{Route, RoutedMailer};
use mallguard_domain::order::EmailAddress;
use mallguard_domain::ports::{Clock, Mailer, Metrics, StaffStore, SystemClock};
use mallguard_domain::service::{Mallguard, PollBudget};
use mallguard_feeds::actions::{MallActionsRouter, ShopActions};
use mallguard_feeds::amazon::{AmazonCredentials, AmazonMessenger, AmazonOptions, AmazonSpApi};
use mallguard_feeds::rakuten::{DEFAULT_BASE_URL, RakutenCredentials, RakutenFeed, RakutenOptions};
use mallguard_feeds::shopify::{RefundChoice, ShopifyAdmin, ShopifyCredentials, ShopifyOptions};
use mallguard_feeds::yahoo::{YahooCredentials, YahooFeed, YahooOptions};
use mallguard_smtp::{RakutenSmtpMailer, RakutenSmtpSettings, Tls};

/// `router` answering `GET /favicon.ico` with 204 No Content. Every browser asks a site for its icon; a 404
/// would count in the Function URL's 4xx alarm, which watches for links and sign-ins that do not verify.
/// (The local program merges the routers into one, so the route is added here, once per function.)
pub fn without_favicon(router: axum::Router) -> axum::Router {
    router.route(
        "/favicon.ico",
        axum::routing::get(|| async { axum::http::StatusCode::NO_CONTENT }),
    )
}

/// Logs as Lambda's advanced logging controls ask: JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON`, at the level
/// of `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG` when it is a plain level, else INFO), to stdout. The runtime's own
/// `init_default_subscriber` does the same through an `EnvFilter`, whose directive parser brings a regular
/// expression engine into every binary; a plain level needs none of it, and the packages are smaller.
pub fn init_logging() {
    use lambda_runtime::tracing::subscriber::filter::LevelFilter;
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|level| level.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let logs = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(level);
    if json { logs.json().init() } else { logs.init() }
}

/// A function ready to serve: its use cases and what it was configured with.
pub struct ColdStart {
    pub app: Mallguard,
    pub deployment: Deployment,
}

/// A deployed function (one binary each): its name and what its cold start builds. A type rather than a
/// value, so that each binary is compiled with its own wiring and contains no client it never builds.
pub trait Function {
    /// The function's name, as its metrics carry it.
    const NAME: &'static str;
    const WIRING: Wiring;
}

/// What a cold start builds besides the store and SES: only what the function's use cases call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wiring {
    /// A client per shop the secret lets mallguard act for (hold, release, cancel at the mall).
    pub mall_actions: bool,
    /// The buyers' mail routes: Rakuten's relay and Amazon's Buyer-Seller Messaging (else SES for all).
    pub buyer_mail_routes: bool,
    /// The Secrets Manager writer that keeps a credential a mall rotated.
    pub credential_keeper: bool,
}

impl Wiring {
    /// Every client.
    pub const EVERYTHING: Wiring = Wiring {
        mall_actions: true,
        buyer_mail_routes: true,
        credential_keeper: true,
    };
    /// Every client but the credential keeper: only the poll function reads the feeds whose tokens a mall
    /// may rotate.
    const ACTING: Wiring = Wiring {
        credential_keeper: false,
        ..Wiring::EVERYTHING
    };
}

/// The functions, as the binaries in `src/bin/` name them.
pub mod functions {
    use super::{Function, Wiring};

    macro_rules! function {
        ($(#[$doc:meta])* $ty:ident, $name:literal, $wiring:expr) => {
            $(#[$doc])*
            pub struct $ty;
            impl Function for $ty {
                const NAME: &'static str = $name;
                const WIRING: Wiring = $wiring;
            }
        };
    }

    function!(Ingest, "ingest", Wiring::ACTING);
    function!(Respond, "respond", Wiring::ACTING);
    function!(Expire, "expire", Wiring::ACTING);
    function!(
        /// Builds every client (the tests' cold start serves every handler with it).
        Poll,
        "poll",
        Wiring::EVERYTHING
    );
    function!(AmazonNotifications, "amazon-notifications", Wiring::ACTING);
    function!(
        /// SES's reports on the notices: the only mail it sends is the staff's alert, and it acts at no mall.
        MailEvents,
        "mail-events",
        Wiring {
            mall_actions: false,
            buyer_mail_routes: false,
            credential_keeper: false,
        }
    );
    function!(Console, "console", Wiring::ACTING);
}

/// The cold start of the function `F` on AWS. The SDK talks through `mallguard_aws::sdk`'s client (rustls
/// on ring): the SDK crates are built without their default one.
pub async fn cold_start<F: Function>() -> Result<ColdStart, ConfigError> {
    let sdk = mallguard_aws::sdk::lambda();
    cold_start_with::<F>(&sdk, Arc::new(SystemClock), Arc::new(EmfMetrics::stdout(F::NAME))).await
}

/// The same with the SDK configuration, the clock and the metrics injected (tests point them at DynamoDB
/// Local and moto, and move the clock).
pub async fn cold_start_with<F: Function>(
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
) -> Result<ColdStart, ConfigError> {
    let deployment = Deployment::load(sdk).await?;
    // One clock for the use cases and the store, so a test clock governs TTLs and leases too.
    let store = deployment.store(sdk).with_clock(clock.clone());
    store.warm_up().await;
    let ses: Arc<dyn Mailer> = Arc::new(deployment.mailer(sdk));
    let mailer = if F::WIRING.buyer_mail_routes {
        let names = shop_names(&store, &deployment.settings.shop.name).await;
        mail_routes(&deployment, &names, &FeedUrls::from_env(), ses)?
    } else {
        RoutedMailer::new(ses)
    };
    let mut app =
        Mallguard::new(Arc::new(store), Arc::new(mailer), clock, deployment.settings.clone()).with_metrics(metrics);
    if F::WIRING.credential_keeper {
        // A credential a mall rotates while the poll function reads it goes back into the deployment's secret.
        let keeper = SecretsManagerKeeper::new(aws_sdk_secretsmanager::Client::new(sdk), &deployment.aws.secret_id);
        app = app.with_credential_keeper(Arc::new(keeper));
    }
    if F::WIRING.mall_actions {
        // Ingest and poll hold new duplicates, respond, expire and the console release and cancel, all retry
        // through the sweep.
        let actions = mall_actions(&deployment, &FeedUrls::from_env()).map_err(|e| ConfigError::BadSecret {
            secret_id: deployment.aws.secret_id.clone(),
            reason: e.to_string(),
        })?;
        tracing::info!(shops = actions.len(), "mall actions ready");
        app = app.with_mall_actions(Arc::new(actions));
    }
    // Each mall shop's own settings over the deployment's, cached while the function is warm.
    match app.load_shop_settings().await {
        Ok(shops) => tracing::info!(shops, "shop settings read"),
        Err(err) => {
            tracing::warn!(error = %err, "shop settings could not be read; the deployment's apply until they can")
        }
    }
    tracing::info!(
        table = %deployment.aws.table,
        public_url = %deployment.aws.public_url,
        "cold start done"
    );
    Ok(ColdStart { app, deployment })
}

/// The name each Rakuten shop goes by (its own settings' where they set one, `default` otherwise): the relay
/// puts it on the From of its mail, beside the shop's registered address. Read once, at start: a name
/// changed in the console reaches the relay at the next cold start (the mail's text follows at once). A
/// store that cannot answer leaves every shop with `default`.
pub async fn shop_names(store: &dyn StaffStore, default: &str) -> ShopNames {
    let mut names = ShopNames::new(default);
    match store.shop_settings().await {
        Ok(all) => {
            for settings in all.into_iter().filter(|s| s.mall == Mall::Rakuten) {
                if let Some(name) = settings.name {
                    names.shops.insert(settings.shop, name);
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "shop settings could not be read; the relay uses the default name"),
    }
    names
}

/// The name on the From of each shop's relayed mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopNames {
    default: String,
    shops: std::collections::HashMap<ShopId, String>,
}

impl ShopNames {
    /// Every shop by `default`.
    pub fn new(default: &str) -> Self {
        ShopNames {
            default: default.to_owned(),
            shops: Default::default(),
        }
    }

    pub fn of(&self, shop: &ShopId) -> &str {
        self.shops.get(shop).map_or(&self.default, String::as_str)
    }
}

/// The deployment's mail routes: SES for everything; for each Rakuten shop with a relay login, Rakuten's
/// relay for its buyers' masked addresses (mail to them arrives only that way), from `names`; for each Amazon
/// seller, Buyer-Seller Messaging (Amazon's rule for every message to a buyer).
pub fn mail_routes(
    deployment: &Deployment,
    names: &ShopNames,
    urls: &FeedUrls,
    ses: Arc<dyn Mailer>,
) -> Result<RoutedMailer, ConfigError> {
    mail_routes_from(&deployment.secrets, names, urls, ses).map_err(|reason| ConfigError::BadSecret {
        secret_id: deployment.aws.secret_id.clone(),
        reason,
    })
}

/// The same from `secrets` (the local program's, operating a deployed stack, as well as a deployment's);
/// the error says which entry of the secret is wrong.
pub fn mail_routes_from(
    secrets: &Secrets,
    names: &ShopNames,
    urls: &FeedUrls,
    ses: Arc<dyn Mailer>,
) -> Result<RoutedMailer, String> {
    let mut routed = RoutedMailer::new(ses);
    for api in amazon_apis_from(secrets, urls).map_err(|e| e.to_string())? {
        let seller = api.seller().clone();
        routed = routed.with(Route::AmazonMessaging, seller, Arc::new(AmazonMessenger::new(api)));
    }
    for (shop, secret) in secrets.rakuten() {
        let Some(smtp) = &secret.smtp else { continue };
        let invalid = |reason: String| format!("rakuten[{shop:?}].smtp: {reason}");
        let from = EmailAddress::parse(&smtp.from).map_err(|e| invalid(e.to_string()))?;
        let shop_id = ShopId::parse(shop).map_err(|e| invalid(e.to_string()))?;
        let mut settings = RakutenSmtpSettings::rakuten(smtp.user.clone(), smtp.password.clone(), from);
        settings.from_name = Some(names.of(&shop_id).to_owned());
        if let Some(host) = &smtp.host {
            settings.host = host.clone();
        }
        if let Some(port) = smtp.port {
            settings.port = port;
        }
        // Plain SMTP only to a stand-in on this machine (the tests' sink); the relay itself needs STARTTLS.
        if matches!(settings.host.as_str(), "127.0.0.1" | "localhost" | "::1") {
            settings.tls = Tls::None;
        }
        let relay = RakutenSmtpMailer::new(settings).map_err(|e| invalid(e.to_string()))?;
        routed = routed.with(Route::RakutenRelay, shop_id, Arc::new(relay));
    }
    Ok(routed)
}

/// `MALLGUARD_RAKUTEN_URL`: the RMS host the Rakuten feeds read (a fake's in tests); the real one unless set.
pub const RAKUTEN_URL_VAR: &str = "MALLGUARD_RAKUTEN_URL";
/// `MALLGUARD_YAHOO_URL`: the Yahoo! store API's base URL (a fake's in tests); Yahoo!'s for each seller
/// unless set.
pub const YAHOO_URL_VAR: &str = "MALLGUARD_YAHOO_URL";
/// `MALLGUARD_YAHOO_TOKEN_URL`: the Yahoo! ID連携 token endpoint; Yahoo!'s unless set.
pub const YAHOO_TOKEN_URL_VAR: &str = "MALLGUARD_YAHOO_TOKEN_URL";

/// `MALLGUARD_SHOPIFY_URL`: the Shopify Admin API host of every shop (a fake's in tests); each shop's own
/// `….myshopify.com` unless set.
pub const SHOPIFY_URL_VAR: &str = "MALLGUARD_SHOPIFY_URL";

/// `MALLGUARD_AMAZON_URL`: the SP-API endpoint (a fake's in tests); the Far East one unless set.
pub const AMAZON_URL_VAR: &str = "MALLGUARD_AMAZON_URL";
/// `MALLGUARD_AMAZON_TOKEN_URL`: the Login with Amazon token endpoint; Amazon's unless set.
pub const AMAZON_TOKEN_URL_VAR: &str = "MALLGUARD_AMAZON_TOKEN_URL";

/// Where the feeds read: each mall's API, the real one unless the environment names another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrls {
    pub rakuten: String,
    /// None: Yahoo!'s own, by seller (the test environment for sandbox sellers).
    pub yahoo: Option<String>,
    pub yahoo_token: String,
    pub amazon: String,
    pub amazon_token: String,
    /// None: each shop's own `….myshopify.com`.
    pub shopify: Option<String>,
}

impl FeedUrls {
    /// The URLs the environment sets, the real APIs' otherwise.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|url| !url.trim().is_empty());
        FeedUrls {
            rakuten: var(RAKUTEN_URL_VAR).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()),
            yahoo: var(YAHOO_URL_VAR),
            yahoo_token: var(YAHOO_TOKEN_URL_VAR).unwrap_or_else(|| YahooOptions::default().token_url),
            amazon: var(AMAZON_URL_VAR).unwrap_or_else(|| AmazonOptions::default().endpoint),
            amazon_token: var(AMAZON_TOKEN_URL_VAR).unwrap_or_else(|| AmazonOptions::default().lwa_url),
            shopify: var(SHOPIFY_URL_VAR),
        }
    }
}

/// A polled shop whose feed cannot be built from the secret.
#[derive(Debug, thiserror::Error)]
#[error("{mall} shop {shop:?} in the secret: {reason}")]
pub struct FeedConfigError {
    pub mall: &'static str,
    pub shop: String,
    pub reason: String,
}

/// The order feeds of the poll function, from the URLs the environment sets ([`FeedUrls::from_env`]).
pub fn feeds(deployment: &Deployment) -> Result<Vec<Arc<dyn OrderFeed>>, FeedConfigError> {
    feeds_from(deployment, &FeedUrls::from_env())
}

/// The order feeds of the poll function: one per shop with credentials in the deployment's secret (Rakuten
/// RMS, Yahoo! Shopping), reading `urls`. Every read re-reads the orders of the matching window, so a
/// cancellation at the mall is seen while it matters. A Yahoo! read lists the whole window (pages of 1,000)
/// and fetches at most 40 orders (one call a second, so a read fits well inside an invocation; the poll
/// budget starts no read past its deadline, and the next read goes on from the last order fetched).
pub fn feeds_from(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<dyn OrderFeed>>, FeedConfigError> {
    let mut feeds: Vec<Arc<dyn OrderFeed>> = vec![];
    for feed in rakuten_feeds(deployment, urls)? {
        feeds.push(feed);
    }
    for feed in yahoo_feeds(deployment, urls)? {
        feeds.push(feed);
    }
    // Amazon pushes its changes as notifications; getOrders here reads what a lost notification missed.
    for api in amazon_apis(deployment, urls)? {
        feeds.push(api);
    }
    Ok(feeds)
}

/// One RMS client per Rakuten shop with credentials in the secret (with its hold sub-status, if set).
fn rakuten_feeds(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<RakutenFeed>>, FeedConfigError> {
    let mut feeds = vec![];
    for (shop, secret) in deployment.secrets.rakuten() {
        let error = |reason: String| FeedConfigError {
            mall: "rakuten",
            shop: shop.clone(),
            reason,
        };
        let credentials = RakutenCredentials {
            service_secret: secret.service_secret.clone(),
            license_key: secret.license_key.clone(),
        };
        let options = RakutenOptions {
            base_url: urls.rakuten.clone(),
            recheck: deployment.settings.policy.window,
            hold_sub_status: secret.hold_sub_status.clone(),
            ..RakutenOptions::default()
        };
        let shop_id = ShopId::parse(shop).map_err(|e| error(e.to_string()))?;
        feeds.push(Arc::new(
            RakutenFeed::new(shop_id, credentials, options).map_err(|e| error(e.to_string()))?,
        ));
    }
    Ok(feeds)
}

/// One store API client per Yahoo! store with credentials in the secret.
fn yahoo_feeds(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<YahooFeed>>, FeedConfigError> {
    let mut feeds = vec![];
    for (seller, secret) in deployment.secrets.yahoo() {
        let error = |reason: String| FeedConfigError {
            mall: "yahoo",
            shop: seller.clone(),
            reason,
        };
        let credentials = YahooCredentials {
            client_id: secret.client_id.clone(),
            client_secret: secret.client_secret.clone(),
            refresh_token: secret.refresh_token.clone(),
            public_key_pem: secret.public_key_pem.clone(),
            public_key_version: secret.public_key_version.clone(),
            authorized_at: secret.authorized_at,
        };
        let options = YahooOptions {
            base_url: urls.yahoo.clone(),
            token_url: urls.yahoo_token.clone(),
            recheck: deployment.settings.policy.window,
            page_size: YAHOO_LIST_PAGE,
            max_list_pages: 5,
            max_fetch: Some(YAHOO_FETCH_PER_READ),
            ..YahooOptions::default()
        };
        let seller_id = ShopId::parse(seller).map_err(|e| error(e.to_string()))?;
        feeds.push(Arc::new(
            YahooFeed::new(seller_id, credentials, options).map_err(|e| error(e.to_string()))?,
        ));
    }
    Ok(feeds)
}

/// Orders per orderList page in the poll function: listing is one call a page, and five pages list 5,000
/// orders, the whole matching window of a busy store, so every order's cancellation is seen.
const YAHOO_LIST_PAGE: u32 = 1_000;
/// Orders fetched with orderInfo per read in the poll function: at one call a second, 40 take under a minute,
/// well inside the time the poll budget keeps.
const YAHOO_FETCH_PER_READ: usize = 40;

/// One SP-API client per Amazon seller with credentials in the deployment's secret.
fn amazon_apis(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<AmazonSpApi>>, FeedConfigError> {
    amazon_apis_from(&deployment.secrets, urls)
}

fn amazon_apis_from(secrets: &Secrets, urls: &FeedUrls) -> Result<Vec<Arc<AmazonSpApi>>, FeedConfigError> {
    let mut apis = vec![];
    for (seller, secret) in secrets.amazon() {
        let error = |reason: String| FeedConfigError {
            mall: "amazon",
            shop: seller.clone(),
            reason,
        };
        let credentials = AmazonCredentials {
            client_id: secret.client_id.clone(),
            client_secret: secret.client_secret.clone(),
            refresh_token: secret.refresh_token.clone(),
        };
        let options = AmazonOptions {
            endpoint: urls.amazon.clone(),
            lwa_url: urls.amazon_token.clone(),
            // A cancellation's feed is followed by the sweep, never waited for in a request (the buyer's
            // page, a Lambda's seconds).
            feed_polls: 0,
            ..AmazonOptions::default()
        };
        let seller_id = ShopId::parse(seller).map_err(|e| error(e.to_string()))?;
        apis.push(Arc::new(
            AmazonSpApi::new(seller_id, credentials, options).map_err(|e| error(e.to_string()))?,
        ));
    }
    Ok(apis)
}

/// The mall actions of the deployment: one client per shop the secret lets mallguard act for (Shopify with
/// Admin API access, Rakuten, Yahoo!, Amazon), each doing what its mall allows; the rest stays with the staff.
pub fn mall_actions(deployment: &Deployment, urls: &FeedUrls) -> Result<MallActionsRouter, FeedConfigError> {
    let secrets = &deployment.secrets;
    let mut clients: Vec<Arc<dyn ShopActions>> = vec![];
    for (shop, secret) in secrets.shopify_admin() {
        let error = |reason: String| FeedConfigError {
            mall: "shopify",
            shop: shop.clone(),
            reason,
        };
        let options = ShopifyOptions {
            base_url: urls.shopify.clone(),
            refund: secret
                .refund
                .parse::<RefundChoice>()
                .map_err(|e| error(e.to_string()))?,
            restock: secret.restock,
            ..ShopifyOptions::default()
        };
        let credentials = ShopifyCredentials {
            access_token: secret.access_token.clone(),
        };
        let shop_id = ShopId::parse(shop).map_err(|e| error(e.to_string()))?;
        clients.push(Arc::new(
            ShopifyAdmin::new(shop_id, credentials, options).map_err(|e| error(e.to_string()))?,
        ));
    }
    for feed in rakuten_feeds(deployment, urls)? {
        clients.push(feed);
    }
    for feed in yahoo_feeds(deployment, urls)? {
        clients.push(feed);
    }
    for api in amazon_apis(deployment, urls)? {
        clients.push(api);
    }
    Ok(MallActionsRouter::new(clients))
}

/// The SP-API readers of the amazon-notifications function, one per seller in the secret, from the URLs
/// the environment sets.
pub fn amazon_sellers(deployment: &Deployment) -> Result<Sellers, FeedConfigError> {
    amazon_sellers_from(deployment, &FeedUrls::from_env())
}

/// The same reading `urls`.
pub fn amazon_sellers_from(deployment: &Deployment, urls: &FeedUrls) -> Result<Sellers, FeedConfigError> {
    let apis = amazon_apis(deployment, urls)?;
    Ok(Sellers::new(apis.into_iter().map(|api| api as Arc<dyn OrderLookup>)))
}

/// How much one run of the poll function reads of each shop: at most 10 pages (the next run goes on from
/// there), and two days back on a shop's first run.
pub fn poll_budget() -> PollBudget {
    PollBudget {
        max_pages: 10,
        first_look_back: jiff::SignedDuration::from_hours(48),
        until: None,
    }
}
