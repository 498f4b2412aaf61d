//! Attribute codecs: the domain types as DynamoDB items and back, the sortable time strings the keys
//! use, the TTL check every read makes, and the zlib compression of raw payloads.

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use jiff::{SignedDuration, Timestamp};
use mallguard_domain::action::{ActionState, MallAction};
use mallguard_domain::blacklist::{BlacklistEntry, BlacklistMark};
use mallguard_domain::feed::PollCursor;
use mallguard_domain::history::{HistoryEntry, KeptPage};
use mallguard_domain::hold::Hold;
use mallguard_domain::ids::OrderId;
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::{Notice, NoticeState};
use mallguard_domain::order::{Order, PayloadDigest, bare_number};
use mallguard_domain::ports::{Quarantined, StoreError, StoredOrder, UsedSignIn, WebhookDelivery};
use mallguard_domain::shop_settings::ShopSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::corrupt;
use super::keys;

pub(super) type Item = HashMap<String, AttributeValue>;

// Attribute names.
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const GSI1PK: &str = "gsi1pk";
pub(super) const GSI1SK: &str = "gsi1sk";
pub(super) const GSI2PK: &str = "gsi2pk";
pub(super) const GSI2SK: &str = "gsi2sk";
pub(super) const VERSION: &str = "version";
pub(super) const DOC: &str = "doc";
pub(super) const RAW: &str = "raw";
pub(super) const STATE: &str = "state";
pub(super) const EXPIRES_AT: &str = "expires_at";
/// The payload digest of a delivery item.
pub(super) const DIGEST: &str = "digest";

/// A time as a fixed-width UTC string whose string order is time order:
/// `2026-11-23T03:00:00.000000000Z`. Times before year 0 clamp to year 0 (the order is kept, never
/// reversed; readers re-check exact times in the item's doc).
pub fn time_key(at: Timestamp) -> String {
    let dt = jiff::tz::Offset::UTC.to_datetime(at);
    if dt.year() < 0 {
        return "0000-01-01T00:00:00.000000000Z".to_owned();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond()
    )
}

/// The `expires_at` of an item written at `now` and kept for `retention`: epoch seconds.
pub(super) fn expires_at(now: Timestamp, retention: SignedDuration) -> AttributeValue {
    n(now.as_second().saturating_add(retention.as_secs()))
}

/// The item if it is not past its TTL at `now` (DynamoDB deletes expired items up to two days late).
pub(super) fn live(item: Item, now: Timestamp) -> Result<Option<Item>, StoreError> {
    Ok(match number_attr(&item, EXPIRES_AT)? {
        Some(expires_at) if expires_at <= now.as_second() => None,
        _ => Some(item),
    })
}

// -------------------------------------------------------------------------------------------------
// Items

/// An order item; its raw payload is taken out of `stored` and kept compressed beside the doc.
pub(super) fn order_item(mut stored: StoredOrder, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let order_ref = stored.order.order_ref.clone();
    let raw = compress(&std::mem::take(&mut stored.raw))?;
    Ok(Item::from([
        (PK.into(), s(keys::order_pk(&order_ref))),
        (SK.into(), s(keys::ORDER_SK)),
        (VERSION.into(), n(stored.version)),
        (DOC.into(), s(to_json(&stored)?)),
        (RAW.into(), AttributeValue::B(raw.into())),
        (EXPIRES_AT.into(), ttl.clone()),
        (
            GSI2PK.into(),
            s(keys::order_lookup_pk(order_ref.mall, &order_ref.order_id)),
        ),
        (GSI2SK.into(), s(order_ref.shop.as_str())),
    ]))
}

/// The number item of an order its buyer knows by a number other than its mall order id (Shopify's
/// `#1001`, kept without its `#`), so the `lookup` Query for that number finds the order; None when the
/// order has no such number (or one no order id could spell, which no look-up could ask for).
pub(super) fn order_number_item(order: &Order, ttl: &AttributeValue) -> Option<Item> {
    let number = bare_number(order.number.as_deref()?);
    if number == order.order_ref.order_id.as_str() {
        return None;
    }
    let number = OrderId::parse(number).ok()?;
    let order_ref = &order.order_ref;
    Some(Item::from([
        (PK.into(), s(keys::order_pk(order_ref))),
        (SK.into(), s(keys::NUMBER_SK)),
        (EXPIRES_AT.into(), ttl.clone()),
        (GSI2PK.into(), s(keys::order_lookup_pk(order_ref.mall, &number))),
        (GSI2SK.into(), s(order_ref.shop.as_str())),
    ]))
}

pub(super) fn order_from_item(item: &Item) -> Result<StoredOrder, StoreError> {
    let mut stored: StoredOrder = doc(item)?;
    stored.raw = decompress(bytes_attr(item, RAW)?)?;
    Ok(stored)
}

pub(super) fn entry_item(entry: &IndexEntry, ttl: &AttributeValue) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::key_pk(&entry.key))),
        (SK.into(), s(keys::entry_sk(entry))),
        (DOC.into(), s(to_json(entry)?)),
        (EXPIRES_AT.into(), ttl.clone()),
    ]))
}

/// A hold item; only unsettled holds carry `due` keys, so the sweep's index holds exactly what it
/// watches.
pub(super) fn hold_item(hold: &Hold, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let mut item = Item::from([
        (PK.into(), s(keys::hold_pk(&hold.id))),
        (SK.into(), s(keys::HOLD_SK)),
        (VERSION.into(), n(hold.version)),
        (STATE.into(), s(hold.state.as_str())),
        (DOC.into(), s(to_json(hold)?)),
        (EXPIRES_AT.into(), ttl.clone()),
        (GSI2PK.into(), s(keys::HOLDS_PK)),
        (GSI2SK.into(), s(keys::holds_sk(hold))),
    ]);
    if let Some(due) = hold.next_due() {
        item.insert(GSI1PK.into(), s(keys::DUE_HOLD));
        item.insert(GSI1SK.into(), s(keys::due_sk(due, &hold.id)));
    }
    Ok(item)
}

/// A notice item; only pending notices carry `due` keys.
pub(super) fn notice_item(notice: &Notice, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let mut item = Item::from([
        (PK.into(), s(keys::notice_pk(&notice.id))),
        (SK.into(), s(keys::NOTICE_SK)),
        (VERSION.into(), n(notice.version)),
        (DOC.into(), s(to_json(notice)?)),
        (EXPIRES_AT.into(), ttl.clone()),
    ]);
    if notice.state == NoticeState::Pending {
        item.insert(GSI1PK.into(), s(keys::DUE_NOTICE));
        item.insert(GSI1SK.into(), s(keys::due_sk(notice.next_attempt_at, &notice.id)));
    }
    Ok(item)
}

/// A mall action; in the `due` index while pending, like a notice.
pub(super) fn action_item(action: &MallAction, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let mut item = Item::from([
        (PK.into(), s(keys::action_pk(&action.id))),
        (SK.into(), s(keys::ACTION_SK)),
        (VERSION.into(), n(action.version)),
        (DOC.into(), s(to_json(action)?)),
        (EXPIRES_AT.into(), ttl.clone()),
    ]);
    if action.state == ActionState::Pending {
        item.insert(GSI1PK.into(), s(keys::DUE_ACTION));
        item.insert(GSI1SK.into(), s(keys::due_sk(action.next_attempt_at, &action.id)));
    }
    Ok(item)
}

/// A history item under the sort key `sk` ([`keys::history_sk`]); history has no TTL.
pub(super) fn history_item(entry: &HistoryEntry, sk: String) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::order_pk(&entry.order))),
        (SK.into(), s(sk)),
        (DOC.into(), s(to_json(entry)?)),
    ]))
}

/// A kept page, in its hold's partition: the HTML compressed in `raw` (a page of [`KeptPage::MAX_HTML_BYTES`]
/// at most fits an item even uncompressed), the rest in the doc.
pub(super) fn page_item(page: &KeptPage, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let mut meta = page.clone();
    let html = std::mem::take(&mut meta.html);
    Ok(Item::from([
        (PK.into(), s(keys::hold_pk(&page.hold))),
        (SK.into(), s(keys::page_sk(&page.shown.digest))),
        (DOC.into(), s(to_json(&meta)?)),
        (RAW.into(), AttributeValue::B(compress(html.as_bytes())?.into())),
        (EXPIRES_AT.into(), ttl.clone()),
    ]))
}

pub(super) fn page_from_item(item: &Item) -> Result<KeptPage, StoreError> {
    let mut page: KeptPage = doc(item)?;
    page.html = String::from_utf8(decompress(bytes_attr(item, RAW)?)?)
        .map_err(|e| corrupt(format!("a kept page is not UTF-8: {e}")))?;
    Ok(page)
}

/// A quarantined payload; its raw payload is taken out and kept compressed beside the doc.
pub(super) fn quarantine_item(mut quarantined: Quarantined, ttl: &AttributeValue) -> Result<Item, StoreError> {
    let raw = compress(&std::mem::take(&mut quarantined.raw))?;
    Ok(Item::from([
        (PK.into(), s(keys::QUARANTINE_PK)),
        (SK.into(), s(keys::quarantine_sk(&quarantined.id))),
        // Quarantined payloads carry no version; an existing one counts as version 0.
        (VERSION.into(), n(0)),
        (DOC.into(), s(to_json(&quarantined)?)),
        (RAW.into(), AttributeValue::B(raw.into())),
        (EXPIRES_AT.into(), ttl.clone()),
    ]))
}

pub(super) fn quarantined_from_item(item: &Item) -> Result<Quarantined, StoreError> {
    let mut quarantined: Quarantined = doc(item)?;
    quarantined.raw = decompress(bytes_attr(item, RAW)?)?;
    Ok(quarantined)
}

pub(super) fn delivery_item(delivery: &WebhookDelivery, ttl: &AttributeValue) -> Item {
    Item::from([
        (PK.into(), s(keys::delivery_pk(&delivery.id))),
        (SK.into(), s(keys::DELIVERY_SK)),
        (DIGEST.into(), s(delivery.digest.as_str())),
        (EXPIRES_AT.into(), ttl.clone()),
    ])
}

/// A poll cursor item: its version for the condition of the next move, the cursor as its doc, and no TTL
/// (a cursor that expired would send its poller back to its first look-back).
pub(super) fn cursor_item(cursor: &PollCursor) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::cursor_pk(cursor.mall, &cursor.shop))),
        (SK.into(), s(keys::CURSOR_SK)),
        (VERSION.into(), n(cursor.version)),
        (DOC.into(), s(to_json(cursor)?)),
    ]))
}

/// A mall shop's settings in the partition `SHOPS`: its version for the condition of the next save, the
/// settings as its doc, and no TTL (a shop's name and contacts, not a buyer's personal data; settings that
/// expired would put the shop back on the deployment's defaults unasked).
pub(super) fn shop_settings_item(settings: &ShopSettings) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::SHOPS_PK)),
        (SK.into(), s(keys::shop_settings_sk(settings.mall, &settings.shop))),
        (VERSION.into(), n(settings.version)),
        (DOC.into(), s(to_json(settings)?)),
    ]))
}

/// A blacklist entry in the partition `BLACKLIST`, with no TTL: it stays until the staff remove it.
pub(super) fn blacklist_item(entry: &BlacklistEntry) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::BLACKLIST_PK)),
        (SK.into(), s(keys::blacklist_sk(&entry.id))),
        (DOC.into(), s(to_json(entry)?)),
    ]))
}

/// A blacklist mark in its identity key's partition, where the ingest Query finds it with the key's
/// index entries and head. No TTL: it goes with its entry, never before.
pub(super) fn mark_item(mark: &BlacklistMark) -> Result<Item, StoreError> {
    Ok(Item::from([
        (PK.into(), s(keys::key_pk(&mark.key))),
        (SK.into(), s(keys::mark_sk(&mark.entry))),
        (DOC.into(), s(to_json(mark)?)),
    ]))
}

/// A used sign-in link, kept (TTL) until the link expires: after that it is refused as expired anyway.
pub(super) fn sign_in_item(used: &UsedSignIn) -> Item {
    Item::from([
        (PK.into(), s(keys::sign_in_pk(&used.id))),
        (SK.into(), s(keys::SIGN_IN_SK)),
        (EXPIRES_AT.into(), n(used.expires_at.as_second())),
    ])
}

/// The payload digest a delivery item was written with; None for one written without (older versions).
pub(super) fn delivery_digest(item: &Item) -> Result<Option<PayloadDigest>, StoreError> {
    match item.get(DIGEST) {
        None => Ok(None),
        Some(_) => {
            let hex = str_attr(item, DIGEST)?;
            PayloadDigest::parse(hex)
                .map(Some)
                .ok_or_else(|| corrupt(format!("a delivery item's {DIGEST} is not a SHA-256 digest")))
        }
    }
}

/// The domain type an item's `doc` holds.
pub(super) fn doc<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    from_json(str_attr(item, DOC)?)
}

// -------------------------------------------------------------------------------------------------
// Attributes

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn str_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        other => Err(corrupt(format!("attribute {name} is not a string: {other:?}"))),
    }
}

fn bytes_attr<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], StoreError> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Ok(value.as_ref()),
        other => Err(corrupt(format!(
            "attribute {name} is not binary: {:?}",
            other.map(|_| "another type")
        ))),
    }
}

fn number_attr(item: &Item, name: &str) -> Result<Option<i64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(Some)
            .map_err(|_| corrupt(format!("attribute {name} is not an integer: {value:?}"))),
        Some(other) => Err(corrupt(format!("attribute {name} is not a number: {other:?}"))),
    }
}

pub(super) fn version_attr(item: &Item) -> Result<u64, StoreError> {
    let version = number_attr(item, VERSION)?.ok_or_else(|| corrupt("an item has no version"))?;
    u64::try_from(version).map_err(|_| corrupt(format!("version {version} is negative")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("an item does not serialise: {e}")))
}

fn from_json<T: DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt(format!("an item does not read back: {e}")))
}

fn compress(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2 + 16), Compression::default());
    encoder
        .write_all(raw)
        .and_then(|()| encoder.finish())
        .map_err(|e| corrupt(format!("cannot compress a payload: {e}")))
}

fn decompress(blob: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut raw = Vec::with_capacity(blob.len() * 3);
    ZlibDecoder::new(blob)
        .read_to_end(&mut raw)
        .map_err(|e| corrupt(format!("a stored payload does not decompress: {e}")))?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_as_times_do() {
        let times: Vec<Timestamp> = [
            "0001-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2001-01-01T06:00:00Z",
            "2001-01-01T06:00:00.000000001Z",
            "2026-11-23T03:00:00.1Z",
            "2026-11-23T03:00:00.123456789Z",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .chain([Timestamp::MAX])
        .collect();
        for pair in times.windows(2) {
            assert!(time_key(pair[0]) < time_key(pair[1]), "{} vs {}", pair[0], pair[1]);
        }
        assert_eq!(time_key(times[4]), "2026-11-23T03:00:00.100000000Z");
        assert_eq!(time_key(Timestamp::MIN), "0000-01-01T00:00:00.000000000Z");
        assert!(time_key(Timestamp::MIN) <= time_key(times[0]));
    }

    #[test]
    fn payloads_round_trip_through_compression() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(decompress(&compress(&raw).unwrap()).unwrap(), raw);
        assert_eq!(decompress(&compress(&[]).unwrap()).unwrap(), Vec::<u8>::new());
        assert!(matches!(decompress(b"not zlib"), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn expired_items_are_dropped_and_malformed_ttls_are_corrupt() {
        let now: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let at = |secs: i64| Item::from([(EXPIRES_AT.to_owned(), n(secs))]);
        assert!(live(at(now.as_second() + 1), now).unwrap().is_some());
        assert!(live(at(now.as_second()), now).unwrap().is_none());
        assert!(live(Item::new(), now).unwrap().is_some());
        let bad = Item::from([(EXPIRES_AT.to_owned(), s("tomorrow"))]);
        assert!(matches!(live(bad, now), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_cursor_item_carries_its_version_and_no_ttl() {
        use mallguard_domain::ids::{Mall, ShopId};
        let cursor = PollCursor {
            mall: Mall::Rakuten,
            shop: ShopId::parse("tanaka-shop").unwrap(),
            position: "2026-11-23T12:00:00+09:00".into(),
            version: 3,
            updated_at: "2026-11-23T03:00:00.5Z".parse().unwrap(),
        };
        let item = cursor_item(&cursor).unwrap();
        assert_eq!(str_attr(&item, PK).unwrap(), "CURSOR#rakuten#tanaka-shop");
        assert_eq!(str_attr(&item, SK).unwrap(), "CURSOR");
        assert_eq!(version_attr(&item).unwrap(), 3);
        assert!(!item.contains_key(EXPIRES_AT), "a cursor never expires");
        assert_eq!(doc::<PollCursor>(&item).unwrap(), cursor);
    }

    #[test]
    fn a_shop_settings_item_carries_its_version_and_no_ttl() {
        use mallguard_domain::ids::{Mall, ShopId};
        let mut settings = ShopSettings::new(
            Mall::Rakuten,
            ShopId::parse("tanaka-rakuten").unwrap(),
            "sato@shop.example",
            "2026-11-29T01:02:03.000000004Z".parse().unwrap(),
        );
        settings.set("name", "田中商店 楽天市場店").unwrap();
        settings.set("quiet_hours", "22:00-07:00").unwrap();
        settings.version = 4;
        let item = shop_settings_item(&settings).unwrap();
        assert_eq!(str_attr(&item, PK).unwrap(), "SHOPS");
        assert_eq!(str_attr(&item, SK).unwrap(), "rakuten#tanaka-rakuten");
        assert_eq!(version_attr(&item).unwrap(), 4);
        assert!(!item.contains_key(EXPIRES_AT), "settings never expire");
        assert!(!item.contains_key(GSI1PK) && !item.contains_key(GSI2PK), "in no index");
        assert_eq!(doc::<ShopSettings>(&item).unwrap(), settings);
    }

    #[test]
    fn blacklist_items_never_expire_and_a_used_link_expires_with_the_link() {
        use mallguard_domain::blacklist::BlacklistId;
        use mallguard_domain::identity::IdentityKey;
        use mallguard_domain::ids::{Mall, OrderId, OrderRef, ShopId};
        let order = OrderRef::new(
            Mall::Shopify,
            ShopId::parse("tanaka-shop").unwrap(),
            OrderId::parse("5678901234567890123").unwrap(),
        );
        let key = IdentityKey::parse(&format!("e:{}", "a".repeat(22))).unwrap();
        let entry = BlacklistEntry {
            id: BlacklistId::for_order(&order),
            order,
            number: Some("#1001".into()),
            keys: vec![key.clone()],
            reason: "受取拒否".into(),
            added_by: "staff@example.jp".into(),
            added_at: "2026-11-23T03:00:00.000000001Z".parse().unwrap(),
        };
        let item = blacklist_item(&entry).unwrap();
        assert_eq!(str_attr(&item, PK).unwrap(), "BLACKLIST");
        assert_eq!(str_attr(&item, SK).unwrap(), format!("B#{}", entry.id));
        assert!(
            !item.contains_key(EXPIRES_AT),
            "an entry stays until the staff remove it"
        );
        assert_eq!(doc::<BlacklistEntry>(&item).unwrap(), entry);

        let mark = entry.marks().next().unwrap();
        let item = mark_item(&mark).unwrap();
        assert_eq!(str_attr(&item, PK).unwrap(), keys::key_pk(&key));
        assert_eq!(str_attr(&item, SK).unwrap(), format!("~BLACKLIST#{}", entry.id));
        assert!(
            !item.contains_key(EXPIRES_AT),
            "a mark goes with its entry, never before"
        );
        assert!(!item.contains_key(VERSION), "a mark is not a head");
        assert_eq!(doc::<BlacklistMark>(&item).unwrap(), mark);

        let expires_at: Timestamp = "2026-11-23T03:15:00.5Z".parse().unwrap();
        let item = sign_in_item(&UsedSignIn {
            id: "n0nce".into(),
            expires_at,
        });
        assert_eq!(str_attr(&item, PK).unwrap(), "SIGNIN#n0nce");
        assert_eq!(item.get(EXPIRES_AT), Some(&n(expires_at.as_second())));
    }

    #[test]
    fn expiry_is_the_write_time_plus_the_retention_in_epoch_seconds() {
        let now: Timestamp = "2026-11-23T03:00:00.9Z".parse().unwrap();
        let ttl = expires_at(now, SignedDuration::from_hours(24));
        assert_eq!(ttl, n(now.as_second() + 86_400));
        let item = Item::from([(EXPIRES_AT.to_owned(), ttl)]);
        let day_later = now.checked_add(SignedDuration::from_hours(24)).unwrap();
        assert!(live(item.clone(), now).unwrap().is_some());
        assert!(live(item, day_later).unwrap().is_none());
    }
}
