//! The secrets riskrelay holds, and the one way any text is scrubbed of them before it is logged,
//! stored or posted.
//!
//! Upstreams echo. A destination that refuses a post — or a TLS-inspecting proxy in front of it —
//! may quote the request back, URL included; a token endpoint may quote the form it was sent. Such
//! text reaches error lines, the parked-message list and notices posted to *other* destinations,
//! so every secret riskrelay loads is held here (a chat webhook URL, its path and its query
//! values; a routing key; signing secrets; the Graph client secret; `clientState` values; the
//! action-link key), and [`scrub`] replaces each of them in any form an echo can carry it: as is,
//! percent-encoded (either case, any subset of characters, even twice), form-encoded, or escaped
//! inside JSON (`\/`, `\u0041`). Signed JWTs (a certificate's client assertion, an access token)
//! are replaced whole, since they are minted per request and cannot be held in advance.
//!
//! The register is process-wide because the log writer scrubs with it too (see
//! `riskrelay::telemetry`): whatever a caller forgets, no log line carries a held secret.

use std::sync::{Arc, RwLock};

/// Shorter values are not held: they would cut ordinary words out of unrelated text, and no
/// credential riskrelay loads is this short.
pub const MIN_SECRET: usize = 8;

/// Parts of a URL shorter than this are not held on their own (`workflows`, `2016-06-01`, `v2`):
/// the tokens in chat webhook URLs are 24 characters and more, and the whole path and query are
/// held anyway.
const MIN_URL_PART: usize = 16;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Layers of encoding undone before matching: a value percent-encoded twice still matches.
const DECODE_LAYERS: usize = 3;

static HELD: RwLock<Vec<Arc<[u8]>>> = RwLock::new(Vec::new());

/// Holds a secret: from now on [`scrub`] removes it from any text.
pub fn hold(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    let Ok(mut held) = HELD.write() else { return };
    if held.iter().any(|h| &h[..] == secret.as_bytes()) {
        return;
    }
    held.push(Arc::from(secret.as_bytes()));
    // Longest first, so that a secret containing another is matched whole.
    held.sort_by_key(|h| std::cmp::Reverse(h.len()));
}

/// Holds a secret as configured: the whole value, each of several space-separated keys (a
/// rotation) on its own, and a URL with its path and tokens (see [`hold_url`]).
pub fn hold_value(value: &str) {
    hold(value);
    for part in value.split_whitespace() {
        if part.starts_with("https://") || part.starts_with("http://") {
            hold_url(part);
        } else {
            hold(part);
        }
    }
}

/// Holds a URL that is a credential (a chat webhook): the URL, its path with and without the
/// query, the query, and each path segment and query value long enough to be a token.
pub fn hold_url(url: &str) {
    hold(url);
    let Ok(parsed) = url::Url::parse(url) else {
        return;
    };
    let path = parsed.path();
    hold(path);
    if let Some(q) = parsed.query() {
        hold(q);
        hold(&format!("{path}?{q}"));
        for (_, v) in parsed.query_pairs() {
            if v.len() >= MIN_URL_PART {
                hold(&v);
            }
        }
    }
    for segment in path.split('/') {
        if segment.len() >= MIN_URL_PART {
            hold(segment);
        }
    }
}

/// `text` with every held secret and every signed JWT replaced by `[redacted]`.
pub fn scrub(text: &str) -> String {
    let held: Vec<Arc<[u8]>> = HELD.read().map(|h| h.clone()).unwrap_or_default();
    scrub_with(text, &held)
}

/// [`scrub`], then one line of at most `max` characters: scrubbing comes first, so that a
/// secret cut in two by the truncation cannot leak its first half.
pub fn excerpt(text: &str, max: usize) -> String {
    crate::render::escape::truncate(&crate::render::escape::single_line(&scrub(text)), max)
}

fn scrub_with(text: &str, held: &[Arc<[u8]>]) -> String {
    let bytes = text.as_bytes();
    let mut hide = vec![false; bytes.len()];
    jwts(bytes, &mut hide);
    if !held.is_empty() {
        // Layer 0 is the text itself; each further layer undoes one level of escaping. `+` is a
        // space only in form encoding, so the layers are undone both ways.
        let original: Vec<(u8, usize, usize)> = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, i, i + 1))
            .collect();
        // Text with nothing to unescape (most log lines) is matched once, as it is.
        let escaped = bytes.iter().any(|b| matches!(b, b'%' | b'\\' | b'+'));
        let layers = if escaped { DECODE_LAYERS } else { 0 };
        for plus_is_space in [false, true] {
            let mut view = original.clone();
            for layer in 0..=layers {
                let plain: Vec<u8> = view.iter().map(|(b, _, _)| *b).collect();
                for secret in held {
                    for at in memchr::memmem::find_iter(&plain, &secret[..]) {
                        let start = view[at].1;
                        let end = view[at + secret.len() - 1].2;
                        hide[start..end].iter_mut().for_each(|h| *h = true);
                    }
                }
                if layer == layers {
                    break;
                }
                let next = decode(&view, plus_is_space);
                if next == view {
                    break;
                }
                view = next;
            }
            if !escaped {
                break;
            }
        }
    }
    if !hide.contains(&true) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if hide[i] {
            let mut end = i;
            while end < bytes.len() && (hide[end] || !text.is_char_boundary(end)) {
                end += 1;
            }
            out.push_str(REDACTED);
            i = end;
        } else {
            let mut end = i + 1;
            while end < bytes.len() && !hide[end] {
                end += 1;
            }
            // Both ends are char boundaries: a hidden run always ends on one (above).
            out.push_str(&text[i..end]);
            i = end;
        }
    }
    out
}

/// One layer of unescaping, each byte keeping the span of the original text it came from:
/// `%XX` (either case), `+` as a space when `plus_is_space` (form encoding), and JSON's `\/`,
/// `\\`, `\"` and `\uXXXX` (as UTF-8).
fn decode(view: &[(u8, usize, usize)], plus_is_space: bool) -> Vec<(u8, usize, usize)> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(view.len());
    let mut i = 0;
    while i < view.len() {
        let (b, start, _) = view[i];
        if b == b'%'
            && i + 2 < view.len()
            && let (Some(h), Some(l)) = (hex(view[i + 1].0), hex(view[i + 2].0))
        {
            out.push((h << 4 | l, start, view[i + 2].2));
            i += 3;
            continue;
        }
        if b == b'+' && plus_is_space {
            out.push((b' ', start, view[i].2));
            i += 1;
            continue;
        }
        if b == b'\\' && i + 1 < view.len() {
            let next = view[i + 1].0;
            if matches!(next, b'/' | b'\\' | b'"') {
                out.push((next, start, view[i + 1].2));
                i += 2;
                continue;
            }
            if next == b'u' && i + 5 < view.len() {
                let code = view[i + 2..i + 6].iter().try_fold(0u32, |acc, (d, _, _)| {
                    hex(*d).map(|d| acc << 4 | u32::from(d))
                });
                if let Some(c) = code.and_then(char::from_u32) {
                    let end = view[i + 5].2;
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        out.push((byte, start, end));
                    }
                    i += 6;
                    continue;
                }
            }
        }
        out.push(view[i]);
        i += 1;
    }
    out
}

/// Marks every signed JWT (`eyJ…`: three base64url parts, the last one, the signature, present).
fn jwts(bytes: &[u8], hide: &mut [bool]) {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    for start in memchr::memmem::find_iter(bytes, b"eyJ") {
        if start > 0 && (b64(bytes[start - 1]) || bytes[start - 1] == b'.') {
            continue;
        }
        let mut end = start;
        let mut dots = 0;
        let mut last_part = 0;
        while end < bytes.len() && (b64(bytes[end]) || bytes[end] == b'.') {
            if bytes[end] == b'.' {
                dots += 1;
                last_part = 0;
                if dots > 2 {
                    break;
                }
            } else {
                last_part += 1;
            }
            end += 1;
        }
        if dots == 2 && last_part >= 16 {
            hide[start..end].iter_mut().for_each(|h| *h = true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secrets: &[&str], text: &str) -> String {
        let held: Vec<Arc<[u8]>> = secrets.iter().map(|s| Arc::from(s.as_bytes())).collect();
        scrub_with(text, &held)
    }

    const SECRET: &str = "s3cr~t/Value+with spaces";

    #[test]
    fn every_encoding_of_a_secret_is_replaced() {
        let encodings = [
            SECRET.to_string(),
            "s3cr%7Et%2FValue%2Bwith%20spaces".into(),
            "s3cr%7et%2fValue%2bwith%20spaces".into(),
            "s3cr%7et/Value%2Bwith+spaces".into(),
            "%73%33%63%72%7e%74%2f%56alue%2Bwith%20spaces".into(),
            "s3cr%257Et%252FValue%252Bwith%2520spaces".into(),
            "s3cr~t\\/Value+with spaces".into(),
            "s3cr\\u007et\\/Value\\u002bwith spaces".into(),
        ];
        for e in encodings {
            let text = format!("400 Bad Request: echo client_secret={e}&grant_type=x");
            let out = with(&[SECRET], &text);
            assert_eq!(
                out, "400 Bad Request: echo client_secret=[redacted]&grant_type=x",
                "{e}"
            );
        }
    }

    #[test]
    fn text_without_a_secret_is_unchanged_and_non_ascii_survives() {
        let text = "Zoë answered 403: “forbidden” — %7E and \\u00e9 stay as they are";
        assert_eq!(with(&[SECRET], text), text);
        let around = format!("é{SECRET}é");
        assert_eq!(with(&[SECRET], &around), "é[redacted]é");
    }

    #[test]
    fn a_signed_jwt_is_replaced_whole() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl";
        let text = format!("AADSTS700027: client_assertion={jwt}&x=1 and \"{jwt}\"");
        let out = with(&[], &text);
        assert_eq!(
            out,
            "AADSTS700027: client_assertion=[redacted]&x=1 and \"[redacted]\""
        );
        // A word that merely starts like one is left alone.
        assert_eq!(with(&[], "eyJ is not a token"), "eyJ is not a token");
    }

    #[test]
    fn a_webhook_url_is_held_with_its_path_and_tokens() {
        let url = "https://hooks.slack.com/services/T0A1B2C3D/B0E1F2G3H/rEdAcTmErEdAcTmErEdAcTmE";
        hold_url(url);
        let teams = "https://prod-01.westus.logic.azure.com:443/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd";
        hold_url(teams);
        for (text, gone) in [
            (format!("POST {url} failed"), "rEdAcTmE"),
            (
                "echo: /services/T0A1B2C3D/B0E1F2G3H/rEdAcTmErEdAcTmErEdAcTmE".into(),
                "rEdAcTmE",
            ),
            ("token rEdAcTmErEdAcTmErEdAcTmE".into(), "rEdAcTmE"),
            (
                "sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd".into(),
                "AbCdEfGh",
            ),
            (
                "url=https%3A%2F%2Fprod-01.westus.logic.azure.com%3A443%2Fworkflows%2F0123456789abcdef0123456789abcdef".into(),
                "0123456789abcdef",
            ),
        ] {
            let out = scrub(&text);
            assert!(!out.contains(gone), "{text} → {out}");
            assert!(out.contains(REDACTED), "{out}");
        }
        // Short, ordinary parts of the URL are not secrets on their own.
        assert_eq!(scrub("api-version=2016-06-01"), "api-version=2016-06-01");
        assert_eq!(scrub("workflows"), "workflows");
    }

    #[test]
    fn scrubbing_comes_before_truncation() {
        let secret = "Z9y8X7w6V5u4T3s2R1q0";
        hold(secret);
        // The truncation point falls inside the secret: its first half must not survive.
        let text = format!("{}{secret}", "a".repeat(190));
        let out = excerpt(&text, 200);
        assert!(!out.contains("Z9y8X7w6"), "{out}");
        assert!(out.chars().count() <= 200);
    }

    #[test]
    fn short_values_are_not_held() {
        hold("abc");
        assert_eq!(scrub("abc abcdef"), "abc abcdef");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_scrubs_without_panicking_and_loses_the_secret(
                // No `%` or `\\` around it: those would begin an escape that swallows the
                // secret's first characters, which a decoder would read the same way.
                before in "[a-zA-Z0-9 .,:;=&?/-]{0,40}",
                after in "[a-zA-Z0-9 .,:;=&?/-]{0,40}",
                secret in "[!-~]{8,30}",
            ) {
                let text = format!("{before}{secret}{after}");
                let out = with(&[&secret], &text);
                prop_assert!(!out.contains(&secret));
                let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
                let out = with(&[&secret], &format!("{before}{encoded}{after}"));
                prop_assert!(!out.contains(&secret) && !out.contains(&encoded), "{}", out);
            }
        }
    }
}
