//! One module per subcommand.

pub mod apply;
pub mod coverage;
pub mod plan;
pub mod validate;
