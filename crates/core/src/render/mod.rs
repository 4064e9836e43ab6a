//! Rendering: one [`View`] per message, decided once, then drawn for each destination.
//!
//! - [`escape`]: making user-controlled text harmless.
//! - [`slack`]: incoming-webhook payloads with Block Kit blocks.
//! - [`teams`]: Workflows webhook envelopes around an Adaptive Card 1.4.
//! - [`console`]: plain text for a terminal.
//!
//! A view separates fixed template text (titles, labels) from data (names, UPNs, locations,
//! anything Graph returned), so each renderer can put data only where its platform does not
//! parse it. Lists are ordered deterministically; a renderer that runs out of room keeps a
//! prefix and says how many items it left out ("+12 more detections").

pub mod console;
mod digests;
pub mod escape;
mod notices;
pub mod slack;
pub mod teams;
mod user;
mod workload;

use time::OffsetDateTime;

use crate::alert::{
    ActionNotice, Baseline, Change, Digest, DigestEntry, Message, OperationsNotice, PostureAlert,
    SnoozeEvent, SnoozeNotice, Summary, UserAlert,
};
use crate::catalogue;
use crate::context::Lookup;
use crate::risk::{RiskDetection, RiskLevel, RiskState};
use crate::verdict::Verdict;

use digests::{baseline_view, digest_view, summary_view};
use notices::{action_view, operations_view, posture_view, snooze_view};
pub use user::detection_item;
use user::user_view;

/// Colour and symbol of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Critical,
    High,
    Medium,
    Low,
    Good,
    Neutral,
    Warning,
}

impl Tone {
    pub fn emoji(self) -> &'static str {
        match self {
            Self::Critical => "⛔",
            Self::High => "🔴",
            Self::Medium => "🟠",
            Self::Low => "🟡",
            Self::Good => "✅",
            Self::Neutral => "⚪",
            Self::Warning => "⚠️",
        }
    }

    fn for_level(level: &RiskLevel) -> Self {
        match level {
            RiskLevel::High => Self::High,
            RiskLevel::Medium => Self::Medium,
            RiskLevel::Low => Self::Low,
            _ => Self::Warning,
        }
    }
}

/// A piece of text. `data` marks text that came from outside (Graph, the directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    pub bold: bool,
    pub data: bool,
}

impl Run {
    pub fn fixed(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            bold: false,
            data: false,
        }
    }
    pub fn data(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            bold: false,
            data: true,
        }
    }
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
}

/// A list whose tail may be cut: `noun` names its items in "+N more {noun}".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub heading: String,
    pub noun: &'static str,
    pub items: Vec<Vec<Run>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    pub tone: Tone,
    pub headline: String,
    pub text: Vec<Run>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub tone: Tone,
    /// Fixed text only.
    pub title: String,
    pub lead: Vec<Run>,
    pub status: Vec<Run>,
    /// Label (fixed) and value (data).
    pub facts: Vec<(String, String)>,
    pub lists: Vec<List>,
    pub callout: Option<Callout>,
    pub footer: String,
    /// One plain line for notifications (Slack's `text`, read by mobile clients).
    pub fallback: String,
    /// Buttons that open a page: a fixed label and a URL built from validated ids only.
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: &'static str,
    pub url: String,
}

/// An action button is a link with the button's words.
impl From<&crate::action_link::ActionButton> for Link {
    fn from(b: &crate::action_link::ActionButton) -> Self {
        Self {
            label: b.label(),
            url: b.url.clone(),
        }
    }
}

/// Longest single-line value shown (a display name, a UPN, a location).
pub const FIELD_MAX: usize = 200;

pub fn time_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn level_word(level: &RiskLevel) -> String {
    level.to_string()
}

fn state_words(state: &RiskState) -> String {
    match state {
        RiskState::AtRisk => "at risk".into(),
        RiskState::ConfirmedCompromised => "confirmed compromised".into(),
        RiskState::ConfirmedSafe => "confirmed safe".into(),
        RiskState::Remediated => "remediated".into(),
        RiskState::Dismissed => "dismissed".into(),
        RiskState::None => "no risk".into(),
        other => other.to_string(),
    }
}

/// The first letter upper-cased ("service principal" → "Service principal").
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "not reported".into(),
    }
}

pub fn short_ref(key: &str) -> String {
    crate::alert::keys::fingerprint([key])
}

/// A list line's start: the name in bold, then the user principal name in parentheses.
fn who(display_name: &str, upn: Option<&String>) -> Vec<Run> {
    let mut runs = vec![Run::data(escape::truncate(&escape::single_line(display_name), 80)).bold()];
    if let Some(u) = upn {
        runs.push(Run::fixed(" ("));
        runs.push(Run::data(escape::truncate(&escape::single_line(u), 80)));
        runs.push(Run::fixed(")"));
    }
    runs
}

pub fn view(message: &Message) -> View {
    match message {
        Message::User(a) => user_view(a),
        Message::Workload(a) => workload::workload_view(a),
        Message::Posture(p) => posture_view(p),
        Message::Digest(d) => digest_view(d),
        Message::Baseline(b) => baseline_view(b),
        Message::Operations(o) => operations_view(o),
        Message::Snooze(n) => snooze_view(n),
        Message::Action(n) => action_view(n),
        Message::Summary(s) => summary_view(s),
    }
}

/// Names the tenant a message is about, first among its facts and in its notification line, for
/// a channel that hears about several tenants. The name is data: each renderer escapes it.
pub fn name_tenant(view: &mut View, name: &str) {
    let name = escape::single_line(name);
    view.facts.insert(0, ("Tenant".into(), name.clone()));
    view.fallback = format!("[{name}] {}", view.fallback);
}

/// Plain text of runs, for the console and size estimates.
pub fn plain(runs: &[Run]) -> String {
    runs.iter().map(|r| r.text.as_str()).collect()
}
