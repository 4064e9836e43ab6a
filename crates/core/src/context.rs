//! What the directory says about a user: the context an alert shows and the inputs of the
//! remediation verdict that belong to the user (sync state, MFA and SSPR registration).

use serde::{Deserialize, Serialize};

use crate::ids::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerRef {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

/// A `user` with the members riskrelay reads (`$select` in [`USER_SELECT`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserContext {
    pub id: UserId,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    /// True when the user is synced from on-premises Active Directory.
    #[serde(default)]
    pub on_premises_sync_enabled: Option<bool>,
    #[serde(default)]
    pub manager: Option<ManagerRef>,
    /// `Member` or `Guest`: Conditional Access scopes can include or exclude guests.
    #[serde(default)]
    pub user_type: Option<String>,
}

pub const USER_SELECT: &str = "id,displayName,userPrincipalName,department,jobTitle,accountEnabled,onPremisesSyncEnabled,userType";
pub const MANAGER_EXPAND: &str = "manager($select=displayName,userPrincipalName)";

/// The result of looking a user up in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Lookup<T> {
    Found(T),
    /// The user no longer exists (deleted since the risk was recorded).
    NotFound,
    /// Could not be read; the reason is shown where the value would be.
    Unavailable {
        reason: String,
    },
}

impl<T> Lookup<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Self::Found(t) => Some(t),
            _ => None,
        }
    }
}

/// `userRegistrationDetails`, the members the verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    #[serde(default)]
    pub is_mfa_registered: Option<bool>,
    #[serde(default)]
    pub is_sspr_registered: Option<bool>,
    #[serde(default)]
    pub is_sspr_enabled: Option<bool>,
    #[serde(default)]
    pub methods_registered: Vec<String>,
    /// Whether the user can sign in without a password (registered for a passwordless method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_passwordless_capable: Option<bool>,
}
