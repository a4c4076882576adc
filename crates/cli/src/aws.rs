//! AWS clients from the standard configuration chain, an optional assumed role, and the caller's
//! identity.

use std::error::Error as StdError;
use std::sync::Mutex;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;
use stackfleet_planner::errors::error_chain;

use crate::endpoint::{LastEndpoint, RefusedIsFinal, not_aws_response, refused};
use crate::error::CliError;
use crate::pending::Pending;

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
    // `AWS_MAX_ATTEMPTS` wins over stackfleet's retry configuration (README); a profile's
    // `max_attempts` does not, since a configuration set here skips aws-config's own chain.
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader = loader.retry_config(stackfleet_executor::retry::retry_config());
    }
    loader
        .timeout_config(stackfleet_executor::retry::timeout_config())
        .load()
        .await
}

/// A CloudFormation client whose calls `pending` records.
pub fn cloudformation(config: &SdkConfig, pending: &Pending) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(config)
            .retry_partition(stackfleet_executor::retry::retry_partition())
            .interceptor(pending.interceptor())
            .retry_classifier(RefusedIsFinal)
            .build(),
    )
}

/// An Organizations client whose calls `pending` records.
pub fn organizations(config: &SdkConfig, pending: &Pending) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::config::Builder::from(config)
            .retry_partition(stackfleet_executor::retry::retry_partition())
            .interceptor(pending.interceptor())
            .retry_classifier(RefusedIsFinal)
            .build(),
    )
}

/// Assumes `role` with the credentials of `base`, as session `session`, and returns `base` acting
/// as that role. AssumeRole is called once here, so that a refused role is reported as such
/// before anything else; the SDK assumes it again when the credentials near expiry.
pub async fn assume_role(
    base: &SdkConfig,
    role: &str,
    session: &str,
    pending: &Pending,
) -> Result<SdkConfig, CliError> {
    tracing::info!(role, session, "assuming role");
    // The first AssumeRole goes through a client of ours, so that a refused connection fails at
    // once and names the endpoint (the provider's own STS client retries it for half a minute);
    // the provider only refreshes the credentials later.
    let doing = format!("assume role {role} (session {session})");
    let endpoint = LastEndpoint::default();
    let out = sts(base, pending, &endpoint)
        .assume_role()
        .role_arn(role)
        .role_session_name(session)
        .send()
        .await
        .map_err(|e| {
            let mut err = sdk_error_at(&doing, &e, endpoint.get().as_deref());
            // STS refused: what a role needs, unless the credentials themselves are the cause.
            if let CliError::Aws { hint, .. } = &mut err
                && e.code().is_some()
                && credentials_hint(e.code(), &e).is_none()
            {
                *hint = ROLE_HINT;
            }
            err
        })?;
    let Some(issued) = out.credentials() else {
        return Err(CliError::Aws {
            doing,
            reason: "STS answered without credentials".to_string(),
            hint: ROLE_HINT,
        });
    };
    let first = Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_string()),
        std::time::SystemTime::try_from(*issued.expiration()).ok(),
        "AssumeRole",
    );
    let provider = AssumeRoleProvider::builder(role)
        .configure(base)
        .session_name(session)
        .build()
        .await;
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

/// What a refused AssumeRole needs.
const ROLE_HINT: &str = "the caller must be allowed sts:AssumeRole on it, and the role's trust policy must trust the caller (check --profile or the CI role)";

/// An STS client whose calls `pending` records and whose endpoint `endpoint` remembers; a
/// refused connection is final.
fn sts(config: &SdkConfig, pending: &Pending, endpoint: &LastEndpoint) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .retry_partition(stackfleet_executor::retry::retry_partition())
            .interceptor(pending.interceptor())
            .interceptor(endpoint.clone())
            .retry_classifier(RefusedIsFinal)
            .build(),
    )
}

/// Who is calling.
pub struct Identity {
    /// The caller's account.
    pub account: String,
    /// The caller's ARN.
    pub arn: String,
}

/// STS GetCallerIdentity: the first call of every command, so the one that names the endpoint
/// when nothing listens there or something else than AWS answers.
pub async fn identity(config: &SdkConfig, pending: &Pending) -> Result<Identity, CliError> {
    let endpoint = LastEndpoint::default();
    let out = sts(config, pending, &endpoint)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            sdk_error_at(
                "determine who is calling (STS GetCallerIdentity)",
                &e,
                endpoint.get().as_deref(),
            )
        })?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    })
}

/// A failed call as one short error: AWS's code and message, or the chain of causes (never the
/// SDK's debug dump), with what to do next.
pub fn sdk_error<E>(doing: &str, err: &SdkError<E, HttpResponse>) -> CliError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    sdk_error_at(doing, err, None)
}

/// [`sdk_error`] for a call that went to `endpoint`: a refused connection, a network failure and
/// an answer that is not an AWS API's name it.
pub fn sdk_error_at<E>(
    doing: &str,
    err: &SdkError<E, HttpResponse>,
    endpoint: Option<&str>,
) -> CliError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let at = endpoint.unwrap_or("the endpoint");
    if let SdkError::DispatchFailure(_) = err
        && refused(err)
    {
        return CliError::Aws {
            doing: doing.to_string(),
            reason: format!("nothing listens at {at} (connection refused)"),
            hint: "start the endpoint, or fix or unset AWS_ENDPOINT_URL (or the profile's endpoint_url) to reach AWS",
        };
    }
    if err.code().is_none()
        && let Some(answer) = err.raw_response().and_then(not_aws_response)
    {
        return CliError::Aws {
            doing: doing.to_string(),
            reason: format!("{at} answered {answer}: that is not an AWS API"),
            hint: "AWS_ENDPOINT_URL (or the profile's endpoint_url) must name an AWS endpoint or an emulator of one; unset it to reach AWS",
        };
    }
    let reason = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ if matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
        ) && endpoint.is_some() =>
        {
            format!("{} (endpoint {at})", error_chain(err))
        }
        _ => error_chain(err),
    };
    let hint = credentials_hint(err.code(), err).unwrap_or(match err {
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

/// `err` and its sources, outermost first.
fn causes<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

/// What to do about a credentials problem: by STS's error `code`, then by the credentials
/// provider's error kind found among the causes of `err`.
fn credentials_hint(code: Option<&str>, err: &(dyn StdError + 'static)) -> Option<&'static str> {
    match code {
        Some("ExpiredToken" | "ExpiredTokenException") => {
            return Some(
                "the credentials have expired: refresh them (`aws sso login`, or a new CI role session)",
            );
        }
        Some("InvalidClientTokenId" | "SignatureDoesNotMatch") => {
            return Some(
                "the access key is not valid: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile",
            );
        }
        _ => {}
    }
    let provider_error = causes(err).find_map(|cause| cause.downcast_ref::<CredentialsError>())?;
    // aws-config's SSO token errors are private types (`SsoTokenProviderError` is `pub(super)`)
    // that reach us as a provider error: only their words say that the session expired.
    let text = error_chain(err).to_ascii_lowercase();
    if text.contains("sso") && (text.contains("expired") || text.contains("token")) {
        return Some("the SSO session is missing or expired: run `aws sso login --profile NAME`");
    }
    match provider_error {
        // No provider of the chain found credentials; a profile that does not exist ends here too
        // (aws-config turns its `MissingProfile` into this kind).
        CredentialsError::CredentialsNotLoaded(_) => Some(
            "no AWS credentials: sign in with `aws sso login --profile NAME` and pass --profile NAME (`aws configure list-profiles` lists them), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CI, use OIDC (README: GitHub Actions)",
        ),
        CredentialsError::InvalidConfiguration(_)
        | CredentialsError::ProviderTimedOut(_)
        | CredentialsError::ProviderError(_)
        | CredentialsError::Unhandled(_) => None,
        // A kind added by a newer aws-credential-types: the generic hint of the caller.
        _ => None,
    }
}
