//! The console's errors, mapped once to what the browser gets.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mallguard_domain::ports::StoreError;
use mallguard_domain::service::{ServiceError, StaffError};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session: a page sends the browser to sign in.
    #[error("not signed in")]
    NotSignedIn,
    /// A request refused before anything was read or done (cross-site, no session for a form, a
    /// forged anti-forgery token).
    #[error("refused: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// A form without the field it needs (or not a form at all).
    #[error("the form's {0} is missing or not understood")]
    BadForm(&'static str),
    /// The staff's input was not acceptable (an empty note, a reason missing, …): said on the page.
    #[error("{0}")]
    Refused(String),
    /// Somebody saved the same thing since it was read.
    #[error("changed by somebody else meanwhile")]
    Conflict,
    #[error("the sign-in link has expired")]
    LinkExpired,
    #[error("the sign-in link was used already")]
    LinkUsed,
    #[error("the sign-in mail could not be sent")]
    MailFailed,
    /// The store is busy or down: try again shortly.
    #[error("the store is unavailable")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    pub(crate) fn service(err: ServiceError) -> Self {
        match err {
            ServiceError::HoldNotFound(_) | ServiceError::OrderNotFound(_) | ServiceError::InvalidLink => {
                ConsoleError::NotFound
            }
            ServiceError::Store(StoreError::Unavailable(_)) | ServiceError::Contention => ConsoleError::Unavailable,
            other => ConsoleError::Internal(other.to_string()),
        }
    }

    pub(crate) fn staff(err: StaffError) -> Self {
        match err {
            StaffError::Service(err) => Self::service(err),
            StaffError::SignInUsed => ConsoleError::LinkUsed,
            StaffError::NoSuchEntry(_) => ConsoleError::NotFound,
            StaffError::NothingToMatch(_) => ConsoleError::Refused(
                "この注文には電話番号・メールアドレス・住所がないため、ブラックリストに登録できません。 / The order has no phone, mail address or address to recognise its customer by.".into(),
            ),
            StaffError::NoReason => ConsoleError::Refused("理由を入力してください。 / A reason is needed.".into()),
            StaffError::EmptyNote => ConsoleError::Refused("メモが空です。 / The note is empty.".into()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ConsoleError::NotSignedIn => return Redirect::to("/console/sign-in").into_response(),
            ConsoleError::Forbidden(why) => {
                tracing::warn!(why, "console request refused");
                (
                    StatusCode::FORBIDDEN,
                    "この操作は受け付けられません。ページを開き直してください。 / Refused: reload the page and try again.",
                )
            }
            ConsoleError::NotFound => (StatusCode::NOT_FOUND, "見つかりません。 / Not found."),
            ConsoleError::BadForm(_) => (
                StatusCode::BAD_REQUEST,
                "フォームの内容を読み取れません。 / The form could not be read.",
            ),
            ConsoleError::Refused(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "入力内容を確認してください。 / Please check what you entered.",
            ),
            ConsoleError::Conflict => (
                StatusCode::CONFLICT,
                "ほかの人が先に変更しました。ページを開き直して、もう一度変更してください。 / Somebody else changed this meanwhile: reload the page and change it again.",
            ),
            ConsoleError::LinkExpired => (
                StatusCode::GONE,
                "サインイン用リンクの有効期限（15分）が切れています。もう一度リンクを請求してください。 / The sign-in link has expired (15 minutes): ask for a new one.",
            ),
            ConsoleError::LinkUsed => (
                StatusCode::GONE,
                "このサインイン用リンクは使用済みです。もう一度リンクを請求してください。 / This sign-in link was used already: ask for a new one.",
            ),
            ConsoleError::MailFailed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "サインイン用のメールを送れませんでした。しばらくしてからもう一度お試しください。 / The sign-in mail could not be sent: try again shortly.",
            ),
            ConsoleError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "混み合っています。しばらくしてからもう一度お試しください。 / Busy: try again shortly.",
            ),
            ConsoleError::Internal(err) => {
                tracing::error!(error = %err, "console request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "エラーが発生しました。 / Something went wrong.",
                )
            }
        };
        let detail = match &self {
            ConsoleError::Refused(why) => why.clone(),
            _ => String::new(),
        };
        let body = crate::views::error_page(status, message, &detail);
        let mut response = (status, Html(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
