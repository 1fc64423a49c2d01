"""template.yaml's alarms and dashboard: every function, queue, dead-letter queue, table, the API and each engine
metric is watched by an alarm that publishes to AlarmTopic, and the dashboard shows them all. The resources come
from the template itself, so a function, queue or table added without its alarms fails here, named."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from snapscribe import metering
from snapscribe_tools.template import Resolver, load_template, resources

TEMPLATE = load_template()
ALARMS = resources(TEMPLATE, "AWS::CloudWatch::Alarm")
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
QUEUES = resources(TEMPLATE, "AWS::SQS::Queue")
DEAD_LETTER_QUEUES = sorted(name for name in QUEUES if name.endswith("DeadLetterQueue"))
WORK_QUEUES = sorted(name for name in QUEUES if name not in DEAD_LETTER_QUEUES)
TABLES = sorted(resources(TEMPLATE, "AWS::DynamoDB::Table"))
GLOBAL_VARIABLES = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
# Powertools' EMF: the namespace, and the service as the one default dimension.
ENGINE_METRICS = (
    GLOBAL_VARIABLES["POWERTOOLS_METRICS_NAMESPACE"],
    {"service": GLOBAL_VARIABLES["POWERTOOLS_SERVICE_NAME"]},
)

# A Metrics Insights query over one table, as the DynamoDB alarms write it (DynamoDB publishes per operation).
INSIGHTS_QUERY = re.compile(
    r"SELECT (?P<stat>\w+)\((?P<metric>\w+)\) FROM SCHEMA\(\"(?P<namespace>[^\"]+)\"[^)]*\)"
    r" WHERE (?P<dimension>\w+) = '\$\{(?P<value>[\w:]+)\}'"
)


@dataclass(frozen=True)
class Watch:
    """One metric an alarm reads: its dimensions name logical ids (a Ref or GetAtt) or literal values."""

    alarm: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    stat: str


def _dimension_value(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    assert isinstance(value, str), value
    return value


def _dimensions(items: list[dict[str, Any]]) -> dict[str, str]:
    return {item["Name"]: _dimension_value(item["Value"]) for item in items}


def _expression_text(expression: Any) -> str | None:
    """A metric math expression's text: a plain string, or a Fn::Sub's."""
    if isinstance(expression, dict):
        expression = expression.get("Fn::Sub")
    return expression if isinstance(expression, str) else None


def watches(alarm_id: str) -> list[Watch]:
    """The metrics an alarm reads: its own metric, its metric math's MetricStats, or its Metrics Insights queries."""
    properties = ALARMS[alarm_id]["Properties"]
    if "MetricName" in properties:
        stat = properties.get("Statistic") or properties["ExtendedStatistic"]
        dimensions = _dimensions(properties.get("Dimensions", []))
        return [Watch(alarm_id, properties["Namespace"], properties["MetricName"], dimensions, stat)]
    found = []
    for query in properties["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = _dimensions(metric.get("Dimensions", []))
            stat = query["MetricStat"]["Stat"]
            found.append(Watch(alarm_id, metric["Namespace"], metric["MetricName"], dimensions, stat))
        elif isinstance(sub := _expression_text(query.get("Expression")), str) and (
            matched := INSIGHTS_QUERY.fullmatch(sub.strip())
        ):
            dimensions = {matched["dimension"]: matched["value"]}
            found.append(Watch(alarm_id, matched["namespace"], matched["metric"], dimensions, matched["stat"]))
    return found


WATCHES = [watch for alarm_id in ALARMS for watch in watches(alarm_id)]


def watchers(namespace: str, metric: str, **dimensions: str) -> list[str]:
    """The alarms that read `metric` with (at least) these dimensions."""
    return sorted(
        {
            watch.alarm
            for watch in WATCHES
            if (watch.namespace, watch.metric) == (namespace, metric) and dimensions.items() <= watch.dimensions.items()
        }
    )


def coverage() -> str:
    """What watches each resource: the failure messages below show it."""
    lines = []
    for name in [*FUNCTIONS, *QUEUES, *TABLES]:
        alarms = sorted({watch.alarm for watch in WATCHES if name in watch.dimensions.values()})
        lines.append(f"{name}: {', '.join(alarms) or 'NOTHING'}")
    return "\n".join(lines)


def _alarm(alarm_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = ALARMS[alarm_id]["Properties"]
    return properties


def _function_timeout(name: str) -> Any:
    return FUNCTIONS[name]["Properties"].get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])


def _percent_of_timeout(alarm_id: str, metric_value: float, parameters: dict[str, str]) -> float:
    """The alarm's metric math evaluated as CloudWatch would, with its metric at `metric_value` (ms)."""
    (stat_query,) = [query for query in _alarm(alarm_id)["Metrics"] if "MetricStat" in query]
    (math,) = [query for query in _alarm(alarm_id)["Metrics"] if query.get("ReturnData") is not False]
    expression = Resolver(TEMPLATE, parameters, {}).resolve(math["Expression"])
    arithmetic = re.sub(rf"\b{stat_query['Id']}\b", repr(metric_value), expression)
    assert re.fullmatch(r"[\d.\s()*/+-]+", arithmetic), arithmetic  # numbers and operators only, nothing else
    result: float = eval(arithmetic)  # noqa: S307 - checked above to hold arithmetic only
    return result


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_is_watched_for_errors_throttles_and_its_timeout(name: str) -> None:
    for metric in ("Errors", "Throttles"):
        alarms = watchers("AWS/Lambda", metric, FunctionName=name)
        assert alarms, f"{name} has no alarm on {metric}\n{coverage()}"
        for alarm_id in alarms:
            alarm = _alarm(alarm_id)
            assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
                "Sum",
                "GreaterThanThreshold",
                0,
            ), alarm_id
    alarms = watchers("AWS/Lambda", "Duration", FunctionName=name)
    assert alarms, f"{name} has no alarm on Duration (near its timeout)\n{coverage()}"
    for alarm_id in alarms:
        # The threshold follows the function's own timeout, also when its parameter changes.
        math = next(query for query in _alarm(alarm_id)["Metrics"] if "Expression" in query)
        text, variables = math["Expression"]["Fn::Sub"]
        assert "${Timeout}" in text
        assert str(variables["Timeout"]) == str(_function_timeout(name)), alarm_id
        for parameters in ({}, {"ApiTimeout": "10", "WorkerTimeout": "600"}):
            timeout = Resolver(TEMPLATE, parameters, {}).resolve(_function_timeout(name))
            limit_ms = int(timeout) * 1000
            threshold = _alarm(alarm_id)["Threshold"]
            assert _percent_of_timeout(alarm_id, 0.81 * limit_ms, parameters) > threshold, (alarm_id, parameters)
            assert _percent_of_timeout(alarm_id, 0.79 * limit_ms, parameters) < threshold, (alarm_id, parameters)


def _consumed_queues() -> set[str]:
    """The queues a function of the template polls (an SQS event source): their messages go in flight at once."""
    return {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]
        for function in FUNCTIONS.values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    }


def _held_messages(alarm_id: str, visible: float, in_flight: float) -> float:
    """What a depth alarm reads with the queue holding `visible` and `in_flight` messages, as CloudWatch computes it."""
    alarm = _alarm(alarm_id)
    if "MetricName" in alarm:
        return {"ApproximateNumberOfMessagesVisible": visible, "ApproximateNumberOfMessagesNotVisible": in_flight}[
            alarm["MetricName"]
        ]
    values = {"ApproximateNumberOfMessagesVisible": visible, "ApproximateNumberOfMessagesNotVisible": in_flight}
    (math,) = [query for query in alarm["Metrics"] if "Expression" in query]
    expression = math["Expression"]
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            assert query["MetricStat"]["Stat"] == "Maximum", alarm_id
            value = values[query["MetricStat"]["Metric"]["MetricName"]]
            expression = re.sub(rf"\b{query['Id']}\b", repr(value), expression)
    assert re.fullmatch(r"[\d.\s()*/+-]+", expression), expression
    result: float = eval(expression)  # noqa: S307 - checked above to hold arithmetic only
    return result


@pytest.mark.parametrize("name", DEAD_LETTER_QUEUES)
def test_every_dead_letter_queue_alarms_on_its_first_message(name: str) -> None:
    alarms = watchers("AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=name)
    assert alarms, f"the dead-letter queue {name} has no alarm on its depth\n{coverage()}"
    for alarm_id in alarms:
        alarm = _alarm(alarm_id)
        assert (alarm.get("Statistic", "Maximum"), alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "Maximum",
            "GreaterThanThreshold",
            0,
        )
        assert _held_messages(alarm_id, visible=1, in_flight=0) > 0, alarm_id
        assert _held_messages(alarm_id, visible=0, in_flight=0) == 0, alarm_id
        if name in _consumed_queues():
            # A function takes its messages at once (WorkerFunction's DeadWorkItems): they are in flight, not
            # visible, while it resolves them and whenever it fails on one.
            assert _held_messages(alarm_id, visible=0, in_flight=1) > 0, f"{alarm_id} misses {name}'s in-flight ones"


def test_a_dead_letter_queue_a_function_consumes_is_among_those_checked() -> None:
    assert "WorkDeadLetterQueue" in _consumed_queues() & set(DEAD_LETTER_QUEUES)


@pytest.mark.parametrize("name", WORK_QUEUES)
def test_every_queue_alarms_on_its_oldest_message(name: str) -> None:
    alarms = watchers("AWS/SQS", "ApproximateAgeOfOldestMessage", QueueName=name)
    assert alarms, f"the queue {name} has no alarm on its oldest message's age\n{coverage()}"
    for alarm_id in alarms:
        # Seconds: more than a worker's whole batch may take, less than the messages' retention.
        assert 0 < _alarm(alarm_id)["Threshold"] < QUEUES[name]["Properties"]["MessageRetentionPeriod"]


@pytest.mark.parametrize("name", TABLES)
def test_every_table_alarms_on_throttles_and_system_errors(name: str) -> None:
    for metric in ("ThrottledRequests", "SystemErrors"):
        alarms = watchers("AWS/DynamoDB", metric, TableName=name)
        assert alarms, f"the table {name} has no alarm on {metric}\n{coverage()}"
        for alarm_id in alarms:
            assert (_alarm(alarm_id)["ComparisonOperator"], _alarm(alarm_id)["Threshold"]) == (
                "GreaterThanThreshold",
                0,
            )


def _translated_api() -> tuple[Any, Any]:
    """The REST API's name and its stage's name as SAM makes them (the dimensions API Gateway publishes under)."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = copy.deepcopy(TEMPLATE)
    for resource in template["Resources"].values():  # SAM wants uploaded code; these are placeholders
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image":
                properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/snapscribe:latest"
            else:
                properties["CodeUri"] = "s3://bucket/code.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            properties["ContentUri"] = "s3://bucket/layer.zip"
    translated = transform(template, {}, NoManagedPolicies())["Resources"]
    (rest_api,) = [resource for resource in translated.values() if resource["Type"] == "AWS::ApiGateway::RestApi"]
    (stage,) = [
        resource
        for resource in translated.values()
        if resource["Type"] == "AWS::ApiGateway::Stage" and resource["Properties"]["RestApiId"] == {"Ref": "Api"}
    ]
    name = rest_api["Properties"].get("Name") or rest_api["Properties"]["Body"]["info"]["title"]
    return name, stage["Properties"]["StageName"]


def test_the_api_alarms_on_its_5xx_rate_and_p99_latency() -> None:
    name, stage = _translated_api()
    api = {"ApiName": _dimension_value(name), "Stage": _dimension_value(stage)}
    rates = watchers("AWS/ApiGateway", "5XXError", **api)
    assert rates, f"no alarm on the API's 5XXError ({api})"
    (alarm,) = [_alarm(alarm_id) for alarm_id in rates]
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Average", 0.01)  # the average of 0 or 1 per request: 1%
    latencies = watchers("AWS/ApiGateway", "Latency", **api)
    assert latencies, f"no alarm on the API's Latency ({api})"
    (latency,) = latencies
    assert [watch.stat for watch in WATCHES if watch.alarm == latency] == ["p99"]
    # 90% of ApiTimeout, whatever ApiTimeout is.
    for parameters in ({}, {"ApiTimeout": "10"}):
        limit_ms = int(Resolver(TEMPLATE, parameters, {}).resolve({"Ref": "ApiTimeout"})) * 1000
        assert _percent_of_timeout(latency, 0.91 * limit_ms, parameters) > _alarm(latency)["Threshold"] == 90
        assert _percent_of_timeout(latency, 0.89 * limit_ms, parameters) < 90


@pytest.mark.parametrize(("metric", "stat"), [(metering.ENGINE_ERRORS, "Sum"), (metering.ENGINE_LATENCY, "p90")])
def test_the_engines_errors_and_latency_are_alarmed(metric: str, stat: str) -> None:
    namespace, dimensions = ENGINE_METRICS
    alarms = watchers(namespace, metric, **dimensions)
    assert alarms, f"no alarm on the engines' {metric} ({namespace}, {dimensions})"
    assert {watch.stat for watch in WATCHES if watch.alarm in alarms} == {stat}


def test_every_alarm_reads_a_metric_and_tells_the_alarm_topic() -> None:
    assert len(ALARMS) >= 3 * len(FUNCTIONS)
    for alarm_id, alarm in ALARMS.items():
        properties = alarm["Properties"]
        assert watches(alarm_id), f"{alarm_id}: no metric this test can read"
        assert properties.get("AlarmActions") == [{"Ref": "AlarmTopic"}], alarm_id
        assert properties.get("OKActions") == [{"Ref": "AlarmTopic"}], alarm_id
        assert properties.get("TreatMissingData") == "notBreaching", alarm_id
        assert properties.get("ActionsEnabled", True) is True, alarm_id


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    # Not alias/aws/sns: the AWS managed key's policy cannot let CloudWatch encrypt, so no alarm could publish.
    topic = TEMPLATE["Resources"]["AlarmTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    key_ref = topic["Properties"]["KmsMasterKeyId"]
    key = TEMPLATE["Resources"][key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [item for item in statements if item["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])


def test_the_email_subscription_exists_only_with_an_alarm_email() -> None:
    subscriptions = resources(TEMPLATE, "AWS::SNS::Subscription")
    assert subscriptions
    for subscription in subscriptions.values():
        assert subscription["Condition"] == "HasAlarmEmail"
        assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
        assert subscription["Properties"] == {
            "TopicArn": {"Ref": "AlarmTopic"},
            "Protocol": "email",
            "Endpoint": {"Ref": "AlarmEmail"},
        }
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    assert Resolver(TEMPLATE, {}, {}).condition("HasAlarmEmail") is False
    assert Resolver(TEMPLATE, {"AlarmEmail": "ops@example.com"}, {}).condition("HasAlarmEmail") is True
    pattern = TEMPLATE["Parameters"]["AlarmEmail"]["AllowedPattern"]
    for accepted in ("", "ops@example.com", "first.last+alarms@mail.example.co.uk"):
        assert re.fullmatch(pattern, accepted), accepted
    for refused in ("ops", "ops@example", "two words@example.com", "a@b@example.com"):
        assert not re.fullmatch(pattern, refused), refused


def _dashboard() -> tuple[str, dict[str, Any]]:
    (dashboard,) = resources(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    placeholders = set(re.findall(r"\$\{([^}]+)\}", text))
    pseudo = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}
    for placeholder in placeholders:
        logical_id, _, attribute = placeholder.partition(".")
        known = logical_id in pseudo or logical_id in TEMPLATE["Parameters"] or logical_id in TEMPLATE["Resources"]
        assert known, f"the dashboard names {placeholder}, which the template does not have"
        if attribute:
            assert (TEMPLATE["Resources"][logical_id]["Type"], attribute) == ("AWS::SQS::Queue", "QueueName")
    # Each placeholder replaced as CloudFormation would, by a string: the body must then be JSON.
    body = re.sub(r"\$\{([^}]+)\}", lambda found: f"resolved-{found[1].replace(':', '-')}", text)
    return text, json.loads(body)


def _dashboard_metrics() -> list[tuple[list[Any], dict[str, Any]]]:
    """Each metric row of the dashboard, with the widget's properties."""
    _, body = _dashboard()
    rows = []
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        assert widget["properties"]["region"] == "resolved-AWS--Region"
        rows.extend((row, widget["properties"]) for row in widget["properties"]["metrics"])
    return rows


def test_the_dashboard_shows_every_function_queue_table_and_metric() -> None:
    text, _ = _dashboard()
    rows = _dashboard_metrics()
    shown = {(row[0], row[1]) for row, _ in rows if isinstance(row[0], str)}
    for name in FUNCTIONS:
        for metric in ("Errors", "Throttles", "Duration"):
            assert [row for row, _ in rows if row[:4] == ["AWS/Lambda", metric, "FunctionName", f"resolved-{name}"]], (
                f"the dashboard shows no {metric} of {name}"
            )
    for name in QUEUES:
        assert f"${{{name}.QueueName}}" in text, f"the dashboard does not show {name}"
    for name in DEAD_LETTER_QUEUES:
        queue = f"resolved-{name}.QueueName"
        assert ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue] in [row[:4] for row, _ in rows]
    for name in WORK_QUEUES:
        queue = f"resolved-{name}.QueueName"
        assert ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue] in [row[:4] for row, _ in rows]
    expressions = [row[0]["expression"] for row, _ in rows if isinstance(row[0], dict)]
    for name in TABLES:
        for metric in ("ThrottledRequests", "SystemErrors"):
            assert [item for item in expressions if metric in item and f"'resolved-{name}'" in item], (name, metric)
    for metric in ("Count", "5XXError", "Latency"):
        assert ("AWS/ApiGateway", metric) in shown
    latency_stats = {
        (row[-1] if isinstance(row[-1], dict) else {}).get("stat", widget["stat"])
        for row, widget in rows
        if row[:2] == ["AWS/ApiGateway", "Latency"]
    }
    assert {"p50", "p99"} <= latency_stats
    namespace, dimensions = ENGINE_METRICS
    (service,) = dimensions.items()
    # Every metric the code counts (snapscribe.metering, the names it emits) is on the dashboard.
    for metric in metering.METRICS:
        assert [row for row, _ in rows if row[:4] == [namespace, metric, *service]], metric
    for metric in (metering.PAGES_READ, metering.CREDITS_CHARGED, metering.CREDITS_REFUNDED):
        hourly = [widget for row, widget in rows if row[:4] == [namespace, metric, *service]]
        assert hourly, metric
        assert all(widget["period"] == 3600 for widget in hourly), f"{metric} is not shown per hour"


def test_the_outputs_name_the_topic_and_the_dashboards_url() -> None:
    outputs = TEMPLATE["Outputs"]
    assert outputs["AlarmTopicArn"]["Value"] == {"Ref": "AlarmTopic"}
    url = outputs["DashboardUrl"]["Value"]["Fn::Sub"]
    (dashboard_id,) = resources(TEMPLATE, "AWS::CloudWatch::Dashboard")
    assert url.startswith("https://${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#")
    assert url.endswith(f"name=${{{dashboard_id}}}")
