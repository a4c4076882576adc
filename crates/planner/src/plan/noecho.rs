//! NoEcho parameters: their values are masked wherever a plan is shown or saved, and a masked
//! plan carries salted digests so that apply can restore the values from fleet.toml and check them.

use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::fleet::Fleet;

use super::model::Plan;

/// What CloudFormation shows for a NoEcho parameter, and what stackfleet shows for one.
pub const MASK: &str = "****";

impl Plan {
    /// The plan as it may be printed or saved: the value of every NoEcho parameter replaced by
    /// [`MASK`], with a salted digest that [`Plan::unmask`] checks.
    pub fn masked(&self) -> Plan {
        let mut plan = self.clone();
        for set in &mut plan.stack_sets {
            let Some(desired) = &mut set.desired else {
                continue;
            };
            for key in desired.no_echo_parameters.clone() {
                if let Some(value) = desired.parameters.get_mut(&key)
                    && value != MASK
                {
                    let digest = secret_digest(&plan.fingerprint, &set.name, &key, value);
                    desired.no_echo_digests.insert(key.clone(), digest);
                    *value = MASK.to_string();
                }
            }
        }
        plan
    }

    /// Whether the plan holds masked values that [`Plan::unmask`] must restore before apply.
    pub fn is_masked(&self) -> bool {
        self.stack_sets
            .iter()
            .filter_map(|s| s.desired.as_ref())
            .any(|d| !d.no_echo_digests.is_empty())
    }

    /// Restores masked NoEcho values from `fleet` (the fleet.toml the plan was made from),
    /// checking each against its digest. The error names the first parameter that fleet.toml
    /// lacks or whose value changed since the plan was made.
    pub fn unmask(&mut self, fleet: &Fleet) -> Result<(), String> {
        let fingerprint = self.fingerprint.clone();
        for set in &mut self.stack_sets {
            let Some(desired) = &mut set.desired else {
                continue;
            };
            let spec = fleet.stack_sets.iter().find(|s| s.name == set.name);
            for (key, digest) in std::mem::take(&mut desired.no_echo_digests) {
                let value = spec.and_then(|s| s.parameters.get(&key)).ok_or_else(|| {
                    format!(
                        "the plan masks NoEcho parameter {key} of stack set {}, \
                         and {} does not set it",
                        set.name,
                        fleet.path.display()
                    )
                })?;
                if secret_digest(&fingerprint, &set.name, &key, value) != digest {
                    return Err(format!(
                        "NoEcho parameter {key} of stack set {} in {} \
                         is not the value the plan was made with",
                        set.name,
                        fleet.path.display()
                    ));
                }
                desired.parameters.insert(key, value.clone());
            }
        }
        Ok(())
    }
}

fn secret_digest(fingerprint: &str, stack_set: &str, key: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [fingerprint, stack_set, key, value] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex(&hasher.finalize())
}
