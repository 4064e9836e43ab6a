//! Lambda (Function URL): the action pages behind an alert's buttons. Wiring only: configuration
//! (the Secrets Manager secret when `RISKRELAY_SECRET_ID` is set, re-read after its TTL), the
//! DynamoDB store, the runtime loop.

use lambda_http::{Error, Request, service_fn};
use riskrelay::lambda::{actions, start};
use riskrelay::server::HttpApp as _;
use riskrelay::source::webhook::{from_lambda, to_lambda};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("actions", actions).await?;
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            Ok::<_, Error>(to_lambda(
                app.current().await.handle(from_lambda(req)).await,
            ))
        }
    }))
    .await
}
