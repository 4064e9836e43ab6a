//! Risky workload identities: the service principals (Graph v1.0 `riskyServicePrincipals`,
//! `servicePrincipalRiskDetections`) and the AI agents registered with Entra Agent ID (Graph beta
//! `riskyAgents`, `agentRiskDetections`) that ID Protection scores, read into one shape.
//!
//! Graph's two families name the same things differently (`displayName` / `agentDisplayName`,
//! `riskLastUpdatedDateTime` / `riskLastModifiedDateTime`), and Microsoft's own examples carry ids
//! that are not GUIDs and a timestamp with a stray `)`. So each item is read on its own, ids are
//! kept as text, timestamps are read leniently, and an item that still cannot be read is
//! [`Unreadable`] with the field named: the caller logs it once and goes on.

mod alert;
mod context;
mod reconcile;
mod watch;

pub use alert::{WorkloadAlert, key as alert_key};

pub use context::{
    Credential, WorkloadContext, privileged_graph_permission, privileged_role, steps,
};
pub use reconcile::{WorkloadReconciled, WorkloadState, reconcile};
pub use watch::{KindWatch, RETRY_REFUSED_AFTER, Unavailable, WorkloadWatch};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::risk::{DetectionTimingType, RiskDetail, RiskLevel, RiskState, SignInLocation};

/// Whom an action or an event is about, by name: "user", or the kind's name ("servicePrincipal",
/// "agent"), as the webhook's `subjectKind` spells it.
pub fn subject_name(kind: Option<WorkloadKind>) -> &'static str {
    kind.map_or("user", WorkloadKind::name)
}

/// Whom an action is about, for sentences: "user", "service principal", "agent".
pub fn subject_noun(kind: Option<WorkloadKind>) -> &'static str {
    kind.map_or("user", WorkloadKind::noun)
}

/// Which family a workload identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkloadKind {
    ServicePrincipal,
    Agent,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 2] = [Self::ServicePrincipal, Self::Agent];

    /// "service principal", "agent": for sentences.
    pub fn noun(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "service principal",
            Self::Agent => "agent",
        }
    }

    /// The stable name in keys, the webhook's event type and the store.
    pub fn name(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "servicePrincipal",
            Self::Agent => "agent",
        }
    }

    /// The Graph version the family lives in: agents' risk is beta only (2025-11).
    pub fn version(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "v1.0",
            Self::Agent => "beta",
        }
    }

    pub fn risky_path(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "identityProtection/riskyServicePrincipals",
            Self::Agent => "identityProtection/riskyAgents",
        }
    }

    pub fn detections_path(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "identityProtection/servicePrincipalRiskDetections",
            Self::Agent => "identityProtection/agentRiskDetections",
        }
    }

    /// The member the risky list is filtered on for a window.
    pub fn risky_changed_field(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "riskLastUpdatedDateTime",
            Self::Agent => "riskLastModifiedDateTime",
        }
    }

    /// The member the detections are filtered on for a window.
    pub fn detection_changed_field(self) -> &'static str {
        match self {
            Self::ServicePrincipal => "lastUpdatedDateTime",
            Self::Agent => "lastModifiedDateTime",
        }
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// A risky service principal or agent, as riskrelay reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskyWorkload {
    pub kind: WorkloadKind,
    /// The object id. Text, not a GUID: Graph's own examples use other forms.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `servicePrincipalType` (Application, ManagedIdentity, …) or an agent's `identityType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_enabled: Option<bool>,
    #[serde(default)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    pub risk_state: RiskState,
    #[serde(default)]
    pub risk_detail: RiskDetail,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub risk_last_updated: Option<OffsetDateTime>,
}

impl RiskyWorkload {
    pub fn name(&self) -> String {
        self.display_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.id.clone())
    }
}

/// One detection about a workload identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadDetection {
    pub id: String,
    /// The service principal's or agent's object id.
    pub workload_id: String,
    #[serde(default)]
    pub risk_event_type: String,
    #[serde(default)]
    pub risk_level: RiskLevel,
    #[serde(default)]
    pub risk_state: RiskState,
    #[serde(default)]
    pub detection_timing_type: DetectionTimingType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SignInLocation>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub activity_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub detected_date_time: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_updated_date_time: Option<OffsetDateTime>,
    /// The credentials (key ids) the detection names: a leaked secret, a suspicious sign-in's key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_ids: Vec<String>,
    /// What ID Protection gives as its evidence, flattened to short lines (see [`evidence_lines`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl WorkloadDetection {
    /// When it happened, as best known.
    pub fn when(&self) -> Option<OffsetDateTime> {
        self.activity_date_time
            .or(self.detected_date_time)
            .or(self.last_updated_date_time)
    }

    pub fn is_open(&self) -> bool {
        self.risk_state.is_risky()
    }
}

/// An item Graph sent that riskrelay could not read, and the member that stopped it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub field: &'static str,
    /// The item's id when it had a readable one, for the log line.
    pub id: Option<String>,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "member {} of item {id} could not be read", self.field),
            None => write!(f, "member {} could not be read", self.field),
        }
    }
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn flag(v: &Value, field: &str) -> Option<bool> {
    v.get(field).and_then(Value::as_bool)
}

fn graph_enum<T: for<'de> Deserialize<'de> + Default>(v: &Value, field: &str) -> T {
    v.get(field)
        .and_then(|x| serde_json::from_value(x.clone()).ok())
        .unwrap_or_default()
}

/// Reads a DateTimeOffset as Graph sends it, forgiving what its examples get wrong: surrounding
/// space and stray brackets or quotes (`2021-09-25T01:33:14.6266817Z)`), and no offset at all
/// (Graph's DateTimeOffsets are UTC). Seven fractional digits are Graph's usual precision.
pub fn lenient_time(raw: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = raw
        .trim()
        .trim_matches(|c: char| matches!(c, '(' | ')' | '"' | '\'' | '[' | ']'))
        .trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let with_zone = format!("{s}Z");
    OffsetDateTime::parse(&with_zone, &Rfc3339).ok()
}

/// A timestamp member: missing or null is `None`; present but unreadable stops the item.
fn time_of(
    v: &Value,
    field: &'static str,
    id: &Option<String>,
) -> Result<Option<OffsetDateTime>, Unreadable> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => lenient_time(s).map(Some).ok_or(Unreadable {
            field,
            id: id.clone(),
        }),
        Some(_) => Err(Unreadable {
            field,
            id: id.clone(),
        }),
    }
}

fn id_of(v: &Value) -> Result<String, Unreadable> {
    text(v, "id").ok_or(Unreadable {
        field: "id",
        id: None,
    })
}

/// Whether an id may shape a request path or a store key as it is: Graph's object ids are GUIDs,
/// and anything else (its examples' odd ids) is used only through a digest or not at all.
pub fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// One risky service principal or agent from its Graph JSON.
pub fn read_workload(kind: WorkloadKind, v: &Value) -> Result<RiskyWorkload, Unreadable> {
    let id = id_of(v)?;
    let known = Some(id.clone());
    let (name, kind_field, changed) = match kind {
        WorkloadKind::ServicePrincipal => (
            "displayName",
            "servicePrincipalType",
            "riskLastUpdatedDateTime",
        ),
        WorkloadKind::Agent => (
            "agentDisplayName",
            "identityType",
            "riskLastModifiedDateTime",
        ),
    };
    Ok(RiskyWorkload {
        kind,
        app_id: text(v, "appId"),
        display_name: text(v, name),
        workload_type: text(v, kind_field),
        // The beta riskyServicePrincipal says `accountEnabled`, v1.0 `isEnabled`.
        is_enabled: flag(v, "isEnabled").or_else(|| flag(v, "accountEnabled")),
        risk_level: graph_enum(v, "riskLevel"),
        risk_state: graph_enum(v, "riskState"),
        risk_detail: graph_enum(v, "riskDetail"),
        risk_last_updated: time_of(v, changed, &known)?,
        id,
    })
}

/// One service principal or agent risk detection from its Graph JSON.
pub fn read_detection(kind: WorkloadKind, v: &Value) -> Result<WorkloadDetection, Unreadable> {
    let id = id_of(v)?;
    let known = Some(id.clone());
    let (owner, changed) = match kind {
        WorkloadKind::ServicePrincipal => ("servicePrincipalId", "lastUpdatedDateTime"),
        WorkloadKind::Agent => ("agentId", "lastModifiedDateTime"),
    };
    let workload_id = text(v, owner).ok_or(Unreadable {
        field: owner,
        id: known.clone(),
    })?;
    let key_ids = v
        .get("keyIds")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(WorkloadDetection {
        workload_id,
        risk_event_type: text(v, "riskEventType").unwrap_or_default(),
        risk_level: graph_enum(v, "riskLevel"),
        risk_state: graph_enum(v, "riskState"),
        detection_timing_type: graph_enum(v, "detectionTimingType"),
        ip_address: text(v, "ipAddress"),
        location: v
            .get("location")
            .and_then(|l| serde_json::from_value(l.clone()).ok()),
        activity_date_time: time_of(v, "activityDateTime", &known)?,
        detected_date_time: time_of(v, "detectedDateTime", &known)?,
        last_updated_date_time: time_of(v, changed, &known)?,
        key_ids,
        evidence: evidence_lines([v.get("riskEvidence"), v.get("additionalInfo")]),
        id,
    })
}

/// Evidence lines kept per detection, and the longest kept line.
pub const EVIDENCE_LINES: usize = 4;
pub const EVIDENCE_LINE_MAX: usize = 200;

/// A detection's evidence as short `name: value` lines. The agents' beta `riskEvidence` has no
/// documented shape yet and `additionalInfo` is a string that usually holds JSON
/// (`[{"Key": …, "Value": …}]`), so whatever comes is taken: a string (parsed when it is JSON), a
/// list, a key/value pair or an object's plain members; nesting deeper than that is left out
/// rather than guessed at. Each line is cut to [`EVIDENCE_LINE_MAX`] characters and at most
/// [`EVIDENCE_LINES`] are kept; rendering escapes them like any text from Graph.
pub fn evidence_lines<'a>(sources: impl IntoIterator<Item = Option<&'a Value>>) -> Vec<String> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().filter_map(scalar).collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            }
            _ => None,
        }
    }
    fn member<'v>(o: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
    fn walk(v: &Value, depth: u8, out: &mut Vec<String>) {
        match v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed @ (Value::Array(_) | Value::Object(_))) if depth == 0 => {
                    walk(&parsed, depth + 1, out)
                }
                _ => out.extend(scalar(v)),
            },
            Value::Array(items) if depth < 2 => {
                for item in items {
                    walk(item, depth + 1, out);
                }
            }
            Value::Object(o) => match (member(o, "key").and_then(scalar), member(o, "value")) {
                (Some(k), Some(value)) => out.extend(scalar(value).map(|x| format!("{k}: {x}"))),
                _ => out.extend(
                    o.iter()
                        .filter(|(k, _)| !k.starts_with('@'))
                        .filter_map(|(k, value)| scalar(value).map(|x| format!("{k}: {x}"))),
                ),
            },
            other => out.extend(scalar(other)),
        }
    }
    let mut out: Vec<String> = Vec::new();
    for v in sources.into_iter().flatten() {
        walk(v, 0, &mut out);
    }
    let mut kept: Vec<String> = Vec::new();
    for line in out {
        let line: String = line.chars().take(EVIDENCE_LINE_MAX).collect();
        if !kept.contains(&line) {
            kept.push(line);
        }
    }
    kept.truncate(EVIDENCE_LINES);
    kept
}

/// A workload identity whose risk may have changed, with the detections the poll read for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadObservation {
    pub tenant_id: crate::ids::TenantId,
    pub workload: RiskyWorkload,
    #[serde(default)]
    pub detections: Vec<WorkloadDetection>,
    pub cycle_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
}

/// Which kinds of workload identity a deployment watches (`RISKRELAY_WORKLOAD_RISK`): both by
/// default, `off` for none, or one of `servicePrincipals`, `agents`.
pub fn parse_kinds(raw: &str) -> Result<Vec<WorkloadKind>, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") || raw.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    if raw.eq_ignore_ascii_case("on") || raw.eq_ignore_ascii_case("all") {
        return Ok(WorkloadKind::ALL.to_vec());
    }
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind = match part.to_ascii_lowercase().as_str() {
            "serviceprincipals" | "serviceprincipal" => WorkloadKind::ServicePrincipal,
            "agents" | "agent" => WorkloadKind::Agent,
            _ => {
                return Err(format!(
                    "unknown kind \"{part}\"; use servicePrincipals, agents, on or off"
                ));
            }
        };
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if out.is_empty() {
        return Err("name servicePrincipals, agents, on or off".into());
    }
    Ok(out)
}

/// What a detection's `riskEventType` means, in a few words (concept-workload-identity-risk).
pub fn detection_name(risk_event_type: &str) -> String {
    let s = match risk_event_type {
        "investigationsThreatIntelligence" => "Microsoft threat intelligence",
        "suspiciousSignins" => "Suspicious sign-ins",
        "adminConfirmedServicePrincipalCompromised" => "Confirmed compromised by an administrator",
        "leakedCredentials" => "Leaked credentials",
        "maliciousApplication" => "Malicious application",
        "suspiciousApplication" => "Suspicious application",
        "anomalousServicePrincipalActivity" => "Anomalous service principal activity",
        "suspiciousAPITraffic" => "Suspicious API traffic",
        "" => "A detection without a type",
        other => return other.to_string(),
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn microsofts_own_examples_read_with_their_quirks() {
        // The v1.0 list example: a non-GUID id and a timestamp with a stray bracket.
        let sp = json!({
            "id": "9089a539-a539-9089-39a5-899039a58990x",
            "appId": "1a2b3c4d",
            "displayName": "Contoso App",
            "servicePrincipalType": "Application",
            "isEnabled": true,
            "riskLastUpdatedDateTime": "2021-09-25T01:33:14.6266817Z)",
            "riskLevel": "low",
            "riskState": "atRisk",
            "riskDetail": "none"
        });
        let w = read_workload(WorkloadKind::ServicePrincipal, &sp).unwrap();
        assert_eq!(w.id, "9089a539-a539-9089-39a5-899039a58990x");
        assert_eq!(w.risk_level, RiskLevel::Low);
        assert_eq!(
            w.risk_last_updated.unwrap().unix_timestamp(),
            time::macros::datetime!(2021-09-25 01:33:14 UTC).unix_timestamp()
        );
        let agent = json!({
            "@odata.type": "#microsoft.graph.riskyAgentIdentity",
            "id": "c5a2ab25-0c1c-4f0b-a1e4-aa3f0c8b8e21",
            "agentDisplayName": "Expense triage agent",
            "identityType": "agentIdentity",
            "isEnabled": true,
            "riskLevel": "high",
            "riskState": "atRisk",
            "riskDetail": "none",
            "riskLastModifiedDateTime": "2025-11-20T08:00:00Z"
        });
        let a = read_workload(WorkloadKind::Agent, &agent).unwrap();
        assert_eq!(a.name(), "Expense triage agent");
        assert_eq!(a.workload_type.as_deref(), Some("agentIdentity"));
        assert!(a.risk_last_updated.is_some());
    }

    #[test]
    fn an_unreadable_member_names_itself_and_a_missing_one_is_no_error() {
        let bad =
            json!({"id": "x1", "servicePrincipalId": "sp", "detectedDateTime": "last tuesday"});
        let e = read_detection(WorkloadKind::ServicePrincipal, &bad).unwrap_err();
        assert_eq!(e.field, "detectedDateTime");
        assert_eq!(
            e.to_string(),
            "member detectedDateTime of item x1 could not be read"
        );
        let no_owner = json!({"id": "x2"});
        assert_eq!(
            read_detection(WorkloadKind::Agent, &no_owner)
                .unwrap_err()
                .field,
            "agentId"
        );
        let no_id = json!({"riskLevel": "high"});
        assert_eq!(
            read_workload(WorkloadKind::Agent, &no_id)
                .unwrap_err()
                .field,
            "id"
        );
        let sparse = json!({"id": "x3", "servicePrincipalId": "sp", "keyIds": ["k1"], "detectedDateTime": null});
        let d = read_detection(WorkloadKind::ServicePrincipal, &sparse).unwrap();
        assert_eq!(d.key_ids, vec!["k1".to_string()]);
        assert_eq!(d.when(), None);
    }

    #[test]
    fn the_kinds_setting_reads_lists_and_switches_and_refuses_the_rest() {
        assert_eq!(parse_kinds("off").unwrap(), vec![]);
        assert_eq!(parse_kinds("on").unwrap(), WorkloadKind::ALL.to_vec());
        assert_eq!(parse_kinds(" agents ").unwrap(), vec![WorkloadKind::Agent]);
        assert_eq!(
            parse_kinds("servicePrincipals,agents,agent").unwrap(),
            vec![WorkloadKind::ServicePrincipal, WorkloadKind::Agent]
        );
        assert!(parse_kinds("robots").unwrap_err().contains("robots"));
        assert!(parse_kinds(",").is_err());
    }

    #[test]
    fn lenient_time_forgives_brackets_and_a_missing_zone_only() {
        assert!(lenient_time("(2021-09-25T01:33:14Z)").is_some());
        assert!(lenient_time("2021-09-25T01:33:14.1234567").is_some());
        assert!(lenient_time("2021-13-25T01:33:14Z").is_none());
        assert!(lenient_time("soon").is_none());
    }

    #[test]
    fn evidence_is_taken_in_whatever_shape_it_comes() {
        let lines = |v: Value| evidence_lines([Some(&v)]);
        // additionalInfo: a string holding Microsoft's key/value list.
        assert_eq!(
            lines(json!(
                "[{\"Key\":\"riskReasons\",\"Value\":[\"unusualTool\",\"newResource\"]},{\"Key\":\"userAgent\",\"Value\":\"agent/1.0\"}]"
            )),
            [
                "riskReasons: unusualTool, newResource",
                "userAgent: agent/1.0"
            ]
        );
        // A plain sentence stays a sentence; an object gives its plain members.
        assert_eq!(
            lines(json!("Called a tool it never used")),
            ["Called a tool it never used"]
        );
        assert_eq!(
            lines(
                json!({"@odata.type": "#x", "reason": "unusual resource", "count": 3, "nested": {"deep": 1}})
            ),
            ["count: 3", "reason: unusual resource"]
        );
        // Nothing readable, and nothing at all.
        assert!(lines(json!({"nested": {"deep": {"deeper": 1}}})).is_empty());
        assert!(lines(json!("  ")).is_empty());
        assert!(lines(json!("{not json")) == ["{not json"]);
        assert!(evidence_lines([None, None]).is_empty());
        // Long and many: cut and capped, duplicates once.
        let many: Vec<Value> = (0..10).map(|i| json!(format!("line {i}"))).collect();
        assert_eq!(lines(Value::Array(many)).len(), EVIDENCE_LINES);
        let long = lines(json!("x".repeat(1000)));
        assert_eq!(long[0].chars().count(), EVIDENCE_LINE_MAX);
        let same = json!("same");
        assert_eq!(evidence_lines([Some(&same), Some(&same)]), ["same"]);
    }

    #[test]
    fn an_agent_detection_carries_its_evidence() {
        let d = read_detection(
            WorkloadKind::Agent,
            &json!({
                "id": "d1", "agentId": "a1", "riskEventType": "unusualAgentActivity",
                "riskLevel": "high", "riskState": "atRisk",
                "riskEvidence": {"summary": "Accessed 40 mailboxes in a minute"},
                "additionalInfo": "[{\"Key\":\"toolName\",\"Value\":\"mail.read\"}]"
            }),
        )
        .unwrap();
        assert_eq!(
            d.evidence,
            [
                "summary: Accessed 40 mailboxes in a minute",
                "toolName: mail.read"
            ]
        );
    }
}
