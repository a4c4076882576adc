//! Logs: `tracing` to stderr, filtered by `-v`/`-vv` or by `STACKFLEET_LOG`/`RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Targets kept at `info` under `-v`/`-vv`: at debug level the SDK's HTTP and signing layers log
/// every request and response (headers included), which is noise for a user and must never put a
/// session token on a CI log. An explicit `STACKFLEET_LOG`/`RUST_LOG` can still ask for them.
const NOISY: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_runtime",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
];

/// The filter for `-v` repeated `verbose` times.
pub fn default_filter(verbose: u8) -> String {
    let level = match verbose {
        // The SDK warns about every credential source it tried, with debug dumps; the error
        // stackfleet reports says what failed in words. -v shows them.
        0 => return "warn,aws_config=error".to_string(),
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut filter = level.to_string();
    for target in NOISY {
        filter.push_str(&format!(",{target}=info"));
    }
    filter
}

/// Installs the subscriber: `STACKFLEET_LOG`, else `RUST_LOG`, else [`default_filter`]; ANSI
/// colours only on a terminal and when `color` (neither `--no-color` nor `NO_COLOR`).
pub fn init(verbose: u8, color: bool) {
    let explicit = ["STACKFLEET_LOG", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok().map(|v| (*name, v)))
        .filter(|(_, v)| !v.trim().is_empty());
    let filter = match explicit {
        Some((name, value)) => EnvFilter::try_new(&value).unwrap_or_else(|e| {
            eprintln!("warning: ignoring {name}={value:?}: {e}");
            EnvFilter::new(default_filter(verbose))
        }),
        None => EnvFilter::new(default_filter(verbose)),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(color && std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
}

#[cfg(test)]
mod tests {
    use super::default_filter;

    #[test]
    fn verbosity_raises_our_logs_but_not_the_sdks_wire_logs() {
        assert_eq!(default_filter(0), "warn,aws_config=error");
        assert!(default_filter(1).starts_with("info,"));
        assert!(default_filter(2).starts_with("debug,"));
        assert!(default_filter(2).contains(",aws_sigv4=info"));
        assert!(default_filter(2).contains(",aws_smithy_runtime=info"));
        for v in 1..=3 {
            tracing_subscriber::EnvFilter::try_new(default_filter(v)).expect("a valid filter");
        }
    }
}
