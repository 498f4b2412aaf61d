//! Order feeds: the HTTP side of the malls that push nothing and are polled, and of Amazon's order reads.
//! Each feed implements the domain's [`OrderFeed`](mallguard_domain::feed::OrderFeed) port over a mall's
//! order API, with the pure request building and answer parsing of `mallguard-malls`:
//!
//! - [`rakuten::RakutenFeed`]: Rakuten RMS 楽天ペイ受注API (`searchOrder`, then `getOrder` 100 orders at a
//!   time), and the licenseKey expiry API.
//! - [`yahoo::YahooFeed`]: Yahoo!ショッピング's store API (`orderList`, then `orderInfo` one order at a time),
//!   with the Yahoo! ID連携 v2 access token refreshed as it expires and the `X-sws-signature` of 公開鍵認証.
//! - [`amazon::AmazonSpApi`]: Amazon.co.jp's Selling Partner API (LWA token, Restricted Data Token, Orders
//!   API v0 `getOrder` and `getOrderItems`), which also reads one order by its id
//!   ([`OrderLookup`](mallguard_domain::feed::OrderLookup), for the `ORDER_CHANGE` notifications); as an
//!   [`OrderFeed`](mallguard_domain::feed::OrderFeed) it is the backstop for missed notifications
//!   (`getOrders` by last update).
//!
//! With the feature `fake`, the modules `fake` (RMS), `fake_yahoo` and `fake_amazon` serve the `events/`
//! samples the way each mall's API does, on a loopback port, for tests over real HTTP.
//!
//! Every call has a connect timeout and a total timeout ([`Timeouts`]); an answer is read up to a size bound.
//! A failure comes back as a [`FeedError`](mallguard_domain::feed::FeedError) the poll use case can act on:
//! throttled and unavailable are tried again on the next run, unauthorized and refused need a person. No
//! error text carries a credential (URLs are stripped from transport errors: the licence-expiry URL holds
//! the licenseKey), and the logs carry counts and the shop, never a buyer's data.

pub mod actions;
pub mod amazon;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
pub mod fake_amazon;
#[cfg(feature = "fake")]
pub mod fake_shopify;
#[cfg(feature = "fake")]
pub mod fake_yahoo;
pub mod rakuten;
pub mod shopify;
pub mod yahoo;

mod http;

pub use http::{ConfigError, Timeouts};

/// A stored position: the instant a feed of `mall` wrote as `next`. A position that is none was not written
/// by this feed (or the store was edited by hand): a person must look, so it is a refusal.
pub(crate) fn parse_position(mall: &str, position: &str) -> Result<jiff::Timestamp, mallguard_domain::feed::FeedError> {
    position.trim().parse().map_err(|e| {
        mallguard_domain::feed::FeedError::Refused(format!(
            "the stored {mall} position {position:?} is not an RFC 3339 instant ({e})"
        ))
    })
}

/// `at` without its fraction of a second: the malls' search conditions are whole seconds.
pub(crate) fn whole_second(at: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at.as_second()).unwrap_or(at)
}
