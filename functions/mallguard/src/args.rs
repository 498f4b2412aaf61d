//! The arguments every command shares: the shop and its policy, the data folder, the store. In a module of
//! their own so that each command's module depends on them and `cli` depends on the commands, never the
//! other way round.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use mallguard_aws::config::{ConfigError, Knobs};
use mallguard_domain::Language;

use crate::local::DataDir;

pub type CliResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "MALLGUARD_BIND", default_value = "127.0.0.1:9000")]
    pub bind: SocketAddr,
    /// Seconds between expiry sweeps.
    #[arg(long, env = "MALLGUARD_SWEEP_EVERY", default_value_t = 60)]
    pub sweep_every: u64,
    /// Seconds between polls of the malls that push nothing (Rakuten), when the secret has credentials.
    #[arg(long, env = "MALLGUARD_POLL_EVERY", default_value_t = 300)]
    pub poll_every: u64,
    /// With --store dynamodb: create the table from infra/template.yaml when it does not exist (for
    /// DynamoDB Local; a deployed table comes from the template).
    #[arg(long, env = "MALLGUARD_CREATE_TABLE")]
    pub create_table: bool,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:9000".parse().expect("a valid address"),
            sweep_every: 60,
            poll_every: 300,
            create_table: false,
        }
    }
}

/// Which store and mailer the program runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The embedded store in the data folder, mails written to its outbox folder.
    Embedded,
    /// DynamoDB and SES, at the endpoints the standard AWS variables name (`AWS_ENDPOINT_URL_DYNAMODB`,
    /// `AWS_ENDPOINT_URL_SESV2`): DynamoDB Local and moto, or a real account.
    Dynamodb,
}

/// The local data folder.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The local data folder: secrets, the embedded store, the outbox.
    #[arg(long, env = "MALLGUARD_DATA", default_value = ".mallguard")]
    pub data: PathBuf,
}

impl DataArgs {
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.data)
    }
}

/// Where the program keeps its state: the data folder and the store.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// embedded (the data folder) or dynamodb (DynamoDB and SES; the secrets stay in the data folder).
    #[arg(long, env = "MALLGUARD_STORE", value_enum, default_value_t = StoreKind::Embedded)]
    pub store: StoreKind,
    /// The DynamoDB table, with --store dynamodb.
    #[arg(long, env = "MALLGUARD_TABLE", default_value = "mallguard")]
    pub table: String,
    /// Operate a deployed stack: read the secrets from this Secrets Manager secret (the stack's `SecretArn`
    /// output) instead of the local data folder, so identity keys and links match the deployment's.
    #[arg(long, env = "MALLGUARD_SECRET_ID")]
    pub secret_id: Option<String>,
    /// The SES configuration set to send with, with --store dynamodb (the stack's, so what comes back of the
    /// mail reaches its mail-events function, as for the functions' own mail).
    #[arg(long, env = "MALLGUARD_CONFIGURATION_SET")]
    pub configuration_set: Option<String>,
}

/// The state and the shop with its policy: what a command that decides or mails needs. The shop and
/// policy knobs are the deployed functions' own ([`Knobs`]): one definition, the same `MALLGUARD_*`
/// variables.
#[derive(Debug, Clone, Args)]
pub struct ShopArgs {
    #[command(flatten)]
    pub state: StoreArgs,
    #[command(flatten)]
    pub knobs: Knobs,
    /// Where the malls' APIs are (read by the pollers, and called for holds and cancellations there).
    #[command(flatten)]
    pub malls: FeedArgs,
}

impl ShopArgs {
    pub fn data_dir(&self) -> DataDir {
        self.state.data.data_dir()
    }
}

/// The state and the language: what a command that only shows things needs. The other knobs come from
/// their `MALLGUARD_*` variables, as the deployed functions read them.
#[derive(Debug, Clone, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    pub state: StoreArgs,
    /// ja or en: the language of what is printed.
    #[arg(long, env = "MALLGUARD_LANGUAGE", default_value = "ja")]
    pub language: Language,
}

impl ViewArgs {
    /// The shop from the environment, in this language.
    pub fn shop(&self) -> Result<ShopArgs, ConfigError> {
        let mut knobs = Knobs::from_env()?;
        knobs.language = self.language;
        Ok(ShopArgs {
            state: self.state.clone(),
            knobs,
            malls: FeedArgs::from_env()?,
        })
    }
}

/// Where the polled malls' APIs are, and how far back a shop's first poll reads. Credentials come from the
/// secret (`rakuten` in `secrets.json`); the URLs are settings so that the local program and the tests can
/// point at fakes.
#[derive(Debug, Clone, Args)]
pub struct FeedArgs {
    /// The Rakuten RMS host.
    #[arg(long, env = "MALLGUARD_RAKUTEN_URL", default_value = mallguard_feeds::rakuten::DEFAULT_BASE_URL)]
    pub rakuten_url: String,
    /// The Yahoo! store API's base URL (default: Yahoo!'s, by seller).
    #[arg(long, env = "MALLGUARD_YAHOO_URL")]
    pub yahoo_url: Option<String>,
    /// The Yahoo! ID連携 token endpoint.
    #[arg(long, env = "MALLGUARD_YAHOO_TOKEN_URL", default_value = mallguard_malls::yahoo::TOKEN_URL)]
    pub yahoo_token_url: String,
    /// The Shopify Admin API host of every shop (default: each shop's own `….myshopify.com`).
    #[arg(long, env = "MALLGUARD_SHOPIFY_URL")]
    pub shopify_url: Option<String>,
    /// The Amazon SP-API endpoint (Far East, Amazon.co.jp's).
    #[arg(long, env = "MALLGUARD_AMAZON_URL", default_value = mallguard_malls::amazon::FE_ENDPOINT)]
    pub amazon_url: String,
    /// The Login with Amazon token endpoint.
    #[arg(long, env = "MALLGUARD_AMAZON_TOKEN_URL", default_value = mallguard_malls::amazon::LWA_TOKEN_URL)]
    pub amazon_token_url: String,
    /// Days a shop's first poll looks back (later polls go on from where the last one stopped).
    #[arg(long, env = "MALLGUARD_POLL_LOOK_BACK_DAYS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=60))]
    pub look_back_days: u16,
    /// Pages one poll of a shop reads at most; the next poll goes on from there.
    #[arg(long, env = "MALLGUARD_POLL_MAX_PAGES", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub max_pages: u16,
}

/// [`FeedArgs`] alone, to read them from the environment.
#[derive(Debug, clap::Parser)]
struct FeedArgsFromEnv {
    #[command(flatten)]
    malls: FeedArgs,
}

impl FeedArgs {
    /// The malls' URLs from their `MALLGUARD_*_URL` variables (the defaults otherwise).
    pub fn from_env() -> Result<Self, ConfigError> {
        use clap::Parser;
        FeedArgsFromEnv::try_parse_from(["mallguard"])
            .map(|parsed| parsed.malls)
            .map_err(|e| ConfigError::Invalid {
                variable: "MALLGUARD_*_URL".into(),
                reason: e.to_string(),
            })
    }

    pub fn budget(&self) -> mallguard_domain::service::PollBudget {
        mallguard_domain::service::PollBudget {
            max_pages: usize::from(self.max_pages),
            first_look_back: jiff::SignedDuration::from_hours(i64::from(self.look_back_days) * 24),
            until: None,
        }
    }
}

/// The public URL of a bound address: what links in mails point at.
pub fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
