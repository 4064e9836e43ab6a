//! The detection catalogue: every `riskEventType` Entra documents, with the name the portal shows,
//! when it is detected and which licence tier produces it.
//!
//! Source: Entra ID Protection "risk detection types" reference (sign-in and user tables) and the
//! older identifiers still listed in Graph's riskDetection enum description. A type not listed here
//! is shown by its raw name, never dropped.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    RealTime,
    Offline,
    /// Real-time or offline, depending on the signal.
    Either,
    Unknown,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RealTime => "real-time",
            Self::Offline => "offline",
            Self::Either => "real-time or offline",
            Self::Unknown => "timing unknown",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Needs Entra ID P2 (some also Defender for Cloud Apps).
    Premium,
    Nonpremium,
    Unknown,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Premium => "premium",
            Self::Nonpremium => "nonpremium",
            Self::Unknown => "tier unknown",
        })
    }
}

/// Whether a detection is about a sign-in or about the user account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    SignIn,
    User,
}

impl Activity {
    pub fn from_wire(s: Option<&str>) -> Option<Self> {
        match s? {
            s if s.eq_ignore_ascii_case("signin") => Some(Self::SignIn),
            s if s.eq_ignore_ascii_case("user") => Some(Self::User),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionInfo {
    pub risk_event_type: &'static str,
    pub activity: Activity,
    pub name: &'static str,
    pub timing: Timing,
    pub tier: Tier,
}

const fn entry(
    risk_event_type: &'static str,
    activity: Activity,
    name: &'static str,
    timing: Timing,
    tier: Tier,
) -> DetectionInfo {
    DetectionInfo {
        risk_event_type,
        activity,
        name,
        timing,
        tier,
    }
}

use Activity::{SignIn, User};
use Tier::{Nonpremium, Premium};
use Timing::{Either, Offline, RealTime};

pub const CATALOGUE: &[DetectionInfo] = &[
    // Sign-in detections.
    entry(
        "riskyIPAddress",
        SignIn,
        "Activity from anonymous IP address",
        Offline,
        Premium,
    ),
    entry(
        "authenticatorPhishing",
        SignIn,
        "Suspicious MFA authentication approval",
        RealTime,
        Premium,
    ),
    entry(
        "generic",
        SignIn,
        "Additional risk detected (sign-in)",
        Either,
        Nonpremium,
    ),
    entry(
        "adminConfirmedUserCompromised",
        SignIn,
        "Admin confirmed user compromised",
        Offline,
        Nonpremium,
    ),
    entry(
        "anomalousToken",
        SignIn,
        "Anomalous token (sign-in)",
        Either,
        Premium,
    ),
    entry(
        "anonymizedIPAddress",
        SignIn,
        "Anonymous IP address",
        RealTime,
        Nonpremium,
    ),
    entry(
        "unlikelyTravel",
        SignIn,
        "Atypical travel",
        Offline,
        Premium,
    ),
    entry(
        "mcasImpossibleTravel",
        SignIn,
        "Impossible travel",
        Offline,
        Premium,
    ),
    entry(
        "maliciousIPAddress",
        SignIn,
        "Malicious IP address",
        Offline,
        Premium,
    ),
    entry(
        "mcasFinSuspiciousFileAccess",
        SignIn,
        "Mass access to sensitive files",
        Offline,
        Premium,
    ),
    entry(
        "investigationsThreatIntelligence",
        SignIn,
        "Microsoft Entra threat intelligence (sign-in)",
        Either,
        Nonpremium,
    ),
    entry("newCountry", SignIn, "New country", Offline, Premium),
    entry("passwordSpray", SignIn, "Password spray", Either, Premium),
    entry(
        "suspiciousBrowser",
        SignIn,
        "Suspicious browser",
        Offline,
        Premium,
    ),
    entry(
        "suspiciousInboxForwarding",
        SignIn,
        "Suspicious inbox forwarding",
        Offline,
        Premium,
    ),
    entry(
        "mcasSuspiciousInboxManipulationRules",
        SignIn,
        "Suspicious inbox manipulation rules",
        Offline,
        Premium,
    ),
    entry(
        "tokenIssuerAnomaly",
        SignIn,
        "Token issuer anomaly",
        Offline,
        Premium,
    ),
    entry(
        "unfamiliarFeatures",
        SignIn,
        "Unfamiliar sign-in properties",
        RealTime,
        Premium,
    ),
    entry(
        "nationStateIP",
        SignIn,
        "Verified threat actor IP",
        RealTime,
        Premium,
    ),
    // User detections.
    entry(
        "generic",
        User,
        "Additional risk detected (user)",
        Either,
        Nonpremium,
    ),
    entry(
        "anomalousToken",
        User,
        "Anomalous token (user)",
        Either,
        Premium,
    ),
    entry(
        "anomalousUserActivity",
        User,
        "Anomalous user activity",
        Offline,
        Premium,
    ),
    entry(
        "attackerinTheMiddle",
        User,
        "Attacker in the Middle",
        Offline,
        Premium,
    ),
    entry(
        "leakedCredentials",
        User,
        "Leaked credentials",
        Offline,
        Nonpremium,
    ),
    entry(
        "investigationsThreatIntelligence",
        User,
        "Microsoft Entra threat intelligence (user)",
        Either,
        Nonpremium,
    ),
    entry(
        "attemptedPrtAccess",
        User,
        "Possible attempt to access Primary Refresh Token (PRT)",
        Offline,
        Premium,
    ),
    entry(
        "suspiciousAPITraffic",
        User,
        "Suspicious API traffic",
        Offline,
        Premium,
    ),
    entry(
        "suspiciousSendingPatterns",
        User,
        "Suspicious sending patterns",
        Offline,
        Premium,
    ),
    entry(
        "userReportedSuspiciousActivity",
        User,
        "User reported suspicious activity",
        Offline,
        Premium,
    ),
    entry(
        "aiCompoundAccountRisk",
        User,
        "Unified risk signals (compounded risk)",
        Timing::Unknown,
        Premium,
    ),
    // Older or alternate identifiers from Graph's enum descriptions.
    entry(
        "impossibleTravel",
        SignIn,
        "Impossible travel",
        Offline,
        Premium,
    ),
    entry(
        "malwareInfectedIPAddress",
        SignIn,
        "Malware linked IP address",
        Offline,
        Premium,
    ),
    entry(
        "suspiciousIPAddress",
        SignIn,
        "Suspicious IP address",
        Offline,
        Premium,
    ),
    entry(
        "investigationsThreatIntelligenceSigninLinked",
        SignIn,
        "Microsoft Entra threat intelligence (sign-in linked)",
        Either,
        Nonpremium,
    ),
    entry(
        "maliciousIPAddressValidCredentialsBlockedIP",
        SignIn,
        "Malicious IP address (valid credentials, blocked IP)",
        Offline,
        Premium,
    ),
];

/// Looks a detection up by its type and, for the types that exist as both a sign-in and a user
/// detection, by its activity. Type names are compared case-insensitively: Graph's own spelling
/// of `attackerinTheMiddle` shows casing is not something to rely on.
pub fn lookup(risk_event_type: &str, activity: Option<Activity>) -> Option<&'static DetectionInfo> {
    let mut matches = CATALOGUE
        .iter()
        .filter(|e| e.risk_event_type.eq_ignore_ascii_case(risk_event_type));
    let first = matches.next()?;
    match activity {
        Some(a) if first.activity != a => Some(matches.find(|e| e.activity == a).unwrap_or(first)),
        _ => Some(first),
    }
}

/// What a renderer shows for a detection: the portal name, or the raw type when unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub name: String,
    pub timing: Timing,
    pub tier: Tier,
    pub known: bool,
}

pub fn describe(risk_event_type: &str, activity: Option<&str>) -> Described {
    match lookup(risk_event_type, Activity::from_wire(activity)) {
        Some(info) => Described {
            name: info.name.to_string(),
            timing: info.timing,
            tier: info.tier,
            known: true,
        },
        None => Described {
            name: if risk_event_type.is_empty() {
                "(unnamed detection)".to_string()
            } else {
                risk_event_type.to_string()
            },
            timing: Timing::Unknown,
            tier: Tier::Unknown,
            known: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_type_is_named() {
        let documented = [
            "riskyIPAddress",
            "authenticatorPhishing",
            "generic",
            "adminConfirmedUserCompromised",
            "anomalousToken",
            "anonymizedIPAddress",
            "unlikelyTravel",
            "mcasImpossibleTravel",
            "maliciousIPAddress",
            "mcasFinSuspiciousFileAccess",
            "investigationsThreatIntelligence",
            "newCountry",
            "passwordSpray",
            "suspiciousBrowser",
            "suspiciousInboxForwarding",
            "mcasSuspiciousInboxManipulationRules",
            "tokenIssuerAnomaly",
            "unfamiliarFeatures",
            "nationStateIP",
            "anomalousUserActivity",
            "attackerinTheMiddle",
            "leakedCredentials",
            "attemptedPrtAccess",
            "suspiciousAPITraffic",
            "suspiciousSendingPatterns",
            "userReportedSuspiciousActivity",
            "aiCompoundAccountRisk",
            "impossibleTravel",
            "malwareInfectedIPAddress",
            "suspiciousIPAddress",
            "investigationsThreatIntelligenceSigninLinked",
            "maliciousIPAddressValidCredentialsBlockedIP",
        ];
        for t in documented {
            assert!(describe(t, None).known, "{t} missing");
        }
    }

    #[test]
    fn shared_types_are_named_by_activity() {
        assert_eq!(
            describe("generic", Some("signin")).name,
            "Additional risk detected (sign-in)"
        );
        assert_eq!(
            describe("generic", Some("user")).name,
            "Additional risk detected (user)"
        );
        assert_eq!(
            describe("anomalousToken", Some("user")).name,
            "Anomalous token (user)"
        );
        let d = describe("userReportedSuspiciousActivity", Some("user"));
        assert_eq!(
            (d.name.as_str(), d.timing, d.tier),
            (
                "User reported suspicious activity",
                Timing::Offline,
                Tier::Premium
            )
        );
        assert_eq!(describe("leakedCredentials", None).tier, Tier::Nonpremium);
    }

    #[test]
    fn unknown_types_show_raw() {
        let d = describe("quantumTunnelSignIn", Some("signin"));
        assert_eq!(
            (d.name.as_str(), d.known, d.timing),
            ("quantumTunnelSignIn", false, Timing::Unknown)
        );
    }
}
