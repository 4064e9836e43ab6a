//! Lambda (SQS): turns queued observations into alerts and delivers them, reporting partial batch
//! failures. Wiring only.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskrelay::lambda::{LambdaApp, Reloading};

#[tokio::main]
async fn main() -> Result<(), Error> {
    riskrelay::telemetry::init(riskrelay::telemetry::LogFormat::from_env());
    let app = std::sync::Arc::new(
        Reloading::cold_start(LambdaApp::build)
            .await
            .map_err(|e| format!("riskrelay worker could not start: {e:#}"))?,
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Error>(app.current().await.sqs(event.payload).await) }
    }))
    .await
}
