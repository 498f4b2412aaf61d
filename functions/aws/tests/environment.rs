//! The knobs and the function configuration read from the real process environment, as a Lambda
//! function reads them at cold start; and a whole cold start against moto (started by `bash tests/run`).
//!
//! These tests change the process environment, so they live in their own test binary and take a lock:
//! nextest runs each test in its own process anyway, and the lock keeps `cargo test`'s threads apart.

use std::sync::{Mutex, MutexGuard};

use jiff::SignedDuration;
use mallguard_aws::config::{ConfigError, Deployment, Knobs};
use mallguard_domain::Language;
use mallguard_domain::ids::ProductKey;
use mallguard_domain::policy::Policy;

static ENV: Mutex<()> = Mutex::new(());

/// Holds the environment lock with every `MALLGUARD_*` knob variable removed (the test services'
/// `MALLGUARD_TEST_*` stay), then sets `vars`.
fn environment(vars: &[(&str, &str)]) -> MutexGuard<'static, ()> {
    let guard = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for (name, _) in std::env::vars() {
        if name.starts_with("MALLGUARD_") && !name.starts_with("MALLGUARD_TEST_") {
            // SAFETY: the lock serialises every test of this binary that touches the environment, and
            // nothing else in it reads the environment concurrently.
            unsafe { std::env::remove_var(name) };
        }
    }
    for (name, value) in vars {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    guard
}

#[test]
fn the_knobs_default_to_the_design_numbers_when_no_variable_is_set() {
    let _env = environment(&[]);
    let knobs = Knobs::from_env().unwrap();
    assert_eq!(knobs.shop_name, "サンプル商店");
    assert_eq!(knobs.contact_email.as_str(), "support@shop.example");
    assert_eq!(knobs.staff_email.as_str(), "staff@shop.example");
    assert_eq!(knobs.sender.as_str(), "noreply@shop.example");
    assert_eq!(knobs.language, Language::Ja);
    assert_eq!(knobs.public_url, None);
    assert_eq!(knobs.policy(), Policy::default());
    assert_eq!(knobs.retention(), mallguard_aws::dynamodb::DEFAULT_RETENTION);
    let code = ProductKey::parse("rakuten-item-77").unwrap();
    assert_eq!(knobs.products().unwrap().resolve(&code), code);
}

#[test]
fn the_knobs_read_their_mallguard_variables() {
    let _env = environment(&[
        ("MALLGUARD_SHOP_NAME", "田中商店"),
        ("MALLGUARD_STAFF_EMAIL", "orders@tanaka.example"),
        ("MALLGUARD_LANGUAGE", "en"),
        ("MALLGUARD_WINDOW_HOURS", "72"),
        ("MALLGUARD_REMIND", "false"),
        ("MALLGUARD_SHIPPING_CUTOFF", "13:30"),
        ("MALLGUARD_PRODUCT_MAP", r#"{"rakuten-item-77": "SKU-A"}"#),
    ]);
    let knobs = Knobs::from_env().unwrap();
    assert_eq!(knobs.shop_name, "田中商店");
    assert_eq!(knobs.staff_email.as_str(), "orders@tanaka.example");
    assert_eq!(knobs.language, Language::En);
    let policy = knobs.policy();
    assert_eq!(policy.window, SignedDuration::from_hours(72));
    assert!(!policy.remind);
    assert_eq!(policy.shipping_cutoff, jiff::civil::time(13, 30, 0, 0));
    let code = ProductKey::parse("rakuten-item-77").unwrap();
    assert_eq!(knobs.products().unwrap().resolve(&code).as_str(), "SKU-A");
}

#[test]
fn a_bad_knob_value_names_its_variable() {
    let cases = [
        ("MALLGUARD_WINDOW_HOURS", "two days"),
        ("MALLGUARD_ANSWER_HOURS", "0"),
        ("MALLGUARD_STAFF_EMAIL", "staff at shop"),
        ("MALLGUARD_LANGUAGE", "fr"),
        ("MALLGUARD_REMIND", "maybe"),
        ("MALLGUARD_SHIPPING_CUTOFF", "3pm"),
        ("MALLGUARD_RETENTION_DAYS", "-1"),
        ("MALLGUARD_PRODUCT_MAP", "/nonexistent/products.json"),
    ];
    for (name, value) in cases {
        let _env = environment(&[(name, value)]);
        let err = Knobs::from_env().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{name}: {err:?}");
        assert!(err.to_string().starts_with(name), "{name}={value}: {err}");
    }
}

#[tokio::test]
// The environment lock is held across the awaits on purpose: the cold start reads the environment.
#[allow(clippy::await_holding_lock)]
async fn a_cold_start_reads_the_environment_and_the_secret_from_secrets_manager() {
    let endpoint = std::env::var("MALLGUARD_TEST_SES")
        .unwrap_or_else(|_| panic!("moto is not running: run the tests with `bash tests/run`"));
    let sdk = mallguard_aws::sdk::loader().endpoint_url(&endpoint).load().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let secret_id = format!("mallguard/test/cold-start-{nanos}");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(r#"{"identity_pepper": "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTMyYg==", "link_key": "bGluay1rZXktbGluay1rZXktbGluay1rZXktMzJieXQ="}"#)
        .send()
        .await
        .expect("moto creates the secret");

    {
        let _env = environment(&[
            ("MALLGUARD_TABLE", "mallguard-test"),
            ("MALLGUARD_PUBLIC_URL", "https://c.example"),
        ]);
        let err = Deployment::load(&sdk).await.unwrap_err();
        assert_eq!(err.to_string(), "MALLGUARD_SECRET_ID is not set");
    }

    let _env = environment(&[
        ("MALLGUARD_TABLE", "mallguard-test"),
        ("MALLGUARD_SECRET_ID", &secret_id),
        ("MALLGUARD_PUBLIC_URL", "https://confirm.tanaka.example/"),
        ("MALLGUARD_SHOP_NAME", "田中商店"),
    ]);
    let deployment = Deployment::load(&sdk).await.unwrap();
    assert_eq!(deployment.aws.table, "mallguard-test");
    assert_eq!(deployment.settings.shop.name, "田中商店");
    assert_eq!(deployment.settings.shop.public_url, "https://confirm.tanaka.example");
    assert!(deployment.secrets.webhooks().generic().is_empty());
    assert_eq!(
        deployment.mailer(&sdk).from_header(),
        "=?UTF-8?B?55Sw5Lit5ZWG5bqX?= <noreply@shop.example>"
    );
}

/// A deployed function builds its SDK configuration from what Lambda puts in its environment alone: the
/// region, the role's credentials with their session token, and a service's own endpoint variable.
#[tokio::test]
// The environment lock is held across the awaits on purpose: the configuration reads the environment.
#[allow(clippy::await_holding_lock)]
async fn a_function_s_sdk_configuration_is_what_lambda_puts_in_its_environment() {
    use aws_credential_types::provider::ProvideCredentials as _;
    let endpoint = std::env::var("MALLGUARD_TEST_SES")
        .unwrap_or_else(|_| panic!("moto is not running: run the tests with `bash tests/run`"));
    let _env = environment(&[
        ("AWS_REGION", "ap-northeast-1"),
        ("AWS_ACCESS_KEY_ID", "ASIALAMBDAROLE"),
        ("AWS_SECRET_ACCESS_KEY", "role-secret"),
        ("AWS_SESSION_TOKEN", "role-session"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint),
    ]);
    let sdk = mallguard_aws::sdk::lambda();
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("ap-northeast-1"));
    let credentials = sdk
        .credentials_provider()
        .expect("credentials from the environment")
        .provide_credentials()
        .await
        .unwrap();
    assert_eq!(
        (credentials.access_key_id(), credentials.session_token()),
        ("ASIALAMBDAROLE", Some("role-session"))
    );
    // Secrets Manager is reached at its own endpoint variable: moto answers.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let made = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(format!("mallguard/test/lambda-config-{nanos}"))
        .secret_string("{}")
        .send()
        .await
        .expect("moto answers at AWS_ENDPOINT_URL_SECRETS_MANAGER");
    assert!(made.arn().is_some_and(|arn| arn.contains("lambda-config")));
}
