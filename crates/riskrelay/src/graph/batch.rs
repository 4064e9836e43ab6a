//! Directory context and registration details for many users at once, through JSON `$batch`
//! (at most 20 requests per batch). Each inner request succeeds or fails on its own: a 404 means
//! the user is gone, inner 429s and 5xx are retried in a later round, after the longest
//! `Retry-After` the batch carried.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Call, Feature, GraphClient};
use crate::context::{Lookup, MANAGER_EXPAND, Registration, USER_SELECT, UserContext};
use crate::posture::Membership;

/// One page of `transitiveMemberOf`.
#[derive(Deserialize)]
struct MemberPage {
    #[serde(default)]
    value: Vec<serde_json::Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}
use crate::ids::UserId;

/// What one `$batch` settled, and what it leaves for the next round.
struct Chunk<K, T> {
    done: Vec<(K, Lookup<T>)>,
    again: Vec<K>,
    wait: Option<Duration>,
}

/// What a `$batch` read is keyed on: a user id, or a request path.
pub(super) trait Key: Clone + Ord + std::hash::Hash + Send + Sync {}
impl<K: Clone + Ord + std::hash::Hash + Send + Sync> Key for K {}

/// Graph's JSON batching accepts at most 20 requests per batch.
pub const MAX_BATCH: usize = 20;

/// After a 403 on registration details, riskrelay stops asking for this long (the permission is
/// optional; asking again later picks up a newly granted one).
const REGISTRATION_OFF_FOR: Duration = Duration::from_secs(3600);

/// Once a `$batch` read of a feature has given up after its retries, the feature is treated as
/// unavailable for this long: the rest of the cycle (every later page of it, each worker batch
/// in between) goes on without it instead of spending ≈20 s of retries a page, and the cycle
/// after (two minutes at the default interval) tries again.
pub const OUTAGE_REST: Duration = Duration::from_secs(120);

/// The enrichment features that gave up recently, with why and until when: the breaker.
#[derive(Debug, Default)]
pub struct Outages(Mutex<HashMap<&'static str, (String, tokio::time::Instant)>>);

impl Outages {
    fn of(&self, feature: Feature) -> Option<String> {
        let now = tokio::time::Instant::now();
        self.0.lock().ok().and_then(|o| {
            o.get(feature.description())
                .filter(|(_, until)| now < *until)
                .map(|(reason, _)| reason.clone())
        })
    }

    fn trip(&self, feature: Feature, reason: &str) {
        if let Ok(mut o) = self.0.lock() {
            let fresh = o
                .get(feature.description())
                .is_none_or(|(_, until)| tokio::time::Instant::now() >= *until);
            if fresh {
                tracing::warn!(%feature, error = %reason, rest_seconds = OUTAGE_REST.as_secs(), "a $batch read gave up; the feature is treated as unavailable for the rest of the cycle");
            }
            o.insert(
                feature.description(),
                (
                    reason.to_string(),
                    tokio::time::Instant::now() + OUTAGE_REST,
                ),
            );
        }
    }
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: serde_json::Value,
}

#[derive(Deserialize)]
struct BatchReply {
    #[serde(default)]
    responses: Vec<BatchResponse>,
}

/// Remembers that an optional feature was refused.
#[derive(Debug, Default)]
pub struct FeatureGate(Mutex<Option<tokio::time::Instant>>);

impl FeatureGate {
    fn is_off(&self) -> bool {
        self.0
            .lock()
            .map(|g| g.is_some_and(|until| tokio::time::Instant::now() < until))
            .unwrap_or(false)
    }

    fn switch_off(&self, feature: Feature) {
        if let Ok(mut g) = self.0.lock() {
            if g.is_none_or(|until| tokio::time::Instant::now() >= until) {
                tracing::warn!(
                    %feature,
                    permission = feature.permission(),
                    "Graph refused {feature}; it is switched off for an hour. Grant {} to the app to enable it.",
                    feature.permission()
                );
            }
            *g = Some(tokio::time::Instant::now() + REGISTRATION_OFF_FOR);
        }
    }
}

/// Registration details as Graph answers them: the object itself, or — the shape of Microsoft's
/// own example response — wrapped in `{"value": {…}}`. A body with neither is said once in the
/// log and makes registration unknown for that user, never "not registered".
fn registration(lookup: Lookup<serde_json::Value>) -> Lookup<Registration> {
    const MEMBERS: [&str; 3] = ["isMfaRegistered", "isSsprRegistered", "methodsRegistered"];
    static SAID: std::sync::Once = std::sync::Once::new();
    let body = match lookup {
        Lookup::Found(body) => body,
        Lookup::NotFound => return Lookup::NotFound,
        Lookup::Unavailable { reason } => return Lookup::Unavailable { reason },
    };
    let has_members = |v: &serde_json::Value| MEMBERS.iter().any(|m| v.get(m).is_some());
    let object = match body.get("value") {
        Some(inner) if has_members(inner) => inner.clone(),
        _ if has_members(&body) => body,
        _ => {
            SAID.call_once(|| {
                tracing::warn!("Graph answered a registration-details read with neither the object nor {{\"value\": object}}; registration is shown as unknown");
            });
            return Lookup::Unavailable {
                reason: "not readable in Graph's answer".into(),
            };
        }
    };
    match serde_json::from_value(object) {
        Ok(r) => Lookup::Found(r),
        Err(e) => Lookup::Unavailable {
            reason: format!("Graph's answer could not be read: {e}"),
        },
    }
}

fn forbidden_reason(feature: Feature) -> String {
    format!(
        "not available: the app needs the {} permission",
        feature.permission()
    )
}

impl GraphClient {
    /// Display name, UPN, department, job title, account state, sync state and manager.
    pub async fn user_contexts(&self, ids: &[UserId]) -> HashMap<UserId, Lookup<UserContext>> {
        self.batch_get(ids, Feature::UserContext, |id| {
            format!("/users/{id}?$select={USER_SELECT}&$expand={MANAGER_EXPAND}")
        })
        .await
    }

    /// Each user's transitive group ids and directory role template ids, for Conditional Access
    /// scopes: `transitiveMemberOf` in the same `$batch`es as the rest of the context, further
    /// pages read one by one (a user in more than 999 groups is rare).
    pub async fn memberships(&self, ids: &[UserId]) -> HashMap<UserId, Lookup<Membership>> {
        let feature = Feature::Membership;
        let first = self
            .batch_get::<_, MemberPage>(ids, feature, |id| {
                format!("/users/{id}/transitiveMemberOf?$select=id,roleTemplateId&$top=999")
            })
            .await;
        let mut out = HashMap::new();
        for (id, lookup) in first {
            let lookup = match lookup {
                Lookup::Found(page) => match self.membership_pages(page, feature).await {
                    Ok(m) => Lookup::Found(m),
                    Err(e) => Lookup::Unavailable {
                        reason: e.to_string(),
                    },
                },
                Lookup::NotFound => Lookup::NotFound,
                Lookup::Unavailable { reason } => Lookup::Unavailable { reason },
            };
            out.insert(id, lookup);
        }
        out
    }

    async fn membership_pages(
        &self,
        first: MemberPage,
        feature: Feature,
    ) -> Result<Membership, super::GraphError> {
        let mut m = Membership::default();
        let mut add = |items: Vec<serde_json::Value>| {
            for item in items {
                let kind = item.get("@odata.type").and_then(|v| v.as_str());
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_str())
                        .map(str::to_ascii_lowercase)
                };
                match kind {
                    Some("#microsoft.graph.directoryRole") => {
                        m.roles.extend(text("roleTemplateId"))
                    }
                    Some("#microsoft.graph.group") => m.groups.extend(text("id")),
                    _ => {}
                }
            }
        };
        add(first.value);
        if let Some(link) = first.next_link {
            let url = self.same_root(&link, feature)?;
            add(self.get_all::<serde_json::Value>(url, feature).await?);
        }
        Ok(m)
    }

    /// MFA and SSPR registration. Needs AuditLog.Read.All; without it every user reads as
    /// unavailable with a message naming the permission, and the feature rests for an hour.
    pub async fn registrations(&self, ids: &[UserId]) -> HashMap<UserId, Lookup<Registration>> {
        let feature = Feature::Registration;
        if self.0.registration_gate.is_off() {
            return ids
                .iter()
                .map(|id| {
                    (
                        *id,
                        Lookup::Unavailable {
                            reason: forbidden_reason(feature),
                        },
                    )
                })
                .collect();
        }
        let out: HashMap<UserId, Lookup<Registration>> = self
            .batch_get::<_, serde_json::Value>(ids, feature, |id| {
                format!("/reports/authenticationMethods/userRegistrationDetails/{id}")
            })
            .await
            .into_iter()
            .map(|(id, l)| (id, registration(l)))
            .collect();
        let refused = forbidden_reason(feature);
        if out
            .values()
            .any(|l| matches!(l, Lookup::Unavailable { reason } if *reason == refused))
        {
            self.0.registration_gate.switch_off(feature);
        }
        out
    }

    /// Reads `path` for every id in `$batch`es of [`MAX_BATCH`], up to the configured number in
    /// flight at once. Inner 429s and 5xx are read again in a later round, after the longest
    /// `Retry-After` any of them carried.
    pub(super) async fn batch_get<K: Key, T: DeserializeOwned>(
        &self,
        ids: &[K],
        feature: Feature,
        path: impl Fn(&K) -> String,
    ) -> HashMap<K, Lookup<T>> {
        let mut pending: Vec<K> = ids.to_vec();
        pending.sort();
        pending.dedup();
        let mut out = HashMap::new();
        let mut attempts = self
            .0
            .retry
            .start(format_args!("Graph $batch for {feature}"));
        // Once one `$batch` request has failed after its retries, the feature is unavailable for
        // the rest of the cycle (see [`Outages`]): an outage of one feature must not cost every
        // page of a cycle its retries.
        let outage = &self.0.outages;
        while !pending.is_empty() {
            // Owned chunks: futures borrowing from `pending` would not be `Send` across the
            // async-trait boundary of the worker.
            let mut owned: Vec<Vec<K>> = pending.chunks(MAX_BATCH).map(<[K]>::to_vec).collect();
            // The first `$batch` goes alone: if the feature is down, it alone spends its retries
            // and the rest are not sent.
            let first = owned.remove(0);
            let mut chunks = vec![self.one_batch(first, feature, &path, outage).await];
            chunks.extend(
                futures_util::stream::iter(owned)
                    .map(|chunk| self.one_batch(chunk, feature, &path, outage))
                    .buffer_unordered(self.0.batch_concurrency)
                    .collect::<Vec<Chunk<K, T>>>()
                    .await,
            );
            let mut again = Vec::new();
            let mut wait: Option<Duration> = None;
            for c in chunks {
                out.extend(c.done);
                again.extend(c.again);
                wait = wait.max(c.wait);
            }
            pending = again;
            if pending.is_empty() {
                break;
            }
            let throttled = format!("Graph throttled {} of the items", pending.len());
            if !attempts.again(&throttled, wait).await {
                break;
            }
        }
        for id in pending {
            out.insert(
                id,
                Lookup::Unavailable {
                    reason: "Graph kept throttling the request".into(),
                },
            );
        }
        out
    }

    /// One `$batch` of at most [`MAX_BATCH`] reads.
    async fn one_batch<K: Key, T: DeserializeOwned>(
        &self,
        chunk: Vec<K>,
        feature: Feature,
        path: &impl Fn(&K) -> String,
        outage: &Outages,
    ) -> Chunk<K, T> {
        let unavailable = |reason: &str| Chunk {
            done: chunk
                .iter()
                .map(|id| {
                    (
                        id.clone(),
                        Lookup::Unavailable {
                            reason: reason.to_string(),
                        },
                    )
                })
                .collect(),
            again: Vec::new(),
            wait: None,
        };
        if let Some(reason) = outage.of(feature) {
            return unavailable(&reason);
        }
        let requests: Vec<serde_json::Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| serde_json::json!({"id": i.to_string(), "method": "GET", "url": path(id)}))
            .collect();
        let call = Call {
            method: http::Method::POST,
            url: self.url("v1.0", "$batch", None),
            feature,
            body: Some(serde_json::json!({ "requests": requests })),
            as_user: None,
        };
        crate::metrics::global().batch_request();
        let reply = match self
            .send(&call)
            .await
            .and_then(|r| r.json::<BatchReply>(feature))
        {
            Ok(r) => r,
            Err(e) => {
                outage.trip(feature, &e.to_string());
                return unavailable(&e.to_string());
            }
        };
        let mut result = Chunk {
            done: Vec::with_capacity(chunk.len()),
            again: Vec::new(),
            wait: None,
        };
        let mut answered = vec![false; chunk.len()];
        for r in reply.responses {
            let Some(i) = r.id.parse::<usize>().ok().filter(|i| *i < chunk.len()) else {
                continue;
            };
            answered[i] = true;
            let id = chunk[i].clone();
            let lookup = match r.status {
                200 => match serde_json::from_value::<T>(r.body) {
                    Ok(v) => Lookup::Found(v),
                    Err(e) => Lookup::Unavailable {
                        reason: format!("Graph's answer could not be read: {e}"),
                    },
                },
                404 => Lookup::NotFound,
                403 => Lookup::Unavailable {
                    reason: forbidden_reason(feature),
                },
                429 | 500..=599 => {
                    let after = r
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
                        .and_then(|(_, v)| crate::http::parse_retry_after(v));
                    result.wait = result.wait.max(after);
                    result.again.push(id);
                    continue;
                }
                status => Lookup::Unavailable {
                    reason: format!("Graph answered {status}"),
                },
            };
            result.done.push((id, lookup));
        }
        result.again.extend(
            chunk
                .iter()
                .zip(answered)
                .filter(|(_, a)| !a)
                .map(|(id, _)| id.clone()),
        );
        result
    }
}
