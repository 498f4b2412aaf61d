//! The command line: `serve` (the default), `send`, `holds`, `resolve`, `evidence`, `expire`,
//! `quarantine`. Every knob is a flag with an environment variable beside it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::SignedDuration;
use jiff::civil::Time;
use mallguard_domain::Language;
use mallguard_domain::hold::Decision;
use mallguard_domain::identity::{IdentityHasher, ProductMap};
use mallguard_domain::ids::ProductKey;
use mallguard_domain::order::EmailAddress;
use mallguard_domain::policy::{Policy, ShopProfile};
use mallguard_domain::ports::SystemClock;
use mallguard_domain::service::{Mallguard, Settings};
use mallguard_domain::token::LinkSigner;
use mallguard_embedded::{OutboxMailer, SqliteStore};

use crate::local::{DataDir, LocalSecrets};

pub type CliResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// mallguard: holds suspected duplicate orders across malls until the buyer confirms or cancels.
#[derive(Debug, Parser)]
#[command(name = "mallguard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub shop: ShopArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole stack locally (the default): webhooks, the buyer's page, the expiry sweep.
    Serve(ServeArgs),
    /// Sign a sample event with the local secrets and post it to a running server.
    Send(crate::send::SendArgs),
    /// List holds: open ones first, urgent first.
    Holds {
        /// Include settled holds.
        #[arg(long)]
        all: bool,
    },
    /// Settle a hold as staff, e.g. after a phone call.
    Resolve {
        /// The hold id (from `mallguard holds` or the staff mail).
        hold: String,
        decision: StaffDecision,
        /// Who settled it, for the evidence.
        #[arg(long, env = "USER", default_value = "staff")]
        staff: String,
    },
    /// Print an order's timeline, as a shop shows it in a dispute.
    Evidence {
        /// shopify, rakuten, yahoo, amazon or own.
        mall: String,
        order_id: String,
        /// The shop id, when the same order id exists in two shops of one mall.
        #[arg(long)]
        shop: Option<String>,
    },
    /// Run the expiry sweep: reminders, cancellations at the deadline, notice retries.
    Expire {
        /// Run one sweep now and exit.
        #[arg(long, required = true)]
        now: bool,
    },
    /// Payloads that were signed but could not be parsed.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List quarantined payloads.
    List,
    /// Parse and ingest again every payload not yet replayed (after a fix).
    Replay,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffDecision {
    /// Ship both orders.
    Confirm,
    /// Cancel the held order.
    Cancel,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, env = "MALLGUARD_BIND", default_value = "127.0.0.1:9000")]
    pub bind: SocketAddr,
    /// Seconds between expiry sweeps.
    #[arg(long, env = "MALLGUARD_SWEEP_EVERY", default_value_t = 60)]
    pub sweep_every: u64,
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:9000".parse().expect("a valid address"),
            sweep_every: 60,
        }
    }
}

/// The shop and its policy. Every flag has an environment variable, for the deployed functions too.
#[derive(Debug, Args)]
pub struct ShopArgs {
    /// The local data folder: secrets, the embedded store, the outbox.
    #[arg(long, env = "MALLGUARD_DATA", default_value = ".mallguard", global = true)]
    pub data: PathBuf,
    /// The shop's name in mails and pages.
    #[arg(long, env = "MALLGUARD_SHOP_NAME", default_value = "サンプル商店", global = true)]
    pub shop_name: String,
    /// Where buyers reach the shop.
    #[arg(
        long,
        env = "MALLGUARD_CONTACT_EMAIL",
        default_value = "support@shop.example",
        global = true
    )]
    pub contact_email: String,
    #[arg(long, env = "MALLGUARD_CONTACT_PHONE", global = true)]
    pub contact_phone: Option<String>,
    /// Where staff alerts go.
    #[arg(
        long,
        env = "MALLGUARD_STAFF_EMAIL",
        default_value = "staff@shop.example",
        global = true
    )]
    pub staff_email: String,
    /// The From address of every mail.
    #[arg(
        long,
        env = "MALLGUARD_SENDER",
        default_value = "noreply@shop.example",
        global = true
    )]
    pub sender: String,
    /// ja or en: the language of mails and pages.
    #[arg(long, env = "MALLGUARD_LANGUAGE", default_value = "ja", global = true)]
    pub language: Language,
    /// The public base URL of the buyer's page (default: the serve address).
    #[arg(long, env = "MALLGUARD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Hours apart two orders may be placed and still be suspected duplicates.
    #[arg(long, env = "MALLGUARD_WINDOW_HOURS", default_value_t = 48, global = true)]
    pub window_hours: i64,
    /// Hours the buyer has to answer.
    #[arg(long, env = "MALLGUARD_ANSWER_HOURS", default_value_t = 24, global = true)]
    pub answer_hours: i64,
    /// Send a reminder at half time.
    #[arg(long, env = "MALLGUARD_REMIND", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub remind: bool,
    /// Days the carrier needs, for requested delivery dates.
    #[arg(long, env = "MALLGUARD_TRANSIT_DAYS", default_value_t = 1, global = true)]
    pub transit_days: i64,
    /// The daily shipping cut-off, JST (HH:MM).
    #[arg(long, env = "MALLGUARD_SHIPPING_CUTOFF", default_value = "15:00", global = true)]
    pub shipping_cutoff: Time,
    /// Amazon: ask Amazon's customer service first and cancel only at a second deadline.
    #[arg(long, env = "MALLGUARD_AMAZON_FALLBACK_FIRST", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub amazon_fallback_first: bool,
    /// A JSON file mapping mall item codes to the shop's product codes: {"rakuten-item-77": "SKU-A"}.
    #[arg(long, env = "MALLGUARD_PRODUCT_MAP", global = true)]
    pub product_map: Option<PathBuf>,
}

impl ShopArgs {
    fn policy(&self) -> CliResult<Policy> {
        if self.window_hours <= 0 || self.answer_hours <= 0 {
            return Err("--window-hours and --answer-hours must be positive".into());
        }
        Ok(Policy {
            window: SignedDuration::from_hours(self.window_hours),
            answer_within: SignedDuration::from_hours(self.answer_hours),
            remind: self.remind,
            transit_days: self.transit_days,
            shipping_cutoff: self.shipping_cutoff,
            amazon_fallback_first: self.amazon_fallback_first,
            ..Policy::default()
        })
    }

    fn products(&self) -> CliResult<ProductMap> {
        let Some(path) = &self.product_map else {
            return Ok(ProductMap::default());
        };
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let map: BTreeMap<ProductKey, ProductKey> =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(ProductMap::new(map))
    }

    pub fn settings(&self, secrets: &LocalSecrets, public_url: String) -> CliResult<Settings> {
        let email = |flag: &str, value: &str| {
            EmailAddress::parse(value).map_err(|e| format!("--{flag}: {e}")) as Result<_, String>
        };
        Ok(Settings {
            hasher: IdentityHasher::new(secrets.identity_pepper()),
            signer: LinkSigner::new(secrets.link_key()),
            products: self.products()?,
            policy: self.policy()?,
            shop: ShopProfile {
                name: self.shop_name.clone(),
                contact_email: email("contact-email", &self.contact_email)?,
                contact_phone: self.contact_phone.clone(),
                staff_email: email("staff-email", &self.staff_email)?,
                public_url: self.public_url.clone().unwrap_or(public_url),
                language: self.language,
            },
        })
    }

    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.data)
    }

    /// The use cases over the embedded store and the outbox folder.
    pub fn local_app(&self, public_url: String) -> CliResult<(Mallguard, LocalSecrets)> {
        let data = self.data_dir();
        let secrets = data.secrets()?;
        let settings = self.settings(&secrets, public_url)?;
        let store = SqliteStore::open(&data.database())?;
        let sender = EmailAddress::parse(&self.sender).map_err(|e| format!("--sender: {e}"))?;
        let mailer = OutboxMailer::new(data.outbox(), sender);
        Ok((
            Mallguard::new(Arc::new(store), Arc::new(mailer), Arc::new(SystemClock), settings),
            secrets,
        ))
    }
}

pub async fn run(cli: Cli) -> CliResult<ExitCode> {
    let shop = cli.shop;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => crate::serve::serve(&shop, args).await,
        Command::Send(args) => crate::send::send(&shop, args).await,
        Command::Holds { all } => crate::staff::holds(&shop, all).await,
        Command::Resolve { hold, decision, staff } => {
            let decision = match decision {
                StaffDecision::Confirm => Decision::Confirm,
                StaffDecision::Cancel => Decision::Cancel,
            };
            crate::staff::resolve(&shop, &hold, decision, &staff).await
        }
        Command::Evidence {
            mall,
            order_id,
            shop: shop_id,
        } => crate::staff::evidence(&shop, &mall, &order_id, shop_id.as_deref()).await,
        Command::Expire { .. } => crate::staff::expire(&shop).await,
        Command::Quarantine {
            action: QuarantineAction::List,
        } => crate::staff::quarantine_list(&shop).await,
        Command::Quarantine {
            action: QuarantineAction::Replay,
        } => crate::staff::quarantine_replay(&shop).await,
    }
}

/// The public URL of a bound address: what links in mails point at.
pub fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
