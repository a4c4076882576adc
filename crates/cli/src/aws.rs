//! AWS clients from the standard configuration chain, an optional assumed role, and the caller's
//! identity.

use std::error::Error as StdError;
use std::sync::Mutex;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

use crate::error::CliError;

/// Throttling is expected on large organizations; the SDK's standard retry with back-off
/// absorbs it. `AWS_MAX_ATTEMPTS` or the profile's `max_attempts` take precedence.
const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// Loads the SDK configuration the standard way (environment, profiles, SSO, web identity,
/// `AWS_ENDPOINT_URL`), or from `profile` alone, in `region`, or in the chain's region
/// (`AWS_REGION`, the profile's) when `None`.
pub async fn sdk_config(profile: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(profile) = profile {
        // An explicit --profile wins over credentials in the environment, as in the AWS CLI
        // (the standard chain would prefer AWS_ACCESS_KEY_ID). AWS_PROFILE alone keeps the
        // standard order: the chain reads it itself.
        loader = loader.profile_name(profile).credentials_provider(
            ProfileFileCredentialsProvider::builder()
                .profile_name(profile)
                .build(),
        );
    }
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader =
            loader.retry_config(RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS));
    }
    loader.load().await
}

/// Assumes `role` with the credentials of `base`, as session `session`, and returns `base` acting
/// as that role. AssumeRole is called once here, so that a refused role is reported as such
/// before anything else; the SDK assumes it again when the credentials near expiry.
pub async fn assume_role(
    base: &SdkConfig,
    role: &str,
    session: &str,
) -> Result<SdkConfig, CliError> {
    tracing::info!(role, session, "assuming role");
    let provider = AssumeRoleProvider::builder(role)
        .configure(base)
        .session_name(session)
        .build()
        .await;
    let first = provider.provide_credentials().await.map_err(|e| {
        let reason = error_chain(&e);
        CliError::Aws {
            doing: format!("assume role {role} (session {session})"),
            hint: credentials_hint(&reason).unwrap_or(
                "the caller must be allowed sts:AssumeRole on it, and the role's trust policy must trust the caller (check --profile or the CI role)",
            ),
            reason,
        }
    })?;
    let provider = FirstThen {
        first: Mutex::new(Some(first)),
        then: provider,
    };
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}

/// Hands out the credentials AssumeRole already returned, then asks the provider again (the SDK
/// caches them until they near expiry), so that one run makes one AssumeRole call.
#[derive(Debug)]
struct FirstThen {
    first: Mutex<Option<Credentials>>,
    then: AssumeRoleProvider,
}

impl ProvideCredentials for FirstThen {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        match self.first.lock().ok().and_then(|mut first| first.take()) {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => self.then.provide_credentials(),
        }
    }
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
        .map_err(|e| sdk_error("determine who is calling (STS GetCallerIdentity)", &e))?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// A failed call as one short error: AWS's code and message, or the chain of causes (never the
/// SDK's debug dump), with what to do next.
pub fn sdk_error<E, R>(doing: &str, err: &SdkError<E, R>) -> CliError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug + 'static,
{
    let reason = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => error_chain(err),
    };
    let hint = credentials_hint(&reason).unwrap_or(match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            "check the network (and HTTPS_PROXY or AWS_ENDPOINT_URL if you set them), then retry"
        }
        _ => {
            "check the credentials and their permissions (--profile, --assume-role); -vv shows the calls"
        }
    });
    CliError::Aws {
        doing: doing.to_string(),
        reason,
        hint,
    }
}

/// What to do about credential problems the SDK reports in words.
fn credentials_hint(reason: &str) -> Option<&'static str> {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("no credentials found")
        || lower.contains("credentials not loaded")
        || lower.contains("provider was not enabled")
    {
        Some(
            "no AWS credentials: sign in with `aws sso login --profile NAME` and pass --profile NAME (`aws configure list-profiles` lists them), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CI, use OIDC (README: GitHub Actions)",
        )
    } else if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        Some("the SSO session is missing or expired: run `aws sso login --profile NAME`")
    } else if lower.contains("expiredtoken")
        || lower.contains("token included in the request is expired")
    {
        Some(
            "the credentials have expired: refresh them (`aws sso login`, or a new CI role session)",
        )
    } else if lower.contains("invalidclienttokenid") || lower.contains("signaturedoesnotmatch") {
        Some(
            "the access key is not valid: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile",
        )
    } else if lower.contains("profile")
        && (lower.contains("not defined") || lower.contains("could not be found"))
    {
        Some("the profile does not exist: list profiles with `aws configure list-profiles`")
    } else {
        None
    }
}

/// `err: its source: its source…`, without the debug dump that `DisplayErrorContext` appends.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Several SDK errors repeat their source's message in their own.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
