//! Lambda (Function URL): the Graph webhook. Wiring only: configuration (the clientState from the
//! Secrets Manager secret when `RISKRELAY_SECRET_ID` is set), the SQS queue, the runtime loop.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use riskrelay::config::{Env, EnvSecrets, WebhookConfig};
use riskrelay::queue::sqs::SqsQueue;
use riskrelay::secrets::SecretCache;
use riskrelay::webhook::{Webhook, from_lambda, to_lambda};

#[tokio::main]
async fn main() -> Result<(), Error> {
    riskrelay::telemetry::init(riskrelay::telemetry::LogFormat::from_env());
    let env = Env::from_process();
    let aws = riskrelay::aws::config().await;
    let config = match env.get("RISKRELAY_SECRET_ID") {
        Some(id) => {
            let cache = SecretCache::new(
                aws_sdk_secretsmanager::Client::new(&aws),
                id,
                riskrelay::secrets::DEFAULT_TTL,
            );
            WebhookConfig::load(&env, &cache.get().await?)?
        }
        None => WebhookConfig::load(&env, &EnvSecrets(&env))?,
    };
    let queue_url = env.required("RISKRELAY_QUEUE_URL", "the SQS queue URL", |v| {
        Ok::<_, String>(v.to_string())
    })?;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&aws), queue_url);
    let app = Arc::new(Webhook::new(&config, Arc::new(queue)));
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Error>(to_lambda(app.handle(from_lambda(req)).await)) }
    }))
    .await
}
