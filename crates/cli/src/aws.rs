//! AWS clients from the standard configuration chain, and the caller's identity.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::error::DisplayErrorContext;

use crate::error::CliError;

/// Throttling is expected on large organizations; the SDK's standard retry with back-off
/// absorbs it. `AWS_MAX_ATTEMPTS` or the profile's `max_attempts` take precedence.
const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// Loads the SDK configuration the standard way (environment, profiles, SSO, web identity,
/// `AWS_ENDPOINT_URL`), in `home_region`.
pub async fn sdk_config(profile: Option<&str>, home_region: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(home_region.to_string()));
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader =
            loader.retry_config(RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS));
    }
    loader.load().await
}

/// Who is calling.
pub struct Identity {
    /// The caller's account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
}

/// STS GetCallerIdentity.
pub async fn identity(config: &SdkConfig) -> Result<Identity, CliError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| CliError::Identity(DisplayErrorContext(&e).to_string()))?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}
