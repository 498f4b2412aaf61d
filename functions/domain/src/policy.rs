//! The shop's policy: matching window, answer deadline, reminders, shipping cut-off.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::order::{EmailAddress, Order};

/// Japan Standard Time: every time a buyer or the staff reads is in JST. Japan keeps no daylight saving.
pub fn jst() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(9))
}

/// Formats an instant for people, in JST: `2026年11月23日 12:05` or `2026-11-23 12:05 JST`.
pub fn format_jst(at: Timestamp, lang: Language) -> String {
    let local = at.to_zoned(jst());
    match lang {
        Language::Ja => local.strftime("%Y年%-m月%-d日 %H:%M").to_string(),
        Language::En => local.strftime("%Y-%m-%d %H:%M JST").to_string(),
    }
}

/// Formats an instant to the second, in JST, as the evidence shows it: `2026年11月23日 12:05:00` or
/// `2026-11-23 12:05:00 JST`.
pub fn format_jst_seconds(at: Timestamp, lang: Language) -> String {
    let local = at.to_zoned(jst());
    match lang {
        Language::Ja => local.strftime("%Y年%-m月%-d日 %H:%M:%S").to_string(),
        Language::En => local.strftime("%Y-%m-%d %H:%M:%S JST").to_string(),
    }
}

/// The numbers a shop can tune. Defaults are what most shops want.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// How far apart two orders may be placed and still be suspected duplicates.
    pub window: SignedDuration,
    /// How long the buyer has to answer after the notice.
    pub answer_within: SignedDuration,
    /// The shortest answer time, even when the shipping cut-off is nearer or past.
    pub minimum_answer_time: SignedDuration,
    /// Send a reminder at half time.
    pub remind: bool,
    /// Days the carrier needs: ship by (requested delivery date − transit days).
    pub transit_days: i64,
    /// The shop's daily shipping cut-off, JST.
    pub shipping_cutoff: Time,
    /// Answer this much before the cut-off so the staff can still pack.
    pub cutoff_margin: SignedDuration,
    /// Amazon: cancel an unanswered hold automatically (through the SP-API). Off by default: sellers may not
    /// phone Amazon buyers and an Amazon order is cancelled only on the buyer's word, so at the deadline the
    /// staff are given the customer-service case text and the hold waits for them.
    pub amazon_auto_cancel: bool,
    /// With `amazon_auto_cancel`: note the customer-service fallback at the first deadline and cancel only
    /// at a second one.
    pub amazon_fallback_first: bool,
    /// With `amazon_fallback_first`: the time Amazon's customer service gets before the order is cancelled.
    pub amazon_fallback_within: SignedDuration,
    /// How long the links in a notice stay usable after the deadline (to show the outcome).
    pub link_grace: SignedDuration,
    /// No notice to a mobile carrier's address in these hours (None: any time). An urgent hold (a requested
    /// delivery date's cut-off near) is notified at once all the same.
    pub quiet_hours: Option<QuietHours>,
    /// 同梱: whether one buyer's open orders to one address ship together, and of which malls.
    pub bundling: crate::bundle::Bundling,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            window: SignedDuration::from_hours(48),
            answer_within: SignedDuration::from_hours(24),
            minimum_answer_time: SignedDuration::from_hours(1),
            remind: true,
            transit_days: 1,
            shipping_cutoff: Time::constant(15, 0, 0, 0),
            cutoff_margin: SignedDuration::from_hours(2),
            amazon_auto_cancel: false,
            amazon_fallback_first: false,
            amazon_fallback_within: SignedDuration::from_hours(48),
            link_grace: SignedDuration::from_hours(24 * 14),
            quiet_hours: Some(QuietHours {
                from: Time::constant(21, 0, 0, 0),
                until: Time::constant(8, 0, 0, 0),
            }),
            bundling: crate::bundle::Bundling::Off,
        }
    }
}

/// When a hold must be answered, and whether it is urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: Timestamp,
    /// The shipping cut-off of a requested delivery date (or express shipping) is near: staff should act now.
    pub urgent: bool,
    pub remind_at: Option<Timestamp>,
    /// When the buyer's notice goes out, if not now: the quiet hours of a carrier address (the deadline and
    /// the reminder moved by as much).
    pub send_at: Option<Timestamp>,
}

/// Hours of the night (JST) when no notice is sent to a mobile carrier's address: it goes out when they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub from: Time,
    pub until: Time,
}

impl QuietHours {
    /// When the quiet hours that hold `at` end; None when `at` is not in them.
    pub fn end_of(&self, at: Timestamp) -> Option<Timestamp> {
        let local = at.to_zoned(jst());
        let time = local.time();
        let quiet = if self.from <= self.until {
            time >= self.from && time < self.until
        } else {
            time >= self.from || time < self.until
        };
        if !quiet {
            return None;
        }
        let day = if time < self.until {
            local.date()
        } else {
            local.date().tomorrow().ok()?
        };
        day.to_datetime(self.until).to_zoned(jst()).ok().map(|z| z.timestamp())
    }
}

impl Policy {
    /// The latest moment an answer still lets the parcel leave in time for `date`.
    pub fn shipping_cutoff_for(&self, date: Date) -> Option<Timestamp> {
        let ship_day = date.checked_sub(jiff::Span::new().days(self.transit_days)).ok()?;
        let cutoff = ship_day
            .to_datetime(self.shipping_cutoff)
            .to_zoned(jst())
            .ok()?
            .timestamp();
        cutoff.checked_sub(self.cutoff_margin).ok()
    }

    /// The deadline of a hold noticed at `now` (24 h by default, never later than the shipping cut-off).
    ///
    /// A carrier address at night: the notice waits for the end of the quiet hours, and the buyer's answer
    /// time starts then. Never past the cut-off of a requested delivery date: when the morning leaves less
    /// than the full answer time before it, the deadline is the cut-off (urgent), and when it leaves less than
    /// the minimum answer time, the notice goes out now, as for any urgent hold.
    pub fn deadline(&self, order: &Order, now: Timestamp) -> Deadline {
        let cutoff = order.delivery.requested_date.and_then(|d| self.shipping_cutoff_for(d));
        let (at, urgent) = self.answer_by(order, cutoff, now);
        let carrier = order.buyer.email.as_ref().is_some_and(|e| e.is_carrier());
        let morning = match self.quiet_hours {
            Some(quiet) if carrier && !urgent => quiet.end_of(now),
            _ => None,
        };
        let held_back = morning.and_then(|morning| {
            let (moved, urgent) = self.answer_by(order, cutoff, morning);
            cutoff
                .is_none_or(|cutoff| moved <= cutoff)
                .then_some((morning, moved, urgent))
        });
        let (start, at, urgent, send_at) = match (morning, held_back) {
            (_, Some((morning, moved, urgent))) => (morning, moved, urgent, Some(morning)),
            // The morning is too near the cut-off: the notice goes now, at night, and the hold is urgent, so
            // the staff see it first and its retries and reminder do not wait for the morning either.
            (Some(_), None) => (now, at, true, None),
            (None, None) => (now, at, urgent, None),
        };
        let remind_at = self.remind.then(|| {
            let half = at.duration_since(start) / 2;
            start.saturating_add(half).unwrap_or(start)
        });
        // A reminder less than an hour before the deadline only adds noise.
        let remind_at = remind_at.filter(|r| at.duration_since(*r) >= SignedDuration::from_hours(1));
        Deadline {
            at,
            urgent,
            remind_at,
            send_at,
        }
    }

    /// When a buyer asked at `start` must answer, and whether that is urgent: the answer time, or the
    /// cut-off when it is nearer (but never less than the minimum answer time).
    fn answer_by(&self, order: &Order, cutoff: Option<Timestamp>, start: Timestamp) -> (Timestamp, bool) {
        let normal = start.saturating_add(self.answer_within).unwrap_or(start);
        let floor = start.saturating_add(self.minimum_answer_time).unwrap_or(start);
        match cutoff {
            Some(cutoff) if cutoff < normal => (cutoff.max(floor), true),
            _ => (normal, order.delivery.express),
        }
    }
}

/// What the buyer and the staff read about the shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopProfile {
    /// The shop's name as buyers know it.
    pub name: String,
    /// Where buyers reach the shop (shown on every page and mail).
    pub contact_email: EmailAddress,
    pub contact_phone: Option<String>,
    /// Where staff alerts go.
    pub staff_email: EmailAddress,
    /// The public base URL of the respond function, without a trailing slash.
    pub public_url: String,
    /// The language of buyer mails and pages.
    pub language: Language,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::order;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_deadline_is_a_day_after_the_notice_with_a_reminder_at_half_time() {
        let now = at("2026-11-23T03:00:00Z");
        let d = Policy::default().deadline(&order("1"), now);
        assert_eq!(d.at, at("2026-11-24T03:00:00Z"));
        assert_eq!(d.remind_at, Some(at("2026-11-23T15:00:00Z")));
        assert!(!d.urgent);
    }

    #[test]
    fn a_requested_delivery_date_pulls_the_deadline_before_the_shipping_cutoff() {
        let now = at("2026-11-23T01:00:00Z"); // 10:00 JST
        let mut o = order("1");
        o.delivery.requested_date = Some(Date::constant(2026, 11, 24));
        let d = Policy::default().deadline(&o, now);
        // Ship on the 23rd by 15:00 JST, answer two hours before: 13:00 JST = 04:00 UTC.
        assert_eq!(d.at, at("2026-11-23T04:00:00Z"));
        assert!(d.urgent);
        assert_eq!(d.remind_at, Some(at("2026-11-23T02:30:00Z")));
    }

    #[test]
    fn a_past_cutoff_still_leaves_the_minimum_answer_time_and_is_urgent() {
        let now = at("2026-11-23T09:00:00Z"); // 18:00 JST, past the cut-off
        let mut o = order("1");
        o.delivery.requested_date = Some(Date::constant(2026, 11, 24));
        let d = Policy::default().deadline(&o, now);
        assert_eq!(d.at, at("2026-11-23T10:00:00Z"));
        assert!(d.urgent);
        assert_eq!(d.remind_at, None);
    }

    #[test]
    fn express_shipping_is_urgent_and_a_far_delivery_date_is_not() {
        let now = at("2026-11-23T01:00:00Z");
        let mut o = order("1");
        o.delivery.express = true;
        assert!(Policy::default().deadline(&o, now).urgent);
        o.delivery.express = false;
        o.delivery.requested_date = Some(Date::constant(2026, 12, 10));
        let d = Policy::default().deadline(&o, now);
        assert!(!d.urgent);
        assert_eq!(d.at, at("2026-11-24T01:00:00Z"));
    }

    #[test]
    fn times_are_shown_in_jst() {
        assert_eq!(
            format_jst(at("2026-11-23T03:05:00Z"), Language::Ja),
            "2026年11月23日 12:05"
        );
        assert_eq!(
            format_jst(at("2026-11-23T15:05:00Z"), Language::En),
            "2026-11-24 00:05 JST"
        );
    }

    #[test]
    fn quiet_hours_end_at_eight_whether_it_is_before_or_after_midnight() {
        let quiet = Policy::default().quiet_hours.unwrap();
        // 23:00 JST → 08:00 the next day; 02:00 JST → 08:00 the same day; 12:00 JST → not quiet.
        assert_eq!(
            quiet.end_of(at("2026-11-23T14:00:00Z")),
            Some(at("2026-11-23T23:00:00Z"))
        );
        assert_eq!(
            quiet.end_of(at("2026-11-23T17:00:00Z")),
            Some(at("2026-11-23T23:00:00Z"))
        );
        assert_eq!(quiet.end_of(at("2026-11-23T03:00:00Z")), None);
        assert_eq!(
            quiet.end_of(at("2026-11-23T12:00:00Z")),
            Some(at("2026-11-23T23:00:00Z")),
            "21:00 sharp"
        );
        assert_eq!(quiet.end_of(at("2026-11-23T23:00:00Z")), None, "08:00 sharp");
    }

    #[test]
    fn an_urgent_hold_is_notified_at_night_all_the_same() {
        use crate::order::EmailAddress;
        let policy = Policy::default();
        let mut urgent = order("u1");
        urgent.buyer.email = Some(EmailAddress::parse("a@docomo.ne.jp").unwrap());
        urgent.delivery.express = true;
        let night = at("2026-11-23T14:00:00Z");
        assert_eq!(policy.deadline(&urgent, night).send_at, None);
        urgent.delivery.express = false;
        assert_eq!(
            policy.deadline(&urgent, night).send_at,
            Some(at("2026-11-23T23:00:00Z"))
        );
    }

    /// A carrier address ordering at 21:00 JST for delivery on the 25th, at a shop whose daily cut-off is
    /// 23:30 JST: the cut-off to answer by is 21:30 JST on the 24th, just past 24 hours away.
    fn carrier_order_with_a_cutoff_just_past_a_day() -> (Policy, Order, Timestamp, Timestamp) {
        use crate::order::EmailAddress;
        let policy = Policy {
            shipping_cutoff: Time::constant(23, 30, 0, 0),
            ..Policy::default()
        };
        let mut o = order("q1");
        o.buyer.email = Some(EmailAddress::parse("a@docomo.ne.jp").unwrap());
        o.delivery.requested_date = Some(Date::constant(2026, 11, 25));
        let cutoff = policy.shipping_cutoff_for(Date::constant(2026, 11, 25)).unwrap();
        assert_eq!(cutoff, at("2026-11-24T12:30:00Z"));
        (policy, o, at("2026-11-23T12:00:00Z"), cutoff)
    }

    #[test]
    fn a_notice_held_back_for_the_night_never_gets_a_deadline_past_the_cutoff() {
        let (policy, o, night, cutoff) = carrier_order_with_a_cutoff_just_past_a_day();
        let at_once = Policy {
            quiet_hours: None,
            ..policy.clone()
        }
        .deadline(&o, night);
        assert!(!at_once.urgent, "a full day fits before the cut-off");
        let d = policy.deadline(&o, night);
        assert_eq!(d.send_at, Some(at("2026-11-23T23:00:00Z")), "08:00 JST");
        assert_eq!(d.at, cutoff, "not 08:00 the day after");
        assert!(d.urgent, "the cut-off is what bounds it now");
        assert!(d.remind_at.is_some_and(|r| r > d.send_at.unwrap() && r < d.at));
    }

    #[test]
    fn a_notice_whose_morning_would_leave_too_little_time_before_the_cutoff_goes_out_at_once() {
        let (mut policy, o, night, cutoff) = carrier_order_with_a_cutoff_just_past_a_day();
        policy.minimum_answer_time = SignedDuration::from_hours(14);
        let d = policy.deadline(&o, night);
        assert_eq!(d.send_at, None);
        assert_eq!(d.at, at("2026-11-24T12:00:00Z"));
        assert!(d.at <= cutoff);
        assert!(d.urgent, "sent at night as an urgent hold, and ranked as one");
    }
}
