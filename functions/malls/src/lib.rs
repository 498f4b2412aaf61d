//! Mall adapters: the inbound contract of every mall that sends us orders. Check that a payload really
//! comes from the mall, then turn it into the canonical [`Order`](mallguard_domain::order::Order).
//!
//! Pure: no IO and no clock reads (the time is a parameter), so the HTTP edge decides what each error means
//! on the wire:
//!
//! - [`VerifyError`]: refused before anything was parsed, nothing stored (401).
//! - [`ParseError::NotJson`], [`ParseError::NotObject`], [`ParseError::TooDeep`]: the body is empty, not
//!   UTF-8, not JSON, not a JSON object, or nested deeper than [`MAX_DEPTH`] (400). The depth is checked
//!   without recursion before anything else reads the body, so no body can exhaust the stack.
//! - [`ParseError::Invalid`]: signed JSON that we do not understand; the edge quarantines it and answers 202
//!   so the mall neither retries forever nor drops the subscription.
//!
//! [`inbound`] is the one entry point: [`Source`] (which route, which headers), [`verify`], [`parse`] and
//! [`delivery_id`], over [`WebhookSecrets`]. Behind it, one module per mall with the same shape (header
//! names, `verify`, `sign` for tests and `mallguard send`, `parse_order`): [`shopify`] (Shopify's own HMAC
//! scheme) and [`generic`] (the canonical order JSON signed with Standard Webhooks, for a shop's own system
//! or an order management system that relays orders from every mall).

pub mod amazon;
pub mod generic;
pub mod inbound;
pub mod rakuten;
pub mod shopify;
pub mod yahoo;

pub use inbound::{
    Headers, Malls, Parsed, RouteError, Source, VerifyError, WebhookSecrets, delivery_id, parse, verify,
};

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One order read from a mall's order API (the malls that push nothing and are polled), with the exact
/// bytes of that one order as the API returned it, kept for the evidence and for replay. An order of the
/// response that cannot be understood comes back as its bytes and the reason, so the caller quarantines
/// it alone and takes the others.
pub type PolledOrder = Result<(mallguard_domain::order::Order, Vec<u8>), (Vec<u8>, ParseError)>;

/// Why a request was refused before anything was parsed (HTTP 401 at the edge).
///
/// The `&'static str` says what was missing or malformed: a header name, or the configured secret. It never
/// carries request data, so the error can be logged as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{0} is malformed")]
    Malformed(&'static str),
    #[error("the signature does not match the body")]
    Mismatch,
    /// Standard Webhooks only: correctly signed, but the timestamp is too far from now (a replay, or a clock
    /// far off).
    #[error("the webhook timestamp is outside the tolerance")]
    OutsideTolerance,
}

/// A signed payload we could not turn into an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is empty or not JSON at all (HTTP 400 at the edge).
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// Arrays and objects nested deeper than the bound (HTTP 400 at the edge).
    #[error("the body nests deeper than {0} levels")]
    TooDeep(usize),
    /// Well-formed JSON, but not an object (HTTP 400 at the edge).
    #[error("the body must be a JSON object, not {0}")]
    NotObject(&'static str),
    /// JSON, but not an order we understand (quarantine + 202 at the edge). The message starts with the path of
    /// the offending field, such as `lines[0].quantity: must be at least 1`.
    #[error("the order is not understood: {0}")]
    Invalid(String),
}

impl ParseError {
    /// An [`Invalid`](ParseError::Invalid) error about one field, as `"{field}: {problem}"`.
    pub(crate) fn field(field: &str, problem: impl std::fmt::Display) -> Self {
        if field.is_empty() {
            ParseError::Invalid(problem.to_string())
        } else {
            ParseError::Invalid(format!("{field}: {problem}"))
        }
    }
}

/// An amount of money as a mall writes it: a decimal string (`"1200"`, `"1200.00"`) or a whole JSON number
/// (`1200`). Kept as text until the currency is known; a JSON fraction (`19.99`) is refused because a binary
/// float is not an exact amount. Serialises as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(String);

impl Amount {
    /// The amount as text, for [`Money::parse`](mallguard_domain::order::Money::parse).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Amount {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<i64> for Amount {
    fn from(value: i64) -> Self {
        Self(value.to_string())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        scalar(
            deserializer,
            "an amount as a string or a whole number",
            |value| match value {
                Scalar::Text(text) | Scalar::Integer(text) => Ok(Amount(text)),
                Scalar::Fraction(f) => Err(format!(
                    "{f} is not exact as a JSON number; write amounts with decimals as a string, like \"{f}\""
                )),
                other => Err(format!("must be a string or a whole number, not {}", other.kind())),
            },
        )
    }
}

/// A JSON scalar as read, integers as exact decimal text (never through floating point).
pub(crate) enum Scalar {
    Null,
    Text(String),
    Integer(String),
    Fraction(f64),
    /// A boolean, array or object: its kind, for the error message.
    Other(&'static str),
}

impl Scalar {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Text(_) => "a string",
            Scalar::Integer(_) | Scalar::Fraction(_) => "a number",
            Scalar::Other(kind) => kind,
        }
    }
}

/// Reads one JSON value as a [`Scalar`] and converts it. The conversion runs inside serde_json's visitor, so a
/// refusal carries the position of the value and [`decode`] can name the field.
pub(crate) fn scalar<'de, D, T, F>(deserializer: D, expecting: &'static str, convert: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(Scalar) -> Result<T, String>,
{
    deserializer.deserialize_any(ScalarVisitor { expecting, convert })
}

struct ScalarVisitor<F> {
    expecting: &'static str,
    convert: F,
}

impl<F> ScalarVisitor<F> {
    fn finish<T, E: serde::de::Error>(self, value: Scalar) -> Result<T, E>
    where
        F: FnOnce(Scalar) -> Result<T, String>,
    {
        (self.convert)(value).map_err(E::custom)
    }
}

impl<'de, T, F: FnOnce(Scalar) -> Result<T, String>> Visitor<'de> for ScalarVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
        self.finish(Scalar::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
        self.finish(Scalar::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<T, E> {
        self.finish(Scalar::Other("a boolean"))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<T, E> {
        self.finish(Scalar::Integer(n.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<T, E> {
        self.finish(Scalar::Integer(n.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<T, E> {
        self.finish(Scalar::Fraction(n))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
        self.finish(Scalar::Text(s.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<T, E> {
        self.finish(Scalar::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        self.finish(Scalar::Other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<T, A::Error> {
        self.finish(Scalar::Other("an object"))
    }
}

/// For `#[serde(default, deserialize_with = "crate::null_as_default")]`: malls write `null` where a field has
/// nothing, and `null` must mean the same as the field being absent.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// For `#[serde(deserialize_with = "crate::string_only")]` on an order id: a JSON number is refused, because
/// ids beyond 2^53 lose digits in any reader that goes through floating point.
pub(crate) fn string_only<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    scalar(deserializer, "a string", |value| match value {
        Scalar::Text(text) => Ok(text),
        Scalar::Integer(_) | Scalar::Fraction(_) => {
            Err("must be a string, not a number (JSON numbers lose digits beyond 2^53)".to_owned())
        }
        other => Err(format!("must be a string, not {}", other.kind())),
    })
}

/// A trimmed text, or None when it is absent or blank: malls send `""` for "not given".
pub(crate) fn non_empty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|s| !s.is_empty())
}

/// How deeply arrays and objects may nest in a payload. Real order payloads nest about six levels; the
/// bound is checked before anything recursive reads the body, so no body can exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// Deserializes a JSON body into `T`.
///
/// A body that is empty, not UTF-8, not JSON, nested deeper than [`MAX_DEPTH`] or not a JSON object is
/// refused as such (HTTP 400 at the edge). Data errors (wrong type, missing field, a value a field refuses)
/// become [`ParseError::Invalid`] prefixed with the JSON path of the offending value (`lines[0].quantity`),
/// because staff need to know which field a mall changed.
pub(crate) fn decode<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ParseError> {
    check_shape(raw)?;
    decode_shaped(raw, str::to_owned)
}

/// Deserializes a body [`check_shape`] passed into `T`; a data error names the JSON path of the value it
/// is about as `name` writes it (given `""` for the body itself).
pub(crate) fn decode_shaped<T: DeserializeOwned>(
    raw: &[u8],
    name: impl FnOnce(&str) -> String,
) -> Result<T, ParseError> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let suffix = format!(" at line {} column {}", inner.line(), inner.column());
        let text = inner.to_string();
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        ParseError::field(&name(if path == "." { "" } else { &path }), message)
    })
}

/// Checks, without recursion, that `raw` is one UTF-8 JSON object nested at most [`MAX_DEPTH`] deep.
pub fn check_shape(raw: &[u8]) -> Result<(), ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::NotJson("it is empty".into()));
    }
    // serde_json skips the strings of ignored fields without checking their encoding.
    if let Err(e) = std::str::from_utf8(raw) {
        return Err(ParseError::NotJson(format!(
            "it is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in raw {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::TooDeep(MAX_DEPTH));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    // A syntax check of the whole body: a typed decode may stop at a data error before it meets a syntax
    // error further on, and a body that is not JSON must get a 400, not a quarantine.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
        return Err(ParseError::NotJson(e.to_string()));
    }
    match raw.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        Some(b'[') => Err(ParseError::NotObject("an array")),
        Some(b'"') => Err(ParseError::NotObject("a string")),
        Some(b'n') => Err(ParseError::NotObject("null")),
        Some(b't' | b'f') => Err(ParseError::NotObject("a boolean")),
        _ => Err(ParseError::NotObject("a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
        flag: bool,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: u32,
        tags: Vec<String>,
        #[serde(default)]
        price: Option<Amount>,
    }

    fn invalid(body: &str) -> String {
        match decode::<Outer>(body.as_bytes()) {
            Err(ParseError::Invalid(message)) => message,
            other => panic!("expected Invalid for {body}, got {other:?}"),
        }
    }

    #[test]
    fn an_empty_body_is_not_json() {
        assert!(matches!(decode::<Outer>(b""), Err(ParseError::NotJson(m)) if m.contains("empty")));
        assert!(matches!(decode::<Outer>(b"  \n"), Err(ParseError::NotJson(_))));
    }

    #[test]
    fn a_body_with_a_syntax_error_anywhere_is_not_json() {
        assert!(matches!(decode::<Outer>(b"name=taro"), Err(ParseError::NotJson(_))));
        // The typed decode would stop at the wrong type of "name" before it reached the broken end.
        assert!(matches!(
            decode::<Outer>(br#"{"name": 5, "inner": "#),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn a_wrong_type_names_the_nested_field_in_compact_and_pretty_json() {
        let compact = r#"{"name":"a","inner":{"count":"three","flag":true}}"#;
        assert!(
            invalid(compact).starts_with("inner.count: invalid type: string \"three\""),
            "{}",
            invalid(compact)
        );
        let pretty = "{\n  \"name\": \"a\",\n  \"inner\": {\n    \"count\": 3,\n    \"flag\": \"yes\"\n  }\n}";
        assert!(
            invalid(pretty).starts_with("inner.flag: invalid type: string"),
            "{}",
            invalid(pretty)
        );
    }

    #[test]
    fn a_wrong_type_inside_an_array_names_the_index() {
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":[]},{"quantity":-2,"tags":[]}]}"#;
        assert!(
            invalid(body).starts_with("items[1].quantity: invalid value: integer `-2`"),
            "{}",
            invalid(body)
        );
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":["x",7]}]}"#;
        assert!(
            invalid(body).starts_with("items[0].tags[1]: invalid type: integer `7`"),
            "{}",
            invalid(body)
        );
    }

    #[test]
    fn an_object_where_a_scalar_belongs_names_that_field() {
        let body = r#"{"name":{"first":"a"},"inner":{"count":1,"flag":true}}"#;
        assert!(
            invalid(body).starts_with("name: invalid type: map"),
            "{}",
            invalid(body)
        );
        let body = r#"{"name":["a"],"inner":{"count":1,"flag":true}}"#;
        assert!(
            invalid(body).starts_with("name: invalid type: sequence"),
            "{}",
            invalid(body)
        );
    }

    #[test]
    fn a_value_refused_by_its_own_check_names_that_field() {
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":[],"price":12.5}]}"#;
        assert!(
            invalid(body).starts_with("items[0].price: 12.5 is not exact"),
            "{}",
            invalid(body)
        );
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":[],"price":[1]}]}"#;
        assert!(
            invalid(body).starts_with("items[0].price: must be a string"),
            "{}",
            invalid(body)
        );
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":[],"price":{}}]}"#;
        assert!(
            invalid(body).starts_with("items[0].price: must be a string"),
            "{}",
            invalid(body)
        );
        let body = r#"{"name":"a","inner":{"count":1,"flag":true},"items":[{"quantity":1,"tags":[],"price":true}]}"#;
        assert!(
            invalid(body).starts_with("items[0].price: must be a string"),
            "{}",
            invalid(body)
        );
    }

    #[test]
    fn amounts_keep_their_text_and_whole_numbers_become_text() {
        let items: Vec<Amount> = serde_json::from_str(r#"["1200.00", 1200, -5]"#).unwrap();
        assert_eq!(
            items.iter().map(Amount::as_str).collect::<Vec<_>>(),
            ["1200.00", "1200", "-5"]
        );
        assert_eq!(serde_json::to_string(&Amount::from(1200)).unwrap(), r#""1200""#);
    }

    #[test]
    fn a_missing_field_names_the_object_it_is_missing_from() {
        assert_eq!(
            invalid(r#"{"name":"a","inner":{"count":1}}"#),
            "inner: missing field `flag`"
        );
        assert_eq!(invalid(r#"{"name":"a"}"#), "missing field `inner`");
        assert_eq!(invalid(r#"{"inner":{"count":1,"flag":true}}"#), "missing field `name`");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_not_quarantined() {
        assert_eq!(
            decode::<Outer>(b"true").unwrap_err(),
            ParseError::NotObject("a boolean")
        );
        assert_eq!(decode::<Outer>(b" null").unwrap_err(), ParseError::NotObject("null"));
        assert_eq!(
            decode::<Outer>(br#""order""#).unwrap_err(),
            ParseError::NotObject("a string")
        );
        assert_eq!(decode::<Outer>(b"[1]").unwrap_err(), ParseError::NotObject("an array"));
        assert_eq!(decode::<Outer>(b"12").unwrap_err(), ParseError::NotObject("a number"));
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_even_inside_an_ignored_field() {
        let mut body = br#"{"name":"a","inner":{"count":1,"flag":true},"note":""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#""}"#);
        assert!(matches!(decode::<Outer>(&body), Err(ParseError::NotJson(m)) if m.contains("UTF-8")));
    }

    #[test]
    fn a_body_nested_a_hundred_thousand_deep_is_refused_without_recursion() {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let body = format!("{{\"x\":{}1{}}}", open.repeat(100_000), close.repeat(100_000));
            assert_eq!(
                decode::<Outer>(body.as_bytes()).unwrap_err(),
                ParseError::TooDeep(MAX_DEPTH)
            );
        }
        // Brackets inside strings do not count.
        let body = format!(r#"{{"name":"{}","inner":{{"count":1,"flag":true}}}}"#, "[".repeat(1000));
        assert!(decode::<Outer>(body.as_bytes()).is_ok());
        // A deep unknown field after a data error: refused before any walk.
        let body = format!(r#"{{"name":5,"deep":{}1{}}}"#, "[".repeat(20_000), "]".repeat(20_000));
        assert_eq!(
            decode::<Outer>(body.as_bytes()).unwrap_err(),
            ParseError::TooDeep(MAX_DEPTH)
        );
    }
}

/// The sample events in `events/` are what people send with `mallguard send` and what other crates' tests
/// replay: each must parse, and the duplicate scenarios they stage must hold.
#[cfg(test)]
mod sample_events {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use mallguard_domain::identity::{IdentityHasher, IdentityKey, KeyKind};
    use mallguard_domain::ids::{Mall, ShopId};
    use mallguard_domain::order::{Order, OrderStatus, PaymentMethod};

    use crate::{generic, shopify};

    fn events() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
    }

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(events().join(path)).unwrap_or_else(|e| panic!("events/{path}: {e}"))
    }

    fn shopify_topic(file_name: &str) -> shopify::Topic {
        if file_name.starts_with("orders-cancelled") {
            shopify::Topic::OrdersCancelled
        } else {
            shopify::Topic::OrdersCreate
        }
    }

    fn shopify(path: &str) -> Order {
        let name = path.rsplit('/').next().unwrap();
        shopify::parse_order(
            &read(path),
            &shopify_topic(name),
            &ShopId::parse("tanaka-shop").unwrap(),
        )
        .unwrap()
    }

    fn generic(path: &str) -> Order {
        generic::parse_order(&read(path)).unwrap()
    }

    fn keys(order: &Order, kind: KeyKind) -> BTreeSet<IdentityKey> {
        let hasher = IdentityHasher::new(b"sample-events-pepper".to_vec());
        let identity = hasher.order_identity(order);
        identity.keys.into_iter().filter(|k| k.kind() == kind).collect()
    }

    fn share(a: &Order, b: &Order, kind: KeyKind) -> bool {
        !keys(a, kind).is_disjoint(&keys(b, kind))
    }

    #[test]
    fn every_sample_under_shopify_and_generic_parses() {
        let mut parsed = Vec::new();
        for dir in ["shopify", "generic"] {
            let entries = std::fs::read_dir(events().join(dir)).unwrap_or_else(|e| panic!("events/{dir}: {e}"));
            for entry in entries {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|ext| ext != "json") {
                    continue;
                }
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                let raw = std::fs::read(&path).unwrap();
                let result = match dir {
                    "shopify" => {
                        shopify::parse_order(&raw, &shopify_topic(&name), &ShopId::parse("tanaka-shop").unwrap())
                    }
                    _ => generic::parse_order(&raw),
                };
                if let Err(e) = result {
                    panic!("events/{dir}/{name}: {e}");
                }
                parsed.push(format!("{dir}/{name}"));
            }
        }
        parsed.sort();
        let expected = [
            "generic/order-cancelled.json",
            "generic/order-duplicate.json",
            "generic/order-redelivered.json",
            "generic/order-unrelated.json",
            "generic/order.json",
            "generic/rakuten-order.json",
            "generic/yahoo-order.json",
            "shopify/orders-cancelled.json",
            "shopify/orders-create-duplicate.json",
            "shopify/orders-create-redelivered.json",
            "shopify/orders-create-unrelated.json",
            "shopify/orders-create.json",
        ];
        for file in expected {
            assert!(parsed.iter().any(|p| p == file), "events/{file} is missing");
        }
    }

    #[test]
    fn redeliveries_are_byte_identical_copies() {
        assert_eq!(
            read("shopify/orders-create.json"),
            read("shopify/orders-create-redelivered.json")
        );
        assert_eq!(read("generic/order.json"), read("generic/order-redelivered.json"));
    }

    #[test]
    fn the_shopify_order_keeps_its_id_beyond_two_to_the_53() {
        let order = shopify("shopify/orders-create.json");
        assert_eq!(order.order_ref.key(), "shopify/tanaka-shop/5678901234567890123");
        assert_eq!(order.number(), "#1001", "the number the buyer knows");
        assert_eq!(order.placed_at.to_string(), "2026-11-23T03:00:00Z");
        assert_eq!(order.buyer.name, "山田 太郎");
        assert_eq!(order.buyer.email.as_ref().unwrap().as_str(), "taro.yamada@example.com");
        assert_eq!(order.ship_to.name, "山田 太郎");
        assert_eq!(order.ship_to.postal_code, "100-0001");
        assert_eq!(order.ship_to.lines, ["千代田1-2-3", "メゾン千代田101"]);
        assert_eq!(order.lines.iter().next().unwrap().product.as_str(), "TEA-SENCHA-100");
        assert_eq!(order.payment, PaymentMethod::Card);
        assert_eq!(order.status, OrderStatus::Open);
        // The delivery-date app's "指定なし" is no request.
        assert_eq!(order.delivery.requested_date, None);
        assert_eq!(order.delivery.time_slot, None);
    }

    #[test]
    fn the_shopify_duplicate_is_the_same_customer_five_minutes_later() {
        let first = shopify("shopify/orders-create.json");
        let second = shopify("shopify/orders-create-duplicate.json");
        assert_eq!(second.order_ref.order_id.as_str(), "5678901234567890456");
        assert_eq!(second.placed_at.duration_since(first.placed_at).as_mins(), 5);
        assert_ne!(
            first.ship_to.lines, second.ship_to.lines,
            "the address is written differently"
        );
        for kind in [KeyKind::Email, KeyKind::Phone, KeyKind::Address] {
            assert!(share(&first, &second, kind), "{kind:?}");
        }
        let unrelated = shopify("shopify/orders-create-unrelated.json");
        assert!(keys(&first, KeyKind::Email).is_disjoint(&keys(&unrelated, KeyKind::Email)));
        for kind in [KeyKind::Email, KeyKind::Phone, KeyKind::Address] {
            assert!(!share(&first, &unrelated, kind), "{kind:?}");
        }
        assert_eq!(unrelated.payment, PaymentMethod::CashOnDelivery);
        assert!(unrelated.delivery.requested_date.is_some());
    }

    #[test]
    fn the_shopify_cancellation_cancels_the_duplicate() {
        let cancelled = shopify("shopify/orders-cancelled.json");
        assert_eq!(
            cancelled.order_ref,
            shopify("shopify/orders-create-duplicate.json").order_ref
        );
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
    }

    #[test]
    fn the_generic_samples_stage_a_duplicate_an_unrelated_order_and_a_cancellation() {
        let first = generic("generic/order.json");
        let second = generic("generic/order-duplicate.json");
        assert_eq!(first.order_ref.mall, Mall::Own);
        assert_eq!(first.order_ref.shop.as_str(), "tanaka-shop");
        assert_eq!(second.placed_at.duration_since(first.placed_at).as_mins(), 5);
        assert!(share(&first, &second, KeyKind::Address));
        let unrelated = generic("generic/order-unrelated.json");
        for kind in [KeyKind::Email, KeyKind::Phone, KeyKind::Address] {
            assert!(!share(&first, &unrelated, kind), "{kind:?}");
        }
        let cancelled = generic("generic/order-cancelled.json");
        assert_eq!(cancelled.order_ref, second.order_ref);
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert_eq!(second.status, OrderStatus::Open);
    }

    #[test]
    fn the_cross_mall_pair_differs_in_email_but_shares_phone_and_address() {
        let rakuten = generic("generic/rakuten-order.json");
        let yahoo = generic("generic/yahoo-order.json");
        assert_eq!(
            rakuten.order_ref.key(),
            "rakuten/tanaka-rakuten/386193-20261123-0000012345"
        );
        assert_eq!(yahoo.order_ref.key(), "yahoo/tanaka-yahoo/tanaka-yahoo-10000123");
        // Rakuten masks the buyer's address behind a relay.
        let masked = rakuten.buyer.email.as_ref().unwrap();
        assert_eq!(masked.domain(), "pc.fw.rakuten.ne.jp");
        assert_eq!(yahoo.buyer.email.as_ref().unwrap().as_str(), "taro.yamada@example.com");
        assert_eq!(rakuten.buyer.phone.as_deref(), Some("090-1234-5678"));
        assert_eq!(yahoo.buyer.phone.as_deref(), Some("＋８１ ９０－１２３４－５６７８"));
        assert_eq!(yahoo.ship_to.name, "山田\u{3000}太郎");
        assert_eq!(yahoo.placed_at.duration_since(rakuten.placed_at).as_mins(), 40);
        let product = |o: &Order| o.lines.iter().next().unwrap().product.clone();
        assert_eq!(product(&rakuten), product(&yahoo));
        assert!(!share(&rakuten, &yahoo, KeyKind::Email));
        assert!(share(&rakuten, &yahoo, KeyKind::Phone));
        assert!(share(&rakuten, &yahoo, KeyKind::Address));
        // And both are the Shopify customer too.
        let own_store = shopify("shopify/orders-create.json");
        assert!(share(&own_store, &yahoo, KeyKind::Email));
        assert!(share(&own_store, &rakuten, KeyKind::Phone));
    }

    #[test]
    fn the_amazon_order_in_romaji_shares_only_the_reading_with_the_rakuten_order() {
        let rakuten = generic("generic/rakuten-order.json");
        let amazon = generic("generic/amazon-order.json");
        assert_eq!(amazon.order_ref.mall, mallguard_domain::ids::Mall::Amazon);
        assert_eq!(amazon.placed_at.duration_since(rakuten.placed_at).as_mins(), 50);
        for kind in [KeyKind::Email, KeyKind::Phone, KeyKind::Address] {
            assert!(!share(&rakuten, &amazon, kind), "{kind:?}");
        }
        assert!(share(&rakuten, &amazon, KeyKind::Reading));
        let hasher = IdentityHasher::new(b"sample-events-pepper".to_vec());
        let (r, a) = (hasher.order_identity(&rakuten), hasher.order_identity(&amazon));
        assert!(r.recipient.sounds_like(&a.recipient), "ヤマダ タロウ is YAMADA TARO");
        // The Yahoo! order of the same buyer gave its reading too, in kanji: it shares the reading key, but
        // links to the Amazon order by it only because the Amazon name is written as it sounds.
        let yahoo = generic("generic/yahoo-order.json");
        assert!(share(&yahoo, &amazon, KeyKind::Reading));
    }
}

/// Checks, in one flat pass without recursion, that `raw` is one UTF-8 XML document without a DOCTYPE,
/// without entities beyond XML's five, with elements nested at most [`MAX_DEPTH`] deep, and returns the text
/// (without a byte order mark) and the name of its root element. `noun` names the document in errors (the
/// response, the report).
pub(crate) fn check_xml<'a>(raw: &'a [u8], noun: &str) -> Result<(&'a str, String), ParseError> {
    use quick_xml::events::Event;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Invalid(format!("the {noun} is empty")));
    }
    let text = std::str::from_utf8(raw).map_err(|e| {
        ParseError::Invalid(format!(
            "the {noun} is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut root: Option<String> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            ParseError::Invalid(format!(
                "the {noun} is not well-formed XML (at byte {}): {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                if depth + 1 > crate::MAX_DEPTH {
                    return Err(ParseError::TooDeep(crate::MAX_DEPTH));
                }
                if depth == 0 {
                    if let Some(first) = &root {
                        return Err(ParseError::Invalid(format!(
                            "the {noun} has more than one root element ({first} and more)"
                        )));
                    }
                    root = Some(element.name().as_ref().chars().take(300).collect());
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => {
                return Err(ParseError::Invalid(format!(
                    "the {noun} has a DOCTYPE: document type declarations and entities are refused"
                )));
            }
            Event::GeneralRef(reference) => {
                let known = if reference.is_char_ref() {
                    matches!(reference.resolve_char_ref(), Ok(Some(_)))
                } else {
                    quick_xml::escape::resolve_predefined_entity(&reference).is_some()
                };
                if !known {
                    let name: String = reference.chars().take(40).collect();
                    return Err(ParseError::Invalid(format!(
                        "the {noun} refers to the entity &{name}; (only XML's five and character references are read)"
                    )));
                }
            }
            Event::Decl(declaration) => {
                if let Some(Ok(encoding)) = declaration.encoding()
                    && !encoding.eq_ignore_ascii_case("utf-8")
                {
                    return Err(ParseError::Invalid(format!(
                        "the {noun} declares the encoding {encoding:?}; only UTF-8 is read"
                    )));
                }
            }
            Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(ParseError::Invalid(format!("the {noun} ends inside an element")));
    }
    let root = root.ok_or_else(|| ParseError::Invalid(format!("the {noun} has no root element")))?;
    Ok((text, root))
}

/// Deserializes a document [`check_xml`] passed; errors name the element path below the root.
pub(crate) fn decode_xml<T: DeserializeOwned>(text: &str) -> Result<T, ParseError> {
    let mut deserializer = quick_xml::de::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        ParseError::field(if path == "." { "" } else { &path }, e.into_inner())
    })
}
