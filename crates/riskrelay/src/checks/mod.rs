//! The posture checks: the on-premises reset setting (with the drift guard), password hash sync
//! freshness, the user-risk Conditional Access policy, and (where risky service principals are
//! read) the one blocking high-risk workload identities.
//!
//! One run costs one identity-protection request (the policy), one Conditional Access request
//! (the policies) and one organization read; enforcing adds a PATCH and a read-back. It produces a
//! report for people (`riskrelay check`), the snapshot the remediation verdict uses, and the
//! alerts to post. The state that makes alerts once-per-episode is saved by [`PostureRun::commit`]
//! after the caller has handed the alerts over, so an alert that could not be handed over is
//! said again next time (its key is stable, so it is never posted twice).
//!
//! This module does the I/O; [`findings`] draws the conclusions in words (pure), [`report`] holds
//! the report and its human and JSON forms.

pub mod findings;
pub mod report;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::alert::Message;
use crate::config::{ConfigError, Env, minutes};
use crate::drift::{self, DriftMode, DriftState, Observed, PatchResult};
use crate::graph::{Feature, GraphClient, GraphError};
use crate::ids::TenantId;
use crate::posture::{Known, PasswordSync, PostureSnapshot, UserRiskPolicy};
use crate::render::time_text;
use crate::store::{self, Store, StoreError};
use findings::{POLICY_TITLE, POLICY_WHY, SETTING_TITLE, SETTING_WHY, SYNC_TITLE, SYNC_WHY, check};
use report::{CheckResult, CheckStatus, PostureReport};

/// The posture checks and the drift guard.
#[derive(Debug, Clone)]
pub struct PostureConfig {
    pub drift_mode: DriftMode,
    /// A last password sync older than this is a finding. Password hash sync runs every two
    /// minutes, so hours without one means it has stopped.
    pub password_sync_stale_after: Duration,
}

impl Default for PostureConfig {
    fn default() -> Self {
        Self {
            drift_mode: DriftMode::Report,
            password_sync_stale_after: Duration::from_secs(3 * 3600),
        }
    }
}

impl PostureConfig {
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let default = Self::default();
        Ok(Self {
            drift_mode: env.or(
                "RISKRELAY_DRIFT_MODE",
                "off, report or enforce",
                default.drift_mode,
                str::parse,
            )?,
            password_sync_stale_after: env.or(
                "RISKRELAY_PASSWORD_SYNC_STALE_AFTER_MINUTES",
                "minutes, 10 to 10080",
                default.password_sync_stale_after,
                minutes(10..=10_080),
            )?,
        })
    }
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
        let failure = match &result {
            PatchResult::Forbidden => Some(format!(
                "Graph refused riskrelay's change (403): the app needs the {} permission (with admin consent) to correct it",
                Feature::PolicyWrite.permission()
            )),
            PatchResult::DidNotStick => {
                Some("riskrelay switched it on, but reading it back still said off".into())
            }
            PatchResult::Unavailable { status } => Some(format!(
                "Graph answered {status} to riskrelay's change: the endpoint is unavailable in this tenant or cloud"
            )),
            PatchResult::Transient { reason } => Some(format!(
                "riskrelay's change failed this time ({reason}); it is tried again at the next check"
            )),
            PatchResult::Stuck => None,
        };
        if let (Some(f), Some(ep)) = (failure, next.episode.as_mut()) {
            ep.failure = Some(f);
        }
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
                DriftMode::Enforce => match next.episode.as_ref().and_then(|e| e.failure.as_deref()) {
                    Some(why) => format!("riskrelay could not switch it back on: {why}. Switch it on in the Entra admin center (ID Protection > Dashboard > Settings)."),
                    None => "riskrelay could not switch it back on. Switch it on in the Entra admin center (ID Protection > Dashboard > Settings).".into(),
                },
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
        .map(|n| Message::Posture(findings::notice_alert(tenant, n, now)))
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
    findings::password_sync(&org, stale_after, now)
}

/// The two Conditional Access checks from one read of the policies: the user-risk policy, and
/// the workload identity one when `licensed` (see [`findings::workload_risk_policy`]).
async fn policy_checks(
    graph: &GraphClient,
    licensed: bool,
) -> ([CheckResult; 2], Known<Vec<UserRiskPolicy>>) {
    let all = match graph.conditional_access_policies().await {
        Ok(p) => p,
        Err(e) => {
            let unread = |id, title, why| {
                check(
                    id,
                    title,
                    CheckStatus::Error,
                    format!("Could not read Conditional Access policies: {e}"),
                    why,
                    None,
                )
            };
            return (
                [
                    unread("userRiskPolicy", POLICY_TITLE, POLICY_WHY),
                    unread(
                        "workloadRiskPolicy",
                        findings::WORKLOAD_POLICY_TITLE,
                        findings::WORKLOAD_POLICY_WHY,
                    ),
                ],
                Known::Unknown {
                    reason: e.to_string(),
                },
            );
        }
    };
    let policies: Vec<UserRiskPolicy> = all.iter().filter_map(UserRiskPolicy::from_ca).collect();
    (
        [
            findings::user_risk_policy(&policies),
            findings::workload_risk_policy(&all, licensed),
        ],
        Known::Known { value: policies },
    )
}

/// Runs every posture check once, hands its alerts to `queue` as notices, and only then saves the
/// episode state: the scheduled posture job of every entry point.
pub async fn run_and_hand_over(
    graph: &GraphClient,
    store: &dyn Store,
    tenant: TenantId,
    config: &PostureConfig,
    queue: &dyn crate::queue::Queue,
    now: OffsetDateTime,
) -> anyhow::Result<PostureRun> {
    let run = run(graph, store, tenant, config, now).await?;
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
    let (sync_check, password_sync) =
        password_sync_check(graph, config.password_sync_stale_after, now).await;
    let cloud_only = matches!(
        password_sync,
        Known::Known {
            value: PasswordSync::CloudOnly
        }
    );
    let (setting_check, setting, mut messages, corrections, drift) = if cloud_only {
        // The setting resets risk after an on-premises password change; a tenant that has never
        // synced from on-premises has none, so the setting is neither watched nor corrected.
        (
            check(
                "onPremisesResetSetting",
                SETTING_TITLE,
                CheckStatus::NotApplicable,
                "The tenant has never synced from on-premises: the setting has no effect here, so riskrelay neither watches nor corrects it.".into(),
                SETTING_WHY,
                None,
            ),
            Known::Unknown {
                reason: "not applicable: the tenant has never synced from on-premises".into(),
            },
            Vec::new(),
            Vec::new(),
            None,
        )
    } else {
        drift_check(graph, store, tenant, config.drift_mode, now).await?
    };
    // What the poll cycle found it can read of workload identities' risk (it writes the watch).
    let watch =
        store::load::<crate::workload::WorkloadWatch>(store, tenant, store::keys::WORKLOAD_RISK)
            .await?
            .map(|w| w.value);
    let licensed = watch
        .as_ref()
        .is_some_and(|w| w.readable(crate::workload::WorkloadKind::ServicePrincipal));
    let ([policy_check, workload_check], user_risk_policies) = policy_checks(graph, licensed).await;
    let checks = vec![
        setting_check,
        sync_check,
        policy_check,
        findings::workload_risk_reads(watch.as_ref()),
        workload_check,
    ];
    let prev = store::load::<FindingEpisodes>(store, tenant, FINDINGS_KEY).await?;
    let (prev_findings, findings_version) =
        prev.map(|p| (p.value, Some(p.version))).unwrap_or_default();
    let (findings, more) = findings::finding_messages(tenant, &prev_findings, &checks, now);
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
