//! The staff's tools: list and resolve holds, print the evidence, sweep now, replay quarantine.

use std::process::ExitCode;

use mallguard_domain::hold::{Decision, HoldState};
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::policy::format_jst;
use mallguard_domain::service::{Incoming, Mallguard};
use mallguard_ingest::{Parsed, Source, parse_payload};

use crate::cli::{CliResult, ShopArgs, url_of};

async fn app(shop: &ShopArgs) -> CliResult<Mallguard> {
    let default_url = url_of("127.0.0.1:9000".parse().expect("a valid address"));
    Ok(shop.app(default_url).await?.0)
}

pub async fn holds(shop: &ShopArgs, all: bool) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let holds = app.holds(!all).await?;
    if holds.is_empty() {
        println!("{}", if all { "No holds." } else { "No open holds." });
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<22} {:<10} {:<7} {:<22} {:<40} DUPLICATE OF",
        "HOLD", "STATE", "URGENT", "DEADLINE (JST)", "HELD ORDER"
    );
    for h in holds {
        println!(
            "{:<22} {:<10} {:<7} {:<22} {:<40} {}",
            h.id,
            h.state,
            if h.urgent && h.state == HoldState::Held {
                "URGENT"
            } else {
                ""
            },
            format_jst(h.deadline, lang),
            h.order.to_string(),
            h.original,
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn resolve(shop: &ShopArgs, hold: &str, decision: Decision, staff: &str) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let id = HoldId::parse(hold).map_err(|e| format!("{hold:?}: {e}"))?;
    match app.resolve(&id, decision, staff).await? {
        Ok(settled) => {
            println!("{id}: {} by {staff}", settled.state);
            Ok(ExitCode::SUCCESS)
        }
        Err(current) => {
            println!("{id} was already {} — nothing changed", current.state);
            Ok(ExitCode::FAILURE)
        }
    }
}

pub async fn evidence(shop: &ShopArgs, mall: &str, order_id: &str, shop_id: Option<&str>) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let mall: Mall = mall.parse()?;
    let order_id = OrderId::parse(order_id)?;
    let refs = match shop_id {
        Some(s) => vec![OrderRef::new(mall, ShopId::parse(s)?, order_id.clone())],
        None => app.store().orders_with_id(mall, &order_id).await?,
    };
    let [order_ref] = refs.as_slice() else {
        if refs.is_empty() {
            return Err(format!("no order {order_id} on {mall}").into());
        }
        let shops: Vec<_> = refs.iter().map(|r| r.shop.to_string()).collect();
        return Err(format!("order {order_id} exists in shops {}: add --shop", shops.join(", ")).into());
    };
    let evidence = app.evidence(order_ref).await?;
    let order = &evidence.order.order;
    println!(
        "Order {} ({} / shop {})",
        order.order_ref.order_id,
        order.order_ref.mall.display_name(lang),
        order.order_ref.shop
    );
    println!("  placed:   {}", format_jst(order.placed_at, lang));
    println!("  received: {}", format_jst(evidence.order.received_at, lang));
    println!("  status:   {:?}", order.status);
    for line in order.lines.iter() {
        println!(
            "  item:     {} ({}) x {}",
            line.title,
            line.product,
            line.quantity.get()
        );
    }
    println!("  payload:  sha256 {}", order.payload_digest.as_str());
    if let Some(hold) = &evidence.hold {
        println!(
            "  hold:     {} {} (duplicate of {}), deadline {}",
            hold.id,
            hold.state,
            hold.original,
            format_jst(hold.deadline, lang)
        );
        if let Some(r) = &hold.resolution {
            println!("  settled:  {} by {} at {}", r.state, r.by, format_jst(r.at, lang));
        }
    }
    for id in &evidence.order.duplicates {
        println!("  later duplicate held: {id}");
    }
    println!("\nTimeline:");
    for entry in &evidence.history {
        println!("  {}", entry.describe(lang));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn expire(shop: &ShopArgs) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let report = app.sweep().await?;
    println!(
        "reminded {}, cancelled {}, escalated to Amazon customer service {}, notices sent {}, failed {}, skipped {}",
        report.reminded, report.cancelled, report.escalated, report.notices_sent, report.notices_failed, report.skipped
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn quarantine_list(shop: &ShopArgs) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let lang = app.settings().shop.language;
    let items = app.store().quarantined().await?;
    if items.is_empty() {
        println!("Nothing in quarantine.");
    }
    for q in items {
        let replayed = q
            .replayed_at
            .map(|t| format!("replayed {}", format_jst(t, lang)))
            .unwrap_or_else(|| "waiting".into());
        println!(
            "{}  {:<8} {}  {} bytes  {replayed}\n    {}",
            q.id,
            q.source,
            format_jst(q.received_at, lang),
            q.raw.len(),
            q.error
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn quarantine_replay(shop: &ShopArgs) -> CliResult<ExitCode> {
    let app = app(shop).await?;
    let mut failed = 0;
    for q in app.store().quarantined().await? {
        if q.replayed_at.is_some() {
            continue;
        }
        let source: Source = q.source.parse()?;
        match parse_payload(source, &q.meta, &q.raw) {
            Ok(Parsed::Order(order)) => {
                let outcome = app
                    .ingest(Incoming {
                        order: *order,
                        raw: q.raw.clone(),
                        delivery: None,
                    })
                    .await?;
                println!("{}: {outcome:?}", q.id);
                app.mark_replayed(q).await?;
            }
            Ok(Parsed::Ignored(topic)) => {
                println!("{}: topic {topic} needs no processing", q.id);
                app.mark_replayed(q).await?;
            }
            Err(err) => {
                failed += 1;
                println!("{}: still cannot be parsed: {err}", q.id);
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
