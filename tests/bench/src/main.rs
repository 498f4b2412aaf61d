//! `mallguard-bench`: measures the local stack against its floors in one run and writes one report.
//!
//! `cargo run -p mallguard-bench --release -- all` builds the release `mallguard`, then measures on this
//! machine, side by side: ingest of distinct signed orders at concurrency 1 and 8 against a bare rusqlite
//! program writing the same rows (the floor) and a bare axum server (what HTTP alone costs); the cost of
//! the default log level; a duplicate-heavy mix; ingest latency as the store grows; the expiry sweep on a
//! backlog of due holds; peak memory at concurrency 64; the Lambda packages' sizes; each Lambda
//! bootstrap's cold start under a Runtime API emulator; and a cost model from counted DynamoDB requests.
//! The report goes to `target/bench/report.md` and `report.json`. It is a benchmark, never a test: no
//! test asserts a time.

mod bare;
mod coldstart;
mod cost;
mod floor;
mod load;
mod orders;
mod report;
mod server;
mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::load::{Load, LoadResult, SIGN_BATCH};
use crate::orders::{Order, Orders};
use crate::report::{Report, RunFigures};
use crate::server::Server;

#[derive(Parser)]
#[command(
    name = "mallguard-bench",
    about = "Benchmarks of mallguard's local stack and Lambda packages"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Every measure, in one run, into one report.
    All(AllArgs),
    /// Cold starts of the Lambda bootstraps under a Runtime API emulator, on DynamoDB Local and moto.
    Coldstart {
        /// Where the bootstraps are (default: the target dir's `release/`, from
        /// `cargo build --release -p mallguard-lambda --bins`).
        #[arg(long)]
        bins: Option<PathBuf>,
    },
    /// Distinct orders at one concurrency slice by slice beside the floor, alone: the quick check of the
    /// floor's share while profiling (`all` measures it with everything else); at concurrency 1 also the
    /// share of a floor slowed as much as disturbing its caches before each transaction slows it.
    Floor {
        #[arg(long, default_value_t = 5_000)]
        orders: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// The `mallguard` binary to run (default: the target dir's release build, as it is).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// The cost model: a mix of orders through the use cases on DynamoDB Local, priced per 10,000 orders.
    Cost {
        #[arg(long, default_value_t = 1_000)]
        orders: usize,
        /// A function's duration per invocation in ms, `ingest=12.5` (repeatable).
        #[arg(long = "duration", value_parser = duration_of)]
        durations: Vec<(String, f64)>,
    },
    /// Posts orders to a running `mallguard serve` (to profile it by hand, e.g. under `perf record -p`).
    Load {
        /// The server, e.g. http://127.0.0.1:9000.
        #[arg(long)]
        url: String,
        /// Its data folder (for the generic secret).
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        orders: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Half the orders duplicates of the other half.
        #[arg(long)]
        duplicates: bool,
    },
    /// The HTTP floor: an axum server answering one POST route (started by `all` itself).
    #[command(hide = true)]
    BareAxum {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(clap::Args, Clone)]
struct AllArgs {
    /// Distinct signed orders per ingest run.
    #[arg(long, default_value_t = 10_000)]
    orders: usize,
    /// Orders posted one after another while the store grows (latency measured per slice).
    #[arg(long, default_value_t = 20_000)]
    growth: usize,
    /// Due holds in the expiry backlog.
    #[arg(long, default_value_t = 5_000)]
    backlog: usize,
    /// Seconds one sweep may take: the expire function's timeout (60 s) less what it keeps in reserve.
    #[arg(long, default_value_t = 50)]
    sweep_within: u64,
    /// Where the report goes.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Use the release binary as it is (do not run cargo build first).
    #[arg(long)]
    no_build: bool,
    /// Leave the Lambda packages out (their arm64 build takes minutes the first time).
    #[arg(long)]
    no_lambda: bool,
}

fn main() -> ExitCode {
    // The floor runs SQLite as `mallguard` does, with the process-wide setting its `main` makes.
    // SAFETY: first thing in `main`, before any other thread exists or any connection is opened.
    let _ = unsafe { mallguard_embedded::without_memory_statistics() };
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::BareAxum { port } => bare::serve(port),
        Cmd::All(args) => runtime().block_on(all(args)),
        Cmd::Load {
            url,
            data,
            orders,
            concurrency,
            duplicates,
        } => runtime().block_on(load_by_hand(&url, &data, orders, concurrency, duplicates)),
        Cmd::Floor {
            orders,
            concurrency,
            binary,
        } => runtime().block_on(floor_only(orders, concurrency, binary)),
        Cmd::Coldstart { bins } => runtime().block_on(coldstart_only(bins)),
        Cmd::Cost { orders, durations } => runtime().block_on(cost_only(orders, durations)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mallguard-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `mallguard-bench floor`: ingest beside the floor alone; the rates and the ratio on stdout.
async fn floor_only(count: usize, concurrency: usize, binary: Option<PathBuf>) -> Result<(), String> {
    let root = root();
    let binary = binary.unwrap_or_else(|| target_dir(&root).join("release/mallguard"));
    let work = tempfile::Builder::new()
        .prefix("mallguard-bench")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let orders = Orders::load(&root)?.distinct("floor", count);
    let mut floor = None;
    let run = ingest_beside_floor(
        &binary,
        &work.path().join("ingest"),
        &orders,
        concurrency,
        &mut floor,
        &work.path().join("floor.db"),
    )
    .await?;
    let floor = floor.ok_or("the floor never ran")?.result();
    println!(
        "ingest {:.0}/s (p50 {:.2} ms, {:.3} ms CPU a request), floor {:.0}/s ({:.3} ms CPU an order): {:.1} % of the floor",
        run.per_second,
        run.p50_ms,
        run.cpu_ms_per_order,
        floor.per_second(),
        floor.cpu_ms_per_order(),
        100.0 * run.per_second / floor.per_second()
    );
    // One request at a time, every commit comes after a request's other work, as the disturbed floor's do.
    if concurrency != 1 {
        return Ok(());
    }
    let cold = cold_floors(work.path(), &orders, floor.sizes)?;
    println!(
        "with its caches disturbed before each transaction the floor writes {:.0} orders/s against {:.0} in the \
         blocks between ({:.3} against {:.3} ms CPU an order): against the floor slowed as much, {:.1} %",
        cold.cold.per_second(),
        cold.warm.per_second(),
        cold.cold.cpu_ms_per_order(),
        cold.warm.cpu_ms_per_order(),
        cold.share_of_slowed(run.per_second, floor.per_second())
    );
    Ok(())
}

/// `mallguard-bench coldstart`: the cold starts alone, as JSON on stdout.
async fn coldstart_only(bins: Option<PathBuf>) -> Result<(), String> {
    let root = root();
    let bins = bins.unwrap_or_else(|| target_dir(&root).join("release"));
    let services = services::Services::start(&root).await?;
    let cold = coldstart::run(&bins, &services, &root).await?;
    println!("{}", serde_json::to_string_pretty(&cold).map_err(|e| e.to_string())?);
    Ok(())
}

/// `mallguard-bench cost`: the cost model alone, as Markdown on stderr and JSON on stdout.
async fn cost_only(orders: usize, durations: Vec<(String, f64)>) -> Result<(), String> {
    let root = root();
    let services = services::Services::start(&root).await?;
    let model = cost::run(&services, orders, &durations.into_iter().collect()).await?;
    eprintln!("{}", model.markdown());
    println!("{}", serde_json::to_string_pretty(&model).map_err(|e| e.to_string())?);
    Ok(())
}

/// `ingest=12.5`: a function and its duration in ms.
fn duration_of(raw: &str) -> Result<(String, f64), String> {
    let (function, ms) = raw.split_once('=').ok_or("expected FUNCTION=MS")?;
    let ms: f64 = ms.trim().parse().map_err(|e| format!("{ms:?}: {e}"))?;
    Ok((function.trim().to_owned(), ms))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The workspace root: two folders above this crate.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn say(what: impl std::fmt::Display) {
    eprintln!("bench: {what}");
}

async fn all(args: AllArgs) -> Result<(), String> {
    let root = root();
    let binary = target_dir(&root).join("release/mallguard");
    if !args.no_build {
        server::build(&root, &binary)?;
    }
    let work = tempfile::Builder::new()
        .prefix("mallguard-bench")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let orders = Orders::load(&root)?;
    let mut report = Report::new(&root, &args);

    // The backlog first: its holds become due five minutes after they are made (the shortest answer time
    // there is), which the runs below fill.
    say(format!("expiry backlog: holding {} duplicate pairs", args.backlog));
    let backlog_data = work.path().join("backlog");
    let backlog_orders = Orders::load(&root)?
        .requested_in(-1)
        .with_duplicates("backlog", args.backlog * 2, 400);
    let made = {
        let server = Server::mallguard(&binary, &backlog_data, &["--min-answer-minutes", "5"], "warn")?;
        let load = Load::new(&server.url, Some(server::generic_secret(&backlog_data)?), 8)?;
        let r = load.post(&backlog_orders, SIGN_BATCH);
        server.stop();
        check(&r, "backlog")?;
        r
    };
    let due_at = Instant::now() + Duration::from_secs(5 * 60 + 5);

    // Ingest of distinct orders at concurrency 1, slice by slice in turn with the floor writing the same
    // orders' rows; then the runs at concurrency 8 side by side (see `at_eight`).
    let distinct = orders.distinct("distinct", args.orders);
    let mix = orders.with_duplicates("mix", args.orders, 400);
    let mut floor: Option<floor::Floor> = None;
    let mut mix_floor: Option<floor::Floor> = None;
    let c1 = ingest_beside_floor(
        &binary,
        &work.path().join("c1"),
        &distinct,
        1,
        &mut floor,
        &work.path().join("floor.db"),
    )
    .await?;
    let eight = at_eight(&binary, work.path(), (&distinct, &mix), &mut floor, &mut mix_floor).await?;
    let (c8, c8_warn, dup8) = (eight.distinct, eight.warn, eight.mix);
    let floor = floor.ok_or("the floor never ran")?.result();
    let mix_floor = mix_floor.ok_or("the mix's floor never ran")?.result();
    let grouped_floors = grouped_floors(work.path(), (&distinct, &mix), (floor.sizes, mix_floor.sizes))?;
    let cold_floors = cold_floors(work.path(), &distinct, floor.sizes)?;
    let bare1 = bare(&distinct, 1).await?;
    let bare8 = bare(&distinct, 8).await?;

    // Peak memory under many connections.
    let c64 = ingest(&binary, &work.path().join("c64"), &distinct, 64, "info").await?;
    let dup64 = ingest(&binary, &work.path().join("mix64"), &mix, 64, "info").await?;

    // Latency as the store grows, slice by slice.
    let growth = growth(&binary, &work.path().join("growth"), &orders, args.growth).await?;

    // The backlog, due now: sweeps as the expire function runs them, each with its time limit.
    let wait = due_at.saturating_duration_since(Instant::now());
    if !wait.is_zero() {
        say(format!("waiting {} s for the backlog's deadlines", wait.as_secs()));
        tokio::time::sleep(wait).await;
    }
    let sweeps = sweep_backlog(&binary, &backlog_data, args.sweep_within)?;

    let zips = if args.no_lambda { vec![] } else { lambda_zips(&root)? };
    let lambda = if args.no_lambda {
        None
    } else {
        Some(cold_starts_and_cost(&root).await?)
    };

    report.figures(RunFigures {
        c1,
        c8,
        c8_warn,
        bare1,
        bare8,
        dup8,
        c64,
        dup64,
        floor,
        mix_floor,
        grouped_floors,
        cold_floors,
        growth,
        backlog_held: made.held,
        sweeps,
        zips,
    });
    if let Some((cold, model)) = lambda {
        report.cold_starts(&cold);
        report.section("cost", vec![], cost_section(&model)?);
    }
    report.write(&args.out)?;
    println!("{}", report.markdown());
    Ok(())
}

async fn load_by_hand(
    url: &str,
    data: &Path,
    count: usize,
    concurrency: usize,
    duplicates: bool,
) -> Result<(), String> {
    let orders = Orders::load(&root())?;
    let tag = format!("load{}", jiff::Timestamp::now().as_second());
    let orders = if duplicates {
        orders.with_duplicates(&tag, count, 400)
    } else {
        orders.distinct(&tag, count)
    };
    let load = Load::new(url, Some(server::generic_secret(data)?), concurrency)?;
    let r = load.post(&orders, SIGN_BATCH);
    check(&r, "load")?;
    println!(
        "{} orders ({} accepted, {} held) at {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        r.sent,
        r.accepted,
        r.held,
        r.per_second(),
        r.quantile_ms(0.5),
        r.quantile_ms(0.99)
    );
    Ok(())
}

/// Each Lambda bootstrap (a native release build) under the Runtime API emulator, then the cost model at
/// the durations measured there.
async fn cold_starts_and_cost(root: &Path) -> Result<(Vec<coldstart::ColdStart>, cost::CostModel), String> {
    say("building the Lambda bootstraps for this machine (cold starts)");
    run(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(root)
            .args(["build", "--release", "-p", "mallguard-lambda", "--bins"]),
    )?;
    let services = services::Services::start(root).await?;
    say("cold starts under the Lambda Runtime API emulator");
    let cold = coldstart::run(&target_dir(root).join("release"), &services, root).await?;
    // A function's duration per invocation: its warm invocations' median, else its first one.
    let durations = cold
        .iter()
        .filter_map(|c| {
            let mut warm: Vec<f64> = c.warm.iter().map(|w| w.invoke_ms).collect();
            warm.sort_by(f64::total_cmp);
            let ms = warm.get(warm.len() / 2).copied().or(c.first_invoke_ms)?;
            Some((c.function.clone(), ms))
        })
        .collect();
    say("cost model: a 5 % duplicate mix on DynamoDB Local, requests and capacity counted");
    let model = cost::run(&services, 1_000, &durations).await?;
    Ok((cold, model))
}

fn cost_section(model: &cost::CostModel) -> Result<serde_json::Value, String> {
    let mut value = serde_json::to_value(model).map_err(|e| e.to_string())?;
    value["markdown"] = model.markdown().into();
    Ok(value)
}

/// Every request answered 2xx.
fn check(r: &LoadResult, what: &str) -> Result<(), String> {
    if r.errors > 0 {
        return Err(format!(
            "{what}: {} of {} requests failed: {:?}",
            r.errors, r.sent, r.error_samples
        ));
    }
    Ok(())
}

/// One ingest run on a fresh data folder: throughput, latency, the server's CPU and peak memory.
async fn ingest(
    binary: &Path,
    data: &Path,
    orders: &[Order],
    concurrency: usize,
    log: &str,
) -> Result<report::Run, String> {
    say(format!(
        "ingest: {} orders at concurrency {concurrency}, log level {log} ({})",
        orders.len(),
        data.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
    ));
    let server = Server::mallguard(binary, data, &[], log)?;
    let load = Load::new(&server.url, Some(server::generic_secret(data)?), concurrency)?;
    let cpu = server.cpu_ticks()?;
    let r = load.post(orders, SIGN_BATCH);
    let cpu = server.cpu_ticks()? - cpu;
    let rss = server.peak_rss_kb()?;
    server.stop();
    check(&r, "ingest")?;
    Ok(report::Run::new(concurrency, r, cpu, rss))
}

/// Slices of orders alternately into `mallguard serve` and the floor (opened on the first slice, with the
/// row sizes of what the server stored by then).
async fn ingest_beside_floor(
    binary: &Path,
    data: &Path,
    orders: &[Order],
    concurrency: usize,
    floor: &mut Option<floor::Floor>,
    floor_db: &Path,
) -> Result<report::Run, String> {
    say(format!(
        "ingest: {} orders at concurrency {concurrency}, slice by slice beside the floor",
        orders.len()
    ));
    let mut side = Sliced::start(binary, data, concurrency, "info")?;
    for part in orders.chunks(orders.len().div_ceil(SLICES).max(1)) {
        side.slice(part, Some((floor, floor_db))).await?;
    }
    side.finish()
}

/// The distinct orders' floor and the mix's, each written eight orders a transaction (decisions, then the
/// held orders' outcomes), a slice of each in turn, with the row sizes of the floors one order a transaction.
fn grouped_floors(
    work: &Path,
    (distinct, mix): (&[Order], &[Order]),
    (distinct_sizes, mix_sizes): (floor::RowSizes, floor::RowSizes),
) -> Result<(floor::FloorResult, floor::FloorResult), String> {
    say(format!("the floors again, {GROUPED} orders a transaction"));
    let mut plain = floor::Floor::in_groups(&work.join("floor-grouped.db"), distinct_sizes, GROUPED)?;
    let mut held = floor::Floor::in_groups(&work.join("mix-floor-grouped.db"), mix_sizes, GROUPED)?;
    let distinct_parts = distinct.chunks(distinct.len().div_ceil(SLICES).max(1));
    let mix_parts = mix.chunks(mix.len().div_ceil(SLICES).max(1));
    for (d, m) in distinct_parts.zip(mix_parts) {
        plain.write(d)?;
        held.write(m)?;
    }
    Ok((plain.result(), held.result()))
}

/// The distinct orders' floor again, its blocks of transactions alternately as they are and with their
/// caches disturbed (as much memory written over before each transaction as the core's L2 cache holds: see
/// `Floor::disturbing_caches`): what cold caches cost SQLite alone. The undisturbed blocks, then the
/// disturbed ones.
fn cold_floors(work: &Path, distinct: &[Order], sizes: floor::RowSizes) -> Result<floor::ColdFloor, String> {
    let (bytes, what) = floor::disturbance();
    say(format!(
        "the floor again, every other block of transactions after {} KiB written over",
        bytes >> 10
    ));
    let mut floor = floor::Floor::open(&work.join("floor-cold.db"), sizes)?.disturbing_caches(bytes);
    floor.write(distinct)?;
    Ok(floor::ColdFloor {
        warm: floor.result(),
        cold: floor.disturbed_result(),
        bytes,
        what,
    })
}

/// Orders a transaction in the grouped floors: as many as requests in flight at concurrency 8.
pub const GROUPED: usize = 8;

/// What the runs at concurrency 8 measure together.
struct AtEight {
    distinct: report::Run,
    warn: report::Run,
    mix: report::Run,
}

/// The distinct orders at the default log level and at `warn`, and the duplicate mix, all at concurrency
/// 8, a slice of each in turn, the default-level run and the mix each beside a floor of its own: on a
/// shared machine the speed drifts by the minute, and the ratios between them (the floor's share, the log
/// level's cost, the mix's rate) are only fair when all of them see the same weather.
async fn at_eight(
    binary: &Path,
    work: &Path,
    (distinct, mix): (&[Order], &[Order]),
    floor: &mut Option<floor::Floor>,
    mix_floor: &mut Option<floor::Floor>,
) -> Result<AtEight, String> {
    say(format!(
        "ingest at concurrency 8: {} distinct orders (log level info, beside the floor), the same at warn, \
         {} of the duplicate mix (beside a floor of its own), slice by slice in turn",
        distinct.len(),
        mix.len()
    ));
    let mut plain = Sliced::start(binary, &work.join("c8"), 8, "info")?;
    let mut quiet = Sliced::start(binary, &work.join("c8-warn"), 8, "warn")?;
    let mut held = Sliced::start(binary, &work.join("mix"), 8, "info")?;
    let (floor_db, mix_floor_db) = (work.join("floor.db"), work.join("mix-floor.db"));
    let distinct_parts = distinct.chunks(distinct.len().div_ceil(SLICES).max(1));
    let mix_parts = mix.chunks(mix.len().div_ceil(SLICES).max(1));
    for (round, (d, m)) in distinct_parts.zip(mix_parts).enumerate() {
        // The two log levels take turns going first, so that neither always follows the mix's floor (the
        // heaviest writing of a round) and the cost of `info` is not that position's.
        for level in log_levels_in_turn(round) {
            match level {
                LogLevel::Info => plain.slice(d, Some((floor, &floor_db))).await?,
                LogLevel::Warn => quiet.slice(d, None).await?,
            }
        }
        held.slice(m, Some((mix_floor, &mix_floor_db))).await?;
    }
    Ok(AtEight {
        distinct: plain.finish()?,
        warn: quiet.finish()?,
        mix: held.finish()?,
    })
}

/// The order the distinct runs at `info` and at `warn` post their slices in, in round `round`: each first in
/// every other round.
fn log_levels_in_turn(round: usize) -> [LogLevel; 2] {
    if round.is_multiple_of(2) {
        [LogLevel::Info, LogLevel::Warn]
    } else {
        [LogLevel::Warn, LogLevel::Info]
    }
}

/// The two log levels the distinct orders are posted at, at concurrency 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogLevel {
    Info,
    Warn,
}

/// One `mallguard serve` taking orders slice by slice, its CPU counted only while a slice is posted.
struct Sliced {
    server: Server,
    load: Load,
    data: std::path::PathBuf,
    concurrency: usize,
    total: LoadResult,
    cpu: u64,
}

impl Sliced {
    fn start(binary: &Path, data: &Path, concurrency: usize, log: &str) -> Result<Self, String> {
        let server = Server::mallguard(binary, data, &[], log)?;
        let load = Load::new(&server.url, Some(server::generic_secret(data)?), concurrency)?;
        Ok(Self {
            server,
            load,
            data: data.to_owned(),
            concurrency,
            total: LoadResult::default(),
            cpu: 0,
        })
    }

    /// Posts `part`, then has the floor, if any, write the same orders' rows (opened on the first slice,
    /// with the row sizes of what the server stored by then).
    async fn slice(&mut self, part: &[Order], floor: Option<(&mut Option<floor::Floor>, &Path)>) -> Result<(), String> {
        let before = self.server.cpu_ticks()?;
        let r = self.load.post(part, SIGN_BATCH);
        self.cpu += self.server.cpu_ticks()? - before;
        check(&r, "ingest")?;
        self.total.merge(r);
        let Some((floor, floor_db)) = floor else {
            return Ok(());
        };
        if floor.is_none() {
            let sizes = floor::RowSizes::of(&server::database(&self.data)).unwrap_or_default();
            *floor = Some(floor::Floor::open(floor_db, sizes)?);
        }
        if let Some(f) = floor.as_mut() {
            f.write(part)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<report::Run, String> {
        let rss = self.server.peak_rss_kb()?;
        self.server.stop();
        Ok(report::Run::new(self.concurrency, self.total, self.cpu, rss))
    }
}

/// How many slices an ingest run is cut into to alternate with the floor.
const SLICES: usize = 10;

/// The same requests, unsigned, against the bare axum server.
async fn bare(orders: &[Order], concurrency: usize) -> Result<report::Run, String> {
    say(format!(
        "bare axum: {} requests at concurrency {concurrency}",
        orders.len()
    ));
    let server = Server::bare_axum()?;
    let load = Load::new(&server.url, None, concurrency)?;
    let cpu = server.cpu_ticks()?;
    let r = load.post(orders, SIGN_BATCH);
    let cpu = server.cpu_ticks()? - cpu;
    let rss = server.peak_rss_kb()?;
    server.stop();
    check(&r, "bare axum")?;
    Ok(report::Run::new(concurrency, r, cpu, rss))
}

/// Distinct orders at concurrency 1 into one store, in ten slices: each slice's latency.
async fn growth(binary: &Path, data: &Path, orders: &Orders, count: usize) -> Result<report::Growth, String> {
    say(format!("growth: {count} orders into one store, ten slices"));
    let all = orders.distinct("growth", count);
    let server = Server::mallguard(binary, data, &[], "info")?;
    let load = Load::new(&server.url, Some(server::generic_secret(data)?), 1)?;
    let (mut slices, mut latencies) = (vec![], vec![]);
    let size = count.div_ceil(10).max(1);
    for (i, slice) in all.chunks(size).enumerate() {
        let r = load.post(slice, SIGN_BATCH);
        check(&r, "growth")?;
        slices.push(report::Slice {
            stored_before: i * size,
            orders: slice.len(),
            p50_ms: r.quantile_ms(0.50),
            p99_ms: r.quantile_ms(0.99),
            per_second: r.per_second(),
        });
        latencies.push(r.latencies);
    }
    server.stop();
    Ok(report::Growth::new(slices, &latencies))
}

/// `mallguard expire --within S` until nothing due is left, as the scheduled function would run.
fn sweep_backlog(binary: &Path, data: &Path, within: u64) -> Result<Vec<report::Sweep>, String> {
    let mut sweeps = vec![];
    loop {
        say(format!("expiry sweep {} (at most {within} s)", sweeps.len() + 1));
        let started = Instant::now();
        let out = Command::new(binary)
            .args(["expire", "--language", "en", "--within", &within.to_string(), "--data"])
            .arg(data)
            .env("MALLGUARD_LOG", "warn")
            .output()
            .map_err(|e| e.to_string())?;
        let wall = started.elapsed();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "mallguard expire failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cancelled = number_after(&text, "cancelled ").ok_or_else(|| format!("unexpected sweep output: {text}"))?;
        let more = text.contains("left");
        sweeps.push(report::Sweep {
            cancelled,
            seconds: wall.as_secs_f64(),
            more_due: more,
        });
        if !more || sweeps.len() >= 100 {
            return Ok(sweeps);
        }
    }
}

fn number_after(text: &str, label: &str) -> Option<usize> {
    let rest = &text[text.find(label)? + label.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The arm64 Lambda packages, built as CI builds them, zipped as Lambda takes them.
fn lambda_zips(root: &Path) -> Result<Vec<(String, u64)>, String> {
    let tools = root.join(".test-services/tools/bin");
    if !tools.join("cargo-lambda").exists() {
        say("installing cargo-lambda into .test-services/tools (as CI does)");
        let venv = root.join(".test-services/tools");
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(tools.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "cargo-lambda",
        ]))?;
    }
    say("building the arm64 Lambda packages (minutes the first time)");
    let path = std::env::join_paths(
        std::iter::once(tools.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .map_err(|e| e.to_string())?;
    run(Command::new("cargo").current_dir(root).env("PATH", path).args([
        "lambda",
        "build",
        "--release",
        "--arm64",
        "-p",
        "mallguard-lambda",
        "--bins",
        "--output-format",
        "zip",
    ]))?;
    let lambda = target_dir(root).join("lambda");
    let mut zips = vec![];
    for f in report::FUNCTIONS {
        let zip = lambda.join(f).join("bootstrap.zip");
        let len = std::fs::metadata(&zip)
            .map_err(|e| format!("{}: {e}", zip.display()))?
            .len();
        zips.push(((*f).to_owned(), len));
    }
    Ok(zips)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_log_level_goes_first_in_half_the_rounds_and_both_post_in_every_round() {
        let first = |level| (0..SLICES).filter(|r| log_levels_in_turn(*r)[0] == level).count();
        assert_eq!((first(LogLevel::Info), first(LogLevel::Warn)), (SLICES / 2, SLICES / 2));
        for round in 0..SLICES {
            let levels = log_levels_in_turn(round);
            assert!(levels.contains(&LogLevel::Info) && levels.contains(&LogLevel::Warn));
        }
    }
}
