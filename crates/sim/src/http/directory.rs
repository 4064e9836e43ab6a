//! Directory reads: users, registration details, and `$batch` over them.

use super::*;

impl SimApp {
    pub(super) fn user(&self, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().users.get(&id).cloned());
        match user {
            Some(u) => {
                let mut v = serde_json::to_value(&u.context).unwrap_or_default();
                if u.context.manager.is_none()
                    && let Some(o) = v.as_object_mut()
                {
                    o.remove("manager");
                }
                reply(StatusCode::OK, v)
            }
            None => error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        }
    }

    /// `transitiveMemberOf`: the user's groups and directory roles, typed as Graph types them.
    pub(super) fn member_of(&self, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().users.get(&id).cloned());
        let Some(u) = user else {
            return error(
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                &format!("Resource '{id}' does not exist."),
            );
        };
        let mut value: Vec<Value> = u
            .groups
            .iter()
            .map(|g| json!({"@odata.type": "#microsoft.graph.group", "id": g}))
            .collect();
        value.extend(u.roles.iter().map(|r| {
            json!({
                "@odata.type": "#microsoft.graph.directoryRole",
                "id": uuid::Uuid::new_v4().to_string(),
                "roleTemplateId": r,
            })
        }));
        reply(StatusCode::OK, json!({ "value": value }))
    }

    pub(super) fn registration(&self, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().users.get(&id).cloned());
        match user.and_then(|u| u.registration.map(|r| (u.context, r))) {
            Some((c, r)) => {
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                v["id"] = json!(c.id.to_string());
                v["userPrincipalName"] = json!(c.user_principal_name);
                v["userDisplayName"] = json!(c.display_name);
                if self.lock().wrap_registration {
                    v = json!({ "value": v });
                }
                reply(StatusCode::OK, v)
            }
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The requested resource was not found.",
            ),
        }
    }

    pub(super) async fn batch(&self, ctx: &Ctx, host: &str) -> Response<Bytes> {
        let Ok(body) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload format.",
            );
        };
        let Some(requests) = body.get("requests").and_then(Value::as_array) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid batch payload format.",
            );
        };
        if requests.len() > 20 {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "The number of requests in the batch exceeds the limit of 20.",
            );
        }
        let mut responses = Vec::new();
        for r in requests {
            let id = r
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let url = r.get("url").and_then(Value::as_str).unwrap_or_default();
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            let inner = Ctx {
                method: r
                    .get("method")
                    .and_then(Value::as_str)
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(Method::GET),
                path: format!("/v1.0{path}"),
                query: form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                raw_query: (!query.is_empty()).then(|| query.to_string()),
                prefer: ctx.prefer,
                body: Bytes::new(),
                inner: true,
                caller: ctx.caller.clone(),
            };
            let res = Box::pin(self.graph(inner, host)).await;
            let mut headers = serde_json::Map::new();
            for (k, v) in res.headers() {
                headers.insert(k.to_string(), json!(v.to_str().unwrap_or_default()));
            }
            let status = res.status().as_u16();
            let body: Value = serde_json::from_slice(res.body()).unwrap_or(Value::Null);
            responses.push(json!({"id": id, "status": status, "headers": headers, "body": body}));
        }
        // Graph returns batch responses in any order.
        responses.reverse();
        reply(StatusCode::OK, json!({"responses": responses}))
    }
}
