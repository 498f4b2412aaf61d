//! The report: every figure of the run, each budget with what was measured against it, as Markdown (for
//! people and the README) and JSON (for comparing runs).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::AllArgs;
use crate::floor::FloorResult;
use crate::load::LoadResult;

/// The Lambda functions, in the template's order.
pub const FUNCTIONS: &[&str] = &[
    "ingest",
    "respond",
    "expire",
    "poll",
    "amazon-notifications",
    "mail-events",
    "console",
];

/// The largest package a function may have, in bytes (3.5 MB).
const ZIP_BUDGET: u64 = 3_500_000;

/// One load run, in figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub concurrency: usize,
    pub orders: usize,
    pub accepted: usize,
    pub held: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Server CPU (user + system, every thread) per request.
    pub cpu_ms_per_order: f64,
    pub peak_rss_mb: f64,
}

impl Run {
    pub fn new(concurrency: usize, r: LoadResult, cpu_ticks: u64, rss_kb: u64) -> Self {
        let ticks = crate::server::clock_ticks() as f64;
        Self {
            concurrency,
            orders: r.sent,
            accepted: r.accepted,
            held: r.held,
            per_second: r.per_second(),
            p50_ms: r.quantile_ms(0.50),
            p99_ms: r.quantile_ms(0.99),
            cpu_ms_per_order: cpu_ticks as f64 * 1000.0 / ticks / r.sent.max(1) as f64,
            peak_rss_mb: rss_kb as f64 / 1024.0,
        }
    }
}

/// A slice of the growth run.
#[derive(Debug, Clone, Serialize)]
pub struct Slice {
    pub stored_before: usize,
    pub orders: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub per_second: f64,
}

/// The growth run: each slice, and the p99 latency of its first and its last fifth of the orders, each over
/// all the requests of its slices. A slice's own p99 is its 20th slowest request in 2,000, and slices have
/// read anything from 0.7 to 1.7 ms in no order of what the store holds (whether a checkpoint copies into
/// the database file during the slice, probably; not confirmed): one slice against one other would judge
/// that draw, not the store's growth.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub slices: Vec<Slice>,
    /// How many slices make each end (a fifth of them, at least one).
    pub end_slices: usize,
    pub first_p99_ms: f64,
    pub last_p99_ms: f64,
}

impl Growth {
    /// `latencies` holds each slice's request latencies, in the order of `slices`.
    pub fn new(slices: Vec<Slice>, latencies: &[Vec<Duration>]) -> Self {
        let end_slices = (latencies.len() / 5).max(1).min(latencies.len());
        let p99 = |part: &[Vec<Duration>]| crate::load::quantile_ms(&part.concat(), 0.99);
        Self {
            slices,
            end_slices,
            first_p99_ms: p99(&latencies[..end_slices]),
            last_p99_ms: p99(&latencies[latencies.len() - end_slices..]),
        }
    }

    /// Orders stored when the run ended.
    pub fn stored(&self) -> usize {
        self.slices.last().map_or(0, |s| s.stored_before + s.orders)
    }
}

/// One sweep of the backlog.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub cancelled: usize,
    pub seconds: f64,
    pub more_due: bool,
}

/// Everything `all` measured.
pub struct RunFigures {
    pub c1: Run,
    pub c8: Run,
    pub c8_warn: Run,
    pub bare1: Run,
    pub bare8: Run,
    pub dup8: Run,
    pub c64: Run,
    pub dup64: Run,
    pub floor: FloorResult,
    /// The floor writing the duplicate mix's rows.
    pub mix_floor: FloorResult,
    /// The distinct floor and the mix's, eight orders a transaction.
    pub grouped_floors: (FloorResult, FloorResult),
    /// The distinct floor again, in a pass of its own: its blocks of transactions as they are, and those
    /// with the caches disturbed before each transaction.
    pub cold_floors: crate::floor::ColdFloor,
    pub growth: Growth,
    pub backlog_held: usize,
    pub sweeps: Vec<Sweep>,
    pub zips: Vec<(String, u64)>,
}

/// A budget and what this run measured against it.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub measure: String,
    pub measured: String,
    pub budget: String,
    pub met: bool,
}

impl Budget {
    fn new(measure: &str, measured: String, budget: &str, met: bool) -> Self {
        Self {
            measure: measure.to_owned(),
            measured,
            budget: budget.to_owned(),
            met,
        }
    }
}

pub struct Report {
    machine: Value,
    settings: Value,
    budgets: Vec<Budget>,
    details: serde_json::Map<String, Value>,
}

impl Report {
    pub fn new(root: &Path, args: &AllArgs) -> Self {
        Self {
            machine: machine(root),
            settings: json!({
                "orders": args.orders,
                "growth": args.growth,
                "backlog": args.backlog,
                "sweep_within_s": args.sweep_within,
            }),
            budgets: vec![],
            details: serde_json::Map::new(),
        }
    }

    pub fn figures(&mut self, f: RunFigures) {
        let floor = f.floor.per_second();
        let pct = |run: &Run| run.per_second / floor * 100.0;
        // One request at a time, HTTP's own round trip (the bare server's, load generator included) adds to
        // the floor's time per order: even a server doing nothing but the floor's writes would reach only
        // this share of the floor.
        let (floor_ms, http_ms) = (1_000.0 / floor, 1_000.0 / f.bare1.per_second);
        let ceiling = floor_ms / (floor_ms + http_ms) * 100.0;
        // The floor commits in a loop that does nothing else; ingest's commits come after a request's other
        // work, with colder caches. The same floor disturbed before its transactions says what that costs SQLite.
        let cold_floors = &f.cold_floors;
        let (warm, cold) = (&cold_floors.warm, &cold_floors.cold);
        self.budgets.push(Budget::new(
            "local ingest, concurrency 1, as % of the writes-only floor",
            format!(
                "{:.0} % ({:.0} of {:.0} orders/s; {:.2} ms a request, of which the floor's writes {:.2} ms ({:.2} ms \
                 of CPU, the rest waiting for the disk) and HTTP alone {:.3} ms: {ceiling:.0} % with no other \
                 work; 60 % allows {:.2} ms a request in all, where the server's CPU alone takes {:.2} ms). With \
                 the caches disturbed before each transaction ({} KiB written over, {}), as a \
                 request's other work disturbs ingest's, the floor writes {:.0} orders/s against {:.0} in the \
                 blocks between ({:.2} against {:.2} ms of CPU an order): against the floor slowed as much, {:.0} %",
                pct(&f.c1),
                f.c1.per_second,
                floor,
                1_000.0 / f.c1.per_second,
                floor_ms,
                f.floor.cpu_ms_per_order(),
                http_ms,
                floor_ms / 0.6,
                f.c1.cpu_ms_per_order,
                cold_floors.bytes >> 10,
                cold_floors.what,
                cold.per_second(),
                warm.per_second(),
                cold.cpu_ms_per_order(),
                warm.cpu_ms_per_order(),
                cold_floors.share_of_slowed(f.c1.per_second, floor)
            ),
            "≥ 60 %",
            pct(&f.c1) >= 60.0,
        ));
        self.budgets.push(Budget::new(
            "local ingest, concurrency 8, as % of the floor",
            format!("{:.0} % ({:.0} orders/s)", pct(&f.c8), f.c8.per_second),
            "≥ 80 %",
            pct(&f.c8) >= 80.0,
        ));
        self.budgets.push(Budget::new(
            "server CPU per accepted order (concurrency 8)",
            format!(
                "{:.2} ms (bare axum: {:.3} ms)",
                f.c8.cpu_ms_per_order, f.bare8.cpu_ms_per_order
            ),
            "≤ 0.5 ms",
            f.c8.cpu_ms_per_order <= 0.5,
        ));
        let log_cost = (1.0 - f.c8.per_second / f.c8_warn.per_second) * 100.0;
        self.budgets.push(Budget::new(
            "cost of the default `info` log level (concurrency 8, vs `warn`)",
            format!(
                "{log_cost:.1} % of throughput ({:.0} vs {:.0} orders/s)",
                f.c8.per_second, f.c8_warn.per_second
            ),
            "≤ 5 %",
            log_cost <= 5.0,
        ));
        let g = &f.growth;
        let (p99_first, p99_last) = (g.first_p99_ms, g.last_p99_ms);
        let each: Vec<String> = g.slices.iter().map(|s| format!("{:.2}", s.p99_ms)).collect();
        self.budgets.push(Budget::new(
            "ingest p99 as the store grows (first fifth of the orders → last fifth)",
            format!(
                "{p99_first:.2} → {p99_last:.2} ms (0 → {} orders stored; each slice of {}: {} ms)",
                g.stored(),
                g.slices.first().map_or(0, |s| s.orders),
                each.join(", ")
            ),
            "flat (last ≤ 1.5 × first)",
            p99_last <= 1.5 * p99_first,
        ));
        let dup_ratio = f.dup8.per_second / f.c8.per_second * 100.0;
        let floor_ratio = f.mix_floor.per_second() / f.floor.per_second() * 100.0;
        let (grouped, grouped_mix) = &f.grouped_floors;
        let grouped_ratio = grouped_mix.per_second() / grouped.per_second() * 100.0;
        self.budgets.push(Budget::new(
            "duplicate-heavy mix (half held, two mails each), concurrency 8",
            format!(
                "{:.0} orders/s = {dup_ratio:.0} % of the distinct rate ({} held); SQLite alone, writing the \
                 mix's rows, reaches {floor_ratio:.0} % of its distinct rate ({:.0} of {:.0} orders/s), and \
                 {grouped_ratio:.0} % {} orders a transaction ({:.0} of {:.0} orders/s)",
                f.dup8.per_second,
                f.dup8.held,
                f.mix_floor.per_second(),
                f.floor.per_second(),
                crate::GROUPED,
                grouped_mix.per_second(),
                grouped.per_second()
            ),
            "≥ 70 % of the distinct-order rate",
            dup_ratio >= 70.0,
        ));
        let cancelled: usize = f.sweeps.iter().map(|s| s.cancelled).sum();
        let within = self.settings["sweep_within_s"].as_f64().unwrap_or(50.0);
        let longest = f.sweeps.iter().map(|s| s.seconds).fold(0.0, f64::max);
        let drained = f.sweeps.last().is_some_and(|s| !s.more_due) && cancelled == f.backlog_held;
        self.budgets.push(Budget::new(
            "expiry backlog of due holds",
            format!(
                "{cancelled} of {} cancelled in {} sweep(s) of ≤ {within:.0} s (longest {longest:.1} s){}",
                f.backlog_held,
                f.sweeps.len(),
                if f.sweeps.len() > 1 {
                    ", each reporting the rest"
                } else {
                    ""
                }
            ),
            "one invocation drains what its time budget allows, then reports the rest",
            drained && longest <= within + 10.0,
        ));
        if !f.zips.is_empty() {
            let largest = f.zips.iter().map(|(_, l)| *l).max().unwrap_or(0);
            self.budgets.push(Budget::new(
                "Lambda `bootstrap.zip`, arm64",
                f.zips
                    .iter()
                    .map(|(name, len)| format!("{name} {:.2} MB", *len as f64 / 1e6))
                    .collect::<Vec<_>>()
                    .join(", "),
                "≤ 3.5 MB each",
                largest <= ZIP_BUDGET,
            ));
        }
        let rss = f.c64.peak_rss_mb.max(f.dup64.peak_rss_mb);
        self.budgets.push(Budget::new(
            "peak RSS under load (local, concurrency 64)",
            format!(
                "{:.0} MB distinct, {:.0} MB duplicate mix",
                f.c64.peak_rss_mb, f.dup64.peak_rss_mb
            ),
            "≤ 40 MB local",
            rss <= 40.0,
        ));

        let run = |r: &Run| serde_json::to_value(r).unwrap_or_default();
        self.details.insert(
            "runs".into(),
            json!({
                "ingest_c1": run(&f.c1),
                "ingest_c8": run(&f.c8),
                "ingest_c8_warn": run(&f.c8_warn),
                "bare_axum_c1": run(&f.bare1),
                "bare_axum_c8": run(&f.bare8),
                "duplicate_mix_c8": run(&f.dup8),
                "ingest_c64": run(&f.c64),
                "duplicate_mix_c64": run(&f.dup64),
                "floor": {
                    "orders": f.floor.orders,
                    "per_second": floor,
                    "cpu_ms_per_order": f.floor.cpu_ms_per_order(),
                    "row_sizes_measured": f.floor.sizes.measured,
                },
                "floor_duplicate_mix": {
                    "orders": f.mix_floor.orders,
                    "per_second": f.mix_floor.per_second(),
                    "row_sizes_measured": f.mix_floor.sizes.measured,
                },
                "floor_caches_disturbed": {
                    "bytes_written_over_before_a_transaction": cold_floors.bytes,
                    "orders": cold.orders,
                    "per_second": cold.per_second(),
                    "cpu_ms_per_order": cold.cpu_ms_per_order(),
                    "transactions_a_block": crate::floor::BLOCK,
                    "undisturbed_blocks_orders": warm.orders,
                    "undisturbed_blocks_per_second": warm.per_second(),
                    "undisturbed_blocks_cpu_ms_per_order": warm.cpu_ms_per_order(),
                },
                "floor_grouped": {
                    "orders_a_transaction": crate::GROUPED,
                    "orders": grouped.orders,
                    "per_second": grouped.per_second(),
                },
                "floor_duplicate_mix_grouped": {
                    "orders_a_transaction": crate::GROUPED,
                    "orders": grouped_mix.orders,
                    "per_second": grouped_mix.per_second(),
                },
            }),
        );
        self.details.insert("growth".into(), json!(f.growth));
        self.details
            .insert("backlog".into(), json!({ "held": f.backlog_held, "sweeps": f.sweeps }));
        self.details.insert(
            "lambda_zips".into(),
            Value::Object(f.zips.iter().map(|(n, l)| (n.clone(), json!(l))).collect()),
        );
    }

    /// The Lambda bootstraps' cold starts, and their memory against its budget.
    pub fn cold_starts(&mut self, cold: &[crate::coldstart::ColdStart]) {
        let peak = cold.iter().filter_map(|c| c.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0;
        let all_answered = cold.iter().all(|c| c.success);
        let mut md = String::from(
            "| function | init ms | first invocation ms | peak RSS MB | answered |\n|---|---|---|---|---|\n",
        );
        for c in cold {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                c.function,
                c.init_ms.map_or("–".into(), |v| format!("{v:.1}")),
                c.first_invoke_ms.map_or("–".into(), |v| format!("{v:.1}")),
                c.peak_rss_kb
                    .map_or("–".into(), |v| format!("{:.1}", v as f64 / 1024.0)),
                if c.success { "yes" } else { "**no**" }
            ));
        }
        let budgets = vec![Budget::new(
            "peak RSS per Lambda (native bootstrap, first invocation)",
            format!("{peak:.1} MB at most, over {} functions", cold.len()),
            "≤ 20 MB per Lambda",
            peak <= 20.0 && all_answered,
        )];
        self.section(
            "cold starts",
            budgets,
            json!({ "functions": serde_json::to_value(cold).unwrap_or_default(), "markdown": md }),
        );
    }

    /// Adds a section computed elsewhere (cold starts, the cost model): its budgets and figures.
    pub fn section(&mut self, name: &str, budgets: Vec<Budget>, figures: Value) {
        self.budgets.extend(budgets);
        self.details.insert(name.into(), figures);
    }

    pub fn json(&self) -> Value {
        json!({
            "machine": self.machine,
            "settings": self.settings,
            "budgets": self.budgets,
            "details": self.details,
        })
    }

    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Measured {} on {} ({} cores, {}), commit {}, {} orders per run.\n\n",
            m["date"].as_str().unwrap_or("?"),
            m["cpu"].as_str().unwrap_or("?"),
            m["cores"],
            m["kernel"].as_str().unwrap_or("?"),
            m["commit"].as_str().unwrap_or("?"),
            self.settings["orders"],
        );
        out.push_str("| measure | measured | budget | met |\n|---|---|---|---|\n");
        for b in &self.budgets {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                b.measure,
                b.measured,
                b.budget,
                if b.met { "yes" } else { "**no**" }
            ));
        }
        for (name, value) in &self.details {
            if let Some(md) = value.get("markdown").and_then(Value::as_str) {
                out.push_str(&format!("\n{name}:\n\n{md}\n"));
            }
        }
        out
    }

    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(&self.json()).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("report.json"), json).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("report.md"), self.markdown()).map_err(|e| e.to_string())?;
        crate::say(format!("report written to {}", dir.join("report.md").display()));
        Ok(())
    }
}

/// What the figures were measured on.
fn machine(root: &Path) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let output = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    json!({
        "date": jiff::Zoned::now().strftime("%Y-%m-%d %H:%M %Z").to_string(),
        "cpu": cpu,
        "cores": cores,
        "kernel": output(Command::new("uname").arg("-r")),
        "commit": output(Command::new("git").current_dir(root).args(["rev-parse", "--short", "HEAD"])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(i: usize) -> Slice {
        Slice {
            stored_before: i * 100,
            orders: 100,
            p50_ms: 1.0,
            p99_ms: 1.0,
            per_second: 1000.0,
        }
    }

    /// Each slice 100 requests of 1 ms, and `slow` of them 5 ms instead.
    fn latencies(slow: &[usize]) -> Vec<Vec<Duration>> {
        slow.iter()
            .map(|&n| {
                (0..100)
                    .map(|i| Duration::from_millis(if i < n { 5 } else { 1 }))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn each_end_of_the_growth_run_is_a_fifth_of_its_slices_pooled() {
        // Two slow requests in 200 stay under the p99 of the first two slices pooled; three in 200 do not.
        let l = latencies(&[0, 2, 9, 9, 9, 9, 9, 9, 3, 0]);
        let g = Growth::new((0..10).map(slice).collect(), &l);
        assert_eq!(g.end_slices, 2);
        assert_eq!((g.first_p99_ms, g.last_p99_ms), (1.0, 5.0));
        assert_eq!(g.stored(), 1000);
    }

    #[test]
    fn a_growth_run_of_few_slices_compares_its_first_and_last_slice() {
        let l = latencies(&[0, 9, 5]);
        let g = Growth::new((0..3).map(slice).collect(), &l);
        assert_eq!(g.end_slices, 1);
        assert_eq!((g.first_p99_ms, g.last_p99_ms), (1.0, 5.0));
        let one = Growth::new(vec![slice(0)], &latencies(&[0]));
        assert_eq!((one.end_slices, one.first_p99_ms, one.last_p99_ms), (1, 1.0, 1.0));
    }
}
