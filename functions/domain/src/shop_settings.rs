//! Settings per shop (ショップ別設定): what one mall shop changes from the deployment's defaults. A company's
//! Rakuten and Yahoo! shops often carry different names and contacts, and each may want its own answer
//! time or cut-off. Kept in the store, one record per mall shop, read by every function and cached while
//! it is warm; edited in the console and with `mallguard shop set`.

use std::fmt;

use jiff::civil::Time;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Language;
use crate::bundle::Bundling;
use crate::ids::{Mall, ShopId};
use crate::order::EmailAddress;
use crate::policy::QuietHours;
use crate::service::Settings;

/// One mall shop's settings: each field set overrides the deployment's default, each field unset keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopSettings {
    pub mall: Mall,
    pub shop: ShopId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_phone: Option<String>,
    /// Where this shop's staff alerts go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_hours: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_hours: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_cutoff: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_auto_cancel: Option<bool>,
    /// 同梱: `off`, `all`, or the malls whose orders to one address ship together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Bundling>,
    /// Bumped by every write: a save is conditional on the version read, so two editors lose nothing.
    pub version: u64,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

/// Quiet hours as a shop sets them: off, or from–until in JST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuietHoursSetting {
    Off,
    Hours { from: Time, until: Time },
}

impl QuietHoursSetting {
    /// `off`, or `HH:MM-HH:MM` (JST).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let refused = || format!("expected `off` or two times HH:MM-HH:MM (JST), not {raw:?}");
        let (from, until) = raw.split_once('-').ok_or_else(refused)?;
        let time = |t: &str| t.trim().parse::<Time>().map_err(|_| refused());
        let (from, until) = (time(from)?, time(until)?);
        if from == until {
            return Err(refused());
        }
        Ok(Self::Hours { from, until })
    }

    fn hours(self) -> Option<QuietHours> {
        match self {
            Self::Off => None,
            Self::Hours { from, until } => Some(QuietHours { from, until }),
        }
    }
}

impl fmt::Display for QuietHoursSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Hours { from, until } => write!(f, "{}-{}", from.strftime("%H:%M"), until.strftime("%H:%M")),
        }
    }
}

/// The settings a shop can change, by the names `shop set` and the console use.
pub const KEYS: &[&str] = &[
    "name",
    "contact_email",
    "contact_phone",
    "staff_email",
    "language",
    "window_hours",
    "answer_hours",
    "shipping_cutoff",
    "quiet_hours",
    "amazon_auto_cancel",
    "bundle",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting {0:?} (one of: {keys})", keys = KEYS.join(", "))]
    UnknownKey(String),
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn whole_hours(key: &'static str, raw: &str) -> Result<i64, SettingError> {
    match raw.trim().parse::<i64>() {
        Ok(h) if (1..=24 * 366).contains(&h) => Ok(h),
        _ => Err(SettingError::Invalid {
            key,
            reason: "expected a whole number of hours from 1 to 8784".into(),
        }),
    }
}

impl ShopSettings {
    /// A shop with nothing changed yet.
    pub fn new(mall: Mall, shop: ShopId, by: &str, at: Timestamp) -> Self {
        Self {
            mall,
            shop,
            name: None,
            contact_email: None,
            contact_phone: None,
            staff_email: None,
            language: None,
            window_hours: None,
            answer_hours: None,
            shipping_cutoff: None,
            quiet_hours: None,
            amazon_auto_cancel: None,
            bundle: None,
            version: 0,
            updated_by: by.to_owned(),
            updated_at: at,
        }
    }

    /// Sets `key` from what a person typed; an empty value goes back to the deployment's default.
    pub fn set(&mut self, key: &str, raw: &str) -> Result<(), SettingError> {
        let value = raw.trim();
        let empty = value.is_empty();
        let invalid = |key: &'static str, reason: String| SettingError::Invalid { key, reason };
        match key {
            "name" => {
                self.name = (!empty).then(|| value.chars().filter(|c| !c.is_control()).take(100).collect());
            }
            "contact_email" => {
                self.contact_email = if empty {
                    None
                } else {
                    Some(EmailAddress::parse(value).map_err(|e| invalid("contact_email", e.to_string()))?)
                };
            }
            "contact_phone" => {
                self.contact_phone = (!empty).then(|| value.chars().filter(|c| !c.is_control()).take(40).collect());
            }
            "staff_email" => {
                self.staff_email = if empty {
                    None
                } else {
                    Some(EmailAddress::parse(value).map_err(|e| invalid("staff_email", e.to_string()))?)
                };
            }
            "language" => {
                self.language = if empty {
                    None
                } else {
                    Some(value.parse().map_err(|e: String| invalid("language", e))?)
                };
            }
            "window_hours" => {
                self.window_hours = if empty {
                    None
                } else {
                    Some(whole_hours("window_hours", value)?)
                };
            }
            "answer_hours" => {
                self.answer_hours = if empty {
                    None
                } else {
                    Some(whole_hours("answer_hours", value)?)
                };
            }
            "shipping_cutoff" => {
                self.shipping_cutoff = if empty {
                    None
                } else {
                    Some(
                        value
                            .parse::<Time>()
                            .map_err(|_| invalid("shipping_cutoff", format!("expected HH:MM (JST), not {value:?}")))?,
                    )
                };
            }
            "quiet_hours" => {
                self.quiet_hours = if empty {
                    None
                } else {
                    Some(QuietHoursSetting::parse(value).map_err(|e| invalid("quiet_hours", e))?)
                };
            }
            "amazon_auto_cancel" => {
                self.amazon_auto_cancel = match value.to_ascii_lowercase().as_str() {
                    "" => None,
                    "true" | "on" | "yes" => Some(true),
                    "false" | "off" | "no" => Some(false),
                    _ => {
                        return Err(invalid(
                            "amazon_auto_cancel",
                            format!("expected on or off, not {value:?}"),
                        ));
                    }
                };
            }
            "bundle" => {
                self.bundle = if empty {
                    None
                } else {
                    Some(value.parse().map_err(|e: String| invalid("bundle", e))?)
                };
            }
            other => return Err(SettingError::UnknownKey(other.to_owned())),
        }
        Ok(())
    }

    /// The value of `key` as `set` takes it back; empty when unset.
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "name" => self.name.clone().unwrap_or_default(),
            "contact_email" => self.contact_email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            "contact_phone" => self.contact_phone.clone().unwrap_or_default(),
            "staff_email" => self.staff_email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            "language" => self
                .language
                .map(|l| if l == Language::Ja { "ja" } else { "en" }.to_owned())
                .unwrap_or_default(),
            "window_hours" => self.window_hours.map(|h| h.to_string()).unwrap_or_default(),
            "answer_hours" => self.answer_hours.map(|h| h.to_string()).unwrap_or_default(),
            "shipping_cutoff" => self
                .shipping_cutoff
                .map(|t| t.strftime("%H:%M").to_string())
                .unwrap_or_default(),
            "quiet_hours" => self.quiet_hours.map(|q| q.to_string()).unwrap_or_default(),
            "amazon_auto_cancel" => self
                .amazon_auto_cancel
                .map(|b| if b { "on" } else { "off" }.to_owned())
                .unwrap_or_default(),
            "bundle" => self.bundle.as_ref().map(ToString::to_string).unwrap_or_default(),
            _ => return None,
        })
    }

    /// The deployment's settings, every field set: what a shop without changes gets (the console shows
    /// them beside each field).
    pub fn defaults(base: &Settings, mall: Mall, shop: ShopId) -> Self {
        let hours = |d: SignedDuration| d.as_secs() / 3600;
        Self {
            name: Some(base.shop.name.clone()),
            contact_email: Some(base.shop.contact_email.clone()),
            contact_phone: base.shop.contact_phone.clone(),
            staff_email: Some(base.shop.staff_email.clone()),
            language: Some(base.shop.language),
            window_hours: Some(hours(base.policy.window)),
            answer_hours: Some(hours(base.policy.answer_within)),
            shipping_cutoff: Some(base.policy.shipping_cutoff),
            quiet_hours: Some(match base.policy.quiet_hours {
                None => QuietHoursSetting::Off,
                Some(q) => QuietHoursSetting::Hours {
                    from: q.from,
                    until: q.until,
                },
            }),
            amazon_auto_cancel: Some(base.policy.amazon_auto_cancel),
            bundle: Some(base.policy.bundling.clone()),
            ..Self::new(mall, shop, "", Timestamp::UNIX_EPOCH)
        }
    }

    /// The deployment's settings with this shop's changes.
    pub fn apply(&self, base: &Settings) -> Settings {
        let mut s = base.clone();
        if let Some(name) = &self.name {
            s.shop.name = name.clone();
        }
        if let Some(email) = &self.contact_email {
            s.shop.contact_email = email.clone();
        }
        if let Some(phone) = &self.contact_phone {
            s.shop.contact_phone = Some(phone.clone());
        }
        if let Some(email) = &self.staff_email {
            s.shop.staff_email = email.clone();
        }
        if let Some(language) = self.language {
            s.shop.language = language;
        }
        if let Some(hours) = self.window_hours {
            s.policy.window = SignedDuration::from_hours(hours);
        }
        if let Some(hours) = self.answer_hours {
            s.policy.answer_within = SignedDuration::from_hours(hours);
        }
        if let Some(cutoff) = self.shipping_cutoff {
            s.policy.shipping_cutoff = cutoff;
        }
        if let Some(quiet) = self.quiet_hours {
            s.policy.quiet_hours = quiet.hours();
        }
        if let Some(auto) = self.amazon_auto_cancel {
            s.policy.amazon_auto_cancel = auto;
        }
        if let Some(bundle) = &self.bundle {
            s.policy.bundling = bundle.clone();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> ShopSettings {
        ShopSettings::new(
            Mall::Rakuten,
            ShopId::parse("tanaka-rakuten").unwrap(),
            "ops",
            "2026-11-29T00:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn each_setting_reads_back_as_typed_and_an_empty_value_goes_back_to_the_default() {
        let mut s = shop();
        for (key, value) in [
            ("name", "田中商店 楽天市場店"),
            ("contact_email", "rakuten@tanaka-shop.example"),
            ("contact_phone", "03-1234-0000"),
            ("staff_email", "rakuten-staff@tanaka-shop.example"),
            ("language", "en"),
            ("window_hours", "72"),
            ("answer_hours", "12"),
            ("shipping_cutoff", "13:30"),
            ("quiet_hours", "22:00-07:00"),
            ("amazon_auto_cancel", "on"),
            ("bundle", "rakuten,yahoo"),
        ] {
            s.set(key, value).unwrap();
            assert_eq!(s.get(key).unwrap(), value, "{key}");
        }
        s.set("quiet_hours", "off").unwrap();
        assert_eq!(s.get("quiet_hours").unwrap(), "off");
        s.set("answer_hours", " ").unwrap();
        assert_eq!(s.answer_hours, None);
        assert_eq!(KEYS.len(), 11);
        assert!(KEYS.iter().all(|k| s.get(k).is_some()));
    }

    #[test]
    fn a_wrong_value_or_key_is_refused_and_changes_nothing() {
        let mut s = shop();
        for (key, value) in [
            ("answer_hours", "0"),
            ("window_hours", "two"),
            ("shipping_cutoff", "25:00"),
            ("quiet_hours", "21:00"),
            ("contact_email", "not an address"),
            ("language", "fr"),
            ("amazon_auto_cancel", "maybe"),
            ("bundle", "rakuten,ebay"),
        ] {
            assert!(
                matches!(s.set(key, value), Err(SettingError::Invalid { .. })),
                "{key}={value}"
            );
        }
        assert!(matches!(s.set("colour", "red"), Err(SettingError::UnknownKey(_))));
        assert_eq!(s, shop());
    }

    #[test]
    fn applied_settings_change_the_profile_and_the_policy_and_nothing_else() {
        let base = crate::testing::settings();
        let mut s = shop();
        s.set("name", "田中商店 楽天市場店").unwrap();
        s.set("answer_hours", "6").unwrap();
        s.set("quiet_hours", "off").unwrap();
        let applied = s.apply(&base);
        assert_eq!(applied.shop.name, "田中商店 楽天市場店");
        assert_eq!(applied.policy.answer_within, SignedDuration::from_hours(6));
        assert_eq!(applied.policy.quiet_hours, None);
        assert_eq!(applied.policy.window, base.policy.window);
        assert_eq!(applied.shop.contact_email, base.shop.contact_email);
    }
}
