//! The settings diff: which settings of an existing stack set differ from fleet.toml, and the
//! template's unified diff.

use std::collections::BTreeSet;

use crate::fleet::AutoDeployment;
use crate::observed::ObservedStackSet;
use crate::template::Template;

use super::model::{DesiredStackSet, FieldChange};
use super::noecho::{MASK, NOECHO_TAG};

const DEFAULT_ADMINISTRATION_ROLE: &str = "AWSCloudFormationStackSetAdministrationRole";
const DEFAULT_EXECUTION_ROLE: &str = "AWSCloudFormationStackSetExecutionRole";

/// The settings that differ between StackSets and fleet.toml, and the template diff.
pub(super) fn stack_set_changes(
    observed: &ObservedStackSet,
    desired: &DesiredStackSet,
    template: &Template,
) -> (Vec<FieldChange>, Option<String>) {
    let mut changes = Vec::new();
    let mut change = |field: String, before: Option<&str>, after: Option<&str>| {
        changes.push(FieldChange {
            field,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        });
    };

    let mut template_diff = None;
    if observed.template_body != desired.template_body {
        change("template".to_string(), None, None);
        template_diff = Some(
            similar::TextDiff::from_lines(&observed.template_body, &desired.template_body)
                .unified_diff()
                .context_radius(3)
                .header("deployed", "fleet.toml")
                .to_string(),
        );
    }
    if desired.description.is_some() && observed.description != desired.description {
        change(
            "description".to_string(),
            observed.description.as_deref(),
            desired.description.as_deref(),
        );
    }

    // A parameter left unset takes the template's default, whether StackSets lists it or not.
    let default = |key: &String| {
        template
            .parameters
            .get(key)
            .and_then(|p| p.default.as_deref())
    };
    let references_unchanged = observed.tags.get(NOECHO_TAG) == desired.tags.get(NOECHO_TAG);
    let keys: BTreeSet<&String> = observed
        .parameters
        .keys()
        .chain(desired.parameters.keys())
        .collect();
    for key in keys {
        let before = observed
            .parameters
            .get(key)
            .map(String::as_str)
            .or_else(|| default(key));
        let after = desired
            .parameters
            .get(key)
            .map(String::as_str)
            .or_else(|| default(key));
        let secret = desired.no_echo_parameters.contains(key);
        // StackSets answers `****` for a NoEcho value: the references it was last given are
        // compared through their tag instead (a reference left unset keeps the template's
        // Default, which the template diff covers).
        if before == after
            || (secret
                && before == Some(MASK)
                && (!desired.parameters.contains_key(key) || references_unchanged))
        {
            continue;
        }
        change(format!("parameters.{key}"), before, after);
    }

    // The fleet marker is compared like any tag: a stack set is ours only if it carries it, and
    // adopting one (`adopt = true`) is a change reviewers see in the plan.
    let observed_tags = &observed.tags;
    let desired_tags = &desired.tags;
    let keys: BTreeSet<&String> = observed_tags.keys().chain(desired_tags.keys()).collect();
    for key in keys {
        let before = observed_tags.get(key).map(String::as_str);
        let after = desired_tags.get(key).map(String::as_str);
        if before != after {
            change(format!("tags.{key}"), before, after);
        }
    }

    // Capabilities are not compared: they acknowledge what a template may do and are sent with
    // every create and update, so a change of them alone is no reason to touch every instance.
    if !same_role(
        observed.administration_role_arn.as_deref(),
        desired.administration_role_arn.as_deref(),
        DEFAULT_ADMINISTRATION_ROLE,
    ) {
        change(
            "administration_role_arn".to_string(),
            observed.administration_role_arn.as_deref(),
            desired.administration_role_arn.as_deref(),
        );
    }
    if !same_role(
        observed.execution_role_name.as_deref(),
        desired.execution_role_name.as_deref(),
        DEFAULT_EXECUTION_ROLE,
    ) {
        change(
            "execution_role_name".to_string(),
            observed.execution_role_name.as_deref(),
            desired.execution_role_name.as_deref(),
        );
    }
    // With auto-deployment off, AWS keeps no RetainStacksOnAccountRemoval to compare with.
    let same_auto_deployment = |wanted: AutoDeployment| match observed.auto_deployment {
        Some(seen) if !wanted.enabled => !seen.enabled,
        seen => seen == Some(wanted),
    };
    if let Some(wanted) = desired.auto_deployment
        && !same_auto_deployment(wanted)
    {
        let show = |a: Option<AutoDeployment>| {
            a.map(|a| {
                format!(
                    "enabled={} retain_stacks_on_account_removal={}",
                    a.enabled, a.retain_stacks_on_account_removal
                )
            })
        };
        change(
            "auto_deployment".to_string(),
            show(observed.auto_deployment).as_deref(),
            show(Some(wanted)).as_deref(),
        );
    }
    if let Some(wanted) = desired.managed_execution
        && wanted != observed.managed_execution
    {
        let show = |on: bool| Some(if on { "active" } else { "inactive" });
        change(
            "managed_execution".to_string(),
            show(observed.managed_execution),
            show(wanted),
        );
    }
    (changes, template_diff)
}

/// Whether a role setting matches: unset in fleet.toml means the AWS default role, which
/// StackSets reports by name or ARN.
fn same_role(observed: Option<&str>, desired: Option<&str>, default: &str) -> bool {
    let name = |r: &str| r.rsplit('/').next().unwrap_or(r).to_string();
    match (observed, desired) {
        (o, Some(d)) => o == Some(d),
        (None, None) => true,
        (Some(o), None) => name(o) == default,
    }
}
