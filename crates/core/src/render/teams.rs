//! Microsoft Teams: the Workflows webhook envelope around an Adaptive Card 1.4.
//!
//! Version 1.4 because Power Automate renders 1.5 cards as "this card couldn't be displayed".
//! Fixed text goes in TextBlocks; everything from outside goes in `TextRun`s, which Teams does not
//! parse as Markdown, so a display name cannot become a link or a list.

use serde_json::{Value, json};

use super::escape;
use super::{FIELD_MAX, List, Run, Tone, View};

/// Teams rejects webhook messages over about 28 KB ("Request Entity too large"); public reports
/// put the effective limit lower, so the budget keeps a wide margin.
pub const MAX_BYTES: usize = 25_000;

fn container_style(tone: Tone) -> &'static str {
    match tone {
        Tone::Critical | Tone::High => "attention",
        Tone::Medium | Tone::Warning => "warning",
        Tone::Low => "accent",
        Tone::Good => "good",
        Tone::Neutral => "emphasis",
    }
}

fn runs(runs: &[Run]) -> Value {
    let inlines: Vec<Value> = runs
        .iter()
        .filter(|r| !r.text.is_empty())
        .map(|r| {
            let text = if r.data {
                escape::teams_field(&r.text, 4 * FIELD_MAX)
            } else {
                r.text.clone()
            };
            let mut v = json!({"type": "TextRun", "text": text});
            if r.bold {
                v["weight"] = json!("Bolder");
            }
            v
        })
        .collect();
    json!({"type": "RichTextBlock", "inlines": inlines})
}

fn list_items(list: &List, keep: usize) -> Vec<Value> {
    let mut out = vec![
        json!({"type": "TextBlock", "text": list.heading, "weight": "Bolder", "wrap": true, "spacing": "Medium"}),
    ];
    for item in list.items.iter().take(keep) {
        let mut line = vec![Run::fixed("• ")];
        line.extend(item.iter().cloned());
        out.push(runs(&line));
    }
    let omitted = list.items.len().saturating_sub(keep);
    if omitted > 0 {
        out.push(json!({"type": "TextBlock", "text": format!("+{omitted} more {}", list.noun), "isSubtle": true, "wrap": true}));
    }
    out
}

fn card(view: &View, keep: usize) -> Value {
    let mut body = vec![json!({
        "type": "Container",
        "style": container_style(view.tone),
        "bleed": true,
        "items": [{"type": "TextBlock", "text": format!("{} {}", view.tone.emoji(), view.title), "weight": "Bolder", "size": "Medium", "wrap": true}],
    })];
    if !view.lead.is_empty() {
        body.push(runs(&view.lead));
    }
    if !view.status.is_empty() {
        body.push(runs(&view.status));
    }
    for (label, value) in &view.facts {
        body.push(json!({
            "type": "ColumnSet",
            "spacing": "Small",
            "columns": [
                {"type": "Column", "width": "140px", "items": [{"type": "TextBlock", "text": label, "weight": "Bolder", "wrap": true}]},
                {"type": "Column", "width": "stretch", "items": [runs(&[Run::data(value.clone())])]},
            ],
        }));
    }
    for list in &view.lists {
        body.extend(list_items(list, keep));
    }
    if let Some(c) = &view.callout {
        body.push(json!({
            "type": "Container",
            "style": container_style(c.tone),
            "spacing": "Medium",
            "items": [
                {"type": "TextBlock", "text": format!("{} {}", c.tone.emoji(), c.headline), "weight": "Bolder", "wrap": true},
                runs(&c.text),
            ],
        }));
    }
    body.push(json!({"type": "TextBlock", "text": view.footer, "isSubtle": true, "size": "Small", "wrap": true, "spacing": "Medium"}));
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    });
    if !view.links.is_empty() {
        let actions: Vec<Value> = view
            .links
            .iter()
            .map(|l| json!({"type": "Action.OpenUrl", "title": l.label, "url": l.url}))
            .collect();
        content["actions"] = Value::Array(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// The envelope, with list items cut (the same number from each list) until it fits.
pub fn payload(view: &View) -> Value {
    let longest = view.lists.iter().map(|l| l.items.len()).max().unwrap_or(0);
    let full = card(view, longest);
    if size(&full) <= MAX_BYTES {
        return full;
    }
    // The largest `keep` that fits, by bisection: size grows with `keep`.
    let (mut lo, mut hi) = (0usize, longest);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if size(&card(view, mid)) <= MAX_BYTES {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    card(view, lo)
}
