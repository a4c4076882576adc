//! The plan's time estimate as text: durations, the total, and the warning for long plans.

use stackfleet_planner::Plan;
use stackfleet_planner::plan::estimate::{
    DEFAULT_INSTANCE_MILLIS, LONG_PLAN_SECONDS, TimeSource, shortening_hint,
};

/// Seconds as `45s`, `12m 5s`, `3h 20m` or `2d 4h`.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The total, with where the per-instance times come from; `None` when nothing runs.
pub fn total(plan: &Plan) -> Option<String> {
    if plan.summary.operations == 0 {
        return None;
    }
    let mut measured = 0;
    let mut default = 0;
    for s in plan.stack_sets.iter().filter(|s| !s.operations.is_empty()) {
        match s.instance_time.map(|t| t.source) {
            Some(TimeSource::History) => measured += 1,
            _ => default += 1,
        }
    }
    let assumed = format!("{} s", DEFAULT_INSTANCE_MILLIS / 1000);
    let basis = match (measured, default) {
        (_, 0) => "per-instance time measured on each stack set's newest operation".to_string(),
        (0, _) => format!("no operation history yet: {assumed} per instance assumed"),
        _ => format!(
            "per-instance time measured for {}, {assumed} assumed for {default}",
            super::count(measured, "stack set", "stack sets")
        ),
    };
    Some(format!(
        // Two lines: the basis alone is up to ~90 columns, and tables fit 100 (README).
        "Estimated time: {}, stack sets side by side, each one's operations in turn\n  ({basis}).",
        duration(plan.summary.estimated_seconds)
    ))
}

/// One warning per stack set whose operations take more than an hour, with the preference that
/// would shorten them; empty when the plan is shorter.
pub fn warnings(plan: &Plan) -> Vec<String> {
    if plan.summary.estimated_seconds <= LONG_PLAN_SECONDS {
        return Vec::new();
    }
    let mut out = vec![format!(
        "warning: this plan should take about {}, more than an hour",
        duration(plan.summary.estimated_seconds)
    )];
    for s in &plan.stack_sets {
        let seconds: u64 = s.operations.iter().map(|op| op.estimated_seconds).sum();
        if seconds == 0 {
            continue;
        }
        if let Some(hint) = shortening_hint(s) {
            out.push(format!(
                "  {} ({}) would be shorter with {hint} in its [stack_sets.rollout]",
                s.name,
                duration(seconds)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(725), "12m 5s");
        assert_eq!(duration(12_000), "3h 20m");
        assert_eq!(duration(187_200), "2d 4h");
    }
}
