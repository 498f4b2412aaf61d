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
//! ...), credentials from the default chain (environment variables, the Lambda container's endpoint, web
//! identity, the shared files, instance metadata).

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

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

/// The SDK configuration from the environment, as a function loads it at cold start.
pub async fn load() -> SdkConfig {
    loader().load().await
}
