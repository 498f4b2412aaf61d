//! The local data folder: generated secrets, the embedded store and the outbox. Nothing secret is ever
//! committed: the secrets are made on first run and kept in the folder (git-ignored), readable by the
//! owner only.
//!
//! `secrets.json` has the JSON shape of the deployed functions' secret ([`Secrets`]), so the local
//! program and the functions read one type.
//!
//! [`compose`] is the local program's one composition: secrets, store, mailer and clock wired into the
//! use cases, on the embedded store or on DynamoDB and SES.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mallguard_amazon_notifications::Sellers;
use mallguard_aws::config::{AmazonSecret, ConfigError, RakutenSecret, Secrets, YahooSecret};
use mallguard_aws::dynamodb::DynamoDbStore;
use mallguard_aws::keeper::SecretsManagerKeeper;
use mallguard_domain::feed::{CredentialKeeper, OrderFeed, OrderLookup, RotatedCredential};
use mallguard_domain::ids::{Mall, ShopId};
use mallguard_domain::ports::{Clock, Mailer, Store, SystemClock};
use mallguard_domain::service::Mallguard;
use mallguard_embedded::{OutboxMailer, SqliteStore};
use mallguard_feeds::actions::{MallActionsRouter, ShopActions};
use mallguard_feeds::amazon::{AmazonCredentials, AmazonOptions, AmazonSpApi};
use mallguard_feeds::rakuten::{RakutenCredentials, RakutenFeed, RakutenOptions};
use mallguard_feeds::shopify::{RefundChoice, ShopifyAdmin, ShopifyCredentials, ShopifyOptions};
use mallguard_feeds::yahoo::{YahooCredentials, YahooFeed, YahooOptions};
use mallguard_malls::WebhookSecrets;

use crate::args::{CliResult, FeedArgs, ShopArgs, StoreKind};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The reason names fields, never their values.
    #[error("{path} is not a valid secrets file: {reason}")]
    BadSecrets { path: PathBuf, reason: String },
    #[error("the system random source failed: {0}")]
    Random(String),
}

fn random(n: usize) -> Result<Vec<u8>, LocalError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| LocalError::Random(e.to_string()))?;
    Ok(buf)
}

/// The Shopify shop of the samples in `events/shopify/` (`tanaka-shop.myshopify.com`).
pub const SAMPLE_SHOPIFY_SHOP: &str = "tanaka-shop";

/// Fresh secrets for a new data folder: a Shopify secret for the sample shop, one generic secret. More
/// shops are added to `secrets.json` by name.
fn generate() -> Result<Secrets, LocalError> {
    let shopify: String = random(24)?.iter().map(|b| format!("{b:02x}")).collect();
    let generic = format!("whsec_{}", STANDARD.encode(random(24)?));
    let webhooks = WebhookSecrets::new([(SAMPLE_SHOPIFY_SHOP.to_owned(), shopify)].into(), vec![generic])
        .expect("generated webhook secrets are valid");
    Ok(Secrets::new(random(32)?, random(32)?, webhooks).expect("generated secrets are valid"))
}

/// Reads a secrets file in the shape of [`Secrets`] (as in Secrets Manager).
fn parse(path: &Path, bytes: &[u8]) -> Result<Secrets, LocalError> {
    let text = String::from_utf8_lossy(bytes);
    Secrets::from_json(&path.display().to_string(), &text).map_err(|err| LocalError::BadSecrets {
        path: path.to_owned(),
        reason: match err {
            ConfigError::BadSecret { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// The local data folder (`.mallguard/` by default).
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("mallguard.db")
    }

    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }

    pub fn secrets_path(&self) -> PathBuf {
        self.root.join("secrets.json")
    }

    /// Creates the folder when missing, and keeps it and everything in it (the secrets, the database,
    /// the outbox and its mails: buyers' names and addresses) the owner's only: folders 0700, files
    /// without any group or other permission, whatever the umask. A folder an older version (or a wide
    /// umask) left open is closed here, on every start. Links are left alone, never followed.
    pub fn prepare(&self) -> Result<(), LocalError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LocalError::Io { path, source }
        };
        private_dir(&self.root).map_err(io(&self.root))?;
        close_entries(&self.root, io)
    }

    /// Reads the secrets, making them on first run.
    pub fn secrets(&self) -> Result<Secrets, LocalError> {
        let path = self.secrets_path();
        let io = |source| LocalError::Io {
            path: path.clone(),
            source,
        };
        match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.prepare()?;
                let secrets = generate()?;
                write_private(&path, secrets.to_json_pretty().as_bytes()).map_err(io)?;
                tracing::info!(path = %path.display(), "generated local secrets");
                Ok(secrets)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// The local stack, wired: the use cases, the secrets the webhook routes verify with, and the secret's
/// credentials of the polled malls.
pub struct Local {
    pub app: Mallguard,
    pub webhooks: WebhookSecrets,
    pub rakuten: BTreeMap<String, RakutenSecret>,
    pub yahoo: BTreeMap<String, YahooSecret>,
    pub amazon: BTreeMap<String, AmazonSecret>,
}

/// The order feeds of every polled mall shop the secret has credentials for (only `mall` when given). Each
/// read re-reads the orders of the matching window `recheck`, so a cancellation at the mall is seen while
/// the order can still hold or be held.
pub fn feeds(
    local: &Local,
    args: &FeedArgs,
    mall: Option<Mall>,
    recheck: jiff::SignedDuration,
) -> CliResult<Vec<Arc<dyn OrderFeed>>> {
    let mut feeds: Vec<Arc<dyn OrderFeed>> = vec![];
    if mall.is_none_or(|m| m == Mall::Rakuten) {
        feeds.extend(
            rakuten_feeds(&local.rakuten, args, recheck)?
                .into_iter()
                .map(|f| f as Arc<dyn OrderFeed>),
        );
    }
    if mall.is_none_or(|m| m == Mall::Yahoo) {
        feeds.extend(
            yahoo_feeds(&local.yahoo, args, recheck)?
                .into_iter()
                .map(|f| f as Arc<dyn OrderFeed>),
        );
    }
    if mall.is_none_or(|m| m == Mall::Amazon) {
        feeds.extend(
            amazon_apis(&local.amazon, args)?
                .into_iter()
                .map(|a| a as Arc<dyn OrderFeed>),
        );
    }
    Ok(feeds)
}

fn rakuten_feeds(
    shops: &BTreeMap<String, RakutenSecret>,
    args: &FeedArgs,
    recheck: jiff::SignedDuration,
) -> CliResult<Vec<Arc<RakutenFeed>>> {
    let mut feeds = vec![];
    for (shop, secret) in shops {
        let credentials = RakutenCredentials {
            service_secret: secret.service_secret.clone(),
            license_key: secret.license_key.clone(),
        };
        let options = RakutenOptions {
            base_url: args.rakuten_url.clone(),
            recheck,
            hold_sub_status: secret.hold_sub_status.clone(),
            ..RakutenOptions::default()
        };
        let feed = RakutenFeed::new(ShopId::parse(shop)?, credentials, options)
            .map_err(|e| format!("rakuten shop {shop}: {e}"))?;
        feeds.push(Arc::new(feed));
    }
    Ok(feeds)
}

fn yahoo_feeds(
    stores: &BTreeMap<String, YahooSecret>,
    args: &FeedArgs,
    recheck: jiff::SignedDuration,
) -> CliResult<Vec<Arc<YahooFeed>>> {
    let mut feeds = vec![];
    for (shop, secret) in stores {
        let credentials = YahooCredentials {
            client_id: secret.client_id.clone(),
            client_secret: secret.client_secret.clone(),
            refresh_token: secret.refresh_token.clone(),
            public_key_pem: secret.public_key_pem.clone(),
            public_key_version: secret.public_key_version.clone(),
            authorized_at: secret.authorized_at,
        };
        let options = YahooOptions {
            base_url: args.yahoo_url.clone(),
            token_url: args.yahoo_token_url.clone(),
            recheck,
            ..YahooOptions::default()
        };
        let feed = YahooFeed::new(ShopId::parse(shop)?, credentials, options)
            .map_err(|e| format!("yahoo store {shop}: {e}"))?;
        feeds.push(Arc::new(feed));
    }
    Ok(feeds)
}

/// One SP-API client per Amazon seller with credentials in the secret.
fn amazon_apis(sellers: &BTreeMap<String, AmazonSecret>, args: &FeedArgs) -> CliResult<Vec<Arc<AmazonSpApi>>> {
    let mut apis = vec![];
    for (seller, secret) in sellers {
        let credentials = AmazonCredentials {
            client_id: secret.client_id.clone(),
            client_secret: secret.client_secret.clone(),
            refresh_token: secret.refresh_token.clone(),
        };
        let options = AmazonOptions {
            endpoint: args.amazon_url.clone(),
            lwa_url: args.amazon_token_url.clone(),
            // A cancellation's feed is followed by the sweep, never waited for in a request (the buyer's
            // page, a Lambda's seconds).
            feed_polls: 0,
            ..AmazonOptions::default()
        };
        let api = AmazonSpApi::new(ShopId::parse(seller)?, credentials, options)
            .map_err(|e| format!("amazon seller {seller}: {e}"))?;
        apis.push(Arc::new(api));
    }
    Ok(apis)
}

/// The mall actions of the secret's shops: one client per shop mallguard may act for, doing what its mall
/// allows (holds, releases, cancellations); the rest stays with the staff.
fn mall_actions(secrets: &Secrets, args: &FeedArgs, recheck: jiff::SignedDuration) -> CliResult<MallActionsRouter> {
    let mut clients: Vec<Arc<dyn ShopActions>> = vec![];
    for (shop, secret) in secrets.shopify_admin() {
        let options = ShopifyOptions {
            base_url: args.shopify_url.clone(),
            refund: secret
                .refund
                .parse::<RefundChoice>()
                .map_err(|e| format!("shopify shop {shop}: {e}"))?,
            restock: secret.restock,
            ..ShopifyOptions::default()
        };
        let credentials = ShopifyCredentials {
            access_token: secret.access_token.clone(),
        };
        let admin = ShopifyAdmin::new(ShopId::parse(shop)?, credentials, options)
            .map_err(|e| format!("shopify shop {shop}: {e}"))?;
        clients.push(Arc::new(admin));
    }
    clients.extend(
        rakuten_feeds(secrets.rakuten(), args, recheck)?
            .into_iter()
            .map(|f| f as Arc<dyn ShopActions>),
    );
    clients.extend(
        yahoo_feeds(secrets.yahoo(), args, recheck)?
            .into_iter()
            .map(|f| f as Arc<dyn ShopActions>),
    );
    clients.extend(
        amazon_apis(secrets.amazon(), args)?
            .into_iter()
            .map(|a| a as Arc<dyn ShopActions>),
    );
    Ok(MallActionsRouter::new(clients))
}

/// Where the Lambdas' composition reaches the malls, as the flags and variables say.
fn feed_urls(args: &FeedArgs) -> mallguard_lambda::FeedUrls {
    mallguard_lambda::FeedUrls {
        rakuten: args.rakuten_url.clone(),
        yahoo: args.yahoo_url.clone(),
        yahoo_token: args.yahoo_token_url.clone(),
        amazon: args.amazon_url.clone(),
        amazon_token: args.amazon_token_url.clone(),
        shopify: args.shopify_url.clone(),
    }
}

/// The SP-API readers of Amazon's notifications, one per seller in the secret.
pub fn amazon_sellers(local: &Local, args: &FeedArgs) -> CliResult<Sellers> {
    let apis = amazon_apis(&local.amazon, args)?;
    Ok(Sellers::new(apis.into_iter().map(|api| api as Arc<dyn OrderLookup>)))
}

/// The program's clock: the system's. A debug build (the binary the tests run) reads `MALLGUARD_TEST_NOW`
/// (RFC 3339) and runs as if it were then, with time going on from there, so a test of the real program can
/// run the sweep past a hold's deadline. A release build has no such door: it never runs at another time.
fn program_clock() -> CliResult<Arc<dyn Clock>> {
    #[cfg(debug_assertions)]
    if let Ok(at) = std::env::var("MALLGUARD_TEST_NOW") {
        let at: jiff::Timestamp = at
            .parse()
            .map_err(|e| format!("MALLGUARD_TEST_NOW must be an RFC 3339 time: {e}"))?;
        return Ok(Arc::new(ShiftedClock {
            by: at.duration_since(SystemClock.now()),
        }));
    }
    Ok(Arc::new(SystemClock))
}

/// The system's time moved by `by` (debug builds: `MALLGUARD_TEST_NOW`).
#[cfg(debug_assertions)]
struct ShiftedClock {
    by: jiff::SignedDuration,
}

#[cfg(debug_assertions)]
impl Clock for ShiftedClock {
    fn now(&self) -> jiff::Timestamp {
        let now = SystemClock.now();
        now.saturating_add(self.by).unwrap_or(now)
    }
}

/// The local program's composition: the secrets (the data folder's, or a deployed stack's with
/// `--secret-id`), the chosen store and mailer, and the system clock, wired into the use cases. Links in
/// mails point at `public_url` unless `--public-url` says otherwise.
pub async fn compose(shop: &ShopArgs, public_url: String) -> CliResult<Local> {
    compose_as(shop, public_url, false).await
}

/// [`compose`] for `mallguard serve`: the embedded store records what a request's mails did after the
/// request is answered (see [`SqliteStore::writing_behind`]), and the server waits for those records
/// before it stops ([`Mallguard::written_behind`]). A command that ends when its work does keeps writing
/// them before it answers.
pub async fn compose_server(shop: &ShopArgs, public_url: String) -> CliResult<Local> {
    compose_as(shop, public_url, true).await
}

async fn compose_as(shop: &ShopArgs, public_url: String, serving: bool) -> CliResult<Local> {
    let data = shop.data_dir();
    let sdk = || aws_config::load_defaults(aws_config::BehaviorVersion::latest());
    let secrets = match &shop.state.secret_id {
        Some(id) => Secrets::load(&aws_sdk_secretsmanager::Client::new(&sdk().await), id).await?,
        None => data.secrets()?,
    };
    let settings = shop.knobs.settings(&secrets, public_url)?;
    let clock = program_clock()?;
    let (store, mailer): (Arc<dyn Store>, Arc<dyn Mailer>) = match shop.state.store {
        StoreKind::Embedded => (
            {
                data.prepare()?;
                let store = SqliteStore::open(&data.database())?.with_clock(clock.clone());
                Arc::new(if serving { store.writing_behind() } else { store })
            },
            Arc::new(OutboxMailer::new(data.outbox(), shop.knobs.sender.clone()).with_clock(clock.clone())),
        ),
        StoreKind::Dynamodb => {
            let sdk = sdk().await;
            let store = DynamoDbStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                shop.state.table.clone(),
                shop.knobs.retention(),
            )
            .with_clock(clock.clone());
            // A deployed stack's mail goes the way its functions send it: Rakuten's relay and Amazon's
            // Messaging for their buyers, SES with the stack's configuration set for the rest.
            let ses = shop.knobs.ses_mailer(
                mallguard_aws::config::ses_client(&sdk),
                shop.state.configuration_set.clone(),
            );
            let names = mallguard_lambda::shop_names(&store, &settings.shop.name).await;
            let mailer = mallguard_lambda::mail_routes_from(&secrets, &names, &feed_urls(&shop.malls), Arc::new(ses))
                .map_err(|reason| format!("the secret: {reason}"))?;
            (Arc::new(store), Arc::new(mailer))
        }
    };
    let keeper: Arc<dyn CredentialKeeper> = match &shop.state.secret_id {
        Some(id) => Arc::new(SecretsManagerKeeper::new(
            aws_sdk_secretsmanager::Client::new(&sdk().await),
            id,
        )),
        None => Arc::new(SecretsFileKeeper::new(data.secrets_path())),
    };
    let actions = mall_actions(&secrets, &shop.malls, shop.knobs.policy().window)?;
    let app = Mallguard::new(store, mailer, clock, settings)
        .with_credential_keeper(keeper)
        .with_mall_actions(Arc::new(actions));
    // Each mall shop's own settings (`mallguard shop set`, the console) over the flags'.
    app.load_shop_settings().await?;
    Ok(Local {
        app,
        webhooks: secrets.webhooks().clone(),
        rakuten: secrets.rakuten().clone(),
        yahoo: secrets.yahoo().clone(),
        amazon: secrets.amazon().clone(),
    })
}

/// The local `secrets.json` as the keeper of rotated credentials: the new file is written beside the old
/// one and renamed over it (a reader sees the old file or the new, never half of one), after reading it
/// again under a lock, so two polls of this program never lose each other's change.
pub struct SecretsFileKeeper {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl SecretsFileKeeper {
    pub fn new(path: PathBuf) -> Self {
        SecretsFileKeeper {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl CredentialKeeper for SecretsFileKeeper {
    async fn keep(&self, rotated: &RotatedCredential) -> Result<bool, String> {
        let _turn = self.lock.lock().await;
        let shown = self.path.display();
        let json = fs::read_to_string(&self.path).map_err(|e| format!("reading {shown}: {e}"))?;
        let Some(changed) = mallguard_aws::config::with_rotated(&json, rotated)? else {
            return Ok(false);
        };
        let temporary = self.path.with_extension("json.new");
        match fs::remove_file(&temporary) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", temporary.display())),
        }
        write_private(&temporary, changed.as_bytes()).map_err(|e| format!("writing {}: {e}", temporary.display()))?;
        fs::rename(&temporary, &self.path).map_err(|e| format!("replacing {shown}: {e}"))?;
        Ok(true)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::write(path, bytes)
}

/// Creates `dir` (and its missing parents) 0700 whatever the umask, and takes group and other
/// permissions from it when it has them.
#[cfg(unix)]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// Takes group and other permissions from every file and folder under `dir`, folders included, without
/// following links.
#[cfg(unix)]
fn close_entries<E>(dir: &Path, io: impl Fn(&Path) -> E + Copy) -> Result<(), LocalError>
where
    E: FnOnce(std::io::Error) -> LocalError,
{
    use std::os::unix::fs::PermissionsExt;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            // Gone meanwhile (a mail's temporary file renamed): nothing to close.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&path)(e)),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o700)).map_err(io(&path))?;
        }
        if meta.is_dir() {
            close_entries(&path, io)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn close_entries<E>(_: &Path, _: impl Fn(&Path) -> E + Copy) -> Result<(), LocalError>
where
    E: FnOnce(std::io::Error) -> LocalError,
{
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("mallguard-secrets-{}", std::process::id()));
        let data = DataDir::new(&dir);
        let first = data.secrets().unwrap();
        let again = data.secrets().unwrap();
        assert_eq!(first, again);
        assert_eq!(first.identity_pepper().len(), 32);
        use secrecy::ExposeSecret;
        assert!(first.webhooks().generic()[0].expose_secret().starts_with("whsec_"));
        assert!(first.webhooks().shopify_for(Some(SAMPLE_SHOPIFY_SHOP)).is_some());
        assert!(
            first.webhooks().shopify_for(Some("any-shop")).is_none(),
            "only named shops"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("secrets.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_broken_secrets_file_names_the_file_and_what_is_wrong() {
        let err = parse(
            Path::new(".mallguard/secrets.json"),
            br#"{"identity_pepper": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}"#,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(".mallguard/secrets.json is not a valid secrets file: "),
            "{message}"
        );
        assert!(message.contains("link_key is missing"), "{message}");
    }
}
