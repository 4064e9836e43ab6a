//! AWS set-up shared by the Lambda binaries: one SDK configuration with short timeouts and few
//! retries, so a missing dependency fails a cold start in seconds rather than minutes.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Longest wait for a connection to an AWS endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest single attempt at an AWS call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest AWS call with its retries: well inside the 10 s Lambda init phase for one call, and a
/// small part of the functions' timeouts.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
/// Attempts per AWS call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;

/// Loads the SDK configuration from the environment (region, credentials, and `AWS_ENDPOINT_URL`
/// when set, which tests point at moto).
pub async fn config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}
