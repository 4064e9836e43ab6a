//! The simulated tenant as Graph's notification sender: change notifications and lifecycle
//! events posted to riskrelay's webhook, as Graph posts them.

use riskrelay::ids::SubscriptionId;
use serde_json::{Value, json};

use super::*;

impl Simulator {
    /// Sends a change notification for `resource` to every subscription whose resource covers
    /// it, as Graph does, with the subscription's clientState. Returns the statuses received.
    pub async fn notify(&self, resource: &str, change_type: &str) -> Vec<u16> {
        let targets: Vec<(SubscriptionId, Value, Option<String>)> = {
            let s = self.lock();
            s.subscriptions
                .iter()
                .filter(|(_, sub)| {
                    let r = sub.body["resource"]
                        .as_str()
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_ascii_lowercase();
                    resource.to_ascii_lowercase().starts_with(&r)
                })
                .map(|(id, sub)| (*id, sub.body.clone(), sub.client_state.clone()))
                .collect()
        };
        let tenant = self.tenant_id();
        let mut statuses = Vec::new();
        for (id, body, client_state) in targets {
            let item = json!({
                "subscriptionId": id.to_string(),
                "subscriptionExpirationDateTime": body["expirationDateTime"],
                "changeType": change_type,
                "resource": resource,
                "resourceData": {"@odata.type": "#Microsoft.Graph.User", "@odata.id": resource, "id": resource.rsplit('/').next()},
                "clientState": client_state,
                "tenantId": tenant.to_string(),
            });
            statuses.push(
                post_json(
                    body["notificationUrl"].as_str().unwrap_or_default(),
                    json!({"value": [item]}),
                )
                .await,
            );
        }
        statuses
    }

    /// Sends a lifecycle notification for a subscription to its lifecycle URL.
    pub async fn lifecycle(&self, id: SubscriptionId, event: &str) -> Option<u16> {
        let (body, client_state) = {
            let s = self.lock();
            let sub = s.subscriptions.get(&id)?;
            (sub.body.clone(), sub.client_state.clone())
        };
        let url = body["lifecycleNotificationUrl"].as_str()?.to_string();
        let item = json!({
            "subscriptionId": id.to_string(),
            "subscriptionExpirationDateTime": body["expirationDateTime"],
            "tenantId": self.tenant_id().to_string(),
            "clientState": client_state,
            "lifecycleEvent": event,
        });
        Some(post_json(&url, json!({"value": [item]})).await)
    }
}

async fn post_json(url: &str, body: Value) -> u16 {
    match reqwest::Client::new().post(url).json(&body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}
