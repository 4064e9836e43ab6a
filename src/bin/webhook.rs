//! Lambda (Function URL): the Graph webhook. Wiring only: configuration (the clientState from the
//! Secrets Manager secret when `RISKRELAY_SECRET_ID` is set, re-read after its TTL), the SQS queue,
//! the runtime loop.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use riskrelay::config::{Env, SecretSource, WebhookConfig};
use riskrelay::lambda::Reloading;
use riskrelay::queue::sqs::SqsQueue;
use riskrelay::webhook::{Webhook, from_lambda, to_lambda};

fn build(
    env: &Env,
    secrets: &dyn SecretSource,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<Webhook> {
    let config = WebhookConfig::load(env, secrets)?;
    let queue_url = env.required("RISKRELAY_QUEUE_URL", "the SQS queue URL", |v| {
        Ok::<_, String>(v.to_string())
    })?;
    Ok(Webhook::new(
        &config,
        Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(aws), queue_url)),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    riskrelay::telemetry::init(riskrelay::telemetry::LogFormat::from_env());
    let app = Arc::new(
        Reloading::cold_start(build)
            .await
            .map_err(|e| format!("riskrelay webhook could not start: {e:#}"))?,
    );
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
