//! Drawing apply's progress events: bars on a terminal, timestamped lines otherwise.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use stackfleet_executor::Event;
use stackfleet_planner::plan::OperationAction;

/// Operations started and not yet finished, by id, with their stack set: what Ctrl-C reports.
pub type InFlight = Arc<Mutex<BTreeMap<String, String>>>;

/// Operations that ended, by id, with their stack set and final status: what Ctrl-C reports as
/// done.
pub type Ended = Arc<Mutex<BTreeMap<String, (String, String)>>>;

/// A plain line is repeated at least this often while an operation runs, so that a long rollout
/// in a CI log never looks frozen.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// indicatif bars on stderr.
    Bars,
    /// Timestamped lines on stderr.
    Lines,
    /// Nothing (`--quiet`).
    Silent,
}

/// Draws events as they arrive.
pub struct Progress {
    style: Style,
    bars: MultiProgress,
    bar: BTreeMap<String, ProgressBar>,
    last_line: BTreeMap<String, (String, Instant)>,
    in_flight: InFlight,
    ended: Ended,
}

pub fn action_label(action: OperationAction) -> &'static str {
    match action {
        OperationAction::CreateInstances => "create instances",
        OperationAction::DeleteInstances => "delete instances",
        OperationAction::UpdateInstances => "retry instances",
        OperationAction::UpdateStackSet => "update stack set",
    }
}

impl Progress {
    /// A drawer in `style`, recording in-flight operations in `in_flight` and ended ones in
    /// `ended`.
    pub fn new(style: Style, in_flight: InFlight, ended: Ended) -> Self {
        Progress {
            style,
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bar: BTreeMap::new(),
            last_line: BTreeMap::new(),
            in_flight,
            ended,
        }
    }

    fn line(&self, text: String) {
        match self.style {
            Style::Lines => eprintln!(
                "{} {text}",
                humantime::format_rfc3339_seconds(SystemTime::now())
            ),
            Style::Bars => {
                let _ = self.bars.println(text);
            }
            Style::Silent => {}
        }
    }

    /// Shows one event.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::StackSetCreated { stack_set } => {
                self.line(format!("{stack_set}: stack set created"))
            }
            Event::StackSetDeleted { stack_set } => {
                self.line(format!("{stack_set}: stack set deleted"))
            }
            Event::OperationStarted {
                stack_set,
                operation_id,
                action,
                instances,
            } => {
                if let Ok(mut f) = self.in_flight.lock() {
                    f.insert(operation_id.clone(), stack_set.clone());
                }
                let label = format!(
                    "{stack_set}: {} ({})",
                    action_label(action),
                    crate::render::count(instances, "instance", "instances")
                );
                if self.style == Style::Bars {
                    let bar = self.bars.add(ProgressBar::new(instances as u64));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} {prefix} [{bar:24}] {pos}/{len} {msg} {elapsed}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(label);
                    bar.set_message("starting");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bar.insert(operation_id, bar);
                } else {
                    self.line(format!("{label}: started operation {operation_id}"));
                }
            }
            Event::OperationResumed {
                stack_set,
                operation_id,
            } => self.line(format!(
                "{stack_set}: operation {operation_id} already exists \
                 (started by an interrupted or a concurrent run); waiting for it"
            )),
            Event::WaitingForOther {
                stack_set,
                operation_id,
            } => self.line(format!(
                "{stack_set}: another operation ({operation_id}) is running; \
                 waiting for it to finish first"
            )),
            Event::OperationProgress {
                stack_set,
                operation_id,
                status,
                done,
                failed,
                total,
                elapsed,
            } => {
                let counts = match (done, total) {
                    (Some(d), Some(t)) => format!("{d}/{t} done, {failed} failed"),
                    _ => format!("{failed} failed"),
                };
                if let Some(bar) = self.bar.get(&operation_id) {
                    if let Some(d) = done {
                        bar.set_position(d as u64);
                    }
                    bar.set_message(format!("{status}, {failed} failed"));
                    return;
                }
                // How an operation ended is said once, by `OperationFinished`, which follows.
                if !status.is_active() {
                    return;
                }
                let text = format!(
                    "{stack_set}: operation {operation_id} {status}, {counts}, {}s",
                    elapsed.as_secs()
                );
                let key = format!("{status}/{counts}");
                let due = match self.last_line.get(&operation_id) {
                    Some((last, at)) => *last != key || at.elapsed() >= HEARTBEAT,
                    None => true,
                };
                if due {
                    self.line(text);
                    self.last_line.insert(operation_id, (key, Instant::now()));
                }
            }
            Event::OperationFinished {
                stack_set,
                operation_id,
                outcome,
            } => {
                if let Ok(mut f) = self.in_flight.lock() {
                    f.remove(&operation_id);
                }
                if let Ok(mut e) = self.ended.lock() {
                    e.insert(
                        operation_id.clone(),
                        (stack_set.clone(), outcome.status.to_string()),
                    );
                }
                let text = format!(
                    "{stack_set}: operation {operation_id} {}{}",
                    outcome.status,
                    if outcome.failures.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", {} failed",
                            crate::render::count(outcome.failures.len(), "instance", "instances")
                        )
                    }
                );
                if let Some(bar) = self.bar.remove(&operation_id) {
                    bar.finish_and_clear();
                }
                self.line(text);
            }
        }
    }
}
