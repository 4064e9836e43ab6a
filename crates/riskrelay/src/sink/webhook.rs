//! A generic webhook: one signed JSON event per alert, for a SIEM, a SOAR or any automation.
//!
//! The event is `{"type", "timestamp", "data"}` as Standard Webhooks recommend; `data` follows the
//! versioned schema in `schemas/webhook-event.v1.json` (the integration tests validate every event
//! against it). Requests are signed as Standard Webhooks specify: `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the bytes
//! of a `whsec_` secret. During a rotation the secret holds several keys separated by spaces (the
//! new one first) and every key signs, so receivers holding either verify.
//!
//! `webhook-id` is derived from the alert key and the destination, so a retried delivery carries
//! the same id and a receiver can drop the duplicate. 429 and 5xx are retried with backoff, any
//! other answer is permanent; the URL is a credential and never logged.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::config::SinkConfig;
use super::{Endpoint, Outgoing, Request, Sink, SinkError};
use crate::alert::{Message, UserAlert};
use crate::catalogue;
use crate::http::RetryPolicy;
use crate::risk::RiskLevel;

/// The version of the event's `data` shape; a change that could break a receiver bumps it.
pub const SCHEMA_VERSION: u32 = 1;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: std::time::Duration::from_secs(1),
        max_delay: std::time::Duration::from_secs(8),
        budget: 2 * super::MAX_RETRY_AFTER,
        max_retry_after: super::MAX_RETRY_AFTER,
    }
}

/// The signing keys of one destination, current first.
pub struct SigningKeys(Vec<aws_lc_rs::hmac::Key>);

impl SigningKeys {
    /// Parses one or more `whsec_` secrets separated by spaces (see
    /// [`super::config::signing_secrets`]). The error never quotes a secret.
    pub fn parse(value: &str) -> Result<Self, String> {
        Ok(Self(
            super::config::signing_secrets(value)?
                .iter()
                .map(|bytes| aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, bytes))
                .collect(),
        ))
    }

    /// The `webhook-signature` value: one `v1,<signature>` per key.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let signed = [
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ]
        .concat();
        self.0
            .iter()
            .map(|k| {
                format!(
                    "v1,{}",
                    STANDARD.encode(aws_lc_rs::hmac::sign(k, &signed).as_ref())
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The `webhook-id` of an alert at a destination: the same for every retry of that delivery.
pub fn message_id(sink: &str, alert_key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{sink}\0{alert_key}").as_bytes(),
    );
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("msg_{hex}")
}

fn rfc3339(t: Option<OffsetDateTime>) -> Value {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .map_or(Value::Null, Value::String)
}

fn user_data(a: &UserAlert) -> Value {
    let context = a.context.found();
    let detections: Vec<Value> = a
        .detections
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "riskEventType": d.risk_event_type,
                "name": catalogue::describe(&d.risk_event_type, d.activity.as_deref()).name,
                "level": d.risk_level,
                "state": d.risk_state,
                "activity": d.activity,
                "detectedDateTime": rfc3339(d.detected_date_time),
                "activityDateTime": rfc3339(d.activity_date_time),
                "ipAddress": d.ip_address,
                "location": d.location.as_ref().and_then(|l| l.display()),
            })
        })
        .collect();
    json!({
        "subjectKind": "user",
        "user": {
            "id": a.user.id,
            "userPrincipalName": a.upn(),
            "displayName": a.display_name(),
            "department": context.and_then(|c| c.department.clone()),
            "jobTitle": context.and_then(|c| c.job_title.clone()),
            "accountEnabled": context.and_then(|c| c.account_enabled),
            "onPremisesSyncEnabled": context.and_then(|c| c.on_premises_sync_enabled),
            "adminCenterUrl": a.admin_center.user_url(a.tenant_id, a.user.id),
        },
        "snoozed": a.snoozed.as_ref().map(|s| json!({
            "by": s.by,
            "reason": s.reason,
            "until": rfc3339(Some(s.until)),
        })),
        "risk": {
            "level": a.user.risk_level,
            "state": a.user.risk_state,
            "detail": a.user.risk_detail,
            "lastUpdatedDateTime": rfc3339(a.user.risk_last_updated_date_time),
            "previousLevel": a.previous.as_ref().map(|(l, _)| l),
            "previousState": a.previous.as_ref().map(|(_, s)| s),
        },
        "detections": detections,
        "verdict": a.verdict.as_ref().map(|v| json!({
            "outcome": serde_json::to_value(v).ok().and_then(|v| v.get("verdict").cloned()),
            "headline": v.headline(),
            "explanation": v.explanation(),
        })),
    })
}

fn workload_data(a: &crate::workload::WorkloadAlert) -> Value {
    let w = &a.workload;
    let context = a.context.found();
    let detections: Vec<Value> = a
        .detections
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "riskEventType": d.risk_event_type,
                "name": crate::workload::detection_name(&d.risk_event_type),
                "level": d.risk_level,
                "state": d.risk_state,
                "detectedDateTime": rfc3339(d.detected_date_time),
                "activityDateTime": rfc3339(d.activity_date_time),
                "ipAddress": d.ip_address,
                "location": d.location.as_ref().and_then(|l| l.display()),
                "keyIds": d.key_ids,
                "evidence": d.evidence,
            })
        })
        .collect();
    let url = a
        .admin_center
        .service_principal_url(a.tenant_id, &w.id, w.app_id.as_deref())
        .unwrap_or_else(|| a.admin_center.risky_workloads_url(a.tenant_id, w.kind));
    json!({
        "subjectKind": w.kind.name(),
        "workload": {
            "kind": w.kind.name(),
            "id": w.id,
            "appId": context.and_then(|c| c.app_id.clone()).or(w.app_id.clone()),
            "displayName": a.display_name(),
            "type": context.and_then(|c| c.service_principal_type.clone()).or(w.workload_type.clone()),
            "enabled": context.and_then(|c| c.account_enabled).or(w.is_enabled),
            "ownerOrganizationId": context.and_then(|c| c.owner_organization).map(|o| o.to_string()),
            "publishedElsewhere": context.map(|c| c.is_foreign(a.tenant_id)),
            "owners": context.map(|c| c.owners.clone()).unwrap_or_default(),
            "privilegedPermissions": context.map(|c| c.privileged_permissions()).unwrap_or_default(),
            "privilegedRoles": context.map(|c| c.privileged_roles()).unwrap_or_default(),
            "credentials": context.map(|c| c.named_credentials.iter().map(|k| json!({
                "keyId": k.key_id,
                "kind": k.kind,
                "displayName": k.display_name,
                "start": rfc3339(k.start),
                "end": rfc3339(k.end),
            })).collect::<Vec<_>>()).unwrap_or_default(),
            "adminCenterUrl": url,
        },
        "risk": {
            "level": w.risk_level,
            "state": w.risk_state,
            "detail": w.risk_detail,
            "lastUpdatedDateTime": rfc3339(w.risk_last_updated),
            "previousLevel": a.previous.as_ref().map(|(l, _)| l),
            "previousState": a.previous.as_ref().map(|(_, s)| s),
        },
        "detections": detections,
        "steps": a.steps,
    })
}

/// The event for a message: `None` for a digest, which this destination never asks for (it takes
/// every alert on its own). Its `timestamp` is when the change happened (Standard Webhooks: "when
/// the event occurred, not necessarily when it was delivered"), `now` only for a message that
/// carries no time of its own.
pub fn event(message: &Outgoing<'_>, now: OffsetDateTime) -> Option<Value> {
    let routing = &message.routing;
    let (kind, details) = match message.message {
        Message::User(a) => (format!("user.{}", a.change.kind()), user_data(a)),
        Message::Workload(a) => (
            format!("{}.{}", a.workload.kind.name(), a.change.kind()),
            workload_data(a),
        ),
        Message::Posture(p) => (
            format!("posture.{}", p.kind),
            json!({"posture": {
                "title": p.title,
                "detail": p.detail,
                "why": p.why,
                "action": p.action,
            }}),
        ),
        Message::Baseline(b) => (
            "baseline".to_string(),
            json!({"baseline": {
                "high": b.high,
                "medium": b.medium,
                "low": b.low,
                "other": b.other,
                "deleted": b.deleted,
            }}),
        ),
        Message::Operations(o) => (
            "operations".to_string(),
            json!({"operations": {"title": o.title, "lines": o.lines, "action": o.action}}),
        ),
        Message::Snooze(n) => (
            "snooze".to_string(),
            json!({"snooze": {
                "user": n.snooze.subject.to_string(),
                "userId": n.snooze.user_id,
                "subjectKind": match (&n.snooze.subject, &n.snooze.workload) {
                    (crate::snooze::Subject::User(_), _) => "user",
                    (crate::snooze::Subject::App(_), Some((kind, _))) => kind.name(),
                    (crate::snooze::Subject::App(_), None) => "workloadIdentity",
                },
                "workloadId": n.snooze.workload.as_ref().map(|(_, id)| id),
                "event": serde_json::to_value(&n.event).ok().and_then(|v| v.get("event").cloned()),
                "by": n.snooze.by,
                "reason": n.snooze.reason,
                "since": rfc3339(Some(n.snooze.at)),
                "until": rfc3339(Some(n.snooze.until)),
                "heldBack": n.snooze.held,
                "clearedBy": match &n.event { crate::alert::SnoozeEvent::Cleared { by } => Some(by), _ => None },
                "stillAtRisk": match &n.event { crate::alert::SnoozeEvent::Expired { still_at } => still_at.clone(), _ => None },
            }}),
        ),
        Message::Action(a) => (
            "action".to_string(),
            json!({"action": {
                "action": a.action,
                "subjectKind": crate::workload::subject_name(a.workload),
                "userId": a.user_id,
                "user": a.user,
                "by": a.by,
                "at": rfc3339(Some(a.at)),
                "alertKey": a.alert_key,
            }}),
        ),
        Message::Summary(s) => (
            "summary".to_string(),
            json!({"standingSummary": {
                "excluded": s.excluded,
                "users": s.entries.iter().map(|e| json!({
                    "displayName": e.display_name,
                    "userPrincipalName": e.upn,
                    "level": e.level,
                    "state": e.state,
                    "lastUpdatedDateTime": rfc3339(e.since),
                    "atRiskSince": rfc3339(e.at_risk_since),
                    "remediation": e.remediation,
                    "snoozedBy": e.snoozed.as_ref().map(|z| &z.by),
                })).collect::<Vec<_>>(),
                "workloads": s.workloads.iter().map(|e| json!({
                    "subjectKind": e.kind.name(),
                    "displayName": e.name,
                    "level": e.level,
                    "state": e.state,
                    "lastUpdatedDateTime": rfc3339(e.since),
                })).collect::<Vec<_>>(),
            }}),
        ),
        Message::Digest(_) => return None,
    };
    let mut data = json!({
        "schemaVersion": SCHEMA_VERSION,
        "key": routing.key,
        "kind": routing.kind,
        "tenantId": routing.tenant_id,
        "level": routing.level,
        "incident": routing.incident,
        "resolves": routing.resolves,
        "resolvesKey": if routing.resolves { routing.incident.clone() } else { None },
        "summary": message.view.fallback,
    });
    if let (Value::Object(data), Value::Object(details)) = (&mut data, details) {
        data.extend(details);
    }
    Some(json!({
        "type": format!("riskrelay.{kind}"),
        "timestamp": rfc3339(Some(message.message.occurred_at().unwrap_or(now))),
        "data": data,
    }))
}

pub struct WebhookSink {
    endpoint: Endpoint,
    keys: Option<SigningKeys>,
    retry: RetryPolicy,
}

impl WebhookSink {
    pub fn new(config: &SinkConfig, http: super::Http) -> Self {
        // The configuration loader has checked the secret; a sink built without one (a test)
        // sends unsigned requests.
        let keys = config
            .key
            .as_ref()
            .and_then(|k| SigningKeys::parse(secrecy::ExposeSecret::expose_secret(k)).ok());
        Self {
            endpoint: Endpoint::new(config, http),
            keys,
            retry: policy(),
        }
    }
}

#[async_trait]
impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn min_level(&self) -> &RiskLevel {
        &self.endpoint.min_level
    }

    /// A receiver correlates per alert: one event each, never a digest.
    fn digests(&self) -> bool {
        false
    }

    async fn post(&self, message: &Outgoing<'_>) -> Result<(), SinkError> {
        // Real time, not the service clock: receivers check the timestamp against their own.
        let now = OffsetDateTime::now_utc();
        let Some(event) = event(message, now) else {
            return Ok(());
        };
        let mut request = Request::json(&event);
        let id = message_id(&self.endpoint.name, &message.routing.key);
        let timestamp = now.unix_timestamp();
        let mut headers = vec![
            ("webhook-id", id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
        ];
        if let Some(keys) = &self.keys {
            headers.push((
                "webhook-signature",
                keys.sign(&id, timestamp, &request.body),
            ));
        }
        for (name, value) in headers {
            if let Ok(value) = reqwest::header::HeaderValue::from_str(&value) {
                request.headers.insert(name, value);
            }
        }
        self.endpoint
            .deliver(
                &request,
                &self.retry,
                super::Throttled::Retry,
                None,
                "The webhook",
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn secrets_are_checked_without_being_quoted() {
        assert!(SigningKeys::parse(KEY).is_ok());
        assert_eq!(
            SigningKeys::parse(&format!("{KEY} {KEY}")).map(|k| k.0.len()),
            Ok(2)
        );
        for (bad, why) in [
            ("", "empty"),
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "does not start with whsec_",
            ),
            ("whsec_***notbase64***", "not base64"),
            ("whsec_c2hvcnQ=", "5 bytes"),
        ] {
            let err = SigningKeys::parse(bad).err().unwrap_or_default();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }

    #[test]
    fn the_message_id_is_stable_per_alert_and_destination() {
        let a = message_id("siem", "user/t/u/newRisk/1");
        assert_eq!(a, message_id("siem", "user/t/u/newRisk/1"));
        assert_ne!(a, message_id("soar", "user/t/u/newRisk/1"));
        assert_ne!(a, message_id("siem", "user/t/u/newRisk/2"));
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
    }
}
