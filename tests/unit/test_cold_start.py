"""A handler module's load (snapscribe.web.cold_start): the collector paused while it imports, what it loaded frozen
once per process, the collector running again afterwards whatever happened; and every zip function loads so."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from snapscribe_tools.template import FunctionDef, functions, load_template
from tests.conftest import PROJECT_ROOT

ZIP_FUNCTIONS = [function for function in functions(load_template()) if function.package_type == "Zip"]

# In a process of its own: a freeze is for the whole process, and this one's state is not the test's to change.
_LOADS = r"""
import gc, json
from snapscribe.web import cold_start
seen = {"before": [gc.isenabled(), gc.get_freeze_count()]}
try:
    with cold_start.collector_paused():
        seen["failing load"] = [gc.isenabled()]
        raise ImportError("a module the handler needs is missing")
except ImportError:
    pass
seen["after failing load"] = [gc.isenabled(), gc.get_freeze_count()]
with cold_start.collector_paused():
    seen["load"] = [gc.isenabled()]
    loaded = [[index] for index in range(1000)]  # objects the load makes, tracked by the collector
seen["after load"] = [gc.isenabled(), gc.get_freeze_count()]
with cold_start.collector_paused():
    more = [[index] for index in range(1000)]
seen["after another load"] = [gc.isenabled(), gc.get_freeze_count()]
print(json.dumps(seen))
"""


def test_the_collector_is_paused_during_a_load_and_what_the_first_load_made_is_frozen() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _LOADS], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    seen = json.loads(completed.stdout)
    assert seen["before"] == [True, 0]
    assert seen["failing load"] == [False]
    assert seen["after failing load"] == [True, 0]  # enabled again, and a failed load freezes nothing
    assert seen["load"] == [False]
    enabled, frozen = seen["after load"]
    assert enabled
    assert frozen >= 1000
    assert seen["after another load"] == [True, frozen]  # once per process: later loads freeze nothing more


_ALLOWED_FIRST = ("__future__", "snapscribe.web.cold_start")


def _handler_source(function: FunctionDef) -> ast.Module:
    module = function.handler.rsplit(".", 1)[0]
    return ast.parse((function.code_uri / f"{module.replace('.', '/')}.py").read_text(encoding="utf-8"))


def _is_paused_load(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and isinstance(item.context_expr.func, ast.Name)
        and item.context_expr.func.id == "collector_paused"
        for item in statement.items
    )


@pytest.mark.parametrize("function", ZIP_FUNCTIONS, ids=lambda function: function.logical_id)
def test_each_zip_function_imports_inside_the_paused_load(function: FunctionDef) -> None:
    body = _handler_source(function).body
    loads = [statement for statement in body if _is_paused_load(statement)]
    assert len(loads) == 1, f"{function.logical_id}: its imports are not inside one `with collector_paused()`"
    assert any(isinstance(inner, ast.Import | ast.ImportFrom) for inner in loads[0].body)
    outside = [
        ast.unparse(statement)
        for statement in body
        if isinstance(statement, ast.Import | ast.ImportFrom)
        and not (isinstance(statement, ast.ImportFrom) and statement.module in _ALLOWED_FIRST)
    ]
    assert outside == []
