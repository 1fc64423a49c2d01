"""API Gateway's access logs: one JSON line per request in a log group of their own, holding who called which route,
the answer and its latencies and why the integration failed, never a key, a header or a body; the one stage
there is (OpenApiVersion set: SAM makes no "Stage" stage beside it); the region's CloudWatch role only where
the operator lets the stack set it, kept when the stack goes."""

from __future__ import annotations

import json
import re
from typing import Any

from snapscribe_tools.template import load_template
from tests.template.sam_transform import transformed

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
API = RESOURCES["Api"]["Properties"]
VARIABLE = re.compile(r"\$context\.[A-Za-z.]+")
# What each field of the line is: $context variables of the REST API's access logs.
FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.messageString",
    "errorType": "$context.error.responseType",
}
# Variables that would log a credential or what a client sent: never in the line.
SECRET_OR_CONTENT = ("apiKey", "authorizer", "header", "body", "input", "requestOverride", "cognito")


def _line(format_: str, values: dict[str, str]) -> dict[str, Any]:
    """The line API Gateway writes: each variable replaced by its value (messageString comes quoted)."""
    parsed: dict[str, Any] = json.loads(VARIABLE.sub(lambda found: values[found[0]], format_))
    return parsed


def test_each_request_is_one_json_line_with_the_documented_fields() -> None:
    setting = API["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    format_ = setting["Format"]
    assert "\n" not in format_  # one line per request
    values = {variable: "x" for variable in FIELDS.values()}
    values["$context.error.messageString"] = '"Missing Authentication Token"'
    line = _line(format_, values)
    assert set(line) == set(FIELDS)
    for field, variable in FIELDS.items():
        assert _line(format_, {**values, variable: '"seen"' if variable.endswith("String") else "seen"})[field] == (
            "seen"
        ), field


def test_the_line_never_holds_a_key_a_header_or_a_body() -> None:
    variables = set(VARIABLE.findall(API["AccessLogSetting"]["Format"]))
    assert variables == set(FIELDS.values())
    assert not [variable for variable in variables if any(word in variable for word in SECRET_OR_CONTENT)]


def test_the_access_log_group_is_the_stacks_and_expires() -> None:
    group = RESOURCES["ApiAccessLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["Properties"]["LogGroupName"] == {"Fn::Sub": "/aws/apigateway/${AWS::StackName}/access"}
    assert group["DeletionPolicy"] == "Delete"


def test_only_the_named_stage_exists_with_the_access_logs_and_the_throttling() -> None:
    assert API["OpenApiVersion"].startswith("3.")
    resources_ = transformed()["Resources"]
    stages = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources_.items()
        if resource["Type"] == "AWS::ApiGateway::Stage"
    }
    assert len(stages) == 1, sorted(stages)
    # Without OpenApiVersion SAM's deployment makes a second stage itself, named "Stage".
    deployments = [resource for resource in resources_.values() if resource["Type"] == "AWS::ApiGateway::Deployment"]
    assert deployments
    assert not [deployment for deployment in deployments if "StageName" in deployment["Properties"]]
    (stage,) = stages.values()
    assert stage["StageName"] == {"Ref": "StageName"}
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert stage["MethodSettings"] == API["MethodSettings"]


def test_the_regions_cloudwatch_role_is_set_only_when_asked_and_outlives_the_stack() -> None:
    assert TEMPLATE["Parameters"]["CreateApiGatewayAccountRole"]["AllowedValues"] == ["true", "false"]
    assert TEMPLATE["Conditions"]["CreatesApiGatewayAccountRole"] == {
        "Fn::Equals": [{"Ref": "CreateApiGatewayAccountRole"}, "true"]
    }
    account, role = RESOURCES["ApiGatewayAccount"], RESOURCES["ApiGatewayCloudWatchRole"]
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    for resource in (account, role):
        assert resource["Condition"] == "CreatesApiGatewayAccountRole"
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert [arn["Fn::Sub"].rsplit("/", 1)[-1] for arn in role["Properties"]["ManagedPolicyArns"]] == [
        "AmazonAPIGatewayPushToCloudWatchLogs"
    ]
    assert "Policies" not in role["Properties"]
    # The stage needs the setting made first: its log group refers to it (a DependsOn on a resource whose
    # condition is false would be a template error).
    assert RESOURCES["ApiAccessLogGroup"]["Properties"]["Tags"] == {
        "Fn::If": [
            "CreatesApiGatewayAccountRole",
            [{"Key": "snapscribe:api-gateway-account", "Value": {"Ref": "ApiGatewayAccount"}}],
            {"Ref": "AWS::NoValue"},
        ]
    }
