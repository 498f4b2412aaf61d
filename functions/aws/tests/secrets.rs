//! The secrets loaded from Secrets Manager, against moto in server mode (started by `bash tests/run`;
//! moto serves Secrets Manager on the same port as SES).

use mallguard_aws::config::{ConfigError, Secrets};

fn moto() -> String {
    std::env::var("MALLGUARD_TEST_SES")
        .unwrap_or_else(|_| panic!("moto is not running: run the tests with `bash tests/run`"))
}

async fn client() -> aws_sdk_secretsmanager::Client {
    let config = mallguard_aws::sdk::loader().endpoint_url(moto()).load().await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// A secret name no other test uses: moto's state is shared by every test of the run.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mallguard/test/{name}-{nanos}")
}

async fn create(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret");
}

const SECRET: &str = r#"{
  "identity_pepper": "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTMyYg==",
  "link_key": "bGluay1rZXktbGluay1rZXktbGluay1rZXktMzJieXQ=",
  "shopify": {"suzuki-shop": "shpss_default", "tanaka-shop": "shpss_tanaka"},
  "generic": ["whsec_bmV3ZXN0", "whsec_b2xkZXI="]
}"#;

#[tokio::test]
async fn a_secret_in_secrets_manager_loads_into_the_secrets() {
    let client = client().await;
    let name = unique("good");
    create(&client, &name, SECRET).await;

    let secrets = Secrets::load(&client, &name).await.unwrap();
    assert_eq!(secrets.identity_pepper(), b"pepper-pepper-pepper-pepper-32b");
    assert_eq!(secrets.link_key(), b"link-key-link-key-link-key-32byt");
    use secrecy::ExposeSecret;
    let webhooks = secrets.webhooks();
    let shopify = |shop| webhooks.shopify_for(Some(shop)).map(|s| s.expose_secret().to_vec());
    assert_eq!(shopify("tanaka-shop").as_deref(), Some(&b"shpss_tanaka"[..]));
    assert_eq!(shopify("suzuki-shop").as_deref(), Some(&b"shpss_default"[..]));
    assert_eq!(
        shopify("other-shop"),
        None,
        "a shop that is not configured has no secret"
    );
    let generic: Vec<&str> = webhooks.generic().iter().map(|s| s.expose_secret()).collect();
    assert_eq!(generic, ["whsec_bmV3ZXN0", "whsec_b2xkZXI="]);
    let debug = format!("{secrets:?}");
    assert!(!debug.contains("shpss_") && !debug.contains("whsec_"), "{debug}");
}

#[tokio::test]
async fn a_malformed_secret_gives_a_clear_error_that_quotes_no_secret() {
    let client = client().await;
    let name = unique("malformed");
    create(
        &client,
        &name,
        r#"{"identity_pepper": "cGVwcGVyLXBlcHBlci1wZXBwZXItcGVwcGVyLTMyYg==", "link_key": "bGluay1rZXktbGluay1rZXktbGluay1rZXktMzJieXQ=", "generic": "whsec_topsecret"}"#,
    )
    .await;

    let err = Secrets::load(&client, &name).await.unwrap_err();
    assert!(matches!(err, ConfigError::BadSecret { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("the secret {name} is not valid: invalid type: string")),
        "{message}"
    );
    assert!(message.contains("expected a sequence"), "{message}");
    assert!(!message.contains("topsecret"), "{message}");

    let name = unique("not-json");
    create(&client, &name, "identity_pepper=abc").await;
    let message = Secrets::load(&client, &name).await.unwrap_err().to_string();
    assert!(message.contains("is not valid: not JSON"), "{message}");
}

#[tokio::test]
async fn a_missing_secret_is_unavailable_and_named() {
    let name = unique("missing");
    let err = Secrets::load(&client().await, &name).await.unwrap_err();
    assert!(matches!(err, ConfigError::SecretUnavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("the secret {name} could not be read: ")),
        "{err}"
    );
}

fn rotated(value: &str) -> mallguard_domain::feed::RotatedCredential {
    mallguard_domain::feed::RotatedCredential {
        mall: mallguard_domain::ids::Mall::Yahoo,
        shop: mallguard_domain::ids::ShopId::parse("tanaka-yahoo").unwrap(),
        field: "refresh_token",
        value: value.to_owned().into(),
    }
}

fn with_yahoo() -> String {
    let mut secret: serde_json::Value = serde_json::from_str(SECRET).unwrap();
    secret["yahoo"] = serde_json::json!({
        "tanaka-yahoo": {"client_id": "dj0-app", "client_secret": "app-secret", "refresh_token": "old-token"}
    });
    secret.to_string()
}

#[tokio::test]
async fn a_rotated_refresh_token_is_written_back_to_the_secret_once() {
    use mallguard_aws::keeper::SecretsManagerKeeper;
    use mallguard_domain::feed::CredentialKeeper;
    use secrecy::ExposeSecret;

    let client = client().await;
    let name = unique("rotated");
    create(&client, &name, &with_yahoo()).await;
    let keeper = SecretsManagerKeeper::new(client.clone(), &name);

    assert!(keeper.keep(&rotated("new-token")).await.unwrap(), "written");
    let secrets = Secrets::load(&client, &name).await.unwrap();
    let yahoo = &secrets.yahoo()["tanaka-yahoo"];
    assert_eq!(yahoo.refresh_token.expose_secret(), "new-token");
    assert_eq!(yahoo.client_secret.expose_secret(), "app-secret", "the rest is kept");
    assert_eq!(secrets.link_key(), b"link-key-link-key-link-key-32byt");

    // The secret holds it now: nothing is written again.
    let versions = |c: aws_sdk_secretsmanager::Client, n: String| async move {
        c.list_secret_version_ids()
            .secret_id(n)
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    };
    let before = versions(client.clone(), name.clone()).await;
    assert!(!keeper.keep(&rotated("new-token")).await.unwrap());
    assert_eq!(versions(client.clone(), name.clone()).await, before);

    // A shop the secret does not hold is an error, not a write.
    let mut stranger = rotated("x");
    stranger.shop = mallguard_domain::ids::ShopId::parse("someone-else").unwrap();
    let error = keeper.keep(&stranger).await.unwrap_err();
    assert!(error.contains("someone-else"), "{error}");
    assert!(!error.contains("new-token"));
}

#[tokio::test]
async fn a_write_back_that_loses_a_race_is_done_again_from_the_new_version() {
    use mallguard_aws::keeper::SecretsManagerKeeper;
    use mallguard_domain::feed::CredentialKeeper;
    use secrecy::ExposeSecret;

    let client = client().await;
    let name = unique("race");
    create(&client, &name, &with_yahoo()).await;
    // Two processes rotate at once (each with the token its refresh returned): both writes land in turn,
    // and the secret ends with one of them and every other field intact.
    let (a, b) = (
        SecretsManagerKeeper::new(client.clone(), &name),
        SecretsManagerKeeper::new(client.clone(), &name),
    );
    let (ra, rb) = (rotated("token-a"), rotated("token-b"));
    let (first, second) = tokio::join!(a.keep(&ra), b.keep(&rb));
    assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
    let secrets = Secrets::load(&client, &name).await.unwrap();
    let token = secrets.yahoo()["tanaka-yahoo"].refresh_token.expose_secret().to_owned();
    assert!(token == "token-a" || token == "token-b", "{token}");
    assert_eq!(secrets.yahoo()["tanaka-yahoo"].client_id.expose_secret(), "dj0-app");
}
