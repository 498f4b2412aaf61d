//! Metrics in CloudWatch Embedded Metric Format: one JSON line per count on stdout, which Lambda sends to
//! CloudWatch Logs, where the metrics are extracted. No API call, no extra latency, no extra permission.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mallguard_domain::ports::{Clock, Metric, Metrics, SystemClock};
use serde_json::json;

/// The namespace every mallguard metric is published under.
pub const NAMESPACE: &str = "mallguard";

/// Writes EMF lines, dimensioned by function name, each stamped with the time of its clock.
pub struct EmfMetrics {
    function: String,
    out: Mutex<Box<dyn Write + Send>>,
    clock: Arc<dyn Clock>,
}

impl EmfMetrics {
    /// Metrics of the function `function` (ingest, respond, expire), written to stdout.
    pub fn stdout(function: &str) -> Self {
        Self::to_writer(function, Box::new(std::io::stdout()))
    }

    pub fn to_writer(function: &str, out: Box<dyn Write + Send>) -> Self {
        Self {
            function: function.to_owned(),
            out: Mutex::new(out),
            clock: Arc::new(SystemClock),
        }
    }

    /// Stamps every line with the time of `clock` (the system clock by default), so a count is filed
    /// at the time the use case saw.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The EMF document of one count.
    pub fn line(function: &str, metric: Metric, count: u64, timestamp_ms: i64) -> serde_json::Value {
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": [{ "Name": metric.name(), "Unit": "Count" }],
                }],
            },
            "Function": function,
            metric.name(): count,
        })
    }
}

impl Metrics for EmfMetrics {
    fn record(&self, metric: Metric, count: u64) {
        let line = Self::line(&self.function, metric, count, self.clock.now().as_millisecond());
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A lost metric must never fail an order: write errors are ignored.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use mallguard_domain::testing::ManualClock;

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_count_is_one_emf_line_with_its_metric_declared() {
        let out = Shared::default();
        let metrics = EmfMetrics::to_writer("ingest", Box::new(out.clone()));
        metrics.record(Metric::DuplicateHeld, 1);
        metrics.record(Metric::ParseFailure, 2);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["DuplicatesHeld"], 1);
        assert_eq!(lines[0]["Function"], "ingest");
        let declared = &lines[1]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "mallguard");
        assert_eq!(declared["Metrics"][0]["Name"], "ParseFailures");
        assert_eq!(declared["Dimensions"][0][0], "Function");
        assert_eq!(lines[1]["ParseFailures"], 2);
        assert!(lines[1]["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn each_line_is_stamped_with_the_time_of_the_injected_clock() {
        let out = Shared::default();
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01.234Z"));
        let metrics = EmfMetrics::to_writer("expire", Box::new(out.clone())).with_clock(clock.clone());
        metrics.record(Metric::HoldExpired, 1);
        clock.advance(jiff::SignedDuration::from_secs(60));
        metrics.record(Metric::HoldExpired, 1);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let stamps: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["_aws"]["Timestamp"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(stamps, [1_795_403_101_234, 1_795_403_161_234]);
    }
}
