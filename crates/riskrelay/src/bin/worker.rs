//! Lambda (SQS): turns queued observations into alerts and delivers them, reporting partial batch
//! failures. Wiring only.

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskrelay::lambda::{WorkerFunction, start};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = start("worker", WorkerFunction::build).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Error>(app.current().await.sqs(event.payload).await) }
    }))
    .await
}
