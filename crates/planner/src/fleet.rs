//! fleet.toml: what the user declares, read and checked before any AWS call.
//!
//! Reading happens in two steps: serde reads the file into spanned raw types (so unknown keys and
//! wrong types come back with their position), then [`load`] checks what serde cannot (account ids,
//! regions, percentages, templates, parameters) and builds the plain [`Fleet`] the planner uses.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::regions::is_known_region;
use crate::template::{MAX_TEMPLATE_BODY_BYTES, Template, parse_template};

/// The tag stackfleet puts on every stack set it creates, with the fleet's name as value, so that a
/// stack set that later leaves fleet.toml is recognised as ours and never confused with others.
pub const FLEET_TAG: &str = "stackfleet:fleet";

/// The validated contents of a fleet.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fleet {
    /// The fleet.toml it was read from.
    pub path: PathBuf,
    /// The fleet's name, recorded on its stack sets (tag [`FLEET_TAG`]).
    pub name: String,
    /// Where and as whom stackfleet works.
    pub organization: OrganizationSettings,
    /// The stack sets, in file order.
    pub stack_sets: Vec<StackSetSpec>,
}

/// The `[organization]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSettings {
    /// The region where the stack sets live.
    pub home_region: String,
    /// If set, stackfleet refuses to run as any other account.
    pub management_account: Option<Located<String>>,
    /// Whether to act as the management account or as a delegated administrator.
    pub call_as: CallAs,
    /// If set, stackfleet assumes this IAM role (with the caller's credentials) before any other
    /// call, so that it acts in the management or delegated-administrator account.
    pub assume_role_arn: Option<Located<String>>,
}

/// A value from fleet.toml with the place it was written, for errors found only against AWS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub location: Location,
}

/// `organization.call_as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallAs {
    /// The caller is the organization's management account (`CallAs = SELF`).
    #[serde(rename = "self")]
    SelfAccount,
    /// The caller is a delegated StackSets administrator (`CallAs = DELEGATED_ADMIN`).
    DelegatedAdmin,
}

/// `stack_sets.permission_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PermissionModel {
    /// Explicit accounts; needs the administration and execution roles.
    SelfManaged,
    /// Organizations-integrated; targets OUs; never deploys to the management account.
    ServiceManaged,
}

/// One `[[stack_sets]]` entry, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSetSpec {
    /// The stack set's name, unique in the fleet.
    pub name: String,
    /// Where the entry starts in fleet.toml.
    pub location: Location,
    /// The stack set's description.
    pub description: Option<String>,
    /// The template file, relative to fleet.toml as written.
    pub template_path: PathBuf,
    /// The template as read.
    pub template: Template,
    /// Self- or service-managed.
    pub permission_model: PermissionModel,
    /// Governed regions, in the order written.
    pub regions: Vec<String>,
    /// Parameter values, as strings (lists joined with commas, as CloudFormation expects).
    pub parameters: BTreeMap<String, String>,
    /// Tags of the stack set (and, through StackSets, of every member stack).
    pub tags: BTreeMap<String, String>,
    /// `CAPABILITY_*` acknowledgements.
    pub capabilities: BTreeSet<String>,
    /// Self-managed: the administration role ARN (AWS default when unset).
    pub administration_role_arn: Option<String>,
    /// Self-managed: the execution role name (AWS default when unset).
    pub execution_role_name: Option<String>,
    /// Service-managed: automatic deployment to accounts that join the targeted OUs.
    pub auto_deployment: Option<AutoDeployment>,
    /// Keep member stacks when instances are deleted.
    pub retain_stacks_on_delete: bool,
    /// How operations roll out.
    pub rollout: Rollout,
    /// Which accounts get the stack.
    pub targets: Targets,
}

/// Service-managed automatic deployment settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoDeployment {
    /// Deploy to accounts added to a targeted OU.
    pub enabled: bool,
    /// Keep the stacks of accounts that leave a targeted OU.
    #[serde(default)]
    pub retain_stacks_on_account_removal: bool,
}

/// A concurrency or failure-tolerance limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// A number of accounts.
    Count(u32),
    /// A percentage of accounts.
    Percentage(u32),
}

/// `RegionConcurrencyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionConcurrency {
    /// One region after the other.
    Sequential,
    /// All regions at once.
    Parallel,
}

/// `ConcurrencyMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcurrencyMode {
    /// Concurrency never exceeds failure tolerance + 1 (the AWS default).
    StrictFailureTolerance,
    /// Concurrency stays at the maximum regardless of failures.
    SoftFailureTolerance,
}

/// Rollout preferences (StackSets `OperationPreferences`), after defaults are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Accounts acted on at once per region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<Limit>,
    /// Failures per region before the operation stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_tolerance: Option<Limit>,
    /// Regions one after the other or all at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_concurrency: Option<RegionConcurrency>,
    /// Strict or soft failure tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_mode: Option<ConcurrencyMode>,
    /// Order of regions for sequential rollouts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub region_order: Vec<String>,
}

/// A reference to an OU (or the root) as written in fleet.toml.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum OuRef {
    /// A path of OU names from the root, `/` for the root itself.
    Path(String),
    /// An `ou-…` or `r-…` id.
    Id(String),
}

/// `[stack_sets.targets]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// OUs whose accounts, nested OUs included, get the stack.
    pub organizational_units: Vec<Located<OuRef>>,
    /// Accounts that get the stack.
    pub accounts: Vec<Located<String>>,
    /// Accounts that never get the stack.
    pub exclude_accounts: Vec<Located<String>>,
    /// OUs whose accounts, nested OUs included, never get the stack.
    pub exclude_organizational_units: Vec<Located<OuRef>>,
}

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

/// Whether `arn` is an IAM role ARN, `arn:<partition>:iam::<12 digits>:role/<path/name>`, in any
/// partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn is_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let partition_ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let name_ok = resource
        .strip_prefix("role/")
        .and_then(|path| path.rsplit('/').next())
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        });
    partition_ok && account_ok && name_ok
}

// ---- raw, spanned shapes of the file -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    name: Option<Spanned<String>>,
    organization: RawOrganization,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    stack_sets: Vec<Spanned<RawStackSet>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    home_region: Spanned<String>,
    management_account: Option<Spanned<String>>,
    call_as: Option<CallAs>,
    assume_role_arn: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    regions: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    rollout: RawRollout,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRollout {
    max_concurrent_count: Option<Spanned<i64>>,
    max_concurrent_percentage: Option<Spanned<i64>>,
    failure_tolerance_count: Option<Spanned<i64>>,
    failure_tolerance_percentage: Option<Spanned<i64>>,
    region_concurrency: Option<RegionConcurrency>,
    concurrency_mode: Option<ConcurrencyMode>,
    region_order: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStackSet {
    name: Spanned<String>,
    description: Option<String>,
    template: Spanned<String>,
    permission_model: PermissionModel,
    regions: Option<Spanned<Vec<Spanned<String>>>>,
    parameters: Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>,
    #[serde(default)]
    tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    capabilities: Vec<Spanned<String>>,
    administration_role_arn: Option<Spanned<String>>,
    execution_role_name: Option<Spanned<String>>,
    auto_deployment: Option<Spanned<AutoDeployment>>,
    #[serde(default)]
    retain_stacks_on_delete: bool,
    #[serde(default)]
    rollout: RawRollout,
    targets: Spanned<RawTargets>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    #[serde(default)]
    organizational_units: Vec<Spanned<String>>,
    #[serde(default)]
    accounts: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_accounts: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_organizational_units: Vec<Spanned<String>>,
}

const CAPABILITIES: &[&str] = &[
    "CAPABILITY_AUTO_EXPAND",
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
];

/// Collects every problem in one pass, so the user fixes them all at once.
struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn location(&self, span: &Range<usize>) -> Location {
        Location::at_span(self.path, self.text, span)
    }

    fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let location = self.location(span);
        self.diagnostics.push(Diagnostic::new(location, message));
    }

    fn located<T>(&self, value: T, span: &Range<usize>) -> Located<T> {
        Located {
            value,
            location: self.location(span),
        }
    }

    fn fleet(&mut self, raw: RawFleet) -> Fleet {
        let name = match raw.name {
            Some(name) => {
                if !is_stack_set_name(name.get_ref()) {
                    self.error(
                        &name.span(),
                        format!(
                            "fleet name {:?} must start with a letter and hold only letters, digits and '-'",
                            name.get_ref()
                        ),
                    );
                }
                name.into_inner()
            }
            None => "default".to_string(),
        };
        let organization = self.organization(raw.organization);
        let default_regions = raw.defaults.regions.map(|r| self.regions(r));
        let default_rollout = self.rollout(raw.defaults.rollout, &Rollout::default());
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut stack_sets = Vec::new();
        for raw_set in raw.stack_sets {
            let span = raw_set.span();
            let raw_set = raw_set.into_inner();
            if let Some(first) = seen.get(raw_set.name.get_ref()) {
                let first = self.location(first);
                self.error(
                    &raw_set.name.span(),
                    format!(
                        "duplicate stack set name {:?} (first defined at line {})",
                        raw_set.name.get_ref(),
                        first.line
                    ),
                );
            } else {
                seen.insert(raw_set.name.get_ref().clone(), raw_set.name.span());
            }
            if let Some(set) =
                self.stack_set(raw_set, &span, default_regions.as_deref(), &default_rollout)
            {
                stack_sets.push(set);
            }
        }
        Fleet {
            path: self.path.to_path_buf(),
            name,
            organization,
            stack_sets,
        }
    }

    fn organization(&mut self, raw: RawOrganization) -> OrganizationSettings {
        let home_region = raw.home_region.get_ref().clone();
        if !is_known_region(&home_region) {
            self.error(
                &raw.home_region.span(),
                format!("unknown region {home_region:?}"),
            );
        }
        let management_account = raw.management_account.map(|a| {
            self.account_id(&a);
            self.located(a.get_ref().clone(), &a.span())
        });
        let assume_role_arn = raw.assume_role_arn.map(|arn| {
            if !is_role_arn(arn.get_ref()) {
                self.error(
                    &arn.span(),
                    format!(
                        "assume_role_arn {:?} is not an IAM role ARN: expected arn:aws:iam::<12-digit account>:role/<name>",
                        arn.get_ref()
                    ),
                );
            }
            self.located(arn.get_ref().clone(), &arn.span())
        });
        OrganizationSettings {
            home_region,
            management_account,
            call_as: raw.call_as.unwrap_or(CallAs::SelfAccount),
            assume_role_arn,
        }
    }

    fn account_id(&mut self, id: &Spanned<String>) -> bool {
        let ok = id.get_ref().len() == 12 && id.get_ref().bytes().all(|b| b.is_ascii_digit());
        if !ok {
            self.error(
                &id.span(),
                format!(
                    "malformed account id {:?}: expected 12 digits",
                    id.get_ref()
                ),
            );
        }
        ok
    }

    fn regions(&mut self, raw: Spanned<Vec<Spanned<String>>>) -> Vec<String> {
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.is_empty() {
            self.error(&span, "regions must name at least one region");
        }
        let mut regions: Vec<String> = Vec::new();
        for region in raw {
            if !is_known_region(region.get_ref()) {
                self.error(
                    &region.span(),
                    format!("unknown region {:?}", region.get_ref()),
                );
            } else if regions.contains(region.get_ref()) {
                self.error(
                    &region.span(),
                    format!("region {:?} is listed twice", region.get_ref()),
                );
            } else {
                regions.push(region.into_inner());
            }
        }
        regions
    }

    fn limit(
        &mut self,
        what: &str,
        count: Option<Spanned<i64>>,
        percentage: Option<Spanned<i64>>,
        min: i64,
    ) -> Option<Limit> {
        if let (Some(_), Some(p)) = (&count, &percentage) {
            self.error(
                &p.span(),
                format!("set either {what}_count or {what}_percentage, not both"),
            );
            return None;
        }
        if let Some(c) = count {
            if *c.get_ref() < min || *c.get_ref() > i64::from(u32::MAX) {
                self.error(
                    &c.span(),
                    format!("{what}_count must be at least {min}, got {}", c.get_ref()),
                );
                return None;
            }
            return Some(Limit::Count(*c.get_ref() as u32));
        }
        if let Some(p) = percentage {
            if !(min..=100).contains(p.get_ref()) {
                self.error(
                    &p.span(),
                    format!(
                        "{what}_percentage must be between {min} and 100, got {}",
                        p.get_ref()
                    ),
                );
                return None;
            }
            return Some(Limit::Percentage(*p.get_ref() as u32));
        }
        None
    }

    /// Reads a rollout table; keys it leaves unset come from `inherited`.
    fn rollout(&mut self, raw: RawRollout, inherited: &Rollout) -> Rollout {
        let max_concurrent = self.limit(
            "max_concurrent",
            raw.max_concurrent_count,
            raw.max_concurrent_percentage,
            1,
        );
        let failure_tolerance = self.limit(
            "failure_tolerance",
            raw.failure_tolerance_count,
            raw.failure_tolerance_percentage,
            0,
        );
        let region_order = match raw.region_order {
            Some(order) => {
                let mut out: Vec<String> = Vec::new();
                for region in order {
                    if !is_known_region(region.get_ref()) {
                        self.error(
                            &region.span(),
                            format!("unknown region {:?}", region.get_ref()),
                        );
                    } else if out.contains(region.get_ref()) {
                        self.error(
                            &region.span(),
                            format!("region {:?} is listed twice", region.get_ref()),
                        );
                    } else {
                        out.push(region.into_inner());
                    }
                }
                out
            }
            None => inherited.region_order.clone(),
        };
        Rollout {
            max_concurrent: max_concurrent.or(inherited.max_concurrent),
            failure_tolerance: failure_tolerance.or(inherited.failure_tolerance),
            region_concurrency: raw.region_concurrency.or(inherited.region_concurrency),
            concurrency_mode: raw.concurrency_mode.or(inherited.concurrency_mode),
            region_order,
        }
    }

    fn ou_ref(&mut self, raw: Spanned<String>) -> Option<Located<OuRef>> {
        let value = raw.get_ref();
        let ou_ref = if value.starts_with('/') {
            if value.len() > 1 && (value.ends_with('/') || value.contains("//")) {
                self.error(
                    &raw.span(),
                    format!("malformed OU path {value:?}: use /Parent/Child, or / for the whole organization"),
                );
                return None;
            }
            OuRef::Path(value.clone())
        } else if is_ou_id(value) || is_root_id(value) {
            OuRef::Id(value.clone())
        } else {
            self.error(
                &raw.span(),
                format!(
                    "malformed OU {value:?}: expected a path from the root such as /Workloads, or an id such as ou-ab12-cdef3456 or r-ab12"
                ),
            );
            return None;
        };
        Some(self.located(ou_ref, &raw.span()))
    }

    fn accounts(&mut self, raw: Vec<Spanned<String>>) -> Vec<Located<String>> {
        let mut out: Vec<Located<String>> = Vec::new();
        for id in raw {
            if !self.account_id(&id) {
                continue;
            }
            if out.iter().any(|a| &a.value == id.get_ref()) {
                self.error(
                    &id.span(),
                    format!("account {} is listed twice", id.get_ref()),
                );
                continue;
            }
            out.push(self.located(id.get_ref().clone(), &id.span()));
        }
        out
    }

    fn stack_set(
        &mut self,
        raw: RawStackSet,
        span: &Range<usize>,
        default_regions: Option<&[String]>,
        default_rollout: &Rollout,
    ) -> Option<StackSetSpec> {
        let name = raw.name.get_ref().clone();
        if !is_stack_set_name(&name) {
            self.error(
                &raw.name.span(),
                format!(
                    "stack set name {name:?} must start with a letter, hold only letters, digits and '-', and be at most 128 characters"
                ),
            );
        }
        let regions = match raw.regions {
            Some(r) => self.regions(r),
            None => {
                match default_regions {
                    Some(r) => r.to_vec(),
                    None => {
                        self.error(
                        &raw.name.span(),
                        format!("stack set {name:?} has no regions: set regions here or in [defaults]"),
                    );
                        Vec::new()
                    }
                }
            }
        };
        let rollout = self.rollout(raw.rollout, default_rollout);
        for region in &rollout.region_order {
            if !regions.contains(region) {
                self.error(
                    &raw.name.span(),
                    format!("rollout.region_order of stack set {name:?} names {region:?}, which is not one of its regions"),
                );
            }
        }

        let mut capabilities = BTreeSet::new();
        for cap in raw.capabilities {
            if CAPABILITIES.contains(&cap.get_ref().as_str()) {
                capabilities.insert(cap.into_inner());
            } else {
                self.error(
                    &cap.span(),
                    format!(
                        "unknown capability {:?}: expected one of {}",
                        cap.get_ref(),
                        CAPABILITIES.join(", ")
                    ),
                );
            }
        }

        let mut tags = BTreeMap::new();
        for (key, value) in raw.tags {
            if key.get_ref().starts_with("aws:") || key.get_ref() == FLEET_TAG {
                self.error(
                    &key.span(),
                    format!("tag key {:?} is reserved", key.get_ref()),
                );
            } else if key.get_ref().is_empty() || key.get_ref().chars().count() > 128 {
                self.error(&key.span(), "tag keys must be 1 to 128 characters");
            } else if value.get_ref().chars().count() > 256 {
                self.error(&value.span(), "tag values must be at most 256 characters");
            } else {
                tags.insert(key.into_inner(), value.into_inner());
            }
        }
        // One tag is stackfleet's own marker.
        if tags.len() > 49 {
            self.error(
                &raw.name.span(),
                "a stack set takes at most 49 tags here (50 minus stackfleet's own)",
            );
        }

        let permission_model = raw.permission_model;
        let mut administration_role_arn = None;
        let mut execution_role_name = None;
        let mut auto_deployment = None;
        match permission_model {
            PermissionModel::SelfManaged => {
                if let Some(a) = raw.auto_deployment {
                    self.error(
                        &a.span(),
                        "auto_deployment applies only to service-managed stack sets",
                    );
                }
                if let Some(arn) = raw.administration_role_arn {
                    if !arn.get_ref().starts_with("arn:") || !arn.get_ref().contains(":role/") {
                        self.error(
                            &arn.span(),
                            format!(
                                "administration_role_arn {:?} is not an IAM role ARN",
                                arn.get_ref()
                            ),
                        );
                    }
                    administration_role_arn = Some(arn.into_inner());
                }
                if let Some(name) = raw.execution_role_name {
                    if name.get_ref().is_empty()
                        || name.get_ref().contains('/')
                        || name.get_ref().contains(':')
                    {
                        self.error(
                            &name.span(),
                            format!(
                                "execution_role_name {:?} must be a role name, not an ARN or path",
                                name.get_ref()
                            ),
                        );
                    }
                    execution_role_name = Some(name.into_inner());
                }
            }
            PermissionModel::ServiceManaged => {
                for role in [&raw.administration_role_arn, &raw.execution_role_name]
                    .into_iter()
                    .flatten()
                {
                    self.error(
                        &role.span(),
                        "administration and execution roles apply only to self-managed stack sets",
                    );
                }
                auto_deployment = raw.auto_deployment.map(Spanned::into_inner);
            }
        }

        let targets_span = raw.targets.span();
        let raw_targets = raw.targets.into_inner();
        // Judged on what was written, so that a malformed id is not also reported as "nothing".
        let targets_something =
            !raw_targets.organizational_units.is_empty() || !raw_targets.accounts.is_empty();
        let targets = Targets {
            organizational_units: raw_targets
                .organizational_units
                .into_iter()
                .filter_map(|o| self.ou_ref(o))
                .collect(),
            accounts: self.accounts(raw_targets.accounts),
            exclude_accounts: self.accounts(raw_targets.exclude_accounts),
            exclude_organizational_units: raw_targets
                .exclude_organizational_units
                .into_iter()
                .filter_map(|o| self.ou_ref(o))
                .collect(),
        };
        if !targets_something {
            self.error(
                &targets_span,
                format!("stack set {name:?} targets nothing: add organizational_units or accounts"),
            );
        }

        let template_path = PathBuf::from(raw.template.get_ref());
        let template = self.template(&raw.template, permission_model)?;

        let mut parameters = BTreeMap::new();
        let parameters_span = raw.parameters.as_ref().map(Spanned::span);
        for (key, value) in raw.parameters.map(Spanned::into_inner).unwrap_or_default() {
            if !template.parameters.contains_key(key.get_ref()) {
                self.error(
                    &key.span(),
                    format!(
                        "parameter {:?} is not declared by template {}",
                        key.get_ref(),
                        template_path.display()
                    ),
                );
                continue;
            }
            if let Some(value) = self.parameter_value(&value) {
                parameters.insert(key.into_inner(), value);
            }
        }
        for (param, decl) in &template.parameters {
            if !decl.has_default() && !parameters.contains_key(param) {
                let at = parameters_span.clone().unwrap_or_else(|| raw.name.span());
                self.error(
                    &at,
                    format!(
                        "stack set {name:?} leaves required parameter {param:?} unset (template {} gives it no Default)",
                        template_path.display()
                    ),
                );
            }
        }

        Some(StackSetSpec {
            name,
            location: self.location(span),
            description: raw.description,
            template_path,
            template,
            permission_model,
            regions,
            parameters,
            tags,
            capabilities,
            administration_role_arn,
            execution_role_name,
            auto_deployment,
            retain_stacks_on_delete: raw.retain_stacks_on_delete,
            rollout,
            targets,
        })
    }

    fn parameter_value(&mut self, value: &Spanned<toml::Value>) -> Option<String> {
        let scalar = |v: &toml::Value| match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Integer(i) => Some(i.to_string()),
            toml::Value::Float(f) => Some(f.to_string()),
            toml::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        };
        let text = match value.get_ref() {
            toml::Value::Array(items) => items
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join(",")),
            other => scalar(other),
        };
        if text.is_none() {
            self.error(
                &value.span(),
                "parameter values must be strings, numbers, booleans or lists of them",
            );
        }
        text
    }

    /// Reads the template named at `raw`, relative to fleet.toml; `None` if it cannot be used.
    fn template(&mut self, raw: &Spanned<String>, model: PermissionModel) -> Option<Template> {
        let relative = Path::new(raw.get_ref());
        let full = match self.path.parent() {
            Some(dir) => dir.join(relative),
            None => relative.to_path_buf(),
        };
        let body = match std::fs::read(&full) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(body) => body,
                Err(_) => {
                    self.error(
                        &raw.span(),
                        format!("template {} is not valid UTF-8", full.display()),
                    );
                    return None;
                }
            },
            Err(e) => {
                self.error(
                    &raw.span(),
                    format!("cannot read template {}: {e}", full.display()),
                );
                return None;
            }
        };
        if body.len() > MAX_TEMPLATE_BODY_BYTES {
            self.error(
                &raw.span(),
                format!(
                    "template {} is {} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY_BYTES} bytes inline",
                    full.display(),
                    body.len()
                ),
            );
            return None;
        }
        match parse_template(&full, &body) {
            Ok(template) => {
                if template.has_transform && model == PermissionModel::ServiceManaged {
                    self.error(
                        &raw.span(),
                        format!(
                            "template {} uses Transform, which service-managed stack sets reject",
                            full.display()
                        ),
                    );
                }
                Some(template)
            }
            Err(d) => {
                self.diagnostics.push(d);
                None
            }
        }
    }
}

/// StackSetName: a letter, then letters, digits and hyphens, at most 128 characters.
fn is_stack_set_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`, the Organizations OU id pattern.
pub fn is_ou_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("ou-") else {
        return false;
    };
    let Some((root, ou)) = rest.split_once('-') else {
        return false;
    };
    let ok = |s: &str, min: usize| {
        (min..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    ok(root, 4) && ok(ou, 8)
}

/// `^r-[0-9a-z]{4,32}$`, the Organizations root id pattern.
pub fn is_root_id(id: &str) -> bool {
    id.strip_prefix("r-").is_some_and(|s| {
        (4..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}
