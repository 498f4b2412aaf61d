//! The Lambda composition: the one place where a deployed function is wired. [`cold_start`] reads the
//! configuration and the secret once, builds the DynamoDB and SES clients once, opens the first
//! connection, and hands back the use cases and the webhook secrets; the binaries in `src/bin/` pass them
//! to the function libraries (`mallguard-ingest`, `mallguard-respond`, `mallguard-expire`), which never
//! see an AWS type.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use mallguard_aws::config::{ConfigError, Deployment};
use mallguard_aws::emf::EmfMetrics;
use mallguard_domain::ports::{Clock, Metrics, SystemClock};
use mallguard_domain::service::Mallguard;

/// A function ready to serve: its use cases and what it was configured with.
pub struct ColdStart {
    pub app: Mallguard,
    pub deployment: Deployment,
}

/// The cold start of the function `function` (ingest, respond, expire) on AWS.
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
