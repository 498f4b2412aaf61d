//! What 10,000 orders cost on AWS, from counted requests: a mix of orders with 5 % duplicates goes through
//! the real use cases on DynamoDB Local (the real store, the table from infra/template.yaml), and every
//! DynamoDB request is counted per operation and per use case (`mallguard_aws::counting`), with the
//! capacity DynamoDB Local reports for it: an interceptor of this bench asks for `ReturnConsumedCapacity`
//! on every request and reads `ConsumedCapacity` off every answer. DynamoDB Local applies DynamoDB's rules
//! (item sizes, 4 KB reads, half for eventually consistent reads, 1 KB writes, twice for transactions, the
//! index writes), so the units are the ones on-demand bills.
//!
//! The mix: `orders` orders of distinct buyers, every 20th a second order of the buyer before it (held, the
//! buyer's notice and the staff alert sent); half the holds answered by the buyer (the page opened, then a
//! button pressed: respond's GET and POST), the other half left to the sweep (the reminder at half time, the
//! cancellation at the deadline); and SES's delivery event of every mail handled by mail-events. Mail goes
//! to a recording mailer: the DynamoDB requests are the same, and the mails are counted for SES.
//!
//! Prices: DynamoDB on-demand, Lambda (arm64, 128 MB, the durations given) and SES, for ap-northeast-1
//! ([`Prices::tokyo`]). The scheduled functions (the sweep and the poll every five minutes) cost per month
//! whatever the orders; they are priced apart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use jiff::{SignedDuration, Timestamp};
use mallguard_aws::counting::{Counts, RequestCounts};
use mallguard_aws::dynamodb::{DEFAULT_RETENTION, DynamoDbStore};
use mallguard_domain::ids::HoldId;
use mallguard_domain::notice::NoticeKind;
use mallguard_domain::service::{Incoming, IngestOutcome, MailOutcome, MailReport, Mallguard};
use mallguard_domain::testing::{ManualClock, RecordingMailer, link_tokens, settings};
use serde::Serialize;
use serde_json::{Value, json};

use crate::services::Services;

/// One order in this many is a duplicate: 5 %.
const DUPLICATE_EVERY: usize = 20;
/// The cost is given for this many orders.
const PER_ORDERS: f64 = 10_000.0;
/// The memory the template gives every function.
const MEMORY_MB: f64 = 128.0;
/// Runs a month of a `rate(5 minutes)` schedule (30 days).
const SCHEDULED_PER_MONTH: f64 = 30.0 * 24.0 * 12.0;

/// Prices in USD, and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct Prices {
    pub region: String,
    /// DynamoDB on-demand, Standard table class: per million write request units.
    pub dynamodb_write_per_million: f64,
    /// DynamoDB on-demand, Standard table class: per million read request units.
    pub dynamodb_read_per_million: f64,
    /// Lambda duration, arm64: per GB-second.
    pub lambda_arm_gb_second: f64,
    /// Lambda requests: per million.
    pub lambda_requests_per_million: f64,
    /// SES outbound mail: per 1,000 mails.
    pub ses_per_thousand: f64,
    pub sources: Vec<String>,
}

impl Prices {
    /// Asia Pacific (Tokyo), on-demand, no free tier, no savings plan.
    pub fn tokyo() -> Self {
        Prices {
            region: "ap-northeast-1".into(),
            // Tokyo's on-demand throughput after the 1 November 2024 halving (before: $1.4269 / $0.2854).
            dynamodb_write_per_million: 0.715,
            dynamodb_read_per_million: 0.1425,
            lambda_arm_gb_second: 0.000_013_333_4,
            lambda_requests_per_million: 0.20,
            ses_per_thousand: 0.10,
            sources: vec![
                "DynamoDB on-demand: https://aws.amazon.com/dynamodb/pricing/on-demand/ (Asia Pacific (Tokyo); \
                 the unit rules: 4 KB per read request unit, half for eventually consistent, 1 KB per write \
                 request unit, two units per transactional item)"
                    .into(),
                "Lambda: https://aws.amazon.com/lambda/pricing/ (Arm price per GB-second, Tokyo at the base \
                 rate; $0.20 per million requests)"
                    .into(),
                "SES: https://aws.amazon.com/ses/pricing/ ($0.10 per 1,000 outbound mails, pay as you go)".into(),
            ],
        }
    }
}

/// What one use case cost in DynamoDB, over all its runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UseCase {
    pub name: String,
    /// The function that runs it.
    pub function: String,
    pub runs: u64,
    /// Calls per operation, over all runs.
    pub requests: BTreeMap<String, u64>,
    /// HTTP attempts (retries included).
    pub attempts: u64,
    /// Items DynamoDB read (Query's ScannedCount, GetItem's hits).
    pub items_read: u64,
    /// Read request units (GetItem, Query, Scan, BatchGetItem, TransactGetItems), over all runs: DynamoDB
    /// Local's figure, plus the minimum DynamoDB bills for a read that finds nothing (see
    /// `read_units_for_empty_reads`).
    pub read_units: f64,
    /// The part of `read_units` added for reads DynamoDB Local reported at zero units (a Query that finds
    /// nothing): one unit for a strongly consistent read, half for an eventually consistent one, the
    /// minimum of a read request.
    pub read_units_for_empty_reads: f64,
    /// Write request units (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems), over all
    /// runs; the index writes included.
    pub write_units: f64,
    /// Requests DynamoDB refused (a failed condition, a cancelled transaction), per operation: DynamoDB Local
    /// reports no capacity for them; AWS bills a refused write's units all the same.
    pub refused: BTreeMap<String, u64>,
    /// Mails sent.
    pub mails: u64,
}

impl UseCase {
    fn add(&mut self, counts: &Counts, capacity: &CapacityCounts, mails: u64) {
        self.runs += 1;
        for (op, n) in &counts.requests {
            *self.requests.entry(op.clone()).or_default() += n;
        }
        self.attempts += counts.attempts;
        self.items_read += counts.items_read;
        self.read_units += capacity.read + capacity.empty_reads;
        self.read_units_for_empty_reads += capacity.empty_reads;
        self.write_units += capacity.write;
        for (op, n) in &capacity.refused {
            *self.refused.entry(op.clone()).or_default() += n;
        }
        self.mails += mails;
    }

    fn per_run(&self, total: f64) -> f64 {
        if self.runs == 0 { 0.0 } else { total / self.runs as f64 }
    }
}

/// One function's Lambda charge.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaLine {
    pub function: String,
    pub invocations: f64,
    /// The measured duration used (None: none was given; priced at zero).
    pub duration_ms: Option<f64>,
    pub gb_seconds: f64,
    pub usd: f64,
}

/// The cost of 10,000 orders at the mix.
#[derive(Debug, Clone, Serialize)]
pub struct Per10k {
    pub requests: BTreeMap<String, f64>,
    pub read_units: f64,
    pub write_units: f64,
    pub dynamodb_usd: f64,
    pub lambda: Vec<LambdaLine>,
    pub lambda_usd: f64,
    pub mails: f64,
    pub ses_usd: f64,
    pub total_usd: f64,
}

/// What the schedules cost per month whatever the orders: the sweep and the poll every five minutes.
#[derive(Debug, Clone, Serialize)]
pub struct MonthlyFixed {
    pub sweeps: f64,
    /// DynamoDB units of the idle sweeps (a sweep that finds nothing due).
    pub sweep_read_units: f64,
    pub sweep_write_units: f64,
    pub dynamodb_usd: f64,
    pub lambda: Vec<LambdaLine>,
    pub lambda_usd: f64,
    pub total_usd: f64,
}

/// The cost model: the counted use cases and the prices applied.
#[derive(Debug, Clone, Serialize)]
pub struct CostModel {
    pub orders: usize,
    pub duplicates: usize,
    pub answered_by_buyer: usize,
    pub left_to_the_sweep: usize,
    pub use_cases: Vec<UseCase>,
    pub mails_by_kind: BTreeMap<String, u64>,
    /// The table's items at the end of the mix, by kind.
    pub item_sizes: Vec<ItemSizes>,
    pub per_10k_orders: Per10k,
    pub monthly_fixed: MonthlyFixed,
    pub prices: Prices,
    pub notes: Vec<String>,
}

/// Runs the mix of `orders` orders (5 % duplicates) on DynamoDB Local and prices it per 10,000 orders.
/// `durations_ms` holds each function's measured duration per invocation (`ingest`, `respond`,
/// `mail-events`, `expire`, `poll`), billed by Lambda to the millisecond at 128 MB on arm64.
pub async fn run(
    services: &Services,
    orders: usize,
    durations_ms: &BTreeMap<String, f64>,
) -> Result<CostModel, String> {
    run_with(services, orders, durations_ms, Prices::tokyo()).await
}

/// The same with other prices.
pub async fn run_with(
    services: &Services,
    orders: usize,
    durations_ms: &BTreeMap<String, f64>,
    prices: Prices,
) -> Result<CostModel, String> {
    if orders < DUPLICATE_EVERY {
        return Err(format!("at least {DUPLICATE_EVERY} orders, for one duplicate"));
    }
    let counts = RequestCounts::default();
    let capacity = CapacityRecorder::default();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "mallguard-bench",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&services.dynamodb)
            .interceptor(counts.interceptor())
            .interceptor(capacity.clone())
            .build(),
    );
    let table = format!(
        "mallguard-bench-cost-{}-{}",
        std::process::id(),
        Timestamp::now().as_millisecond()
    );
    mallguard_aws::table_setup::create_table_from_template(&client, &table, TEMPLATE)
        .await
        .map_err(|e| format!("creating the table {table}: {e}"))?;
    let store = DynamoDbStore::new(client.clone(), table.clone(), DEFAULT_RETENTION).with_counts(counts.clone());
    let mailer = Arc::new(RecordingMailer::default());
    let start: Timestamp = "2026-11-23T01:00:00Z".parse().map_err(|e| format!("{e}"))?;
    let clock = Arc::new(ManualClock::at("2026-11-23T01:00:00Z"));
    let app = Mallguard::new(Arc::new(store), mailer.clone(), clock.clone(), settings());

    let mut book = Book {
        counts,
        capacity,
        mailer: mailer.clone(),
        sent_before: 0,
        cases: BTreeMap::new(),
    };
    book.reset();

    // Ingest: every order as the generic webhook delivers it (its exact body and delivery id).
    let template: Value = serde_json::from_str(ORDER_TEMPLATE).map_err(|e| e.to_string())?;
    let mut duplicates = 0;
    let mut last = start;
    for i in 0..orders {
        let duplicate = i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1;
        // The duplicate is the buyer of the order just before, ordering the same again.
        let buyer = if duplicate { i - 1 } else { i };
        let placed = start + SignedDuration::from_secs(3 * i as i64);
        let raw = order_body(&template, i, buyer, placed)?;
        let order = mallguard_malls::generic::parse_order(&raw).map_err(|e| format!("order {i}: {e}"))?;
        last = placed + SignedDuration::from_secs(1);
        clock.set(last);
        let outcome = app
            .ingest(Incoming {
                order,
                raw,
                delivery: Some(format!("generic:msg_bench_{i}")),
            })
            .await
            .map_err(|e| format!("ingesting order {i}: {e}"))?;
        let case = match (&outcome, duplicate) {
            (IngestOutcome::Accepted, false) => "ingest: a new order",
            (IngestOutcome::Held { .. }, true) => "ingest: a duplicate (held, notice and staff alert)",
            _ => return Err(format!("order {i} (duplicate: {duplicate}): unexpected {outcome:?}")),
        };
        duplicates += usize::from(duplicate);
        book.close(case, "ingest");
    }

    // The buyer answers half the holds: opens the page from the notice's link, presses a button.
    let holds = app.holds(true).await.map_err(|e| e.to_string())?;
    if holds.len() != duplicates {
        return Err(format!("{duplicates} duplicates but {} open holds", holds.len()));
    }
    let mut at = last + SignedDuration::from_mins(1);
    let (answered, left): (Vec<_>, Vec<_>) = holds.iter().enumerate().partition(|(k, _)| k % 2 == 0);
    for (k, hold) in &answered {
        let notice = mailer
            .mails()
            .into_iter()
            .find(|m| {
                m.tags
                    .iter()
                    .any(|(n, v)| n == "kind" && v == NoticeKind::Notice.as_str())
                    && m.tags.iter().any(|(n, v)| n == "hold" && v == hold.id.as_str())
            })
            .ok_or_else(|| format!("no notice was sent for {}", hold.id))?;
        let tokens = link_tokens(&notice);
        // Confirm (keep both) and cancel (the later order) in turn.
        let token = tokens
            .get(k / 2 % 2)
            .ok_or_else(|| format!("the notice for {} has no links", hold.id))?;
        at += SignedDuration::from_secs(5);
        clock.set(at);
        app.view(token).await.map_err(|e| format!("viewing {}: {e}", hold.id))?;
        book.close("respond: the page opened (GET)", "respond");
        app.answer(token)
            .await
            .map_err(|e| format!("answering {}: {e}", hold.id))?;
        book.close("respond: a button pressed (POST)", "respond");
    }

    // The sweep: reminders at half time, then the cancellations at the deadline, then nothing to do.
    let unanswered: Vec<_> = left.iter().map(|(_, h)| *h).collect();
    let remind_at = unanswered.iter().filter_map(|h| h.remind_at).max();
    let first_deadline = unanswered.iter().map(|h| h.deadline).min();
    let last_deadline = unanswered.iter().map(|h| h.deadline).max();
    if let (Some(remind), Some(first)) = (remind_at, first_deadline)
        && remind < first
    {
        clock.set(remind.max(at) + SignedDuration::from_secs(1));
        let report = app.sweep().await.map_err(|e| format!("the reminder sweep: {e}"))?;
        book.close(
            &format!("expire: a sweep sending {} reminders", report.reminded),
            "expire",
        );
    }
    if let Some(deadline) = last_deadline {
        clock.set(deadline + SignedDuration::from_secs(1));
        let report = app.sweep().await.map_err(|e| format!("the deadline sweep: {e}"))?;
        if report.cancelled != unanswered.len() {
            return Err(format!(
                "the deadline sweep cancelled {} of {} holds: {report:?}",
                report.cancelled,
                unanswered.len()
            ));
        }
        book.close(
            &format!("expire: a sweep cancelling {} holds", report.cancelled),
            "expire",
        );
    }
    app.sweep().await.map_err(|e| format!("the idle sweep: {e}"))?;
    book.close(IDLE_SWEEP, "expire");

    // SES's delivery event of every mail sent, through EventBridge to mail-events.
    let mails = mailer.mails();
    let delivered_at = app.now() + SignedDuration::from_mins(1);
    for (n, mail) in mails.iter().enumerate() {
        let tag = |name: &str| mail.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let report = MailReport {
            message_id: format!("bench-{n:06}"),
            outcome: MailOutcome::Delivered,
            at: delivered_at,
            hold: tag("hold").and_then(|h| HoldId::parse(&h).ok()),
            kind: tag("kind").and_then(|k| serde_json::from_value(Value::String(k)).ok()),
            detail: String::new(),
        };
        app.mail_reported(report)
            .await
            .map_err(|e| format!("the delivery event of mail {n}: {e}"))?;
        book.close("mail-events: a delivery event", "mail-events");
    }
    // Counted apart: these mails are not sent, the events are only recorded.
    let mut mails_by_kind: BTreeMap<String, u64> = BTreeMap::new();
    for mail in &mails {
        let kind = mail
            .tags
            .iter()
            .find(|(k, _)| k == "kind")
            .map_or("untagged".to_owned(), |(_, v)| v.clone());
        *mails_by_kind.entry(kind).or_default() += 1;
    }

    // What the table holds now, by kind of item: the sizes behind the write units. Not counted.
    let item_sizes = item_sizes(&client, &table).await?;
    book.reset();

    let cases: Vec<UseCase> = book.cases.into_values().collect();
    let mut model = price(
        orders,
        duplicates,
        answered.len(),
        unanswered.len(),
        cases,
        mails_by_kind,
        durations_ms,
        prices,
    );
    model.item_sizes = item_sizes;
    Ok(model)
}

/// Items of one kind in the table at the end of the mix.
#[derive(Debug, Clone, Serialize)]
pub struct ItemSizes {
    /// The partition key's prefix / the sort key's (`ORDER / ORDER`, `KEY / AT`, `NOTICE / NOTICE`, …).
    pub kind: String,
    pub items: u64,
    /// Bytes as DynamoDB sizes an item (attribute names and values), averaged.
    pub average_bytes: f64,
    pub max_bytes: u64,
}

/// The table's items by kind, sized as DynamoDB sizes them (approximately for numbers and nesting).
async fn item_sizes(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<ItemSizes>, String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn value_size(value: &AttributeValue) -> u64 {
        match value {
            AttributeValue::S(s) => s.len() as u64,
            AttributeValue::N(n) => (n.len() as u64).div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len() as u64,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::Ss(v) => v.iter().map(|s| s.len() as u64).sum(),
            AttributeValue::Ns(v) => v.iter().map(|n| (n.len() as u64).div_ceil(2) + 1).sum(),
            AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len() as u64).sum(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() as u64 + value_size(v)).sum::<u64>(),
            _ => 0,
        }
    }
    let mut kinds: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("scanning {table}: {e}"))?;
        for item in page.items() {
            let prefix = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .map_or("?", |s| s.split('#').next().unwrap_or(""))
                    .to_owned()
            };
            let kind = format!("{} / {}", prefix("pk"), prefix("sk"));
            let size: u64 = item.iter().map(|(k, v)| k.len() as u64 + value_size(v)).sum();
            let entry = kinds.entry(kind).or_default();
            entry.0 += 1;
            entry.1 += size;
            entry.2 = entry.2.max(size);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    Ok(kinds
        .into_iter()
        .map(|(kind, (items, total, max))| ItemSizes {
            kind,
            items,
            average_bytes: total as f64 / items as f64,
            max_bytes: max,
        })
        .collect())
}

const IDLE_SWEEP: &str = "expire: an idle sweep (nothing due)";

/// Prices the counted use cases.
#[allow(clippy::too_many_arguments)]
fn price(
    orders: usize,
    duplicates: usize,
    answered: usize,
    expired: usize,
    cases: Vec<UseCase>,
    mails_by_kind: BTreeMap<String, u64>,
    durations_ms: &BTreeMap<String, f64>,
    prices: Prices,
) -> CostModel {
    let scale = PER_ORDERS / orders as f64;
    let dynamodb_usd = |read: f64, write: f64| {
        read / 1e6 * prices.dynamodb_read_per_million + write / 1e6 * prices.dynamodb_write_per_million
    };
    let lambda_line = |function: &str, invocations: f64| {
        let duration = durations_ms.get(function).copied();
        // Billed per millisecond, rounded up.
        let gb_seconds = duration.map_or(0.0, |ms| invocations * ms.ceil() / 1000.0 * MEMORY_MB / 1024.0);
        LambdaLine {
            function: function.to_owned(),
            invocations,
            duration_ms: duration,
            gb_seconds,
            usd: gb_seconds * prices.lambda_arm_gb_second + invocations / 1e6 * prices.lambda_requests_per_million,
        }
    };

    // Per 10,000 orders: every use case but the idle sweep, scaled.
    let mut requests: BTreeMap<String, f64> = BTreeMap::new();
    let (mut read, mut write) = (0.0, 0.0);
    let mut invocations: BTreeMap<String, f64> = BTreeMap::new();
    for case in cases.iter().filter(|c| c.name != IDLE_SWEEP) {
        for (op, n) in &case.requests {
            *requests.entry(op.clone()).or_default() += *n as f64 * scale;
        }
        read += case.read_units * scale;
        write += case.write_units * scale;
        // The sweeps run on the schedule whatever the orders: their invocations are in the monthly part.
        if case.function != "expire" {
            *invocations.entry(case.function.clone()).or_default() += case.runs as f64 * scale;
        }
    }
    let lambda: Vec<LambdaLine> = invocations.iter().map(|(f, n)| lambda_line(f, *n)).collect();
    let lambda_usd = lambda.iter().map(|l| l.usd).sum();
    let mails = mails_by_kind.values().sum::<u64>() as f64 * scale;
    let ses_usd = mails / 1000.0 * prices.ses_per_thousand;
    let ddb_usd = dynamodb_usd(read, write);
    let per_10k = Per10k {
        requests,
        read_units: read,
        write_units: write,
        dynamodb_usd: ddb_usd,
        lambda,
        lambda_usd,
        mails,
        ses_usd,
        total_usd: ddb_usd + lambda_usd + ses_usd,
    };

    let idle = cases.iter().find(|c| c.name == IDLE_SWEEP);
    let sweep_read = idle.map_or(0.0, |c| c.per_run(c.read_units));
    let sweep_write = idle.map_or(0.0, |c| c.per_run(c.write_units));
    let fixed_ddb = dynamodb_usd(sweep_read * SCHEDULED_PER_MONTH, sweep_write * SCHEDULED_PER_MONTH);
    let fixed_lambda = vec![
        lambda_line("expire", SCHEDULED_PER_MONTH),
        lambda_line("poll", SCHEDULED_PER_MONTH),
    ];
    let fixed_lambda_usd = fixed_lambda.iter().map(|l| l.usd).sum();
    let monthly_fixed = MonthlyFixed {
        sweeps: SCHEDULED_PER_MONTH,
        sweep_read_units: sweep_read,
        sweep_write_units: sweep_write,
        dynamodb_usd: fixed_ddb,
        lambda: fixed_lambda,
        lambda_usd: fixed_lambda_usd,
        total_usd: fixed_ddb + fixed_lambda_usd,
    };

    let mut notes = vec![
        "Units are DynamoDB Local's ConsumedCapacity; it reports no read/write split, so reads are the units \
         of GetItem/Query/Scan/BatchGetItem/TransactGetItems and writes everything else (a \
         TransactWriteItems' condition checks among them)."
            .to_owned(),
        "DynamoDB Local reports zero units for a read that finds nothing (a Query of an identity key nobody \
         has used, the sweep's Queries of an empty index); DynamoDB bills such a read its minimum, one unit \
         strongly consistent, half eventually consistent: added (`read_units_for_empty_reads`)."
            .into(),
        "Requests DynamoDB refuses (a failed condition) report no capacity in DynamoDB Local; AWS bills them. \
         See `refused` per use case."
            .into(),
        "Lambda: arm64, 128 MB, each invocation billed for the duration given (rounded up to the ms) plus the \
         request charge; respond counts the page and the press as two invocations; mail-events one per mail \
         (the Delivery event); the sweeps' invocations are in the monthly part. No free tier, no savings plan."
            .into(),
        "Not included: storage (180 days of orders), the poll's mall reads (no shop polled here), CloudWatch \
         Logs, EventBridge, SQS, data transfer."
            .into(),
    ];
    for function in ["ingest", "respond", "mail-events", "expire", "poll"] {
        if !durations_ms.contains_key(function) {
            notes.push(format!(
                "No duration was given for {function}: its GB-seconds are counted as zero."
            ));
        }
    }
    CostModel {
        orders,
        duplicates,
        answered_by_buyer: answered,
        left_to_the_sweep: expired,
        use_cases: cases,
        mails_by_kind,
        item_sizes: vec![],
        per_10k_orders: per_10k,
        monthly_fixed,
        prices,
        notes,
    }
}

impl CostModel {
    /// The model as Markdown: the use cases, the cost of 10,000 orders, the fixed monthly part, the prices.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let p = &self.per_10k_orders;
        out.push_str(&format!(
            "### DynamoDB per use case ({} orders, {} duplicates: {} answered by the buyer, {} left to the sweep)\n\n",
            self.orders, self.duplicates, self.answered_by_buyer, self.left_to_the_sweep
        ));
        out.push_str("| use case | function | runs | requests per run | RRU per run | WRU per run |\n");
        out.push_str("| --- | --- | ---: | --- | ---: | ---: |\n");
        for case in &self.use_cases {
            let requests: Vec<String> = case
                .requests
                .iter()
                .map(|(op, n)| format!("{op} {}", trim(case.per_run(*n as f64), 2)))
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                case.name,
                case.function,
                case.runs,
                requests.join(", "),
                trim(case.per_run(case.read_units), 2),
                trim(case.per_run(case.write_units), 2),
            ));
        }
        let mails: Vec<String> = self.mails_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!("\nMails sent: {}.\n", mails.join(", ")));
        if !self.item_sizes.is_empty() {
            out.push_str("\nItems in the table at the end, by kind (pk / sk prefix): ");
            let sizes: Vec<String> = self
                .item_sizes
                .iter()
                .map(|k| {
                    format!(
                        "{} ×{} avg {:.0} B max {} B",
                        k.kind, k.items, k.average_bytes, k.max_bytes
                    )
                })
                .collect();
            out.push_str(&sizes.join("; "));
            out.push_str(".\n");
        }

        out.push_str(&format!(
            "\n### Per 10,000 orders ({} % duplicates), {}\n\n",
            100 / DUPLICATE_EVERY,
            self.prices.region
        ));
        out.push_str("| item | quantity | USD |\n| --- | ---: | ---: |\n");
        let requests: Vec<String> = p
            .requests
            .iter()
            .map(|(op, n)| format!("{op} {}", trim(*n, 0)))
            .collect();
        out.push_str(&format!("| DynamoDB requests | {} | |\n", requests.join(", ")));
        out.push_str(&format!(
            "| DynamoDB read request units | {} | {:.4} |\n",
            trim(p.read_units, 1),
            p.read_units / 1e6 * self.prices.dynamodb_read_per_million
        ));
        out.push_str(&format!(
            "| DynamoDB write request units | {} | {:.4} |\n",
            trim(p.write_units, 1),
            p.write_units / 1e6 * self.prices.dynamodb_write_per_million
        ));
        for line in &p.lambda {
            out.push_str(&format!(
                "| Lambda {}: {} invocations × {} ms | {} GB-s | {:.4} |\n",
                line.function,
                trim(line.invocations, 0),
                line.duration_ms.map_or("?".into(), |d| trim(d, 1)),
                trim(line.gb_seconds, 2),
                line.usd
            ));
        }
        out.push_str(&format!("| SES mails | {} | {:.4} |\n", trim(p.mails, 0), p.ses_usd));
        out.push_str(&format!("| **total** | | **{:.4}** |\n", p.total_usd));

        let f = &self.monthly_fixed;
        out.push_str(&format!(
            "\n### Fixed per month (schedules every 5 minutes: {} runs each)\n\n",
            trim(f.sweeps, 0)
        ));
        out.push_str("| item | quantity | USD |\n| --- | ---: | ---: |\n");
        out.push_str(&format!(
            "| DynamoDB, idle sweeps | {} RRU, {} WRU | {:.4} |\n",
            trim(f.sweep_read_units * f.sweeps, 0),
            trim(f.sweep_write_units * f.sweeps, 0),
            f.dynamodb_usd
        ));
        for line in &f.lambda {
            out.push_str(&format!(
                "| Lambda {} × {} ms | {} GB-s | {:.4} |\n",
                line.function,
                line.duration_ms.map_or("?".into(), |d| trim(d, 1)),
                trim(line.gb_seconds, 2),
                line.usd
            ));
        }
        out.push_str(&format!("| **total** | | **{:.4}** |\n", f.total_usd));

        out.push_str(&format!(
            "\nPrices ({}): DynamoDB on-demand ${} per million WRU, ${} per million RRU; Lambda arm64 ${} per \
             GB-second and ${} per million requests; SES ${} per 1,000 mails.\n",
            self.prices.region,
            self.prices.dynamodb_write_per_million,
            self.prices.dynamodb_read_per_million,
            self.prices.lambda_arm_gb_second,
            self.prices.lambda_requests_per_million,
            self.prices.ses_per_thousand
        ));
        for source in &self.prices.sources {
            out.push_str(&format!("- {source}\n"));
        }
        out.push('\n');
        for note in &self.notes {
            out.push_str(&format!("- {note}\n"));
        }
        out
    }
}

/// A number with at most `places` decimals, trailing zeros dropped.
fn trim(value: f64, places: usize) -> String {
    let text = format!("{value:.places$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The table, as CloudFormation creates it.
const TEMPLATE: &str = include_str!("../../../infra/template.yaml");
/// The generic sample order, the body every order of the mix is made from.
const ORDER_TEMPLATE: &str = include_str!("../../../events/generic/order.json");

/// Order `i` of the mix, bought by buyer `buyer` at `placed`: the sample with its id, buyer, address and
/// date replaced. Buyers share no identity key (email, phone, address), so only a buyer's second order
/// matches.
fn order_body(template: &Value, i: usize, buyer: usize, placed: Timestamp) -> Result<Vec<u8>, String> {
    let mut order = template.clone();
    let jst = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(9));
    let placed = placed.to_zoned(jst);
    order["order_id"] = json!(format!("TS-BENCH-{i:06}"));
    order["placed_at"] = json!(placed.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
    let name = format!("山田 太郎{buyer}");
    let phone = format!("090-{:04}-{:04}", 1000 + buyer / 10_000, buyer % 10_000);
    order["buyer"]["name"] = json!(name);
    order["buyer"]["email"] = json!(format!("customer{buyer}@example.com"));
    order["buyer"]["phone"] = json!(phone);
    order["ship_to"]["name"] = json!(name);
    order["ship_to"]["phone"] = json!(phone);
    order["ship_to"]["lines"] = json!([
        format!("千代田{}-2-3", buyer % 97 + 1),
        format!("メゾン千代田{}", buyer + 100)
    ]);
    serde_json::to_vec_pretty(&order).map_err(|e| e.to_string())
}

/// The use cases' counts, each run's taken as it ends.
struct Book {
    counts: RequestCounts,
    capacity: CapacityRecorder,
    mailer: Arc<RecordingMailer>,
    sent_before: usize,
    cases: BTreeMap<String, UseCase>,
}

impl Book {
    fn reset(&mut self) {
        self.counts.reset();
        self.capacity.take();
        self.sent_before = self.mailer.mails().len();
    }

    /// What was counted since the last close, as one run of `name`.
    fn close(&mut self, name: &str, function: &str) {
        let counts = self.counts.take();
        let capacity = self.capacity.take();
        let sent = self.mailer.mails().len();
        let mails = (sent - self.sent_before) as u64;
        self.sent_before = sent;
        self.cases
            .entry(name.to_owned())
            .or_insert_with(|| UseCase {
                name: name.to_owned(),
                function: function.to_owned(),
                ..UseCase::default()
            })
            .add(&counts, &capacity, mails);
    }
}

// --- consumed capacity ----------------------------------------------------------------------------------

/// Capacity units since the last take.
#[derive(Debug, Clone, Default)]
struct CapacityCounts {
    read: f64,
    /// The minimum units of the reads reported at zero.
    empty_reads: f64,
    write: f64,
    refused: BTreeMap<String, u64>,
}

/// Whether the request being made reads strongly consistently (kept in the request's config bag between
/// the interceptor's two hooks: the input is gone once serialized).
#[derive(Debug, Clone, Copy)]
struct StronglyConsistent(bool);

impl Storable for StronglyConsistent {
    type Storer = StoreReplace<Self>;
}

/// An SDK interceptor for the DynamoDB client: sets `ReturnConsumedCapacity` on every request that takes
/// it, and adds up the `ConsumedCapacity` of every answer. Clones share the counts.
#[derive(Debug, Clone, Default)]
struct CapacityRecorder {
    counts: Arc<Mutex<CapacityCounts>>,
}

impl CapacityRecorder {
    fn take(&self) -> CapacityCounts {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

const READS: [&str; 5] = ["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"];

impl Intercept for CapacityRecorder {
    fn name(&self) -> &'static str {
        "MallguardBenchConsumedCapacity"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput, delete_item::DeleteItemInput,
            get_item::GetItemInput, put_item::PutItemInput, query::QueryInput, scan::ScanInput,
            transact_get_items::TransactGetItemsInput, transact_write_items::TransactWriteItemsInput,
            update_item::UpdateItemInput,
        };
        let input = context.input_mut();
        let consistent = input
            .downcast_ref::<GetItemInput>()
            .and_then(|i| i.consistent_read)
            .or_else(|| input.downcast_ref::<QueryInput>().and_then(|i| i.consistent_read))
            .or_else(|| input.downcast_ref::<ScanInput>().and_then(|i| i.consistent_read))
            .unwrap_or(false);
        cfg.interceptor_state().store_put(StronglyConsistent(consistent));
        // INDEXES: the total (the indexes' writes included, as TOTAL gives it) and its breakdown.
        let total = Some(ReturnConsumedCapacity::Indexes);
        macro_rules! ask {
            ($($input:ty),*) => {
                $(
                    if let Some(input) = input.downcast_mut::<$input>() {
                        input.return_consumed_capacity = total;
                        return Ok(());
                    }
                )*
            };
        }
        ask!(
            GetItemInput,
            PutItemInput,
            UpdateItemInput,
            DeleteItemInput,
            QueryInput,
            ScanInput,
            BatchGetItemInput,
            BatchWriteItemInput,
            TransactGetItemsInput,
            TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemOutput, batch_write_item::BatchWriteItemOutput, delete_item::DeleteItemOutput,
            get_item::GetItemOutput, put_item::PutItemOutput, query::QueryOutput, scan::ScanOutput,
            transact_get_items::TransactGetItemsOutput, transact_write_items::TransactWriteItemsOutput,
            update_item::UpdateItemOutput,
        };
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name).to_owned();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let Ok(output) = context.output_or_error() else {
            *counts.refused.entry(operation).or_default() += 1;
            return Ok(());
        };
        let mut consumed: Vec<&ConsumedCapacity> = vec![];
        macro_rules! one {
            ($($output:ty),*) => {
                $(
                    if let Some(output) = output.downcast_ref::<$output>() {
                        consumed.extend(output.consumed_capacity.iter());
                    }
                )*
            };
        }
        macro_rules! many {
            ($($output:ty),*) => {
                $(
                    if let Some(output) = output.downcast_ref::<$output>() {
                        consumed.extend(output.consumed_capacity.iter().flatten());
                    }
                )*
            };
        }
        one!(
            GetItemOutput,
            PutItemOutput,
            UpdateItemOutput,
            DeleteItemOutput,
            QueryOutput,
            ScanOutput
        );
        many!(
            BatchGetItemOutput,
            BatchWriteItemOutput,
            TransactGetItemsOutput,
            TransactWriteItemsOutput
        );
        let units: f64 = consumed.iter().filter_map(|c| c.capacity_units).sum();
        if READS.contains(&operation.as_str()) {
            counts.read += units;
            if units == 0.0 {
                let consistent = cfg.load::<StronglyConsistent>().is_some_and(|c| c.0);
                counts.empty_reads += if consistent { 1.0 } else { 0.5 };
            }
        } else {
            counts.write += units;
        }
        Ok(())
    }
}
