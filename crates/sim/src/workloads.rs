//! The simulated tenant's workload identities: service principals (with owners, credentials,
//! Graph permissions and directory roles), their risk and their detections, and agents' risk.
//! Records are kept as Graph's JSON, so a test can also give one of Microsoft's own examples
//! verbatim, quirks and all.

use riskrelay::risk::{RiskDetail, RiskLevel, RiskState};
use riskrelay::workload::WorkloadKind;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::*;

/// A service principal in the simulated directory.
#[derive(Debug, Clone)]
pub struct SimServicePrincipal {
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    /// The tenant that publishes its app; `None`: this tenant.
    pub publisher: Option<TenantId>,
    /// (key id, display name) of client secrets on its app.
    pub secrets: Vec<(String, String)>,
    /// Owners' display names and user principal names.
    pub owners: Vec<(String, String)>,
    /// Microsoft Graph application permissions granted to it, by name.
    pub graph_permissions: Vec<String>,
    /// Directory roles it holds: (display name, role template id).
    pub roles: Vec<(String, String)>,
    /// `accountEnabled`: cleared by an analyst's "Disable service principal".
    pub enabled: bool,
}

impl SimServicePrincipal {
    pub fn new(id: &str, app_id: &str, display_name: &str) -> Self {
        Self {
            id: id.into(),
            app_id: app_id.into(),
            display_name: display_name.into(),
            publisher: None,
            secrets: Vec::new(),
            owners: Vec::new(),
            graph_permissions: Vec::new(),
            roles: Vec::new(),
            enabled: true,
        }
    }

    pub fn with_secret(mut self, key_id: &str, name: &str) -> Self {
        self.secrets.push((key_id.into(), name.into()));
        self
    }

    pub fn with_owner(mut self, name: &str, upn: &str) -> Self {
        self.owners.push((name.into(), upn.into()));
        self
    }

    pub fn with_graph_permission(mut self, name: &str) -> Self {
        self.graph_permissions.push(name.into());
        self
    }

    pub fn with_role(mut self, name: &str, template_id: &str) -> Self {
        self.roles.push((name.into(), template_id.into()));
        self
    }

    pub fn published_by(mut self, tenant: TenantId) -> Self {
        self.publisher = Some(tenant);
        self
    }
}

/// Microsoft Graph's own service principal in every tenant: its app roles name permissions.
pub(crate) const GRAPH_SP_ID: &str = "5c1b4c1e-0000-4000-8000-00000000a001";

/// A stable app role id for a permission name (the simulator's Graph publishes these).
pub(crate) fn role_id(name: &str) -> String {
    let d = riskrelay::alert::keys::fingerprint([name]);
    format!("{}-0000-4000-8000-{}", &d[..8], &d[4..16])
}

#[derive(Debug, Default)]
pub(crate) struct Workloads {
    pub(crate) service_principals: BTreeMap<String, SimServicePrincipal>,
    /// Risky records as Graph's JSON, per kind, in the order added.
    pub(crate) risky: Vec<(WorkloadKind, Value)>,
    pub(crate) detections: Vec<(WorkloadKind, Value)>,
    pub(crate) next_detection: u64,
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl Simulator {
    pub fn add_service_principal(&self, sp: SimServicePrincipal) {
        self.lock()
            .workloads
            .service_principals
            .insert(sp.id.clone(), sp);
    }

    /// Sets a service principal's or agent's risk, stamped now (a record is created when new).
    pub fn set_workload_risk(
        &self,
        kind: WorkloadKind,
        id: &str,
        level: RiskLevel,
        state: RiskState,
        detail: RiskDetail,
    ) {
        let mut s = self.lock();
        let now = stamp(OffsetDateTime::now_utc());
        let (name, app) = s
            .workloads
            .service_principals
            .get(id)
            .map(|sp| (sp.display_name.clone(), sp.app_id.clone()))
            .unwrap_or_else(|| (format!("Workload {id}"), String::new()));
        let record = match kind {
            WorkloadKind::ServicePrincipal => json!({
                "id": id, "appId": app, "displayName": name, "servicePrincipalType": "Application",
                "isEnabled": true, "isProcessing": false,
                "riskLevel": level.as_wire(), "riskState": state.as_wire(), "riskDetail": detail.as_wire(),
                "riskLastUpdatedDateTime": now,
            }),
            WorkloadKind::Agent => json!({
                "@odata.type": "#microsoft.graph.riskyAgentIdentity",
                "id": id, "agentDisplayName": name, "identityType": "agentIdentity",
                "isEnabled": true, "isDeleted": false, "isProcessing": false,
                "riskLevel": level.as_wire(), "riskState": state.as_wire(), "riskDetail": detail.as_wire(),
                "riskLastModifiedDateTime": now,
            }),
        };
        self.put_risky_record(&mut s, kind, record);
    }

    /// Puts a risky record exactly as given (one of Microsoft's examples, say), replacing the
    /// one with the same id.
    pub fn put_workload_record(&self, kind: WorkloadKind, record: Value) {
        let mut s = self.lock();
        self.put_risky_record(&mut s, kind, record);
    }

    fn put_risky_record(&self, s: &mut State, kind: WorkloadKind, record: Value) {
        let id = record.get("id").cloned();
        s.workloads
            .risky
            .retain(|(k, v)| !(*k == kind && v.get("id") == id.as_ref()));
        s.workloads.risky.push((kind, record));
    }

    /// Adds an open detection about a service principal or agent, naming `key_ids`. Returns its
    /// id.
    pub fn add_workload_detection(
        &self,
        kind: WorkloadKind,
        id: &str,
        risk_event_type: &str,
        level: RiskLevel,
        key_ids: &[&str],
    ) -> String {
        let mut s = self.lock();
        s.workloads.next_detection += 1;
        let det = format!("wd-{:08}", s.workloads.next_detection);
        let now = stamp(OffsetDateTime::now_utc());
        let record = match kind {
            WorkloadKind::ServicePrincipal => json!({
                "id": det, "servicePrincipalId": id, "riskEventType": risk_event_type,
                "riskLevel": level.as_wire(), "riskState": "atRisk", "riskDetail": "none",
                "detectionTimingType": "offline", "activity": "servicePrincipal",
                "ipAddress": "203.0.113.7", "keyIds": key_ids,
                // A string holding JSON, as Graph's additionalInfo is.
                "additionalInfo": r#"[{"Key":"source","Value":"public code repository"}]"#,
                "activityDateTime": now, "detectedDateTime": now, "lastUpdatedDateTime": now,
            }),
            WorkloadKind::Agent => json!({
                "id": det, "agentId": id, "riskEventType": risk_event_type,
                "riskLevel": level.as_wire(), "riskState": "atRisk", "riskDetail": "none",
                "detectionTimingType": "offline",
                "activityDateTime": now, "detectedDateTime": now, "lastModifiedDateTime": now,
            }),
        };
        s.workloads.detections.push((kind, record));
        det
    }

    /// Puts a detection record exactly as given.
    pub fn put_workload_detection(&self, kind: WorkloadKind, record: Value) {
        self.lock().workloads.detections.push((kind, record));
    }

    /// Whether the service principal `id` may sign in (`accountEnabled`).
    pub fn service_principal_enabled(&self, id: &str) -> Option<bool> {
        self.lock()
            .workloads
            .service_principals
            .get(id)
            .map(|sp| sp.enabled)
    }
}

impl Workloads {
    /// Changes a risky record's level, state and detail in place, stamped now, as Graph does
    /// after an administrator's action. `false` when there is no record for `id`.
    pub(crate) fn change_risk(
        &mut self,
        kind: WorkloadKind,
        id: &str,
        level: RiskLevel,
        state: RiskState,
        detail: RiskDetail,
    ) -> bool {
        let changed_field = match kind {
            WorkloadKind::ServicePrincipal => "riskLastUpdatedDateTime",
            WorkloadKind::Agent => "riskLastModifiedDateTime",
        };
        let Some((_, record)) = self
            .risky
            .iter_mut()
            .find(|(k, v)| *k == kind && v.get("id").and_then(Value::as_str) == Some(id))
        else {
            return false;
        };
        record["riskLevel"] = json!(level.as_wire());
        record["riskState"] = json!(state.as_wire());
        record["riskDetail"] = json!(detail.as_wire());
        record[changed_field] = json!(stamp(OffsetDateTime::now_utc()));
        true
    }
}
