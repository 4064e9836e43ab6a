//! Identity protection (risky users, detections, history), Conditional Access policies and the
//! beta identity protection policy, with `$filter`, `$top`, `$select`, paging and `Prefer`.

use super::*;

/// `riskDetail` members Graph only returns with `Prefer: include-unknown-enum-members`.
const EVOLVABLE_RISK_DETAILS: &[&str] = &[
    "adminConfirmedServicePrincipalCompromised",
    "adminDismissedAllRiskForServicePrincipal",
    "m365DAdminDismissedDetection",
    "userChangedPasswordOnPremises",
    "adminDismissedRiskForSignIn",
    "adminConfirmedAccountSafe",
    "aiElevatedAccountRisk",
];

impl SimApp {
    /// A collection with `$filter`, `$top`, `$select`, `$skiptoken` paging and the `Prefer`
    /// behaviour for evolvable enums.
    pub(super) fn list(&self, ctx: &Ctx, host: &str, path: &str, kind: Kind) -> Response<Bytes> {
        let filter = match ctx.query.get("$filter").map(|f| Filter::parse(f)) {
            Some(Err(e)) => return error(StatusCode::BAD_REQUEST, "BadRequest", &e),
            Some(Ok(f)) => Some(f),
            None => None,
        };
        let top = ctx.query.get("$top").and_then(|t| t.parse::<usize>().ok());
        if top.is_some_and(|t| t > crate::MAX_PAGE) {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid page size specified: '$top' exceeds 500.",
            );
        }
        // `$skiptoken` is the position in the collection where the next page begins.
        let skip = ctx
            .query
            .get("$skiptoken")
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        let s = self.lock();
        let page = top.unwrap_or(20).min(s.config.max_page).max(1);
        // Items become JSON one at a time and only until the page is full and one more match is
        // known: a page costs what it returns and skips over, not the whole collection (a
        // benchmark's tenant holds hundreds of thousands of detections).
        let all: Box<dyn Iterator<Item = Value> + '_> = match kind {
            Kind::RiskyUsers => Box::new(
                s.risky
                    .values()
                    .filter_map(|u| serde_json::to_value(u).ok()),
            ),
            Kind::Detections => Box::new(
                s.detections
                    .iter()
                    .filter_map(|d| serde_json::to_value(d).ok()),
            ),
            Kind::History => {
                let user = path.split('/').nth(2).and_then(|id| UserId::parse(id).ok());
                Box::new(
                    s.history
                        .iter()
                        .filter(move |h| h.user_id == user)
                        .filter_map(|h| serde_json::to_value(h).ok()),
                )
            }
            Kind::CaPolicies => Box::new(s.ca_policies.iter().cloned()),
            Kind::RiskyWorkloads(k) => Box::new(
                s.workloads
                    .risky
                    .iter()
                    .filter(move |(kind, _)| *kind == k)
                    .map(|(_, v)| v.clone()),
            ),
            Kind::WorkloadDetections(k) => Box::new(
                s.workloads
                    .detections
                    .iter()
                    .filter(move |(kind, _)| *kind == k)
                    .map(|(_, v)| v.clone()),
            ),
        };
        let mut found = Vec::new();
        let mut next = None;
        for (i, v) in all.enumerate().skip(skip) {
            if filter.as_ref().is_some_and(|f| !f.matches(&v)) {
                continue;
            }
            if found.len() == page {
                next = Some(i);
                break;
            }
            found.push(v);
        }
        drop(s);
        let select: Option<Vec<&str>> = ctx.query.get("$select").map(|s| s.split(',').collect());
        let items: Vec<Value> = found
            .into_iter()
            .map(|v| self.present(v, ctx.prefer, select.as_deref()))
            .collect();
        let mut body = json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#{path}"),
            "value": items,
        });
        if let Some(next) = next {
            let mut q: Vec<(String, String)> = ctx
                .query
                .iter()
                .filter(|(k, _)| *k != "$skiptoken")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.sort();
            q.push(("$skiptoken".into(), next.to_string()));
            let query: String = q
                .iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('\'', "%27")))
                .collect::<Vec<_>>()
                .join("&");
            let version = ctx
                .path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("v1.0");
            body["@odata.nextLink"] =
                json!(format!("{}/{version}/{path}?{query}", self.base(host)));
        }
        reply(StatusCode::OK, body)
    }

    /// Hides evolvable enum members unless the request opted in, and applies `$select`.
    pub(super) fn present(&self, mut v: Value, prefer: bool, select: Option<&[&str]>) -> Value {
        if !prefer {
            if let Some(d) = v.get_mut("riskDetail")
                && d.as_str()
                    .is_some_and(|s| EVOLVABLE_RISK_DETAILS.contains(&s))
            {
                *d = json!("unknownFutureValue");
            }
            if let Some(controls) = v
                .pointer_mut("/grantControls/builtInControls")
                .and_then(Value::as_array_mut)
            {
                for c in controls.iter_mut() {
                    if c == "riskRemediation" {
                        *c = json!("unknownFutureValue");
                    }
                }
            }
        }
        match (select, v) {
            (Some(fields), Value::Object(map)) => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| fields.contains(&k.as_str()))
                    .collect(),
            ),
            (_, v) => v,
        }
    }

    pub(super) fn risky_user(&self, ctx: &Ctx, id: &str) -> Response<Bytes> {
        let user = UserId::parse(id)
            .ok()
            .and_then(|id| self.lock().risky.get(&id).cloned());
        match user.and_then(|u| serde_json::to_value(u).ok()) {
            Some(v) => reply(StatusCode::OK, self.present(v, ctx.prefer, None)),
            None => error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The requested resource was not found.",
            ),
        }
    }

    pub(super) fn patch_policy(&self, ctx: &Ctx) -> Response<Bytes> {
        let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(&ctx.body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid request body.",
            );
        };
        let mut s = self.lock();
        if !s.policy_available {
            return error(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "Resource not found for the segment 'policy'.",
            );
        }
        for (k, v) in patch {
            s.policy.insert(k, v);
        }
        let mut res = Response::new(Bytes::new());
        *res.status_mut() = StatusCode::NO_CONTENT;
        res
    }
}
