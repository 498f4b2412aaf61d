//! Identity keys: what ties one customer across malls whose emails differ.
//!
//! Keys are kept only as keyed hashes (HMAC-SHA256 with a secret pepper, truncated), so the match
//! index holds no readable personal data: neither the keys nor the recipient's fingerprints (name, place,
//! readings) can be read back without the pepper.

use secrecy::{ExposeSecret, SecretSlice};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::ids::ProductKey;
use crate::order::{Order, PostalAddress};
use crate::{normalize, reading};

/// What an identity key was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Email,
    Phone,
    /// The prefecture (written, or else the postal code's) + the address + the name of the person at it.
    Address,
    /// The same place + the recipient's reading (読み) of two words or more: the reading the mall gave, or
    /// the name itself when it is written in kana or romaji. Links a 山田太郎 (ヤマダ タロウ) to a
    /// `Taro Yamada` at one address.
    Reading,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::Address => "address",
            KeyKind::Reading => "reading",
        }
    }

    fn tag(self) -> char {
        match self {
            KeyKind::Email => 'e',
            KeyKind::Phone => 'p',
            KeyKind::Address => 'a',
            KeyKind::Reading => 'r',
        }
    }

    fn from_tag(tag: char) -> Option<Self> {
        match tag {
            'e' => Some(KeyKind::Email),
            'p' => Some(KeyKind::Phone),
            'a' => Some(KeyKind::Address),
            'r' => Some(KeyKind::Reading),
            _ => None,
        }
    }
}

/// A keyed hash of one normalised identity attribute, such as `e:Zk3…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdentityKey(String);

/// A stored identity key that does not have the shape we write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an identity key")]
pub struct BadIdentityKey(String);

impl IdentityKey {
    pub fn parse(raw: &str) -> Result<Self, BadIdentityKey> {
        let mut chars = raw.chars();
        let ok = chars.next().and_then(KeyKind::from_tag).is_some()
            && chars.next() == Some(':')
            && raw.len() == 24
            && raw[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadIdentityKey(raw.to_owned()))
        }
    }

    pub fn kind(&self) -> KeyKind {
        self.0
            .chars()
            .next()
            .and_then(KeyKind::from_tag)
            .expect("parsed identity keys carry a kind tag")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdentityKey {
    type Error = BadIdentityKey;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IdentityKey> for String {
    fn from(value: IdentityKey) -> String {
        value.0
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A hash of a recipient attribute, compared but never matched on by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }
}

/// Who the parcel goes to, hashed: decides the gift-season rule ("different recipients are not duplicates").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recipient {
    /// The recipient's normalised name (honorifics, spaces and variant kanji folded: 渡邊 is 渡辺).
    pub name: Fingerprint,
    /// The ship-to's prefecture (else postal code) and normalised address, without the name.
    pub place: Fingerprint,
    /// The recipient's reading as the mall gave it (フリガナ), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Fingerprint>,
    /// The recipient's name read as written, when it is written in kana or romaji (`Taro Yamada`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoken_name: Option<Fingerprint>,
    /// [`Recipient::reading`] with its long vowels as written, when the mall gave it in kana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana_reading: Option<Fingerprint>,
    /// [`Recipient::spoken_name`] with its long vowels as written, when the name is written in kana.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kana_name: Option<Fingerprint>,
}

impl Recipient {
    /// The same recipient when the name or the address is the same, or the names sound alike
    /// ([`Recipient::sounds_like`]): a corrected address to the same person is still a re-order, a
    /// different person at a different address is a gift.
    pub fn same_as(&self, other: &Recipient) -> bool {
        self.name == other.name || self.place == other.place || self.sounds_like(other)
    }

    /// The same name, written alike (after folding honorifics, spaces and variant kanji) or read alike.
    pub fn same_name(&self, other: &Recipient) -> bool {
        self.name == other.name || self.sounds_like(other)
    }

    /// The reading the mall gave: folded, and as written when in kana.
    fn given(&self) -> (&Option<Fingerprint>, &Option<Fingerprint>) {
        (&self.reading, &self.kana_reading)
    }

    /// The name read as written: folded, and as written when in kana.
    fn spoken(&self) -> (&Option<Fingerprint>, &Option<Fingerprint>) {
        (&self.spoken_name, &self.kana_name)
    }

    /// The two names are one person's by their readings: one order's reading agrees with the other's name
    /// written in kana or romaji, or both names are so written and agree (in either word order). Two names
    /// written in kanji never agree by their readings alone: 佐藤花子 and 佐藤華子 both read サトウ ハナコ.
    ///
    /// Two readings both in kana agree only with their long vowels as written (ユウキ and ユキ are
    /// siblings, not one name); long vowels are folded only when one side is romaji, which may leave them
    /// unmarked (`Yuki` is written for ユウキ too).
    pub fn sounds_like(&self, other: &Recipient) -> bool {
        let agree = |(a, a_kana): (&Option<Fingerprint>, &Option<Fingerprint>),
                     (b, b_kana): (&Option<Fingerprint>, &Option<Fingerprint>)| {
            match (a_kana, b_kana) {
                (Some(a_kana), Some(b_kana)) => a.is_some() && a == b && a_kana == b_kana,
                _ => a.is_some() && a == b,
            }
        };
        let (mine, theirs) = (self.spoken(), other.spoken());
        agree(mine, theirs) || agree(self.given(), theirs) || agree(mine, other.given())
    }
}

/// The secret pepper that makes identity hashes useless without it. `Debug` shows no byte of it.
#[derive(Clone, Debug)]
pub struct IdentityHasher {
    pepper: SecretSlice<u8>,
}

impl IdentityHasher {
    pub fn new(pepper: impl Into<Vec<u8>>) -> Self {
        Self {
            pepper: SecretSlice::from(pepper.into()),
        }
    }

    fn digest(&self, domain: &str, value: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.pepper.expose_secret()).expect("HMAC takes a key of any length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let bytes = mac.finalize().into_bytes();
        // 128 bits: no collisions among any shop's customers, and shorter index keys.
        URL_SAFE_NO_PAD.encode(&bytes[..16])
    }

    pub fn key(&self, kind: KeyKind, normalised: &str) -> IdentityKey {
        IdentityKey(format!("{}:{}", kind.tag(), self.digest(kind.as_str(), normalised)))
    }

    fn fingerprint(&self, what: &str, normalised: &str) -> Fingerprint {
        Fingerprint(self.digest(what, normalised))
    }

    /// The address key of a person at an address, or None when the address is too thin to identify anyone
    /// (no prefecture and no postal code, no number in the address, or no name).
    /// `place`: the address's [`Place`], read by the caller (an order's addresses share theirs often).
    fn address_key(&self, address: &PostalAddress, place: Option<&Place>) -> Option<IdentityKey> {
        let place = place?;
        let name = normalize::name(&address.name);
        if name.is_empty() {
            return None;
        }
        Some(self.key(KeyKind::Address, &format!("{}|{}|{name}", place.region, place.text)))
    }

    /// Every identity key of an order and its recipient fingerprint.
    ///
    /// The keys: the buyer's email; every phone of the buyer, the ship-to and the buyer's address; an
    /// address key of the ship-to and one of the buyer's own address (the same key when they are one
    /// home); and a reading key of the ship-to, when its name is written in kana or romaji or the mall gave
    /// its reading (the buyer's reading counts for a ship-to with the buyer's name).
    pub fn order_identity(&self, order: &Order) -> OrderIdentity {
        let mut keys = BTreeSet::new();
        if let Some(email) = order.buyer.email.as_ref().and_then(|e| normalize::email(e.as_str())) {
            keys.insert(self.key(KeyKind::Email, &email));
        }
        let phones = [order.buyer.phone.as_deref(), order.ship_to.phone.as_deref()];
        let buyer_address_phone = order.buyer.address.as_ref().and_then(|a| a.phone.as_deref());
        for phone in phones.into_iter().chain([buyer_address_phone]).flatten() {
            if let Some(p) = normalize::phone(phone) {
                keys.insert(self.key(KeyKind::Phone, &p));
            }
        }
        // Reading a place is much of the work of an order's keys, and the buyer's own address is the
        // ship-to more often than not: each place is read once.
        let place = Place::of(&order.ship_to);
        keys.extend(self.address_key(&order.ship_to, place.as_ref()));
        if let Some(buyer_address) = &order.buyer.address {
            let mut with_name = buyer_address.clone();
            if with_name.name.trim().is_empty() {
                with_name.name = order.buyer.name.clone();
            }
            let buyer_place = if Place::same_fields(buyer_address, &order.ship_to) {
                place.clone()
            } else {
                Place::of(buyer_address)
            };
            keys.extend(self.address_key(&with_name, buyer_place.as_ref()));
        }
        let spoken_name = reading::reading(&order.ship_to.name).and_then(full_name);
        let kana_name = reading::kana_reading(&order.ship_to.name).and_then(full_name);
        let given = recipient_kana(order);
        let given_reading = given.and_then(reading::reading).and_then(full_name);
        let given_kana = given.and_then(reading::kana_reading).and_then(full_name);
        if let (Some(place), Some(read)) = (&place, spoken_name.as_ref().or(given_reading.as_ref())) {
            keys.insert(self.key(KeyKind::Reading, &format!("{}|{}|{read}", place.region, place.text)));
        }
        let place_text = recipient_place_text(&order.ship_to, place);
        let recipient = Recipient {
            name: self.fingerprint("recipient-name", &normalize::name(&order.ship_to.name)),
            place: self.fingerprint("recipient-place", &place_text),
            reading: given_reading.map(|r| self.fingerprint("recipient-reading", &r)),
            spoken_name: spoken_name.map(|r| self.fingerprint("recipient-reading", &r)),
            kana_reading: given_kana.map(|r| self.fingerprint("recipient-kana-reading", &r)),
            kana_name: kana_name.map(|r| self.fingerprint("recipient-kana-reading", &r)),
        };
        OrderIdentity {
            keys: keys.into_iter().collect(),
            recipient,
        }
    }
}

/// A reading of at least two words, a family and a given name: a family name alone (Rakuten leaves
/// `firstNameKana` empty now and then), or a name run together, says too little about who it is.
fn full_name(reading: String) -> Option<String> {
    (reading.split(' ').count() >= 2).then_some(reading)
}

/// The reading of the ship-to's name the mall gave (as given): the ship-to's own, else the buyer's when
/// the ship-to is the buyer by name.
fn recipient_kana(order: &Order) -> Option<&str> {
    let readable = |kana: &&str| reading::reading(kana).is_some();
    let own = order.ship_to.kana.as_deref().filter(readable);
    own.or_else(|| {
        let same_person = normalize::name(&order.ship_to.name) == normalize::name(&order.buyer.name);
        order.buyer.kana.as_deref().filter(|_| same_person).filter(readable)
    })
}

/// Where a person lives, as the keys write it: the prefecture (written, or else the one the postal code is
/// filed under) and the normalised place without the building's name. The postal code itself is left out,
/// so a buyer who skipped it, or mistyped it, on one mall is still recognised on the other.
#[derive(Clone)]
struct Place {
    region: String,
    text: String,
}

impl Place {
    /// Whether `a` and `b` are written alike in every field [`Place::of`] reads (so their places are one).
    fn same_fields(a: &PostalAddress, b: &PostalAddress) -> bool {
        a.prefecture == b.prefecture && a.city == b.city && a.lines == b.lines && a.postal_code == b.postal_code
    }

    /// None when nothing places it (no prefecture and no valid postal code) or it has no number (a block,
    /// a lot or a room): too thin to tell one home from another.
    fn of(address: &PostalAddress) -> Option<Self> {
        let lines: Vec<&str> = address.lines.iter().map(String::as_str).collect();
        let region = normalize::prefecture_of(&address.prefecture, &address.city, &lines)
            .or_else(|| normalize::prefecture_of_postal_code(&address.postal_code))?
            .to_owned();
        let text = place_key_text(address);
        text.chars()
            .any(|c| c.is_ascii_digit())
            .then_some(Self { region, text })
    }
}

/// What the recipient's `place` fingerprint is made of: the place when something places it, else the postal
/// code (if valid) and the normalised address.
fn recipient_place_text(address: &PostalAddress, place: Option<Place>) -> String {
    place.map(|p| format!("{}|{}", p.region, p.text)).unwrap_or_else(|| {
        let postal = normalize::postal_code(&address.postal_code).unwrap_or_default();
        format!("{postal}|{}", place_key_text(address))
    })
}

/// Whether two ship-tos are one place as the recipient check reads them (the names aside): the same text
/// as the recipient's `place` fingerprint, and something (a prefecture or a postal code, and a number)
/// places both. The buyer's related orders are the ones to the same place; this says which of them a
/// warehouse can pack into one parcel, so the two never disagree.
pub fn same_place(a: &PostalAddress, b: &PostalAddress) -> bool {
    let (Some(x), Some(y)) = (Place::of(a), Place::of(b)) else {
        return false;
    };
    recipient_place_text(a, Some(x)) == recipient_place_text(b, Some(y))
}

fn place_key_text(address: &PostalAddress) -> String {
    let lines: Vec<&str> = address.lines.iter().map(String::as_str).collect();
    normalize::place_key(&address.prefecture, &address.city, &lines)
}

/// The hashed identity of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIdentity {
    /// Sorted and distinct.
    pub keys: Vec<IdentityKey>,
    pub recipient: Recipient,
}

/// Optional mapping from mall item codes to the shop's one product code: the same product can carry
/// different codes per mall.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductMap(BTreeMap<ProductKey, ProductKey>);

impl ProductMap {
    pub fn new(map: BTreeMap<ProductKey, ProductKey>) -> Self {
        Self(map)
    }

    pub fn resolve(&self, code: &ProductKey) -> ProductKey {
        self.0.get(code).unwrap_or(code).clone()
    }

    /// The distinct product keys of an order after mapping.
    pub fn products_of(&self, order: &Order) -> Vec<ProductKey> {
        let set: BTreeSet<ProductKey> = order.lines.iter().map(|l| self.resolve(&l.product)).collect();
        set.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::order;

    fn hasher() -> IdentityHasher {
        IdentityHasher::new(b"test pepper".to_vec())
    }

    #[test]
    fn keys_are_hashes_that_hold_no_readable_data() {
        let o = order("1");
        let id = hasher().order_identity(&o);
        assert!(!id.keys.is_empty());
        for key in &id.keys {
            let text = key.as_str();
            assert!(
                !text.contains("example") && !text.contains("090") && !text.contains("山田"),
                "{text}"
            );
            assert_eq!(IdentityKey::parse(text).unwrap(), *key);
        }
    }

    #[test]
    fn a_reading_of_one_word_gives_no_reading_key() {
        for (name, kana) in [("山田 太郎", Some("ヤマダ")), ("Yamada", None), ("ヤマダタロウ", None)] {
            let mut o = order("1");
            o.buyer.kana = None;
            o.ship_to.name = name.into();
            o.ship_to.kana = kana.map(str::to_owned);
            let id = hasher().order_identity(&o);
            assert!(!id.keys.iter().any(|k| k.kind() == KeyKind::Reading), "{name} {kana:?}");
            assert_eq!(
                (id.recipient.reading.as_ref(), id.recipient.spoken_name.as_ref()),
                (None, None)
            );
        }
    }

    #[test]
    fn kana_compare_their_long_vowels_as_written_and_romaji_folds_them() {
        let recipient = |name: &str, kana: Option<&str>| {
            let mut o = order("1");
            o.buyer.kana = None;
            o.ship_to.name = name.into();
            o.ship_to.kana = kana.map(str::to_owned);
            hasher().order_identity(&o).recipient
        };
        for (a, b, alike) in [
            (
                recipient("コンドウ ユウキ", None),
                recipient("コンドウ ユキ", None),
                false,
            ),
            (
                recipient("近藤 勇気", Some("コンドウ ユウキ")),
                recipient("こんどう ゆき", None),
                false,
            ),
            (
                recipient("ユリ ヤマダ", None),
                recipient("山田 百合", Some("ヤマダ ユウリ")),
                false,
            ),
            (
                recipient("コンドウ ユウキ", None),
                recipient("こんどう ゆーき", None),
                true,
            ),
            (
                recipient("近藤 勇気", Some("コンドウ ユウキ")),
                recipient("Yuki Kondo", None),
                true,
            ),
            (recipient("Yuuki Kondou", None), recipient("コンドウ ユキ", None), true),
            (recipient("Yuki Kondo", None), recipient("Kondou Yuuki", None), true),
        ] {
            assert_eq!(a.sounds_like(&b), alike, "{a:?} / {b:?}");
            assert_eq!(b.sounds_like(&a), alike, "{b:?} / {a:?}");
        }
    }

    #[test]
    fn nothing_readable_about_the_person_is_in_the_keys_or_the_recipient() {
        let mut o = order("1");
        o.ship_to.kana = Some("ヤマダ タロウ".into());
        let mut romaji = order("2");
        romaji.ship_to.name = "Taro Yamada".into();
        for o in [o, romaji] {
            let id = hasher().order_identity(&o);
            assert!(id.keys.iter().any(|k| k.kind() == KeyKind::Reading), "{:?}", id.keys);
            let stored = serde_json::to_string(&id).unwrap().to_lowercase();
            for readable in [
                "山田",
                "ヤマダ",
                "yamada",
                "taro",
                "千代田",
                "1000001",
                "100-0001",
                "09012345678",
                "example",
            ] {
                assert!(!stored.contains(readable), "{readable} in {stored}");
            }
        }
    }

    /// One address as the malls and buyers really write it, one variant a row: (prefecture field, city
    /// field, address lines). Every row must give the same address key as the first.
    const ONE_ADDRESS: &[(&str, &str, &[&str])] = &[
        ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田101"]),
        // The prefecture repeated at the start of the address line, or the city too.
        ("東京都", "千代田区", &["東京都千代田区千代田1-2-3", "メゾン千代田101"]),
        ("東京都", "千代田区", &["千代田区千代田1-2-3 メゾン千代田101"]),
        // Left out of the fields and written in the line instead.
        ("", "", &["東京都千代田区千代田1-2-3 メゾン千代田101"]),
        ("", "千代田区", &["千代田1-2-3", "メゾン千代田101"]),
        ("東京都", "", &["千代田区千代田一丁目2番3号", "メゾン千代田101"]),
        // 丁目/番地/号 and every hyphen form.
        ("東京都", "千代田区", &["千代田1丁目2番地3号", "メゾン千代田101"]),
        ("東京都", "千代田区", &["千代田一丁目二番三号 メゾン千代田101"]),
        ("東京都", "千代田区", &["千代田1ー2ー3", "メゾン千代田101"]),
        ("東京都", "千代田区", &["千代田1−2−3", "メゾン千代田101"]),
        ("東京都", "千代田区", &["千代田１－２－３", "メゾン千代田１０１"]),
        ("東京都", "千代田区", &["千代田1‐2‐3-メゾン千代田-101"]),
        // Building names with and without spaces, full-width, half-width kana.
        ("東京都", "千代田区", &["千代田1-2-3 メゾン 千代田 101"]),
        ("東京都", "千代田区", &["千代田1-2-3　メゾン千代田　101"]),
        ("東京都", "千代田区", &["千代田1-2-3ﾒｿﾞﾝ千代田101"]),
        // Floor and room words.
        ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田101号室"]),
        ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田 101号"]),
        ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田 1階 101"]),
        ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田 1F 101号室"]),
    ];

    /// A rural address with 大字/字, written with and without them.
    const ONE_RURAL_ADDRESS: &[(&str, &str, &[&str])] = &[
        ("長野県", "北佐久郡軽井沢町", &["大字軽井沢1323-4"]),
        ("長野県", "北佐久郡軽井沢町", &["軽井沢1323番地4"]),
        ("長野県", "北佐久郡軽井沢町", &["字軽井沢1323−4"]),
        ("", "", &["長野県北佐久郡軽井沢町大字軽井沢１３２３－４"]),
    ];

    fn address_key(postal: &str, (prefecture, city, lines): (&str, &str, &[&str])) -> IdentityKey {
        let mut o = order("1");
        o.buyer.email = None;
        o.buyer.phone = None;
        o.buyer.address = None;
        o.ship_to.phone = None;
        o.ship_to.postal_code = postal.into();
        o.ship_to.prefecture = prefecture.into();
        o.ship_to.city = city.into();
        o.ship_to.lines = lines.iter().map(|l| l.to_string()).collect();
        let keys: Vec<IdentityKey> = hasher()
            .order_identity(&o)
            .keys
            .into_iter()
            .filter(|k| k.kind() == KeyKind::Address)
            .collect();
        let [key] = keys.as_slice() else {
            panic!("one address key for {lines:?}: {keys:?}")
        };
        key.clone()
    }

    #[test]
    fn one_address_written_every_way_the_malls_and_buyers_write_it_gives_one_key() {
        for (postal, table) in [("100-0001", ONE_ADDRESS), ("389-0102", ONE_RURAL_ADDRESS)] {
            let expected = address_key(postal, table[0]);
            let differing: Vec<_> = table[1..]
                .iter()
                .filter(|row| address_key(postal, **row) != expected)
                .collect();
            assert!(
                differing.is_empty(),
                "these rows differ from {:?}: {differing:#?}",
                table[0]
            );
        }
    }

    #[test]
    fn neighbours_in_one_building_or_one_block_stay_apart() {
        let base = address_key("100-0001", ONE_ADDRESS[0]);
        for other in [
            ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田102"][..]),
            ("東京都", "千代田区", &["千代田1-2-4", "メゾン千代田101"][..]),
            ("東京都", "千代田区", &["千代田1-23", "メゾン千代田101"][..]),
            ("東京都", "千代田区", &["千代田1-2-3", "メゾン千代田1101"][..]),
        ] {
            assert_ne!(address_key("100-0001", other), base, "{other:?}");
        }
    }

    #[test]
    fn a_different_pepper_gives_different_keys() {
        let o = order("1");
        let a = hasher().order_identity(&o);
        let b = IdentityHasher::new(b"other".to_vec()).order_identity(&o);
        assert!(a.keys.iter().all(|k| !b.keys.contains(k)));
    }

    #[test]
    fn the_same_customer_on_two_malls_shares_phone_and_address_keys() {
        let rakuten = order("1");
        let mut yahoo = order("2");
        yahoo.buyer.email = Some(crate::order::EmailAddress::parse("x-masked@pc.fw.rakuten.ne.jp").unwrap());
        yahoo.buyer.phone = Some("+81 90-1234-5678".into());
        yahoo.ship_to.phone = None;
        yahoo.ship_to.lines = vec!["千代田１丁目２番３号　メゾン千代田１０１".into()];
        yahoo.ship_to.name = "山田　太郎".into();
        let a = hasher().order_identity(&rakuten);
        let b = hasher().order_identity(&yahoo);
        let shared: Vec<_> = a.keys.iter().filter(|k| b.keys.contains(k)).map(|k| k.kind()).collect();
        assert!(shared.contains(&KeyKind::Phone), "{shared:?}");
        assert!(shared.contains(&KeyKind::Address), "{shared:?}");
        assert!(!shared.contains(&KeyKind::Email));
        assert_eq!(a.recipient, b.recipient);
    }

    /// The buyer's own address gives a key of its own: the ship-to's when it is the same home and person,
    /// another for another home (the key a later order shipped there has), or for another person at it.
    #[test]
    fn the_buyers_own_address_gives_the_key_an_order_shipped_there_would_have() {
        let address_keys = |o: &Order| -> BTreeSet<IdentityKey> {
            let keys = hasher().order_identity(o).keys;
            keys.into_iter().filter(|k| k.kind() == KeyKind::Address).collect()
        };
        let mut o = order("1");
        let mut home = o.ship_to.clone();
        home.name = String::new();
        home.phone = None;
        o.buyer.address = Some(home.clone());
        let shipped_here = address_keys(&o);
        assert_eq!(
            shipped_here.len(),
            1,
            "the buyer's home is the ship-to: {shipped_here:?}"
        );

        home.postal_code = "389-0102".into();
        home.prefecture = "長野県".into();
        home.city = "北佐久郡軽井沢町".into();
        home.lines = vec!["大字軽井沢1323-45".into()];
        o.buyer.address = Some(home.clone());
        let two_homes = address_keys(&o);
        assert_eq!(two_homes.len(), 2, "{two_homes:?}");
        let mut shipped_home = order("2");
        shipped_home.ship_to = home.clone();
        shipped_home.ship_to.name = o.buyer.name.clone();
        shipped_home.buyer.address = None;
        let home_key = address_keys(&shipped_home);
        assert_eq!(home_key.len(), 1);
        assert!(two_homes.is_superset(&home_key), "{two_homes:?} / {home_key:?}");
        assert!(shipped_here.is_subset(&two_homes));

        // A gift: the ship-to's home written as the buyer's own, another person's name on the parcel.
        let mut gift = order("3");
        let mut buyers_home = gift.ship_to.clone();
        buyers_home.name = String::new();
        gift.buyer.address = Some(buyers_home);
        gift.ship_to.name = "佐藤　花子".into();
        assert_eq!(address_keys(&gift).len(), 2, "one home, two people");
    }

    #[test]
    fn placeholder_phones_and_thin_addresses_give_no_keys() {
        let mut o = order("1");
        o.buyer.email = None;
        o.buyer.kana = None;
        o.buyer.phone = Some("000-0000-0000".into());
        o.ship_to.phone = None;
        o.ship_to.postal_code = String::new();
        o.ship_to.prefecture = String::new();
        assert!(
            hasher().order_identity(&o).keys.is_empty(),
            "nothing places the address"
        );
        o.ship_to.prefecture = "東京都".into();
        o.ship_to.lines = vec!["千代田 メゾン千代田".into()];
        assert!(hasher().order_identity(&o).keys.is_empty(), "no number in the address");
    }

    #[test]
    fn an_order_without_a_valid_postal_code_still_gets_the_address_key() {
        let with_code = address_key("100-0001", ONE_ADDRESS[0]);
        for postal in ["", "100-001", "〒", "不明", "1000-0001"] {
            assert_eq!(address_key(postal, ONE_ADDRESS[0]), with_code, "{postal:?}");
        }
        // Neither a prefecture nor a city written: the postal code's prefecture places it.
        assert_eq!(
            address_key("100-0001", ("", "", &["千代田区千代田1-2-3", "メゾン千代田101"])),
            with_code
        );
    }

    #[test]
    fn product_codes_map_to_one_product() {
        let mut o = order("1");
        let map = ProductMap::new(BTreeMap::from([(
            ProductKey::parse("rakuten-item-77").unwrap(),
            ProductKey::parse("SKU-A").unwrap(),
        )]));
        o.lines = crate::order::OrderLines::parse(vec![
            crate::testing::line("rakuten-item-77", 1),
            crate::testing::line("SKU-A", 2),
        ])
        .unwrap();
        assert_eq!(map.products_of(&o), vec![ProductKey::parse("SKU-A").unwrap()]);
    }
}
