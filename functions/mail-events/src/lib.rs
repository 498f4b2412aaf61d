//! The mail-events function: SES publishes what becomes of every mail sent with the deployment's
//! configuration set (delivered, bounced, complained of, rejected, delayed) to EventBridge, and a rule
//! hands each event to this function. The event carries the tags the mail was sent with (its hold and its
//! kind), so it is attached to its hold without a lookup ([`Mallguard::mail_reported`]): kept in the order's
//! evidence, and a buyer's notice that did not arrive escalates its hold to the staff at once.
//!
//! The envelope is EventBridge's (`detail-type` `Email Bounced` …, `source` `aws.ses`) around SES's event
//! record (`eventType`, `mail.messageId`, `mail.tags`, `bounce.bounceType`, …), as SES documents them for
//! event publishing. An event of another type (a send, an open) is acknowledged and ignored. The invocation
//! fails only when the store is unavailable, so EventBridge delivers the event again.

use std::collections::BTreeMap;

use jiff::Timestamp;
use mallguard_domain::ids::HoldId;
use mallguard_domain::notice::NoticeKind;
use mallguard_domain::service::{MailOutcome, MailReport, MailReportOutcome, Mallguard, ServiceError};
use serde::{Deserialize, Serialize};

/// What one event became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Handled {
    /// Kept in the order's evidence.
    Recorded,
    /// Kept, and the hold escalated to the staff.
    Escalated,
    /// Not about a hold, or of a type mallguard does not act on.
    Ignored { why: String },
}

#[derive(Debug, thiserror::Error)]
pub enum MailEventsError {
    /// The store was unavailable: EventBridge retries the event.
    #[error("the store was unavailable: {0}")]
    Unavailable(ServiceError),
}

impl From<MailEventsError> for lambda_runtime::Diagnostic {
    fn from(err: MailEventsError) -> Self {
        Self {
            error_type: "MailEventsStoreUnavailable".into(),
            error_message: err.to_string(),
        }
    }
}

/// EventBridge's envelope around an SES event.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type", default)]
    detail_type: String,
    #[serde(default)]
    detail: Option<SesEvent>,
}

/// SES's event record (`eventType`; `notificationType` where event publishing was not set up).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    #[serde(alias = "notificationType")]
    event_type: String,
    mail: SesMail,
    #[serde(default)]
    bounce: Option<SesBounce>,
    #[serde(default)]
    complaint: Option<SesComplaint>,
    #[serde(default)]
    reject: Option<SesReject>,
    #[serde(default)]
    delivery_delay: Option<SesDelay>,
    #[serde(default)]
    delivery: Option<SesDelivery>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesMail {
    message_id: String,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    /// The message tags: name → values.
    #[serde(default)]
    tags: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    #[serde(default)]
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesReject {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesDelay {
    #[serde(default)]
    delay_type: String,
    #[serde(default)]
    timestamp: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesDelivery {
    #[serde(default)]
    timestamp: Option<Timestamp>,
}

/// The report of an SES event, or why there is none.
pub fn report_of(event: &serde_json::Value) -> Result<MailReport, String> {
    let envelope: Envelope =
        serde_json::from_value(event.clone()).map_err(|e| format!("not an EventBridge event: {e}"))?;
    let detail = envelope
        .detail
        .ok_or_else(|| format!("a {:?} event without its SES record", envelope.detail_type))?;
    let tag = |name: &str| detail.mail.tags.get(name).and_then(|values| values.first()).cloned();
    let (outcome, at, reason) = match detail.event_type.as_str() {
        "Bounce" => {
            let bounce = detail.bounce.ok_or("a Bounce without its bounce")?;
            let permanent = bounce.bounce_type == "Permanent";
            (
                MailOutcome::Bounced { permanent },
                bounce.timestamp,
                format!("{}/{}", bounce.bounce_type, bounce.bounce_sub_type),
            )
        }
        "Complaint" => {
            let complaint = detail.complaint.ok_or("a Complaint without its complaint")?;
            (
                MailOutcome::Complained,
                complaint.timestamp,
                complaint.complaint_feedback_type.unwrap_or_default(),
            )
        }
        "Reject" => (
            MailOutcome::Rejected,
            None,
            detail.reject.map(|r| r.reason).unwrap_or_default(),
        ),
        "DeliveryDelay" => {
            let delay = detail.delivery_delay.ok_or("a DeliveryDelay without its delay")?;
            (MailOutcome::Delayed, delay.timestamp, delay.delay_type)
        }
        "Delivery" => (
            MailOutcome::Delivered,
            detail.delivery.and_then(|d| d.timestamp),
            String::new(),
        ),
        other => return Err(format!("a {other:?} event is not acted on")),
    };
    let at = at.or(detail.mail.timestamp).ok_or("an event without a time")?;
    let kind = tag("kind").and_then(|kind| serde_json::from_value::<NoticeKind>(serde_json::Value::String(kind)).ok());
    Ok(MailReport {
        message_id: detail.mail.message_id.chars().take(200).collect(),
        outcome,
        at,
        hold: tag("hold").and_then(|h| HoldId::parse(&h).ok()),
        kind,
        detail: reason.chars().take(200).collect(),
    })
}

/// Handles one EventBridge event.
pub async fn handle(app: &Mallguard, event: serde_json::Value) -> Result<Handled, MailEventsError> {
    let report = match report_of(&event) {
        Ok(report) => report,
        Err(why) => {
            tracing::info!(%why, "mail event ignored");
            return Ok(Handled::Ignored { why });
        }
    };
    match app.mail_reported(report).await {
        Ok(MailReportOutcome::Recorded) => Ok(Handled::Recorded),
        Ok(MailReportOutcome::Escalated) => Ok(Handled::Escalated),
        Ok(MailReportOutcome::Ignored) => Ok(Handled::Ignored {
            why: "not about a hold".into(),
        }),
        Err(err) if err.is_transient() => Err(MailEventsError::Unavailable(err)),
        Err(err) => {
            // A hold whose record cannot be rendered into a mail is a bug of ours: logged, not retried forever.
            tracing::error!(error = %err, "a mail event could not be handled");
            Ok(Handled::Ignored { why: err.to_string() })
        }
    }
}
