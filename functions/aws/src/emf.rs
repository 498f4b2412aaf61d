//! Metrics in CloudWatch Embedded Metric Format: one JSON line per count on stdout, which Lambda sends to
//! CloudWatch Logs, where the metrics are extracted. No API call, no extra latency, no extra permission.

use std::io::Write;
use std::sync::Mutex;

use mallguard_domain::ports::{Metric, Metrics};
use serde_json::json;

/// The namespace every mallguard metric is published under.
pub const NAMESPACE: &str = "mallguard";

/// Writes EMF lines, dimensioned by function name.
pub struct EmfMetrics {
    function: String,
    out: Mutex<Box<dyn Write + Send>>,
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
        }
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
        let line = Self::line(&self.function, metric, count, jiff::Timestamp::now().as_millisecond());
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A lost metric must never fail an order: write errors are ignored.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
}
