//! Where messages go: results on stdout, progress and logs on stderr.

/// Knows whether the user asked for quiet.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; `quiet` silences progress, never results or errors.
    pub fn new(quiet: bool) -> Self {
        Printer { quiet }
    }

    /// Whether progress is silenced.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A progress line on stderr.
    pub fn status(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }
}
