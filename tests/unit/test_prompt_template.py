"""The JSON template a prompt carries: found where it is, refused when nested past any form's depth."""

from __future__ import annotations

import json

import pytest

from snapscribe.engines.prompt_template import MAX_TEMPLATE_DEPTH, canonical_json, find_json_template
from snapscribe.errors import InvalidRequest


def _nested(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"leaf": "Leaf"}
    for _ in range(depth - 1):
        node = {"child": node}
    return node


def test_the_first_template_in_the_prompt_is_found() -> None:
    prompt = 'Use this schema: {"invoice_no": "Invoice Number", "items": [{"name": "Item"}]} thanks {"x": 1}'
    assert find_json_template(prompt) == {"invoice_no": "Invoice Number", "items": [{"name": "Item"}]}
    assert find_json_template(f"schema: {json.dumps(_nested(MAX_TEMPLATE_DEPTH))}") == _nested(MAX_TEMPLATE_DEPTH)


@pytest.mark.parametrize(
    "prompt",
    [
        "[" * 2000,  # deeper than the decoder goes, unterminated
        "fill " + "[" * 5000 + "]" * 5000,
        f"schema: {json.dumps(_nested(MAX_TEMPLATE_DEPTH + 1))}",
    ],
)
def test_a_template_nested_too_deeply_is_a_clear_invalid_request(prompt: str) -> None:
    with pytest.raises(InvalidRequest, match="nested deeper than 32 levels"):
        find_json_template(prompt)


def test_a_models_answer_nested_too_deeply_is_no_json() -> None:
    assert canonical_json("[" * 3000 + "]" * 3000) is None
    assert canonical_json('```json\n{"a": 1}\n```') == '{"a": 1}'


@pytest.mark.parametrize("number", ["1" + "0" * 5000, "-1e999", "NaN", "Infinity", "-Infinity"])
def test_a_template_with_a_number_json_has_not_or_python_cannot_hold_is_a_clear_invalid_request(number: str) -> None:
    with pytest.raises(InvalidRequest, match="number the service does not read"):
        find_json_template(f'Fill: {{"total": {number}, "date": ""}}')


def test_such_a_number_outside_any_template_is_only_text() -> None:
    assert find_json_template('Ignore [NaN, 1e999] and fill {"total": ""}') == {"total": ""}


@pytest.mark.parametrize("answer", ['{"total": ' + "9" * 5000 + "}", '{"total": NaN}', "[1e999]"])
def test_a_models_answer_with_such_a_number_is_no_json(answer: str) -> None:
    assert canonical_json(answer) is None
