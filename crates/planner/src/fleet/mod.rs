//! fleet.toml: what the user declares, read and checked before any AWS call.
//!
//! Reading happens in two steps: serde reads the file into spanned raw types (`raw`, so unknown
//! keys and wrong types come back with their position), then [`load`] checks what serde cannot
//! (`check`: account ids, regions, percentages, templates, parameters, with the id rules of `ids`)
//! and builds the plain [`Fleet`] (`model`) the planner uses.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics, Location};

mod check;
mod ids;
mod model;
mod raw;

pub use ids::{is_account_id, is_ou_id, is_role_arn, is_root_id, is_stack_set_name};
pub use model::{
    AutoDeployment, CallAs, ConcurrencyMode, DEFAULT_MANAGED_EXECUTION, FLEET_TAG, Fleet, Limit,
    Located, OrganizationSettings, OuRef, PermissionModel, RETAIN_TAG, RegionConcurrency, Rollout,
    StackSetSpec, Targets,
};

use check::Checker;
use raw::RawFleet;

/// Why fleet.toml could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file has problems, each with its location.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads and validates the fleet.toml at `path`. Makes no AWS call.
pub fn load(path: &Path) -> Result<Fleet, FleetError> {
    let bytes = std::fs::read(path).map_err(|source| FleetError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let location = Location::at_offset(path, &text, offset);
            return Err(FleetError::Invalid(Diagnostics(vec![Diagnostic::new(
                location,
                "fleet.toml is not valid UTF-8",
            )])));
        }
    };
    parse(path, &text).map_err(FleetError::Invalid)
}

/// Validates fleet.toml text that was read from `path` (used to resolve template paths and to name
/// locations). Makes no AWS call.
pub fn parse(path: &Path, text: &str) -> Result<Fleet, Diagnostics> {
    let raw: RawFleet = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        Diagnostics(vec![Diagnostic::new(
            Location::at_span(path, text, &span),
            e.message().trim().replace('\n', "; "),
        )])
    })?;
    let mut checker = Checker {
        path,
        text,
        diagnostics: Vec::new(),
        warnings: Vec::new(),
    };
    let fleet = checker.fleet(raw);
    let mut diagnostics = checker.diagnostics;
    if diagnostics.is_empty() {
        Ok(fleet)
    } else {
        diagnostics.sort();
        diagnostics.dedup();
        Err(Diagnostics(diagnostics))
    }
}
