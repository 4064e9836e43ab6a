//! The tenant's posture for on-premises self-remediation, as read from Graph: the identity
//! protection policy, the organization's password sync, and Conditional Access policies.
//!
//! Only data here; decisions about it live in [`crate::drift`] and [`crate::verdict`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The member of the beta `identityProtection/policy` object this project guards.
pub const SETTING: &str = "isUserRiskClearedOnPasswordReset";

/// `GET /beta/identityProtection/policy`: undocumented, so kept as raw JSON with one accessor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IdentityProtectionPolicy(pub serde_json::Map<String, serde_json::Value>);

impl IdentityProtectionPolicy {
    /// The setting, looked up without regard to case (the only public caller, Microsoft365DSC,
    /// spells it in PascalCase). `None` when absent or not a boolean.
    pub fn on_prem_reset_enabled(&self) -> Option<bool> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(SETTING))
            .and_then(|(_, v)| v.as_bool())
    }
}

/// The organization's on-premises sync members (`/beta/organization`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub on_premises_last_sync_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub on_premises_last_password_sync_date_time: Option<OffsetDateTime>,
}

pub const ORGANIZATION_SELECT: &str =
    "id,onPremisesSyncEnabled,onPremisesLastSyncDateTime,onPremisesLastPasswordSyncDateTime";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaConditions {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub user_risk_levels: Vec<String>,
    #[serde(default)]
    pub users: Option<CaUsers>,
    #[serde(default)]
    pub applications: Option<CaApplications>,
    /// The workload identity risk levels the policy applies to (Workload ID Premium).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub service_principal_risk_levels: Vec<String>,
    /// The workload identities it applies to (`conditionalAccessClientApplications`).
    #[serde(default)]
    pub client_applications: Option<CaClientApplications>,
}

/// `conditionalAccessClientApplications`: the service principals a policy applies to, by id or
/// `ServicePrincipalsInMyTenant`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaClientApplications {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub include_service_principals: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exclude_service_principals: Vec<String>,
}

/// `conditionalAccessUsers`: whom a policy applies to (Graph `conditionalaccessusers`). Exclusions
/// win over inclusions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaUsers {
    /// User ids, or `All`, `None`, `GuestsOrExternalUsers`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub include_users: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exclude_users: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub include_groups: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exclude_groups: Vec<String>,
    /// Directory role template ids.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub include_roles: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exclude_roles: Vec<String>,
}

impl CaUsers {
    /// Every user (`includeUsers: ["All"]`), the portal template's scope; exclusions are added to it.
    pub fn all() -> Self {
        Self {
            include_users: vec!["All".into()],
            ..Self::default()
        }
    }
}

/// `conditionalAccessApplications`: which cloud apps' sign-ins a policy applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaApplications {
    /// App ids, or `All`, `None`, `Office365`, `MicrosoftAdminPortals`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub include_applications: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub exclude_applications: Vec<String>,
}

impl CaApplications {
    /// Every cloud app (`includeApplications: ["All"]`).
    pub fn all() -> Self {
        Self {
            include_applications: vec!["All".into()],
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaGrantControls {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub built_in_controls: Vec<String>,
    /// The authentication strength the policy requires (Graph lists it inline, `null` when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_strength: Option<CaAuthStrength>,
}

/// `authenticationStrengthPolicy`, the members the verdict reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaAuthStrength {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `builtIn` or `custom`.
    #[serde(default)]
    pub policy_type: Option<String>,
}

/// The authentication strength a user-risk policy requires, as far as the verdict can check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Strength {
    /// As the portal shows it ("Phishing-resistant MFA", or the tenant's own name).
    pub name: String,
    pub kind: StrengthKind,
}

/// Microsoft's three built-in strengths, which riskrelay can check against a user's registered
/// methods, or one the tenant defined (or a built-in added later), which it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StrengthKind {
    Mfa,
    PasswordlessMfa,
    PhishingResistantMfa,
    Custom,
}

impl Strength {
    /// The built-in strengths have fixed ids (Graph `authenticationStrengthPolicy`: built-in
    /// policies are read-only and the same in every tenant).
    pub fn from_ca(s: &CaAuthStrength) -> Self {
        let kind = match s.id.as_str() {
            "00000000-0000-0000-0000-000000000002" => StrengthKind::Mfa,
            "00000000-0000-0000-0000-000000000003" => StrengthKind::PasswordlessMfa,
            "00000000-0000-0000-0000-000000000004" => StrengthKind::PhishingResistantMfa,
            _ => StrengthKind::Custom,
        };
        let name = s.display_name.clone().unwrap_or_else(|| {
            match kind {
                StrengthKind::Mfa => "Multifactor authentication",
                StrengthKind::PasswordlessMfa => "Passwordless MFA",
                StrengthKind::PhishingResistantMfa => "Phishing-resistant MFA",
                StrengthKind::Custom => "a custom authentication strength",
            }
            .to_string()
        });
        Self { name, kind }
    }
}

/// A `conditionalAccessPolicy`, the members the user-risk check reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaPolicy {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `enabled`, `disabled`, `enabledForReportingButNotEnforced`.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub conditions: Option<CaConditions>,
    #[serde(default)]
    pub grant_controls: Option<CaGrantControls>,
}

pub const CA_POLICY_SELECT: &str = "id,displayName,state,conditions,grantControls";

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A value a posture check could or could not establish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Known<T> {
    Known { value: T },
    Unknown { reason: String },
}

impl<T> Known<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Known { value } => Some(value),
            Self::Unknown { .. } => None,
        }
    }
}

/// Password hash sync as the organization reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum PasswordSync {
    /// The tenant does not sync from on-premises: the setting has no effect.
    CloudOnly,
    Fresh {
        #[serde(with = "time::serde::rfc3339")]
        last: OffsetDateTime,
    },
    /// Synced, but no password sync recently (or ever): on-premises changes do not reach Entra.
    Stale {
        #[serde(default, with = "time::serde::rfc3339::option")]
        last: Option<OffsetDateTime>,
    },
}

/// What a user-risk Conditional Access policy asks of an at-risk user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RiskResponse {
    PasswordChange,
    RiskRemediation,
    Block,
    /// Another grant (MFA alone, terms of use): it does not clear user risk.
    Other,
}

/// `enabled`, `enabledForReportingButNotEnforced`, `disabled`, or a newer value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PolicyState {
    Enabled,
    ReportOnly,
    Disabled,
    Other(String),
}

/// A Conditional Access policy with a user-risk condition, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRiskPolicy {
    pub name: String,
    pub state: PolicyState,
    pub levels: Vec<String>,
    pub response: RiskResponse,
    /// Whom it applies to. `None` in a snapshot saved before riskrelay read the scope: then
    /// coverage is unknown until the next posture check.
    #[serde(default)]
    pub users: Option<CaUsers>,
    #[serde(default)]
    pub applications: Option<CaApplications>,
    /// The authentication strength it requires, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength: Option<Strength>,
}

impl UserRiskPolicy {
    /// `None` for policies without a user-risk condition.
    pub fn from_ca(p: &CaPolicy) -> Option<Self> {
        let levels: Vec<String> = p
            .conditions
            .as_ref()?
            .user_risk_levels
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        if levels.is_empty() {
            return None;
        }
        let controls: Vec<String> = p
            .grant_controls
            .as_ref()
            .map(|g| {
                g.built_in_controls
                    .iter()
                    .map(|c| c.to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let has = |c: &str| controls.iter().any(|x| x == c);
        let response = if has("block") {
            RiskResponse::Block
        } else if has("riskremediation") {
            RiskResponse::RiskRemediation
        } else if has("passwordchange") {
            RiskResponse::PasswordChange
        } else {
            RiskResponse::Other
        };
        let state = match p.state.as_str() {
            "enabled" => PolicyState::Enabled,
            "enabledForReportingButNotEnforced" => PolicyState::ReportOnly,
            "disabled" => PolicyState::Disabled,
            other => PolicyState::Other(other.to_string()),
        };
        let conditions = p.conditions.as_ref()?;
        Some(Self {
            name: p.display_name.clone().unwrap_or_else(|| p.id.clone()),
            state,
            levels,
            response,
            users: Some(conditions.users.clone().unwrap_or_default()),
            applications: Some(conditions.applications.clone().unwrap_or_default()),
            strength: p
                .grant_controls
                .as_ref()
                .and_then(|g| g.authentication_strength.as_ref())
                .map(Strength::from_ca),
        })
    }

    pub fn covers(&self, level: &str) -> bool {
        self.levels.iter().any(|l| l.eq_ignore_ascii_case(level))
    }

    /// Whether the scope names groups or roles, so that a user's memberships are needed to tell
    /// whether it applies to them.
    pub fn needs_membership(&self) -> bool {
        self.users.as_ref().is_some_and(|u| {
            !(u.include_groups.is_empty()
                && u.exclude_groups.is_empty()
                && u.include_roles.is_empty()
                && u.exclude_roles.is_empty())
        })
    }

    /// Whether the policy applies to `user`; `Err` says why that cannot be told.
    pub fn applies_to(&self, user: &Member<'_>) -> Result<bool, String> {
        let Some(scope) = &self.users else {
            return Err(format!(
                "the scope of \"{}\" is not in the posture snapshot yet",
                self.name
            ));
        };
        let names = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
        let guest = || {
            user.is_guest
                .ok_or_else(|| "whether the user is a guest could not be read".to_string())
        };
        let membership = || match user.membership {
            Some(Ok(m)) => Ok(m),
            Some(Err(reason)) => Err(format!(
                "the user's group and role memberships could not be read ({reason})"
            )),
            None => Err("the user's group and role memberships were not read".to_string()),
        };
        let any_of = |list: &[String], set: &std::collections::BTreeSet<String>| {
            list.iter().any(|x| set.contains(&x.to_ascii_lowercase()))
        };
        let id = user.id.to_string();
        // Exclusions win, so they are settled first.
        if names(&scope.exclude_users, &id) || (names(&scope.exclude_users, GUESTS) && guest()?) {
            return Ok(false);
        }
        if !(scope.exclude_groups.is_empty() && scope.exclude_roles.is_empty()) {
            let m = membership()?;
            if any_of(&scope.exclude_groups, &m.groups) || any_of(&scope.exclude_roles, &m.roles) {
                return Ok(false);
            }
        }
        if names(&scope.include_users, "All") || names(&scope.include_users, &id) {
            return Ok(true);
        }
        if names(&scope.include_users, GUESTS) && guest()? {
            return Ok(true);
        }
        if !(scope.include_groups.is_empty() && scope.include_roles.is_empty()) {
            let m = membership()?;
            return Ok(
                any_of(&scope.include_groups, &m.groups) || any_of(&scope.include_roles, &m.roles)
            );
        }
        Ok(false)
    }

    /// Whether it applies to every cloud app's sign-in, or what it covers instead.
    pub fn app_coverage(&self) -> AppCoverage {
        let Some(apps) = &self.applications else {
            return AppCoverage::Unknown;
        };
        let all = apps
            .include_applications
            .iter()
            .any(|a| a.eq_ignore_ascii_case("All"));
        match (all, apps.exclude_applications.len()) {
            (true, 0) => AppCoverage::All,
            (true, n) => AppCoverage::AllExcept(n),
            (false, _) => AppCoverage::Some(apps.include_applications.len()),
        }
    }

    /// How much of the tenant's users the policy covers, in words, when it is not everyone:
    /// `None` for all users without exclusions.
    pub fn partial_scope(&self) -> Option<String> {
        let u = self.users.as_ref()?;
        let all = u
            .include_users
            .iter()
            .any(|x| x.eq_ignore_ascii_case("All"));
        let count = |users: usize, groups: usize, roles: usize| {
            let mut parts = Vec::new();
            for (n, one, many) in [
                (users, "user", "users"),
                (groups, "group", "groups"),
                (roles, "role", "roles"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {}", if n == 1 { one } else { many }));
                }
            }
            parts.join(", ")
        };
        let special = |list: &[String]| {
            list.iter()
                .filter(|x| x.eq_ignore_ascii_case(GUESTS))
                .count()
        };
        let excluded = count(
            u.exclude_users.len() - special(&u.exclude_users),
            u.exclude_groups.len(),
            u.exclude_roles.len(),
        );
        let guests_out = special(&u.exclude_users) > 0;
        if all {
            return match (excluded.is_empty(), guests_out) {
                (true, false) => None,
                (true, true) => Some("all users except guests and external users".into()),
                (false, false) => Some(format!("all users except {excluded}")),
                (false, true) => Some(format!(
                    "all users except guests and external users and {excluded}"
                )),
            };
        }
        let users: Vec<&String> = u
            .include_users
            .iter()
            .filter(|x| !x.eq_ignore_ascii_case("None"))
            .collect();
        let guests_in = users.iter().any(|x| x.eq_ignore_ascii_case(GUESTS));
        let included = count(
            users.len() - usize::from(guests_in),
            u.include_groups.len(),
            u.include_roles.len(),
        );
        let mut words = match (included.is_empty(), guests_in) {
            (true, false) => "no users".to_string(),
            (true, true) => "only guests and external users".into(),
            (false, false) => format!("only {included}"),
            (false, true) => format!("only guests and external users and {included}"),
        };
        if !excluded.is_empty() {
            words.push_str(&format!(", minus {excluded}"));
        }
        Some(words)
    }
}

/// `includeUsers` / `excludeUsers` value for every guest and external user.
pub const GUESTS: &str = "GuestsOrExternalUsers";

/// What a policy's scope is evaluated against: one user.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub id: crate::ids::UserId,
    /// `userType` is `Guest`; `None` when it could not be read.
    pub is_guest: Option<bool>,
    /// The user's transitive groups and directory roles: `None` when not read (no policy needed
    /// them), `Err` with the reason when the read failed.
    pub membership: Option<Result<&'a Membership, &'a str>>,
}

/// A user's transitive group ids and directory role template ids, lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub groups: std::collections::BTreeSet<String>,
    pub roles: std::collections::BTreeSet<String>,
}

/// Which sign-ins a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppCoverage {
    All,
    /// Every cloud app but this many.
    AllExcept(usize),
    /// Only this many apps (or app groups such as Office 365).
    Some(usize),
    /// Not in the snapshot yet.
    Unknown,
}

/// Everything the remediation verdict needs from the tenant, read at most once per cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostureSnapshot {
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// "Allow on-premises password change to reset user risk".
    pub setting: Known<bool>,
    pub password_sync: Known<PasswordSync>,
    pub user_risk_policies: Known<Vec<UserRiskPolicy>>,
}

impl PostureSnapshot {
    /// A snapshot that knows nothing, for when no posture check has run yet.
    pub fn unknown(reason: &str, at: OffsetDateTime) -> Self {
        Self {
            checked_at: at,
            setting: Known::Unknown {
                reason: reason.into(),
            },
            password_sync: Known::Unknown {
                reason: reason.into(),
            },
            user_risk_policies: Known::Unknown {
                reason: reason.into(),
            },
        }
    }
}
