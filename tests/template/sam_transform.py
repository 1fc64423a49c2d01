"""template.yaml as CloudFormation receives it: SAM's own translator (the aws-sam-cli's, offline), with the code
locations a `sam package` would put in (they change no other resource)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from snapscribe_tools.template import PROJECT_ROOT

# The managed policies the template names, by name (the translator would ask IAM for their ARNs).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


class _Policies:
    def load(self) -> dict[str, str]:
        return MANAGED_POLICIES


@cache
def _transformed() -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((PROJECT_ROOT / "template.yaml").read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image":
                properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/snapscribe:latest"
            else:
                properties["CodeUri"] = "s3://packaged/code.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = "s3://packaged/layer.zip"
    transformed: dict[str, Any] = transform(template, {}, _Policies())
    return transformed


def transformed() -> dict[str, Any]:
    """A copy of the translated template (its Resources: the AWS::* resources SAM makes)."""
    return copy.deepcopy(_transformed())
