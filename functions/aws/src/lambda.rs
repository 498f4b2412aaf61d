//! The cold start every deployed function shares: read the configuration and the secret once, build the
//! clients once, open the first connection, and hand back the use cases wired to DynamoDB and SES.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use mallguard_domain::ports::{Clock, Metrics, SystemClock};
use mallguard_domain::service::Mallguard;

use crate::config::{ConfigError, Deployment};
use crate::emf::EmfMetrics;

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
    let store = deployment.store(sdk);
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
