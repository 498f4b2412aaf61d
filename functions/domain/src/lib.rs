//! mallguard's pure core: the canonical order, identity keys, matching, holds and their lifecycle,
//! notices, link tokens, the ports and the use cases. No AWS, no HTTP server, no file system: the same
//! code runs on Lambda, on the local stack and in the tests.

#[cfg(any(test, feature = "testing"))]
pub mod contract;
pub mod history;
pub mod hold;
pub mod identity;
pub mod ids;
pub mod matching;
pub mod normalize;
pub mod notice;
pub mod order;
pub mod policy;
pub mod ports;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod token;

use serde::{Deserialize, Serialize};

use crate::hold::HoldState;
use crate::ids::Mall;

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

/// What the staff must do in the mall's admin screen, where mallguard does not call the mall's API.
pub fn mall_steps(mall: Mall, state: HoldState, lang: Language) -> &'static str {
    use HoldState::*;
    use Language::*;
    match (mall, state, lang) {
        (_, Confirmed | Released, Ja) => "保留を解除し、通常どおり発送してください。",
        (_, Confirmed | Released, En) => "Release the hold and ship as usual.",
        (Mall::Shopify, Held, Ja) => {
            "Shopify管理画面 > 注文管理 > 該当注文 > 「フルフィルメントを保留」で保留にしてください。"
        }
        (Mall::Shopify, Held, En) => "Shopify admin > Orders > the order > \"Hold fulfillment\".",
        (Mall::Shopify, Cancelled, Ja) => {
            "Shopify管理画面 > 注文管理 > 該当注文 > 「その他の操作」>「注文をキャンセル」。"
        }
        (Mall::Shopify, Cancelled, En) => "Shopify admin > Orders > the order > More actions > Cancel order.",
        (Mall::Rakuten, Held, Ja) => "RMS > 受注・問合せ管理 > 受注管理 > 該当注文を「保留」にしてください。",
        (Mall::Rakuten, Held, En) => "RMS > Order management > set the order to \"on hold\" (保留).",
        (Mall::Rakuten, Cancelled, Ja) => {
            "RMS > 受注・問合せ管理 > 受注管理 > 該当注文 > 「キャンセル」（理由: 顧客都合・重複注文）。"
        }
        (Mall::Rakuten, Cancelled, En) => "RMS > Order management > the order > Cancel (reason: duplicate order).",
        (Mall::Yahoo, Held, Ja) => "ストアクリエイターPro > 注文管理 > 該当注文のステータスを「保留」にしてください。",
        (Mall::Yahoo, Held, En) => "Store Creator Pro > Order management > set the status to \"on hold\" (保留).",
        (Mall::Yahoo, Cancelled, Ja) => "ストアクリエイターPro > 注文管理 > 該当注文 > 「キャンセル」。",
        (Mall::Yahoo, Cancelled, En) => "Store Creator Pro > Order management > the order > Cancel.",
        (Mall::Amazon, Held, Ja) => {
            "セラーセントラル > 注文管理 > 該当注文は出荷通知を送らず、発送を止めておいてください。"
        }
        (Mall::Amazon, Held, En) => "Seller Central > Manage orders > do not confirm shipment of the order yet.",
        (Mall::Amazon, Cancelled, Ja) => {
            "セラーセントラル > 注文管理 > 該当注文 > 「注文をキャンセル」（理由: 購入者によるキャンセル）。"
        }
        (Mall::Amazon, Cancelled, En) => {
            "Seller Central > Manage orders > the order > Cancel order (reason: buyer cancelled)."
        }
        (Mall::Own, Held, Ja) => "受注システムで該当注文の出荷を止めてください。",
        (Mall::Own, Held, En) => "Stop the order's shipment in your order system.",
        (Mall::Own, Cancelled, Ja) => "受注システムで該当注文をキャンセルしてください。",
        (Mall::Own, Cancelled, En) => "Cancel the order in your order system.",
    }
}
