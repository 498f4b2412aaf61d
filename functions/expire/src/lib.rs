//! The expire function: one sweep per scheduled invocation (EventBridge Scheduler, every few minutes).
//! The event carries nothing the sweep needs: the clock and the store say what is due.

use std::time::{Duration, Instant};

use mallguard_domain::service::{Mallguard, Retry, ServiceError, SweepReport};

#[derive(Debug, thiserror::Error)]
pub enum ExpireError {
    /// The store was unavailable: the invocation fails so the scheduler retries it; the next tick would
    /// pick everything up anyway, since nothing due is lost.
    #[error("sweep failed: {0}")]
    Sweep(#[from] ServiceError),
}

impl From<ExpireError> for lambda_runtime::Diagnostic {
    fn from(err: ExpireError) -> Self {
        let error_type = match &err {
            ExpireError::Sweep(e) if e.is_transient() => "SweepUnavailable",
            ExpireError::Sweep(_) => "SweepFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// What a sweep keeps of the invocation's time to answer before Lambda ends it: every send and mall action of
/// the sweep ends before this is left (each is cut short at the sweep's end, none is started too near it).
pub const RESERVE: Duration = Duration::from_secs(10);

/// Handles one scheduler event (its payload is ignored: any JSON is accepted), taking due holds until
/// [`RESERVE`] before `deadline`, the invocation's end (None: no limit). Returns what the sweep did,
/// which Lambda records as the invocation's result; `more_due` says a backlog is left for the next one.
pub async fn handle(
    app: &Mallguard,
    event: serde_json::Value,
    deadline: Option<Instant>,
) -> Result<SweepReport, ExpireError> {
    let until = deadline.map(|d| tokio::time::Instant::from_std(d.checked_sub(RESERVE).unwrap_or_else(Instant::now)));
    let report = app.sweep_until(Retry::WhenDue, until).await?;
    tracing::info!(?report, scheduled_time = %event["scheduled_time"], "expiry sweep");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mallguard_domain::hold::HoldState;
    use mallguard_domain::ports::roles::*;
    use mallguard_domain::service::{IngestOutcome, Mallguard};
    use mallguard_domain::testing::{ManualClock, MemoryStore, RecordingMailer, incoming, order, order_at, settings};

    use super::*;

    fn scheduler_event() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/lambda/expire-schedule.json");
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn the_scheduled_event_cancels_a_hold_at_its_deadline() {
        let store = Arc::new(MemoryStore::default());
        let clock = Arc::new(ManualClock::at("2026-11-23T03:05:01Z"));
        let app = Mallguard::new(
            store.clone(),
            Arc::new(RecordingMailer::default()),
            clock.clone(),
            settings(),
        );
        app.ingest(incoming(order("1001"))).await.unwrap();
        let IngestOutcome::Held { hold, .. } = app
            .ingest(incoming(order_at("1002", "2026-11-23T03:05:00Z")))
            .await
            .unwrap()
        else {
            panic!("held")
        };
        assert_eq!(handle(&app, scheduler_event(), None).await.unwrap().cancelled, 0);
        let deadline = store.hold(&hold).await.unwrap().unwrap().deadline;
        clock.set(deadline);
        let summary = handle(&app, scheduler_event(), None).await.unwrap();
        assert_eq!(summary.cancelled, 1);
        assert_eq!(summary.notices_sent, 2, "the cancellation mail and the staff alert");
        assert_eq!(store.hold(&hold).await.unwrap().unwrap().state, HoldState::Cancelled);
    }
}
