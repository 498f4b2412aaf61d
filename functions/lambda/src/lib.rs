//! The Lambda composition: the one place where a deployed function is wired. [`cold_start`] reads the
//! configuration and the secret once, builds the DynamoDB and SES clients once, opens the first
//! connection, and hands back the use cases and the webhook secrets; the binaries in `src/bin/` pass them
//! to the function libraries (`mallguard-ingest`, `mallguard-respond`, `mallguard-expire`,
//! `mallguard-poll`, `mallguard-amazon-notifications`), which never see an AWS type. [`feeds`] builds the
//! poll function's order feeds from the secret, [`amazon_sellers`] the SP-API readers of the
//! amazon-notifications function.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use mallguard_amazon_notifications::Sellers;
use mallguard_aws::config::{ConfigError, Deployment};
use mallguard_aws::emf::EmfMetrics;
use mallguard_aws::keeper::SecretsManagerKeeper;
use mallguard_domain::feed::{OrderFeed, OrderLookup};
use mallguard_domain::ids::ShopId;
use mallguard_domain::ports::{Clock, Metrics, SystemClock};
use mallguard_domain::service::{Mallguard, PollBudget};
use mallguard_feeds::amazon::{AmazonCredentials, AmazonOptions, AmazonSpApi};
use mallguard_feeds::rakuten::{DEFAULT_BASE_URL, RakutenCredentials, RakutenFeed, RakutenOptions};
use mallguard_feeds::yahoo::{YahooCredentials, YahooFeed, YahooOptions};

/// A function ready to serve: its use cases and what it was configured with.
pub struct ColdStart {
    pub app: Mallguard,
    pub deployment: Deployment,
}

/// The cold start of the function `function` (ingest, respond, expire, poll) on AWS.
pub async fn cold_start(function: &str) -> Result<ColdStart, ConfigError> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    cold_start_with(&sdk, Arc::new(SystemClock), Arc::new(EmfMetrics::stdout(function))).await
}

/// The same with the SDK configuration, the clock and the metrics injected (tests point them at
/// DynamoDB Local and moto, and move the clock).
pub async fn cold_start_with(
    sdk: &SdkConfig,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
) -> Result<ColdStart, ConfigError> {
    let deployment = Deployment::load(sdk).await?;
    // One clock for the use cases and the store, so a test clock governs TTLs and leases too.
    let store = deployment.store(sdk).with_clock(clock.clone());
    store.warm_up().await;
    let mailer = deployment.mailer(sdk);
    // A credential a mall rotates while the poll function reads it goes back into the deployment's secret.
    let keeper = SecretsManagerKeeper::new(aws_sdk_secretsmanager::Client::new(sdk), &deployment.aws.secret_id);
    let app = Mallguard::new(Arc::new(store), Arc::new(mailer), clock, deployment.settings.clone())
        .with_metrics(metrics)
        .with_credential_keeper(Arc::new(keeper));
    tracing::info!(
        table = %deployment.aws.table,
        public_url = %deployment.aws.public_url,
        "cold start done"
    );
    Ok(ColdStart { app, deployment })
}

/// `MALLGUARD_RAKUTEN_URL`: the RMS host the Rakuten feeds read (a fake's in tests); the real one unless set.
pub const RAKUTEN_URL_VAR: &str = "MALLGUARD_RAKUTEN_URL";
/// `MALLGUARD_YAHOO_URL`: the Yahoo! store API's base URL (a fake's in tests); Yahoo!'s for each seller
/// unless set.
pub const YAHOO_URL_VAR: &str = "MALLGUARD_YAHOO_URL";
/// `MALLGUARD_YAHOO_TOKEN_URL`: the Yahoo! ID連携 token endpoint; Yahoo!'s unless set.
pub const YAHOO_TOKEN_URL_VAR: &str = "MALLGUARD_YAHOO_TOKEN_URL";

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
/// cancellation at the mall is seen while it matters. Yahoo! reads 40 orders a page (one call a second,
/// so a page fits well inside an invocation; the poll budget starts no page past its deadline).
pub fn feeds_from(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<dyn OrderFeed>>, FeedConfigError> {
    let recheck = deployment.settings.policy.window;
    let mut feeds: Vec<Arc<dyn OrderFeed>> = vec![];
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
            recheck,
            ..RakutenOptions::default()
        };
        let shop_id = ShopId::parse(shop).map_err(|e| error(e.to_string()))?;
        let feed = RakutenFeed::new(shop_id, credentials, options).map_err(|e| error(e.to_string()))?;
        feeds.push(Arc::new(feed));
    }
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
        };
        let options = YahooOptions {
            base_url: urls.yahoo.clone(),
            token_url: urls.yahoo_token.clone(),
            recheck,
            page_size: YAHOO_PAGE_SIZE,
            max_list_pages: 1,
            ..YahooOptions::default()
        };
        let seller_id = ShopId::parse(seller).map_err(|e| error(e.to_string()))?;
        let feed = YahooFeed::new(seller_id, credentials, options).map_err(|e| error(e.to_string()))?;
        feeds.push(Arc::new(feed));
    }
    // Amazon pushes its changes as notifications; getOrders here reads what a lost notification missed.
    for api in amazon_apis(deployment, urls)? {
        feeds.push(api);
    }
    Ok(feeds)
}

/// One SP-API client per Amazon seller with credentials in the deployment's secret.
fn amazon_apis(deployment: &Deployment, urls: &FeedUrls) -> Result<Vec<Arc<AmazonSpApi>>, FeedConfigError> {
    let mut apis = vec![];
    for (seller, secret) in deployment.secrets.amazon() {
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
            ..AmazonOptions::default()
        };
        let seller_id = ShopId::parse(seller).map_err(|e| error(e.to_string()))?;
        apis.push(Arc::new(
            AmazonSpApi::new(seller_id, credentials, options).map_err(|e| error(e.to_string()))?,
        ));
    }
    Ok(apis)
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

/// Orders per Yahoo! page in the poll function: at one call a second, a page of 40 takes under a minute.
const YAHOO_PAGE_SIZE: u32 = 40;

/// How much one run of the poll function reads of each shop: at most 10 pages (the next run goes on from
/// there), and two days back on a shop's first run.
pub fn poll_budget() -> PollBudget {
    PollBudget {
        max_pages: 10,
        first_look_back: jiff::SignedDuration::from_hours(48),
        until: None,
    }
}
