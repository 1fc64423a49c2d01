"""The admin CLI's key commands against a deployed stack (moto's CloudFormation): a new key's credits and
rate limit are the stack's own parameters, read by the CLI, never passed to a Lambda."""

from __future__ import annotations

import json

import boto3
import pytest

from snapscribe_tools import cli
from snapscribe_tools.resources import local_names
from snapscribe_tools.template import load_template

# A stand-in for the deployed snapscribe stack: the parameters and the output the CLI reads.
STACK_TEMPLATE = {
    "Parameters": {"StartingCredits": {"Type": "Number"}, "DefaultRateLimit": {"Type": "Number"}},
    "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"AccountsTableName": {"Value": local_names(load_template())["AccountsTable"]}},
}


def _deploy(aws: boto3.session.Session, credits: int, rate_limit: int) -> None:
    aws.client("cloudformation").create_stack(
        StackName="snapscribe-prod",
        TemplateBody=json.dumps(STACK_TEMPLATE),
        Parameters=[
            {"ParameterKey": "StartingCredits", "ParameterValue": str(credits)},
            {"ParameterKey": "DefaultRateLimit", "ParameterValue": str(rate_limit)},
        ],
    )


def test_keys_create_takes_its_defaults_from_the_deployed_stack(
    aws: boto3.session.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    _deploy(aws, credits=777, rate_limit=33)
    assert cli.main(["keys", "create", "--stack", "snapscribe-prod", "--user", "alice"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["userId"], created["balance"], created["rateLimit"]) == ("alice", 777, 33)
    assert created["apiKey"].startswith("ssk_")


def test_explicit_values_win_over_the_stack(aws: boto3.session.Session, capsys: pytest.CaptureFixture[str]) -> None:
    _deploy(aws, credits=777, rate_limit=33)
    arguments = ["keys", "create", "--stack", "snapscribe-prod", "--user", "bob", "--credits", "5", "--rate-limit", "2"]
    assert cli.main(arguments) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["balance"], created["rateLimit"]) == (5, 2)


def test_a_table_alone_uses_the_template_defaults(
    aws: boto3.session.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    table = local_names(load_template())["AccountsTable"]
    assert cli.main(["keys", "create", "--table", table, "--user", "carol"]) == 0
    created = json.loads(capsys.readouterr().out)
    parameters = load_template()["Parameters"]
    assert created["balance"] == parameters["StartingCredits"]["Default"]
    assert created["rateLimit"] == parameters["DefaultRateLimit"]["Default"]


def test_a_key_comes_with_a_webhook_secret_that_can_be_replaced(
    aws: boto3.session.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    _deploy(aws, credits=10, rate_limit=5)
    assert cli.main(["keys", "create", "--stack", "snapscribe-prod", "--user", "dora"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["webhookSecret"].startswith("whsec_")
    assert cli.main(["keys", "webhook-secret", "--stack", "snapscribe-prod", created["keyId"]]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["keyId"] == created["keyId"]
    assert rotated["webhookSecret"].startswith("whsec_")
    assert rotated["webhookSecret"] != created["webhookSecret"]
    assert cli.main(["keys", "webhook-secret", "--stack", "snapscribe-prod", "key_nobody"]) == 1
