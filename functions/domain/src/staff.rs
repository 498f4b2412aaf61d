//! Staff sign-in for the console: a passwordless link mailed to an address on the staff list, then a
//! signed session, and a form token per session against cross-site requests.
//!
//! Three kinds of signed text, each under its own label, so that none can stand for another and a
//! buyer's link token opens no staff page:
//! - the sign-in link `{address}.{nonce}.{expiry}.{mac}`: single use (the nonce is recorded when used),
//!   15 minutes;
//! - the session `{address}.{session id}.{issued}.{expiry}.{mac}`: an absolute lifetime from sign-in,
//!   never extended;
//! - the form token: a MAC of the session id, so a form posted by another site (which cannot read the
//!   cookie) or with another session's token is refused.
//!
//! Addresses travel base64url-encoded: the text stays URL- and cookie-safe whatever the address holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::order::EmailAddress;

/// How long a mailed sign-in link works.
pub const SIGN_IN_LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
/// How long a session lasts from sign-in, whatever happens in it.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);

const MAC_BYTES: usize = 32;

/// The addresses that may sign in to the console, compared without regard to case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffList(Vec<EmailAddress>);

impl StaffList {
    pub fn new(addresses: Vec<EmailAddress>) -> Self {
        Self(addresses)
    }

    /// A comma- or whitespace-separated list, as a parameter or a flag carries it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let addresses = raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| EmailAddress::parse(s).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(addresses))
    }

    /// The listed address `raw` names, as listed.
    pub fn find(&self, raw: &str) -> Option<&EmailAddress> {
        let raw = raw.trim();
        self.0.iter().find(|a| a.as_str().eq_ignore_ascii_case(raw))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn addresses(&self) -> &[EmailAddress] {
        &self.0
    }
}

/// A sign-in link whose signature checked out and that has not expired. It is still to be used once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLink {
    pub staff: String,
    pub nonce: String,
    pub expires_at: Timestamp,
}

/// A session whose signature checked out and that has not expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// The staff member's address, as on the staff list: who every action is recorded as.
    pub staff: String,
    pub id: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StaffTokenError {
    #[error("not a valid sign-in link or session")]
    Invalid,
    #[error("the sign-in link or session has expired")]
    Expired,
}

/// Signs and checks the staff's links, sessions and form tokens. `Debug` shows no byte of the key.
#[derive(Clone, Debug)]
pub struct StaffSigner {
    key: SecretSlice<u8>,
}

impl StaffSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: SecretSlice::from(key.into()),
        }
    }

    fn mac(&self, label: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret()).expect("HMAC takes a key of any length");
        mac.update(b"mallguard-staff\0");
        mac.update(label.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        mac
    }

    fn signed(&self, label: &str, payload: String) -> String {
        let tag = self.mac(label, &payload).finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]))
    }

    /// The payload's parts after checking the signature in constant time.
    fn checked<'a>(&self, label: &str, text: &'a str, parts: usize) -> Result<Vec<&'a str>, StaffTokenError> {
        // Far longer than any text we sign: not worth a MAC.
        if text.len() > 1024 {
            return Err(StaffTokenError::Invalid);
        }
        let (payload, tag) = text.rsplit_once('.').ok_or(StaffTokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StaffTokenError::Invalid)?;
        if tag.len() != MAC_BYTES {
            return Err(StaffTokenError::Invalid);
        }
        self.mac(label, payload)
            .verify_slice(&tag)
            .map_err(|_| StaffTokenError::Invalid)?;
        let split: Vec<&str> = payload.split('.').collect();
        if split.len() != parts {
            return Err(StaffTokenError::Invalid);
        }
        Ok(split)
    }

    /// A sign-in link's token for `staff`; `nonce` must be unpredictable (16 random bytes, base64url).
    pub fn sign_in_link(&self, staff: &EmailAddress, nonce: &str, now: Timestamp) -> String {
        let expires = now.saturating_add(SIGN_IN_LINK_LIFETIME).unwrap_or(now);
        let payload = format!(
            "{}.{nonce}.{}",
            URL_SAFE_NO_PAD.encode(staff.as_str()),
            expires.as_second()
        );
        self.signed("sign-in", payload)
    }

    pub fn verify_sign_in_link(&self, text: &str, now: Timestamp) -> Result<SignInLink, StaffTokenError> {
        let parts = self.checked("sign-in", text, 3)?;
        let staff = decode_address(parts[0])?;
        let expires_at = seconds(parts[2])?;
        if now >= expires_at {
            return Err(StaffTokenError::Expired);
        }
        Ok(SignInLink {
            staff,
            nonce: parts[1].to_owned(),
            expires_at,
        })
    }

    /// A session for `staff` from now; `id` must be unpredictable (16 random bytes, base64url).
    pub fn session(&self, staff: &str, id: &str, now: Timestamp) -> (String, StaffSession) {
        let expires_at = now.saturating_add(SESSION_LIFETIME).unwrap_or(now);
        let issued = Timestamp::from_second(now.as_second()).unwrap_or(now);
        let payload = format!(
            "{}.{id}.{}.{}",
            URL_SAFE_NO_PAD.encode(staff),
            issued.as_second(),
            expires_at.as_second()
        );
        let session = StaffSession {
            staff: staff.to_owned(),
            id: id.to_owned(),
            issued_at: issued,
            expires_at: Timestamp::from_second(expires_at.as_second()).unwrap_or(expires_at),
        };
        (self.signed("session", payload), session)
    }

    pub fn verify_session(&self, text: &str, now: Timestamp) -> Result<StaffSession, StaffTokenError> {
        let parts = self.checked("session", text, 4)?;
        let staff = decode_address(parts[0])?;
        let issued_at = seconds(parts[2])?;
        let expires_at = seconds(parts[3])?;
        if now >= expires_at || expires_at.duration_since(issued_at) > SESSION_LIFETIME {
            return Err(StaffTokenError::Expired);
        }
        Ok(StaffSession {
            staff,
            id: parts[1].to_owned(),
            issued_at,
            expires_at,
        })
    }

    /// The anti-forgery token every form of this session carries.
    pub fn form_token(&self, session: &StaffSession) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("form", &session.id).finalize().into_bytes())
    }

    /// Whether `token` is this session's form token (compared in constant time).
    pub fn verify_form_token(&self, session: &StaffSession, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        self.mac("form", &session.id).verify_slice(&tag).is_ok()
    }
}

fn decode_address(part: &str) -> Result<String, StaffTokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| StaffTokenError::Invalid)?;
    String::from_utf8(bytes).map_err(|_| StaffTokenError::Invalid)
}

fn seconds(part: &str) -> Result<Timestamp, StaffTokenError> {
    let s: i64 = part.parse().map_err(|_| StaffTokenError::Invalid)?;
    Timestamp::from_second(s).map_err(|_| StaffTokenError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{LinkAction, LinkSigner};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn staff() -> EmailAddress {
        EmailAddress::parse("Sato@Shop.example").unwrap()
    }

    #[test]
    fn the_staff_list_finds_an_address_whatever_its_case() {
        let list = StaffList::parse("sato@shop.example, ito@shop.example\nkato@shop.example").unwrap();
        assert_eq!(list.addresses().len(), 3);
        assert_eq!(list.find(" SATO@shop.EXAMPLE ").unwrap().as_str(), "sato@shop.example");
        assert!(list.find("mallory@evil.example").is_none());
        assert!(StaffList::parse("not an address").is_err());
    }

    #[test]
    fn a_sign_in_link_works_for_fifteen_minutes_and_names_its_staff_member() {
        let signer = StaffSigner::new(b"k".to_vec());
        let now = at("2026-11-29T01:00:00Z");
        let link = signer.sign_in_link(&staff(), "nonce1", now);
        assert!(
            link.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{link}"
        );
        let ok = signer.verify_sign_in_link(&link, at("2026-11-29T01:14:59Z")).unwrap();
        assert_eq!(ok.staff, "Sato@Shop.example");
        assert_eq!(ok.nonce, "nonce1");
        assert_eq!(
            signer.verify_sign_in_link(&link, at("2026-11-29T01:15:00Z")),
            Err(StaffTokenError::Expired)
        );
    }

    #[test]
    fn a_session_lasts_twelve_hours_and_cannot_be_stretched_or_forged() {
        let signer = StaffSigner::new(b"k".to_vec());
        let now = at("2026-11-29T01:00:00Z");
        let (text, session) = signer.session("sato@shop.example", "sid", now);
        assert_eq!(
            signer.verify_session(&text, at("2026-11-29T12:59:59Z")).unwrap(),
            session
        );
        assert_eq!(
            signer.verify_session(&text, at("2026-11-29T13:00:00Z")),
            Err(StaffTokenError::Expired)
        );
        // Another expiry, another address, another key, a sign-in link or a buyer's link: all invalid.
        let parts: Vec<&str> = text.split('.').collect();
        let stretched = format!(
            "{}.{}.{}.{}.{}",
            parts[0], parts[1], parts[2], 4_000_000_000u64, parts[4]
        );
        let other_staff = format!(
            "{}.{}.{}.{}.{}",
            URL_SAFE_NO_PAD.encode("boss@shop.example"),
            parts[1],
            parts[2],
            parts[3],
            parts[4]
        );
        let link = signer.sign_in_link(&staff(), "sid", now);
        let hold = crate::ids::HoldId::for_order(&crate::testing::order("1").order_ref);
        let buyer = LinkSigner::new(b"k".to_vec()).sign(&hold, LinkAction::Cancel, at("2026-11-30T00:00:00Z"));
        for bad in [
            stretched,
            other_staff,
            link,
            buyer.to_string(),
            String::new(),
            "a.b.c.d.e".into(),
        ] {
            assert_eq!(signer.verify_session(&bad, now), Err(StaffTokenError::Invalid), "{bad}");
        }
        assert_eq!(
            StaffSigner::new(b"other".to_vec()).verify_session(&text, now),
            Err(StaffTokenError::Invalid)
        );
        assert!(
            signer.verify_sign_in_link(&text, now).is_err(),
            "a session is no sign-in link"
        );
    }

    #[test]
    fn a_form_token_belongs_to_its_session() {
        let signer = StaffSigner::new(b"k".to_vec());
        let now = at("2026-11-29T01:00:00Z");
        let (_, mine) = signer.session("sato@shop.example", "sid-1", now);
        let (_, theirs) = signer.session("sato@shop.example", "sid-2", now);
        let token = signer.form_token(&mine);
        assert!(signer.verify_form_token(&mine, &token));
        assert!(!signer.verify_form_token(&theirs, &token));
        assert!(!signer.verify_form_token(&mine, ""));
        assert!(!signer.verify_form_token(&mine, "garbage!"));
    }
}
