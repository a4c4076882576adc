//! One module per subcommand.

pub mod apply;
pub mod coverage;
pub mod doctor;
pub mod drift;
pub mod help;
pub mod iam_policy;
pub mod init;
pub mod plan;
pub mod validate;
