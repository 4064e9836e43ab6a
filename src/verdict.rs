//! The remediation verdict: can this user clear their own risk, and how? Pure.
//!
//! - On-premises: the setting is on, password hash sync is fresh, and the user is synced from
//!   on-premises, so an ordinary Ctrl+Alt+Del password change clears the risk.
//! - In the cloud: MFA and SSPR are registered and an enabled user-risk Conditional Access policy
//!   covering the user's level asks for a password change or risk remediation.
//! - Otherwise an administrator has to act, and the verdict says why.
//!
//! An input that could not be read makes the verdict "unknown because …" rather than a guess.

use serde::{Deserialize, Serialize};

use crate::context::{Lookup, Registration, UserContext};
use crate::posture::{Known, PasswordSync, PolicyState, PostureSnapshot, RiskResponse};
use crate::risk::RiskLevel;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "verdict",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Verdict {
    OnPremises { how: String },
    Cloud { how: String },
    NeedsAdmin { reasons: Vec<String> },
    Unknown { because: Vec<String> },
}

impl Verdict {
    pub fn headline(&self) -> &'static str {
        match self {
            Self::OnPremises { .. } => "Can self-remediate on-premises",
            Self::Cloud { .. } => "Can self-remediate in the cloud",
            Self::NeedsAdmin { .. } => "Needs an administrator",
            Self::Unknown { .. } => "Self-remediation unknown",
        }
    }

    /// The explanation after the headline.
    pub fn explanation(&self) -> String {
        match self {
            Self::OnPremises { how } | Self::Cloud { how } => how.clone(),
            Self::NeedsAdmin { reasons } => format!("because {}", reasons.join("; ")),
            Self::Unknown { because } => format!("because {}", because.join("; ")),
        }
    }
}

/// One path's finding.
enum Path {
    Yes,
    No(Vec<String>),
    Unknown(Vec<String>),
}

/// One input's finding.
enum Check {
    Holds,
    Fails(String),
    Unknown(String),
}

/// A path holds when every input holds; one failing input settles it; otherwise it is unknown.
fn combine(parts: Vec<Check>) -> Path {
    let mut no = Vec::new();
    let mut unknown = Vec::new();
    for p in parts {
        match p {
            Check::Holds => {}
            Check::Fails(r) => no.push(r),
            Check::Unknown(r) => unknown.push(r),
        }
    }
    if !no.is_empty() {
        Path::No(no)
    } else if !unknown.is_empty() {
        Path::Unknown(unknown)
    } else {
        Path::Yes
    }
}

fn holds() -> Check {
    Check::Holds
}
fn fails(reason: impl Into<String>) -> Check {
    Check::Fails(reason.into())
}
fn unknown(reason: impl Into<String>) -> Check {
    Check::Unknown(reason.into())
}

fn on_premises(posture: &PostureSnapshot, context: &Lookup<UserContext>) -> Path {
    let synced = match context {
        Lookup::Found(c) => match c.on_premises_sync_enabled {
            Some(true) => holds(),
            _ => fails("the user is cloud-only, not synced from on-premises"),
        },
        Lookup::NotFound => fails("the user no longer exists in the directory"),
        Lookup::Unavailable { reason } => unknown(format!(
            "the user's sync state could not be read ({reason})"
        )),
    };
    let setting = match &posture.setting {
        Known::Known { value: true } => holds(),
        Known::Known { value: false } => {
            fails("\"Allow on-premises password change to reset user risk\" is off")
        }
        Known::Unknown { reason } => unknown(format!(
            "the on-premises reset setting is unknown ({reason})"
        )),
    };
    let sync = match &posture.password_sync {
        Known::Known {
            value: PasswordSync::Fresh { .. },
        } => holds(),
        Known::Known {
            value: PasswordSync::Stale { .. },
        } => fails("password hash sync is not running"),
        Known::Known {
            value: PasswordSync::CloudOnly,
        } => fails("the tenant does not sync from on-premises"),
        Known::Unknown { reason } => unknown(format!("password hash sync is unknown ({reason})")),
    };
    combine(vec![synced, setting, sync])
}

fn cloud(
    posture: &PostureSnapshot,
    registration: &Lookup<Registration>,
    level: &RiskLevel,
) -> Path {
    let policy = match &posture.user_risk_policies {
        Known::Known { value } => {
            let covering: Vec<_> = value.iter().filter(|p| p.covers(level.as_wire())).collect();
            let enabled = |r: &RiskResponse| {
                covering
                    .iter()
                    .any(|p| p.state == PolicyState::Enabled && p.response == *r)
            };
            if enabled(&RiskResponse::Block) {
                fails(format!(
                    "a Conditional Access policy blocks {level}-risk users"
                ))
            } else if enabled(&RiskResponse::RiskRemediation)
                || enabled(&RiskResponse::PasswordChange)
            {
                holds()
            } else if covering.iter().any(|p| p.state == PolicyState::ReportOnly) {
                fails(format!(
                    "the user-risk policy for {level} risk is report-only"
                ))
            } else {
                fails(format!(
                    "no enabled Conditional Access policy asks {level}-risk users to remediate"
                ))
            }
        }
        Known::Unknown { reason } => unknown(format!(
            "the user-risk Conditional Access policy is unknown ({reason})"
        )),
    };
    let (mfa, sspr) = match registration {
        Lookup::Found(r) => (
            match r.is_mfa_registered {
                Some(true) => holds(),
                Some(false) => fails("the user has not registered for MFA"),
                None => unknown("MFA registration was not reported"),
            },
            match r.is_sspr_registered {
                Some(true) => holds(),
                Some(false) => fails("the user has not registered for self-service password reset"),
                None => unknown("SSPR registration was not reported"),
            },
        ),
        Lookup::NotFound => (fails("the user has no registration details"), holds()),
        Lookup::Unavailable { reason } => (
            unknown(format!("MFA and SSPR registration is {reason}")),
            holds(),
        ),
    };
    combine(vec![policy, mfa, sspr])
}

pub fn verdict(
    posture: &PostureSnapshot,
    level: &RiskLevel,
    context: &Lookup<UserContext>,
    registration: &Lookup<Registration>,
) -> Verdict {
    let on_prem = on_premises(posture, context);
    if matches!(on_prem, Path::Yes) {
        return Verdict::OnPremises {
            how: "an ordinary password change on-premises (Ctrl+Alt+Del) reaches Entra through password hash sync and clears the risk".into(),
        };
    }
    let cloud = cloud(posture, registration, level);
    if matches!(cloud, Path::Yes) {
        return Verdict::Cloud {
            how: "at the next sign-in, Conditional Access asks for MFA and a password change, which clears the risk".into(),
        };
    }
    match (on_prem, cloud) {
        (Path::No(a), Path::No(b)) => Verdict::NeedsAdmin {
            reasons: a.into_iter().chain(b).collect(),
        },
        (Path::Unknown(a), Path::Unknown(b)) => Verdict::Unknown {
            because: a.into_iter().chain(b).collect(),
        },
        (Path::Unknown(u), Path::No(_)) | (Path::No(_), Path::Unknown(u)) => {
            Verdict::Unknown { because: u }
        }
        // Unreachable: a Yes returned above.
        (_, _) => Verdict::Unknown {
            because: vec!["the inputs were inconsistent".into()],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::posture::UserRiskPolicy;
    use time::macros::datetime;

    fn posture(
        setting: bool,
        sync: PasswordSync,
        policies: Vec<UserRiskPolicy>,
    ) -> PostureSnapshot {
        PostureSnapshot {
            checked_at: datetime!(2026-11-25 10:00 UTC),
            setting: Known::Known { value: setting },
            password_sync: Known::Known { value: sync },
            user_risk_policies: Known::Known { value: policies },
        }
    }

    fn fresh() -> PasswordSync {
        PasswordSync::Fresh {
            last: datetime!(2026-11-25 09:58 UTC),
        }
    }

    fn ctx(synced: bool) -> Lookup<UserContext> {
        Lookup::Found(UserContext {
            id: UserId::parse("6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b").unwrap(),
            display_name: None,
            user_principal_name: None,
            department: None,
            job_title: None,
            account_enabled: Some(true),
            on_premises_sync_enabled: Some(synced),
            manager: None,
        })
    }

    fn reg(mfa: bool, sspr: bool) -> Lookup<Registration> {
        Lookup::Found(Registration {
            is_mfa_registered: Some(mfa),
            is_sspr_registered: Some(sspr),
            is_sspr_enabled: Some(true),
            methods_registered: vec![],
        })
    }

    fn policy(state: PolicyState, response: RiskResponse) -> UserRiskPolicy {
        UserRiskPolicy {
            name: "User risk".into(),
            state,
            levels: vec!["high".into()],
            response,
        }
    }

    #[test]
    fn on_premises_when_all_three_hold() {
        let v = verdict(
            &posture(true, fresh(), vec![]),
            &RiskLevel::High,
            &ctx(true),
            &reg(false, false),
        );
        assert!(matches!(v, Verdict::OnPremises { .. }), "{v:?}");
    }

    #[test]
    fn setting_off_falls_to_cloud_or_admin() {
        let v = verdict(
            &posture(
                false,
                fresh(),
                vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
            ),
            &RiskLevel::High,
            &ctx(true),
            &reg(true, true),
        );
        assert!(matches!(v, Verdict::Cloud { .. }), "{v:?}");
        let v = verdict(
            &posture(false, fresh(), vec![]),
            &RiskLevel::High,
            &ctx(true),
            &reg(true, true),
        );
        let Verdict::NeedsAdmin { reasons } = v else {
            panic!()
        };
        assert!(reasons.iter().any(|r| r.contains("is off")), "{reasons:?}");
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("no enabled Conditional Access policy")),
            "{reasons:?}"
        );
    }

    #[test]
    fn cloud_needs_registration_and_an_enforced_covering_policy() {
        let p = |s, r| posture(true, fresh(), vec![policy(s, r)]);
        let cases = [
            (
                p(PolicyState::Enabled, RiskResponse::PasswordChange),
                RiskLevel::High,
                reg(true, true),
                "cloud",
            ),
            (
                p(PolicyState::Enabled, RiskResponse::PasswordChange),
                RiskLevel::Medium,
                reg(true, true),
                "admin",
            ),
            (
                p(PolicyState::ReportOnly, RiskResponse::PasswordChange),
                RiskLevel::High,
                reg(true, true),
                "admin",
            ),
            (
                p(PolicyState::Enabled, RiskResponse::Block),
                RiskLevel::High,
                reg(true, true),
                "admin",
            ),
            (
                p(PolicyState::Enabled, RiskResponse::RiskRemediation),
                RiskLevel::High,
                reg(false, true),
                "admin",
            ),
            (
                p(PolicyState::Enabled, RiskResponse::RiskRemediation),
                RiskLevel::High,
                Lookup::Unavailable {
                    reason: "not available: the app needs the AuditLog.Read.All permission".into(),
                },
                "unknown",
            ),
        ];
        for (i, (posture, level, registration, want)) in cases.into_iter().enumerate() {
            let v = verdict(&posture, &level, &ctx(false), &registration);
            let got = match v {
                Verdict::Cloud { .. } => "cloud",
                Verdict::NeedsAdmin { .. } => "admin",
                Verdict::Unknown { .. } => "unknown",
                Verdict::OnPremises { .. } => "onprem",
            };
            assert_eq!(got, want, "case {i}: {v:?}");
        }
    }

    #[test]
    fn missing_inputs_give_unknown_never_a_wrong_answer() {
        let mut p = posture(true, fresh(), vec![]);
        p.setting = Known::Unknown {
            reason: "the app needs Policy.Read.IdentityProtection".into(),
        };
        let v = verdict(
            &p,
            &RiskLevel::High,
            &ctx(true),
            &Lookup::Unavailable {
                reason: "unavailable".into(),
            },
        );
        let Verdict::Unknown { because } = &v else {
            panic!("{v:?}")
        };
        assert!(
            because
                .iter()
                .any(|b| b.contains("Policy.Read.IdentityProtection")),
            "{because:?}"
        );
        assert!(v.explanation().starts_with("because "));

        let v = verdict(
            &PostureSnapshot::unknown(
                "no posture check has run yet",
                datetime!(2026-11-25 10:00 UTC),
            ),
            &RiskLevel::High,
            &ctx(true),
            &reg(true, true),
        );
        assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
    }

    #[test]
    fn stale_sync_and_cloud_only_tenants_block_on_premises() {
        for sync in [PasswordSync::Stale { last: None }, PasswordSync::CloudOnly] {
            let v = verdict(
                &posture(true, sync, vec![]),
                &RiskLevel::High,
                &ctx(true),
                &reg(false, false),
            );
            assert!(matches!(v, Verdict::NeedsAdmin { .. }), "{v:?}");
        }
    }
}
