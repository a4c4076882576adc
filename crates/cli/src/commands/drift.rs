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
use crate::session;
use crate::settings::AwsSettings;

/// Stack sets whose drift is detected at once (each is its own StackSets operation).
const CONCURRENCY: usize = 4;

/// Runs `stackfleet drift`; returns whether anything drifted.
pub async fn run(
    config: &Path,
    aws: &AwsSettings,
    args: &DriftArgs,
    printer: Printer,
) -> Result<bool, CliError> {
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
    for missing in names
        .iter()
        .filter(|n| !observed.stack_sets.contains_key(*n))
    {
        printer.status(format!(
            "{missing}: the stack set does not exist yet; nothing to check"
        ));
    }

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
            // Detection runs with the stack set's rollout, like its other operations.
            let rollout = fleet
                .stack_sets
                .iter()
                .find(|s| &s.name == name)
                .map(|s| s.rollout.clone())
                .unwrap_or_default();
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
                        drift::detect(&ctx, &format!("stackfleet-drift-{stamp}"), &rollout).await?;
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

    let text = match args.output {
        OutputFormat::Table => render::drift::table(&reports),
        OutputFormat::Json => render::drift::json(&reports),
        OutputFormat::Markdown => render::drift::markdown(&reports),
    };
    write_stdout(&mut std::io::stdout().lock(), &text)?;
    Ok(render::drift::drifted(&reports) > 0)
}
