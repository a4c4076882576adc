//! The executor of stackfleet: everything it says to CloudFormation StackSets. It reads stack sets
//! and instances into the planner's plain data, and carries out plans without deciding anything.

pub mod error;
pub mod observe;

pub use error::ExecError;
pub use observe::observe;
