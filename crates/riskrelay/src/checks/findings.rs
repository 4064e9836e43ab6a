//! The posture checks' conclusions, in words: pure functions from what Graph said to a
//! [`CheckResult`], and the alerts a drift notice or a finding becomes. No I/O here.

use std::time::Duration;

use time::OffsetDateTime;

use super::FindingEpisodes;
use super::report::{CheckResult, CheckStatus};
use crate::alert::{AlertKind, Message, PostureAlert};
use crate::drift::DriftNotice;
use crate::ids::TenantId;
use crate::posture::{
    AppCoverage, CaPolicy, Known, Organization, PasswordSync, PolicyState, RiskResponse,
    UserRiskPolicy,
};
use crate::render::time_text;

pub const SETTING_TITLE: &str = "Allow on-premises password change to reset user risk";
pub const SETTING_WHY: &str = "With password hash sync, it lets a hybrid user clear their own user risk with an ordinary on-premises password change (Ctrl+Alt+Del) instead of waiting for an administrator.";
pub const SYNC_TITLE: &str = "Password hash sync";
pub const SYNC_WHY: &str = "An on-premises password change reaches Entra, and clears the user's risk, only through password hash sync.";
pub const POLICY_TITLE: &str = "User-risk Conditional Access policy";
pub const POLICY_WHY: &str = "A cloud-only or unsynced user can clear their own risk only when a Conditional Access policy asks at-risk users for a secure password change or risk remediation.";

pub const WORKLOAD_POLICY_TITLE: &str = "Workload identity risk Conditional Access policy";
pub const WORKLOAD_POLICY_WHY: &str = "A service principal cannot answer MFA or change a password: a Conditional Access policy that blocks it at high risk is what stops a stolen credential from being used while the team responds.";

pub const WORKLOAD_READ_TITLE: &str = "Workload identity risk";
pub const WORKLOAD_READ_WHY: &str =
    "Risky service principals and agents are alerted only where Graph lets riskrelay read them.";

pub fn check(
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

pub fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let mins = (now - then).whole_minutes().max(0);
    match mins {
        m if m < 2 => "a minute".into(),
        m if m < 120 => format!("{m} minutes"),
        m if m < 48 * 60 => format!("{} hours", m / 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

pub fn notice_alert(tenant: TenantId, n: &DriftNotice, now: OffsetDateTime) -> PostureAlert {
    let action_enable = "Turn it on in the Microsoft Entra admin center (ID Protection > Dashboard > Settings), or let riskrelay keep it on with RISKRELAY_DRIFT_MODE=enforce (the app then needs Policy.ReadWrite.IdentityProtection).";
    let (title, detail, action, resolved): (&str, String, Option<String>, bool) = match n {
        DriftNotice::Drift { since } => (
            "On-premises password change no longer resets user risk",
            format!("\"{SETTING_TITLE}\" was found off at {}.", time_text(*since)),
            Some(action_enable.into()),
            false,
        ),
        DriftNotice::Restored { since } => (
            "On-premises password change resets user risk again",
            format!("\"{SETTING_TITLE}\" is on again; it had been off since {}.", time_text(*since)),
            None,
            true,
        ),
        DriftNotice::Corrected { since, at } => (
            "riskrelay turned on-premises password reset back on",
            format!("\"{SETTING_TITLE}\" was found off at {}; riskrelay switched it on at {} and read it back to confirm.", time_text(*since), time_text(*at)),
            Some("Find out who or what turned it off (the Entra audit log records policy changes).".into()),
            true,
        ),
        DriftNotice::CorrectionDidNotStick { since, at } => (
            "Could not keep on-premises password reset on",
            format!("\"{SETTING_TITLE}\" was found off at {}; riskrelay switched it on at {}, but reading it back still says off.", time_text(*since), time_text(*at)),
            Some("Check it in the portal, and look for a process that turns it off again.".into()),
            false,
        ),
        DriftNotice::CannotEnforce { since } => (
            "Cannot enforce: the app needs Policy.ReadWrite.IdentityProtection",
            format!("\"{SETTING_TITLE}\" has been off since {}, and Graph refused riskrelay's change (403). riskrelay keeps reporting instead.", time_text(*since)),
            Some("Grant the app Policy.ReadWrite.IdentityProtection (with admin consent), or turn the setting on by hand.".into()),
            false,
        ),
        DriftNotice::CorrectionDeferred { since, reason } => (
            "On-premises password change no longer resets user risk",
            format!("\"{SETTING_TITLE}\" was found off at {}. riskrelay's correction failed this time ({reason}) and is tried again at the next check.", time_text(*since)),
            Some(action_enable.into()),
            false,
        ),
        DriftNotice::Unavailable { status } => (
            "The on-premises reset setting cannot be checked here",
            format!("Graph's beta identityProtection/policy endpoint answered {status}: it is unavailable in this tenant or cloud, so riskrelay cannot watch or enforce the setting."),
            Some("Check the setting in the portal by hand.".into()),
            false,
        ),
        DriftNotice::ReadForbidden => (
            "The on-premises reset setting cannot be read",
            "Graph refused to read the identity protection policy (403): the app needs Policy.Read.IdentityProtection.".into(),
            Some("Grant the app Policy.Read.IdentityProtection (or Policy.ReadWrite.IdentityProtection to enforce).".into()),
            false,
        ),
        DriftNotice::Checkable { .. } => (
            "The on-premises reset setting can be checked again",
            format!("Graph answers for the identity protection policy again, and \"{SETTING_TITLE}\" is on."),
            None,
            true,
        ),
        DriftNotice::Missing => (
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

fn response_words(r: &RiskResponse) -> &'static str {
    match r {
        RiskResponse::PasswordChange => "a secure password change",
        RiskResponse::RiskRemediation => "risk remediation",
        RiskResponse::Block => "blocking access",
        RiskResponse::Other => "a control that does not clear risk",
    }
}

/// The password hash sync check from what the organization says.
pub fn password_sync(
    org: &Organization,
    stale_after: Duration,
    now: OffsetDateTime,
) -> (CheckResult, Known<PasswordSync>) {
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

/// The user-risk policy check from the tenant's Conditional Access policies that act on user
/// risk.
pub fn user_risk_policy(policies: &[UserRiskPolicy]) -> CheckResult {
    let acts = |p: &&UserRiskPolicy| {
        p.covers("high")
            && matches!(
                p.response,
                RiskResponse::PasswordChange | RiskResponse::RiskRemediation | RiskResponse::Block
            )
    };
    // A policy for everyone (exclusions named, such as break-glass accounts) before one that
    // covers only some users or some apps.
    let narrow = |p: &UserRiskPolicy| {
        let some_users = p
            .partial_scope()
            .is_some_and(|w| !w.starts_with("all users"));
        let some_apps = matches!(p.app_coverage(), AppCoverage::Some(_));
        some_users || some_apps
    };
    let mut enabled_all: Vec<&UserRiskPolicy> = policies
        .iter()
        .filter(acts)
        .filter(|p| p.state == PolicyState::Enabled)
        .collect();
    enabled_all.sort_by_key(|p| narrow(p));
    let enabled = enabled_all.first().copied();
    if let Some(p) = enabled.filter(|p| narrow(p)) {
        let mut limits = Vec::new();
        if let Some(w) = p.partial_scope() {
            limits.push(format!("it applies to {w}"));
        }
        if let AppCoverage::Some(n) = p.app_coverage() {
            limits.push(format!(
                "only to sign-ins to {n} app{}, not all cloud apps",
                if n == 1 { "" } else { "s" }
            ));
        }
        return check(
            "userRiskPolicy",
            POLICY_TITLE,
            CheckStatus::Finding,
            format!(
                "\"{}\" requires {} for high user risk, but {}: other users at high risk are not asked to remediate.",
                p.name,
                response_words(&p.response),
                limits.join(", and ")
            ),
            POLICY_WHY,
            Some(
                "Target all users (excluding only emergency access accounts) and all cloud apps."
                    .into(),
            ),
        );
    }
    let report_only = policies
        .iter()
        .filter(acts)
        .find(|p| p.state == PolicyState::ReportOnly);
    match (enabled, report_only) {
        (Some(p), _) => {
            let mut summary = format!(
                "\"{}\" requires {} for high user risk",
                p.name,
                response_words(&p.response)
            );
            if let Some(w) = p.partial_scope() {
                summary.push_str(&format!(" ({w})"));
            }
            if let AppCoverage::AllExcept(n) = p.app_coverage() {
                summary.push_str(&format!(
                    " at sign-ins to every cloud app but {n} excluded"
                ));
            }
            summary.push('.');
            check(
                "userRiskPolicy",
                POLICY_TITLE,
                CheckStatus::Ok,
                summary,
                POLICY_WHY,
                None,
            )
        }
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
    }
}

/// Whether a policy blocks some service principals at high workload identity risk: the
/// `servicePrincipalRiskLevels` condition with `high`, client applications naming service
/// principals, and the grant control `block` (the only one Conditional Access offers workload
/// identities).
fn blocks_high_risk_workloads(p: &CaPolicy) -> bool {
    let Some(c) = &p.conditions else {
        return false;
    };
    c.service_principal_risk_levels.iter().any(|l| l == "high")
        && c.client_applications.as_ref().is_some_and(|a| {
            a.include_service_principals
                .iter()
                .any(|s| !s.eq_ignore_ascii_case("None"))
        })
        && p.grant_controls
            .as_ref()
            .is_some_and(|g| g.built_in_controls.iter().any(|b| b == "block"))
}

/// Whom a blocking policy covers, in words.
fn workload_scope(p: &CaPolicy) -> String {
    let apps = p
        .conditions
        .as_ref()
        .and_then(|c| c.client_applications.clone())
        .unwrap_or_default();
    let mut words = if apps
        .include_service_principals
        .iter()
        .any(|s| s == "ServicePrincipalsInMyTenant")
    {
        "every service principal this tenant owns".to_string()
    } else {
        let n = apps.include_service_principals.len();
        format!(
            "{n} named service principal{}",
            if n == 1 { "" } else { "s" }
        )
    };
    let excluded = apps.exclude_service_principals.len();
    if excluded > 0 {
        words.push_str(&format!(" but {excluded} excluded"));
    }
    words
}

/// The workload identity risk policy check: run only in a tenant whose risky service principals
/// riskrelay reads (`licensed`), since risk-based Conditional Access for workload identities
/// needs the same Workload ID Premium licence.
pub fn workload_risk_policy(policies: &[CaPolicy], licensed: bool) -> CheckResult {
    let id = "workloadRiskPolicy";
    if !licensed {
        return check(
            id,
            WORKLOAD_POLICY_TITLE,
            CheckStatus::NotApplicable,
            "riskrelay does not read risky service principals in this tenant (no Workload ID Premium, no permission, or RISKRELAY_WORKLOAD_RISK leaves them out), so a policy on their risk is not checked.".into(),
            WORKLOAD_POLICY_WHY,
            None,
        );
    }
    let blocking: Vec<&CaPolicy> = policies
        .iter()
        .filter(|p| blocks_high_risk_workloads(p))
        .collect();
    let name = |p: &CaPolicy| p.display_name.clone().unwrap_or_else(|| p.id.clone());
    if let Some(p) = blocking.iter().find(|p| p.state == "enabled") {
        return check(
            id,
            WORKLOAD_POLICY_TITLE,
            CheckStatus::Ok,
            format!("\"{}\" blocks {} at high risk.", name(p), workload_scope(p)),
            WORKLOAD_POLICY_WHY,
            None,
        );
    }
    let action = "Create a Conditional Access policy for workload identities: include the service principals this tenant owns, the condition service principal risk high (and medium if you can), and grant Block access. It applies to single-tenant service principals; another organisation's app is disabled here instead.";
    match blocking.first() {
        Some(p) => check(
            id,
            WORKLOAD_POLICY_TITLE,
            CheckStatus::Finding,
            format!(
                "\"{}\" would block {} at high risk, but is not on ({}).",
                name(p),
                workload_scope(p),
                p.state
            ),
            WORKLOAD_POLICY_WHY,
            Some("Switch the policy to On once its report-only results look right.".into()),
        ),
        None => check(
            id,
            WORKLOAD_POLICY_TITLE,
            CheckStatus::Finding,
            "No enabled Conditional Access policy blocks high-risk workload identities: a service principal at high risk keeps getting tokens.".into(),
            WORKLOAD_POLICY_WHY,
            Some(action.into()),
        ),
    }
}

/// Whether the poll cycle can read workload identities' risk, per kind, from its watch (see
/// `crate::workload::WorkloadWatch`). A missing permission is a finding; a tenant without the
/// licence, or a cloud without the endpoint, is a fact and not applicable.
pub fn workload_risk_reads(watch: Option<&crate::workload::WorkloadWatch>) -> CheckResult {
    let id = "workloadRisk";
    let Some(watch) = watch.filter(|w| !w.kinds.is_empty()) else {
        return check(
            id,
            WORKLOAD_READ_TITLE,
            CheckStatus::NotApplicable,
            "No poll cycle has read workload identities' risk yet (or RISKRELAY_WORKLOAD_RISK is off).".into(),
            WORKLOAD_READ_WHY,
            None,
        );
    };
    let fixable = watch
        .kinds
        .iter()
        .find(|(_, w)| w.unavailable.as_ref().is_some_and(|u| u.needs_action()));
    let status = if fixable.is_some() {
        CheckStatus::Finding
    } else if watch.kinds.keys().any(|k| watch.readable(*k)) {
        CheckStatus::Ok
    } else {
        CheckStatus::NotApplicable
    };
    check(
        id,
        WORKLOAD_READ_TITLE,
        status,
        format!(
            "{}.",
            crate::render::capitalise(&watch.describe().join("; "))
        ),
        WORKLOAD_READ_WHY,
        fixable.map(|(kind, _)| {
            format!(
                "Grant the permission Graph names to riskrelay's app and consent again, or leave {} out of RISKRELAY_WORKLOAD_RISK.",
                kind.name()
            )
        }),
    )
}

/// Alerts for findings that appeared or cleared since the last run.
pub fn finding_messages(
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
        ("workloadRiskPolicy", AlertKind::NoWorkloadRiskPolicy),
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-26 08:00 UTC);
    const THREE_HOURS: Duration = Duration::from_secs(3 * 3600);

    fn org(synced: Option<bool>, last: Option<OffsetDateTime>) -> Organization {
        Organization {
            id: Some("org".into()),
            on_premises_sync_enabled: synced,
            on_premises_last_sync_date_time: last,
            on_premises_last_password_sync_date_time: last,
        }
    }

    fn policy(state: PolicyState, levels: &[&str], response: RiskResponse) -> UserRiskPolicy {
        UserRiskPolicy {
            name: "Risky users".into(),
            state,
            levels: levels.iter().map(|l| l.to_string()).collect(),
            response,
            users: Some(crate::posture::CaUsers::all()),
            applications: Some(crate::posture::CaApplications::all()),
            strength: None,
        }
    }

    #[test]
    fn password_sync_cloud_only_fresh_stale_and_never() {
        let (r, k) = password_sync(&org(None, None), THREE_HOURS, NOW);
        assert_eq!(r.status, CheckStatus::NotApplicable);
        assert_eq!(
            k,
            Known::Known {
                value: PasswordSync::CloudOnly
            }
        );

        let last = NOW - time::Duration::minutes(2);
        let (r, _) = password_sync(&org(Some(true), Some(last)), THREE_HOURS, NOW);
        assert_eq!(r.status, CheckStatus::Ok);
        assert_eq!(r.summary, "Running: last password sync 2 minutes ago.");

        let last = NOW - time::Duration::hours(5);
        let (r, k) = password_sync(&org(Some(true), Some(last)), THREE_HOURS, NOW);
        assert_eq!(r.status, CheckStatus::Finding);
        assert!(
            r.summary.starts_with("No password sync for 5 hours"),
            "{}",
            r.summary
        );
        assert!(r.action.is_some());
        assert_eq!(
            k,
            Known::Known {
                value: PasswordSync::Stale { last: Some(last) }
            }
        );

        let (r, _) = password_sync(&org(Some(true), None), THREE_HOURS, NOW);
        assert_eq!(r.status, CheckStatus::Finding);
        assert!(
            r.summary.contains("no password sync was ever recorded"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn user_risk_policy_enabled_report_only_and_missing() {
        let enabled = policy(
            PolicyState::Enabled,
            &["high"],
            RiskResponse::RiskRemediation,
        );
        let r = user_risk_policy(std::slice::from_ref(&enabled));
        assert_eq!(r.status, CheckStatus::Ok);
        assert!(r.summary.contains("risk remediation"), "{}", r.summary);

        let report_only = policy(
            PolicyState::ReportOnly,
            &["high"],
            RiskResponse::PasswordChange,
        );
        let r = user_risk_policy(std::slice::from_ref(&report_only));
        assert_eq!(r.status, CheckStatus::Finding);
        assert!(r.summary.contains("report-only"), "{}", r.summary);

        // Medium only, or a control that does not clear risk, does not count.
        let medium = policy(
            PolicyState::Enabled,
            &["medium"],
            RiskResponse::PasswordChange,
        );
        let mfa_only = policy(PolicyState::Enabled, &["high"], RiskResponse::Other);
        for policies in [vec![], vec![medium], vec![mfa_only]] {
            let r = user_risk_policy(&policies);
            assert_eq!(r.status, CheckStatus::Finding, "{policies:?}");
            assert!(r.summary.starts_with("No enabled"), "{}", r.summary);
        }
    }

    #[test]
    fn a_policy_for_part_of_the_users_is_a_finding_that_says_how_much() {
        let mut one_group = policy(
            PolicyState::Enabled,
            &["high"],
            RiskResponse::RiskRemediation,
        );
        one_group.users = Some(crate::posture::CaUsers {
            include_users: vec!["11111111-0000-4000-8000-000000000001".into()],
            include_groups: vec!["0f0f0f0f-0000-4000-8000-00000000000a".into()],
            ..Default::default()
        });
        let r = user_risk_policy(std::slice::from_ref(&one_group));
        assert_eq!(r.status, CheckStatus::Finding, "{r:?}");
        assert!(
            r.summary.contains("it applies to only 1 user, 1 group"),
            "{}",
            r.summary
        );

        // All users minus two break-glass accounts is what Microsoft recommends: fine, and said.
        let mut all_but = policy(
            PolicyState::Enabled,
            &["high"],
            RiskResponse::RiskRemediation,
        );
        all_but.users = Some(crate::posture::CaUsers {
            exclude_users: vec!["a".into(), "b".into()],
            ..crate::posture::CaUsers::all()
        });
        let r = user_risk_policy(std::slice::from_ref(&all_but));
        assert_eq!(r.status, CheckStatus::Ok, "{r:?}");
        assert!(
            r.summary.contains("(all users except 2 users)"),
            "{}",
            r.summary
        );

        // One app only.
        let mut one_app = policy(
            PolicyState::Enabled,
            &["high"],
            RiskResponse::RiskRemediation,
        );
        one_app.applications = Some(crate::posture::CaApplications {
            include_applications: vec!["00000002-0000-0ff1-ce00-000000000000".into()],
            ..Default::default()
        });
        let r = user_risk_policy(&[one_app, one_group]);
        assert_eq!(r.status, CheckStatus::Finding, "{r:?}");
        assert!(
            r.summary.contains("only to sign-ins to 1 app"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn a_finding_is_said_once_and_cleared_once() {
        let tenant = TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap();
        let stale = check(
            "passwordHashSync",
            SYNC_TITLE,
            CheckStatus::Finding,
            "No password sync for 5 hours.".into(),
            SYNC_WHY,
            None,
        );
        let (open, said) = finding_messages(
            tenant,
            &FindingEpisodes::default(),
            std::slice::from_ref(&stale),
            NOW,
        );
        assert_eq!(said.len(), 1);
        let (still, again) = finding_messages(tenant, &open, std::slice::from_ref(&stale), NOW);
        assert!(again.is_empty());
        assert_eq!(still, open);
        let fine = CheckResult {
            status: CheckStatus::Ok,
            ..stale
        };
        let (closed, cleared) = finding_messages(tenant, &open, &[fine], NOW);
        assert_eq!(closed, FindingEpisodes::default());
        let Message::Posture(p) = &cleared[0] else {
            panic!("{cleared:?}")
        };
        assert!(p.resolved && p.title.ends_with("back to normal"), "{p:?}");
        assert_eq!(p.kind, AlertKind::PasswordSyncStale);
    }

    #[test]
    fn a_workload_policy_counts_only_when_it_blocks_service_principals_at_high_risk() {
        use crate::posture::{CaClientApplications, CaConditions, CaGrantControls};
        let policy = |state: &str, levels: &[&str], include: &[&str], control: &str| CaPolicy {
            id: "p".into(),
            display_name: Some("Workloads".into()),
            state: state.into(),
            conditions: Some(CaConditions {
                service_principal_risk_levels: levels.iter().map(|l| l.to_string()).collect(),
                client_applications: Some(CaClientApplications {
                    include_service_principals: include.iter().map(|l| l.to_string()).collect(),
                    exclude_service_principals: vec!["x".into()],
                }),
                ..CaConditions::default()
            }),
            grant_controls: Some(CaGrantControls {
                operator: Some("OR".into()),
                built_in_controls: vec![control.into()],
                authentication_strength: None,
            }),
        };
        let ok = policy(
            "enabled",
            &["high"],
            &["ServicePrincipalsInMyTenant"],
            "block",
        );
        let r = workload_risk_policy(std::slice::from_ref(&ok), true);
        assert_eq!(r.status, CheckStatus::Ok, "{r:?}");
        assert!(
            r.summary
                .contains("every service principal this tenant owns but 1 excluded"),
            "{}",
            r.summary
        );
        // Without the licence, not checked at all.
        let r = workload_risk_policy(&[], false);
        assert_eq!(r.status, CheckStatus::NotApplicable);
        for (why, p) in [
            (
                "medium only",
                policy(
                    "enabled",
                    &["medium"],
                    &["ServicePrincipalsInMyTenant"],
                    "block",
                ),
            ),
            (
                "no service principals",
                policy("enabled", &["high"], &["None"], "block"),
            ),
            (
                "not a block",
                policy(
                    "enabled",
                    &["high"],
                    &["ServicePrincipalsInMyTenant"],
                    "mfa",
                ),
            ),
            (
                "off",
                policy(
                    "disabled",
                    &["high"],
                    &["ServicePrincipalsInMyTenant"],
                    "block",
                ),
            ),
        ] {
            let r = workload_risk_policy(&[p], true);
            assert_eq!(r.status, CheckStatus::Finding, "{why}: {r:?}");
        }
    }

    #[test]
    fn workload_reads_are_a_finding_only_when_a_permission_is_missing() {
        use crate::workload::{Unavailable, WorkloadKind, WorkloadWatch};
        let t = TenantId::parse("11111111-2222-3333-4444-555555555555").unwrap();
        assert_eq!(workload_risk_reads(None).status, CheckStatus::NotApplicable);
        let mut w = WorkloadWatch::default();
        w.refused(t, WorkloadKind::ServicePrincipal, Unavailable::Licence, NOW);
        let r = workload_risk_reads(Some(&w));
        assert_eq!(r.status, CheckStatus::NotApplicable, "{r:?}");
        assert!(r.summary.contains("Workload ID Premium"), "{}", r.summary);
        w.read(t, WorkloadKind::Agent, NOW);
        assert_eq!(workload_risk_reads(Some(&w)).status, CheckStatus::Ok);
        w.refused(
            t,
            WorkloadKind::Agent,
            Unavailable::Forbidden {
                permission: "IdentityRiskyAgent.Read.All".into(),
            },
            NOW,
        );
        let r = workload_risk_reads(Some(&w));
        assert_eq!(r.status, CheckStatus::Finding, "{r:?}");
        assert!(r.action.unwrap().contains("agent"));
    }
}
