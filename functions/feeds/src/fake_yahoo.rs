//! A fake Yahoo!ショッピング store API and Yahoo! ID連携 v2 token endpoint on a loopback port, serving the samples
//! of `events/yahoo/` the way Yahoo does, for tests over real HTTP (feature `fake`).
//!
//! - `POST /yconnect/v2/token`: `Authorization: Basic base64(client_id:client_secret)` of [`CLIENT_ID`] and
//!   [`CLIENT_SECRET`], the form `grant_type=refresh_token&refresh_token=…` of [`REFRESH_TOKEN`]; answers a
//!   fresh access token (`expires_in` 3600), or `invalid_client` (401) / `invalid_grant` (400) JSON.
//! - `POST /ShoppingWebService/V1/orderList`: the orders whose order time lies in `[OrderTimeFrom,
//!   OrderTimeTo]` (`YYYYMMDDHHMMSS`, JST), ascending, paged by `Start`/`Result`, with the fields the feed
//!   reads; the sample's empty answer when none does.
//! - `POST /ShoppingWebService/V1/orderInfo`: the one order asked for, as the exact bytes of its sample.
//! - `POST /ShoppingWebService/V1/orderStatusChange`: moves the order to the `OrderStatus` asked for when
//!   Yahoo's transition table allows it (4 needs a `CancelReason`, which the order then carries), answering
//!   `orderStatusChange.xml` (or `orderStatusChange-warning.xml`, when told); a change the table refuses gets
//!   `orderStatusChange-refused.xml`'s `<Error>` (its message naming the order's status). The order's bytes
//!   change with it (`OrderStatus`, `CancelReason`, `LastUpdateTime`), so orderInfo and orderList reflect it.
//!   As at Yahoo, shipping (`ShipStatus`) does not stop a change.
//!
//! The store API wants `Authorization: Bearer` with a token the fake issued (else the sample's 401
//! `invalid_token`), the official `Content-Type` and `SellerId` [`SELLER`]. An `X-sws-signature` is decrypted
//! with the private half of the test key pair ([`PRIVATE_KEY_PEM`], made for these tests only) and must read
//! `"<SELLER>:<unix seconds>"` within ten minutes of the fake's clock, with `X-sws-signature-version`
//! [`PUBLIC_KEY_VERSION`]; the answer says `X-SWS-Authorize-Status: authorized` or `unauthorized`, as Yahoo
//! does, and the fake counts both. A test scripts answers per endpoint ([`FakeYahoo::answer_once`]), expires
//! the access tokens, revokes the refresh token, rotates it, cancels, ships, holds or corrupts an order, and
//! reads what the fake received and how often each endpoint was called.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use mallguard_domain::ids::ShopId;
use mallguard_domain::policy::jst;
use mallguard_malls::yahoo;
use rsa::pkcs8::DecodePrivateKey as _;
use secrecy::SecretString;

use crate::Timeouts;
use crate::yahoo::{YahooCredentials, YahooFeed, YahooOptions};

pub const CLIENT_ID: &str = "dj00aiZpPWZha2VDbGllbnRJZA--";
pub const CLIENT_SECRET: &str = "fakeClientSecret";
/// With characters that must be percent-encoded in the token form.
pub const REFRESH_TOKEN: &str = "fake+Refresh/Token=";
pub const SELLER: &str = "tanaka-yahoo";
/// The order of `orderInfo.xml` (山田 太郎, 12:30 JST; cancelled in `orderInfo-cancelled.xml`).
pub const FIRST: &str = "tanaka-yahoo-10000125";
/// The second order of `orderList.xml` (15:08:31 JST), served as `orderInfo.xml` with its id, times and
/// status.
pub const SECOND: &str = "tanaka-yahoo-10000126";
pub const PUBLIC_KEY_VERSION: &str = "1";
/// The public half of a key pair made for these tests only (`openssl genpkey -algorithm RSA`).
pub const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA+l4sU1WKmJSFhiwDUeQ2
hSAq7DNGGozQ0/+74WsHbyzsgUUBXF1Jt/j2vl2K4GTh/Gt13vZ3LV0n+di7r/K5
Hwj+AINrg29DVVQvDQdDm4WGCV/pEx8r9tJlYlR33/MW6K4VGmA/zhQE5V5TJ93L
xk+RBdmP5K1lFcxBXXZbtbA+z1zeTY3KctkgDHEYoJ8wf3ygRxTobggGMzYE9wNE
KCH2mB5Ki2tBbruUTr1NNph7rpDLcxKBvRhRLsgWL7IiZh50N+l3kLAWZHVEFbXj
oJzGIu0A0NX/Th19ZebRkkpgzAYCX+8zcyOxadUrhUNnXln50rkCE5XTUE2HIzul
CQIDAQAB
-----END PUBLIC KEY-----
";
/// The private half of the test key pair: the fake decrypts `X-sws-signature` with it. Not a credential of
/// anything.
pub const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD6XixTVYqYlIWG
LANR5DaFICrsM0YajNDT/7vhawdvLOyBRQFcXUm3+Pa+XYrgZOH8a3Xe9nctXSf5
2Luv8rkfCP4Ag2uDb0NVVC8NB0ObhYYJX+kTHyv20mViVHff8xborhUaYD/OFATl
XlMn3cvGT5EF2Y/krWUVzEFddlu1sD7PXN5Njcpy2SAMcRignzB/fKBHFOhuCAYz
NgT3A0QoIfaYHkqLa0Fuu5ROvU02mHuukMtzEoG9GFEuyBYvsiJmHnQ36XeQsBZk
dUQVteOgnMYi7QDQ1f9OHX1l5tGSSmDMBgJf7zNzI7Fp1SuFQ2deWfnSuQITldNQ
TYcjO6UJAgMBAAECggEABFRsWREXxWF9KSe583i6QiVfJKhS2CrzAhWQPNreXSt2
WBp2xm+FErnLH5nryMtp1pUPq+hQgY/0vOcFAOsWTT15Mg5Txck+7Xr4GNY1Mrt1
iNQ4Kkjd2GYFU5ThIVX5gZLgIc2EEPbq6kION1hoOaDe4c5kRQjEIKNAhqKhPaQ6
widmPCSb+t7oWlTVF11G7/xFaMmIvf1EoUXYV63wO1OLx5TRz8ukA/hdmo5PxWFR
hoFICu6xuqtCwvigBsEzfw3ob+7OQXEOge1pgfhRgomp6zA4ftgZnDYZV6jmPT2A
yW6A+i2jNUfa3dSXPK1gHM8DChug4PNwEw3u0y7PYQKBgQD+HFXDluOPxEl4m6UF
WgsjoLtNCoS++0azl9dQ/4oc3IfNtrXhvzwZRUjEgW5qRIc3V/ei7ykUywEBj62y
gAYRdQUI53EG1Bt9vSXkYH5ErGqC2e/fscSrPS2ohFbsetUwuMx8szJOds/QRmp4
3B1MmeHkCiifxyHvYZIvkTGBaQKBgQD8OrbUy8NNPH3tzYh4wvreI72mdT33ISfm
Jl9wc/q2Wt7i2+hymN12HrCZja/wQc8bcEAYvZGxh4JOaVeohS9FQjWu/+Q5dF8T
XPzGbCh2sjOvM5y5bjcIC7HJ7JqBa+FDLRs4GjRSo0M3WiT450uXNfFUPSIwTluL
9NQotCTyoQKBgQC9o03J+rh3GUivbpCXztwTSaeeViQ9Fu9rpfy1YQ+kfFwJBLr1
7y6duVwV8nYBboTuo4KWoR8qelmU3bIGTY65xnfsbjSmoPKnQtqddfmlrHqMjrJ6
YYNhO/XwFlt8firOAovw4BbCAd8TEwnwimx/NzQiaAZrP0QvDsT3JMcqSQKBgA4d
6yW10dR80j+BBWZc41WTgoXSgglW3bjP5P+SPjH+nALuc/AWBi8aQKAXggVcaY8L
lUrNMV5SS0TAOJvB+IdT0VVeFRPyI3AeADfKzej2yFXB+b+XH5Vfsi+vAmbD9vOf
jqpxLQSDBrwOW4tixqRL7JneYg96Ez2eElHE41yBAoGAXOVG9Zs1GB4PO8bPd68u
CWI4zg9LQnS50YWQj5l+faSxXdXCz/GVIu3LZGVVlAZDNFABRdIOdorK/i/mLYGj
8xR9NZ2SdlCzvrBr3c69TWplZ/g8yOq12+N17WCpNvpvq1lVl54/xZ1t4G8I9u1/
uAXen2xf6J4op9TurTndikU=
-----END PRIVATE KEY-----
";

pub const ORDER_INFO: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/yahoo/orderInfo.xml"));
pub const ORDER_INFO_CANCELLED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/orderInfo-cancelled.xml"
));
pub const ORDER_LIST_EMPTY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/orderList-empty.xml"
));
pub const ORDER_STATUS_CHANGE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/orderStatusChange.xml"
));
pub const ORDER_STATUS_CHANGE_WARNING: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/orderStatusChange-warning.xml"
));
pub const ORDER_STATUS_CHANGE_REFUSED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/orderStatusChange-refused.xml"
));
pub const ERROR_SESSION_EXPIRED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/error-session-expired.xml"
));
/// `error-token-expired.http`: a status line, headers, a blank line and the body.
const TOKEN_EXPIRED_HTTP: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/yahoo/error-token-expired.http"
));
/// The daily cap's answer (the body Yahoo's FAQ quotes).
pub const ERROR_QUOTA: &[u8] =
    b"<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<Error><Message>Your Request was Forbidden</Message></Error>";
pub const ERROR_INVALID_GRANT: &[u8] =
    br#"{"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}"#;

/// The endpoints the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    OrderList,
    OrderInfo,
    OrderStatusChange,
}

/// A scripted answer, given once in place of the real one.
#[derive(Debug, Clone)]
pub enum Answer {
    Status {
        status: u16,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    },
    /// Takes the request and never answers.
    Hang,
}

impl Answer {
    pub fn status(status: u16, body: &[u8]) -> Answer {
        Answer::Status {
            status,
            body: body.to_vec(),
            headers: Vec::new(),
        }
    }

    /// The sample's 401 of an expired access token, with its `WWW-Authenticate` challenge.
    pub fn token_expired() -> Answer {
        let (head, body) = TOKEN_EXPIRED_HTTP
            .split_once("\n\n")
            .expect("a blank line after the headers");
        let challenge = head
            .lines()
            .find_map(|line| line.strip_prefix("WWW-Authenticate: "))
            .expect("a WWW-Authenticate header");
        Answer::Status {
            status: 401,
            body: body.as_bytes().to_vec(),
            headers: vec![(yahoo::WWW_AUTHENTICATE_HEADER.to_owned(), challenge.trim().to_owned())],
        }
    }

    /// `px-04102`: the 12-hour session without public-key authentication is over.
    pub fn session_expired() -> Answer {
        Answer::status(401, ERROR_SESSION_EXPIRED)
    }

    /// The daily cap: 403 `Your Request was Forbidden`.
    pub fn quota() -> Answer {
        Answer::status(403, ERROR_QUOTA)
    }

    /// A 429 with `Retry-After` (Yahoo documents none; a proxy in front of it may send one).
    pub fn too_many(retry_after_seconds: u32) -> Answer {
        Answer::Status {
            status: 429,
            body: Vec::new(),
            headers: vec![("retry-after".to_owned(), retry_after_seconds.to_string())],
        }
    }

    /// The token endpoint's `invalid_grant`.
    pub fn invalid_grant() -> Answer {
        Answer::status(400, ERROR_INVALID_GRANT)
    }
}

/// One orderList request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSeen {
    pub from: String,
    pub to: String,
    pub start: u32,
    pub result: u32,
}

/// One orderStatusChange request as the fake received it (answered with a change or a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSeen {
    pub order_id: String,
    pub order_status: u8,
    pub cancel_reason: Option<String>,
    pub is_point_fix: String,
}

#[derive(Debug, Clone)]
struct FakeOrder {
    placed_at: Timestamp,
    updated_at: Timestamp,
    status: u8,
    raw: Vec<u8>,
}

struct Inner {
    private_key: rsa::PrivateKey,
    refresh_token: String,
    rotate_to: Option<String>,
    issued: u32,
    tokens: HashSet<String>,
    orders: BTreeMap<String, FakeOrder>,
    scripted: HashMap<Endpoint, VecDeque<Answer>>,
    counts: HashMap<Endpoint, u32>,
    lists: Vec<ListSeen>,
    infos: Vec<String>,
    changes: Vec<ChangeSeen>,
    /// Whether orderStatusChange answers with the warning sample.
    warn_on_change: bool,
    signatures_accepted: u32,
    signatures_refused: u32,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake, serving until it is dropped.
pub struct FakeYahoo {
    url: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
    /// The day the sample orders are served on (None: as written).
    day: Option<String>,
}

/// `sample` with its day moved to `day` (JST times keep their time of day).
fn on_day(sample: &[u8], day: Option<&str>) -> Vec<u8> {
    match day {
        Some(day) => String::from_utf8_lossy(sample)
            .replace(crate::fake::SAMPLE_DAY, day)
            .into_bytes(),
        None => sample.to_vec(),
    }
}

impl Drop for FakeYahoo {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An orderInfo sample as the fake keeps it: its times and status read by the real parser.
fn sample_order(raw: Vec<u8>) -> (String, FakeOrder) {
    let shop = ShopId::parse(SELLER).unwrap();
    let (info, raw) = yahoo::parse_order_info(&raw, &shop)
        .map_err(|(_, e)| e)
        .expect("a readable orderInfo sample");
    let order = FakeOrder {
        placed_at: info.order.placed_at,
        updated_at: info.last_update_time.unwrap_or(info.order.placed_at),
        status: info.order_status.code(),
        raw,
    };
    (info.order.order_ref.order_id.as_str().to_owned(), order)
}

/// The second order: `orderInfo.xml` with the id, times and status of `orderList.xml`'s second entry.
fn second_order() -> Vec<u8> {
    let text = std::str::from_utf8(ORDER_INFO).unwrap();
    text.replacen(FIRST, SECOND, 1)
        .replacen(
            "<OrderTime>2026-11-23T12:30:00+09:00</OrderTime>",
            "<OrderTime>2026-11-23T15:08:31+09:00</OrderTime>",
            1,
        )
        .replacen(
            "<LastUpdateTime>2026-11-23T12:31:07+09:00</LastUpdateTime>",
            "<LastUpdateTime>2026-11-23T15:08:31+09:00</LastUpdateTime>",
            1,
        )
        .replacen("<OrderStatus>2</OrderStatus>", "<OrderStatus>1</OrderStatus>", 1)
        .into_bytes()
}

impl FakeYahoo {
    /// The fake on 127.0.0.1 and a free port, with the two orders of `orderList.xml`.
    pub async fn start() -> FakeYahoo {
        FakeYahoo::start_with(None).await
    }

    /// The same with the sample orders moved to `day` (their times keep the time of day): for tests of
    /// programs that read "the last few days" by the real clock, so they pass on any day.
    pub async fn start_on(day: jiff::civil::Date) -> FakeYahoo {
        FakeYahoo::start_with(Some(day.to_string())).await
    }

    async fn start_with(day: Option<String>) -> FakeYahoo {
        let private_key = rsa::PrivateKey::from_pkcs8_pem(PRIVATE_KEY_PEM).expect("the test private key");
        let orders = [
            sample_order(on_day(ORDER_INFO, day.as_deref())),
            sample_order(on_day(&second_order(), day.as_deref())),
        ]
        .into_iter()
        .collect();
        let state: Shared = Arc::new(Mutex::new(Inner {
            private_key,
            refresh_token: REFRESH_TOKEN.to_owned(),
            rotate_to: None,
            issued: 0,
            tokens: HashSet::new(),
            orders,
            scripted: HashMap::new(),
            counts: HashMap::new(),
            lists: Vec::new(),
            infos: Vec::new(),
            changes: Vec::new(),
            warn_on_change: false,
            signatures_accepted: 0,
            signatures_refused: 0,
        }));
        let app = Router::new()
            .route("/yconnect/v2/token", post(token))
            .route("/ShoppingWebService/V1/orderList", post(order_list))
            .route("/ShoppingWebService/V1/orderInfo", post(order_info))
            .route("/ShoppingWebService/V1/orderStatusChange", post(order_status_change))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeYahoo {
            url,
            state,
            server,
            day,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// The credentials the fake accepts, without a public key.
    pub fn credentials() -> YahooCredentials {
        YahooCredentials {
            client_id: SecretString::from(CLIENT_ID),
            client_secret: SecretString::from(CLIENT_SECRET),
            refresh_token: SecretString::from(REFRESH_TOKEN),
            public_key_pem: None,
            public_key_version: None,
            authorized_at: None,
        }
    }

    /// [`FakeYahoo::credentials`] with the test public key and its version.
    pub fn credentials_with_key() -> YahooCredentials {
        YahooCredentials {
            public_key_pem: Some(SecretString::from(PUBLIC_KEY_PEM)),
            public_key_version: Some(SecretString::from(PUBLIC_KEY_VERSION)),
            ..FakeYahoo::credentials()
        }
    }

    /// Options reading from the fake, with short timeouts and no spacing between calls.
    pub fn options(&self) -> YahooOptions {
        YahooOptions {
            base_url: Some(format!("{}/ShoppingWebService/V1/", self.url)),
            token_url: format!("{}/yconnect/v2/token", self.url),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                total: Duration::from_secs(5),
            },
            min_spacing: Duration::ZERO,
            ..YahooOptions::default()
        }
    }

    /// A feed of [`SELLER`] reading from the fake with `credentials` and `options`.
    pub fn feed_with(&self, credentials: YahooCredentials, options: YahooOptions) -> YahooFeed {
        YahooFeed::new(ShopId::parse(SELLER).unwrap(), credentials, options).unwrap()
    }

    /// A feed of [`SELLER`] reading from the fake with [`FakeYahoo::credentials`] and
    /// [`FakeYahoo::options`].
    pub fn feed(&self) -> YahooFeed {
        self.feed_with(FakeYahoo::credentials(), self.options())
    }

    /// The next request to `endpoint` gets `answer` (after the ones scripted before it).
    pub fn answer_once(&self, endpoint: Endpoint, answer: Answer) {
        self.inner().scripted.entry(endpoint).or_default().push_back(answer);
    }

    /// Every access token issued so far expires: the next store API call gets the 401 `invalid_token`.
    pub fn expire_access_tokens(&self) {
        self.inner().tokens.clear();
    }

    /// The refresh token stops working (`invalid_grant`), as after four weeks or a revoked consent.
    pub fn revoke_refresh_token(&self) {
        self.inner().refresh_token = String::from("revoked");
    }

    /// The next token answer carries the refresh token `new`, and only it works from then on.
    pub fn rotate_refresh_token(&self, new: &str) {
        self.inner().rotate_to = Some(new.to_owned());
    }

    /// [`FIRST`] becomes its cancelled version (`orderInfo-cancelled.xml`, a later `LastUpdateTime`).
    pub fn cancel_first(&self) {
        let (id, cancelled) = sample_order(on_day(ORDER_INFO_CANCELLED, self.day.as_deref()));
        self.inner().orders.insert(id, cancelled);
    }

    /// `count` more orders of the sample's buyer, `tanaka-yahoo-20000001` on, the first placed at `first`
    /// (whole seconds) and each `every` after the one before; returns their ids, oldest first.
    pub fn add_orders(&self, count: usize, first: Timestamp, every: jiff::SignedDuration) -> Vec<String> {
        let text = String::from_utf8(on_day(ORDER_INFO, self.day.as_deref())).unwrap();
        let in_japan = |at: Timestamp| at.to_zoned(jst()).strftime("%Y-%m-%dT%H:%M:%S+09:00").to_string();
        let mut ids = vec![];
        let mut inner = self.inner();
        for i in 0..count {
            let id = format!("tanaka-yahoo-{}", 20_000_001 + i);
            let at = first + every * i32::try_from(i).unwrap();
            let placed = with_tag(&text.replacen(FIRST, &id, 1), "OrderTime", &in_japan(at));
            let raw = with_tag(&placed, "LastUpdateTime", &in_japan(at));
            let (read, order) = sample_order(raw.into_bytes());
            assert_eq!(read, id);
            inner.orders.insert(id.clone(), order);
            ids.push(id);
        }
        ids
    }

    /// Order `id` changes at `at` (its `LastUpdateTime`, as a shipment or an edit moves it).
    pub fn set_updated(&self, id: &str, at: Timestamp) {
        let mut inner = self.inner();
        let in_japan = at.to_zoned(jst()).strftime("%Y-%m-%dT%H:%M:%S+09:00").to_string();
        inner.set_tag(id, "LastUpdateTime", &in_japan);
        inner.orders.get_mut(id).unwrap().updated_at = at;
    }

    /// Order `id` gets an order time that is none in its orderInfo (orderList still lists it): the parser
    /// cannot read what orderInfo serves.
    pub fn corrupt(&self, id: &str) {
        let mut inner = self.inner();
        let order = inner.orders.get_mut(id).unwrap();
        let text = String::from_utf8(order.raw.clone()).unwrap();
        let corrupted = text.replacen("<OrderTime>", "<OrderTime>yesterday ", 1);
        assert_ne!(corrupted, text);
        order.raw = corrupted.into_bytes();
    }

    /// Order `id` gets `ShipStatus` 3 (出荷済み): it has left the store.
    pub fn ship(&self, id: &str) {
        self.set_ship_status(id, 3);
    }

    /// Order `id` gets `ShipStatus` `ship_status` (0 出荷不可 … 4 着荷済み).
    pub fn set_ship_status(&self, id: &str, ship_status: u8) {
        self.inner().set_tag(id, "ShipStatus", &ship_status.to_string());
    }

    /// Order `id` gets `OrderStatus` `status` (1 予約中 … 5 完了), as if the store changed it.
    pub fn set_status(&self, id: &str, status: u8) {
        let mut inner = self.inner();
        inner.set_tag(id, "OrderStatus", &status.to_string());
        inner.orders.get_mut(id).unwrap().status = status;
    }

    /// Order `id` gets `FraudHoldStatus` `value` (1 ルール保留審査中 restricts it to a cancel).
    pub fn set_fraud_hold(&self, id: &str, value: &str) {
        self.inner().set_tag(id, "FraudHoldStatus", value);
    }

    /// Order `id`'s `OrderStatus` and `ShipStatus` as orderInfo serves them.
    pub fn status(&self, id: &str) -> (u8, Option<u8>) {
        let inner = self.inner();
        let raw = String::from_utf8_lossy(&inner.orders[id].raw).into_owned();
        let ship = tag(&raw, "ShipStatus").and_then(|s| s.parse().ok());
        (inner.orders[id].status, ship)
    }

    /// From now on orderStatusChange answers a change with the warning sample (the change is still made).
    pub fn warn_on_change(&self, warn: bool) {
        self.inner().warn_on_change = warn;
    }

    /// Every orderStatusChange request the fake answered (not the scripted or refused ones), in order.
    pub fn changes(&self) -> Vec<ChangeSeen> {
        self.inner().changes.clone()
    }

    /// How many requests `endpoint` received, answered or not.
    pub fn requests(&self, endpoint: Endpoint) -> u32 {
        self.inner().counts.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every orderList request the fake answered with orders or none (not the scripted or refused ones).
    pub fn lists(&self) -> Vec<ListSeen> {
        self.inner().lists.clone()
    }

    /// The order id of every orderInfo request the fake answered, in order.
    pub fn infos(&self) -> Vec<String> {
        self.inner().infos.clone()
    }

    /// How many store API requests carried a signature the fake accepted, and how many did not.
    pub fn signatures(&self) -> (u32, u32) {
        let inner = self.inner();
        (inner.signatures_accepted, inner.signatures_refused)
    }
}

/// What a handler answers, worked out under the lock and sent after it.
type Reply = Answer;

fn reply(status: u16, body: impl Into<Vec<u8>>) -> Reply {
    Answer::Status {
        status,
        body: body.into(),
        headers: Vec::new(),
    }
}

async fn send(reply: Reply) -> Response {
    match reply {
        Answer::Hang => std::future::pending().await,
        Answer::Status { status, body, headers } => {
            let content_type = if body.first() == Some(&b'{') {
                "application/json"
            } else {
                "application/xml; charset=UTF-8"
            };
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
            let map = response.headers_mut();
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            for (name, value) in headers {
                map.insert(
                    HeaderName::try_from(name).unwrap(),
                    HeaderValue::try_from(value).unwrap(),
                );
            }
            response
        }
    }
}

async fn token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().token(&headers, &body);
    send(reply).await
}

async fn order_list(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().order_list(&headers, &body);
    send(reply).await
}

async fn order_info(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().order_info(&headers, &body);
    send(reply).await
}

async fn order_status_change(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = state.lock().unwrap().order_status_change(&headers, &body);
    send(reply).await
}

/// `text` with the content of its first `<name>…</name>` replaced by `value`.
fn with_tag(text: &str, name: &str, value: &str) -> String {
    let open = format!("<{name}>");
    let start = text.find(&open).unwrap_or_else(|| panic!("no <{name}>")) + open.len();
    let end = text[start..].find(&format!("</{name}>")).unwrap() + start;
    format!("{}{value}{}", &text[..start], &text[end..])
}

/// The text of the first `<name>…</name>` in `body` (the fake's requests are flat and plain).
fn tag<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(&body[start..end])
}

/// A request time, `YYYYMMDDHHMMSS` in JST and nothing else.
fn request_time(text: &str) -> Option<Timestamp> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", text)
        .ok()?
        .to_zoned(jst())
        .ok()
        .map(|z| z.timestamp())
}

/// A time as Yahoo's answers write it, `2026-11-23T12:30:00+09:00`.
fn answer_time(at: Timestamp) -> String {
    at.to_zoned(jst()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A store API error document.
fn error(code: &str, message: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Message>{message}</Message><Code>{code}</Code></Error>"
    )
    .into_bytes()
}

fn json_error(code: &str, description: &str) -> Vec<u8> {
    format!(r#"{{"error":"{code}","error_description":"{description}"}}"#).into_bytes()
}

impl Inner {
    fn take_scripted(&mut self, endpoint: Endpoint) -> Option<Reply> {
        *self.counts.entry(endpoint).or_default() += 1;
        self.scripted.get_mut(&endpoint).and_then(VecDeque::pop_front)
    }

    fn token(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if let Some(answer) = self.take_scripted(Endpoint::Token) {
            return answer;
        }
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if authorization != Some(yahoo::basic_authorization(CLIENT_ID, CLIENT_SECRET).as_str()) {
            return reply(401, json_error("invalid_client", "Client authentication failed."));
        }
        if headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded")
        {
            return reply(400, json_error("invalid_request", "Unsupported content type."));
        }
        let form: HashMap<String, String> =
            reqwest::Url::parse(&format!("http://form.invalid/?{}", String::from_utf8_lossy(body)))
                .map(|url| url.query_pairs().into_owned().collect())
                .unwrap_or_default();
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return reply(
                400,
                json_error("unsupported_grant_type", "grant_type must be refresh_token."),
            );
        }
        if form.get("refresh_token") != Some(&self.refresh_token) {
            return reply(400, ERROR_INVALID_GRANT);
        }
        self.issued += 1;
        let access = format!("fake-access-{}", self.issued);
        self.tokens.insert(access.clone());
        let rotated = match self.rotate_to.take() {
            Some(new) => {
                self.refresh_token = new.clone();
                format!(r#","refresh_token":"{new}""#)
            }
            None => String::new(),
        };
        reply(
            200,
            format!(r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600{rotated}}}"#),
        )
    }

    /// Counts the request, then gives the scripted answer or the verdict on the token, the content type and
    /// the seller; with the signature's verdict (an `X-SWS-Authorize-Status` header) for the real answer.
    fn gate(&mut self, endpoint: Endpoint, headers: &HeaderMap, body: &str) -> Result<(String, String), Reply> {
        if let Some(answer) = self.take_scripted(endpoint) {
            return Err(answer);
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !bearer.is_some_and(|token| self.tokens.contains(token)) {
            return Err(Answer::token_expired());
        }
        if headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(yahoo::CONTENT_TYPE) {
            return Err(reply(400, error("od00001", "Invalid Content-Type. (fake)")));
        }
        if tag(body, "SellerId") != Some(SELLER) {
            return Err(reply(400, error("px-04304", "Invalid SellerId. (fake)")));
        }
        let status = if self.signature_ok(headers) {
            self.signatures_accepted += 1;
            "authorized"
        } else {
            self.signatures_refused += 1;
            "unauthorized"
        };
        Ok((yahoo::AUTHORIZE_STATUS_HEADER.to_owned(), status.to_owned()))
    }

    /// Whether `X-sws-signature` decrypts to `"<SELLER>:<unix seconds>"` within ten minutes of now, with the
    /// test key's version.
    fn signature_ok(&self, headers: &HeaderMap) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if header(yahoo::SIGNATURE_VERSION_HEADER) != Some(PUBLIC_KEY_VERSION) {
            return false;
        }
        let Some(plain) = header(yahoo::SIGNATURE_HEADER)
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|encrypted| self.private_key.pkcs1v15_decrypt(&encrypted).ok())
            .and_then(|plain| String::from_utf8(plain).ok())
        else {
            return false;
        };
        let Some((seller, seconds)) = plain.split_once(':') else {
            return false;
        };
        let now = Timestamp::now().as_second();
        seller == SELLER && seconds.parse::<i64>().is_ok_and(|t| (t - now).abs() <= 600)
    }

    fn order_list(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let body = String::from_utf8_lossy(body);
        let authorize = match self.gate(Endpoint::OrderList, headers, &body) {
            Ok(header) => header,
            Err(reply) => return reply,
        };
        let (Some(from), Some(to)) = (
            tag(&body, "OrderTimeFrom").and_then(request_time),
            tag(&body, "OrderTimeTo").and_then(request_time),
        ) else {
            return reply(400, error("od00002", "Invalid OrderTimeFrom or OrderTimeTo. (fake)"));
        };
        let start = tag(&body, "Start").and_then(|s| s.parse::<u32>().ok()).unwrap_or(1);
        let result = tag(&body, "Result").and_then(|s| s.parse::<u32>().ok()).unwrap_or(10);
        if start == 0 || result == 0 || tag(&body, "Field").is_none_or(str::is_empty) {
            return reply(400, error("od00003", "Invalid Start, Result or Field. (fake)"));
        }
        self.lists.push(ListSeen {
            from: tag(&body, "OrderTimeFrom").unwrap().to_owned(),
            to: tag(&body, "OrderTimeTo").unwrap().to_owned(),
            start,
            result,
        });
        let mut found: Vec<(&Timestamp, &String, &FakeOrder)> = self
            .orders
            .iter()
            .filter(|(_, order)| (from..=to).contains(&order.placed_at))
            .map(|(id, order)| (&order.placed_at, id, order))
            .collect();
        let mut answer = Answer::status(200, ORDER_LIST_EMPTY);
        if !found.is_empty() {
            found.sort_by_key(|(placed_at, _, _)| **placed_at);
            let mut xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Result>\n  <Status>OK</Status>\n  <Search>\n    \
                 <TotalCount>{}</TotalCount>\n",
                found.len()
            );
            for (i, (_, id, order)) in found
                .iter()
                .enumerate()
                .skip(usize::try_from(start - 1).unwrap())
                .take(usize::try_from(result).unwrap())
            {
                xml.push_str(&format!(
                    "    <OrderInfo>\n      <Index>{index}</Index>\n      <OrderId>{id}</OrderId>\n      \
                     <OrderTime>{placed}</OrderTime>\n      <LastUpdateTime>{updated}</LastUpdateTime>\n      \
                     <OrderStatus>{status}</OrderStatus>\n      <IsSeen>false</IsSeen>\n      \
                     <PublicationTime>{placed}</PublicationTime>\n      <FraudHoldStatus>0</FraudHoldStatus>\n    \
                     </OrderInfo>\n",
                    index = i + 1,
                    placed = answer_time(order.placed_at),
                    updated = answer_time(order.updated_at),
                    status = order.status,
                ));
            }
            xml.push_str("  </Search>\n</Result>\n");
            answer = reply(200, xml);
        }
        with_header(answer, authorize)
    }

    /// Order `id`'s first `<name>` set to `value` in the bytes orderInfo serves.
    fn set_tag(&mut self, id: &str, name: &str, value: &str) {
        let order = self.orders.get_mut(id).unwrap_or_else(|| panic!("no order {id}"));
        let text = String::from_utf8(order.raw.clone()).unwrap();
        order.raw = with_tag(&text, name, value).into_bytes();
    }

    fn order_status_change(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let body = String::from_utf8_lossy(body);
        let authorize = match self.gate(Endpoint::OrderStatusChange, headers, &body) {
            Ok(header) => header,
            Err(reply) => return reply,
        };
        let (Some(id), Some(to), Some(is_point_fix)) = (
            tag(&body, "OrderId"),
            tag(&body, "OrderStatus")
                .and_then(yahoo::YahooOrderStatus::from_code)
                .filter(|_| body.contains("<Order>")),
            tag(&body, "IsPointFix").filter(|v| matches!(*v, "true" | "false")),
        ) else {
            return reply(
                400,
                error("od00003", "OrderId, IsPointFix and OrderStatus are required. (fake)"),
            );
        };
        let reason = tag(&body, "CancelReason").map(str::to_owned);
        if to == yahoo::YahooOrderStatus::Cancelled && reason.is_none() {
            return reply(400, error("od00005", "CancelReason is required to cancel. (fake)"));
        }
        let Some(from) = self.orders.get(id).map(|o| o.status) else {
            return reply(400, error("od00004", "Not Found OrderId. (fake)"));
        };
        self.changes.push(ChangeSeen {
            order_id: id.to_owned(),
            order_status: to.code(),
            cancel_reason: reason.clone(),
            is_point_fix: is_point_fix.to_owned(),
        });
        let from = yahoo::YahooOrderStatus::from_code(&from.to_string()).unwrap();
        if !from.can_change_to(to) {
            // The sample's refusal names a cancelled order's status; another status is named likewise.
            let refused = String::from_utf8_lossy(ORDER_STATUS_CHANGE_REFUSED).replace(
                "CancelOrder",
                match from {
                    yahoo::YahooOrderStatus::Cancelled => "CancelOrder",
                    yahoo::YahooOrderStatus::Reserved => "ReservedOrder",
                    yahoo::YahooOrderStatus::Processing => "ProcessingOrder",
                    yahoo::YahooOrderStatus::OnHold => "HoldingOrder",
                    yahoo::YahooOrderStatus::Completed => "CompletedOrder",
                },
            );
            return with_header(reply(400, refused), authorize);
        }
        let id = id.to_owned();
        self.set_tag(&id, "OrderStatus", &to.code().to_string());
        if let Some(reason) = &reason {
            let order = self.orders.get_mut(&id).unwrap();
            let text = String::from_utf8(order.raw.clone()).unwrap();
            order.raw = if text.contains("<CancelReason>") {
                with_tag(&text, "CancelReason", reason)
            } else {
                text.replacen(
                    "</OrderStatus>",
                    &format!("</OrderStatus>\n      <CancelReason>{reason}</CancelReason>"),
                    1,
                )
            }
            .into_bytes();
        }
        let now = Timestamp::now();
        self.set_tag(&id, "LastUpdateTime", &answer_time(now));
        let order = self.orders.get_mut(&id).unwrap();
        order.status = to.code();
        order.updated_at = now;
        let sample = if self.warn_on_change {
            String::from_utf8_lossy(ORDER_STATUS_CHANGE_WARNING).replace(FIRST, &id)
        } else {
            String::from_utf8_lossy(ORDER_STATUS_CHANGE).into_owned()
        };
        with_header(reply(200, sample), authorize)
    }

    fn order_info(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let body = String::from_utf8_lossy(body);
        let authorize = match self.gate(Endpoint::OrderInfo, headers, &body) {
            Ok(header) => header,
            Err(reply) => return reply,
        };
        let (Some(id), Some(_)) = (tag(&body, "OrderId"), tag(&body, "Field").filter(|f| !f.is_empty())) else {
            return reply(400, error("od00003", "OrderId and Field are required. (fake)"));
        };
        let Some(order) = self.orders.get(id) else {
            return reply(400, error("od00004", "Not Found OrderId. (fake)"));
        };
        let answer = reply(200, order.raw.clone());
        self.infos.push(id.to_owned());
        with_header(answer, authorize)
    }
}

fn with_header(answer: Answer, (name, value): (String, String)) -> Answer {
    match answer {
        Answer::Status {
            status,
            body,
            mut headers,
        } => {
            headers.push((name, value));
            Answer::Status { status, body, headers }
        }
        Answer::Hang => Answer::Hang,
    }
}
