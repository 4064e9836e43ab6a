//! The token endpoint: client credentials for riskrelay's app, and the authorization-code grant
//! of interactive sign-in (see [`super::signin`]).

use super::*;

impl SimApp {
    pub(super) async fn token(&self, tenant: &str, host: &str, body: &[u8]) -> Response<Bytes> {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let s = self.lock().config.clone();
        let invalid_client = |desc: &str| {
            reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client", "error_description": desc, "error_codes": [7000215], "trace_id": uuid::Uuid::new_v4().to_string()}),
            )
        };
        if tenant != s.tenant_id.to_string() {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found.", "error_codes": [90002]}),
            );
        }
        let grant = form.get("grant_type").map(String::as_str);
        if !matches!(grant, Some("client_credentials" | "authorization_code"))
            || form.get("client_id") != Some(&s.client_id.to_string())
        {
            return invalid_client("AADSTS700016: Application not found in the directory.");
        }
        let secret_ok = form
            .get("client_secret")
            .is_some_and(|v| *v == s.client_secret);
        let assertion_ok = form
            .get("client_assertion_type")
            .is_some_and(|t| t == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && form
                .get("client_assertion")
                .is_some_and(|a| a.split('.').count() == 3);
        if !secret_ok && !assertion_ok {
            return invalid_client(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
        if !self.lock().consented {
            // Entra's answer when the app has no service principal in the tenant: consent was
            // never given, or was revoked by deleting the enterprise application.
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "unauthorized_client", "error_description": format!("AADSTS700016: Application with identifier '{}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", s.client_id), "error_codes": [700016]}),
            );
        }
        if let Some(code) = self.lock().token_refusal.clone() {
            let number: u64 = code.trim_start_matches("AADSTS").parse().unwrap_or(0);
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": format!("{code}: the simulated tenant refuses this request."), "error_codes": [number]}),
            );
        }
        if grant == Some("authorization_code") {
            return self.redeem(tenant, host, &form);
        }
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        self.lock().tokens.push(token.clone());
        reply(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}),
        )
    }
}
