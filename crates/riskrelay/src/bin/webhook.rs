//! Lambda (Function URL): the Graph webhook. Wiring only: configuration (the clientState from the
//! Secrets Manager secret when `RISKRELAY_SECRET_ID` is set, re-read after its TTL), the SQS queue,
//! the runtime loop.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    riskrelay::lambda::serve_function_url("webhook", riskrelay::lambda::webhook).await
}
