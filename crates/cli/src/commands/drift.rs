//! `stackfleet drift`: detect changes made outside StackSets and show them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::stream::{self, StreamExt, TryStreamExt};
use stackfleet_executor::drift::{self, StackSetDrift};
use stackfleet_executor::observe::call_as;
use stackfleet_executor::operation::StackSetContext;
use stackfleet_executor::{Event, PollPolicy};
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
    let observed = stackfleet_executor::observe(
        &session.cfn,
        fleet.organization.call_as,
        &fleet.name,
        &names,
    )
    .await?;
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
    let mut progress = Progress::new(style, Arc::new(Mutex::new(Default::default())));
    let drawer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            progress.handle(event);
        }
    });
    let caller = call_as(fleet.organization.call_as);
    let reports: Vec<StackSetDrift> = stream::iter(existing)
        .map(|name| {
            let ctx = StackSetContext {
                client: &session.cfn,
                call_as: caller.clone(),
                stack_set: name,
                events: &tx,
                poll: PollPolicy::default(),
            };
            let no_detect = args.no_detect;
            async move {
                let detection = if no_detect {
                    drift::last_detection(&ctx).await?
                } else {
                    printer.status(format!("{name}: starting drift detection"));
                    let (id, outcome) =
                        drift::detect(&ctx, &format!("stackfleet-drift-{stamp}")).await?;
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
