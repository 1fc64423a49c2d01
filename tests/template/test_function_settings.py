"""Each function's settings model against template.yaml: the template passes every function the variables its
model requires (so no deployed function stops at its start for want of one), and nothing its model does not read.
The model a function uses is the one its handler composes (`composition(Model)` in functions/<name>/app.py)."""

from __future__ import annotations

import ast

import pytest

from snapscribe import function_settings
from snapscribe.config import Settings, variable
from snapscribe_tools.template import FunctionDef, functions, load_template

FUNCTIONS = functions(load_template())


def model_of(function: FunctionDef) -> type[Settings]:
    """The settings model the function's handler composes, read from its source (importing it would compose it)."""
    module = function.handler.rsplit(".", 1)[0]
    source = (function.code_uri / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8")
    names = [
        node.args[0].id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "composition"
        and isinstance(node.args[0], ast.Name)
    ]
    assert len(names) == 1, f"{function.logical_id}: its handler composes its Services once, from one model"
    model: type[Settings] = getattr(function_settings, names[0])
    return model


def required(model: type[Settings]) -> set[str]:
    return {variable(name) for name, field in model.model_fields.items() if field.is_required()}


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.logical_id)
def test_the_template_passes_each_function_what_its_settings_require(function: FunctionDef) -> None:
    assert required(model_of(function)) <= set(function.environment)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.logical_id)
def test_the_template_passes_no_variable_the_settings_do_not_read(function: FunctionDef) -> None:
    known = {variable(name) for name in Settings.model_fields}
    passed = {name for name in function.environment if name.startswith("SNAPSCRIBE_")}
    assert passed <= known


def test_every_function_settings_model_is_some_functions() -> None:
    models = {
        model
        for model in vars(function_settings).values()
        if isinstance(model, type) and issubclass(model, Settings) and model is not Settings
    }
    assert models == {model_of(function) for function in FUNCTIONS}


def test_the_check_fails_for_a_function_the_template_leaves_without_a_resource() -> None:
    worker = next(function for function in FUNCTIONS if function.logical_id == "WorkerFunction")
    environment = dict(worker.environment)
    del environment["SNAPSCRIBE_WEBHOOK_QUEUE_URL"]
    assert not required(model_of(worker)) <= set(environment)
