//! What the program prints for people: text that came from a mall or a buyer (an item title, a name, a
//! parse error quoting a payload) may carry terminal control sequences (`ESC]0;…` retitles the window,
//! `ESC[2J` clears it) or bidirectional overrides that make a line read differently than it is. Every
//! line of a command's output goes through [`safe`], so none of them reaches the staff's terminal.

/// `text` with every control character except the line break, and every bidirectional formatting
/// character, written as a visible escape (`\u{1b}`).
pub fn safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && c != '\n') || bidi {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Rows laid out in columns two spaces apart, padded by display width (a kanji takes two columns of a
/// terminal, so padding by characters would misalign Japanese text). The last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    use unicode_width::UnicodeWidthStr;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| safe(cell).width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let cell = safe(cell);
            line.push_str(&cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.width() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `println!` for people: the formatted text through [`safe`].
macro_rules! say {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", $crate::terminal::safe(&format!($($arg)*)))
    };
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    use super::{safe, table};
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn columns_line_up_by_display_width_with_japanese_text() {
        let rows = vec![
            vec!["保留ID".to_owned(), "状態".to_owned(), "注文".to_owned()],
            vec!["h0123".to_owned(), "保留中".to_owned(), "own #TS-1".to_owned()],
            vec!["h4567".to_owned(), "cancelled".to_owned(), "shopify #1001".to_owned()],
        ];
        let text = table(&rows);
        let starts: Vec<usize> = text
            .lines()
            .zip(["注文", "own #TS-1", "shopify #1001"])
            .map(|(line, third)| line[..line.find(third).unwrap()].width())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] == w[1]), "{text}\n{starts:?}");
    }

    #[test]
    fn control_sequences_and_bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(safe("煎茶\u{1b}]0;pwned\u{7}"), "煎茶\\u{1b}]0;pwned\\u{7}");
        assert_eq!(safe("\u{1b}[2Jtea"), "\\u{1b}[2Jtea");
        assert_eq!(safe("a\u{202e}b\rc\td"), "a\\u{202e}b\\u{d}c\\u{9}d");
        assert_eq!(safe("line one\nline two"), "line one\nline two");
        assert_eq!(safe("山田 太郎　様"), "山田 太郎　様");
    }
}
