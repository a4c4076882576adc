//! Reading CloudFormation templates: enough to check fleet.toml against them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

use crate::diagnostic::{Diagnostic, Location};

/// The largest template CloudFormation accepts inline as `TemplateBody`; larger ones need S3.
pub const MAX_TEMPLATE_BODY_BYTES: usize = 51_200;

/// A template read from disk, with what fleet.toml needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// The text as it will be sent to CloudFormation.
    pub body: String,
    /// Declared parameters by name.
    pub parameters: BTreeMap<String, TemplateParameter>,
    /// Whether the template uses `Transform` (macros), which service-managed stack sets reject.
    pub has_transform: bool,
}

/// One entry of the template's `Parameters` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateParameter {
    /// The `Default`, as CloudFormation would pass it (lists joined with commas), if any; with
    /// one, fleet.toml may leave the parameter unset.
    pub default: Option<String>,
    /// Whether the parameter is `NoEcho`: its value is masked wherever stackfleet shows it.
    pub no_echo: bool,
}

/// Parses a template body (YAML with CloudFormation short tags such as `!Ref`, or JSON).
///
/// `file` is only used to name the location of a problem.
pub fn parse_template(file: &Path, body: &str) -> Result<Template, Diagnostic> {
    let at = |line: usize, column: usize| Location {
        file: file.to_path_buf(),
        line,
        column,
    };
    if body.trim().is_empty() {
        return Err(Diagnostic::new(at(1, 1), "the template is empty"));
    }
    let root: Value = serde_yaml_ng::from_str(body).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        Diagnostic::new(
            at(line, column),
            format!(
                "the template is not valid YAML or JSON: {}",
                yaml_message(&e)
            ),
        )
    })?;
    let Value::Mapping(root) = root else {
        return Err(Diagnostic::new(
            at(1, 1),
            "the template must be a mapping with a Resources section",
        ));
    };
    if !root.contains_key("Resources") {
        return Err(Diagnostic::new(
            at(1, 1),
            "the template has no Resources section",
        ));
    }
    let mut parameters = BTreeMap::new();
    match root.get("Parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(declared)) => {
            for (name, decl) in declared {
                let Some(name) = name.as_str() else {
                    return Err(Diagnostic::new(
                        at(1, 1),
                        "a parameter name in the Parameters section is not a string",
                    ));
                };
                let decl = decl.as_mapping();
                let default = decl.and_then(|d| d.get("Default")).map(scalar_text);
                let no_echo = decl.and_then(|d| d.get("NoEcho")).is_some_and(is_true);
                parameters.insert(name.to_string(), TemplateParameter { default, no_echo });
            }
        }
        Some(_) => {
            return Err(Diagnostic::new(
                at(1, 1),
                "the template's Parameters section must be a mapping",
            ));
        }
    }
    Ok(Template {
        body: body.to_string(),
        parameters,
        has_transform: root.contains_key("Transform"),
    })
}

impl TemplateParameter {
    /// Whether fleet.toml may leave the parameter unset.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }
}

/// The resources a template declares, as (logical id, `Type`), in the template's order; empty
/// when the body does not parse. For summaries of a new stack set and for checks on resource
/// types (IAM resources need a capability).
pub fn resource_types(body: &str) -> Vec<(String, String)> {
    let Ok(Value::Mapping(root)) = serde_yaml_ng::from_str::<Value>(body) else {
        return Vec::new();
    };
    let Some(Value::Mapping(resources)) = root.get("Resources") else {
        return Vec::new();
    };
    resources
        .iter()
        .filter_map(|(id, decl)| {
            let kind = decl.as_mapping()?.get("Type")?.as_str()?;
            Some((id.as_str()?.to_string(), kind.to_string()))
        })
        .collect()
}

/// IAM resource types that CloudFormation creates only with `CAPABILITY_IAM` or
/// `CAPABILITY_NAMED_IAM` (CreateStackSet, "Capabilities":
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html>),
/// and the property that gives each a custom name, which needs `CAPABILITY_NAMED_IAM`.
const IAM_RESOURCES: &[(&str, Option<&str>)] = &[
    ("AWS::IAM::AccessKey", None),
    ("AWS::IAM::Group", Some("GroupName")),
    ("AWS::IAM::InstanceProfile", Some("InstanceProfileName")),
    ("AWS::IAM::ManagedPolicy", Some("ManagedPolicyName")),
    ("AWS::IAM::Policy", None),
    ("AWS::IAM::Role", Some("RoleName")),
    ("AWS::IAM::User", Some("UserName")),
    ("AWS::IAM::UserToGroupAddition", None),
];

/// The template's resources that need an IAM capability: (logical id, whether it has a custom
/// name and so needs `CAPABILITY_NAMED_IAM`).
pub fn iam_resources(body: &str) -> Vec<(String, bool)> {
    let Ok(Value::Mapping(root)) = serde_yaml_ng::from_str::<Value>(body) else {
        return Vec::new();
    };
    let Some(Value::Mapping(resources)) = root.get("Resources") else {
        return Vec::new();
    };
    resources
        .iter()
        .filter_map(|(id, decl)| {
            let decl = decl.as_mapping()?;
            let kind = decl.get("Type")?.as_str()?;
            let (_, name_property) = IAM_RESOURCES.iter().find(|(t, _)| *t == kind)?;
            let named = name_property.is_some_and(|p| {
                decl.get("Properties")
                    .and_then(Value::as_mapping)
                    .is_some_and(|props| props.contains_key(p))
            });
            Some((id.as_str()?.to_string(), named))
        })
        .collect()
}

/// A parameter default as the text CloudFormation would use.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Sequence(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        _ => String::new(),
    }
}

/// The YAML error's message without the " at line L column C" that we report separately.
fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let text = e.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

impl Template {
    /// Logical ids of the resources whose properties use a NoEcho parameter (`Ref`, `!Ref`, or
    /// `${Param}` in a `Sub`): their drift values may hold the resolved secret. Any string equal
    /// to the parameter's name counts, which may mask more than needed, never less.
    pub fn resources_using_secrets(&self) -> std::collections::BTreeSet<String> {
        let secrets: Vec<&String> = self
            .parameters
            .iter()
            .filter(|(_, p)| p.no_echo)
            .map(|(name, _)| name)
            .collect();
        let mut out = std::collections::BTreeSet::new();
        if secrets.is_empty() {
            return out;
        }
        let Ok(Value::Mapping(root)) = serde_yaml_ng::from_str::<Value>(&self.body) else {
            return out;
        };
        let Some(Value::Mapping(resources)) = root.get("Resources") else {
            return out;
        };
        for (id, resource) in resources {
            let (Some(id), Some(properties)) = (id.as_str(), resource.get("Properties")) else {
                continue;
            };
            if mentions(properties, &secrets) {
                out.insert(id.to_string());
            }
        }
        out
    }
}

/// Whether any string in `value` names one of `params` or substitutes it (`${Param}`).
fn mentions(value: &Value, params: &[&String]) -> bool {
    match value {
        Value::String(s) => params
            .iter()
            .any(|p| s == *p || s.contains(&format!("${{{p}}}"))),
        Value::Sequence(items) => items.iter().any(|v| mentions(v, params)),
        Value::Mapping(map) => map
            .iter()
            .any(|(k, v)| mentions(k, params) || mentions(v, params)),
        Value::Tagged(tagged) => mentions(&tagged.value, params),
        _ => false,
    }
}

/// CloudFormation's reading of a Boolean attribute such as `NoEcho`: `true` or the string
/// `"true"` in any case (`"True"`, `"TRUE"`), as CloudFormation accepts them.
fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true)
        || value
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn resources_fed_by_a_noecho_parameter_are_found_in_every_spelling() {
        let body = "Parameters:\n  Token:\n    Type: String\n    NoEcho: \"TRUE\"\n  Team:\n    Type: String\nResources:\n  ByRef:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: !Ref Token\n  BySub:\n    Type: AWS::Lambda::Function\n    Properties:\n      Environment:\n        Variables:\n          T: !Sub 'bearer ${Token}'\n  ByLongRef:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: {Ref: Token}\n  Other:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Value: !Ref Team\n";
        let t = parse_template(std::path::Path::new("t.yaml"), body).unwrap();
        assert!(t.parameters["Token"].no_echo);
        let found: Vec<String> = t.resources_using_secrets().into_iter().collect();
        assert_eq!(found, ["ByLongRef", "ByRef", "BySub"]);
    }
    use super::*;

    fn parse(body: &str) -> Result<Template, Diagnostic> {
        parse_template(Path::new("t.yaml"), body)
    }

    #[test]
    fn reads_yaml_with_short_tags() {
        let t = parse(
            "Parameters:\n  Email:\n    Type: String\n  Secret:\n    Type: String\n    NoEcho: true\n    Default: x\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub '${AWS::StackName}-t'\n      KmsMasterKeyId: !GetAtt Key.Arn\nOutputs:\n  A:\n    Value: !Ref Topic\n",
        )
        .unwrap();
        assert_eq!(t.parameters.len(), 2);
        assert!(!t.parameters["Email"].has_default());
        assert_eq!(t.parameters["Secret"].default.as_deref(), Some("x"));
        assert!(t.parameters["Secret"].no_echo);
        assert!(!t.has_transform);
    }

    #[test]
    fn lists_resource_types_in_template_order() {
        let body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Path: !Sub '/${AWS::StackName}/'\n";
        assert_eq!(
            resource_types(body),
            [
                ("Topic".to_string(), "AWS::SNS::Topic".to_string()),
                ("Role".to_string(), "AWS::IAM::Role".to_string())
            ]
        );
        assert!(resource_types("not: [a template").is_empty());
    }

    #[test]
    fn finds_iam_resources_and_whether_they_are_named() {
        let body = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n  Anonymous:\n    Type: AWS::IAM::Role\n  Named:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::StackName}-r'\n  Keys:\n    Type: AWS::IAM::AccessKey\n";
        assert_eq!(
            iam_resources(body),
            [
                ("Anonymous".to_string(), false),
                ("Named".to_string(), true),
                ("Keys".to_string(), false)
            ]
        );
    }

    #[test]
    fn reads_json() {
        let t = parse(r#"{"Transform": "AWS::Serverless-2016-10-31", "Resources": {"T": {"Type": "AWS::SNS::Topic"}}}"#).unwrap();
        assert!(t.parameters.is_empty());
        assert!(t.has_transform);
    }

    #[test]
    fn reports_where_yaml_breaks() {
        let d = parse("Resources:\n  T:\n    Type: [unclosed\n").unwrap_err();
        assert_eq!(d.location.line, 4);
        assert!(d.message.contains("not valid YAML"), "{d}");
    }

    #[test]
    fn rejects_empty_and_non_templates() {
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("- a\n- b\n").unwrap_err().message.contains("mapping"));
        assert!(
            parse("Parameters: {}\n")
                .unwrap_err()
                .message
                .contains("Resources")
        );
    }
}
