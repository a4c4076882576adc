//! Whether CloudTrail delivers the monitor's events: the decisions of `stackfleet doctor` and of
//! effective coverage, as pure functions over what CloudTrail reported (trails, their status and
//! event selectors). The reads live in the CLI; nothing here calls AWS.
//!
//! The monitor's EventBridge rule matches "AWS API Call via CloudTrail" events, which EventBridge
//! receives only where a trail records the call ("AWS service events delivered via AWS
//! CloudTrail", EventBridge User Guide,
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event-cloudtrail.html>).
//! `PutBucketPolicy`, `DeleteBucketPolicy` and `PutBucketAcl` are write management events;
//! `PutObjectAcl` is an S3 data event that a trail logs only when its selectors select
//! `AWS::S3::Object` ("Logging data events", CloudTrail User Guide,
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html>).

use serde::{Deserialize, Serialize};

/// One trail as `DescribeTrails` (with shadow trails), `GetTrailStatus` and `GetEventSelectors`
/// report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// The trail's name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The region it was created in.
    pub home_region: String,
    /// Whether it records every region (`IsMultiRegionTrail`).
    pub multi_region: bool,
    /// Whether it records every account of the organization (`IsOrganizationTrail`).
    pub organization: bool,
    /// `GetTrailStatus.IsLogging`, or why it could not be read.
    pub logging: Result<bool, String>,
    /// Its event selectors, or why they could not be read.
    pub selectors: Result<Selectors, String>,
}

/// A trail's event selectors: basic or advanced (a trail has one kind or the other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selectors {
    /// Basic event selectors. None at all means the default: every management event, read and
    /// write, and no data events (`EventSelector`, CloudTrail API Reference).
    Basic(Vec<BasicSelector>),
    /// Advanced event selectors.
    Advanced(Vec<AdvancedSelector>),
}

/// A basic event selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicSelector {
    /// `ReadWriteType`: `All` (the default), `ReadOnly` or `WriteOnly`.
    pub read_write_type: String,
    /// `IncludeManagementEvents` (default true).
    pub include_management_events: bool,
    /// `DataResources` as (type, values).
    pub data_resources: Vec<(String, Vec<String>)>,
}

/// An advanced event selector: an event is logged when every field condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvancedSelector {
    /// Its name, if any.
    pub name: Option<String>,
    /// Its field conditions.
    pub fields: Vec<FieldCondition>,
}

/// One `AdvancedFieldSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCondition {
    /// `eventCategory`, `readOnly`, `eventSource`, `eventName`, `resources.type`, …
    pub field: String,
    /// `Equals`.
    pub equals: Vec<String>,
    /// `StartsWith`.
    pub starts_with: Vec<String>,
    /// `EndsWith`.
    pub ends_with: Vec<String>,
    /// `NotEquals`.
    pub not_equals: Vec<String>,
    /// `NotStartsWith`.
    pub not_starts_with: Vec<String>,
    /// `NotEndsWith`.
    pub not_ends_with: Vec<String>,
}

/// How much of a kind of event a trail's selectors record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "why")]
pub enum Selection {
    /// Every such event.
    All,
    /// Only some (some buckets, some callers, …): the reason says which filter.
    Some(String),
    /// None.
    None,
}

/// The event the monitor needs as management event (one of the three bucket calls).
const MANAGEMENT_WRITE: &[(&str, &str)] = &[
    ("eventCategory", "Management"),
    ("readOnly", "false"),
    ("eventSource", "s3.amazonaws.com"),
    ("eventName", "PutBucketPolicy"),
    ("eventType", "AwsApiCall"),
];

/// The data event the monitor needs.
const OBJECT_ACL_WRITE: &[(&str, &str)] = &[
    ("eventCategory", "Data"),
    ("resources.type", "AWS::S3::Object"),
    ("readOnly", "false"),
    ("eventSource", "s3.amazonaws.com"),
    ("eventName", "PutObjectAcl"),
    ("eventType", "AwsApiCall"),
];

impl Selectors {
    /// Whether the trail records write management events of S3 (the bucket-policy calls).
    pub fn management_writes(&self) -> Selection {
        match self {
            // No selectors: the default, every management event.
            Selectors::Basic(list) if list.is_empty() => Selection::All,
            Selectors::Basic(list) => {
                let writes = list.iter().any(|s| {
                    s.include_management_events
                        && matches!(s.read_write_type.as_str(), "All" | "WriteOnly" | "")
                });
                if writes {
                    Selection::All
                } else {
                    Selection::None
                }
            }
            Selectors::Advanced(list) => best(list.iter().map(|s| s.selects(MANAGEMENT_WRITE))),
        }
    }

    /// Whether the trail records S3 object write data events (`PutObjectAcl`) for every bucket.
    pub fn object_acl_writes(&self) -> Selection {
        match self {
            Selectors::Basic(list) => best(list.iter().map(|s| {
                if !matches!(s.read_write_type.as_str(), "All" | "WriteOnly" | "") {
                    return Selection::None;
                }
                best(
                    s.data_resources
                        .iter()
                        .filter(|(kind, _)| kind == "AWS::S3::Object")
                        .map(|(_, values)| {
                            // `arn:aws:s3` (or `arn:aws:s3:::`) selects every bucket; anything
                            // longer names buckets or prefixes (DataResource, API Reference).
                            if values
                                .iter()
                                .any(|v| matches!(v.as_str(), "arn:aws:s3" | "arn:aws:s3:::"))
                            {
                                Selection::All
                            } else if values.is_empty() {
                                Selection::None
                            } else {
                                Selection::Some(format!(
                                    "only the buckets or prefixes {}",
                                    values.join(", ")
                                ))
                            }
                        }),
                )
            })),
            Selectors::Advanced(list) => best(list.iter().map(|s| s.selects(OBJECT_ACL_WRITE))),
        }
    }
}

/// The widest of several selections (an event is logged when any selector matches it).
fn best(selections: impl Iterator<Item = Selection>) -> Selection {
    let mut out = Selection::None;
    for s in selections {
        match (&out, s) {
            (_, Selection::All) => return Selection::All,
            (Selection::None, some @ Selection::Some(_)) => out = some,
            _ => {}
        }
    }
    out
}

impl AdvancedSelector {
    /// Whether this selector logs `event` (field → value): every condition on a field of the
    /// event must hold; a condition on a field the event does not fix (an ARN, a caller, …)
    /// narrows the selection to some such events.
    fn selects(&self, event: &[(&str, &str)]) -> Selection {
        let mut narrowed = Vec::new();
        for condition in &self.fields {
            match event.iter().find(|(f, _)| *f == condition.field) {
                Some((_, value)) => {
                    if !condition.holds(value) {
                        return Selection::None;
                    }
                }
                None => narrowed.push(condition.field.clone()),
            }
        }
        if narrowed.is_empty() {
            Selection::All
        } else {
            let name = self
                .name
                .as_deref()
                .map(|n| format!("selector {n:?} "))
                .unwrap_or_default();
            Selection::Some(format!("{name}filters on {}", narrowed.join(", ")))
        }
    }
}

impl FieldCondition {
    fn holds(&self, value: &str) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| list.iter().any(|v| f(v));
        (self.equals.is_empty() || any(&self.equals, &|v| v == value))
            && (self.starts_with.is_empty() || any(&self.starts_with, &|v| value.starts_with(v)))
            && (self.ends_with.is_empty() || any(&self.ends_with, &|v| value.ends_with(v)))
            && !any(&self.not_equals, &|v| v == value)
            && !any(&self.not_starts_with, &|v| value.starts_with(v))
            && !any(&self.not_ends_with, &|v| value.ends_with(v))
    }
}

impl Trail {
    /// Whether the trail records events in `region`.
    pub fn covers_region(&self, region: &str) -> bool {
        self.multi_region || self.home_region == region
    }
}

/// What CloudTrail tells about one governed region, for every account of the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "delivery")]
pub enum RegionDelivery {
    /// An organization trail that is logging records the bucket calls here.
    Delivered {
        /// The trail.
        trail: String,
        /// Whether it also records `PutObjectAcl`, and if not, why.
        object_acl: Selection,
    },
    /// Organization trails exist, but none records the bucket calls here: the monitor is blind.
    Blind {
        /// Why, in words.
        reason: String,
    },
    /// stackfleet cannot tell (no organization trail visible, or the trails were unreadable).
    Unverified {
        /// Why, in words.
        reason: String,
    },
}

/// Decides delivery in `region` from the trails the caller sees (`Err`: why they are unknown).
/// Only organization trails count: a trail of the administrator account records that account
/// alone, and member accounts' own trails are not visible from here.
pub fn delivery(trails: &Result<Vec<Trail>, String>, region: &str) -> RegionDelivery {
    let trails = match trails {
        Ok(t) => t,
        Err(why) => {
            return RegionDelivery::Unverified {
                reason: format!("the trails could not be read ({why})"),
            };
        }
    };
    let org: Vec<&Trail> = trails.iter().filter(|t| t.organization).collect();
    if org.is_empty() {
        return RegionDelivery::Unverified {
            reason: "no organization trail is visible; each account's own trails are not checked"
                .to_string(),
        };
    }
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let mut delivered: Option<(&Trail, Selection)> = None;
    for trail in &org {
        if !trail.covers_region(region) {
            problems.push(format!(
                "{} records only {} (not multi-region)",
                trail.name, trail.home_region
            ));
            continue;
        }
        match &trail.logging {
            Ok(true) => {}
            Ok(false) => {
                problems.push(format!("{} is not logging", trail.name));
                continue;
            }
            Err(why) => {
                unknown.push(format!("status of {} unreadable ({why})", trail.name));
                continue;
            }
        }
        let selectors = match &trail.selectors {
            Ok(s) => s,
            Err(why) => {
                unknown.push(format!(
                    "event selectors of {} unreadable ({why})",
                    trail.name
                ));
                continue;
            }
        };
        match selectors.management_writes() {
            Selection::All => {}
            Selection::Some(why) => {
                problems.push(format!(
                    "{} records only some write management events ({why})",
                    trail.name
                ));
                continue;
            }
            Selection::None => {
                problems.push(format!(
                    "{} does not record write management events",
                    trail.name
                ));
                continue;
            }
        }
        let object_acl = selectors.object_acl_writes();
        // Prefer a trail that also records PutObjectAcl.
        let better = match &delivered {
            None => true,
            Some((_, current)) => *current != Selection::All && object_acl == Selection::All,
        };
        if better {
            delivered = Some((trail, object_acl));
        }
    }
    if let Some((trail, object_acl)) = delivered {
        return RegionDelivery::Delivered {
            trail: trail.name.clone(),
            object_acl,
        };
    }
    if !unknown.is_empty() {
        return RegionDelivery::Unverified {
            reason: unknown.join("; "),
        };
    }
    RegionDelivery::Blind {
        reason: format!(
            "no logging organization trail records write management events in {region}: {}",
            problems.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str, home: &str, multi: bool, org: bool, logging: bool) -> Trail {
        Trail {
            name: name.to_string(),
            arn: format!("arn:aws:cloudtrail:{home}:123456789012:trail/{name}"),
            home_region: home.to_string(),
            multi_region: multi,
            organization: org,
            logging: Ok(logging),
            selectors: Ok(Selectors::Basic(vec![])),
        }
    }

    fn basic(rw: &str, management: bool, data: &[(&str, &[&str])]) -> BasicSelector {
        BasicSelector {
            read_write_type: rw.to_string(),
            include_management_events: management,
            data_resources: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    fn field(name: &str, equals: &[&str]) -> FieldCondition {
        FieldCondition {
            field: name.to_string(),
            equals: equals.iter().map(|s| s.to_string()).collect(),
            ..FieldCondition::default()
        }
    }

    fn advanced(fields: Vec<FieldCondition>) -> AdvancedSelector {
        AdvancedSelector { name: None, fields }
    }

    #[test]
    fn default_selectors_record_management_events_but_no_data_events() {
        let s = Selectors::Basic(vec![]);
        assert_eq!(s.management_writes(), Selection::All);
        assert_eq!(s.object_acl_writes(), Selection::None);
    }

    #[test]
    fn basic_selectors_read_only_or_without_management_record_no_bucket_calls() {
        let read_only = Selectors::Basic(vec![basic("ReadOnly", true, &[])]);
        assert_eq!(read_only.management_writes(), Selection::None);
        let data_only = Selectors::Basic(vec![basic("All", false, &[])]);
        assert_eq!(data_only.management_writes(), Selection::None);
        let write_only = Selectors::Basic(vec![basic("WriteOnly", true, &[])]);
        assert_eq!(write_only.management_writes(), Selection::All);
    }

    #[test]
    fn basic_s3_object_selectors_for_all_buckets_some_buckets_or_reads_only() {
        let all = Selectors::Basic(vec![basic(
            "WriteOnly",
            true,
            &[("AWS::S3::Object", &["arn:aws:s3"])],
        )]);
        assert_eq!(all.object_acl_writes(), Selection::All);
        let some = Selectors::Basic(vec![basic(
            "All",
            true,
            &[("AWS::S3::Object", &["arn:aws:s3:::payroll/"])],
        )]);
        assert!(
            matches!(some.object_acl_writes(), Selection::Some(why) if why.contains("payroll"))
        );
        let reads = Selectors::Basic(vec![basic(
            "ReadOnly",
            true,
            &[("AWS::S3::Object", &["arn:aws:s3"])],
        )]);
        assert_eq!(reads.object_acl_writes(), Selection::None);
        let lambda = Selectors::Basic(vec![basic(
            "All",
            true,
            &[("AWS::Lambda::Function", &["arn:aws:lambda"])],
        )]);
        assert_eq!(lambda.object_acl_writes(), Selection::None);
    }

    #[test]
    fn advanced_selectors_are_evaluated_against_the_monitor_events() {
        let management = advanced(vec![field("eventCategory", &["Management"])]);
        let writes = advanced(vec![
            field("eventCategory", &["Management"]),
            field("readOnly", &["false"]),
        ]);
        let reads = advanced(vec![
            field("eventCategory", &["Management"]),
            field("readOnly", &["true"]),
        ]);
        let objects = advanced(vec![
            field("eventCategory", &["Data"]),
            field("resources.type", &["AWS::S3::Object"]),
            field("readOnly", &["false"]),
        ]);
        let one_bucket = advanced(vec![
            field("eventCategory", &["Data"]),
            field("resources.type", &["AWS::S3::Object"]),
            FieldCondition {
                field: "resources.ARN".to_string(),
                starts_with: vec!["arn:aws:s3:::payroll/".to_string()],
                ..FieldCondition::default()
            },
        ]);
        let no_s3 = advanced(vec![
            field("eventCategory", &["Management"]),
            FieldCondition {
                field: "eventSource".to_string(),
                not_equals: vec!["s3.amazonaws.com".to_string()],
                ..FieldCondition::default()
            },
        ]);
        let check = |list: Vec<AdvancedSelector>| {
            let s = Selectors::Advanced(list);
            (s.management_writes(), s.object_acl_writes())
        };
        assert_eq!(check(vec![management]), (Selection::All, Selection::None));
        assert_eq!(
            check(vec![writes.clone(), objects]),
            (Selection::All, Selection::All)
        );
        assert_eq!(check(vec![reads]), (Selection::None, Selection::None));
        assert_eq!(check(vec![no_s3]), (Selection::None, Selection::None));
        let (m, o) = check(vec![writes, one_bucket]);
        assert_eq!(m, Selection::All);
        assert!(matches!(o, Selection::Some(why) if why.contains("resources.ARN")));
    }

    #[test]
    fn delivery_needs_a_logging_organization_trail_covering_the_region() {
        let none: Result<Vec<Trail>, String> = Ok(vec![]);
        assert!(matches!(
            delivery(&none, "eu-west-1"),
            RegionDelivery::Unverified { .. }
        ));
        let account_only = Ok(vec![trail("own", "eu-west-1", true, false, true)]);
        assert!(matches!(
            delivery(&account_only, "eu-west-1"),
            RegionDelivery::Unverified { .. }
        ));
        let home_only = Ok(vec![trail("org", "us-east-1", false, true, true)]);
        assert!(matches!(
            delivery(&home_only, "us-east-1"),
            RegionDelivery::Delivered { .. }
        ));
        let RegionDelivery::Blind { reason } = delivery(&home_only, "eu-west-1") else {
            panic!("a single-region trail leaves other regions blind");
        };
        assert!(reason.contains("not multi-region"), "{reason}");
        let stopped = Ok(vec![trail("org", "us-east-1", true, true, false)]);
        let RegionDelivery::Blind { reason } = delivery(&stopped, "us-east-1") else {
            panic!("a trail that stopped logging delivers nothing");
        };
        assert!(reason.contains("not logging"), "{reason}");
        let unreadable: Result<Vec<Trail>, String> = Err("AccessDenied".to_string());
        assert!(matches!(
            delivery(&unreadable, "us-east-1"),
            RegionDelivery::Unverified { .. }
        ));
    }

    #[test]
    fn delivery_prefers_the_trail_that_also_records_object_acls() {
        let mut with_data = trail("data", "us-east-1", true, true, true);
        with_data.selectors = Ok(Selectors::Basic(vec![basic(
            "All",
            true,
            &[("AWS::S3::Object", &["arn:aws:s3"])],
        )]));
        let plain = trail("plain", "us-east-1", true, true, true);
        let trails = Ok(vec![plain, with_data]);
        assert_eq!(
            delivery(&trails, "eu-west-1"),
            RegionDelivery::Delivered {
                trail: "data".to_string(),
                object_acl: Selection::All
            }
        );
    }
}
