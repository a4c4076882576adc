//! Error text for people, shared by the crates that report AWS errors.

/// `err: its source: its source…`: the whole chain of messages, without the debug dump that
/// `DisplayErrorContext` appends (users read these errors). A cause whose message the text
/// already ends with is left out, since several SDK errors repeat their source's message.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(text: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            text,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn every_cause_once() {
        let err = layer(
            "dispatch failure",
            Some(layer(
                "io error: connection refused",
                Some(layer("connection refused", None)),
            )),
        );
        assert_eq!(
            error_chain(&err),
            "dispatch failure: io error: connection refused"
        );
    }
}
