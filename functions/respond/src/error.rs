//! What can go wrong behind a link, mapped to a status and a page in one place.
//!
//! | error | status | page |
//! |---|---|---|
//! | invalid or tampered link | 404 | このリンクは無効です |
//! | hold or order gone | 404 | お探しのご注文が見つかりません |
//! | store unavailable, contention | 503 + `Retry-After: 5` | ただいま混み合っています |
//! | anything else | 500 | ページを表示できませんでした (logged) |
//!
//! Every page names the shop and how to reach it. Logs carry the hold id at most: never the token's
//! text (it is a bearer credential) and never personal data.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use mallguard_domain::ids::HoldId;
use mallguard_domain::ports::StoreError;
use mallguard_domain::service::ServiceError;

use crate::pages::Chrome;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a link could not be served. Each variant keeps the page chrome, so the error page speaks the
/// buyer's language and names the shop.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RespondError {
    #[error("the link is not valid")]
    InvalidLink { chrome: Chrome },
    #[error("not found: {source}")]
    NotFound {
        chrome: Chrome,
        #[source]
        source: ServiceError,
    },
    #[error("busy: {source}")]
    Busy {
        chrome: Chrome,
        #[source]
        source: ServiceError,
    },
    #[error("internal error: {source}")]
    Internal {
        chrome: Chrome,
        hold: Option<HoldId>,
        #[source]
        source: BoxError,
    },
}

impl RespondError {
    /// Classifies a use-case error. `hold` is the hold the token names, for the log only.
    pub(crate) fn service(source: ServiceError, chrome: Chrome, hold: Option<HoldId>) -> Self {
        match source {
            ServiceError::InvalidLink => RespondError::InvalidLink { chrome },
            ServiceError::HoldNotFound(_) | ServiceError::OrderNotFound(_) => RespondError::NotFound { chrome, source },
            ServiceError::Store(StoreError::Unavailable(_)) | ServiceError::Contention => {
                RespondError::Busy { chrome, source }
            }
            other => RespondError::Internal {
                chrome,
                hold,
                source: Box::new(other),
            },
        }
    }

    /// A page that could not be rendered: a template bug.
    pub(crate) fn render(source: minijinja::Error, chrome: Chrome, hold: Option<HoldId>) -> Self {
        RespondError::Internal {
            chrome,
            hold,
            source: Box::new(source),
        }
    }

    fn chrome(&self) -> &Chrome {
        match self {
            RespondError::InvalidLink { chrome }
            | RespondError::NotFound { chrome, .. }
            | RespondError::Busy { chrome, .. }
            | RespondError::Internal { chrome, .. } => chrome,
        }
    }
}

impl IntoResponse for RespondError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            RespondError::InvalidLink { .. } => {
                // Forged, cut short or signed with an old key: worth a count, not an alarm.
                tracing::info!("invalid link");
                (StatusCode::NOT_FOUND, "invalid")
            }
            RespondError::NotFound { source, .. } => {
                tracing::warn!(error = %source, "a valid link names a hold or order that is gone");
                (StatusCode::NOT_FOUND, "not_found")
            }
            RespondError::Busy { source, .. } => {
                tracing::warn!(error = %source, "store busy; the buyer is asked to retry");
                (StatusCode::SERVICE_UNAVAILABLE, "busy")
            }
            RespondError::Internal { hold, source, .. } => {
                let hold = hold.as_ref().map(ToString::to_string);
                tracing::error!(hold = hold.as_deref().unwrap_or("-"), error = %source, "could not serve a hold page");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let mut response = match self.chrome().error_page(kind) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(err) => {
                // The error page itself failed: still answer, in plain words, with the right status.
                tracing::error!(error = %err, "could not render the error page");
                let text = "エラーが発生しました。しばらくしてから再度お試しください。 / Something went wrong. Please try again later.";
                (status, text).into_response()
            }
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mallguard_domain::Language;
    use mallguard_domain::ids::{Mall, OrderId, OrderRef, ShopId};

    use super::*;

    fn chrome() -> Chrome {
        Chrome {
            shop: Arc::new(mallguard_domain::testing::shop()),
            lang: Language::Ja,
            explicit_lang: false,
        }
    }

    fn respond(err: ServiceError) -> Response {
        RespondError::service(err, chrome(), None).into_response()
    }

    #[test]
    fn a_busy_store_asks_the_buyer_to_retry_in_five_seconds() {
        for err in [
            ServiceError::Store(StoreError::Unavailable("throttled".into())),
            ServiceError::Contention,
        ] {
            let response = respond(err);
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        }
    }

    #[test]
    fn a_corrupt_item_is_a_server_error_without_retry_after() {
        let response = respond(ServiceError::Store(StoreError::Corrupt("bad json".into())));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn an_invalid_link_and_a_missing_order_are_not_found() {
        let order = OrderRef::new(
            Mall::Own,
            ShopId::parse("tanaka").unwrap(),
            OrderId::parse("1").unwrap(),
        );
        assert_eq!(respond(ServiceError::InvalidLink).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            respond(ServiceError::OrderNotFound(order)).status(),
            StatusCode::NOT_FOUND
        );
    }
}
