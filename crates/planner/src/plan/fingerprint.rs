//! The fingerprint of the state a plan is made from, and the operation ids derived from it.

use sha2::Digest;

use crate::digest::{HashWriter, hex};
use crate::inventory::Inventory;
use crate::observed::{Observed, ObservedInstance, ObservedStackSet};

use super::model::{Plan, StackSetPlan};

/// The digest of the state a plan is computed from (hex SHA-256 of canonical JSON, streamed so
/// that a 10,000-account organization costs no copy). Drift statuses are left out: a nightly
/// drift check does not change what apply would do.
pub fn fingerprint(inventory: &Inventory, observed: &Observed) -> String {
    let mut hasher = HashWriter::new();
    // Writing plain BTreeMap-based data into a hasher cannot fail; maps serialize sorted.
    let _ = serde_json::to_writer(&mut hasher, inventory);
    for set in observed.stack_sets.values() {
        // Destructured in full so that a new field cannot be left out of the digest unnoticed.
        let ObservedStackSet {
            name,
            id,
            description,
            template_body,
            parameters,
            tags,
            capabilities,
            permission_model,
            administration_role_arn,
            execution_role_name,
            auto_deployment,
            managed_execution,
            instances,
        } = set;
        let _ = serde_json::to_writer(
            &mut hasher,
            &(
                name,
                id,
                description,
                template_body,
                parameters,
                tags,
                capabilities,
                permission_model,
                administration_role_arn,
                execution_role_name,
                auto_deployment,
            ),
        );
        // Only when on, so that the fingerprints (and operation ids) of every state without it
        // stay as they were before stackfleet read the setting.
        if *managed_execution {
            let _ = serde_json::to_writer(&mut hasher, "managed_execution");
        }
        // In sorted order: StackSets pages instances in no promised order, and the same state must
        // give the same fingerprint (sorting an already sorted list costs one pass).
        let mut sorted: Vec<&ObservedInstance> = instances.iter().collect();
        sorted.sort_unstable();
        for instance in sorted {
            let ObservedInstance {
                account,
                region,
                status,
                detailed_status,
                status_reason,
                drift_status: _,
                organizational_unit_id,
            } = instance;
            let _ = serde_json::to_writer(
                &mut hasher,
                &(
                    account,
                    region,
                    status,
                    detailed_status,
                    status_reason,
                    organizational_unit_id,
                ),
            );
        }
    }
    hex(&hasher.0.finalize())
}

impl Plan {
    /// The plan with the nonce and time the CLI drew for it, and operation ids derived from them.
    /// [`crate::plan`] leaves both empty (it reads no clock and draws no random number); the
    /// same inputs with the same stamp give the same plan, which is how `apply plan.json` checks
    /// a saved plan by planning again.
    pub fn stamped(mut self, nonce: &str, planned_at: u64) -> Plan {
        self.nonce = nonce.to_string();
        self.planned_at = planned_at;
        for set in &mut self.stack_sets {
            assign_operation_ids(&self.fingerprint, nonce, set);
        }
        self
    }
}

/// Names each operation `stackfleet-<digest>`; AWS allows `[a-zA-Z0-9][-a-zA-Z0-9]*`, 128 long.
pub(super) fn assign_operation_ids(fingerprint: &str, nonce: &str, set: &mut StackSetPlan) {
    // Ids are hashed over the plan without them, so that stamping again gives the same ids.
    for op in &mut set.operations {
        op.id.clear();
    }
    // The fingerprint and the stack set's plan are hashed once, streamed; each id continues from a
    // copy of that state with its step (hashing the plan again per operation made the cost grow
    // with operations × instances).
    let mut content = HashWriter::new();
    content.0.update(fingerprint.as_bytes());
    content.0.update([0]);
    content.0.update(nonce.as_bytes());
    content.0.update([0]);
    let _ = serde_json::to_writer(&mut content, &*set);
    for (step, op) in set.operations.iter_mut().enumerate() {
        let mut hasher = content.0.clone();
        hasher.update(step.to_le_bytes());
        let digest = hasher.finalize();
        op.id = format!("stackfleet-{}", hex(&digest[..12]));
    }
}
