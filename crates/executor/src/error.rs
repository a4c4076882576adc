//! Errors of StackSets calls, with the fix where AWS's message is known to need one.

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

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
    },
    /// The endpoint does not implement an operation (the local emulator lacks several).
    #[error("this endpoint does not implement CloudFormation {operation}: {message}")]
    NotImplemented {
        /// The CloudFormation operation.
        operation: &'static str,
        /// What the endpoint answered.
        message: String,
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
    /// Any other failure.
    #[error("CloudFormation {operation} failed: {message}")]
    Call {
        /// The CloudFormation operation.
        operation: &'static str,
        /// The error code and message.
        message: String,
    },
}

impl ExecError {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().unwrap_or_default().to_string();
        let message = err
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| error_chain(&err));
        let lower = message.to_ascii_lowercase();
        if code == "AccessDenied"
            || code == "AccessDeniedException"
            || lower.contains("not authorized")
        {
            return ExecError::Access {
                operation,
                message,
                hint: "grant the caller cloudformation:* on stack sets, or run as the management account or a delegated administrator",
            };
        }
        if lower.contains("management account") || lower.contains("delegated admin") {
            return ExecError::Access {
                operation,
                message,
                hint: "run as the organization's management account, or register this account as a StackSets delegated administrator and set organization.call_as = \"delegated-admin\"",
            };
        }
        if lower.contains("administration role")
            || lower.contains("execution role")
            || lower.contains("awscloudformationstackset")
        {
            return ExecError::Access {
                operation,
                message,
                hint: "self-managed stack sets need AWSCloudFormationStackSetAdministrationRole in the administrator account and AWSCloudFormationStackSetExecutionRole in every target account (or the roles named in fleet.toml)",
            };
        }
        // AWS answers every request it understands with an error code; a server error with none
        // (an HTML page) comes from an endpoint that does not implement the operation.
        let status = err.raw_response().map(|r| r.status().as_u16());
        if code.is_empty() && status.is_some_and(|s| s >= 500) {
            return ExecError::NotImplemented {
                operation,
                message: format!(
                    "it answered HTTP {} without an AWS error (the local emulator, moto, lacks several StackSets operations)",
                    status.unwrap_or_default()
                ),
            };
        }
        let message = if code.is_empty() {
            message
        } else {
            format!("{code}: {message}")
        };
        ExecError::Call { operation, message }
    }
}

/// `err: its source: its source…`: the whole chain of messages, without the debug dump that
/// `DisplayErrorContext` appends (users read these errors).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
