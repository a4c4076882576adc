//! Errors of StackSets calls, classified by the service's error code and keeping the SDK error as
//! their source, with the fix where one is known.

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use stackfleet_planner::errors::error_chain;

/// The SDK error behind an [`ExecError`], kept as its source.
pub type SdkCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed StackSets call.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The caller may not use StackSets as it tried to.
    #[error("CloudFormation {operation} was refused: {message}\n  {hint}")]
    Access {
        /// The CloudFormation operation.
        operation: &'static str,
        /// AWS's message.
        message: String,
        /// What to do about it.
        hint: &'static str,
        /// The SDK's error.
        #[source]
        source: SdkCause,
    },
    /// The endpoint does not implement an operation (the local emulator lacks several).
    #[error("this endpoint does not implement CloudFormation {operation}: {message}")]
    NotImplemented {
        /// The CloudFormation operation.
        operation: &'static str,
        /// What the endpoint answered.
        message: String,
        /// The SDK's error.
        #[source]
        source: SdkCause,
    },
    /// An operation ran longer than stackfleet was willing to wait; it goes on in AWS.
    #[error(
        "gave up waiting after {}s for operation {operation_id} of stack set {stack_set}; it goes on in AWS: rerun stackfleet apply to wait for it and continue",
        waited.as_secs()
    )]
    Timeout {
        /// The stack set.
        stack_set: String,
        /// The operation.
        operation_id: String,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// Another operation changed the stack set after the plan was made (a colleague's, or a
    /// concurrent apply's), so the plan's next step may no longer be right.
    #[error(
        "stack set {stack_set} was changed by another operation ({}) after this plan was made; plan again",
        operations.join(", ")
    )]
    Superseded {
        /// The stack set.
        stack_set: String,
        /// The other operations, or a note on what changed.
        operations: Vec<String>,
    },
    /// An operation with this plan's id exists but is not this plan's: waiting for it would
    /// report a step as done that was never run.
    #[error(
        "stack set {stack_set} already has an operation {operation_id} that is not this plan's: {reason}; nothing was waited for\n  plan again (`stackfleet apply` draws a new operation id for every plan)"
    )]
    NotOurs {
        /// The stack set.
        stack_set: String,
        /// The operation id.
        operation_id: String,
        /// Why it is not ours.
        reason: String,
    },
    /// Any other failure.
    #[error("CloudFormation {operation} failed: {message}")]
    Call {
        /// The CloudFormation operation.
        operation: &'static str,
        /// The error code and message.
        message: String,
        /// The SDK's error, when a call failed (not when an answer made no sense).
        #[source]
        source: Option<SdkCause>,
    },
}

impl ExecError {
    /// Classifies an SDK error of `operation` by the service's error code.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = err
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| error_chain(&err));
        let status = err.raw_response().map(|r| r.status().as_u16());
        let hint = match code.as_deref() {
            // IAM's refusal ("User: … is not authorized to perform: cloudformation:…").
            Some("AccessDenied" | "AccessDeniedException") => Some(PERMISSIONS_HINT),
            // StackSets refuses a caller that is neither the management account nor a registered
            // delegated administrator, and a missing administration or execution role, with the
            // generic ValidationError and no code of their own: only the message tells them apart
            // from a malformed request.
            Some("ValidationError") => validation_hint(&message),
            _ => None,
        };
        if let Some(hint) = hint {
            return ExecError::Access {
                operation,
                message,
                hint,
                source: Box::new(err),
            };
        }
        // AWS answers every request it understands with an error code; a server error with none
        // (an HTML page) comes from an endpoint that does not implement the operation.
        if code.is_none()
            && let Some(status) = status.filter(|s| *s >= 500)
        {
            return ExecError::NotImplemented {
                operation,
                message: format!(
                    "it answered HTTP {status} without an AWS error (the local emulator, moto, lacks several StackSets operations)"
                ),
                source: Box::new(err),
            };
        }
        let message = match code {
            Some(code) => format!("{code}: {message}"),
            None => message,
        };
        ExecError::Call {
            operation,
            message,
            source: Some(Box::new(err)),
        }
    }
}

const PERMISSIONS_HINT: &str = "grant the caller cloudformation:* on stack sets, or run as the management account or a delegated administrator";

/// What to do about a ValidationError that is really a refusal, by its message (see
/// [`ExecError::from_sdk`] for why the message).
fn validation_hint(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("management account")
        || lower.contains("either management")
        || lower.contains("delegated admin")
    {
        Some(
            "run as the organization's management account, or register this account as a StackSets delegated administrator and set organization.call_as = \"delegated-admin\"",
        )
    } else if lower.contains("administration role")
        || lower.contains("execution role")
        || lower.contains("awscloudformationstackset")
    {
        Some(
            "self-managed stack sets need AWSCloudFormationStackSetAdministrationRole in the administrator account and AWSCloudFormationStackSetExecutionRole in every target account (or the roles named in fleet.toml)",
        )
    } else {
        None
    }
}
