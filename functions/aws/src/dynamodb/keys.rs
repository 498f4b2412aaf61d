//! The keys of the item catalogue ([module docs](super)): one function per key shape, so a read builds
//! exactly the key its write did. Times in keys are [`time_key`] strings.

use std::fmt::Display;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use mallguard_domain::action::ActionId;
use mallguard_domain::blacklist::BlacklistId;
use mallguard_domain::hold::Hold;
use mallguard_domain::identity::IdentityKey;
use mallguard_domain::ids::{HoldId, Mall, OrderId, OrderRef, ShopId};
use mallguard_domain::matching::IndexEntry;
use mallguard_domain::notice::NoticeId;

use super::codec::time_key;

// Index names, as in infra/template.yaml.
pub(super) const DUE_INDEX: &str = "due";
pub(super) const LOOKUP_INDEX: &str = "lookup";

/// The key schemas a Query can use.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeySchema {
    Table,
    /// The sparse `due` index: unsettled holds and pending notices by time.
    Due,
    /// The `lookup` index: holds by creation time, orders by mall order id and by the number buyers know.
    Lookup,
}

// Fixed keys.
pub(super) const ORDER_SK: &str = "ORDER";
/// The sort key of an order's number item, in the order's partition.
pub(super) const NUMBER_SK: &str = "NUMBER";
pub(super) const HEAD_SK: &str = "~HEAD";
pub(super) const HOLD_SK: &str = "HOLD";
pub(super) const NOTICE_SK: &str = "NOTICE";
pub(super) const DELIVERY_SK: &str = "DELIVERY";
pub(super) const CURSOR_SK: &str = "CURSOR";
pub(super) const ACTION_SK: &str = "ACTION";
pub(super) const QUARANTINE_PK: &str = "QUARANTINE";
pub(super) const DUE_HOLD: &str = "DUE#HOLD";
pub(super) const DUE_NOTICE: &str = "DUE#NOTICE";
pub(super) const DUE_ACTION: &str = "DUE#ACTION";
pub(super) const HOLDS_PK: &str = "HOLDS";
/// The partition of the blacklist's entries.
pub(super) const BLACKLIST_PK: &str = "BLACKLIST";
/// The sort key of a used sign-in link.
pub(super) const SIGN_IN_SK: &str = "SIGNIN";
/// The partition of every mall shop's settings, so one Query lists them all.
pub(super) const SHOPS_PK: &str = "SHOPS";
pub(super) const HISTORY_PREFIX: &str = "H#";
/// A key no item ever has: the cold start's warm-up reads it.
pub(super) const WARM_UP: &str = "WARMUP";
const ORDER_PREFIX: &str = "ORDER#";
const ENTRY_PREFIX: &str = "AT#";
/// The prefix of a blacklist entry's sort key in the `BLACKLIST` partition.
pub(super) const BLACKLIST_PREFIX: &str = "B#";
/// The prefix of a blacklist mark's sort key in an identity key's partition: `~B` sorts after every
/// `AT#…` and before `~HEAD`, so the ingest Query's range holds the marks too.
const MARK_PREFIX: &str = "~BLACKLIST#";

/// `ORDER#{mall}/{shop}/{order id}`: an order's partition (the order and its history).
pub(super) fn order_pk(order: &OrderRef) -> String {
    format!("{ORDER_PREFIX}{}", order.key())
}

/// The order key (`{mall}/{shop}/{order id}`) in an order's pk, if it is one.
pub(super) fn order_key_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(ORDER_PREFIX)
}

/// `MALLORDER#{mall}#{order id}`: the `lookup` partition of the orders with one mall order id, and of the
/// number items of the orders their buyers know by that number.
pub(super) fn order_lookup_pk(mall: Mall, order_id: &OrderId) -> String {
    format!("MALLORDER#{mall}#{order_id}")
}

/// `KEY#{identity key}`: the partition of one identity key's index entries and head.
pub(super) fn key_pk(key: &IdentityKey) -> String {
    format!("KEY#{key}")
}

/// `AT#{placed_at}#{order key}`: an index entry.
pub(super) fn entry_sk(entry: &IndexEntry) -> String {
    format!("{}#{}", entries_from(entry.placed_at), entry.order.key())
}

/// `AT#{from}`: where the entries placed at or after `from` start.
pub(super) fn entries_from(from: Timestamp) -> String {
    format!("{ENTRY_PREFIX}{}", time_key(from))
}

/// Whether `sk`, in an identity key's partition, is an index entry's.
pub(super) fn is_entry_sk(sk: &str) -> bool {
    sk.starts_with(ENTRY_PREFIX)
}

/// `~BLACKLIST#{entry id}`: the mark of one blacklist entry in an identity key's partition (`KEY#…`).
pub(super) fn mark_sk(entry: &BlacklistId) -> String {
    format!("{MARK_PREFIX}{entry}")
}

/// Whether `sk`, in an identity key's partition, is a blacklist mark's.
pub(super) fn is_mark_sk(sk: &str) -> bool {
    sk.starts_with(MARK_PREFIX)
}

/// `B#{entry id}`: a blacklist entry in the partition `BLACKLIST`.
pub(super) fn blacklist_sk(id: &BlacklistId) -> String {
    format!("{BLACKLIST_PREFIX}{id}")
}

/// `SIGNIN#{nonce}`: a staff sign-in link that was used.
pub(super) fn sign_in_pk(id: &str) -> String {
    format!("SIGNIN#{id}")
}

/// `HOLD#{hold id}`.
pub(super) fn hold_pk(id: &HoldId) -> String {
    format!("HOLD#{id}")
}

/// The sort keys of a hold's kept pages, in the hold's partition.
pub(super) const PAGE_PREFIX: &str = "PAGE#";

/// The sort key of the page of a hold shown with this digest.
pub(super) fn page_sk(digest: &str) -> String {
    format!("{PAGE_PREFIX}{digest}")
}

/// `{created_at}#{hold id}`: a hold in the `lookup` partition `HOLDS`, so a Query lists them by age.
pub(super) fn holds_sk(hold: &Hold) -> String {
    due_sk(hold.created_at, &hold.id)
}

/// `NOTICE#{notice id}`.
pub(super) fn notice_pk(id: &NoticeId) -> String {
    format!("NOTICE#{id}")
}

/// `ACTION#{action id}`.
pub(super) fn action_pk(id: &ActionId) -> String {
    format!("ACTION#{id}")
}

/// `{due time}#{id}`: a hold, notice or mall action in its `due` partition.
pub(super) fn due_sk(at: Timestamp, id: &impl Display) -> String {
    format!("{}#{id}", time_key(at))
}

/// The greatest `due` sort key due at `now`: `~` sorts after every character of an id, so items due
/// exactly at `now` are included.
pub(super) fn due_until(now: Timestamp) -> String {
    format!("{}#~", time_key(now))
}

/// `H#{commit instant}#{writer}#{index}`: the `index`th history entry of a commit.
pub(super) fn history_sk(instant: Timestamp, writer: u64, index: usize) -> String {
    format!("{HISTORY_PREFIX}{}#{writer:016x}#{index:04}", time_key(instant))
}

/// `Q#{id}`: a quarantined payload in the partition `QUARANTINE`.
pub(super) fn quarantine_sk(id: &str) -> String {
    format!("Q#{id}")
}

/// `DELIVERY#{delivery id}`.
pub(super) fn delivery_pk(delivery: &str) -> String {
    format!("DELIVERY#{delivery}")
}

/// `CURSOR#{mall}#{shop}`: the poll cursor of one shop on one mall.
pub(super) fn cursor_pk(mall: Mall, shop: &ShopId) -> String {
    format!("CURSOR#{mall}#{shop}")
}

/// `{mall}#{shop}`: one mall shop's settings in the partition `SHOPS`.
pub(super) fn shop_settings_sk(mall: Mall, shop: &ShopId) -> String {
    format!("{mall}#{shop}")
}

/// The instant of a commit whose clock reads `now`: `now`, unless an earlier commit of this process
/// took that instant or a later one; then the nanosecond after it. So two commits in the same
/// nanosecond, a clock step back, or a test clock standing still still keep their history in commit
/// order.
pub(super) fn commit_instant(now: Timestamp) -> Timestamp {
    static LAST: AtomicI64 = AtomicI64::new(i64::MIN);
    let now = i64::try_from(now.as_nanosecond()).unwrap_or(i64::MAX);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Timestamp::from_nanosecond(i128::from(next)).unwrap_or(Timestamp::MAX),
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use mallguard_domain::ports::{Clock, SystemClock};

    use super::*;

    #[test]
    fn a_due_bound_includes_items_due_exactly_then_and_no_later_ones() {
        let now: Timestamp = "2001-01-01T06:00:00Z".parse().unwrap();
        let bound = due_until(now);
        let id = "h0123456789abcdef0123";
        assert!(due_sk(now, &id) <= bound);
        let later = now.checked_add(SignedDuration::from_nanos(1)).unwrap();
        assert!(due_sk(later, &id) > bound);
        assert!(due_sk(now, &"q1.staff_quarantine") <= bound);
    }

    #[test]
    fn the_head_sorts_after_every_index_entry_and_blacklist_marks_between() {
        let latest = format!("{}#own/shop/id", entries_from(Timestamp::MAX));
        assert!(latest.as_str() < HEAD_SK);
        let earliest = entries_from(Timestamp::MIN);
        for id in ["b00000000000000000000", "bffffffffffffffffffff"] {
            let mark = mark_sk(&BlacklistId::parse(id).unwrap());
            assert!(mark > latest && mark.as_str() < HEAD_SK, "{mark}");
            assert!(mark > earliest);
            assert!(is_mark_sk(&mark) && !is_entry_sk(&mark) && mark != HEAD_SK);
        }
        assert!(is_entry_sk(&latest) && !is_mark_sk(&latest));
        assert!(!is_entry_sk(HEAD_SK) && !is_mark_sk(HEAD_SK));
    }

    #[test]
    fn order_keys_read_back_from_their_pk() {
        let pk = "ORDER#own/tanaka-shop/TS-1";
        assert_eq!(order_key_of(pk), Some("own/tanaka-shop/TS-1"));
        assert_eq!(order_key_of("HOLD#h1"), None);
    }

    #[test]
    fn every_shop_has_a_sort_key_of_its_own_in_one_partition() {
        let sk = |mall, shop| shop_settings_sk(mall, &ShopId::parse(shop).unwrap());
        assert_eq!(sk(Mall::Yahoo, "tanaka-yahoo"), "yahoo#tanaka-yahoo");
        // Shop ids hold no `#`, so the mall and the shop read back unambiguously.
        assert_ne!(sk(Mall::Own, "a"), sk(Mall::Amazon, "a"));
        assert!(ShopId::parse("own#a").is_err());
    }

    #[test]
    fn commit_instants_strictly_increase() {
        let mut last = commit_instant(SystemClock.now());
        for _ in 0..10_000 {
            let next = commit_instant(SystemClock.now());
            assert!(next > last);
            last = next;
        }
    }

    #[test]
    fn a_commit_instant_is_the_clocks_time_unless_an_earlier_commit_took_it() {
        // A day ahead of every other test of this process, so no other commit took this instant.
        let ahead = SystemClock.now().checked_add(SignedDuration::from_hours(24)).unwrap();
        assert_eq!(commit_instant(ahead), ahead, "the base time is the clock's");
        // A clock standing still, or one behind, still gets instants in commit order.
        let next = commit_instant(ahead);
        assert!(next > ahead);
        let behind = ahead.checked_sub(SignedDuration::from_hours(1)).unwrap();
        assert!(commit_instant(behind) > next);
    }
}
