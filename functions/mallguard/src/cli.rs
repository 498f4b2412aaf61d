//! The command line: `serve` (the default), `send`, `holds`, `resolve`, `evidence`, `expire`,
//! `quarantine`. Every knob is a flag with an environment variable beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mallguard_aws::config::{Knobs, Secrets};
use mallguard_aws::dynamodb::DynamoDbStore;
use mallguard_domain::hold::Decision;
use mallguard_domain::ports::{Mailer, Store, SystemClock};
use mallguard_domain::service::Mallguard;
use mallguard_embedded::{OutboxMailer, SqliteStore};

use crate::local::DataDir;

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

/// The shop, its policy and where the program keeps its state. The shop and policy knobs are the
/// deployed functions' own ([`Knobs`]): one definition, the same `MALLGUARD_*` variables.
#[derive(Debug, Args)]
pub struct ShopArgs {
    /// The local data folder: secrets, the embedded store, the outbox.
    #[arg(long, env = "MALLGUARD_DATA", default_value = ".mallguard", global = true)]
    pub data: PathBuf,
    /// embedded (the data folder) or dynamodb (DynamoDB and SES; the secrets stay in the data folder).
    #[arg(long, env = "MALLGUARD_STORE", value_enum, default_value_t = StoreKind::Embedded, global = true)]
    pub store: StoreKind,
    /// The DynamoDB table, with --store dynamodb.
    #[arg(long, env = "MALLGUARD_TABLE", default_value = "mallguard", global = true)]
    pub table: String,
    /// Operate a deployed stack: read the secrets from this Secrets Manager secret (the stack's `SecretArn`
    /// output) instead of the local data folder, so identity keys and links match the deployment's.
    #[arg(long, env = "MALLGUARD_SECRET_ID", global = true)]
    pub secret_id: Option<String>,
    #[command(flatten)]
    pub knobs: Knobs,
}

impl ShopArgs {
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.data)
    }

    /// The use cases over the chosen store and mailer, with the local secrets.
    pub async fn app(&self, public_url: String) -> CliResult<(Mallguard, Secrets)> {
        let data = self.data_dir();
        let secrets = match &self.secret_id {
            Some(id) => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Secrets::load(&aws_sdk_secretsmanager::Client::new(&sdk), id).await?
            }
            None => data.secrets()?,
        };
        let settings = self.knobs.settings(&secrets, public_url)?;
        let (store, mailer): (Arc<dyn Store>, Arc<dyn Mailer>) = match self.store {
            StoreKind::Embedded => (
                Arc::new(SqliteStore::open(&data.database())?),
                Arc::new(OutboxMailer::new(data.outbox(), self.knobs.sender.clone())),
            ),
            StoreKind::Dynamodb => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let store = DynamoDbStore::new(
                    aws_sdk_dynamodb::Client::new(&sdk),
                    self.table.clone(),
                    self.knobs.retention(),
                );
                let mailer = self.knobs.ses_mailer(aws_sdk_sesv2::Client::new(&sdk), None);
                (Arc::new(store), Arc::new(mailer))
            }
        };
        Ok((Mallguard::new(store, mailer, Arc::new(SystemClock), settings), secrets))
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
