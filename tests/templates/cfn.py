"""Reading the CloudFormation templates of templates/ the way CloudFormation reads them.

- `load(path)` parses YAML with the short-form intrinsic tags (!Ref, !Sub, !GetAtt, ...) into the
  long form ({"Ref": ...}, {"Fn::Sub": ...}), so the tests read the event pattern, the input
  transformer and the policies out of the template files instead of copying them.
- `resolve(node, ctx)` evaluates the few intrinsics the templates use, given the parameter values,
  pseudo parameters and the physical ids / attributes of a deployed stack.
- `render_text_template(...)` fills an InputTransformer text template the way EventBridge documents
  it (used only where the emulator cannot: see docs/monitor.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = REPO / "templates"
STANDALONE = TEMPLATES_DIR / "s3-policy-monitor.yaml"
HUB = TEMPLATES_DIR / "s3-policy-monitor-hub.yaml"
SPOKE = TEMPLATES_DIR / "s3-policy-monitor-spoke.yaml"
ALL_TEMPLATES = (STANDALONE, HUB, SPOKE)


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic function tags."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def the_resource(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, resource_type)
    assert len(found) == 1, f"expected exactly one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def event_rule(template: dict[str, Any]) -> dict[str, Any]:
    return the_resource(template, "AWS::Events::Rule")[1]["Properties"]


def event_pattern(template: dict[str, Any]) -> dict[str, Any]:
    return event_rule(template)["EventPattern"]


def input_transformer(template: dict[str, Any]) -> dict[str, Any]:
    targets = event_rule(template)["Targets"]
    assert len(targets) == 1
    return targets[0]["InputTransformer"]


def placeholders(input_template: str) -> set[str]:
    return set(re.findall(r"<([A-Za-z0-9.\-]+)>", input_template))


# --- evaluating intrinsics -------------------------------------------------------------------


class Context:
    """What `resolve` needs: parameters, pseudo parameters, a deployed stack's ids/attributes."""

    def __init__(
        self,
        parameters: dict[str, str],
        region: str,
        account: str,
        stack_name: str = "test-stack",
        physical_ids: dict[str, str] | None = None,
        attributes: dict[str, str] | None = None,
    ):
        self.values = {
            **parameters,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.physical_ids = physical_ids or {}
        self.attributes = attributes or {}


def resolve(node: Any, ctx: Context) -> Any:
    if isinstance(node, list):
        return [resolve(n, ctx) for n in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref":
            if arg in ctx.values:
                return ctx.values[arg]
            return ctx.physical_ids[arg]
        if key == "Fn::GetAtt":
            return ctx.attributes[".".join(arg)]
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], resolve(arg[1], ctx))

            def sub(m: re.Match[str]) -> str:
                name = m.group(1)
                if name in extra:
                    return str(extra[name])
                if "." in name and name.split(".", 1)[0] not in ctx.values:
                    return str(ctx.attributes[name])
                return str(resolve({"Ref": name}, ctx))

            return re.sub(r"\$\{([^!}][^}]*)\}", sub, text)
        if key == "Fn::Join":
            return arg[0].join(str(resolve(x, ctx)) for x in arg[1])
        if key.startswith("Fn::") or key == "Condition":
            raise NotImplementedError(f"intrinsic {key} is not needed by the tests")
    return {k: resolve(v, ctx) for k, v in node.items()}


def getatt_values_from_outputs(template: dict[str, Any], outputs: dict[str, str]) -> dict[str, str]:
    """Maps "Logical.Attribute" to its value, for every output that is a plain !GetAtt."""
    found: dict[str, str] = {}
    for key, out in template.get("Outputs", {}).items():
        value = out["Value"]
        if isinstance(value, dict) and "Fn::GetAtt" in value and key in outputs:
            found[".".join(value["Fn::GetAtt"])] = outputs[key]
    return found


# --- EventBridge input transformer -----------------------------------------------------------


def json_path(event: dict[str, Any], path: str) -> tuple[bool, Any]:
    """Evaluates the dot-notation JSON paths the templates use ($.a.b.c); returns (found, value)."""
    assert path.startswith("$."), path
    node: Any = event
    for part in path[2:].split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def render_text_template(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """Fills a (non-JSON) InputTemplate as the EventBridge documentation describes it.

    Values are inserted unescaped, objects and arrays as minified JSON; a path that does not exist
    in the event creates no variable and "won't appear in the output" (user guide, "Common issues
    with transforming input"), so its placeholder becomes empty. This is a model of the service,
    not the service: the emulator cannot run a non-JSON template (it json.loads the result).
    """
    text = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        found, value = json_path(event, path)
        if not found:
            rendered = ""
        elif isinstance(value, (dict, list)):
            rendered = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, str):
            rendered = value
        else:
            rendered = json.dumps(value)
        text = text.replace(f"<{name}>", rendered)
    return text


def evaluate_condition(template: dict[str, Any], name: str, ctx: Context) -> bool:
    """Evaluates a condition of the template's Conditions section (Fn::Equals/Not/And/Or)."""

    def ev(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Fn::Equals":
                return ev(arg[0]) == ev(arg[1])
            if key == "Fn::Not":
                return not ev(arg[0])
            if key == "Fn::And":
                return all(ev(a) for a in arg)
            if key == "Fn::Or":
                return any(ev(a) for a in arg)
            if key == "Condition":
                return evaluate_condition(template, arg, ctx)
        return resolve(node, ctx)

    return bool(ev(template["Conditions"][name]))
