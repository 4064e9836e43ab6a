//! Making user-controlled text (display names, UPNs, locations, detection types from Graph)
//! harmless in chat.
//!
//! Slack parses control sequences that all start with `<` (`<!channel>`, `<@U123>`, links), so
//! escaping `&`, `<` and `>` neutralises them; nothing else is HTML-encoded because Slack decodes
//! only those three. Teams parses Markdown in TextBlocks and Facts, so user text goes only into
//! `TextRun`s, which it does not parse; `<at>` is still broken up so no mention can form.
//! Single-line fields lose newlines and bidi controls, so a name cannot fake a quoted line or
//! reverse the text around it.

/// Characters that reorder text (U+202A–U+202E, U+2066–U+2069) or mark direction invisibly.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// One line: control characters become spaces, bidi controls go, runs of spaces collapse.
pub fn single_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = false;
    for c in s.chars() {
        if is_bidi_control(c) {
            continue;
        }
        let c = if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    out.trim().to_string()
}

/// Characters that show nothing but change what is shown: zero-width spaces and joiners, the
/// word joiner and invisible operators, the byte-order mark, the soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}' | '\u{180E}')
}

/// Text for a terminal, where a name, a reason or an error must not move the cursor, recolour
/// the screen, reorder the line or hide characters: control, bidi and invisible characters are
/// shown as `\u{…}` escapes (and a backslash as `\\`, so an escape cannot be faked). Everything
/// else is left as it is.
pub fn terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control()
            || is_bidi_control(c)
            || is_invisible(c)
            || c == '\u{2028}'
            || c == '\u{2029}'
        {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `s` holds a character [`terminal`] would escape (other than a backslash).
pub fn has_hidden(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control()
            || is_bidi_control(c)
            || is_invisible(c)
            || c == '\u{2028}'
            || c == '\u{2029}'
    })
}

/// At most `max` characters, ending with `…` when shortened.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack mrkdwn / plain text: `&`, `<`, `>` only, `&` first.
pub fn slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A single-line field for Slack: cleaned, shortened to `max` characters *before* escaping (so an
/// entity is never cut in half), then escaped.
pub fn slack_field(s: &str, max: usize) -> String {
    slack(&truncate(&single_line(s), max))
}

/// Inverse of [`slack`], for tests and the console.
pub fn slack_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A single-line field for a Teams `TextRun`: cleaned, shortened, and with `<at>` broken by a
/// zero-width space so that no mention can form even if a client parsed it.
pub fn teams_field(s: &str, max: usize) -> String {
    let s = truncate(&single_line(s), max);
    let lower = s.to_ascii_lowercase();
    if !lower.contains("<at") && !lower.contains("</at") && !s.contains("{{") {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        out.push(*c);
        let next = chars.get(i + 1).copied();
        let next2 = chars.get(i + 2).copied();
        let at_tag = *c == '<'
            && (matches!(next, Some('a' | 'A'))
                || (next == Some('/') && matches!(next2, Some('a' | 'A'))));
        if at_tag || (*c == '{' && next == Some('{')) {
            out.push('\u{200B}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hostile_names_for_slack() {
        assert_eq!(slack_field("<!channel> hi", 100), "&lt;!channel&gt; hi");
        assert_eq!(
            slack_field("<@U123> <#C123> <!subteam^S1> <!date^1^{date}|x>", 200),
            "&lt;@U123&gt; &lt;#C123&gt; &lt;!subteam^S1&gt; &lt;!date^1^{date}|x&gt;"
        );
        assert_eq!(
            slack_field("<https://evil.example|Reset password>", 100),
            "&lt;https://evil.example|Reset password&gt;"
        );
        assert_eq!(slack("AT&T <Sales>"), "AT&amp;T &lt;Sales&gt;");
        assert_eq!(slack("&lt;"), "&amp;lt;");
        assert_eq!(
            slack_field("Bob\n> *Admin approved*", 100),
            "Bob &gt; *Admin approved*"
        );
        assert_eq!(
            single_line("evil\u{202E}gnp.exe\u{2066}x\u{2069}"),
            "evilgnp.exex"
        );
    }

    #[test]
    fn truncation_never_splits_an_entity() {
        let s = slack_field(&"<".repeat(50), 10);
        assert_eq!(s, format!("{}…", "&lt;".repeat(9)));
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(slack_field(&"x".repeat(10_000), 80).chars().count(), 80);
    }

    #[test]
    fn teams_mentions_are_broken() {
        let t = teams_field("<at>CEO</at> {{DATE(2017-02-14T06:08:00Z)}}", 100);
        assert!(
            !t.to_ascii_lowercase().contains("<at>") && !t.to_ascii_lowercase().contains("</at>"),
            "{t}"
        );
        assert!(!t.contains("{{"));
        assert_eq!(teams_field("Adsync User 2", 100), "Adsync User 2");
        assert_eq!(teams_field("- item\n1. item", 100), "- item 1. item");
    }

    #[test]
    fn terminal_text_shows_every_hidden_character() {
        assert_eq!(
            terminal("Ann\u{1b}[2J\nby \u{202E}nimda\u{200B}\\u{41}"),
            "Ann\\u{1b}[2J\\u{a}by \\u{202e}nimda\\u{200b}\\\\u{41}"
        );
        assert_eq!(terminal("Zoë Smith-Jones"), "Zoë Smith-Jones");
        assert!(has_hidden("a\u{2066}b") && !has_hidden("plain name"));
    }

    proptest! {
        #[test]
        fn terminal_text_has_no_control_bidi_or_invisible_character(s in any::<String>()) {
            let out = terminal(&s);
            prop_assert!(!has_hidden(&out));
        }

        #[test]
        fn slack_escaping_is_complete_and_reversible(s in any::<String>()) {
            let e = slack(&s);
            prop_assert!(!e.contains('<') && !e.contains('>'));
            for (i, _) in e.match_indices('&') {
                let rest = &e[i..];
                prop_assert!(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"));
            }
            prop_assert_eq!(slack_unescape(&e), s);
        }

        #[test]
        fn single_line_fields_have_no_newlines_or_bidi(s in any::<String>(), max in 1usize..200) {
            for out in [slack_field(&s, max), teams_field(&s, max)] {
                prop_assert!(!out.chars().any(|c| c == '\n' || c == '\r' || c.is_control() || is_bidi_control(c)));
            }
            prop_assert!(single_line(&s).chars().count() <= s.chars().count());
            prop_assert!(truncate(&single_line(&s), max).chars().count() <= max);
        }

        #[test]
        fn teams_fields_never_hold_a_mention_tag(s in "[<>/aAtT{} x]{0,40}") {
            let out = teams_field(&s, 100).to_ascii_lowercase();
            prop_assert!(!out.contains("<at") && !out.contains("</at") && !out.contains("{{"));
        }
    }
}
