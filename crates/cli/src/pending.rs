//! What a command is still waiting for: AWS calls in flight and StackSets operations started
//! and not finished, so that `--timeout` can say it when it stops the command.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::progress::InFlight;

/// Calls in flight and operations running, shared by the clients of one command.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    next: Arc<AtomicU64>,
    calls: Arc<Mutex<BTreeMap<u64, String>>>,
    operations: InFlight,
}

/// What was pending at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// AWS calls in flight, e.g. `STS GetCallerIdentity`.
    pub calls: Vec<String>,
    /// StackSets operations started and not seen finished, as `stack set: operation id`.
    pub operations: Vec<String>,
}

impl Pending {
    /// The operations apply records as they start and finish (see [`crate::progress`]).
    pub fn operations(&self) -> InFlight {
        self.operations.clone()
    }

    fn insert(&self, label: String) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, label);
        }
        id
    }

    fn remove(&self, id: u64) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&id);
        }
    }

    /// What is pending now, oldest call first.
    pub fn snapshot(&self) -> Snapshot {
        let calls = self
            .calls
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        let operations = self
            .operations
            .lock()
            .map(|o| o.iter().map(|(id, set)| format!("{set}: {id}")).collect())
            .unwrap_or_default();
        Snapshot { calls, operations }
    }

    /// The SDK interceptor that records every call of a client built with it.
    pub fn interceptor(&self) -> CallTracker {
        CallTracker {
            pending: self.clone(),
        }
    }
}

/// Records each call as `Service Operation` from before it is sent until it ends: answered,
/// failed or timed out by the SDK (the finalizer hook always runs). A call dropped by `--timeout`
/// stays recorded, which is what `--timeout` then reports.
#[derive(Debug)]
pub struct CallTracker {
    pending: Pending,
}

/// The key of a call's entry in [`Pending`], kept in the call's configuration bag.
#[derive(Debug, Clone, Copy)]
struct CallId(u64);

impl Storable for CallId {
    type Storer = StoreReplace<Self>;
}

impl Intercept for CallTracker {
    fn name(&self) -> &'static str {
        "stackfleet-pending-calls"
    }

    // Not `read_before_execution`: the operation's metadata is in the bag only after it.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let label = match cfg.load::<Metadata>() {
            Some(m) => format!("{} {}", m.service(), m.name()),
            None => "an AWS call".to_string(),
        };
        let id = self.pending.insert(label);
        cfg.interceptor_state().store_put(CallId(id));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(CallId(id)) = cfg.load::<CallId>() {
            self.pending.remove(*id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Pending;

    #[test]
    fn a_call_is_pending_until_it_is_removed() {
        let pending = Pending::default();
        let first = pending.insert("STS GetCallerIdentity".to_string());
        let second = pending.insert("CloudFormation ListStackSets".to_string());
        pending
            .operations()
            .lock()
            .unwrap()
            .insert("op-1".to_string(), "Monitor".to_string());
        let now = pending.snapshot();
        assert_eq!(
            now.calls,
            ["STS GetCallerIdentity", "CloudFormation ListStackSets"]
        );
        assert_eq!(now.operations, ["Monitor: op-1"]);
        pending.remove(second);
        assert_eq!(pending.snapshot().calls, ["STS GetCallerIdentity"]);
        pending.remove(first);
        assert!(pending.snapshot().calls.is_empty());
    }
}
