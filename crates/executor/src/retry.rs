//! The retry strategy of every AWS client stackfleet builds, in one place so that the tests
//! exercise the configuration the CLI uses.

use aws_sdk_cloudformation::config::retry::RetryConfig;

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
