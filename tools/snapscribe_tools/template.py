"""Read template.yaml the way CloudFormation would, so local resources come from its own definitions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt, ...) read as their long forms."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(document, dict)
    return document


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str  # as in the template, e.g. /api/ocr/results/{id}
    function_id: str

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        pattern = "^"
        for literal, name in re.findall(r"([^{]*)(?:\{(\w+)\+?\})?", self.path):
            pattern += re.escape(literal) + (f"(?P<{name}>[^/]+)" if name else "")
        pattern += "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, Any]
    routes: list[ApiRoute] = field(default_factory=list)
    s3_events: list[dict[str, Any]] = field(default_factory=list)
    sqs_events: list[dict[str, Any]] = field(default_factory=list)  # Queue, BatchSize, ScalingConfig, ...
    schedules: list[str] = field(default_factory=list)  # rate(...) expressions
    package_type: str = "Zip"


def resources(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def functions(template: Mapping[str, Any], parameters: Mapping[str, str] | None = None) -> list[FunctionDef]:
    """Every function, its settings resolved against the template's parameters (defaults, or `parameters`)."""
    values = {**parameter_defaults(template), **(parameters or {})}

    def number(value: Any, default: int) -> int:
        if isinstance(value, dict) and "Ref" in value:
            return int(values[value["Ref"]])
        return int(value if value is not None else default)

    globals_ = template.get("Globals", {}).get("Function", {})
    result = []
    for logical_id, resource in resources(template, "AWS::Serverless::Function").items():
        props = {**globals_, **resource["Properties"]}
        environment = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **resource["Properties"].get("Environment", {}).get("Variables", {}),
        }
        routes, s3_events, sqs_events, schedules = [], [], [], []
        for event in props.get("Events", {}).values():
            if event["Type"] == "Api":
                routes.append(ApiRoute(event["Properties"]["Method"].upper(), event["Properties"]["Path"], logical_id))
            elif event["Type"] == "S3":
                s3_events.append(event["Properties"])
            elif event["Type"] == "SQS":
                sqs_events.append(event["Properties"])
            elif event["Type"] == "Schedule":
                schedules.append(event["Properties"]["Schedule"])
        package_type = props.get("PackageType", "Zip")
        if package_type == "Image":
            # A container function: its code and handler come from the Dockerfile beside it.
            metadata = resource.get("Metadata", {})
            code_uri = PROJECT_ROOT / metadata.get("DockerContext", ".") / Path(metadata["Dockerfile"]).parent
            handler = props.get("ImageConfig", {}).get("Command", ["app.lambda_handler"])[0]
        else:
            code_uri = PROJECT_ROOT / props["CodeUri"]
            handler = props["Handler"]
        result.append(
            FunctionDef(
                logical_id=logical_id,
                code_uri=code_uri,
                handler=handler,
                timeout=number(props.get("Timeout"), 3),
                memory=number(props.get("MemorySize"), 128),
                environment=environment,
                routes=routes,
                s3_events=s3_events,
                sqs_events=sqs_events,
                schedules=schedules,
                package_type=package_type,
            )
        )
    return result


def binary_media_types(template: Mapping[str, Any]) -> list[str]:
    types: list[str] = []
    for api in resources(template, "AWS::Serverless::Api").values():
        types.extend(item.replace("~1", "/") for item in api["Properties"].get("BinaryMediaTypes", []))
    return types


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def queue_url(name: str) -> str:
    """A queue's URL as Ref gives it (the SDK sends requests to its endpoint; the path names the queue)."""
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"


NO_VALUE = object()  # AWS::NoValue: the property or list item is left out


class Resolver:
    """Resolves the intrinsic functions a template uses in values, with local physical names."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str], names: Mapping[str, str]) -> None:
        self._types = {logical_id: resource["Type"] for logical_id, resource in template["Resources"].items()}
        self._parameters = {
            **parameter_defaults(template),
            **parameters,
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "snapscribe-local",
            "AWS::StackId": (
                "arn:aws:cloudformation:us-east-1:123456789012:stack/snapscribe-local/10ca1000-0000-0000-0000-000000000000"
            ),
        }
        self._names = dict(names)
        declared = template.get("Parameters", {})
        self._lists = {name for name, parameter in declared.items() if parameter["Type"] == "CommaDelimitedList"}
        self._conditions = dict(template.get("Conditions", {}))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._lists:
            return self._parameters[name].split(",")
        if name in self._parameters:
            return self._parameters[name]
        if name in self._names:
            return queue_url(self._names[name]) if self._types.get(name) == "AWS::SQS::Queue" else self._names[name]
        raise KeyError(f"cannot resolve Ref {name} locally")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        name, kind = self._names[logical_id], self._types.get(logical_id)
        if kind == "AWS::SQS::Queue":
            return {"QueueName": name, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", "QueueUrl": queue_url(name)}[
                attribute
            ]
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        return f"arn:aws:local:::{name}"

    def condition(self, name: str) -> bool:
        """A condition of the template's Conditions, evaluated with the local parameters."""
        return self._truth(self._conditions[name])

    def _truth(self, value: Any) -> bool:
        ((key, inner),) = value.items()
        if key == "Condition":
            return self.condition(inner)
        if key == "Fn::Equals":
            return bool(self.resolve(inner[0]) == self.resolve(inner[1]))
        if key == "Fn::Not":
            return not self._truth(inner[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in inner)
        if key == "Fn::Or":
            return any(self._truth(item) for item in inner)
        raise KeyError(f"cannot evaluate condition {key} locally")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, inner),) = value.items()
            if key == "Fn::If":
                return self.resolve(inner[1] if self.condition(inner[0]) else inner[2])
            if key == "Ref":
                return self._ref(inner)
            if key == "Fn::Sub":
                text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], self.resolve(inner[1]))

                def substitute(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in variables:
                        return str(variables[name])
                    logical_id, _, attribute = name.partition(".")
                    return self._get_att(logical_id, attribute) if attribute else self._ref(logical_id)

                return re.sub(r"\$\{([^}]+)\}", substitute, text)
            if key == "Fn::GetAtt":
                return self._get_att(inner[0], inner[1])
            if key == "Fn::Join":
                items = self.resolve(inner[1])  # a list, or a Ref to a list parameter
                return str(inner[0]).join(str(item) for item in (items if isinstance(items, list) else [items]))
            if key == "Fn::Split":
                return str(self.resolve(inner[1])).split(inner[0])
            if key == "Fn::Select":
                return self.resolve(inner[1])[int(inner[0])]
        if isinstance(value, dict):
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        return value


def rate_seconds(expression: str) -> int:
    """Seconds between runs for an EventBridge `rate(N unit)` expression."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"unsupported schedule {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit
