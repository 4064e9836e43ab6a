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
//! - Otherwise an administrator has to act, and the verdict says why.
//!
//! An input that could not be read makes the verdict "unknown because …" rather than a guess.

use serde::{Deserialize, Serialize};

use crate::context::{Lookup, Registration, UserContext};
use crate::posture::{
    AppCoverage, Known, Member, Membership, PasswordSync, PolicyState, PostureSnapshot,
    RiskResponse, UserRiskPolicy,
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

/// The policy check of the cloud path, and, when it holds, the sign-ins it applies to.
fn policy(f: &Facts<'_>) -> (Check, Option<String>) {
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
    let (mut remediating, undecided) = enforced(RiskResponse::RiskRemediation);
    let (by_password, password_undecided) = enforced(RiskResponse::PasswordChange);
    remediating.extend(by_password);
    if let Some(p) = remediating.first() {
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
        return (holds(), Some(at));
    }
    if let Some(reason) = undecided.or(password_undecided) {
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

fn cloud(f: &Facts<'_>) -> (Path, Option<String>) {
    let (policy, at) = policy(f);
    // A secure password change needs MFA registration; SSPR registration does not matter here.
    let mfa = match f.registration {
        Lookup::Found(r) => match r.is_mfa_registered {
            Some(true) => holds(),
            Some(false) => fails("the user has not registered for MFA"),
            None => unknown("MFA registration was not reported"),
        },
        Lookup::NotFound => fails("the user has no registration details"),
        Lookup::Unavailable { reason } => unknown(format!("MFA registration is {reason}")),
    };
    (combine(vec![policy, mfa]), at)
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
    let (cloud, at) = cloud(f);
    if matches!(cloud, Path::Yes) {
        let how = format!(
            "{}, Conditional Access asks for MFA and a secure password change, which clears the risk",
            at.unwrap_or_else(|| "at the next sign-in".into())
        );
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
