//! Integration tests of the executor against canned CloudFormation answers (aws-smithy-mocks).
//!
//! The local emulator runs every StackSets operation synchronously and always succeeds, so the
//! asynchronous and failure behaviour is proven here with answers shaped as the CloudFormation
//! API reference describes them: errors as awsQuery `<ErrorResponse>` bodies with their codes and
//! HTTP statuses, operations that go QUEUED → RUNNING → SUCCEEDED | FAILED | STOPPED, per-instance
//! results with StatusReason, paginated lists.

mod apply_errors;
mod conflicts;
mod drift;
mod failures;
mod lifecycle;
mod managed_execution;
mod observe;
mod requests;
mod retries;
mod support;
mod unknown;
mod wait;
