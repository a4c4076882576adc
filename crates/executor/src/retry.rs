//! The retry strategy and timeouts of every AWS client stackfleet builds, in one place so that
//! the tests exercise the configuration the CLI uses.

use std::time::Duration;

use aws_sdk_cloudformation::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_cloudformation::config::timeout::TimeoutConfig;

/// Throttling is expected on large organizations; the SDK's standard retry with back-off absorbs
/// it within this many attempts per call.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The SDK's standard retry strategy with [`DEFAULT_MAX_ATTEMPTS`] attempts. The CLI sets it on
/// the loaded configuration unless `AWS_MAX_ATTEMPTS` is set. Being explicit, it also wins over a
/// profile's `max_attempts`: an overridden component skips aws-config's resolution chain
/// (aws-config, `ConfigLoader`: "Overriding a component will skip the standard resolution chain
/// for that component", https://docs.rs/aws-config/latest/aws_config/struct.ConfigLoader.html).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS)
}

/// The retry partition of every client: its token bucket never runs dry. The standard strategy's
/// default bucket (500 permits, 5 per throttled retry, 14 per other retry, shared by the clients
/// of one partition) exists to stop fleets of clients from amplifying an outage; for one CLI run
/// making thousands of calls against throttled APIs it made calls fail outright with "retry quota
/// exceeded" while back-off would have succeeded (seen with Terraform's AWS provider:
/// hashicorp/terraform-provider-aws#36094, and hashicorp/aws-sdk-go-base#915; aws-sdk-go-v2 added
/// `ratelimit.None` for this, aws/aws-sdk-go-v2#2562). Each call stays bounded by
/// [`DEFAULT_MAX_ATTEMPTS`], its back-off and [`OPERATION_TIMEOUT`].
pub fn retry_partition() -> RetryPartition {
    RetryPartition::custom("stackfleet")
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// How long to wait for a TCP (and TLS) connection to an AWS endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one attempt of a call may wait for the response, connection included. StackSets,
/// Organizations and STS answer in well under a second; a minute means the endpoint is stuck.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one call may take with all its attempts and the back-off between them: enough for
/// [`DEFAULT_MAX_ATTEMPTS`] throttled attempts (the standard back-off waits at most 20 s).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(300);

/// Timeouts of every call, so that an endpoint that accepts and never answers fails the call
/// instead of hanging it (the SDK sets none but a connect timeout by default). Set where
/// [`retry_config`] is; `--timeout` bounds a whole command on top of these.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(ATTEMPT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}
