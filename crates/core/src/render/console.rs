//! Plain text for a terminal: what a person would read in the chat message.

use super::{View, plain};

pub fn text(view: &View) -> String {
    let mut out = String::new();
    let title = format!("{} {}", view.tone.emoji(), view.title);
    out.push_str(&format!("┏━ {title}\n"));
    for line in [&view.lead, &view.status] {
        if !line.is_empty() {
            out.push_str(&format!("┃ {}\n", plain(line)));
        }
    }
    for (label, value) in &view.facts {
        out.push_str(&format!("┃   {label}: {value}\n"));
    }
    for list in &view.lists {
        out.push_str(&format!("┃ {}\n", list.heading));
        for item in &list.items {
            out.push_str(&format!("┃   • {}\n", plain(item)));
        }
    }
    if let Some(c) = &view.callout {
        out.push_str(&format!(
            "┃ {} {}: {}\n",
            c.tone.emoji(),
            c.headline,
            plain(&c.text)
        ));
    }
    for l in &view.links {
        out.push_str(&format!("┃ → {}: {}\n", l.label, l.url));
    }
    out.push_str(&format!("┗━ {}\n", view.footer));
    out
}
