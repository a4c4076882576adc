//! `stackfleet plan`: read the organization and StackSets, and show what apply would do.

use std::io::Write;

use stackfleet_planner::fleet::Fleet;
use stackfleet_planner::{Inventory, Observed, Plan, plan};

use crate::cli::{OutputFormat, PlanArgs};
use crate::error::CliError;
use crate::out_file::OutFile;
use crate::printer::Printer;
use crate::render;
use crate::session;
use crate::settings::AwsSettings;

/// What `plan` found, for the exit code.
pub struct Outcome {
    /// Whether applying would change anything.
    pub has_changes: bool,
}

/// Runs `stackfleet plan`.
pub async fn run(
    config: &std::path::Path,
    aws: &AwsSettings,
    args: &PlanArgs,
    printer: Printer,
) -> Result<Outcome, CliError> {
    let out = args.out.as_deref().map(OutFile::open).transpose()?;
    let (fleet, session) = session::open(config, aws, printer).await?;
    let (plan, inventory, _) = plan_with(&session, &fleet, aws, printer).await?;
    let names = render::plan::names(&inventory);
    let mut stdout = std::io::stdout().lock();
    // The deletion guard is apply's; the plan says beforehand when apply will need the flag.
    let guard = match crate::commands::apply::check_deletes(&plan, false) {
        Err(CliError::DeleteNotAllowed(what)) => Some(what),
        _ => None,
    };
    let text = match args.output {
        OutputFormat::Table => {
            render::plan::table(&plan, &names, args.detail)
                + &render::plan::delete_guard_note(guard.as_deref(), false)
        }
        OutputFormat::Json => render::plan::json(&plan),
        OutputFormat::Markdown => {
            render::plan::markdown(&plan, &names)
                + &render::plan::delete_guard_note(guard.as_deref(), true)
        }
    };
    write_stdout(&mut stdout, &text)?;
    if let Some(out) = out {
        let path = out.path().display().to_string();
        out.write(&render::plan::json(&plan))?;
        printer.status(format!("saved the plan to {path}"));
    }
    Ok(Outcome {
        has_changes: plan.summary.has_changes(),
    })
}

/// Reads the state through `session` and computes the plan, which records the role it was made
/// as (so that `apply plan.json` assumes it too).
pub async fn plan_with(
    session: &session::Session,
    fleet: &Fleet,
    aws: &AwsSettings,
    printer: Printer,
) -> Result<(Plan, Inventory, Observed), CliError> {
    // Drawn before the reads: apply treats any operation that StackSets created after this time,
    // and that is not its own, as a change the plan may not have seen.
    let (nonce, planned_at) = crate::stamp::draw();
    let (inventory, observed) = session::read_fleet(session, fleet, printer).await?;
    let mut plan = plan::plan(fleet, &inventory, &observed)
        .map_err(CliError::Plan)?
        .stamped(&nonce, planned_at);
    plan.organization.assume_role_arn = aws.fleet_role(fleet).map(str::to_string);
    plan.organization.administrator_account = Some(session.caller_account.clone());
    estimate_from_history(session, &observed, &mut plan).await?;
    Ok((plan, inventory, observed))
}

/// Re-estimates the plan with each stack set's own per-instance time. Only stack sets that exist
/// and have operations to run are read, so a no-op plan or apply costs no extra call.
async fn estimate_from_history(
    session: &session::Session,
    observed: &Observed,
    plan: &mut Plan,
) -> Result<(), CliError> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    use stackfleet_planner::plan::estimate::{InstanceTime, estimate};

    let names: Vec<(&str, _)> = plan
        .stack_sets
        .iter()
        .filter(|s| !s.operations.is_empty() && observed.stack_sets.contains_key(&s.name))
        .map(|s| {
            (
                s.name.as_str(),
                stackfleet_executor::observe::call_as(s.call_as),
            )
        })
        .collect();
    let times: Vec<(String, Option<InstanceTime>)> = stream::iter(names)
        .map(|(name, as_caller)| async move {
            let time =
                stackfleet_executor::history::instance_time(&session.cfn, as_caller, name).await?;
            Ok::<_, stackfleet_executor::ExecError>((name.to_string(), time))
        })
        .buffered(stackfleet_executor::observe::READ_CONCURRENCY)
        .try_collect()
        .await?;
    let times: std::collections::BTreeMap<String, InstanceTime> = times
        .into_iter()
        .filter_map(|(name, time)| Some((name, time?)))
        .collect();
    estimate(plan, &|name| times.get(name).copied().unwrap_or_default());
    Ok(())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(out: &mut impl Write, text: &str) -> Result<(), CliError> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Write {
            path: "stdout".to_string(),
            source: e,
        }),
        _ => Ok(()),
    }
}
