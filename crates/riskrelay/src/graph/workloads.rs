//! Reads about risky workload identities: the risky service principals and agents and their
//! detections changed in a window (a page at a time, in the identity-protection budget), and the
//! context of a risky service principal in `$batch`es (in the directory budget).

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;

use super::{Feature, GraphClient, Pages};
use crate::context::Lookup;
use crate::ids::TenantId;
use crate::workload::{
    Credential, RiskyWorkload, WorkloadContext, WorkloadDetection, WorkloadKind, is_plain_id,
    privileged_role, read_detection, read_workload,
};

/// Microsoft Graph's own application id: its service principal lists the app roles (application
/// permissions) other apps are granted on it.
const MICROSOFT_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

const SERVICE_PRINCIPAL_SELECT: &str = "id,appId,displayName,servicePrincipalType,accountEnabled,appOwnerOrganizationId,passwordCredentials,keyCredentials";

/// The feature a kind's risky list serves (and so the permission a 403 means is missing).
pub fn risky_feature(kind: WorkloadKind) -> Feature {
    match kind {
        WorkloadKind::ServicePrincipal => Feature::RiskyServicePrincipals,
        WorkloadKind::Agent => Feature::RiskyAgents,
    }
}

/// One page's items that could be read; each one that could not is logged once, naming the
/// member that stopped it.
fn readable<T>(
    kind: WorkloadKind,
    items: Vec<Value>,
    read: impl Fn(WorkloadKind, &Value) -> Result<T, crate::workload::Unreadable>,
) -> Vec<T> {
    items
        .iter()
        .filter_map(|v| match read(kind, v) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(
                    kind = kind.name(),
                    field = e.field,
                    item = e.id.as_deref().unwrap_or("?"),
                    "a risky {} item Graph sent could not be read; it is skipped",
                    kind.noun()
                );
                None
            }
        })
        .collect()
}

/// How an item of a kind's list is read from its JSON.
type Reader<T> = fn(WorkloadKind, &Value) -> Result<T, crate::workload::Unreadable>;

/// The pages of a kind's risky list or detections, read as JSON and then item by item.
pub struct WorkloadPages<T> {
    kind: WorkloadKind,
    pages: Pages<Value>,
    read: Reader<T>,
}

impl<T> WorkloadPages<T> {
    /// Every page's readable items.
    pub async fn all(mut self) -> Result<Vec<T>, super::GraphError> {
        let mut out = Vec::new();
        while let Some(page) = self.next_page().await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// The next page's readable items; `None` after the last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, super::GraphError> {
        Ok(self
            .pages
            .next_page()
            .await?
            .map(|p| readable(self.kind, p, self.read)))
    }
}

impl GraphClient {
    /// Risky service principals or agents whose risk changed at or after `since`; all those at
    /// risk or confirmed compromised when `since` is `None` (the first read of a tenant).
    pub fn risky_workloads_pages(
        &self,
        kind: WorkloadKind,
        since: Option<OffsetDateTime>,
    ) -> WorkloadPages<RiskyWorkload> {
        let filter = match since {
            Some(t) => format!(
                "{} ge {}",
                kind.risky_changed_field(),
                super::reads::odata_time(t)
            ),
            None => "riskState eq 'atRisk' or riskState eq 'confirmedCompromised'".into(),
        };
        // Graph documents no page size for these lists; `$top` is left to its default and the
        // pages are followed.
        let query = format!("$filter={filter}");
        WorkloadPages {
            kind,
            pages: self.pages(
                self.url(kind.version(), kind.risky_path(), Some(&query)),
                risky_feature(kind),
            ),
            read: read_workload,
        }
    }

    /// One risky service principal or agent; `None` when Graph has none by that id, or its answer
    /// cannot be read (logged).
    pub async fn risky_workload(
        &self,
        kind: WorkloadKind,
        id: &str,
    ) -> Result<Option<RiskyWorkload>, super::GraphError> {
        if !is_plain_id(id) {
            return Ok(None);
        }
        let url = self.url(kind.version(), &format!("{}/{id}", kind.risky_path()), None);
        match self.get_json::<Value>(url, risky_feature(kind)).await {
            Ok(v) => Ok(readable(kind, vec![v], read_workload).pop()),
            Err(super::GraphError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A kind's detections updated at or after `since`.
    pub fn workload_detections_pages(
        &self,
        kind: WorkloadKind,
        since: OffsetDateTime,
    ) -> WorkloadPages<WorkloadDetection> {
        let query = format!(
            "$filter={} ge {}",
            kind.detection_changed_field(),
            super::reads::odata_time(since)
        );
        WorkloadPages {
            kind,
            pages: self.pages(
                self.url(kind.version(), kind.detections_path(), Some(&query)),
                Feature::WorkloadDetections,
            ),
            read: read_detection,
        }
    }

    /// Each workload identity's service principal, owners, credentials, Graph permissions and
    /// directory roles, in `$batch`es. A service principal's own credentials are read with it;
    /// its app's (in this tenant only) in a second round, with Graph's permission names.
    pub async fn workload_contexts(
        &self,
        tenant: TenantId,
        ids: &[String],
    ) -> HashMap<String, (Lookup<WorkloadContext>, Vec<Credential>)> {
        let feature = Feature::WorkloadContext;
        let safe: Vec<String> = ids.iter().filter(|i| is_plain_id(i)).cloned().collect();
        let mut paths: Vec<String> = Vec::new();
        for id in &safe {
            paths.push(format!(
                "/servicePrincipals/{id}?$select={SERVICE_PRINCIPAL_SELECT}"
            ));
            paths.push(format!(
                "/servicePrincipals/{id}/owners?$select=id,displayName,userPrincipalName"
            ));
            paths.push(format!(
                "/servicePrincipals/{id}/appRoleAssignments?$select=resourceId,appRoleId"
            ));
            paths.push(format!("/servicePrincipals/{id}/transitiveMemberOf/microsoft.graph.directoryRole?$select=displayName,roleTemplateId"));
        }
        let graph_roles =
            format!("/servicePrincipals(appId='{MICROSOFT_GRAPH_APP_ID}')?$select=id,appRoles");
        if !safe.is_empty() {
            paths.push(graph_roles.clone());
        }
        let first: HashMap<String, Lookup<Value>> =
            self.batch_get(&paths, feature, String::clone).await;
        let graph_sp = first.get(&graph_roles).and_then(Lookup::found);
        let graph_id = graph_sp.and_then(|g| g.get("id")).and_then(Value::as_str);
        let role_names: HashMap<&str, &str> = graph_sp
            .and_then(|g| g.get("appRoles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| Some((r.get("id")?.as_str()?, r.get("value")?.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut out = HashMap::new();
        let mut apps: Vec<(String, String)> = Vec::new();
        for id in &safe {
            let sp = first
                .get(&format!(
                    "/servicePrincipals/{id}?$select={SERVICE_PRINCIPAL_SELECT}"
                ))
                .cloned()
                .unwrap_or(Lookup::Unavailable {
                    reason: "not read".into(),
                });
            let sp = match sp {
                Lookup::Found(v) => v,
                Lookup::NotFound => {
                    out.insert(id.clone(), (Lookup::NotFound, Vec::new()));
                    continue;
                }
                Lookup::Unavailable { reason } => {
                    out.insert(id.clone(), (Lookup::Unavailable { reason }, Vec::new()));
                    continue;
                }
            };
            let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            let list = |path: String| -> Vec<Value> {
                first
                    .get(&path)
                    .and_then(Lookup::found)
                    .and_then(|v| v.get("value"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            let owners = list(format!(
                "/servicePrincipals/{id}/owners?$select=id,displayName,userPrincipalName"
            ))
            .iter()
            .filter_map(
                |o| match (text(o, "displayName"), text(o, "userPrincipalName")) {
                    (Some(n), Some(u)) => Some(format!("{n} ({u})")),
                    (n, u) => n.or(u),
                },
            )
            .collect();
            let assignments = list(format!(
                "/servicePrincipals/{id}/appRoleAssignments?$select=resourceId,appRoleId"
            ));
            let mut graph_permissions: Vec<String> = Vec::new();
            let mut other_permissions = 0;
            for a in &assignments {
                let on_graph = graph_id.is_some() && text(a, "resourceId").as_deref() == graph_id;
                match text(a, "appRoleId").and_then(|r| role_names.get(r.as_str()).copied()) {
                    Some(name) if on_graph => graph_permissions.push(name.to_string()),
                    _ => other_permissions += 1,
                }
            }
            graph_permissions.sort();
            graph_permissions.dedup();
            let directory_roles = list(format!("/servicePrincipals/{id}/transitiveMemberOf/microsoft.graph.directoryRole?$select=displayName,roleTemplateId"))
                .iter()
                .filter_map(|r| {
                    let name = text(r, "displayName")?;
                    let privileged = text(r, "roleTemplateId").is_some_and(|t| privileged_role(&t));
                    Some((name, privileged))
                })
                .collect();
            let owner_organization =
                text(&sp, "appOwnerOrganizationId").and_then(|o| TenantId::parse(&o).ok());
            let app_id = text(&sp, "appId");
            let mut credentials = credentials_of(&sp);
            if owner_organization == Some(tenant)
                && let Some(app) = app_id.as_deref().filter(|a| is_plain_id(a))
            {
                apps.push((id.clone(), app.to_string()));
            }
            let context = WorkloadContext {
                display_name: text(&sp, "displayName"),
                app_id,
                service_principal_type: text(&sp, "servicePrincipalType"),
                account_enabled: sp.get("accountEnabled").and_then(Value::as_bool),
                owner_organization,
                owners,
                graph_permissions,
                other_permissions,
                directory_roles,
                ..Default::default()
            };
            credentials.sort_by(|a, b| a.key_id.cmp(&b.key_id));
            out.insert(id.clone(), (Lookup::Found(context), credentials));
        }
        // The app's own credentials (a client secret is usually added to the app, not to its
        // service principal): only for apps this tenant publishes.
        let app_paths: Vec<String> = apps
            .iter()
            .map(|(_, app)| {
                format!("/applications(appId='{app}')?$select=passwordCredentials,keyCredentials")
            })
            .collect();
        if !app_paths.is_empty() {
            let second: HashMap<String, Lookup<Value>> =
                self.batch_get(&app_paths, feature, String::clone).await;
            for ((id, _), path) in apps.iter().zip(&app_paths) {
                if let (Some(Lookup::Found(app)), Some((_, creds))) =
                    (second.get(path), out.get_mut(id))
                {
                    creds.extend(credentials_of(app));
                }
            }
        }
        for id in ids.iter().filter(|i| !is_plain_id(i)) {
            out.insert(
                id.clone(),
                (
                    Lookup::Unavailable {
                        reason: "its id is not one riskrelay sends to Graph".into(),
                    },
                    Vec::new(),
                ),
            );
        }
        out
    }
}

/// The password and key credentials listed on a service principal or application.
fn credentials_of(v: &Value) -> Vec<Credential> {
    let mut out = Vec::new();
    for (member, kind) in [
        ("passwordCredentials", "client secret"),
        ("keyCredentials", "certificate"),
    ] {
        for c in v
            .get(member)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(key_id) = c.get("keyId").and_then(Value::as_str) else {
                continue;
            };
            let time = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .and_then(crate::workload::lenient_time)
            };
            out.push(Credential {
                key_id: key_id.to_string(),
                kind: kind.into(),
                display_name: c
                    .get("displayName")
                    .and_then(Value::as_str)
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_string),
                start: time("startDateTime"),
                end: time("endDateTime"),
            });
        }
    }
    out
}
