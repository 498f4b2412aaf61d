//! Signed, expiring link tokens for the buttons in a notice.
//!
//! `{hold}.{action}.{expiry}.{mac}`: an HMAC-SHA256 over hold id, action scope and expiry, truncated
//! to 128 bits. Readable on purpose: it holds no personal data, and support staff can read a link.

use secrecy::{ExposeSecret, SecretSlice};
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::hold::Decision;
use crate::ids::HoldId;

/// What a link lets its holder do: one action on one hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkAction {
    /// Ship both orders.
    Confirm,
    /// Cancel the held order.
    Cancel,
}

impl LinkAction {
    fn code(self) -> &'static str {
        match self {
            LinkAction::Confirm => "c",
            LinkAction::Cancel => "x",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "c" => Some(LinkAction::Confirm),
            "x" => Some(LinkAction::Cancel),
            _ => None,
        }
    }

    pub fn decision(self) -> Decision {
        match self {
            LinkAction::Confirm => Decision::Confirm,
            LinkAction::Cancel => Decision::Cancel,
        }
    }

    pub fn other(self) -> Self {
        match self {
            LinkAction::Confirm => LinkAction::Cancel,
            LinkAction::Cancel => LinkAction::Confirm,
        }
    }
}

/// A token whose signature checked out. It may still be expired: see [`LinkSigner::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkToken {
    pub hold: HoldId,
    pub action: LinkAction,
    pub expires_at: Timestamp,
    text: String,
}

impl LinkToken {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token we made, or changed on the way: nothing about it can be trusted.
    #[error("the link is not valid")]
    Invalid,
    /// A real token past its expiry: the hold it names can still be shown.
    #[error("the link has expired")]
    Expired { token: Box<LinkToken> },
}

/// Signs and checks link tokens with the link-signing key. `Debug` shows no byte of it.
#[derive(Clone, Debug)]
pub struct LinkSigner {
    key: SecretSlice<u8>,
}

const MAC_BYTES: usize = 16;

impl LinkSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self {
            key: SecretSlice::from(key.into()),
        }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret()).expect("HMAC takes a key of any length");
        mac.update(b"mallguard-link\0");
        mac.update(payload.as_bytes());
        mac
    }

    /// The signer of the staff's sign-in links and sessions, keyed by this key under labels of its own:
    /// one secret to keep, and no token of one kind verifies as another.
    pub fn staff_signer(&self) -> crate::staff::StaffSigner {
        crate::staff::StaffSigner::new(self.key.expose_secret().to_vec())
    }

    pub fn sign(&self, hold: &HoldId, action: LinkAction, expires_at: Timestamp) -> LinkToken {
        let payload = format!("{hold}.{}.{}", action.code(), expires_at.as_second());
        let tag = self.mac(&payload).finalize().into_bytes();
        let text = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..MAC_BYTES]));
        LinkToken {
            hold: hold.clone(),
            action,
            expires_at,
            text,
        }
    }

    /// Checks the signature in constant time, then the expiry.
    pub fn verify(&self, text: &str, now: Timestamp) -> Result<LinkToken, TokenError> {
        let (payload, tag) = text.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
        if tag.len() != MAC_BYTES {
            return Err(TokenError::Invalid);
        }
        self.mac(payload)
            .verify_truncated_left(&tag)
            .map_err(|_| TokenError::Invalid)?;
        let mut parts = payload.split('.');
        let (Some(hold), Some(action), Some(expiry), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let hold = HoldId::parse(hold).map_err(|_| TokenError::Invalid)?;
        let action = LinkAction::from_code(action).ok_or(TokenError::Invalid)?;
        let seconds: i64 = expiry.parse().map_err(|_| TokenError::Invalid)?;
        let expires_at = Timestamp::from_second(seconds).map_err(|_| TokenError::Invalid)?;
        let token = LinkToken {
            hold,
            action,
            expires_at,
            text: text.to_owned(),
        };
        if now >= expires_at {
            return Err(TokenError::Expired { token: Box::new(token) });
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Mall, OrderId, OrderRef, ShopId};

    fn hold() -> HoldId {
        HoldId::for_order(&OrderRef::new(
            Mall::Own,
            ShopId::parse("s").unwrap(),
            OrderId::parse("1").unwrap(),
        ))
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_signed_token_verifies_before_its_expiry() {
        let signer = LinkSigner::new(b"k".to_vec());
        let token = signer.sign(&hold(), LinkAction::Cancel, at("2026-11-24T03:00:00Z"));
        let back = signer.verify(token.as_str(), at("2026-11-24T02:59:59Z")).unwrap();
        assert_eq!(back.hold, hold());
        assert_eq!(back.action, LinkAction::Cancel);
        assert!(
            token
                .as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
    }

    #[test]
    fn an_expired_token_still_names_its_hold() {
        let signer = LinkSigner::new(b"k".to_vec());
        let token = signer.sign(&hold(), LinkAction::Confirm, at("2026-11-24T03:00:00Z"));
        match signer.verify(token.as_str(), at("2026-11-24T03:00:00Z")) {
            Err(TokenError::Expired { token }) => assert_eq!(token.hold, hold()),
            other => panic!("expected expired, got {other:?}"),
        }
    }

    #[test]
    fn a_tampered_token_is_invalid() {
        let signer = LinkSigner::new(b"k".to_vec());
        let now = at("2026-11-23T03:00:00Z");
        let token = signer
            .sign(&hold(), LinkAction::Confirm, at("2026-11-24T03:00:00Z"))
            .to_string();
        // Turning a confirm link into a cancel link, or extending its life, breaks the signature.
        let scope_changed = token.replacen(".c.", ".x.", 1);
        let later = format!("{}", at("2026-12-24T03:00:00Z").as_second());
        let expiry_changed = {
            let parts: Vec<&str> = token.split('.').collect();
            format!("{}.{}.{}.{}", parts[0], parts[1], later, parts[3])
        };
        for bad in [
            scope_changed,
            expiry_changed,
            "".into(),
            "garbage".into(),
            format!("{token}x"),
        ] {
            assert_eq!(signer.verify(&bad, now), Err(TokenError::Invalid), "{bad}");
        }
        let other_key = LinkSigner::new(b"other".to_vec());
        assert_eq!(other_key.verify(&token, now), Err(TokenError::Invalid));
    }
}
