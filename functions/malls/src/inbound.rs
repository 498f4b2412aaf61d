//! The inbound contract of every mall, in one place: which sources deliver orders to us, which request
//! headers each one reads, how its signature is verified, how its payload is parsed, and which delivery
//! id makes a retry recognisable. The ingest function's router, the local program and the replay of
//! quarantined payloads all go through [`verify`] and [`parse`], so no caller knows a header name or a
//! mall's signature scheme.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use mallguard_domain::ids::ShopId;
use mallguard_domain::order::Order;
use mallguard_domain::ports::{ParsedPayload, PayloadParser};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};

use crate::{ParseError, SignatureError, generic, shopify};

/// The sources that push orders to us, one per webhook route (`/webhooks/{source}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Shopify's own webhooks, signed with the app's secret.
    Shopify,
    /// The canonical order JSON signed with Standard Webhooks, relayed from any mall.
    Generic,
}

/// Why a route names no source we receive webhooks from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown mall {0:?}: webhooks are received for shopify and generic")]
    Unknown(String),
    #[error("{0} sends no webhooks: its orders arrive through the poller, or relayed through /webhooks/generic")]
    NoWebhooks(&'static str),
}

impl Source {
    /// The source of a route segment (`shopify`, `generic`).
    pub fn from_route(mall: &str) -> Result<Self, RouteError> {
        match mall {
            "shopify" => Ok(Source::Shopify),
            "generic" => Ok(Source::Generic),
            "rakuten" => Err(RouteError::NoWebhooks("rakuten")),
            "yahoo" => Err(RouteError::NoWebhooks("yahoo")),
            "amazon" => Err(RouteError::NoWebhooks("amazon")),
            // Bounded: the route segment is the sender's text and ends up in a log line.
            other => Err(RouteError::Unknown(other.chars().take(40).collect())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Shopify => "shopify",
            Source::Generic => "generic",
        }
    }

    /// Every request header this source reads, for [`Headers::collect`].
    pub fn headers(self) -> &'static [&'static str] {
        match self {
            Source::Shopify => &[
                shopify::HMAC_HEADER,
                shopify::TOPIC_HEADER,
                shopify::SHOP_DOMAIN_HEADER,
                shopify::WEBHOOK_ID_HEADER,
            ],
            Source::Generic => &[generic::ID_HEADER, generic::TIMESTAMP_HEADER, generic::SIGNATURE_HEADER],
        }
    }

    /// The headers [`parse`] needs again when a quarantined payload is replayed: never a signature.
    pub fn replay_headers(self) -> &'static [&'static str] {
        match self {
            Source::Shopify => &[shopify::TOPIC_HEADER, shopify::SHOP_DOMAIN_HEADER],
            Source::Generic => &[],
        }
    }
}

impl std::str::FromStr for Source {
    type Err = RouteError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Source::from_route(s)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request headers a source reads, by lower-case name. Built by the edge from whatever HTTP types it
/// has; values longer than [`Headers::MAX_VALUE`] are dropped (no header we read is that long).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(BTreeMap<String, String>);

impl Headers {
    /// Longest header value kept.
    pub const MAX_VALUE: usize = 1024;

    /// The headers `source` reads, looked up with `get` (any case).
    pub fn collect<'a>(source: Source, get: impl Fn(&str) -> Option<&'a str>) -> Self {
        let mut map = BTreeMap::new();
        for name in source.headers() {
            if let Some(value) = get(name).filter(|v| v.len() <= Self::MAX_VALUE) {
                map.insert(name.to_ascii_lowercase(), value.to_owned());
            }
        }
        Self(map)
    }

    /// Headers as stored with a quarantined payload.
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Self(map.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect())
    }

    /// A header by name, in any case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The headers to keep with a quarantined payload so that [`parse`] can run again.
    pub fn for_replay(&self, source: Source) -> BTreeMap<String, String> {
        source
            .replay_headers()
            .iter()
            .filter_map(|name| self.get(name).map(|v| (name.to_ascii_lowercase(), v.to_owned())))
            .collect()
    }
}

/// The webhook secrets, per source (and per shop for Shopify). Read from and written as
/// `{"shopify": {"<shop id>": "<app secret>"}, "generic": ["whsec_…"]}` (both optional); `Debug`
/// shows which shops have one, never a secret.
///
/// Every Shopify shop is named: Shopify signs only the body, and the shop comes from the unsigned
/// `X-Shopify-Shop-Domain` header, so a secret that served any shop would let a sender file a genuinely
/// signed order under a shop nobody configured. A public app installed in several shops lists each shop
/// with the app's one secret.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "WebhookSecretsJson", into = "WebhookSecretsJson")]
pub struct WebhookSecrets {
    /// Shopify app secrets by shop id.
    shopify: BTreeMap<String, SecretString>,
    /// Standard Webhooks secrets (`whsec_…`) of `/webhooks/generic`; any may match, so a secret can be
    /// rotated without a gap.
    generic: Vec<SecretString>,
}

/// The JSON shape of [`WebhookSecrets`].
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct WebhookSecretsJson {
    #[serde(default)]
    pub shopify: BTreeMap<String, String>,
    #[serde(default)]
    pub generic: Vec<String>,
}

impl TryFrom<WebhookSecretsJson> for WebhookSecrets {
    type Error = String;
    fn try_from(json: WebhookSecretsJson) -> Result<Self, String> {
        WebhookSecrets::new(json.shopify, json.generic)
    }
}

impl From<WebhookSecrets> for WebhookSecretsJson {
    fn from(s: WebhookSecrets) -> Self {
        Self {
            shopify: s
                .shopify
                .iter()
                .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
                .collect(),
            generic: s.generic.iter().map(|v| v.expose_secret().to_owned()).collect(),
        }
    }
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSecrets")
            .field("shopify_shops", &self.shopify.keys().collect::<Vec<_>>())
            .field("generic", &format_args!("<{} redacted>", self.generic.len()))
            .finish()
    }
}

impl PartialEq for WebhookSecrets {
    fn eq(&self, other: &Self) -> bool {
        let map = |m: &BTreeMap<String, SecretString>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
                .collect::<Vec<_>>()
        };
        let list = |l: &[SecretString]| l.iter().map(|v| v.expose_secret().to_owned()).collect::<Vec<_>>();
        map(&self.shopify) == map(&other.shopify) && list(&self.generic) == list(&other.generic)
    }
}

impl Eq for WebhookSecrets {}

impl WebhookSecrets {
    /// Checks and keeps the secrets: none may be blank, and a `whsec_` secret must be base64. The message
    /// names the entry, never its value.
    pub fn new(shopify: BTreeMap<String, String>, generic: Vec<String>) -> Result<Self, String> {
        if let Some(shop) = shopify.iter().find(|(_, s)| s.trim().is_empty()).map(|(k, _)| k) {
            return Err(format!("shopify[{shop:?}] is empty"));
        }
        if shopify.contains_key("*") {
            return Err(
                "shopify[\"*\"]: a wildcard would accept orders for any shop domain a sender writes; \
                        name each shop instead, e.g. \"tanaka-shop\": \"<app secret>\""
                    .into(),
            );
        }
        if let Some(shop) = shopify.keys().find(|k| ShopId::parse(k).is_err()) {
            return Err(format!(
                "shopify[{shop:?}] is not a shop id (the part before .myshopify.com)"
            ));
        }
        if let Some(i) = generic.iter().position(|s| s.trim().is_empty()) {
            return Err(format!("generic[{i}] is empty"));
        }
        if let Some(i) = generic.iter().position(|s| generic::decode_secret(s).is_err()) {
            return Err(format!(
                "generic[{i}] is not a valid webhook secret (whsec_ followed by base64)"
            ));
        }
        Ok(Self {
            shopify: shopify.into_iter().map(|(k, v)| (k, SecretString::from(v))).collect(),
            generic: generic.into_iter().map(SecretString::from).collect(),
        })
    }

    /// The Shopify shops configured.
    pub fn shopify_shops(&self) -> impl Iterator<Item = &str> {
        self.shopify.keys().map(String::as_str)
    }

    /// The Shopify secret of `shop`; none for a shop that is not configured.
    pub fn shopify_for(&self, shop: Option<&str>) -> Option<SecretSlice<u8>> {
        shop.and_then(|s| self.shopify.get(s))
            .map(|s| SecretSlice::from(s.expose_secret().as_bytes().to_vec()))
    }

    /// The Standard Webhooks secrets, newest first by convention.
    pub fn generic(&self) -> &[SecretString] {
        &self.generic
    }
}

/// Why a request was refused before its payload was read (HTTP 401 at the edge).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature rejected: {0}")]
    Signature(#[from] SignatureError),
    #[error("no webhook secret is configured for this shop")]
    NoSecret,
}

/// Verifies that `raw` (the exact bytes received) was signed by the source with one of our secrets.
pub fn verify(
    source: Source,
    secrets: &WebhookSecrets,
    headers: &Headers,
    raw: &[u8],
    now: Timestamp,
    tolerance: SignedDuration,
) -> Result<(), VerifyError> {
    match source {
        Source::Shopify => {
            let shop = headers
                .get(shopify::SHOP_DOMAIN_HEADER)
                .and_then(|d| shopify::shop_id_from_domain(d).ok());
            let secret = secrets
                .shopify_for(shop.as_ref().map(ShopId::as_str))
                .ok_or(VerifyError::NoSecret)?;
            shopify::verify(secret.expose_secret(), raw, headers.get(shopify::HMAC_HEADER))?;
        }
        Source::Generic => {
            if secrets.generic.is_empty() {
                return Err(VerifyError::NoSecret);
            }
            let mut last = Err(SignatureError::Mismatch);
            for secret in &secrets.generic {
                last = generic::verify(
                    secret.expose_secret(),
                    raw,
                    headers.get(generic::ID_HEADER),
                    headers.get(generic::TIMESTAMP_HEADER),
                    headers.get(generic::SIGNATURE_HEADER),
                    now,
                    tolerance,
                );
                // Only a mismatch is worth trying the next secret; a missing header fails them all.
                if !matches!(last, Err(SignatureError::Mismatch)) {
                    break;
                }
            }
            last?;
        }
    }
    Ok(())
}

/// What a verified payload turns into.
pub type Parsed = ParsedPayload;

/// Parses a verified payload of `source`; also used to replay quarantined payloads after a fix.
pub fn parse(source: Source, headers: &Headers, raw: &[u8]) -> Result<Parsed, ParseError> {
    match source {
        Source::Generic => generic::parse_order(raw).map(order),
        Source::Shopify => {
            let topic_text = headers.get(shopify::TOPIC_HEADER).unwrap_or("orders/create");
            let topic = shopify::Topic::parse(topic_text);
            if !topic.is_order_topic() {
                // Bounded: the topic is the sender's text.
                return Ok(ParsedPayload::Ignored(topic_text.chars().take(60).collect()));
            }
            let domain = headers.get(shopify::SHOP_DOMAIN_HEADER).unwrap_or_default();
            let shop =
                shopify::shop_id_from_domain(domain).map_err(|e| ParseError::field(shopify::SHOP_DOMAIN_HEADER, e))?;
            shopify::parse_order(raw, &topic, &shop).map(order)
        }
    }
}

fn order(order: Order) -> Parsed {
    ParsedPayload::Order(Box::new(order))
}

/// The delivery id of a request (the same on every retry of one event), prefixed with its source so two
/// sources never collide.
pub fn delivery_id(source: Source, headers: &Headers) -> Option<String> {
    let name = match source {
        Source::Shopify => shopify::WEBHOOK_ID_HEADER,
        Source::Generic => generic::ID_HEADER,
    };
    headers
        .get(name)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(|v| format!("{source}:{v}"))
}

/// Parses stored payloads again for [`Mallguard::replay_quarantined`](mallguard_domain::service::Mallguard):
/// the malls as the domain's [`PayloadParser`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Malls;

impl PayloadParser for Malls {
    /// A webhook's payload by its route, or an order a feed read by its mall: the polled malls' quarantined
    /// orders are the API's bytes of that one order (Amazon's: the evidence object of both responses), filed
    /// under the shop in `meta`. An Amazon notification that could not be read names an order without
    /// carrying it: there is nothing to parse again (the poll's getOrders backstop reads its order).
    fn parse(&self, source: &str, meta: &BTreeMap<String, String>, raw: &[u8]) -> Result<ParsedPayload, String> {
        let polled_shop = || {
            let shop = meta.get("shop").map(String::as_str).unwrap_or_default();
            mallguard_domain::ids::ShopId::parse(shop).map_err(|e| format!("the quarantined order's shop: {e}"))
        };
        let polled = |order: Result<mallguard_domain::order::Order, ParseError>| {
            order
                .map(|o| ParsedPayload::Order(Box::new(o)))
                .map_err(|e| e.to_string())
        };
        match source {
            "rakuten" => return polled(crate::rakuten::parse_order(raw, &polled_shop()?)),
            "yahoo" => {
                return polled(
                    crate::yahoo::parse_order(raw, &polled_shop()?)
                        .map(|(o, _)| o)
                        .map_err(|(_, e)| e),
                );
            }
            "amazon" => return polled(crate::amazon::order_from_evidence(raw, &polled_shop()?)),
            "amazon-notification" => {
                return Err(
                    "an Amazon notification names an order without carrying it: nothing to parse again \
                            (the poll's getOrders backstop reads the order)"
                        .into(),
                );
            }
            _ => {}
        }
        let source = Source::from_route(source).map_err(|e| e.to_string())?;
        parse(source, &Headers::from_map(meta.clone()), raw).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> WebhookSecrets {
        WebhookSecrets::new(
            [("tanaka-shop".to_owned(), "shpss_top".to_owned())].into(),
            vec!["whsec_c2VjcmV0LXNlY3JldA==".to_owned()],
        )
        .unwrap()
    }

    #[test]
    fn a_route_names_a_source_or_says_why_not() {
        assert_eq!(Source::from_route("shopify"), Ok(Source::Shopify));
        assert_eq!(Source::from_route("generic"), Ok(Source::Generic));
        assert_eq!(Source::from_route("rakuten"), Err(RouteError::NoWebhooks("rakuten")));
        let long = "x".repeat(500);
        let Err(RouteError::Unknown(named)) = Source::from_route(&long) else {
            panic!("unknown")
        };
        assert_eq!(named.len(), 40);
    }

    #[test]
    fn headers_keep_only_what_the_source_reads() {
        let get = |name: &str| match name {
            "X-Shopify-Topic" => Some("orders/create"),
            "X-Shopify-Hmac-Sha256" => Some("abc"),
            _ => Some("other"),
        };
        let headers = Headers::collect(Source::Shopify, get);
        assert_eq!(headers.get("x-shopify-topic"), Some("orders/create"));
        let replay = headers.for_replay(Source::Shopify);
        assert!(replay.contains_key("x-shopify-topic"));
        assert!(!replay.contains_key("x-shopify-hmac-sha256"), "no signature is kept");
        assert!(Headers::collect(Source::Generic, get).get("x-shopify-topic").is_none());
    }

    #[test]
    fn a_shopify_body_verifies_under_its_shops_secret_and_fails_when_changed() {
        let body = br#"{"id": 1}"#;
        let mut headers = BTreeMap::new();
        headers.insert(shopify::HMAC_HEADER.to_owned(), shopify::sign(b"shpss_top", body));
        headers.insert(
            shopify::SHOP_DOMAIN_HEADER.to_owned(),
            "tanaka-shop.myshopify.com".to_owned(),
        );
        let headers = Headers::from_map(headers);
        let now = Timestamp::UNIX_EPOCH;
        let tolerance = generic::DEFAULT_TOLERANCE;
        assert_eq!(
            verify(Source::Shopify, &secrets(), &headers, body, now, tolerance),
            Ok(())
        );
        assert_eq!(
            verify(Source::Shopify, &secrets(), &headers, br#"{"id": 2}"#, now, tolerance),
            Err(VerifyError::Signature(SignatureError::Mismatch))
        );
        assert_eq!(
            verify(
                Source::Shopify,
                &WebhookSecrets::default(),
                &headers,
                body,
                now,
                tolerance
            ),
            Err(VerifyError::NoSecret)
        );
        // The same signed body under another shop's domain: that shop is not configured.
        let mut swapped = BTreeMap::new();
        swapped.insert(shopify::HMAC_HEADER.to_owned(), shopify::sign(b"shpss_top", body));
        swapped.insert(
            shopify::SHOP_DOMAIN_HEADER.to_owned(),
            "evil-shop.myshopify.com".to_owned(),
        );
        assert_eq!(
            verify(
                Source::Shopify,
                &secrets(),
                &Headers::from_map(swapped),
                body,
                now,
                tolerance
            ),
            Err(VerifyError::NoSecret)
        );
    }

    #[test]
    fn a_generic_message_verifies_under_any_of_the_rotating_secrets() {
        let old = "whsec_b2xkLXNlY3JldC1vbGQ=";
        let new = "whsec_bmV3LXNlY3JldC1uZXc=";
        let secrets = WebhookSecrets::new(BTreeMap::new(), vec![new.to_owned(), old.to_owned()]).unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let body = br#"{"order_id": "1"}"#;
        let mut map = BTreeMap::new();
        map.insert(generic::ID_HEADER.to_owned(), "msg_1".to_owned());
        map.insert(generic::TIMESTAMP_HEADER.to_owned(), now.as_second().to_string());
        map.insert(
            generic::SIGNATURE_HEADER.to_owned(),
            generic::sign(old, "msg_1", now.as_second(), body),
        );
        let headers = Headers::from_map(map);
        assert_eq!(
            verify(
                Source::Generic,
                &secrets,
                &headers,
                body,
                now,
                generic::DEFAULT_TOLERANCE
            ),
            Ok(())
        );
        assert_eq!(delivery_id(Source::Generic, &headers).as_deref(), Some("generic:msg_1"));
    }

    #[test]
    fn webhook_secrets_refuse_blank_entries_and_wildcards_and_never_show_a_value() {
        assert!(WebhookSecrets::new([("a".to_owned(), " ".to_owned())].into(), vec![]).is_err());
        let wildcard = WebhookSecrets::new([("*".to_owned(), "shpss_top".to_owned())].into(), vec![]);
        assert!(wildcard.unwrap_err().contains("name each shop"));
        assert!(WebhookSecrets::new(BTreeMap::new(), vec!["whsec_not base64!".to_owned()]).is_err());
        let debug = format!("{:?}", secrets());
        assert!(!debug.contains("shpss_top") && !debug.contains("whsec_"), "{debug}");
        let json = serde_json::to_string(&secrets()).unwrap();
        let back: WebhookSecrets = serde_json::from_str(&json).unwrap();
        assert_eq!(back, secrets());
    }
}

#[cfg(test)]
mod replay_tests {
    use super::*;

    fn sample(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn parsed_id(parsed: ParsedPayload) -> String {
        match parsed {
            ParsedPayload::Order(order) => order.order_ref.to_string(),
            ParsedPayload::Ignored(why) => panic!("ignored: {why}"),
        }
    }

    #[test]
    fn a_quarantined_polled_order_parses_again_under_its_shop() {
        let shop = mallguard_domain::ids::ShopId::parse("tea-shop").unwrap();
        let meta = BTreeMap::from([("shop".to_owned(), "tea-shop".to_owned())]);
        // What the Rakuten feed keeps of one order: that order's bytes.
        let polled = crate::rakuten::parse_get_order(&sample("rakuten/getOrder.json"), &shop).unwrap();
        let (_, raw) = polled.into_iter().next().unwrap().unwrap();
        assert!(parsed_id(Malls.parse("rakuten", &meta, &raw).unwrap()).contains("rakuten"));
        let yahoo = sample("yahoo/orderInfo.xml");
        let seller = BTreeMap::from([("shop".to_owned(), "tanaka-yahoo".to_owned())]);
        assert!(parsed_id(Malls.parse("yahoo", &seller, &yahoo).unwrap()).contains("yahoo"));
        assert!(
            Malls
                .parse("yahoo", &meta, &yahoo)
                .unwrap_err()
                .contains("tanaka-yahoo"),
            "another seller's"
        );
        let amazon_seller = mallguard_domain::ids::ShopId::parse("A1EXAMPLESELLER").unwrap();
        let (_, evidence) = crate::amazon::order_from(
            &sample("amazon/getOrder.json"),
            &[&sample("amazon/getOrderItems.json")],
            &amazon_seller,
        )
        .unwrap();
        let meta_amazon = BTreeMap::from([("shop".to_owned(), "A1EXAMPLESELLER".to_owned())]);
        assert!(parsed_id(Malls.parse("amazon", &meta_amazon, &evidence).unwrap()).contains("250-1234567-7654321"));
        // Without its shop, or as a notification, it says why not.
        assert!(
            Malls
                .parse("rakuten", &BTreeMap::new(), &raw)
                .unwrap_err()
                .contains("shop")
        );
        assert!(
            Malls
                .parse("amazon-notification", &meta, b"{}")
                .unwrap_err()
                .contains("backstop")
        );
    }
}
