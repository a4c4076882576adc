//! One module per subcommand.

pub mod apply;
pub mod plan;
pub mod validate;
