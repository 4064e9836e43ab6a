//! AWS set-up shared by the Lambda binaries: one SDK configuration with short timeouts and few
//! retries, so a missing dependency fails a cold start in seconds rather than minutes.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Loads the SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL`
/// when set, which tests point at moto).
pub async fn config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
        .load()
        .await
}
