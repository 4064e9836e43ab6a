//! Slack incoming-webhook payloads: a `text` fallback (mobile notifications read only that) and
//! Block Kit blocks within Slack's limits.

use serde_json::{Value, json};

use super::escape;
use super::{List, Run, View};

/// Slack's limits: 50 blocks per message, 3,000 characters per section text, 150 per header,
/// 10 fields of 2,000 characters per section.
pub const MAX_BLOCKS: usize = 50;
pub const SECTION_TEXT_MAX: usize = 3000;
pub const HEADER_MAX: usize = 150;
pub const MAX_FIELDS: usize = 10;
pub const FIELD_TEXT_MAX: usize = 2000;
/// Slack also enforces an undocumented cumulative cap on block text (`msg_blocks_too_long`,
/// about 12,000 characters by a maintainer's account); stay well under it.
pub const TOTAL_TEXT_BUDGET: usize = 11_000;
/// The fallback is a notification line, not a document.
pub const FALLBACK_MAX: usize = 300;

/// Room kept in a list section for the "+N more" line.
const MORE_LINE_ROOM: usize = 60;

fn mrkdwn(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| {
            let t = escape::slack(&r.text);
            if r.bold && !t.trim().is_empty() {
                format!("*{t}*")
            } else {
                t
            }
        })
        .collect()
}

fn section(text: String) -> Value {
    // verbatim: Slack must not turn a bare URL or #name in user data into a link.
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": true}})
}

/// Packs a list into sections within the per-section and total limits. Returns the blocks and
/// the characters used.
fn list_blocks(list: &List, budget_chars: usize, budget_blocks: usize) -> (Vec<Value>, usize) {
    let heading = format!("*{}*", escape::slack(&list.heading));
    let mut blocks = Vec::new();
    let mut used = 0;
    let mut current = heading.clone();
    let mut shown = 0;
    for item in &list.items {
        let line = format!("\n• {}", mrkdwn(item));
        let total_if_added = used + current.len() + line.len() + MORE_LINE_ROOM;
        if total_if_added > budget_chars {
            break;
        }
        if current.len() + line.len() + MORE_LINE_ROOM > SECTION_TEXT_MAX {
            if blocks.len() + 2 > budget_blocks {
                break;
            }
            used += current.len();
            blocks.push(section(std::mem::take(&mut current)));
            current = line.trim_start_matches('\n').to_string();
        } else {
            current.push_str(&line);
        }
        shown += 1;
    }
    let omitted = list.items.len() - shown;
    if omitted > 0 {
        current.push_str(&format!("\n_+{omitted} more {}_", list.noun));
    }
    used += current.len();
    blocks.push(section(current));
    (blocks, used)
}

pub fn payload(view: &View) -> Value {
    let mut blocks = Vec::new();
    let header = escape::truncate(&format!("{} {}", view.tone.emoji(), view.title), HEADER_MAX);
    blocks.push(
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
    );
    let mut used = header.len();

    let mut intro = Vec::new();
    if !view.lead.is_empty() {
        intro.push(mrkdwn(&view.lead));
    }
    if !view.status.is_empty() {
        intro.push(mrkdwn(&view.status));
    }
    if !intro.is_empty() {
        // Lead and status are a name, a UPN (each capped at FIELD_MAX) and fixed words: far
        // below a section's limit.
        let text = intro.join("\n");
        used += text.len();
        blocks.push(section(text));
    }
    if !view.facts.is_empty() {
        let fields: Vec<Value> = view
            .facts
            .iter()
            .take(MAX_FIELDS)
            .map(|(label, value)| {
                let t = format!("*{}*\n{}", escape::slack(label), escape::slack(value));
                used += t.len();
                json!({"type": "mrkdwn", "text": escape::truncate(&t, FIELD_TEXT_MAX), "verbatim": true})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let callout = view.callout.as_ref().map(|c| {
        section(format!(
            "{} *{}* — {}",
            c.tone.emoji(),
            escape::slack(&c.headline),
            mrkdwn(&c.text)
        ))
    });
    let footer = json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape::slack(&view.footer), "verbatim": true}]});
    let reserved_chars = callout
        .as_ref()
        .map_or(0, |c| c["text"]["text"].as_str().map_or(0, str::len))
        + view.footer.len();
    let reserved_blocks = 1 + usize::from(callout.is_some()) + usize::from(!view.links.is_empty());
    for list in &view.lists {
        let budget_chars = TOTAL_TEXT_BUDGET.saturating_sub(used + reserved_chars);
        let budget_blocks = MAX_BLOCKS.saturating_sub(blocks.len() + reserved_blocks);
        if budget_blocks == 0 {
            break;
        }
        let (list_blocks, list_used) = list_blocks(list, budget_chars, budget_blocks);
        used += list_used;
        blocks.extend(list_blocks);
    }
    if let Some(c) = callout {
        blocks.push(c);
    }
    if !view.links.is_empty() {
        // Buttons with a `url` open the page; Slack needs no interactivity for them.
        let buttons: Vec<Value> = view
            .links
            .iter()
            .enumerate()
            .map(|(i, l)| {
                json!({"type": "button", "action_id": format!("link-{i}"), "text": {"type": "plain_text", "text": l.label}, "url": l.url})
            })
            .collect();
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.push(footer);
    json!({
        "text": escape::slack(&escape::truncate(&escape::single_line(&view.fallback), FALLBACK_MAX)),
        "blocks": blocks,
    })
}
