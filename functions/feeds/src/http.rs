//! What every feed does with HTTP: one client with timeouts, answers read up to a bound, transport errors
//! turned into [`FeedError::Unavailable`] without their URL, and `Retry-After` read.

use std::error::Error as _;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::MAX_MALL_WAIT;
use mallguard_domain::feed::FeedError;

/// The timeouts of every call a feed makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the TCP (and TLS) connection stands.
    pub connect: Duration,
    /// The whole call: connecting, sending, waiting and reading the answer.
    pub total: Duration,
}

impl Default for Timeouts {
    /// 10 s to connect and 10 s in all: a getOrder answer of 100 orders (several hundred kilobytes) comes
    /// well within that, and a call that takes longer is better tried again on the next run.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(10),
        }
    }
}

/// Why a feed could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the base URL {url:?} cannot be used: {reason}")]
    BaseUrl { url: String, reason: String },
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

/// The HTTP client of a feed: both timeouts, no redirects (an API that redirects is answered as
/// unavailable, and the credentials never follow a redirect), rustls with the webpki roots.
pub(crate) fn client(timeouts: Timeouts) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mallguard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::Client(chain(&e.without_url())))
}

/// `url` without its trailing slashes, once it is checked: http or https, a host, no query, no fragment,
/// and plain http only to a loopback host (the credentials travel in a header).
pub(crate) fn base_url(url: &str) -> Result<String, ConfigError> {
    let refused = |reason: &str| ConfigError::BaseUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| refused(&e.to_string()))?;
    let host = parsed.host_str().ok_or_else(|| refused("it has no host"))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(refused("it has a query or a fragment"));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => {}
        "http" => {
            return Err(refused(
                "plain http is only for a loopback host (the fake in the tests)",
            ));
        }
        other => return Err(refused(&format!("the scheme {other:?} is not http(s)"))),
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// The answer's body, at most `limit` bytes; the total timeout bounds the time it takes.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    call: &str,
    timeout: Duration,
) -> Result<Vec<u8>, FeedError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(call, e, timeout))? {
        if body.len() + chunk.len() > limit {
            return Err(FeedError::Unavailable(format!(
                "{call}: the answer is larger than {limit} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A call that got no answer: a timeout, no connection, a broken connection. The URL is left out (the
/// licence-expiry URL carries the licenseKey).
pub(crate) fn transport(call: &str, error: reqwest::Error, timeout: Duration) -> FeedError {
    let error = error.without_url();
    if error.is_timeout() {
        FeedError::Unavailable(format!("{call}: no answer within {} s", timeout.as_secs_f64()))
    } else if error.is_connect() {
        FeedError::Unavailable(format!("{call}: could not connect: {}", chain(&error)))
    } else {
        FeedError::Unavailable(format!("{call}: {}", chain(&error)))
    }
}

/// The error and its sources, `a: b: c`.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A `Retry-After` value: seconds, or an HTTP date (taken relative to `now`). Never negative, never more
/// than [`MAX_MALL_WAIT`] (a mall asking for years would park an action or a feed for good); None when it
/// is neither.
pub(crate) fn retry_after(value: &str, now: Timestamp) -> Option<SignedDuration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let seconds = value.parse::<i64>().unwrap_or(i64::MAX).min(MAX_MALL_WAIT.as_secs());
        return Some(SignedDuration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    Some(at.duration_since(now).clamp(SignedDuration::ZERO, MAX_MALL_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        assert_eq!(retry_after("7", now), Some(SignedDuration::from_secs(7)));
        assert_eq!(retry_after(" 120 ", now), Some(SignedDuration::from_secs(120)));
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 03:01:30 GMT", now),
            Some(SignedDuration::from_secs(90))
        );
        assert_eq!(
            retry_after("Mon, 23 Nov 2026 02:00:00 GMT", now),
            Some(SignedDuration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
        assert_eq!(retry_after("", now), None);
    }

    #[test]
    fn a_retry_after_of_years_is_a_day() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        assert_eq!(retry_after("4294967295", now), Some(MAX_MALL_WAIT));
        assert_eq!(retry_after("99999999999999999999999", now), Some(MAX_MALL_WAIT));
        assert_eq!(retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now), Some(MAX_MALL_WAIT));
        assert_eq!(retry_after("86400", now), Some(SignedDuration::from_hours(24)));
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            base_url("https://api.rms.rakuten.co.jp/").unwrap(),
            "https://api.rms.rakuten.co.jp"
        );
        assert_eq!(base_url("http://127.0.0.1:4000").unwrap(), "http://127.0.0.1:4000");
        assert_eq!(
            base_url("https://proxy.example/rms/").unwrap(),
            "https://proxy.example/rms"
        );
        assert!(base_url("http://api.rms.rakuten.co.jp").is_err());
        assert!(base_url("https://api.rms.rakuten.co.jp/?a=b").is_err());
        assert!(base_url("ftp://127.0.0.1").is_err());
        assert!(base_url("not a url").is_err());
    }
}
