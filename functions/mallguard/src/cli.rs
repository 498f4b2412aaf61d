//! The command line: `serve` (the default), `send`, `holds`, `resolve`, `evidence`, `expire`,
//! `quarantine`. Every knob is a flag with an environment variable beside it.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use mallguard_domain::hold::Decision;

use crate::args::{CliResult, ServeArgs, ShopArgs, ViewArgs};

/// mallguard: holds suspected duplicate orders across malls until the buyer confirms or cancels.
///
/// Without a command it runs the whole stack locally (`serve`).
#[derive(Debug, Parser)]
#[command(name = "mallguard", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The options of `serve`, when no command is given.
    #[command(flatten)]
    pub serve: ServeCommand,
}

/// `serve`: where to listen, the state, the shop.
#[derive(Debug, Clone, Args)]
pub struct ServeCommand {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub shop: ShopArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole stack locally (the default): webhooks, the buyer's page, the expiry sweep.
    Serve(ServeCommand),
    /// Sign a sample event with the local secrets and post it to a running server.
    Send(crate::send::SendArgs),
    /// List holds: open ones first, urgent first.
    Holds {
        /// Include settled holds.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Settle a hold as staff, e.g. after a phone call.
    Resolve {
        /// The hold id (from `mallguard holds` or the staff mail).
        hold: String,
        decision: StaffDecision,
        /// Who settled it, for the evidence.
        #[arg(long, env = "USER", default_value = "staff")]
        staff: String,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Print an order's timeline, as a shop shows it in a dispute.
    Evidence {
        /// shopify, rakuten, yahoo, amazon or own.
        mall: String,
        /// The order number as `holds` shows it (`#TS-20261123-0002`, `TS-20261123-0002`).
        order_id: String,
        /// The shop id, when the same order id exists in two shops of one mall.
        #[arg(long)]
        shop: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Run one expiry sweep now: reminders, cancellations at the deadline, and every mail still pending,
    /// without waiting for its retry back-off.
    Expire {
        /// Accepted for older scripts; the sweep runs now either way.
        #[arg(long, hide = true)]
        now: bool,
        /// End the sweep's sends and mall actions this many seconds from now (as the deployed function does
        /// before its timeout) and say whether some are left; by default the sweep takes every due hold.
        #[arg(long, value_name = "SECONDS")]
        within: Option<u64>,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Poll the malls once now: Rakuten and Yahoo!, which push nothing, and Amazon's getOrders (the backstop
    /// of its notifications), for every shop the secret has credentials for.
    Poll {
        /// Only this mall.
        #[arg(long, value_parser = ["rakuten", "yahoo", "amazon"])]
        mall: Option<String>,
        /// Run the pass at once (what `poll` always does; `serve` polls on its own schedule meanwhile, and the
        /// stored cursors keep the two from reading an order twice).
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        shop: Box<ShopArgs>,
    },
    /// Hand Amazon's ORDER_CHANGE notifications to the amazon-notifications handler, as Lambda does with the
    /// SQS queue's messages: an SQS event (events/lambda/amazon-notifications-sqs.json) or one notification
    /// (events/amazon/order-change.json). Each order is read from the SP-API and ingested.
    Notify {
        /// The SQS event or notification file.
        file: std::path::PathBuf,
        #[command(flatten)]
        shop: Box<ShopArgs>,
    },
    /// Payloads that were signed but could not be parsed.
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
    /// Settings per mall shop over the flags' defaults: name, contact, staff address, window, answer time,
    /// shipping cut-off, quiet hours, language, Amazon policy.
    Shop {
        #[command(subcommand)]
        action: ShopAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShopAction {
    /// Every shop's settings, or one shop's (what each key is set to; empty: the default).
    Show {
        /// shopify, rakuten, yahoo, amazon or own.
        mall: Option<String>,
        /// The shop id orders of that mall are filed under.
        shop_id: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Changes a shop's settings: KEY=VALUE …, an empty value going back to the default (keys: name,
    /// contact_email, contact_phone, staff_email, language, window_hours, answer_hours, shipping_cutoff,
    /// quiet_hours, amazon_auto_cancel, bundle). Every function applies them within a minute.
    Set {
        mall: String,
        shop_id: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// Who changed them, for the record.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        #[command(flatten)]
        view: ViewArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List quarantined payloads.
    List {
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Parse and ingest again every payload not yet replayed (after a fix).
    Replay {
        /// Who replayed them, for the evidence of each order.
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        #[command(flatten)]
        shop: Box<ShopArgs>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffDecision {
    /// Ship both orders.
    Confirm,
    /// Cancel the held order.
    Cancel,
}

pub async fn run(cli: Cli) -> CliResult<ExitCode> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(ServeCommand { serve, shop }) => crate::serve::serve(&shop, serve).await,
        Command::Poll { mall, shop, .. } => crate::staff::poll(&shop, mall.as_deref()).await,
        Command::Send(args) => crate::send::send(args).await,
        Command::Notify { file, shop } => crate::staff::notify(&shop, &file).await,
        Command::Holds { all, view } => crate::staff::holds(&view.shop()?, all).await,
        Command::Resolve {
            hold,
            decision,
            staff,
            shop,
        } => {
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
            view,
        } => crate::staff::evidence(&view.shop()?, &mall, &order_id, shop_id.as_deref()).await,
        Command::Expire { shop, within, .. } => crate::staff::expire(&shop, within).await,
        Command::Quarantine {
            action: QuarantineAction::List { view },
        } => crate::staff::quarantine_list(&view.shop()?).await,
        Command::Quarantine {
            action: QuarantineAction::Replay { by, shop },
        } => crate::staff::quarantine_replay(&shop, &by).await,
        Command::Shop {
            action: ShopAction::Show { mall, shop_id, view },
        } => crate::staff::shop_show(&view.shop()?, mall.as_deref(), shop_id.as_deref()).await,
        Command::Shop {
            action:
                ShopAction::Set {
                    mall,
                    shop_id,
                    settings,
                    by,
                    view,
                },
        } => crate::staff::shop_set(&view.shop()?, &mall, &shop_id, &settings, &by).await,
    }
}
