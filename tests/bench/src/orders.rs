//! The orders the load posts: the generic sample (`events/generic/order.json`) with its ids, buyer and
//! dates replaced, so each one is what the bench says it is (new and distinct, or the duplicate of one).

use std::path::Path;

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// One order ready to sign: its delivery id (`webhook-id`) and the exact body.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub body: Vec<u8>,
    /// The second order of a pair: the server holds it.
    pub duplicate: bool,
}

pub struct Orders {
    template: Value,
    /// Days from the order to its requested delivery date.
    requested_in_days: i64,
}

impl Orders {
    pub fn load(root: &Path) -> Result<Self, String> {
        let path = root.join("events/generic/order.json");
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let template = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self {
            template,
            requested_in_days: 7,
        })
    }

    /// The same orders asking for delivery `days` after they were placed: a date already past makes every
    /// hold's deadline the shortest answer time (its shipping cut-off is gone), which is how the expiry
    /// backlog is made due within minutes.
    pub fn requested_in(mut self, days: i64) -> Self {
        self.requested_in_days = days;
        self
    }

    /// Order `n` of the run `tag`, bought by buyer `buyer` at `placed_at`. Orders of different buyers share
    /// no identity key (email, phone, address with the name at it), so none is a duplicate of another.
    pub fn order(&self, tag: &str, n: usize, buyer: usize, placed_at: Timestamp) -> Order {
        let mut o = self.template.clone();
        let order_id = format!("BENCH-{tag}-{n:07}");
        let name = format!("Bench Buyer{buyer:07}");
        // Distinct digits per buyer: the phone key is the normalised number.
        let phone = format!("090-{:04}-{:04}", (buyer / 10_000) % 10_000, buyer % 10_000);
        let jst = TimeZone::fixed(Offset::constant(9));
        let zoned = placed_at.to_zoned(jst);
        // By default a week ahead: its shipping cut-off never pulls a deadline in.
        let requested = zoned
            .date()
            .checked_add(jiff::Span::new().days(self.requested_in_days))
            .expect("a date in range");
        o["order_id"] = order_id.clone().into();
        o["placed_at"] = zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string().into();
        o["buyer"]["name"] = name.clone().into();
        o["buyer"]["kana"] = Value::Null;
        o["buyer"]["email"] = format!("bench.{buyer}@example.com").into();
        o["buyer"]["phone"] = phone.clone().into();
        o["ship_to"]["name"] = name.into();
        o["ship_to"]["phone"] = phone.into();
        o["delivery"]["requested_date"] = requested.to_string().into();
        Order {
            id: format!("msg_{order_id}"),
            body: serde_json::to_vec(&o).expect("JSON always serialises"),
            duplicate: false,
        }
    }

    /// `count` new orders of distinct buyers, placed over the last few minutes.
    pub fn distinct(&self, tag: &str, count: usize) -> Vec<Order> {
        let now = Timestamp::now();
        (0..count)
            .map(|n| self.order(tag, n, n, ago(now, 10, n, count)))
            .collect()
    }

    /// `count` orders, half of them duplicates: in every block of `block` orders, the first half are new
    /// orders and the second half the same buyers buying the same item again 5 minutes later, so each
    /// pair's first order is in before its second is posted (one block is posted at a time).
    pub fn with_duplicates(&self, tag: &str, count: usize, block: usize) -> Vec<Order> {
        let now = Timestamp::now();
        let half_block = (block / 2).max(1);
        let mut out = Vec::with_capacity(count);
        let mut buyer = 0;
        while out.len() < count {
            let pairs = half_block.min((count - out.len()).div_ceil(2));
            let first = buyer;
            for b in first..first + pairs {
                out.push(self.order(tag, out.len(), b, first_placed(now, b, count)));
            }
            for b in first..first + pairs {
                if out.len() < count {
                    let placed = first_placed(now, b, count) + SignedDuration::from_mins(5);
                    let mut second = self.order(tag, out.len(), b, placed);
                    second.duplicate = true;
                    out.push(second);
                }
            }
            buyer += pairs;
        }
        out
    }
}

/// When the first order of buyer `b` was placed: at least 6 minutes ago, so its duplicate 5 minutes
/// later is still in the past.
fn first_placed(now: Timestamp, b: usize, count: usize) -> Timestamp {
    ago(now, 20, b, count) - SignedDuration::from_mins(6)
}

/// A time in the last `minutes` minutes, order `n` of `count` later than order `n - 1`.
fn ago(now: Timestamp, minutes: i64, n: usize, count: usize) -> Timestamp {
    let span_ms = minutes * 60_000;
    let step = span_ms / i64::try_from(count.max(1)).unwrap_or(i64::MAX).max(1);
    now - SignedDuration::from_millis(span_ms) + SignedDuration::from_millis(step * i64::try_from(n).unwrap_or(0))
}
