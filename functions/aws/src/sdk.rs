//! The AWS SDK configuration of the deployed functions, with the SDK's HTTP client chosen here rather
//! than left to the SDK's default.
//!
//! The SDK's default HTTPS client is rustls on aws-lc, while everything else in the functions that speaks
//! TLS (reqwest to the malls, lettre to Rakuten's relay) and the SigV4 signer use ring: the default linked
//! both crypto libraries into every Lambda. [`http_client`] is the same hyper 1 client with rustls on
//! ring, so aws-lc is not linked at all; the workspace turns the SDK crates' default features off for
//! that (see the root Cargo.toml).
//!
//! The client speaks https, trusting the platform's root certificates as the SDK's default does (the
//! Lambda runtime's CA bundle), and plain http, for DynamoDB Local and moto on loopback. Endpoints come
//! from the standard variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SESV2`,
//! ...). A deployed function takes its region and credentials from what Lambda puts in its environment
//! ([`lambda`]); the local program and the tests load the default chain ([`loader`]).

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

/// The SDK's hyper client with rustls on ring: https with the platform's roots, or plain http.
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// `aws_config::defaults` at the latest behaviour version, with [`http_client`]: add what a caller sets
/// itself (an endpoint, a region, credentials) and `load` it.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(http_client())
}

/// The SDK configuration from the environment, through the default chain.
pub async fn load() -> SdkConfig {
    loader().load().await
}

/// The SDK configuration of a deployed function, from what Lambda puts in its environment: the region
/// (`AWS_REGION`), the function role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`) and the standard endpoint variables (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, ...); retries, timeouts and the identity cache as the default loader sets
/// them at this behaviour version. The default chain's other sources (shared files, SSO, web identity
/// through STS, the container endpoint, instance metadata) never apply on Lambda, and leaving the chain
/// out leaves their clients (STS's, the metadata client) out of every package.
pub fn lambda() -> SdkConfig {
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .identity_cache(IdentityCache::lazy().build())
        .retry_config(RetryConfig::standard())
        // The default loader's connect timeout.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3_100))
                .build(),
        )
        .time_source(SystemTimeSource::new())
        .service_config(EndpointVariables);
    sdk.set_sleep_impl(default_async_sleep());
    sdk.set_region(
        variable("AWS_REGION")
            .or_else(|| variable("AWS_DEFAULT_REGION"))
            .map(Region::new),
    );
    sdk.set_endpoint_url(variable("AWS_ENDPOINT_URL"));
    sdk.build()
}

/// A service's own setting from the environment, as the default loader reads it: the service's variable
/// (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`: the service id in capitals, spaces as
/// underscores), else the one for every service (`AWS_ENDPOINT_URL`).
#[derive(Debug)]
struct EndpointVariables;

impl LoadServiceConfig for EndpointVariables {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_uppercase().replace(' ', "_");
        variable(&format!("{}_{service}", key.env())).or_else(|| variable(key.env()))
    }
}

/// An environment variable that is set to something (an empty one counts as unset, as the SDK takes it).
fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}
