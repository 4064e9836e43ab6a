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
