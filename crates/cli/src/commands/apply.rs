//! `stackfleet apply`: carry out a plan through StackSets, safely.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use stackfleet_executor::operation::StackSetContext;
use stackfleet_executor::{ApplyReport, Event, PollPolicy, observe::call_as};
use stackfleet_planner::plan::{PLAN_FORMAT_VERSION, fingerprint};
use stackfleet_planner::{Plan, fleet};
use tokio::sync::mpsc;

use crate::cli::{ApplyArgs, ReportFormat};
use crate::commands::plan::{plan_with, write_stdout};
use crate::error::CliError;
use crate::printer::Printer;
use crate::progress::{InFlight, Progress, Style};
use crate::render;
use crate::session::{self, Session};
use crate::settings::AwsSettings;

/// Deleting more instances than this, or any stack set, needs `--allow-delete`.
pub const DELETE_GUARD: usize = 5;

/// How many times apply plans again when another operation changed a stack set under it (a
/// colleague's, or a concurrent apply's) before it gives up.
const MAX_ROUNDS: usize = 3;

/// Runs `stackfleet apply`.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &ApplyArgs,
    printer: Printer,
) -> Result<(), CliError> {
    let (session, mut plan) = match &args.plan {
        Some(path) => saved_plan(path, config, aws, printer).await?,
        None => fresh_plan(config, aws, printer).await?,
    };
    let mut reports = Vec::new();
    for round in 1..=MAX_ROUNDS {
        if !plan.summary.has_changes() {
            printer.status(render::plan::headline(&plan));
            break;
        }
        // A new round's plan is shown, guarded and confirmed like the first: it may differ.
        check_deletes(&plan, args.allow_delete)?;
        confirm(
            &plan,
            &render::plan::table(&plan, false),
            args.auto_approve,
            printer,
        )?;
        let report = execute(&session, &plan, args, printer).await?;
        let superseded = report.superseded();
        reports.push(report);
        if !superseded || args.plan.is_some() || round == MAX_ROUNDS {
            break;
        }
        printer.status(
            "another operation changed a stack set after this plan was made; planning again",
        );
        plan = fresh_plan(config, aws, printer).await?.1;
    }
    let report = ApplyReport {
        stack_sets: reports.into_iter().flat_map(|r| r.stack_sets).collect(),
    };
    if report.stack_sets.is_empty() && args.output == ReportFormat::Table {
        return Ok(());
    }
    let text = match args.output {
        ReportFormat::Table => render::apply::table(&report),
        ReportFormat::Json => render::apply::json(&report),
    };
    write_stdout(&mut std::io::stdout().lock(), &text)?;
    if report.converged() {
        return Ok(());
    }
    if report.superseded() && report.stack_sets.last().is_some_and(|s| s.superseded) {
        return Err(CliError::NotConverged(
            "another operation kept changing the stack sets while applying; run `stackfleet plan` and apply again"
                .to_string(),
        ));
    }
    let failed: usize = report
        .stack_sets
        .iter()
        .flat_map(|s| &s.operations)
        .map(|o| o.failures.len())
        .sum();
    Err(CliError::NotConverged(format!(
        "{failed} instance(s) failed{}",
        if report.stack_sets.iter().any(|s| s.error.is_some()) {
            " and some calls failed"
        } else {
            ""
        }
    )))
}

/// Plans fleet.toml now, after waiting for any operation already running on its stack sets
/// (an earlier, interrupted apply, or a colleague's), so the plan sees their result.
async fn fresh_plan(
    config: &Path,
    aws: &AwsSettings,
    printer: Printer,
) -> Result<(Session, Plan), CliError> {
    let (fleet, session) = session::open(config, aws, printer).await?;
    let (plan, _, observed) = plan_with(&session, &fleet, aws, printer).await?;
    let waited = wait_for_running(&session, &plan, observed.stack_sets.keys(), printer).await?;
    if !waited {
        return Ok((session, plan));
    }
    let (plan, _, _) = plan_with(&session, &fleet, aws, printer).await?;
    Ok((session, plan))
}

/// Waits for operations that are queued or running on `names`; true if there were any.
async fn wait_for_running<'a>(
    session: &Session,
    plan: &Plan,
    names: impl Iterator<Item = &'a String>,
    printer: Printer,
) -> Result<bool, CliError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut waited = false;
    for name in names {
        let ctx = StackSetContext {
            client: &session.cfn,
            call_as: call_as(plan.organization.call_as),
            stack_set: name,
            events: &tx,
            poll: PollPolicy::default(),
        };
        let running = ctx.running_operations().await?;
        for id in running {
            waited = true;
            printer.status(format!(
                "{name}: operation {id} is still running (an earlier apply, or someone else's); waiting for it before planning"
            ));
            ctx.wait(&id, None).await?;
            while rx.try_recv().is_ok() {}
        }
    }
    Ok(waited)
}

/// Reads a saved plan and checks that the organization and stack sets still look as they did.
async fn saved_plan(
    path: &Path,
    config: &Path,
    aws: &AwsSettings,
    printer: Printer,
) -> Result<(Session, Plan), CliError> {
    let plan_error = |reason: String| CliError::PlanFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| plan_error(e.to_string()))?;
    let mut plan: Plan = serde_json::from_str(&text).map_err(|e| {
        plan_error(format!(
            "not a stackfleet plan: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if plan.format_version != PLAN_FORMAT_VERSION {
        return Err(plan_error(format!(
            "format version {} is not {PLAN_FORMAT_VERSION}; plan again with this stackfleet",
            plan.format_version
        )));
    }
    if let Some(requested) = aws.region.as_ref()
        && *requested != plan.organization.home_region
    {
        return Err(CliError::RegionMismatch {
            path: path.display().to_string(),
            planned: plan.organization.home_region.clone(),
            requested: requested.clone(),
        });
    }
    let session = session::connect(
        aws,
        &plan.organization.home_region,
        aws.role(plan.organization.assume_role_arn.as_deref()),
        None,
        plan.organization.call_as,
        printer,
    )
    .await?;
    // Stack sets of a plan made as the management account live in that account: from any other,
    // an organization with no stack set yet would look the same and pass the fingerprint check.
    if plan.organization.call_as == stackfleet_planner::fleet::CallAs::SelfAccount
        && session.caller_account != plan.organization.management_account
    {
        return Err(CliError::StalePlan(format!(
            "plan {} was made as management account {} of organization {}, and these credentials are account {}; nothing was applied\n  use the management account's credentials (or the role the plan names)",
            path.display(),
            plan.organization.management_account,
            plan.organization.id,
            session.caller_account
        )));
    }
    if plan.is_masked() {
        let fleet = fleet::load(config)?;
        plan.unmask(&fleet).map_err(|reason| CliError::PlanFile {
            path: path.display().to_string(),
            reason: format!("{reason}; apply it next to the fleet.toml it was made from (-c)"),
        })?;
    }
    let names: Vec<String> = plan
        .stack_sets
        .iter()
        .filter(|s| s.desired.is_some())
        .map(|s| s.name.clone())
        .collect();
    let (inventory, observed) = session::read(
        &session,
        &plan.fleet,
        plan.organization.call_as,
        &names,
        printer,
    )
    .await?;
    let now = fingerprint(&inventory, &observed);
    if now != plan.fingerprint {
        return Err(CliError::StalePlan(format!(
            "the organization or the stack sets changed since plan {} was made (fingerprint {} is now {}); nothing was applied\n  run `stackfleet plan --out {}` again, review it, and apply the new plan (or run `stackfleet apply` to plan and apply in one go)",
            path.display(),
            short(&plan.fingerprint),
            short(&now),
            path.display()
        )));
    }
    printer.status(format!(
        "plan {} is current (fingerprint {})",
        path.display(),
        short(&now)
    ));
    Ok((session, plan))
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// Refuses, before any change, to delete stack sets or more than [`DELETE_GUARD`] instances
/// unless `--allow-delete` was given.
pub(crate) fn check_deletes(plan: &Plan, allow_delete: bool) -> Result<(), CliError> {
    let s = &plan.summary;
    if allow_delete || (s.delete_stack_sets == 0 && s.delete_instances <= DELETE_GUARD) {
        return Ok(());
    }
    let mut what = Vec::new();
    if s.delete_stack_sets > 0 {
        let names: Vec<&str> = plan
            .stack_sets
            .iter()
            .filter(|p| p.action == stackfleet_planner::plan::StackSetAction::Delete)
            .map(|p| p.name.as_str())
            .collect();
        what.push(format!(
            "{} stack set(s) ({})",
            s.delete_stack_sets,
            names.join(", ")
        ));
    }
    if s.delete_instances > 0 {
        what.push(format!("{} instance(s)", s.delete_instances));
    }
    Err(CliError::DeleteNotAllowed(what.join(" and ")))
}

/// Shows the plan and asks for `yes` on a terminal; refuses without one unless auto-approved.
fn confirm(plan: &Plan, table: &str, auto_approve: bool, printer: Printer) -> Result<(), CliError> {
    if auto_approve {
        printer.status(render::plan::headline(plan));
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NotConfirmed(
            "refusing to apply without confirmation: there is no terminal to ask on; review the plan and pass --auto-approve".to_string(),
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{table}\nApply this plan? Only 'yes' is accepted: ");
    let _ = err.flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::NotConfirmed(
            "apply cancelled; nothing was changed".to_string(),
        ))
    }
}

/// Runs the plan, drawing progress; Ctrl-C stops waiting and says what still runs in AWS.
async fn execute(
    session: &Session,
    plan: &Plan,
    args: &ApplyArgs,
    printer: Printer,
) -> Result<ApplyReport, CliError> {
    let style = if printer.is_quiet() {
        Style::Silent
    } else if std::io::stderr().is_terminal() && args.output == ReportFormat::Table {
        Style::Bars
    } else {
        Style::Lines
    };
    let in_flight: InFlight = Arc::new(Mutex::new(Default::default()));
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut progress = Progress::new(style, in_flight.clone());
    let drawer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            progress.handle(event);
        }
    });
    let apply = stackfleet_executor::apply(&session.cfn, plan, &tx, PollPolicy::default());
    let report = tokio::select! {
        report = apply => report,
        _ = tokio::signal::ctrl_c() => {
            let running: Vec<String> = in_flight
                .lock()
                .map(|f| f.iter().map(|(id, set)| format!("{set}: {id}")).collect())
                .unwrap_or_default();
            let list = if running.is_empty() {
                "no StackSets operation was running".to_string()
            } else {
                format!("these StackSets operations go on in AWS:\n    {}", running.join("\n    "))
            };
            return Err(CliError::Interrupted(format!(
                "{list}\n  run `stackfleet apply` again to wait for them and finish the rollout"
            )));
        }
    };
    drop(tx);
    let _ = drawer.await;
    Ok(report)
}
