//! Subscriptions: create (with Graph's validation handshake against the notification URL) and
//! renew.

use super::*;

/// Graph's longest subscription lifetime for directory resources: 41,760 minutes.
const MAX_USER_SUBSCRIPTION_MINUTES: i64 = 41_760;
/// For security alerts: 43,200 minutes.
const MAX_ALERT_SUBSCRIPTION_MINUTES: i64 = 43_200;

/// A DateTimeOffset as the simulator accepts one: RFC 3339 with at most seven fractional digits,
/// the precision of Graph's own examples (.NET's DateTimeOffset ticks).
fn graph_date_time(s: &str) -> Option<OffsetDateTime> {
    let fraction = s
        .split_once('.')
        .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).count())
        .unwrap_or(0);
    (fraction <= 7)
        .then(|| OffsetDateTime::parse(s, &Rfc3339).ok())
        .flatten()
}

/// Graph gives an endpoint 10 seconds to answer the validation request.
const VALIDATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Graph's validation handshake: POST `?validationToken=…`, expect 200 with the decoded token.
async fn validate_endpoint(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    let client = reqwest::Client::builder()
        .timeout(VALIDATION_TIMEOUT)
        .build();
    let Ok(client) = client else { return false };
    match client
        .post(format!("{url}{sep}validationToken={encoded}"))
        .header("content-type", "text/plain; charset=utf-8")
        .send()
        .await
    {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            let plain = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain"));
            plain && r.text().await.is_ok_and(|t| t == token)
        }
        _ => false,
    }
}

impl SimApp {
    pub(super) async fn create_subscription(&self, ctx: &Ctx) -> Response<Bytes> {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Invalid request body.",
            );
        };
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(resource), Some(change_type), Some(url), Some(expires)) = (
            text("resource"),
            text("changeType"),
            text("notificationUrl"),
            text("expirationDateTime"),
        ) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "A required property is missing.",
            );
        };
        let Some(expires_at) = graph_date_time(&expires) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "expirationDateTime is invalid.",
            );
        };
        let max = if resource.to_ascii_lowercase().contains("security/alerts") {
            MAX_ALERT_SUBSCRIPTION_MINUTES
        } else {
            MAX_USER_SUBSCRIPTION_MINUTES
        };
        if expires_at > now() + time::Duration::minutes(max) {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Subscription expiration can only be 41760 minutes in the future.",
            );
        }
        let duplicate = self.lock().subscriptions.values().any(|s| {
            s.body["resource"].as_str() == Some(&resource)
                && s.body["changeType"].as_str() == Some(&change_type)
                && s.body["notificationUrl"].as_str() == Some(&url)
        });
        if duplicate {
            return error(
                StatusCode::CONFLICT,
                "InvalidRequest",
                "Subscription Id already exists for the requested combination",
            );
        }
        let lifecycle = text("lifecycleNotificationUrl");
        for target in std::iter::once(&url).chain(lifecycle.as_ref()) {
            if !validate_endpoint(target).await {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                );
            }
        }
        let id = SubscriptionId::from_uuid(uuid::Uuid::new_v4());
        let stored = json!({
            "id": id.to_string(),
            "resource": resource,
            "changeType": change_type,
            "notificationUrl": url,
            "lifecycleNotificationUrl": lifecycle,
            "expirationDateTime": rfc3339(expires_at),
            "clientState": null,
            "latestSupportedTlsVersion": "v1_2",
        });
        self.lock().subscriptions.insert(
            id,
            SimSubscription {
                body: stored.clone(),
                client_state: text("clientState"),
            },
        );
        reply(StatusCode::CREATED, stored)
    }

    pub(super) fn renew_subscription(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        let Some(id) = SubscriptionId::parse(id).ok() else {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The object was not found.",
            );
        };
        let expires = serde_json::from_slice::<Value>(&ctx.body)
            .ok()
            .and_then(|b| {
                b.get("expirationDateTime")
                    .and_then(Value::as_str)
                    .and_then(graph_date_time)
            });
        let Some(expires) = expires else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "expirationDateTime is invalid.",
            );
        };
        let mut s = self.lock();
        match s.subscriptions.get_mut(&id) {
            Some(sub) => {
                sub.body["expirationDateTime"] = json!(rfc3339(expires));
                reply(StatusCode::OK, sub.body.clone())
            }
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The object was not found.",
            ),
        }
    }
}
