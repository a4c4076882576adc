//! `stackfleet drift`: detect changes made outside StackSets and show them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_executor::drift::{self, StackSetDrift};
use stackfleet_executor::history;
use stackfleet_executor::observe::call_as;
use stackfleet_executor::operation::StackSetContext;
use stackfleet_executor::{Event, PollPolicy};
use stackfleet_planner::Fleet;
use stackfleet_planner::Observed;
use stackfleet_planner::plan::{MASK, estimate};
use tokio::sync::mpsc;

use crate::cli::{DriftArgs, OutputFormat};
use crate::commands::plan::write_stdout;
use crate::error::CliError;
use crate::printer::Printer;
use crate::progress::{Progress, Style};
use crate::render;
use crate::render::drift::{DriftReport, Verdict};
use crate::session;
use crate::settings::AwsSettings;

/// Stack sets whose drift is detected at once (each is its own StackSets operation).
const CONCURRENCY: usize = 4;

/// Runs `stackfleet drift`; returns what the report proves, for the exit code.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &DriftArgs,
    printer: Printer,
) -> Result<Verdict, CliError> {
    let (fleet, session) = session::open(config, aws, printer).await?;
    let names: Vec<String> = fleet.stack_sets.iter().map(|s| s.name.clone()).collect();
    let observed = session::observe(&session.cfn, &fleet, &names).await?;
    let existing: Vec<&String> = names
        .iter()
        .filter(|n| observed.stack_sets.contains_key(*n))
        .collect();
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !observed.stack_sets.contains_key(*n))
        .cloned()
        .collect();

    // Each run's detection gets its own id: reusing one would make StackSets answer with an
    // earlier detection's result.
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let style = if printer.is_quiet() {
        Style::Silent
    } else {
        Style::Lines
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    // Shared with --timeout, which names a drift detection still running when it stops.
    let mut progress = Progress::new(style, aws.pending.operations(), Default::default());
    let drawer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            progress.handle(event);
        }
    });
    let reports: Vec<StackSetDrift> = stream::iter(existing)
        .map(|name| {
            // Detection runs with the stack set's rollout, like its other operations, and as
            // the stack set's CallAs (SELF when self-managed).
            let spec = fleet.stack_sets.iter().find(|s| &s.name == name);
            let rollout = spec.map(|s| s.rollout.clone()).unwrap_or_default();
            let ctx = StackSetContext {
                client: &session.cfn,
                call_as: call_as(spec.map_or(fleet.organization.call_as, |s| s.call_as)),
                stack_set: name,
                events: &tx,
                poll: PollPolicy::default(),
            };
            let no_detect = args.no_detect;
            let accounts_per_region = accounts_per_region(&observed, name);
            let session = &session;
            async move {
                let detection = if no_detect {
                    drift::last_detection(&ctx).await?
                } else {
                    printer.status(format!("{name}: starting drift detection"));
                    // Polled first when it should end, as apply polls its operations; the
                    // instance time is the plan's (the stack set's history, or the default). It
                    // only times the polls: a history that cannot be read keeps the default.
                    let time = history::instance_time(&session.cfn, ctx.call_as.clone(), name)
                        .await
                        .unwrap_or_else(|e| {
                            tracing::debug!(stack_set = %name, error = %e, "no instance time from the history");
                            None
                        })
                        .unwrap_or_default();
                    let estimate = Duration::from_secs(estimate::detection_seconds(
                        &rollout,
                        &accounts_per_region,
                        time,
                    ));
                    let (id, outcome) = drift::detect(
                        &ctx,
                        &format!("stackfleet-drift-{stamp}"),
                        &rollout,
                        Some(estimate),
                    )
                    .await?;
                    Some((id, outcome.status))
                };
                drift::report(&ctx, detection).await
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    drop(tx);
    let _ = drawer.await;
    let mut reports = reports;
    mask_secrets(&mut reports, &fleet);

    let report = DriftReport {
        stack_sets: reports,
        missing,
    };
    let text = match args.output {
        OutputFormat::Table => render::drift::table(&report),
        OutputFormat::Json => render::drift::json(&report),
        OutputFormat::Markdown => render::drift::markdown(&report),
    };
    write_stdout(&mut std::io::stdout().lock(), &text)?;
    let verdict = render::drift::verdict(&report);
    if args.fail_on_drift && verdict.drifted == 0 && !verdict.complete() {
        // Said even with --quiet: it is why the command fails.
        eprintln!(
            "error: --fail-on-drift: drift is unknown, because not everything was checked:\n  - {}",
            verdict.not_checked.join("\n  - ")
        );
    }
    Ok(verdict)
}

/// How many accounts the stack set has in each of its Regions, as observed.
fn accounts_per_region(observed: &Observed, name: &str) -> Vec<usize> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for instance in observed
        .stack_sets
        .get(name)
        .map_or(&[][..], |s| &s.instances)
    {
        *counts.entry(instance.region.as_str()).or_default() += 1;
    }
    counts.into_values().collect()
}

/// Replaces the expected and actual values of every property difference of a resource that
/// uses a NoEcho parameter with [`MASK`]: CloudFormation compares resolved values, which may be
/// the secret a dynamic reference points at. The property path stays, so the drift is still seen.
fn mask_secrets(reports: &mut [StackSetDrift], fleet: &Fleet) {
    for report in reports {
        let Some(spec) = fleet.stack_sets.iter().find(|s| s.name == report.name) else {
            continue;
        };
        let secret = spec.template.resources_using_secrets();
        let resources = report
            .instances
            .iter_mut()
            .flat_map(|i| i.resources.iter_mut())
            .filter(|r| secret.contains(&r.logical_id));
        for resource in resources {
            for d in &mut resource.differences {
                d.expected = MASK.to_string();
                d.actual = MASK.to_string();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use stackfleet_executor::drift::{InstanceDrift, PropertyDrift, ResourceDrift, StackSetDrift};

    use super::mask_secrets;

    const TEMPLATE: &str = "Parameters:\n  Token:\n    Type: String\n    NoEcho: \"True\"\n    Default: ''\nResources:\n  Secret:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: !Ref Token\n  Plain:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: plain\n";

    fn resource(id: &str, expected: &str, actual: &str) -> ResourceDrift {
        ResourceDrift {
            logical_id: id.to_string(),
            resource_type: "AWS::SSM::Parameter".to_string(),
            status: "MODIFIED".to_string(),
            differences: vec![PropertyDrift {
                path: "/Value".to_string(),
                expected: expected.to_string(),
                actual: actual.to_string(),
                kind: "NOT_EQUAL".to_string(),
            }],
        }
    }

    #[test]
    fn drift_values_of_resources_fed_by_a_noecho_parameter_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yaml"), TEMPLATE).unwrap();
        let path = dir.path().join("fleet.toml");
        let text = "name = \"f\"\n[organization]\nhome_region = \"us-east-1\"\n[[stack_sets]]\nname = \"monitor\"\ntemplate = \"t.yaml\"\npermission_model = \"self-managed\"\nregions = [\"us-east-1\"]\n[stack_sets.targets]\norganizational_units = [\"/\"]\n";
        std::fs::write(&path, text).unwrap();
        let fleet = stackfleet_planner::fleet::parse(&path, text).unwrap();
        let mut reports = vec![StackSetDrift {
            name: "monitor".to_string(),
            operation_id: None,
            detection_status: None,
            instances: vec![InstanceDrift {
                account: "111111111111".to_string(),
                region: "us-east-1".to_string(),
                drift_status: "DRIFTED".to_string(),
                resources: vec![
                    resource("Secret", "hunter2", "changed-by-hand"),
                    resource("Plain", "plain", "edited"),
                ],
            }],
        }];
        mask_secrets(&mut reports, &fleet);
        let shown = crate::render::drift::json(&crate::render::drift::DriftReport {
            stack_sets: reports.clone(),
            missing: vec![],
        });
        assert!(
            !shown.contains("hunter2") && !shown.contains("changed-by-hand"),
            "{shown}"
        );
        assert!(shown.contains("\"edited\""), "{shown}");
        let secret = &reports[0].instances[0].resources[0].differences[0];
        assert_eq!(
            (secret.expected.as_str(), secret.actual.as_str()),
            ("****", "****")
        );
    }
}
