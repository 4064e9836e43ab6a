//! Entra ID Protection's risk resources as Rust values: `riskyUser`, `riskyUserHistoryItem`,
//! `riskDetection` and their enums.
//!
//! Graph adds enum members over time ("evolvable enums"), so every enum here keeps a value it does
//! not know as `Unknown(raw)` and shows it raw: an alert must never drop a state it cannot name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::ids::UserId;

/// A string enum from Graph with an explicit unknown member that keeps the raw value.
/// `null` and a missing value read as `Unknown("")`.
macro_rules! graph_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Debug)]
        pub enum $name {
            $($variant,)+
            Unknown(String),
        }

        impl $name {
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Unknown(other.to_string()),
                }
            }

            pub fn as_wire(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(raw) => raw,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::Unknown(String::new())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Self::Unknown(raw) if raw.is_empty() => f.write_str("(not given)"),
                    other => f.write_str(other.as_wire()),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_wire())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(raw.map(|s| Self::from_wire(&s)).unwrap_or_default())
            }
        }
    };
}

graph_enum!(
    /// `riskLevel`.
    RiskLevel {
        None => "none",
        Low => "low",
        Medium => "medium",
        High => "high",
        Hidden => "hidden",
    }
);

impl RiskLevel {
    /// Order for comparisons. `hidden` (the caller may not see the level) and unknown values have
    /// no rank: a change involving them is reported, never judged as up or down.
    pub fn rank(&self) -> Option<u8> {
        match self {
            Self::None => Some(0),
            Self::Low => Some(1),
            Self::Medium => Some(2),
            Self::High => Some(3),
            Self::Hidden | Self::Unknown(_) => None,
        }
    }

    /// Parses a configured minimum level; only the ranked levels make sense there.
    pub fn parse_minimum(s: &str) -> Result<Self, String> {
        match Self::from_wire(&s.to_ascii_lowercase()) {
            l @ (Self::Low | Self::Medium | Self::High) => Ok(l),
            _ => Err("one of low, medium, high".into()),
        }
    }

    /// True when an alert at this level reaches a destination whose minimum is `minimum`. A level
    /// without a rank passes: showing an unknown level is better than hiding it.
    pub fn meets(&self, minimum: &RiskLevel) -> bool {
        match (self.rank(), minimum.rank()) {
            (Some(l), Some(m)) => l >= m,
            _ => true,
        }
    }
}

graph_enum!(
    /// `riskState`.
    RiskState {
        None => "none",
        ConfirmedSafe => "confirmedSafe",
        Remediated => "remediated",
        Dismissed => "dismissed",
        AtRisk => "atRisk",
        ConfirmedCompromised => "confirmedCompromised",
    }
);

impl RiskState {
    /// States in which the user still carries risk. An unknown state counts as risky: a false
    /// "still at risk" is safer than a false "all clear".
    pub fn is_risky(&self) -> bool {
        matches!(
            self,
            Self::AtRisk | Self::ConfirmedCompromised | Self::Unknown(_)
        )
    }
}

graph_enum!(
    /// `riskDetail`: why the state is what it is. Members after `unknownFutureValue` only come back
    /// when the request sends `Prefer: include-unknown-enum-members`.
    RiskDetail {
        None => "none",
        AdminGeneratedTemporaryPassword => "adminGeneratedTemporaryPassword",
        UserPerformedSecuredPasswordChange => "userPerformedSecuredPasswordChange",
        UserPerformedSecuredPasswordReset => "userPerformedSecuredPasswordReset",
        AdminConfirmedSigninSafe => "adminConfirmedSigninSafe",
        AiConfirmedSigninSafe => "aiConfirmedSigninSafe",
        UserPassedMfaDrivenByRiskBasedPolicy => "userPassedMFADrivenByRiskBasedPolicy",
        AdminDismissedAllRiskForUser => "adminDismissedAllRiskForUser",
        AdminConfirmedSigninCompromised => "adminConfirmedSigninCompromised",
        Hidden => "hidden",
        AdminConfirmedUserCompromised => "adminConfirmedUserCompromised",
        UnknownFutureValue => "unknownFutureValue",
        AdminConfirmedServicePrincipalCompromised => "adminConfirmedServicePrincipalCompromised",
        AdminDismissedAllRiskForServicePrincipal => "adminDismissedAllRiskForServicePrincipal",
        M365DAdminDismissedDetection => "m365DAdminDismissedDetection",
        UserChangedPasswordOnPremises => "userChangedPasswordOnPremises",
        AdminDismissedRiskForSignIn => "adminDismissedRiskForSignIn",
        AdminConfirmedAccountSafe => "adminConfirmedAccountSafe",
        AiElevatedAccountRisk => "aiElevatedAccountRisk",
        AdminConfirmedAgentSafe => "adminConfirmedAgentSafe",
        AdminConfirmedAgentCompromised => "adminConfirmedAgentCompromised",
        AdminDismissedRiskForAgent => "adminDismissedRiskForAgent",
    }
);

impl RiskDetail {
    /// The detail in plain words, as a sentence fragment ("the password was …").
    pub fn plain(&self) -> String {
        let s = match self {
            Self::None => "no detail was given",
            Self::AdminGeneratedTemporaryPassword => "an administrator set a temporary password",
            // Microsoft also gives this detail for an admin-required reset done by an ordinary
            // on-premises password change, where no MFA is involved: claim none.
            Self::UserPerformedSecuredPasswordChange => {
                "the user performed a secure password change"
            }
            Self::UserPerformedSecuredPasswordReset => {
                "the user reset their password with self-service password reset"
            }
            Self::AdminConfirmedSigninSafe => "an administrator confirmed the sign-in safe",
            Self::AiConfirmedSigninSafe => "ID Protection's AI confirmed the sign-in safe",
            Self::UserPassedMfaDrivenByRiskBasedPolicy => {
                "the user passed MFA required by a risk-based policy"
            }
            Self::AdminDismissedAllRiskForUser => {
                "an administrator dismissed all risk for the user"
            }
            Self::AdminConfirmedSigninCompromised => {
                "an administrator confirmed a sign-in compromised"
            }
            Self::Hidden => "the detail is hidden from this app",
            Self::AdminConfirmedUserCompromised => {
                "an administrator confirmed the user compromised"
            }
            Self::UnknownFutureValue => {
                "Graph withheld the detail (unknownFutureValue: the request lacked Prefer: include-unknown-enum-members)"
            }
            Self::AdminConfirmedServicePrincipalCompromised => {
                "an administrator confirmed the service principal compromised"
            }
            Self::AdminDismissedAllRiskForServicePrincipal => {
                "an administrator dismissed all risk for the service principal"
            }
            Self::M365DAdminDismissedDetection => {
                "an administrator dismissed the detection in Microsoft Defender XDR"
            }
            Self::UserChangedPasswordOnPremises => {
                "the password was changed on-premises and synced to Entra"
            }
            Self::AdminDismissedRiskForSignIn => "an administrator dismissed the risk of a sign-in",
            Self::AdminConfirmedAccountSafe => "an administrator confirmed the account safe",
            Self::AiElevatedAccountRisk => "unified risk signals raised the account's risk",
            Self::AdminConfirmedAgentSafe => "an administrator confirmed the agent safe",
            Self::AdminConfirmedAgentCompromised => {
                "an administrator confirmed the agent compromised"
            }
            Self::AdminDismissedRiskForAgent => "an administrator dismissed the agent's risk",
            Self::Unknown(raw) if raw.is_empty() => "no detail was given",
            Self::Unknown(raw) => return format!("Graph reported \"{raw}\""),
        };
        s.to_string()
    }

    /// Details that mean an administrator ended the risk without the user remediating it.
    /// Whether the detail says what ended the risk. `none` (and a withheld detail) says
    /// nothing: Graph documents no remediation behind them.
    pub fn names_an_ending(&self) -> bool {
        !matches!(self, Self::None | Self::Hidden | Self::UnknownFutureValue)
    }

    pub fn is_admin_dismissal(&self) -> bool {
        matches!(
            self,
            Self::AdminDismissedAllRiskForUser
                | Self::AdminConfirmedSigninSafe
                | Self::AdminDismissedRiskForSignIn
                | Self::AdminConfirmedAccountSafe
                | Self::M365DAdminDismissedDetection
                | Self::AdminDismissedAllRiskForServicePrincipal
                | Self::AdminConfirmedAgentSafe
                | Self::AdminDismissedRiskForAgent
        )
    }
}

graph_enum!(
    /// `detectionTimingType`.
    DetectionTimingType {
        NotDefined => "notDefined",
        Realtime => "realtime",
        NearRealtime => "nearRealtime",
        Offline => "offline",
    }
);

/// `riskyUser`, with the members riskrelay reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUser {
    pub id: UserId,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    pub risk_state: RiskState,
    #[serde(default)]
    pub risk_detail: RiskDetail,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub risk_last_updated_date_time: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "null_is_false")]
    pub is_deleted: bool,
    #[serde(default, deserialize_with = "null_is_false")]
    pub is_processing: bool,
}

/// The `$select` list for riskyUser reads: exactly the members above.
pub const RISKY_USER_SELECT: &str = "id,userPrincipalName,userDisplayName,riskLevel,riskState,riskDetail,riskLastUpdatedDateTime,isDeleted,isProcessing";

fn null_is_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// `riskUserActivity`: what a history item did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskUserActivity {
    #[serde(default)]
    pub risk_event_types: Vec<String>,
    #[serde(default)]
    pub detail: RiskDetail,
}

/// `riskyUserHistoryItem`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUserHistoryItem {
    pub id: String,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub initiated_by: Option<String>,
    #[serde(default)]
    pub activity: Option<RiskUserActivity>,
    #[serde(default)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    pub risk_state: RiskState,
    #[serde(default)]
    pub risk_detail: RiskDetail,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub risk_last_updated_date_time: Option<OffsetDateTime>,
}

/// `signInLocation`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInLocation {
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub country_or_region: Option<String>,
}

impl SignInLocation {
    /// "Seattle, Washington, US", skipping empty parts; `None` when nothing is known.
    pub fn display(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.city, &self.state, &self.country_or_region]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// `riskDetection`, with the members riskrelay reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskDetection {
    pub id: String,
    pub user_id: UserId,
    #[serde(default)]
    pub risk_event_type: String,
    #[serde(default)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    pub risk_state: RiskState,
    #[serde(default)]
    pub risk_detail: RiskDetail,
    #[serde(default)]
    pub detection_timing_type: DetectionTimingType,
    /// `signin`, `user` or a newer value.
    #[serde(default)]
    pub activity: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub location: Option<SignInLocation>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub activity_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub detected_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_updated_date_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub user_display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// A JSON *string* holding `[{"Key": …, "Value": …}]`.
    #[serde(default)]
    pub additional_info: Option<String>,
}

/// The `$select` list for riskDetection reads.
pub const RISK_DETECTION_SELECT: &str = "id,userId,riskEventType,riskLevel,riskState,riskDetail,detectionTimingType,activity,source,ipAddress,location,activityDateTime,detectedDateTime,lastUpdatedDateTime,userDisplayName,userPrincipalName,additionalInfo";

impl RiskDetection {
    /// Values of one key of `additionalInfo`. The member is a JSON string that may be missing,
    /// empty, malformed or lack the key (STAT crashed on a missing `riskReasons`); all of those
    /// give an empty list.
    pub fn additional_info_values(&self, key: &str) -> Vec<String> {
        let Some(raw) = self.additional_info.as_deref() else {
            return Vec::new();
        };
        let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(raw) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let key_matches = item
                .get("Key")
                .and_then(|k| k.as_str())
                .is_some_and(|k| k.eq_ignore_ascii_case(key));
            if !key_matches {
                continue;
            }
            match item.get("Value") {
                Some(serde_json::Value::String(s)) => out.push(s.clone()),
                Some(serde_json::Value::Array(vs)) => {
                    out.extend(vs.iter().filter_map(|v| v.as_str().map(str::to_string)));
                }
                Some(serde_json::Value::Null) | None => {}
                Some(other) => out.push(other.to_string()),
            }
        }
        out
    }

    pub fn risk_reasons(&self) -> Vec<String> {
        self.additional_info_values("riskReasons")
    }

    /// When it happened, as best known.
    pub fn when(&self) -> Option<OffsetDateTime> {
        self.activity_date_time
            .or(self.detected_date_time)
            .or(self.last_updated_date_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_members_are_kept_raw_and_null_reads_as_not_given() {
        let u: RiskyUser = serde_json::from_value(serde_json::json!({
            "id": "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b",
            "riskLevel": "critical",
            "riskState": null,
            "riskDetail": "userChangedPasswordOnPremises",
            "riskLastUpdatedDateTime": "2026-11-20T10:11:12.7872426Z",
            "isDeleted": null,
            "somethingNew": {"nested": true}
        }))
        .unwrap();
        assert_eq!(u.risk_level, RiskLevel::Unknown("critical".into()));
        assert_eq!(u.risk_level.to_string(), "critical");
        assert_eq!(u.risk_state, RiskState::Unknown(String::new()));
        assert_eq!(u.risk_state.to_string(), "(not given)");
        assert_eq!(u.risk_detail, RiskDetail::UserChangedPasswordOnPremises);
        assert!(!u.is_deleted);
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back["riskLevel"], "critical");
        assert_eq!(back["riskDetail"], "userChangedPasswordOnPremises");
    }

    #[test]
    fn level_ordering_and_minimums() {
        assert!(RiskLevel::High.meets(&RiskLevel::Medium));
        assert!(!RiskLevel::Low.meets(&RiskLevel::Medium));
        assert!(RiskLevel::Hidden.meets(&RiskLevel::High));
        assert_eq!(RiskLevel::parse_minimum("HIGH"), Ok(RiskLevel::High));
        assert!(RiskLevel::parse_minimum("hidden").is_err());
        assert!(RiskLevel::parse_minimum("critical").is_err());
    }

    #[test]
    fn additional_info_is_parsed_tolerantly() {
        let mut d: RiskDetection = serde_json::from_value(serde_json::json!({
            "id": "d1", "userId": "6a5d0c2b-16f5-4a8f-9b0b-3c1d2e3f4a5b",
            "riskEventType": "investigationsThreatIntelligence",
            "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0\"},{\"Key\":\"riskReasons\",\"Value\":[\"suspiciousIP\",\"passwordSpray\"]}]"
        }))
        .unwrap();
        assert_eq!(d.risk_reasons(), vec!["suspiciousIP", "passwordSpray"]);
        assert_eq!(d.additional_info_values("userAgent"), vec!["Mozilla/5.0"]);
        for raw in [
            None,
            Some(""),
            Some("not json"),
            Some("{}"),
            Some("[{\"Key\":\"userAgent\",\"Value\":\"x\"}]"),
        ] {
            d.additional_info = raw.map(str::to_string);
            assert!(d.risk_reasons().is_empty(), "{raw:?}");
        }
    }

    #[test]
    fn location_display_skips_blanks() {
        let l = SignInLocation {
            city: Some("Redmond".into()),
            state: Some(" ".into()),
            country_or_region: Some("US".into()),
        };
        assert_eq!(l.display().as_deref(), Some("Redmond, US"));
        assert_eq!(SignInLocation::default().display(), None);
    }
}
