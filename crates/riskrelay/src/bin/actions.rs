//! Lambda (Function URL): the action pages behind an alert's buttons. Wiring only: configuration
//! (the Secrets Manager secret when `RISKRELAY_SECRET_ID` is set, re-read after its TTL), the
//! DynamoDB store, the runtime loop.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    riskrelay::lambda::serve_function_url("actions", riskrelay::lambda::actions).await
}
