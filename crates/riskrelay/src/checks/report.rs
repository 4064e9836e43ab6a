//! The posture report: its data, the exit status, and its two forms (for a person, and the
//! JSON of `riskrelay check --json`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::drift::DriftMode;
use crate::ids::TenantId;
use crate::render::time_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckStatus {
    Ok,
    Finding,
    NotApplicable,
    /// The check itself could not run.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub status: CheckStatus,
    pub summary: String,
    pub why: String,
    pub action: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureReport {
    pub tenant_id: TenantId,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub drift_mode: DriftMode,
    pub checks: Vec<CheckResult>,
    /// What the drift guard changed, in words.
    pub corrections: Vec<String>,
}

impl PostureReport {
    /// 0 all well, 1 a finding or drift, 2 a check could not run.
    pub fn exit_code(&self) -> u8 {
        if self.checks.iter().any(|c| c.status == CheckStatus::Error) {
            2
        } else if self.checks.iter().any(|c| c.status == CheckStatus::Finding) {
            1
        } else {
            0
        }
    }
}

/// The machine-readable report (`riskrelay check --json`): the report with its exit status.
pub fn json(report: &PostureReport) -> serde_json::Value {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct WithExit<'a> {
        exit_code: u8,
        #[serde(flatten)]
        report: &'a PostureReport,
    }
    serde_json::to_value(WithExit {
        exit_code: report.exit_code(),
        report,
    })
    .unwrap_or_default()
}

/// The report for a person, optionally with ANSI colours.
pub fn human(report: &PostureReport, color: bool) -> String {
    use anstyle::{AnsiColor, Style};
    let paint = |style: Style, text: &str| {
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut out = String::new();
    out.push_str(&paint(bold, "riskrelay check"));
    out.push_str(&format!(
        " · tenant {} · {} · drift mode {}\n\n",
        report.tenant_id,
        time_text(report.checked_at),
        match report.drift_mode {
            DriftMode::Off => "off",
            DriftMode::Report => "report",
            DriftMode::Enforce => "enforce",
        }
    ));
    for c in &report.checks {
        let (mark, style, word) = match c.status {
            CheckStatus::Ok => ("✔", AnsiColor::Green.on_default(), "ok"),
            CheckStatus::Finding => ("✘", AnsiColor::Yellow.on_default().bold(), "finding"),
            CheckStatus::NotApplicable => ("–", dim, "not applicable"),
            CheckStatus::Error => ("!", AnsiColor::Red.on_default().bold(), "could not check"),
        };
        out.push_str(&format!(
            "  {} {}  {}\n",
            paint(style, mark),
            paint(bold, &c.title),
            paint(style, &format!("[{word}]"))
        ));
        out.push_str(&format!("      {}\n", c.summary));
        out.push_str(&format!(
            "      {} {}\n",
            paint(dim, "Why it matters:"),
            c.why
        ));
        if let Some(a) = &c.action {
            out.push_str(&format!("      {} {a}\n", paint(bold, "What to do:")));
        }
        out.push('\n');
    }
    for c in &report.corrections {
        out.push_str(&format!(
            "  {} {c}\n",
            paint(AnsiColor::Green.on_default(), "Corrected:")
        ));
    }
    let findings = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Finding)
        .count();
    let errors = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Error)
        .count();
    let verdict = match (errors, findings) {
        (0, 0) => paint(AnsiColor::Green.on_default().bold(), "All well."),
        (0, n) => paint(
            AnsiColor::Yellow.on_default().bold(),
            &format!("{n} finding{}.", if n == 1 { "" } else { "s" }),
        ),
        (e, n) => paint(
            AnsiColor::Red.on_default().bold(),
            &format!(
                "{e} check{} could not run; {n} finding{}.",
                if e == 1 { "" } else { "s" },
                if n == 1 { "" } else { "s" }
            ),
        ),
    };
    out.push_str(&format!("{verdict} Exit status {}.\n", report.exit_code()));
    out
}
