//! How long a plan should take on StackSets: a pure function of each operation's cells, the stack
//! set's rollout preferences and how long one stack instance takes.
//!
//! The concurrency follows AWS's documentation:
//! - StackSetOperationPreferences, AWS CloudFormation API Reference,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html>:
//!   `MaxConcurrentCount`/`MaxConcurrentPercentage` are accounts at once *per Region* (default 1;
//!   a percentage rounds down, but never to zero); `FailureToleranceCount`/`Percentage` default 0
//!   (a percentage rounds down); `STRICT_FAILURE_TOLERANCE` (the default) starts at
//!   min(MaxConcurrent, FailureTolerance + 1), `SOFT_FAILURE_TOLERANCE` at MaxConcurrent;
//!   `RegionConcurrencyType` `SEQUENTIAL` (the default) runs one Region after another, `PARALLEL`
//!   all at once.
//! - StackSet operation options (concurrency mode), AWS CloudFormation User Guide,
//!   <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html#stackset-ops-options>.
//!
//! The estimate assumes no failure (a failure lowers a strict concurrency) and that every
//! instance takes the same time; each operation of a stack set runs after the previous one.

use serde::{Deserialize, Serialize};

use crate::fleet::{ConcurrencyMode, Limit, RegionConcurrency, Rollout};

use super::model::{Operation, Plan, StackSetPlan};

/// Seconds one stack instance takes when the stack set has no operation history to measure:
/// "about a minute per stack", the figure issue 14 states for a small stack such as an IAM role;
/// a stack set's own history replaces it as soon as it has one finished operation.
pub const DEFAULT_INSTANCE_MILLIS: u64 = 60_000;

/// Plans longer than this get a warning that says which preference would shorten them.
pub const LONG_PLAN_SECONDS: u64 = 3600;

/// Where the per-instance time of an estimate comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSource {
    /// [`DEFAULT_INSTANCE_MILLIS`]: the stack set has no finished operation to measure.
    #[default]
    Default,
    /// Measured on the stack set's newest finished operation.
    History,
}

/// The per-instance time an estimate used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTime {
    /// Milliseconds one stack instance takes.
    pub millis: u64,
    /// Where it comes from.
    pub source: TimeSource,
}

impl Default for InstanceTime {
    fn default() -> Self {
        InstanceTime {
            millis: DEFAULT_INSTANCE_MILLIS,
            source: TimeSource::Default,
        }
    }
}

/// Accounts at once in one Region of `accounts` accounts, as the operation starts.
pub fn concurrency(rollout: &Rollout, accounts: usize) -> usize {
    let n = accounts as u64;
    let max = match rollout.max_concurrent {
        Some(Limit::Count(c)) => u64::from(c),
        Some(Limit::Percentage(p)) => (u64::from(p) * n / 100).max(1),
        None => 1,
    }
    .max(1);
    let tolerance = match rollout.failure_tolerance {
        Some(Limit::Count(c)) => u64::from(c),
        Some(Limit::Percentage(p)) => u64::from(p) * n / 100,
        None => 0,
    };
    let start = match rollout.concurrency_mode {
        Some(ConcurrencyMode::SoftFailureTolerance) => max,
        _ => max.min(tolerance + 1),
    };
    usize::try_from(start).unwrap_or(usize::MAX)
}

/// How many instance-times one operation takes: waves of `concurrency` accounts per Region, the
/// Regions one after the other or all at once.
pub fn waves(rollout: &Rollout, accounts_per_region: usize, regions: usize) -> u64 {
    region_waves(rollout, std::iter::repeat_n(accounts_per_region, regions))
}

/// Instance-times of an operation over Regions of the given numbers of accounts.
fn region_waves(rollout: &Rollout, accounts_per_region: impl Iterator<Item = usize>) -> u64 {
    let per_region = accounts_per_region
        .filter(|n| *n > 0)
        .map(|n| n.div_ceil(concurrency(rollout, n)) as u64);
    match rollout.region_concurrency {
        Some(RegionConcurrency::Parallel) => per_region.max().unwrap_or(0),
        _ => per_region.sum(),
    }
}

/// The operation's accounts per Region and Regions. An unscoped `update-stack-set` names neither:
/// it covers every instance of the stack set's Regions, spread evenly.
fn shape(op: &Operation, stack_set_regions: usize) -> (usize, usize) {
    if op.regions.is_empty() {
        let regions = stack_set_regions.max(1);
        return (op.instances.div_ceil(regions), regions);
    }
    (op.accounts.len(), op.regions.len())
}

/// Seconds one operation should take (rounded up).
pub fn operation_seconds(
    op: &Operation,
    rollout: &Rollout,
    stack_set_regions: usize,
    time: InstanceTime,
) -> u64 {
    let (accounts, regions) = shape(op, stack_set_regions);
    (waves(rollout, accounts, regions) * time.millis).div_ceil(1000)
}

/// Fills in the estimate of one stack set's operations with `time`.
pub fn estimate_stack_set(set: &mut StackSetPlan, time: InstanceTime) {
    let rollout = set
        .desired
        .as_ref()
        .map(|d| d.rollout.clone())
        .unwrap_or_default();
    let regions = set.regions.len();
    for op in &mut set.operations {
        op.estimated_seconds = operation_seconds(op, &rollout, regions, time);
    }
    set.instance_time = Some(time);
}

/// How many stack sets apply works on at once (the executor's `STACK_SET_CONCURRENCY`): StackSets
/// runs different stack sets' operations in parallel, each stack set's one after another.
pub const STACK_SETS_AT_ONCE: usize = 4;

/// Fills in every estimate of the plan: each stack set with the per-instance time `time_of`
/// gives for its name, and the summary's total.
pub fn estimate(plan: &mut Plan, time_of: &dyn Fn(&str) -> InstanceTime) {
    for set in &mut plan.stack_sets {
        let time = time_of(&set.name);
        estimate_stack_set(set, time);
    }
    let per_set: Vec<u64> = plan.stack_sets.iter().map(stack_set_seconds).collect();
    plan.summary.estimated_seconds = makespan(&per_set, STACK_SETS_AT_ONCE);
}

/// Seconds one stack set's operations take: each run of operations started together
/// ([`super::concurrent_runs`]) as long as its longest, the runs one after another.
pub fn stack_set_seconds(set: &StackSetPlan) -> u64 {
    super::concurrent_runs(set)
        .into_iter()
        .map(|run| {
            set.operations[run]
                .iter()
                .map(|op| op.estimated_seconds)
                .max()
                .unwrap_or(0)
        })
        .sum()
}

/// When the last of `durations` ends if they run in order, `slots` at a time, and a slot frees
/// only when the oldest running one has ended (apply's `buffered` stream yields in plan order).
/// Before, the total added the stack sets up, twice the measured time for two (BENCHMARKS.md).
pub fn makespan(durations: &[u64], slots: usize) -> u64 {
    let slots = slots.max(1);
    // When each stack set has ended and been taken from the stream, in plan order.
    let mut taken: Vec<u64> = Vec::with_capacity(durations.len());
    for (i, d) in durations.iter().enumerate() {
        let start = if i >= slots { taken[i - slots] } else { 0 };
        let end = start + d;
        taken.push(end.max(taken.last().copied().unwrap_or(0)));
    }
    taken.last().copied().unwrap_or(0)
}

/// Measures one instance's time from a finished operation: its duration over the waves it took
/// with its own preferences. `None` when the operation touched no instance or took no time.
pub fn instance_millis_from(
    duration_millis: u64,
    rollout: &Rollout,
    accounts_per_region: usize,
    regions: usize,
) -> Option<u64> {
    let waves = waves(rollout, accounts_per_region, regions);
    (waves > 0 && duration_millis > 0).then(|| (duration_millis / waves).max(1))
}

/// Seconds a drift detection of a stack set should take: per Region, waves of its accounts there
/// (`accounts_per_region`, one entry per Region), the Regions one after the other or all at
/// once. DetectStackSetDrift takes the same `OperationPreferences` as the other operations.
pub fn detection_seconds(
    rollout: &Rollout,
    accounts_per_region: &[usize],
    time: InstanceTime,
) -> u64 {
    (region_waves(rollout, accounts_per_region.iter().copied()) * time.millis).div_ceil(1000)
}

/// Which rollout preference would shorten a stack set's long operations, as fleet.toml spells it;
/// `None` when the rollout is already as wide as StackSets allows.
pub fn shortening_hint(set: &StackSetPlan) -> Option<String> {
    let rollout = set.desired.as_ref().map(|d| &d.rollout)?;
    let regions = set
        .operations
        .iter()
        .map(|op| shape(op, set.regions.len()).1)
        .max()
        .unwrap_or(0);
    let accounts = set
        .operations
        .iter()
        .map(|op| shape(op, set.regions.len()).0)
        .max()
        .unwrap_or(0);
    let mut hints = Vec::new();
    if regions > 1 && rollout.region_concurrency != Some(RegionConcurrency::Parallel) {
        hints.push("region_concurrency = \"parallel\"".to_string());
    }
    let started = concurrency(rollout, accounts);
    if started < accounts {
        let max = match rollout.max_concurrent {
            Some(Limit::Count(c)) => c as usize,
            Some(Limit::Percentage(p)) => (p as usize * accounts / 100).max(1),
            None => 1,
        };
        if started < max {
            hints.push(
                "a higher failure_tolerance_count/percentage, or concurrency_mode = \
                 \"soft-failure-tolerance\" (strict mode starts at failure tolerance + 1)"
                    .to_string(),
            );
        } else {
            hints.push("a higher max_concurrent_percentage (or max_concurrent_count)".to_string());
        }
    }
    (!hints.is_empty()).then(|| hints.join("; "))
}

#[cfg(test)]
mod tests {
    use super::super::model::OperationAction;
    use super::*;

    fn rollout(
        max: Option<Limit>,
        tol: Option<Limit>,
        region: Option<RegionConcurrency>,
        mode: Option<ConcurrencyMode>,
    ) -> Rollout {
        Rollout {
            max_concurrent: max,
            failure_tolerance: tol,
            region_concurrency: region,
            concurrency_mode: mode,
            region_order: Vec::new(),
        }
    }

    #[test]
    fn aws_defaults_are_one_account_at_a_time_regions_in_sequence() {
        let r = Rollout::default();
        assert_eq!(concurrency(&r, 1000), 1);
        assert_eq!(waves(&r, 1000, 4), 4000);
    }

    #[test]
    fn a_detection_takes_its_largest_region_in_parallel_and_every_region_in_sequence() {
        let time = InstanceTime::default();
        let parallel = Rollout::recommended();
        assert_eq!(detection_seconds(&parallel, &[1000, 1000, 400], time), 60);
        let staged = Rollout {
            max_concurrent: Some(Limit::Percentage(25)),
            ..Rollout::recommended()
        };
        // 25 % of 1,000 = 250 at once: 4 waves; 25 % of 400 = 100 at once: 4 waves.
        assert_eq!(detection_seconds(&staged, &[1000, 400], time), 240);
        let sequential = Rollout {
            region_concurrency: Some(RegionConcurrency::Sequential),
            ..staged
        };
        assert_eq!(detection_seconds(&sequential, &[1000, 400, 0], time), 480);
        assert_eq!(detection_seconds(&parallel, &[], time), 0);
    }

    #[test]
    fn strict_mode_starts_at_failure_tolerance_plus_one() {
        let r = rollout(Some(Limit::Count(50)), Some(Limit::Count(4)), None, None);
        assert_eq!(concurrency(&r, 1000), 5);
        let soft = rollout(
            Some(Limit::Count(50)),
            Some(Limit::Count(4)),
            None,
            Some(ConcurrencyMode::SoftFailureTolerance),
        );
        assert_eq!(concurrency(&soft, 1000), 50);
    }

    #[test]
    fn percentages_round_down_but_concurrency_never_to_zero() {
        let r = rollout(
            Some(Limit::Percentage(10)),
            Some(Limit::Percentage(10)),
            None,
            None,
        );
        // 10 % of 1,000 = 100 at once, tolerance 100 → strict start min(100, 101) = 100.
        assert_eq!(concurrency(&r, 1000), 100);
        // 10 % of 5 rounds down to 0: concurrency 1, tolerance 0.
        assert_eq!(concurrency(&r, 5), 1);
    }

    #[test]
    fn parallel_regions_take_one_region_time() {
        let r = rollout(
            Some(Limit::Percentage(100)),
            Some(Limit::Percentage(100)),
            Some(RegionConcurrency::Parallel),
            None,
        );
        assert_eq!(waves(&r, 1000, 4), 1);
        let seq = rollout(
            Some(Limit::Percentage(100)),
            Some(Limit::Percentage(100)),
            Some(RegionConcurrency::Sequential),
            None,
        );
        assert_eq!(waves(&seq, 1000, 4), 4);
        assert_eq!(waves(&seq, 0, 4), 0);
    }

    #[test]
    fn operation_seconds_round_up_and_update_stack_set_spreads_over_regions() {
        let r = rollout(Some(Limit::Count(3)), Some(Limit::Count(10)), None, None);
        let op = Operation {
            id: String::new(),
            action: OperationAction::CreateInstances,
            accounts: (0..10).map(|i| format!("{i:012}")).collect(),
            regions: vec!["a".into(), "b".into()],
            organizational_units: Vec::new(),
            retain_stacks: false,
            instances: 20,
            estimated_seconds: 0,
        };
        let t = InstanceTime {
            millis: 1500,
            source: TimeSource::History,
        };
        // ceil(10 / 3) = 4 waves per region, 2 regions in sequence: 8 × 1.5 s.
        assert_eq!(operation_seconds(&op, &r, 2, t), 12);
        let update = Operation {
            action: OperationAction::UpdateStackSet,
            accounts: Vec::new(),
            regions: Vec::new(),
            instances: 20,
            ..op
        };
        assert_eq!(operation_seconds(&update, &r, 2, t), 12);
    }

    #[test]
    fn history_inverts_the_model() {
        let r = rollout(Some(Limit::Count(2)), Some(Limit::Count(5)), None, None);
        // 4 accounts × 3 regions at 2 at once: 6 waves; 60 s → 10 s each.
        assert_eq!(instance_millis_from(60_000, &r, 4, 3), Some(10_000));
        assert_eq!(instance_millis_from(60_000, &r, 0, 3), None);
        assert_eq!(instance_millis_from(0, &r, 4, 3), None);
    }

    fn stack_set(rollout: Rollout, accounts: usize, regions: usize) -> StackSetPlan {
        use crate::fleet::PermissionModel;
        use crate::plan::{DesiredStackSet, StackSetAction};
        let regions: Vec<String> = (0..regions).map(|r| format!("r{r}")).collect();
        StackSetPlan {
            name: "s".into(),
            action: StackSetAction::None,
            adopt: false,
            permission_model: PermissionModel::SelfManaged,
            call_as: crate::fleet::CallAs::SelfAccount,
            regions: regions.clone(),
            changes: Vec::new(),
            template_diff: None,
            desired_instances: 0,
            existing_instances: 0,
            create_instances: Vec::new(),
            delete_instances: Vec::new(),
            update_instances: Vec::new(),
            skipped: Vec::new(),
            operations: vec![Operation {
                id: String::new(),
                action: OperationAction::CreateInstances,
                accounts: (0..accounts).map(|i| format!("{i:012}")).collect(),
                instances: accounts * regions.len(),
                regions,
                organizational_units: Vec::new(),
                retain_stacks: false,
                estimated_seconds: 0,
            }],
            instance_time: None,
            managed_execution: false,
            desired: Some(DesiredStackSet {
                description: None,
                template_body: String::new(),
                parameters: Default::default(),
                no_echo_parameters: Default::default(),
                tags: Default::default(),
                capabilities: Default::default(),
                administration_role_arn: None,
                execution_role_name: None,
                auto_deployment: None,
                retain_stacks_on_delete: false,
                rollout,
                managed_execution: None,
            }),
            removed_resources: Vec::new(),
            findings: Vec::new(),
            rollout: None,
        }
    }

    #[test]
    fn hints_name_the_preference_that_limits_the_rollout() {
        let defaults = shortening_hint(&stack_set(Rollout::default(), 100, 4)).expect("hint");
        assert!(
            defaults.contains("region_concurrency = \"parallel\""),
            "{defaults}"
        );
        assert!(defaults.contains("max_concurrent_percentage"), "{defaults}");
        let strict = rollout(
            Some(Limit::Percentage(100)),
            None,
            Some(RegionConcurrency::Parallel),
            None,
        );
        let hint = shortening_hint(&stack_set(strict, 100, 4)).expect("hint");
        assert!(hint.contains("failure_tolerance"), "{hint}");
        assert!(!hint.contains("region_concurrency"), "{hint}");
        let widest = rollout(
            Some(Limit::Percentage(100)),
            None,
            Some(RegionConcurrency::Parallel),
            Some(ConcurrencyMode::SoftFailureTolerance),
        );
        assert_eq!(shortening_hint(&stack_set(widest, 100, 4)), None);
    }

    #[test]
    fn stack_sets_run_side_by_side_up_to_the_executors_limit() {
        assert_eq!(makespan(&[], 4), 0);
        assert_eq!(makespan(&[240, 240], 4), 240);
        assert_eq!(makespan(&[10, 50, 20], 4), 50);
        // The fifth starts when the first has ended and been taken: at 100, then 100 + 30.
        assert_eq!(makespan(&[100, 10, 10, 10, 30], 4), 130);
        // A slot frees in order: the fifth waits for the slow first even though others ended.
        assert_eq!(makespan(&[100, 1, 1, 1, 1, 1], 4), 101);
        assert_eq!(makespan(&[5, 5, 5], 1), 15);
    }

    #[test]
    fn with_managed_execution_a_run_of_one_kind_takes_its_longest_operation() {
        let mut set = stack_set(Rollout::default(), 3, 2);
        let op = set.operations[0].clone();
        let update = Operation {
            action: OperationAction::UpdateStackSet,
            ..op.clone()
        };
        set.operations = vec![update.clone(), op.clone(), op.clone(), update];
        for (op, seconds) in set.operations.iter_mut().zip([7, 10, 20, 5]) {
            op.estimated_seconds = seconds;
        }
        assert_eq!(stack_set_seconds(&set), 42);
        assert_eq!(
            super::super::concurrent_runs(&set),
            [0..1, 1..2, 2..3, 3..4]
        );
        set.managed_execution = true;
        // The two creates together (20), each UpdateStackSet alone.
        assert_eq!(super::super::concurrent_runs(&set), [0..1, 1..3, 3..4]);
        assert_eq!(stack_set_seconds(&set), 32);
    }

    #[test]
    fn estimate_sums_operations_and_keeps_the_time_used() {
        let mut set = stack_set(Rollout::default(), 3, 2);
        let time = InstanceTime {
            millis: 2000,
            source: TimeSource::History,
        };
        estimate_stack_set(&mut set, time);
        // 3 accounts one at a time, 2 regions in sequence: 6 × 2 s.
        assert_eq!(set.operations[0].estimated_seconds, 12);
        assert_eq!(set.instance_time, Some(time));
    }
}
