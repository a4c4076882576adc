//! `stackfleet apply`: carry out a plan through StackSets, safely.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use stackfleet_executor::operation::StackSetContext;
use stackfleet_executor::{ApplyReport, Event, PollPolicy, observe::call_as};
use stackfleet_planner::plan::{PLAN_FORMAT_VERSION, StackSetAction};
use stackfleet_planner::{Plan, fleet};
use tokio::sync::mpsc;

use crate::cli::{ApplyArgs, ReportFormat};
use crate::commands::plan::{plan_with, write_stdout};
use crate::error::CliError;
use crate::printer::Printer;
use crate::progress::{Ended, InFlight, Progress, Style};
use crate::render;
use crate::render::plan::Names;
use crate::session::{self, Session};
use crate::settings::AwsSettings;

/// Deleting more instances than this, or any stack set, needs `--allow-delete`.
pub const DELETE_GUARD: usize = 5;

/// How many times apply plans again when another operation changed a stack set under it (a
/// colleague's, or a concurrent apply's) before it gives up.
const MAX_ROUNDS: usize = 3;

/// What this apply has set going, for the report of Ctrl-C.
#[derive(Clone, Default)]
struct Record {
    /// The plan being carried out, once confirmed.
    plan: Arc<Mutex<Option<Plan>>>,
    /// Operations that ended.
    ended: Ended,
}

/// Runs `stackfleet apply`. Ctrl-C, at any point, stops it with the truth about StackSets:
/// which operations were started and go on in AWS, which ended, which were never started.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &ApplyArgs,
    printer: Printer,
) -> Result<(), CliError> {
    let record = Record::default();
    tokio::select! {
        result = apply(config, aws, args, printer, &record) => result,
        _ = tokio::signal::ctrl_c() => {
            let plan = record.plan.lock().ok().and_then(|p| p.clone());
            let running = aws.pending.operations().lock().map(|r| r.clone()).unwrap_or_default();
            let ended = record.ended.lock().map(|e| e.clone()).unwrap_or_default();
            Err(CliError::Interrupted(render::apply::interrupted(
                plan.as_ref(),
                &running,
                &ended,
                &aws.pending.snapshot().calls,
            )))
        }
    }
}

async fn apply(
    config: &Path,
    aws: &AwsSettings,
    args: &ApplyArgs,
    printer: Printer,
    record: &Record,
) -> Result<(), CliError> {
    let (session, mut plan, mut names) = match &args.plan {
        Some(path) => saved_plan(path, config, aws, printer).await?,
        None => fresh_plan(config, aws, printer).await?,
    };
    let mut reports = Vec::new();
    // Whether the last round ended well, and whether StackSets must be read again to prove it (a
    // round that planned no change has just read it).
    let (mut last_converged, mut verify_after) = (true, false);
    for round in 1..=MAX_ROUNDS {
        if !plan.summary.has_changes() {
            printer.status(render::plan::headline(&plan));
            (last_converged, verify_after) = (true, false);
            break;
        }
        // A new round's plan is shown, guarded and confirmed like the first: it may differ.
        check_deletes(&plan, args.allow_delete)?;
        confirm(
            &render::plan::apply_table(&plan, &names),
            args.auto_approve,
            printer,
        )
        .await?;
        if let Ok(mut current) = record.plan.lock() {
            *current = Some(plan.clone());
        }
        let report = execute(&session, &plan, aws, args, printer, &record.ended).await?;
        let superseded = report.superseded();
        last_converged = report.converged();
        verify_after = last_converged;
        reports.push(report);
        if !superseded || args.plan.is_some() || round == MAX_ROUNDS {
            break;
        }
        printer.status(
            "another operation changed a stack set after this plan was made; planning again",
        );
        (_, plan, names) = fresh_plan(config, aws, printer).await?;
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
    // Earlier rounds stopped because another operation changed a stack set; what counts is how
    // the last round ended, and then what StackSets holds.
    if last_converged {
        return if verify_after {
            verify(config, aws, printer).await
        } else {
            Ok(())
        };
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
        "{} failed{}",
        render::count(failed, "instance", "instances"),
        if report.stack_sets.iter().any(|s| s.error.is_some()) {
            " and some calls failed"
        } else {
            ""
        }
    )))
}

/// Reads the state again after apply and fails unless planning gives no change: the operations'
/// statuses alone do not prove that the stack sets are what fleet.toml says (an operation taken
/// for ours that was not, a change made meanwhile by someone else).
async fn verify(config: &Path, aws: &AwsSettings, printer: Printer) -> Result<(), CliError> {
    let (_, plan, _) = fresh_plan(config, aws, printer).await?;
    if !plan.summary.has_changes() {
        printer.status("checked: the stack sets match fleet.toml");
        return Ok(());
    }
    let left: Vec<String> = plan
        .stack_sets
        .iter()
        .filter(|s| s.action != StackSetAction::None || !s.operations.is_empty())
        .map(|s| s.name.clone())
        .collect();
    Err(CliError::NotConverged(format!(
        "apply ended, but reading StackSets again still shows changes for {} ({}); run `stackfleet plan` to see them",
        left.join(", "),
        render::plan::headline(&plan)
    )))
}

/// Plans fleet.toml now, after waiting for any operation already running on its stack sets
/// (an earlier, interrupted apply, or a colleague's), so the plan sees their result.
async fn fresh_plan(
    config: &Path,
    aws: &AwsSettings,
    printer: Printer,
) -> Result<(Session, Plan, Names), CliError> {
    let (fleet, session) = session::open(config, aws, printer).await?;
    let (plan, inventory, observed) = plan_with(&session, &fleet, aws, printer).await?;
    let waited = wait_for_running(&session, &plan, observed.stack_sets.keys(), printer).await?;
    if !waited {
        return Ok((session, plan, render::plan::names(&inventory)));
    }
    let (plan, inventory, _) = plan_with(&session, &fleet, aws, printer).await?;
    Ok((session, plan, render::plan::names(&inventory)))
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
        // The stack set's own CallAs; one that left the plan is found under the fleet's.
        let caller = plan
            .stack_sets
            .iter()
            .find(|s| &s.name == name)
            .map_or(plan.organization.call_as, |s| s.call_as);
        let ctx = StackSetContext {
            client: &session.cfn,
            call_as: call_as(caller),
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
) -> Result<(Session, Plan, Names), CliError> {
    let plan_error = |reason: String| CliError::PlanFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| plan_error(e.to_string()))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
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
    // Everything is planned again from fleet.toml and the current state; the file is only
    // accepted if that gives the same plan. Its role, fleet and stack sets are never trusted.
    let mut fleet = fleet::load(config)?;
    aws.apply_to(&mut fleet);
    fleet.organization.home_region = plan.organization.home_region.clone();
    let session = session::connect(
        aws,
        &fleet.organization.home_region,
        aws.fleet_role(&fleet),
        fleet.organization.management_account.as_ref(),
        fleet.organization.call_as,
        printer,
    )
    .await?;
    // Stack sets called as SELF live in the account that planned them (the management account,
    // or a self-managed administrator account): from any other, a fleet with no stack set yet
    // would look the same and pass the fingerprint check. A plan without the field is older and
    // was made as the management account.
    let calls_as_self = plan.organization.call_as == stackfleet_planner::fleet::CallAs::SelfAccount
        || plan
            .stack_sets
            .iter()
            .any(|s| s.call_as == stackfleet_planner::fleet::CallAs::SelfAccount);
    let made_by = plan
        .organization
        .administrator_account
        .as_deref()
        .unwrap_or(&plan.organization.management_account);
    if calls_as_self && session.caller_account != made_by {
        let role = if made_by == plan.organization.management_account {
            "management account"
        } else {
            "StackSets administrator account"
        };
        return Err(CliError::StalePlan(format!(
            "plan {} was made as {role} {made_by} of organization {}, and these credentials are account {}; nothing was applied\n  use that account's credentials (or the role the plan names)",
            path.display(),
            plan.organization.id,
            session.caller_account
        )));
    }
    let (now, inventory, _) = plan_with(&session, &fleet, aws, printer).await?;
    if now.fingerprint != plan.fingerprint {
        return Err(CliError::StalePlan(format!(
            "the organization or the stack sets changed since plan {} was made (fingerprint {} is now {}); nothing was applied\n  run `stackfleet plan --out {}` again, review it, and apply the new plan (or run `stackfleet apply` to plan and apply in one go)",
            path.display(),
            short(&plan.fingerprint),
            short(&now.fingerprint),
            path.display()
        )));
    }
    let read_at = now.planned_at;
    let now = now.stamped(&plan.nonce, plan.planned_at);
    if let Some(difference) = difference(&plan, &now) {
        return Err(CliError::StalePlan(format!(
            "plan {} is not what fleet.toml and the current state give ({difference}); nothing was applied\n  a saved plan is applied only as `stackfleet plan` would make it now: run `stackfleet plan --out {}` again and review it",
            path.display(),
            path.display()
        )));
    }
    printer.status(format!(
        "plan {} is current (fingerprint {}) and is what fleet.toml gives",
        path.display(),
        short(&now.fingerprint)
    ));
    // The saved plan's operations, timed from this reading: what happened between the saved
    // plan and now is in the state just compared, and only later operations must stop apply.
    Ok((
        session,
        now.stamped(&plan.nonce, read_at),
        render::plan::names(&inventory),
    ))
}

/// Where a saved plan differs from the plan made again with its nonce, masked values aside;
/// `None` if nowhere.
fn difference(saved: &Plan, now: &Plan) -> Option<String> {
    let (saved, now) = (comparable(saved), comparable(now));
    if saved == now {
        return None;
    }
    let mut fields = Vec::new();
    macro_rules! field {
        ($($f:ident),*) => {$(
            if saved.$f != now.$f {
                fields.push(stringify!($f).to_string());
            }
        )*};
    }
    field!(
        format_version,
        fingerprint,
        fleet,
        nonce,
        planned_at,
        organization,
        summary
    );
    let names = |p: &Plan| {
        p.stack_sets
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    if names(&saved) != names(&now) {
        fields.push(format!(
            "stack sets [{}] instead of [{}]",
            names(&saved).join(", "),
            names(&now).join(", ")
        ));
    } else {
        for (a, b) in saved.stack_sets.iter().zip(&now.stack_sets) {
            if a != b {
                fields.push(format!("stack set {}", a.name));
            }
        }
    }
    Some(format!("differs in {}", fields.join(", ")))
}

/// A plan with NoEcho values and their digests taken out: the only parts a saved plan may
/// legitimately hold differently from the plan made again.
fn comparable(plan: &Plan) -> Plan {
    // NoEcho parameters hold dynamic references (never secrets), so they are compared as they are.
    // The time estimate is not part of what apply does, and moves as operation history grows.
    let mut plan = plan.clone();
    plan.summary.estimated_seconds = 0;
    for set in &mut plan.stack_sets {
        set.instance_time = None;
        for op in &mut set.operations {
            op.estimated_seconds = 0;
        }
    }
    plan
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// Refuses, before any change, to delete stack sets or to remove more than [`DELETE_GUARD`]
/// things from the accounts (instances, and template resources once per stack that loses them)
/// unless `--allow-delete` was given. Counted from the operations and template changes apply will
/// run ([`stackfleet_planner::plan::removals`]), never from the plan's summary (a saved plan's
/// summary is only a claim).
pub(crate) fn check_deletes(plan: &Plan, allow_delete: bool) -> Result<(), CliError> {
    let removals = stackfleet_planner::plan::removals(plan);
    if allow_delete || (removals.stack_sets.is_empty() && removals.total() <= DELETE_GUARD) {
        return Ok(());
    }
    Err(CliError::DeleteNotAllowed(removals.describe()))
}

/// Shows the plan and asks for `yes` on a terminal; refuses without one unless auto-approved.
/// Auto-approved, it shows the plan all the same (as terraform does): a CI log then records
/// what was applied, not only a summary line.
async fn confirm(table: &str, auto_approve: bool, printer: Printer) -> Result<(), CliError> {
    if auto_approve {
        printer.status(table.trim_end());
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
    // Read on a thread of its own, so that Ctrl-C at the prompt is heard (a blocking read here
    // would hold the runtime); the thread ends with the process.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        let _ = tx.send(answer);
    });
    let answer = rx.await.unwrap_or_default();
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CliError::NotConfirmed(
            "apply cancelled; nothing was changed".to_string(),
        ))
    }
}

/// Runs the plan, drawing progress and recording which operations run and ended.
async fn execute(
    session: &Session,
    plan: &Plan,
    aws: &AwsSettings,
    args: &ApplyArgs,
    printer: Printer,
    ended: &Ended,
) -> Result<ApplyReport, CliError> {
    let style = if printer.is_quiet() {
        Style::Silent
    } else if std::io::stderr().is_terminal() && args.output == ReportFormat::Table {
        Style::Bars
    } else {
        Style::Lines
    };
    // Shared with --timeout, which names these operations too when it stops the command.
    let in_flight: InFlight = aws.pending.operations();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut progress = Progress::new(style, in_flight, ended.clone());
    let drawer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            progress.handle(event);
        }
    });
    let report = stackfleet_executor::apply(&session.cfn, plan, &tx, PollPolicy::default()).await;
    drop(tx);
    let _ = drawer.await;
    Ok(report)
}
