//! Configuration of the deployed functions, read once per cold start:
//!
//! - [`Knobs`]: the shop and its policy, one `MALLGUARD_*` environment variable each. It is a
//!   `clap::Args` struct, so the `mallguard` program flattens the very same definitions into its
//!   command line: every knob has one definition, and the CLI and the functions read the same
//!   variables.
//! - [`AwsConfig`]: where the function's resources are (table, secret, SES configuration set) and the
//!   public URL of the buyer's page; required in Lambda.
//! - [`Secrets`]: the identity pepper, the link-signing key and the webhook secrets, from one AWS
//!   Secrets Manager secret, never from the template or the repository.
//!
//! [`Deployment::load`] puts them together and fails fast with a message that names the variable (or
//! the secret) at fault, so a misconfigured function fails its first invocation rather than later.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, CommandFactory, Parser};
use jiff::SignedDuration;
use jiff::civil::Time;
use mallguard_domain::Language;
use mallguard_domain::bundle::Bundling;
use mallguard_domain::identity::{IdentityHasher, ProductMap};
use mallguard_domain::ids::ProductKey;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::policy::{Policy, ShopProfile};
use mallguard_domain::service::Settings;
use mallguard_domain::staff::StaffList;
use mallguard_malls::WebhookSecrets;
use mallguard_malls::inbound::WebhookSecretsJson;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};

use crate::ses::SesMailer;

/// The DynamoDB table name.
pub const TABLE_VAR: &str = "MALLGUARD_TABLE";
/// The id (name or ARN) of the Secrets Manager secret holding [`Secrets`].
pub const SECRET_ID_VAR: &str = "MALLGUARD_SECRET_ID";
/// The SES configuration set whose event destination feeds `mail-events` (optional).
pub const CONFIGURATION_SET_VAR: &str = "MALLGUARD_CONFIGURATION_SET";
/// The public base URL of the respond function: where the links in notices point.
pub const PUBLIC_URL_VAR: &str = "MALLGUARD_PUBLIC_URL";

/// Keys shorter than this are refused: an HMAC key or pepper of a few bytes protects nothing.
const MIN_KEY_BYTES: usize = 16;

/// What is wrong with the configuration; every message names the variable, flag or secret at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is not set")]
    Missing { variable: String },
    #[error("{variable}: {reason}")]
    Invalid { variable: String, reason: String },
    /// The secret could not be read (permissions, network, no such secret).
    #[error("the secret {secret_id} could not be read: {reason}")]
    SecretUnavailable { secret_id: String, reason: String },
    /// The secret was read but does not hold what [`Secrets`] documents. Never quotes secret values.
    #[error("the secret {secret_id} is not valid: {reason}")]
    BadSecret { secret_id: String, reason: String },
}

/// The shop and its policy. Every knob is a flag with a `MALLGUARD_*` environment variable; the
/// deployed functions read the variables ([`Knobs::from_env`]), the `mallguard` program flattens this
/// struct into its command line.
#[derive(Debug, Clone, Args)]
pub struct Knobs {
    /// The shop's name in mails and pages (also the sender's display name).
    #[arg(long, env = "MALLGUARD_SHOP_NAME", default_value = "サンプル商店")]
    pub shop_name: String,
    /// Where buyers reach the shop (also the Reply-To of SES mails).
    #[arg(long, env = "MALLGUARD_CONTACT_EMAIL", default_value = "support@shop.example")]
    pub contact_email: EmailAddress,
    /// The shop's phone number, shown to buyers in mails and pages when set.
    #[arg(long, env = "MALLGUARD_CONTACT_PHONE")]
    pub contact_phone: Option<String>,
    /// Where staff alerts go.
    #[arg(long, env = "MALLGUARD_STAFF_EMAIL", default_value = "staff@shop.example")]
    pub staff_email: EmailAddress,
    /// Who may sign in to the console: addresses separated by commas (the staff alert address when unset).
    #[arg(long, env = "MALLGUARD_STAFF_ADDRESSES", value_parser = staff_list)]
    pub staff_addresses: Option<StaffList>,
    /// The console's public base URL, for the sign-in links it mails (locally: default the serve address;
    /// on Lambda: default the Function URL the request came in on).
    #[arg(long, env = "MALLGUARD_CONSOLE_URL")]
    pub console_url: Option<String>,
    /// The From address of every mail (an identity verified in SES).
    #[arg(long, env = "MALLGUARD_SENDER", default_value = "noreply@shop.example")]
    pub sender: EmailAddress,
    /// ja or en: the language of mails and pages.
    #[arg(long, env = "MALLGUARD_LANGUAGE", default_value = "ja")]
    pub language: Language,
    /// The public base URL of the buyer's page (locally: default the serve address; required in Lambda).
    #[arg(long, env = PUBLIC_URL_VAR)]
    pub public_url: Option<String>,
    /// Hours apart two orders may be placed and still be suspected duplicates.
    #[arg(long, env = "MALLGUARD_WINDOW_HOURS", default_value_t = 48, value_parser = hours)]
    pub window_hours: i64,
    /// Hours the buyer has to answer.
    #[arg(long, env = "MALLGUARD_ANSWER_HOURS", default_value_t = 24, value_parser = hours)]
    pub answer_hours: i64,
    /// Send a reminder at half time (the default; `--no-remind` sends none).
    #[arg(
        long,
        env = "MALLGUARD_REMIND",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        overrides_with = "no_remind",
        value_name = "BOOL",
        hide_possible_values = true
    )]
    pub remind: bool,
    /// Send no reminder at half time.
    #[arg(long, overrides_with = "remind")]
    pub no_remind: bool,
    /// Days the carrier needs, for requested delivery dates.
    #[arg(long, env = "MALLGUARD_TRANSIT_DAYS", default_value_t = 1, value_parser = transit_days)]
    pub transit_days: i64,
    /// The daily shipping cut-off, JST (HH:MM).
    #[arg(long, env = "MALLGUARD_SHIPPING_CUTOFF", default_value = "15:00")]
    pub shipping_cutoff: Time,
    /// Amazon: cancel unanswered holds automatically at the deadline. Off by default: the staff get the
    /// customer-service case text and the hold waits for them.
    #[arg(
        long,
        env = "MALLGUARD_AMAZON_AUTO_CANCEL",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_name = "BOOL",
        hide_possible_values = true
    )]
    pub amazon_auto_cancel: bool,
    /// Amazon, with automatic cancellation: ask Amazon's customer service first and cancel only at a
    /// second deadline.
    #[arg(
        long,
        env = "MALLGUARD_AMAZON_FALLBACK_FIRST",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        overrides_with = "no_amazon_fallback_first",
        value_name = "BOOL",
        hide_possible_values = true
    )]
    pub amazon_fallback_first: bool,
    /// Amazon: cancel at the deadline like other malls (the default).
    #[arg(long, overrides_with = "amazon_fallback_first")]
    pub no_amazon_fallback_first: bool,
    /// The shortest time the buyer gets to answer, in minutes, even when a requested delivery date's
    /// shipping cut-off is nearer or already past.
    #[arg(long, env = "MALLGUARD_MIN_ANSWER_MINUTES", default_value_t = 60, value_parser = minutes)]
    pub min_answer_minutes: i64,
    /// Hours (JST) when no notice goes to a mobile carrier's address (docomo, au, SoftBank, …): `21:00-08:00`,
    /// or `off`. The notice goes out when they end, and the buyer's deadline moves with it.
    #[arg(long, env = "MALLGUARD_QUIET_HOURS", default_value = "21:00-08:00", value_parser = quiet_hours)]
    pub quiet_hours: QuietHoursSetting,
    /// 同梱: whether one buyer's open orders to one address ship together, `off`, `all`, or the malls whose
    /// orders the warehouse packs together (`rakuten,yahoo,own`). The buyer's receipt says so.
    #[arg(long, env = "MALLGUARD_BUNDLE", default_value = "off", value_parser = bundling)]
    pub bundle: Bundling,
    /// Days personal data is kept after it was last written (the DynamoDB TTL).
    #[arg(long, env = "MALLGUARD_RETENTION_DAYS", default_value_t = 180, value_parser = retention_days)]
    pub retention_days: i64,
    /// Mall item codes to the shop's product codes, {"rakuten-item-77": "SKU-A"}: a JSON file, or the
    /// JSON object itself (handy in a function's environment).
    #[arg(long, env = "MALLGUARD_PRODUCT_MAP")]
    pub product_map: Option<String>,
}

fn bundling(raw: &str) -> Result<Bundling, String> {
    raw.parse()
}

fn staff_list(raw: &str) -> Result<StaffList, String> {
    let list = StaffList::parse(raw)?;
    if list.is_empty() {
        return Err("expected at least one mail address".into());
    }
    Ok(list)
}

impl Knobs {
    /// Who may sign in to the console: the list given, else the address the staff alerts go to.
    pub fn staff_list(&self) -> StaffList {
        self.staff_addresses
            .clone()
            .unwrap_or_else(|| StaffList::new(vec![self.staff_email.clone()]))
    }
}

/// The quiet hours as set: `off`, or two JST times `HH:MM-HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHoursSetting(pub Option<mallguard_domain::policy::QuietHours>);

fn quiet_hours(raw: &str) -> Result<QuietHoursSetting, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(QuietHoursSetting(None));
    }
    let refused = || format!("expected `off` or two times HH:MM-HH:MM (JST), not {raw:?}");
    let (from, until) = raw.split_once('-').ok_or_else(refused)?;
    let time = |t: &str| t.trim().parse::<Time>().map_err(|_| refused());
    let (from, until) = (time(from)?, time(until)?);
    if from == until {
        return Err(refused());
    }
    Ok(QuietHoursSetting(Some(mallguard_domain::policy::QuietHours {
        from,
        until,
    })))
}

/// A whole number of hours, at least one: a zero window or answer time would hold nothing or cancel at once.
fn hours(raw: &str) -> Result<i64, String> {
    match raw.trim().parse::<i64>() {
        // A year bounds the arithmetic on timestamps far below jiff's limits.
        Ok(h) if (1..=24 * 366).contains(&h) => Ok(h),
        _ => Err("expected a whole number of hours from 1 to 8784".into()),
    }
}

/// Minutes of the shortest answer time: at least five (a buyer must be able to read the mail), at most a day.
fn minutes(raw: &str) -> Result<i64, String> {
    match raw.trim().parse::<i64>() {
        Ok(m) if (5..=24 * 60).contains(&m) => Ok(m),
        _ => Err("expected a whole number of minutes from 5 to 1440".into()),
    }
}

/// Carrier days: a requested delivery date is at most a few weeks ahead.
fn transit_days(raw: &str) -> Result<i64, String> {
    match raw.trim().parse::<i64>() {
        Ok(d) if (0..=30).contains(&d) => Ok(d),
        _ => Err("expected a whole number of days from 0 to 30".into()),
    }
}

/// Retention days: at least one, at most ten years (the evidence of a dispute is rarely older).
fn retention_days(raw: &str) -> Result<i64, String> {
    match raw.trim().parse::<i64>() {
        Ok(d) if (1..=3660).contains(&d) => Ok(d),
        _ => Err("expected a whole number of days from 1 to 3660".into()),
    }
}

/// Parses [`Knobs`] alone, from the environment.
#[derive(Debug, Parser)]
#[command(name = "mallguard-function")]
struct KnobsFromEnv {
    #[command(flatten)]
    knobs: Knobs,
}

impl Knobs {
    /// The knobs from the `MALLGUARD_*` variables alone (no command line), checked: a bad value fails
    /// here, naming its variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let knobs = KnobsFromEnv::try_parse_from(["mallguard-function"])
            .map_err(env_error)?
            .knobs;
        // Read the product map now, so a bad one fails the cold start and not the first order.
        knobs.products()?;
        Ok(knobs)
    }

    /// The policy numbers.
    pub fn policy(&self) -> Policy {
        Policy {
            window: SignedDuration::from_hours(self.window_hours),
            answer_within: SignedDuration::from_hours(self.answer_hours),
            remind: self.remind && !self.no_remind,
            transit_days: self.transit_days,
            shipping_cutoff: self.shipping_cutoff,
            amazon_auto_cancel: self.amazon_auto_cancel,
            amazon_fallback_first: self.amazon_fallback_first && !self.no_amazon_fallback_first,
            minimum_answer_time: SignedDuration::from_mins(self.min_answer_minutes),
            quiet_hours: self.quiet_hours.0,
            bundling: self.bundle.clone(),
            ..Policy::default()
        }
    }

    /// How long personal data is kept after its last write.
    pub fn retention(&self) -> SignedDuration {
        SignedDuration::from_hours(self.retention_days * 24)
    }

    /// The product-code map: empty without `MALLGUARD_PRODUCT_MAP`.
    pub fn products(&self) -> Result<ProductMap, ConfigError> {
        let Some(source) = self.product_map.as_deref().map(str::trim) else {
            return Ok(ProductMap::default());
        };
        let invalid = |reason: String| ConfigError::Invalid {
            variable: "MALLGUARD_PRODUCT_MAP (--product-map)".into(),
            reason,
        };
        let text = if source.starts_with('{') {
            source.as_bytes().to_vec()
        } else {
            std::fs::read(source).map_err(|e| invalid(format!("{source}: {e}")))?
        };
        let map: BTreeMap<ProductKey, ProductKey> = serde_json::from_slice(&text)
            .map_err(|e| invalid(format!("{source}: not a JSON object of product codes: {e}")))?;
        Ok(ProductMap::new(map))
    }

    /// The shop as buyers and staff read about it; `public_url` unless `MALLGUARD_PUBLIC_URL` is set.
    pub fn shop(&self, public_url: String) -> ShopProfile {
        ShopProfile {
            name: self.shop_name.clone(),
            contact_email: self.contact_email.clone(),
            contact_phone: self.contact_phone.clone().filter(|p| !p.trim().is_empty()),
            staff_email: self.staff_email.clone(),
            public_url: self
                .public_url
                .clone()
                .unwrap_or(public_url)
                .trim_end_matches('/')
                .to_owned(),
            language: self.language,
        }
    }

    /// The use cases' settings: these knobs with the secrets.
    pub fn settings(&self, secrets: &Secrets, public_url: String) -> Result<Settings, ConfigError> {
        Ok(Settings {
            hasher: IdentityHasher::new(secrets.identity_pepper().to_vec()),
            signer: mallguard_domain::token::LinkSigner::new(secrets.link_key().to_vec()),
            products: self.products()?,
            policy: self.policy(),
            shop: self.shop(public_url),
        })
    }

    /// An SES mailer that sends as the shop: `shop name <sender>`, answers to the contact address.
    pub fn ses_mailer(&self, client: aws_sdk_sesv2::Client, configuration_set: Option<String>) -> SesMailer {
        SesMailer::new(client, self.sender.clone(), configuration_set)
            .with_display_name(&self.shop_name)
            .with_reply_to(self.contact_email.clone())
    }
}

/// How long one send may take in all, retries included. Mail is sent inside the request that decided it
/// (a mall's webhook: Shopify gives up after about five seconds): a send that does not finish in time stays
/// pending, and the sweep sends it.
pub const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The SES client of a deployment: `sdk`'s, with every send bounded by [`SEND_TIMEOUT`].
pub fn ses_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sesv2::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(2))
        .operation_timeout(SEND_TIMEOUT)
        .build();
    let config = aws_sdk_sesv2::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// A clap error about the environment, as a [`ConfigError`] naming the variable (and its flag).
fn env_error(err: clap::Error) -> ConfigError {
    use clap::error::{ContextKind, ContextValue};
    let args: Vec<String> = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => vec![],
    };
    let command = KnobsFromEnv::command();
    let variables: Vec<String> = args
        .iter()
        .filter_map(|arg| {
            // `--window-hours <WINDOW_HOURS>` → `window-hours`
            let long = arg.split_whitespace().next()?.trim_start_matches('-');
            let found = command.get_arguments().find(|a| a.get_long() == Some(long))?;
            let env = found.get_env()?.to_string_lossy().into_owned();
            Some(format!("{env} (--{long})"))
        })
        .collect();
    let rendered = err.to_string();
    let reason = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    ConfigError::Invalid {
        variable: if variables.is_empty() {
            "the MALLGUARD_* environment".into()
        } else {
            variables.join(", ")
        },
        reason,
    }
}

/// Where a deployed function's resources are. Every variable is required except the configuration set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// `MALLGUARD_TABLE`: the DynamoDB table.
    pub table: String,
    /// `MALLGUARD_SECRET_ID`: the Secrets Manager secret holding [`Secrets`].
    pub secret_id: String,
    /// `MALLGUARD_CONFIGURATION_SET`: the SES configuration set, when mail events are wanted.
    pub configuration_set: Option<String>,
    /// `MALLGUARD_PUBLIC_URL`: the public base URL of the respond function.
    pub public_url: String,
}

impl AwsConfig {
    /// From the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From any lookup of variables (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &str| {
            get(name).ok_or_else(|| ConfigError::Missing {
                variable: name.to_owned(),
            })
        };
        let public_url = required(PUBLIC_URL_VAR)?;
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                variable: PUBLIC_URL_VAR.into(),
                reason: "must be an http(s) URL".into(),
            });
        }
        Ok(Self {
            table: required(TABLE_VAR)?,
            secret_id: required(SECRET_ID_VAR)?,
            configuration_set: get(CONFIGURATION_SET_VAR),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// The secrets of one deployment.
///
/// Stored as one JSON secret string in AWS Secrets Manager (the secret named by
/// `MALLGUARD_SECRET_ID`), and locally as `secrets.json` in the data folder, in this shape:
///
/// ```json
/// {
///   "identity_pepper": "<base64 of at least 16 random bytes: keys the identity hashes>",
///   "link_key": "<base64 of at least 16 random bytes: signs the links in notices>",
///   "shopify": { "tanaka-shop": "<this shop's Shopify app secret>" },
///   "generic": ["whsec_<Standard Webhooks secret>", "whsec_<the previous one, while rotating>"],
///   "rakuten": { "tanaka-rakuten": { "service_secret": "SP…", "license_key": "SL…",
///                "smtp": { "user": "…", "password": "…", "from": "shop@…" } } },
///   "yahoo": { "tanaka-yahoo": { "client_id": "…", "client_secret": "…", "refresh_token": "…",
///              "public_key_pem": "-----BEGIN PUBLIC KEY-----…", "public_key_version": "1" } },
///   "amazon": { "A1EXAMPLESELLER": { "client_id": "amzn1.application-oa2-client.…", "client_secret": "…",
///               "refresh_token": "Atzr|…" } },
///   "shopify_admin": { "tanaka-shop": { "access_token": "shpat_…", "refund": "original", "restock": true } }
/// }
/// ```
///
/// `yahoo` holds each Yahoo! store's (seller id's) Yahoo! ID連携 app credentials and refresh token, and
/// optionally the store API's public key for 公開鍵認証 (without it the order API's session lasts 12 hours).
///
/// `shopify_admin` gives mallguard a Shopify shop's Admin API, to hold, release and cancel its orders there
/// (without it, the staff do so by hand); a Rakuten shop's optional `hold_sub_status` does the same for holds
/// at Rakuten.
///
/// `amazon` holds each Amazon seller's (by its seller id, the `SellerId` of Amazon's notifications) SP-API
/// app credentials and the refresh token of the seller's authorisation.
///
/// `rakuten` holds the RMS WEB SERVICE credentials of each Rakuten shop the poller reads (the shop id is
/// the one its orders are filed under); the licenseKey expires every 90 days and is replaced here.
///
/// The deployment template creates the secret with a generated `master_key` instead of the two keys:
/// each missing key is then derived from it (HMAC-SHA256 of the master key over the key's purpose), so
/// a fresh stack works at once and no key is ever typed by hand. A key given explicitly wins, which is
/// how one is rotated without touching the other.
///
/// `shopify` and `generic` are the [`WebhookSecrets`]: `shopify` maps each shop id (the `….myshopify.com`
/// subdomain) to its app secret; `generic` lists the
/// secrets accepted on `/webhooks/generic`, any of which may match, so a secret can be rotated without a
/// gap. Both may be empty (no such route in use). Unknown fields are refused, so a misspelt name fails
/// the cold start instead of silently disabling a route.
///
/// Changing the identity pepper orphans every stored identity key: rotate it only with a re-index.
/// `Debug` prints no secret.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "SecretsJson", into = "SecretsJson")]
pub struct Secrets {
    identity_pepper: SecretSlice<u8>,
    link_key: SecretSlice<u8>,
    webhooks: WebhookSecrets,
    rakuten: BTreeMap<String, RakutenSecret>,
    yahoo: BTreeMap<String, YahooSecret>,
    amazon: BTreeMap<String, AmazonSecret>,
    shopify_admin: BTreeMap<String, ShopifyAdminSecret>,
}

/// What mallguard may do in one Shopify shop through the Admin API: its access token (a custom app's, with
/// the fulfillment-order and order write scopes) and how a cancelled order is refunded and restocked.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyAdminSecret {
    #[serde(serialize_with = "expose")]
    pub access_token: SecretString,
    /// How a cancelled order's payment goes back: `original` (to the payment method), `store_credit`, or
    /// `none` (the shop refunds by hand).
    #[serde(default = "default_refund")]
    pub refund: String,
    /// Whether a cancelled order's items go back to stock.
    #[serde(default = "default_true")]
    pub restock: bool,
}

fn default_refund() -> String {
    "original".to_owned()
}

fn default_true() -> bool {
    true
}

impl PartialEq for ShopifyAdminSecret {
    fn eq(&self, other: &Self) -> bool {
        self.access_token.expose_secret() == other.access_token.expose_secret()
            && self.refund == other.refund
            && self.restock == other.restock
    }
}

/// The SP-API credentials of one Amazon seller: the Login with Amazon app's client id and secret, and the
/// refresh token the seller's authorisation of the app gave (it does not expire, but is revoked when the
/// seller removes the app or the app's client secret is rotated).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonSecret {
    pub client_id: String,
    #[serde(serialize_with = "expose")]
    pub client_secret: SecretString,
    #[serde(serialize_with = "expose")]
    pub refresh_token: SecretString,
}

impl PartialEq for AmazonSecret {
    fn eq(&self, other: &Self) -> bool {
        self.client_id == other.client_id
            && self.client_secret.expose_secret() == other.client_secret.expose_secret()
            && self.refresh_token.expose_secret() == other.refresh_token.expose_secret()
    }
}

/// The Yahoo! ID連携 credentials of one Yahoo! store, and its store API public key when set up.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YahooSecret {
    #[serde(serialize_with = "expose")]
    pub client_id: SecretString,
    #[serde(serialize_with = "expose")]
    pub client_secret: SecretString,
    #[serde(serialize_with = "expose")]
    pub refresh_token: SecretString,
    #[serde(default, serialize_with = "expose_option", skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<SecretString>,
    #[serde(default, serialize_with = "expose_option", skip_serializing_if = "Option::is_none")]
    pub public_key_version: Option<SecretString>,
    /// When the store consented (RFC 3339): its refresh token lives four weeks from then, and the staff are
    /// warned two weeks ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_at: Option<jiff::Timestamp>,
}

fn expose_option<S: serde::Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

impl PartialEq for YahooSecret {
    fn eq(&self, other: &Self) -> bool {
        let text = |s: &SecretString| s.expose_secret().to_owned();
        let maybe = |s: &Option<SecretString>| s.as_ref().map(text);
        text(&self.client_id) == text(&other.client_id)
            && text(&self.client_secret) == text(&other.client_secret)
            && text(&self.refresh_token) == text(&other.refresh_token)
            && maybe(&self.public_key_pem) == maybe(&other.public_key_pem)
            && maybe(&self.public_key_version) == maybe(&other.public_key_version)
            && self.authorized_at == other.authorized_at
    }
}

/// The RMS WEB SERVICE credentials of one Rakuten shop.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RakutenSecret {
    #[serde(serialize_with = "expose")]
    pub service_secret: SecretString,
    #[serde(serialize_with = "expose")]
    pub license_key: SecretString,
    /// The name of the sub-status (サブステータス) the shop created in RMS for orders mallguard holds, e.g.
    /// `mallguard保留`: RMS has no hold, so a held order is marked with it (and a memo) for the shop's
    /// shipping flow to respect. Without it, holds at Rakuten stay with the staff; cancellations do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_sub_status: Option<String>,
    /// The shop's login to Rakuten's mail relay (あんしんメルアド): mail to a buyer's masked address is
    /// delivered only through it. Without it such a notice goes through SES and does not arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<RakutenSmtpSecret>,
}

/// A Rakuten shop's relay login, from R-Login's メールサーバ設定情報.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RakutenSmtpSecret {
    pub user: String,
    #[serde(serialize_with = "expose")]
    pub password: SecretString,
    /// The shop's address registered with Rakuten (店舗連絡先 or 注文確認メール送り先): the relay sends only from it.
    pub from: String,
    /// The relay's host, when R-Login shows another than the usual one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

impl PartialEq for RakutenSmtpSecret {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user
            && self.password.expose_secret() == other.password.expose_secret()
            && self.from == other.from
            && self.host == other.host
            && self.port == other.port
    }
}

fn expose<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}

impl PartialEq for RakutenSecret {
    fn eq(&self, other: &Self) -> bool {
        self.service_secret.expose_secret() == other.service_secret.expose_secret()
            && self.license_key.expose_secret() == other.license_key.expose_secret()
            && self.hold_sub_status == other.hold_sub_status
            && self.smtp == other.smtp
    }
}

/// The JSON shape of [`Secrets`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_pepper: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_key: Option<String>,
    /// What the deployment template generates: the two keys are derived from it unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    master_key: Option<String>,
    #[serde(default)]
    shopify: BTreeMap<String, String>,
    #[serde(default)]
    generic: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    rakuten: BTreeMap<String, RakutenSecret>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    yahoo: BTreeMap<String, YahooSecret>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    amazon: BTreeMap<String, AmazonSecret>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    shopify_admin: BTreeMap<String, ShopifyAdminSecret>,
}

/// A key derived from the generated master key, one per purpose, so that knowing one key tells nothing
/// about the other.
fn derive_key(master: &str, purpose: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(master.as_bytes()).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl TryFrom<SecretsJson> for Secrets {
    type Error = String;
    fn try_from(json: SecretsJson) -> Result<Self, String> {
        // The messages name the field, never its value.
        let master = json.master_key.as_deref().map(str::trim).filter(|m| !m.is_empty());
        if master.is_some_and(|m| m.len() < MIN_KEY_BYTES) {
            return Err(format!("master_key must be at least {MIN_KEY_BYTES} characters"));
        }
        let key = |field: &str, value: Option<&String>, purpose: &str| match (value, master) {
            (Some(value), _) => STANDARD
                .decode(value.trim())
                .map_err(|_| format!("{field} is not base64")),
            (None, Some(master)) => Ok(derive_key(master, purpose)),
            (None, None) => Err(format!(
                "{field} is missing (give it, or a master_key to derive it from)"
            )),
        };
        for (shop, secret) in &json.rakuten {
            if mallguard_domain::ids::ShopId::parse(shop).is_err() {
                return Err(format!("rakuten[{shop:?}] is not a shop id"));
            }
            for (field, value) in [
                ("service_secret", &secret.service_secret),
                ("license_key", &secret.license_key),
            ] {
                if value.expose_secret().trim().is_empty() {
                    return Err(format!("rakuten[{shop:?}].{field} is empty"));
                }
            }
        }
        let secrets = Secrets::new(
            key(
                "identity_pepper",
                json.identity_pepper.as_ref(),
                "mallguard identity pepper v1",
            )?,
            key("link_key", json.link_key.as_ref(), "mallguard link key v1")?,
            WebhookSecrets::new(json.shopify, json.generic)?,
        )?;
        for (shop, secret) in &json.yahoo {
            if mallguard_domain::ids::ShopId::parse(shop).is_err() {
                return Err(format!("yahoo[{shop:?}] is not a seller id"));
            }
            for (field, value) in [
                ("client_id", &secret.client_id),
                ("client_secret", &secret.client_secret),
                ("refresh_token", &secret.refresh_token),
            ] {
                if value.expose_secret().trim().is_empty() {
                    return Err(format!("yahoo[{shop:?}].{field} is empty"));
                }
            }
        }
        for (seller, secret) in &json.amazon {
            if mallguard_domain::ids::ShopId::parse(seller).is_err() {
                return Err(format!("amazon[{seller:?}] is not a seller id"));
            }
            for (field, empty) in [
                ("client_id", secret.client_id.trim().is_empty()),
                ("client_secret", secret.client_secret.expose_secret().trim().is_empty()),
                ("refresh_token", secret.refresh_token.expose_secret().trim().is_empty()),
            ] {
                if empty {
                    return Err(format!("amazon[{seller:?}].{field} is empty"));
                }
            }
        }
        for (shop, secret) in &json.shopify_admin {
            if mallguard_domain::ids::ShopId::parse(shop).is_err() {
                return Err(format!("shopify_admin[{shop:?}] is not a shop id"));
            }
            if secret.access_token.expose_secret().trim().is_empty() {
                return Err(format!("shopify_admin[{shop:?}].access_token is empty"));
            }
            if !matches!(secret.refund.as_str(), "original" | "store_credit" | "none") {
                return Err(format!(
                    "shopify_admin[{shop:?}].refund must be original, store_credit or none"
                ));
            }
        }
        Ok(secrets
            .with_rakuten(json.rakuten)
            .with_yahoo(json.yahoo)
            .with_amazon(json.amazon)
            .with_shopify_admin(json.shopify_admin))
    }
}

impl From<Secrets> for SecretsJson {
    fn from(s: Secrets) -> Self {
        let webhooks = WebhookSecretsJson::from(s.webhooks);
        Self {
            identity_pepper: Some(STANDARD.encode(s.identity_pepper.expose_secret())),
            link_key: Some(STANDARD.encode(s.link_key.expose_secret())),
            master_key: None,
            shopify: webhooks.shopify,
            generic: webhooks.generic,
            rakuten: s.rakuten,
            yahoo: s.yahoo,
            amazon: s.amazon,
            shopify_admin: s.shopify_admin,
        }
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("identity_pepper", &self.identity_pepper)
            .field("link_key", &self.link_key)
            .field("webhooks", &self.webhooks)
            .field("rakuten_shops", &self.rakuten.keys().collect::<Vec<_>>())
            .field("yahoo_shops", &self.yahoo.keys().collect::<Vec<_>>())
            .field("amazon_sellers", &self.amazon.keys().collect::<Vec<_>>())
            .field("shopify_admin_shops", &self.shopify_admin.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The secret's JSON `json` with `rotated`'s new value in place of the shop's stored one: None when it holds
/// that value already. Everything else, unknown fields included, is kept as it was. The shop must be in
/// the secret under its mall (a credential rotated for a shop that is not there is a bug, not a write).
pub fn with_rotated(json: &str, rotated: &mallguard_domain::feed::RotatedCredential) -> Result<Option<String>, String> {
    let mut secret: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("the secret is not JSON: {}", redact_quoted(&e.to_string())))?;
    let (mall, shop, field) = (rotated.mall.as_str(), rotated.shop.as_str(), rotated.field);
    let Some(stored) = secret
        .get_mut(mall)
        .and_then(|m| m.get_mut(shop))
        .and_then(|s| s.get_mut(field))
    else {
        return Err(format!("the secret has no {mall}[{shop:?}].{field} to replace"));
    };
    let value = rotated.value.expose_secret();
    if stored.as_str() == Some(value) {
        return Ok(None);
    }
    *stored = serde_json::Value::String(value.to_owned());
    Ok(Some(serde_json::to_string_pretty(&secret).expect("JSON serialises")))
}

impl PartialEq for Secrets {
    fn eq(&self, other: &Self) -> bool {
        self.identity_pepper() == other.identity_pepper()
            && self.link_key() == other.link_key()
            && self.webhooks == other.webhooks
            && self.rakuten == other.rakuten
            && self.yahoo == other.yahoo
            && self.amazon == other.amazon
            && self.shopify_admin == other.shopify_admin
    }
}

impl Eq for Secrets {}

impl Secrets {
    /// Checks and keeps the secrets: keys of at least 16 bytes.
    pub fn new(identity_pepper: Vec<u8>, link_key: Vec<u8>, webhooks: WebhookSecrets) -> Result<Self, String> {
        for (field, key) in [("identity_pepper", &identity_pepper), ("link_key", &link_key)] {
            if key.len() < MIN_KEY_BYTES {
                return Err(format!("{field} must be at least {MIN_KEY_BYTES} bytes"));
            }
        }
        Ok(Self {
            identity_pepper: identity_pepper.into(),
            link_key: link_key.into(),
            webhooks,
            rakuten: BTreeMap::new(),
            yahoo: BTreeMap::new(),
            amazon: BTreeMap::new(),
            shopify_admin: BTreeMap::new(),
        })
    }

    /// The same secrets with these Shopify shops' Admin API access.
    pub fn with_shopify_admin(mut self, shops: BTreeMap<String, ShopifyAdminSecret>) -> Self {
        self.shopify_admin = shops;
        self
    }

    /// The Admin API access by Shopify shop id (the `….myshopify.com` subdomain).
    pub fn shopify_admin(&self) -> &BTreeMap<String, ShopifyAdminSecret> {
        &self.shopify_admin
    }

    /// The same secrets with these Amazon sellers' SP-API credentials.
    pub fn with_amazon(mut self, amazon: BTreeMap<String, AmazonSecret>) -> Self {
        self.amazon = amazon;
        self
    }

    /// The SP-API credentials by Amazon seller id (the `SellerId` of the notifications).
    pub fn amazon(&self) -> &BTreeMap<String, AmazonSecret> {
        &self.amazon
    }

    /// The same secrets with these Yahoo! stores' credentials.
    pub fn with_yahoo(mut self, yahoo: BTreeMap<String, YahooSecret>) -> Self {
        self.yahoo = yahoo;
        self
    }

    /// The Yahoo! ID連携 credentials by seller id.
    pub fn yahoo(&self) -> &BTreeMap<String, YahooSecret> {
        &self.yahoo
    }

    /// The same secrets with these Rakuten shops' RMS credentials.
    pub fn with_rakuten(mut self, rakuten: BTreeMap<String, RakutenSecret>) -> Self {
        self.rakuten = rakuten;
        self
    }

    /// The RMS credentials by Rakuten shop id.
    pub fn rakuten(&self) -> &BTreeMap<String, RakutenSecret> {
        &self.rakuten
    }

    /// Parses the JSON shape documented on [`Secrets`]; `name` is what error messages call the source.
    pub fn from_json(name: &str, json: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(json).map_err(|e| {
            let reason = redact_quoted(&e.to_string());
            ConfigError::BadSecret {
                secret_id: name.to_owned(),
                reason: if e.is_syntax() || e.is_eof() {
                    format!("not JSON: {reason}")
                } else {
                    reason
                },
            }
        })
    }

    /// The JSON shape documented on [`Secrets`], for the local secrets file.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("secrets serialise")
    }

    /// Reads the secret `secret_id` (name or ARN) from AWS Secrets Manager: once per cold start.
    pub async fn load(client: &aws_sdk_secretsmanager::Client, secret_id: &str) -> Result<Self, ConfigError> {
        let output = client
            .get_secret_value()
            .secret_id(secret_id)
            // The default, said aloud: a version made current by a stage move (a rotated credential written
            // back) is what is read, also where a stand-in tracks its default version apart.
            .version_stage("AWSCURRENT")
            .send()
            .await
            .map_err(|e| ConfigError::SecretUnavailable {
                secret_id: secret_id.to_owned(),
                reason: crate::error_chain(&e),
            })?;
        let Some(json) = output.secret_string() else {
            return Err(ConfigError::BadSecret {
                secret_id: secret_id.to_owned(),
                reason: "it holds no secret string (binary secrets are not supported)".into(),
            });
        };
        Self::from_json(secret_id, json)
    }

    /// Keys the identity hashes.
    pub fn identity_pepper(&self) -> &[u8] {
        self.identity_pepper.expose_secret()
    }

    /// Signs the links in notices.
    pub fn link_key(&self) -> &[u8] {
        self.link_key.expose_secret()
    }

    /// The secrets the webhook routes verify signatures with.
    pub fn webhooks(&self) -> &WebhookSecrets {
        &self.webhooks
    }
}

/// serde's messages quote the offending value (`invalid type: string "whsec_…"`): replace every
/// double-quoted part so no secret reaches a log. Field names are in backticks and stay.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Everything a deployed function reads at cold start, checked.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub knobs: Knobs,
    pub aws: AwsConfig,
    pub secrets: Secrets,
    pub settings: Settings,
}

impl Deployment {
    /// Reads the environment and the secret, once: call it before serving the first event.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let knobs = Knobs::from_env()?;
        let aws = AwsConfig::from_env()?;
        let secrets = Secrets::load(&aws_sdk_secretsmanager::Client::new(sdk), &aws.secret_id).await?;
        let settings = knobs.settings(&secrets, aws.public_url.clone())?;
        Ok(Self {
            knobs,
            aws,
            secrets,
            settings,
        })
    }

    /// The DynamoDB store of this deployment.
    pub fn store(&self, sdk: &aws_config::SdkConfig) -> crate::dynamodb::DynamoDbStore {
        crate::dynamodb::DynamoDbStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            self.aws.table.clone(),
            self.knobs.retention(),
        )
    }

    /// The SES mailer of this deployment.
    pub fn mailer(&self, sdk: &aws_config::SdkConfig) -> SesMailer {
        self.knobs
            .ses_mailer(ses_client(sdk), self.aws.configuration_set.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("MALLGUARD_TABLE", "mallguard-prod"),
        ("MALLGUARD_SECRET_ID", "mallguard/prod"),
        ("MALLGUARD_PUBLIC_URL", "https://confirm.shop.example/"),
    ];

    #[test]
    fn the_function_config_reads_its_variables_and_the_configuration_set_is_optional() {
        let config = AwsConfig::from_lookup(vars(FULL)).unwrap();
        assert_eq!(
            config,
            AwsConfig {
                table: "mallguard-prod".into(),
                secret_id: "mallguard/prod".into(),
                configuration_set: None,
                public_url: "https://confirm.shop.example".into(),
            }
        );
        let mut with_set = FULL.to_vec();
        with_set.push(("MALLGUARD_CONFIGURATION_SET", "mallguard-events"));
        let config = AwsConfig::from_lookup(vars(&with_set)).unwrap();
        assert_eq!(config.configuration_set.as_deref(), Some("mallguard-events"));
    }

    #[test]
    fn a_missing_or_empty_function_variable_is_named() {
        for missing in ["MALLGUARD_TABLE", "MALLGUARD_SECRET_ID", "MALLGUARD_PUBLIC_URL"] {
            let without: Vec<_> = FULL.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = AwsConfig::from_lookup(vars(&without)).unwrap_err();
            assert_eq!(err.to_string(), format!("{missing} is not set"));
            let mut empty = without.clone();
            empty.push((missing, "  "));
            assert_eq!(AwsConfig::from_lookup(vars(&empty)).unwrap_err(), err);
        }
        let mut bad_url = FULL.to_vec();
        bad_url.retain(|(k, _)| *k != "MALLGUARD_PUBLIC_URL");
        bad_url.push(("MALLGUARD_PUBLIC_URL", "confirm.shop.example"));
        let err = AwsConfig::from_lookup(vars(&bad_url)).unwrap_err().to_string();
        assert!(err.starts_with("MALLGUARD_PUBLIC_URL: "), "{err}");
    }

    #[test]
    fn secrets_round_trip_through_their_json_shape_and_debug_shows_none_of_them() {
        let webhooks = WebhookSecrets::new(
            [("tanaka-shop".to_owned(), "shpss_top".to_owned())].into(),
            vec!["whsec_c2VjcmV0".into()],
        )
        .unwrap();
        let secrets = Secrets::new(vec![1; 32], vec![2; 32], webhooks).unwrap();
        let json = secrets.to_json_pretty();
        assert_eq!(Secrets::from_json("secrets.json", &json).unwrap(), secrets);
        let debug = format!("{secrets:?}");
        assert!(!debug.contains("shpss_top") && !debug.contains("whsec_"), "{debug}");
        assert!(debug.contains("\"tanaka-shop\""), "the shops are named: {debug}");
        assert!(secrets.webhooks().shopify_for(Some("tanaka-shop")).is_some());
    }

    #[test]
    fn rakuten_credentials_are_read_per_shop_checked_and_never_shown() {
        let json = r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2",
            "rakuten": {"tanaka-rakuten": {"service_secret": "SP386193_secret", "license_key": "SL386193_key"}}}"#;
        let secrets = Secrets::from_json("mallguard/prod", json).unwrap();
        let shop = &secrets.rakuten()["tanaka-rakuten"];
        assert_eq!(shop.license_key.expose_secret(), "SL386193_key");
        let debug = format!("{secrets:?}");
        assert!(
            debug.contains("tanaka-rakuten") && !debug.contains("SL386193"),
            "{debug}"
        );
        let again = Secrets::from_json("again", &secrets.to_json_pretty()).unwrap();
        assert_eq!(again, secrets, "written back as read");
        let yahoo = r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2",
            "yahoo": {"tanaka-yahoo": {"client_id": "dj0zaiZpPXl", "client_secret": "yahoo-secret-9", "refresh_token": "rt-123"}}}"#;
        let secrets = Secrets::from_json("mallguard/prod", yahoo).unwrap();
        assert_eq!(secrets.yahoo()["tanaka-yahoo"].refresh_token.expose_secret(), "rt-123");
        let debug = format!("{secrets:?}");
        assert!(
            debug.contains("tanaka-yahoo") && !debug.contains("yahoo-secret-9"),
            "{debug}"
        );
        assert_eq!(Secrets::from_json("again", &secrets.to_json_pretty()).unwrap(), secrets);
        for bad in [
            r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2", "rakuten": {"s": {"service_secret": " ", "license_key": "k"}}}"#,
            r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2", "rakuten": {"s": {"service_secret": "x"}}}"#,
        ] {
            let err = Secrets::from_json("mallguard/prod", bad).unwrap_err().to_string();
            assert!(err.contains("rakuten") || err.contains("license_key"), "{err}");
            assert!(!err.contains("\"x\""), "{err}");
        }
    }

    #[test]
    fn the_generated_master_key_derives_two_different_keys_and_an_explicit_key_wins() {
        let master = r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2", "shopify": {}, "generic": []}"#;
        let derived = Secrets::from_json("mallguard/prod", master).unwrap();
        assert_eq!(derived.identity_pepper().len(), 32);
        assert_ne!(derived.identity_pepper(), derived.link_key());
        assert_eq!(
            Secrets::from_json("again", master).unwrap(),
            derived,
            "derivation is stable"
        );
        let explicit = r#"{"master_key": "Zq3v9Kx2Lm8Pw4Rt6Yb1Nc5Hd7Gf0Js2", "link_key": "AQEBAQEBAQEBAQEBAQEBAQ=="}"#;
        let rotated = Secrets::from_json("mallguard/prod", explicit).unwrap();
        assert_eq!(rotated.link_key(), &[1u8; 16]);
        assert_eq!(
            rotated.identity_pepper(),
            derived.identity_pepper(),
            "the pepper is untouched"
        );
        let short = Secrets::from_json("x", r#"{"master_key": "short"}"#)
            .unwrap_err()
            .to_string();
        assert!(short.contains("master_key must be at least 16"), "{short}");
    }

    #[test]
    fn a_malformed_secret_names_the_field_and_never_quotes_a_value() {
        let cases = [
            ("not json", "not JSON: expected"),
            (r#"{"identity_pepper": "AAAA"}"#, "link_key is missing"),
            (
                r#"{"identity_pepper": "%%%", "link_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
                "identity_pepper is not base64",
            ),
            (
                r#"{"identity_pepper": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "link_key": "AAAA"}"#,
                "link_key must be at least 16 bytes",
            ),
            (
                r#"{"identity_pepper": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "link_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "generic": "whsec_topsecret"}"#,
                "invalid type",
            ),
            (
                r#"{"identity_pepper": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "link_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "shopfy": {}}"#,
                "unknown field `shopfy`",
            ),
        ];
        for (json, expected) in cases {
            let err = Secrets::from_json("mallguard/prod", json).unwrap_err().to_string();
            assert!(err.starts_with("the secret mallguard/prod is not valid: "), "{err}");
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains("topsecret"), "{err}");
        }
    }

    #[test]
    fn the_product_map_is_a_file_or_inline_json_and_a_bad_one_names_its_variable() {
        let knobs = KnobsFromEnv::try_parse_from(["x", "--product-map", r#"{"rakuten-item-77": "SKU-A"}"#])
            .unwrap()
            .knobs;
        assert!(knobs.products().is_ok());
        let knobs = KnobsFromEnv::try_parse_from(["x", "--product-map", "/nonexistent/map.json"])
            .unwrap()
            .knobs;
        let err = knobs.products().unwrap_err().to_string();
        assert!(
            err.starts_with("MALLGUARD_PRODUCT_MAP (--product-map): /nonexistent/map.json"),
            "{err}"
        );
    }

    #[test]
    fn boolean_settings_are_switches_with_a_no_form_and_the_last_one_wins() {
        let policy = |args: &[&str]| {
            let argv = std::iter::once("x").chain(args.iter().copied());
            KnobsFromEnv::try_parse_from(argv).unwrap().knobs.policy()
        };
        assert!(policy(&[]).remind, "on by default");
        assert!(!policy(&["--no-remind"]).remind);
        assert!(policy(&["--no-remind", "--remind"]).remind);
        assert!(!policy(&["--remind", "--no-remind"]).remind);
        assert!(!policy(&["--remind", "false"]).remind);
        assert!(!policy(&[]).amazon_fallback_first, "off by default");
        assert!(
            !policy(&[]).amazon_auto_cancel,
            "Amazon holds wait for the staff by default"
        );
        assert!(policy(&["--amazon-auto-cancel"]).amazon_auto_cancel);
        assert!(policy(&["--amazon-fallback-first"]).amazon_fallback_first);
        assert!(!policy(&["--amazon-fallback-first", "--no-amazon-fallback-first"]).amazon_fallback_first);
        assert_eq!(
            policy(&["--min-answer-minutes", "30"]).minimum_answer_time.as_mins(),
            30
        );
        assert_eq!(policy(&[]).minimum_answer_time.as_mins(), 60);
        assert!(!policy(&[]).bundling.is_on(), "no bundling by default");
        assert!(
            policy(&["--bundle", "rakuten,yahoo"])
                .bundling
                .allows(mallguard_domain::ids::Mall::Yahoo)
        );
        assert!(KnobsFromEnv::try_parse_from(["x", "--bundle", "ebay"]).is_err());
        assert!(KnobsFromEnv::try_parse_from(["x", "--min-answer-minutes", "1"]).is_err());
    }

    #[test]
    fn a_bad_flag_value_is_reported_with_its_variable_and_flag() {
        let err = KnobsFromEnv::try_parse_from(["x", "--window-hours", "0"]).unwrap_err();
        let err = env_error(err).to_string();
        assert!(err.starts_with("MALLGUARD_WINDOW_HOURS (--window-hours): "), "{err}");
        let err = KnobsFromEnv::try_parse_from(["x", "--staff-email", "staff"]).unwrap_err();
        let err = env_error(err).to_string();
        assert!(err.starts_with("MALLGUARD_STAFF_EMAIL (--staff-email): "), "{err}");
    }
}
