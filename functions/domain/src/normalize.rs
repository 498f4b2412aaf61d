//! Normalisation of the personal data that identity keys are derived from.
//!
//! The same customer is written differently by every mall: 全角 or 半角, `丁目` or `-`, a space or an
//! ideographic space, `+81` or `0`. Identity keys are hashes of these normalised strings, so two spellings of
//! the same thing must come out identical, and different things must stay different. Everything here is
//! pure and offline.

use unicode_normalization::UnicodeNormalization;

/// Trimmed, lower-cased email (after NFKC, so a 全角 address counts).
///
/// For `gmail.com` / `googlemail.com` only, dots in the local part and a `+tag` are removed and the domain is
/// folded to `gmail.com`, because Gmail delivers all of those spellings to the same mailbox.
///
/// `None` when it is not a plausible address: no single `@`, empty local part or domain, a domain without a
/// dot (or starting or ending with one), or white space inside.
pub fn email(raw: &str) -> Option<String> {
    let text = raw.nfkc().collect::<String>().trim().to_lowercase();
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
/// NFKC first, so 全角 digits count. Spaces, dash and long-vowel look-alikes, parentheses and dots are
/// separators; a `+` may lead; any other character makes it `None`. An international `+81` / `81` prefix is
/// folded to the domestic leading `0` (`+81 (0)3 …` keeps its single `0`).
///
/// `None` unless 10 or 11 digits remain, and for placeholders that many customers type: all digits the same
/// (`000-0000-0000`) or a subscriber part of zeros (six or more trailing zeros, `090-0000-0000`).
pub fn phone(raw: &str) -> Option<String> {
    let mut digits = String::new();
    let mut seen_plus = false;
    for c in raw.nfkc() {
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
    Some(national)
}

/// 7-digit Japanese postal code from `123-4567`, `〒123-4567`, `１２３－４５６７` or `1234567` (any dash
/// look-alike between the two groups); `None` otherwise.
pub fn postal_code(raw: &str) -> Option<String> {
    let text: String = raw.nfkc().collect();
    let text = text.trim();
    let text = text.strip_prefix('〒').unwrap_or(text).trim_start();
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
/// NFKC, then: white space (incl. U+3000), `、` and `,` removed; ASCII lower-cased; `大字` dropped, and `字`
/// where it directly follows 町/村/市/区 or starts the text; kanji numerals before `丁目`/`丁`/`番地`/`番`/`号`
/// written as digits; those markers after a digit folded to `-` (`号室` dropped, so `101号室` is `101`); every
/// dash look-alike unified to `-`, and `ー` too when it follows a digit, or precedes one without following
/// kana (otherwise it is a long vowel and kept, as in `コーポ` or `タワー1205`).
///
/// A `-` survives only between two digits, so `1-2-3`, `1丁目2番3号` and `1ー2ー3` agree, with or without a
/// dash before a building name. White space between two digits (also between parts) counts as a separator,
/// so `2-21-1 1F` does not become block `2-21-11`.
pub fn address(parts: &[&str]) -> String {
    let chars: Vec<char> = parts
        .join(" ")
        .nfkc()
        .map(|c| {
            if c.is_whitespace() || matches!(c, '、' | ',') {
                ' '
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let chars = drop_aza_prefixes(&chars);
    let chars = kanji_numerals_to_digits(&chars);
    let chars = drop_floor_before_room(&chars);
    let chars = fold_separators(&chars);
    tidy_dashes(&chars)
}

/// The place of a ship-to or buyer address, normalised as [`address`] does, in one canonical form however
/// the prefecture and the city were split between the fields and the lines: the prefecture is dropped
/// (the postal code beside it in every key already implies it), and the city is written once, whether the
/// city field held it, the line repeated it, or only the line had it.
pub fn place(prefecture: &str, city: &str, lines: &[&str]) -> String {
    let city = address(&[city]);
    let rest = address(lines);
    let prefecture = address(&[prefecture]);
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
    if !city_field.is_empty() {
        rest = rest.strip_prefix(city_field.as_str()).unwrap_or(rest);
    }
    address(&[&city_field, rest])
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

/// Normalised person name: NFKC, all white space (incl. U+3000) removed, ASCII lower-cased, middle dots
/// (`・` `･` `·`) removed. `山田　太郎`, `山田 太郎` and `山田太郎` all become `山田太郎`; `Taro  YAMADA`
/// becomes `taroyamada`.
pub fn name(raw: &str) -> String {
    raw.nfkc()
        .filter(|&c| !c.is_whitespace() && !matches!(c, '・' | '･' | '·'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Dashes, hyphens, minus signs and rules that people (or IMEs) put between address or phone number groups.
const DASHES: [char; 15] = [
    '-', '\u{02D7}', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2043}', '\u{2212}',
    '\u{2500}', '\u{2501}', '\u{FE58}', '\u{FE63}', '\u{FF0D}',
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

fn is_placeholder_phone(digits: &str) -> bool {
    let first = digits.chars().next();
    let all_same = digits.chars().all(|c| Some(c) == first);
    let trailing_zeros = digits.chars().rev().take_while(|&c| c == '0').count();
    all_same || trailing_zeros >= 6
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
        let before_unit = matches!(next, Some('丁' | '番' | '号'));
        let ends_number =
            ends_with_numbered_unit(&out) && next.is_none_or(|c| c.is_ascii() || is_dash(c) || is_long_vowel(c));
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
    let next_non_space_is_digit = |from: usize| {
        chars
            .get(from..)
            .and_then(|rest| rest.iter().find(|&&c| c != ' '))
            .is_some_and(char::is_ascii_digit)
    };
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
            _ => out.push(c),
        }
        i += step;
    }
    out
}

/// Keeps a `-` only between two digits, once: elsewhere (start, end, before a building name) it means nothing.
fn tidy_dashes(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c != '-' {
            out.push(c);
            continue;
        }
        let after_digit = out.ends_with(|p: char| p.is_ascii_digit());
        let before_digit = chars[i + 1..]
            .iter()
            .find(|&&n| n != '-')
            .is_some_and(char::is_ascii_digit);
        if after_digit && before_digit {
            out.push('-');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn real_numbers_ending_in_a_few_zeros_are_kept() {
        assert_eq!(phone("03-1234-0000").as_deref(), Some("0312340000"));
    }

    #[test]
    fn phone_numbers_of_the_wrong_length_or_with_letters_are_none() {
        for raw in [
            "12345",
            "",
            "03-1234-567",
            "090-1234-56789",
            "03-1234-5678 内線12",
            "tel 0312345678",
            "03+12345678",
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
