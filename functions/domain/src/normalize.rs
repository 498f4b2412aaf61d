//! Normalisation of the personal data that identity keys are derived from.
//!
//! The same customer is written differently by every mall: 全角 or 半角, `丁目` or `-`, a space or an
//! ideographic space, `+81` or `0`. Identity keys are hashes of these normalised strings, so two spellings of
//! the same thing must come out identical, and different things must stay different. Everything here is
//! pure and offline.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Trimmed, lower-cased email (after NFKC, so a 全角 address counts).
///
/// For `gmail.com` / `googlemail.com` only, dots in the local part and a `+tag` are removed and the domain is
/// folded to `gmail.com`, because Gmail delivers all of those spellings to the same mailbox.
///
/// `None` when it is not a plausible address: no single `@`, empty local part or domain, a domain without a
/// dot (or starting or ending with one), or white space inside.
pub fn email(raw: &str) -> Option<String> {
    let text = nfkc(bounded(raw)).trim().to_lowercase();
    if text.chars().any(char::is_whitespace) {
        return None;
    }
    let (local, domain) = text.split_once('@')?;
    let plausible_domain = domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    if local.is_empty() || domain.contains('@') || !plausible_domain {
        return None;
    }
    if domain == "gmail.com" || domain == "googlemail.com" {
        let untagged = local.split('+').next().unwrap_or_default();
        let local: String = untagged.chars().filter(|&c| c != '.').collect();
        return (!local.is_empty()).then(|| format!("{local}@gmail.com"));
    }
    Some(format!("{local}@{domain}"))
}

/// Japanese phone number as digits only, e.g. `09012345678`.
///
/// As buyers type it: NFKC first, so 全角 digits count; a label before the number (`TEL:`, `Tel.`, `℡`,
/// `電話`, `電話番号:`, `携帯`, `☎`) is dropped. An extension after it (`内線12`, `ext. 12`, `x12`, `#12`)
/// stays, written `x12` after the digits (`0451234567x12`): colleagues who share an office's main number
/// are told apart by their extensions, so the number with an extension is not also the bare number. Spaces, every dash and long-vowel look-alike, parentheses and dots are separators; a `+` may
/// lead; any other character makes it `None`. An international `+81` / `81` prefix is folded to the
/// domestic leading `0` (`+81 (0)3 …` keeps its single `0`). A number labelled as a fax is `None`: it may be
/// an office's.
///
/// `None` unless 10 or 11 digits remain, and for placeholders that many customers type: all digits the same
/// (`000-0000-0000`) or a subscriber part of zeros (six or more trailing zeros, `090-0000-0000`).
pub fn phone(raw: &str) -> Option<String> {
    let text: String = nfkc(bounded(raw))
        .chars()
        .filter(|&c| !is_invisible(c))
        .collect::<String>()
        .to_lowercase();
    if text.contains("fax") || text.contains("ファクス") || text.contains("ファックス") {
        return None;
    }
    let (number, extension) = cut_extension(strip_phone_label(text.trim()));
    let extension = match extension {
        Some(written) => phone_extension(written)?,
        None => None,
    };
    let mut digits = String::new();
    let mut seen_plus = false;
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !seen_plus => seen_plus = true,
            c if c.is_whitespace() || is_dash(c) || is_long_vowel(c) || matches!(c, '(' | ')' | '.') => {}
            _ => return None,
        }
    }
    // Domestic numbers start with 0, so a leading "81" can only be Japan's country code.
    let national = match digits.strip_prefix("81") {
        Some(rest) if rest.starts_with('0') => rest.to_owned(),
        Some(rest) => format!("0{rest}"),
        None => digits,
    };
    if !(10..=11).contains(&national.len()) || is_placeholder_phone(&national) {
        return None;
    }
    Some(match extension {
        Some(extension) => format!("{national}x{extension}"),
        None => national,
    })
}

/// The digits of an extension as written after its marker (`12`, ` 12）`, `.12`); `Some(None)` when the
/// marker has no number after it, `None` (no phone at all) when anything but separators surrounds the
/// digits or there are more than six of them.
fn phone_extension(written: &str) -> Option<Option<String>> {
    let mut digits = String::new();
    for c in written.chars() {
        match c {
            '0'..='9' => digits.push(c),
            c if c.is_whitespace() || is_dash(c) || matches!(c, '(' | ')' | '.' | ':' | '：' | '#') => {}
            _ => return None,
        }
    }
    match digits.len() {
        0 => Some(None),
        1..=6 => Some(Some(digits)),
        _ => None,
    }
}

/// Words that label a phone number, lower-cased, longest first where one starts another.
const PHONE_LABELS: [&str; 15] = [
    "telephone",
    "phone",
    "mobile",
    "cell",
    "tel",
    "携帯電話番号",
    "携帯電話",
    "携帯番号",
    "携帯",
    "電話番号",
    "電話",
    "連絡先",
    "自宅",
    "☎",
    "📞",
];

/// The number without the labels before it and the `:` or `.` after them.
fn strip_phone_label(text: &str) -> &str {
    let mut rest = text;
    loop {
        // A label may stand in brackets: `【携帯】`, `[TEL]`, `(電話)`.
        let trimmed = rest.trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, ':' | '.' | '：' | '【' | '】' | '[' | ']' | '(' | ')' | '〔' | '〕')
        });
        match PHONE_LABELS.iter().find_map(|label| trimmed.strip_prefix(label)) {
            Some(after) => rest = after,
            None => return trimmed,
        }
    }
}

/// The number and what follows an extension's marker (`内線12`, `ext.12`, `x12`, `#12`), if there is one.
fn cut_extension(text: &str) -> (&str, Option<&str>) {
    const MARKERS: [&str; 6] = ["内線", "内", "extension", "ext", "x", "#"];
    let first_digit = text.find(|c: char| c.is_ascii_digit()).unwrap_or(text.len());
    let found = MARKERS
        .iter()
        .filter_map(|marker| {
            text[first_digit..]
                .find(marker)
                .map(|at| (first_digit + at, marker.len()))
        })
        // The earliest marker, and the longest of those that start there (`内線` before `内`).
        .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
    match found {
        Some((at, len)) => (&text[..at], Some(&text[at + len..])),
        None => (text, None),
    }
}

/// 7-digit Japanese postal code as buyers type it: `123-4567`, `〒123-4567`, `〒 123 4567`, `１２３－４５６７`,
/// `郵便番号:1234567` or `1234567` (any dash look-alike or white space between the two groups); `None`
/// for anything else (too few or too many digits, letters), so a malformed code is treated as missing.
pub fn postal_code(raw: &str) -> Option<String> {
    let text: String = nfkc(bounded(raw))
        .chars()
        .filter(|&c| !c.is_whitespace() && !is_invisible(c))
        .collect();
    let text = text.strip_prefix("郵便番号").unwrap_or(&text);
    let text = text.trim_start_matches([':', '：']);
    let text = text.strip_prefix('〒').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();
    let all_digits = |cs: &[char]| cs.iter().all(char::is_ascii_digit);
    let valid = match chars.as_slice() {
        cs if cs.len() == 7 => all_digits(cs),
        [head @ .., sep, _, _, _, _] if head.len() == 3 => {
            (is_dash(*sep) || is_long_vowel(*sep)) && all_digits(head) && all_digits(&chars[4..])
        }
        _ => false,
    };
    valid.then(|| chars.iter().filter(|c| c.is_ascii_digit()).collect())
}

/// Normalised address text from the address parts (prefecture, city, address lines, in that order; any of
/// them may be empty).
///
/// NFKC, then: white space (incl. U+3000), `、` and `,` removed, and zero-width and variation characters;
/// ASCII lower-cased; old and variant kanji in their standard form ([`standard_kanji`]: 﨑 is 崎); `ヶ`,
/// `ケ`, `ヵ`, `が` between two kanji unified (霞ヶ関 = 霞が関); `大字` dropped, and `字` where it directly
/// follows 町/村/市/区 or starts the text; kanji numerals before `丁目`/`丁`/`番地`/`番`/`号` written as
/// digits (or as the last number after one, also after `の`: `百二十三番地の四` is `123-4`), but not in a
/// town named `〇番町`; those markers after a digit folded to `-` (`号室` dropped, so `101号室` is `101`); a
/// floor before a room dropped, and `3階` written `3f`; `#` before a number a separator (`#101`); every dash
/// look-alike unified to `-`, and `ー` too when it follows a digit, or precedes one without following kana
/// (otherwise it is a long vowel and kept, as in `コーポ` or `タワー1205`).
///
/// A `-` survives only between two digits, so `1-2-3`, `1丁目2番3号` and `1ー2ー3` agree, with or without a
/// dash before a building name. White space between two digits (also between parts) counts as a separator,
/// so `2-21-1 1F` does not become block `2-21-11`.
pub fn address(parts: &[&str]) -> String {
    let joined = parts.iter().map(|part| bounded(part)).collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = nfkc(bounded(&joined))
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(|c| {
            if c.is_whitespace() || matches!(c, '、' | ',') {
                ' '
            } else {
                standard_kanji(c.to_ascii_lowercase())
            }
        })
        .collect();
    let chars = fold_small_ke(&chars);
    let chars = drop_aza_prefixes(&chars);
    let chars = kanji_numerals_to_digits(&chars);
    let chars = basement_as_b(&chars);
    let chars = drop_floor_before_room(&chars);
    let chars = fold_floor_word(&chars);
    let chars = fold_separators(&chars);
    tidy_dashes(&chars)
}

/// `ヶ`, `ケ`, `ヵ`, `が`, `ガ` and `个` between two kanji are one sign (霞ヶ関, 霞ケ関, 霞が関).
fn fold_small_ke(chars: &[char]) -> Vec<char> {
    (0..chars.len())
        .map(|i| {
            let between_kanji = i > 0 && is_kanji(chars[i - 1]) && chars.get(i + 1).is_some_and(|&n| is_kanji(n));
            match chars[i] {
                'ヶ' | 'ケ' | 'ヵ' | 'が' | 'ガ' | '个' if between_kanji => 'ケ',
                c => c,
            }
        })
        .collect()
}

/// `地下1階` as `b1階`: a basement floor is not the floor above ground with the same number.
fn basement_as_b(chars: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '地' && chars.get(i + 1) == Some(&'下') && chars.get(i + 2).is_some_and(char::is_ascii_digit) {
            out.push('b');
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// `3階` as `3f`: the floor written either way.
fn fold_floor_word(chars: &[char]) -> Vec<char> {
    (0..chars.len())
        .map(|i| match chars[i] {
            '階' if i > 0 && chars[i - 1].is_ascii_digit() => 'f',
            c => c,
        })
        .collect()
}

fn is_kanji(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}' | '々')
}

/// The place of a ship-to or buyer address, normalised as [`address`] does, in one canonical form however
/// the prefecture and the city were split between the fields and the lines: the prefecture is dropped
/// (every key names it, or the postal code, beside the place), the county (`北佐久郡`) is dropped whether it
/// was written or not (the town's name follows it in every address), and the city is written once,
/// whether the city field held it, the line repeated it, or only the line had it.
pub fn place(prefecture: &str, city: &str, lines: &[&str]) -> String {
    let city = address(&[city]);
    let rest = address(lines);
    let prefecture = address(&[prefecture]);
    // A prefecture field without its suffix (`大阪`) stands for the whole name (`大阪府`): never strip the
    // bare word from a city (`大阪市`).
    let prefecture = full_prefecture(&prefecture).map_or(prefecture, str::to_owned);
    let mut rest = rest.as_str();
    // The prefecture (the field's, or any one written at the start of the line) and the city, each
    // repeated at the start of the line or not.
    if !prefecture.is_empty() {
        rest = rest.strip_prefix(prefecture.as_str()).unwrap_or(rest);
    }
    if let Some(written) = PREFECTURES.iter().find(|p| rest.starts_with(**p)) {
        rest = &rest[written.len()..];
    }
    let city_field = address(&[city.strip_prefix(prefecture.as_str()).unwrap_or(&city)]);
    let city_field = PREFECTURES
        .iter()
        .find_map(|p| city_field.strip_prefix(*p))
        .map(str::to_owned)
        .unwrap_or(city_field);
    let bare_city = drop_county(&city_field);
    let rest = if city_field.is_empty() {
        // The line starts with the municipality: its county, if any, is dropped here.
        drop_county(rest)
    } else {
        // The line starts with the town, or repeats the city (with its county or without).
        let without_county = drop_county(rest);
        [rest, without_county.as_str()]
            .into_iter()
            .find_map(|text| {
                [city_field.as_str(), bare_city.as_str()]
                    .into_iter()
                    .find_map(|c| text.strip_prefix(c))
            })
            .unwrap_or(rest)
            .to_owned()
    };
    address(&[&bare_city, &rest])
}

/// The prefecture a prefecture field names, written in full (`大阪` is `大阪府`).
fn full_prefecture(field: &str) -> Option<&'static str> {
    PREFECTURES
        .iter()
        .copied()
        .find(|p| *p == field || (p.chars().count() > 2 && p.strip_suffix(['都', '府', '県']) == Some(field)))
}

/// The place as identity keys compare it: [`place`] without the building's name. What stays after the
/// block number (`1-2-3`) is what tells one home from another: room and floor numbers (`二階` is `2f`,
/// `地下1階` is `b1f`), a wing (`5号棟`, `A棟`, `東棟`, `中央棟`, `本館`, `イースト棟`, a wing word ending
/// the name: `Park Tower East`), a lettered room (`イ号室`), a numbered building (`第二メゾン` is
/// `第2…`), a single letter (`B-101`), a roman numeral (`Ⅱ`), a lot sign (`甲`); the name itself is
/// dropped, since buyers write it in Latin letters or katakana, abbreviate it or leave it out
/// (`1-2-3 メゾン千代田101`, `1-2-3 Maison Chiyoda 101` and `1-2-3-101` are one home). Different rooms stay
/// different.
///
/// The block number is the first run of numbers that is not followed by a word that numbers a part of a
/// town (`北1条西2-3-4`: the `1` of `1条` belongs to the town's name).
pub fn place_key(prefecture: &str, city: &str, lines: &[&str]) -> String {
    drop_building_name(&place(prefecture, city, lines))
}

/// The prefecture an address is in, from the prefecture field (`東京都`, or `東京` without its suffix) or
/// from the start of the city field or the first line; `None` when none names one.
pub fn prefecture_of(prefecture: &str, city: &str, lines: &[&str]) -> Option<&'static str> {
    let known = |text: &str| PREFECTURES.iter().copied().find(|p| text.starts_with(*p));
    full_prefecture(&address(&[prefecture]))
        .or_else(|| known(&address(&[city])))
        .or_else(|| known(&address(lines)))
}

/// The prefecture a postal code is filed under, by its first three digits (the 郵便番号's 上3桁, which Japan
/// Post assigns by prefecture). A few border towns carry a neighbour's prefix (三重県木曽岬町 has Aichi's
/// 498, 隠岐 has Tottori's 684): for them this names the neighbour, which can only miss a link, never make
/// one, since the whole address must agree as well.
pub fn prefecture_of_postal_code(postal: &str) -> Option<&'static str> {
    let code = postal_code(postal)?;
    let head: u32 = code[..3].parse().ok()?;
    // (first prefix, index in PREFECTURES), ascending; each range runs to the next entry.
    const RANGES: [(u32, usize); 49] = [
        (1, 0),
        (10, 4),
        (20, 2),
        (30, 1),
        (40, 0),
        (100, 12),
        (210, 13),
        (260, 11),
        (300, 7),
        (320, 8),
        (330, 10),
        (370, 9),
        (380, 19),
        (400, 18),
        (410, 21),
        (440, 22),
        (500, 20),
        (510, 23),
        (520, 24),
        (530, 26),
        (600, 25),
        (630, 28),
        (640, 29),
        (650, 27),
        (680, 30),
        (690, 31),
        (700, 32),
        (720, 33),
        (740, 34),
        (760, 36),
        (770, 35),
        (780, 38),
        (790, 37),
        (800, 39),
        (840, 40),
        (850, 41),
        (860, 42),
        (870, 43),
        (880, 44),
        (890, 45),
        (900, 46),
        (910, 17),
        (920, 16),
        (930, 15),
        (940, 14),
        (960, 6),
        (980, 3),
        (990, 5),
        (1000, 0),
    ];
    RANGES
        .windows(2)
        .find(|pair| (pair[0].0..pair[1].0).contains(&head))
        .map(|pair| PREFECTURES[pair[0].1])
}

/// Words after a number that make it part of a town's name, not the block number: 北1条, 東2線, 第5地割,
/// 3区, 1番町 (written `1町` once `番` is folded), 2組, 4班, 5街区.
const TOWN_UNITS: [char; 9] = ['条', '線', '地', '割', '区', '町', '組', '班', '街'];

fn drop_building_name(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut from = 0;
    let chain_end = loop {
        let Some(start) = (from..chars.len()).find(|&j| chars[j].is_ascii_digit()) else {
            return text.to_owned();
        };
        let mut end = start;
        while end < chars.len()
            && (chars[end].is_ascii_digit()
                || (chars[end] == '-' && chars.get(end + 1).is_some_and(char::is_ascii_digit)))
        {
            end += 1;
        }
        let single_number = !chars[start..end].contains(&'-');
        match chars.get(end) {
            Some(c) if single_number && TOWN_UNITS.contains(c) => from = end,
            _ => break end,
        }
    };
    let (head, rest) = chars.split_at(chain_end);
    let mut out: Vec<char> = head.to_vec();
    let mut k = 0;
    while k < rest.len() {
        let c = rest[k];
        if c.is_ascii_digit() || c == '-' {
            out.push(c);
            k += 1;
            continue;
        }
        // One word: a run of Latin letters, of kana, or of anything else (kanji, signs).
        let class = script(c);
        let run_end = (k..rest.len())
            .find(|&j| rest[j].is_ascii_digit() || rest[j] == '-' || script(rest[j]) != class)
            .unwrap_or(rest.len());
        let run = &rest[k..run_end];
        let next = rest.get(run_end).copied();
        out.push('-');
        out.extend_from_slice(&kept_of_word(run, class, k == 0, next));
        out.push('-');
        k = run_end;
    }
    tidy_dashes(&out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Kana,
    Other,
}

fn script(c: char) -> Script {
    if c.is_ascii_alphabetic() {
        Script::Latin
    } else if is_kana(c) {
        Script::Kana
    } else {
        Script::Other
    }
}

/// Words that name one wing of a building, in Latin letters and katakana, kept where they end a name
/// (`Park Tower East`, `パークタワーウエスト`).
const WING_WORDS: [&str; 16] = [
    "east",
    "west",
    "north",
    "south",
    "center",
    "centre",
    "central",
    "annex",
    "イースト",
    "ウエスト",
    "ウェスト",
    "ノース",
    "サウス",
    "センター",
    "セントラル",
    "アネックス",
];

/// What of one word after the block number tells homes apart, the rest being the building's name: a
/// single letter or a roman numeral (`B-101`, `Ⅱ`), a lot sign first (`甲`), a wing word ending the word
/// ([`WING_WORDS`]), the word before 棟/館 (`イースト棟`, `East棟`; of kanji the one or two before it:
/// `中央棟`, `本館`, `5号棟`), and a kana or kanji before 号 (`イ号室`).
fn kept_of_word(run: &[char], class: Script, first: bool, next: Option<char>) -> Vec<char> {
    let before_wing = matches!(next, Some('棟' | '館'));
    let before_go = next == Some('号');
    match class {
        Script::Latin => {
            let numeral = run.len() <= 4 && run.iter().all(|c| matches!(c, 'i' | 'v' | 'x'));
            if run.len() == 1 || numeral || before_wing {
                return run.to_vec();
            }
            wing_word_ending(run)
        }
        Script::Kana if before_wing => run.to_vec(),
        Script::Kana if before_go => run[run.len() - 1..].to_vec(),
        Script::Kana => wing_word_ending(run),
        Script::Other => {
            let mut kept = vec![];
            if first && matches!(run[0], '甲' | '乙' | '丙' | '丁') {
                kept.push(run[0]);
            }
            // The kanji before each 棟/館 inside the word, and a lone one before 号 (号室 after a kana or
            // kanji: `ロ号室`).
            for (i, &c) in run.iter().enumerate() {
                if matches!(c, '棟' | '館') {
                    let one =
                        i >= 1 && matches!(run[i - 1], '東' | '西' | '南' | '北' | '本' | '別' | '新' | '旧' | '号');
                    let from = if one { i - 1 } else { i.saturating_sub(2) };
                    kept.extend_from_slice(&run[from..=i]);
                } else if c == '号' && i >= 1 && !matches!(run[i - 1], '棟' | '館') {
                    kept.extend_from_slice(&run[i - 1..=i]);
                }
            }
            if kept.is_empty() && before_go {
                kept.push(run[run.len() - 1]);
            }
            kept
        }
    }
}

fn wing_word_ending(run: &[char]) -> Vec<char> {
    let text: String = run.iter().collect();
    WING_WORDS
        .iter()
        .find(|w| text.ends_with(*w))
        .map_or(vec![], |w| w.chars().collect())
}

/// Drops a county (`北佐久郡`) before the town or village it contains (`軽井沢町`), so that it may be
/// written or left out: a short name ending in 郡 at the start, followed closely by a name ending in 町 or
/// 村. The cities named with 郡 (郡山市, 大和郡山市, 郡上市) are not counties and stay.
fn drop_county(text: &str) -> String {
    const CITIES: [&str; 3] = ["郡山市", "大和郡山市", "郡上市"];
    if CITIES.iter().any(|c| text.starts_with(c)) {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let Some(county_end) = chars.iter().take(6).position(|&c| c == '郡') else {
        return text.to_owned();
    };
    let named = county_end >= 1 && chars[..county_end].iter().all(|c| !c.is_ascii_digit());
    let town = chars[county_end + 1..]
        .iter()
        .take(7)
        .position(|&c| matches!(c, '町' | '村' | '区'))
        .is_some_and(|at| at >= 1 && matches!(chars[county_end + 1 + at], '町' | '村'));
    if named && town {
        chars[county_end + 1..].iter().collect()
    } else {
        text.to_owned()
    }
}

/// The 47 prefectures as addresses write them, in ISO 3166-2:JP order (JP-01 北海道 … JP-47 沖縄県).
pub const PREFECTURES: [&str; 47] = [
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
];

/// Drops a floor (`1階`, `1F`) written before a room number: `1F 101号室` is room `101`. A floor with no room
/// after it stays, since it is then all that tells two tenants of one building apart.
fn drop_floor_before_room(chars: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let standalone = out.last().is_none_or(|p| !p.is_ascii_alphanumeric());
        if standalone && chars[i].is_ascii_digit() {
            let digits_end = (i..chars.len())
                .find(|&j| !chars[j].is_ascii_digit())
                .unwrap_or(chars.len());
            let is_floor = matches!(chars.get(digits_end), Some('階' | 'f'))
                && chars.get(digits_end + 1).is_none_or(|c| !c.is_ascii_alphabetic());
            let room_follows = chars
                .get(digits_end + 1..)
                .and_then(|rest| rest.iter().find(|&&c| c != ' '))
                .is_some_and(char::is_ascii_digit);
            if is_floor && room_follows {
                i = digits_end + 1;
                while chars.get(i) == Some(&' ') {
                    i += 1;
                }
                // Keep one separator so the room number does not run into what came before.
                out.push(' ');
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Normalised person name: [`name_words`] joined without spaces. `山田　太郎`, `山田 太郎様`, `山田太郎` all
/// become `山田太郎`, and `渡邊 太郎` becomes `渡辺太郎`; `Taro  YAMADA` becomes `taroyamada`.
pub fn name(raw: &str) -> String {
    name_words(raw).concat()
}

/// The words of a person's name as the malls and buyers write it: NFKC; zero-width and variation
/// characters removed; split at every kind of white space (incl. U+3000 and no-break spaces), middle dots
/// (`・` `･` `·`) and commas; lower-cased; honorifics dropped (様, さま, サマ, 殿, どの, 御中 written after the
/// name, apart or attached, and `Mr.`, `Mrs.`, `Ms.`, `Miss`, `Dr.` before it, `sama` after it; not `san`,
/// which is also a surname); old
/// and variant kanji written in their standard form ([`standard_kanji`]).
pub fn name_words(raw: &str) -> Vec<String> {
    let text: String = nfkc(bounded(raw))
        .chars()
        .filter(|&c| !is_invisible(c))
        .map(standard_kanji)
        .collect::<String>()
        .to_lowercase();
    let mut words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '・' | '･' | '·' | ',' | '、'))
        .filter(|w| !w.is_empty())
        .collect();
    while let Some(first) = words.first()
        && words.len() > 1
        && ["mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss", "dr", "dr."].contains(first)
    {
        words.remove(0);
    }
    while let Some(last) = words.last()
        && words.len() > 1
        && ["様", "さま", "サマ", "殿", "どの", "御中", "sama", "様方"].contains(last)
    {
        words.pop();
    }
    let mut words: Vec<String> = words.into_iter().map(str::to_owned).collect();
    if let Some(last) = words.last_mut()
        && let Some(bare) = ["様", "さま", "サマ", "殿", "御中"]
            .iter()
            .find_map(|h| last.strip_suffix(h).filter(|b| !b.is_empty()))
    {
        *last = bare.to_owned();
    }
    words
}

/// Characters that take no room and change nothing a person reads: the soft hyphen, zero-width spaces and
/// joiners, the word joiner, the byte-order mark, and the variation selectors that pick a kanji's glyph (辻󠄀, 葛󠄀).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180D}')
}

/// Old (旧字体) and variant (異体字) kanji that buyers, malls and shipping labels use interchangeably in
/// names and place names, with the standard form each is written as.
///
/// Source: the traditional forms printed in brackets beside their characters in the 常用漢字表 (Cabinet
/// Notice No. 2 of 2010: 髙 is not among them, 邊/邉, 齋, 澤, 濱, 櫻, 廣, 國 … are), and the surname
/// variants that the Ministry of Justice's 戸籍統一文字 relate to a standard character (髙, 﨑, 嵜, 邉, 嶋,
/// 嶌, 冨, 栁, 濵, 𠮷, 𡈽, 槇). Only pairs that are one character written two ways are listed: 斎 and 斉,
/// both read さい, are different characters and stay apart (齋 folds to 斎, 齊 to 斉). Compatibility
/// ideographs that NFKC already maps (塚, 﨔 …) need no entry; 﨑 (U+FA11) is one NFKC keeps, so it is here.
pub const VARIANT_KANJI: [(char, char); 62] = [
    ('髙', '高'),
    ('﨑', '崎'),
    ('嵜', '崎'),
    ('邊', '辺'),
    ('邉', '辺'),
    ('齋', '斎'),
    ('齊', '斉'),
    ('澤', '沢'),
    ('濱', '浜'),
    ('濵', '浜'),
    ('櫻', '桜'),
    ('廣', '広'),
    ('國', '国'),
    ('實', '実'),
    ('惠', '恵'),
    ('榮', '栄'),
    ('冨', '富'),
    ('嶋', '島'),
    ('嶌', '島'),
    ('眞', '真'),
    ('槇', '槙'),
    ('淺', '浅'),
    ('瀨', '瀬'),
    ('當', '当'),
    ('會', '会'),
    ('德', '徳'),
    ('來', '来'),
    ('萬', '万'),
    ('與', '与'),
    ('龍', '竜'),
    ('黑', '黒'),
    ('藏', '蔵'),
    ('壽', '寿'),
    ('豐', '豊'),
    ('禮', '礼'),
    ('靜', '静'),
    ('淸', '清'),
    ('增', '増'),
    ('條', '条'),
    ('彌', '弥'),
    ('聰', '聡'),
    ('曾', '曽'),
    ('檜', '桧'),
    ('栁', '柳'),
    ('𠮷', '吉'),
    ('𡈽', '土'),
    ('戶', '戸'),
    ('團', '団'),
    ('圓', '円'),
    ('嶽', '岳'),
    ('鐵', '鉄'),
    ('關', '関'),
    ('澁', '渋'),
    ('遙', '遥'),
    ('穗', '穂'),
    ('縣', '県'),
    ('繩', '縄'),
    ('驛', '駅'),
    ('學', '学'),
    ('兒', '児'),
    ('峯', '峰'),
    ('舘', '館'),
];

/// The standard form of an old or variant kanji ([`VARIANT_KANJI`]); any other character as it is.
pub fn standard_kanji(c: char) -> char {
    // Asked of every character of every name and address: a binary search, not a walk through the table.
    static SORTED: std::sync::LazyLock<Vec<(char, char)>> = std::sync::LazyLock::new(|| {
        let mut sorted = VARIANT_KANJI.to_vec();
        sorted.sort_unstable();
        sorted
    });
    match SORTED.binary_search_by_key(&c, |&(variant, _)| variant) {
        Ok(at) => SORTED[at].1,
        Err(_) => c,
    }
}

/// Dashes, hyphens, minus signs and rules that people (or IMEs) put between address or phone number groups.
const DASHES: [char; 17] = [
    '-', '\u{02D7}', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2043}', '\u{2212}',
    '\u{2500}', '\u{2501}', '\u{2E3A}', '\u{2E3B}', '\u{FE58}', '\u{FE63}', '\u{FF0D}',
];

fn is_dash(c: char) -> bool {
    DASHES.contains(&c)
}

/// Katakana prolonged sound mark, full and half width: a vowel inside words, a hyphen after a Japanese IME.
fn is_long_vowel(c: char) -> bool {
    matches!(c, 'ー' | 'ｰ')
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー' | '\u{31F0}'..='\u{31FF}')
}

/// Numbers typed to get past a required field: all one digit, a subscriber part of one digit repeated
/// (the last seven: `090-1111-1111`, `03-9999-9999`, `045-111-1111`) or of six or more zeros, or a run
/// of consecutive digits up or down (`0123456789`, `012-345-6789`, `09876543210`). A real number may
/// end in `1111`; none is a run of seven.
fn is_placeholder_phone(digits: &str) -> bool {
    let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let all_same = |tail: &[u8]| tail.iter().all(|&x| x == tail[0]);
    let subscriber = &d[d.len().saturating_sub(7)..];
    let trailing_zeros = d.iter().rev().take_while(|&&x| x == 0).count();
    let step = |by: u8| d.windows(2).all(|w| w[1] == (w[0] + by) % 10);
    all_same(&d) || all_same(subscriber) || trailing_zeros >= 6 || step(1) || step(9)
}

/// Drops `大字` anywhere and `字` right after 町/村/市/区 or at the start: both only announce a place name.
fn drop_aza_prefixes(chars: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut rest = chars.iter().copied().peekable();
    while let Some(c) = rest.next() {
        if c == '大' && rest.peek() == Some(&'字') {
            rest.next();
            continue;
        }
        let previous = out.iter().rev().find(|&&p| p != ' ');
        if c == '字' && previous.is_none_or(|p| matches!(p, '町' | '村' | '市' | '区')) {
            continue;
        }
        out.push(c);
    }
    out
}

fn kanji_digit(c: char) -> Option<u32> {
    let digit = match c {
        '〇' => 0,
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    };
    Some(digit)
}

fn is_kanji_numeral(c: char) -> bool {
    kanji_digit(c).is_some() || matches!(c, '十' | '百')
}

/// Value of a kanji numeral: positional (`一〇` = 10) or with 十/百 (`二十三` = 23, `百五` = 105), up to 999.
fn kanji_number(run: &[char]) -> Option<u32> {
    if !run.iter().any(|&c| matches!(c, '十' | '百')) {
        return run
            .iter()
            .try_fold(0u32, |n, &c| n.checked_mul(10)?.checked_add(kanji_digit(c)?));
    }
    let mut total = 0;
    let mut pending: Option<u32> = None;
    let mut last_unit = 1000;
    for &c in run {
        match c {
            '十' | '百' => {
                let unit = if c == '百' { 100 } else { 10 };
                if unit >= last_unit {
                    return None;
                }
                total += pending.take().unwrap_or(1) * unit;
                last_unit = unit;
            }
            // A zero inside 百〇五 only fills a place.
            '〇' => {}
            _ => {
                if pending.replace(kanji_digit(c)?).is_some() {
                    return None;
                }
            }
        }
    }
    Some(total + pending.unwrap_or(0))
}

/// True when `out` ends with 丁目/番地/丁/番 written after a digit, i.e. a numbered address part.
fn ends_with_numbered_unit(out: &[char]) -> bool {
    let units: [&[char]; 4] = [&['丁', '目'], &['番', '地'], &['丁'], &['番']];
    units
        .iter()
        .find_map(|unit| out.strip_suffix(*unit))
        .is_some_and(|before| before.last().is_some_and(char::is_ascii_digit))
}

/// Writes kanji numerals as digits where they number an address part: directly before 丁/番/号
/// (`二丁目` -> `2丁目`), or as the last number after such a part (`一丁目一番一` -> `1丁目1番1`) when
/// only the end, ASCII or a dash follows. Elsewhere they are names (`三田`, `一宮市`) and stay.
fn kanji_numerals_to_digits(chars: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if !is_kanji_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = chars[i..]
            .iter()
            .position(|&c| !is_kanji_numeral(c))
            .map_or(chars.len(), |n| i + n);
        let run = &chars[i..end];
        let next = chars.get(end).copied();
        // 一番町, 二番町 … are town names (`番町`), not a 番地.
        let town_name = next == Some('番') && chars.get(end + 1) == Some(&'町');
        // Also a floor (`二階`) and an ordinal (`第二メゾン`).
        let before_unit = (matches!(next, Some('丁' | '番' | '号' | '階')) && !town_name) || out.last() == Some(&'第');
        // After 番地 or a number, or after `の` that follows one (`百二十三番地の四`).
        let numbered_before = ends_with_numbered_unit(&out)
            || out.split_last().is_some_and(|(&last, before)| {
                last == 'の' && (ends_with_numbered_unit(before) || before.last().is_some_and(char::is_ascii_digit))
            });
        let ends_number = numbered_before && next.is_none_or(|c| c.is_ascii() || is_dash(c) || is_long_vowel(c));
        match kanji_number(run) {
            Some(n) if before_unit || ends_number => out.extend(n.to_string().chars()),
            _ => out.extend_from_slice(run),
        }
        i = end;
    }
    out
}

/// Removes white space and turns every separator into `-`: dash look-alikes, `ー` after a digit or before one
/// (but not after kana), 丁目/丁/番地/番/号 after a digit, `の` in `5番地の3`, and white space between two
/// digits. `号室` after a digit is dropped; `号棟` / `号館` stay, they name a building.
fn fold_separators(chars: &[char]) -> Vec<char> {
    // For each position, whether the first character at or after it that is not a space is a digit: one
    // pass from the end, so the look-ahead costs nothing per character.
    let mut digit_ahead = vec![false; chars.len() + 1];
    for i in (0..chars.len()).rev() {
        digit_ahead[i] = if chars[i] == ' ' {
            digit_ahead[i + 1]
        } else {
            chars[i].is_ascii_digit()
        };
    }
    let next_non_space_is_digit = |from: usize| digit_ahead.get(from).copied().unwrap_or(false);
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_digit = out.last().is_some_and(char::is_ascii_digit);
        let mut step = 1;
        match c {
            ' ' => {
                if after_digit && next_non_space_is_digit(i + 1) {
                    out.push('-');
                }
            }
            c if is_long_vowel(c) => {
                // After kana it is a long vowel (タワー1205), unless it sits between digits (1ー2ー3).
                let after_kana = out.last().is_some_and(|&p| is_kana(p));
                let separates = after_digit || (!after_kana && next_non_space_is_digit(i + 1));
                out.push(if separates { '-' } else { 'ー' });
            }
            c if is_dash(c) => out.push('-'),
            '号' if after_digit => match next {
                Some('室') => step = 2,
                Some('棟' | '館') => out.push('号'),
                _ => out.push('-'),
            },
            '丁' | '番' if after_digit => {
                let long_form = if c == '丁' { '目' } else { '地' };
                if next == Some(long_form) {
                    step = 2;
                }
                out.push('-');
            }
            'の' if (after_digit || out.last() == Some(&'-')) && next.is_some_and(|n| n.is_ascii_digit()) => {
                out.push('-');
            }
            // `#101`: a room number.
            '#' if next.is_some_and(|n| n.is_ascii_digit()) => out.push('-'),
            _ => out.push(c),
        }
        i += step;
    }
    out
}

/// Keeps a `-` only between two digits, once: elsewhere (start, end, before a building name) it means nothing.
/// One pass: a run of dashes is remembered and written only when a digit follows it.
fn tidy_dashes(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len());
    let mut pending = false;
    let mut last_is_digit = false;
    for &c in chars {
        if c == '-' {
            pending |= last_is_digit;
            continue;
        }
        if pending && c.is_ascii_digit() {
            out.push('-');
        }
        pending = false;
        last_is_digit = c.is_ascii_digit();
        out.push(c);
    }
    out
}

/// Fields longer than this are cut before they are normalised: no name, phone or address is anywhere near
/// it, and every step stays cheap however long a hostile or broken payload's field is.
pub const MAX_FIELD_CHARS: usize = 1_000;

/// `text` in Unicode normalisation form KC, borrowed as it is when a quick check finds it in that form
/// already (most text: ASCII, kana, kanji, half-width digits), so only text that needs it is decomposed
/// and composed again.
fn nfkc(text: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfkc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfkc().collect())
    }
}

/// The first [`MAX_FIELD_CHARS`] characters of a field.
fn bounded(raw: &str) -> &str {
    raw.char_indices()
        .nth(MAX_FIELD_CHARS)
        .map_or(raw, |(at, _)| &raw[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_already_in_nfkc_is_kept_and_any_other_is_normalised() {
        for text in [
            "taro.yamada@example.com",
            "東京都千代田区千代田1-2-3 メゾン千代田101",
            "ヤマダ タロウ",
            "ＴＡＲＯ＠ｅｘａｍｐｌｅ．ｃｏｍ",
            "千代田１－２－３",
            "ﾔﾏﾀﾞ ﾀﾛｳ",
            "㈱山田商店 ㍻",
            "e\u{301}cole",
            "\u{FA11}崎",
            "",
        ] {
            let expected: String = text.nfkc().collect();
            assert_eq!(nfkc(text), expected, "{text:?}");
            assert_eq!(matches!(nfkc(text), Cow::Borrowed(_)), expected == text, "{text:?}");
        }
    }

    fn assert_all_equal(variants: &[&[&str]]) {
        let expected = address(variants[0]);
        for parts in &variants[1..] {
            assert_eq!(address(parts), expected, "{parts:?} vs {:?}", variants[0]);
        }
    }

    // --- email ---

    #[test]
    fn gmail_dots_tags_and_googlemail_fold_to_one_address() {
        assert_eq!(
            email("Taro.Yamada+shop@Gmail.com").as_deref(),
            Some("taroyamada@gmail.com")
        );
        assert_eq!(
            email("taroyamada@googlemail.com").as_deref(),
            Some("taroyamada@gmail.com")
        );
        assert_eq!(
            email("  t.a.r.o.yamada@GMAIL.COM \n").as_deref(),
            Some("taroyamada@gmail.com")
        );
    }

    #[test]
    fn other_providers_are_only_trimmed_and_lower_cased() {
        assert_eq!(
            email(" Taro.Yamada+x@docomo.ne.jp ").as_deref(),
            Some("taro.yamada+x@docomo.ne.jp")
        );
    }

    #[test]
    fn fullwidth_email_is_the_same_address() {
        assert_eq!(
            email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ"),
            email("taro@example.co.jp")
        );
    }

    #[test]
    fn implausible_emails_are_none() {
        for raw in [
            "not an email",
            "",
            "   ",
            "taro",
            "@example.com",
            "taro@",
            "taro@localhost",
            "taro@@example.com",
            "ta@ro@example.com",
            "ta ro@example.com",
            "taro@.com",
            "taro@example.",
            "+shop@gmail.com",
            "...@gmail.com",
        ] {
            assert_eq!(email(raw), None, "{raw:?}");
        }
    }

    // --- phone ---

    #[test]
    fn international_fullwidth_and_spaced_mobile_numbers_normalise_equal() {
        for raw in [
            "+81 90-1234-5678",
            "090-1234-5678",
            "０９０－１２３４－５６７８",
            "090 1234 5678",
            "819012345678",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("09012345678"), "{raw:?}");
        }
    }

    #[test]
    fn trunk_zero_in_parentheses_after_country_code_is_kept_once() {
        assert_eq!(phone("+81 (0)3 1234 5678").as_deref(), Some("0312345678"));
        assert_eq!(phone("+81-3-1234-5678").as_deref(), Some("0312345678"));
    }

    #[test]
    fn parentheses_dots_and_dash_look_alikes_are_separators() {
        for raw in [
            "03(1234)5678",
            "03.1234.5678",
            "03−1234−5678",
            "03ー1234ー5678",
            "03–1234—5678",
            "（03）1234-5678",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("0312345678"), "{raw:?}");
        }
    }

    #[test]
    fn placeholder_phone_numbers_are_none() {
        for raw in [
            "000-0000-0000",
            "0000000000",
            "09000000000",
            "090-0000-0000",
            "03-0000-0000",
            "1111111111",
        ] {
            assert_eq!(phone(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn real_numbers_ending_in_a_few_zeros_or_ones_or_a_short_run_are_kept() {
        assert_eq!(phone("03-1234-0000").as_deref(), Some("0312340000"));
        assert_eq!(phone("03-3212-1111").as_deref(), Some("0332121111"));
        assert_eq!(phone("045-123-4567").as_deref(), Some("0451234567"));
        assert_eq!(phone("090-1111-2222").as_deref(), Some("09011112222"));
    }

    #[test]
    fn phone_numbers_of_the_wrong_length_or_with_letters_are_none() {
        for raw in [
            "12345",
            "",
            "03-1234-567",
            "090-1234-56789",
            "tel 031234567",
            "電話 なし",
            "03+12345678",
            "FAX 03-1234-5678",
            "03-1234-5678 / 090-1234-5678",
        ] {
            assert_eq!(phone(raw), None, "{raw:?}");
        }
    }

    // --- postal code ---

    #[test]
    fn postal_code_spellings_normalise_equal() {
        for raw in [
            "〒100-0001",
            "１００－０００１",
            "100-0001",
            "1000001",
            " 〒 100ー0001 ",
            "100−0001",
        ] {
            assert_eq!(postal_code(raw).as_deref(), Some("1000001"), "{raw:?}");
        }
    }

    #[test]
    fn malformed_postal_codes_are_none() {
        for raw in ["100-001", "1000-001", "100000", "10000011", "100_0001", "abc-defg", ""] {
            assert_eq!(postal_code(raw), None, "{raw:?}");
        }
    }

    // --- name ---

    #[test]
    fn name_spacing_and_width_variants_normalise_equal() {
        for raw in ["山田　太郎", "山田 太郎", "山田太郎", " 山田  太郎 "] {
            assert_eq!(name(raw), "山田太郎", "{raw:?}");
        }
        assert_eq!(name("Taro  YAMADA"), "taroyamada");
        assert_eq!(name("Ｔａｒｏ　ＹＡＭＡＤＡ"), "taroyamada");
    }

    #[test]
    fn middle_dots_in_names_are_removed() {
        for raw in ["ジョン・スミス", "ｼﾞｮﾝ･ｽﾐｽ", "ジョン·スミス", "ジョン スミス"]
        {
            assert_eq!(name(raw), "ジョンスミス", "{raw:?}");
        }
    }

    // --- address ---

    #[test]
    fn fullwidth_and_halfwidth_addresses_normalise_equal() {
        assert_all_equal(&[
            &["東京都", "千代田区", "千代田1-1-1"],
            &["東京都", "千代田区", "千代田１－１－１"],
            &["東京都", "千代田区", "千代田１-１-１"],
        ]);
        assert_eq!(
            address(&["東京都", "千代田区", "千代田1-1-1"]),
            "東京都千代田区千代田1-1-1"
        );
    }

    #[test]
    fn every_hyphen_variant_normalises_equal() {
        let variants: Vec<String> = ["-", "‐", "‑", "‒", "–", "—", "―", "−", "ー", "ｰ", "－"]
            .iter()
            .map(|dash| format!("千代田1{dash}1{dash}1"))
            .collect();
        let expected = address(&["東京都", "千代田区", "千代田1-1-1"]);
        for line in &variants {
            assert_eq!(address(&["東京都", "千代田区", line]), expected, "{line:?}");
        }
    }

    #[test]
    fn chome_ban_go_spellings_normalise_equal() {
        assert_all_equal(&[
            &["東京都", "千代田区", "千代田1-1-1"],
            &["東京都", "千代田区", "千代田一丁目1番1号"],
            &["東京都 千代田区 千代田１丁目１番地１"],
            &["東京都", "千代田区", "千代田1ー1ー1"],
            &["東京都", "千代田区", "千代田 1‐1‐1"],
            &["東京都", "千代田区", "千代田１−１−１"],
            &["東京都", "千代田区", "千代田1丁目1-1"],
            &["東京都", "千代田区", "千代田一丁目一番一号"],
            &["東京都", "千代田区", "千代田一丁目一番一"],
            &["", "", "東京都千代田区千代田1-1-1"],
            &["東京都　千代田区　千代田　１－１－１"],
        ]);
    }

    #[test]
    fn kanji_numerals_before_address_markers_become_digits() {
        assert_eq!(address(&["本町十二丁目"]), "本町12");
        assert_eq!(address(&["本町二十丁目"]), "本町20");
        assert_eq!(address(&["本町二十三番地"]), "本町23");
        assert_eq!(address(&["本町百五番地"]), "本町105");
        assert_eq!(address(&["本町百〇五番地"]), "本町105");
        assert_eq!(address(&["本町九百九十九番地"]), "本町999");
        assert_eq!(address(&["本町一〇番地"]), "本町10");
        assert_eq!(address(&["本町三丁5番地"]), "本町3-5");
        assert_all_equal(&[
            &["本町3丁目12番地5"],
            &["本町三丁目十二番地五"],
            &["本町三丁目十二番五号"],
        ]);
    }

    #[test]
    fn kanji_numerals_in_place_names_are_kept() {
        assert_eq!(address(&["愛知県", "一宮市", "本町1-2-3"]), "愛知県一宮市本町1-2-3");
        assert_eq!(address(&["東京都", "港区", "三田1-1"]), "東京都港区三田1-1");
        assert_ne!(address(&["三田1-1"]), address(&["3田1-1"]));
        assert!(address(&["新潟県", "十日町市", "本町一丁目"]).contains("十日町市"));
    }

    #[test]
    fn building_after_the_block_number_normalises_equal() {
        assert_all_equal(&[
            &["東京都", "渋谷区", "渋谷2-21-1 渋谷ヒカリエ 10F"],
            &["東京都", "渋谷区", "渋谷二丁目21番1号　渋谷ヒカリエ１０Ｆ"],
            &["東京都", "渋谷区", "渋谷2-21-1", "渋谷ヒカリエ10F"],
        ]);
        assert!(address(&["渋谷2-21-1 渋谷ヒカリエ 10F"]).ends_with("ヒカリエ10f"));
        assert_all_equal(&[
            &["本町1-2-3-メゾン101"],
            &["本町1-2-3 メゾン101"],
            &["本町1丁目2番3号メゾン101"],
        ]);
    }

    #[test]
    fn latin_building_names_are_case_and_width_insensitive() {
        assert_all_equal(&[&["本町1-2-3 Aパレス"], &["本町1-2-3 ａパレス"], &["本町1-2-3 Ａパレス"]]);
    }

    #[test]
    fn room_numbers_with_and_without_goshitsu_normalise_equal() {
        assert_all_equal(&[
            &["大阪府", "大阪市北区", "本町3-4-5 コーポ山田 101号室"],
            &["大阪府", "大阪市北区", "本町３丁目４番５号コーポ山田101"],
            &["大阪府", "大阪市北区", "本町3ー4ー5", "コーポ山田101"],
        ]);
        assert!(address(&["本町3-4-5 コーポ山田 101号室"]).contains("コーポ"));
    }

    #[test]
    fn room_number_after_the_block_number_stays_a_separate_number() {
        assert_all_equal(&[&["本町3-4-5 101号室"], &["本町3丁目4番5号101"], &["本町3-4-5-101"]]);
        assert_ne!(address(&["本町2-21-1 1F"]), address(&["本町2-21-11"]));
    }

    #[test]
    fn katakana_long_vowels_inside_words_are_kept() {
        let normalised = address(&["本町1-2-3 メゾンドール ハイツ・グリーン"]);
        assert_eq!(normalised, "本町1-2-3メゾンドールハイツ・グリーン");
        assert_eq!(address(&["本町１ー２ー３　コーポ"]), "本町1-2-3コーポ");
        assert_eq!(address(&["ｺｰﾎﾟ山田"]), "コーポ山田");
    }

    #[test]
    fn long_vowel_ending_a_building_name_is_kept_before_the_room_number() {
        assert_all_equal(&[
            &["本町1-2-3 パークタワー1205"],
            &["本町1-2-3 パークタワー 1205"],
            &["本町1-2-3 パークタワー-1205"],
        ]);
        assert_eq!(address(&["本町1-2-3 パークタワー1205"]), "本町1-2-3パークタワー1205");
        assert_eq!(address(&["本町1-2-3 山田ー101"]), address(&["本町1-2-3 山田-101"]));
    }

    #[test]
    fn oaza_prefix_is_dropped() {
        assert_all_equal(&[&["大字小川123番地"], &["小川123"], &["大字 小川 123"]]);
        assert_all_equal(&[
            &["埼玉県", "比企郡小川町", "大字小川123番地"],
            &["埼玉県", "比企郡小川町", "小川123"],
        ]);
    }

    #[test]
    fn aza_prefix_after_a_municipality_is_dropped() {
        assert_all_equal(&[&["○○村字小川5"], &["○○村小川5"], &["○○村", "字小川5"]]);
        assert_eq!(address(&["字小川5"]), "小川5");
    }

    #[test]
    fn aza_inside_a_place_name_is_kept() {
        assert_eq!(address(&["○○村小字5"]), "○○村小字5");
    }

    #[test]
    fn no_and_commas_between_numbers_are_handled() {
        assert_all_equal(&[&["小川123番地の4"], &["小川123-4"], &["小川123の4"]]);
        assert_all_equal(&[
            &["東京都、千代田区、千代田1-1-1"],
            &["東京都,千代田区，千代田1-1-1"],
            &["東京都千代田区千代田1-1-1"],
        ]);
    }

    #[test]
    fn stray_dashes_are_removed_and_repeated_dashes_collapse() {
        assert_eq!(address(&["-本町1--2---3-"]), "本町1-2-3");
        assert_eq!(address(&["本町1 - 2 - 3"]), "本町1-2-3");
    }

    #[test]
    fn wing_and_hall_numbers_keep_their_go() {
        assert_eq!(address(&["本町1-2-3 5号棟 101号室"]), "本町1-2-3-5号棟101");
        assert_eq!(address(&["本町1丁目2番3号5号棟101"]), "本町1-2-3-5号棟101");
    }

    #[test]
    fn different_rooms_and_blocks_stay_different() {
        assert_ne!(
            address(&["本町3-4-5 コーポ山田101"]),
            address(&["本町3-4-5 コーポ山田102"])
        );
        assert_ne!(address(&["本町1-2-3"]), address(&["本町1-2-4"]));
        assert_ne!(address(&["本町1-2-3"]), address(&["本町1-23"]));
        assert_ne!(address(&["本町12-3"]), address(&["本町1-23"]));
        assert_ne!(address(&["本町十二丁目"]), address(&["本町二丁目"]));
    }

    #[test]
    fn normalised_addresses_contain_no_white_space() {
        let normalised = address(&[" 東京都\t", "千代田区　", "\n千代田 1 - 1 - 1　ビル A 棟 "]);
        assert!(!normalised.chars().any(char::is_whitespace), "{normalised:?}");
    }

    #[test]
    fn empty_parts_give_an_empty_address() {
        assert_eq!(address(&[]), "");
        assert_eq!(address(&["", " ", "　"]), "");
    }

    // --- as buyers type them (issue: identity as the malls really give it) ---

    #[test]
    fn phones_with_labels_extensions_and_every_hyphen_normalise_equal() {
        for raw in [
            "TEL:03-1234-5678",
            "Tel. 03-1234-5678",
            "℡03-1234-5678",
            "電話：03-1234-5678",
            "電話番号 03(1234)5678",
            "☎ 03-1234-5678",
            "+81(0)3-1234-5678",
            "+81 (0) 3 1234 5678",
            "(+81) 3-1234-5678",
            "０３‐１２３４‐５６７８",
            "03‑1234‑5678",
            "03⁃1234⁃5678",
            "03﹣1234﹣5678",
            "03ｰ1234ｰ5678",
            "03⸺1234⸺5678",
            "0\u{200b}3-1234-5678",
            "03\u{00ad}1234\u{00ad}5678",
            "【電話】03-1234-5678",
            "[TEL] 03-1234-5678",
            "(TEL) 03-1234-5678",
            "〔自宅〕03-1234-5678",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("0312345678"), "{raw:?}");
        }
        assert_eq!(phone("携帯：090-1234-5678").as_deref(), Some("09012345678"));
        assert_eq!(phone("【携帯】090-3141-5926").as_deref(), Some("09031415926"));
        assert_eq!(phone("Mobile +81-90-1234-5678").as_deref(), Some("09012345678"));
    }

    #[test]
    fn an_extension_stays_in_the_number_so_colleagues_at_one_office_stay_apart() {
        for raw in [
            "03-1234-5678 内線12",
            "03-1234-5678（内線 12）",
            "03-1234-5678 ext. 12",
            "03-1234-5678 Extension 12",
            "03-1234-5678 x12",
            "03-1234-5678#12",
            "TEL:０３－１２３４－５６７８　内線１２",
        ] {
            assert_eq!(phone(raw).as_deref(), Some("0312345678x12"), "{raw:?}");
        }
        assert_ne!(phone("045-123-4567 内線12"), phone("045-123-4567 内線34"));
        assert_ne!(phone("045-123-4567 内線12"), phone("045-123-4567"));
        // A marker with no number after it is no extension; one with letters or a long run is no phone.
        assert_eq!(phone("03-1234-5678 (内線)").as_deref(), Some("0312345678"));
        assert_eq!(phone("03-1234-5678 内線 山田"), None);
        assert_eq!(phone("03-1234-5678 ext 1234567"), None);
    }

    #[test]
    fn placeholder_phones_never_link_however_they_are_written() {
        for raw in [
            "000-0000-0000",
            "０００－００００－００００",
            "TEL:000-0000-0000",
            "00000000000",
            "0000-00-0000",
            "090-0000-0000",
            "+81-90-0000-0000",
            "03-0000-0000",
            "9999999999",
            "090-1111-1111",
            "090-9999-9999",
            "03-1111-1111",
            "045-111-1111",
            "0123456789",
            "012-345-6789",
            "01234567890",
            "09876543210",
        ] {
            assert_eq!(phone(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn postal_codes_as_typed_normalise_equal() {
        for raw in [
            "〒100-0001",
            "〒 100 0001",
            "100 - 0001",
            "郵便番号：100-0001",
            "１００　０００１",
            "100\u{3000}0001",
        ] {
            assert_eq!(postal_code(raw).as_deref(), Some("1000001"), "{raw:?}");
        }
        for raw in ["〒", "100-00001", "1OO-0001", "100-0001-2", "不明", "-"] {
            assert_eq!(postal_code(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn a_postal_code_names_its_prefecture() {
        for (postal, prefecture) in [
            ("100-0001", "東京都"),
            ("060-0001", "北海道"),
            ("010-0001", "秋田県"),
            ("231-0023", "神奈川県"),
            ("389-0102", "長野県"),
            ("460-0008", "愛知県"),
            ("530-0001", "大阪府"),
            ("604-8005", "京都府"),
            ("650-0001", "兵庫県"),
            ("760-0019", "香川県"),
            ("770-0939", "徳島県"),
            ("812-0011", "福岡県"),
            ("900-0015", "沖縄県"),
            ("910-0005", "福井県"),
            ("950-0087", "新潟県"),
            ("980-0021", "宮城県"),
            ("990-0039", "山形県"),
        ] {
            assert_eq!(prefecture_of_postal_code(postal), Some(prefecture), "{postal}");
        }
        assert_eq!(prefecture_of_postal_code("000-0000"), None);
        assert_eq!(prefecture_of_postal_code(""), None);
    }

    #[test]
    fn honorifics_and_every_kind_of_space_leave_the_name() {
        for raw in [
            "山田太郎",
            "山田 太郎",
            "山田　太郎",
            "山田\u{00a0}太郎",
            "山田\u{2003}太郎",
            "山田\u{200b}太郎",
            "山田\t太郎",
            "山田太郎様",
            "山田 太郎 様",
            "山田太郎　さま",
            "山田太郎殿",
            "山田 太郎 殿",
            "山田太郎サマ",
            "ﾔﾏﾀﾞ",
        ]
        .iter()
        .take(13)
        {
            assert_eq!(name(raw), "山田太郎", "{raw:?}");
        }
        assert_eq!(name("Mr. Taro YAMADA"), "taroyamada");
        assert_eq!(name("Taro Yamada sama"), "taroyamada");
        assert_eq!(name("Taro San"), "tarosan");
        // 様 alone is no name, and a name that only ends like an honorific keeps it when nothing else is left.
        assert_eq!(name("様"), "様");
    }

    #[test]
    fn old_and_variant_kanji_are_written_in_their_standard_form() {
        for (variant, standard) in [
            ("髙橋", "高橋"),
            ("山﨑", "山崎"),
            ("山嵜", "山崎"),
            ("渡邊", "渡辺"),
            ("渡邉", "渡辺"),
            ("齋藤", "斎藤"),
            ("齊藤", "斉藤"),
            ("澤田", "沢田"),
            ("濱田", "浜田"),
            ("濵田", "浜田"),
            ("櫻井", "桜井"),
            ("廣瀬", "広瀬"),
            ("國分", "国分"),
            ("冨田", "富田"),
            ("小嶋", "小島"),
            ("𠮷田", "吉田"),
            ("栁田", "柳田"),
            ("辻\u{e0100}", "辻"),
        ] {
            assert_eq!(name(variant), name(standard), "{variant} / {standard}");
        }
        // Different characters stay different: 斎 and 斉, 高 and 髙's neighbours.
        assert_ne!(name("斎藤"), name("斉藤"));
        assert_ne!(name("渡辺"), name("渡部"));
        assert_ne!(name("高橋"), name("高槁"));
    }

    #[test]
    fn variant_table_maps_each_variant_to_a_different_standard_character() {
        for (variant, standard) in VARIANT_KANJI {
            assert_ne!(variant, standard);
            assert_eq!(standard_kanji(variant), standard, "{variant}");
            assert_eq!(standard_kanji(standard), standard, "{standard}");
            assert!(
                !VARIANT_KANJI.iter().any(|(v, _)| *v == standard),
                "{standard} is itself a variant"
            );
            assert_eq!(
                VARIANT_KANJI.iter().filter(|(v, _)| *v == variant).count(),
                1,
                "{variant} listed twice"
            );
        }
    }

    fn key_place(prefecture: &str, city: &str, lines: &[&str]) -> String {
        place_key(prefecture, city, lines)
    }

    #[test]
    fn room_and_floor_words_give_one_place() {
        let expected = key_place("東京都", "千代田区", &["千代田1-2-3 メゾン千代田101"]);
        for lines in [
            &["千代田1-2-3 メゾン千代田101号室"][..],
            &["千代田1-2-3 メゾン千代田 #101"],
            &["千代田1-2-3-101"],
            &["千代田1丁目2番3号", "101号室"],
            &["千代田1-2-3 メゾン千代田 1F 101"],
            &["千代田1-2-3 メゾン千代田 1階 101号"],
            &["千代田1-2-3 Maison Chiyoda 101"],
            &["千代田1-2-3 ＭＡＩＳＯＮ　ＣＨＩＹＯＤＡ　１０１"],
            &["千代田1-2-3 ﾒｿﾞﾝ千代田 101"],
            &["千代田一丁目二番三号 メゾン千代田101"],
        ] {
            assert_eq!(key_place("東京都", "千代田区", lines), expected, "{lines:?}");
        }
        assert_eq!(
            key_place("", "", &["東京都千代田区千代田1-2-3 3F"]),
            key_place("東京都", "千代田区", &["千代田1-2-3 3階"])
        );
    }

    #[test]
    fn different_rooms_floors_wings_and_lots_stay_different_places() {
        let base = key_place("東京都", "千代田区", &["千代田1-2-3 メゾン千代田101"]);
        for lines in [
            &["千代田1-2-3 メゾン千代田102"][..],
            &["千代田1-2-3 メゾン千代田1101"],
            &["千代田1-2-3 メゾン千代田 A101"],
            &["千代田1-2-3 メゾン千代田Ⅱ 101"],
            &["千代田1-2-3 5号棟 101"],
            &["千代田1-2-4 メゾン千代田101"],
            &["千代田1-2 メゾン千代田101"],
            &["千代田1-2-3"],
        ] {
            assert_ne!(key_place("東京都", "千代田区", lines), base, "{lines:?}");
        }
        assert_ne!(
            key_place("東京都", "千代田区", &["千代田1-2-3 A棟 101"]),
            key_place("東京都", "千代田区", &["千代田1-2-3 B棟 101"])
        );
        assert_ne!(
            key_place("東京都", "千代田区", &["千代田1-2-3 東棟 101"]),
            key_place("東京都", "千代田区", &["千代田1-2-3 西棟 101"])
        );
        assert_ne!(key_place("", "", &["小川123甲"]), key_place("", "", &["小川123乙"]));
    }

    #[test]
    fn a_field_of_200000_characters_is_cut_to_a_thousand_before_it_is_normalised() {
        // Every step is linear in what it is given, and what it is given is at most MAX_FIELD_CHARS long:
        // the results below show the cut was made (no step saw the whole line).
        let dashes = "1-".repeat(100_000);
        let spaces = format!("1{}", " ー".repeat(99_999) + "ー");
        let words = "字 ".repeat(100_000);
        let letters = "ab".repeat(100_000);
        for line in [&dashes, &spaces, &words, &letters] {
            assert_eq!(line.chars().count(), 200_000);
            assert!(address(&[line]).chars().count() <= MAX_FIELD_CHARS);
            assert!(place_key("東京都", line, &[line, line]).chars().count() <= 2 * MAX_FIELD_CHARS);
            assert!(name(line).chars().count() <= MAX_FIELD_CHARS);
            assert_eq!(phone(line), None);
            assert_eq!(postal_code(line), None);
            assert_eq!(email(line), None);
        }
        assert_eq!(
            tidy_dashes(&"-1-".repeat(1_000).chars().collect::<Vec<_>>()).len(),
            1_999
        );
        assert_eq!(tidy_dashes(&['1', '-', '-', 'a', '-', '2']), "1a2");
        assert_eq!(tidy_dashes(&['-', '1', '-', '-', '2', '-']), "1-2");
    }

    #[test]
    fn wings_lettered_rooms_floors_basements_and_ordinals_are_not_dropped_with_the_building_name() {
        let key = |line: &str| key_place("東京都", "千代田区", &[line]);
        for (a, b) in [
            (
                "千代田1-2-3 パークタワー イースト棟 1205",
                "千代田1-2-3 パークタワー ウエスト棟 1205",
            ),
            ("千代田1-2-3 Park Tower East 1205", "千代田1-2-3 Park Tower West 1205"),
            (
                "千代田1-2-3 パークタワーイースト 1205",
                "千代田1-2-3 パークタワーウエスト 1205",
            ),
            ("千代田1-2-3 East棟 1205", "千代田1-2-3 West棟 1205"),
            ("千代田1-2-3 ホテル本館101", "千代田1-2-3 ホテル別館101"),
            ("千代田1-2-3 サンハイツ中央棟101", "千代田1-2-3 サンハイツ公園棟101"),
            ("千代田1-2-3 コーポ山田 イ号室", "千代田1-2-3 コーポ山田 ロ号室"),
            ("千代田1-2-3 山田荘 い号", "千代田1-2-3 山田荘 ろ号"),
            ("千代田1-2-3 山田ビル二階", "千代田1-2-3 山田ビル三階"),
            ("千代田1-2-3 山田ビル地下1階", "千代田1-2-3 山田ビル1階"),
            ("千代田1-2-3 山田ビル地下1階", "千代田1-2-3 山田ビル 1F"),
            ("千代田1-2-3 第二メゾン101", "千代田1-2-3 第三メゾン101"),
        ] {
            assert_ne!(key(a), key(b), "{a} / {b}");
        }
        for (a, b) in [
            ("千代田1-2-3 山田ビル2階", "千代田1-2-3 山田ビル二階"),
            ("千代田1-2-3 山田ビル 2F", "千代田1-2-3 Yamada Bldg. 二階"),
            ("千代田1-2-3 第2メゾン101", "千代田1-2-3 第二メゾン101"),
            (
                "千代田1-2-3 パークタワー イースト棟 1205",
                "千代田1-2-3 パークタワーイースト棟1205号室",
            ),
            ("千代田1-2-3 Park Tower East 1205", "千代田1-2-3 PARK TOWER EAST #1205"),
            ("千代田1-2-3 ホテル本館101", "千代田1-2-3 ホテル 本館 101号室"),
            ("千代田1-2-3 山田ビル地下1階", "千代田1-2-3 山田ビル B1F"),
            ("千代田1-2-3 コーポ山田 イ号室", "千代田1-2-3 コーポ山田イ号室"),
        ] {
            assert_eq!(key(a), key(b), "{a} / {b}");
        }
    }

    #[test]
    fn numbers_that_name_a_part_of_the_town_are_not_the_block_number() {
        // Sapporo: 北1条西2丁目 is a town part, the block number follows it.
        let north = key_place("北海道", "札幌市中央区", &["北1条西2丁目3-4 ハイツ札幌101"]);
        assert_eq!(north, key_place("北海道", "札幌市中央区", &["北1条西2-3-4-101"]));
        assert_ne!(
            north,
            key_place("北海道", "札幌市中央区", &["北1条東2丁目3-4 ハイツ札幌101"])
        );
        assert_ne!(
            north,
            key_place("北海道", "札幌市中央区", &["北2条西2丁目3-4 ハイツ札幌101"])
        );
    }

    #[test]
    fn no_between_block_numbers_is_a_separator() {
        let expected = key_place("埼玉県", "比企郡小川町", &["小川123-4"]);
        for line in ["小川123の4", "小川123番地の4", "小川１２３の４", "小川百二十三番地の四"]
        {
            assert_eq!(key_place("埼玉県", "比企郡小川町", &[line]), expected, "{line}");
        }
        assert_eq!(address(&["本町1の2の3"]), address(&["本町1-2-3"]));
    }

    #[test]
    fn a_county_may_be_written_or_left_out() {
        let expected = key_place("長野県", "北佐久郡軽井沢町", &["軽井沢1323-4"]);
        for (city, line) in [
            ("軽井沢町", "軽井沢1323-4"),
            ("", "北佐久郡軽井沢町軽井沢1323-4"),
            ("", "軽井沢町軽井沢1323-4"),
            ("軽井沢町", "北佐久郡軽井沢町大字軽井沢1323番地4"),
            ("北佐久郡 軽井沢町", "軽井沢１３２３－４"),
        ] {
            assert_eq!(key_place("長野県", city, &[line]), expected, "{city} {line}");
        }
        // Cities with 郡 in their names are not counties.
        assert!(key_place("奈良県", "大和郡山市", &["北郡山町1-2"]).starts_with("大和郡山市"));
        assert!(key_place("福島県", "郡山市", &["駅前1-2"]).starts_with("郡山市"));
        assert!(key_place("北海道", "余市郡余市町", &["黒川町1-2"]).starts_with("余市町"));
    }

    #[test]
    fn the_prefecture_may_be_repeated_left_out_or_written_without_its_suffix() {
        let expected = key_place("大阪府", "大阪市北区", &["梅田1-2-3"]);
        for (prefecture, city, line) in [
            ("大阪府", "大阪市北区", "大阪府大阪市北区梅田1-2-3"),
            ("", "大阪市北区", "梅田1-2-3"),
            ("", "", "大阪府大阪市北区梅田1-2-3"),
            ("大阪府", "大阪府大阪市北区", "梅田1-2-3"),
            ("大阪", "大阪市北区", "梅田1-2-3"),
        ] {
            assert_eq!(
                key_place(prefecture, city, &[line]),
                expected,
                "{prefecture} {city} {line}"
            );
        }
        for (prefecture, city, line) in [
            ("大阪府", "大阪市北区", "梅田1-2-3"),
            ("大阪", "", "大阪市北区梅田1-2-3"),
            ("", "大阪府大阪市北区", "梅田1-2-3"),
            ("", "", "大阪府大阪市北区梅田1-2-3"),
        ] {
            assert_eq!(
                prefecture_of(prefecture, city, &[line]),
                Some("大阪府"),
                "{prefecture} {city} {line}"
            );
        }
        assert_eq!(prefecture_of("", "大阪市北区", &["梅田1-2-3"]), None);
    }

    #[test]
    fn a_town_named_ichibancho_keeps_its_name_and_its_building_name_is_dropped() {
        let expected = key_place("宮城県", "仙台市青葉区", &["一番町2-3-4", "一番町ハイツ402"]);
        assert_eq!(expected, "仙台市青葉区一番町2-3-4-402");
        assert_eq!(
            key_place("宮城県", "仙台市青葉区", &["一番町二丁目3番4号 402号室"]),
            expected
        );
        assert_ne!(key_place("宮城県", "仙台市青葉区", &["二番町2-3-4 402"]), expected);
    }

    #[test]
    fn ga_and_ke_between_kanji_are_one_sign() {
        assert_all_equal(&[
            &["千代田区霞が関1-1"],
            &["千代田区霞ヶ関1-1"],
            &["千代田区霞ケ関1-1"],
            &["千代田区霞ヵ関1-1"],
        ]);
        assert_eq!(address(&["龍ケ崎市"]), address(&["竜ヶ崎市"]));
        assert_ne!(address(&["コーポかがやき1"]), address(&["コーポかケやき1"]));
    }

    #[test]
    fn kanji_number_parses_positional_and_additive_forms() {
        let parse = |s: &str| kanji_number(&s.chars().collect::<Vec<_>>());
        assert_eq!(parse("三"), Some(3));
        assert_eq!(parse("十"), Some(10));
        assert_eq!(parse("十二"), Some(12));
        assert_eq!(parse("二十"), Some(20));
        assert_eq!(parse("二十三"), Some(23));
        assert_eq!(parse("百"), Some(100));
        assert_eq!(parse("百五"), Some(105));
        assert_eq!(parse("三百二十一"), Some(321));
        assert_eq!(parse("一〇"), Some(10));
        assert_eq!(parse("十百"), None);
        assert_eq!(parse("二三十"), None);
    }
}
