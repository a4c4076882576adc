//! The planning side of stackfleet: what the user declares (fleet.toml), what the organization
//! looks like, and the pure function that turns both, plus what StackSets reports, into a plan.
//!
//! ```no_run
//! # async fn demo(orgs: aws_sdk_organizations::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use stackfleet_planner::{fleet, org, plan, Observed};
//! let fleet = fleet::load("fleet.toml".as_ref())?;       // offline validation
//! let inventory = org::read_inventory(&orgs).await?;      // the organization
//! let observed = Observed::default();                     // filled by stackfleet-executor
//! let plan = plan::plan(&fleet, &inventory, &observed)?;  // pure
//! println!("{} instances to create", plan.summary.create_instances);
//! # Ok(()) }
//! ```

pub mod batch;
pub mod coverage;
pub mod diagnostic;
pub mod digest;
pub mod doctor;
pub mod errors;
pub mod fleet;
pub mod inventory;
pub mod monitor;
pub mod observed;
pub mod org;
pub mod plan;
pub mod regions;
pub mod suggest;
pub mod targets;
pub mod template;

pub use diagnostic::{Diagnostic, Diagnostics, Location};
pub use fleet::Fleet;
pub use inventory::Inventory;
pub use observed::Observed;
pub use plan::Plan;
