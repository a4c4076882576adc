//! Telling the user which endpoint a call went to when the trouble is the endpoint itself: nothing
//! listens there (refused at once, not retried for half a minute), or something answers that is
//! not an AWS API (an HTML page, a 404 of another server at `AWS_ENDPOINT_URL`).

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::ConfigBag;

/// Whether a connection was refused: nothing listens at the address (the OS said so at once).
pub fn refused(err: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(err), |e: &&(dyn StdError + 'static)| (*e).source()).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// Forbids retrying a refused connection. The SDK's standard strategy retries it as a transient
/// error with back-off (about 34 s over stackfleet's 8 attempts); a port nobody listens on does
/// not start listening in that time, and the user waits for nothing.
#[derive(Debug, Default)]
pub struct RefusedIsFinal;

impl ClassifyRetry for RefusedIsFinal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(err))
                if err
                    .as_connector_error()
                    .is_some_and(|c| refused(c as &(dyn StdError + 'static))) =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "connection refused is final"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Remembers the scheme and host of the last request a client sent, to name it in errors.
#[derive(Debug, Clone, Default)]
pub struct LastEndpoint(Arc<Mutex<Option<String>>>);

impl LastEndpoint {
    /// The endpoint of the last request, e.g. `https://sts.us-east-1.amazonaws.com`.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|e| e.clone())
    }
}

impl Intercept for LastEndpoint {
    fn name(&self) -> &'static str {
        "LastEndpoint"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri();
        // Scheme and authority only: the path and query carry nothing the user configured.
        let base = match uri.find("://") {
            Some(i) => {
                let rest = &uri[i + 3..];
                let end = rest.find(['/', '?']).unwrap_or(rest.len());
                uri[..i + 3 + end].to_string()
            }
            None => uri.to_string(),
        };
        if let Ok(mut last) = self.0.lock() {
            *last = Some(base);
        }
        Ok(())
    }
}

/// What an HTTP answer says about who gave it, when the SDK found no AWS error code in it:
/// `Some(description)` if it cannot be an AWS API's answer (no AWS request id, or an HTML page).
pub fn not_aws(
    status: u16,
    content_type: Option<&str>,
    request_id: bool,
    body: &[u8],
) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]).to_ascii_lowercase();
    let html = content_type.is_some_and(|c| c.contains("html"))
        || head.trim_start().starts_with("<!doctype html")
        || head.trim_start().starts_with("<html");
    if request_id && !html {
        return None;
    }
    Some(format!(
        "HTTP {status}{}{}",
        content_type.map(|c| format!(" ({c})")).unwrap_or_default(),
        if html {
            ", an HTML page"
        } else {
            ", with no AWS request id"
        }
    ))
}

/// [`not_aws`] of a raw SDK response.
pub fn not_aws_response(response: &Response) -> Option<String> {
    let headers = response.headers();
    // Every AWS API answer carries its request id (x-amzn-RequestId; S3's x-amz-request-id).
    let request_id =
        headers.get("x-amzn-requestid").is_some() || headers.get("x-amz-request-id").is_some();
    not_aws(
        response.status().as_u16(),
        headers.get("content-type"),
        request_id,
        response.body().bytes().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::{not_aws, refused};

    #[test]
    fn a_refused_connection_is_found_among_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Wrapper(#[source] std::io::Error);
        let err = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(refused(&err));
        let other = Wrapper(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(!refused(&other));
    }

    #[test]
    fn html_or_an_answer_without_request_id_is_not_aws() {
        assert_eq!(
            not_aws(
                404,
                Some("text/html"),
                false,
                b"<!DOCTYPE html><p>Not Found"
            ),
            Some("HTTP 404 (text/html), an HTML page".to_string())
        );
        assert_eq!(
            not_aws(404, None, false, b"nope"),
            Some("HTTP 404, with no AWS request id".to_string())
        );
        assert_eq!(
            not_aws(400, Some("text/xml"), true, b"<ErrorResponse>"),
            None
        );
        // A proxy's HTML error page in front of AWS is still not AWS's answer.
        assert!(not_aws(502, Some("text/html"), true, b"<html>").is_some());
    }
}
