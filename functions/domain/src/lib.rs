//! mallguard's pure core: the canonical order, identity keys, matching, holds and their lifecycle,
//! notices, link tokens, the ports and the use cases. No AWS, no HTTP server, no file system: the same
//! code runs on Lambda, on the local stack and in the tests.
//!
//! The store port is split by role ([`ports::IngestStore`], [`ports::SweepStore`], [`ports::StaffStore`],
//! [`ports::CursorStore`], over [`ports::Records`] and [`ports::Commit`]); [`ports::Store`] is every role at
//! once. The use cases ([`service::Mallguard`]) take their ports at construction; the `testing` feature adds
//! builders, an in-memory store, a store that is down, a scripted order feed and the store contract suite
//! ([`store_contract!`]).

pub mod action;
pub mod blacklist;
pub mod bundle;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod feed;
pub mod history;
pub mod hold;
pub mod identity;
pub mod ids;
pub mod mail_routes;
pub mod matching;
pub mod normalize;
pub mod notice;
pub mod order;
pub mod policy;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod quality;
pub mod reading;
pub mod service;
pub mod shop_settings;
pub mod staff;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod token;

use serde::{Deserialize, Serialize};

/// The language of what a buyer or the shop reads. Japanese by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Ja,
    En,
}

impl std::str::FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ja" | "jp" | "japanese" => Ok(Language::Ja),
            "en" | "english" => Ok(Language::En),
            other => Err(format!("unknown language {other:?} (expected ja or en)")),
        }
    }
}
