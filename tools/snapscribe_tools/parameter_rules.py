"""What CloudFormation refuses before it creates anything: a parameter outside its constraints (AllowedValues,
MinValue and MaxValue) or a broken assertion of the template's Rules, evaluated here as CloudFormation does, so
that tests can hold the Rules to the relations they stand for (the visibility timeout, the reserved concurrency).

Rules compare strings only: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals and
Fn::EachMemberIn over parameter values (Ref). The local stack does not apply them: its tests run with timeouts
no deployment would take (a 6-second worker), on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapscribe_tools.template import parameter_defaults


class _Evaluator:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self._values = {**parameter_defaults(template), **parameters}
        self._lists = {
            name
            for name, declared in template.get("Parameters", {}).items()
            if str(declared["Type"]).startswith("List<") or declared["Type"] == "CommaDelimitedList"
        }

    def value(self, expression: Any) -> Any:
        if isinstance(expression, dict):
            ((key, inner),) = expression.items()
            if key == "Ref":
                value = self._values[inner]
                return value.split(",") if inner in self._lists else value
            return self.truth(expression)
        if isinstance(expression, list):
            return [self.value(item) for item in expression]
        return str(expression).lower() if isinstance(expression, bool) else str(expression)

    def truth(self, expression: Mapping[str, Any]) -> bool:
        ((key, inner),) = expression.items()
        if key == "Fn::Equals":
            return bool(self.value(inner[0]) == self.value(inner[1]))
        if key == "Fn::Not":
            return not self.truth(inner[0])
        if key == "Fn::And":
            return all(self.truth(item) for item in inner)
        if key == "Fn::Or":
            return any(self.truth(item) for item in inner)
        if key == "Fn::Contains":
            return self.value(inner[1]) in self.value(inner[0])
        if key == "Fn::EachMemberEquals":
            return all(member == self.value(inner[1]) for member in self.value(inner[0]))
        if key == "Fn::EachMemberIn":
            allowed = self.value(inner[1])
            return all(member in allowed for member in self.value(inner[0]))
        raise KeyError(f"{key} is not a rule function evaluated here")


def constraint_refusals(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """Each given parameter whose value its own constraints refuse."""
    refused = []
    for name, value in parameters.items():
        declared = template["Parameters"][name]
        allowed = declared.get("AllowedValues")
        if allowed is not None and value not in [str(item) for item in allowed]:
            refused.append(f"{name}={value}: not one of {allowed}")
        if declared["Type"] == "Number":
            number = float(value)
            if "MinValue" in declared and number < declared["MinValue"]:
                refused.append(f"{name}={value}: below {declared['MinValue']}")
            if "MaxValue" in declared and number > declared["MaxValue"]:
                refused.append(f"{name}={value}: above {declared['MaxValue']}")
    return refused


def rule_refusals(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """The description of each assertion of the template's Rules that these parameters (the others: their
    defaults) break, where its rule's RuleCondition holds."""
    evaluator = _Evaluator(template, parameters)
    refused = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluator.truth(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not evaluator.truth(assertion["Assert"]):
                refused.append(f"{name}: {assertion.get('AssertDescription', 'assertion failed')}")
    return refused


def refusals(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """Why CloudFormation would refuse a deployment of `template` with these parameters (empty: it would not)."""
    return constraint_refusals(template, parameters) + rule_refusals(template, parameters)
