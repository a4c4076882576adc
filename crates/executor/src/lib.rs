//! The executor of stackfleet: everything it says to CloudFormation StackSets. It reads stack sets
//! and instances into the planner's plain data, and carries out plans without deciding anything:
//! progress leaves it as [`Event`]s on a channel, and only the CLI draws them.

pub mod apply;
pub mod drift;
pub mod error;
pub mod events;
pub mod history;
pub mod observe;
pub mod operation;
pub mod retry;

pub use apply::{ApplyReport, apply};
pub use error::ExecError;
pub use events::Event;
pub use observe::observe;
pub use operation::PollPolicy;
