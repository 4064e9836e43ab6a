//! The remediation verdict: can this user clear their own risk, and how? Pure. Every rule follows
//! Microsoft's documentation (entra-docs `docs/id-protection/howto-identity-protection-remediate-unblock.md`,
//! "remediate-unblock" below, and the Graph reference):
//!
//! - A deleted account's risk cannot be dismissed by an administrator; only Microsoft support can
//!   clear it (remediate-unblock, "Deleted users").
//! - A confirmed compromise needs administrators: reset the password, revoke sessions, block the
//!   user if the attacker may control the password or MFA (remediate-unblock, "Confirm a user to
//!   be compromised").
//! - On-premises: the setting is on, password hash sync runs, and the user is synced from
//!   on-premises, so an ordinary Ctrl+Alt+Del password change clears the risk (remediate-unblock:
//!   "You must enable password hash synchronization before users can self-remediate").
//! - In the cloud: an enabled user-risk Conditional Access policy that covers the user's level,
//!   applies to the user (users, groups, roles, exclusions winning) and asks for a secure password
//!   change or risk remediation, and the user is registered for MFA — not SSPR, which matters only
//!   for the reset path (remediate-unblock, "Automatic risk remediation"). A synced user's cloud
//!   password change needs password writeback, which riskrelay cannot read with application
//!   permissions: that verdict is conditional on it.
//! - "Require risk remediation" (entra-docs `concept-identity-protection-policies.md`,
//!   `howto-identity-protection-configure-risk-policies.md`): a password user changes their
//!   password securely; a passwordless user's sessions are revoked and they sign in again. The
//!   policy carries an authentication strength the user must meet: the three built-in ones are
//!   checked against the user's registered methods, a custom one cannot be and is said to be
//!   unknown. "External and guest users must continue to self-remediate through secure password
//!   reset": the control does not cover them. And a user under it and a password-change or block
//!   policy too "will be forced through all policies or blocked": not a clean self-remediation.
//! - Otherwise an administrator has to act, and the verdict says why.
//!
//! An input that could not be read makes the verdict "unknown because …" rather than a guess.

use serde::{Deserialize, Serialize};

use crate::context::{Lookup, Registration, UserContext};
use crate::posture::{
    AppCoverage, Known, Member, Membership, PasswordSync, PolicyState, PostureSnapshot,
    RiskResponse, StrengthKind, UserRiskPolicy,
};
use crate::risk::{RiskLevel, RiskState, RiskyUser};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "verdict",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Verdict {
    OnPremises {
        how: String,
    },
    Cloud {
        how: String,
    },
    /// The cloud path, for a user synced from on-premises: it works only if password writeback
    /// is enabled, which riskrelay cannot see.
    CloudIfWriteback {
        how: String,
    },
    NeedsAdmin {
        reasons: Vec<String>,
    },
    /// The account no longer exists.
    Deleted,
    Unknown {
        because: Vec<String>,
    },
}

impl Verdict {
    pub fn headline(&self) -> &'static str {
        match self {
            Self::OnPremises { .. } => "Can self-remediate on-premises",
            Self::Cloud { .. } => "Can self-remediate in the cloud",
            Self::CloudIfWriteback { .. } => {
                "Can self-remediate in the cloud, if password writeback is enabled"
            }
            Self::NeedsAdmin { .. } => "Needs an administrator",
            Self::Deleted => "Account deleted",
            Self::Unknown { .. } => "Self-remediation unknown",
        }
    }

    /// The explanation after the headline.
    pub fn explanation(&self) -> String {
        match self {
            Self::OnPremises { how } | Self::Cloud { how } => how.clone(),
            Self::CloudIfWriteback { how } => format!(
                "{how}; the user is synced from on-premises, so the new password reaches Active Directory only through password writeback — without it Conditional Access blocks the user instead"
            ),
            Self::NeedsAdmin { reasons } => format!("because {}", reasons.join("; ")),
            Self::Deleted => "the account no longer exists; an administrator cannot dismiss a deleted user's risk — only a Microsoft support case can".into(),
            Self::Unknown { because } => format!("because {}", because.join("; ")),
        }
    }
}

/// What a confirmed compromise asks of administrators (remediate-unblock).
pub const COMPROMISED_STEPS: &str = "an administrator confirmed the account compromised: reset the password, revoke the user's sessions, and block sign-in if the attacker may be able to reset the password or pass MFA";

/// Everything the verdict reads about one user.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub posture: &'a PostureSnapshot,
    pub user: &'a RiskyUser,
    pub context: &'a Lookup<UserContext>,
    pub registration: &'a Lookup<Registration>,
    /// `None` when not read, because no user-risk policy's scope names groups or roles.
    pub membership: Option<&'a Lookup<Membership>>,
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

/// Whether the user is synced from on-premises, as the directory says. `onPremisesSyncEnabled`
/// null means never synced (Graph `user` resource), so only `true` counts.
fn synced(context: &Lookup<UserContext>) -> Result<bool, String> {
    match context {
        Lookup::Found(c) => Ok(c.on_premises_sync_enabled == Some(true)),
        Lookup::NotFound => Ok(false),
        Lookup::Unavailable { reason } => Err(format!(
            "the user's sync state could not be read ({reason})"
        )),
    }
}

fn on_premises(f: &Facts<'_>) -> Path {
    let synced = match synced(f.context) {
        Ok(true) => holds(),
        Ok(false) if matches!(f.context, Lookup::NotFound) => {
            fails("the user no longer exists in the directory")
        }
        Ok(false) => fails("the user is cloud-only, not synced from on-premises"),
        Err(reason) => unknown(reason),
    };
    let sync = match &f.posture.password_sync {
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
    let setting = match &f.posture.setting {
        Known::Known { value: true } => holds(),
        Known::Known { value: false } => {
            fails("\"Allow on-premises password change to reset user risk\" is off")
        }
        // A cloud-only tenant has no setting to speak of; the sync input already says no.
        Known::Unknown { .. }
            if matches!(
                f.posture.password_sync,
                Known::Known {
                    value: PasswordSync::CloudOnly
                }
            ) =>
        {
            holds()
        }
        Known::Unknown { reason } => unknown(format!(
            "the on-premises reset setting is unknown ({reason})"
        )),
    };
    combine(vec![synced, setting, sync])
}

/// The levels a policy must cover for this user: the user's own, or every level when Graph hides
/// it from this app (`hidden` is no point on the scale).
fn levels_for(level: &RiskLevel) -> Vec<&'static str> {
    match level {
        RiskLevel::Low => vec!["low"],
        RiskLevel::Medium => vec!["medium"],
        RiskLevel::High => vec!["high"],
        _ => vec!["low", "medium", "high"],
    }
}

fn level_words(level: &RiskLevel) -> String {
    match level {
        RiskLevel::Low | RiskLevel::Medium | RiskLevel::High => format!("{level}-risk users"),
        _ => "users whose risk level is hidden from this app".into(),
    }
}

/// The enforced policy that asks this user to remediate, and the sign-ins it applies to.
struct Route<'p> {
    policy: &'p UserRiskPolicy,
    at: String,
}

/// The policy check of the cloud path, and, when it holds, the policy and when it asks.
fn policy<'p>(f: &Facts<'p>) -> (Check, Option<Route<'p>>) {
    let policies = match &f.posture.user_risk_policies {
        Known::Known { value } => value,
        Known::Unknown { reason } => {
            return (
                unknown(format!(
                    "the user-risk Conditional Access policy is unknown ({reason})"
                )),
                None,
            );
        }
    };
    let level = &f.user.risk_level;
    let levels = levels_for(level);
    let membership = f.membership.map(|m| match m {
        Lookup::Found(m) => Ok(m),
        Lookup::NotFound => Err("the user no longer exists"),
        Lookup::Unavailable { reason } => Err(reason.as_str()),
    });
    let member = Member {
        id: f.user.id,
        is_guest: match f.context {
            Lookup::Found(c) => c
                .user_type
                .as_deref()
                .map(|t| t.eq_ignore_ascii_case("Guest")),
            _ => None,
        },
        membership,
    };
    // Enforced policies that cover the level, by whether they apply to this user.
    let enforced = |r: RiskResponse| -> (Vec<&UserRiskPolicy>, Option<String>) {
        let mut yes = Vec::new();
        let mut undecided = None;
        for p in policies.iter().filter(|p| {
            p.state == PolicyState::Enabled && p.response == r && levels.iter().all(|l| p.covers(l))
        }) {
            match p.applies_to(&member) {
                Ok(true) => yes.push(p),
                Ok(false) => {}
                Err(reason) => {
                    undecided.get_or_insert(reason);
                }
            }
        }
        (yes, undecided)
    };
    // A block wins over any other grant in Conditional Access, so it is settled first.
    let (blocking, block_undecided) = enforced(RiskResponse::Block);
    if let Some(p) = blocking.first() {
        return (
            fails(format!("\"{}\" blocks {}", p.name, level_words(level))),
            None,
        );
    }
    if let Some(reason) = block_undecided {
        return (unknown(reason), None);
    }
    let (remediating, rr_undecided) = enforced(RiskResponse::RiskRemediation);
    let (by_password, pc_undecided) = enforced(RiskResponse::PasswordChange);
    // Both controls at once: Microsoft documents the conflict, not a way through it.
    if let (Some(a), Some(b)) = (remediating.first(), by_password.first()) {
        return (
            unknown(format!(
                "\"{}\" (require risk remediation) and \"{}\" (require password change) both apply: Microsoft documents that a user under both is forced through all policies or blocked",
                a.name, b.name
            )),
            None,
        );
    }
    if let Some(p) = remediating.first().or(by_password.first()) {
        // The other control might apply too: then the conflict above would decide.
        let other = if p.response == RiskResponse::RiskRemediation {
            pc_undecided
        } else {
            rr_undecided
        };
        if let Some(reason) = other {
            return (unknown(reason), None);
        }
        let at = match p.app_coverage() {
            AppCoverage::All => "at the next sign-in".to_string(),
            AppCoverage::AllExcept(n) => format!(
                "at the next sign-in to any cloud app but the {n} \"{}\" excludes",
                p.name
            ),
            AppCoverage::Some(n) => format!(
                "only at a sign-in to one of the {n} apps \"{}\" covers (it does not cover all cloud apps)",
                p.name
            ),
            AppCoverage::Unknown => format!("at a sign-in \"{}\" covers", p.name),
        };
        return (holds(), Some(Route { policy: p, at }));
    }
    if let Some(reason) = rr_undecided.or(pc_undecided) {
        return (unknown(reason), None);
    }
    let hidden = !matches!(level, RiskLevel::Low | RiskLevel::Medium | RiskLevel::High);
    if hidden
        && policies.iter().any(|p| {
            p.state == PolicyState::Enabled
                && matches!(
                    p.response,
                    RiskResponse::RiskRemediation | RiskResponse::PasswordChange
                )
        })
    {
        return (
            unknown(
                "the user's risk level is hidden from this app, so whether a policy's levels cover it cannot be told",
            ),
            None,
        );
    }
    let report_only = policies.iter().any(|p| {
        p.state == PolicyState::ReportOnly
            && levels.iter().all(|l| p.covers(l))
            && p.applies_to(&member) == Ok(true)
    });
    let reason = if report_only {
        format!(
            "the user-risk policy for {} is report-only",
            level_words(level)
        )
    } else {
        format!(
            "no enabled Conditional Access policy that applies to this user asks {} to remediate",
            level_words(level)
        )
    };
    (fails(reason), None)
}

/// A secure password change needs MFA registration; SSPR registration does not matter here.
fn mfa(f: &Facts<'_>) -> Check {
    match f.registration {
        Lookup::Found(r) => match r.is_mfa_registered {
            Some(true) => holds(),
            Some(false) => fails("the user has not registered for MFA"),
            None => unknown("MFA registration was not reported"),
        },
        Lookup::NotFound => fails("the user has no registration details"),
        Lookup::Unavailable { reason } => unknown(format!("MFA registration is {reason}")),
    }
}

/// Methods Microsoft counts as phishing-resistant, as `userRegistrationDetails` names them.
const PHISHING_RESISTANT: [&str; 6] = [
    "fido2SecurityKey",
    "windowsHelloForBusiness",
    "passKeyDeviceBound",
    "passKeyDeviceBoundAuthenticator",
    "passKeyDeviceBoundWindowsHello",
    "macOsSecureEnclaveKey",
];

/// Whether the user can meet the authentication strength "Require risk remediation" carries.
fn strength(f: &Facts<'_>, policy: &UserRiskPolicy) -> Check {
    let Some(s) = &policy.strength else {
        return mfa(f);
    };
    let registration = match f.registration {
        Lookup::Found(r) => r,
        Lookup::NotFound => return fails("the user has no registration details"),
        Lookup::Unavailable { reason } => {
            return unknown(format!("the user's registered methods are {reason}"));
        }
    };
    match s.kind {
        StrengthKind::Mfa => mfa(f),
        StrengthKind::PasswordlessMfa => match registration.is_passwordless_capable {
            Some(true) => holds(),
            Some(false) => fails(format!(
                "\"{}\" requires the authentication strength \"{}\", and the user has no passwordless method registered",
                policy.name, s.name
            )),
            None => unknown("whether the user can sign in without a password was not reported"),
        },
        StrengthKind::PhishingResistantMfa => {
            let methods = &registration.methods_registered;
            if methods
                .iter()
                .any(|m| PHISHING_RESISTANT.iter().any(|p| p.eq_ignore_ascii_case(m)))
            {
                holds()
            } else if methods.is_empty() {
                unknown("the user's registered methods were not reported")
            } else {
                fails(format!(
                    "\"{}\" requires the authentication strength \"{}\", and the user has no phishing-resistant method registered (a passkey, a FIDO2 security key, Windows Hello for Business)",
                    policy.name, s.name
                ))
            }
        }
        StrengthKind::Custom => unknown(format!(
            "\"{}\" requires the custom authentication strength \"{}\", which riskrelay cannot check against the user's methods",
            policy.name, s.name
        )),
    }
}

fn cloud<'p>(f: &Facts<'p>) -> (Path, Option<Route<'p>>) {
    let (policy, route) = policy(f);
    let second = match &route {
        Some(r) if r.policy.response == RiskResponse::RiskRemediation => match f.context {
            Lookup::Found(c)
                if c.user_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("Guest")) =>
            {
                fails(format!(
                    "\"{}\" requires risk remediation, which Microsoft Entra does not support for guest and external users: they self-remediate only through a secure password reset",
                    r.policy.name
                ))
            }
            Lookup::Found(c) if c.user_type.is_none() => unknown(
                "whether the user is a guest could not be read, and risk remediation does not cover guests",
            ),
            Lookup::Found(_) => strength(f, r.policy),
            _ => unknown(
                "whether the user is a guest could not be read, and risk remediation does not cover guests",
            ),
        },
        _ => mfa(f),
    };
    (combine(vec![policy, second]), route)
}

/// What the policy that asks the user to remediate has them do.
fn how(route: Option<Route<'_>>) -> String {
    let Some(route) = route else {
        return "at the next sign-in, Conditional Access asks for MFA and a secure password change, which clears the risk".into();
    };
    let at = route.at;
    match (&route.policy.response, &route.policy.strength) {
        (RiskResponse::RiskRemediation, strength) => {
            let proof = match strength {
                None => "MFA".to_string(),
                Some(s) => format!("the authentication strength \"{}\"", s.name),
            };
            format!(
                "{at}, Conditional Access (\"{}\", require risk remediation) asks for {proof}, then a secure password change; a user who signs in without a password has their sessions revoked and signs in again instead. Either clears the risk",
                route.policy.name
            )
        }
        _ => format!(
            "{at}, Conditional Access asks for MFA and a secure password change, which clears the risk"
        ),
    }
}

pub fn verdict(f: &Facts<'_>) -> Verdict {
    if f.user.is_deleted {
        return Verdict::Deleted;
    }
    if f.user.risk_state == RiskState::ConfirmedCompromised {
        return Verdict::NeedsAdmin {
            reasons: vec![COMPROMISED_STEPS.into()],
        };
    }
    let on_prem = on_premises(f);
    if matches!(on_prem, Path::Yes) {
        return Verdict::OnPremises {
            how: "an ordinary password change on-premises (Ctrl+Alt+Del) reaches Entra through password hash sync and clears the risk".into(),
        };
    }
    let (cloud, route) = cloud(f);
    if matches!(cloud, Path::Yes) {
        let how = how(route);
        return match synced(f.context) {
            Ok(false) => Verdict::Cloud { how },
            Ok(true) => Verdict::CloudIfWriteback { how },
            Err(reason) => Verdict::Unknown {
                because: vec![format!(
                    "{reason}, and a synced user can remediate in the cloud only with password writeback"
                )],
            },
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
    use crate::posture::{CaApplications, CaUsers};
    use crate::risk::RiskDetail;
    use time::macros::datetime;

    const USER: &str = "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b";
    const GROUP: &str = "0f0f0f0f-0000-4000-8000-00000000000a";
    const ADMIN_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

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

    fn ctx(synced: Option<bool>) -> Lookup<UserContext> {
        Lookup::Found(UserContext {
            id: UserId::parse(USER).unwrap(),
            display_name: None,
            user_principal_name: None,
            department: None,
            job_title: None,
            account_enabled: Some(true),
            on_premises_sync_enabled: synced,
            manager: None,
            user_type: Some("Member".into()),
        })
    }

    fn reg(mfa: bool, sspr: bool) -> Lookup<Registration> {
        Lookup::Found(Registration {
            is_mfa_registered: Some(mfa),
            is_sspr_registered: Some(sspr),
            is_sspr_enabled: Some(true),
            methods_registered: vec![],
            is_passwordless_capable: None,
        })
    }

    fn user(level: RiskLevel, state: RiskState) -> RiskyUser {
        RiskyUser {
            id: UserId::parse(USER).unwrap(),
            user_principal_name: None,
            user_display_name: None,
            risk_level: level,
            risk_state: state,
            risk_detail: RiskDetail::None,
            risk_last_updated_date_time: None,
            is_deleted: false,
            is_processing: false,
        }
    }

    fn policy(state: PolicyState, response: RiskResponse) -> UserRiskPolicy {
        UserRiskPolicy {
            name: "User risk".into(),
            state,
            levels: vec!["high".into()],
            response,
            users: Some(CaUsers::all()),
            applications: Some(CaApplications::all()),
            strength: None,
        }
    }

    fn scoped(users: CaUsers) -> UserRiskPolicy {
        UserRiskPolicy {
            users: Some(users),
            ..policy(PolicyState::Enabled, RiskResponse::RiskRemediation)
        }
    }

    /// The verdict for a high-risk, at-risk user with the given inputs.
    fn judge(
        p: &PostureSnapshot,
        context: &Lookup<UserContext>,
        registration: &Lookup<Registration>,
        membership: Option<&Lookup<Membership>>,
    ) -> Verdict {
        verdict(&Facts {
            posture: p,
            user: &user(RiskLevel::High, RiskState::AtRisk),
            context,
            registration,
            membership,
        })
    }

    fn kind(v: &Verdict) -> &'static str {
        match v {
            Verdict::OnPremises { .. } => "onprem",
            Verdict::Cloud { .. } => "cloud",
            Verdict::CloudIfWriteback { .. } => "cloud-if-writeback",
            Verdict::NeedsAdmin { .. } => "admin",
            Verdict::Deleted => "deleted",
            Verdict::Unknown { .. } => "unknown",
        }
    }

    #[test]
    fn on_premises_when_all_three_hold() {
        let v = judge(
            &posture(true, fresh(), vec![]),
            &ctx(Some(true)),
            &reg(false, false),
            None,
        );
        assert_eq!(kind(&v), "onprem", "{v:?}");
    }

    #[test]
    fn setting_off_falls_to_cloud_or_admin() {
        let covered = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let v = judge(&covered, &ctx(None), &reg(true, true), None);
        assert_eq!(kind(&v), "cloud", "{v:?}");
        let v = judge(
            &posture(false, fresh(), vec![]),
            &ctx(None),
            &reg(true, true),
            None,
        );
        let Verdict::NeedsAdmin { reasons } = v else {
            panic!()
        };
        assert!(
            reasons.iter().any(|r| r.contains("cloud-only")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("no enabled Conditional Access policy")),
            "{reasons:?}"
        );
    }

    #[test]
    fn the_cloud_path_needs_mfa_not_sspr() {
        let p = posture(
            true,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::PasswordChange)],
        );
        let v = judge(&p, &ctx(None), &reg(true, false), None);
        assert_eq!(kind(&v), "cloud", "MFA registered, SSPR not: {v:?}");
        let v = judge(&p, &ctx(None), &reg(false, true), None);
        assert_eq!(kind(&v), "admin", "SSPR registered, MFA not: {v:?}");
    }

    #[test]
    fn a_synced_user_in_the_cloud_depends_on_password_writeback() {
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let v = judge(&p, &ctx(Some(true)), &reg(true, true), None);
        assert_eq!(kind(&v), "cloud-if-writeback", "{v:?}");
        assert_eq!(
            v.headline(),
            "Can self-remediate in the cloud, if password writeback is enabled"
        );
        assert!(
            v.explanation().contains("password writeback"),
            "{}",
            v.explanation()
        );
        let v = judge(
            &p,
            &Lookup::Unavailable {
                reason: "Graph answered 503".into(),
            },
            &reg(true, true),
            None,
        );
        assert_eq!(kind(&v), "unknown", "{v:?}");
    }

    #[test]
    fn confirmed_compromised_and_deleted_users_need_more_than_the_user() {
        let p = posture(
            true,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let compromised = user(RiskLevel::High, RiskState::ConfirmedCompromised);
        let v = verdict(&Facts {
            posture: &p,
            user: &compromised,
            context: &ctx(Some(true)),
            registration: &reg(true, true),
            membership: None,
        });
        assert_eq!(kind(&v), "admin", "{v:?}");
        let text = v.explanation();
        for step in ["reset the password", "revoke", "block sign-in"] {
            assert!(text.contains(step), "{text}");
        }
        let mut deleted = user(RiskLevel::High, RiskState::AtRisk);
        deleted.is_deleted = true;
        let v = verdict(&Facts {
            posture: &p,
            user: &deleted,
            context: &Lookup::NotFound,
            registration: &Lookup::NotFound,
            membership: None,
        });
        assert_eq!(v, Verdict::Deleted);
        assert!(v.explanation().contains("Microsoft support"));
    }

    #[test]
    fn a_policy_applies_only_to_the_users_it_scopes() {
        let me = USER.to_string();
        let not_me = "11111111-0000-4000-8000-000000000001".to_string();
        let member_of = |groups: &[&str], roles: &[&str]| {
            Lookup::Found(Membership {
                groups: groups.iter().map(|g| g.to_string()).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            })
        };
        let in_group = member_of(&[GROUP], &[]);
        let admin = member_of(&[], &[ADMIN_ROLE]);
        let nothing = member_of(&[], &[]);
        let unreadable = Lookup::Unavailable {
            reason: "the app needs GroupMember.Read.All".into(),
        };
        let cases: Vec<(&str, CaUsers, Option<&Lookup<Membership>>, &str)> = vec![
            (
                "one other user",
                CaUsers {
                    include_users: vec![not_me.clone()],
                    ..Default::default()
                },
                None,
                "admin",
            ),
            (
                "this user",
                CaUsers {
                    include_users: vec![me.clone()],
                    ..Default::default()
                },
                None,
                "cloud",
            ),
            (
                "all but this user",
                CaUsers {
                    exclude_users: vec![me.clone()],
                    ..CaUsers::all()
                },
                None,
                "admin",
            ),
            (
                "a group the user is in",
                CaUsers {
                    include_groups: vec![GROUP.into()],
                    ..Default::default()
                },
                Some(&in_group),
                "cloud",
            ),
            (
                "a group the user is not in",
                CaUsers {
                    include_groups: vec![GROUP.into()],
                    ..Default::default()
                },
                Some(&nothing),
                "admin",
            ),
            (
                "a group, memberships unreadable",
                CaUsers {
                    include_groups: vec![GROUP.into()],
                    ..Default::default()
                },
                Some(&unreadable),
                "unknown",
            ),
            (
                "all, excluding the user's group",
                CaUsers {
                    exclude_groups: vec![GROUP.into()],
                    ..CaUsers::all()
                },
                Some(&in_group),
                "admin",
            ),
            (
                "a role the user holds",
                CaUsers {
                    include_roles: vec![ADMIN_ROLE.into()],
                    ..Default::default()
                },
                Some(&admin),
                "cloud",
            ),
            (
                "guests only, user is a member",
                CaUsers {
                    include_users: vec!["GuestsOrExternalUsers".into()],
                    ..Default::default()
                },
                None,
                "admin",
            ),
        ];
        for (name, users, membership, want) in cases {
            let p = posture(false, fresh(), vec![scoped(users)]);
            let v = judge(&p, &ctx(None), &reg(true, true), membership);
            assert_eq!(kind(&v), want, "{name}: {v:?}");
        }
    }

    #[test]
    fn a_policy_for_some_apps_is_said_to_apply_only_to_them() {
        let mut p = policy(PolicyState::Enabled, RiskResponse::RiskRemediation);
        p.applications = Some(CaApplications {
            include_applications: vec!["00000002-0000-0ff1-ce00-000000000000".into()],
            ..CaApplications::default()
        });
        let v = judge(
            &posture(false, fresh(), vec![p]),
            &ctx(None),
            &reg(true, true),
            None,
        );
        assert_eq!(kind(&v), "cloud", "{v:?}");
        assert!(
            v.explanation()
                .contains("only at a sign-in to one of the 1 apps"),
            "{}",
            v.explanation()
        );
    }

    #[test]
    fn a_hidden_level_is_not_compared_with_policy_levels() {
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let hidden = user(RiskLevel::Hidden, RiskState::AtRisk);
        let context = ctx(None);
        let registration = Lookup::Found(Registration {
            is_mfa_registered: Some(true),
            ..Registration::default()
        });
        let facts = |p| Facts {
            posture: p,
            user: &hidden,
            context: &context,
            registration: &registration,
            membership: None,
        };
        let v = verdict(&facts(&p));
        let Verdict::Unknown { because } = &v else {
            panic!("{v:?}")
        };
        assert!(because[0].contains("hidden"), "{because:?}");
        // A policy for every level covers a hidden one too.
        let mut every = policy(PolicyState::Enabled, RiskResponse::RiskRemediation);
        every.levels = vec!["low".into(), "medium".into(), "high".into()];
        let v = verdict(&facts(&posture(false, fresh(), vec![every])));
        assert_eq!(kind(&v), "cloud", "{v:?}");
    }

    fn with_strength(mut p: UserRiskPolicy, id: &str, name: &str) -> UserRiskPolicy {
        p.strength = Some(crate::posture::Strength::from_ca(
            &crate::posture::CaAuthStrength {
                id: id.into(),
                display_name: Some(name.into()),
                policy_type: None,
            },
        ));
        p
    }

    fn methods(list: &[&str], passwordless: Option<bool>) -> Lookup<Registration> {
        Lookup::Found(Registration {
            is_mfa_registered: Some(true),
            is_sspr_registered: Some(false),
            is_sspr_enabled: Some(true),
            methods_registered: list.iter().map(|m| m.to_string()).collect(),
            is_passwordless_capable: passwordless,
        })
    }

    #[test]
    fn risk_remediation_revokes_a_passwordless_users_sessions_rather_than_changing_a_password() {
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let v = judge(&p, &ctx(None), &reg(true, false), None);
        assert_eq!(kind(&v), "cloud", "{v:?}");
        let text = v.explanation();
        assert!(
            text.contains("secure password change") && text.contains("sessions revoked"),
            "{text}"
        );
        // A password-change policy says nothing about sessions.
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::PasswordChange)],
        );
        let text = judge(&p, &ctx(None), &reg(true, false), None).explanation();
        assert!(!text.contains("sessions"), "{text}");
    }

    #[test]
    fn the_authentication_strength_is_named_and_checked_or_said_to_be_uncheckable() {
        let rr = policy(PolicyState::Enabled, RiskResponse::RiskRemediation);
        let phish = with_strength(
            rr.clone(),
            "00000000-0000-0000-0000-000000000004",
            "Phishing-resistant MFA",
        );
        let p = posture(false, fresh(), vec![phish.clone()]);
        let v = judge(
            &p,
            &ctx(None),
            &methods(&["microsoftAuthenticatorPush"], Some(false)),
            None,
        );
        assert_eq!(kind(&v), "admin", "{v:?}");
        assert!(
            v.explanation().contains("\"Phishing-resistant MFA\"")
                && v.explanation().contains("no phishing-resistant method"),
            "{v:?}"
        );
        let v = judge(
            &p,
            &ctx(None),
            &methods(&["fido2SecurityKey"], Some(true)),
            None,
        );
        assert_eq!(kind(&v), "cloud", "{v:?}");
        assert!(
            v.explanation()
                .contains("the authentication strength \"Phishing-resistant MFA\""),
            "{v:?}"
        );

        let pwless = with_strength(
            rr.clone(),
            "00000000-0000-0000-0000-000000000003",
            "Passwordless MFA",
        );
        let p = posture(false, fresh(), vec![pwless]);
        assert_eq!(
            kind(&judge(
                &p,
                &ctx(None),
                &methods(&["mobilePhone"], Some(false)),
                None
            )),
            "admin"
        );
        assert_eq!(
            kind(&judge(
                &p,
                &ctx(None),
                &methods(&["microsoftAuthenticatorPasswordless"], Some(true)),
                None
            )),
            "cloud"
        );

        let custom = with_strength(
            rr,
            "5b7a1e0c-0000-4000-8000-000000000001",
            "Contoso hardware keys",
        );
        let p = posture(false, fresh(), vec![custom]);
        let v = judge(
            &p,
            &ctx(None),
            &methods(&["fido2SecurityKey"], Some(true)),
            None,
        );
        assert_eq!(kind(&v), "unknown", "{v:?}");
        assert!(
            v.explanation()
                .contains("custom authentication strength \"Contoso hardware keys\"")
                && v.explanation().contains("cannot check"),
            "{v:?}"
        );
    }

    #[test]
    fn risk_remediation_does_not_cover_guests() {
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::RiskRemediation)],
        );
        let guest = Lookup::Found(UserContext {
            user_type: Some("Guest".into()),
            ..match ctx(None) {
                Lookup::Found(c) => c,
                _ => unreachable!(),
            }
        });
        let v = judge(&p, &guest, &reg(true, true), None);
        assert_eq!(kind(&v), "admin", "{v:?}");
        assert!(
            v.explanation().contains("guest and external users"),
            "{v:?}"
        );
        // A password-change policy still covers them.
        let p = posture(
            false,
            fresh(),
            vec![policy(PolicyState::Enabled, RiskResponse::PasswordChange)],
        );
        assert_eq!(kind(&judge(&p, &guest, &reg(true, true), None)), "cloud");
    }

    #[test]
    fn risk_remediation_together_with_a_password_change_policy_is_not_a_clean_path() {
        let p = posture(
            false,
            fresh(),
            vec![
                policy(PolicyState::Enabled, RiskResponse::RiskRemediation),
                UserRiskPolicy {
                    name: "Password change".into(),
                    ..policy(PolicyState::Enabled, RiskResponse::PasswordChange)
                },
            ],
        );
        let v = judge(&p, &ctx(None), &reg(true, true), None);
        assert_eq!(kind(&v), "unknown", "{v:?}");
        assert!(
            v.explanation()
                .contains("forced through all policies or blocked"),
            "{v:?}"
        );
    }

    #[test]
    fn a_block_wins_over_a_remediation_policy() {
        let v = judge(
            &posture(
                false,
                fresh(),
                vec![
                    policy(PolicyState::Enabled, RiskResponse::RiskRemediation),
                    policy(PolicyState::Enabled, RiskResponse::Block),
                ],
            ),
            &ctx(None),
            &reg(true, true),
            None,
        );
        assert_eq!(kind(&v), "admin", "{v:?}");
        let v = judge(
            &posture(
                false,
                fresh(),
                vec![policy(
                    PolicyState::ReportOnly,
                    RiskResponse::RiskRemediation,
                )],
            ),
            &ctx(None),
            &reg(true, true),
            None,
        );
        assert!(v.explanation().contains("report-only"), "{v:?}");
    }

    #[test]
    fn missing_inputs_give_unknown_never_a_wrong_answer() {
        let mut p = posture(true, fresh(), vec![]);
        p.setting = Known::Unknown {
            reason: "the app needs Policy.Read.IdentityProtection".into(),
        };
        let v = judge(
            &p,
            &ctx(Some(true)),
            &Lookup::Unavailable {
                reason: "unavailable".into(),
            },
            None,
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

        let v = judge(
            &PostureSnapshot::unknown(
                "no posture check has run yet",
                datetime!(2026-11-25 10:00 UTC),
            ),
            &ctx(Some(true)),
            &reg(true, true),
            None,
        );
        assert_eq!(kind(&v), "unknown", "{v:?}");

        // A snapshot saved before riskrelay read policy scopes.
        let mut old = policy(PolicyState::Enabled, RiskResponse::RiskRemediation);
        old.users = None;
        let v = judge(
            &posture(false, fresh(), vec![old]),
            &ctx(None),
            &reg(true, true),
            None,
        );
        assert_eq!(kind(&v), "unknown", "{v:?}");
    }

    #[test]
    fn stale_sync_and_cloud_only_tenants_block_on_premises() {
        for sync in [PasswordSync::Stale { last: None }, PasswordSync::CloudOnly] {
            let v = judge(
                &posture(true, sync, vec![]),
                &ctx(Some(true)),
                &reg(false, false),
                None,
            );
            assert_eq!(kind(&v), "admin", "{v:?}");
        }
    }
}
