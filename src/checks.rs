//! The posture checks: the on-premises reset setting (with the drift guard), password hash sync
//! freshness, and the user-risk Conditional Access policy.
//!
//! One run costs one identity-protection request (the policy), one Conditional Access request
//! (the policies) and one organization read; enforcing adds a PATCH and a read-back. It produces a
//! report for people (`riskrelay check`), the snapshot the remediation verdict uses, and the
//! alerts to post. The state that makes alerts once-per-episode is saved by [`PostureRun::commit`]
//! after the caller has handed the alerts over, so an alert that could not be handed over is
//! said again next time (its key is stable, so it is never posted twice).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::{AlertKind, Message, PostureAlert};
use crate::config::PostureConfig;
use crate::drift::{self, DriftMode, DriftState, Notice, Observed, PatchResult};
use crate::graph::{Feature, GraphClient, GraphError};
use crate::ids::TenantId;
use crate::posture::{
    Known, PasswordSync, PolicyState, PostureSnapshot, RiskResponse, UserRiskPolicy,
};
use crate::render::time_text;
use crate::store::{self, Store, StoreError};

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

/// Findings other than drift, each announced once when it appears and once when it clears.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingEpisodes(pub BTreeMap<String, i64>);

const FINDINGS_KEY: &str = "findings";

/// The result of a run, with the state to save once its messages are handed over.
#[derive(Debug)]
pub struct PostureRun {
    pub report: PostureReport,
    pub snapshot: PostureSnapshot,
    pub messages: Vec<Message>,
    drift: Option<(DriftState, Option<u64>)>,
    findings: Option<(FindingEpisodes, Option<u64>)>,
}

impl PostureRun {
    /// Saves the snapshot and the episode state. A conflict (another run saved first) is not an
    /// error: that run saw the same tenant.
    pub async fn commit(&self, store: &dyn Store) -> Result<(), StoreError> {
        let tenant = self.report.tenant_id;
        let snap = store::load::<PostureSnapshot>(store, tenant, store::keys::POSTURE).await?;
        store::save(
            store,
            tenant,
            store::keys::POSTURE,
            &self.snapshot,
            snap.map(|s| s.version),
        )
        .await?;
        if let Some((state, version)) = &self.drift
            && !store::save(store, tenant, store::keys::DRIFT, state, *version).await?
        {
            tracing::info!("drift state was saved by another run first");
        }
        if let Some((findings, version)) = &self.findings
            && !store::save(store, tenant, FINDINGS_KEY, findings, *version).await?
        {
            tracing::info!("posture findings were saved by another run first");
        }
        Ok(())
    }
}

const SETTING_TITLE: &str = "Allow on-premises password change to reset user risk";
const SETTING_WHY: &str = "With password hash sync, it lets a hybrid user clear their own user risk with an ordinary on-premises password change (Ctrl+Alt+Del) instead of waiting for an administrator.";
const SYNC_TITLE: &str = "Password hash sync";
const SYNC_WHY: &str = "An on-premises password change reaches Entra, and clears the user's risk, only through password hash sync.";
const POLICY_TITLE: &str = "User-risk Conditional Access policy";
const POLICY_WHY: &str = "A cloud-only or unsynced user can clear their own risk only when a Conditional Access policy asks at-risk users for a secure password change or risk remediation.";

fn check(
    id: &str,
    title: &str,
    status: CheckStatus,
    summary: String,
    why: &str,
    action: Option<String>,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        title: title.into(),
        status,
        summary,
        why: why.into(),
        action,
    }
}

fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let mins = (now - then).whole_minutes().max(0);
    match mins {
        m if m < 2 => "a minute".into(),
        m if m < 120 => format!("{m} minutes"),
        m if m < 48 * 60 => format!("{} hours", m / 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

fn notice_alert(tenant: TenantId, n: &Notice, now: OffsetDateTime) -> PostureAlert {
    let action_enable = "Turn it on in the Microsoft Entra admin center (ID Protection > Dashboard > Settings), or let riskrelay keep it on with RISKRELAY_DRIFT_MODE=enforce (the app then needs Policy.ReadWrite.IdentityProtection).";
    let (title, detail, action, resolved): (&str, String, Option<String>, bool) = match n {
        Notice::Drift { since } => (
            "On-premises password change no longer resets user risk",
            format!("\"{SETTING_TITLE}\" was found off at {}.", time_text(*since)),
            Some(action_enable.into()),
            false,
        ),
        Notice::Restored { since } => (
            "On-premises password change resets user risk again",
            format!("\"{SETTING_TITLE}\" is on again; it had been off since {}.", time_text(*since)),
            None,
            true,
        ),
        Notice::Corrected { since, at } => (
            "riskrelay turned on-premises password reset back on",
            format!("\"{SETTING_TITLE}\" was found off at {}; riskrelay switched it on at {} and read it back to confirm.", time_text(*since), time_text(*at)),
            Some("Find out who or what turned it off (the Entra audit log records policy changes).".into()),
            true,
        ),
        Notice::CorrectionDidNotStick { since, at } => (
            "Could not keep on-premises password reset on",
            format!("\"{SETTING_TITLE}\" was found off at {}; riskrelay switched it on at {}, but reading it back still says off.", time_text(*since), time_text(*at)),
            Some("Check it in the portal, and look for a process that turns it off again.".into()),
            false,
        ),
        Notice::CannotEnforce { since } => (
            "Cannot enforce: the app needs Policy.ReadWrite.IdentityProtection",
            format!("\"{SETTING_TITLE}\" has been off since {}, and Graph refused riskrelay's change (403). riskrelay keeps reporting instead.", time_text(*since)),
            Some("Grant the app Policy.ReadWrite.IdentityProtection (with admin consent), or turn the setting on by hand.".into()),
            false,
        ),
        Notice::CorrectionDeferred { since, reason } => (
            "On-premises password change no longer resets user risk",
            format!("\"{SETTING_TITLE}\" was found off at {}. riskrelay's correction failed this time ({reason}) and is tried again at the next check.", time_text(*since)),
            Some(action_enable.into()),
            false,
        ),
        Notice::Unavailable { status } => (
            "The on-premises reset setting cannot be checked here",
            format!("Graph's beta identityProtection/policy endpoint answered {status}: it is unavailable in this tenant or cloud, so riskrelay cannot watch or enforce the setting."),
            Some("Check the setting in the portal by hand.".into()),
            false,
        ),
        Notice::ReadForbidden => (
            "The on-premises reset setting cannot be read",
            "Graph refused to read the identity protection policy (403): the app needs Policy.Read.IdentityProtection.".into(),
            Some("Grant the app Policy.Read.IdentityProtection (or Policy.ReadWrite.IdentityProtection to enforce).".into()),
            false,
        ),
        Notice::Missing => (
            "The on-premises reset setting was not in Graph's answer",
            format!("The beta identity protection policy has no {} member; the undocumented API may have changed.", crate::posture::SETTING),
            Some("Check the setting in the portal by hand, and report this to the riskrelay maintainers.".into()),
            false,
        ),
    };
    PostureAlert {
        key: format!("posture/{tenant}/{}", n.key()),
        tenant_id: tenant,
        kind: AlertKind::SettingDrift,
        title: title.into(),
        detail,
        why: SETTING_WHY.into(),
        action,
        resolved,
        at: now,
    }
}

async fn drift_check(
    graph: &GraphClient,
    store: &dyn Store,
    tenant: TenantId,
    mode: DriftMode,
    now: OffsetDateTime,
) -> Result<
    (
        CheckResult,
        Known<bool>,
        Vec<Message>,
        Vec<String>,
        Option<(DriftState, Option<u64>)>,
    ),
    StoreError,
> {
    let observed = match graph.identity_protection_policy().await {
        Ok(p) => match p.on_prem_reset_enabled() {
            Some(true) => Observed::On,
            Some(false) => Observed::Off,
            None => Observed::Missing,
        },
        Err(GraphError::Forbidden { .. }) => Observed::ReadForbidden,
        Err(e @ (GraphError::NotFound { .. } | GraphError::Rejected { status: 400, .. })) => {
            Observed::Unavailable {
                status: e.status().unwrap_or(404),
            }
        }
        Err(e) => {
            let r = check(
                "onPremisesResetSetting",
                SETTING_TITLE,
                CheckStatus::Error,
                format!("Could not read the setting: {e}"),
                SETTING_WHY,
                None,
            );
            return Ok((
                r,
                Known::Unknown {
                    reason: e.to_string(),
                },
                Vec::new(),
                Vec::new(),
                None,
            ));
        }
    };
    let prev = store::load::<DriftState>(store, tenant, store::keys::DRIFT).await?;
    let (prev_state, mut version) = prev.map(|p| (p.value, Some(p.version))).unwrap_or_default();
    let plan = drift::decide(mode, &prev_state, &observed, now);
    let mut notices = plan.notices.clone();
    let mut next = plan.next.clone();
    let mut corrections = Vec::new();
    let mut setting = match observed {
        Observed::On => Known::Known { value: true },
        Observed::Off => Known::Known { value: false },
        _ => Known::Unknown {
            reason: "the setting could not be read".into(),
        },
    };
    if plan.patch {
        // Claim the episode's one PATCH before making it, so a second container does not.
        if !store::save(store, tenant, store::keys::DRIFT, &next, version).await? {
            tracing::info!("another run is correcting the setting");
            notices.clear();
            let r = check(
                "onPremisesResetSetting",
                SETTING_TITLE,
                CheckStatus::Finding,
                "Off; another riskrelay run is correcting it right now.".into(),
                SETTING_WHY,
                None,
            );
            return Ok((r, setting, Vec::new(), corrections, None));
        }
        version = Some(version.map_or(1, |v| v + 1));
        let result = match graph.enable_on_prem_reset().await {
            Ok(()) => match graph
                .identity_protection_policy()
                .await
                .map(|p| p.on_prem_reset_enabled())
            {
                Ok(Some(true)) => PatchResult::Stuck,
                _ => PatchResult::DidNotStick,
            },
            Err(GraphError::Forbidden { .. }) => PatchResult::Forbidden,
            Err(e @ (GraphError::NotFound { .. } | GraphError::Rejected { status: 400, .. })) => {
                PatchResult::Unavailable {
                    status: e.status().unwrap_or(404),
                }
            }
            Err(e) => PatchResult::Transient {
                reason: e.to_string(),
            },
        };
        let (after, more) = drift::after_patch(&next, &result, now);
        next = after;
        notices.extend(more);
        match result {
            PatchResult::Stuck => {
                setting = Known::Known { value: true };
                corrections.push(format!(
                    "Switched \"{SETTING_TITLE}\" back on at {} and read it back on.",
                    time_text(now)
                ));
            }
            PatchResult::DidNotStick => corrections
                .push("Switched the setting on, but reading it back still says off.".into()),
            _ => {}
        }
    }
    let since = next.episode.as_ref().map(|e| e.since).unwrap_or(now);
    let result = match (&observed, &setting) {
        (_, Known::Known { value: true }) if !corrections.is_empty() => check(
            "onPremisesResetSetting",
            SETTING_TITLE,
            CheckStatus::Ok,
            "Was off; riskrelay switched it back on and confirmed it.".into(),
            SETTING_WHY,
            None,
        ),
        (Observed::On, _) => check("onPremisesResetSetting", SETTING_TITLE, CheckStatus::Ok, "On.".into(), SETTING_WHY, None),
        (Observed::Off, _) => check(
            "onPremisesResetSetting",
            SETTING_TITLE,
            CheckStatus::Finding,
            format!("Off (seen off since {}).", time_text(since)),
            SETTING_WHY,
            Some(match mode {
                DriftMode::Enforce => "riskrelay could not switch it back on; see the alert for why.".into(),
                _ => "Switch it on in the Entra admin center (ID Protection > Dashboard > Settings), or run with --enforce.".into(),
            }),
        ),
        (Observed::Unavailable { status }, _) => check(
            "onPremisesResetSetting",
            SETTING_TITLE,
            CheckStatus::Finding,
            format!("Cannot be checked: Graph's beta identityProtection/policy answered {status} (unavailable in this tenant or cloud)."),
            SETTING_WHY,
            Some("Check the setting in the portal by hand.".into()),
        ),
        (Observed::ReadForbidden, _) => check(
            "onPremisesResetSetting",
            SETTING_TITLE,
            CheckStatus::Error,
            format!("Graph refused to read it (403): the app needs the {} permission.", Feature::PolicyRead.permission()),
            SETTING_WHY,
            Some("Grant Policy.Read.IdentityProtection to the app, with admin consent.".into()),
        ),
        (Observed::Missing, _) => check(
            "onPremisesResetSetting",
            SETTING_TITLE,
            CheckStatus::Finding,
            "Graph's answer has no isUserRiskClearedOnPasswordReset member; the undocumented API may have changed.".into(),
            SETTING_WHY,
            Some("Check the setting in the portal by hand.".into()),
        ),
    };
    let messages = notices
        .iter()
        .map(|n| Message::Posture(notice_alert(tenant, n, now)))
        .collect();
    let changed = next != prev_state || plan.patch;
    Ok((
        result,
        setting,
        messages,
        corrections,
        changed.then_some((next, version)),
    ))
}

async fn password_sync_check(
    graph: &GraphClient,
    stale_after: Duration,
    now: OffsetDateTime,
) -> (CheckResult, Known<PasswordSync>) {
    let org = match graph.organization().await {
        Ok(o) => o,
        Err(e) => {
            let r = check(
                "passwordHashSync",
                SYNC_TITLE,
                CheckStatus::Error,
                format!("Could not read the organization: {e}"),
                SYNC_WHY,
                None,
            );
            return (
                r,
                Known::Unknown {
                    reason: e.to_string(),
                },
            );
        }
    };
    if org.on_premises_sync_enabled != Some(true) {
        let r = check(
            "passwordHashSync",
            SYNC_TITLE,
            CheckStatus::NotApplicable,
            "The tenant is cloud-only (no sync from on-premises): the on-premises reset setting has no effect here.".into(),
            SYNC_WHY,
            None,
        );
        return (
            r,
            Known::Known {
                value: PasswordSync::CloudOnly,
            },
        );
    }
    let last = org.on_premises_last_password_sync_date_time;
    let stale_after = time::Duration::try_from(stale_after).unwrap_or(time::Duration::hours(3));
    match last {
        Some(t) if now - t <= stale_after => (
            check(
                "passwordHashSync",
                SYNC_TITLE,
                CheckStatus::Ok,
                format!("Running: last password sync {} ago.", ago(now, t)),
                SYNC_WHY,
                None,
            ),
            Known::Known {
                value: PasswordSync::Fresh { last: t },
            },
        ),
        _ => {
            let summary = match last {
                Some(t) => format!(
                    "No password sync for {} (last at {}).",
                    ago(now, t),
                    time_text(t)
                ),
                None => {
                    "The tenant syncs from on-premises, but no password sync was ever recorded."
                        .into()
                }
            };
            (
                check(
                    "passwordHashSync",
                    SYNC_TITLE,
                    CheckStatus::Finding,
                    summary,
                    SYNC_WHY,
                    Some("Check Microsoft Entra Connect (or Cloud Sync) and that password hash synchronization is enabled and running.".into()),
                ),
                Known::Known { value: PasswordSync::Stale { last } },
            )
        }
    }
}

fn response_words(r: &RiskResponse) -> &'static str {
    match r {
        RiskResponse::PasswordChange => "a secure password change",
        RiskResponse::RiskRemediation => "risk remediation",
        RiskResponse::Block => "blocking access",
        RiskResponse::Other => "a control that does not clear risk",
    }
}

async fn user_risk_policy_check(graph: &GraphClient) -> (CheckResult, Known<Vec<UserRiskPolicy>>) {
    let policies = match graph.conditional_access_policies().await {
        Ok(p) => p
            .iter()
            .filter_map(UserRiskPolicy::from_ca)
            .collect::<Vec<_>>(),
        Err(e) => {
            let r = check(
                "userRiskPolicy",
                POLICY_TITLE,
                CheckStatus::Error,
                format!("Could not read Conditional Access policies: {e}"),
                POLICY_WHY,
                None,
            );
            return (
                r,
                Known::Unknown {
                    reason: e.to_string(),
                },
            );
        }
    };
    let acts = |p: &&UserRiskPolicy| {
        p.covers("high")
            && matches!(
                p.response,
                RiskResponse::PasswordChange | RiskResponse::RiskRemediation | RiskResponse::Block
            )
    };
    let enabled = policies
        .iter()
        .filter(acts)
        .find(|p| p.state == PolicyState::Enabled);
    let report_only = policies
        .iter()
        .filter(acts)
        .find(|p| p.state == PolicyState::ReportOnly);
    let result = match (enabled, report_only) {
        (Some(p), _) => check(
            "userRiskPolicy",
            POLICY_TITLE,
            CheckStatus::Ok,
            format!("\"{}\" requires {} for high user risk.", p.name, response_words(&p.response)),
            POLICY_WHY,
            None,
        ),
        (None, Some(p)) => check(
            "userRiskPolicy",
            POLICY_TITLE,
            CheckStatus::Finding,
            format!("\"{}\" covers high user risk but is report-only: it does not enforce anything.", p.name),
            POLICY_WHY,
            Some("Switch the policy to On once its report-only results look right.".into()),
        ),
        (None, None) => check(
            "userRiskPolicy",
            POLICY_TITLE,
            CheckStatus::Finding,
            "No enabled Conditional Access policy requires a password change, risk remediation or a block for high user risk.".into(),
            POLICY_WHY,
            Some("Create a Conditional Access policy for all users at high user risk that requires risk remediation (or a secure password change with MFA).".into()),
        ),
    };
    (result, Known::Known { value: policies })
}

/// Alerts for findings that appeared or cleared since the last run.
fn finding_messages(
    tenant: TenantId,
    prev: &FindingEpisodes,
    checks: &[CheckResult],
    now: OffsetDateTime,
) -> (FindingEpisodes, Vec<Message>) {
    let mut next = prev.clone();
    let mut out = Vec::new();
    for (id, kind) in [
        ("passwordHashSync", AlertKind::PasswordSyncStale),
        ("userRiskPolicy", AlertKind::NoUserRiskPolicy),
    ] {
        let Some(c) = checks.iter().find(|c| c.id == id) else {
            continue;
        };
        let open = prev.0.get(id).copied();
        let (title, resolved, since) = match (c.status, open) {
            (CheckStatus::Finding, None) => (c.title.clone(), false, now.unix_timestamp()),
            (CheckStatus::Ok | CheckStatus::NotApplicable, Some(since)) => {
                (format!("{}: back to normal", c.title), true, since)
            }
            _ => continue,
        };
        if resolved {
            next.0.remove(id);
        } else {
            next.0.insert(id.to_string(), since);
        }
        out.push(Message::Posture(PostureAlert {
            key: format!(
                "posture/{tenant}/{id}/{since}/{}",
                if resolved { "resolved" } else { "found" }
            ),
            tenant_id: tenant,
            kind,
            title,
            detail: c.summary.clone(),
            why: c.why.clone(),
            action: c.action.clone(),
            resolved,
            at: now,
        }));
    }
    (next, out)
}

/// Runs every posture check once, hands its alerts to `queue` as notices, and only then saves the
/// episode state: the scheduled posture job of every entry point.
pub async fn run_and_hand_over(
    graph: &GraphClient,
    store: &dyn Store,
    tenant: TenantId,
    config: &PostureConfig,
    queue: &dyn crate::queue::Queue,
) -> anyhow::Result<PostureRun> {
    let run = run(graph, store, tenant, config, OffsetDateTime::now_utc()).await?;
    let notices: Vec<crate::observation::WorkItem> = run
        .messages
        .iter()
        .map(|m| crate::observation::WorkItem::Notice {
            tenant_id: tenant,
            message: m.clone(),
        })
        .collect();
    if !notices.is_empty() {
        queue.enqueue(notices).await?;
    }
    run.commit(store).await?;
    tracing::info!(
        exit = run.report.exit_code(),
        alerts = run.messages.len(),
        "posture check done"
    );
    Ok(run)
}

/// Runs every posture check once.
pub async fn run(
    graph: &GraphClient,
    store: &dyn Store,
    tenant: TenantId,
    config: &PostureConfig,
    now: OffsetDateTime,
) -> Result<PostureRun, StoreError> {
    let (setting_check, setting, mut messages, corrections, drift) =
        drift_check(graph, store, tenant, config.drift_mode, now).await?;
    let (sync_check, password_sync) =
        password_sync_check(graph, config.password_sync_stale_after, now).await;
    let (policy_check, user_risk_policies) = user_risk_policy_check(graph).await;
    let checks = vec![setting_check, sync_check, policy_check];
    let prev = store::load::<FindingEpisodes>(store, tenant, FINDINGS_KEY).await?;
    let (prev_findings, findings_version) =
        prev.map(|p| (p.value, Some(p.version))).unwrap_or_default();
    let (findings, more) = finding_messages(tenant, &prev_findings, &checks, now);
    messages.extend(more);
    Ok(PostureRun {
        report: PostureReport {
            tenant_id: tenant,
            checked_at: now,
            drift_mode: config.drift_mode,
            checks,
            corrections,
        },
        snapshot: PostureSnapshot {
            checked_at: now,
            setting,
            password_sync,
            user_risk_policies,
        },
        messages,
        drift,
        findings: (findings != prev_findings).then_some((findings, findings_version)),
    })
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
