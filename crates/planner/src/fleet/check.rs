//! The checker: turns the raw shapes into the [`Fleet`] model, collecting every problem with its
//! location in one pass, so the user fixes them all at once.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::diagnostic::{Diagnostic, Location};
use crate::plan::is_secret_reference;
use crate::regions::{KNOWN_REGIONS, is_known_region, is_well_formed_region};
use crate::suggest::did_you_mean;
use crate::template::{self, MAX_TEMPLATE_BODY_BYTES, Template, parse_template};

use super::ids::{is_account_id, is_ou_id, is_role_arn, is_root_id, is_stack_set_name};
use super::model::{
    CallAs, ConcurrencyMode, FLEET_TAG, Fleet, Limit, Located, OrganizationSettings, OuRef,
    PermissionModel, RETAIN_TAG, Rollout, StackSetSpec, Targets,
};
use super::raw::{RawFleet, RawOrganization, RawRollout, RawStackSet};

const CAPABILITIES: &[&str] = &[
    "CAPABILITY_AUTO_EXPAND",
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
];

/// Collects every problem in one pass, so the user fixes them all at once.
pub(super) struct Checker<'a> {
    /// The fleet.toml, to resolve template paths and name locations.
    pub path: &'a Path,
    /// Its text, to turn spans into lines and columns.
    pub text: &'a str,
    /// Every problem found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// What is accepted but worth saying (see [`Fleet::warnings`]).
    pub warnings: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn location(&self, span: &Range<usize>) -> Location {
        Location::at_span(self.path, self.text, span)
    }

    fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let location = self.location(span);
        self.diagnostics.push(Diagnostic::new(location, message));
    }

    fn warning(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let location = self.location(span);
        self.warnings.push(Diagnostic::new(location, message));
    }

    fn located<T>(&self, value: T, span: &Range<usize>) -> Located<T> {
        Located {
            value,
            location: self.location(span),
        }
    }

    /// Checks the whole file and builds the model from what passes.
    pub fn fleet(&mut self, raw: RawFleet) -> Fleet {
        let name = match raw.name {
            Some(name) => {
                if !is_stack_set_name(name.get_ref()) {
                    self.error(
                        &name.span(),
                        format!(
                            "fleet name {:?} must start with a letter and hold only letters, \
                             digits and '-'",
                            name.get_ref()
                        ),
                    );
                }
                name.into_inner()
            }
            // A default name would let two unnamed fleets in one administrator account take each
            // other's stack sets for their own, and plan to delete them.
            None => {
                self.error(
                    &(0..0),
                    "fleet.toml needs a top-level `name` (for example `name = \"security-baseline\"`): \
                     it tags the fleet's stack sets (stackfleet:fleet) and tells them apart from \
                     other fleets' in the same account",
                );
                String::new()
            }
        };
        let organization = self.organization(raw.organization);
        let default_regions = raw.defaults.regions.map(|r| self.regions(r));
        let default_rollout = self.rollout(raw.defaults.rollout, &(Rollout::recommended(), None));
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
            if let Some(mut set) = self.stack_set(
                raw_set,
                &span,
                default_regions.as_deref(),
                &default_rollout,
                organization.call_as,
            ) {
                set.managed_execution = set.managed_execution.or(raw.defaults.managed_execution);
                stack_sets.push(set);
            }
        }
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort();
        warnings.dedup();
        Fleet {
            path: self.path.to_path_buf(),
            name,
            organization,
            stack_sets,
            default_rollout: default_rollout.0,
            warnings,
        }
    }

    fn organization(&mut self, raw: RawOrganization) -> OrganizationSettings {
        let home_region = raw.home_region.get_ref().clone();
        self.region_name(&raw.home_region);
        let management_account = raw.management_account.map(|a| {
            self.account_id(&a);
            self.located(a.get_ref().clone(), &a.span())
        });
        let assume_role_arn = raw.assume_role_arn.map(|arn| {
            self.role_arn("assume_role_arn", &arn);
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
        let ok = is_account_id(id.get_ref());
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
        self.region_list(raw)
    }

    /// Whether `region` can be used: a malformed name is an error, a well-formed one that
    /// [`KNOWN_REGIONS`] lacks only a warning, since that list goes stale whenever AWS opens a
    /// region (the warning still catches a typo such as `eu-west-9`).
    fn region_name(&mut self, region: &Spanned<String>) -> bool {
        let name = region.get_ref();
        if is_known_region(name) {
            return true;
        }
        let hint = did_you_mean(name, KNOWN_REGIONS.iter().copied());
        if is_well_formed_region(name) {
            self.warning(
                &region.span(),
                format!(
                    "region {name:?} is not one this stackfleet knows and is used as written \
                     (fine for a region newer than this stackfleet; a typo fails in every \
                     account){hint}"
                ),
            );
            true
        } else {
            self.error(
                &region.span(),
                format!(
                    "malformed region {name:?}: expected a region name such as us-east-1{hint}"
                ),
            );
            false
        }
    }

    /// The usable regions of `raw`, each once; malformed and repeated ones are reported.
    fn region_list(&mut self, raw: Vec<Spanned<String>>) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for region in raw {
            if !self.region_name(&region) {
                continue;
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

    /// Reports `arn` (the value of `key`) unless it is an IAM role ARN.
    fn role_arn(&mut self, key: &str, arn: &Spanned<String>) {
        if !is_role_arn(arn.get_ref()) {
            self.error(
                &arn.span(),
                format!(
                    "{key} {:?} is not an IAM role ARN: \
                     expected arn:aws:iam::<12-digit account>:role/<name>",
                    arn.get_ref()
                ),
            );
        }
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

    /// Reads a rollout table; keys it leaves unset come from `inherited`. The span is that of
    /// the `concurrency_mode` key in force (this table's or the inherited one's), for warnings.
    fn rollout(
        &mut self,
        raw: RawRollout,
        inherited: &(Rollout, Option<Range<usize>>),
    ) -> (Rollout, Option<Range<usize>>) {
        let (inherited, inherited_mode_span) = inherited;
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
            Some(order) => self.region_list(order),
            None => inherited.region_order.clone(),
        };
        let mode_span = raw
            .concurrency_mode
            .as_ref()
            .map(Spanned::span)
            .or_else(|| inherited_mode_span.clone());
        let rollout = Rollout {
            max_concurrent: max_concurrent.or(inherited.max_concurrent),
            failure_tolerance: failure_tolerance.or(inherited.failure_tolerance),
            region_concurrency: raw.region_concurrency.or(inherited.region_concurrency),
            concurrency_mode: raw
                .concurrency_mode
                .map(Spanned::into_inner)
                .or(inherited.concurrency_mode),
            region_order,
        };
        (rollout, mode_span)
    }

    /// Warns when strict failure tolerance will hold a rollout below its `max_concurrent_*`:
    /// "In strict mode, the number of concurrent accounts starts at the lower of
    /// MaxConcurrentCount and FailureToleranceCount+1" and only goes down after failures
    /// ("StackSetOperationPreferences", CloudFormation API Reference,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).
    fn strict_cap(&mut self, name: &str, rollout: &Rollout, at: &Range<usize>) {
        if rollout.concurrency_mode == Some(ConcurrencyMode::SoftFailureTolerance) {
            return;
        }
        let tolerance = rollout.failure_tolerance.unwrap_or(Limit::Count(0));
        let plus_one = |tol: u32| format!("{tol} % of a region's accounts + 1");
        let capped = match (rollout.max_concurrent, tolerance) {
            // AWS's own default is one account at a time: nothing to cap.
            (None | Some(Limit::Count(1)), _) => None,
            (Some(Limit::Count(max)), Limit::Count(tol)) => {
                (u64::from(max) > u64::from(tol) + 1).then(|| format!("{} accounts", tol + 1))
            }
            (Some(Limit::Percentage(max)), Limit::Percentage(tol)) => {
                (max > tol).then(|| plus_one(tol))
            }
            (Some(Limit::Percentage(_)), Limit::Count(tol)) => {
                Some(format!("{} accounts", tol + 1))
            }
            (Some(Limit::Count(_)), Limit::Percentage(tol)) => (tol < 100).then(|| plus_one(tol)),
        };
        if let Some(cap) = capped {
            self.warning(
                at,
                format!(
                    "stack set {name:?}: with concurrency_mode = \"strict-failure-tolerance\" \
                     StackSets starts at the lower of max_concurrent and failure_tolerance + 1, \
                     so no more than {cap} run at once; raise failure_tolerance_* or use \
                     \"soft-failure-tolerance\" to get max_concurrent_*"
                ),
            );
        }
    }

    fn ou_ref(&mut self, raw: Spanned<String>) -> Option<Located<OuRef>> {
        let value = raw.get_ref();
        let ou_ref = if value.starts_with('/') {
            if value.len() > 1 && (value.ends_with('/') || value.contains("//")) {
                self.error(
                    &raw.span(),
                    format!(
                        "malformed OU path {value:?}: use /Parent/Child, \
                         or / for the whole organization"
                    ),
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
                    "malformed OU {value:?}: expected a path from the root such as /Workloads, \
                     or an id such as ou-ab12-cdef3456 or r-ab12"
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
        default_rollout: &(Rollout, Option<Range<usize>>),
        organization_call_as: CallAs,
    ) -> Option<StackSetSpec> {
        let name = raw.name.get_ref().clone();
        if !is_stack_set_name(&name) {
            self.error(
                &raw.name.span(),
                format!(
                    "stack set name {name:?} must start with a letter, hold only letters, \
                     digits and '-', and be at most 128 characters"
                ),
            );
        }
        let regions = match raw.regions {
            Some(r) => self.regions(r),
            None => match default_regions {
                Some(r) => r.to_vec(),
                None => {
                    self.error(
                        &raw.name.span(),
                        format!(
                            "stack set {name:?} has no regions: \
                             set regions here or in [defaults]"
                        ),
                    );
                    Vec::new()
                }
            },
        };
        let (rollout, mode_span) = self.rollout(raw.rollout, default_rollout);
        self.strict_cap(
            &name,
            &rollout,
            &mode_span.unwrap_or_else(|| raw.name.span()),
        );
        for region in &rollout.region_order {
            if !regions.contains(region) {
                self.error(
                    &raw.name.span(),
                    format!(
                        "rollout.region_order of stack set {name:?} names {region:?}, \
                         which is not one of its regions"
                    ),
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
            if key.get_ref().starts_with("aws:")
                || key.get_ref() == FLEET_TAG
                || key.get_ref() == RETAIN_TAG
            {
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
        // One tag is stackfleet's own marker; `retain_stacks_on_delete` takes a second.
        let own = 1 + usize::from(raw.retain_stacks_on_delete);
        if tags.len() > 50 - own {
            self.error(
                &raw.name.span(),
                format!(
                    "a stack set takes at most {} tags here (50 minus the {own} stackfleet adds)",
                    50 - own
                ),
            );
        }

        let permission_model = raw.permission_model;
        let call_as = self.call_as(&name, permission_model, raw.call_as, organization_call_as);
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
                    self.role_arn("administration_role_arn", &arn);
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
        let raw_targets_kept = AccountFilters {
            accounts: raw_targets.accounts.first().map(Spanned::span),
            exclude_accounts: raw_targets.exclude_accounts.first().map(Spanned::span),
            exclude_organizational_units: raw_targets
                .exclude_organizational_units
                .first()
                .map(Spanned::span),
        };
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
        if auto_deployment.is_some_and(|a| a.enabled) {
            self.auto_deployment_targets(&name, &raw_targets_kept);
        }

        let template_path = PathBuf::from(raw.template.get_ref());
        let template = self.template(&raw.template, permission_model)?;

        self.iam_capabilities(&raw.template, &template, &capabilities);

        let mut parameters = BTreeMap::new();
        let parameters_span = raw.parameters.as_ref().map(Spanned::span);
        for (key, value) in raw.parameters.map(Spanned::into_inner).unwrap_or_default() {
            if !template.parameters.contains_key(key.get_ref()) {
                self.error(
                    &key.span(),
                    format!(
                        "parameter {:?} is not declared by template {}{}",
                        key.get_ref(),
                        template_path.display(),
                        did_you_mean(
                            key.get_ref(),
                            template.parameters.keys().map(String::as_str)
                        )
                    ),
                );
                continue;
            }
            let Some(text) = self.parameter_value(&value) else {
                continue;
            };
            if template.parameters[key.get_ref()].no_echo && !is_secret_reference(&text) {
                // The value itself must never be echoed, not even in the error's snippet.
                let chars = self.text[value.span()].chars().count();
                let location = self.location(&value.span());
                self.diagnostics.push(
                    Diagnostic::new(
                        location,
                        format!(
                            "parameter {:?} is NoEcho in template {}: give it a dynamic reference \
                             such as \"{{{{resolve:secretsmanager:NAME:SecretString:KEY}}}}\" or \
                             \"{{{{resolve:ssm-secure:/PARAMETER:VERSION}}}}\", not the secret \
                             itself (or leave it unset to use the template's Default)",
                            key.get_ref(),
                            template_path.display()
                        ),
                    )
                    .hiding(chars),
                );
                continue;
            }
            parameters.insert(key.into_inner(), text);
        }
        for (param, decl) in &template.parameters {
            if !decl.has_default() && !parameters.contains_key(param) {
                let at = parameters_span.clone().unwrap_or_else(|| raw.name.span());
                self.error(
                    &at,
                    format!(
                        "stack set {name:?} leaves required parameter {param:?} unset \
                         (template {} gives it no Default)",
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
            call_as,
            regions,
            parameters,
            tags,
            capabilities,
            administration_role_arn,
            execution_role_name,
            auto_deployment,
            retain_stacks_on_delete: raw.retain_stacks_on_delete,
            adopt: raw.adopt,
            rollout,
            managed_execution: raw.managed_execution,
            targets,
        })
    }

    /// The stack set's `CallAs`. A self-managed stack set lives in the caller's account and is
    /// always called as `SELF` ("Use SELF for StackSets with self-managed permissions"); a
    /// service-managed one as its own `call_as`, else `organization.call_as`. Only the
    /// management account may call a service-managed one as `SELF`, so that cannot be mixed with
    /// `organization.call_as = "delegated-admin"` ("CreateStackSet", CloudFormation API
    /// Reference, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
    fn call_as(
        &mut self,
        name: &str,
        model: PermissionModel,
        raw: Option<Spanned<CallAs>>,
        organization: CallAs,
    ) -> CallAs {
        match (model, raw) {
            (PermissionModel::SelfManaged, Some(c)) if *c.get_ref() == CallAs::DelegatedAdmin => {
                self.error(
                    &c.span(),
                    format!(
                        "stack set {name:?} is self-managed, and StackSets calls a self-managed \
                         stack set only as SELF (it lives in the caller's account, whatever \
                         organization.call_as says): remove call_as here, or make it \
                         permission_model = \"service-managed\""
                    ),
                );
                CallAs::SelfAccount
            }
            (PermissionModel::SelfManaged, _) => CallAs::SelfAccount,
            (PermissionModel::ServiceManaged, Some(c))
                if *c.get_ref() == CallAs::SelfAccount
                    && organization == CallAs::DelegatedAdmin =>
            {
                self.error(
                    &c.span(),
                    format!(
                        "stack set {name:?} is service-managed with call_as = \"self\", which \
                         only the organization's management account may use, but \
                         organization.call_as = \"delegated-admin\" says stackfleet runs as a \
                         delegated administrator: remove call_as here (it then follows \
                         organization.call_as)"
                    ),
                );
                CallAs::DelegatedAdmin
            }
            (PermissionModel::ServiceManaged, Some(c)) => c.into_inner(),
            (PermissionModel::ServiceManaged, None) => organization,
        }
    }

    /// With auto-deployment on, StackSets deploys to every account that joins a targeted OU
    /// (nested OUs included) and deletes the instances of accounts that leave, whatever account
    /// filter the operations used ("AutoDeployment", CloudFormation API Reference,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html;
    /// "Enable or disable automatic deployments for StackSets in AWS Organizations",
    /// CloudFormation User Guide,
    /// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html).
    /// So the stack set targets exactly fleet.toml's OUs, and account-level targeting, which AWS
    /// would undo on the next account move, is refused.
    fn auto_deployment_targets(&mut self, name: &str, filters: &AccountFilters) {
        let why = "StackSets' auto-deployment ignores account filters: it deploys to every \
                   account that joins a targeted OU (nested OUs included) and removes the \
                   instances of accounts that leave";
        if let Some(span) = &filters.accounts {
            self.error(
                span,
                format!(
                    "stack set {name:?} has auto_deployment enabled, so it can target only OUs: \
                     {why}; target the accounts' OU, or set auto_deployment.enabled = false to \
                     target single accounts"
                ),
            );
        }
        for (span, key) in [
            (&filters.exclude_accounts, "exclude_accounts"),
            (
                &filters.exclude_organizational_units,
                "exclude_organizational_units",
            ),
        ] {
            if let Some(span) = span {
                self.error(
                    span,
                    format!(
                        "stack set {name:?} has auto_deployment enabled, which cannot honour \
                         {key}: {why}, so AWS would deploy there and stackfleet delete again; \
                         move what you exclude out of the targeted OUs (or target their sibling \
                         OUs), or set auto_deployment.enabled = false"
                    ),
                );
            }
        }
    }

    /// CloudFormation refuses a template with IAM resources unless `CAPABILITY_IAM` or
    /// `CAPABILITY_NAMED_IAM` is acknowledged (the named one when they have custom names):
    /// said here instead of by the first operation, in every account.
    fn iam_capabilities(
        &mut self,
        raw: &Spanned<String>,
        template: &Template,
        capabilities: &BTreeSet<String>,
    ) {
        let iam = template::iam_resources(&template.body);
        let named: Vec<&str> = iam
            .iter()
            .filter(|(_, named)| *named)
            .map(|(id, _)| id.as_str())
            .collect();
        let has = |c: &str| capabilities.contains(c);
        if !named.is_empty() && !has("CAPABILITY_NAMED_IAM") {
            self.error(
                &raw.span(),
                format!(
                    "template {} creates IAM resources with custom names ({}): add \
                     capabilities = [\"CAPABILITY_NAMED_IAM\"] to the stack set, or CloudFormation \
                     refuses it with InsufficientCapabilities",
                    raw.get_ref(),
                    named.join(", ")
                ),
            );
        } else if !iam.is_empty() && !has("CAPABILITY_IAM") && !has("CAPABILITY_NAMED_IAM") {
            let ids: Vec<&str> = iam.iter().map(|(id, _)| id.as_str()).collect();
            self.error(
                &raw.span(),
                format!(
                    "template {} creates IAM resources ({}): add capabilities = \
                     [\"CAPABILITY_IAM\"] to the stack set, or CloudFormation refuses it with \
                     InsufficientCapabilities",
                    raw.get_ref(),
                    ids.join(", ")
                ),
            );
        }
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
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let full = dir.join(relative);
        if let Err(reason) = template_file_allowed(&dir, &full, relative.is_absolute()) {
            self.error(&raw.span(), reason);
            return None;
        }
        let body = match read_at_most(&full, MAX_TEMPLATE_BODY_BYTES + 1) {
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
                    "template {} is more than {MAX_TEMPLATE_BODY_BYTES} bytes, \
                     the most CloudFormation takes inline",
                    full.display(),
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

/// A template must be a regular file (not a device, a FIFO or a directory, which could block or
/// never end), and a relative path must stay under fleet.toml's directory once symbolic links are
/// resolved: a reviewed fleet.toml cannot pull in a file from elsewhere unless it says so with an
/// absolute path.
fn template_file_allowed(dir: &Path, full: &Path, absolute: bool) -> Result<(), String> {
    let meta = std::fs::metadata(full)
        .map_err(|e| format!("cannot read template {}: {e}", full.display()))?;
    if !meta.is_file() {
        return Err(format!("template {} is not a regular file", full.display()));
    }
    if absolute {
        return Ok(());
    }
    let (base, target) = (
        dir.canonicalize()
            .map_err(|e| format!("cannot resolve fleet.toml's directory: {e}"))?,
        full.canonicalize()
            .map_err(|e| format!("cannot resolve template {}: {e}", full.display()))?,
    );
    if target.starts_with(&base) {
        Ok(())
    } else {
        Err(format!(
            "template {} resolves to {}, outside fleet.toml's directory {}; write an absolute \
             path to use a template from elsewhere",
            full.display(),
            target.display(),
            base.display()
        ))
    }
}

/// Reads at most `limit` bytes: enough to tell that a file is too large without reading it all.
fn read_at_most(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(u64::try_from(limit).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Where the account-level keys of `[stack_sets.targets]` start (their first entry), for the
/// auto-deployment check.
struct AccountFilters {
    accounts: Option<Range<usize>>,
    exclude_accounts: Option<Range<usize>>,
    exclude_organizational_units: Option<Range<usize>>,
}
