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
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaGrantControls {
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub built_in_controls: Vec<String>,
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
        Some(Self {
            name: p.display_name.clone().unwrap_or_else(|| p.id.clone()),
            state,
            levels,
            response,
        })
    }

    pub fn covers(&self, level: &str) -> bool {
        self.levels.iter().any(|l| l.eq_ignore_ascii_case(level))
    }
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
