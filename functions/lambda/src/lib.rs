//! The Lambda composition: the one place where a deployed function is wired. [`cold_start`] reads the
//! configuration and the secret once, builds the DynamoDB and SES clients once, opens the first
//! connection, and hands back the use cases and the webhook secrets; the binaries in `src/bin/` pass them
//! to the function libraries (`mallguard-ingest`, `mallguard-respond`, `mallguard-expire`,
//! `mallguard-poll`), which never see an AWS type. [`feeds`] builds the poll function's order feeds from
//! the secret.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use mallguard_aws::config::{ConfigError, Deployment};
use mallguard_aws::emf::EmfMetrics;
use mallguard_domain::feed::OrderFeed;
use mallguard_domain::ids::ShopId;
use mallguard_domain::ports::{Clock, Metrics, SystemClock};
use mallguard_domain::service::{Mallguard, PollBudget};
use mallguard_feeds::rakuten::{DEFAULT_BASE_URL, RakutenCredentials, RakutenFeed, RakutenOptions};

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
    let app =
        Mallguard::new(Arc::new(store), Arc::new(mailer), clock, deployment.settings.clone()).with_metrics(metrics);
    tracing::info!(
        table = %deployment.aws.table,
        public_url = %deployment.aws.public_url,
        "cold start done"
    );
    Ok(ColdStart { app, deployment })
}

/// `MALLGUARD_RAKUTEN_URL`: the RMS host the Rakuten feeds read (a fake's in tests); the real one unless set.
pub const RAKUTEN_URL_VAR: &str = "MALLGUARD_RAKUTEN_URL";

/// A polled shop whose feed cannot be built from the secret.
#[derive(Debug, thiserror::Error)]
#[error("rakuten shop {shop:?} in the secret: {reason}")]
pub struct FeedConfigError {
    pub shop: String,
    pub reason: String,
}

/// The order feeds of the poll function: one Rakuten feed per shop with RMS credentials in the
/// deployment's secret, reading the host of `MALLGUARD_RAKUTEN_URL` (the real RMS unless set). Every read
/// re-reads the orders of the matching window, so a cancellation at the mall is seen while it matters.
pub fn feeds(deployment: &Deployment) -> Result<Vec<Arc<dyn OrderFeed>>, FeedConfigError> {
    let base_url = std::env::var(RAKUTEN_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    feeds_from(deployment, &base_url)
}

/// The same reading `rakuten_url`.
pub fn feeds_from(deployment: &Deployment, rakuten_url: &str) -> Result<Vec<Arc<dyn OrderFeed>>, FeedConfigError> {
    let mut feeds: Vec<Arc<dyn OrderFeed>> = vec![];
    for (shop, secret) in deployment.secrets.rakuten() {
        let error = |reason: String| FeedConfigError {
            shop: shop.clone(),
            reason,
        };
        let credentials = RakutenCredentials {
            service_secret: secret.service_secret.clone(),
            license_key: secret.license_key.clone(),
        };
        let options = RakutenOptions {
            base_url: rakuten_url.to_owned(),
            recheck: deployment.settings.policy.window,
            ..RakutenOptions::default()
        };
        let shop_id = ShopId::parse(shop).map_err(|e| error(e.to_string()))?;
        let feed = RakutenFeed::new(shop_id, credentials, options).map_err(|e| error(e.to_string()))?;
        feeds.push(Arc::new(feed));
    }
    Ok(feeds)
}

/// How much one run of the poll function reads of each shop: at most 10 pages (the next run goes on from
/// there), and two days back on a shop's first run.
pub fn poll_budget() -> PollBudget {
    PollBudget {
        max_pages: 10,
        first_look_back: jiff::SignedDuration::from_hours(48),
    }
}
