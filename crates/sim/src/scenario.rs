//! Ready-made tenants for `riskrelay run --simulate`.

use riskrelay::ids::UserId;
use riskrelay::posture::{CaApplications, CaConditions, CaGrantControls, CaPolicy, CaUsers};
use riskrelay::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState};

use super::{DetectionSpec, SimUser, Simulator};

/// The benchmarks' changed users: `n` synced users at high risk (ids from 100,000 on), each with
/// three sign-in detections; the first `late` of them with detections stamped `late_at` (from
/// before a poll window, so their alerts need a read of their open detections).
pub fn bench_users(sim: &Simulator, n: u32, late: u32, late_at: time::OffsetDateTime) {
    for i in 0..n {
        let id = sim.add_user(
            SimUser::new(
                user_id(100_000 + i),
                &format!("Bench User {i}"),
                &format!("bench{i}"),
            )
            .synced(),
        );
        for kind in [
            "unfamiliarFeatures",
            "anonymizedIPAddress",
            "leakedCredentials",
        ] {
            let spec = DetectionSpec::new(
                kind,
                "signin",
                RiskLevel::Medium,
                DetectionTimingType::Realtime,
            );
            sim.add_detection(id, if i < late { spec.at(late_at) } else { spec });
        }
        sim.set_risk(id, RiskLevel::High, RiskState::AtRisk, RiskDetail::None);
    }
}

/// A stable id for the `n`th simulated user, so runs against the same database see the same users.
pub fn user_id(n: u32) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(
        0x5a5a_5a5a_0000_4000_8000_0000_0001_0000 + u128::from(n),
    ))
}

const PEOPLE: &[(&str, &str, &str, &str)] = &[
    ("Megan Bowen", "meganb", "Marketing", "Marketing Manager"),
    ("Lee Gu", "leeg", "Manufacturing", "Director"),
    ("Alex Wilber", "alexw", "Marketing", "Marketing Assistant"),
    ("Diego Siciliani", "diegos", "HR", "HR Manager"),
    ("Isaiah Langer", "isaiahl", "Sales", "Sales Rep"),
    ("Nestor Wilke", "nestorw", "Operations", "Director"),
];

/// The risk the first people carry when the service's story starts.
const SEEDED_RISKS: [RiskLevel; 4] = [
    RiskLevel::High,
    RiskLevel::Medium,
    RiskLevel::Medium,
    RiskLevel::Low,
];

/// When the seeded risk happened: fixed, so that every run against the same database sees the
/// same history and only what changes afterwards is news.
const SEEDED_AT: time::OffsetDateTime = time::macros::datetime!(2026-01-05 08:00 UTC);

/// A hybrid tenant with some risk already present, the on-premises reset setting off, and a
/// user-risk policy that is only report-only: a first run announces a baseline and posture
/// findings, later runs only what changed.
/// A user-risk Conditional Access policy as the portal's template makes it: all users, all cloud
/// apps, the given levels and grant controls (AND). Tests narrow its scope from here.
pub fn user_risk_policy(name: &str, state: &str, levels: &[&str], controls: &[&str]) -> CaPolicy {
    CaPolicy {
        id: format!("7e1a0000-0000-4000-8000-{:012x}", name.len()),
        display_name: Some(name.into()),
        state: state.into(),
        conditions: Some(CaConditions {
            user_risk_levels: levels.iter().map(|l| l.to_string()).collect(),
            users: Some(CaUsers::all()),
            applications: Some(CaApplications::all()),
            ..CaConditions::default()
        }),
        grant_controls: Some(CaGrantControls {
            operator: Some("AND".into()),
            built_in_controls: controls.iter().map(|c| c.to_string()).collect(),
            authentication_strength: None,
        }),
    }
}

/// A Conditional Access policy for workload identities as Microsoft's guidance makes it: the
/// service principals this tenant owns, at high (and medium) service principal risk, blocked.
pub fn workload_risk_policy(name: &str, state: &str) -> CaPolicy {
    CaPolicy {
        id: format!("7e1b0000-0000-4000-8000-{:012x}", name.len()),
        display_name: Some(name.into()),
        state: state.into(),
        conditions: Some(CaConditions {
            service_principal_risk_levels: vec!["high".into(), "medium".into()],
            client_applications: Some(riskrelay::posture::CaClientApplications {
                include_service_principals: vec!["ServicePrincipalsInMyTenant".into()],
                exclude_service_principals: Vec::new(),
            }),
            applications: Some(CaApplications::all()),
            ..CaConditions::default()
        }),
        grant_controls: Some(CaGrantControls {
            operator: Some("OR".into()),
            built_in_controls: vec!["block".into()],
            authentication_strength: None,
        }),
    }
}

/// The policy, requiring the authentication strength `id` named `name` (a built-in one's fixed
/// id, or a tenant's own).
pub fn with_strength(mut policy: CaPolicy, id: &str, name: &str) -> CaPolicy {
    if let Some(g) = policy.grant_controls.as_mut() {
        g.authentication_strength = Some(riskrelay::posture::CaAuthStrength {
            id: id.into(),
            display_name: Some(name.into()),
            policy_type: Some(
                if id.starts_with("00000000-0000-0000-0000-00000000000") {
                    "builtIn"
                } else {
                    "custom"
                }
                .into(),
            ),
        });
    }
    policy
}

pub fn seed_service(sim: &Simulator) {
    sim.set_setting(false);
    sim.set_ca_policies(vec![
        user_risk_policy(
            "Require risk remediation for high user risk",
            "enabledForReportingButNotEnforced",
            &["high"],
            &["mfa", "riskRemediation"],
        ),
        workload_risk_policy("Block high-risk workload identities", "enabled"),
    ]);
    for (n, (name, upn, dept, title)) in PEOPLE.iter().enumerate() {
        let id = sim.add_user(
            SimUser::new(user_id(n as u32), name, upn)
                .synced()
                .with_job(dept, title),
        );
        if let Some(level) = SEEDED_RISKS.get(n) {
            let at = SEEDED_AT + time::Duration::minutes(n as i64);
            sim.detect(
                id,
                DetectionSpec::new(
                    "unfamiliarFeatures",
                    "signin",
                    level.clone(),
                    DetectionTimingType::Realtime,
                )
                .from_ip("198.51.100.23", "Lagos", "NG")
                .at(at),
            );
        }
    }
}

/// The next event of a live simulated tenant; `step` counts from 0.
pub fn tick(sim: &Simulator, step: u32) {
    // The first step is news: someone not at risk yet (and so an alert with its action buttons),
    // then the others in turn.
    let n = (step as usize + SEEDED_RISKS.len()) % PEOPLE.len();
    let id = user_id(n as u32);
    match sim.risky_user(id).map(|u| u.risk_state) {
        Some(RiskState::AtRisk) => {
            sim.end_risk(
                id,
                RiskState::Remediated,
                RiskDetail::UserPerformedSecuredPasswordChange,
            );
        }
        _ => {
            sim.detect(
                id,
                DetectionSpec::new(
                    "anonymizedIPAddress",
                    "signin",
                    RiskLevel::Medium,
                    DetectionTimingType::Realtime,
                )
                .from_ip("185.220.101.7", "Frankfurt", "DE"),
            );
        }
    }
}

/// Simulated tenants' names, so that a shared channel tells them apart.
const TENANT_NAMES: [&str; 8] = [
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Woodgrove",
    "Litware",
    "Adatum",
    "Proseware",
];

/// The name of the `i`th simulated tenant: Contoso, Fabrikam, …, then Contoso 2, ….
pub fn tenant_name(i: usize) -> String {
    let name = TENANT_NAMES[i % TENANT_NAMES.len()];
    match i / TENANT_NAMES.len() {
        0 => name.to_string(),
        round => format!("{name} {}", round + 1),
    }
}

/// Registers simulated tenants by their names (`run --simulate --tenants N`, the demo), as
/// `riskrelay tenants add` would.
pub async fn register_tenants(
    store: &dyn riskrelay::store::Store,
    sims: &[crate::Simulator],
) -> anyhow::Result<()> {
    for (i, sim) in sims.iter().enumerate() {
        riskrelay::fleet::register(
            store,
            riskrelay::tenancy::TenantRecord {
                id: sim.tenant_id(),
                name: tenant_name(i),
                sinks: Vec::new(),
                drift_mode: None,
                exclude: None,
                summary: None,
                added_at: time::OffsetDateTime::now_utc(),
            },
        )
        .await?;
    }
    Ok(())
}
