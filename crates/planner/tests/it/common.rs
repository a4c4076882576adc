//! Builders for fleets, organizations and StackSets states.

use std::collections::BTreeMap;
use std::path::PathBuf;

use stackfleet_planner::fleet::{self, Fleet};
use stackfleet_planner::inventory::{Account, AccountStatus, Inventory, OrganizationalUnit};
use stackfleet_planner::observed::{InstanceStatus, ObservedInstance};
use stackfleet_planner::{Diagnostics, Observed};
use tempfile::TempDir;

/// A template with one required and one optional parameter.
pub const TEMPLATE: &str = "Parameters:\n  Email:\n    Type: String\n    AllowedPattern: '.+@.+'\n  Prefix:\n    Type: String\n    Default: mon\n  Secret:\n    Type: String\n    NoEcho: true\n    Default: ''\nResources:\n  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\nOutputs:\n  Out:\n    Value: !Ref Handle\n";

/// A directory holding a fleet.toml and its templates.
pub struct Dir {
    pub dir: TempDir,
}

impl Dir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("monitor.yaml"), TEMPLATE).unwrap();
        Dir { dir }
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Validates `text` as `fleet.toml` in this directory.
    pub fn parse(&self, text: &str) -> Result<Fleet, Diagnostics> {
        let path = self.file("fleet.toml", text);
        fleet::parse(&path, text)
    }
}

/// A fleet.toml with one self-managed stack set named `monitor`; `extra` is appended to its
/// `[stack_sets.targets]` table.
pub fn fleet_text(regions: &[&str], targets: &str) -> String {
    format!(
        "name = \"baseline\"\n[organization]\nhome_region = \"us-east-1\"\n\n[[stack_sets]]\nname = \"monitor\"\ntemplate = \"monitor.yaml\"\npermission_model = \"self-managed\"\nregions = {regions:?}\nparameters = {{ Email = \"sec@example.com\" }}\n\n[stack_sets.targets]\n{targets}\n"
    )
}

/// An organization: `/`, `/A`, `/A/B`, `/C` and the given accounts as (id, OU path, status).
pub fn org(accounts: &[(&str, &str, AccountStatus)]) -> Inventory {
    let ous = [
        ("r-root", "Root", None, "/"),
        ("ou-root-aaaaaaaa", "A", Some("r-root"), "/A"),
        ("ou-root-bbbbbbbb", "B", Some("ou-root-aaaaaaaa"), "/A/B"),
        ("ou-root-cccccccc", "C", Some("r-root"), "/C"),
    ];
    let organizational_units: BTreeMap<String, OrganizationalUnit> = ous
        .iter()
        .map(|(id, name, parent, path)| {
            (
                id.to_string(),
                OrganizationalUnit {
                    id: id.to_string(),
                    name: name.to_string(),
                    parent_id: parent.map(str::to_string),
                    path: path.to_string(),
                },
            )
        })
        .collect();
    let by_path: BTreeMap<&str, &str> = ous.iter().map(|(id, _, _, p)| (*p, *id)).collect();
    let mut all: Vec<(&str, &str, AccountStatus)> =
        vec![("000000000001", "/", AccountStatus::Active)];
    all.extend(accounts.iter().cloned());
    Inventory {
        organization_id: "o-test".to_string(),
        management_account: "000000000001".to_string(),
        root_id: "r-root".to_string(),
        organizational_units,
        accounts: all
            .into_iter()
            .map(|(id, path, status)| {
                (
                    id.to_string(),
                    Account {
                        id: id.to_string(),
                        name: format!("acct-{id}"),
                        email: format!("{id}@example.com"),
                        status,
                        parent_id: by_path[path].to_string(),
                    },
                )
            })
            .collect(),
        region_opt_in: Default::default(),
    }
}

/// A CURRENT, SUCCEEDED instance.
pub fn instance(account: &str, region: &str) -> ObservedInstance {
    ObservedInstance {
        account: account.to_string(),
        region: region.to_string(),
        status: InstanceStatus::Current,
        detailed_status: Some("SUCCEEDED".into()),
        status_reason: None,
        drift_status: None,
        organizational_unit_id: None,
    }
}

/// No stack set exists.
pub fn nothing() -> Observed {
    Observed::default()
}
